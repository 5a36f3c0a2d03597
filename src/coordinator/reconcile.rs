//! Reconciliation: forges drop deliveries (GitHub never retries, Gitea gives up after 5 s), so a
//! periodic sweep reads the forge for what no delivery brought and feeds it into the path a
//! delivery takes (docs/operations.md).
//!
//! One [`ReconcileJob`] per period, whichever replica enqueues it first, one at a time across
//! replicas. It reads the comments on the issues of open goals, the recent comments of every
//! repository ade heard from within `max_age` (a first `/ade plan` on a new issue, a command on
//! an approval), and the pull requests of open approvals with their reviews: approving reviews of
//! a verified head still awaiting review, and requests for changes no attempt took that an
//! attempt would take (`review/requested.rs`); each find becomes a stored delivery and event
//! (keyed by what was found, so a second sweep finds it once) handed to the [`EventSink`], the
//! intake, in one transaction with an audit record `reconcile.found`. The command job's claim on
//! the comment keeps a comment that also arrives by delivery from acting twice.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use super::intake::mentions_ade;
use super::review::requested::standing_requests;
use super::shared::Shared;
use crate::clock::Clock;
use crate::config::ReconcileConfig;
use crate::dispatch::EventSink;
use crate::events::{
    Actor, BranchRef, Comment, Event, EventKind, IssueRef, PullRequest, Repository, Review,
};
use crate::forge::{
    ForgeComment, ForgeIssue, ForgeKind, ForgePullRequest, ForgeReview, RepoComment, RepoRef,
    ReviewState,
};
use crate::jobs::{BoxFuture, Job, JobContext, JobError, JobHandler};
use crate::lifecycle::ApprovalState;
use crate::metrics::Metrics;
use crate::store::audit::{self, ActorKind, Entry, Outcome, Scope};
use crate::store::deliveries::{self, DeliveryState, NewDelivery};
use crate::store::events::HeardFrom;
use crate::store::goals::OpenGoal;
use crate::store::{self, Conn, Store, StoreError};
use crate::telemetry::shown;

/// The sweep of one period.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReconcileJob {
    /// The period: the time it was enqueued divided by the sweep interval.
    pub period: i64,
}

impl ReconcileJob {
    /// Attempts a sweep gets; the next period's sweep reads the same forge again.
    pub const ATTEMPTS: i64 = 3;
}

/// One sweep per period, whichever replica enqueues it; sweeps run one at a time.
impl Job for ReconcileJob {
    const KIND: &'static str = "reconcile";

    fn idempotency_key(&self, _run_at: i64) -> String {
        format!("reconcile:{}", self.period)
    }

    fn ordering_key(&self) -> Option<String> {
        Some("reconcile".to_owned())
    }
}

/// Enqueues a [`ReconcileJob`] every `every`, from now until `shutdown`.
pub async fn run(
    store: Store,
    clock: Arc<dyn Clock>,
    every: Duration,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = shutdown.changed() => {
                if *shutdown.borrow() { return; }
            }
        }
        if let Err(error) = enqueue(&store, clock.now_ms(), every).await {
            tracing::warn!(%error, "the reconciliation sweep could not be enqueued; trying again next period");
        }
    }
}

async fn enqueue(store: &Store, now: i64, every: Duration) -> Result<(), StoreError> {
    let every = (every.as_millis() as i64).max(1);
    let job = ReconcileJob {
        period: now / every,
    };
    let mut conn = store.writer().await?;
    store::jobs::enqueue(&mut conn, &job.new_job(ReconcileJob::ATTEMPTS, now), now).await?;
    Ok(())
}

/// The handler of [`ReconcileJob`]s.
pub struct ReconcileHandler {
    shared: Shared,
    sink: Arc<dyn EventSink>,
    metrics: Arc<Metrics>,
    config: ReconcileConfig,
}

impl ReconcileHandler {
    /// A handler that hands what it finds to `sink`, the intake deliveries go through.
    pub fn new(
        shared: Shared,
        sink: Arc<dyn EventSink>,
        metrics: Arc<Metrics>,
        config: ReconcileConfig,
    ) -> ReconcileHandler {
        ReconcileHandler {
            shared,
            sink,
            metrics,
            config,
        }
    }
}

/// Something a sweep found: the event a lost delivery would have made, and what it was.
struct Found {
    key: String,
    event: Event,
    what: &'static str,
}

