//! Dashboard sessions' rows: who signed in through which forge, until when, and the token their
//! forms carry. Only the SHA-256 of a session's cookie is kept; signing in and checking live in
//! `web/signin/` (docs/dashboard.md).

use super::query::{moved, optional};
use super::{Conn, Context, StoreError};
use crate::forge::ForgeKind;
use sqlx::Row;
use sqlx::any::AnyRow;

/// A live or ended session as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionRow {
    /// Its id.
    pub id: i64,
    /// The forge the user signed in with.
    pub forge: ForgeKind,
    /// The user's login there.
    pub login: String,
    /// What the session's forms carry, checked on every form sent.
    pub csrf: String,
    /// When it stops working.
    pub expires_at: i64,
    /// When the user signed out, if they did.
    pub ended_at: Option<i64>,
}

/// A session about to be stored.
#[derive(Clone, Debug)]
pub struct NewSession<'a> {
    /// The SHA-256 of the cookie, in hex.
    pub hash: &'a str,
    /// The forge the user signed in with.
    pub forge: ForgeKind,
    /// Their login there.
    pub login: &'a str,
    /// The token its forms carry.
    pub csrf: &'a str,
    /// When it stops working.
    pub expires_at: i64,
}

fn session_row(row: &AnyRow) -> Result<SessionRow, sqlx::Error> {
    Ok(SessionRow {
        id: row.try_get(0)?,
        forge: super::named(row, 1, "forge", ForgeKind::parse)?,
        login: row.try_get(2)?,
        csrf: row.try_get(3)?,
        expires_at: row.try_get(4)?,
        ended_at: row.try_get(5)?,
    })
}

/// Stores a session; returns its id.
pub async fn insert(
    conn: &mut Conn,
    session: &NewSession<'_>,
    now: i64,
) -> Result<i64, StoreError> {
    sqlx::query(
        "INSERT INTO web_sessions (hash, forge, login, csrf, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
    )
    .bind(session.hash)
    .bind(session.forge.as_str())
    .bind(session.login)
    .bind(session.csrf)
    .bind(now)
    .bind(session.expires_at)
    .fetch_one(conn)
    .await
    .context("store session")?
    .try_get(0)
    .context("store session")
}

/// The session whose cookie hashes to `hash`, whatever its state.
pub async fn by_hash(conn: &mut Conn, hash: &str) -> Result<Option<SessionRow>, StoreError> {
    optional(
        conn,
        sqlx::query(
            "SELECT id, forge, login, csrf, expires_at, ended_at FROM web_sessions WHERE hash = $1",
        )
        .bind(hash),
        session_row,
        "read session",
    )
    .await
}

/// Ends session `id` (sign-out, or access the forge no longer grants); false when it had ended.
pub async fn end(conn: &mut Conn, id: i64, now: i64) -> Result<bool, StoreError> {
    moved(
        conn,
        sqlx::query("UPDATE web_sessions SET ended_at = $1 WHERE id = $2 AND ended_at IS NULL")
            .bind(now)
            .bind(id),
        "end session",
    )
    .await
}

/// Forgets sessions that ended or expired before `before`; returns their ids.
pub async fn purge(conn: &mut Conn, before: i64) -> Result<Vec<i64>, StoreError> {
    super::query::all(
        conn,
        sqlx::query("DELETE FROM web_sessions WHERE expires_at < $1 OR ended_at < $1 RETURNING id")
            .bind(before),
        |r| r.try_get(0),
        "purge sessions",
    )
    .await
}
