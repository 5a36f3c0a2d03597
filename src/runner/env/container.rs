//! The `container` environment: the worktree mounted into a sandbox at its own path (so the
//! paths in the agent's arguments and in the worktree's `.git` file stay true), the run's scratch
//! folder beside it, the network the invocation says.
//!
//! - bubblewrap (default): the host's system folders read-only, fresh /proc, /dev and /tmp, every
//!   namespace unshared but the network's: an `allowlist` sandbox starts inside the network
//!   namespace ade made for the run (its egress proxy the only way out), an `off` one in a
//!   namespace of bubblewrap's own, an `open` one in ade's; `--die-with-parent`,
//!   `--new-session`, all capabilities dropped, run as the agent user when ade is root; memory
//!   and process limits through a run cgroup.
//! - podman / docker: `run --rm` of the configured image with the same mounts, `--network none`
//!   for `off` or the default network for `open` (`allowlist` is refused: ade's proxy cannot
//!   be the only way out of their networks), `--memory`, `--pids-limit`, `--user`, no capabilities and
//!   `no-new-privileges`; a killed run also removes its container, which the daemon would
//!   otherwise keep running.
//!
//! The agent's environment never appears on a command line that `ps` shows to other users:
//! bubblewrap reads `--clearenv` and the `--setenv`s from an anonymous memory file (`--args FD`)
//! and itself runs with an empty environment; podman and docker take each variable by name
//! (`-e NAME`) from their client's environment.

