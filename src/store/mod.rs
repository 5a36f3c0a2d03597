//! Storage: every SQL string ade runs lives in this module.
//!
//! One set of runtime queries serves both backends through sqlx's `Any` driver; where the two
//! dialects differ (row locking, wake-ups), the query is chosen by [`Backend`]. Every storage test
//! runs on SQLite, and on PostgreSQL when `ADE_TEST_DATABASE_URL` is set. docs/architecture.md says
//! why this shape was chosen over one implementation per backend.

pub mod api_tokens;
pub mod approvals;
pub mod audit;
pub mod checks;
pub mod comments;
pub mod deliveries;
pub mod direct;
pub mod events;
pub mod goals;
pub mod jobs;
pub mod leader;
pub mod limits;
pub mod links;
mod migrate;
pub mod planning;
mod query;
pub mod retention;
pub mod reviews;
pub mod runs;
pub mod secrets;
pub mod sticky;
pub mod tasks;
pub mod unscanned;
pub mod verifications;
pub mod web_sessions;

pub use migrate::{MIGRATIONS_POSTGRES, MIGRATIONS_SQLITE, Migration};

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, Executor};
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Once};
use std::time::Duration;

/// The connection type store functions take, so a caller can run several of them in one
/// transaction.
pub type Conn = sqlx::AnyConnection;

/// A transaction on the write side of the store.
pub type Tx = sqlx::Transaction<'static, sqlx::Any>;

