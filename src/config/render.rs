//! The effective configuration as TOML for `ade check-config`: what is in force after file,
//! environment and defaults, with every secret shown as `"<redacted>"`.

use std::fmt::Write;
use std::path::Path;
use std::time::Duration;

use super::{Config, DatabaseConfig, Secret};

const REDACTED: &str = "<redacted>";

impl Config {
    /// The effective configuration as TOML, defaults included, so an operator sees exactly what is
    /// in force. Secrets never appear: webhook secrets and the token as `"<redacted>"` (one per
    /// active secret, so a rotation is visible), the database URL with only its password hidden.
    /// Keys without a value are shown as comments. The output is itself a valid `ade.toml`.
    pub fn render_redacted(&self) -> String {
        let mut out = Toml::default();
        out.comment("Effective ade configuration: file, then ADE_* environment, then defaults.");
        out.comment("Secrets are shown as \"<redacted>\".");

        let server = &self.server;
        out.section("server");
        out.string("listen", &server.listen.to_string());
        out.optional("public_url", server.public_url.as_deref(), "not set");
        out.integer("max_body_bytes", server.max_body_bytes as u128);
        out.integer(
            "shutdown_grace_secs",
            server.shutdown_grace.as_secs().into(),
        );
        out.integer("body_timeout_secs", server.body_timeout.as_secs().into());
        out.integer(
            "header_timeout_secs",
            server.header_timeout.as_secs().into(),
        );
        out.integer(
            "max_unverified_bodies",
            server.max_unverified_bodies as u128,
        );
        match server.failed_signatures {
            Some(limit) => {
                out.integer("failed_signatures_per_address", limit.failures.into());
                out.integer(
                    "failed_signatures_window_secs",
                    limit.window.as_secs().into(),
                );
            }
            None => out.integer("failed_signatures_per_address", 0),
        }

        out.section("database");
        out.string("url", &self.database.redacted_url());
        out.integer("max_connections", self.database.max_connections.into());

        out.section("storage");
        out.path("data_dir", &self.storage.data_dir);

        let audit = &self.audit;
        out.section("audit");
        out.path("dir", &audit.dir);
        out.integer("max_file_bytes", audit.max_file_bytes.into());
        out.integer(
            "checkpoint_interval_secs",
            audit.checkpoint_every.as_secs().into(),
        );
        out.path("checkpoints_file", &audit.checkpoints_file);
        out.path("signing_key_file", &audit.signing_key_file);

        let retention = &self.retention;
        out.section("retention");
        out.integer(
            "purge_interval_secs",
            retention.purge_every.as_secs().into(),
        );
        out.integer("completed_jobs_days", retention.completed_jobs_days.into());
        out.integer("failed_jobs_days", retention.failed_jobs_days.into());
        out.integer("audit_days", retention.audit_days.into());

        let reconcile = &self.reconcile;
        out.section("reconcile");
        out.integer(
            "interval_secs",
            reconcile.every.map_or(0, |every| every.as_secs()).into(),
        );
        out.integer("max_age_secs", reconcile.max_age.as_secs().into());

        let github = &self.github;
        out.section("github");
        match github.app_id {
            Some(id) => out.integer("app_id", id.into()),
            None => out.unset("app_id", "not set"),
        }
        match &github.private_key_file {
            Some(path) => out.path("private_key_file", path),
            None => out.unset("private_key_file", "not set"),
        }
        out.secrets(
            "webhook_secret",
            &github.webhook_secrets,
            "POST /webhooks/github refuses every delivery",
        );
        out.string("api_url", &github.api_url);

        let gitea = &self.gitea;
        out.section("gitea");
        out.optional("url", gitea.url.as_deref(), "not set");
        match &gitea.token {
            Some(_) => out.string("token", REDACTED),
            None => out.unset("token", "not set"),
        }
        out.secrets(
            "webhook_secret",
            &gitea.webhook_secrets,
            "POST /webhooks/gitea refuses every delivery",
        );

        let jobs = &self.jobs;
        out.section("jobs");
        out.integer("workers", jobs.workers as u128);
        out.integer("max_attempts", jobs.max_attempts.into());
        out.integer("backoff_base_ms", millis(jobs.backoff_base));
        out.integer("backoff_max_ms", millis(jobs.backoff_max));
        out.integer("lease_secs", jobs.lease.as_secs().into());
        out.integer("poll_interval_ms", millis(jobs.poll_interval));
        out.secrets_section(&self.secrets);
        let metrics = &self.metrics;
        out.section("metrics");
        match &metrics.token {
            Some(_) => out.string("token", REDACTED),
            None => out.unset("token", "not set, so /metrics answers whoever reaches it"),
        }
        match metrics.listen {
            Some(listen) => out.string("listen", &listen.to_string()),
            None => out.unset("listen", "not set, so /metrics is served on server.listen"),
        }
        out.web(&self.web);
        out.runner(&self.runner);
        for agent in &self.agents {
            out.agent(agent);
        }
        out.server_policy(&self.policy);
        out.0
    }
}

