//! Who is looking at the dashboard (docs/dashboard.md): a user signed in through a forge's OAuth
//! ([`oauth`], [`routes`]), known by a session cookie whose SHA-256 the database keeps, or anyone
//! when the operator made reading public. Every request reads the session again, so signing out
//! or a session's expiry takes effect at once; every form carries the session's CSRF token.

pub mod cookie;
pub mod oauth;
pub mod routes;

use crate::audit::AuditLog;
use crate::clock::Clock;
use crate::forge::ForgeKind;
use crate::store::{Store, web_sessions};
use crate::web::WebConfig;
use crate::web::token;
use axum::extract::{FromRef, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use std::sync::Arc;

/// What sign-in and sessions need.
#[derive(Clone)]
pub struct Signin {
    /// Where sessions are kept.
    pub store: Store,
    /// Tells sessions' expiry.
    pub clock: Arc<dyn Clock>,
    /// `[web]`.
    pub config: Arc<WebConfig>,
    /// Talks to the forges' OAuth endpoints.
    pub http: reqwest::Client,
    /// Records sign-ins and sign-outs.
    pub audit: Arc<AuditLog>,
}

/// The name of the session cookie: with the `__Host-` prefix when cookies are `Secure`, so that no
/// other host of the domain can plant one (browsers refuse such a cookie without `Secure`,
/// `Path=/` and no `Domain`).
pub fn session_cookie(secure: bool) -> &'static str {
    if secure {
        "__Host-ade_session"
    } else {
        "ade_session"
    }
}

/// The name of the cookie that carries a sign-in from its start to its callback.
pub fn signin_cookie(secure: bool) -> &'static str {
    if secure {
        "__Secure-ade_signin"
    } else {
        "ade_signin"
    }
}

/// Someone reading a page.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Viewer {
    /// A user signed in through a forge.
    User(SignedIn),
    /// Anyone, on a dashboard the operator made public; they may read, not act.
    Public,
}

/// A signed-in user's session.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedIn {
    /// The session's id.
    pub session: i64,
    /// The forge they signed in with: they see that forge's repositories only.
    pub forge: ForgeKind,
    /// Their login there.
    pub login: String,
    /// What their forms must carry.
    pub csrf: String,
}

impl Viewer {
    /// The signed-in user, if any.
    pub fn user(&self) -> Option<&SignedIn> {
        match self {
            Viewer::User(user) => Some(user),
            Viewer::Public => None,
        }
    }
}

impl SignedIn {
    /// Whether a form's `csrf` field is this session's token: compared in constant time, so
    /// that the comparison's duration tells nothing.
    pub fn csrf_matches(&self, presented: &str) -> bool {
        token::same(&self.csrf, presented)
    }
}

/// Why a request has no viewer.
#[derive(Debug)]
pub enum NoViewer {
    /// Nobody is signed in on a dashboard that is not public: sign in, then come back to `to`.
    SignInFirst {
        /// The page asked for.
        to: String,
    },
    /// The sessions could not be read.
    Store(crate::store::StoreError),
}

impl IntoResponse for NoViewer {
    fn into_response(self) -> Response {
        match self {
            NoViewer::SignInFirst { to } => {
                let mut query = form_urlencoded::Serializer::new(String::new());
                query.append_pair("to", &to);
                Redirect::to(&format!("/signin?{}", query.finish())).into_response()
            }
            NoViewer::Store(error) => {
                tracing::error!(%error, "could not read the dashboard's sessions");
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    [(header::RETRY_AFTER, "5")],
                    "ade cannot read its database just now; try again shortly\n",
                )
                    .into_response()
            }
        }
    }
}

impl<S> FromRequestParts<S> for Viewer
where
    Signin: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = NoViewer;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Viewer, NoViewer> {
        let signin = Signin::from_ref(state);
        if let Some(user) = signin
            .session(&parts.headers)
            .await
            .map_err(NoViewer::Store)?
        {
            return Ok(Viewer::User(user));
        }
        if signin.config.public {
            return Ok(Viewer::Public);
        }
        Err(NoViewer::SignInFirst {
            to: local_path(
                parts
                    .uri
                    .path_and_query()
                    .map(|p| p.as_str())
                    .unwrap_or("/"),
            ),
        })
    }
}

impl Signin {
    /// The live session the request's cookie names, if any.
    pub async fn session(
        &self,
        headers: &HeaderMap,
    ) -> Result<Option<SignedIn>, crate::store::StoreError> {
        let Some(presented) = cookie::value(headers, session_cookie(self.config.secure_cookies))
        else {
            return Ok(None);
        };
        if !token::well_formed(token::SESSION, presented) {
            return Ok(None);
        }
        let mut conn = self.store.reader().await?;
        let row = web_sessions::by_hash(&mut conn, &token::hash(presented)).await?;
        drop(conn);
        let now = self.clock.now_ms();
        Ok(row
            .filter(|row| row.ended_at.is_none() && row.expires_at > now)
            .map(|row| SignedIn {
                session: row.id,
                forge: row.forge,
                login: row.login,
                csrf: row.csrf,
            }))
    }
}

/// `to` if it is a path on this site, else `/`: a sign-in never sends a browser elsewhere.
pub fn local_path(to: &str) -> String {
    let local = to.starts_with('/')
        && !to.starts_with("//")
        && !to.starts_with("/\\")
        && to.len() <= 2048
        && to.bytes().all(|b| b.is_ascii_graphic());
    if local { to.to_owned() } else { "/".to_owned() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_path_on_this_site_is_a_place_to_return_to() {
        assert_eq!(local_path("/goals/3?x=1"), "/goals/3?x=1");
        for elsewhere in [
            "https://evil.example/",
            "//evil.example/",
            "/\\evil.example",
            "goals",
            "/a b",
            "/\u{0}",
            "",
        ] {
            assert_eq!(local_path(elsewhere), "/", "{elsewhere:?}");
        }
    }

    #[test]
    fn a_csrf_token_matches_only_itself() {
        let user = SignedIn {
            session: 1,
            forge: ForgeKind::Github,
            login: "mia".into(),
            csrf: "abc".into(),
        };
        assert!(user.csrf_matches("abc"));
        assert!(!user.csrf_matches("abd"));
        assert!(!user.csrf_matches("ab"));
        assert!(!user.csrf_matches(""));
    }
}
