//! Planning a goal: the plan comment ([`comment`]), a new version of the spec whoever wrote it
//! ([`version`]), and the planner run of a planner agent, the job of which reads top to bottom:
//!
//! 1. the planner run is read and marked started (a run whose runner died is taken over);
//! 2. [`order`] builds the [`PlanOrder`]: the goal's text and comments up to the command, the
//!    policy, the spec's schema, a credential to fetch with;
//! 3. the [`Runner`] runs the planner in a worktree it can only read, while this job watches the
//!    planner run's cancel flag (`/ade cancel`, a newer `/ade plan`);
//! 4. what it wrote ([`output`]) becomes the goal's next version, valid or a failed plan listing
//!    every problem, with a link to the planner's log; the command is answered once.

pub mod comment;
pub mod job;
mod order;
pub mod output;
pub mod version;

use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use super::credentials::GitCredentials;
use super::render::ReplyView;
use super::reply::Reply;
use super::shared::Shared;
use super::watch::{Flag, watch};
use crate::jobs::{BoxFuture, Discarded, JobContext, JobError, JobHandler};
use crate::lifecycle::PlanningState;
use crate::markdown;
use crate::runner::{Fault, PlanOrder, PlanOutcome, Runner};
use crate::spec::{Planner, SpecError};
use crate::store::goals::{self, GoalRow};
use crate::store::planning::{self, PlanningEnd, PlanningRow};
use crate::store::{Conn, Context, StoreError};
use job::PlanJob;
use version::Plan;

/// The handler of [`PlanJob`]s, on the runner's workers.
pub struct PlanHandler {
    shared: Shared,
    runner: Arc<dyn Runner>,
}

impl PlanHandler {
    /// A handler giving planner runs to `runner`.
    pub fn new(shared: Shared, runner: Arc<dyn Runner>) -> PlanHandler {
        PlanHandler { shared, runner }
    }

    async fn handle(&self, ctx: &JobContext) -> Result<(), JobError> {
        let job: PlanJob = ctx.payload()?;
        let Some((planning, goal)) = self.start(ctx, &job).await? else {
            return Ok(());
        };
        let forge = self.shared.forge(goal.forge)?;
        let (head, loaded) = self
            .shared
            .policies
            .load(forge.as_ref(), &goal.repository)
            .await?;
        let policy = match loaded {
            Ok(policy) => policy,
            Err(problems) => {
                let reason = format!(
                    "the repository's policy file on {} is not valid ({} problem{}), so nothing was planned",
                    markdown::code_span(&head.name),
                    problems.len(),
                    if problems.len() == 1 { "" } else { "s" }
                );
                return self.fail(ctx, &planning, &goal, &reason).await;
            }
        };
        let bot = self.shared.bot_login(forge.as_ref()).await?;
        let credentials = GitCredentials::new(forge.clone(), goal.repository.clone());
        let order = order::build(
            forge.as_ref(),
            &credentials,
            &bot,
            &policy,
            &goal,
            &planning,
        )
        .await;
        let order = match order {
            Ok(order) => order,
            Err(error) => {
                credentials.revoke_all().await;
                return Err(error.into());
            }
        };
        tracing::info!(planning = planning.id, agent = %crate::telemetry::shown(&planning.agent), "planner started");
        let outcome = self.execute(ctx, order).await;
        credentials.revoke_all().await;
        if let PlanOutcome::Failed {
            fault: Fault::Runner,
            reason,
            ..
        } = &outcome
            && ctx.job.attempt < ctx.job.max_attempts
        {
            return Err(JobError::Retry(reason.clone()));
        }
        self.record(ctx, &planning, &goal, &policy, outcome).await
    }

    /// Reads the planner run and marks it started; `None` when there is nothing to do (it ended,
    /// or was cancelled before it started: then it is answered here).
    async fn start(
        &self,
        ctx: &JobContext,
        job: &PlanJob,
    ) -> Result<Option<(PlanningRow, GoalRow)>, JobError> {
        let mut tx = ctx.store().begin().await?;
        let Some(planning) = planning::get(&mut tx, job.planning).await? else {
            return ctx.finish(tx).await.map(|()| None);
        };
        let goal = goals::goal_row(&mut tx, planning.goal)
            .await?
            .ok_or_else(|| JobError::Permanent(format!("goal {} is gone", planning.goal)))?;
        if !planning.state.in_flight() {
            return ctx.finish(tx).await.map(|()| None);
        }
        if planning.cancel_requested {
            self.stopped(&mut tx, ctx, &planning, &goal).await?;
            return ctx.finish(tx).await.map(|()| None);
        }
        if !planning::start(
            &mut tx,
            planning.id,
            planning.state,
            self.runner.name(),
            ctx.now_ms(),
        )
        .await?
        {
            return Err(JobError::Retry("the planner run moved meanwhile".into()));
        }
        tx.commit()
            .await
            .context("commit the planner run's start")?;
        Ok(Some((planning, goal)))
    }

