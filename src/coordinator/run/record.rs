//! Recording how a run ended: the run's state and reason, its task's move, its verification's
//! verdict and what follows from it (ready for review; a retry with the failure as feedback; after
//! the last attempt, the rejection the policy asks for), and the report posted when a run ended
//! without a change to review. Everything here runs in the transaction that completes the job,
//! and reads the task, its approval and the run's cancel flag again first: a person may have
//! merged or closed the approval, or cancelled the task, while the run was in flight, and then the
//! run only records what it did.

use std::sync::Arc;

use super::approval::Opened;
use super::job::RunJob;
use super::load::StoredRun;
use super::published::{self, Published};
use super::reviews::{ReviewReplyView, TakenReview, Touched};
use crate::coordinator::render::{self, ReplyView};
use crate::coordinator::review::requested;
use crate::coordinator::shared::Shared;
use crate::coordinator::verification::{self, Subject};
use crate::coordinator::writes::ForgeWrite;
use crate::jobs::{Job, JobError};
use crate::lifecycle::{ApprovalState, RunState, State, TaskState, VerificationState};
use crate::markdown;
use crate::policy::{EffectivePolicy, RejectAction};
use crate::runner::dlp::Dlp;
use crate::runner::{Fault, RunOutcome};
use crate::store::approvals::ApprovalRow;
use crate::store::jobs as queue;
use crate::store::runs::{self as store, NewRun, RunCause, RunEnd};
use crate::store::verifications::{self, VerificationEnd};
use crate::store::{Conn, approvals, tasks};
use crate::verify::{CheckStage, CommentKind, Verdict, VerificationReport};

/// What a run's end is recorded with.
pub(super) struct Ending<'a> {
    /// The shared parts (links, forge write attempts).
    pub shared: &'a Shared,
    /// The run and what it belongs to, as read when it started.
    pub l: &'a StoredRun,
    /// The policy the run ran under.
    pub policy: Arc<EffectivePolicy>,
    /// The state the run is in now.
    pub from: RunState,
    /// What publishing recorded (for a run that pushed).
    pub published: Option<Published>,
    /// The job's clock.
    pub now: i64,
}

/// The task, its approval and the cancel flag as they are now, in the recording transaction.
struct Current {
    task: TaskState,
    approval: Option<ApprovalRow>,
    cancel: bool,
}

impl Current {
    async fn read(tx: &mut Conn, l: &StoredRun) -> Result<Current, JobError> {
        Ok(Current {
            task: tasks::task(tx, l.task.id)
                .await?
                .map_or(l.task.state, |t| t.state),
            approval: approvals::of_task(tx, l.task.id).await?,
            cancel: store::cancel_requested(tx, l.run.id).await?,
        })
    }

    /// Whether someone else decided the task's fate while the run was in flight: a cancel, or a
    /// person merging or closing its approval (which publishing had made pending).
    fn moved_on(&self) -> bool {
        self.cancel
            || self.task != TaskState::Running
            || self
                .approval
                .as_ref()
                .is_some_and(|a| !a.state.awaits_review())
    }
}

/// Records how the run ended; returns the forge writes about it. `opened_late` is the approval
/// opened after the run when publishing could not open it. A run that took reviews asking for
/// changes (from reviews, or a retry that read them) also replies on its approval, once, with
/// what changed for each line comment. A look at reviews asking for changes that stopped waiting
/// for this run to end looks now.
pub(super) async fn end(
    tx: &mut Conn,
    e: Ending<'_>,
    outcome: RunOutcome,
    opened_late: Option<Opened>,
) -> Result<Vec<ForgeWrite>, JobError> {
    let (run, task) = (e.l.run.clone(), e.l.task.id);
    let repo = e.l.repo.clone();
    let now = e.now;
    let reported = outcome.clone();
    let mut writes = end_run(tx, e, outcome, opened_late).await?;
    let Some(approval) = approvals::of_task(tx, task).await? else {
        return Ok(writes);
    };
    if matches!(
        approval.state,
        ApprovalState::Merged | ApprovalState::Closed
    ) {
        return Ok(writes);
    }
    let taken = crate::store::reviews::of_run(tx, run.id).await?;
    if !taken.is_empty() {
        writes.push(review_reply(
            &taken,
            &run,
            repo,
            approval.number,
            &reported,
        )?);
    }
    requested::after_run(tx, &approval, &run, now).await?;
    Ok(writes)
}

