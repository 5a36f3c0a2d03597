//! `ingest_bench`: how many webhook deliveries per second `ade serve` stores durably, at what
//! latency and memory, and how that compares with the limit the same machine sets in the same run.
//!
//! ```text
//! cargo build --release          # the binary under test; this example does not build it
//! cargo run --release --example ingest_bench -- [--clients 32] [--duration 10] [--rate 1000]
//!                                               [--database postgres://...] [--ade PATH]
//! ```
//!
//! A run:
//! 1. starts `target/release/ade serve` in a child process on a free loopback port, with a fresh
//!    data dir (or a fresh PostgreSQL schema) and a GitHub webhook secret, and reads its idle RSS;
//! 2. sends it signed 25 KB `issue_comment` deliveries from N keep-alive clients, first a warm-up,
//!    then the timed phase: closed loop (throughput) or `--rate` open loop (latency at a load);
//! 3. reads its peak RSS and, from `/metrics`, the mean group-commit batch of the timed phase;
//! 4. stops it and measures the limit on the same machine in the same run (closed loop only): the
//!    HTTP ceiling (same client against a handler that verifies and parses but stores nothing)
//!    and the disk floor (the same rows inserted straight into the database in batches of ade's
//!    mean group commit); the lower of the two is the limit. On SQLite also the raw floor: the
//!    rows a batch of ade's inbox writes, through SQLite's C library with no driver between;
//! 5. prints one summary block for docs/benchmarks.md.
//!
//! Shared machines are noisy; the ratio to the same-run limit is the figure that travels between
//! runs, the absolute rate less so.

mod ade;
mod ceiling;
mod database;
mod load;
mod machine;
mod payload;
mod raw_floor;
mod report;

use anyhow::Context;
use clap::Parser;
use database::Database;
use load::{Length, Pace};
use payload::Deliveries;
use report::Report;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// The GitHub webhook secret ade is started with and the bodies are signed with.
const SECRET: &str = "ingest-bench-webhook-secret";

/// Deliveries per transaction of the raw floor: the batch ade's inbox reaches under the closed loop
/// of 32 clients, fixed so that the raw floor compares across runs and builds.
const RAW_BATCH: usize = 16;

