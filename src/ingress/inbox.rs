//! The inbox: stores verified deliveries durably, with group commit.
//!
//! Requests queue here; a writer takes every request waiting and stores the lot in one
//! transaction (each delivery plus the job that will handle it), then answers each. Under load the
//! batches grow while a commit is in flight, so one disk flush covers many deliveries; idle, a
//! batch is one delivery and waits for nobody. No request is answered before its commit returns.
//!
//! There is one writer per process, on both backends: it keeps ids in arrival order, which is the
//! order deliveries of one repository are handled in, and batching already makes one writer
//! faster than the disk it waits for.

use crate::forge::ForgeKind;
use crate::jobs::Wake;
use crate::metrics::Metrics;
use crate::store::deliveries::{self, NewDelivery};
use crate::store::jobs::{self as queue, NewJob};
use crate::store::{Context, Store, StoreError};
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

/// The job kind that handles a stored delivery.
pub const DELIVERY_JOB: &str = "delivery";

/// The most deliveries one transaction stores.
const MAX_BATCH: usize = 512;

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
            let mut batch = vec![first];
            while batch.len() < MAX_BATCH {
                match self.receiver.try_recv() {
                    Ok(next) => batch.push(next),
                    Err(_) => break,
                }
            }
            self.store_batch(batch).await;
        }
    }

    async fn store_batch(&self, batch: Vec<Pending>) {
        let results = match self.commit(&batch).await {
            Ok(results) => results.into_iter().map(Ok).collect(),
            Err(error) if batch.len() > 1 => {
                // One bad delivery must not fail the others: store each on its own.
                tracing::warn!(%error, size = batch.len(), "batch commit failed; storing one by one");
                let mut results = Vec::with_capacity(batch.len());
                for pending in &batch {
                    let one = self.commit(std::slice::from_ref(pending)).await;
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

    async fn commit(&self, batch: &[Pending]) -> Result<Vec<Stored>, StoreError> {
        let mut tx = self.store.begin().await?;
        let mut results = Vec::with_capacity(batch.len());
        for pending in batch {
            let Some(id) = deliveries::insert(&mut tx, &pending.delivery).await? else {
                results.push(Stored::Duplicate);
                continue;
            };
            let job = NewJob {
                kind: DELIVERY_JOB.into(),
                idempotency_key: format!("delivery:{id}"),
                ordering_key: pending.ordering_key.clone(),
                payload: serde_json::json!({ "delivery": id }).to_string(),
                max_attempts: self.max_attempts,
                run_at: pending.delivery.received_at,
            };
            queue::enqueue(&mut tx, &job, pending.delivery.received_at).await?;
            results.push(Stored::New(id));
        }
        if results.iter().any(|r| matches!(r, Stored::New(_))) {
            queue::notify(&mut tx, self.store.backend()).await?;
        }
        tx.commit().await.context("commit deliveries")?;
        self.metrics.inbox_commit(batch.len());
        Ok(results)
    }
}
