//! The inbox's own connection to an SQLite file, driven through SQLite's library on the thread
//! that calls it.
//!
//! sqlx runs each SQLite statement on a thread of its own and hands the answer back over a
//! channel. For the inbox's batches those hand-offs cost about as much as the disk
//! (docs/benchmarks.md, "Where the inbox's batch goes"), so the inbox's writer thread prepares,
//! binds and steps its statements itself on this connection. It stores deliveries and their jobs
//! only; everything else goes through the pools. The caller writes here only while it holds the
//! pool's write connection ([`super::Store::writer`]), so SQLite still sees one writer at a time
//! and nobody waits in its busy handler.

use super::StoreError;
use super::deliveries::{INSERT_DELIVERIES, NewDelivery, UNLESS_STORED};
use super::jobs::{INSERT_JOBS, NewJob, UNLESS_ENQUEUED};
use rusqlite::{OpenFlags, OptionalExtension, TransactionBehavior, params};
use std::path::Path;
use std::time::Duration;

/// A connection of the inbox's own to the store's SQLite file.
pub struct DirectConn(rusqlite::Connection);

/// A write transaction on a [`DirectConn`]; dropped without [`DirectTx::commit`], it rolls back.
pub struct DirectTx<'c>(rusqlite::Transaction<'c>);

fn failed(what: &'static str) -> impl FnOnce(rusqlite::Error) -> StoreError {
    move |source| StoreError::Direct { what, source }
}

impl DirectConn {
    /// Opens the database file the store already created and migrated, with the settings of the
    /// store's own connections: WAL, a commit on disk before it returns (`synchronous = FULL`),
    /// foreign keys, and SQLite's busy handler for a lock some other process holds.
    pub fn open(path: &Path) -> Result<DirectConn, StoreError> {
        let conn = rusqlite::Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(failed("open the inbox's connection"))?;
        // journal_mode answers with a row, so it is read as one.
        conn.query_row("PRAGMA journal_mode = WAL", [], |_| Ok(()))
            .map_err(failed("set up the inbox's connection"))?;
        conn.execute_batch("PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;")
            .map_err(failed("set up the inbox's connection"))?;
        conn.busy_timeout(Duration::from_secs(10))
            .map_err(failed("set up the inbox's connection"))?;
        Ok(DirectConn(conn))
    }

    /// Begins a write transaction, taking the write lock at once as [`super::Store::begin`] does.
    pub fn begin(&mut self) -> Result<DirectTx<'_>, StoreError> {
        self.0
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map(DirectTx)
            .map_err(failed("begin transaction"))
    }
}

impl DirectTx<'_> {
    /// Stores each delivery unless one with the same forge and delivery id exists (stored before,
    /// or earlier in `batch`). Returns, in `batch`'s order, each new id or `None` for a duplicate,
    /// as [`super::deliveries::insert_many`] does.
    pub fn insert_deliveries(
        &self,
        batch: &[&NewDelivery],
    ) -> Result<Vec<Option<i64>>, StoreError> {
        let sql = format!(
            "{INSERT_DELIVERIES}(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) {UNLESS_STORED} RETURNING id"
        );
        let mut insert = self
            .0
            .prepare_cached(&sql)
            .map_err(failed("prepare the deliveries' insert"))?;
        batch
            .iter()
            .map(|delivery| {
                insert
                    .query_row(
                        params![
                            delivery.forge.as_str(),
                            delivery.delivery_id,
                            delivery.event,
                            delivery.event_type,
                            delivery.repository,
                            delivery.content_type,
                            &delivery.body[..],
                            delivery.received_at,
                        ],
                        |row| row.get::<_, i64>(0),
                    )
                    .optional()
                    .map_err(failed("insert delivery"))
            })
            .collect()
    }

    /// Enqueues each job unless its idempotency key is taken, as
    /// [`super::jobs::enqueue_many`] does; returns how many were stored.
    pub fn enqueue_many(&self, jobs: &[NewJob], now: i64) -> Result<u64, StoreError> {
        let sql = format!("{INSERT_JOBS}(?1, ?2, ?3, ?4, ?5, ?6, ?7) {UNLESS_ENQUEUED}");
        let mut insert = self
            .0
            .prepare_cached(&sql)
            .map_err(failed("prepare the jobs' insert"))?;
        let mut stored = 0;
        for job in jobs {
            stored += insert
                .execute(params![
                    job.kind,
                    job.idempotency_key,
                    job.ordering_key,
                    job.payload,
                    job.max_attempts,
                    job.run_at,
                    now,
                ])
                .map_err(failed("enqueue jobs"))? as u64;
        }
        Ok(stored)
    }

    /// Commits; returns once the commit is on disk.
    pub fn commit(self) -> Result<(), StoreError> {
        self.0.commit().map_err(failed("commit deliveries"))
    }
}
