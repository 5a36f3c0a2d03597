//! A maintainer's story, end to end: the forge simulator plays GitHub or Gitea/Forgejo with a
//! seeded repository and people, ade runs against it with its real clients, and both talk real
//! HTTP (webhooks one way, REST calls the other).

use super::conformance::Conformance;
use super::{TestDb, db, eventually};
use crate::conformance::record::Dialect;
use ade::forge::{ClientOptions, ForgeKind, Permission, RetryPolicy};
use ade::secret::Secret;
use ade::service::{Service, ServiceOptions};
use ade::sim::{NewRepo, SimOptions, Simulator};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

/// The repository every story happens in.
pub const REPO: &str = "acme/widgets";
/// A maintainer: may plan and approve.
pub const MAINTAINER: &str = "mia";
/// A reader: may ask for status and help only.
pub const READER: &str = "rita";
/// A contributor with write access: may plan, not approve.
pub const WRITER: &str = "wes";
/// A second maintainer: reviews what another maintainer asked for.
pub const REVIEWER: &str = "max";

/// How long a story waits for ade to do something.
pub const PATIENCE: Duration = Duration::from_secs(30);

/// A running simulator and a running ade pointed at each other.
pub struct Story {
    /// Checks, when the story ends, every answer and webhook of the forge against the forge's
    /// published descriptions.
    conformance: Conformance,
    /// The forge.
    pub sim: Simulator,
    /// ade.
    pub ade: Service,
    /// ade's database and scratch folder, kept for the life of the story (dropping it deletes the
    /// folder).
    _db: TestDb,
    /// The login ade posts as.
    pub bot: String,
    kind: ForgeKind,
    config: ade::config::Config,
    clients: ClientOptions,
    /// The forge's clock, which a story may set behind ade's.
    forge_clock: Arc<LaggingClock>,
}

/// The system clock, `lag_ms` behind: a forge whose times are earlier than ade's.
#[derive(Default)]
pub struct LaggingClock {
    lag_ms: AtomicI64,
}

impl ade::clock::Clock for LaggingClock {
    fn now_ms(&self) -> i64 {
        ade::clock::unix_ms() - self.lag_ms.load(Ordering::SeqCst)
    }
}

impl Story {
    /// A story on GitHub.
    pub async fn github() -> Story {
        Story::start(ForgeKind::Github, false).await
    }

    /// A story on Gitea.
    pub async fn gitea() -> Story {
        Story::start(ForgeKind::Gitea, false).await
    }

    /// A story on Forgejo (the Gitea dialect with Forgejo's headers).
    pub async fn forgejo() -> Story {
        Story::start(ForgeKind::Gitea, true).await
    }

    async fn start(kind: ForgeKind, forgejo: bool) -> Story {
        Story::start_with(kind, forgejo, &[], |_, _| {}).await
    }

    /// A story whose repository holds `files` (besides its README) and whose ade configuration
    /// `tweak` adjusts; `tweak` also gets the story's scratch folder (for runner workdirs).
    pub async fn start_with(
        kind: ForgeKind,
        forgejo: bool,
        files: &[(&str, &str)],
        tweak: impl FnOnce(&mut ade::config::Config, &std::path::Path),
    ) -> Story {
        Story::start_on(db::sqlite(), kind, forgejo, files, tweak).await
    }

    /// [`Story::start_with`] on the database `db`.
    pub async fn start_on(
        db: TestDb,
        kind: ForgeKind,
        forgejo: bool,
        files: &[(&str, &str)],
        tweak: impl FnOnce(&mut ade::config::Config, &std::path::Path),
    ) -> Story {
        Story::start_with_clients(db, kind, forgejo, files, tweak, clients()).await
    }

    /// [`Story::start_on`] with ade's forge clients built with `clients`.
    pub async fn start_with_clients(
        db: TestDb,
        kind: ForgeKind,
        forgejo: bool,
        files: &[(&str, &str)],
        tweak: impl FnOnce(&mut ade::config::Config, &std::path::Path),
        clients: ClientOptions,
    ) -> Story {
        Story::start_full(db, kind, forgejo, files, tweak, clients, |_, _| {}).await
    }

