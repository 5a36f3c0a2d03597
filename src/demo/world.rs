//! The demo's world: a forge simulator with the demo repository and its people, and an embedded
//! ade pointed at it, configured by an `ade.toml` the demo writes into its data folder (so the
//! operator can read what a working configuration looks like, and start `ade serve` with it).

use super::DemoForge;
use super::script::{
    AGENT, AGENT_SCRIPT, MAINTAINER, PLANNER, PLANNER_SCRIPT, REPO, REVIEWER, files,
};
use crate::config::Config;
use crate::forge::{BranchProtection, ForgeKind, Permission};
use crate::service::{Service, ServiceOptions};
use crate::sim::{NewRepo, SimOptions, Simulator};
use anyhow::Context;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

/// The simulator and ade, running, and where their files are.
pub struct World {
    /// The forge.
    pub sim: Simulator,
    /// ade.
    pub ade: Service,
    /// ade's login on the forge.
    pub bot: String,
    /// Where ade listens (its webhooks, run logs and health).
    pub ade_url: String,
}

impl World {
    /// Starts the simulator playing `forge` with the demo repository, and ade configured for it,
    /// everything under `data_dir`.
    pub async fn start(forge: DemoForge, data_dir: &Path) -> anyhow::Result<World> {
        open_folder(data_dir)?;
        let kind = forge.kind();
        let secret = format!("demo-{:016x}", fastrand::u64(..));
        let mut options = SimOptions::new(kind, data_dir.join("forge"));
        options.forgejo = forge == DemoForge::Forgejo;
        options.webhook_secret = secret.clone();
        let sim = Simulator::start(options)
            .await
            .context("start the forge simulator")?;

        let (owner, name) = REPO.split_once('/').expect("REPO is owner/name");
        let mut repo = NewRepo::new(owner, name);
        repo.private = false;
        repo.description = "The ade demo".into();
        for (path, content) in files() {
            repo = repo.file(path, content);
        }
        sim.create_repo(repo)
            .await
            .context("create the demo repository")?;
        for login in [MAINTAINER, REVIEWER] {
            sim.add_user(login);
            sim.set_permission(REPO, login, Permission::Maintain)?;
        }
        for label in ["ade", "ade:rejected"] {
            sim.add_label(REPO, label, "#5319e7")?;
        }
        sim.protect_branch(
            REPO,
            "main",
            BranchProtection {
                required_approvals: 1,
                required_checks: vec!["ade/verify".into()],
                enforce_admins: true,
            },
        )?;

        let forge_section = match kind {
            ForgeKind::Github => {
                sim.install_app(owner, &[REPO]);
                let key = data_dir.join("app-private-key.pem");
                std::fs::write(&key, sim.app_private_key_pem())
                    .with_context(|| format!("write {}", key.display()))?;
                format!(
                    "[github]\napi_url = {}\napp_id = {}\nprivate_key_file = {}\nwebhook_secret = {}\n",
                    quote(sim.url()),
                    sim.app_id(),
                    quote(&key.display().to_string()),
                    quote(&secret),
                )
            }
            ForgeKind::Gitea => {
                let bot = sim.add_bot("ade-bot");
                sim.set_permission(REPO, &bot.login, Permission::Write)?;
                format!(
                    "[gitea]\nurl = {}\ntoken = {}\nwebhook_secret = {}\n",
                    quote(sim.url()),
                    quote(&bot.token),
                    quote(&secret),
                )
            }
        };
        let bot = match kind {
            ForgeKind::Github => sim.app_bot_login(),
            ForgeKind::Gitea => "ade-bot".to_owned(),
        };

        let listen = free_loopback_port()?;
        let ade_url = format!("http://{listen}");
        let toml = ade_toml(&ade_url, listen, data_dir, &forge_section);
        let file = data_dir.join("ade.toml");
        std::fs::write(&file, &toml).with_context(|| format!("write {}", file.display()))?;
        let config = Config::load(Some(&file), Vec::<(String, String)>::new())
            .map_err(|e| anyhow::anyhow!("the demo's ade.toml: {e}"))?;
        let ade = Service::start(&config, ServiceOptions::default())
            .await
            .context("start ade")?;
        sim.set_webhook_url(Some(format!("{ade_url}/webhooks/{kind}")));
        Ok(World {
            sim,
            ade,
            bot,
            ade_url,
        })
    }

