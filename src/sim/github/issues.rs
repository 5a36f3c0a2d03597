//! Issue routes: issues, their comments (paged with `Link`), reactions on comments, labels.

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
    state_reason: Option<String>,
}

/// The reasons GitHub takes for a state change.
const STATE_REASONS: &[&str] = &["completed", "not_planned", "duplicate", "reopened"];

/// `PATCH /repos/{owner}/{repo}/issues/{number}`: title, body, state (with an optional
/// `state_reason`, which GitHub ignores unless the state changes).
pub async fn update_issue(
    ctx: Ctx,
    Path((owner, name, number)): Path<(String, String, i64)>,
    JsonBody(update): JsonBody<IssueUpdate>,
) -> ApiResult {
    if let Some(reason) = update
        .state_reason
        .as_deref()
        .filter(|r| !STATE_REASONS.contains(r))
    {
        return Err(ctx.error(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!(
                "state_reason `{reason}` is not one of {}",
                STATE_REASONS.join(", ")
            ),
        ));
    }
    let repo = ctx.with(&owner, &name, Permission::Triage)?;
    let login = ctx.login()?;
    let full = repo.full_name();
    routes::issue(&ctx, &repo, number)?;
    {
        let mut state = ctx.sim.state();
        if let Some(issue) = state
            .repo_mut(&owner, &name)
            .and_then(|r| r.issues.get_mut(&number))
        {
            if let Some(title) = update.title {
                issue.title = title;
            }
            if let Some(body) = update.body {
                issue.body = body;
            }
        }
    }
    if let Some(open) = routes::open_state(&ctx, update.state.as_deref())? {
        actions::set_open(&ctx.sim, &full, number, &login, open)
            .await
            .map_err(|e| ctx.refused(e))?;
    }
    let repo = ctx.readable(&owner, &name)?;
    let issue = routes::issue(&ctx, &repo, number)?;
    Ok(Json(json::issue(&ctx.sim, &repo, issue, repo.pulls.get(&number))).into_response())
}

/// `GET /repos/{owner}/{repo}/issues/{number}/comments`: oldest first, `per_page` (default 30,
/// at most 100) and `page`, with a `Link` header.
pub async fn list_comments(
    ctx: Ctx,
    Path((owner, name, number)): Path<(String, String, i64)>,
) -> ApiResult {
    let repo = ctx.readable(&owner, &name)?;
    let items = routes::comments_on(&ctx, &repo, number)?
        .map(|c| json::comment(&ctx.sim, &repo, c))
        .collect();
    Ok(ctx.paged(30, items))
}

/// `GET /repos/{owner}/{repo}/issues/comments`: every issue's and pull request's comments,
/// oldest first, `since` (by last edit), `per_page` and `page`.
pub async fn list_repo_comments(
    ctx: Ctx,
    Path((owner, name)): Path<(String, String)>,
) -> ApiResult {
    let repo = ctx.readable(&owner, &name)?;
    let items = routes::comments_since(&ctx, &repo)?
        .into_iter()
        .map(|c| json::comment(&ctx.sim, &repo, c))
        .collect();
    Ok(ctx.paged(30, items))
}

/// `GET /repos/{owner}/{repo}/issues/comments/{id}/reactions`.
pub async fn list_reactions(
    ctx: Ctx,
    Path((owner, name, id)): Path<(String, String, i64)>,
) -> ApiResult {
    let content = ctx.param("content");
    let items = routes::reactions_on::<json::Shape>(&ctx, &owner, &name, id, |r| {
        content.as_ref().is_none_or(|c| *c == r.content)
    })?;
    Ok(ctx.paged(30, items))
}

/// `GET /repos/{owner}/{repo}/issues/{number}/labels`.
pub async fn list_issue_labels(
    ctx: Ctx,
    Path((owner, name, number)): Path<(String, String, i64)>,
) -> ApiResult {
    let repo = ctx.readable(&owner, &name)?;
    let issue = routes::issue(&ctx, &repo, number)?;
    let items = repo
        .labels_named(&issue.labels)
        .map(|l| json::label(&ctx.sim, &repo, l))
        .collect();
    Ok(ctx.paged(30, items))
}

/// The body of a request that adds labels: their names, in an object or bare.
#[derive(Deserialize)]
#[serde(untagged)]
pub enum LabelsBody {
    Wrapped { labels: Vec<String> },
    Bare(Vec<String>),
}

/// `POST /repos/{owner}/{repo}/issues/{number}/labels`: adds labels (creating missing ones, as
/// GitHub does) and answers the issue's labels.
pub async fn add_labels(
    ctx: Ctx,
    Path((owner, name, number)): Path<(String, String, i64)>,
    JsonBody(request): JsonBody<LabelsBody>,
) -> ApiResult {
    let labels = match request {
        LabelsBody::Wrapped { labels } | LabelsBody::Bare(labels) => labels,
    };
    let repo = ctx.with(&owner, &name, Permission::Triage)?;
    actions::add_labels(&ctx.sim, &repo.full_name(), number, &labels)
        .map_err(|e| ctx.refused(e))?;
    routes::issue_labels::<json::Shape>(&ctx, &owner, &name, number)
}
