//! What the verification and review gate asks of the GitHub client: check runs with annotations
//! in as few requests as GitHub allows (and none twice after a failure), pull requests as the gate
//! reads them, draft changes through GraphQL, closing issues, review comments, and merge refusals
//! told apart. REST requests are checked against GitHub's OpenAPI description; GraphQL is not in
//! it, so its endpoint, credential and body are checked here field by field.

use super::fake::{Answer, FakeForge, Recorded};
use super::github_fixtures::{PREFIX, REPO, SHA, client, github_spec, token_answer};
use super::openapi::assert_conforms;
use super::support::{pull_at, repo};
use ade::forge::{
    AnnotationLevel, Check, CheckAnnotation, CheckState, CheckTarget, Forge, ForgeError,
    ForgePullRequest, ForgeReviewComment, MergeMethod, MergeRefusal,
};
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};

const NODE_ID: &str = "PR_kwDOA1b2c84Abc";

fn annotation(i: u32) -> CheckAnnotation {
    CheckAnnotation {
        path: format!("src/file{}.rs", i % 7),
        start_line: i + 1,
        end_line: i + 1,
        start_column: Some(3),
        level: AnnotationLevel::Warning,
        message: format!("warning {i}"),
        title: Some("clippy".into()),
    }
}

fn check(annotations: usize) -> Check {
    Check {
        name: "ade/verify".into(),
        head_sha: SHA.into(),
        state: CheckState::Failure,
        title: "2 of 3 steps passed".into(),
        summary: "| step | result |".into(),
        text: Some("```\ntest output\n```".into()),
        annotations: (0..annotations as u32).map(annotation).collect(),
        details_url: Some("https://ade.example.com/runs/1".into()),
        external_id: Some("run-1".into()),
    }
}

fn run(id: i64, annotations_count: usize) -> Value {
    json!({ "id": id, "name": "ade/verify", "head_sha": SHA, "status": "completed",
            "conclusion": "failure", "app": { "id": 4242, "slug": "ade-test" },
            "output": { "title": "t", "summary": "s", "text": null, "annotations_count": annotations_count,
                        "annotations_url": "https://api.github.com/x" } })
}

fn pull(draft: bool, node_id: Option<&str>) -> Value {
    let mut value = json!({
        "id": 1, "number": 8, "html_url": "https://github.com/octo-org/hello-world/pull/8",
        "state": "open", "title": "ade: task 1", "merged": false, "draft": draft,
        "head": { "ref": "ade/1-task", "sha": SHA, "label": "octo-org:ade/1-task" },
        "base": { "ref": "main", "sha": "b".repeat(40), "label": "octo-org:main" }
    });
    if let Some(id) = node_id {
        value["node_id"] = Value::from(id);
    }
    value
}

/// The annotations of every request body, in order sent.
fn sent_annotations(requests: &[Recorded]) -> Vec<Value> {
    requests
        .iter()
        .filter_map(|r| r.body.as_ref())
        .filter_map(|b| b.pointer("/output/annotations"))
        .flat_map(|a| a.as_array().cloned().unwrap_or_default())
        .collect()
}

fn routes_of(requests: &[Recorded]) -> Vec<String> {
    requests
        .iter()
        .filter(|r| !r.path.ends_with("/access_tokens"))
        .map(|r| r.route(PREFIX).replacen(REPO, "", 1))
        .collect()
}

fn rest_only(requests: &[Recorded]) -> Vec<Recorded> {
    requests
        .iter()
        .filter(|r| r.path.starts_with(PREFIX))
        .cloned()
        .collect()
}

