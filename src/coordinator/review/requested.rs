//! Iteration on review (docs/verification.md): a review that asks for changes on an approval, by
//! someone with the `retry` role, starts one new attempt with the review's text and line comments
//! as feedback. Reviews close together become one attempt: the first one schedules a
//! [`ReviewAttemptJob`] [`REVIEW_WINDOW`] later, and reviews arriving before it runs join it. When
//! it runs it takes every standing request for changes ([`standing_requests`]) that no attempt
//! took yet; a run of the task in flight makes it wait for the run to end, so reviews arriving
//! meanwhile go to the next attempt (and the run's end looks again, [`after_run`]). Reviews by
//! people without the role, and ade's own, change nothing; when no attempt can start (the
//! task's attempts, `execution.attempts`, are used up, its plan is no longer active, the task is
//! not in review) ade says why once and starts none. The reply after the attempt is
//! `run/record.rs`'s; a job that fails for good says so on the approval.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{MAX_PUT_OFF, put_off};
use crate::command::{Verb, required_permission};
use crate::coordinator::commands::retry::refusal;
use crate::coordinator::render::{self, ReplyView};
use crate::coordinator::roles::{overrides, permission_of};
use crate::coordinator::run::again::{self, Again, NotAgain, attempts_in_series};
use crate::coordinator::run::reviews::{self, TakenReview};
use crate::coordinator::shared::Shared;
use crate::coordinator::writes::{ForgeWrite, enqueue_writes};
use crate::forge::{Forge, ForgeReview, RepoRef, ReviewState};
use crate::jobs::{BoxFuture, Discarded, Job, JobContext, JobError, JobHandler};
use crate::lifecycle::{ApprovalState, TaskState};
use crate::markdown;
use crate::policy::EffectivePolicy;
use crate::store::approvals::{self, ApprovalRow};
use crate::store::jobs as queue;
use crate::store::reviews as taken;
use crate::store::runs::{RunCause, RunRow};
use crate::store::{Conn, StoreError};
use crate::telemetry;

/// How long after a review asking for changes its attempt starts, so that reviews submitted
/// close together (several reviewers, or one reviewer's follow-up) become one attempt.
pub const REVIEW_WINDOW: Duration = Duration::from_secs(5);

/// How long a look that stopped waiting for a run in flight waits for that run's end to bring
/// it forward ([`after_run`]) before it looks by itself.
const AFTER_RUN_FALLBACK: Duration = Duration::from_secs(24 * 60 * 60);

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
    /// The run whose end it waits for, once it stopped looking every minute.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after_run: Option<i64>,
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

    /// The idempotency key of the look that waits for the end of run `run` on `approval`.
    fn after_run_key(approval: i64, run: i64) -> String {
        format!("review_attempt:{approval}:after:{run}")
    }

    /// The same job, looking again after waiting for a run in flight.
    fn again(&self) -> ReviewAttemptJob {
        ReviewAttemptJob {
            put_off: self.put_off + 1,
            ..self.clone()
        }
    }

    /// The same job, waiting for the end of run `run` rather than looking every minute.
    fn after(&self, run: i64) -> ReviewAttemptJob {
        ReviewAttemptJob {
            put_off: 0,
            after_run: Some(run),
            ..self.clone()
        }
    }
}

/// One per review that found no attempt waiting, and per time it waited.
impl Job for ReviewAttemptJob {
    const KIND: &'static str = "review_attempt";

