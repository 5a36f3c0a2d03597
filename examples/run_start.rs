//! `run_start`: how long after a maintainer comments `/ade approve` the task's agent process
//! starts, on a warm runner with a big repository; with `--verify`, also how long until the
//! approval is opened and its `ade/verify` completed (one trivial step), ade's own share of that
//! (everything but the agent and the step), and the forge calls the approval cost.
//!
//! ```text
//! cargo run --release --example run_start -- [--files 20000] [--rounds 10] [--advance 0]
//!     [--after-push-ms 0] [--verify] [--dir PATH]
//! ```
//!
//! A run starts the forge simulator (GitHub dialect) and ade (with its embedded runner) in this
//! process, talking real HTTP both ways, with a repository of `--files` files. A first goal warms
//! the runner: its mirror is fetched and its worktree pool filled. Then, for each round, a new
//! issue with one task is planned, and the time from posting `/ade approve` to the agent's first
//! instruction (the agent prints the clock as it starts) is measured. ade's rows split it into
//! hops: approve handled (run stored), run claimed by the runner, agent started.

use ade::service::Service;
use ade::sim::Simulator;
use anyhow::Context;
use clap::Parser;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

mod big_repo;

use big_repo::{MAINTAINER, REPO};

/// approve → agent started, on a warm runner.
#[derive(Parser, Debug)]
struct Args {
    /// Files in the repository.
    #[arg(long, default_value_t = 20_000)]
    files: usize,
    /// Timed rounds.
    #[arg(long, default_value_t = 10)]
    rounds: usize,
    /// Files changed on the default branch before each round, so each goal starts from a new
    /// commit and the runner checks out what differs (0: every goal starts where the last did).
    #[arg(long, default_value_t = 0)]
    advance: usize,
    /// Milliseconds between moving the default branch and planning the round's goal (0: at once,
    /// racing the runner's warm-up).
    #[arg(long, default_value_t = 0)]
    after_push_ms: u64,
    /// Give the repository one trivial verification step and time approve → approval opened →
    /// `ade/verify` completed, and count the forge calls of each approval.
    #[arg(long)]
    verify: bool,
    /// Where the run's data go (on disk, not tmpfs); default target/run-start-bench.
    #[arg(long)]
    dir: Option<PathBuf>,
}

