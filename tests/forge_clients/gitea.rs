//! The Gitea/Forgejo client, operation by operation, against the fake: the requests it builds,
//! checked against Gitea 1.26's and Forgejo 11's Swagger descriptions, and the answers it reads.

use super::conformance::description::Spec;
use super::fake::{Answer, FakeForge, Recorded};
use super::openapi::assert_conforms;
use super::support::{options, pull_at, repo};
use ade::forge::ReviewState;
use ade::forge::gitea::GiteaForge;
use ade::forge::{
    BranchProtection, Check, CheckState, CheckTarget, Forge, ForgeError, GitAccess, MergeMethod,
    NewPullRequest, Permission, PullRequestUpdate, Reaction,
};
use ade::secret::Secret;
use serde_json::{Value, json};

pub const PREFIX: &str = "/api/v1";
const SHA: &str = "6dcb09b5b57875f334f61aebed695e2e4193db5e";
const REPO: &str = "/repos/octo-org/hello-world";
const TOKEN: &str = "0123456789abcdef0123456789abcdef01234567";

pub fn client(fake: &FakeForge) -> GiteaForge {
    GiteaForge::with_token(&format!("{}/", fake.url), Secret::new(TOKEN), options()).unwrap()
}

/// The Gitea and Forgejo descriptions, `forgejo` choosing which.
pub fn spec(forgejo: bool) -> Option<Spec> {
    let file = if forgejo {
        "gitea/forgejo-swagger.v1.json"
    } else {
        "gitea/swagger.v1.json"
    };
    Spec::load(file, PREFIX)
}

fn user(login: &str) -> Value {
    json!({ "id": 3, "login": login, "full_name": "", "email": format!("{login}@example.com") })
}

fn comment(id: i64, login: &str, body: &str) -> Value {
    json!({
        "id": id, "body": body, "user": user(login),
        "html_url": format!("https://gitea.example.com/octo-org/hello-world/issues/7#issuecomment-{id}"),
        "created_at": "2024-01-01T00:00:00Z", "updated_at": "2024-01-01T00:00:00Z"
    })
}

/// A comment as the repository-wide listing shows it: Gitea links an issue's comment by
/// `issue_url` and a pull request's by `pull_request_url`, the other one empty.
fn comment_on(id: i64, login: &str, body: &str, issue_url: &str, pull_request_url: &str) -> Value {
    let mut comment = comment(id, login, body);
    comment["issue_url"] = json!(issue_url);
    comment["pull_request_url"] = json!(pull_request_url);
    comment["created_at"] = json!(format!("2024-01-01T00:00:{:02}Z", id - 1000));
    comment
}

fn pull(state: &str, title: &str) -> Value {
    json!({
        "id": 1, "number": 8, "title": title, "state": state, "merged": false,
        "html_url": "https://gitea.example.com/octo-org/hello-world/pulls/8",
        "head": { "label": "ade/1-task", "ref": "ade/1-task", "sha": SHA },
        "base": { "label": "main", "ref": "main", "sha": "b".repeat(40) }
    })
}

fn review(id: i64, login: &str, state: &str, dismissed: bool) -> Value {
    json!({ "id": id, "user": user(login), "state": state, "commit_id": SHA, "dismissed": dismissed, "stale": false, "official": true, "body": "" })
}

