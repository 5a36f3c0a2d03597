//! JSON shapes both dialects send alike: a repository, an issue and a comment on it, a branch of a
//! pull request, a label, a push, and the `action` most bodies carry. Each dialect's normalizer
//! reads its own shapes around these, and its own users.

use super::payload::{Payload, PushRef, default_branch_pushed, non_empty, null_as_default};
use super::{
    Actor, BranchRef, Comment, EventError, EventKind, Issue, IssueRef, PullRequest, Push,
    Repository,
};
use serde::de::IgnoredAny;
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

/// A push: the ref it moved, from which commit to which, the commits it carried, and the
/// repository (`P` reads its `private`, as in [`WireRepository`]).
#[derive(Deserialize)]
pub(super) struct WirePush<P> {
    #[serde(rename = "ref")]
    git_ref: String,
    before: String,
    after: String,
    #[serde(default, deserialize_with = "null_as_default")]
    commits: Vec<IgnoredAny>,
    repository: WireRepository<P>,
}

impl<P> WirePush<P> {
    /// The push to the default branch it is, `forced` and `deleted` as far as the dialect tells;
    /// for any other push, why ade ignores it.
    pub(super) fn into_push(self, forced: bool, deleted: bool) -> Result<Push, String> {
        let target = PushRef {
            git_ref: &self.git_ref,
            default_branch: self.repository.default_branch.as_deref(),
            after: &self.after,
            deleted,
        };
        let branch = default_branch_pushed(&target)?.to_owned();
        Ok(Push {
            branch,
            before: self.before,
            after: self.after,
            forced,
            commit_count: self.commits.len(),
        })
    }
}

/// A user as a dialect sends it.
pub(super) trait WireUser: Sized {
    /// The account `user` stands for; `None` (a deleted account) stands for the dialect's ghost.
    fn actor(user: Option<Self>) -> Actor;
}

/// An issue (or a pull request, which is an issue to both forges); bodies may be `null`.
#[derive(Deserialize)]
pub(super) struct WireIssue<U> {
    number: i64,
    title: String,
    #[serde(default, deserialize_with = "null_as_default")]
    body: String,
    user: Option<U>,
    /// An object on pull requests, `null` or absent on issues.
    pull_request: Option<IgnoredAny>,
    #[serde(default, deserialize_with = "null_as_default")]
    labels: Vec<Label>,
}

impl<U: WireUser> WireIssue<U> {
    pub(super) fn into_issue(self) -> Issue {
        Issue {
            number: self.number,
            title: self.title,
            body: self.body,
            author: U::actor(self.user),
            labels: self.labels.into_iter().map(|l| l.name).collect(),
        }
    }
}

/// The body of an issue event.
#[derive(Deserialize)]
pub(super) struct IssuePayload<U> {
    pub(super) issue: WireIssue<U>,
}

/// The body of a comment event: the comment and the issue it is on. `T` reads the comment's
/// text: GitHub always sends it, Gitea may send `null` (see [`Text`]).
#[derive(Deserialize)]
pub(super) struct CommentPayload<U, T> {
    comment: WireComment<U, T>,
    issue: WireIssue<U>,
}

/// A comment on an issue or a pull request.
#[derive(Deserialize)]
struct WireComment<U, T> {
    id: i64,
    body: T,
    user: Option<U>,
    /// Read leniently: a time ade cannot read leaves the comment without one.
    #[serde(default, deserialize_with = "lenient_time")]
    created_at: Option<i64>,
}

/// An RFC 3339 time as Unix ms, or `None` for anything else (absent, null, not a time).
fn lenient_time<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    let value = Option::<serde_json::Value>::deserialize(d)?;
    Ok(value
        .as_ref()
        .and_then(serde_json::Value::as_str)
        .and_then(crate::clock::parse_rfc3339_ms))
}

impl<U: WireUser, T: Into<String>> CommentPayload<U, T> {
    /// The comment; `on_pull` says it is on a pull request where the issue does not show it.
    pub(super) fn into_comment(self, on_pull: bool) -> Comment {
        let issue = self.issue;
        Comment {
            id: self.comment.id,
            body: self.comment.body.into(),
            author: U::actor(self.comment.user),
            issue: IssueRef {
                number: issue.number,
                title: issue.title,
                body: issue.body,
                is_pull_request: on_pull || issue.pull_request.is_some(),
                author: U::actor(issue.user),
            },
            created_at: self.comment.created_at,
        }
    }
}

/// A text that may be `null` or left out, which reads as empty.
pub(super) struct Text(String);

impl<'de> Deserialize<'de> for Text {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        null_as_default(deserializer).map(Text)
    }
}

impl From<Text> for String {
    fn from(text: Text) -> String {
        text.0
    }
}
