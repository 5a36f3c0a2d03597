//! The durable job queue's queries. The rules they enforce (leases, fencing, per-key order) are
//! described in `crate::jobs`; this file only says them in SQL.

use super::query::moved;
use super::{Backend, Conn, Context, StoreError};
use sqlx::{Executor, Row};

/// A job about to be enqueued.
#[derive(Clone, Debug)]
pub struct NewJob {
    /// Which handler runs it.
    pub kind: String,
    /// Unique across all jobs: enqueuing the same key twice stores one job.
    pub idempotency_key: String,
    /// Jobs sharing a key run one at a time, in the order they were enqueued.
    pub ordering_key: Option<String>,
    /// The handler's input, as JSON.
    pub payload: String,
    /// Attempts before the job fails for good.
    pub max_attempts: i64,
    /// Earliest time it may run.
    pub run_at: i64,
}

/// A job a worker holds a lease on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClaimedJob {
    /// The job id.
    pub id: i64,
    /// Which handler runs it.
    pub kind: String,
    /// Its idempotency key.
    pub idempotency_key: String,
    /// Its ordering key.
    pub ordering_key: Option<String>,
    /// The handler's input.
    pub payload: String,
    /// This attempt's number, from 1; also the fencing token.
    pub attempt: i64,
    /// Attempts allowed.
    pub max_attempts: i64,
    /// The error of the previous attempt, if any.
    pub last_error: Option<String>,
    /// When it was enqueued.
    pub created_at: i64,
}

/// Identifies one attempt of one job held by one worker; a write guarded by a fence succeeds only
/// if the job is still running under this very attempt and owner.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fence<'a> {
    /// The job id.
    pub id: i64,
    /// The attempt number the worker claimed.
    pub attempt: i64,
    /// The worker's id.
    pub owner: &'a str,
}

/// A job as stored, for status pages and tests.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JobRow {
    /// The job id.
    pub id: i64,
    /// Which handler runs it.
    pub kind: String,
    /// Its idempotency key.
    pub idempotency_key: String,
    /// `available`, `running`, `completed`, `failed` or `cancelled`.
    pub state: String,
    /// Attempts made so far.
    pub attempt: i64,
    /// Attempts allowed.
    pub max_attempts: i64,
    /// Earliest time of the next attempt.
    pub run_at: i64,
    /// The worker holding it, while running.
    pub lease_owner: Option<String>,
    /// The last attempt's error.
    pub last_error: Option<String>,
}

/// The start of every job `INSERT`; [`bind_job`] binds a row's values in this order.
pub(super) const INSERT_JOBS: &str = "INSERT INTO jobs \
    (kind, idempotency_key, ordering_key, payload, max_attempts, run_at, created_at) VALUES ";

/// What makes enqueuing a job a second time a no-op.
pub(super) const UNLESS_ENQUEUED: &str = "ON CONFLICT (idempotency_key) DO NOTHING";

/// Binds one row of [`INSERT_JOBS`] after the values already bound.
fn bind_job<'q>(
    query: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
    job: &'q NewJob,
    now: i64,
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
    query
        .bind(&job.kind)
        .bind(&job.idempotency_key)
        .bind(job.ordering_key.as_deref())
        .bind(&job.payload)
        .bind(job.max_attempts)
        .bind(job.run_at)
        .bind(now)
}

/// Enqueues a job unless its idempotency key is taken. Returns the new id, or `None`.
pub async fn enqueue(conn: &mut Conn, job: &NewJob, now: i64) -> Result<Option<i64>, StoreError> {
    let sql = format!("{INSERT_JOBS}($1, $2, $3, $4, $5, $6, $7) {UNLESS_ENQUEUED} RETURNING id");
    let row = bind_job(sqlx::query(&sql), job, now)
        .fetch_optional(&mut *conn)
        .await
        .context("enqueue job")?;
    let id = row
        .map(|r| r.try_get::<i64, _>(0))
        .transpose()
        .context("read job id")?;
    if id.is_some() {
        enqueued(conn).await?;
    }
    Ok(id)
}

/// Makes every waiting job of `kind` due now, for a restart after the operator fixed what they
/// waited on. Returns how many were brought forward.
pub async fn due_now(conn: &mut Conn, kind: &str, now: i64) -> Result<u64, StoreError> {
    let done = sqlx::query(
        "UPDATE jobs SET run_at = $1 WHERE kind = $2 AND state = 'available' AND run_at > $1",
    )
    .bind(now)
    .bind(kind)
    .execute(&mut *conn)
    .await
    .context("bring jobs forward")?;
    if done.rows_affected() > 0 {
        enqueued(conn).await?;
    }
    Ok(done.rows_affected())
}

