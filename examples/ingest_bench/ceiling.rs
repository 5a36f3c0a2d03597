//! The HTTP ceiling: what the same client and the same machine reach against a webhook endpoint
//! that does all of ade's work at the door and none of its storing.
//!
//! The handler checks the HMAC and reads the JSON with ade's own functions (the ones
//! `POST /webhooks/github` runs), answers 202 with the same small JSON body, and stores nothing.
//! It runs on its own Tokio runtime with as many worker threads as ade's (one per CPU), so the
//! server side is shaped like ade's and does not share threads with the client.

use ade::ingress::{payload, signature};
use ade::secret::Secret;
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::sync::oneshot;

/// A running ceiling server.
pub struct Ceiling {
    /// `http://127.0.0.1:PORT/webhooks/github`.
    pub url: String,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Ceiling {
    /// Starts the server on a free loopback port, accepting `secret`.
    pub fn start(secret: &str) -> anyhow::Result<Ceiling> {
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        listener.set_nonblocking(true)?;
        let addr: SocketAddr = listener.local_addr()?;
        let secrets = Arc::new(vec![Secret::new(secret)]);
        let (stop, stopped) = oneshot::channel::<()>();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .thread_name("ceiling")
            .enable_all()
            .build()?;
        let thread = std::thread::spawn(move || {
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).expect("tokio listener");
                let routes = Router::new()
                    .route("/webhooks/github", post(accept))
                    .with_state(secrets);
                axum::serve(listener, routes)
                    .with_graceful_shutdown(async {
                        let _ = stopped.await;
                    })
                    .await
                    .expect("ceiling server");
            });
        });
        Ok(Ceiling {
            url: format!("http://{addr}/webhooks/github"),
            stop: Some(stop),
            thread: Some(thread),
        })
    }
}

impl Drop for Ceiling {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

async fn accept(
    State(secrets): State<Arc<Vec<Secret>>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let signed = headers.get("x-hub-signature-256").map(|v| v.as_bytes());
    if signature::verify_github(&secrets, signed, &body).is_err() {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    let Some(delivery) = headers
        .get("x-github-delivery")
        .and_then(|v| v.to_str().ok())
    else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    if payload::subject(&body).is_err() {
        return StatusCode::BAD_REQUEST.into_response();
    }
    let answer = serde_json::json!({ "status": "accepted", "delivery": delivery });
    (StatusCode::ACCEPTED, axum::Json(answer)).into_response()
}
