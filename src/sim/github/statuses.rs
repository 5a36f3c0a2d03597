//! Commit status routes, read as GitHub serves them: the statuses of a commit, newest first, and
//! the combined status (the newest of each context, and the state they add up to). A CI a test
//! plays sets them (`actions::post_status`); ade only reads them, as external checks.

use super::super::http::{ApiResult, Ctx};
use super::super::state::{CommitStatus, Repo};
use super::json;
use axum::Json;
use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde_json::json;

async fn statuses_for(
    ctx: &Ctx,
    owner: &str,
    name: &str,
    git_ref: &str,
) -> ApiResult<(Repo, String, Vec<CommitStatus>)> {
    let repo = ctx.readable(owner, name)?;
    let sha = ctx
        .sim
        .git
        .resolve(owner, name, git_ref)
        .await
        .ok()
        .flatten()
        .ok_or_else(|| ctx.error(StatusCode::UNPROCESSABLE_ENTITY, "No commit found for SHA"))?;
    let list = repo
        .statuses
        .iter()
        .rev()
        .filter(|s| s.sha == sha)
        .cloned()
        .collect();
    Ok((repo, sha, list))
}

/// `GET /repos/{owner}/{repo}/commits/{ref}/statuses`: newest first, paged.
pub async fn list_statuses(
    ctx: Ctx,
    Path((owner, name, git_ref)): Path<(String, String, String)>,
) -> ApiResult {
    let (repo, _, list) = statuses_for(&ctx, &owner, &name, &git_ref).await?;
    let items = list
        .iter()
        .map(|s| json::commit_status(&ctx.sim, &repo, s))
        .collect();
    Ok(ctx.paged(30, items))
}

/// `GET /repos/{owner}/{repo}/commits/{ref}/status`: the newest status of each context and the
/// state they add up to (`failure` if one is `error` or `failure`, `pending` if one is pending or
/// there are none, else `success`).
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
    let state = if latest
        .iter()
        .any(|s| matches!(s.state.as_str(), "error" | "failure"))
    {
        "failure"
    } else if latest.is_empty() || latest.iter().any(|s| s.state == "pending") {
        "pending"
    } else {
        "success"
    };
    let viewer = ctx.sim.access(&ctx.caller, &repo);
    let base = &ctx.sim.base_url;
    let full = repo.full_name();
    let statuses: Vec<_> = latest
        .iter()
        .map(|s| {
            let mut simple = json::commit_status(&ctx.sim, &repo, s);
            if let Some(map) = simple.as_object_mut() {
                map.remove("creator");
                map.insert("required".into(), json!(false));
            }
            simple
        })
        .collect();
    // A `minimal-repository`: what the REST `repository` has beyond it is left out.
    let mut repository = json::nested_repository(&ctx.sim, &repo, Some(viewer));
    if let Some(fields) = repository.as_object_mut() {
        for extra in [
            "allow_auto_merge",
            "allow_merge_commit",
            "allow_rebase_merge",
            "allow_squash_merge",
        ] {
            fields.remove(extra);
        }
    }
    Ok(Json(json!({
        "state": state,
        "statuses": statuses,
        "sha": sha,
        "total_count": latest.len(),
        "repository": repository,
        "commit_url": format!("{base}/repos/{full}/commits/{sha}"),
        "url": format!("{base}/repos/{full}/commits/{sha}/status"),
    }))
    .into_response())
}
