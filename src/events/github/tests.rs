use super::normalize;
use crate::events::test_support::{event, fixture, ignored, with, without};
use crate::events::{
    Actor, EventError, EventHeaders, EventKind, InstallationAction, Normalized, ReviewState,
};
use crate::forge::ForgeKind;
use serde_json::json;

fn read(event: &str, body: &[u8]) -> Result<Normalized, EventError> {
    let headers = EventHeaders {
        event,
        event_type: None,
    };
    normalize(&headers, body)
}

fn github(name: &str) -> Vec<u8> {
    fixture("github", name)
}

fn mia() -> Actor {
    Actor {
        id: 501,
        login: "maintainer-mia".into(),
        bot: false,
    }
}

#[test]
fn comment_created_on_an_issue() {
    let event = event(read("issue_comment", &github("issue_comment-created.json")).unwrap());
    assert_eq!(event.forge, ForgeKind::Github);
    let repository = event.repository.as_ref().unwrap();
    assert_eq!(repository.full_name, "acme/widgets");
    assert_eq!(repository.id, 4001);
    assert_eq!(repository.default_branch.as_deref(), Some("main"));
    assert!(repository.private);
    assert_eq!(event.sender, Some(mia()));
    assert_eq!(event.installation_id, Some(77));
    assert_eq!(event.kind.number(), Some(12));
    let EventKind::CommentCreated(comment) = event.kind else {
        panic!("{:?}", event.kind)
    };
    assert_eq!(comment.id, 880001);
    assert_eq!(comment.body, "/ade plan\nKeep the flag off by default.");
    assert_eq!(comment.author, mia());
    assert_eq!(comment.issue.number, 12);
    assert_eq!(comment.issue.title, "Add a --dry-run flag");
    assert_eq!(comment.issue.body, "", "a null issue body reads as empty");
    assert!(!comment.issue.is_pull_request);
    assert_eq!(comment.issue.author.login, "contrib-carl");
}

#[test]
fn comment_on_a_pull_request_by_a_bot_authored_pull_request() {
    let event = event(read("issue_comment", &github("issue_comment-on-pull.json")).unwrap());
    assert_eq!(event.installation_id, None);
    let EventKind::CommentCreated(comment) = event.kind else {
        panic!("{:?}", event.kind)
    };
    assert!(comment.issue.is_pull_request);
    assert_eq!(comment.issue.number, 14);
    assert_eq!(comment.body, "/ade verify");
    assert!(comment.issue.author.bot, "type Bot");
    assert!(!comment.author.bot);
}

#[test]
fn bots_are_known_by_type_or_by_login() {
    let body = github("issue_comment-created.json");
    let by_type = with(&body, "/comment/user/type", json!("Bot"));
    let by_login = with(&body, "/comment/user/login", json!("renovate[bot]"));
    for body in [by_type, by_login] {
        let event = event(read("issue_comment", &body).unwrap());
        let EventKind::CommentCreated(comment) = event.kind else {
            panic!()
        };
        assert!(comment.author.bot);
    }
}

#[test]
fn comment_edited_and_deleted() {
    let body = github("issue_comment-created.json");
    let edited = event(read("issue_comment", &with(&body, "/action", json!("edited"))).unwrap());
    assert!(matches!(edited.kind, EventKind::CommentEdited(ref c) if c.id == 880001));
    let deleted = read("issue_comment", &with(&body, "/action", json!("deleted"))).unwrap();
    assert!(ignored(deleted).starts_with("issue_comment deleted:"));
}

#[test]
fn a_deleted_account_reads_as_ghost() {
    let body = with(
        &github("issue_comment-created.json"),
        "/comment/user",
        json!(null),
    );
    let event = event(read("issue_comment", &body).unwrap());
    let EventKind::CommentCreated(comment) = event.kind else {
        panic!()
    };
    assert_eq!(comment.author.login, "ghost");
    assert_eq!(comment.author.id, 10137);
}

#[test]
fn issues_opened_edited_closed() {
    let body = github("issues-opened.json");
    let opened = event(read("issues", &body).unwrap());
    assert!(!opened.repository.as_ref().unwrap().private);
    let EventKind::IssueOpened(issue) = opened.kind else {
        panic!("{:?}", opened.kind)
    };
    assert_eq!(issue.number, 12);
    assert_eq!(issue.labels, ["goal", "cli"]);
    assert!(issue.body.starts_with("- [ ] parse the flag"));
    assert_eq!(issue.author.login, "contrib-carl");
    let edited = event(read("issues", &with(&body, "/action", json!("edited"))).unwrap());
    assert_eq!(edited.name(), "issue_edited");
    let closed = event(read("issues", &with(&body, "/action", json!("closed"))).unwrap());
    assert_eq!(closed.name(), "issue_closed");
    let no_labels = without(&body, "/issue/labels");
    let EventKind::IssueOpened(issue) = event(read("issues", &no_labels).unwrap()).kind else {
        panic!()
    };
    assert!(issue.labels.is_empty());
}

