//! Repository reads on Gitea: the bot's login, files, the default branch, permissions, teams,
//! branch protection, and the credential for git.

use super::{Call, GiteaForge, repo_path, wire};
use crate::forge::http::{Reply, encode_path, encode_segment, query};
use crate::forge::rest::{self, FileRead, Repos};
use crate::forge::{
    BranchHead, BranchProtection, CloneCredential, ForgeError, ForgeResult, GitAccess, Permission,
    RepoRef, Team,
};

impl GiteaForge {
    /// The bot user's login, asked once.
    pub(super) async fn bot_login_cached(&self) -> ForgeResult<String> {
        self.bot_login
            .get_or_try_init(|| async {
                let what = "read the bot user";
                let user: wire::User = self
                    .call(Call::get("/user".into(), what))
                    .await?
                    .success_json(what)?;
                Ok(user.login)
            })
            .await
            .cloned()
    }
}

#[async_trait::async_trait]
impl Repos for GiteaForge {
    async fn bot_login(gitea: &GiteaForge) -> ForgeResult<String> {
        gitea.bot_login_cached().await
    }

    async fn read_file(
        gitea: &GiteaForge,
        repo: &RepoRef,
        path: &str,
        git_ref: &str,
    ) -> ForgeResult<Option<Vec<u8>>> {
        let what = format!("read {path} at {git_ref} in {}", repo.full_name());
        let file = encode_path(path);
        let at = query(&[("ref", git_ref)]);
        let reply = gitea
            .call(Call::get(
                repo_path(repo, &format!("/contents/{file}{at}")),
                &what,
            ))
            .await?;
        match rest::file_read(&reply, &what)? {
            FileRead::Missing => Ok(None),
            FileRead::Inline(bytes) => Ok(Some(bytes)),
            // Files past the server's inline limit come without content; the raw endpoint has
            // them.
            FileRead::Large => {
                let call = Call::get(repo_path(repo, &format!("/raw/{file}{at}")), &what);
                rest::raw_file(gitea.call(call).await?, &what)
            }
        }
    }

    async fn default_branch(gitea: &GiteaForge, repo: &RepoRef) -> ForgeResult<BranchHead> {
        let name = rest::repository(gitea, repo).await?.default_branch;
        let head = branch::<crate::forge::wire::Unread>(gitea, repo, &name)
            .await?
            .ok_or_else(|| {
                ForgeError::NotFound(format!("the default branch {name} of {}", repo.full_name()))
            })?;
        Ok(BranchHead {
            name: head.name,
            sha: head.commit.sha,
        })
    }

    /// Gitea shows another user's permission only to repository admins, so the bot must be one
    /// (docs/forges.md); a 403 here says so.
    fn read_permission(reply: &Reply, what: &str) -> ForgeResult<Permission> {
        if reply.status.as_u16() == 403 {
            return Err(ForgeError::Forbidden(format!(
                "{what}: the bot user must be an admin of the repository to read permissions ({})",
                reply.message()
            )));
        }
        let level: wire::Permission = reply.success_json(what)?;
        Ok(match level.permission.as_str() {
            "owner" | "admin" => Permission::Admin,
            "write" => Permission::Write,
            "read" => Permission::Read,
            _ => Permission::None,
        })
    }

    /// Gitea: the team is found by name in the organization (`GET /orgs/{org}/teams/search`),
    /// then its member list is asked about the user (`GET /teams/{id}/members/{user}`: 200 or
    /// 404).
    async fn is_team_member(
        gitea: &GiteaForge,
        _repo: &RepoRef,
        team: &Team,
        login: &str,
    ) -> ForgeResult<bool> {
        let Team { org, slug } = team;
        let what = format!("find team {org}/{slug}");
        let path = format!(
            "/orgs/{}/teams/search?q={}",
            encode_segment(org),
            encode_segment(slug)
        );
        let reply = gitea.call(Call::get(path, &what)).await?;
        if reply.status.as_u16() == 404 {
            return Ok(false);
        }
        let found: wire::TeamSearch = reply.success_json(&what)?;
        let Some(id) = found
            .data
            .iter()
            .find(|t| t.name.eq_ignore_ascii_case(slug))
            .map(|t| t.id)
        else {
            return Ok(false);
        };
        let what = format!("read whether {login} is in team {org}/{slug}");
        let path = format!("/teams/{id}/members/{}", encode_segment(login));
        let reply = gitea.call(Call::get(path, &what)).await?;
        match reply.status.as_u16() {
            404 => Ok(false),
            _ => reply.success(&what).map(|_| true),
        }
    }

    /// The branch says whether a rule protects it and which (rules may be patterns such as
    /// `release/*`); the rule itself is then read for what admins are held to. A bot that may not
    /// read rules still gets the branch's own summary.
    async fn branch_protection(
        gitea: &GiteaForge,
        repo: &RepoRef,
        name: &str,
    ) -> ForgeResult<Option<BranchProtection>> {
        let Some(branch) = branch::<wire::RuleShown>(gitea, repo, name).await? else {
            return Ok(None);
        };
        Ok(gitea.rule_of(repo, branch).await?.enforced())
    }

    /// The bot's own token, which does not expire: Gitea and Forgejo cannot make a token for one
    /// repository or one kind of access, so `access` changes nothing (docs/gitea.md says what to
    /// give the bot instead).
    async fn clone_credential(
        gitea: &GiteaForge,
        repo: &RepoRef,
        _access: GitAccess,
    ) -> ForgeResult<CloneCredential> {
        let url = rest::repository(gitea, repo).await?.clone_url;
        Ok(CloneCredential {
            url,
            username: gitea.bot_login_cached().await?,
            password: gitea.token.clone(),
            expires_at: None,
        })
    }

    /// Nothing to revoke: the credential is the bot's own token, which ade goes on using.
    async fn revoke_credential(_: &GiteaForge, _: &CloneCredential) -> ForgeResult<()> {
        Ok(())
    }
}

/// Branch `name` with what `R` reads of its rule; `None` when there is no such branch.
async fn branch<R: serde::de::DeserializeOwned>(
    gitea: &GiteaForge,
    repo: &RepoRef,
    name: &str,
) -> ForgeResult<Option<crate::forge::wire::Branch<R>>> {
    let what = format!("read branch {name} of {}", repo.full_name());
    let path = repo_path(repo, &format!("/branches/{}", encode_segment(name)));
    let reply = gitea.call(Call::get(path, &what)).await?;
    if reply.status.as_u16() == 404 {
        return Ok(None);
    }
    reply.success_json(&what).map(Some)
}
