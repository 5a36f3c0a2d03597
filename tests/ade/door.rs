//! The door's limits on requests nobody has authenticated: how many bodies are read at once, how
//! long a request's head may take, how many failed signatures one address may send, and who may
//! read `/metrics` and where. Each over real TCP, some a byte at a time.
//!
//! Requests that must be refused before their body is read send `Expect: 100-continue`: ade's
//! HTTP server asks for the body (`100 Continue`) only when the route starts reading it, so a
//! final answer with no `100 Continue` before it shows that nothing of the body was read.

use crate::support::payloads::github_comment;
use crate::support::{Delivery, TestForge, databases, start_ade};
use ade::forge::ForgeKind;
use ade::ingress::FailureLimit;
use ade::secret::Secret;
use ade::service::ServiceOptions;
use ade::store::Store;
use ade::store::deliveries;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// How long a test waits for an answer that must come; generous for a loaded machine.
const PATIENCE: Duration = Duration::from_secs(30);

const EXPECT_CONTINUE: (&str, &str) = ("Expect", "100-continue");
const CLOSE: (&str, &str) = ("Connection", "close");

fn comment(number: i64) -> Delivery {
    Delivery::github(
        "issue_comment",
        github_comment("acme/widgets", number, "mia", "/ade status"),
    )
}

fn forged(number: i64) -> Delivery {
    Delivery::github(
        "issue_comment",
        github_comment("acme/widgets", number, "mallory", "/ade approve"),
    )
    .signed_with("guessed")
}

/// Reads one response head (up to its blank line), or whatever came before the connection ended.
async fn read_head(stream: &mut TcpStream) -> String {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match tokio::time::timeout(PATIENCE, stream.read(&mut byte)).await {
            Ok(Ok(1)) => head.push(byte[0]),
            Ok(_) => break,
            Err(_) => panic!("no answer within {PATIENCE:?}"),
        }
    }
    String::from_utf8_lossy(&head).into_owned()
}

/// Reads until ade closes the connection.
async fn read_rest(stream: &mut TcpStream) -> String {
    let mut rest = Vec::new();
    tokio::time::timeout(PATIENCE, stream.read_to_end(&mut rest))
        .await
        .expect("ade closes the connection")
        .ok();
    String::from_utf8_lossy(&rest).into_owned()
}

/// Sends `delivery`'s head asking to be told before its body is sent, and returns the connection
/// and the first answer.
async fn knock(addr: SocketAddr, delivery: &Delivery) -> (TcpStream, String) {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let head = delivery.head(&[EXPECT_CONTINUE, CLOSE]);
    stream.write_all(head.as_bytes()).await.unwrap();
    let answer = read_head(&mut stream).await;
    (stream, answer)
}

async fn stored(store: &Store, delivery: &Delivery) -> bool {
    let mut conn = store.reader().await.unwrap();
    deliveries::find(&mut conn, ForgeKind::Github, &delivery.id)
        .await
        .unwrap()
        .is_some()
}

async fn stored_count(store: &Store) -> i64 {
    let mut conn = store.reader().await.unwrap();
    deliveries::count(&mut conn).await.unwrap()
}

fn retry_after(head: &str) -> Option<u64> {
    head.lines()
        .find_map(|line| line.strip_prefix("retry-after: "))
        .and_then(|secs| secs.trim().parse().ok())
}