/// A storage failure, with what was being done.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database refused or failed a statement.
    #[error("{what}: {source}")]
    Database {
        /// What the store was doing.
        what: &'static str,
        /// The driver's error.
        #[source]
        source: sqlx::Error,
    },
    /// The database URL names neither SQLite nor PostgreSQL.
    #[error("database url: unsupported scheme (use sqlite:// or postgres://)")]
    UnsupportedUrl,
    /// A migration that was applied differs from the one this binary carries.
    #[error("migration {version} ({name}) was changed after it was applied: {detail}")]
    MigrationMismatch {
        /// The migration version.
        version: i64,
        /// Its name.
        name: String,
        /// What differs.
        detail: String,
    },
    /// The SQLite database's folder or file could not be created.
    #[error("cannot create the database folder or file {path}: {source}")]
    Folder {
        /// The folder.
        path: std::path::PathBuf,
        /// The operating system's reason.
        #[source]
        source: std::io::Error,
    },
    /// A stored value could not be read back.
    #[error("corrupt stored value: {0}")]
    Corrupt(String),
    /// SQLite refused or failed a statement on the inbox's own connection ([`direct`]).
    #[error("{what}: {source}")]
    Direct {
        /// What the store was doing.
        what: &'static str,
        /// SQLite's error.
        #[source]
        source: rusqlite::Error,
    },
    /// The store can no longer be reached from where it was asked (the runtime is shutting down).
    #[error("{0}")]
    Closed(&'static str),
    /// A caller asked for a move its lifecycle refuses: a bug in ade, never sent to the database.
    #[error(transparent)]
    IllegalMove(#[from] crate::lifecycle::IllegalMove),
}

/// Adds "what was being done" to a driver error.
pub(crate) trait Context<T> {
    fn context(self, what: &'static str) -> Result<T, StoreError>;
}

impl<T> Context<T> for Result<T, sqlx::Error> {
    fn context(self, what: &'static str) -> Result<T, StoreError> {
        self.map_err(|source| StoreError::Database { what, source })
    }
}

/// Which database engine the store runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// SQLite in WAL mode: the embedded default; one process owns the queue.
    Sqlite,
    /// PostgreSQL: several ade processes may share it.
    Postgres,
}

impl Backend {
    /// Tells the backend from a database URL.
    pub fn from_url(url: &str) -> Result<Backend, StoreError> {
        if url.starts_with("sqlite:") {
            Ok(Backend::Sqlite)
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Ok(Backend::Postgres)
        } else {
            Err(StoreError::UnsupportedUrl)
        }
    }

    /// The backend a connection talks to.
    pub fn of(conn: &Conn) -> Backend {
        if conn.backend_name() == "PostgreSQL" {
            Backend::Postgres
        } else {
            Backend::Sqlite
        }
    }

    /// The name used in logs and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

/// How to open the store.
#[derive(Clone, Debug)]
pub struct StoreOptions {
    /// `sqlite://…` or `postgres://…`.
    pub url: String,
    /// Pool size on PostgreSQL; SQLite has one writer and up to this many readers (at most 4).
    pub max_connections: u32,
}

/// The database behind ade: cheap to clone, shared by the ingress, the workers and the web routes.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

struct Inner {
    backend: Backend,
    /// Writes go here. On SQLite this pool has one connection, so writers queue in the process
    /// instead of spinning on SQLite's busy handler.
    write: AnyPool,
    /// Reads go here; the same pool as `write` on PostgreSQL.
    read: AnyPool,
    /// On SQLite, the database file, for a connection outside the pools ([`direct`]); `None` on
    /// PostgreSQL and for an in-memory database.
    sqlite_file: Option<std::path::PathBuf>,
    options: StoreOptions,
    /// Tasks waiting for a write connection right now, so the inbox can see when holding the
    /// SQLite write connection keeps someone waiting.
    waiting_writers: AtomicUsize,
    /// On SQLite: the write connection may be committing at [`Durability::Queue`]
    /// (`synchronous = NORMAL`), so the next [`Durability::Synced`] write must restore `FULL`
    /// first. Set before the pragma runs and cleared only after `FULL` is back, so it is never
    /// false while the connection is relaxed.
    relaxed: AtomicBool,
}

/// How far a write's commit must have reached before it returns (docs/operations.md,
/// "Durability").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Durability {
    /// On disk: what ade has answered for (a delivery's 202), every handler's writes, audit
    /// records. The default.
    Synced,
    /// Written, and on disk with the next synced commit: the job queue's own bookkeeping (claims,
    /// leases, completions, a delivery turned into its event). A power cut or an OS crash can lose
    /// the latest of these, which leaves ade where a crash just before them would have: the jobs
    /// run again. A crash of ade alone loses nothing. On SQLite `synchronous = NORMAL` for the
    /// commit; on PostgreSQL `synchronous_commit = off` for the transaction.
    Queue,
}

/// The turn to write on SQLite: the pool's one write connection, held unused while its holder
/// writes through its own ([`Store::write_turn`]). Dropping it hands the turn on, from any thread.
pub struct WriteTurn {
    conn: Option<sqlx::pool::PoolConnection<sqlx::Any>>,
    /// The pool takes its connection back on a runtime, which a plain thread lacks.
    runtime: tokio::runtime::Handle,
}

impl Drop for WriteTurn {
    fn drop(&mut self) {
        let _runtime = self.runtime.enter();
        drop(self.conn.take());
    }
}

/// Counts a task among those waiting for a write connection for as long as it lives.
struct Waiting<'a>(&'a AtomicUsize);

