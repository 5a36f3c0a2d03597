//! From the raw shape to the typed [`Config`]: every default and every check in one place, and
//! the secret files read, so that a process that starts has a configuration it can use whole.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use std::collections::BTreeMap;

use super::agents::{self, ForgeSecrets};
use super::check::{Check, Origins};
use super::one_or_many::OneOrMany;
use super::raw::{
    RawAudit, RawConfig, RawDatabase, RawGitea, RawGithub, RawJobs, RawMetrics, RawReconcile,
    RawRetention, RawSecrets, RawServer, RawWeb,
};
use super::runner;
use super::{
    Config, ConfigError, DatabaseConfig, GiteaConfig, GithubConfig, JobsConfig, ReconcileConfig,
    Secret, SecretFile, ServerConfig, StorageConfig,
};
use crate::forge::ForgeKind;
use crate::ingress::FailureLimit;
use crate::retention::RetentionConfig;
use crate::runner::agent::SecretSource;
use crate::secrets::{Keyring, MasterKey, SecretsConfig};
use crate::web::{MetricsConfig, OAuthClient, WebConfig};
use std::sync::Arc;

const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
/// GitHub's own cap on a webhook payload.
const DEFAULT_MAX_BODY_BYTES: u64 = 25 * 1024 * 1024;
const DEFAULT_SHUTDOWN_GRACE_SECS: u64 = 30;
const DEFAULT_BODY_TIMEOUT_SECS: u64 = 30;
/// Forges send a request's head in one go; ten seconds leaves room for a slow network.
const DEFAULT_HEADER_TIMEOUT_SECS: u64 = 10;
/// With 25 MiB bodies, at most 1.6 GiB of memory held by requests nobody has authenticated.
const DEFAULT_MAX_UNVERIFIED_BODIES: u64 = 64;
const DEFAULT_FAILED_SIGNATURES_PER_ADDRESS: u32 = 30;
const DEFAULT_FAILED_SIGNATURES_WINDOW_SECS: u64 = 600;
const DEFAULT_MAX_CONNECTIONS: u32 = 10;
const DEFAULT_DATA_DIR: &str = "./ade-data";
const DEFAULT_GITHUB_API_URL: &str = "https://api.github.com";
/// A sign-in lasts a week unless `web.session_hours` says otherwise.
const DEFAULT_SESSION_HOURS: u64 = 7 * 24;
/// Longer sessions would outlive most forges' own.
const MAX_SESSION_HOURS: u64 = 90 * 24;
/// Longer would let a user whose access was taken away read on for too long.
const MAX_ACCESS_CACHE_SECS: u64 = 300;
/// Shorter leases expire while a healthy worker is between heartbeats.
const MIN_LEASE_SECS: u64 = 5;
const DEFAULT_AUDIT_FILE_BYTES: u64 = 64 * 1024 * 1024;
const DEFAULT_CHECKPOINT_SECS: u64 = 600;

