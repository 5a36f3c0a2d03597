//! A goal's lineage as the API and the pages show it: its spec versions oldest first, each
//! version's tasks in plan order, each task's runs first attempt first and its approval. One read
//! model, so that `/api/v1/goals/{id}` and the goal's page never disagree.

use crate::lifecycle::State as _;
use crate::store::goals;
use crate::store::{Conn, StoreError, approvals, runs, tasks};
use schemars::JsonSchema;
use serde::Serialize;

/// A goal with its whole lineage.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Goal {
    /// ade's id of the goal.
    pub id: i64,
    /// `github` or `gitea`.
    pub forge: String,
    /// `owner/name`.
    pub repository: String,
    /// The issue number.
    pub number: i64,
    /// The issue title when it was last planned (sanitized).
    pub title: String,
    /// The issue text when it was last planned (sanitized).
    pub body: String,
    /// Every spec version, oldest first.
    pub specs: Vec<Spec>,
}

/// One version of a goal's spec.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Spec {
    /// ade's id of the version.
    pub id: i64,
    /// The version number, from 1.
    pub version: i64,
    /// Where it stands.
    pub state: String,
    /// SHA-256 of its canonical content: the hash `/ade approve` takes a prefix of.
    pub content_hash: String,
    /// Who asked for it.
    pub author: String,
    /// Which planner made it.
    pub planner: String,
    /// When it was stored, in Unix milliseconds.
    pub created_at: i64,
    /// When its state last moved.
    pub changed_at: i64,
    /// What the plan asks for, in its order: every version has it, approved or not.
    pub planned: Vec<PlannedTask>,
    /// Its tasks once the version was approved, in the order the plan lists them.
    pub tasks: Vec<Task>,
}

/// A task as the spec version plans it.
#[derive(Debug, Serialize, JsonSchema)]
pub struct PlannedTask {
    /// The task's id in the spec (`t1`).
    pub task_id: String,
    /// Its title.
    pub title: String,
    /// What the agent is told to do.
    pub instructions: String,
    /// What must hold when it is done.
    pub acceptance: Vec<String>,
    /// The tasks it waits for.
    pub depends_on: Vec<String>,
}

/// A task of a spec version.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Task {
    /// ade's id of the task.
    pub id: i64,
    /// The task's id in the spec (`t1`).
    pub task_id: String,
    /// Its title in the spec.
    pub title: Option<String>,
    /// Where it stands.
    pub state: String,
    /// When its state last moved.
    pub changed_at: i64,
    /// Its runs, first attempt first.
    pub runs: Vec<Run>,
    /// The pull request its runs push to, once opened.
    pub approval: Option<Approval>,
}

/// One run of a task's agent.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Run {
    /// ade's id of the run (the `Ade-Run:` trailer).
    pub id: i64,
    /// 1 for the task's first run.
    pub attempt: i64,
    /// Where it stands.
    pub state: String,
    /// `start`, `retry` or `review`.
    pub cause: String,
    /// The agent that ran.
    pub agent: String,
    /// The environment it ran in.
    pub environment: String,
    /// The commit it started from.
    pub base_sha: String,
    /// The commit it pushed.
    pub head_sha: Option<String>,
    /// The branch it pushes.
    pub branch: String,
    /// Who asked for it.
    pub requester: String,
    /// Why it failed or was cancelled.
    pub reason: Option<String>,
    /// When it was queued, in Unix milliseconds.
    pub created_at: i64,
    /// When a runner started it.
    pub started_at: Option<i64>,
    /// When it ended.
    pub finished_at: Option<i64>,
}

/// A task's approval: the pull request a human reviews.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Approval {
    /// ade's id of the approval.
    pub id: i64,
    /// The pull request number.
    pub number: i64,
    /// Where it stands.
    pub state: String,
    /// The head ade last knew.
    pub head_sha: String,
    /// The newest head whose verification passed.
    pub verified_sha: Option<String>,
    /// Whether ade made it a draft.
    pub draft: bool,
    /// Why it was rejected or closed.
    pub reason: Option<String>,
    /// When ade recorded it, in Unix milliseconds.
    pub opened_at: i64,
    /// When its state last moved.
    pub changed_at: i64,
}

/// Goal `id` with its whole lineage; `None` when there is no such goal.
pub async fn read(conn: &mut Conn, id: i64) -> Result<Option<Goal>, StoreError> {
    let Some(goal) = goals::goal_row(conn, id).await? else {
        return Ok(None);
    };
    let mut specs = Vec::new();
    // The store lists versions and runs newest first; the lineage reads oldest first.
    for spec in goals::specs(conn, id).await?.into_iter().rev() {
        let content: Option<crate::spec::Spec> = serde_json::from_str(&spec.content).ok();
        let mut shown = Vec::new();
        // In plan order, as the store keeps them.
        for task in tasks::tasks_of(conn, spec.id).await? {
            let title = content.as_ref().and_then(|content| {
                content
                    .tasks
                    .iter()
                    .find(|t| t.id.as_str() == task.task_id)
                    .map(|t| t.title.clone())
            });
            let runs = runs::runs_of_task(conn, task.id)
                .await?
                .into_iter()
                .rev()
                .map(|run| Run {
                    id: run.id,
                    attempt: run.attempt,
                    state: run.state.as_str().to_string(),
                    cause: run.cause.as_str().to_string(),
                    agent: run.agent,
                    environment: run.environment,
                    base_sha: run.base_sha,
                    head_sha: run.head_sha,
                    branch: run.branch,
                    requester: run.requester,
                    reason: run.reason,
                    created_at: run.created_at,
                    started_at: run.started_at,
                    finished_at: run.finished_at,
                })
                .collect();
            let approval = approvals::of_task(conn, task.id).await?.map(|a| Approval {
                id: a.id,
                number: a.number,
                state: a.state.as_str().to_string(),
                head_sha: a.head_sha,
                verified_sha: a.verified_sha,
                draft: a.draft,
                reason: a.reason,
                opened_at: a.opened_at,
                changed_at: a.changed_at,
            });
            shown.push(Task {
                id: task.id,
                task_id: task.task_id,
                title,
                state: task.state.as_str().to_string(),
                changed_at: task.changed_at,
                runs,
                approval,
            });
        }
        specs.push(Spec {
            id: spec.id,
            version: spec.version,
            state: spec.state.as_str().to_string(),
            content_hash: spec.content_hash,
            author: spec.author,
            planner: spec.planner,
            created_at: spec.created_at,
            changed_at: spec.changed_at,
            planned: content
                .map(|content| {
                    content
                        .tasks
                        .into_iter()
                        .map(|task| PlannedTask {
                            task_id: task.id.as_str().to_owned(),
                            title: task.title,
                            instructions: task.instructions,
                            acceptance: task.acceptance,
                            depends_on: task
                                .depends_on
                                .iter()
                                .map(|id| id.as_str().to_owned())
                                .collect(),
                        })
                        .collect()
                })
                .unwrap_or_default(),
            tasks: shown,
        });
    }
    Ok(Some(Goal {
        id: goal.id,
        forge: goal.forge.as_str().to_string(),
        repository: goal.repository.full_name(),
        number: goal.number,
        title: goal.title,
        body: goal.body,
        specs,
    }))
}
