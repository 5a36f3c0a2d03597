//! `[web]`: who may read the dashboard (docs/dashboard.md). Sign-in goes through the forges' own
//! OAuth; a forge without a client here offers no sign-in, and without any, only an operator who
//! opts into public reading gets pages.

use crate::forge::ForgeKind;
use crate::secret::Secret;
use std::time::Duration;

/// `[web]`, resolved.
#[derive(Clone, Debug)]
pub struct WebConfig {
    /// Everyone, signed in or not, reads every page: the operator's opt-in for a dashboard on a
    /// private network or of public repositories only.
    pub public: bool,
    /// How long a sign-in lasts before the forge is asked again.
    pub session_ttl: Duration,
    /// How long the forge's answer to "may this user read that repository" is reused; zero asks
    /// on every request.
    pub access_cache: Duration,
    /// The OAuth clients users sign in with, one per forge at most.
    pub clients: Vec<OAuthClient>,
    /// Whether cookies carry `Secure`: true unless ade is reached over plain http, which is only
    /// allowed on a loopback address.
    pub secure_cookies: bool,
    /// Where browsers reach ade (`server.public_url`): the base of the address forges send users
    /// back to.
    pub public_url: Option<String>,
    /// Each configured forge's web address, which pages link issues and pull requests to.
    pub forge_urls: Vec<(ForgeKind, String)>,
}

impl Default for WebConfig {
    fn default() -> WebConfig {
        WebConfig {
            public: false,
            session_ttl: Duration::from_secs(7 * 24 * 3600),
            access_cache: Duration::ZERO,
            clients: Vec::new(),
            secure_cookies: true,
            public_url: None,
            forge_urls: Vec::new(),
        }
    }
}

impl WebConfig {
    /// The sign-in client of `forge`, if one is configured.
    pub fn client(&self, forge: ForgeKind) -> Option<&OAuthClient> {
        self.clients.iter().find(|client| client.forge == forge)
    }

    /// `forge`'s web address, if it is configured.
    pub fn forge_url(&self, forge: ForgeKind) -> Option<&str> {
        self.forge_urls
            .iter()
            .find(|(kind, _)| *kind == forge)
            .map(|(_, url)| url.as_str())
    }
}

/// An OAuth application registered on a forge (on GitHub an OAuth app, or a GitHub App's client
/// id and secret; on Gitea and Forgejo an OAuth2 application).
#[derive(Clone, Debug)]
pub struct OAuthClient {
    /// Which forge it signs users in with.
    pub forge: ForgeKind,
    /// The client id.
    pub client_id: String,
    /// The client secret.
    pub client_secret: Secret,
    /// Where users authorize (`/login/oauth/authorize` and `/login/oauth/access_token` live
    /// under it): https://github.com, an Enterprise host, or the Gitea instance.
    pub web_url: String,
    /// Where `GET /user` tells who signed in: the forge's REST API root.
    pub api_url: String,
}