/// `env` is ade's whole environment, where agents' `env = "VARIABLE"` secrets are read.
pub(super) fn resolve(
    raw: RawConfig,
    origins: &Origins,
    env: &BTreeMap<String, String>,
) -> Result<Config, ConfigError> {
    let check = Check::new(origins);
    let storage = storage(&check, raw.storage.data_dir)?;
    let mut secret_files = files_named(&raw.github, &raw.gitea, &raw.metrics);
    secret_files.extend(web_files(&raw.web));
    let github = github(&check, raw.github)?;
    let gitea = gitea(&check, raw.gitea)?;
    let server = server(&check, raw.server)?;
    let web = web(&check, raw.web, &server, &github, &gitea)?;
    let forge = ForgeSecrets {
        values: github
            .webhook_secrets
            .iter()
            .chain(&gitea.webhook_secrets)
            .chain(&gitea.token)
            .chain(web.clients.iter().map(|client| &client.client_secret))
            .map(Secret::expose)
            .collect(),
        files: github
            .private_key_file
            .iter()
            .map(PathBuf::as_path)
            .collect(),
    };
    let agents = agents::agents(&check, raw.agents, env, &forge)?;
    for agent in &agents {
        for secret in &agent.secrets {
            if let SecretSource::File(path) = &secret.source {
                secret_files.push(SecretFile {
                    key: format!("agents.{}.secrets.{}", agent.name, secret.name),
                    path: PathBuf::from(path),
                });
            }
        }
    }
    let secrets = secrets(&check, raw.secrets)?;
    let key_files = secrets
        .master_key_file
        .iter()
        .map(|path| ("secrets.master_key_file", path))
        .chain(
            secrets
                .previous_master_key_files
                .iter()
                .map(|path| ("secrets.previous_master_key_files", path)),
        );
    secret_files.extend(key_files.map(|(key, path)| SecretFile {
        key: key.to_owned(),
        path: path.clone(),
    }));
    let mut policy = raw.policy;
    if policy.defaults.agents.default.is_none()
        && let [only] = agents.as_slice()
        && policy
            .limits
            .agents
            .as_ref()
            .is_none_or(|allowed| allowed.contains(&only.name))
    {
        // One registered agent is the one tasks run, unless the operator names a default.
        policy.defaults.agents.default = Some(only.name.clone());
    }
    Ok(Config {
        metrics: metrics(&check, raw.metrics, &server)?,
        server,
        database: database(&check, raw.database, &storage)?,
        audit: audit(&check, raw.audit, &storage)?,
        retention: retention(&check, raw.retention)?,
        reconcile: reconcile(&check, raw.reconcile)?,
        jobs: jobs(&check, raw.jobs)?,
        policy: server_policy(&check, policy)?,
        runner: runner::runner(&check, raw.runner, &storage)?,
        github,
        gitea,
        agents,
        storage,
        secrets,
        secret_files,
        web,
    })
}

/// The files the forge and metrics sections name that hold secrets, before they are read.
fn files_named(github: &RawGithub, gitea: &RawGitea, metrics: &RawMetrics) -> Vec<SecretFile> {
    let mut files = Vec::new();
    let mut add = |key: &str, paths: &[String]| {
        files.extend(paths.iter().map(|path| SecretFile {
            key: key.to_owned(),
            path: PathBuf::from(path),
        }));
    };
    add(
        "github.private_key_file",
        github.private_key_file.as_slice(),
    );
    if let Some(OneOrMany(paths)) = &github.webhook_secret_file {
        add("github.webhook_secret_file", paths);
    }
    add("gitea.token_file", gitea.token_file.as_slice());
    if let Some(OneOrMany(paths)) = &gitea.webhook_secret_file {
        add("gitea.webhook_secret_file", paths);
    }
    add("metrics.token_file", metrics.token_file.as_slice());
    files
}

/// `[secrets]`: the key files are read now, so a missing, unreadable or malformed key stops ade
/// at start naming the file; sealing run logs needs a key.
fn secrets(check: &Check, raw: RawSecrets) -> Result<SecretsConfig, ConfigError> {
    const KEY: &str = "secrets.master_key_file";
    const PREVIOUS: &str = "secrets.previous_master_key_files";
    let master_key_file = match raw.master_key_file {
        Some(path) if path.is_empty() => return Err(check.invalid(KEY, "is an empty path")),
        path => path.map(PathBuf::from),
    };
    let previous: Vec<PathBuf> = raw
        .previous_master_key_files
        .map(|OneOrMany(paths)| paths.into_iter().map(PathBuf::from).collect())
        .unwrap_or_default();
    if !previous.is_empty() && master_key_file.is_none() {
        return Err(check.invalid(
            PREVIOUS,
            format!("needs {KEY}: previous keys only open what they sealed, the current key seals"),
        ));
    }
    if previous.iter().any(|p| p.as_os_str().is_empty()) {
        return Err(check.invalid(PREVIOUS, "holds an empty path"));
    }
    let current = match &master_key_file {
        Some(path) => Some((
            path.clone(),
            MasterKey::read_file(path).map_err(|err| check.invalid(KEY, err.to_string()))?,
        )),
        None => None,
    };
    let mut earlier = Vec::with_capacity(previous.len());
    for path in &previous {
        let key =
            MasterKey::read_file(path).map_err(|err| check.invalid(PREVIOUS, err.to_string()))?;
        earlier.push((path.clone(), key));
    }
    let keys = Keyring::of(current, earlier);
    let encrypt_run_logs = raw.encrypt_run_logs.unwrap_or(false);
    if encrypt_run_logs && master_key_file.is_none() {
        return Err(check.invalid(
            "secrets.encrypt_run_logs",
            format!("needs {KEY} (or ADE_MASTER_KEY_FILE): logs are sealed under the master key"),
        ));
    }
    Ok(SecretsConfig {
        master_key_file,
        previous_master_key_files: previous,
        encrypt_run_logs,
        keys: Arc::new(keys),
    })
}

