//! The summary block: every figure of a run with the command, machine and database it came from,
//! and the issue's goals checked against it, ready to paste into docs/benchmarks.md.

use crate::database::Floor;
use crate::load::{Outcome, Pace};
use std::fmt;
use std::time::Duration;

/// Everything one run measured.
pub struct Report {
    pub command: String,
    pub date: String,
    pub revision: String,
    pub machine: String,
    pub database: String,
    pub database_kind: &'static str,
    pub body_bytes: usize,
    pub repositories: usize,
    pub clients: usize,
    pub pace: Pace,
    pub warmup: f64,
    /// The timed phase against ade.
    pub service: Outcome,
    /// Inbox transactions in the timed phase.
    pub commits: f64,
    /// Mean deliveries per inbox transaction in the timed phase.
    pub batch: f64,
    /// Delivery jobs waiting when the timed phase ended.
    pub backlog: f64,
    /// Deliveries ade's worker handled per second during the timed phase.
    pub handled_under_load: f64,
    /// Deliveries it handled per second in the seconds after, with no load.
    pub drained: Option<f64>,
    pub idle_rss: u64,
    pub peak_rss: u64,
    /// The timed phase against the storeless handler.
    pub ceiling: Option<Outcome>,
    pub floor: Option<Floor>,
    /// SQLite only: the inbox's rows (deliveries and their jobs) through the C library directly.
    pub raw_floor: Option<Floor>,
    /// SQLite only: the delivery rows alone through the C library, as the sqlx floor writes them.
    pub raw_floor_deliveries: Option<Floor>,
}

impl Report {
    /// The limit (the lower of ceiling and floor) and which one it is.
    fn limit(&self) -> Option<(f64, &'static str)> {
        let ceiling = self.ceiling.as_ref()?.accepted_per_sec();
        let floor = self.floor.as_ref()?.rows_per_sec();
        Some(if ceiling <= floor {
            (ceiling, "HTTP ceiling")
        } else {
            (floor, "disk floor")
        })
    }

