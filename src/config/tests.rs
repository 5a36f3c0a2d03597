//! `Config::load` end to end: files, environment, defaults, errors and redaction.

use std::fs;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use super::{Config, ConfigError, Origin};
use crate::forge::ForgeKind;

/// A folder of its own under the system temp dir, removed when the test ends.
struct Scratch(PathBuf);

impl Scratch {
    fn new(test: &str) -> Scratch {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let dir =
            std::env::temp_dir().join(format!("ade-config-{}-{test}-{n}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }

    /// A scratch folder holding `files` (name, content).
    fn with(test: &str, files: &[(&str, &str)]) -> Scratch {
        let dir = Scratch::new(test);
        for (name, content) in files {
            dir.file(name, content);
        }
        dir
    }

    fn file(&self, name: &str, content: impl AsRef<[u8]>) -> PathBuf {
        let path = self.0.join(name);
        fs::write(&path, content).unwrap();
        path
    }

    /// Writes `ade.toml`; `{dir}` in the text becomes this folder.
    fn config(&self, toml: &str) -> PathBuf {
        self.file(
            "ade.toml",
            toml.replace("{dir}", &self.0.display().to_string()),
        )
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn env(vars: &[(&str, &str)]) -> Vec<(String, String)> {
    vars.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn load(path: &Path, vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
    Config::load(Some(path), env(vars))
}

fn load_err(path: &Path, vars: &[(&str, &str)]) -> String {
    load(path, vars)
        .expect_err("config should be refused")
        .to_string()
}

fn exposed(secrets: &[super::Secret]) -> Vec<&str> {
    secrets.iter().map(|s| s.expose()).collect()
}

const PEM: &str = "-----BEGIN RSA PRIVATE KEY-----\nMIIBOgIBAAJBAKj34GkxFhD90vcNLYLInFEX6Ppy1tPf9Cnzj4p4WGeKLs1Pt8Qu\n-----END RSA PRIVATE KEY-----\n";

#[test]
fn defaults_without_a_file() {
    let config = Config::load(None, env(&[])).unwrap();
    assert_eq!(
        config.server.listen,
        "127.0.0.1:8080".parse::<SocketAddr>().unwrap()
    );
    assert_eq!(config.server.public_url, None);
    assert_eq!(config.server.max_body_bytes, 26_214_400);
    assert_eq!(config.server.shutdown_grace, Duration::from_secs(30));
    assert_eq!(config.storage.data_dir, PathBuf::from("./ade-data"));
    assert_eq!(config.database.url.expose(), "sqlite://./ade-data/ade.db");
    assert_eq!(config.database.max_connections, 10);
    assert_eq!(config.github.app_id, None);
    assert_eq!(config.github.private_key_file, None);
    assert!(config.github.webhook_secrets.is_empty());
    assert_eq!(config.github.api_url, "https://api.github.com");
    assert_eq!(config.gitea.url, None);
    assert!(config.gitea.token.is_none());
    assert!(config.gitea.webhook_secrets.is_empty());
    assert_jobs(&config, (4, 5, 1_000, 300_000, 60, 1_000));
}

#[test]
fn a_full_file() {
    let dir = Scratch::with("full", &[("github.pem", PEM), ("gitea-token", "gt0k3n\n")]);
    let path = dir.config(
        r#"
[server]
listen = "0.0.0.0:9000"
public_url = "https://ade.example.com/"
max_body_bytes = 1048576
shutdown_grace_secs = 5

[database]
url = "postgres://ade:pw@db.internal:5432/ade"
max_connections = 20

[storage]
data_dir = "/var/lib/ade"

[github]
app_id = 12345
private_key_file = "{dir}/github.pem"
webhook_secret = "gh-secret"
api_url = "https://ghe.example.com/api/v3"

[gitea]
url = "https://gitea.example.com"
token_file = "{dir}/gitea-token"
webhook_secret = ["gitea-old", "gitea-new"]

[jobs]
workers = 8
max_attempts = 3
backoff_base_ms = 500
backoff_max_ms = 60000
lease_secs = 30
poll_interval_ms = 250
"#,
    );
    let config = load(&path, &[]).unwrap();
    assert_eq!(
        config.server.listen,
        "0.0.0.0:9000".parse::<SocketAddr>().unwrap()
    );
    assert_eq!(
        config.server.public_url.as_deref(),
        Some("https://ade.example.com")
    );
    assert_eq!(config.server.max_body_bytes, 1_048_576);
    assert_eq!(config.server.shutdown_grace, Duration::from_secs(5));
    assert_eq!(
        config.database.url.expose(),
        "postgres://ade:pw@db.internal:5432/ade"
    );
    assert_eq!(config.database.max_connections, 20);
    assert_eq!(config.storage.data_dir, PathBuf::from("/var/lib/ade"));
    assert_eq!(config.github.app_id, Some(12345));
    assert_eq!(
        config.github.private_key_file,
        Some(dir.0.join("github.pem"))
    );
    assert_eq!(exposed(&config.github.webhook_secrets), ["gh-secret"]);
    assert_eq!(config.github.api_url, "https://ghe.example.com/api/v3");
    assert_eq!(
        config.gitea.url.as_deref(),
        Some("https://gitea.example.com")
    );
    assert_eq!(
        config.gitea.token.as_ref().map(|t| t.expose()),
        Some("gt0k3n")
    );
    assert_eq!(
        exposed(&config.gitea.webhook_secrets),
        ["gitea-old", "gitea-new"]
    );
    assert_jobs(&config, (8, 3, 500, 60_000, 30, 250));
}

#[test]
fn environment_overrides_the_file_and_other_ade_variables_are_not_keys() {
    let dir = Scratch::new("env");
    let secrets = dir.file("secrets", "from-file\n");
    let path = dir.config(
        r#"
[server]
listen = "127.0.0.1:1"

[github]
webhook_secret = ["one", "two"]
"#,
    );
    let secrets = secrets.display().to_string();
    let config = load(
        &path,
        &[
            ("ADE_SERVER__LISTEN", "[::1]:8443"),
            ("ADE_JOBS__WORKERS", "16"),
            ("ADE_STORAGE__DATA_DIR", "/srv/ade"),
            ("ADE_GITHUB__WEBHOOK_SECRET", "from-env"),
            ("ADE_GITEA__WEBHOOK_SECRET_FILE", &secrets),
            ("ADE_CONFIG", "/somewhere/else.toml"),
            ("ADE_LOG", "debug"),
            (
                "ADE_TEST_DATABASE_URL",
                "postgres://postgres@127.0.0.1/test",
            ),
            ("HOME", "/root"),
        ],
    )
    .unwrap();
    assert_eq!(
        config.server.listen,
        "[::1]:8443".parse::<SocketAddr>().unwrap()
    );
    assert_eq!(config.jobs.workers, 16);
    assert_eq!(config.database.url.expose(), "sqlite:///srv/ade/ade.db");
    assert_eq!(exposed(&config.github.webhook_secrets), ["from-env"]);
    assert_eq!(exposed(&config.gitea.webhook_secrets), ["from-file"]);
}

#[test]
fn unknown_key_in_the_file_is_named_with_its_file() {
    let dir = Scratch::new("unknown-file");
    let path = dir.config("[github]\nwebhok_secret = \"s3cr3t\"\n");
    let err = load(&path, &[]).unwrap_err();
    assert_eq!(err.key(), Some("github.webhok_secret"));
    assert_eq!(
        err.to_string(),
        format!(
            "config: unknown key github.webhok_secret (from {}); did you mean github.webhook_secret?",
            path.display()
        )
    );

    let path = dir.config("[serverr]\nlisten = \"127.0.0.1:1\"\n");
    let err = load(&path, &[]).unwrap_err();
    assert_eq!(err.key(), Some("serverr"));
    assert!(err.to_string().contains("did you mean server?"), "{err}");
}

#[test]
fn unknown_key_in_the_environment_is_named_with_its_variable() {
    let err = Config::load(None, env(&[("ADE_GITHUB__WEBHOK_SECRET", "s3cr3t")])).unwrap_err();
    assert_eq!(err.key(), Some("github.webhok_secret"));
    assert!(
        err.to_string().starts_with(
            "config: unknown key github.webhok_secret (from environment ADE_GITHUB__WEBHOK_SECRET)"
        ),
        "{err}"
    );

    let err = Config::load(None, env(&[("ADE_SERVR__LISTEN", "1")])).unwrap_err();
    assert_eq!(
        err.to_string(),
        "config: unknown key servr.listen (from environment ADE_SERVR__LISTEN); did you mean server.listen?"
    );

    let err = Config::load(None, env(&[("ADE_NOPE__THING", "1")])).unwrap_err();
    assert_eq!(
        err.to_string(),
        "config: unknown key nope.thing (from environment ADE_NOPE__THING)"
    );
}

#[test]
fn a_bad_value_names_its_key_and_origin() {
    let dir = Scratch::new("bad-value");
    let path = dir.config("[server]\nlisten = \"nope\"\n");
    assert_eq!(
        load_err(&path, &[]),
        format!(
            "config: server.listen: invalid socket address syntax (from {})",
            path.display()
        )
    );
    let err = Config::load(None, env(&[("ADE_SERVER__LISTEN", "nope")])).unwrap_err();
    assert_eq!(
        err.to_string(),
        "config: server.listen: invalid socket address syntax (from environment ADE_SERVER__LISTEN)"
    );

    let path = dir.config("[server]\nmax_body_bytes = \"big\"\n");
    let err = load(&path, &[]).unwrap_err();
    assert_eq!(err.key(), Some("server.max_body_bytes"));
    assert!(err.to_string().contains("expected an integer"), "{err}");

    let err = Config::load(None, env(&[("ADE_JOBS__WORKERS", "-1")])).unwrap_err();
    assert_eq!(err.key(), Some("jobs.workers"));
}

#[test]
fn limits_are_checked() {
    let cases = [
        ("ADE_SERVER__MAX_BODY_BYTES", "0", "server.max_body_bytes"),
        (
            "ADE_DATABASE__MAX_CONNECTIONS",
            "0",
            "database.max_connections",
        ),
        ("ADE_JOBS__WORKERS", "0", "jobs.workers"),
        ("ADE_JOBS__MAX_ATTEMPTS", "0", "jobs.max_attempts"),
        ("ADE_JOBS__BACKOFF_MAX_MS", "10", "jobs.backoff_max_ms"),
        ("ADE_JOBS__LEASE_SECS", "4", "jobs.lease_secs"),
        ("ADE_JOBS__POLL_INTERVAL_MS", "0", "jobs.poll_interval_ms"),
        ("ADE_STORAGE__DATA_DIR", "", "storage.data_dir"),
    ];
    for (var, value, key) in cases {
        let err = Config::load(None, env(&[(var, value)])).unwrap_err();
        assert_eq!(err.key(), Some(key), "{var}={value}: {err}");
        assert!(
            matches!(&err, ConfigError::Invalid { origin: Origin::Env(v), .. } if v == var),
            "{err}"
        );
    }
}

#[test]
fn reconciliation_sweeps_are_bounded_or_off() {
    let defaults = Config::load(None, env(&[])).unwrap().reconcile;
    assert_eq!(defaults.every, Some(Duration::from_secs(300)));
    assert_eq!(defaults.max_age, Duration::from_secs(86_400));
    let off = Config::load(None, env(&[("ADE_RECONCILE__INTERVAL_SECS", "0")])).unwrap();
    assert_eq!(off.reconcile.every, None);
    for (var, value, said) in [
        (
            "ADE_RECONCILE__INTERVAL_SECS",
            "5",
            "must be at least 10, not 5",
        ),
        (
            "ADE_RECONCILE__INTERVAL_SECS",
            "90000",
            "must be at most 86400 (a day), or 0 for no sweeps, not 90000",
        ),
        (
            "ADE_RECONCILE__MAX_AGE_SECS",
            "59",
            "must be at least 60, not 59",
        ),
        (
            "ADE_RECONCILE__MAX_AGE_SECS",
            "604801",
            "must be at most 604800 (a week), not 604801",
        ),
    ] {
        let err = Config::load(None, env(&[(var, value)])).unwrap_err();
        let key = var
            .trim_start_matches("ADE_")
            .replace("__", ".")
            .to_lowercase();
        assert_eq!(err.key(), Some(key.as_str()), "{var}={value}: {err}");
        assert!(err.to_string().contains(said), "{err}");
    }
}

#[test]
fn urls_must_have_a_known_scheme() {
    let err = Config::load(
        None,
        env(&[("ADE_DATABASE__URL", "mysql://ade:hunter2@db/ade")]),
    )
    .unwrap_err()
    .to_string();
    assert_eq!(
        err,
        "config: database.url: unsupported scheme mysql:, expected sqlite:, postgres: or postgresql: (from environment ADE_DATABASE__URL)"
    );
    assert!(!err.contains("hunter2"));

    let err = Config::load(None, env(&[("ADE_DATABASE__URL", "hunter2")])).unwrap_err();
    assert_eq!(err.key(), Some("database.url"));
    assert!(!err.to_string().contains("hunter2"), "{err}");

    for (var, key) in [
        ("ADE_SERVER__PUBLIC_URL", "server.public_url"),
        ("ADE_GITHUB__API_URL", "github.api_url"),
        ("ADE_GITEA__URL", "gitea.url"),
    ] {
        let err = Config::load(None, env(&[(var, "ftp://example.com")])).unwrap_err();
        assert_eq!(err.key(), Some(key));
        assert!(
            err.to_string()
                .contains("must be an http:// or https:// URL"),
            "{err}"
        );
    }
    let err = Config::load(None, env(&[("ADE_GITEA__URL", "https://")])).unwrap_err();
    assert_eq!(err.key(), Some("gitea.url"));

    for url in [
        "sqlite::memory:",
        "postgresql://db/ade",
        "POSTGRES://db/ade",
    ] {
        let config = Config::load(None, env(&[("ADE_DATABASE__URL", url)])).unwrap();
        assert_eq!(config.database.url.expose(), url);
    }
}

#[test]
fn unreadable_secret_file_names_key_path_and_reason_but_not_the_content() {
    let dir = Scratch::new("unreadable");
    let missing = dir.0.join("missing");
    let path = dir.config("[github]\nwebhook_secret_file = \"{dir}/missing\"\n");
    assert_eq!(
        load_err(&path, &[]),
        format!(
            "config: github.webhook_secret_file: cannot read {}: No such file or directory (os error 2) (from {})",
            missing.display(),
            path.display()
        )
    );

    let binary = dir.file("binary", b"s3cr3t-value\xff\n");
    let path = dir.config("[gitea]\ntoken_file = \"{dir}/binary\"\n");
    let err = load_err(&path, &[]);
    assert!(
        err.starts_with("config: gitea.token_file: cannot read "),
        "{err}"
    );
    assert_has(&err, &binary.display().to_string());
    assert!(!err.contains("s3cr3t"), "{err}");

    let path = dir.config("[github]\nwebhook_secret_file = \"{dir}\"\n");
    let err = load_err(&path, &[]);
    assert_has(&err, "github.webhook_secret_file: cannot read");
}

#[test]
fn secrets_add_up_from_lists_and_files() {
    let dir = Scratch::new("secrets");
    dir.file("a", "file-one\n\n  \nfile-two  \r\n");
    dir.file("b", "file-three");
    let path = dir.config(
        r#"
[github]
webhook_secret = ["inline-one", "inline-two"]
webhook_secret_file = ["{dir}/a", "{dir}/b"]

[gitea]
webhook_secret = "only"
webhook_secret_file = "{dir}/b"
"#,
    );
    let config = load(&path, &[]).unwrap();
    assert_eq!(
        exposed(&config.github.webhook_secrets),
        [
            "inline-one",
            "inline-two",
            "file-one",
            "file-two",
            "file-three"
        ]
    );
    assert_eq!(
        exposed(&config.gitea.webhook_secrets),
        ["only", "file-three"]
    );
}

#[test]
fn empty_secrets_are_refused() {
    let dir = Scratch::new("empty");
    dir.file("blank", "\n  \n");
    dir.file("two", "one\ntwo\n");
    let cases = [
        (
            "[github]\nwebhook_secret = \"\"\n",
            "github.webhook_secret",
            "is empty",
        ),
        (
            "[github]\nwebhook_secret = [\"a\", \" \"]\n",
            "github.webhook_secret[1]",
            "is empty",
        ),
        (
            "[github]\nwebhook_secret = []\n",
            "github.webhook_secret",
            "empty list",
        ),
        (
            "[gitea]\nwebhook_secret_file = \"{dir}/blank\"\n",
            "gitea.webhook_secret_file",
            "holds no secret",
        ),
        (
            "[gitea]\ntoken = \"\"\n",
            "gitea.token",
            "must not be empty",
        ),
        (
            "[gitea]\ntoken_file = \"{dir}/blank\"\n",
            "gitea.token_file",
            "holds no token",
        ),
        (
            "[gitea]\ntoken_file = \"{dir}/two\"\n",
            "gitea.token_file",
            "more than one line",
        ),
        (
            "[gitea]\ntoken = \"t\"\ntoken_file = \"{dir}/two\"\n",
            "gitea.token_file",
            "not both",
        ),
        (
            "[github]\nwebhook_secret = 12345\n",
            "github.webhook_secret",
            "found a number",
        ),
    ];
    for (toml, key, reason) in cases {
        let err = load(&dir.config(toml), &[]).unwrap_err();
        assert_eq!(err.key(), Some(key), "{toml}: {err}");
        assert!(err.to_string().contains(reason), "{toml}: {err}");
        assert!(!err.to_string().contains("12345"), "{err}");
    }
}

#[test]
fn the_github_app_needs_both_id_and_key() {
    let dir = Scratch::new("app");
    dir.file("not-a-key", "hello\n");
    let cases = [
        ("[github]\napp_id = 1\n", "github.private_key_file"),
        ("[github]\nprivate_key_file = \"/x.pem\"\n", "github.app_id"),
        (
            "[github]\napp_id = 0\nprivate_key_file = \"/x.pem\"\n",
            "github.app_id",
        ),
        (
            "[github]\napp_id = 1\nprivate_key_file = \"{dir}/not-a-key\"\n",
            "github.private_key_file",
        ),
    ];
    for (toml, key) in cases {
        let err = load(&dir.config(toml), &[]).unwrap_err();
        assert_eq!(err.key(), Some(key), "{toml}: {err}");
        assert!(!err.to_string().contains("hello"), "{err}");
    }
}

#[test]
fn missing_file_and_syntax_errors() {
    let dir = Scratch::new("syntax");
    let missing = dir.0.join("nowhere.toml");
    let err = Config::load(Some(&missing), env(&[]))
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        format!(
            "config: cannot read {}: No such file or directory (os error 2)",
            missing.display()
        )
    );

    let path =
        dir.config("[server]\nlisten = \"127.0.0.1:1\"\n[github]\nwebhook_secret = \"s3cr3t\n");
    let err = load(&path, &[]).unwrap_err();
    let ConfigError::Syntax { position, .. } = &err else {
        panic!("expected a syntax error, got {err}");
    };
    assert_eq!(position.map(|(line, _)| line), Some(4));
    let message = err.to_string();
    assert!(
        message.starts_with(&format!(
            "config: {}: TOML syntax error at line 4, column ",
            path.display()
        )),
        "{message}"
    );
    assert!(!message.contains("s3cr3t"), "{message}");
    assert!(!message.contains('\n'), "{message}");
}

#[test]
fn render_redacted_hides_every_secret_and_shows_the_defaults() {
    let files = [
        ("github.pem", PEM),
        ("rotation", "gh-file-secret-1\ngh-file-secret-2\n"),
    ];
    let dir = Scratch::with("render", &files);
    let path = dir.config(
        r#"
[database]
url = "postgres://ade:db-password@db/ade?sslpassword=ssl-password"

[github]
app_id = 7
private_key_file = "{dir}/github.pem"
webhook_secret = "gh-inline-secret"
webhook_secret_file = "{dir}/rotation"

[gitea]
url = "https://gitea.example.com"
token = "gitea-token-value"
webhook_secret = "gitea-hook-secret"
"#,
    );
    let config = load(&path, &[]).unwrap();
    let text = config.render_redacted();
    for secret in [
        "db-password",
        "ssl-password",
        "gh-inline-secret",
        "gh-file-secret",
        "gitea-token-value",
        "gitea-hook-secret",
        "MIIB",
    ] {
        assert!(!text.contains(secret), "{secret} leaked:\n{text}");
    }
    assert_has(
        &text,
        "url = \"postgres://ade:<redacted>@db/ade?sslpassword=<redacted>\"",
    );
    assert_has(
        &text,
        "webhook_secret = [\"<redacted>\", \"<redacted>\", \"<redacted>\"]",
    );
    assert_has(&text, "token = \"<redacted>\"");
    assert_has(&text, "listen = \"127.0.0.1:8080\"");
    assert_has(&text, "max_body_bytes = 26214400");
    assert_has(&text, "lease_secs = 60");
    assert_has(&text, "api_url = \"https://api.github.com\"");
}

#[test]
fn render_redacted_is_itself_a_valid_config() {
    let dir = Scratch::new("roundtrip");
    let defaults = Config::load(None, env(&[])).unwrap().render_redacted();
    assert_has(&defaults, "# public_url: not set");
    assert_has(&defaults, "POST /webhooks/github refuses every delivery");
    let again = load(&dir.file("defaults.toml", &defaults), &[]).unwrap();
    assert_eq!(again.render_redacted(), defaults);

    let config = load(
        &dir.config("[server]\npublic_url = \"https://ade.example.com\"\n[gitea]\nurl = \"https://g.example\"\ntoken = \"t\"\nwebhook_secret = [\"a\", \"b\"]\n"),
        &[],
    )
    .unwrap();
    let text = config.render_redacted();
    let again = load(&dir.file("again.toml", &text), &[]).unwrap();
    assert_eq!(again.render_redacted(), text);
    assert_eq!(again.gitea.webhook_secrets.len(), 2);
}

#[test]
fn secrets_stay_out_of_debug_output() {
    let config = Config::load(
        None,
        env(&[
            ("ADE_GITHUB__WEBHOOK_SECRET", "debug-secret"),
            ("ADE_DATABASE__URL", "postgres://ade:debug-password@db/ade"),
        ]),
    )
    .unwrap();
    let debug = format!("{config:?}");
    assert!(
        !debug.contains("debug-secret") && !debug.contains("debug-password"),
        "{debug}"
    );
}

#[test]
fn the_example_file_loads() {
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/ade.example.toml");
    let config = Config::load(Some(&example), env(&[])).unwrap();
    let defaults = Config::load(None, env(&[])).unwrap();
    assert_eq!(config.render_redacted(), defaults.render_redacted());
}

#[test]
fn the_server_policy_is_read_and_checked_whole() {
    let dir = Scratch::new("server-policy");
    let path = dir.config(
        "[policy.limits]\nmax_parallelism = 3\n[policy.defaults.execution]\nparallelism = 2\n",
    );
    let config = load(&path, &[]).unwrap();
    assert_eq!(config.policy.limits.max_parallelism, 3);

    let path = dir.config("[policy.limits]\nmax_paralelism = 3\n");
    let err = load(&path, &[]).unwrap_err();
    assert!(
        err.to_string().contains("policy.limits.max_paralelism"),
        "{err}"
    );

    let path = dir.config(
        "[policy.limits]\nmax_parallelism = 3\n[policy.defaults.execution]\nparallelism = 9\n",
    );
    let err = load(&path, &[]).unwrap_err();
    assert!(
        err.to_string()
            .contains("policy.defaults.execution.parallelism"),
        "{err}"
    );
}

#[test]
fn one_registered_agent_is_the_default_unless_the_operator_names_one() {
    let agent = |name: &str| {
        format!(
            "[agents.{name}]\ncommand = [\"/bin/sh\", \"-c\", \"true\"]\nprompt = \"file\"\n\
             trust = \"trusted\"\n"
        )
    };
    let default_of = |text: &str| {
        let dir = Scratch::new("default-agent");
        let path = dir.config(text);
        Config::load(Some(&path), env(&[]))
            .unwrap()
            .policy
            .defaults
            .agents
            .default
    };
    assert_eq!(default_of(&agent("solo")).as_deref(), Some("solo"));
    assert_eq!(default_of(&format!("{}{}", agent("a"), agent("b"))), None);
    assert_eq!(
        default_of(&format!(
            "[policy.defaults.agents]\ndefault = \"b\"\n\n{}{}",
            agent("a"),
            agent("b")
        ))
        .as_deref(),
        Some("b")
    );
    assert_eq!(
        default_of(&format!(
            "[policy.limits]\nagents = [\"other\"]\n\n{}",
            agent("solo")
        )),
        None,
        "an agent the limits leave out is not made the default"
    );
}

/// A key file of 64 hex digits, as `ade secrets keygen` writes one.
fn key_file(dir: &Scratch, name: &str, byte: u8) -> PathBuf {
    let mut bytes = [byte; 32];
    bytes[0] ^= 0x5a;
    dir.file(name, format!("{}\n", hex::encode(bytes)))
}

#[test]
fn the_master_key_is_read_at_load_and_shown_only_by_its_id() {
    let dir = Scratch::new("master-key");
    let current = key_file(&dir, "current.key", 1);
    let previous = key_file(&dir, "previous.key", 2);
    let path = dir.config(&format!(
        "[secrets]\nmaster_key_file = {:?}\nprevious_master_key_files = [{:?}]\nencrypt_run_logs = true\n",
        current.display().to_string(),
        previous.display().to_string()
    ));
    let config = load(&path, &[]).unwrap();
    let ids: Vec<String> = config
        .secrets
        .keys
        .files()
        .map(|(_, id)| id.to_string())
        .collect();
    assert_eq!(ids.len(), 2);
    assert!(config.secrets.encrypt_run_logs);
    assert_eq!(
        config.secrets.keys.current().unwrap().id().to_string(),
        ids[0]
    );
    let shown = config.render_redacted();
    let key_text = fs::read_to_string(&current).unwrap();
    assert!(!shown.contains(key_text.trim()), "{shown}");
    assert_has(
        &shown,
        &format!("# key id {}: {}", ids[0], current.display()),
    );
    assert_has(&shown, "encrypt_run_logs = true");
    assert!(!format!("{config:?}").contains(key_text.trim()));
    assert_eq!(
        secret_files(&config),
        [
            ("secrets.master_key_file", current.clone()),
            ("secrets.previous_master_key_files", previous.clone())
        ]
    );
    let rendered = dir.file("rendered.toml", &shown);
    assert_eq!(load(&rendered, &[]).unwrap().render_redacted(), shown);

    // ADE_MASTER_KEY_FILE names the key without the section shape, and errors say so.
    let empty = dir.config("");
    let config = load(
        &empty,
        &[("ADE_MASTER_KEY_FILE", current.to_str().unwrap())],
    )
    .unwrap();
    assert_eq!(
        config.secrets.master_key_file.as_deref(),
        Some(current.as_path())
    );
    let missing = dir.0.join("missing.key");
    let err = load_err(
        &empty,
        &[("ADE_MASTER_KEY_FILE", missing.to_str().unwrap())],
    );
    assert_eq!(
        err,
        format!(
            "config: secrets.master_key_file: cannot read the master key file {}: No such file or \
             directory (os error 2) (from environment ADE_MASTER_KEY_FILE)",
            missing.display()
        )
    );
}

#[test]
fn a_bad_master_key_setting_stops_ade_naming_the_key_and_file() {
    let dir = Scratch::new("bad-master-key");
    let short = dir.file("short.key", "0123abcd\n");
    let good = key_file(&dir, "good.key", 3);
    let cases = [
        (
            format!(
                "[secrets]\nmaster_key_file = {:?}\n",
                short.display().to_string()
            ),
            "secrets.master_key_file: the master key file",
        ),
        (
            "[secrets]\nencrypt_run_logs = true\n".to_owned(),
            "secrets.encrypt_run_logs: needs secrets.master_key_file",
        ),
        (
            format!(
                "[secrets]\nprevious_master_key_files = [{:?}]\n",
                good.display().to_string()
            ),
            "secrets.previous_master_key_files: needs secrets.master_key_file",
        ),
        (
            format!(
                "[secrets]\nmaster_key_file = {:?}\nprevious_master_key_files = [{:?}]\n",
                good.display().to_string(),
                short.display().to_string()
            ),
            "secrets.previous_master_key_files: the master key file",
        ),
        (
            "[secrets]\nmaster_key_file = \"\"\n".to_owned(),
            "secrets.master_key_file: is an empty path",
        ),
    ];
    for (text, said) in cases {
        let err = load_err(&dir.config(&text), &[]);
        assert!(err.contains(said), "{text}: {err}");
        assert!(!err.contains("0123abcd"), "{err}");
    }
    let err = load_err(&dir.config(""), &[("ADE_SECRETS__ENCRYPT_RUN_LOGS", "yes")]);
    assert_has(&err, "secrets.encrypt_run_logs");
}

#[test]
fn an_agent_may_name_a_stored_secret() {
    let dir = Scratch::new("stored-secret");
    let agent = |secret: &str| {
        format!(
            "[agents.a]\ncommand = [\"/bin/sh\"]\ntrust = \"trusted\"\n[agents.a.secrets]\nTOKEN = {secret}\n"
        )
    };
    let config = load(&dir.config(&agent("{ store = \"API_TOKEN\" }")), &[]).unwrap();
    let secret = &config.agents[0].secrets[0];
    assert_eq!(
        secret.source,
        crate::runner::agent::SecretSource::Store("API_TOKEN".into())
    );
    assert!(
        secret.value.is_none(),
        "read when a run starts, not at load"
    );
    assert!(
        config
            .render_redacted()
            .contains("TOKEN = { store = \"API_TOKEN\" }")
    );
    let err = load_err(&dir.config(&agent("{ store = \"api-token\" }")), &[]);
    assert_has(
        &err,
        "agents.a.secrets.TOKEN: \"api-token\" is not a secret name",
    );
    let err = load_err(
        &dir.config(&agent("{ store = \"API_TOKEN\", env = \"HOME\" }")),
        &[],
    );
    assert_has(&err, "set exactly one of");
}

#[test]
fn every_file_holding_a_secret_is_listed_for_the_doctor() {
    let dir = Scratch::new("secret-files");
    let token = dir.file("token", "t0k3n\n");
    let hook = dir.file("hook", "h00k\n");
    let agent_key = dir.file("agent-key", "agent-value\n");
    let path = dir.config(&format!(
        "[gitea]\nurl = \"https://gitea.example\"\ntoken_file = {:?}\nwebhook_secret_file = [{:?}]\n\
         [agents.a]\ncommand = [\"/bin/sh\"]\ntrust = \"trusted\"\n[agents.a.secrets]\nKEY = {{ file = {:?} }}\n",
        token.display().to_string(),
        hook.display().to_string(),
        agent_key.display().to_string()
    ));
    let config = load(&path, &[]).unwrap();
    assert_eq!(
        secret_files(&config),
        [
            ("gitea.token_file", token),
            ("gitea.webhook_secret_file", hook),
            ("agents.a.secrets.KEY", agent_key)
        ]
    );
}

/// Checks `[jobs]`: workers, attempts, backoff base and most (ms), lease (s), poll interval (ms).
fn assert_jobs(
    config: &Config,
    (workers, attempts, base, most, lease, poll): (usize, u32, u64, u64, u64, u64),
) {
    let jobs = &config.jobs;
    assert_eq!(
        (
            jobs.workers,
            jobs.max_attempts,
            jobs.backoff_base,
            jobs.backoff_max
        ),
        (
            workers,
            attempts,
            Duration::from_millis(base),
            Duration::from_millis(most)
        )
    );
    assert_eq!(
        (jobs.lease, jobs.poll_interval),
        (Duration::from_secs(lease), Duration::from_millis(poll))
    );
}

/// Fails showing all of `text` unless it holds `needle`.
#[track_caller]
fn assert_has(text: &str, needle: &str) {
    assert!(text.contains(needle), "{needle:?} is not in:\n{text}");
}

/// The secret files a configuration read: the key that named each, and its path.
fn secret_files(config: &Config) -> Vec<(&str, PathBuf)> {
    config
        .secret_files
        .iter()
        .map(|f| (f.key.as_str(), f.path.clone()))
        .collect()
}

#[test]
fn the_doors_limits_are_read_and_checked() {
    let defaults = Config::load(None, env(&[])).unwrap();
    let server = &defaults.server;
    assert_eq!(
        (server.header_timeout, server.max_unverified_bodies),
        (Duration::from_secs(10), 64)
    );
    assert_eq!(
        server.failed_signatures,
        Some(crate::ingress::FailureLimit {
            failures: 30,
            window: Duration::from_secs(600)
        })
    );

    let dir = Scratch::new("door");
    let path = dir.config(
        r#"
[server]
header_timeout_secs = 5
max_unverified_bodies = 16
failed_signatures_per_address = 10
failed_signatures_window_secs = 60
"#,
    );
    let config = load(&path, &[]).unwrap();
    let server = &config.server;
    assert_eq!(
        (server.header_timeout, server.max_unverified_bodies),
        (Duration::from_secs(5), 16)
    );
    assert_eq!(
        server.failed_signatures,
        Some(crate::ingress::FailureLimit {
            failures: 10,
            window: Duration::from_secs(60)
        })
    );
    let shown = config.render_redacted();
    assert_has(&shown, "max_unverified_bodies = 16\n");

    // 0 turns the failure limit off, and says so in what check-config prints.
    let off = Config::load(
        None,
        env(&[("ADE_SERVER__FAILED_SIGNATURES_PER_ADDRESS", "0")]),
    )
    .unwrap();
    assert_eq!(off.server.failed_signatures, None);
    assert_has(
        &off.render_redacted(),
        "failed_signatures_per_address = 0\n",
    );

    let cases = [
        (
            "ADE_SERVER__HEADER_TIMEOUT_SECS",
            "0",
            "server.header_timeout_secs",
        ),
        (
            "ADE_SERVER__MAX_UNVERIFIED_BODIES",
            "0",
            "server.max_unverified_bodies",
        ),
        (
            "ADE_SERVER__MAX_UNVERIFIED_BODIES",
            "1000000",
            "server.max_unverified_bodies",
        ),
        (
            "ADE_SERVER__FAILED_SIGNATURES_WINDOW_SECS",
            "0",
            "server.failed_signatures_window_secs",
        ),
    ];
    for (var, value, key) in cases {
        let err = Config::load(None, env(&[(var, value)])).unwrap_err();
        assert_eq!(err.key(), Some(key), "{var}={value}: {err}");
    }
}

#[test]
fn the_metrics_token_and_address_are_read_and_checked() {
    let defaults = Config::load(None, env(&[])).unwrap();
    assert!(defaults.metrics.token.is_none() && defaults.metrics.listen.is_none());
    assert_has(
        &defaults.render_redacted(),
        "[metrics]\n# token: not set, so /metrics answers whoever reaches it\n",
    );

    let dir = Scratch::with("metrics", &[("metrics-token", "scrape-6f1d\n")]);
    let path = dir.config(
        r#"
[metrics]
token_file = "{dir}/metrics-token"
listen = "127.0.0.1:9100"
"#,
    );
    let config = load(&path, &[]).unwrap();
    assert_eq!(
        config.metrics.token.as_ref().map(|t| t.expose()),
        Some("scrape-6f1d")
    );
    assert_eq!(
        config.metrics.listen,
        Some("127.0.0.1:9100".parse().unwrap())
    );
    assert_eq!(
        secret_files(&config),
        [("metrics.token_file", dir.0.join("metrics-token"))]
    );
    let shown = config.render_redacted();
    assert_has(
        &shown,
        "[metrics]\ntoken = \"<redacted>\"\nlisten = \"127.0.0.1:9100\"",
    );
    assert!(!shown.contains("scrape-6f1d"), "{shown}");
    assert!(
        config.audit_masker().covers("scrape-6f1d"),
        "audit records never carry the token"
    );

    let cases = [
        ("ADE_METRICS__LISTEN", "nope", "metrics.listen"),
        ("ADE_METRICS__LISTEN", "127.0.0.1:8080", "metrics.listen"),
        ("ADE_METRICS__TOKEN", " ", "metrics.token"),
        ("ADE_METRICS__TOKEN", "two words", "metrics.token"),
    ];
    for (var, value, key) in cases {
        let err = Config::load(None, env(&[(var, value)])).unwrap_err();
        assert_eq!(err.key(), Some(key), "{var}={value}: {err}");
    }
    let err = load(&path, &[("ADE_METRICS__TOKEN", "inline")]).unwrap_err();
    assert_eq!(err.key(), Some("metrics.token_file"), "{err}");
    assert!(err.to_string().contains("not both"), "{err}");
    let err = load(&path, &[("ADE_METRICS__LISTEN", "127.0.0.1:8080")]).unwrap_err();
    assert!(err.to_string().contains("server.listen"), "{err}");
    let dir = Scratch::with(
        "metrics-lines",
        &[("metrics-token", "first\nsecond-line\n")],
    );
    let path = dir.config("[metrics]\ntoken_file = \"{dir}/metrics-token\"\n");
    let err = load(&path, &[]).unwrap_err();
    assert_eq!(err.key(), Some("metrics.token_file"), "{err}");
    assert!(!err.to_string().contains("second-line"), "{err}");
}

#[test]
fn dashboard_sign_in_needs_a_whole_client_and_an_address_to_come_back_to() {
    let defaults = Config::load(None, env(&[])).unwrap();
    assert!(!defaults.web.public && defaults.web.clients.is_empty());
    assert_eq!(defaults.web.session_ttl.as_secs(), 7 * 24 * 3600);
    assert_has(
        &defaults.render_redacted(),
        "[web]\npublic = false\nsession_hours = 168\naccess_cache_secs = 0\n# github_client_id: not set, so nobody signs in with github\n",
    );

    let pem = "-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----\n";
    let dir = Scratch::with("web", &[("gitea-secret", "oauth-7c1e\n"), ("app.pem", pem)]);
    let path = dir.config(
        r#"
[server]
public_url = "https://ade.example.org"

[github]
app_id = 7
private_key_file = "{dir}/app.pem"
api_url = "https://ghe.example.org/api/v3"

[gitea]
url = "https://code.example.org"
token = "bot-token"

[web]
session_hours = 12
access_cache_secs = 30
github_client_id = "Iv1.abc"
github_client_secret = "gh-secret-91"
gitea_client_id = "5f0e-client"
gitea_client_secret_file = "{dir}/gitea-secret"
"#,
    );
    let config = load(&path, &[]).unwrap();
    let web = &config.web;
    assert_eq!(web.session_ttl.as_secs(), 12 * 3600);
    assert_eq!(web.access_cache.as_secs(), 30);
    assert!(web.secure_cookies);
    let github = web.client(ForgeKind::Github).unwrap();
    assert_eq!(
        (github.web_url.as_str(), github.api_url.as_str()),
        ("https://ghe.example.org", "https://ghe.example.org/api/v3")
    );
    let gitea = web.client(ForgeKind::Gitea).unwrap();
    assert_eq!(gitea.client_secret.expose(), "oauth-7c1e");
    assert_eq!(gitea.api_url, "https://code.example.org/api/v1");
    assert_eq!(
        web.forge_url(ForgeKind::Gitea),
        Some("https://code.example.org")
    );
    assert!(
        secret_files(&config)
            .contains(&("web.gitea_client_secret_file", dir.0.join("gitea-secret")))
    );
    let shown = config.render_redacted();
    assert!(
        !shown.contains("gh-secret-91") && !shown.contains("oauth-7c1e"),
        "{shown}"
    );
    assert_has(
        &shown,
        "github_client_id = \"Iv1.abc\"\ngithub_client_secret = \"<redacted>\"",
    );
    assert!(config.audit_masker().covers("gh-secret-91"));
    assert!(config.audit_masker().covers("oauth-7c1e"));

    let app = [
        ("ADE_GITHUB__APP_ID", "7"),
        ("ADE_GITHUB__PRIVATE_KEY_FILE", "{pem}"),
    ];
    let pem_path = dir.0.join("app.pem").display().to_string();
    let app: Vec<(&str, &str)> = app
        .iter()
        .map(|(k, v)| (*k, if *v == "{pem}" { pem_path.as_str() } else { *v }))
        .collect();
    let with_app = |vars: &[(&'static str, &'static str)]| {
        let mut all = app.clone();
        all.extend_from_slice(vars);
        Config::load(None, env(&all))
    };
    let github_com = with_app(&[
        ("ADE_SERVER__PUBLIC_URL", "https://ade.example.org"),
        ("ADE_WEB__GITHUB_CLIENT_ID", "Ov23li"),
        ("ADE_WEB__GITHUB_CLIENT_SECRET", "s"),
    ])
    .unwrap();
    assert_eq!(
        github_com.web.client(ForgeKind::Github).unwrap().web_url,
        "https://github.com"
    );
    let loopback = with_app(&[
        ("ADE_SERVER__PUBLIC_URL", "http://127.0.0.1:8080"),
        ("ADE_WEB__GITHUB_CLIENT_ID", "Ov23li"),
        ("ADE_WEB__GITHUB_CLIENT_SECRET", "s"),
    ])
    .unwrap();
    assert!(!loopback.web.secure_cookies, "plain http on loopback");

    let client = [
        ("ADE_WEB__GITHUB_CLIENT_ID", "Ov23li"),
        ("ADE_WEB__GITHUB_CLIENT_SECRET", "s"),
    ];
    let with = |extra: &[(&'static str, &'static str)]| {
        let mut vars: Vec<(&'static str, &'static str)> = client.to_vec();
        vars.extend_from_slice(extra);
        with_app(&vars).unwrap_err()
    };
    let err = with(&[]);
    assert_eq!(err.key(), Some("web.github_client_id"), "{err}");
    assert!(err.to_string().contains("server.public_url"), "{err}");
    let err = with(&[("ADE_SERVER__PUBLIC_URL", "http://ade.example.org")]);
    assert!(err.to_string().contains("https"), "{err}");
    let err = with(&[("ADE_SERVER__PUBLIC_URL", "https://example.org/ade")]);
    assert!(err.to_string().contains("without a path"), "{err}");
    let err = Config::load(
        None,
        env(&[
            ("ADE_SERVER__PUBLIC_URL", "https://ade.example.org"),
            ("ADE_WEB__GITHUB_CLIENT_ID", "Ov23li"),
            ("ADE_WEB__GITHUB_CLIENT_SECRET", "s"),
        ]),
    )
    .unwrap_err();
    assert!(err.to_string().contains("github.app_id"), "{err}");
    let cases = [
        (
            "ADE_WEB__GITHUB_CLIENT_ID",
            "Ov23li",
            "web.github_client_secret",
        ),
        ("ADE_WEB__GITEA_CLIENT_SECRET", "s", "web.gitea_client_id"),
        ("ADE_WEB__SESSION_HOURS", "0", "web.session_hours"),
        ("ADE_WEB__SESSION_HOURS", "100000", "web.session_hours"),
        (
            "ADE_WEB__GITHUB_CLIENT_SECRET",
            " ",
            "web.github_client_secret",
        ),
        ("ADE_WEB__PUBLIC", "maybe", "web.public"),
        ("ADE_WEB__ACCESS_CACHE_SECS", "301", "web.access_cache_secs"),
    ];
    for (var, value, key) in cases {
        let err = Config::load(None, env(&[(var, value)])).unwrap_err();
        assert_eq!(err.key(), Some(key), "{var}={value}: {err}");
    }
    let err = Config::load(
        None,
        env(&[
            ("ADE_SERVER__PUBLIC_URL", "https://ade.example.org"),
            ("ADE_WEB__GITEA_CLIENT_ID", "c"),
            ("ADE_WEB__GITEA_CLIENT_SECRET", "s"),
        ]),
    )
    .unwrap_err();
    assert!(err.to_string().contains("gitea.url"), "{err}");
    let err = with_app(&[
        ("ADE_SERVER__PUBLIC_URL", "https://ade.example.org"),
        ("ADE_WEB__GITHUB_CLIENT_ID", "two words"),
        ("ADE_WEB__GITHUB_CLIENT_SECRET", "s"),
    ])
    .unwrap_err();
    assert_eq!(err.key(), Some("web.github_client_id"), "{err}");
}

#[test]
fn an_agent_network_is_allowlist_by_default_with_its_model_endpoints() {
    use crate::runner::env::{HostPort, Network};
    let network_of = |table: &str| {
        let dir = Scratch::new("agent-network");
        let path = dir.config(&format!(
            "[agents.a]\ncommand = [\"/bin/sh\", \"-c\", \"true\"]\ntrust = \"trusted\"\n{table}"
        ));
        load(&path, &[]).map(|config| config.agents[0].network.clone())
    };
    let hosts = |entries: &[&str]| {
        Network::Allowlist(
            entries
                .iter()
                .map(|e| HostPort::parse(e).unwrap())
                .collect(),
        )
    };
    assert_eq!(network_of("").unwrap(), hosts(&[]));
    assert_eq!(
        network_of("output = \"claude-json\"\n[agents.a.env]\nANTHROPIC_BASE_URL = \"http://127.0.0.1:4000/v1\"\nOTHER = \"https://x.example\"\n")
            .unwrap(),
        hosts(&["127.0.0.1:4000", "api.anthropic.com:443"])
    );
    assert_eq!(
        network_of("output = \"codex-json\"\n").unwrap(),
        hosts(&["api.openai.com"])
    );
    assert_eq!(
        network_of("network = \"allowlist\"\nallow_hosts = [\"API.example.com\", \"127.0.0.1:8080\", \"api.example.com:443\"]\n")
            .unwrap(),
        hosts(&["api.example.com", "127.0.0.1:8080"])
    );
    assert_eq!(network_of("network = \"off\"\n").unwrap(), Network::Off);
    assert_eq!(network_of("network = \"open\"\n").unwrap(), Network::Open);
}

#[test]
fn bad_network_settings_name_their_key_and_why() {
    let error_of = |table: &str| {
        let dir = Scratch::new("agent-network-bad");
        let path = dir.config(&format!(
            "[agents.a]\ncommand = [\"/bin/sh\", \"-c\", \"true\"]\ntrust = \"trusted\"\n{table}"
        ));
        load_err(&path, &[])
    };
    for (table, says) in [
        (
            "network = \"on\"\n",
            "agents.a.network: \"on\" is not off, allowlist or open",
        ),
        (
            "allow_hosts = [\"https://api.example.com\"]\n",
            "agents.a.allow_hosts[0]",
        ),
        (
            "allow_hosts = [\"https://api.example.com\"]\n",
            "has a scheme",
        ),
        (
            "allow_hosts = [\"ok.example\", \"\"]\n",
            "agents.a.allow_hosts[1]: is empty",
        ),
        ("allow_hosts = [\"api.example.com/v1\"]\n", "has a path"),
        ("allow_hosts = [\"*.example.com\"]\n", "has a wildcard"),
        (
            "network = \"open\"\nallow_hosts = [\"x.example\"]\n",
            "is only for network = \"allowlist\"",
        ),
    ] {
        let error = error_of(table);
        assert!(error.contains(says), "{table}: {error}");
    }
}
