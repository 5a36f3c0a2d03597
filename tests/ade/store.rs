//! Storage: migrations are append-only and checked, and the schema does what each migration
//! promises, on both databases.

use crate::support::databases;
use ade::forge::ForgeKind;
use ade::store::deliveries::{self, NewDelivery};
use ade::store::direct::DirectConn;
use ade::store::jobs::NewJob;
use ade::store::{MIGRATIONS_POSTGRES, MIGRATIONS_SQLITE, Migration, StoreError};
use sqlx::Executor;
use std::time::Duration;

/// Checksums of migrations that have landed. A landed migration is never edited: add a new one.
const LANDED: &[(i64, &str, &str)] = &[
    (
        1,
        "c9db55fa9c95e62c97203a724383035c8a49c8b531695fbb0827ab6d5b7a8a7a",
        "aa798a6a00abe86ed63126917360ce135806a61f68a820ea3115481e329d01b9",
    ),
    (
        2,
        "d5fa026ff5f3ef3b2a28b4ba6cf82489c7bc39a0cf95b0fb1db50df822fd7be6",
        "8c8f9bf4ac88ef33e2883d69ec222f5ab51b692e06caf1fc380b4e2d309dda9d",
    ),
    (
        3,
        "3730ad29ea75810a746432191a7131a188c5b1a8c2262180cb72976a22116b72",
        "54a635e5f0404d6d8aad264b3891c4cba0764d012ac02b599a20153e55c5f33f",
    ),
    (
        4,
        "1630e60a82233e1a98b9178f773db3cfa7ec50d5b7d08d0f180f10a70aa632ad",
        "95cac27c9fd82e1d07598a268c51ade498da9382f17f8d4a66ef367caa0d68bb",
    ),
];

fn listed(dir: &str) -> Vec<String> {
    let mut names: Vec<String> =
        std::fs::read_dir(format!("{}/migrations/{dir}", env!("CARGO_MANIFEST_DIR")))
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
    names.sort();
    names
}

fn carried(migrations: &[Migration]) -> Vec<String> {
    migrations
        .iter()
        .map(|m| format!("{:04}_{}.sql", m.version, m.name))
        .collect()
}

#[test]
fn the_binary_carries_every_migration_file_in_order_for_both_backends() {
    assert_eq!(carried(MIGRATIONS_SQLITE), listed("sqlite"));
    assert_eq!(carried(MIGRATIONS_POSTGRES), listed("postgres"));
    assert_eq!(
        carried(MIGRATIONS_SQLITE),
        carried(MIGRATIONS_POSTGRES),
        "both backends move in step"
    );
    for (m, version) in MIGRATIONS_SQLITE.iter().zip(1..) {
        assert_eq!(m.version, version, "versions are consecutive");
    }
}

#[test]
fn landed_migrations_are_never_edited() {
    for (version, sqlite, postgres) in LANDED {
        for (backend, migrations, checksum) in [
            ("sqlite", MIGRATIONS_SQLITE, sqlite),
            ("postgres", MIGRATIONS_POSTGRES, postgres),
        ] {
            let m = migrations
                .iter()
                .find(|m| m.version == *version)
                .expect("landed migration present");
            assert_eq!(
                &m.checksum(),
                checksum,
                "{backend} migration {version} was edited: add a new migration instead"
            );
        }
    }
}

#[tokio::test]
async fn migrating_twice_applies_nothing_the_second_time() {
    for db in databases().await {
        let store = db.store().await;
        assert_eq!(store.migrate().await.unwrap(), 0, "{}", db.name);
    }
}

