//! The routes the review gate uses, as strict as the forges: GitHub's GraphQL draft mutations
//! (the happy path, unknown operations, bad ids, permissions, the webhook), Gitea's drafts by
//! title, review bodies and line comments on both dialects, and closing issues.

use crate::support::{Answer, Api, REPO, forge};
use crate::webhooks::missing_from_corpus;
use ade::forge::ForgeKind;
use ade::forge::ReviewState;
use ade::sim::Simulator;
use serde_json::{Value, json};

const READY: &str = "mutation($id: ID!) { markPullRequestReadyForReview(input: {pullRequestId: $id}) { pullRequest { isDraft number } } }";

async fn graphql(api: &Api, query: &str, variables: Value) -> Answer {
    api.post(
        &format!("{}/graphql", api.base),
        json!({ "query": query, "variables": variables }),
    )
    .await
}

/// The pull_request deliveries with `action`, as JSON.
fn pull_hooks(sim: &Simulator, action: &str) -> Vec<Value> {
    sim.deliveries()
        .into_iter()
        .filter(|d| d.event == "pull_request")
        .map(|d| d.json())
        .filter(|b| b["action"] == action)
        .collect()
}

#[tokio::test]
async fn graphql_changes_drafts_as_github_does() {
    let f = forge(ForgeKind::Github).await;
    let api = Api::new(&f);
    f.sim
        .push(
            REPO,
            "maintainer",
            "topic",
            &[("t.txt", Some("1\n"))],
            "one",
        )
        .await
        .unwrap();
    let opened = api
        .post(
            "/repos/octo/demo/pulls",
            json!({ "title": "Approval", "head": "topic", "base": "main", "draft": true }),
        )
        .await;
    let number = opened.json["number"].as_i64().unwrap();
    let node_id = opened.json["node_id"].as_str().unwrap().to_owned();
    let read = api.get(&format!("/repos/octo/demo/pulls/{number}")).await;
    assert_eq!(
        read.json["node_id"],
        node_id.as_str(),
        "the REST id is the GraphQL id"
    );

    let ready = graphql(&api, READY, json!({ "id": node_id })).await;
    assert_eq!(ready.status, 200);
    assert_eq!(
        ready.json,
        json!({ "data": { "markPullRequestReadyForReview": { "pullRequest": { "isDraft": false, "number": number } } } })
    );
    assert!(!f.sim.pull(REPO, number).unwrap().draft);
    let hooks = pull_hooks(&f.sim, "ready_for_review");
    assert_eq!(hooks.len(), 1);
    assert_eq!(hooks[0]["pull_request"]["draft"], false);
    assert_eq!(hooks[0]["sender"]["login"], f.sim.app_bot_login());
    let missing = missing_from_corpus(
        "github/webhooks/pull_request/ready_for_review.json",
        &hooks[0],
    );
    assert!(
        missing.is_empty(),
        "fields the corpus example has: {missing:?}"
    );

    let again = graphql(&api, READY, json!({ "id": node_id })).await;
    assert_eq!(
        again.json["data"]["markPullRequestReadyForReview"]["pullRequest"]["isDraft"],
        false
    );
    assert_eq!(
        pull_hooks(&f.sim, "ready_for_review").len(),
        1,
        "no change, no webhook"
    );

    let inline = format!(
        "mutation Draft {{ d: convertPullRequestToDraft(input: {{pullRequestId: \"{node_id}\", clientMutationId: \"c-1\"}}) {{ clientMutationId pullRequest {{ id isDraft state }} }} }}"
    );
    let drafted = graphql(&api, &inline, Value::Null).await;
    assert_eq!(
        drafted.json,
        json!({ "data": { "d": { "clientMutationId": "c-1", "pullRequest": { "id": node_id, "isDraft": true, "state": "OPEN" } } } })
    );
    assert!(f.sim.pull(REPO, number).unwrap().draft);
    assert_eq!(pull_hooks(&f.sim, "converted_to_draft").len(), 1);

    for (query, variables, needle) in [
        (
            "mutation { mergePullRequest(input: {pullRequestId: \"x\"}) { clientMutationId } }",
            Value::Null,
            "doesn't exist on type 'Mutation'",
        ),
        (
            "{ viewer { login } }",
            Value::Null,
            "doesn't exist on type 'Query'",
        ),
        (
            READY,
            json!({}),
            "Variable $id of type ID! was provided invalid value",
        ),
        (
            "mutation { markPullRequestReadyForReview(input: {pullRequestId: $id}) { clientMutationId } }",
            json!({ "id": node_id }),
            "not declared",
        ),
        (
            "mutation($id: ID!) { markPullRequestReadyForReview(input: {pullRequestId: $id}) { pullRequest { mergeable } } }",
            json!({ "id": node_id }),
            "doesn't exist on type 'PullRequest'",
        ),
        (
            "mutation($id: ID!) { markPullRequestReadyForReview(input: {pullRequestId: $id}) }",
            json!({ "id": node_id }),
            "must have selections",
        ),
        ("mutation {", Value::Null, "Parse error"),
    ] {
        let answer = graphql(&api, query, variables).await;
        assert_eq!(answer.status, 200, "{query}");
        assert!(
            answer.json.get("data").is_none(),
            "{query}: {}",
            answer.json
        );
        let message = answer.json["errors"][0]["message"]
            .as_str()
            .unwrap_or_default();
        assert!(message.contains(needle), "{query}: {message}");
    }
    assert!(
        f.sim.pull(REPO, number).unwrap().draft,
        "nothing invalid ran"
    );

    let unknown = graphql(&api, READY, json!({ "id": "PR_nothing" })).await;
    assert_eq!(unknown.status, 200);
    assert_eq!(
        unknown.json["data"]["markPullRequestReadyForReview"],
        Value::Null
    );
    assert_eq!(unknown.json["errors"][0]["type"], "NOT_FOUND");
    assert_eq!(
        unknown.json["errors"][0]["path"],
        json!(["markPullRequestReadyForReview"])
    );

    let reader = Api::with_token(&f, Some(&f.reader_token));
    let forbidden = graphql(&reader, READY, json!({ "id": node_id })).await;
    assert_eq!(forbidden.status, 200);
    assert_eq!(
        forbidden.json["errors"][0]["type"], "FORBIDDEN",
        "{}",
        forbidden.json
    );
    assert!(
        f.sim.pull(REPO, number).unwrap().draft,
        "a reader changes nothing"
    );

    let anonymous = Api::with_token(&f, None);
    assert_eq!(
        graphql(&anonymous, READY, json!({ "id": node_id }))
            .await
            .status,
        401
    );
    let bad_token = Api::with_token(&f, Some("ghs_not_a_token"));
    assert_eq!(
        graphql(&bad_token, READY, json!({ "id": node_id }))
            .await
            .status,
        401
    );

    let calls = f.sim.calls_to("POST", "/graphql");
    assert_eq!(calls.len(), 14, "every GraphQL call is recorded");
    assert_eq!(calls[0].json()["variables"]["id"], node_id.as_str());
    assert_eq!(
        calls[0].response_json()["data"]["markPullRequestReadyForReview"]["pullRequest"]["number"],
        number
    );

    f.sim
        .set_issue_open(REPO, number, "maintainer", false)
        .await
        .unwrap();
    let closed = graphql(&api, READY, json!({ "id": node_id })).await;
    assert_eq!(
        closed.json["errors"][0]["type"], "UNPROCESSABLE",
        "{}",
        closed.json
    );
}

