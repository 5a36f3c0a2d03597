//! The forges' OAuth web flow, as ade's dashboard signs users in with it (docs/dashboard.md):
//! `GET /login/oauth/authorize` shows a page that asks who is signing in, its form answers with
//! a redirect carrying a one-time code, and `POST /login/oauth/access_token` trades the code for
//! the user's token. GitHub answers token errors with 200 and an `error` field, Gitea and Forgejo
//! with 400; both check the client secret, the redirect address and a PKCE verifier when the
//! authorization carried a challenge.

use super::core::Sim;
use crate::forge::ForgeKind;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use base64::Engine as _;
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::Arc;

/// An OAuth application registered on the simulated forge.
#[derive(Clone, Debug, Serialize)]
pub struct OAuthApp {
    /// The client id.
    pub client_id: String,
    /// The client secret.
    #[serde(skip)]
    pub client_secret: String,
    /// Where the forge sends users back to: exactly this address.
    pub redirect_uri: String,
}

/// A code the authorize step handed out, until it is traded or expires.
#[derive(Clone, Debug)]
pub struct OAuthCode {
    client_id: String,
    login: String,
    redirect_uri: String,
    challenge: Option<String>,
    expires_at: i64,
}

/// How long a code may wait to be traded (GitHub's ten minutes).
const CODE_TTL_MS: i64 = 10 * 60 * 1000;

/// The OAuth routes, at the root as both forges serve them.
pub fn router() -> Router<Arc<Sim>> {
    Router::new()
        .route("/login/oauth/authorize", get(authorize).post(decide))
        .route("/login/oauth/access_token", post(access_token))
}

fn params(query: &[u8]) -> HashMap<String, String> {
    form_urlencoded::parse(query).into_owned().collect()
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

fn refuse(message: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Html(format!("<p>{}</p>\n", escape(message))),
    )
        .into_response()
}

/// The registered app `client_id` names, when `redirect_uri` is its own.
fn app_for(sim: &Sim, client_id: &str, redirect_uri: &str) -> Result<OAuthApp, &'static str> {
    let state = sim.state();
    let app = state
        .oauth_apps
        .iter()
        .find(|app| app.client_id == client_id)
        .ok_or("no application has this client id")?;
    if app.redirect_uri != redirect_uri {
        return Err("the redirect_uri is not the application's callback address");
    }
    Ok(app.clone())
}

/// `GET /login/oauth/authorize`: the page a browser lands on, asking who signs in.
async fn authorize(State(sim): State<Arc<Sim>>, RawQuery(query): RawQuery) -> Response {
    let asked = params(query.unwrap_or_default().as_bytes());
    let field = |key: &str| asked.get(key).cloned().unwrap_or_default();
    let (client_id, redirect_uri) = (field("client_id"), field("redirect_uri"));
    if let Err(why) = app_for(&sim, &client_id, &redirect_uri) {
        return refuse(why);
    }
    if sim.kind == ForgeKind::Gitea && field("response_type") != "code" {
        return refuse("response_type must be code");
    }
    let hidden: String = [
        "client_id",
        "redirect_uri",
        "state",
        "code_challenge",
        "code_challenge_method",
    ]
    .iter()
    .map(|key| {
        format!(
            "<input type=\"hidden\" name=\"{key}\" value=\"{}\">",
            escape(&field(key))
        )
    })
    .collect();
    Html(format!(
        "<!doctype html>\n<title>Authorize</title>\n<h1>Sign in to authorize the application</h1>\n\
         <form method=\"post\" action=\"/login/oauth/authorize\">{hidden}\
         <label>Login <input id=\"login\" name=\"login\" autocomplete=\"username\"></label>\
         <button id=\"authorize\" name=\"decision\" value=\"authorize\">Authorize</button>\
         <button id=\"deny\" name=\"decision\" value=\"deny\">Cancel</button></form>\n"
    ))
    .into_response()
}

/// `POST /login/oauth/authorize`: the user's answer; back to the application with a code, or
/// with `error=access_denied`.
async fn decide(State(sim): State<Arc<Sim>>, body: Bytes) -> Response {
    let form = params(&body);
    let field = |key: &str| form.get(key).cloned().unwrap_or_default();
    let (client_id, redirect_uri, state) =
        (field("client_id"), field("redirect_uri"), field("state"));
    if let Err(why) = app_for(&sim, &client_id, &redirect_uri) {
        return refuse(why);
    }
    let mut back = form_urlencoded::Serializer::new(String::new());
    if field("decision") == "deny" {
        back.append_pair("error", "access_denied");
        back.append_pair(
            "error_description",
            "The user has denied your application access.",
        );
    } else {
        let login = field("login");
        if sim.state().user(&login).is_none() {
            return refuse("incorrect username or password");
        }
        let challenge = Some(field("code_challenge")).filter(|c| !c.is_empty());
        if challenge.is_some() && field("code_challenge_method") != "S256" {
            return refuse("code_challenge_method must be S256");
        }
        let code = super::handle::random_hex(20);
        let expires_at = sim.now() + CODE_TTL_MS;
        sim.state().oauth_codes.insert(
            code.clone(),
            OAuthCode {
                client_id,
                login,
                redirect_uri: redirect_uri.clone(),
                challenge,
                expires_at,
            },
        );
        back.append_pair("code", &code);
    }
    back.append_pair("state", &state);
    let separator = if redirect_uri.contains('?') { '&' } else { '?' };
    Redirect::to(&format!("{redirect_uri}{separator}{}", back.finish())).into_response()
}

