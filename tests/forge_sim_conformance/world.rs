//! One simulator, seeded with a repository and a user at every access level, and the real client
//! of its dialect pointed at it.

use ade::clock::SystemClock;
use ade::forge::gitea::GiteaForge;
use ade::forge::github::GithubForge;
use ade::forge::{ClientOptions, Forge, ForgeKind, Permission, RepoRef, RetryPolicy};
use ade::secret::Secret;
use ade::sim::{NewRepo, SimOptions, Simulator};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// The forge a scenario plays.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dialect {
    Github,
    Gitea,
    Forgejo,
}

impl Dialect {
    pub fn kind(self) -> ForgeKind {
        match self {
            Dialect::Github => ForgeKind::Github,
            Dialect::Gitea | Dialect::Forgejo => ForgeKind::Gitea,
        }
    }

    pub fn tag(self) -> &'static str {
        match self {
            Dialect::Github => "github",
            Dialect::Gitea => "gitea",
            Dialect::Forgejo => "forgejo",
        }
    }
}

/// The repository every scenario works in.
pub const REPO: &str = "octo/demo";
/// Another repository of the same owner, which ade's app and bot may reach too.
pub const OTHER: &str = "octo/other";
pub const README: &str = "# demo\n";
pub const LIB: &str = "pub fn answer() -> u32 {\n    42\n}\n";
/// A name that needs percent-encoding in a URL path.
pub const SPACED: &str = "docs/read me.md";
pub const SPACED_TEXT: &str = "spaces and ünïcödé\n";

/// Each access level, the user who has it, and what the client should report on each dialect
/// (Gitea has no maintain or triage: they read as admin and read).
pub const LEVELS: &[(&str, Permission, Permission)] = &[
    ("octo", Permission::Admin, Permission::Admin),
    ("maintainer", Permission::Maintain, Permission::Admin),
    ("writer", Permission::Write, Permission::Write),
    ("triager", Permission::Triage, Permission::Read),
    ("reader", Permission::Read, Permission::Read),
    ("stranger", Permission::None, Permission::None),
    ("nobody-by-this-name", Permission::None, Permission::None),
];

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

/// What every step of a scenario works with.
pub struct World {
    pub dialect: Dialect,
    pub sim: Simulator,
    pub forge: Box<dyn Forge>,
    pub repo: RepoRef,
    /// The login the client should report and post as.
    pub bot: String,
    pub dir: TempDir,
}

impl World {
    pub async fn start(dialect: Dialect) -> World {
        let dir = TempDir::new(&format!("sim-conformance-{}", dialect.tag()));
        let mut options = SimOptions::new(dialect.kind(), dir.0.join("sim"));
        options.forgejo = dialect == Dialect::Forgejo;
        // Pages of 100 comments are far past the default 64 KiB, and every answer is checked.
        options.recorded_response_limit = 16 * 1024 * 1024;
        let sim = Simulator::start(options).await.expect("simulator starts");
        sim.create_repo(
            NewRepo::new("octo", "demo")
                .file("README.md", README)
                .file("src/lib.rs", LIB)
                .file(SPACED, SPACED_TEXT),
        )
        .await
        .expect("repository");
        sim.create_repo(NewRepo::new("octo", "other").file("README.md", "# other\n"))
            .await
            .expect("another repository");
        for (login, level, _) in LEVELS {
            if *login == "octo" || login.starts_with("nobody") {
                continue;
            }
            sim.add_user(login);
            sim.set_permission(REPO, login, *level).unwrap();
        }
        sim.add_label(REPO, "ade", "#0e8a16").unwrap();
        sim.add_label(REPO, "bug", "d73a4a").unwrap();
        let (forge, bot): (Box<dyn Forge>, String) = match dialect {
            Dialect::Github => {
                sim.install_app("octo", &[REPO, OTHER]);
                let client = GithubForge::from_key(
                    sim.url(),
                    sim.app_id() as u64,
                    sim.app_private_key_pem().as_bytes(),
                    client_options(),
                )
                .expect("GitHub client");
                (Box::new(client), sim.app_bot_login())
            }
            Dialect::Gitea | Dialect::Forgejo => {
                let bot = sim.add_bot("ade-bot");
                // Gitea shows permissions and protection rules to repository admins only.
                sim.set_permission(REPO, "ade-bot", Permission::Admin)
                    .unwrap();
                sim.set_permission(OTHER, "ade-bot", Permission::Write)
                    .unwrap();
                let client =
                    GiteaForge::with_token(sim.url(), Secret::new(bot.token), client_options())
                        .expect("Gitea client");
                (Box::new(client), bot.login)
            }
        };
        World {
            dialect,
            sim,
            forge,
            repo: RepoRef::parse(REPO, None).unwrap(),
            bot,
            dir,
        }
    }

    /// The level the client should report for a user: GitHub's ladder, or Gitea's shorter one.
    pub fn expected(&self, github: Permission, gitea: Permission) -> Permission {
        match self.dialect {
            Dialect::Github => github,
            Dialect::Gitea | Dialect::Forgejo => gitea,
        }
    }
}

/// No retries worth waiting for: the simulator answers at once, and a failure should show.
fn client_options() -> ClientOptions {
    ClientOptions {
        retry: RetryPolicy {
            budget: Duration::from_secs(20),
            transient_retries: 1,
            rate_limit_retries: 1,
            backoff_base: Duration::from_millis(10),
            backoff_max: Duration::from_millis(40),
            request_timeout: Duration::from_secs(10),
        },
        clock: Arc::new(SystemClock),
    }
}
