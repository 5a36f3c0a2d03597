//! The inbox: stores verified deliveries durably, with group commit.
//!
//! Requests queue here; a writer takes every request waiting and stores the lot in one
//! transaction (the deliveries in one statement, the jobs that will handle them in another), then
//! answers each. Under load the
//! batches grow while a commit is in flight, so one disk flush covers many deliveries; idle, a
//! batch is one delivery and waits for nobody. No request is answered before its commit returns.
//!
//! There is one writer per process, on both backends: it keeps ids in arrival order, which is the
//! order deliveries of one repository are handled in, and batching already makes one writer
//! faster than the disk it waits for.
//!
//! During a burst the writer keeps its database connection from one batch to the next for at most
//! [`HOLD`], and for at most [`SHARE`] once another write waits for it; [`SHARE`] says why.

use crate::forge::ForgeKind;
use crate::jobs::{Job, Wake};
use crate::metrics::Metrics;
use crate::store::deliveries::{self, NewDelivery};
use crate::store::jobs::{self as queue, ClaimedJob};
use crate::store::{Conn, Context, Store, StoreError};
use serde::{Deserialize, Serialize};
use sqlx::Connection;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

/// The job that handles one stored delivery (the dispatcher turns it into an event), enqueued
/// with it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryJob {
    /// ade's id of the stored delivery.
    pub delivery: i64,
    /// The delivery's order: `<forge>:<owner/name>` (or its installation), so the deliveries of
    /// one repository are handled in arrival order. Kept in the job's row, not its payload.
    #[serde(skip)]
    pub ordering_key: Option<String>,
}

impl Job for DeliveryJob {
    const KIND: &'static str = "delivery";

    fn idempotency_key(&self, _run_at: i64) -> String {
        format!("delivery:{}", self.delivery)
    }

    fn ordering_key(&self) -> Option<String> {
        self.ordering_key.clone()
    }

    fn read(job: &ClaimedJob) -> Result<Self, serde_json::Error> {
        let mut read: DeliveryJob = serde_json::from_str(&job.payload)?;
        read.ordering_key.clone_from(&job.ordering_key);
        Ok(read)
    }
}

/// The most deliveries one transaction stores.
const MAX_BATCH: usize = 512;

/// How long the writer keeps the write connection while deliveries keep arriving and nobody else
/// waits for it. Handing it back to the pool and taking it again costs round trips to the database
/// between every two batches, so a burst with nobody else writing keeps it.
const HOLD: Duration = Duration::from_millis(50);

/// How long the writer keeps the write connection during a burst even while another write waits
/// for it. On SQLite the job worker writes through that same single connection; once the writer
/// has held it for `SHARE` and one of the worker's writes waits, the writer hands the connection
/// back after the batch in progress, and its own next batch queues behind every write waiting by
/// then. While both are saturated, the inbox gets about `SHARE` of each round and the worker
/// whatever its waiting writes take, in one go.
///
/// Holding it for the whole of [`HOLD`] gave the worker one turn per `HOLD` (about 20 deliveries
/// handled per second), so a command posted during a burst waited for minutes; handing it over
/// after every batch gave the worker 40% of the connection, each of its turns one or two writes,
/// and held the inbox to 0.35–0.38 of SQLite's raw floor. At 5 ms the worker still handles
/// 114–139 deliveries a second during a saturating burst and the inbox reaches 0.40–0.47
/// (docs/benchmarks.md, "Against the raw floor").
const SHARE: Duration = Duration::from_millis(5);

/// The write connection the writer holds during a burst.
type WriteConn = sqlx::pool::PoolConnection<sqlx::Any>;

/// What storing a delivery came to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stored {
    /// Stored now, under this id; a job will handle it.
    New(i64),
    /// A delivery with this forge and delivery id was stored before; nothing was changed.
    Duplicate,
}

/// The inbox could not store a delivery; the forge should deliver it again later.
#[derive(Debug, Clone, thiserror::Error)]
#[error("could not store the delivery: {0}")]
pub struct InboxError(String);

