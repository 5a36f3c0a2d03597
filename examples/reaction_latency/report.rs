//! The summary block: the figures of a run with the command, machine and database they came from,
//! and the issue's goal checked against them, ready to paste into docs/benchmarks.md.

use crate::drive::{Driven, Pace, Sample};
use crate::hops::Hops;
use std::fmt;
use std::time::Duration;

/// The goal of the issue: comment → 👀 p50 below this (with no burst beside the commands).
const GOAL_P50: Duration = Duration::from_millis(50);

/// The goal under a saturating burst of deliveries: every command's 👀 within this.
const GOAL_UNDER_BURST: Duration = Duration::from_secs(1);

/// Everything one run measured.
pub struct Report {
    pub command: String,
    pub date: String,
    pub revision: String,
    pub machine: String,
    pub database: String,
    pub forge: String,
    pub command_text: String,
    pub pace: Pace,
    pub issues: usize,
    pub warmup: usize,
    pub driven: Driven,
    pub hops: Hops,
    pub idle_rss: u64,
    pub peak_rss: u64,
}

/// Latencies, sorted.
struct Latencies(Vec<Duration>);

impl Latencies {
    fn of(samples: &[Sample], pick: impl Fn(&Sample) -> Option<Duration>) -> Latencies {
        let mut all: Vec<Duration> = samples.iter().filter_map(pick).collect();
        all.sort();
        Latencies(all)
    }

    /// Nearest rank.
    fn percentile(&self, q: f64) -> Duration {
        if self.0.is_empty() {
            return Duration::ZERO;
        }
        let rank = (q * self.0.len() as f64).ceil().max(1.0) as usize;
        self.0[rank.min(self.0.len()) - 1]
    }

    fn max(&self) -> Duration {
        self.0.last().copied().unwrap_or_default()
    }
}

impl fmt::Display for Latencies {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "p50 {:.1} ms, p90 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
            ms(self.percentile(0.50)),
            ms(self.percentile(0.90)),
            ms(self.percentile(0.99)),
            ms(self.max())
        )
    }
}

