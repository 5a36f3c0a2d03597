//! Branch protection as the simulated forges apply it to a merge: which approvals count, which
//! checks pass, and how each forge words what is missing.

use super::state::{Pull, Repo};
use crate::forge::ReviewState;
use crate::forge::{ForgeKind, Permission};
use std::collections::BTreeMap;

impl Repo {
    /// Why branch protection refuses merging `pull` at `head_sha` now (empty: it may merge).
    /// `checks_passed` tells whether a named check passed on the head, in the forge's own terms.
    pub fn merge_blockers(
        &self,
        pull: &Pull,
        checks_passed: impl Fn(&str) -> bool,
    ) -> Vec<MergeBlocker> {
        let Some(protection) = self.protections.get(&pull.base) else {
            return Vec::new();
        };
        let mut blockers = Vec::new();
        if self.approvals(pull.number) < protection.required_approvals as usize {
            blockers.push(MergeBlocker::Approvals(protection.required_approvals));
        }
        for check in &protection.required_checks {
            if !checks_passed(check) {
                blockers.push(MergeBlocker::Check(check.clone()));
            }
        }
        blockers
    }

    /// Distinct reviewers with write access whose latest verdict on a pull request approves.
    pub fn approvals(&self, number: i64) -> usize {
        let mut latest: BTreeMap<&str, ReviewState> = BTreeMap::new();
        for review in self.reviews.iter().filter(|r| r.number == number) {
            if review.state != ReviewState::Commented {
                latest.insert(&review.author, review.state);
            }
        }
        latest
            .iter()
            .filter(|(login, state)| {
                **state == ReviewState::Approved && self.permission_of(login) >= Permission::Write
            })
            .count()
    }

    /// Whether the latest GitHub check run of this name on `sha` concluded in a passing way.
    pub fn check_run_passed(&self, sha: &str, name: &str) -> bool {
        self.check_runs
            .iter()
            .rev()
            .find(|run| run.head_sha == sha && run.name == name)
            .is_some_and(|run| {
                matches!(
                    run.conclusion.as_deref(),
                    Some("success" | "neutral" | "skipped")
                )
            })
    }

    /// Whether the latest Gitea status of this context on `sha` is a success.
    pub fn status_passed(&self, sha: &str, context: &str) -> bool {
        self.statuses
            .iter()
            .rev()
            .find(|status| status.sha == sha && status.context == context)
            .is_some_and(|status| matches!(status.state.as_str(), "success" | "warning"))
    }
}

/// One thing branch protection still requires before a merge.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MergeBlocker {
    /// This many approving reviews, which the pull request lacks.
    Approvals(u32),
    /// A required check that has not passed on the head.
    Check(String),
}

impl MergeBlocker {
    /// How the forge says it: GitHub names each requirement, Gitea gives its reason.
    pub fn words(&self, kind: ForgeKind) -> String {
        match (self, kind) {
            (MergeBlocker::Approvals(n), ForgeKind::Github) => format!(
                "At least {n} approving review{} required by reviewers with write access.",
                if *n == 1 { " is" } else { "s are" }
            ),
            (MergeBlocker::Check(name), ForgeKind::Github) => {
                format!("Required status check \"{name}\" is expected.")
            }
            (MergeBlocker::Approvals(_), ForgeKind::Gitea) => {
                "not allowed to merge [reason: Does not have enough approvals]".into()
            }
            (MergeBlocker::Check(_), ForgeKind::Gitea) => {
                "not allowed to merge [reason: Not all required status checks successful]".into()
            }
        }
    }
}