/// Makes the waiting job with `idempotency_key` due now, if there is one and it was due later.
/// Returns whether there was.
pub async fn key_due_now(
    conn: &mut Conn,
    idempotency_key: &str,
    now: i64,
) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "UPDATE jobs SET run_at = $1 WHERE idempotency_key = $2 AND state = 'available' \
         AND run_at > $1",
    )
    .bind(now)
    .bind(idempotency_key)
    .execute(&mut *conn)
    .await
    .context("bring a job forward")?;
    if done.rows_affected() > 0 {
        enqueued(conn).await?;
    }
    Ok(done.rows_affected() > 0)
}

/// Brings the waiting (available, not yet due) job of `kind` with `ordering_key` forward to
/// `at`, for news that the job should act on sooner than it put itself off; a job due before
/// `at`, or running, is left as it is. Returns whether one moved.
pub async fn bring_forward(
    conn: &mut Conn,
    kind: &str,
    ordering_key: &str,
    at: i64,
) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "UPDATE jobs SET run_at = $1 \
         WHERE kind = $2 AND ordering_key = $3 AND state = 'available' AND run_at > $1",
    )
    .bind(at)
    .bind(kind)
    .bind(ordering_key)
    .execute(&mut *conn)
    .await
    .context("bring a job forward")?;
    if done.rows_affected() > 0 {
        enqueued(conn).await?;
    }
    Ok(done.rows_affected() > 0)
}

/// Enqueues several jobs in as few statements as the database's parameter limit allows, in the
/// given order; jobs whose idempotency key is taken are skipped. Returns how many were stored. One
/// multi-row INSERT instead of a statement per job is what lets the inbox keep up with its disk.
pub async fn enqueue_many(conn: &mut Conn, jobs: &[NewJob], now: i64) -> Result<u64, StoreError> {
    const COLUMNS: usize = 7;
    // Well under SQLite's (32,766) and PostgreSQL's (65,535) limits on bound parameters.
    const ROWS_PER_STATEMENT: usize = 1_000;
    let mut stored = 0;
    for chunk in jobs.chunks(ROWS_PER_STATEMENT) {
        let mut sql = String::from(INSERT_JOBS);
        for row in 0..chunk.len() {
            let first = row * COLUMNS;
            let placeholders: Vec<String> =
                (1..=COLUMNS).map(|c| format!("${}", first + c)).collect();
            if row > 0 {
                sql.push_str(", ");
            }
            sql.push('(');
            sql.push_str(&placeholders.join(", "));
            sql.push(')');
        }
        sql.push(' ');
        sql.push_str(UNLESS_ENQUEUED);
        let mut query = sqlx::query(&sql);
        for job in chunk {
            query = bind_job(query, job, now);
        }
        stored += query
            .execute(&mut *conn)
            .await
            .context("enqueue jobs")?
            .rows_affected();
    }
    if stored > 0 {
        enqueued(conn).await?;
    }
    Ok(stored)
}

tokio::task_local! {
    static ENQUEUED: std::cell::Cell<bool>;
}

/// Runs `work` and says whether it enqueued any job, so the worker running a handler can wake the
/// workers of this process once the handler's writes have committed: a run job enqueued by a
/// command would otherwise wait for the runner's next poll.
pub async fn noting_enqueues<T>(work: impl std::future::Future<Output = T>) -> (T, bool) {
    ENQUEUED
        .scope(std::cell::Cell::new(false), async {
            let output = work.await;
            (output, ENQUEUED.with(|flag| flag.get()))
        })
        .await
}

/// After a job was stored: notes it for [`noting_enqueues`], and on PostgreSQL asks for a
/// notification to every process's workers when the enclosing transaction commits (PostgreSQL
/// sends one per transaction however many times it is asked).
async fn enqueued(conn: &mut Conn) -> Result<(), StoreError> {
    let _ = ENQUEUED.try_with(|flag| flag.set(true));
    if Backend::of(conn) == Backend::Postgres {
        conn.execute("NOTIFY ade_jobs")
            .await
            .context("notify workers")?;
    }
    Ok(())
}

/// The PostgreSQL channel that wakes workers when jobs are enqueued.
pub const NOTIFY_CHANNEL: &str = "ade_jobs";

/// Which job kinds a worker claims: runs of agents take minutes, so they get workers of their
/// own and the other workers leave them alone.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kinds<'a> {
    /// Every kind.
    All,
    /// Only these kinds.
    Only(&'a [&'a str]),
    /// Every kind but these.
    Except(&'a [&'a str]),
}