/// The server policy, checked whole: its defaults must be a valid repository policy and lie
/// within its own limits. The first problem is reported, naming its key under `policy.`.
fn server_policy(
    check: &Check,
    policy: crate::policy::ServerPolicy,
) -> Result<crate::policy::ServerPolicy, ConfigError> {
    match policy.check() {
        Ok(()) => Ok(policy),
        Err(problems) => {
            let first = &problems[0];
            let key = first.key.as_deref().unwrap_or("(section)");
            Err(check.invalid(&format!("policy.{key}"), first.message.clone()))
        }
    }
}

/// `[audit]`: the folder defaults to `<data_dir>/audit`; the checkpoints file and the signing key
/// must lie outside it, since a checkpoint kept beside the records it covers would be cut with them.
fn audit(
    check: &Check,
    raw: RawAudit,
    storage: &StorageConfig,
) -> Result<crate::audit::AuditConfig, ConfigError> {
    let dir = raw
        .dir
        .map(PathBuf::from)
        .unwrap_or_else(|| storage.data_dir.join("audit"));
    let checkpoints_file = raw
        .checkpoints_file
        .map(PathBuf::from)
        .unwrap_or_else(|| storage.data_dir.join("audit-checkpoints.jsonl"));
    let signing_key_configured = raw.signing_key_file.is_some();
    let signing_key_file = raw
        .signing_key_file
        .map(PathBuf::from)
        .unwrap_or_else(|| storage.data_dir.join("audit-signing-key.pem"));
    for (key, path) in [
        ("audit.checkpoints_file", &checkpoints_file),
        ("audit.signing_key_file", &signing_key_file),
    ] {
        if path.starts_with(&dir) {
            return Err(check.invalid(
                key,
                format!(
                    "must lie outside the audit folder {} (audit.dir)",
                    dir.display()
                ),
            ));
        }
    }
    let max_file_bytes = check.at_least(
        "audit.max_file_bytes",
        raw.max_file_bytes.unwrap_or(DEFAULT_AUDIT_FILE_BYTES),
        4096,
    )?;
    let every = check.at_least(
        "audit.checkpoint_interval_secs",
        raw.checkpoint_interval_secs
            .unwrap_or(DEFAULT_CHECKPOINT_SECS),
        1,
    )?;
    Ok(crate::audit::AuditConfig {
        dir,
        max_file_bytes,
        checkpoint_every: Duration::from_secs(every),
        checkpoints_file,
        signing_key_file,
        signing_key_configured,
    })
}

/// `[retention]`: the server's own periods, and how often ade purges (at least once a minute
/// would be wasteful; at most daily would keep data a day past its period).
fn retention(check: &Check, raw: RawRetention) -> Result<RetentionConfig, ConfigError> {
    let default = RetentionConfig::default();
    let every = raw
        .purge_interval_secs
        .unwrap_or(default.purge_every.as_secs());
    let every = check.at_least("retention.purge_interval_secs", every, 60)?;
    if every > 86_400 {
        return Err(check.invalid(
            "retention.purge_interval_secs",
            format!("must be at most 86400 (a day), not {every}"),
        ));
    }
    Ok(RetentionConfig {
        purge_every: Duration::from_secs(every),
        completed_jobs_days: raw
            .completed_jobs_days
            .unwrap_or(default.completed_jobs_days),
        failed_jobs_days: raw.failed_jobs_days.unwrap_or(default.failed_jobs_days),
        audit_days: raw.audit_days.unwrap_or(default.audit_days),
    })
}