    /// Runs the planner, stopping it when its cancel flag is set.
    async fn execute(&self, ctx: &JobContext, order: PlanOrder) -> PlanOutcome {
        let cancel = CancellationToken::new();
        let watcher = watch(
            ctx.store().clone(),
            Flag::PlanningCancelled(order.plan_id),
            cancel.clone(),
        );
        let outcome = self.runner.plan(order, cancel).await;
        watcher.abort();
        outcome
    }

    /// Turns the planner's outcome into a version (valid or a failed plan) or an answer saying
    /// why there is none, with the job's completion.
    async fn record(
        &self,
        ctx: &JobContext,
        planning: &PlanningRow,
        goal: &GoalRow,
        policy: &crate::policy::EffectivePolicy,
        outcome: PlanOutcome,
    ) -> Result<(), JobError> {
        let now = ctx.now_ms();
        let report = outcome.report().clone();
        let log_link = report
            .log
            .as_ref()
            .and_then(|_| self.shared.links.plan_link(planning.id, now / 1000));
        let read = match &outcome {
            PlanOutcome::Finished { output, .. } => output::read(output),
            // The planner's own failure, or a setup that cannot run it as it must be run (no
            // read-only worktree here, an agent not registered): a failed plan saying why.
            PlanOutcome::Failed {
                reason,
                fault: Fault::Run | Fault::Setup,
                ..
            } => output::Read {
                tasks: None,
                problems: vec![SpecError::Output(format!("the planner failed: {reason}"))],
            },
            PlanOutcome::Failed { reason, .. } => {
                let reason = format!(
                    "the runner could not run the planner: {}",
                    markdown::code_span(&crate::telemetry::shown(reason))
                );
                return self.fail(ctx, planning, goal, &reason).await;
            }
            PlanOutcome::Cancelled { .. } => {
                let mut tx = ctx.store().begin().await?;
                self.stopped(&mut tx, ctx, planning, goal).await?;
                return ctx.finish(tx).await;
            }
        };
        // A version stored meanwhile by another plan of the goal takes the number this one was
        // to have: storing it is tried again, not the planner.
        let mut tries = 0;
        loop {
            tries += 1;
            match self
                .store_version(
                    ctx,
                    planning,
                    goal,
                    policy,
                    &read,
                    &report,
                    log_link.clone(),
                )
                .await
            {
                Err(JobError::Retry(why)) if tries < 3 => {
                    tracing::info!(planning = planning.id, %why, "storing the plan again");
                }
                done => return done,
            }
        }
    }

