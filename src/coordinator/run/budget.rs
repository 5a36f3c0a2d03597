//! The goal's budget while a run is under way: every few seconds the job adds up what the goal's
//! runs have spent (a run under way counts the time since it was let through) and stops the run
//! once the agent minutes or the reported cost are used up, so parallel runs cannot overspend
//! together by the length of a run (docs/limits.md). It watches until the run pushes.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::clock::Clock;
use crate::policy::BudgetPolicy;
use crate::store::{Store, limits};

/// How often the goal's spending is added up while a run is under way.
pub(super) const POLL: Duration = Duration::from_secs(2);

/// Why a run was stopped for its goal's budget, once it was.
pub(super) type Stopped = Arc<OnceLock<String>>;

/// Watches goal `goal`'s spending against `budget` and fires `token` once it is spent, saying why
/// in the returned cell, until `pushed` fires (verification is not the agent's time, and a run
/// is never stopped while it is verified); abort the handle when the run ends first.
pub(super) fn watch(
    store: Store,
    clock: Arc<dyn Clock>,
    (goal, budget): (i64, BudgetPolicy),
    (token, pushed): (CancellationToken, CancellationToken),
) -> (tokio::task::JoinHandle<()>, Stopped) {
    let stopped = Stopped::default();
    let said = stopped.clone();
    let handle = tokio::spawn(async move {
        loop {
            tokio::select! {
                () = tokio::time::sleep(POLL) => {}
                () = pushed.cancelled() => return,
            }
            let Ok(mut conn) = store.reader().await else {
                continue;
            };
            let Ok(spent) = limits::spent(&mut conn, goal, None, clock.now_ms()).await else {
                continue;
            };
            if let Some(limit) = spent.while_running(&budget) {
                let reason = limit.spent_sentence(&spent, &budget);
                tracing::info!(goal, %reason, "the goal's budget is spent; stopping its run");
                said.set(reason).ok();
                token.cancel();
                return;
            }
        }
    });
    (handle, stopped)
}
