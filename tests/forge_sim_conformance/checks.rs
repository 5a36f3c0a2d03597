//! Every API call the simulator recorded, request and answer, and every webhook it made, against
//! the forge's published descriptions, with the shared checker (tests/conformance) the end-to-end
//! stories use too; and the proof that the checker catches a bad answer.

use super::world::{Dialect, World};
use crate::conformance::description::Violation;
use crate::conformance::record::{self, Dialect as Described, check};
use ade::sim::ApiCall;

fn described(dialect: Dialect) -> Described {
    match dialect {
        Dialect::Github => Described::Github,
        Dialect::Gitea => Described::Gitea,
        Dialect::Forgejo => Described::Forgejo,
    }
}

/// Checks every call the scenario made and every webhook it caused. Git traffic has no API
/// description; it must only have worked, asked for credentials, or refused a credential what it
/// may not reach (404) or do (403). ade's GraphQL requests are checked for the shape GitHub
/// documents in its GraphQL guide.
pub fn assert_every_call_conforms(world: &World) {
    let calls = world.sim.calls();
    assert!(!calls.is_empty(), "the simulator recorded no calls");
    let (git, api): (Vec<&ApiCall>, Vec<&ApiCall>) = calls.iter().partition(|c| c.git);
    assert!(
        git.iter()
            .all(|c| matches!(c.status, 200 | 401 | 403 | 404)),
        "git calls: {:?}",
        git.iter()
            .map(|c| (&c.method, &c.path, c.status))
            .collect::<Vec<_>>()
    );
    let graphql: Vec<&&ApiCall> = api
        .iter()
        .filter(|c| world.dialect == Dialect::Github && c.path == "/graphql")
        .collect();
    for call in &graphql {
        assert_graphql_request(call);
    }
    let deliveries = world.sim.deliveries();
    let report = check(described(world.dialect), &calls, &deliveries);
    report.assert_clean(world.dialect.tag());
    println!(
        "{}: {} API calls ({} GraphQL) and {} webhooks checked, {} git calls",
        world.dialect.tag(),
        report.calls,
        graphql.len(),
        report.deliveries,
        git.len(),
    );
}

/// A GraphQL call as ade makes it: a POST of exactly `{query, variables}`, the query one
/// mutation with an `$id: ID!` variable given as the pull request's id, answered 200 with data
/// and without errors.
fn assert_graphql_request(call: &ApiCall) {
    let at = format!("#{} {} {}", call.seq, call.method, call.path);
    assert_eq!(call.method, "POST", "{at}");
    assert_eq!(call.status, 200, "{at}");
    let body = call.json();
    let keys: Vec<&String> = body
        .as_object()
        .map(|o| o.keys().collect())
        .unwrap_or_default();
    assert_eq!(keys.len(), 2, "{at}: {body}");
    let query = body["query"].as_str().unwrap_or_default();
    assert!(query.starts_with("mutation($id: ID!) {"), "{at}: {query}");
    assert!(
        ["markPullRequestReadyForReview", "convertPullRequestToDraft"]
            .iter()
            .any(|m| query.contains(&format!("{m}(input: {{pullRequestId: $id}})"))),
        "{at}: {query}"
    );
    assert!(
        body["variables"]["id"]
            .as_str()
            .is_some_and(|id| !id.is_empty()),
        "{at}: {body}"
    );
    let answer = call.response_json();
    assert!(answer.get("errors").is_none(), "{at}: {answer}");
    assert!(answer["data"].is_object(), "{at}: {answer}");
}

fn expect(errors: &[Violation], needle: &str) {
    assert!(
        errors.iter().any(|e| e.to_string().contains(needle)),
        "expected an error about {needle}, got {errors:#?}"
    );
}

/// `errors` has one at JSON path `at` whose expectation mentions `expected`.
fn expect_at(errors: &[Violation], at: &str, expected: &str) {
    assert!(
        errors
            .iter()
            .any(|e| e.at == at && e.expected.contains(expected)),
        "expected an error at {at} about {expected}, got {errors:#?}"
    );
}

