//! A forge sends ade webhooks: what ade answers, what it keeps, and what becomes of it.

use crate::support::payloads::{
    gitea_comment, github_comment, github_issue_labeled, github_ping, padded_github_comment,
};
use crate::support::{Delivery, TestDb, TestForge, databases, eventually, start_ade};
use ade::events::{Event, EventKind};
use ade::forge::ForgeKind;
use ade::secret::Secret;
use ade::service::{Service, ServiceOptions};
use ade::store::deliveries::{self, DeliveryState, StoredDelivery};
use ade::store::{self as storage, Store};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const PATIENCE: Duration = Duration::from_secs(10);

async fn started(db: &TestDb) -> (Service, TestForge, Store) {
    let ade = start_ade(db, |_| {}, ServiceOptions::default()).await;
    let forge = TestForge::new(ade.addr());
    let store = db.store().await;
    (ade, forge, store)
}

async fn delivery(store: &Store, forge: ForgeKind, id: &str) -> Option<StoredDelivery> {
    let mut conn = store.reader().await.unwrap();
    deliveries::find(&mut conn, forge, id).await.unwrap()
}

async fn handled(store: &Store, forge: ForgeKind, id: &str) -> StoredDelivery {
    eventually(PATIENCE, "the delivery to be handled", || async {
        delivery(store, forge, id)
            .await
            .filter(|d| d.state != DeliveryState::Pending)
    })
    .await
}

async fn event_of(store: &Store, delivery: &StoredDelivery) -> Event {
    let mut conn = store.reader().await.unwrap();
    storage::events::for_delivery(&mut conn, delivery.id)
        .await
        .unwrap()
        .expect("an event was recorded")
}

async fn stored_count(store: &Store) -> i64 {
    let mut conn = store.reader().await.unwrap();
    deliveries::count(&mut conn).await.unwrap()
}

#[tokio::test]
async fn a_maintainers_comment_is_stored_answered_202_and_becomes_one_event() {
    for db in databases().await {
        let (ade, forge, store) = started(&db).await;
        let comment = Delivery::github(
            "issue_comment",
            github_comment("acme/widgets", 12, "mia", "/ade plan"),
        );
        let reply = forge.send(&comment).await;
        assert_eq!(reply.status, 202, "{}: {:?}", db.name, reply.json);
        assert_eq!(reply.json["status"], "accepted");
        assert_eq!(reply.json["delivery"], comment.id.as_str());

        let stored = handled(&store, ForgeKind::Github, &comment.id).await;
        assert_eq!(
            stored.state,
            DeliveryState::Processed,
            "{}: {:?}",
            db.name,
            stored.outcome
        );
        assert_eq!(stored.received.repository.as_deref(), Some("acme/widgets"));
        let event = event_of(&store, &stored).await;
        let EventKind::CommentCreated(c) = &event.kind else {
            panic!("{event:?}")
        };
        assert_eq!(
            (c.issue.number, c.body.as_str(), c.author.login.as_str()),
            (12, "/ade plan", "mia")
        );
        ade.shutdown().await.unwrap();
    }
}

#[tokio::test]
async fn a_redelivery_is_recognised_whatever_its_content_and_acts_once() {
    for db in databases().await {
        let (ade, forge, store) = started(&db).await;
        let first = Delivery::github(
            "issue_comment",
            github_comment("acme/widgets", 1, "mia", "/ade plan"),
        );
        assert_eq!(forge.send(&first).await.status, 202);
        let same = forge.send(&first).await;
        assert_eq!(
            (same.status, same.json["status"].as_str()),
            (200, Some("duplicate")),
            "{}",
            db.name
        );
        let altered = Delivery::github(
            "issue_comment",
            github_comment("acme/widgets", 2, "eve", "/ade approve"),
        )
        .id(&first.id);
        let reply = forge.send(&altered).await;
        assert_eq!(
            (reply.status, reply.json["status"].as_str()),
            (200, Some("duplicate"))
        );

        let stored = handled(&store, ForgeKind::Github, &first.id).await;
        let EventKind::CommentCreated(c) = event_of(&store, &stored).await.kind else {
            panic!()
        };
        assert_eq!(
            c.body, "/ade plan",
            "the first delivery's content is the one kept"
        );
        assert_eq!(stored_count(&store).await, 1);
        let mut conn = store.reader().await.unwrap();
        assert_eq!(storage::events::count(&mut conn).await.unwrap(), 1);
        drop(conn);
        ade.shutdown().await.unwrap();
    }
}

