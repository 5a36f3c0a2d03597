//! The [`Forge`] every dialect is: the calls both forges take alike are made here, with the
//! dialect's rules where they differ, and the operations a dialect carries out its own way are
//! handed to it.

use super::dialect::Dialect;
use super::{Checks, Issues, Pulls, Repos, Reviews, read_pull, repo_path};
use crate::forge::http::encode_segment;
use crate::forge::wire;
use crate::forge::{
    BranchHead, BranchProtection, Check, CheckRef, CheckTarget, CloneCredential, ExternalLook,
    Forge, ForgeComment, ForgeError, ForgeIssue, ForgeKind, ForgePullRequest, ForgeResult,
    ForgeReview, ForgeReviewComment, GitAccess, MergeMethod, NewPullRequest, Permission,
    PullRequestUpdate, Reaction, RepoComment, RepoRef, Team,
};
use http::Method;
use serde_json::{Map, Value, json};

#[async_trait::async_trait]
impl<D: Dialect> Forge for D {
    fn kind(&self) -> ForgeKind {
        D::KIND
    }

    async fn bot_login(&self) -> ForgeResult<String> {
        Repos::bot_login(self).await
    }

    async fn create_comment(&self, repo: &RepoRef, number: i64, body: &str) -> ForgeResult<i64> {
        let what = format!("comment on {}#{number}", repo.full_name());
        let path = repo_path(repo, &format!("/issues/{number}/comments"));
        let body = json!({ "body": body });
        let reply = self
            .request_once(repo, Method::POST, path, Some(body), &what)
            .await?;
        Ok(reply.success_json::<wire::Comment>(&what)?.id)
    }

    async fn update_comment(&self, repo: &RepoRef, comment_id: i64, body: &str) -> ForgeResult<()> {
        let what = format!("update comment {comment_id} in {}", repo.full_name());
        let path = repo_path(repo, &format!("/issues/comments/{comment_id}"));
        let body = json!({ "body": body });
        self.request(repo, Method::PATCH, path, Some(body), &what)
            .await?
            .success(&what)
    }

    async fn list_comments(&self, repo: &RepoRef, number: i64) -> ForgeResult<Vec<ForgeComment>> {
        Issues::list_comments(self, repo, number).await
    }

    async fn recent_comments(&self, repo: &RepoRef, since: i64) -> ForgeResult<Vec<RepoComment>> {
        Issues::recent_comments(self, repo, since).await
    }

    async fn issue(&self, repo: &RepoRef, number: i64) -> ForgeResult<ForgeIssue> {
        Issues::issue(self, repo, number).await
    }

    async fn add_reaction(
        &self,
        repo: &RepoRef,
        comment_id: i64,
        reaction: Reaction,
    ) -> ForgeResult<()> {
        Issues::add_reaction(self, repo, comment_id, reaction).await
    }

    async fn read_file(
        &self,
        repo: &RepoRef,
        path: &str,
        git_ref: &str,
    ) -> ForgeResult<Option<Vec<u8>>> {
        Repos::read_file(self, repo, path, git_ref).await
    }

    async fn default_branch(&self, repo: &RepoRef) -> ForgeResult<BranchHead> {
        Repos::default_branch(self, repo).await
    }

    async fn permission(&self, repo: &RepoRef, login: &str) -> ForgeResult<Permission> {
        let what = format!("read the permission of {login} on {}", repo.full_name());
        let path = repo_path(
            repo,
            &format!("/collaborators/{}/permission", encode_segment(login)),
        );
        let reply = self.request(repo, Method::GET, path, None, &what).await?;
        if reply.status.as_u16() == 404 {
            return Ok(Permission::None);
        }
        D::read_permission(&reply, &what)
    }

    async fn is_team_member(&self, repo: &RepoRef, team: &Team, login: &str) -> ForgeResult<bool> {
        Repos::is_team_member(self, repo, team, login).await
    }

    /// Adds those of `labels` the repository has, never creating the others (GitHub would); the
    /// repository's labels are read only when there are some to add.
    async fn add_labels(&self, repo: &RepoRef, number: i64, labels: &[String]) -> ForgeResult<()> {
        if labels.is_empty() {
            return Ok(());
        }
        let existing = D::repo_labels(self, repo).await?;
        let (present, missing): (Vec<&String>, Vec<&String>) = labels
            .iter()
            .partition(|l| existing.contains_key(l.as_str()));
        if !missing.is_empty() {
            tracing::warn!(repo = %repo.full_name(), ?missing, "labels missing from the repository are not added");
        }
        if present.is_empty() {
            return Ok(());
        }
        let named: Vec<&Value> = present.iter().map(|l| &existing[l.as_str()]).collect();
        let what = format!("label {}#{number}", repo.full_name());
        let path = repo_path(repo, &format!("/issues/{number}/labels"));
        let body = json!({ "labels": named });
        self.request(repo, Method::POST, path, Some(body), &what)
            .await?
            .success(&what)
    }

