//! A run's GitHub tokens, end to end: git gets tokens of its own that reach the run's repository
//! alone and may only read its contents, or write them for the push, asked for just before it;
//! every one is revoked once the run has pushed, and is bad credentials from then on, while the
//! approval is opened with ade's own token. Another repository of the same installation is out of
//! a run token's reach, and a revocation GitHub fails leaves the run as it was.

use super::runs::{approval_of, plan_and_approve, run_of};
use super::support::runner::{runner_config, script_agent};
use super::support::story::{MAINTAINER, REPO, Story};
use super::support::verify::all_done;
use ade::forge::ForgeKind;
use ade::sim::{ApiCall, Fault, FaultRule, NewRepo, SimToken};
use std::collections::BTreeMap;

/// Another repository of the owner, covered by the same installation.
const OTHER: &str = "acme/gadgets";

const NOTES: &str = "mkdir -p notes\necho \"notes of $ADE_TASK_ID\" > notes/$ADE_TASK_ID.md\n";

/// A GitHub story whose script agent writes a notes file, with a second repository in the
/// installation.
async fn story() -> Story {
    let agents = script_agent(NOTES, 60);
    let story = Story::start_with(
        ForgeKind::Github,
        false,
        &[(".ade/config.toml", "[agents]\ndefault = \"script\"\n")],
        |config, dir| runner_config(config, dir, &agents),
    )
    .await;
    story
        .sim
        .create_repo(NewRepo::new("acme", "gadgets").file("README.md", "# gadgets\n"))
        .await
        .unwrap();
    let installation = story.sim.installation_of(REPO).unwrap();
    story.sim.add_to_installation(installation, OTHER).unwrap();
    story
}

/// Plans and approves a one-task goal and waits until its run succeeded; returns the issue.
async fn one_run(story: &Story) -> i64 {
    let issue = story.issue(MAINTAINER, "Notes", "Write the notes.").await;
    plan_and_approve(story, issue).await;
    run_of(story, "t1", &["succeeded"]).await;
    approval_of(story, "t1").await;
    all_done(story).await;
    issue
}

/// ade's git requests to `repo` for `service` (`git-upload-pack`, `git-receive-pack`).
fn git_calls<'a>(calls: &'a [ApiCall], repo: &str, service: &str) -> Vec<&'a ApiCall> {
    let path = format!("/{repo}.git/{service}");
    calls
        .iter()
        .filter(|c| c.git && c.method == "POST" && c.path == path && c.status == 200)
        .collect()
}

fn token(tokens: &[SimToken], serial: Option<u64>) -> &SimToken {
    let serial = serial.expect("the call carried an installation token");
    tokens.iter().find(|t| t.serial == serial).unwrap()
}

fn contents(level: &str) -> Option<BTreeMap<String, String>> {
    Some(BTreeMap::from([
        ("contents".to_string(), level.to_string()),
        ("metadata".to_string(), "read".to_string()),
    ]))
}

/// The answer to `method path` on the simulator's API with `token`.
async fn call(story: &Story, token: &str, method: &str, path: &str, body: Option<&str>) -> u16 {
    let mut request = reqwest::Client::new()
        .request(
            method.parse().unwrap(),
            format!("{}{path}", story.sim.api_url()),
        )
        .header("authorization", format!("Bearer {token}"));
    if let Some(body) = body {
        request = request
            .header("content-type", "application/json")
            .body(body.to_owned());
    }
    request.send().await.unwrap().status().as_u16()
}

