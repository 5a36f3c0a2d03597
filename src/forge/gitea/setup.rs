//! What `ade doctor` reads of a repository's setup on Gitea and Forgejo
//! (`crate::forge::setup`): the bot's own access, the repository's hooks, the default branch's
//! protection rule read whole, and folder listings.

use super::wire::list;
use super::wire::{Branch, BranchProtection};
use super::{Call, GiteaForge, repo_path};
use crate::forge::http::encode_segment;
use crate::forge::setup::{ProtectionRead, ProtectionSettings, SecretShown, WebhookSetup};
use crate::forge::{ForgeResult, Permission, RepoRef};
use serde::Deserialize;
use std::collections::BTreeMap;

/// `GET /repos/{owner}/{repo}`: the caller's own access.
#[derive(Deserialize)]
struct Repository {
    #[serde(default)]
    permissions: Option<Access>,
}

#[derive(Deserialize)]
struct Access {
    #[serde(default)]
    admin: bool,
    #[serde(default)]
    push: bool,
    #[serde(default)]
    pull: bool,
}

/// A repository hook (`Hook`).
#[derive(Deserialize)]
struct Hook {
    #[serde(rename = "type", default)]
    kind: Option<String>,
    #[serde(default)]
    config: Option<BTreeMap<String, String>>,
    #[serde(default, deserialize_with = "list")]
    events: Vec<String>,
    #[serde(default)]
    active: bool,
    /// Forgejo also shows the address and content type beside `config`.
    #[serde(default)]
    url: Option<String>,
    #[serde(default)]
    content_type: Option<String>,
    #[serde(default)]
    branch_filter: Option<String>,
}

impl GiteaForge {
    /// The bot's own access to `repo`, from the repository's `permissions` (which every caller
    /// may read about itself).
    pub async fn own_permission(&self, repo: &RepoRef) -> ForgeResult<Permission> {
        let what = format!("read repository {}", repo.full_name());
        let found: Repository = self
            .call(Call::get(repo_path(repo, ""), &what))
            .await?
            .success_json(&what)?;
        Ok(match found.permissions {
            Some(Access { admin: true, .. }) => Permission::Admin,
            Some(Access { push: true, .. }) => Permission::Write,
            Some(Access { pull: true, .. }) => Permission::Read,
            _ => Permission::None,
        })
    }

    /// The repository's hooks (repository admins only: a 403 otherwise). Gitea never shows a
    /// hook's secret.
    pub async fn list_hooks(&self, repo: &RepoRef) -> ForgeResult<Vec<WebhookSetup>> {
        let what = format!("list the webhooks of {}", repo.full_name());
        let hooks: Vec<Hook> = self.list(&repo_path(repo, "/hooks"), &[], &what).await?;
        let hooks = hooks
            .into_iter()
            .map(|hook| {
                let config = hook.config.unwrap_or_default();
                WebhookSetup {
                    kind: hook.kind,
                    url: config.get("url").cloned().or(hook.url).unwrap_or_default(),
                    content_type: config.get("content_type").cloned().or(hook.content_type),
                    events: Some(hook.events),
                    active: Some(hook.active),
                    secret: SecretShown::Hidden,
                    insecure_tls: false,
                    branch_filter: hook.branch_filter,
                }
            })
            .collect();
        Ok(hooks)
    }

    /// The protection of `branch`: the branch names its rule (which may be a pattern), and the
    /// rule is read whole; a bot that may not read rules gets the branch's own summary.
    pub async fn protection_read(
        &self,
        repo: &RepoRef,
        branch: &str,
    ) -> ForgeResult<ProtectionRead> {
        let what = format!("read branch {branch} of {}", repo.full_name());
        let path = repo_path(repo, &format!("/branches/{}", encode_segment(branch)));
        let found: Branch = self
            .call(Call::get(path, &what))
            .await?
            .success_json(&what)?;
        self.rule_of(repo, found).await
    }

    /// The protection rule that `branch` names, read whole; the branch's own summary when the
    /// bot may not read rules.
    pub(super) async fn rule_of(
        &self,
        repo: &RepoRef,
        branch: Branch,
    ) -> ForgeResult<ProtectionRead> {
        if !branch.rule.protected {
            return Ok(ProtectionRead::Unprotected);
        }
        let rule = branch
            .rule
            .effective_branch_protection_name
            .clone()
            .filter(|r| !r.is_empty())
            .unwrap_or_else(|| branch.name.clone());
        let what = format!("read protection rule {rule} of {}", repo.full_name());
        let path = repo_path(
            repo,
            &format!("/branch_protections/{}", encode_segment(&rule)),
        );
        let reply = self.call(Call::get(path, &what)).await?;
        if matches!(reply.status.as_u16(), 403 | 404) {
            return Ok(ProtectionRead::Summary {
                required_approvals: branch.rule.requires.required_approvals,
                required_checks: branch.rule.requires.required_checks(),
                why: format!(
                    "{what}: {} {}: Gitea shows protection rules only to repository admins",
                    reply.status.as_u16(),
                    reply.message()
                ),
            });
        }
        let rule: BranchProtection = reply.success_json(&what)?;
        Ok(ProtectionRead::Rules(ProtectionSettings {
            required_approvals: rule.requires.required_approvals.unwrap_or(0),
            dismiss_stale_approvals: rule.dismiss_stale_approvals,
            stale_approvals_ignored: rule.ignore_stale_approvals,
            enforce_admins: rule.enforce_admins(),
            required_checks: rule.requires.required_checks(),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(value: serde_json::Value) -> BranchProtection {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn a_server_without_either_admin_field_leaves_admins_unknown() {
        assert_eq!(rule(serde_json::json!({})).enforce_admins(), None);
        let gitea = rule(serde_json::json!({ "block_admin_merge_override": false }));
        assert_eq!(gitea.enforce_admins(), Some(false));
        let forgejo = rule(serde_json::json!({ "apply_to_admins": true }));
        assert_eq!(forgejo.enforce_admins(), Some(true));
        assert!(rule(serde_json::json!({ "ignore_stale_approvals": true })).ignore_stale_approvals);
    }
}
