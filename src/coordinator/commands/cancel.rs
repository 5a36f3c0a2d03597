//! `/ade cancel [task-id]`: stops tasks of the goal's active spec. A task not yet running is
//! cancelled at once; a running task's run (and a verification under way) is stopped by its
//! runner within seconds (the runner watches the cancel flags); an open approval is closed with a
//! comment saying so, its branch kept. On an approval, it cancels that task. The spec stays
//! inspectable; cancelled tasks start again with `/ade run`, and a goal whose tasks are all
//! settled is finished with its summary.

use super::Session;
use crate::command::Place;
use crate::coordinator::finish;
use crate::coordinator::goals::spec_of;
use crate::coordinator::render::{self, ReplyView};
use crate::coordinator::writes::ForgeWrite;
use crate::jobs::JobError;
use crate::lifecycle::{ApprovalState, RunState, SpecState, State, TaskState};
use crate::markdown;
use crate::store::runs::{self as store, RunEnd};
use crate::store::tasks::{self, TaskRow};
use crate::store::{Conn, approvals, goals, planning, verifications};

/// Cancels `task`, or every unfinished task of the place's goal.
pub async fn run(
    session: &mut Session<'_>,
    tx: &mut Conn,
    task: Option<String>,
) -> Result<(), JobError> {
    let planning = if task.is_none() && session.place == Place::Issue {
        stop_planning(session, tx).await?
    } else {
        0
    };
    let planning_note = "a planner run of this goal is being stopped: it will plan nothing.";
    let Some((spec_row, rows)) = active_tasks(session, tx).await? else {
        if planning > 0 {
            session.say_headline(planning_note.into());
        } else {
            session.say_headline(
                "there is no active plan here, so there is nothing to cancel.".into(),
            );
        }
        return Ok(());
    };
    let chosen: Vec<&TaskRow> = match &task {
        Some(id) => match rows.iter().find(|r| &r.task_id == id) {
            Some(row) => vec![row],
            None => {
                no_such_task(session, id);
                return Ok(());
            }
        },
        None => rows.iter().collect(),
    };
    let mut cancelled = Vec::new();
    let mut details = Vec::new();
    if planning > 0 {
        details.push(planning_note.to_string());
    }
    for row in chosen {
        let state = row.state;
        match state {
            TaskState::Waiting
            | TaskState::Ready
            | TaskState::Running
            | TaskState::Review
            | TaskState::Rejected => {
                if !tasks::move_task(tx, row.id, state, TaskState::Cancelled, session.now).await? {
                    continue;
                }
                if state == TaskState::Running {
                    stop_run(tx, row, session.now).await?;
                    details.push(format!(
                        "{}: its run is being stopped.",
                        markdown::code_span(&row.task_id)
                    ));
                }
                if let Some(number) = close_approval(session, tx, row).await? {
                    details.push(format!(
                        "{}: its approval #{number} is closed as cancelled; its branch stays.",
                        markdown::code_span(&row.task_id)
                    ));
                }
                cancelled.push(markdown::code_span(&row.task_id));
            }
            TaskState::Merged | TaskState::Failed | TaskState::Cancelled if task.is_some() => {
                details.push(format!(
                    "{} is already {state}.",
                    markdown::code_span(&row.task_id)
                ))
            }
            _ => {}
        }
    }
    let headline = if cancelled.is_empty() {
        "nothing was cancelled.".to_string()
    } else {
        format!(
            "cancelled {}. The plan stays as it is; `/ade run <task>` on the goal starts a task again.",
            cancelled.join(", ")
        )
    };
    let spec = spec_of(&spec_row)?;
    let repo = session.repo.clone();
    let writes = finish::settle(tx, &repo, &spec_row, &spec, session.policy, session.now).await?;
    session.writes.extend(writes);
    session.say(headline, details, None);
    Ok(())
}

/// Asks the goal's planner runs in flight to stop; returns how many there were.
async fn stop_planning(session: &Session<'_>, tx: &mut Conn) -> Result<usize, JobError> {
    let Some(goal) =
        goals::find_goal(tx, session.forge, &session.repository(), session.number()).await?
    else {
        return Ok(0);
    };
    let mut stopped = 0;
    for run in planning::of_goal(tx, goal).await? {
        if run.state.in_flight() && planning::request_cancel(tx, run.id).await? {
            stopped += 1;
        }
    }
    Ok(stopped)
}

