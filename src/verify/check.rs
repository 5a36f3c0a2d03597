//! The `ade/verify` check, and the report comment that carries the same content where the check
//! cannot (Gitea and Forgejo keep only a status's state, one line and a link) and when an approval
//! is rejected after its last attempt. The wording is in templates/ (`verify_title.txt`,
//! `verify_check.md`, `verify_comment.md`, with `verify_steps.md` shared); this module builds the
//! views they render and keeps the result within what the forge accepts.

use serde::Serialize;

use super::tail::cap_chars;
use super::{
    CHECK_NAME, ExternalResult, StepOutcome, StepResult, Verdict, VerificationReport,
    human_duration,
};
use crate::command::sanitize;
use crate::forge::{Check, CheckAnnotation, CheckState, ExternalSource, ForgeKind};
use crate::policy::StepKind;
use crate::templates::{self, TemplateError};

/// Most annotations one check carries (GitHub takes 50 per request: one request is enough).
pub const MAX_ANNOTATIONS: usize = 50;

/// Longest summary or comment rendered, in bytes; GitHub refuses summaries over 65,535
/// characters, and a forge client that cut one would cut a code block open.
pub const MAX_TEXT: usize = 60_000;

/// Most characters of a reason in a title (Gitea shows 140 of a whole status description).
const TITLE_REASON_CHARS: usize = 100;

/// Which run, spec and commit a check is about: what its text names, like a commit's trailers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckContext {
    /// The forge it is posted to: Gitea keeps no annotations, so its comment lists them.
    pub forge: ForgeKind,
    /// The commit verified (the approval's head).
    pub head_sha: String,
    /// The spec version, `acme/widgets#12@v2` (`Ade-Spec:`).
    pub spec_reference: String,
    /// The task (`Ade-Task:`).
    pub task_id: String,
    /// The run (`Ade-Run:`).
    pub run_id: i64,
    /// This attempt, from 1.
    pub attempt: u32,
    /// How many attempts the policy allows.
    pub attempts: u32,
    /// The run page, the check's link.
    pub details_url: Option<String>,
}

/// Where verification of a head stands, for [`check`].
#[derive(Clone, Copy, Debug)]
pub enum CheckStage<'a> {
    /// The steps are running.
    InProgress {
        /// How many steps the policy sets.
        steps: usize,
    },
    /// Verification ended with this report (its verdict decides the state).
    Completed(&'a VerificationReport),
    /// A newer head replaced the one verified; what ran, if anything, says nothing about it.
    Superseded {
        /// The approval's new head.
        newer_head: &'a str,
    },
    /// Verification could not be carried out at all, before any step (ade's own words).
    CouldNotRun {
        /// Why.
        reason: &'a str,
    },
}

/// Which report comment [`report_comment`] renders.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CommentKind {
    /// The approval's sticky verification comment (Gitea and Forgejo, where the status keeps
    /// one line).
    Report,
    /// The comment on an approval rejected because its last attempt failed verification.
    Rejected,
}

/// The `ade/verify` check for a stage: its state, a title that fits a Gitea status, a summary
/// (the step table, each failing step's last lines, the spec, task and run), the failing steps'
/// annotations, the run page, and an external id naming the run and attempt.
pub fn check(ctx: &CheckContext, stage: CheckStage<'_>) -> Result<Check, TemplateError> {
    let (state, report) = match stage {
        CheckStage::InProgress { .. } => (CheckState::InProgress, None),
        CheckStage::Completed(report) => (state_of(report.verdict), Some(report)),
        CheckStage::Superseded { .. } => (CheckState::Cancelled, None),
        CheckStage::CouldNotRun { .. } => (CheckState::Error, None),
    };
    let view = ReportView::new(ctx, stage, CommentKind::Report);
    let title = templates::render("verify_title.txt", &view)?;
    let summary = fit(&view, "verify_check.md")?;
    Ok(Check {
        name: CHECK_NAME.to_string(),
        head_sha: ctx.head_sha.clone(),
        state,
        title: title.split_whitespace().collect::<Vec<_>>().join(" "),
        summary,
        text: None,
        annotations: report.map(check_annotations).unwrap_or_default(),
        details_url: ctx.details_url.clone(),
        external_id: Some(external_id(ctx)),
    })
}

