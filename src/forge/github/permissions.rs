//! What the GitHub App needs: for every REST call and git operation the GitHub client makes, the
//! app permission GitHub requires for it. `deploy/github-app-manifest.json` asks for exactly the
//! highest level of each, and a test holds the two together and checks every call ade is seen to
//! make against this table, so neither can drift from the code (docs/github.md).

/// How much of a permission the app needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Access {
    /// Read only.
    Read,
    /// Read and write.
    Write,
}

impl Access {
    /// The word a GitHub App manifest uses.
    pub fn as_str(self) -> &'static str {
        match self {
            Access::Read => "read",
            Access::Write => "write",
        }
    }
}

/// One call the GitHub client makes: its method, its path template (`{}` for one segment, `{..}`
/// for the rest of the path), and the app permission it needs (`None`: the app's own JWT or the
/// installation token alone suffices).
#[derive(Clone, Copy, Debug)]
pub struct Endpoint {
    /// `GET`, `POST`, …; `GIT` for git over HTTPS.
    pub method: &'static str,
    /// The path under the REST root.
    pub path: &'static str,
    /// The permission and its level.
    pub needs: Option<(&'static str, Access)>,
}

const fn call(
    method: &'static str,
    path: &'static str,
    needs: Option<(&'static str, Access)>,
) -> Endpoint {
    Endpoint {
        method,
        path,
        needs,
    }
}

use Access::{Read, Write};

/// Every call the GitHub client makes.
pub const ENDPOINTS: &[Endpoint] = &[
    call("GET", "/app", None),
    // `ade doctor`: the app's webhook configuration.
    call("GET", "/app/hook/config", None),
    call("GET", "/repos/{}/{}/installation", None),
    call("POST", "/app/installations/{}/access_tokens", None),
    // A git token revoking itself.
    call("DELETE", "/installation/token", None),
    call("GET", "/repos/{}/{}", Some(("metadata", Read))),
    call(
        "GET",
        "/repos/{}/{}/collaborators/{}/permission",
        Some(("metadata", Read)),
    ),
    call("GET", "/repos/{}/{}/branches/{}", Some(("contents", Read))),
    // Needs Administration: read, which ade does not ask for: answered 403, the client reads the
    // summary every reader sees instead (protection on, required checks).
    call("GET", "/repos/{}/{}/branches/{}/protection", None),
    call(
        "GET",
        "/repos/{}/{}/rules/branches/{}",
        Some(("metadata", Read)),
    ),
    call(
        "GET",
        "/repos/{}/{}/contents/{..}",
        Some(("contents", Read)),
    ),
    call(
        "GET",
        "/orgs/{}/teams/{}/memberships/{}",
        Some(("members", Read)),
    ),
    call("GET", "/repos/{}/{}/labels", Some(("issues", Read))),
    call(
        "GET",
        "/repos/{}/{}/issues/{}/comments",
        Some(("issues", Read)),
    ),
    call(
        "POST",
        "/repos/{}/{}/issues/{}/comments",
        Some(("issues", Write)),
    ),
    call(
        "PATCH",
        "/repos/{}/{}/issues/comments/{}",
        Some(("issues", Write)),
    ),
    call(
        "POST",
        "/repos/{}/{}/issues/comments/{}/reactions",
        Some(("issues", Write)),
    ),
    call(
        "POST",
        "/repos/{}/{}/issues/{}/labels",
        Some(("issues", Write)),
    ),
    call("PATCH", "/repos/{}/{}/issues/{}", Some(("issues", Write))),
    // Reconciliation: the repository's recent comments, and the issue a found command is on.
    call(
        "GET",
        "/repos/{}/{}/issues/comments",
        Some(("issues", Read)),
    ),
    call("GET", "/repos/{}/{}/issues/{}", Some(("issues", Read))),
    call("GET", "/repos/{}/{}/pulls", Some(("pull_requests", Read))),
    call(
        "GET",
        "/repos/{}/{}/pulls/{}",
        Some(("pull_requests", Read)),
    ),
    call("POST", "/repos/{}/{}/pulls", Some(("pull_requests", Write))),
    call(
        "PATCH",
        "/repos/{}/{}/pulls/{}",
        Some(("pull_requests", Write)),
    ),
    call(
        "PUT",
        "/repos/{}/{}/pulls/{}/merge",
        Some(("contents", Write)),
    ),
    call(
        "GET",
        "/repos/{}/{}/pulls/{}/reviews",
        Some(("pull_requests", Read)),
    ),
    call(
        "GET",
        "/repos/{}/{}/pulls/{}/comments",
        Some(("pull_requests", Read)),
    ),
    // markPullRequestReadyForReview and convertPullRequestToDraft.
    call("POST", "/graphql", Some(("pull_requests", Write))),
    call("POST", "/repos/{}/{}/check-runs", Some(("checks", Write))),
    call(
        "PATCH",
        "/repos/{}/{}/check-runs/{}",
        Some(("checks", Write)),
    ),
    call("GET", "/repos/{}/{}/check-runs/{}", Some(("checks", Read))),
    call(
        "GET",
        "/repos/{}/{}/check-runs/{}/annotations",
        Some(("checks", Read)),
    ),
    call(
        "GET",
        "/repos/{}/{}/commits/{}/check-runs",
        Some(("checks", Read)),
    ),
    // External checks: other apps' check runs (read above) and the commit statuses.
    call(
        "GET",
        "/repos/{}/{}/commits/{}/status",
        Some(("statuses", Read)),
    ),
    // Fetching the repository and pushing run branches.
    call("GIT", "fetch", Some(("contents", Read))),
    call("GIT", "push", Some(("contents", Write))),
];

/// The webhook events ade acts on (installation events reach every app without asking).
pub const EVENTS: &[&str] = &[
    "check_run",
    "check_suite",
    "issue_comment",
    "issues",
    "pull_request",
    "pull_request_review",
    "push",
    "status",
];

/// The endpoint a call of `method` on `path` (without its query) is, if the table has it.
pub fn endpoint(method: &str, path: &str) -> Option<&'static Endpoint> {
    ENDPOINTS
        .iter()
        .find(|e| e.method.eq_ignore_ascii_case(method) && matches(e.path, path))
}

fn matches(template: &str, path: &str) -> bool {
    let mut wanted = template.split('/');
    let mut given = path.split('/');
    loop {
        match (wanted.next(), given.next()) {
            (Some("{..}"), Some(segment)) => return !segment.is_empty(),
            (Some("{}"), Some(segment)) if !segment.is_empty() => {}
            (Some(w), Some(g)) if w == g => {}
            (None, None) => return true,
            _ => return false,
        }
    }
}

/// The highest level of each permission any call needs: what the app must be granted.
pub fn required() -> std::collections::BTreeMap<&'static str, Access> {
    let mut needed = std::collections::BTreeMap::new();
    for (permission, access) in ENDPOINTS.iter().filter_map(|e| e.needs) {
        let level = needed.entry(permission).or_insert(access);
        *level = (*level).max(access);
    }
    needed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calls_match_their_templates_segment_by_segment() {
        let merge = endpoint("PUT", "/repos/acme/widgets/pulls/7/merge").unwrap();
        assert_eq!(merge.needs, Some(("contents", Write)));
        assert_eq!(
            endpoint("GET", "/repos/acme/widgets/contents/src/lib.rs")
                .unwrap()
                .path,
            "/repos/{}/{}/contents/{..}"
        );
        assert!(endpoint("GET", "/repos/acme/widgets/pulls/7/merge").is_none());
        assert!(endpoint("DELETE", "/repos/acme/widgets").is_none());
        assert!(endpoint("GET", "/repos/acme//pulls").is_none());
    }

    #[test]
    fn the_app_needs_the_highest_level_any_call_needs() {
        let needed = required();
        assert_eq!(needed["contents"], Write);
        assert_eq!(needed["metadata"], Read);
        assert!(!needed.contains_key("administration"), "{needed:?}");
        assert_eq!(needed["statuses"], Read);
        assert_eq!(needed.len(), 7, "{needed:?}");
    }
}
