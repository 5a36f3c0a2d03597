//! `ade demo` as a newcomer runs it: one command on each forge, no accounts, no network, no agent
//! CLI; it tells the whole story and exits 0 only when every step happened.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

/// Runs `ade demo --forge FORGE --data-dir DIR` and returns what it printed, after checking it
/// succeeded.
fn demo(forge: &str, dir: &Path) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_ade"))
        .args(["demo", "--forge", forge, "--data-dir"])
        .arg(dir)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .output()
        .expect("run ade demo");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "ade demo --forge {forge} failed:\n{stdout}\n{stderr}"
    );
    stdout
}

fn the_whole_story_is_told(forge: &str) {
    let dir = std::env::temp_dir().join(format!(
        "ade-demo-test-{forge}-{}-{:x}",
        std::process::id(),
        fastrand::u32(..)
    ));
    let out = demo(forge, &dir);
    for step in [
        "mia commented `/ade plan`",
        "ade posted the plan: 4 tasks",
        "mia commented `/ade approve`",
        "the spec is active",
        "t1: attempt 1 of 2 started",
        "t3: attempt 2 of 2 started, with the last verification's failure as feedback",
        "t3: rejected after 2 attempts",
        "t1: ade/verify passed on #",
        "max, a second maintainer, approved #",
        "t1: ade merged #",
        "t2: ade merged #",
        "t4: attempt 1 of 2 started, now that the tasks it waits for are merged",
        "t4: ade merged #",
        "the spec is archived",
        "ade posted the goal's summary",
        "issue #1 is closed",
        "| t3 | Add `shout`",
        "every step happened",
    ] {
        assert!(out.contains(step), "no {step:?} in:\n{out}");
    }
    // Each step comes once, in the story's order.
    let at = |s: &str| out.find(s).unwrap();
    assert!(
        at("t1: ade merged") < at("t4: attempt 1 of 2 started"),
        "{out}"
    );
    assert!(
        at("t2: ade merged") < at("t4: attempt 1 of 2 started"),
        "{out}"
    );
    assert!(at("the spec is archived") > at("t4: ade merged"), "{out}");
    assert_eq!(out.matches("t3: rejected").count(), 1, "{out}");

    // What it printed is where to look, and what it kept is there to inspect.
    assert!(out.contains("run log: http://127.0.0.1:"), "{out}");
    assert!(out.contains(&dir.display().to_string()), "{out}");
    let config = std::fs::read_to_string(dir.join("ade.toml")).unwrap();
    assert!(config.contains("[agents.demo]"), "{config}");
    assert!(dir.join("ade.db").is_file());
    let log = std::fs::read_to_string(dir.join("runner/runs/1/attempt-1.log")).unwrap();
    assert!(log.contains("[ade] the agent exited with code 0"), "{log}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_demo_tells_the_whole_story_on_github() {
    the_whole_story_is_told("github");
}

#[test]
fn the_demo_tells_the_whole_story_on_gitea() {
    the_whole_story_is_told("gitea");
}

#[test]
fn the_demo_tells_the_whole_story_on_forgejo() {
    the_whole_story_is_told("forgejo");
}

/// A step that does not happen in time fails the demo, naming that step and keeping what was
/// made for inspection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_step_that_does_not_happen_fails_the_demo_naming_it() {
    let dir = std::env::temp_dir().join(format!(
        "ade-demo-test-late-{}-{:x}",
        std::process::id(),
        fastrand::u32(..)
    ));
    let mut options = ade::demo::DemoOptions::new(ade::demo::DemoForge::Github);
    options.data_dir = Some(dir.clone());
    options.deadline = Duration::ZERO;
    let mut out = Vec::new();
    let error = ade::demo::run(options, &mut out)
        .await
        .expect_err("nothing can happen in no time")
        .to_string();
    let out = String::from_utf8_lossy(&out);
    assert!(
        error.starts_with("the demo stopped: \"")
            && error.ends_with("\" did not happen within 0 s"),
        "{error}"
    );
    assert!(!out.contains("every step happened"), "{out}");
    assert!(
        out.contains("| task | title |"),
        "the table shows how far it got: {out}"
    );
    assert!(dir.join("ade.toml").is_file());
    let _ = std::fs::remove_dir_all(&dir);
}