/// Two ade instances starting at once on one database apply each migration once between them;
/// on PostgreSQL the lock they queue on is their schema's, so an instance migrating another
/// schema of the same database never waits for them.
#[tokio::test]
async fn instances_starting_at_once_migrate_once_and_other_schemas_do_not_wait() {
    for db in databases().await {
        let connect = || {
            ade::store::Store::connect(ade::store::StoreOptions {
                url: db.url.clone(),
                max_connections: 2,
            })
        };
        let (one, two) = (connect().await.unwrap(), connect().await.unwrap());
        let (a, b) = tokio::join!(one.migrate(), two.migrate());
        let applied = a.unwrap() + b.unwrap();
        assert_eq!(applied, MIGRATIONS_SQLITE.len(), "{}: each once", db.name);
        if db.name != "postgres" {
            continue;
        }
        // Hold the migration lock of one schema as a migrating instance would.
        let mut holder = <sqlx::PgConnection as sqlx::Connection>::connect(&db.url)
            .await
            .unwrap();
        holder.execute("BEGIN").await.unwrap();
        holder
            .execute(
                "SELECT pg_advisory_xact_lock(4242001, hashtext(COALESCE(current_schema(), '')))",
            )
            .await
            .unwrap();
        let other = crate::support::db::postgres().await.unwrap();
        let elsewhere = ade::store::Store::connect(ade::store::StoreOptions {
            url: other.url.clone(),
            max_connections: 2,
        })
        .await
        .unwrap();
        let migrated = tokio::time::timeout(Duration::from_secs(60), elsewhere.migrate()).await;
        assert_eq!(
            migrated
                .expect("another schema migrates while this one is locked")
                .unwrap(),
            MIGRATIONS_POSTGRES.len()
        );
        let same = connect().await.unwrap();
        let waiting = tokio::spawn(async move { same.migrate().await });
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert!(!waiting.is_finished(), "the same schema waits for its lock");
        holder.execute("COMMIT").await.unwrap();
        assert_eq!(waiting.await.unwrap().unwrap(), 0, "nothing left to apply");
    }
}

#[tokio::test]
async fn a_database_migrated_by_an_edited_migration_is_refused() {
    for db in databases().await {
        let store = db.store().await;
        let mut conn = store.writer().await.unwrap();
        conn.execute("UPDATE schema_migrations SET checksum = 'edited' WHERE version = 1")
            .await
            .unwrap();
        drop(conn);
        let error = store.migrate().await.unwrap_err();
        assert!(
            matches!(error, StoreError::MigrationMismatch { version: 1, .. }),
            "{}: {error}",
            db.name
        );
        assert!(
            error
                .to_string()
                .contains("was changed after it was applied")
        );
    }
}

#[tokio::test]
async fn migration_1_keys_deliveries_by_forge_and_delivery_id() {
    for db in databases().await {
        let store = db.store().await;
        let mut conn = store.writer().await.unwrap();
        let first = deliveries::insert(&mut conn, &delivery(ForgeKind::Github, "d1", b"{\"a\":1}"))
            .await
            .unwrap();
        let again = deliveries::insert(&mut conn, &delivery(ForgeKind::Github, "d1", b"{\"b\":2}"))
            .await
            .unwrap();
        let other_forge = deliveries::insert(&mut conn, &delivery(ForgeKind::Gitea, "d1", b"{}"))
            .await
            .unwrap();
        assert!(
            first.is_some() && again.is_none() && other_forge.is_some(),
            "{}",
            db.name
        );
        let kept = deliveries::get(&mut conn, first.unwrap())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            kept.received.body, b"{\"a\":1}",
            "{}: the first body is kept byte for byte",
            db.name
        );
        let binary: Vec<u8> = (0..=255).collect();
        let id = deliveries::insert(&mut conn, &delivery(ForgeKind::Github, "bin", &binary))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            deliveries::get(&mut conn, id)
                .await
                .unwrap()
                .unwrap()
                .received
                .body,
            binary,
            "{}",
            db.name
        );
    }
}

fn delivery(forge: ForgeKind, id: &str, body: &[u8]) -> NewDelivery {
    NewDelivery {
        forge,
        delivery_id: id.into(),
        event: "issues".into(),
        event_type: None,
        repository: Some("acme/widgets".into()),
        content_type: "application/json".into(),
        body: body.to_vec(),
        received_at: 1,
    }
}

/// A batch the inbox may get: a delivery stored before ("old"), one delivery id given twice, and
/// one id shared by two forges.
fn one_batch() -> [NewDelivery; 5] {
    [
        delivery(ForgeKind::Github, "a", b"{\"n\":1}"),
        delivery(ForgeKind::Github, "old", b"{\"n\":2}"),
        delivery(ForgeKind::Gitea, "a", b"{\"n\":3}"),
        delivery(ForgeKind::Github, "a", b"{\"n\":4}"),
        delivery(ForgeKind::Github, "b", b"{\"n\":5}"),
    ]
}

