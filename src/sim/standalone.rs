//! `ade sim`: the simulator on its own, with a small seeded demo repository, so a separately
//! started `ade serve` can be pointed at it and driven through `/_sim/` (see docs/simulator.md).

use super::{NewRepo, SimOptions, Simulator};
use crate::forge::{BranchProtection, ForgeKind, Permission};
use std::net::SocketAddr;
use std::path::PathBuf;

/// What `ade sim` takes from its command line.
#[derive(Clone, Debug)]
pub struct StandaloneOptions {
    /// `--listen ADDR`.
    pub listen: SocketAddr,
    /// `--webhook-url URL`: where ade receives webhooks (`…/webhooks/github` or `…/webhooks/gitea`).
    pub webhook_url: Option<String>,
    /// `--forge github|gitea`.
    pub forge: ForgeKind,
    /// `--forgejo`: send Forgejo's headers too (Gitea dialect).
    pub forgejo: bool,
    /// `--data-dir DIR`: where the repositories and the app key go (a temp dir if absent).
    pub data_dir: Option<PathBuf>,
    /// `--webhook-secret`: the secret deliveries are signed with.
    pub webhook_secret: String,
}

impl StandaloneOptions {
    /// Defaults: GitHub on 127.0.0.1:3300, secret `sim-webhook-secret`.
    pub fn new(listen: SocketAddr) -> StandaloneOptions {
        StandaloneOptions {
            listen,
            webhook_url: None,
            forge: ForgeKind::Github,
            forgejo: false,
            data_dir: None,
            webhook_secret: "sim-webhook-secret".into(),
        }
    }
}

/// The demo repository every standalone simulator starts with.
pub const DEMO_REPO: &str = "octo/demo";

const DEMO_GOAL: &str = "Say hello properly.\n\n\
- [ ] Add a `greet(name)` function to src/lib.rs\n\
- [ ] Test `greet` in tests/greet.rs (after 1)\n\
- [ ] Mention `greet` in README.md (after 1)\n";

/// Starts the simulator with the demo data, prints how to point ade at it, and serves until
/// Ctrl-C. The simulator keeps its state in memory: each start begins from the demo data.
pub async fn run_standalone(options: StandaloneOptions) -> anyhow::Result<()> {
    let demo = start_demo(&options).await?;
    print_banner(&demo, &options);
    tokio::signal::ctrl_c().await?;
    println!("stopping the simulator");
    Ok(())
}

/// A running demo simulator and the credentials it printed.
pub struct Demo {
    /// The simulator.
    pub sim: Simulator,
    /// Where the GitHub App's private key was written.
    pub app_key_path: PathBuf,
    /// The `maintainer` user (maintain access).
    pub maintainer: super::SimUser,
    /// The `reader` user (read access).
    pub reader: super::SimUser,
    /// Gitea: ade's bot user, with write access.
    pub bot: Option<super::SimUser>,
    /// GitHub: the app's installation on the demo repository.
    pub installation: Option<i64>,
    /// The demo goal's issue number.
    pub issue: i64,
}

/// Starts the simulator and seeds the demo data, without printing or waiting: what
/// [`run_standalone`] does before it serves, and what its tests check.
pub async fn start_demo(options: &StandaloneOptions) -> anyhow::Result<Demo> {
    let data_dir = options
        .data_dir
        .clone()
        .unwrap_or_else(|| std::env::temp_dir().join(format!("ade-sim-{}", std::process::id())));
    let repositories = data_dir.join("repositories");
    if repositories.exists() {
        std::fs::remove_dir_all(&repositories)?;
    }
    std::fs::create_dir_all(&data_dir)?;
    let key_path = data_dir.join("app-private-key.pem");
    let key = match std::fs::read_to_string(&key_path) {
        Ok(pem) => super::AppKey::from_private_pem(&pem)?,
        Err(_) => {
            let key = tokio::task::spawn_blocking(super::AppKey::generate).await??;
            std::fs::write(&key_path, key.private_key_pem())?;
            key
        }
    };
    let mut sim_options = SimOptions::new(options.forge, &data_dir);
    sim_options.listen = options.listen;
    sim_options.forgejo = options.forgejo;
    sim_options.webhook_url = options.webhook_url.clone();
    sim_options.webhook_secret = options.webhook_secret.clone();
    sim_options.app_key = Some(key);
    let sim = Simulator::start(sim_options).await?;
    let seeded = seed(&sim).await?;
    Ok(Demo {
        sim,
        app_key_path: key_path,
        maintainer: seeded.maintainer,
        reader: seeded.reader,
        bot: seeded.bot,
        installation: seeded.installation,
        issue: seeded.issue,
    })
}

