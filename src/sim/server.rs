//! The HTTP side put together: the dialect's API routes, git over HTTP as the fallback, the
//! `/_sim/` control routes, and one layer in front of the API and git that records every call
//! and applies injected faults.

use super::calls::{ApiCall, response_text};
use super::core::Sim;
use super::faults::Fault;
use super::http::{ApiError, presented_token};
use super::{control, gitea, github, http_backend};
use crate::forge::ForgeKind;
use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use http_body_util::BodyExt;
use std::sync::Arc;
use std::time::Duration;

/// The largest API request body kept in memory (git bodies stream and are not limited here).
const MAX_API_BODY: usize = 32 * 1024 * 1024;

/// The whole router for one simulator.
pub fn router(sim: Arc<Sim>) -> Router {
    let api = match sim.kind {
        ForgeKind::Github => github::router(),
        ForgeKind::Gitea => gitea::router().layer(middleware::from_fn_with_state(
            Arc::clone(&sim),
            gitea::documented::layer,
        )),
    };
    let api = api
        .merge(super::oauth::router())
        .fallback(fallback)
        .layer(middleware::from_fn_with_state(Arc::clone(&sim), traffic));
    Router::new()
        .nest("/_sim", control::router())
        .merge(api)
        .with_state(sim)
}

async fn fallback(State(sim): State<Arc<Sim>>, request: Request) -> Response {
    if http_backend::git_repo_of(request.uri().path()).is_some() {
        return http_backend::serve(sim, request).await;
    }
    ApiError::not_found(&sim).into_response()
}

/// Records the call, applies the first matching fault, and adds GitHub's rate-limit headers.
async fn traffic(State(sim): State<Arc<Sim>>, request: Request, next: Next) -> Response {
    let method = request.method().to_string();
    let path = request.uri().path().to_owned();
    let query = request.uri().query().unwrap_or("").to_owned();
    let at_ms = sim.now();
    let is_git = http_backend::git_repo_of(&path).is_some();
    let (request, body) = if is_git {
        (request, None)
    } else {
        let (parts, body) = request.into_parts();
        let bytes = match http_body_util::Limited::new(body, MAX_API_BODY)
            .collect()
            .await
        {
            Ok(collected) => collected.to_bytes(),
            Err(_) => {
                return ApiError::new(&sim, StatusCode::PAYLOAD_TOO_LARGE, "body too large")
                    .into_response();
            }
        };
        let text = (!bytes.is_empty()).then(|| String::from_utf8_lossy(&bytes).into_owned());
        (Request::from_parts(parts, Body::from(bytes)), text)
    };
    let installation_token = presented_token(request.headers(), None).and_then(|(_, token)| {
        let state = sim.state();
        state.installation_tokens.get(&token).map(|t| t.serial)
    });
    let fault = sim.faults.take(&method, &path);
    let mut response = super::webhooks::from_api(async {
        match &fault {
            Some(Fault::AnswerLost { .. }) | None => next.run(request).await,
            Some(fault) => apply(&sim, fault, request, next).await,
        }
    })
    .await;
    if sim.kind == ForgeKind::Github && !response.headers().contains_key("x-ratelimit-remaining") {
        let reset = (sim.now() / 1000 + 3600).to_string();
        let headers = response.headers_mut();
        headers.insert("x-ratelimit-limit", HeaderValue::from_static("5000"));
        headers.insert("x-ratelimit-remaining", HeaderValue::from_static("4999"));
        headers.insert("x-ratelimit-used", HeaderValue::from_static("1"));
        headers.insert("x-ratelimit-resource", HeaderValue::from_static("core"));
        if let Ok(value) = HeaderValue::from_str(&reset) {
            headers.insert("x-ratelimit-reset", value);
        }
    }
    let (response, answer, response_truncated) = if is_git {
        (response, None, false)
    } else {
        keep_answer(response, sim.calls.response_limit()).await
    };
    sim.calls.push(ApiCall {
        seq: 0,
        method,
        path,
        query,
        git: is_git,
        status: response.status().as_u16(),
        body,
        response: answer,
        response_truncated,
        fault: fault.as_ref().map(Fault::describe),
        installation_token,
        at_ms,
    });
    match fault {
        // Recorded first: the forge acted, whether or not the caller is still waiting.
        Some(Fault::AnswerLost { status, hold }) => lose(status, hold).await,
        _ => response,
    }
}

