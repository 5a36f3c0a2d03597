//! GitHub (github.com and Enterprise Server) as a GitHub App, through octocrab.
//!
//! ade authenticates as the app (a JWT from its private key, see `jwt`) only to find installations
//! and mint installation access tokens (`tokens`); every repository call carries the token of the
//! installation that covers the repository. octocrab provides the HTTP client, TLS and the
//! `api_url` handling; requests go through its raw `execute` so that the token, the retry rules
//! (`forge::http`) and the answers ade reads (`wire`) stay ade's own.

mod annotations;
mod checks;
mod drafts;
mod endpoint;
mod external;
mod issues;
mod jwt;
pub mod permissions;
mod pulls;
mod repos;
mod reviews;
mod setup;
mod tokens;
mod wire;

use super::http::{Paging, Reply, list_pages, send_with_retries};
use super::rest::{self, repo_path};
use super::{ClientOptions, ForgeError, ForgeKind, ForgeResult, RepoRef};
use crate::secret::Secret;
use endpoint::Endpoints;
use http::header::{ACCEPT, AUTHORIZATION};
use http::{HeaderValue, Method};
use http_body_util::BodyExt;
use jwt::AppKey;
use std::fmt;
use std::path::PathBuf;
use tokens::Tokens;

/// `ade.toml`'s `[github]`, as this client takes it.
#[derive(Clone, Debug)]
pub struct GithubConfig {
    /// The GitHub App id.
    pub app_id: Option<u64>,
    /// PEM file of the GitHub App's private key; checked readable at load, read again by the
    /// GitHub client. Set exactly when `app_id` is.
    pub private_key_file: Option<PathBuf>,
    /// Every webhook secret currently accepted (more than one during rotation). Empty means
    /// `/webhooks/github` refuses every delivery.
    pub webhook_secrets: Vec<Secret>,
    /// REST API root: https://api.github.com, `https://HOST/api/v3` for Enterprise Server; kept
    /// without a trailing `/`.
    pub api_url: String,
}

/// The media type of GitHub's JSON answers.
const JSON: &str = "application/vnd.github+json";
/// GitHub's largest page.
const PAGING: Paging = Paging {
    size_param: "per_page",
    size: 100,
};
/// The REST API version ade is written against.
const API_VERSION: &str = "2022-11-28";

/// ade's GitHub client: one per GitHub App, shared by every job that writes to GitHub.
pub struct GithubForge {
    octocrab: octocrab::Octocrab,
    endpoints: Endpoints,
    options: ClientOptions,
    key: AppKey,
    tokens: Tokens,
    bot_login: tokio::sync::OnceCell<String>,
}

impl fmt::Debug for GithubForge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GithubForge")
            .field("app_id", &self.key.app_id())
            .field("endpoints", &self.endpoints)
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl GithubForge {
    /// The client for `ade.toml`'s `[github]` section: reads the private key file named there.
    pub fn new(config: &GithubConfig, options: ClientOptions) -> ForgeResult<GithubForge> {
        let app_id = config
            .app_id
            .ok_or_else(|| ForgeError::NotConfigured("github.app_id is not set".into()))?;
        let path = config.private_key_file.as_ref().ok_or_else(|| {
            ForgeError::NotConfigured("github.private_key_file is not set".into())
        })?;
        let pem = std::fs::read(path).map_err(|e| {
            ForgeError::NotConfigured(format!(
                "reading github.private_key_file {}: {e}",
                path.display()
            ))
        })?;
        GithubForge::from_key(&config.api_url, app_id, &pem, options)
    }

    /// The client for the app `app_id` whose private key is `private_key_pem`, talking to the REST
    /// API at `api_url` (`https://api.github.com`, `https://HOST/api/v3`, or a simulator's
    /// `http://127.0.0.1:PORT`).
    pub fn from_key(
        api_url: &str,
        app_id: u64,
        private_key_pem: &[u8],
        options: ClientOptions,
    ) -> ForgeResult<GithubForge> {
        let key = AppKey::from_pem(app_id, private_key_pem)
            .map_err(|e| ForgeError::NotConfigured(format!("the GitHub App private key: {e}")))?;
        let endpoints = Endpoints::of(api_url)?;
        let octocrab = octocrab::Octocrab::builder()
            .base_uri(endpoints.origin.as_str())
            .and_then(|b| b.build())
            .map_err(|e| ForgeError::NotConfigured(format!("github.api_url {api_url}: {e}")))?;
        Ok(GithubForge {
            octocrab,
            endpoints,
            options,
            key,
            tokens: Tokens::default(),
            bot_login: tokio::sync::OnceCell::new(),
        })
    }

    /// Sends `call` as the app itself (JWT).
    async fn app_call(&self, call: Call) -> ForgeResult<Reply> {
        let jwt = self
            .key
            .jwt(self.options.clock.now_ms())
            .map_err(ForgeError::NotConfigured)?;
        self.send(&call, &format!("Bearer {jwt}")).await
    }

    /// Sends `call` with the access token of `repo`'s installation. A 401 means GitHub no longer
    /// takes the cached token: it is dropped and the call made once more with a fresh one.
    async fn repo_call(&self, repo: &RepoRef, call: Call) -> ForgeResult<Reply> {
        let (installation, token) = self.installation_token(repo).await?;
        let reply = self
            .send(&call, &format!("Bearer {}", token.token.expose()))
            .await?;
        if reply.status.as_u16() != 401 {
            return Ok(reply);
        }
        self.forget_token(installation, &token.token).await;
        let (_, token) = self.installation_token(repo).await?;
        self.send(&call, &format!("Bearer {}", token.token.expose()))
            .await
    }

    /// Every item of a paged list below `repo`.
    async fn list<T: serde::de::DeserializeOwned>(
        &self,
        repo: &RepoRef,
        path: &str,
        params: &[(&str, &str)],
        what: &str,
    ) -> ForgeResult<Vec<T>> {
        list_pages(PAGING, path, params, what, |path| {
            self.repo_call(repo, Call::get(path, what))
        })
        .await
    }

    async fn send(&self, call: &Call, authorization: &str) -> ForgeResult<Reply> {
        let mut authorization = HeaderValue::from_str(authorization)
            .map_err(|_| ForgeError::NotConfigured("a credential is not a valid header".into()))?;
        authorization.set_sensitive(true);
        let path = match call.endpoint {
            Endpoint::Rest => format!("{}{}", self.endpoints.rest_path, call.path),
            Endpoint::Graphql => self.endpoints.graphql_path.clone(),
        };
        let uri: http::Uri = path
            .parse()
            .map_err(|e| ForgeError::Rejected(format!("{}: bad path {path}: {e}", call.what)))?;
        let mut options = self.options.clone();
        if !call.retry_transient {
            options.retry.transient_retries = 0;
        }
        send_with_retries(&options, &call.what, || async {
            let builder = http::Request::builder()
                .method(call.method.clone())
                .uri(uri.clone())
                .header(ACCEPT, call.accept)
                .header("x-github-api-version", API_VERSION)
                .header(AUTHORIZATION, authorization.clone());
            let request = self
                .octocrab
                .build_request(builder, call.body.as_ref())
                .map_err(|e| e.to_string())?;
            let response = self
                .octocrab
                .execute(request)
                .await
                .map_err(|e| e.to_string())?;
            let (parts, body) = response.into_parts();
            let body = body.collect().await.map_err(|e| e.to_string())?.to_bytes();
            Ok(Reply {
                status: parts.status,
                headers: parts.headers,
                body: body.to_vec(),
            })
        })
        .await
    }
}