    /// A story whose ade serves its dashboard at a known loopback address, with sign-in through
    /// an OAuth application registered on the simulator; `public` opens reading to everyone.
    pub async fn with_dashboard(kind: ForgeKind, forgejo: bool, public: bool) -> Story {
        Story::dashboard_with(kind, forgejo, public, &[], |_, _| {}).await
    }

    /// [`Story::with_dashboard`] whose repository holds `files` and whose configuration `tweak`
    /// adjusts (a runner, agents).
    pub async fn dashboard_with(
        kind: ForgeKind,
        forgejo: bool,
        public: bool,
        files: &[(&str, &str)],
        tweak: impl FnOnce(&mut ade::config::Config, &std::path::Path),
    ) -> Story {
        Story::start_full(
            db::sqlite(),
            kind,
            forgejo,
            files,
            tweak,
            clients(),
            move |config, sim| {
                let port = std::net::TcpListener::bind("127.0.0.1:0")
                    .and_then(|listener| listener.local_addr())
                    .expect("a free port")
                    .port();
                let base = format!("http://127.0.0.1:{port}");
                config.server.listen = format!("127.0.0.1:{port}").parse().unwrap();
                config.server.public_url = Some(base.clone());
                let app = sim.add_oauth_app(&format!("{base}/signin/{kind}/callback"));
                config.web = ade::web::WebConfig {
                    public,
                    clients: vec![ade::web::OAuthClient {
                        forge: kind,
                        client_id: app.client_id,
                        client_secret: Secret::new(app.client_secret),
                        web_url: sim.url().to_owned(),
                        api_url: sim.api_url(),
                    }],
                    secure_cookies: false,
                    public_url: Some(base),
                    forge_urls: vec![(kind, sim.url().to_owned())],
                    ..ade::web::WebConfig::default()
                };
            },
        )
        .await
    }

    async fn start_full(
        db: TestDb,
        kind: ForgeKind,
        forgejo: bool,
        files: &[(&str, &str)],
        tweak: impl FnOnce(&mut ade::config::Config, &std::path::Path),
        clients: ClientOptions,
        site: impl FnOnce(&mut ade::config::Config, &Simulator),
    ) -> Story {
        let seeded = Seeded::start(&db, kind, forgejo, files).await;
        let mut config = super::config(&db);
        tweak(&mut config, &db.dir);
        seeded.configure(&mut config);
        site(&mut config, &seeded.sim);
        let Seeded {
            sim,
            bot,
            forge_clock,
            ..
        } = seeded;
        let ade = start_pointed_at(&sim, kind, &config, &clients).await;
        Story {
            conformance: Conformance::new(&sim, Dialect::of(kind, forgejo)),
            sim,
            ade,
            _db: db,
            bot,
            kind,
            config,
            clients,
            forge_clock,
        }
    }

    /// Another ade on the story's database, as a second replica behind a load balancer: the
    /// forge's webhooks still go to the first, and what reaches this one is the test's to send.
    /// It has no runner (runs stay with the first). Replicas share a database only on
    /// PostgreSQL.
    pub async fn replica(&self) -> Service {
        let mut config = self.config.clone();
        config.agents = Default::default();
        Service::start(
            &config,
            ServiceOptions {
                clients: self.clients.clone(),
                ..ServiceOptions::default()
            },
        )
        .await
        .expect("the replica starts")
    }

    /// A client of the story's database of its own, beside ade's.
    pub async fn database(&self) -> ade::store::Store {
        self._db.store().await
    }

    /// The URL of the story's database, for an `ade` command run beside the service.
    pub fn database_url(&self) -> String {
        self._db.url.clone()
    }

    /// Whether the story's database is PostgreSQL.
    pub fn on_postgres(&self) -> bool {
        self._db.name == "postgres"
    }

    /// The forge's clock falls `lag` behind ade's from now on: what it creates is stamped earlier
    /// than what ade makes at the same moment.
    pub fn forge_clock_behind(&self, lag: Duration) {
        self.forge_clock
            .lag_ms
            .store(lag.as_millis() as i64, Ordering::SeqCst);
    }

