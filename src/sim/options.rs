//! The values the test handle takes and gives: how to start, what to seed, what a test reads.

use super::AppKey;
use super::state::{CheckRunAnnotation, TokenScope};
use crate::clock::{Clock, SystemClock};
use crate::forge::{CheckState, ForgeKind};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// How to start a simulator.
#[derive(Clone)]
pub struct SimOptions {
    /// The dialect to speak.
    pub kind: ForgeKind,
    /// Gitea dialect only: play Forgejo: send its `X-Forgejo-*` webhook headers too, and answer
    /// with its names where they differ from Gitea's (`apply_to_admins`, its `/version`).
    pub forgejo: bool,
    /// Where to listen; port 0 picks a free one.
    pub listen: SocketAddr,
    /// Where the bare repositories go (created if missing).
    pub data_dir: PathBuf,
    /// The base URL to advertise in JSON and clone URLs; `http://<listen address>` by default.
    pub public_url: Option<String>,
    /// Where webhooks go; none are sent (but all are recorded) until set.
    pub webhook_url: Option<String>,
    /// The webhook secret deliveries are signed with.
    pub webhook_secret: String,
    /// The time source; tests pass a [`crate::clock::ManualClock`] to expire tokens.
    pub clock: Arc<dyn Clock>,
    /// The GitHub App's id.
    pub app_id: i64,
    /// The GitHub App's slug (its bot user is `<slug>[bot]`).
    pub app_slug: String,
    /// The GitHub App's key; a per-process shared one when `None`.
    pub app_key: Option<AppKey>,
    /// How long installation tokens live (GitHub: one hour).
    pub token_ttl: Duration,
    /// The most of each answer's body the call record keeps (64 KiB); a test that checks long
    /// answers, such as full pages of comments, raises it.
    pub recorded_response_limit: usize,
}

impl SimOptions {
    /// Defaults for `kind` with repositories under `data_dir`: loopback, a free port, secret
    /// `sim-webhook-secret`, app 4242 `ade-sim`, one-hour tokens, the system clock, 64 KiB of each
    /// answer recorded.
    pub fn new(kind: ForgeKind, data_dir: impl Into<PathBuf>) -> SimOptions {
        SimOptions {
            kind,
            forgejo: false,
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            data_dir: data_dir.into(),
            public_url: None,
            webhook_url: None,
            webhook_secret: "sim-webhook-secret".into(),
            clock: Arc::new(SystemClock),
            app_id: 4242,
            app_slug: "ade-sim".into(),
            app_key: None,
            token_ttl: Duration::from_secs(3600),
            recorded_response_limit: super::MAX_RESPONSE_BODY,
        }
    }
}

/// A repository to create: its files are committed on the default branch by the owner.
#[derive(Clone, Debug)]
pub struct NewRepo {
    /// Owner login (created as a user if unknown).
    pub owner: String,
    /// Name.
    pub name: String,
    /// Private (the default; anonymous clones are refused).
    pub private: bool,
    /// Default branch (`main`).
    pub default_branch: String,
    /// Description.
    pub description: String,
    /// Files of the first commit.
    pub files: Vec<(String, Vec<u8>)>,
}

impl NewRepo {
    /// A private repository with a README on `main`.
    pub fn new(owner: &str, name: &str) -> NewRepo {
        NewRepo {
            owner: owner.into(),
            name: name.into(),
            private: true,
            default_branch: "main".into(),
            description: String::new(),
            files: vec![("README.md".into(), format!("# {name}\n").into_bytes())],
        }
    }

    /// Adds (or replaces) a file of the first commit.
    pub fn file(mut self, path: &str, content: impl Into<Vec<u8>>) -> NewRepo {
        self.files.retain(|(p, _)| p != path);
        self.files.push((path.into(), content.into()));
        self
    }

    /// Makes it public or private.
    pub fn private(mut self, private: bool) -> NewRepo {
        self.private = private;
        self
    }

    /// Names the default branch.
    pub fn default_branch(mut self, branch: &str) -> NewRepo {
        self.default_branch = branch.into();
        self
    }
}

