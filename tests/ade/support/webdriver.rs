//! A real browser for the dashboard's stories: headless Chromium driven by ChromeDriver over the
//! W3C WebDriver protocol, spoken here with plain HTTP. Without Chromium a story says why it is
//! skipped; with `ADE_REQUIRE_BROWSER` set (as `.ci/run` sets it, after installing Debian's
//! chromium and chromium-driver) it fails instead.

use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

/// The key under which WebDriver answers an element's id.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// A running ChromeDriver with one browser session.
pub struct Chrome {
    http: reqwest::Client,
    base: String,
    session: String,
    driver: tokio::process::Child,
    profile: PathBuf,
}

/// Where Debian puts the two programs.
const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

impl Chrome {
    /// Starts ChromeDriver and a headless Chromium; `None` (having said why) when they are not
    /// installed and not required.
    pub async fn start() -> Option<Chrome> {
        let missing: Vec<&str> = [CHROMIUM, CHROMEDRIVER]
            .into_iter()
            .filter(|path| !Path::new(path).exists())
            .collect();
        if !missing.is_empty() {
            let why = format!(
                "{} not installed (Debian packages chromium and chromium-driver; .ci/run installs them)",
                missing.join(" and ")
            );
            if std::env::var_os("ADE_REQUIRE_BROWSER").is_some() {
                panic!("ADE_REQUIRE_BROWSER is set but {why}");
            }
            eprintln!("skipped: {why}");
            return None;
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .unwrap()
            .port();
        let driver = tokio::process::Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("chromedriver starts");
        let http = reqwest::Client::new();
        let base = format!("http://127.0.0.1:{port}");
        let started = std::time::Instant::now();
        loop {
            if let Ok(answer) = http.get(format!("{base}/status")).send().await
                && answer.status().is_success()
            {
                break;
            }
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "chromedriver did not start"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let profile =
            std::env::temp_dir().join(format!("ade-chrome-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&profile).unwrap();
        let capabilities = json!({
            "capabilities": { "alwaysMatch": {
                "browserName": "chrome",
                "goog:chromeOptions": {
                    "binary": CHROMIUM,
                    "args": [
                        "--headless=new", "--no-sandbox", "--disable-gpu",
                        "--disable-dev-shm-usage", "--window-size=1280,900",
                        format!("--user-data-dir={}", profile.display()),
                    ]
                }
            }}
        });
        let answer: Value = serde_json::from_slice(
            &http
                .post(format!("{base}/session"))
                .header("content-type", "application/json")
                .body(capabilities.to_string())
                .send()
                .await
                .unwrap()
                .bytes()
                .await
                .unwrap(),
        )
        .unwrap();
        let session = answer["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no browser session: {answer}"))
            .to_owned();
        Some(Chrome {
            http,
            base,
            session,
            driver,
            profile,
        })
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let url = format!("{}/session/{}{path}", self.base, self.session);
        let mut request = self.http.request(method, url);
        if let Some(body) = body {
            request = request
                .header("content-type", "application/json")
                .body(body.to_string());
        }
        let bytes = request.send().await.unwrap().bytes().await.unwrap();
        let answer: Value = serde_json::from_slice(&bytes).unwrap();
        if let Some(error) = answer["value"].get("error") {
            panic!("WebDriver {path}: {error}: {}", answer["value"]["message"]);
        }
        answer["value"].clone()
    }

    /// Opens `url`.
    pub async fn open(&self, url: &str) {
        self.call(reqwest::Method::POST, "/url", Some(json!({ "url": url })))
            .await;
    }

    /// Where the browser is.
    pub async fn url(&self) -> String {
        self.call(reqwest::Method::GET, "/url", None)
            .await
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// The page's HTML as the browser holds it now (with what scripts added).
    pub async fn source(&self) -> String {
        self.call(reqwest::Method::GET, "/source", None)
            .await
            .as_str()
            .unwrap()
            .to_owned()
    }

    async fn element(&self, css: &str) -> String {
        let found = self
            .call(
                reqwest::Method::POST,
                "/element",
                Some(json!({ "using": "css selector", "value": css })),
            )
            .await;
        found[ELEMENT]
            .as_str()
            .unwrap_or_else(|| panic!("no element {css}: {found}"))
            .to_owned()
    }

    /// How many elements `css` selects.
    pub async fn count(&self, css: &str) -> usize {
        self.call(
            reqwest::Method::POST,
            "/elements",
            Some(json!({ "using": "css selector", "value": css })),
        )
        .await
        .as_array()
        .map_or(0, Vec::len)
    }

    /// Clicks the element `css` selects.
    pub async fn click(&self, css: &str) {
        let id = self.element(css).await;
        self.call(
            reqwest::Method::POST,
            &format!("/element/{id}/click"),
            Some(json!({})),
        )
        .await;
    }

    /// Types `text` into the element `css` selects.
    pub async fn type_into(&self, css: &str, text: &str) {
        let id = self.element(css).await;
        self.call(
            reqwest::Method::POST,
            &format!("/element/{id}/value"),
            Some(json!({ "text": text })),
        )
        .await;
    }

    /// The visible text of the element `css` selects.
    pub async fn text(&self, css: &str) -> String {
        let id = self.element(css).await;
        self.call(reqwest::Method::GET, &format!("/element/{id}/text"), None)
            .await
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// Forgets every cookie: a new visitor.
    pub async fn clear_cookies(&self) {
        self.call(reqwest::Method::DELETE, "/cookie", None).await;
    }

    /// Waits until `check` of the page's source holds.
    pub async fn until(&self, what: &str, check: impl Fn(&str) -> bool) -> String {
        let started = std::time::Instant::now();
        loop {
            let source = self.source().await;
            if check(&source) {
                return source;
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "waited a minute for {what}; the page holds:\n{source}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Saves a screenshot as `name`.png in target/screenshots/ (and in docs/screenshots/ with
    /// `ADE_UPDATE_SCREENSHOTS=1`, which docs/dashboard.md shows).
    pub async fn screenshot(&self, name: &str) -> PathBuf {
        use base64::Engine as _;
        let png = self.call(reqwest::Method::GET, "/screenshot", None).await;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(png.as_str().unwrap())
            .unwrap();
        assert!(bytes.starts_with(b"\x89PNG"), "a PNG");
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let dir = root.join("target").join("screenshots");
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(format!("{name}.png"));
        std::fs::write(&path, &bytes).unwrap();
        if std::env::var_os("ADE_UPDATE_SCREENSHOTS").is_some() {
            let docs = root.join("docs").join("screenshots");
            std::fs::create_dir_all(&docs).unwrap();
            std::fs::write(docs.join(format!("{name}.png")), &bytes).unwrap();
        }
        path
    }
}

impl Drop for Chrome {
    fn drop(&mut self) {
        // Ending the session closes the browser; killing the driver alone would leave it running.
        end_session(&self.base, &self.session);
        let _ = self.driver.start_kill();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

/// `DELETE /session/{id}` over a plain socket, as a drop cannot wait on the runtime.
fn end_session(base: &str, session: &str) {
    use std::io::{Read, Write};
    let Some(addr) = base.strip_prefix("http://") else {
        return;
    };
    let Ok(mut socket) = std::net::TcpStream::connect(addr) else {
        return;
    };
    let _ = socket.set_read_timeout(Some(Duration::from_secs(10)));
    let request = format!(
        "DELETE /session/{session} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    );
    if socket.write_all(request.as_bytes()).is_ok() {
        let mut answer = Vec::new();
        let _ = socket.read_to_end(&mut answer);
    }
}
