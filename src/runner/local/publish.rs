//! Phase 4, publish: the run's branch is pushed with a short-lived credential, leased against the
//! head the task's approval shows (or against no branch at all), so a branch someone else moved
//! is never overwritten. The coordinator opens or updates the approval from the outcome.

use super::Stop;
use super::prepare::Prepared;
use crate::runner::commit::{self, PushOutcome};
use crate::runner::order::{RunOrder, RunOutcome, RunReport};

/// Pushes `head` to the run's branch.
pub(super) async fn push(
    order: &RunOrder,
    run: &Prepared,
    head: String,
    report: &RunReport,
) -> Result<RunOutcome, Stop> {
    match commit::push(
        &run.mirror,
        &order.credential,
        &head,
        &order.branch,
        order.expected_branch_head.as_deref(),
    )
    .await
    {
        Ok(PushOutcome::Pushed | PushOutcome::UpToDate) => Ok(RunOutcome::Pushed {
            head_sha: head,
            report: report.clone(),
        }),
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