/// What storing [`one_batch`] after "old" (stored as `before`) must come to.
async fn stored_as_one_batch_should(
    db: &crate::support::TestDb,
    conn: &mut ade::store::Conn,
    before: i64,
    ids: &[Option<i64>],
) {
    assert_eq!(ids.len(), 5, "{}", db.name);
    assert!(ids[1].is_none() && ids[3].is_none(), "{}: {ids:?}", db.name);
    let new: Vec<i64> = [ids[0], ids[2], ids[4]].map(Option::unwrap).to_vec();
    assert!(
        new.windows(2).all(|w| w[0] < w[1]) && new[0] > before,
        "{}: ids in arrival order, after the earlier delivery: {ids:?}",
        db.name
    );
    for (id, body) in [
        (new[0], b"{\"n\":1}"),
        (new[1], b"{\"n\":3}"),
        (new[2], b"{\"n\":5}"),
    ] {
        let kept = deliveries::get(conn, id).await.unwrap().unwrap();
        assert_eq!(kept.received.body, body, "{}", db.name);
        assert_eq!(
            kept.state,
            deliveries::DeliveryState::Pending,
            "{}",
            db.name
        );
    }
}

#[tokio::test]
async fn deliveries_of_one_batch_get_their_own_ids_and_a_key_given_twice_is_stored_once() {
    for db in databases().await {
        let store = db.store().await;
        let mut conn = store.writer().await.unwrap();
        let before = deliveries::insert(&mut conn, &delivery(ForgeKind::Github, "old", b"{}"))
            .await
            .unwrap()
            .unwrap();
        let batch = one_batch();
        let refs: Vec<&NewDelivery> = batch.iter().collect();
        let ids = deliveries::insert_many(&mut conn, &refs).await.unwrap();
        stored_as_one_batch_should(&db, &mut conn, before, &ids).await;
    }
}

#[tokio::test]
async fn the_inbox_s_own_sqlite_connection_stores_a_batch_as_the_pool_does() {
    let db = crate::support::db::sqlite();
    let store = db.store().await;
    let mut conn = store.writer().await.unwrap();
    let before = deliveries::insert(&mut conn, &delivery(ForgeKind::Github, "old", b"{}"))
        .await
        .unwrap()
        .unwrap();
    drop(conn);
    let file = store.sqlite_file().expect("an SQLite store names its file");
    let mut direct = DirectConn::open(file).unwrap();
    let batch = one_batch();
    let refs: Vec<&NewDelivery> = batch.iter().collect();
    let job = |key: &str| NewJob {
        kind: "delivery".into(),
        idempotency_key: key.into(),
        ordering_key: Some("github:acme/widgets".into()),
        payload: "{}".into(),
        max_attempts: 3,
        run_at: 1,
    };

    let turn = store.write_turn().await.unwrap();
    let rolled_back = direct.begin().unwrap();
    rolled_back
        .insert_deliveries(&[&delivery(ForgeKind::Github, "gone", b"{}")])
        .unwrap();
    drop(rolled_back);
    let tx = direct.begin().unwrap();
    let ids = tx.insert_deliveries(&refs).unwrap();
    let jobs = [job("direct:1"), job("direct:2"), job("direct:1")];
    assert_eq!(
        tx.enqueue_many(&jobs, 7).unwrap(),
        2,
        "a key given twice is one job"
    );
    tx.commit().unwrap();
    drop(turn);

    let mut conn = store.writer().await.unwrap();
    stored_as_one_batch_should(&db, &mut conn, before, &ids).await;
    assert!(
        deliveries::find(&mut conn, ForgeKind::Github, "gone")
            .await
            .unwrap()
            .is_none(),
        "a transaction dropped without its commit stores nothing"
    );
    let row = ade::store::jobs::find(&mut conn, "direct:2")
        .await
        .unwrap()
        .expect("the job is stored");
    assert_eq!(
        (
            row.kind.as_str(),
            row.state.as_str(),
            row.max_attempts,
            row.run_at
        ),
        ("delivery", "available", 3, 1)
    );
}