#[tokio::test]
async fn annotations_go_fifty_a_request_and_each_target_costs_what_it_says() {
    let fake = FakeForge::start(|r| match r.route(PREFIX).replacen(REPO, "", 1).as_str() {
        "POST /app/installations/42/access_tokens" => token_answer("ghs_t", 3600),
        "POST /check-runs" => Answer::json(201, run(70, 0)),
        "PATCH /check-runs/70" | "PATCH /check-runs/71" => {
            let id = r.path.rsplit('/').next().unwrap().parse::<i64>().unwrap();
            Answer::json(200, run(id, 0))
        }
        x if x.ends_with("/check-runs") => {
            Answer::json(200, json!({ "total_count": 1, "check_runs": [run(71, 0)] }))
        }
        other => Answer::json(418, json!({ "message": other })),
    })
    .await;
    let gh = client(&fake);
    let repo = repo(Some(42));

    let created = gh
        .set_check(&repo, &check(120), CheckTarget::Create)
        .await
        .unwrap();
    assert_eq!(created.id, 70);
    let requests = fake.requests();
    assert_eq!(
        routes_of(&requests),
        vec![
            "POST /check-runs",
            "PATCH /check-runs/70",
            "PATCH /check-runs/70"
        ],
        "a new run: no look-up, then 50 + 50 + 20"
    );
    let bodies: Vec<&Value> = requests
        .iter()
        .skip(1)
        .filter_map(|r| r.body.as_ref())
        .collect();
    let counts: Vec<usize> = bodies
        .iter()
        .map(|b| b["output"]["annotations"].as_array().unwrap().len())
        .collect();
    assert_eq!(counts, vec![50, 50, 20]);
    assert_eq!(bodies[0]["head_sha"], SHA);
    assert_eq!(bodies[0]["output"]["text"], "```\ntest output\n```");
    assert_eq!(bodies[0]["conclusion"], "failure");
    for more in &bodies[1..] {
        assert_eq!(
            more.as_object().unwrap().keys().collect::<Vec<_>>(),
            vec!["output"],
            "further batches only append"
        );
        assert_eq!(more["output"]["summary"], "| step | result |");
    }
    assert_eq!(
        sent_annotations(&requests)[0],
        json!({ "path": "src/file0.rs", "start_line": 1, "end_line": 1, "start_column": 3,
                "annotation_level": "warning", "message": "warning 0", "title": "clippy" })
    );
    assert_eq!(sent_annotations(&requests).len(), 120);

    let before = fake.requests().len();
    gh.set_check(&repo, &check(3), CheckTarget::Update(70))
        .await
        .unwrap();
    assert_eq!(
        routes_of(&fake.requests()[before..]),
        vec!["PATCH /check-runs/70"],
        "a known run: one request"
    );

    let before = fake.requests().len();
    assert_eq!(
        gh.set_check(&repo, &check(0), CheckTarget::Find)
            .await
            .unwrap()
            .id,
        71
    );
    let found = &fake.requests()[before..];
    assert_eq!(
        routes_of(found),
        vec![
            format!("GET /commits/{SHA}/check-runs"),
            "PATCH /check-runs/71".into()
        ],
        "a retry looks first"
    );
    assert!(
        found[1].body.as_ref().unwrap()["output"]
            .get("annotations")
            .is_none()
    );
    if let Some(spec) = github_spec() {
        assert_conforms(&[spec], &fake.requests());
    }
}

/// A fake check-run store. Its next writes may be told to fail: `true` after doing their work
/// (the answer is lost), `false` before.
#[derive(Default)]
struct Runs {
    runs: Vec<(i64, Vec<Value>)>,
    post_failures: Vec<bool>,
    patch_failures: Vec<bool>,
}

async fn flaky_store(post_failures: Vec<bool>) -> (FakeForge, Arc<Mutex<Runs>>) {
    flaky_store_with(post_failures, Vec::new(), Vec::new()).await
}

