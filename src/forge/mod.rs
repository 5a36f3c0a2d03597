//! Forges ade talks to: the dialect a delivery speaks, and the [`Forge`] client the coordinator
//! writes through. One trait, implemented once (`rest`) for two clients, each supplying its
//! dialect's differences: GitHub as a GitHub App, Gitea/Forgejo with a bot token. The simulator
//! that speaks both dialects lives in `crate::sim`.
//!
//! docs/forges.md is the operator's side: what each client calls, the permissions it needs, and
//! why the clients are built as they are.

pub mod gitea;
pub mod github;
mod http;
pub(crate) use http::encode_segment;
mod rest;
pub mod setup;
mod wire;

pub use http::{ClientOptions, RetryPolicy};

use crate::secret::Secret;
use serde::{Deserialize, Serialize};
use std::fmt;

/// What a review says.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReviewState {
    /// The reviewer approved.
    Approved,
    /// The reviewer asked for changes.
    ChangesRequested,
    /// The reviewer only commented.
    Commented,
    /// The review was dismissed.
    Dismissed,
}

/// The webhook and API dialect of a forge. Forgejo speaks the Gitea dialect, so it is `Gitea` here.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ForgeKind {
    /// github.com or GitHub Enterprise Server.
    Github,
    /// Gitea or Forgejo.
    Gitea,
}

impl ForgeKind {
    /// The name used in URLs, logs, metrics labels and storage.
    pub fn as_str(self) -> &'static str {
        match self {
            ForgeKind::Github => "github",
            ForgeKind::Gitea => "gitea",
        }
    }

    /// Parses the stored name back; `None` for anything else.
    pub fn parse(name: &str) -> Option<ForgeKind> {
        match name {
            "github" => Some(ForgeKind::Github),
            "gitea" => Some(ForgeKind::Gitea),
            _ => None,
        }
    }
}

impl fmt::Display for ForgeKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A repository on a forge, as the coordinator addresses it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct RepoRef {
    /// The owner (user or organization) login.
    pub owner: String,
    /// The repository name.
    pub name: String,
    /// The GitHub App installation that covers it, when known (from the event). GitHub clients
    /// look it up when absent; Gitea ignores it.
    pub installation_id: Option<i64>,
}

impl RepoRef {
    /// Splits `owner/name`; `None` unless there is exactly one slash with text on both sides.
    pub fn parse(full_name: &str, installation_id: Option<i64>) -> Option<RepoRef> {
        let (owner, name) = full_name.split_once('/')?;
        if owner.is_empty() || name.is_empty() || name.contains('/') {
            return None;
        }
        Some(RepoRef {
            owner: owner.to_string(),
            name: name.to_string(),
            installation_id,
        })
    }

    /// `owner/name`.
    pub fn full_name(&self) -> String {
        format!("{}/{}", self.owner, self.name)
    }
}

/// A team of an organization, as a policy names it (`org/slug`).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Team {
    /// The organization's login.
    pub org: String,
    /// The team's slug.
    pub slug: String,
}

impl Team {
    /// Splits `org/slug` at its first slash; `None` when there is none.
    pub fn parse(name: &str) -> Option<Team> {
        let (org, slug) = name.split_once('/')?;
        Some(Team {
            org: org.to_string(),
            slug: slug.to_string(),
        })
    }
}

/// A user's access to a repository, in the forges' common ladder (Gitea has no triage or
/// maintain; its `owner` is `admin` here).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Permission {
    /// No access at all.
    None,
    /// Can read (and comment on public repositories).
    Read,
    /// Can manage issues and pull requests without write access.
    Triage,
    /// Can push.
    Write,
    /// Can manage the repository without admin rights.
    Maintain,
    /// Full control.
    Admin,
}

/// A comment as the forge returns it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ForgeComment {
    /// The comment id.
    pub id: i64,
    /// The author's login.
    pub author: String,
    /// The author's numeric id (0 when the forge did not say).
    pub author_id: i64,
    /// Whether the forge marks the author as a bot (GitHub's `Bot` type, a `[bot]` login).
    pub author_bot: bool,
    /// The text.
    pub body: String,
    /// When it was created (Unix ms), when the forge said so readably.
    pub created_at: Option<i64>,
    /// When it was last edited (Unix ms), when the forge said so readably: later than its
    /// creation for a comment someone edited, which never acts.
    pub updated_at: Option<i64>,
}

