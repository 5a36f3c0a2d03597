//! `reaction_latency`: how long a maintainer waits, after posting an `/ade` command, for ade's 👀
//! on the comment (and for its reply), through the forge simulator.
//!
//! ```text
//! cargo build --release          # the binary under test; this example does not build it
//! cargo run --release --example reaction_latency -- [--forge github|gitea] [--comments 200]
//!                                                   [--rate 10] [--database postgres://...]
//!                                                   [--command TEXT] [--pause S] [--burst N]
//! ```
//!
//! A run:
//! 1. starts the forge simulator in this process (GitHub or Gitea dialect, on a loopback port) and
//!    seeds `acme/widgets` with a maintainer and ade's identity (the GitHub App installed on it, or
//!    Gitea's bot user with its token);
//! 2. starts the release `ade serve` in a child process pointed at it by `ADE_*` variables only,
//!    with a fresh data dir (or a fresh PostgreSQL schema), and points the simulator's webhooks at
//!    it: real HTTP both ways, a real ade process;
//! 3. opens an issue, posts a few warm-up comments, then N comments `/ade help` (a command every
//!    user may run: ade reacts 👀 and replies), closed loop (the next comment once the 👀 of the
//!    last is on the forge) or open loop (`--rate`: comments due at a fixed rate, whatever ade
//!    does);
//! 4. measures comment → 👀 and comment → reply from the simulator's own records: when it stored the
//!    comment and when it stored ade's reaction and reply (its monotonic clock, nanoseconds);
//! 5. splits the time into hops from ade's job rows (milliseconds) and the simulator's call log;
//! 6. prints one summary block for docs/benchmarks.md.
//!
//! With `--burst N`, N clients send `ingest_bench`'s deliveries to the same ade in a closed loop
//! while the timed comments run (`burst.rs`): a command's 👀 while the inbox is saturated.

#[path = "../ingest_bench/ade.rs"]
#[allow(dead_code)]
mod ade;
mod burst;
#[path = "../ingest_bench/database.rs"]
#[allow(dead_code)]
mod database;
mod drive;
mod forge;
mod hops;
#[path = "../ingest_bench/load.rs"]
#[allow(dead_code)]
mod load;
#[path = "../ingest_bench/machine.rs"]
mod machine;
#[path = "../ingest_bench/payload.rs"]
#[allow(dead_code)]
mod payload;
mod report;

use anyhow::Context;
use clap::Parser;
use database::Database;
use drive::Pace;
use report::Report;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// The webhook secret the simulator signs with and ade checks.
const SECRET: &str = "reaction-latency-webhook-secret";

/// Reaction latency of ade through the forge simulator. Run `cargo build --release` first: this
/// measures the release `ade` binary, and `cargo run --example` does not rebuild it.
#[derive(Parser, Debug)]
#[command(name = "reaction_latency")]
struct Args {
    /// The forge the simulator plays: github or gitea.
    #[arg(long, default_value = "github", value_parser = ["github", "gitea"])]
    forge: String,
    /// Timed comments (each `--command`).
    #[arg(long, default_value_t = 200)]
    comments: usize,
    /// Untimed comments first, so ade has its token, bot login, policy and connections.
    #[arg(long, default_value_t = 5)]
    warmup: usize,
    /// The command every comment carries (a command any maintainer may run, which ade reacts to
    /// with 👀 and answers).
    #[arg(long, default_value = drive::COMMAND)]
    command: String,
    /// Seconds to wait after each 👀 before the next comment (closed loop), so that with `--burst`
    /// the comments are spread over the burst.
    #[arg(long, value_name = "SECS", default_value_t = 0.0)]
    pause: f64,
    /// While the timed comments run, this many clients send `ingest_bench`'s deliveries to ade in
    /// a closed loop (a saturating burst on other repositories); 0: no burst.
    #[arg(long, value_name = "CLIENTS", default_value_t = 0)]
    burst: usize,
    /// Seconds the burst runs before the first timed comment.
    #[arg(long, value_name = "SECS", default_value_t = 2.0)]
    burst_lead: f64,
    /// Open loop: comments due at this many per second, whatever ade does. Default: closed loop,
    /// each comment once the 👀 of the one before is on the forge.
    #[arg(long, value_name = "PER_SEC")]
    rate: Option<f64>,
    /// Issues the comments go to, round robin (commands on one issue are handled one at a time).
    #[arg(long, default_value_t = 1)]
    issues: usize,
    /// A postgres:// URL; the run uses a fresh schema in it. Default: SQLite in the run folder.
    #[arg(long, value_name = "URL")]
    database: Option<String>,
    /// The ade binary to start (`ade serve`); relative paths are tried from the current
    /// directory, then from the package root.
    #[arg(long, value_name = "PATH", default_value = "target/release/ade")]
    ade: PathBuf,
    /// Extra environment for ade (repeatable), e.g. `--ade-env ADE_JOBS__POLL_INTERVAL_MS=50`.
    #[arg(long = "ade-env", value_name = "KEY=VALUE")]
    ade_env: Vec<String>,
    /// Seconds to wait for one 👀 (or, at the end, for every reply) before giving up.
    #[arg(long, value_name = "SECS", default_value_t = 30.0)]
    patience: f64,
    /// Where the run folder (ade's data dir and log, the simulator's repositories) is made;
    /// default the system temp dir.
    #[arg(long, value_name = "DIR")]
    work_dir: Option<PathBuf>,
    /// Keep the run folder (and the PostgreSQL schema) afterwards.
    #[arg(long)]
    keep: bool,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    anyhow::ensure!(args.comments > 0, "--comments must be at least 1");
    anyhow::ensure!(args.issues > 0, "--issues must be at least 1");
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
    let run_dir = parent.join(format!("ade-reaction-latency-{}", std::process::id()));
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
    let kind = match args.forge.as_str() {
        "gitea" => ::ade::forge::ForgeKind::Gitea,
        _ => ::ade::forge::ForgeKind::Github,
    };
    let forge = Arc::new(forge::Forge::start(kind, run_dir, SECRET).await?);
    eprintln!("{} simulator at {}", args.forge, forge.sim.url());

