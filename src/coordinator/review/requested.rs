//! Iteration on review (docs/verification.md): a review that asks for changes on an approval, by
//! someone with the `retry` role, starts one new attempt with the review's text and line comments
//! as feedback. Reviews close together become one attempt: the first one schedules a
//! [`ReviewAttemptJob`] [`REVIEW_WINDOW`] later, and reviews arriving before it runs join it. When
//! it runs it takes every review asking for changes that no attempt took yet; a run of the task in
//! flight makes it wait for the run to end, so reviews arriving meanwhile go to the next attempt.
//! Reviews by people without the role, and ade's own, change nothing; once the task's attempts
//! (`execution.attempts`) are used up, ade says so once and starts none. The reply after the
//! attempt is `run/record.rs`'s.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{MAX_PUT_OFF, put_off};
use crate::command::{Verb, required_permission};
use crate::coordinator::render::{self, ReplyView};
use crate::coordinator::roles::{overrides, permission_of};
use crate::coordinator::run::again::{self, Again, NotAgain, attempts_in_series};
use crate::coordinator::run::reviews::{self, TakenReview};
use crate::coordinator::shared::Shared;
use crate::coordinator::writes::{ForgeWrite, enqueue_writes};
use crate::forge::{Forge, ForgeReview, RepoRef, ReviewState};
use crate::jobs::{BoxFuture, Job, JobContext, JobError, JobHandler};
use crate::lifecycle::{ApprovalState, TaskState};
use crate::markdown;
use crate::policy::EffectivePolicy;
use crate::store::approvals::{self, ApprovalRow};
use crate::store::jobs as queue;
use crate::store::reviews as taken;
use crate::store::runs::RunCause;
use crate::store::{Conn, StoreError};
use crate::telemetry;

/// How long after a review asking for changes its attempt starts, so that reviews submitted
/// close together (several reviewers, or one reviewer's follow-up) become one attempt.
pub const REVIEW_WINDOW: Duration = Duration::from_secs(5);

/// The job that starts an attempt on the reviews asking for changes on one approval.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReviewAttemptJob {
    /// The approval row.
    pub approval: i64,
    /// The stored event of the review that asked for it first.
    pub event: i64,
    /// How many times it waited for a run of the task to end.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub put_off: u32,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

impl ReviewAttemptJob {
    /// Attempts the job gets (forge reads may fail for a while).
    pub const ATTEMPTS: i64 = 8;

    /// The ordering key of the approval's review attempts: they run one at a time.
    fn key(approval: i64) -> String {
        format!("review_attempt:{approval}")
    }

    /// The same job, looking again after waiting for a run in flight.
    fn again(&self) -> ReviewAttemptJob {
        ReviewAttemptJob {
            put_off: self.put_off + 1,
            ..self.clone()
        }
    }
}

/// One per review that found no attempt waiting, and per time it waited.
impl Job for ReviewAttemptJob {
    const KIND: &'static str = "review_attempt";

    fn idempotency_key(&self, _run_at: i64) -> String {
        match self.put_off {
            0 => format!("review_attempt:{}:{}", self.approval, self.event),
            n => format!("review_attempt:{}:{}:{n}", self.approval, self.event),
        }
    }

    fn ordering_key(&self) -> Option<String> {
        Some(ReviewAttemptJob::key(self.approval))
    }
}

/// Called for a review that asks for changes on `approval` (stored event `event`), by someone
/// other than ade: schedules an attempt [`REVIEW_WINDOW`] from `now`, unless one waits already
/// (this review joins it). Whether the reviewer has the role is checked when it runs.
pub async fn schedule(
    tx: &mut Conn,
    approval: &ApprovalRow,
    event: i64,
    now: i64,
) -> Result<(), StoreError> {
    let key = ReviewAttemptJob::key(approval.id);
    if queue::waiting(tx, ReviewAttemptJob::KIND, &key).await? {
        return Ok(());
    }
    let job = ReviewAttemptJob {
        approval: approval.id,
        event,
        put_off: 0,
    };
    let at = now + REVIEW_WINDOW.as_millis() as i64;
    queue::enqueue(tx, &job.new_job(ReviewAttemptJob::ATTEMPTS, at), now).await?;
    Ok(())
}

/// The handler of [`ReviewAttemptJob`]s.
pub struct ReviewAttemptHandler {
    shared: Shared,
}

impl ReviewAttemptHandler {
    /// A handler with the coordinator's shared parts.
    pub fn new(shared: Shared) -> Self {
        ReviewAttemptHandler { shared }
    }

