//! The test handle's seeding: accounts, repositories, access, protection, labels, teams and app
//! installations, set up directly rather than through the API.

use super::{Simulator, github_token_body, random_hex};
use crate::forge::{BranchProtection, ForgeKind, Permission};
use crate::sim::options::{NewHook, NewRepo, SimRepo, SimUser};
use crate::sim::state::{Installation, Label, Repo, RepoHook, Team, User};

impl Simulator {
    /// Adds a person with a token (`ghp_…` on GitHub, 40 hex digits on Gitea).
    pub fn add_user(&self, login: &str) -> SimUser {
        self.add_account(login, false)
    }

    /// Adds a bot account (Gitea: ade's bot user; GitHub: another app's `…[bot]`).
    pub fn add_bot(&self, login: &str) -> SimUser {
        self.add_account(login, true)
    }

    fn add_account(&self, login: &str, bot: bool) -> SimUser {
        let token = match self.sim.kind {
            ForgeKind::Github => format!("ghp_{}", github_token_body()),
            ForgeKind::Gitea => random_hex(40),
        };
        let now = self.sim.now();
        let mut state = self.sim.state();
        if let Some(existing) = state.user(login) {
            return SimUser {
                id: existing.id,
                login: existing.login.clone(),
                token: existing.token.clone(),
            };
        }
        let id = state.next_id();
        state.users.insert(
            login.to_owned(),
            User {
                id,
                login: login.to_owned(),
                bot,
                site_admin: false,
                token: token.clone(),
                created_at: now,
            },
        );
        SimUser {
            id,
            login: login.to_owned(),
            token,
        }
    }

    /// Registers an OAuth application that sends users back to `redirect_uri`; returns its
    /// client id and secret.
    pub fn add_oauth_app(&self, redirect_uri: &str) -> crate::sim::OAuthApp {
        let app = crate::sim::OAuthApp {
            client_id: format!("sim-{}", random_hex(20)),
            client_secret: random_hex(40),
            redirect_uri: redirect_uri.to_owned(),
        };
        self.sim.state().oauth_apps.push(app.clone());
        app
    }

    /// Creates a repository (a bare git repository with the files committed on the default
    /// branch by the owner, who is created if unknown).
    pub async fn create_repo(&self, new: NewRepo) -> anyhow::Result<SimRepo> {
        self.add_user(&new.owner);
        self.sim
            .git
            .init(&new.owner, &new.name, &new.default_branch)
            .await?;
        let files: Vec<(String, Option<Vec<u8>>)> = new
            .files
            .iter()
            .map(|(p, c)| (p.clone(), Some(c.clone())))
            .collect();
        let signature = self.sim.signature(&new.owner);
        let head_sha = self
            .sim
            .git
            .commit(
                &new.owner,
                &new.name,
                &new.default_branch,
                &files,
                "Initial commit",
                &signature,
            )
            .await?;
        let now = self.sim.now();
        let mut state = self.sim.state();
        let id = state.next_id();
        let full_name = format!("{}/{}", new.owner, new.name);
        state.repos.insert(
            full_name.clone(),
            Repo {
                private: new.private,
                description: new.description,
                ..Repo::new(id, new.owner, new.name, new.default_branch, now)
            },
        );
        Ok(SimRepo {
            id,
            full_name,
            head_sha,
        })
    }

    fn with_repo<T>(&self, repo: &str, change: impl FnOnce(&mut Repo) -> T) -> anyhow::Result<T> {
        let (owner, name) = repo
            .split_once('/')
            .ok_or_else(|| anyhow::anyhow!("`{repo}` is not owner/name"))?;
        let mut state = self.sim.state();
        let r = state
            .repo_mut(owner, name)
            .ok_or_else(|| anyhow::anyhow!("no repository {repo}"))?;
        Ok(change(r))
    }

    /// Gives a user an access level (`Permission::None` removes them).
    pub fn set_permission(
        &self,
        repo: &str,
        login: &str,
        permission: Permission,
    ) -> anyhow::Result<()> {
        self.with_repo(repo, |r| {
            if permission == Permission::None {
                r.collaborators.remove(login);
            } else {
                r.collaborators.insert(login.to_owned(), permission);
            }
        })
    }

    /// Protects a branch.
    pub fn protect_branch(
        &self,
        repo: &str,
        branch: &str,
        protection: BranchProtection,
    ) -> anyhow::Result<()> {
        self.with_repo(repo, |r| {
            r.protections.insert(branch.to_owned(), protection);
        })
    }

