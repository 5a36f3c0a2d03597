//! The database of a run, and the disk floor measured on it.
//!
//! SQLite: a fresh file in the run folder, which is where ade's data dir is, so the floor is
//! measured on the same filesystem. PostgreSQL: a fresh schema in the given database, named in the
//! URL ade gets (`options[search_path]=...`), so runs never see each other's rows; dropped at the
//! end unless `--keep`.
//!
//! The disk floor inserts the benchmark's own 25 KB bodies straight into a table shaped like ade's
//! `deliveries` (same columns, same unique key and index), through sqlx's native driver with ade's
//! durability settings (SQLite: WAL, synchronous=FULL; PostgreSQL: the server's own, reported in
//! the summary), one INSERT per row, in transactions as large as ade's mean group commit was. It
//! is what the disk does for those rows with no HTTP, no JSON and no job rows. These SQL strings
//! live here rather than in ade's storage module on purpose: the floor must not go through ade.

use axum::body::Bytes;
use sqlx::Connection;
use sqlx::postgres::{PgConnectOptions, PgConnection};
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqliteSynchronous};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::{Duration, Instant};

/// Where a run stores its data.
pub enum Database {
    /// A file in the run folder.
    Sqlite { dir: PathBuf },
    /// A fresh schema in a PostgreSQL database.
    Postgres { base_url: String, schema: String },
}

/// What the disk floor came to.
#[derive(Debug)]
pub struct Floor {
    /// Rows per transaction.
    pub batch: usize,
    /// Rows stored.
    pub rows: u64,
    /// From the first BEGIN to the last COMMIT.
    pub elapsed: Duration,
}

impl Floor {
    /// Rows per second.
    pub fn rows_per_sec(&self) -> f64 {
        self.rows as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// The insert loop, written once for both drivers (a macro, because sqlx's generic executor
/// bounds would be longer than the loop).
macro_rules! insert_for {
    ($conn:expr, $bodies:expr, $batch:expr, $length:expr) => {{
        let (conn, bodies, batch, length) = ($conn, $bodies, $batch, $length);
        let insert = "INSERT INTO floor_deliveries \
            (forge, delivery_id, event, event_type, repository, content_type, body, received_at) \
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";
        let start = Instant::now();
        let mut rows = 0u64;
        while start.elapsed() < length {
            let mut tx = conn.begin().await?;
            for _ in 0..batch {
                let body: &Bytes = &bodies[(rows % bodies.len() as u64) as usize];
                sqlx::query(insert)
                    .bind("github")
                    .bind(format!("floor-{rows}"))
                    .bind("issue_comment")
                    .bind(None::<&str>)
                    .bind("ade-bench/service-0")
                    .bind("application/json")
                    .bind(&body[..])
                    .bind(rows as i64)
                    .execute(&mut *tx)
                    .await?;
                rows += 1;
            }
            tx.commit().await?;
        }
        Floor {
            batch,
            rows,
            elapsed: start.elapsed(),
        }
    }};
}

impl Database {
    /// Prepares the database: nothing for SQLite (ade creates its file), a new schema for
    /// PostgreSQL.
    pub async fn create(url: Option<&str>, run_dir: &Path) -> anyhow::Result<Database> {
        let Some(url) = url else {
            return Ok(Database::Sqlite {
                dir: run_dir.join("data"),
            });
        };
        anyhow::ensure!(
            url.starts_with("postgres:") || url.starts_with("postgresql:"),
            "--database takes a postgres:// URL (SQLite is the default)"
        );
        let stamp = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)?
            .as_secs();
        let schema = format!("ade_bench_{stamp}_{}", std::process::id());
        let mut conn = PgConnection::connect(url).await?;
        sqlx::query(&format!("CREATE SCHEMA {schema}"))
            .execute(&mut conn)
            .await?;
        conn.close().await?;
        Ok(Database::Postgres {
            base_url: url.to_string(),
            schema,
        })
    }

    /// The `ADE_*` variables that point ade at this database.
    pub fn ade_env(&self) -> Vec<(String, String)> {
        match self {
            Database::Sqlite { dir } => {
                vec![("ADE_STORAGE__DATA_DIR".into(), dir.display().to_string())]
            }
            Database::Postgres { base_url, schema } => {
                vec![("ADE_DATABASE__URL".into(), schema_url(base_url, schema))]
            }
        }
    }

    /// `sqlite` or `postgres`.
    pub fn kind(&self) -> &'static str {
        match self {
            Database::Sqlite { .. } => "sqlite",
            Database::Postgres { .. } => "postgres",
        }
    }

