//! `/signin`, `/signin/{forge}`, its callback and `/signout`. Starting a sign-in sets a short-lived
//! cookie holding the OAuth `state`, the PKCE verifier and the page to return to; the callback
//! accepts only a `state` equal to that cookie's, so a forged or replayed callback signs nobody
//! in. Signing in and out are audited.

use super::oauth::{self, OAuthError};
use super::{Signin, cookie, local_path, session_cookie, signin_cookie};
use crate::forge::ForgeKind;
use crate::store::audit::{ActorKind, Entry, Outcome};
use crate::store::web_sessions::{self, NewSession};
use crate::web::html;
use crate::web::token;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::json;
use std::collections::HashMap;

/// How long a user may take at the forge before the sign-in must start again.
const SIGNIN_TTL_SECS: u64 = 600;

/// The sign-in routes.
pub fn routes(signin: Signin) -> Router {
    Router::new()
        .route("/signin", get(choose))
        .route("/signin/{forge}", get(start))
        .route("/signin/{forge}/callback", get(callback))
        .route("/signout", post(signout))
        .with_state(signin)
}

fn query_params(query: Option<&str>) -> HashMap<String, String> {
    form_urlencoded::parse(query.unwrap_or("").as_bytes())
        .into_owned()
        .collect()
}

fn forge_title(forge: ForgeKind) -> &'static str {
    match forge {
        ForgeKind::Github => "GitHub",
        ForgeKind::Gitea => "Gitea or Forgejo",
    }
}

/// `GET /signin?to=`: the forges a user may sign in with.
async fn choose(State(signin): State<Signin>, RawQuery(query): RawQuery) -> Response {
    let to = local_path(query_params(query.as_deref()).get("to").map_or("/", |v| v));
    let mut back = form_urlencoded::Serializer::new(String::new());
    back.append_pair("to", &to);
    let back = back.finish();
    let forges: Vec<_> = signin
        .config
        .clients
        .iter()
        .map(|client| {
            json!({
                "name": client.forge.as_str(),
                "title": forge_title(client.forge),
                "href": format!("/signin/{}?{back}", client.forge.as_str()),
            })
        })
        .collect();
    html::page("signin.html", json!({ "forges": forges, "signin": false }))
}

/// `GET /signin/{forge}?to=`: off to the forge's authorize page.
async fn start(
    State(signin): State<Signin>,
    Path(forge): Path<String>,
    RawQuery(query): RawQuery,
) -> Response {
    let Some(client) = ForgeKind::parse(&forge).and_then(|kind| signin.config.client(kind)) else {
        return html::message(
            StatusCode::NOT_FOUND,
            "No such sign-in",
            "This ade does not sign users in with that forge.",
        );
    };
    let to = local_path(query_params(query.as_deref()).get("to").map_or("/", |v| v));
    let (Ok(state), Ok(verifier)) = (token::mint(""), token::mint("")) else {
        return html::message(
            StatusCode::SERVICE_UNAVAILABLE,
            "Sign-in failed",
            "The operating system's random generator failed; try again.",
        );
    };
    let carried = format!(
        "{state}.{verifier}.{}",
        URL_SAFE_NO_PAD.encode(to.as_bytes())
    );
    let redirect_uri = redirect_uri(&signin, client.forge);
    let secure = signin.config.secure_cookies;
    let set = cookie::set(
        signin_cookie(secure),
        &carried,
        "/signin",
        SIGNIN_TTL_SECS,
        signin.config.secure_cookies,
    );
    let mut response = Redirect::to(&oauth::authorize_url(
        client,
        &redirect_uri,
        &state,
        &verifier,
    ))
    .into_response();
    append_cookie(&mut response, &set);
    response
}

fn redirect_uri(signin: &Signin, forge: ForgeKind) -> String {
    let base = signin.config.public_url.as_deref().unwrap_or("");
    format!("{base}/signin/{}/callback", forge.as_str())
}

fn append_cookie(response: &mut Response, value: &str) {
    if let Ok(value) = HeaderValue::from_str(value) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
}

fn failed(signin: &Signin, status: StatusCode, text: &str) -> Response {
    let mut response = html::page_with(
        status,
        "message.html",
        json!({
            "title": "Sign-in failed",
            "text": text,
            "link": { "href": "/signin", "text": "Sign in again" },
        }),
    );
    let secure = signin.config.secure_cookies;
    append_cookie(
        &mut response,
        &cookie::set(signin_cookie(secure), "", "/signin", 0, secure),
    );
    response
}

