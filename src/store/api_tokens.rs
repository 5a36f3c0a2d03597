//! API tokens' rows: the SHA-256 of each bearer token `ade tokens create` made, its scope and its
//! life. Making and checking tokens lives in `web/api/`; this file only keeps the rows
//! (docs/api.md).

use super::query::{all, moved, optional};
use super::{Conn, Context, StoreError};
use sqlx::Row;
use sqlx::any::AnyRow;

/// What a token allows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenScope {
    /// Reading every route of `/api/v1`.
    Read,
    /// Reading, and the routes that act (none yet: it is recorded, not checked).
    Write,
}

impl TokenScope {
    /// The stored name, also what `ade tokens create --scope` takes.
    pub fn as_str(self) -> &'static str {
        match self {
            TokenScope::Read => "read",
            TokenScope::Write => "write",
        }
    }

    /// Reads a stored name.
    pub fn parse(name: &str) -> Option<TokenScope> {
        match name {
            "read" => Some(TokenScope::Read),
            "write" => Some(TokenScope::Write),
            _ => None,
        }
    }
}

/// A token as stored: never the token itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenRow {
    /// Its id, which `ade tokens revoke` takes.
    pub id: i64,
    /// What the operator called it.
    pub name: String,
    /// What it allows.
    pub scope: TokenScope,
    /// When it was made.
    pub created_at: i64,
    /// When it stops working.
    pub expires_at: i64,
    /// When it was revoked, if it was.
    pub revoked_at: Option<i64>,
    /// When it was last used to read or act.
    pub last_used_at: Option<i64>,
}

const COLUMNS: &str = "id, name, scope, created_at, expires_at, revoked_at, last_used_at";

fn token_row(row: &AnyRow) -> Result<TokenRow, sqlx::Error> {
    Ok(TokenRow {
        id: row.try_get(0)?,
        name: row.try_get(1)?,
        scope: super::named(row, 2, "token scope", TokenScope::parse)?,
        created_at: row.try_get(3)?,
        expires_at: row.try_get(4)?,
        revoked_at: row.try_get(5)?,
        last_used_at: row.try_get(6)?,
    })
}

/// A token about to be stored.
#[derive(Clone, Debug)]
pub struct NewToken<'a> {
    /// What the operator calls it.
    pub name: &'a str,
    /// What it allows.
    pub scope: TokenScope,
    /// The SHA-256 of the token, in hex.
    pub hash: &'a str,
    /// When it stops working.
    pub expires_at: i64,
}

/// Stores a token; returns its id.
pub async fn insert(conn: &mut Conn, token: &NewToken<'_>, now: i64) -> Result<i64, StoreError> {
    sqlx::query(
        "INSERT INTO api_tokens (name, scope, hash, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5) RETURNING id",
    )
    .bind(token.name)
    .bind(token.scope.as_str())
    .bind(token.hash)
    .bind(now)
    .bind(token.expires_at)
    .fetch_one(conn)
    .await
    .context("store token")?
    .try_get(0)
    .context("store token")
}

/// The token whose SHA-256 is `hash`, whatever its state.
pub async fn by_hash(conn: &mut Conn, hash: &str) -> Result<Option<TokenRow>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM api_tokens WHERE hash = $1");
    optional(conn, sqlx::query(&sql).bind(hash), token_row, "read token").await
}

/// Every token, newest first.
pub async fn list(conn: &mut Conn) -> Result<Vec<TokenRow>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM api_tokens ORDER BY id DESC");
    all(conn, sqlx::query(&sql), token_row, "list tokens").await
}

/// Revokes token `id`; false when there is no such token or it was revoked before.
pub async fn revoke(conn: &mut Conn, id: i64, now: i64) -> Result<bool, StoreError> {
    moved(
        conn,
        sqlx::query("UPDATE api_tokens SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
            .bind(now)
            .bind(id),
        "revoke token",
    )
    .await
}

/// Notes that token `id` was used at `now`, unless a use at `not_since` or later is noted already.
pub async fn used(conn: &mut Conn, id: i64, now: i64, not_since: i64) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE api_tokens SET last_used_at = $1 \
         WHERE id = $2 AND (last_used_at IS NULL OR last_used_at < $3)",
    )
    .bind(now)
    .bind(id)
    .bind(not_since)
    .execute(conn)
    .await
    .context("note token use")?;
    Ok(())
}
