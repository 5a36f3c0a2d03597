//! ade's own HTTP routes besides the webhooks: health, readiness and metrics for operators, run
//! logs behind signed links ([`logs`]), and the accept loop that serves them all ([`serve`]).

pub mod logs;
pub mod serve;

use crate::metrics::{Gauge, Metrics};
use crate::store::{Store, deliveries, jobs, runs};
use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use std::sync::Arc;

/// What the operator routes read.
#[derive(Clone)]
pub struct Operations {
    /// The store, for readiness and queue depth.
    pub store: Store,
    /// The counters to expose.
    pub metrics: Arc<Metrics>,
}

/// `GET /healthz`, `GET /readyz`, `GET /metrics`.
pub fn routes(ops: Operations) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
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

async fn metrics(State(ops): State<Operations>) -> Response {
    let gauges = match read_gauges(&ops.store).await {
        Ok(gauges) => gauges,
        Err(error) => {
            tracing::warn!(%error, "metrics: could not read queue depth");
            Vec::new()
        }
    };
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        ops.metrics.render(&gauges),
    )
        .into_response()
}

async fn read_gauges(store: &Store) -> Result<Vec<Gauge>, crate::store::StoreError> {
    let mut conn = store.reader().await?;
    let depth = jobs::depth(&mut conn).await?;
    let by_state = deliveries::count_backlog(&mut conn).await?;
    let held = runs::count_held(&mut conn).await?;
    Ok(vec![
        Gauge {
            name: "ade_jobs",
            help: "Jobs waiting, running or failed, by kind and state.",
            values: depth
                .into_iter()
                .map(|(kind, state, n)| (vec![("kind", kind), ("state", state)], n))
                .collect(),
        },
        Gauge {
            name: "ade_deliveries",
            help: "Stored deliveries waiting to be handled (pending) or failed for good.",
            values: by_state
                .into_iter()
                .map(|(state, n)| (vec![("state", state.as_str().to_string())], n))
                .collect(),
        },
        Gauge {
            name: "ade_runs_held",
            help: "Runs the runner's setup could not start, waiting to be tried again (docs/runner.md).",
            values: vec![(Vec::new(), held)],
        },
    ])
}
