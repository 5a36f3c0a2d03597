//! The `/_sim/` control endpoints: the same user actions as the test handle, as JSON requests,
//! so an operator (or a black-box test) can drive a separately running ade; plus views of the
//! state, the call record and the deliveries, fault injection and redelivery.
//!
//! `repo` may be left out of any request: it then means the first repository (the demo one).

use super::actions::{self, ActionError};
use super::core::Sim;
use super::faults::{Fault, FaultRule, HookFault};
use super::git::MergeStyle;
use crate::forge::ReviewState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// The control routes, nested under `/_sim`.
pub fn router() -> Router<Arc<Sim>> {
    Router::new()
        .route("/state", get(state))
        .route("/calls", get(calls))
        .route("/deliveries", get(deliveries))
        .route("/deliveries/{id}/redeliver", post(redeliver))
        .route("/issues", post(open_issue))
        .route("/issues/{number}/close", post(close))
        .route("/comments", post(comment))
        .route("/comments/{id}", axum::routing::patch(edit_comment))
        .route("/push", post(push))
        .route("/pulls", post(open_pull))
        .route("/pulls/{number}/merge", post(merge))
        .route("/reviews", post(review))
        .route("/check-runs/{id}/rerequest", post(rerequest))
        .route("/check-runs", post(post_check_run))
        .route("/statuses", post(post_status))
        .route("/faults", post(add_fault).delete(clear_faults))
        .route("/webhook", axum::routing::put(set_webhook))
}

struct ControlError(StatusCode, String);

impl IntoResponse for ControlError {
    fn into_response(self) -> Response {
        (self.0, Json(json!({ "error": self.1 }))).into_response()
    }
}

impl From<ActionError> for ControlError {
    fn from(err: ActionError) -> Self {
        let status = err.status();
        ControlError(status, err.to_string())
    }
}

type ControlResult = Result<Response, ControlError>;

fn repo_or_first(sim: &Sim, repo: Option<String>) -> Result<String, ControlError> {
    repo.or_else(|| sim.state().repos.keys().next().cloned())
        .ok_or_else(|| ControlError(StatusCode::NOT_FOUND, "no repository".into()))
}

async fn state(State(sim): State<Arc<Sim>>) -> Response {
    Json(serde_json::to_value(&*sim.state()).unwrap_or_default()).into_response()
}

async fn calls(State(sim): State<Arc<Sim>>) -> Response {
    Json(sim.calls.all()).into_response()
}

async fn deliveries(State(sim): State<Arc<Sim>>) -> Response {
    Json(sim.hooks.records()).into_response()
}

async fn redeliver(State(sim): State<Arc<Sim>>, Path(id): Path<String>) -> ControlResult {
    let outcome = sim
        .hooks
        .redeliver(&id, sim.now())
        .await
        .ok_or_else(|| ControlError(StatusCode::NOT_FOUND, format!("no delivery {id}")))?;
    Ok(Json(outcome).into_response())
}

#[derive(Deserialize)]
struct NewIssue {
    repo: Option<String>,
    author: String,
    title: String,
    #[serde(default)]
    body: String,
    #[serde(default)]
    labels: Vec<String>,
}

async fn open_issue(State(sim): State<Arc<Sim>>, Json(req): Json<NewIssue>) -> ControlResult {
    let repo = repo_or_first(&sim, req.repo)?;
    let number =
        actions::open_issue(&sim, &repo, &req.author, &req.title, &req.body, &req.labels).await?;
    Ok((StatusCode::CREATED, Json(json!({ "number": number }))).into_response())
}

#[derive(Deserialize)]
struct Actor {
    repo: Option<String>,
    author: String,
}

async fn close(
    State(sim): State<Arc<Sim>>,
    Path(number): Path<i64>,
    Json(req): Json<Actor>,
) -> ControlResult {
    let repo = repo_or_first(&sim, req.repo)?;
    actions::set_open(&sim, &repo, number, &req.author, false).await?;
    Ok(Json(json!({ "number": number, "state": "closed" })).into_response())
}

#[derive(Deserialize)]
struct NewComment {
    repo: Option<String>,
    number: i64,
    author: String,
    body: String,
}

