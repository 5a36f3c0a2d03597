//! `ade sim`'s demo: the seeded repository and credentials work as printed, and the control
//! endpoint's comment reaches a webhook receiver as ade would read it.

use crate::support::{Receiver, TempDir};
use ade::events::{EventHeaders, EventKind, Normalized, normalize};
use ade::forge::ForgeKind;
use ade::sim::{AppKey, DEMO_REPO, StandaloneOptions, start_demo};
use serde_json::json;

async fn demo_drives(kind: ForgeKind) {
    let dir = TempDir::new("demo");
    let receiver = Receiver::start().await;
    let mut options = StandaloneOptions::new("127.0.0.1:0".parse().unwrap());
    options.forge = kind;
    options.data_dir = Some(dir.0.clone());
    options.webhook_url = Some(receiver.url.clone());
    let demo = start_demo(&options).await.expect("demo starts");
    let issue = demo.sim.issue(DEMO_REPO, demo.issue).unwrap();
    assert!(issue.body.contains("- [ ] Add a `greet(name)`"));
    assert!(
        demo.sim
            .file(DEMO_REPO, "main", "src/lib.rs")
            .await
            .is_some()
    );

    let client = reqwest::Client::new();
    let token = match kind {
        ForgeKind::Github => {
            let pem = std::fs::read_to_string(&demo.app_key_path).unwrap();
            let key = AppKey::from_private_pem(&pem).unwrap();
            let now = ade::clock::unix_ms() / 1000;
            let jwt = key.sign_jwt(demo.sim.app_id(), now - 10, now + 300);
            let answer = client
                .post(format!(
                    "{}/app/installations/{}/access_tokens",
                    demo.sim.api_url(),
                    demo.installation.unwrap()
                ))
                .header("authorization", format!("Bearer {jwt}"))
                .send()
                .await
                .unwrap();
            assert_eq!(answer.status(), 201);
            let body: serde_json::Value =
                serde_json::from_slice(&answer.bytes().await.unwrap()).unwrap();
            body["token"].as_str().unwrap().to_owned()
        }
        ForgeKind::Gitea => demo.bot.clone().unwrap().token,
    };
    let repo = client
        .get(format!("{}/repos/{DEMO_REPO}", demo.sim.api_url()))
        .header("authorization", format!("token {token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(repo.status(), 200);

    let before = receiver.all().len();
    let posted = client
        .post(format!("{}/_sim/comments", demo.sim.url()))
        .header("content-type", "application/json")
        .body(
            json!({ "number": demo.issue, "author": "maintainer", "body": "/ade plan" })
                .to_string(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(posted.status(), 201);
    let got = receiver.wait_for(before + 1).await;
    let last = got.last().unwrap();
    let (event, event_type) = match kind {
        ForgeKind::Github => (last.header("x-github-event").unwrap(), None),
        ForgeKind::Gitea => (
            last.header("x-gitea-event").unwrap(),
            last.header("x-gitea-event-type"),
        ),
    };
    let normalized = normalize(kind, &EventHeaders { event, event_type }, &last.body).unwrap();
    let Normalized::Event(event) = normalized else {
        panic!("{normalized:?}");
    };
    let EventKind::CommentCreated(comment) = event.kind else {
        panic!("{:?}", event.kind);
    };
    assert_eq!(comment.body, "/ade plan");
    assert_eq!(comment.issue.number, demo.issue);
}

#[tokio::test]
async fn github_demo_credentials_and_control_work() {
    demo_drives(ForgeKind::Github).await;
}

#[tokio::test]
async fn gitea_demo_credentials_and_control_work() {
    demo_drives(ForgeKind::Gitea).await;
}
