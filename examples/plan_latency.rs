//! `plan_latency`: how long after a maintainer comments `/ade plan` the plan comment is on the
//! forge when a planner agent writes the plan, on a warm runner with a big repository, and how
//! much of that is ade's own (everything but the planner process itself).
//!
//! ```text
//! cargo run --release --example plan_latency -- [--files 20000] [--rounds 10] [--dir PATH]
//! ```
//!
//! A run starts the forge simulator (GitHub dialect) and ade (with its embedded runner) in this
//! process, talking real HTTP both ways, with a repository of `--files` files whose policy names a
//! script planner. A first goal warms the runner (its mirror fetched, its worktree pool filled).
//! Then, for each round, a new issue is opened and `/ade plan` posted; the round ends when the
//! plan comment shows the validated plan. The planner prints the clock as it starts and as it
//! ends, so its own time is known; ade's share is the rest: the command's job, the planner run's
//! job, the worktree, the prompt, reading and validating the plan, and the plan comment's post.

use ade::forge::ForgeKind;
use ade::service::Service;
use ade::sim::Simulator;
use anyhow::Context;
use clap::Parser;
use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

mod big_repo;

use big_repo::{MAINTAINER, REPO};

/// The planner: the clock when it starts, a two-task plan written to `$ADE_OUTPUT`, the clock
/// when it is done.
const PLANNER: &str = "echo planner-started-at $(date +%s%N)\n\
printf '%s' '{\"tasks\": [{\"id\": \"t1\", \"title\": \"Parse the flag\"}, {\"id\": \"t2\", \"title\": \"Use the flag\", \"depends_on\": [\"t1\"]}]}' > \"$ADE_OUTPUT\"\n\
echo planner-ended-at $(date +%s%N)\n";

/// `/ade plan` → plan comment, with a script planner on a warm runner.
#[derive(Parser, Debug)]
struct Args {
    /// Files in the repository.
    #[arg(long, default_value_t = 20_000)]
    files: usize,
    /// Timed rounds.
    #[arg(long, default_value_t = 10)]
    rounds: usize,
    /// Where the run's data go (on disk, not tmpfs); default target/plan-latency-bench.
    #[arg(long)]
    dir: Option<PathBuf>,
}

fn now_ms() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
        * 1000.0
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let dir = big_repo::fresh_dir(args.dir.clone(), "plan-latency-bench")?;
    let sim = big_repo::forge(
        &dir,
        args.files,
        "[agents]\ndefault = \"planner\"\nplanner = \"planner\"\n",
    )
    .await?;
    let agents = format!(
        "[agents.planner]\ncommand = [\"/bin/sh\", \"-c\", {:?}]\nprompt = \"file\"\n\
         trust = \"trusted\"\nenvironment = \"worktree\"\ntimeout_secs = 60\n",
        // Braces in an agent's command are placeholders unless doubled.
        PLANNER.replace('{', "{{").replace('}', "}}")
    );
    let ade = big_repo::ade(&sim, &dir, &agents).await?;

    eprintln!("warming the runner (mirror fetch, worktree pool)…");
    let warm = Instant::now();
    round(&sim, &ade, "warm-up").await?;
    big_repo::wait_for_no_git().await;
    eprintln!("warm in {:.1} s", warm.elapsed().as_secs_f64());

    let mut rounds = Vec::new();
    for i in 0..args.rounds {
        let timed = round(&sim, &ade, &format!("round {i}")).await?;
        eprintln!(
            "round {i}: plan comment after {:.1} ms (planner {:.1} ms, ade {:.1} ms)",
            timed.total_ms,
            timed.planner_ms,
            timed.total_ms - timed.planner_ms
        );
        rounds.push(timed);
        big_repo::wait_for_no_git().await;
    }
    let median = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        (v[v.len() / 2], v[0], v[v.len() - 1])
    };
    let (total, total_min, total_max) = median(rounds.iter().map(|r| r.total_ms).collect());
    let (planner, _, _) = median(rounds.iter().map(|r| r.planner_ms).collect());
    let (share, share_min, share_max) =
        median(rounds.iter().map(|r| r.total_ms - r.planner_ms).collect());
    println!(
        "/ade plan → plan comment with a script planner, {} files, {} rounds",
        args.files, args.rounds
    );
    println!(
        "  total: median {total:.1} ms · min {total_min:.1} ms · max {total_max:.1} ms; the planner's own time: median {planner:.1} ms"
    );
    println!("  ade's share: median {share:.1} ms · min {share_min:.1} ms · max {share_max:.1} ms");
    ade.shutdown().await?;
    Ok(())
}

struct Timed {
    /// `/ade plan` posted → the plan comment on the forge.
    total_ms: f64,
    /// The planner process, from its first instruction to its last.
    planner_ms: f64,
}

/// One goal: `/ade plan`, then the plan comment; the planner's own time from its log.
async fn round(sim: &Simulator, ade: &Service, name: &str) -> anyhow::Result<Timed> {
    let issue = sim
        .open_issue(REPO, MAINTAINER, name, "Plan this goal.")
        .await?;
    let asked = now_ms();
    sim.comment(REPO, issue, MAINTAINER, "/ade plan").await?;
    let posted = loop {
        let shown = sim
            .comments(REPO, issue)
            .into_iter()
            .find(|c| c.body.contains("· validated") || c.body.contains("· not valid"));
        if let Some(comment) = shown {
            anyhow::ensure!(
                comment.body.contains("· validated"),
                "the plan is not valid: {}",
                comment.body
            );
            break now_ms();
        }
        anyhow::ensure!(now_ms() - asked < 60_000.0, "no plan comment after 60 s");
        tokio::time::sleep(Duration::from_millis(2)).await;
    };
    let log = planner_log(ade, issue).await?;
    let stamp = |word: &str| -> anyhow::Result<f64> {
        let line = log
            .lines()
            .find_map(|l| l.split(word).nth(1))
            .with_context(|| format!("no {word} in the planner's log:\n{log}"))?;
        Ok(line.trim().parse::<f64>()? / 1e6)
    };
    let planner_ms = stamp("planner-ended-at")? - stamp("planner-started-at")?;
    Ok(Timed {
        total_ms: posted - asked,
        planner_ms,
    })
}

/// The planner's log of the goal on `issue`, as the runner wrote it.
async fn planner_log(ade: &Service, issue: i64) -> anyhow::Result<String> {
    let mut conn = ade.store().reader().await?;
    let goal = ade::store::goals::find_goal(&mut conn, ForgeKind::Github, REPO, issue)
        .await?
        .context("the goal")?;
    let planning = ade::store::planning::of_goal(&mut conn, goal).await?;
    let path = planning
        .first()
        .and_then(|p| p.log.clone())
        .context("the planner's log path")?;
    Ok(std::fs::read_to_string(path)?)
}
