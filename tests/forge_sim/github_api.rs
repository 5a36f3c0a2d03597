//! The GitHub dialect: app authentication, the routes ade calls, pagination, merge rules.

use crate::support::{Api, REPO, forge, forge_with};
use ade::clock::ManualClock;
use ade::forge::ReviewState;
use ade::forge::{BranchProtection, ForgeKind};
use ade::sim::MergeStyle;
use base64::Engine;
use serde_json::json;
use std::sync::Arc;

#[tokio::test]
async fn app_jwt_buys_an_installation_token_that_works_for_an_hour() {
    let clock = ManualClock::at(1_750_000_000_000);
    let f = forge_with(ForgeKind::Github, |o| o.clock = Arc::new(clock.clone())).await;
    let app = Api::with_token(&f, Some(&f.sim.app_jwt()));
    let me = app.get("/app").await;
    assert_eq!(me.status, 200, "{:?}", me.json);
    assert_eq!(me.json["slug"], "ade-sim");
    let installation = app.get("/repos/octo/demo/installation").await;
    assert_eq!(installation.status, 200);
    let id = installation.json["id"].as_i64().unwrap();
    assert_eq!(Some(id), f.installation);
    let issued = app
        .post(&format!("/app/installations/{id}/access_tokens"), json!({}))
        .await;
    assert_eq!(issued.status, 201, "{:?}", issued.json);
    let token = issued.json["token"].as_str().unwrap().to_owned();
    assert!(token.starts_with("ghs_"), "{token}");
    assert_eq!(issued.json["expires_at"], "2025-06-15T16:06:40Z");

    let api = Api::with_token(&f, Some(&token));
    assert_eq!(api.get("/repos/octo/demo").await.status, 200);
    assert_eq!(
        app.get("/repos/octo/demo").await.status,
        404,
        "a JWT is not an installation token"
    );
    clock.advance(3_600_000 + 1);
    let expired = api.get("/repos/octo/demo").await;
    assert_eq!(expired.status, 401);
    assert_eq!(expired.json["message"], "Bad credentials");
    assert_eq!(
        app.get("/app").await.status,
        401,
        "the old JWT expired as well"
    );

    let stale = f.sim.app_jwt();
    let wrong_app = Api::with_token(&f, Some(&format!("{stale}x")));
    assert_eq!(wrong_app.get("/app").await.status, 401);
}

#[tokio::test]
async fn repository_branch_contents_and_permissions_come_from_git_and_state() {
    let f = forge(ForgeKind::Github).await;
    let api = Api::new(&f);
    let repo = api.get("/repos/octo/demo").await;
    assert_eq!(repo.json["default_branch"], "main");
    assert_eq!(repo.json["private"], true);
    assert_eq!(repo.json["permissions"]["push"], true);
    assert!(repo.header("x-ratelimit-remaining").is_some());

    let head = f.sim.branch_sha(REPO, "main").await.unwrap();
    let branch = api.get("/repos/octo/demo/branches/main").await;
    assert_eq!(branch.json["commit"]["sha"], head.as_str());

    let file = api
        .get("/repos/octo/demo/contents/src/lib.rs?ref=main")
        .await;
    assert_eq!(file.status, 200);
    assert_eq!(file.json["encoding"], "base64");
    let content: String = file.json["content"].as_str().unwrap().split('\n').collect();
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(content)
        .unwrap();
    assert_eq!(bytes, b"pub fn answer() -> u32 {\n    42\n}\n");
    assert_eq!(
        api.get("/repos/octo/demo/contents/missing.txt")
            .await
            .status,
        404
    );
    let sha = f
        .sim
        .push(
            REPO,
            "maintainer",
            "topic",
            &[("new.txt", Some("x"))],
            "new",
        )
        .await
        .unwrap();
    let at_sha = api
        .get(&format!("/repos/octo/demo/contents/new.txt?ref={sha}"))
        .await;
    assert_eq!(at_sha.status, 200);
    assert_eq!(
        api.get("/repos/octo/demo/contents/new.txt").await.status,
        404,
        "not on the default branch"
    );

    for (login, permission, role) in [
        ("maintainer", "write", "maintain"),
        ("reader", "read", "read"),
        ("octo", "admin", "admin"),
    ] {
        let answer = api
            .get(&format!(
                "/repos/octo/demo/collaborators/{login}/permission"
            ))
            .await;
        assert_eq!(answer.json["permission"], permission, "{login}");
        assert_eq!(answer.json["role_name"], role, "{login}");
    }
    assert_eq!(
        api.get("/repos/octo/demo/collaborators/nobody/permission")
            .await
            .status,
        404
    );
    let stranger = Api::with_token(&f, Some(&f.reader_token));
    assert_eq!(stranger.get("/repos/octo/demo").await.status, 200);
    let anonymous = Api::with_token(&f, None);
    assert_eq!(
        anonymous.get("/repos/octo/demo").await.status,
        404,
        "a private repository is hidden"
    );

    assert_eq!(
        api.get("/repos/octo/demo/branches/main/protection")
            .await
            .status,
        404
    );
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
    let protection = api.get("/repos/octo/demo/branches/main/protection").await;
    assert_eq!(protection.status, 200);
    assert_eq!(
        protection.json["required_pull_request_reviews"]["required_approving_review_count"],
        1
    );
    assert_eq!(
        protection.json["required_status_checks"]["contexts"],
        json!(["ade/verify"])
    );
    assert_eq!(protection.json["enforce_admins"]["enabled"], true);
}

