//! The parts of answers that GitHub's and Gitea's API descriptions give the same shape, as far as
//! ade reads them; each forge's `wire` adds what only it has.

use serde::Deserialize;

/// A user as other objects embed it; `null` for a deleted account.
#[derive(Deserialize)]
pub(crate) struct User {
    pub login: String,
    /// Read by a comment's author only; 0 where the forge leaves it out.
    #[serde(default)]
    pub id: i64,
    /// GitHub's `type` (`Bot` for an app's account); Gitea sends none.
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
}

/// Login of a possibly deleted user, or `ghost` as the forge shows such users.
pub(crate) fn login_or(user: Option<User>, ghost: &str) -> String {
    user.map(|u| u.login).unwrap_or_else(|| ghost.to_string())
}

/// A comment on an issue or pull request.
#[derive(Deserialize)]
pub(crate) struct Comment {
    pub id: i64,
    pub user: Option<User>,
    #[serde(default)]
    pub body: Option<String>,
    /// Read leniently: anything but a time leaves the comment without one.
    #[serde(default)]
    pub created_at: Option<serde_json::Value>,
    /// Read leniently, like `created_at`.
    #[serde(default)]
    pub updated_at: Option<serde_json::Value>,
    /// The issue it is on (GitHub: also for a pull request's; Gitea: empty for those).
    #[serde(default)]
    pub issue_url: Option<String>,
    /// Gitea: the pull request it is on, empty for an issue's.
    #[serde(default)]
    pub pull_request_url: Option<String>,
}

impl Comment {
    /// The issue or pull request number the comment's links end in, when one does.
    pub(crate) fn number(&self) -> Option<i64> {
        [&self.issue_url, &self.pull_request_url]
            .into_iter()
            .flatten()
            .filter_map(|url| url.rsplit('/').next())
            .find_map(|last| last.parse::<i64>().ok().filter(|n| *n > 0))
    }

    /// The comment as ade reads it, with the number of what it is on; `None` when its links
    /// name none.
    pub(crate) fn read_in_repo(self, ghost: &str) -> Option<crate::forge::RepoComment> {
        let number = self.number()?;
        Some(crate::forge::RepoComment {
            number,
            comment: self.read(ghost),
        })
    }

    /// The comment as ade reads it, a deleted author shown as `ghost`.
    pub(crate) fn read(self, ghost: &str) -> crate::forge::ForgeComment {
        let author_id = self.user.as_ref().map_or(0, |u| u.id);
        let author_bot = self
            .user
            .as_ref()
            .is_some_and(|u| u.kind.as_deref() == Some("Bot") || u.login.ends_with("[bot]"));
        crate::forge::ForgeComment {
            id: self.id,
            author: login_or(self.user, ghost),
            author_id,
            author_bot,
            body: self.body.unwrap_or_default(),
            created_at: lenient_time(self.created_at.as_ref()),
            updated_at: lenient_time(self.updated_at.as_ref()),
        }
    }
}

/// A time read leniently: anything but an RFC 3339 string is no time.
fn lenient_time(value: Option<&serde_json::Value>) -> Option<i64> {
    value
        .and_then(serde_json::Value::as_str)
        .and_then(crate::clock::parse_rfc3339_ms)
}

/// `GET /repos/{owner}/{repo}/issues/{number}`: what an event carries of an issue.
#[derive(Deserialize)]
pub(crate) struct Issue {
    pub number: i64,
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub body: Option<String>,
    pub user: Option<User>,
    /// Present (and not null) on a pull request; its content is not read.
    #[serde(default)]
    pub pull_request: Option<serde::de::IgnoredAny>,
}

impl Issue {
    /// The issue as ade reads it, a deleted author shown as `ghost`.
    pub(crate) fn read(self, ghost: &str) -> crate::forge::ForgeIssue {
        let author_id = self.user.as_ref().map_or(0, |u| u.id);
        let author_bot = self
            .user
            .as_ref()
            .is_some_and(|u| u.kind.as_deref() == Some("Bot") || u.login.ends_with("[bot]"));
        crate::forge::ForgeIssue {
            number: self.number,
            title: self.title.unwrap_or_default(),
            body: self.body.unwrap_or_default(),
            author: login_or(self.user, ghost),
            author_id,
            author_bot,
            is_pull_request: self.pull_request.is_some(),
        }
    }
}

