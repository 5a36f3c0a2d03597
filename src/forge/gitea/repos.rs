//! Repository reads on Gitea: the bot's login, files, the default branch, permissions, branch
//! protection, and the credential for git.

use super::{Call, GiteaForge, repo_path, wire};
use crate::forge::http::{encode_path, encode_segment, query};
use crate::forge::rest::{self, FileRead};
use crate::forge::{
    BranchHead, BranchProtection, CloneCredential, ForgeError, ForgeResult, Permission, RepoRef,
};

pub(super) async fn bot_login(gitea: &GiteaForge) -> ForgeResult<String> {
    gitea.bot_login_cached().await
}

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

pub(super) async fn read_file(
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
        // Files past the server's inline limit come without content; the raw endpoint has them.
        FileRead::Large => {
            let call = Call::get(repo_path(repo, &format!("/raw/{file}{at}")), &what);
            rest::raw_file(gitea.call(call).await?, &what)
        }
    }
}

async fn branch(
    gitea: &GiteaForge,
    repo: &RepoRef,
    name: &str,
) -> ForgeResult<Option<wire::Branch>> {
    let what = format!("read branch {name} of {}", repo.full_name());
    let path = repo_path(repo, &format!("/branches/{}", encode_segment(name)));
    let reply = gitea.call(Call::get(path, &what)).await?;
    if reply.status.as_u16() == 404 {
        return Ok(None);
    }
    reply.success_json(&what).map(Some)
}

pub(super) async fn default_branch(gitea: &GiteaForge, repo: &RepoRef) -> ForgeResult<BranchHead> {
    let name = rest::repository(gitea, repo).await?.default_branch;
    let head = branch(gitea, repo, &name).await?.ok_or_else(|| {
        ForgeError::NotFound(format!("the default branch {name} of {}", repo.full_name()))
    })?;
    Ok(BranchHead {
        name: head.name,
        sha: head.commit.id,
    })
}

/// Gitea shows another user's permission only to repository admins, so the bot must be one
/// (docs/forges.md); a 403 here says so.
/// Gitea: the team is found by name in the organization (`GET /orgs/{org}/teams/search`), then
/// its member list is asked about the user (`GET /teams/{id}/members/{user}`: 200 or 404).
pub(super) async fn is_team_member(
    gitea: &GiteaForge,
    org: &str,
    team: &str,
    login: &str,
) -> ForgeResult<bool> {
    let what = format!("find team {org}/{team}");
    let path = format!(
        "/orgs/{}/teams/search?q={}",
        encode_segment(org),
        encode_segment(team)
    );
    let reply = gitea.call(Call::get(path, &what)).await?;
    if reply.status.as_u16() == 404 {
        return Ok(false);
    }
    let found: wire::TeamSearch = reply.success_json(&what)?;
    let Some(id) = found
        .data
        .iter()
        .find(|t| t.name.eq_ignore_ascii_case(team))
        .map(|t| t.id)
    else {
        return Ok(false);
    };
    let what = format!("read whether {login} is in team {org}/{team}");
    let path = format!("/teams/{id}/members/{}", encode_segment(login));
    let reply = gitea.call(Call::get(path, &what)).await?;
    match reply.status.as_u16() {
        404 => Ok(false),
        _ => reply.success(&what).map(|_| true),
    }
}

pub(super) async fn permission(
    gitea: &GiteaForge,
    repo: &RepoRef,
    login: &str,
) -> ForgeResult<Permission> {
    let what = format!("read the permission of {login} on {}", repo.full_name());
    let path = repo_path(
        repo,
        &format!("/collaborators/{}/permission", encode_segment(login)),
    );
    let reply = gitea.call(Call::get(path, &what)).await?;
    match reply.status.as_u16() {
        404 => return Ok(Permission::None),
        403 => {
            return Err(ForgeError::Forbidden(format!(
                "{what}: the bot user must be an admin of the repository to read permissions ({})",
                reply.message()
            )));
        }
        _ => {}
    }
    let level: wire::Permission = reply.success_json(&what)?;
    Ok(match level.permission.as_str() {
        "owner" | "admin" => Permission::Admin,
        "write" => Permission::Write,
        "read" => Permission::Read,
        _ => Permission::None,
    })
}

/// The branch says whether a rule protects it and which (rules may be patterns such as
/// `release/*`); the rule itself is then read for what admins are held to. A bot that may not
/// read rules still gets the branch's own summary.
pub(super) async fn branch_protection(
    gitea: &GiteaForge,
    repo: &RepoRef,
    name: &str,
) -> ForgeResult<Option<BranchProtection>> {
    let Some(branch) = branch(gitea, repo, name).await? else {
        return Ok(None);
    };
    Ok(gitea.rule_of(repo, branch).await?.enforced())
}

pub(super) async fn clone_credential(
    gitea: &GiteaForge,
    repo: &RepoRef,
) -> ForgeResult<CloneCredential> {
    let url = rest::repository(gitea, repo).await?.clone_url;
    Ok(CloneCredential {
        url,
        username: gitea.bot_login_cached().await?,
        password: gitea.token.clone(),
        expires_at: None,
    })
}
