//! Whether the forge answers and ade's credentials work (GitHub: the app's JWT, its installation
//! on the repository, an installation token; Gitea: the bot's token), and whether the app or bot
//! has the permissions ade needs.

use super::report::{error_text, shown};
use super::{Client, Context, Finding, Report, forge_failure};
use crate::forge::github::permissions::{self, Access};
use crate::forge::{ForgeError, ForgeKind, Permission};
use std::collections::BTreeMap;

/// Checks the credentials; `false` when the repository cannot be reached with them, so the
/// checks that read it are skipped.
pub(super) async fn credentials(context: &Context<'_>, report: &mut Report) -> bool {
    let forge = context.client.forge();
    let login = match forge.bot_login().await {
        Ok(login) => login,
        Err(error) => {
            report.push(credential_failure(context.client.kind(), &error));
            return false;
        }
    };
    match &context.client {
        Client::Github(github) => {
            let installation = match github.installation_access(&context.repo).await {
                Ok(installation) => installation,
                Err(ForgeError::NotFound(_)) => {
                    report.push(Finding::problem(
                        "credentials",
                        format!(
                            "the GitHub App {} is not installed on {}",
                            shown(&login),
                            context.repo.full_name()
                        ),
                        "install the app on the repository (the app's page, Install App), or add the repository to its installation",
                    ));
                    return false;
                }
                Err(error) => {
                    report.push(forge_failure(
                        "credentials",
                        &error,
                        "the app's installation",
                    ));
                    return false;
                }
            };
            if installation.suspended {
                report.push(Finding::problem(
                    "credentials",
                    format!("the app's installation {} is suspended", installation.id),
                    "unsuspend the installation in the account's settings (Applications, Installed GitHub Apps)",
                ));
                return false;
            }
            if let Err(error) = github.check_installation_token(&context.repo).await {
                report.push(forge_failure(
                    "credentials",
                    &error,
                    "an installation access token",
                ));
                return false;
            }
            report.push(Finding::ok(
                "credentials",
                format!(
                    "the GitHub App {} authenticates, is installed on {} (installation {}) and gets access tokens",
                    shown(&login),
                    context.repo.full_name(),
                    installation.id
                ),
            ));
        }
        Client::Gitea(_) => report.push(Finding::ok(
            "credentials",
            format!("the token works: ade acts as {}", shown(&login)),
        )),
    }
    true
}

fn credential_failure(kind: ForgeKind, error: &ForgeError) -> Finding {
    let text = error_text(error);
    match (kind, error) {
        (ForgeKind::Github, ForgeError::Forbidden(_)) => Finding::problem(
            "credentials",
            format!("GitHub refused the app's credentials: {text}"),
            "check [github] app_id and that private_key_file is the app's current private key",
        ),
        (ForgeKind::Gitea, ForgeError::Forbidden(_)) => Finding::problem(
            "credentials",
            format!("the forge refused the token: {text}"),
            "set [gitea] token to a valid API token of ade's bot user (with the read:user, write:repository and write:issue scopes)",
        ),
        (_, ForgeError::NotConfigured(_)) => Finding::problem(
            "credentials",
            format!("ade cannot sign in: {text}"),
            "fix the forge's section of ade.toml (docs/forges.md)",
        ),
        _ => Finding::problem(
            "credentials",
            format!("the forge could not be reached or answered unexpectedly: {text}"),
            "check the forge's URL in ade.toml ([github] api_url or [gitea] url) and that ade can reach it",
        ),
    }
}

/// Checks the app's or bot's permissions.
pub(super) async fn permissions(context: &Context<'_>, report: &mut Report) {
    match &context.client {
        Client::Github(github) => match github.installation_access(&context.repo).await {
            Ok(installation) => report.push(judge_app(
                &installation.permissions,
                &needed(installation.account_type.as_deref()),
            )),
            Err(error) => report.push(forge_failure(
                "permissions",
                &error,
                "the app's installation",
            )),
        },
        Client::Gitea(gitea) => match gitea.own_permission(&context.repo).await {
            Ok(permission) => report.push(judge_bot(permission)),
            Err(error) => report.push(forge_failure("permissions", &error, "the repository")),
        },
    }
}

