//! Issue routes: issues, their comments (paged with `Link`), reactions on comments, labels.

use super::super::actions;
use super::super::http::{ApiResult, Ctx, parse_json};
use super::json;
use crate::forge::Permission;
use axum::Json;
use axum::body::Bytes;
use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::Deserialize;

/// `GET /repos/{owner}/{repo}/issues/{number}`.
pub async fn get_issue(
    ctx: Ctx,
    Path((owner, name, number)): Path<(String, String, i64)>,
) -> ApiResult {
    let repo = ctx.readable(&owner, &name)?;
    let issue = repo.issues.get(&number).ok_or_else(|| ctx.not_found())?;
    Ok(Json(json::issue(&ctx.sim, &repo, issue, repo.pulls.get(&number))).into_response())
}

#[derive(Deserialize)]
struct IssueUpdate {
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
    body: Bytes,
) -> ApiResult {
    let update: IssueUpdate = parse_json(&ctx.sim, &body)?;
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
    if !repo.issues.contains_key(&number) {
        return Err(ctx.not_found());
    }
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
    if let Some(state) = update.state.as_deref() {
        let open = match state {
            "open" => true,
            "closed" => false,
            other => {
                return Err(ctx.error(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    format!("state `{other}` is not open or closed"),
                ));
            }
        };
        actions::set_open(&ctx.sim, &full, number, &login, open)
            .await
            .map_err(|e| ctx.refused(e))?;
    }
    let repo = ctx.readable(&owner, &name)?;
    let issue = repo.issues.get(&number).ok_or_else(|| ctx.not_found())?;
    Ok(Json(json::issue(&ctx.sim, &repo, issue, repo.pulls.get(&number))).into_response())
}

/// `GET /repos/{owner}/{repo}/issues/{number}/comments`: oldest first, `per_page` (default 30,
/// at most 100) and `page`, with a `Link` header.
pub async fn list_comments(
    ctx: Ctx,
    Path((owner, name, number)): Path<(String, String, i64)>,
) -> ApiResult {
    let repo = ctx.readable(&owner, &name)?;
    if !repo.issues.contains_key(&number) {
        return Err(ctx.not_found());
    }
    let items = repo
        .comments
        .iter()
        .filter(|c| c.number == number)
        .map(|c| json::comment(&ctx.sim, &repo, c))
        .collect();
    Ok(ctx.paged(30, items))
}

#[derive(Deserialize)]
struct CommentBody {
    body: String,
}

/// `POST /repos/{owner}/{repo}/issues/{number}/comments` → 201, and an `issue_comment` webhook.
pub async fn create_comment(
    ctx: Ctx,
    Path((owner, name, number)): Path<(String, String, i64)>,
    body: Bytes,
) -> ApiResult {
    let request: CommentBody = parse_json(&ctx.sim, &body)?;
    let repo = ctx.with(&owner, &name, Permission::Read)?;
    let login = ctx.login()?;
    let comment = actions::comment(&ctx.sim, &repo.full_name(), number, &login, &request.body)
        .await
        .map_err(|e| ctx.refused(e))?;
    let repo = ctx.readable(&owner, &name)?;
    Ok((
        StatusCode::CREATED,
        Json(json::comment(&ctx.sim, &repo, &comment)),
    )
        .into_response())
}

/// `GET /repos/{owner}/{repo}/issues/comments/{id}`.
pub async fn get_comment(
    ctx: Ctx,
    Path((owner, name, id)): Path<(String, String, i64)>,
) -> ApiResult {
    let repo = ctx.readable(&owner, &name)?;
    let comment = repo
        .comments
        .iter()
        .find(|c| c.id == id)
        .ok_or_else(|| ctx.not_found())?;
    Ok(Json(json::comment(&ctx.sim, &repo, comment)).into_response())
}

