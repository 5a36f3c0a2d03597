//! The inbox: stores verified deliveries durably, with group commit.
//!
//! Requests queue here; a writer takes every request waiting and stores the lot in one
//! transaction (the deliveries, then the jobs that will handle them), then answers each. Under load the
//! batches grow while a commit is in flight, so one disk flush covers many deliveries; idle, a
//! batch is one delivery and waits for nobody. No request is answered before its commit returns.
//!
//! There is one writer per process, on both backends: it keeps ids in arrival order, which is the
//! order deliveries of one repository are handled in, and batching already makes one writer
//! faster than the disk it waits for. On an SQLite file the writer is a thread of its own that
//! writes through a connection of its own (`direct.rs`); on PostgreSQL it is a task writing
//! through the pool (`pooled.rs`).
//!
//! During a burst the writer keeps its turn to write (the pool's write connection) from one batch
//! to the next for at most [`HOLD`], and for at most [`SHARE`] once another write waits for it;
//! [`SHARE`] says why.

mod direct;
mod pooled;

use crate::forge::ForgeKind;
use crate::jobs::{Job, Wake};
use crate::metrics::Metrics;
use crate::store::Store;
use crate::store::deliveries::NewDelivery;
use crate::store::direct::DirectConn;
use crate::store::jobs::{ClaimedJob, NewJob};
use serde::{Deserialize, Serialize};
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

/// How long the writer keeps its turn to write during a burst even while another write waits for
/// it. On SQLite the job worker writes through the pool's single write connection, the turn the
/// inbox holds; once the writer has held it for `SHARE` and one of the worker's writes waits, the
/// writer hands it on after the batch in progress, and its own next batch queues behind every
/// write waiting by then. While both are saturated, the inbox gets about `SHARE` of each round
/// and the worker whatever its waiting writes take, in one go.
///
/// Holding it for the whole of [`HOLD`] gave the worker one turn per `HOLD` (about 20 deliveries
/// handled per second), so a command posted during a burst waited for minutes; handing it over
/// after every batch gave the worker 40% of the connection, each of its turns one or two writes,
/// and held the inbox to 0.35–0.38 of SQLite's raw floor. Since the inbox writes through its own
/// connection, a batch takes about 3 ms, and at 5 ms the worker's turns still took a fifth of the
/// inbox's cycle; at 10 ms the inbox reaches a median 0.7 of the raw floor while the worker
/// handles 66–76 deliveries a second during a saturating burst and a command still gets its 👀
/// well within a second (docs/benchmarks.md, "The inbox's own connection").
const SHARE: Duration = Duration::from_millis(10);

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
    /// Whether the writer has a connection of its own (`direct.rs`).
    direct: bool,
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
        let shared = Shared {
            store,
            wake,
            metrics,
            max_attempts,
        };
        let own = shared.store.sqlite_file().map(DirectConn::open);
        let (writer, direct) = match own {
            Some(Ok(conn)) => (direct::start(shared, conn, receiver), true),
            Some(Err(error)) => {
                tracing::warn!(
                    %error,
                    "the inbox writes through the pool: its own connection to the database file \
                     did not open"
                );
                (pooled::start(shared, receiver), false)
            }
            None => (pooled::start(shared, receiver), false),
        };
        (Inbox { sender, direct }, writer)
    }

    /// Whether the writer stores through a connection of its own, as it does on an SQLite file,
    /// rather than through the pool.
    pub fn writes_directly(&self) -> bool {
        self.direct
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

/// What both writers work with.
struct Shared {
    store: Store,
    wake: Wake,
    metrics: Arc<Metrics>,
    max_attempts: i64,
}

impl Shared {
    /// The jobs that will handle the deliveries of `batch` stored under `ids` (`None`: a
    /// duplicate), what to answer for each, and the time to enqueue them at.
    fn jobs_for(
        &self,
        batch: &[Pending],
        ids: Vec<Option<i64>>,
    ) -> (Vec<Stored>, Vec<NewJob>, i64) {
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
        (results, jobs, now)
    }

    /// Answers each request of `batch`, once the workers know there is something new to handle.
    fn answer(&self, batch: Vec<Pending>, results: Vec<Result<Stored, InboxError>>) {
        if results.iter().any(|r| matches!(r, Ok(Stored::New(_)))) {
            self.wake.notify();
        }
        for (pending, result) in batch.into_iter().zip(results) {
            let _ = pending.reply.send(result);
        }
    }
}

/// The requests waiting after `first`, up to [`MAX_BATCH`] in all: what the next transaction
/// stores.
fn gather(first: Pending, receiver: &mut mpsc::Receiver<Pending>) -> Vec<Pending> {
    let mut batch = vec![first];
    while batch.len() < MAX_BATCH {
        match receiver.try_recv() {
            Ok(next) => batch.push(next),
            Err(_) => break,
        }
    }
    batch
}

/// One stretch of batches during which the writer keeps its turn to write.
struct Burst(Instant);

impl Burst {
    fn begin() -> Burst {
        Burst(Instant::now())
    }

    /// Whether the writer may store another batch before handing its turn back: for at most
    /// [`HOLD`], and for at most [`SHARE`] once another write waits for the turn.
    fn goes_on(&self, store: &Store) -> bool {
        let held = self.0.elapsed();
        held < HOLD && (held < SHARE || !store.writer_wanted())
    }
}
