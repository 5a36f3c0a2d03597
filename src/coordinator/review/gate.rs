//! The merge gate. ade never submits a review and merges an approval itself only when the
//! repository's policy turns `auto_merge` on and all of these hold: an approving review from
//! someone other than the person who asked for the run (and not ade), given on the current head;
//! a passing `ade/verify` on that head; and the forge accepting the merge under its branch
//! protection. The merge names the head it checked, so a commit pushed after the review is never
//! merged unseen. A refusal by the forge is said once on the approval.

use serde::{Deserialize, Serialize};

use crate::coordinator::render::{self, ReplyView};
use crate::coordinator::shared::Shared;
use crate::events::ReviewState;
use crate::forge::writes::{ForgeWrite, classify, enqueue_writes};
use crate::forge::{ForgeError, ForgeReview, RepoRef};
use crate::jobs::{BoxFuture, JobContext, JobError, JobHandler};
use crate::markdown;
use crate::store::approvals::{self, ApprovalRow};
use crate::store::jobs::NewJob;

/// The job kind that looks at whether ade may merge an approval.
pub const GATE_JOB: &str = "merge_gate";

/// The payload of [`GATE_JOB`] jobs.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct GateJob {
    /// The approval.
    pub approval: i64,
}

/// A look at approval `approval`, asked for at `now` (one per event that could open the gate);
/// the looks at one approval run one at a time.
pub fn gate_job(approval: i64, now: i64) -> NewJob {
    NewJob {
        kind: GATE_JOB.into(),
        idempotency_key: format!("gate:{approval}:{now}"),
        ordering_key: Some(format!("gate:{approval}")),
        payload: serde_json::to_string(&GateJob { approval }).expect("serializes"),
        max_attempts: 5,
        run_at: now,
    }
}

/// Why the gate stays shut, for the log.
fn shut(approval: &ApprovalRow, why: &str) {
    tracing::info!(
        pull = approval.number,
        why,
        "ade does not merge this approval"
    );
}

/// The reviewer whose approving review, on `head`, lets ade merge: the latest verdict of each
/// reviewer counts, and neither the requester's nor ade's own does.
pub fn qualifying_review<'a>(
    reviews: &'a [ForgeReview],
    head: &str,
    requester: &str,
    bot: &str,
) -> Option<&'a ForgeReview> {
    let mut latest: Vec<&ForgeReview> = Vec::new();
    for review in reviews.iter().filter(|r| r.state != ReviewState::Commented) {
        latest.retain(|r| !r.author.eq_ignore_ascii_case(&review.author));
        latest.push(review);
    }
    latest.into_iter().find(|r| {
        r.state == ReviewState::Approved
            && r.commit_sha.as_deref() == Some(head)
            && !r.author.eq_ignore_ascii_case(requester)
            && !r.author.eq_ignore_ascii_case(bot)
    })
}

/// The handler of [`GATE_JOB`] jobs.
pub struct GateHandler {
    shared: Shared,
}

impl GateHandler {
    /// A handler with the coordinator's shared parts.
    pub fn new(shared: Shared) -> Self {
        GateHandler { shared }
    }