/// At most `cap` characters of `text`'s first line, for a sentence of a reply.
fn first_line(text: &str, cap: usize) -> String {
    let line = text.lines().next().unwrap_or("");
    if line.chars().count() <= cap {
        line.to_string()
    } else {
        line.chars().take(cap).collect::<String>() + "…"
    }
}

/// Most characters of a reason a review reply quotes.
const MAX_REPLY_REASON: usize = 300;

/// The reply after a run that took reviews (`taken`): how it ended, and for each review and line
/// comment what the run changed there.
fn review_reply(
    taken: &[crate::store::reviews::TakenRow],
    run: &crate::store::runs::RunRow,
    repo: crate::forge::RepoRef,
    number: i64,
    outcome: &RunOutcome,
) -> Result<ForgeWrite, JobError> {
    let taken: Vec<TakenReview> = taken
        .iter()
        .filter_map(|row| serde_json::from_str(row.said.as_deref()?).ok())
        .collect();
    let report = outcome.report();
    let (said, touched) = match outcome {
        RunOutcome::Pushed {
            head_sha,
            verification,
            ..
        } => (
            format!(
                "it pushed {}; `ade/verify` {}.",
                markdown::code_span(&head_sha[..head_sha.len().min(12)]),
                match verification.verdict {
                    Verdict::Passed => "passed".to_string(),
                    Verdict::NothingToVerify => "had nothing to verify".to_string(),
                    Verdict::Failed => format!(
                        "failed ({})",
                        markdown::inline(&first_line(
                            &failing_steps(verification),
                            MAX_REPLY_REASON
                        ))
                    ),
                    Verdict::Error => "could not run".to_string(),
                    Verdict::Cancelled => "was cancelled".to_string(),
                }
            ),
            Some(Touched::new(&report.touched, report.files_changed)),
        ),
        RunOutcome::NoChanges { report } => (
            format!(
                "{}; this approval stays as it was.",
                markdown::inline(&first_line(&report.no_changes_reason(), MAX_REPLY_REASON))
            ),
            None,
        ),
        RunOutcome::Blocked { reason, .. } | RunOutcome::Failed { reason, .. } => (
            format!(
                "it pushed nothing: {}",
                markdown::inline(&first_line(reason, MAX_REPLY_REASON))
            ),
            None,
        ),
        RunOutcome::Cancelled { .. } => ("it was cancelled.".to_string(), None),
    };
    let view = ReviewReplyView::new(
        (run.id, run.attempt, &run.agent),
        said,
        &taken,
        touched,
        &report.summary,
    );
    Ok(ForgeWrite::Comment {
        shows: None,
        repo,
        number,
        marker: format!("reviewed:{}", run.id),
        body: view.render()?,
    })
}

