//! The GitHub side of the fake: the client pointed at it, and answers shaped like GitHub's
//! documented ones for every endpoint the client uses.

use super::conformance::description::Spec;
use super::fake::{Answer, FakeForge, Recorded};
use super::support::{options, rfc3339_in, test_key};
use ade::forge::github::GithubForge;
use base64::Engine;
use serde_json::{Value, json};

/// Where the client is pointed, as for GitHub Enterprise Server (`https://HOST/api/v3`).
pub const PREFIX: &str = "/api/v3";
pub const APP_ID: u64 = 4242;
pub const SHA: &str = "6dcb09b5b57875f334f61aebed695e2e4193db5e";
pub const REPO: &str = "/repos/octo-org/hello-world";

pub fn client(fake: &FakeForge) -> GithubForge {
    GithubForge::from_key(
        &format!("{}{PREFIX}", fake.url),
        APP_ID,
        &test_key().pkcs1,
        options(),
    )
    .unwrap()
}

pub fn github_spec() -> Option<Spec> {
    Spec::load("github/openapi/api.github.com.json", PREFIX)
}

pub fn token_answer(token: &str, expires_in_secs: i64) -> Answer {
    Answer::json(
        201,
        json!({
            "token": token,
            "expires_at": rfc3339_in(expires_in_secs),
            "permissions": { "issues": "write", "pull_requests": "write" },
            "repository_selection": "all"
        }),
    )
}

pub fn comment(id: i64, login: &str, body: &str) -> Value {
    json!({
        "id": id,
        "node_id": "MDEyOklzc3VlQ29tbWVudDE=",
        "url": format!("https://api.github.com/repos/octo-org/hello-world/issues/comments/{id}"),
        "html_url": format!("https://github.com/octo-org/hello-world/issues/7#issuecomment-{id}"),
        "body": body,
        "user": { "login": login, "id": 1, "type": "User" },
        "created_at": "2024-01-01T00:00:00Z",
        "updated_at": "2024-01-01T00:00:00Z",
        "author_association": "MEMBER"
    })
}

/// A comment as the repository-wide listing shows it: `issue_url` ends in what it is on.
pub fn comment_on(id: i64, login: &str, body: &str, on: &str) -> Value {
    let mut comment = comment(id, login, body);
    comment["issue_url"] = json!(format!(
        "https://api.github.com/repos/octo-org/hello-world/{on}"
    ));
    comment
}

/// An issue (a pull request when `pull_request` is given), with the fields GitHub's description
/// requires.
pub fn issue(number: i64, title: &str, pull_request: Option<Value>) -> Value {
    let api = format!("https://api.github.com/repos/octo-org/hello-world/issues/{number}");
    let mut issue = json!({
        "id": 100 + number,
        "node_id": "MDU6SXNzdWUx",
        "url": api,
        "repository_url": "https://api.github.com/repos/octo-org/hello-world",
        "labels_url": format!("{api}/labels{{/name}}"),
        "comments_url": format!("{api}/comments"),
        "events_url": format!("{api}/events"),
        "html_url": format!("https://github.com/octo-org/hello-world/issues/{number}"),
        "number": number,
        "state": "open",
        "title": title,
        "body": null,
        "user": { "login": "alice", "id": 7, "type": "User" },
        "labels": [],
        "assignee": null,
        "milestone": null,
        "locked": false,
        "comments": 1,
        "closed_at": null,
        "created_at": "2024-01-01T00:00:00Z",
        "updated_at": "2024-01-01T00:00:00Z"
    });
    if let Some(pull) = pull_request {
        issue["pull_request"] = pull;
    }
    issue
}

fn pull(state: &str, merged: bool) -> Value {
    json!({
        "id": 1,
        "number": 8,
        "html_url": "https://github.com/octo-org/hello-world/pull/8",
        "state": state,
        "title": "ade: task 1",
        "merged": merged,
        "draft": false,
        "head": { "ref": "ade/1-task", "sha": SHA, "label": "octo-org:ade/1-task" },
        "base": { "ref": "main", "sha": "b".repeat(40), "label": "octo-org:main" }
    })
}

