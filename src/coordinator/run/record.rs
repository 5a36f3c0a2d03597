//! Recording how a run ended: the run's state and reason, its task's move, its verification's
//! verdict and what follows from it (ready for review; a retry with the failure as feedback; after
//! the last attempt, the rejection the policy asks for), and the report posted on the goal when a
//! run ended without an approval. Everything here runs in the transaction that completes the job.

use std::sync::Arc;

use super::approval::Opened;
use super::load::StoredRun;
use super::published::{self, Published};
use super::run_job;
use crate::coordinator::render::{self, ReplyView};
use crate::coordinator::shared::Shared;
use crate::coordinator::verification::{self, Subject};
use crate::forge::writes::ForgeWrite;
use crate::jobs::JobError;
use crate::lifecycle::{ApprovalState, RunState, TaskState, VerificationState};
use crate::markdown;
use crate::policy::{EffectivePolicy, RejectAction};
use crate::runner::RunOutcome;
use crate::runner::dlp::Dlp;
use crate::store::jobs as queue;
use crate::store::runs::{self as store, NewRun, RunCause, RunEnd};
use crate::store::verifications::{self, VerificationEnd};
use crate::store::{Conn, approvals, tasks};
use crate::verify::{CheckStage, CommentKind, Verdict, VerificationReport};

/// What a run's end is recorded with.
pub(super) struct Ending<'a> {
    /// The shared parts (links, forge write attempts).
    pub shared: &'a Shared,
    /// The run and what it belongs to.
    pub l: &'a StoredRun,
    /// The policy the run ran under.
    pub policy: Arc<EffectivePolicy>,
    /// The state the run is in now.
    pub from: RunState,
    /// What publishing recorded (for a run that pushed), or the approval opened at the end.
    pub published: Option<Published>,
    /// The job's clock.
    pub now: i64,
}

/// Records how the run ended; returns the forge writes about it.
pub(super) async fn end(
    tx: &mut Conn,
    e: Ending<'_>,
    outcome: RunOutcome,
    opened_late: Option<Opened>,
) -> Result<Vec<ForgeWrite>, JobError> {
    let json = serde_json::to_string(&outcome).expect("serializes");
    let log = outcome.report().log.clone();
    let l = e.l;
    if let RunOutcome::Pushed {
        head_sha,
        verification: report,
        ..
    } = &outcome
    {
        let published = match (e.published.clone(), opened_late) {
            (Some(published), _) => published,
            (None, Some(opened)) => {
                let (approval, verification, writes) =
                    published::record(tx, e.shared, l, &opened, head_sha, &e.policy, e.now).await?;
                let published = Published {
                    opened,
                    approval,
                    verification,
                };
                let mut rest = verdict(
                    tx,
                    &e,
                    head_sha,
                    report,
                    (&json, log.as_deref()),
                    &published,
                )
                .await?;
                rest.splice(0..0, writes);
                return Ok(rest);
            }
            (None, None) => {
                return ended_without_approval(
                    tx,
                    &e,
                    &outcome,
                    "the run pushed, but its approval could not be opened".into(),
                    &json,
                )
                .await;
            }
        };
        return verdict(
            tx,
            &e,
            head_sha,
            report,
            (&json, log.as_deref()),
            &published,
        )
        .await;
    }
    match &outcome {
        RunOutcome::Cancelled { .. } => {
            if l.task.state == TaskState::Running {
                tasks::move_task(
                    tx,
                    l.task.id,
                    TaskState::Running,
                    TaskState::Cancelled,
                    e.now,
                )
                .await?;
            }
            finish(tx, &e, RunState::Cancelled, None, Some("cancelled"), &json).await?;
            let headline = format!(
                "run {} of task {} was cancelled.",
                l.run.id,
                markdown::code_span(&l.task.task_id)
            );
            Ok(vec![report_on_goal(l, &outcome, headline)?])
        }
        RunOutcome::NoChanges { .. } => {
            ended_without_approval(
                tx,
                &e,
                &outcome,
                "no changes: the agent changed nothing".into(),
                &json,
            )
            .await
        }
        RunOutcome::Blocked { reason, .. } | RunOutcome::Failed { reason, .. } => {
            ended_without_approval(tx, &e, &outcome, reason.clone(), &json).await
        }
        RunOutcome::Pushed { .. } => unreachable!("handled above"),
    }
}

