//! Whether branch protection keeps a human review between every agent and the default branch:
//! the branch is protected, needs an approving review, dismisses approvals when new commits
//! arrive, needs `ade/verify` to pass, and holds admins to all of it.

use super::report::shown;
use super::{Context, Finding, Report, forge_failure};
use crate::forge::ForgeKind;
use crate::forge::setup::{ProtectionRead, ProtectionSettings};

/// The check ade reports verification as.
const VERIFY_CHECK: &str = "ade/verify";

/// Runs the protection checks on the default branch `branch`.
pub(super) async fn check(context: &Context<'_>, branch: &str, report: &mut Report) {
    let read = match &context.client {
        super::Client::Github(github) => github.protection_read(&context.repo, branch).await,
        super::Client::Gitea(gitea) => gitea.protection_read(&context.repo, branch).await,
    };
    match read {
        Ok(read) => {
            for finding in judge(&read, branch, context.client.kind()) {
                report.push(finding);
            }
        }
        Err(error) => report.push(forge_failure(
            "protection",
            &error,
            &format!("the protection of {}", shown(branch)),
        )),
    }
}

fn settings_page(kind: ForgeKind, branch: &str) -> String {
    let branch = shown(branch);
    match kind {
        ForgeKind::Github => format!(
            "in the repository's Settings, Branches, add a protection rule for {branch} (or a ruleset)"
        ),
        ForgeKind::Gitea => {
            format!("in the repository's Settings, Branches, add a protection rule for {branch}")
        }
    }
}

/// What protection read as `read` means for the review gate.
fn judge(read: &ProtectionRead, branch: &str, kind: ForgeKind) -> Vec<Finding> {
    let name = shown(branch);
    match read {
        ProtectionRead::Unprotected => vec![Finding::problem(
            "protection",
            format!(
                "the default branch {name} is not protected: an agent's pull request can be merged without a review or a passing ade/verify"
            ),
            format!(
                "{}: require 1 approving review, dismiss stale approvals, require the status check {VERIFY_CHECK}, and hold admins to it",
                settings_page(kind, branch)
            ),
        )],
        ProtectionRead::Summary {
            required_approvals,
            required_checks,
            why,
        } => {
            let mut findings = vec![Finding::warning(
                "protection",
                format!(
                    "the default branch {name} is protected, but ade cannot read the rule, so its approvals, stale-approval dismissal and admin rule are unchecked: {}",
                    super::report::one_line(why, 400)
                ),
                match kind {
                    ForgeKind::Github => {
                        "grant the GitHub App Administration: read (docs/forges.md), then accept it on the installation"
                    }
                    ForgeKind::Gitea => {
                        "make ade's bot user an admin collaborator of the repository"
                    }
                },
            )];
            if let Some(approvals) = required_approvals {
                findings.push(approvals_finding(*approvals, kind, branch));
            }
            findings.push(check_finding(required_checks, kind, branch));
            findings
        }
        ProtectionRead::Rules(settings) => rules(settings, branch, kind),
    }
}

fn rules(settings: &ProtectionSettings, branch: &str, kind: ForgeKind) -> Vec<Finding> {
    let name = shown(branch);
    let branch = name.as_str();
    let mut findings = vec![
        Finding::ok(
            "protection",
            format!("the default branch {name} is protected"),
        ),
        approvals_finding(settings.required_approvals, kind, branch),
    ];
    findings.push(if settings.dismiss_stale_approvals {
        Finding::ok("protection.stale_approvals", "new commits dismiss earlier approvals")
    } else if settings.stale_approvals_ignored {
        Finding::ok(
            "protection.stale_approvals",
            "approvals given before the latest push do not count",
        )
    } else {
        Finding::problem(
            "protection.stale_approvals",
            "approvals survive new commits: an agent's retry pushes onto an approved pull request, whose old approval then covers code nobody reviewed",
            match kind {
                ForgeKind::Github => format!("tick \"Dismiss stale pull request approvals when new commits are pushed\" (or \"Require approval of the most recent reviewable push\") in the rule for {branch}"),
                ForgeKind::Gitea => format!("tick \"Dismiss stale approvals\" in the rule for {branch}"),
            },
        )
    });
    findings.push(check_finding(&settings.required_checks, kind, branch));
    findings.push(match (settings.enforce_admins, kind) {
        (Some(true), _) => Finding::ok("protection.admins", "admins are held to the rule too"),
        (None, ForgeKind::Github) => Finding::warning(
            "protection.admins",
            "the branch is protected by a ruleset, and GitHub does not show here who may bypass it",
            "check the ruleset's bypass list in the repository's Settings, Rules: leave it empty",
        ),
        (None, ForgeKind::Gitea) => Finding::warning(
            "protection.admins",
            "the forge's rule has no setting to hold admins to it (Gitea before 1.24), and ade's bot user is a repository admin, so admins can merge past it",
            format!("upgrade Gitea to 1.24 or later (or use Forgejo), then tick \"Block admins from merging\" in the rule for {branch}"),
        ),
        (Some(false), ForgeKind::Github) => Finding::warning(
            "protection.admins",
            "repository admins can merge without the review and the passing check",
            format!("tick \"Do not allow bypassing the above settings\" (include administrators) in the rule for {branch}"),
        ),
        (Some(false), ForgeKind::Gitea) => Finding::problem(
            "protection.admins",
            "admins can merge past the rule, and ade's bot user is a repository admin",
            format!("tick \"Block admins from merging\" (Gitea: block_admin_merge_override; Forgejo: \"Apply to admins\", apply_to_admins) in the rule for {branch}"),
        ),
    });
    findings
}

