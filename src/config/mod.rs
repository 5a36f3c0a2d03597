//! `ade.toml`: the operator's configuration, read once at start, validated whole, and handed down
//! as the typed values below.
//!
//! [`Config::load`] reads the file and the `ADE_<SECTION>__<KEY>` overrides into the raw shape
//! (`raw`), `resolve` applies defaults and checks and reads secret files, and
//! [`Config::render_redacted`] shows the result for `ade check-config`. docs/configuration.md is
//! the operator's side of the same contract.

mod agents;
mod check;
mod error;
mod load;
mod one_or_many;
mod raw;
mod render;
mod resolve;
mod runner;
#[cfg(test)]
mod tests;

pub use error::{ConfigError, Origin};

pub use crate::forge::gitea::GiteaConfig;
pub use crate::forge::github::GithubConfig;
pub use crate::jobs::JobsConfig;
pub use crate::runner::RunnerConfig;
pub use crate::runner::env::ContainerRuntime;
use crate::secret::Secret;
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
    /// `[audit]`: the audit log's folder, files, checkpoints and signing key.
    pub audit: crate::audit::AuditConfig,
    /// `[retention]`: the server's own retention periods and how often ade purges.
    pub retention: crate::retention::RetentionConfig,
    /// `[reconcile]`: how often ade looks on the forge for what no delivery brought.
    pub reconcile: ReconcileConfig,
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
    /// `[secrets]`: the master key that seals the secret store (and run logs, when asked).
    pub secrets: crate::secrets::SecretsConfig,
    /// `[metrics]`: the bearer token `/metrics` asks for, and its own address.
    pub metrics: crate::web::MetricsConfig,
    /// `[web]`: the dashboard's sign-in.
    pub web: crate::web::WebConfig,
    /// Every file this configuration read a secret from, with the key that named it: what
    /// `ade doctor` checks is readable by its owner alone.
    pub secret_files: Vec<SecretFile>,
}

/// `ade.toml`'s `[reconcile]`: the sweep that reads the forge for comments, reviews and pull
/// request states whose deliveries were lost (docs/operations.md).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReconcileConfig {
    /// How often a sweep runs; `None` when sweeps are off (`interval_secs = 0`).
    pub every: Option<Duration>,
    /// How old a comment may be and still be acted on.
    pub max_age: Duration,
}

impl Default for ReconcileConfig {
    fn default() -> ReconcileConfig {
        ReconcileConfig {
            every: Some(Duration::from_secs(300)),
            max_age: Duration::from_secs(86_400),
        }
    }
}

/// A file holding a secret, as the configuration names it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SecretFile {
    /// The key that names it (`gitea.token_file`, `agents.claude.secrets.ANTHROPIC_API_KEY`).
    pub key: String,
    /// The file.
    pub path: PathBuf,
}

impl Config {
    /// The forge credentials ade holds in memory: both forges' webhook secrets and the Gitea
    /// token (the GitHub App's key stays in its file). No agent sees them and no audit record
    /// carries them.
    pub fn forge_secrets(&self) -> impl Iterator<Item = &Secret> {
        self.github
            .webhook_secrets
            .iter()
            .chain(&self.gitea.webhook_secrets)
            .chain(&self.gitea.token)
            .chain(self.web.clients.iter().map(|client| &client.client_secret))
    }

    /// The masker every audit record passes through, whichever command writes it: the forge
    /// credentials, every agent secret and the metrics token this configuration holds
    /// (docs/audit.md).
    pub fn audit_masker(&self) -> crate::audit::Masker {
        let agents = self
            .agents
            .iter()
            .flat_map(|agent| agent.secrets.iter().filter_map(|s| s.value.as_ref()));
        crate::audit::Masker::new(
            self.forge_secrets()
                .chain(agents)
                .chain(&self.metrics.token)
                .map(|secret| secret.expose().to_owned()),
        )
    }
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
    /// How long any client may take to send a request's head (and may stay quiet between two
    /// requests on one connection); slower is disconnected.
    pub header_timeout: Duration,
    /// Most webhook bodies read and verified at once, before their signature is checked; more
    /// get 503 with `Retry-After` and nothing of theirs is read.
    pub max_unverified_bodies: usize,
    /// How many failed signatures one source address may send; over it, its webhooks get 429
    /// before their body is read. `None`: no such limit.
    pub failed_signatures: Option<crate::ingress::FailureLimit>,
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
