//! GitHub installation tokens asked for some repositories and permissions: held to them over the
//! API and over git, refused (422) beyond what the installation was given, and revoked by
//! `DELETE /installation/token`, after which they are bad credentials.

use crate::support::{Api, Forge, REPO, TempDir, forge, git, url_with_credentials};
use ade::forge::ForgeKind;
use ade::sim::NewRepo;
use serde_json::json;
use std::collections::BTreeMap;

const OTHER: &str = "octo/other";

/// The GitHub simulator with a second repository and an installation covering both; returns
/// the installation and the second repository's id.
async fn two_repositories() -> (Forge, i64, i64) {
    let f = forge(ForgeKind::Github).await;
    let other = f
        .sim
        .create_repo(NewRepo::new("octo", "other").file("README.md", "# other\n"))
        .await
        .unwrap();
    let installation = f.sim.install_app("octo", &[REPO, OTHER]);
    (f, installation, other.id)
}

async fn mint(f: &Forge, installation: i64, body: serde_json::Value) -> crate::support::Answer {
    Api::with_token(f, Some(&f.sim.app_jwt()))
        .post(
            &format!("/app/installations/{installation}/access_tokens"),
            body,
        )
        .await
}

async fn reaches_by_git(f: &Forge, repo: &str, token: &str, push: bool) -> bool {
    let dir = TempDir::new("scoped-git");
    let url = url_with_credentials(&f.sim.clone_url(repo), "x-access-token", token);
    if !git(&dir.0, &dir.0, &["clone", "--quiet", &url, "work"])
        .await
        .status
        .success()
    {
        return false;
    }
    if !push {
        return true;
    }
    let work = dir.0.join("work");
    git(
        &work,
        &dir.0,
        &["push", "-q", &url, "HEAD:refs/heads/scoped"],
    )
    .await
    .status
    .success()
}

#[tokio::test]
async fn a_token_for_one_repository_and_some_permissions_is_held_to_them() {
    let (f, installation, other_id) = two_repositories().await;
    let issued = mint(
        &f,
        installation,
        json!({
            "repositories": ["demo"],
            "permissions": { "contents": "read", "issues": "write" }
        }),
    )
    .await;
    assert_eq!(issued.status, 201, "{:?}", issued.json);
    assert_eq!(
        issued.json["permissions"],
        json!({ "contents": "read", "issues": "write", "metadata": "read" }),
        "metadata comes with every token"
    );
    assert_eq!(issued.json["repository_selection"], "selected");
    let names: Vec<&str> = issued.json["repositories"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["full_name"].as_str().unwrap())
        .collect();
    assert_eq!(names, [REPO]);
    let token = issued.json["token"].as_str().unwrap().to_owned();
    let api = Api::with_token(&f, Some(&token));

    assert_eq!(api.get("/repos/octo/demo").await.status, 200);
    let elsewhere = api.get("/repos/octo/other").await;
    assert_eq!(elsewhere.status, 404, "another repository is not there");
    let listed = api.get("/installation/repositories").await;
    assert_eq!(listed.json["total_count"], 1);
    assert_eq!(listed.json["repositories"][0]["full_name"], REPO);
    assert_eq!(
        api.get("/repos/octo/demo/contents/src/lib.rs").await.status,
        200
    );
    let issue = f
        .sim
        .open_issue(REPO, "maintainer", "Goal", "text")
        .await
        .unwrap();
    let comment = api
        .post(
            &format!("/repos/octo/demo/issues/{issue}/comments"),
            json!({ "body": "allowed" }),
        )
        .await;
    assert_eq!(comment.status, 201, "issues: write was asked for");
    let pull = api
        .post(
            "/repos/octo/demo/pulls",
            json!({ "title": "t", "head": "main", "base": "main" }),
        )
        .await;
    assert_eq!(pull.status, 403, "pull_requests was not asked for");
    assert_eq!(
        pull.json["message"],
        "Resource not accessible by integration"
    );

    assert!(reaches_by_git(&f, REPO, &token, false).await, "it fetches");
    assert!(
        !reaches_by_git(&f, REPO, &token, true).await,
        "contents: read does not push"
    );
    assert!(!reaches_by_git(&f, OTHER, &token, false).await);
    assert_eq!(f.sim.branch_sha(REPO, "scoped").await, None);

    let by_id = mint(
        &f,
        installation,
        json!({
            "repository_ids": [other_id],
            "permissions": { "contents": "write" }
        }),
    )
    .await;
    assert_eq!(by_id.status, 201, "{:?}", by_id.json);
    let other_token = by_id.json["token"].as_str().unwrap();
    assert!(reaches_by_git(&f, OTHER, other_token, true).await);
    assert!(!reaches_by_git(&f, REPO, other_token, false).await);

    let recorded = f.sim.installation_tokens();
    let first = recorded.iter().find(|t| t.token == token).unwrap();
    assert_eq!(first.scope.repositories, Some(vec![REPO.to_string()]));
    assert_eq!(
        first.scope.permissions,
        Some(BTreeMap::from([
            ("contents".into(), "read".into()),
            ("issues".into(), "write".into()),
            ("metadata".into(), "read".into()),
        ]))
    );
    let carried: Vec<_> = f
        .sim
        .calls()
        .into_iter()
        .filter(|c| c.installation_token == Some(first.serial))
        .map(|c| c.status)
        .collect();
    assert!(
        carried.contains(&404) && carried.contains(&403) && carried.contains(&201),
        "the call record names the token each call carried: {carried:?}"
    );
}

