//! The inbox's writer on PostgreSQL (and on an in-memory SQLite database): a task that stores
//! each batch through the pool's write connection, in the driver's statements.

use super::{Burst, InboxError, Pending, Shared, Stored, gather};
use crate::store::deliveries::{self, NewDelivery};
use crate::store::jobs as queue;
use crate::store::{Conn, Context, StoreError};
use sqlx::Connection;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// The write connection the writer holds during a burst.
type WriteConn = sqlx::pool::PoolConnection<sqlx::Any>;

/// Starts the writer task; it ends once every sender is dropped and the queue is empty.
pub(super) fn start(shared: Shared, receiver: mpsc::Receiver<Pending>) -> JoinHandle<()> {
    tokio::spawn(Writer { shared, receiver }.run())
}

struct Writer {
    shared: Shared,
    receiver: mpsc::Receiver<Pending>,
}

impl Writer {
    async fn run(mut self) {
        while let Some(first) = self.receiver.recv().await {
            // A burst: keep the write connection from batch to batch while deliveries keep
            // arriving (see `Burst`), then hand it back: everyone waiting by then writes before
            // the next batch.
            let mut conn = None;
            let burst = Burst::begin();
            let mut next = Some(first);
            while let Some(first) = next.take() {
                let batch = gather(first, &mut self.receiver);
                self.store_batch(&mut conn, batch).await;
                if burst.goes_on(&self.shared.store) {
                    next = self.receiver.try_recv().ok();
                }
            }
        }
    }

    async fn store_batch(&self, conn: &mut Option<WriteConn>, batch: Vec<Pending>) {
        let results = match self.commit_on(conn, &batch).await {
            Ok(results) => results.into_iter().map(Ok).collect(),
            Err(error) if batch.len() > 1 => {
                // One bad delivery must not fail the others: store each on its own.
                tracing::warn!(%error, size = batch.len(), "batch commit failed; storing one by one");
                let mut results = Vec::with_capacity(batch.len());
                for pending in &batch {
                    let one = self.commit_on(conn, std::slice::from_ref(pending)).await;
                    results.push(
                        one.map(|mut r| r.remove(0))
                            .map_err(|e| InboxError(e.to_string())),
                    );
                }
                results
            }
            Err(error) => vec![Err(InboxError(error.to_string()))],
        };
        self.shared.answer(batch, results);
    }

    /// Commits `batch` on the held connection, taking one from the pool first if none is held.
    /// After a failure the connection goes back to the pool, which checks it before anyone
    /// uses it again, and the next attempt takes a fresh one.
    async fn commit_on(
        &self,
        conn: &mut Option<WriteConn>,
        batch: &[Pending],
    ) -> Result<Vec<Stored>, StoreError> {
        let held = match conn {
            Some(held) => held,
            None => conn.insert(self.shared.store.writer().await?),
        };
        let result = self.commit(held, batch).await;
        if result.is_err() {
            *conn = None;
        }
        result
    }

    async fn commit(&self, conn: &mut Conn, batch: &[Pending]) -> Result<Vec<Stored>, StoreError> {
        // A plain (deferred) BEGIN: the first statement is an INSERT, so on SQLite the write lock
        // is taken at once, as `Store::begin`'s BEGIN IMMEDIATE would.
        let mut tx = conn.begin().await.context("begin transaction")?;
        let received: Vec<&NewDelivery> = batch.iter().map(|p| &p.delivery).collect();
        let ids = deliveries::insert_many(&mut tx, &received).await?;
        let (results, jobs, now) = self.shared.jobs_for(batch, ids);
        queue::enqueue_many(&mut tx, &jobs, now).await?;
        tx.commit().await.context("commit deliveries")?;
        self.shared.metrics.inbox_commit(batch.len());
        Ok(results)
    }
}
