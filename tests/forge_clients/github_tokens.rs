//! The GitHub App token flow: a JWT signed with the app's key, one installation token fetched and
//! reused, renewed when it is about to expire or refused, one refresh for concurrent callers; and
//! git's own tokens, asked for one repository and its contents, revoked with themselves, a failed
//! revoke logged without the token.

use super::fake::{Answer, FakeForge};
use super::github_fixtures::{APP_ID, PREFIX, client, comment, github_spec, token_answer};
use super::openapi::assert_conforms;
use super::support::{options, policy, repo, test_key, verify_jwt};
use ade::clock::unix_ms;
use ade::coordinator::credentials::GitCredentials;
use ade::forge::github::GithubForge;
use ade::forge::{Forge, ForgeError, GitAccess};
use serde_json::json;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

const TOKENS: &str = "POST /app/installations/42/access_tokens";

/// A fake that mints `ghs_token_N` tokens living `lifetime_secs`, and answers comments.
async fn minting_fake(lifetime_secs: i64, delay: Option<Duration>) -> FakeForge {
    let minted = Arc::new(AtomicUsize::new(0));
    FakeForge::start_with_delay(delay, move |r| match r.route(PREFIX).as_str() {
        TOKENS => {
            let n = minted.fetch_add(1, Ordering::SeqCst) + 1;
            token_answer(&format!("ghs_token_{n}"), lifetime_secs)
        }
        "GET /repos/octo-org/hello-world/installation" => {
            Answer::json(200, json!({ "id": 42, "app_id": APP_ID }))
        }
        _ => Answer::json(201, comment(1, "ade-test[bot]", "x")),
    })
    .await
}

