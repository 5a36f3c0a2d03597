//! The round trips the verification and review gate adds: annotated checks in every state and
//! through every target, a pull request read and moved between draft and ready (GraphQL on
//! GitHub, the title on Gitea), review bodies and line comments, a draft refused a merge, and a
//! goal's issue closed. Each result is checked against the simulator's state, and each step
//! against the number of calls it should cost.

use super::world::{Dialect, REPO, World};
use ade::forge::ReviewState;
use ade::forge::{
    AnnotationLevel, Check, CheckAnnotation, CheckState, CheckTarget, ForgeError, ForgePullRequest,
    ForgeReviewComment, MergeMethod, MergeRefusal,
};

fn annotation(i: u32) -> CheckAnnotation {
    CheckAnnotation {
        path: "src/lib.rs".into(),
        start_line: 1 + i % 3,
        end_line: 1 + i % 3 + u32::from(i.is_multiple_of(2)),
        start_column: Some(5),
        level: [
            AnnotationLevel::Notice,
            AnnotationLevel::Warning,
            AnnotationLevel::Failure,
        ][(i % 3) as usize],
        message: format!("finding {i}"),
        title: Some("lint".into()),
    }
}

/// `ade/policy` on the head: created with 120 annotations, updated, found again, in the states
/// the gate reports; how each reads on the forge, and what each costs.
pub async fn annotated_checks(w: &World, head: &str) {
    let check = |state: CheckState, annotations: Vec<u32>| Check {
        name: "ade/policy".into(),
        head_sha: head.to_owned(),
        state,
        title: "policy".into(),
        summary: "the summary".into(),
        text: Some("the details".into()),
        annotations: annotations.into_iter().map(annotation).collect(),
        details_url: Some("https://ade.example.com/runs/8".into()),
        external_id: Some("run-8".into()),
    };
    let before = w.sim.calls().len();
    let created = w
        .forge
        .set_check(
            &w.repo,
            &check(CheckState::InProgress, (0..120).collect()),
            CheckTarget::Create,
        )
        .await
        .unwrap();
    let spent = w.sim.calls().len() - before;
    let stored = policy_checks(w, head);
    match w.dialect {
        Dialect::Github => {
            assert_eq!(
                spent, 3,
                "50 + 50 + 20 annotations: one create, two updates"
            );
            assert_eq!(stored.len(), 1);
            let run = &stored[0];
            assert_eq!(run.id, created.id);
            assert_eq!(run.annotations.len(), 120);
            assert_eq!(run.annotations[7].message, "finding 7");
            let single = &run.annotations[1];
            assert_eq!((single.start_line, single.end_line), (2, 2));
            assert_eq!(single.start_column, Some(5), "a column on one line is kept");
            let spread = &run.annotations[0];
            assert_eq!(
                (spread.start_line, spread.end_line, spread.start_column),
                (1, 2, None)
            );
            assert_eq!(run.annotations[2].level, "failure");
            assert_eq!(run.text.as_deref(), Some("the details"));
            assert_eq!(
                (run.title.as_str(), run.summary.as_str()),
                ("policy", "the summary")
            );
        }
        Dialect::Gitea | Dialect::Forgejo => {
            assert_eq!(spent, 1, "one status; annotations have no place on Gitea");
            assert!(stored[0].annotations.is_empty() && stored[0].text.is_none());
        }
    }

    let states = [
        (
            CheckState::Error,
            "failure",
            "error",
            CheckState::Failure,
            CheckState::Error,
        ),
        (
            CheckState::Cancelled,
            "cancelled",
            "warning",
            CheckState::Cancelled,
            CheckState::Neutral,
        ),
        (
            CheckState::Neutral,
            "neutral",
            "success",
            CheckState::Neutral,
            CheckState::Success,
        ),
    ];
    for (state, github_raw, gitea_raw, github_read, gitea_read) in states {
        let before = w.sim.calls().len();
        w.forge
            .set_check(
                &w.repo,
                &check(state, Vec::new()),
                CheckTarget::Update(created.id),
            )
            .await
            .unwrap();
        assert_eq!(w.sim.calls().len() - before, 1, "{state:?}: one call");
        let last = policy_checks(w, head).pop().unwrap();
        match w.dialect {
            Dialect::Github => {
                assert_eq!(last.id, created.id, "updated in place");
                assert_eq!(last.conclusion.as_deref(), Some(github_raw), "{state:?}");
                assert_eq!(last.state, github_read);
                assert_eq!(
                    last.annotations.len(),
                    120,
                    "an update without any adds none"
                );
                let title = if state == CheckState::Error {
                    "Error: policy"
                } else {
                    "policy"
                };
                assert_eq!(last.title, title, "an error says so, its conclusion cannot");
            }
            Dialect::Gitea | Dialect::Forgejo => {
                assert_eq!(last.raw_state, gitea_raw, "{state:?}");
                assert_eq!(last.state, gitea_read);
            }
        }
    }

    let before = w.sim.calls().len();
    let found = w
        .forge
        .set_check(
            &w.repo,
            &check(CheckState::Failure, (70..120).chain(200..202).collect()),
            CheckTarget::Find,
        )
        .await
        .unwrap();
    let spent = w.sim.calls().len() - before;
    let stored = policy_checks(w, head);
    match w.dialect {
        Dialect::Github => {
            assert_eq!(found.id, created.id, "found, not created again");
            assert_eq!(stored.len(), 1);
            assert_eq!(
                stored[0].annotations.len(),
                122,
                "the two annotations the run lacked were added, the fifty it had were not"
            );
            assert_eq!(
                spent, 4,
                "look for the run, read its 120 annotations (two pages), one update"
            );
        }
        Dialect::Gitea | Dialect::Forgejo => assert_eq!(spent, 1),
    }
}

