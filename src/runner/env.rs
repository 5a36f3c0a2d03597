//! Environments: where an agent process runs (`worktree`, `container`, `main`). The agent registry
//! ([`super::agent`]) turns a registered agent and a run into an [`Invocation`]; an environment
//! starts it, confines it, streams its output to the run log, and stops it on timeout or cancel.

use std::path::PathBuf;
use std::time::Duration;

pub use crate::policy::Environment;

/// Everything needed to start one agent process. Nothing is inherited from ade's own process:
/// `env` is the agent's whole environment.
#[derive(Clone, Debug)]
pub struct Invocation {
    /// Program and arguments, placeholders already filled in; never passed through a shell.
    pub argv: Vec<String>,
    /// What the agent reads on stdin.
    pub stdin: StdinSource,
    /// The complete environment (ADE_* variables, HOME, PATH, the declared secrets).
    pub env: Vec<(String, String)>,
    /// The worktree the agent works in (its current folder).
    pub worktree: PathBuf,
    /// The run's scratch folder (HOME and tool state live under it); writable by the agent.
    pub scratch: PathBuf,
    /// Wall-clock limit: SIGTERM to the process group, then SIGKILL.
    pub timeout: Duration,
    /// Most bytes of output kept in the run log; the rest is counted and dropped.
    pub output_cap: u64,
    /// The run log file that output is streamed to.
    pub log: PathBuf,
    /// Whether the agent may use the network (container environments enforce it).
    pub network: bool,
    /// Where it runs.
    pub environment: Environment,
}

/// What an agent reads on stdin.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StdinSource {
    /// Nothing: /dev/null (some agents wait forever on an open stdin).
    Null,
    /// The contents of this file (the prompt, for agents that take it on stdin).
    File(PathBuf),
}
