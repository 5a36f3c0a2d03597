//! Outgoing webhook deliveries: signed and headed as the forge being played signs and heads them,
//! sent in order, recorded with their answers, and open to faults (delay, drop) and redelivery.

use super::faults::{Faults, HookFault};
use crate::forge::ForgeKind;
use crate::ingress::signature::{sign_gitea, sign_github};
use hmac::{Hmac, Mac};
use serde::Serialize;
use sha1::Sha1;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A payload ready to send: the event names and the JSON body.
#[derive(Clone, Debug)]
pub struct Outgoing {
    /// `X-GitHub-Event` / `X-Gitea-Event`.
    pub event: String,
    /// `X-Gitea-Event-Type` (Gitea only).
    pub event_type: Option<String>,
    /// The body.
    pub body: serde_json::Value,
}

/// What became of a delivery.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum DeliveryOutcome {
    /// Delayed: not sent yet.
    Pending,
    /// Sent; the receiver answered this status.
    Sent {
        /// HTTP status.
        status: u16,
    },
    /// Sending failed (connection refused, timeout).
    Failed {
        /// Why.
        error: String,
    },
    /// Dropped by an injected fault.
    Dropped,
    /// No webhook URL was configured.
    NoUrl,
}

/// One delivery as sent (or not), kept so tests can read it and redeliver it.
#[derive(Clone, Debug, Serialize)]
pub struct DeliveryRecord {
    /// The delivery id (a UUID), the same on redelivery.
    pub id: String,
    /// The event header value.
    pub event: String,
    /// The event type header value (Gitea).
    pub event_type: Option<String>,
    /// The body's `action`, when it has one.
    pub action: Option<String>,
    /// Every header sent.
    pub headers: Vec<(String, String)>,
    /// The exact body bytes, as text.
    pub body: String,
    /// Whether this is a redelivery of an earlier one.
    pub redelivery: bool,
    /// What happened.
    #[serde(flatten)]
    pub outcome: DeliveryOutcome,
    /// When it was made (Unix ms).
    pub at_ms: i64,
}

impl DeliveryRecord {
    /// The body as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or(serde_json::Value::Null)
    }

    /// A header's value, by case-insensitive name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// The deliverer.
pub struct Webhooks {
    kind: ForgeKind,
    forgejo: bool,
    url: Mutex<Option<String>>,
    secret: Mutex<String>,
    client: reqwest::Client,
    records: Arc<Mutex<Vec<DeliveryRecord>>>,
    /// Held while sending, so deliveries arrive in the order they were made.
    order: tokio::sync::Mutex<()>,
}

impl Webhooks {
    /// A deliverer for one dialect.
    pub fn new(kind: ForgeKind, forgejo: bool, url: Option<String>, secret: String) -> Webhooks {
        Webhooks {
            kind,
            forgejo,
            url: Mutex::new(url),
            secret: Mutex::new(secret),
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .expect("an HTTP client without TLS builds"),
            records: Arc::new(Mutex::new(Vec::new())),
            order: tokio::sync::Mutex::new(()),
        }
    }

    /// Points deliveries somewhere else (or nowhere).
    pub fn set_url(&self, url: Option<String>) {
        *self.url.lock().unwrap_or_else(|e| e.into_inner()) = url;
    }

    /// Changes the signing secret.
    pub fn set_secret(&self, secret: String) {
        *self.secret.lock().unwrap_or_else(|e| e.into_inner()) = secret;
    }

