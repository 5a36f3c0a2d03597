//! Goals that finish. Whenever a task of an active spec settles (merged, rejected, cancelled), the
//! goal is looked at: once every task has settled, the spec is archived and the goal gets a final
//! summary (what merged, what was rejected and why, what was cancelled, runs and agent time), and
//! its issue is closed if the policy says so. Either way the plan comment is rewritten. A task of
//! a finished goal that moves afterwards (merged on the forge as `/ade cancel` closed it) has the
//! summary rewritten too.

use super::goals::goal_comment;
use super::render::{self, SummaryTaskView, SummaryView};
use crate::coordinator::writes::ForgeWrite;
use crate::forge::RepoRef;
use crate::jobs::JobError;
use crate::lifecycle::{ApprovalState, SpecState, TaskState};
use crate::policy::EffectivePolicy;
use crate::runner::RunOutcome;
use crate::spec::Spec;
use crate::store::goals::{self, SpecRow};
use crate::store::{Conn, approvals, runs, tasks};
use crate::verify::human_duration;

/// Archives `row` with a summary when every task has settled; returns the writes: the plan
/// comment as it stands now, and the summary (and the issue's close) when the goal finished.
pub async fn settle(
    tx: &mut Conn,
    repo: &RepoRef,
    row: &SpecRow,
    spec: &Spec,
    policy: &EffectivePolicy,
    now: i64,
) -> Result<Vec<ForgeWrite>, JobError> {
    // The caller may have read `row` long ago (a run that began before the goal was archived).
    let row = &goals::spec(tx, row.id)
        .await?
        .unwrap_or_else(|| row.clone());
    let mut shown = row.clone();
    let mut writes = Vec::new();
    if row.state == SpecState::Active {
        let rows = tasks::tasks_of(tx, row.id).await?;
        if !rows.is_empty()
            && rows.iter().all(|t| t.state.is_settled())
            && goals::move_spec(
                tx,
                row.id,
                SpecState::Active,
                SpecState::Archived,
                "ade",
                now,
            )
            .await?
        {
            tracing::info!(
                spec = row.id,
                "every task is merged, rejected or cancelled; the goal is finished"
            );
            shown.state = SpecState::Archived;
            let number = spec.goal.issue as i64;
            let closing = policy.close_finished_goals;
            writes.push(ForgeWrite::Comment {
                shows: None,
                repo: repo.clone(),
                number,
                marker: format!("summary:{number}"),
                body: summary(tx, row, spec, closing).await?,
            });
            if closing {
                writes.push(ForgeWrite::CloseIssue {
                    repo: repo.clone(),
                    number,
                });
            }
        }
    } else if row.state == SpecState::Archived && finished_last(tx, row).await? {
        // A task that moved after the goal finished (a merge that crossed `/ade cancel`): the
        // summary is rewritten to say how it ended.
        let number = spec.goal.issue as i64;
        writes.push(ForgeWrite::Comment {
            shows: None,
            repo: repo.clone(),
            number,
            marker: format!("summary:{number}"),
            body: summary(tx, row, spec, policy.close_finished_goals).await?,
        });
    }
    if let Some(comment) = goal_comment(tx, repo, &shown, spec).await? {
        writes.insert(0, comment);
    }
    Ok(writes)
}

/// Whether archived `row` is the goal's last approved version, archived because its tasks
/// settled rather than replaced by a newer approval: the goal's summary is its own.
async fn finished_last(tx: &mut Conn, row: &SpecRow) -> Result<bool, JobError> {
    let specs = goals::specs(tx, row.goal).await?;
    let replaced = specs.iter().any(|s| {
        s.version > row.version && matches!(s.state, SpecState::Active | SpecState::Archived)
    });
    Ok(!replaced)
}

/// The summary comment of a finished spec.
async fn summary(
    tx: &mut Conn,
    row: &SpecRow,
    spec: &Spec,
    closing: bool,
) -> Result<String, JobError> {
    let mut view = SummaryView {
        number: spec.goal.issue as i64,
        version: row.version,
        tasks: Vec::new(),
        merged: 0,
        rejected: 0,
        cancelled: 0,
        attempts: 0,
        agent_time: String::new(),
        closing,
    };
    let mut total_ms = 0;
    for task in tasks::tasks_of(tx, row.id).await? {
        let runs = runs::runs_of_task(tx, task.id).await?;
        let agent_ms: u64 = runs
            .iter()
            .filter_map(|r| r.report.as_deref())
            .filter_map(|r| serde_json::from_str::<RunOutcome>(r).ok())
            .map(|o| o.report().agent_ms)
            .sum();
        total_ms += agent_ms;
        view.attempts += runs.len() as i64;
        let approval = approvals::of_task(tx, task.id).await?;
        let note = match task.state {
            TaskState::Merged => approval.as_ref().and_then(|a| {
                (a.verified_sha.as_deref() != Some(a.head_sha.as_str())).then(|| {
                    format!(
                        "merged by a person at {}, a head ade did not verify",
                        short(&a.head_sha)
                    )
                })
            }),
            TaskState::Rejected => approval
                .as_ref()
                .and_then(|a| a.reason.clone())
                .or_else(|| runs.first().and_then(|r| r.reason.clone())),
            TaskState::Cancelled => Some(
                if approval
                    .as_ref()
                    .is_some_and(|a| a.state == ApprovalState::Closed)
                {
                    "cancelled with /ade cancel; its approval was closed".into()
                } else {
                    "cancelled".into()
                },
            ),
            _ => None,
        };
        match task.state {
            TaskState::Merged => view.merged += 1,
            TaskState::Rejected => view.rejected += 1,
            _ => view.cancelled += 1,
        }
        view.tasks.push(SummaryTaskView {
            title: spec
                .tasks
                .iter()
                .find(|t| t.id.as_str() == task.task_id)
                .map(|t| t.title.clone())
                .unwrap_or_default(),
            id: task.task_id,
            outcome: task.state.to_string(),
            pull_number: approval.map(|a| a.number),
            note,
            attempts: runs.len() as i64,
            agent_time: human_duration(agent_ms),
        });
    }
    view.agent_time = human_duration(total_ms);
    Ok(render::summary(&view)?)
}

fn short(sha: &str) -> &str {
    &sha[..sha.len().min(12)]
}