    fn idempotency_key(&self, _run_at: i64) -> String {
        let first = match self.after_run {
            Some(run) => ReviewAttemptJob::after_run_key(self.approval, run),
            None => format!("review_attempt:{}:{}", self.approval, self.event),
        };
        match self.put_off {
            0 => first,
            n => format!("{first}:{n}"),
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
        after_run: None,
    };
    let at = now + REVIEW_WINDOW.as_millis() as i64;
    queue::enqueue(tx, &job.new_job(ReviewAttemptJob::ATTEMPTS, at), now).await?;
    Ok(())
}

/// Called when run `run` of `approval`'s task ended: a look at reviews that stopped waiting for
/// this run (it was in flight for hours) looks now, and waits again if another run followed.
pub async fn after_run(
    tx: &mut Conn,
    approval: &ApprovalRow,
    run: &RunRow,
    now: i64,
) -> Result<(), StoreError> {
    let key = ReviewAttemptJob::after_run_key(approval.id, run.id);
    if queue::key_due_now(tx, &key, now).await? {
        tracing::info!(
            pull = approval.number,
            run = run.id,
            "the run ended; reviews asking for changes that waited for it are looked at"
        );
    }
    Ok(())
}

/// The reviews among `reviews` (in the forge's order, oldest first) that stand as requests for
/// changes no attempt took: asking for changes, by someone other than ade (`bot`), not taken
/// (`done`), submitted after `since` (Unix ms; the task's last run was created then, and took or
/// passed over what came before), and not taken back: their author's later verdict (a comment
/// only is none) neither approves nor was dismissed.
pub fn standing_requests(
    reviews: Vec<ForgeReview>,
    done: &[i64],
    bot: &str,
    since: i64,
) -> Vec<ForgeReview> {
    // Forges write whole seconds: a review in the second the run was created counts as after.
    let since = since - since.rem_euclid(1000);
    let taken_back = |i: usize, author: &str| {
        reviews[i + 1..].iter().any(|later| {
            later.author.eq_ignore_ascii_case(author)
                && matches!(later.state, ReviewState::Approved | ReviewState::Dismissed)
        })
    };
    let keep: Vec<bool> = reviews
        .iter()
        .enumerate()
        .map(|(i, r)| {
            r.state == ReviewState::ChangesRequested
                && !done.contains(&r.id)
                && !r.author.eq_ignore_ascii_case(bot)
                && r.submitted_at.is_some_and(|at| at >= since)
                && !taken_back(i, &r.author)
        })
        .collect();
    reviews
        .into_iter()
        .zip(keep)
        .filter_map(|(r, keep)| keep.then_some(r))
        .collect()
}

/// The standing requests for changes on approval `number` ([`standing_requests`]) by people with
/// the `retry` role, oldest first: what an attempt takes.
pub async fn requests_to_take(
    forge: &dyn Forge,
    repo: &RepoRef,
    policy: &EffectivePolicy,
    number: i64,
    (bot, done, since): (&str, &[i64], i64),
) -> Result<Vec<ForgeReview>, JobError> {
    let listed = forge.list_reviews(repo, number).await?;
    with_the_role(
        forge,
        repo,
        policy,
        number,
        standing_requests(listed, done, bot, since),
    )
    .await
}

/// The reviews among `reviews` whose author has the `retry` role; the others are logged.
pub async fn with_the_role(
    forge: &dyn Forge,
    repo: &RepoRef,
    policy: &EffectivePolicy,
    number: i64,
    reviews: Vec<ForgeReview>,
) -> Result<Vec<ForgeReview>, JobError> {
    let needed = required_permission(Verb::Retry, &overrides(policy));
    let mut chosen = Vec::new();
    let mut allowed: Vec<(String, bool)> = Vec::new();
    for review in reviews {
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
            tracing::info!(pull = number, reviewer = %telemetry::shown(&review.author),
                "a review asking for changes by someone without the retry role changes nothing");
        }
    }
    Ok(chosen)
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
        // Taken before the forge is read: a review submitted after it goes to the next attempt.
        let now = ctx.now_ms();
        let (approval, last_run_at) = {
            let mut conn = ctx.store().reader().await?;
            let Some(approval) = approvals::get(&mut conn, job.approval).await? else {
                return ctx.finish_empty().await;
            };
            let Some((task, runs)) = again::task_and_runs(&mut conn, &approval).await? else {
                return ctx.finish_empty().await;
            };
            if task.state == TaskState::Running {
                drop(conn);
                return self.wait_for_the_run(ctx, &job, runs[0].id).await;
            }
            (approval, runs[0].created_at)
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
        let done = {
            let mut conn = ctx.store().reader().await?;
            taken::taken_ids(&mut conn, approval.id).await?
        };
        let chosen = requests_to_take(
            forge.as_ref(),
            &repo,
            &policy,
            approval.number,
            (&bot, &done, last_run_at),
        )
        .await?;
        if chosen.is_empty() {
            return ctx.finish_empty().await;
        }
        let comments = forge.list_review_comments(&repo, approval.number).await?;
        let pull = forge.pull_request(&repo, approval.number).await?;
        let taken_reviews: Vec<(&str, TakenReview)> = chosen
            .iter()
            .map(|r| (r.author.as_str(), TakenReview::new(r, &comments)))
            .collect();
        let mut tx = ctx.store().begin().await?;
        let in_flight = match again::check(&mut tx, &approval).await? {
            Ok(ready) => {
                if attempts_in_series(&ready.runs) < policy.execution.attempts {
                    None
                } else {
                    let writes = used_up(&mut tx, &approval, &taken_reviews, &policy, now).await?;
                    return self.finish_with(ctx, tx, &approval, &writes, now).await;
                }
            }
            Err(NotAgain::Task(TaskState::Running) | NotAgain::Moved) => {
                again::task_and_runs(&mut tx, &approval).await?
            }
            Err(NotAgain::Gone) => return ctx.finish(tx).await,
            Err(not) => {
                let writes = not_started(&mut tx, &approval, &taken_reviews, not, now).await?;
                return self.finish_with(ctx, tx, &approval, &writes, now).await;
            }
        };
        if let Some((_, runs)) = in_flight {
            drop(tx);
            return self.wait_for_the_run(ctx, &job, runs[0].id).await;
        }
        let said: Vec<TakenReview> = taken_reviews.iter().map(|(_, r)| r.clone()).collect();
        let feedback = reviews::feedback(&said);
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
            Err(not) => {
                // `check` just passed in this transaction: nothing moved since.
                tracing::info!(pull = approval.number, why = ?not, "reviews asking for changes start no attempt");
                return ctx.finish_empty().await;
            }
        };
        for (login, review) in &taken_reviews {
            let said = serde_json::to_string(review).expect("a review serializes");
            taken::take(
                &mut tx,
                approval.id,
                review.id,
                Some(started.run),
                (*login, &said),
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
        self.finish_with(ctx, tx, &approval, &started.writes, now)
            .await
    }

    /// Completes the job with `writes` enqueued in `tx`.
    async fn finish_with(
        &self,
        ctx: &JobContext,
        mut tx: crate::store::Tx,
        approval: &ApprovalRow,
        writes: &[ForgeWrite],
        now: i64,
    ) -> Result<(), JobError> {
        enqueue_writes(
            &mut tx,
            approval.forge,
            writes,
            self.shared.write_attempts,
            now,
        )
        .await?;
        ctx.finish(tx).await
    }

    /// Run `in_flight` of the task is in flight: looks again once it may have ended, in the same
    /// order, so later reviews still join this attempt and none starts beside the run. After
    /// [`MAX_PUT_OFF`] looks it stops looking every minute and waits for the run's end to bring
    /// it forward ([`after_run`]).
    async fn wait_for_the_run(
        &self,
        ctx: &JobContext,
        job: &ReviewAttemptJob,
        in_flight: i64,
    ) -> Result<(), JobError> {
        let mut tx = ctx.store().begin().await?;
        let now = ctx.now_ms();
        let (again, at) = if job.put_off < MAX_PUT_OFF {
            (job.again(), now + put_off(job.put_off).as_millis() as i64)
        } else {
            tracing::info!(
                approval = job.approval,
                run = in_flight,
                "a run stayed in flight for hours; reviews asking for changes wait for its end"
            );
            (
                job.after(in_flight),
                now + AFTER_RUN_FALLBACK.as_millis() as i64,
            )
        };
        queue::enqueue(&mut tx, &again.new_job(ctx.job.max_attempts, at), now).await?;
        ctx.finish(tx).await
    }
}

/// What no attempt starting says: the reviews are marked taken by no run, so each is answered
/// once, and the approval is told `headline`.
async fn answered_without_attempt(
    tx: &mut Conn,
    approval: &ApprovalRow,
    reviews: &[(&str, TakenReview)],
    (headline, details): (String, Vec<String>),
    (marker, now): (&str, i64),
) -> Result<Vec<ForgeWrite>, JobError> {
    for (login, review) in reviews {
        taken::take(tx, approval.id, review.id, None, (*login, ""), now).await?;
    }
    let body = render::reply(&ReplyView {
        headline,
        details,
        ..ReplyView::default()
    })?;
    Ok(vec![ForgeWrite::Comment {
        shows: None,
        repo: RepoRef::parse(&approval.repository, None)
            .ok_or_else(|| JobError::Permanent("the approval's repository is unreadable".into()))?,
        number: approval.number,
        marker: format!("{marker}:{}:{}", approval.id, reviews[0].1.id),
        body,
    }])
}

/// `the reviews asking for changes by max, mia start` (the start of a sentence).
fn the_reviews(reviews: &[(&str, TakenReview)]) -> String {
    let authors: Vec<String> = reviews
        .iter()
        .map(|(_, r)| markdown::inline(&r.author))
        .collect();
    format!(
        "the review{} asking for changes by {} start{}",
        if reviews.len() == 1 { "" } else { "s" },
        authors.join(", "),
        if reviews.len() == 1 { "s" } else { "" },
    )
}

/// The task's attempts are used up: the approval is told once.
async fn used_up(
    tx: &mut Conn,
    approval: &ApprovalRow,
    reviews: &[(&str, TakenReview)],
    policy: &EffectivePolicy,
    now: i64,
) -> Result<Vec<ForgeWrite>, JobError> {
    tracing::info!(
        pull = approval.number,
        "reviews asking for changes start no attempt: the attempts are used up"
    );
    let headline = format!(
        "{} no attempt: this task has had as many attempts as `execution.attempts` allows ({}).",
        the_reviews(reviews),
        policy.execution.attempts
    );
    let details = vec![
        "`/ade retry` on this approval runs the agent once more with the reviews as feedback; `/ade run` on the goal starts the task afresh.".into(),
    ];
    answered_without_attempt(
        tx,
        approval,
        reviews,
        (headline, details),
        ("reviews_used_up", now),
    )
    .await
}

/// No attempt may start (`not`: the plan is no longer active, the task is not in review): the
/// approval is told why, once.
async fn not_started(
    tx: &mut Conn,
    approval: &ApprovalRow,
    reviews: &[(&str, TakenReview)],
    not: NotAgain,
    now: i64,
) -> Result<Vec<ForgeWrite>, JobError> {
    tracing::info!(pull = approval.number, why = ?not, "reviews asking for changes start no attempt");
    let why = refusal(tx, approval, not).await?;
    let headline = format!("{} no attempt: {why}", the_reviews(reviews));
    answered_without_attempt(
        tx,
        approval,
        reviews,
        (headline, Vec::new()),
        ("reviews_not_started", now),
    )
    .await
}

impl JobHandler for ReviewAttemptHandler {
    fn run<'a>(&'a self, ctx: &'a JobContext) -> BoxFuture<'a, Result<(), JobError>> {
        Box::pin(self.handle(ctx))
    }