impl ForgeComment {
    /// Whether the forge shows the comment edited after it was made.
    pub fn edited(&self) -> bool {
        self.created_at
            .zip(self.updated_at)
            .is_some_and(|(created, updated)| updated > created)
    }
}

/// A comment found by a repository-wide listing, with the issue or pull request it is on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RepoComment {
    /// The issue or pull request number.
    pub number: i64,
    /// The comment.
    pub comment: ForgeComment,
}

/// An issue or pull request as the issues API shows it: what a delivery's event carries of it,
/// for reconciliation to make the event a lost delivery would have made.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ForgeIssue {
    /// The number.
    pub number: i64,
    /// The title.
    pub title: String,
    /// The text (empty when the forge has none).
    pub body: String,
    /// The author's login.
    pub author: String,
    /// The author's numeric id (0 when the forge did not say).
    pub author_id: i64,
    /// Whether the forge marks the author as a bot.
    pub author_bot: bool,
    /// Whether it is a pull request.
    pub is_pull_request: bool,
}

/// The reactions ade posts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Reaction {
    /// 👀: a command was accepted and is being worked on.
    Eyes,
    /// 🚀: a command's work is done.
    Rocket,
    /// 😕: a command was refused or failed.
    Confused,
}

impl Reaction {
    /// The reaction's `content` name, the same on GitHub and Gitea.
    pub fn content(self) -> &'static str {
        match self {
            Reaction::Eyes => "eyes",
            Reaction::Rocket => "rocket",
            Reaction::Confused => "confused",
        }
    }
}

/// A pull request ade wants opened.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewPullRequest {
    /// Title.
    pub title: String,
    /// Body (rendered from templates/).
    pub body: String,
    /// The branch with the changes.
    pub head: String,
    /// The branch to merge into.
    pub base: String,
    /// Open as a draft.
    pub draft: bool,
}

/// Changes to a pull request; `None` fields stay as they are.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PullRequestUpdate {
    /// New title.
    pub title: Option<String>,
    /// New body.
    pub body: Option<String>,
    /// Close (`false`) or reopen (`true`).
    pub open: Option<bool>,
}

/// A pull request as the forge returns it: what the review gate reads and what a later call on
/// the same pull request needs (its GraphQL id on GitHub, its title on Gitea).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ForgePullRequest {
    /// The number.
    pub number: i64,
    /// Its web page.
    pub url: String,
    /// The title as the forge shows it (on Gitea with its `WIP: ` prefix while a draft).
    pub title: String,
    /// The head commit.
    pub head_sha: String,
    /// The branch with the changes.
    pub head_branch: String,
    /// The branch it merges into.
    pub base_branch: String,
    /// Open, not closed or merged.
    pub open: bool,
    /// Merged.
    pub merged: bool,
    /// A draft: not ready for review, and no forge merges it.
    pub draft: bool,
    /// GitHub's GraphQL id (`node_id`), which changing the draft state needs; `None` on Gitea.
    pub node_id: Option<String>,
}

/// Where a check stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum CheckState {
    /// Waiting to start.
    Queued,
    /// Running.
    InProgress,
    /// Finished and passed.
    Success,
    /// Finished and failed.
    Failure,
    /// Finished without a verdict that blocks anything (nothing to verify): GitHub's `neutral`,
    /// which branch protection counts as passing; a passing status on Gitea.
    Neutral,
    /// Stopped before it finished (superseded by a newer head, cancelled): GitHub's `cancelled`;
    /// on Gitea a `warning` status saying so.
    Cancelled,
    /// The check could not be carried out at all (a program missing, the worktree gone): never a
    /// pass. Gitea's `error`; GitHub has no such conclusion, so there it is a `failure` whose
    /// title says it is an error.
    Error,
}

impl CheckState {
    /// Whether the check has finished.
    pub fn is_completed(self) -> bool {
        !matches!(self, CheckState::Queued | CheckState::InProgress)
    }
}

/// How serious an annotation is (GitHub's `annotation_level`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AnnotationLevel {
    /// Informational.
    Notice,
    /// Worth a look.
    Warning,
    /// A failure at this line.
    Failure,
}

