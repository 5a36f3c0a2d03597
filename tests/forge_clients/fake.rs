//! A forge stand-in over real HTTP: an axum server on a loopback port that records every request
//! and answers with whatever the test's responder says.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use std::sync::{Arc, Mutex};

/// One request as the server saw it.
#[derive(Clone, Debug)]
pub struct Recorded {
    pub method: String,
    /// The path, still percent-encoded.
    pub path: String,
    pub query: Vec<(String, String)>,
    pub headers: HeaderMap,
    pub body: Option<serde_json::Value>,
    /// What the fake answered: status and, when JSON, the body.
    pub answer: Option<(u16, Option<serde_json::Value>)>,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn query(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// `METHOD path` with `prefix` cut off the path.
    pub fn route(&self, prefix: &str) -> String {
        let path = self.path.strip_prefix(prefix).unwrap_or(&self.path);
        format!("{} {path}", self.method)
    }
}

/// What the server answers.
#[derive(Clone, Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Answer {
    pub fn json(status: u16, body: serde_json::Value) -> Answer {
        Answer {
            status,
            headers: vec![("content-type".into(), "application/json".into())],
            body: body.to_string().into_bytes(),
        }
    }

    pub fn empty(status: u16) -> Answer {
        Answer {
            status,
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    pub fn bytes(status: u16, body: &[u8]) -> Answer {
        Answer {
            status,
            headers: vec![("content-type".into(), "application/octet-stream".into())],
            body: body.to_vec(),
        }
    }

    pub fn not_found() -> Answer {
        Answer::json(404, serde_json::json!({ "message": "Not Found" }))
    }

    pub fn header(mut self, name: &str, value: impl ToString) -> Answer {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }
}

type Responder = dyn Fn(&Recorded) -> Answer + Send + Sync;

#[derive(Clone)]
struct Shared {
    log: Arc<Mutex<Vec<Recorded>>>,
    responder: Arc<Responder>,
    delay: Option<std::time::Duration>,
}

/// The running server; stops when dropped.
pub struct FakeForge {
    pub url: String,
    log: Arc<Mutex<Vec<Recorded>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FakeForge {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FakeForge {
    pub async fn start(
        responder: impl Fn(&Recorded) -> Answer + Send + Sync + 'static,
    ) -> FakeForge {
        FakeForge::start_with_delay(None, responder).await
    }

    /// Like `start`, but every answer waits `delay` first (to make concurrent callers overlap).
    pub async fn start_with_delay(
        delay: Option<std::time::Duration>,
        responder: impl Fn(&Recorded) -> Answer + Send + Sync + 'static,
    ) -> FakeForge {
        let log = Arc::new(Mutex::new(Vec::new()));
        let shared = Shared {
            log: log.clone(),
            responder: Arc::new(responder),
            delay,
        };
        let app = axum::Router::new().fallback(handle).with_state(shared);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        FakeForge { url, log, task }
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.log.lock().unwrap().clone()
    }

    /// How many requests had this `METHOD path` (after `prefix`).
    pub fn count(&self, prefix: &str, route: &str) -> usize {
        self.requests()
            .iter()
            .filter(|r| r.route(prefix) == route)
            .count()
    }
}

async fn handle(
    State(shared): State<Shared>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let query = uri
        .query()
        .map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
        .unwrap_or_default();
    let body = (!body.is_empty()).then(|| {
        serde_json::from_slice(&body)
            .unwrap_or_else(|_| serde_json::Value::String(String::from_utf8_lossy(&body).into()))
    });
    let mut recorded = Recorded {
        method: method.to_string(),
        path: uri.path().to_string(),
        query,
        headers,
        body,
        answer: None,
    };
    let answer = (shared.responder)(&recorded);
    recorded.answer = Some((answer.status, serde_json::from_slice(&answer.body).ok()));
    shared.log.lock().unwrap().push(recorded);
    if let Some(delay) = shared.delay {
        tokio::time::sleep(delay).await;
    }
    let mut response = (StatusCode::from_u16(answer.status).unwrap(), answer.body).into_response();
    for (name, value) in answer.headers {
        response.headers_mut().insert(
            axum::http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
            value.parse().unwrap(),
        );
    }
    response
}