    /// Every delivery so far, oldest first.
    pub fn records(&self) -> Vec<DeliveryRecord> {
        self.records
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Signs and sends one payload, applying the next webhook fault. Returns the delivery id once
    /// sent (or once delayed, dropped or found to have nowhere to go).
    pub async fn deliver(&self, outgoing: Outgoing, faults: &Faults, now_ms: i64) -> String {
        let body = outgoing.body.to_string();
        let id = uuid_v4();
        let headers = self.headers(&outgoing, &id, body.as_bytes());
        let record = DeliveryRecord {
            id: id.clone(),
            event: outgoing.event.clone(),
            event_type: outgoing.event_type.clone(),
            action: outgoing
                .body
                .get("action")
                .and_then(|a| a.as_str())
                .map(str::to_owned),
            headers,
            body,
            redelivery: false,
            outcome: DeliveryOutcome::Pending,
            at_ms: now_ms,
        };
        self.dispatch(record, faults.take_hook()).await;
        id
    }

    /// Sends an earlier delivery again with the same id, headers and body, as the forges'
    /// "redeliver" button does. Returns the outcome, or `None` for an unknown id.
    pub async fn redeliver(&self, id: &str, now_ms: i64) -> Option<DeliveryOutcome> {
        let original = self
            .records()
            .into_iter()
            .find(|r| r.id == id && !r.redelivery)?;
        let record = DeliveryRecord {
            redelivery: true,
            outcome: DeliveryOutcome::Pending,
            at_ms: now_ms,
            ..original
        };
        let index = self.push(record.clone());
        let _order = self.order.lock().await;
        let outcome = self.send(&record).await;
        self.set_outcome(index, outcome.clone());
        Some(outcome)
    }

    async fn dispatch(&self, record: DeliveryRecord, fault: Option<HookFault>) {
        let index = self.push(record.clone());
        match fault {
            Some(HookFault::Drop) => self.set_outcome(index, DeliveryOutcome::Dropped),
            Some(HookFault::Delay(delay)) => {
                let late = self.detached();
                tokio::spawn(async move {
                    tokio::time::sleep(delay).await;
                    let outcome = late.send(&record).await;
                    late.set_outcome(index, outcome);
                });
            }
            None => {
                let _order = self.order.lock().await;
                let outcome = self.send(&record).await;
                self.set_outcome(index, outcome);
            }
        }
    }

    /// A copy that shares the record list, for a delayed send that outlives the caller.
    fn detached(&self) -> Webhooks {
        Webhooks {
            kind: self.kind,
            forgejo: self.forgejo,
            url: Mutex::new(self.url.lock().unwrap_or_else(|e| e.into_inner()).clone()),
            secret: Mutex::new(String::new()),
            client: self.client.clone(),
            records: Arc::clone(&self.records),
            order: tokio::sync::Mutex::new(()),
        }
    }

    fn push(&self, record: DeliveryRecord) -> usize {
        let mut records = self.records.lock().unwrap_or_else(|e| e.into_inner());
        records.push(record);
        records.len() - 1
    }

    fn set_outcome(&self, index: usize, outcome: DeliveryOutcome) {
        if let Some(record) = self
            .records
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get_mut(index)
        {
            record.outcome = outcome;
        }
    }

    async fn send(&self, record: &DeliveryRecord) -> DeliveryOutcome {
        let Some(url) = self.url.lock().unwrap_or_else(|e| e.into_inner()).clone() else {
            return DeliveryOutcome::NoUrl;
        };
        let mut request = self.client.post(url).body(record.body.clone());
        for (name, value) in &record.headers {
            request = request.header(name, value);
        }
        match request.send().await {
            Ok(response) => DeliveryOutcome::Sent {
                status: response.status().as_u16(),
            },
            Err(err) => DeliveryOutcome::Failed {
                error: err.to_string(),
            },
        }
    }

    /// The header set the forge sends: GitHub's `X-GitHub-*` and `X-Hub-Signature(-256)`; Gitea's
    /// `X-Gitea-*` with the Gogs and GitHub-compatible copies, and Forgejo's `X-Forgejo-*`.
    fn headers(&self, outgoing: &Outgoing, id: &str, body: &[u8]) -> Vec<(String, String)> {
        let secret = self
            .secret
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let sha1 = format!("sha1={}", sign_sha1(&secret, body));
        let event = outgoing.event.clone();
        let mut headers = vec![("Content-Type".to_owned(), "application/json".to_owned())];
        let mut add = |name: &str, value: String| headers.push((name.to_owned(), value));
        match self.kind {
            ForgeKind::Github => {
                add("User-Agent", "GitHub-Hookshot/ade-sim".to_owned());
                add("X-GitHub-Delivery", id.to_owned());
                add("X-GitHub-Event", event);
                add("X-GitHub-Hook-ID", "1".to_owned());
                add("X-GitHub-Hook-Installation-Target-ID", "1".to_owned());
                add(
                    "X-GitHub-Hook-Installation-Target-Type",
                    "integration".to_owned(),
                );
                add("X-Hub-Signature", sha1);
                add("X-Hub-Signature-256", sign_github(&secret, body));
            }
            ForgeKind::Gitea => {
                let event_type = outgoing.event_type.clone().unwrap_or_else(|| event.clone());
                let signature = sign_gitea(&secret, body);
                if self.forgejo {
                    add("X-Forgejo-Delivery", id.to_owned());
                    add("X-Forgejo-Event", event.clone());
                    add("X-Forgejo-Event-Type", event_type.clone());
                    add("X-Forgejo-Signature", signature.clone());
                }
                add("X-Gitea-Delivery", id.to_owned());
                add("X-Gitea-Event", event.clone());
                add("X-Gitea-Event-Type", event_type.clone());
                add("X-Gitea-Signature", signature.clone());
                if !self.forgejo {
                    add(
                        "X-Gitea-Hook-Installation-Target-Type",
                        "repository".to_owned(),
                    );
                }
                add("X-Gogs-Delivery", id.to_owned());
                add("X-Gogs-Event", event.clone());
                add("X-Gogs-Event-Type", event_type.clone());
                add("X-Gogs-Signature", signature.clone());
                add("X-Hub-Signature", sha1);
                add("X-Hub-Signature-256", format!("sha256={signature}"));
                add("X-GitHub-Delivery", id.to_owned());
                add("X-GitHub-Event", event);
                add("X-GitHub-Event-Type", event_type);
                if !self.forgejo {
                    add(
                        "X-GitHub-Hook-Installation-Target-Type",
                        "repository".to_owned(),
                    );
                }
            }
        }
        headers
    }
}

fn sign_sha1(secret: &str, body: &[u8]) -> String {
    let mut mac =
        Hmac::<Sha1>::new_from_slice(secret.as_bytes()).expect("HMAC takes keys of any length");
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

/// A random version-4 UUID, the shape of both forges' delivery ids.
pub fn uuid_v4() -> String {
    format!(
        "{:08x}-{:04x}-4{:03x}-{:x}{:03x}-{:012x}",
        fastrand::u32(..),
        fastrand::u16(..),
        fastrand::u16(..0x1000),
        fastrand::u8(8..12),
        fastrand::u16(..0x1000),
        fastrand::u64(..0x1_0000_0000_0000)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha1_signature_matches_the_published_vector() {
        // The Hub sha1 value of GitHub's documented example body and secret.
        assert_eq!(
            sign_sha1("It's a Secret to Everybody", b"Hello, World!"),
            "01dc10d0c83e72ed246219cdd91669667fe2ca59"
        );
    }

    #[test]
    fn delivery_ids_are_uuids() {
        let id = uuid_v4();
        assert_eq!(id.len(), 36);
        assert_eq!(id.as_bytes()[14], b'4');
    }
}