/// The Markdown body of a report comment: the same table and last lines as the check, and on
/// Gitea the annotations the status cannot carry.
pub fn report_comment(
    ctx: &CheckContext,
    report: &VerificationReport,
    kind: CommentKind,
) -> Result<String, TemplateError> {
    let view = ReportView::new(ctx, CheckStage::Completed(report), kind);
    fit(&view, "verify_comment.md")
}

/// ade's id of the check: the run and the attempt it verifies.
pub fn external_id(ctx: &CheckContext) -> String {
    format!("ade:run:{}:attempt:{}", ctx.run_id, ctx.attempt)
}

/// The check state of a verdict: nothing to verify is neutral (it passes), an error never passes.
pub fn state_of(verdict: Verdict) -> CheckState {
    match verdict {
        Verdict::Passed => CheckState::Success,
        Verdict::Failed => CheckState::Failure,
        Verdict::Error => CheckState::Error,
        Verdict::Cancelled => CheckState::Cancelled,
        Verdict::NothingToVerify => CheckState::Neutral,
    }
}

/// Renders `template`, showing fewer of each failing step's last lines until it fits
/// [`MAX_TEXT`]; the table and reasons always stay.
fn fit(view: &ReportView, template: &str) -> Result<String, TemplateError> {
    let mut lines = super::tail::TAIL_LINES;
    loop {
        let text = templates::render(template, view.with_tail_lines(lines))?;
        if text.len() <= MAX_TEXT || lines == 0 {
            return Ok(cap_chars(&text, MAX_TEXT));
        }
        lines /= 2;
    }
}

/// The failing steps' annotations, taken in turn from each step so one noisy step cannot crowd
/// out the others, at most [`MAX_ANNOTATIONS`].
fn check_annotations(report: &VerificationReport) -> Vec<CheckAnnotation> {
    let lists: Vec<&[CheckAnnotation]> = report.failures().map(|s| &s.annotations[..]).collect();
    let mut taken = Vec::new();
    for round in 0.. {
        let before = taken.len();
        for list in &lists {
            if let Some(annotation) = list.get(round)
                && taken.len() < MAX_ANNOTATIONS
            {
                let mut annotation = annotation.clone();
                annotation.message = clean(&annotation.message, super::annotations::MESSAGE_CHARS);
                taken.push(annotation);
            }
        }
        if taken.len() == before || taken.len() >= MAX_ANNOTATIONS {
            return taken;
        }
    }
    taken
}

/// Stored text sanitized again on its way out: a report may come back from storage or from a
/// remote runner, and what reaches the forge is cleaned here whatever made it.
fn clean(text: &str, cap: usize) -> String {
    let text = sanitize(text).text;
    cap_chars(&text.split_whitespace().collect::<Vec<_>>().join(" "), cap)
}

/// What the verification templates render; every value from a step's output is cleaned here and
/// escaped by the template that places it.
#[derive(Clone, Debug, Serialize)]
struct ReportView {
    /// `in_progress`, `passed`, `failed`, `error`, `cancelled`, `superseded` or `nothing`.
    state: &'static str,
    rejected: bool,
    gitea: bool,
    spec_reference: String,
    task_id: String,
    run_id: i64,
    attempt: u32,
    attempts: u32,
    head: String,
    newer_head: Option<String>,
    reason: Option<String>,
    title_reason: Option<String>,
    step_count: usize,
    steps: Vec<StepView>,
    failed_names: Vec<String>,
    /// The external checks, each with what it reported when it failed.
    external: Vec<ExternalView>,
    /// The external checks that failed, missing or unfinished ones included.
    failed_external: Vec<String>,
    /// Steps and external checks together, for a title that counts both.
    check_count: usize,
    /// Every failed step and external check, for that title.
    title_failed: Vec<String>,
    tails: Vec<TailView>,
    annotations: Vec<AnnotationView>,
    duration: String,
    details_url: Option<String>,
}

#[derive(Clone, Debug, Serialize)]
struct StepView {
    name: String,
    kind: &'static str,
    outcome: &'static str,
    how: String,
    time: String,
}

