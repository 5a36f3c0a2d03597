//! The conformance checker must catch what it claims to catch, or its silence means nothing.

use super::fake::Recorded;
use super::gitea::spec as gitea_spec;
use super::github_fixtures::github_spec;
use axum::http::HeaderMap;
use serde_json::{Value, json};

fn request(method: &str, path: &str, query: &[(&str, &str)], body: Option<Value>) -> Recorded {
    Recorded {
        method: method.into(),
        path: path.into(),
        query: query
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        headers: HeaderMap::new(),
        body,
        answer: None,
    }
}

fn expect(errors: Vec<String>, needle: &str) {
    assert!(
        errors.iter().any(|e| e.contains(needle)),
        "expected an error about {needle}, got {errors:?}"
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
        "required field body",
    );
    expect(
        spec.check_request(&request(
            "POST",
            comments,
            &[],
            Some(json!({ "body": "x", "bdy": 1 })),
        )),
        "property bdy",
    );
    expect(
        spec.check_request(&request(
            "POST",
            "/api/v3/repos/o/r/issues/seven/comments",
            &[],
            Some(json!({ "body": "x" })),
        )),
        "not an integer",
    );
    expect(
        spec.check_request(&request("GET", comments, &[("perpage", "5")], None)),
        "query parameter perpage",
    );
    expect(
        spec.check_request(&request("DELETE", comments, &[], None)),
        "not documented",
    );
    expect(
        spec.check_request(&request("GET", "/api/v3/nowhere/at/all", &[], None)),
        "no documented path",
    );
    let check = json!({ "name": "n", "head_sha": "s", "status": "done" });
    expect(
        spec.check_request(&request(
            "POST",
            "/api/v3/repos/o/r/check-runs",
            &[],
            Some(check),
        )),
        "is not one of",
    );
    let nested = json!({ "name": "n", "head_sha": "s", "output": { "title": "t" } });
    expect(
        spec.check_request(&request(
            "POST",
            "/api/v3/repos/o/r/check-runs",
            &[],
            Some(nested),
        )),
        "required field summary",
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
            "required field",
        );
        expect(
            spec.check_request(&request("POST", merge, &[], Some(json!({ "Do": "yolo" })))),
            "is not one of",
        );
        let status = "/api/v1/repos/o/r/statuses/abc";
        expect(
            spec.check_request(&request(
                "POST",
                status,
                &[],
                Some(json!({ "context": "c", "stat": "success" })),
            )),
            "property stat",
        );
        expect(
            spec.check_request(&request(
                "GET",
                "/api/v1/repos/o/r/issues/7/comments",
                &[("page", "2")],
                None,
            )),
            "query parameter page",
        );
    }
}
