//! Events: a delivery normalized into what ade cares about.
//!
//! Both forges' payloads map to the same [`Event`] type, so everything after this module is
//! forge-agnostic. A delivery either becomes an event, is ignored on purpose (with the reason kept),
//! or is refused because its payload is not what its event header claims.

mod gitea;
mod github;
mod payload;
#[cfg(test)]
mod test_support;
mod wire;

use crate::forge::{ForgeKind, ReviewState};
use serde::{Deserialize, Serialize};

/// The headers of a delivery that decide how its payload is read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventHeaders<'a> {
    /// `X-GitHub-Event`, or `X-Gitea-Event` / `X-Forgejo-Event`.
    pub event: &'a str,
    /// `X-Gitea-Event-Type` / `X-Forgejo-Event-Type`: Gitea's finer name, which tells a comment on an
    /// issue from one on a pull request, and an approving review from a rejecting one.
    pub event_type: Option<&'a str>,
}

/// What became of a delivery's payload.
#[derive(Clone, Debug, PartialEq)]
#[allow(
    clippy::large_enum_variant,
    reason = "one short-lived value per delivery, almost always the event; a box would buy nothing"
)]
pub enum Normalized {
    /// The delivery is something ade acts on.
    Event(Event),
    /// The delivery is well-formed but not something ade acts on; the reason is kept with it.
    Ignored(String),
}

/// A payload that does not have the shape its event promises: the delivery fails permanently,
/// since retrying cannot change the bytes.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{event} payload: {reason}")]
pub struct EventError {
    /// The event header value the payload was read as.
    pub event: String,
    /// What was missing or malformed, naming the JSON path.
    pub reason: String,
}

/// Reads a delivery's JSON payload as the event its headers name.
pub fn normalize(
    forge: ForgeKind,
    headers: &EventHeaders<'_>,
    payload: &[u8],
) -> Result<Normalized, EventError> {
    match forge {
        ForgeKind::Github => github::normalize(headers, payload),
        ForgeKind::Gitea => gitea::normalize(headers, payload),
    }
}

/// One thing that happened on a forge, in ade's words.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// The forge dialect the delivery came in.
    pub forge: ForgeKind,
    /// The repository it happened in; absent only for installation events.
    pub repository: Option<Repository>,
    /// Who caused it.
    pub sender: Option<Actor>,
    /// The GitHub App installation the delivery belongs to, when the forge says.
    pub installation_id: Option<i64>,
    /// What happened.
    pub kind: EventKind,
}

impl Event {
    /// A short stable name of the event kind, used in storage, logs and metrics.
    pub fn name(&self) -> &'static str {
        self.kind.name()
    }
}

/// What happened, with the data ade needs from the payload.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum EventKind {
    /// A comment was posted on an issue or a pull request: the only place commands come from.
    CommentCreated(Comment),
    /// A comment was edited; never acted on as a command, but answered.
    CommentEdited(Comment),
    /// An issue was opened.
    IssueOpened(Issue),
    /// An issue's title or body was edited.
    IssueEdited(Issue),
    /// An issue was closed.
    IssueClosed(Issue),
    /// A pull request was opened.
    PullRequestOpened(PullRequest),
    /// New commits were pushed to a pull request's head branch.
    PullRequestSynchronized(PullRequest),
    /// A closed pull request was reopened.
    PullRequestReopened(PullRequest),
    /// A pull request was closed; `merged` tells a merge from a plain close.
    PullRequestClosed(PullRequest),
    /// A review was submitted on a pull request.
    ReviewSubmitted(Review),
    /// A review was dismissed.
    ReviewDismissed(Review),
    /// Someone asked GitHub to re-run a check run.
    CheckRunRerequested(CheckRun),
    /// A check changed on a commit: a GitHub check run or check suite was created or ended, or
    /// a commit status was set (GitHub, Gitea, Forgejo). Verifications waiting for external
    /// checks on that commit look again.
    CheckChanged(CheckChange),
    /// Commits landed on the repository's default branch.
    PushToDefaultBranch(Push),
    /// A GitHub App installation was created, deleted, suspended or changed.
    Installation(Installation),
    /// Repositories were added to or removed from a GitHub App installation.
    InstallationRepositories(InstallationRepositories),
}