/// A call to `path` answered `status` with `response`, as the record keeps it.
fn call(method: &str, path: &str, status: u16, response: serde_json::Value) -> ApiCall {
    ApiCall {
        seq: 1,
        method: method.into(),
        path: path.into(),
        query: String::new(),
        git: false,
        status,
        body: (method == "POST").then(|| r#"{"body":"hi"}"#.into()),
        response: Some(response.to_string()),
        response_truncated: false,
        fault: None,
        installation_token: None,
        at_ms: 0,
    }
}

/// The checks must catch what they claim to, or a passing story means nothing: a real answer of
/// the simulator passes, and the same answer with one planted fault fails at that place.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn planted_faults_in_real_answers_are_caught() {
    for dialect in [Dialect::Github, Dialect::Gitea, Dialect::Forgejo] {
        let Some(spec) = described(dialect).api() else {
            return;
        };
        let world = World::start(dialect).await;
        let issue = world
            .sim
            .open_issue(super::world::REPO, "maintainer", "Goal", "- [ ] one")
            .await
            .unwrap();
        let id = world
            .forge
            .create_comment(&world.repo, issue, "hello")
            .await
            .unwrap();
        let posted = world
            .sim
            .calls()
            .into_iter()
            .rev()
            .find(|c| c.method == "POST" && c.path.ends_with("/comments"))
            .expect("the comment's call");
        assert!(
            record::call_departures(&spec, &posted).is_empty(),
            "{:#?}",
            record::call_departures(&spec, &posted)
        );
        let answer = posted.response_json();
        assert_eq!(answer["id"], id);
        let planted = |field: &str, value: serde_json::Value| {
            let mut bad = answer.clone();
            bad[field] = value;
            record::call_departures(&spec, &call("POST", &posted.path, posted.status, bad))
        };
        // Gitea's and Forgejo's descriptions give their URLs no format; GitHub's says `uri`.
        if dialect == Dialect::Github {
            expect(
                &planted("html_url", "not a url".into()),
                "$.html_url: expected format uri",
            );
        }
        expect_at(
            &planted("html_url", serde_json::json!(null)),
            "$.html_url",
            "allows no null",
        );
        expect(
            &planted("created_at", "2026-06-21 09:30".into()),
            "$.created_at: expected format date-time",
        );
        expect_at(
            &planted("body", serde_json::json!(null)),
            "$.body",
            "allows no null",
        );
        let mut nested = answer.clone();
        nested["user"]["login"] = serde_json::json!(7);
        expect(
            &record::call_departures(&spec, &call("POST", &posted.path, 201, nested)),
            "$.user.login: expected type string",
        );
        if dialect == Dialect::Github {
            let mut thin = answer.clone();
            thin.as_object_mut().unwrap().remove("id");
            expect(
                &record::call_departures(&spec, &call("POST", &posted.path, posted.status, thin)),
                "$.id: expected a required field",
            );
        }

        // Webhooks: the issue's own delivery passes, and a planted fault in it fails.
        let delivery = world
            .sim
            .deliveries()
            .into_iter()
            .find(|d| d.event == "issues")
            .expect("the issue's webhook");
        let mut bad = delivery.clone();
        let mut body = delivery.json();
        body["issue"]["html_url"] = "relative/path".into();
        body["issue"]["created_at"] = "yesterday".into();
        bad.body = body.to_string();
        let clean = check(described(dialect), &[], &[delivery]);
        clean.assert_clean(dialect.tag());
        assert_eq!(clean.deliveries, 1);
        let caught = check(described(dialect), &[], &[bad]);
        let lines = caught.violations.join("\n");
        assert!(lines.contains("$.issue.created_at: expected"), "{lines}");
        if dialect == Dialect::Github {
            assert!(
                lines.contains("$.issue.html_url: expected format uri"),
                "{lines}"
            );
        }
    }
}

/// The request half and the status: what ade sends and how the simulator answers must be
/// documented too.
#[test]
fn bad_requests_and_statuses_are_caught() {
    let Some(spec) = Described::Github.api() else {
        return;
    };
    let comments = "/repos/o/r/issues/7/comments";
    expect(
        &record::call_departures(&spec, &call("POST", comments, 418, serde_json::json!({}))),
        "status: expected one of the documented statuses",
    );
    let mut bogus = call("POST", comments, 201, serde_json::json!({}));
    bogus.body = Some(r#"{"bdy":"hi"}"#.into());
    let errors = record::call_departures(&spec, &bogus);
    expect(
        &errors,
        "request POST /repos/{owner}/{repo}/issues/{issue_number}/comments: $.body: expected a required field",
    );
    expect(&errors, "$.bdy: expected no such field");
    let mut cut = call("GET", comments, 200, serde_json::json!([]));
    cut.response_truncated = true;
    expect(&record::call_departures(&spec, &cut), "cut short");
    let mut injected = call("GET", comments, 502, serde_json::json!({}));
    injected.fault = Some("status 502".into());
    assert!(injected.answer_injected());
    assert_eq!(check(Described::Github, &[injected], &[]).calls, 0);
}
