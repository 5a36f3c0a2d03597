//! Runs from the coordinator's side: the life of a run, and [`advance`], which moves an active
//! spec forward — tasks whose dependencies are merged become ready, and ready tasks become runs
//! (a `run` job each) up to the policy's parallelism. Called when a spec is approved, when an
//! approval is merged, and when a run ends.

use serde::{Deserialize, Serialize};
use std::fmt;

use super::commands::plan::{GoalComment, TaskProgress, parse_state};
use super::tasks::{self, TaskNode, TaskState};
use crate::forge::RepoRef;
use crate::forge::writes::ForgeWrite;
use crate::jobs::JobError;
use crate::policy::EffectivePolicy;
use crate::spec::Spec;
use crate::store::Conn;
use crate::store::goals::SpecRow;
use crate::store::jobs::{self as queue, NewJob};
use crate::store::runs::{self as store, NewRun, TaskRow};

/// The job kind that carries out one run.
pub const RUN_JOB: &str = "run";

/// The payload of a run job.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RunJob {
    /// The run's id.
    pub run: i64,
}

/// Where a run stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunState {
    /// Stored; its job waits for a runner.
    Queued,
    /// A runner is carrying it out.
    Running,
    /// It pushed its branch and its approval is open.
    Succeeded,
    /// It ended without an approval (agent failure, no changes, blocked, runner lost for good).
    Failed,
    /// Stopped by `/ade cancel` (or its approval closed).
    Cancelled,
}

impl RunState {
    /// Every state.
    pub const ALL: [RunState; 5] = [
        RunState::Queued,
        RunState::Running,
        RunState::Succeeded,
        RunState::Failed,
        RunState::Cancelled,
    ];

    /// Whether a run in this state may move to `to`. `Running → Running` is a new runner taking
    /// over a run whose runner's lease expired.
    pub fn can_become(self, to: RunState) -> bool {
        use RunState::*;
        matches!(
            (self, to),
            (Queued, Running | Cancelled | Failed)
                | (Running, Running | Succeeded | Failed | Cancelled)
        )
    }

    /// Whether the run has ended.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            RunState::Succeeded | RunState::Failed | RunState::Cancelled
        )
    }

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            RunState::Queued => "queued",
            RunState::Running => "running",
            RunState::Succeeded => "succeeded",
            RunState::Failed => "failed",
            RunState::Cancelled => "cancelled",
        }
    }

    /// Reads a stored name.
    pub fn parse(name: &str) -> Option<RunState> {
        RunState::ALL.into_iter().find(|s| s.as_str() == name)
    }
}

impl fmt::Display for RunState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Reads a stored task state.
pub fn task_state(row: &TaskRow) -> Result<TaskState, JobError> {
    TaskState::parse(&row.state).ok_or_else(|| {
        JobError::Permanent(format!(
            "task {} has an unknown stored state {:?}",
            row.task_id, row.state
        ))
    })
}

/// Reads a stored spec's content.
pub fn spec_of(row: &SpecRow) -> Result<Spec, JobError> {
    serde_json::from_str(&row.content).map_err(|e| {
        JobError::Permanent(format!("stored spec v{} is unreadable: {e}", row.version))
    })
}

/// What [`advance`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Advanced {
    /// Tasks whose dependencies are now merged.
    pub unblocked: Vec<String>,
    /// Tasks that became runs.
    pub started: Vec<String>,
    /// Ready tasks that cannot start, and why (no agent set, agent or environment not allowed).
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
    let rows = store::tasks_of(tx, row.id).await?;
    let mut nodes = Vec::with_capacity(rows.len());
    for task_row in &rows {
        let depends_on = spec
            .tasks
            .iter()
            .find(|t| t.id.as_str() == task_row.task_id)
            .map(|t| t.depends_on.iter().map(ToString::to_string).collect())
            .unwrap_or_default();
        nodes.push(TaskNode {
            id: task_row.task_id.clone(),
            state: task_state(task_row)?,
            depends_on,
        });
    }
    let candidates = tasks::schedule(&nodes, usize::MAX);
    let busy = nodes.iter().filter(|n| n.state.is_busy()).count();
    let mut free = (ctx.policy.execution.parallelism as usize).saturating_sub(busy);
    let mut done = Advanced::default();
    for id in &candidates.unblocked {
        let task_row = rows.iter().find(|r| &r.task_id == id).expect("from rows");
        if store::move_task(
            tx,
            task_row.id,
            TaskState::Waiting.as_str(),
            TaskState::Ready.as_str(),
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
    for id in &candidates.start {
        if free == 0 {
            break;
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
        if !store::move_task(
            tx,
            task_row.id,
            TaskState::Ready.as_str(),
            TaskState::Running.as_str(),
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
            },
            ctx.now,
        )
        .await?;
        queue::enqueue(tx, &run_job(run, ctx.now), ctx.now).await?;
        done.started.push(id.clone());
        done.runs.push(run);
        free -= 1;
    }
    Ok(done)
}

/// Attempts a run job gets: a run whose runner died (its lease expired) is taken over by another
/// runner this many times minus one, then failed visibly.
pub const RUN_JOB_ATTEMPTS: i64 = 3;

/// The job that carries out run `run`. Runs have no ordering key: independent runs go in parallel,
/// as many at once as there are runner workers.
pub fn run_job(run: i64, now: i64) -> NewJob {
    NewJob {
        kind: RUN_JOB.into(),
        idempotency_key: format!("run:{run}"),
        ordering_key: None,
        payload: serde_json::to_string(&RunJob { run }).expect("serializes"),
        max_attempts: RUN_JOB_ATTEMPTS,
        run_at: now,
    }
}

/// Each task's progress, for the plan comment.
pub async fn progress(tx: &mut Conn, spec: i64) -> Result<Vec<TaskProgress>, JobError> {
    Ok(store::tasks_of(tx, spec)
        .await?
        .into_iter()
        .map(|t| TaskProgress {
            id: t.task_id,
            state: t.state,
            pull_number: t.pull_number,
        })
        .collect())
}

/// The goal's plan comment as it stands now, for writes made outside a command (a run moved, an
/// approval was merged).
pub async fn goal_comment(
    tx: &mut Conn,
    repo: &RepoRef,
    row: &SpecRow,
    spec: &Spec,
) -> Result<ForgeWrite, JobError> {
    let goal = store::goal_of_spec(tx, row.id)
        .await?
        .ok_or_else(|| JobError::Permanent(format!("spec {} has no goal", row.id)))?;
    let progress = progress(tx, row.id).await?;
    let comment = GoalComment {
        repo,
        number: goal.number,
        title: &goal.title,
    };
    Ok(comment.plan(spec, parse_state(&row.state)?, row, &[], &progress))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_moves_are_decided_and_final_states_are_final() {
        use RunState::*;
        let allowed: Vec<(RunState, RunState)> = RunState::ALL
            .into_iter()
            .flat_map(|a| RunState::ALL.into_iter().map(move |b| (a, b)))
            .filter(|(a, b)| a.can_become(*b))
            .collect();
        assert_eq!(
            allowed,
            [
                (Queued, Running),
                (Queued, Failed),
                (Queued, Cancelled),
                (Running, Running),
                (Running, Succeeded),
                (Running, Failed),
                (Running, Cancelled),
            ]
        );
        for state in RunState::ALL {
            assert_eq!(RunState::parse(state.as_str()), Some(state));
            if state.is_final() {
                assert!(RunState::ALL.into_iter().all(|to| !state.can_become(to)));
            }
        }
    }
}
