//! Verification at the door: [`receive`] turns an HTTP request to a forge's webhook route into a
//! [`VerifiedDelivery`] or a refusal. Nothing after it sees a body whose signature was not checked.

use super::Ingress;
use super::door::{Limited, Source};
use super::signature::{self, SignatureError};
use crate::forge::ForgeKind;
use crate::store::audit::{ActorKind, Entry, Outcome, Scope};
use crate::telemetry::shown;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, Request};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use std::net::SocketAddr;
use tokio::sync::OwnedSemaphorePermit;

/// A request whose signature verified, with the forge's headers read and checked.
#[derive(Debug)]
pub struct VerifiedDelivery {
    /// The dialect it came in.
    pub forge: ForgeKind,
    /// The forge's delivery id.
    pub delivery_id: String,
    /// The event header.
    pub event: String,
    /// Gitea's finer event type, when sent.
    pub event_type: Option<String>,
    /// The declared media type (`application/json` when none was sent).
    pub content_type: String,
    /// The body exactly as signed.
    pub body: Bytes,
}

/// A refused request: the status, a short reason for the forge's delivery log, the metrics
/// outcome it counts as, and when to try again if that is worth saying.
#[derive(Debug)]
pub struct Refusal {
    /// The HTTP status.
    pub status: StatusCode,
    /// What was wrong, without echoing the body.
    pub reason: String,
    /// The `outcome` label in `ade_webhook_deliveries_total`.
    pub outcome: &'static str,
    /// Seconds for `Retry-After`, for refusals that pass.
    pub retry_after: Option<u64>,
}

impl Refusal {
    /// A refusal with no `Retry-After`.
    pub fn new(status: StatusCode, reason: impl Into<String>, outcome: &'static str) -> Refusal {
        Refusal {
            status,
            reason: reason.into(),
            outcome,
            retry_after: None,
        }
    }

    pub(crate) fn bad_request(reason: impl Into<String>) -> Refusal {
        Refusal::new(StatusCode::BAD_REQUEST, reason, "bad_request")
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let body = axum::Json(serde_json::json!({ "error": self.reason }));
        match self.retry_after {
            Some(secs) => {
                (self.status, [(header::RETRY_AFTER, secs.to_string())], body).into_response()
            }
            None => (self.status, body).into_response(),
        }
    }
}

/// The header names each forge uses, in the order they are looked for. Forgejo sends its own
/// headers and Gitea's; its own win.
struct Dialect {
    signature: &'static [&'static str],
    event: &'static [&'static str],
    event_type: &'static [&'static str],
    delivery: &'static [&'static str],
}

const GITHUB: Dialect = Dialect {
    signature: &["X-Hub-Signature-256"],
    event: &["X-GitHub-Event"],
    event_type: &[],
    delivery: &["X-GitHub-Delivery"],
};

const GITEA: Dialect = Dialect {
    signature: &["X-Forgejo-Signature", "X-Gitea-Signature"],
    event: &["X-Forgejo-Event", "X-Gitea-Event"],
    event_type: &["X-Forgejo-Event-Type", "X-Gitea-Event-Type"],
    delivery: &["X-Forgejo-Delivery", "X-Gitea-Delivery"],
};

/// Reads and verifies a request to the webhook route of `forge`.
pub(super) async fn receive(
    forge: ForgeKind,
    request: Request,
    ingress: &Ingress,
) -> Result<VerifiedDelivery, Refusal> {
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0);
    let (parts, body) = request.into_parts();
    let headers = &parts.headers;
    let dialect = match forge {
        ForgeKind::Github => &GITHUB,
        ForgeKind::Gitea => &GITEA,
    };
    let unverified = Unverified {
        forge,
        ingress,
        peer,
        delivery_hint: first(headers, dialect.delivery)
            .map(|(_, v)| shown(&String::from_utf8_lossy(&v[..v.len().min(80)])))
            .unwrap_or_default(),
    };
    let refuse = |refusal: Refusal| unverified.refuse(refusal);

    let place = unverified.enter(headers).await?;
    let body = unverified.read(body).await?;
    let secrets = match forge {
        ForgeKind::Github => &ingress.github_secrets,
        ForgeKind::Gitea => &ingress.gitea_secrets,
    };
    let signed = first(headers, dialect.signature);
    let verified = match forge {
        ForgeKind::Github => signature::verify_github(secrets, signed.map(|(_, v)| v), &body),
        ForgeKind::Gitea => {
            let name = signed.map(|(name, _)| name).unwrap_or("X-Gitea-Signature");
            signature::verify_gitea(secrets, name, signed.map(|(_, v)| v), &body)
        }
    };
    drop(place);
    if let Err(error) = verified {
        ingress.metrics.signature_failure(forge.as_str());
        unverified.failed();
        if error == SignatureError::NoSecret {
            tracing::error!(%forge, "a webhook arrived but no webhook secret is configured for this forge");
        }
        return Err(refuse(Refusal::new(
            StatusCode::UNAUTHORIZED,
            error.to_string(),
            "bad_signature",
        )));
    }

    let delivery_id = required(headers, dialect.delivery, is_delivery_id).map_err(&refuse)?;
    let event = required(headers, dialect.event, is_event_name).map_err(&refuse)?;
    let event_type = match first(headers, dialect.event_type) {
        None => None,
        Some((name, value)) => Some(checked(name, value, is_event_name).map_err(&refuse)?),
    };
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .map(|v| v.to_str().unwrap_or("invalid").to_string())
        .unwrap_or_else(|| "application/json".into());
    Ok(VerifiedDelivery {
        forge,
        delivery_id,
        event,
        event_type,
        content_type,
        body,
    })
}

