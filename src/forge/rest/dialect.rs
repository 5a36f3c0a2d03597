//! What a dialect supplies: how it sends a call ([`Client`]), and for each part of the API the
//! rules and the operations in which GitHub and Gitea differ. Each dialect implements a part in its
//! module of the same name (`gitea/issues.rs` implements [`Issues`], and so on). The operations
//! are associated functions that take the client, called as `Issues::list_comments(forge, …)`, so
//! that they keep the names of the [`Forge`](crate::forge::Forge) operations they carry out
//! without standing beside them as methods.

use crate::forge::http::Reply;
use crate::forge::{
    BranchHead, BranchProtection, Check, CheckRef, CheckTarget, CloneCredential, ExternalLook,
    ForgeComment, ForgeIssue, ForgeKind, ForgePullRequest, ForgeResult, ForgeReview,
    ForgeReviewComment, GitAccess, MergeMethod, MergeRefusal, NewPullRequest, Permission, Reaction,
    RepoComment, RepoRef, Team,
};
use http::Method;
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::collections::HashMap;

/// How a client sends one JSON call about a repository: GitHub with the token of the
/// repository's installation, Gitea with the bot's token.
#[async_trait::async_trait]
pub(crate) trait Client: Send + Sync + 'static {
    /// The dialect it speaks.
    const KIND: ForgeKind;

    /// Sends `method` to `path` (below the API root) with `body`; `what` names it in errors.
    async fn request(
        &self,
        repo: &RepoRef,
        method: Method,
        path: String,
        body: Option<Value>,
        what: &str,
    ) -> ForgeResult<Reply>;

    /// [`Client::request`] sent once even on a 5xx, a lost connection or a timeout: for a write
    /// that sent again would be made twice (a new comment), whose caller looks before it tries
    /// again.
    async fn request_once(
        &self,
        repo: &RepoRef,
        method: Method,
        path: String,
        body: Option<Value>,
        what: &str,
    ) -> ForgeResult<Reply>;
}

/// Issues and the comments on them (pull requests are issues to both forges).
#[async_trait::async_trait]
pub(crate) trait Issues: Client {
    /// The change of an issue's fields that closes it.
    fn closing() -> Value;

    /// The repository's labels, each with how a request names it (GitHub by name, Gitea by id).
    async fn repo_labels(forge: &Self, repo: &RepoRef) -> ForgeResult<HashMap<String, Value>>;

    /// Every comment on issue `number`, oldest first.
    async fn list_comments(
        forge: &Self,
        repo: &RepoRef,
        number: i64,
    ) -> ForgeResult<Vec<ForgeComment>>;

    /// Every comment of the repository created or edited at or after `since` (Unix ms),
    /// oldest first.
    async fn recent_comments(
        forge: &Self,
        repo: &RepoRef,
        since: i64,
    ) -> ForgeResult<Vec<RepoComment>>;

    /// Issue or pull request `number`.
    async fn issue(forge: &Self, repo: &RepoRef, number: i64) -> ForgeResult<ForgeIssue>;

    /// Reacts to comment `comment_id`, once however often it is asked.
    async fn add_reaction(
        forge: &Self,
        repo: &RepoRef,
        comment_id: i64,
        reaction: Reaction,
    ) -> ForgeResult<()>;
}

/// Pull requests: how the dialect shows, opens, titles, lists, drafts and merges them.
#[async_trait::async_trait]
pub(crate) trait Pulls: Client {
    /// A pull request as the dialect's answers show it.
    type Pull: DeserializeOwned + Send;

    /// A pull request in ade's terms.
    fn read_pull(pull: Self::Pull) -> ForgePullRequest;

    /// The body of the request that opens `pull`.
    fn new_pull(pull: &NewPullRequest) -> Value;

    /// The title the forge should store when an update gives pull request `number` `title`.
    async fn title_to_store(
        forge: &Self,
        repo: &RepoRef,
        number: i64,
        title: &str,
    ) -> ForgeResult<String>;

    /// The open pull requests among which the one whose head is `branch` is looked for; `what`
    /// names the search in errors.
    async fn open_pulls(
        forge: &Self,
        repo: &RepoRef,
        branch: &str,
        what: &str,
    ) -> ForgeResult<Vec<Self::Pull>>;

