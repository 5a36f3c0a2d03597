//! The REST API: an operator makes a token with `ade tokens create`, and a script reads every goal
//! and one goal's lineage with it. A missing, malformed, unknown, expired or revoked token is
//! refused, as is a parameter a route does not take, each with a JSON error; `ade tokens list`
//! never shows a token, and making and revoking one are audited.

use super::runs::{approval_of, plan_and_approve};
use super::support::runner::{runner_config, script_agent};
use super::support::story::{MAINTAINER, REPO, Story};
use ade::forge::ForgeKind;
use serde_json::Value;
use std::process::Command;

const POLICY: &str = "[agents]\ndefault = \"script\"\n";

const NOTES: &str = "mkdir -p notes\necho \"notes of $ADE_TASK_ID\" > notes/$ADE_TASK_ID.md\n";

/// `ade tokens ARGS` beside the story's service, on its database and data dir: exit code, standard
/// output and standard error. The service keeps running meanwhile (on a story's single-threaded
/// runtime, waiting for the command on that thread would freeze the service mid-transaction).
async fn tokens_cli(story: &Story, args: &[&str]) -> (i32, String, String) {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_ade"));
    command
        .arg("tokens")
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("ADE_DATABASE__URL", story.database_url())
        .env("ADE_STORAGE__DATA_DIR", story.config_dir())
        .env("USER", "ops");
    let out = command.output().await.expect("ade runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A token made by `ade tokens create --name NAME`.
async fn token(story: &Story, name: &str) -> String {
    let (code, out, err) = tokens_cli(story, &["create", "--name", name]).await;
    assert_eq!(code, 0, "{out}{err}");
    out.trim().to_string()
}

/// `GET path` on ade with `authorization` (a whole header value): status, and the body as JSON.
async fn get(story: &Story, path: &str, authorization: Option<&str>) -> (u16, Value) {
    let mut request = reqwest::Client::new().get(format!("http://{}{path}", story.ade.addr()));
    if let Some(value) = authorization {
        request = request.header("authorization", value);
    }
    let response = request.send().await.expect("ade answers");
    let status = response.status().as_u16();
    let challenge = response.headers().get("www-authenticate").cloned();
    let text = response.text().await.unwrap();
    let body: Value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("GET {path}: not JSON ({e}): {text}"));
    if status == 401 {
        assert_eq!(
            challenge.as_ref().and_then(|v| v.to_str().ok()),
            Some("Bearer realm=\"ade\""),
            "GET {path}: a 401 names the scheme"
        );
    }
    (status, body)
}

async fn read(story: &Story, path: &str, token: &str) -> Value {
    let (status, body) = get(story, path, Some(&format!("Bearer {token}"))).await;
    assert_eq!(status, 200, "GET {path}: {body}");
    body
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_script_with_a_read_token_follows_a_goal_from_its_plan_to_its_approval() {
    for kind in [ForgeKind::Github, ForgeKind::Gitea] {
        let story = Story::start_with(kind, false, &[(".ade/config.toml", POLICY)], |c, d| {
            runner_config(c, d, &script_agent(NOTES, 60))
        })
        .await;
        let issue = story
            .issue(MAINTAINER, "Project notes", "- [ ] Write the notes\n")
            .await;
        plan_and_approve(&story, issue).await;
        let pull = approval_of(&story, "t1").await;
        let token = token(&story, "dashboard").await;

        let goals = read(&story, "/api/v1/goals", &token).await;
        let items = goals["items"].as_array().unwrap();
        assert_eq!(items.len(), 1, "{kind:?}: {goals}");
        let goal = &items[0];
        assert_eq!(goal["repository"], REPO);
        assert_eq!(goal["number"], issue);
        assert_eq!(goal["forge"], kind.as_str());
        assert_eq!(goal["title"], "Project notes");
        assert_eq!(goal["spec"]["version"], 1);
        assert_eq!(goal["spec"]["state"], "active", "{goals}");
        assert_eq!(goals["next"], Value::Null);

        let id = goal["id"].as_i64().unwrap();
        let whole = super::support::eventually(
            super::support::story::PATIENCE,
            "the goal's run to finish",
            || async {
                let whole = read(&story, &format!("/api/v1/goals/{id}"), &token).await;
                let run = &whole["specs"][0]["tasks"][0]["runs"][0];
                (run["state"] == "succeeded").then_some(whole)
            },
        )
        .await;
        let spec = &whole["specs"][0];
        assert_eq!(spec["state"], "active");
        assert_eq!(spec["author"], MAINTAINER);
        assert_eq!(spec["content_hash"].as_str().unwrap().len(), 64);
        let task = &spec["tasks"][0];
        assert_eq!(task["task_id"], "t1");
        assert_eq!(task["title"], "Write the notes");
        let run = &task["runs"][0];
        assert_eq!(
            (&run["attempt"], &run["cause"], &run["agent"]),
            (&1.into(), &"start".into(), &"script".into())
        );
        assert!(run["head_sha"].is_string(), "{run}");
        assert_eq!(task["approval"]["number"], pull.number, "{whole}");
        assert_eq!(task["approval"]["head_sha"], run["head_sha"]);

        // A second plan: the lineage lists the versions oldest first.
        story.comment(issue, MAINTAINER, "/ade plan").await;
        let whole = super::support::eventually(
            super::support::story::PATIENCE,
            "the second version in the lineage",
            || async {
                let whole = read(&story, &format!("/api/v1/goals/{id}"), &token).await;
                (whole["specs"].as_array().unwrap().len() == 2).then_some(whole)
            },
        )
        .await;
        assert_eq!(
            (&whole["specs"][0]["version"], &whole["specs"][1]["version"]),
            (&1.into(), &2.into()),
            "{whole}"
        );

        for (query, expected) in [
            // The newest version decides: v2 waits for approval while v1 runs.
            (format!("repository={REPO}&state=validated"), 1),
            ("state=active".into(), 0),
            ("state=rejected".into(), 0),
            (format!("forge={}", kind.as_str()), 1),
            ("repository=acme/gadgets".into(), 0),
        ] {
            let page = read(&story, &format!("/api/v1/goals?{query}"), &token).await;
            assert_eq!(
                page["items"].as_array().unwrap().len(),
                expected,
                "{query}: {page}"
            );
        }
    }
}

#[tokio::test]
async fn goals_come_newest_first_a_page_at_a_time_and_the_cursor_reaches_each_once() {
    let story = Story::github().await;
    let mut issues = Vec::new();
    for n in 1..=4 {
        let issue = story
            .issue(MAINTAINER, &format!("Goal {n}"), "- [ ] Do it\n")
            .await;
        story.comment(issue, MAINTAINER, "/ade plan").await;
        story.until("the plan", |s| s.plan_comment(issue)).await;
        issues.push(issue);
    }
    let token = token(&story, "pager").await;
    let mut seen = Vec::new();
    let mut pages = 0;
    let mut path = "/api/v1/goals?limit=2".to_string();
    loop {
        let page = read(&story, &path, &token).await;
        pages += 1;
        let items = page["items"].as_array().unwrap();
        assert_eq!(items.len(), 2, "four goals are two full pages: {page}");
        seen.extend(items.iter().map(|g| g["number"].as_i64().unwrap()));
        match page["next"].as_i64() {
            Some(before) => path = format!("/api/v1/goals?limit=2&before={before}"),
            None => break,
        }
    }
    issues.reverse();
    assert_eq!(seen, issues, "newest first, each once");
    assert_eq!(pages, 2, "a full last page says there is no next one");
}

#[tokio::test]
async fn tokens_that_do_not_work_and_parameters_a_route_does_not_take_are_refused() {
    let story = Story::github().await;
    let good = token(&story, "script").await;
    let revoked = token(&story, "old laptop").await;
    let unknown = format!("ade_{}", "A".repeat(43));
    read(&story, "/api/v1/goals", &good).await;

    for (authorization, says) in [
        (None, "an API token is required"),
        (Some(format!("Basic {good}")), "not a bearer token"),
        (
            Some("Bearer ghp_0123456789".to_string()),
            "not an ade API token",
        ),
        (Some(format!("Bearer {unknown}")), "unknown API token"),
    ] {
        let (status, body) = get(&story, "/api/v1/goals", authorization.as_deref()).await;
        assert_eq!(status, 401, "{authorization:?}: {body}");
        assert!(body["error"].as_str().unwrap().contains(says), "{body}");
    }

    // Revoked: refused on its very next request.
    read(&story, "/api/v1/goals", &revoked).await;
    let (code, listed, err) = tokens_cli(&story, &["list"]).await;
    assert_eq!(code, 0, "{listed}{err}");
    let id = listed
        .lines()
        .find(|line| line.contains("old laptop"))
        .and_then(|line| line.split('\t').next())
        .unwrap_or_else(|| panic!("listed: {listed}"))
        .to_string();
    let (code, out, err) = tokens_cli(&story, &["revoke", &id]).await;
    assert_eq!(code, 0, "{out}{err}");
    let (status, body) = get(&story, "/api/v1/goals", Some(&format!("Bearer {revoked}"))).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("this API token was revoked"))
    );
    let (code, _, err) = tokens_cli(&story, &["revoke", &id]).await;
    assert_ne!(code, 0, "revoking twice is an error: {err}");

    // Expired: stored with its expiry in the past.
    let expired = ade::web::token::mint(ade::web::token::API).unwrap();
    let store = story.database().await;
    let mut conn = store.writer().await.unwrap();
    ade::store::api_tokens::insert(
        &mut conn,
        &ade::store::api_tokens::NewToken {
            name: "expired",
            scope: ade::store::api_tokens::TokenScope::Read,
            hash: &ade::web::token::hash(&expired),
            expires_at: ade::clock::unix_ms() - 1,
        },
        ade::clock::unix_ms() - 86_400_000,
    )
    .await
    .unwrap();
    drop(conn);
    let (status, body) = get(&story, "/api/v1/goals", Some(&format!("Bearer {expired}"))).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("this API token has expired"))
    );

    // The list shows names and standing, never a token; the good one was used.
    let (code, listed, err) = tokens_cli(&story, &["list"]).await;
    assert_eq!(code, 0, "{listed}{err}");
    for secret in [&good, &revoked, &expired] {
        assert!(!listed.contains(secret.as_str()), "{listed}");
    }
    assert!(listed.contains("revoked "), "{listed}");
    assert!(listed.contains("expired "), "{listed}");
    let script = listed.lines().find(|l| l.contains("\tscript\t")).unwrap();
    assert!(script.contains("last used"), "{script}");

    let bearer = format!("Bearer {good}");
    for (path, status, says) in [
        (
            "/api/v1/goals?colour=red",
            400,
            "unknown parameter \"colour\"",
        ),
        ("/api/v1/goals?limit=0", 400, "\"limit\" must be"),
        (
            "/api/v1/goals?state=ready",
            400,
            "\"state\" must be a spec state",
        ),
        (
            "/api/v1/goals?repository=no-slash",
            400,
            "\"repository\" must be owner/name",
        ),
        ("/api/v1/goals/123456", 404, "not found"),
        ("/api/v1/goals/not-a-number", 404, "not found"),
        ("/api/v1/nothing/here", 404, "not found"),
        ("/api/v1/goals/%FF", 404, "not found"),
        ("/api/v1/goals/+1", 404, "not found"),
        ("/api/v1/goals/1?x=1", 400, "this route takes no parameters"),
    ] {
        let (got, body) = get(&story, path, Some(&bearer)).await;
        assert_eq!(got, status, "{path}: {body}");
        assert!(
            body["error"].as_str().unwrap().contains(says),
            "{path}: {body}"
        );
    }

    let refused = reqwest::Client::new()
        .delete(format!("http://{}/api/v1/goals", story.ade.addr()))
        .header("authorization", &bearer)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status().as_u16(), 405);
    let body: Value = serde_json::from_str(&refused.text().await.unwrap()).unwrap();
    assert!(body["error"].is_string(), "{body}");

    let actions: Vec<String> = story
        .audit_records()
        .iter()
        .filter_map(|r| r["action"].as_str().map(str::to_owned))
        .filter(|a| a.starts_with("admin.tokens."))
        .collect();
    assert_eq!(
        actions,
        [
            "admin.tokens.create",
            "admin.tokens.create",
            "admin.tokens.revoke"
        ]
    );
}

#[test]
fn a_token_is_made_only_with_a_name_and_a_scope_and_a_life_it_can_have() {
    let dir = std::env::temp_dir().join(format!("ade-refused-tokens-{}", std::process::id()));
    for args in [
        &["create", "--name", ""][..],
        &["create", "--name", "x", "--scope", "admin"],
        &["create", "--name", "x", "--days", "0"],
        &["create", "--name", "x", "--days", "4000"],
        &["create", "--name", &"n".repeat(65)],
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_ade"))
            .arg("tokens")
            .args(args)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env(
                "ADE_DATABASE__URL",
                format!("sqlite://{}/ade.db", dir.display()),
            )
            .output()
            .expect("ade runs");
        assert!(!out.status.success(), "{args:?}");
        assert!(out.stdout.is_empty(), "{args:?}: nothing printed on stdout");
    }
    assert!(
        !dir.join("ade.db").exists(),
        "a refused token touches no database"
    );
}