/// The `Retry-After` of a 503 for want of a place: places free up as soon as the bodies in them
/// are verified, so a few seconds do.
const BUSY_RETRY_AFTER_SECS: u64 = 5;

/// One unauthenticated request at the door: what it may be refused for before its signature is
/// checked, and how a refusal is counted and told.
struct Unverified<'a> {
    forge: ForgeKind,
    ingress: &'a Ingress,
    peer: Option<SocketAddr>,
    /// The delivery id the request claims, unverified and shown safely, for the log.
    delivery_hint: String,
}

impl Unverified<'_> {
    fn now_ms(&self) -> i64 {
        self.ingress.clock.now_ms()
    }

    fn source(&self) -> Option<Source> {
        self.peer.map(|peer| Source::of(peer.ip()))
    }

    /// Counts `refusal` and logs it with the peer and the claimed delivery id, never the body.
    fn refuse(&self, refusal: Refusal) -> Refusal {
        self.ingress
            .metrics
            .webhook_delivery(self.forge.as_str(), "unknown", refusal.outcome);
        let peer = self.peer.map(|p| p.to_string()).unwrap_or_default();
        tracing::warn!(forge = %self.forge, delivery = %self.delivery_hint, %peer, status = refusal.status.as_u16(), reason = %refusal.reason, "refused webhook");
        refusal
    }

    /// Everything decided before a byte of the body is read: the source's failure limit, the
    /// declared length, and a place among the bodies being read, held until the signature is
    /// checked.
    async fn enter(&self, headers: &HeaderMap) -> Result<OwnedSemaphorePermit, Refusal> {
        let door = &self.ingress.door;
        if let Some(source) = self.source()
            && let Err(limited) = door.admit(source, self.now_ms())
        {
            return Err(self.limited(source, limited).await);
        }
        let declared = headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|n| n > self.ingress.max_body_bytes as u64) {
            return Err(self.refuse(self.too_large()));
        }
        door.enter().ok_or_else(|| self.busy())
    }

    /// Reads the body within `server.body_timeout_secs` and `server.max_body_bytes`.
    async fn read(&self, body: axum::body::Body) -> Result<Bytes, Refusal> {
        let limit = self.ingress.max_body_bytes;
        // Forges send the whole body at once; a client that trickles it is holding a connection,
        // not delivering a webhook, and counts against its address like a failed signature.
        let timeout = self.ingress.body_timeout;
        match tokio::time::timeout(timeout, axum::body::to_bytes(body, limit)).await {
            Ok(Ok(body)) => Ok(body),
            Err(_) => {
                self.failed();
                Err(self.refuse(Refusal::new(
                    StatusCode::REQUEST_TIMEOUT,
                    format!("the body did not arrive within {}s", timeout.as_secs()),
                    "timeout",
                )))
            }
            Ok(Err(error)) => Err(self.refuse(if is_length_limit(&error) {
                self.too_large()
            } else {
                Refusal::bad_request(format!("could not read the body: {error}"))
            })),
        }
    }

    /// The request failed verification: it counts against its source.
    fn failed(&self) {
        if let Some(source) = self.source() {
            self.ingress.door.failed(source, self.now_ms());
        }
    }

    fn too_large(&self) -> Refusal {
        let limit = self.ingress.max_body_bytes;
        Refusal::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("body exceeds the limit of {limit} bytes"),
            "too_large",
        )
    }

    /// Every place among the bodies being read is taken: 503, and the log says so at most every
    /// few seconds, since a flood would otherwise write a line per request.
    fn busy(&self) -> Refusal {
        let refusal = Refusal {
            retry_after: Some(BUSY_RETRY_AFTER_SECS),
            ..Refusal::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "ade is reading as many unverified bodies as it takes at once; deliver again shortly",
                "busy",
            )
        };
        self.ingress
            .metrics
            .webhook_delivery(self.forge.as_str(), "unknown", refusal.outcome);
        if self.ingress.door.say_busy(self.now_ms()) {
            tracing::warn!(
                forge = %self.forge,
                "refusing webhooks with 503: server.max_unverified_bodies bodies are being read \
                 (ade_webhook_deliveries_total{{outcome=\"busy\"}} counts them)"
            );
        }
        refusal
    }

    /// The source is over its failure limit: 429, nothing read, nothing stored, and at the first
    /// refusal of an episode one audit record and one log line.
    async fn limited(&self, source: Source, limited: Limited) -> Refusal {
        let refusal = Refusal {
            retry_after: Some(limited.retry_after_secs),
            ..Refusal::new(
                StatusCode::TOO_MANY_REQUESTS,
                format!(
                    "too many failed signatures from this address; try again in {} s",
                    limited.retry_after_secs
                ),
                "rate_limited",
            )
        };
        self.ingress
            .metrics
            .webhook_delivery(self.forge.as_str(), "unknown", refusal.outcome);
        if limited.first {
            tracing::warn!(
                forge = %self.forge,
                %source,
                retry_after_secs = limited.retry_after_secs,
                "refusing webhooks from this address with 429: too many failed signatures"
            );
            self.record_limited(source, limited).await;
        }
        refusal
    }

    async fn record_limited(&self, source: Source, limited: Limited) {
        let limit = self.ingress.door.limit();
        let mut entry = Entry::new(
            self.now_ms(),
            ActorKind::Ade,
            "ade",
            "webhook.limited",
            format!("address {source}"),
            Outcome::Refused,
        )
        .scoped(Scope {
            forge: Some(self.forge),
            ..Scope::default()
        })
        .with("address", source.to_string())
        .with("why", "too many failed signatures")
        .with("retry_after_secs", limited.retry_after_secs);
        if let Some(limit) = limit {
            entry = entry
                .with("failures", limit.failures)
                .with("window_secs", limit.window.as_secs());
        }
        if let Err(error) = self
            .ingress
            .audit
            .record_now(&self.ingress.store, &[entry])
            .await
        {
            tracing::error!(%error, %source, "could not record the refusal of an address in the audit log");
        }
    }
}