/// `[reconcile]`: a sweep at most every 10 s (more would spend the forge's rate limit on reads)
/// and at least daily, or off with 0; comments from the last minute to the last week.
fn reconcile(check: &Check, raw: RawReconcile) -> Result<ReconcileConfig, ConfigError> {
    let default = ReconcileConfig::default();
    let every = match raw.interval_secs {
        None => default.every,
        Some(0) => None,
        Some(secs) => {
            let secs = check.at_least("reconcile.interval_secs", secs, 10)?;
            if secs > 86_400 {
                return Err(check.invalid(
                    "reconcile.interval_secs",
                    format!("must be at most 86400 (a day), or 0 for no sweeps, not {secs}"),
                ));
            }
            Some(Duration::from_secs(secs))
        }
    };
    let max_age = raw.max_age_secs.unwrap_or(default.max_age.as_secs());
    let max_age = check.at_least("reconcile.max_age_secs", max_age, 60)?;
    if max_age > 7 * 86_400 {
        return Err(check.invalid(
            "reconcile.max_age_secs",
            format!("must be at most 604800 (a week), not {max_age}"),
        ));
    }
    Ok(ReconcileConfig {
        every,
        max_age: Duration::from_secs(max_age),
    })
}

fn server(check: &Check, raw: RawServer) -> Result<ServerConfig, ConfigError> {
    let listen = raw.listen.as_deref().unwrap_or(DEFAULT_LISTEN);
    let listen: SocketAddr = listen
        .parse()
        .map_err(|err| check.invalid("server.listen", format!("{err}")))?;
    let public_url = raw
        .public_url
        .map(|url| check.http_url("server.public_url", url))
        .transpose()?;
    let max_body_bytes = check.at_least(
        "server.max_body_bytes",
        raw.max_body_bytes.unwrap_or(DEFAULT_MAX_BODY_BYTES),
        1,
    )?;
    let max_body_bytes = usize::try_from(max_body_bytes)
        .map_err(|_| check.invalid("server.max_body_bytes", "is too large for this machine"))?;
    let shutdown_grace = raw
        .shutdown_grace_secs
        .unwrap_or(DEFAULT_SHUTDOWN_GRACE_SECS);
    let body_timeout = check.at_least(
        "server.body_timeout_secs",
        raw.body_timeout_secs.unwrap_or(DEFAULT_BODY_TIMEOUT_SECS),
        1,
    )?;
    let header_timeout = check.at_least(
        "server.header_timeout_secs",
        raw.header_timeout_secs
            .unwrap_or(DEFAULT_HEADER_TIMEOUT_SECS),
        1,
    )?;
    let max_unverified_bodies = check.at_least(
        "server.max_unverified_bodies",
        raw.max_unverified_bodies
            .unwrap_or(DEFAULT_MAX_UNVERIFIED_BODIES),
        1,
    )?;
    let max_unverified_bodies = usize::try_from(max_unverified_bodies)
        .ok()
        .filter(|n| *n <= MAX_UNVERIFIED_BODIES)
        .ok_or_else(|| {
            check.invalid(
                "server.max_unverified_bodies",
                format!("must be at most {MAX_UNVERIFIED_BODIES}"),
            )
        })?;
    let window = check.at_least(
        "server.failed_signatures_window_secs",
        raw.failed_signatures_window_secs
            .unwrap_or(DEFAULT_FAILED_SIGNATURES_WINDOW_SECS),
        1,
    )?;
    let failures = raw
        .failed_signatures_per_address
        .unwrap_or(DEFAULT_FAILED_SIGNATURES_PER_ADDRESS);
    Ok(ServerConfig {
        listen,
        public_url,
        max_body_bytes,
        shutdown_grace: Duration::from_secs(shutdown_grace),
        body_timeout: Duration::from_secs(body_timeout),
        header_timeout: Duration::from_secs(header_timeout),
        max_unverified_bodies,
        failed_signatures: (failures > 0).then(|| FailureLimit {
            failures,
            window: Duration::from_secs(window),
        }),
    })
}

/// More places than this would let unverified bodies hold more memory than any machine has.
const MAX_UNVERIFIED_BODIES: usize = 100_000;

