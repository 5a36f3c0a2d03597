//! `dashboard_bench`: how fast the dashboard's heaviest pages paint in a real browser, against
//! the same bytes served from memory (the floor), and what fifty open log streams cost in memory.
//!
//! ```text
//! cargo run --release --example dashboard_bench -- [--goals 1000] [--lines 10000] [--rounds 15]
//! ```
//!
//! ade runs in this process on an SQLite file, its dashboard public (sign-in would add one forge
//! question per repository with goals to the board; see docs/dashboard.md). The store is seeded
//! with `--goals` goals over 20 repositories, each with an active version of three tasks and a
//! run per task, and one queued run (its page follows the log) whose log holds `--lines` lines. For the board (`/`) and that
//! run's page, it measures:
//! - the server: the median time to the whole answer, over `--rounds` requests;
//! - the browser: headless Chromium (over ChromeDriver) loads the page `--rounds` times and reads
//!   the paint timing's `first-contentful-paint`; the floor is the same HTML, captured once and
//!   served from memory by a bare handler beside the same stylesheet and scripts.
//!
//! Then it opens `--streams` event streams on that run and reports the process's resident
//! memory before and after.

use ade::config::Config;
use ade::forge::ForgeKind;
use ade::lifecycle::{SpecState, TaskState};
use ade::secret::Secret;
use ade::service::{Service, ServiceOptions};
use ade::store::runs::RunCause;
use ade::store::{Store, StoreOptions, goals, runs, tasks};
use anyhow::Context;
use clap::Parser;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

#[derive(Parser, Debug)]
struct Args {
    /// Goals on the board.
    #[arg(long, default_value_t = 1000)]
    goals: usize,
    /// Lines in the followed run's log.
    #[arg(long, default_value_t = 10_000)]
    lines: usize,
    /// Loads of each page.
    #[arg(long, default_value_t = 15)]
    rounds: usize,
    /// Open event streams for the memory figure.
    #[arg(long, default_value_t = 50)]
    streams: usize,
    /// Where the data go; default target/dashboard-bench.
    #[arg(long)]
    dir: Option<PathBuf>,
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(|a, b| a.partial_cmp(b).unwrap());
    values[values.len() / 2]
}

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse().ok())
        .unwrap_or(0)
}

async fn seed(store: &Store, args: &Args, workdir: &Path) -> anyhow::Result<i64> {
    let mut conn = store.writer().await?;
    let now = ade::clock::unix_ms();
    let mut last_run = 0;
    let ids: Vec<String> = ["t1", "t2", "t3"].iter().map(|s| s.to_string()).collect();
    for i in 0..args.goals {
        let repository = format!("acme/repo-{:02}", i % 20);
        let goal =
            goals::goal(&mut conn, ForgeKind::Github, &repository, i as i64 + 1, now).await?;
        sqlx::query("UPDATE goals SET title = $1, body = $2 WHERE id = $3")
            .bind(format!("Goal {i}: make the widget do thing number {i}"))
            .bind("A goal as a maintainer would write it.")
            .bind(goal)
            .execute(&mut *conn)
            .await?;
        let spec = goals::insert_spec(
            &mut conn,
            &goals::NewSpec {
                goal,
                state: SpecState::Active,
                content: "{}",
                content_hash: "0123456789abcdef",
                author: "mia",
                planner: "manual",
                errors: None,
            },
            now,
        )
        .await?;
        tasks::insert_tasks(&mut conn, spec.id, &ids, TaskState::Running, now).await?;
        for task in tasks::tasks_of(&mut conn, spec.id).await? {
            last_run = runs::insert_run(
                &mut conn,
                &runs::NewRun {
                    task: task.id,
                    agent: "script",
                    environment: "worktree",
                    base_sha: "0000000000000000000000000000000000000000",
                    branch: "ade/1-t1",
                    requester: "mia",
                    feedback: None,
                    cause: RunCause::Start,
                },
                now,
            )
            .await?;
        }
    }
    let dir = workdir.join("runs").join(last_run.to_string());
    std::fs::create_dir_all(&dir)?;
    let mut log = String::new();
    for n in 1..=args.lines {
        log.push_str(&format!(
            "line {n}: compiling crate {n} of the workspace, with some text to fill a terminal row\n"
        ));
    }
    std::fs::write(dir.join("attempt-1.log"), log)?;
    Ok(last_run)
}

