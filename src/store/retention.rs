//! Retention's rows (docs/retention.md): each repository's retention periods as its policy last
//! said them, and the reads and deletes of a purge: handled deliveries by age, finished runs by
//! age with what of them was purged, and the jobs that still need a delivery or its event.

use std::collections::HashSet;

use super::query::{all, write};
use super::{Conn, Context, StoreError};
use crate::forge::ForgeKind;
use crate::policy::{DataClass, RetentionPolicy};
use sqlx::Row;

/// Most rows one purge statement reads or deletes; a purge goes on in batches of this many.
pub const BATCH: i64 = 500;

/// A repository's retention periods, as its policy in force last said them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RepoRules {
    /// The forge's stored name.
    pub forge: String,
    /// `owner/name`.
    pub repository: String,
    /// The periods.
    pub rules: RetentionPolicy,
}

/// Whose data a purge statement reads: one repository's, or that of every repository with no
/// rules stored (and of deliveries about no repository), which take the server's.
#[derive(Clone, Copy, Debug)]
pub enum Whose<'a> {
    /// One repository, under its rules.
    Repository {
        /// The forge's stored name.
        forge: &'a str,
        /// `owner/name`.
        repository: &'a str,
    },
    /// Everything no stored rules cover.
    Others,
}

impl Whose<'_> {
    /// The condition on `alias`'s `forge` and `repository` columns, with its values bound from
    /// placeholder `$first` on.
    fn condition(&self, alias: &str, first: usize) -> String {
        match self {
            Whose::Repository { .. } => format!(
                "{alias}.forge = ${first} AND {alias}.repository = ${}",
                first + 1
            ),
            Whose::Others => format!(
                "NOT EXISTS (SELECT 1 FROM retention_rules x \
                 WHERE x.forge = {alias}.forge AND x.repository = {alias}.repository)"
            ),
        }
    }

    fn bind<'q>(&self, query: super::query::Query<'q>) -> super::query::Query<'q> {
        match *self {
            Whose::Repository { forge, repository } => {
                query.bind(forge.to_owned()).bind(repository.to_owned())
            }
            Whose::Others => query,
        }
    }
}

/// Keeps `rules` as `repository`'s retention, unless they are what is kept already.
pub async fn remember(
    conn: &mut Conn,
    forge: ForgeKind,
    repository: &str,
    rules: &RetentionPolicy,
    now: i64,
) -> Result<(), StoreError> {
    write(
        conn,
        sqlx::query(
            "INSERT INTO retention_rules (forge, repository, deliveries_days, run_logs_days, \
             verification_logs_days, worktrees_days, prompts_days, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
             ON CONFLICT (forge, repository) DO UPDATE SET \
             deliveries_days = excluded.deliveries_days, run_logs_days = excluded.run_logs_days, \
             verification_logs_days = excluded.verification_logs_days, \
             worktrees_days = excluded.worktrees_days, prompts_days = excluded.prompts_days, \
             updated_at = excluded.updated_at \
             WHERE retention_rules.deliveries_days <> excluded.deliveries_days \
             OR retention_rules.run_logs_days <> excluded.run_logs_days \
             OR retention_rules.verification_logs_days <> excluded.verification_logs_days \
             OR retention_rules.worktrees_days <> excluded.worktrees_days \
             OR retention_rules.prompts_days <> excluded.prompts_days",
        )
        .bind(forge.as_str())
        .bind(repository)
        .bind(i64::from(rules.deliveries_days))
        .bind(i64::from(rules.run_logs_days))
        .bind(i64::from(rules.verification_logs_days))
        .bind(i64::from(rules.worktrees_days))
        .bind(i64::from(rules.prompts_days))
        .bind(now),
        "remember a repository's retention",
    )
    .await
}

