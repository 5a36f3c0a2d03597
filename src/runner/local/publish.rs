//! Phase 4, publish: the run's branch is pushed with a short-lived credential the coordinator
//! asks for just before ([`RunProgress::push_credential`]), leased against the head the task's
//! approval shows (or against no branch at all), so a branch someone else moved is never
//! overwritten. The coordinator then revokes it and opens or updates the approval
//! ([`RunProgress::published`]).

use super::Stop;
use super::prepare::Prepared;
use crate::runner::commit::{self, PushOutcome};
use crate::runner::order::{RunOrder, RunProgress};

/// Pushes `head` to the run's branch; returns it once the forge has it.
pub(super) async fn push(
    order: &RunOrder,
    run: &Prepared,
    head: String,
    progress: &dyn RunProgress,
) -> Result<String, Stop> {
    let credential = progress
        .push_credential()
        .await
        .map_err(|e| Stop::fault(format!("no credential to push with: {e}")))?;
    match commit::push(
        &run.mirror,
        &credential,
        &head,
        &order.branch,
        order.expected_branch_head.as_deref(),
    )
    .await
    {
        Ok(PushOutcome::Pushed | PushOutcome::UpToDate) => Ok(head),
        Ok(PushOutcome::Stale) => Err(Stop::agent(format!(
            "the branch {} was moved by someone else; ade did not overwrite it",
            order.branch
        ))),
        Ok(PushOutcome::Rejected(why)) => {
            Err(Stop::agent(format!("the forge refused the push: {why}")))
        }
        Err(e) => Err(Stop::fault(format!("the push failed: {e}"))),
    }
}
