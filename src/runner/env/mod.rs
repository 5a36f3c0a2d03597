//! Environments: where an agent process runs (`worktree`, `container`, `main`). The agent registry
//! ([`super::agent`]) turns a registered agent and a run into an [`Invocation`]; an environment
//! starts it, confines it, streams its output to the run log, and stops it on timeout or cancel.
//!
//! - `worktree` and `main`: the agent runs directly on the runner, in its own process group, as the
//!   configured agent user when ade runs as root, confined by Landlock to the worktree (or the
//!   checkout), the run's scratch folder and read-only system paths (`landlock.rs`).
//! - `container`: the agent runs in a bubblewrap sandbox, or under podman or docker when the
//!   runner's settings name them (`container.rs`), with memory and process limits from a delegated
//!   cgroup where the runner can write one (`cgroup.rs`).
//!
//! The network is the agent registration's (`network.rs`): `off` and `allowlist` agents run in a
//! network namespace of their own (`netns.rs`, `isolate.rs`); an `allowlist` agent's only way out
//! is ade's egress proxy (`egress/`), which records every connection in the run log and the
//! [`AgentReport`].
//!
//! Every environment shares the process handling in `process.rs`: timeout and cancel stop the
//! whole process group (SIGTERM, a grace, SIGKILL) and the output is capped in the run log
//! (`log.rs`). What confines an agent, and what could not, is written to the run log as plain
//! notes and returned in the [`AgentReport`].

mod cgroup;
mod container;
mod egress;
mod identity;
mod isolate;
mod landlock;
mod leftovers;
mod log;
mod netns;
mod network;
mod process;

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::secrets::LogFiles;
use tokio_util::sync::CancellationToken;

pub use self::egress::{EgressReport, EgressTally};
pub use self::identity::{
    SWITCH_CAPABILITIES, can_switch_users, keep_capabilities_to_ade, missing_capabilities,
};
pub use self::landlock::{LandlockSupport, landlock_support, read_only_refusal};
pub use self::leftovers::stop_leftovers;
pub use self::network::{DEFAULT_PORT, HostPort, Network};
pub use crate::policy::Environment;

/// The system folders every environment lets an agent read and run programs from (read-only):
/// Landlock's read-and-execute rules and bubblewrap's read-only mounts. Agent programs installed
/// elsewhere need their folder in `runner.agent_dirs`.
pub const SYSTEM_FOLDERS: &[&str] = &[
    "/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc", "/opt",
];

/// Everything needed to start one agent process. Nothing is inherited from ade's own process:
/// `env` is the agent's whole environment. Its `Debug` shows variable names only: values may be
/// secrets.
#[derive(Clone)]
pub struct Invocation {
    /// Program and arguments, placeholders already filled in; never passed through a shell.
    pub argv: Vec<String>,
    /// What the agent reads on stdin.
    pub stdin: StdinSource,
    /// The complete environment (ADE_* variables, HOME, PATH, the declared secrets).
    pub env: Vec<(String, String)>,
    /// The worktree the agent works in (its current folder).
    pub worktree: PathBuf,
    /// What the agent may do in its worktree: [`PathAccess::ReadWrite`] for a run's agent;
    /// [`PathAccess::Read`] for a planner, which the environment enforces (Landlock's rules, a
    /// read-only mount) or refuses to start: the worktree's files may be the agent user's, so
    /// their permissions alone do not keep it from writing.
    pub worktree_access: PathAccess,
    /// The run's scratch folder (HOME and tool state live under it); writable by the agent.
    pub scratch: PathBuf,
    /// Wall-clock limit: SIGTERM to the process group, then SIGKILL.
    pub timeout: Duration,
    /// Most bytes of output kept in the run log; the rest is counted and dropped.
    pub output_cap: u64,
    /// The run log file that output is streamed to.
    pub log: PathBuf,
    /// What network the agent gets: none, its allowlist through ade's egress proxy, or open.
    pub network: Network,
    /// Where it runs.
    pub environment: Environment,
    /// Folders beyond the worktree and scratch the agent may reach (for example the mirror's
    /// object store, read-only, so `git log` works inside a linked worktree). Confinement allows
    /// them and sandboxes mount them at the same path.
    pub extra_paths: Vec<PathGrant>,
    /// Lines the runner writes into the run log before the agent starts, such as how long
    /// preparing the run took. They stay in the log; the report carries only the confinement.
    pub preparation: Vec<String>,
}