struct Seeded {
    maintainer: super::SimUser,
    reader: super::SimUser,
    bot: Option<super::SimUser>,
    installation: Option<i64>,
    issue: i64,
}

async fn seed(sim: &Simulator) -> anyhow::Result<Seeded> {
    let maintainer = sim.add_user("maintainer");
    let reader = sim.add_user("reader");
    sim.create_repo(
        NewRepo::new("octo", "demo")
            .file("README.md", "# demo\n\nA tiny library to try ade on.\n")
            .file(
                "Cargo.toml",
                "[package]\nname = \"demo\"\nversion = \"0.1.0\"\nedition = \"2024\"\n",
            )
            .file(
                "src/lib.rs",
                "//! The demo library.\n\npub fn answer() -> u32 {\n    42\n}\n",
            ),
    )
    .await?;
    sim.set_permission(DEMO_REPO, "maintainer", Permission::Maintain)?;
    sim.set_permission(DEMO_REPO, "reader", Permission::Read)?;
    sim.protect_branch(
        DEMO_REPO,
        "main",
        BranchProtection {
            required_approvals: 1,
            required_checks: vec!["ade/verify".into()],
            enforce_admins: false,
        },
    )?;
    sim.add_label(DEMO_REPO, "ade", "5319e7")?;
    let (bot, installation) = match sim.kind() {
        ForgeKind::Github => (None, Some(sim.install_app("octo", &[DEMO_REPO]))),
        ForgeKind::Gitea => {
            let bot = sim.add_bot("ade-bot");
            sim.set_permission(DEMO_REPO, "ade-bot", Permission::Write)?;
            (Some(bot), None)
        }
    };
    let issue = sim
        .open_issue(DEMO_REPO, "maintainer", "Greet people by name", DEMO_GOAL)
        .await?;
    Ok(Seeded {
        maintainer,
        reader,
        bot,
        installation,
        issue,
    })
}

fn print_banner(demo: &Demo, options: &StandaloneOptions) {
    let sim = &demo.sim;
    let seeded = demo;
    let key_path = &demo.app_key_path;
    println!(
        "forge simulator ({}) listening on {}",
        sim.kind(),
        sim.url()
    );
    println!(
        "  demo repository: {DEMO_REPO} (clone {})",
        sim.clone_url(DEMO_REPO)
    );
    println!("  demo goal: issue #{} with a task list", seeded.issue);
    println!(
        "  webhooks to: {} (secret: {})",
        options
            .webhook_url
            .as_deref()
            .unwrap_or("<none: set one with PUT /_sim/webhook>"),
        options.webhook_secret
    );
    println!("point ade at it with this in ade.toml:");
    match sim.kind() {
        ForgeKind::Github => {
            println!("  [github]");
            println!("  api_url = \"{}\"", sim.api_url());
            println!("  app_id = {}", sim.app_id());
            println!("  private_key_file = \"{}\"", key_path.display());
            println!("  webhook_secret = [\"{}\"]", options.webhook_secret);
            if let Some(id) = seeded.installation {
                println!("  (installation {id} covers {DEMO_REPO})");
            }
        }
        ForgeKind::Gitea => {
            println!("  [gitea]");
            println!("  url = \"{}\"", sim.url());
            if let Some(bot) = &seeded.bot {
                println!("  token = \"{}\"   # bot user {}", bot.token, bot.login);
            }
            println!("  webhook_secret = [\"{}\"]", options.webhook_secret);
        }
    }
    // Each forge's own word for the access: Gitea has no "maintain", its nearest is admin.
    let maintainer_access = match sim.kind() {
        ForgeKind::Github => "maintain",
        ForgeKind::Gitea => "admin",
    };
    println!(
        "users: maintainer ({maintainer_access}, token {}), reader (read, token {})",
        seeded.maintainer.token, seeded.reader.token
    );
    println!("drive it: see docs/simulator.md, e.g.");
    println!(
        "  curl -s -X POST {}/_sim/comments -H 'content-type: application/json' -d '{{\"number\":{},\"author\":\"maintainer\",\"body\":\"/ade plan\"}}'",
        sim.url(),
        seeded.issue
    );
}