/// [`end`], for every run.
async fn end_run(
    tx: &mut Conn,
    e: Ending<'_>,
    outcome: RunOutcome,
    opened_late: Option<Opened>,
) -> Result<Vec<ForgeWrite>, JobError> {
    let json = serde_json::to_string(&outcome).expect("serializes");
    crate::store::limits::spent_by(tx, e.l.run.id, e.now, outcome.report().cost_micro_usd).await?;
    super::egress::record(tx, e.l.run.id, &outcome.report().egress, e.now).await?;
    let log = match &outcome {
        RunOutcome::Pushed {
            verification_log: Some(log),
            ..
        } => Some(log.clone()),
        other => other.report().log.clone(),
    };
    let l = e.l;
    let RunOutcome::Pushed {
        head_sha,
        verification: report,
        ..
    } = &outcome
    else {
        let now = Current::read(tx, l).await?;
        return ended_without_change(tx, &e, &now, &outcome, &json).await;
    };
    let (published, mut writes) = match (e.published.clone(), opened_late) {
        (Some(published), _) => (published, Vec::new()),
        (None, Some(opened)) => {
            let (approval, verification, writes) =
                published::record(tx, e.shared, l, &opened, head_sha, &e.policy, e.now).await?;
            let published = Published {
                opened,
                approval,
                verification,
                verification_state: VerificationState::Running,
            };
            (published, writes)
        }
        (None, None) => {
            let now = Current::read(tx, l).await?;
            let short = &head_sha[..head_sha.len().min(12)];
            let failed = RunOutcome::Failed {
                reason: if now.moved_on() {
                    format!(
                        "the change was pushed as {short}, but the task's approval was closed or merged (or the task cancelled) while the run was in flight"
                    )
                } else {
                    format!(
                        "the change was pushed as {short}, but its approval could not be opened; `/ade run` tries again"
                    )
                },
                fault: Fault::Run,
                report: outcome.report().clone(),
            };
            return ended_without_change(tx, &e, &now, &failed, &json).await;
        }
    };
    let now = Current::read(tx, l).await?;
    writes.extend(
        verdict(
            tx,
            &e,
            &now,
            head_sha,
            report,
            (&json, log.as_deref()),
            &published,
        )
        .await?,
    );
    Ok(writes)
}

/// A run that produced nothing to review. A first run's task fails, and the goal is told why; a
/// retry's task goes back to its open approval, and the approval is told.
async fn ended_without_change(
    tx: &mut Conn,
    e: &Ending<'_>,
    now: &Current,
    outcome: &RunOutcome,
    json: &str,
) -> Result<Vec<ForgeWrite>, JobError> {
    let l = e.l;
    let (state, reason) = match outcome {
        RunOutcome::Cancelled { .. } => (RunState::Cancelled, "cancelled".to_string()),
        RunOutcome::NoChanges { report } => (RunState::Failed, report.no_changes_reason()),
        RunOutcome::Blocked { reason, .. } | RunOutcome::Failed { reason, .. } => {
            (RunState::Failed, reason.clone())
        }
        RunOutcome::Pushed { .. } => (
            RunState::Failed,
            "the run pushed, but no approval was recorded".to_string(),
        ),
    };
    finish(tx, e, state, None, Some(&reason), json).await?;
    // A verification this run began (it pushed before, and was taken over since) ends too.
    if let Some(v) = verifications::of_run(tx, l.run.id).await?
        && !v.state.is_final()
    {
        crate::coordinator::verification::job::could_not_finish(
            e.shared,
            tx,
            v.id,
            &format!("the run ended without verifying: {reason}"),
            e.now,
        )
        .await?;
    }
    let mut writes = Vec::new();
    // A retry continues an approval that stays open; a run that started the task afresh does not.
    let open_approval = now
        .approval
        .as_ref()
        .filter(|_| l.run.cause.continues())
        .filter(|a| a.state.awaits_review() || a.state == ApprovalState::Rejected);
    if now.task == TaskState::Running {
        let to = match (state, open_approval) {
            (RunState::Cancelled, _) => TaskState::Cancelled,
            (_, Some(a)) if a.state == ApprovalState::Rejected => TaskState::Rejected,
            (_, Some(_)) => TaskState::Review,
            _ => TaskState::Failed,
        };
        tasks::move_task(tx, l.task.id, TaskState::Running, to, e.now).await?;
    }
    if state == RunState::Cancelled {
        writes.extend(close_if_cancelled(tx, e, now).await?);
    }
    let headline = match state {
        RunState::Cancelled => format!(
            "run {} of task {} was cancelled.",
            l.run.id,
            markdown::code_span(&l.task.task_id)
        ),
        _ if open_approval.is_some() => format!(
            "run {} of task {} (attempt {}) ended without a new change: {}. This approval stays as it was.",
            l.run.id,
            markdown::code_span(&l.task.task_id),
            l.run.attempt,
            reason
        ),
        _ => format!(
            "run {} of task {} failed: {}",
            l.run.id,
            markdown::code_span(&l.task.task_id),
            reason
        ),
    };
    let number = match open_approval {
        Some(a) if state != RunState::Cancelled => a.number,
        _ => l.goal.number,
    };
    // A run that took reviews says how it ended in its reply to them ([`end`]).
    let took_reviews = !crate::store::reviews::of_run(tx, l.run.id)
        .await?
        .is_empty();
    if !(took_reviews && open_approval.is_some()) {
        writes.push(report(l, outcome, headline, number)?);
    }
    Ok(writes)
}

