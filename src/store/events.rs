//! Events: the normalized form of each delivery that became one.

use super::query::{Query, all, optional};
use super::{Conn, Context, StoreError};
use crate::events::Event;
use crate::forge::{ForgeKind, RepoRef};
use sqlx::Row;
use sqlx::any::AnyRow;

/// A repository ade has had deliveries about.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HeardFrom {
    /// Its forge.
    pub forge: ForgeKind,
    /// The repository.
    pub repository: RepoRef,
    /// When ade stored its first event about it (Unix ms): comments older than that were never
    /// ade's to act on.
    pub first: i64,
}

/// The repositories with an event stored at or after `since`: reconciliation reads their recent
/// comments for commands no delivery brought, on issues ade holds no goal for too.
pub async fn repositories_heard_since(
    conn: &mut Conn,
    since: i64,
) -> Result<Vec<HeardFrom>, StoreError> {
    let query = sqlx::query(
        "SELECT forge, repository, MIN(created_at) FROM events WHERE repository IS NOT NULL \
         GROUP BY forge, repository HAVING MAX(created_at) >= $1 ORDER BY forge, repository",
    )
    .bind(since);
    // A name ade cannot read as a repository is skipped, never a reason to stop the sweep.
    let read = |r: &AnyRow| {
        let forge: String = r.try_get(0)?;
        let repository: String = r.try_get(1)?;
        let first: i64 = r.try_get(2)?;
        Ok(ForgeKind::parse(&forge)
            .zip(RepoRef::parse(&repository, None))
            .map(|(forge, repository)| HeardFrom {
                forge,
                repository,
                first,
            }))
    };
    let heard = all(conn, query, read, "read the repositories heard from").await?;
    Ok(heard.into_iter().flatten().collect())
}

/// Stores the event made from a delivery; a second call for the same delivery does nothing and
/// returns `None`, so handling a delivery twice records it once.
pub async fn insert(
    conn: &mut Conn,
    delivery: i64,
    event: &Event,
    now: i64,
) -> Result<Option<i64>, StoreError> {
    let data = serde_json::to_string(event)
        .map_err(|e| StoreError::Corrupt(format!("event does not serialize: {e}")))?;
    let row = sqlx::query(
        "INSERT INTO events (delivery, forge, name, repository, number, sender, data, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
         ON CONFLICT (delivery) DO NOTHING \
         RETURNING id",
    )
    .bind(delivery)
    .bind(event.forge.as_str())
    .bind(event.name())
    .bind(event.repository.as_ref().map(|r| r.full_name.as_str()))
    .bind(event.kind.number())
    .bind(event.sender.as_ref().map(|s| s.login.as_str()))
    .bind(data)
    .bind(now)
    .fetch_optional(conn)
    .await
    .context("insert event")?;
    row.map(|r| r.try_get::<i64, _>(0))
        .transpose()
        .context("read event id")
}

/// The event made from a delivery, if any.
pub async fn for_delivery(conn: &mut Conn, delivery: i64) -> Result<Option<Event>, StoreError> {
    let query = sqlx::query("SELECT data FROM events WHERE delivery = $1").bind(delivery);
    stored(conn, query).await
}

/// How many events are stored, for tests and status.
pub async fn count(conn: &mut Conn) -> Result<i64, StoreError> {
    sqlx::query("SELECT COUNT(*) FROM events")
        .fetch_one(conn)
        .await
        .context("count events")?
        .try_get(0)
        .context("count events")
}

/// An event by its stored id.
pub async fn get(conn: &mut Conn, id: i64) -> Result<Option<Event>, StoreError> {
    let query = sqlx::query("SELECT data FROM events WHERE id = $1").bind(id);
    stored(conn, query).await
}

/// The event the row `query` finds, if any, read back from its JSON.
/// One event and the forge's id of the delivery it came in: what a reply about a failure names
/// for the operator.
pub async fn get_with_delivery(
    conn: &mut Conn,
    id: i64,
) -> Result<Option<(Event, String)>, StoreError> {
    let row = optional(
        conn,
        sqlx::query(
            "SELECT e.data, d.delivery_id FROM events e JOIN deliveries d ON d.id = e.delivery \
             WHERE e.id = $1",
        )
        .bind(id),
        |r| Ok((r.try_get::<String, _>(0)?, r.try_get::<String, _>(1)?)),
        "read event",
    )
    .await?;
    row.map(|(data, delivery)| {
        serde_json::from_str(&data)
            .map(|event| (event, delivery))
            .map_err(|e| StoreError::Corrupt(format!("stored event: {e}")))
    })
    .transpose()
}

async fn stored(conn: &mut Conn, query: Query<'_>) -> Result<Option<Event>, StoreError> {
    let data = optional(conn, query, |r| r.try_get::<String, _>(0), "read event").await?;
    data.map(|data| serde_json::from_str(&data))
        .transpose()
        .map_err(|e| StoreError::Corrupt(format!("stored event: {e}")))
}