/// Answers for every endpoint the client uses, shaped like GitHub's documented answers.
pub fn routes(r: &Recorded) -> Answer {
    let route = r.route(PREFIX);
    let repo_route = route.replacen(REPO, "", 1);
    match route.as_str() {
        "GET /app" => {
            return Answer::json(
                200,
                json!({ "id": APP_ID, "slug": "ade-test", "name": "ade test" }),
            );
        }
        "POST /app/installations/42/access_tokens" => {
            return token_answer("ghs_test_token_1", 3600);
        }
        "DELETE /installation/token" => return Answer::empty(204),
        _ => {}
    }
    match repo_route.as_str() {
        "GET /installation" => Answer::json(200, json!({ "id": 42, "app_id": APP_ID })),
        "POST /issues/7/comments" => Answer::json(201, comment(1001, "ade-test[bot]", "hello")),
        "PATCH /issues/comments/1001" => {
            Answer::json(200, comment(1001, "ade-test[bot]", "edited"))
        }
        "GET /issues/comments" => Answer::json(
            200,
            json!([
                comment_on(1001, "alice", "/ade plan", "issues/7"),
                comment_on(1003, "bob", "/ade retry", "issues/8"),
                comment_on(1004, "carol", "odd", "issues/not-a-number")
            ]),
        ),
        "GET /issues/7" => Answer::json(200, issue(7, "Add a flag", None)),
        "GET /issues/8" => Answer::json(
            200,
            issue(
                8,
                "ade: t1",
                Some(json!({
                    "url": "https://api.github.com/repos/octo-org/hello-world/pulls/8",
                    "html_url": "https://github.com/octo-org/hello-world/pull/8",
                    "diff_url": "https://github.com/octo-org/hello-world/pull/8.diff",
                    "patch_url": "https://github.com/octo-org/hello-world/pull/8.patch",
                    "merged_at": null
                })),
            ),
        ),
        "GET /issues/7/comments" => Answer::json(
            200,
            json!([
                comment(1001, "alice", "/ade plan"),
                comment(1002, "ade-test[bot]", "plan")
            ]),
        ),
        "POST /issues/comments/1001/reactions" => Answer::json(
            200,
            json!({ "id": 1, "content": "eyes", "user": { "login": "ade-test[bot]" } }),
        ),
        "GET /contents/.ade/config.toml" => Answer::json(
            200,
            json!({
                "type": "file", "encoding": "base64", "size": 12, "name": "config.toml",
                "path": ".ade/config.toml", "sha": SHA,
                "content": base64::engine::general_purpose::STANDARD.encode("[policy]\nx=1\n").replace("W3", "W3\n"),
            }),
        ),
        "GET /contents/missing.toml" => Answer::not_found(),
        "GET " => Answer::json(
            200,
            json!({
                "id": 1, "name": "hello-world", "full_name": "octo-org/hello-world",
                "default_branch": "main", "clone_url": "https://github.com/octo-org/hello-world.git"
            }),
        ),
        "GET /branches/main" => Answer::json(
            200,
            json!({ "name": "main", "commit": { "sha": SHA }, "protected": true }),
        ),
        "GET /collaborators/alice/permission" => Answer::json(
            200,
            json!({ "permission": "write", "role_name": "maintain", "user": { "login": "alice" } }),
        ),
        "GET /collaborators/nobody/permission" => Answer::not_found(),
        "GET /labels" => Answer::json(
            200,
            json!([{ "id": 1, "name": "ade", "color": "f29513" }, { "id": 2, "name": "ade/rejected", "color": "d73a4a" }]),
        ),
        "POST /issues/7/labels" => {
            Answer::json(200, json!([{ "id": 1, "name": "ade", "color": "f29513" }]))
        }
        "POST /pulls" => Answer::json(201, pull("open", false)),
        "PATCH /pulls/8" => Answer::json(200, pull("closed", false)),
        r if r == format!("GET /commits/{SHA}/check-runs") => {
            Answer::json(200, json!({ "total_count": 0, "check_runs": [] }))
        }
        "POST /check-runs" => Answer::json(
            201,
            json!({ "id": 4, "name": "ade/verify", "head_sha": SHA, "status": "completed", "conclusion": "success" }),
        ),
        "GET /pulls/8/reviews" => Answer::json(
            200,
            json!([
                { "id": 80, "user": { "login": "bob" }, "state": "APPROVED", "commit_id": SHA, "body": "" },
                { "id": 81, "user": null, "state": "CHANGES_REQUESTED", "commit_id": SHA, "body": "no" },
                { "id": 82, "user": { "login": "carol" }, "state": "PENDING", "commit_id": SHA, "body": "" }
            ]),
        ),
        "PUT /pulls/8/merge" => Answer::json(
            200,
            json!({ "sha": SHA, "merged": true, "message": "Pull Request successfully merged" }),
        ),
        "GET /branches/main/protection" => Answer::json(
            200,
            json!({
                "url": "https://api.github.com/repos/octo-org/hello-world/branches/main/protection",
                "required_status_checks": { "strict": true, "contexts": ["ade/verify"], "checks": [{ "context": "ade/verify", "app_id": APP_ID }] },
                "required_pull_request_reviews": { "required_approving_review_count": 1, "dismiss_stale_reviews": true },
                "enforce_admins": { "url": "https://api.github.com/x", "enabled": true }
            }),
        ),
        "GET /rules/branches/main" => Answer::json(
            200,
            json!([
                { "type": "pull_request", "parameters": { "required_approving_review_count": 2, "dismiss_stale_reviews_on_push": false, "require_code_owner_review": false, "require_last_push_approval": false, "required_review_thread_resolution": false } },
                { "type": "required_status_checks", "parameters": { "strict_required_status_checks_policy": false, "required_status_checks": [{ "context": "ci/build" }] } }
            ]),
        ),
        "GET /branches/unprotected/protection" => {
            Answer::json(404, json!({ "message": "Branch not protected" }))
        }
        "GET /rules/branches/unprotected" => Answer::json(200, json!([])),
        _ => Answer::json(
            418,
            json!({ "message": format!("the fake has no route for {route}") }),
        ),
    }
}