/// Closes the task's open approval as cancelled, with a comment, and stops its verifications;
/// returns its number when there was one to close.
async fn close_approval(
    session: &mut Session<'_>,
    tx: &mut Conn,
    row: &TaskRow,
) -> Result<Option<i64>, JobError> {
    let Some(approval) = approvals::of_task(tx, row.id).await? else {
        return Ok(None);
    };
    if matches!(
        approval.state,
        ApprovalState::Merged | ApprovalState::Closed
    ) {
        return Ok(None);
    }
    for v in verifications::of_approval(tx, approval.id).await? {
        if !v.state.is_final() {
            verifications::request_cancel(tx, v.id).await?;
            // A wait for external checks ends now, cancelled.
            crate::coordinator::verification::external::wake(tx, v.id, session.now).await?;
        }
    }
    approvals::close_cancelled(tx, &approval, session.now).await?;
    let repo = session.repo.clone();
    let login = session.requester.login.to_string();
    session.writes.push(ForgeWrite::Comment {
        shows: None,
        repo: repo.clone(),
        number: approval.number,
        marker: format!("cancelled:{}", approval.id),
        body: render::reply(&ReplyView {
            headline: format!(
                "{} cancelled task {} with `/ade cancel`: ade closes this approval. Its branch stays, and the plan on #{} stays inspectable.",
                markdown::code_span(&login),
                markdown::code_span(&row.task_id),
                session_goal_number(session, tx, row).await?
            ),
            ..ReplyView::default()
        })?,
    });
    session.writes.push(ForgeWrite::ClosePull {
        repo,
        number: approval.number,
    });
    Ok(Some(approval.number))
}

/// The goal's issue number of a task.
async fn session_goal_number(
    session: &Session<'_>,
    tx: &mut Conn,
    row: &TaskRow,
) -> Result<i64, JobError> {
    Ok(goals::goal_of_spec(tx, row.spec)
        .await?
        .map_or(session.number(), |g| g.number))
}

/// Stops the task's latest run: a queued run ends now; a running one is flagged, and its runner
/// stops the agent and records the end.
async fn stop_run(tx: &mut Conn, row: &TaskRow, now: i64) -> Result<(), JobError> {
    let Some(run) = store::runs_of_task(tx, row.id).await?.into_iter().next() else {
        return Ok(());
    };
    store::request_cancel(tx, run.id).await?;
    // Tried whatever state was read: a run being held (put back in the queue) as this command
    // ran is queued by the time this statement sees it, and ends here instead of at its next try.
    if run.state.in_flight() {
        store::finish_run(
            tx,
            run.id,
            RunState::Queued,
            &RunEnd {
                state: RunState::Cancelled,
                head_sha: None,
                reason: Some("cancelled before it started"),
                report: None,
            },
            now,
        )
        .await?;
    }
    Ok(())
}

/// Says the active plan has no task `id` (named in `/ade cancel` or `/ade run`).
pub fn no_such_task(session: &mut Session<'_>, id: &str) {
    session.say_headline(format!(
        "the active plan has no task {}; nothing changed.",
        markdown::code_span(id)
    ));
}

/// The active spec of the place's goal and its tasks: on an issue, its goal; on an approval, the
/// goal of its task (only that task).
pub async fn active_tasks(
    session: &Session<'_>,
    tx: &mut Conn,
) -> Result<Option<(goals::SpecRow, Vec<TaskRow>)>, JobError> {
    if session.place == Place::PullRequest {
        let Some(approval) =
            approvals::by_pull(tx, session.forge, &session.repository(), session.number()).await?
        else {
            return Ok(None);
        };
        let Some(task) = tasks::task(tx, approval.task).await? else {
            return Ok(None);
        };
        let Some(spec) = goals::spec(tx, task.spec).await? else {
            return Ok(None);
        };
        if spec.state != SpecState::Active {
            return Ok(None);
        }
        return Ok(Some((spec, vec![task])));
    }
    let Some(goal) =
        goals::find_goal(tx, session.forge, &session.repository(), session.number()).await?
    else {
        return Ok(None);
    };
    let specs = goals::specs(tx, goal).await?;
    let Some(active) = specs.into_iter().find(|s| s.state == SpecState::Active) else {
        return Ok(None);
    };
    let rows = tasks::tasks_of(tx, active.id).await?;
    Ok(Some((active, rows)))
}