/// A pushed run: its verification's verdict decides what happens next, unless someone else
/// decided the task's fate meanwhile.
async fn verdict(
    tx: &mut Conn,
    e: &Ending<'_>,
    now: &Current,
    head_sha: &str,
    report: &VerificationReport,
    (json, log): (&str, Option<&str>),
    published: &Published,
) -> Result<Vec<ForgeWrite>, JobError> {
    let l = e.l;
    let state = verification::state_of(report.verdict);
    let report_json = serde_json::to_string(report).expect("a report serializes");
    let reason = report.error_reason();
    let ended = verifications::finish(
        tx,
        published.verification,
        published.verification_state,
        &VerificationEnd {
            state,
            report: Some(&report_json),
            reason: reason.as_deref(),
            log,
        },
        e.now,
    )
    .await?;
    let approval = now
        .approval
        .clone()
        .unwrap_or_else(|| published.approval.clone());
    let subject = Subject {
        forge: l.forge,
        repo: l.repo.clone(),
        approval,
        run: l.run.clone(),
        task_id: l.task.task_id.clone(),
        spec_reference: l.spec.reference(),
        goal_number: l.goal.number,
        policy: e.policy.clone(),
    };
    let run_state = match report.verdict {
        Verdict::Passed | Verdict::NothingToVerify => RunState::Succeeded,
        Verdict::Failed => RunState::Failed,
        Verdict::Error => RunState::Unverified,
        Verdict::Cancelled => RunState::Cancelled,
    };
    if !ended {
        // A newer head (someone else's push) superseded this verification: it decides.
        finish(tx, e, RunState::Succeeded, Some(head_sha), None, json).await?;
        if now.task == TaskState::Running {
            tasks::move_task(tx, l.task.id, TaskState::Running, TaskState::Review, e.now).await?;
        }
        return Ok(Vec::new());
    }
    let context = subject.context(e.shared, head_sha, published.verification, e.now);
    let mut writes = verification::report(&subject, &context, CheckStage::Completed(report))?;
    if now.moved_on() || report.verdict == Verdict::Cancelled {
        // Cancelled, or merged or closed by a person: record what the run did, nothing more.
        let why = report.error_reason().or_else(|| Some("cancelled".into()));
        finish(
            tx,
            e,
            run_state,
            Some(head_sha),
            why.as_deref().filter(|_| run_state != RunState::Succeeded),
            json,
        )
        .await?;
        if now.task == TaskState::Running {
            let to = if now.cancel || report.verdict == Verdict::Cancelled {
                TaskState::Cancelled
            } else {
                TaskState::Review
            };
            tasks::move_task(tx, l.task.id, TaskState::Running, to, e.now).await?;
        }
        writes.extend(close_if_cancelled(tx, e, now).await?);
        return Ok(writes);
    }
    match report.verdict {
        Verdict::Passed | Verdict::NothingToVerify => {
            tasks::move_task(tx, l.task.id, TaskState::Running, TaskState::Review, e.now).await?;
            finish(tx, e, run_state, Some(head_sha), None, json).await?;
            writes.extend(verification::passed(tx, &subject, head_sha, e.now).await?);
        }
        Verdict::Error => {
            tasks::move_task(tx, l.task.id, TaskState::Running, TaskState::Review, e.now).await?;
            let why = reason.unwrap_or_else(|| "verification could not run".into());
            finish(tx, e, run_state, Some(head_sha), Some(&why), json).await?;
            writes.push(ForgeWrite::Comment {
                shows: None,
                repo: l.repo.clone(),
                number: subject.approval.number,
                marker: format!("unverified:{}", l.run.id),
                body: render::reply(&ReplyView {
                    headline: format!(
                        "ade could not verify this change: {}. It stays a draft until `/ade verify` passes.",
                        markdown::inline(&why)
                    ),
                    ..ReplyView::default()
                })?,
            });
        }
        Verdict::Failed => {
            let why = format!("verification failed: {}", failing_steps(report));
            finish(tx, e, run_state, Some(head_sha), Some(&why), json).await?;
            if attempt_in_series(tx, l).await? < e.policy.execution.attempts {
                writes.extend(retry(tx, e, head_sha, report).await?);
            } else {
                writes.extend(reject(tx, e, &subject, report, &context, &why).await?);
            }
        }
        Verdict::Cancelled => unreachable!("handled above"),
    }
    Ok(writes)
}

