//! Reviews of pull requests on GitHub: their verdicts and text, and the line comments left in
//! them, which a retry hands to the agent as feedback.

use super::{GithubForge, repo_path, wire};
use crate::forge::ReviewState;
use crate::forge::rest::Reviews;
use crate::forge::{ForgeResult, ForgeReview, ForgeReviewComment, RepoRef};

#[async_trait::async_trait]
impl Reviews for GithubForge {
    async fn list_reviews(
        gh: &GithubForge,
        repo: &RepoRef,
        number: i64,
    ) -> ForgeResult<Vec<ForgeReview>> {
        let what = format!("list reviews of {}#{number}", repo.full_name());
        let path = repo_path(repo, &format!("/pulls/{number}/reviews"));
        let reviews: Vec<wire::Review> = gh.list(repo, &path, &[], &what).await?;
        Ok(reviews
            .into_iter()
            .filter_map(|r| {
                Some(ForgeReview {
                    id: r.id,
                    state: review_state(&r.state)?,
                    author: wire::login(r.user),
                    commit_sha: r.commit_id,
                    body: r.body.unwrap_or_default(),
                })
            })
            .collect())
    }

    /// Every review comment of the pull request in one paged list (GitHub lists them per pull
    /// request, not per review), oldest first.
    async fn list_review_comments(
        gh: &GithubForge,
        repo: &RepoRef,
        number: i64,
    ) -> ForgeResult<Vec<ForgeReviewComment>> {
        let what = format!("list review comments of {}#{number}", repo.full_name());
        let path = repo_path(repo, &format!("/pulls/{number}/comments"));
        let oldest_first = [("sort", "created"), ("direction", "asc")];
        let comments: Vec<wire::ReviewComment> = gh.list(repo, &path, &oldest_first, &what).await?;
        Ok(comments
            .into_iter()
            .map(|c| ForgeReviewComment {
                line: c
                    .line
                    .or(c.original_line)
                    .and_then(|l| u32::try_from(l).ok())
                    .filter(|l| *l > 0),
                ..c.comment.read(wire::GHOST)
            })
            .collect())
    }
}

/// A submitted review's state; `None` for a pending (unsubmitted) one, which counts for nothing.
fn review_state(state: &str) -> Option<ReviewState> {
    match state {
        "APPROVED" => Some(ReviewState::Approved),
        "CHANGES_REQUESTED" => Some(ReviewState::ChangesRequested),
        "COMMENTED" => Some(ReviewState::Commented),
        "DISMISSED" => Some(ReviewState::Dismissed),
        _ => None,
    }
}
