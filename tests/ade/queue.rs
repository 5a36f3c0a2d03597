//! The durable job queue on both databases: idempotency, per-key order, leases, fencing, retries,
//! the leader, and several workers sharing one queue.

use crate::support::{databases, eventually};
use ade::clock::{Clock, ManualClock, SystemClock};
use ade::config::Config;
use ade::jobs::{
    BoxFuture, Discarded, Handlers, Job, JobContext, JobError, JobHandler, Queue, Wake, Worker,
};
use ade::metrics::Metrics;
use ade::store::jobs::{self as queue, ClaimedJob, Fence, Kinds, NewJob, Settle};
use ade::store::{Store, StoreError, leader};
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::watch;

const T0: i64 = 1_800_000_000_000;

/// The jobs these tests enqueue: `job` writes them by hand, since their keys are what is tested.
#[derive(Serialize, Deserialize)]
struct TestJob {
    key: String,
}

impl Job for TestJob {
    const KIND: &'static str = "test";

    fn idempotency_key(&self, _run_at: i64) -> String {
        self.key.clone()
    }
}

/// The jobs a `test` job enqueues (see [`Chains`]).
#[derive(Serialize, Deserialize)]
struct NextJob {
    key: String,
}

impl Job for NextJob {
    const KIND: &'static str = "next";

    fn idempotency_key(&self, _run_at: i64) -> String {
        self.key.clone()
    }
}

fn job(key: &str, ordering: Option<&str>) -> NewJob {
    NewJob {
        kind: TestJob::KIND.into(),
        idempotency_key: key.into(),
        ordering_key: ordering.map(Into::into),
        payload: serde_json::json!({ "key": key }).to_string(),
        max_attempts: 3,
        run_at: T0,
    }
}

async fn enqueue(store: &Store, jobs: &[NewJob]) -> Vec<Option<i64>> {
    let mut tx = store.begin().await.unwrap();
    let mut ids = Vec::new();
    for job in jobs {
        ids.push(queue::enqueue(&mut tx, job, T0).await.unwrap());
    }
    tx.commit().await.unwrap();
    ids
}

async fn claim(store: &Store, owner: &str, limit: i64, now: i64) -> Vec<ClaimedJob> {
    let mut conn = store.writer().await.unwrap();
    queue::claim(
        &mut conn,
        store.backend(),
        owner,
        Kinds::All,
        limit,
        now,
        now + 1_000,
    )
    .await
    .unwrap()
}

/// Waits until the job with `key` is in `state`, and returns it.
async fn job_in_state(store: &Store, key: &str, state: &str, timeout: Duration) -> queue::JobRow {
    let what = format!("job {key} to be {state}");
    eventually(timeout, &what, || async {
        let mut conn = store.reader().await.unwrap();
        queue::find(&mut conn, key)
            .await
            .unwrap()
            .filter(|r| r.state == state)
    })
    .await
}

fn keys(jobs: &[ClaimedJob]) -> Vec<&str> {
    jobs.iter().map(|j| j.idempotency_key.as_str()).collect()
}

fn fence<'a>(job: &ClaimedJob, owner: &'a str) -> Fence<'a> {
    Fence {
        id: job.id,
        attempt: job.attempt,
        owner,
    }
}

#[tokio::test]
async fn an_idempotency_key_is_enqueued_once() {
    for db in databases().await {
        let store = db.store().await;
        let ids = enqueue(&store, &[job("a", None), job("a", None), job("b", None)]).await;
        assert!(
            ids[0].is_some() && ids[1].is_none() && ids[2].is_some(),
            "{}: {ids:?}",
            db.name
        );
        assert_eq!(
            keys(&claim(&store, "w", 10, T0).await),
            ["a", "b"],
            "{}",
            db.name
        );
    }
}

