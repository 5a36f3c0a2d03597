//! The `verify` job: verifies one head of an approval again on a runner (someone pushed to its
//! branch, asked for a re-run, or commented `/ade verify`), then reports it; a head that fails
//! or errs this time stops counting as verified for the merge gate. Runner workers take
//! these jobs, as they take runs. A verification superseded while it runs is stopped within a
//! second and reports nothing: the newer one speaks for the approval.

use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use super::{Subject, VerifyJob, external, passed, report, state_of};
use crate::coordinator::credentials::GitCredentials;
use crate::coordinator::shared::Shared;
use crate::coordinator::watch::{Flag, watch};
use crate::coordinator::writes::ForgeWrite;
use crate::forge::GitAccess;
use crate::jobs::{BoxFuture, Discarded, JobContext, JobError, JobHandler};
use crate::lifecycle::{State, VerificationState};
use crate::runner::{Runner, VerifyOrder};
use crate::store::verifications::{self, VerificationEnd, VerificationRow};
use crate::store::{Conn, StoreError, approvals, goals, runs, tasks};
use crate::verify::{CheckStage, VerificationReport};

/// The handler of [`VerifyJob`]s.
pub struct VerifyHandler {
    shared: Shared,
    runner: Arc<dyn Runner>,
}

impl VerifyHandler {
    /// A handler verifying on `runner`.
    pub fn new(shared: Shared, runner: Arc<dyn Runner>) -> VerifyHandler {
        VerifyHandler { shared, runner }
    }

