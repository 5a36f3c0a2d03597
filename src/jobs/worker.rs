//! The worker: claims due jobs up to its number of slots, runs each on its handler, keeps their
//! leases alive, and writes each attempt's result behind its fence.

use super::JobsConfig;
use super::{Discarded, Handlers, JobContext, JobError, JobHandler, Wake};
use crate::audit::AuditLog;
use crate::backoff;
use crate::clock::Clock;
use crate::metrics::Metrics;
use crate::store::jobs::{self as queries, ClaimedJob, Settle};
use crate::store::{Context, Durability, Store};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{Notify, watch};
use tokio::task::JoinSet;
use tracing::Instrument;

/// One process's job runner.
pub struct Worker {
    id: Arc<str>,
    queue: Queue,
    handlers: Handlers,
    config: JobsConfig,
    kinds: KindChoice,
    audit: Option<Arc<AuditLog>>,
}

/// The queue as a process's workers share it: the store that holds the jobs, the clock their
/// times are read on, the wake-ups that tell workers of new jobs, and the counters they keep.
#[derive(Clone)]
pub struct Queue {
    /// Where jobs are stored.
    pub store: Store,
    /// The clock leases and due times are read on.
    pub clock: Arc<dyn Clock>,
    /// Wakes workers when a job is enqueued.
    pub wake: Wake,
    /// Where attempts are counted.
    pub metrics: Arc<Metrics>,
}