#[test]
fn other_issue_actions_are_ignored_by_name() {
    let body = github("issues-opened.json");
    for action in ["labeled", "assigned", "reopened", "transferred", "pinned"] {
        let reason = ignored(read("issues", &with(&body, "/action", json!(action))).unwrap());
        assert!(reason.starts_with(&format!("issues {action}:")), "{reason}");
    }
}

#[test]
fn pull_request_opened_from_a_fork() {
    let event = event(read("pull_request", &github("pull_request-opened.json")).unwrap());
    let EventKind::PullRequestOpened(pr) = event.kind else {
        panic!("{:?}", event.kind)
    };
    assert_eq!(pr.number, 15);
    assert_eq!(pr.body, "");
    assert!(pr.draft);
    assert!(!pr.merged);
    assert_eq!(pr.merge_commit_sha, None);
    assert_eq!(pr.head.branch, "dry-run");
    assert_eq!(pr.head.sha, "1f3a9c0d2b4e6f8a1c3e5a7b9d0f2a4c6e8b0d1f");
    assert_eq!(pr.head.repository.as_deref(), Some("carl/widgets"));
    assert_eq!(pr.base.branch, "main");
    assert_eq!(pr.base.repository.as_deref(), Some("acme/widgets"));
}

#[test]
fn pull_request_synchronize_and_reopened() {
    let body = github("pull_request-opened.json");
    for (action, name) in [
        ("synchronize", "pull_request_synchronized"),
        ("reopened", "pull_request_reopened"),
    ] {
        let event = event(read("pull_request", &with(&body, "/action", json!(action))).unwrap());
        assert_eq!(event.name(), name);
        assert_eq!(event.kind.number(), Some(15));
    }
}

#[test]
fn pull_request_closed_merged_or_not() {
    let body = github("pull_request-closed-merged.json");
    let EventKind::PullRequestClosed(pr) = event(read("pull_request", &body).unwrap()).kind else {
        panic!()
    };
    assert!(pr.merged);
    assert_eq!(
        pr.merge_commit_sha.as_deref(),
        Some("4c5d6e7f8a9b0c1d2e3f4a5b6c7d8e9f0a1b2c3d")
    );
    assert_eq!(pr.head.repository, None, "the head repository was deleted");
    assert!(pr.author.bot);
    let closed = with(&body, "/pull_request/merged", json!(false));
    let EventKind::PullRequestClosed(pr) = event(read("pull_request", &closed).unwrap()).kind
    else {
        panic!()
    };
    assert!(!pr.merged);
}

#[test]
fn other_pull_request_actions_are_ignored() {
    let body = github("pull_request-opened.json");
    for action in [
        "edited",
        "labeled",
        "ready_for_review",
        "converted_to_draft",
    ] {
        let reason = ignored(read("pull_request", &with(&body, "/action", json!(action))).unwrap());
        assert!(
            reason.starts_with(&format!("pull_request {action}:")),
            "{reason}"
        );
    }
}

#[test]
fn review_submitted_states() {
    let body = github("pull_request_review-submitted.json");
    let event = event(read("pull_request_review", &body).unwrap());
    assert_eq!(event.installation_id, Some(77));
    let EventKind::ReviewSubmitted(review) = event.kind else {
        panic!("{:?}", event.kind)
    };
    assert_eq!(review.id, Some(3300101));
    assert_eq!(review.state, ReviewState::Approved);
    assert_eq!(review.body, "");
    assert_eq!(review.author, mia());
    assert_eq!(review.pull_request_number, 14);
    assert_eq!(
        review.commit_sha.as_deref(),
        Some("aa11bb22cc33dd44ee55ff66aa77bb88cc99dd00")
    );
    for (state, expected) in [
        ("changes_requested", ReviewState::ChangesRequested),
        ("commented", ReviewState::Commented),
        ("APPROVED", ReviewState::Approved),
    ] {
        let body = with(&body, "/review/state", json!(state));
        let EventKind::ReviewSubmitted(review) =
            event_of(read("pull_request_review", &body).unwrap())
        else {
            panic!()
        };
        assert_eq!(review.state, expected, "{state}");
    }
    let pending = with(&body, "/review/state", json!("pending"));
    let reason = ignored(read("pull_request_review", &pending).unwrap());
    assert!(reason.contains("`pending`"), "{reason}");
}

fn event_of(normalized: Normalized) -> EventKind {
    event(normalized).kind
}

