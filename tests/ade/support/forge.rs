//! A forge that sends ade webhooks over real HTTP, shaped and signed like GitHub's, Gitea's and
//! Forgejo's, with builders to get each part wrong on purpose.

use super::{GITEA_SECRET, GITHUB_SECRET};
use ade::ingress::signature::{sign_gitea, sign_github};
use std::net::{IpAddr, SocketAddr};

/// Which headers a delivery carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dialect {
    /// `X-GitHub-*`, `X-Hub-Signature-256`.
    Github,
    /// `X-Gitea-*`.
    Gitea,
    /// `X-Forgejo-*` plus the Gitea ones, as Forgejo sends.
    Forgejo,
}

/// One webhook request, built up by the test.
#[derive(Clone, Debug)]
pub struct Delivery {
    dialect: Dialect,
    event: String,
    event_type: Option<String>,
    pub id: String,
    body: Vec<u8>,
    content_type: &'static str,
    secret: String,
    signature: Option<Option<String>>,
    dropped: Vec<&'static str>,
    extra: Vec<(String, String)>,
}

fn new_id() -> String {
    format!(
        "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
        fastrand::u32(..),
        fastrand::u16(..),
        fastrand::u16(..0x1000),
        fastrand::u16(..0x1000),
        fastrand::u64(..0x1_0000_0000_0000)
    )
}

impl Delivery {
    /// A GitHub delivery of `event` with a JSON body, signed with the test secret.
    pub fn github(event: &str, body: serde_json::Value) -> Delivery {
        Delivery::new(
            Dialect::Github,
            event,
            None,
            body.to_string().into_bytes(),
            GITHUB_SECRET,
        )
    }

    /// A Gitea delivery.
    pub fn gitea(event: &str, event_type: &str, body: serde_json::Value) -> Delivery {
        Delivery::new(
            Dialect::Gitea,
            event,
            Some(event_type),
            body.to_string().into_bytes(),
            GITEA_SECRET,
        )
    }

    /// A Forgejo delivery.
    pub fn forgejo(event: &str, event_type: &str, body: serde_json::Value) -> Delivery {
        Delivery::new(
            Dialect::Forgejo,
            event,
            Some(event_type),
            body.to_string().into_bytes(),
            GITEA_SECRET,
        )
    }

    fn new(
        dialect: Dialect,
        event: &str,
        event_type: Option<&str>,
        body: Vec<u8>,
        secret: &str,
    ) -> Delivery {
        Delivery {
            dialect,
            event: event.into(),
            event_type: event_type.map(Into::into),
            id: new_id(),
            body,
            content_type: "application/json",
            secret: secret.into(),
            signature: None,
            dropped: Vec::new(),
            extra: Vec::new(),
        }
    }

    /// Uses this delivery id.
    pub fn id(mut self, id: &str) -> Delivery {
        self.id = id.into();
        self
    }

    /// Replaces the body with these exact bytes (signed as they are).
    pub fn raw_body(mut self, body: impl Into<Vec<u8>>) -> Delivery {
        self.body = body.into();
        self
    }

    /// Signs with another secret.
    pub fn signed_with(mut self, secret: &str) -> Delivery {
        self.secret = secret.into();
        self
    }

    /// Sends this signature header value instead of the right one.
    pub fn signature(mut self, value: &str) -> Delivery {
        self.signature = Some(Some(value.into()));
        self
    }

    /// Sends no signature header.
    pub fn unsigned(mut self) -> Delivery {
        self.signature = Some(None);
        self
    }

    /// Sends the body as a form with the JSON in `payload=`, as GitHub can be set to.
    pub fn form_encoded(mut self) -> Delivery {
        let json = String::from_utf8(self.body.clone()).expect("JSON body");
        self.body = form_urlencoded::Serializer::new(String::new())
            .append_pair("payload", &json)
            .finish()
            .into_bytes();
        self.content_type = "application/x-www-form-urlencoded";
        self
    }

    /// Declares another media type.
    pub fn content_type(mut self, value: &'static str) -> Delivery {
        self.content_type = value;
        self
    }

    /// Leaves out a header the dialect would send (by name, case-insensitive).
    pub fn without(mut self, header: &'static str) -> Delivery {
        self.dropped.push(header);
        self
    }

    /// Adds a header.
    pub fn header(mut self, name: &str, value: &str) -> Delivery {
        self.extra.push((name.into(), value.into()));
        self
    }

