//! `/ade run <task-id> | all`: starts failed or cancelled tasks of the active spec again (they
//! wait for their dependencies like any task), and starts ready tasks that were held (for
//! instance until the policy named a default agent), as far as the goal's free slots allow.

use super::Session;
use super::cancel::{active_tasks, no_such_task};
use crate::command::RunTarget;
use crate::coordinator::advance::{self, AdvanceContext};
use crate::coordinator::goals::{goal_comment, spec_of};
use crate::jobs::JobError;
use crate::lifecycle::TaskState;
use crate::markdown;
use crate::store::goals::SpecRow;
use crate::store::tasks::TaskRow;
use crate::store::{Conn, tasks};

/// Restarts `target` and starts what may start.
pub async fn run(
    session: &mut Session<'_>,
    tx: &mut Conn,
    target: RunTarget,
) -> Result<(), JobError> {
    let Some((spec_row, rows)) = active_tasks(session, tx).await? else {
        session.say_headline("there is no active plan here: `/ade approve` activates one.".into());
        return Ok(());
    };
    if let RunTarget::Task(id) = &target
        && !rows.iter().any(|r| &r.task_id == id)
    {
        no_such_task(session, id);
        return Ok(());
    }
    let (headline, details) = start(session, tx, &spec_row, &rows, &target).await?;
    session.say(headline, details, None);
    Ok(())
}

/// Restarts the failed, rejected or cancelled tasks among `rows` that `target` names, starts what
/// may start and updates the plan comment; returns the reply: its headline and details.
pub(super) async fn start(
    session: &mut Session<'_>,
    tx: &mut Conn,
    spec_row: &SpecRow,
    rows: &[TaskRow],
    target: &RunTarget,
) -> Result<(String, Vec<String>), JobError> {
    let mut restarted = Vec::new();
    let mut details = Vec::new();
    for row in rows {
        if let RunTarget::Task(id) = target
            && &row.task_id != id
        {
            continue;
        }
        let state = row.state;
        match state {
            _ if state.may_restart()
                && tasks::move_task(tx, row.id, state, TaskState::Waiting, session.now).await? =>
            {
                restarted.push(markdown::code_span(&row.task_id));
            }
            _ if state.may_restart() => {}
            TaskState::Ready | TaskState::Waiting => {}
            other if matches!(target, RunTarget::Task(_)) => details.push(format!(
                "{} is {other}; only failed, rejected or cancelled tasks start again.",
                markdown::code_span(&row.task_id)
            )),
            _ => {}
        }
    }
    let spec = spec_of(spec_row)?;
    let advanced = advance::advance(
        tx,
        spec_row,
        &spec,
        &AdvanceContext {
            goal_number: spec.goal.issue as i64,
            policy: session.policy,
            requester: session.requester.login,
            now: session.now,
        },
    )
    .await?;
    for (id, why) in &advanced.held {
        details.push(format!("{} cannot start: {why}.", markdown::code_span(id)));
    }
    let mut headline = String::new();
    if !restarted.is_empty() {
        headline.push_str(&format!("starting again: {}.", restarted.join(", ")));
    }
    if !advanced.started.is_empty() {
        let started: Vec<String> = advanced
            .started
            .iter()
            .map(|id| markdown::code_span(id))
            .collect();
        headline.push_str(&format!(" Running now: {}.", started.join(", ")));
    }
    if headline.is_empty() {
        headline = "nothing to start.".into();
    }
    let comment = goal_comment(tx, session.repo, spec_row, &spec).await?;
    session.writes.extend(comment);
    Ok((headline.trim().to_string(), details))
}