impl EventKind {
    /// A short stable name of the kind, used in storage, logs and metrics.
    pub fn name(&self) -> &'static str {
        match self {
            EventKind::CommentCreated(_) => "comment_created",
            EventKind::CommentEdited(_) => "comment_edited",
            EventKind::IssueOpened(_) => "issue_opened",
            EventKind::IssueEdited(_) => "issue_edited",
            EventKind::IssueClosed(_) => "issue_closed",
            EventKind::PullRequestOpened(_) => "pull_request_opened",
            EventKind::PullRequestSynchronized(_) => "pull_request_synchronized",
            EventKind::PullRequestReopened(_) => "pull_request_reopened",
            EventKind::PullRequestClosed(_) => "pull_request_closed",
            EventKind::ReviewSubmitted(_) => "review_submitted",
            EventKind::ReviewDismissed(_) => "review_dismissed",
            EventKind::CheckRunRerequested(_) => "check_run_rerequested",
            EventKind::CheckChanged(_) => "check_changed",
            EventKind::PushToDefaultBranch(_) => "push_to_default_branch",
            EventKind::Installation(_) => "installation",
            EventKind::InstallationRepositories(_) => "installation_repositories",
        }
    }

    /// The issue or pull request number the event is about, if any.
    pub fn number(&self) -> Option<i64> {
        match self {
            EventKind::CommentCreated(c) | EventKind::CommentEdited(c) => Some(c.issue.number),
            EventKind::IssueOpened(i) | EventKind::IssueEdited(i) | EventKind::IssueClosed(i) => {
                Some(i.number)
            }
            EventKind::PullRequestOpened(p)
            | EventKind::PullRequestSynchronized(p)
            | EventKind::PullRequestReopened(p)
            | EventKind::PullRequestClosed(p) => Some(p.number),
            EventKind::ReviewSubmitted(r) | EventKind::ReviewDismissed(r) => {
                Some(r.pull_request_number)
            }
            EventKind::CheckRunRerequested(_)
            | EventKind::CheckChanged(_)
            | EventKind::PushToDefaultBranch(_)
            | EventKind::Installation(_)
            | EventKind::InstallationRepositories(_) => None,
        }
    }
}

/// A repository as the payload names it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Repository {
    /// The forge's numeric id, stable across renames.
    pub id: i64,
    /// `owner/name`.
    pub full_name: String,
    /// The default branch, when the payload carries it.
    pub default_branch: Option<String>,
    /// Whether the repository is private; assumed true when a payload does not say.
    pub private: bool,
}

/// A forge user. A deleted account (a `null` user in the payload) is the forge's own stand-in:
/// GitHub's `ghost` (id 10137), Gitea's `Ghost` (id -1).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    /// The forge's numeric user id.
    pub id: i64,
    /// The login name.
    pub login: String,
    /// Whether the forge marks this account as a bot (GitHub `type: "Bot"`, or a `[bot]` login).
    pub bot: bool,
}

/// The issue (or pull request, which is an issue to both forges) a comment belongs to, as it was
/// when the delivery was sent. The goal text ade uses is this one, never a later edit.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IssueRef {
    /// The issue or pull request number.
    pub number: i64,
    /// The title at delivery time.
    pub title: String,
    /// The body at delivery time (empty when the forge sends null).
    pub body: String,
    /// True when the comment is on a pull request.
    pub is_pull_request: bool,
    /// Who opened the issue.
    pub author: Actor,
}

/// A comment on an issue or a pull request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Comment {
    /// The forge's comment id, used to react to it and to reply.
    pub id: i64,
    /// The comment text: untrusted input.
    pub body: String,
    /// Who wrote it.
    pub author: Actor,
    /// Where it was posted.
    pub issue: IssueRef,
    /// When the forge says it was created (Unix ms, whole seconds as the forges write it); what
    /// `/ade approve` without a version goes by. `None` when the forge did not say, or said
    /// something that is not a time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<i64>,
}

