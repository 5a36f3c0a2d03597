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
        format: AuditFormat,
    },
    /// Write a new Ed25519 signing key (PKCS#8 PEM, owner-only) and print its public half.
    Keygen {
        /// Where to write it; an existing file is never replaced.
        file: PathBuf,
    },
    /// Print the public half of the configured signing key, for verifiers elsewhere.
    PublicKey,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum AuditFormat {
    /// One aligned line per record.
    Text,
    /// The stored JSON lines.
    Jsonl,
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
            let format = match format {
                AuditFormat::Text => show::Format::Text,
                AuditFormat::Jsonl => show::Format::Jsonl,
            };
            cli::show(&config.audit, dir.as_deref(), &filter, format, &mut out)
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
        ade::audit::Masker::default(),
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
/// Keys ade does not act on yet are reported the same way but leave the file valid.
fn policy_check(file: &std::path::Path) -> ExitCode {
    match ade::policy::check_file(file) {
        Ok(policy) => {
            let warnings = ade::policy::warnings(&policy);
            for warning in &warnings {
                eprintln!("{warning}");
            }
            match warnings.len() {
                0 => println!("{}: ok", file.display()),
                n => println!("{}: ok, with {n} warning(s)", file.display()),
            }
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