#[tokio::test]
async fn jobs_sharing_an_ordering_key_run_one_at_a_time_in_order() {
    for db in databases().await {
        let store = db.store().await;
        enqueue(
            &store,
            &[
                job("x1", Some("x")),
                job("x2", Some("x")),
                job("y1", Some("y")),
                job("free", None),
            ],
        )
        .await;
        let first = claim(&store, "w", 10, T0).await;
        assert_eq!(keys(&first), ["x1", "y1", "free"], "{}", db.name);
        assert!(
            claim(&store, "w", 10, T0).await.is_empty(),
            "{}: x2 waits for x1",
            db.name
        );

        // x1 fails and waits out a retry: x2 still waits, since order holds across retries.
        let mut conn = store.writer().await.unwrap();
        assert!(
            queue::settle(
                &mut conn,
                fence(&first[0], "w"),
                Settle::Retry {
                    run_at: T0 + 5_000,
                    error: "flaky"
                }
            )
            .await
            .unwrap()
        );
        drop(conn);
        assert!(
            claim(&store, "w", 10, T0 + 1_000).await.is_empty(),
            "{}",
            db.name
        );
        let again = claim(&store, "w", 10, T0 + 5_000).await;
        assert_eq!(keys(&again), ["x1"], "{}", db.name);
        assert_eq!(again[0].attempt, 2);
        assert_eq!(again[0].last_error.as_deref(), Some("flaky"));

        let mut conn = store.writer().await.unwrap();
        assert!(
            queue::settle(
                &mut conn,
                fence(&again[0], "w"),
                Settle::Complete { now: T0 + 5_000 }
            )
            .await
            .unwrap()
        );
        drop(conn);
        assert_eq!(
            keys(&claim(&store, "w", 10, T0 + 5_000).await),
            ["x2"],
            "{}",
            db.name
        );
    }
}

#[tokio::test]
async fn a_worker_that_lost_its_lease_cannot_write_its_result() {
    for db in databases().await {
        let store = db.store().await;
        enqueue(&store, &[job("j", None)]).await;
        let stale = claim(&store, "stale", 1, T0).await.remove(0);
        let mut conn = store.writer().await.unwrap();
        assert_eq!(
            queue::heartbeat(&mut conn, "stale", T0 + 1_000)
                .await
                .unwrap(),
            [(stale.id, 1)]
        );

        // The lease runs out; the leader makes the job available; another worker takes it.
        assert!(
            queue::reap_expired(&mut conn, T0 + 500)
                .await
                .unwrap()
                .is_empty(),
            "not yet expired"
        );
        assert_eq!(
            queue::reap_expired(&mut conn, T0 + 1_001).await.unwrap(),
            [stale.id]
        );
        drop(conn);
        let fresh = claim(&store, "fresh", 1, T0 + 1_001).await.remove(0);
        assert_eq!((fresh.id, fresh.attempt), (stale.id, 2));

        let mut conn = store.writer().await.unwrap();
        assert!(
            queue::heartbeat(&mut conn, "stale", T0 + 3_000)
                .await
                .unwrap()
                .is_empty(),
            "{}",
            db.name
        );
        assert!(
            !queue::settle(
                &mut conn,
                fence(&stale, "stale"),
                Settle::Complete { now: T0 + 1_100 }
            )
            .await
            .unwrap(),
            "{}",
            db.name
        );
        assert!(
            !queue::settle(
                &mut conn,
                fence(&stale, "stale"),
                Settle::Fail {
                    now: T0 + 1_100,
                    error: "late"
                }
            )
            .await
            .unwrap()
        );
        assert!(
            !queue::settle(
                &mut conn,
                fence(&stale, "stale"),
                Settle::Retry {
                    run_at: T0,
                    error: "late"
                }
            )
            .await
            .unwrap()
        );
        assert!(
            queue::settle(
                &mut conn,
                fence(&fresh, "fresh"),
                Settle::Complete { now: T0 + 1_200 }
            )
            .await
            .unwrap()
        );
        let row = queue::find(&mut conn, "j").await.unwrap().unwrap();
        assert_eq!(
            (row.state.as_str(), row.attempt, row.last_error),
            ("completed", 2, None)
        );
    }
}

