//! The jobs that handle one stored event: [`super::intake`] enqueues them, and the command job and
//! the approval handlers (`review/`, `policy_check.rs`) read them. Every such kind carries the same
//! payload, the stored event's id; the kind says which handler acts on the event. Both sides
//! import this file and nothing here imports them, so intake and the handlers do not import each
//! other.

use std::marker::PhantomData;

use serde::{Deserialize, Serialize};

use super::shared::Shared;
use crate::events::Event;
use crate::forge::RepoRef;
use crate::jobs::{Job, JobContext, JobError};
use crate::store;
use crate::store::jobs::ClaimedJob;

/// One kind of event job: which handler acts on the event.
pub trait EventJobKind: Send + Sync + 'static {
    /// The kind stored with the job.
    const KIND: &'static str;
}

macro_rules! event_job_kinds {
    ($($(#[$doc:meta])* $kind:ident, $job:ident, $name:literal;)*) => {$(
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub struct $kind;

        impl EventJobKind for $kind {
            const KIND: &'static str = $name;
        }

        $(#[$doc])*
        pub type $job = EventJob<$kind>;
    )*};
}

event_job_kinds! {
    /// The commands in a new comment ([`super::command_job`]).
    CommandKind, CommandJob, "command";
    /// A command edited into an existing comment: answered, never run ([`super::command_job`]).
    EditedCommandKind, EditedCommandJob, "edited_command";
    /// A pull request merged or closed ([`super::review::closed`]).
    ApprovalClosedKind, ApprovalClosedJob, "approval_closed";
    /// A push to a pull request's branch ([`super::review::pushed`]).
    ApprovalPushedKind, ApprovalPushedJob, "approval_pushed";
    /// A review submitted or dismissed on a pull request ([`super::review::reviewed`]).
    ApprovalReviewedKind, ApprovalReviewedJob, "approval_reviewed";
    /// GitHub's "Re-run" on a check ([`super::review::rerun`]).
    CheckRerunKind, CheckRerunJob, "check_rerun";
    /// A pull request opened, reopened or pushed to, whose policy file may need checking
    /// ([`super::policy_check`]).
    PolicyCheckKind, PolicyCheckJob, "policy_check";
}

/// A job that handles the stored event `event`, of kind `K`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(bound = "")]
pub struct EventJob<K> {
    /// The stored event id.
    pub event: i64,
    /// How many times handling was put off to wait for something (see [`super::review`]); 0 for
    /// the first job of an event.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub put_off: u32,
    /// Whether an earlier attempt already recorded what the event did to the approval, and only
    /// the task's move was put off (a run of it was in flight).
    #[serde(default, skip_serializing_if = "is_false")]
    pub applied: bool,
    /// Everything about one issue or pull request (or, for a re-run, one commit's checks) runs in
    /// one order. Kept in the job's row, not its payload.
    #[serde(skip)]
    pub ordering_key: Option<String>,
    #[serde(skip)]
    kind: PhantomData<K>,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

fn is_false(b: &bool) -> bool {
    !*b
}

impl<K> EventJob<K> {
    /// The first job of stored event `event`.
    pub fn new(event: i64, ordering_key: Option<String>) -> EventJob<K> {
        EventJob {
            event,
            put_off: 0,
            applied: false,
            ordering_key,
            kind: PhantomData,
        }
    }

    /// The job that looks at the event again after this one was put off, in the same order.
    pub fn again(&self, applied: bool) -> EventJob<K> {
        EventJob {
            event: self.event,
            put_off: self.put_off + 1,
            applied,
            ordering_key: self.ordering_key.clone(),
            kind: PhantomData,
        }
    }
}

impl<K: EventJobKind> Job for EventJob<K> {
    const KIND: &'static str = K::KIND;

    /// One per event, and per time it was put off.
    fn idempotency_key(&self, _run_at: i64) -> String {
        match self.put_off {
            0 => format!("{}:{}", K::KIND, self.event),
            n => format!("{}:{}:{n}", K::KIND, self.event),
        }
    }

    fn ordering_key(&self) -> Option<String> {
        self.ordering_key.clone()
    }

    fn read(job: &ClaimedJob) -> Result<Self, serde_json::Error> {
        let mut read: EventJob<K> = serde_json::from_str(&job.payload)?;
        read.ordering_key.clone_from(&job.ordering_key);
        Ok(read)
    }
}

/// The handler of event jobs of kind `K`: each kind's file (`review/`, `policy_check.rs`) names it
/// and implements its handling; all of them act with the coordinator's shared parts.
pub struct EventHandler<K> {
    pub(super) shared: Shared,
    kind: PhantomData<K>,
}

impl<K> EventHandler<K> {
    /// A handler with the coordinator's shared parts.
    pub fn new(shared: Shared) -> Self {
        EventHandler {
            shared,
            kind: PhantomData,
        }
    }
}

/// The job a handler runs and the stored event it is about, with its repository; `None` for an
/// event without a readable repository (nothing to do).
pub(crate) async fn event_of<K: EventJobKind>(
    ctx: &JobContext,
) -> Result<(EventJob<K>, Option<(Event, RepoRef)>), JobError> {
    let job: EventJob<K> = ctx.payload()?;
    let event = {
        let mut conn = ctx.store().reader().await?;
        store::events::get(&mut conn, job.event).await?
    }
    .ok_or_else(|| JobError::Permanent(format!("event {} is not stored", job.event)))?;
    let repo = event
        .repository
        .as_ref()
        .and_then(|r| RepoRef::parse(&r.full_name, event.installation_id));
    Ok((job, repo.map(|repo| (event, repo))))
}

/// The error of a `job` (say, "a push job") handed an event its handler does not act on: intake
/// enqueued it for another kind, which retrying cannot change.
pub(crate) fn wrong_event(job: &str, event: &Event) -> JobError {
    JobError::Permanent(format!("{job} for a {} event", event.kind.name()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jobs::payload;

    fn claimed(job: &crate::store::jobs::NewJob) -> ClaimedJob {
        ClaimedJob {
            id: 1,
            kind: job.kind.clone(),
            idempotency_key: job.idempotency_key.clone(),
            ordering_key: job.ordering_key.clone(),
            payload: job.payload.clone(),
            attempt: 1,
            max_attempts: job.max_attempts,
            last_error: None,
            created_at: 0,
        }
    }

    #[test]
    fn an_event_job_keeps_its_stored_shape() {
        let first = ApprovalClosedJob::new(12, Some("goal:github:acme/widgets#7".into()));
        let stored = first.new_job(5, 100);
        assert_eq!(stored.kind, "approval_closed");
        assert_eq!(stored.idempotency_key, "approval_closed:12");
        assert_eq!(stored.payload, r#"{"event":12}"#);
        let again = first.again(true).again(true).new_job(5, 200);
        assert_eq!(again.idempotency_key, "approval_closed:12:2");
        assert_eq!(again.ordering_key, stored.ordering_key);
        assert_eq!(again.payload, r#"{"event":12,"put_off":2,"applied":true}"#);
    }

    #[test]
    fn an_event_job_reads_back_with_its_order() {
        let job = ApprovalPushedJob::new(3, Some("goal:gitea:acme/widgets#2".into())).again(false);
        assert_eq!(
            payload::<ApprovalPushedJob>(&claimed(&job.new_job(5, 0))),
            Ok(job)
        );
    }

    #[test]
    fn a_command_job_is_not_read_as_an_edited_one() {
        let command = CommandJob::new(4, None).new_job(5, 0);
        assert!(payload::<EditedCommandJob>(&claimed(&command)).is_err());
        assert_eq!(
            payload::<CommandJob>(&claimed(&command)).map(|job| job.event),
            Ok(4)
        );
    }
}
