//! Schema migrations: append-only SQL files per backend, embedded in the binary, applied in order
//! and checked against what was applied before, so an edited migration is caught instead of
//! silently diverging between databases.

use super::{Backend, Context, Store, StoreError};
use sha2::{Digest, Sha256};
use sqlx::{Executor, Row};

/// One migration as the binary carries it.
#[derive(Clone, Copy, Debug)]
pub struct Migration {
    /// Applied in ascending order; never reused.
    pub version: i64,
    /// The file name without its number, for humans.
    pub name: &'static str,
    /// The SQL, run in one transaction.
    pub sql: &'static str,
}

impl Migration {
    /// The SHA-256 of the SQL, stored when applied and compared at every start.
    pub fn checksum(&self) -> String {
        hex::encode(Sha256::digest(self.sql.as_bytes()))
    }
}

/// One list of migrations, both backends: every version has a file for each (a test checks the
/// folders), so the two move in step; `migrations!` embeds each file and makes both lists.
macro_rules! migrations {
    ($(($version:literal, $file:literal, $name:literal)),+ $(,)?) => {
        /// The SQLite migrations, in order. A test checks this list against migrations/sqlite/.
        pub const MIGRATIONS_SQLITE: &[Migration] = &[$(Migration {
            version: $version,
            name: $name,
            sql: include_str!(concat!("../../migrations/sqlite/", $file, "_", $name, ".sql")),
        }),+];

        /// The PostgreSQL migrations, in order. A test checks this list against
        /// migrations/postgres/.
        pub const MIGRATIONS_POSTGRES: &[Migration] = &[$(Migration {
            version: $version,
            name: $name,
            sql: include_str!(concat!("../../migrations/postgres/", $file, "_", $name, ".sql")),
        }),+];
    };
}

migrations![
    (1, "0001", "inbox_and_jobs"),
    (2, "0002", "goals_and_specs"),
    (3, "0003", "runs"),
    (4, "0004", "approvals_and_verifications"),
    (5, "0005", "audit"),
    (6, "0006", "secrets"),
    (7, "0007", "retention"),
    (8, "0008", "comments_acted"),
    (9, "0009", "limits"),
    (10, "0010", "unscanned_allowances"),
    (11, "0011", "specs_shown"),
    (12, "0012", "run_reviews"),
    (13, "0013", "external_waits"),
    (14, "0014", "planner_runs"),
    (15, "0015", "api_tokens"),
    (16, "0016", "web_sessions"),
];

pub(super) async fn run(store: &Store) -> Result<usize, StoreError> {
    let migrations = match store.backend() {
        Backend::Sqlite => MIGRATIONS_SQLITE,
        Backend::Postgres => MIGRATIONS_POSTGRES,
    };
    // One transaction for the whole set: DDL is transactional on both engines, and two processes
    // starting at once queue on the write lock (SQLite) or this advisory lock (PostgreSQL), which
    // is scoped to the transaction and so safe behind PgBouncer. The lock is per schema: ade
    // instances on other schemas of the same database migrate without waiting for each other.
    let mut tx = store.begin().await?;
    if store.backend() == Backend::Postgres {
        tx.execute(
            "SELECT 1 FROM (SELECT pg_advisory_xact_lock(4242001, \
             hashtext(COALESCE(current_schema(), '')))) AS migration_lock",
        )
        .await
        .context("lock migrations")?;
    }
    tx.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
            version BIGINT PRIMARY KEY,
            name TEXT NOT NULL,
            checksum TEXT NOT NULL,
            applied_at BIGINT NOT NULL
        )",
    )
    .await
    .context("create schema_migrations")?;

    let mut applied = 0;
    for migration in migrations {
        let row = sqlx::query("SELECT checksum FROM schema_migrations WHERE version = $1")
            .bind(migration.version)
            .fetch_optional(&mut *tx)
            .await
            .context("read schema_migrations")?;
        if let Some(row) = row {
            let stored: String = row.try_get(0).context("read migration checksum")?;
            if stored != migration.checksum() {
                return Err(StoreError::MigrationMismatch {
                    version: migration.version,
                    name: migration.name.to_string(),
                    detail: format!(
                        "applied checksum {stored}, this binary has {}",
                        migration.checksum()
                    ),
                });
            }
            continue;
        }
        tx.execute(migration.sql).await.context("apply migration")?;
        sqlx::query(
            "INSERT INTO schema_migrations (version, name, checksum, applied_at) \
             VALUES ($1, $2, $3, $4)",
        )
        .bind(migration.version)
        .bind(migration.name)
        .bind(migration.checksum())
        .bind(crate::clock::unix_ms())
        .execute(&mut *tx)
        .await
        .context("record migration")?;
        tracing::info!(
            version = migration.version,
            name = migration.name,
            "applied migration"
        );
        applied += 1;
    }
    tx.commit().await.context("commit migrations")?;
    Ok(applied)
}