#[test]
fn review_dismissed_and_edited() {
    let body = github("pull_request_review-dismissed.json");
    let EventKind::ReviewDismissed(review) = event_of(read("pull_request_review", &body).unwrap())
    else {
        panic!()
    };
    assert_eq!(review.state, ReviewState::Dismissed);
    assert_eq!(review.author.login, "ghost");
    assert_eq!(review.body, "Needs another look after the rebase.");
    let edited = with(&body, "/action", json!("edited"));
    let reason = ignored(read("pull_request_review", &edited).unwrap());
    assert!(
        reason.starts_with("pull_request_review edited:"),
        "{reason}"
    );
}

#[test]
fn check_run_rerequested_and_others() {
    let body = github("check_run-rerequested.json");
    let EventKind::CheckRunRerequested(run) = event_of(read("check_run", &body).unwrap()) else {
        panic!()
    };
    assert_eq!(run.id, 66001);
    assert_eq!(run.name, "ade/verify");
    assert_eq!(run.head_sha, "aa11bb22cc33dd44ee55ff66aa77bb88cc99dd00");
    assert_eq!(run.external_id.as_deref(), Some("run-42"));
    assert_eq!(run.app_slug.as_deref(), Some("ade-dev"));
    let bare = with(
        &with(&body, "/check_run/external_id", json!("")),
        "/check_run/app",
        json!(null),
    );
    let EventKind::CheckRunRerequested(run) = event_of(read("check_run", &bare).unwrap()) else {
        panic!()
    };
    assert_eq!((run.external_id, run.app_slug), (None, None));
    for action in ["created", "completed", "requested_action"] {
        let changed = with(&body, "/action", json!(action));
        let EventKind::CheckChanged(change) = event_of(read("check_run", &changed).unwrap()) else {
            panic!("{action}")
        };
        assert_eq!(change.head_sha, "aa11bb22cc33dd44ee55ff66aa77bb88cc99dd00");
        assert_eq!(change.name.as_deref(), Some("ade/verify"));
    }
}

#[test]
fn statuses_and_check_suites_name_their_commit() {
    let status = br#"{"id": 1, "sha": "6113728f27ae82c7b1a177c8d03f9e96e0adf246",
        "context": "ci/test", "state": "failure", "description": "3 failed",
        "repository": {"id": 1, "full_name": "acme/widgets", "private": false},
        "sender": null}"#;
    let EventKind::CheckChanged(change) = event_of(read("status", status).unwrap()) else {
        panic!()
    };
    assert_eq!(change.head_sha, "6113728f27ae82c7b1a177c8d03f9e96e0adf246");
    assert_eq!(change.name.as_deref(), Some("ci/test"));
    let suite = br#"{"action": "completed", "check_suite": {"id": 5, "head_sha": "abc"},
        "repository": {"id": 1, "full_name": "acme/widgets", "private": false}}"#;
    let EventKind::CheckChanged(change) = event_of(read("check_suite", suite).unwrap()) else {
        panic!()
    };
    assert_eq!((change.head_sha.as_str(), change.name), ("abc", None));
    assert!(
        read("status", b"{}").is_err(),
        "a status without its commit is malformed"
    );
}

#[test]
fn push_to_the_default_branch() {
    let body = github("push-default-branch.json");
    let event = event(read("push", &body).unwrap());
    assert_eq!(event.installation_id, Some(77));
    assert_eq!(event.sender, Some(mia()));
    let EventKind::PushToDefaultBranch(push) = event.kind else {
        panic!()
    };
    assert_eq!(push.branch, "main");
    assert_eq!(push.before, "9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f1e0d");
    assert_eq!(push.after, "4c5d6e7f8a9b0c1d2e3f4a5b6c7d8e9f0a1b2c3d");
    assert_eq!(push.commit_count, 2);
    assert!(!push.forced);
    let forced = with(&body, "/forced", json!(true));
    let EventKind::PushToDefaultBranch(push) = event_of(read("push", &forced).unwrap()) else {
        panic!()
    };
    assert!(push.forced);
}

#[test]
fn pushes_elsewhere_are_ignored() {
    let body = github("push-default-branch.json");
    let branch = with(&body, "/ref", json!("refs/heads/feature"));
    assert!(ignored(read("push", &branch).unwrap()).contains("not the default branch"));
    let tag = with(&body, "/ref", json!("refs/tags/v1.0"));
    assert!(ignored(read("push", &tag).unwrap()).contains("is not a branch"));
    let deleted = with(&body, "/deleted", json!(true));
    assert!(ignored(read("push", &deleted).unwrap()).contains("deleted"));
}