#[tokio::test]
async fn ping_is_answered_200_and_not_stored() {
    let db = crate::support::db::sqlite();
    let (ade, forge, store) = started(&db).await;
    let reply = forge.send(&Delivery::github("ping", github_ping())).await;
    assert_eq!(
        (reply.status, reply.json["status"].as_str()),
        (200, Some("pong"))
    );
    assert_eq!(stored_count(&store).await, 0);
    ade.shutdown().await.unwrap();
}

#[tokio::test]
async fn bad_signatures_get_401_and_store_nothing() {
    let db = crate::support::db::sqlite();
    let (ade, forge, store) = started(&db).await;
    let body = || github_comment("acme/widgets", 3, "mallory", "/ade approve");
    let good = Delivery::github("issue_comment", body());
    let valid = ade::ingress::signature::sign_github(crate::support::GITHUB_SECRET, b"other body");
    let cases = [
        ("wrong secret", good.clone().signed_with("guessed")),
        ("no signature", good.clone().unsigned()),
        ("signature of another body", good.clone().signature(&valid)),
        (
            "sha1 in the sha256 header",
            good.clone()
                .signature("sha1=0b3a322a100c214b1b15c02317c776c628d0b360"),
        ),
        (
            "bare hex without prefix",
            good.clone().signature(valid.trim_start_matches("sha256=")),
        ),
        ("empty header", good.clone().signature("")),
    ];
    for (what, delivery) in &cases {
        let reply = forge.send(delivery).await;
        assert_eq!(reply.status, 401, "{what}: {:?}", reply.json);
        assert!(
            reply.json["error"]
                .as_str()
                .is_some_and(|e| !e.contains("mallory")),
            "{what}"
        );
    }
    let gitea = Delivery::gitea(
        "issue_comment",
        "issue_comment",
        gitea_comment("team/lamp", 5, "dora", "/ade plan"),
    );
    assert_eq!(
        forge
            .send(&gitea.clone().signed_with(crate::support::GITHUB_SECRET))
            .await
            .status,
        401
    );
    assert_eq!(forge.send(&gitea.clone().unsigned()).await.status, 401);
    assert_eq!(stored_count(&store).await, 0);
    let (_, metrics) = forge.get("/metrics").await;
    assert!(
        metrics.contains("ade_webhook_signature_failures_total{forge=\"github\"} 6"),
        "{metrics}"
    );
    assert!(
        metrics.contains("ade_webhook_signature_failures_total{forge=\"gitea\"} 2"),
        "{metrics}"
    );
    ade.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_forge_without_a_configured_secret_is_refused() {
    let db = crate::support::db::sqlite();
    let ade = start_ade(
        &db,
        |c| c.gitea.webhook_secrets.clear(),
        ServiceOptions::default(),
    )
    .await;
    let forge = TestForge::new(ade.addr());
    let reply = forge
        .send(
            &Delivery::gitea(
                "issues",
                "issues",
                gitea_comment("team/lamp", 1, "dora", "hi"),
            )
            .signed_with(""),
        )
        .await;
    assert_eq!(reply.status, 401);
    assert!(
        reply.json["error"]
            .as_str()
            .unwrap()
            .contains("no webhook secret"),
        "{:?}",
        reply.json
    );
    ade.shutdown().await.unwrap();
}

#[tokio::test]
async fn rotated_secrets_are_all_accepted_while_configured() {
    let db = crate::support::db::sqlite();
    let ade = start_ade(
        &db,
        |c| c.github.webhook_secrets = vec![Secret::new("old-secret"), Secret::new("new-secret")],
        ServiceOptions::default(),
    )
    .await;
    let forge = TestForge::new(ade.addr());
    let body = || github_comment("acme/widgets", 4, "mia", "hello");
    assert_eq!(
        forge
            .send(&Delivery::github("issue_comment", body()).signed_with("old-secret"))
            .await
            .status,
        202
    );
    assert_eq!(
        forge
            .send(&Delivery::github("issue_comment", body()).signed_with("new-secret"))
            .await
            .status,
        202
    );
    assert_eq!(
        forge
            .send(&Delivery::github("issue_comment", body()).signed_with("retired"))
            .await
            .status,
        401
    );
    ade.shutdown().await.unwrap();
}

#[tokio::test]
async fn missing_headers_and_bodies_that_are_not_json_get_400_and_store_nothing() {
    let db = crate::support::db::sqlite();
    let (ade, forge, store) = started(&db).await;
    let comment = || {
        Delivery::github(
            "issue_comment",
            github_comment("acme/widgets", 5, "mia", "hi"),
        )
    };
    let cases = [
        ("no event header", comment().without("X-GitHub-Event"), 400),
        (
            "no delivery header",
            comment().without("X-GitHub-Delivery"),
            400,
        ),
        ("delivery id with spaces", comment().id("not an id"), 400),
        (
            "event with odd characters",
            comment()
                .without("X-GitHub-Event")
                .header("X-GitHub-Event", "Issue Comment"),
            400,
        ),
        (
            "truncated JSON",
            comment().raw_body(&b"{\"action\": \"created\", \"issue\": {"[..]),
            400,
        ),
        ("a JSON array", comment().raw_body(&b"[1, 2, 3]"[..]), 400),
        ("not JSON at all", comment().raw_body(&b"hello"[..]), 400),
        (
            "a form without payload",
            comment().form_encoded().raw_body(&b"other=1"[..]),
            400,
        ),
        (
            "a form whose payload is not JSON",
            comment().form_encoded().raw_body(&b"payload=nope"[..]),
            400,
        ),
        (
            "an XML body",
            comment().content_type("application/xml"),
            415,
        ),
    ];
    for (what, delivery, status) in cases {
        let reply = forge.send(&delivery).await;
        assert_eq!(reply.status, status, "{what}: {:?}", reply.json);
        assert!(reply.json["error"].is_string(), "{what}");
    }
    let gitea = Delivery::gitea(
        "issue_comment",
        "issue_comment",
        gitea_comment("team/lamp", 1, "dora", "hi"),
    );
    assert_eq!(
        forge
            .send(&gitea.clone().without("X-Gitea-Delivery"))
            .await
            .status,
        400
    );
    assert_eq!(
        forge.send(&gitea.without("X-Gitea-Event")).await.status,
        400
    );
    assert_eq!(stored_count(&store).await, 0);
    ade.shutdown().await.unwrap();
}

#[tokio::test]
async fn bodies_above_the_limit_get_413_whether_declared_or_streamed() {
    let db = crate::support::db::sqlite();
    let ade = start_ade(
        &db,
        |c| c.server.max_body_bytes = 4096,
        ServiceOptions::default(),
    )
    .await;
    let forge = TestForge::new(ade.addr());
    let big = Delivery::github(
        "issue_comment",
        padded_github_comment("acme/widgets", 1, 8192),
    );
    assert_eq!(forge.send(&big).await.status, 413);
    let small = Delivery::github(
        "issue_comment",
        padded_github_comment("acme/widgets", 2, 3000),
    );
    assert_eq!(forge.send(&small).await.status, 202);

    // A chunked body declares no length; ade must stop reading at the limit all the same.
    let mut stream = tokio::net::TcpStream::connect(ade.addr()).await.unwrap();
    let head = "POST /webhooks/github HTTP/1.1\r\nHost: ade\r\nContent-Type: application/json\r\n\
                X-GitHub-Event: issue_comment\r\nX-GitHub-Delivery: chunked-1\r\n\
                X-Hub-Signature-256: sha256=00\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n";
    stream.write_all(head.as_bytes()).await.unwrap();
    for _ in 0..8 {
        let chunk = vec![b' '; 1024];
        let _ = stream
            .write_all(format!("{:x}\r\n", chunk.len()).as_bytes())
            .await;
        let _ = stream.write_all(&chunk).await;
        let _ = stream.write_all(b"\r\n").await;
    }
    let _ = stream.write_all(b"0\r\n\r\n").await;
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer).await;
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    ade.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_form_encoded_delivery_is_read_like_json() {
    let db = crate::support::db::sqlite();
    let (ade, forge, store) = started(&db).await;
    let form = Delivery::github(
        "issue_comment",
        github_comment("acme/widgets", 6, "mia", "/ade status"),
    )
    .form_encoded();
    assert_eq!(forge.send(&form).await.status, 202);
    let stored = handled(&store, ForgeKind::Github, &form.id).await;
    assert_eq!(
        stored.state,
        DeliveryState::Processed,
        "{:?}",
        stored.outcome
    );
    assert_eq!(
        stored.received.content_type,
        "application/x-www-form-urlencoded"
    );
    let EventKind::CommentCreated(c) = event_of(&store, &stored).await.kind else {
        panic!()
    };
    assert_eq!(c.body, "/ade status");
    ade.shutdown().await.unwrap();
}

#[tokio::test]
async fn gitea_and_forgejo_comments_become_the_same_event_as_githubs() {
    for db in databases().await {
        let (ade, forge, store) = started(&db).await;
        let gitea = Delivery::gitea(
            "issue_comment",
            "issue_comment",
            gitea_comment("team/lamp", 5, "dora", "/ade plan"),
        );
        let forgejo = Delivery::forgejo(
            "issue_comment",
            "issue_comment",
            gitea_comment("team/lamp", 6, "dora", "/ade plan"),
        );
        assert_eq!(forge.send(&gitea).await.status, 202);
        assert_eq!(forge.send(&forgejo).await.status, 202);
        for (id, number) in [(&gitea.id, 5), (&forgejo.id, 6)] {
            let stored = handled(&store, ForgeKind::Gitea, id).await;
            assert_eq!(
                stored.state,
                DeliveryState::Processed,
                "{}: {:?}",
                db.name,
                stored.outcome
            );
            let event = event_of(&store, &stored).await;
            assert_eq!(event.forge, ForgeKind::Gitea);
            let EventKind::CommentCreated(c) = event.kind else {
                panic!()
            };
            assert_eq!(
                (c.issue.number, c.body.as_str(), c.issue.is_pull_request),
                (number, "/ade plan", false)
            );
        }
        // Gitea's ids are its own: the same id from GitHub is another delivery.
        let github = Delivery::github(
            "issue_comment",
            github_comment("acme/widgets", 1, "mia", "x"),
        )
        .id(&gitea.id);
        assert_eq!(forge.send(&github).await.status, 202);
        ade.shutdown().await.unwrap();
    }
}

#[tokio::test]
async fn unknown_events_and_actions_are_kept_and_marked_ignored() {
    let db = crate::support::db::sqlite();
    let (ade, forge, store) = started(&db).await;
    let labeled = Delivery::github("issues", github_issue_labeled("acme/widgets", 9));
    let unknown = Delivery::github(
        "sponsorship",
        serde_json::json!({ "action": "created", "sponsorship": {} }),
    );
    for delivery in [&labeled, &unknown] {
        assert_eq!(forge.send(delivery).await.status, 202);
        let stored = handled(&store, ForgeKind::Github, &delivery.id).await;
        assert_eq!(stored.state, DeliveryState::Ignored, "{:?}", stored.outcome);
        assert!(
            stored.outcome.as_deref().is_some_and(|o| !o.is_empty()),
            "the reason is kept"
        );
        assert!(!stored.received.body.is_empty(), "the body is kept");
    }
    ade.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_payload_that_is_not_its_event_fails_at_once_with_its_error() {
    let db = crate::support::db::sqlite();
    let (ade, forge, store) = started(&db).await;
    let mut body = github_comment("acme/widgets", 7, "mia", "/ade plan");
    body.as_object_mut().unwrap().remove("comment");
    let broken = Delivery::github("issue_comment", body);
    assert_eq!(
        forge.send(&broken).await.status,
        202,
        "valid JSON with a signature is stored"
    );
    let stored = handled(&store, ForgeKind::Github, &broken.id).await;
    assert_eq!(stored.state, DeliveryState::Failed);
    assert!(
        stored.outcome.as_deref().unwrap().contains("comment"),
        "{:?}",
        stored.outcome
    );
    let mut conn = store.reader().await.unwrap();
    let job = storage::jobs::find(&mut conn, &format!("delivery:{}", stored.id))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (job.state.as_str(), job.attempt),
        ("failed", 1),
        "not retried: the bytes cannot change"
    );
    drop(conn);
    ade.shutdown().await.unwrap();
}

#[tokio::test]
async fn concurrent_deliveries_and_redeliveries_are_each_stored_once() {
    for db in databases().await {
        let (ade, forge, store) = started(&db).await;
        let unique: Vec<Delivery> = (0..120)
            .map(|i| {
                Delivery::github(
                    "issue_comment",
                    github_comment(&format!("acme/repo{}", i % 7), i, "mia", "hi"),
                )
            })
            .collect();
        let mut sends = Vec::new();
        for (i, delivery) in unique.iter().enumerate() {
            let times = if i % 3 == 0 { 3 } else { 1 };
            for _ in 0..times {
                let forge = forge.clone();
                let delivery = delivery.clone();
                sends.push(tokio::spawn(
                    async move { forge.send(&delivery).await.status },
                ));
            }
        }
        let mut statuses = std::collections::BTreeMap::<u16, usize>::new();
        for send in sends {
            *statuses.entry(send.await.unwrap()).or_default() += 1;
        }
        assert_eq!(statuses.get(&202), Some(&120), "{}: {statuses:?}", db.name);
        assert_eq!(statuses.get(&200), Some(&80), "{}: {statuses:?}", db.name);
        assert_eq!(stored_count(&store).await, 120);
        eventually(PATIENCE, "every delivery to be processed", || async {
            let mut conn = store.reader().await.unwrap();
            let done = deliveries::count_in_state(&mut conn, DeliveryState::Processed)
                .await
                .unwrap();
            (done == 120).then_some(())
        })
        .await;
        let mut conn = store.reader().await.unwrap();
        assert_eq!(storage::events::count(&mut conn).await.unwrap(), 120);
        drop(conn);
        ade.shutdown().await.unwrap();
    }
}

#[tokio::test]
async fn health_readiness_and_metrics_answer() {
    let db = crate::support::db::sqlite();
    let (ade, forge, store) = started(&db).await;
    assert_eq!(forge.get("/healthz").await.0, 200);
    assert_eq!(forge.get("/readyz").await.0, 200);
    let comment = Delivery::github(
        "issue_comment",
        github_comment("acme/widgets", 1, "mia", "hi"),
    );
    forge.send(&comment).await;
    handled(&store, ForgeKind::Github, &comment.id).await;
    let (status, text) = forge.get("/metrics").await;
    assert_eq!(status, 200);
    for expected in [
        "ade_webhook_deliveries_total{forge=\"github\",event=\"issue_comment\",outcome=\"accepted\"} 1",
        "ade_deliveries_handled_total{forge=\"github\",event=\"issue_comment\",outcome=\"processed\"} 1",
        "ade_delivery_processing_seconds_count{forge=\"github\"} 1",
        "# TYPE ade_jobs gauge",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in\n{text}");
    }
    ade.shutdown().await.unwrap();
}

#[tokio::test]
async fn readiness_fails_when_the_database_is_gone() {
    let db = crate::support::db::sqlite();
    let ade = start_ade(&db, |_| {}, ServiceOptions::default()).await;
    let forge = TestForge::new(ade.addr());
    ade.store().close().await;
    assert_eq!(forge.get("/readyz").await.0, 503);
    assert_eq!(forge.get("/healthz").await.0, 200);
    let reply = forge
        .send(&Delivery::github(
            "issue_comment",
            github_comment("acme/widgets", 1, "mia", "hi"),
        ))
        .await;
    assert_eq!(
        reply.status, 503,
        "nothing can be stored, so nothing is acknowledged: {:?}",
        reply.json
    );
    ade.abort();
}

/// Records the order comments reach it, and fails chosen ones a given number of times first.
#[derive(Default)]
struct Sequence {
    seen: std::sync::Mutex<Vec<(String, i64)>>,
    failures: std::sync::Mutex<std::collections::HashMap<i64, usize>>,
}

impl ade::dispatch::EventSink for Sequence {
    fn accept<'a>(
        &'a self,
        _conn: &'a mut ade::store::Conn,
        _id: i64,
        event: &'a Event,
    ) -> ade::jobs::BoxFuture<'a, Result<(), ade::jobs::JobError>> {
        Box::pin(async move {
            let EventKind::CommentCreated(c) = &event.kind else {
                return Ok(());
            };
            if let Some(left) = self
                .failures
                .lock()
                .unwrap()
                .get_mut(&c.issue.number)
                .filter(|n| **n > 0)
            {
                *left -= 1;
                return Err(ade::jobs::JobError::Retry(format!(
                    "comment {} is not ready",
                    c.issue.number
                )));
            }
            let repository = event.repository.as_ref().unwrap().full_name.clone();
            self.seen.lock().unwrap().push((repository, c.issue.number));
            Ok(())
        })
    }
}