    let mut env = db.ade_env();
    env.extend(forge.ade_env());
    env.push(("ADE_SERVER__SHUTDOWN_GRACE_SECS".into(), "5".into()));
    env.extend(extra_env.iter().cloned());
    let control = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()?;
    let ade = ade::Ade::start(binary, &env, run_dir, &control).await?;
    let (idle_rss, _) = ade.rss()?;
    eprintln!(
        "ade (pid {}) ready at {}; idle RSS {:.1} MB",
        ade.pid(),
        ade.base,
        idle_rss as f64 / 1e6
    );
    forge
        .sim
        .set_webhook_url(Some(format!("{}/webhooks/{}", ade.base, args.forge)));

    let pace = args.rate.map_or(Pace::Closed, |rate| Pace::Open { rate });
    let patience = Duration::from_secs_f64(args.patience);
    let burst = (args.burst > 0).then(|| burst::Plan {
        ade: &ade,
        control: &control,
        clients: args.burst,
        lead: Duration::from_secs_f64(args.burst_lead),
    });
    let script = drive::Script {
        issues: args.issues,
        warmup: args.warmup,
        comments: args.comments,
        command: &args.command,
        pace,
        pause: Duration::from_secs_f64(args.pause),
        patience,
        burst: burst.as_ref(),
        secret: SECRET,
    };
    let driven = drive::run(&forge, &script).await;
    let driven = match driven {
        Ok(driven) => driven,
        Err(error) => {
            eprintln!("the end of ade's log:\n{}", ade.log_tail());
            ade.stop(Duration::from_secs(15)).await?;
            return Err(error);
        }
    };
    let (_, peak_rss) = ade.rss()?;
    ade.stop(Duration::from_secs(15)).await?;

    eprintln!("reading ade's job rows ...");
    let url = match db {
        Database::Sqlite { dir } => format!("sqlite://{}", dir.join("ade.db").display()),
        Database::Postgres { base_url, schema } => {
            let join = if base_url.contains('?') { '&' } else { '?' };
            format!("{base_url}{join}options[search_path]={schema}")
        }
    };
    let jobs = hops::read_jobs(&url).await?;
    let hops = hops::Hops::measure(
        &driven,
        jobs,
        &run_dir.join("ade.log"),
        &forge.sim.deliveries(),
        &forge.sim.calls(),
    );

    Ok(Report {
        command: command_line(),
        date: machine::today(),
        revision: machine::revision(),
        machine: machine::describe(),
        database: db.describe().await?,
        forge: args.forge.clone(),
        command_text: args.command.clone(),
        pace,
        issues: args.issues,
        warmup: args.warmup,
        driven,
        hops,
        idle_rss,
        peak_rss,
    })
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
    let mut line = "cargo run --release --example reaction_latency".to_string();
    if !args.is_empty() {
        line.push_str(" -- ");
        line.push_str(&args.join(" "));
    }
    line
}
