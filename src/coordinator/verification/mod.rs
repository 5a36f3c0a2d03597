//! Verification from the coordinator's side: what an approval's verifications are reported as
//! (`ade/verify` and, on Gitea and Forgejo, the approval's report comment), what a passing one
//! lets through (ready for review, the merge gate), and verifying a head again when someone else
//! pushed to the approval's branch, asked for a re-run, or commented `/ade verify`
//! ([`request`]; the `verify` job in [`job`] carries it out on a runner). The newest head wins:
//! a new verification supersedes the approval's unfinished older ones and their checks say so.

pub mod external;
pub mod job;

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::coordinator::writes::ForgeWrite;
use crate::forge::{ForgeKind, RepoRef};
use crate::jobs::{Job, JobError};
use crate::lifecycle::{ApprovalState, State, VerificationState};
use crate::policy::EffectivePolicy;
use crate::store::approvals::{self, ApprovalRow};
use crate::store::jobs as queue;
use crate::store::runs::RunRow;
use crate::store::verifications::{self, Cause, NewVerification};
use crate::store::{Conn, goals, runs, tasks};
use crate::verify::{self, CheckContext, CheckStage, CommentKind, Verdict, VerificationReport};

use super::goals::spec_of;
use super::review::gate::GateJob;
use super::shared::Shared;

/// The job that verifies one head again ([`job::VerifyHandler`]), on runner workers as runs
/// are: no ordering key, so verifications run beside runs.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct VerifyJob {
    /// The verification.
    pub verification: i64,
}

impl VerifyJob {
    /// Attempts a verification job gets: a runner lost mid-way is replaced, twice.
    pub const ATTEMPTS: i64 = 3;
}

impl Job for VerifyJob {
    const KIND: &'static str = "verify";

    fn idempotency_key(&self, _run_at: i64) -> String {
        format!("verify:{}", self.verification)
    }
}

/// An approval and the run whose change it shows, with what names them on the forge.
#[derive(Clone, Debug)]
pub struct Subject {
    /// The forge.
    pub forge: ForgeKind,
    /// The repository.
    pub repo: RepoRef,
    /// The approval.
    pub approval: ApprovalRow,
    /// The task's newest run.
    pub run: RunRow,
    /// The task id.
    pub task_id: String,
    /// The spec version (`owner/name#12@v2`).
    pub spec_reference: String,
    /// The goal's issue number.
    pub goal_number: i64,
    /// The repository's policy in force.
    pub policy: Arc<EffectivePolicy>,
}

impl Subject {
    /// The approval `approval` with its task's newest run; `None` when either is gone.
    pub async fn load(
        conn: &mut Conn,
        approval: ApprovalRow,
        policy: Arc<EffectivePolicy>,
    ) -> Result<Option<Subject>, JobError> {
        let Some(task) = tasks::task(conn, approval.task).await? else {
            return Ok(None);
        };
        let Some(run) = runs::runs_of_task(conn, task.id).await?.into_iter().next() else {
            return Ok(None);
        };
        let Some(spec_row) = goals::spec(conn, task.spec).await? else {
            return Ok(None);
        };
        let spec = spec_of(&spec_row)?;
        let Some(repo) = RepoRef::parse(&approval.repository, None) else {
            return Ok(None);
        };
        Ok(Some(Subject {
            forge: approval.forge,
            repo,
            approval,
            run,
            task_id: task.task_id,
            spec_reference: spec.reference(),
            goal_number: spec.goal.issue as i64,
            policy,
        }))
    }

    /// What the check and the report comment name: this head, the spec, task, run and attempt.
    pub fn context(
        &self,
        shared: &Shared,
        head_sha: &str,
        verification: i64,
        now: i64,
    ) -> CheckContext {
        CheckContext {
            forge: self.forge,
            head_sha: head_sha.to_string(),
            spec_reference: self.spec_reference.clone(),
            task_id: self.task_id.clone(),
            run_id: self.run.id,
            attempt: self.run.attempt as u32,
            attempts: self.policy.execution.attempts,
            details_url: shared.log_link(self.run.id, verification, now),
        }
    }
}

/// The `ade/verify` check for `stage`, and on Gitea and Forgejo (whose status keeps one line) the
/// approval's report comment once there is a report.
pub fn report(
    subject: &Subject,
    context: &CheckContext,
    stage: CheckStage<'_>,
) -> Result<Vec<ForgeWrite>, JobError> {
    let check = verify::check::check(context, stage)?;
    let mut writes = vec![ForgeWrite::Check {
        repo: subject.repo.clone(),
        check,
    }];
    if let (ForgeKind::Gitea, CheckStage::Completed(report)) = (subject.forge, stage) {
        let body = verify::check::report_comment(context, report, CommentKind::Report)?;
        writes.push(ForgeWrite::Comment {
            shows: None,
            repo: subject.repo.clone(),
            number: subject.approval.number,
            marker: format!("verify:{}", subject.approval.id),
            body,
        });
    }
    Ok(writes)
}