#[tokio::test]
async fn every_other_write_waits_while_the_inbox_holds_the_turn_to_write() {
    let db = crate::support::db::sqlite();
    let store = db.store().await;
    let turn = store.write_turn().await.unwrap();
    let waiting = tokio::spawn({
        let store = store.clone();
        async move { store.writer().await.map(drop) }
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(!waiting.is_finished(), "a write waits for the turn");
    assert!(
        store.writer_wanted(),
        "the holder of the turn sees the write waiting"
    );
    drop(turn);
    tokio::time::timeout(Duration::from_secs(10), waiting)
        .await
        .expect("the write gets the turn once it is handed on")
        .unwrap()
        .unwrap();
    assert!(!store.writer_wanted());
}

#[tokio::test]
async fn migration_4_turns_task_pull_requests_into_approvals_and_approval_tasks_into_review() {
    for db in databases().await {
        let store = ade::store::Store::connect(ade::store::StoreOptions {
            url: db.url.clone(),
            max_connections: 2,
        })
        .await
        .unwrap();
        let migrations = match store.backend() {
            ade::store::Backend::Sqlite => MIGRATIONS_SQLITE,
            ade::store::Backend::Postgres => MIGRATIONS_POSTGRES,
        };
        let mut conn = store.writer().await.unwrap();
        conn.execute(
            "CREATE TABLE schema_migrations (version BIGINT PRIMARY KEY, name TEXT NOT NULL, \
             checksum TEXT NOT NULL, applied_at BIGINT NOT NULL)",
        )
        .await
        .unwrap();
        for m in migrations.iter().filter(|m| m.version <= 3) {
            conn.execute(m.sql).await.unwrap();
            sqlx::query(
                "INSERT INTO schema_migrations (version, name, checksum, applied_at) \
                 VALUES ($1, $2, $3, 0)",
            )
            .bind(m.version)
            .bind(m.name)
            .bind(m.checksum())
            .execute(&mut *conn)
            .await
            .unwrap();
        }
        for statement in [
            "INSERT INTO goals (forge, repository, number, created_at) VALUES ('github', 'acme/widgets', 12, 1)",
            "INSERT INTO specs (goal, version, state, content, content_hash, author, planner, created_at, changed_at) \
             VALUES (1, 1, 'active', '{}', 'h', 'mia', 'manual', 1, 1)",
            "INSERT INTO tasks (spec, task_id, state, changed_at, branch, pull_number, head_sha) \
             VALUES (1, 't1', 'approval', 5, 'ade/12-t1', 31, 'abc')",
            "INSERT INTO tasks (spec, task_id, state, changed_at, branch, pull_number, head_sha) \
             VALUES (1, 't2', 'merged', 6, 'ade/12-t2', 32, 'def')",
            "INSERT INTO tasks (spec, task_id, state, changed_at) VALUES (1, 't3', 'waiting', 7)",
            "INSERT INTO runs (task, attempt, state, agent, environment, base_sha, branch, requester, created_at) \
             VALUES (1, 1, 'succeeded', 'script', 'worktree', 'base', 'ade/12-t1', 'mia', 2)",
        ] {
            conn.execute(statement).await.unwrap();
        }
        drop(conn);
        assert_eq!(
            store.migrate().await.unwrap(),
            migrations.len() - 3,
            "{}",
            db.name
        );
        let mut conn = store.reader().await.unwrap();
        let tasks = ade::store::tasks::tasks_of(&mut conn, 1).await.unwrap();
        assert_eq!(
            tasks.iter().map(|t| t.state).collect::<Vec<_>>(),
            [
                ade::lifecycle::TaskState::Review,
                ade::lifecycle::TaskState::Merged,
                ade::lifecycle::TaskState::Waiting
            ],
            "{}",
            db.name
        );
        let first = ade::store::approvals::of_task(&mut conn, tasks[0].id)
            .await
            .unwrap()
            .expect("t1's pull request is an approval");
        assert_eq!(
            (
                first.number,
                first.branch.as_str(),
                first.head_sha.as_str(),
                first.state,
                first.requester.as_str(),
                first.forge
            ),
            (
                31,
                "ade/12-t1",
                "abc",
                ade::lifecycle::ApprovalState::Pending,
                "mia",
                ForgeKind::Github
            ),
            "{}",
            db.name
        );
        let merged = ade::store::approvals::of_task(&mut conn, tasks[1].id)
            .await
            .unwrap()
            .expect("t2's too");
        assert_eq!(merged.state, ade::lifecycle::ApprovalState::Merged);
        assert_eq!(merged.requester, "", "no run, no requester");
        assert!(
            ade::store::approvals::of_task(&mut conn, tasks[2].id)
                .await
                .unwrap()
                .is_none()
        );
        let runs = ade::store::runs::all_runs(&mut conn).await.unwrap();
        assert_eq!(
            runs[0].cause,
            ade::store::runs::RunCause::Start,
            "{}",
            db.name
        );
    }
}

#[tokio::test]
async fn migration_10_keeps_one_unscanned_allowance_per_task_gone_with_its_task() {
    use ade::store::unscanned;
    for db in databases().await {
        let store = db.store().await;
        let mut conn = store.writer().await.unwrap();
        for statement in [
            "INSERT INTO goals (forge, repository, number, created_at) VALUES ('github', 'acme/widgets', 12, 1)",
            "INSERT INTO specs (goal, version, state, content, content_hash, author, planner, created_at, changed_at) \
             VALUES (1, 1, 'active', '{}', 'h', 'mia', 'manual', 1, 1)",
            "INSERT INTO tasks (spec, task_id, state, changed_at) VALUES (1, 't1', 'failed', 2)",
            "INSERT INTO tasks (spec, task_id, state, changed_at) VALUES (1, 't2', 'waiting', 2)",
        ] {
            conn.execute(statement).await.unwrap();
        }
        assert_eq!(unscanned::allowance(&mut conn, 1).await.unwrap(), None);
        unscanned::allow(&mut conn, 1, "mia", 501, 10)
            .await
            .unwrap();
        unscanned::allow(&mut conn, 1, "max", 502, 20)
            .await
            .unwrap();
        let allowance = unscanned::allowance(&mut conn, 1).await.unwrap();
        assert_eq!(
            allowance,
            Some(unscanned::Allowance {
                allowed_by: "max".into(),
                comment_id: 502,
                allowed_at: 20
            }),
            "{}: the later allowance replaces the earlier",
            db.name
        );
        assert_eq!(unscanned::allowance(&mut conn, 2).await.unwrap(), None);
        let recorded: Vec<(String, String, Option<String>)> = sqlx::query_as(
            "SELECT actor, action, task FROM audit_pending WHERE action = 'task.unscanned_allowed' \
             ORDER BY id",
        )
        .fetch_all(&mut *conn)
        .await
        .unwrap();
        assert_eq!(
            recorded,
            [("mia", "t1"), ("max", "t1")]
                .map(|(who, task)| (
                    who.to_string(),
                    "task.unscanned_allowed".to_string(),
                    Some(task.to_string())
                ))
                .to_vec(),
            "{}: each allowance is recorded for the audit log",
            db.name
        );
        conn.execute("DELETE FROM tasks WHERE id = 1")
            .await
            .unwrap();
        let left: Vec<(i64,)> = sqlx::query_as("SELECT task FROM unscanned_allowances")
            .fetch_all(&mut *conn)
            .await
            .unwrap();
        assert!(left.is_empty(), "{}: gone with its task", db.name);
    }
}

/// What the write connection's commits are set to: SQLite's `synchronous` (2 is FULL, 1 NORMAL)
/// or PostgreSQL's `synchronous_commit`.
async fn commits_at(conn: &mut sqlx::AnyConnection) -> String {
    use sqlx::Row;
    let (sql, postgres) = if conn.backend_name() == "PostgreSQL" {
        ("SHOW synchronous_commit", true)
    } else {
        ("PRAGMA synchronous", false)
    };
    let row = sqlx::query(sql).fetch_one(&mut *conn).await.unwrap();
    if postgres {
        row.get::<String, _>(0)
    } else {
        row.get::<i64, _>(0).to_string()
    }
}

#[tokio::test]
async fn the_queues_relaxed_commits_never_leave_a_synced_write_relaxed() {
    use ade::store::Durability;
    use sqlx::Connection;
    for db in databases().await {
        let store = db.store().await;
        let postgres = store.backend().as_str() == "postgres";
        let (synced, relaxed) = if postgres { ("on", "off") } else { ("2", "1") };
        let mut tx = store.begin().await.unwrap();
        assert_eq!(commits_at(&mut tx).await, synced, "{}", db.name);
        tx.commit().await.unwrap();

        let mut tx = store.begin_for(Durability::Queue).await.unwrap();
        assert_eq!(commits_at(&mut tx).await, relaxed, "{}", db.name);
        tx.commit().await.unwrap();
        // The next synced transaction and single writes after it are synced again.
        let mut tx = store.begin().await.unwrap();
        assert_eq!(commits_at(&mut tx).await, synced, "{}", db.name);
        tx.rollback().await.unwrap();

        if !postgres {
            // A relaxed single write leaves SQLite's one write connection relaxed for the next
            // relaxed one, and a synced writer sets it back first.
            let mut conn = store.writer_for(Durability::Queue).await.unwrap();
            assert_eq!(commits_at(&mut conn).await, relaxed, "{}", db.name);
            drop(conn);
            let mut conn = store.writer_for(Durability::Queue).await.unwrap();
            assert_eq!(commits_at(&mut conn).await, relaxed, "{}", db.name);
            drop(conn);
            let mut conn = store.writer().await.unwrap();
            assert_eq!(commits_at(&mut conn).await, synced, "{}", db.name);
            drop(conn);
            // A relaxed transaction that fails half-way: the connection goes back relaxed, and
            // the next synced one still restores FULL.
            let mut conn = store.writer_for(Durability::Queue).await.unwrap();
            let mut tx = conn.begin().await.unwrap();
            assert!(tx.execute("SELECT * FROM no_such_table").await.is_err());
            drop(tx);
            drop(conn);
            let mut tx = store.begin().await.unwrap();
            assert_eq!(commits_at(&mut tx).await, synced, "{}", db.name);
            tx.rollback().await.unwrap();
        } else {
            // On PostgreSQL a relaxed single write is synced: the pool's connections are shared.
            let mut conn = store.writer_for(Durability::Queue).await.unwrap();
            assert_eq!(commits_at(&mut conn).await, synced, "{}", db.name);
        }
    }
}

#[tokio::test]
async fn migration_12_takes_each_review_once_per_approval_and_keeps_ids_past_retention() {
    use ade::store::reviews::{self, TakenRow};
    for db in databases().await {
        let store = db.store().await;
        let mut conn = store.writer().await.unwrap();
        for statement in [
            "INSERT INTO goals (forge, repository, number, created_at) VALUES ('github', 'acme/widgets', 12, 1)",
            "INSERT INTO specs (goal, version, state, content, content_hash, author, planner, created_at, changed_at) \
             VALUES (1, 1, 'active', '{}', 'h', 'mia', 'manual', 1, 1)",
            "INSERT INTO tasks (spec, task_id, state, changed_at) VALUES (1, 't1', 'review', 2)",
            "INSERT INTO approvals (task, forge, repository, number, branch, state, head_sha, requester, opened_at, changed_at) \
             VALUES (1, 'github', 'acme/widgets', 13, 'ade/12-t1', 'pending', 'abc', 'mia', 3, 3)",
            "INSERT INTO runs (task, attempt, state, agent, environment, base_sha, branch, requester, created_at, cause) \
             VALUES (1, 2, 'queued', 'script', 'worktree', 'abc', 'ade/12-t1', 'max', 4, 'review')",
        ] {
            conn.execute(statement).await.unwrap();
        }
        let said = r#"{"body":"Needs structure."}"#;
        assert!(
            reviews::take(&mut conn, 1, 501, Some(1), ("max", said), 5)
                .await
                .unwrap()
        );
        assert!(
            !reviews::take(&mut conn, 1, 501, Some(1), ("max", said), 6)
                .await
                .unwrap(),
            "{}: a review is taken once",
            db.name
        );
        assert!(
            reviews::take(&mut conn, 1, 502, None, ("mia", ""), 7)
                .await
                .unwrap(),
            "{}: a review no run took (attempts used up) is kept too",
            db.name
        );
        assert_eq!(reviews::taken_ids(&mut conn, 1).await.unwrap(), [501, 502]);
        assert_eq!(
            reviews::of_run(&mut conn, 1).await.unwrap(),
            [TakenRow {
                review_id: 501,
                run: Some(1),
                author: "max".into(),
                said: Some(said.into()),
            }]
        );
        reviews::clear_said(&mut conn, 1).await.unwrap();
        assert_eq!(reviews::of_run(&mut conn, 1).await.unwrap()[0].said, None);
        assert_eq!(
            reviews::taken_ids(&mut conn, 1).await.unwrap(),
            [501, 502],
            "{}: retention keeps the ids, so nothing is taken twice",
            db.name
        );
        conn.execute("DELETE FROM approvals WHERE id = 1")
            .await
            .unwrap();
        assert!(
            reviews::taken_ids(&mut conn, 1).await.unwrap().is_empty(),
            "{}: gone with its approval",
            db.name
        );
    }
}

/// Stores `deliveries` through `inbox` all at once, as concurrent webhook requests would.
async fn store_at_once(
    inbox: &ade::ingress::Inbox,
    deliveries: Vec<NewDelivery>,
) -> Vec<Result<ade::ingress::Stored, String>> {
    let requests = deliveries.into_iter().map(|delivery| {
        let inbox = inbox.clone();
        tokio::spawn(async move {
            inbox
                .store(delivery, Some("github:acme/widgets".into()))
                .await
                .map_err(|e| e.to_string())
        })
    });
    let mut results = Vec::new();
    for request in requests.collect::<Vec<_>>() {
        results.push(request.await.unwrap());
    }
    results
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_inbox_stores_concurrent_deliveries_once_each_with_their_jobs_on_either_writer() {
    use ade::ingress::{Inbox, Stored};
    for db in databases().await {
        let store = db.store().await;
        let metrics = std::sync::Arc::new(ade::metrics::Metrics::default());
        let (inbox, writer) = Inbox::start(store.clone(), ade::jobs::Wake::new(), metrics, 5);
        assert_eq!(
            inbox.writes_directly(),
            db.name == "sqlite",
            "{}: the writer has its own connection on an SQLite file, and only there",
            db.name
        );
        // 40 deliveries, every fourth one sent twice at the same time.
        let numbered = |n: usize| {
            delivery(
                ForgeKind::Github,
                &format!("d{n}"),
                format!("{{\"n\":{n}}}").as_bytes(),
            )
        };
        let mut deliveries: Vec<NewDelivery> = (0..40).map(numbered).collect();
        deliveries.extend((0..40).step_by(4).map(numbered));
        let results = store_at_once(&inbox, deliveries).await;
        let new: Vec<i64> = results
            .iter()
            .filter_map(|r| match r {
                Ok(Stored::New(id)) => Some(*id),
                _ => None,
            })
            .collect();
        let duplicates = results
            .iter()
            .filter(|r| matches!(r, Ok(Stored::Duplicate)))
            .count();
        assert_eq!(
            (new.len(), duplicates),
            (40, 10),
            "{}: {results:?}",
            db.name
        );

        let mut conn = store.writer().await.unwrap();
        for id in &new {
            let kept = deliveries::get(&mut conn, *id).await.unwrap().unwrap();
            let n = &kept.received.delivery_id[1..];
            assert_eq!(
                kept.received.body,
                format!("{{\"n\":{n}}}").as_bytes(),
                "{}",
                db.name
            );
            let job = ade::store::jobs::find(&mut conn, &format!("delivery:{id}"))
                .await
                .unwrap()
                .unwrap_or_else(|| panic!("{}: delivery {id} has its job", db.name));
            assert_eq!((job.state.as_str(), job.max_attempts), ("available", 5));
        }
        assert_eq!(
            deliveries::count(&mut conn).await.unwrap(),
            40,
            "{}",
            db.name
        );
        drop(conn);

        // A writer whose task is aborted (as a crash test aborts the service) stores nothing more.
        writer.abort();
        let _ = writer.await;
        let late = store_at_once(&inbox, vec![delivery(ForgeKind::Github, "late", b"{}")]).await;
        assert!(late[0].is_err(), "{}: {late:?}", db.name);
        let mut conn = store.writer().await.unwrap();
        assert!(
            deliveries::find(&mut conn, ForgeKind::Github, "late")
                .await
                .unwrap()
                .is_none(),
            "{}",
            db.name
        );
    }
}