#[test]
fn installation_actions() {
    let body = github("installation-created.json");
    let event = event(read("installation", &body).unwrap());
    assert_eq!(event.repository, None);
    assert_eq!(event.installation_id, Some(77));
    let EventKind::Installation(installation) = event.kind else {
        panic!()
    };
    assert_eq!(installation.action, InstallationAction::Created);
    assert_eq!(installation.id, 77);
    assert_eq!(installation.account, "acme");
    assert_eq!(installation.repositories, ["acme/widgets", "acme/gadgets"]);
    for (action, expected) in [
        ("deleted", InstallationAction::Deleted),
        ("suspend", InstallationAction::Suspend),
        ("unsuspend", InstallationAction::Unsuspend),
        (
            "new_permissions_accepted",
            InstallationAction::NewPermissionsAccepted,
        ),
    ] {
        let body = without(&with(&body, "/action", json!(action)), "/repositories");
        let EventKind::Installation(installation) = event_of(read("installation", &body).unwrap())
        else {
            panic!()
        };
        assert_eq!(installation.action, expected);
        assert!(installation.repositories.is_empty());
    }
    let enterprise = with(
        &body,
        "/installation/account",
        json!({"slug": "big-co", "id": 1}),
    );
    let EventKind::Installation(installation) =
        event_of(read("installation", &enterprise).unwrap())
    else {
        panic!()
    };
    assert_eq!(installation.account, "big-co");
    let unknown = with(&body, "/action", json!("renamed"));
    assert!(ignored(read("installation", &unknown).unwrap()).starts_with("installation renamed:"));
}

#[test]
fn installation_repositories_added_and_removed() {
    let body = github("installation_repositories-removed.json");
    let EventKind::InstallationRepositories(change) =
        event_of(read("installation_repositories", &body).unwrap())
    else {
        panic!()
    };
    assert_eq!(change.installation_id, 77);
    assert_eq!(change.account, "acme");
    assert!(change.added.is_empty());
    assert_eq!(change.removed, ["acme/gadgets"]);
    let added = with(
        &with(&body, "/action", json!("added")),
        "/repositories_added",
        json!([{"id": 4003, "full_name": "acme/gizmos"}]),
    );
    let EventKind::InstallationRepositories(change) =
        event_of(read("installation_repositories", &added).unwrap())
    else {
        panic!()
    };
    assert_eq!(change.added, ["acme/gizmos"]);
}

#[test]
fn other_events_are_ignored_with_their_name() {
    let ping = ignored(read("ping", &github("ping.json")).unwrap());
    assert_eq!(ping, "ping: not an event ade acts on");
    let label = br#"{"action": "created", "label": {"name": "bug"}}"#;
    let reason = ignored(read("label", label).unwrap());
    assert_eq!(reason, "label created: not an event ade acts on");
    for event in ["create", "delete", "release", "fork"] {
        assert!(ignored(read(event, b"{}").unwrap()).starts_with(event));
    }
}

#[test]
fn malformed_payloads_name_the_path() {
    let comment = github("issue_comment-created.json");
    let cases = [
        ("issue_comment", b"not json".to_vec(), "not valid JSON"),
        ("issue_comment", b"[1, 2]".to_vec(), "at `.`"),
        (
            "issue_comment",
            without(&comment, "/action"),
            "at `action`: missing",
        ),
        (
            "issue_comment",
            without(&comment, "/comment/body"),
            "at `comment.body`: missing",
        ),
        (
            "issue_comment",
            with(&comment, "/issue/number", json!("12")),
            "at `issue.number`",
        ),
        (
            "issue_comment",
            without(&comment, "/repository"),
            "at `repository`",
        ),
        (
            "issue_comment",
            with(&comment, "/sender/id", json!(null)),
            "at `sender.id`",
        ),
        (
            "pull_request",
            without(
                &github("pull_request-opened.json"),
                "/pull_request/head/sha",
            ),
            "at `pull_request.head.sha`: missing",
        ),
        (
            "push",
            without(&github("push-default-branch.json"), "/after"),
            "at `after`: missing",
        ),
        (
            "installation",
            without(&github("installation-created.json"), "/installation/id"),
            "at `installation.id`: missing",
        ),
    ];
    for (event, body, expected) in cases {
        let err = read(event, &body).unwrap_err();
        assert_eq!(err.event, event);
        assert!(err.reason.contains(expected), "{expected}: {}", err.reason);
    }
}

#[test]
fn odd_inputs_never_panic() {
    let events = [
        "issue_comment",
        "issues",
        "pull_request",
        "pull_request_review",
        "check_run",
        "push",
        "installation",
        "installation_repositories",
        "ping",
        "",
    ];
    let bodies: [&[u8]; 8] = [
        b"",
        b"{}",
        b"null",
        b"{\"action\": 7}",
        b"{\"action\": \"created\"}",
        b"{\"action\": \"opened\", \"issue\": []}",
        b"\xff\xfe",
        b"{\"ref\": \"refs/heads/\"}",
    ];
    for event in events {
        for body in bodies {
            let _ = read(event, body);
        }
    }
}
