//! What the agent is told on its next attempt when verification did not pass: the steps that did
//! not, how each ended, the file and line messages they printed, and their last lines; and the
//! external checks (the forge's CI) that did not pass, with what they said. It goes
//! into a prompt (`templates/run_prompt.md` quotes it in a fence), so it is masked and sanitized
//! like any text that leaves the runner, and kept to [`MAX_FEEDBACK`] bytes.

use serde::Serialize;

use super::tail::cap_chars;
use super::{
    ExternalOutcome, ExternalResult, Mask, StepOutcome, StepResult, Verdict, VerificationReport,
};
use crate::command::sanitize;
use crate::policy::StepKind;
use crate::templates::{self, TemplateError};

/// Most bytes of feedback: enough for the failing steps' last lines, small beside a prompt.
pub const MAX_FEEDBACK: usize = 6 * 1024;

/// Most output lines of one step the feedback starts from; fewer when they do not fit.
const FEEDBACK_LINES: usize = 20;

/// Most file and line messages of one step.
const FEEDBACK_ANNOTATIONS: usize = 10;

/// The feedback for the agent's next attempt, or `None` when there is nothing to fix: the
/// verdict passed, there was nothing to verify, or verification was cancelled. `mask` is applied
/// once more to the whole text (the report's texts were masked when it was made).
pub fn feedback(
    report: &VerificationReport,
    mask: &Mask<'_>,
) -> Result<Option<String>, TemplateError> {
    if !matches!(report.verdict, Verdict::Failed | Verdict::Error) {
        return Ok(None);
    }
    let steps: Vec<&StepResult> = report
        .steps
        .iter()
        .filter(|s| s.outcome.is_failure() || s.outcome == StepOutcome::Error)
        .collect();
    let external: Vec<&ExternalResult> = report
        .external
        .iter()
        .filter(|e| e.outcome.is_failure() || e.outcome == ExternalOutcome::Unreadable)
        .collect();
    let mut lines = FEEDBACK_LINES;
    loop {
        let view = FeedbackView {
            steps: steps.iter().map(|s| step_view(s, lines)).collect(),
            external: external.iter().map(|e| external_view(e, lines)).collect(),
        };
        let text = templates::render("verify_feedback.txt", &view)?;
        let text = sanitize(&mask(&text)).text;
        if text.len() <= MAX_FEEDBACK {
            return Ok(Some(text));
        }
        if lines == 0 {
            return Ok(Some(cut_bytes(&text, MAX_FEEDBACK)));
        }
        lines /= 2;
    }
}

/// What `verify_feedback.txt` renders.
#[derive(Debug, Serialize)]
struct FeedbackView {
    steps: Vec<FeedbackStep>,
    external: Vec<FeedbackExternal>,
}

#[derive(Debug, Serialize)]
struct FeedbackExternal {
    name: String,
    outcome: &'static str,
    how: String,
    title: Option<String>,
    link: Option<String>,
    annotations: Vec<String>,
    lines: Vec<String>,
}

/// An external check as the agent reads it: its first `lines` lines (a CI's summary leads with
/// what failed), its annotations and its link.
fn external_view(check: &ExternalResult, lines: usize) -> FeedbackExternal {
    FeedbackExternal {
        name: check.name.clone(),
        outcome: check.outcome.as_str(),
        how: check.how.clone(),
        title: check.title.clone(),
        link: check.link.clone(),
        annotations: check
            .notes
            .iter()
            .take(FEEDBACK_ANNOTATIONS)
            .map(|n| cap_chars(n, 300))
            .collect(),
        lines: check.lines.iter().take(lines).cloned().collect(),
    }
}

#[derive(Debug, Serialize)]
struct FeedbackStep {
    name: String,
    kind: &'static str,
    outcome: &'static str,
    how: String,
    annotations: Vec<String>,
    lines: Vec<String>,
}

fn step_view(step: &StepResult, lines: usize) -> FeedbackStep {
    let start = step.tail.len().saturating_sub(lines);
    FeedbackStep {
        name: step.name.clone(),
        kind: match step.kind {
            StepKind::Static => "static",
            StepKind::Dynamic => "dynamic",
        },
        outcome: step.outcome.as_str(),
        how: step.reason.clone().unwrap_or_else(|| step.exit.clone()),
        annotations: step
            .annotations
            .iter()
            .take(FEEDBACK_ANNOTATIONS)
            .map(|a| {
                let place = match a.start_column {
                    Some(col) => format!("{}:{}:{col}", a.path, a.start_line),
                    None => format!("{}:{}", a.path, a.start_line),
                };
                cap_chars(&format!("{place}: {}", a.message), 300)
            })
            .collect(),
        lines: step.tail[start..].to_vec(),
    }
}

/// `text` cut at a character boundary to at most `cap` bytes, saying so.
fn cut_bytes(text: &str, cap: usize) -> String {
    const CUT: &str = "\n[… cut by ade]";
    let mut end = cap.saturating_sub(CUT.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}{CUT}", &text[..end])
}