    /// What the check of the forge's answers and webhooks finds so far (the story's teardown
    /// runs it too, and fails on a departure).
    pub fn forge_conformance(&self) -> crate::conformance::record::Report {
        self.conformance.report()
    }

    /// The story's scratch folder (database, runner workdir, configuration files).
    pub fn config_dir(&self) -> std::path::PathBuf {
        self._db.dir.clone()
    }

    /// Every audit record ade wrote so far, in chain order.
    pub fn audit_records(&self) -> Vec<serde_json::Value> {
        audit_records_in(&self.config_dir().join("audit"))
    }

    /// Where ade's dashboard is reached, when the story set it.
    pub fn ade_public_url(&self) -> Option<String> {
        self.config.server.public_url.clone()
    }

    /// The forge the story plays.
    pub fn kind(&self) -> ForgeKind {
        self.kind
    }

    /// Kills ade where it stands, the way a crash would, and starts it again on the same database
    /// with its configuration changed by `tweak`.
    pub async fn crash_and_restart(self, tweak: impl FnOnce(&mut ade::config::Config)) -> Story {
        let Story {
            conformance,
            sim,
            ade,
            _db,
            bot,
            kind,
            mut config,
            clients,
            forge_clock,
        } = self;
        ade.abort();
        tweak(&mut config);
        let ade = start_pointed_at(&sim, kind, &config, &clients).await;
        Story {
            conformance,
            sim,
            ade,
            _db,
            bot,
            kind,
            config,
            clients,
            forge_clock,
        }
    }

    /// `author` opens an issue; returns its number.
    pub async fn issue(&self, author: &str, title: &str, body: &str) -> i64 {
        self.sim
            .open_issue(REPO, author, title, body)
            .await
            .expect("the issue opens")
    }

    /// `author` edits issue `number`'s title and body.
    pub async fn edit_issue(&self, number: i64, author: &str, title: &str, body: &str) {
        self.sim
            .edit_issue(REPO, number, author, title, body)
            .await
            .expect("the issue is edited");
    }

    /// The maintainer pushes `files` (`None` deletes one) to the default branch; returns the new
    /// commit.
    pub async fn push_to_main(&self, files: &[(&str, Option<&str>)], message: &str) -> String {
        self.sim
            .push(REPO, MAINTAINER, "main", files, message)
            .await
            .expect("the push lands")
    }

    /// `author` comments on issue `number`; returns the comment id.
    pub async fn comment(&self, number: i64, author: &str, body: &str) -> i64 {
        self.sim
            .comment(REPO, number, author, body)
            .await
            .expect("the comment posts")
    }

    /// ade's comments on issue `number`, oldest first.
    pub fn bot_comments(&self, number: i64) -> Vec<String> {
        self.sim
            .comments(REPO, number)
            .into_iter()
            .filter(|c| c.author == self.bot)
            .map(|c| c.body)
            .collect()
    }

    /// ade's plan comment on issue `number`, if posted.
    pub fn plan_comment(&self, number: i64) -> Option<String> {
        let marker = format!("<!-- ade:plan:{number} -->");
        self.bot_comments(number)
            .into_iter()
            .find(|b| b.contains(&marker))
    }

    /// ade's replies on issue `number` (its comments other than the plan), oldest first.
    pub fn replies(&self, number: i64) -> Vec<String> {
        let marker = format!("<!-- ade:plan:{number} -->");
        self.bot_comments(number)
            .into_iter()
            .filter(|b| !b.contains(&marker))
            .collect()
    }

    /// The reactions on a comment, by ade.
    pub fn reactions(&self, comment_id: i64) -> Vec<String> {
        self.sim
            .reactions(REPO, comment_id)
            .into_iter()
            .filter(|r| r.user == self.bot)
            .map(|r| r.content)
            .collect()
    }

    /// Waits until `check` sees what it wants on the forge.
    pub async fn until<T>(&self, what: &str, check: impl Fn(&Story) -> Option<T>) -> T {
        self.eventually(PATIENCE, what, || async { check(self) })
            .await
    }

