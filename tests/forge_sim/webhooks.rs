//! Every webhook the simulator sends is signed as the forge signs, normalizes through ade's own
//! `events::normalize` into the event a reader would name, and (when the shared corpus is
//! present) carries at least the field names of the corpus example for the same event and
//! passes the shared checker (tests/conformance) against the forge's descriptions.

use crate::support::{Api, REPO, Received, Receiver, forge_with};
use ade::events::{EventHeaders, EventKind, Normalized, normalize};
use ade::forge::ForgeKind;
use ade::forge::ReviewState;
use ade::ingress::signature::{verify_gitea, verify_github};
use ade::secret::Secret;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};

const SECRET: &str = "hook-secret";

fn corpus() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus");
    dir.is_dir().then_some(dir)
}

/// Fields the simulator leaves out on purpose: objects about organizations, enterprises and apps
/// that a user-owned test repository does not have, and Gitea fields of features it does not
/// simulate. Everything else in a corpus example must be present.
const NOT_SIMULATED: &[&str] = &[
    ".organization",
    ".enterprise",
    ".changes.title",
    ".repository.custom_properties",
    ".repository.topics",
    ".repository.license",
    ".pull_request.head.repo.custom_properties",
    ".pull_request.base.repo.custom_properties",
];

/// Gitea 1.26 fields that Forgejo 11's description lacks: a Forgejo delivery leaves them out, as
/// Forgejo does (the shared checker holds its bodies to Forgejo's description).
const FORGEJO_LACKS: &[&str] = &[
    "allow_manual_merge",
    "autodetect_manual_merge",
    "branch_count",
    "content_version",
    "default_target_branch",
    "has_code",
    "licenses",
    "projects_mode",
    "time_estimate",
];

fn missing_fields(ours: &Value, theirs: &Value, path: &str, out: &mut Vec<String>) {
    match (ours, theirs) {
        (Value::Object(ours), Value::Object(theirs)) => {
            for (key, their_value) in theirs {
                let child = format!("{path}.{key}");
                if NOT_SIMULATED.iter().any(|skip| child.starts_with(skip)) {
                    continue;
                }
                match ours.get(key) {
                    None => out.push(child),
                    Some(our_value) => missing_fields(our_value, their_value, &child, out),
                }
            }
        }
        (Value::Array(ours), Value::Array(theirs)) => {
            if let (Some(o), Some(t)) = (ours.first(), theirs.first()) {
                missing_fields(o, t, &format!("{path}[]"), out);
            }
        }
        _ => {}
    }
}

/// The field names of the corpus example `file` that `payload` lacks, recursively; empty
/// without the corpus.
pub fn missing_from_corpus(file: &str, payload: &Value) -> Vec<String> {
    let Some(corpus) = corpus() else {
        return Vec::new();
    };
    let example: Value =
        serde_json::from_slice(&std::fs::read(corpus.join(file)).unwrap()).unwrap();
    let mut missing = Vec::new();
    missing_fields(payload, &example, "", &mut missing);
    missing
}

fn corpus_file(
    kind: ForgeKind,
    event: &str,
    event_type: Option<&str>,
    action: Option<&str>,
) -> Option<&'static str> {
    Some(match (kind, event, event_type, action) {
        (ForgeKind::Github, "issues", _, Some("opened")) => "github/webhooks/issues/opened.json",
        (ForgeKind::Github, "issue_comment", _, Some("created")) => {
            "github/webhooks/issue_comment/created.json"
        }
        (ForgeKind::Github, "issue_comment", _, Some("edited")) => {
            "github/webhooks/issue_comment/edited.json"
        }
        (ForgeKind::Github, "pull_request", _, Some("opened")) => {
            "github/webhooks/pull_request/opened.json"
        }
        (ForgeKind::Github, "pull_request", _, Some("synchronize")) => {
            "github/webhooks/pull_request/synchronize.json"
        }
        (ForgeKind::Github, "pull_request", _, Some("closed")) => {
            "github/webhooks/pull_request/closed.json"
        }
        (ForgeKind::Github, "pull_request_review", _, Some("submitted")) => {
            "github/webhooks/pull_request_review/submitted.json"
        }
        (ForgeKind::Github, "push", _, _) => "github/webhooks/push/event.json",
        (ForgeKind::Github, "check_run", _, Some("rerequested")) => {
            "github/webhooks/check_run/rerequested.json"
        }
        (ForgeKind::Gitea, _, Some("issues"), Some("opened")) => {
            "gitea/webhooks/constructed/issues-opened.json"
        }
        (ForgeKind::Gitea, _, Some("issue_comment"), Some("created")) => {
            "gitea/webhooks/constructed/issue_comment-on-issue.json"
        }
        (ForgeKind::Gitea, _, Some("pull_request_comment"), Some("created")) => {
            "gitea/webhooks/constructed/issue_comment-on-pull.json"
        }
        (ForgeKind::Gitea, _, Some("pull_request"), Some("opened")) => {
            "gitea/webhooks/constructed/pull_request-opened.json"
        }
        (ForgeKind::Gitea, _, Some("pull_request_sync"), _) => {
            "gitea/webhooks/constructed/pull_request-synchronized.json"
        }
        (ForgeKind::Gitea, _, Some("pull_request_review_approved"), _) => {
            "gitea/webhooks/constructed/pull_request_review-approved.json"
        }
        (ForgeKind::Gitea, _, Some("push"), _) => "gitea/webhooks/constructed/push.json",
        _ => return None,
    })
}

