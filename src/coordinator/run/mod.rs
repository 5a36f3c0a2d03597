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
                                self.record(
                                    ctx,
                                    &loaded,
                                    Some(policy),
                                    (None, None),
                                    cancelled,
                                    &job,
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
        let outcome = self
            .await_external(ctx, forge.as_ref(), &loaded, &policy, outcome)
            .await;
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
        self.record(
            ctx,
            &loaded,
            Some(policy),
            (published, opened_late),
            outcome,
            &job,
        )
        .await
    }

    /// A pushed run whose steps let its head through waits for the policy's external checks on
    /// it (`verification::external`), stopped by `/ade cancel`; their results join its report.
    async fn await_external(
        &self,
        ctx: &JobContext,
        forge: &dyn Forge,
        loaded: &StoredRun,
        policy: &EffectivePolicy,
        outcome: RunOutcome,
    ) -> RunOutcome {
        let RunOutcome::Pushed {
            head_sha,
            report,
            verification,
            verification_log,
        } = outcome
        else {
            return outcome;
        };
        let stop = CancellationToken::new();
        let watcher = watch(
            ctx.store().clone(),
            Flag::RunCancelled(loaded.run.id),
            stop.clone(),
        );
        let wait = external::Wait {
            forge,
            repo: &loaded.repo,
            head_sha: &head_sha,
            policy,
            news: &self.shared.external_news,
            stop,
        };
        let verification = external::wait(wait, verification).await;
        watcher.abort();
        RunOutcome::Pushed {
            head_sha,
            report,
            verification,
            verification_log,
        }
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
        self.record(ctx, loaded, policy, (None, None), failed, job)
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

    /// Records the run's end with its task, approval and verification, starts what the freed
    /// slot allows, and rewrites the goal's plan comment, in the job's completing transaction.
    /// Without a policy (it could not be read) nothing new starts: the next event that reads it
    /// moves the goal on.
    async fn record(
        &self,
        ctx: &JobContext,
        loaded: &StoredRun,
        policy: Option<Arc<EffectivePolicy>>,
        (published, opened_late): (Option<Published>, Option<approval::Opened>),
        outcome: RunOutcome,
        job: &RunJob,
    ) -> Result<(), JobError> {
        let now = ctx.now_ms();
        let mut tx = ctx.store().begin().await?;
        let mut writes = record::end(
            &mut tx,
            Ending {
                shared: &self.shared,
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
        if let Some(note) = hold::ran_after_wait(loaded, job)? {
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
        self.shared
            .enqueue_writes(&mut tx, loaded.forge, &writes, now)
            .await?;
        ctx.finish(tx).await?;
        self.shared.after_run(loaded.run.id).await;
        Ok(())
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
            let Ok(l) = load(conn, payload.run).await else {
                return Ok(());
            };
            if l.run.state.is_final() {
                return Ok(());
            }
            let reason = format!("the run could not be completed: {error}");
            // A verification the run had under way is an error, said on its check.
            if let Ok(Some(v)) = crate::store::verifications::of_run(conn, l.run.id).await
                && let Err(e) = crate::coordinator::verification::job::could_not_finish(
                    &self.shared,
                    conn,
                    v.id,
                    &reason,
                    now,
                )
                .await
            {
                tracing::error!(run = l.run.id, error = %e, "could not record the run's verification");
            }
            let outcome = RunOutcome::Failed {
                reason,
                fault: Fault::Run,
                report: RunReport::default(),
            };
            let ending = Ending {
                shared: &self.shared,
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
                    return Ok(());
                }
            };
            if l.spec_row.state == SpecState::Active
                && let Ok(Some(comment)) = goal_comment(conn, &l.repo, &l.spec_row, &l.spec).await
            {
                writes.push(comment);
            }
            if let Err(e) = self
                .shared
                .enqueue_writes(conn, l.forge, &writes, now)
                .await
            {
                tracing::error!(run = l.run.id, error = %e, "could not tell the goal a run failed");
            }
            Ok(())
        })
    }
}