/// `GET /signin/{forge}/callback?code=&state=`: the forge sends the browser back; ade trades the
/// code, learns the login, and starts a session.
async fn callback(
    State(signin): State<Signin>,
    Path(forge): Path<String>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let Some(client) = ForgeKind::parse(&forge).and_then(|kind| signin.config.client(kind)) else {
        return failed(
            &signin,
            StatusCode::NOT_FOUND,
            "This ade does not sign users in with that forge.",
        );
    };
    let params = query_params(query.as_deref());
    let secure = signin.config.secure_cookies;
    let carried = cookie::value(&headers, signin_cookie(secure)).and_then(|value| {
        let mut parts = value.splitn(3, '.');
        let (state, verifier, to) = (parts.next()?, parts.next()?, parts.next()?);
        // Both were minted by `start`: anything else was planted.
        if !token::well_formed("", state) || !token::well_formed("", verifier) {
            return None;
        }
        let to = String::from_utf8(URL_SAFE_NO_PAD.decode(to).ok()?).ok()?;
        Some((state.to_owned(), verifier.to_owned(), local_path(&to)))
    });
    let Some((state, verifier, to)) = carried else {
        return failed(
            &signin,
            StatusCode::BAD_REQUEST,
            "This sign-in was not started in this browser, or took longer than ten minutes.",
        );
    };
    let presented = params.get("state").map_or("", String::as_str);
    if !token::same(&state, presented) {
        return failed(
            &signin,
            StatusCode::BAD_REQUEST,
            "This answer does not belong to the sign-in this browser started.",
        );
    }
    if params.contains_key("error") {
        return failed(
            &signin,
            StatusCode::FORBIDDEN,
            &format!(
                "{} did not authorize the sign-in.",
                forge_title(client.forge)
            ),
        );
    }
    let Some(code) = params.get("code").filter(|code| !code.is_empty()) else {
        return failed(
            &signin,
            StatusCode::BAD_REQUEST,
            "The forge sent no code back.",
        );
    };
    let redirect_uri = redirect_uri(&signin, client.forge);
    let login = match oauth::sign_in(&signin.http, client, code, &redirect_uri, &verifier).await {
        Ok(login) => login,
        Err(error) => {
            tracing::warn!(forge = client.forge.as_str(), %error, "a sign-in failed");
            let status = match error {
                OAuthError::Refused { .. } => StatusCode::FORBIDDEN,
                _ => StatusCode::BAD_GATEWAY,
            };
            return failed(&signin, status, &error.to_string());
        }
    };
    match start_session(&signin, client.forge, &login).await {
        Ok(secret) => {
            let mut response = Redirect::to(&to).into_response();
            append_cookie(
                &mut response,
                &cookie::set(
                    session_cookie(secure),
                    &secret,
                    "/",
                    signin.config.session_ttl.as_secs(),
                    signin.config.secure_cookies,
                ),
            );
            append_cookie(
                &mut response,
                &cookie::set(signin_cookie(secure), "", "/signin", 0, secure),
            );
            response
        }
        Err(error) => {
            tracing::error!(%error, "could not store a session");
            failed(
                &signin,
                StatusCode::SERVICE_UNAVAILABLE,
                "ade could not record the sign-in just now; try again shortly.",
            )
        }
    }
}

/// Stores a new session and audits it; returns the cookie's secret.
async fn start_session(signin: &Signin, forge: ForgeKind, login: &str) -> anyhow::Result<String> {
    let secret = token::mint(token::SESSION)?;
    let csrf = token::mint("")?;
    let now = signin.clock.now_ms();
    let ttl_ms = i64::try_from(signin.config.session_ttl.as_millis()).unwrap_or(i64::MAX);
    let mut conn = signin.store.writer().await?;
    let id = web_sessions::insert(
        &mut conn,
        &NewSession {
            hash: &token::hash(&secret),
            forge,
            login,
            csrf: &csrf,
            expires_at: now.saturating_add(ttl_ms),
        },
        now,
    )
    .await?;
    drop(conn);
    let entry = Entry::new(
        now,
        ActorKind::User,
        login,
        "web.signin",
        format!("session {id}"),
        Outcome::Ok,
    )
    .with("forge", forge.as_str().to_owned());
    signin.audit.record_now(&signin.store, &[entry]).await?;
    Ok(secret)
}

/// `POST /signout` with the session's `csrf`: ends the session.
async fn signout(State(signin): State<Signin>, headers: HeaderMap, body: Bytes) -> Response {
    let user = match signin.session(&headers).await {
        Ok(Some(user)) => user,
        Ok(None) => return Redirect::to("/signin").into_response(),
        Err(error) => return super::NoViewer::Store(error).into_response(),
    };
    let form = query_params(std::str::from_utf8(&body).ok());
    if !user.csrf_matches(form.get("csrf").map_or("", String::as_str)) {
        return html::message(
            StatusCode::FORBIDDEN,
            "Refused",
            "This form did not come from your session's page; nothing was done.",
        );
    }
    let now = signin.clock.now_ms();
    let ended = match signin.store.writer().await {
        Ok(mut conn) => web_sessions::end(&mut conn, user.session, now).await,
        Err(error) => Err(error),
    };
    if let Err(error) = ended {
        return super::NoViewer::Store(error).into_response();
    }
    let entry = Entry::new(
        now,
        ActorKind::User,
        user.login.as_str(),
        "web.signout",
        format!("session {}", user.session),
        Outcome::Ok,
    )
    .with("forge", user.forge.as_str().to_owned());
    if let Err(error) = signin.audit.record_now(&signin.store, &[entry]).await {
        tracing::error!(%error, "could not audit a sign-out");
    }
    let mut response = Redirect::to("/signin").into_response();
    append_cookie(
        &mut response,
        &cookie::set(
            session_cookie(signin.config.secure_cookies),
            "",
            "/",
            0,
            signin.config.secure_cookies,
        ),
    );
    response
}