#[tokio::test]
async fn one_process_leads_at_a_time_and_another_takes_over_when_its_lease_ends() {
    for db in databases().await {
        let store = db.store().await;
        let mut conn = store.writer().await.unwrap();
        assert!(
            leader::acquire(&mut conn, "leader", "a", T0, T0 + 30_000)
                .await
                .unwrap()
        );
        assert!(
            !leader::acquire(&mut conn, "leader", "b", T0 + 1_000, T0 + 31_000)
                .await
                .unwrap()
        );
        assert!(
            leader::acquire(&mut conn, "leader", "a", T0 + 10_000, T0 + 40_000)
                .await
                .unwrap(),
            "renewal"
        );
        assert!(
            !leader::acquire(&mut conn, "leader", "b", T0 + 39_000, T0 + 69_000)
                .await
                .unwrap()
        );
        assert!(
            leader::acquire(&mut conn, "leader", "b", T0 + 40_001, T0 + 70_000)
                .await
                .unwrap(),
            "{}",
            db.name
        );
        assert!(
            !leader::acquire(&mut conn, "leader", "a", T0 + 40_002, T0 + 70_000)
                .await
                .unwrap(),
            "a lost it"
        );
        leader::release(&mut conn, "leader", "a").await.unwrap();
        assert!(
            !leader::acquire(&mut conn, "leader", "c", T0 + 40_003, T0 + 70_000)
                .await
                .unwrap(),
            "a cannot release b's lease"
        );
        leader::release(&mut conn, "leader", "b").await.unwrap();
        assert!(
            leader::acquire(&mut conn, "leader", "c", T0 + 40_004, T0 + 70_000)
                .await
                .unwrap()
        );
    }
}

/// A handler that records what ran and checks no two jobs of one ordering key overlap.
#[derive(Default)]
struct Recorder {
    runs: Mutex<HashMap<String, usize>>,
    order: Mutex<HashMap<String, Vec<i64>>>,
    active: Mutex<HashSet<String>>,
    overlaps: Mutex<Vec<String>>,
    fail_first: HashSet<String>,
}

impl JobHandler for Recorder {
    fn run<'a>(&'a self, ctx: &'a JobContext) -> BoxFuture<'a, Result<(), JobError>> {
        Box::pin(async move {
            let job = &ctx.job;
            let key = job.ordering_key.clone().unwrap_or_default();
            if !key.is_empty() && !self.active.lock().unwrap().insert(key.clone()) {
                self.overlaps
                    .lock()
                    .unwrap()
                    .push(job.idempotency_key.clone());
            }
            tokio::time::sleep(Duration::from_millis(fastrand::u64(0..3))).await;
            if !key.is_empty() {
                self.active.lock().unwrap().remove(&key);
            }
            if job.attempt == 1 && self.fail_first.contains(&job.idempotency_key) {
                return Err(JobError::Retry("first attempt fails".into()));
            }
            *self
                .runs
                .lock()
                .unwrap()
                .entry(job.idempotency_key.clone())
                .or_default() += 1;
            self.order
                .lock()
                .unwrap()
                .entry(key)
                .or_default()
                .push(job.id);
            Ok(())
        })
    }
}

fn jobs_config(workers: usize) -> ade::config::JobsConfig {
    let mut config = Config::default().jobs;
    config.workers = workers;
    config.lease = Duration::from_secs(5);
    config.poll_interval = Duration::from_millis(50);
    config.backoff_base = Duration::from_millis(10);
    config.backoff_max = Duration::from_millis(40);
    config
}

fn start_worker(
    store: &Store,
    handler: impl JobHandler,
    workers: usize,
    stop: &watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    let mut handlers = Handlers::default();
    handlers.register::<TestJob>(handler);
    let worker = Worker::new(
        Queue {
            store: store.clone(),
            clock: Arc::new(SystemClock),
            wake: Wake::new(),
            metrics: Arc::new(Metrics::default()),
        },
        handlers,
        jobs_config(workers),
    );
    tokio::spawn(worker.run(stop.clone(), Duration::from_secs(5)))
}

