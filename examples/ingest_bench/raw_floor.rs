//! The rawest floor on SQLite: the rows ade's inbox writes, written through SQLite's C library
//! directly, with no driver between the loop and the database.
//!
//! The sqlx floor of `database.rs` hands every statement to sqlx's SQLite thread and waits for its
//! answer, so that hand-off is counted as part of the limit. This one calls the C API on the
//! calling thread: prepared statements bound and stepped, `BEGIN`/`COMMIT` around each batch, WAL
//! and synchronous=FULL, a file in the same folder as ade's data dir. It writes what a batch of
//! ade's inbox writes: for each delivery its `deliveries` row and its `delivery` job row, in
//! tables shaped as ade's migrations make them (same columns, keys and indexes); or, to compare
//! with the sqlx floor, the delivery rows alone.

use axum::body::Bytes;
use libsqlite3_sys as ffi;
use std::ffi::{CStr, CString, c_int};
use std::path::Path;
use std::ptr;
use std::time::{Duration, Instant};

use crate::database::Floor;

/// ade's `deliveries` and `jobs` tables with every index ade keeps on them (migrations 0001 and
/// 0007).
const SCHEMA: &str = "
CREATE TABLE deliveries (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    forge         TEXT    NOT NULL,
    delivery_id   TEXT    NOT NULL,
    event         TEXT    NOT NULL,
    event_type    TEXT,
    repository    TEXT,
    content_type  TEXT    NOT NULL,
    body          BLOB    NOT NULL,
    received_at   BIGINT  NOT NULL,
    state         TEXT    NOT NULL DEFAULT 'pending',
    outcome       TEXT,
    processed_at  BIGINT,
    UNIQUE (forge, delivery_id)
);
CREATE INDEX deliveries_by_state ON deliveries (state, id);
CREATE INDEX deliveries_by_repository ON deliveries (forge, repository, processed_at)
    WHERE processed_at IS NOT NULL;
CREATE TABLE jobs (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    kind             TEXT    NOT NULL,
    idempotency_key  TEXT    NOT NULL,
    ordering_key     TEXT,
    payload          TEXT    NOT NULL,
    state            TEXT    NOT NULL DEFAULT 'available',
    attempt          BIGINT  NOT NULL DEFAULT 0,
    max_attempts     BIGINT  NOT NULL,
    run_at           BIGINT  NOT NULL,
    lease_owner      TEXT,
    lease_expires_at BIGINT,
    last_error       TEXT,
    created_at       BIGINT  NOT NULL,
    finished_at      BIGINT
);
CREATE UNIQUE INDEX jobs_by_idempotency_key ON jobs (idempotency_key);
CREATE INDEX jobs_available ON jobs (id) WHERE state = 'available';
CREATE INDEX jobs_unfinished_by_ordering_key ON jobs (ordering_key, id)
    WHERE state IN ('available', 'running');
CREATE INDEX jobs_running_by_lease ON jobs (lease_expires_at) WHERE state = 'running';
CREATE INDEX jobs_finished ON jobs (finished_at) WHERE state IN ('completed', 'failed', 'cancelled');
";

const INSERT_DELIVERY: &CStr = c"INSERT INTO deliveries \
    (forge, delivery_id, event, event_type, repository, content_type, body, received_at) \
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) ON CONFLICT (forge, delivery_id) DO NOTHING";

const INSERT_JOB: &CStr = c"INSERT INTO jobs \
    (kind, idempotency_key, ordering_key, payload, max_attempts, run_at, created_at) \
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT (idempotency_key) DO NOTHING";

/// Writes `bodies` round-robin (each with its job row when `jobs`) in transactions of `batch`
/// deliveries for `length`, into a new database in `dir`, over `repositories` repositories as the
/// load spreads them. Blocks the calling thread.
pub fn measure(
    dir: &Path,
    bodies: &[Bytes],
    repositories: usize,
    batch: usize,
    jobs: bool,
    length: Duration,
) -> anyhow::Result<Floor> {
    std::fs::create_dir_all(dir)?;
    let name = if jobs {
        "raw-floor.db"
    } else {
        "raw-floor-deliveries.db"
    };
    let db = Db::open(&dir.join(name))?;
    db.exec("PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;")?;
    db.exec(SCHEMA)?;
    let delivery = db.prepare(INSERT_DELIVERY)?;
    let job = db.prepare(INSERT_JOB)?;
    let begin = db.prepare(c"BEGIN")?;
    let commit = db.prepare(c"COMMIT")?;
    let repositories: Vec<(CString, CString)> = (0..repositories.max(1))
        .map(|r| {
            let name = format!("ade-bench/service-{r}");
            (
                CString::new(format!("github:{name}")).expect("no NUL"),
                CString::new(name).expect("no NUL"),
            )
        })
        .collect();

    let start = Instant::now();
    let mut rows = 0u64;
    while start.elapsed() < length {
        begin.run()?;
        for _ in 0..batch.max(1) {
            let n = rows as usize;
            let body = &bodies[n % bodies.len()];
            let (ordering_key, repository) = &repositories[n % repositories.len()];
            let delivery_id = CString::new(format!("raw-floor-{rows}")).expect("no NUL");
            let now = rows as i64;
            delivery.bind_text(1, c"github");
            delivery.bind_text(2, &delivery_id);
            delivery.bind_text(3, c"issue_comment");
            delivery.bind_null(4);
            delivery.bind_text(5, repository);
            delivery.bind_text(6, c"application/json");
            delivery.bind_blob(7, body);
            delivery.bind_int64(8, now);
            delivery.run()?;
            rows += 1;
            if !jobs {
                continue;
            }
            let id = db.last_insert_rowid();
            let key = CString::new(format!("delivery:{id}")).expect("no NUL");
            let payload = CString::new(format!("{{\"delivery\":{id}}}")).expect("no NUL");
            job.bind_text(1, c"delivery");
            job.bind_text(2, &key);
            job.bind_text(3, ordering_key);
            job.bind_text(4, &payload);
            job.bind_int64(5, 5);
            job.bind_int64(6, now);
            job.bind_int64(7, now);
            job.run()?;
        }
        commit.run()?;
    }
    let elapsed = start.elapsed();
    drop((delivery, job, begin, commit));
    drop(db);
    Ok(Floor {
        batch,
        rows,
        elapsed,
    })
}