/// `POST /login/oauth/access_token`: a code for the user's token, once.
async fn access_token(State(sim): State<Arc<Sim>>, headers: HeaderMap, body: Bytes) -> Response {
    let json_body = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    let form: HashMap<String, String> = if json_body {
        serde_json::from_slice::<HashMap<String, serde_json::Value>>(&body)
            .unwrap_or_default()
            .into_iter()
            .filter_map(|(k, v)| v.as_str().map(|v| (k, v.to_owned())))
            .collect()
    } else {
        params(&body)
    };
    let field = |key: &str| form.get(key).cloned().unwrap_or_default();
    let wants_json = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("application/json"));
    let error = |code: &str, description: &str| token_error(&sim, wants_json, code, description);
    if sim.kind == ForgeKind::Gitea && field("grant_type") != "authorization_code" {
        return error(
            "unsupported_grant_type",
            "Only refresh_token or authorization_code grant type is supported",
        );
    }
    let app = sim
        .state()
        .oauth_apps
        .iter()
        .find(|app| app.client_id == field("client_id"))
        .cloned();
    let Some(app) = app.filter(|app| app.client_secret == field("client_secret")) else {
        return match sim.kind {
            ForgeKind::Github => error(
                "incorrect_client_credentials",
                "The client_id and/or client_secret passed are incorrect.",
            ),
            ForgeKind::Gitea => error("invalid_client", "invalid client secret"),
        };
    };
    let bad_code = || match sim.kind {
        ForgeKind::Github => error(
            "bad_verification_code",
            "The code passed is incorrect or expired.",
        ),
        ForgeKind::Gitea => error("invalid_grant", "client is not authorized"),
    };
    // A code is good once, whatever the outcome of trading it.
    let Some(code) = sim.state().oauth_codes.remove(&field("code")) else {
        return bad_code();
    };
    if code.client_id != app.client_id || code.expires_at <= sim.now() {
        return bad_code();
    }
    if code.redirect_uri != field("redirect_uri") {
        return match sim.kind {
            ForgeKind::Github => error(
                "redirect_uri_mismatch",
                "The redirect_uri MUST match the registered callback URL for this application.",
            ),
            ForgeKind::Gitea => error("invalid_grant", "unexpected redirect URI"),
        };
    }
    if let Some(challenge) = &code.challenge {
        let verifier = field("code_verifier");
        let computed = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(Sha256::digest(verifier.as_bytes()));
        if verifier.is_empty() || &computed != challenge {
            return match sim.kind {
                ForgeKind::Github => bad_code(),
                ForgeKind::Gitea => error("unauthorized_client", "failed PKCE code challenge"),
            };
        }
    }
    let Some(token) = sim.state().user(&code.login).map(|user| user.token.clone()) else {
        return bad_code();
    };
    match sim.kind {
        ForgeKind::Github if !wants_json => {
            let text = form_urlencoded::Serializer::new(String::new())
                .append_pair("access_token", &token)
                .append_pair("scope", "")
                .append_pair("token_type", "bearer")
                .finish();
            (
                [(header::CONTENT_TYPE, "application/x-www-form-urlencoded")],
                text,
            )
                .into_response()
        }
        ForgeKind::Github => axum::Json(serde_json::json!({
            "access_token": token,
            "scope": "",
            "token_type": "bearer",
        }))
        .into_response(),
        ForgeKind::Gitea => axum::Json(serde_json::json!({
            "access_token": token,
            "token_type": "bearer",
            "expires_in": 3600,
            "refresh_token": super::handle::random_hex(40),
        }))
        .into_response(),
    }
}

/// A refused trade in the dialect's manner.
fn token_error(sim: &Sim, wants_json: bool, code: &str, description: &str) -> Response {
    match sim.kind {
        ForgeKind::Github if !wants_json => {
            let text = form_urlencoded::Serializer::new(String::new())
                .append_pair("error", code)
                .append_pair("error_description", description)
                .finish();
            ([(header::CONTENT_TYPE, "application/x-www-form-urlencoded")], text).into_response()
        }
        ForgeKind::Github => axum::Json(serde_json::json!({
            "error": code,
            "error_description": description,
            "error_uri": "https://docs.github.com/apps/managing-oauth-apps/troubleshooting-oauth-app-access-token-request-errors",
        }))
        .into_response(),
        ForgeKind::Gitea => (
            StatusCode::BAD_REQUEST,
            axum::Json(serde_json::json!({
                "error": code,
                "error_description": description,
            })),
        )
            .into_response(),
    }
}