#[tokio::test]
async fn deliveries_of_one_repository_are_handled_in_arrival_order_even_across_retries() {
    for db in databases().await {
        let sink = std::sync::Arc::new(Sequence::default());
        sink.failures.lock().unwrap().insert(3, 2);
        let options = ServiceOptions {
            sink: Some(sink.clone()),
            ..ServiceOptions::default()
        };
        let ade = start_ade(&db, |_| {}, options).await;
        let forge = TestForge::new(ade.addr());
        for number in 0..12 {
            let repository = if number % 2 == 0 {
                "acme/even"
            } else {
                "acme/odd"
            };
            let delivery = Delivery::github(
                "issue_comment",
                github_comment(repository, number, "mia", "hi"),
            );
            assert_eq!(forge.send(&delivery).await.status, 202);
        }
        eventually(PATIENCE, "all comments to reach the sink", || async {
            (sink.seen.lock().unwrap().len() == 12).then_some(())
        })
        .await;
        let seen = sink.seen.lock().unwrap().clone();
        for repository in ["acme/even", "acme/odd"] {
            let numbers: Vec<i64> = seen
                .iter()
                .filter(|(r, _)| r == repository)
                .map(|(_, n)| *n)
                .collect();
            let mut sorted = numbers.clone();
            sorted.sort();
            assert_eq!(
                numbers, sorted,
                "{}: {repository} out of order: {seen:?}",
                db.name
            );
        }
        ade.shutdown().await.unwrap();
    }
}