    /// Marks `pull` a draft (`true`) or ready for review; asked only when it is not so already.
    async fn set_draft(
        forge: &Self,
        repo: &RepoRef,
        pull: &ForgePullRequest,
        draft: bool,
    ) -> ForgeResult<()>;

    /// The HTTP method and the body of the request that merges a pull request by `method` if
    /// its head is still `head_sha`.
    fn merge_request(head_sha: &str, method: MergeMethod) -> (Method, Value);

    /// Why the forge refused a merge, read from its answer by the dialect's rules; `None` when
    /// the answer is no refusal.
    fn merge_refusal(reply: &Reply) -> Option<MergeRefusal>;
}

/// Repositories: the bot itself, files, branches, access, teams and git credentials.
#[async_trait::async_trait]
pub(crate) trait Repos: Client {
    /// The login ade posts as.
    async fn bot_login(forge: &Self) -> ForgeResult<String>;

    /// A file's bytes at `git_ref`; `None` if the file does not exist there.
    async fn read_file(
        forge: &Self,
        repo: &RepoRef,
        path: &str,
        git_ref: &str,
    ) -> ForgeResult<Option<Vec<u8>>>;

    /// The default branch and its head commit.
    async fn default_branch(forge: &Self, repo: &RepoRef) -> ForgeResult<BranchHead>;

    /// A user's permission from the answer to `GET …/collaborators/{login}/permission`, which
    /// was no 404 (a user the repository does not know has none).
    fn read_permission(reply: &Reply, what: &str) -> ForgeResult<Permission>;

    /// Whether `login` is a member of `team`.
    async fn is_team_member(
        forge: &Self,
        repo: &RepoRef,
        team: &Team,
        login: &str,
    ) -> ForgeResult<bool>;

    /// The protection on `branch`; `None` when the branch is unprotected.
    async fn branch_protection(
        forge: &Self,
        repo: &RepoRef,
        branch: &str,
    ) -> ForgeResult<Option<BranchProtection>>;

    /// A short-lived credential for `access` to `repo` over HTTPS.
    async fn clone_credential(
        forge: &Self,
        repo: &RepoRef,
        access: GitAccess,
    ) -> ForgeResult<CloneCredential>;

    /// Ends a credential [`Repos::clone_credential`] gave.
    async fn revoke_credential(forge: &Self, credential: &CloneCredential) -> ForgeResult<()>;
}

/// Reviews of pull requests and the line comments left in them.
#[async_trait::async_trait]
pub(crate) trait Reviews: Client {
    /// The submitted reviews on pull request `number`, oldest first.
    async fn list_reviews(
        forge: &Self,
        repo: &RepoRef,
        number: i64,
    ) -> ForgeResult<Vec<ForgeReview>>;

    /// The line comments of every submitted review on pull request `number`, oldest first.
    async fn list_review_comments(
        forge: &Self,
        repo: &RepoRef,
        number: i64,
    ) -> ForgeResult<Vec<ForgeReviewComment>>;
}

/// Checks on commits: check runs on GitHub, commit statuses on Gitea.
#[async_trait::async_trait]
pub(crate) trait Checks: Client {
    /// Reports `check` on its commit, writing the check run `target` says where the dialect has
    /// check runs.
    async fn set_check(
        forge: &Self,
        repo: &RepoRef,
        check: &Check,
        target: CheckTarget,
    ) -> ForgeResult<CheckRef>;

    /// The checks named `names` others posted on `sha` ([`Forge::external_checks`](crate::forge::Forge::external_checks)).
    async fn external_checks(
        forge: &Self,
        repo: &RepoRef,
        sha: &str,
        names: &[String],
        known: &[i64],
    ) -> ExternalLook;
}

/// A whole dialect, which makes it a [`Forge`](crate::forge::Forge) (`operations.rs`).
pub(crate) trait Dialect: Issues + Pulls + Repos + Reviews + Checks {}

impl<D: Issues + Pulls + Repos + Reviews + Checks> Dialect for D {}