/// Which attempt of its current series the run is: runs since the task was last started afresh
/// (`/ade run` starts a new series with the policy's attempts).
async fn attempt_in_series(tx: &mut Conn, l: &StoredRun) -> Result<u32, JobError> {
    let runs = store::runs_of_task(tx, l.task.id).await?;
    let mut n = 0;
    for run in runs.iter().filter(|r| r.attempt <= l.run.attempt) {
        n += 1;
        if run.cause == RunCause::Start {
            break;
        }
    }
    Ok(n.max(1))
}

/// A cancel asked for while the run was in flight: an approval still open (opened by this run
/// after the cancel looked) is closed as cancelled.
async fn close_if_cancelled(
    tx: &mut Conn,
    e: &Ending<'_>,
    now: &Current,
) -> Result<Vec<ForgeWrite>, JobError> {
    let Some(approval) = now.approval.as_ref().filter(|a| a.state.awaits_review()) else {
        return Ok(Vec::new());
    };
    if !now.cancel {
        return Ok(Vec::new());
    }
    approvals::close_cancelled(tx, approval, e.now).await?;
    Ok(vec![ForgeWrite::ClosePull {
        repo: e.l.repo.clone(),
        number: approval.number,
    }])
}

/// The failing steps' and external checks' names, for reasons.
fn failing_steps(report: &VerificationReport) -> String {
    let names: Vec<String> = report.failures().map(|s| s.name.clone()).collect();
    let external: Vec<String> = report
        .external_failures()
        .map(|e| format!("{} ({})", e.name, e.outcome.as_str()))
        .collect();
    match (names.is_empty(), external.is_empty()) {
        (true, true) => "a step failed".into(),
        (false, true) => format!("step {}", names.join(", ")),
        (true, false) => format!("external check {}", external.join(", ")),
        (false, false) => format!(
            "step {}; external check {}",
            names.join(", "),
            external.join(", ")
        ),
    }
}

/// Runs the agent again on the approval's head, with the failure as feedback.
async fn retry(
    tx: &mut Conn,
    e: &Ending<'_>,
    head_sha: &str,
    report: &VerificationReport,
) -> Result<Vec<ForgeWrite>, JobError> {
    let l = e.l;
    let dlp = Dlp::new(&e.policy.dlp_rules)
        .unwrap_or_else(|_| Dlp::new(&[]).expect("the built-in detectors compile"));
    let mask = move |text: &str| dlp.redact(text);
    let feedback = crate::verify::feedback::feedback(report, &mask)?;
    let run = store::insert_run(
        tx,
        &NewRun {
            task: l.task.id,
            agent: &l.run.agent,
            environment: &l.run.environment,
            base_sha: head_sha,
            branch: &l.run.branch,
            requester: &l.run.requester,
            feedback: feedback.as_deref(),
            cause: RunCause::Retry,
        },
        e.now,
    )
    .await?;
    let job = RunJob::new(run).new_job(RunJob::ATTEMPTS, e.now);
    queue::enqueue(tx, &job, e.now).await?;
    tracing::info!(task = %l.task.task_id, run, attempt = l.run.attempt + 1, "verification failed; the agent tries again with the failure as feedback");
    Ok(Vec::new())
}