    /// A look at reviews that failed for good is not met with silence: the approval is told that
    /// the reviews asking for changes started no attempt, why, and the delivery (or job) id for
    /// the operator.
    fn discarded<'a>(&'a self, failed: Discarded<'a>) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            let why = telemetry::shown(failed.error);
            tracing::error!(key = %failed.job.idempotency_key, error = %why, "a look at reviews asking for changes failed for good");
            let Some(job) = failed.payload::<ReviewAttemptJob>() else {
                return Ok(());
            };
            let Some(approval) = approvals::get(failed.conn, job.approval).await? else {
                return Ok(());
            };
            let Some(repo) = RepoRef::parse(&approval.repository, None) else {
                return Ok(());
            };
            if !approval.state.awaits_review() && approval.state != ApprovalState::Rejected {
                return Ok(());
            }
            let delivery = match job.after_run {
                None => crate::store::events::get_with_delivery(failed.conn, job.event)
                    .await?
                    .map(|(_, delivery)| {
                        format!("the delivery id {}", markdown::code_span(&delivery))
                    }),
                Some(_) => None,
            }
            .unwrap_or_else(|| format!("the job id {}", failed.job.id));
            let body = render::reply(&ReplyView {
                headline: format!(
                    "ade could not look at the reviews asking for changes on this approval: {}. No attempt started from them; `/ade retry` runs the agent with the reviews as feedback. If this goes on, give ade's operator {delivery}.",
                    markdown::code_span(&why),
                ),
                ..ReplyView::default()
            })
            .unwrap_or_default();
            let write = ForgeWrite::Comment {
                shows: None,
                repo,
                number: approval.number,
                marker: format!("reviews_failed:{}", failed.job.id),
                body,
            };
            enqueue_writes(
                failed.conn,
                approval.forge,
                &[write],
                self.shared.write_attempts,
                failed.now,
            )
            .await
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn review(id: i64, author: &str, state: ReviewState, at: i64) -> ForgeReview {
        ForgeReview {
            id,
            author: author.into(),
            state,
            commit_sha: None,
            body: String::new(),
            submitted_at: Some(at),
        }
    }

