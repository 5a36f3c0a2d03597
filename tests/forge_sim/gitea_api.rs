//! The Gitea dialect: token auth, the routes ade calls, statuses, merge rules, paging.

use crate::support::{Api, REPO, forge};
use ade::forge::ReviewState;
use ade::forge::{BranchProtection, CheckState, ForgeKind};
use base64::Engine;
use serde_json::json;

#[tokio::test]
async fn tokens_repository_contents_and_permissions() {
    let f = forge(ForgeKind::Gitea).await;
    let api = Api::new(&f);
    let me = api.get("/user").await;
    assert_eq!(me.status, 200);
    assert_eq!(me.json["login"], "ade-bot");
    assert_eq!(me.json["username"], "ade-bot");
    let bad = Api::with_token(&f, Some("0123"));
    assert_eq!(bad.get("/user").await.status, 401);

    let repo = api.get("/repos/octo/demo").await;
    assert_eq!(repo.json["default_branch"], "main");
    assert_eq!(
        repo.json["permissions"],
        json!({ "admin": false, "push": true, "pull": true })
    );
    let head = f.sim.branch_sha(REPO, "main").await.unwrap();
    let branch = api.get("/repos/octo/demo/branches/main").await;
    assert_eq!(branch.json["commit"]["id"], head.as_str());
    let file = api
        .get("/repos/octo/demo/contents/src/lib.rs?ref=main")
        .await;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(file.json["content"].as_str().unwrap())
        .unwrap();
    assert!(bytes.starts_with(b"pub fn answer"));
    assert_eq!(file.json["type"], "file");
    assert_eq!(
        api.get("/repos/octo/demo/contents/nope?ref=main")
            .await
            .status,
        404
    );

    for (login, permission) in [
        ("maintainer", "admin"),
        ("reader", "read"),
        ("octo", "owner"),
        ("ade-bot", "write"),
    ] {
        let answer = api
            .get(&format!(
                "/repos/octo/demo/collaborators/{login}/permission"
            ))
            .await;
        assert_eq!(answer.json["permission"], permission, "{login}");
    }

    assert_eq!(
        api.get("/repos/octo/demo/branch_protections/main")
            .await
            .status,
        404
    );
    f.sim
        .protect_branch(
            REPO,
            "main",
            BranchProtection {
                required_approvals: 2,
                required_checks: vec!["ade/verify".into()],
                enforce_admins: false,
            },
        )
        .unwrap();
    let protection = api.get("/repos/octo/demo/branch_protections/main").await;
    assert_eq!(protection.json["required_approvals"], 2);
    assert_eq!(protection.json["enable_status_check"], true);
    assert_eq!(
        protection.json["status_check_contexts"],
        json!(["ade/verify"])
    );
}

#[tokio::test]
async fn comments_reactions_labels_and_paging() {
    let f = forge(ForgeKind::Gitea).await;
    let api = Api::new(&f);
    let number = f
        .sim
        .open_issue(REPO, "maintainer", "Goal", "body")
        .await
        .unwrap();
    for i in 0..7 {
        f.sim
            .comment(REPO, number, "reader", &format!("c{i}"))
            .await
            .unwrap();
    }
    let path = format!("/repos/octo/demo/issues/{number}/comments");
    let all = api.get(&path).await;
    assert_eq!(
        all.json.as_array().unwrap().len(),
        7,
        "Gitea lists every comment by default"
    );
    assert_eq!(all.header("x-total-count").as_deref(), Some("7"));
    let page = api.get(&format!("{path}?limit=3&page=3")).await;
    assert_eq!(page.json.as_array().unwrap().len(), 1);
    assert_eq!(page.json[0]["body"], "c6");
    let link = api
        .get(&format!("{path}?limit=3&page=1"))
        .await
        .header("link")
        .unwrap();
    assert!(link.contains("limit=3&page=2>; rel=\"next\""), "{link}");

    let created = api.post(&path, json!({ "body": "plan" })).await;
    assert_eq!(created.status, 201);
    assert_eq!(created.json["user"]["login"], "ade-bot");
    let id = created.json["id"].as_i64().unwrap();
    let edited = api
        .call(
            "PATCH",
            &format!("/repos/octo/demo/issues/comments/{id}"),
            Some(json!({ "body": "plan v2" })),
        )
        .await;
    assert_eq!(edited.status, 200);
    assert_eq!(edited.json["body"], "plan v2");

    let target = f.sim.comments(REPO, number)[0].id;
    let reactions = format!("/repos/octo/demo/issues/comments/{target}/reactions");
    assert_eq!(
        api.post(&reactions, json!({ "content": "eyes" }))
            .await
            .status,
        201
    );
    assert_eq!(
        api.post(&reactions, json!({ "content": "eyes" }))
            .await
            .status,
        200
    );
    assert_eq!(f.sim.reactions(REPO, target).len(), 1);

    let label = f.sim.add_label(REPO, "ade", "#5319e7").unwrap();
    let labels = api
        .post(
            &format!("/repos/octo/demo/issues/{number}/labels"),
            json!({ "labels": [label] }),
        )
        .await;
    assert_eq!(labels.status, 200, "{:?}", labels.json);
    assert_eq!(labels.json[0]["name"], "ade");
    let unknown = api
        .post(
            &format!("/repos/octo/demo/issues/{number}/labels"),
            json!({ "labels": ["nope"] }),
        )
        .await;
    assert_eq!(unknown.status, 422);
}