/// A headless Chromium over ChromeDriver.
struct Chrome {
    http: reqwest::Client,
    session: String,
    _driver: tokio::process::Child,
}

impl Drop for Chrome {
    /// Ends the session, which closes the browser (killing the driver alone would not).
    fn drop(&mut self) {
        use std::io::{Read, Write};
        let Some((addr, path)) = self
            .session
            .strip_prefix("http://")
            .and_then(|rest| rest.split_once('/'))
        else {
            return;
        };
        if let Ok(mut socket) = std::net::TcpStream::connect(addr) {
            let _ = socket.set_read_timeout(Some(Duration::from_secs(10)));
            let request = format!(
                "DELETE /{path} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            );
            if socket.write_all(request.as_bytes()).is_ok() {
                let _ = socket.read_to_end(&mut Vec::new());
            }
        }
    }
}

impl Chrome {
    async fn start(profile: &Path) -> anyhow::Result<Chrome> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let driver = tokio::process::Command::new("/usr/bin/chromedriver")
            .arg(format!("--port={port}"))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .context("start /usr/bin/chromedriver (Debian's chromium-driver)")?;
        let http = reqwest::Client::new();
        let base = format!("http://127.0.0.1:{port}");
        for _ in 0..200 {
            if http.get(format!("{base}/status")).send().await.is_ok() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let body = json!({ "capabilities": { "alwaysMatch": { "browserName": "chrome",
            "goog:chromeOptions": { "binary": "/usr/bin/chromium", "args": [
                "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1280,900", format!("--user-data-dir={}", profile.display())
            ] } } } });
        let answer: Value = serde_json::from_slice(
            &http
                .post(format!("{base}/session"))
                .header("content-type", "application/json")
                .body(body.to_string())
                .send()
                .await?
                .bytes()
                .await?,
        )?;
        let session = answer["value"]["sessionId"]
            .as_str()
            .context("a browser session")?;
        Ok(Chrome {
            http,
            session: format!("{base}/session/{session}"),
            _driver: driver,
        })
    }

    async fn post(&self, path: &str, body: Value) -> anyhow::Result<Value> {
        let answer: Value = serde_json::from_slice(
            &self
                .http
                .post(format!("{}{path}", self.session))
                .header("content-type", "application/json")
                .body(body.to_string())
                .send()
                .await?
                .bytes()
                .await?,
        )?;
        Ok(answer["value"].clone())
    }

