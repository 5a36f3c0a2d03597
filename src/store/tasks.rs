//! The tasks of active spec versions and where each stands. Every move is a compare-and-set on
//! the state it leaves, so a cancel racing a runner's result cannot both win; which moves are
//! legal is `crate::lifecycle::TaskState`'s to say, and a move it refuses never reaches the
//! database.

use super::audit::{self, About};
use super::query::{all, optional};
use super::{Conn, Context, StoreError, state};
use crate::lifecycle::{SpecState, State, TaskState};
use sqlx::Row;
use sqlx::any::AnyRow;

/// A task of a spec version as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TaskRow {
    /// The row id.
    pub id: i64,
    /// The spec version row it belongs to.
    pub spec: i64,
    /// The task id in the spec (`t1`).
    pub task_id: String,
    /// Where it stands.
    pub state: TaskState,
    /// When its state last moved.
    pub changed_at: i64,
}

const COLUMNS: &str = "t.id, t.spec, t.task_id, t.state, t.changed_at";

fn task_row(row: &AnyRow) -> Result<TaskRow, sqlx::Error> {
    use sqlx::Row;
    Ok(TaskRow {
        id: row.try_get(0)?,
        spec: row.try_get(1)?,
        task_id: row.try_get(2)?,
        state: state(row, 3)?,
        changed_at: row.try_get(4)?,
    })
}

/// Records a spec version's tasks in `state` (the ones already recorded are left alone).
pub async fn insert_tasks(
    conn: &mut Conn,
    spec: i64,
    task_ids: &[String],
    state: TaskState,
    now: i64,
) -> Result<(), StoreError> {
    for task in task_ids {
        sqlx::query(
            "INSERT INTO tasks (spec, task_id, state, changed_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (spec, task_id) DO NOTHING",
        )
        .bind(spec)
        .bind(task)
        .bind(state.as_str())
        .bind(now)
        .execute(&mut *conn)
        .await
        .context("store task")?;
    }
    Ok(())
}

/// The tasks of a spec version, in plan order.
pub async fn tasks_of(conn: &mut Conn, spec: i64) -> Result<Vec<TaskRow>, StoreError> {
    all(
        conn,
        sqlx::query(&format!(
            "SELECT {COLUMNS} FROM tasks t WHERE t.spec = $1 ORDER BY t.id"
        ))
        .bind(spec),
        task_row,
        "read tasks",
    )
    .await
}

/// The active spec versions that have ready tasks, with their goal's forge, repository and issue
/// number, of every repository or only of `only` (forge, `owner/name`): what a restart, or a
/// push to that repository's default branch, looks at again (docs/runner.md).
pub async fn active_specs_with_ready_tasks(
    conn: &mut Conn,
    only: Option<(&str, &str)>,
) -> Result<Vec<(i64, String, String, i64)>, StoreError> {
    let sql = format!(
        "SELECT s.id, g.forge, g.repository, g.number FROM specs s JOIN goals g ON g.id = s.goal \
         WHERE s.state = $1 AND EXISTS \
           (SELECT 1 FROM tasks t WHERE t.spec = s.id AND t.state = $2){} ORDER BY s.id",
        if only.is_some() {
            " AND g.forge = $3 AND g.repository = $4"
        } else {
            ""
        }
    );
    let mut query = sqlx::query(&sql)
        .bind(SpecState::Active.as_str())
        .bind(TaskState::Ready.as_str());
    if let Some((forge, repository)) = only {
        query = query.bind(forge).bind(repository);
    }
    let rows = query
        .fetch_all(conn)
        .await
        .context("read specs with ready tasks")?;
    rows.iter()
        .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?, r.try_get(3)?)))
        .collect::<Result<Vec<_>, sqlx::Error>>()
        .context("read specs with ready tasks")
}

/// One task row.
pub async fn task(conn: &mut Conn, id: i64) -> Result<Option<TaskRow>, StoreError> {
    optional(
        conn,
        sqlx::query(&format!("SELECT {COLUMNS} FROM tasks t WHERE t.id = $1")).bind(id),
        task_row,
        "read task",
    )
    .await
}

/// Moves a task from `from` to `to`; false if it was no longer in `from`. A move the task
/// lifecycle refuses is an error, not a no-op: it is a bug in the caller.
pub async fn move_task(
    conn: &mut Conn,
    id: i64,
    from: TaskState,
    to: TaskState,
    now: i64,
) -> Result<bool, StoreError> {
    Ok(move_where(conn, "id", id, from, to, now, "move task").await? == 1)
}

/// Moves every task of a spec version that is in `from` to `to`; returns how many moved.
pub async fn move_tasks(
    conn: &mut Conn,
    spec: i64,
    from: TaskState,
    to: TaskState,
    now: i64,
) -> Result<u64, StoreError> {
    move_where(conn, "spec", spec, from, to, now, "move tasks").await
}

/// Moves the tasks whose `column` is `key` and that are in `from` to `to`, each move recorded for
/// the audit log; returns how many moved.
async fn move_where(
    conn: &mut Conn,
    column: &'static str,
    key: i64,
    from: TaskState,
    to: TaskState,
    now: i64,
    what: &'static str,
) -> Result<u64, StoreError> {
    from.transition(to)?;
    let sql = format!(
        "UPDATE tasks SET state = $1, changed_at = $2 WHERE {column} = $3 AND state = $4 \
         RETURNING id"
    );
    let moved = all(
        conn,
        sqlx::query(&sql)
            .bind(to.as_str())
            .bind(now)
            .bind(key)
            .bind(from.as_str()),
        |r| r.try_get::<i64, _>(0),
        what,
    )
    .await?;
    for id in &moved {
        let entry = audit::move_entry(from, to, "ade", "task".into(), now);
        audit::record_about(conn, About::Task(*id), &entry).await?;
    }
    Ok(moved.len() as u64)
}
