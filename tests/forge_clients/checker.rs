//! The conformance checker must catch what it claims to catch, or its silence means nothing.

use super::conformance::description::{Request, Violation};
use super::gitea::spec as gitea_spec;
use super::github_fixtures::github_spec;
use serde_json::{Value, json};

fn request(method: &str, path: &str, query: &[(&str, &str)], body: Option<Value>) -> Request {
    Request {
        method: method.into(),
        path: path.into(),
        query: query
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        body,
    }
}

fn expect(errors: Vec<Violation>, needle: &str) {
    assert!(
        errors.iter().any(|e| e.to_string().contains(needle)),
        "expected an error about {needle}, got {errors:#?}"
    );
}

#[test]
fn github_departures_are_caught() {
    let Some(spec) = github_spec() else { return };
    let comments = "/api/v3/repos/o/r/issues/7/comments";
    assert!(
        spec.check_request(&request(
            "POST",
            comments,
            &[],
            Some(json!({ "body": "x" }))
        ))
        .is_empty()
    );
    expect(
        spec.check_request(&request("POST", comments, &[], Some(json!({})))),
        "$.body: expected a required field",
    );
    expect(
        spec.check_request(&request(
            "POST",
            comments,
            &[],
            Some(json!({ "body": "x", "bdy": 1 })),
        )),
        "$.bdy: expected no such field",
    );
    expect(
        spec.check_request(&request(
            "POST",
            "/api/v3/repos/o/r/issues/seven/comments",
            &[],
            Some(json!({ "body": "x" })),
        )),
        "path issue_number: expected an integer, sent seven",
    );
    expect(
        spec.check_request(&request("GET", comments, &[("perpage", "5")], None)),
        "query perpage: expected a documented parameter",
    );
    expect(
        spec.check_request(&request("DELETE", comments, &[], None)),
        "method: expected a method documented for",
    );
    expect(
        spec.check_request(&request("GET", "/api/v3/nowhere/at/all", &[], None)),
        "path: expected a path documented in",
    );
    let check = json!({ "name": "n", "head_sha": "s", "status": "done" });
    expect(
        spec.check_request(&request(
            "POST",
            "/api/v3/repos/o/r/check-runs",
            &[],
            Some(check),
        )),
        "expected one of",
    );
    let nested = json!({ "name": "n", "head_sha": "s", "output": { "title": "t" } });
    expect(
        spec.check_request(&request(
            "POST",
            "/api/v3/repos/o/r/check-runs",
            &[],
            Some(nested),
        )),
        "$.output.summary: expected a required field",
    );
}

#[test]
fn gitea_departures_are_caught_and_names_compare_as_go_reads_them() {
    for forgejo in [false, true] {
        let Some(spec) = gitea_spec(forgejo) else {
            return;
        };
        let merge = "/api/v1/repos/o/r/pulls/8/merge";
        for key in ["Do", "do"] {
            let body = json!({ key: "squash", "head_commit_id": "abc" });
            assert!(
                spec.check_request(&request("POST", merge, &[], Some(body)))
                    .is_empty()
            );
        }
        expect(
            spec.check_request(&request(
                "POST",
                merge,
                &[],
                Some(json!({ "head_commit_id": "abc" })),
            )),
            "expected a required field",
        );
        expect(
            spec.check_request(&request("POST", merge, &[], Some(json!({ "Do": "yolo" })))),
            "expected one of",
        );
        let status = "/api/v1/repos/o/r/statuses/abc";
        expect(
            spec.check_request(&request(
                "POST",
                status,
                &[],
                Some(json!({ "context": "c", "stat": "success" })),
            )),
            "$.stat: expected no such field",
        );
        expect(
            spec.check_request(&request(
                "GET",
                "/api/v1/repos/o/r/issues/7/comments",
                &[("page", "2")],
                None,
            )),
            "query page: expected a documented parameter",
        );
    }
}