    /// A line on the database's durability settings and where it keeps its files.
    pub async fn describe(&self) -> anyhow::Result<String> {
        match self {
            Database::Sqlite { dir } => Ok(format!(
                "SQLite (WAL, synchronous=FULL), data dir on {}",
                crate::machine::filesystem(dir)
            )),
            Database::Postgres { .. } => {
                let mut conn = self.postgres().await?;
                let mut show = async |what: &str| -> anyhow::Result<String> {
                    let (v,): (String,) = sqlx::query_as(&format!("SHOW {what}"))
                        .fetch_one(&mut conn)
                        .await?;
                    Ok(v)
                };
                let version = show("server_version").await?;
                let fsync = show("fsync").await?;
                let sync = show("synchronous_commit").await?;
                let data = show("data_directory").await.unwrap_or_default();
                let fs = if Path::new(&data).exists() {
                    crate::machine::filesystem(Path::new(&data))
                } else {
                    "a filesystem this process cannot see".into()
                };
                Ok(format!(
                    "PostgreSQL {version} (fsync={fsync}, synchronous_commit={sync}), data on {fs}"
                ))
            }
        }
    }

    /// A connection to the run's schema (PostgreSQL runs only).
    async fn postgres(&self) -> anyhow::Result<PgConnection> {
        let Database::Postgres { base_url, schema } = self else {
            anyhow::bail!("an SQLite run has no PostgreSQL schema");
        };
        let options = PgConnectOptions::from_str(&schema_url(base_url, schema))?;
        Ok(PgConnection::connect_with(&options).await?)
    }

    /// Inserts `bodies` round-robin in transactions of `batch` rows for `length`; see the module
    /// documentation.
    pub async fn floor(
        &self,
        bodies: &[Bytes],
        batch: usize,
        length: Duration,
    ) -> anyhow::Result<Floor> {
        let batch = batch.max(1);
        match self {
            Database::Sqlite { dir } => {
                std::fs::create_dir_all(dir)?;
                let options = SqliteConnectOptions::new()
                    .filename(dir.join("floor.db"))
                    .create_if_missing(true)
                    .journal_mode(SqliteJournalMode::Wal)
                    .synchronous(SqliteSynchronous::Full);
                let mut conn = SqliteConnection::connect_with(&options).await?;
                let table = "CREATE TABLE floor_deliveries (
                    id INTEGER PRIMARY KEY AUTOINCREMENT, forge TEXT NOT NULL,
                    delivery_id TEXT NOT NULL, event TEXT NOT NULL, event_type TEXT,
                    repository TEXT, content_type TEXT NOT NULL, body BLOB NOT NULL,
                    received_at BIGINT NOT NULL, state TEXT NOT NULL DEFAULT 'pending',
                    outcome TEXT, processed_at BIGINT, UNIQUE (forge, delivery_id));
                    CREATE INDEX floor_by_state ON floor_deliveries (state, id);";
                sqlx::raw_sql(table).execute(&mut conn).await?;
                let floor = insert_for!(&mut conn, bodies, batch, length);
                conn.close().await?;
                Ok(floor)
            }
            Database::Postgres { .. } => {
                let mut conn = self.postgres().await?;
                let table = "CREATE TABLE floor_deliveries (
                    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, forge TEXT NOT NULL,
                    delivery_id TEXT NOT NULL, event TEXT NOT NULL, event_type TEXT,
                    repository TEXT, content_type TEXT NOT NULL, body BYTEA NOT NULL,
                    received_at BIGINT NOT NULL, state TEXT NOT NULL DEFAULT 'pending',
                    outcome TEXT, processed_at BIGINT, UNIQUE (forge, delivery_id));
                    CREATE INDEX floor_by_state ON floor_deliveries (state, id);";
                sqlx::raw_sql(table).execute(&mut conn).await?;
                let floor = insert_for!(&mut conn, bodies, batch, length);
                conn.close().await?;
                Ok(floor)
            }
        }
    }

    /// Drops the PostgreSQL schema (the run folder, with the SQLite files, is removed by the
    /// caller).
    pub async fn drop_schema(&self) -> anyhow::Result<()> {
        if let Database::Postgres { base_url, schema } = self {
            let mut conn = PgConnection::connect(base_url).await?;
            sqlx::query(&format!("DROP SCHEMA {schema} CASCADE"))
                .execute(&mut conn)
                .await?;
            conn.close().await?;
        }
        Ok(())
    }
}

/// `base_url` with the run's schema first on the search path, for ade and the floor alike.
fn schema_url(base_url: &str, schema: &str) -> String {
    let join = if base_url.contains('?') { '&' } else { '?' };
    format!("{base_url}{join}options[search_path]={schema}")
}
