//! The leader: one process at a time, chosen by a lease row, reaps jobs whose worker stopped
//! renewing their lease. (Finished jobs are pruned by retention's purge job, docs/retention.md.)

use super::Wake;
use crate::clock::Clock;
use crate::store::{Store, StoreError, jobs as queries, leader as leases};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

const LEASE_NAME: &str = "leader";

/// Competes for leadership and, while leading, does the leader's work.
pub struct Leader {
    owner: Arc<str>,
    store: Store,
    clock: Arc<dyn Clock>,
    lease: Duration,
    wake: Wake,
}

impl Leader {
    /// A contender named `owner` (the worker id of this process), holding the lease for `lease`.
    pub fn new(
        owner: &str,
        store: Store,
        clock: Arc<dyn Clock>,
        lease: Duration,
        wake: Wake,
    ) -> Leader {
        Leader {
            owner: owner.into(),
            store,
            clock,
            lease,
            wake,
        }
    }

    /// Renews or takes the lease every third of its length; while leading, reaps expired job
    /// leases on every tick. Gives the lease up at shutdown.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        let mut tick = tokio::time::interval(self.lease / 3);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut leading = false;
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = shutdown.changed() => {
                    if *shutdown.borrow() { break; }
                }
            }
            match self.tick(&mut leading).await {
                Ok(()) => {}
                Err(error) => {
                    tracing::warn!(%error, "leader upkeep failed; trying again next tick")
                }
            }
        }
        if leading && let Ok(mut conn) = self.store.writer().await {
            leases::release(&mut conn, LEASE_NAME, &self.owner)
                .await
                .ok();
        }
    }

    async fn tick(&self, leading: &mut bool) -> Result<(), StoreError> {
        let now = self.clock.now_ms();
        let mut conn = self.store.writer().await?;
        let lead = leases::acquire(
            &mut conn,
            LEASE_NAME,
            &self.owner,
            now,
            now + self.lease.as_millis() as i64,
        )
        .await?;
        if lead != *leading {
            tracing::info!(owner = %self.owner, leading = lead, "leadership changed");
            *leading = lead;
        }
        if !lead {
            return Ok(());
        }
        let reaped = queries::reap_expired(&mut conn, now).await?;
        if !reaped.is_empty() {
            tracing::warn!(jobs = ?reaped, "made jobs with expired leases available again");
            self.wake.notify();
        }
        Ok(())
    }
}
