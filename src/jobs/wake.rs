//! Wake-ups for idle workers: in memory when this process enqueued, and from PostgreSQL's
//! `LISTEN` when another process did. The worker's poll interval covers anything missed (a
//! notification sent while the listener was reconnecting).
//!
//! A wake-up reaches every worker of the process: the delivery worker and the runner's workers
//! claim different kinds, so waking just one of them could wake the one with nothing to do.

use crate::store::jobs::NOTIFY_CHANNEL;
use crate::store::{Backend, Store};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Tells this process's workers that jobs may be waiting.
#[derive(Clone)]
pub struct Wake(Arc<watch::Sender<u64>>);

impl Default for Wake {
    fn default() -> Wake {
        Wake(Arc::new(watch::channel(0).0))
    }
}

impl Wake {
    /// A new wake-up signal.
    pub fn new() -> Wake {
        Wake::default()
    }

    /// Wakes every worker (a busy one finds its next wait over at once).
    pub fn notify(&self) {
        self.0.send_modify(|count| *count = count.wrapping_add(1));
    }

    /// A waiter for one worker, which sees every wake-up sent after this call.
    pub fn subscribe(&self) -> Waiter {
        Waiter {
            changes: self.0.subscribe(),
            _sender: self.clone(),
        }
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

/// One worker's end of [`Wake`].
pub struct Waiter {
    changes: watch::Receiver<u64>,
    // Keeps the channel open, so a wait never returns early because every sender is gone.
    _sender: Wake,
}

impl Waiter {
    /// Waits for a wake-up sent since the last wait returned, or for `timeout`.
    pub async fn wait(&mut self, timeout: Duration) {
        let _ = tokio::time::timeout(timeout, self.changes.changed()).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_wake_up_reaches_every_waiter() {
        let wake = Wake::new();
        let mut first = wake.subscribe();
        let mut second = wake.subscribe();
        wake.notify();
        let started = std::time::Instant::now();
        first.wait(Duration::from_secs(5)).await;
        second.wait(Duration::from_secs(5)).await;
        assert!(started.elapsed() < Duration::from_secs(1));
    }

    #[tokio::test]
    async fn a_wake_up_sent_while_busy_ends_the_next_wait_at_once() {
        let wake = Wake::new();
        let mut waiter = wake.subscribe();
        wake.notify();
        wake.notify();
        let started = std::time::Instant::now();
        waiter.wait(Duration::from_secs(5)).await;
        assert!(started.elapsed() < Duration::from_secs(1));
        let started = std::time::Instant::now();
        waiter.wait(Duration::from_millis(100)).await;
        assert!(
            started.elapsed() >= Duration::from_millis(90),
            "two wake-ups count once"
        );
    }
}
