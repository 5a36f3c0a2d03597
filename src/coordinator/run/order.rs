//! The order a runner gets for one run.

use super::load::StoredRun;
use super::reviews::{self, LineNote, TakenReview};
use crate::command::sanitize;
use crate::coordinator::credentials::GitCredentials;
use crate::coordinator::review::requested;
use crate::forge::{Forge, ForgeError, ForgeReview, ForgeReviewComment, GitAccess, ReviewState};
use crate::jobs::{JobContext, JobError};
use crate::lifecycle::RunState;
use crate::policy::EffectivePolicy;
use crate::runner::agent::FeedbackFrom;
use crate::runner::{DependencyResult, RunOrder, RunOutcome};
use crate::store::reviews as reviews_taken;
use crate::store::runs::{self as store, RunCause};
use crate::store::{Context, StoreError, approvals, tasks, unscanned};

/// Why a run's order could not be built. Its text becomes the reason the run fails, so each
/// case says what ade could not get.
#[derive(Debug, thiserror::Error)]
pub(super) enum OrderError {
    /// The run's task is not in its spec (the stored rows disagree).
    #[error("task {0} is not in the spec")]
    MissingTask(String),
    /// A dependant starts from the default branch, and the forge did not tell where it is.
    #[error("the default branch could not be read: {0}")]
    DefaultBranch(#[source] ForgeError),
    /// The forge gave no credential to fetch with.
    #[error("no git credential from the forge: {0}")]
    Credential(#[source] ForgeError),
    /// Reading or writing the store failed.
    #[error("store: {0}")]
    Store(#[from] StoreError),
}

/// Builds what the runner needs, with a credential to fetch from `credentials`; an error is the
/// reason the run fails.
pub(super) async fn build(
    ctx: &JobContext,
    forge: &dyn Forge,
    credentials: &GitCredentials,
    bot: &str,
    policy: &EffectivePolicy,
    l: &StoredRun,
) -> Result<RunOrder, OrderError> {
    let task = l
        .spec
        .tasks
        .iter()
        .find(|t| t.id.as_str() == l.task.task_id)
        .ok_or_else(|| OrderError::MissingTask(l.task.task_id.clone()))?
        .clone();
    // A retry continues on the approval's head; a dependant's first run starts from the
    // default branch, which holds its dependencies' merged work.
    let base_sha = if l.run.cause.continues() || task.depends_on.is_empty() {
        l.run.base_sha.clone()
    } else {
        let head = forge
            .default_branch(&l.repo)
            .await
            .map_err(OrderError::DefaultBranch)?;
        let mut tx = ctx.store().begin().await?;
        store::set_run_base(&mut tx, l.run.id, &head.sha).await?;
        tx.commit().await.context("commit the run's base")?;
        head.sha
    };
    let mut dependencies = Vec::new();
    let unscanned_allowed_by;
    {
        let mut conn = ctx.store().reader().await?;
        unscanned_allowed_by = unscanned::allowance(&mut conn, l.task.id)
            .await?
            .map(|a| a.allowed_by);
        let rows = tasks::tasks_of(&mut conn, l.task.spec).await?;
        for dep in &task.depends_on {
            if let (Some(row), Some(spec_task)) = (
                rows.iter().find(|r| r.task_id == dep.as_str()),
                l.spec.task(dep),
            ) {
                let summary = store::runs_of_task(&mut conn, row.id)
                    .await?
                    .into_iter()
                    .find(|run| run.state == RunState::Succeeded)
                    .and_then(|run| run.report)
                    .and_then(|report| serde_json::from_str::<RunOutcome>(&report).ok())
                    .map(|outcome| outcome.report().summary.join("\n"))
                    .unwrap_or_default();
                let approval = approvals::of_task(&mut conn, row.id).await?;
                dependencies.push(DependencyResult {
                    task_id: row.task_id.clone(),
                    title: spec_task.title.clone(),
                    pull_number: approval.as_ref().map(|a| a.number),
                    head_sha: approval.map(|a| a.head_sha),
                    summary,
                });
            }
        }
    }
    let expected_branch_head = expected_head(ctx, l).await?;
    let feedback = feedback(ctx, forge, (bot, policy), l).await?;
    // Last, so that nothing after it can fail and leave it unused; the push asks for its own.
    let credential = credentials
        .get(GitAccess::Fetch)
        .await
        .map_err(OrderError::Credential)?;
    Ok(RunOrder {
        run_id: l.run.id,
        attempt: l.run.attempt,
        forge: l.forge,
        repository: l.repo.full_name(),
        goal_number: l.goal.number,
        goal_title: l.goal.title.clone(),
        goal_body: l.goal.body.clone(),
        spec_reference: l.spec.reference(),
        goal_reference: l.spec.goal.to_string(),
        spec_version: l.spec.version,
        task,
        dependencies,
        agent: l.run.agent.clone(),
        execution: policy.execution.clone(),
        base_sha,
        branch: l.run.branch.clone(),
        expected_branch_head,
        requester: l.run.requester.clone(),
        feedback,
        feedback_from: match l.run.cause {
            RunCause::Review => FeedbackFrom::Reviews,
            RunCause::Start | RunCause::Retry => FeedbackFrom::Failure,
        },
        protected_paths: policy.protected_paths.clone(),
        dlp_rules: policy.dlp_rules.clone(),
        unscanned_allowed_by,
        verification: policy.verification.clone(),
        credential,
    })
}

/// The commit the run's branch must be at for the push to go through: a retry continues on the
/// head it started from; otherwise the head the task's approval shows, or failing that the newest
/// head a run of the task pushed to the branch (its approval may never have opened); `None` when
/// the branch must not exist yet.
async fn expected_head(ctx: &JobContext, l: &StoredRun) -> Result<Option<String>, OrderError> {
    if l.run.cause.continues() {
        // Continuing its base; or, taken over after it pushed, against what it pushed.
        return Ok(Some(
            l.run
                .head_sha
                .clone()
                .unwrap_or_else(|| l.run.base_sha.clone()),
        ));
    }
    if let Some(approval) = l.approval.as_ref().filter(|a| a.branch == l.run.branch) {
        return Ok(Some(approval.head_sha.clone()));
    }
    let mut conn = ctx.store().reader().await?;
    Ok(store::runs_of_task(&mut conn, l.task.id)
        .await?
        .into_iter()
        .find(|r| r.branch == l.run.branch && r.head_sha.is_some())
        .and_then(|r| r.head_sha))
}

/// What the agent is told about its previous attempt: the stored verification failure, and for a
/// retry the approval's reviews and line comments by people (sanitized like any forge text, and
/// capped). Reviews that cannot be read are left out, with a warning: the retry goes on. The
/// standing requests for changes by people with the `retry` role that a retry hands over are
/// taken by it, as an attempt from reviews would take them (`review/requested.rs`), so they start
/// no attempt of their own and the retry's end replies to them; if that cannot be recorded the
/// retry goes on, with a warning.
async fn feedback(
    ctx: &JobContext,
    forge: &dyn Forge,
    (bot, policy): (&str, &EffectivePolicy),
    l: &StoredRun,
) -> Result<Option<String>, OrderError> {
    let mut parts: Vec<String> = l.run.feedback.iter().cloned().collect();
    // A run from reviews was handed the reviews it took; a retry reads them all.
    if l.run.cause == RunCause::Retry
        && let Some(approval) = &l.approval
    {
        match review_feedback(ctx, forge, (bot, policy), l, approval).await {
            Ok((text, to_take)) => {
                parts.extend(text);
                if let Err(error) = take(ctx, approval.id, l.run.id, &to_take).await {
                    tracing::warn!(run = l.run.id, %error, "the reviews asking for changes a retry read could not be recorded as taken; the retry goes on, without a reply to them");
                }
            }
            Err(error) => {
                tracing::warn!(run = l.run.id, %error, "the approval's reviews could not be read; the retry goes on without them")
            }
        }
    }
    Ok((!parts.is_empty()).then(|| parts.join("\n\n")))
}

/// Records that run `run` took `reviews` (each with its author's login) of approval row
/// `approval`.
async fn take(
    ctx: &JobContext,
    approval: i64,
    run: i64,
    reviews: &[(String, TakenReview)],
) -> Result<(), StoreError> {
    if reviews.is_empty() {
        return Ok(());
    }
    let mut tx = ctx.store().begin().await?;
    for (login, review) in reviews {
        let said = serde_json::to_string(review).expect("a review serializes");
        reviews_taken::take(
            &mut tx,
            approval,
            review.id,
            Some(run),
            (login.as_str(), said.as_str()),
            ctx.now_ms(),
        )
        .await?;
    }
    tx.commit().await.context("commit the reviews a retry took")
}

/// The reviews and line comments people left on an approval, as text for the agent, and the
/// standing requests for changes by people with the `retry` role that no attempt took, as taken,
/// each with its author's login.
async fn review_feedback(
    ctx: &JobContext,
    forge: &dyn Forge,
    (bot, policy): (&str, &EffectivePolicy),
    l: &StoredRun,
    approval: &crate::store::approvals::ApprovalRow,
) -> Result<(Option<String>, Vec<(String, TakenReview)>), JobError> {
    let (done, since) = {
        let mut conn = ctx.store().reader().await?;
        let done = reviews_taken::taken_ids(&mut conn, approval.id).await?;
        // Reviews before the run this retry follows were that run's to take.
        let since = store::runs_of_task(&mut conn, l.task.id)
            .await?
            .into_iter()
            .find(|r| r.id != l.run.id && r.created_at <= l.run.created_at)
            .map_or(0, |r| r.created_at);
        (done, since)
    };
    let people = |login: &str| !login.eq_ignore_ascii_case(bot);
    let comments: Vec<ForgeReviewComment> = forge
        .list_review_comments(&l.repo, approval.number)
        .await?
        .into_iter()
        .filter(|c| people(&c.author))
        .collect();
    let reviews: Vec<ForgeReview> = forge
        .list_reviews(&l.repo, approval.number)
        .await?
        .into_iter()
        .filter(|r| people(&r.author))
        .collect();
    let standing = requested::standing_requests(reviews.clone(), &done, bot, since);
    let to_take: Vec<(String, TakenReview)> =
        requested::with_the_role(forge, &l.repo, policy, approval.number, standing)
            .await?
            .iter()
            .map(|r| (r.author.clone(), TakenReview::new(r, &comments)))
            .collect();
    let mut told: Vec<TakenReview> = reviews
        .iter()
        .map(|r| TakenReview::new(r, &comments))
        .collect();
    // Line comments of no review listed (GitHub lists a reply to a thread on its own).
    for comment in comments
        .iter()
        .filter(|c| !reviews.iter().any(|r| Some(r.id) == c.review_id))
    {
        told.push(TakenReview {
            id: 0,
            author: sanitize(&comment.author).text,
            state: ReviewState::Commented,
            body: String::new(),
            comments: vec![LineNote::new(comment)],
        });
    }
    Ok((reviews::feedback(&told), to_take))
}