#[tokio::test]
async fn comments_reactions_and_labels_round_trip() {
    let f = forge(ForgeKind::Github).await;
    let api = Api::new(&f);
    let number = f
        .sim
        .open_issue(REPO, "maintainer", "Goal", "- [ ] one")
        .await
        .unwrap();
    let created = api
        .post(
            &format!("/repos/octo/demo/issues/{number}/comments"),
            json!({ "body": "plan <!-- ade:plan -->" }),
        )
        .await;
    assert_eq!(created.status, 201, "{:?}", created.json);
    assert_eq!(created.json["user"]["login"], "ade-sim[bot]");
    assert_eq!(created.json["user"]["type"], "Bot");
    let id = created.json["id"].as_i64().unwrap();
    let updated = api
        .call(
            "PATCH",
            &format!("/repos/octo/demo/issues/comments/{id}"),
            Some(json!({ "body": "plan v2" })),
        )
        .await;
    assert_eq!(updated.status, 200);
    assert_eq!(f.sim.comments(REPO, number)[0].body, "plan v2");

    let user_comment = f
        .sim
        .comment(REPO, number, "maintainer", "/ade plan")
        .await
        .unwrap();
    let path = format!("/repos/octo/demo/issues/comments/{user_comment}/reactions");
    let first = api.post(&path, json!({ "content": "eyes" })).await;
    assert_eq!(first.status, 201);
    let again = api.post(&path, json!({ "content": "eyes" })).await;
    assert_eq!(again.status, 200);
    assert_eq!(again.json["id"], first.json["id"]);
    assert_eq!(
        api.post(&path, json!({ "content": "nope" })).await.status,
        422
    );
    let reactions = f.sim.reactions(REPO, user_comment);
    assert_eq!(reactions.len(), 1);
    assert_eq!(reactions[0].user, "ade-sim[bot]");

    let labels = api
        .post(
            &format!("/repos/octo/demo/issues/{number}/labels"),
            json!({ "labels": ["ade", "goal"] }),
        )
        .await;
    assert_eq!(labels.status, 200);
    assert_eq!(labels.json.as_array().unwrap().len(), 2);
    assert_eq!(f.sim.labels(REPO, number), vec!["ade", "goal"]);

    let reader = Api::with_token(&f, Some(&f.reader_token));
    let foreign = reader
        .call(
            "PATCH",
            &format!("/repos/octo/demo/issues/comments/{id}"),
            Some(json!({ "body": "mine now" })),
        )
        .await;
    assert_eq!(foreign.status, 403);
}

#[tokio::test]
async fn comment_lists_page_with_link_headers() {
    let f = forge(ForgeKind::Github).await;
    let number = f
        .sim
        .open_issue(REPO, "maintainer", "Many comments", "")
        .await
        .unwrap();
    for i in 0..65 {
        f.sim
            .comment(REPO, number, "reader", &format!("comment {i}"))
            .await
            .unwrap();
    }
    let api = Api::new(&f);
    let path = format!("/repos/octo/demo/issues/{number}/comments");
    let first = api.get(&path).await;
    assert_eq!(first.json.as_array().unwrap().len(), 30);
    let link = first.header("link").expect("a Link header");
    assert!(link.contains("page=2>; rel=\"next\""), "{link}");
    assert!(link.contains("page=3>; rel=\"last\""), "{link}");
    let next = link
        .split(',')
        .find(|l| l.contains("rel=\"next\""))
        .unwrap();
    let next_url = next
        .trim()
        .trim_start_matches('<')
        .split('>')
        .next()
        .unwrap();
    let second = api.get(next_url).await;
    assert_eq!(second.json[0]["body"], "comment 30");
    let last = api.get(&format!("{path}?per_page=30&page=3")).await;
    assert_eq!(last.json.as_array().unwrap().len(), 5);
    let link = last.header("link").unwrap();
    assert!(!link.contains("rel=\"next\""), "{link}");
    assert!(link.contains("rel=\"prev\""), "{link}");
    let big = api.get(&format!("{path}?per_page=100")).await;
    assert_eq!(big.json.as_array().unwrap().len(), 65);
    assert!(big.header("link").is_none());
}

