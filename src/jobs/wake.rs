//! Wake-ups for idle workers: in memory when this process enqueued, and from PostgreSQL's
//! `LISTEN` when another process did. The worker's poll interval covers anything missed (a
//! notification sent while the listener was reconnecting).

use crate::store::jobs::NOTIFY_CHANNEL;
use crate::store::{Backend, Store};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;

/// Tells this process's worker that jobs may be waiting.
#[derive(Clone, Default)]
pub struct Wake(Arc<Notify>);

impl Wake {
    /// A new wake-up signal.
    pub fn new() -> Wake {
        Wake::default()
    }

    /// Wakes the worker (or, if it is busy, makes its next wait return at once).
    pub fn notify(&self) {
        self.0.notify_one();
    }

    /// Waits for a wake-up or for `timeout`, whichever comes first.
    pub async fn wait(&self, timeout: Duration) {
        let _ = tokio::time::timeout(timeout, self.0.notified()).await;
    }

    /// On PostgreSQL, listens for jobs enqueued by any process and wakes this one; on SQLite there
    /// is nothing to listen to. The listener reconnects after errors until shutdown.
    pub fn listen(
        &self,
        store: &Store,
        mut shutdown: watch::Receiver<bool>,
    ) -> Option<JoinHandle<()>> {
        if store.backend() != Backend::Postgres {
            return None;
        }
        let url = store.options().url.clone();
        let wake = self.clone();
        Some(tokio::spawn(async move {
            loop {
                let listener = async {
                    let mut listener = sqlx::postgres::PgListener::connect(&url).await?;
                    listener.listen(NOTIFY_CHANNEL).await?;
                    tracing::debug!(channel = NOTIFY_CHANNEL, "listening for job notifications");
                    // Jobs may have been enqueued while the listener was down.
                    wake.notify();
                    loop {
                        listener.recv().await?;
                        wake.notify();
                    }
                    #[allow(unreachable_code)]
                    Ok::<(), sqlx::Error>(())
                };
                tokio::select! {
                    result = listener => {
                        if let Err(error) = result {
                            tracing::warn!(%error, "job notification listener failed; polling until it reconnects");
                        }
                    }
                    _ = shutdown.changed() => return,
                }
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_secs(2)) => {}
                    _ = shutdown.changed() => return,
                }
            }
        }))
    }
}