async fn comment(State(sim): State<Arc<Sim>>, Json(req): Json<NewComment>) -> ControlResult {
    let repo = repo_or_first(&sim, req.repo)?;
    let comment = actions::comment(&sim, &repo, req.number, &req.author, &req.body).await?;
    Ok((StatusCode::CREATED, Json(json!({ "id": comment.id }))).into_response())
}

#[derive(Deserialize)]
struct CommentEdit {
    repo: Option<String>,
    author: String,
    body: String,
}

async fn edit_comment(
    State(sim): State<Arc<Sim>>,
    Path(id): Path<i64>,
    Json(req): Json<CommentEdit>,
) -> ControlResult {
    let repo = repo_or_first(&sim, req.repo)?;
    actions::edit_comment(&sim, &repo, id, &req.author, &req.body).await?;
    Ok(Json(json!({ "id": id })).into_response())
}

#[derive(Deserialize)]
struct Push {
    repo: Option<String>,
    author: String,
    branch: String,
    /// Path → new content, or `null` to delete.
    files: BTreeMap<String, Option<String>>,
    #[serde(default = "default_message")]
    message: String,
    /// Where a new branch starts (default branch if absent).
    from: Option<String>,
}

fn default_message() -> String {
    "Change files".into()
}

fn file_list(files: BTreeMap<String, Option<String>>) -> Vec<(String, Option<Vec<u8>>)> {
    files
        .into_iter()
        .map(|(p, c)| (p, c.map(String::into_bytes)))
        .collect()
}

async fn push(State(sim): State<Arc<Sim>>, Json(req): Json<Push>) -> ControlResult {
    let repo = repo_or_first(&sim, req.repo)?;
    let sha = actions::push_files(
        &sim,
        &repo,
        &req.author,
        &req.branch,
        &file_list(req.files),
        &req.message,
        req.from.as_deref(),
    )
    .await?;
    Ok(Json(json!({ "sha": sha })).into_response())
}

#[derive(Deserialize)]
struct NewPull {
    repo: Option<String>,
    author: String,
    title: String,
    #[serde(default)]
    body: String,
    head: String,
    base: Option<String>,
    #[serde(default)]
    draft: bool,
    /// Files to commit on `head` first (the branch is made if new).
    #[serde(default)]
    files: BTreeMap<String, Option<String>>,
}

async fn open_pull(State(sim): State<Arc<Sim>>, Json(req): Json<NewPull>) -> ControlResult {
    let repo = repo_or_first(&sim, req.repo)?;
    let (owner, name) = repo.split_once('/').unwrap_or_default();
    let base = match req.base {
        Some(base) => base,
        None => sim
            .repo(owner, name)
            .map(|r| r.default_branch)
            .ok_or_else(|| ControlError(StatusCode::NOT_FOUND, format!("no repository {repo}")))?,
    };
    if !req.files.is_empty() {
        actions::push_files(
            &sim,
            &repo,
            &req.author,
            &req.head,
            &file_list(req.files),
            &req.title,
            Some(&base),
        )
        .await?;
    }
    let number = actions::open_pull(
        &sim,
        &repo,
        &req.author,
        actions::PullSpec {
            title: &req.title,
            body: &req.body,
            head: &req.head,
            base: &base,
            draft: req.draft,
        },
    )
    .await?;
    Ok((StatusCode::CREATED, Json(json!({ "number": number }))).into_response())
}

#[derive(Deserialize)]
struct Merge {
    repo: Option<String>,
    author: String,
    #[serde(default)]
    method: Option<String>,
    sha: Option<String>,
}

async fn merge(
    State(sim): State<Arc<Sim>>,
    Path(number): Path<i64>,
    Json(req): Json<Merge>,
) -> ControlResult {
    let repo = repo_or_first(&sim, req.repo)?;
    let style = match req.method.as_deref().unwrap_or("merge") {
        "squash" => MergeStyle::Squash,
        "rebase" => MergeStyle::Rebase,
        _ => MergeStyle::Merge,
    };
    let sha = actions::merge(
        &sim,
        &repo,
        number,
        &req.author,
        style,
        req.sha.as_deref(),
        None,
    )
    .await?;
    Ok(Json(json!({ "sha": sha, "merged": true })).into_response())
}

