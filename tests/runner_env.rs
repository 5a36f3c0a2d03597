//! Agent environments with real processes: script agents written into temporary folders, run
//! through `run_agent` in the worktree, main and container environments.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::os::unix::fs::{PermissionsExt, chown};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use ade::runner::env::{
    AgentReport, AgentUser, ContainerRuntime, Ending, EnvOptions, Environment, Invocation,
    LandlockSupport, Network, StdinSource, landlock_support, run_agent,
};
use tokio_util::sync::CancellationToken;

#[path = "runner_env/network.rs"]
mod network;

/// A run's folders under a fresh temporary root: worktree, scratch, the run log, and an
/// `outside` folder the agent must not reach.
struct Scene {
    root: PathBuf,
    worktree: PathBuf,
    scratch: PathBuf,
    outside: PathBuf,
    log: PathBuf,
}

impl Scene {
    fn new(tag: &str) -> Scene {
        let root = std::env::temp_dir().join(format!("ade-env-{tag}-{:016x}", fastrand::u64(..)));
        let scene = Scene {
            worktree: root.join("worktree"),
            scratch: root.join("scratch"),
            outside: root.join("outside"),
            log: root.join("run.log"),
            root,
        };
        for dir in [&scene.worktree, &scene.scratch, &scene.outside] {
            fs::create_dir_all(dir).unwrap();
        }
        scene
    }

    /// Writes an executable script agent into the scratch folder.
    fn script(&self, name: &str, body: &str) -> String {
        let path = self.scratch.join(name);
        fs::write(&path, body).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
        path.display().to_string()
    }

    fn invocation(&self, argv: &[&str]) -> Invocation {
        let mut inv = Invocation::new(
            argv.iter().map(|s| s.to_string()).collect(),
            self.worktree.clone(),
            self.scratch.clone(),
            self.log.clone(),
        );
        inv.env = vec![
            ("PATH".into(), "/usr/bin:/bin".into()),
            ("HOME".into(), self.scratch.display().to_string()),
            ("WT".into(), self.worktree.display().to_string()),
            ("OUTSIDE".into(), self.outside.display().to_string()),
        ];
        inv.timeout = Duration::from_secs(60);
        inv
    }

    fn log_text(&self) -> String {
        String::from_utf8_lossy(&fs::read(&self.log).unwrap()).into_owned()
    }

    /// The agent's own output: the run log without ade's `[ade] ` lines.
    fn agent_output(&self) -> String {
        self.log_text()
            .lines()
            .filter(|line| !line.starts_with("[ade] "))
            .map(|line| format!("{line}\n"))
            .collect()
    }
}

impl Drop for Scene {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.root);
    }
}

fn quick_kill() -> EnvOptions {
    EnvOptions {
        kill_grace: Duration::from_secs(1),
        ..EnvOptions::default()
    }
}

async fn run(inv: &Invocation, opts: &EnvOptions) -> AgentReport {
    run_agent(inv, opts, CancellationToken::new())
        .await
        .expect("the agent starts")
}

/// Whether a process is gone (a zombie nobody reaps counts as gone: it runs nothing).
fn is_gone(pid: &str) -> bool {
    match fs::read_to_string(format!("/proc/{}/stat", pid.trim())) {
        Err(_) => true,
        Ok(stat) => stat
            .rsplit_once(") ")
            .is_some_and(|(_, rest)| rest.starts_with('Z')),
    }
}

fn is_root() -> bool {
    fs::metadata("/proc/self").is_ok_and(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0)
}