impl<'a> Waiting<'a> {
    fn new(count: &'a AtomicUsize) -> Waiting<'a> {
        count.fetch_add(1, Ordering::Relaxed);
        Waiting(count)
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("backend", &self.inner.backend)
            .finish()
    }
}

static INSTALL_DRIVERS: Once = Once::new();

impl Store {
    /// Opens the database the URL names, creating an SQLite file (and its folder) if missing.
    /// Does not migrate: call [`Store::migrate`].
    pub async fn connect(options: StoreOptions) -> Result<Store, StoreError> {
        INSTALL_DRIVERS.call_once(sqlx::any::install_default_drivers);
        let backend = Backend::from_url(&options.url)?;
        let (write, read, sqlite_file) = match backend {
            Backend::Sqlite => {
                let url = sqlite_url(&options.url)?;
                let write = sqlite_pool(&url, 1).await?;
                let readers = options.max_connections.clamp(1, 4);
                let read = sqlite_pool(&url, readers).await?;
                (write, read, sqlite_file(&url)?)
            }
            Backend::Postgres => {
                let connect =
                    AnyConnectOptions::from_str(&options.url).context("parse database url")?;
                let pool = AnyPoolOptions::new()
                    .max_connections(options.max_connections.max(2))
                    .acquire_timeout(Duration::from_secs(10))
                    .connect_with(connect)
                    .await
                    .context("connect to postgres")?;
                (pool.clone(), pool, None)
            }
        };
        Ok(Store {
            inner: Arc::new(Inner {
                backend,
                write,
                read,
                sqlite_file,
                options,
                waiting_writers: AtomicUsize::new(0),
                relaxed: AtomicBool::new(false),
            }),
        })
    }

    /// Applies the migrations this binary carries that the database lacks; returns how many.
    pub async fn migrate(&self) -> Result<usize, StoreError> {
        migrate::run(self).await
    }

    /// The engine in use.
    pub fn backend(&self) -> Backend {
        self.inner.backend
    }

    /// The options the store was opened with (for a PostgreSQL listener connection).
    pub fn options(&self) -> &StoreOptions {
        &self.inner.options
    }

    /// The SQLite database file, for the inbox's own connection ([`direct`]); `None` on
    /// PostgreSQL and for an in-memory database.
    pub fn sqlite_file(&self) -> Option<&std::path::Path> {
        self.inner.sqlite_file.as_deref()
    }

    /// Begins a write transaction whose commit is [`Durability::Synced`]. On SQLite it takes the
    /// write lock at once (`BEGIN IMMEDIATE`), so a transaction that reads before it writes
    /// cannot fail half-way on a lock upgrade.
    pub async fn begin(&self) -> Result<Tx, StoreError> {
        self.begin_for(Durability::Synced).await
    }

    /// Begins a write transaction as [`Store::begin`] does, committing at `durability`.
    pub async fn begin_for(&self, durability: Durability) -> Result<Tx, StoreError> {
        let _waiting = Waiting::new(&self.inner.waiting_writers);
        match self.inner.backend {
            Backend::Sqlite => {
                let mut conn = self
                    .inner
                    .write
                    .acquire()
                    .await
                    .context("acquire connection")?;
                self.commit_at(&mut conn, durability).await?;
                // The pragma cannot change inside a transaction, so the transaction is begun on
                // the connection it was set on, as `Pool::begin_with` does.
                sqlx::Transaction::begin(conn, Some("BEGIN IMMEDIATE".into()))
                    .await
                    .context("begin transaction")
            }
            Backend::Postgres => {
                let mut tx = self
                    .inner
                    .write
                    .begin()
                    .await
                    .context("begin transaction")?;
                if durability == Durability::Queue {
                    tx.execute("SET LOCAL synchronous_commit = off")
                        .await
                        .context("relax the commit")?;
                }
                Ok(tx)
            }
        }
    }

    /// A connection for reads that need no transaction.
    pub async fn reader(&self) -> Result<sqlx::pool::PoolConnection<sqlx::Any>, StoreError> {
        self.inner
            .read
            .acquire()
            .await
            .context("acquire connection")
    }

    /// A connection for single-statement writes outside a transaction, each
    /// [`Durability::Synced`].
    pub async fn writer(&self) -> Result<sqlx::pool::PoolConnection<sqlx::Any>, StoreError> {
        self.writer_for(Durability::Synced).await
    }