/// Which of GitHub's APIs a call goes to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Endpoint {
    /// REST: the call's path is below `api_url`.
    Rest,
    /// The GraphQL endpoint beside it; the call's path is unused.
    Graphql,
}

/// One call: method, path and query below `api_url` (or the GraphQL endpoint), JSON body, and
/// what it is for (named in errors and logs).
struct Call {
    method: Method,
    endpoint: Endpoint,
    path: String,
    body: Option<serde_json::Value>,
    accept: &'static str,
    what: String,
    /// Whether a 5xx or a lost connection is retried with the same request. Off for a request
    /// whose repetition could do its work twice (creating a check run): its caller looks first.
    retry_transient: bool,
}

impl Call {
    fn get(path: String, what: &str) -> Call {
        Call::new(Method::GET, path, None, what)
    }

    fn post(path: String, body: Option<serde_json::Value>, what: &str) -> Call {
        Call::new(Method::POST, path, body, what)
    }

    fn patch(path: String, body: serde_json::Value, what: &str) -> Call {
        Call::new(Method::PATCH, path, Some(body), what)
    }

    /// A POST of `body` (`{query, variables}`) to the GraphQL endpoint.
    fn graphql(body: serde_json::Value, what: &str) -> Call {
        Call {
            endpoint: Endpoint::Graphql,
            ..Call::new(Method::POST, String::new(), Some(body), what)
        }
    }

    fn new(method: Method, path: String, body: Option<serde_json::Value>, what: &str) -> Call {
        Call {
            method,
            endpoint: Endpoint::Rest,
            path,
            body,
            accept: JSON,
            what: what.to_string(),
            retry_transient: true,
        }
    }

    fn accept(mut self, accept: &'static str) -> Call {
        self.accept = accept;
        self
    }

    /// Sends it once even on a 5xx: the caller finds out what happened instead of repeating it.
    fn once(mut self) -> Call {
        self.retry_transient = false;
        self
    }
}

#[async_trait::async_trait]
impl rest::Client for GithubForge {
    const KIND: ForgeKind = ForgeKind::Github;

    async fn request(
        &self,
        repo: &RepoRef,
        method: Method,
        path: String,
        body: Option<serde_json::Value>,
        what: &str,
    ) -> ForgeResult<Reply> {
        self.repo_call(repo, Call::new(method, path, body, what))
            .await
    }

    async fn request_once(
        &self,
        repo: &RepoRef,
        method: Method,
        path: String,
        body: Option<serde_json::Value>,
        what: &str,
    ) -> ForgeResult<Reply> {
        self.repo_call(repo, Call::new(method, path, body, what).once())
            .await
    }
}
