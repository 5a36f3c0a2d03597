//! What `ade doctor` reads of a repository's setup on GitHub (`crate::forge::setup`): the app's
//! installation and webhook, the default branch's protection read whole, and folder listings.

use super::wire::{Protection, Rule, RuleShown, StatusChecks};
use super::{Call, GithubForge, repo_path, repos};
use crate::forge::http::{encode_segment, query};
use crate::forge::setup::{
    InstallationAccess, ProtectionRead, ProtectionSettings, SecretShown, WebhookSetup,
};
use crate::forge::{ForgeResult, RepoRef};
use serde::Deserialize;
use std::collections::BTreeMap;

/// `GET /repos/{owner}/{repo}/installation`, the parts the doctor judges.
#[derive(Deserialize)]
struct Installation {
    id: i64,
    #[serde(default)]
    permissions: BTreeMap<String, String>,
    #[serde(default)]
    events: Vec<String>,
    #[serde(default)]
    suspended_at: Option<String>,
    #[serde(default)]
    target_type: Option<String>,
    #[serde(default)]
    account: Option<Account>,
}

/// The account an installation is on.
#[derive(Deserialize)]
struct Account {
    #[serde(rename = "type", default)]
    kind: Option<String>,
}

/// `GET /app/hook/config`.
#[derive(Deserialize)]
struct HookConfig {
    #[serde(default)]
    url: Option<String>,
    #[serde(default)]
    content_type: Option<String>,
    #[serde(default)]
    secret: Option<String>,
    #[serde(default)]
    insecure_ssl: Option<serde_json::Value>,
}

impl GithubForge {
    /// The installation covering `repo`, read with the app's JWT: the permissions and events
    /// its owner granted. A 404 means the app is not installed there.
    pub async fn installation_access(&self, repo: &RepoRef) -> ForgeResult<InstallationAccess> {
        let what = format!("find the GitHub App installation of {}", repo.full_name());
        let path = repo_path(repo, "/installation");
        let found: Installation = self
            .app_call(Call::get(path, &what))
            .await?
            .success_json(&what)?;
        Ok(InstallationAccess {
            id: found.id,
            permissions: found.permissions,
            events: found.events,
            suspended: found.suspended_at.is_some(),
            account_type: found
                .target_type
                .or_else(|| found.account.and_then(|a| a.kind)),
        })
    }

    /// Mints (or reuses) an installation token for `repo`: whether GitHub hands ade one at all.
    pub async fn check_installation_token(&self, repo: &RepoRef) -> ForgeResult<()> {
        self.installation_token(repo).await.map(|_| ())
    }

    /// The app's webhook configuration (`GET /app/hook/config`, app JWT). GitHub masks the
    /// secret; an empty or absent one means none is set. Whether the webhook is active and which
    /// events it sends are not part of it.
    pub async fn app_webhook(&self) -> ForgeResult<WebhookSetup> {
        let what = "read the GitHub App's webhook configuration";
        let config: HookConfig = self
            .app_call(Call::get("/app/hook/config".into(), what))
            .await?
            .success_json(what)?;
        let insecure = match &config.insecure_ssl {
            Some(serde_json::Value::String(s)) => s == "1",
            Some(serde_json::Value::Number(n)) => n.as_i64() == Some(1),
            _ => false,
        };
        Ok(WebhookSetup {
            kind: None,
            url: config.url.unwrap_or_default(),
            content_type: config.content_type,
            events: None,
            active: None,
            secret: if config.secret.is_some_and(|s| !s.is_empty()) {
                SecretShown::Set
            } else {
                SecretShown::Unset
            },
            insecure_tls: insecure,
            branch_filter: None,
        })
    }