/// Every repository's stored rules.
pub async fn rules(conn: &mut Conn) -> Result<Vec<RepoRules>, StoreError> {
    all(
        conn,
        sqlx::query(
            "SELECT forge, repository, deliveries_days, run_logs_days, verification_logs_days, \
             worktrees_days, prompts_days FROM retention_rules ORDER BY forge, repository",
        ),
        |row| {
            let days = |i| {
                row.try_get::<i64, _>(i)
                    .map(|d| d.clamp(0, u32::MAX.into()) as u32)
            };
            Ok(RepoRules {
                forge: row.try_get(0)?,
                repository: row.try_get(1)?,
                rules: RetentionPolicy {
                    deliveries_days: days(2)?,
                    run_logs_days: days(3)?,
                    verification_logs_days: days(4)?,
                    worktrees_days: days(5)?,
                    prompts_days: days(6)?,
                },
            })
        },
        "read retention rules",
    )
    .await
}

/// Handled (not pending) deliveries of `whose`, handled before `before`, with ids above `after`:
/// their ids and their events' ids, in id order, at most [`BATCH`].
pub async fn handled_deliveries(
    conn: &mut Conn,
    whose: Whose<'_>,
    before: i64,
    after: i64,
) -> Result<Vec<(i64, Option<i64>)>, StoreError> {
    let sql = format!(
        "SELECT d.id, e.id FROM deliveries d LEFT JOIN events e ON e.delivery = d.id \
         WHERE d.state <> 'pending' AND d.processed_at < $1 AND d.id > $2 AND {} \
         ORDER BY d.id LIMIT {BATCH}",
        whose.condition("d", 3)
    );
    all(
        conn,
        whose.bind(sqlx::query(&sql).bind(before).bind(after)),
        |row| Ok((row.try_get(0)?, row.try_get(1)?)),
        "read handled deliveries",
    )
    .await
}

/// Deletes the deliveries `ids` and their events. Returns how many deliveries went.
pub async fn delete_deliveries(conn: &mut Conn, ids: &[i64]) -> Result<u64, StoreError> {
    if ids.is_empty() {
        return Ok(0);
    }
    let list = placeholders(ids.len());
    let events = format!("DELETE FROM events WHERE delivery IN ({list})");
    let mut query = sqlx::query(&events);
    for id in ids {
        query = query.bind(*id);
    }
    query.execute(&mut *conn).await.context("delete events")?;
    let deliveries = format!("DELETE FROM deliveries WHERE id IN ({list})");
    let mut query = sqlx::query(&deliveries);
    for id in ids {
        query = query.bind(*id);
    }
    let done = query.execute(conn).await.context("delete deliveries")?;
    Ok(done.rows_affected())
}

/// The deliveries and events that jobs not yet finished, or failed and kept, still name (a job's
/// payload names them as `delivery` or `event`): a purge leaves them, so a job never loses what
/// it handles.
pub async fn still_needed(conn: &mut Conn) -> Result<(HashSet<i64>, HashSet<i64>), StoreError> {
    let payloads: Vec<String> = all(
        conn,
        sqlx::query("SELECT payload FROM jobs WHERE state IN ('available', 'running', 'failed')"),
        |row| row.try_get(0),
        "read the payloads of unfinished jobs",
    )
    .await?;
    let (mut deliveries, mut events) = (HashSet::new(), HashSet::new());
    for payload in payloads {
        let Ok(value) = serde_json::from_str::<serde_json::Value>(&payload) else {
            continue;
        };
        if let Some(id) = value.get("delivery").and_then(|v| v.as_i64()) {
            deliveries.insert(id);
        }
        if let Some(id) = value.get("event").and_then(|v| v.as_i64()) {
            events.insert(id);
        }
    }
    Ok((deliveries, events))
}

