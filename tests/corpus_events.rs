//! Every webhook body in the shared corpus (`../shared/corpus`, written by GitHub's, Gitea's and
//! Forgejo's users, not by us) normalizes without an error or a panic, and the bodies whose meaning
//! is known normalize to the event a reader of the body would name. Where the corpus is absent the
//! tests say so and pass; the unit tests' own fixtures still run.

use ade::events::{EventHeaders, EventKind, Normalized, normalize};
use ade::forge::ForgeKind;
use ade::forge::ReviewState;
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn corpus() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus");
    if dir.is_dir() {
        Some(dir)
    } else {
        println!("skipped: ../shared/corpus not present");
        None
    }
}

fn read(path: &Path) -> (Vec<u8>, Value) {
    let bytes = std::fs::read(path).unwrap_or_else(|err| panic!("{}: {err}", path.display()));
    let value = serde_json::from_slice(&bytes).unwrap_or_else(|err| panic!("{path:?}: {err}"));
    (bytes, value)
}

fn json_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|err| panic!("{}: {err}", dir.display()))
        .map(|entry| entry.expect("directory entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
        .collect();
    files.sort();
    files
}

fn run(
    forge: ForgeKind,
    event: &str,
    event_type: Option<&str>,
    body: &[u8],
    file: &str,
) -> Normalized {
    let headers = EventHeaders { event, event_type };
    normalize(forge, &headers, body).unwrap_or_else(|err| panic!("{file}: {err}"))
}

fn kind_name(outcome: &Normalized) -> &'static str {
    match outcome {
        Normalized::Event(event) => event.name(),
        Normalized::Ignored(_) => "ignored",
    }
}

/// The captured GitHub deliveries carry no header; their event is known from their source.
const GITHUB_CAPTURED: &[(&str, &str)] = &[(
    "go-playground-webhooks/pull-request-issue-comment.json",
    "issue_comment",
)];

#[test]
fn github_corpus_normalizes() {
    let Some(corpus) = corpus() else { return };
    let webhooks = corpus.join("github/webhooks");
    let mut walked = 0;
    let mut kinds = BTreeSet::new();
    let mut folders: Vec<PathBuf> = std::fs::read_dir(&webhooks)
        .expect("github/webhooks")
        .map(|entry| entry.expect("directory entry").path())
        .filter(|path| path.is_dir())
        .collect();
    folders.sort();
    for folder in folders {
        let event = folder
            .file_name()
            .and_then(|n| n.to_str())
            .expect("folder name")
            .to_owned();
        for path in json_files(&folder) {
            let file = format!("{event}/{}", path.file_name().unwrap().to_string_lossy());
            let (bytes, body) = read(&path);
            let outcome = run(ForgeKind::Github, &event, None, &bytes, &file);
            check_github(&event, &body, &outcome, &file);
            kinds.insert(kind_name(&outcome));
            walked += 1;
        }
    }
    let captured = corpus.join("github/webhooks-captured");
    for folder in std::fs::read_dir(&captured).expect("webhooks-captured") {
        let folder = folder.expect("directory entry").path();
        for path in json_files(&folder) {
            let relative = path
                .strip_prefix(&captured)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            let Some((_, event)) = GITHUB_CAPTURED.iter().find(|(file, _)| *file == relative)
            else {
                panic!("{relative}: a captured file this test does not know; add its event");
            };
            let (bytes, body) = read(&path);
            let outcome = run(ForgeKind::Github, event, None, &bytes, &relative);
            check_github(event, &body, &outcome, &relative);
            walked += 1;
        }
    }
    assert!(walked >= 135, "walked only {walked} GitHub files");
    // The corpus has no `issues closed` example; the unit tests cover it.
    for kind in [
        "comment_created",
        "comment_edited",
        "issue_opened",
        "issue_edited",
        "pull_request_opened",
        "pull_request_synchronized",
        "pull_request_reopened",
        "pull_request_closed",
        "review_submitted",
        "review_dismissed",
        "check_run_rerequested",
        "check_changed",
        "push_to_default_branch",
        "installation",
        "installation_repositories",
        "ignored",
    ] {
        assert!(
            kinds.contains(kind),
            "no GitHub corpus file normalized to {kind}"
        );
    }
}

