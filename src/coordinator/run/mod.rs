//! The run job: carries out one run, in phases a reader can follow.
//!
//! 1. [`load`] reads the run, its task, spec and goal, and marks the run started (a run still
//!    `running` from an attempt whose lease expired is taken over).
//! 2. [`order`] builds the [`RunOrder`]: the task, the goal text, the dependencies' results, the
//!    policy's rules and a fresh short-lived credential to fetch with.
//! 3. The [`Runner`] carries it out (prepare, agent, check, publish, verify); this job watches
//!    the run's cancel flag meanwhile. When the runner is about to push, it is given a fresh
//!    credential that may push; when it has pushed, [`published`] revokes the run's credentials,
//!    opens the approval ([`approval`]; a draft while verification runs) and marks `ade/verify`
//!    in progress. Credentials left when the run ends any other way are revoked then.
//! 4. [`record`] turns the outcome and the verification's verdict into states and forge writes
//!    (ready for review, a retry with feedback, or a rejection) in one transaction with the job's
//!    fenced completion; then [`advance`] starts what the freed slot allows and
//!    [`finish::settle`] archives a goal whose tasks are all settled.
//!
//! The job holds a lease for the whole run; a run whose runner died is taken over when the lease
//! expires, and failed visibly after its last attempt.

mod admit;
pub mod again;
mod approval;
mod budget;
mod egress;
mod hold;
pub mod job;
mod load;
mod order;
mod published;
mod record;
pub mod reviews;

use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use std::sync::Mutex;

use super::advance::{self, AdvanceContext};
use super::credentials::GitCredentials;
use super::finish;
use super::goals::goal_comment;
use super::shared::Shared;
use super::verification::external;
use super::watch::{Flag, watch};
use crate::forge::Forge;
use crate::jobs::{BoxFuture, Discarded, JobContext, JobError, JobHandler};
use crate::lifecycle::{RunState, SpecState, State};
use crate::policy::EffectivePolicy;
use crate::runner::{Fault, RunOrder, RunOutcome, RunReport, Runner};
use crate::store::{StoreError, runs as store};
use admit::Admission;
use hold::{Hold, Wait};
use job::RunJob;
use load::{StoredRun, load};
use published::{Published, Publisher};
use record::Ending;

/// The handler of [`RunJob`]s.
pub struct RunHandler {
    shared: Shared,
    runner: Arc<dyn Runner>,
}

impl RunHandler {
    /// A handler giving runs to `runner`.
    pub fn new(shared: Shared, runner: Arc<dyn Runner>) -> RunHandler {
        RunHandler { shared, runner }
    }

