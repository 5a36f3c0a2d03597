//! What happens when an approval (a pull request a run opened) is closed: merged, its task is
//! merged and the tasks that depend on it may start; closed unmerged, its task is cancelled.
//! When every task of the active spec is merged, the spec is archived.

use std::sync::Arc;

use super::advance::{self, AdvanceContext};
use super::goals::{goal_comment, spec_of};
use super::intake::CommandJob;
use super::policies::Policies;
use crate::events::EventKind;
use crate::forge::RepoRef;
use crate::forge::writes::{ForgeWrite, Forges, classify, enqueue_writes};
use crate::jobs::{BoxFuture, JobContext, JobError, JobHandler};
use crate::lifecycle::{ApprovalState, SpecState, State, TaskState};
use crate::store::jobs as queue;
use crate::store::{self, approvals, goals, runs as rows, tasks};

/// The job kind that handles a closed pull request.
pub const APPROVAL_CLOSED_JOB: &str = "approval_closed";

/// How long a closed approval whose run has not recorded it yet waits before it looks again the
/// `n`th time: 1 s, doubling to a minute, so a run that is only finishing is caught at once and a
/// long one costs a job a minute.
fn put_off(n: u32) -> std::time::Duration {
    std::time::Duration::from_secs(1u64 << n.min(6)).min(std::time::Duration::from_secs(60))
}

/// How many times it looks again: with [`put_off`], about four hours, longer than a run may take.
const MAX_PUT_OFF: u32 = 240;

/// The handler of [`APPROVAL_CLOSED_JOB`] jobs.
pub struct ApprovalClosedHandler {
    forges: Forges,
    policies: Arc<Policies>,
    write_attempts: i64,
}

impl ApprovalClosedHandler {
    /// A handler reading policies through `policies` and writing through `forges`.
    pub fn new(forges: Forges, policies: Arc<Policies>, write_attempts: i64) -> Self {
        ApprovalClosedHandler {
            forges,
            policies,
            write_attempts,
        }
    }