impl JobHandler for ReconcileHandler {
    fn run<'a>(&'a self, ctx: &'a JobContext) -> BoxFuture<'a, Result<(), JobError>> {
        Box::pin(async move {
            let _job: ReconcileJob = ctx.payload()?;
            let now = ctx.now_ms();
            let oldest = now - self.config.max_age.as_millis() as i64;
            let (goals, approvals, heard) = {
                let mut conn = ctx.store().reader().await?;
                (
                    store::goals::open_goals(&mut conn).await?,
                    store::approvals::open(&mut conn).await?,
                    store::events::repositories_heard_since(&mut conn, oldest).await?,
                )
            };
            let mut found = Vec::new();
            for goal in &goals {
                found.extend(self.comments(ctx, goal, oldest).await?);
            }
            let goal_issues: HashSet<(ForgeKind, String, i64)> = goals
                .iter()
                .map(|g| (g.goal.forge, g.goal.repository.full_name(), g.goal.number))
                .collect();
            for repository in &heard {
                found.extend(
                    self.repository_comments(ctx, repository, &goal_issues, oldest)
                        .await?,
                );
            }
            for approval in &approvals {
                let Some(repo) = RepoRef::parse(&approval.repository, None) else {
                    continue;
                };
                let Ok(forge) = self.shared.forge(approval.forge) else {
                    continue;
                };
                let pull = match forge.pull_request(&repo, approval.number).await {
                    Ok(pull) => pull,
                    Err(error) => {
                        skipped(&repo, Some(approval.number), &error);
                        continue;
                    }
                };
                if !pull.open {
                    found.push(closed(approval.forge, &repo, pull));
                    continue;
                }
                let bot = self.shared.bot_login(forge.as_ref()).await?;
                let reviews = match forge.list_reviews(&repo, approval.number).await {
                    Ok(reviews) => reviews,
                    Err(error) => {
                        skipped(&repo, Some(approval.number), &error);
                        continue;
                    }
                };
                if approval.state == ApprovalState::Pending
                    && approval.verified_sha.as_deref() == Some(pull.head_sha.as_str())
                {
                    found.extend(
                        reviews
                            .iter()
                            .filter(|r| {
                                r.state == ReviewState::Approved
                                    && r.commit_sha.as_deref() == Some(pull.head_sha.as_str())
                                    && !r.author.eq_ignore_ascii_case(&bot)
                                    && !r.author.eq_ignore_ascii_case(&approval.requester)
                            })
                            .map(|r| reviewed(approval.forge, &repo, approval.number, r.clone())),
                    );
                }
                let (done, since) = {
                    let mut conn = ctx.store().reader().await?;
                    let done = store::reviews::taken_ids(&mut conn, approval.id).await?;
                    let last_run = store::runs::runs_of_task(&mut conn, approval.task).await?;
                    (done, last_run.first().map_or(0, |r| r.created_at))
                };
                found.extend(
                    standing_requests(reviews, &done, &bot, since)
                        .into_iter()
                        .map(|r| reviewed(approval.forge, &repo, approval.number, r)),
                );
            }
            let mut tx = ctx.store().begin().await?;
            let mut acted = Vec::new();
            for found in &found {
                if feed(&mut tx, self.sink.as_ref(), found, now).await? {
                    acted.push((found.event.forge, found.what));
                }
            }
            ctx.finish(tx).await?;
            for (forge, what) in acted {
                self.metrics.reconciled(forge.as_str(), what);
            }
            Ok(())
        })
    }
}

impl ReconcileHandler {
    /// The comments on `goal`'s issue holding commands that no job acted on, made after the goal
    /// and after `oldest`, and not ade's own.
    async fn comments(
        &self,
        ctx: &JobContext,
        goal: &OpenGoal,
        oldest: i64,
    ) -> Result<Vec<Found>, JobError> {
        let row = &goal.goal;
        let Ok(forge) = self.shared.forge(row.forge) else {
            return Ok(Vec::new());
        };
        let bot = self.shared.bot_login(forge.as_ref()).await?;
        let comments = match forge.list_comments(&row.repository, row.number).await {
            Ok(comments) => comments,
            Err(error) => {
                skipped(&row.repository, Some(row.number), &error);
                return Ok(Vec::new());
            }
        };
        // Forges write whole seconds: a comment in the second the goal was made counts as after.
        let since = oldest.max(goal.created_at - goal.created_at.rem_euclid(1000));
        let mut found = Vec::new();
        for comment in comments {
            if comment.author.eq_ignore_ascii_case(&bot)
                || !mentions_ade(&comment.body)
                || comment.created_at.is_none_or(|at| at < since)
                || comment.edited()
            {
                continue;
            }
            let acted = {
                let mut conn = ctx.store().reader().await?;
                store::comments::acted(&mut conn, row.forge, comment.id).await?
            };
            if !acted {
                found.push(created_on_goal(goal, comment));
            }
        }
        Ok(found)
    }
}

