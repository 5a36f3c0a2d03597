//! ade's own HTTP routes besides the webhooks: health and readiness for operators, metrics
//! ([`metrics`]), run logs behind signed links ([`logs`]), and the accept loop that serves them
//! all ([`serve`]).

pub mod api;
pub mod config;
pub mod html;
pub mod lineage;
pub mod logs;
pub mod metrics;
pub mod pages;
pub mod runlog;
pub mod serve;
pub mod signin;
pub mod token;

pub use config::{OAuthClient, WebConfig};
pub use metrics::MetricsConfig;

use crate::metrics::Metrics;
use crate::store::Store;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use std::sync::Arc;

/// The id a path names (`/goals/12`): digits only, no sign or spaces, so that `+12` or `012 `
/// is no other name for the same page.
pub fn path_id(text: &str) -> Option<i64> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// What the operator routes read.
#[derive(Clone)]
pub struct Operations {
    /// The store, for readiness and queue depth.
    pub store: Store,
    /// The counters to expose.
    pub metrics: Arc<Metrics>,
}

/// `GET /healthz`, `GET /readyz`. `/metrics` is [`metrics::routes`], which the service puts on
/// this listener or on one of its own.
pub fn routes(ops: Operations) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .with_state(ops)
}

/// The process is up and serving HTTP.
async fn healthz() -> &'static str {
    "ok\n"
}

/// The database answers; a load balancer should send no traffic otherwise.
async fn readyz(State(ops): State<Operations>) -> Response {
    match ops.store.ping().await {
        Ok(()) => (StatusCode::OK, "ready\n").into_response(),
        Err(error) => {
            tracing::warn!(%error, "not ready: database unreachable");
            (StatusCode::SERVICE_UNAVAILABLE, "database unreachable\n").into_response()
        }
    }
}