    /// Polls `check` as [`eventually`] does; on a timeout the panic tells where ade stood: its
    /// jobs, runs and the forge's pull requests.
    pub async fn eventually<T, F, Fut>(&self, timeout: Duration, what: &str, check: F) -> T
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Option<T>>,
    {
        match super::poll(timeout, what, check).await {
            Some(value) => value,
            None => panic!(
                "timed out after {timeout:?} waiting for {what}\n{}",
                self.where_ade_stands().await
            ),
        }
    }

    /// ade's jobs and runs and the forge's pull requests, for a failed story's message.
    pub async fn where_ade_stands(&self) -> String {
        use sqlx::Row;
        let mut said = String::from("jobs (kind, state, attempt, error):\n");
        let Ok(mut conn) = self.ade.store().reader().await else {
            return said + "  (no connection)\n";
        };
        let jobs = sqlx::query(
            "SELECT kind, state, attempt, COALESCE(last_error, '') FROM jobs ORDER BY id",
        )
        .fetch_all(&mut *conn)
        .await
        .unwrap_or_default();
        for job in &jobs {
            let error: String = job.try_get(3).unwrap_or_default();
            said += &format!(
                "  {} {} {} {}\n",
                job.try_get::<String, _>(0).unwrap_or_default(),
                job.try_get::<String, _>(1).unwrap_or_default(),
                job.try_get::<i64, _>(2).unwrap_or_default(),
                error.chars().take(300).collect::<String>()
            );
        }
        said += "runs (branch, attempt, state):\n";
        for run in ade::store::runs::all_runs(&mut conn)
            .await
            .unwrap_or_default()
        {
            said += &format!("  {} {} {:?}\n", run.branch, run.attempt, run.state);
        }
        said += "pull requests (number, head, open, draft, merged):\n";
        for pull in self.sim.pulls(REPO) {
            said += &format!(
                "  #{} {} {} {} {}\n",
                pull.number, pull.head, pull.open, pull.draft, pull.merged
            );
        }
        said
    }

    /// Waits until ade has nothing left to do: every job finished, and still so a moment later
    /// (webhooks of ade's own last writes may still be on their way in).
    pub async fn settle(&self) {
        for _ in 0..2 {
            eventually(PATIENCE, "ade's queue to empty", || async {
                (self.jobs_in(|state| state != "failed").await == 0).then_some(())
            })
            .await;
            tokio::time::sleep(Duration::from_millis(150)).await;
        }
    }

    async fn jobs_in(&self, wanted: impl Fn(&str) -> bool) -> i64 {
        let store = self.ade.store();
        let mut conn = store.reader().await.unwrap();
        ade::store::jobs::depth(&mut conn)
            .await
            .unwrap()
            .into_iter()
            .filter(|(_, state, _)| wanted(state))
            .map(|(_, _, n)| n)
            .sum()
    }

    /// Jobs that failed for good (none, in a healthy story).
    pub async fn failed_jobs(&self) -> i64 {
        self.jobs_in(|state| state == "failed").await
    }
}

/// The forge clients of a story's ade: quick retries and a short budget, so failures play out
/// within a story's patience.
pub fn clients() -> ClientOptions {
    ClientOptions {
        retry: RetryPolicy {
            budget: Duration::from_secs(5),
            backoff_base: Duration::from_millis(20),
            backoff_max: Duration::from_millis(200),
            ..RetryPolicy::default()
        },
        ..ClientOptions::default()
    }
}

/// The webhook secret of every story's forge.
const WEBHOOK_SECRET: &str = "story-webhook-secret";

/// A story's forge before any ade is pointed at it: the repository with its files, the people,
/// and ade's bot (a GitHub App installed on the repository, or a Gitea user with its token).
pub struct Seeded {
    /// The forge.
    pub sim: Simulator,
    /// The login ade posts as.
    pub bot: String,
    kind: ForgeKind,
    /// The bot's token (Gitea).
    token: Option<String>,
    /// The app's private key (GitHub).
    key_file: std::path::PathBuf,
    forge_clock: Arc<LaggingClock>,
}

