//! Gitea and Forgejo through their REST API v1, as a bot user with an API token.
//!
//! No maintained Rust crate covers this API well enough (see docs/forges.md), so this is a small
//! typed client on reqwest: one `call` that adds the token and goes through the shared retry loop
//! (`forge::http`), and one function per operation in `issues`, `repos`, `pulls`, `reviews` and
//! `statuses`.

mod issues;
mod pulls;
mod repos;
mod reviews;
mod setup;
mod statuses;
mod wire;

use super::http::{Paging, Reply, list_pages, send_with_retries};
use super::rest::{self, repo_path};
use super::{
    BranchHead, BranchProtection, Check, CheckRef, CheckTarget, ClientOptions, CloneCredential,
    Forge, ForgeComment, ForgeError, ForgeKind, ForgePullRequest, ForgeResult, ForgeReview,
    ForgeReviewComment, MergeMethod, NewPullRequest, Permission, PullRequestUpdate, Reaction,
    RepoRef,
};
use crate::secret::Secret;
use http::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE};
use http::{HeaderValue, Method};
use std::fmt;

/// Gitea's default `MAX_RESPONSE_ITEMS`; a server configured lower still pages correctly, since
/// `X-Total-Count` says how many there are.
const PAGING: Paging = Paging {
    size_param: "limit",
    size: 50,
};

/// `ade.toml`'s `[gitea]`, as this client takes it.
#[derive(Clone, Debug)]
pub struct GiteaConfig {
    /// Base URL of the Gitea or Forgejo instance; http(s), kept without a trailing `/`.
    pub url: Option<String>,
    /// The bot user's API token.
    pub token: Option<Secret>,
    /// Every webhook secret currently accepted. Empty means `/webhooks/gitea` refuses everything.
    pub webhook_secrets: Vec<Secret>,
}

/// ade's Gitea/Forgejo client: one per instance, shared by every job that writes to it.
pub struct GiteaForge {
    http: reqwest::Client,
    api: String,
    token: Secret,
    options: ClientOptions,
    bot_login: tokio::sync::OnceCell<String>,
}

