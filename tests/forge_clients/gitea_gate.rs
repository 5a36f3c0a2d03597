//! What the verification and review gate asks of the Gitea/Forgejo client: checks as commit
//! statuses (whatever the target), pull requests as the gate reads them, drafts by title prefix,
//! closing issues, review comments asked for only where there are some, and merge refusals told
//! apart; every request checked against Gitea's and Forgejo's descriptions.

use super::fake::{Answer, FakeForge};
use super::gitea::{PREFIX, client, spec};
use super::openapi::assert_conforms;
use super::support::{pull_at, repo};
use ade::forge::{
    AnnotationLevel, Check, CheckAnnotation, CheckState, CheckTarget, Forge, ForgeError,
    ForgePullRequest, ForgeReviewComment, MergeMethod, MergeRefusal,
};
use serde_json::{Value, json};

const SHA: &str = "6dcb09b5b57875f334f61aebed695e2e4193db5e";
const REPO: &str = "/repos/octo-org/hello-world";

fn user(login: &str) -> Value {
    json!({ "id": 3, "login": login })
}

fn pull(title: &str, draft: Option<bool>) -> Value {
    let mut value = json!({
        "id": 1, "number": 8, "title": title, "state": "open", "merged": false,
        "html_url": "https://gitea.example.com/octo-org/hello-world/pulls/8",
        "head": { "label": "ade/1-task", "ref": "ade/1-task", "sha": SHA },
        "base": { "label": "main", "ref": "main", "sha": "b".repeat(40) }
    });
    if let Some(draft) = draft {
        value["draft"] = Value::Bool(draft);
    }
    value
}

fn forge_pull(title: &str, draft: bool) -> ForgePullRequest {
    serde_json::from_value(json!({
        "number": 8, "url": "u", "title": title, "head_sha": SHA, "head_branch": "ade/1-task",
        "base_branch": "main", "open": true, "merged": false, "draft": draft, "node_id": null
    }))
    .unwrap()
}

fn review(id: i64, state: &str, body: &str, comments: i64) -> Value {
    json!({ "id": id, "user": user("bob"), "state": state, "body": body, "commit_id": SHA,
            "dismissed": false, "stale": false, "official": true, "comments_count": comments })
}

/// A Gitea whose pull request titles follow the PATCHes it gets; `honours_wip` false plays a
/// server whose `WORK_IN_PROGRESS_PREFIXES` lack `WIP:`.
async fn gitea_fake(honours_wip: bool) -> FakeForge {
    FakeForge::start(move |r| {
        let route = r.route(PREFIX).replacen(REPO, "", 1);
        match route.as_str() {
            "GET /pulls/8" => Answer::json(200, pull("WIP: ade: task 1", Some(true))),
            "PATCH /pulls/8" => {
                let title = r.body.as_ref().unwrap()["title"].as_str().unwrap().to_string();
                let draft = honours_wip && title.to_lowercase().starts_with("wip:");
                Answer::json(201, pull(&title, Some(draft)))
            }
            "PATCH /issues/7" => Answer::json(201, json!({ "id": 1, "number": 7, "state": "closed", "title": "Goal" })),
            x if x == format!("POST /statuses/{SHA}") => Answer::json(201, json!({ "id": 5, "status": r.body.as_ref().unwrap()["state"], "context": "ade/verify" })),
            "GET /pulls/8/reviews" => Answer::json(200, json!([
                review(80, "REQUEST_CHANGES", "Please rename it.", 2),
                review(81, "COMMENT", "", 0),
                review(82, "REQUEST_REVIEW", "", 0),
                review(83, "PENDING", "draft", 1)
            ])).header("x-total-count", 4),
            "GET /pulls/8/reviews/80/comments" => Answer::json(200, json!([
                { "id": 501, "user": user("bob"), "body": "`answer` is vague", "path": "src/lib.rs", "position": 2, "original_position": 0, "pull_request_review_id": 80, "diff_hunk": "@@" },
                { "id": 502, "user": user("bob"), "body": "this went", "path": "src/old.rs", "position": 0, "original_position": 7, "pull_request_review_id": 80, "diff_hunk": "@@" }
            ])),
            "POST /pulls/8/merge" => {
                let head = r.body.as_ref().unwrap()["head_commit_id"].as_str().unwrap_or_default().to_string();
                match head.chars().next() {
                    Some('1') => Answer::json(409, json!({ "message": "head out of date", "url": "" })),
                    Some('2') => Answer::json(405, json!({ "message": "not allowed to merge [reason: Does not have enough approvals]", "url": "" })),
                    Some('3') => Answer::json(405, json!({ "message": "Work in progress PRs cannot be merged", "url": "" })),
                    Some('4') => Answer::json(409, json!({ "message": "merge conflicts with the base branch", "url": "" })),
                    _ => Answer::empty(200),
                }
            }
            other => Answer::json(418, json!({ "message": other })),
        }
    })
    .await
}

