//! The checks ade created on a forge (GitHub check runs), by commit and name, so a later update
//! of the same check is one PATCH instead of a search and a PATCH, and a retry never creates a
//! second check run.

use super::query::write;
use super::{Conn, Context, StoreError};
use crate::forge::ForgeKind;
use sqlx::Row;

/// The id of the check `name` ade created on `head_sha`, if it recorded one.
pub async fn find(
    conn: &mut Conn,
    forge: ForgeKind,
    repository: &str,
    head_sha: &str,
    name: &str,
) -> Result<Option<i64>, StoreError> {
    let row = sqlx::query(
        "SELECT check_id FROM forge_checks \
         WHERE forge = $1 AND repository = $2 AND head_sha = $3 AND name = $4",
    )
    .bind(forge.as_str())
    .bind(repository)
    .bind(head_sha)
    .bind(name)
    .fetch_optional(conn)
    .await
    .context("find check")?;
    row.map(|r| r.try_get(0)).transpose().context("read check")
}

/// Records the id of a check ade created.
pub async fn record(
    conn: &mut Conn,
    forge: ForgeKind,
    repository: &str,
    head_sha: &str,
    name: &str,
    check_id: i64,
    now: i64,
) -> Result<(), StoreError> {
    write(
        conn,
        sqlx::query(
            "INSERT INTO forge_checks (forge, repository, head_sha, name, check_id, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6) \
         ON CONFLICT (forge, repository, head_sha, name) DO UPDATE SET \
            check_id = excluded.check_id, updated_at = excluded.updated_at",
        )
        .bind(forge.as_str())
        .bind(repository)
        .bind(head_sha)
        .bind(name)
        .bind(check_id)
        .bind(now),
        "record check",
    )
    .await
}
