//! The GitHub client, operation by operation, against the fake: the requests it builds, checked
//! against GitHub's OpenAPI description, and the answers it reads.

use super::fake::{Answer, FakeForge};
use super::github_fixtures::{
    APP_ID, PREFIX, REPO, SHA, client, comment, github_spec, routes, token_answer,
};
use super::openapi::assert_conforms;
use super::support::{pull_at, repo, rfc3339_in};
use ade::forge::ReviewState;
use ade::forge::{
    BranchProtection, Check, CheckState, CheckTarget, Forge, ForgeError, GitAccess, MergeMethod,
    MergeRefusal, NewPullRequest, Permission, PullRequestUpdate, Reaction,
};
use serde_json::{Value, json};

#[tokio::test]
async fn every_operation_builds_documented_requests_and_reads_the_answers() {
    let fake = FakeForge::start(routes).await;
    let gh = client(&fake);
    let repo = repo(None);

    assert_eq!(gh.bot_login().await.unwrap(), "ade-test[bot]");
    assert_eq!(gh.create_comment(&repo, 7, "hello").await.unwrap(), 1001);
    gh.update_comment(&repo, 1001, "edited").await.unwrap();
    let comments = gh.list_comments(&repo, 7).await.unwrap();
    assert_eq!(comments.len(), 2);
    assert_eq!(
        (comments[0].author.as_str(), comments[0].body.as_str()),
        ("alice", "/ade plan")
    );
    gh.add_reaction(&repo, 1001, Reaction::Eyes).await.unwrap();
    gh.add_reaction(&repo, 1001, Reaction::Eyes).await.unwrap();
    // A pull request's comment names its issue; one whose link ends in no number is left out.
    let recent = gh.recent_comments(&repo, 1_704_067_200_000).await.unwrap();
    assert_eq!(
        recent
            .iter()
            .map(|c| (c.number, c.comment.id))
            .collect::<Vec<_>>(),
        vec![(7, 1001), (8, 1003)]
    );
    let issue = gh.issue(&repo, 7).await.unwrap();
    assert_eq!(
        (
            issue.title.as_str(),
            issue.body.as_str(),
            issue.author.as_str(),
            issue.is_pull_request
        ),
        ("Add a flag", "", "alice", false)
    );
    assert!(gh.issue(&repo, 8).await.unwrap().is_pull_request);

    let file = gh
        .read_file(&repo, ".ade/config.toml", "main")
        .await
        .unwrap();
    assert_eq!(file.as_deref(), Some(&b"[policy]\nx=1\n"[..]));
    assert_eq!(
        gh.read_file(&repo, "missing.toml", "main").await.unwrap(),
        None
    );

    let head = gh.default_branch(&repo).await.unwrap();
    assert_eq!((head.name.as_str(), head.sha.as_str()), ("main", SHA));
    assert_eq!(
        gh.permission(&repo, "alice").await.unwrap(),
        Permission::Maintain
    );
    assert_eq!(
        gh.permission(&repo, "nobody").await.unwrap(),
        Permission::None
    );

    gh.add_labels(&repo, 7, &["ade".to_string(), "not-in-repo".to_string()])
        .await
        .unwrap();

    let new = NewPullRequest {
        title: "ade: task 1".into(),
        body: "body".into(),
        head: "ade/1-task".into(),
        base: "main".into(),
        draft: false,
    };
    let opened = gh.create_pull_request(&repo, &new).await.unwrap();
    assert_eq!(
        (opened.number, opened.open, opened.merged),
        (8, true, false)
    );
    assert_eq!(opened.head_sha, SHA);
    let closed = gh
        .update_pull_request(
            &repo,
            8,
            &PullRequestUpdate {
                open: Some(false),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert!(!closed.open);

    let check = Check {
        name: "ade/verify".into(),
        head_sha: SHA.into(),
        state: CheckState::Success,
        title: "3 steps passed".into(),
        summary: "| step | result |\n|---|---|\n| test | ok |".into(),
        text: None,
        annotations: Vec::new(),
        details_url: Some("https://ade.example.com/runs/1".into()),
        external_id: Some("run-1".into()),
    };
    assert_eq!(
        gh.set_check(&repo, &check, CheckTarget::Find)
            .await
            .unwrap()
            .id,
        4
    );

    let reviews = gh.list_reviews(&repo, 8).await.unwrap();
    assert_eq!(reviews.len(), 2, "the pending review is left out");
    assert_eq!(
        (reviews[0].author.as_str(), reviews[0].state),
        ("bob", ReviewState::Approved)
    );
    assert_eq!(
        (reviews[1].author.as_str(), reviews[1].state),
        ("ghost", ReviewState::ChangesRequested)
    );

    gh.merge(&repo, &pull_at(8, SHA), MergeMethod::Squash)
        .await
        .unwrap();

    // The example's rulesets add rules whose bypass list this endpoint does not show, so whether
    // admins are held to them is unknown, which reads as not held.
    let protection = gh.branch_protection(&repo, "main").await.unwrap();
    assert_eq!(
        protection,
        Some(BranchProtection {
            required_approvals: 2,
            required_checks: vec!["ade/verify".into(), "ci/build".into()],
            enforce_admins: false,
        })
    );
    assert_eq!(
        gh.branch_protection(&repo, "unprotected").await.unwrap(),
        None
    );

    let credential = gh.clone_credential(&repo, GitAccess::Push).await.unwrap();
    assert_eq!(
        credential.url,
        "https://github.com/octo-org/hello-world.git"
    );
    assert_eq!(credential.username, "x-access-token");
    assert_eq!(credential.password.expose(), "ghs_test_token_1");
    assert!(credential.expires_at.unwrap() > ade::clock::unix_ms() + 50 * 60 * 1000);
    gh.revoke_credential(&credential).await.unwrap();

    let requests = fake.requests();
    let labels = requests
        .iter()
        .find(|r| r.route(PREFIX) == format!("POST {REPO}/issues/7/labels"))
        .unwrap();
    assert_eq!(
        labels.body,
        Some(json!({ "labels": ["ade"] })),
        "labels the repo lacks are not created"
    );
    let merge = requests.iter().find(|r| r.method == "PUT").unwrap();
    assert_eq!(
        merge.body,
        Some(json!({ "sha": SHA, "merge_method": "squash" }))
    );
    let listing = requests
        .iter()
        .find(|r| r.path.ends_with("/issues/comments"))
        .unwrap();
    assert_eq!(
        (
            listing.query("since"),
            listing.query("sort"),
            listing.query("direction")
        ),
        (Some("2024-01-01T00:00:00Z"), Some("created"), Some("asc"))
    );
    for r in &requests {
        assert_eq!(r.header("x-github-api-version"), Some("2022-11-28"));
        let auth = r.header("authorization").unwrap();
        if r.path.starts_with(&format!("{PREFIX}/app")) || r.path.ends_with("/installation") {
            assert!(
                auth.starts_with("Bearer ey"),
                "app calls carry the JWT: {auth}"
            );
        } else {
            assert_eq!(auth, "Bearer ghs_test_token_1");
        }
    }
    if let Some(spec) = github_spec() {
        assert_conforms(&[spec], &requests);
    }
}

#[tokio::test]
async fn a_check_run_with_the_same_name_on_the_commit_is_updated_not_duplicated() {
    let fake = FakeForge::start(|r| match r.route(PREFIX).replacen(REPO, "", 1).as_str() {
        "POST /app/installations/42/access_tokens" => token_answer("ghs_t", 3600),
        x if x.ends_with("/check-runs") && r.method == "GET" => Answer::json(200, json!({
            "total_count": 2,
            "check_runs": [
                { "id": 70, "name": "ade/verify", "head_sha": SHA, "app": { "id": 1, "slug": "someone-else" } },
                { "id": 71, "name": "ade/verify", "head_sha": SHA, "app": { "id": APP_ID, "slug": "ade-test" } }
            ]
        })),
        "PATCH /check-runs/71" => Answer::json(200, json!({ "id": 71, "name": "ade/verify", "head_sha": SHA })),
        other => Answer::json(418, json!({ "message": other })),
    })
    .await;
    let gh = client(&fake);
    let check = Check {
        name: "ade/verify".into(),
        head_sha: SHA.into(),
        state: CheckState::InProgress,
        title: "running".into(),
        summary: "step 1 of 3".into(),
        text: None,
        annotations: Vec::new(),
        details_url: None,
        external_id: Some("run-1".into()),
    };
    assert_eq!(
        gh.set_check(&repo(Some(42)), &check, CheckTarget::Find)
            .await
            .unwrap()
            .id,
        71
    );
    let requests = fake.requests();
    let list = requests.iter().find(|r| r.method == "GET").unwrap();
    assert_eq!(list.query("check_name"), Some("ade/verify"));
    let update = requests.iter().find(|r| r.method == "PATCH").unwrap();
    assert_eq!(
        update.body,
        Some(json!({
            "name": "ade/verify",
            "status": "in_progress",
            "output": { "title": "running", "summary": "step 1 of 3" },
            "external_id": "run-1"
        }))
    );
    assert_eq!(fake.count(PREFIX, &format!("POST {REPO}/check-runs")), 0);
    if let Some(spec) = github_spec() {
        assert_conforms(&[spec], &requests);
    }
}

#[tokio::test]
async fn comments_are_read_past_the_first_page() {
    for with_link in [true, false] {
        let fake = FakeForge::start(move |r| {
            if r.path.ends_with("/access_tokens") {
                return token_answer("ghs_t", 3600);
            }
            let page: usize = r.query("page").unwrap().parse().unwrap();
            let per_page: usize = r.query("per_page").unwrap().parse().unwrap();
            let total = 250;
            let ids = ((page - 1) * per_page + 1)..=(page * per_page).min(total);
            let body = Value::Array(
                ids.map(|i| comment(i as i64, "alice", &format!("c{i}")))
                    .collect(),
            );
            let mut answer = Answer::json(200, body);
            if with_link && page * per_page < total {
                answer = answer.header(
                    "link",
                    format!("<https://api.github.com/x?page={}>; rel=\"next\"", page + 1),
                );
            }
            answer
        })
        .await;
        let comments = client(&fake)
            .list_comments(&repo(Some(42)), 7)
            .await
            .unwrap();
        assert_eq!(comments.len(), 250, "with Link headers: {with_link}");
        assert_eq!(comments.last().unwrap().body, "c250");
        assert_eq!(
            fake.count(PREFIX, &format!("GET {REPO}/issues/7/comments")),
            3
        );
    }
}

#[tokio::test]
async fn large_files_come_through_the_raw_media_type_and_directories_are_not_files() {
    let big = vec![b'x'; 2048];
    let body = big.clone();
    let fake = FakeForge::start(move |r| {
        if r.path.ends_with("/access_tokens") {
            return token_answer("ghs_t", 3600);
        }
        match (r.path.rsplit('/').next().unwrap(), r.header("accept").unwrap()) {
            ("big.bin", "application/vnd.github.raw+json") => Answer::bytes(200, &body),
            ("big.bin", _) => Answer::json(200, json!({ "type": "file", "encoding": "none", "content": "", "size": 2048, "name": "big.bin", "path": "big.bin", "sha": SHA })),
            ("docs", _) => Answer::json(200, json!([{ "type": "file", "name": "a.md", "path": "docs/a.md", "sha": SHA, "size": 1 }])),
            _ => Answer::not_found(),
        }
    })
    .await;
    let gh = client(&fake);
    assert_eq!(
        gh.read_file(&repo(Some(42)), "big.bin", "main")
            .await
            .unwrap(),
        Some(big)
    );
    assert_eq!(
        gh.read_file(&repo(Some(42)), "docs", "main").await.unwrap(),
        None
    );
    if let Some(spec) = github_spec() {
        assert_conforms(&[spec], &fake.requests());
    }
}

#[tokio::test]
async fn refusals_keep_their_class() {
    let fake = FakeForge::start(|r| {
        if r.path.ends_with("/access_tokens") {
            return token_answer("ghs_t", 3600);
        }
        match r.method.as_str() {
            "POST" => Answer::json(
                403,
                json!({ "message": "Resource not accessible by integration" }),
            )
            .header("x-ratelimit-remaining", "4999"),
            "PATCH" => Answer::json(404, json!({ "message": "Not Found" })),
            _ => Answer::json(
                409,
                json!({ "message": "Head branch was modified. Review and try the merge again." }),
            ),
        }
    })
    .await;
    let gh = client(&fake);
    let repo = repo(Some(42));
    assert!(
        matches!(gh.create_comment(&repo, 7, "x").await, Err(ForgeError::Forbidden(m)) if m.contains("not accessible"))
    );
    assert!(matches!(
        gh.update_comment(&repo, 1, "x").await,
        Err(ForgeError::NotFound(_))
    ));
    let merge = gh.merge(&repo, &pull_at(8, SHA), MergeMethod::Merge).await;
    assert!(
        matches!(merge, Err(ForgeError::MergeRefused { refusal: MergeRefusal::HeadMoved, message }) if message.contains("Head branch was modified"))
    );
    assert_eq!(
        fake.requests().len(),
        4,
        "one token, then one attempt each: refusals are not retried"
    );
}

/// The answers GitHub's description gives as examples, served as they are: the client reads them.
#[tokio::test]
async fn the_documented_example_answers_read() {
    let Some(spec) = github_spec() else { return };
    let examples: Vec<(&str, String, u16)> = vec![
        (
            "POST",
            "/app/installations/{installation_id}/access_tokens".into(),
            201,
        ),
        ("GET", "/app".into(), 200),
        (
            "POST",
            "/repos/{owner}/{repo}/issues/{issue_number}/comments".into(),
            201,
        ),
        (
            "GET",
            "/repos/{owner}/{repo}/issues/{issue_number}/comments".into(),
            200,
        ),
        ("GET", "/repos/{owner}/{repo}".into(), 200),
        ("GET", "/repos/{owner}/{repo}/branches/{branch}".into(), 200),
        (
            "GET",
            "/repos/{owner}/{repo}/collaborators/{username}/permission".into(),
            200,
        ),
        ("POST", "/repos/{owner}/{repo}/pulls".into(), 201),
        ("POST", "/repos/{owner}/{repo}/check-runs".into(), 201),
        (
            "GET",
            "/repos/{owner}/{repo}/pulls/{pull_number}/reviews".into(),
            200,
        ),
        (
            "GET",
            "/repos/{owner}/{repo}/branches/{branch}/protection".into(),
            200,
        ),
        (
            "GET",
            "/repos/{owner}/{repo}/rules/branches/{branch}".into(),
            200,
        ),
    ];
    let mut served = Vec::new();
    for (method, template, status) in &examples {
        let value = spec
            .example(method, template, *status)
            .unwrap_or_else(|| panic!("no example for {method} {template}"));
        served.push((method.to_string(), template.clone(), *status, value));
    }
    let fake = FakeForge::start(move |r| {
        let template = spec.template(&r.path).unwrap_or_default();
        let found = served
            .iter()
            .find(|(m, t, _, _)| *m == r.method && *t == template);
        match found {
            Some((_, _, status, value)) => {
                let mut value = value.clone();
                if template.ends_with("/access_tokens") {
                    value["expires_at"] = Value::from(rfc3339_in(3600));
                }
                Answer::json(*status, value)
            }
            None if template.ends_with("/check-runs") => {
                Answer::json(200, json!({ "total_count": 0, "check_runs": [] }))
            }
            None => Answer::json(418, json!({ "message": template })),
        }
    })
    .await;
    let gh = client(&fake);
    let repo = repo(Some(42));
    assert!(gh.bot_login().await.unwrap().ends_with("[bot]"));
    assert!(gh.create_comment(&repo, 7, "x").await.unwrap() > 0);
    assert!(!gh.list_comments(&repo, 7).await.unwrap().is_empty());
    assert!(!gh.default_branch(&repo).await.unwrap().sha.is_empty());
    gh.permission(&repo, "octocat").await.unwrap();
    let new = NewPullRequest {
        title: "t".into(),
        body: "b".into(),
        head: "h".into(),
        base: "main".into(),
        draft: true,
    };
    assert!(gh.create_pull_request(&repo, &new).await.unwrap().number > 0);
    let check = Check {
        name: "mighty_readme".into(),
        head_sha: SHA.into(),
        state: CheckState::Queued,
        title: "t".into(),
        summary: "s".into(),
        text: None,
        annotations: Vec::new(),
        details_url: None,
        external_id: None,
    };
    assert!(
        gh.set_check(&repo, &check, CheckTarget::Find)
            .await
            .unwrap()
            .id
            > 0
    );
    assert!(!gh.list_reviews(&repo, 8).await.unwrap().is_empty());
    assert!(gh.branch_protection(&repo, "main").await.unwrap().is_some());
}
