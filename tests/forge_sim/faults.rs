//! Injected failures: server errors, both rate limits, delays, timeouts; dropped, delayed and
//! redelivered webhooks; and the call record that shows what was asked.

use crate::support::{Api, REPO, Receiver, forge};
use ade::forge::ForgeKind;
use ade::sim::{DeliveryOutcome, Fault, FaultRule};
use serde_json::json;
use std::time::{Duration, Instant};

#[tokio::test]
async fn the_next_matching_calls_fail_then_calls_succeed() {
    let f = forge(ForgeKind::Github).await;
    let number = f
        .sim
        .open_issue(REPO, "maintainer", "Goal", "")
        .await
        .unwrap();
    let api = Api::new(&f);
    let path = format!("/repos/octo/demo/issues/{number}/comments");
    f.sim.inject(
        FaultRule::new("POST", "/repos/*/*/issues/*/comments", Fault::Status(502)).times(2),
    );
    for _ in 0..2 {
        let failed = api.post(&path, json!({ "body": "x" })).await;
        assert_eq!(failed.status, 502);
        assert!(failed.json["message"].is_string());
    }
    assert_eq!(
        api.get(&path).await.status,
        200,
        "other methods are untouched"
    );
    assert_eq!(api.post(&path, json!({ "body": "x" })).await.status, 201);
    assert_eq!(
        f.sim.comments(REPO, number).len(),
        1,
        "failed calls change nothing"
    );
    let calls = f.sim.calls_to("POST", "/repos/octo/demo/issues/*/comments");
    assert_eq!(
        calls.iter().map(|c| c.status).collect::<Vec<_>>(),
        vec![502, 502, 201]
    );
    assert_eq!(calls[0].fault.as_deref(), Some("status 502"));
    assert_eq!(calls[2].json()["body"], "x");
}

#[tokio::test]
async fn rate_limits_answer_as_github_does() {
    let f = forge(ForgeKind::Github).await;
    let api = Api::new(&f);
    f.sim.inject(FaultRule::new(
        "GET",
        "/repos/octo/demo",
        Fault::RateLimit {
            reset_after: Duration::from_secs(30),
        },
    ));
    let primary = api.get("/repos/octo/demo").await;
    assert_eq!(primary.status, 403);
    assert_eq!(
        primary.header("x-ratelimit-remaining").as_deref(),
        Some("0")
    );
    let reset: i64 = primary
        .header("x-ratelimit-reset")
        .unwrap()
        .parse()
        .unwrap();
    assert!(reset > ade::clock::unix_ms() / 1000);
    f.sim.inject(FaultRule::new(
        "*",
        "/repos/**",
        Fault::SecondaryRateLimit {
            status: 429,
            retry_after: Duration::from_secs(2),
        },
    ));
    let secondary = api.get("/repos/octo/demo/branches/main").await;
    assert_eq!(secondary.status, 429);
    assert_eq!(secondary.header("retry-after").as_deref(), Some("2"));
    assert_eq!(api.get("/repos/octo/demo").await.status, 200);
}

#[tokio::test]
async fn delays_and_timeouts_hold_the_answer() {
    let f = forge(ForgeKind::Gitea).await;
    let api = Api::new(&f);
    f.sim.inject(FaultRule::new(
        "GET",
        "/api/v1/repos/octo/demo",
        Fault::Delay(Duration::from_millis(300)),
    ));
    let started = Instant::now();
    assert_eq!(api.get("/repos/octo/demo").await.status, 200);
    assert!(started.elapsed() >= Duration::from_millis(300));

    f.sim.inject(FaultRule::new(
        "GET",
        "/api/v1/user",
        Fault::Timeout(Duration::from_secs(30)),
    ));
    let impatient = reqwest::Client::builder()
        .timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let result = impatient
        .get(format!("{}/user", f.sim.api_url()))
        .header("authorization", format!("token {}", f.ade_token))
        .send()
        .await;
    assert!(result.unwrap_err().is_timeout());
    assert_eq!(api.get("/user").await.status, 200);
}

#[tokio::test]
async fn a_lost_answer_comes_after_the_forge_acted() {
    let f = forge(ForgeKind::Github).await;
    let number = f
        .sim
        .open_issue(REPO, "maintainer", "Goal", "")
        .await
        .unwrap();
    let receiver = Receiver::start().await;
    f.sim.set_webhook_url(Some(receiver.url.clone()));
    let api = Api::new(&f);
    let path = format!("/repos/octo/demo/issues/{number}/comments");
    f.sim.inject(FaultRule::new(
        "POST",
        "/repos/*/*/issues/*/comments",
        Fault::AnswerLost {
            status: 502,
            hold: Duration::ZERO,
        },
    ));
    let proxied = api.post(&path, json!({ "body": "first" })).await;
    assert_eq!(proxied.status, 502, "the caller gets the proxy's answer");
    assert_eq!(
        f.sim.comments(REPO, number).len(),
        1,
        "but the comment was posted"
    );
    receiver.wait_for(1).await;

    f.sim.inject(FaultRule::new(
        "POST",
        "/repos/*/*/issues/*/comments",
        Fault::AnswerLost {
            status: 504,
            hold: Duration::from_secs(30),
        },
    ));
    let impatient = reqwest::Client::builder()
        .timeout(Duration::from_millis(500))
        .build()
        .unwrap();
    let result = impatient
        .post(format!("{}{path}", f.sim.api_url()))
        .header("authorization", format!("token {}", f.ade_token))
        .header("content-type", "application/json")
        .body(json!({ "body": "second" }).to_string())
        .send()
        .await;
    assert!(result.unwrap_err().is_timeout());
    assert_eq!(f.sim.comments(REPO, number).len(), 2);
    receiver.wait_for(2).await;

    let calls = f.sim.calls_to("POST", "/repos/octo/demo/issues/*/comments");
    assert_eq!(calls.len(), 2, "each call is recorded as it is carried out");
    for call in &calls {
        assert!(call.answer_lost() && !call.answer_injected(), "{call:?}");
        assert_eq!(call.status, 201, "the record keeps the forge's answer");
        assert!(call.response_json()["id"].is_i64());
    }
    assert_eq!(
        calls[0].fault.as_deref(),
        Some("answer lost after the call was carried out: 502 after 0ms")
    );
}