fn routes(fake: &FakeForge) -> Vec<String> {
    fake.requests()
        .iter()
        .map(|r| r.route(PREFIX).replacen(REPO, "", 1))
        .collect()
}

#[tokio::test]
async fn checks_are_one_status_whatever_the_target() {
    let fake = gitea_fake(true).await;
    let gitea = client(&fake);
    let repo = repo(None);
    let annotation = CheckAnnotation {
        path: "src/lib.rs".into(),
        start_line: 1,
        end_line: 1,
        start_column: None,
        level: AnnotationLevel::Failure,
        message: "m".into(),
        title: None,
    };
    for (state, target, expected) in [
        (CheckState::Error, CheckTarget::Create, "error"),
        (CheckState::Cancelled, CheckTarget::Update(41), "warning"),
        (CheckState::Neutral, CheckTarget::Find, "success"),
        (CheckState::Queued, CheckTarget::Create, "pending"),
    ] {
        let check = Check {
            name: "ade/verify".into(),
            head_sha: SHA.into(),
            state,
            title: "é".repeat(150),
            summary: "only GitHub shows this".into(),
            text: Some("nor this".into()),
            annotations: vec![annotation.clone(); 60],
            details_url: Some("https://ade.example.com/runs/1".into()),
            external_id: None,
        };
        let before = fake.requests().len();
        gitea.set_check(&repo, &check, target).await.unwrap();
        let sent = &fake.requests()[before..];
        assert_eq!(sent.len(), 1, "{state:?}: one status, no look-up");
        let body = sent[0].body.as_ref().unwrap();
        assert_eq!(body["state"], expected, "{state:?}");
        assert_eq!(body["description"].as_str().unwrap().chars().count(), 140);
        let mut keys: Vec<&String> = body.as_object().unwrap().keys().collect();
        keys.sort();
        assert_eq!(keys, vec!["context", "description", "state", "target_url"]);
    }
    for forgejo in [false, true] {
        if let Some(spec) = spec(forgejo) {
            assert_conforms(&[spec], &fake.requests());
        }
    }
}

#[tokio::test]
async fn drafts_are_a_title_prefix_changed_in_one_edit() {
    let fake = gitea_fake(true).await;
    let gitea = client(&fake);
    let repo = repo(None);

    let pull = gitea.pull_request(&repo, 8).await.unwrap();
    assert_eq!(
        (pull.title.as_str(), pull.draft, pull.node_id.as_deref()),
        ("WIP: ade: task 1", true, None)
    );
    assert_eq!(
        (pull.head_branch.as_str(), pull.base_branch.as_str()),
        ("ade/1-task", "main")
    );

    let before = fake.requests().len();
    gitea.set_draft(&repo, &pull, true).await.unwrap();
    assert_eq!(fake.requests().len(), before, "already a draft: no call");

    gitea.set_draft(&repo, &pull, false).await.unwrap();
    gitea
        .set_draft(&repo, &forge_pull("[WIP] wip: ade: task 1", true), false)
        .await
        .unwrap();
    gitea
        .set_draft(&repo, &forge_pull("ade: task 1", false), true)
        .await
        .unwrap();
    let titles: Vec<String> = fake
        .requests()
        .iter()
        .filter(|r| r.method == "PATCH")
        .map(|r| {
            let body = r.body.as_ref().unwrap();
            assert_eq!(body.as_object().unwrap().len(), 1, "only the title changes");
            body["title"].as_str().unwrap().to_string()
        })
        .collect();
    assert_eq!(
        titles,
        vec!["ade: task 1", "ade: task 1", "WIP: ade: task 1"]
    );

    let strict = gitea_fake(false).await;
    let refused = client(&strict)
        .set_draft(&repo, &forge_pull("ade: task 1", false), true)
        .await
        .unwrap_err();
    assert!(
        matches!(&refused, ForgeError::Rejected(m) if m.contains("WORK_IN_PROGRESS_PREFIXES")),
        "{refused:?}"
    );
    for forgejo in [false, true] {
        if let Some(spec) = spec(forgejo) {
            assert_conforms(&[spec], &fake.requests());
        }
    }
}