/// Answers for every endpoint the client uses, shaped like the Swagger definitions; `forgejo`
/// picks Forgejo's name for the admin setting of branch protection.
pub fn routes(r: &Recorded, forgejo: bool) -> Answer {
    let route = r.route(PREFIX).replacen(REPO, "", 1);
    match route.as_str() {
        "GET /user" => Answer::json(200, user("ade-bot")),
        "POST /issues/7/comments" => Answer::json(201, comment(1001, "ade-bot", "hello")),
        "PATCH /issues/comments/1001" => Answer::json(200, comment(1001, "ade-bot", "edited")),
        "GET /issues/7/comments" => Answer::json(200, json!([comment(1001, "alice", "/ade plan"), comment(1002, "ade-bot", "plan")])),
        "GET /issues/comments" => Answer::json(200, json!([
            comment_on(1003, "bob", "/ade retry", "", "https://gitea.example.com/octo-org/hello-world/pulls/8"),
            comment_on(1001, "alice", "/ade plan", "https://gitea.example.com/octo-org/hello-world/issues/7", ""),
            comment_on(1004, "carol", "odd", "", "")
        ])),
        "GET /issues/7" => Answer::json(200, json!({
            "id": 107, "number": 7, "title": "Add a flag", "body": "", "user": user("alice"),
            "state": "open", "pull_request": null,
            "html_url": "https://gitea.example.com/octo-org/hello-world/issues/7"
        })),
        "GET /issues/8" => Answer::json(200, json!({
            "id": 108, "number": 8, "title": "ade: t1", "body": "the task", "user": user("ade-bot"),
            "state": "open", "pull_request": { "merged": false, "draft": false, "html_url": "https://gitea.example.com/octo-org/hello-world/pulls/8" },
            "html_url": "https://gitea.example.com/octo-org/hello-world/pulls/8"
        })),
        "GET /issues/comments/1001/reactions" => Answer::json(200, json!([{ "user": user("alice"), "content": "eyes", "created_at": "2024-01-01T00:00:00Z" }])),
        "POST /issues/comments/1001/reactions" => Answer::json(201, json!({ "user": user("ade-bot"), "content": "eyes", "created_at": "2024-01-01T00:00:00Z" })),
        "GET /contents/.ade/config.toml" => Answer::json(200, json!({
            "type": "file", "encoding": "base64", "content": "W3BvbGljeV0KeD0xCg==",
            "name": "config.toml", "path": ".ade/config.toml", "sha": SHA, "size": 13
        })),
        "GET /contents/missing.toml" => Answer::not_found(),
        "GET " => Answer::json(200, json!({
            "id": 1, "name": "hello-world", "full_name": "octo-org/hello-world", "default_branch": "main",
            "clone_url": "https://gitea.example.com/octo-org/hello-world.git"
        })),
        "GET /branches/main" => Answer::json(200, json!({
            "name": "main", "commit": { "id": SHA, "message": "init" }, "protected": true,
            "required_approvals": 1, "enable_status_check": true, "status_check_contexts": ["ade/verify"],
            "effective_branch_protection_name": "main", "user_can_push": false, "user_can_merge": true
        })),
        "GET /branches/unprotected" => Answer::json(200, json!({ "name": "unprotected", "commit": { "id": SHA }, "protected": false })),
        "GET /branch_protections/main" => {
            let mut rule = json!({
                "rule_name": "main", "branch_name": "main", "required_approvals": 2,
                "enable_status_check": true, "status_check_contexts": ["ade/verify", "ci/*"]
            });
            let admins = if forgejo { "apply_to_admins" } else { "block_admin_merge_override" };
            rule[admins] = Value::Bool(true);
            Answer::json(200, rule)
        }
        "GET /collaborators/alice/permission" => Answer::json(200, json!({ "permission": "owner", "role_name": "owner", "user": user("alice") })),
        "GET /collaborators/bob/permission" => Answer::json(200, json!({ "permission": "write", "role_name": "write", "user": user("bob") })),
        "GET /collaborators/ghost/permission" => Answer::not_found(),
        "GET /labels" => Answer::json(200, json!([{ "id": 11, "name": "ade", "color": "f29513" }, { "id": 12, "name": "ade/rejected", "color": "d73a4a" }])).header("x-total-count", 2),
        "POST /issues/7/labels" => Answer::json(200, json!([{ "id": 11, "name": "ade", "color": "f29513" }])),
        "POST /pulls" => {
            let title = r.body.as_ref().and_then(|b| b["title"].as_str()).unwrap_or_default().to_string();
            Answer::json(201, pull("open", &title))
        }
        "PATCH /pulls/8" => Answer::json(201, pull("closed", "ade: task 1")),
        r if r == format!("POST /statuses/{SHA}") => Answer::json(201, json!({
            "id": 5, "status": "success", "context": "ade/verify", "description": "ok",
            "target_url": "https://ade.example.com/runs/1", "created_at": "2024-01-01T00:00:00Z"
        })),
        "GET /pulls/8/reviews" => Answer::json(200, json!([
            review(80, "bob", "APPROVED", false),
            review(81, "carol", "REQUEST_CHANGES", true),
            review(82, "dave", "REQUEST_REVIEW", false),
            review(83, "erin", "COMMENT", false)
        ])),
        "POST /pulls/8/merge" => Answer::empty(200),
        _ => Answer::json(418, json!({ "message": format!("the fake has no route for {route}") })),
    }
}

