//! The secret store's rows: each value sealed, with the id of the master key it was sealed under
//! and its nonce. Sealing and opening live in `secrets/`; this file only keeps the bytes
//! (docs/secrets.md).

use super::query::{all, moved, optional, write};
use super::{Conn, StoreError};
use sqlx::Row;
use sqlx::any::AnyRow;

/// A sealed value as stored: never the value itself.
#[derive(Clone, PartialEq, Eq)]
pub struct SealedRow {
    /// The secret's name (`ANTHROPIC_API_KEY`).
    pub name: String,
    /// The id of the master key it was sealed under.
    pub key_id: String,
    /// The AEAD nonce it was sealed with.
    pub nonce: Vec<u8>,
    /// The ciphertext with its authentication tag.
    pub ciphertext: Vec<u8>,
    /// When the name was first set.
    pub created_at: i64,
    /// When its value was last set.
    pub updated_at: i64,
}

impl std::fmt::Debug for SealedRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SealedRow")
            .field("name", &self.name)
            .field("key_id", &self.key_id)
            .field("ciphertext_len", &self.ciphertext.len())
            .finish_non_exhaustive()
    }
}

/// What `ade secrets list` shows of a secret: its name, key id and times, never its value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SecretInfo {
    /// The secret's name.
    pub name: String,
    /// The id of the master key its value is sealed under.
    pub key_id: String,
    /// When the name was first set.
    pub created_at: i64,
    /// When its value was last set.
    pub updated_at: i64,
}

const COLUMNS: &str = "name, key_id, nonce, ciphertext, created_at, updated_at";

fn sealed_row(row: &AnyRow) -> Result<SealedRow, sqlx::Error> {
    Ok(SealedRow {
        name: row.try_get(0)?,
        key_id: row.try_get(1)?,
        nonce: row.try_get(2)?,
        ciphertext: row.try_get(3)?,
        created_at: row.try_get(4)?,
        updated_at: row.try_get(5)?,
    })
}

/// Stores `row`'s sealed value under its name, replacing any earlier value (its `created_at` is
/// kept).
pub async fn put(conn: &mut Conn, row: &SealedRow) -> Result<(), StoreError> {
    write(
        conn,
        sqlx::query(
            "INSERT INTO secrets (name, key_id, nonce, ciphertext, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (name) DO UPDATE SET key_id = excluded.key_id, nonce = excluded.nonce, \
             ciphertext = excluded.ciphertext, updated_at = excluded.updated_at",
        )
        .bind(&row.name)
        .bind(&row.key_id)
        .bind(&row.nonce)
        .bind(&row.ciphertext)
        .bind(row.created_at)
        .bind(row.updated_at),
        "store a secret",
    )
    .await
}

/// The sealed value stored as `name`, if any.
pub async fn get(conn: &mut Conn, name: &str) -> Result<Option<SealedRow>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM secrets WHERE name = $1");
    optional(
        conn,
        sqlx::query(&sql).bind(name),
        sealed_row,
        "read a secret",
    )
    .await
}

/// Every sealed value, by name.
pub async fn all_sealed(conn: &mut Conn) -> Result<Vec<SealedRow>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM secrets ORDER BY name");
    all(conn, sqlx::query(&sql), sealed_row, "read every secret").await
}

/// Every secret's name, key id and times, by name.
pub async fn list(conn: &mut Conn) -> Result<Vec<SecretInfo>, StoreError> {
    all(
        conn,
        sqlx::query("SELECT name, key_id, created_at, updated_at FROM secrets ORDER BY name"),
        |row| {
            Ok(SecretInfo {
                name: row.try_get(0)?,
                key_id: row.try_get(1)?,
                created_at: row.try_get(2)?,
                updated_at: row.try_get(3)?,
            })
        },
        "list secrets",
    )
    .await
}

/// Removes the secret `name`; whether there was one.
pub async fn delete(conn: &mut Conn, name: &str) -> Result<bool, StoreError> {
    moved(
        conn,
        sqlx::query("DELETE FROM secrets WHERE name = $1").bind(name),
        "delete a secret",
    )
    .await
}

/// Each key id values are sealed under, with how many values are.
pub async fn key_ids(conn: &mut Conn) -> Result<Vec<(String, i64)>, StoreError> {
    all(
        conn,
        sqlx::query("SELECT key_id, COUNT(*) FROM secrets GROUP BY key_id ORDER BY key_id"),
        |row| Ok((row.try_get(0)?, row.try_get(1)?)),
        "count secrets by key",
    )
    .await
}

/// Replaces the sealed value of `new.name` with `new`'s, only if it is still the one `old`
/// holds (same key id and nonce): a value set meanwhile is never overwritten by a rotation.
/// Whether it was replaced. `updated_at` is kept: the value itself did not change.
pub async fn reseal(conn: &mut Conn, old: &SealedRow, new: &SealedRow) -> Result<bool, StoreError> {
    moved(
        conn,
        sqlx::query(
            "UPDATE secrets SET key_id = $1, nonce = $2, ciphertext = $3 \
             WHERE name = $4 AND key_id = $5 AND nonce = $6",
        )
        .bind(&new.key_id)
        .bind(&new.nonce)
        .bind(&new.ciphertext)
        .bind(&old.name)
        .bind(&old.key_id)
        .bind(&old.nonce),
        "reseal a secret",
    )
    .await
}
