//! JSON shapes both dialects send alike: a repository, a branch of a pull request, a label, and
//! the `action` most bodies carry. Each dialect's normalizer reads its own shapes around these.

use super::payload::{Payload, non_empty};
use super::{BranchRef, Comment, EventError, EventKind, Issue, PullRequest, Repository};
use serde::{Deserialize, Deserializer};

/// The body's `action`.
pub(super) fn action(payload: &Payload<'_>) -> Result<String, EventError> {
    #[derive(Deserialize)]
    struct ActionOnly {
        action: String,
    }
    Ok(payload.read::<ActionOnly>()?.action)
}

/// The event a comment's `action` makes of it, which both dialects name alike; for any other
/// action, why ade ignores it.
pub(super) fn comment_kind(action: &str) -> Result<fn(Comment) -> EventKind, &'static str> {
    match action {
        "created" => Ok(EventKind::CommentCreated),
        "edited" => Ok(EventKind::CommentEdited),
        _ => Err("ade acts on created and edited comments only"),
    }
}

/// The event an issue's `action` makes of it, which both dialects name alike; for any other
/// action, why ade ignores it.
pub(super) fn issue_kind(action: &str) -> Result<fn(Issue) -> EventKind, &'static str> {
    match action {
        "opened" => Ok(EventKind::IssueOpened),
        "edited" => Ok(EventKind::IssueEdited),
        "closed" => Ok(EventKind::IssueClosed),
        _ => Err("ade acts on opened, edited and closed issues only"),
    }
}

/// The event a pull request's `action` makes of it. The dialects differ in one word only: a push
/// to the pull request is `synchronize` on GitHub and `synchronized` on Gitea, passed as
/// `synchronized`. For any other action, why ade ignores it.
pub(super) fn pull_request_kind(
    action: &str,
    synchronized: &str,
) -> Result<fn(PullRequest) -> EventKind, String> {
    match action {
        "opened" => Ok(EventKind::PullRequestOpened),
        "reopened" => Ok(EventKind::PullRequestReopened),
        "closed" => Ok(EventKind::PullRequestClosed),
        _ if action == synchronized => Ok(EventKind::PullRequestSynchronized),
        _ => Err(format!(
            "ade acts on opened, {synchronized}, reopened and closed pull requests only"
        )),
    }
}

/// A repository; `P` reads `private`: a plain `bool` where the dialect always sends it.
#[derive(Deserialize)]
pub(super) struct WireRepository<P> {
    id: i64,
    full_name: String,
    pub(super) default_branch: Option<String>,
    private: P,
}

impl<P: Into<bool>> WireRepository<P> {
    pub(super) fn into_repository(self) -> Repository {
        Repository {
            id: self.id,
            full_name: self.full_name,
            default_branch: non_empty(self.default_branch),
            private: self.private.into(),
        }
    }
}

/// `private` where a payload may leave it out (Gitea always sends it, captures trimmed by hand may
/// not): missing or `null` reads as private, the careful answer.
pub(super) struct PrivateWhenUnknown(bool);

impl<'de> Deserialize<'de> for PrivateWhenUnknown {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(PrivateWhenUnknown(
            Option::<bool>::deserialize(deserializer)?.unwrap_or(true),
        ))
    }
}

impl From<PrivateWhenUnknown> for bool {
    fn from(private: PrivateWhenUnknown) -> bool {
        private.0
    }
}

/// A repository named and nothing more.
#[derive(Deserialize)]
pub(super) struct RepositoryName {
    pub(super) full_name: String,
}

/// A label of an issue or pull request.
#[derive(Deserialize)]
pub(super) struct Label {
    pub(super) name: String,
}

/// The head or base of a pull request.
#[derive(Deserialize)]
pub(super) struct WireBranch {
    #[serde(rename = "ref")]
    name: String,
    sha: String,
    /// `null` once the fork the branch lived in is deleted; absent from trimmed captures.
    repo: Option<RepositoryName>,
}

impl WireBranch {
    pub(super) fn into_branch_ref(self) -> BranchRef {
        BranchRef {
            branch: self.name,
            sha: self.sha,
            repository: self.repo.map(|r| r.full_name),
        }
    }
}
