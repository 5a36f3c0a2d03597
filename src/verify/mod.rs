//! Verification: the repository policy's steps run on a run's result, and what ade makes of them.
//! This module is the pure part: the typed results ([`StepResult`], [`VerificationReport`], the
//! [`Verdict`] rule), reading step output ([`output`], [`tail`], [`annotations`]), and the texts
//! made from a report: the `ade/verify` check and the report comment ([`check`]) and the feedback
//! handed to the agent on its next attempt ([`feedback`]). It starts no process and calls no
//! forge; `runner::verify` runs the steps and fills a report.
//!
//! Everything a step printed is hostile: it reaches a forge or a prompt only masked (the caller's
//! [`Mask`], the DLP redaction in ade), sanitized ([`crate::command::sanitize`]), capped, and
//! escaped for where it lands (Markdown cells, code blocks no line can close).

pub mod annotations;
pub mod check;
pub mod external;
pub mod feedback;
pub mod output;
pub mod tail;

#[cfg(test)]
mod tests;

use serde::{Deserialize, Serialize};

use crate::forge::CheckAnnotation;
use crate::policy::{StepKind, VerificationStep};

pub use check::{CheckContext, CheckStage, CommentKind};
pub use external::{ExternalOutcome, ExternalResult};

/// The name of the check verification is reported as.
pub const CHECK_NAME: &str = "ade/verify";

/// Masks secrets in text shown outside the runner: ade passes its DLP redaction
/// (`runner::dlp::Dlp::redact`), tests what they need.
pub type Mask<'a> = dyn Fn(&str) -> String + Send + Sync + 'a;

/// How one step ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepOutcome {
    /// It exited 0.
    Passed,
    /// It ended any other way on its own (a non-zero exit, a signal).
    Failed,
    /// It ran past its time limit and was stopped; a failure.
    TimedOut,
    /// It could not be run at all (the program is missing, the worktree is gone); never a pass.
    Error,
    /// Verification was cancelled while it ran or before it started.
    Cancelled,
    /// Not run: a dynamic step, and a static step did not pass.
    Skipped,
}

impl StepOutcome {
    /// The word the check and the comments show.
    pub fn as_str(self) -> &'static str {
        match self {
            StepOutcome::Passed => "passed",
            StepOutcome::Failed => "failed",
            StepOutcome::TimedOut => "timed out",
            StepOutcome::Error => "error",
            StepOutcome::Cancelled => "cancelled",
            StepOutcome::Skipped => "skipped",
        }
    }

    /// Whether the step failed on the agent's result (the agent can fix it): its output's last
    /// lines and annotations are shown and handed back as feedback.
    pub fn is_failure(self) -> bool {
        matches!(self, StepOutcome::Failed | StepOutcome::TimedOut)
    }
}

/// What one step did: the unit of the check's table, the stored report and the feedback.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepResult {
    /// The step's name in the policy.
    pub name: String,
    /// Static or dynamic.
    pub kind: StepKind,
    /// How it ended.
    pub outcome: StepOutcome,
    /// How the process ended, as text (`exited with code 101`, `did not start`).
    pub exit: String,
    /// Wall-clock time it ran, in milliseconds (0 when it did not run).
    pub duration_ms: u64,
    /// Why it timed out, could not run, was cancelled or skipped; masked and sanitized.
    pub reason: Option<String>,
    /// The last lines of its output: masked, sanitized, each line capped.
    pub tail: Vec<String>,
    /// File and line messages read from its output (failing steps only).
    pub annotations: Vec<CheckAnnotation>,
    /// Bytes of output it wrote, kept or not.
    pub output_bytes: u64,
    /// Whether the verification log holds less than all of its output (the per-step cap was
    /// reached).
    pub truncated: bool,
    /// Where its section of the verification log is: from its header line to the end of its
    /// ending line.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log: Option<LogRange>,
}

impl StepResult {
    /// A step that did not run, with why: `Skipped`, `Cancelled`, or `Error` when verification
    /// could not start.
    pub fn not_run(step: &VerificationStep, outcome: StepOutcome, reason: &str) -> StepResult {
        StepResult {
            name: step.name.clone(),
            kind: step.kind,
            outcome,
            exit: "did not run".to_string(),
            duration_ms: 0,
            reason: Some(reason.to_string()),
            tail: Vec::new(),
            annotations: Vec::new(),
            output_bytes: 0,
            truncated: false,
            log: None,
        }
    }
}

/// A byte range of the verification log, for the run page to show one step's whole output.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogRange {
    /// Offset of the first byte.
    pub start: u64,
    /// Offset just past the last byte.
    pub end: u64,
}

/// What verification concluded about a run's result.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Every step ran and passed.
    Passed,
    /// A step failed or timed out: the run is retried with feedback, or the approval rejected.
    Failed,
    /// A step could not run (and none failed): verification says nothing about the result, and
    /// it is never a pass.
    Error,
    /// Verification was stopped (cancel, a newer head).
    Cancelled,
    /// The policy sets no steps: nothing blocks, and nothing was checked.
    NothingToVerify,
}

