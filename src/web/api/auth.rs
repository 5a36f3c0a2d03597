//! Who may call the API: the bearer of a token `ade tokens create` made, unexpired and not
//! revoked, or a browser with a dashboard session (who then reads what the dashboard shows
//! them). Checked on every request, against the database, so a revoked token or an ended
//! session stops working at once.

use super::Api;
use super::error::ApiError;
use crate::store::api_tokens;
use crate::web::token;
use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;

/// A caller who may read: every `GET` route takes one.
#[derive(Clone, Debug)]
pub enum Reader {
    /// The bearer of API token `id`: an operator's, reading every goal.
    Token(i64),
    /// A browser with a dashboard session, or anyone on a public dashboard: reads what the
    /// dashboard's pages show the same viewer.
    Viewer(crate::web::signin::Viewer),
}

/// How often a token's `last_used_at` is written: reads stay reads in between.
const NOTE_USE_EVERY_MS: i64 = 60_000;

impl FromRequestParts<Api> for Reader {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, api: &Api) -> Result<Reader, ApiError> {
        if !parts.headers.contains_key(header::AUTHORIZATION) {
            let signin = &api.dashboard.signin;
            if let Some(user) = signin.session(&parts.headers).await? {
                return Ok(Reader::Viewer(crate::web::signin::Viewer::User(user)));
            }
        }
        Ok(Reader::Token(bearer(parts, api).await?))
    }
}

/// Checks the request's bearer token; returns the token's id. Every scope may read; no route
/// acts yet, so none checks for `write`.
async fn bearer(parts: &Parts, api: &Api) -> Result<i64, ApiError> {
    let value = parts.headers.get(header::AUTHORIZATION).ok_or_else(|| {
        ApiError::unauthorized(
            "an API token is required: Authorization: Bearer ade_… (or a dashboard session)",
        )
    })?;
    let value = value
        .to_str()
        .map_err(|_| ApiError::unauthorized("the Authorization header is not a bearer token"))?;
    let presented = match value.split_once(' ') {
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("bearer") => rest.trim(),
        _ => {
            return Err(ApiError::unauthorized(
                "the Authorization header is not a bearer token",
            ));
        }
    };
    if !token::well_formed(token::API, presented) {
        return Err(ApiError::unauthorized("this is not an ade API token"));
    }
    let mut conn = api.store.reader().await?;
    let row = api_tokens::by_hash(&mut conn, &token::hash(presented))
        .await?
        .ok_or_else(|| ApiError::unauthorized("unknown API token"))?;
    drop(conn);
    let now = api.clock.now_ms();
    if row.revoked_at.is_some() {
        return Err(ApiError::unauthorized("this API token was revoked"));
    }
    if row.expires_at <= now {
        return Err(ApiError::unauthorized("this API token has expired"));
    }
    let not_since = now - NOTE_USE_EVERY_MS;
    if row.last_used_at.is_none_or(|last| last < not_since) {
        // Best effort: a busy write connection must not fail a read.
        let noted = match api.store.writer().await {
            Ok(mut conn) => api_tokens::used(&mut conn, row.id, now, not_since).await,
            Err(error) => Err(error),
        };
        if let Err(error) = noted {
            tracing::warn!(%error, token = row.id, "could not note an API token's use");
        }
    }
    Ok(row.id)
}
