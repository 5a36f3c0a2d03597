//! A real `ade serve` process, for what only a process shows: signals, kill -9, several processes
//! sharing one database, the logs it writes.

use super::TestDb;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::Duration;

/// A running `ade serve`, its address, and the file its JSON log goes to.
pub struct AdeProcess {
    child: Child,
    /// Where it listens.
    pub addr: SocketAddr,
    log: PathBuf,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl AdeProcess {
    /// Starts `ade --log-format json serve` on `db` with the test secrets, 5 s leases and grace, and
    /// `env` on top; returns once `/readyz` answers.
    pub async fn spawn(db: &TestDb, env: &[(&str, &str)]) -> AdeProcess {
        let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
        let log = db.dir.join(format!("ade-{}.log", addr.port()));
        let mut command = Command::new(env!("CARGO_BIN_EXE_ade"));
        command
            .args(["--log-format", "json", "serve"])
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("ADE_SERVER__LISTEN", addr.to_string())
            .env("ADE_SERVER__SHUTDOWN_GRACE_SECS", "5")
            .env("ADE_DATABASE__URL", &db.url)
            .env("ADE_STORAGE__DATA_DIR", &db.dir)
            .env("ADE_GITHUB__WEBHOOK_SECRET", super::GITHUB_SECRET)
            .env("ADE_JOBS__LEASE_SECS", "5")
            .env("ADE_LOG", "info")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("create log file"));
        for (key, value) in env {
            command.env(key, value);
        }
        let child = command.spawn().expect("start ade");
        let mut process = AdeProcess { child, addr, log };
        let client = reqwest::Client::new();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(Some(status)) = process.child.try_wait() {
                panic!("ade exited at start ({status}):\n{}", process.log());
            }
            let ready = client
                .get(format!("http://{addr}/readyz"))
                .timeout(Duration::from_millis(500))
                .send()
                .await;
            if ready.is_ok_and(|r| r.status().is_success()) {
                return process;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "ade not ready:\n{}",
                process.log()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Sends SIGKILL and reaps the process.
    pub fn kill_9(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    /// Sends SIGTERM and waits for the process to exit.
    pub fn terminate(&mut self) -> ExitStatus {
        Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        self.child.wait().unwrap()
    }

    /// Everything the process has logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The JSON log records so far.
    pub fn records(&self) -> Vec<serde_json::Value> {
        self.log()
            .lines()
            .filter_map(|line| serde_json::from_str(line).ok())
            .collect()
    }
}

impl Drop for AdeProcess {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