impl ReconcileHandler {
    /// The comments holding commands that no job acted on, on the issues and pull requests of a
    /// repository ade heard from that hold no open goal (those are [`Self::comments`]'s): a
    /// first `/ade plan` whose delivery was lost, a command on an approval. Made after `oldest`
    /// and after ade first heard of the repository, and not ade's own.
    async fn repository_comments(
        &self,
        ctx: &JobContext,
        heard: &HeardFrom,
        goal_issues: &HashSet<(ForgeKind, String, i64)>,
        oldest: i64,
    ) -> Result<Vec<Found>, JobError> {
        let Ok(forge) = self.shared.forge(heard.forge) else {
            return Ok(Vec::new());
        };
        let repo = &heard.repository;
        let full_name = repo.full_name();
        let bot = self.shared.bot_login(forge.as_ref()).await?;
        let since = oldest.max(heard.first - heard.first.rem_euclid(1000));
        let mut issues: HashMap<i64, ForgeIssue> = HashMap::new();
        let mut found = Vec::new();
        let comments = match forge.recent_comments(repo, since).await {
            Ok(comments) => comments,
            Err(error) => {
                skipped(repo, None, &error);
                return Ok(Vec::new());
            }
        };
        for RepoComment { number, comment } in comments {
            if goal_issues.contains(&(heard.forge, full_name.clone(), number))
                || comment.author.eq_ignore_ascii_case(&bot)
                || !mentions_ade(&comment.body)
                || comment.created_at.is_none_or(|at| at < since)
                || comment.edited()
            {
                continue;
            }
            let acted = {
                let mut conn = ctx.store().reader().await?;
                store::comments::acted(&mut conn, heard.forge, comment.id).await?
            };
            if acted {
                continue;
            }
            let issue = match issues.get(&number) {
                Some(issue) => issue.clone(),
                None => match forge.issue(repo, number).await {
                    Ok(issue) => {
                        issues.insert(number, issue.clone());
                        issue
                    }
                    Err(error) => {
                        skipped(repo, Some(number), &error);
                        continue;
                    }
                },
            };
            let on = IssueRef {
                number,
                title: issue.title,
                body: issue.body,
                is_pull_request: issue.is_pull_request,
                author: Actor {
                    id: issue.author_id,
                    login: issue.author,
                    bot: issue.author_bot,
                },
            };
            found.push(created(heard.forge, repo, on, comment));
        }
        Ok(found)
    }
}

/// Notes a read the sweep could not make: what it would have found there waits for the next
/// sweep, and the rest of this one goes on (a deleted repository, an issue gone, a forge error).
fn skipped(repo: &RepoRef, number: Option<i64>, error: &crate::forge::ForgeError) {
    tracing::warn!(
        repository = %shown(&repo.full_name()),
        number,
        %error,
        "a reconciliation sweep could not read this; the next sweep tries again"
    );
}

/// The event a delivery of `comment`'s creation on the goal's issue would have made. The issue's
/// text is the goal's as last planned, and its author stands in for the issue's: the forge's list
/// of comments does not carry the issue.
fn created_on_goal(goal: &OpenGoal, comment: ForgeComment) -> Found {
    let row = &goal.goal;
    let on = IssueRef {
        number: row.number,
        title: row.title.clone(),
        body: row.body.clone(),
        is_pull_request: false,
        author: Actor {
            id: comment.author_id,
            login: comment.author.clone(),
            bot: comment.author_bot,
        },
    };
    created(row.forge, &row.repository, on, comment)
}

