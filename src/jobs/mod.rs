//! The durable job queue every piece of background work runs on: handling deliveries now, runs,
//! forge writes and reconciliation later.
//!
//! The rules, taken from the PostgreSQL queues that hold up at scale:
//! - A job has a kind, an idempotency key (unique: enqueuing twice stores once), an optional
//!   ordering key (jobs sharing one run one at a time, in enqueue order), attempts and a next
//!   attempt time. Each kind is one type implementing [`Job`], which both the code that enqueues
//!   it and its handler use.
//! - A worker claims a job by leasing it and renews the lease by heartbeat. Every result it writes
//!   is fenced by the attempt number and its own id, so a worker that lost its lease cannot
//!   overwrite the work of the one that took over.
//! - Failed attempts retry with exponential backoff and jitter; after the last one the job fails
//!   for good and its handler records why.
//! - Wake-ups come from the enqueuing transaction (`NOTIFY` on PostgreSQL, in memory on SQLite),
//!   with a short poll as a fallback.
//! - One process at a time leads, by a lease row: it reaps expired leases and runs periodic work.

mod kind;
mod leader;
mod wake;
mod worker;

pub use kind::{Job, payload};
pub use leader::Leader;
pub use wake::Wake;
pub use worker::{Queue, Worker};

use crate::audit::AuditLog;
use crate::clock::Clock;
use crate::forge::ForgeError;
use crate::store::jobs::{self as queries, ClaimedJob, Fence, Settle};
use crate::store::{Conn, Store, StoreError, Tx};
use crate::templates::TemplateError;
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// `ade.toml`'s `[jobs]`, as the workers take it.
#[derive(Clone, Debug)]
pub struct JobsConfig {
    /// Jobs one process runs at once.
    pub workers: usize,
    /// Attempts before a job (and its delivery) is marked failed.
    pub max_attempts: u32,
    /// First retry delay; each further retry doubles it, with jitter.
    pub backoff_base: Duration,
    /// Longest retry delay.
    pub backoff_max: Duration,
    /// How long a claimed job stays leased without a heartbeat.
    pub lease: Duration,
    /// Fallback poll interval when no wake-up arrives.
    pub poll_interval: Duration,
}

impl Default for JobsConfig {
    /// What a `[jobs]` key left out of `ade.toml` is.
    fn default() -> JobsConfig {
        JobsConfig {
            workers: 4,
            max_attempts: 5,
            backoff_base: Duration::from_secs(1),
            backoff_max: Duration::from_secs(300),
            lease: Duration::from_secs(60),
            poll_interval: Duration::from_secs(1),
        }
    }
}

/// A boxed future, so handlers of different kinds fit one registry.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Why an attempt did not complete.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JobError {
    /// Something that may pass: retry after a backoff, unless this was the last attempt.
    #[error("{0}")]
    Retry(String),
    /// Something retrying cannot change: fail the job now.
    #[error("{0}")]
    Permanent(String),
    /// The worker lost its lease while running; another attempt owns the job now.
    #[error("lease lost")]
    LeaseLost,
}

/// An audit record that could not be written leaves the job to be tried again: its action is not
/// acknowledged until its record is on disk (docs/audit.md).
impl From<crate::audit::AuditError> for JobError {
    fn from(e: crate::audit::AuditError) -> JobError {
        JobError::Retry(e.to_string())
    }
}

impl From<StoreError> for JobError {
    fn from(e: StoreError) -> JobError {
        JobError::Retry(e.to_string())
    }
}

/// A template that did not render is a bug in ade: another attempt renders it the same way.
impl From<TemplateError> for JobError {
    fn from(e: TemplateError) -> JobError {
        JobError::Permanent(e.to_string())
    }
}

/// A forge call that a later attempt may fix (a rate limit, a 5xx, a dropped connection) is
/// retried; any other refusal fails the job for good, since asking again gets the same answer.
impl From<ForgeError> for JobError {
    fn from(e: ForgeError) -> JobError {
        if e.is_retryable() {
            JobError::Retry(e.to_string())
        } else {
            JobError::Permanent(e.to_string())
        }
    }
}

