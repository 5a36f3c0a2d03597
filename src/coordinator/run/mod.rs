//! The run job: carries out one run, in phases a reader can follow.
//!
//! 1. [`load`] reads the run, its task, spec and goal, and marks the run started (a run still
//!    `running` from an attempt whose lease expired is taken over).
//! 2. [`order`] builds the [`RunOrder`]: the task, the goal text, the dependencies' results, the
//!    policy's rules and a fresh short-lived clone credential.
//! 3. The [`Runner`] carries it out (prepare, agent, check, publish, verify); this job watches
//!    the run's cancel flag meanwhile.
//! 4. [`approval`] opens or updates the approval (the pull request) for a pushed change.
//! 5. [`record`] turns the outcome into states and comments in one transaction with the job's
//!    fenced completion, and starts what the freed slot allows.
//!
//! The job holds a lease for the whole run; a run whose runner died is taken over when the lease
//! expires, and failed visibly after its last attempt.

mod approval;
mod load;
mod order;
mod record;

use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

use super::advance::{self, AdvanceContext};
use super::goals::goal_comment;
use super::policies::Policies;
use crate::forge::writes::{ForgeWrite, Forges, classify, enqueue_writes};
use crate::jobs::{BoxFuture, JobContext, JobError, JobHandler};
use crate::lifecycle::{RunState, SpecState, State};
use crate::runner::{RunOrder, RunOutcome, RunReport, Runner};
use crate::store::jobs::{ClaimedJob, NewJob};
use crate::store::{Conn, StoreError, runs as store};
use load::{StoredRun, load};

/// The job kind that carries out one run.
pub const RUN_JOB: &str = "run";

/// The payload of a run job.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RunJob {
    /// The run's id.
    pub run: i64,
}

/// Attempts a run job gets: a run whose runner died (its lease expired) is taken over by another
/// runner this many times minus one, then failed visibly.
pub const RUN_JOB_ATTEMPTS: i64 = 3;

/// The job that carries out run `run`. Runs have no ordering key: independent runs go in parallel,
/// as many at once as there are runner workers.
pub fn run_job(run: i64, now: i64) -> NewJob {
    NewJob {
        kind: RUN_JOB.into(),
        idempotency_key: format!("run:{run}"),
        ordering_key: None,
        payload: serde_json::to_string(&RunJob { run }).expect("serializes"),
        max_attempts: RUN_JOB_ATTEMPTS,
        run_at: now,
    }
}

/// The handler of [`RUN_JOB`] jobs.
pub struct RunHandler {
    forges: Forges,
    policies: Arc<Policies>,
    runner: Arc<dyn Runner>,
    write_attempts: i64,
    cancel_poll: Duration,
}

impl RunHandler {
    /// A handler giving runs to `runner`, opening approvals through `forges`.
    pub fn new(
        forges: Forges,
        policies: Arc<Policies>,
        runner: Arc<dyn Runner>,
        write_attempts: i64,
    ) -> RunHandler {
        RunHandler {
            forges,
            policies,
            runner,
            write_attempts,
            cancel_poll: Duration::from_millis(500),
        }
    }

    async fn handle(&self, ctx: &JobContext) -> Result<(), JobError> {
        let job: RunJob = serde_json::from_str(&ctx.job.payload)
            .map_err(|e| JobError::Permanent(format!("malformed run job: {e}")))?;
        let Some(mut loaded) = self.start(ctx, job.run).await? else {
            return Ok(());
        };
        tracing::info!(run = loaded.run.id, task = %loaded.task.task_id, agent = %loaded.run.agent, "run started");
        let forge = self.forges.get(loaded.forge).map_err(classify)?.clone();
        let outcome = match order::build(ctx, forge.as_ref(), &self.policies, &loaded).await {
            Ok(order) => {
                // A dependant starts from the default branch's head, not the spec's base.
                loaded.run.base_sha.clone_from(&order.base_sha);
                self.execute(ctx, order).await
            }
            Err(reason) => RunOutcome::Failed {
                reason,
                retryable: false,
                report: RunReport {
                    runner: self.runner.name().to_string(),
                    ..RunReport::default()
                },
            },
        };
        if let RunOutcome::Failed {
            retryable: true,
            reason,
            ..
        } = &outcome
            && ctx.job.attempt < ctx.job.max_attempts
        {
            return Err(JobError::Retry(reason.clone()));
        }
        let outcome = match outcome {
            RunOutcome::Pushed { report, .. } if cancelled(ctx, loaded.run.id).await => {
                RunOutcome::Cancelled { report }
            }
            other => other,
        };
        let pull = match &outcome {
            RunOutcome::Pushed { report, .. } => {
                Some(approval::open(forge.as_ref(), &loaded, report).await?)
            }
            _ => None,
        };
        let policy = load::policy(&self.policies, forge.as_ref(), &loaded.repo).await;
        if let Err(reason) = &policy {
            tracing::warn!(run = loaded.run.id, %reason,
                "the run ended but the repository's policy cannot be read; no labels, and the next tasks start with the next approval event");
        }
        let mut tx = ctx.store().begin().await?;
        let mut writes = record::end(
            &mut tx,
            &loaded,
            RunState::Running,
            outcome,
            pull.clone(),
            ctx.now_ms(),
        )
        .await?;
        if let Ok(policy) = &policy {
            let advanced = advance::advance(
                &mut tx,
                &loaded.spec_row,
                &loaded.spec,
                &AdvanceContext {
                    goal_number: loaded.goal.number,
                    policy,
                    requester: &loaded.run.requester,
                    now: ctx.now_ms(),
                },
            )
            .await?;
            if !advanced.started.is_empty() {
                tracing::info!(started = ?advanced.started, "a run ended; started the next ready tasks");
            }
            if let Some(pull) = &pull
                && !policy.pull_requests.labels.is_empty()
            {
                writes.push(ForgeWrite::Label {
                    repo: loaded.repo.clone(),
                    number: pull.number,
                    labels: policy.pull_requests.labels.clone(),
                });
            }
        }
        writes.push(goal_comment(&mut tx, &loaded.repo, &loaded.spec_row, &loaded.spec).await?);
        enqueue_writes(
            &mut tx,
            loaded.forge,
            &writes,
            self.write_attempts,
            ctx.now_ms(),
        )
        .await?;
        ctx.finish(tx).await
    }