#[tokio::test]
async fn every_operation_builds_documented_requests_and_reads_the_answers() {
    for forgejo in [false, true] {
        let fake = FakeForge::start(move |r| routes(r, forgejo)).await;
        let gitea = client(&fake);
        let repo = repo(None);

        assert_eq!(gitea.bot_login().await.unwrap(), "ade-bot");
        assert_eq!(gitea.create_comment(&repo, 7, "hello").await.unwrap(), 1001);
        gitea.update_comment(&repo, 1001, "edited").await.unwrap();
        let comments = gitea.list_comments(&repo, 7).await.unwrap();
        assert_eq!(
            comments.iter().map(|c| c.id).collect::<Vec<_>>(),
            vec![1001, 1002]
        );
        // Oldest first whatever order the forge lists them in; one linked to nothing is left out.
        let recent = gitea
            .recent_comments(&repo, 1_704_067_200_000)
            .await
            .unwrap();
        assert_eq!(
            recent
                .iter()
                .map(|c| (c.number, c.comment.id))
                .collect::<Vec<_>>(),
            vec![(7, 1001), (8, 1003)]
        );
        let issue = gitea.issue(&repo, 7).await.unwrap();
        assert_eq!(
            (
                issue.title.as_str(),
                issue.author.as_str(),
                issue.is_pull_request
            ),
            ("Add a flag", "alice", false)
        );
        assert!(gitea.issue(&repo, 8).await.unwrap().is_pull_request);
        gitea
            .add_reaction(&repo, 1001, Reaction::Eyes)
            .await
            .unwrap();

        let file = gitea
            .read_file(&repo, ".ade/config.toml", "main")
            .await
            .unwrap();
        assert_eq!(file.as_deref(), Some(&b"[policy]\nx=1\n"[..]));
        assert_eq!(
            gitea
                .read_file(&repo, "missing.toml", "main")
                .await
                .unwrap(),
            None
        );

        let head = gitea.default_branch(&repo).await.unwrap();
        assert_eq!((head.name.as_str(), head.sha.as_str()), ("main", SHA));
        assert_eq!(
            gitea.permission(&repo, "alice").await.unwrap(),
            Permission::Admin
        );
        assert_eq!(
            gitea.permission(&repo, "bob").await.unwrap(),
            Permission::Write
        );
        assert_eq!(
            gitea.permission(&repo, "ghost").await.unwrap(),
            Permission::None
        );

        gitea
            .add_labels(&repo, 7, &["ade".into(), "not-in-repo".into()])
            .await
            .unwrap();

        let new = NewPullRequest {
            title: "ade: task 1".into(),
            body: "body".into(),
            head: "ade/1-task".into(),
            base: "main".into(),
            draft: true,
        };
        let opened = gitea.create_pull_request(&repo, &new).await.unwrap();
        assert_eq!(
            (opened.number, opened.open, opened.head_sha.as_str()),
            (8, true, SHA)
        );
        let update = PullRequestUpdate {
            open: Some(false),
            ..Default::default()
        };
        assert!(
            !gitea
                .update_pull_request(&repo, 8, &update)
                .await
                .unwrap()
                .open
        );

        let check = Check {
            name: "ade/verify".into(),
            head_sha: SHA.into(),
            state: CheckState::Failure,
            title: "x".repeat(200),
            summary: "only GitHub shows this".into(),
            text: None,
            annotations: Vec::new(),
            details_url: Some("https://ade.example.com/runs/1".into()),
            external_id: Some("run-1".into()),
        };
        assert_eq!(
            gitea
                .set_check(&repo, &check, CheckTarget::Create)
                .await
                .unwrap()
                .id,
            5
        );

        let reviews = gitea.list_reviews(&repo, 8).await.unwrap();
        let states: Vec<_> = reviews
            .iter()
            .map(|r| (r.author.as_str(), r.state))
            .collect();
        assert_eq!(
            states,
            vec![
                ("bob", ReviewState::Approved),
                ("carol", ReviewState::Dismissed),
                ("erin", ReviewState::Commented)
            ]
        );

        gitea
            .merge(&repo, &pull_at(8, SHA), MergeMethod::Rebase)
            .await
            .unwrap();

        assert_eq!(
            gitea.branch_protection(&repo, "main").await.unwrap(),
            Some(BranchProtection {
                required_approvals: 2,
                required_checks: vec!["ade/verify".into(), "ci/*".into()],
                enforce_admins: true,
            })
        );
        assert_eq!(
            gitea.branch_protection(&repo, "unprotected").await.unwrap(),
            None
        );

        let credential = gitea
            .clone_credential(&repo, GitAccess::Push)
            .await
            .unwrap();
        assert_eq!(
            credential.url,
            "https://gitea.example.com/octo-org/hello-world.git"
        );
        assert_eq!(
            (credential.username.as_str(), credential.password.expose()),
            ("ade-bot", TOKEN)
        );
        assert_eq!(credential.expires_at, None);
        let before = fake.requests().len();
        gitea.revoke_credential(&credential).await.unwrap();
        assert_eq!(
            fake.requests().len(),
            before,
            "the bot's own token is not revoked"
        );

        let requests = fake.requests();
        let find = |route: &str| requests.iter().find(|r| r.route(PREFIX) == route).unwrap();
        assert_eq!(
            find(&format!("POST {REPO}/issues/7/labels")).body,
            Some(json!({ "labels": [11] }))
        );
        assert_eq!(
            find(&format!("POST {REPO}/pulls")).body.as_ref().unwrap()["title"],
            "WIP: ade: task 1"
        );
        assert_eq!(
            find(&format!("POST {REPO}/pulls/8/merge")).body,
            Some(json!({ "Do": "rebase", "head_commit_id": SHA }))
        );
        let status = find(&format!("POST {REPO}/statuses/{SHA}"))
            .body
            .clone()
            .unwrap();
        assert_eq!(status["state"], "failure");
        assert_eq!(status["description"].as_str().unwrap().chars().count(), 140);
        for r in &requests {
            assert_eq!(
                r.header("authorization"),
                Some(format!("token {TOKEN}").as_str())
            );
        }
        if let Some(spec) = spec(forgejo) {
            assert_conforms(&[spec], &requests);
        }
    }
}

