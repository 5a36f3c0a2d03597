//! Deliveries: webhook requests kept raw, keyed by the forge's delivery id.

use super::query::write;
use super::{Conn, Context, StoreError};
use crate::forge::ForgeKind;
use sqlx::Row;

/// A verified delivery about to be stored.
#[derive(Clone, Debug)]
pub struct NewDelivery {
    /// The dialect it came in.
    pub forge: ForgeKind,
    /// The forge's delivery id (`X-GitHub-Delivery`, `X-Gitea-Delivery`).
    pub delivery_id: String,
    /// The event header.
    pub event: String,
    /// Gitea's finer event type header, when sent.
    pub event_type: Option<String>,
    /// `owner/name` read from the payload: deliveries of one repository are handled in order.
    pub repository: Option<String>,
    /// The body's media type, needed to read the body again.
    pub content_type: String,
    /// The body exactly as signed.
    pub body: Vec<u8>,
    /// When ade stored it.
    pub received_at: i64,
}

/// Where a delivery is in its handling.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeliveryState {
    /// Stored, not yet handled.
    Pending,
    /// Became an event.
    Processed,
    /// Kept, but not something ade acts on.
    Ignored,
    /// Handling failed for good; `outcome` holds the error.
    Failed,
}

impl DeliveryState {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryState::Pending => "pending",
            DeliveryState::Processed => "processed",
            DeliveryState::Ignored => "ignored",
            DeliveryState::Failed => "failed",
        }
    }

    fn parse(s: &str) -> Result<DeliveryState, StoreError> {
        Ok(match s {
            "pending" => DeliveryState::Pending,
            "processed" => DeliveryState::Processed,
            "ignored" => DeliveryState::Ignored,
            "failed" => DeliveryState::Failed,
            other => return Err(StoreError::Corrupt(format!("delivery state {other:?}"))),
        })
    }
}

/// A delivery as stored: what was received, and where its handling is.
#[derive(Clone, Debug)]
pub struct StoredDelivery {
    /// ade's own id of the delivery.
    pub id: i64,
    /// The delivery as it was received and stored.
    pub received: NewDelivery,
    /// Where it is in its handling.
    pub state: DeliveryState,
    /// The event name, the reason it was ignored, or the error it failed with.
    pub outcome: Option<String>,
}

/// The start of every statement that stores deliveries; the rows' values follow.
pub(super) const INSERT_DELIVERIES: &str = "INSERT INTO deliveries \
    (forge, delivery_id, event, event_type, repository, content_type, body, received_at) VALUES ";

/// What makes storing a delivery a second time a no-op.
pub(super) const UNLESS_STORED: &str = "ON CONFLICT (forge, delivery_id) DO NOTHING";

/// Stores a delivery unless one with the same forge and delivery id exists. Returns the new id,
/// or `None` for a duplicate.
pub async fn insert(conn: &mut Conn, delivery: &NewDelivery) -> Result<Option<i64>, StoreError> {
    Ok(insert_many(conn, &[delivery]).await?.remove(0))
}

/// Stores several deliveries in one statement, each unless one with the same forge and delivery
/// id exists (stored before, or earlier in `batch`). Returns, in `batch`'s order, each new id or
/// `None` for a duplicate. One statement for a batch instead of one per delivery is what lets the
/// inbox keep up with its disk: each statement is a hand-off to the database and back.
pub async fn insert_many(
    conn: &mut Conn,
    batch: &[&NewDelivery],
) -> Result<Vec<Option<i64>>, StoreError> {
    const COLUMNS: usize = 8;
    // Well under SQLite's (32,766) and PostgreSQL's (65,535) limits on bound parameters.
    const ROWS_PER_STATEMENT: usize = 1_000;
    let mut ids = Vec::with_capacity(batch.len());
    for chunk in batch.chunks(ROWS_PER_STATEMENT) {
        let mut sql = String::from(INSERT_DELIVERIES);
        for row in 0..chunk.len() {
            if row > 0 {
                sql.push_str(", ");
            }
            let first = row * COLUMNS;
            sql.push('(');
            for column in 1..=COLUMNS {
                if column > 1 {
                    sql.push_str(", ");
                }
                sql.push_str(&format!("${}", first + column));
            }
            sql.push(')');
        }
        sql.push(' ');
        sql.push_str(UNLESS_STORED);
        sql.push_str(" RETURNING id, forge, delivery_id");
        let mut query = sqlx::query(&sql);
        for delivery in chunk {
            query = query
                .bind(delivery.forge.as_str())
                .bind(&delivery.delivery_id)
                .bind(&delivery.event)
                .bind(delivery.event_type.as_deref())
                .bind(delivery.repository.as_deref())
                .bind(&delivery.content_type)
                .bind(&delivery.body[..])
                .bind(delivery.received_at);
        }
        let rows = query
            .fetch_all(&mut *conn)
            .await
            .context("insert deliveries")?;
        // The order of RETURNING rows is not promised, so ids are matched by their key; a key
        // given twice in the batch was stored once, for its first occurrence.
        let mut stored = std::collections::HashMap::with_capacity(rows.len());
        for row in &rows {
            let id: i64 = row.try_get(0).context("read delivery id")?;
            let forge: String = row.try_get(1).context("read delivery id")?;
            let delivery_id: String = row.try_get(2).context("read delivery id")?;
            stored.insert((forge, delivery_id), id);
        }
        ids.extend(chunk.iter().map(|delivery| {
            stored.remove(&(
                delivery.forge.as_str().to_string(),
                delivery.delivery_id.clone(),
            ))
        }));
    }
    Ok(ids)
}