async fn flaky_store_with(
    post_failures: Vec<bool>,
    patch_failures: Vec<bool>,
    runs: Vec<(i64, Vec<Value>)>,
) -> (FakeForge, Arc<Mutex<Runs>>) {
    let store = Arc::new(Mutex::new(Runs {
        runs,
        post_failures,
        patch_failures,
    }));
    let shared = store.clone();
    let fake = FakeForge::start(move |r| {
        let mut store = shared.lock().unwrap();
        let route = r.route(PREFIX).replacen(REPO, "", 1);
        let output = |r: &Recorded| {
            r.body
                .as_ref()
                .and_then(|b| b.pointer("/output/annotations"))
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default()
        };
        match route.as_str() {
            "POST /app/installations/42/access_tokens" => token_answer("ghs_t", 3600),
            "POST /check-runs" => {
                let id = 90 + store.runs.len() as i64;
                let failure = if store.post_failures.is_empty() {
                    None
                } else {
                    Some(store.post_failures.remove(0))
                };
                match failure {
                    // The request reached GitHub and the run exists, but the answer was lost.
                    Some(true) => {
                        store.runs.push((id, output(r)));
                        Answer::json(502, json!({ "message": "Server Error" }))
                    }
                    Some(false) => Answer::json(503, json!({ "message": "Server Error" })),
                    None => {
                        store.runs.push((id, output(r)));
                        Answer::json(201, run(id, store.runs.last().unwrap().1.len()))
                    }
                }
            }
            x if x.ends_with("/check-runs") && r.method == "GET" => {
                let runs: Vec<Value> = store
                    .runs
                    .iter()
                    .rev()
                    .map(|(id, a)| run(*id, a.len()))
                    .collect();
                Answer::json(
                    200,
                    json!({ "total_count": runs.len(), "check_runs": runs }),
                )
            }
            x if x.ends_with("/annotations") => {
                let id: i64 = x.split('/').nth(2).unwrap().parse().unwrap();
                let (_, annotations) = store.runs.iter().find(|(i, _)| *i == id).unwrap();
                let listed: Vec<Value> = annotations
                    .iter()
                    .map(|a| {
                        let mut a = a.clone();
                        a["blob_href"] = Value::from("https://github.com/x");
                        a["raw_details"] = Value::Null;
                        a
                    })
                    .collect();
                Answer::json(200, Value::Array(listed))
            }
            x if x.starts_with("GET /check-runs/") => {
                let id: i64 = x.rsplit('/').next().unwrap().parse().unwrap();
                let (_, annotations) = store.runs.iter().find(|(i, _)| *i == id).unwrap();
                Answer::json(200, run(id, annotations.len()))
            }
            x if x.starts_with("PATCH /check-runs/") => {
                let id: i64 = x.rsplit('/').next().unwrap().parse().unwrap();
                let failure = if store.patch_failures.is_empty() {
                    None
                } else {
                    Some(store.patch_failures.remove(0))
                };
                if failure == Some(false) {
                    return Answer::json(503, json!({ "message": "Server Error" }));
                }
                let added = output(r);
                let entry = store.runs.iter_mut().find(|(i, _)| *i == id).unwrap();
                entry.1.extend(added);
                if failure == Some(true) {
                    return Answer::json(502, json!({ "message": "Server Error" }));
                }
                Answer::json(200, run(id, entry.1.len()))
            }
            other => Answer::json(418, json!({ "message": other })),
        }
    })
    .await;
    (fake, store)
}

#[tokio::test]
async fn a_create_lost_in_a_5xx_is_found_and_never_made_twice() {
    let (fake, store) = flaky_store(vec![true]).await;
    let gh = client(&fake);
    let id = gh
        .set_check(&repo(Some(42)), &check(70), CheckTarget::Create)
        .await
        .unwrap()
        .id;
    let store = store.lock().unwrap();
    assert_eq!(
        store.runs.len(),
        1,
        "one check run, however the first answer went"
    );
    assert_eq!(store.runs[0].0, id);
    assert_eq!(
        store.runs[0].1.len(),
        70,
        "every annotation once: the found run got only what it lacked"
    );
    let routes = routes_of(&fake.requests());
    assert_eq!(
        routes.iter().filter(|r| *r == "POST /check-runs").count(),
        1
    );
    assert!(
        routes.iter().any(|r| r.ends_with("/annotations")),
        "{routes:?}"
    );
    if let Some(spec) = github_spec() {
        assert_conforms(&[spec], &without_injected_answers(fake.requests()));
    }
}

/// The requests with the fake's injected 5xx answers left out: those are the test's, not
/// GitHub's documented ones; the requests are what is checked.
fn without_injected_answers(mut requests: Vec<Recorded>) -> Vec<Recorded> {
    for r in &mut requests {
        if r.answer.as_ref().is_some_and(|(status, _)| *status >= 500) {
            r.answer = None;
        }
    }
    requests
}

