//! Repository reads on GitHub: the bot's login, files, the default branch, permissions, branch
//! protection, and the credential for git.

use super::{Call, GithubForge, repo_path, wire};
use crate::forge::http::{Reply, encode_path, encode_segment, query};
use crate::forge::rest::{self, FileRead, Repos};
use crate::forge::setup::ProtectionRead;
use crate::forge::{
    BranchHead, BranchProtection, CloneCredential, ForgeResult, GitAccess, Permission, RepoRef,
    Team,
};

/// Asks for a file's bytes instead of its JSON description (files over 1 MB have no inline
/// content).
const RAW: &str = "application/vnd.github.raw+json";

#[async_trait::async_trait]
impl Repos for GithubForge {
    /// The app's slug as its bot user is named, asked once.
    async fn bot_login(gh: &GithubForge) -> ForgeResult<String> {
        gh.bot_login
            .get_or_try_init(|| async {
                let what = "read the GitHub App";
                let app: wire::App = gh
                    .app_call(Call::get("/app".into(), what))
                    .await?
                    .success_json(what)?;
                Ok(format!("{}[bot]", app.slug))
            })
            .await
            .cloned()
    }

    async fn read_file(
        gh: &GithubForge,
        repo: &RepoRef,
        path: &str,
        git_ref: &str,
    ) -> ForgeResult<Option<Vec<u8>>> {
        let what = format!("read {path} at {git_ref} in {}", repo.full_name());
        let url = repo_path(repo, &format!("/contents/{}", encode_path(path)))
            + &query(&[("ref", git_ref)]);
        let reply = gh.repo_call(repo, Call::get(url.clone(), &what)).await?;
        match rest::file_read(&reply, &what)? {
            FileRead::Missing => Ok(None),
            FileRead::Inline(bytes) => Ok(Some(bytes)),
            FileRead::Large => {
                let call = Call::get(url, &what).accept(RAW);
                rest::raw_file(gh.repo_call(repo, call).await?, &what)
            }
        }
    }

    async fn default_branch(gh: &GithubForge, repo: &RepoRef) -> ForgeResult<BranchHead> {
        let name = rest::repository(gh, repo).await?.default_branch;
        let head = branch::<crate::forge::wire::Unread>(gh, repo, &name).await?;
        Ok(BranchHead {
            name: head.name,
            sha: head.commit.sha,
        })
    }

    fn read_permission(reply: &Reply, what: &str) -> ForgeResult<Permission> {
        let level: wire::PermissionLevel = reply.success_json(what)?;
        Ok(permission_of(&level))
    }

    /// GitHub: an active membership (`GET /orgs/{org}/teams/{team}/memberships/{user}`); a
    /// pending invitation or a 404 is not membership.
    async fn is_team_member(
        gh: &GithubForge,
        repo: &RepoRef,
        team: &Team,
        login: &str,
    ) -> ForgeResult<bool> {
        let Team { org, slug } = team;
        let what = format!("read whether {login} is in team {org}/{slug}");
        let path = format!(
            "/orgs/{}/teams/{}/memberships/{}",
            encode_segment(org),
            encode_segment(slug),
            encode_segment(login)
        );
        let reply = gh.repo_call(repo, Call::get(path, &what)).await?;
        if reply.status.as_u16() == 404 {
            return Ok(false);
        }
        let membership: wire::TeamMembership = reply.success_json(&what)?;
        Ok(membership.state == "active")
    }

    /// Classic branch protection and rulesets together, as the merge gate and `ade doctor` read
    /// them: a repository may use either or both, and the stricter value of each requirement
    /// applies. Without Administration: read, GitHub shows only whether a branch is protected,
    /// its required checks and its rulesets; approvals not set by a ruleset are then unknown,
    /// which `ade doctor` reports as a warning.
    async fn branch_protection(
        gh: &GithubForge,
        repo: &RepoRef,
        name: &str,
    ) -> ForgeResult<Option<BranchProtection>> {
        let read = gh.protection_read(repo, name).await?;
        if let ProtectionRead::Summary { why, .. } = &read {
            tracing::warn!(
                repo = %repo.full_name(),
                branch = name,
                why,
                "branch protection unreadable; using the branch summary"
            );
        }
        Ok(read.enforced())
    }

    /// A token of its own for this git work, which reaches `repo` alone, may only read its
    /// contents (`Fetch`) or write them too (`Push`), and expires within the hour unless revoked
    /// before.
    async fn clone_credential(
        gh: &GithubForge,
        repo: &RepoRef,
        access: GitAccess,
    ) -> ForgeResult<CloneCredential> {
        let url = rest::repository(gh, repo).await?.clone_url;
        let token = gh.git_token(repo, access).await?;
        Ok(CloneCredential {
            url,
            username: "x-access-token".to_string(),
            password: token.token,
            expires_at: Some(token.expires_at_ms),
        })
    }

    async fn revoke_credential(gh: &GithubForge, credential: &CloneCredential) -> ForgeResult<()> {
        let what = format!("revoke the access token to {}", credential.url);
        gh.revoke_token(&credential.password, &what).await
    }
}

/// Branch `name`: its head, and what `R` reads of what it shows of its protection.
pub(super) async fn branch<R: serde::de::DeserializeOwned>(
    gh: &GithubForge,
    repo: &RepoRef,
    name: &str,
) -> ForgeResult<crate::forge::wire::Branch<R>> {
    let what = format!("read branch {name} of {}", repo.full_name());
    let path = repo_path(repo, &format!("/branches/{}", encode_segment(name)));
    gh.repo_call(repo, Call::get(path, &what))
        .await?
        .success_json(&what)
}

/// `role_name` tells triage and maintain apart (`permission` folds them into read and write);
/// a custom role's name means nothing here, so its base `permission` is used.
fn permission_of(level: &wire::PermissionLevel) -> Permission {
    let by_name = |name: &str| match name {
        "admin" => Some(Permission::Admin),
        "maintain" => Some(Permission::Maintain),
        "write" => Some(Permission::Write),
        "triage" => Some(Permission::Triage),
        "read" => Some(Permission::Read),
        "none" => Some(Permission::None),
        _ => None,
    };
    level
        .role_name
        .as_deref()
        .and_then(by_name)
        .or_else(|| by_name(&level.permission))
        .unwrap_or(Permission::None)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn level(permission: &str, role: Option<&str>) -> wire::PermissionLevel {
        wire::PermissionLevel {
            permission: permission.to_string(),
            role_name: role.map(str::to_string),
        }
    }

    #[test]
    fn role_names_tell_triage_and_maintain_apart() {
        assert_eq!(
            permission_of(&level("write", Some("maintain"))),
            Permission::Maintain
        );
        assert_eq!(
            permission_of(&level("read", Some("triage"))),
            Permission::Triage
        );
        assert_eq!(
            permission_of(&level("admin", Some("admin"))),
            Permission::Admin
        );
        assert_eq!(
            permission_of(&level("write", Some("release-manager"))),
            Permission::Write
        );
        assert_eq!(permission_of(&level("none", None)), Permission::None);
        assert_eq!(permission_of(&level("weird", None)), Permission::None);
    }
}
