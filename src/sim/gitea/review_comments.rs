//! Review comments on Gitea: `GET /api/v1/repos/{owner}/{repo}/pulls/{index}/reviews/{id}/comments`
//! lists one review's line comments as `PullReviewComment`s.

use super::super::http::{ApiResult, Ctx};
use super::super::state::{Repo, ReviewComment};
use super::super::time::rfc3339;
use super::json::user_named;
use axum::Json;
use axum::extract::Path;
use axum::response::IntoResponse;
use serde_json::{Value, json};

/// One comment as Gitea shows it: `position` is the line in the new version of the file.
fn comment(ctx: &Ctx, repo: &Repo, comment: &ReviewComment) -> Value {
    let base = &ctx.sim.base_url;
    let full = repo.full_name();
    let pull = format!("{base}/{full}/pulls/{}", comment.number);
    json!({
        "id": comment.id,
        "body": comment.body,
        "user": user_named(&ctx.sim, &comment.author),
        "resolver": Value::Null,
        "pull_request_review_id": comment.review_id,
        "created_at": rfc3339(comment.created_at),
        "updated_at": rfc3339(comment.created_at),
        "path": comment.path,
        "commit_id": comment.commit_id,
        "original_commit_id": comment.commit_id,
        "diff_hunk": comment.diff_hunk,
        "position": comment.line,
        "original_position": 0,
        "html_url": format!("{pull}/files#issuecomment-{}", comment.id),
        "pull_request_url": pull,
    })
}

/// `GET /api/v1/repos/{owner}/{repo}/pulls/{index}/reviews/{id}/comments`: the review's
/// comments, oldest first; 404 for a review of another pull request.
pub async fn list(
    ctx: Ctx,
    Path((owner, name, number, review_id)): Path<(String, String, i64, i64)>,
) -> ApiResult {
    let repo = ctx.readable(&owner, &name)?;
    if !repo
        .reviews
        .iter()
        .any(|r| r.id == review_id && r.number == number)
    {
        return Err(ctx.not_found());
    }
    let items: Vec<Value> = repo
        .review_comments
        .iter()
        .filter(|c| c.review_id == review_id)
        .map(|c| comment(&ctx, &repo, c))
        .collect();
    Ok(Json(items).into_response())
}