    /// The protection of `branch`, from classic protection and rulesets together. Classic
    /// protection needs Administration: read; without it (403) the branch's own summary is what
    /// is known.
    pub async fn protection_read(
        &self,
        repo: &RepoRef,
        branch: &str,
    ) -> ForgeResult<ProtectionRead> {
        let what = format!("read the protection of {branch} in {}", repo.full_name());
        let path = repo_path(
            repo,
            &format!("/branches/{}/protection", encode_segment(branch)),
        );
        let reply = self.repo_call(repo, Call::get(path, &what)).await?;
        let rules = self.ruleset_settings(repo, branch).await?;
        let classic = match reply.status.as_u16() {
            404 => None,
            403 => {
                let summary = repos::branch::<RuleShown>(self, repo, branch).await?;
                if !summary.rule.protected && rules.is_none() {
                    return Ok(ProtectionRead::Unprotected);
                }
                let mut checks = summary
                    .rule
                    .protection
                    .and_then(|p| p.required_status_checks)
                    .map(StatusChecks::names)
                    .unwrap_or_default();
                if let Some(rules) = &rules {
                    merge_checks(&mut checks, &rules.settings.required_checks);
                }
                return Ok(ProtectionRead::Summary {
                    required_approvals: rules
                        .filter(|r| r.pull_request)
                        .map(|r| r.settings.required_approvals),
                    required_checks: checks,
                    why: refused_because(&reply.message()),
                });
            }
            _ => {
                let protection: Protection = reply.success_json(&what)?;
                let reviews = protection.required_pull_request_reviews;
                Some(ProtectionSettings {
                    required_approvals: reviews
                        .as_ref()
                        .and_then(|r| r.required_approving_review_count)
                        .unwrap_or(0),
                    dismiss_stale_approvals: reviews
                        .as_ref()
                        .is_some_and(|r| r.dismiss_stale_reviews),
                    stale_approvals_ignored: reviews.is_some_and(|r| r.require_last_push_approval),
                    required_checks: protection
                        .required_status_checks
                        .map(StatusChecks::names)
                        .unwrap_or_default(),
                    enforce_admins: Some(protection.enforce_admins.is_some_and(|e| e.enabled)),
                })
            }
        };
        Ok(match (classic, rules) {
            (None, None) => ProtectionRead::Unprotected,
            (Some(p), None) => ProtectionRead::Rules(p),
            (None, Some(r)) => ProtectionRead::Rules(r.settings),
            (Some(classic), Some(rules)) => ProtectionRead::Rules(merged(classic, rules.settings)),
        })
    }

    /// What the rulesets require of `branch`; `None` when none applies. GitHub does not show
    /// here who may bypass a ruleset, so whether admins are held to it stays unknown.
    async fn ruleset_settings(
        &self,
        repo: &RepoRef,
        branch: &str,
    ) -> ForgeResult<Option<RulesetRead>> {
        let what = format!("read the rules for {branch} in {}", repo.full_name());
        let path = repo_path(repo, &format!("/rules/branches/{}", encode_segment(branch)))
            + &query(&[("per_page", "100")]);
        let reply = self.repo_call(repo, Call::get(path, &what)).await?;
        // 404: a server without rulesets (older Enterprise Server); 403: a plan without them
        // for this repository ("Upgrade to GitHub Pro …"). Either way no ruleset applies.
        if matches!(reply.status.as_u16(), 403 | 404) {
            return Ok(None);
        }
        let rules: Vec<Rule> = reply.success_json(&what)?;
        Ok(ruleset_read(rules))
    }
}

/// Why GitHub refused to show a branch's protection rule: the repository's plan (a private
/// repository on a free plan cannot have one, and GitHub says "Upgrade to GitHub Pro"), or the
/// app's missing Administration: read.
fn refused_because(message: &str) -> String {
    if message.contains("Upgrade to GitHub Pro") {
        format!(
            "GitHub refused to show the rule ({message}): this repository's plan has no branch \
             protection for private repositories"
        )
    } else {
        format!("GitHub refused to show the rule ({message}): the app lacks Administration: read")
    }
}

/// What the rulesets that apply to a branch require.
struct RulesetRead {
    settings: ProtectionSettings,
    /// Whether a `pull_request` rule applies: without one, the rulesets say nothing about
    /// approvals.
    pull_request: bool,
}