impl fmt::Debug for Invocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.env.iter().map(|(name, _)| name.as_str()).collect();
        f.debug_struct("Invocation")
            .field("argv", &self.argv)
            .field("stdin", &self.stdin)
            .field("env", &names)
            .field("worktree", &self.worktree)
            .field("worktree_access", &self.worktree_access)
            .field("scratch", &self.scratch)
            .field("timeout", &self.timeout)
            .field("output_cap", &self.output_cap)
            .field("log", &self.log)
            .field("network", &self.network)
            .field("environment", &self.environment)
            .field("extra_paths", &self.extra_paths)
            .field("preparation", &self.preparation)
            .finish()
    }
}

impl Invocation {
    /// An invocation with the defaults the agent registry starts from: stdin from /dev/null, an
    /// empty environment, a writable worktree, a one-hour timeout, a 10 MiB output cap, network
    /// `off`, the `worktree` environment and no extra paths.
    pub fn new(argv: Vec<String>, worktree: PathBuf, scratch: PathBuf, log: PathBuf) -> Self {
        Invocation {
            argv,
            stdin: StdinSource::Null,
            env: Vec::new(),
            worktree,
            worktree_access: PathAccess::ReadWrite,
            scratch,
            timeout: Duration::from_secs(3600),
            output_cap: 10 * 1024 * 1024,
            log,
            network: Network::Off,
            environment: Environment::Worktree,
            extra_paths: Vec::new(),
            preparation: Vec::new(),
        }
    }
}

/// What an agent reads on stdin.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StdinSource {
    /// Nothing: /dev/null (some agents wait forever on an open stdin).
    Null,
    /// The contents of this file (the prompt, for agents that take it on stdin).
    File(PathBuf),
}

/// A folder outside the worktree and scratch that one run's agent may reach.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PathGrant {
    /// The folder (or file), absolute.
    pub path: PathBuf,
    /// What the agent may do there.
    pub access: PathAccess,
}

/// What an agent may do in a [`PathGrant`]'s folder.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PathAccess {
    /// Read files and list folders (the mirror's object store).
    Read,
    /// Read, and run programs from it (where agent CLIs are installed, `runner.agent_dirs`).
    ReadExecute,
    /// Read and change it.
    ReadWrite,
}

/// The unprivileged account agents run as, when ade is root or holds the capabilities to switch
/// users ([`can_switch_users`]): never ade's own. Supplementary groups are always dropped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AgentUser {
    /// User id.
    pub uid: u32,
    /// Primary group id; the agent gets no other group.
    pub gid: u32,
}

/// Which sandbox the `container` environment uses.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ContainerRuntime {
    /// bubblewrap: no daemon, starts in milliseconds; needs unprivileged user namespaces or root.
    #[default]
    Bubblewrap,
    /// podman (`podman run --rm …`), needs an image.
    Podman,
    /// docker (`docker run --rm …`), needs an image and a reachable daemon.
    Docker,
}

impl ContainerRuntime {
    /// The name written in `ade.toml`.
    pub fn as_str(self) -> &'static str {
        match self {
            ContainerRuntime::Bubblewrap => "bubblewrap",
            ContainerRuntime::Podman => "podman",
            ContainerRuntime::Docker => "docker",
        }
    }

    /// The program's usual name, looked up in the system folders when no path is configured.
    pub fn program_name(self) -> &'static str {
        match self {
            ContainerRuntime::Bubblewrap => "bwrap",
            ContainerRuntime::Podman => "podman",
            ContainerRuntime::Docker => "docker",
        }
    }
}

impl fmt::Display for ContainerRuntime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ContainerRuntime::Bubblewrap => "bubblewrap",
            ContainerRuntime::Podman => "podman",
            ContainerRuntime::Docker => "docker",
        })
    }
}

