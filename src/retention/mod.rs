//! Retention (docs/retention.md): what ade keeps is kept as long as policy says, per kind of data,
//! and then deleted, with an audit record of what went (counts and ids, never content).
//!
//! A repository's periods come from the server's policy narrowed by its `[retention]`
//! ([`crate::policy::RetentionPolicy`]), kept per repository in the database whenever its policy
//! is read ([`crate::store::retention::remember`]); what belongs to no repository (the job queue,
//! the audit log) has the server's `[retention]` ([`RetentionConfig`]). Two things delete:
//! - the purge job ([`PurgeJob`], one at a time across replicas): deliveries and events, the agent
//!   output and verification failures stored with runs, finished jobs, old audit files;
//! - each runner, for the files it keeps ([`Retention::sweep_files`]): run logs, verification
//!   logs, prompts and scratch folders; and at once, for what a repository keeps for 0 days, as
//!   soon as a run or verification is finished and reported ([`Retention::after_run`]).

mod files;
mod purge;
mod rules;

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use crate::audit::AuditLog;
use crate::clock::Clock;
use crate::runner::Runner;
use crate::store::Store;

pub use purge::{PurgeHandler, PurgeJob};
pub use rules::{Rules, ServerPeriods};

/// A day in milliseconds, the unit of every retention period.
pub const DAY_MS: i64 = 86_400_000;

/// `ade.toml`'s `[retention]`: the server's own periods for what belongs to no repository, and how
/// often ade purges.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RetentionConfig {
    /// How often the purge job runs and each runner sweeps its files.
    pub purge_every: Duration,
    /// Days completed and cancelled jobs are kept.
    pub completed_jobs_days: u32,
    /// Days jobs that failed for good are kept (and the deliveries and events they name).
    pub failed_jobs_days: u32,
    /// Days audit records are kept; 0 keeps them for ever.
    pub audit_days: u32,
}

impl Default for RetentionConfig {
    fn default() -> RetentionConfig {
        RetentionConfig {
            purge_every: Duration::from_secs(3600),
            completed_jobs_days: 7,
            failed_jobs_days: 30,
            audit_days: 365,
        }
    }
}

/// Retention's part of one process: what it reads and deletes with.
#[derive(Clone)]
pub struct Retention {
    store: Store,
    clock: Arc<dyn Clock>,
    audit: Arc<AuditLog>,
    runner: Option<Arc<dyn Runner>>,
    config: RetentionConfig,
    /// The server's default periods and caps.
    server: ServerPeriods,
}

impl Retention {
    /// Retention over `store`, recording in `audit`; `runner` is the runner embedded in this
    /// process, whose files it sweeps, and `server` the server's default periods and caps.
    pub fn new(
        store: Store,
        clock: Arc<dyn Clock>,
        audit: Arc<AuditLog>,
        runner: Option<Arc<dyn Runner>>,
        config: RetentionConfig,
        server: ServerPeriods,
    ) -> Retention {
        Retention {
            store,
            clock,
            audit,
            runner,
            config,
            server,
        }
    }

    /// The handler of [`PurgeJob`]s.
    pub fn purge_handler(&self) -> PurgeHandler {
        PurgeHandler::new(self.clone())
    }

    /// Every `purge_every`, from now until `shutdown`: enqueues the period's purge job (one per
    /// period, whichever replica enqueues it first) and sweeps this process's runner's files.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        let mut tick = tokio::time::interval(self.config.purge_every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = shutdown.changed() => {
                    if *shutdown.borrow() { return; }
                }
            }
            if let Err(error) = self.enqueue_purge().await {
                tracing::warn!(%error, "the purge job could not be enqueued; trying again next period");
            }
            if let Err(error) = self.sweep_files().await {
                tracing::warn!(%error, "the runner's files could not be swept; trying again next period");
            }
        }
    }

    async fn enqueue_purge(&self) -> Result<(), crate::store::StoreError> {
        let now = self.clock.now_ms();
        let every = (self.config.purge_every.as_millis() as i64).max(1);
        let job = PurgeJob {
            period: now / every,
        };
        let mut conn = self.store.writer().await?;
        crate::store::jobs::enqueue(
            &mut conn,
            &crate::jobs::Job::new_job(&job, PurgeJob::ATTEMPTS, now),
            now,
        )
        .await?;
        Ok(())
    }
}

/// `1-3,7,9-10` for the sorted ids `1 2 3 7 9 10`: ids in an audit record, short.
pub fn ranges(ids: &[i64]) -> String {
    let mut out = Vec::new();
    let mut iter = ids.iter().copied().peekable();
    while let Some(start) = iter.next() {
        let mut end = start;
        while iter.peek() == Some(&(end + 1)) {
            end = iter.next().unwrap_or(end);
        }
        out.push(if start == end {
            start.to_string()
        } else {
            format!("{start}-{end}")
        });
    }
    out.join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_written_as_ranges() {
        assert_eq!(ranges(&[]), "");
        assert_eq!(ranges(&[4]), "4");
        assert_eq!(ranges(&[1, 2, 3, 7, 9, 10]), "1-3,7,9-10");
        assert_eq!(ranges(&[1, 3, 5]), "1,3,5");
    }
}