/// A run that produced nothing to review: it and its task failed, and the goal is told why.
async fn ended_without_approval(
    tx: &mut Conn,
    e: &Ending<'_>,
    outcome: &RunOutcome,
    reason: String,
    json: &str,
) -> Result<Vec<ForgeWrite>, JobError> {
    let l = e.l;
    if l.task.state == TaskState::Running {
        tasks::move_task(tx, l.task.id, TaskState::Running, TaskState::Failed, e.now).await?;
    }
    finish(tx, e, RunState::Failed, None, Some(&reason), json).await?;
    let headline = format!(
        "run {} of task {} failed: {}",
        l.run.id,
        markdown::code_span(&l.task.task_id),
        reason
    );
    Ok(vec![report_on_goal(l, outcome, headline)?])
}

/// A pushed run: its verification's verdict decides what happens next.
async fn verdict(
    tx: &mut Conn,
    e: &Ending<'_>,
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
        VerificationState::Running,
        &VerificationEnd {
            state,
            report: Some(&report_json),
            reason: reason.as_deref(),
            log,
        },
        e.now,
    )
    .await?;
    let subject = Subject {
        forge: l.forge,
        repo: l.repo.clone(),
        approval: published.approval.clone(),
        run: l.run.clone(),
        task_id: l.task.task_id.clone(),
        spec_reference: l.spec.reference(),
        goal_number: l.goal.number,
        policy: e.policy.clone(),
    };
    if !ended {
        // A newer head (someone else's push) superseded this verification: it decides.
        tasks::move_task(tx, l.task.id, TaskState::Running, TaskState::Review, e.now).await?;
        finish(tx, e, RunState::Succeeded, Some(head_sha), None, json).await?;
        return Ok(Vec::new());
    }
    let context = subject.context(e.shared, head_sha, published.verification, e.now);
    let mut writes = verification::report(&subject, &context, CheckStage::Completed(report))?;
    match report.verdict {
        Verdict::Passed | Verdict::NothingToVerify => {
            tasks::move_task(tx, l.task.id, TaskState::Running, TaskState::Review, e.now).await?;
            finish(tx, e, RunState::Succeeded, Some(head_sha), None, json).await?;
            writes.extend(verification::passed(tx, &subject, head_sha, e.now).await?);
        }
        Verdict::Error => {
            tasks::move_task(tx, l.task.id, TaskState::Running, TaskState::Review, e.now).await?;
            let why = reason.unwrap_or_else(|| "verification could not run".into());
            finish(
                tx,
                e,
                RunState::Unverified,
                Some(head_sha),
                Some(&why),
                json,
            )
            .await?;
            writes.push(ForgeWrite::Comment {
                repo: l.repo.clone(),
                number: published.opened.number,
                marker: format!("unverified:{}", l.run.id),
                body: render::reply(&ReplyView {
                    headline: format!(
                        "ade could not verify this change: {}. It stays a draft until `/ade verify` passes.",
                        markdown::inline(&why)
                    ),
                    ..ReplyView::default()
                })
                .map_err(JobError::Permanent)?,
            });
        }
        Verdict::Cancelled => {
            if l.task.state == TaskState::Running {
                tasks::move_task(
                    tx,
                    l.task.id,
                    TaskState::Running,
                    TaskState::Cancelled,
                    e.now,
                )
                .await?;
            }
            finish(
                tx,
                e,
                RunState::Cancelled,
                Some(head_sha),
                Some("cancelled"),
                json,
            )
            .await?;
        }
        Verdict::Failed => {
            let failing = failing_steps(report);
            let why = format!("verification failed: {failing}");
            finish(tx, e, RunState::Failed, Some(head_sha), Some(&why), json).await?;
            if (l.run.attempt as u32) < e.policy.execution.attempts {
                writes.extend(retry(tx, e, head_sha, report).await?);
            } else {
                writes.extend(reject(tx, e, &subject, report, &context, &why).await?);
            }
        }
    }
    Ok(writes)
}

/// The failing steps' names, for reasons.
fn failing_steps(report: &VerificationReport) -> String {
    let names: Vec<String> = report.failures().map(|s| s.name.clone()).collect();
    if names.is_empty() {
        "a step failed".into()
    } else {
        format!("step {}", names.join(", "))
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
    let feedback = crate::verify::feedback::feedback(report, &mask).map_err(JobError::Permanent)?;
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
    queue::enqueue(tx, &run_job(run, e.now), e.now).await?;
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
    if approval.state != ApprovalState::Rejected {
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
        repo: repo.clone(),
        number,
        marker: format!("rejected:{}", l.run.id),
        body: crate::verify::check::report_comment(context, report, CommentKind::Rejected)
            .map_err(JobError::Permanent)?,
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

/// The comment on the goal about a run that ended without an approval.
fn report_on_goal(
    l: &StoredRun,
    outcome: &RunOutcome,
    headline: String,
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
    })
    .map_err(JobError::Permanent)?;
    Ok(ForgeWrite::Comment {
        repo: l.repo.clone(),
        number: l.goal.number,
        marker: format!("run:{}", l.run.id),
        body,
    })
}