/// `[metrics]`: the token is read now, and an address of its own must not be the main one.
fn metrics(
    check: &Check,
    raw: RawMetrics,
    server: &ServerConfig,
) -> Result<MetricsConfig, ConfigError> {
    let token = match (raw.token, raw.token_file) {
        (Some(_), Some(_)) => {
            return Err(check.invalid(
                "metrics.token_file",
                "set either metrics.token or metrics.token_file, not both",
            ));
        }
        (Some(token), None) if token.trim().is_empty() => {
            return Err(check.invalid("metrics.token", "must not be empty"));
        }
        (Some(token), None) => Some(("metrics.token", Secret::new(token.trim()))),
        (None, Some(path)) => Some((
            "metrics.token_file",
            token_file(check, "metrics.token_file", &path)?,
        )),
        (None, None) => None,
    };
    if let Some((key, token)) = &token
        && token
            .expose()
            .chars()
            .any(|c| c.is_whitespace() || c.is_control())
    {
        // A scraper sends it as `Authorization: Bearer <token>`, one word.
        return Err(check.invalid(key, "must be one word, without spaces"));
    }
    let token = token.map(|(_, token)| token);
    let listen = raw
        .listen
        .map(|listen| {
            let addr: SocketAddr = listen
                .parse()
                .map_err(|err| check.invalid("metrics.listen", format!("{err}")))?;
            if addr == server.listen && addr.port() != 0 {
                return Err(check.invalid(
                    "metrics.listen",
                    format!("{addr} is server.listen too; leave metrics.listen unset to serve /metrics there"),
                ));
            }
            Ok(addr)
        })
        .transpose()?;
    Ok(MetricsConfig { token, listen })
}

fn storage(check: &Check, data_dir: Option<String>) -> Result<StorageConfig, ConfigError> {
    let data_dir = data_dir.unwrap_or_else(|| DEFAULT_DATA_DIR.to_owned());
    if data_dir.is_empty() {
        return Err(check.invalid("storage.data_dir", "must not be empty"));
    }
    Ok(StorageConfig {
        data_dir: PathBuf::from(data_dir),
    })
}

fn database(
    check: &Check,
    raw: RawDatabase,
    storage: &StorageConfig,
) -> Result<DatabaseConfig, ConfigError> {
    let url = match raw.url {
        Some(url) => database_url(check, url)?,
        None => format!("sqlite://{}", storage.data_dir.join("ade.db").display()),
    };
    let max_connections = check.at_least(
        "database.max_connections",
        raw.max_connections.unwrap_or(DEFAULT_MAX_CONNECTIONS),
        1,
    )?;
    Ok(DatabaseConfig {
        url: Secret::new(url),
        max_connections,
    })
}

/// Accepts the schemes sqlx is built with here. The URL may hold a password, so an error shows
/// at most its scheme.
fn database_url(check: &Check, url: String) -> Result<String, ConfigError> {
    const KEY: &str = "database.url";
    let scheme = url
        .split_once(':')
        .map(|(scheme, _)| scheme.to_ascii_lowercase())
        .filter(|scheme| {
            !scheme.is_empty()
                && scheme.len() <= 16
                && scheme
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b))
        });
    match scheme.as_deref() {
        Some("sqlite" | "postgres" | "postgresql") => Ok(url),
        Some(other) => Err(check.invalid(
            KEY,
            format!("unsupported scheme {other}:, expected sqlite:, postgres: or postgresql:"),
        )),
        None => Err(check.invalid(
            KEY,
            "is not a database URL, expected sqlite://PATH or postgres://USER:PASSWORD@HOST/DATABASE",
        )),
    }
}

