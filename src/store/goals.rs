//! Goals, the versions of their specs, and the tasks of each version.
//!
//! A spec version's content is immutable once stored; only its state moves, and every move is a
//! compare-and-set on the state it leaves, so two commands racing to approve one version cannot
//! both succeed. The rules for which moves are legal live in `crate::spec`; this file only records
//! them.

use super::{Conn, Context, StoreError};
use crate::forge::ForgeKind;
use sqlx::Row;

/// Finds the goal for an issue, creating it on first use. Returns its id.
pub async fn goal(
    conn: &mut Conn,
    forge: ForgeKind,
    repository: &str,
    number: i64,
    now: i64,
) -> Result<i64, StoreError> {
    sqlx::query(
        "INSERT INTO goals (forge, repository, number, created_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (forge, repository, number) DO NOTHING",
    )
    .bind(forge.as_str())
    .bind(repository)
    .bind(number)
    .bind(now)
    .execute(&mut *conn)
    .await
    .context("create goal")?;
    find_goal(conn, forge, repository, number)
        .await?
        .ok_or_else(|| StoreError::Corrupt(format!("goal {repository}#{number} vanished")))
}

/// The goal for an issue, if ade has planned it.
pub async fn find_goal(
    conn: &mut Conn,
    forge: ForgeKind,
    repository: &str,
    number: i64,
) -> Result<Option<i64>, StoreError> {
    let row =
        sqlx::query("SELECT id FROM goals WHERE forge = $1 AND repository = $2 AND number = $3")
            .bind(forge.as_str())
            .bind(repository)
            .bind(number)
            .fetch_optional(conn)
            .await
            .context("find goal")?;
    row.map(|r| r.try_get(0)).transpose().context("read goal")
}

/// A spec version about to be stored.
#[derive(Clone, Debug)]
pub struct NewSpec<'a> {
    /// The goal it plans.
    pub goal: i64,
    /// Its lifecycle state, as `crate::spec` names it.
    pub state: &'a str,
    /// The spec as JSON.
    pub content: &'a str,
    /// SHA-256 of the canonical content.
    pub content_hash: &'a str,
    /// Who asked for it.
    pub author: &'a str,
    /// Which planner made it.
    pub planner: &'a str,
    /// Validation errors, for a spec that failed validation.
    pub errors: Option<&'a str>,
}

/// A stored spec version.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SpecRow {
    /// ade's id of the version.
    pub id: i64,
    /// The goal it plans.
    pub goal: i64,
    /// The version number, from 1.
    pub version: i64,
    /// Its lifecycle state.
    pub state: String,
    /// The spec as JSON.
    pub content: String,
    /// SHA-256 of the canonical content.
    pub content_hash: String,
    /// Who asked for it.
    pub author: String,
    /// Which planner made it.
    pub planner: String,
    /// Validation errors, if it failed validation.
    pub errors: Option<String>,
    /// When it was stored.
    pub created_at: i64,
    /// When its state last moved.
    pub changed_at: i64,
}

/// Stores a new version of a goal's spec, numbered one past the latest. Returns the row.
pub async fn insert_spec(
    conn: &mut Conn,
    spec: &NewSpec<'_>,
    now: i64,
) -> Result<SpecRow, StoreError> {
    let row = sqlx::query(
        "INSERT INTO specs \
            (goal, version, state, content, content_hash, author, planner, errors, created_at, changed_at) \
         SELECT $1, COALESCE(MAX(version), 0) + 1, $2, $3, $4, $5, $6, $7, $8, $8 \
         FROM specs WHERE goal = $1 \
         RETURNING id, goal, version, state, content, content_hash, author, planner, errors, \
                   created_at, changed_at",
    )
    .bind(spec.goal)
    .bind(spec.state)
    .bind(spec.content)
    .bind(spec.content_hash)
    .bind(spec.author)
    .bind(spec.planner)
    .bind(spec.errors)
    .bind(now)
    .fetch_one(&mut *conn)
    .await
    .context("store spec")?;
    let spec = spec_row(&row)?;
    record_transition(conn, spec.id, None, &spec.state, &spec.author, now).await?;
    Ok(spec)
}