use std::ffi::OsString;
use std::fs;
use std::io::{self, Seek, SeekFrom, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::process::Command;

use super::identity::agent_identity;
use super::process::Launch;
use super::{ContainerRuntime, EnvError, EnvOptions, Invocation, Network, PathAccess, StdinSource};
use crate::runner::env::cgroup;

/// Where a runtime named without a folder is looked for; ade's own PATH is not consulted.
const SEARCH_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Host folders mounted read-only into a bubblewrap sandbox (symlinks are recreated as links).
const SYSTEM_READ_ONLY: &[&str] = super::SYSTEM_FOLDERS;

/// The launch of the `container` environment with the runtime the settings name.
pub(super) fn launch(inv: &Invocation, opts: &EnvOptions) -> Result<Launch, EnvError> {
    let program = resolve_program(opts)?;
    match opts.runtime {
        ContainerRuntime::Bubblewrap => bubblewrap(inv, opts, program),
        ContainerRuntime::Podman | ContainerRuntime::Docker => daemon(inv, opts, program),
    }
}

/// The runtime's program: the configured path, or its name looked up in [`SEARCH_PATH`].
fn resolve_program(opts: &EnvOptions) -> Result<PathBuf, EnvError> {
    let wanted = opts
        .runtime_program
        .clone()
        .unwrap_or_else(|| PathBuf::from(opts.runtime.program_name()));
    let missing = |searched: &str| EnvError::RuntimeMissing {
        runtime: opts.runtime,
        program: wanted.display().to_string(),
        searched: searched.to_string(),
    };
    if wanted.components().count() > 1 {
        return if wanted.is_file() {
            Ok(wanted.clone())
        } else {
            Err(missing("the configured path"))
        };
    }
    SEARCH_PATH
        .split(':')
        .map(|dir| Path::new(dir).join(&wanted))
        .find(|candidate| candidate.is_file())
        .ok_or_else(|| missing(SEARCH_PATH))
}

/// A name for the run's container and cgroup, unique on this runner.
fn run_name() -> String {
    format!(
        "ade-run-{}-{:012x}",
        std::process::id(),
        fastrand::u64(..) >> 16
    )
}

fn bubblewrap(inv: &Invocation, opts: &EnvOptions, program: PathBuf) -> Result<Launch, EnvError> {
    let environment = environment_args(inv)?;
    let mut command = Command::new(&program);
    command
        .arg("--args")
        .arg(environment.as_raw_fd().to_string())
        .args(bwrap_args(inv))
        .env_clear()
        .current_dir(&inv.worktree);
    let identity = agent_identity(opts, true)?;
    let (cgroup, limits_note) = cgroup::prepare(opts, &run_name());
    let notes = vec![
        identity.note,
        format!(
            "sandbox: bubblewrap ({}); network {}; {}; read-only system folders {}; fresh /proc, \
             /dev and /tmp; every other namespace unshared, no capabilities",
            program.display(),
            inv.network.as_str(),
            mounted(inv),
            SYSTEM_READ_ONLY.join(", "),
        ),
        limits_note,
    ];
    Ok(Launch {
        command,
        landlock: None,
        cgroup,
        drop_capabilities: false,
        shed_capabilities: identity.shed_capabilities,
        inherited: Some(environment),
        stop: None,
        notes,
        user: identity.user,
        netns: None,
    })
}

/// `--clearenv` and one `--setenv NAME VALUE` per variable, NUL-separated in an anonymous
/// memory file that bubblewrap reads with `--args FD`: the values never appear on a command
/// line, and bubblewrap itself runs with an empty environment.
fn environment_args(inv: &Invocation) -> Result<OwnedFd, EnvError> {
    let settings = |reason: String| EnvError::Settings {
        runtime: ContainerRuntime::Bubblewrap,
        reason,
    };
    let mut bytes = b"--clearenv\0".to_vec();
    for (name, value) in &inv.env {
        // A NUL would end the argument early and let the rest be read as bubblewrap options.
        if name.is_empty() || name.contains(['=', '\0']) || value.contains('\0') {
            return Err(settings(format!(
                "the environment variable {name:?} cannot be passed"
            )));
        }
        for part in ["--setenv", name.as_str(), value.as_str()] {
            bytes.extend_from_slice(part.as_bytes());
            bytes.push(0);
        }
    }
    // SAFETY: memfd_create with a static NUL-terminated name; the result is checked.
    let fd = unsafe { libc::memfd_create(c"ade-agent-env".as_ptr(), libc::MFD_CLOEXEC) };
    if fd < 0 {
        return Err(settings(format!(
            "cannot create the environment file: {}",
            io::Error::last_os_error()
        )));
    }
    // SAFETY: fd was just returned by memfd_create and is owned by nothing else.
    let mut file = fs::File::from(unsafe { OwnedFd::from_raw_fd(fd) });
    file.write_all(&bytes)
        .and_then(|()| file.seek(SeekFrom::Start(0)).map(|_| ()))
        .map_err(|e| settings(format!("cannot write the environment file: {e}")))?;
    Ok(OwnedFd::from(file))
}

/// bubblewrap's arguments for one invocation, the agent's argv last.
fn bwrap_args(inv: &Invocation) -> Vec<OsString> {
    let mut args: Vec<OsString> = Vec::new();
    let mut push = |items: &[&std::ffi::OsStr]| args.extend(items.iter().map(|s| s.into()));
    push(&["--unshare-all".as_ref()]);
    // `allowlist` keeps the namespace ade made and bubblewrap starts in; `open` keeps ade's.
    if inv.network != Network::Off {
        push(&["--share-net".as_ref()]);
    }
    push(&[
        "--die-with-parent".as_ref(),
        "--new-session".as_ref(),
        "--cap-drop".as_ref(),
        "ALL".as_ref(),
    ]);
    for dir in SYSTEM_READ_ONLY {
        let path = Path::new(dir);
        match fs::symlink_metadata(path) {
            Ok(meta) if meta.file_type().is_symlink() => {
                if let Ok(target) = fs::read_link(path) {
                    push(&["--symlink".as_ref(), target.as_os_str(), path.as_os_str()]);
                }
            }
            Ok(meta) if meta.is_dir() => {
                push(&["--ro-bind".as_ref(), path.as_os_str(), path.as_os_str()]);
            }
            _ => {}
        }
    }
    push(&[
        "--proc".as_ref(),
        "/proc".as_ref(),
        "--dev".as_ref(),
        "/dev".as_ref(),
        "--tmpfs".as_ref(),
        "/tmp".as_ref(),
    ]);
    for (path, writable) in mounts(inv) {
        let flag = if writable { "--bind" } else { "--ro-bind" };
        push(&[flag.as_ref(), path.as_os_str(), path.as_os_str()]);
    }
    push(&["--chdir".as_ref(), inv.worktree.as_os_str(), "--".as_ref()]);
    args.extend(inv.argv.iter().map(OsString::from));
    args
}

/// What is mounted into the sandbox at its own path, and whether writable: the worktree (as the
/// invocation's access says), the scratch folder, the extra paths. Outer folders come first, so a
/// folder inside another is mounted over it, not hidden by it.
fn mounts(inv: &Invocation) -> Vec<(&Path, bool)> {
    let mut mounts: Vec<(&Path, bool)> = vec![
        (&inv.worktree, inv.worktree_access == PathAccess::ReadWrite),
        (&inv.scratch, true),
    ];
    mounts.extend(
        inv.extra_paths
            .iter()
            .map(|g| (g.path.as_path(), g.access == PathAccess::ReadWrite)),
    );
    mounts.sort_by_key(|(path, _)| path.components().count());
    mounts
}

/// The run log's words for the worktree and scratch mounts.
fn mounted(inv: &Invocation) -> String {
    if inv.worktree_access == PathAccess::ReadWrite {
        format!(
            "read-write {}, {}",
            inv.worktree.display(),
            inv.scratch.display()
        )
    } else {
        format!(
            "the worktree {} read-only (writing, creating or removing files in it is refused); \
             read-write {}",
            inv.worktree.display(),
            inv.scratch.display()
        )
    }
}

fn daemon(inv: &Invocation, opts: &EnvOptions, program: PathBuf) -> Result<Launch, EnvError> {
    let name = run_name();
    let args = daemon_args(inv, opts, &name)?;
    let mut command = Command::new(&program);
    command
        .args(&args)
        .env_clear()
        .envs(opts.runtime_env.iter().map(|(k, v)| (k, v)))
        .envs(inv.env.iter().map(|(k, v)| (k, v)))
        .current_dir(&inv.worktree);
    let mut stop = Command::new(&program);
    stop.args(["rm", "-f", name.as_str()])
        .env_clear()
        .envs(opts.runtime_env.iter().map(|(k, v)| (k, v)));
    let user_note = match opts.agent_user {
        Some(user) => format!("user: uid {} gid {} in the container", user.uid, user.gid),
        None => "user: the image's default user (no agent user configured)".to_string(),
    };
    let limits = match (opts.memory_max, opts.pids_max) {
        (None, None) => "limits: none configured (memory_max, pids_max)".to_string(),
        (memory, pids) => format!(
            "limits: enforced by {}: memory {}, processes {}",
            opts.runtime,
            memory.map_or("unlimited".to_string(), |b| format!("{b} bytes")),
            pids.map_or("unlimited".to_string(), |p| p.to_string()),
        ),
    };
    let notes = vec![
        user_note,
        format!(
            "sandbox: {} ({}) container {name} of image {}; network {}; {}; no capabilities, \
             no-new-privileges",
            opts.runtime,
            program.display(),
            opts.image.as_deref().unwrap_or_default(),
            inv.network.as_str(),
            mounted(inv),
        ),
        limits,
    ];
    Ok(Launch {
        command,
        landlock: None,
        cgroup: None,
        drop_capabilities: false,
        shed_capabilities: false,
        inherited: None,
        stop: Some(stop),
        notes,
        user: None,
        netns: None,
    })
}

/// `run` arguments for podman and docker.
fn daemon_args(inv: &Invocation, opts: &EnvOptions, name: &str) -> Result<Vec<String>, EnvError> {
    let settings = |reason: String| EnvError::Settings {
        runtime: opts.runtime,
        reason,
    };
    let image = opts
        .image
        .as_deref()
        .filter(|image| !image.is_empty() && !image.starts_with('-'))
        .ok_or_else(|| settings("no container image is configured".to_string()))?;
    let mut args: Vec<String> = ["run", "--rm", "--name", name].map(String::from).to_vec();
    match (&inv.network, opts.runtime) {
        (Network::Off, _) => args.extend(["--network".into(), "none".into()]),
        (Network::Open, ContainerRuntime::Docker) => {
            args.extend(["--network".into(), "bridge".into()])
        }
        (Network::Open, _) => {}
        (Network::Allowlist(_), runtime) => {
            return Err(settings(format!(
                "network = \"allowlist\" needs runner.container_runtime = \"bubblewrap\": ade's \
                 egress proxy cannot be the only way out of a {runtime} container; use \
                 bubblewrap, or set the agent's network to \"off\" or \"open\""
            )));
        }
    }
    for (path, writable) in mounts(inv) {
        let text = path
            .to_str()
            .filter(|text| !text.contains([':', ',', '\n']))
            .ok_or_else(|| {
                settings(format!(
                    "{} cannot be mounted: its path holds ':', ',' or is not UTF-8",
                    path.display()
                ))
            })?;
        args.push("-v".into());
        args.push(if writable {
            format!("{text}:{text}")
        } else {
            format!("{text}:{text}:ro")
        });
    }
    args.push("-w".into());
    args.push(inv.worktree.display().to_string());
    if let Some(bytes) = opts.memory_max {
        args.extend(["--memory".into(), bytes.to_string()]);
    }
    if let Some(pids) = opts.pids_max {
        args.extend(["--pids-limit".into(), pids.to_string()]);
    }
    if let Some(user) = opts.agent_user {
        args.extend(["--user".into(), format!("{}:{}", user.uid, user.gid)]);
    }
    args.extend(["--cap-drop", "ALL", "--security-opt", "no-new-privileges"].map(String::from));
    if matches!(inv.stdin, StdinSource::File(_)) {
        args.push("-i".into());
    }
    for (key, _) in &inv.env {
        if key.is_empty() || key.contains('=') || key.starts_with('-') {
            return Err(settings(format!(
                "the environment variable name {key:?} cannot be passed"
            )));
        }
        args.extend(["-e".into(), key.clone()]);
    }
    args.push(image.to_string());
    args.extend(inv.argv.iter().cloned());
    Ok(args)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runner::env::{AgentUser, PathGrant};
    use std::io::Read;

    fn invocation() -> Invocation {
        let mut inv = Invocation::new(
            vec![
                "agent".into(),
                "--prompt".into(),
                "/runs/s/prompt.md".into(),
            ],
            PathBuf::from("/runs/wt"),
            PathBuf::from("/runs/s"),
            PathBuf::from("/runs/log"),
        );
        inv.env = vec![
            ("HOME".into(), "/runs/s".into()),
            ("API_KEY".into(), "k".into()),
        ];
        inv
    }

    fn strings(args: Vec<OsString>) -> Vec<String> {
        args.into_iter().map(|a| a.into_string().unwrap()).collect()
    }

    #[test]
    fn bubblewrap_shares_the_network_only_when_allowed_and_ends_with_the_argv() {
        let mut inv = invocation();
        let args = strings(bwrap_args(&inv));
        assert!(!args.contains(&"--share-net".to_string()));
        assert!(args.starts_with(&["--unshare-all".to_string()]));
        assert!(args.ends_with(&[
            "--chdir".into(),
            "/runs/wt".into(),
            "--".into(),
            "agent".into(),
            "--prompt".into(),
            "/runs/s/prompt.md".into()
        ]));
        assert!(
            !args.iter().any(|a| a == "k"),
            "secret values stay off argv"
        );
        inv.network = Network::Open;
        assert!(strings(bwrap_args(&inv)).contains(&"--share-net".to_string()));
        inv.network = Network::Allowlist(Vec::new());
        assert!(
            strings(bwrap_args(&inv)).contains(&"--share-net".to_string()),
            "an allowlist sandbox stays in the namespace ade made"
        );
    }

    #[test]
    fn bubblewrap_gets_the_environment_from_a_file_and_refuses_smuggled_options() {
        let inv = invocation();
        let fd = environment_args(&inv).unwrap();
        let mut text = String::new();
        fs::File::from(fd).read_to_string(&mut text).unwrap();
        assert_eq!(
            text,
            "--clearenv\0--setenv\0HOME\0/runs/s\0--setenv\0API_KEY\0k\0"
        );
        let mut inv = invocation();
        inv.env.push(("X".into(), "v\0--bind\0/\0/".into()));
        assert!(environment_args(&inv).is_err());
        let mut inv = invocation();
        inv.env.push(("A=B".into(), "v".into()));
        assert!(environment_args(&inv).is_err());
    }

    #[test]
    fn bubblewrap_mounts_outer_folders_before_inner_ones() {
        let mut inv = invocation();
        inv.scratch = PathBuf::from("/runs/wt/.scratch");
        inv.extra_paths = vec![PathGrant {
            path: PathBuf::from("/mirror"),
            access: crate::runner::env::PathAccess::Read,
        }];
        let args = strings(bwrap_args(&inv));
        let at = |flag: &str, path: &str| {
            args.windows(3)
                .position(|w| w[0] == flag && w[1] == path && w[2] == path)
                .unwrap_or_else(|| panic!("{flag} {path} missing in {args:?}"))
        };
        assert!(at("--ro-bind", "/mirror") < at("--bind", "/runs/wt"));
        assert!(at("--bind", "/runs/wt") < at("--bind", "/runs/wt/.scratch"));
        assert!(at("--bind", "/runs/wt") > args.iter().position(|a| a == "--tmpfs").unwrap());
    }

    #[test]
    fn docker_runs_the_image_without_network_with_limits_user_and_env_by_name() {
        let opts = EnvOptions {
            runtime: ContainerRuntime::Docker,
            image: Some("ghcr.io/acme/agent:1".into()),
            memory_max: Some(1 << 30),
            pids_max: Some(256),
            agent_user: Some(AgentUser {
                uid: 1000,
                gid: 1000,
            }),
            ..EnvOptions::default()
        };
        let args = daemon_args(&invocation(), &opts, "ade-run-1").unwrap();
        let expected: Vec<String> = [
            "run",
            "--rm",
            "--name",
            "ade-run-1",
            "--network",
            "none",
            "-v",
            "/runs/wt:/runs/wt",
            "-v",
            "/runs/s:/runs/s",
            "-w",
            "/runs/wt",
            "--memory",
            "1073741824",
            "--pids-limit",
            "256",
            "--user",
            "1000:1000",
            "--cap-drop",
            "ALL",
            "--security-opt",
            "no-new-privileges",
            "-e",
            "HOME",
            "-e",
            "API_KEY",
            "ghcr.io/acme/agent:1",
            "agent",
            "--prompt",
            "/runs/s/prompt.md",
        ]
        .map(String::from)
        .to_vec();
        assert_eq!(args, expected);
    }

    #[test]
    fn a_read_only_worktree_is_mounted_read_only_by_every_runtime() {
        let mut inv = invocation();
        inv.worktree_access = PathAccess::Read;
        let args = strings(bwrap_args(&inv));
        let bound = |flag: &str, path: &str| {
            args.windows(3)
                .any(|w| w[0] == flag && w[1] == path && w[2] == path)
        };
        assert!(bound("--ro-bind", "/runs/wt"), "{args:?}");
        assert!(!bound("--bind", "/runs/wt"), "{args:?}");
        assert!(
            bound("--bind", "/runs/s"),
            "the scratch folder stays writable"
        );
        assert!(mounted(&inv).contains("the worktree /runs/wt read-only"));
        let opts = EnvOptions {
            runtime: ContainerRuntime::Podman,
            image: Some("agent".into()),
            ..EnvOptions::default()
        };
        let args = daemon_args(&inv, &opts, "n").unwrap();
        assert!(
            args.contains(&"/runs/wt:/runs/wt:ro".to_string()),
            "{args:?}"
        );
        assert!(args.contains(&"/runs/s:/runs/s".to_string()), "{args:?}");
    }

    #[test]
    fn docker_refuses_what_it_cannot_express_safely() {
        let mut opts = EnvOptions {
            runtime: ContainerRuntime::Podman,
            ..EnvOptions::default()
        };
        let error = daemon_args(&invocation(), &opts, "n").unwrap_err();
        assert!(error.to_string().contains("no container image"), "{error}");
        opts.image = Some("agent".into());
        let mut inv = invocation();
        inv.worktree = PathBuf::from("/runs/a:b");
        let error = daemon_args(&inv, &opts, "n").unwrap_err();
        assert!(error.to_string().contains("cannot be mounted"), "{error}");
        let mut inv = invocation();
        inv.env.push(("A=B".into(), "x".into()));
        assert!(daemon_args(&inv, &opts, "n").is_err());
        inv.env.pop();
        inv.network = Network::Allowlist(Vec::new());
        let error = daemon_args(&inv, &opts, "n").unwrap_err();
        assert!(error.to_string().contains("bubblewrap"), "{error}");
        assert!(error.is_setup());
        inv.network = Network::Open;
        let args = daemon_args(&inv, &opts, "n").unwrap();
        assert!(
            !args.contains(&"--network".to_string()),
            "podman keeps its default network"
        );
    }

    #[test]
    fn a_runtime_missing_from_the_system_folders_is_named_with_where_it_was_sought() {
        let opts = EnvOptions {
            runtime_program: Some(PathBuf::from("ade-no-such-runtime")),
            ..EnvOptions::default()
        };
        let error = resolve_program(&opts).unwrap_err();
        assert!(
            error.to_string().starts_with(
                "bubblewrap is not installed: ade-no-such-runtime not found in /usr/local/sbin:"
            ),
            "{error}"
        );
    }
}