#[tokio::test]
async fn gitea_drafts_follow_the_title_and_do_not_merge() {
    let f = forge(ForgeKind::Gitea).await;
    let api = Api::new(&f);
    f.sim
        .push(
            REPO,
            "maintainer",
            "topic",
            &[("t.txt", Some("1\n"))],
            "one",
        )
        .await
        .unwrap();
    let opened = api
        .post(
            "/repos/octo/demo/pulls",
            json!({ "title": "WIP: Approval", "head": "topic", "base": "main" }),
        )
        .await;
    assert_eq!(opened.json["draft"], true);
    let number = opened.json["number"].as_i64().unwrap();
    let head = opened.json["head"]["sha"].as_str().unwrap().to_owned();
    let merge = format!("/repos/octo/demo/pulls/{number}/merge");
    let refused = api
        .post(&merge, json!({ "Do": "merge", "head_commit_id": head }))
        .await;
    assert_eq!(refused.status, 405);
    assert_eq!(
        refused.json["message"],
        "Work in progress PRs cannot be merged"
    );

    let renamed = api
        .call(
            "PATCH",
            &format!("/repos/octo/demo/issues/{number}"),
            Some(json!({ "title": "Approval" })),
        )
        .await;
    assert_eq!(renamed.status, 201);
    assert!(
        !f.sim.pull(REPO, number).unwrap().draft,
        "the issue route edits the same title"
    );
    let pull = api
        .call(
            "PATCH",
            &format!("/repos/octo/demo/pulls/{number}"),
            Some(json!({ "title": "[wip] Approval" })),
        )
        .await;
    assert_eq!(pull.json["draft"], true);
    let spaced = api
        .call(
            "PATCH",
            &format!("/repos/octo/demo/pulls/{number}"),
            Some(json!({ "title": " WIP: Approval" })),
        )
        .await;
    assert_eq!(
        spaced.json["draft"], false,
        "Gitea reads the prefix where the title starts"
    );
    let merged = api
        .post(&merge, json!({ "Do": "merge", "head_commit_id": head }))
        .await;
    assert_eq!(merged.status, 200, "{:?}", merged.json);
}