#[tokio::test]
async fn a_token_cannot_be_asked_for_more_than_the_installation_was_given() {
    let (f, installation, _) = two_repositories().await;
    for body in [
        json!({ "repositories": ["elsewhere"] }),
        json!({ "repositories": ["demo", "elsewhere"] }),
        json!({ "repository_ids": [1] }),
        json!({ "permissions": { "administration": "read" } }),
        json!({ "permissions": { "members": "write" } }),
        json!({ "permissions": { "contents": "admin" } }),
    ] {
        let refused = mint(&f, installation, body.clone()).await;
        assert_eq!(refused.status, 422, "{body}: {:?}", refused.json);
    }
    let everything = mint(&f, installation, json!({})).await;
    assert_eq!(everything.status, 201);
    assert_eq!(everything.json["repositories"].as_array().unwrap().len(), 2);
    assert_eq!(everything.json["permissions"]["pull_requests"], "write");
}

#[tokio::test]
async fn a_revoked_token_is_bad_credentials() {
    let (f, installation, _) = two_repositories().await;
    let issued = mint(
        &f,
        installation,
        json!({ "repositories": ["demo"], "permissions": { "contents": "write" } }),
    )
    .await;
    let token = issued.json["token"].as_str().unwrap().to_owned();
    let api = Api::with_token(&f, Some(&token));
    assert!(reaches_by_git(&f, REPO, &token, true).await);

    let revoked = api.call("DELETE", "/installation/token", None).await;
    assert_eq!(revoked.status, 204);
    let after = api.get("/installation/repositories").await;
    assert_eq!(after.status, 401);
    assert_eq!(after.json["message"], "Bad credentials");
    assert!(!reaches_by_git(&f, REPO, &token, false).await);
    assert_eq!(
        api.call("DELETE", "/installation/token", None).await.status,
        401,
        "a token revokes once"
    );
    let record = f.sim.installation_tokens();
    assert!(record.iter().find(|t| t.token == token).unwrap().revoked);
    assert!(
        !record.iter().any(|t| t.token != token && t.revoked),
        "only the token that called is revoked"
    );
    let jwt = Api::with_token(&f, Some(&f.sim.app_jwt()));
    assert_eq!(
        jwt.call("DELETE", "/installation/token", None).await.status,
        401,
        "the app's JWT is not an installation token"
    );
}