/// What the rules that apply to a branch require; `None` when none of them bears on the review
/// gate.
fn ruleset_read(rules: Vec<Rule>) -> Option<RulesetRead> {
    let mut settings = ProtectionSettings::default();
    let mut any = false;
    let mut pull_request = false;
    for rule in rules {
        let parameters = rule.parameters.unwrap_or_default();
        match rule.kind.as_str() {
            "pull_request" => {
                any = true;
                pull_request = true;
                let count = parameters["required_approving_review_count"]
                    .as_u64()
                    .unwrap_or(0);
                settings.required_approvals = settings.required_approvals.max(count as u32);
                settings.dismiss_stale_approvals |= parameters["dismiss_stale_reviews_on_push"]
                    .as_bool()
                    .unwrap_or(false);
                settings.stale_approvals_ignored |= parameters["require_last_push_approval"]
                    .as_bool()
                    .unwrap_or(false);
            }
            "required_status_checks" => {
                any = true;
                let checks = parameters["required_status_checks"].as_array().cloned();
                let names: Vec<String> = checks
                    .unwrap_or_default()
                    .iter()
                    .filter_map(|c| c["context"].as_str().map(str::to_owned))
                    .collect();
                merge_checks(&mut settings.required_checks, &names);
            }
            _ => {}
        }
    }
    any.then_some(RulesetRead {
        settings,
        pull_request,
    })
}

/// Classic protection and the rulesets together: the stricter of each. A requirement a ruleset
/// adds binds admins only if the ruleset's bypass list leaves them out, which is not shown here,
/// so whether admins are held to the whole stays unknown.
fn merged(mut classic: ProtectionSettings, rules: ProtectionSettings) -> ProtectionSettings {
    classic.required_approvals = classic.required_approvals.max(rules.required_approvals);
    classic.dismiss_stale_approvals |= rules.dismiss_stale_approvals;
    classic.stale_approvals_ignored |= rules.stale_approvals_ignored;
    merge_checks(&mut classic.required_checks, &rules.required_checks);
    classic.enforce_admins = None;
    classic
}

fn merge_checks(into: &mut Vec<String>, more: &[String]) {
    for check in more {
        if !into.contains(check) {
            into.push(check.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_refused_rule_names_the_plan_when_github_blames_it() {
        let plan = refused_because(
            "Upgrade to GitHub Pro or make this repository public to enable this feature.",
        );
        assert!(plan.contains("plan"), "{plan}");
        assert!(!plan.contains("Administration"), "{plan}");
        let permission = refused_because("Resource not accessible by integration");
        assert!(permission.contains("Administration: read"), "{permission}");
    }

    use super::*;

    fn rules(value: serde_json::Value) -> Option<RulesetRead> {
        ruleset_read(serde_json::from_value(value).unwrap())
    }

    #[test]
    fn a_ruleset_without_a_pull_request_rule_says_nothing_about_approvals() {
        let read = rules(serde_json::json!([{
            "type": "required_status_checks",
            "ruleset_id": 1,
            "parameters": { "required_status_checks": [{ "context": "ade/verify" }] }
        }]))
        .unwrap();
        assert!(!read.pull_request);
        assert_eq!(
            read.settings.required_checks,
            vec!["ade/verify".to_string()]
        );
        assert!(rules(serde_json::json!([{ "type": "deletion" }])).is_none());
    }

    #[test]
    fn a_last_push_approval_rule_is_read() {
        let read = rules(serde_json::json!([{
            "type": "pull_request",
            "parameters": {
                "required_approving_review_count": 2,
                "dismiss_stale_reviews_on_push": false,
                "require_last_push_approval": true
            }
        }]))
        .unwrap();
        assert!(read.pull_request);
        assert_eq!(read.settings.required_approvals, 2);
        assert!(read.settings.stale_approvals_ignored);
        let classic: super::super::wire::PullReviews =
            serde_json::from_value(serde_json::json!({ "require_last_push_approval": true }))
                .unwrap();
        assert!(classic.require_last_push_approval);
    }

    #[test]
    fn ruleset_rules_leave_whether_admins_are_held_unknown() {
        let classic = ProtectionSettings {
            required_approvals: 1,
            enforce_admins: Some(true),
            ..ProtectionSettings::default()
        };
        let ruleset = ProtectionSettings {
            required_checks: vec!["ade/verify".into()],
            ..ProtectionSettings::default()
        };
        let both = merged(classic, ruleset);
        assert_eq!(both.enforce_admins, None);
        assert_eq!(both.required_approvals, 1);
        assert_eq!(both.required_checks, vec!["ade/verify".to_string()]);
    }
}
