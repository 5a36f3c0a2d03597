//! The stored side of rate limits and budgets (docs/limits.md): token buckets taken from in the
//! transaction of the work they limit, so two replicas never both take the last token, and what a
//! goal's runs and a repository's active runs add up to.

use super::query::{optional, write};
use super::{Backend, Conn, Context, StoreError};
use crate::limits::{Bucket, Over, Rate, Spent};
use sqlx::Row;

/// One bucket to take a token from: its name (see [`Rate::bucket`]), its rate and allowance.
#[derive(Clone, Debug)]
pub struct Want {
    /// The bucket's name.
    pub name: String,
    /// The rate it counts.
    pub rate: Rate,
    /// Its allowance per hour.
    pub per_hour: u32,
}

/// A bucket as read, with when a token was last taken and when someone was last told it was
/// empty.
struct Stored {
    bucket: Bucket,
    taken_at: Option<i64>,
    told_at: Option<i64>,
}

/// Takes one token from every bucket of `wants`, or from none when one is empty: `Err` names the
/// first empty one. Rows are locked in name order (PostgreSQL), so two takers never deadlock;
/// call inside the transaction of the work the tokens pay for.
pub async fn take(
    conn: &mut Conn,
    wants: &[Want],
    now: i64,
) -> Result<Result<(), Over>, StoreError> {
    let mut sorted: Vec<&Want> = wants.iter().collect();
    sorted.sort_by(|a, b| a.name.cmp(&b.name));
    let mut read = Vec::with_capacity(sorted.len());
    for want in &sorted {
        let stored = lock(conn, want, now).await?;
        if let Some(over) = over(want, &stored, now) {
            return Ok(Err(over));
        }
        read.push((want, stored.bucket.at(want.per_hour, now).taken()));
    }
    for (want, bucket) in read {
        write(
            conn,
            sqlx::query(
                "UPDATE rate_buckets SET milli_tokens = $1, updated_at = $2, taken_at = $3 \
                 WHERE name = $4",
            )
            .bind(bucket.milli_tokens)
            .bind(bucket.updated_at)
            .bind(now)
            .bind(want.name.as_str()),
            "take a token",
        )
        .await?;
    }
    Ok(Ok(()))
}

/// Locks the bucket `want` names for this transaction without taking from it: work that paid
/// before (a run let through again) still waits its turn behind the bucket's other takers.
pub async fn lock_only(
    conn: &mut Conn,
    want: &Want,
    now: i64,
) -> Result<Result<(), Over>, StoreError> {
    lock(conn, want, now).await?;
    Ok(Ok(()))
}

/// The first of `wants` that is empty at `now`, read without taking or locking anything: a cheap
/// look before work that may not be allowed (the forge reads of a flood of commands).
pub async fn peek(conn: &mut Conn, wants: &[Want], now: i64) -> Result<Option<Over>, StoreError> {
    for want in wants {
        let stored = optional(
            conn,
            sqlx::query(
                "SELECT milli_tokens, updated_at, taken_at, told_at FROM rate_buckets \
                 WHERE name = $1",
            )
            .bind(want.name.as_str()),
            stored,
            "read a bucket",
        )
        .await?;
        if let Some(stored) = stored
            && let Some(over) = over(want, &stored, now)
        {
            return Ok(Some(over));
        }
    }
    Ok(None)
}

/// Notes that the person over bucket `name` was told, so that the rest of this spell over the
/// limit goes unanswered.
pub async fn told(conn: &mut Conn, name: &str, now: i64) -> Result<(), StoreError> {
    write(
        conn,
        sqlx::query("UPDATE rate_buckets SET told_at = $1 WHERE name = $2")
            .bind(now)
            .bind(name),
        "note a limit was told",
    )
    .await
}

/// Whether `stored` has no whole token for `want` at `now`, and if so when it gets one and whether
/// someone was told since a token was last taken.
fn over(want: &Want, stored: &Stored, now: i64) -> Option<Over> {
    let bucket = stored.bucket.at(want.per_hour, now);
    (!bucket.has_token()).then(|| Over {
        rate: want.rate,
        per_hour: want.per_hour,
        resets_at: bucket.next_token_at(want.per_hour),
        told: stored
            .told_at
            .is_some_and(|told| told >= stored.taken_at.unwrap_or(i64::MIN)),
    })
}

fn stored(r: &sqlx::any::AnyRow) -> Result<Stored, sqlx::Error> {
    Ok(Stored {
        bucket: Bucket {
            milli_tokens: r.try_get(0)?,
            updated_at: r.try_get(1)?,
        },
        taken_at: r.try_get(2)?,
        told_at: r.try_get(3)?,
    })
}

/// The bucket `want` names, made full if it was never used, and locked for this transaction.
async fn lock(conn: &mut Conn, want: &Want, now: i64) -> Result<Stored, StoreError> {
    let full = Bucket::full(want.per_hour, now);
    write(
        conn,
        sqlx::query(
            "INSERT INTO rate_buckets (name, milli_tokens, updated_at) VALUES ($1, $2, $3) \
             ON CONFLICT (name) DO NOTHING",
        )
        .bind(want.name.as_str())
        .bind(full.milli_tokens)
        .bind(full.updated_at),
        "make a bucket",
    )
    .await?;
    let sql = match Backend::of(conn) {
        Backend::Postgres => {
            "SELECT milli_tokens, updated_at, taken_at, told_at FROM rate_buckets \
             WHERE name = $1 FOR UPDATE"
        }
        Backend::Sqlite => {
            "SELECT milli_tokens, updated_at, taken_at, told_at FROM rate_buckets WHERE name = $1"
        }
    };
    optional(
        conn,
        sqlx::query(sql).bind(want.name.as_str()),
        stored,
        "read a bucket",
    )
    .await?
    .ok_or_else(|| StoreError::Corrupt(format!("bucket {} vanished", want.name)))
}

