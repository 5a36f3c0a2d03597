//! The databases a storage test runs on: SQLite always, PostgreSQL when `ADE_TEST_DATABASE_URL`
//! is set. Each test gets its own SQLite file or PostgreSQL schema, so tests run in parallel.

use ade::store::{Store, StoreOptions};
use sqlx::Executor;
use std::path::PathBuf;
use std::sync::Once;

/// One database for one test, removed when dropped (PostgreSQL schemas are removed by a later
/// run once they are an hour old, since a drop cannot wait for the server).
pub struct TestDb {
    /// `sqlite` or `postgres`, for assertion messages.
    pub name: &'static str,
    /// The URL ade connects with.
    pub url: String,
    /// A scratch folder that serves as ade's data dir.
    pub dir: PathBuf,
}

impl TestDb {
    /// A store on this database, as a second client beside the service under test.
    pub async fn store(&self) -> Store {
        let store = Store::connect(StoreOptions {
            url: self.url.clone(),
            max_connections: 2,
        })
        .await
        .unwrap_or_else(|e| panic!("{}: connect: {e}", self.name));
        store
            .migrate()
            .await
            .unwrap_or_else(|e| panic!("{}: migrate: {e}", self.name));
        store
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn scratch_dir(label: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "ade-test-{label}-{}-{:016x}",
        std::process::id(),
        fastrand::u64(..)
    ));
    std::fs::create_dir_all(&dir).expect("create scratch dir");
    dir
}

/// A fresh SQLite database in its own folder.
pub fn sqlite() -> TestDb {
    let dir = scratch_dir("sqlite");
    TestDb {
        name: "sqlite",
        url: format!("sqlite://{}", dir.join("ade.db").display()),
        dir,
    }
}

static SAID_SKIPPED: Once = Once::new();

/// A fresh schema in the PostgreSQL database `ADE_TEST_DATABASE_URL` names, or `None` (saying
/// once why) when it is not set.
pub async fn postgres() -> Option<TestDb> {
    let Ok(base) = std::env::var("ADE_TEST_DATABASE_URL") else {
        SAID_SKIPPED.call_once(|| {
            eprintln!(
                "skipped: PostgreSQL runs of storage tests (ADE_TEST_DATABASE_URL is not set)"
            )
        });
        return None;
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let schema = format!("ade_t_{now}_{:08x}", fastrand::u32(..));
    let mut admin = <sqlx::PgConnection as sqlx::Connection>::connect(&base)
        .await
        .expect("ADE_TEST_DATABASE_URL is set but PostgreSQL cannot be reached");
    let stale: Vec<(String,)> =
        sqlx::query_as("SELECT nspname::text FROM pg_namespace WHERE nspname LIKE 'ade\\_t\\_%'")
            .fetch_all(&mut admin)
            .await
            .expect("list test schemas");
    for (name,) in stale {
        let created: u64 = name
            .split('_')
            .nth(2)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        if created + 3600 < now {
            let _ = admin
                .execute(format!("DROP SCHEMA IF EXISTS {name} CASCADE").as_str())
                .await;
        }
    }
    admin
        .execute(format!("CREATE SCHEMA {schema}").as_str())
        .await
        .expect("create test schema");
    let separator = if base.contains('?') { '&' } else { '?' };
    Some(TestDb {
        name: "postgres",
        url: format!("{base}{separator}options[search_path]={schema}"),
        dir: scratch_dir("pg"),
    })
}

/// Every database this run tests on.
pub async fn databases() -> Vec<TestDb> {
    let mut all = vec![sqlite()];
    all.extend(postgres().await);
    all
}
