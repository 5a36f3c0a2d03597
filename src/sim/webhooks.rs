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

tokio::task_local! {
    /// Set while the simulator answers an API call: webhooks caused by ade's own API calls are
    /// queued without making the call wait for ade's webhook endpoint, as a real forge delivers
    /// them after answering.
    static FROM_API: ();
}

/// Runs an API handler so that the webhooks it causes are sent in the background.
pub async fn from_api<F: std::future::Future>(handler: F) -> F::Output {
    FROM_API.scope((), handler).await
}

/// Where deliveries go and what became of them; shared with the sending task.
struct Outbox {
    url: Mutex<Option<String>>,
    client: reqwest::Client,
    records: Mutex<Vec<DeliveryRecord>>,
}

impl Outbox {
    fn push(&self, record: DeliveryRecord) -> usize {
        let mut records = self.records.lock().unwrap_or_else(|e| e.into_inner());
        records.push(record);
        records.len() - 1
    }

    fn record(&self, index: usize) -> Option<DeliveryRecord> {
        self.records
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(index)
            .cloned()
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

    async fn send(&self, index: usize) -> DeliveryOutcome {
        let Some(record) = self.record(index) else {
            return DeliveryOutcome::Failed {
                error: "no such delivery".into(),
            };
        };
        let Some(url) = self.url.lock().unwrap_or_else(|e| e.into_inner()).clone() else {
            self.set_outcome(index, DeliveryOutcome::NoUrl);
            return DeliveryOutcome::NoUrl;
        };
        let mut request = self.client.post(url).body(record.body.clone());
        for (name, value) in &record.headers {
            request = request.header(name, value);
        }
        let outcome = match request.send().await {
            Ok(response) => DeliveryOutcome::Sent {
                status: response.status().as_u16(),
            },
            Err(err) => DeliveryOutcome::Failed {
                error: err.to_string(),
            },
        };
        self.set_outcome(index, outcome.clone());
        outcome
    }
}

/// A delivery waiting for the sender, and whom to tell when it is out.
struct Queued {
    index: usize,
    sent: Option<tokio::sync::oneshot::Sender<DeliveryOutcome>>,
}

/// The deliverer. One task sends every delivery in the order they were made; delayed ones are
/// sent aside when their time comes, so later ones overtake them.
pub struct Webhooks {
    kind: ForgeKind,
    forgejo: bool,
    secret: Mutex<String>,
    outbox: Arc<Outbox>,
    queue: tokio::sync::mpsc::UnboundedSender<Queued>,
}

impl Webhooks {
    /// A deliverer for one dialect; starts its sending task (call within a Tokio runtime).
    pub fn new(kind: ForgeKind, forgejo: bool, url: Option<String>, secret: String) -> Webhooks {
        let outbox = Arc::new(Outbox {
            url: Mutex::new(url),
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .expect("an HTTP client without TLS builds"),
            records: Mutex::new(Vec::new()),
        });
        let (queue, mut waiting) = tokio::sync::mpsc::unbounded_channel::<Queued>();
        let sender = Arc::clone(&outbox);
        tokio::spawn(async move {
            while let Some(queued) = waiting.recv().await {
                let outcome = sender.send(queued.index).await;
                if let Some(sent) = queued.sent {
                    let _ = sent.send(outcome);
                }
            }
        });
        Webhooks {
            kind,
            forgejo,
            secret: Mutex::new(secret),
            outbox,
            queue,
        }
    }

    /// Points deliveries somewhere else (or nowhere).
    pub fn set_url(&self, url: Option<String>) {
        *self.outbox.url.lock().unwrap_or_else(|e| e.into_inner()) = url;
    }

    /// Where deliveries go now.
    pub fn url(&self) -> Option<String> {
        self.outbox
            .url
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The signing secret now.
    pub fn secret(&self) -> String {
        self.secret
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Changes the signing secret.
    pub fn set_secret(&self, secret: String) {
        *self.secret.lock().unwrap_or_else(|e| e.into_inner()) = secret;
    }

    /// Every delivery so far, oldest first.
    pub fn records(&self) -> Vec<DeliveryRecord> {
        self.outbox
            .records
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Signs and queues one payload. Outside an API call the next webhook fault applies, and it
    /// returns once the delivery was answered (or dropped, delayed, or had nowhere to go), so a
    /// test's action is complete when it returns; inside one it returns at once, unfaulted.
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
        let index = self.outbox.push(record);
        // Webhook faults are for what a test does on the forge: one armed before a test's action
        // is not taken by the webhook of a write of ade's that happened to come first.
        let from_api = FROM_API.try_with(|_| ()).is_ok();
        let fault = if from_api { None } else { faults.take_hook() };
        match fault {
            Some(HookFault::Drop) => self.outbox.set_outcome(index, DeliveryOutcome::Dropped),
            Some(HookFault::Delay(delay)) => {
                let outbox = Arc::clone(&self.outbox);
                tokio::spawn(async move {
                    tokio::time::sleep(delay).await;
                    outbox.send(index).await;
                });
            }
            None => {
                self.enqueue(index, !from_api).await;
            }
        }
        id
    }

    async fn enqueue(&self, index: usize, wait: bool) -> DeliveryOutcome {
        let (sent, answered) = tokio::sync::oneshot::channel();
        let queued = Queued {
            index,
            sent: wait.then_some(sent),
        };
        if self.queue.send(queued).is_err() || !wait {
            return DeliveryOutcome::Pending;
        }
        answered.await.unwrap_or(DeliveryOutcome::Pending)
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
        let index = self.outbox.push(record);
        Some(self.enqueue(index, true).await)
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