impl DatabaseConfig {
    /// The database URL with its password (in the user info or a `password=` query parameter)
    /// replaced by `<redacted>`: scheme, user, host and path stay, for logs and `check-config`.
    pub fn redacted_url(&self) -> String {
        redact_url(self.url.expose())
    }
}

fn millis(duration: Duration) -> u128 {
    duration.as_millis()
}

/// Hides the password of the user info and of `password`-like query parameters. When the URL is
/// ambiguous (an unencoded `@` or `/` in the password), it hides more rather than less: the user
/// info is taken to end at the last `@`.
fn redact_url(url: &str) -> String {
    let redacted = match url.split_once("://") {
        Some((scheme, rest)) if !scheme.eq_ignore_ascii_case("sqlite") => {
            match rest.rsplit_once('@') {
                Some((userinfo, host)) => match userinfo.split_once(':') {
                    Some((user, _password)) => format!("{scheme}://{user}:{REDACTED}@{host}"),
                    None => url.to_owned(),
                },
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    };
    match redacted.split_once('?') {
        Some((base, query)) => {
            let query = query
                .split('&')
                .map(|pair| match pair.split_once('=') {
                    Some((name, _)) if name.to_ascii_lowercase().contains("password") => {
                        format!("{name}={REDACTED}")
                    }
                    _ => pair.to_owned(),
                })
                .collect::<Vec<_>>()
                .join("&");
            format!("{base}?{query}")
        }
        None => redacted,
    }
}

/// A small TOML writer: enough for flat sections of strings, integers and string lists.
#[derive(Default)]
struct Toml(String);

impl Toml {
    /// `[secrets]`: the key files with their keys' ids (a hash that says nothing usable about a
    /// key), never a key.
    fn secrets_section(&mut self, secrets: &crate::secrets::SecretsConfig) {
        self.section("secrets");
        match &secrets.master_key_file {
            Some(path) => self.path("master_key_file", path),
            None => self.unset(
                "master_key_file",
                "not set, so no secret can be stored and run logs are not sealed",
            ),
        }
        let previous: Vec<String> = secrets
            .previous_master_key_files
            .iter()
            .map(|path| path.to_string_lossy().into_owned())
            .collect();
        self.list("previous_master_key_files", &previous);
        let _ = writeln!(self.0, "encrypt_run_logs = {}", secrets.encrypt_run_logs);
        for (path, id) in secrets.keys.files() {
            self.comment(&format!("key id {id}: {}", path.display()));
        }
    }

    fn runner(&mut self, runner: &super::RunnerConfig) {
        self.section("runner");
        self.path("workdir", &runner.workdir);
        self.integer("max_parallel", runner.max_parallel as u128);
        self.string("git", &runner.git);
        let path: Vec<String> = runner
            .path
            .iter()
            .map(|dir| dir.to_string_lossy().into_owned())
            .collect();
        self.list("path", &path);
        let agent_dirs: Vec<String> = runner
            .agent_dirs
            .iter()
            .map(|dir| dir.to_string_lossy().into_owned())
            .collect();
        self.list("agent_dirs", &agent_dirs);
        self.optional(
            "agent_user",
            runner.agent_user.as_deref(),
            "not set, so agents are not started while ade runs as root",
        );
        self.string("container_runtime", runner.container_runtime.as_str());
        self.limit("memory_max", runner.memory_max);
        self.limit("pids_max", runner.pids_max);
        let _ = writeln!(self.0, "network = {}", runner.network);
    }

    /// One `[agents.<name>]` table; secrets show where they come from, never their values.
    fn agent(&mut self, agent: &crate::runner::agent::Agent) {
        use crate::runner::agent::SecretSource;
        self.section(&format!("agents.{}", agent.name));
        let command: Vec<String> = agent
            .command
            .iter()
            .map(|t| t.source().to_owned())
            .collect();
        self.list("command", &command);
        self.string("prompt", agent.prompt.as_str());
        match agent.environment {
            Some(env) => self.string("environment", env.as_str()),
            None => self.unset(
                "environment",
                "not set, so the policy's (container when untrusted)",
            ),
        }
        self.string("trust", agent.trust.as_str());
        self.optional("model", agent.model.as_deref(), "not set");
        self.integer("timeout_secs", agent.timeout.as_secs().into());
        self.integer("output_cap_bytes", agent.output_cap.into());
        self.optional("version", agent.version.as_deref(), "not pinned");
        match &agent.version_command {
            Some(argv) => self.list("version_command", argv),
            None => self.unset("version_command", "not set, so [program, \"--version\"]"),
        }
        self.list("leftovers", agent.leftovers.patterns());
        self.string("output", agent.output.as_str());
        self.string("network", agent.network.as_str());
        if let crate::runner::env::Network::Allowlist(hosts) = &agent.network {
            let hosts: Vec<String> = hosts.iter().map(ToString::to_string).collect();
            self.list("allow_hosts", &hosts);
        }
        if !agent.env.is_empty() {
            self.section(&format!("agents.{}.env", agent.name));
            for (name, value) in &agent.env {
                self.string(name, value.source());
            }
        }
        if !agent.secrets.is_empty() {
            self.section(&format!("agents.{}.secrets", agent.name));
            for secret in &agent.secrets {
                let (kind, from) = match &secret.source {
                    SecretSource::File(path) => ("file", path),
                    SecretSource::Env(var) => ("env", var),
                    SecretSource::Store(name) => ("store", name),
                };
                let _ = writeln!(self.0, "{} = {{ {kind} = {} }}", secret.name, quote(from));
            }
        }
    }

    fn list(&mut self, key: &str, items: &[String]) {
        let items: Vec<String> = items.iter().map(|item| quote(item)).collect();
        let _ = writeln!(self.0, "{key} = [{}]", items.join(", "));
    }

    fn limit(&mut self, key: &str, value: Option<u64>) {
        match value {
            Some(value) => self.integer(key, value.into()),
            None => self.string(key, "max"),
        }
    }

    /// The server policy as TOML tables under `[policy.…]`; it holds no secrets.
    fn server_policy(&mut self, policy: &crate::policy::ServerPolicy) {
        #[derive(serde::Serialize)]
        struct Wrapper<'a> {
            policy: &'a crate::policy::ServerPolicy,
        }
        match toml::to_string(&Wrapper { policy }) {
            Ok(text) => {
                self.0.push('\n');
                self.0.push_str(&text);
            }
            Err(error) => self.comment(&format!("[policy] cannot be shown: {error}")),
        }
    }

    fn web(&mut self, web: &crate::web::WebConfig) {
        self.section("web");
        let _ = writeln!(self.0, "public = {}", web.public);
        self.integer(
            "session_hours",
            u128::from(web.session_ttl.as_secs() / 3600),
        );
        self.integer("access_cache_secs", u128::from(web.access_cache.as_secs()));
        for forge in [
            crate::forge::ForgeKind::Github,
            crate::forge::ForgeKind::Gitea,
        ] {
            let name = forge.as_str();
            match web.client(forge) {
                Some(client) => {
                    self.string(&format!("{name}_client_id"), &client.client_id);
                    self.string(&format!("{name}_client_secret"), REDACTED);
                }
                None => self.unset(
                    &format!("{name}_client_id"),
                    &format!("not set, so nobody signs in with {name}"),
                ),
            }
        }
        if let Some(client) = web.client(crate::forge::ForgeKind::Github) {
            self.string("github_url", &client.web_url);
        }
    }

    fn comment(&mut self, text: &str) {
        let _ = writeln!(self.0, "# {text}");
    }

    fn section(&mut self, name: &str) {
        let _ = write!(self.0, "\n[{name}]\n");
    }

    fn string(&mut self, key: &str, value: &str) {
        let _ = writeln!(self.0, "{key} = {}", quote(value));
    }

    fn path(&mut self, key: &str, value: &Path) {
        self.string(key, &value.to_string_lossy());
    }

    fn integer(&mut self, key: &str, value: u128) {
        let _ = writeln!(self.0, "{key} = {value}");
    }

    fn unset(&mut self, key: &str, why: &str) {
        let _ = writeln!(self.0, "# {key}: {why}");
    }

    fn optional(&mut self, key: &str, value: Option<&str>, why: &str) {
        match value {
            Some(value) => self.string(key, value),
            None => self.unset(key, why),
        }
    }

    fn secrets(&mut self, key: &str, secrets: &[Secret], when_none: &str) {
        if secrets.is_empty() {
            self.unset(key, &format!("none, so {when_none}"));
            return;
        }
        let items = vec![quote(REDACTED); secrets.len()].join(", ");
        let _ = writeln!(self.0, "{key} = [{items}]");
    }
}

/// A TOML basic string.
fn quote(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04X}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_only_the_password_of_a_database_url() {
        for (url, shown) in [
            (
                "postgres://ade:hunter2@db/ade",
                "postgres://ade:<redacted>@db/ade",
            ),
            (
                "postgresql://ade:p@ss/w0?rd@db:5432/ade?sslmode=require",
                "postgresql://ade:<redacted>@db:5432/ade?sslmode=require",
            ),
            (
                "postgres://db/ade?user=ade&password=hunter2",
                "postgres://db/ade?user=ade&password=<redacted>",
            ),
            ("postgres://ade@db/ade", "postgres://ade@db/ade"),
            ("sqlite://./ade-data/ade.db", "sqlite://./ade-data/ade.db"),
            ("sqlite::memory:", "sqlite::memory:"),
        ] {
            assert_eq!(redact_url(url), shown, "{url}");
        }
    }

    #[test]
    fn quotes_toml_strings() {
        assert_eq!(quote(r#"C:\a "b""#), r#""C:\\a \"b\"""#);
        assert_eq!(quote("a\u{1}"), "\"a\\u0001\"");
    }
}
