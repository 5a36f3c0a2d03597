//! `ade.toml`: the operator's configuration, read once at start, validated whole, and handed down
//! as the typed values below.
//!
//! [`Config::load`] reads the file and the `ADE_<SECTION>__<KEY>` overrides into the raw shape
//! (`raw`), `resolve` applies defaults and checks and reads secret files, and
//! [`Config::render_redacted`] shows the result for `ade check-config`. docs/configuration.md is
//! the operator's side of the same contract.

mod agents;
mod error;
mod load;
mod raw;
mod render;
mod resolve;
mod runner;
mod secret;
#[cfg(test)]
mod tests;

pub use error::{ConfigError, Origin};
pub use secret::Secret;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// The effective configuration of one ade process.
#[derive(Clone, Debug)]
pub struct Config {
    /// `[server]`: the HTTP listener.
    pub server: ServerConfig,
    /// `[database]`: where deliveries, events and jobs are stored.
    pub database: DatabaseConfig,
    /// `[storage]`: where ade keeps files of its own.
    pub storage: StorageConfig,
    /// `[github]`: the GitHub App.
    pub github: GithubConfig,
    /// `[gitea]`: the Gitea or Forgejo instance.
    pub gitea: GiteaConfig,
    /// `[jobs]`: the durable job queue's workers, leases and retries.
    pub jobs: JobsConfig,
    /// `[policy]`: the server's policy defaults and the limits no repository may loosen.
    pub policy: crate::policy::ServerPolicy,
    /// `[runner]`: where and how the embedded runner carries out runs.
    pub runner: RunnerConfig,
    /// `[agents.<name>]`: the agents this server registers, by name.
    pub agents: Vec<crate::runner::agent::Agent>,
}

/// `[server]`.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    /// Address the HTTP server binds.
    pub listen: SocketAddr,
    /// The URL forges and users reach ade at, when it differs from `listen`; http(s), kept
    /// without a trailing `/`.
    pub public_url: Option<String>,
    /// Largest webhook body accepted; bigger ones get 413.
    pub max_body_bytes: usize,
    /// How long SIGTERM waits for requests in flight and running jobs before exiting.
    pub shutdown_grace: Duration,
    /// How long a webhook's body may take to arrive after its headers; slower gets 408.
    pub body_timeout: Duration,
}

/// `[database]`.
#[derive(Clone, Debug)]
pub struct DatabaseConfig {
    /// `sqlite://…` or `postgres://…`; the default is an SQLite file in the data dir.
    pub url: Secret,
    /// Most connections the pool opens (PostgreSQL; SQLite uses one writer and a few readers).
    pub max_connections: u32,
}

/// `[storage]`.
#[derive(Clone, Debug)]
pub struct StorageConfig {
    /// Folder for the SQLite database and, later, mirrors, worktrees and logs.
    pub data_dir: PathBuf,
}

/// `[github]`.
#[derive(Clone, Debug)]
pub struct GithubConfig {
    /// The GitHub App id.
    pub app_id: Option<u64>,
    /// PEM file of the GitHub App's private key; checked readable at load, read again by the
    /// GitHub client. Set exactly when `app_id` is.
    pub private_key_file: Option<PathBuf>,
    /// Every webhook secret currently accepted (more than one during rotation). Empty means
    /// `/webhooks/github` refuses every delivery.
    pub webhook_secrets: Vec<Secret>,
    /// REST API root: https://api.github.com, `https://HOST/api/v3` for Enterprise Server; kept
    /// without a trailing `/`.
    pub api_url: String,
}

/// `[gitea]`.
#[derive(Clone, Debug)]
pub struct GiteaConfig {
    /// Base URL of the Gitea or Forgejo instance; http(s), kept without a trailing `/`.
    pub url: Option<String>,
    /// The bot user's API token.
    pub token: Option<Secret>,
    /// Every webhook secret currently accepted. Empty means `/webhooks/gitea` refuses everything.
    pub webhook_secrets: Vec<Secret>,
}

/// `[jobs]`.
#[derive(Clone, Debug)]
pub struct JobsConfig {
    /// Jobs one process runs at once.
    pub workers: usize,
    /// Attempts before a job (and its delivery) is marked failed.
    pub max_attempts: u32,
    /// First retry delay; each further retry doubles it, with jitter.
    pub backoff_base: Duration,
    /// Longest retry delay.
    pub backoff_max: Duration,
    /// How long a claimed job stays leased without a heartbeat.
    pub lease: Duration,
    /// Fallback poll interval when no wake-up arrives.
    pub poll_interval: Duration,
}

/// `[runner]`.
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

/// What makes the sandbox of a `container` run (one type for the configuration and the runner).
pub use crate::runner::env::ContainerRuntime;