/// An open database; closed on drop, after its statements (which borrow it).
struct Db(*mut ffi::sqlite3);

impl Db {
    fn open(path: &Path) -> anyhow::Result<Db> {
        let name = CString::new(path.as_os_str().as_encoded_bytes())?;
        let mut handle = ptr::null_mut();
        // SAFETY: `name` is NUL-terminated and outlives the call; `handle` receives the pointer.
        let rc = unsafe {
            ffi::sqlite3_open_v2(
                name.as_ptr(),
                &mut handle,
                ffi::SQLITE_OPEN_READWRITE | ffi::SQLITE_OPEN_CREATE | ffi::SQLITE_OPEN_NOMUTEX,
                ptr::null(),
            )
        };
        let db = Db(handle);
        db.check(rc, "open the raw floor's database")?;
        Ok(db)
    }

    fn exec(&self, sql: &str) -> anyhow::Result<()> {
        let sql = CString::new(sql)?;
        // SAFETY: an open handle and a NUL-terminated script; no callback.
        let rc = unsafe {
            ffi::sqlite3_exec(self.0, sql.as_ptr(), None, ptr::null_mut(), ptr::null_mut())
        };
        self.check(rc, "run a script")
    }

    fn prepare(&self, sql: &CStr) -> anyhow::Result<Statement<'_>> {
        let mut stmt = ptr::null_mut();
        // SAFETY: an open handle and a NUL-terminated statement (-1: read up to the NUL).
        let rc = unsafe {
            ffi::sqlite3_prepare_v2(self.0, sql.as_ptr(), -1, &mut stmt, ptr::null_mut())
        };
        self.check(rc, "prepare a statement")?;
        Ok(Statement { db: self, stmt })
    }

    fn last_insert_rowid(&self) -> i64 {
        // SAFETY: an open handle.
        unsafe { ffi::sqlite3_last_insert_rowid(self.0) }
    }

    fn check(&self, rc: c_int, what: &str) -> anyhow::Result<()> {
        if rc == ffi::SQLITE_OK || rc == ffi::SQLITE_DONE {
            return Ok(());
        }
        // SAFETY: sqlite3_errmsg accepts the handle of a failed open too, and returns a string
        // owned by SQLite that stays valid until the next call on the handle.
        let message = unsafe { CStr::from_ptr(ffi::sqlite3_errmsg(self.0)) };
        anyhow::bail!("{what}: {} (code {rc})", message.to_string_lossy())
    }
}

impl Drop for Db {
    fn drop(&mut self) {
        // SAFETY: every statement borrows the handle, so all were finalized before this runs.
        unsafe { ffi::sqlite3_close(self.0) };
    }
}

/// A prepared statement, reused for every row: bound, stepped to its end, reset.
struct Statement<'db> {
    db: &'db Db,
    stmt: *mut ffi::sqlite3_stmt,
}

// SAFETY (all the binds below): `stmt` is a live prepared statement and each index is one of its
// parameters. Texts are copied by SQLite (SQLITE_TRANSIENT); a body is not (SQLITE_STATIC), since
// the bodies `measure` borrows outlive its statements: it is the one copy a driver could avoid.
impl Statement<'_> {
    fn bind_text(&self, index: c_int, value: &CStr) {
        unsafe {
            ffi::sqlite3_bind_text(
                self.stmt,
                index,
                value.as_ptr(),
                -1,
                ffi::SQLITE_TRANSIENT(),
            )
        };
    }

    fn bind_blob(&self, index: c_int, value: &[u8]) {
        unsafe {
            ffi::sqlite3_bind_blob(
                self.stmt,
                index,
                value.as_ptr().cast(),
                c_int::try_from(value.len()).expect("a body under 2 GiB"),
                ffi::SQLITE_STATIC(),
            )
        };
    }

    fn bind_int64(&self, index: c_int, value: i64) {
        unsafe { ffi::sqlite3_bind_int64(self.stmt, index, value) };
    }

    fn bind_null(&self, index: c_int) {
        unsafe { ffi::sqlite3_bind_null(self.stmt, index) };
    }

    /// Steps the statement to its end and resets it for the next row.
    fn run(&self) -> anyhow::Result<()> {
        // SAFETY: a live prepared statement of an open handle.
        let rc = unsafe { ffi::sqlite3_step(self.stmt) };
        // SAFETY: as above; reset keeps the statement for the next row.
        unsafe { ffi::sqlite3_reset(self.stmt) };
        self.db.check(rc, "step a statement")
    }
}

impl Drop for Statement<'_> {
    fn drop(&mut self) {
        // SAFETY: finalized once, here.
        unsafe { ffi::sqlite3_finalize(self.stmt) };
    }
}