    async fn handle(&self, ctx: &JobContext) -> Result<(), JobError> {
        let job: CommandJob = serde_json::from_str(&ctx.job.payload)
            .map_err(|e| JobError::Permanent(format!("malformed approval job: {e}")))?;
        let event = {
            let mut conn = ctx.store().reader().await?;
            store::events::get(&mut conn, job.event).await?
        }
        .ok_or_else(|| JobError::Permanent(format!("event {} is not stored", job.event)))?;
        let EventKind::PullRequestClosed(pull) = &event.kind else {
            return Err(JobError::Permanent(format!(
                "an approval job for a {} event",
                event.kind.name()
            )));
        };
        let Some(repository) = &event.repository else {
            return ctx.finish(ctx.store().begin().await?).await;
        };
        let Some(repo) = RepoRef::parse(&repository.full_name, event.installation_id) else {
            return ctx.finish(ctx.store().begin().await?).await;
        };
        let (task, in_flight) = {
            let mut conn = ctx.store().reader().await?;
            // In flight first: a run that records the approval in between ends in the same
            // commit, so the task is then found; the other order could miss both.
            let in_flight = rows::run_in_flight_on_branch(
                &mut conn,
                event.forge,
                &repository.full_name,
                &pull.head.branch,
            )
            .await?;
            let approval =
                approvals::by_pull(&mut conn, event.forge, &repository.full_name, pull.number)
                    .await?;
            let task = match &approval {
                Some(a) => tasks::task(&mut conn, a.task)
                    .await?
                    .map(|t| (a.clone(), t)),
                None => None,
            };
            (task, in_flight)
        };
        let Some((approval, task)) = task else {
            let mut tx = ctx.store().begin().await?;
            if in_flight {
                // Closed (merged, say) before the run that opened it recorded it: look again
                // once the run has had time to, for as long as it runs (runs have time limits).
                if job.put_off < MAX_PUT_OFF {
                    tracing::info!(pull = pull.number, branch = %pull.head.branch,
                        "an approval closed before its run recorded it; looking again shortly");
                    let again = CommandJob {
                        event: job.event,
                        put_off: job.put_off + 1,
                    }
                    .job(
                        APPROVAL_CLOSED_JOB,
                        ctx.job.ordering_key.clone(),
                        ctx.job.max_attempts,
                        ctx.now_ms() + put_off(job.put_off).as_millis() as i64,
                    );
                    queue::enqueue(&mut tx, &again, ctx.now_ms()).await?;
                } else {
                    tracing::warn!(pull = pull.number, branch = %pull.head.branch,
                        "an approval closed while its run still runs, for too long; the close is not counted");
                }
            }
            return ctx.finish(tx).await;
        };
        let forge = self.forges.get(event.forge).map_err(classify)?.clone();
        let (_, policy) = self
            .policies
            .load(forge.as_ref(), &repo)
            .await
            .map_err(classify)?;
        let now = ctx.now_ms();
        let mut tx = ctx.store().begin().await?;
        let (to, approval_to) = if pull.merged {
            (TaskState::Merged, ApprovalState::Merged)
        } else {
            (TaskState::Rejected, ApprovalState::Rejected)
        };
        if approval.state.can_become(approval_to) {
            let reason = (!pull.merged).then_some("closed unmerged on the forge");
            approvals::move_approval(
                &mut tx,
                approval.id,
                approval.state,
                approval_to,
                reason,
                now,
            )
            .await?;
        }
        if !task.state.can_become(to)
            || !tasks::move_task(&mut tx, task.id, task.state, to, now).await?
        {
            tracing::info!(task = %task.task_id, state = %task.state, "a closed approval whose task had moved on");
            return ctx.finish(tx).await;
        }
        tracing::info!(task = %task.task_id, pull = pull.number, state = %to, "approval closed");
        let spec_row = goals::spec(&mut tx, task.spec)
            .await?
            .ok_or_else(|| JobError::Permanent(format!("spec {} is not stored", task.spec)))?;
        let spec = spec_of(&spec_row)?;
        let mut writes: Vec<ForgeWrite> = Vec::new();
        if spec_row.state == SpecState::Active {
            if let Ok(policy) = &policy {
                let requester = goals::transitions(&mut tx, spec_row.id)
                    .await?
                    .into_iter()
                    .rev()
                    .find(|(_, to, _, _)| to == SpecState::Active.as_str())
                    .map(|(_, _, actor, _)| actor)
                    .unwrap_or_else(|| spec.author.clone());
                advance::advance(
                    &mut tx,
                    &spec_row,
                    &spec,
                    &AdvanceContext {
                        goal_number: spec.goal.issue as i64,
                        policy,
                        requester: &requester,
                        now,
                    },
                )
                .await?;
            }
            let all_settled = tasks::tasks_of(&mut tx, spec_row.id)
                .await?
                .iter()
                .all(|t| t.state.is_settled());
            let mut shown = spec_row.clone();
            if all_settled
                && goals::move_spec(
                    &mut tx,
                    spec_row.id,
                    SpecState::Active,
                    SpecState::Archived,
                    "ade",
                    now,
                )
                .await?
            {
                tracing::info!(
                    spec = spec_row.id,
                    "every task is merged, rejected or cancelled; the spec is archived"
                );
                shown.state = SpecState::Archived;
            }
            writes.push(goal_comment(&mut tx, &repo, &shown, &spec).await?);
        }
        enqueue_writes(&mut tx, event.forge, &writes, self.write_attempts, now).await?;
        ctx.finish(tx).await
    }
}

impl JobHandler for ApprovalClosedHandler {
    fn run<'a>(&'a self, ctx: &'a JobContext) -> BoxFuture<'a, Result<(), JobError>> {
        Box::pin(self.handle(ctx))
    }
}
