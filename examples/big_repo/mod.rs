//! What the runner benchmarks share (`run_start`, `plan_latency`): a forge simulator with a big
//! repository, ade started against it with its embedded runner, and waiting for the runner's
//! background git work to end. Each example includes this file as a module.

use ade::config::Config;
use ade::forge::{ForgeKind, Permission};
use ade::secret::Secret;
use ade::service::{Service, ServiceOptions};
use ade::sim::{NewRepo, SimOptions, Simulator};
use anyhow::Context;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The repository every round plans in.
pub const REPO: &str = "acme/widgets";
/// The maintainer who comments.
pub const MAINTAINER: &str = "mia";
const SECRET: &str = "big-repo-bench-webhook-secret";

/// An empty folder for one benchmark's data: `dir`, or `target/<default>`, cleared.
pub fn fresh_dir(dir: Option<PathBuf>, default: &str) -> anyhow::Result<PathBuf> {
    let dir = dir.unwrap_or_else(|| PathBuf::from("target").join(default));
    if dir.exists() {
        std::fs::remove_dir_all(&dir).context("clear the run folder")?;
    }
    std::fs::create_dir_all(&dir)?;
    Ok(dir.canonicalize()?)
}

/// The simulator (GitHub dialect) with `REPO` holding `files` generated source files and the
/// policy `policy`, the maintainer and the app installed.
pub async fn forge(dir: &Path, files: usize, policy: &str) -> anyhow::Result<Simulator> {
    let mut options = SimOptions::new(ForgeKind::Github, dir.join("sim"));
    options.webhook_secret = SECRET.into();
    let sim = Simulator::start(options).await?;
    let seeded = Instant::now();
    let mut repo = NewRepo::new("acme", "widgets")
        .file("README.md", "# widgets\n")
        .file(".ade/config.toml", policy);
    for i in 0..files {
        repo = repo.file(
            &format!("src/m{:03}/f{i:05}.rs", i % 200),
            format!("pub fn f{i}() -> u32 {{ {i} }}\n"),
        );
    }
    sim.create_repo(repo).await?;
    eprintln!(
        "seeded {REPO} with {files} files in {:.1} s",
        seeded.elapsed().as_secs_f64()
    );
    sim.add_user(MAINTAINER);
    sim.set_permission(REPO, MAINTAINER, Permission::Maintain)?;
    sim.install_app("acme", &[REPO]);
    Ok(sim)
}

/// ade, with its embedded runner registering `agents` (TOML `[agents.*]` tables), pointed at
/// `sim` and receiving its webhooks.
pub async fn ade(sim: &Simulator, dir: &Path, agents: &str) -> anyhow::Result<Service> {
    let key_file = dir.join("app.pem");
    std::fs::write(&key_file, sim.app_private_key_pem())?;
    let runner_toml = dir.join("runner.toml");
    std::fs::write(
        &runner_toml,
        format!(
            "[runner]\nworkdir = {:?}\nmax_parallel = 2\nagent_user = \"nobody\"\n\n{agents}",
            dir.join("runner").display().to_string()
        ),
    )?;
    let mut config = Config::load(
        Some(&runner_toml),
        vec![(
            "ADE_STORAGE__DATA_DIR".to_string(),
            dir.join("data").display().to_string(),
        )],
    )?;
    config.server.listen = "127.0.0.1:0".parse()?;
    config.github.app_id = Some(sim.app_id() as u64);
    config.github.private_key_file = Some(key_file);
    config.github.api_url = sim.url().to_string();
    config.github.webhook_secrets = vec![Secret::new(SECRET)];
    let ade = Service::start(&config, ServiceOptions::default()).await?;
    sim.set_webhook_url(Some(format!("http://{}/webhooks/github", ade.addr())));
    Ok(ade)
}

/// Waits until no `git` process of this one has run for a second: the worktree pool makes its
/// next worktree in the background (seconds on 20,000 files), and a warm runner is one where
/// that is done.
pub async fn wait_for_no_git() {
    let me = std::process::id().to_string();
    let mut quiet_since = Instant::now();
    while quiet_since.elapsed() < Duration::from_secs(1) {
        let busy = std::fs::read_dir("/proc")
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|entry| std::fs::read_to_string(entry.path().join("stat")).ok())
            .any(|stat| {
                let Some(close) = stat.rfind(')') else {
                    return false;
                };
                let name = stat.split_once('(').map(|(_, rest)| rest).unwrap_or("");
                let parent = stat[close + 1..].split_whitespace().nth(1);
                name.starts_with("git") && parent == Some(me.as_str())
            });
        if busy {
            quiet_since = Instant::now();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
