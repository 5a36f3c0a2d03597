//! Rate limits and failures: waits that fit the budget are waited out (never spun), transient
//! failures are retried a few times with backoff, and what is left comes back as a `ForgeError`.
//! Every test counts the requests, so a retry loop that sends more than it should fails here.

use super::fake::{Answer, FakeForge};
use super::github_fixtures::{PREFIX, comment, token_answer};
use super::support::{options_with, policy, repo, test_key};
use ade::clock::unix_ms;
use ade::forge::gitea::GiteaForge;
use ade::forge::github::GithubForge;
use ade::forge::{Forge, ForgeError, RetryPolicy};
use ade::secret::Secret;
use serde_json::json;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

const COMMENTS: &str = "POST /repos/octo-org/hello-world/issues/7/comments";
const COMMENT_9: &str = "PATCH /repos/octo-org/hello-world/issues/comments/9";

/// A GitHub fake whose comment endpoint answers `script[n]` on its n-th call (the last entry
/// repeats); tokens are always granted.
async fn scripted(script: Vec<Answer>) -> FakeForge {
    let calls = Arc::new(AtomicUsize::new(0));
    FakeForge::start(move |r| {
        if r.path.ends_with("/access_tokens") {
            return token_answer("ghs_t", 3600);
        }
        let n = calls.fetch_add(1, Ordering::SeqCst);
        script[n.min(script.len() - 1)].clone()
    })
    .await
}

fn github(fake: &FakeForge, retry: RetryPolicy) -> GithubForge {
    GithubForge::from_key(
        &format!("{}{PREFIX}", fake.url),
        4242,
        &test_key().pkcs1,
        options_with(retry),
    )
    .unwrap()
}

fn created() -> Answer {
    Answer::json(201, comment(9, "ade-test[bot]", "x"))
}

fn edited() -> Answer {
    Answer::json(200, comment(9, "ade-test[bot]", "x"))
}

fn limited(status: u16, message: &str) -> Answer {
    Answer::json(
        status,
        json!({ "message": message, "documentation_url": "https://docs.github.com/rest" }),
    )
}

#[tokio::test]
async fn a_primary_limit_is_waited_out_until_its_reset() {
    let reset = unix_ms() / 1000 + 2;
    let fake = scripted(vec![
        limited(403, "API rate limit exceeded for installation ID 42.")
            .header("x-ratelimit-limit", 5000)
            .header("x-ratelimit-remaining", 0)
            .header("x-ratelimit-reset", reset),
        created(),
    ])
    .await;
    let started = Instant::now();
    let id = github(&fake, policy())
        .create_comment(&repo(Some(42)), 7, "x")
        .await
        .unwrap();
    assert_eq!(id, 9);
    assert!(
        unix_ms() >= (reset - 1) * 1000,
        "retried before the reset second"
    );
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "waited {:?}",
        started.elapsed()
    );
    assert_eq!(fake.count(PREFIX, COMMENTS), 2);
}

#[tokio::test]
async fn a_429_with_retry_after_and_a_secondary_limit_are_waited_out() {
    for first in [
        limited(429, "Too Many Requests").header("retry-after", 1),
        limited(403, "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.")
            .header("retry-after", 1)
            .header("x-ratelimit-remaining", 4000),
    ] {
        let fake = scripted(vec![first, created()]).await;
        let started = Instant::now();
        github(&fake, policy()).create_comment(&repo(Some(42)), 7, "x").await.unwrap();
        assert!(started.elapsed() >= Duration::from_millis(1000), "waited {:?}", started.elapsed());
        assert_eq!(fake.count(PREFIX, COMMENTS), 2);
    }
}

#[tokio::test]
async fn a_limit_beyond_the_budget_is_reported_at_once() {
    let fake = scripted(vec![
        limited(403, "API rate limit exceeded")
            .header("x-ratelimit-remaining", 0)
            .header("x-ratelimit-reset", unix_ms() / 1000 + 1800),
    ])
    .await;
    let started = Instant::now();
    let result = github(&fake, policy())
        .create_comment(&repo(Some(42)), 7, "x")
        .await;
    let Err(ForgeError::RateLimited { retry_after_ms }) = result else {
        panic!("{result:?}")
    };
    assert!(
        (1_790_000..=1_800_000).contains(&retry_after_ms),
        "{retry_after_ms}"
    );
    assert!(started.elapsed() < Duration::from_secs(1));
    assert_eq!(fake.count(PREFIX, COMMENTS), 1);
}

