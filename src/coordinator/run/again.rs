//! A new attempt on an approval: the agent runs again on the approval's head and continues its
//! branch. `/ade retry` and reviews asking for changes (`review/requested.rs`) both start one
//! here, so the checks (the plan still active, the task in review or rejected) and what is
//! recorded (the run, who asked, which agent, the plan comment) are the same for both.

use super::job::RunJob;
use crate::coordinator::goals::{goal_comment, spec_of};
use crate::coordinator::writes::ForgeWrite;
use crate::forge::RepoRef;
use crate::jobs::{Job, JobError};
use crate::lifecycle::{SpecState, TaskState};
use crate::store::approvals::ApprovalRow;
use crate::store::jobs as queue;
use crate::store::runs::{self, NewRun, RunCause, RunRow};
use crate::store::{Conn, goals, tasks};

/// What a new attempt is asked with.
pub struct Again<'a> {
    /// The approval it continues.
    pub approval: &'a ApprovalRow,
    /// The head it starts from: the approval's head as the forge has it now.
    pub head: &'a str,
    /// The agent to run; `None`: the agent of the task's last run.
    pub agent: Option<&'a str>,
    /// Who asked for it.
    pub requester: &'a str,
    /// What the agent is told about the previous attempt.
    pub feedback: Option<&'a str>,
    /// `/ade retry` or reviews.
    pub cause: RunCause,
    /// The job's clock.
    pub now: i64,
}

/// Why no attempt started; each caller says it in its own words.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NotAgain {
    /// The approval's task, its runs or its plan are no longer stored.
    Gone,
    /// The task's plan version is no longer active.
    PlanNotActive {
        /// Its version.
        version: i64,
        /// Its state.
        state: SpecState,
    },
    /// The task is not in review or rejected (a run is in flight, it is merged, ...).
    Task(TaskState),
    /// The task moved between reading and starting.
    Moved,
}

/// The attempt that started.
#[derive(Clone, Debug)]
pub struct Started {
    /// The new run.
    pub run: i64,
    /// Its attempt number.
    pub attempt: i64,
    /// The agent it runs.
    pub agent: String,
    /// The task's id in the spec.
    pub task_id: String,
    /// The plan comment, updated to show the task running.
    pub writes: Vec<ForgeWrite>,
}

/// The task of `approval` and its runs, newest first; `None` when either is gone.
pub async fn task_and_runs(
    tx: &mut Conn,
    approval: &ApprovalRow,
) -> Result<Option<(tasks::TaskRow, Vec<RunRow>)>, JobError> {
    let Some(task) = tasks::task(tx, approval.task).await? else {
        return Ok(None);
    };
    let runs = runs::runs_of_task(tx, task.id).await?;
    Ok((!runs.is_empty()).then_some((task, runs)))
}

/// How many attempts the task's current series holds: its runs (newest first) back to and
/// including the last that started it afresh (`/ade run` starts a new series).
pub fn attempts_in_series(runs: &[RunRow]) -> u32 {
    let mut n = 0;
    for run in runs {
        n += 1;
        if run.cause == RunCause::Start {
            break;
        }
    }
    n
}

/// What [`check`] found: the approval's task, its runs (newest first) and its plan version.
pub struct Ready {
    /// The task.
    pub task: tasks::TaskRow,
    /// Its runs, newest first.
    pub runs: Vec<RunRow>,
    /// Its plan version.
    pub spec: goals::SpecRow,
}

/// Whether a new attempt on `approval` may start now: its plan is active and its task is in
/// review or rejected. [`start`] checks the same, in its own transaction.
pub async fn check(
    tx: &mut Conn,
    approval: &ApprovalRow,
) -> Result<Result<Ready, NotAgain>, JobError> {
    let Some((task, runs)) = task_and_runs(tx, approval).await? else {
        return Ok(Err(NotAgain::Gone));
    };
    let Some(spec) = goals::spec(tx, task.spec).await? else {
        return Ok(Err(NotAgain::Gone));
    };
    if spec.state != SpecState::Active {
        return Ok(Err(NotAgain::PlanNotActive {
            version: spec.version,
            state: spec.state,
        }));
    }
    if !matches!(task.state, TaskState::Review | TaskState::Rejected) {
        return Ok(Err(NotAgain::Task(task.state)));
    }
    Ok(Ok(Ready { task, runs, spec }))
}

/// Starts the next attempt on `again.approval`: moves its task to running, stores the run and
/// enqueues its job, all in `tx`.
pub async fn start(
    tx: &mut Conn,
    repo: &RepoRef,
    again: Again<'_>,
) -> Result<Result<Started, NotAgain>, JobError> {
    let Ready {
        task,
        runs,
        spec: spec_row,
    } = match check(tx, again.approval).await? {
        Ok(ready) => ready,
        Err(not) => return Ok(Err(not)),
    };
    let last = &runs[0];
    if !tasks::move_task(tx, task.id, task.state, TaskState::Running, again.now).await? {
        return Ok(Err(NotAgain::Moved));
    }
    let agent = again.agent.unwrap_or(&last.agent).to_string();
    let run = runs::insert_run(
        tx,
        &NewRun {
            task: task.id,
            agent: &agent,
            environment: &last.environment,
            base_sha: again.head,
            branch: &again.approval.branch,
            requester: again.requester,
            feedback: again.feedback,
            cause: again.cause,
        },
        again.now,
    )
    .await?;
    let job = RunJob::new(run).new_job(RunJob::ATTEMPTS, again.now);
    queue::enqueue(tx, &job, again.now).await?;
    let spec = spec_of(&spec_row)?;
    let writes = goal_comment(tx, repo, &spec_row, &spec)
        .await?
        .into_iter()
        .collect();
    Ok(Ok(Started {
        run,
        attempt: last.attempt + 1,
        agent,
        task_id: task.task_id,
        writes,
    }))
}