#[tokio::test]
async fn merge_is_refused_until_approved_and_checked() {
    let f = forge(ForgeKind::Github).await;
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
            "maintainer",
            "ade/task-1",
            &[("src/new.rs", Some("// new\n"))],
            "task 1",
        )
        .await
        .unwrap();
    let opened = api
        .post(
            "/repos/octo/demo/pulls",
            json!({ "title": "Task 1", "body": "approval", "head": "ade/task-1", "base": "main" }),
        )
        .await;
    assert_eq!(opened.status, 201, "{:?}", opened.json);
    let number = opened.json["number"].as_i64().unwrap();
    let head = opened.json["head"]["sha"].as_str().unwrap().to_owned();
    assert_eq!(opened.json["user"]["login"], "ade-sim[bot]");
    let duplicate = api
        .post(
            "/repos/octo/demo/pulls",
            json!({ "title": "again", "head": "ade/task-1", "base": "main" }),
        )
        .await;
    assert_eq!(duplicate.status, 422);

    let merge_path = format!("/repos/octo/demo/pulls/{number}/merge");
    let refused = api
        .call(
            "PUT",
            &merge_path,
            Some(json!({ "sha": head, "merge_method": "squash" })),
        )
        .await;
    assert_eq!(refused.status, 405, "{:?}", refused.json);
    let message = refused.json["message"].as_str().unwrap();
    assert!(message.contains("approving review"), "{message}");
    assert!(message.contains("ade/verify"), "{message}");

    f.sim
        .review(REPO, number, "reader", ReviewState::Approved, "lgtm")
        .await
        .unwrap();
    f.sim
        .review(REPO, number, "maintainer", ReviewState::Approved, "lgtm")
        .await
        .unwrap();
    let reviews = api
        .get(&format!("/repos/octo/demo/pulls/{number}/reviews"))
        .await;
    assert_eq!(reviews.json.as_array().unwrap().len(), 2);
    assert_eq!(reviews.json[1]["state"], "APPROVED");
    assert_eq!(reviews.json[1]["commit_id"], head.as_str());
    let still = api
        .call("PUT", &merge_path, Some(json!({ "sha": head })))
        .await;
    assert_eq!(still.status, 405);
    assert!(
        !still.json["message"]
            .as_str()
            .unwrap()
            .contains("approving")
    );

    let check = api
        .post(
            "/repos/octo/demo/check-runs",
            json!({ "name": "ade/verify", "head_sha": head, "status": "in_progress", "external_id": "run-1", "output": { "title": "Running", "summary": "..." } }),
        )
        .await;
    assert_eq!(check.status, 201, "{:?}", check.json);
    let check_id = check.json["id"].as_i64().unwrap();
    let done = api
        .call(
            "PATCH",
            &format!("/repos/octo/demo/check-runs/{check_id}"),
            Some(json!({ "conclusion": "success", "output": { "title": "Passed", "summary": "all good" } })),
        )
        .await;
    assert_eq!(done.json["status"], "completed");
    let listed = api
        .get(&format!(
            "/repos/octo/demo/commits/{head}/check-runs?check_name=ade/verify"
        ))
        .await;
    assert_eq!(listed.json["total_count"], 1);
    assert_eq!(listed.json["check_runs"][0]["external_id"], "run-1");
    let checks = f.sim.checks(REPO, &head);
    assert_eq!(checks[0].state, ade::forge::CheckState::Success);
    assert_eq!(checks[0].title, "Passed");

    let moved = api
        .call("PUT", &merge_path, Some(json!({ "sha": "0".repeat(40) })))
        .await;
    assert_eq!(moved.status, 409);
    let merged = api
        .call(
            "PUT",
            &merge_path,
            Some(json!({ "sha": head, "merge_method": "squash" })),
        )
        .await;
    assert_eq!(merged.status, 200, "{:?}", merged.json);
    let merge_sha = merged.json["sha"].as_str().unwrap();
    assert_eq!(f.sim.branch_sha(REPO, "main").await.unwrap(), merge_sha);
    assert_eq!(
        f.sim.file(REPO, "main", "src/new.rs").await.unwrap(),
        b"// new\n"
    );
    let pull = f.sim.pull(REPO, number).unwrap();
    assert!(pull.merged && !pull.open);
    assert_eq!(api.get(&merge_path).await.status, 204);
    assert_eq!(
        api.call("PUT", &merge_path, Some(json!({}))).await.status,
        405,
        "merged already"
    );
}

#[tokio::test]
async fn merge_styles_land_the_change() {
    let f = forge(ForgeKind::Github).await;
    for (i, style) in [MergeStyle::Merge, MergeStyle::Squash, MergeStyle::Rebase]
        .into_iter()
        .enumerate()
    {
        let number = f
            .sim
            .open_pull_with_change(
                REPO,
                "maintainer",
                &format!("topic-{i}"),
                (&format!("f{i}.txt"), "x\n"),
                "change",
            )
            .await
            .unwrap();
        let sha = f
            .sim
            .merge_pull(REPO, number, "maintainer", style)
            .await
            .unwrap();
        assert_eq!(f.sim.branch_sha(REPO, "main").await.unwrap(), sha);
        assert!(
            f.sim
                .file(REPO, "main", &format!("f{i}.txt"))
                .await
                .is_some()
        );
    }
}
