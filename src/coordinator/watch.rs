//! Watching a stop flag while a runner works: `/ade cancel` sets a run's cancel flag, a newer head
//! (or a cancel) sets a verification's, and a newer `/ade plan` (or a cancel) a planner run's; the job carrying it out polls the flag and fires the
//! runner's cancellation token once it is set.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::store::{Store, planning, runs, verifications};

/// How often a flag is read.
pub const POLL: Duration = Duration::from_millis(500);

/// The flag to watch.
#[derive(Clone, Copy, Debug)]
pub enum Flag {
    /// A run's cancel flag.
    RunCancelled(i64),
    /// A verification's stop flag (cancelled or superseded).
    VerificationStopped(i64),
    /// A planner run's cancel flag (`/ade cancel`, or a newer `/ade plan`).
    PlanningCancelled(i64),
}

/// Polls `flag` every [`POLL`] and fires `token` once it is set; abort the handle when the work
/// ends first.
pub fn watch(store: Store, flag: Flag, token: CancellationToken) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(POLL).await;
            let Ok(mut conn) = store.reader().await else {
                continue;
            };
            let set = match flag {
                Flag::RunCancelled(run) => runs::cancel_requested(&mut conn, run).await,
                Flag::VerificationStopped(v) => verifications::stop_requested(&mut conn, v).await,
                Flag::PlanningCancelled(p) => planning::cancel_requested(&mut conn, p).await,
            };
            if set.unwrap_or(false) {
                tracing::info!(?flag, "asked to stop");
                token.cancel();
                return;
            }
        }
    })
}