#[tokio::test]
async fn a_delivery_whose_handling_keeps_failing_is_retried_then_marked_failed_with_its_error() {
    for db in databases().await {
        let sink = std::sync::Arc::new(Sequence::default());
        sink.failures.lock().unwrap().insert(40, usize::MAX);
        sink.failures.lock().unwrap().insert(41, 1);
        let options = ServiceOptions {
            sink: Some(sink.clone()),
            ..ServiceOptions::default()
        };
        let ade = start_ade(&db, |c| c.jobs.max_attempts = 3, options).await;
        let forge = TestForge::new(ade.addr());
        let store = db.store().await;
        let doomed = Delivery::github("issue_comment", github_comment("acme/a", 40, "mia", "hi"));
        let flaky = Delivery::github("issue_comment", github_comment("acme/b", 41, "mia", "hi"));
        forge.send(&doomed).await;
        forge.send(&flaky).await;

        let failed = handled(&store, ForgeKind::Github, &doomed.id).await;
        assert_eq!(failed.state, DeliveryState::Failed, "{}", db.name);
        assert_eq!(failed.outcome.as_deref(), Some("comment 40 is not ready"));
        let recovered = handled(&store, ForgeKind::Github, &flaky.id).await;
        assert_eq!(recovered.state, DeliveryState::Processed, "{}", db.name);

        let mut conn = store.reader().await.unwrap();
        let job = storage::jobs::find(&mut conn, &format!("delivery:{}", failed.id))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            (job.state.as_str(), job.attempt),
            ("failed", 3),
            "{}",
            db.name
        );
        let job = storage::jobs::find(&mut conn, &format!("delivery:{}", recovered.id))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            (job.state.as_str(), job.attempt),
            ("completed", 2),
            "{}",
            db.name
        );
        assert!(
            storage::events::for_delivery(&mut conn, failed.id)
                .await
                .unwrap()
                .is_none(),
            "a failed attempt keeps nothing"
        );
        drop(conn);
        let (_, metrics) = forge.get("/metrics").await;
        assert!(metrics.contains("ade_deliveries_handled_total{forge=\"github\",event=\"issue_comment\",outcome=\"failed\"} 1"), "{metrics}");
        assert!(
            metrics.contains("ade_deliveries{state=\"failed\"} 1"),
            "{metrics}"
        );
        ade.shutdown().await.unwrap();
    }
}

#[tokio::test]
async fn a_body_that_trickles_in_too_slowly_gets_408_and_stores_nothing() {
    let db = crate::support::db::sqlite();
    let ade = start_ade(
        &db,
        |c| c.server.body_timeout = Duration::from_secs(1),
        ServiceOptions::default(),
    )
    .await;
    let store = db.store().await;
    let mut stream = tokio::net::TcpStream::connect(ade.addr()).await.unwrap();
    let head = "POST /webhooks/github HTTP/1.1\r\nHost: ade\r\nContent-Type: application/json\r\n\
                X-GitHub-Event: issue_comment\r\nX-GitHub-Delivery: slow-1\r\n\
                X-Hub-Signature-256: sha256=00\r\nContent-Length: 100\r\n\r\n{\"action\":";
    stream.write_all(head.as_bytes()).await.unwrap();
    let started = std::time::Instant::now();
    let mut answer = vec![0u8; 512];
    let read = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut answer))
        .await
        .unwrap()
        .unwrap();
    let answer = String::from_utf8_lossy(&answer[..read]);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(stored_count(&store).await, 0);
    ade.shutdown().await.unwrap();
}