/// The last attempt failed verification: the approval is rejected as the policy says (closed,
/// made a draft, or only labelled; the label always), with a comment naming the failing steps
/// and their last lines, and the task is rejected.
async fn reject(
    tx: &mut Conn,
    e: &Ending<'_>,
    subject: &Subject,
    report: &VerificationReport,
    context: &crate::verify::CheckContext,
    why: &str,
) -> Result<Vec<ForgeWrite>, JobError> {
    let l = e.l;
    let approval = &subject.approval;
    tasks::move_task(
        tx,
        l.task.id,
        TaskState::Running,
        TaskState::Rejected,
        e.now,
    )
    .await?;
    if approval.state.can_become(ApprovalState::Rejected) {
        approvals::move_approval(
            tx,
            approval.id,
            approval.state,
            ApprovalState::Rejected,
            Some(why),
            e.now,
        )
        .await?;
    }
    let repo = l.repo.clone();
    let number = approval.number;
    let mut writes = vec![ForgeWrite::Comment {
        shows: None,
        repo: repo.clone(),
        number,
        marker: format!("rejected:{}", l.run.id),
        body: crate::verify::check::report_comment(context, report, CommentKind::Rejected)?,
    }];
    match e.policy.auto_reject.action {
        RejectAction::Close => writes.push(ForgeWrite::ClosePull {
            repo: repo.clone(),
            number,
        }),
        RejectAction::Draft => {
            approvals::set_draft(tx, approval.id, true).await?;
            writes.push(ForgeWrite::Draft {
                repo: repo.clone(),
                number,
                draft: true,
                after_check: None,
            });
        }
        RejectAction::Label => {}
    }
    writes.push(ForgeWrite::Label {
        repo,
        number,
        labels: vec![e.policy.auto_reject.label.clone()],
    });
    tracing::info!(task = %l.task.task_id, pull = number, action = ?e.policy.auto_reject.action, "verification failed on the last attempt; approval rejected");
    Ok(writes)
}

/// Ends the run row.
async fn finish(
    tx: &mut Conn,
    e: &Ending<'_>,
    state: RunState,
    head: Option<&str>,
    reason: Option<&str>,
    json: &str,
) -> Result<(), JobError> {
    store::finish_run(
        tx,
        e.l.run.id,
        e.from,
        &RunEnd {
            state,
            head_sha: head,
            reason,
            report: Some(json),
        },
        e.now,
    )
    .await?;
    tracing::info!(run = e.l.run.id, %state, reason = reason.unwrap_or(""), "run ended");
    Ok(())
}

/// A report about a run that ended without a change to review, on the goal or the approval.
fn report(
    l: &StoredRun,
    outcome: &RunOutcome,
    headline: String,
    number: i64,
) -> Result<ForgeWrite, JobError> {
    let report = outcome.report();
    let mut details: Vec<String> = report.flagged.iter().map(|f| markdown::inline(f)).collect();
    details.extend(report.confinement.iter().map(|c| markdown::inline(c)));
    if !report.agent_exit.is_empty() {
        details.push(format!("agent: {}", markdown::inline(&report.agent_exit)));
    }
    let body = render::reply(&ReplyView {
        headline,
        details,
        ..ReplyView::default()
    })?;
    Ok(ForgeWrite::Comment {
        shows: None,
        repo: l.repo.clone(),
        number,
        marker: format!("run:{}", l.run.id),
        body,
    })
}
