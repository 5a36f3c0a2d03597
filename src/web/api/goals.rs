//! `GET /api/v1/goals` and `GET /api/v1/goals/{id}`: every goal, and one goal's lineage (its
//! spec versions, each version's tasks, each task's runs and approval).

use super::Api;
use super::auth::Reader;
use super::error::ApiError;
use super::params::Params;
use crate::forge::ForgeKind;
use crate::lifecycle::{SpecState, State as _};
use crate::store::goals::{self, GoalFilter};
use crate::store::{approvals, runs, tasks};
use axum::Json;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, RawQuery, State};
use schemars::JsonSchema;
use serde::Serialize;

/// One page of a list, newest first.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Page<T> {
    /// The items of this page.
    pub items: Vec<T>,
    /// The `before` that fetches the next page; `null` on the last one.
    pub next: Option<i64>,
}

/// A goal in the list of goals.
#[derive(Debug, Serialize, JsonSchema)]
pub struct GoalItem {
    /// ade's id of the goal.
    pub id: i64,
    /// `github` or `gitea` (Forgejo speaks Gitea's dialect).
    pub forge: String,
    /// `owner/name`.
    pub repository: String,
    /// The issue number.
    pub number: i64,
    /// The issue title when it was last planned (sanitized).
    pub title: String,
    /// When ade first planned it, in Unix milliseconds.
    pub created_at: i64,
    /// The newest spec version, if any was stored.
    pub spec: Option<SpecBrief>,
}

/// A spec version's number and state.
#[derive(Debug, Serialize, JsonSchema)]
pub struct SpecBrief {
    /// The version number, from 1.
    pub version: i64,
    /// Where it stands: `draft`, `validated`, `rejected`, `active`, `superseded` or `archived`.
    pub state: String,
}

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
    /// Its tasks, in the order the plan lists them.
    pub tasks: Vec<Task>,
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

/// `GET /api/v1/goals?forge=&repository=&state=&limit=&before=`.
pub async fn list(
    State(api): State<Api>,
    _reader: Reader,
    RawQuery(query): RawQuery,
) -> Result<Json<Page<GoalItem>>, ApiError> {
    let params = Params::parse(
        query.as_deref(),
        &["forge", "repository", "state", "limit", "before"],
    )?;
    let (limit, before) = params.page()?;
    let filter = GoalFilter {
        forge: params.read("forge", "github or gitea", ForgeKind::parse)?,
        repository: params.read("repository", "owner/name", |v| {
            crate::forge::RepoRef::parse(v, None).map(|_| v)
        })?,
        // Compared as the forge spells it: `Acme/Widgets` is not `acme/widgets` here.
        state: params.read("state", "a spec state", SpecState::parse)?,
    };
    let mut conn = api.store.reader().await?;
    let goals = goals::page(&mut conn, &filter, before, limit + 1).await?;
    let more = goals.len() as i64 > limit;
    let items: Vec<GoalItem> = goals
        .into_iter()
        .take(limit as usize)
        .map(|summary| GoalItem {
            id: summary.goal.id,
            forge: summary.goal.forge.as_str().to_string(),
            repository: summary.goal.repository.full_name(),
            number: summary.goal.number,
            title: summary.goal.title,
            created_at: summary.created_at,
            spec: summary.newest.map(|(version, state)| SpecBrief {
                version,
                state: state.as_str().to_string(),
            }),
        })
        .collect();
    let next = more.then(|| items.last().map(|goal| goal.id)).flatten();
    Ok(Json(Page { items, next }))
}

/// `GET /api/v1/goals/{id}`.
pub async fn one(
    State(api): State<Api>,
    _reader: Reader,
    id: Result<Path<String>, PathRejection>,
    RawQuery(query): RawQuery,
) -> Result<Json<Goal>, ApiError> {
    Params::parse(query.as_deref(), &[])?;
    let id: i64 = id
        .ok()
        .filter(|Path(id)| id.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|Path(id)| id.parse().ok())
        .ok_or_else(ApiError::not_found)?;
    let mut conn = api.store.reader().await?;
    let goal = goals::goal_row(&mut conn, id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let mut specs = Vec::new();
    // The store lists versions and runs newest first; the lineage reads oldest first.
    for spec in goals::specs(&mut conn, id).await?.into_iter().rev() {
        let content: Option<crate::spec::Spec> = serde_json::from_str(&spec.content).ok();
        let mut shown = Vec::new();
        // In plan order, as the store keeps them.
        for task in tasks::tasks_of(&mut conn, spec.id).await? {
            let title = content.as_ref().and_then(|content| {
                content
                    .tasks
                    .iter()
                    .find(|t| t.id.as_str() == task.task_id)
                    .map(|t| t.title.clone())
            });
            let runs = runs::runs_of_task(&mut conn, task.id)
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
            let approval = approvals::of_task(&mut conn, task.id)
                .await?
                .map(|a| Approval {
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
            tasks: shown,
        });
    }
    Ok(Json(Goal {
        id: goal.id,
        forge: goal.forge.as_str().to_string(),
        repository: goal.repository.full_name(),
        number: goal.number,
        title: goal.title,
        body: goal.body,
        specs,
    }))
}
