//! Gitea's own pull request route, the list; opening, reading, changing and merging a pull
//! request are routes both dialects share (`routes.rs`).

use super::super::http::{ApiResult, Ctx};
use super::super::routes;
use super::json;
use axum::extract::Path;

/// `GET /api/v1/repos/{owner}/{repo}/pulls?state=open|closed|all`, newest first, paged.
pub async fn list_pulls(ctx: Ctx, Path((owner, name)): Path<(String, String)>) -> ApiResult {
    routes::list_pulls::<json::Shape>(&ctx, &owner, &name, |_| true, json::pull_request).await
}
