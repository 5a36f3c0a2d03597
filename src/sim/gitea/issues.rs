//! Issue routes: issues, comments, reactions on comments, labels.

use super::super::actions;
use super::super::http::{ApiResult, Ctx, JsonBody};
use super::super::routes;
use super::json;
use crate::forge::Permission;
use axum::Json;
use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::Deserialize;

/// The body of a request that changes an issue.
#[derive(Deserialize)]
pub struct IssueUpdate {
    title: Option<String>,
    body: Option<String>,
    state: Option<String>,
}

/// `PATCH /api/v1/repos/{owner}/{repo}/issues/{index}` → 201, as Gitea answers. A new title of a
/// pull request decides whether it is a draft, as through the pull request route.
pub async fn update_issue(
    ctx: Ctx,
    Path((owner, name, number)): Path<(String, String, i64)>,
    JsonBody(update): JsonBody<IssueUpdate>,
) -> ApiResult {
    let repo = ctx.with(&owner, &name, Permission::Write)?;
    let login = ctx.login()?;
    routes::issue(&ctx, &repo, number)?;
    {
        let mut state = ctx.sim.state();
        if let Some(r) = state.repo_mut(&owner, &name) {
            if let (Some(title), Some(pull)) = (&update.title, r.pulls.get_mut(&number)) {
                pull.draft = actions::gitea_draft_title(title);
            }
            if let Some(issue) = r.issues.get_mut(&number) {
                if let Some(title) = update.title {
                    issue.title = title;
                }
                if let Some(body) = update.body {
                    issue.body = body;
                }
            }
        }
    }
    if let Some(state) = update.state.as_deref() {
        actions::set_open(&ctx.sim, &repo.full_name(), number, &login, state == "open")
            .await
            .map_err(|e| ctx.refused(e))?;
    }
    let repo = ctx.readable(&owner, &name)?;
    let issue = routes::issue(&ctx, &repo, number)?;
    Ok((
        StatusCode::CREATED,
        Json(json::issue(&ctx.sim, &repo, issue, repo.pulls.get(&number))),
    )
        .into_response())
}

/// `GET /api/v1/repos/{owner}/{repo}/issues/{index}/comments`: all comments oldest first, as
/// Gitea answers; `page` and `limit` page them when given (Gitea's list endpoints' parameters),
/// with `Link` and `X-Total-Count`.
pub async fn list_comments(
    ctx: Ctx,
    Path((owner, name, number)): Path<(String, String, i64)>,
) -> ApiResult {
    let repo = ctx.readable(&owner, &name)?;
    let items: Vec<_> = routes::comments_on(&ctx, &repo, number)?
        .map(|c| json::comment(&ctx.sim, &repo, c))
        .collect();
    let paged = ctx.param("limit").is_some() || ctx.param("page").is_some();
    let default = if paged { 50 } else { items.len().max(1) };
    Ok(ctx.paged(default, items))
}

/// `GET /api/v1/repos/{owner}/{repo}/issues/comments`: every issue's and pull request's
/// comments, oldest first, `since` (by last edit), `limit` (default 50) and `page`.
pub async fn list_repo_comments(
    ctx: Ctx,
    Path((owner, name)): Path<(String, String)>,
) -> ApiResult {
    let repo = ctx.readable(&owner, &name)?;
    let items = routes::comments_since(&ctx, &repo)?
        .into_iter()
        .map(|c| json::comment(&ctx.sim, &repo, c))
        .collect();
    Ok(ctx.paged(50, items))
}

/// `GET /api/v1/repos/{owner}/{repo}/issues/comments/{id}/reactions`.
pub async fn list_reactions(
    ctx: Ctx,
    Path((owner, name, id)): Path<(String, String, i64)>,
) -> ApiResult {
    let list = routes::reactions_on::<json::Shape>(&ctx, &owner, &name, id, |_| true)?;
    Ok(Json(list).into_response())
}

/// `GET /api/v1/repos/{owner}/{repo}/issues/{index}/labels`.
pub async fn list_issue_labels(
    ctx: Ctx,
    Path((owner, name, number)): Path<(String, String, i64)>,
) -> ApiResult {
    routes::issue_labels::<json::Shape>(&ctx, &owner, &name, number)
}

/// The body of a request that adds labels: their ids or names.
#[derive(Deserialize)]
pub struct LabelsBody {
    labels: Vec<serde_json::Value>,
}

/// `POST /api/v1/repos/{owner}/{repo}/issues/{index}/labels`: label ids or names, which must
/// exist (Gitea creates none); answers the issue's labels.
pub async fn add_labels(
    ctx: Ctx,
    Path((owner, name, number)): Path<(String, String, i64)>,
    JsonBody(request): JsonBody<LabelsBody>,
) -> ApiResult {
    let repo = ctx.with(&owner, &name, Permission::Write)?;
    let mut names = Vec::new();
    for wanted in &request.labels {
        let found = match wanted {
            serde_json::Value::Number(id) => repo.labels.iter().find(|l| Some(l.id) == id.as_i64()),
            serde_json::Value::String(label) => repo.label(label),
            _ => None,
        };
        let label = found.ok_or_else(|| {
            ctx.error(
                StatusCode::UNPROCESSABLE_ENTITY,
                format!("label {wanted} does not exist"),
            )
        })?;
        names.push(label.name.clone());
    }
    actions::add_labels(&ctx.sim, &repo.full_name(), number, &names).map_err(|e| ctx.refused(e))?;
    routes::issue_labels::<json::Shape>(&ctx, &owner, &name, number)
}
