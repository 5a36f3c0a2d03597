//! Comments whose commands ade acted on, by the forge's comment id, so that one comment acts
//! once however many times, and under whatever delivery ids, it arrives.

use super::query::{optional, write};
use super::{Conn, StoreError};
use crate::forge::ForgeKind;
use sqlx::Row;

/// Claims comment `comment_id` of `forge` for the command job `job`: true when the comment is
/// this job's to act on (claimed now, or by an earlier attempt of the same job), false when
/// another job acted on it already (the same comment delivered again).
pub async fn claim(
    conn: &mut Conn,
    forge: ForgeKind,
    comment_id: i64,
    job: i64,
    now: i64,
) -> Result<bool, StoreError> {
    write(
        conn,
        sqlx::query(
            "INSERT INTO comments_acted (forge, comment_id, job, acted_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (forge, comment_id) DO NOTHING",
        )
        .bind(forge.as_str())
        .bind(comment_id)
        .bind(job)
        .bind(now),
        "claim a comment",
    )
    .await?;
    Ok(owner(conn, forge, comment_id).await? == Some(job))
}

/// Whether a job claimed comment `comment_id` of `forge` already: its commands were acted on.
pub async fn acted(conn: &mut Conn, forge: ForgeKind, comment_id: i64) -> Result<bool, StoreError> {
    Ok(owner(conn, forge, comment_id).await?.is_some())
}

/// The job that claimed comment `comment_id` of `forge`, if one did.
async fn owner(
    conn: &mut Conn,
    forge: ForgeKind,
    comment_id: i64,
) -> Result<Option<i64>, StoreError> {
    optional(
        conn,
        sqlx::query("SELECT job FROM comments_acted WHERE forge = $1 AND comment_id = $2")
            .bind(forge.as_str())
            .bind(comment_id),
        |row| row.try_get(0),
        "read a comment's claim",
    )
    .await
}