#[tokio::test]
async fn a_body_past_the_cap_gets_503_with_retry_after_before_any_of_it_is_read_and_nothing_is_stored()
 {
    for db in databases().await {
        let ade = start_ade(
            &db,
            |c| {
                c.server.max_unverified_bodies = 3;
                c.server.body_timeout = Duration::from_secs(120);
            },
            ServiceOptions::default(),
        )
        .await;
        let store = db.store().await;

        // Three senders are let in (ade asks for their bodies) and trickle: each holds a place.
        let mut holders = Vec::new();
        for number in 0..3 {
            let delivery = forged(number);
            let (mut stream, answer) = knock(ade.addr(), &delivery).await;
            assert!(answer.starts_with("HTTP/1.1 100 Continue"), "{answer}");
            stream.write_all(&delivery.body()[..1]).await.unwrap();
            holders.push((stream, delivery));
        }

        // The fourth, correctly signed, is refused before ade asks for its body.
        let good = comment(10);
        let (mut stream, answer) = knock(ade.addr(), &good).await;
        assert!(answer.starts_with("HTTP/1.1 503"), "{}: {answer}", db.name);
        assert_eq!(retry_after(&answer), Some(5), "{answer}");
        read_rest(&mut stream).await;
        assert!(!stored(&store, &good).await, "{}", db.name);

        // The held bodies arrive whole; their signatures are checked, which frees the places.
        for (mut stream, delivery) in holders {
            stream.write_all(&delivery.body()[1..]).await.unwrap();
            let answer = read_head(&mut stream).await;
            assert!(answer.starts_with("HTTP/1.1 401"), "{answer}");
        }
        let forge = TestForge::new(ade.addr());
        let reply = forge.send(&good).await;
        assert_eq!(reply.status, 202, "{}: {:?}", db.name, reply.json);
        assert_eq!(stored_count(&store).await, 1, "{}", db.name);
        let (_, metrics) = forge.get("/metrics").await;
        assert!(
            metrics.contains(
                "ade_webhook_deliveries_total{forge=\"github\",event=\"unknown\",outcome=\"busy\"} 1"
            ),
            "{metrics}"
        );
        ade.shutdown().await.unwrap();
    }
}