    /// The issue's goals that apply to this run, each with whether it was met.
    fn goals(&self) -> Vec<(String, bool)> {
        let rate = self.service.accepted_per_sec();
        let mut goals = Vec::new();
        match (self.pace, self.database_kind) {
            (Pace::Closed, "sqlite") => {
                if let Some((limit, _)) = self.limit() {
                    goals.push(("≥ 60% of the same-run limit".into(), rate >= 0.6 * limit));
                }
                if let Some(raw) = &self.raw_floor {
                    goals.push((
                        "≥ 60% of the same-run raw floor".into(),
                        rate >= 0.6 * raw.rows_per_sec(),
                    ));
                }
                goals.push((
                    "≥ 3,000 durable deliveries/s (SQLite, 2 cores)".into(),
                    rate >= 3000.0,
                ));
            }
            (Pace::Closed, _) => {
                goals.push((
                    "≥ 1,000 durable deliveries/s (PostgreSQL)".into(),
                    rate >= 1000.0,
                ));
            }
            (Pace::Open { rate: target }, _) => {
                let p99 = self.service.percentile(0.99);
                goals.push((
                    format!("p99 < 25 ms at {} deliveries/s", thousands(target)),
                    p99 < Duration::from_millis(25),
                ));
            }
        }
        goals.push(("idle RSS < 40 MB".into(), self.idle_rss < 40_000_000));
        goals.push((
            "no answer other than 202".into(),
            self.service.refused_total() == 0,
        ));
        goals
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = &self.service;
        let mode = match self.pace {
            Pace::Closed => "closed loop".to_string(),
            Pace::Open { rate } => format!("open loop at {}/s", thousands(rate)),
        };
        writeln!(f, "```text")?;
        writeln!(f, "ingest_bench {} (ade {})", self.date, self.revision)?;
        writeln!(f, "command   {}", self.command)?;
        writeln!(f, "machine   {}", self.machine)?;
        writeln!(f, "database  {}", self.database)?;
        writeln!(
            f,
            "load      {}-byte issue_comment deliveries over {} repositories, {} keep-alive HTTP/1.1 clients, {mode}, {:.1} s after {:.1} s warm-up",
            thousands(self.body_bytes as f64),
            self.repositories,
            self.clients,
            s.elapsed.as_secs_f64(),
            self.warmup
        )?;
        writeln!(
            f,
            "result    {} durable deliveries/s ({} answered 202 in {:.2} s); other answers: {}",
            thousands(s.accepted_per_sec()),
            thousands(s.accepted as f64),
            s.elapsed.as_secs_f64(),
            refused(s)
        )?;
        writeln!(f, "latency   {}", latency(s))?;
        writeln!(
            f,
            "inbox     mean group-commit batch {:.1} deliveries ({} commits); delivery jobs waiting at the end: {}",
            self.batch,
            thousands(self.commits),
            thousands(self.backlog)
        )?;
        let drained = self
            .drained
            .map_or("not measured".into(), |d| format!("{}/s", thousands(d)));
        writeln!(
            f,
            "worker    handled {}/s during the load, {drained} after it (no load)",
            thousands(self.handled_under_load)
        )?;
        writeln!(
            f,
            "memory    idle RSS {:.1} MB, peak RSS {:.1} MB (VmHWM)",
            self.idle_rss as f64 / 1e6,
            self.peak_rss as f64 / 1e6
        )?;
        if let (Some(ceiling), Some(floor), Some((limit, which))) =
            (&self.ceiling, &self.floor, self.limit())
        {
            writeln!(
                f,
                "ceiling   {}/s through a verify-and-parse handler that stores nothing ({}; other answers: {})",
                thousands(ceiling.accepted_per_sec()),
                latency(ceiling),
                refused(ceiling)
            )?;
            writeln!(
                f,
                "floor     {} rows/s inserted straight into {} at {} rows per transaction ({} rows in {:.2} s)",
                thousands(floor.rows_per_sec()),
                self.database_kind,
                floor.batch,
                thousands(floor.rows as f64),
                floor.elapsed.as_secs_f64()
            )?;
            writeln!(
                f,
                "ratio     {:.0}% of the same-run limit ({} {}/s)",
                100.0 * s.accepted_per_sec() / limit,
                which,
                thousands(limit)
            )?;
        } else {
            writeln!(f, "limit     not measured in this mode")?;
        }
        if let Some(raw) = &self.raw_floor {
            writeln!(
                f,
                "raw floor {} deliveries/s written with their job rows through SQLite's C library at {} per transaction ({} in {:.2} s)",
                thousands(raw.rows_per_sec()),
                raw.batch,
                thousands(raw.rows as f64),
                raw.elapsed.as_secs_f64()
            )?;
            writeln!(
                f,
                "ratio     {:.2} of the same-run raw floor",
                s.accepted_per_sec() / raw.rows_per_sec()
            )?;
        }
        if let Some(raw) = &self.raw_floor_deliveries {
            writeln!(
                f,
                "raw floor {} delivery rows/s alone (no job rows) through SQLite's C library at {} per transaction: ade at {:.2} of it",
                thousands(raw.rows_per_sec()),
                raw.batch,
                s.accepted_per_sec() / raw.rows_per_sec()
            )?;
        }
        for (goal, met) in self.goals() {
            writeln!(f, "goal      {goal}: {}", if met { "PASS" } else { "FAIL" })?;
        }
        write!(f, "```")
    }
}

fn latency(o: &Outcome) -> String {
    format!(
        "p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        ms(o.percentile(0.50)),
        ms(o.percentile(0.99)),
        ms(o.max())
    )
}

fn refused(o: &Outcome) -> String {
    if o.refused.is_empty() {
        return "none".into();
    }
    o.refused
        .iter()
        .map(|(k, v)| format!("{v} × {k}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// `12345.6` as `12,346`.
pub fn thousands(value: f64) -> String {
    let digits = format!("{:.0}", value.max(0.0));
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
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