/// The stored state a verdict ends a verification in.
pub fn state_of(verdict: Verdict) -> VerificationState {
    match verdict {
        Verdict::Passed | Verdict::NothingToVerify => VerificationState::Passed,
        Verdict::Failed => VerificationState::Failed,
        Verdict::Error => VerificationState::Error,
        Verdict::Cancelled => VerificationState::Cancelled,
    }
}

/// What a verification that let the approval's current head through changes: the head is
/// recorded as verified, a draft is marked ready for review, and the merge gate looks at it.
pub async fn passed(
    tx: &mut Conn,
    subject: &Subject,
    head_sha: &str,
    now: i64,
) -> Result<Vec<ForgeWrite>, JobError> {
    approvals::set_verified(tx, subject.approval.id, head_sha).await?;
    let mut writes = Vec::new();
    if subject.approval.draft && subject.approval.state.awaits_review() {
        approvals::set_draft(tx, subject.approval.id, false).await?;
        writes.push(ForgeWrite::Draft {
            repo: subject.repo.clone(),
            number: subject.approval.number,
            draft: false,
            after_check: Some(head_sha.to_owned()),
        });
    }
    let gate = GateJob {
        approval: subject.approval.id,
    };
    queue::enqueue(tx, &gate.new_job(GateJob::ATTEMPTS, now), now).await?;
    Ok(writes)
}

/// Starts verifying `head_sha` of `subject`'s approval again, for `cause`: a queued verification
/// and its `verify` job, the approval's head recorded (an approval approved on an older head is
/// pending again), and the older unfinished verifications superseded, their checks cancelled.
/// Returns the new verification's id and the forge writes.
pub async fn request(
    tx: &mut Conn,
    shared: &Shared,
    subject: &Subject,
    head_sha: &str,
    cause: Cause,
    requester: &str,
    now: i64,
) -> Result<(i64, Vec<ForgeWrite>), JobError> {
    let id = verifications::insert(
        tx,
        &NewVerification {
            approval: subject.approval.id,
            run: subject.run.id,
            head_sha,
            cause,
            state: VerificationState::Queued,
            requester,
        },
        now,
    )
    .await?;
    let mut writes = supersede(tx, shared, subject, id, head_sha, now).await?;
    if subject.approval.head_sha != head_sha {
        approvals::set_head(tx, subject.approval.id, head_sha, now).await?;
        if subject.approval.state == ApprovalState::Approved {
            approvals::move_approval(
                tx,
                subject.approval.id,
                ApprovalState::Approved,
                ApprovalState::Pending,
                None,
                now,
            )
            .await?;
        }
    }
    let steps = subject.policy.verification.len();
    let context = subject.context(shared, head_sha, id, now);
    writes.extend(report(subject, &context, CheckStage::InProgress { steps })?);
    let verify = VerifyJob { verification: id };
    queue::enqueue(tx, &verify.new_job(VerifyJob::ATTEMPTS, now), now).await?;
    tracing::info!(
        verification = id,
        approval = subject.approval.id,
        head = head_sha,
        cause = cause.as_str(),
        "verification requested"
    );
    Ok((id, writes))
}

/// Marks the approval's unfinished verifications other than `keep` superseded; each whose head
/// differs from `newer_head` gets a cancelled check naming the newer head.
pub async fn supersede(
    tx: &mut Conn,
    shared: &Shared,
    subject: &Subject,
    keep: i64,
    newer_head: &str,
    now: i64,
) -> Result<Vec<ForgeWrite>, JobError> {
    let older = verifications::supersede_others(tx, subject.approval.id, keep, now).await?;
    let mut writes = Vec::new();
    for v in &older {
        // A wait for external checks on the older head ends now, without a verdict.
        external::wake(tx, v.id, now).await?;
    }
    for v in older.iter().filter(|v| v.head_sha != newer_head) {
        tracing::info!(verification = v.id, head = %v.head_sha, newer = newer_head, "verification superseded by a newer head");
        let context = subject.context(shared, &v.head_sha, v.id, now);
        writes.extend(report(
            subject,
            &context,
            CheckStage::Superseded { newer_head },
        )?);
    }
    Ok(writes)
}

/// The last failed verification report of an approval, for a retry's feedback.
pub async fn last_failure(
    conn: &mut Conn,
    approval: i64,
) -> Result<Option<VerificationReport>, JobError> {
    for v in verifications::of_approval(conn, approval).await? {
        if v.state == VerificationState::Failed
            && let Some(report) = v.report.as_deref()
            && let Ok(report) = serde_json::from_str::<VerificationReport>(report)
        {
            return Ok(Some(report));
        }
        if v.state.is_final() && v.state != VerificationState::Superseded {
            return Ok(None);
        }
    }
    Ok(None)
}
