//! What `ade doctor` reads of a repository's setup on Gitea and Forgejo
//! (`crate::forge::setup`): the bot's own access, the repository's hooks, the default branch's
//! protection rule read whole, and folder listings.

use super::wire::list;
use super::{Call, GiteaForge, repo_path};
use crate::forge::http::{collect_pages, encode_path, encode_segment, more_after, query};
use crate::forge::setup::{
    FolderEntry, ProtectionRead, ProtectionSettings, SecretShown, WebhookSetup,
};
use crate::forge::{ForgeError, ForgeResult, Permission, RepoRef};
use serde::Deserialize;
use std::collections::BTreeMap;

/// Hooks asked for per page; the server may cap it lower, which `X-Total-Count` then shows.
const HOOKS_PER_PAGE: usize = 50;

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

/// `GET /repos/{owner}/{repo}/branches/{branch}`.
#[derive(Deserialize)]
struct Branch {
    #[serde(default)]
    protected: bool,
    #[serde(default)]
    effective_branch_protection_name: Option<String>,
    #[serde(default)]
    required_approvals: Option<u32>,
    #[serde(default)]
    enable_status_check: bool,
    #[serde(default, deserialize_with = "list")]
    status_check_contexts: Vec<String>,
}

/// `GET /repos/{owner}/{repo}/branch_protections/{name}`.
#[derive(Deserialize)]
struct Rule {
    #[serde(default)]
    required_approvals: Option<u32>,
    #[serde(default)]
    dismiss_stale_approvals: bool,
    #[serde(default)]
    ignore_stale_approvals: bool,
    #[serde(default)]
    enable_status_check: bool,
    #[serde(default, deserialize_with = "list")]
    status_check_contexts: Vec<String>,
    /// Gitea 1.24 and later.
    #[serde(default)]
    block_admin_merge_override: Option<bool>,
    /// Forgejo.
    #[serde(default)]
    apply_to_admins: Option<bool>,
}

impl Rule {
    /// Whether admins are held to the rule; `None` from a server that has neither field (Gitea
    /// before 1.24), which cannot hold them.
    fn enforce_admins(&self) -> Option<bool> {
        match (self.block_admin_merge_override, self.apply_to_admins) {
            (None, None) => None,
            (gitea, forgejo) => Some(gitea == Some(true) || forgejo == Some(true)),
        }
    }
}

/// An entry of a folder listing (`ContentsResponse`).
#[derive(Deserialize)]
struct Entry {
    name: String,
    path: String,
    #[serde(rename = "type")]
    kind: String,
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
        let hooks = collect_pages(|page, before| {
            let path = repo_path(repo, "/hooks")
                + &query(&[
                    ("page", &page.to_string()),
                    ("limit", &HOOKS_PER_PAGE.to_string()),
                ]);
            let what = &what;
            async move {
                let reply = self.call(Call::get(path, what)).await?;
                let batch: Vec<Hook> = reply.success_json(what)?;
                let more = more_after(&reply, batch.len(), HOOKS_PER_PAGE, before);
                Ok((batch, more))
            }
        })
        .await?;
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
        if !found.protected {
            return Ok(ProtectionRead::Unprotected);
        }
        let rule = found
            .effective_branch_protection_name
            .clone()
            .filter(|r| !r.is_empty())
            .unwrap_or_else(|| branch.to_string());
        let what = format!("read protection rule {rule} of {}", repo.full_name());
        let path = repo_path(
            repo,
            &format!("/branch_protections/{}", encode_segment(&rule)),
        );
        let reply = self.call(Call::get(path, &what)).await?;
        if matches!(reply.status.as_u16(), 403 | 404) {
            return Ok(ProtectionRead::Summary {
                required_approvals: found.required_approvals,
                required_checks: if found.enable_status_check {
                    found.status_check_contexts
                } else {
                    Vec::new()
                },
                why: format!(
                    "{what}: {} {}: Gitea shows protection rules only to repository admins",
                    reply.status.as_u16(),
                    reply.message()
                ),
            });
        }
        let rule: Rule = reply.success_json(&what)?;
        let enforce_admins = rule.enforce_admins();
        Ok(ProtectionRead::Rules(ProtectionSettings {
            required_approvals: rule.required_approvals.unwrap_or(0),
            dismiss_stale_approvals: rule.dismiss_stale_approvals,
            stale_approvals_ignored: rule.ignore_stale_approvals,
            required_checks: if rule.enable_status_check {
                rule.status_check_contexts
            } else {
                Vec::new()
            },
            enforce_admins,
        }))
    }

    /// The entries of the folder `path` at `git_ref`; `None` when there is no such folder.
    pub async fn list_folder(
        &self,
        repo: &RepoRef,
        path: &str,
        git_ref: &str,
    ) -> ForgeResult<Option<Vec<FolderEntry>>> {
        let what = format!("list {path} at {git_ref} in {}", repo.full_name());
        let url = repo_path(repo, &format!("/contents/{}", encode_path(path)))
            + &query(&[("ref", git_ref)]);
        let reply = self.call(Call::get(url, &what)).await?;
        if reply.status.as_u16() == 404 {
            return Ok(None);
        }
        let value: serde_json::Value = reply.success_json(&what)?;
        if !value.is_array() {
            return Ok(None);
        }
        let entries: Vec<Entry> = serde_json::from_value(value)
            .map_err(|e| ForgeError::Malformed(format!("{what}: {e}")))?;
        Ok(Some(
            entries
                .into_iter()
                .map(|e| FolderEntry {
                    is_file: e.kind == "file",
                    name: e.name,
                    path: e.path,
                })
                .collect(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(value: serde_json::Value) -> Rule {
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