impl Report {
    fn eyes(&self) -> Latencies {
        Latencies::of(&self.driven.timed, Sample::to_eyes)
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = &self.driven;
        let n = d.timed.len();
        let eyes = self.eyes();
        let reply = Latencies::of(&d.timed, Sample::to_reply);
        let answer = Latencies::of(&d.timed, |s| Some(s.to_answer()));
        let mode = match self.pace {
            Pace::Closed => "closed loop (the next once the last 👀 is posted)".to_string(),
            Pace::Open { rate } => format!("open loop at {rate}/s"),
        };
        writeln!(f, "```text")?;
        writeln!(f, "reaction_latency {} (ade {})", self.date, self.revision)?;
        writeln!(f, "command   {}", self.command)?;
        writeln!(f, "machine   {}", self.machine)?;
        writeln!(f, "database  {}", self.database)?;
        writeln!(
            f,
            "setup     release `ade serve` in its own process ⇄ {} simulator in this process, HTTP on loopback both ways",
            self.forge
        )?;
        writeln!(
            f,
            "load      {n} comments `{}` by a maintainer on {} issue{}, {mode}, after {} warm-up; {:.2} s",
            self.command_text,
            self.issues,
            if self.issues == 1 { "" } else { "s" },
            self.warmup,
            d.elapsed.as_secs_f64()
        )?;
        if let Some(burst) = &d.burst {
            writeln!(
                f,
                "burst     {} clients sending 25,600-byte deliveries on 8 other repositories, closed loop, for {:.1} s: {} stored/s; delivery jobs waiting when it stopped: {:.0}",
                burst.clients,
                burst.elapsed.as_secs_f64(),
                burst.stored_per_sec().round(),
                burst.backlog
            )?;
        }
        writeln!(
            f,
            "👀        {eyes}  (comment stored → 👀 stored, the simulator's records; {} of {n})",
            eyes.0.len()
        )?;
        writeln!(
            f,
            "reply     {reply}  (comment stored → reply stored; {} of {n})",
            reply.0.len()
        )?;
        writeln!(
            f,
            "webhook   {answer}  (comment stored → ade's 202 back at the simulator)"
        )?;
        if let Pace::Open { .. } = self.pace {
            let late = d.timed.iter().map(|s| s.late).max().unwrap_or_default();
            writeln!(
                f,
                "schedule  comments posted at most {:.1} ms after they were due",
                ms(late)
            )?;
        }
        if let Some(first) = d.warm.first() {
            writeln!(
                f,
                "first     ade's first command: 👀 after {:.1} ms, reply after {:.1} ms (cold: token, bot login, policy, connections)",
                ms(first.to_eyes().unwrap_or_default()),
                ms(first.to_reply().unwrap_or_default())
            )?;
        }
        let h = &self.hops;
        writeln!(
            f,
            "hops      mean (median) ms of comment → 👀, over the {} of {n} comments with every end found:",
            h.complete
        )?;
        let mut total = 0.0;
        for hop in &h.hops {
            total += hop.mean();
            writeln!(
                f,
                "          {:>6.2} ({:>6.2})  {}",
                hop.mean(),
                hop.median(),
                hop.name
            )?;
        }
        writeln!(f, "          {total:>6.2}           in all")?;
        if let Pace::Open { .. } = self.pace {
            writeln!(
                f,
                "          (open loop: when commands queue behind each other, acceptances and reads overlap and the hops are approximate; exact in the closed loop)"
            )?;
        }
        let paths = h
            .read_paths
            .iter()
            .map(|(path, count, mean)| format!("GET {path} ×{count} {mean:.2} ms"))
            .collect::<Vec<_>>()
            .join(", ");
        writeln!(
            f,
            "reads     {:.1} forge reads per command before it is accepted (count, mean ms from its arrival to the next step): {paths}",
            h.reads_per_command
        )?;
        let kinds = h
            .kinds
            .iter()
            .map(|(kind, count)| format!("{kind} {count}"))
            .collect::<Vec<_>>()
            .join(", ");
        writeln!(f, "jobs      {kinds}")?;
        let calls = h
            .calls
            .iter()
            .map(|(call, count)| format!("{call} ×{count}"))
            .collect::<Vec<_>>()
            .join(", ");
        writeln!(f, "calls     {calls}")?;
        writeln!(
            f,
            "memory    ade idle RSS {:.1} MB, peak RSS {:.1} MB (VmHWM)",
            self.idle_rss as f64 / 1e6,
            self.peak_rss as f64 / 1e6
        )?;
        if d.burst.is_none() {
            let met = eyes.0.len() == n && eyes.percentile(0.5) < GOAL_P50;
            writeln!(
                f,
                "goal      comment → 👀 p50 < {} ms: {}",
                GOAL_P50.as_millis(),
                if met { "PASS" } else { "FAIL" }
            )?;
        } else {
            let met = eyes.0.len() == n && eyes.max() < GOAL_UNDER_BURST;
            writeln!(
                f,
                "goal      comment → 👀 within {} s for every command during the burst: {}",
                GOAL_UNDER_BURST.as_secs(),
                if met { "PASS" } else { "FAIL" }
            )?;
        }
        write!(f, "```")
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// `postgres://user:secret@host/db` as `postgres://user:<redacted>@host/db`.
pub fn redact_password(arg: &str) -> String {
    let Some(scheme_end) = arg.find("://") else {
        return arg.to_string();
    };
    let rest = &arg[scheme_end + 3..];
    let Some(at) = rest.find('@') else {
        return arg.to_string();
    };
    match rest[..at].find(':') {
        Some(colon) => format!(
            "{}{}:<redacted>{}",
            &arg[..scheme_end + 3],
            &rest[..colon],
            &rest[at..]
        ),
        None => arg.to_string(),
    }
}