/// Runs of `whose` whose `class` a purge has not cleared yet, finished before `before` together
/// with every verification of theirs: ids, oldest first, at most [`BATCH`].
pub async fn runs_to_clear(
    conn: &mut Conn,
    class: DataClass,
    whose: Whose<'_>,
    before: i64,
) -> Result<Vec<i64>, StoreError> {
    let sql = format!(
        "SELECT r.id FROM runs r JOIN tasks t ON t.id = r.task JOIN specs s ON s.id = t.spec \
         JOIN goals g ON g.id = s.goal \
         WHERE r.finished_at IS NOT NULL AND r.finished_at < $1 AND (r.purged & $2) = 0 \
         AND NOT EXISTS (SELECT 1 FROM verifications v WHERE v.run = r.id \
                         AND (v.finished_at IS NULL OR v.finished_at >= $1)) \
         AND {} ORDER BY r.id LIMIT {BATCH}",
        whose.condition("g", 3)
    );
    all(
        conn,
        whose.bind(sqlx::query(&sql).bind(before).bind(class.bit())),
        |row| row.try_get(0),
        "read runs to purge",
    )
    .await
}

/// How old a run's data is, for deciding what of it is due: the data is as old as the last of
/// the run and its verifications to finish, and none of it is due while one is unfinished.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunAge {
    /// The run.
    pub id: i64,
    /// The forge's stored name.
    pub forge: String,
    /// `owner/name`.
    pub repository: String,
    /// When the last of the run and its verifications finished; None while one is unfinished.
    pub settled_at: Option<i64>,
}

/// The ages of the runs `ids` that exist.
pub async fn run_ages(conn: &mut Conn, ids: &[i64]) -> Result<Vec<RunAge>, StoreError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "SELECT r.id, g.forge, g.repository, r.finished_at, \
         (SELECT COUNT(*) FROM verifications v WHERE v.run = r.id AND v.finished_at IS NULL), \
         (SELECT MAX(v.finished_at) FROM verifications v WHERE v.run = r.id) \
         FROM runs r JOIN tasks t ON t.id = r.task JOIN specs s ON s.id = t.spec \
         JOIN goals g ON g.id = s.goal WHERE r.id IN ({})",
        placeholders(ids.len())
    );
    let mut query = sqlx::query(&sql);
    for id in ids {
        query = query.bind(*id);
    }
    all(
        conn,
        query,
        |row| {
            let finished: Option<i64> = row.try_get(3)?;
            let unfinished: i64 = row.try_get(4)?;
            let verified: Option<i64> = row.try_get(5)?;
            Ok(RunAge {
                id: row.try_get(0)?,
                forge: row.try_get(1)?,
                repository: row.try_get(2)?,
                settled_at: finished
                    .filter(|_| unfinished == 0)
                    .map(|at| at.max(verified.unwrap_or(at))),
            })
        },
        "read run ages",
    )
    .await
}

/// Marks `class` of run `id` as cleared, so later purges pass it by.
pub async fn mark_cleared(conn: &mut Conn, id: i64, class: DataClass) -> Result<(), StoreError> {
    write(
        conn,
        sqlx::query("UPDATE runs SET purged = purged | $1 WHERE id = $2")
            .bind(class.bit())
            .bind(id),
        "mark a run's data purged",
    )
    .await
}

/// Removes the failures handed to run `id` as feedback.
pub async fn clear_feedback(conn: &mut Conn, id: i64) -> Result<(), StoreError> {
    write(
        conn,
        sqlx::query("UPDATE runs SET feedback = NULL WHERE id = $1").bind(id),
        "clear a run's feedback",
    )
    .await
}

/// Replaces run `id`'s stored report (a purge that removed the agent's output from it).
pub async fn replace_report(conn: &mut Conn, id: i64, report: &str) -> Result<(), StoreError> {
    write(
        conn,
        sqlx::query("UPDATE runs SET report = $1 WHERE id = $2")
            .bind(report)
            .bind(id),
        "replace a run's report",
    )
    .await
}

/// Which of run `id`'s data classes were cleared, as bits ([`DataClass::bit`]).
pub async fn cleared(conn: &mut Conn, id: i64) -> Result<i64, StoreError> {
    let bits: Vec<i64> = all(
        conn,
        sqlx::query("SELECT purged FROM runs WHERE id = $1").bind(id),
        |row| row.try_get(0),
        "read what of a run was purged",
    )
    .await?;
    Ok(bits.first().copied().unwrap_or(0))
}

/// `$1, $2, …, $n`.
fn placeholders(n: usize) -> String {
    (1..=n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}