    /// Where a person reads `path` of the demo repository through the forge's API.
    pub fn api(&self, path: &str) -> String {
        format!("{}/repos/{REPO}/{path}", self.sim.api_url())
    }

    /// Where a person reads `ade/verify` on commit `sha`: GitHub's check runs, Gitea's statuses.
    pub fn checks_url(&self, sha: &str) -> String {
        match self.sim.kind() {
            ForgeKind::Github => self.api(&format!("commits/{sha}/check-runs")),
            ForgeKind::Gitea => self.api(&format!("commits/{sha}/statuses")),
        }
    }
}

/// The demo's `ade.toml`: ade on `listen`, its files under `data_dir`, the demo agent (its script
/// given to `/bin/sh -c`, braces doubled so that none reads as a placeholder; run as `nobody`
/// when ade can switch users, else in the bubblewrap sandbox), and the forge section.
fn ade_toml(
    public_url: &str,
    listen: std::net::SocketAddr,
    data_dir: &Path,
    forge: &str,
) -> String {
    let dir = |name: &str| quote(&data_dir.join(name).display().to_string());
    // Agents never run as ade's own user: as `nobody` where ade can switch users, else in
    // bubblewrap's sandbox (docs/agents.md, Who agents run as).
    let (agent_user, environment) = if crate::runner::env::can_switch_users() {
        ("agent_user = \"nobody\"\n", "worktree")
    } else {
        ("", "container")
    };
    // A planner's worktree is read-only: Landlock makes it so in `worktree`, a read-only mount
    // in `container` (docs/agents.md, Planners).
    let landlock = matches!(
        crate::runner::env::landlock_support(),
        crate::runner::env::LandlockSupport::Available { .. }
    );
    let planner_environment = if environment == "worktree" && landlock {
        "worktree"
    } else {
        "container"
    };
    format!(
        "# Written by `ade demo`: an ade pointed at the forge simulator.\n\n\
         [server]\nlisten = \"{listen}\"\npublic_url = {}\n\n\
         [database]\nurl = {}\n\n\
         [storage]\ndata_dir = {}\n\n\
         {forge}\n\
         [jobs]\npoll_interval_ms = 200\n\n\
         [runner]\nworkdir = {}\nmax_parallel = 3\n{agent_user}\n\
         [agents.{AGENT}]\ncommand = [\"/bin/sh\", \"-c\", {}]\nprompt = \"file\"\n\
         trust = \"trusted\"\nenvironment = \"{environment}\"\ntimeout_secs = 60\n\n\
         [agents.{PLANNER}]\ncommand = [\"/bin/sh\", \"-c\", {}]\nprompt = \"file\"\n\
         trust = \"trusted\"\nenvironment = \"{planner_environment}\"\ntimeout_secs = 60\n",
        quote(public_url),
        quote(&format!("sqlite://{}", data_dir.join("ade.db").display())),
        dir("data"),
        dir("runner"),
        quote(&AGENT_SCRIPT.replace('{', "{{").replace('}', "}}")),
        quote(&PLANNER_SCRIPT.replace('{', "{{").replace('}', "}}")),
    )
}

/// A TOML string holding `value` exactly.
fn quote(value: &str) -> String {
    toml::Value::String(value.to_owned()).to_string()
}

/// Creates `dir` if needed, open to every user to enter: the agent user must reach the worktrees
/// under it.
fn open_folder(dir: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("create {}", dir.display()))?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755))
        .with_context(|| format!("open {} to the agent user", dir.display()))
}

/// A loopback address no one listens on now, for ade to take (its public URL must be known before
/// it starts).
fn free_loopback_port() -> anyhow::Result<std::net::SocketAddr> {
    let listener =
        std::net::TcpListener::bind("127.0.0.1:0").context("find a free loopback port")?;
    Ok(listener.local_addr()?)
}