/// The permissions ade's calls need of an installation on an account of `account_type`: GitHub
/// cannot grant organization permissions (`members`, `organization_*`) to an installation on a
/// user account, and there are no teams to read there.
fn needed(account_type: Option<&str>) -> BTreeMap<&'static str, Access> {
    let mut needed = permissions::required();
    if account_type == Some("User") {
        needed.retain(|name, _| *name != "members" && !name.starts_with("organization_"));
    }
    needed
}

fn level(word: &str) -> Option<Access> {
    match word {
        "read" => Some(Access::Read),
        "write" | "admin" => Some(Access::Write),
        _ => None,
    }
}

/// The installation's permissions against the ones ade's calls need
/// (`forge::github::permissions`).
fn judge_app(granted: &BTreeMap<String, String>, needed: &BTreeMap<&str, Access>) -> Finding {
    let short: Vec<String> = needed
        .iter()
        .filter(|(name, access)| {
            granted
                .get(**name)
                .and_then(|g| level(g))
                .is_none_or(|g| g < **access)
        })
        .map(|(name, access)| {
            let has = granted.get(*name).map_or("none".to_owned(), |g| shown(g));
            format!("{name}: {} (has {has})", access.as_str())
        })
        .collect();
    if short.is_empty() {
        return Finding::ok(
            "permissions",
            format!(
                "the installation grants every permission ade needs ({})",
                needed
                    .iter()
                    .map(|(n, a)| format!("{n}: {}", a.as_str()))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        );
    }
    Finding::problem(
        "permissions",
        format!("the installation lacks {}", short.join(", ")),
        "grant them in the app's settings (Permissions & events) as deploy/github-app-manifest.json asks, then accept the new permissions on the installation",
    )
}

/// The bot's access: Gitea shows collaborators' permissions (every role check) and protection
/// rules only to repository admins.
fn judge_bot(permission: Permission) -> Finding {
    match permission {
        Permission::Admin => Finding::ok(
            "permissions",
            "ade's bot user is an admin of the repository",
        ),
        Permission::Write | Permission::Maintain => Finding::problem(
            "permissions",
            "ade's bot user has write access but is not a repository admin: the forge hides collaborators' permissions from it, so every role check of a command fails",
            "make the bot user an admin collaborator of the repository (Settings, Collaborators)",
        ),
        _ => Finding::problem(
            "permissions",
            "ade's bot user cannot write to the repository",
            "add the bot user as an admin collaborator of the repository (Settings, Collaborators)",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::doctor::Status;

    #[test]
    fn an_installation_short_of_a_permission_or_level_is_a_problem_naming_it() {
        let needed = permissions::required();
        let mut granted: BTreeMap<String, String> = needed
            .iter()
            .map(|(n, a)| (n.to_string(), a.as_str().to_owned()))
            .collect();
        assert_eq!(judge_app(&granted, &needed).status, Status::Ok);
        granted.insert("contents".into(), "read".into());
        granted.remove("members");
        let finding = judge_app(&granted, &needed);
        assert_eq!(finding.status, Status::Problem);
        assert!(
            finding.message.contains("contents: write (has \"read\")"),
            "{}",
            finding.message
        );
        assert!(
            finding.message.contains("members: read (has none)"),
            "{}",
            finding.message
        );
        granted.insert("contents".into(), "admin".into());
        granted.insert("members".into(), "write".into());
        assert_eq!(judge_app(&granted, &needed).status, Status::Ok);
    }

    #[test]
    fn organization_permissions_are_not_asked_of_a_user_account() {
        assert!(needed(Some("Organization")).contains_key("members"));
        assert!(needed(None).contains_key("members"));
        let user = needed(Some("User"));
        assert!(!user.contains_key("members"));
        assert!(user.contains_key("contents"));
        let granted: BTreeMap<String, String> = user
            .iter()
            .map(|(n, a)| (n.to_string(), a.as_str().to_owned()))
            .collect();
        assert_eq!(judge_app(&granted, &user).status, Status::Ok);
    }

    #[test]
    fn the_gitea_bot_must_be_a_repository_admin() {
        assert_eq!(judge_bot(Permission::Admin).status, Status::Ok);
        assert_eq!(judge_bot(Permission::Write).status, Status::Problem);
        assert_eq!(judge_bot(Permission::Read).status, Status::Problem);
    }
}
