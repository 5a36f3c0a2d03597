//! Who agents run as when ade is not root. Each story runs this test binary again as a child
//! under `setpriv`, as an unprivileged "ade" user (uid 4242), with or without the capabilities
//! deploy/ade.service gives ade; the child starts an agent through `run_agent` as a non-root ade
//! would, and the parent judges by the child's exit and output.

use std::fs;
use std::os::unix::fs::{PermissionsExt, chown};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use ade::runner::env::{
    AgentUser, Ending, EnvError, EnvOptions, Environment, Invocation, Network, run_agent,
};
use tokio_util::sync::CancellationToken;

/// The variable that makes [`identity_child`] act: `<story>:<folder>`.
const CHILD: &str = "ADE_TEST_IDENTITY_CHILD";
/// The user id ade runs as in the child.
const ADE_UID: u32 = 4242;
/// The agent user.
const AGENT: AgentUser = AgentUser {
    uid: 65534,
    gid: 65534,
};
/// The capabilities deploy/ade.service gives ade, in setpriv's spelling: switching users, and
/// making the network namespace of an `off` or `allowlist` agent.
const SERVICE_CAPS: &str =
    "+setuid,+setgid,+chown,+fowner,+dac_override,+kill,+sys_ptrace,+sys_admin,+net_admin";

fn is_root() -> bool {
    fs::metadata("/proc/self").is_ok_and(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0)
}

/// A run's folders under a fresh root that the child (uid 4242) owns: the worktree and scratch
/// folder handed to the agent user, as ade hands them over, and a secret of ade's beside them.
struct Scene {
    root: PathBuf,
}

impl Scene {
    fn new(tag: &str) -> Scene {
        let root =
            std::env::temp_dir().join(format!("ade-identity-{tag}-{:016x}", fastrand::u64(..)));
        for dir in ["worktree", "scratch"] {
            fs::create_dir_all(root.join(dir)).unwrap();
            chown(root.join(dir), Some(AGENT.uid), Some(AGENT.gid)).unwrap();
        }
        let secret = root.join("ade-secret");
        fs::write(&secret, "the database key\n").unwrap();
        fs::set_permissions(&secret, fs::Permissions::from_mode(0o600)).unwrap();
        chown(&secret, Some(ADE_UID), Some(ADE_UID)).unwrap();
        chown(&root, Some(ADE_UID), Some(ADE_UID)).unwrap();
        fs::set_permissions(&root, fs::Permissions::from_mode(0o755)).unwrap();
        Scene { root }
    }

    /// Runs `story` in the child as uid 4242, with `caps` given to it as ambient capabilities.
    fn child(&self, story: &str, caps: Option<&str>) -> (bool, String) {
        let mut command = Command::new("setpriv");
        command.args([
            format!("--reuid={ADE_UID}"),
            format!("--regid={ADE_UID}"),
            "--clear-groups".to_string(),
        ]);
        if let Some(caps) = caps {
            command.args([
                format!("--inh-caps={caps}"),
                format!("--ambient-caps={caps}"),
            ]);
        }
        let output = command
            .arg(std::env::current_exe().unwrap())
            .args(["--exact", "identity_child", "--nocapture"])
            .env(CHILD, format!("{story}:{}", self.root.display()))
            .output()
            .expect("setpriv runs");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        (output.status.success(), text)
    }
}

impl Drop for Scene {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.root);
    }
}

#[test]
fn a_non_root_ade_with_the_service_capabilities_runs_agents_as_the_agent_user_with_none_left() {
    if !is_root() {
        eprintln!(
            "skipped: making a non-root ade with capabilities needs these tests to run as root"
        );
        return;
    }
    let scene = Scene::new("switch");
    let (ok, output) = scene.child("switch", Some(SERVICE_CAPS));
    assert!(ok, "{output}");
    assert!(output.contains("CHILD DONE switch"), "{output}");
}

#[test]
fn a_non_root_ade_that_cannot_switch_users_refuses_to_run_agents_as_itself() {
    if !is_root() {
        eprintln!("skipped: making a non-root ade needs these tests to run as root");
        return;
    }
    let scene = Scene::new("refuse");
    let (ok, output) = scene.child("refuse", None);
    assert!(ok, "{output}");
    assert!(output.contains("CHILD DONE refuse"), "{output}");
}

/// The child's side of the stories above; it does nothing unless a story started it. Like
/// `ade`'s `main`, it keeps its capabilities to itself before it makes any thread.
#[test]
fn identity_child() {
    let Ok(asked) = std::env::var(CHILD) else {
        eprintln!("skipped: runs only as the child process of this file's stories");
        return;
    };
    ade::runner::env::keep_capabilities_to_ade();
    let (story, root) = asked.split_once(':').unwrap();
    let root = Path::new(root);
    // SAFETY: geteuid has no preconditions and cannot fail.
    assert_eq!(unsafe { libc::geteuid() }, ADE_UID);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        match story {
            "switch" => switch(root).await,
            "refuse" => refuse(root).await,
            other => panic!("no story {other}"),
        }
    });
    println!("CHILD DONE {story}");
}