fn is_length_limit(error: &axum::Error) -> bool {
    let mut source: Option<&dyn std::error::Error> = Some(error);
    while let Some(e) = source {
        if e.is::<http_body_util::LengthLimitError>() {
            return true;
        }
        source = e.source();
    }
    false
}

fn first<'h>(headers: &'h HeaderMap, names: &[&'static str]) -> Option<(&'static str, &'h [u8])> {
    names
        .iter()
        .find_map(|name| headers.get(*name).map(|v| (*name, v.as_bytes())))
}

fn required(
    headers: &HeaderMap,
    names: &[&'static str],
    valid: fn(&str) -> bool,
) -> Result<String, Refusal> {
    match first(headers, names) {
        Some((name, value)) => checked(name, value, valid),
        None => Err(Refusal::bad_request(format!(
            "missing header {}",
            names.join(" or ")
        ))),
    }
}

fn checked(name: &'static str, value: &[u8], valid: fn(&str) -> bool) -> Result<String, Refusal> {
    match std::str::from_utf8(value) {
        Ok(value) if valid(value) => Ok(value.to_string()),
        _ => Err(Refusal::bad_request(format!("malformed header {name}"))),
    }
}

/// Forges send a UUID; anything printable and short is kept, since it ends up in logs and URLs.
fn is_delivery_id(value: &str) -> bool {
    !value.is_empty()
        && value.len() <= 128
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
}

fn is_event_name(value: &str) -> bool {
    !value.is_empty()
        && value.len() <= 64
        && value
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delivery_ids_and_event_names_are_checked() {
        assert!(is_delivery_id("72d3162e-cc78-11e3-81ab-4c9367dc0958"));
        assert!(!is_delivery_id(""));
        assert!(!is_delivery_id("id with space"));
        assert!(!is_delivery_id("id\nnewline"));
        assert!(!is_delivery_id(&"a".repeat(129)));
        assert!(is_event_name("pull_request_review"));
        assert!(!is_event_name("Issue-Comment"));
        assert!(!is_event_name("issues;rm"));
    }
}
