//! The test handle: start a simulator, seed it (`seed`), act as users, read state (`reads`),
//! inject faults.

mod reads;
mod seed;

use super::core::{AppIdentity, Sim};
use super::faults::{Faults, HookFault};
use super::state::{State, TokenScope, User};
use crate::forge::ForgeKind;
use crate::forge::ReviewState;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::options::SimOptions;
use super::{ActionError, ApiCall, AppKey, DeliveryOutcome, DeliveryRecord, FaultRule, MergeStyle};
use super::{actions, calls, git, github, server, webhooks};

/// A running simulator. Dropping it stops the server; the data dir is left for the caller.
pub struct Simulator {
    sim: Arc<Sim>,
    addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Drop for Simulator {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

pub(super) fn random_hex(len: usize) -> String {
    (0..len)
        .map(|_| char::from_digit(fastrand::u32(..16), 16).expect("a hex digit"))
        .collect()
}

impl Simulator {
    /// Binds, creates the data dir, and serves until dropped.
    pub async fn start(options: SimOptions) -> anyhow::Result<Simulator> {
        std::fs::create_dir_all(&options.data_dir)?;
        let listener = tokio::net::TcpListener::bind(options.listen).await?;
        let addr = listener.local_addr()?;
        let base_url = options
            .public_url
            .clone()
            .unwrap_or_else(|| format!("http://{addr}"))
            .trim_end_matches('/')
            .to_owned();
        let key = match options.app_key.clone() {
            Some(key) => key,
            None => tokio::task::spawn_blocking(|| AppKey::shared().clone()).await?,
        };
        let app = AppIdentity {
            id: options.app_id,
            slug: options.app_slug.clone(),
            name: options.app_slug.clone(),
            key,
        };
        let sim = Arc::new(Sim {
            kind: options.kind,
            forgejo: options.forgejo,
            base_url,
            state: Mutex::new(State::default()),
            git: git::GitStore::new(options.data_dir.join("repositories")),
            clock: Arc::clone(&options.clock),
            app,
            token_ttl_ms: options.token_ttl.as_millis() as i64,
            hooks: webhooks::Webhooks::new(
                options.kind,
                options.forgejo,
                options.webhook_url.clone(),
                options.webhook_secret.clone(),
            ),
            faults: Faults::default(),
            calls: calls::CallLog::new(options.recorded_response_limit),
        });
        if options.kind == ForgeKind::Github {
            let login = sim.app.bot_login();
            let now = sim.now();
            let mut state = sim.state();
            let id = state.next_id();
            state.users.insert(
                login.clone(),
                User {
                    id,
                    login,
                    bot: true,
                    site_admin: false,
                    token: String::new(),
                    created_at: now,
                },
            );
        }
        let router = server::router(Arc::clone(&sim));
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(async move {
            let _ = axum::serve(listener, router)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await;
        });
        Ok(Simulator {
            sim,
            addr,
            stop: Some(stop),
        })
    }

    /// The dialect.
    pub fn kind(&self) -> ForgeKind {
        self.sim.kind
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The base URL: GitHub's `api_url` (as for GitHub Enterprise) and Gitea's server URL.
    pub fn url(&self) -> &str {
        &self.sim.base_url
    }

    /// The REST API root: the base URL on GitHub, `<base>/api/v1` on Gitea.
    pub fn api_url(&self) -> String {
        match self.sim.kind {
            ForgeKind::Github => self.sim.base_url.clone(),
            ForgeKind::Gitea => format!("{}/api/v1", self.sim.base_url),
        }
    }

    /// The HTTPS-style clone URL of a repository (`<base>/<owner>/<name>.git`).
    pub fn clone_url(&self, repo: &str) -> String {
        format!("{}/{repo}.git", self.sim.base_url)
    }

    /// Sends webhooks to `url` from now on (`None`: record them only).
    pub fn set_webhook_url(&self, url: Option<String>) {
        self.sim.hooks.set_url(url);
    }

    /// Signs webhooks with another secret from now on.
    pub fn set_webhook_secret(&self, secret: &str) {
        self.sim.hooks.set_secret(secret.to_owned());
    }

    // ----- credentials -----

    /// The GitHub App's id.
    pub fn app_id(&self) -> i64 {
        self.sim.app.id
    }

    /// The GitHub App's private key (PKCS#1 PEM), as its owner downloads it.
    pub fn app_private_key_pem(&self) -> String {
        self.sim.app.key.private_key_pem()
    }

    /// The login ade posts as: `<slug>[bot]` on GitHub.
    pub fn app_bot_login(&self) -> String {
        self.sim.app.bot_login()
    }

    /// A valid app JWT for the current time, as a GitHub App client makes.
    pub fn app_jwt(&self) -> String {
        let now = self.sim.now() / 1000;
        self.sim
            .app
            .key
            .sign_jwt(self.sim.app.id, now - 30, now + 540)
    }

    /// Issues an installation token directly (what `POST .../access_tokens` does), for tests
    /// that need one without the JWT dance.
    pub fn installation_token(&self, installation_id: i64) -> String {
        let token = format!("ghs_{}", github_token_body());
        let expires_at = self.sim.now() + self.sim.token_ttl_ms;
        self.sim
            .state()
            .issue_token(&token, installation_id, expires_at, TokenScope::default());
        token
    }

    // ----- user actions (each sends the forge's webhooks) -----

    /// `author` opens an issue; returns its number.
    pub async fn open_issue(
        &self,
        repo: &str,
        author: &str,
        title: &str,
        body: &str,
    ) -> Result<i64, ActionError> {
        actions::open_issue(&self.sim, repo, author, title, body, &[]).await
    }

    /// `actor` edits an issue's title and body.
    pub async fn edit_issue(
        &self,
        repo: &str,
        number: i64,
        actor: &str,
        title: &str,
        body: &str,
    ) -> Result<(), ActionError> {
        actions::edit_issue(&self.sim, repo, number, actor, title, body).await
    }

    /// Closes (`open: false`) or reopens an issue or pull request.
    pub async fn set_issue_open(
        &self,
        repo: &str,
        number: i64,
        actor: &str,
        open: bool,
    ) -> Result<(), ActionError> {
        actions::set_open(&self.sim, repo, number, actor, open).await
    }

    /// `author` comments; returns the comment id.
    pub async fn comment(
        &self,
        repo: &str,
        number: i64,
        author: &str,
        body: &str,
    ) -> Result<i64, ActionError> {
        Ok(actions::comment(&self.sim, repo, number, author, body)
            .await?
            .id)
    }

    /// `editor` replaces a comment's text.
    pub async fn edit_comment(
        &self,
        repo: &str,
        comment_id: i64,
        editor: &str,
        body: &str,
    ) -> Result<(), ActionError> {
        actions::edit_comment(&self.sim, repo, comment_id, editor, body)
            .await
            .map(|_| ())
    }

    /// `author` commits files to `branch` (made from the default branch if new) and pushes;
    /// `None` content deletes a file. Returns the new commit.
    pub async fn push(
        &self,
        repo: &str,
        author: &str,
        branch: &str,
        files: &[(&str, Option<&str>)],
        message: &str,
    ) -> Result<String, ActionError> {
        let files: Vec<(String, Option<Vec<u8>>)> = files
            .iter()
            .map(|(p, c)| ((*p).to_owned(), c.map(|c| c.as_bytes().to_vec())))
            .collect();
        actions::push_files(&self.sim, repo, author, branch, &files, message, None).await
    }

    /// `author` opens a pull request from an existing branch; returns its number.
    pub async fn open_pull(
        &self,
        repo: &str,
        author: &str,
        head: &str,
        base: &str,
        title: &str,
        body: &str,
    ) -> Result<i64, ActionError> {
        actions::open_pull(
            &self.sim,
            repo,
            author,
            actions::PullSpec {
                title,
                body,
                head,
                base,
                draft: false,
            },
        )
        .await
    }

    /// `author` pushes one file to a new branch and opens a pull request from it into the
    /// default branch; returns its number.
    pub async fn open_pull_with_change(
        &self,
        repo: &str,
        author: &str,
        branch: &str,
        file: (&str, &str),
        title: &str,
    ) -> Result<i64, ActionError> {
        self.push(repo, author, branch, &[(file.0, Some(file.1))], title)
            .await?;
        let base = self
            .read_repo(repo)
            .map(|r| r.default_branch)
            .ok_or_else(|| ActionError::NotFound(format!("repository {repo} not found")))?;
        self.open_pull(repo, author, branch, &base, title, "").await
    }

    /// `author` submits a review; returns its id.
    pub async fn review(
        &self,
        repo: &str,
        number: i64,
        author: &str,
        state: ReviewState,
        body: &str,
    ) -> Result<i64, ActionError> {
        actions::review(&self.sim, repo, number, author, state, body).await
    }

    /// `author` submits a review, `(state, body)`, with comments on lines of the pull request's
    /// diff, each `(path, line of the head's version, text)`; a line the diff does not show is
    /// refused, as on both forges. Returns the review's id.
    pub async fn review_with_comments(
        &self,
        repo: &str,
        number: i64,
        author: &str,
        review: (ReviewState, &str),
        comments: &[actions::LineComment<'_>],
    ) -> Result<i64, ActionError> {
        actions::review_with_comments(&self.sim, repo, number, author, review, comments).await
    }

    /// `actor` merges a pull request through the forge's rules (protection included); returns
    /// the base branch's new commit.
    pub async fn merge_pull(
        &self,
        repo: &str,
        number: i64,
        actor: &str,
        style: MergeStyle,
    ) -> Result<String, ActionError> {
        actions::merge(&self.sim, repo, number, actor, style, None, None).await
    }

    /// `actor` asks GitHub to re-run a check run.
    pub async fn rerequest_check(
        &self,
        repo: &str,
        check_run_id: i64,
        actor: &str,
    ) -> Result<(), ActionError> {
        actions::rerequest_check(&self.sim, repo, check_run_id, actor).await
    }

    /// A CI posts a check run on a commit (GitHub), sending `check_run` `created` or
    /// `completed`; returns its id.
    pub async fn post_check_run(
        &self,
        repo: &str,
        run: actions::NewCheckRun,
    ) -> Result<i64, ActionError> {
        actions::post_check_run(&self.sim, repo, run).await
    }

    /// A CI sets a commit status (GitHub, Gitea, Forgejo), sending `status`; returns its id.
    pub async fn post_status(
        &self,
        repo: &str,
        status: actions::NewStatus,
    ) -> Result<i64, ActionError> {
        actions::post_status(&self.sim, repo, status).await
    }

    // ----- the call record -----

    /// Every API and git call received, oldest first.
    pub fn calls(&self) -> Vec<ApiCall> {
        self.sim.calls.all()
    }

    /// The record of calls and deliveries, readable after this handle is gone: a test's teardown
    /// checks everything the simulator answered and sent once the story is over.
    pub fn record(&self) -> SimRecord {
        SimRecord {
            sim: Arc::clone(&self.sim),
        }
    }

    /// The calls matching a method (`"*"` for any) and a path pattern (see [`path_matches`]).
    pub fn calls_to(&self, method: &str, pattern: &str) -> Vec<ApiCall> {
        let method = (method != "*").then_some(method);
        self.calls()
            .into_iter()
            .filter(|c| c.matches(method, pattern))
            .collect()
    }

    // ----- faults -----

    /// Makes the next calls matching the rule fail as it says.
    pub fn inject(&self, rule: FaultRule) {
        self.sim.faults.add(rule);
    }

    /// Removes every injected fault.
    pub fn clear_faults(&self) {
        self.sim.faults.clear();
    }

    /// Sends the next `n` webhooks of actions taken through this handle or the control API `delay`
    /// late (after later ones); webhooks of ade's own API calls are not counted.
    pub fn delay_webhooks(&self, n: usize, delay: Duration) {
        self.sim.faults.add_hooks(n, HookFault::Delay(delay));
    }

    /// Drops the next `n` webhooks of actions taken through this handle or the control API
    /// (recorded, not sent; redeliverable); webhooks of ade's own API calls are not counted.
    pub fn drop_webhooks(&self, n: usize) {
        self.sim.faults.add_hooks(n, HookFault::Drop);
    }

    // ----- webhooks -----

    /// Every delivery made, oldest first (redeliveries included, marked).
    pub fn deliveries(&self) -> Vec<DeliveryRecord> {
        self.sim.hooks.records()
    }

    /// Sends a past delivery again with the same id; `None` for an unknown id.
    pub async fn redeliver(&self, delivery_id: &str) -> Option<DeliveryOutcome> {
        self.sim.hooks.redeliver(delivery_id, self.sim.now()).await
    }
}

/// What a simulator answered and sent, kept while anyone holds it (see [`Simulator::record`]).
#[derive(Clone)]
pub struct SimRecord {
    sim: Arc<Sim>,
}

impl SimRecord {
    /// Every API and git call received, oldest first, as [`Simulator::calls`].
    pub fn calls(&self) -> Vec<ApiCall> {
        self.sim.calls.all()
    }

    /// Every delivery made, oldest first, as [`Simulator::deliveries`].
    pub fn deliveries(&self) -> Vec<DeliveryRecord> {
        self.sim.hooks.records()
    }
}

fn github_token_body() -> String {
    github::random_token(36)
}
