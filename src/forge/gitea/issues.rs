//! Comments, reactions, labels and closing on Gitea issues and pull requests (pull requests are
//! issues there, numbered in the same sequence).

use super::{Call, GiteaForge, repo_path, wire};
use crate::forge::rest::Issues;
use crate::forge::{ForgeComment, ForgeIssue, ForgeResult, Reaction, RepoComment, RepoRef};
use serde_json::{Value, json};
use std::collections::HashMap;

#[async_trait::async_trait]
impl Issues for GiteaForge {
    fn closing() -> Value {
        json!({ "state": "closed" })
    }

    /// Each label named by its id in requests (what every Gitea and Forgejo version accepts).
    async fn repo_labels(
        gitea: &GiteaForge,
        repo: &RepoRef,
    ) -> ForgeResult<HashMap<String, Value>> {
        let what = format!("list labels of {}", repo.full_name());
        let labels: Vec<wire::Label> = gitea.list(&repo_path(repo, "/labels"), &[], &what).await?;
        Ok(labels
            .into_iter()
            .map(|l| (l.name, Value::from(l.id)))
            .collect())
    }

    /// Gitea answers this one unpaged: every comment of the issue in one list.
    async fn list_comments(
        gitea: &GiteaForge,
        repo: &RepoRef,
        number: i64,
    ) -> ForgeResult<Vec<ForgeComment>> {
        let what = format!("list comments of {}#{number}", repo.full_name());
        let path = repo_path(repo, &format!("/issues/{number}/comments"));
        let reply = gitea.call(Call::get(path, &what)).await?;
        let comments: Option<Vec<wire::Comment>> = reply.success_json(&what)?;
        Ok(comments
            .unwrap_or_default()
            .into_iter()
            .map(|c| c.read(wire::GHOST))
            .collect())
    }

    /// `GET /repos/{owner}/{repo}/issues/comments`, paged; `since` matches the time a comment
    /// was last updated, which is never before it was created.
    async fn recent_comments(
        gitea: &GiteaForge,
        repo: &RepoRef,
        since: i64,
    ) -> ForgeResult<Vec<RepoComment>> {
        let what = format!("list recent comments of {}", repo.full_name());
        let path = repo_path(repo, "/issues/comments");
        let since = crate::clock::rfc3339(since);
        let comments: Vec<wire::Comment> = gitea
            .list(&path, &[("since", since.as_str())], &what)
            .await?;
        let mut comments: Vec<RepoComment> = comments
            .into_iter()
            .filter_map(|c| c.read_in_repo(wire::GHOST))
            .collect();
        comments.sort_by_key(|c| (c.comment.created_at, c.comment.id));
        Ok(comments)
    }

    async fn issue(gitea: &GiteaForge, repo: &RepoRef, number: i64) -> ForgeResult<ForgeIssue> {
        let what = format!("read {}#{number}", repo.full_name());
        let path = repo_path(repo, &format!("/issues/{number}"));
        let issue: wire::Issue = gitea
            .call(Call::get(path, &what))
            .await?
            .success_json(&what)?;
        Ok(issue.read(wire::GHOST))
    }

    /// Looks first: Gitea answers a repeated reaction with 200 on some versions, but others fail
    /// with an error while building that answer, so a reaction already there is not posted again.
    async fn add_reaction(
        gitea: &GiteaForge,
        repo: &RepoRef,
        comment_id: i64,
        reaction: Reaction,
    ) -> ForgeResult<()> {
        let content = reaction.content();
        let what = format!("react to comment {comment_id} in {}", repo.full_name());
        let path = repo_path(repo, &format!("/issues/comments/{comment_id}/reactions"));
        let bot = gitea.bot_login_cached().await?;
        let reply = gitea.call(Call::get(path.clone(), &what)).await?;
        let existing: Option<Vec<wire::Reaction>> = reply.success_json(&what)?;
        let already = existing.unwrap_or_default().into_iter().any(|r| {
            r.content == content && r.user.is_some_and(|u| u.login.eq_ignore_ascii_case(&bot))
        });
        if already {
            return Ok(());
        }
        let reply = gitea
            .call(Call::post(path, json!({ "content": content }), &what))
            .await?;
        match reply.status.as_u16() {
            200 | 201 => Ok(()),
            // Another worker's reaction landed between the look and the post.
            400 | 409 | 422 => Ok(()),
            _ => Err(reply.error(&what)),
        }
    }
}
