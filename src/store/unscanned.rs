//! Tasks whose runs may push content DLP cannot read (binary files, content past its caps),
//! because a maintainer allowed it with `/ade allow-unscanned` (docs/dlp.md). One allowance per
//! task row, so a new plan version starts without one.

use super::audit::{self, About, ActorKind, Entry, Outcome};
use super::query::{optional, write};
use super::{Conn, StoreError};
use sqlx::Row;

/// Who let a task push unscanned content, and when.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Allowance {
    /// The login that allowed it.
    pub allowed_by: String,
    /// The forge's id of the comment that did.
    pub comment_id: i64,
    /// When, in Unix milliseconds.
    pub allowed_at: i64,
}

/// Lets the runs of task row `task` push unscanned content from now on, as `by` asked in comment
/// `comment_id`; a later allowance replaces an earlier one. Recorded in the audit log as
/// `task.unscanned_allowed`.
pub async fn allow(
    conn: &mut Conn,
    task: i64,
    by: &str,
    comment_id: i64,
    now: i64,
) -> Result<(), StoreError> {
    write(
        conn,
        sqlx::query(
            "INSERT INTO unscanned_allowances (task, allowed_by, comment_id, allowed_at) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (task) DO UPDATE SET \
             allowed_by = excluded.allowed_by, comment_id = excluded.comment_id, \
             allowed_at = excluded.allowed_at",
        )
        .bind(task)
        .bind(by)
        .bind(comment_id)
        .bind(now),
        "allow unscanned content",
    )
    .await?;
    let entry = Entry::new(
        now,
        ActorKind::User,
        by,
        "task.unscanned_allowed",
        "task",
        Outcome::Ok,
    )
    .with("comment", comment_id);
    audit::record_about(conn, About::Task(task), &entry).await
}

/// The allowance of task row `task`, if it has one.
pub async fn allowance(conn: &mut Conn, task: i64) -> Result<Option<Allowance>, StoreError> {
    optional(
        conn,
        sqlx::query(
            "SELECT allowed_by, comment_id, allowed_at FROM unscanned_allowances WHERE task = $1",
        )
        .bind(task),
        |row| {
            Ok(Allowance {
                allowed_by: row.try_get(0)?,
                comment_id: row.try_get(1)?,
                allowed_at: row.try_get(2)?,
            })
        },
        "read an unscanned allowance",
    )
    .await
}
