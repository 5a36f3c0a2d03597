//! The reviews that asked for changes on an approval, each with the attempt that took it
//! (docs/verification.md, "Iteration on review"). A review is taken once: the next attempt takes
//! only reviews no attempt took, and a review delivered again finds itself taken.

use super::query::{all, write};
use super::{Conn, Context, StoreError};
use sqlx::Row;

/// A review an attempt took, as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TakenRow {
    /// The forge's id of the review.
    pub review_id: i64,
    /// The run that took it; `None` when the task's attempts were used up.
    pub run: Option<i64>,
    /// The reviewer's login, as the forge gives it.
    pub author: String,
    /// What the agent was given of it (JSON, sanitized); `None` once retention removed it.
    pub said: Option<String>,
}

/// Records that run `run` took review `review_id` of approval row `approval` (`None`: no run
/// could, the attempts were used up). Returns whether it was free: `false` when it was taken
/// already.
pub async fn take(
    conn: &mut Conn,
    approval: i64,
    review_id: i64,
    run: Option<i64>,
    (author, said): (&str, &str),
    now: i64,
) -> Result<bool, StoreError> {
    let taken = sqlx::query(
        "INSERT INTO run_reviews (approval, review_id, run, author, said, taken_at) \
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (approval, review_id) DO NOTHING",
    )
    .bind(approval)
    .bind(review_id)
    .bind(run)
    .bind(author)
    .bind(said)
    .bind(now)
    .execute(&mut *conn)
    .await
    .context("take a review")?;
    Ok(taken.rows_affected() == 1)
}

/// The ids of the reviews of approval row `approval` that an attempt took.
pub async fn taken_ids(conn: &mut Conn, approval: i64) -> Result<Vec<i64>, StoreError> {
    all(
        conn,
        sqlx::query("SELECT review_id FROM run_reviews WHERE approval = $1 ORDER BY review_id")
            .bind(approval),
        |row| row.try_get(0),
        "read the reviews taken",
    )
    .await
}

/// The logins of the reviewers whose reviews of approval row `approval` an attempt took (not
/// those taken when the attempts were used up): they directed that work.
pub async fn directing_reviewers(
    conn: &mut Conn,
    approval: i64,
) -> Result<Vec<String>, StoreError> {
    all(
        conn,
        sqlx::query(
            "SELECT DISTINCT author FROM run_reviews WHERE approval = $1 AND run IS NOT NULL \
             ORDER BY author",
        )
        .bind(approval),
        |row| row.try_get(0),
        "read the reviewers whose reviews an attempt took",
    )
    .await
}

/// The reviews run `run` took, oldest first.
pub async fn of_run(conn: &mut Conn, run: i64) -> Result<Vec<TakenRow>, StoreError> {
    all(
        conn,
        sqlx::query(
            "SELECT review_id, run, author, said FROM run_reviews WHERE run = $1 \
             ORDER BY review_id",
        )
        .bind(run),
        |row| {
            Ok(TakenRow {
                review_id: row.try_get(0)?,
                run: row.try_get(1)?,
                author: row.try_get(2)?,
                said: row.try_get(3)?,
            })
        },
        "read the reviews of a run",
    )
    .await
}

/// Removes what the agent was given of the reviews run `run` took (retention); the ids stay, so
/// the reviews are never taken again.
pub async fn clear_said(conn: &mut Conn, run: i64) -> Result<(), StoreError> {
    write(
        conn,
        sqlx::query("UPDATE run_reviews SET said = NULL WHERE run = $1").bind(run),
        "clear what reviews said",
    )
    .await
}