struct Pending {
    delivery: NewDelivery,
    ordering_key: Option<String>,
    reply: oneshot::Sender<Result<Stored, InboxError>>,
}

/// The handle the webhook routes store deliveries through.
#[derive(Clone)]
pub struct Inbox {
    sender: mpsc::Sender<Pending>,
}

impl Inbox {
    /// Starts the writer; `max_attempts` is what each delivery's job gets. The writer stops once
    /// every [`Inbox`] handle is dropped and the queue is empty, so nothing accepted is left
    /// unstored at shutdown.
    pub fn start(
        store: Store,
        wake: Wake,
        metrics: Arc<Metrics>,
        max_attempts: i64,
    ) -> (Inbox, JoinHandle<()>) {
        let (sender, receiver) = mpsc::channel::<Pending>(8 * MAX_BATCH);
        let writer = Writer {
            store,
            wake,
            metrics,
            max_attempts,
            receiver,
        };
        (Inbox { sender }, tokio::spawn(writer.run()))
    }

    /// Stores one delivery and the job that will handle it; returns once both are durable.
    pub async fn store(
        &self,
        delivery: NewDelivery,
        ordering_key: Option<String>,
    ) -> Result<Stored, InboxError> {
        let (reply, answer) = oneshot::channel();
        let pending = Pending {
            delivery,
            ordering_key,
            reply,
        };
        self.sender
            .send(pending)
            .await
            .map_err(|_| InboxError("the inbox is shut down".into()))?;
        answer
            .await
            .map_err(|_| InboxError("the inbox writer stopped".into()))?
    }
}

/// The ordering key of a delivery: deliveries of one repository (or, without one, of one
/// installation) are handled one at a time in arrival order.
pub fn ordering_key(
    forge: ForgeKind,
    repository: Option<&str>,
    installation: Option<i64>,
) -> Option<String> {
    match (repository, installation) {
        (Some(repository), _) => Some(format!("{forge}:{repository}")),
        (None, Some(installation)) => Some(format!("{forge}:installation:{installation}")),
        (None, None) => None,
    }
}

struct Writer {
    store: Store,
    wake: Wake,
    metrics: Arc<Metrics>,
    max_attempts: i64,
    receiver: mpsc::Receiver<Pending>,
}

impl Writer {
    async fn run(mut self) {
        while let Some(first) = self.receiver.recv().await {
            // A burst: keep the write connection from batch to batch while deliveries keep
            // arriving, for at most HOLD and only while nobody else waits for it, then hand it
            // back: everyone waiting by then writes before the next batch.
            let mut conn = None;
            let held_since = Instant::now();
            let mut next = Some(first);
            while let Some(first) = next.take() {
                let mut batch = vec![first];
                while batch.len() < MAX_BATCH {
                    match self.receiver.try_recv() {
                        Ok(next) => batch.push(next),
                        Err(_) => break,
                    }
                }
                self.store_batch(&mut conn, batch).await;
                let held = held_since.elapsed();
                if held < HOLD && (held < SHARE || !self.store.writer_wanted()) {
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
        if results.iter().any(|r| matches!(r, Ok(Stored::New(_)))) {
            self.wake.notify();
        }
        for (pending, result) in batch.into_iter().zip(results) {
            let _ = pending.reply.send(result);
        }
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
            None => conn.insert(self.store.writer().await?),
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
        let mut results = Vec::with_capacity(batch.len());
        let mut jobs = Vec::with_capacity(batch.len());
        for (pending, id) in batch.iter().zip(ids) {
            let Some(id) = id else {
                results.push(Stored::Duplicate);
                continue;
            };
            let job = DeliveryJob {
                delivery: id,
                ordering_key: pending.ordering_key.clone(),
            };
            jobs.push(job.new_job(self.max_attempts, pending.delivery.received_at));
            results.push(Stored::New(id));
        }
        let now = batch
            .iter()
            .map(|p| p.delivery.received_at)
            .max()
            .unwrap_or_default();
        queue::enqueue_many(&mut tx, &jobs, now).await?;
        tx.commit().await.context("commit deliveries")?;
        self.metrics.inbox_commit(batch.len());
        Ok(results)
    }
}
