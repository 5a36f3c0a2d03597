//! The merge gate. ade never submits a review and merges an approval itself only when the
//! repository's policy turns `auto_merge` on and all of these hold: an approving review, given on
//! the current head, by someone with write access who is not ade, did not ask for any of the
//! task's runs (a review an attempt took counts as asking) or approve its spec, and did not push
//! that head; a passing `ade/verify` on that head; and the forge accepting the merge under its
//! branch protection. The merge names the head it checked, so a commit pushed after the review is
//! never merged unseen. A refusal by the forge is said once on the approval.

use serde::{Deserialize, Serialize};

use crate::coordinator::render::{self, ReplyView};
use crate::coordinator::shared::Shared;
use crate::coordinator::writes::ForgeWrite;
use crate::forge::ReviewState;
use crate::forge::{ForgeError, ForgeReview, MergeRefusal, Permission, RepoRef};
use crate::jobs::{BoxFuture, Job, JobContext, JobError, JobHandler};
use crate::lifecycle::SpecState;
use crate::markdown;
use crate::store::approvals::{self, ApprovalRow};
use crate::store::audit::{self, About, ActorKind, Entry, Outcome};
use crate::store::verifications::{self, Cause};
use crate::store::{goals, reviews, runs, tasks};

/// The job that looks at whether ade may merge an approval.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct GateJob {
    /// The approval.
    pub approval: i64,
}

impl GateJob {
    /// Attempts a look at the gate gets.
    pub const ATTEMPTS: i64 = 5;
}

/// One look per event that could open the gate (keyed by when it was asked for); the looks at
/// one approval run one at a time.
impl Job for GateJob {
    const KIND: &'static str = "merge_gate";

    fn idempotency_key(&self, run_at: i64) -> String {
        format!("gate:{}:{run_at}", self.approval)
    }

    fn ordering_key(&self) -> Option<String> {
        Some(format!("gate:{}", self.approval))
    }
}

/// Why the gate stays shut, for the log.
/// The audit entry of ade's merge of `approval` at `head`.
fn merge_entry(approval: &ApprovalRow, head: &str, now: i64, outcome: Outcome) -> Entry {
    Entry::new(
        now,
        ActorKind::Ade,
        "ade",
        "approval.merge",
        format!("pull request #{}", approval.number),
        outcome,
    )
    .with("head", head)
}

fn shut(approval: &ApprovalRow, why: &str) {
    tracing::info!(
        pull = approval.number,
        why,
        "ade does not merge this approval"
    );
}

/// The approving reviews, on `head`, that may let ade merge, in order: the latest verdict of each
/// reviewer counts, and nobody in `excluded` (ade, the people who asked for the work or pushed the
/// head) counts. The caller still checks each reviewer's permission.
pub fn candidate_reviews<'a>(
    reviews: &'a [ForgeReview],
    head: &str,
    excluded: &[String],
) -> Vec<&'a ForgeReview> {
    let mut latest: Vec<&ForgeReview> = Vec::new();
    for review in reviews.iter().filter(|r| r.state != ReviewState::Commented) {
        latest.retain(|r| !r.author.eq_ignore_ascii_case(&review.author));
        latest.push(review);
    }
    latest
        .into_iter()
        .filter(|r| {
            r.state == ReviewState::Approved
                && r.commit_sha.as_deref() == Some(head)
                && !excluded.iter().any(|x| x.eq_ignore_ascii_case(&r.author))
        })
        .collect()
}

/// Whose approving reviews never let ade merge an approval: ade, everyone who asked for one of
/// the task's runs, every reviewer whose review asking for changes an attempt took (several
/// reviews make one run with one requester), whoever approved its spec, and whoever pushed to the
/// approval's branch (their review would approve their own work).
pub async fn excluded_reviewers(
    conn: &mut crate::store::Conn,
    approval: &ApprovalRow,
    bot: &str,
) -> Result<Vec<String>, JobError> {
    let mut excluded = vec![bot.to_string(), approval.requester.clone()];
    for run in runs::runs_of_task(conn, approval.task).await? {
        excluded.push(run.requester);
    }
    excluded.extend(reviews::directing_reviewers(conn, approval.id).await?);
    if let Some(task) = tasks::task(conn, approval.task).await? {
        for (_, to, actor, _) in goals::transitions(conn, task.spec).await? {
            if to == SpecState::Active.as_str() {
                excluded.push(actor);
            }
        }
    }
    // Anyone who pushed to the approval: the head may hold their commits under later ones.
    for v in verifications::of_approval(conn, approval.id).await? {
        if v.cause == Cause::Push {
            excluded.push(v.requester);
        }
    }
    excluded.sort();
    excluded.dedup();
    Ok(excluded)
}

/// The handler of [`GateJob`]s.
pub struct GateHandler {
    shared: Shared,
}

impl GateHandler {
    /// A handler with the coordinator's shared parts.
    pub fn new(shared: Shared) -> Self {
        GateHandler { shared }
    }

