//! Whether the repository's `.ade/config.toml` on the default branch checks clean: the same
//! checks as `ade policy check`, then the server's limits, as the coordinator applies them.

use super::report::{one_line, shown};
use super::{Context, Finding, Report, forge_failure};
use crate::coordinator::policies::POLICY_PATH;
use crate::forge::BranchHead;
use crate::policy::PolicyDiagnostic;

/// The most diagnostics reported one by one.
const MAX_DIAGNOSTICS: usize = 20;

/// Runs the policy check on the default branch's head.
pub(super) async fn check(context: &Context<'_>, head: &BranchHead, report: &mut Report) {
    let file = context
        .client
        .forge()
        .read_file(&context.repo, POLICY_PATH, &head.sha)
        .await;
    let bytes = match file {
        Ok(Some(bytes)) => bytes,
        Ok(None) => {
            report.push(Finding::ok(
                "policy",
                format!(
                    "{} has no {POLICY_PATH}: the server's policy applies as it is",
                    shown(&head.name)
                ),
            ));
            return;
        }
        Err(error) => {
            report.push(forge_failure("policy", &error, POLICY_PATH));
            return;
        }
    };
    let Ok(text) = String::from_utf8(bytes) else {
        report.push(Finding::problem(
            "policy",
            format!("{POLICY_PATH} on {} is not UTF-8 text", shown(&head.name)),
            format!("save {POLICY_PATH} as UTF-8 (docs/policy.md)"),
        ));
        return;
    };
    let checked = crate::policy::check_str(&text, POLICY_PATH)
        .and_then(|policy| crate::policy::effective(&context.config.policy, &policy).map(|_| ()));
    match checked {
        Ok(()) => report.push(Finding::ok(
            "policy",
            format!("{POLICY_PATH} on {} checks clean", shown(&head.name)),
        )),
        Err(diagnostics) => {
            for finding in judge(&diagnostics) {
                report.push(finding);
            }
        }
    }
}

/// One problem per diagnostic (a policy with errors is not used at all).
fn judge(diagnostics: &[PolicyDiagnostic]) -> Vec<Finding> {
    let mut findings: Vec<Finding> = diagnostics
        .iter()
        .take(MAX_DIAGNOSTICS)
        .map(|d| {
            Finding::problem(
                "policy",
                format!("{} (until it checks clean, ade answers every command in the repository with its problems instead of acting)", one_line(&d.to_string(), 400)),
                format!("fix {POLICY_PATH} on the default branch; `ade policy check {POLICY_PATH}` shows every problem (docs/policy.md)"),
            )
        })
        .collect();
    if diagnostics.len() > MAX_DIAGNOSTICS {
        findings.push(Finding::problem(
            "policy",
            format!(
                "and {} more problem(s)",
                diagnostics.len() - MAX_DIAGNOSTICS
            ),
            format!("run `ade policy check {POLICY_PATH}`"),
        ));
    }
    findings
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::doctor::Status;

    #[test]
    fn each_diagnostic_of_a_bad_policy_is_a_problem() {
        let diagnostics =
            crate::policy::check_str("[execution]\nparalelism = 2\n", POLICY_PATH).unwrap_err();
        let findings = judge(&diagnostics);
        assert!(!findings.is_empty());
        assert!(findings.iter().all(|f| f.status == Status::Problem));
        assert!(
            findings[0].message.contains("paralelism"),
            "{}",
            findings[0].message
        );
    }
}