/// A message attached to a line of a file in a check (GitHub check run annotations; Gitea has
/// none, so there they only appear in the approval's report comment).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckAnnotation {
    /// The file, relative to the repository root (never absolute, never with `..`).
    pub path: String,
    /// The first line, from 1.
    pub start_line: u32,
    /// The last line, at least `start_line`.
    pub end_line: u32,
    /// The column, from 1, when the tool said; GitHub accepts it only when the annotation is on
    /// one line.
    pub start_column: Option<u32>,
    /// How serious.
    pub level: AnnotationLevel,
    /// What is wrong (plain text, untrusted tool output already sanitized).
    pub message: String,
    /// A short title (the step's name).
    pub title: Option<String>,
}

/// A check to create or update: a check run on GitHub, a commit status on Gitea (which keeps only
/// state, a one-line description and a link).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Check {
    /// Its name (`ade/verify`, `ade/policy`): the context of a Gitea status.
    pub name: String,
    /// The commit it is about.
    pub head_sha: String,
    /// Where it stands.
    pub state: CheckState,
    /// One line: the check run's title, the status's description.
    pub title: String,
    /// Markdown summary (GitHub only).
    pub summary: String,
    /// Longer Markdown details below the summary (GitHub's `output.text`; GitHub only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// Line annotations (GitHub only; sent at most 50 per request).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub annotations: Vec<CheckAnnotation>,
    /// A link to details (ade's run log).
    pub details_url: Option<String>,
    /// ade's own id for the check (GitHub `external_id`), to find it again.
    pub external_id: Option<String>,
}

/// A check another system posted on a commit (a CI's GitHub check run or commit status, a Gitea
/// commit status), read so verification can wait for the policy's `external_checks`. Its texts
/// are the other system's words, hostile: cut to [`ExternalCheck::MAX_TEXT`] characters here and
/// sanitized before they are shown anywhere (`verify::external`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExternalCheck {
    /// The check run's name or the status's context.
    pub name: String,
    /// The forge's id of the check run or status: a re-run is a new id, and a check run whose
    /// annotations ade already read is known by it.
    #[serde(default)]
    pub id: Option<i64>,
    /// What kind of check it is.
    pub source: ExternalSource,
    /// Where it stands.
    pub state: ExternalState,
    /// The forge's own word for how it ended (`failure`, `timed_out`, `error`), when it ended.
    pub conclusion: Option<String>,
    /// A check run's output title.
    pub title: Option<String>,
    /// A check run's output summary, or a status's description.
    pub summary: Option<String>,
    /// A check run's output text.
    pub text: Option<String>,
    /// A failed check run's annotations (the first page of them).
    pub annotations: Vec<ExternalAnnotation>,
    /// Where the other system shows more: a check run's details or page, a status's target.
    pub link: Option<String>,
}

impl ExternalCheck {
    /// Most characters of one text kept from a forge's answer.
    pub const MAX_TEXT: usize = 65_535;
    /// Most annotations read from one check run.
    pub const MAX_ANNOTATIONS: usize = 50;
}

/// Which API an external check came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExternalSource {
    /// A GitHub check run.
    CheckRun,
    /// A commit status (GitHub or Gitea).
    Status,
}

/// Where an external check stands, in the terms branch protection uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExternalState {
    /// Queued or running.
    Pending,
    /// Ended in a state the forge counts as passing a required check.
    Passed,
    /// Ended any other way.
    Failed,
}

/// What one look at a commit's external checks found: the checks read, and each source that could
/// not be read with why. One source failing does not hide what the others showed.
#[derive(Debug, Default)]
pub struct ExternalLook {
    /// The newest check of each name found, from the sources that could be read.
    pub checks: Vec<ExternalCheck>,
    /// The sources that could be read.
    pub read: Vec<ExternalSource>,
    /// The sources the forge did not show, and its answer.
    pub unread: Vec<(ExternalSource, ForgeError)>,
}

/// An annotation of an external check run, as GitHub gave it (hostile, cut, not yet sanitized).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExternalAnnotation {
    /// The file, as the other system named it.
    pub path: String,
    /// The first line.
    pub start_line: i64,
    /// `notice`, `warning` or `failure`, as GitHub says.
    pub level: Option<String>,
    /// Its title.
    pub title: Option<String>,
    /// Its message.
    pub message: Option<String>,
}

/// A check as the forge stored it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckRef {
    /// The check run id on GitHub; on Gitea the status id.
    pub id: i64,
}