/// The runner's settings for starting agents, read once from the runner configuration.
#[derive(Clone, Debug)]
pub struct EnvOptions {
    /// Who agents run as; ade switches to it when it is root or holds the capabilities to
    /// ([`can_switch_users`]), and refuses to run agents as itself otherwise (docs/agents.md).
    pub agent_user: Option<AgentUser>,
    /// The sandbox of the `container` environment.
    pub runtime: ContainerRuntime,
    /// The runtime's program; `None` looks its usual name up in the system folders.
    pub runtime_program: Option<PathBuf>,
    /// Environment of the podman or docker client itself (DOCKER_HOST, XDG_RUNTIME_DIR, ...);
    /// it never reaches the container, which gets only the invocation's variables.
    pub runtime_env: Vec<(String, String)>,
    /// The image podman or docker run the agent in (bubblewrap uses the host's system folders).
    pub image: Option<String>,
    /// Memory limit in bytes for container agents.
    pub memory_max: Option<u64>,
    /// Process limit for container agents.
    pub pids_max: Option<u64>,
    /// A delegated cgroup v2 folder ade may create run cgroups in; `None` tries ade's own cgroup.
    pub cgroup_parent: Option<PathBuf>,
    /// How long an agent has between SIGTERM and SIGKILL on timeout or cancel.
    pub kill_grace: Duration,
    /// How run logs are written and read: in plaintext or sealed (docs/secrets.md).
    pub logs: LogFiles,
}

impl Default for EnvOptions {
    fn default() -> Self {
        EnvOptions {
            agent_user: None,
            runtime: ContainerRuntime::Bubblewrap,
            runtime_program: None,
            runtime_env: Vec::new(),
            image: None,
            memory_max: None,
            pids_max: None,
            cgroup_parent: None,
            kill_grace: Duration::from_secs(5),
            logs: LogFiles::default(),
        }
    }
}

/// How an agent process ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ending {
    /// It exited by itself with this code.
    Exited {
        /// The exit code.
        code: i32,
    },
    /// It was killed by a signal nobody from ade sent (a crash, the OOM killer, itself).
    Signalled {
        /// The signal number.
        signal: i32,
    },
    /// It ran past its timeout and was stopped.
    TimedOut,
    /// The run was cancelled and the agent was stopped.
    Cancelled,
}

impl Ending {
    /// Whether the agent finished on its own with exit code 0.
    pub fn succeeded(self) -> bool {
        self == Ending::Exited { code: 0 }
    }
}

impl fmt::Display for Ending {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Ending::Exited { code } => write!(f, "exited with code {code}"),
            Ending::Signalled { signal } => write!(f, "killed by signal {signal}"),
            Ending::TimedOut => f.write_str("timed out and was stopped"),
            Ending::Cancelled => f.write_str("cancelled and stopped"),
        }
    }
}

/// What happened to one agent process: the run's verdict and its run page start from this.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AgentReport {
    /// How it ended.
    pub ending: Ending,
    /// Wall-clock time from start to the end of the process.
    pub duration: Duration,
    /// Bytes of output the agent wrote (stdout and stderr together).
    pub output_seen: u64,
    /// Bytes of that output kept in the run log (at most the cap).
    pub output_kept: u64,
    /// How the agent was confined and what could not be enforced, as written to the run log.
    pub notes: Vec<String>,
    /// The connections an `allowlist` agent made, let through or refused (empty otherwise).
    pub egress: EgressReport,
}

