//! ade stops, by SIGTERM or by a crash, with deliveries queued: a restart resumes exactly where it
//! was, losing nothing it acknowledged and handling nothing twice.

use crate::support::payloads::github_comment;
use crate::support::{AdeProcess, Delivery, TestForge, databases, eventually, start_ade};
use ade::dispatch::EventSink;
use ade::events::Event;
use ade::forge::ForgeKind;
use ade::jobs::{BoxFuture, JobError};
use ade::service::ServiceOptions;
use ade::store::deliveries::{self, DeliveryState};
use ade::store::{Conn, Store, events};
use std::collections::HashSet;
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

#[tokio::test]
async fn kill_9_while_deliveries_arrive_loses_no_acknowledged_delivery() {
    for db in databases().await {
        let mut ade = AdeProcess::spawn(&db, &[]).await;
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
        ade.kill_9();
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
        let stored = deliveries::count(&mut conn).await.unwrap();
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

        let mut again = AdeProcess::spawn(&db, &[]).await;
        all_handled_once(&store, stored, db.name).await;
        assert!(again.terminate().success());
    }
}

#[tokio::test]
async fn sigterm_finishes_what_is_in_flight_and_exits_cleanly() {
    let db = crate::support::db::sqlite();
    let mut ade = AdeProcess::spawn(&db, &[]).await;
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
    let (status, log, records) = tokio::task::spawn_blocking(move || {
        let status = ade.terminate();
        (status, ade.log(), ade.records())
    })
    .await
    .unwrap();
    assert!(status.success(), "exit: {status:?}\n{log}");
    assert!(log.contains("ade stopped"), "{log}");
    // Every line about a delivery carries the delivery's span: forge, delivery id and event.
    let stored = records
        .iter()
        .find(|r| r["fields"]["message"] == "stored delivery")
        .expect("a stored delivery was logged");
    assert_eq!(stored["span"]["name"], "delivery");
    assert_eq!(stored["span"]["forge"], "github");
    assert_eq!(stored["span"]["event"], "issue_comment");
    assert!(
        stored["span"]["delivery"]
            .as_str()
            .is_some_and(|d| d.len() == 36),
        "{stored}"
    );
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
    let stored = deliveries::count(&mut store.reader().await.unwrap())
        .await
        .unwrap();
    assert_eq!(
        stored, acked,
        "exactly the acknowledged deliveries are stored"
    );
    let again = start_ade(&db, |_| {}, ServiceOptions::default()).await;
    all_handled_once(&store, stored, db.name).await;
    again.shutdown().await.unwrap();
}

#[tokio::test]
async fn two_processes_share_one_postgres_queue_handling_each_delivery_once_and_in_order() {
    let Some(db) = crate::support::db::postgres().await else {
        eprintln!(
            "skipped: several processes share a queue only on PostgreSQL (ADE_TEST_DATABASE_URL is not set)"
        );
        return;
    };
    let first = AdeProcess::spawn(&db, &[]).await;
    let second = AdeProcess::spawn(&db, &[]).await;
    let forges = [TestForge::new(first.addr), TestForge::new(second.addr)];
    let mut sent = Vec::new();
    for n in 0..60 {
        let repository = format!("acme/repo{}", n % 3);
        let delivery =
            Delivery::github("issue_comment", github_comment(&repository, n, "mia", "hi"));
        assert_eq!(forges[n as usize % 2].send(&delivery).await.status, 202);
        sent.push(delivery.id);
    }
    let store = db.store().await;
    all_handled_once(&store, 60, db.name).await;

    // Both processes handled deliveries, and each repository's were handled in arrival order.
    let mut handled_by = [0usize; 2];
    let mut order: std::collections::HashMap<String, Vec<(i64, i64)>> = Default::default();
    for (i, process) in [&first, &second].iter().enumerate() {
        for record in process.records() {
            if record["fields"]["message"] == "dispatched event" {
                handled_by[i] += 1;
                let delivery = record["span"]["delivery"].as_str().unwrap().to_string();
                let at: i64 = chrono_free_micros(record["timestamp"].as_str().unwrap());
                let index = sent.iter().position(|id| *id == delivery).unwrap() as i64;
                order
                    .entry(format!("acme/repo{}", index % 3))
                    .or_default()
                    .push((at, index));
            }
        }
    }
    assert_eq!(handled_by[0] + handled_by[1], 60, "{handled_by:?}");
    assert!(
        handled_by[0] > 0 && handled_by[1] > 0,
        "both processes work the queue: {handled_by:?}"
    );
    for (repository, mut handled) in order {
        handled.sort();
        let indexes: Vec<i64> = handled.iter().map(|(_, i)| *i).collect();
        let mut sorted = indexes.clone();
        sorted.sort();
        assert_eq!(indexes, sorted, "{repository} handled out of arrival order");
    }
    let leaders = [&first, &second]
        .iter()
        .filter(|p| p.log().contains("\"leading\":true"))
        .count();
    assert_eq!(leaders, 1, "exactly one process leads");
}

/// Microseconds since midnight from an RFC 3339 log timestamp (both processes log in UTC, and
/// the test runs well within one day).
fn chrono_free_micros(timestamp: &str) -> i64 {
    let time = timestamp.split('T').nth(1).unwrap().trim_end_matches('Z');
    let (hms, fraction) = time.split_once('.').unwrap_or((time, "0"));
    let mut parts = hms.split(':').map(|p| p.parse::<i64>().unwrap());
    let (h, m, s) = (
        parts.next().unwrap(),
        parts.next().unwrap(),
        parts.next().unwrap(),
    );
    let micros: i64 = format!("{:0<6}", &fraction[..fraction.len().min(6)])
        .parse()
        .unwrap();
    ((h * 60 + m) * 60 + s) * 1_000_000 + micros
}
