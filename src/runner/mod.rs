//! The runner: carries out runs. For each run it brings the repository's mirror up to date, takes
//! a worktree at the spec's pinned base commit, runs the task's agent in its environment, commits
//! what the agent changed, checks the change (protected paths, symlinks, DLP), pushes the branch
//! and runs the policy's verification steps on it. The coordinator turns the outcome into an
//! approval (a pull request) and its `ade/verify` check.

pub mod agent;
pub mod changes;
pub mod commit;
pub mod dlp;
pub mod env;
pub mod git;
pub mod guard;
pub mod local;
pub mod mirror;
pub mod order;
pub mod verify;
pub mod workspace;

pub use order::{
    DependencyResult, Fault, Forget, Forgotten, MAX_PLAN_OUTPUT_BYTES, PlanComment, PlanOrder,
    PlanOutcome, PlanOutput, Removed, RunOrder, RunOutcome, RunProgress, RunReport, Runner, Touch,
    TouchedFile, Unscanned, UnscannedFile, VerifyOrder, VerifyOutcome, WarmOrder,
};

use env::ContainerRuntime;
use std::path::PathBuf;

/// `ade.toml`'s `[runner]`, as the runner takes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunnerConfig {
    /// Folder for mirrors, worktrees, scratch folders and run logs.
    pub workdir: PathBuf,
    /// Runs this runner carries out at once.
    pub max_parallel: usize,
    /// The git program ade's own git commands use.
    pub git: String,
    /// The folders of the `PATH` agents get, in order; each absolute.
    pub path: Vec<PathBuf>,
    /// Folders outside the system folders (`/usr`, `/opt`, ...) where agent programs are
    /// installed: agents may read them and run programs from them in every environment.
    pub agent_dirs: Vec<PathBuf>,
    /// The unprivileged user agents run as when ade runs as root.
    pub agent_user: Option<String>,
    /// What `container` environments are made with.
    pub container_runtime: ContainerRuntime,
    /// Memory limit of a sandbox, in bytes; `None` for no limit.
    pub memory_max: Option<u64>,
    /// Process limit of a sandbox; `None` for no limit.
    pub pids_max: Option<u64>,
    /// Whether agents in containers may use the network.
    pub network: bool,
}

impl RunnerConfig {
    /// The `PATH` value agents get.
    pub fn path_var(&self) -> String {
        self.path
            .iter()
            .map(|dir| dir.to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join(":")
    }
}
