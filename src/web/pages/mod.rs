//! The dashboard's pages (docs/dashboard.md): the goals board at `/` and each goal's lineage at
//! `/goals/{id}`, server-rendered, readable without JavaScript. Every page asks [`sight`] what
//! its viewer may see before it reads a goal; a goal the viewer may not see is answered as one
//! that does not exist.

pub mod board;
pub mod goal;
pub mod run;
pub mod sight;

use crate::forge::{Forge, ForgeKind, RepoRef};
use crate::store::Store;
use crate::web::html;
use crate::web::signin::{Signin, Viewer};
use axum::Router;
use axum::extract::FromRef;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use serde::Serialize;
use std::sync::Arc;

/// What the pages read.
#[derive(Clone)]
pub struct Dashboard {
    /// Who is looking.
    pub signin: Signin,
    /// Goals, runs and approvals.
    pub store: Store,
    /// The forges' clients, asked what each viewer reads.
    pub forges: Vec<Arc<dyn Forge>>,
    /// What the forges answered, when `web.access_cache_secs` lets answers be reused.
    pub answers: Arc<sight::Answers>,
    /// Where run logs are read.
    pub logs: crate::web::runlog::RunLogs,
}

impl FromRef<Dashboard> for Signin {
    fn from_ref(dashboard: &Dashboard) -> Signin {
        dashboard.signin.clone()
    }
}

/// `/`, `/goals/{id}` and the stylesheet.
pub fn routes(dashboard: Dashboard) -> Router {
    Router::new()
        .route("/", get(board::board))
        .route("/goals/{id}", get(goal::goal))
        .route("/runs/{id}", get(run::run))
        .route("/runs/{id}/log.txt", get(run::download))
        .route("/runs/{id}/events", get(run::events))
        .route("/assets/{name}", get(html::asset))
        .with_state(dashboard)
}

/// What every page's header shows of its viewer.
#[derive(Serialize)]
pub struct Header {
    /// The signed-in user; `None` on a public dashboard read without signing in.
    pub viewer: Option<HeaderUser>,
    /// Whether to offer signing in.
    pub signin: bool,
}

/// A signed-in user as the header shows them.
#[derive(Serialize)]
pub struct HeaderUser {
    /// Their login.
    pub login: String,
    /// Their forge.
    pub forge: &'static str,
    /// The token the sign-out form carries.
    pub csrf: String,
}

impl Dashboard {
    /// The client of `forge`, if ade talks to it.
    pub fn forge(&self, forge: ForgeKind) -> Option<&Arc<dyn Forge>> {
        self.forges.iter().find(|client| client.kind() == forge)
    }

    /// The header for `viewer`.
    pub fn header(&self, viewer: &Viewer) -> Header {
        Header {
            viewer: viewer.user().map(|user| HeaderUser {
                login: user.login.clone(),
                forge: user.forge.as_str(),
                csrf: user.csrf.clone(),
            }),
            signin: !self.signin.config.clients.is_empty(),
        }
    }

    /// The forge's page of repository `repository`, when the forge's address is known.
    pub fn repository_link(&self, forge: ForgeKind, repository: &RepoRef) -> Option<String> {
        let base = self.signin.config.forge_url(forge)?;
        let owner = crate::forge::encode_segment(&repository.owner);
        let name = crate::forge::encode_segment(&repository.name);
        Some(format!("{base}/{owner}/{name}"))
    }

    /// The forge's page of issue `number` (both forges send a pull request's number there on).
    pub fn forge_link(
        &self,
        forge: ForgeKind,
        repository: &RepoRef,
        number: i64,
    ) -> Option<String> {
        Some(format!(
            "{}/issues/{number}",
            self.repository_link(forge, repository)?
        ))
    }
}

/// The answer for a page the viewer may not see or that does not exist: the same, so that a
/// page cannot be probed.
pub fn not_found() -> Response {
    html::message(
        StatusCode::NOT_FOUND,
        "Not found",
        "There is no such page, or it belongs to a repository you cannot read.",
    )
}

/// The answer when the forge could not say what the viewer reads: nothing about the repository
/// or the forge's error (ade's log has it).
pub fn forge_unsure() -> Response {
    html::message(
        StatusCode::SERVICE_UNAVAILABLE,
        "The forge did not answer",
        "ade could not ask the forge whether you may read this page; try again shortly.",
    )
}

/// The answer when the database cannot be read.
pub fn unavailable(error: crate::store::StoreError) -> Response {
    tracing::error!(%error, "a dashboard page could not read the database");
    html::message(
        StatusCode::SERVICE_UNAVAILABLE,
        "Try again shortly",
        "ade cannot read its database just now.",
    )
}