/// Checks one received delivery and returns what ade makes of it.
fn check(
    kind: ForgeKind,
    forgejo: bool,
    received: &Received,
    missing: &mut Vec<String>,
) -> Normalized {
    let body = &received.body;
    let (event, event_type) = match kind {
        ForgeKind::Github => {
            let signature = received.header("x-hub-signature-256").map(str::as_bytes);
            verify_github(&[Secret::new(SECRET)], signature, body)
                .expect("GitHub signature verifies");
            assert!(received.header("x-github-delivery").is_some());
            (received.header("x-github-event").unwrap(), None)
        }
        ForgeKind::Gitea => {
            let signature = received.header("x-gitea-signature").map(str::as_bytes);
            verify_gitea(&[Secret::new(SECRET)], "X-Gitea-Signature", signature, body)
                .expect("Gitea signature verifies");
            assert_eq!(
                received.header("x-gitea-delivery"),
                received.header("x-gogs-delivery")
            );
            if forgejo {
                let signature = received.header("x-forgejo-signature").map(str::as_bytes);
                verify_gitea(
                    &[Secret::new(SECRET)],
                    "X-Forgejo-Signature",
                    signature,
                    body,
                )
                .expect("Forgejo signature verifies");
                assert_eq!(
                    received.header("x-forgejo-event"),
                    received.header("x-gitea-event")
                );
                assert_eq!(
                    received.header("x-forgejo-event-type"),
                    received.header("x-gitea-event-type")
                );
            }
            (
                received.header("x-gitea-event").unwrap(),
                received.header("x-gitea-event-type"),
            )
        }
    };
    let value: Value = serde_json::from_slice(body).unwrap();
    if let Some(corpus) = corpus()
        && let Some(file) = corpus_file(kind, event, event_type, value["action"].as_str())
    {
        let example: Value =
            serde_json::from_slice(&std::fs::read(corpus.join(file)).unwrap()).unwrap();
        let mut here = Vec::new();
        missing_fields(&value, &example, "", &mut here);
        here.retain(|m| !forgejo || !FORGEJO_LACKS.iter().any(|f| m.ends_with(&format!(".{f}"))));
        missing.extend(here.into_iter().map(|m| format!("{file}: {m}")));
    }
    normalize(kind, &EventHeaders { event, event_type }, body)
        .unwrap_or_else(|e| panic!("{event}: {e}"))
}

fn event_kind(outcome: &Normalized) -> &EventKind {
    match outcome {
        Normalized::Event(event) => &event.kind,
        Normalized::Ignored(reason) => panic!("expected an event, ignored: {reason}"),
    }
}

