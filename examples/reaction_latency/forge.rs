//! The forge side: the simulator, in this process, with one repository, a maintainer who posts the
//! commands, and ade's identity on it (the GitHub App installed on the repository, or Gitea's bot
//! user with admin access and a token), and the `ADE_*` variables that point ade at it.

use ::ade::forge::{ForgeKind, Permission};
use ::ade::sim::{NewRepo, SimOptions, Simulator};
use std::path::{Path, PathBuf};

/// The repository the comments go to.
pub const REPO: &str = "acme/widgets";
/// Who posts them: a maintainer (any user may run `/ade help`; a maintainer is the usual case).
pub const MAINTAINER: &str = "mia";

/// A seeded simulator.
pub struct Forge {
    /// The simulator.
    pub sim: Simulator,
    /// The login ade acts as.
    pub bot: String,
    kind: ForgeKind,
    secret: String,
    /// GitHub: the app's private key, written for ade.
    key_file: PathBuf,
    /// Gitea: the bot's token.
    token: Option<String>,
}

impl Forge {
    /// Starts the simulator (repositories under `run_dir/sim`) and seeds it.
    pub async fn start(kind: ForgeKind, run_dir: &Path, secret: &str) -> anyhow::Result<Forge> {
        let mut options = SimOptions::new(kind, run_dir.join("sim"));
        options.webhook_secret = secret.to_string();
        let sim = Simulator::start(options).await?;
        sim.create_repo(NewRepo::new("acme", "widgets").file("README.md", "# widgets\n"))
            .await?;
        sim.add_user(MAINTAINER);
        sim.set_permission(REPO, MAINTAINER, Permission::Maintain)?;
        let key_file = run_dir.join("app-private-key.pem");
        let (bot, token) = match kind {
            ForgeKind::Github => {
                sim.install_app("acme", &[REPO]);
                std::fs::write(&key_file, sim.app_private_key_pem())?;
                (sim.app_bot_login(), None)
            }
            ForgeKind::Gitea => {
                let bot = sim.add_bot("ade-bot");
                sim.set_permission(REPO, &bot.login, Permission::Admin)?;
                (bot.login, Some(bot.token))
            }
        };
        Ok(Forge {
            sim,
            bot,
            kind,
            secret: secret.to_string(),
            key_file,
            token,
        })
    }

    /// The `ADE_*` variables that point ade at this forge.
    pub fn ade_env(&self) -> Vec<(String, String)> {
        let url = self.sim.url().to_string();
        match self.kind {
            ForgeKind::Github => vec![
                ("ADE_GITHUB__API_URL".into(), url),
                ("ADE_GITHUB__APP_ID".into(), self.sim.app_id().to_string()),
                (
                    "ADE_GITHUB__PRIVATE_KEY_FILE".into(),
                    self.key_file.display().to_string(),
                ),
                ("ADE_GITHUB__WEBHOOK_SECRET".into(), self.secret.clone()),
            ],
            ForgeKind::Gitea => vec![
                ("ADE_GITEA__URL".into(), url),
                (
                    "ADE_GITEA__TOKEN".into(),
                    self.token.clone().unwrap_or_default(),
                ),
                ("ADE_GITEA__WEBHOOK_SECRET".into(), self.secret.clone()),
            ],
        }
    }
}
