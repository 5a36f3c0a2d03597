//! Webhook bodies shaped like the forges' own, with only the parts a test varies as arguments.

use serde_json::{Value, json};

fn github_user(login: &str) -> Value {
    json!({ "login": login, "id": 1000 + login.len() as i64, "type": "User" })
}

fn github_repository(repository: &str) -> Value {
    json!({ "id": 4001, "full_name": repository, "private": false, "default_branch": "main" })
}

/// A GitHub `issue_comment` `created` body: `author` comments `body` on issue `number`.
pub fn github_comment(repository: &str, number: i64, author: &str, body: &str) -> Value {
    json!({
        "action": "created",
        "issue": {
            "number": number,
            "title": format!("Goal {number}"),
            "body": "- [ ] first task\n- [ ] second task",
            "user": github_user("octocat"),
            "labels": [],
            "state": "open"
        },
        "comment": { "id": 900_000 + number, "body": body, "user": github_user(author) },
        "repository": github_repository(repository),
        "sender": github_user(author),
        "installation": { "id": 77 }
    })
}

/// A GitHub `ping` body, as sent when a hook is created.
pub fn github_ping() -> Value {
    json!({ "zen": "Design for failure.", "hook_id": 1, "hook": { "type": "App", "id": 1, "events": ["issue_comment"] } })
}

/// A GitHub `issues` body with an action ade does not act on.
pub fn github_issue_labeled(repository: &str, number: i64) -> Value {
    json!({
        "action": "labeled",
        "issue": { "number": number, "title": "t", "body": null, "user": github_user("octocat"), "labels": [], "state": "open" },
        "label": { "name": "goal" },
        "repository": github_repository(repository),
        "sender": github_user("octocat")
    })
}

fn gitea_user(login: &str) -> Value {
    json!({ "id": 10 + login.len() as i64, "login": login, "username": login })
}

/// A Gitea `issue_comment` body (event type `issue_comment`) on issue `number`.
pub fn gitea_comment(repository: &str, number: i64, author: &str, body: &str) -> Value {
    let (owner, name) = repository.split_once('/').expect("owner/name");
    json!({
        "action": "created",
        "issue": {
            "id": 300 + number, "number": number, "user": gitea_user("eli"),
            "title": format!("Goal {number}"), "body": "", "labels": [], "state": "open",
            "pull_request": null
        },
        "comment": { "id": 7000 + number, "user": gitea_user(author), "body": body },
        "repository": {
            "id": 88, "owner": gitea_user(owner), "name": name, "full_name": repository,
            "private": true, "default_branch": "main"
        },
        "sender": gitea_user(author),
        "is_pull": false
    })
}

/// A body of about `size` bytes: a GitHub comment padded with a long comment text, as the
/// benchmark sends.
pub fn padded_github_comment(repository: &str, number: i64, size: usize) -> Value {
    let mut body = github_comment(repository, number, "maintainer", "");
    let base = body.to_string().len();
    body["comment"]["body"] = Value::String("x".repeat(size.saturating_sub(base)));
    body
}
