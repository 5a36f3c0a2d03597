//! A goal as the coordinator keeps it on the forge: its stored spec, and the plan comment that
//! shows each task's progress, rewritten whenever something moves (a run ends, an approval is
//! merged, a task is cancelled).

use super::planning::comment::{GoalComment, TaskProgress, previous_plan};
use super::schedule::{self, TaskNode};
use crate::coordinator::writes::ForgeWrite;
use crate::forge::RepoRef;
use crate::jobs::JobError;
use crate::lifecycle::{SpecState, TaskState};
use crate::markdown;
use crate::spec::Spec;
use crate::store::goals::SpecRow;
use crate::store::tasks::{self, TaskRow};
use crate::store::{Conn, approvals, runs};

/// Reads a stored spec's content.
pub fn spec_of(row: &SpecRow) -> Result<Spec, JobError> {
    serde_json::from_str(&row.content).map_err(|e| {
        JobError::Permanent(format!("stored spec v{} is unreadable: {e}", row.version))
    })
}

/// The scheduler's view of a spec's stored tasks.
pub fn nodes(spec: &Spec, rows: &[TaskRow]) -> Vec<TaskNode> {
    rows.iter()
        .map(|row| TaskNode {
            id: row.task_id.clone(),
            state: row.state,
            depends_on: spec
                .tasks
                .iter()
                .find(|t| t.id.as_str() == row.task_id)
                .map(|t| t.depends_on.iter().map(ToString::to_string).collect())
                .unwrap_or_default(),
        })
        .collect()
}

/// Each task's progress, for the plan comment: its state in words (a waiting task stopped by a
/// dependency says which), its attempts while it runs again, and its approval.
pub async fn progress(
    tx: &mut Conn,
    spec: &Spec,
    spec_row: i64,
) -> Result<Vec<TaskProgress>, JobError> {
    let rows = tasks::tasks_of(tx, spec_row).await?;
    let blocked = schedule::blocked(&nodes(spec, &rows));
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let approval = approvals::of_task(tx, row.id).await?;
        let label = match row.state {
            TaskState::Merged
                if approval
                    .as_ref()
                    .is_some_and(|a| a.verified_sha.as_deref() != Some(a.head_sha.as_str())) =>
            {
                "merged, at a head ade did not verify".into()
            }
            TaskState::Review if approval.as_ref().is_some_and(|a| a.draft) => {
                "in review, a draft: not verified".into()
            }
            TaskState::Waiting => match blocked.iter().find(|b| b.id == row.task_id) {
                Some(b) => format!("blocked: {} {}", markdown::code_span(&b.by), b.state),
                None => "waiting".into(),
            },
            TaskState::Review => "in review".into(),
            TaskState::Running => {
                let attempt = runs::runs_of_task(tx, row.id)
                    .await?
                    .first()
                    .map_or(1, |r| r.attempt);
                if attempt > 1 {
                    format!("running (attempt {attempt})")
                } else {
                    "running".into()
                }
            }
            other => other.to_string(),
        };
        out.push(TaskProgress {
            id: row.task_id,
            state: label,
            pull_number: approval.map(|a| a.number),
        });
    }
    Ok(out)
}

/// The goal's plan comment as it stands now, for writes made outside a command (a run moved, an
/// approval was merged); `None` while a newer version waits for approval: the comment shows that
/// one, which its approvers must be able to read (progress stays in `/ade status`).
pub async fn goal_comment(
    tx: &mut Conn,
    repo: &RepoRef,
    row: &SpecRow,
    spec: &Spec,
) -> Result<Option<ForgeWrite>, JobError> {
    let goal = crate::store::goals::goal_of_spec(tx, row.id)
        .await?
        .ok_or_else(|| JobError::Permanent(format!("spec {} has no goal", row.id)))?;
    let specs = crate::store::goals::specs(tx, goal.id).await?;
    let waiting = specs
        .iter()
        .any(|s| s.version > row.version && s.state == SpecState::Validated);
    if waiting {
        return Ok(None);
    }
    let progress = progress(tx, spec, row.id).await?;
    let previous = previous_plan(&specs, row.version);
    let comment = GoalComment {
        repo,
        number: goal.number,
        title: &goal.title,
        previous: previous.as_ref(),
        planner_log: crate::store::planning::log_link_of_spec(tx, row.id).await?,
    };
    Ok(Some(comment.plan(spec, row.state, row, &[], &progress)))
}