#[derive(Deserialize)]
struct NewReview {
    repo: Option<String>,
    number: i64,
    author: String,
    /// `approved`, `changes_requested` or `commented`.
    state: ReviewState,
    #[serde(default)]
    body: String,
    /// Line comments, each on a line the pull request's diff shows.
    #[serde(default)]
    comments: Vec<NewLineComment>,
}

#[derive(Deserialize)]
struct NewLineComment {
    path: String,
    line: u32,
    body: String,
}

async fn review(State(sim): State<Arc<Sim>>, Json(req): Json<NewReview>) -> ControlResult {
    let repo = repo_or_first(&sim, req.repo)?;
    let comments: Vec<actions::LineComment<'_>> = req
        .comments
        .iter()
        .map(|c| (c.path.as_str(), c.line, c.body.as_str()))
        .collect();
    let id = actions::review_with_comments(
        &sim,
        &repo,
        req.number,
        &req.author,
        (req.state, &req.body),
        &comments,
    )
    .await?;
    Ok((StatusCode::CREATED, Json(json!({ "id": id }))).into_response())
}

async fn rerequest(
    State(sim): State<Arc<Sim>>,
    Path(id): Path<i64>,
    Json(req): Json<Actor>,
) -> ControlResult {
    let repo = repo_or_first(&sim, req.repo)?;
    actions::rerequest_check(&sim, &repo, id, &req.author).await?;
    Ok(Json(json!({ "id": id })).into_response())
}

/// A CI's check run: `{"app": "ci", "name": "ci/test", "head_sha": "…", "status": "completed",
/// "conclusion": "failure", "title", "summary", "text", "details_url",
/// "annotations": [{"path", "line", "message"}]}`.
#[derive(Deserialize)]
struct CheckRunRequest {
    repo: Option<String>,
    app: String,
    name: String,
    head_sha: String,
    status: String,
    conclusion: Option<String>,
    title: Option<String>,
    summary: Option<String>,
    text: Option<String>,
    details_url: Option<String>,
    #[serde(default)]
    annotations: Vec<AnnotationRequest>,
}

#[derive(Deserialize)]
struct AnnotationRequest {
    path: String,
    line: u32,
    message: String,
}

async fn post_check_run(
    State(sim): State<Arc<Sim>>,
    Json(req): Json<CheckRunRequest>,
) -> ControlResult {
    let repo = repo_or_first(&sim, req.repo)?;
    let run = actions::NewCheckRun {
        app: req.app,
        name: req.name,
        head_sha: req.head_sha,
        status: req.status,
        conclusion: req.conclusion,
        title: req.title,
        summary: req.summary,
        text: req.text,
        annotations: req
            .annotations
            .into_iter()
            .map(|a| (a.path, a.line, a.message))
            .collect(),
        details_url: req.details_url,
    };
    let id = actions::post_check_run(&sim, &repo, run).await?;
    Ok((StatusCode::CREATED, Json(json!({ "id": id }))).into_response())
}

/// A CI's commit status: `{"author": "ci-bot", "context": "ci/test", "sha": "…",
/// "state": "failure", "description", "target_url"}`.
#[derive(Deserialize)]
struct StatusRequest {
    repo: Option<String>,
    author: String,
    context: String,
    sha: String,
    state: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    target_url: String,
}

async fn post_status(State(sim): State<Arc<Sim>>, Json(req): Json<StatusRequest>) -> ControlResult {
    let repo = repo_or_first(&sim, req.repo)?;
    let status = actions::NewStatus {
        context: req.context,
        sha: req.sha,
        state: req.state,
        description: req.description,
        target_url: req.target_url,
        creator: req.author,
    };
    let id = actions::post_status(&sim, &repo, status).await?;
    Ok((StatusCode::CREATED, Json(json!({ "id": id }))).into_response())
}

