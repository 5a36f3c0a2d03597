use super::normalize;
use crate::events::test_support::{event, fixture, ignored, with, without};
use crate::events::{EventError, EventHeaders, EventKind, Normalized};
use crate::forge::ForgeKind;
use crate::forge::ReviewState;
use serde_json::json;

fn read(event: &str, event_type: Option<&str>, body: &[u8]) -> Result<Normalized, EventError> {
    normalize(&EventHeaders { event, event_type }, body)
}

fn gitea(name: &str) -> Vec<u8> {
    fixture("gitea", name)
}

fn kind(normalized: Normalized) -> EventKind {
    event(normalized).kind
}

#[test]
fn comment_on_an_issue() {
    let body = gitea("issue_comment-on-issue.json");
    let event = event(read("issue_comment", Some("issue_comment"), &body).unwrap());
    assert_eq!(event.forge, ForgeKind::Gitea);
    assert_eq!(event.installation_id, None);
    let repository = event.repository.as_ref().unwrap();
    assert_eq!(repository.full_name, "team/lamp");
    assert_eq!(repository.id, 88);
    assert_eq!(repository.default_branch.as_deref(), Some("trunk"));
    assert!(repository.private);
    assert_eq!(event.sender.as_ref().unwrap().login, "dora");
    let EventKind::CommentCreated(comment) = event.kind else {
        panic!("{:?}", event.kind)
    };
    assert_eq!(comment.id, 7001);
    assert_eq!(comment.body, "/ade plan");
    assert_eq!(comment.author.login, "dora");
    assert_eq!(comment.author.id, 2);
    assert!(!comment.author.bot);
    assert_eq!(comment.issue.number, 5);
    assert!(!comment.issue.is_pull_request);
    assert_eq!(comment.issue.author.login, "eli");
}

#[test]
fn comment_on_a_pull_request_is_told_by_header_or_body() {
    let body = gitea("issue_comment-on-pull.json");
    for event_type in [Some("pull_request_comment"), None] {
        let EventKind::CommentCreated(comment) =
            kind(read("issue_comment", event_type, &body).unwrap())
        else {
            panic!()
        };
        assert!(comment.issue.is_pull_request, "{event_type:?}");
        assert_eq!(comment.issue.number, 6);
        assert_eq!(comment.body, "/ade status");
        assert_eq!(
            comment.author.login, "renovate[bot]",
            "read from `username`"
        );
        assert!(comment.author.bot);
    }
    let no_flag = with(&body, "/is_pull", json!(false));
    let EventKind::CommentCreated(comment) = kind(read("issue_comment", None, &no_flag).unwrap())
    else {
        panic!()
    };
    assert!(
        comment.issue.is_pull_request,
        "issue.pull_request alone says so"
    );
}

#[test]
fn comment_edited_and_deleted() {
    let body = gitea("issue_comment-on-issue.json");
    let edited = with(&body, "/action", json!("edited"));
    assert_eq!(
        event(read("issue_comment", Some("issue_comment"), &edited).unwrap()).name(),
        "comment_edited"
    );
    let deleted = with(&body, "/action", json!("deleted"));
    let reason = ignored(read("issue_comment", Some("issue_comment"), &deleted).unwrap());
    assert!(reason.starts_with("issue_comment deleted:"), "{reason}");
}

#[test]
fn issues_opened_edited_closed_and_others() {
    let body = gitea("issues-opened.json");
    let EventKind::IssueOpened(issue) = kind(read("issues", Some("issues"), &body).unwrap()) else {
        panic!()
    };
    assert_eq!(issue.number, 5);
    assert_eq!(issue.title, "Dim the lamp at night");
    assert!(issue.body.contains("(after 1)"));
    assert!(issue.labels.is_empty());
    assert_eq!(issue.author.login, "eli");
    for (action, name) in [("edited", "issue_edited"), ("closed", "issue_closed")] {
        let body = with(&body, "/action", json!(action));
        assert_eq!(event(read("issues", None, &body).unwrap()).name(), name);
    }
    let labelled = with(&body, "/action", json!("label_updated"));
    let reason = ignored(read("issues", Some("issue_label"), &labelled).unwrap());
    assert!(
        reason.starts_with("issues/issue_label label_updated:"),
        "{reason}"
    );
    let reopened = with(&body, "/action", json!("reopened"));
    assert!(ignored(read("issues", None, &reopened).unwrap()).starts_with("issues reopened:"));
}

