//! Real git against `git http-backend`: clone and push with the forge's credentials, refusal
//! with wrong ones, and pushes that move branches the API then reports.

use crate::support::{Forge, REPO, TempDir, forge, git, url_with_credentials};
use ade::clock::ManualClock;
use ade::forge::ForgeKind;
use std::sync::Arc;

async fn clone_ok(f: &Forge, user: &str, token: &str, into: &TempDir) -> bool {
    let url = url_with_credentials(&f.sim.clone_url(REPO), user, token);
    let out = git(&into.0, &into.0, &["clone", "--quiet", &url, "work"]).await;
    out.status.success()
}

async fn push_round_trip(kind: ForgeKind) {
    let f = forge(kind).await;
    let dir = TempDir::new("git");
    assert!(
        !clone_ok(&f, &f.ade_git_user, "wrong-token", &dir).await,
        "a wrong token is refused"
    );
    if kind == ForgeKind::Gitea {
        assert!(
            !clone_ok(&f, "someone-else", &f.ade_token, &dir).await,
            "the token must go with its owner's login"
        );
    }
    let anonymous = git(
        &dir.0,
        &dir.0,
        &["clone", "--quiet", &f.sim.clone_url(REPO), "anon"],
    )
    .await;
    assert!(
        !anonymous.status.success(),
        "a private repository needs credentials"
    );
    assert!(clone_ok(&f, &f.ade_git_user, &f.ade_token, &dir).await);
    let work = dir.0.join("work");
    assert!(work.join("src/lib.rs").exists());

    std::fs::write(work.join("task.txt"), "done\n").unwrap();
    assert!(
        git(&work, &dir.0, &["checkout", "-q", "-b", "ade/task-1"])
            .await
            .status
            .success()
    );
    assert!(
        git(&work, &dir.0, &["add", "task.txt"])
            .await
            .status
            .success()
    );
    assert!(
        git(&work, &dir.0, &["commit", "-q", "-m", "task 1"])
            .await
            .status
            .success()
    );
    let pushed = git(&work, &dir.0, &["push", "-q", "origin", "ade/task-1"]).await;
    assert!(
        pushed.status.success(),
        "{}",
        String::from_utf8_lossy(&pushed.stderr)
    );
    let local = String::from_utf8(git(&work, &dir.0, &["rev-parse", "HEAD"]).await.stdout).unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while f.sim.deliveries().iter().all(|d| d.event != "push") {
        assert!(std::time::Instant::now() < deadline, "a push webhook");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(
        f.sim.branch_sha(REPO, "ade/task-1").await.unwrap(),
        local.trim()
    );
    let push = f
        .sim
        .deliveries()
        .into_iter()
        .find(|d| d.event == "push")
        .unwrap();
    assert_eq!(push.json()["ref"], "refs/heads/ade/task-1");
    assert_eq!(push.json()["after"], local.trim());
    let git_calls = f.sim.calls_to("POST", "/octo/demo.git/git-receive-pack");
    assert_eq!(git_calls.len(), 1);
    assert_eq!(git_calls[0].status, 200);
    assert!(git_calls[0].body.is_none(), "git bodies are not kept");

    let reader_dir = TempDir::new("git-reader");
    assert!(
        clone_ok(&f, "reader", &f.reader_token, &reader_dir).await,
        "a reader can clone"
    );
    let reader_work = reader_dir.0.join("work");
    std::fs::write(reader_work.join("x.txt"), "x\n").unwrap();
    git(&reader_work, &reader_dir.0, &["add", "x.txt"]).await;
    git(&reader_work, &reader_dir.0, &["commit", "-q", "-m", "x"]).await;
    let refused = git(
        &reader_work,
        &reader_dir.0,
        &["push", "-q", "origin", "HEAD:reader-branch"],
    )
    .await;
    assert!(!refused.status.success(), "a reader cannot push");
    assert!(f.sim.branch_sha(REPO, "reader-branch").await.is_none());
}

#[tokio::test]
async fn github_clone_and_push_with_an_installation_token() {
    push_round_trip(ForgeKind::Github).await;
}

#[tokio::test]
async fn gitea_clone_and_push_with_the_bot_token() {
    push_round_trip(ForgeKind::Gitea).await;
}

#[tokio::test]
async fn an_expired_installation_token_no_longer_clones() {
    let clock = ManualClock::at(1_750_000_000_000);
    let f = crate::support::forge_with(ForgeKind::Github, |o| {
        o.clock = Arc::new(clock.clone());
    })
    .await;
    let dir = TempDir::new("git-expiry");
    assert!(clone_ok(&f, "x-access-token", &f.ade_token, &dir).await);
    clock.advance(3_600_001);
    let again = TempDir::new("git-expiry-2");
    assert!(!clone_ok(&f, "x-access-token", &f.ade_token, &again).await);
}
