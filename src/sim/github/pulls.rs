//! GitHub's own pull request route, the list filtered by head and base; opening, reading,
//! changing and merging a pull request are routes both dialects share (`routes.rs`).

use super::super::core::{PullGit, Sim};
use super::super::http::{ApiResult, Ctx};
use super::super::routes;
use super::super::state::{Pull, Repo};
use super::json;
use crate::forge::Permission;
use axum::extract::Path;

/// `GET /repos/{owner}/{repo}/pulls?state=&head=&base=`, each pull request in the shorter form
/// GitHub lists (`pull-request-simple`).
pub async fn list_pulls(ctx: Ctx, Path((owner, name)): Path<(String, String)>) -> ApiResult {
    let head = ctx.param("head");
    let base = ctx.param("base");
    let keep = |pull: &Pull| {
        let head_ok = head.as_ref().is_none_or(|h| {
            let branch = h.split_once(':').map_or(h.as_str(), |(_, b)| b);
            branch == pull.head
        });
        head_ok && base.as_ref().is_none_or(|b| *b == pull.base)
    };
    let simple = |sim: &Sim, repo: &Repo, pull: &Pull, git: &PullGit, _: Permission| {
        json::pull_request_simple(sim, repo, pull, git)
    };
    routes::list_pulls::<json::Shape>(&ctx, &owner, &name, keep, simple).await
}
