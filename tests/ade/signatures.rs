//! Signature test vectors written by others (../shared/corpus/signatures.json) and the corpus's
//! complete Gitea and Forgejo header sets: ade's verifier must agree with them, and ade must take
//! those exact requests.

use crate::support::{TestDb, TestForge, start_ade};
use ade::ingress::signature::{SignatureError, verify_gitea, verify_github};
use ade::secret::Secret;
use ade::service::ServiceOptions;
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

fn corpus() -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus");
    if dir.join("signatures.json").is_file() {
        Some(dir)
    } else {
        eprintln!("skipped: ../shared/corpus not present, so the external vectors are not checked");
        None
    }
}

fn body(corpus: &Path, vector: &Value) -> Vec<u8> {
    let bytes = match (vector["body"].as_str(), vector["body_file"].as_str()) {
        (Some(text), _) => text.as_bytes().to_vec(),
        (None, Some(file)) => std::fs::read(corpus.join(file)).expect("body_file exists"),
        _ => panic!("vector without a body: {vector}"),
    };
    if let Some(sum) = vector["body_sha256"].as_str() {
        assert_eq!(hex::encode(Sha256::digest(&bytes)), sum, "{}", vector["id"]);
    }
    bytes
}

#[test]
fn the_verifier_agrees_with_every_published_vector() {
    let Some(corpus) = corpus() else { return };
    let vectors: Value =
        serde_json::from_slice(&std::fs::read(corpus.join("signatures.json")).unwrap()).unwrap();
    let mut checked = 0;
    for vector in vectors["valid"].as_array().unwrap() {
        let secrets = [Secret::new(vector["secret"].as_str().unwrap())];
        let body = body(&corpus, vector);
        let hub = vector["x_hub_signature_256"].as_str().unwrap();
        assert_eq!(
            verify_github(&secrets, Some(hub.as_bytes()), &body),
            Ok(()),
            "{}",
            vector["id"]
        );
        let gitea = vector["x_gitea_signature"].as_str().unwrap();
        assert_eq!(
            verify_gitea(&secrets, "X-Gitea-Signature", Some(gitea.as_bytes()), &body),
            Ok(())
        );
        checked += 1;
    }
    for vector in vectors["invalid"].as_array().unwrap() {
        let secrets = [Secret::new(vector["secret"].as_str().unwrap())];
        let body = body(&corpus, vector);
        let value = vector["value"].as_str().unwrap().as_bytes();
        let result = match vector["header"].as_str().unwrap() {
            "X-Hub-Signature-256" => verify_github(&secrets, Some(value), &body),
            "X-Gitea-Signature" => verify_gitea(&secrets, "X-Gitea-Signature", Some(value), &body),
            other => panic!("unknown header {other}"),
        };
        assert!(
            result.is_err(),
            "{} must not verify: {}",
            vector["id"],
            vector["why"]
        );
        assert_ne!(result, Err(SignatureError::NoSecret));
        checked += 1;
    }
    for vector in vectors["external"].as_array().unwrap() {
        let secrets = [Secret::new(vector["secret"].as_str().unwrap())];
        let body = body(&corpus, vector);
        let value = vector["x_gitea_signature"].as_str().unwrap();
        assert_eq!(
            verify_gitea(&secrets, "X-Gitea-Signature", Some(value.as_bytes()), &body),
            Ok(()),
            "{}",
            vector["id"]
        );
        checked += 1;
    }
    assert!(checked >= 38, "only {checked} vectors were read");
}

#[tokio::test]
async fn ade_takes_the_exact_requests_gitea_and_forgejo_send() {
    let Some(corpus) = corpus() else { return };
    let index: Value =
        serde_json::from_slice(&std::fs::read(corpus.join("gitea/webhooks/index.json")).unwrap())
            .unwrap();
    let constructed: Vec<&Value> = index["files"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["constructed"] == true)
        .collect();
    assert!(constructed.len() >= 7);
    let db: TestDb = crate::support::db::sqlite();
    let secret = constructed[0]["secret"].as_str().unwrap().to_string();
    let ade = start_ade(
        &db,
        |c| c.gitea.webhook_secrets = vec![Secret::new(secret)],
        ServiceOptions::default(),
    )
    .await;
    let forge = TestForge::new(ade.addr());
    for file in constructed {
        let body = std::fs::read(corpus.join(file["file"].as_str().unwrap())).unwrap();
        for (style, answer) in [("headers", 202), ("forgejo_style_headers", 200)] {
            let headers: Vec<(String, String)> = file[style]
                .as_object()
                .unwrap()
                .iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
                .collect();
            let reply = forge.post("/webhooks/gitea", headers, body.clone()).await;
            // Both styles carry the same delivery id, so the second is a redelivery.
            assert_eq!(
                reply.status, answer,
                "{} with {style}: {:?}",
                file["file"], reply.json
            );
        }
    }
    ade.shutdown().await.unwrap();
}