/// What goal `goal` has spent at `now`: its runs let through, the agent time they used (a run
/// under way counts the time since it was let through, until it pushes or ends) and their
/// reported cost; run `except` left out (the run being admitted).
pub async fn spent(
    conn: &mut Conn,
    goal: i64,
    except: Option<i64>,
    now: i64,
) -> Result<Spent, StoreError> {
    let row = sqlx::query(
        "SELECT COUNT(*), \
           CAST(COALESCE(SUM(COALESCE(r.agent_ms, 0) \
                 + CASE WHEN r.under_way_since IS NOT NULL THEN $1 - r.under_way_since ELSE 0 END), \
               0) AS BIGINT), \
           CAST(COALESCE(SUM(r.cost_micro_usd), 0) AS BIGINT) \
         FROM runs r JOIN tasks t ON r.task = t.id JOIN specs s ON t.spec = s.id \
         WHERE s.goal = $2 AND r.admitted_at IS NOT NULL AND r.id <> $3",
    )
    .bind(now)
    .bind(goal)
    .bind(except.unwrap_or(-1))
    .fetch_one(&mut *conn)
    .await
    .context("read a goal's spending")?;
    let runs: i64 = row.try_get(0).context("read a goal's spending")?;
    Ok(Spent {
        runs: u32::try_from(runs).unwrap_or(u32::MAX),
        agent_ms: row.try_get(1).context("read a goal's spending")?,
        cost_micro_usd: row.try_get(2).context("read a goal's spending")?,
    })
}

/// How many runs of `repository`'s goals are under way, let through the limits, other than
/// `except`.
pub async fn active_runs(
    conn: &mut Conn,
    forge: &str,
    repository: &str,
    except: i64,
) -> Result<u32, StoreError> {
    let row = sqlx::query(
        "SELECT COUNT(*) FROM runs r JOIN tasks t ON r.task = t.id JOIN specs s ON t.spec = s.id \
         JOIN goals g ON s.goal = g.id \
         WHERE g.forge = $1 AND g.repository = $2 AND r.state = 'running' \
           AND r.admitted_at IS NOT NULL AND r.id <> $3",
    )
    .bind(forge)
    .bind(repository)
    .bind(except)
    .fetch_one(&mut *conn)
    .await
    .context("count active runs")?;
    let count: i64 = row.try_get(0).context("count active runs")?;
    Ok(u32::try_from(count).unwrap_or(u32::MAX))
}

/// Whether run `run` was let through the limits before (an earlier attempt, a run held for the
/// runner's setup or taken over from a lost runner): it paid its run start then.
pub async fn admitted_before(conn: &mut Conn, run: i64) -> Result<bool, StoreError> {
    let at: Option<Option<i64>> = optional(
        conn,
        sqlx::query("SELECT admitted_at FROM runs WHERE id = $1").bind(run),
        |r| r.try_get(0),
        "read a run's admission",
    )
    .await?;
    Ok(at.flatten().is_some())
}

/// Marks run `run` let through the limits at `now`: from now on it counts as active, and its time
/// counts against its goal's budget until it pushes or ends. Time an earlier attempt left under
/// way (a lost runner) is credited first.
pub async fn admit(conn: &mut Conn, run: i64, now: i64) -> Result<(), StoreError> {
    stop_the_clock(conn, run, now).await?;
    write(
        conn,
        sqlx::query(
            "UPDATE runs SET admitted_at = COALESCE(admitted_at, $1), under_way_since = $1 \
             WHERE id = $2",
        )
        .bind(now)
        .bind(run),
        "let a run through",
    )
    .await
}

/// Credits the time run `run` has been under way to its agent time and stops counting: it pushed
/// (verification is not the agent's time), it was held, or it ended.
pub async fn stop_the_clock(conn: &mut Conn, run: i64, now: i64) -> Result<(), StoreError> {
    write(
        conn,
        sqlx::query(
            "UPDATE runs SET agent_ms = COALESCE(agent_ms, 0) + \
               CASE WHEN $1 > under_way_since THEN $1 - under_way_since ELSE 0 END, \
             under_way_since = NULL WHERE id = $2 AND under_way_since IS NOT NULL",
        )
        .bind(now)
        .bind(run),
        "stop a run's clock",
    )
    .await
}

/// Records what run `run` spent once it ended: the time it was still under way, and the cost
/// its agent reported (if it reports one).
pub async fn spent_by(
    conn: &mut Conn,
    run: i64,
    now: i64,
    cost_micro_usd: Option<i64>,
) -> Result<(), StoreError> {
    stop_the_clock(conn, run, now).await?;
    write(
        conn,
        sqlx::query("UPDATE runs SET cost_micro_usd = $1 WHERE id = $2")
            .bind(cost_micro_usd)
            .bind(run),
        "record what a run's agent said it cost",
    )
    .await
}