/// Load generator for ade's webhook ingress. Run `cargo build --release` first: this measures the
/// release `ade` binary, and `cargo run --example` does not rebuild it.
#[derive(Parser, Debug)]
#[command(name = "ingest_bench")]
struct Args {
    /// The ade binary to start (`ade serve`); relative paths are tried from the current
    /// directory, then from the package root.
    #[arg(long, value_name = "PATH", default_value = "target/release/ade")]
    ade: PathBuf,
    /// A postgres:// URL; the run uses a fresh schema in it. Default: SQLite in the run folder.
    #[arg(long, value_name = "URL")]
    database: Option<String>,
    /// Concurrent clients, each on its own keep-alive HTTP/1.1 connection.
    #[arg(long, default_value_t = 32)]
    clients: usize,
    /// Seconds of timed load (after the warm-up).
    #[arg(long, value_name = "SECS", default_value_t = 10.0)]
    duration: f64,
    /// Send this many requests instead of running for --duration.
    #[arg(long, value_name = "N")]
    requests: Option<u64>,
    /// Seconds of untimed load first, so connections, caches and the database file are warm.
    #[arg(long, value_name = "SECS", default_value_t = 2.0)]
    warmup: f64,
    /// Open loop: requests due at this many per second, latency counted from when each was due.
    /// The limit is not measured in this mode.
    #[arg(long, value_name = "PER_SEC")]
    rate: Option<f64>,
    /// Size of every delivery body.
    #[arg(long, value_name = "BYTES", default_value_t = 25 * 1024)]
    body_bytes: usize,
    /// Repositories the deliveries are spread over.
    #[arg(long, default_value_t = 8)]
    repositories: usize,
    /// Seconds to watch ade's worker handle the backlog after the load, for its drain rate
    /// (0 to skip).
    #[arg(long, value_name = "SECS", default_value_t = 3.0)]
    drain: f64,
    /// Skip measuring the HTTP ceiling and the disk floor.
    #[arg(long)]
    no_limit: bool,
    /// Extra environment for ade (repeatable), e.g. `--ade-env ADE_LOG=warn`.
    #[arg(long = "ade-env", value_name = "KEY=VALUE")]
    ade_env: Vec<String>,
    /// Where the run folder (ade's data dir, its log, the floor database) is made; default the
    /// system temp dir. The disk floor is measured there too, so pick the disk you care about.
    #[arg(long, value_name = "DIR")]
    work_dir: Option<PathBuf>,
    /// Keep the run folder (and the PostgreSQL schema) afterwards.
    #[arg(long)]
    keep: bool,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    anyhow::ensure!(args.clients > 0, "--clients must be at least 1");
    anyhow::ensure!(args.duration > 0.0, "--duration must be positive");
    anyhow::ensure!(args.rate.is_none_or(|r| r > 0.0), "--rate must be positive");
    let binary = locate(&args.ade);
    ade::warn_if_stale(&binary)?;
    let extra_env = args
        .ade_env
        .iter()
        .map(|kv| {
            let (k, v) = kv.split_once('=').context("--ade-env takes KEY=VALUE")?;
            Ok((k.to_string(), v.to_string()))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;

    let parent = args.work_dir.clone().unwrap_or_else(std::env::temp_dir);
    let run_dir = parent.join(format!("ade-ingest-bench-{}", std::process::id()));
    std::fs::create_dir_all(&run_dir).with_context(|| format!("create {}", run_dir.display()))?;
    let db = Database::create(args.database.as_deref(), &run_dir).await?;

    let outcome = run(&args, &binary, &extra_env, &run_dir, &db).await;
    if args.keep {
        eprintln!(
            "kept {} (and the database schema, if any)",
            run_dir.display()
        );
    } else {
        if let Err(error) = db.drop_schema().await {
            eprintln!("warning: could not drop the benchmark schema: {error:#}");
        }
        let _ = std::fs::remove_dir_all(&run_dir);
    }
    let report = outcome?;
    println!("{report}");
    Ok(())
}

async fn run(
    args: &Args,
    binary: &Path,
    extra_env: &[(String, String)],
    run_dir: &Path,
    db: &Database,
) -> anyhow::Result<Report> {
    eprintln!("building and signing {}-byte bodies ...", args.body_bytes);
    let deliveries = Arc::new(Deliveries::build(
        SECRET,
        args.body_bytes,
        args.repositories,
    )?);
    let http = load::client(args.clients)?;
    let control = load::client(1)?;
    let pace = args.rate.map_or(Pace::Closed, |rate| Pace::Open { rate });
    let length = args.requests.map_or(
        Length::Time(Duration::from_secs_f64(args.duration)),
        Length::Requests,
    );
    let warmup = Length::Time(Duration::from_secs_f64(args.warmup));

    let mut env = db.ade_env();
    env.push(("ADE_GITHUB__WEBHOOK_SECRET".into(), SECRET.into()));
    env.push(("ADE_SERVER__SHUTDOWN_GRACE_SECS".into(), "5".into()));
    env.extend(extra_env.iter().cloned());
    let ade = ade::Ade::start(binary, &env, run_dir, &control).await?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (idle_rss, _) = ade.rss()?;
    eprintln!(
        "ade (pid {}) ready at {}; idle RSS {:.1} MB",
        ade.pid(),
        ade.base,
        mb(idle_rss)
    );

    let url = format!("{}/webhooks/github", ade.base);
    if args.warmup > 0.0 {
        eprintln!("warm-up: {} s ...", args.warmup);
        load::run(&http, &url, &deliveries, args.clients, pace, warmup).await;
    }
    let before = ade.scrape(&control).await?;
    eprintln!("timed load against ade ...");
    let service = load::run(&http, &url, &deliveries, args.clients, pace, length).await;
    let after = ade.scrape(&control).await?;
    let (_, peak_rss) = ade.rss()?;
    let drained = if args.drain > 0.0 {
        eprintln!("watching the backlog drain for {} s ...", args.drain);
        let start = std::time::Instant::now();
        tokio::time::sleep(Duration::from_secs_f64(args.drain)).await;
        let later = ade.scrape(&control).await?;
        Some((after.backlog - later.backlog) / start.elapsed().as_secs_f64())
    } else {
        None
    };
    if service.refused_total() > 0 {
        eprintln!(
            "ade refused some deliveries; the end of its log:\n{}",
            ade.log_tail()
        );
    }
    ade.stop(Duration::from_secs(15)).await?;
    let service_elapsed = service.elapsed.as_secs_f64();
    let commits = after.commits - before.commits;
    let batch = if commits > 0.0 {
        (after.committed - before.committed) / commits
    } else {
        0.0
    };
    eprintln!(
        "ade: {:.0} deliveries/s, mean batch {batch:.1}",
        service.accepted_per_sec()
    );

    let mut report = Report {
        command: command_line(),
        date: machine::today(),
        revision: machine::revision(),
        machine: machine::describe(),
        database: db.describe().await?,
        database_kind: db.kind(),
        body_bytes: deliveries.body_len(),
        repositories: args.repositories,
        clients: args.clients,
        pace,
        warmup: args.warmup,
        service,
        commits,
        batch,
        backlog: after.backlog,
        handled_under_load: ((after.committed - before.committed)
            - (after.backlog - before.backlog))
            / service_elapsed,
        drained,
        idle_rss,
        peak_rss,
        ceiling: None,
        floor: None,
        raw_floor: None,
        raw_floor_deliveries: None,
    };
    if args.no_limit || args.rate.is_some() {
        return Ok(report);
    }

    eprintln!("HTTP ceiling ...");
    let ceiling = ceiling::Ceiling::start(SECRET)?;
    if args.warmup > 0.0 {
        load::run(&http, &ceiling.url, &deliveries, args.clients, pace, warmup).await;
    }
    report.ceiling =
        Some(load::run(&http, &ceiling.url, &deliveries, args.clients, pace, length).await);
    drop(ceiling);

    let rows = batch.round().max(1.0) as usize;
    eprintln!("disk floor: {rows} rows per transaction ...");
    let bodies: Vec<_> = deliveries.all_bodies().cloned().collect();
    let floor_length = report.service.elapsed.max(Duration::from_secs(2));
    report.floor = Some(db.floor(&bodies, rows, floor_length).await?);
    if let Database::Sqlite { dir } = db {
        eprintln!(
            "raw floor: SQLite's C library, {RAW_BATCH} deliveries and their jobs per transaction ..."
        );
        let (dir, repositories) = (dir.clone(), args.repositories);
        let floors = tokio::task::spawn_blocking(move || {
            let with_jobs =
                raw_floor::measure(&dir, &bodies, repositories, RAW_BATCH, true, floor_length)?;
            eprintln!("raw floor: the delivery rows alone ...");
            let alone =
                raw_floor::measure(&dir, &bodies, repositories, RAW_BATCH, false, floor_length)?;
            anyhow::Ok((with_jobs, alone))
        })
        .await??;
        report.raw_floor = Some(floors.0);
        report.raw_floor_deliveries = Some(floors.1);
    }
    Ok(report)
}

/// Resolves `--ade`: as given if it exists, else relative to the package root.
fn locate(path: &Path) -> PathBuf {
    if path.is_relative() && !path.exists() {
        let candidate = Path::new(env!("CARGO_MANIFEST_DIR")).join(path);
        if candidate.exists() {
            return candidate;
        }
    }
    path.to_path_buf()
}

/// The command that reproduces this run, with any password in a URL hidden.
fn command_line() -> String {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .map(|a| report::redact_password(&a))
        .collect();
    let mut line = "cargo run --release --example ingest_bench".to_string();
    if !args.is_empty() {
        line.push_str(" -- ");
        line.push_str(&args.join(" "));
    }
    line
}

/// Bytes in MB (10^6 bytes), the unit of the RSS goal.
fn mb(bytes: u64) -> f64 {
    bytes as f64 / 1e6
}
