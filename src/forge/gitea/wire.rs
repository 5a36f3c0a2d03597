//! The parts of Gitea's and Forgejo's API v1 answers ade reads. Only the fields used are declared;
//! lists that Go may encode as `null` when empty read as empty.

use crate::forge::wire;
pub(super) use crate::forge::wire::{Comment, Issue, PullRequest, User};
use serde::{Deserialize, Deserializer};

/// A list Gitea may send as `null`.
pub(super) fn list<'de, D, T>(deserializer: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Ok(Option::<Vec<T>>::deserialize(deserializer)?.unwrap_or_default())
}

/// A reaction on a comment.
#[derive(Deserialize)]
pub(super) struct Reaction {
    pub user: Option<User>,
    pub content: String,
}

/// `GET /repos/{owner}/{repo}/branches/{branch}`.
pub(super) type Branch = wire::Branch<RuleShown>;

/// What a branch shows of the rule that protects it: newer servers name the rule in effect, and
/// every server its requirements.
#[derive(Deserialize)]
pub(super) struct RuleShown {
    #[serde(default)]
    pub protected: bool,
    #[serde(default)]
    pub effective_branch_protection_name: Option<String>,
    #[serde(flatten)]
    pub requires: Requirements,
}

/// What a protection rule requires before a merge, as the rule and its branch both show it.
#[derive(Deserialize)]
pub(super) struct Requirements {
    #[serde(default, deserialize_with = "wire::lenient_count")]
    pub required_approvals: Option<u32>,
    #[serde(default)]
    pub enable_status_check: bool,
    #[serde(default, deserialize_with = "list")]
    pub status_check_contexts: Vec<String>,
}

impl Requirements {
    /// The status contexts required, none when status checks are off.
    pub fn required_checks(self) -> Vec<String> {
        if self.enable_status_check {
            self.status_check_contexts
        } else {
            Vec::new()
        }
    }
}

/// `GET /repos/{owner}/{repo}/branch_protections/{name}`.
#[derive(Deserialize)]
pub(super) struct BranchProtection {
    #[serde(flatten)]
    pub requires: Requirements,
    #[serde(default)]
    pub dismiss_stale_approvals: bool,
    #[serde(default)]
    pub ignore_stale_approvals: bool,
    /// Gitea 1.24 and later.
    #[serde(default)]
    pub block_admin_merge_override: Option<bool>,
    /// Forgejo.
    #[serde(default)]
    pub apply_to_admins: Option<bool>,
}

impl BranchProtection {
    /// Whether admins are held to the rule; `None` from a server that has neither field (Gitea
    /// before 1.24), which cannot hold them.
    pub fn enforce_admins(&self) -> Option<bool> {
        match (self.block_admin_merge_override, self.apply_to_admins) {
            (None, None) => None,
            (gitea, forgejo) => Some(gitea == Some(true) || forgejo == Some(true)),
        }
    }
}

/// `GET /repos/{owner}/{repo}/collaborators/{collaborator}/permission`.
#[derive(Deserialize)]
pub(super) struct Permission {
    pub permission: String,
}

/// A label of a repository.
#[derive(Deserialize)]
pub(super) struct Label {
    pub id: i64,
    pub name: String,
}

/// A review on a pull request, with whether it was dismissed and how many line comments it has.
#[derive(Deserialize)]
pub(super) struct Review {
    #[serde(flatten)]
    pub review: wire::Review,
    #[serde(default)]
    pub dismissed: bool,
    /// Its comments are asked for only when it has some.
    #[serde(default)]
    pub comments_count: Option<i64>,
}

/// A line comment of a review (`PullReviewComment`), at a position in the file's new or old
/// version.
#[derive(Deserialize)]
pub(super) struct ReviewComment {
    #[serde(flatten)]
    pub comment: wire::ReviewComment,
    /// The line in the new version of the file (0 when the comment is on the old side).
    #[serde(default)]
    pub position: Option<i64>,
    /// The line in the old version (0 when the comment is on the new side).
    #[serde(default)]
    pub original_position: Option<i64>,
}

impl ReviewComment {
    /// The commented line, and whether it numbers the old version (the base side of the diff)
    /// rather than the one reviewed.
    pub fn line(&self) -> (Option<u32>, bool) {
        let positive = |l: Option<i64>| l.and_then(|l| u32::try_from(l).ok()).filter(|l| *l > 0);
        match (positive(self.position), positive(self.original_position)) {
            (Some(line), _) => (Some(line), false),
            (None, Some(line)) => (Some(line), true),
            (None, None) => (None, false),
        }
    }
}

/// A commit status.
#[derive(Deserialize)]
pub(super) struct CommitStatus {
    pub id: i64,
}

/// `GET /repos/{owner}/{repo}/commits/{ref}/status`: the newest status of each context.
#[derive(Deserialize)]
pub(super) struct CombinedStatus {
    /// Gitea answers `null` for a commit without statuses.
    #[serde(default)]
    pub statuses: Option<Vec<Status>>,
}

/// One commit status as Gitea's `CommitStatus` names its fields (`status`, not GitHub's
/// `state`).
#[derive(Deserialize)]
pub(super) struct Status {
    #[serde(default)]
    pub id: Option<i64>,
    pub context: String,
    pub status: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub target_url: Option<String>,
}

/// The answer of `GET /orgs/{org}/teams/search`.
#[derive(Debug, Deserialize)]
pub(super) struct TeamSearch {
    #[serde(default)]
    pub data: Vec<Team>,
}

/// A team, as far as ade needs it.
#[derive(Debug, Deserialize)]
pub(super) struct Team {
    pub id: i64,
    pub name: String,
}

/// How Gitea shows a deleted user.
pub(super) const GHOST: &str = "Ghost";

/// Login of a possibly deleted user, shown as Gitea shows it.
pub(super) fn login(user: Option<User>) -> String {
    crate::forge::wire::login_or(user, GHOST)
}
