//! The simulator's shared insides: state, git, clock, app identity, webhooks, faults and the call
//! record, reached by every route and by the test handle. Only this value is shared; everything
//! else is plain functions over it.

use super::calls::CallLog;
use super::faults::Faults;
use super::git::{GitStore, Signature};
use super::jwt::AppKey;
use super::state::{Pull, Repo, State, TokenScope, User};
use super::webhooks::Webhooks;
use crate::clock::Clock;
use crate::forge::{ForgeKind, Permission};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

/// The GitHub App the simulator plays (GitHub dialect only).
#[derive(Clone, Debug)]
pub struct AppIdentity {
    /// The app id (`iss` of its JWTs).
    pub id: i64,
    /// The slug; its bot user is `<slug>[bot]`.
    pub slug: String,
    /// The display name.
    pub name: String,
    /// Its key pair.
    pub key: AppKey,
}

impl AppIdentity {
    /// The login of the app's bot user.
    pub fn bot_login(&self) -> String {
        format!("{}[bot]", self.slug)
    }
}

/// Who is calling the API, once their credentials are checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Caller {
    /// A GitHub App authenticated by its JWT: may only use the `/app` endpoints.
    App,
    /// A GitHub App installation token; acts as the app's bot user on the installation's repos
    /// that its scope reaches, doing what its scope allows.
    Installation {
        /// The installation.
        id: i64,
        /// What the token was asked for.
        scope: TokenScope,
    },
    /// A user's own token.
    User {
        /// The login.
        login: String,
    },
    /// No credentials.
    Anonymous,
}

impl Caller {
    /// Whether the caller may read (or, with `write`, write) what a GitHub App `permission`
    /// covers: only an installation token can lack one.
    pub fn may(&self, permission: &str, write: bool) -> bool {
        match self {
            Caller::Installation { scope, .. } => scope.allows(permission, write),
            _ => true,
        }
    }
}

/// Everything one simulator instance has.
pub struct Sim {
    /// The dialect it speaks.
    pub kind: ForgeKind,
    /// Gitea dialect only: answer as Forgejo where the two differ (see `gitea::documented`).
    pub forgejo: bool,
    /// `http://127.0.0.1:<port>` (or the configured public URL), with no trailing slash.
    pub base_url: String,
    /// The forge-side state.
    pub state: Mutex<State>,
    /// The bare repositories.
    pub git: GitStore,
    /// The time source for timestamps and token expiry.
    pub clock: Arc<dyn Clock>,
    /// The GitHub App.
    pub app: AppIdentity,
    /// How long an installation token lives.
    pub token_ttl_ms: i64,
    /// Outgoing deliveries.
    pub hooks: Webhooks,
    /// Injected failures.
    pub faults: Faults,
    /// Every API call received.
    pub calls: CallLog,
}

impl Sim {
    /// The state, for a moment; a poisoned lock (a panicking handler) is still usable since every
    /// change is a single assignment or push.
    pub fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The current time in Unix milliseconds.
    pub fn now(&self) -> i64 {
        self.clock.now_ms()
    }

    /// The login the caller acts as, if any.
    pub fn login_of(&self, caller: &Caller) -> Option<String> {
        match caller {
            Caller::Installation { .. } => Some(self.app.bot_login()),
            Caller::User { login } => Some(login.clone()),
            Caller::App | Caller::Anonymous => None,
        }
    }

    /// What the caller may do on a repository: an installation token writes to the repositories
    /// of its installation that its scope reaches (which of its permissions a call needs is
    /// checked by the call), a user has their collaborator access, anyone reads a public one.
    pub fn access(&self, caller: &Caller, repo: &Repo) -> Permission {
        match caller {
            Caller::Installation { id, scope } => {
                let state = self.state();
                let covered = state.installations.iter().any(|i| {
                    i.id == *id
                        && i.repositories
                            .iter()
                            .any(|r| r.eq_ignore_ascii_case(&repo.full_name()))
                });
                if covered && scope.reaches(&repo.full_name()) {
                    Permission::Write
                } else {
                    Permission::None
                }
            }
            Caller::User { login } => repo.permission_of(login),
            Caller::App => Permission::None,
            Caller::Anonymous if repo.private => Permission::None,
            Caller::Anonymous => Permission::Read,
        }
    }

    /// A git signature for a user at the current time.
    pub fn signature(&self, login: &str) -> Signature {
        let id = self.state().user(login).map(|u| u.id).unwrap_or(0);
        Signature {
            name: login.to_owned(),
            email: self.noreply_email(id, login),
            at_ms: self.now(),
        }
    }

    /// The placeholder address each forge shows for a user without a public e-mail.
    pub fn noreply_email(&self, id: i64, login: &str) -> String {
        match self.kind {
            ForgeKind::Github => format!("{id}+{login}@users.noreply.github.com"),
            ForgeKind::Gitea => format!("{id}+{login}@noreply.localhost"),
        }
    }

    /// A user, or a stand-in for a login the state does not know (a deleted account).
    pub fn user_or_ghost(&self, login: &str) -> User {
        self.state().user(login).cloned().unwrap_or_else(|| User {
            id: -1,
            login: login.to_owned(),
            bot: false,
            site_admin: false,
            token: String::new(),
            created_at: 0,
        })
    }

    /// A snapshot of a repository.
    pub fn repo(&self, owner: &str, name: &str) -> Option<Repo> {
        self.state().repo(owner, name).cloned()
    }

    /// What git says about a pull request now: the head and base commits (the branches while they
    /// exist, else the last ones seen), the merge base and the counts.
    pub async fn pull_git(&self, repo: &Repo, pull: &Pull) -> PullGit {
        let branches = self
            .git
            .branches(&repo.owner, &repo.name)
            .await
            .unwrap_or_default();
        self.pull_git_with(repo, pull, &branches).await
    }

    /// [`Sim::pull_git`] with the branches already read.
    pub async fn pull_git_with(
        &self,
        repo: &Repo,
        pull: &Pull,
        branches: &BTreeMap<String, String>,
    ) -> PullGit {
        let live = !pull.merged && repo.issues.get(&pull.number).is_some_and(|i| i.open);
        let head_sha = match branches.get(&pull.head) {
            Some(sha) if live => sha.clone(),
            _ => pull.head_sha.clone(),
        };
        let base_sha = branches
            .get(&pull.base)
            .cloned()
            .unwrap_or_else(|| pull.base_sha.clone());
        let merge_base = self
            .git
            .merge_base(&repo.owner, &repo.name, &base_sha, &head_sha)
            .await
            .ok()
            .flatten()
            .unwrap_or_else(|| pull.base_sha.clone());
        let stats = self
            .git
            .diff_stats(&repo.owner, &repo.name, &merge_base, &head_sha)
            .await
            .unwrap_or_default();
        PullGit {
            head_sha,
            base_sha,
            merge_base,
            stats,
        }
    }
}

/// A pull request's git facts at the moment of rendering it.
#[derive(Clone, Debug)]
pub struct PullGit {
    /// The head commit.
    pub head_sha: String,
    /// The base branch's commit.
    pub base_sha: String,
    /// Their merge base.
    pub merge_base: String,
    /// Commit, line and file counts.
    pub stats: super::git::DiffStats,
}