    async fn create_pull_request(
        &self,
        repo: &RepoRef,
        pull: &NewPullRequest,
    ) -> ForgeResult<ForgePullRequest> {
        let what = format!(
            "open a pull request {} → {} in {}",
            pull.head,
            pull.base,
            repo.full_name()
        );
        let path = repo_path(repo, "/pulls");
        let body = D::new_pull(pull);
        let opened: D::Pull = self
            .request_once(repo, Method::POST, path, Some(body), &what)
            .await?
            .success_json(&what)?;
        Ok(D::read_pull(opened))
    }

    async fn find_pull_request(
        &self,
        repo: &RepoRef,
        branch: &str,
    ) -> ForgeResult<Option<ForgePullRequest>> {
        let what = format!(
            "find the open pull request of {branch} in {}",
            repo.full_name()
        );
        let open = D::open_pulls(self, repo, branch, &what).await?;
        Ok(open
            .into_iter()
            .map(D::read_pull)
            .find(|p| p.head_branch == branch))
    }

    /// Sends only what `update` changes, with the title as the dialect stores it.
    async fn update_pull_request(
        &self,
        repo: &RepoRef,
        number: i64,
        update: &PullRequestUpdate,
    ) -> ForgeResult<ForgePullRequest> {
        let what = format!("update pull request {}#{number}", repo.full_name());
        let mut body = Map::new();
        if let Some(title) = &update.title {
            let title = D::title_to_store(self, repo, number, title).await?;
            body.insert("title".into(), Value::from(title));
        }
        if let Some(text) = &update.body {
            body.insert("body".into(), Value::from(text.as_str()));
        }
        if let Some(open) = update.open {
            body.insert(
                "state".into(),
                Value::from(if open { "open" } else { "closed" }),
            );
        }
        let path = repo_path(repo, &format!("/pulls/{number}"));
        let updated: D::Pull = self
            .request(repo, Method::PATCH, path, Some(Value::Object(body)), &what)
            .await?
            .success_json(&what)?;
        Ok(D::read_pull(updated))
    }

    async fn set_check(
        &self,
        repo: &RepoRef,
        check: &Check,
        target: CheckTarget,
    ) -> ForgeResult<CheckRef> {
        Checks::set_check(self, repo, check, target).await
    }

    async fn external_checks(
        &self,
        repo: &RepoRef,
        sha: &str,
        names: &[String],
        known: &[i64],
    ) -> ExternalLook {
        Checks::external_checks(self, repo, sha, names, known).await
    }

    async fn pull_request(&self, repo: &RepoRef, number: i64) -> ForgeResult<ForgePullRequest> {
        read_pull(self, repo, number).await
    }

    async fn set_draft(
        &self,
        repo: &RepoRef,
        pull: &ForgePullRequest,
        draft: bool,
    ) -> ForgeResult<()> {
        if pull.draft == draft {
            return Ok(());
        }
        Pulls::set_draft(self, repo, pull, draft).await
    }

    async fn close_issue(&self, repo: &RepoRef, number: i64) -> ForgeResult<()> {
        let what = format!("close {}#{number}", repo.full_name());
        let path = repo_path(repo, &format!("/issues/{number}"));
        self.request(repo, Method::PATCH, path, Some(D::closing()), &what)
            .await?
            .success(&what)
    }

    async fn list_reviews(&self, repo: &RepoRef, number: i64) -> ForgeResult<Vec<ForgeReview>> {
        Reviews::list_reviews(self, repo, number).await
    }

    async fn list_review_comments(
        &self,
        repo: &RepoRef,
        number: i64,
    ) -> ForgeResult<Vec<ForgeReviewComment>> {
        Reviews::list_review_comments(self, repo, number).await
    }

    async fn merge(
        &self,
        repo: &RepoRef,
        pull: &ForgePullRequest,
        method: MergeMethod,
    ) -> ForgeResult<()> {
        let head_sha = &pull.head_sha;
        let what = format!("merge {}#{} at {head_sha}", repo.full_name(), pull.number);
        let path = repo_path(repo, &format!("/pulls/{}/merge", pull.number));
        let (verb, body) = D::merge_request(head_sha, method);
        let reply = self.request(repo, verb, path, Some(body), &what).await?;
        match D::merge_refusal(&reply) {
            Some(refusal) => Err(ForgeError::MergeRefused {
                refusal,
                message: format!("{what}: {}", reply.message()),
            }),
            None => reply.success(&what),
        }
    }

    async fn branch_protection(
        &self,
        repo: &RepoRef,
        branch: &str,
    ) -> ForgeResult<Option<BranchProtection>> {
        Repos::branch_protection(self, repo, branch).await
    }

    async fn clone_credential(
        &self,
        repo: &RepoRef,
        access: GitAccess,
    ) -> ForgeResult<CloneCredential> {
        Repos::clone_credential(self, repo, access).await
    }

    async fn revoke_credential(&self, credential: &CloneCredential) -> ForgeResult<()> {
        Repos::revoke_credential(self, credential).await
    }
}
