//! [`advance`] moves an active spec forward: tasks whose dependencies are merged become ready,
//! and ready tasks become runs (a `run` job each) up to the policy's parallelism, while the goal's
//! budget lasts. Called when a
//! spec is approved, when an approval is merged, when a run ends and by `/ade run`.

use super::goals::nodes;
use super::run::job::RunJob;
use super::schedule;
use crate::jobs::{Job, JobError};
use crate::lifecycle::TaskState;
use crate::limits::Spent;
use crate::policy::EffectivePolicy;
use crate::spec::Spec;
use crate::store::Conn;
use crate::store::goals::SpecRow;
use crate::store::jobs as queue;
use crate::store::runs::{self as store, NewRun, RunCause};
use crate::store::tasks;

/// What [`advance`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Advanced {
    /// Tasks whose dependencies are now merged.
    pub unblocked: Vec<String>,
    /// Tasks that became runs.
    pub started: Vec<String>,
    /// Ready tasks that cannot start, and why (no agent set, agent or environment not allowed, the
    /// goal's budget spent).
    pub held: Vec<(String, String)>,
    /// The run jobs enqueued, by run id.
    pub runs: Vec<i64>,
}

/// Who and what an advance works for.
pub struct AdvanceContext<'a> {
    /// The goal's issue number (branches are `<prefix><goal>-<task>`).
    pub goal_number: i64,
    /// The policy in force.
    pub policy: &'a EffectivePolicy,
    /// Who asked (the approver, or the author of `/ade run`): the runs' co-author.
    pub requester: &'a str,
    /// The clock.
    pub now: i64,
}

/// Moves the active spec `row` forward: unblocks tasks whose dependencies are merged and starts
/// ready tasks as runs while the goal has free slots (the policy's parallelism, itself capped by
/// the server). Runs start in plan order; tasks that cannot start stay ready and say why.
pub async fn advance(
    tx: &mut Conn,
    row: &SpecRow,
    spec: &Spec,
    ctx: &AdvanceContext<'_>,
) -> Result<Advanced, JobError> {
    let rows = tasks::tasks_of(tx, row.id).await?;
    let nodes = nodes(spec, &rows);
    let candidates = schedule::schedule(&nodes, usize::MAX);
    let busy = nodes.iter().filter(|n| n.state.is_busy()).count();
    let mut free = (ctx.policy.execution.parallelism as usize).saturating_sub(busy);
    let mut done = Advanced::default();
    for id in &candidates.unblocked {
        let task_row = rows.iter().find(|r| &r.task_id == id).expect("from rows");
        if tasks::move_task(
            tx,
            task_row.id,
            TaskState::Waiting,
            TaskState::Ready,
            ctx.now,
        )
        .await?
        {
            done.unblocked.push(id.clone());
        }
    }
    let base = spec.base_commit.as_deref().ok_or_else(|| {
        JobError::Permanent(format!("spec v{} has no pinned base commit", row.version))
    })?;
    let spent = crate::store::limits::spent(tx, row.goal, None, ctx.now).await?;
    for id in &candidates.start {
        if free == 0 {
            break;
        }
        let planned = Spent {
            runs: spent.runs.saturating_add(done.runs.len() as u32),
            ..spent
        };
        if let Some(limit) = planned.before_start(&ctx.policy.budget) {
            done.held.push((
                id.clone(),
                limit.spent_sentence(&planned, &ctx.policy.budget),
            ));
            continue;
        }
        let task = spec
            .tasks
            .iter()
            .find(|t| t.id.as_str() == id)
            .ok_or_else(|| JobError::Permanent(format!("task {id} is not in the spec")))?;
        let agent = match task.agent.as_ref().or(ctx.policy.agents.default.as_ref()) {
            Some(agent) if ctx.policy.agents.allowed.permits(agent) => agent.clone(),
            Some(agent) => {
                done.held.push((
                    id.clone(),
                    format!("the agent `{agent}` is not allowed by this repository's policy"),
                ));
                continue;
            }
            None => {
                done.held.push((
                    id.clone(),
                    "no agent is set: the policy's `[agents] default` names the agent tasks use"
                        .into(),
                ));
                continue;
            }
        };
        let environment = task.environment.unwrap_or(ctx.policy.execution.environment);
        if !ctx.policy.execution.environments.contains(&environment) {
            done.held.push((
                id.clone(),
                format!(
                    "the environment `{}` is not allowed by this repository's policy",
                    environment.as_str()
                ),
            ));
            continue;
        }
        let task_row = rows.iter().find(|r| &r.task_id == id).expect("from rows");
        if !tasks::move_task(
            tx,
            task_row.id,
            TaskState::Ready,
            TaskState::Running,
            ctx.now,
        )
        .await?
        {
            continue;
        }
        let branch = format!(
            "{}{}-{}",
            ctx.policy.pull_requests.branch_prefix, ctx.goal_number, id
        );
        let run = store::insert_run(
            tx,
            &NewRun {
                task: task_row.id,
                agent: &agent,
                environment: environment.as_str(),
                base_sha: base,
                branch: &branch,
                requester: ctx.requester,
                feedback: None,
                cause: RunCause::Start,
            },
            ctx.now,
        )
        .await?;
        let job = RunJob::new(run).new_job(RunJob::ATTEMPTS, ctx.now);
        queue::enqueue(tx, &job, ctx.now).await?;
        done.started.push(id.clone());
        done.runs.push(run);
        free -= 1;
    }
    Ok(done)
}