#[tokio::test]
async fn an_update_lost_in_a_5xx_adds_each_annotation_once() {
    // The second batch lands but its answer is lost; the third is refused once.
    let (fake, store) =
        flaky_store_with(Vec::new(), vec![false, true, false], vec![(90, Vec::new())]).await;
    let gh = client(&fake);
    let id = gh
        .set_check(&repo(Some(42)), &check(120), CheckTarget::Update(90))
        .await
        .unwrap()
        .id;
    assert_eq!(id, 90);
    let store = store.lock().unwrap();
    let messages: Vec<&str> = store.runs[0]
        .1
        .iter()
        .map(|a| a["message"].as_str().unwrap())
        .collect();
    let expected: Vec<String> = (0..120).map(|i| format!("warning {i}")).collect();
    assert_eq!(messages, expected, "each annotation exactly once, in order");
    let routes = routes_of(&fake.requests());
    assert!(
        routes.contains(&"GET /check-runs/90".to_string()),
        "{routes:?}"
    );
    assert!(
        routes.iter().all(|r| !r.starts_with("POST")),
        "an update never creates: {routes:?}"
    );
    if let Some(spec) = github_spec() {
        assert_conforms(&[spec], &without_injected_answers(fake.requests()));
    }
}

#[tokio::test]
async fn a_create_refused_with_a_5xx_is_sent_again_after_a_look() {
    let (fake, store) = flaky_store(vec![false, false]).await;
    let gh = client(&fake);
    gh.set_check(&repo(Some(42)), &check(2), CheckTarget::Create)
        .await
        .unwrap();
    assert_eq!(store.lock().unwrap().runs.len(), 1);
    let routes = routes_of(&fake.requests());
    let posts = routes.iter().filter(|r| *r == "POST /check-runs").count();
    let looks = routes
        .iter()
        .filter(|r| r.ends_with("/check-runs") && r.starts_with("GET"))
        .count();
    assert_eq!(
        (posts, looks),
        (3, 2),
        "each retry of the create looks first: {routes:?}"
    );

    let (fake, store) = flaky_store(vec![false; 10]).await;
    let error = client(&fake)
        .set_check(&repo(Some(42)), &check(2), CheckTarget::Create)
        .await
        .unwrap_err();
    assert!(matches!(error, ForgeError::Unavailable(_)), "{error:?}");
    assert!(store.lock().unwrap().runs.is_empty());
    let posts = routes_of(&fake.requests())
        .iter()
        .filter(|r| *r == "POST /check-runs")
        .count();
    assert_eq!(posts, 4, "the first try and the policy's three retries");
}

#[tokio::test]
async fn drafts_change_through_graphql_with_the_installation_token() {
    let answers: Arc<Mutex<Vec<Value>>> = Arc::default();
    let queued = answers.clone();
    let fake = FakeForge::start(
        move |r| match r.route(PREFIX).replacen(REPO, "", 1).as_str() {
            "POST /app/installations/42/access_tokens" => token_answer("ghs_draft", 3600),
            "GET /pulls/8" => Answer::json(200, pull(false, Some(NODE_ID))),
            "POST /api/graphql" => Answer::json(200, queued.lock().unwrap().remove(0)),
            other => Answer::json(418, json!({ "message": other })),
        },
    )
    .await;
    let gh = client(&fake);
    let repo = repo(Some(42));
    let ready: ForgePullRequest = serde_json::from_value(json!({
        "number": 8, "url": "u", "title": "t", "head_sha": SHA, "head_branch": "ade/1-task",
        "base_branch": "main", "open": true, "merged": false, "draft": false, "node_id": NODE_ID
    }))
    .unwrap();

    gh.set_draft(&repo, &ready, false).await.unwrap();
    assert!(fake.requests().is_empty(), "already ready: no call at all");

    answers.lock().unwrap().push(json!({ "data": { "convertPullRequestToDraft": { "pullRequest": { "isDraft": true, "number": 8 } } } }));
    gh.set_draft(&repo, &ready, true).await.unwrap();
    let sent = fake
        .requests()
        .into_iter()
        .find(|r| r.path == "/api/graphql")
        .unwrap();
    assert_eq!(sent.method, "POST");
    assert_eq!(sent.header("authorization"), Some("Bearer ghs_draft"));
    assert_eq!(sent.header("content-type"), Some("application/json"));
    let body = sent.body.unwrap();
    assert_eq!(body["variables"], json!({ "id": NODE_ID }));
    let query = body["query"].as_str().unwrap();
    assert!(query.starts_with("mutation($id: ID!)"), "{query}");
    assert!(
        query.contains("convertPullRequestToDraft(input: {pullRequestId: $id})"),
        "{query}"
    );
    assert_eq!(
        body.as_object().unwrap().len(),
        2,
        "query and variables only"
    );

    let mut draft = ready.clone();
    draft.draft = true;
    draft.node_id = None;
    answers.lock().unwrap().push(json!({ "data": { "markPullRequestReadyForReview": { "pullRequest": { "isDraft": false, "number": 8 } } } }));
    let before = fake.requests().len();
    // No node_id: the pull request is read first, and it already is ready, so nothing is sent.
    gh.set_draft(&repo, &draft, false).await.unwrap();
    assert_eq!(routes_of(&fake.requests()[before..]), vec!["GET /pulls/8"]);

    answers.lock().unwrap().clear();
    answers.lock().unwrap().push(json!({ "data": { "convertPullRequestToDraft": null },
        "errors": [{ "type": "NOT_FOUND", "path": ["convertPullRequestToDraft"],
                     "message": "Could not resolve to a node with the global id of 'PR_kwDOA1b2c84Abc'" }] }));
    let refused = gh.set_draft(&repo, &ready, true).await.unwrap_err();
    assert!(
        matches!(&refused, ForgeError::Rejected(m) if m.contains("Could not resolve to a node")),
        "{refused:?}"
    );
    answers.lock().unwrap().push(
        json!({ "errors": [{ "type": "RATE_LIMITED", "message": "API rate limit exceeded" }] }),
    );
    assert!(matches!(
        gh.set_draft(&repo, &ready, true).await,
        Err(ForgeError::RateLimited { .. })
    ));
    answers.lock().unwrap().push(
        json!({ "data": { "convertPullRequestToDraft": { "pullRequest": { "isDraft": false } } } }),
    );
    assert!(matches!(
        gh.set_draft(&repo, &ready, true).await,
        Err(ForgeError::Malformed(_))
    ));
    if let Some(spec) = github_spec() {
        assert_conforms(&[spec], &rest_only(&fake.requests()));
    }
}