fn policy_checks(w: &World, head: &str) -> Vec<ade::sim::SimCheck> {
    w.sim
        .checks(REPO, head)
        .into_iter()
        .filter(|c| c.name == "ade/policy")
        .collect()
}

/// Reads the pull request as the gate does, and moves it to draft and back.
pub async fn drafts(w: &World, number: i64) {
    let pull = w.forge.pull_request(&w.repo, number).await.unwrap();
    let stored = w.sim.pull(REPO, number).unwrap();
    assert_eq!(pull.number, number);
    assert_eq!(pull.title, stored.title);
    assert_eq!(
        (pull.head_branch.as_str(), pull.base_branch.as_str()),
        ("ade/1-greet", "main")
    );
    assert_eq!(pull.head_sha, stored.head_sha);
    assert!(pull.open && !pull.merged && !pull.draft);
    match w.dialect {
        Dialect::Github => assert!(pull.node_id.is_some()),
        Dialect::Gitea | Dialect::Forgejo => assert_eq!(pull.node_id, None),
    }

    let before = w.sim.calls().len();
    w.forge.set_draft(&w.repo, &pull, false).await.unwrap();
    assert_eq!(w.sim.calls().len(), before, "already ready: no call");

    w.forge.set_draft(&w.repo, &pull, true).await.unwrap();
    let drafted = w.sim.pull(REPO, number).unwrap();
    assert!(drafted.draft);
    let read = w.forge.pull_request(&w.repo, number).await.unwrap();
    assert!(read.draft, "the client reads the draft back");
    w.forge.set_draft(&w.repo, &read, false).await.unwrap();
    let ready = w.sim.pull(REPO, number).unwrap();
    assert!(!ready.draft);
    assert_eq!(ready.title, stored.title, "the title is as it was");

    match w.dialect {
        Dialect::Github => {
            let mutations = w.sim.calls_to("POST", "/graphql");
            assert_eq!(mutations.len(), 2);
            for (call, name) in mutations
                .iter()
                .zip(["convertPullRequestToDraft", "markPullRequestReadyForReview"])
            {
                assert_eq!(call.status, 200);
                let body = call.json();
                assert!(body["query"].as_str().unwrap().contains(name), "{body}");
                assert_eq!(body["variables"]["id"].as_str(), pull.node_id.as_deref());
                let answer = call.response_json();
                assert!(answer.get("errors").is_none(), "{answer}");
                assert_eq!(answer["data"][name]["pullRequest"]["number"], number);
            }
            let hooks: Vec<String> = w
                .sim
                .deliveries()
                .iter()
                .filter(|d| d.event == "pull_request")
                .filter_map(|d| {
                    let body: serde_json::Value = serde_json::from_str(&d.body).ok()?;
                    Some(body["action"].as_str()?.to_owned())
                })
                .filter(|a| a == "converted_to_draft" || a == "ready_for_review")
                .collect();
            assert_eq!(hooks, vec!["converted_to_draft", "ready_for_review"]);
        }
        Dialect::Gitea | Dialect::Forgejo => {
            let edits = w.sim.calls_to("PATCH", "/api/v1/repos/*/*/pulls/*");
            let titles: Vec<String> = edits
                .iter()
                .rev()
                .take(2)
                .rev()
                .map(|c| c.json()["title"].as_str().unwrap().to_owned())
                .collect();
            assert_eq!(
                titles,
                vec![format!("WIP: {}", stored.title), stored.title.clone()]
            );
        }
    }
}