async fn reviewed(kind: ForgeKind) -> (crate::support::Forge, i64, i64) {
    let f = forge(kind).await;
    let number = f
        .sim
        .open_pull_with_change(
            REPO,
            "maintainer",
            "topic",
            ("src/lib.rs", "pub fn answer() -> u32 {\n    43\n}\n"),
            "Answer 43",
        )
        .await
        .unwrap();
    let outside = f
        .sim
        .review_with_comments(
            REPO,
            number,
            "octo",
            (ReviewState::ChangesRequested, "no"),
            &[("README.md", 1, "x")],
        )
        .await;
    assert!(outside.is_err(), "a line outside the diff is refused");
    let beyond = f
        .sim
        .review_with_comments(
            REPO,
            number,
            "octo",
            (ReviewState::ChangesRequested, "no"),
            &[("src/lib.rs", 40, "x")],
        )
        .await;
    assert!(beyond.is_err(), "a line past the file is refused");
    let review = f
        .sim
        .review_with_comments(
            REPO,
            number,
            "octo",
            (ReviewState::ChangesRequested, "Please explain 43."),
            &[
                ("src/lib.rs", 2, "why 43?"),
                ("src/lib.rs", 3, "and the brace"),
            ],
        )
        .await
        .unwrap();
    f.sim
        .review(
            REPO,
            number,
            "reader",
            ReviewState::Commented,
            "no comments here",
        )
        .await
        .unwrap();
    (f, number, review)
}

#[tokio::test]
async fn github_serves_review_comments_per_pull_request() {
    let (f, number, review) = reviewed(ForgeKind::Github).await;
    let api = Api::new(&f);
    let listed = api
        .get(&format!("/repos/octo/demo/pulls/{number}/comments"))
        .await;
    assert_eq!(listed.status, 200);
    let comments = listed.json.as_array().unwrap();
    assert_eq!(comments.len(), 2);
    assert_eq!(comments[0]["pull_request_review_id"], review);
    assert_eq!(
        (comments[0]["path"].clone(), comments[0]["line"].clone()),
        (json!("src/lib.rs"), json!(2))
    );
    assert_eq!(comments[0]["body"], "why 43?");
    assert_eq!(comments[0]["user"]["login"], "octo");
    let hunk = comments[0]["diff_hunk"].as_str().unwrap();
    assert!(
        hunk.starts_with("@@ ") && hunk.ends_with("+    43"),
        "{hunk}"
    );
    let newest = api
        .get(&format!(
            "/repos/octo/demo/pulls/{number}/comments?sort=created&direction=desc"
        ))
        .await;
    assert_eq!(newest.json[0]["body"], "and the brace");
    assert_eq!(
        api.get(&format!(
            "/repos/octo/demo/pulls/{number}/comments?sort=size"
        ))
        .await
        .status,
        422
    );
    assert_eq!(
        api.get("/repos/octo/demo/pulls/999/comments").await.status,
        404
    );

    let reviews = api
        .get(&format!("/repos/octo/demo/pulls/{number}/reviews"))
        .await;
    assert_eq!(reviews.json[0]["body"], "Please explain 43.");
    let pull = api.get(&format!("/repos/octo/demo/pulls/{number}")).await;
    assert_eq!(pull.json["review_comments"], 2);
    assert_eq!(f.sim.review_comments(REPO, number).len(), 2);
}

