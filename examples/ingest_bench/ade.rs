//! The service under test: the release `ade` binary, started as `ade serve` in a child process on
//! a free loopback port, configured only by `ADE_SECTION__KEY` variables, with its log in the run
//! folder. A separate process, so its memory (RSS) and CPU are its own and nothing of the
//! benchmark's own allocations or threads counts against it.

use anyhow::{Context, bail};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant, SystemTime};
use tokio::process::{Child, Command};

/// A running `ade serve`.
pub struct Ade {
    child: Child,
    pid: u32,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    log: PathBuf,
}

/// The counters of `/metrics` the benchmark reads.
#[derive(Clone, Copy, Debug, Default)]
pub struct Scrape {
    /// `ade_inbox_commits_total`.
    pub commits: f64,
    /// `ade_inbox_committed_deliveries_total`.
    pub committed: f64,
    /// `ade_jobs{kind="delivery",state="available"}`: deliveries stored but not yet handled.
    pub backlog: f64,
}

impl Ade {
    /// Starts `binary serve` with `env` on top of the inherited environment (minus any `ADE_*`
    /// variable, so the caller's own ade settings cannot leak in) and waits for `/readyz`.
    pub async fn start(
        binary: &Path,
        env: &[(String, String)],
        run_dir: &Path,
        http: &reqwest::Client,
    ) -> anyhow::Result<Ade> {
        let port = free_port()?;
        let log = run_dir.join("ade.log");
        let file = std::fs::File::create(&log).context("create ade.log")?;
        let mut command = Command::new(binary);
        command
            .arg("serve")
            .stdin(Stdio::null())
            .stdout(file.try_clone()?)
            .stderr(file)
            .kill_on_drop(true);
        for (name, _) in std::env::vars_os() {
            if name.to_string_lossy().starts_with("ADE_") {
                command.env_remove(name);
            }
        }
        command.env("ADE_SERVER__LISTEN", format!("127.0.0.1:{port}"));
        for (k, v) in env {
            command.env(k, v);
        }
        let child = command
            .spawn()
            .with_context(|| format!("start {}", binary.display()))?;
        let pid = child.id().context("ade exited at once")?;
        let mut ade = Ade {
            child,
            pid,
            base: format!("http://127.0.0.1:{port}"),
            log,
        };
        ade.wait_ready(http).await?;
        Ok(ade)
    }

    async fn wait_ready(&mut self, http: &reqwest::Client) -> anyhow::Result<()> {
        let url = format!("{}/readyz", self.base);
        let until = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = self.child.try_wait()? {
                bail!(
                    "ade exited with {status} before it was ready:\n{}",
                    self.log_tail()
                );
            }
            if let Ok(answer) = http.get(&url).send().await
                && answer.status().is_success()
            {
                return Ok(());
            }
            if Instant::now() > until {
                bail!("ade was not ready after 60 s:\n{}", self.log_tail());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The process id, for profilers.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Resident memory now (`VmRSS`) and at its highest (`VmHWM`), in bytes.
    pub fn rss(&self) -> anyhow::Result<(u64, u64)> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid))?;
        let field = |name: &str| -> anyhow::Result<u64> {
            let line = status
                .lines()
                .find(|l| l.starts_with(name))
                .with_context(|| format!("no {name} in /proc/{}/status", self.pid))?;
            let kib: u64 = line[name.len()..]
                .trim()
                .trim_end_matches("kB")
                .trim()
                .parse()?;
            Ok(kib * 1024)
        };
        Ok((field("VmRSS:")?, field("VmHWM:")?))
    }

    /// Reads the inbox counters and the delivery backlog from `/metrics`.
    pub async fn scrape(&self, http: &reqwest::Client) -> anyhow::Result<Scrape> {
        let text = http
            .get(format!("{}/metrics", self.base))
            .send()
            .await?
            .error_for_status()?
            .text()
            .await?;
        let value = |name: &str| {
            text.lines().find_map(|l| {
                l.strip_prefix(name)
                    .and_then(|v| v.trim().parse::<f64>().ok())
            })
        };
        Ok(Scrape {
            commits: value("ade_inbox_commits_total ")
                .context("no ade_inbox_commits_total in /metrics")?,
            committed: value("ade_inbox_committed_deliveries_total ")
                .context("no ade_inbox_committed_deliveries_total in /metrics")?,
            backlog: value("ade_jobs{kind=\"delivery\",state=\"available\"} ").unwrap_or(0.0),
        })
    }

    /// SIGTERM, then SIGKILL if it has not exited after `grace`.
    pub async fn stop(mut self, grace: Duration) -> anyhow::Result<()> {
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &self.pid.to_string()])
            .status();
        match tokio::time::timeout(grace, self.child.wait()).await {
            Ok(status) => {
                status?;
            }
            Err(_) => {
                eprintln!("ade did not stop within {grace:?} of SIGTERM; killing it");
                self.child.kill().await?;
            }
        }
        Ok(())
    }

    /// The last lines of ade's log, for error messages.
    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }
}

/// A loopback port nobody listens on right now.
fn free_port() -> anyhow::Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}

/// Warns when the binary is older than the sources it is built from: `cargo run --example` builds
/// the example and the library, not the `ade` binary, so a stale binary is easy to measure by
/// mistake.
pub fn warn_if_stale(binary: &Path) -> anyhow::Result<()> {
    let built = std::fs::metadata(binary)
        .with_context(|| {
            format!(
                "{} not found: build it first with `cargo build --release` (or pass --ade PATH)",
                binary.display()
            )
        })?
        .modified()?;
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let newest = ["src", "migrations", "Cargo.toml", "Cargo.lock"]
        .iter()
        .filter_map(|p| newest_mtime(&root.join(p)))
        .max();
    if newest.is_some_and(|n| n > built) {
        eprintln!(
            "warning: {} is older than the sources; run `cargo build --release` to measure the current code",
            binary.display()
        );
    }
    Ok(())
}

fn newest_mtime(path: &Path) -> Option<SystemTime> {
    let meta = std::fs::metadata(path).ok()?;
    if !meta.is_dir() {
        return meta.modified().ok();
    }
    std::fs::read_dir(path)
        .ok()?
        .filter_map(|e| newest_mtime(&e.ok()?.path()))
        .max()
}
