//! Webhook ingress: `POST /webhooks/github` and `POST /webhooks/gitea` (Forgejo too).
//!
//! A request is verified at the door ([`request`]), its body checked to be the JSON it claims
//! ([`payload`]), and the delivery stored durably with the job that will handle it ([`inbox`])
//! before any 2xx is sent. Handling happens later, on the job queue, so forges get an answer in
//! milliseconds.

pub mod door;
pub mod inbox;
pub mod payload;
pub mod request;
pub mod signature;

pub use door::{Door, FailureLimit};
pub use inbox::{DeliveryJob, Inbox, Stored};
pub use request::{Refusal, VerifiedDelivery};

use crate::audit::AuditLog;
use crate::clock::Clock;
use crate::forge::ForgeKind;
use crate::metrics::Metrics;
use crate::secret::Secret;
use crate::store::Store;
use crate::store::deliveries::NewDelivery;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use std::sync::Arc;
use tracing::Instrument;

/// What the webhook routes need.
pub struct Ingress {
    /// Where verified deliveries are stored.
    pub inbox: Inbox,
    /// Secrets `/webhooks/github` accepts.
    pub github_secrets: Vec<Secret>,
    /// Secrets `/webhooks/gitea` accepts.
    pub gitea_secrets: Vec<Secret>,
    /// Largest body accepted.
    pub max_body_bytes: usize,
    /// How long a body may take to arrive.
    pub body_timeout: std::time::Duration,
    /// The limits on requests whose signature is not checked yet.
    pub door: Door,
    /// The store the audit log records in.
    pub store: Store,
    /// Where the refusal of an address over its failure limit is recorded (docs/audit.md).
    pub audit: Arc<AuditLog>,
    /// Counters for `/metrics`.
    pub metrics: Arc<Metrics>,
    /// The clock deliveries are stamped with.
    pub clock: Arc<dyn Clock>,
}

/// The webhook routes, one per forge dialect.
pub fn routes(ingress: Arc<Ingress>) -> Router {
    Router::new()
        .route(
            "/webhooks/github",
            post(|State(ingress), request| webhook(ForgeKind::Github, ingress, request)),
        )
        .route(
            "/webhooks/gitea",
            post(|State(ingress), request| webhook(ForgeKind::Gitea, ingress, request)),
        )
        .with_state(ingress)
}

/// A request to the webhook route of `forge`: verified at the door, then stored.
async fn webhook(forge: ForgeKind, ingress: Arc<Ingress>, request: Request) -> Response {
    match request::receive(forge, request, &ingress).await {
        Ok(delivery) => accept(&ingress, delivery).await,
        Err(refusal) => refusal.into_response(),
    }
}

async fn accept(ingress: &Ingress, delivery: VerifiedDelivery) -> Response {
    let span = tracing::info_span!(
        "delivery",
        forge = %delivery.forge,
        delivery = %delivery.delivery_id,
        event = %delivery.event,
    );
    store(ingress, delivery).instrument(span).await
}

async fn store(ingress: &Ingress, delivery: VerifiedDelivery) -> Response {
    let forge = delivery.forge.as_str();
    let metrics = &ingress.metrics;

    if delivery.event == "ping" {
        metrics.webhook_delivery(forge, &delivery.event, "ping");
        tracing::info!("ping");
        return (
            StatusCode::OK,
            Json(serde_json::json!({ "status": "pong" })),
        )
            .into_response();
    }
    let subject = match payload::json_bytes(&delivery.content_type, &delivery.body)
        .and_then(|json| payload::subject(&json))
    {
        Ok(subject) => subject,
        Err(error) => {
            let refusal = match error {
                payload::PayloadError::UnsupportedMediaType(_) => Refusal::new(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    error.to_string(),
                    "unsupported_media_type",
                ),
                _ => Refusal::bad_request(error.to_string()),
            };
            metrics.webhook_delivery(forge, &delivery.event, refusal.outcome);
            tracing::warn!(reason = %refusal.reason, "refused webhook body");
            return refusal.into_response();
        }
    };
    let ordering_key = inbox::ordering_key(
        delivery.forge,
        subject.repository.as_deref(),
        subject.installation,
    );
    let new = NewDelivery {
        forge: delivery.forge,
        delivery_id: delivery.delivery_id.clone(),
        event: delivery.event.clone(),
        event_type: delivery.event_type.clone(),
        repository: subject.repository,
        content_type: delivery.content_type,
        body: delivery.body.to_vec(),
        received_at: ingress.clock.now_ms(),
    };
    match ingress.inbox.store(new, ordering_key).await {
        Ok(Stored::New(id)) => {
            metrics.webhook_delivery(forge, &delivery.event, "accepted");
            tracing::info!(id, "stored delivery");
            let body =
                serde_json::json!({ "status": "accepted", "delivery": delivery.delivery_id });
            (StatusCode::ACCEPTED, Json(body)).into_response()
        }
        Ok(Stored::Duplicate) => {
            metrics.webhook_delivery(forge, &delivery.event, "duplicate");
            tracing::info!("duplicate delivery; already stored");
            let body =
                serde_json::json!({ "status": "duplicate", "delivery": delivery.delivery_id });
            (StatusCode::OK, Json(body)).into_response()
        }
        Err(error) => {
            metrics.webhook_delivery(forge, &delivery.event, "unavailable");
            tracing::error!(%error, "could not store delivery");
            let body = serde_json::json!({ "error": "ade could not store the delivery; deliver it again later" });
            (
                StatusCode::SERVICE_UNAVAILABLE,
                [("retry-after", "30")],
                Json(body),
            )
                .into_response()
        }
    }
}