impl Seeded {
    /// Starts a simulator of `kind` (Forgejo's headers if `forgejo`) in `db`'s folder, with the
    /// repository holding `files` besides its README.
    pub async fn start(
        db: &TestDb,
        kind: ForgeKind,
        forgejo: bool,
        files: &[(&str, &str)],
    ) -> Seeded {
        let mut options = SimOptions::new(kind, db.dir.join("sim"));
        options.forgejo = forgejo;
        options.webhook_secret = WEBHOOK_SECRET.to_string();
        // Every answer is checked at the end, and a cut one cannot be.
        options.recorded_response_limit = 16 * 1024 * 1024;
        let forge_clock = Arc::new(LaggingClock::default());
        options.clock = forge_clock.clone();
        let sim = Simulator::start(options)
            .await
            .expect("the simulator starts");
        let mut repo = NewRepo::new("acme", "widgets").file("README.md", "# widgets\n");
        for (path, content) in files {
            repo = repo.file(path, *content);
        }
        sim.create_repo(repo)
            .await
            .expect("the repository is created");
        for (login, permission) in [
            (MAINTAINER, Permission::Maintain),
            (REVIEWER, Permission::Maintain),
            (READER, Permission::Read),
            (WRITER, Permission::Write),
        ] {
            sim.add_user(login);
            sim.set_permission(REPO, login, permission).unwrap();
        }
        let key_file = db.dir.join("app.pem");
        let (bot, token) = match kind {
            ForgeKind::Github => {
                sim.install_app("acme", &[REPO]);
                std::fs::write(&key_file, sim.app_private_key_pem()).unwrap();
                (sim.app_bot_login(), None)
            }
            ForgeKind::Gitea => {
                let bot = sim.add_bot("ade-bot");
                sim.set_permission(REPO, &bot.login, Permission::Admin)
                    .unwrap();
                (bot.login, Some(bot.token))
            }
        };
        Seeded {
            sim,
            bot,
            kind,
            token,
            key_file,
            forge_clock,
        }
    }

    /// Points `config` at this forge: its address, ade's credentials, the webhook secret.
    fn configure(&self, config: &mut ade::config::Config) {
        let url = self.sim.url().to_string();
        match self.kind {
            ForgeKind::Github => {
                config.github.app_id = Some(self.sim.app_id() as u64);
                config.github.private_key_file = Some(self.key_file.clone());
                config.github.api_url = url;
                config.github.webhook_secrets = vec![Secret::new(WEBHOOK_SECRET)];
            }
            ForgeKind::Gitea => {
                config.gitea.url = Some(url);
                config.gitea.token = self.token.clone().map(Secret::new);
                config.gitea.webhook_secrets = vec![Secret::new(WEBHOOK_SECRET)];
            }
        }
    }

    /// The same, as the environment of a real `ade serve` (`ADE_SECTION__KEY`).
    pub fn serve_env(&self) -> Vec<(&'static str, String)> {
        match self.kind {
            ForgeKind::Github => vec![
                ("ADE_GITHUB__APP_ID", self.sim.app_id().to_string()),
                (
                    "ADE_GITHUB__PRIVATE_KEY_FILE",
                    self.key_file.display().to_string(),
                ),
                ("ADE_GITHUB__API_URL", self.sim.url().to_string()),
                ("ADE_GITHUB__WEBHOOK_SECRET", WEBHOOK_SECRET.to_string()),
            ],
            ForgeKind::Gitea => vec![
                ("ADE_GITEA__URL", self.sim.url().to_string()),
                ("ADE_GITEA__TOKEN", self.token.clone().unwrap_or_default()),
                ("ADE_GITEA__WEBHOOK_SECRET", WEBHOOK_SECRET.to_string()),
            ],
        }
    }
}

/// Starts ade with `config` and points the simulator's webhooks at it.
async fn start_pointed_at(
    sim: &Simulator,
    kind: ForgeKind,
    config: &ade::config::Config,
    clients: &ClientOptions,
) -> Service {
    let ade = Service::start(
        config,
        ServiceOptions {
            clients: clients.clone(),
            ..ServiceOptions::default()
        },
    )
    .await
    .expect("ade starts");
    sim.set_webhook_url(Some(format!("http://{}/webhooks/{kind}", ade.addr())));
    ade
}

/// Every audit record in the log folder `dir`, in chain order.
pub fn audit_records_in(dir: &std::path::Path) -> Vec<serde_json::Value> {
    crate::audit::all_lines(dir)
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}