#[tokio::test]
async fn pulls_reviews_comments_and_closing_read_what_the_gate_needs() {
    let fake = FakeForge::start(|r| match r.route(PREFIX).replacen(REPO, "", 1).as_str() {
        "POST /app/installations/42/access_tokens" => token_answer("ghs_t", 3600),
        "GET /pulls/8" => Answer::json(200, pull(true, Some(NODE_ID))),
        "PATCH /issues/7" => Answer::json(200, json!({ "id": 1, "number": 7, "state": "closed", "title": "Goal" })),
        "GET /pulls/8/reviews" => Answer::json(200, json!([
            { "id": 80, "user": { "login": "bob" }, "state": "CHANGES_REQUESTED", "commit_id": SHA, "body": "Please rename it." },
            { "id": 81, "user": { "login": "bob" }, "state": "COMMENTED", "commit_id": SHA, "body": null }
        ])),
        "GET /pulls/8/comments" => {
            let page: u32 = r.query("page").unwrap().parse().unwrap();
            let body = if page == 1 {
                json!([
                    { "id": 501, "pull_request_review_id": 80, "user": { "login": "bob" }, "body": "`answer` is vague", "path": "src/lib.rs", "line": 2, "original_line": 2 },
                    { "id": 502, "pull_request_review_id": 80, "user": null, "body": "outdated", "path": "src/lib.rs", "line": null, "original_line": 9 }
                ])
            } else {
                json!([{ "id": 503, "pull_request_review_id": null, "user": { "login": "carol" }, "body": "on the file", "path": "README.md", "subject_type": "file" }])
            };
            let mut answer = Answer::json(200, body);
            if page == 1 {
                answer = answer.header("link", "<https://api.github.com/x?page=2>; rel=\"next\"");
            }
            answer
        }
        other => Answer::json(418, json!({ "message": other })),
    })
    .await;
    let gh = client(&fake);
    let repo = repo(Some(42));
    let pull = gh.pull_request(&repo, 8).await.unwrap();
    assert_eq!(
        (pull.title.as_str(), pull.draft, pull.node_id.as_deref()),
        ("ade: task 1", true, Some(NODE_ID))
    );
    assert_eq!(
        (
            pull.head_branch.as_str(),
            pull.base_branch.as_str(),
            pull.head_sha.as_str()
        ),
        ("ade/1-task", "main", SHA)
    );

    gh.close_issue(&repo, 7).await.unwrap();

    let reviews = gh.list_reviews(&repo, 8).await.unwrap();
    let bodies: Vec<&str> = reviews.iter().map(|r| r.body.as_str()).collect();
    assert_eq!(bodies, vec!["Please rename it.", ""]);

    let comments = gh.list_review_comments(&repo, 8).await.unwrap();
    let comment = |id: i64, author: &str, path: &str, line: Option<u32>, review: Option<i64>| {
        ForgeReviewComment {
            id,
            author: author.into(),
            body: String::new(),
            path: Some(path.into()),
            line,
            earlier: author == "ghost",
            review_id: review,
        }
    };
    let bodies: Vec<&str> = comments.iter().map(|c| c.body.as_str()).collect();
    assert_eq!(bodies, vec!["`answer` is vague", "outdated", "on the file"]);
    let mut bare = comments.clone();
    bare.iter_mut().for_each(|c| c.body.clear());
    assert_eq!(
        bare,
        vec![
            comment(501, "bob", "src/lib.rs", Some(2), Some(80)),
            // Outdated: its line is the original one, of an earlier version.
            comment(502, "ghost", "src/lib.rs", Some(9), Some(80)),
            comment(503, "carol", "README.md", None, None),
        ]
    );
    let requests = fake.requests();
    let close = requests.iter().find(|r| r.method == "PATCH").unwrap();
    assert_eq!(
        close.body,
        Some(json!({ "state": "closed", "state_reason": "completed" }))
    );
    let listed = requests
        .iter()
        .find(|r| r.path.ends_with("/pulls/8/comments"))
        .unwrap();
    assert_eq!(listed.query("sort"), Some("created"));
    assert_eq!(listed.query("direction"), Some("asc"));
    if let Some(spec) = github_spec() {
        assert_conforms(&[spec], &requests);
    }
}