    async fn handle(&self, ctx: &JobContext) -> Result<(), JobError> {
        let job: VerifyJob = ctx.payload()?;
        let (row, approval) = {
            let mut conn = ctx.store().reader().await?;
            let row = verifications::get(&mut conn, job.verification).await?;
            let approval = match &row {
                Some(row) => approvals::get(&mut conn, row.approval).await?,
                None => None,
            };
            (row, approval)
        };
        let (Some(row), Some(approval)) = (row, approval) else {
            return ctx.finish_empty().await;
        };
        if row.state.is_final() {
            return ctx.finish_empty().await;
        }
        let forge = self.shared.forge(approval.forge)?;
        let repo = crate::forge::RepoRef::parse(&approval.repository, None)
            .ok_or_else(|| JobError::Permanent("the approval's repository is unreadable".into()))?;
        let loaded = self.shared.policies.in_force(forge.as_ref(), &repo).await;
        let policy = loaded.clone().unwrap_or_default();
        let subject = {
            let mut conn = ctx.store().reader().await?;
            match Subject::load(&mut conn, approval, policy.clone()).await? {
                // The run the verification was asked for, even if a newer one of the task has
                // started since: its folder holds the verification's files, and its link checks
                // against it.
                Some(subject) if subject.run.id != row.run => {
                    match runs::run(&mut conn, row.run).await? {
                        Some(run) => Some(Subject { run, ..subject }),
                        None => Some(subject),
                    }
                }
                other => other,
            }
        };
        let Some(subject) = subject else {
            return ctx.finish_empty().await;
        };
        if let Err(reason) = loaded {
            return self.could_not_run(ctx, &row, &reason).await;
        }
        {
            let mut tx = ctx.store().begin().await?;
            if row.cancel_requested {
                // Asked to stop before it started (`/ade cancel`): it ends as cancelled.
                verifications::finish(
                    &mut tx,
                    row.id,
                    row.state,
                    &VerificationEnd {
                        state: VerificationState::Cancelled,
                        report: None,
                        reason: Some("cancelled before it started"),
                        log: None,
                    },
                    ctx.now_ms(),
                )
                .await?;
                let cancelled = VerificationReport::new(
                    policy
                        .verification
                        .iter()
                        .map(|step| {
                            crate::verify::StepResult::not_run(
                                step,
                                crate::verify::StepOutcome::Cancelled,
                                "cancelled before it started",
                            )
                        })
                        .collect(),
                    0,
                );
                let context = subject.context(&self.shared, &row.head_sha, row.id, ctx.now_ms());
                let writes = report(&subject, &context, CheckStage::Completed(&cancelled))?;
                self.shared
                    .enqueue_writes(&mut tx, subject.forge, &writes, ctx.now_ms())
                    .await?;
                return ctx.finish(tx).await;
            }
            if !verifications::start(&mut tx, row.id, row.state, self.runner.name(), ctx.now_ms())
                .await?
            {
                return ctx.finish(tx).await;
            }
            ctx.commit(tx).await?;
        }
        let credentials = GitCredentials::new(forge.clone(), repo.clone());
        let credential = credentials.get(GitAccess::Fetch).await?;
        let task_environment = {
            let mut conn = ctx.store().reader().await?;
            let task = tasks::task(&mut conn, subject.approval.task).await?;
            match task {
                Some(task) => match goals::spec(&mut conn, task.spec).await? {
                    Some(spec_row) => crate::coordinator::goals::spec_of(&spec_row)?
                        .tasks
                        .into_iter()
                        .find(|t| t.id.as_str() == task.task_id)
                        .and_then(|t| t.environment),
                    None => None,
                },
                None => None,
            }
        };
        let order = VerifyOrder {
            verification_id: row.id,
            run_id: subject.run.id,
            forge: subject.forge,
            repository: subject.approval.repository.clone(),
            head_sha: row.head_sha.clone(),
            agent: subject.run.agent.clone(),
            task_environment,
            execution: policy.execution.clone(),
            steps: policy.verification.clone(),
            dlp_rules: policy.dlp_rules.clone(),
            identity: vec![
                ("ADE_RUN_ID".into(), subject.run.id.to_string()),
                ("ADE_TASK_ID".into(), subject.task_id.clone()),
                ("ADE_SPEC".into(), subject.spec_reference.clone()),
            ],
            credential,
        };
        let cancel = CancellationToken::new();
        let watcher = watch(
            ctx.store().clone(),
            Flag::VerificationStopped(row.id),
            cancel.clone(),
        );
        let outcome = self.runner.verify(order, cancel.clone()).await;
        credentials.revoke_all().await;
        watcher.abort();
        if policy.external_checks.any()
            && outcome.report.verdict.lets_through()
            && !cancel.is_cancelled()
        {
            // The steps let the head through: the wait for the external checks goes on without
            // this runner slot (`external`), and records the verdict.
            let mut tx = ctx.store().begin().await?;
            let steps = (outcome.report.clone(), outcome.log.as_deref());
            if external::begin(&mut tx, row.id, &policy, steps, None, ctx.now_ms()).await? {
                return ctx.finish(tx).await;
            }
            tx.rollback().await.ok();
        }
        conclude(
            &self.shared,
            ctx,
            &subject,
            (&row, VerificationState::Running),
            &outcome.report,
            outcome.log.as_deref(),
        )
        .await
    }

    /// The policy could not be read: the verification is an error, reported as such.
    async fn could_not_run(
        &self,
        ctx: &JobContext,
        row: &VerificationRow,
        reason: &str,
    ) -> Result<(), JobError> {
        let mut tx = ctx.store().begin().await?;
        could_not_finish(&self.shared, &mut tx, row.id, reason, ctx.now_ms()).await?;
        tracing::warn!(verification = row.id, %reason, "verification could not run");
        ctx.finish(tx).await
    }
}