/// What a reader of a GitHub body expects, stated from the body itself.
fn check_github(event: &str, body: &Value, outcome: &Normalized, file: &str) {
    let action = body["action"].as_str().unwrap_or("");
    let expected = match (event, action) {
        ("issue_comment", "created") => "comment_created",
        ("issue_comment", "edited") => "comment_edited",
        ("issues", "opened" | "edited" | "closed") => "issue_",
        ("pull_request", "opened" | "synchronize" | "reopened" | "closed") => "pull_request_",
        ("pull_request_review", "submitted") => "review_submitted",
        ("pull_request_review", "dismissed") => "review_dismissed",
        ("check_run", "rerequested") => "check_run_rerequested",
        ("check_run" | "check_suite" | "status", _) => "check_changed",
        ("push", _) => {
            let default = body["repository"]["default_branch"].as_str().unwrap_or("");
            let to_default = body["ref"].as_str() == Some(&format!("refs/heads/{default}"));
            if to_default && body["deleted"] != Value::Bool(true) {
                "push_to_default_branch"
            } else {
                "ignored"
            }
        }
        (
            "installation",
            "created" | "deleted" | "suspend" | "unsuspend" | "new_permissions_accepted",
        ) => "installation",
        ("installation_repositories", "added" | "removed") => "installation_repositories",
        _ => "ignored",
    };
    let name = kind_name(outcome);
    assert!(
        name.starts_with(expected),
        "{file}: expected {expected}, got {outcome:?}"
    );
    let event_value = match outcome {
        Normalized::Ignored(reason) => {
            assert!(
                reason.starts_with(event),
                "{file}: reason {reason:?} names no event"
            );
            assert!(
                reason.contains(action),
                "{file}: reason {reason:?} names no action"
            );
            return;
        }
        Normalized::Event(event_value) => event_value,
    };
    assert_eq!(
        event_value.installation_id,
        body["installation"]["id"].as_i64(),
        "{file}"
    );
    assert_eq!(
        event_value
            .repository
            .as_ref()
            .map(|r| r.full_name.as_str()),
        body["repository"]["full_name"].as_str(),
        "{file}"
    );
    match &event_value.kind {
        EventKind::CommentCreated(comment) | EventKind::CommentEdited(comment) => {
            assert_eq!(
                Some(comment.issue.number),
                body["issue"]["number"].as_i64(),
                "{file}"
            );
            assert_eq!(
                comment.issue.is_pull_request,
                body["issue"].get("pull_request").is_some()
            );
            assert_eq!(
                Some(comment.body.as_str()),
                body["comment"]["body"].as_str(),
                "{file}"
            );
            assert_eq!(
                Some(comment.author.login.as_str()),
                body["comment"]["user"]["login"].as_str()
            );
        }
        EventKind::PullRequestOpened(pr)
        | EventKind::PullRequestSynchronized(pr)
        | EventKind::PullRequestReopened(pr)
        | EventKind::PullRequestClosed(pr) => {
            let raw = &body["pull_request"];
            assert_eq!(Some(pr.number), raw["number"].as_i64(), "{file}");
            assert_eq!(
                Some(pr.head.sha.as_str()),
                raw["head"]["sha"].as_str(),
                "{file}"
            );
            assert_eq!(
                Some(pr.base.branch.as_str()),
                raw["base"]["ref"].as_str(),
                "{file}"
            );
            assert_eq!(pr.merged, raw["merged"] == Value::Bool(true), "{file}");
        }
        EventKind::ReviewSubmitted(review) | EventKind::ReviewDismissed(review) => {
            let state = match body["review"]["state"].as_str() {
                Some("approved") => ReviewState::Approved,
                Some("changes_requested") => ReviewState::ChangesRequested,
                Some("commented") => ReviewState::Commented,
                _ => ReviewState::Dismissed,
            };
            assert_eq!(review.state, state, "{file}");
            assert_eq!(
                Some(review.pull_request_number),
                body["pull_request"]["number"].as_i64()
            );
        }
        EventKind::CheckChanged(change) => {
            let sha = body["check_run"]["head_sha"]
                .as_str()
                .or(body["check_suite"]["head_sha"].as_str())
                .or(body["sha"].as_str());
            assert_eq!(Some(change.head_sha.as_str()), sha, "{file}");
            let name = body["check_run"]["name"]
                .as_str()
                .or(body["context"].as_str());
            assert_eq!(change.name.as_deref(), name, "{file}");
        }
        EventKind::PushToDefaultBranch(push) => {
            assert_eq!(Some(push.after.as_str()), body["after"].as_str(), "{file}");
        }
        _ => {}
    }
    if let Some(number) = body["issue"]["number"]
        .as_i64()
        .or(body["pull_request"]["number"].as_i64())
    {
        assert_eq!(event_value.kind.number(), Some(number), "{file}");
    }
}