    /// A connection for single-statement writes at `durability`. On PostgreSQL every such
    /// statement is synced: its pool's connections are shared, and a setting for the session
    /// would outlive the caller.
    pub async fn writer_for(
        &self,
        durability: Durability,
    ) -> Result<sqlx::pool::PoolConnection<sqlx::Any>, StoreError> {
        let _waiting = Waiting::new(&self.inner.waiting_writers);
        let mut conn = self
            .inner
            .write
            .acquire()
            .await
            .context("acquire connection")?;
        if self.inner.backend == Backend::Sqlite {
            self.commit_at(&mut conn, durability).await?;
        }
        Ok(conn)
    }

    /// Waits for the turn to write and holds it, for a writer with a connection of its own
    /// ([`direct`]): every other write of the process waits meanwhile, as for any holder of the
    /// write connection.
    pub async fn write_turn(&self) -> Result<WriteTurn, StoreError> {
        let _waiting = Waiting::new(&self.inner.waiting_writers);
        let conn = self
            .inner
            .write
            .acquire()
            .await
            .context("wait for the turn to write")?;
        Ok(WriteTurn {
            conn: Some(conn),
            runtime: tokio::runtime::Handle::current(),
        })
    }

    /// Sets SQLite's write connection to commit at `durability`, when it does not already.
    async fn commit_at(&self, conn: &mut Conn, durability: Durability) -> Result<(), StoreError> {
        let relaxed = &self.inner.relaxed;
        match durability {
            Durability::Synced if relaxed.load(Ordering::SeqCst) => {
                conn.execute("PRAGMA synchronous = FULL")
                    .await
                    .context("restore synced commits")?;
                relaxed.store(false, Ordering::SeqCst);
            }
            Durability::Queue if !relaxed.load(Ordering::SeqCst) => {
                relaxed.store(true, Ordering::SeqCst);
                conn.execute("PRAGMA synchronous = NORMAL")
                    .await
                    .context("relax the commit")?;
            }
            _ => {}
        }
        Ok(())
    }

    /// Whether another task waits for the write connection that the caller holds: on SQLite,
    /// where there is one, holding it longer keeps that task waiting. Always false on PostgreSQL,
    /// whose pool has connections for the others.
    pub fn writer_wanted(&self) -> bool {
        self.inner.backend == Backend::Sqlite
            && self.inner.waiting_writers.load(Ordering::Relaxed) > 0
    }

    /// Checks the database answers, for `/readyz`.
    pub async fn ping(&self) -> Result<(), StoreError> {
        let mut conn = self.reader().await?;
        conn.execute("SELECT 1").await.context("ping database")?;
        Ok(())
    }

    /// Closes every connection; waits for those in use to be returned.
    pub async fn close(&self) {
        self.inner.write.close().await;
        self.inner.read.close().await;
    }
}

/// Makes sure an SQLite URL creates its file and that the file's folder exists. A folder ade
/// creates may be passed through but not listed by others (the runner's workdir may lie below it);
/// a database file ade creates is readable by its owner alone, and SQLite gives its journal files
/// the same mode.
fn sqlite_url(url: &str) -> Result<String, StoreError> {
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
    let rest = url.trim_start_matches("sqlite:").trim_start_matches("//");
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    let parent = std::path::Path::new(path).parent();
    let creates = !query
        .split('&')
        .any(|kv| kv.starts_with("mode=") && kv != "mode=rwc");
    if path != ":memory:" && !path.is_empty() && creates {
        if let Some(parent) = parent.filter(|p| !p.as_os_str().is_empty()) {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o711)
                .create(parent)
                .map_err(|source| StoreError::Folder {
                    path: parent.to_path_buf(),
                    source,
                })?;
        }
        let created = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path);
        match created {
            Ok(_) => {}
            Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(source) => {
                return Err(StoreError::Folder {
                    path: std::path::PathBuf::from(path),
                    source,
                });
            }
        }
    }
    if query.split('&').any(|kv| kv.starts_with("mode=")) {
        Ok(url.to_string())
    } else if query.is_empty() {
        Ok(format!("{url}?mode=rwc"))
    } else {
        Ok(format!("{url}&mode=rwc"))
    }
}