#[test]
fn pull_request_opened() {
    let body = gitea("pull_request-opened.json");
    let EventKind::PullRequestOpened(pr) =
        kind(read("pull_request", Some("pull_request"), &body).unwrap())
    else {
        panic!()
    };
    assert_eq!(pr.number, 6);
    assert_eq!(pr.author.login, "dora");
    assert_eq!(pr.head.branch, "night-mode");
    assert_eq!(pr.head.sha, "c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00");
    assert_eq!(pr.head.repository.as_deref(), Some("dora/lamp"));
    assert_eq!(pr.base.branch, "trunk");
    assert_eq!(pr.base.repository.as_deref(), Some("team/lamp"));
    assert!(!pr.draft && !pr.merged);
    assert_eq!(pr.merge_commit_sha, None);
}

#[test]
fn pull_request_synchronized_reopened_and_others() {
    let body = gitea("pull_request-opened.json");
    let synced = with(&body, "/action", json!("synchronized"));
    let event = event(read("pull_request", Some("pull_request_sync"), &synced).unwrap());
    assert_eq!(event.name(), "pull_request_synchronized");
    let reopened = with(&body, "/action", json!("reopened"));
    assert_eq!(
        event_name(read("pull_request", None, &reopened)),
        "pull_request_reopened"
    );
    for (action, event_type) in [
        ("label_updated", "pull_request_label"),
        ("assigned", "pull_request_assign"),
        ("review_requested", "pull_request_review_request"),
        ("edited", "pull_request"),
    ] {
        let body = with(&body, "/action", json!(action));
        let reason = ignored(read("pull_request", Some(event_type), &body).unwrap());
        assert!(reason.contains(&format!(" {action}:")), "{reason}");
    }
}

fn event_name(normalized: Result<Normalized, EventError>) -> &'static str {
    event(normalized.unwrap()).name()
}

#[test]
fn pull_request_closed_merged_or_not() {
    let body = gitea("pull_request-closed-merged.json");
    let EventKind::PullRequestClosed(pr) = kind(read("pull_request", None, &body).unwrap()) else {
        panic!()
    };
    assert!(pr.merged);
    assert_eq!(
        pr.merge_commit_sha.as_deref(),
        Some("feedface00feedface00feedface00feedface00")
    );
    assert_eq!(pr.body, "");
    assert_eq!(pr.head.repository, None);
    let closed = with(&body, "/pull_request/merged", json!(false));
    let EventKind::PullRequestClosed(pr) = kind(read("pull_request", None, &closed).unwrap())
    else {
        panic!()
    };
    assert!(!pr.merged);
}

#[test]
fn pull_request_number_falls_back_to_the_payload_number() {
    let body = without(&gitea("pull_request-opened.json"), "/pull_request/number");
    assert_eq!(
        kind(read("pull_request", None, &body).unwrap()).number(),
        Some(6)
    );
    let err = read("pull_request", None, &without(&body, "/number")).unwrap_err();
    assert!(
        err.reason.contains("at `pull_request.number`"),
        "{}",
        err.reason
    );
}

#[test]
fn review_approved() {
    let body = gitea("review-approved.json");
    let event = event(
        read(
            "pull_request_approved",
            Some("pull_request_review_approved"),
            &body,
        )
        .unwrap(),
    );
    assert_eq!(event.repository.unwrap().full_name, "team/lamp");
    let EventKind::ReviewSubmitted(review) = event.kind else {
        panic!("{:?}", event.kind)
    };
    assert_eq!(review.state, ReviewState::Approved);
    assert_eq!(review.id, None);
    assert_eq!(review.body, "Ship it.");
    assert_eq!(review.author.login, "eli", "the sender is the reviewer");
    assert_eq!(review.pull_request_number, 6);
    assert_eq!(
        review.commit_sha.as_deref(),
        Some("c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00")
    );
}

