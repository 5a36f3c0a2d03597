//! A review on an approval: an approving review on the approval's current head, by someone other
//! than ade and those who asked for the work, makes it approved (and the merge gate looks at it,
//! checking the reviewer's permission too); a review that requests changes, or a dismissed
//! approval, makes it pending again. A review that requests changes, by someone other than ade,
//! also schedules an attempt on it ([`requested`]).

use super::gate::{GateJob, excluded_reviewers};
use super::requested;
use crate::coordinator::event_job::{ApprovalReviewedKind, EventHandler, event_of, wrong_event};
use crate::events::EventKind;
use crate::forge::ReviewState;
use crate::jobs::{BoxFuture, Job, JobContext, JobError, JobHandler};
use crate::lifecycle::ApprovalState;
use crate::store::approvals;
use crate::store::jobs as queue;

/// The handler of [`ApprovalReviewedJob`](crate::coordinator::event_job::ApprovalReviewedJob)s.
pub type ApprovalReviewedHandler = EventHandler<ApprovalReviewedKind>;

impl ApprovalReviewedHandler {
    async fn handle(&self, ctx: &JobContext) -> Result<(), JobError> {
        let (job, Some((event, repo))) = event_of::<ApprovalReviewedKind>(ctx).await? else {
            return ctx.finish_empty().await;
        };
        let (review, dismissed) = match &event.kind {
            EventKind::ReviewSubmitted(review) => (review, false),
            EventKind::ReviewDismissed(review) => (review, true),
            _ => return Err(wrong_event("a review job", &event)),
        };
        let approval = {
            let mut conn = ctx.store().reader().await?;
            approvals::by_pull(
                &mut conn,
                event.forge,
                &repo.full_name(),
                review.pull_request_number,
            )
            .await?
        };
        let Some(approval) = approval else {
            return ctx.finish_empty().await;
        };
        let forge = self.shared.forge(event.forge)?;
        let bot = self.shared.bot_login(forge.as_ref()).await?;
        let excluded = {
            let mut conn = ctx.store().reader().await?;
            excluded_reviewers(&mut conn, &approval, &bot).await?
        };
        let by = review.author.login.as_str();
        // Informational: the merge gate checks again, with the reviewer's permission.
        let qualifies = review.state == ReviewState::Approved
            && !dismissed
            && !excluded.iter().any(|x| x.eq_ignore_ascii_case(by))
            && review
                .commit_sha
                .as_deref()
                .is_none_or(|sha| sha == approval.head_sha);
        let now = ctx.now_ms();
        let mut tx = ctx.store().begin().await?;
        let to = match (approval.state, qualifies, review.state) {
            (ApprovalState::Pending, true, _) => Some(ApprovalState::Approved),
            (ApprovalState::Approved, false, ReviewState::ChangesRequested) => {
                Some(ApprovalState::Pending)
            }
            (ApprovalState::Approved, false, _) if dismissed => Some(ApprovalState::Pending),
            _ => None,
        };
        if let Some(to) = to {
            approvals::move_approval(&mut tx, approval.id, approval.state, to, None, now).await?;
            tracing::info!(pull = approval.number, reviewer = by, state = %to, "approval reviewed");
        } else if review.state == ReviewState::Approved && !qualifies {
            tracing::info!(pull = approval.number, reviewer = by, requester = %approval.requester,
                "an approving review that does not count (the requester's own, ade's, or on an older head)");
        }
        if review.state == ReviewState::ChangesRequested
            && !dismissed
            && !by.eq_ignore_ascii_case(&bot)
            && !matches!(
                approval.state,
                ApprovalState::Merged | ApprovalState::Closed
            )
        {
            requested::schedule(&mut tx, &approval, job.event, now).await?;
        }
        if approval.state.awaits_review() {
            let gate = GateJob {
                approval: approval.id,
            };
            queue::enqueue(&mut tx, &gate.new_job(GateJob::ATTEMPTS, now), now).await?;
        }
        ctx.finish(tx).await
    }
}

impl JobHandler for ApprovalReviewedHandler {
    fn run<'a>(&'a self, ctx: &'a JobContext) -> BoxFuture<'a, Result<(), JobError>> {
        Box::pin(self.handle(ctx))
    }
}