    async fn handle(&self, ctx: &JobContext) -> Result<(), JobError> {
        let job: RunJob = ctx.payload()?;
        let Some(mut loaded) = self.start(ctx, &job).await? else {
            return Ok(());
        };
        tracing::info!(run = loaded.run.id, task = %loaded.task.task_id, agent = %loaded.run.agent, attempt = loaded.run.attempt, "run started");
        let forge = self.shared.forge(loaded.forge)?;
        let credentials = GitCredentials::new(forge.clone(), loaded.repo.clone());
        let prepared = match self.policy_and_base(forge.as_ref(), &loaded).await {
            Err((reason, true)) if ctx.job.attempt < ctx.job.max_attempts => {
                return Err(JobError::Retry(reason));
            }
            Err((reason, _)) => Err((reason, None)),
            Ok((policy, base)) => {
                self.shared
                    .remember_retention(
                        ctx.store(),
                        loaded.forge,
                        &loaded.repo.full_name(),
                        &policy.retention,
                        ctx.now_ms(),
                    )
                    .await;
                match admit::admit(ctx, &loaded, &policy).await? {
                    Admission::Admitted => {}
                    Admission::Spent(reason) => {
                        tracing::info!(run = loaded.run.id, %reason, "the goal's budget is spent; the run does not start");
                        return self.fail(ctx, &loaded, Some(policy), reason, &job).await;
                    }
                    Admission::Wait { reason, until } => {
                        let why = Wait::Limit {
                            reason: &reason,
                            until,
                        };
                        return match hold::hold(ctx, &self.shared, &loaded, &job, why).await? {
                            Hold::Held => Ok(()),
                            Hold::Cancelled => {
                                let cancelled = RunOutcome::Cancelled {
                                    report: RunReport::default(),
                                };
                                let note = hold::ran_after_wait(&loaded, &job)?;
                                record_end(
                                    ctx,
                                    &self.shared,
                                    &loaded,
                                    Some(policy),
                                    (None, None),
                                    cancelled,
                                    note,
                                )
                                .await
                            }
                            Hold::NotWanted => {
                                self.fail(ctx, &loaded, Some(policy), reason, &job).await
                            }
                        };
                    }
                }
                let bot = self.shared.bot_login(forge.as_ref()).await?;
                match order::build(ctx, forge.as_ref(), &credentials, &bot, &policy, &loaded).await
                {
                    Ok(order) => Ok((policy, base, order)),
                    Err(reason) => Err((reason.to_string(), Some(policy))),
                }
            }
        };
        let (policy, base, order) = match prepared {
            Ok(prepared) => prepared,
            Err((reason, policy)) => return self.fail(ctx, &loaded, policy, reason, &job).await,
        };
        // A dependant starts from the default branch's head, not the spec's base.
        loaded.run.base_sha.clone_from(&order.base_sha);
        let publisher = Publisher {
            ctx,
            shared: &self.shared,
            forge: forge.clone(),
            loaded: &loaded,
            policy: policy.clone(),
            base: base.clone(),
            credentials: &credentials,
            state: Mutex::default(),
            watchers: Mutex::default(),
            pushed: CancellationToken::new(),
        };
        let outcome = self
            .execute(ctx, order, (loaded.goal.id, &policy), &publisher)
            .await;
        let published = publisher.take();
        credentials.revoke_all().await;
        if let RunOutcome::Failed {
            fault: Fault::Runner,
            reason,
            ..
        } = &outcome
            && ctx.job.attempt < ctx.job.max_attempts
        {
            return Err(JobError::Retry(reason.clone()));
        }
        let outcome = match outcome {
            RunOutcome::Failed {
                fault: Fault::Setup,
                reason,
                report,
            } => match hold::hold(ctx, &self.shared, &loaded, &job, Wait::Setup(&reason)).await? {
                Hold::Held => return Ok(()),
                Hold::Cancelled => RunOutcome::Cancelled { report },
                Hold::NotWanted => RunOutcome::Failed {
                    reason,
                    fault: Fault::Setup,
                    report,
                },
            },
            other => other,
        };
        let halted = match (&outcome, &published) {
            (RunOutcome::Pushed { .. }, None) => {
                let mut conn = ctx.store().reader().await?;
                published::halted(&mut conn, &loaded).await?
            }
            _ => None,
        };
        let outcome = match outcome {
            RunOutcome::Pushed { report, .. }
                if halted.is_some() && cancelled(ctx, loaded.run.id).await =>
            {
                RunOutcome::Cancelled { report }
            }
            other => other,
        };
        // Publishing failed (the forge was down): the approval is opened now, from the verdict.
        let opened_late = match (&outcome, &published) {
            (
                RunOutcome::Pushed {
                    report,
                    verification,
                    ..
                },
                None,
            ) if halted.is_none() => {
                let draft = policy.pull_requests.drafts && !verification.verdict.lets_through();
                match approval::open(forge.as_ref(), &loaded, report, &base, draft, false).await {
                    Ok(opened) => Some(opened),
                    Err(error) => {
                        // Running the agent again would cost it all again: the run fails
                        // visibly, and `/ade run` tries again against the head it pushed.
                        tracing::warn!(run = loaded.run.id, %error, "the approval could not be opened");
                        None
                    }
                }
            }
            _ => None,
        };
        // Steps that let the head through leave the policy's external checks to wait for: the
        // wait goes on durably without this runner slot. A run halted as it pushed opened nothing
        // to wait on.
        let awaits = matches!(&outcome, RunOutcome::Pushed { verification, .. }
            if verification.verdict.lets_through())
            && policy.external_checks.any()
            && halted.is_none()
            && (published.is_some() || opened_late.is_some());
        if awaits {
            return self
                .await_external(
                    ctx,
                    &loaded,
                    policy,
                    (published, opened_late),
                    outcome,
                    &job,
                )
                .await;
        }
        let note = hold::ran_after_wait(&loaded, &job)?;
        record_end(
            ctx,
            &self.shared,
            &loaded,
            Some(policy),
            (published, opened_late),
            outcome,
            note,
        )
        .await
    }

