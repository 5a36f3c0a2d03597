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

/// `GET /api/v1/repos/{owner}/{repo}/pulls?state=open|closed|all`, newest first, paged.
pub async fn list_pulls(ctx: Ctx, Path((owner, name)): Path<(String, String)>) -> ApiResult {
    routes::list_pulls::<json::Shape>(&ctx, &owner, &name, |_| true).await
}

#[derive(Deserialize)]
struct NewPull {
    title: Option<String>,
    body: Option<String>,
    head: String,
    base: String,
}

/// `POST /api/v1/repos/{owner}/{repo}/pulls` → 201 and a `pull_request` webhook; 409 when an
/// open one exists for the same branches.
pub async fn create_pull(
    ctx: Ctx,
    Path((owner, name)): Path<(String, String)>,
    body: Bytes,
) -> ApiResult {
    let request: NewPull = parse_json(&ctx.sim, &body)?;
    let repo = ctx.with(&owner, &name, Permission::Write)?;
    let login = ctx.login()?;
    let title = request.title.unwrap_or_else(|| request.head.clone());
    let number = actions::open_pull(
        &ctx.sim,
        &repo.full_name(),
        &login,
        actions::PullSpec {
            title: &title,
            body: request.body.as_deref().unwrap_or(""),
            head: &request.head,
            base: &request.base,
            draft: actions::gitea_draft_title(&title),
        },
    )
    .await
    .map_err(|e| match e {
        actions::ActionError::Invalid(message) if message.starts_with("A pull request") => {
            ctx.error(StatusCode::CONFLICT, message)
        }
        other => ctx.refused(other),
    })?;
    let body = routes::render_pull::<json::Shape>(&ctx, &owner, &name, number).await?;
    Ok((StatusCode::CREATED, Json(body)).into_response())
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