    /// The request as it goes on the wire up to its body, with `extra` headers: for tests that
    /// send it over a bare TCP connection, a part at a time.
    pub fn head(&self, extra: &[(&str, &str)]) -> String {
        let mut head = format!("POST {} HTTP/1.1\r\nHost: ade\r\n", self.path());
        for (name, value) in self.headers() {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        for (name, value) in extra {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        head.push_str(&format!("Content-Length: {}\r\n\r\n", self.body.len()));
        head
    }

    /// The body as signed.
    pub fn body(&self) -> &[u8] {
        &self.body
    }

    /// The path it is posted to.
    fn path(&self) -> &'static str {
        match self.dialect {
            Dialect::Github => "/webhooks/github",
            Dialect::Gitea | Dialect::Forgejo => "/webhooks/gitea",
        }
    }

    fn headers(&self) -> Vec<(String, String)> {
        let signature = match &self.signature {
            Some(chosen) => chosen.clone(),
            None => Some(match self.dialect {
                Dialect::Github => sign_github(&self.secret, &self.body),
                Dialect::Gitea | Dialect::Forgejo => sign_gitea(&self.secret, &self.body),
            }),
        };
        let mut headers: Vec<(String, String)> =
            vec![("Content-Type".into(), self.content_type.into())];
        let mut add = |name: &str, value: Option<&String>| {
            if let Some(value) = value {
                headers.push((name.into(), value.clone()));
            }
        };
        match self.dialect {
            Dialect::Github => {
                add("X-GitHub-Event", Some(&self.event));
                add("X-GitHub-Delivery", Some(&self.id));
                add("X-Hub-Signature-256", signature.as_ref());
            }
            Dialect::Gitea | Dialect::Forgejo => {
                if self.dialect == Dialect::Forgejo {
                    add("X-Forgejo-Event", Some(&self.event));
                    add("X-Forgejo-Event-Type", self.event_type.as_ref());
                    add("X-Forgejo-Delivery", Some(&self.id));
                    add("X-Forgejo-Signature", signature.as_ref());
                }
                add("X-Gitea-Event", Some(&self.event));
                add("X-Gitea-Event-Type", self.event_type.as_ref());
                add("X-Gitea-Delivery", Some(&self.id));
                add("X-Gitea-Signature", signature.as_ref());
            }
        }
        headers.retain(|(name, _)| !self.dropped.iter().any(|d| d.eq_ignore_ascii_case(name)));
        headers.extend(self.extra.iter().cloned());
        headers
    }
}

/// What ade answered.
#[derive(Debug)]
pub struct Reply {
    /// The HTTP status.
    pub status: u16,
    /// The JSON body (`null` when it was not JSON).
    pub json: serde_json::Value,
}

/// Sends deliveries to one running ade.
#[derive(Clone)]
pub struct TestForge {
    base: String,
    client: reqwest::Client,
}

impl TestForge {
    /// A forge pointed at ade's address.
    pub fn new(addr: SocketAddr) -> TestForge {
        TestForge {
            base: format!("http://{addr}"),
            client: reqwest::Client::new(),
        }
    }

    /// A forge pointed at ade's address that connects from `local` (another loopback address,
    /// say `127.0.0.2`), so ade sees another source.
    pub fn from(addr: SocketAddr, local: IpAddr) -> TestForge {
        TestForge {
            base: format!("http://{addr}"),
            client: reqwest::Client::builder()
                .local_address(local)
                .build()
                .expect("an HTTP client"),
        }
    }

    /// Posts a delivery and reads the answer.
    pub async fn send(&self, delivery: &Delivery) -> Reply {
        self.post(delivery.path(), delivery.headers(), delivery.body.clone())
            .await
    }

    /// Posts arbitrary bytes with arbitrary headers.
    pub async fn post(&self, path: &str, headers: Vec<(String, String)>, body: Vec<u8>) -> Reply {
        let mut request = self.client.post(format!("{}{path}", self.base)).body(body);
        for (name, value) in headers {
            request = request.header(name, value);
        }
        let response = request.send().await.expect("ade answers");
        let status = response.status().as_u16();
        let bytes = response.bytes().await.expect("read answer");
        Reply {
            status,
            json: serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null),
        }
    }

    /// GETs a path and returns status and text.
    pub async fn get(&self, path: &str) -> (u16, String) {
        self.get_with(path, &[]).await
    }

    /// GETs a path with `headers` and returns status and text.
    pub async fn get_with(&self, path: &str, headers: &[(&str, &str)]) -> (u16, String) {
        let mut request = self.client.get(format!("{}{path}", self.base));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = request.send().await.expect("ade answers");
        let status = response.status().as_u16();
        (status, response.text().await.unwrap_or_default())
    }
}

impl TestForge {
    /// Posts a delivery and returns the status, or `None` if the connection failed (ade was
    /// killed or had stopped listening).
    pub async fn try_send(&self, delivery: &Delivery) -> Option<u16> {
        let mut request = self
            .client
            .post(format!("{}{}", self.base, delivery.path()))
            .body(delivery.body.clone());
        for (name, value) in delivery.headers() {
            request = request.header(name, value);
        }
        let response = request.send().await.ok()?;
        Some(response.status().as_u16())
    }
}
