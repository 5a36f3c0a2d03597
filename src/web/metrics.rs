//! `GET /metrics`: ade's counters and the gauges read at scrape time, in the Prometheus text
//! format. Queue depths, refusals and failure counts tell an outsider a good deal about what ade
//! serves, so `[metrics]` can ask for a bearer token and give `/metrics` an address of its own,
//! off the listener the forges reach (docs/operations.md).

use super::Operations;
use crate::metrics::Gauge;
use crate::secret::Secret;
use crate::store::{Store, deliveries, jobs, runs};
use axum::Router;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::net::SocketAddr;

/// `[metrics]`: who may read `/metrics`, and where it is served.
#[derive(Clone, Debug, Default)]
pub struct MetricsConfig {
    /// The bearer token a scrape must present; `None` leaves `/metrics` open to whoever reaches
    /// its listener.
    pub token: Option<Secret>,
    /// An address of its own for `/metrics`; `None` serves it on `server.listen`.
    pub listen: Option<SocketAddr>,
}

/// The token a scrape must present, kept as a MAC so that comparing takes the same time however
/// much of a guess is right, and whatever its length.
#[derive(Clone)]
struct Token {
    mac: Vec<u8>,
}

/// What the MACs are taken of; the token is the key.
const LABEL: &[u8] = b"ade /metrics bearer token";

impl Token {
    fn new(secret: &Secret) -> Token {
        Token {
            mac: mac(secret.expose().as_bytes())
                .finalize()
                .into_bytes()
                .to_vec(),
        }
    }

    /// Whether `headers` carry `Authorization: Bearer <this token>`.
    fn admits(&self, headers: &HeaderMap) -> bool {
        let Some(presented) = headers
            .get(header::AUTHORIZATION)
            .and_then(|value| bearer(value.as_bytes()))
        else {
            return false;
        };
        mac(presented).verify_slice(&self.mac).is_ok()
    }
}

fn mac(key: &[u8]) -> Hmac<Sha256> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(LABEL);
    mac
}

/// The credentials of a `Bearer` authorization (the scheme's name is case-insensitive).
fn bearer(value: &[u8]) -> Option<&[u8]> {
    let (scheme, rest) = value.split_at_checked(7)?;
    if !scheme.eq_ignore_ascii_case(b"bearer ") {
        return None;
    }
    let token = rest.trim_ascii();
    (!token.is_empty()).then_some(token)
}

#[derive(Clone)]
struct Scrape {
    ops: Operations,
    token: Option<Token>,
}

/// `GET /metrics`, asking for `token` as a bearer token when one is set.
pub fn routes(ops: Operations, token: Option<&Secret>) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .with_state(Scrape {
            ops,
            token: token.map(Token::new),
        })
}

async fn metrics(State(scrape): State<Scrape>, request: Request) -> Response {
    if let Some(token) = &scrape.token
        && !token.admits(request.headers())
    {
        let peer = request
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.to_string())
            .unwrap_or_else(|| "unknown".into());
        tracing::debug!(%peer, "refused a scrape of /metrics without the bearer token");
        return (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Bearer realm=\"ade metrics\"")],
            "/metrics needs the bearer token [metrics] configures\n",
        )
            .into_response();
    }
    let ops = &scrape.ops;
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

#[cfg(test)]
mod tests {
    use super::*;

    fn with(authorization: &[u8]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::AUTHORIZATION,
            header::HeaderValue::from_bytes(authorization).unwrap(),
        );
        headers
    }

    #[test]
    fn only_the_configured_bearer_token_is_admitted() {
        let token = Token::new(&Secret::new("s3cret-scrape"));
        assert!(token.admits(&with(b"Bearer s3cret-scrape")));
        assert!(token.admits(&with(b"bearer s3cret-scrape")));
        assert!(token.admits(&with(b"Bearer  s3cret-scrape ")));
        for wrong in [
            &b"Bearer s3cret-scrapE"[..],
            b"Bearer s3cret-scrape2",
            b"Bearer s3cret",
            b"Bearer ",
            b"Basic czNjcmV0LXNjcmFwZQ==",
            b"s3cret-scrape",
            b"Bearers3cret-scrape",
        ] {
            assert!(
                !token.admits(&with(wrong)),
                "{}",
                String::from_utf8_lossy(wrong)
            );
        }
        assert!(!token.admits(&HeaderMap::new()));
    }
}
