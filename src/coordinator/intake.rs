//! Intake: what the coordinator does with each dispatched event, inside the transaction that
//! records it. It only enqueues jobs (slow work waits on the forge, and on SQLite this transaction
//! holds the only write lock): commands on one goal go into one ordering key, so they are handled
//! one at a time in the order they were posted.

use super::event_job::{
    ApprovalClosedJob, ApprovalPushedJob, ApprovalReviewedJob, CheckRerunJob, CommandJob,
    EditedCommandJob, EventJob, EventJobKind, PolicyCheckJob,
};
use super::policies::Policies;
use super::warm::WarmJob;
use crate::dispatch::EventSink;
use crate::events::{Event, EventKind};
use crate::jobs::{BoxFuture, Job, JobError};
use crate::store::jobs as queue;
use crate::store::{Conn, StoreError};
use std::sync::Arc;

/// The ordering key of everything about one issue or pull request.
pub fn goal_key(event: &Event, number: i64) -> Option<String> {
    let repository = &event.repository.as_ref()?.full_name;
    Some(format!("goal:{}:{repository}#{number}", event.forge))
}

/// Turns dispatched events into coordinator jobs.
pub struct Intake {
    /// Attempts each coordinator job gets.
    pub max_attempts: i64,
    /// The policy cache, told about pushes to default branches.
    pub policies: Arc<Policies>,
    /// Whether a runner is here to keep warm when a default branch moves.
    pub warm_runner: bool,
}

impl Intake {
    async fn enqueue<K: EventJobKind>(
        &self,
        conn: &mut Conn,
        job: EventJob<K>,
    ) -> Result<(), StoreError> {
        let job = job.new_job(self.max_attempts, crate::clock::unix_ms());
        queue::enqueue(conn, &job, job.run_at).await?;
        Ok(())
    }
}

/// Whether a comment might carry a command, cheaply and generously: the parser decides for real in
/// the job, so this only spares a job for comments that cannot hold one.
pub(super) fn mentions_ade(body: &str) -> bool {
    body.as_bytes()
        .windows(4)
        .any(|w| w.eq_ignore_ascii_case(b"/ade"))
}

impl EventSink for Intake {
    fn accept<'a>(
        &'a self,
        conn: &'a mut Conn,
        event_id: i64,
        event: &'a Event,
    ) -> BoxFuture<'a, Result<(), JobError>> {
        Box::pin(async move {
            let (comment, edited) = match &event.kind {
                EventKind::CommentCreated(comment) => (comment, false),
                EventKind::CommentEdited(comment) => (comment, true),
                EventKind::PullRequestClosed(pull) => {
                    let key = goal_key(event, pull.number);
                    self.enqueue(conn, ApprovalClosedJob::new(event_id, key))
                        .await?;
                    return Ok(());
                }
                EventKind::PullRequestOpened(pull) | EventKind::PullRequestReopened(pull) => {
                    let key = goal_key(event, pull.number);
                    self.enqueue(conn, PolicyCheckJob::new(event_id, key))
                        .await?;
                    return Ok(());
                }
                EventKind::PullRequestSynchronized(pull) => {
                    let key = goal_key(event, pull.number);
                    self.enqueue(conn, PolicyCheckJob::new(event_id, key.clone()))
                        .await?;
                    self.enqueue(conn, ApprovalPushedJob::new(event_id, key))
                        .await?;
                    return Ok(());
                }
                EventKind::ReviewSubmitted(review) | EventKind::ReviewDismissed(review) => {
                    let key = goal_key(event, review.pull_request_number);
                    self.enqueue(conn, ApprovalReviewedJob::new(event_id, key))
                        .await?;
                    return Ok(());
                }
                EventKind::CheckRunRerequested(check) => {
                    let key = event.repository.as_ref().map(|r| {
                        format!("check:{}:{}@{}", event.forge, r.full_name, check.head_sha)
                    });
                    self.enqueue(conn, CheckRerunJob::new(event_id, key))
                        .await?;
                    return Ok(());
                }
                EventKind::CheckChanged(change) => {
                    // ade's own checks change as it reports them; nothing waits on those.
                    let own = change
                        .name
                        .as_deref()
                        .is_some_and(|n| n.to_ascii_lowercase().starts_with("ade/"));
                    if let (Some(repository), false) = (&event.repository, own) {
                        // Verifications awaiting external checks on that commit look again.
                        super::verification::external::news(
                            conn,
                            event.forge,
                            &repository.full_name,
                            &change.head_sha,
                            crate::clock::unix_ms(),
                        )
                        .await?;
                    }
                    return Ok(());
                }
                EventKind::PushToDefaultBranch(push) => {
                    if let Some(repository) = &event.repository {
                        self.policies.invalidate(event.forge, &repository.full_name);
                        let warm = WarmJob {
                            forge: event.forge,
                            repository: repository.full_name.clone(),
                            installation_id: event.installation_id,
                            commit: push.after.clone(),
                        };
                        if self.warm_runner && warm.leaves_a_commit() {
                            let job = warm.new_job(WarmJob::ATTEMPTS, crate::clock::unix_ms());
                            queue::enqueue(conn, &job, job.run_at).await?;
                        }
                        let resumed = super::resume::resume_repository(
                            conn,
                            event.forge,
                            &repository.full_name,
                            crate::clock::unix_ms(),
                        )
                        .await?;
                        if resumed > 0 {
                            tracing::info!(
                                goals = resumed,
                                "the default branch moved; plans with waiting tasks are looked at again"
                            );
                        }
                    }
                    return Ok(());
                }
                _ => return Ok(()),
            };
            if !mentions_ade(&comment.body) {
                return Ok(());
            }
            let key = goal_key(event, comment.issue.number);
            if edited {
                self.enqueue(conn, EditedCommandJob::new(event_id, key))
                    .await?;
            } else {
                self.enqueue(conn, CommandJob::new(event_id, key)).await?;
            }
            Ok(())
        })
    }
}