/// Records how the verification `row` (in state `from`) ended and reports it, completing the
/// job; a verification superseded meanwhile reports nothing. The `verify` job's end, and the
/// end of a wait for external checks that followed one (`external`).
pub(crate) async fn conclude(
    shared: &Shared,
    ctx: &JobContext,
    subject: &Subject,
    (row, from): (&VerificationRow, VerificationState),
    outcome: &VerificationReport,
    log: Option<&str>,
) -> Result<(), JobError> {
    let now = ctx.now_ms();
    let state = state_of(outcome.verdict);
    let json = serde_json::to_string(outcome).expect("a report serializes");
    let reason = outcome.error_reason();
    let mut tx = ctx.store().begin().await?;
    let ended = verifications::finish(
        &mut tx,
        row.id,
        from,
        &VerificationEnd {
            state,
            report: Some(&json),
            reason: reason.as_deref(),
            log,
        },
        now,
    )
    .await?;
    if !ended {
        tracing::info!(
            verification = row.id,
            "a superseded verification ended; nothing to report"
        );
        ctx.finish(tx).await?;
        shared.after_run(row.run).await;
        return Ok(());
    }
    tracing::info!(verification = row.id, head = %row.head_sha, verdict = outcome.verdict.as_str(), "verification ended");
    let context = subject.context(shared, &row.head_sha, row.id, now);
    let mut writes: Vec<ForgeWrite> = report(subject, &context, CheckStage::Completed(outcome))?;
    let current = approvals::get(&mut tx, subject.approval.id).await?;
    if state == VerificationState::Passed
        && current.as_ref().is_some_and(|a| a.head_sha == row.head_sha)
    {
        let subject = Subject {
            approval: current.expect("checked"),
            ..subject.clone()
        };
        writes.extend(passed(&mut tx, &subject, &row.head_sha, now).await?);
    } else if matches!(state, VerificationState::Failed | VerificationState::Error) {
        approvals::unset_verified(&mut tx, subject.approval.id, &row.head_sha).await?;
    }
    shared
        .enqueue_writes(&mut tx, subject.forge, &writes, now)
        .await?;
    ctx.finish(tx).await?;
    shared.after_run(row.run).await;
    Ok(())
}

impl JobHandler for VerifyHandler {
    fn run<'a>(&'a self, ctx: &'a JobContext) -> BoxFuture<'a, Result<(), JobError>> {
        Box::pin(self.handle(ctx))
    }

    /// A verification whose job failed for good (its runner lost on every attempt, the forge
    /// refusing a credential) is an error, said on its check: never left in progress.
    fn discarded<'a>(&'a self, failed: Discarded<'a>) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            let Some(payload) = failed.payload::<VerifyJob>() else {
                return Ok(());
            };
            let Discarded {
                conn, error, now, ..
            } = failed;
            let reason = format!("verification could not be carried out: {error}");
            if let Err(e) =
                could_not_finish(&self.shared, conn, payload.verification, &reason, now).await
            {
                tracing::error!(verification = payload.verification, error = %e, "could not record a failed verification");
            }
            Ok(())
        })
    }
}

/// Ends an unfinished verification as an error with `reason`, and says so on its check.
pub(crate) async fn could_not_finish(
    shared: &Shared,
    conn: &mut Conn,
    id: i64,
    reason: &str,
    now: i64,
) -> Result<(), JobError> {
    let Some(row) = verifications::get(conn, id).await? else {
        return Ok(());
    };
    if row.state.is_final() {
        return Ok(());
    }
    let ended = verifications::finish(
        conn,
        row.id,
        row.state,
        &VerificationEnd {
            state: VerificationState::Error,
            report: None,
            reason: Some(reason),
            log: None,
        },
        now,
    )
    .await?;
    let Some(approval) = approvals::get(conn, row.approval).await? else {
        return Ok(());
    };
    if !ended {
        return Ok(());
    }
    // A head whose verification could not finish no longer counts as verified.
    approvals::unset_verified(conn, approval.id, &row.head_sha).await?;
    let Some(subject) = Subject::load(conn, approval, Arc::default()).await? else {
        return Ok(());
    };
    let context = subject.context(shared, &row.head_sha, row.id, now);
    let writes = report(&subject, &context, CheckStage::CouldNotRun { reason })?;
    shared
        .enqueue_writes(conn, subject.forge, &writes, now)
        .await?;
    Ok(())
}