    async fn handle(&self, ctx: &JobContext) -> Result<(), JobError> {
        let job: ReviewAttemptJob = ctx.payload()?;
        let (approval, series) = {
            let mut conn = ctx.store().reader().await?;
            let Some(approval) = approvals::get(&mut conn, job.approval).await? else {
                return ctx.finish_empty().await;
            };
            let Some((task, runs)) = again::task_and_runs(&mut conn, &approval).await? else {
                return ctx.finish_empty().await;
            };
            if task.state == TaskState::Running {
                drop(conn);
                return self.wait_for_the_run(ctx, &job).await;
            }
            (approval, attempts_in_series(&runs))
        };
        if matches!(
            approval.state,
            ApprovalState::Merged | ApprovalState::Closed
        ) {
            return ctx.finish_empty().await;
        }
        let repo = RepoRef::parse(&approval.repository, None)
            .ok_or_else(|| JobError::Permanent("the approval's repository is unreadable".into()))?;
        let forge = self.shared.forge(approval.forge)?;
        let policy = match self.shared.policies.load(forge.as_ref(), &repo).await? {
            (_, Ok(policy)) => policy,
            (_, Err(_)) => {
                tracing::info!(
                    pull = approval.number,
                    "reviews start no attempt: the policy on the default branch is not valid"
                );
                return ctx.finish_empty().await;
            }
        };
        let bot = self.shared.bot_login(forge.as_ref()).await?;
        let chosen = self
            .reviews_to_take(ctx, forge.as_ref(), &repo, &policy, &approval, &bot)
            .await?;
        if chosen.is_empty() {
            return ctx.finish_empty().await;
        }
        let comments = forge.list_review_comments(&repo, approval.number).await?;
        let taken_reviews: Vec<TakenReview> = chosen
            .iter()
            .map(|r| TakenReview::new(r, &comments))
            .collect();
        let now = ctx.now_ms();
        let mut tx = ctx.store().begin().await?;
        if series >= policy.execution.attempts {
            let writes = used_up(&mut tx, &approval, &taken_reviews, &policy, now).await?;
            enqueue_writes(
                &mut tx,
                approval.forge,
                &writes,
                self.shared.write_attempts,
                now,
            )
            .await?;
            return ctx.finish(tx).await;
        }
        let pull = forge.pull_request(&repo, approval.number).await?;
        let feedback = reviews::feedback(&taken_reviews);
        let started = again::start(
            &mut tx,
            &repo,
            Again {
                approval: &approval,
                head: &pull.head_sha,
                agent: None,
                requester: &chosen[0].author,
                feedback: feedback.as_deref(),
                cause: RunCause::Review,
                now,
            },
        )
        .await?;
        let started = match started {
            Ok(started) => started,
            Err(NotAgain::Task(TaskState::Running) | NotAgain::Moved) => {
                drop(tx);
                return self.wait_for_the_run(ctx, &job).await;
            }
            Err(not) => {
                tracing::info!(pull = approval.number, why = ?not, "reviews asking for changes start no attempt");
                return ctx.finish_empty().await;
            }
        };
        for review in &taken_reviews {
            let said = serde_json::to_string(review).expect("a review serializes");
            taken::take(
                &mut tx,
                approval.id,
                review.id,
                Some(started.run),
                (&review.author, &said),
                now,
            )
            .await?;
        }
        tracing::info!(
            pull = approval.number,
            run = started.run,
            attempt = started.attempt,
            reviews = taken_reviews.len(),
            "reviews asking for changes start an attempt"
        );
        enqueue_writes(
            &mut tx,
            approval.forge,
            &started.writes,
            self.shared.write_attempts,
            now,
        )
        .await?;
        ctx.finish(tx).await
    }

    /// The reviews asking for changes on `approval` that no attempt took, by people other than
    /// ade with the `retry` role, oldest first.
    async fn reviews_to_take(
        &self,
        ctx: &JobContext,
        forge: &dyn Forge,
        repo: &RepoRef,
        policy: &EffectivePolicy,
        approval: &ApprovalRow,
        bot: &str,
    ) -> Result<Vec<ForgeReview>, JobError> {
        let done = {
            let mut conn = ctx.store().reader().await?;
            taken::taken_ids(&mut conn, approval.id).await?
        };
        let needed = required_permission(Verb::Retry, &overrides(policy));
        let mut chosen = Vec::new();
        let mut allowed: Vec<(String, bool)> = Vec::new();
        let listed = forge.list_reviews(repo, approval.number).await?;
        for review in untaken_requests(listed, &done, bot) {
            let may = match allowed.iter().find(|(who, _)| *who == review.author) {
                Some((_, may)) => *may,
                None => {
                    let may = permission_of(forge, repo, policy, &review.author).await? >= needed;
                    allowed.push((review.author.clone(), may));
                    may
                }
            };
            if may {
                chosen.push(review);
            } else {
                tracing::info!(pull = approval.number, reviewer = %telemetry::shown(&review.author),
                    "a review asking for changes by someone without the retry role changes nothing");
            }
        }
        Ok(chosen)
    }

