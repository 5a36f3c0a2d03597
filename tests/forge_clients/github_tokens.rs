//! The GitHub App token flow: a JWT signed with the app's key, one installation token fetched and
//! reused, renewed when it is about to expire or refused, one refresh for concurrent callers.

use super::fake::{Answer, FakeForge};
use super::github_fixtures::{APP_ID, PREFIX, client, comment, token_answer};
use super::support::{options, repo, test_key, verify_jwt};
use ade::clock::unix_ms;
use ade::forge::github::GithubForge;
use ade::forge::{Forge, ForgeError};
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