/// A repository webhook to list (Gitea dialect), as an operator would have set it up.
#[derive(Clone, Debug)]
pub struct NewHook {
    /// `gitea`, `forgejo`, `slack`, …
    pub kind: String,
    /// Where it delivers.
    pub url: String,
    /// `json` or `form`.
    pub content_type: String,
    /// The event types it sends.
    pub events: Vec<String>,
    /// Whether it is active.
    pub active: bool,
}

impl NewHook {
    /// An active Gitea webhook to `url`, sending JSON and every event ade acts on.
    pub fn gitea(url: &str) -> NewHook {
        NewHook {
            kind: "gitea".into(),
            url: url.into(),
            content_type: "json".into(),
            events: [
                "issues",
                "issue_comment",
                "pull_request",
                "pull_request_sync",
                "pull_request_comment",
                "pull_request_review_approved",
                "pull_request_review_rejected",
                "pull_request_review_comment",
                "push",
            ]
            .map(str::to_owned)
            .to_vec(),
            active: true,
        }
    }

    /// Sends only these events.
    pub fn events(mut self, events: &[&str]) -> NewHook {
        self.events = events.iter().map(|e| (*e).to_owned()).collect();
        self
    }

    /// Active or not.
    pub fn active(mut self, active: bool) -> NewHook {
        self.active = active;
        self
    }
}

/// A user the simulator made, with the token it answers to (API and git password).
#[derive(Clone, Debug)]
pub struct SimUser {
    /// Numeric id.
    pub id: i64,
    /// Login.
    pub login: String,
    /// The user's token.
    pub token: String,
}

/// A repository the simulator made.
#[derive(Clone, Debug)]
pub struct SimRepo {
    /// Numeric id.
    pub id: i64,
    /// `owner/name`.
    pub full_name: String,
    /// The first commit on the default branch.
    pub head_sha: String,
}

/// A pull request as a test reads it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SimPull {
    /// Number.
    pub number: i64,
    /// Title.
    pub title: String,
    /// Body.
    pub body: String,
    /// Author login.
    pub author: String,
    /// Head branch.
    pub head: String,
    /// Base branch.
    pub base: String,
    /// Head commit (last seen).
    pub head_sha: String,
    /// Open.
    pub open: bool,
    /// Merged.
    pub merged: bool,
    /// Draft.
    pub draft: bool,
    /// The merge commit.
    pub merge_commit_sha: Option<String>,
    /// Labels.
    pub labels: Vec<String>,
}

/// An installation token the simulator issued, as a test reads it: what it was asked for and
/// whether it still works.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SimToken {
    /// Its number, from 1 in the order issued, as the call record names it.
    pub serial: u64,
    /// The token itself (a test may use it as ade would).
    pub token: String,
    /// The installation it acts for.
    pub installation_id: i64,
    /// What it may reach and do.
    pub scope: TokenScope,
    /// Whether it was revoked.
    pub revoked: bool,
    /// When it expires (Unix ms).
    pub expires_at: i64,
}

/// A check on a commit as a test reads it: a GitHub check run or a Gitea commit status.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SimCheck {
    /// Check run or status id.
    pub id: i64,
    /// Name (Gitea: context).
    pub name: String,
    /// Where it stands, in ade's words.
    pub state: CheckState,
    /// The forge's own word: `queued`, `in_progress`, or the conclusion (GitHub); the state (Gitea).
    pub raw_state: String,
    /// The conclusion as sent, once completed (GitHub only).
    pub conclusion: Option<String>,
    /// Title (GitHub) or description (Gitea).
    pub title: String,
    /// Summary (GitHub only).
    pub summary: String,
    /// `output.text` (GitHub only).
    pub text: Option<String>,
    /// Every annotation, in the order received across creates and updates (GitHub only).
    pub annotations: Vec<CheckRunAnnotation>,
    /// Details link.
    pub details_url: Option<String>,
    /// External id (GitHub only).
    pub external_id: Option<String>,
}