impl Kinds<'_> {
    /// The SQL condition, on an unqualified `kind` column. Kinds are ade's own constants, never
    /// input, and are quoted as literals all the same.
    fn condition(self) -> String {
        let list = |kinds: &[&str]| {
            kinds
                .iter()
                .map(|k| format!("'{}'", k.replace('\'', "''")))
                .collect::<Vec<_>>()
                .join(", ")
        };
        match self {
            Kinds::All => String::new(),
            Kinds::Only([]) => "AND 1 = 0".to_string(),
            Kinds::Only(kinds) => format!("AND kind IN ({})", list(kinds)),
            Kinds::Except([]) => String::new(),
            Kinds::Except(kinds) => format!("AND kind NOT IN ({})", list(kinds)),
        }
    }
}

/// How long a job may wait behind heads with nothing queued behind them before it goes first
/// again, in milliseconds: the bound on how long a repository's backlog waits for quiet ones.
pub const STARVED_MS: i64 = 300_000;

/// Claims up to `limit` due jobs for `owner`, leased until `lease_until`.
///
/// Only the oldest unfinished job of each ordering key is eligible, so jobs sharing a key run one
/// at a time and in order, also across processes: a later job stays ineligible while an earlier
/// one is available, running, or waiting out a retry. On PostgreSQL rows another process is
/// claiming are skipped (`FOR UPDATE SKIP LOCKED`) rather than waited for.
pub async fn claim(
    conn: &mut Conn,
    backend: Backend,
    owner: &str,
    kinds: Kinds<'_>,
    limit: i64,
    now: i64,
    lease_until: i64,
) -> Result<Vec<ClaimedJob>, StoreError> {
    let kinds = kinds.condition();
    // Each engine gets the shape its planner runs as a handful of index probes: PostgreSQL looks
    // the candidates up by an array of ids (a join there may be planned as a scan of every waiting
    // job) and skips rows another process is claiming; SQLite looks them up with IN.
    let (candidates, lock) = match backend {
        Backend::Postgres => (
            "j.id = ANY(ARRAY(SELECT id FROM candidates))",
            "FOR UPDATE SKIP LOCKED",
        ),
        Backend::Sqlite => ("j.id IN (SELECT id FROM candidates)", ""),
    };
    // The heads are found without reading the jobs queued behind them: a walk over the
    // (ordering_key, id) index of unfinished jobs that jumps from each key's first entry, which is
    // its head, to the next key's, so one index probe per key however long each key's queue.
    // Jobs without a key are always heads. The redundant `state IN (...)` terms let SQLite use the
    // partial index.
    // When there are more heads than free slots, heads with nothing queued behind them go first
    // (one more index probe per head), then the others oldest first: a repository with a backlog
    // of thousands of deliveries must not keep a quiet repository's command waiting until the
    // backlog's older jobs are done. A head that has waited [`STARVED_MS`] goes before both, so a
    // steady stream of lone heads never keeps a backlog waiting for longer than that.
    let sql = format!(
        "WITH RECURSIVE heads(k, id) AS ( \
            SELECT (SELECT ordering_key FROM jobs \
                    WHERE state IN ('available', 'running') AND ordering_key IS NOT NULL \
                    ORDER BY ordering_key, id LIMIT 1), \
                   (SELECT id FROM jobs \
                    WHERE state IN ('available', 'running') AND ordering_key IS NOT NULL \
                    ORDER BY ordering_key, id LIMIT 1) \
            UNION ALL \
            SELECT (SELECT ordering_key FROM jobs \
                    WHERE state IN ('available', 'running') AND ordering_key > heads.k \
                    ORDER BY ordering_key, id LIMIT 1), \
                   (SELECT id FROM jobs \
                    WHERE state IN ('available', 'running') AND ordering_key > heads.k \
                    ORDER BY ordering_key, id LIMIT 1) \
            FROM heads WHERE heads.k IS NOT NULL \
         ), \
         candidates(id) AS ( \
            SELECT id FROM heads WHERE k IS NOT NULL \
            UNION ALL \
            SELECT id FROM ( \
                SELECT id FROM jobs \
                WHERE ordering_key IS NULL AND state IN ('available', 'running') \
                  AND state = 'available' AND run_at <= $3 {kinds} \
                ORDER BY ordering_key, id LIMIT $4) AS unordered \
         ) \
         UPDATE jobs SET state = 'running', attempt = attempt + 1, \
                lease_owner = $1, lease_expires_at = $2 \
         WHERE id IN ( \
            SELECT j.id FROM jobs j \
            WHERE {candidates} AND j.state = 'available' AND j.run_at <= $3 {kinds} \
            ORDER BY CASE WHEN j.created_at <= $3 - {STARVED_MS} THEN 0 \
                          WHEN EXISTS (SELECT 1 FROM jobs q \
                                       WHERE q.ordering_key = j.ordering_key \
                                         AND q.state IN ('available', 'running') \
                                         AND q.id > j.id) THEN 2 \
                          ELSE 1 END, \
                     j.id \
            LIMIT $4 {lock}) \
         RETURNING id, kind, idempotency_key, ordering_key, payload, attempt, max_attempts, \
                   last_error, created_at"
    );
    let rows = sqlx::query(&sql)
        .bind(owner)
        .bind(lease_until)
        .bind(now)
        .bind(limit)
        .fetch_all(conn)
        .await
        .context("claim jobs")?;
    let mut jobs = rows
        .iter()
        .map(|row| {
            Ok(ClaimedJob {
                id: row.try_get("id")?,
                kind: row.try_get("kind")?,
                idempotency_key: row.try_get("idempotency_key")?,
                ordering_key: row.try_get("ordering_key")?,
                payload: row.try_get("payload")?,
                attempt: row.try_get("attempt")?,
                max_attempts: row.try_get("max_attempts")?,
                last_error: row.try_get("last_error")?,
                created_at: row.try_get("created_at")?,
            })
        })
        .collect::<Result<Vec<_>, sqlx::Error>>()
        .context("read claimed job")?;
    jobs.sort_by_key(|job| job.id);
    Ok(jobs)
}