    /// A pushed run whose steps let its head through begins the wait for the policy's external
    /// checks on it (`verification::external`) and ends this job: the run stays running, its
    /// verification awaiting, until the wait records the verdict. A verification superseded or
    /// cancelled before the wait began is recorded as the run ends at once.
    async fn await_external(
        &self,
        ctx: &JobContext,
        loaded: &StoredRun,
        policy: Arc<EffectivePolicy>,
        (published, opened_late): (Option<Published>, Option<approval::Opened>),
        outcome: RunOutcome,
        job: &RunJob,
    ) -> Result<(), JobError> {
        let RunOutcome::Pushed {
            head_sha,
            report,
            verification,
            verification_log,
        } = &outcome
        else {
            unreachable!("only a pushed run awaits external checks");
        };
        let now = ctx.now_ms();
        let mut tx = ctx.store().begin().await?;
        let (id, mut writes) = match (&published, &opened_late) {
            (Some(published), _) => (published.verification, Vec::new()),
            (None, Some(opened)) => {
                let (_, id, writes) = published::record(
                    &mut tx,
                    &self.shared,
                    loaded,
                    opened,
                    head_sha,
                    &policy,
                    now,
                )
                .await?;
                (id, writes)
            }
            (None, None) => unreachable!("checked by the caller"),
        };
        let log = verification_log.as_deref().or(report.log.as_deref());
        let steps = (verification.clone(), log);
        if !external::begin(&mut tx, id, &policy, steps, Some(outcome.clone()), now).await? {
            tx.rollback().await.ok();
            let note = hold::ran_after_wait(loaded, job)?;
            return record_end(
                ctx,
                &self.shared,
                loaded,
                Some(policy),
                (published, opened_late),
                outcome,
                note,
            )
            .await;
        }
        if let Some(note) = hold::ran_after_wait(loaded, job)? {
            writes.insert(0, note);
        }
        self.shared
            .enqueue_writes(&mut tx, loaded.forge, &writes, now)
            .await?;
        ctx.finish(tx).await?;
        tracing::info!(
            run = loaded.run.id,
            verification = id,
            "the run's steps passed; its verification awaits the external checks"
        );
        Ok(())
    }

    /// Ends a run that never reached the runner with `reason`.
    async fn fail(
        &self,
        ctx: &JobContext,
        loaded: &StoredRun,
        policy: Option<Arc<EffectivePolicy>>,
        reason: String,
        job: &RunJob,
    ) -> Result<(), JobError> {
        let failed = RunOutcome::Failed {
            reason,
            fault: Fault::Run,
            report: RunReport {
                runner: self.runner.name().to_string(),
                ..RunReport::default()
            },
        };
        let note = hold::ran_after_wait(loaded, job)?;
        record_end(
            ctx,
            &self.shared,
            loaded,
            policy,
            (None, None),
            failed,
            note,
        )
        .await
    }

    /// The policy the run goes by and the branch approvals merge into.
    async fn policy_and_base(
        &self,
        forge: &dyn Forge,
        l: &StoredRun,
    ) -> Result<(Arc<EffectivePolicy>, String), (String, bool)> {
        match self.shared.policies.load(forge, &l.repo).await {
            Ok((head, Ok(policy))) => Ok((policy, head.name)),
            Ok((head, Err(problems))) => Err((
                format!(
                    "the repository's policy on {} is not valid ({} problems)",
                    head.name,
                    problems.len()
                ),
                false,
            )),
            Err(e) => Err((
                format!("the policy could not be read: {e}"),
                e.is_retryable(),
            )),
        }
    }

    /// Reads the run and marks it started; `None` when there is nothing to do (it already ended,
    /// or it was cancelled before it started, which is recorded here).
    async fn start(&self, ctx: &JobContext, job: &RunJob) -> Result<Option<StoredRun>, JobError> {
        let loaded = {
            let mut conn = ctx.store().reader().await?;
            load(&mut conn, job.run).await?
        };
        let state = loaded.run.state;
        if state.is_final() {
            tracing::info!(run = loaded.run.id, %state, "the run already ended");
            ctx.finish_empty().await?;
            return Ok(None);
        }
        let mut tx = ctx.store().begin().await?;
        // A held run whose plan was replaced, or whose task moved on, while it waited is not
        // wanted any more: it ends as a cancelled one does.
        let unwanted = (job.held > 0 || job.waited > 0)
            && (loaded.spec_row.state != SpecState::Active
                || loaded.task.state != crate::lifecycle::TaskState::Running);
        if loaded.run.cancel_requested || unwanted {
            let now = ctx.now_ms();
            let cancelled = RunOutcome::Cancelled {
                report: RunReport::default(),
            };
            let mut writes = record::end(
                &mut tx,
                Ending {
                    shared: &self.shared,
                    l: &loaded,
                    policy: Arc::default(),
                    from: state,
                    published: None,
                    now,
                },
                cancelled,
                None,
            )
            .await?;
            writes
                .extend(goal_comment(&mut tx, &loaded.repo, &loaded.spec_row, &loaded.spec).await?);
            self.shared
                .enqueue_writes(&mut tx, loaded.forge, &writes, now)
                .await?;
            ctx.finish(tx).await?;
            return Ok(None);
        }
        if state == RunState::Running {
            tracing::warn!(
                run = loaded.run.id,
                previous = loaded.run.runner.as_deref().unwrap_or("?"),
                attempt = ctx.job.attempt,
                "the runner carrying out this run was lost (its lease expired); starting the run again"
            );
        }
        if !store::start_run(
            &mut tx,
            loaded.run.id,
            state,
            self.runner.name(),
            ctx.now_ms(),
        )
        .await?
        {
            tx.rollback().await.ok();
            return Err(JobError::Retry(format!(
                "run {} moved while starting; reading it again",
                loaded.run.id
            )));
        }
        ctx.commit(tx).await?;
        Ok(Some(loaded))
    }

