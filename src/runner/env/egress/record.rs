//! What the egress proxy keeps of the connections an agent made: one run log line per
//! connection (up to a bound, the rest counted) and a tally per destination and verdict for the
//! audit log. Destinations come from the agent: they are escaped and cut before they are kept,
//! and an agent that opens thousands of connections costs a bounded amount of memory and lines.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::telemetry::shown;

/// The most connections the run log lists one by one; the rest are counted in one line.
pub const MAX_LOGGED: usize = 200;

/// The most destinations tallied (and so audit records per run); the rest are counted.
pub const MAX_TALLIES: usize = 32;

/// The connections of one run, as the run's report and the audit log carry them.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EgressReport {
    /// One entry per destination and verdict, in the order first seen, at most [`MAX_TALLIES`].
    pub tallies: Vec<EgressTally>,
    /// Connections let through to destinations past those tallied, counted only.
    #[serde(default)]
    pub more: u64,
    /// Connections refused to destinations past those tallied, counted only.
    #[serde(default)]
    pub more_refused: u64,
}

impl EgressReport {
    /// Whether the agent made no connection ade saw.
    pub fn is_empty(&self) -> bool {
        self.tallies.is_empty() && self.more == 0 && self.more_refused == 0
    }
}

/// Connections to one destination that ended the same way.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EgressTally {
    /// `host:port` as the agent asked for it, or its request line when it named none; escaped
    /// and bounded, still the agent's text.
    pub destination: String,
    /// Whether the connections were let through.
    pub allowed: bool,
    /// Why they were refused (or why an allowed one could not be opened), from the first one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// How many connections.
    pub count: u64,
    /// Bytes from the agent to the destination, all connections together.
    pub bytes_out: u64,
    /// Bytes from the destination to the agent.
    pub bytes_in: u64,
}

/// How one connection went.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Let through; `error` when the destination could not be reached.
    Allowed { error: Option<String> },
    /// Refused with this status (0: closed without an answer) and reason.
    Blocked { status: u16, reason: &'static str },
}

/// One connection the agent made, finished.
#[derive(Clone, Debug)]
pub(crate) struct Connection {
    /// `host:port`, or the request line when there is no destination to name (raw agent text).
    pub destination: String,
    /// Whether it came through the proxy or a loopback forward.
    pub direct: bool,
    pub verdict: Verdict,
    pub bytes_out: u64,
    pub bytes_in: u64,
    pub duration: Duration,
}

/// Collects connections as they end, within bounds.
#[derive(Debug, Default)]
pub(crate) struct Recorder {
    lines: Vec<String>,
    unlisted: u64,
    report: EgressReport,
}

impl Recorder {
    /// Adds one finished connection.
    pub(crate) fn add(&mut self, connection: Connection) {
        let destination = shown(&connection.destination);
        let way = if connection.direct {
            "directly"
        } else {
            "through the proxy"
        };
        let line = match &connection.verdict {
            Verdict::Allowed { error: None } => format!(
                "egress: allowed {destination} {way}: {} bytes out, {} bytes in, {:.1} s",
                connection.bytes_out,
                connection.bytes_in,
                connection.duration.as_secs_f64()
            ),
            Verdict::Allowed { error: Some(error) } => format!(
                "egress: allowed {destination} {way}, but it could not be reached: {}",
                shown(error)
            ),
            Verdict::Blocked { status: 0, reason } => {
                format!("egress: blocked {destination} ({reason}): closed unanswered")
            }
            Verdict::Blocked { status, reason } => {
                format!("egress: blocked {destination} ({reason}): answered {status}")
            }
        };
        if self.lines.len() < MAX_LOGGED {
            self.lines.push(line);
        } else {
            self.unlisted += 1;
        }
        let (allowed, reason) = match connection.verdict {
            Verdict::Allowed { error } => (true, error.map(|e| shown(&e))),
            Verdict::Blocked { reason, .. } => (false, Some(reason.to_string())),
        };
        let tallies = &mut self.report.tallies;
        let at = tallies
            .iter()
            .position(|t| t.allowed == allowed && t.destination == destination);
        let tally = match at {
            Some(at) => &mut tallies[at],
            None if tallies.len() < MAX_TALLIES => {
                tallies.push(EgressTally {
                    destination,
                    allowed,
                    reason,
                    ..EgressTally::default()
                });
                tallies.last_mut().expect("just pushed")
            }
            None if allowed => {
                self.report.more += 1;
                return;
            }
            None => {
                self.report.more_refused += 1;
                return;
            }
        };
        tally.count += 1;
        tally.bytes_out += connection.bytes_out;
        tally.bytes_in += connection.bytes_in;
    }

    /// The run log lines (`egress: ...`) and the report.
    pub(crate) fn finish(self) -> (Vec<String>, EgressReport) {
        let mut lines = self.lines;
        if self.unlisted > 0 {
            lines.push(format!(
                "egress: {} more connections not listed one by one",
                self.unlisted
            ));
        }
        (lines, self.report)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blocked(destination: &str) -> Connection {
        Connection {
            destination: destination.to_string(),
            direct: false,
            verdict: Verdict::Blocked {
                status: 403,
                reason: "not on the agent's allowlist",
            },
            bytes_out: 0,
            bytes_in: 0,
            duration: Duration::ZERO,
        }
    }

    #[test]
    fn a_flood_of_connections_is_bounded_in_lines_and_tallies() {
        let mut recorder = Recorder::default();
        for i in 0..1000 {
            recorder.add(blocked(&format!("host{}.example:443", i % 100)));
        }
        let (lines, report) = recorder.finish();
        assert_eq!(lines.len(), MAX_LOGGED + 1);
        assert_eq!(
            lines.last().unwrap(),
            "egress: 800 more connections not listed one by one"
        );
        assert_eq!(report.tallies.len(), MAX_TALLIES);
        assert_eq!(report.tallies[0].count, 10);
        assert_eq!(report.more, 0, "nothing past the tallies was let through");
        assert_eq!(report.more_refused, 1000 - 10 * MAX_TALLIES as u64);
    }

    #[test]
    fn hostile_destinations_cannot_forge_a_line() {
        let mut recorder = Recorder::default();
        recorder.add(blocked("x\r\n[ade] egress: allowed evil:443"));
        let (lines, report) = recorder.finish();
        assert_eq!(lines.len(), 1);
        assert!(
            !lines[0].contains('\n') && !lines[0].contains('\r'),
            "{}",
            lines[0]
        );
        assert!(!report.tallies[0].destination.contains('\n'));
    }
}