/// Which check run a [`Forge::set_check`] writes, so that each report costs as few calls as the
/// forge allows. Gitea keeps one status per name and commit and ignores it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum CheckTarget {
    /// A new check run: the caller knows none exists yet (its first report on this commit).
    Create,
    /// The check run with this id, which the caller created earlier.
    Update(i64),
    /// Look for this app's check run of the same name on the commit, then update it or create
    /// one: for a retry that cannot know whether its first attempt reached the forge.
    Find,
}

/// A review on a pull request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ForgeReview {
    /// The review id.
    pub id: i64,
    /// The reviewer's login.
    pub author: String,
    /// What it says.
    pub state: ReviewState,
    /// The commit it applies to.
    pub commit_sha: Option<String>,
    /// Its text (empty when the reviewer wrote none).
    pub body: String,
    /// When it was submitted (Unix milliseconds); `None` when the forge gives no readable time.
    pub submitted_at: Option<i64>,
}

/// A comment on a line (or a file) of a pull request's diff, left in a review: the feedback a
/// retry hands the agent along with the review's text.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ForgeReviewComment {
    /// The comment id.
    pub id: i64,
    /// The commenter's login.
    pub author: String,
    /// What it says.
    pub body: String,
    /// The file, relative to the repository root; `None` when the forge names none.
    pub path: Option<String>,
    /// The line in the file's new version as reviewed, or, when [`earlier`](Self::earlier), in
    /// an earlier version; `None` for a comment on the whole file.
    pub line: Option<u32>,
    /// Whether `line` numbers an earlier version of the file than the one reviewed: the old side
    /// of the diff, or an outdated comment's original line.
    pub earlier: bool,
    /// The review it belongs to.
    pub review_id: Option<i64>,
}

/// How to merge.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum MergeMethod {
    /// A merge commit.
    Merge,
    /// Squash into one commit.
    Squash,
    /// Rebase onto the base.
    Rebase,
}

impl MergeMethod {
    /// The name both forges' merge endpoints take (`merge_method` on GitHub, `Do` on Gitea).
    pub fn as_str(self) -> &'static str {
        match self {
            MergeMethod::Merge => "merge",
            MergeMethod::Squash => "squash",
            MergeMethod::Rebase => "rebase",
        }
    }
}

/// Why a forge refused a merge; the review gate acts differently on each.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum MergeRefusal {
    /// The pull request's head is no longer the commit ade checked: someone pushed, and the new
    /// head must be verified first.
    HeadMoved,
    /// The base branch moved while the forge was merging (another merge landed at the same
    /// moment): the same merge is worth another try.
    BaseMoved,
    /// It cannot merge as it stands: closed, already merged, a draft, or in conflict with its
    /// base.
    NotMergeable,
    /// Branch protection refuses it: approvals or required checks are missing, or ade's account
    /// may not merge there.
    Protected,
}

impl fmt::Display for MergeRefusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            MergeRefusal::HeadMoved => "the head moved",
            MergeRefusal::BaseMoved => "the base branch moved during the merge",
            MergeRefusal::NotMergeable => "not mergeable",
            MergeRefusal::Protected => "branch protection",
        })
    }
}

/// What the forge's branch protection requires before a merge.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BranchProtection {
    /// Approving reviews required.
    pub required_approvals: u32,
    /// Check names (GitHub contexts, Gitea status contexts) that must pass.
    pub required_checks: Vec<String>,
    /// Whether admins are held to it too.
    pub enforce_admins: bool,
}

/// A branch and the commit it points at.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BranchHead {
    /// Branch name.
    pub name: String,
    /// Commit SHA.
    pub sha: String,
}

/// The git work a credential is asked for. On GitHub it is what the token may do, besides reaching
/// the one repository it was asked for (docs/github.md).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GitAccess {
    /// Clone and fetch: a runner filling its mirror, a verification, a warm-up.
    Fetch,
    /// Fetch and push branches: a run publishing its change.
    Push,
}

/// A short-lived credential for git over HTTPS; written only where agents cannot read it.
#[derive(Clone, Debug)]
pub struct CloneCredential {
    /// The repository's HTTPS clone URL, without credentials.
    pub url: String,
    /// The HTTP basic user name.
    pub username: String,
    /// The token.
    pub password: Secret,
    /// When it stops working (Unix ms), if it expires.
    pub expires_at: Option<i64>,
}