#[tokio::test]
async fn server_errors_are_retried_then_reported() {
    let fake = scripted(vec![Answer::empty(502), Answer::empty(503), edited()]).await;
    github(&fake, policy())
        .update_comment(&repo(Some(42)), 9, "x")
        .await
        .unwrap();
    assert_eq!(fake.count(PREFIX, COMMENT_9), 3);

    let fake = scripted(vec![limited(500, "boom")]).await;
    let started = Instant::now();
    let result = github(&fake, policy())
        .update_comment(&repo(Some(42)), 9, "x")
        .await;
    assert!(matches!(result, Err(ForgeError::Unavailable(m)) if m.contains("500")));
    assert_eq!(
        fake.count(PREFIX, COMMENT_9),
        4,
        "one attempt and three retries"
    );
    assert!(started.elapsed() < policy().budget);
}

/// A new comment sent again after a 5xx would be a second comment when the first reached the
/// forge: the post is sent once and the failure reported, for the caller to look first.
#[tokio::test]
async fn a_new_comment_is_posted_once_whatever_the_answer() {
    let fake = scripted(vec![Answer::empty(502), created()]).await;
    let result = github(&fake, policy())
        .create_comment(&repo(Some(42)), 7, "x")
        .await;
    assert!(matches!(result, Err(ForgeError::Unavailable(m)) if m.contains("502")));
    assert_eq!(fake.count(PREFIX, COMMENTS), 1);

    let fake = FakeForge::start(|_| Answer::empty(503)).await;
    let gitea =
        GiteaForge::with_token(&fake.url, Secret::new("t"), options_with(policy())).unwrap();
    assert!(matches!(
        gitea.create_comment(&repo(None), 7, "x").await,
        Err(ForgeError::Unavailable(_))
    ));
    assert_eq!(fake.requests().len(), 1);
}

#[tokio::test]
async fn the_budget_caps_retries_too() {
    let fake = scripted(vec![Answer::empty(503)]).await;
    let tight = RetryPolicy {
        budget: Duration::from_millis(50),
        transient_retries: 100,
        backoff_base: Duration::from_millis(40),
        backoff_max: Duration::from_millis(40),
        ..policy()
    };
    let started = Instant::now();
    let result = github(&fake, tight)
        .update_comment(&repo(Some(42)), 9, "x")
        .await;
    assert!(matches!(result, Err(ForgeError::Unavailable(_))));
    assert!(
        fake.count(PREFIX, COMMENT_9) <= 3,
        "{}",
        fake.count(PREFIX, COMMENT_9)
    );
    assert!(started.elapsed() < Duration::from_secs(1));
}

#[tokio::test]
async fn a_forge_that_does_not_answer_is_unavailable() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let gitea = GiteaForge::with_token(&url, Secret::new("t"), options_with(policy())).unwrap();
    let started = Instant::now();
    assert!(matches!(
        gitea.bot_login().await,
        Err(ForgeError::Unavailable(_))
    ));
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[tokio::test]
async fn gitea_shares_the_rules() {
    let calls = Arc::new(AtomicUsize::new(0));
    let fake = FakeForge::start(move |_| match calls.fetch_add(1, Ordering::SeqCst) {
        0 => Answer::empty(503),
        1 => Answer::json(429, json!({ "message": "rate limited" })).header("retry-after", 1),
        _ => Answer::json(
            200,
            json!({ "id": 3, "body": "x", "user": { "login": "ade-bot" } }),
        ),
    })
    .await;
    let gitea =
        GiteaForge::with_token(&fake.url, Secret::new("t"), options_with(policy())).unwrap();
    let started = Instant::now();
    gitea.update_comment(&repo(None), 3, "x").await.unwrap();
    assert!(started.elapsed() >= Duration::from_secs(1));
    assert_eq!(fake.requests().len(), 3);

    let fake = FakeForge::start(|_| Answer::not_found()).await;
    let gitea =
        GiteaForge::with_token(&fake.url, Secret::new("t"), options_with(policy())).unwrap();
    assert!(matches!(
        gitea.update_comment(&repo(None), 1, "x").await,
        Err(ForgeError::NotFound(_))
    ));
    assert_eq!(fake.requests().len(), 1);
}