#[test]
fn review_verdicts_from_type_or_headers() {
    let body = gitea("review-approved.json");
    let cases = [
        (
            "pull_request_rejected",
            Some("pull_request_review_rejected"),
            json!("pull_request_review_rejected"),
            ReviewState::ChangesRequested,
        ),
        (
            "pull_request_comment",
            Some("pull_request_review_comment"),
            json!("pull_request_review_comment"),
            ReviewState::Commented,
        ),
        (
            "pull_request_rejected",
            None,
            json!(null),
            ReviewState::ChangesRequested,
        ),
        (
            "pull_request_approved",
            None,
            json!(""),
            ReviewState::Approved,
        ),
    ];
    for (event, event_type, verdict, expected) in cases {
        let body = with(&body, "/review/type", verdict);
        let EventKind::ReviewSubmitted(review) = kind(read(event, event_type, &body).unwrap())
        else {
            panic!("{event}")
        };
        assert_eq!(review.state, expected, "{event} {event_type:?}");
    }
    let unknown = with(&body, "/review/type", json!("pull_request_review_mystery"));
    let reason = ignored(read("pull_request_review", None, &unknown).unwrap());
    assert!(reason.contains("pull_request_review_mystery"), "{reason}");
    let other_action = with(&body, "/action", json!("review_dismissed"));
    assert!(
        ignored(read("pull_request_approved", None, &other_action).unwrap())
            .starts_with("pull_request_approved review_dismissed:")
    );
}

#[test]
fn a_commenting_review_from_older_gitea_is_a_review() {
    let body = gitea("review-comment-legacy.json");
    for (event, event_type) in [
        ("issue_comment", None),
        ("issue_comment", Some("pull_request_comment")),
        ("pull_request_comment", None),
    ] {
        let EventKind::ReviewSubmitted(review) = kind(read(event, event_type, &body).unwrap())
        else {
            panic!("{event} {event_type:?}")
        };
        assert_eq!(review.state, ReviewState::Commented);
        assert_eq!(review.body, "One nit inline.");
        assert_eq!(
            review.commit_sha.as_deref(),
            Some("c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00")
        );
    }
}

#[test]
fn push_to_the_default_branch_and_elsewhere() {
    let body = gitea("push-default-branch.json");
    let event = event(read("push", Some("push"), &body).unwrap());
    assert_eq!(event.sender.as_ref().unwrap().login, "eli");
    let EventKind::PushToDefaultBranch(push) = event.kind else {
        panic!()
    };
    assert_eq!(push.branch, "trunk");
    assert_eq!(push.after, "feedface00feedface00feedface00feedface00");
    assert_eq!(push.commit_count, 1);
    assert!(!push.forced);
    let branch = with(&body, "/ref", json!("refs/heads/night-mode"));
    assert!(ignored(read("push", None, &branch).unwrap()).starts_with("push: branch night-mode"));
    let tag = with(&body, "/ref", json!("refs/tags/v1.2.0"));
    assert!(ignored(read("push", None, &tag).unwrap()).contains("not a branch"));
    let deleted = with(
        &body,
        "/after",
        json!("0000000000000000000000000000000000000000"),
    );
    assert!(ignored(read("push", None, &deleted).unwrap()).contains("deleted"));
    let unknown_default = without(&body, "/repository/default_branch");
    assert!(ignored(read("push", None, &unknown_default).unwrap()).contains("default_branch"));
    let no_commits = with(&body, "/commits", json!(null));
    let EventKind::PushToDefaultBranch(push) = kind(read("push", None, &no_commits).unwrap())
    else {
        panic!()
    };
    assert_eq!(push.commit_count, 0);
}

#[test]
fn other_events_are_ignored_with_their_name() {
    let tag = gitea("create-tag.json");
    assert_eq!(
        ignored(read("create", Some("create"), &tag).unwrap()),
        "create: not an event ade acts on"
    );
    let release = br#"{"action": "published", "release": {}}"#;
    assert_eq!(
        ignored(read("release", Some("release"), release).unwrap()),
        "release published: not an event ade acts on"
    );
    assert!(ignored(read("wiki", None, b"{}").unwrap()).starts_with("wiki:"));
}

