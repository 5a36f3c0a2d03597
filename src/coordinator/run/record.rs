//! Recording how a run ended: the run's state and reason, its task's move, the approval it
//! opened, and the report posted on the goal when it ended without one. Everything here runs in
//! the transaction that completes the job.

use super::approval::Opened;
use super::load::StoredRun;
use crate::coordinator::render::{self, ReplyView};
use crate::forge::writes::ForgeWrite;
use crate::jobs::JobError;
use crate::lifecycle::{RunState, TaskState};
use crate::markdown;
use crate::runner::RunOutcome;
use crate::store::approvals::{self, OpenedApproval};
use crate::store::runs::{self as store, RunEnd};
use crate::store::{Conn, tasks};

/// Records how a run that was in `from` ended, with the approval it opened if it pushed; returns
/// the comments to write about it.
pub(super) async fn end(
    tx: &mut Conn,
    l: &StoredRun,
    from: RunState,
    outcome: RunOutcome,
    pull: Option<Opened>,
    now: i64,
) -> Result<Vec<ForgeWrite>, JobError> {
    let report = serde_json::to_string(&outcome).expect("serializes");
    let (state, reason, head, headline) = match (&outcome, &pull) {
        (RunOutcome::Pushed { head_sha, .. }, Some(opened)) => {
            approvals::record_opened(
                tx,
                &OpenedApproval {
                    task: l.task.id,
                    forge: l.forge,
                    repository: &l.goal.repository,
                    number: opened.number,
                    node_id: opened.node_id.as_deref(),
                    branch: &l.run.branch,
                    head_sha,
                    draft: false,
                    requester: &l.run.requester,
                },
                now,
            )
            .await?;
            tasks::move_task(tx, l.task.id, TaskState::Running, TaskState::Review, now).await?;
            (RunState::Succeeded, None, Some(head_sha.clone()), None)
        }
        (RunOutcome::Cancelled { .. }, _) => {
            if l.task.state == TaskState::Running {
                tasks::move_task(tx, l.task.id, TaskState::Running, TaskState::Cancelled, now)
                    .await?;
            }
            let headline = format!(
                "run {} of task {} was cancelled.",
                l.run.id,
                markdown::code_span(&l.task.task_id)
            );
            (
                RunState::Cancelled,
                Some("cancelled".to_string()),
                None,
                Some(headline),
            )
        }
        (other, _) => {
            let reason = match other {
                RunOutcome::NoChanges { .. } => "no changes: the agent changed nothing".into(),
                RunOutcome::Blocked { reason, .. } => reason.clone(),
                RunOutcome::Failed { reason, .. } => reason.clone(),
                _ => "the run pushed, but no approval was recorded".into(),
            };
            tasks::move_task(tx, l.task.id, TaskState::Running, TaskState::Failed, now).await?;
            let headline = format!(
                "run {} of task {} failed: {}",
                l.run.id,
                markdown::code_span(&l.task.task_id),
                reason
            );
            (RunState::Failed, Some(reason), None, Some(headline))
        }
    };
    store::finish_run(
        tx,
        l.run.id,
        from,
        &RunEnd {
            state,
            head_sha: head.as_deref(),
            reason: reason.as_deref(),
            report: Some(&report),
        },
        now,
    )
    .await?;
    tracing::info!(run = l.run.id, %state, reason = reason.as_deref().unwrap_or(""), "run ended");
    let mut writes = Vec::new();
    if let Some(headline) = headline {
        writes.push(report_on_goal(l, &outcome, headline)?);
    }
    Ok(writes)
}

/// The comment on the goal about a run that ended without an approval.
fn report_on_goal(
    l: &StoredRun,
    outcome: &RunOutcome,
    headline: String,
) -> Result<ForgeWrite, JobError> {
    let report = outcome.report();
    let mut details: Vec<String> = report.flagged.iter().map(|f| markdown::inline(f)).collect();
    details.extend(report.confinement.iter().map(|c| markdown::inline(c)));
    if !report.agent_exit.is_empty() {
        details.push(format!("agent: {}", markdown::inline(&report.agent_exit)));
    }
    let body = render::reply(&ReplyView {
        headline,
        details,
        ..ReplyView::default()
    })
    .map_err(JobError::Permanent)?;
    Ok(ForgeWrite::Comment {
        repo: l.repo.clone(),
        number: l.goal.number,
        marker: format!("run:{}", l.run.id),
        body,
    })
}