fn invocation(root: &Path, script: &str, environment: Environment) -> Invocation {
    let mut inv = Invocation::new(
        vec!["/bin/sh".into(), "-c".into(), script.into()],
        root.join("worktree"),
        root.join("scratch"),
        root.join(format!("{}.log", environment.as_str())),
    );
    inv.env = vec![
        ("PATH".into(), "/usr/bin:/bin".into()),
        (
            "SECRET".into(),
            root.join("ade-secret").display().to_string(),
        ),
    ];
    inv.environment = environment;
    inv.timeout = Duration::from_secs(30);
    inv
}

/// With the service's capabilities the agent runs as the agent user, holds no capability in any
/// set, cannot become ade again, and cannot read ade's files; ade can still stop it; and a
/// process ade runs as itself inherits none of ade's capabilities.
async fn switch(root: &Path) {
    assert!(ade::runner::env::can_switch_users());
    let own = std::process::Command::new("grep")
        .args(["-E", "^Cap(Prm|Eff|Amb)", "/proc/self/status"])
        .output()
        .unwrap();
    let own = String::from_utf8_lossy(&own.stdout);
    assert_eq!(own.matches("0000000000000000").count(), 3, "{own}");
    let script = "id -u; grep -E '^Cap(Inh|Prm|Eff|Amb)' /proc/self/status; \
                  grep NoNewPrivs /proc/self/status; \
                  setpriv --reuid=4242 true 2>/dev/null && echo BECAME ADE; \
                  cat \"$SECRET\" 2>/dev/null && echo READ ADE SECRET; \
                  touch mine; exit 0";
    // The default network, `off`: the namespace is made with the service's capabilities too.
    let inv = invocation(root, script, Environment::Worktree);
    assert_eq!(inv.network, Network::Off);
    let opts = EnvOptions {
        agent_user: Some(AGENT),
        ..EnvOptions::default()
    };
    let report = run_agent(&inv, &opts, CancellationToken::new())
        .await
        .expect("the agent starts");
    let log = fs::read_to_string(&inv.log).unwrap();
    assert_eq!(report.ending, Ending::Exited { code: 0 }, "{log}");
    let output: Vec<&str> = log.lines().filter(|l| !l.starts_with("[ade] ")).collect();
    assert_eq!(output[0], "65534", "{log}");
    for set in ["CapInh", "CapPrm", "CapEff", "CapAmb"] {
        let line = output.iter().find(|l| l.starts_with(set)).unwrap();
        assert!(line.ends_with("0000000000000000"), "{line}\n{log}");
    }
    assert!(output.contains(&"NoNewPrivs:\t1"), "{log}");
    assert!(!log.contains("BECAME ADE"), "{log}");
    assert!(!log.contains("READ ADE SECRET"), "{log}");
    assert!(
        log.contains("[ade] network: off (a network namespace of its own"),
        "{log}"
    );
    let mine = fs::metadata(root.join("worktree/mine")).unwrap();
    assert_eq!(std::os::unix::fs::MetadataExt::uid(&mine), AGENT.uid);
    assert!(
        report.notes.iter().any(|n| n.starts_with(
            "user: uid 65534 gid 65534, supplementary groups dropped; switched with ade's capabilities"
        )),
        "{:?}",
        report.notes
    );

    // An agent that ignores SIGTERM past its timeout is still stopped.
    let mut inv = invocation(root, "trap '' TERM; sleep 60", Environment::Worktree);
    inv.log = root.join("timeout.log");
    inv.timeout = Duration::from_secs(1);
    let opts = EnvOptions {
        agent_user: Some(AGENT),
        kill_grace: Duration::from_secs(1),
        ..EnvOptions::default()
    };
    let started = std::time::Instant::now();
    let report = run_agent(&inv, &opts, CancellationToken::new())
        .await
        .expect("the agent starts");
    assert_eq!(report.ending, Ending::TimedOut);
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
}

/// Without capabilities nothing runs as ade outside a sandbox: the run is refused with what to
/// configure, and the refusal is a setup problem the run waits on.
async fn refuse(root: &Path) {
    assert!(!ade::runner::env::can_switch_users());
    for (user, says) in [
        (
            Some(AGENT),
            "agents never run as ade's own user (uid 4242): ade lacks CAP_SETUID, CAP_SETGID, \
             CAP_CHOWN, CAP_FOWNER, CAP_DAC_OVERRIDE, CAP_KILL, CAP_SYS_PTRACE to run it as \
             another user",
        ),
        (
            None,
            "agents never run as ade's own user (uid 4242): ade lacks CAP_SETUID",
        ),
    ] {
        for environment in [Environment::Worktree, Environment::Main] {
            let mut inv = invocation(root, "touch ran; exit 0", environment);
            // Without capabilities an `off` network could not be made either; this story is
            // about the user.
            inv.network = Network::Open;
            let opts = EnvOptions {
                agent_user: user,
                ..EnvOptions::default()
            };
            let error = run_agent(&inv, &opts, CancellationToken::new())
                .await
                .expect_err("the run is refused");
            assert!(matches!(error, EnvError::OwnUser { .. }), "{error}");
            assert!(error.to_string().starts_with(says), "{error}");
            assert!(
                error.to_string().contains("AmbientCapabilities="),
                "{error}"
            );
            assert!(error.is_setup());
            assert!(!root.join("worktree/ran").exists());
        }
    }
}
