//! Someone pushed to an approval's branch (GitHub `synchronize`, Gitea's equivalent): the new head
//! is verified in a clean worktree, and a verification of an older head still running is stopped
//! and its check marked cancelled. ade's own pushes are recorded by their runs and not verified
//! twice: a push that arrives while a run of the task is in flight and has not yet recorded the
//! head it pushed is looked at again shortly; once it has, any other head is someone else's and
//! is verified at once, which stops the run's verification of its own.

use super::{MAX_PUT_OFF, approval_and_in_flight, put_off};
use crate::coordinator::event_job::{ApprovalPushedKind, EventHandler, event_of, wrong_event};
use crate::coordinator::verification::{self, Subject};
use crate::events::EventKind;
use crate::jobs::{BoxFuture, Job, JobContext, JobError, JobHandler};
use crate::lifecycle::ApprovalState;
use crate::store::approvals::ApprovalRow;
use crate::store::jobs as queue;
use crate::store::runs;
use crate::store::verifications::{self, Cause};

/// The handler of [`ApprovalPushedJob`](crate::coordinator::event_job::ApprovalPushedJob)s.
pub type ApprovalPushedHandler = EventHandler<ApprovalPushedKind>;

impl ApprovalPushedHandler {
    async fn handle(&self, ctx: &JobContext) -> Result<(), JobError> {
        let (job, Some((event, repo))) = event_of::<ApprovalPushedKind>(ctx).await? else {
            return ctx.finish_empty().await;
        };
        let EventKind::PullRequestSynchronized(pull) = &event.kind else {
            return Err(wrong_event("a push job", &event));
        };
        let repository = repo.full_name();
        let (approval, in_flight) = {
            let mut conn = ctx.store().reader().await?;
            let (approval, in_flight) =
                approval_and_in_flight(&mut conn, event.forge, &repository, pull).await?;
            let in_flight = match &approval {
                Some(approval) if in_flight => {
                    !pushed_another_head(&mut conn, approval, &pull.head.sha).await?
                }
                _ => in_flight,
            };
            (approval, in_flight)
        };
        let Some(approval) = approval else {
            return ctx.finish_empty().await;
        };
        if approval.head_sha == pull.head.sha
            || matches!(
                approval.state,
                ApprovalState::Merged | ApprovalState::Closed
            )
        {
            return ctx.finish_empty().await;
        }
        if in_flight {
            let mut tx = ctx.store().begin().await?;
            if job.put_off < MAX_PUT_OFF {
                let again = job.again(false).new_job(
                    ctx.job.max_attempts,
                    ctx.now_ms() + put_off(job.put_off).as_millis() as i64,
                );
                queue::enqueue(&mut tx, &again, ctx.now_ms()).await?;
            }
            return ctx.finish(tx).await;
        }
        // ade's own pushes are verified by the runs that made them; an event that arrives late
        // (after a newer push) is not the approval's head any more. A person pushing an older
        // head of ade's again is a push like any other.
        let forge = self.shared.forge(event.forge)?;
        if self.shared.sent_by_bot(forge.as_ref(), &event).await? {
            return ctx.finish_empty().await;
        }
        let current = forge.pull_request(&repo, pull.number).await?;
        if current.head_sha != pull.head.sha || !current.open {
            return ctx.finish_empty().await;
        }
        let policy = match self.shared.policies.load(forge.as_ref(), &repo).await {
            Ok((_, Ok(policy))) => policy,
            Ok((head, Err(_))) => {
                tracing::warn!(pull = pull.number, branch = %head.name,
                    "a push to an approval is not verified: the policy on the default branch is not valid");
                return ctx.finish_empty().await;
            }
            Err(error) => return Err(error.into()),
        };
        let now = ctx.now_ms();
        let mut tx = ctx.store().begin().await?;
        let Some(subject) = Subject::load(&mut tx, approval, policy).await? else {
            return ctx.finish(tx).await;
        };
        let pusher = event
            .sender
            .as_ref()
            .map_or("someone", |s| s.login.as_str());
        let (_, writes) = verification::request(
            &mut tx,
            &self.shared,
            &subject,
            &pull.head.sha,
            Cause::Push,
            pusher,
            now,
        )
        .await?;
        self.shared
            .enqueue_writes(&mut tx, event.forge, &writes, now)
            .await?;
        ctx.finish(tx).await
    }
}

/// Whether the task's run in flight has already pushed and recorded a head other than `head`:
/// `head` is then someone else's push, verified at once (which stops the run's verification).
async fn pushed_another_head(
    conn: &mut crate::store::Conn,
    approval: &ApprovalRow,
    head: &str,
) -> Result<bool, JobError> {
    let Some(run) = runs::runs_of_task(conn, approval.task)
        .await?
        .into_iter()
        .next()
        .filter(|run| run.state.in_flight())
    else {
        return Ok(false);
    };
    Ok(verifications::of_run(conn, run.id)
        .await?
        .is_some_and(|v| v.head_sha != head))
}

impl JobHandler for ApprovalPushedHandler {
    fn run<'a>(&'a self, ctx: &'a JobContext) -> BoxFuture<'a, Result<(), JobError>> {
        Box::pin(self.handle(ctx))
    }
}
