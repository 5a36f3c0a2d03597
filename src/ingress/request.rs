//! Verification at the door: [`receive`] turns an HTTP request to a forge's webhook route into a
//! [`VerifiedDelivery`] or a refusal. Nothing after it sees a body whose signature was not checked.

use super::Ingress;
use super::signature::{self, SignatureError};
use crate::forge::ForgeKind;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, Request};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use std::net::SocketAddr;

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

/// A refused request: the status, a short reason for the forge's delivery log, and the metrics
/// outcome it counts as.
#[derive(Debug)]
pub struct Refusal {
    /// The HTTP status.
    pub status: StatusCode,
    /// What was wrong, without echoing the body.
    pub reason: String,
    /// The `outcome` label in `ade_webhook_deliveries_total`.
    pub outcome: &'static str,
}

impl Refusal {
    pub(crate) fn bad_request(reason: impl Into<String>) -> Refusal {
        Refusal {
            status: StatusCode::BAD_REQUEST,
            reason: reason.into(),
            outcome: "bad_request",
        }
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let body = serde_json::json!({ "error": self.reason });
        (self.status, axum::Json(body)).into_response()
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
        .map(|c| c.0.to_string())
        .unwrap_or_else(|| "unknown".into());
    let (parts, body) = request.into_parts();
    let headers = &parts.headers;
    let dialect = match forge {
        ForgeKind::Github => &GITHUB,
        ForgeKind::Gitea => &GITEA,
    };
    let delivery_hint = first(headers, dialect.delivery)
        .map(|(_, v)| {
            String::from_utf8_lossy(v)
                .chars()
                .take(80)
                .collect::<String>()
        })
        .unwrap_or_default();
    let refuse = |refusal: Refusal| {
        ingress
            .metrics
            .webhook_delivery(forge.as_str(), "unknown", refusal.outcome);
        tracing::warn!(%forge, delivery = %delivery_hint, %peer, status = refusal.status.as_u16(), reason = %refusal.reason, "refused webhook");
        refusal
    };

    let limit = ingress.max_body_bytes;
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let too_large = || Refusal {
        status: StatusCode::PAYLOAD_TOO_LARGE,
        reason: format!("body exceeds the limit of {limit} bytes"),
        outcome: "too_large",
    };
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(refuse(too_large()));
    }
    // Forges send the whole body at once; a client that trickles it is holding a connection, not
    // delivering a webhook.
    let timeout = ingress.body_timeout;
    let body = match tokio::time::timeout(timeout, axum::body::to_bytes(body, limit)).await {
        Err(_) => {
            return Err(refuse(Refusal {
                status: StatusCode::REQUEST_TIMEOUT,
                reason: format!("the body did not arrive within {}s", timeout.as_secs()),
                outcome: "timeout",
            }));
        }
        Ok(Ok(body)) => body,
        Ok(Err(error)) => {
            let refusal = if is_length_limit(&error) {
                too_large()
            } else {
                Refusal::bad_request(format!("could not read the body: {error}"))
            };
            return Err(refuse(refusal));
        }
    };

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
    if let Err(error) = verified {
        ingress.metrics.signature_failure(forge.as_str());
        if error == SignatureError::NoSecret {
            tracing::error!(%forge, "a webhook arrived but no webhook secret is configured for this forge");
        }
        return Err(refuse(Refusal {
            status: StatusCode::UNAUTHORIZED,
            reason: error.to_string(),
            outcome: "bad_signature",
        }));
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