/// What a fenced write does to a job; the lease is cleared in every case.
pub enum Settle<'e> {
    /// Done: `completed`.
    Complete { now: i64 },
    /// Back to `available` to wait for its next attempt at this time.
    Retry { run_at: i64, error: &'e str },
    /// Failed for good.
    Fail { now: i64, error: &'e str },
    /// Handed back unrun (its worker is shutting down): `available` at once, the attempt not
    /// counted; its `last_error` says it may have partly run.
    Release { now: i64 },
}

/// Writes an attempt's result if the fence still holds: the job is running under this very
/// attempt and owner. Returns whether it did. The one write of every result, so a result can
/// never skip the fence.
pub async fn settle(
    conn: &mut Conn,
    fence: Fence<'_>,
    outcome: Settle<'_>,
) -> Result<bool, StoreError> {
    // Every statement uses $1 (a time) and $2 (an error or NULL), then the fence.
    let (set, time, error) = match outcome {
        Settle::Complete { now } => (
            "state = 'completed', finished_at = $1, last_error = $2",
            now,
            None,
        ),
        Settle::Retry { run_at, error } => (
            "state = 'available', run_at = $1, last_error = $2",
            run_at,
            Some(error),
        ),
        Settle::Fail { now, error } => (
            "state = 'failed', finished_at = $1, last_error = $2",
            now,
            Some(error),
        ),
        Settle::Release { now } => (
            "state = 'available', run_at = $1, attempt = attempt - 1, last_error = $2",
            now,
            Some(RELEASED),
        ),
    };
    let sql = format!(
        "UPDATE jobs SET {set}, lease_owner = NULL, lease_expires_at = NULL \
         WHERE id = $3 AND attempt = $4 AND lease_owner = $5 AND state = 'running'"
    );
    moved(
        conn,
        sqlx::query(&sql)
            .bind(time)
            .bind(error)
            .bind(fence.id)
            .bind(fence.attempt)
            .bind(fence.owner),
        "write job result",
    )
    .await
}

/// The `last_error` of a job handed back at shutdown: its next attempt may find it partly done.
pub const RELEASED: &str = "handed back unfinished when its worker shut down";

/// Extends the leases of every job `owner` runs; returns `(id, attempt)` of those it still holds,
/// so the worker can stop the ones it lost.
pub async fn heartbeat(
    conn: &mut Conn,
    owner: &str,
    lease_until: i64,
) -> Result<Vec<(i64, i64)>, StoreError> {
    let rows = sqlx::query(
        "UPDATE jobs SET lease_expires_at = $1 \
         WHERE lease_owner = $2 AND state = 'running' \
         RETURNING id, attempt",
    )
    .bind(lease_until)
    .bind(owner)
    .fetch_all(conn)
    .await
    .context("renew leases")?;
    rows.iter()
        .map(|row| Ok((row.try_get(0)?, row.try_get(1)?)))
        .collect::<Result<Vec<_>, sqlx::Error>>()
        .context("read renewed leases")
}

/// Makes jobs whose lease expired (their worker died or hung) available again at once. The attempt
/// they used stays counted: a job that was on its last attempt fails when next claimed.
pub async fn reap_expired(conn: &mut Conn, now: i64) -> Result<Vec<i64>, StoreError> {
    let rows = sqlx::query(
        "UPDATE jobs SET state = 'available', run_at = $1, \
                last_error = 'lease expired: the worker ' || lease_owner || ' stopped renewing it', \
                lease_owner = NULL, lease_expires_at = NULL \
         WHERE state = 'running' AND lease_expires_at < $1 \
         RETURNING id",
    )
    .bind(now)
    .fetch_all(conn)
    .await
    .context("reap expired leases")?;
    rows.iter()
        .map(|row| row.try_get(0))
        .collect::<Result<Vec<i64>, sqlx::Error>>()
        .context("read reaped jobs")
}

/// Which finished jobs a prune deletes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Finished {
    /// Completed and cancelled jobs.
    Done,
    /// Jobs that failed for good.
    Failed,
}