/// Which kinds a worker claims (see [`queries::Kinds`]), owned.
#[derive(Clone, Debug, Default)]
enum KindChoice {
    #[default]
    All,
    Only(Vec<&'static str>),
    Except(Vec<&'static str>),
}

/// A job this worker runs now, and how to stop it if its lease is lost.
struct Running {
    attempt: i64,
    lost: Arc<Notify>,
}

impl Worker {
    /// A worker with a fresh id (host, process and a random part, so two processes on one host and
    /// two workers in one test never share an id).
    pub fn new(queue: Queue, handlers: Handlers, config: JobsConfig) -> Worker {
        let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "ade".into());
        let id = format!("{host}-{}-{:08x}", std::process::id(), fastrand::u32(..));
        Worker {
            id: id.into(),
            queue,
            handlers,
            config,
            kinds: KindChoice::All,
            audit: None,
        }
    }

    /// Jobs of this worker chain the audit records their transaction holds when they complete.
    pub fn audited(mut self, audit: Arc<AuditLog>) -> Worker {
        self.audit = Some(audit);
        self
    }

    /// This worker claims only jobs of these kinds (the runner's workers, for long runs).
    pub fn only(mut self, kinds: &[&'static str]) -> Worker {
        self.kinds = KindChoice::Only(kinds.to_vec());
        self
    }

    /// This worker claims every kind but these (so long runs never take its slots).
    pub fn except(mut self, kinds: &[&'static str]) -> Worker {
        self.kinds = KindChoice::Except(kinds.to_vec());
        self
    }

    /// This worker's id, as written in leases.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Runs until `shutdown` turns true; then stops claiming, gives running jobs the configured
    /// grace to finish, and hands back any still running so another start picks them up at once.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>, grace: Duration) {
        let running: Arc<Mutex<HashMap<i64, Running>>> = Arc::default();
        let mut tasks = JoinSet::new();
        let mut heartbeat = tokio::time::interval(self.config.lease / 3);
        heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let slots = self.config.workers.max(1);
        let mut waiter = self.queue.wake.subscribe();
        tracing::info!(worker = %self.id, slots, "worker started");
        loop {
            let mut claimed_all = false;
            if !*shutdown.borrow() {
                let free = slots - tasks.len();
                if free > 0 {
                    match self.claim(free as i64).await {
                        Ok(jobs) => {
                            claimed_all = jobs.len() == free;
                            for job in jobs {
                                self.spawn(job, &mut tasks, &running);
                            }
                        }
                        Err(error) => tracing::warn!(%error, "claiming jobs failed; retrying"),
                    }
                }
            }
            if claimed_all && tasks.len() < slots {
                continue;
            }
            tokio::select! {
                _ = shutdown.changed() => {
                    if *shutdown.borrow() {
                        break;
                    }
                }
                _ = waiter.wait(self.config.poll_interval) => {}
                _ = heartbeat.tick() => self.heartbeat(&running).await,
                Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
            }
        }
        self.drain(tasks, running, grace).await;
        tracing::info!(worker = %self.id, "worker stopped");
    }

    async fn claim(&self, limit: i64) -> Result<Vec<ClaimedJob>, crate::store::StoreError> {
        let now = self.queue.clock.now_ms();
        let lease_until = now + self.config.lease.as_millis() as i64;
        let mut conn = self.queue.store.writer_for(Durability::Queue).await?;
        let kinds = match &self.kinds {
            KindChoice::All => queries::Kinds::All,
            KindChoice::Only(kinds) => queries::Kinds::Only(kinds),
            KindChoice::Except(kinds) => queries::Kinds::Except(kinds),
        };
        queries::claim(
            &mut conn,
            self.queue.store.backend(),
            &self.id,
            kinds,
            limit,
            now,
            lease_until,
        )
        .await
    }

    fn spawn(
        &self,
        job: ClaimedJob,
        tasks: &mut JoinSet<()>,
        running: &Arc<Mutex<HashMap<i64, Running>>>,
    ) {
        let lost = Arc::new(Notify::new());
        running.lock().unwrap().insert(
            job.id,
            Running {
                attempt: job.attempt,
                lost: lost.clone(),
            },
        );
        let span =
            tracing::info_span!("job", kind = %job.kind, job = job.id, attempt = job.attempt);
        let id = job.id;
        let attempt = Attempt {
            handler: self.handlers.get(&job.kind),
            ctx: Arc::new(JobContext::new(
                job,
                self.queue.store.clone(),
                self.id.clone(),
                self.queue.clock.clone(),
                self.audit.clone(),
            )),
            config: self.config.clone(),
            metrics: self.queue.metrics.clone(),
            wake: self.queue.wake.clone(),
        };
        let running = running.clone();
        tasks.spawn(
            async move {
                attempt.execute(lost).await;
                running.lock().unwrap().remove(&id);
            }
            .instrument(span),
        );
    }

    /// Renews the leases of running jobs and stops the ones whose lease another worker took.
    async fn heartbeat(&self, running: &Arc<Mutex<HashMap<i64, Running>>>) {
        if running.lock().unwrap().is_empty() {
            return;
        }
        let lease_until = self.queue.clock.now_ms() + self.config.lease.as_millis() as i64;
        let held = match self.queue.store.writer_for(Durability::Queue).await {
            Ok(mut conn) => queries::heartbeat(&mut conn, &self.id, lease_until).await,
            Err(error) => Err(error),
        };
        let held = match held {
            Ok(held) => held,
            Err(error) => {
                tracing::warn!(%error, "renewing leases failed");
                return;
            }
        };
        for (id, job) in running.lock().unwrap().iter() {
            if !held.contains(&(*id, job.attempt)) {
                tracing::warn!(
                    job = id,
                    attempt = job.attempt,
                    "lease lost; stopping the attempt"
                );
                job.lost.notify_one();
            }
        }
    }

    async fn drain(
        &self,
        mut tasks: JoinSet<()>,
        running: Arc<Mutex<HashMap<i64, Running>>>,
        grace: Duration,
    ) {
        let deadline = tokio::time::sleep(grace);
        tokio::pin!(deadline);
        while !tasks.is_empty() {
            tokio::select! {
                _ = tasks.join_next() => {}
                _ = &mut deadline => break,
            }
        }
        tasks.shutdown().await;
        let left: Vec<(i64, i64)> = running
            .lock()
            .unwrap()
            .iter()
            .map(|(id, job)| (*id, job.attempt))
            .collect();
        for (id, attempt) in left {
            let fence = queries::Fence {
                id,
                attempt,
                owner: &self.id,
            };
            let released = match self.queue.store.writer().await {
                Ok(mut conn) => {
                    let now = self.queue.clock.now_ms();
                    queries::settle(&mut conn, fence, Settle::Release { now }).await
                }
                Err(error) => Err(error),
            };
            match released {
                Ok(_) => tracing::info!(job = id, "handed back unfinished job at shutdown"),
                Err(error) => {
                    tracing::warn!(job = id, %error, "could not hand back job; its lease will expire")
                }
            }
        }
    }
}

/// One attempt of one job.
struct Attempt {
    ctx: Arc<JobContext>,
    wake: Wake,
    handler: Option<Arc<dyn JobHandler>>,
    config: JobsConfig,
    metrics: Arc<Metrics>,
}

impl Attempt {
    async fn execute(self, lost: Arc<Notify>) {
        let started = Instant::now();
        let job = &self.ctx.job;
        let mut handler_enqueued = false;
        let result = if job.attempt > job.max_attempts {
            Err(JobError::Permanent(format!(
                "gave up after {} attempts: {}",
                job.max_attempts,
                job.last_error.as_deref().unwrap_or("no error recorded")
            )))
        } else if let Some(handler) = self.handler.clone() {
            let ctx = self.ctx.clone();
            let mut run =
                tokio::spawn(async move { queries::noting_enqueues(handler.run(&ctx)).await });
            tokio::select! {
                joined = &mut run => match joined {
                    Ok((result, enqueued)) => {
                        handler_enqueued = enqueued;
                        result
                    }
                    Err(e) => Err(JobError::Retry(if e.is_panic() { "handler panicked".into() } else { "handler was cancelled".into() })),
                },
                _ = lost.notified() => {
                    run.abort();
                    Err(JobError::LeaseLost)
                }
            }
        } else {
            Err(JobError::Permanent(format!(
                "no handler for job kind {:?}",
                job.kind
            )))
        };
        let (settled, settling_enqueued) = queries::noting_enqueues(self.settle(result)).await;
        if handler_enqueued || settling_enqueued {
            self.wake.notify();
        }
        let outcome = match settled {
            Ok(outcome) => outcome,
            Err(error) => {
                tracing::error!(%error, "recording the job's result failed; its lease will expire and it will run again");
                "unrecorded"
            }
        };
        self.metrics
            .job_finished(&job.kind, outcome, started.elapsed());
    }

    async fn settle(
        &self,
        result: Result<(), JobError>,
    ) -> Result<&'static str, crate::store::StoreError> {
        let ctx = &self.ctx;
        let job = &ctx.job;
        let store = ctx.store();
        let now = ctx.now_ms();
        match result {
            Ok(()) if ctx.is_finished() => Ok("completed"),
            Ok(()) => {
                let mut conn = store.writer_for(Durability::Queue).await?;
                if queries::settle(&mut conn, ctx.fence(), Settle::Complete { now }).await? {
                    Ok("completed")
                } else {
                    tracing::warn!("finished after losing the lease; the result was refused");
                    Ok("lease_lost")
                }
            }
            Err(JobError::LeaseLost) => {
                tracing::warn!("lease lost; this attempt's result was refused");
                Ok("lease_lost")
            }
            Err(JobError::Retry(error)) if job.attempt < job.max_attempts => {
                let delay = backoff::delay(
                    job.attempt,
                    self.config.backoff_base,
                    self.config.backoff_max,
                    fastrand::f64(),
                );
                tracing::warn!(%error, retry_in_ms = delay.as_millis() as u64, "attempt failed; will retry");
                let mut conn = store.writer_for(Durability::Queue).await?;
                let run_at = now + delay.as_millis() as i64;
                let retry = Settle::Retry {
                    run_at,
                    error: &error,
                };
                queries::settle(&mut conn, ctx.fence(), retry).await?;
                Ok("retried")
            }
            Err(JobError::Retry(error) | JobError::Permanent(error)) => {
                tracing::error!(%error, attempts = job.attempt, "job failed for good");
                let mut tx = store.begin().await?;
                if let Some(handler) = &self.handler {
                    let failed = Discarded {
                        job,
                        conn: &mut tx,
                        error: &error,
                        now,
                    };
                    handler.discarded(failed).await?;
                }
                if queries::settle(&mut tx, ctx.fence(), Settle::Fail { now, error: &error })
                    .await?
                {
                    if let Err(error) = ctx.seal(&mut tx).await {
                        // Nothing of this failure is kept without its records: the job stays
                        // claimed until its lease expires, and is then tried again.
                        tracing::error!(%error, "the failure's audit records cannot be written");
                        tx.rollback().await.ok();
                        return Ok("audit_failed");
                    }
                    tx.commit().await.context("commit job failure")?;
                    Ok("failed")
                } else {
                    tx.rollback().await.ok();
                    Ok("lease_lost")
                }
            }
        }
    }
}
