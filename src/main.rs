//! The `ade` command line.

use ade::config::Config;
use ade::service::{Service, ServiceOptions};
use ade::store::{Store, StoreOptions};
use ade::telemetry::{self, LogFormat};
use anyhow::Context;
use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

/// ade turns a forge (GitHub, Gitea, Forgejo) into an agentic development environment.
#[derive(Parser)]
#[command(name = "ade", version, about)]
struct Cli {
    /// Path of ade.toml; without it, defaults that serve one machine (and ADE_SECTION__KEY
    /// environment overrides).
    #[arg(long, global = true, env = "ADE_CONFIG", value_name = "PATH")]
    config: Option<PathBuf>,

    /// Log format on standard error. The level is set by ADE_LOG (e.g. `info,ade::jobs=debug`).
    #[arg(long, global = true, value_enum, default_value = "human")]
    log_format: LogFormat,

    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Show the whole product in a minute, with no accounts, network or agent CLI: a forge
    /// simulator, an embedded ade and a script agent work a four-task goal from plan to summary.
    Demo {
        /// The forge to play.
        #[arg(long, value_enum, default_value = "github")]
        forge: DemoForgeArg,
        /// Where the database, run logs, worktrees and repositories go (a fresh temporary folder
        /// if absent); kept afterwards.
        #[arg(long)]
        data_dir: Option<PathBuf>,
        /// Leave the simulator and ade running afterwards, and print how to drive them.
        #[arg(long)]
        keep_running: bool,
    },
    /// Run the service: webhooks, job workers, health and metrics.
    Serve,
    /// Apply database migrations and exit.
    Migrate,
    /// Print the effective configuration, secrets redacted, and exit.
    CheckConfig,
    /// Check how a repository is set up for ade: credentials, permissions, webhook, branch
    /// protection, CI secrets, its policy file, and the registered agents (docs/doctor.md).
    /// Exits 1 when any finding is a problem.
    Doctor {
        /// The repository, OWNER/NAME.
        #[arg(long, value_name = "OWNER/NAME")]
        repo: String,
        /// The forge, needed only when ade.toml configures both.
        #[arg(long, value_enum)]
        forge: Option<ForgeArg>,
        /// Lines for people, or one JSON document for scripts.
        #[arg(long, value_enum, default_value = "text")]
        format: DoctorFormat,
    },
    /// The secret store: values sealed under the master key, for agents whose registration
    /// names them (docs/secrets.md). Values are read from standard input, never printed.
    Secrets {
        #[command(subcommand)]
        command: SecretsCommand,
    },
    /// API tokens for `/api/v1` (docs/api.md): each is printed once, when made; ade keeps only
    /// its SHA-256.
    Tokens {
        #[command(subcommand)]
        command: TokensCommand,
    },
    /// Repository policy files (`.ade/config.toml`).
    Policy {
        #[command(subcommand)]
        command: PolicyCommand,
    },
    /// Print a JSON Schema.
    Schema {
        /// Which schema.
        #[arg(value_enum)]
        which: SchemaName,
    },
    /// The audit log: verify that nobody rewrote it, read it, and manage the key that signs its
    /// checkpoints (docs/audit.md).
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Run the forge simulator on its own, with a seeded demo repository, for a test drive or a
    /// black-box check of a separately started `ade serve`.
    Sim {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:3300")]
        listen: std::net::SocketAddr,
        /// Where ade receives webhooks (`http://HOST:PORT/webhooks/github` or `/webhooks/gitea`).
        #[arg(long)]
        webhook_url: Option<String>,
        /// The forge dialect to speak.
        #[arg(long, value_enum, default_value = "github")]
        forge: SimForge,
        /// With the Gitea dialect, send Forgejo's headers too.
        #[arg(long)]
        forgejo: bool,
        /// Where the repositories and the app key go (a temporary folder if absent).
        #[arg(long)]
        data_dir: Option<PathBuf>,
        /// The secret webhooks are signed with.
        #[arg(long, default_value = "sim-webhook-secret")]
        webhook_secret: String,
    },
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Check the chain and its checkpoints; name the first changed, removed, inserted or
    /// reordered record, a cut tail, a bad signature or an overdue checkpoint. Exits 1 on any.
    Verify {
        /// The log folder (default: [audit] dir). With a folder given, only the checkpoints file
        /// is read; without, the database's checkpoints too.
        dir: Option<PathBuf>,
        /// The checkpoints file (default: [audit] checkpoints_file).
        #[arg(long, value_name = "FILE")]
        checkpoints: Option<PathBuf>,
        /// The public key (PEM) checkpoints must be signed with (default: the public half of
        /// [audit] signing_key_file).
        #[arg(long, value_name = "FILE")]
        public_key: Option<PathBuf>,
    },
    /// Print the records that match every filter given.
    Show {
        /// The log folder (default: [audit] dir).
        dir: Option<PathBuf>,
        /// The goal's issue number.
        #[arg(long)]
        goal: Option<i64>,
        /// The repository, OWNER/NAME.
        #[arg(long, value_name = "OWNER/NAME")]
        repo: Option<String>,
        /// The actor: a forge login, `ade`, or an operator's user name.
        #[arg(long)]
        actor: Option<String>,
        /// An action or its start (`command`, `task.merged`).
        #[arg(long)]
        action: Option<String>,
        /// The run's id.
        #[arg(long)]
        run: Option<i64>,
        /// From this time: RFC 3339, a day (2026-12-06) or an age (90m, 24h, 7d).
        #[arg(long)]
        since: Option<String>,
        /// Before this time, in the same forms.
        #[arg(long)]
        until: Option<String>,
        /// Lines for people, or the stored JSON lines.
        #[arg(long, value_enum, default_value = "text")]
        format: ade::audit::show::Format,
    },
    /// Write a new Ed25519 signing key (PKCS#8 PEM, owner-only) and print its public half.
    Keygen {
        /// Where to write it; an existing file is never replaced.
        file: PathBuf,
    },
    /// Print the public half of the configured signing key, for verifiers elsewhere.
    PublicKey,
}