/// Why a forge call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ForgeError {
    /// The thing asked for does not exist (or ade may not see it).
    #[error("not found: {0}")]
    NotFound(String),
    /// The forge refused ade's credentials or permissions.
    #[error("forbidden: {0}")]
    Forbidden(String),
    /// The forge rate-limited ade; retry after this many milliseconds.
    #[error("rate limited; retry after {retry_after_ms} ms")]
    RateLimited {
        /// How long to wait.
        retry_after_ms: u64,
    },
    /// The forge failed (5xx) or the connection did; worth retrying.
    #[error("forge unavailable: {0}")]
    Unavailable(String),
    /// The forge refused the request as invalid (4xx other than the above).
    #[error("rejected by the forge: {0}")]
    Rejected(String),
    /// The forge refused to merge a pull request, for this reason.
    #[error("merge refused ({refusal}): {message}")]
    MergeRefused {
        /// Why, in ade's terms.
        refusal: MergeRefusal,
        /// What was attempted and the forge's own words.
        message: String,
    },
    /// ade is not configured for this forge.
    #[error("not configured: {0}")]
    NotConfigured(String),
    /// The forge answered with success but in a shape ade cannot read (a proxy's page, an
    /// unsupported version); retrying the same call will not help.
    #[error("unexpected answer from the forge: {0}")]
    Malformed(String),
}

impl ForgeError {
    /// Whether a later attempt may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            ForgeError::RateLimited { .. } | ForgeError::Unavailable(_)
        )
    }
}

/// A forge result.
pub type ForgeResult<T> = Result<T, ForgeError>;