    /// Reads the run and marks it started; `None` when there is nothing to do (it already ended,
    /// or it was cancelled before it started, which is recorded here).
    async fn start(&self, ctx: &JobContext, run: i64) -> Result<Option<StoredRun>, JobError> {
        let loaded = {
            let mut conn = ctx.store().reader().await?;
            load(&mut conn, run).await?
        };
        let state = loaded.run.state;
        if state.is_final() {
            tracing::info!(run = loaded.run.id, %state, "the run already ended");
            ctx.finish(ctx.store().begin().await?).await?;
            return Ok(None);
        }
        let mut tx = ctx.store().begin().await?;
        if loaded.run.cancel_requested {
            let cancelled = RunOutcome::Cancelled {
                report: RunReport::default(),
            };
            record::end(&mut tx, &loaded, state, cancelled, None, ctx.now_ms()).await?;
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
        tx.commit()
            .await
            .map_err(|e| JobError::Retry(format!("commit run start: {e}")))?;
        Ok(Some(loaded))
    }

    /// Runs the order, cancelling it when `/ade cancel` sets the run's flag.
    async fn execute(&self, ctx: &JobContext, order: RunOrder) -> RunOutcome {
        let cancel = CancellationToken::new();
        let watcher = watch_cancel(ctx, order.run_id, self.cancel_poll, cancel.clone());
        let outcome = self.runner.execute(order, cancel).await;
        watcher.abort();
        outcome
    }
}

/// Polls the run's cancel flag every `poll` and fires `cancel` once it is set.
fn watch_cancel(
    ctx: &JobContext,
    run: i64,
    poll: Duration,
    cancel: CancellationToken,
) -> tokio::task::JoinHandle<()> {
    let store = ctx.store().clone();
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(poll).await;
            let Ok(mut conn) = store.reader().await else {
                continue;
            };
            if store::cancel_requested(&mut conn, run)
                .await
                .unwrap_or(false)
            {
                tracing::info!(run, "cancel requested; stopping the run");
                cancel.cancel();
                return;
            }
        }
    })
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
        debug_assert_eq!(ctx.job.kind, RUN_JOB);
        Box::pin(self.handle(ctx))
    }

    /// A run whose job failed for good (its runner lost on every attempt, or an error nothing
    /// could retry) fails visibly: the run and its task are marked failed and the goal is told.
    fn discarded<'a>(
        &'a self,
        job: &'a ClaimedJob,
        conn: &'a mut Conn,
        error: &'a str,
        now: i64,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            let Ok(payload) = serde_json::from_str::<RunJob>(&job.payload) else {
                return Ok(());
            };
            let Ok(l) = load(conn, payload.run).await else {
                return Ok(());
            };
            if l.run.state.is_final() {
                return Ok(());
            }
            let outcome = RunOutcome::Failed {
                reason: format!("the run could not be completed: {error}"),
                retryable: false,
                report: RunReport::default(),
            };
            let mut writes = match record::end(conn, &l, l.run.state, outcome, None, now).await {
                Ok(writes) => writes,
                Err(e) => {
                    tracing::error!(run = l.run.id, error = %e, "could not record a failed run");
                    return Ok(());
                }
            };
            if l.spec_row.state == SpecState::Active
                && let Ok(comment) = goal_comment(conn, &l.repo, &l.spec_row, &l.spec).await
            {
                writes.push(comment);
            }
            if let Err(e) = enqueue_writes(conn, l.forge, &writes, self.write_attempts, now).await {
                tracing::error!(run = l.run.id, error = %e, "could not tell the goal a run failed");
            }
            Ok(())
        })
    }
}
