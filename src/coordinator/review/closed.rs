//! What happens when an approval (a pull request a run opened) is closed: merged, its task is
//! merged and the tasks that depend on it may start; closed unmerged by a person, its task is
//! rejected by review. When every task has settled the goal is finished ([`finish::settle`]).
//! A close that finds its approval or task moved since it read them (a `/ade cancel` at the same
//! moment) reads them again, so a merge the forge made is recorded whatever ade did meanwhile.

use std::sync::Arc;

use super::{MAX_PUT_OFF, approval_and_in_flight, put_off};
use crate::coordinator::advance::{self, AdvanceContext};
use crate::coordinator::event_job::{
    ApprovalClosedJob, ApprovalClosedKind, EventHandler, event_of, wrong_event,
};
use crate::coordinator::finish;
use crate::coordinator::goals::spec_of;
use crate::coordinator::writes::ForgeWrite;
use crate::events::EventKind;
use crate::jobs::{BoxFuture, Job, JobContext, JobError, JobHandler};
use crate::lifecycle::{ApprovalState, SpecState, State, TaskState};
use crate::store::jobs as queue;
use crate::store::{approvals, goals, tasks};

/// The handler of [`ApprovalClosedJob`]s.
pub type ApprovalClosedHandler = EventHandler<ApprovalClosedKind>;

impl ApprovalClosedHandler {
    async fn handle(&self, ctx: &JobContext) -> Result<(), JobError> {
        let (job, Some((event, repo))) = event_of::<ApprovalClosedKind>(ctx).await? else {
            return ctx.finish_empty().await;
        };
        let EventKind::PullRequestClosed(pull) = &event.kind else {
            return Err(wrong_event("an approval job", &event));
        };
        let repository = repo.full_name();
        let (task, in_flight) = {
            let mut conn = ctx.store().reader().await?;
            let (approval, in_flight) =
                approval_and_in_flight(&mut conn, event.forge, &repository, pull).await?;
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
                self.look_again(
                    ctx,
                    &mut tx,
                    &job,
                    "an approval closed before its run recorded it",
                    false,
                )
                .await?;
            }
            return ctx.finish(tx).await;
        };
        let forge = self.shared.forge(event.forge)?;
        let policy = self.shared.policies.in_force(forge.as_ref(), &repo).await;
        let now = ctx.now_ms();
        let mut tx = ctx.store().begin().await?;
        let (to, approval_to) = if pull.merged {
            (TaskState::Merged, ApprovalState::Merged)
        } else {
            (TaskState::Rejected, ApprovalState::Rejected)
        };
        // Looking again after a run ended: if the approval is no longer what this close made it
        // (the run reopened it before it saw the close, say), the close is stale.
        if job.applied && approval.state != approval_to {
            tracing::info!(pull = pull.number, state = %approval.state,
                "the approval changed since it was closed; the close is not applied again");
            return ctx.finish(tx).await;
        }
        // The approval's fate is recorded at once: a run of the task still in flight reads it when
        // it ends, and then neither retries nor marks the pull request ready.
        if pull.merged && !pull.head.sha.is_empty() {
            // The merged head, so the goal can say when a person merged one ade did not verify.
            approvals::set_head(&mut tx, approval.id, &pull.head.sha, now).await?;
        }
        if approval.state.can_become(approval_to) {
            let reason = (!pull.merged).then_some("closed unmerged by a person on the forge");
            if !approvals::move_approval(
                &mut tx,
                approval.id,
                approval.state,
                approval_to,
                reason,
                now,
            )
            .await?
            {
                return Err(moved_meanwhile("approval"));
            }
        }
        // The task's fate waits for a run in flight to record its end.
        if task.state == TaskState::Running {
            self.look_again(
                ctx,
                &mut tx,
                &job,
                "an approval closed while a run of its task is in flight",
                true,
            )
            .await?;
            return ctx.finish(tx).await;
        }
        if !task.state.can_become(to) {
            tracing::info!(task = %task.task_id, state = %task.state, "a closed approval whose task had moved on");
            return ctx.finish(tx).await;
        }
        if !tasks::move_task(&mut tx, task.id, task.state, to, now).await? {
            return Err(moved_meanwhile("task"));
        }
        tracing::info!(task = %task.task_id, pull = pull.number, state = %to, "approval closed");
        if pull.merged && approval.verified_sha.as_deref() != Some(pull.head.sha.as_str()) {
            tracing::warn!(task = %task.task_id, pull = pull.number, head = %pull.head.sha,
                "an approval was merged at a head ade did not verify");
        }
        let spec_row = goals::spec(&mut tx, task.spec)
            .await?
            .ok_or_else(|| JobError::Permanent(format!("spec {} is not stored", task.spec)))?;
        let spec = spec_of(&spec_row)?;
        let mut writes: Vec<ForgeWrite> = Vec::new();
        if spec_row.state == SpecState::Active {
            let policy = match &policy {
                Ok(policy) => {
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
                    policy.clone()
                }
                Err(reason) => {
                    tracing::warn!(%reason, "an approval closed but the policy cannot be read; the next tasks start with the next event");
                    Arc::default()
                }
            };
            writes.extend(finish::settle(&mut tx, &repo, &spec_row, &spec, &policy, now).await?);
        } else if spec_row.state == SpecState::Archived {
            // Merged as `/ade cancel` finished the goal: the goal's comments say so.
            let policy = policy.unwrap_or_default();
            writes.extend(finish::settle(&mut tx, &repo, &spec_row, &spec, &policy, now).await?);
        }
        self.shared
            .enqueue_writes(&mut tx, event.forge, &writes, now)
            .await?;
        ctx.finish(tx).await
    }
}

/// What a close whose approval or task moved since it read them (a `/ade cancel` handled at the
/// same moment) does: it reads them again and applies itself to what they are now, so a merge
/// the forge made is never lost to the cancel.
fn moved_meanwhile(what: &str) -> JobError {
    JobError::Retry(format!(
        "the {what} moved while its pull request's close was handled; reading it again"
    ))
}

impl ApprovalClosedHandler {
    /// Puts the job off to look again once a run in flight has recorded its end (bounded: runs
    /// have time limits).
    async fn look_again(
        &self,
        ctx: &JobContext,
        tx: &mut crate::store::Conn,
        job: &ApprovalClosedJob,
        why: &str,
        applied: bool,
    ) -> Result<(), JobError> {
        if job.put_off >= MAX_PUT_OFF {
            tracing::warn!(
                why,
                "a run stayed in flight for too long; the close is not counted"
            );
            return Ok(());
        }
        tracing::info!(why, "looking again shortly");
        let again = job.again(applied).new_job(
            ctx.job.max_attempts,
            ctx.now_ms() + put_off(job.put_off).as_millis() as i64,
        );
        queue::enqueue(tx, &again, ctx.now_ms()).await?;
        Ok(())
    }
}

impl JobHandler for ApprovalClosedHandler {
    fn run<'a>(&'a self, ctx: &'a JobContext) -> BoxFuture<'a, Result<(), JobError>> {
        Box::pin(self.handle(ctx))
    }
}
