//! How a repository is set up on its forge, as far as the forge's API shows it: what `ade doctor`
//! reads to tell an operator what is missing (docs/doctor.md). The [`super::Forge`] trait carries
//! what the coordinator needs; these reads are for the doctor only, so they are inherent methods
//! of each client (`github/setup.rs`, `gitea/setup.rs`) and return what the forge said, leaving
//! the judgement to the doctor.

use super::BranchProtection;
pub(crate) use super::rest::list_folder;
use std::collections::BTreeMap;

/// The GitHub App installation that covers a repository: what its owner granted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InstallationAccess {
    /// The installation id.
    pub id: i64,
    /// Permission name (`contents`, `issues`, …) to level (`read`, `write`, `admin`).
    pub permissions: BTreeMap<String, String>,
    /// The webhook events the installation receives.
    pub events: Vec<String>,
    /// Whether someone suspended the installation (GitHub then refuses its tokens).
    pub suspended: bool,
    /// The kind of account it is installed on (`User`, `Organization`), when GitHub says:
    /// organization permissions cannot be granted on a user account.
    pub account_type: Option<String>,
}

/// Whether a webhook's secret is set, as far as the forge tells.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SecretShown {
    /// The forge shows a (masked) secret.
    Set,
    /// The forge shows that none is set.
    Unset,
    /// The forge never shows it (Gitea and Forgejo).
    Hidden,
}

/// A webhook as the forge shows it: a GitHub App's webhook configuration, or one of a Gitea
/// repository's hooks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WebhookSetup {
    /// The hook's kind where the forge has several (Gitea: `gitea`, `forgejo`, `slack`, …).
    pub kind: Option<String>,
    /// Where deliveries go.
    pub url: String,
    /// `json` or `form` (GitHub), `json` or `form` (Gitea's `content_type`).
    pub content_type: Option<String>,
    /// The events it sends; `None` where the forge keeps them elsewhere (a GitHub App's events
    /// are its installation's).
    pub events: Option<Vec<String>>,
    /// Whether it is active; `None` where the API does not say (a GitHub App's webhook).
    pub active: Option<bool>,
    /// Whether a secret signs its deliveries.
    pub secret: SecretShown,
    /// GitHub's `insecure_ssl`: deliveries skip certificate checks.
    pub insecure_tls: bool,
    /// Gitea's `branch_filter`: a glob of the branches whose pushes it sends (empty or `*` for
    /// all); `None` where the forge has none (GitHub).
    pub branch_filter: Option<String>,
}

/// What a protection rule requires of merges into a branch.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProtectionSettings {
    /// Approving reviews required.
    pub required_approvals: u32,
    /// Whether a new push dismisses earlier approvals (GitHub `dismiss_stale_reviews`, Gitea
    /// `dismiss_stale_approvals`).
    pub dismiss_stale_approvals: bool,
    /// Whether approvals given before the latest push stop counting without being dismissed
    /// (GitHub `require_last_push_approval`, Gitea and Forgejo `ignore_stale_approvals`): to
    /// the review gate the same as dismissing them.
    pub stale_approvals_ignored: bool,
    /// Checks (status contexts) that must pass; on Gitea and Forgejo, glob patterns.
    pub required_checks: Vec<String>,
    /// Whether admins are held to it; `None` when the forge does not show it (GitHub rulesets,
    /// Gitea before 1.24).
    pub enforce_admins: Option<bool>,
}

/// What ade could read about a branch's protection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProtectionRead {
    /// No rule protects the branch.
    Unprotected,
    /// The rule, read whole.
    Rules(ProtectionSettings),
    /// The branch is protected, but ade may not read the rule; only what the branch itself shows
    /// every reader is known.
    Summary {
        /// The approvals the branch shows, when it shows them (Gitea does, GitHub does not).
        required_approvals: Option<u32>,
        /// The checks the branch shows.
        required_checks: Vec<String>,
        /// Why the rule could not be read (the permission ade lacks).
        why: String,
    },
}

impl ProtectionRead {
    /// What the gate holds merges to: the rule, or what the branch shows of it (approvals it
    /// does not show count as none); `None` when nothing protects the branch.
    pub fn enforced(self) -> Option<BranchProtection> {
        match self {
            ProtectionRead::Unprotected => None,
            ProtectionRead::Rules(rule) => Some(BranchProtection {
                required_approvals: rule.required_approvals,
                required_checks: rule.required_checks,
                enforce_admins: rule.enforce_admins.unwrap_or(false),
            }),
            ProtectionRead::Summary {
                required_approvals,
                required_checks,
                ..
            } => Some(BranchProtection {
                required_approvals: required_approvals.unwrap_or(0),
                required_checks,
                enforce_admins: false,
            }),
        }
    }
}

/// One entry of a folder in a repository.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FolderEntry {
    /// Its name.
    pub name: String,
    /// Its path from the repository root.
    pub path: String,
    /// Whether it is a file (not a folder, link or submodule).
    pub is_file: bool,
}