/// The file an SQLite URL names as sqlx reads it, for a second connection that must open the
/// very database the pools open: `None` for an in-memory or temporary database, and for settings
/// a plain read-write open would not honour (another VFS, a read-only or immutable file, a shared
/// cache).
fn sqlite_file(url: &str) -> Result<Option<std::path::PathBuf>, StoreError> {
    let query = url.split_once('?').map_or("", |(_, query)| query);
    let plain = query
        .split('&')
        .all(|kv| matches!(kv, "" | "mode=rw" | "mode=rwc"));
    if url.contains(":memory:") || !plain {
        return Ok(None);
    }
    let options =
        sqlx::sqlite::SqliteConnectOptions::from_str(url).context("parse database url")?;
    let file = options.get_filename();
    Ok((!file.as_os_str().is_empty()).then(|| file.to_path_buf()))
}

async fn sqlite_pool(url: &str, connections: u32) -> Result<AnyPool, StoreError> {
    let connect = AnyConnectOptions::from_str(url).context("parse database url")?;
    AnyPoolOptions::new()
        .max_connections(connections)
        .min_connections(1)
        .acquire_timeout(Duration::from_secs(30))
        .after_connect(|conn, _meta| {
            Box::pin(async move {
                // synchronous=FULL: a commit is on disk before ade answers 2xx for it.
                conn.execute(
                    "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; \
                     PRAGMA busy_timeout = 10000; PRAGMA foreign_keys = ON;",
                )
                .await?;
                Ok(())
            })
        })
        .connect_with(connect)
        .await
        .context("open sqlite database")
}

/// Reads the name stored in `column` as `parse` reads it, refusing a name this binary does not
/// know as one of `what`.
pub(crate) fn named<T>(
    row: &sqlx::any::AnyRow,
    column: usize,
    what: &str,
    parse: impl FnOnce(&str) -> Option<T>,
) -> Result<T, sqlx::Error> {
    use sqlx::Row;
    let name: String = row.try_get(column)?;
    parse(&name).ok_or_else(|| sqlx::Error::ColumnDecode {
        index: column.to_string(),
        source: format!("unknown {what} {name:?}").into(),
    })
}

/// Reads a stored lifecycle state, refusing a name this binary does not know.
pub(crate) fn state<S: crate::lifecycle::State>(
    row: &sqlx::any::AnyRow,
    column: usize,
) -> Result<S, sqlx::Error> {
    named(row, column, &format!("{} state", S::THING), S::parse)
}

#[cfg(test)]
mod tests {
    use super::sqlite_file;
    use std::path::PathBuf;

    #[test]
    fn the_inbox_opens_its_own_connection_only_to_a_plain_database_file() {
        let file = |url: &str| sqlite_file(url).unwrap();
        let data = Some(PathBuf::from("/var/lib/ade/ade.db"));
        assert_eq!(file("sqlite:///var/lib/ade/ade.db?mode=rwc"), data);
        assert_eq!(file("sqlite:/var/lib/ade/ade.db"), data);
        assert_eq!(file("sqlite:///var/lib/ade/ade.db?mode=rw"), data);
        assert_eq!(
            file("sqlite:///var/lib/ade/a%3Fb.db?mode=rwc"),
            Some(PathBuf::from("/var/lib/ade/a?b.db")),
            "the file as sqlx decodes it"
        );
        for other in [
            "sqlite::memory:",
            "sqlite://ade.db?mode=memory",
            "sqlite:?mode=rwc",
            "sqlite://?mode=rwc",
            "sqlite://ade.db?mode=ro",
            "sqlite://ade.db?mode=rwc&vfs=unix-dotfile",
            "sqlite://ade.db?immutable=true",
            "sqlite://ade.db?cache=shared",
        ] {
            assert_eq!(file(other), None, "{other}");
        }
    }
}