    async fn handle(&self, ctx: &JobContext) -> Result<(), JobError> {
        let job: GateJob = serde_json::from_str(&ctx.job.payload)
            .map_err(|e| JobError::Permanent(format!("malformed gate job: {e}")))?;
        let approval = {
            let mut conn = ctx.store().reader().await?;
            approvals::get(&mut conn, job.approval).await?
        };
        let Some(approval) = approval.filter(|a| a.state.awaits_review()) else {
            return ctx.finish(ctx.store().begin().await?).await;
        };
        let repo = RepoRef::parse(&approval.repository, None)
            .ok_or_else(|| JobError::Permanent("the approval's repository is unreadable".into()))?;
        let forge = self.shared.forge(approval.forge)?;
        let Ok(policy) = self.shared.policies.in_force(forge.as_ref(), &repo).await else {
            shut(&approval, "no policy in force");
            return ctx.finish(ctx.store().begin().await?).await;
        };
        if !policy.pull_requests.auto_merge {
            return ctx.finish(ctx.store().begin().await?).await;
        }
        let pull = forge
            .pull_request(&repo, approval.number)
            .await
            .map_err(classify)?;
        if !pull.open || pull.draft {
            shut(&approval, "closed or a draft");
            return ctx.finish(ctx.store().begin().await?).await;
        }
        if approval.verified_sha.as_deref() != Some(pull.head_sha.as_str()) {
            shut(&approval, "ade/verify has not passed on its current head");
            return ctx.finish(ctx.store().begin().await?).await;
        }
        let bot = self.shared.bot_login(forge.as_ref()).await?;
        let reviews = forge
            .list_reviews(&repo, approval.number)
            .await
            .map_err(classify)?;
        let Some(review) = qualifying_review(&reviews, &pull.head_sha, &approval.requester, &bot)
        else {
            shut(
                &approval,
                "no approving review by someone other than the requester on its head",
            );
            return ctx.finish(ctx.store().begin().await?).await;
        };
        let reviewer = review.author.clone();
        match forge
            .merge(
                &repo,
                approval.number,
                &pull.head_sha,
                policy.pull_requests.merge_method,
            )
            .await
        {
            Ok(()) => {
                tracing::info!(pull = approval.number, head = %pull.head_sha, %reviewer, "ade merged the approval");
                ctx.finish(ctx.store().begin().await?).await
            }
            Err(ForgeError::MergeRefused { refusal, message }) => {
                tracing::info!(pull = approval.number, %refusal, %message, "the forge refused ade's merge");
                let body = render::reply(&ReplyView {
                    headline: format!(
                        "ade did not merge this approval: the forge refused ({refusal}): {}. It waits for a person.",
                        markdown::inline(&message)
                    ),
                    ..ReplyView::default()
                })
                .map_err(JobError::Permanent)?;
                let now = ctx.now_ms();
                let mut tx = ctx.store().begin().await?;
                let writes = [ForgeWrite::Comment {
                    repo,
                    number: approval.number,
                    marker: format!("gate:{}:{}", approval.id, pull.head_sha),
                    body,
                }];
                enqueue_writes(
                    &mut tx,
                    approval.forge,
                    &writes,
                    self.shared.write_attempts,
                    now,
                )
                .await?;
                ctx.finish(tx).await
            }
            Err(error) => Err(classify(error)),
        }
    }
}

impl JobHandler for GateHandler {
    fn run<'a>(&'a self, ctx: &'a JobContext) -> BoxFuture<'a, Result<(), JobError>> {
        Box::pin(self.handle(ctx))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn review(author: &str, state: ReviewState, sha: &str) -> ForgeReview {
        ForgeReview {
            id: 1,
            author: author.into(),
            state,
            commit_sha: Some(sha.into()),
            body: String::new(),
        }
    }

    #[test]
    fn only_an_approval_by_someone_else_on_the_current_head_counts() {
        let head = "h2";
        let none: Vec<ForgeReview> = Vec::new();
        assert!(qualifying_review(&none, head, "mia", "ade[bot]").is_none());
        let own = [review("MIA", ReviewState::Approved, head)];
        assert!(
            qualifying_review(&own, head, "mia", "ade[bot]").is_none(),
            "the requester's own approval does not count"
        );
        let bot = [review("ade[bot]", ReviewState::Approved, head)];
        assert!(qualifying_review(&bot, head, "mia", "ade[bot]").is_none());
        let old = [review("rob", ReviewState::Approved, "h1")];
        assert!(
            qualifying_review(&old, head, "mia", "ade[bot]").is_none(),
            "an approval of an older head does not count"
        );
        let changed_mind = [
            review("rob", ReviewState::Approved, head),
            review("rob", ReviewState::ChangesRequested, head),
        ];
        assert!(qualifying_review(&changed_mind, head, "mia", "ade[bot]").is_none());
        let comment_after = [
            review("rob", ReviewState::Approved, head),
            review("rob", ReviewState::Commented, head),
        ];
        assert_eq!(
            qualifying_review(&comment_after, head, "mia", "ade[bot]").map(|r| r.author.as_str()),
            Some("rob"),
            "a later comment does not take an approval back"
        );
    }
}