/// Runs the jobs of one kind.
pub trait JobHandler: Send + Sync + 'static {
    /// Does the work of one attempt. A handler that writes to the store should do so in one
    /// transaction and end it with [`JobContext::finish`], so its writes and the job's completion
    /// commit together, fenced.
    fn run<'a>(&'a self, ctx: &'a JobContext) -> BoxFuture<'a, Result<(), JobError>>;

    /// Records that the job failed for good, in the transaction that marks it failed.
    fn discarded<'a>(&'a self, _failed: Discarded<'a>) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async { Ok(()) })
    }
}

/// A job that failed for good, as [`JobHandler::discarded`] gets it: the job and the transaction
/// that marks it failed, for the handler to record why in.
pub struct Discarded<'a> {
    /// The claimed job.
    pub job: &'a ClaimedJob,
    /// The transaction that marks the job failed.
    pub conn: &'a mut Conn,
    /// The error it failed with.
    pub error: &'a str,
    /// When it failed.
    pub now: i64,
}

impl Discarded<'_> {
    /// The job's payload as a `J`; `None` when it does not read, which leaves nothing to record.
    pub fn payload<J: Job>(&self) -> Option<J> {
        payload(self.job).ok()
    }
}

/// A shared handler is a handler, so the caller can keep a reference to it.
impl<H: JobHandler> JobHandler for Arc<H> {
    fn run<'a>(&'a self, ctx: &'a JobContext) -> BoxFuture<'a, Result<(), JobError>> {
        (**self).run(ctx)
    }

    fn discarded<'a>(&'a self, failed: Discarded<'a>) -> BoxFuture<'a, Result<(), StoreError>> {
        (**self).discarded(failed)
    }
}

