//! Verification steps with real processes: `run_steps` in temporary worktrees, with steps that
//! pass, fail, hang, flood their output, name files inside and outside the repository, cannot
//! start, are cancelled, print secrets, and try to write where agents may not.

use std::fs;
use std::os::unix::fs::{MetadataExt, chown, symlink};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ade::forge::AnnotationLevel;
use ade::policy::{DlpPattern, StepKind, VerificationStep};
use ade::runner::dlp::Dlp;
use ade::runner::env::{AgentUser, EnvOptions, Environment, LandlockSupport, landlock_support};
use ade::runner::verify::{StepsRequest, is_worktree_file, run_steps};
use ade::verify::{StepOutcome, StepResult, Verdict, VerificationReport, feedback};
use tokio_util::sync::CancellationToken;

/// A run's folders under a fresh temporary root: a worktree holding a small repository, the
/// steps' scratch folder, an `outside` folder no step may write, and the run log.
struct Scene {
    root: PathBuf,
    worktree: PathBuf,
    scratch: PathBuf,
    outside: PathBuf,
    log: PathBuf,
}

impl Scene {
    fn new(tag: &str) -> Scene {
        let root =
            std::env::temp_dir().join(format!("ade-verify-{tag}-{:016x}", fastrand::u64(..)));
        let scene = Scene {
            worktree: root.join("worktree"),
            scratch: root.join("verify-scratch"),
            outside: root.join("outside"),
            log: root.join("attempt-1.log"),
            root,
        };
        fs::create_dir_all(scene.worktree.join("src")).unwrap();
        fs::create_dir_all(&scene.outside).unwrap();
        fs::write(
            scene.worktree.join("src/lib.rs"),
            "pub fn f() {\n    let x = 1;\n    x\n}\n",
        )
        .unwrap();
        symlink("/etc", scene.worktree.join("etc-link")).unwrap();
        scene
    }

    fn request(&self, steps: Vec<VerificationStep>) -> StepsRequest {
        let mut request = StepsRequest::new(
            steps,
            self.worktree.clone(),
            self.scratch.clone(),
            self.log.clone(),
        );
        request.identity = vec![
            ("ADE_RUN_ID".into(), "42".into()),
            ("ADE_TASK_ID".into(), "t2".into()),
        ];
        request.path_var = "/usr/bin:/bin".into();
        request.output_cap = 64 * 1024;
        request
    }

    fn log_text(&self) -> String {
        String::from_utf8_lossy(&fs::read(&self.log).unwrap()).into_owned()
    }

    /// The part of the run log a step's result points at.
    fn section(&self, step: &StepResult) -> String {
        let range = step.log.expect("every step that ran has a log range");
        let bytes = fs::read(&self.log).unwrap();
        String::from_utf8_lossy(&bytes[range.start as usize..range.end as usize]).into_owned()
    }
}

impl Drop for Scene {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.root);
    }
}

fn step(name: &str, kind: StepKind, script: &str) -> VerificationStep {
    VerificationStep {
        name: name.into(),
        kind,
        command: vec!["/bin/sh".into(), "-c".into(), script.into()],
        timeout: Duration::from_secs(60),
    }
}

fn quick_kill() -> EnvOptions {
    EnvOptions {
        kill_grace: Duration::from_secs(1),
        ..EnvOptions::default()
    }
}

async fn verify(request: &StepsRequest) -> VerificationReport {
    run_steps(request, &quick_kill(), CancellationToken::new()).await
}

fn named<'a>(report: &'a VerificationReport, name: &str) -> &'a StepResult {
    report
        .steps
        .iter()
        .find(|s| s.name == name)
        .unwrap_or_else(|| panic!("no step {name} in {report:#?}"))
}