/// `PATCH /repos/{owner}/{repo}/issues/comments/{id}`: the author, or a writer, edits it.
pub async fn update_comment(
    ctx: Ctx,
    Path((owner, name, id)): Path<(String, String, i64)>,
    body: Bytes,
) -> ApiResult {
    let request: CommentBody = parse_json(&ctx.sim, &body)?;
    let repo = ctx.readable(&owner, &name)?;
    let login = ctx.login()?;
    let comment = repo
        .comments
        .iter()
        .find(|c| c.id == id)
        .ok_or_else(|| ctx.not_found())?;
    if comment.author != login && ctx.sim.access(&ctx.caller, &repo) < Permission::Write {
        return Err(ctx.error(
            StatusCode::FORBIDDEN,
            "Must have admin rights to Repository.",
        ));
    }
    let comment = actions::edit_comment(&ctx.sim, &repo.full_name(), id, &login, &request.body)
        .await
        .map_err(|e| ctx.refused(e))?;
    let repo = ctx.readable(&owner, &name)?;
    Ok(Json(json::comment(&ctx.sim, &repo, &comment)).into_response())
}

const REACTIONS: &[&str] = &[
    "+1", "-1", "laugh", "confused", "heart", "hooray", "rocket", "eyes",
];

/// `GET /repos/{owner}/{repo}/issues/comments/{id}/reactions`.
pub async fn list_reactions(
    ctx: Ctx,
    Path((owner, name, id)): Path<(String, String, i64)>,
) -> ApiResult {
    let repo = ctx.readable(&owner, &name)?;
    let comment = repo
        .comments
        .iter()
        .find(|c| c.id == id)
        .ok_or_else(|| ctx.not_found())?;
    let content = ctx.param("content");
    let items = comment
        .reactions
        .iter()
        .filter(|r| content.as_ref().is_none_or(|c| *c == r.content))
        .map(|r| json::reaction(&ctx.sim, r))
        .collect();
    Ok(ctx.paged(30, items))
}

#[derive(Deserialize)]
struct ReactionBody {
    content: String,
}

/// `POST /repos/{owner}/{repo}/issues/comments/{id}/reactions`: 201 when new, 200 when the same
/// user already reacted the same way.
pub async fn create_reaction(
    ctx: Ctx,
    Path((owner, name, id)): Path<(String, String, i64)>,
    body: Bytes,
) -> ApiResult {
    let request: ReactionBody = parse_json(&ctx.sim, &body)?;
    if !REACTIONS.contains(&request.content.as_str()) {
        return Err(ctx.error(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("content `{}` is not a reaction", request.content),
        ));
    }
    let repo = ctx.with(&owner, &name, Permission::Read)?;
    let login = ctx.login()?;
    let (reaction, created) =
        actions::react(&ctx.sim, &repo.full_name(), id, &login, &request.content)
            .map_err(|e| ctx.refused(e))?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(json::reaction(&ctx.sim, &reaction))).into_response())
}

/// `GET /repos/{owner}/{repo}/issues/{number}/labels`.
pub async fn list_issue_labels(
    ctx: Ctx,
    Path((owner, name, number)): Path<(String, String, i64)>,
) -> ApiResult {
    let repo = ctx.readable(&owner, &name)?;
    let issue = repo.issues.get(&number).ok_or_else(|| ctx.not_found())?;
    let items = issue
        .labels
        .iter()
        .filter_map(|n| repo.label(n))
        .map(|l| json::label(&ctx.sim, &repo, l))
        .collect();
    Ok(ctx.paged(30, items))
}

#[derive(Deserialize)]
#[serde(untagged)]
enum LabelsBody {
    Wrapped { labels: Vec<String> },
    Bare(Vec<String>),
}

/// `POST /repos/{owner}/{repo}/issues/{number}/labels`: adds labels (creating missing ones, as
/// GitHub does) and answers the issue's labels.
pub async fn add_labels(
    ctx: Ctx,
    Path((owner, name, number)): Path<(String, String, i64)>,
    body: Bytes,
) -> ApiResult {
    let request: LabelsBody = parse_json(&ctx.sim, &body)?;
    let labels = match request {
        LabelsBody::Wrapped { labels } | LabelsBody::Bare(labels) => labels,
    };
    let repo = ctx.with(&owner, &name, Permission::Triage)?;
    actions::add_labels(&ctx.sim, &repo.full_name(), number, &labels)
        .map_err(|e| ctx.refused(e))?;
    let repo = ctx.readable(&owner, &name)?;
    let issue = repo.issues.get(&number).ok_or_else(|| ctx.not_found())?;
    let body: Vec<_> = issue
        .labels
        .iter()
        .filter_map(|n| repo.label(n))
        .map(|l| json::label(&ctx.sim, &repo, l))
        .collect();
    Ok(Json(body).into_response())
}
