//! Plumbing for the simulator tests: a simulator on a temp data dir, a webhook receiver that keeps
//! what it gets, and an HTTP client that speaks to the simulator's API with a token.

use ade::forge::ForgeKind;
use ade::sim::{NewRepo, SimOptions, Simulator};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The repository every test seeds.
pub const REPO: &str = "octo/demo";

/// A temp folder removed when dropped.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("ade-{tag}-{:016x}", fastrand::u64(..)));
        std::fs::create_dir_all(&dir).expect("temp dir");
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A simulator with `octo/demo` (README.md and src/lib.rs on main), a maintainer, a reader,
/// and on GitHub the app installed on the repository; on Gitea a bot with write access.
pub struct Forge {
    pub sim: Simulator,
    pub reader_token: String,
    /// The token ade would use: an installation token (GitHub) or the bot's token (Gitea).
    pub ade_token: String,
    /// The git user name that goes with `ade_token`.
    pub ade_git_user: String,
    pub installation: Option<i64>,
    pub _dir: TempDir,
}

pub async fn forge(kind: ForgeKind) -> Forge {
    forge_with(kind, |_| {}).await
}

pub async fn forge_with(kind: ForgeKind, tweak: impl FnOnce(&mut SimOptions)) -> Forge {
    let dir = TempDir::new("sim");
    let mut options = SimOptions::new(kind, &dir.0);
    tweak(&mut options);
    let sim = Simulator::start(options).await.expect("simulator starts");
    sim.add_user("maintainer");
    let reader = sim.add_user("reader");
    sim.create_repo(
        NewRepo::new("octo", "demo").file("src/lib.rs", "pub fn answer() -> u32 {\n    42\n}\n"),
    )
    .await
    .expect("repository");
    sim.set_permission(REPO, "maintainer", ade::forge::Permission::Maintain)
        .unwrap();
    sim.set_permission(REPO, "reader", ade::forge::Permission::Read)
        .unwrap();
    let (ade_token, ade_git_user, installation) = match kind {
        ForgeKind::Github => {
            let installation = sim.install_app("octo", &[REPO]);
            (
                sim.installation_token(installation),
                "x-access-token".to_owned(),
                Some(installation),
            )
        }
        ForgeKind::Gitea => {
            let bot = sim.add_bot("ade-bot");
            sim.set_permission(REPO, "ade-bot", ade::forge::Permission::Write)
                .unwrap();
            (bot.token, bot.login, None)
        }
    };
    Forge {
        sim,
        reader_token: reader.token,
        ade_token,
        ade_git_user,
        installation,
        _dir: dir,
    }
}

/// A JSON answer.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub json: serde_json::Value,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    }
}

/// Calls the simulator's API as ade would.
pub struct Api {
    pub base: String,
    pub token: Option<String>,
    pub client: reqwest::Client,
}

impl Api {
    pub fn new(forge: &Forge) -> Api {
        Api::with_token(forge, Some(&forge.ade_token))
    }

    pub fn with_token(forge: &Forge, token: Option<&str>) -> Api {
        Api {
            base: forge.sim.api_url(),
            token: token.map(str::to_owned),
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(20))
                .build()
                .unwrap(),
        }
    }

    pub async fn call(&self, method: &str, path: &str, body: Option<serde_json::Value>) -> Answer {
        let url = if path.starts_with("http") {
            path.to_owned()
        } else {
            format!("{}{path}", self.base)
        };
        let mut request = self
            .client
            .request(method.parse().unwrap(), url)
            .header("accept", "application/json");
        if let Some(token) = &self.token {
            request = request.header("authorization", format!("token {token}"));
        }
        if let Some(body) = body {
            request = request
                .header("content-type", "application/json")
                .body(body.to_string());
        }
        let response = request.send().await.expect("simulator answers");
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let bytes = response.bytes().await.unwrap_or_default();
        Answer {
            status,
            headers,
            json: serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null),
        }
    }

    pub async fn get(&self, path: &str) -> Answer {
        self.call("GET", path, None).await
    }

    pub async fn post(&self, path: &str, body: serde_json::Value) -> Answer {
        self.call("POST", path, Some(body)).await
    }
}

/// One webhook request as received.
#[derive(Clone, Debug)]
pub struct Received {
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// A webhook endpoint that answers 202 and keeps every request.
pub struct Receiver {
    pub url: String,
    pub got: Arc<Mutex<Vec<Received>>>,
}

impl Receiver {
    pub async fn start() -> Receiver {
        let got: Arc<Mutex<Vec<Received>>> = Arc::default();
        let app = axum::Router::new()
            .route(
                "/hook",
                axum::routing::post(
                    |State(got): State<Arc<Mutex<Vec<Received>>>>,
                     headers: HeaderMap,
                     body: Bytes| async move {
                        got.lock().unwrap().push(Received { headers, body });
                        axum::http::StatusCode::ACCEPTED
                    },
                ),
            )
            .with_state(Arc::clone(&got));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Receiver { url, got }
    }

    pub fn all(&self) -> Vec<Received> {
        self.got.lock().unwrap().clone()
    }

    /// Waits until at least `n` requests arrived.
    pub async fn wait_for(&self, n: usize) -> Vec<Received> {
        for _ in 0..250 {
            let all = self.all();
            if all.len() >= n {
                return all;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("expected {n} webhooks, got {}", self.all().len());
    }
}

/// Runs git with no user or system configuration and no credential helpers, in `dir`.
pub async fn git(
    dir: &std::path::Path,
    home: &std::path::Path,
    args: &[&str],
) -> std::process::Output {
    tokio::process::Command::new("git")
        .args(["-c", "credential.helper=", "-c", "protocol.version=2"])
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("HOME", home)
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("GIT_ASKPASS", "/bin/false")
        .env("GIT_AUTHOR_NAME", "Test")
        .env("GIT_AUTHOR_EMAIL", "test@example.com")
        .env("GIT_COMMITTER_NAME", "Test")
        .env("GIT_COMMITTER_EMAIL", "test@example.com")
        .output()
        .await
        .expect("git runs")
}

/// `http://user:token@host/owner/name.git`.
pub fn url_with_credentials(clone_url: &str, user: &str, token: &str) -> String {
    let (scheme, rest) = clone_url.split_once("://").unwrap();
    let user: String = form_urlencoded::byte_serialize(user.as_bytes()).collect();
    format!("{scheme}://{user}:{token}@{rest}")
}