/// Why an agent could not be run at all (an agent that ran and failed is an [`AgentReport`]).
#[derive(Debug, thiserror::Error)]
pub enum EnvError {
    /// The invocation has an empty argv.
    #[error("the agent invocation has no program")]
    NoProgram,
    /// The worktree, scratch or an extra path is missing or not absolute.
    #[error("the {what} {path} is not an existing absolute path")]
    MissingPath {
        /// Which folder it is.
        what: &'static str,
        /// Where it was expected.
        path: PathBuf,
    },
    /// A sealed run log cannot be appended to (its key is not configured) or sealed.
    #[error("cannot write the run log: {0}")]
    SealedLog(#[from] crate::secrets::LogError),
    /// The run log cannot be opened or written.
    #[error("cannot write the run log {path}: {source}")]
    Log {
        /// The run log.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// The stdin file cannot be opened.
    #[error("cannot open the agent's stdin file {path}: {source}")]
    Stdin {
        /// The file.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// The kernel has Landlock but the rules could not be built.
    #[error("cannot prepare the Landlock rules for {path}: {reason}")]
    Landlock {
        /// The path whose rule failed (or the ruleset itself).
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// The runner's settings cannot start this environment (a missing image, a path a container
    /// runtime cannot mount).
    #[error("the {runtime} environment cannot run: {reason}")]
    Settings {
        /// The runtime concerned.
        runtime: ContainerRuntime,
        /// What is wrong.
        reason: String,
    },
    /// The container runtime's program is not installed.
    #[error("{runtime} is not installed: {program} not found in {searched}")]
    RuntimeMissing {
        /// The runtime.
        runtime: ContainerRuntime,
        /// The program looked for.
        program: String,
        /// The folders searched.
        searched: String,
    },
    /// Starting the process failed (program not found, confinement refused by the kernel).
    #[error("cannot start the agent {program}: {source}")]
    Spawn {
        /// The program of the process started (the agent or the sandbox).
        program: String,
        /// Why.
        source: io::Error,
    },
    /// The process would run as ade's own user outside a sandbox, which agents never do.
    #[error("agents never run as ade's own user (uid {uid}): {remedy}")]
    OwnUser {
        /// ade's user id.
        uid: u32,
        /// What to configure.
        remedy: String,
    },
    /// The agent's network is `off` or `allowlist` and ade cannot make it so (it cannot create
    /// a network namespace); the run does not start rather than run with the network open.
    #[error(
        "the agent's network is {network}, but {reason}: run ade as root, or give it \
         CAP_SYS_ADMIN and CAP_NET_ADMIN (AmbientCapabilities= in deploy/ade.service), or set \
         network = \"open\" in the agent's registration"
    )]
    Network {
        /// The network asked for.
        network: &'static str,
        /// What failed.
        reason: String,
    },
    /// The agent's worktree must stay read-only (a planner's) and the environment cannot make it
    /// so; the agent does not start rather than run with a writable worktree. Says what to
    /// configure.
    #[error("{0}")]
    ReadOnly(String),
    /// Waiting for the process failed; it was killed.
    #[error("cannot watch the agent process: {0}")]
    Wait(io::Error),
}

impl EnvError {
    /// Whether the cause lies in how the runner is set up rather than in the run: a program the
    /// agent user may not execute or that is missing, a folder it cannot enter, a container
    /// runtime that is absent or cannot run the environment. Fixing the setup makes the same run
    /// work, so such a run waits for the fix instead of failing its task.
    pub fn is_setup(&self) -> bool {
        match self {
            EnvError::Spawn { source, .. } => matches!(
                source.kind(),
                io::ErrorKind::PermissionDenied | io::ErrorKind::NotFound
            ),
            EnvError::Settings { .. }
            | EnvError::RuntimeMissing { .. }
            | EnvError::OwnUser { .. }
            | EnvError::ReadOnly(_)
            | EnvError::Network { .. } => true,
            _ => false,
        }
    }
}

/// Sees a process's output as it comes, every byte of it: the run log keeps at most its cap, and
/// a caller that needs more than the log holds (the real last lines of a step that flooded its
/// output) keeps it here.
pub trait OutputObserver: Send {
    /// Called with each chunk of output, in the order written; chunks split lines anywhere.
    fn observe(&mut self, chunk: &[u8]);
}

/// An observer the caller keeps a handle on, so it can read what was observed after the run.
pub type SharedObserver = Arc<Mutex<dyn OutputObserver>>;

/// How a process other than an agent is run by [`run_watched`]: how the run log names it, and
/// who else sees its output.
#[derive(Clone, Default)]
pub struct Watch {
    /// The word the run log's notes use for the process (`the step exited with code 1`);
    /// `agent` when empty.
    pub who: &'static str,
    /// Sees all of the output as it comes.
    pub observer: Option<SharedObserver>,
}

impl fmt::Debug for Watch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Watch")
            .field("who", &self.who)
            .field("observer", &self.observer.is_some())
            .finish()
    }
}