#[derive(Subcommand)]
enum SecretsCommand {
    /// Store NAME, sealed under the master key; its value is read from standard input (never
    /// the command line), and one trailing line end is dropped.
    Set {
        /// The secret's name: a letter or _, then letters, digits and _ (at most 64).
        name: String,
    },
    /// Every stored secret's name, key id and when it was set; never a value.
    List,
    /// Remove NAME from the store.
    Delete {
        /// The secret's name.
        name: String,
    },
    /// Re-seal every value under the current master key (secrets.master_key_file), while the
    /// old key is still listed in secrets.previous_master_key_files; a running ade with both
    /// keys keeps working throughout.
    RotateKey,
    /// Write a new random master key to FILE (64 hex digits), readable by its owner alone;
    /// never overwrites a file.
    Keygen {
        /// Where the key file goes; it must not exist.
        file: PathBuf,
    },
}

#[derive(Subcommand)]
enum TokensCommand {
    /// Make a token and print it (once); it works until it expires or is revoked.
    Create {
        /// What the token is for (shown by `ade tokens list`): 1 to 64 printable characters.
        #[arg(long)]
        name: String,
        /// `read` or `write`. No route acts yet: today both read everything, and `write` is only
        /// recorded.
        #[arg(long, value_enum, default_value = "read")]
        scope: ScopeArg,
        /// Days until it expires, 1 to 3650.
        #[arg(long, default_value_t = 90, value_parser = clap::value_parser!(u32).range(1..=3650))]
        days: u32,
    },
    /// Every token: id, name, scope, when made, when it expires or was revoked, when last used.
    List,
    /// Revoke token ID at once: its next request is refused.
    Revoke {
        /// The token's id, from `ade tokens list`.
        id: i64,
    },
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum ScopeArg {
    /// Every GET route.
    Read,
    /// Recorded for the routes that act; none exists yet.
    Write,
}

#[derive(Subcommand)]
enum PolicyCommand {
    /// Validate a policy file; print every problem with its line and column.
    Check {
        /// The file, e.g. .ade/config.toml.
        file: PathBuf,
    },
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum SchemaName {
    /// The spec (task specification) of a goal.
    Spec,
    /// The repository policy, `.ade/config.toml`.
    Policy,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum DemoForgeArg {
    /// GitHub (a GitHub App, check runs, draft pull requests).
    Github,
    /// Gitea (a bot user, commit statuses).
    Gitea,
    /// Forgejo (the Gitea dialect with Forgejo's headers).
    Forgejo,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum ForgeArg {
    /// The GitHub App of [github].
    Github,
    /// The Gitea or Forgejo instance of [gitea].
    Gitea,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum DoctorFormat {
    /// Aligned lines.
    Text,
    /// A JSON document: `findings`, each with `check`, `status`, `message` and `fix`.
    Json,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum SimForge {
    /// GitHub's REST API and webhooks.
    Github,
    /// Gitea's API v1 and webhooks (Forgejo with --forgejo).
    Gitea,
}

fn main() -> ExitCode {
    ade::runner::env::keep_capabilities_to_ade();
    let cli = Cli::parse();
    let log_filter = std::env::var("ADE_LOG").ok();
    if let Command::Demo {
        forge,
        data_dir,
        keep_running,
    } = &cli.command
    {
        // The demo's own lines are the output, failures included; ade's log shows only errors.
        telemetry::init(
            cli.log_format,
            Some(log_filter.as_deref().unwrap_or("error")),
        );
        return demo(*forge, data_dir.clone(), *keep_running);
    }
    telemetry::init(cli.log_format, log_filter.as_deref());
    match &cli.command {
        Command::Policy {
            command: PolicyCommand::Check { file },
        } => return policy_check(file),
        Command::Audit {
            command: AuditCommand::Keygen { file },
        } => {
            return match ade::audit::cli::keygen(file, &mut std::io::stdout()) {
                Ok(()) => ExitCode::SUCCESS,
                Err(error) => {
                    eprintln!("ade audit keygen: {error:#}");
                    ExitCode::FAILURE
                }
            };
        }
        Command::Schema { which } => {
            print!(
                "{}",
                match which {
                    SchemaName::Spec => ade::spec::json_schema(),
                    SchemaName::Policy => ade::policy::json_schema(),
                }
            );
            return ExitCode::SUCCESS;
        }
        Command::Secrets {
            command: SecretsCommand::Keygen { file },
        } => return keygen(file),
        _ => {}
    }
    let env = std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)));
    let config = match Config::load(cli.config.as_deref(), env) {
        Ok(config) => config,
        Err(error) => {
            eprintln!("{error}");
            return ExitCode::from(2);
        }
    };
    if let Command::Audit { command } = &cli.command {
        return audit(&config, command);
    }
    if let Command::CheckConfig = cli.command {
        print!("{}", config.render_redacted());
        return ExitCode::SUCCESS;
    }
    if let Command::Doctor {
        repo,
        forge,
        format,
    } = &cli.command
    {
        return doctor(&config, repo, *forge, *format);
    }
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("ade: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Serve => serve(&config).await,
            Command::Migrate => migrate(&config).await,
            Command::Secrets { command } => secrets(&config, command).await,
            Command::Tokens { command } => tokens(&config, command).await,
            Command::Sim {
                listen,
                webhook_url,
                forge,
                forgejo,
                data_dir,
                webhook_secret,
            } => {
                let mut options = ade::sim::StandaloneOptions::new(listen);
                options.webhook_url = webhook_url;
                options.forge = match forge {
                    SimForge::Github => ade::forge::ForgeKind::Github,
                    SimForge::Gitea => ade::forge::ForgeKind::Gitea,
                };
                options.forgejo = forgejo;
                options.data_dir = data_dir;
                options.webhook_secret = webhook_secret;
                ade::sim::run_standalone(options).await
            }
            Command::CheckConfig
            | Command::Audit { .. }
            | Command::Doctor { .. }
            | Command::Policy { .. }
            | Command::Schema { .. }
            | Command::Demo { .. } => {
                unreachable!("handled before the runtime starts")
            }
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            // Once: a plain line for people, or a record in the JSON log for machines.
            match cli.log_format {
                LogFormat::Human => eprintln!("ade: {error:#}"),
                LogFormat::Json => tracing::error!("{error:#}"),
            }
            ExitCode::FAILURE
        }
    }
}

/// `ade demo`: exit status 0 only if every step of the story happened.
fn demo(forge: DemoForgeArg, data_dir: Option<PathBuf>, keep_running: bool) -> ExitCode {
    use std::io::IsTerminal;
    let mut options = ade::demo::DemoOptions::new(match forge {
        DemoForgeArg::Github => ade::demo::DemoForge::Github,
        DemoForgeArg::Gitea => ade::demo::DemoForge::Gitea,
        DemoForgeArg::Forgejo => ade::demo::DemoForge::Forgejo,
    });
    options.data_dir = data_dir;
    options.keep_running = keep_running;
    options.tty = std::io::stdout().is_terminal();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("ade: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let mut out = std::io::stdout();
    match runtime.block_on(ade::demo::run(options, &mut out)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("ade demo: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// `ade audit …`: exit status 1 when verification finds a problem, 2 for a usage error.
fn audit(config: &Config, command: &AuditCommand) -> ExitCode {
    use ade::audit::{cli, show};
    let mut out = std::io::stdout();
    let result = match command {
        AuditCommand::Verify {
            dir,
            checkpoints,
            public_key,
        } => {
            let args = cli::VerifyArgs {
                dir: dir.clone(),
                checkpoints: checkpoints.clone(),
                public_key: public_key.clone(),
            };
            let database = StoreOptions {
                url: config.database.url.expose().to_string(),
                max_connections: 1,
            };
            match tokio::runtime::Runtime::new() {
                Ok(runtime) => runtime
                    .block_on(cli::verify(&config.audit, Some(database), &args, &mut out))
                    .map(|whole| {
                        if whole {
                            ExitCode::SUCCESS
                        } else {
                            ExitCode::from(1)
                        }
                    }),
                Err(error) => Err(error.into()),
            }
        }
        AuditCommand::Show {
            dir,
            goal,
            repo,
            actor,
            action,
            run,
            since,
            until,
            format,
        } => {
            let now = ade::clock::unix_ms();
            let time = |text: &Option<String>| {
                text.as_deref()
                    .map(|t| show::parse_time(t, now))
                    .transpose()
            };
            let (since, until) = match (time(since), time(until)) {
                (Ok(since), Ok(until)) => (since, until),
                (Err(error), _) | (_, Err(error)) => {
                    eprintln!("ade audit show: {error}");
                    return ExitCode::from(2);
                }
            };
            let filter = show::Filter {
                goal: *goal,
                repository: repo.clone(),
                actor: actor.clone(),
                action: action.clone(),
                run: *run,
                since,
                until,
            };
            cli::show(&config.audit, dir.as_deref(), &filter, *format, &mut out)
                .map(|_| ExitCode::SUCCESS)
        }
        AuditCommand::PublicKey => {
            cli::public_key(&config.audit, &mut out).map(|()| ExitCode::SUCCESS)
        }
        AuditCommand::Keygen { .. } => unreachable!("handled before the configuration is read"),
    };
    result.unwrap_or_else(|error| {
        let closed = error
            .downcast_ref::<std::io::Error>()
            .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe);
        if closed {
            // The reader (`| head`) had enough.
            return ExitCode::SUCCESS;
        }
        eprintln!("ade audit: {error:#}");
        ExitCode::FAILURE
    })
}

async fn serve(config: &Config) -> anyhow::Result<()> {
    let mut service = Service::start(config, ServiceOptions::default()).await?;
    tokio::select! {
        result = service.wait() => result,
        signal = shutdown_signal() => {
            tracing::info!(signal, "shutting down: no new requests; finishing those in flight");
            service.shutdown().await
        }
    }
}

async fn migrate(config: &Config) -> anyhow::Result<()> {
    let store = Store::connect(StoreOptions {
        url: config.database.url.expose().to_string(),
        max_connections: config.database.max_connections,
    })
    .await
    .with_context(|| format!("open {}", config.database.redacted_url()))?;
    let applied = store.migrate().await.context("migrate")?;
    let audit = ade::audit::AuditLog::open(
        config.audit.clone(),
        config.audit_masker(),
        std::sync::Arc::new(ade::clock::SystemClock),
    )?;
    let entry = ade::store::audit::Entry::new(
        ade::clock::unix_ms(),
        ade::store::audit::ActorKind::Operator,
        ade::audit::operator(),
        "admin.migrate",
        "database",
        ade::store::audit::Outcome::Ok,
    )
    .with("applied", applied);
    audit.record_now(&store, &[entry]).await?;
    audit.checkpoint(&store).await?;
    println!(
        "applied {applied} migration(s) to {}",
        config.database.redacted_url()
    );
    store.close().await;
    Ok(())
}

/// `ade secrets keygen FILE`: a new key file, only its owner may read it; never overwrites one.
fn keygen(file: &std::path::Path) -> ExitCode {
    match ade::secrets::MasterKey::generate_file(file) {
        Ok(key) => {
            println!(
                "wrote a new master key to {} (key id {}); set secrets.master_key_file or \
                 ADE_MASTER_KEY_FILE to it",
                file.display(),
                key.id()
            );
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("ade secrets keygen: {error}");
            ExitCode::FAILURE
        }
    }
}

/// `ade secrets set|list|delete|rotate-key` on the configured database, with the configured keys.
async fn secrets(config: &Config, command: SecretsCommand) -> anyhow::Result<()> {
    use ade::secrets::SecretStore;
    let value = match &command {
        SecretsCommand::Set { name } => {
            ade::secrets::name::check(name).map_err(anyhow::Error::msg)?;
            if config.secrets.keys.current().is_none() {
                return Err(ade::secrets::SecretError::NoMasterKey.into());
            }
            let value = read_secret_value(name)?;
            let forge = config.forge_secrets();
            let app_key = config
                .github
                .private_key_file
                .as_ref()
                .and_then(|path| std::fs::read_to_string(path).ok());
            if forge.map(|s| s.expose()).any(|v| v == value.expose())
                || app_key.is_some_and(|pem| pem.trim() == value.expose().trim())
            {
                anyhow::bail!(
                    "the value of {name} is one of ade's forge credentials, which agents never see"
                );
            }
            Some(value)
        }
        _ => None,
    };
    let (store, audit) = admin_store(config).await?;
    let secrets = SecretStore::new(store.clone(), config.secrets.keys.clone());
    let done = async {
        match command {
            SecretsCommand::Set { name } => {
                let value = value.expect("read above");
                let key_id = secrets.set(&name, &value).await?;
                let entry = admin_entry("admin.secrets.set", format!("secret {name}"))
                    .with("key_id", key_id.to_string());
                audit.record_now(&store, &[entry]).await?;
                audit.checkpoint(&store).await?;
                println!("stored secret {name}, sealed under key id {key_id}");
                Ok(())
            }
            SecretsCommand::List => list_secrets(&secrets).await,
            SecretsCommand::Delete { name } => {
                secrets.delete(&name).await?;
                let entry = admin_entry("admin.secrets.delete", format!("secret {name}"));
                audit.record_now(&store, &[entry]).await?;
                audit.checkpoint(&store).await?;
                println!("deleted secret {name}");
                Ok(())
            }
            SecretsCommand::RotateKey => {
                rotate_key(&secrets, config.secrets.encrypt_run_logs).await?;
                let entry = admin_entry("admin.secrets.rotate_key", "secret store".into());
                audit.record_now(&store, &[entry]).await?;
                audit.checkpoint(&store).await?;
                Ok(())
            }
            SecretsCommand::Keygen { .. } => {
                unreachable!("handled before the configuration is read")
            }
        }
    }
    .await;
    store.close().await;
    done
}

/// The migrated store and the audit log an operator's command changes.
async fn admin_store(config: &Config) -> anyhow::Result<(Store, ade::audit::AuditLog)> {
    let store = Store::connect(StoreOptions {
        url: config.database.url.expose().to_string(),
        max_connections: 2,
    })
    .await
    .with_context(|| format!("open {}", config.database.redacted_url()))?;
    store.migrate().await.context("migrate")?;
    let audit = ade::audit::AuditLog::open(
        config.audit.clone(),
        config.audit_masker(),
        std::sync::Arc::new(ade::clock::SystemClock),
    )?;
    Ok((store, audit))
}

/// The audit record of an operator's change, done now.
fn admin_entry(action: &str, subject: String) -> ade::store::audit::Entry {
    ade::store::audit::Entry::new(
        ade::clock::unix_ms(),
        ade::store::audit::ActorKind::Operator,
        ade::audit::operator(),
        action,
        subject,
        ade::store::audit::Outcome::Ok,
    )
}

/// `ade tokens …`: every change is an audit record.
async fn tokens(config: &Config, command: TokensCommand) -> anyhow::Result<()> {
    use ade::store::api_tokens::{self, NewToken, TokenScope};
    use ade::web::token;
    if let TokensCommand::Create { name, .. } = &command {
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 64 || name.chars().any(ade::telemetry::hidden)
        {
            anyhow::bail!("a token's name is 1 to 64 printable characters");
        }
    }
    let (store, audit) = admin_store(config).await?;
    let done = async {
        let now = ade::clock::unix_ms();
        match command {
            TokensCommand::Create { name, scope, days } => {
                let name = name.trim();
                let scope = match scope {
                    ScopeArg::Read => TokenScope::Read,
                    ScopeArg::Write => TokenScope::Write,
                };
                let secret = token::mint(token::API)?;
                let expires_at = now + i64::from(days) * 86_400_000;
                let mut conn = store.writer().await?;
                let id = api_tokens::insert(
                    &mut conn,
                    &NewToken {
                        name,
                        scope,
                        hash: &token::hash(&secret),
                        expires_at,
                    },
                    now,
                )
                .await?;
                drop(conn);
                let entry = admin_entry("admin.tokens.create", format!("api token {id}"))
                    .with("name", name.to_string())
                    .with("scope", scope.as_str().to_string())
                    .with("expires_at", expires_at.to_string());
                audit.record_now(&store, &[entry]).await?;
                audit.checkpoint(&store).await?;
                eprintln!(
                    "made API token {id} ({name}, {}), expiring in {days} days; it is shown \
                     this once:",
                    scope.as_str()
                );
                println!("{secret}");
                Ok(())
            }
            TokensCommand::List => {
                let mut conn = store.reader().await?;
                let rows = api_tokens::list(&mut conn).await?;
                if rows.is_empty() {
                    println!("no API tokens");
                }
                for row in rows {
                    let standing = match row.revoked_at {
                        Some(at) => format!("revoked {}", ade::clock::rfc3339(at)),
                        None if row.expires_at <= now => {
                            format!("expired {}", ade::clock::rfc3339(row.expires_at))
                        }
                        None => format!("expires {}", ade::clock::rfc3339(row.expires_at)),
                    };
                    let used = row.last_used_at.map_or("never used".to_string(), |at| {
                        format!("last used {}", ade::clock::rfc3339(at))
                    });
                    println!(
                        "{}\t{}\t{}\tmade {}\t{standing}\t{used}",
                        row.id,
                        ade::telemetry::shown(&row.name),
                        row.scope.as_str(),
                        ade::clock::rfc3339(row.created_at),
                    );
                }
                Ok(())
            }
            TokensCommand::Revoke { id } => {
                let mut conn = store.writer().await?;
                if !api_tokens::revoke(&mut conn, id, now).await? {
                    anyhow::bail!("no API token {id} that is not revoked already");
                }
                drop(conn);
                let entry = admin_entry("admin.tokens.revoke", format!("api token {id}"));
                audit.record_now(&store, &[entry]).await?;
                audit.checkpoint(&store).await?;
                println!("revoked API token {id}");
                Ok(())
            }
        }
    }
    .await;
    store.close().await;
    done
}

/// The value of `ade secrets set NAME`: standard input to its end (or one line typed at a
/// terminal, not echoed), without one trailing line end; empty, not UTF-8 or too long is refused.
fn read_secret_value(name: &str) -> anyhow::Result<ade::secret::Secret> {
    use std::io::{IsTerminal, Read};
    let max = ade::secrets::store::MAX_VALUE_BYTES;
    let mut bytes = Vec::new();
    if std::io::stdin().is_terminal() {
        eprint!("value of {name} (not shown): ");
        let line = read_hidden_line().context("read the value from the terminal")?;
        bytes = line.into_bytes();
    } else {
        std::io::stdin()
            .lock()
            .take(max as u64 + 3)
            .read_to_end(&mut bytes)
            .context("read the value from standard input")?;
    }
    if bytes.ends_with(b"\r\n") {
        bytes.truncate(bytes.len() - 2);
    } else if bytes.ends_with(b"\n") {
        bytes.truncate(bytes.len() - 1);
    }
    if bytes.is_empty() {
        anyhow::bail!(
            "no value for {name} on standard input: pipe it in (`ade secrets set {name} < FILE`) \
             or type it at the prompt; it is never taken from the command line"
        );
    }
    if bytes.len() > max {
        anyhow::bail!("the value of {name} is longer than 64 KiB");
    }
    let text = String::from_utf8(bytes)
        .map_err(|_| anyhow::anyhow!("the value of {name} is not UTF-8 text"))?;
    Ok(ade::secret::Secret::new(text))
}

/// One line from the terminal on standard input, with echo off while it is typed.
fn read_hidden_line() -> std::io::Result<String> {
    // SAFETY: termios is plain data; tcgetattr fills it for fd 0, which is a terminal here.
    let mut saved: libc::termios = unsafe { std::mem::zeroed() };
    if unsafe { libc::tcgetattr(0, &mut saved) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    let mut quiet = saved;
    quiet.c_lflag &= !libc::ECHO;
    quiet.c_lflag |= libc::ECHONL;
    // SAFETY: fd 0 is a terminal and `quiet` a termios read from it.
    if unsafe { libc::tcsetattr(0, libc::TCSANOW, &quiet) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    let mut line = String::new();
    let read = std::io::stdin().read_line(&mut line);
    // SAFETY: restores what tcgetattr read.
    unsafe { libc::tcsetattr(0, libc::TCSANOW, &saved) };
    read.map(|_| line)
}

/// `ade secrets list`: one line per secret, and what to do about values under a previous key.
async fn list_secrets(secrets: &ade::secrets::SecretStore) -> anyhow::Result<()> {
    let listed = secrets.list().await?;
    if listed.is_empty() {
        println!("no secret is stored");
        return Ok(());
    }
    let keys = secrets.keys();
    let width = listed
        .iter()
        .map(|s| s.name.len())
        .max()
        .unwrap_or(4)
        .max(4);
    println!("{:width$}  {:16}  {:20}  KEY", "NAME", "KEY ID", "UPDATED");
    let mut previous = 0;
    for secret in &listed {
        let key = match (keys.current(), keys.get(&secret.key_id)) {
            (Some(current), _) if current.id().as_str() == secret.key_id => "current",
            (_, Some(_)) => {
                previous += 1;
                "previous"
            }
            (_, None) => "not configured",
        };
        println!(
            "{:width$}  {:16}  {:20}  {key}",
            secret.name,
            secret.key_id,
            ade::clock::rfc3339(secret.updated_at)
        );
    }
    if previous > 0 {
        println!(
            "{previous} secret(s) are sealed under a previous key: `ade secrets rotate-key` \
             re-seals them under the current one"
        );
    }
    Ok(())
}

/// `ade secrets rotate-key`: how many values moved to the current key; values that did not open
/// are named on standard error and make it fail. With sealed run logs, it says that they keep
/// their key.
async fn rotate_key(secrets: &ade::secrets::SecretStore, sealed_logs: bool) -> anyhow::Result<()> {
    let rotation = secrets.rotate().await?;
    let key_id = rotation.key_id.map(|id| id.to_string()).unwrap_or_default();
    println!(
        "re-sealed {} secret(s) under key id {key_id}; {} already were{}",
        rotation.resealed,
        rotation.current,
        match rotation.changed {
            0 => String::new(),
            n => format!("; {n} were set again meanwhile"),
        }
    );
    if sealed_logs {
        println!(
            "run logs sealed under an earlier key keep it: keep its file in \
             secrets.previous_master_key_files while those logs are kept"
        );
    }
    for (name, reason) in &rotation.failed {
        eprintln!("the stored secret {name} was not re-sealed: {reason}");
    }
    if !rotation.failed.is_empty() {
        anyhow::bail!(
            "{} secret(s) could not be opened and stay under their old key",
            rotation.failed.len()
        );
    }
    Ok(())
}

/// `ade doctor`: the report on standard output; exit 1 when it holds a problem, 2 when it could
/// not run at all.
fn doctor(config: &Config, repo: &str, forge: Option<ForgeArg>, format: DoctorFormat) -> ExitCode {
    let asked = forge.map(|f| match f {
        ForgeArg::Github => ade::forge::ForgeKind::Github,
        ForgeArg::Gitea => ade::forge::ForgeKind::Gitea,
    });
    let kind = match ade::doctor::choose_forge(config, asked) {
        Ok(kind) => kind,
        Err(message) => {
            eprintln!("ade doctor: {message}");
            return ExitCode::from(2);
        }
    };
    if ade::forge::RepoRef::parse(repo, None).is_none() {
        eprintln!(
            "ade doctor: --repo {}: expected OWNER/NAME, e.g. --repo acme/widgets",
            ade::doctor::shown(repo)
        );
        return ExitCode::from(2);
    }
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("ade: cannot start the async runtime: {error}");
            return ExitCode::from(2);
        }
    };
    let report = runtime.block_on(ade::doctor::run(config, kind, repo));
    print!(
        "{}",
        report.render(match format {
            DoctorFormat::Text => ade::doctor::Format::Text,
            DoctorFormat::Json => ade::doctor::Format::Json,
        })
    );
    if report.has_problems() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

/// `ade policy check FILE`: every problem on its own line as `file:line:column: key: message`.
fn policy_check(file: &std::path::Path) -> ExitCode {
    match ade::policy::check_file(file) {
        Ok(_) => {
            println!("{}: ok", file.display());
            ExitCode::SUCCESS
        }
        Err(problems) => {
            for problem in &problems {
                eprintln!("{problem}");
            }
            ExitCode::from(1)
        }
    }
}

async fn shutdown_signal() -> &'static str {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).expect("install SIGTERM handler");
    tokio::select! {
        _ = term.recv() => "SIGTERM",
        _ = tokio::signal::ctrl_c() => "SIGINT",
    }
}