/// An issue: a goal ade may plan for.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Issue {
    /// The issue number.
    pub number: i64,
    /// The title.
    pub title: String,
    /// The body (empty when the forge sends null): untrusted input.
    pub body: String,
    /// Who opened it.
    pub author: Actor,
    /// The label names at delivery time.
    pub labels: Vec<String>,
}

/// One side of a pull request: a branch and the commit it points at.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BranchRef {
    /// The branch name (untrusted: an agent or a contributor chose it).
    pub branch: String,
    /// The commit SHA.
    pub sha: String,
    /// `owner/name` of the repository the branch lives in; differs from the base for forks.
    pub repository: Option<String>,
}

/// A pull request: an approval request when ade opened it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PullRequest {
    /// The pull request number.
    pub number: i64,
    /// The title.
    pub title: String,
    /// The body (empty when null).
    pub body: String,
    /// Who opened it.
    pub author: Actor,
    /// The branch with the changes.
    pub head: BranchRef,
    /// The branch it would merge into.
    pub base: BranchRef,
    /// Whether it is a draft.
    pub draft: bool,
    /// Whether it was merged (only meaningful on close).
    pub merged: bool,
    /// The merge commit, once merged.
    pub merge_commit_sha: Option<String>,
}

/// A pull request review.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Review {
    /// The forge's review id, when the payload has one (Gitea's does not).
    pub id: Option<i64>,
    /// What the review says.
    pub state: ReviewState,
    /// The review text (empty when null): untrusted input.
    pub body: String,
    /// Who reviewed.
    pub author: Actor,
    /// The pull request reviewed.
    pub pull_request_number: i64,
    /// The head commit the review applies to (on Gitea, the pull request's head at delivery).
    pub commit_sha: Option<String>,
}

/// A GitHub check run someone asked to re-run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckRun {
    /// The check run id.
    pub id: i64,
    /// Its name (`ade/verify` for ade's own).
    pub name: String,
    /// The commit it checks.
    pub head_sha: String,
    /// The external id ade set when it created the check run, if any.
    pub external_id: Option<String>,
    /// The login of the GitHub App that owns the check run; ade only re-runs its own.
    pub app_slug: Option<String>,
}

/// A check that changed on a commit, as its webhook names it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckChange {
    /// The commit.
    pub head_sha: String,
    /// The check run's name or the status's context; none for a check suite.
    pub name: Option<String>,
}

/// Commits pushed to the default branch (pushes elsewhere are ignored).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Push {
    /// The branch name (the default branch).
    pub branch: String,
    /// The commit the branch pointed at before.
    pub before: String,
    /// The commit it points at now.
    pub after: String,
    /// Whether the push rewrote history; Gitea does not say, so always false there.
    pub forced: bool,
    /// How many commits the payload lists.
    pub commit_count: usize,
}

/// What happened to a GitHub App installation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InstallationAction {
    /// The app was installed.
    Created,
    /// The app was uninstalled.
    Deleted,
    /// The installation was suspended.
    Suspend,
    /// The installation was resumed.
    Unsuspend,
    /// The owner accepted new permissions.
    NewPermissionsAccepted,
}

/// A GitHub App installation event.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Installation {
    /// What happened.
    pub action: InstallationAction,
    /// The installation id.
    pub id: i64,
    /// The account (user or organization login, or enterprise slug) it is installed on; empty
    /// when GitHub sends no account.
    pub account: String,
    /// `owner/name` of the repositories listed in the payload.
    pub repositories: Vec<String>,
}

/// Repositories added to or removed from an installation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstallationRepositories {
    /// The installation id.
    pub installation_id: i64,
    /// The account it is installed on.
    pub account: String,
    /// `owner/name` of the repositories added.
    pub added: Vec<String>,
    /// `owner/name` of the repositories removed.
    pub removed: Vec<String>,
}