fn github(check: &Check, raw: RawGithub) -> Result<GithubConfig, ConfigError> {
    let app_id = raw
        .app_id
        .map(|id| check.at_least("github.app_id", id, 1))
        .transpose()?;
    match (app_id.is_some(), raw.private_key_file.is_some()) {
        (true, false) => {
            return Err(ConfigError::Invalid {
                key: "github.private_key_file".to_owned(),
                reason: "must be set when github.app_id is".to_owned(),
                origin: check.origin("github.app_id"),
            });
        }
        (false, true) => {
            return Err(check.invalid(
                "github.app_id",
                "must be set when github.private_key_file is",
            ));
        }
        _ => {}
    }
    let private_key_file = match raw.private_key_file {
        Some(path) => {
            let key = "github.private_key_file";
            let pem = check.read_secret_file(key, &path)?;
            if !(pem.contains("-----BEGIN") && pem.contains("PRIVATE KEY-----")) {
                return Err(check.invalid(key, format!("{path} does not hold a PEM private key")));
            }
            Some(PathBuf::from(path))
        }
        None => None,
    };
    let webhook_secrets =
        webhook_secrets(check, "github", raw.webhook_secret, raw.webhook_secret_file)?;
    let api_url = raw
        .api_url
        .unwrap_or_else(|| DEFAULT_GITHUB_API_URL.to_owned());
    Ok(GithubConfig {
        app_id,
        private_key_file,
        webhook_secrets,
        api_url: check.http_url("github.api_url", api_url)?,
    })
}

fn gitea(check: &Check, raw: RawGitea) -> Result<GiteaConfig, ConfigError> {
    let url = raw
        .url
        .map(|url| check.http_url("gitea.url", url))
        .transpose()?;
    let token = match (raw.token, raw.token_file) {
        (Some(_), Some(_)) => {
            return Err(check.invalid(
                "gitea.token_file",
                "set either gitea.token or gitea.token_file, not both",
            ));
        }
        (Some(token), None) if token.trim().is_empty() => {
            return Err(check.invalid("gitea.token", "must not be empty"));
        }
        (Some(token), None) => Some(Secret::new(token)),
        (None, Some(path)) => Some(token_file(check, "gitea.token_file", &path)?),
        (None, None) => None,
    };
    let webhook_secrets =
        webhook_secrets(check, "gitea", raw.webhook_secret, raw.webhook_secret_file)?;
    Ok(GiteaConfig {
        url,
        token,
        webhook_secrets,
    })
}

/// The client secret files `[web]` names, before they are read.
fn web_files(raw: &RawWeb) -> Vec<SecretFile> {
    [
        (
            "web.github_client_secret_file",
            &raw.github_client_secret_file,
        ),
        (
            "web.gitea_client_secret_file",
            &raw.gitea_client_secret_file,
        ),
    ]
    .into_iter()
    .filter_map(|(key, path)| {
        path.as_ref().map(|path| SecretFile {
            key: key.to_owned(),
            path: PathBuf::from(path),
        })
    })
    .collect()
}