impl Verdict {
    /// The verdict of a set of steps: Cancelled over Failed (a failed or timed-out step) over
    /// Error over Passed; no steps is NothingToVerify. Steps that were all skipped prove nothing
    /// and are an Error.
    pub fn of(steps: &[StepResult]) -> Verdict {
        if steps.is_empty() {
            return Verdict::NothingToVerify;
        }
        let any = |pick: fn(StepOutcome) -> bool| steps.iter().any(|s| pick(s.outcome));
        if any(|o| o == StepOutcome::Cancelled) {
            Verdict::Cancelled
        } else if any(StepOutcome::is_failure) {
            Verdict::Failed
        } else if any(|o| o == StepOutcome::Error) {
            Verdict::Error
        } else if any(|o| o == StepOutcome::Passed) {
            Verdict::Passed
        } else {
            Verdict::Error
        }
    }

    /// The verdict of steps whose verdict is `self` and of these external checks: a cancelled
    /// wait cancels, a failed or unfinished check fails, one never posted or unreadable is an
    /// error (nothing judged the change); passing checks make a policy without steps pass.
    pub fn with_external(self, external: &[ExternalResult]) -> Verdict {
        let any = |pick: fn(ExternalOutcome) -> bool| external.iter().any(|e| pick(e.outcome));
        if self == Verdict::Cancelled || any(|o| o == ExternalOutcome::Cancelled) {
            Verdict::Cancelled
        } else if self == Verdict::Failed || any(ExternalOutcome::is_failure) {
            Verdict::Failed
        } else if self == Verdict::Error || any(ExternalOutcome::is_error) {
            Verdict::Error
        } else if external.is_empty() {
            self
        } else {
            Verdict::Passed
        }
    }

    /// The word the check and the comments show.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Passed => "passed",
            Verdict::Failed => "failed",
            Verdict::Error => "error",
            Verdict::Cancelled => "cancelled",
            Verdict::NothingToVerify => "nothing to verify",
        }
    }

    /// Whether an approval may go ahead on this verdict (branch protection counts GitHub's
    /// `neutral` as passing too).
    pub fn lets_through(self) -> bool {
        matches!(self, Verdict::Passed | Verdict::NothingToVerify)
    }
}

/// The outcome of verifying one run's result: stored as JSON with the run, rendered into the
/// `ade/verify` check and the report comment.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerificationReport {
    /// The verdict of `steps` and `external` ([`Verdict::of`], [`Verdict::with_external`]).
    pub verdict: Verdict,
    /// Every step of the policy, in the order they ran (static first).
    pub steps: Vec<StepResult>,
    /// Wall-clock time of the whole verification, in milliseconds.
    pub duration_ms: u64,
    /// The policy's external checks, once they were waited for (none when the steps did not let
    /// the change through: there was nothing to wait for).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub external: Vec<ExternalResult>,
}

impl VerificationReport {
    /// A report of these steps with its verdict worked out.
    pub fn new(steps: Vec<StepResult>, duration_ms: u64) -> VerificationReport {
        VerificationReport {
            verdict: Verdict::of(&steps),
            steps,
            duration_ms,
            external: Vec::new(),
        }
    }

    /// The report with the external checks' results added, its verdict and duration (now
    /// including the wait, `waited_ms`) worked out again.
    pub fn with_external(
        mut self,
        external: Vec<ExternalResult>,
        waited_ms: u64,
    ) -> VerificationReport {
        self.verdict = Verdict::of(&self.steps).with_external(&external);
        self.external = external;
        self.duration_ms += waited_ms;
        self
    }

    /// The external checks that failed on the change's account.
    pub fn external_failures(&self) -> impl Iterator<Item = &ExternalResult> {
        self.external.iter().filter(|e| e.outcome.is_failure())
    }

    /// The report of a verification that could not start at all (the worktree is gone, the
    /// scratch folder cannot be made): every step an `Error` with `reason`. With no steps it is
    /// still NothingToVerify: there was nothing to run.
    pub fn not_run(steps: &[VerificationStep], reason: &str) -> VerificationReport {
        let results = steps
            .iter()
            .map(|step| StepResult::not_run(step, StepOutcome::Error, reason))
            .collect();
        VerificationReport::new(results, 0)
    }

    /// The steps that failed on the agent's result (failed or timed out).
    pub fn failures(&self) -> impl Iterator<Item = &StepResult> {
        self.steps.iter().filter(|s| s.outcome.is_failure())
    }

    /// Why verification could not say anything, for an `Error` verdict: the first step that
    /// could not run, with its reason.
    pub fn error_reason(&self) -> Option<String> {
        let Some(step) = self.steps.iter().find(|s| s.outcome == StepOutcome::Error) else {
            let check = self.external.iter().find(|e| e.outcome.is_error())?;
            return Some(format!("external check {}: {}", check.name, check.how));
        };
        Some(match &step.reason {
            Some(reason) => format!("step {}: {reason}", step.name),
            None => format!("step {} could not run", step.name),
        })
    }
}

/// `0.4 s`, `12.3 s`, `3m 12s`, `1h 02m`: how long something took, for people.
pub fn human_duration(ms: u64) -> String {
    let secs = ms / 1000;
    if secs < 60 {
        format!("{:.1} s", ms as f64 / 1000.0)
    } else if secs < 3600 {
        format!("{}m {:02}s", secs / 60, secs % 60)
    } else {
        format!("{}h {:02}m", secs / 3600, (secs % 3600) / 60)
    }
}
