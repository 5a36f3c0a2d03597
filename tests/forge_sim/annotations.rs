//! Checks as strict as the forges take them: GitHub check run output and annotations (at most 50
//! a request, the documented fields, columns on one line only, appended across updates, listed
//! back), and Gitea statuses in every state ade sends, each read back through the test handle.

use crate::support::{Api, REPO, forge};
use ade::forge::{CheckState, ForgeKind};
use serde_json::{Value, json};

fn annotation(i: usize) -> Value {
    json!({ "path": "src/lib.rs", "start_line": i + 1, "end_line": i + 1, "start_column": 2, "end_column": 4,
            "annotation_level": "warning", "message": format!("m{i}"), "title": "lint" })
}

fn output(annotations: Vec<Value>) -> Value {
    json!({ "title": "t", "summary": "s", "text": "details", "annotations": annotations })
}

#[tokio::test]
async fn check_run_annotations_are_checked_limited_and_appended() {
    let f = forge(ForgeKind::Github).await;
    let api = Api::new(&f);
    let head = f.sim.branch_sha(REPO, "main").await.unwrap();
    let create = |annotations: Vec<Value>| json!({ "name": "ade/verify", "head_sha": head, "status": "in_progress", "output": output(annotations) });

    let too_many = api
        .post(
            "/repos/octo/demo/check-runs",
            create((0..51).map(annotation).collect()),
        )
        .await;
    assert_eq!(too_many.status, 422, "{:?}", too_many.json);
    assert!(too_many.json["message"].as_str().unwrap().contains("50"));
    let bad = [
        json!({ "start_line": 1, "end_line": 1, "annotation_level": "notice", "message": "m" }),
        json!({ "path": "a", "start_line": 1, "end_line": 2, "start_column": 1, "annotation_level": "notice", "message": "m" }),
        json!({ "path": "a", "start_line": 1, "end_line": 1, "annotation_level": "error", "message": "m" }),
        json!({ "path": "a", "start_line": 1, "end_line": 1, "annotation_level": "notice" }),
        json!({ "path": "a", "start_line": 1, "annotation_level": "notice", "message": "m" }),
    ];
    for annotation in bad {
        let refused = api
            .post(
                "/repos/octo/demo/check-runs",
                create(vec![annotation.clone()]),
            )
            .await;
        assert_eq!(refused.status, 422, "{annotation}: {:?}", refused.json);
    }
    let no_summary = api
        .post(
            "/repos/octo/demo/check-runs",
            json!({ "name": "ade/verify", "head_sha": head, "output": { "title": "t" } }),
        )
        .await;
    assert_eq!(no_summary.status, 422);
    let long = api
        .post(
            "/repos/octo/demo/check-runs",
            json!({ "name": "ade/verify", "head_sha": head, "output": { "title": "t", "summary": "s".repeat(65_536) } }),
        )
        .await;
    assert_eq!(long.status, 422);
    assert!(
        f.sim.checks(REPO, &head).is_empty(),
        "nothing refused was kept"
    );

    let created = api
        .post(
            "/repos/octo/demo/check-runs",
            create((0..50).map(annotation).collect()),
        )
        .await;
    assert_eq!(created.status, 201, "{:?}", created.json);
    assert_eq!(created.json["output"]["annotations_count"], 50);
    let id = created.json["id"].as_i64().unwrap();
    let run = format!("/repos/octo/demo/check-runs/{id}");
    let more = api
        .call(
            "PATCH",
            &run,
            Some(json!({ "output": { "title": "t", "summary": "s2", "annotations": (50..80).map(annotation).collect::<Vec<_>>() } })),
        )
        .await;
    assert_eq!(more.status, 200, "{:?}", more.json);
    assert_eq!(
        more.json["output"]["annotations_count"], 80,
        "appended, not replaced"
    );
    let without_summary = api
        .call("PATCH", &run, Some(json!({ "output": { "title": "t" } })))
        .await;
    assert_eq!(without_summary.status, 422);
    let done = api
        .call("PATCH", &run, Some(json!({ "conclusion": "cancelled" })))
        .await;
    assert_eq!(done.status, 200);

    let first = api.get(&format!("{run}/annotations")).await;
    assert_eq!(
        first.json.as_array().unwrap().len(),
        30,
        "GitHub's default page"
    );
    assert!(first.header("link").unwrap().contains("rel=\"next\""));
    let all = api.get(&format!("{run}/annotations?per_page=100")).await;
    let listed = all.json.as_array().unwrap();
    assert_eq!(listed.len(), 80);
    assert_eq!(listed[79]["message"], "m79");
    assert_eq!(listed[0]["start_column"], 2);
    assert!(listed[0]["blob_href"].as_str().unwrap().contains(&head));
    assert_eq!(
        f.sim
            .calls_to("GET", "/repos/*/*/check-runs/*/annotations")
            .len(),
        2
    );

    let checks = f.sim.checks(REPO, &head);
    assert_eq!(checks.len(), 1);
    let check = &checks[0];
    assert_eq!(check.state, CheckState::Cancelled);
    assert_eq!(check.conclusion.as_deref(), Some("cancelled"));
    assert_eq!((check.title.as_str(), check.summary.as_str()), ("t", "s2"));
    assert_eq!(check.text.as_deref(), Some("details"));
    assert_eq!(check.annotations.len(), 80);
    assert_eq!(
        (
            check.annotations[3].start_column,
            check.annotations[3].end_column
        ),
        (Some(2), Some(4))
    );
    assert_eq!(check.annotations[3].level, "warning");
}

#[tokio::test]
async fn gitea_statuses_take_every_state_ade_sends() {
    let f = forge(ForgeKind::Gitea).await;
    let api = Api::new(&f);
    let head = f.sim.branch_sha(REPO, "main").await.unwrap();
    for (state, read) in [
        ("pending", CheckState::InProgress),
        ("error", CheckState::Error),
        ("warning", CheckState::Neutral),
        ("failure", CheckState::Failure),
        ("success", CheckState::Success),
    ] {
        let set = api
            .post(
                &format!("/repos/octo/demo/statuses/{head}"),
                json!({ "context": "ade/verify", "state": state, "description": state }),
            )
            .await;
        assert_eq!(set.status, 201, "{state}: {:?}", set.json);
        let last = f.sim.checks(REPO, &head).pop().unwrap();
        assert_eq!((last.raw_state.as_str(), last.state), (state, read));
    }
    let refused = api
        .post(
            &format!("/repos/octo/demo/statuses/{head}"),
            json!({ "context": "ade/verify", "state": "cancelled" }),
        )
        .await;
    assert_eq!(refused.status, 400, "Gitea has no cancelled status");
}