/// What the coordinator needs from a forge. Implementations retry rate limits and transient
/// failures themselves within a short budget, and report what is left as a [`ForgeError`].
#[async_trait::async_trait]
pub trait Forge: Send + Sync + 'static {
    /// The dialect.
    fn kind(&self) -> ForgeKind;

    /// The login ade posts as (the bot user, or `<app-slug>[bot]`), so its own comments are
    /// recognised and never act.
    async fn bot_login(&self) -> ForgeResult<String>;

    /// Posts a comment on an issue or pull request.
    async fn create_comment(&self, repo: &RepoRef, number: i64, body: &str) -> ForgeResult<i64>;

    /// Replaces a comment's text.
    async fn update_comment(&self, repo: &RepoRef, comment_id: i64, body: &str) -> ForgeResult<()>;

    /// Every comment on an issue or pull request, oldest first (to find a sticky comment again by
    /// its hidden marker).
    async fn list_comments(&self, repo: &RepoRef, number: i64) -> ForgeResult<Vec<ForgeComment>>;

    /// The comments on every issue and pull request of the repository created or edited at or
    /// after `since` (Unix ms), oldest first: reconciliation finds commands on issues ade holds
    /// no goal for (a first `/ade plan` whose delivery was lost).
    async fn recent_comments(&self, repo: &RepoRef, since: i64) -> ForgeResult<Vec<RepoComment>>;

    /// An issue or pull request by number.
    async fn issue(&self, repo: &RepoRef, number: i64) -> ForgeResult<ForgeIssue>;

    /// Reacts to a comment; reacting twice is not an error.
    async fn add_reaction(
        &self,
        repo: &RepoRef,
        comment_id: i64,
        reaction: Reaction,
    ) -> ForgeResult<()>;

    /// A file's bytes at a ref; `None` if the file does not exist there.
    async fn read_file(
        &self,
        repo: &RepoRef,
        path: &str,
        git_ref: &str,
    ) -> ForgeResult<Option<Vec<u8>>>;

    /// The default branch and its head commit.
    async fn default_branch(&self, repo: &RepoRef) -> ForgeResult<BranchHead>;

    /// A user's permission on the repository.
    async fn permission(&self, repo: &RepoRef, login: &str) -> ForgeResult<Permission>;

    /// Whether `login` is a member of `team`; asked only when a policy grants roles to teams.
    /// `repo` tells a GitHub client which installation to ask through.
    async fn is_team_member(&self, repo: &RepoRef, team: &Team, login: &str) -> ForgeResult<bool>;

    /// Adds labels to an issue or pull request (creating none that the repository lacks).
    async fn add_labels(&self, repo: &RepoRef, number: i64, labels: &[String]) -> ForgeResult<()>;

    /// Opens a pull request.
    async fn create_pull_request(
        &self,
        repo: &RepoRef,
        pull: &NewPullRequest,
    ) -> ForgeResult<ForgePullRequest>;

    /// The open pull request whose head is `branch` in this repository, if there is one: a run
    /// retried after a crash finds the approval it opened instead of opening a second.
    async fn find_pull_request(
        &self,
        repo: &RepoRef,
        branch: &str,
    ) -> ForgeResult<Option<ForgePullRequest>>;

    /// Changes a pull request.
    async fn update_pull_request(
        &self,
        repo: &RepoRef,
        number: i64,
        update: &PullRequestUpdate,
    ) -> ForgeResult<ForgePullRequest>;

    /// Reports a check on a commit: on GitHub creates or updates the check run `target` says,
    /// with its annotations in as few requests as GitHub allows; on Gitea sets the commit status
    /// named after the check (which replaces the last one, so `target` does not matter).
    async fn set_check(
        &self,
        repo: &RepoRef,
        check: &Check,
        target: CheckTarget,
    ) -> ForgeResult<CheckRef>;

    /// The checks named `names` that other systems posted on commit `sha`, the newest of each
    /// name from each source (check runs and statuses on GitHub, statuses on Gitea); names not
    /// posted are absent. ade's own checks are never among them. Each source is read on its own,
    /// and one the forge refuses is in [`ExternalLook::unread`]; the annotations of the check runs
    /// whose ids are in `known` (read at an earlier look) are not read again.
    async fn external_checks(
        &self,
        repo: &RepoRef,
        sha: &str,
        names: &[String],
        known: &[i64],
    ) -> ExternalLook;

    /// A pull request as it is now (the review gate looks again before it acts).
    async fn pull_request(&self, repo: &RepoRef, number: i64) -> ForgeResult<ForgePullRequest>;

    /// Marks a pull request a draft (`true`) or ready for review (`false`): auto-reject and a
    /// passing re-verification move an approval between the two. Nothing is sent when `pull`
    /// already is in that state.
    async fn set_draft(
        &self,
        repo: &RepoRef,
        pull: &ForgePullRequest,
        draft: bool,
    ) -> ForgeResult<()>;

    /// Closes an issue (a goal whose work is done, when the repository's policy says so).
    async fn close_issue(&self, repo: &RepoRef, number: i64) -> ForgeResult<()>;

    /// The reviews on a pull request, oldest first.
    async fn list_reviews(&self, repo: &RepoRef, number: i64) -> ForgeResult<Vec<ForgeReview>>;

    /// The line comments of every review on a pull request, oldest first: with the review's
    /// text, the feedback a retry gives the agent.
    async fn list_review_comments(
        &self,
        repo: &RepoRef,
        number: i64,
    ) -> ForgeResult<Vec<ForgeReviewComment>>;

    /// Merges `pull` if its head is still the one it was read at (`pull.head_sha`, the head ade
    /// checked); the forge's branch protection decides. A refusal is
    /// [`ForgeError::MergeRefused`], saying why.
    async fn merge(
        &self,
        repo: &RepoRef,
        pull: &ForgePullRequest,
        method: MergeMethod,
    ) -> ForgeResult<()>;

    /// The protection on a branch; `None` when the branch is unprotected.
    async fn branch_protection(
        &self,
        repo: &RepoRef,
        branch: &str,
    ) -> ForgeResult<Option<BranchProtection>>;

    /// A short-lived credential for `access` to `repo` over HTTPS. Whoever asks for one revokes
    /// it ([`Forge::revoke_credential`]) once that git work is done.
    async fn clone_credential(
        &self,
        repo: &RepoRef,
        access: GitAccess,
    ) -> ForgeResult<CloneCredential>;

    /// Ends a credential [`Forge::clone_credential`] gave before it expires, so nothing can use it
    /// after the git work it was for. A credential that no longer works already counts as
    /// revoked; a forge whose credentials cannot be revoked does nothing.
    async fn revoke_credential(&self, credential: &CloneCredential) -> ForgeResult<()>;
}

/// Whether `login` has the shape forges give logins: 1 to 100 ASCII letters, digits, `-`, `_`,
/// `.`, and the brackets of a `name[bot]`. Anything else a forge answers is not trusted as one.
pub fn valid_login(login: &str) -> bool {
    (1..=100).contains(&login.len())
        && login
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'[' | b']'))
}
