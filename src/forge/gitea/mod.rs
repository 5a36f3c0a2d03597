//! Gitea and Forgejo through their REST API v1, as a bot user with an API token.
//!
//! No maintained Rust crate covers this API well enough (see docs/forges.md), so this is a small
//! typed client on reqwest: one `call` that adds the token and goes through the shared retry loop
//! (`forge::http`), and what the dialect does its own way (`forge::rest`'s parts) in `issues`,
//! `repos`, `pulls`, `reviews` and `statuses`.

mod external;
mod issues;
mod pulls;
mod repos;
mod reviews;
mod setup;
mod statuses;
mod wire;

use super::http::{Paging, Reply, list_pages, send_with_retries};
use super::rest::{self, repo_path};
use super::{ClientOptions, ForgeError, ForgeKind, ForgeResult, RepoRef};
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
        let mut options = self.options.clone();
        if !call.retry_transient {
            options.retry.transient_retries = 0;
        }
        send_with_retries(&options, &call.what, || async {
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
    /// Whether a 5xx, a lost connection or a timeout sends it again.
    retry_transient: bool,
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
            retry_transient: true,
        }
    }

    /// Sends it once even on a 5xx: the caller finds out what happened instead of repeating it.
    fn once(mut self) -> Call {
        self.retry_transient = false;
        self
    }
}

#[async_trait::async_trait]
impl rest::Client for GiteaForge {
    const KIND: ForgeKind = ForgeKind::Gitea;

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

    async fn request_once(
        &self,
        _repo: &RepoRef,
        method: Method,
        path: String,
        body: Option<serde_json::Value>,
        what: &str,
    ) -> ForgeResult<Reply> {
        self.call(Call::new(method, path, body, what).once()).await
    }
}