/// `[web]`: each forge's sign-in client is whole or absent, and sign-in needs an address the forge
/// can send browsers back to, over https unless it is this machine's loopback.
fn web(
    check: &Check,
    raw: RawWeb,
    server: &ServerConfig,
    github: &GithubConfig,
    gitea: &GiteaConfig,
) -> Result<WebConfig, ConfigError> {
    let hours = check.at_least(
        "web.session_hours",
        raw.session_hours.unwrap_or(DEFAULT_SESSION_HOURS),
        1,
    )?;
    if hours > MAX_SESSION_HOURS {
        return Err(check.invalid(
            "web.session_hours",
            format!("must be at most {MAX_SESSION_HOURS} (90 days)"),
        ));
    }
    let access_cache = raw.access_cache_secs.unwrap_or(0);
    if access_cache > MAX_ACCESS_CACHE_SECS {
        return Err(check.invalid(
            "web.access_cache_secs",
            format!("must be at most {MAX_ACCESS_CACHE_SECS}"),
        ));
    }
    let mut clients = Vec::new();
    let github_web_url = match raw.github_url {
        Some(url) => check.http_url("web.github_url", url)?,
        None => github_web_url(&github.api_url),
    };
    let sides = [
        (
            ForgeKind::Github,
            raw.github_client_id,
            raw.github_client_secret,
            raw.github_client_secret_file,
            Some((github_web_url.clone(), github.api_url.clone())),
        ),
        (
            ForgeKind::Gitea,
            raw.gitea_client_id,
            raw.gitea_client_secret,
            raw.gitea_client_secret_file,
            gitea
                .url
                .as_ref()
                .map(|url| (url.clone(), format!("{url}/api/v1"))),
        ),
    ];
    for (forge, id, secret, secret_file, urls) in sides {
        let name = forge.as_str();
        let secret = match (secret, secret_file) {
            (Some(_), Some(_)) => {
                return Err(check.invalid(
                    &format!("web.{name}_client_secret_file"),
                    format!("set either web.{name}_client_secret or web.{name}_client_secret_file, not both"),
                ));
            }
            (Some(secret), None) if secret.trim().is_empty() => {
                return Err(
                    check.invalid(&format!("web.{name}_client_secret"), "must not be empty")
                );
            }
            (Some(secret), None) => Some(Secret::new(secret.trim())),
            (None, Some(path)) => Some(token_file(
                check,
                &format!("web.{name}_client_secret_file"),
                &path,
            )?),
            (None, None) => None,
        };
        let (id, secret) = match (id, secret) {
            (None, None) => continue,
            (Some(id), Some(secret)) => (id, secret),
            (Some(_), None) => {
                return Err(check.invalid(
                    &format!("web.{name}_client_secret"),
                    format!("must be set when web.{name}_client_id is"),
                ));
            }
            (None, Some(_)) => {
                return Err(check.invalid(
                    &format!("web.{name}_client_id"),
                    format!("must be set when web.{name}_client_secret is"),
                ));
            }
        };
        let key = format!("web.{name}_client_id");
        if id.trim().is_empty() || id.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(check.invalid(&key, "must be one word"));
        }
        let Some((web_url, api_url)) = urls else {
            return Err(check.invalid(&key, "needs gitea.url, the instance users sign in on"));
        };
        // Who may read what is asked of the forge with ade's own client.
        let client_configured = match forge {
            ForgeKind::Github => github.app_id.is_some(),
            ForgeKind::Gitea => gitea.token.is_some(),
        };
        if !client_configured {
            let needs = match forge {
                ForgeKind::Github => "github.app_id and github.private_key_file",
                ForgeKind::Gitea => "gitea.token",
            };
            return Err(check.invalid(
                &key,
                format!("needs {needs}: ade asks the forge what each user may read"),
            ));
        }
        clients.push(OAuthClient {
            forge,
            client_id: id,
            client_secret: secret,
            web_url,
            api_url,
        });
    }
    let plain_http = server
        .public_url
        .as_deref()
        .is_some_and(|url| url.to_ascii_lowercase().starts_with("http://"));
    if let Some(client) = clients.first() {
        let key = format!("web.{}_client_id", client.forge.as_str());
        let Some(url) = server.public_url.as_deref() else {
            return Err(check.invalid(
                &key,
                "sign-in needs server.public_url, the address the forge sends users back to",
            ));
        };
        let path = url.split_once("://").map_or("", |(_, rest)| rest);
        if path.contains('/') {
            return Err(check.invalid(
                &key,
                format!("sign-in needs server.public_url without a path ({url}): the dashboard is served at /"),
            ));
        }
        if plain_http && !loopback(url) {
            return Err(check.invalid(
                &key,
                format!("sign-in needs an https server.public_url ({url} would carry sessions in the clear)"),
            ));
        }
    }
    Ok(WebConfig {
        public: raw.public.unwrap_or(false),
        session_ttl: Duration::from_secs(hours * 3600),
        access_cache: Duration::from_secs(access_cache),
        clients,
        secure_cookies: !plain_http,
        public_url: server.public_url.clone(),
        forge_urls: [(ForgeKind::Github, Some(github_web_url))]
            .into_iter()
            .chain([(ForgeKind::Gitea, gitea.url.clone())])
            .filter_map(|(forge, url)| url.map(|url| (forge, url)))
            .collect(),
    })
}

/// Where GitHub users sign in, from its API root: github.com for api.github.com, the host of an
/// Enterprise Server's `/api/v3`, else the API root itself (a simulator serves both).
fn github_web_url(api_url: &str) -> String {
    if api_url.eq_ignore_ascii_case(DEFAULT_GITHUB_API_URL) {
        return "https://github.com".to_owned();
    }
    api_url
        .strip_suffix("/api/v3")
        .unwrap_or(api_url)
        .to_owned()
}