    /// Stores what the planner wrote as the goal's next version and answers the command, with
    /// the job's completion.
    #[allow(
        clippy::too_many_arguments,
        reason = "one call site, each part distinct"
    )]
    async fn store_version(
        &self,
        ctx: &JobContext,
        planning: &PlanningRow,
        goal: &GoalRow,
        policy: &crate::policy::EffectivePolicy,
        read: &output::Read,
        report: &crate::runner::RunReport,
        log_link: Option<String>,
    ) -> Result<(), JobError> {
        let now = ctx.now_ms();
        let report_json = serde_json::to_string(report).ok();
        let mut tx = ctx.store().begin().await?;
        if planning::cancel_requested(&mut tx, planning.id).await? {
            self.stopped(&mut tx, ctx, planning, goal).await?;
            return ctx.finish(tx).await;
        }
        let versioned = version::store(
            &mut tx,
            Plan {
                forge: goal.forge,
                repo: &goal.repository,
                number: goal.number,
                title: &goal.title,
                body: &goal.body,
                author: &planning.requester,
                planner: Planner::Agent {
                    name: planning.agent.clone(),
                },
                base_commit: &planning.base_commit,
                policy,
                registered: &self.shared.agents,
                tasks: read.tasks.clone(),
                problems: read.problems.clone(),
                planner_log: log_link.clone(),
                now,
            },
        )
        .await?;
        let ended = planning::finish(
            &mut tx,
            planning.id,
            PlanningState::Running,
            &PlanningEnd {
                state: PlanningState::Planned,
                spec: Some(versioned.row.id),
                log: report.log.as_deref(),
                log_link: log_link.as_deref(),
                reason: None,
                report: report_json.as_deref(),
            },
            now,
        )
        .await?;
        if !ended {
            return Err(JobError::Retry("the planner run moved meanwhile".into()));
        }
        let (headline, details) = versioned.reply();
        let reply = self.reply(planning, goal, headline, details);
        self.shared
            .enqueue_writes(&mut tx, goal.forge, &[versioned.comment, reply], now)
            .await?;
        ctx.finish(tx).await
    }

    /// Ends the planner run as failed with `reason` and tells the requester, with the job's
    /// completion.
    async fn fail(
        &self,
        ctx: &JobContext,
        planning: &PlanningRow,
        goal: &GoalRow,
        reason: &str,
    ) -> Result<(), JobError> {
        let mut tx = ctx.store().begin().await?;
        let headline = format!(
            "planning with the planner agent {} failed: {reason}. Nothing was planned; comment `/ade plan` again once that is fixed.",
            markdown::code_span(&planning.agent)
        );
        self.end_unplanned(
            &mut tx,
            ctx,
            planning,
            goal,
            PlanningState::Failed,
            reason,
            headline,
        )
        .await?;
        ctx.finish(tx).await
    }

    /// Ends a planner run that was asked to stop and says so, in `tx`.
    async fn stopped(
        &self,
        tx: &mut Conn,
        ctx: &JobContext,
        planning: &PlanningRow,
        goal: &GoalRow,
    ) -> Result<(), JobError> {
        let reason = "stopped by `/ade cancel` or a newer `/ade plan`";
        let headline = format!(
            "planning with the planner agent {} was {reason}; it planned nothing.",
            markdown::code_span(&planning.agent)
        );
        self.end_unplanned(
            tx,
            ctx,
            planning,
            goal,
            PlanningState::Cancelled,
            reason,
            headline,
        )
        .await
    }

    /// Ends a planner run still in flight in `state` (failed or cancelled) with no version, and
    /// answers its command with `headline`, in `tx`; a run that ended already is left alone.
    #[allow(clippy::too_many_arguments, reason = "one ending, each part distinct")]
    async fn end_unplanned(
        &self,
        tx: &mut Conn,
        ctx: &JobContext,
        planning: &PlanningRow,
        goal: &GoalRow,
        state: PlanningState,
        reason: &str,
        headline: String,
    ) -> Result<(), JobError> {
        let current = planning::get(tx, planning.id).await?;
        let Some(current) = current.filter(|p| p.state.in_flight()) else {
            return Ok(());
        };
        let end = PlanningEnd {
            state,
            spec: None,
            log: None,
            log_link: None,
            reason: Some(reason),
            report: None,
        };
        planning::finish(tx, planning.id, current.state, &end, ctx.now_ms()).await?;
        let reply = self.reply(planning, goal, headline, Vec::new());
        self.shared
            .enqueue_writes(tx, goal.forge, &[reply], ctx.now_ms())
            .await?;
        Ok(())
    }

    fn reply(
        &self,
        planning: &PlanningRow,
        goal: &GoalRow,
        headline: String,
        details: Vec<String>,
    ) -> crate::coordinator::writes::ForgeWrite {
        Reply::to(
            &goal.repository,
            goal.number,
            planning.comment_id,
            usize::try_from(planning.reply_index).unwrap_or(0),
        )
        .render(&ReplyView {
            mention: Some(planning.requester.clone()),
            headline,
            details,
            ..ReplyView::default()
        })
    }
}

impl JobHandler for PlanHandler {
    fn run<'a>(&'a self, ctx: &'a JobContext) -> BoxFuture<'a, Result<(), JobError>> {
        Box::pin(self.handle(ctx))
    }

    /// A planner run whose job failed for good (its runner kept dying, the forge answered
    /// something ade cannot use) ends failed, and the requester hears why.
    fn discarded<'a>(&'a self, failed: Discarded<'a>) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            let Some(job) = failed.payload::<PlanJob>() else {
                return Ok(());
            };
            let Some(planning) = planning::get(failed.conn, job.planning).await? else {
                return Ok(());
            };
            let Some(goal) = goals::goal_row(failed.conn, planning.goal).await? else {
                return Ok(());
            };
            if !planning.state.in_flight() {
                return Ok(());
            }
            let reason = crate::telemetry::shown(failed.error);
            planning::finish(
                failed.conn,
                planning.id,
                planning.state,
                &PlanningEnd {
                    state: PlanningState::Failed,
                    spec: None,
                    log: None,
                    log_link: None,
                    reason: Some(&reason),
                    report: None,
                },
                failed.now,
            )
            .await?;
            let headline = format!(
                "planning with the planner agent {} failed: {}. Nothing was planned; if this goes on, give ade's operator the job key {}.",
                markdown::code_span(&planning.agent),
                markdown::code_span(&reason),
                markdown::code_span(&failed.job.idempotency_key)
            );
            let reply = self.reply(&planning, &goal, headline, Vec::new());
            self.shared
                .enqueue_writes(failed.conn, goal.forge, &[reply], failed.now)
                .await
        })
    }
}