#[tokio::test]
async fn several_workers_share_one_queue_without_running_a_job_twice_or_out_of_order() {
    for db in databases().await {
        let store = db.store().await;
        let fail_first: HashSet<String> = (0..240).step_by(17).map(|i| format!("j{i}")).collect();
        let recorder = Arc::new(Recorder {
            fail_first,
            ..Recorder::default()
        });
        let now = SystemClock.now_ms();
        let jobs: Vec<NewJob> = (0..240)
            .map(|i| NewJob {
                run_at: now,
                ordering_key: (i % 5 != 0).then(|| format!("repo{}", i % 8)),
                ..job(&format!("j{i}"), None)
            })
            .collect();
        enqueue(&store, &jobs).await;
        let (stop_tx, stop) = watch::channel(false);
        // Four workers, each its own store (pool), as four processes would be.
        let mut workers = Vec::new();
        for _ in 0..4 {
            let own = db.store().await;
            workers.push(start_worker(&own, recorder.clone(), 3, &stop));
        }
        eventually(Duration::from_secs(30), "every job to run", || async {
            (recorder.runs.lock().unwrap().len() == 240).then_some(())
        })
        .await;
        stop_tx.send(true).unwrap();
        for worker in workers {
            worker.await.unwrap();
        }
        let runs = recorder.runs.lock().unwrap().clone();
        assert!(
            runs.values().all(|n| *n == 1),
            "{}: a job ran twice: {runs:?}",
            db.name
        );
        assert!(
            recorder.overlaps.lock().unwrap().is_empty(),
            "{}: overlaps {:?}",
            db.name,
            recorder.overlaps
        );
        for (key, ids) in recorder.order.lock().unwrap().iter() {
            if key.is_empty() {
                continue;
            }
            let mut sorted = ids.clone();
            sorted.sort();
            assert_eq!(ids, &sorted, "{}: {key} ran out of order", db.name);
        }
        let mut conn = store.reader().await.unwrap();
        let depth = queue::depth(&mut conn).await.unwrap();
        assert!(depth.is_empty(), "{}: jobs left: {depth:?}", db.name);
    }
}

/// Fails every attempt, and records what `discarded` was told.
#[derive(Default)]
struct AlwaysFails {
    attempts: Mutex<Vec<i64>>,
    discarded: Mutex<Vec<String>>,
    permanent: bool,
}

impl JobHandler for AlwaysFails {
    fn run<'a>(&'a self, ctx: &'a JobContext) -> BoxFuture<'a, Result<(), JobError>> {
        Box::pin(async move {
            self.attempts.lock().unwrap().push(ctx.now_ms());
            if self.permanent {
                Err(JobError::Permanent("cannot ever work".into()))
            } else {
                Err(JobError::Retry(format!(
                    "attempt {} failed",
                    ctx.job.attempt
                )))
            }
        })
    }

    fn discarded<'a>(&'a self, failed: Discarded<'a>) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            self.discarded
                .lock()
                .unwrap()
                .push(failed.error.to_string());
            Ok(())
        })
    }
}

#[tokio::test]
async fn failing_jobs_back_off_then_fail_for_good_with_their_last_error() {
    for db in databases().await {
        let store = db.store().await;
        let handler = Arc::new(AlwaysFails::default());
        enqueue(
            &store,
            &[NewJob {
                run_at: SystemClock.now_ms(),
                ..job("doomed", None)
            }],
        )
        .await;
        let (stop_tx, stop) = watch::channel(false);
        let worker = start_worker(&store, handler.clone(), 1, &stop);
        job_in_state(&store, "doomed", "failed", Duration::from_secs(10)).await;
        stop_tx.send(true).unwrap();
        worker.await.unwrap();
        let attempts = handler.attempts.lock().unwrap().clone();
        assert_eq!(attempts.len(), 3, "{}", db.name);
        let gaps: Vec<i64> = attempts.windows(2).map(|w| w[1] - w[0]).collect();
        // Backoff 10 ms doubling with jitter in the upper half: >= 5 ms, then >= 10 ms.
        assert!(gaps[0] >= 5 && gaps[1] >= 10, "{}: {gaps:?}", db.name);
        assert_eq!(
            *handler.discarded.lock().unwrap(),
            ["attempt 3 failed"],
            "{}",
            db.name
        );
    }
}