#[tokio::test(flavor = "multi_thread")]
async fn exit_codes_and_signals_are_reported() {
    let scene = Scene::new("exit");
    let cases = [
        ("exit 0", Ending::Exited { code: 0 }),
        ("exit 3", Ending::Exited { code: 3 }),
        ("kill -KILL $$", Ending::Signalled { signal: 9 }),
    ];
    for (body, expected) in cases {
        let inv = scene.invocation(&["/bin/sh", "-c", body]);
        let report = run(&inv, &quick_kill()).await;
        assert_eq!(report.ending, expected, "{body}");
        assert!(
            report
                .notes
                .last()
                .unwrap()
                .starts_with(&format!("the agent {expected}"))
        );
    }
    let log = scene.log_text();
    assert!(
        log.contains("[ade] the agent exited with code 3 after "),
        "{log}"
    );
    assert!(log.contains("[ade] environment: worktree\n"), "{log}");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_agent_that_cannot_start_is_an_error_named_in_the_run_log() {
    let scene = Scene::new("missing");
    let inv = scene.invocation(&["ade-no-such-agent", "--help"]);
    let error = run_agent(&inv, &EnvOptions::default(), CancellationToken::new())
        .await
        .expect_err("a missing program cannot start");
    assert!(
        error
            .to_string()
            .starts_with("cannot start the agent ade-no-such-agent: "),
        "{error}"
    );
    let log = scene.log_text();
    assert!(
        log.contains("[ade] the agent could not be run: cannot start the agent ade-no-such-agent"),
        "{log}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn output_beyond_the_cap_is_counted_and_dropped_with_a_note() {
    let scene = Scene::new("cap");
    let agent = scene.script(
        "agent.sh",
        "#!/bin/sh\nhead -c 10485760 /dev/zero | tr '\\0' 'a'\necho done-marker >&2\n",
    );
    let mut inv = scene.invocation(&[&agent]);
    inv.output_cap = 64 * 1024;
    let report = run(&inv, &quick_kill()).await;
    assert_eq!(report.ending, Ending::Exited { code: 0 });
    assert_eq!(
        report.output_seen,
        10 * 1024 * 1024 + "done-marker\n".len() as u64
    );
    assert_eq!(report.output_kept, 64 * 1024);
    let log = scene.log_text();
    let dropped = report.output_seen - report.output_kept;
    assert!(
        log.contains(&format!(
            "\n[ade] output cap of 65536 bytes reached: {dropped} more bytes of output were dropped\n"
        )),
        "{}",
        &log[log.len().saturating_sub(600)..]
    );
    let kept: usize = log
        .lines()
        .filter(|line| !line.starts_with("[ade] "))
        .map(str::len)
        .sum();
    assert_eq!(kept, 64 * 1024);
    assert!(!log.contains("done-marker"));
    assert!(fs::metadata(&scene.log).unwrap().len() < 64 * 1024 + 4096);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_timeout_kills_the_whole_group_even_what_ignores_sigterm() {
    let scene = Scene::new("timeout");
    let agent = scene.script(
        "agent.sh",
        r#"#!/bin/sh
trap '' TERM
sh -c 'echo $$ > "$WT/grandchild.pid"; while :; do sleep 0.1; done' &
echo $$ > "$WT/agent.pid"
while :; do sleep 0.1; done
"#,
    );
    let mut inv = scene.invocation(&[&agent]);
    inv.timeout = Duration::from_secs(1);
    let started = Instant::now();
    let report = run(&inv, &quick_kill()).await;
    let elapsed = started.elapsed();
    assert_eq!(report.ending, Ending::TimedOut);
    assert!(
        elapsed < Duration::from_millis(3500),
        "timeout 1 s + grace 1 s, took {elapsed:?}"
    );
    assert!(
        report
            .notes
            .iter()
            .any(|n| n.contains("still running 1 s after SIGTERM")),
        "{:?}",
        report.notes
    );
    for file in ["agent.pid", "grandchild.pid"] {
        let pid = fs::read_to_string(scene.worktree.join(file)).unwrap();
        assert!(is_gone(&pid), "{file} {pid} still runs");
    }
    assert!(
        scene
            .log_text()
            .contains("[ade] the agent timed out and was stopped after ")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn what_the_agent_leaves_behind_in_its_group_dies_when_it_exits() {
    let scene = Scene::new("leftover");
    let agent = scene.script(
        "agent.sh",
        r#"#!/bin/sh
sh -c 'trap "" TERM; echo $$ > "$WT/grandchild.pid"; while :; do sleep 0.1; done' &
while [ ! -s "$WT/grandchild.pid" ]; do sleep 0.05; done
exit 0
"#,
    );
    let inv = scene.invocation(&[&agent]);
    let started = Instant::now();
    let report = run(&inv, &EnvOptions::default()).await;
    assert_eq!(report.ending, Ending::Exited { code: 0 });
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    let pid = fs::read_to_string(scene.worktree.join("grandchild.pid")).unwrap();
    // SIGKILL has been sent by the time the run ends, but the kernel finishes the exit on its
    // own time (releasing the run's network namespace is part of it): give it a moment.
    let deadline = Instant::now() + Duration::from_secs(2);
    while !is_gone(&pid) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(is_gone(&pid), "grandchild {pid} still runs");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_process_that_leaves_the_group_cannot_hold_the_run_open() {
    let scene = Scene::new("escape");
    let agent = scene.script(
        "agent.sh",
        r#"#!/bin/sh
setsid sh -c 'echo $$ > "$WT/escaped.pid"; exec sleep 30' &
while [ ! -s "$WT/escaped.pid" ]; do sleep 0.05; done
echo agent-done
"#,
    );
    let inv = scene.invocation(&[&agent]);
    let started = Instant::now();
    let report = run(&inv, &EnvOptions::default()).await;
    let elapsed = started.elapsed();
    let escaped = fs::read_to_string(scene.worktree.join("escaped.pid")).unwrap();
    let _ = std::process::Command::new("kill")
        .args(["-KILL", escaped.trim()])
        .status();
    assert_eq!(report.ending, Ending::Exited { code: 0 });
    assert!(elapsed < Duration::from_secs(5), "{elapsed:?}");
    assert!(scene.agent_output().contains("agent-done"));
    assert!(
        report
            .notes
            .iter()
            .any(|n| n.starts_with("output: a process outside the agent's process group")),
        "{:?}",
        report.notes
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn cancel_mid_run_ends_the_agent_within_two_seconds() {
    let scene = Scene::new("cancel");
    let agent = scene.script(
        "agent.sh",
        "#!/bin/sh\necho $$ > \"$WT/agent.pid\"\nsleep 30\n",
    );
    let inv = scene.invocation(&[&agent]);
    let cancel = CancellationToken::new();
    let trigger = cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(500)).await;
        trigger.cancel();
    });
    let started = Instant::now();
    let report = run_agent(&inv, &EnvOptions::default(), cancel)
        .await
        .unwrap();
    let after_cancel = started.elapsed().saturating_sub(Duration::from_millis(500));
    assert_eq!(report.ending, Ending::Cancelled);
    assert!(after_cancel < Duration::from_secs(2), "{after_cancel:?}");
    let pid = fs::read_to_string(scene.worktree.join("agent.pid")).unwrap();
    assert!(is_gone(&pid));
}

#[tokio::test(flavor = "multi_thread")]
async fn an_aborted_run_takes_its_agent_with_it() {
    let scene = Scene::new("abort");
    let agent = scene.script(
        "agent.sh",
        "#!/bin/sh\necho $$ > \"$WT/agent.pid\"\nsleep 30\n",
    );
    let inv = scene.invocation(&[&agent]);
    let task = tokio::spawn(async move {
        run_agent(&inv, &EnvOptions::default(), CancellationToken::new()).await
    });
    let pid_file = scene.worktree.join("agent.pid");
    let deadline = Instant::now() + Duration::from_secs(5);
    while !pid_file.exists() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    task.abort();
    assert!(task.await.unwrap_err().is_cancelled());
    let pid = fs::read_to_string(&pid_file).unwrap();
    let deadline = Instant::now() + Duration::from_secs(2);
    while !is_gone(&pid) && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(is_gone(&pid), "agent {pid} outlived its aborted run");
}

fn env_of(output: &str) -> BTreeMap<String, String> {
    output
        .lines()
        .filter_map(|line| line.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_agent_sees_exactly_the_given_environment() {
    let scene = Scene::new("envvars");
    let mut inv = scene.invocation(&["/usr/bin/env"]);
    inv.env.push(("ADE_RUN".into(), "run-42".into()));
    inv.env
        .push(("AGENT_TOKEN".into(), "s3cr3t with spaces".into()));
    let report = run(&inv, &EnvOptions::default()).await;
    assert_eq!(report.ending, Ending::Exited { code: 0 });
    let expected: BTreeMap<String, String> = inv.env.iter().cloned().collect();
    assert_eq!(env_of(&scene.agent_output()), expected);
}

#[tokio::test(flavor = "multi_thread")]
async fn stdin_is_dev_null_or_the_given_file() {
    let scene = Scene::new("stdin");
    let inv = scene.invocation(&["/bin/cat"]);
    let report = run(&inv, &EnvOptions::default()).await;
    assert_eq!(report.ending, Ending::Exited { code: 0 });
    assert_eq!(report.output_seen, 0);

    let prompt = scene.root.join("prompt.md");
    fs::write(&prompt, "Fix the flaky test.\nThen stop.\n").unwrap();
    let mut inv = scene.invocation(&["/bin/cat"]);
    inv.stdin = StdinSource::File(prompt);
    let report = run(&inv, &EnvOptions::default()).await;
    assert_eq!(report.ending, Ending::Exited { code: 0 });
    assert_eq!(scene.agent_output(), "Fix the flaky test.\nThen stop.\n");
}

#[tokio::test(flavor = "multi_thread")]
async fn landlock_keeps_the_agent_in_its_worktree_and_scratch() {
    if let LandlockSupport::Unavailable { reason } = landlock_support() {
        eprintln!("skipped: landlock is not available on this kernel ({reason})");
        return;
    }
    let home = PathBuf::from(std::env::var("HOME").unwrap_or_else(|_| "/root".into()));
    for environment in [Environment::Worktree, Environment::Main] {
        let scene = Scene::new("landlock");
        let ssh = scene.outside.join(".ssh");
        fs::create_dir_all(&ssh).unwrap();
        fs::write(ssh.join("id_ed25519"), "PRIVATE-KEY-SENTINEL\n").unwrap();
        let home_sentinel = home.join(format!(".ade-landlock-{:016x}", fastrand::u64(..)));
        let agent = scene.script(
            "agent.sh",
            r#"#!/bin/sh
echo inside > "$WT/inside.txt" && echo "wrote inside"
mkdir "$WT/sub" && echo nested > "$WT/sub/file" && echo "made a folder"
echo scratch > "$HOME/tool-state" && echo "wrote scratch"
echo x > /dev/null && echo "wrote dev null"
echo outside > "$OUTSIDE/sentinel" && echo "WROTE OUTSIDE"
echo home > "$HOME_SENTINEL" && echo "WROTE HOME"
echo tmp > "/tmp/$(basename "$HOME_SENTINEL")" && echo "WROTE TMP"
cat "$SSH/id_ed25519"
ls "$SSH" && echo "LISTED SSH"
if head -c 16 "/proc/$PPID/mem" > /dev/null; then echo "READ ADE MEMORY"; fi
kill -0 $PPID && echo "SIGNALLED ADE"
ls /usr/bin/env >/dev/null && echo "read system"
grep CapEff /proc/self/status
exit 0
"#,
        );
        let mut inv = scene.invocation(&[&agent]);
        inv.environment = environment;
        inv.env
            .push(("HOME_SENTINEL".into(), home_sentinel.display().to_string()));
        inv.env.push(("SSH".into(), ssh.display().to_string()));
        let report = run(&inv, &EnvOptions::default()).await;
        let output = scene.agent_output();
        let _ = fs::remove_file(&home_sentinel);
        let _ = fs::remove_file(Path::new("/tmp").join(home_sentinel.file_name().unwrap()));
        assert_eq!(report.ending, Ending::Exited { code: 0 }, "{output}");
        for allowed in [
            "wrote inside",
            "made a folder",
            "wrote scratch",
            "wrote dev null",
            "read system",
        ] {
            assert!(output.contains(allowed), "{allowed} missing:\n{output}");
        }
        for denied in [
            "WROTE OUTSIDE",
            "WROTE HOME",
            "WROTE TMP",
            "PRIVATE-KEY-SENTINEL",
            "LISTED SSH",
            "READ ADE MEMORY",
            "SIGNALLED ADE",
        ] {
            assert!(!output.contains(denied), "{denied}:\n{output}");
        }
        assert!(output.contains("Permission denied"), "{output}");
        if is_root() {
            assert!(output.contains("CapEff:\t0000000000000000"), "{output}");
        }
        assert_eq!(
            fs::read_to_string(scene.worktree.join("inside.txt")).unwrap(),
            "inside\n"
        );
        assert!(!scene.outside.join("sentinel").exists());
        let note = report
            .notes
            .iter()
            .find(|n| n.starts_with("landlock: kernel ABI "))
            .expect("a landlock note");
        assert!(note.contains(&format!("read-write {}", scene.worktree.display())));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn as_root_the_agent_runs_as_the_agent_user_without_other_groups() {
    if !is_root() {
        eprintln!("skipped: ade does not run as root here, so no agent user is switched to");
        return;
    }
    let scene = Scene::new("user");
    for dir in [&scene.worktree, &scene.scratch] {
        chown(dir, Some(65534), Some(65534)).unwrap();
    }
    let inv = scene.invocation(&[
        "/bin/sh",
        "-c",
        "id -u; id -g; id -G; touch \"$WT/mine\"; head -c 1 /proc/$PPID/environ && echo READ ADE ENVIRON; exit 0",
    ]);
    let opts = EnvOptions {
        agent_user: Some(AgentUser {
            uid: 65534,
            gid: 65534,
        }),
        ..EnvOptions::default()
    };
    let report = run(&inv, &opts).await;
    assert_eq!(
        report.ending,
        Ending::Exited { code: 0 },
        "{}",
        scene.log_text()
    );
    let output = scene.agent_output();
    assert!(output.starts_with("65534\n65534\n65534\n"), "{output}");
    assert!(!output.contains("READ ADE ENVIRON"), "{output}");
    let owner = fs::metadata(scene.worktree.join("mine")).unwrap();
    assert_eq!(std::os::unix::fs::MetadataExt::uid(&owner), 65534);
    assert!(
        report
            .notes
            .iter()
            .any(|n| n == "user: uid 65534 gid 65534, supplementary groups dropped")
    );
}

/// Why bubblewrap cannot run here, if it cannot.
fn bubblewrap_unusable() -> Option<String> {
    bubblewrap_unusable_as(None)
}

/// Why bubblewrap cannot run here as this user (unprivileged user namespaces), if it cannot.
fn bubblewrap_unusable_as(uid: Option<u32>) -> Option<String> {
    let mut bwrap = std::process::Command::new("bwrap");
    if let Some(uid) = uid {
        std::os::unix::process::CommandExt::uid(&mut bwrap, uid);
        std::os::unix::process::CommandExt::gid(&mut bwrap, uid);
    }
    let out = bwrap
        .args([
            "--unshare-all",
            "--die-with-parent",
            "--ro-bind",
            "/usr",
            "/usr",
            "--symlink",
            "usr/bin",
            "/bin",
            "--symlink",
            "usr/lib",
            "/lib",
            "--symlink",
            "usr/lib64",
            "/lib64",
            "--proc",
            "/proc",
            "/usr/bin/true",
        ])
        .output();
    match out {
        Err(e) => Some(format!("bwrap cannot be started: {e}")),
        Ok(out) if !out.status.success() => Some(format!(
            "bwrap fails here (user namespaces unavailable?): {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )),
        Ok(_) => None,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn bubblewrap_cuts_the_network_hides_the_host_and_keeps_worktree_writes() {
    if let Some(reason) = bubblewrap_unusable() {
        eprintln!("skipped: {reason}");
        return;
    }
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    for network in [Network::Off, Network::Open] {
        let scene = Scene::new("bwrap");
        let mut secret = fs::File::create(scene.outside.join("secret.txt")).unwrap();
        secret.write_all(b"HOST-SENTINEL\n").unwrap();
        let agent = scene.script(
            "agent.sh",
            r#"#!/bin/bash
if exec 3<>"/dev/tcp/127.0.0.1/$PORT"; then echo "connected"; else echo "no network"; fi
cat "$OUTSIDE/secret.txt" || echo "no host file"
echo from-the-sandbox > "$WT/result.txt"
tr '\0' '\n' < "/proc/$$/environ" > "$HOME/env.txt"
"#,
        );
        let mut inv = scene.invocation(&[&agent]);
        inv.environment = Environment::Container;
        inv.network = network.clone();
        inv.env.push(("PORT".into(), port.to_string()));
        inv.env.push(("AGENT_TOKEN".into(), "s3cr3t".into()));
        let report = run(&inv, &EnvOptions::default()).await;
        let output = scene.agent_output();
        assert_eq!(
            report.ending,
            Ending::Exited { code: 0 },
            "{}",
            scene.log_text()
        );
        if network == Network::Open {
            assert!(output.contains("connected\n"), "{output}");
        } else {
            assert!(output.contains("no network\n"), "{output}");
            assert!(!output.contains("connected\n"), "{output}");
        }
        assert!(output.contains("no host file"), "{output}");
        assert!(!output.contains("HOST-SENTINEL"), "{output}");
        assert_eq!(
            fs::read_to_string(scene.worktree.join("result.txt")).unwrap(),
            "from-the-sandbox\n"
        );
        let seen = env_of(&fs::read_to_string(scene.scratch.join("env.txt")).unwrap());
        // bubblewrap always sets PWD to the folder it starts the agent in.
        let mut expected: BTreeMap<String, String> = inv.env.iter().cloned().collect();
        expected.insert("PWD".into(), scene.worktree.display().to_string());
        assert_eq!(seen, expected);
        assert!(
            report.notes.iter().any(|n| n.starts_with("limits: ")),
            "{:?}",
            report.notes
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_container_agent_is_stopped_on_timeout() {
    if let Some(reason) = bubblewrap_unusable() {
        eprintln!("skipped: {reason}");
        return;
    }
    let scene = Scene::new("bwrap-timeout");
    let mut inv = scene.invocation(&["/bin/sh", "-c", "trap '' TERM; sleep 30"]);
    inv.environment = Environment::Container;
    inv.timeout = Duration::from_millis(500);
    let started = Instant::now();
    let report = run(&inv, &quick_kill()).await;
    assert_eq!(report.ending, Ending::TimedOut);
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn bubblewrap_runs_the_agent_as_the_agent_user_when_ade_is_root() {
    if !is_root() {
        eprintln!("skipped: ade does not run as root here, so no agent user is switched to");
        return;
    }
    if let Some(reason) = bubblewrap_unusable_as(Some(65534)) {
        eprintln!("skipped: {reason}");
        return;
    }
    let scene = Scene::new("bwrap-user");
    for dir in [&scene.worktree, &scene.scratch] {
        chown(dir, Some(65534), Some(65534)).unwrap();
    }
    let mut inv = scene.invocation(&["/bin/sh", "-c", "id -u; id -G; touch \"$WT/mine\""]);
    inv.environment = Environment::Container;
    let opts = EnvOptions {
        agent_user: Some(AgentUser {
            uid: 65534,
            gid: 65534,
        }),
        ..EnvOptions::default()
    };
    let report = run(&inv, &opts).await;
    assert_eq!(
        report.ending,
        Ending::Exited { code: 0 },
        "{}",
        scene.log_text()
    );
    assert_eq!(scene.agent_output(), "65534\n65534\n");
    let owner = fs::metadata(scene.worktree.join("mine")).unwrap();
    assert_eq!(std::os::unix::fs::MetadataExt::uid(&owner), 65534);
}

/// Why a daemon runtime cannot run agents here, if it cannot, and a local image it can use.
fn daemon_runtime(program: &str) -> Result<String, String> {
    let info = std::process::Command::new(program).arg("info").output();
    match info {
        Err(e) => return Err(format!("{program} cannot be started: {e}")),
        Ok(out) if !out.status.success() => {
            let stderr = String::from_utf8_lossy(&out.stderr);
            return Err(format!(
                "`{program} info` fails: {}",
                stderr.lines().last().unwrap_or("").trim()
            ));
        }
        Ok(_) => {}
    }
    for image in [
        "debian:bookworm-slim",
        "debian:12",
        "ubuntu:24.04",
        "alpine:3",
    ] {
        let found = std::process::Command::new(program)
            .args(["image", "inspect", image])
            .output()
            .is_ok_and(|o| o.status.success());
        if found {
            return Ok(image.to_string());
        }
    }
    Err(format!("{program} has none of the test images locally"))
}

async fn daemon_runtime_runs_the_agent(runtime: ContainerRuntime) {
    let image = match daemon_runtime(runtime.program_name()) {
        Ok(image) => image,
        Err(reason) => {
            eprintln!("skipped: {reason}");
            return;
        }
    };
    let scene = Scene::new("daemon");
    let mut inv = scene.invocation(&["/bin/sh", "-c", "echo in-container > \"$WT/out.txt\"; env"]);
    inv.environment = Environment::Container;
    let opts = EnvOptions {
        runtime,
        image: Some(image),
        memory_max: Some(256 << 20),
        pids_max: Some(128),
        ..EnvOptions::default()
    };
    let report = run(&inv, &opts).await;
    assert_eq!(
        report.ending,
        Ending::Exited { code: 0 },
        "{}",
        scene.log_text()
    );
    assert_eq!(
        fs::read_to_string(scene.worktree.join("out.txt")).unwrap(),
        "in-container\n"
    );
    let seen = env_of(&scene.agent_output());
    for (key, value) in &inv.env {
        assert_eq!(seen.get(key), Some(value), "{key}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn docker_runs_the_agent_when_docker_is_usable() {
    daemon_runtime_runs_the_agent(ContainerRuntime::Docker).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn podman_runs_the_agent_when_podman_is_usable() {
    daemon_runtime_runs_the_agent(ContainerRuntime::Podman).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn starting_and_ending_a_short_agent_costs_milliseconds() {
    let scene = Scene::new("overhead");
    let mut environments = vec![Environment::Worktree];
    match bubblewrap_unusable() {
        None => environments.push(Environment::Container),
        Some(reason) => eprintln!("container part skipped: {reason}"),
    }
    for environment in environments {
        let mut inv = scene.invocation(&["/usr/bin/true"]);
        inv.environment = environment;
        let rounds = 20;
        let started = Instant::now();
        for _ in 0..rounds {
            let report = run(&inv, &EnvOptions::default()).await;
            assert_eq!(report.ending, Ending::Exited { code: 0 });
        }
        let each = started.elapsed() / rounds;
        eprintln!(
            "run_agent(/usr/bin/true) in {}: {:.1} ms per run",
            environment.as_str(),
            each.as_secs_f64() * 1000.0
        );
        assert!(each < Duration::from_millis(300), "{each:?}");
    }
}

#[test]
fn processes_an_agent_left_in_its_folders_are_stopped_and_no_others() {
    if !is_root() {
        eprintln!("skipped: starting processes as the agent user needs root");
        return;
    }
    use std::os::unix::process::CommandExt;
    let scene = Scene::new("leftovers");
    let nobody = 65534;
    let spawn = |dir: &Path| {
        std::process::Command::new("sleep")
            .arg("60")
            .current_dir(dir)
            .uid(nobody)
            .gid(nobody)
            .spawn()
            .unwrap()
    };
    // One left working in the worktree, one holding a file of the scratch folder open while
    // working elsewhere, one of the same user that has nothing to do with the run.
    let mut in_worktree = spawn(&scene.worktree);
    fs::write(scene.scratch.join("held"), "x").unwrap();
    fs::set_permissions(&scene.root, fs::Permissions::from_mode(0o755)).unwrap();
    let mut holding = std::process::Command::new("sh")
        .args(["-c", "exec 3<\"$1\"; exec sleep 60", "sh"])
        .arg(scene.scratch.join("held"))
        .current_dir("/")
        .uid(nobody)
        .gid(nobody)
        .spawn()
        .unwrap();
    let mut unrelated = spawn(Path::new("/"));
    std::thread::sleep(Duration::from_millis(300));

    let mut stopped = ade::runner::env::stop_leftovers(nobody, &[&scene.worktree, &scene.scratch]);
    stopped.sort();
    let mut expected = vec![in_worktree.id(), holding.id()];
    expected.sort();
    assert_eq!(stopped, expected);
    for child in [&mut in_worktree, &mut holding] {
        let status = child.wait().unwrap();
        assert_eq!(
            std::os::unix::process::ExitStatusExt::signal(&status),
            Some(9)
        );
    }
    assert!(
        unrelated.try_wait().unwrap().is_none(),
        "the unrelated one still runs"
    );
    unrelated.kill().unwrap();
    unrelated.wait().unwrap();
    assert!(
        ade::runner::env::stop_leftovers(0, &[Path::new("/")]).is_empty(),
        "root's processes are never touched"
    );
}