    /// Removes a branch's protection.
    pub fn unprotect_branch(&self, repo: &str, branch: &str) -> anyhow::Result<()> {
        self.with_repo(repo, |r| {
            r.protections.remove(branch);
            r.dismiss_stale.remove(branch);
        })
    }

    /// Makes a branch's protection dismiss approvals when new commits arrive (as `ade doctor`
    /// reads it; merges in the simulator do not apply it).
    pub fn dismiss_stale_approvals(
        &self,
        repo: &str,
        branch: &str,
        dismiss: bool,
    ) -> anyhow::Result<()> {
        self.with_repo(repo, |r| {
            if dismiss {
                r.dismiss_stale.insert(branch.to_owned());
            } else {
                r.dismiss_stale.remove(branch);
            }
        })
    }

    /// Lists a webhook on a repository (Gitea dialect); returns its id.
    pub fn add_hook(&self, repo: &str, hook: NewHook) -> anyhow::Result<i64> {
        let id = self.sim.state().next_id();
        self.with_repo(repo, |r| {
            r.hooks.push(RepoHook {
                id,
                kind: hook.kind,
                url: hook.url,
                content_type: hook.content_type,
                events: hook.events,
                active: hook.active,
            });
            id
        })
    }

    /// Changes what an installation was granted: its permissions (name, `read`/`write`) and the
    /// events it receives.
    pub fn set_installation_access(
        &self,
        installation: i64,
        permissions: &[(&str, &str)],
        events: &[&str],
    ) -> anyhow::Result<()> {
        let mut state = self.sim.state();
        let found = state
            .installations
            .iter_mut()
            .find(|i| i.id == installation)
            .ok_or_else(|| anyhow::anyhow!("no installation {installation}"))?;
        found.permissions = permissions
            .iter()
            .map(|(n, l)| ((*n).to_owned(), (*l).to_owned()))
            .collect();
        found.events = events.iter().map(|e| (*e).to_owned()).collect();
        Ok(())
    }

    /// Defines a label; returns its id.
    pub fn add_label(&self, repo: &str, name: &str, color: &str) -> anyhow::Result<i64> {
        let id = self.sim.state().next_id();
        self.with_repo(repo, |r| {
            r.labels.push(Label {
                id,
                name: name.to_owned(),
                color: color.trim_start_matches('#').to_owned(),
                description: String::new(),
            });
            id
        })
    }

    /// Makes a team `name` in organization `org` (an account, created if unknown) with these
    /// members; returns its id.
    pub fn add_team(&self, org: &str, name: &str, members: &[&str]) -> i64 {
        self.add_user(org);
        let mut state = self.sim.state();
        let id = state.next_id();
        state.teams.push(Team {
            id,
            org: org.to_owned(),
            name: name.to_owned(),
            members: members.iter().map(|m| (*m).to_owned()).collect(),
        });
        id
    }

    /// Adds `repo` to the repositories an installation covers, as its account does in the app's
    /// settings.
    pub fn add_to_installation(&self, installation: i64, repo: &str) -> anyhow::Result<()> {
        let mut state = self.sim.state();
        let found = state
            .installations
            .iter_mut()
            .find(|i| i.id == installation)
            .ok_or_else(|| anyhow::anyhow!("no installation {installation}"))?;
        found.repositories.push(repo.to_owned());
        Ok(())
    }

    /// The installation covering `repo`, if the app is installed on it.
    pub fn installation_of(&self, repo: &str) -> Option<i64> {
        self.sim.state().installation_for(repo).map(|i| i.id)
    }

    /// Installs the GitHub App on `account` for these repositories; returns the installation id.
    pub fn install_app(&self, account: &str, repos: &[&str]) -> i64 {
        self.add_user(account);
        let now = self.sim.now();
        let mut state = self.sim.state();
        let id = state.next_id();
        state.installations.push(Installation {
            id,
            account: account.to_owned(),
            repositories: repos.iter().map(|r| (*r).to_owned()).collect(),
            permissions: crate::sim::github::json::APP_PERMISSIONS
                .iter()
                .map(|(name, level)| ((*name).to_owned(), (*level).to_owned()))
                .collect(),
            events: crate::sim::github::json::APP_EVENTS
                .iter()
                .map(|e| (*e).to_owned())
                .collect(),
            created_at: now,
        });
        id
    }
}