#[tokio::test]
async fn a_permanent_error_fails_the_job_without_retrying() {
    let db = crate::support::db::sqlite();
    let store = db.store().await;
    let handler = Arc::new(AlwaysFails {
        permanent: true,
        ..AlwaysFails::default()
    });
    enqueue(
        &store,
        &[NewJob {
            run_at: SystemClock.now_ms(),
            ..job("bad", None)
        }],
    )
    .await;
    let (stop_tx, stop) = watch::channel(false);
    let worker = start_worker(&store, handler.clone(), 1, &stop);
    let row = job_in_state(&store, "bad", "failed", Duration::from_secs(10)).await;
    stop_tx.send(true).unwrap();
    worker.await.unwrap();
    assert_eq!(
        (row.attempt, row.last_error.as_deref()),
        (1, Some("cannot ever work"))
    );
    assert_eq!(handler.attempts.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn a_job_whose_worker_died_on_its_last_attempt_fails_when_reaped_without_running_again() {
    for db in databases().await {
        let store = db.store().await;
        let now = SystemClock.now_ms();
        enqueue(
            &store,
            &[NewJob {
                max_attempts: 1,
                run_at: now,
                ..job("orphan", None)
            }],
        )
        .await;
        let mut conn = store.writer().await.unwrap();
        let claimed = queue::claim(
            &mut conn,
            store.backend(),
            "dead-worker",
            Kinds::All,
            1,
            now,
            now + 10,
        )
        .await
        .unwrap();
        assert_eq!(claimed.len(), 1);
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert_eq!(
            queue::reap_expired(&mut conn, SystemClock.now_ms())
                .await
                .unwrap()
                .len(),
            1
        );
        drop(conn);
        let handler = Arc::new(AlwaysFails::default());
        let (stop_tx, stop) = watch::channel(false);
        let worker = start_worker(&store, handler.clone(), 1, &stop);
        let row = job_in_state(&store, "orphan", "failed", Duration::from_secs(10)).await;
        stop_tx.send(true).unwrap();
        worker.await.unwrap();
        assert!(
            handler.attempts.lock().unwrap().is_empty(),
            "{}: it must not run again",
            db.name
        );
        let error = row.last_error.unwrap();
        assert!(
            error.contains("gave up after 1 attempts") && error.contains("dead-worker"),
            "{}: {error}",
            db.name
        );
        assert_eq!(handler.discarded.lock().unwrap().len(), 1);
    }
}

/// Holds its job until told, to test what shutdown does with running jobs.
struct Hangs;

impl JobHandler for Hangs {
    fn run<'a>(&'a self, _ctx: &'a JobContext) -> BoxFuture<'a, Result<(), JobError>> {
        Box::pin(async {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            Ok(())
        })
    }
}

#[tokio::test]
async fn shutdown_hands_back_jobs_still_running_after_the_grace_period() {
    for db in databases().await {
        let store = db.store().await;
        enqueue(
            &store,
            &[NewJob {
                run_at: SystemClock.now_ms(),
                ..job("long", None)
            }],
        )
        .await;
        let mut handlers = Handlers::default();
        handlers.register::<TestJob>(Hangs);
        let worker = Worker::new(
            Queue {
                store: store.clone(),
                clock: Arc::new(SystemClock),
                wake: Wake::new(),
                metrics: Arc::new(Metrics::default()),
            },
            handlers,
            jobs_config(1),
        );
        let (stop_tx, stop) = watch::channel(false);
        let task = tokio::spawn(worker.run(stop, Duration::from_millis(100)));
        job_in_state(&store, "long", "running", Duration::from_secs(5)).await;
        stop_tx.send(true).unwrap();
        tokio::time::timeout(Duration::from_secs(5), task)
            .await
            .expect("stops within the grace")
            .unwrap();
        let mut conn = store.reader().await.unwrap();
        let row = queue::find(&mut conn, "long").await.unwrap().unwrap();
        assert_eq!(
            (row.state.as_str(), row.attempt, row.lease_owner),
            ("available", 0, None),
            "{}",
            db.name
        );
    }
}

#[tokio::test]
async fn a_worker_stops_an_attempt_whose_lease_was_taken_over() {
    let db = crate::support::db::sqlite();
    let store = db.store().await;
    let clock = ManualClock::at(SystemClock.now_ms());
    enqueue(
        &store,
        &[NewJob {
            run_at: clock.now_ms(),
            ..job("taken", None)
        }],
    )
    .await;
    let mut handlers = Handlers::default();
    handlers.register::<TestJob>(Hangs);
    let mut config = jobs_config(1);
    config.lease = Duration::from_millis(300);
    let worker = Worker::new(
        Queue {
            store: store.clone(),
            clock: Arc::new(clock.clone()),
            wake: Wake::new(),
            metrics: Arc::new(Metrics::default()),
        },
        handlers,
        config,
    );
    let (stop_tx, stop) = watch::channel(false);
    let task = tokio::spawn(worker.run(stop, Duration::from_secs(5)));
    let running = job_in_state(&store, "taken", "running", Duration::from_secs(5)).await;
    // Another process reaps the lease and claims the job while this worker's clock stands still.
    let later = clock.now_ms() + 10_000;
    let mut conn = store.writer().await.unwrap();
    queue::reap_expired(&mut conn, later).await.unwrap();
    let other = queue::claim(
        &mut conn,
        store.backend(),
        "other",
        Kinds::All,
        1,
        later,
        later + 60_000,
    )
    .await
    .unwrap();
    assert_eq!((other[0].id, other[0].attempt), (running.id, 2));
    drop(conn);
    // The first worker's next heartbeat finds it no longer holds the job and stops the attempt;
    // shutting down then has nothing to hand back.
    tokio::time::sleep(Duration::from_millis(400)).await;
    stop_tx.send(true).unwrap();
    tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .unwrap()
        .unwrap();
    let mut conn = store.reader().await.unwrap();
    let row = queue::find(&mut conn, "taken").await.unwrap().unwrap();
    assert_eq!(
        (row.state.as_str(), row.lease_owner.as_deref()),
        ("running", Some("other"))
    );
}

#[tokio::test]
async fn on_postgres_a_job_enqueued_by_another_process_wakes_an_idle_worker_at_once() {
    let Some(db) = crate::support::db::postgres().await else {
        eprintln!("skipped: NOTIFY wake-ups need PostgreSQL (ADE_TEST_DATABASE_URL is not set)");
        return;
    };
    let store = db.store().await;
    let recorder = Arc::new(Recorder::default());
    let mut handlers = Handlers::default();
    handlers.register::<TestJob>(recorder.clone());
    let mut config = jobs_config(1);
    // A poll and a heartbeat this far apart mean only a notification can wake the worker within
    // the test.
    config.poll_interval = Duration::from_secs(120);
    config.lease = Duration::from_secs(600);
    let wake = Wake::new();
    let (stop_tx, stop) = watch::channel(false);
    let listener = wake.listen(&store, stop.clone()).expect("postgres listens");
    let worker = Worker::new(
        Queue {
            store: store.clone(),
            clock: Arc::new(SystemClock),
            wake,
            metrics: Arc::new(Metrics::default()),
        },
        handlers,
        config,
    );
    let task = tokio::spawn(worker.run(stop, Duration::from_secs(1)));
    // Let the worker go idle (its first claim finds nothing) and the listener subscribe.
    tokio::time::sleep(Duration::from_millis(500)).await;

    let other_process = db.store().await;
    enqueue(
        &other_process,
        &[NewJob {
            run_at: SystemClock.now_ms(),
            ..job("woken", None)
        }],
    )
    .await;
    eventually(
        Duration::from_secs(5),
        "the notified worker to run the job",
        || async {
            recorder
                .runs
                .lock()
                .unwrap()
                .contains_key("woken")
                .then_some(())
        },
    )
    .await;
    stop_tx.send(true).unwrap();
    task.await.unwrap();
    listener.await.unwrap();
}

/// Enqueues a `next` job in the transaction that completes its own.
struct Chains;

impl JobHandler for Chains {
    fn run<'a>(&'a self, ctx: &'a JobContext) -> BoxFuture<'a, Result<(), JobError>> {
        Box::pin(async move {
            let mut tx = ctx.store().begin().await?;
            let next = NewJob {
                kind: NextJob::KIND.into(),
                run_at: ctx.now_ms(),
                ..job(&format!("after-{}", ctx.job.idempotency_key), None)
            };
            queue::enqueue(&mut tx, &next, ctx.now_ms()).await?;
            ctx.finish(tx).await
        })
    }
}

#[tokio::test]
async fn a_job_a_handler_enqueues_wakes_the_worker_that_claims_its_kind_at_once() {
    for db in databases().await {
        let store = db.store().await;
        let recorder = Arc::new(Recorder::default());
        // Polls this far apart mean only a wake-up can start the chained job within the test.
        let mut config = jobs_config(1);
        config.poll_interval = Duration::from_secs(120);
        config.lease = Duration::from_secs(600);
        let wake = Wake::new();
        let (stop_tx, stop) = watch::channel(false);
        let mut first = Handlers::default();
        first.register::<TestJob>(Chains);
        let mut second = Handlers::default();
        second.register::<NextJob>(recorder.clone());
        let worker = |handlers| {
            Worker::new(
                Queue {
                    store: store.clone(),
                    clock: Arc::new(SystemClock),
                    wake: wake.clone(),
                    metrics: Arc::new(Metrics::default()),
                },
                handlers,
                config.clone(),
            )
        };
        let chaining = tokio::spawn(
            worker(first)
                .except(&[NextJob::KIND])
                .run(stop.clone(), Duration::from_secs(1)),
        );
        let chained = tokio::spawn(
            worker(second)
                .only(&[NextJob::KIND])
                .run(stop, Duration::from_secs(1)),
        );
        // Both go idle: their first claims find nothing.
        tokio::time::sleep(Duration::from_millis(300)).await;
        enqueue(
            &store,
            &[NewJob {
                run_at: SystemClock.now_ms(),
                ..job("start", None)
            }],
        )
        .await;
        // The enqueuer of "start" (the inbox, in ade) wakes both workers; the one running `next`
        // jobs finds nothing yet and sleeps again until the handler's enqueue wakes it.
        wake.notify();
        eventually(
            Duration::from_secs(5),
            &format!("{}: the chained job to run", db.name),
            || async {
                recorder
                    .runs
                    .lock()
                    .unwrap()
                    .contains_key("after-start")
                    .then_some(())
            },
        )
        .await;
        stop_tx.send(true).unwrap();
        chaining.await.unwrap();
        chained.await.unwrap();
    }
}

#[tokio::test]
async fn many_jobs_enqueue_in_one_go_in_order_skipping_taken_keys() {
    for db in databases().await {
        let store = db.store().await;
        enqueue(&store, &[job("k5", Some("k"))]).await;
        let jobs: Vec<NewJob> = (0..2_500)
            .map(|i| job(&format!("k{i}"), Some("k")))
            .collect();
        let mut tx = store.begin().await.unwrap();
        let stored = queue::enqueue_many(&mut tx, &jobs, T0).await.unwrap();
        tx.commit().await.unwrap();
        assert_eq!(stored, 2_499, "{}: k5 was taken", db.name);
        // They run in the order given, after the one enqueued before them.
        let mut order = Vec::new();
        for _ in 0..6 {
            let claimed = claim(&store, "w", 10, T0).await;
            assert_eq!(claimed.len(), 1, "{}: one key, one at a time", db.name);
            let mut conn = store.writer().await.unwrap();
            queue::settle(
                &mut conn,
                fence(&claimed[0], "w"),
                Settle::Complete { now: T0 },
            )
            .await
            .unwrap();
            order.push(claimed[0].idempotency_key.clone());
        }
        assert_eq!(order, ["k5", "k0", "k1", "k2", "k3", "k4"], "{}", db.name);
    }
}

#[tokio::test]
async fn a_key_queued_behind_a_long_queue_of_another_key_still_runs_at_once() {
    for db in databases().await {
        let store = db.store().await;
        let mut jobs: Vec<NewJob> = (0..300).map(|i| job(&format!("a{i}"), Some("a"))).collect();
        jobs.push(job("b0", Some("b")));
        jobs.push(job("free", None));
        enqueue(&store, &jobs).await;
        assert_eq!(
            keys(&claim(&store, "w", 10, T0).await),
            ["a0", "b0", "free"],
            "{}",
            db.name
        );
        assert!(claim(&store, "w", 10, T0).await.is_empty(), "{}", db.name);
    }
}

/// Heads with nothing queued behind them go first, so a quiet repository's command never waits
/// for a busy one's backlog; a head that has waited five minutes goes first again, so a stream of
/// quiet repositories never starves a busy one either.
#[tokio::test]
async fn lone_heads_go_first_until_a_backlog_has_waited_too_long() {
    for db in databases().await {
        let store = db.store().await;
        let mut jobs: Vec<NewJob> = Vec::new();
        for key in ["a", "b"] {
            jobs.extend((0..3).map(|i| job(&format!("{key}{i}"), Some(key))));
        }
        jobs.push(job("c0", Some("c")));
        jobs.push(job("d0", Some("d")));
        enqueue(&store, &jobs).await;
        assert_eq!(
            keys(&claim(&store, "w", 2, T0 + 1_000).await),
            ["c0", "d0"],
            "{}",
            db.name
        );
        let later = T0 + ade::store::jobs::STARVED_MS;
        let mut tx = store.begin().await.unwrap();
        for key in ["e", "f"] {
            queue::enqueue(&mut tx, &job(&format!("{key}0"), Some(key)), later)
                .await
                .unwrap();
        }
        tx.commit().await.unwrap();
        assert_eq!(
            keys(&claim(&store, "w", 2, later + 1_000).await),
            ["a0", "b0"],
            "{}: the backlog waited long enough",
            db.name
        );
        assert_eq!(
            keys(&claim(&store, "w", 2, later + 1_000).await),
            ["e0", "f0"],
            "{}",
            db.name
        );
    }
}

#[tokio::test]
async fn workers_can_take_only_some_kinds_or_all_but_some() {
    for db in databases().await {
        let store = db.store().await;
        let run = |key: &str| NewJob {
            kind: "run".into(),
            ..job(key, None)
        };
        enqueue(
            &store,
            &[run("r1"), job("a1", None), run("r2"), job("a2", None)],
        )
        .await;
        let mut conn = store.writer().await.unwrap();
        let only = ["run"];
        let runs = queue::claim(
            &mut conn,
            store.backend(),
            "runner",
            Kinds::Only(&only),
            10,
            T0,
            T0 + 1_000,
        )
        .await
        .unwrap();
        let others = queue::claim(
            &mut conn,
            store.backend(),
            "worker",
            Kinds::Except(&only),
            10,
            T0,
            T0 + 1_000,
        )
        .await
        .unwrap();
        assert_eq!(keys(&runs), ["r1", "r2"], "{}", db.name);
        assert_eq!(keys(&others), ["a1", "a2"], "{}", db.name);
    }
}