    fn ids(taken: Vec<ForgeReview>) -> Vec<i64> {
        taken.iter().map(|r| r.id).collect()
    }

    #[test]
    fn only_untaken_requests_for_changes_by_people_are_taken() {
        let listed = vec![
            review(1, "max", ReviewState::ChangesRequested, 10_000),
            review(3, "ade-app[bot]", ReviewState::ChangesRequested, 10_000),
            review(4, "mia", ReviewState::Commented, 10_000),
            review(5, "mia", ReviewState::ChangesRequested, 11_000),
            review(6, "rita", ReviewState::ChangesRequested, 12_000),
        ];
        assert_eq!(
            ids(standing_requests(listed.clone(), &[], "ADE-APP[bot]", 0)),
            [1, 5, 6],
            "ade's own review never counts, whatever the case of its login"
        );
        assert_eq!(
            ids(standing_requests(listed, &[1, 6], "ade-app[bot]", 0)),
            [5],
            "a review an attempt took is not taken again"
        );
    }

    #[test]
    fn a_request_taken_back_or_older_than_the_last_run_is_not_taken() {
        let run_created = 20_400;
        let listed = vec![
            review(1, "old", ReviewState::ChangesRequested, 5_000),
            review(2, "max", ReviewState::ChangesRequested, 21_000),
            review(3, "max", ReviewState::Approved, 22_000),
            review(4, "mia", ReviewState::ChangesRequested, 20_000),
            review(5, "mia", ReviewState::Commented, 23_000),
            review(6, "rita", ReviewState::ChangesRequested, 21_000),
            review(7, "rita", ReviewState::Dismissed, 24_000),
            review(8, "wes", ReviewState::ChangesRequested, 25_000),
            review(9, "wes", ReviewState::ChangesRequested, 26_000),
            ForgeReview {
                submitted_at: None,
                ..review(10, "ann", ReviewState::ChangesRequested, 0)
            },
        ];
        assert_eq!(
            ids(standing_requests(listed, &[], "ade[bot]", run_created)),
            [4, 8, 9],
            "not before the last run (a review in its second counts as after), not one its \
             author approved after or that was dismissed, not without a time; a comment after \
             takes nothing back, and a reviewer's follow-up joins"
        );
    }

    #[test]
    fn a_review_attempt_job_keeps_its_stored_shape() {
        let first = ReviewAttemptJob {
            approval: 4,
            event: 31,
            put_off: 0,
            after_run: None,
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
        let after = first.again().after(77);
        let waiting = after.new_job(ReviewAttemptJob::ATTEMPTS, 300);
        assert_eq!(
            waiting.idempotency_key,
            ReviewAttemptJob::after_run_key(4, 77),
            "the run's end finds the look that waits for it by its key"
        );
        assert_eq!(waiting.ordering_key, stored.ordering_key);
        assert_eq!(
            waiting.payload,
            r#"{"approval":4,"event":31,"after_run":77}"#
        );
        assert_eq!(
            after.again().new_job(1, 0).idempotency_key,
            "review_attempt:4:after:77:1"
        );
    }
}