/// The handlers of every job kind a worker runs, by kind.
#[derive(Clone, Default)]
pub struct Handlers(HashMap<&'static str, Arc<dyn JobHandler>>);

impl Handlers {
    /// Registers the handler of `J` jobs.
    ///
    /// # Panics
    ///
    /// If a handler of `J::KIND` is registered already: two job types sharing a kind would
    /// read each other's payloads.
    pub fn register<J: Job>(&mut self, handler: impl JobHandler) {
        let earlier = self.0.insert(J::KIND, Arc::new(handler));
        assert!(
            earlier.is_none(),
            "a second handler of {:?} jobs was registered",
            J::KIND
        );
    }

    /// The kinds registered, in no particular order.
    pub fn kinds(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.0.keys().copied()
    }

    fn get(&self, kind: &str) -> Option<Arc<dyn JobHandler>> {
        self.0.get(kind).cloned()
    }
}

/// What a handler sees of the job it runs.
pub struct JobContext {
    /// The claimed job: payload, attempt, the previous attempt's error.
    pub job: ClaimedJob,
    store: Store,
    owner: Arc<str>,
    clock: Arc<dyn Clock>,
    audit: Option<Arc<AuditLog>>,
    finished: AtomicBool,
}

impl JobContext {
    pub(crate) fn new(
        job: ClaimedJob,
        store: Store,
        owner: Arc<str>,
        clock: Arc<dyn Clock>,
        audit: Option<Arc<AuditLog>>,
    ) -> JobContext {
        JobContext {
            job,
            store,
            owner,
            clock,
            audit,
            finished: AtomicBool::new(false),
        }
    }

    /// The job's payload as a `J`; see [`payload`].
    pub fn payload<J: Job>(&self) -> Result<J, JobError> {
        payload(&self.job)
    }

    /// The store, for handlers' own reads and writes.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The clock the worker runs on.
    pub fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }

    /// The worker's clock itself, for a handler's own watchers that outlive one read of it.
    pub fn clock(&self) -> Arc<dyn Clock> {
        self.clock.clone()
    }

    /// The fence of this attempt.
    pub fn fence(&self) -> Fence<'_> {
        Fence {
            id: self.job.id,
            attempt: self.job.attempt,
            owner: &self.owner,
        }
    }

    /// Completes a job that has nothing to write: there was nothing to do.
    pub async fn finish_empty(&self) -> Result<(), JobError> {
        self.finish(self.store.begin().await?).await
    }

    /// Completes the job inside the handler's transaction and commits both, after chaining the
    /// audit records the transaction holds: a record that cannot be written fails the job. If the
    /// lease was lost meanwhile, nothing the transaction wrote is kept and the result is
    /// [`JobError::LeaseLost`].
    pub async fn finish(&self, tx: Tx) -> Result<(), JobError> {
        self.complete(tx, true).await
    }

    /// Completes the job like [`JobContext::finish`] without sealing: whatever audit records its
    /// transaction holds stay pending, committed with it, for the writer's sweep to chain within a
    /// second. For records of what already happened elsewhere before the job could finish (a
    /// write the forge accepted), which no one waits on, so the command path pays for one sync of
    /// the audit file rather than one per write; and for jobs whose transaction records nothing
    /// (a delivery turned into an event, a comment with no command to run), which would otherwise
    /// spend a statement inside the write lock looking for records.
    pub async fn finish_unsealed(&self, tx: Tx) -> Result<(), JobError> {
        self.complete(tx, false).await
    }

    async fn complete(&self, mut tx: Tx, seal: bool) -> Result<(), JobError> {
        let now = self.clock.now_ms();
        if !queries::settle(&mut tx, self.fence(), Settle::Complete { now }).await? {
            tx.rollback().await.ok();
            return Err(JobError::LeaseLost);
        }
        if seal && let Some(audit) = &self.audit {
            audit.seal(&mut tx).await?;
        }
        tx.commit()
            .await
            .map_err(|e| JobError::Retry(format!("commit job result: {e}")))?;
        self.finished.store(true, Ordering::SeqCst);
        Ok(())
    }

    /// Commits a transaction of the handler's that does not complete the job (a run's start, its
    /// published approval), after chaining the audit records it holds.
    pub async fn commit(&self, mut tx: Tx) -> Result<(), JobError> {
        if let Some(audit) = &self.audit {
            audit.seal(&mut tx).await?;
        }
        tx.commit()
            .await
            .map_err(|e| JobError::Retry(format!("commit: {e}")))
    }

    /// Chains the audit records `conn`'s transaction holds, for results the worker writes itself
    /// (a job that failed for good).
    pub(crate) async fn seal(&self, conn: &mut Conn) -> Result<(), JobError> {
        if let Some(audit) = &self.audit {
            audit.seal(conn).await?;
        }
        Ok(())
    }

    pub(crate) fn is_finished(&self) -> bool {
        self.finished.load(Ordering::SeqCst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::{Deserialize, Serialize};

    #[derive(Serialize, Deserialize)]
    struct First;

    impl Job for First {
        const KIND: &'static str = "shared";

        fn idempotency_key(&self, _run_at: i64) -> String {
            "first".into()
        }
    }

    #[derive(Serialize, Deserialize)]
    struct Second;

    impl Job for Second {
        const KIND: &'static str = "shared";

        fn idempotency_key(&self, _run_at: i64) -> String {
            "second".into()
        }
    }

    struct Nothing;

    impl JobHandler for Nothing {
        fn run<'a>(&'a self, _ctx: &'a JobContext) -> BoxFuture<'a, Result<(), JobError>> {
            Box::pin(async { Ok(()) })
        }
    }

    #[test]
    #[should_panic(expected = r#"a second handler of "shared" jobs was registered"#)]
    fn a_kind_takes_one_handler() {
        let mut handlers = Handlers::default();
        handlers.register::<First>(Nothing);
        handlers.register::<Second>(Nothing);
    }
}
