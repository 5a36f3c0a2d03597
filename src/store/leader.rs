//! The leader lease: one row per role, held by whichever process renews it in time. A row rather
//! than a session advisory lock, because session locks do not survive PgBouncer's transaction
//! pooling and vanish silently with a dropped connection.

use super::query::write;
use super::{Conn, Context, StoreError};

/// Takes or renews the lease `name` for `owner` until `expires_at`. Succeeds when the lease is free,
/// expired, or already `owner`'s; returns whether `owner` holds it now.
pub async fn acquire(
    conn: &mut Conn,
    name: &str,
    owner: &str,
    now: i64,
    expires_at: i64,
) -> Result<bool, StoreError> {
    let row = sqlx::query(
        "INSERT INTO leader_leases (name, owner, expires_at) VALUES ($1, $2, $3) \
         ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at \
         WHERE leader_leases.owner = excluded.owner OR leader_leases.expires_at < $4 \
         RETURNING owner",
    )
    .bind(name)
    .bind(owner)
    .bind(expires_at)
    .bind(now)
    .fetch_optional(conn)
    .await
    .context("acquire leader lease")?;
    Ok(row.is_some())
}

/// Gives the lease up, so another process can lead without waiting for it to expire.
pub async fn release(conn: &mut Conn, name: &str, owner: &str) -> Result<(), StoreError> {
    write(
        conn,
        sqlx::query("DELETE FROM leader_leases WHERE name = $1 AND owner = $2")
            .bind(name)
            .bind(owner),
        "release leader lease",
    )
    .await
}