#[derive(Clone, Debug, Serialize)]
struct ExternalView {
    name: String,
    /// `check run` or `status`, when it was found.
    source: Option<&'static str>,
    outcome: &'static str,
    how: String,
    title: Option<String>,
    link: Option<String>,
    fence: String,
    lines: Vec<String>,
    notes: Vec<String>,
}

/// An external check as the check and the comments show it; its texts were cleaned when the
/// report was made and are cleaned again here, since a report may come back from storage.
fn external_view(check: &ExternalResult) -> ExternalView {
    let lines: Vec<String> = check
        .lines
        .iter()
        .map(|l| {
            cap_chars(
                &sanitize(l).text.replace('\n', " "),
                super::tail::LINE_CHARS,
            )
        })
        .collect();
    ExternalView {
        name: clean(&check.name, 100),
        source: check.source.map(|s| match s {
            ExternalSource::CheckRun => "check run",
            ExternalSource::Status => "status",
        }),
        outcome: check.outcome.as_str(),
        how: clean(&check.how, 300),
        title: check.title.as_deref().map(|t| clean(t, 300)),
        link: check
            .link
            .as_deref()
            .filter(|u| is_plain_url(u))
            .map(str::to_string),
        fence: fence_for(&lines),
        notes: check.notes.iter().map(|n| clean(n, 500)).collect(),
        lines,
    }
}

/// A code fence longer than any backtick run in `lines`, so no line can close it.
fn fence_for(lines: &[String]) -> String {
    let longest = lines
        .iter()
        .flat_map(|l| l.split(|c| c != '`'))
        .map(str::len)
        .max()
        .unwrap_or(0);
    "`".repeat(longest.max(2) + 1)
}

#[derive(Clone, Debug, Serialize)]
struct TailView {
    name: String,
    how: String,
    fence: String,
    lines: Vec<String>,
    shown: usize,
    total: usize,
    truncated: bool,
    output_size: String,
}

#[derive(Clone, Debug, Serialize)]
struct AnnotationView {
    place: String,
    warning: bool,
    message: String,
}

impl ReportView {
    fn new(ctx: &CheckContext, stage: CheckStage<'_>, kind: CommentKind) -> ReportView {
        let (state, report, newer_head, reason, step_count) = match stage {
            CheckStage::InProgress { steps } => ("in_progress", None, None, None, steps),
            CheckStage::Completed(report) => {
                let reason = (report.verdict == Verdict::Error)
                    .then(|| report.error_reason())
                    .flatten();
                (
                    verdict_state(report.verdict),
                    Some(report),
                    None,
                    reason,
                    report.steps.len(),
                )
            }
            CheckStage::Superseded { newer_head } => {
                ("superseded", None, Some(short_sha(newer_head)), None, 0)
            }
            CheckStage::CouldNotRun { reason } => ("error", None, None, Some(reason.into()), 0),
        };
        let reason = reason.map(|r| clean(&r, 1000));
        let steps = report.map(|r| &r.steps[..]).unwrap_or_default();
        let external = report.map(|r| &r.external[..]).unwrap_or_default();
        let failed_names: Vec<String> = steps
            .iter()
            .filter(|s| s.outcome.is_failure())
            .map(|s| s.name.clone())
            .collect();
        let failed_external: Vec<String> = external
            .iter()
            .filter(|e| e.outcome.is_failure())
            .map(|e| clean(&e.name, 100))
            .collect();
        ReportView {
            state,
            rejected: kind == CommentKind::Rejected,
            gitea: ctx.forge == ForgeKind::Gitea,
            spec_reference: ctx.spec_reference.clone(),
            task_id: ctx.task_id.clone(),
            run_id: ctx.run_id,
            attempt: ctx.attempt,
            attempts: ctx.attempts,
            head: short_sha(&ctx.head_sha),
            newer_head,
            title_reason: reason.as_deref().map(|r| cap_chars(r, TITLE_REASON_CHARS)),
            reason,
            step_count,
            steps: steps.iter().map(step_view).collect(),
            external: external.iter().map(external_view).collect(),
            check_count: steps.len() + external.len(),
            title_failed: failed_names
                .iter()
                .chain(&failed_external)
                .cloned()
                .collect(),
            failed_names,
            failed_external,
            tails: steps
                .iter()
                .filter(|s| {
                    s.outcome.is_failure()
                        || (s.outcome == StepOutcome::Error && !s.tail.is_empty())
                })
                .map(tail_view)
                .collect(),
            annotations: report
                .map(check_annotations)
                .unwrap_or_default()
                .iter()
                .map(annotation_view)
                .collect(),
            duration: human_duration(report.map_or(0, |r| r.duration_ms)),
            details_url: ctx
                .details_url
                .as_deref()
                .filter(|u| is_plain_url(u))
                .map(str::to_string),
        }
    }

