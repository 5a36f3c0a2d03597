//! ade stops, by SIGTERM or by a crash, with deliveries queued: a restart resumes exactly where it
//! was, losing nothing it acknowledged and handling nothing twice.

use crate::support::payloads::github_comment;
use crate::support::{Delivery, TestDb, TestForge, databases, eventually, start_ade};
use ade::dispatch::EventSink;
use ade::events::Event;
use ade::forge::ForgeKind;
use ade::jobs::{BoxFuture, JobError};
use ade::service::ServiceOptions;
use ade::store::deliveries::{self, DeliveryState};
use ade::store::{Conn, Store, events};
use std::collections::HashSet;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

/// An event sink that takes its time, so a queue builds up behind it.
struct Slow(Duration);

impl EventSink for Slow {
    fn accept<'a>(
        &'a self,
        _conn: &'a mut Conn,
        _id: i64,
        _event: &'a Event,
    ) -> BoxFuture<'a, Result<(), JobError>> {
        Box::pin(async move {
            tokio::time::sleep(self.0).await;
            Ok(())
        })
    }
}

async fn count(store: &Store, state: DeliveryState) -> i64 {
    let mut conn = store.reader().await.unwrap();
    deliveries::count_in_state(&mut conn, state).await.unwrap()
}

/// Every stored delivery was handled once: one event each, none pending, none failed.
async fn all_handled_once(store: &Store, expected: i64, name: &str) {
    eventually(
        Duration::from_secs(30),
        "every delivery to be processed",
        || async { (count(store, DeliveryState::Processed).await == expected).then_some(()) },
    )
    .await;
    assert_eq!(count(store, DeliveryState::Pending).await, 0, "{name}");
    assert_eq!(count(store, DeliveryState::Failed).await, 0, "{name}");
    let mut conn = store.reader().await.unwrap();
    assert_eq!(
        events::count(&mut conn).await.unwrap(),
        expected,
        "{name}: one event per delivery"
    );
}

#[tokio::test]
async fn a_crash_mid_queue_loses_nothing_and_a_restart_finishes_the_queue() {
    for db in databases().await {
        let slow = || ServiceOptions {
            sink: Some(Arc::new(Slow(Duration::from_millis(40)))),
            ..ServiceOptions::default()
        };
        let store = db.store().await;
        let ade = start_ade(&db, |_| {}, slow()).await;
        let forge = TestForge::new(ade.addr());
        let mut sends = Vec::new();
        for number in 0..30 {
            let forge = forge.clone();
            let comment = Delivery::github(
                "issue_comment",
                github_comment("acme/widgets", number, "mia", "hi"),
            );
            sends.push(tokio::spawn(
                async move { forge.send(&comment).await.status },
            ));
        }
        for send in sends {
            assert_eq!(send.await.unwrap(), 202);
        }
        eventually(
            Duration::from_secs(10),
            "a few deliveries to be handled",
            || async { (count(&store, DeliveryState::Processed).await >= 3).then_some(()) },
        )
        .await;
        ade.abort();
        let pending = count(&store, DeliveryState::Pending).await;
        assert!(
            pending > 0,
            "{}: the crash must leave a queue behind",
            db.name
        );

        let restarted = start_ade(&db, |_| {}, slow()).await;
        all_handled_once(&store, 30, db.name).await;
        restarted.shutdown().await.unwrap();
    }
}