/// Deletes up to [`super::retention::BATCH`] `which` jobs that finished before `before`, oldest
/// first. Returns their ids.
pub async fn prune_finished(
    conn: &mut Conn,
    which: Finished,
    before: i64,
) -> Result<Vec<i64>, StoreError> {
    let states = match which {
        Finished::Done => "'completed', 'cancelled'",
        Finished::Failed => "'failed'",
    };
    let sql = format!(
        "DELETE FROM jobs WHERE id IN (SELECT id FROM jobs WHERE state IN ({states}) \
         AND finished_at < $1 ORDER BY id LIMIT {}) RETURNING id",
        super::retention::BATCH
    );
    let rows = sqlx::query(&sql)
        .bind(before)
        .fetch_all(conn)
        .await
        .context("prune finished jobs")?;
    let mut ids = rows
        .iter()
        .map(|row| row.try_get::<i64, _>(0))
        .collect::<Result<Vec<_>, _>>()
        .context("read pruned job ids")?;
    ids.sort_unstable();
    Ok(ids)
}

/// How many jobs there are of each kind and state, for `/metrics`.
pub async fn depth(conn: &mut Conn) -> Result<Vec<(String, String, i64)>, StoreError> {
    let rows = sqlx::query(
        "SELECT kind, state, COUNT(*) FROM jobs \
         WHERE state IN ('available', 'running', 'failed') GROUP BY kind, state",
    )
    .fetch_all(conn)
    .await
    .context("count jobs")?;
    rows.iter()
        .map(|row| Ok((row.try_get(0)?, row.try_get(1)?, row.try_get(2)?)))
        .collect::<Result<Vec<_>, sqlx::Error>>()
        .context("read job counts")
}

/// Whether a job of `kind` with `ordering_key` waits to run (available, not yet claimed): work
/// that gathers what arrives before it runs (reviews close together) joins it instead of
/// enqueuing another.
pub async fn waiting(conn: &mut Conn, kind: &str, ordering_key: &str) -> Result<bool, StoreError> {
    let row = sqlx::query(
        "SELECT id FROM jobs WHERE ordering_key = $1 AND kind = $2 AND state = 'available' \
         LIMIT 1",
    )
    .bind(ordering_key)
    .bind(kind)
    .fetch_optional(conn)
    .await
    .context("find a waiting job")?;
    Ok(row.is_some())
}

/// Reads a job by its idempotency key.
pub async fn find(conn: &mut Conn, idempotency_key: &str) -> Result<Option<JobRow>, StoreError> {
    let row = sqlx::query(
        "SELECT id, kind, idempotency_key, state, attempt, max_attempts, run_at, lease_owner, \
                last_error \
         FROM jobs WHERE idempotency_key = $1",
    )
    .bind(idempotency_key)
    .fetch_optional(conn)
    .await
    .context("find job")?;
    row.map(|row| {
        Ok(JobRow {
            id: row.try_get("id")?,
            kind: row.try_get("kind")?,
            idempotency_key: row.try_get("idempotency_key")?,
            state: row.try_get("state")?,
            attempt: row.try_get("attempt")?,
            max_attempts: row.try_get("max_attempts")?,
            run_at: row.try_get("run_at")?,
            lease_owner: row.try_get("lease_owner")?,
            last_error: row.try_get("last_error")?,
        })
    })
    .transpose()
    .context("read job")
}