    /// A run of the task is in flight: looks again once it may have ended, in the same order, so
    /// later reviews still join this attempt and none starts beside the run.
    async fn wait_for_the_run(
        &self,
        ctx: &JobContext,
        job: &ReviewAttemptJob,
    ) -> Result<(), JobError> {
        let mut tx = ctx.store().begin().await?;
        if job.put_off < MAX_PUT_OFF {
            let at = ctx.now_ms() + put_off(job.put_off).as_millis() as i64;
            let again = job.again().new_job(ctx.job.max_attempts, at);
            queue::enqueue(&mut tx, &again, ctx.now_ms()).await?;
        } else {
            tracing::warn!(
                approval = job.approval,
                "a run stayed in flight too long; reviews asking for changes wait for the next"
            );
        }
        ctx.finish(tx).await
    }
}

/// The reviews among `reviews` that ask for changes, by someone other than ade (`bot`), and that
/// no attempt took (`done`), in the forge's order.
fn untaken_requests(reviews: Vec<ForgeReview>, done: &[i64], bot: &str) -> Vec<ForgeReview> {
    reviews
        .into_iter()
        .filter(|r| {
            r.state == ReviewState::ChangesRequested
                && !done.contains(&r.id)
                && !r.author.eq_ignore_ascii_case(bot)
        })
        .collect()
}

/// The task's attempts are used up: the reviews are marked taken by no run, and the approval is
/// told once.
async fn used_up(
    tx: &mut Conn,
    approval: &ApprovalRow,
    reviews: &[TakenReview],
    policy: &EffectivePolicy,
    now: i64,
) -> Result<Vec<ForgeWrite>, JobError> {
    for review in reviews {
        taken::take(tx, approval.id, review.id, None, (&review.author, ""), now).await?;
    }
    let authors: Vec<String> = reviews
        .iter()
        .map(|r| markdown::inline(&r.author))
        .collect();
    let body = render::reply(&ReplyView {
        headline: format!(
            "the review{} asking for changes by {} start{} no attempt: this task has had as many attempts as `execution.attempts` allows ({}).",
            if reviews.len() == 1 { "" } else { "s" },
            authors.join(", "),
            if reviews.len() == 1 { "s" } else { "" },
            policy.execution.attempts
        ),
        details: vec![
            "`/ade retry` on this approval runs the agent once more with the reviews as feedback; `/ade run` on the goal starts the task afresh.".into(),
        ],
        ..ReplyView::default()
    })?;
    tracing::info!(
        pull = approval.number,
        "reviews asking for changes start no attempt: the attempts are used up"
    );
    Ok(vec![ForgeWrite::Comment {
        shows: None,
        repo: RepoRef::parse(&approval.repository, None)
            .ok_or_else(|| JobError::Permanent("the approval's repository is unreadable".into()))?,
        number: approval.number,
        marker: format!("reviews_used_up:{}:{}", approval.id, reviews[0].id),
        body,
    }])
}

impl JobHandler for ReviewAttemptHandler {
    fn run<'a>(&'a self, ctx: &'a JobContext) -> BoxFuture<'a, Result<(), JobError>> {
        Box::pin(self.handle(ctx))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_untaken_requests_for_changes_by_people_are_taken() {
        let review = |id, author: &str, state| ForgeReview {
            id,
            author: author.into(),
            state,
            commit_sha: None,
            body: String::new(),
            submitted_at: None,
        };
        let listed = vec![
            review(1, "max", ReviewState::ChangesRequested),
            review(2, "max", ReviewState::Approved),
            review(3, "ade-app[bot]", ReviewState::ChangesRequested),
            review(4, "mia", ReviewState::Commented),
            review(5, "mia", ReviewState::ChangesRequested),
            review(6, "rita", ReviewState::ChangesRequested),
            review(7, "max", ReviewState::Dismissed),
        ];
        let ids = |taken: Vec<ForgeReview>| taken.iter().map(|r| r.id).collect::<Vec<i64>>();
        assert_eq!(
            ids(untaken_requests(listed.clone(), &[], "ADE-APP[bot]")),
            [1, 5, 6],
            "ade's own review never counts, whatever the case of its login"
        );
        assert_eq!(
            ids(untaken_requests(listed, &[1, 6], "ade-app[bot]")),
            [5],
            "a review an attempt took is not taken again"
        );
    }

    #[test]
    fn a_review_attempt_job_keeps_its_stored_shape() {
        let first = ReviewAttemptJob {
            approval: 4,
            event: 31,
            put_off: 0,
        };
        let stored = first.new_job(ReviewAttemptJob::ATTEMPTS, 100);
        assert_eq!(stored.kind, "review_attempt");
        assert_eq!(stored.idempotency_key, "review_attempt:4:31");
        assert_eq!(stored.ordering_key.as_deref(), Some("review_attempt:4"));
        assert_eq!(stored.payload, r#"{"approval":4,"event":31}"#);
        let again = first
            .again()
            .again()
            .new_job(ReviewAttemptJob::ATTEMPTS, 200);
        assert_eq!(again.idempotency_key, "review_attempt:4:31:2");
        assert_eq!(again.ordering_key, stored.ordering_key);
        assert_eq!(again.payload, r#"{"approval":4,"event":31,"put_off":2}"#);
    }
}
