//! Comments, reactions, labels and closing on GitHub issues and pull requests (the issues API
//! serves both).

use super::{Call, GithubForge, repo_path, wire};
use crate::forge::rest::Issues;
use crate::forge::{ForgeComment, ForgeIssue, ForgeResult, Reaction, RepoComment, RepoRef};
use serde_json::{Value, json};
use std::collections::HashMap;

#[async_trait::async_trait]
impl Issues for GithubForge {
    /// Closed as completed.
    fn closing() -> Value {
        json!({ "state": "closed", "state_reason": "completed" })
    }

    /// Each label named by its name in requests.
    async fn repo_labels(gh: &GithubForge, repo: &RepoRef) -> ForgeResult<HashMap<String, Value>> {
        let what = format!("list labels of {}", repo.full_name());
        let labels: Vec<wire::Label> = gh
            .list(repo, &repo_path(repo, "/labels"), &[], &what)
            .await?;
        Ok(labels
            .into_iter()
            .map(|l| (l.name.clone(), Value::from(l.name)))
            .collect())
    }

    async fn list_comments(
        gh: &GithubForge,
        repo: &RepoRef,
        number: i64,
    ) -> ForgeResult<Vec<ForgeComment>> {
        let what = format!("list comments of {}#{number}", repo.full_name());
        let path = repo_path(repo, &format!("/issues/{number}/comments"));
        let comments: Vec<wire::Comment> = gh.list(repo, &path, &[], &what).await?;
        Ok(comments.into_iter().map(|c| c.read(wire::GHOST)).collect())
    }

    /// `GET /repos/{owner}/{repo}/issues/comments`, oldest first: `since` matches the time a
    /// comment was last updated, which is never before it was created.
    async fn recent_comments(
        gh: &GithubForge,
        repo: &RepoRef,
        since: i64,
    ) -> ForgeResult<Vec<RepoComment>> {
        let what = format!("list recent comments of {}", repo.full_name());
        let path = repo_path(repo, "/issues/comments");
        let since = crate::clock::rfc3339(since);
        let params = [
            ("since", since.as_str()),
            ("sort", "created"),
            ("direction", "asc"),
        ];
        let comments: Vec<wire::Comment> = gh.list(repo, &path, &params, &what).await?;
        Ok(comments
            .into_iter()
            .filter_map(|c| c.read_in_repo(wire::GHOST))
            .collect())
    }

    async fn issue(gh: &GithubForge, repo: &RepoRef, number: i64) -> ForgeResult<ForgeIssue> {
        let what = format!("read {}#{number}", repo.full_name());
        let path = repo_path(repo, &format!("/issues/{number}"));
        let issue: wire::Issue = gh
            .repo_call(repo, Call::get(path, &what))
            .await?
            .success_json(&what)?;
        Ok(issue.read(wire::GHOST))
    }

    /// GitHub answers 200 for a reaction that already exists, 201 for a new one.
    async fn add_reaction(
        gh: &GithubForge,
        repo: &RepoRef,
        comment_id: i64,
        reaction: Reaction,
    ) -> ForgeResult<()> {
        let what = format!("react to comment {comment_id} in {}", repo.full_name());
        let path = repo_path(repo, &format!("/issues/comments/{comment_id}/reactions"));
        let body = json!({ "content": reaction.content() });
        gh.repo_call(repo, Call::post(path, Some(body), &what))
            .await?
            .success(&what)
    }
}
