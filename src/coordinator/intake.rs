//! Intake: what the coordinator does with each dispatched event, inside the transaction that
//! records it. It only enqueues jobs (slow work waits on the forge, and on SQLite this transaction
//! holds the only write lock): commands on one goal go into one ordering key, so they are handled
//! one at a time in the order they were posted.

use super::policies::Policies;
use super::policy_check::POLICY_CHECK_JOB;
use super::review::closed::APPROVAL_CLOSED_JOB;
use super::review::pushed::APPROVAL_PUSHED_JOB;
use super::review::rerun::CHECK_RERUN_JOB;
use super::review::reviewed::APPROVAL_REVIEWED_JOB;
use super::warm::WarmJob;
use crate::dispatch::EventSink;
use crate::events::{Event, EventKind};
use crate::jobs::{BoxFuture, JobError};
use crate::store::jobs::{self as queue, NewJob};
use crate::store::{Conn, StoreError};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// The job kind that handles the commands in a new comment.
pub const COMMAND_JOB: &str = "command";

/// The job kind that answers a command edited into an existing comment.
pub const EDITED_COMMAND_JOB: &str = "edited_command";

/// The payload of command jobs: the stored event to read the comment from.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CommandJob {
    /// The stored event id.
    pub event: i64,
    /// How many times handling was put off to wait for something (see
    /// [`super::review`]); 0 for the first job of an event.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub put_off: u32,
    /// Whether an earlier attempt already recorded what the event did to the approval, and only
    /// the task's move was put off (a run of it was in flight).
    #[serde(default, skip_serializing_if = "is_false")]
    pub applied: bool,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

fn is_false(b: &bool) -> bool {
    !*b
}

impl CommandJob {
    /// The job of kind `kind` for this event: one per event (and per time it was put off).
    pub fn job(
        &self,
        kind: &str,
        ordering_key: Option<String>,
        max_attempts: i64,
        run_at: i64,
    ) -> NewJob {
        let idempotency_key = match self.put_off {
            0 => format!("{kind}:{}", self.event),
            n => format!("{kind}:{}:{n}", self.event),
        };
        NewJob {
            kind: kind.into(),
            idempotency_key,
            ordering_key,
            payload: serde_json::to_string(self).expect("a command job serializes"),
            max_attempts,
            run_at,
        }
    }
}

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
    async fn enqueue(
        &self,
        conn: &mut Conn,
        kind: &str,
        event_id: i64,
        ordering_key: Option<String>,
    ) -> Result<(), StoreError> {
        let job = CommandJob {
            event: event_id,
            put_off: 0,
            applied: false,
        }
        .job(
            kind,
            ordering_key,
            self.max_attempts,
            crate::clock::unix_ms(),
        );
        queue::enqueue(conn, &job, job.run_at).await?;
        Ok(())
    }
}

/// Whether a comment might carry a command, cheaply and generously: the parser decides for real in
/// the job, so this only spares a job for comments that cannot hold one.
fn mentions_ade(body: &str) -> bool {
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
            let (kind, comment) = match &event.kind {
                EventKind::CommentCreated(comment) => (COMMAND_JOB, comment),
                EventKind::CommentEdited(comment) => (EDITED_COMMAND_JOB, comment),
                EventKind::PullRequestClosed(pull) => {
                    let key = goal_key(event, pull.number);
                    self.enqueue(conn, APPROVAL_CLOSED_JOB, event_id, key)
                        .await?;
                    return Ok(());
                }
                EventKind::PullRequestOpened(pull) | EventKind::PullRequestReopened(pull) => {
                    let key = goal_key(event, pull.number);
                    self.enqueue(conn, POLICY_CHECK_JOB, event_id, key).await?;
                    return Ok(());
                }
                EventKind::PullRequestSynchronized(pull) => {
                    let key = goal_key(event, pull.number);
                    self.enqueue(conn, POLICY_CHECK_JOB, event_id, key.clone())
                        .await?;
                    self.enqueue(conn, APPROVAL_PUSHED_JOB, event_id, key)
                        .await?;
                    return Ok(());
                }
                EventKind::ReviewSubmitted(review) | EventKind::ReviewDismissed(review) => {
                    let key = goal_key(event, review.pull_request_number);
                    self.enqueue(conn, APPROVAL_REVIEWED_JOB, event_id, key)
                        .await?;
                    return Ok(());
                }
                EventKind::CheckRunRerequested(check) => {
                    let key = event.repository.as_ref().map(|r| {
                        format!("check:{}:{}@{}", event.forge, r.full_name, check.head_sha)
                    });
                    self.enqueue(conn, CHECK_RERUN_JOB, event_id, key).await?;
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
                        if self.warm_runner
                            && let Some(job) = warm.job(crate::clock::unix_ms())
                        {
                            queue::enqueue(conn, &job, job.run_at).await?;
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
            self.enqueue(conn, kind, event_id, key).await?;
            Ok(())
        })
    }
}
