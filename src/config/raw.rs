//! The shape of `ade.toml` as written: every key optional, unknown keys refused. Defaults and
//! checks live in `resolve`, so that one place says what a missing key means.

use serde::Deserialize;

use super::agents::RawAgent;
use super::one_or_many::OneOrMany;
use super::runner::RawRunner;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default, expecting = "a table of sections")]
pub(super) struct RawConfig {
    pub server: RawServer,
    pub database: RawDatabase,
    pub storage: RawStorage,
    pub audit: RawAudit,
    pub retention: RawRetention,
    pub reconcile: RawReconcile,
    pub github: RawGithub,
    pub gitea: RawGitea,
    pub jobs: RawJobs,
    pub policy: crate::policy::ServerPolicy,
    pub runner: RawRunner,
    pub agents: std::collections::BTreeMap<String, RawAgent>,
    pub secrets: RawSecrets,
    pub metrics: RawMetrics,
    pub web: RawWeb,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default, expecting = "a [server] table")]
pub(super) struct RawServer {
    pub listen: Option<String>,
    pub public_url: Option<String>,
    pub max_body_bytes: Option<u64>,
    pub shutdown_grace_secs: Option<u64>,
    pub body_timeout_secs: Option<u64>,
    pub header_timeout_secs: Option<u64>,
    pub max_unverified_bodies: Option<u64>,
    pub failed_signatures_per_address: Option<u32>,
    pub failed_signatures_window_secs: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default, expecting = "a [database] table")]
pub(super) struct RawDatabase {
    pub url: Option<String>,
    pub max_connections: Option<u32>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default, expecting = "a [storage] table")]
pub(super) struct RawStorage {
    pub data_dir: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default, expecting = "an [audit] table")]
pub(super) struct RawAudit {
    pub dir: Option<String>,
    pub max_file_bytes: Option<u64>,
    pub checkpoint_interval_secs: Option<u64>,
    pub checkpoints_file: Option<String>,
    pub signing_key_file: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default, expecting = "a [retention] table")]
pub(super) struct RawRetention {
    pub purge_interval_secs: Option<u64>,
    pub completed_jobs_days: Option<u32>,
    pub failed_jobs_days: Option<u32>,
    pub audit_days: Option<u32>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default, expecting = "a [reconcile] table")]
pub(super) struct RawReconcile {
    pub interval_secs: Option<u64>,
    pub max_age_secs: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default, expecting = "a [github] table")]
pub(super) struct RawGithub {
    pub app_id: Option<u64>,
    pub private_key_file: Option<String>,
    pub webhook_secret: Option<OneOrMany>,
    pub webhook_secret_file: Option<OneOrMany>,
    pub api_url: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default, expecting = "a [gitea] table")]
pub(super) struct RawGitea {
    pub url: Option<String>,
    pub token: Option<String>,
    pub token_file: Option<String>,
    pub webhook_secret: Option<OneOrMany>,
    pub webhook_secret_file: Option<OneOrMany>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default, expecting = "a [jobs] table")]
pub(super) struct RawJobs {
    pub workers: Option<usize>,
    pub max_attempts: Option<u32>,
    pub backoff_base_ms: Option<u64>,
    pub backoff_max_ms: Option<u64>,
    pub lease_secs: Option<u64>,
    pub poll_interval_ms: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default, expecting = "a [secrets] table")]
pub(super) struct RawSecrets {
    pub master_key_file: Option<String>,
    pub previous_master_key_files: Option<OneOrMany>,
    pub encrypt_run_logs: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default, expecting = "a [metrics] table")]
pub(super) struct RawMetrics {
    pub token: Option<String>,
    pub token_file: Option<String>,
    pub listen: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default, expecting = "a [web] table")]
pub(super) struct RawWeb {
    pub public: Option<bool>,
    pub session_hours: Option<u64>,
    pub access_cache_secs: Option<u64>,
    pub github_client_id: Option<String>,
    pub github_client_secret: Option<String>,
    pub github_client_secret_file: Option<String>,
    pub github_url: Option<String>,
    pub gitea_client_id: Option<String>,
    pub gitea_client_secret: Option<String>,
    pub gitea_client_secret_file: Option<String>,
}