#[tokio::test]
async fn statuses_and_merge_under_protection() {
    let f = forge(ForgeKind::Gitea).await;
    f.sim
        .protect_branch(
            REPO,
            "main",
            BranchProtection {
                required_approvals: 1,
                required_checks: vec!["ade/verify".into()],
                enforce_admins: true,
            },
        )
        .unwrap();
    let api = Api::new(&f);
    f.sim
        .push(
            REPO,
            "ade-bot",
            "ade/task-1",
            &[("a.txt", Some("a\n"))],
            "task",
        )
        .await
        .unwrap();
    let opened = api
        .post(
            "/repos/octo/demo/pulls",
            json!({ "title": "Task 1", "body": "b", "head": "ade/task-1", "base": "main" }),
        )
        .await;
    assert_eq!(opened.status, 201, "{:?}", opened.json);
    let number = opened.json["number"].as_i64().unwrap();
    let head = opened.json["head"]["sha"].as_str().unwrap().to_owned();
    let conflict = api
        .post(
            "/repos/octo/demo/pulls",
            json!({ "title": "again", "head": "ade/task-1", "base": "main" }),
        )
        .await;
    assert_eq!(conflict.status, 409);

    let merge = format!("/repos/octo/demo/pulls/{number}/merge");
    let refused = api
        .post(&merge, json!({ "Do": "merge", "head_commit_id": head }))
        .await;
    assert_eq!(refused.status, 405, "{:?}", refused.json);

    f.sim
        .review(REPO, number, "maintainer", ReviewState::Approved, "ok")
        .await
        .unwrap();
    let reviews = api
        .get(&format!("/repos/octo/demo/pulls/{number}/reviews"))
        .await;
    assert_eq!(reviews.json[0]["state"], "APPROVED");
    assert_eq!(
        api.post(&merge, json!({ "Do": "merge", "head_commit_id": head }))
            .await
            .status,
        405
    );

    let status = api
        .post(&format!("/repos/octo/demo/statuses/{head}"), json!({ "state": "pending", "context": "ade/verify", "description": "running", "target_url": "http://ade/runs/1" }))
        .await;
    assert_eq!(status.status, 201, "{:?}", status.json);
    assert_eq!(status.json["status"], "pending");
    assert_eq!(status.json["creator"]["login"], "ade-bot");
    api.post(
        &format!("/repos/octo/demo/statuses/{head}"),
        json!({ "state": "success", "context": "ade/verify", "description": "passed" }),
    )
    .await;
    let combined = api
        .get(&format!("/repos/octo/demo/commits/{head}/status"))
        .await;
    assert_eq!(combined.json["state"], "success");
    assert_eq!(combined.json["total_count"], 1);
    let listed = api
        .get(&format!("/repos/octo/demo/commits/{head}/statuses"))
        .await;
    assert_eq!(listed.json.as_array().unwrap().len(), 2);
    let checks = f.sim.checks(REPO, &head);
    assert_eq!(checks.last().unwrap().state, CheckState::Success);

    assert_eq!(
        api.post(
            &merge,
            json!({ "Do": "merge", "head_commit_id": "0".repeat(40) })
        )
        .await
        .status,
        409
    );
    let merged = api
        .post(&merge, json!({ "Do": "squash", "head_commit_id": head }))
        .await;
    assert_eq!(merged.status, 200, "{:?}", merged.json);
    assert_eq!(api.get(&merge).await.status, 204);
    assert!(f.sim.file(REPO, "main", "a.txt").await.is_some());
    let pull = api.get(&format!("/repos/octo/demo/pulls/{number}")).await;
    assert_eq!(pull.json["merged"], true);
    assert_eq!(pull.json["state"], "closed");

    let closed = api
        .call(
            "PATCH",
            &format!("/repos/octo/demo/pulls/{number}"),
            Some(json!({ "title": "WIP: x" })),
        )
        .await;
    assert_eq!(closed.status, 201);
}