/// Runs one agent to its end in its environment and reports how it ended. Output goes to
/// `inv.log` (appended), preceded by notes on how the agent is confined and followed by a line on
/// how it ended. Timeout and `cancel` stop the agent's whole process group: SIGTERM, then SIGKILL
/// after `opts.kill_grace`; processes the agent left behind are killed when it exits.
pub async fn run_agent(
    inv: &Invocation,
    opts: &EnvOptions,
    cancel: CancellationToken,
) -> Result<AgentReport, EnvError> {
    run_watched(inv, opts, cancel, Watch::default()).await
}

/// [`run_agent`] for a process that runs in an agent's environment and confinement but is not
/// the agent (a verification step): the run log's notes name it `watch.who`, and
/// `watch.observer` sees all of its output, beyond the log's cap too.
pub async fn run_watched(
    inv: &Invocation,
    opts: &EnvOptions,
    cancel: CancellationToken,
    watch: Watch,
) -> Result<AgentReport, EnvError> {
    let who = if watch.who.is_empty() {
        "agent"
    } else {
        watch.who
    };
    if inv.argv.is_empty() {
        return Err(EnvError::NoProgram);
    }
    require_path("worktree", &inv.worktree)?;
    require_path("scratch folder", &inv.scratch)?;
    for grant in &inv.extra_paths {
        require_path("extra path", &grant.path)?;
    }
    let mut log = log::RunLog::open(&inv.log, inv.output_cap, &opts.logs).await?;
    log.observe(watch.observer);
    let isolation = isolate::prepare(inv, opts)?;
    let with_proxy = isolation.invocation(inv);
    let inv = with_proxy.as_ref().unwrap_or(inv);
    let mut launch = match inv.environment {
        Environment::Worktree | Environment::Main => process::confined(inv, opts)?,
        Environment::Container => container::launch(inv, opts)?,
    };
    launch.netns = isolation.handle();
    for line in &inv.preparation {
        log.note(line).await?;
    }
    let mut notes = vec![format!("environment: {}", inv.environment.as_str())];
    notes.extend(launch.notes.iter().cloned());
    notes.push(isolation.note().to_string());
    for note in &notes {
        log.note(note).await?;
    }
    let outcome = match process::supervise(launch, inv, opts, cancel, log, who).await {
        Ok(outcome) => outcome,
        Err(error) => {
            // The run log is the operator's first stop: it says why there is no agent output.
            if let Ok(mut log) = log::RunLog::open(&inv.log, 0, &opts.logs).await {
                let _ = log
                    .note(&format!("the {who} could not be run: {error}"))
                    .await;
                let _ = log.flush().await;
            }
            return Err(error);
        }
    };
    notes.extend(outcome.notes);
    let (egress_lines, egress) = isolation.finish().await;
    if !egress_lines.is_empty() {
        let mut log = log::RunLog::open(&inv.log, 0, &opts.logs).await?;
        for line in &egress_lines {
            log.note(line).await?;
        }
        log.flush().await?;
    }
    Ok(AgentReport {
        ending: outcome.ending,
        duration: outcome.duration,
        output_seen: outcome.output_seen,
        output_kept: outcome.output_kept,
        notes,
        egress,
    })
}

/// Appends lines of ade's own to a run log, each starting with `[ade] ` like the notes the
/// environments write, so a caller's lines between processes read like theirs. Line breaks in a
/// line are escaped: one call cannot forge a second line. `logs` says whether a new log is
/// sealed.
pub async fn append_notes(logs: &LogFiles, log: &Path, lines: &[String]) -> Result<(), EnvError> {
    let mut log = log::RunLog::open(log, 0, logs).await?;
    for line in lines {
        log.note(&line.replace('\r', "\\r").replace('\n', "\\n"))
            .await?;
    }
    log.flush().await
}

fn require_path(what: &'static str, path: &Path) -> Result<(), EnvError> {
    if path.is_absolute() && path.exists() {
        Ok(())
    } else {
        Err(EnvError::MissingPath {
            what,
            path: path.to_path_buf(),
        })
    }
}