/// A fault as JSON: `{"method": "POST", "path": "/repos/**", "times": 2, "status": 502}`, or
/// `"rate_limit_reset_secs"`, `"secondary_rate_limit": {"status": 429, "retry_after_secs": 1}`,
/// `"delay_ms"`, `"timeout_ms"`, `"answer_lost": {"status": 502, "hold_ms": 0}` (carried out, the
/// answer lost); or for webhooks `{"webhooks": "drop"|"delay", "count", "delay_ms"}`.
#[derive(Deserialize)]
struct FaultRequest {
    method: Option<String>,
    path: Option<String>,
    times: Option<u32>,
    status: Option<u16>,
    rate_limit_reset_secs: Option<u64>,
    secondary_rate_limit: Option<Secondary>,
    delay_ms: Option<u64>,
    timeout_ms: Option<u64>,
    rewrite: Option<Rewrite>,
    answer_lost: Option<Lost>,
    webhooks: Option<String>,
    count: Option<usize>,
}

#[derive(Deserialize)]
struct Rewrite {
    pointer: String,
    value: serde_json::Value,
}

#[derive(Deserialize)]
struct Lost {
    status: u16,
    hold_ms: Option<u64>,
}

#[derive(Deserialize)]
struct Secondary {
    status: u16,
    retry_after_secs: u64,
}

async fn add_fault(State(sim): State<Arc<Sim>>, Json(req): Json<FaultRequest>) -> ControlResult {
    if let Some(kind) = req.webhooks.as_deref() {
        let count = req.count.unwrap_or(1);
        let fault = match kind {
            "drop" => HookFault::Drop,
            "delay" => HookFault::Delay(Duration::from_millis(req.delay_ms.unwrap_or(1000))),
            other => {
                return Err(ControlError(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    format!("webhooks fault `{other}` is not drop or delay"),
                ));
            }
        };
        sim.faults.add_hooks(count, fault);
        return Ok(Json(json!({ "webhooks": kind, "count": count })).into_response());
    }
    let fault = if let Some(status) = req.status {
        Fault::Status(status)
    } else if let Some(secs) = req.rate_limit_reset_secs {
        Fault::RateLimit {
            reset_after: Duration::from_secs(secs),
        }
    } else if let Some(secondary) = req.secondary_rate_limit {
        Fault::SecondaryRateLimit {
            status: secondary.status,
            retry_after: Duration::from_secs(secondary.retry_after_secs),
        }
    } else if let Some(ms) = req.delay_ms {
        Fault::Delay(Duration::from_millis(ms))
    } else if let Some(ms) = req.timeout_ms {
        Fault::Timeout(Duration::from_millis(ms))
    } else if let Some(rewrite) = req.rewrite {
        Fault::Rewrite {
            pointer: rewrite.pointer,
            value: rewrite.value.to_string(),
        }
    } else if let Some(lost) = req.answer_lost {
        Fault::AnswerLost {
            status: lost.status,
            hold: Duration::from_millis(lost.hold_ms.unwrap_or(0)),
        }
    } else {
        return Err(ControlError(
            StatusCode::UNPROCESSABLE_ENTITY,
            "name a fault: status, rate_limit_reset_secs, secondary_rate_limit, delay_ms, timeout_ms, answer_lost or rewrite".into(),
        ));
    };
    let description = fault.describe();
    let rule = FaultRule::new(
        req.method.as_deref().unwrap_or("*"),
        req.path.as_deref().unwrap_or("**"),
        fault,
    )
    .times(req.times.unwrap_or(1));
    sim.faults.add(rule);
    Ok(Json(json!({ "fault": description })).into_response())
}

async fn clear_faults(State(sim): State<Arc<Sim>>) -> Response {
    sim.faults.clear();
    StatusCode::NO_CONTENT.into_response()
}

#[derive(Deserialize)]
struct Webhook {
    url: Option<String>,
    secret: Option<String>,
}

async fn set_webhook(State(sim): State<Arc<Sim>>, Json(req): Json<Webhook>) -> Response {
    sim.hooks.set_url(req.url.clone());
    if let Some(secret) = req.secret {
        sim.hooks.set_secret(secret);
    }
    Json(json!({ "url": req.url })).into_response()
}