    async fn handle(&self, ctx: &JobContext) -> Result<(), JobError> {
        let job: GateJob = ctx.payload()?;
        let approval = {
            let mut conn = ctx.store().reader().await?;
            approvals::get(&mut conn, job.approval).await?
        };
        let Some(approval) = approval.filter(|a| a.state.awaits_review()) else {
            return ctx.finish_empty().await;
        };
        let repo = RepoRef::parse(&approval.repository, None)
            .ok_or_else(|| JobError::Permanent("the approval's repository is unreadable".into()))?;
        let forge = self.shared.forge(approval.forge)?;
        let policy = match self.shared.policies.load(forge.as_ref(), &repo).await {
            Ok((_, Ok(policy))) => policy,
            Ok((_, Err(_))) => {
                shut(&approval, "the policy on the default branch is not valid");
                return ctx.finish_empty().await;
            }
            Err(error) => return Err(error.into()),
        };
        if !policy.pull_requests.auto_merge {
            return ctx.finish_empty().await;
        }
        let pull = forge.pull_request(&repo, approval.number).await?;
        if !pull.open || pull.draft {
            shut(&approval, "closed or a draft");
            return ctx.finish_empty().await;
        }
        if approval.verified_sha.as_deref() != Some(pull.head_sha.as_str()) {
            shut(&approval, "ade/verify has not passed on its current head");
            return ctx.finish_empty().await;
        }
        let bot = self.shared.bot_login(forge.as_ref()).await?;
        let excluded = {
            let mut conn = ctx.store().reader().await?;
            excluded_reviewers(&mut conn, &approval, &bot).await?
        };
        let reviews = forge.list_reviews(&repo, approval.number).await?;
        let mut reviewer = None;
        for review in candidate_reviews(&reviews, &pull.head_sha, &excluded) {
            let permission = forge.permission(&repo, &review.author).await?;
            if permission >= Permission::Write {
                reviewer = Some(review.author.clone());
                break;
            }
        }
        let Some(reviewer) = reviewer else {
            shut(
                &approval,
                "no approving review on its head by someone with write access other than those who asked for the work",
            );
            return ctx.finish_empty().await;
        };
        match forge
            .merge(&repo, &pull, policy.pull_requests.merge_method)
            .await
        {
            Ok(()) => {
                tracing::info!(pull = approval.number, head = %pull.head_sha, %reviewer, "ade merged the approval");
                let entry = merge_entry(&approval, &pull.head_sha, ctx.now_ms(), Outcome::Ok)
                    .with("reviewer", reviewer.as_str())
                    .with(
                        "method",
                        format!("{:?}", policy.pull_requests.merge_method).to_lowercase(),
                    );
                let mut tx = ctx.store().begin().await?;
                audit::record_about(&mut tx, About::Approval(approval.id), &entry).await?;
                ctx.finish(tx).await
            }
            Err(ForgeError::MergeRefused {
                refusal: MergeRefusal::BaseMoved,
                message,
            }) => {
                tracing::info!(pull = approval.number, %message, "another merge moved the base; ade tries again");
                Err(JobError::Retry(message))
            }
            Err(ForgeError::MergeRefused { refusal, message }) => {
                tracing::info!(pull = approval.number, %refusal, %message, "the forge refused ade's merge");
                let body = render::reply(&ReplyView {
                    headline: format!(
                        "ade did not merge this approval: the forge refused ({refusal}): {}. It waits for a person.",
                        markdown::inline(&message)
                    ),
                    ..ReplyView::default()
                })?;
                let now = ctx.now_ms();
                let mut tx = ctx.store().begin().await?;
                let entry = merge_entry(&approval, &pull.head_sha, now, Outcome::Refused)
                    .with("why", format!("the forge refused ({refusal}): {message}"));
                audit::record_about(&mut tx, About::Approval(approval.id), &entry).await?;
                let writes = [ForgeWrite::Comment {
                    shows: None,
                    repo,
                    number: approval.number,
                    marker: format!("gate:{}:{}", approval.id, pull.head_sha),
                    body,
                }];
                self.shared
                    .enqueue_writes(&mut tx, approval.forge, &writes, now)
                    .await?;
                ctx.finish(tx).await
            }
            Err(error) => Err(error.into()),
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
            submitted_at: None,
        }
    }

    fn authors(reviews: Vec<&ForgeReview>) -> Vec<&str> {
        reviews.into_iter().map(|r| r.author.as_str()).collect()
    }

    #[test]
    fn only_an_approval_by_someone_else_on_the_current_head_counts() {
        let head = "h2";
        let excluded = ["mia".to_string(), "ade[bot]".to_string(), "wes".to_string()];
        let none: Vec<ForgeReview> = Vec::new();
        assert!(candidate_reviews(&none, head, &excluded).is_empty());
        let own = [
            review("MIA", ReviewState::Approved, head),
            review("ade[bot]", ReviewState::Approved, head),
            review("Wes", ReviewState::Approved, head),
        ];
        assert!(
            candidate_reviews(&own, head, &excluded).is_empty(),
            "the requester's, ade's and the pusher's own approvals do not count"
        );
        let old = [review("rob", ReviewState::Approved, "h1")];
        assert!(
            candidate_reviews(&old, head, &excluded).is_empty(),
            "an approval of an older head does not count"
        );
        let changed_mind = [
            review("rob", ReviewState::Approved, head),
            review("rob", ReviewState::ChangesRequested, head),
        ];
        assert!(candidate_reviews(&changed_mind, head, &excluded).is_empty());
        let comment_after = [
            review("rob", ReviewState::Approved, head),
            review("rob", ReviewState::Commented, head),
            review("ann", ReviewState::Approved, head),
        ];
        assert_eq!(
            authors(candidate_reviews(&comment_after, head, &excluded)),
            ["rob", "ann"],
            "a later comment does not take an approval back"
        );
    }
}