fn is_root() -> bool {
    fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

#[tokio::test(flavor = "multi_thread")]
async fn passing_steps_pass_static_first_with_their_output_whole_in_the_log() {
    let scene = Scene::new("pass");
    let request = scene.request(vec![
        step(
            "test",
            StepKind::Dynamic,
            "echo test >> order; echo tests ok",
        ),
        step("fmt", StepKind::Static, "echo fmt >> order; echo formatted"),
        step("lint", StepKind::Static, "echo lint >> order; echo linted"),
    ]);
    let report = verify(&request).await;
    assert_eq!(report.verdict, Verdict::Passed, "{report:#?}");
    let order: Vec<&str> = report.steps.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(order, ["fmt", "lint", "test"]);
    assert_eq!(
        fs::read_to_string(scene.worktree.join("order")).unwrap(),
        "fmt\nlint\ntest\n"
    );
    let fmt = named(&report, "fmt");
    assert_eq!(fmt.outcome, StepOutcome::Passed);
    assert_eq!(fmt.exit, "exited with code 0");
    assert_eq!(fmt.tail, ["formatted"]);
    assert!(fmt.annotations.is_empty() && !fmt.truncated);
    let section = scene.section(fmt);
    assert!(
        section.starts_with(
            "[ade] verification step fmt (static): /bin/sh -c \"echo fmt >> order; echo formatted\"\n"
        ),
        "{section}"
    );
    assert!(section.contains("\nformatted\n"), "{section}");
    let ending = section.lines().last().unwrap();
    assert!(
        ending.starts_with("[ade] verification step fmt: passed (exited with code 0 after ")
            && ending.ends_with(" s)"),
        "{section}"
    );
    assert!(
        section.contains("[ade] the step exited with code 0 after "),
        "{section}"
    );
    let log = scene.log_text();
    assert!(log.contains("[ade] verification passed after "), "{log}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failing_step_shows_its_last_lines_and_skips_the_dynamic_steps() {
    let scene = Scene::new("fail");
    let request = scene.request(vec![
        step(
            "lint",
            StepKind::Static,
            "seq 1 100 | sed 's/^/line /'; exit 3",
        ),
        step("fmt", StepKind::Static, "echo fine"),
        step("test", StepKind::Dynamic, "touch ran-tests"),
    ]);
    let report = verify(&request).await;
    assert_eq!(report.verdict, Verdict::Failed);
    let lint = named(&report, "lint");
    assert_eq!(lint.outcome, StepOutcome::Failed);
    assert_eq!(lint.exit, "exited with code 3");
    assert_eq!(lint.tail.len(), 40);
    assert_eq!(lint.tail.first().unwrap(), "line 61");
    assert_eq!(lint.tail.last().unwrap(), "line 100");
    assert_eq!(
        named(&report, "fmt").outcome,
        StepOutcome::Passed,
        "every static step runs"
    );
    let test = named(&report, "test");
    assert_eq!(test.outcome, StepOutcome::Skipped);
    assert_eq!(
        test.reason.as_deref(),
        Some("static step lint did not pass")
    );
    assert!(!scene.worktree.join("ran-tests").exists());
    let section = scene.section(lint);
    assert!(
        section.contains("\nline 1\nline 2\n"),
        "the log has the whole output"
    );
    assert!(section.contains("[ade] verification step lint: failed (exited with code 3 after "));
    let text = feedback::feedback(&report, &|t: &str| t.to_string())
        .unwrap()
        .expect("a failure has feedback");
    assert!(
        text.contains("- lint (static): failed, exited with code 3"),
        "{text}"
    );
    assert!(text.contains("  line 100"), "{text}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_hanging_step_times_out_quickly_as_a_failure_and_the_next_step_runs() {
    let scene = Scene::new("timeout");
    let mut hang = step(
        "hang",
        StepKind::Static,
        "echo waiting; trap '' TERM; sleep 60",
    );
    hang.timeout = Duration::from_secs(1);
    let request = scene.request(vec![hang, step("after", StepKind::Static, "echo after")]);
    let started = Instant::now();
    let report = verify(&request).await;
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(report.verdict, Verdict::Failed);
    let hang = named(&report, "hang");
    assert_eq!(hang.outcome, StepOutcome::TimedOut);
    assert_eq!(
        hang.reason.as_deref(),
        Some("ran past its time limit (1 s)")
    );
    assert_eq!(hang.tail, ["waiting"]);
    assert_eq!(named(&report, "after").outcome, StepOutcome::Passed);
    assert!(
        scene
            .section(hang)
            .contains("[ade] verification step hang: timed out: ran past its time limit (1 s)")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_flooding_step_is_capped_and_its_tail_is_the_real_end() {
    let scene = Scene::new("flood");
    let request = scene.request(vec![
        step(
            "flood",
            StepKind::Static,
            "yes 'flood flood flood flood flood flood flood flood' | head -c 52428800; \
             echo; echo 'the real end: 1 failed'; exit 1",
        ),
        step("after", StepKind::Static, "echo still running"),
    ]);
    let started = Instant::now();
    let report = verify(&request).await;
    eprintln!("50 MB of output verified in {:?}", started.elapsed());
    let flood = named(&report, "flood");
    assert_eq!(flood.outcome, StepOutcome::Failed);
    assert!(flood.truncated);
    assert!(flood.output_bytes > 52_428_800, "{}", flood.output_bytes);
    assert_eq!(flood.tail.last().unwrap(), "the real end: 1 failed");
    assert_eq!(flood.tail.len(), 40);
    let after = named(&report, "after");
    assert_eq!(after.outcome, StepOutcome::Passed);
    assert_eq!(after.tail, ["still running"]);
    let log_size = fs::metadata(&scene.log).unwrap().len();
    assert!(
        log_size < 200 * 1024,
        "the log keeps the cap: {log_size} bytes"
    );
    let section = scene.section(flood);
    assert!(
        section.contains("[ade] output cap of 65536 bytes reached: "),
        "{section}"
    );
    assert_eq!(
        section.matches("the real end").count(),
        1,
        "only the header's command line names it: the output stops at the cap"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn only_messages_on_files_inside_the_repository_become_annotations() {
    let scene = Scene::new("annotations");
    let worktree = scene.worktree.display().to_string();
    let script = format!(
        "echo '../../etc/passwd:1:1: x'
echo '/etc/passwd:1:1: absolute outside'
echo 'etc-link/passwd:1:1: through a symlink'
echo 'src/lib.rs:3:5: error: mismatched types'
echo '{worktree}/src/lib.rs:2:9: warning: unused variable'
echo 'src/missing.rs:1:1: error: not in the tree'
echo 'src:1:1: error: a folder'
printf 'http://x:80: y\\n'
exit 1"
    );
    let request = scene.request(vec![
        step(
            "passing",
            StepKind::Static,
            "echo 'src/lib.rs:1:1: note: fine'",
        ),
        step("lint", StepKind::Static, &script),
    ]);
    let report = verify(&request).await;
    assert!(named(&report, "passing").annotations.is_empty());
    let lint = named(&report, "lint");
    let got: Vec<(&str, u32, Option<u32>, AnnotationLevel, &str)> = lint
        .annotations
        .iter()
        .map(|a| {
            (
                a.path.as_str(),
                a.start_line,
                a.start_column,
                a.level,
                a.message.as_str(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            (
                "src/lib.rs",
                3,
                Some(5),
                AnnotationLevel::Failure,
                "error: mismatched types"
            ),
            (
                "src/lib.rs",
                2,
                Some(9),
                AnnotationLevel::Warning,
                "warning: unused variable"
            ),
        ]
    );
    assert!(is_worktree_file(&scene.worktree, "src/lib.rs"));
    assert!(!is_worktree_file(&scene.worktree, "etc-link/passwd"));
    assert!(!is_worktree_file(&scene.worktree, "src"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_program_that_cannot_start_is_an_error_never_a_pass() {
    let scene = Scene::new("missing");
    let missing = VerificationStep {
        name: "ruff".into(),
        kind: StepKind::Static,
        command: vec!["/nonexistent/ruff".into(), "check".into()],
        timeout: Duration::from_secs(10),
    };
    let request = scene.request(vec![
        missing,
        step("fmt", StepKind::Static, "echo ok"),
        step("test", StepKind::Dynamic, "echo tests"),
    ]);
    let report = verify(&request).await;
    assert_eq!(report.verdict, Verdict::Error);
    assert!(!report.verdict.lets_through());
    let ruff = named(&report, "ruff");
    assert_eq!(ruff.outcome, StepOutcome::Error);
    assert_eq!(ruff.exit, "did not start");
    let reason = ruff.reason.as_deref().unwrap();
    assert!(
        reason.starts_with("cannot start /nonexistent/ruff: No such file or directory"),
        "{reason}"
    );
    assert_eq!(named(&report, "fmt").outcome, StepOutcome::Passed);
    assert_eq!(named(&report, "test").outcome, StepOutcome::Skipped);
    assert!(
        scene
            .log_text()
            .contains("[ade] verification step ruff: error: cannot start")
    );

    let mut gone = scene.request(vec![step("fmt", StepKind::Static, "echo ok")]);
    gone.worktree = scene.root.join("no-such-worktree");
    let report = verify(&gone).await;
    assert_eq!(report.verdict, Verdict::Error);
    assert!(
        report
            .error_reason()
            .unwrap()
            .contains("no-such-worktree does not exist"),
        "{report:#?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn cancel_stops_the_running_step_and_marks_the_rest_cancelled() {
    let scene = Scene::new("cancel");
    let request = scene.request(vec![
        step("slow", StepKind::Static, "echo started; sleep 60"),
        step("next", StepKind::Static, "touch ran-next"),
        step("test", StepKind::Dynamic, "touch ran-test"),
    ]);
    let cancel = CancellationToken::new();
    let trigger = cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(500)).await;
        trigger.cancel();
    });
    let started = Instant::now();
    let report = run_steps(&request, &quick_kill(), cancel).await;
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(report.verdict, Verdict::Cancelled);
    let outcomes: Vec<StepOutcome> = report.steps.iter().map(|s| s.outcome).collect();
    assert_eq!(outcomes, [StepOutcome::Cancelled; 3]);
    assert_eq!(named(&report, "slow").tail, ["started"]);
    assert!(!scene.worktree.join("ran-next").exists());
    assert!(!scene.worktree.join("ran-test").exists());
    assert_eq!(
        feedback::feedback(&report, &|t: &str| t.to_string()).unwrap(),
        None
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn secrets_in_the_output_are_masked_in_the_tail_feedback_and_annotations() {
    let scene = Scene::new("secrets");
    let token = format!("ghp_{}", "Zq8xW2pL7vN4kR9tY3mB6cJ1hF5dS0gA2eU8");
    let aws = "AKIAZ7VQ2L4M6N3P5R2T";
    let internal = "corp-secret-9f3a1c7e5b2d4f60";
    let script = format!(
        "echo 'GITHUB_TOKEN={token}'; echo 'aws {aws} key'; \
         echo 'src/lib.rs:1:1: error: leaked {internal}'; exit 1"
    );
    let mut request = scene.request(vec![step("leak", StepKind::Static, &script)]);
    let dlp = Dlp::new(&[DlpPattern {
        name: "internal".into(),
        pattern: "corp-secret-[0-9a-f]{16}".into(),
    }])
    .unwrap();
    request.mask = Arc::new(move |text: &str| dlp.redact(text));
    let report = verify(&request).await;
    let leak = named(&report, "leak");
    assert_eq!(leak.outcome, StepOutcome::Failed);
    let stored = serde_json::to_string(&report).unwrap();
    let text = feedback::feedback(&report, &|t: &str| t.to_string())
        .unwrap()
        .unwrap();
    for secret in [token.as_str(), aws, internal] {
        assert!(!stored.contains(secret), "{secret} in the report: {stored}");
        assert!(!text.contains(secret), "{secret} in the feedback: {text}");
    }
    assert!(
        leak.tail[2].contains("[redacted internal]"),
        "{:?}",
        leak.tail
    );
    assert_eq!(leak.annotations.len(), 1);
    assert!(leak.annotations[0].message.contains("[redacted internal]"));
}

#[tokio::test(flavor = "multi_thread")]
async fn steps_get_their_own_environment_and_nothing_else() {
    let scene = Scene::new("environment");
    let env_step = VerificationStep {
        name: "env".into(),
        kind: StepKind::Static,
        command: vec!["/usr/bin/env".into()],
        timeout: Duration::from_secs(10),
    };
    let report = verify(&scene.request(vec![env_step.clone()])).await;
    let mut vars: Vec<String> = named(&report, "env").tail.clone();
    vars.sort();
    let scratch = scene.scratch.display();
    let expected = vec![
        "ADE_RUN_ID=42".to_string(),
        "ADE_TASK_ID=t2".to_string(),
        "ADE_VERIFY_STEP=env".to_string(),
        format!("ADE_WORKTREE={}", scene.worktree.display()),
        "CI=true".to_string(),
        format!("HOME={scratch}/home"),
        "LANG=C.UTF-8".to_string(),
        "PATH=/usr/bin:/bin".to_string(),
        format!("TMPDIR={scratch}/tmp"),
    ];
    assert_eq!(vars, expected);
    assert!(scene.scratch.join("home").is_dir() && scene.scratch.join("tmp").is_dir());

    let mut leaky = scene.request(vec![env_step]);
    leaky
        .identity
        .push(("GITHUB_TOKEN".into(), "ghs_not_for_steps".into()));
    let report = verify(&leaky).await;
    assert_eq!(report.verdict, Verdict::Error);
    assert!(
        report.error_reason().unwrap().contains("\"GITHUB_TOKEN\""),
        "{report:#?}"
    );
    assert!(!scene.log_text().contains("ghs_not_for_steps"));
}

#[tokio::test(flavor = "multi_thread")]
async fn landlock_keeps_steps_in_the_worktree_like_agents() {
    if let LandlockSupport::Unavailable { reason } = landlock_support() {
        eprintln!("skipped: landlock is not available on this kernel ({reason})");
        return;
    }
    let scene = Scene::new("landlock");
    let outside = scene.outside.join("sentinel");
    let script = format!(
        "echo inside > built && echo 'wrote worktree'
echo state > \"$HOME/cache\" && echo 'wrote home'
echo tmp > \"$TMPDIR/t\" && echo 'wrote tmp'
echo outside > '{}' && echo 'WROTE OUTSIDE'
echo tmp > /tmp/ade-verify-escape-$$ && echo 'WROTE SYSTEM TMP'
exit 0",
        outside.display()
    );
    let report = verify(&scene.request(vec![step("escape", StepKind::Static, &script)])).await;
    let escape = named(&report, "escape");
    let output = escape.tail.join("\n");
    assert_eq!(escape.outcome, StepOutcome::Passed, "{output}");
    for allowed in ["wrote worktree", "wrote home", "wrote tmp"] {
        assert!(output.contains(allowed), "{allowed} missing:\n{output}");
    }
    for denied in ["WROTE OUTSIDE", "WROTE SYSTEM TMP"] {
        assert!(!output.contains(denied), "{denied}:\n{output}");
    }
    assert!(!outside.exists());
    assert!(output.contains("Permission denied"), "{output}");
    let log = scene.log_text();
    assert!(
        log.contains(&format!("read-write {}", scene.worktree.display())),
        "{log}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn as_root_steps_run_as_the_agent_user() {
    if !is_root() {
        eprintln!("skipped: ade does not run as root here, so no agent user is switched to");
        return;
    }
    let scene = Scene::new("user");
    give_to_nobody(&scene.worktree);
    let opts = EnvOptions {
        agent_user: Some(AgentUser {
            uid: 65534,
            gid: 65534,
        }),
        ..quick_kill()
    };
    let request = scene.request(vec![step(
        "whoami",
        StepKind::Static,
        "id -u; touch made-by-step; touch \"$HOME/h\" && echo home ok",
    )]);
    let report = run_steps(&request, &opts, CancellationToken::new()).await;
    let whoami = named(&report, "whoami");
    assert_eq!(whoami.outcome, StepOutcome::Passed, "{:?}", whoami.tail);
    assert_eq!(whoami.tail, ["65534", "home ok"]);
    let made = fs::metadata(scene.worktree.join("made-by-step")).unwrap();
    assert_eq!(made.uid(), 65534);
    assert!(scene.log_text().contains("[ade] user: uid 65534 gid 65534"));
}

#[tokio::test(flavor = "multi_thread")]
async fn container_steps_run_in_the_sandbox() {
    if let Some(reason) = bubblewrap_unusable() {
        eprintln!("skipped: {reason}");
        return;
    }
    let scene = Scene::new("container");
    let mut request = scene.request(vec![step(
        "sandboxed",
        StepKind::Static,
        &format!(
            "test -e '{}' && echo 'SEES OUTSIDE'; echo built > out; cat src/lib.rs | wc -l",
            scene.outside.display()
        ),
    )]);
    request.environment = Environment::Container;
    let report = verify(&request).await;
    let sandboxed = named(&report, "sandboxed");
    assert_eq!(
        sandboxed.outcome,
        StepOutcome::Passed,
        "{}",
        scene.log_text()
    );
    assert_eq!(sandboxed.tail, ["4"]);
    assert_eq!(
        fs::read_to_string(scene.worktree.join("out")).unwrap(),
        "built\n"
    );
    assert!(scene.log_text().contains("[ade] environment: container"));
}

/// Why bubblewrap cannot run here, if it cannot.
fn bubblewrap_unusable() -> Option<String> {
    let out = std::process::Command::new("bwrap")
        .args([
            "--unshare-all",
            "--die-with-parent",
            "--ro-bind",
            "/",
            "/",
            "/bin/true",
        ])
        .output();
    match out {
        Err(e) => Some(format!("bubblewrap is not installed ({e})")),
        Ok(out) if !out.status.success() => Some(format!(
            "bubblewrap cannot run here: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )),
        Ok(_) => None,
    }
}

/// Gives a folder and everything in it to `nobody`, as the runner hands a worktree over.
fn give_to_nobody(path: &Path) {
    let meta = fs::symlink_metadata(path).unwrap();
    if meta.is_dir() {
        for entry in fs::read_dir(path).unwrap() {
            give_to_nobody(&entry.unwrap().path());
        }
    }
    if !meta.file_type().is_symlink() {
        chown(path, Some(65534), Some(65534)).unwrap();
    }
}