#[tokio::test]
async fn review_comments_are_asked_for_only_where_there_are_some() {
    let fake = gitea_fake(true).await;
    let gitea = client(&fake);
    let repo = repo(None);
    let reviews = gitea.list_reviews(&repo, 8).await.unwrap();
    let read: Vec<(i64, &str)> = reviews.iter().map(|r| (r.id, r.body.as_str())).collect();
    assert_eq!(read, vec![(80, "Please rename it."), (81, "")]);

    let comments = gitea.list_review_comments(&repo, 8).await.unwrap();
    let comment = |id: i64, path: &str, line: u32, body: &str| ForgeReviewComment {
        id,
        author: "bob".into(),
        body: body.into(),
        path: Some(path.into()),
        line: Some(line),
        // On the old side of the diff: a line of the base's version.
        earlier: path == "src/old.rs",
        review_id: Some(80),
    };
    assert_eq!(
        comments,
        vec![
            comment(501, "src/lib.rs", 2, "`answer` is vague"),
            comment(502, "src/old.rs", 7, "this went"),
        ]
    );
    let calls = routes(&fake);
    assert_eq!(
        calls
            .iter()
            .filter(|r| r.contains("/comments"))
            .collect::<Vec<_>>(),
        vec!["GET /pulls/8/reviews/80/comments"],
        "reviews without comments, review requests and pending reviews are not asked"
    );

    gitea.close_issue(&repo, 7).await.unwrap();
    let close = fake
        .requests()
        .into_iter()
        .find(|r| r.method == "PATCH")
        .unwrap();
    assert_eq!(close.body, Some(json!({ "state": "closed" })));
    for forgejo in [false, true] {
        if let Some(spec) = spec(forgejo) {
            assert_conforms(&[spec], &fake.requests());
        }
    }
}

#[tokio::test]
async fn merge_refusals_say_why() {
    let fake = gitea_fake(true).await;
    let gitea = client(&fake);
    let repo = repo(None);
    for (lead, expected) in [
        ('1', MergeRefusal::HeadMoved),
        ('2', MergeRefusal::Protected),
        ('3', MergeRefusal::NotMergeable),
        ('4', MergeRefusal::NotMergeable),
    ] {
        let sha = lead.to_string().repeat(40);
        match gitea
            .merge(&repo, &pull_at(8, &sha), MergeMethod::Merge)
            .await
        {
            Err(ForgeError::MergeRefused { refusal, message }) => {
                assert_eq!(refusal, expected, "{message}");
            }
            other => panic!("{lead}: {other:?}"),
        }
    }
    gitea
        .merge(&repo, &pull_at(8, SHA), MergeMethod::Squash)
        .await
        .unwrap();
    let last = fake.requests().pop().unwrap();
    assert_eq!(
        last.body,
        Some(json!({ "Do": "squash", "head_commit_id": SHA }))
    );
    assert_eq!(fake.requests().len(), 5, "refusals are not retried");
    for forgejo in [false, true] {
        if let Some(spec) = spec(forgejo) {
            assert_conforms(&[spec], &fake.requests());
        }
    }
}