#[tokio::test]
async fn webhooks_can_be_dropped_delayed_and_redelivered() {
    let f = forge(ForgeKind::Github).await;
    let receiver = Receiver::start().await;
    f.sim.set_webhook_url(Some(receiver.url.clone()));
    f.sim.drop_webhooks(1);
    let number = f
        .sim
        .open_issue(REPO, "maintainer", "Dropped", "")
        .await
        .unwrap();
    let dropped = f.sim.deliveries().pop().unwrap();
    assert_eq!(dropped.outcome, DeliveryOutcome::Dropped);
    assert!(receiver.all().is_empty());

    f.sim.delay_webhooks(1, Duration::from_millis(300));
    f.sim
        .comment(REPO, number, "maintainer", "late")
        .await
        .unwrap();
    f.sim
        .comment(REPO, number, "maintainer", "on time")
        .await
        .unwrap();
    let got = receiver.wait_for(2).await;
    let body = |r: &crate::support::Received| {
        serde_json::from_slice::<serde_json::Value>(&r.body).unwrap()
    };
    assert_eq!(body(&got[0])["comment"]["body"], "on time");
    assert_eq!(body(&got[1])["comment"]["body"], "late");

    let outcome = f.sim.redeliver(&dropped.id).await.unwrap();
    assert_eq!(outcome, DeliveryOutcome::Sent { status: 202 });
    let got = receiver.wait_for(3).await;
    assert_eq!(
        got[2].header("x-github-delivery"),
        Some(dropped.id.as_str())
    );
    assert_eq!(body(&got[2])["action"], "opened");
    let again = f.sim.redeliver(&dropped.id).await.unwrap();
    assert_eq!(again, DeliveryOutcome::Sent { status: 202 });
    assert_eq!(
        receiver.wait_for(4).await[3].header("x-github-delivery"),
        Some(dropped.id.as_str())
    );
    assert!(f.sim.redeliver("no-such-id").await.is_none());
}

#[tokio::test]
async fn control_endpoints_drive_the_same_actions() {
    let f = forge(ForgeKind::Gitea).await;
    let control = reqwest::Client::new();
    let base = format!("{}/_sim", f.sim.url());
    let post = |path: &str, body: serde_json::Value| {
        control
            .post(format!("{base}{path}"))
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
    };
    let issue = read(
        post(
            "/issues",
            json!({ "author": "maintainer", "title": "Goal", "body": "- [ ] a" }),
        )
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap(),
    );
    let number = issue["number"].as_i64().unwrap();
    let comment = post(
        "/comments",
        json!({ "number": number, "author": "maintainer", "body": "/ade plan" }),
    )
    .await
    .unwrap();
    assert_eq!(comment.status(), 201);
    let pull = read(post("/pulls", json!({ "author": "maintainer", "title": "Change", "head": "topic", "files": { "b.txt": "b\n" } }))
        .await.unwrap().bytes().await.unwrap());
    let pr = pull["number"].as_i64().unwrap();
    let review = post(
        "/reviews",
        json!({ "number": pr, "author": "reader", "state": "approved" }),
    )
    .await
    .unwrap();
    assert_eq!(review.status(), 201);
    let fault = post(
        "/faults",
        json!({ "method": "GET", "path": "/api/v1/user", "status": 503 }),
    )
    .await
    .unwrap();
    assert_eq!(fault.status(), 200);
    assert_eq!(Api::new(&f).get("/user").await.status, 503);
    let merged = post(
        &format!("/pulls/{pr}/merge"),
        json!({ "author": "maintainer" }),
    )
    .await
    .unwrap();
    assert_eq!(merged.status(), 200);
    assert!(f.sim.pull(REPO, pr).unwrap().merged);
    let state = read(
        control
            .get(format!("{base}/state"))
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap(),
    );
    assert_eq!(
        state["repos"]["octo/demo"]["issues"][number.to_string()]["title"],
        "Goal"
    );
    let calls = read(
        control
            .get(format!("{base}/calls"))
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap(),
    );
    assert!(calls.as_array().unwrap().iter().any(|c| c["status"] == 503));
    let deliveries = read(
        control
            .get(format!("{base}/deliveries"))
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap(),
    );
    assert!(deliveries.as_array().unwrap().len() >= 5);
    let missing = post(
        "/comments",
        json!({ "number": 999, "author": "maintainer", "body": "x" }),
    )
    .await
    .unwrap();
    assert_eq!(missing.status(), 404);
}

fn read(bytes: axum::body::Bytes) -> serde_json::Value {
    serde_json::from_slice(&bytes).expect("a JSON answer")
}
