//! The parts of GitHub's REST answers ade reads. Only the fields used are declared, so an answer
//! that grows new fields, or a simulator that leaves unused ones out, still reads.

use crate::forge::wire;
pub(super) use crate::forge::wire::{Comment, Issue, Review, User};
use serde::Deserialize;

/// `GET /app`.
#[derive(Deserialize)]
pub(super) struct App {
    pub slug: String,
}

/// `GET /repos/{owner}/{repo}/installation`.
#[derive(Deserialize)]
pub(super) struct Installation {
    pub id: i64,
}

/// `POST /app/installations/{id}/access_tokens`.
#[derive(Deserialize)]
pub(super) struct AccessToken {
    pub token: String,
    pub expires_at: Option<String>,
}

/// What a branch shows of its classic protection to readers without administration rights.
#[derive(Deserialize)]
pub(super) struct RuleShown {
    #[serde(default)]
    pub protected: bool,
    #[serde(default)]
    pub protection: Option<BranchProtectionSummary>,
}

/// The part of classic protection that a branch shows.
#[derive(Deserialize)]
pub(super) struct BranchProtectionSummary {
    #[serde(default)]
    pub required_status_checks: Option<StatusChecks>,
}

/// `GET /repos/{owner}/{repo}/collaborators/{username}/permission`.
#[derive(Deserialize)]
pub(super) struct PermissionLevel {
    pub permission: String,
    pub role_name: Option<String>,
}

/// A label of a repository.
#[derive(Deserialize)]
pub(super) struct Label {
    pub name: String,
}

/// A pull request, with GitHub's global id and time of merge.
#[derive(Deserialize)]
pub(crate) struct PullRequest {
    #[serde(flatten)]
    pub pull: wire::PullRequest,
    #[serde(default)]
    pub node_id: Option<String>,
    #[serde(default)]
    pub merged_at: Option<String>,
}

/// A review comment (`GET /repos/{owner}/{repo}/pulls/{pull_number}/comments`), on the line
/// `line` of the file's new version.
#[derive(Deserialize)]
pub(super) struct ReviewComment {
    #[serde(flatten)]
    pub comment: wire::ReviewComment,
    /// Absent or null once the line is no longer in the diff (an outdated comment).
    #[serde(default)]
    pub line: Option<i64>,
    /// The line in the commit the comment was made on; read only when `line` is gone.
    #[serde(default)]
    pub original_line: Option<i64>,
    /// `LEFT` when the comment is on the old version's side of the diff (`RIGHT` by default).
    #[serde(default)]
    pub side: Option<String>,
}

impl ReviewComment {
    /// The commented line, and whether it numbers an earlier version than the one reviewed: the
    /// old side of the diff (`side` `LEFT`), or an outdated comment's `original_line`.
    pub fn line(&self) -> (Option<u32>, bool) {
        let positive = |l: Option<i64>| l.and_then(|l| u32::try_from(l).ok()).filter(|l| *l > 0);
        match positive(self.line) {
            Some(line) => (Some(line), self.side.as_deref() == Some("LEFT")),
            None => match positive(self.original_line) {
                Some(line) => (Some(line), true),
                None => (None, false),
            },
        }
    }
}

/// The answer of a GraphQL request: `data` and, when something failed, `errors` (with HTTP 200).
#[derive(Deserialize)]
pub(super) struct GraphqlAnswer {
    #[serde(default)]
    pub data: Option<serde_json::Value>,
    #[serde(default)]
    pub errors: Vec<GraphqlError>,
}

/// One GraphQL error.
#[derive(Deserialize)]
pub(super) struct GraphqlError {
    #[serde(default)]
    pub message: String,
    #[serde(rename = "type", default)]
    pub kind: Option<String>,
}

/// `GET /repos/{owner}/{repo}/commits/{ref}/check-runs`.
#[derive(Deserialize)]
pub(super) struct CheckRuns {
    pub check_runs: Vec<CheckRun>,
}

/// A check run.
#[derive(Deserialize)]
pub(super) struct CheckRun {
    pub id: i64,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub app: Option<CheckApp>,
    #[serde(default)]
    pub output: Option<CheckOutput>,
}

/// What a check run's output says about itself.
#[derive(Deserialize)]
pub(super) struct CheckOutput {
    #[serde(default)]
    pub annotations_count: Option<u64>,
}