#[tokio::test]
async fn a_reaction_already_there_is_not_posted_again() {
    let fake = FakeForge::start(|r| match r.route(PREFIX).replacen(REPO, "", 1).as_str() {
        "GET /user" => Answer::json(200, user("ade-bot")),
        "GET /issues/comments/5/reactions" => {
            Answer::json(200, json!([{ "user": user("ade-bot"), "content": "eyes" }]))
        }
        "GET /issues/comments/6/reactions" => Answer::json(200, Value::Null),
        "POST /issues/comments/6/reactions" => {
            Answer::json(422, json!({ "message": "reaction 'eyes' already exists" }))
        }
        other => Answer::json(418, json!({ "message": other })),
    })
    .await;
    let gitea = client(&fake);
    gitea
        .add_reaction(&repo(None), 5, Reaction::Eyes)
        .await
        .unwrap();
    assert_eq!(
        fake.count(PREFIX, &format!("POST {REPO}/issues/comments/5/reactions")),
        0
    );
    gitea
        .add_reaction(&repo(None), 6, Reaction::Eyes)
        .await
        .unwrap();
    assert_eq!(
        fake.count(PREFIX, "GET /user"),
        1,
        "the bot's login is asked once"
    );
}

#[tokio::test]
async fn reviews_are_read_past_the_first_page() {
    let fake = FakeForge::start(|r| {
        let page: i64 = r.query("page").unwrap().parse().unwrap();
        let limit: i64 = r.query("limit").unwrap().parse().unwrap();
        let ids = ((page - 1) * limit + 1)..=(page * limit).min(60);
        let body = Value::Array(ids.map(|i| review(i, "bob", "APPROVED", false)).collect());
        Answer::json(200, body).header("x-total-count", 60)
    })
    .await;
    let reviews = client(&fake).list_reviews(&repo(None), 8).await.unwrap();
    assert_eq!(reviews.len(), 60);
    assert_eq!(fake.requests().len(), 2);
}