#[tokio::test]
async fn gitea_serves_review_comments_per_review() {
    let (f, number, review) = reviewed(ForgeKind::Gitea).await;
    let api = Api::new(&f);
    let reviews = api
        .get(&format!("/repos/octo/demo/pulls/{number}/reviews"))
        .await;
    let listed = reviews.json.as_array().unwrap();
    assert_eq!(
        (
            listed[0]["body"].clone(),
            listed[0]["comments_count"].clone()
        ),
        (json!("Please explain 43."), json!(2))
    );
    assert_eq!(listed[1]["comments_count"], 0);
    let comments = api
        .get(&format!(
            "/repos/octo/demo/pulls/{number}/reviews/{review}/comments"
        ))
        .await;
    assert_eq!(comments.status, 200);
    let comments = comments.json.as_array().unwrap().clone();
    assert_eq!(comments.len(), 2);
    assert_eq!(
        (comments[1]["position"].clone(), comments[1]["body"].clone()),
        (json!(3), json!("and the brace"))
    );
    assert_eq!(comments[0]["pull_request_review_id"], review);
    let other = listed[1]["id"].as_i64().unwrap();
    let none = api
        .get(&format!(
            "/repos/octo/demo/pulls/{number}/reviews/{other}/comments"
        ))
        .await;
    assert_eq!(none.json, json!([]));
    let wrong_pull = api
        .get(&format!(
            "/repos/octo/demo/pulls/{}/reviews/{review}/comments",
            number + 1
        ))
        .await;
    assert_eq!(wrong_pull.status, 404);
}

#[tokio::test]
async fn issues_close_through_the_api_on_both_dialects() {
    for kind in [ForgeKind::Github, ForgeKind::Gitea] {
        let f = forge(kind).await;
        let api = Api::new(&f);
        let issue = f
            .sim
            .open_issue(REPO, "maintainer", "Goal", "")
            .await
            .unwrap();
        if kind == ForgeKind::Github {
            let odd = api
                .call(
                    "PATCH",
                    &format!("/repos/octo/demo/issues/{issue}"),
                    Some(json!({ "state": "closed", "state_reason": "bored" })),
                )
                .await;
            assert_eq!(odd.status, 422);
            assert!(f.sim.issue(REPO, issue).unwrap().open);
        }
        let body = match kind {
            ForgeKind::Github => json!({ "state": "closed", "state_reason": "completed" }),
            ForgeKind::Gitea => json!({ "state": "closed" }),
        };
        let closed = api
            .call(
                "PATCH",
                &format!("/repos/octo/demo/issues/{issue}"),
                Some(body),
            )
            .await;
        assert!(
            matches!(closed.status, 200 | 201),
            "{kind:?}: {:?}",
            closed.json
        );
        assert_eq!(closed.json["state"], "closed");
        assert!(!f.sim.issue(REPO, issue).unwrap().open);
        let hooks: Vec<Value> = f
            .sim
            .deliveries()
            .into_iter()
            .map(|d| d.json())
            .filter(|b| b["action"] == "closed")
            .collect();
        assert_eq!(hooks.len(), 1, "{kind:?}");
        let reader = Api::with_token(&f, Some(&f.reader_token));
        let reopen = reader
            .call(
                "PATCH",
                &format!("/repos/octo/demo/issues/{issue}"),
                Some(json!({ "state": "open" })),
            )
            .await;
        assert_eq!(reopen.status, 403, "{kind:?}: a reader may not");
    }
}

#[tokio::test]
async fn the_control_endpoint_reviews_with_line_comments() {
    let f = forge(ForgeKind::Github).await;
    let number = f
        .sim
        .open_pull_with_change(
            REPO,
            "maintainer",
            "topic",
            ("src/lib.rs", "pub fn answer() -> u32 {\n    43\n}\n"),
            "Answer 43",
        )
        .await
        .unwrap();
    let control = Api::with_token(&f, None);
    let review = |comments: Value| json!({ "number": number, "author": "octo", "state": "changes_requested", "body": "see the lines", "comments": comments });
    let url = format!("{}/_sim/reviews", f.sim.url());
    let outside = control
        .post(
            &url,
            review(json!([{ "path": "README.md", "line": 1, "body": "x" }])),
        )
        .await;
    assert!(outside.status >= 400, "{:?}", outside.json);
    let made = control
        .post(
            &url,
            review(json!([{ "path": "src/lib.rs", "line": 2, "body": "why 43?" }])),
        )
        .await;
    assert_eq!(made.status, 201, "{:?}", made.json);
    let stored = f.sim.review_comments(REPO, number);
    assert_eq!(stored.len(), 1);
    assert_eq!((stored[0].line, stored[0].body.as_str()), (2, "why 43?"));
    assert_eq!(stored[0].review_id, made.json["id"].as_i64().unwrap());
}