#[test]
fn repository_privacy_is_assumed_when_unsaid() {
    let body = without(&gitea("issues-opened.json"), "/repository/private");
    let event = event(read("issues", None, &body).unwrap());
    assert!(event.repository.unwrap().private);
}

#[test]
fn malformed_payloads_name_the_path() {
    let comment = gitea("issue_comment-on-issue.json");
    let cases = [
        ("issue_comment", b"{".to_vec(), "not valid JSON"),
        (
            "issue_comment",
            without(
                &without(&comment, "/comment/user/login"),
                "/comment/user/username",
            ),
            "at `comment.user`",
        ),
        (
            "issue_comment",
            without(&comment, "/repository"),
            "at `repository`: missing",
        ),
        (
            "issue_comment",
            with(&comment, "/issue/title", json!(5)),
            "at `issue.title`",
        ),
        (
            "pull_request_approved",
            without(&gitea("review-approved.json"), "/sender"),
            "at `sender`: missing",
        ),
        (
            "push",
            with(&gitea("push-default-branch.json"), "/ref", json!(null)),
            "at `ref`",
        ),
    ];
    for (event, body, expected) in cases {
        let err = read(event, None, &body).unwrap_err();
        assert_eq!(err.event, event);
        assert!(err.reason.contains(expected), "{expected}: {}", err.reason);
    }
}

#[test]
fn odd_inputs_never_panic() {
    let names = [
        "issue_comment",
        "issues",
        "pull_request",
        "pull_request_approved",
        "pull_request_comment",
        "push",
        "create",
        "",
    ];
    let bodies: [&[u8]; 7] = [
        b"",
        b"{}",
        b"[]",
        b"{\"action\": \"reviewed\", \"review\": 1}",
        b"{\"action\": \"created\", \"comment\": {}, \"review\": {}}",
        b"\x00",
        b"{\"ref\": \"refs/heads/\", \"after\": \"\"}",
    ];
    for event in names {
        for event_type in [None, Some("pull_request_comment"), Some("unknown")] {
            for body in bodies {
                let _ = read(event, event_type, body);
            }
        }
    }
}

#[test]
fn a_comment_says_when_it_was_created_and_a_time_ade_cannot_read_is_no_time() {
    let created = |value: serde_json::Value| {
        let body = with(
            &gitea("issue_comment-on-issue.json"),
            "/comment/created_at",
            value,
        );
        let EventKind::CommentCreated(comment) =
            kind(read("issue_comment", Some("issue_comment"), &body).unwrap())
        else {
            panic!()
        };
        comment.created_at
    };
    assert_eq!(
        created(json!("2017-03-13T13:52:11+08:00")),
        Some(1_489_384_331_000)
    );
    assert_eq!(
        created(json!("2017-03-13T05:52:11Z")),
        Some(1_489_384_331_000)
    );
    assert_eq!(created(json!("yesterday")), None);
    assert_eq!(created(json!(42)), None);
    assert_eq!(created(json!(null)), None);
    let body = without(&gitea("issue_comment-on-issue.json"), "/comment/created_at");
    let EventKind::CommentCreated(comment) =
        kind(read("issue_comment", Some("issue_comment"), &body).unwrap())
    else {
        panic!()
    };
    assert_eq!(comment.created_at, None);
}

#[test]
fn a_commit_status_names_its_commit_and_context() {
    let body = br#"{"id": 9, "sha": "aa11bb22cc33dd44ee55ff66aa77bb88cc99dd00",
        "context": "ci/test", "state": "failure", "description": "3 tests failed",
        "target_url": "https://ci.example/9",
        "repository": {"id": 88, "full_name": "team/lamp", "private": true},
        "sender": {"id": 3, "login": "ci-bot"}}"#;
    let EventKind::CheckChanged(change) = kind(read("status", Some("status"), body).unwrap())
    else {
        panic!()
    };
    assert_eq!(change.head_sha, "aa11bb22cc33dd44ee55ff66aa77bb88cc99dd00");
    assert_eq!(change.name.as_deref(), Some("ci/test"));
    assert!(read("status", None, br#"{"context": "ci/test"}"#).is_err());
}