#[tokio::test]
async fn the_token_shows_in_no_debug_output_or_error() {
    let fake = FakeForge::start(|_| Answer::json(500, json!({ "message": "boom" }))).await;
    let gitea = client(&fake);
    assert!(!format!("{gitea:?}").contains(TOKEN));
    let error = gitea.bot_login().await.unwrap_err();
    assert!(!format!("{error:?} {error}").contains(TOKEN));
}

#[tokio::test]
async fn permissions_need_a_repository_admin_bot() {
    let fake = FakeForge::start(|_| Answer::json(403, json!({ "message": "forbidden" }))).await;
    let result = client(&fake).permission(&repo(None), "alice").await;
    assert!(matches!(result, Err(ForgeError::Forbidden(m)) if m.contains("admin")));
}

#[tokio::test]
async fn unreadable_rules_fall_back_to_the_branch_and_large_files_to_raw() {
    let fake = FakeForge::start(|r| match r.route(PREFIX).replacen(REPO, "", 1).as_str() {
        "GET /branches/release%2F1.0" => Answer::json(200, json!({
            "name": "release/1.0", "commit": { "id": SHA }, "protected": true, "required_approvals": 1,
            "enable_status_check": false, "status_check_contexts": ["ignored"],
            "effective_branch_protection_name": "release/*"
        })),
        "GET /branch_protections/release%2F%2A" => Answer::json(403, json!({ "message": "not a repo admin" })),
        "GET /contents/big.bin" => Answer::json(200, json!({ "type": "file", "name": "big.bin", "path": "big.bin", "sha": SHA, "size": 3, "content": null, "encoding": null })),
        "GET /raw/big.bin" => Answer::bytes(200, b"abc"),
        other => Answer::json(418, json!({ "message": other })),
    })
    .await;
    let gitea = client(&fake);
    assert_eq!(
        gitea
            .branch_protection(&repo(None), "release/1.0")
            .await
            .unwrap(),
        Some(BranchProtection {
            required_approvals: 1,
            required_checks: vec![],
            enforce_admins: false
        })
    );
    assert_eq!(
        gitea
            .read_file(&repo(None), "big.bin", "main")
            .await
            .unwrap(),
        Some(b"abc".to_vec())
    );
    let requests = fake.requests();
    assert_eq!(requests.last().unwrap().query("ref"), Some("main"));
    for forgejo in [false, true] {
        if let Some(spec) = spec(forgejo) {
            for r in &requests {
                let errors = spec.check_request(&r.request());
                assert!(errors.is_empty(), "{errors:?}");
            }
        }
    }
}