/// The headers a Gitea or Forgejo server would send with an indexed body. Constructed files list
/// them. go-playground's tests send Gitea's fine event type as the event, so it is mapped back to
/// the coarse event with `event_vs_event_type`. Woodpecker's tests send the coarse event only, and
/// none for reviews: for those the body's `review.type` is the event type Gitea sent.
fn gitea_headers(entry: &Value, coarse: &Value, body: &Value) -> (String, Option<String>) {
    if let Some(event) = entry["event"].as_str() {
        return (
            event.to_owned(),
            entry["event_type"].as_str().map(str::to_owned),
        );
    }
    if let Some(fine) = entry["event_type_in_their_test"].as_str() {
        return match coarse[fine].as_str() {
            Some(event) => (event.to_owned(), Some(fine.to_owned())),
            None => (fine.to_owned(), None),
        };
    }
    if let Some(event) = entry["x_gitea_event_in_their_test"].as_str() {
        return (event.to_owned(), None);
    }
    match body["review"]["type"].as_str() {
        Some(fine) => {
            let event = coarse[fine].as_str().unwrap_or(fine);
            (event.to_owned(), Some(fine.to_owned()))
        }
        None => ("pull_request".to_owned(), None),
    }
}

/// What a reader of each Gitea body expects: the event kind, the number, and one telling detail.
fn gitea_expectation(file: &str) -> Option<(&'static str, Option<i64>, Detail)> {
    let name = file.rsplit('/').next().unwrap_or(file);
    let forge_capture = file.contains("woodpecker-");
    Some(
        match (
            file.contains("constructed/"),
            file.contains("go-playground"),
            name,
        ) {
            (true, _, "issues-opened.json") => ("issue_opened", Some(2), Detail::None),
            (true, _, "issue_comment-on-issue.json") => {
                ("comment_created", Some(2), Detail::IsPull(false))
            }
            (true, _, "issue_comment-on-pull.json") => {
                ("comment_created", Some(3), Detail::IsPull(true))
            }
            (true, _, "pull_request-opened.json") => ("pull_request_opened", Some(3), Detail::None),
            (true, _, "pull_request-synchronized.json") => {
                ("pull_request_synchronized", Some(3), Detail::None)
            }
            (true, _, "pull_request_review-approved.json") => (
                "review_submitted",
                Some(3),
                Detail::State(ReviewState::Approved),
            ),
            (true, _, "push.json") => ("ignored", None, Detail::None),
            (_, true, "issue-comment-event.json") => {
                ("comment_created", Some(1), Detail::IsPull(false))
            }
            (_, true, "pull-request-comment-event.json") => {
                ("comment_created", Some(2), Detail::IsPull(true))
            }
            (_, true, "issues-event.json") => ("issue_opened", Some(1), Detail::None),
            (_, true, "pull-request-event.json") => ("pull_request_opened", Some(2), Detail::None),
            (_, true, "pull-request-review-event.json") => (
                "review_submitted",
                Some(2),
                Detail::State(ReviewState::Commented),
            ),
            (_, true, "push-event.json") => ("push_to_default_branch", None, Detail::Commits(1)),
            (_, true, _) => ("ignored", None, Detail::None),
            _ if !forge_capture => return None,
            (_, _, "HookPullRequest.json") => ("pull_request_opened", Some(1), Detail::None),
            (_, _, "HookPullRequestClosed.json") => {
                ("pull_request_closed", Some(1), Detail::Merged(false))
            }
            (_, _, "HookPullRequestMerged.json") => {
                ("pull_request_closed", Some(1), Detail::Merged(true))
            }
            (_, _, "HookPullRequestReopened.json") => {
                ("pull_request_reopened", Some(1), Detail::None)
            }
            (_, _, "HookPullRequestUpdated.json") => {
                ("pull_request_synchronized", Some(2), Detail::None)
            }
            (_, _, "HookPullRequestReviewAck.json") => (
                "review_submitted",
                Some(7),
                Detail::State(ReviewState::Approved),
            ),
            (_, _, "HookPullRequestReviewDeny.json") => (
                "review_submitted",
                Some(7),
                Detail::State(ReviewState::ChangesRequested),
            ),
            (_, _, "HookPullRequestReviewComment.json") => (
                "review_submitted",
                Some(7),
                Detail::State(ReviewState::Commented),
            ),
            (_, _, "HookPushMulti.json") => ("push_to_default_branch", None, Detail::Commits(3)),
            // Trimmed by its authors to drop `repository.default_branch`: without it a push to `main`
            // cannot be told to be a default-branch push, so it is ignored with that reason.
            (_, _, "HookPush.json") => ("ignored", None, Detail::Reason("default_branch")),
            (_, _, "HookPushBranch.json") => {
                ("ignored", None, Detail::Reason("not the default branch"))
            }
            // Labels, milestones, assignees, review requests, edits, releases and tags.
            _ => ("ignored", None, Detail::None),
        },
    )
}