/// A real `ade serve` process.
struct Process {
    child: Child,
    addr: std::net::SocketAddr,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn spawn_ade(db: &TestDb) -> Process {
    let addr: std::net::SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_ade"))
        .arg("serve")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("ADE_SERVER__LISTEN", addr.to_string())
        .env("ADE_SERVER__SHUTDOWN_GRACE_SECS", "5")
        .env("ADE_DATABASE__URL", &db.url)
        .env("ADE_STORAGE__DATA_DIR", &db.dir)
        .env("ADE_GITHUB__WEBHOOK_SECRET", crate::support::GITHUB_SECRET)
        .env("ADE_JOBS__LEASE_SECS", "5")
        .env("ADE_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start ade");
    let forge = TestForge::new(addr);
    eventually(Duration::from_secs(20), "ade to be ready", || async {
        let ready = tokio::time::timeout(Duration::from_millis(500), async {
            reqwest::get(format!("http://{addr}/readyz"))
                .await
                .ok()
                .map(|r| r.status().is_success())
        });
        ready.await.ok().flatten().filter(|ok| *ok)
    })
    .await;
    drop(forge);
    Process { child, addr }
}

#[tokio::test]
async fn kill_9_while_deliveries_arrive_loses_no_acknowledged_delivery() {
    for db in databases().await {
        let mut ade = spawn_ade(&db).await;
        let forge = TestForge::new(ade.addr);
        let deliveries: Vec<Delivery> = (0..400)
            .map(|n| {
                Delivery::github(
                    "issue_comment",
                    github_comment("acme/widgets", n, "mia", "hi"),
                )
            })
            .collect();
        let (acked_tx, mut acked_rx) = tokio::sync::mpsc::unbounded_channel::<String>();
        let mut senders = Vec::new();
        for chunk in deliveries.chunks(25) {
            let (forge, chunk, acked) = (forge.clone(), chunk.to_vec(), acked_tx.clone());
            senders.push(tokio::spawn(async move {
                for delivery in chunk {
                    let sent =
                        tokio::time::timeout(Duration::from_secs(5), forge.try_send(&delivery))
                            .await;
                    match sent {
                        Ok(Some(202)) => {
                            let _ = acked.send(delivery.id.clone());
                        }
                        _ => return,
                    }
                }
            }));
        }
        drop(acked_tx);
        let mut acked = HashSet::new();
        while acked.len() < 200 {
            acked.insert(
                acked_rx
                    .recv()
                    .await
                    .expect("200 deliveries acknowledged before the kill"),
            );
        }
        ade.child.kill().unwrap(); // SIGKILL
        ade.child.wait().unwrap();
        for sender in senders {
            sender.await.unwrap();
        }
        while let Ok(id) = acked_rx.try_recv() {
            acked.insert(id);
        }

        let store = db.store().await;
        let mut conn = store.reader().await.unwrap();
        for id in &acked {
            let stored = deliveries::find(&mut conn, ForgeKind::Github, id)
                .await
                .unwrap();
            assert!(
                stored.is_some(),
                "{}: delivery {id} was acknowledged but is not stored",
                db.name
            );
        }
        let mut stored = 0;
        for state in [DeliveryState::Pending, DeliveryState::Processed] {
            stored += deliveries::count_in_state(&mut conn, state).await.unwrap();
        }
        drop(conn);
        let pending_at_kill = count(&store, DeliveryState::Pending).await;
        eprintln!(
            "{}: {} acknowledged, {stored} stored, {pending_at_kill} pending at the kill",
            db.name,
            acked.len()
        );
        assert!(
            pending_at_kill > 0,
            "{}: the kill must leave a queue behind to test",
            db.name
        );

        let mut again = spawn_ade(&db).await;
        all_handled_once(&store, stored, db.name).await;
        terminate(&mut again.child);
    }
}

fn terminate(child: &mut Child) -> std::process::ExitStatus {
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    child.wait().unwrap()
}

#[tokio::test]
async fn sigterm_finishes_what_is_in_flight_and_exits_cleanly() {
    let db = crate::support::db::sqlite();
    let mut ade = spawn_ade(&db).await;
    let forge = TestForge::new(ade.addr);
    let mut sends = Vec::new();
    for n in 0..50 {
        let forge = forge.clone();
        sends.push(tokio::spawn(async move {
            let delivery = Delivery::github(
                "issue_comment",
                github_comment("acme/widgets", n, "mia", "hi"),
            );
            forge.try_send(&delivery).await
        }));
    }
    tokio::time::sleep(Duration::from_millis(20)).await;
    let status = tokio::task::spawn_blocking(move || {
        let status = terminate(&mut ade.child);
        let mut stderr = String::new();
        std::io::Read::read_to_string(ade.child.stderr.as_mut().unwrap(), &mut stderr).unwrap();
        (status, stderr)
    })
    .await
    .unwrap();
    assert!(status.0.success(), "exit: {:?}\n{}", status.0, status.1);
    let mut acked = 0;
    for send in sends {
        // A request either got its answer before the listener closed, or was never taken.
        match send.await.unwrap() {
            Some(202) => acked += 1,
            Some(other) => panic!("unexpected answer {other} during shutdown"),
            None => {}
        }
    }
    let store = db.store().await;
    let mut stored = 0;
    for state in [DeliveryState::Pending, DeliveryState::Processed] {
        stored += count(&store, state).await;
    }
    assert_eq!(
        stored, acked,
        "exactly the acknowledged deliveries are stored"
    );
    let again = start_ade(&db, |_| {}, ServiceOptions::default()).await;
    all_handled_once(&store, stored, db.name).await;
    again.shutdown().await.unwrap();
}