#[tokio::test]
async fn merge_refusals_say_why() {
    let fake = FakeForge::start(|r| {
        if r.path.ends_with("/access_tokens") {
            return token_answer("ghs_t", 3600);
        }
        let sha = r
            .body
            .as_ref()
            .and_then(|b| b["sha"].as_str())
            .unwrap_or_default()
            .to_string();
        let refuse = |status: u16, message: &str| {
            Answer::json(
                status,
                json!({ "message": message, "documentation_url": "https://docs.github.com/rest" }),
            )
        };
        match sha.chars().next() {
            Some('1') => refuse(
                409,
                "Head branch was modified. Review and try the merge again.",
            ),
            Some('2') => refuse(405, "Pull Request is not mergeable"),
            Some('3') => refuse(
                405,
                "At least 1 approving review is required by reviewers with write access.",
            ),
            Some('4') => refuse(405, "Pull Request is still a draft"),
            _ => refuse(403, "Resource not accessible by integration"),
        }
    })
    .await;
    let gh = client(&fake);
    let repo = repo(Some(42));
    for (lead, expected) in [
        ('1', MergeRefusal::HeadMoved),
        ('2', MergeRefusal::NotMergeable),
        ('3', MergeRefusal::Protected),
        ('4', MergeRefusal::NotMergeable),
    ] {
        let sha = lead.to_string().repeat(40);
        match gh
            .merge(&repo, &pull_at(8, &sha), MergeMethod::Squash)
            .await
        {
            Err(ForgeError::MergeRefused { refusal, message }) => {
                assert_eq!(refusal, expected, "{message}");
                assert!(message.contains(&format!("at {sha}")), "{message}");
            }
            other => panic!("{lead}: {other:?}"),
        }
    }
    assert!(matches!(
        gh.merge(&repo, &pull_at(8, &"5".repeat(40)), MergeMethod::Merge)
            .await,
        Err(ForgeError::Forbidden(_))
    ));
    let sent: Vec<Value> = fake
        .requests()
        .into_iter()
        .filter(|r| r.method == "PUT")
        .map(|r| r.body.unwrap())
        .collect();
    assert_eq!(
        sent[0],
        json!({ "sha": "1".repeat(40), "merge_method": "squash" })
    );
    assert_eq!(sent.len(), 5, "refusals are not retried");
    if let Some(spec) = github_spec() {
        assert_conforms(&[spec], &fake.requests());
    }
}