fn approvals_finding(approvals: u32, kind: ForgeKind, branch: &str) -> Finding {
    let branch = shown(branch);
    if approvals >= 1 {
        return Finding::ok(
            "protection.approvals",
            format!("a merge needs {approvals} approving review(s)"),
        );
    }
    Finding::problem(
        "protection.approvals",
        "a merge needs no approving review: an agent's work can land without a human looking",
        match kind {
            ForgeKind::Github => format!(
                "tick \"Require a pull request before merging\" with at least 1 required approval in the rule for {branch}"
            ),
            ForgeKind::Gitea => {
                format!("set \"Required approvals\" to at least 1 in the rule for {branch}")
            }
        },
    )
}

fn check_finding(required: &[String], kind: ForgeKind, branch: &str) -> Finding {
    let branch = shown(branch);
    let verified = match kind {
        ForgeKind::Github => required.iter().any(|c| c == VERIFY_CHECK),
        ForgeKind::Gitea => required.iter().any(|c| glob_matches(c, VERIFY_CHECK)),
    };
    if verified {
        return Finding::ok(
            "protection.required_check",
            format!("a merge needs {VERIFY_CHECK} to pass"),
        );
    }
    let others = if required.is_empty() {
        "no check is required".to_owned()
    } else {
        format!(
            "the required checks are {}",
            required
                .iter()
                .map(|c| shown(c))
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    Finding::problem(
        "protection.required_check",
        format!(
            "{others}, not {VERIFY_CHECK}: a pull request whose verification failed can be merged"
        ),
        match kind {
            ForgeKind::Github => format!(
                "tick \"Require status checks to pass\" and add {VERIFY_CHECK} in the rule for {branch} (it can be picked once ade has reported it once)"
            ),
            ForgeKind::Gitea => format!(
                "tick \"Enable status check\" and add the pattern {VERIFY_CHECK} in the rule for {branch}"
            ),
        },
    )
}

/// Whether `name` matches a Gitea status check pattern: `*` any run of characters, `?` any one,
/// everything else itself.
fn glob_matches(pattern: &str, name: &str) -> bool {
    let pattern: Vec<char> = pattern.chars().collect();
    let name: Vec<char> = name.chars().collect();
    let (mut p, mut n) = (0, 0);
    let mut back: Option<(usize, usize)> = None;
    while n < name.len() {
        match pattern.get(p) {
            Some('*') => {
                back = Some((p, n));
                p += 1;
            }
            Some(&c) if c == '?' || c == name[n] => {
                p += 1;
                n += 1;
            }
            _ => match back {
                Some((star, at)) => {
                    p = star + 1;
                    n = at + 1;
                    back = Some((star, at + 1));
                }
                None => return false,
            },
        }
    }
    pattern[p..].iter().all(|&c| c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::doctor::Status;

    fn well() -> ProtectionSettings {
        ProtectionSettings {
            required_approvals: 1,
            dismiss_stale_approvals: true,
            stale_approvals_ignored: false,
            required_checks: vec!["ci".into(), VERIFY_CHECK.into()],
            enforce_admins: Some(true),
        }
    }

    fn statuses(findings: &[Finding]) -> Vec<(String, Status)> {
        findings
            .iter()
            .map(|f| (f.check.clone(), f.status))
            .collect()
    }

    #[test]
    fn a_well_protected_branch_is_ok_throughout() {
        for kind in [ForgeKind::Github, ForgeKind::Gitea] {
            let findings = judge(&ProtectionRead::Rules(well()), "main", kind);
            assert!(
                findings.iter().all(|f| f.status == Status::Ok),
                "{findings:?}"
            );
            assert_eq!(findings.len(), 5);
        }
    }

    #[test]
    fn each_missing_requirement_is_its_own_finding() {
        let loose = ProtectionSettings {
            required_approvals: 0,
            dismiss_stale_approvals: false,
            stale_approvals_ignored: false,
            required_checks: vec!["ci".into()],
            enforce_admins: Some(false),
        };
        assert_eq!(
            statuses(&judge(
                &ProtectionRead::Rules(loose.clone()),
                "main",
                ForgeKind::Github
            )),
            vec![
                ("protection".into(), Status::Ok),
                ("protection.approvals".into(), Status::Problem),
                ("protection.stale_approvals".into(), Status::Problem),
                ("protection.required_check".into(), Status::Problem),
                ("protection.admins".into(), Status::Warning),
            ]
        );
        let gitea = judge(&ProtectionRead::Rules(loose), "main", ForgeKind::Gitea);
        assert_eq!(
            gitea[4].status,
            Status::Problem,
            "ade's Gitea bot is an admin"
        );
        assert!(gitea[3].message.contains("\"ci\""), "{}", gitea[3].message);
    }

    #[test]
    fn an_unprotected_branch_is_one_problem() {
        let findings = judge(&ProtectionRead::Unprotected, "main", ForgeKind::Github);
        assert_eq!(
            statuses(&findings),
            vec![("protection".into(), Status::Problem)]
        );
        assert!(findings[0].message.contains("is not protected"));
    }

    #[test]
    fn an_unreadable_rule_is_a_warning_with_what_the_branch_shows() {
        let read = ProtectionRead::Summary {
            required_approvals: None,
            required_checks: vec![VERIFY_CHECK.into()],
            why: "403 Resource not accessible by integration".into(),
        };
        assert_eq!(
            statuses(&judge(&read, "main", ForgeKind::Github)),
            vec![
                ("protection".into(), Status::Warning),
                ("protection.required_check".into(), Status::Ok),
            ]
        );
    }

    #[test]
    fn a_ruleset_leaves_the_admin_rule_unknown() {
        let mut settings = well();
        settings.enforce_admins = None;
        let findings = judge(&ProtectionRead::Rules(settings), "main", ForgeKind::Github);
        assert_eq!(findings[4].status, Status::Warning);
    }

    #[test]
    fn ignoring_stale_approvals_counts_as_dismissing_them() {
        let mut settings = well();
        settings.dismiss_stale_approvals = false;
        settings.stale_approvals_ignored = true;
        for kind in [ForgeKind::Github, ForgeKind::Gitea] {
            let findings = judge(&ProtectionRead::Rules(settings.clone()), "main", kind);
            assert_eq!(findings[2].status, Status::Ok, "{findings:?}");
        }
    }

    #[test]
    fn gitea_check_patterns_are_globs() {
        for pattern in [
            "ade/verify",
            "ade/*",
            "*",
            "ade/v?rify",
            "*/verify",
            "a*e/*y",
        ] {
            let finding = check_finding(&[pattern.into()], ForgeKind::Gitea, "main");
            assert_eq!(finding.status, Status::Ok, "{pattern}");
        }
        for pattern in ["ade/verify/x", "ci/*", "ade/?", "ade"] {
            let finding = check_finding(&[pattern.into()], ForgeKind::Gitea, "main");
            assert_eq!(finding.status, Status::Problem, "{pattern}");
        }
        let github = check_finding(&["ade/*".into()], ForgeKind::Github, "main");
        assert_eq!(github.status, Status::Problem);
    }

    #[test]
    fn a_gitea_without_an_admin_setting_is_a_warning_to_upgrade() {
        let mut settings = well();
        settings.enforce_admins = None;
        let findings = judge(&ProtectionRead::Rules(settings), "main", ForgeKind::Gitea);
        assert_eq!(findings[4].status, Status::Warning);
        assert!(findings[4].fix.as_deref().unwrap().contains("upgrade"));
    }

    #[test]
    fn branch_names_in_fixes_are_shown_safely() {
        let hostile = "main\n\u{1b}[31mrm -rf";
        let loose = ProtectionSettings::default();
        let mut findings = judge(&ProtectionRead::Rules(loose), hostile, ForgeKind::Gitea);
        findings.extend(judge(
            &ProtectionRead::Unprotected,
            hostile,
            ForgeKind::Github,
        ));
        for finding in findings {
            let fix = finding.fix.unwrap_or_default();
            assert!(!fix.contains('\n') && !fix.contains('\u{1b}'), "{fix}");
        }
    }
}
