//! The REST API under `/api/v1` (docs/api.md): ade's goals with their spec versions, tasks, runs
//! and approvals, as JSON, for scripts and dashboards. Every request carries a bearer token that
//! `ade tokens create` made ([`auth`], [`crate::web::token`]), or the dashboard's session cookie;
//! lists come newest first, a page at a time.

pub mod auth;
pub mod error;
pub mod goals;
pub mod openapi;
pub mod params;

use crate::clock::Clock;
use crate::store::Store;
use axum::Router;
use axum::routing::get;
use std::sync::Arc;

/// What the API routes read.
#[derive(Clone)]
pub struct Api {
    /// Where goals, runs and tokens are recorded.
    pub store: Store,
    /// Tells tokens' expiry.
    pub clock: Arc<dyn Clock>,
    /// The dashboard, whose signed-in users read the API with their session and see what they
    /// see on its pages.
    pub dashboard: crate::web::pages::Dashboard,
}

/// Every `/api/v1` route; any other path under it is a JSON 404.
pub fn routes(api: Api) -> Router {
    let v1 = Router::new()
        .route("/goals", get(goals::list))
        .route("/goals/{id}", get(goals::one))
        .fallback(|| async { error::ApiError::not_found() })
        .method_not_allowed_fallback(|| async { error::ApiError::method_not_allowed() });
    Router::new().nest("/api/v1", v1).with_state(api)
}
