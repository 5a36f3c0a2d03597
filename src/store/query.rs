//! How a store function ends once its SQL is bound: reading the rows it returns through a row
//! reader, running a write, or a compare-and-set that either moved its one row or did not.

use super::{Conn, Context, StoreError};
use sqlx::Row;
use sqlx::any::{AnyArguments, AnyRow};

/// A statement with its values bound, as `sqlx::query` builds it.
pub(super) type Query<'q> = sqlx::query::Query<'q, sqlx::Any, AnyArguments<'q>>;

/// The row `query` finds, if any, read by `read`; `what` names the read in errors.
pub(super) async fn optional<T>(
    conn: &mut Conn,
    query: Query<'_>,
    read: impl Fn(&AnyRow) -> Result<T, sqlx::Error>,
    what: &'static str,
) -> Result<Option<T>, StoreError> {
    let row = query.fetch_optional(conn).await.context(what)?;
    row.as_ref().map(read).transpose().context(what)
}

/// Every row `query` finds, in its order, read by `read`.
pub(super) async fn all<T>(
    conn: &mut Conn,
    query: Query<'_>,
    read: impl Fn(&AnyRow) -> Result<T, sqlx::Error>,
    what: &'static str,
) -> Result<Vec<T>, StoreError> {
    let rows = query.fetch_all(conn).await.context(what)?;
    rows.iter()
        .map(read)
        .collect::<Result<_, _>>()
        .context(what)
}

/// Runs a write whose count of rows does not matter.
pub(super) async fn write(
    conn: &mut Conn,
    query: Query<'_>,
    what: &'static str,
) -> Result<(), StoreError> {
    query.execute(conn).await.context(what)?;
    Ok(())
}

/// Runs a compare-and-set: whether it moved the one row it names (false: the row had left the
/// state it expected).
pub(super) async fn moved(
    conn: &mut Conn,
    query: Query<'_>,
    what: &'static str,
) -> Result<bool, StoreError> {
    let done = query.execute(conn).await.context(what)?;
    Ok(done.rows_affected() == 1)
}

/// Asks whatever carries out row `id` of `table` (`runs`, `verifications`) to stop: it sees the
/// flag within seconds.
pub(super) async fn request_cancel(
    conn: &mut Conn,
    table: &'static str,
    id: i64,
    what: &'static str,
) -> Result<(), StoreError> {
    let sql = format!("UPDATE {table} SET cancel_requested = 1 WHERE id = $1");
    write(conn, sqlx::query(&sql).bind(id), what).await
}

/// Whether a stop was asked for row `id` of `table`; false for a row that is not there.
pub(super) async fn cancel_requested(
    conn: &mut Conn,
    table: &'static str,
    id: i64,
    what: &'static str,
) -> Result<bool, StoreError> {
    let sql = format!("SELECT cancel_requested FROM {table} WHERE id = $1");
    let flag = optional(
        conn,
        sqlx::query(&sql).bind(id),
        |r| r.try_get::<i64, _>(0),
        what,
    )
    .await?;
    Ok(flag.unwrap_or(0) != 0)
}
