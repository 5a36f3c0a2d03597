//! What an installation token narrowed to some permissions may call: the permission GitHub
//! requires of a GitHub App for each REST route the simulator serves, read from the kind of thing
//! its path names, as GitHub's page of permissions required for GitHub Apps lists them. A call
//! needing a permission the token lacks is refused with 403, as GitHub refuses it; a repository
//! the token does not reach is left to the route, which answers 404. GraphQL is checked by its
//! resolver, git by the git route.

use super::super::http::{ApiError, ApiResult};
use super::super::{core::Sim, state::TokenScope};
use axum::http::{Method, StatusCode};

/// Refuses a call of `method` on `path` that needs a permission `scope` does not give.
pub fn check(sim: &Sim, scope: &TokenScope, method: &Method, path: &str) -> ApiResult<()> {
    let Some((permission, write)) = needed(method, path) else {
        return Ok(());
    };
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    if let ["repos", owner, name, ..] = segments.as_slice()
        && !scope.reaches(&format!("{owner}/{name}"))
    {
        return Ok(());
    }
    if scope.allows(permission, write) {
        Ok(())
    } else {
        Err(ApiError::new(
            sim,
            StatusCode::FORBIDDEN,
            "Resource not accessible by integration",
        ))
    }
}

/// The permission a call needs and whether it writes; `None` for calls that need none: the
/// app's own, the installation's own, users, and GraphQL.
fn needed(method: &Method, path: &str) -> Option<(&'static str, bool)> {
    let write = !matches!(*method, Method::GET | Method::HEAD);
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let permission = match segments.as_slice() {
        ["repos", _, _, "installation"] => return None,
        ["repos", _, _, "branches", .., "protection"] => "administration",
        ["repos", _, _, "branches" | "contents", ..] => "contents",
        ["repos", _, _, "pulls", _, "merge"] if write => "contents",
        ["repos", _, _, "pulls", ..] => "pull_requests",
        ["repos", _, _, "labels" | "issues", ..] => "issues",
        ["repos", _, _, "check-runs", ..] | ["repos", _, _, "commits", _, "check-runs"] => "checks",
        ["repos", _, _, "statuses", ..] | ["repos", _, _, "commits", _, "status" | "statuses"] => {
            "statuses"
        }
        ["repos", ..] => "metadata",
        ["orgs", _, "teams", ..] => "members",
        _ => return None,
    };
    Some((permission, write))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_route_needs_the_permission_of_what_it_names() {
        let get = |path| needed(&Method::GET, path);
        assert_eq!(get("/repos/o/r"), Some(("metadata", false)));
        assert_eq!(
            get("/repos/o/r/collaborators/u/permission"),
            Some(("metadata", false))
        );
        assert_eq!(
            get("/repos/o/r/branches/feature/x"),
            Some(("contents", false))
        );
        assert_eq!(
            get("/repos/o/r/branches/main/protection"),
            Some(("administration", false))
        );
        assert_eq!(
            get("/repos/o/r/contents/src/lib.rs"),
            Some(("contents", false))
        );
        assert_eq!(
            get("/repos/o/r/pulls/7/merge"),
            Some(("pull_requests", false))
        );
        assert_eq!(
            needed(&Method::PUT, "/repos/o/r/pulls/7/merge"),
            Some(("contents", true))
        );
        assert_eq!(
            needed(&Method::POST, "/repos/o/r/issues/7/comments"),
            Some(("issues", true))
        );
        assert_eq!(
            get("/repos/o/r/commits/abc/check-runs"),
            Some(("checks", false))
        );
        assert_eq!(
            get("/orgs/o/teams/t/memberships/u"),
            Some(("members", false))
        );
        assert_eq!(get("/repos/o/r/installation"), None);
        assert_eq!(get("/installation/repositories"), None);
        assert_eq!(needed(&Method::POST, "/graphql"), None);
    }
}