fn now_ns() -> i128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos() as i128
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let dir = big_repo::fresh_dir(args.dir.clone(), "run-start-bench")?;
    let policy = if args.verify {
        "[agents]\ndefault = \"stamp\"\n\n[execution]\nparallelism = 4\n\n\
         [[verification.steps]]\nname = \"trivial\"\nkind = \"static\"\n\
         command = [\"/bin/true\"]\n"
    } else {
        "[agents]\ndefault = \"stamp\"\n\n[execution]\nparallelism = 4\n"
    };
    let sim = big_repo::forge(&dir, args.files, policy).await?;
    let ade = big_repo::ade(
        &sim,
        &dir,
        "[agents.stamp]\ncommand = [\"/bin/sh\", \"-c\", \"echo started-at $(date +%s%N); mkdir -p notes; echo x > notes/$ADE_TASK_ID.md\"]\n\
         trust = \"trusted\"\nenvironment = \"worktree\"\ntimeout_secs = 60\n",
    )
    .await?;

    eprintln!("warming the runner (mirror fetch, worktree pool)…");
    let warm = Instant::now();
    round(&sim, &ade, &dir, "warm-up").await?;
    // The pool makes its next worktree in the background (seconds on 20,000 files); a warm
    // runner is one where that is done.
    big_repo::wait_for_no_git().await;
    eprintln!("warm in {:.1} s", warm.elapsed().as_secs_f64());

    let mut totals = Vec::new();
    let mut hops: Vec<[f64; 3]> = Vec::new();
    let mut phases: Vec<[f64; 3]> = Vec::new();
    let mut verified: Vec<Verified> = Vec::new();
    for i in 0..args.rounds {
        if args.advance > 0 {
            let contents: Vec<(String, String)> = (0..args.advance)
                .map(|f| {
                    let n = (i * args.advance + f) % args.files;
                    (
                        format!("src/m{:03}/f{n:05}.rs", n % 200),
                        format!("pub fn f{n}() -> u32 {{ {} }}\n", n + i + 1),
                    )
                })
                .collect();
            let files: Vec<(&str, Option<&str>)> = contents
                .iter()
                .map(|(path, text)| (path.as_str(), Some(text.as_str())))
                .collect();
            sim.push(
                REPO,
                MAINTAINER,
                "main",
                &files,
                &format!("Move main on ({i})"),
            )
            .await?;
            tokio::time::sleep(Duration::from_millis(args.after_push_ms)).await;
        }
        let timed = round(&sim, &ade, &dir, &format!("round {i}")).await?;
        eprintln!(
            "round {i}: {:.1} ms (approve handled {:.0} ms, claimed {:.0} ms, agent started {:.0} ms; \
             base commit {:.0} ms, worktree {:.0} ms, prompt and hand-over {:.0} ms)",
            timed.total_ms,
            timed.hops[0],
            timed.hops[1],
            timed.hops[2],
            timed.phases[0],
            timed.phases[1],
            timed.phases[2]
        );
        totals.push(timed.total_ms);
        hops.push(timed.hops);
        phases.push(timed.phases);
        if args.verify {
            let v = verified_round(&sim, &ade, &dir, timed.approved_ms).await?;
            eprintln!(
                "  approval opened {:.0} ms, ade/verify completed {:.0} ms after approve (agent {:.0} ms, step {:.0} ms, ade {:.0} ms); {} forge calls for the approval",
                v.opened_ms,
                v.verified_ms,
                v.agent_ms,
                v.step_ms,
                v.ade_ms(),
                v.calls.len()
            );
            verified.push(v);
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    totals.sort_by(f64::total_cmp);
    let median = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    println!(
        "run start (approve → agent process started), {} files, {} rounds, {} files changed on main between rounds",
        args.files, args.rounds, args.advance
    );
    println!(
        "  median {:.1} ms · min {:.1} ms · max {:.1} ms",
        median(totals.clone()),
        totals[0],
        totals[totals.len() - 1]
    );
    println!(
        "  hops (median): approve handled, run stored {:.0} ms · run claimed {:.0} ms · agent started {:.0} ms",
        median(hops.iter().map(|h| h[0]).collect()),
        median(hops.iter().map(|h| h[1]).collect()),
        median(hops.iter().map(|h| h[2]).collect()),
    );
    println!(
        "  runner phases (median): base commit {:.0} ms · worktree {:.0} ms · prompt and hand-over {:.0} ms",
        median(phases.iter().map(|p| p[0]).collect()),
        median(phases.iter().map(|p| p[1]).collect()),
        median(phases.iter().map(|p| p[2]).collect()),
    );
    if !verified.is_empty() {
        println!(
            "approve → approval opened → ade/verify completed (one trivial step), {} rounds",
            verified.len()
        );
        println!(
            "  median: approval opened {:.0} ms · ade/verify completed {:.0} ms · agent {:.0} ms · step {:.0} ms · ade's share {:.0} ms",
            median(verified.iter().map(|v| v.opened_ms).collect()),
            median(verified.iter().map(|v| v.verified_ms).collect()),
            median(verified.iter().map(|v| v.agent_ms).collect()),
            median(verified.iter().map(|v| v.step_ms).collect()),
            median(verified.iter().map(Verified::ade_ms).collect()),
        );
        let ade_share: Vec<f64> = {
            let mut v: Vec<f64> = verified.iter().map(Verified::ade_ms).collect();
            v.sort_by(f64::total_cmp);
            v
        };
        println!(
            "  ade's share: min {:.0} ms · max {:.0} ms",
            ade_share[0],
            ade_share[ade_share.len() - 1]
        );
        let last = verified.last().expect("a round");
        println!(
            "  forge calls for one approval, opening to verified: {}",
            last.calls.len()
        );
        for call in &last.calls {
            println!("    {call}");
        }
    }
    ade.shutdown().await?;
    Ok(())
}

/// One approval's way from approve to verified.
struct Verified {
    /// approve → the pull request created (ade's request arriving at the forge).
    opened_ms: f64,
    /// approve → `ade/verify` completed on the forge.
    verified_ms: f64,
    /// The agent's own time.
    agent_ms: f64,
    /// The step's own time.
    step_ms: f64,
    /// The forge calls about the approval from its opening to its verified check, in order.
    calls: Vec<String>,
}

impl Verified {
    fn ade_ms(&self) -> f64 {
        self.verified_ms - self.agent_ms - self.step_ms
    }
}

/// Reads one round's approval from the simulator's call record and ade's run: when it opened,
/// when its `ade/verify` completed, and the calls in between that were about it.
async fn verified_round(
    sim: &Simulator,
    ade: &Service,
    dir: &Path,
    approved_ms: f64,
) -> anyhow::Result<Verified> {
    let run = all_runs(ade).await?.pop().context("the round's run")?;
    let head = run.head_sha.clone().context("the run's head")?;
    let branch = run.branch.clone();
    // Verified: the check completed and, for an approval opened as a draft, marked ready.
    let (pull, calls) = loop {
        let calls: Vec<_> = sim.calls().into_iter().filter(|c| !c.git).collect();
        if let Some(pull) = sim
            .pulls(REPO)
            .into_iter()
            .find(|p| p.head == branch && p.head_sha == head)
            && let Some(opened) = calls.iter().rfind(|c| {
                c.method == "POST"
                    && c.path.ends_with("/pulls")
                    && c.response
                        .as_deref()
                        .is_some_and(|r| r.contains(&format!("\"number\":{}", pull.number)))
            })
            && sim
                .checks(REPO, &head)
                .iter()
                .any(|c| c.name == "ade/verify" && c.conclusion.is_some())
        {
            let as_draft = opened
                .body
                .as_deref()
                .is_some_and(|b| b.contains("\"draft\":true"));
            let readied = calls
                .iter()
                .any(|c| c.seq > opened.seq && c.path.ends_with("/graphql"));
            if !as_draft || readied {
                break (pull, calls);
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let opened = calls
        .iter()
        .rev()
        .find(|c| {
            c.method == "POST"
                && c.path.ends_with("/pulls")
                && c.response
                    .as_deref()
                    .is_some_and(|r| r.contains(&format!("\"number\":{}", pull.number)))
        })
        .context("the pull request's creation")?;
    let completed = calls
        .iter()
        .rfind(|c| {
            c.seq > opened.seq
                && c.path.contains("/check-runs")
                && c.body
                    .as_deref()
                    .is_some_and(|b| b.contains("\"conclusion\""))
        })
        .context("the check's completion")?;
    let ready = calls
        .iter()
        .rfind(|c| c.path.ends_with("/graphql") && c.seq > opened.seq)
        .map_or(completed.seq, |c| c.seq.max(completed.seq));
    let number = pull.number.to_string();
    let about = |c: &&ade::sim::ApiCall| {
        c.path.contains("/check-runs")
            || c.path.ends_with("/graphql")
            || c.path.ends_with("/labels")
            || c.path.ends_with(&format!("/pulls/{number}"))
            || c.path.contains(&format!("/issues/{number}/"))
            || c.path.contains(&format!("/pulls/{number}/"))
            || c.seq == opened.seq
    };
    let listed = calls
        .iter()
        .filter(|c| c.seq >= opened.seq && c.seq <= ready)
        .filter(about)
        .map(|c| format!("{} {} → {}", c.method, c.path, c.status))
        .collect();
    if std::env::var_os("RUN_START_ALL_CALLS").is_some() {
        for c in calls
            .iter()
            .filter(|c| c.seq >= opened.seq.saturating_sub(5))
        {
            eprintln!(
                "    call {} {} {} → {} at {}",
                c.seq, c.method, c.path, c.status, c.at_ms
            );
        }
    }
    let log = std::fs::read_to_string(
        dir.join("runner/runs")
            .join(run.id.to_string())
            .join(format!("attempt-{}.log", run.attempt)),
    )
    .unwrap_or_default();
    if let Some(line) = log.lines().find(|l| l.starts_with("[ade] after the agent")) {
        eprintln!("  {}", line.trim_start_matches("[ade] "));
    }
    let outcome: ade::runner::RunOutcome =
        serde_json::from_str(run.report.as_deref().context("the run's report")?)?;
    let step_ms = match &outcome {
        ade::runner::RunOutcome::Pushed { verification, .. } => verification
            .steps
            .iter()
            .map(|s| s.duration_ms)
            .sum::<u64>() as f64,
        _ => anyhow::bail!("the run did not push"),
    };
    Ok(Verified {
        opened_ms: opened.at_ms as f64 - approved_ms,
        verified_ms: completed.at_ms as f64 - approved_ms,
        agent_ms: outcome.report().agent_ms as f64,
        step_ms,
        calls: listed,
    })
}

struct Timed {
    total_ms: f64,
    /// When `/ade approve` was posted (Unix ms).
    approved_ms: f64,
    /// approve → run stored, run stored → run started, run started → agent started (ms).
    hops: [f64; 3],
    /// The runner's own account (the run log's `prepared in` line): base commit, worktree,
    /// prompt and hand-over (ms).
    phases: [f64; 3],
}

/// One goal of one task: plan, approve, and wait for its approval to open.
async fn round(sim: &Simulator, ade: &Service, dir: &Path, name: &str) -> anyhow::Result<Timed> {
    let issue = sim
        .open_issue(REPO, MAINTAINER, name, "- [ ] Stamp the clock\n")
        .await?;
    sim.comment(REPO, issue, MAINTAINER, "/ade plan").await?;
    wait(|| {
        sim.comments(REPO, issue)
            .iter()
            .any(|c| c.body.contains("· validated"))
    })
    .await
    .context("the plan")?;
    let before = all_runs(ade).await?.len();
    let approved_ns = now_ns();
    sim.comment(REPO, issue, MAINTAINER, "/ade approve").await?;
    let run = loop {
        let runs = all_runs(ade).await?;
        if runs.len() > before
            && let Some(run) = runs
                .last()
                .filter(|r| r.state == ade::lifecycle::RunState::Succeeded)
        {
            break run.clone();
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let log = dir
        .join("runner/runs")
        .join(run.id.to_string())
        .join(format!("attempt-{}.log", run.attempt));
    let text = std::fs::read_to_string(&log).with_context(|| format!("read {}", log.display()))?;
    let started_ns: i128 = text
        .split_whitespace()
        .skip_while(|w| *w != "started-at")
        .nth(1)
        .context("the agent's start stamp")?
        .parse()?;
    let total_ms = (started_ns - approved_ns) as f64 / 1e6;
    let prepared = text
        .lines()
        .find(|line| line.starts_with("[ade] prepared in"))
        .context("the runner's preparation line")?;
    if let Some(worktree) = text
        .lines()
        .find(|line| line.starts_with("[ade] worktree "))
    {
        eprintln!("  {name}: {}", worktree.trim_start_matches("[ade] "));
    }
    let numbers: Vec<f64> = prepared
        .split(|c: char| !c.is_ascii_digit())
        .filter(|w| !w.is_empty())
        .map(|w| w.parse().unwrap_or_default())
        .collect();
    anyhow::ensure!(numbers.len() == 4, "unexpected line {prepared:?}");
    let approved_ms = (approved_ns / 1_000_000) as f64;
    let started_ms = (started_ns / 1_000_000) as f64;
    let stored = run.created_at as f64;
    let claimed = run.started_at.unwrap_or(run.created_at) as f64;
    Ok(Timed {
        total_ms,
        approved_ms,
        hops: [stored - approved_ms, claimed - stored, started_ms - claimed],
        phases: [numbers[1], numbers[2], numbers[3]],
    })
}

async fn all_runs(ade: &Service) -> anyhow::Result<Vec<ade::store::runs::RunRow>> {
    let mut conn = ade.store().reader().await?;
    Ok(ade::store::runs::all_runs(&mut conn).await?)
}

async fn wait(check: impl Fn() -> bool) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !check() {
        if Instant::now() > deadline {
            anyhow::bail!("timed out");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(())
}