/// A review with line comments, read back as the retry's feedback.
pub async fn review_comments(w: &World, number: i64) {
    let refused = w
        .sim
        .review_with_comments(
            REPO,
            number,
            "reader",
            (ReviewState::Commented, "x"),
            &[("README.md", 1, "not in the diff")],
        )
        .await;
    assert!(refused.is_err(), "a line the diff does not show is refused");
    let review = w
        .sim
        .review_with_comments(
            REPO,
            number,
            "reader",
            (ReviewState::Commented, "Two things."),
            &[
                ("src/lib.rs", 2, "`43` needs a reason"),
                ("src/lib.rs", 1, "and a doc comment"),
            ],
        )
        .await
        .unwrap();
    let reviews = w.forge.list_reviews(&w.repo, number).await.unwrap();
    let last = reviews.last().unwrap();
    assert_eq!((last.id, last.body.as_str()), (review, "Two things."));

    let comments = w.forge.list_review_comments(&w.repo, number).await.unwrap();
    let comment = |line: u32, body: &str| ForgeReviewComment {
        id: 0,
        author: "reader".into(),
        body: body.into(),
        path: Some("src/lib.rs".into()),
        line: Some(line),
        earlier: false,
        review_id: Some(review),
    };
    let mut read = comments.clone();
    read.iter_mut().for_each(|c| c.id = 0);
    assert_eq!(
        read,
        vec![
            comment(2, "`43` needs a reason"),
            comment(1, "and a doc comment")
        ]
    );
    let stored: Vec<i64> = w
        .sim
        .review_comments(REPO, number)
        .iter()
        .map(|c| c.id)
        .collect();
    assert_eq!(comments.iter().map(|c| c.id).collect::<Vec<_>>(), stored);
    if w.dialect != Dialect::Github {
        let asked = w
            .sim
            .calls_to("GET", "/api/v1/repos/*/*/pulls/*/reviews/*/comments");
        assert_eq!(
            asked.len(),
            1,
            "only the review with comments is asked for them"
        );
    }
}

/// While a draft, the pull request does not merge, and the refusal says why.
pub async fn a_draft_does_not_merge(w: &World, number: i64, head: &str) {
    let pull = w.forge.pull_request(&w.repo, number).await.unwrap();
    w.forge.set_draft(&w.repo, &pull, true).await.unwrap();
    let at_head = ForgePullRequest {
        head_sha: head.to_owned(),
        ..pull.clone()
    };
    let refused = w
        .forge
        .merge(&w.repo, &at_head, MergeMethod::Squash)
        .await
        .unwrap_err();
    assert!(
        matches!(
            refused,
            ForgeError::MergeRefused {
                refusal: MergeRefusal::NotMergeable,
                ..
            }
        ),
        "{refused:?}"
    );
    let draft = w.forge.pull_request(&w.repo, number).await.unwrap();
    w.forge.set_draft(&w.repo, &draft, false).await.unwrap();
    assert!(!w.sim.pull(REPO, number).unwrap().draft);
}

/// The goal's issue closed.
pub async fn close_issue(w: &World, issue: i64) {
    assert!(w.sim.issue(REPO, issue).unwrap().open);
    w.forge.close_issue(&w.repo, issue).await.unwrap();
    assert!(!w.sim.issue(REPO, issue).unwrap().open);
}
