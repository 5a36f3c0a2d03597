//! Test plumbing: databases to run on, a running ade, and a forge that sends it webhooks.

pub mod browser;
pub mod conformance;
pub mod db;
pub mod forge;
pub mod payloads;
pub mod process;
pub mod runner;
pub mod served;
pub mod story;
pub mod verify;
pub mod webdriver;

pub use db::{TestDb, databases};
pub use forge::{Delivery, TestForge};
pub use process::AdeProcess;

use ade::config::Config;
use ade::secret::Secret;
use ade::service::{Service, ServiceOptions};
use std::time::Duration;

/// The webhook secret the test forge signs with for GitHub deliveries.
pub const GITHUB_SECRET: &str = "test-github-secret";
/// The webhook secret the test forge signs with for Gitea and Forgejo deliveries.
pub const GITEA_SECRET: &str = "test-gitea-secret";

/// A configuration for a test service on `db`: a free loopback port, both forges' secrets, and
/// short leases so recovery happens within a test's patience.
pub fn config(db: &TestDb) -> Config {
    let mut config = Config::default();
    config.server.listen = "127.0.0.1:0".parse().unwrap();
    config.server.shutdown_grace = Duration::from_secs(5);
    config.database.url = Secret::new(db.url.clone());
    config.database.max_connections = 5;
    config.storage.data_dir = db.dir.clone();
    config.audit.dir = db.dir.join("audit");
    config.audit.checkpoints_file = db.dir.join("audit-checkpoints.jsonl");
    config.audit.signing_key_file = db.dir.join("audit-signing-key.pem");
    config.github.webhook_secrets = vec![Secret::new(GITHUB_SECRET)];
    config.gitea.webhook_secrets = vec![Secret::new(GITEA_SECRET)];
    config.jobs.lease = Duration::from_secs(2);
    config.jobs.poll_interval = Duration::from_millis(200);
    config.jobs.backoff_base = Duration::from_millis(50);
    config.jobs.backoff_max = Duration::from_millis(400);
    config
}

/// Starts ade on `db` with the test configuration changed by `tweak`.
pub async fn start_ade(
    db: &TestDb,
    tweak: impl FnOnce(&mut Config),
    options: ServiceOptions,
) -> Service {
    let mut config = config(db);
    tweak(&mut config);
    Service::start(&config, options).await.expect("ade starts")
}

/// Polls `check` every 20 ms until it returns `Some`, or panics after `timeout` with `what`.
pub async fn eventually<T, F, Fut>(timeout: Duration, what: &str, check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    poll(timeout, what, check)
        .await
        .unwrap_or_else(|| panic!("timed out after {timeout:?} waiting for {what}"))
}

/// Polls `check` every 20 ms until it returns `Some`, for at most `timeout`; `None` once that has
/// passed. The wait is recorded under `what` (see [`record_wait`]).
pub async fn poll<T, F, Fut>(timeout: Duration, what: &str, mut check: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let started = tokio::time::Instant::now();
    let deadline = started + timeout;
    loop {
        if let Some(value) = check().await {
            record_wait(what, started.elapsed(), "ok");
            return Some(value);
        }
        if tokio::time::Instant::now() >= deadline {
            record_wait(what, started.elapsed(), "timed out");
            return None;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// With `ADE_TEST_WAITS` naming a file, appends each wait (or whole story) of a second or more to
/// it (test, what, seconds, outcome): which steps of which stories slow down when the whole suite
/// runs at once.
pub fn record_wait(what: &str, took: Duration, outcome: &str) {
    let Some(path) = std::env::var_os("ADE_TEST_WAITS") else {
        return;
    };
    if took < Duration::from_secs(1) && outcome == "ok" {
        return;
    }
    let test = std::thread::current().name().unwrap_or("?").to_string();
    let line = format!("{test}\t{what}\t{:.1}\t{outcome}\n", took.as_secs_f64());
    use std::io::Write;
    if let Ok(mut file) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
    {
        let _ = file.write_all(line.as_bytes());
    }
}

/// Writes a new 2048-bit RSA key at `path` with the openssl command, independently of ade's code:
/// the GitHub App key a configuration names.
pub fn rsa_key(path: &std::path::Path) {
    let made = std::process::Command::new("openssl")
        .args(["genrsa", "-out"])
        .arg(path)
        .arg("2048")
        .output()
        .expect("openssl makes an RSA key");
    assert!(made.status.success(), "openssl genrsa: {made:?}");
}