#[tokio::test]
async fn a_client_that_trickles_its_request_head_is_cut_off() {
    let db = crate::support::db::sqlite();
    let ade = start_ade(
        &db,
        |c| c.server.header_timeout = Duration::from_secs(1),
        ServiceOptions::default(),
    )
    .await;
    let stream = TcpStream::connect(ade.addr()).await.unwrap();
    let started = Instant::now();
    let (mut reader, mut writer) = stream.into_split();
    let trickle = tokio::spawn(async move {
        writer
            .write_all(b"POST /webhooks/github HTTP/1.1\r\nHost: ade\r\nX-GitHub-Event: ")
            .await
            .unwrap();
        // A byte every 100 ms keeps the connection busy but never finishes the head.
        for _ in 0..600 {
            if writer.write_all(b"i").await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
    let mut answer = Vec::new();
    // Well before hyper's own default of 30 s, so it is the configured second that ended it.
    let bound = Duration::from_secs(20);
    let ended = tokio::time::timeout(bound, reader.read_to_end(&mut answer)).await;
    trickle.abort();
    assert!(ended.is_ok(), "still connected after {bound:?}");
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "cut off before the header timeout: {:?}",
        started.elapsed()
    );
    assert!(
        answer.is_empty(),
        "no answer to a head that never ended: {}",
        String::from_utf8_lossy(&answer)
    );
    let forge = TestForge::new(ade.addr());
    assert_eq!(
        forge.get("/healthz").await.0,
        200,
        "others are still served"
    );
    ade.shutdown().await.unwrap();
}

#[tokio::test]
async fn an_address_past_its_failed_signatures_gets_429_before_its_body_is_read_recorded_once_while_others_are_served()
 {
    for db in databases().await {
        let ade = start_ade(
            &db,
            |c| {
                c.server.failed_signatures = Some(FailureLimit {
                    failures: 3,
                    window: Duration::from_secs(600),
                })
            },
            ServiceOptions::default(),
        )
        .await;
        let store = db.store().await;
        let mallory = TestForge::new(ade.addr());
        for number in 0..3 {
            assert_eq!(mallory.send(&forged(number)).await.status, 401);
        }

        // Over the limit: refused before ade asks for a body, a good signature included.
        for (number, delivery) in [forged(3), forged(4), comment(5), forged(6)]
            .iter()
            .enumerate()
        {
            let (mut stream, answer) = knock(ade.addr(), delivery).await;
            assert!(
                answer.starts_with("HTTP/1.1 429"),
                "{}: request {number}: {answer}",
                db.name
            );
            let secs = retry_after(&answer).expect("a Retry-After");
            assert!((1..=600).contains(&secs), "{answer}");
            read_rest(&mut stream).await;
        }
        let gitea = Delivery::gitea(
            "issue_comment",
            "issue_comment",
            crate::support::payloads::gitea_comment("team/lamp", 1, "dora", "/ade plan"),
        );
        let (_, answer) = knock(ade.addr(), &gitea).await;
        assert!(answer.starts_with("HTTP/1.1 429"), "both routes: {answer}");

        // Another address is its own: its deliveries are read, checked and stored.
        let forge = TestForge::from(ade.addr(), "127.0.0.2".parse().unwrap());
        let good = comment(7);
        let reply = forge.send(&good).await;
        assert_eq!(reply.status, 202, "{}: {:?}", db.name, reply.json);
        assert_eq!(forge.send(&forged(8)).await.status, 401);
        assert_eq!(stored_count(&store).await, 1, "{}", db.name);

        let limited: Vec<serde_json::Value> = crate::audit::all_lines(&db.dir.join("audit"))
            .iter()
            .map(|line| serde_json::from_str::<serde_json::Value>(line).unwrap())
            .filter(|record| record["action"] == "webhook.limited")
            .collect();
        assert_eq!(
            limited.len(),
            1,
            "{}: one record per episode: {limited:?}",
            db.name
        );
        let record = &limited[0];
        assert_eq!(
            (
                &record["outcome"],
                &record["forge"],
                &record["details"]["address"],
                &record["details"]["failures"],
                &record["details"]["window_secs"],
            ),
            (
                &"refused".into(),
                &"github".into(),
                &"127.0.0.1".into(),
                &3.into(),
                &600.into()
            ),
            "{record}"
        );
        let (_, metrics) = forge.get("/metrics").await;
        for expected in [
            "ade_webhook_deliveries_total{forge=\"github\",event=\"unknown\",outcome=\"rate_limited\"} 4",
            "ade_webhook_deliveries_total{forge=\"gitea\",event=\"unknown\",outcome=\"rate_limited\"} 1",
            "ade_webhook_signature_failures_total{forge=\"github\"} 4",
        ] {
            assert!(
                metrics.contains(expected),
                "missing {expected} in\n{metrics}"
            );
        }
        ade.shutdown().await.unwrap();
    }
}

#[tokio::test]
async fn metrics_behind_a_token_answer_only_its_bearer() {
    let db = crate::support::db::sqlite();
    let ade = start_ade(
        &db,
        |c| c.metrics.token = Some(Secret::new("scrape-6f1d")),
        ServiceOptions::default(),
    )
    .await;
    let forge = TestForge::new(ade.addr());
    let (status, text) = forge.get("/metrics").await;
    assert_eq!(status, 401);
    assert!(!text.contains("ade_"), "{text}");
    for wrong in [
        "Bearer scrape-6f1e",
        "Bearer scrape-6f1d0",
        "Basic c2NyYXBlLTZmMWQ=",
    ] {
        let (status, text) = forge
            .get_with("/metrics", &[("Authorization", wrong)])
            .await;
        assert_eq!(status, 401, "{wrong}");
        assert!(!text.contains("ade_"), "{text}");
    }
    let (status, text) = forge
        .get_with("/metrics", &[("Authorization", "Bearer scrape-6f1d")])
        .await;
    assert_eq!(status, 200);
    assert!(text.contains("# TYPE ade_jobs gauge"), "{text}");
    assert_eq!(forge.get("/healthz").await.0, 200, "health needs no token");
    ade.shutdown().await.unwrap();
}

#[tokio::test]
async fn metrics_on_an_address_of_their_own_are_served_there_only() {
    let db = crate::support::db::sqlite();
    let ade = start_ade(
        &db,
        |c| {
            c.metrics.listen = Some("127.0.0.1:0".parse().unwrap());
            c.metrics.token = Some(Secret::new("scrape-6f1d"));
        },
        ServiceOptions::default(),
    )
    .await;
    let main = TestForge::new(ade.addr());
    let own = TestForge::new(ade.metrics_addr().expect("an address of its own"));
    assert_ne!(ade.metrics_addr(), Some(ade.addr()));
    let bearer = [("Authorization", "Bearer scrape-6f1d")];
    assert_eq!(main.get_with("/metrics", &bearer).await.0, 404);
    let (status, text) = own.get_with("/metrics", &bearer).await;
    assert_eq!(status, 200);
    assert!(text.contains("# TYPE ade_jobs gauge"), "{text}");
    assert_eq!(
        own.get("/metrics").await.0,
        401,
        "the token holds there too"
    );
    assert_eq!(
        own.get("/healthz").await.0,
        404,
        "only /metrics is served there"
    );
    assert_eq!(main.get("/healthz").await.0, 200);
    let reply = main.send(&comment(1)).await;
    assert_eq!(reply.status, 202, "{:?}", reply.json);
    ade.shutdown().await.unwrap();
}