/// The event a delivery of `comment`'s creation on the issue or pull request `on` would have
/// made.
fn created(forge: ForgeKind, repo: &RepoRef, on: IssueRef, comment: ForgeComment) -> Found {
    let author = Actor {
        id: comment.author_id,
        login: comment.author,
        bot: comment.author_bot,
    };
    let event = Event {
        forge,
        repository: Some(repository(repo)),
        sender: Some(author.clone()),
        installation_id: repo.installation_id,
        kind: EventKind::CommentCreated(Comment {
            id: comment.id,
            body: comment.body,
            author,
            issue: on,
            created_at: comment.created_at,
        }),
    };
    Found {
        key: format!("reconcile:comment:{}", comment.id),
        event,
        what: "comment",
    }
}

/// The event a delivery of `pull`'s merge or close would have made.
fn closed(forge: ForgeKind, repo: &RepoRef, pull: ForgePullRequest) -> Found {
    let how = if pull.merged { "merged" } else { "closed" };
    let nobody = Actor {
        id: 0,
        login: String::new(),
        bot: false,
    };
    let event = Event {
        forge,
        repository: Some(repository(repo)),
        sender: None,
        installation_id: repo.installation_id,
        kind: EventKind::PullRequestClosed(PullRequest {
            number: pull.number,
            title: pull.title,
            body: String::new(),
            author: nobody,
            head: BranchRef {
                branch: pull.head_branch,
                sha: pull.head_sha,
                repository: None,
            },
            base: BranchRef {
                branch: pull.base_branch,
                sha: String::new(),
                repository: None,
            },
            draft: pull.draft,
            merged: pull.merged,
            merge_commit_sha: None,
        }),
    };
    Found {
        key: format!("reconcile:pull:{}#{}:{how}", repo.full_name(), pull.number),
        event,
        what: "pull_request",
    }
}

/// The event a delivery of `review`'s submission on pull request `number` would have made.
fn reviewed(forge: ForgeKind, repo: &RepoRef, number: i64, review: ForgeReview) -> Found {
    let author = Actor {
        id: 0,
        login: review.author,
        bot: false,
    };
    let event = Event {
        forge,
        repository: Some(repository(repo)),
        sender: Some(author.clone()),
        installation_id: repo.installation_id,
        kind: EventKind::ReviewSubmitted(Review {
            id: Some(review.id),
            state: review.state,
            body: review.body,
            author,
            pull_request_number: number,
            commit_sha: review.commit_sha,
        }),
    };
    Found {
        key: format!(
            "reconcile:review:{}#{number}:{}",
            repo.full_name(),
            review.id
        ),
        event,
        what: "review",
    }
}

fn repository(repo: &RepoRef) -> Repository {
    Repository {
        id: 0,
        full_name: repo.full_name(),
        default_branch: None,
        private: true,
    }
}

/// Stores `found` as a handled delivery and its event and hands the event to `sink`, with an
/// audit record; false when an earlier sweep found it already.
async fn feed(
    conn: &mut Conn,
    sink: &dyn EventSink,
    found: &Found,
    now: i64,
) -> Result<bool, JobError> {
    let event = &found.event;
    let body = serde_json::to_vec(event)
        .map_err(|e| JobError::Permanent(format!("a found event does not serialize: {e}")))?;
    let delivery = NewDelivery {
        forge: event.forge,
        delivery_id: found.key.clone(),
        event: event.name().to_owned(),
        event_type: None,
        repository: event.repository.as_ref().map(|r| r.full_name.clone()),
        content_type: "application/json".to_owned(),
        body,
        received_at: now,
    };
    let Some(delivery) = deliveries::insert(conn, &delivery).await? else {
        return Ok(false);
    };
    let Some(event_id) = store::events::insert(conn, delivery, event, now).await? else {
        return Ok(false);
    };
    sink.accept(conn, event_id, event).await?;
    deliveries::finish(
        conn,
        delivery,
        DeliveryState::Processed,
        "found by reconciliation",
        now,
    )
    .await?;
    let number = event.kind.number();
    tracing::info!(
        found = found.what,
        repository = %shown(event.repository.as_ref().map_or("", |r| r.full_name.as_str())),
        number,
        "a reconciliation sweep found what no delivery brought"
    );
    let entry = Entry::new(
        now,
        ActorKind::Ade,
        "ade",
        "reconcile.found",
        found.key.as_str(),
        Outcome::Ok,
    )
    .with("what", found.what)
    .with("event", event.name())
    .scoped(Scope {
        forge: Some(event.forge),
        repository: event.repository.as_ref().map(|r| r.full_name.clone()),
        goal: number,
        ..Scope::default()
    });
    audit::record(conn, &entry).await?;
    Ok(true)
}