#[derive(Debug)]
enum Detail {
    None,
    IsPull(bool),
    Merged(bool),
    State(ReviewState),
    Commits(usize),
    Reason(&'static str),
}

#[test]
fn gitea_corpus_normalizes() {
    let Some(corpus) = corpus() else { return };
    let (_, index) = read(&corpus.join("gitea/webhooks/index.json"));
    let coarse = &index["event_vs_event_type"];
    let entries = index["files"].as_array().expect("files");
    let mut walked = 0;
    for entry in entries {
        let file = entry["file"].as_str().expect("file");
        let (bytes, body) = read(&corpus.join(file));
        let (event, event_type) = gitea_headers(entry, coarse, &body);
        let outcome = run(
            ForgeKind::Gitea,
            &event,
            event_type.as_deref(),
            &bytes,
            file,
        );
        let older = run(ForgeKind::Gitea, &event, None, &bytes, file);
        assert_eq!(
            kind_name(&outcome),
            kind_name(&older),
            "{file}: without X-Gitea-Event-Type"
        );
        let Some((expected, number, detail)) = gitea_expectation(file) else {
            panic!("{file}: no expectation for this file; add one");
        };
        assert_eq!(kind_name(&outcome), expected, "{file}: {outcome:?}");
        check_gitea_detail(&outcome, number, &detail, file);
        walked += 1;
    }
    assert!(walked >= 65, "walked only {walked} Gitea/Forgejo files");
}

fn check_gitea_detail(outcome: &Normalized, number: Option<i64>, detail: &Detail, file: &str) {
    let event = match outcome {
        Normalized::Ignored(reason) => {
            if let Detail::Reason(text) = detail {
                assert!(reason.contains(text), "{file}: {reason}");
            }
            return;
        }
        Normalized::Event(event) => event,
    };
    assert_eq!(event.kind.number(), number, "{file}");
    assert!(event.repository.is_some(), "{file}");
    match (&event.kind, detail) {
        (EventKind::CommentCreated(comment), Detail::IsPull(is_pull)) => {
            assert_eq!(comment.issue.is_pull_request, *is_pull, "{file}");
        }
        (EventKind::PullRequestClosed(pr), Detail::Merged(merged)) => {
            assert_eq!(pr.merged, *merged, "{file}");
        }
        (EventKind::ReviewSubmitted(review), Detail::State(state)) => {
            assert_eq!(review.state, *state, "{file}");
        }
        (EventKind::PushToDefaultBranch(push), Detail::Commits(count)) => {
            assert_eq!(push.commit_count, *count, "{file}");
        }
        (_, Detail::None) => {}
        (kind, detail) => panic!("{file}: {kind:?} cannot show {detail:?}"),
    }
}

/// Damaged bodies (a field removed or nulled, the bytes cut short) give an error or an ignore,
/// never a panic.
#[test]
fn damaged_corpus_bodies_never_panic() {
    let Some(corpus) = corpus() else { return };
    let mut cases: Vec<(ForgeKind, String, PathBuf)> = Vec::new();
    for folder in [
        "issue_comment",
        "issues",
        "pull_request",
        "pull_request_review",
        "check_run",
        "check_suite",
        "status",
        "push",
        "installation",
        "installation_repositories",
    ] {
        for path in json_files(&corpus.join("github/webhooks").join(folder))
            .into_iter()
            .take(2)
        {
            cases.push((ForgeKind::Github, folder.to_owned(), path));
        }
    }
    let gitea = [
        ("issue_comment", "constructed/issue_comment-on-pull.json"),
        ("issues", "constructed/issues-opened.json"),
        ("pull_request", "constructed/pull_request-opened.json"),
        (
            "pull_request_approved",
            "constructed/pull_request_review-approved.json",
        ),
        ("push", "captured/woodpecker-gitea/HookPushMulti.json"),
    ];
    for (event, file) in gitea {
        cases.push((
            ForgeKind::Gitea,
            event.to_owned(),
            corpus.join("gitea/webhooks").join(file),
        ));
    }
    for (forge, event, path) in cases {
        let (bytes, body) = read(&path);
        let headers = EventHeaders {
            event: &event,
            event_type: None,
        };
        for cut in (0..bytes.len()).step_by(bytes.len() / 16 + 1) {
            let _ = normalize(forge, &headers, &bytes[..cut]);
        }
        for damaged in damaged_variants(&body) {
            let _ = normalize(forge, &headers, &serde_json::to_vec(&damaged).unwrap());
        }
    }
}

fn damaged_variants(body: &Value) -> Vec<Value> {
    let mut variants = Vec::new();
    let Some(top) = body.as_object() else {
        return variants;
    };
    for (key, value) in top {
        let mut removed = body.clone();
        removed.as_object_mut().unwrap().remove(key);
        variants.push(removed);
        for replacement in [Value::Null, Value::from(1), Value::from("x")] {
            let mut changed = body.clone();
            changed[key] = replacement;
            variants.push(changed);
        }
        for inner in value
            .as_object()
            .map(|o| o.keys().collect::<Vec<_>>())
            .unwrap_or_default()
        {
            let mut changed = body.clone();
            changed[key][inner] = Value::Null;
            variants.push(changed);
        }
    }
    variants
}