    /// Loads `url` afresh and returns its first contentful paint, in milliseconds from the start
    /// of navigation.
    async fn first_paint(&self, url: &str) -> anyhow::Result<f64> {
        self.post("/url", json!({ "url": "about:blank" })).await?;
        self.post("/url", json!({ "url": url })).await?;
        for _ in 0..100 {
            let paint = self
                .post(
                    "/execute/sync",
                    json!({ "script": "const p = performance.getEntriesByName('first-contentful-paint')[0]; return p ? p.startTime : null;", "args": [] }),
                )
                .await?;
            if let Some(ms) = paint.as_f64() {
                return Ok(ms);
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        anyhow::bail!("{url} never painted")
    }
}

async fn fetch(http: &reqwest::Client, url: &str) -> anyhow::Result<(f64, String)> {
    let started = Instant::now();
    let text = http
        .get(url)
        .send()
        .await?
        .error_for_status()?
        .text()
        .await?;
    Ok((started.elapsed().as_secs_f64() * 1000.0, text))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let dir = args
        .dir
        .clone()
        .unwrap_or_else(|| PathBuf::from("target/dashboard-bench"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    let dir = dir.canonicalize()?;
    let mut config = Config::default();
    config.server.listen = "127.0.0.1:0".parse()?;
    config.database.url = Secret::new(format!("sqlite://{}/ade.db?mode=rwc", dir.display()));
    config.storage.data_dir = dir.clone();
    config.audit.dir = dir.join("audit");
    config.audit.checkpoints_file = dir.join("audit-checkpoints.jsonl");
    config.audit.signing_key_file = dir.join("audit-signing-key.pem");
    config.runner.workdir = dir.join("runner");
    config.web.public = true;
    let ade = Service::start(&config, ServiceOptions::default()).await?;
    let store = Store::connect(StoreOptions {
        url: config.database.url.expose().to_owned(),
        max_connections: 2,
    })
    .await?;
    let seeded = Instant::now();
    let run = seed(&store, &args, &config.runner.workdir).await?;
    eprintln!(
        "seeded {} goals and a {}-line log in {:.1} s",
        args.goals,
        args.lines,
        seeded.elapsed().as_secs_f64()
    );

    let http = reqwest::Client::new();
    let base = format!("http://{}", ade.addr());
    let pages = [
        ("board", format!("{base}/")),
        ("run", format!("{base}/runs/{run}")),
    ];
    let mut captured = Vec::new();
    println!("| page | bytes | server median (ms) |");
    println!("| --- | --- | --- |");
    for (name, url) in &pages {
        let mut times = Vec::new();
        let mut body = String::new();
        for _ in 0..args.rounds {
            let (ms, text) = fetch(&http, url).await?;
            times.push(ms);
            body = text;
        }
        println!("| {name} | {} | {:.1} |", body.len(), median(times));
        captured.push((*name, body));
    }

    // The floor: the same HTML from memory, beside the same assets.
    let board = captured[0].1.clone();
    let run_page = captured[1].1.clone();
    let floor = axum::Router::new()
        .route(
            "/board",
            axum::routing::get(move || async move { axum::response::Html(board) }),
        )
        .route(
            "/run",
            axum::routing::get(move || async move { axum::response::Html(run_page) }),
        )
        .route("/assets/{name}", axum::routing::get(ade::web::html::asset));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let floor_base = format!("http://{}", listener.local_addr()?);
    tokio::spawn(async move { axum::serve(listener, floor).await });

    let profile = dir.join("chrome-profile");
    std::fs::create_dir_all(&profile)?;
    match Chrome::start(&profile).await {
        Ok(chrome) => {
            println!();
            println!("| page | ade first paint, median (ms) | floor first paint, median (ms) |");
            println!("| --- | --- | --- |");
            for ((name, url), floor_path) in pages.iter().zip(["/board", "/run"]) {
                let mut ade_ms = Vec::new();
                let mut floor_ms = Vec::new();
                for _ in 0..args.rounds {
                    ade_ms.push(chrome.first_paint(url).await?);
                    floor_ms.push(
                        chrome
                            .first_paint(&format!("{floor_base}{floor_path}"))
                            .await?,
                    );
                }
                println!(
                    "| {name} | {:.1} | {:.1} |",
                    median(ade_ms),
                    median(floor_ms)
                );
            }
        }
        Err(error) => eprintln!("no browser figures: {error:#}"),
    }

    // Fifty followers of that run.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let before = rss_kib();
    let mut open = Vec::new();
    for _ in 0..args.streams {
        let response = http
            .get(format!("{base}/runs/{run}/events?after=0&line=1"))
            .header("accept", "text/event-stream")
            .send()
            .await?;
        open.push(response);
    }
    // Each stream's first event is the whole log so far: read it, as a browser would.
    for response in &mut open {
        let mut seen = Vec::new();
        while !seen.windows(2).any(|w| w == b"\n\n") {
            match response.chunk().await? {
                Some(chunk) => seen.extend_from_slice(&chunk),
                None => break,
            }
        }
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    let after = rss_kib();
    println!();
    println!(
        "{} streams open on a {}-line log: resident memory {} MiB before, {} MiB after, {:.0} KiB a stream",
        args.streams,
        args.lines,
        before / 1024,
        after / 1024,
        after.saturating_sub(before) as f64 / args.streams as f64
    );
    drop(open);
    ade.shutdown().await?;
    Ok(())
}
