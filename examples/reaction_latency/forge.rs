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

/// The repository's command rates, per user and in all: the rate limits are on (every command
/// takes its tokens, as in production) and the benchmark's traffic stays under them.
pub const COMMANDS_PER_HOUR: u32 = 1_000_000;

/// The repository's `.ade/config.toml`.
fn policy() -> String {
    format!(
        "[rate_limits]\ncommands_per_user_per_hour = {COMMANDS_PER_HOUR}\n\
         commands_per_hour = {COMMANDS_PER_HOUR}\n"
    )
}

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
    /// ade's configuration file: the server's caps on command rates, raised.
    config_file: PathBuf,
}

impl Forge {
    /// Starts the simulator (repositories under `run_dir/sim`) and seeds it.
    pub async fn start(kind: ForgeKind, run_dir: &Path, secret: &str) -> anyhow::Result<Forge> {
        let mut options = SimOptions::new(kind, run_dir.join("sim"));
        options.webhook_secret = secret.to_string();
        let sim = Simulator::start(options).await?;
        sim.create_repo(
            NewRepo::new("acme", "widgets")
                .file("README.md", "# widgets\n")
                .file(".ade/config.toml", policy()),
        )
        .await?;
        sim.add_user(MAINTAINER);
        sim.set_permission(REPO, MAINTAINER, Permission::Maintain)?;
        let config_file = run_dir.join("ade.toml");
        std::fs::write(
            &config_file,
            format!(
                "[policy.limits]\nmax_commands_per_user_per_hour = {COMMANDS_PER_HOUR}\n\
                 max_commands_per_hour = {COMMANDS_PER_HOUR}\n"
            ),
        )?;
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
            config_file,
        })
    }

    /// The `ADE_*` variables that point ade at this forge, and that let its repository's command
    /// rates be as high as [`COMMANDS_PER_HOUR`].
    pub fn ade_env(&self) -> Vec<(String, String)> {
        let url = self.sim.url().to_string();
        let mut env = vec![("ADE_CONFIG".into(), self.config_file.display().to_string())];
        env.extend(self.dialect_env(url));
        env
    }

    fn dialect_env(&self, url: String) -> Vec<(String, String)> {
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
