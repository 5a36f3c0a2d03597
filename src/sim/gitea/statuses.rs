//! Commit status routes, Gitea's stand-in for check runs: create, list, and the combined state.

use super::super::http::{ApiResult, Ctx, JsonBody};
use super::super::state::CommitStatus;
use super::json;
use crate::forge::Permission;
use axum::Json;
use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::Deserialize;
use serde_json::json;

/// The body of a request that sets a commit status.
#[derive(Deserialize)]
pub struct NewStatus {
    state: String,
    #[serde(default)]
    target_url: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    context: String,
}

const STATES: &[&str] = &[
    "pending", "success", "error", "failure", "warning", "skipped",
];

/// `POST /api/v1/repos/{owner}/{repo}/statuses/{sha}` → 201.
pub async fn create_status(
    ctx: Ctx,
    Path((owner, name, sha)): Path<(String, String, String)>,
    JsonBody(request): JsonBody<NewStatus>,
) -> ApiResult {
    if !STATES.contains(&request.state.as_str()) {
        return Err(ctx.error(
            StatusCode::BAD_REQUEST,
            format!("invalid state {}", request.state),
        ));
    }
    let repo = ctx.with(&owner, &name, Permission::Write)?;
    let login = ctx.login()?;
    let resolved = ctx
        .sim
        .git
        .resolve(&owner, &name, &sha)
        .await
        .ok()
        .flatten()
        .ok_or_else(|| ctx.not_found())?;
    let now = ctx.sim.now();
    let status = {
        let mut state = ctx.sim.state();
        let id = state.next_id();
        let r = state
            .repo_mut(&owner, &name)
            .ok_or_else(|| ctx.not_found())?;
        let status = CommitStatus {
            id,
            sha: resolved,
            context: if request.context.is_empty() {
                "default".into()
            } else {
                request.context
            },
            state: request.state,
            description: request.description,
            target_url: request.target_url,
            creator: login,
            created_at: now,
        };
        r.statuses.push(status.clone());
        status
    };
    Ok((
        StatusCode::CREATED,
        Json(json::status(&ctx.sim, &repo, &status)),
    )
        .into_response())
}

async fn statuses_for(
    ctx: &Ctx,
    owner: &str,
    name: &str,
    git_ref: &str,
) -> ApiResult<(super::super::state::Repo, String, Vec<CommitStatus>)> {
    let repo = ctx.readable(owner, name)?;
    let sha = ctx
        .sim
        .git
        .resolve(owner, name, git_ref)
        .await
        .ok()
        .flatten()
        .ok_or_else(|| ctx.not_found())?;
    let list = repo
        .statuses
        .iter()
        .rev()
        .filter(|s| s.sha == sha)
        .cloned()
        .collect();
    Ok((repo, sha, list))
}

/// `GET .../statuses/{sha}` and `GET .../commits/{ref}/statuses`: newest first, paged.
pub async fn list_statuses(
    ctx: Ctx,
    Path((owner, name, git_ref)): Path<(String, String, String)>,
) -> ApiResult {
    let (repo, _, list) = statuses_for(&ctx, &owner, &name, &git_ref).await?;
    let items = list
        .iter()
        .map(|s| json::status(&ctx.sim, &repo, s))
        .collect();
    Ok(ctx.paged(50, items))
}

/// `GET .../commits/{ref}/status`: the latest status per context and the worst state of them.
pub async fn combined_status(
    ctx: Ctx,
    Path((owner, name, git_ref)): Path<(String, String, String)>,
) -> ApiResult {
    let (repo, sha, list) = statuses_for(&ctx, &owner, &name, &git_ref).await?;
    let mut latest: Vec<&CommitStatus> = Vec::new();
    for status in &list {
        if !latest.iter().any(|s| s.context == status.context) {
            latest.push(status);
        }
    }
    let rank = |state: &str| match state {
        "error" => 5,
        "failure" => 4,
        "pending" => 3,
        "warning" => 2,
        "success" => 1,
        _ => 0,
    };
    let state = latest
        .iter()
        .map(|s| s.state.as_str())
        .max_by_key(|s| rank(s))
        .unwrap_or("pending");
    let viewer = ctx.sim.access(&ctx.caller, &repo);
    let base = &ctx.sim.base_url;
    Ok(Json(json!({
        "state": state,
        "sha": sha,
        "total_count": latest.len(),
        "statuses": latest.iter().map(|s| json::status(&ctx.sim, &repo, s)).collect::<Vec<_>>(),
        "repository": json::repository(&ctx.sim, &repo, viewer),
        "commit_url": format!("{base}/api/v1/repos/{}/commits/{sha}", repo.full_name()),
        "url": format!("{base}/api/v1/repos/{}/commits/{sha}/status", repo.full_name()),
    }))
    .into_response())
}