/// What the caller of a call whose answer was lost gets instead, after `hold`: a proxy's bare
/// error page, not the forge's.
async fn lose(status: u16, hold: Duration) -> Response {
    tokio::time::sleep(hold.min(Duration::from_secs(600))).await;
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY);
    (status, "the answer was lost on its way back (injected)").into_response()
}

/// Reads an API answer (always small and already in memory) so the call record can keep its
/// text, and rebuilds it unchanged.
async fn keep_answer(response: Response, limit: usize) -> (Response, Option<String>, bool) {
    let (parts, body) = response.into_parts();
    let bytes = match body.collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => {
            return (
                StatusCode::INTERNAL_SERVER_ERROR.into_response(),
                None,
                false,
            );
        }
    };
    let content_type = parts
        .headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    let (text, truncated) = response_text(content_type, &bytes, limit);
    (
        Response::from_parts(parts, Body::from(bytes)),
        text,
        truncated,
    )
}

async fn apply(sim: &Sim, fault: &Fault, request: Request, next: Next) -> Response {
    match fault {
        Fault::Status(status) => {
            let status = StatusCode::from_u16(*status).unwrap_or(StatusCode::BAD_GATEWAY);
            let message = match sim.kind {
                ForgeKind::Github => "Server Error",
                ForgeKind::Gitea => "internal server error (injected)",
            };
            ApiError::new(sim, status, message).into_response()
        }
        Fault::Refuse { status, message } => {
            let status = StatusCode::from_u16(*status).unwrap_or(StatusCode::CONFLICT);
            ApiError::new(sim, status, message).into_response()
        }
        Fault::RateLimit { reset_after } => {
            let reset = sim.now() / 1000 + reset_after.as_secs() as i64;
            ApiError::new(
                sim,
                StatusCode::FORBIDDEN,
                "API rate limit exceeded for installation.",
            )
            .with_header("x-ratelimit-limit", "5000".into())
            .with_header("x-ratelimit-remaining", "0".into())
            .with_header("x-ratelimit-used", "5000".into())
            .with_header("x-ratelimit-reset", reset.to_string())
            .with_header("x-ratelimit-resource", "core".into())
            .into_response()
        }
        Fault::SecondaryRateLimit {
            status,
            retry_after,
        } => {
            let status = StatusCode::from_u16(*status).unwrap_or(StatusCode::TOO_MANY_REQUESTS);
            ApiError::new(
                sim,
                status,
                "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.",
            )
            .with_header("retry-after", retry_after.as_secs().to_string())
            .into_response()
        }
        Fault::Delay(delay) => {
            tokio::time::sleep(*delay).await;
            next.run(request).await
        }
        Fault::Timeout(hold) => {
            tokio::time::sleep((*hold).min(Duration::from_secs(600))).await;
            ApiError::new(sim, StatusCode::GATEWAY_TIMEOUT, "held until timeout").into_response()
        }
        Fault::AnswerLost { .. } => next.run(request).await,
        Fault::Rewrite { pointer, value } => {
            rewritten(next.run(request).await, pointer, value).await
        }
    }
}

/// `response` with the JSON value at `pointer` replaced by `value` (JSON text); an answer that is
/// not JSON, or has nothing at `pointer`, goes out unchanged.
async fn rewritten(response: Response, pointer: &str, value: &str) -> Response {
    let (mut parts, body) = response.into_parts();
    let Ok(collected) = body.collect().await else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    let bytes = collected.to_bytes();
    let changed = serde_json::from_slice::<serde_json::Value>(&bytes)
        .ok()
        .zip(serde_json::from_str::<serde_json::Value>(value).ok())
        .and_then(|(mut answer, value)| {
            *answer.pointer_mut(pointer)? = value;
            serde_json::to_vec(&answer).ok()
        });
    match changed {
        Some(changed) => {
            parts.headers.remove(axum::http::header::CONTENT_LENGTH);
            Response::from_parts(parts, Body::from(changed))
        }
        None => Response::from_parts(parts, Body::from(bytes)),
    }
}
