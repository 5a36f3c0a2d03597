//! Reading a run and everything it belongs to, and the policy it runs under.

use crate::coordinator::goals::spec_of;
use crate::forge::{ForgeKind, RepoRef};
use crate::jobs::JobError;
use crate::spec::Spec;
use crate::store::goals::{self, GoalRow, SpecRow};
use crate::store::runs::{self, RunRow};
use crate::store::tasks::{self, TaskRow};
use crate::store::{
    Conn,
    approvals::{self, ApprovalRow},
};

/// Everything stored about a run, read together.
pub(crate) struct StoredRun {
    /// The run.
    pub run: RunRow,
    /// Its task.
    pub task: TaskRow,
    /// The task's approval, if one was opened.
    pub approval: Option<ApprovalRow>,
    /// The spec version row.
    pub spec_row: SpecRow,
    /// The spec.
    pub spec: Spec,
    /// The goal.
    pub goal: GoalRow,
    /// The forge.
    pub forge: ForgeKind,
    /// The repository.
    pub repo: RepoRef,
}

/// Reads run `run_id` and what it belongs to; a part that is missing fails the job for good.
pub(crate) async fn load(conn: &mut Conn, run_id: i64) -> Result<StoredRun, JobError> {
    let missing =
        |what: &str| JobError::Permanent(format!("run {run_id}: its {what} is not stored"));
    let run = runs::run(conn, run_id)
        .await?
        .ok_or_else(|| missing("row"))?;
    let task = tasks::task(conn, run.task)
        .await?
        .ok_or_else(|| missing("task"))?;
    let approval = approvals::of_task(conn, task.id).await?;
    let spec_row = goals::spec(conn, task.spec)
        .await?
        .ok_or_else(|| missing("spec"))?;
    let goal = goals::goal_of_spec(conn, task.spec)
        .await?
        .ok_or_else(|| missing("goal"))?;
    let spec = spec_of(&spec_row)?;
    let forge = goal.forge;
    let repo = goal.repository.clone();
    Ok(StoredRun {
        run,
        task,
        approval,
        spec_row,
        spec,
        goal,
        forge,
        repo,
    })
}
