//! The key that signs the links ade hands out to run logs. One key for every process on the
//! database, made at random by the first that needs it.

use super::{Conn, Context, StoreError};
use sqlx::Row;

/// The link key, made and stored on first use (hex of 32 random bytes).
pub async fn key(conn: &mut Conn, now: i64) -> Result<String, StoreError> {
    let fresh = {
        let mut bytes = [0u8; 32];
        ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut bytes)
            .map_err(|_| StoreError::Corrupt("no random bytes for the link key".into()))?;
        hex::encode(bytes)
    };
    sqlx::query(
        "INSERT INTO link_keys (id, secret, created_at) VALUES (1, $1, $2) \
         ON CONFLICT (id) DO NOTHING",
    )
    .bind(&fresh)
    .bind(now)
    .execute(&mut *conn)
    .await
    .context("store link key")?;
    let row = sqlx::query("SELECT secret FROM link_keys WHERE id = 1")
        .fetch_one(conn)
        .await
        .context("read link key")?;
    row.try_get(0).context("read link key")
}