/// Whether a URL's host is this machine: browsers treat it as secure without TLS.
fn loopback(url: &str) -> bool {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(""),
        None => authority
            .rsplit_once(':')
            .map_or(authority, |(host, _)| host),
    };
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// A file holding exactly one token, named by `key`.
fn token_file(check: &Check, key: &str, path: &str) -> Result<Secret, ConfigError> {
    let text = check.read_secret_file(key, path)?;
    let mut lines = secret_lines(&text);
    match (lines.next(), lines.next()) {
        (Some(token), None) => Ok(Secret::new(token)),
        (None, _) => Err(check.invalid(key, format!("{path} holds no token"))),
        (Some(_), Some(_)) => Err(check.invalid(
            key,
            format!("{path} holds more than one line, expected exactly one token"),
        )),
    }
}

/// The non-empty lines of a secret file, each without its trailing whitespace and line end.
fn secret_lines(text: &str) -> impl Iterator<Item = &str> {
    text.lines()
        .map(str::trim_end)
        .filter(|line| !line.is_empty())
}

/// Every webhook secret of one forge section: the inline ones, then those of each file, in order.
fn webhook_secrets(
    check: &Check,
    section: &str,
    inline: Option<OneOrMany>,
    files: Option<OneOrMany>,
) -> Result<Vec<Secret>, ConfigError> {
    let inline_key = format!("{section}.webhook_secret");
    let file_key = format!("{section}.webhook_secret_file");
    let mut secrets = Vec::new();
    if let Some(OneOrMany(values)) = inline {
        if values.is_empty() {
            return Err(check.invalid(
                &inline_key,
                "is an empty list; leave the key out to accept no secret",
            ));
        }
        let single = values.len() == 1;
        for (index, value) in values.into_iter().enumerate() {
            if value.trim().is_empty() {
                let key = if single {
                    inline_key.clone()
                } else {
                    format!("{inline_key}[{index}]")
                };
                return Err(check.invalid(&key, "is empty"));
            }
            secrets.push(Secret::new(value));
        }
    }
    if let Some(OneOrMany(paths)) = files {
        if paths.is_empty() {
            return Err(check.invalid(
                &file_key,
                "is an empty list; leave the key out to accept no secret",
            ));
        }
        for path in paths {
            let text = check.read_secret_file(&file_key, &path)?;
            let before = secrets.len();
            secrets.extend(secret_lines(&text).map(Secret::new));
            if secrets.len() == before {
                return Err(check.invalid(&file_key, format!("{path} holds no secret")));
            }
        }
    }
    Ok(secrets)
}

/// `[jobs]`: each key left out is the queue's own default ([`JobsConfig::default`]).
fn jobs(check: &Check, raw: RawJobs) -> Result<JobsConfig, ConfigError> {
    let default = JobsConfig::default();
    let workers = check.at_least("jobs.workers", raw.workers.unwrap_or(default.workers), 1)?;
    let max_attempts = check.at_least(
        "jobs.max_attempts",
        raw.max_attempts.unwrap_or(default.max_attempts),
        1,
    )?;
    let backoff_base = raw
        .backoff_base_ms
        .map_or(default.backoff_base, Duration::from_millis);
    let backoff_max = raw
        .backoff_max_ms
        .map_or(default.backoff_max, Duration::from_millis);
    if backoff_max < backoff_base {
        return Err(check.invalid(
            "jobs.backoff_max_ms",
            format!(
                "must be at least jobs.backoff_base_ms ({}), not {}",
                backoff_base.as_millis(),
                backoff_max.as_millis()
            ),
        ));
    }
    let lease_secs = check.at_least(
        "jobs.lease_secs",
        raw.lease_secs.unwrap_or(default.lease.as_secs()),
        MIN_LEASE_SECS,
    )?;
    let poll_interval = match raw.poll_interval_ms {
        Some(ms) => Duration::from_millis(check.at_least("jobs.poll_interval_ms", ms, 1)?),
        None => default.poll_interval,
    };
    Ok(JobsConfig {
        workers,
        max_attempts,
        backoff_base,
        backoff_max,
        lease: Duration::from_secs(lease_secs),
        poll_interval,
    })
}
