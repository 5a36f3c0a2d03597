//! Pull request routes: open, read, list, change, reviews, and merge under branch protection.

use super::super::actions;
use super::super::git::MergeStyle;
use super::super::http::{ApiResult, Ctx, parse_json};
use super::super::routes;
use super::json;
use crate::forge::Permission;
use axum::Json;
use axum::body::Bytes;
use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::Deserialize;
use serde_json::json;

/// `GET /repos/{owner}/{repo}/pulls?state=&head=&base=`.
pub async fn list_pulls(ctx: Ctx, Path((owner, name)): Path<(String, String)>) -> ApiResult {
    let head = ctx.param("head");
    let base = ctx.param("base");
    routes::list_pulls::<json::Shape>(&ctx, &owner, &name, |pull| {
        let head_ok = head.as_ref().is_none_or(|h| {
            let branch = h.split_once(':').map_or(h.as_str(), |(_, b)| b);
            branch == pull.head
        });
        head_ok && base.as_ref().is_none_or(|b| *b == pull.base)
    })
    .await
}

#[derive(Deserialize)]
struct MergeRequest {
    sha: Option<String>,
    merge_method: Option<String>,
    commit_title: Option<String>,
    commit_message: Option<String>,
}

/// `PUT /repos/{owner}/{repo}/pulls/{number}/merge`: 200 with the merge commit; 409 when `sha`
/// is not the head; 405 when closed, a draft, conflicting, or branch protection refuses
/// (missing approvals or required checks).
pub async fn merge(
    ctx: Ctx,
    Path((owner, name, number)): Path<(String, String, i64)>,
    body: Bytes,
) -> ApiResult {
    let request: MergeRequest = parse_json(&ctx.sim, &body)?;
    let repo = ctx.with(&owner, &name, Permission::Write)?;
    let login = ctx.login()?;
    let style = match request.merge_method.as_deref().unwrap_or("merge") {
        "merge" => MergeStyle::Merge,
        "squash" => MergeStyle::Squash,
        "rebase" => MergeStyle::Rebase,
        other => {
            return Err(ctx.error(
                StatusCode::UNPROCESSABLE_ENTITY,
                format!("merge_method `{other}` is not merge, squash or rebase"),
            ));
        }
    };
    let message = match (request.commit_title, request.commit_message) {
        (Some(title), Some(message)) => Some(format!("{title}\n\n{message}")),
        (Some(title), None) => Some(title),
        (None, Some(message)) => Some(message),
        (None, None) => None,
    };
    let sha = actions::merge(
        &ctx.sim,
        &repo.full_name(),
        number,
        &login,
        style,
        request.sha.as_deref(),
        message.as_deref(),
    )
    .await
    .map_err(|e| ctx.refused(e))?;
    Ok(Json(json!({
        "sha": sha,
        "merged": true,
        "message": "Pull Request successfully merged",
    }))
    .into_response())
}
