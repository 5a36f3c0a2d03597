//! The inbox's writer on an SQLite file: a thread of its own that stores each batch through its
//! own connection ([`DirectConn`]), with no hand-off per statement.
//!
//! It writes only while it holds the turn to write ([`Store::write_turn`]), the pool's one write
//! connection, which every other write of the process waits for; so the job worker and the inbox
//! share SQLite's one writer as they do on the pooled path, by [`Burst`]'s rules.

use super::{Burst, InboxError, Pending, Shared, Stored, gather};
use crate::store::deliveries::NewDelivery;
use crate::store::direct::DirectConn;
use crate::store::{Store, StoreError, WriteTurn};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use tokio::runtime::Handle;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

/// Starts the writer thread; it ends once every sender is dropped and the queue is empty. The
/// task returned ends with it; aborting the task stops the thread before its next batch, as
/// aborting the pooled writer's task would.
pub(super) fn start(
    shared: Shared,
    conn: DirectConn,
    receiver: mpsc::Receiver<Pending>,
) -> JoinHandle<()> {
    let stopped = Arc::new(AtomicBool::new(false));
    let (ended, ends) = oneshot::channel::<()>();
    let writer = Writer {
        shared,
        conn,
        receiver,
        runtime: Handle::current(),
        stopped: stopped.clone(),
    };
    std::thread::Builder::new()
        .name("ade-inbox".into())
        .spawn(move || {
            writer.run();
            let _ = ended.send(());
        })
        .expect("start the inbox's writer thread");
    tokio::spawn(async move {
        let _stop = StopOnDrop(stopped);
        if ends.await.is_err() {
            tracing::error!(
                "the inbox's writer thread stopped unexpectedly: deliveries get 503 until ade \
                 is restarted"
            );
        }
    })
}

/// Tells the writer thread to stop when the task that stands for it ends or is aborted.
struct StopOnDrop(Arc<AtomicBool>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

struct Writer {
    shared: Shared,
    conn: DirectConn,
    receiver: mpsc::Receiver<Pending>,
    /// The runtime the pool hands out the turn to write on.
    runtime: Handle,
    /// Set when the writer's task was aborted.
    stopped: Arc<AtomicBool>,
}

impl Writer {
    fn run(mut self) {
        while let Some(first) = self.receiver.blocking_recv() {
            if self.stopped.load(Ordering::SeqCst) {
                return;
            }
            // The burst's clock starts before the wait for the turn, as on the pooled path;
            // starting it once the turn is held gave the worker's writes the larger share
            // (docs/benchmarks.md, "The inbox's own connection").
            let mut turn = None;
            let burst = Burst::begin();
            let mut next = Some(first);
            while let Some(first) = next.take() {
                let batch = gather(first, &mut self.receiver);
                self.store_batch(&mut turn, batch);
                if burst.goes_on(&self.shared.store) && !self.stopped.load(Ordering::SeqCst) {
                    next = self.receiver.try_recv().ok();
                }
            }
        }
    }

    /// Waits for the turn to write, on this thread: a task spawned to wait for it would join
    /// the pool's queue only once a busy runtime polls it, and the writes of every task polled
    /// sooner would go first. Once the runtime is shutting down, its timers panic instead of
    /// waiting; that comes back as an error.
    fn take_turn(&self) -> Result<WriteTurn, StoreError> {
        let store: &Store = &self.shared.store;
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            self.runtime.block_on(store.write_turn())
        }))
        .map_err(|_| StoreError::Closed("the runtime stopped before the turn to write came"))?
    }

    fn store_batch(&mut self, turn: &mut Option<WriteTurn>, batch: Vec<Pending>) {
        let results = match self.commit_in(turn, &batch) {
            Ok(results) => results.into_iter().map(Ok).collect(),
            Err(error) if batch.len() > 1 => {
                // One bad delivery must not fail the others: store each on its own.
                tracing::warn!(%error, size = batch.len(), "batch commit failed; storing one by one");
                let mut results = Vec::with_capacity(batch.len());
                for pending in &batch {
                    let one = self.commit_in(turn, std::slice::from_ref(pending));
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

    /// Commits `batch` in the writer's turn, waiting for the turn first if it is not held. After
    /// a failure the turn is handed on, so the other writes get in before the next attempt, as
    /// the pooled writer gives its connection back.
    fn commit_in(
        &mut self,
        turn: &mut Option<WriteTurn>,
        batch: &[Pending],
    ) -> Result<Vec<Stored>, StoreError> {
        if turn.is_none() {
            *turn = Some(self.take_turn()?);
        }
        let result = self.commit(batch);
        if result.is_err() {
            *turn = None;
        }
        result
    }

    fn commit(&mut self, batch: &[Pending]) -> Result<Vec<Stored>, StoreError> {
        let tx = self.conn.begin()?;
        let received: Vec<&NewDelivery> = batch.iter().map(|p| &p.delivery).collect();
        let ids = tx.insert_deliveries(&received)?;
        let (results, jobs, now) = self.shared.jobs_for(batch, ids);
        tx.enqueue_many(&jobs, now)?;
        tx.commit()?;
        self.shared.metrics.inbox_commit(batch.len());
        Ok(results)
    }
}
