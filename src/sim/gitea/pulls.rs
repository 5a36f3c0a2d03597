//! Pull request routes: open, read, list, change, reviews, and merge under branch protection.

use super::super::actions;
use super::super::git::MergeStyle;
use super::super::http::{ApiResult, Ctx, parse_json};
use super::super::routes;
use super::json;
use crate::forge::Permission;
use axum::body::Bytes;
use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::Deserialize;

/// `GET /api/v1/repos/{owner}/{repo}/pulls?state=open|closed|all`, newest first, paged.
pub async fn list_pulls(ctx: Ctx, Path((owner, name)): Path<(String, String)>) -> ApiResult {
    routes::list_pulls::<json::Shape>(&ctx, &owner, &name, |_| true).await
}

#[derive(Deserialize)]
struct MergeRequest {
    #[serde(rename = "Do", alias = "do")]
    how: String,
    head_commit_id: Option<String>,
    #[serde(rename = "MergeTitleField", alias = "merge_title_field")]
    title: Option<String>,
    #[serde(rename = "MergeMessageField", alias = "merge_message_field")]
    message: Option<String>,
}

/// `POST /api/v1/repos/{owner}/{repo}/pulls/{index}/merge`: 200 with no body; 409 when
/// `head_commit_id` is not the head; 405 when closed, a draft, or blocked by protection.
pub async fn merge(
    ctx: Ctx,
    Path((owner, name, number)): Path<(String, String, i64)>,
    body: Bytes,
) -> ApiResult {
    let request: MergeRequest = parse_json(&ctx.sim, &body)?;
    let repo = ctx.with(&owner, &name, Permission::Write)?;
    let login = ctx.login()?;
    let style = match request.how.as_str() {
        "merge" => MergeStyle::Merge,
        "squash" => MergeStyle::Squash,
        "rebase" | "rebase-merge" | "fast-forward-only" => MergeStyle::Rebase,
        other => {
            return Err(ctx.error(
                StatusCode::UNPROCESSABLE_ENTITY,
                format!("Do `{other}` is not a merge style"),
            ));
        }
    };
    let message = match (request.title, request.message) {
        (Some(title), Some(message)) if !message.is_empty() => {
            Some(format!("{title}\n\n{message}"))
        }
        (Some(title), _) => Some(title),
        (None, message) => message,
    };
    actions::merge(
        &ctx.sim,
        &repo.full_name(),
        number,
        &login,
        style,
        request.head_commit_id.as_deref(),
        message.as_deref(),
    )
    .await
    .map_err(|e| ctx.refused(e))?;
    Ok(StatusCode::OK.into_response())
}