    /// The view with each tail cut to its last `lines` lines, and each external check's output
    /// to its first.
    fn with_tail_lines(&self, lines: usize) -> ReportView {
        let mut view = self.clone();
        for tail in &mut view.tails {
            let drop = tail.lines.len().saturating_sub(lines);
            tail.lines.drain(..drop);
            tail.shown = tail.lines.len();
        }
        for check in &mut view.external {
            check.lines.truncate(lines);
        }
        view
    }
}

fn verdict_state(verdict: Verdict) -> &'static str {
    match verdict {
        Verdict::Passed => "passed",
        Verdict::Failed => "failed",
        Verdict::Error => "error",
        Verdict::Cancelled => "cancelled",
        Verdict::NothingToVerify => "nothing",
    }
}

fn step_view(step: &StepResult) -> StepView {
    StepView {
        name: step.name.clone(),
        kind: match step.kind {
            StepKind::Static => "static",
            StepKind::Dynamic => "dynamic",
        },
        outcome: step.outcome.as_str(),
        how: how(step),
        time: if step.outcome == StepOutcome::Skipped || step.exit == "did not run" {
            "—".to_string()
        } else {
            human_duration(step.duration_ms)
        },
    }
}

/// How a step ended, in a few words: its reason when it has one, else how its process ended.
fn how(step: &StepResult) -> String {
    match (&step.reason, step.outcome) {
        (Some(reason), _) => clean(reason, 300),
        (None, StepOutcome::Passed) => String::new(),
        (None, _) => clean(&step.exit, 300),
    }
}

fn tail_view(step: &StepResult) -> TailView {
    let lines: Vec<String> = step
        .tail
        .iter()
        .map(|l| {
            cap_chars(
                &sanitize(l).text.replace('\n', " "),
                super::tail::LINE_CHARS,
            )
        })
        .collect();
    let longest = lines
        .iter()
        .flat_map(|l| l.split(|c| c != '`'))
        .map(str::len)
        .max()
        .unwrap_or(0);
    TailView {
        name: step.name.clone(),
        how: how(step),
        fence: "`".repeat(longest.max(2) + 1),
        shown: lines.len(),
        total: lines.len(),
        lines,
        truncated: step.truncated,
        output_size: human_bytes(step.output_bytes),
    }
}

fn annotation_view(annotation: &CheckAnnotation) -> AnnotationView {
    let place = match annotation.start_column {
        Some(col) => format!("{}:{}:{col}", annotation.path, annotation.start_line),
        None => format!("{}:{}", annotation.path, annotation.start_line),
    };
    AnnotationView {
        place,
        warning: annotation.level == crate::forge::AnnotationLevel::Warning,
        message: annotation.message.clone(),
    }
}

/// `812 bytes`, `64.0 KiB`, `50.0 MiB`.
fn human_bytes(bytes: u64) -> String {
    const KIB: f64 = 1024.0;
    match bytes as f64 {
        b if b < KIB => format!("{bytes} bytes"),
        b if b < KIB * KIB => format!("{:.1} KiB", b / KIB),
        b => format!("{:.1} MiB", b / (KIB * KIB)),
    }
}

/// The first 12 characters of a commit id, as ade shows commits.
fn short_sha(sha: &str) -> String {
    sha.chars().take(12).collect()
}

/// Whether a link can sit in Markdown as `[text](url)` without breaking out of it.
fn is_plain_url(url: &str) -> bool {
    (url.starts_with("https://") || url.starts_with("http://"))
        && !url
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || "<>()[]\"'`\\".contains(c))
}