impl fmt::Debug for GiteaForge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GiteaForge")
            .field("api", &self.api)
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl GiteaForge {
    /// The client for `ade.toml`'s `[gitea]` section.
    pub fn new(config: &GiteaConfig, options: ClientOptions) -> ForgeResult<GiteaForge> {
        let url = config
            .url
            .as_deref()
            .ok_or_else(|| ForgeError::NotConfigured("gitea.url is not set".into()))?;
        let token = config
            .token
            .clone()
            .ok_or_else(|| ForgeError::NotConfigured("gitea.token is not set".into()))?;
        GiteaForge::with_token(url, token, options)
    }

    /// The client for the instance at `url` (its base URL, without `/api/v1`), acting as the bot
    /// user whose API token is `token`.
    pub fn with_token(url: &str, token: Secret, options: ClientOptions) -> ForgeResult<GiteaForge> {
        let http = reqwest::Client::builder()
            .user_agent(concat!("ade/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ForgeError::NotConfigured(format!("the HTTP client for Gitea: {e}")))?;
        Ok(GiteaForge {
            http,
            api: format!("{}/api/v1", url.trim_end_matches('/')),
            token,
            options,
            bot_login: tokio::sync::OnceCell::new(),
        })
    }

    /// Every item of a paged list.
    async fn list<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        params: &[(&str, &str)],
        what: &str,
    ) -> ForgeResult<Vec<T>> {
        list_pages(PAGING, path, params, what, |path| {
            self.call(Call::get(path, what))
        })
        .await
    }

    async fn call(&self, call: Call) -> ForgeResult<Reply> {
        let url = format!("{}{}", self.api, call.path);
        let mut authorization = HeaderValue::from_str(&format!("token {}", self.token.expose()))
            .map_err(|_| ForgeError::NotConfigured("gitea.token is not a valid header".into()))?;
        authorization.set_sensitive(true);
        let body = call.body.as_ref().map(|b| b.to_string());
        send_with_retries(&self.options, &call.what, || async {
            let mut request = self
                .http
                .request(call.method.clone(), &url)
                .header(AUTHORIZATION, authorization.clone())
                .header(ACCEPT, "application/json");
            if let Some(body) = &body {
                request = request
                    .header(CONTENT_TYPE, "application/json")
                    .body(body.clone());
            }
            let response = request.send().await.map_err(|e| e.to_string())?;
            let status = response.status();
            let headers = response.headers().clone();
            let body = response.bytes().await.map_err(|e| e.to_string())?;
            Ok(Reply {
                status,
                headers,
                body: body.to_vec(),
            })
        })
        .await
    }
}

/// One API call: method, path and query below `/api/v1`, JSON body, and what it is for.
struct Call {
    method: Method,
    path: String,
    body: Option<serde_json::Value>,
    what: String,
}

impl Call {
    fn get(path: String, what: &str) -> Call {
        Call::new(Method::GET, path, None, what)
    }

    fn post(path: String, body: serde_json::Value, what: &str) -> Call {
        Call::new(Method::POST, path, Some(body), what)
    }

    fn patch(path: String, body: serde_json::Value, what: &str) -> Call {
        Call::new(Method::PATCH, path, Some(body), what)
    }

    fn new(method: Method, path: String, body: Option<serde_json::Value>, what: &str) -> Call {
        Call {
            method,
            path,
            body,
            what: what.to_string(),
        }
    }
}

#[async_trait::async_trait]
impl rest::Client for GiteaForge {
    async fn request(
        &self,
        _repo: &RepoRef,
        method: Method,
        path: String,
        body: Option<serde_json::Value>,
        what: &str,
    ) -> ForgeResult<Reply> {
        self.call(Call::new(method, path, body, what)).await
    }
}

#[async_trait::async_trait]
impl Forge for GiteaForge {
    fn kind(&self) -> ForgeKind {
        ForgeKind::Gitea
    }

    async fn bot_login(&self) -> ForgeResult<String> {
        repos::bot_login(self).await
    }

    async fn create_comment(&self, repo: &RepoRef, number: i64, body: &str) -> ForgeResult<i64> {
        rest::create_comment(self, repo, number, body).await
    }

    async fn update_comment(&self, repo: &RepoRef, comment_id: i64, body: &str) -> ForgeResult<()> {
        rest::update_comment(self, repo, comment_id, body).await
    }

    async fn list_comments(&self, repo: &RepoRef, number: i64) -> ForgeResult<Vec<ForgeComment>> {
        issues::list_comments(self, repo, number).await
    }

    async fn add_reaction(
        &self,
        repo: &RepoRef,
        comment_id: i64,
        reaction: Reaction,
    ) -> ForgeResult<()> {
        issues::add_reaction(self, repo, comment_id, reaction).await
    }

    async fn read_file(
        &self,
        repo: &RepoRef,
        path: &str,
        git_ref: &str,
    ) -> ForgeResult<Option<Vec<u8>>> {
        repos::read_file(self, repo, path, git_ref).await
    }

    async fn default_branch(&self, repo: &RepoRef) -> ForgeResult<BranchHead> {
        repos::default_branch(self, repo).await
    }

    async fn permission(&self, repo: &RepoRef, login: &str) -> ForgeResult<Permission> {
        repos::permission(self, repo, login).await
    }

    async fn is_team_member(
        &self,
        _repo: &RepoRef,
        org: &str,
        team: &str,
        login: &str,
    ) -> ForgeResult<bool> {
        repos::is_team_member(self, org, team, login).await
    }

    async fn add_labels(&self, repo: &RepoRef, number: i64, labels: &[String]) -> ForgeResult<()> {
        let existing = issues::repo_labels(self, repo);
        rest::add_labels(self, repo, number, labels, existing).await
    }

    async fn create_pull_request(
        &self,
        repo: &RepoRef,
        pull: &NewPullRequest,
    ) -> ForgeResult<ForgePullRequest> {
        pulls::create(self, repo, pull).await
    }

    async fn find_pull_request(
        &self,
        repo: &RepoRef,
        branch: &str,
    ) -> ForgeResult<Option<ForgePullRequest>> {
        pulls::find(self, repo, branch).await
    }

    async fn update_pull_request(
        &self,
        repo: &RepoRef,
        number: i64,
        update: &PullRequestUpdate,
    ) -> ForgeResult<ForgePullRequest> {
        pulls::update(self, repo, number, update).await
    }

    async fn set_check(
        &self,
        repo: &RepoRef,
        check: &Check,
        _target: CheckTarget,
    ) -> ForgeResult<CheckRef> {
        statuses::set_status(self, repo, check).await
    }

    async fn pull_request(&self, repo: &RepoRef, number: i64) -> ForgeResult<ForgePullRequest> {
        rest::get_pull::<wire::PullRequest>(self, repo, number).await
    }

    async fn set_draft(
        &self,
        repo: &RepoRef,
        pull: &ForgePullRequest,
        draft: bool,
    ) -> ForgeResult<()> {
        pulls::set_draft(self, repo, pull, draft).await
    }

    async fn close_issue(&self, repo: &RepoRef, number: i64) -> ForgeResult<()> {
        issues::close_issue(self, repo, number).await
    }

    async fn list_reviews(&self, repo: &RepoRef, number: i64) -> ForgeResult<Vec<ForgeReview>> {
        reviews::list_reviews(self, repo, number).await
    }

    async fn list_review_comments(
        &self,
        repo: &RepoRef,
        number: i64,
    ) -> ForgeResult<Vec<ForgeReviewComment>> {
        reviews::list_review_comments(self, repo, number).await
    }

    async fn merge(
        &self,
        repo: &RepoRef,
        number: i64,
        head_sha: &str,
        method: MergeMethod,
    ) -> ForgeResult<()> {
        pulls::merge(self, repo, number, head_sha, method).await
    }

    async fn branch_protection(
        &self,
        repo: &RepoRef,
        branch: &str,
    ) -> ForgeResult<Option<BranchProtection>> {
        repos::branch_protection(self, repo, branch).await
    }

    async fn clone_credential(&self, repo: &RepoRef) -> ForgeResult<CloneCredential> {
        repos::clone_credential(self, repo).await
    }
}