fn spec_row(row: &sqlx::any::AnyRow) -> Result<SpecRow, StoreError> {
    (|| {
        Ok(SpecRow {
            id: row.try_get("id")?,
            goal: row.try_get("goal")?,
            version: row.try_get("version")?,
            state: row.try_get("state")?,
            content: row.try_get("content")?,
            content_hash: row.try_get("content_hash")?,
            author: row.try_get("author")?,
            planner: row.try_get("planner")?,
            errors: row.try_get("errors")?,
            created_at: row.try_get("created_at")?,
            changed_at: row.try_get("changed_at")?,
        })
    })()
    .context("read spec")
}

/// Every version of a goal's spec, newest first.
pub async fn specs(conn: &mut Conn, goal: i64) -> Result<Vec<SpecRow>, StoreError> {
    let rows = sqlx::query(
        "SELECT id, goal, version, state, content, content_hash, author, planner, errors, \
                created_at, changed_at \
         FROM specs WHERE goal = $1 ORDER BY version DESC",
    )
    .bind(goal)
    .fetch_all(conn)
    .await
    .context("read specs")?;
    rows.iter().map(spec_row).collect()
}

/// One spec version by its row id.
pub async fn spec(conn: &mut Conn, id: i64) -> Result<Option<SpecRow>, StoreError> {
    let row = sqlx::query(
        "SELECT id, goal, version, state, content, content_hash, author, planner, errors, \
                created_at, changed_at \
         FROM specs WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(conn)
    .await
    .context("read spec")?;
    row.as_ref().map(spec_row).transpose()
}

/// Moves a spec version from state `from` to `to`, if it is still in `from`. Returns whether it
/// moved; `false` means another command moved it first.
pub async fn move_spec(
    conn: &mut Conn,
    spec: i64,
    from: &str,
    to: &str,
    actor: &str,
    now: i64,
) -> Result<bool, StoreError> {
    let moved =
        sqlx::query("UPDATE specs SET state = $1, changed_at = $2 WHERE id = $3 AND state = $4")
            .bind(to)
            .bind(now)
            .bind(spec)
            .bind(from)
            .execute(&mut *conn)
            .await
            .context("move spec")?
            .rows_affected()
            == 1;
    if moved {
        record_transition(conn, spec, Some(from), to, actor, now).await?;
    }
    Ok(moved)
}

async fn record_transition(
    conn: &mut Conn,
    spec: i64,
    from: Option<&str>,
    to: &str,
    actor: &str,
    now: i64,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO spec_transitions (spec, from_state, to_state, actor, at) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(spec)
    .bind(from)
    .bind(to)
    .bind(actor)
    .bind(now)
    .execute(conn)
    .await
    .context("record spec transition")?;
    Ok(())
}

/// A spec version's state changes, oldest first: `(from, to, actor, at)`.
pub async fn transitions(
    conn: &mut Conn,
    spec: i64,
) -> Result<Vec<(Option<String>, String, String, i64)>, StoreError> {
    let rows = sqlx::query(
        "SELECT from_state, to_state, actor, at FROM spec_transitions WHERE spec = $1 ORDER BY id",
    )
    .bind(spec)
    .fetch_all(conn)
    .await
    .context("read spec transitions")?;
    rows.iter()
        .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?, r.try_get(3)?)))
        .collect::<Result<Vec<_>, sqlx::Error>>()
        .context("read spec transitions")
}

/// Records a spec version's tasks in `state`.
pub async fn insert_tasks(
    conn: &mut Conn,
    spec: i64,
    task_ids: &[String],
    state: &str,
    now: i64,
) -> Result<(), StoreError> {
    for task in task_ids {
        sqlx::query(
            "INSERT INTO tasks (spec, task_id, state, changed_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (spec, task_id) DO NOTHING",
        )
        .bind(spec)
        .bind(task)
        .bind(state)
        .bind(now)
        .execute(&mut *conn)
        .await
        .context("store task")?;
    }
    Ok(())
}

/// Moves every task of a spec version in state `from` to `to`; returns how many moved.
pub async fn move_tasks(
    conn: &mut Conn,
    spec: i64,
    from: &str,
    to: &str,
    now: i64,
) -> Result<u64, StoreError> {
    Ok(
        sqlx::query("UPDATE tasks SET state = $1, changed_at = $2 WHERE spec = $3 AND state = $4")
            .bind(to)
            .bind(now)
            .bind(spec)
            .bind(from)
            .execute(conn)
            .await
            .context("move tasks")?
            .rows_affected(),
    )
}