fn tokens_used(fake: &FakeForge) -> Vec<String> {
    fake.requests()
        .iter()
        .filter(|r| r.path.contains("/issues/"))
        .map(|r| r.header("authorization").unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn the_jwt_is_signed_with_the_app_key_and_one_token_serves_many_calls() {
    let fake = minting_fake(3600, None).await;
    let gh = client(&fake);
    for _ in 0..3 {
        gh.create_comment(&repo(None), 7, "x").await.unwrap();
    }
    assert_eq!(
        fake.count(PREFIX, "GET /repos/octo-org/hello-world/installation"),
        1,
        "the installation is looked up once"
    );
    assert_eq!(fake.count(PREFIX, TOKENS), 1, "the token is fetched once");
    assert_eq!(tokens_used(&fake), vec!["Bearer ghs_token_1"; 3]);

    let requests = fake.requests();
    let mint = requests.iter().find(|r| r.route(PREFIX) == TOKENS).unwrap();
    let jwt = mint
        .header("authorization")
        .unwrap()
        .strip_prefix("Bearer ")
        .unwrap();
    let claims = verify_jwt(jwt);
    assert_eq!(claims["iss"], APP_ID.to_string());
    let (iat, exp) = (
        claims["iat"].as_i64().unwrap(),
        claims["exp"].as_i64().unwrap(),
    );
    let now = unix_ms() / 1000;
    assert!(iat <= now && iat >= now - 120, "iat {iat} now {now}");
    assert!(
        exp > now && exp - iat <= 600,
        "GitHub takes JWTs of at most ten minutes: {iat}..{exp}"
    );
}

#[tokio::test]
async fn a_pkcs8_key_signs_too() {
    let fake = minting_fake(3600, None).await;
    let gh = GithubForge::from_key(
        &format!("{}{PREFIX}", fake.url),
        APP_ID,
        &test_key().pkcs8,
        options(),
    )
    .unwrap();
    gh.create_comment(&repo(Some(42)), 7, "x").await.unwrap();
    let requests = fake.requests();
    let jwt = requests[0]
        .header("authorization")
        .unwrap()
        .strip_prefix("Bearer ")
        .unwrap();
    verify_jwt(jwt);
    assert!(matches!(
        GithubForge::from_key("http://127.0.0.1:1", 1, b"not a key", options()),
        Err(ForgeError::NotConfigured(_))
    ));
}

#[tokio::test]
async fn a_token_that_expires_within_five_minutes_is_renewed() {
    let fake = minting_fake(4 * 60, None).await;
    let gh = client(&fake);
    for _ in 0..3 {
        gh.create_comment(&repo(Some(42)), 7, "x").await.unwrap();
    }
    assert_eq!(
        fake.count(PREFIX, TOKENS),
        3,
        "each call finds the token too close to expiry"
    );
    assert_eq!(
        tokens_used(&fake),
        vec![
            "Bearer ghs_token_1",
            "Bearer ghs_token_2",
            "Bearer ghs_token_3"
        ]
    );

    let fake = minting_fake(6 * 60, None).await;
    let gh = client(&fake);
    for _ in 0..3 {
        gh.create_comment(&repo(Some(42)), 7, "x").await.unwrap();
    }
    assert_eq!(fake.count(PREFIX, TOKENS), 1, "six minutes left is enough");
}

#[tokio::test]
async fn concurrent_callers_share_one_refresh() {
    let fake = minting_fake(3600, Some(Duration::from_millis(150))).await;
    let gh = Arc::new(client(&fake));
    let calls: Vec<_> = (0..8)
        .map(|_| {
            let gh = gh.clone();
            tokio::spawn(async move { gh.create_comment(&repo(Some(42)), 7, "x").await })
        })
        .collect();
    for call in calls {
        call.await.unwrap().unwrap();
    }
    assert_eq!(fake.count(PREFIX, TOKENS), 1);
    assert_eq!(tokens_used(&fake).len(), 8);
}

#[tokio::test]
async fn a_refused_token_is_replaced_once() {
    let minted = Arc::new(AtomicUsize::new(0));
    let fake = FakeForge::start(move |r| match r.route(PREFIX).as_str() {
        TOKENS => {
            let n = minted.fetch_add(1, Ordering::SeqCst) + 1;
            token_answer(&format!("ghs_token_{n}"), 3600)
        }
        _ if r.header("authorization") == Some("Bearer ghs_token_1") => {
            Answer::json(401, json!({ "message": "Bad credentials" }))
        }
        _ => Answer::json(201, comment(1, "ade-test[bot]", "x")),
    })
    .await;
    let gh = client(&fake);
    gh.create_comment(&repo(Some(42)), 7, "x").await.unwrap();
    assert_eq!(
        tokens_used(&fake),
        vec!["Bearer ghs_token_1", "Bearer ghs_token_2"]
    );
    gh.create_comment(&repo(Some(42)), 7, "x").await.unwrap();
    assert_eq!(fake.count(PREFIX, TOKENS), 2);
}

#[tokio::test]
async fn an_app_not_installed_on_the_repository_is_not_found() {
    let fake = FakeForge::start(|_| Answer::not_found()).await;
    let result = client(&fake).create_comment(&repo(None), 7, "x").await;
    assert!(matches!(result, Err(ForgeError::NotFound(m)) if m.contains("installation")));
}

/// A fake that mints `ghs_token_N` tokens, answers comments, and answers `DELETE
/// /installation/token` with `revoke`; returns it with the repository (its installation known).
async fn git_fake(revoke: u16) -> FakeForge {
    let minted = Arc::new(AtomicUsize::new(0));
    FakeForge::start(move |r| match r.route(PREFIX).as_str() {
        TOKENS => {
            let n = minted.fetch_add(1, Ordering::SeqCst) + 1;
            token_answer(&format!("ghs_token_{n}"), 3600)
        }
        REVOKE if revoke == 204 => Answer::empty(204),
        REVOKE => Answer::json(revoke, json!({ "message": "Server Error" })),
        "GET /repos/octo-org/hello-world" => Answer::json(
            200,
            json!({
                "default_branch": "main",
                "clone_url": "https://github.com/octo-org/hello-world.git"
            }),
        ),
        _ => Answer::json(201, comment(1, "ade-test[bot]", "x")),
    })
    .await
}

const REVOKE: &str = "DELETE /installation/token";

fn mints(fake: &FakeForge) -> Vec<Option<serde_json::Value>> {
    fake.requests()
        .into_iter()
        .filter(|r| r.route(PREFIX) == TOKENS)
        .map(|r| r.body)
        .collect()
}

#[tokio::test]
async fn git_gets_tokens_of_its_own_for_the_one_repository_and_its_contents() {
    let fake = git_fake(204).await;
    let gh = client(&fake);
    let repo = repo(Some(42));
    gh.create_comment(&repo, 7, "x").await.unwrap();
    let push = gh.clone_credential(&repo, GitAccess::Push).await.unwrap();
    let fetch = gh.clone_credential(&repo, GitAccess::Fetch).await.unwrap();
    gh.create_comment(&repo, 7, "x").await.unwrap();

    assert_eq!(push.password.expose(), "ghs_token_2");
    assert_eq!(fetch.password.expose(), "ghs_token_3");
    assert_eq!(
        mints(&fake),
        vec![
            None,
            Some(json!({
                "repositories": ["hello-world"],
                "permissions": { "contents": "write" }
            })),
            Some(json!({
                "repositories": ["hello-world"],
                "permissions": { "contents": "read" }
            })),
        ],
        "ade's own calls keep the installation's token; git's are asked for one repository and \
         its contents alone"
    );
    assert_eq!(
        tokens_used(&fake),
        vec!["Bearer ghs_token_1"; 2],
        "a git token is never used for ade's own calls"
    );
}

#[tokio::test]
async fn a_git_token_is_revoked_with_itself_and_the_installations_token_lives_on() {
    let fake = git_fake(204).await;
    let gh = client(&fake);
    let repo = repo(Some(42));
    gh.create_comment(&repo, 7, "x").await.unwrap();
    let push = gh.clone_credential(&repo, GitAccess::Push).await.unwrap();
    gh.revoke_credential(&push).await.unwrap();
    gh.create_comment(&repo, 7, "x").await.unwrap();

    let revokes: Vec<_> = fake
        .requests()
        .into_iter()
        .filter(|r| r.route(PREFIX) == REVOKE)
        .collect();
    assert_eq!(revokes.len(), 1);
    assert_eq!(
        revokes[0].header("authorization"),
        Some("Bearer ghs_token_2"),
        "GitHub revokes the token a call carries"
    );
    assert_eq!(revokes[0].body, None);
    assert_eq!(tokens_used(&fake), vec!["Bearer ghs_token_1"; 2]);
    assert_eq!(fake.count(PREFIX, TOKENS), 2);
    if let Some(spec) = github_spec() {
        assert_conforms(&[spec], &fake.requests());
    }
}

#[tokio::test]
async fn a_token_github_no_longer_takes_counts_as_revoked() {
    let fake = git_fake(401).await;
    let gh = client(&fake);
    let push = gh
        .clone_credential(&repo(Some(42)), GitAccess::Push)
        .await
        .unwrap();
    gh.revoke_credential(&push).await.unwrap();
    assert_eq!(fake.count(PREFIX, REVOKE), 1);
}

#[tokio::test]
async fn a_revoke_that_fails_is_logged_and_the_work_goes_on() {
    let fake = git_fake(502).await;
    let gh: Arc<dyn Forge> = Arc::new(client(&fake));
    let repo = repo(Some(42));

    let push = gh.clone_credential(&repo, GitAccess::Push).await.unwrap();
    let error = gh.revoke_credential(&push).await.unwrap_err();
    assert!(matches!(error, ForgeError::Unavailable(_)), "{error:?}");
    assert!(!error.to_string().contains("ghs_token"), "{error}");
    assert_eq!(
        fake.count(PREFIX, REVOKE),
        1 + policy().transient_retries as usize,
        "a revoke is retried like any call"
    );

    let logs = LogCapture::default();
    let _guard = tracing::subscriber::set_default(logs.subscriber());
    let credentials = GitCredentials::new(gh.clone(), repo.clone());
    credentials.get(GitAccess::Push).await.unwrap();
    credentials.get(GitAccess::Fetch).await.unwrap();
    credentials.revoke_all().await;
    let text = logs.text();
    let warnings: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("could not be revoked"))
        .collect();
    assert_eq!(warnings.len(), 2, "{text}");
    assert!(
        warnings
            .iter()
            .all(|l| l.contains("WARN") && l.contains("octo-org/hello-world")),
        "{text}"
    );
    assert!(
        !text.contains("ghs_token"),
        "no token reaches a log line: {text}"
    );

    let before = fake.count(PREFIX, REVOKE);
    credentials.revoke_all().await;
    assert_eq!(
        fake.count(PREFIX, REVOKE),
        before,
        "each credential is revoked once"
    );
    assert_eq!(
        fake.count(PREFIX, TOKENS),
        4,
        "the installation's own, and three for git"
    );
}

/// Log lines written while its subscriber is the thread's default, as text.
#[derive(Clone, Default)]
struct LogCapture(Arc<std::sync::Mutex<Vec<u8>>>);

impl LogCapture {
    fn subscriber(&self) -> impl tracing::Subscriber + Send + Sync + use<> {
        let sink = self.clone();
        tracing_subscriber::fmt()
            .with_ansi(false)
            .with_max_level(tracing::Level::DEBUG)
            .with_writer(move || sink.clone())
            .finish()
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

impl std::io::Write for LogCapture {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