/// `GET /repos/{owner}/{repo}/contents/{path}` for a file (a directory is a list instead).
#[derive(Deserialize)]
pub(crate) struct Contents {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub encoding: Option<String>,
    #[serde(default)]
    pub content: Option<String>,
}

/// An entry of a folder listing (`GET …/contents/{path}` on a folder).
#[derive(Deserialize)]
pub(crate) struct Entry {
    pub name: String,
    pub path: String,
    #[serde(rename = "type")]
    pub kind: String,
}

/// `GET /repos/{owner}/{repo}`.
#[derive(Deserialize)]
pub(crate) struct Repository {
    pub default_branch: String,
    pub clone_url: String,
}

/// The head of a pull request.
#[derive(Deserialize)]
pub(crate) struct PullHead {
    pub sha: String,
    #[serde(rename = "ref", default)]
    pub branch: String,
}

/// The base of a pull request.
#[derive(Deserialize)]
pub(crate) struct PullBase {
    #[serde(rename = "ref", default)]
    pub branch: String,
}

/// A branch (`GET /repos/{owner}/{repo}/branches/{branch}`): its head, and what the reader
/// declares of the protection the forge shows there (`R`: each forge shows something else, and a
/// read of the head alone declares nothing of it, [`Unread`]).
#[derive(Deserialize)]
pub(crate) struct Branch<R> {
    pub name: String,
    pub commit: BranchCommit,
    #[serde(flatten)]
    pub rule: R,
}

/// Nothing of a branch's rule: what a read of the branch's head alone declares, so that a value
/// ade does not expect in the rule's fields never fails it.
#[derive(Deserialize)]
pub(crate) struct Unread {}

/// A count read leniently: a non-negative integer that fits, else `None` (absent, null, negative,
/// a fraction, not a number), for settings a forge may answer oddly that ade only reports on.
pub(crate) fn lenient_count<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<u32>, D::Error> {
    let value = Option::<serde_json::Value>::deserialize(d)?;
    Ok(value
        .as_ref()
        .and_then(serde_json::Value::as_u64)
        .and_then(|n| u32::try_from(n).ok()))
}

/// The commit a branch points at, by its id: GitHub names it `sha`, Gitea `id`.
#[derive(Deserialize)]
pub(crate) struct BranchCommit {
    #[serde(alias = "id")]
    pub sha: String,
}

/// A pull request, as far as both forges show it alike.
#[derive(Deserialize)]
pub(crate) struct PullRequest {
    pub number: i64,
    pub html_url: String,
    #[serde(default)]
    pub title: Option<String>,
    pub state: String,
    #[serde(default)]
    pub merged: Option<bool>,
    /// Whether it is a draft (Gitea before 1.21 leaves it out).
    #[serde(default)]
    pub draft: Option<bool>,
    pub head: PullHead,
    #[serde(default)]
    pub base: Option<PullBase>,
}

/// A review on a pull request, as far as both forges show it alike.
#[derive(Deserialize)]
pub(crate) struct Review {
    pub id: i64,
    pub user: Option<User>,
    pub state: String,
    #[serde(default)]
    pub commit_id: Option<String>,
    #[serde(default)]
    pub body: Option<String>,
    /// Read leniently, like a comment's `created_at`; absent on a pending review.
    #[serde(default)]
    pub submitted_at: Option<serde_json::Value>,
}

impl Review {
    /// When it was submitted (Unix milliseconds), if the forge says in a readable way.
    pub(crate) fn submitted_at(&self) -> Option<i64> {
        lenient_time(self.submitted_at.as_ref())
    }
}

/// A line comment of a review, as far as both forges show it alike; where on the line it sits
/// each forge tells its own way.
#[derive(Deserialize)]
pub(crate) struct ReviewComment {
    pub id: i64,
    pub user: Option<User>,
    #[serde(default)]
    pub body: Option<String>,
    #[serde(default)]
    pub path: Option<String>,
    #[serde(default)]
    pub pull_request_review_id: Option<i64>,
}

impl ReviewComment {
    /// The comment as ade reads it, a deleted author shown as `ghost`, before its line is read
    /// the forge's way.
    pub(crate) fn read(self, ghost: &str) -> crate::forge::ForgeReviewComment {
        crate::forge::ForgeReviewComment {
            id: self.id,
            author: login_or(self.user, ghost),
            body: self.body.unwrap_or_default(),
            path: self.path.filter(|p| !p.is_empty()),
            line: None,
            earlier: false,
            review_id: self.pull_request_review_id,
        }
    }
}