/// Reads one delivery by ade's id.
pub async fn get(conn: &mut Conn, id: i64) -> Result<Option<StoredDelivery>, StoreError> {
    let row = sqlx::query(
        "SELECT id, forge, delivery_id, event, event_type, repository, content_type, body, \
                received_at, state, outcome \
         FROM deliveries WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(conn)
    .await
    .context("read delivery")?;
    row.map(|row| from_row(&row)).transpose()
}

/// Reads one delivery by the forge's delivery id.
pub async fn find(
    conn: &mut Conn,
    forge: ForgeKind,
    delivery_id: &str,
) -> Result<Option<StoredDelivery>, StoreError> {
    let row = sqlx::query(
        "SELECT id, forge, delivery_id, event, event_type, repository, content_type, body, \
                received_at, state, outcome \
         FROM deliveries WHERE forge = $1 AND delivery_id = $2",
    )
    .bind(forge.as_str())
    .bind(delivery_id)
    .fetch_optional(conn)
    .await
    .context("find delivery")?;
    row.map(|row| from_row(&row)).transpose()
}

fn from_row(row: &sqlx::any::AnyRow) -> Result<StoredDelivery, StoreError> {
    let forge: String = row.try_get("forge").context("read delivery")?;
    let state: String = row.try_get("state").context("read delivery")?;
    let received = NewDelivery {
        forge: ForgeKind::parse(&forge)
            .ok_or_else(|| StoreError::Corrupt(format!("delivery forge {forge:?}")))?,
        delivery_id: row.try_get("delivery_id").context("read delivery")?,
        event: row.try_get("event").context("read delivery")?,
        event_type: row.try_get("event_type").context("read delivery")?,
        repository: row.try_get("repository").context("read delivery")?,
        content_type: row.try_get("content_type").context("read delivery")?,
        body: row.try_get("body").context("read delivery")?,
        received_at: row.try_get("received_at").context("read delivery")?,
    };
    Ok(StoredDelivery {
        id: row.try_get("id").context("read delivery")?,
        received,
        state: DeliveryState::parse(&state)?,
        outcome: row.try_get("outcome").context("read delivery")?,
    })
}

/// Records how handling a delivery ended.
pub async fn finish(
    conn: &mut Conn,
    id: i64,
    state: DeliveryState,
    outcome: &str,
    now: i64,
) -> Result<(), StoreError> {
    write(
        conn,
        sqlx::query(
            "UPDATE deliveries SET state = $1, outcome = $2, processed_at = $3 WHERE id = $4",
        )
        .bind(state.as_str())
        .bind(outcome)
        .bind(now)
        .bind(id),
        "finish delivery",
    )
    .await
}

/// How many deliveries wait to be handled and how many failed: the two numbers an operator
/// watches. (Handled ones are counted by the metrics as they happen, not by scanning them.)
pub async fn count_backlog(conn: &mut Conn) -> Result<Vec<(DeliveryState, i64)>, StoreError> {
    let rows = sqlx::query(
        "SELECT state, COUNT(*) FROM deliveries WHERE state IN ('pending', 'failed') GROUP BY state",
    )
        .fetch_all(conn)
        .await
        .context("count deliveries")?;
    rows.iter()
        .map(|row| {
            let state: String = row.try_get(0).context("count deliveries")?;
            let count: i64 = row.try_get(1).context("count deliveries")?;
            Ok((DeliveryState::parse(&state)?, count))
        })
        .collect()
}

/// How many deliveries are in `state`.
pub async fn count_in_state(conn: &mut Conn, state: DeliveryState) -> Result<i64, StoreError> {
    sqlx::query("SELECT COUNT(*) FROM deliveries WHERE state = $1")
        .bind(state.as_str())
        .fetch_one(conn)
        .await
        .context("count deliveries")?
        .try_get(0)
        .context("count deliveries")
}

/// How many deliveries are stored, in any state.
pub async fn count(conn: &mut Conn) -> Result<i64, StoreError> {
    sqlx::query("SELECT COUNT(*) FROM deliveries")
        .fetch_one(conn)
        .await
        .context("count deliveries")?
        .try_get(0)
        .context("count deliveries")
}