    /// Runs the order, cancelling it when `/ade cancel` sets the run's flag, and stopping it as
    /// failed when its goal's budget runs out meanwhile.
    async fn execute(
        &self,
        ctx: &JobContext,
        order: RunOrder,
        (goal, policy): (i64, &EffectivePolicy),
        progress: &Publisher<'_>,
    ) -> RunOutcome {
        let cancel = CancellationToken::new();
        let watcher = watch(
            ctx.store().clone(),
            Flag::RunCancelled(order.run_id),
            cancel.clone(),
        );
        let (budget, stopped) = budget::watch(
            ctx.store().clone(),
            ctx.clock(),
            (goal, policy.budget),
            (cancel.clone(), progress.pushed.clone()),
        );
        let outcome = self.runner.execute(order, cancel, progress).await;
        watcher.abort();
        budget.abort();
        match (outcome, stopped.get()) {
            (RunOutcome::Cancelled { report }, Some(reason)) => RunOutcome::Failed {
                reason: reason.clone(),
                fault: Fault::Run,
                report,
            },
            (outcome, _) => outcome,
        }
    }
}

/// Records the run's end with its task, approval and verification, starts what the freed
/// slot allows, and rewrites the goal's plan comment, in the job's completing transaction.
/// Without a policy (it could not be read) nothing new starts: the next event that reads it
/// moves the goal on.
/// `note` (the goal's note that a run that waited did run) goes before the run's own report.
async fn record_end(
    ctx: &JobContext,
    shared: &Shared,
    loaded: &StoredRun,
    policy: Option<Arc<EffectivePolicy>>,
    (published, opened_late): (Option<Published>, Option<approval::Opened>),
    outcome: RunOutcome,
    note: Option<crate::coordinator::writes::ForgeWrite>,
) -> Result<(), JobError> {
    let now = ctx.now_ms();
    let mut tx = ctx.store().begin().await?;
    let mut writes = record::end(
        &mut tx,
        Ending {
            shared,
            l: loaded,
            policy: policy.clone().unwrap_or_default(),
            from: RunState::Running,
            published,
            now,
        },
        outcome,
        opened_late,
    )
    .await?;
    // Before the run's own report, which replaces it where it goes to the goal too.
    if let Some(note) = note {
        writes.insert(0, note);
    }
    match &policy {
        Some(policy) => {
            let advanced = advance::advance(
                &mut tx,
                &loaded.spec_row,
                &loaded.spec,
                &AdvanceContext {
                    goal_number: loaded.goal.number,
                    policy,
                    requester: &loaded.run.requester,
                    now,
                },
            )
            .await?;
            if !advanced.started.is_empty() {
                tracing::info!(started = ?advanced.started, "a run ended; started the next ready tasks");
            }
            writes.extend(
                finish::settle(
                    &mut tx,
                    &loaded.repo,
                    &loaded.spec_row,
                    &loaded.spec,
                    policy,
                    now,
                )
                .await?,
            );
        }
        None => writes
            .extend(goal_comment(&mut tx, &loaded.repo, &loaded.spec_row, &loaded.spec).await?),
    }
    shared
        .enqueue_writes(&mut tx, loaded.forge, &writes, now)
        .await?;
    ctx.finish(tx).await?;
    shared.after_run(loaded.run.id).await;
    Ok(())
}

