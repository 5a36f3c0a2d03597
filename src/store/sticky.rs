//! Sticky comments: the one comment per goal (the plan) or per approval that ade keeps up to date
//! instead of posting anew. Each is keyed by a marker ade hides in the comment's text, so the
//! comment can also be found on the forge when this record is missing (a crash between posting
//! and recording).

use super::query::write;
use super::{Conn, Context, StoreError};
use crate::forge::ForgeKind;
use sqlx::Row;

/// A sticky comment ade posted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sticky {
    /// The comment id on the forge.
    pub comment_id: i64,
    /// The issue or pull request it is on.
    pub number: i64,
    /// SHA-256 of the text last written, to skip writes that change nothing.
    pub body_hash: String,
}

/// The sticky comment with `marker` in a repository, if ade recorded one.
pub async fn find(
    conn: &mut Conn,
    forge: ForgeKind,
    repository: &str,
    marker: &str,
) -> Result<Option<Sticky>, StoreError> {
    let row = sqlx::query(
        "SELECT comment_id, number, body_hash FROM sticky_comments \
         WHERE forge = $1 AND repository = $2 AND marker = $3",
    )
    .bind(forge.as_str())
    .bind(repository)
    .bind(marker)
    .fetch_optional(conn)
    .await
    .context("find sticky comment")?;
    row.map(|r| {
        Ok(Sticky {
            comment_id: r.try_get(0)?,
            number: r.try_get(1)?,
            body_hash: r.try_get(2)?,
        })
    })
    .transpose()
    .context("read sticky comment")
}

/// Records (or updates the record of) the sticky comment with `marker`.
pub async fn record(
    conn: &mut Conn,
    forge: ForgeKind,
    repository: &str,
    marker: &str,
    sticky: &Sticky,
    now: i64,
) -> Result<(), StoreError> {
    write(conn, sqlx::query(
        "INSERT INTO sticky_comments (forge, repository, marker, number, comment_id, body_hash, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) \
         ON CONFLICT (forge, repository, marker) DO UPDATE SET \
            number = excluded.number, comment_id = excluded.comment_id, \
            body_hash = excluded.body_hash, updated_at = excluded.updated_at",
    )
    .bind(forge.as_str())
    .bind(repository)
    .bind(marker)
    .bind(sticky.number)
    .bind(sticky.comment_id)
    .bind(&sticky.body_hash)
    .bind(now), "record sticky comment").await
}
