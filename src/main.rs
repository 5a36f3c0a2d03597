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
    /// Run the service: webhooks, job workers, health and metrics.
    Serve,
    /// Apply database migrations and exit.
    Migrate,
    /// Print the effective configuration, secrets redacted, and exit.
    CheckConfig,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    telemetry::init(cli.log_format, std::env::var("ADE_LOG").ok().as_deref());
    let env = std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)));
    let config = match Config::load(cli.config.as_deref(), env) {
        Ok(config) => config,
        Err(error) => {
            eprintln!("{error}");
            return ExitCode::from(2);
        }
    };
    if let Command::CheckConfig = cli.command {
        print!("{}", config.render_redacted());
        return ExitCode::SUCCESS;
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
            Command::CheckConfig => unreachable!("handled before the runtime starts"),
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!("{error:#}");
            eprintln!("ade: {error:#}");
            ExitCode::FAILURE
        }
    }
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
    println!(
        "applied {applied} migration(s) to {}",
        config.database.redacted_url()
    );
    store.close().await;
    Ok(())
}

async fn shutdown_signal() -> &'static str {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).expect("install SIGTERM handler");
    tokio::select! {
        _ = term.recv() => "SIGTERM",
        _ = tokio::signal::ctrl_c() => "SIGINT",
    }
}