/// Whether `git ls-remote` of `repo` works with `token`.
async fn git_reaches(story: &Story, repo: &str, token: &str) -> bool {
    let url = story.sim.clone_url(repo);
    let (scheme, rest) = url.split_once("://").unwrap();
    tokio::process::Command::new("git")
        .args(["-c", "credential.helper=", "ls-remote"])
        .arg(format!("{scheme}://x-access-token:{token}@{rest}"))
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_TERMINAL_PROMPT", "0")
        .output()
        .await
        .unwrap()
        .status
        .success()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_run_pushes_with_a_token_for_its_repository_alone_and_revokes_it() {
    let story = story().await;
    one_run(&story).await;
    let calls = story.sim.calls();
    let tokens = story.sim.installation_tokens();

    let pushes = git_calls(&calls, REPO, "git-receive-pack");
    assert_eq!(pushes.len(), 1, "the run pushed once");
    let push = pushes[0];
    let pushed_with = token(&tokens, push.installation_token);
    assert_eq!(pushed_with.scope.repositories, Some(vec![REPO.to_string()]));
    assert_eq!(pushed_with.scope.permissions, contents("write"));
    let fetches = git_calls(&calls, REPO, "git-upload-pack");
    assert!(!fetches.is_empty(), "the runner fetched");
    for fetch in &fetches {
        let fetched_with = token(&tokens, fetch.installation_token);
        assert_eq!(
            fetched_with.scope.repositories,
            Some(vec![REPO.to_string()])
        );
        assert_eq!(
            fetched_with.scope.permissions,
            contents("read"),
            "a fetch gets a token that cannot push"
        );
        assert!(fetch.seq < push.seq);
    }

    let given_to_git: Vec<&SimToken> = tokens
        .iter()
        .filter(|t| t.scope.permissions.is_some())
        .collect();
    assert_eq!(
        given_to_git.len(),
        2,
        "one to fetch, one to push: {tokens:#?}"
    );
    for given in &given_to_git {
        assert!(given.revoked, "token {} was not revoked", given.serial);
        let revoke = calls
            .iter()
            .find(|c| {
                c.method == "DELETE"
                    && c.path == "/installation/token"
                    && c.installation_token == Some(given.serial)
            })
            .expect("the revocation is in the call record");
        assert_eq!(revoke.status, 204);
        assert!(revoke.seq > push.seq, "revoked after the push");
        assert_eq!(
            call(
                &story,
                &given.token,
                "GET",
                "/installation/repositories",
                None
            )
            .await,
            401
        );
        assert!(!git_reaches(&story, REPO, &given.token).await);
    }

    let opened = calls
        .iter()
        .find(|c| c.method == "POST" && c.path == "/repos/acme/widgets/pulls")
        .expect("the approval was opened");
    let opened_with = token(&tokens, opened.installation_token);
    assert_eq!(
        opened_with.scope.permissions, None,
        "the approval is opened with ade's own token, not the run's"
    );
    assert!(!opened_with.revoked);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_run_token_reaches_no_other_repository_and_a_failed_revoke_changes_nothing() {
    let story = story().await;
    story
        .sim
        .inject(FaultRule::new("DELETE", "/installation/token", Fault::Status(502)).times(1000));
    let issue = one_run(&story).await;
    let calls = story.sim.calls();
    let tokens = story.sim.installation_tokens();
    let push = git_calls(&calls, REPO, "git-receive-pack")[0];
    let pushed_with = token(&tokens, push.installation_token);
    assert!(!pushed_with.revoked);
    let tried = calls
        .iter()
        .filter(|c| {
            c.path == "/installation/token" && c.installation_token == Some(pushed_with.serial)
        })
        .count();
    assert!(tried > 1, "the revocation was tried, and again after a 502");

    // GitHub failed the revocation: the token works until its hour ends, but only for what it
    // was asked for.
    let token = &pushed_with.token;
    assert!(
        git_reaches(&story, REPO, token).await,
        "the token is still live"
    );
    assert!(!git_reaches(&story, OTHER, token).await);
    assert_eq!(
        call(&story, token, "GET", "/repos/acme/gadgets", None).await,
        404
    );
    assert_eq!(
        call(&story, token, "GET", "/repos/acme/widgets", None).await,
        200
    );
    let comment = format!("/repos/acme/widgets/issues/{issue}/comments");
    assert_eq!(
        call(&story, token, "POST", &comment, Some(r#"{"body":"x"}"#)).await,
        403,
        "a run's token writes no comments"
    );
    let pull = r#"{"title":"t","head":"main","base":"main"}"#;
    assert_eq!(
        call(
            &story,
            token,
            "POST",
            "/repos/acme/widgets/pulls",
            Some(pull)
        )
        .await,
        403
    );
}