async fn every_action_sends_what_ade_reads(kind: ForgeKind, forgejo: bool) {
    let receiver = Receiver::start().await;
    let f = forge_with(kind, |o| {
        o.webhook_secret = SECRET.into();
        o.forgejo = forgejo;
    })
    .await;
    f.sim.set_webhook_url(Some(receiver.url.clone()));
    let sim = &f.sim;
    let issue = sim
        .open_issue(REPO, "maintainer", "Goal", "- [ ] one\n- [ ] two")
        .await
        .unwrap();
    let comment = sim
        .comment(REPO, issue, "maintainer", "/ade plan")
        .await
        .unwrap();
    sim.edit_comment(REPO, comment, "maintainer", "/ade plan again")
        .await
        .unwrap();
    sim.push(
        REPO,
        "maintainer",
        "topic",
        &[("t.txt", Some("1\n"))],
        "one",
    )
    .await
    .unwrap();
    let api = Api::new(&f);
    let opened = api
        .post(
            "/repos/octo/demo/pulls",
            json!({ "title": "Approval", "body": "b", "head": "topic", "base": "main" }),
        )
        .await;
    assert_eq!(opened.status, 201, "{:?}", opened.json);
    let pr = opened.json["number"].as_i64().unwrap();
    sim.comment(REPO, pr, "reader", "/ade status")
        .await
        .unwrap();
    sim.push(
        REPO,
        "maintainer",
        "topic",
        &[("t.txt", Some("2\n"))],
        "two",
    )
    .await
    .unwrap();
    sim.review(REPO, pr, "reader", ReviewState::ChangesRequested, "no")
        .await
        .unwrap();
    sim.review(REPO, pr, "octo", ReviewState::Approved, "yes")
        .await
        .unwrap();
    let mut expected = vec![
        "issue_opened",
        "comment_created",
        "comment_edited",
        "ignored",
        "pull_request_opened",
        "comment_created",
        "ignored",
        "pull_request_synchronized",
        "review_submitted",
        "review_submitted",
    ];
    if kind == ForgeKind::Github {
        let head = sim.pull(REPO, pr).unwrap().head_sha;
        let run = api
            .post("/repos/octo/demo/check-runs", json!({ "name": "ade/verify", "head_sha": head, "conclusion": "failure", "status": "completed" }))
            .await;
        sim.rerequest_check(REPO, run.json["id"].as_i64().unwrap(), "maintainer")
            .await
            .unwrap();
        expected.push("check_run_rerequested");
    }
    sim.merge_pull(REPO, pr, "maintainer", ade::sim::MergeStyle::Merge)
        .await
        .unwrap();
    sim.set_issue_open(REPO, issue, "maintainer", false)
        .await
        .unwrap();
    expected.extend([
        "pull_request_closed",
        "push_to_default_branch",
        "issue_closed",
    ]);

    let received = receiver.wait_for(expected.len()).await;
    let mut missing = Vec::new();
    let outcomes: Vec<Normalized> = received
        .iter()
        .map(|r| check(kind, forgejo, r, &mut missing))
        .collect();
    let names: Vec<&str> = outcomes
        .iter()
        .map(|o| match o {
            Normalized::Event(e) => e.name(),
            Normalized::Ignored(_) => "ignored",
        })
        .collect();
    assert_eq!(names, expected);
    assert!(
        missing.is_empty(),
        "fields the corpus examples have and the simulator lacks:\n{}",
        missing.join("\n")
    );

    match event_kind(&outcomes[1]) {
        EventKind::CommentCreated(c) => {
            assert_eq!(c.id, comment);
            assert_eq!(c.body, "/ade plan");
            assert_eq!(c.author.login, "maintainer");
            assert_eq!(c.issue.number, issue);
            assert!(!c.issue.is_pull_request);
            assert_eq!(c.issue.body, "- [ ] one\n- [ ] two");
        }
        other => panic!("{other:?}"),
    }
    match event_kind(&outcomes[5]) {
        EventKind::CommentCreated(c) => assert!(c.issue.is_pull_request),
        other => panic!("{other:?}"),
    }
    match event_kind(&outcomes[7]) {
        EventKind::PullRequestSynchronized(p) => {
            assert_eq!(p.head.branch, "topic");
            assert_eq!(p.head.sha, sim.branch_sha(REPO, "topic").await.unwrap());
        }
        other => panic!("{other:?}"),
    }
    match (event_kind(&outcomes[8]), event_kind(&outcomes[9])) {
        (EventKind::ReviewSubmitted(rejected), EventKind::ReviewSubmitted(approved)) => {
            assert_eq!(rejected.state, ReviewState::ChangesRequested);
            assert_eq!(approved.state, ReviewState::Approved);
            assert_eq!(approved.author.login, "octo");
            assert_eq!(approved.pull_request_number, pr);
        }
        other => panic!("{other:?}"),
    }
    let closed = outcomes.len() - 3;
    match event_kind(&outcomes[closed]) {
        EventKind::PullRequestClosed(p) => {
            assert!(p.merged);
            assert!(p.merge_commit_sha.is_some());
        }
        other => panic!("{other:?}"),
    }
    match &outcomes[closed + 1] {
        Normalized::Event(e) => {
            assert_eq!(e.repository.as_ref().unwrap().full_name, REPO);
            if kind == ForgeKind::Github {
                assert_eq!(e.installation_id, f.installation);
            }
        }
        other => panic!("{other:?}"),
    }
    for delivery in sim.deliveries() {
        assert_eq!(
            delivery.outcome,
            ade::sim::DeliveryOutcome::Sent { status: 202 }
        );
    }
    // Every body against what the corpus says the forge sends: GitHub's webhook schemas, Gitea's
    // and Forgejo's API definitions of the objects a payload carries.
    let dialect = crate::conformance::record::Dialect::of(kind, forgejo);
    let report = crate::conformance::record::check(dialect, &[], &sim.deliveries());
    report.assert_clean("the simulator's webhooks");
}

#[tokio::test]
async fn github_webhooks_normalize_and_match_the_corpus() {
    every_action_sends_what_ade_reads(ForgeKind::Github, false).await;
}

#[tokio::test]
async fn gitea_webhooks_normalize_and_match_the_corpus() {
    every_action_sends_what_ade_reads(ForgeKind::Gitea, false).await;
}

#[tokio::test]
async fn forgejo_webhooks_carry_forgejo_headers() {
    every_action_sends_what_ade_reads(ForgeKind::Gitea, true).await;
}