/// An annotation already on a check run (`GET …/check-runs/{id}/annotations`).
#[derive(Deserialize)]
pub(super) struct Annotation {
    pub path: String,
    pub start_line: i64,
    pub end_line: i64,
    #[serde(default)]
    pub annotation_level: Option<String>,
    #[serde(default)]
    pub message: Option<String>,
    #[serde(default)]
    pub title: Option<String>,
}

/// `GET /repos/{owner}/{repo}/commits/{ref}/check-runs`, read for external checks.
#[derive(Deserialize)]
pub(super) struct ExternalRuns {
    pub check_runs: Vec<ExternalRun>,
}

/// A check run of another app: what an external check shows.
#[derive(Deserialize)]
pub(super) struct ExternalRun {
    pub id: i64,
    pub name: String,
    pub status: String,
    /// When it started (ISO 8601, UTC): a re-run of a name starts later.
    #[serde(default)]
    pub started_at: Option<String>,
    #[serde(default)]
    pub conclusion: Option<String>,
    #[serde(default)]
    pub details_url: Option<String>,
    #[serde(default)]
    pub html_url: Option<String>,
    #[serde(default)]
    pub output: Option<ExternalOutput>,
    #[serde(default)]
    pub app: Option<CheckApp>,
}

/// A check run's output, as an external check shows it.
#[derive(Deserialize)]
pub(super) struct ExternalOutput {
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub summary: Option<String>,
    #[serde(default)]
    pub text: Option<String>,
    #[serde(default)]
    pub annotations_count: Option<u64>,
}

/// `GET /repos/{owner}/{repo}/commits/{ref}/status`: the newest status of each context.
#[derive(Deserialize)]
pub(super) struct CombinedStatus {
    pub statuses: Vec<Status>,
}

/// One commit status (`simple-commit-status`).
#[derive(Deserialize)]
pub(super) struct Status {
    #[serde(default)]
    pub id: Option<i64>,
    pub context: String,
    pub state: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub target_url: Option<String>,
}

/// The app that owns a check run.
#[derive(Deserialize)]
pub(super) struct CheckApp {
    pub id: Option<i64>,
}

/// `GET /repos/{owner}/{repo}/branches/{branch}/protection` (classic branch protection).
#[derive(Deserialize)]
pub(super) struct Protection {
    pub required_status_checks: Option<StatusChecks>,
    pub required_pull_request_reviews: Option<PullReviews>,
    pub enforce_admins: Option<Enabled>,
}

/// The required status checks of a protection.
#[derive(Deserialize)]
pub(super) struct StatusChecks {
    #[serde(default)]
    pub contexts: Vec<String>,
    #[serde(default)]
    pub checks: Vec<RequiredCheck>,
}

impl StatusChecks {
    /// Every required check's name once: the legacy `contexts`, then the `checks` not among them.
    pub fn names(self) -> Vec<String> {
        let mut names = self.contexts;
        for check in self.checks {
            if !names.contains(&check.context) {
                names.push(check.context);
            }
        }
        names
    }
}

/// One required check by name.
#[derive(Deserialize)]
pub(super) struct RequiredCheck {
    pub context: String,
}

/// The required reviews of a protection.
#[derive(Deserialize)]
pub(super) struct PullReviews {
    #[serde(default, deserialize_with = "wire::lenient_count")]
    pub required_approving_review_count: Option<u32>,
    #[serde(default)]
    pub dismiss_stale_reviews: bool,
    #[serde(default)]
    pub require_last_push_approval: bool,
}

/// A protection setting that is on or off.
#[derive(Deserialize)]
pub(super) struct Enabled {
    pub enabled: bool,
}

/// One rule of `GET /repos/{owner}/{repo}/rules/branches/{branch}` (rulesets).
#[derive(Deserialize)]
pub(super) struct Rule {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub parameters: Option<serde_json::Value>,
}

/// A team membership (`GET /orgs/{org}/teams/{team}/memberships/{user}`).
#[derive(Debug, Deserialize)]
pub(super) struct TeamMembership {
    pub state: String,
}

/// How GitHub shows a deleted user.
pub(super) const GHOST: &str = "ghost";

/// Login of a possibly deleted user, shown as GitHub shows it.
pub(super) fn login(user: Option<User>) -> String {
    crate::forge::wire::login_or(user, GHOST)
}