/// Whether `/ade cancel` flagged the run (a run cancelled as it pushed opens no approval).
async fn cancelled(ctx: &JobContext, run: i64) -> bool {
    match ctx.store().reader().await {
        Ok(mut conn) => store::cancel_requested(&mut conn, run)
            .await
            .unwrap_or(false),
        Err(_) => false,
    }
}

impl JobHandler for RunHandler {
    fn run<'a>(&'a self, ctx: &'a JobContext) -> BoxFuture<'a, Result<(), JobError>> {
        Box::pin(self.handle(ctx))
    }

    /// A run whose job failed for good (its runner lost on every attempt, or an error nothing
    /// could retry) fails visibly: the run and its task are marked failed and the goal is told.
    fn discarded<'a>(&'a self, failed: Discarded<'a>) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            let Some(payload) = failed.payload::<RunJob>() else {
                return Ok(());
            };
            let Discarded {
                conn, error, now, ..
            } = failed;
            let reason = format!("the run could not be completed: {error}");
            failed_for_good(&self.shared, conn, payload.run, &reason, now).await;
            Ok(())
        })
    }
}

/// Fails run `run` visibly after its job (or its wait for external checks) failed for good with
/// `reason`: a verification it had under way is an error on its check, the run and its task are
/// marked failed and the goal is told. In the transaction that marks the job failed; what cannot
/// be recorded is logged.
pub(crate) async fn failed_for_good(
    shared: &Shared,
    conn: &mut crate::store::Conn,
    run: i64,
    reason: &str,
    now: i64,
) {
    let Ok(l) = load(conn, run).await else {
        return;
    };
    if l.run.state.is_final() {
        return;
    }
    // A verification the run had under way is an error, said on its check.
    if let Ok(Some(v)) = crate::store::verifications::of_run(conn, l.run.id).await
        && let Err(e) =
            crate::coordinator::verification::job::could_not_finish(shared, conn, v.id, reason, now)
                .await
    {
        tracing::error!(run = l.run.id, error = %e, "could not record the run's verification");
    }
    let outcome = RunOutcome::Failed {
        reason: reason.to_string(),
        fault: Fault::Run,
        report: RunReport::default(),
    };
    let ending = Ending {
        shared,
        l: &l,
        policy: Arc::default(),
        from: l.run.state,
        published: None,
        now,
    };
    let mut writes = match record::end(conn, ending, outcome, None).await {
        Ok(writes) => writes,
        Err(e) => {
            tracing::error!(run = l.run.id, error = %e, "could not record a failed run");
            return;
        }
    };
    if l.spec_row.state == SpecState::Active
        && let Ok(Some(comment)) = goal_comment(conn, &l.repo, &l.spec_row, &l.spec).await
    {
        writes.push(comment);
    }
    if let Err(e) = shared.enqueue_writes(conn, l.forge, &writes, now).await {
        tracing::error!(run = l.run.id, error = %e, "could not tell the goal a run failed");
    }
}

/// Records the end of the run whose own verification `row` waited for the external checks, as
/// the run's job would have: `outcome` (pushed) carries the verdict's report. A run that already
/// ended (its verdict recorded before a crash) records nothing again; a policy that cannot be
/// read now is asked for again by the job's next attempt.
pub(crate) async fn awaited(
    ctx: &JobContext,
    shared: &Shared,
    row: &crate::store::verifications::VerificationRow,
    outcome: RunOutcome,
) -> Result<(), JobError> {
    let (loaded, approval) = {
        let mut conn = ctx.store().reader().await?;
        let loaded = load(&mut conn, row.run).await?;
        let approval = crate::store::approvals::get(&mut conn, row.approval).await?;
        (loaded, approval)
    };
    let Some(approval) = approval else {
        return ctx.finish_empty().await;
    };
    if loaded.run.state.is_final() {
        tracing::info!(
            run = loaded.run.id,
            "the run's verdict was recorded already"
        );
        return ctx.finish_empty().await;
    }
    let forge = shared.forge(loaded.forge)?;
    let policy = shared
        .policies
        .in_force(forge.as_ref(), &loaded.repo)
        .await
        .map_err(|reason| JobError::Retry(format!("the policy could not be read: {reason}")))?;
    let published = Published {
        opened: approval::Opened {
            number: approval.number,
            node_id: approval.node_id.clone(),
            draft: approval.draft,
        },
        approval,
        verification: row.id,
        // Recorded from where the wait left it; one superseded meanwhile stays as it is.
        verification_state: crate::lifecycle::VerificationState::Awaiting,
    };
    record_end(
        ctx,
        shared,
        &loaded,
        Some(policy),
        (Some(published), None),
        outcome,
        None,
    )
    .await
}
