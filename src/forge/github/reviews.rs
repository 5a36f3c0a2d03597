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
                    submitted_at: r.submitted_at(),
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
            .map(|c| {
                let (line, earlier) = c.line();
                ForgeReviewComment {
                    line,
                    earlier,
                    ..c.comment.read(wire::GHOST)
                }
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

#[cfg(test)]
mod tests {
    use super::wire;

    fn line_of(json: serde_json::Value) -> (Option<u32>, bool) {
        serde_json::from_value::<wire::ReviewComment>(json)
            .unwrap()
            .line()
    }

    #[test]
    fn a_comment_says_which_version_its_line_numbers() {
        let base = |extra: serde_json::Value| {
            let mut c = serde_json::json!({ "id": 1, "user": { "login": "max" }, "body": "x" });
            c.as_object_mut()
                .unwrap()
                .extend(extra.as_object().unwrap().clone());
            c
        };
        assert_eq!(
            line_of(base(
                serde_json::json!({ "line": 4, "original_line": 2, "side": "RIGHT" })
            )),
            (Some(4), false),
            "the new version's line"
        );
        assert_eq!(
            line_of(base(serde_json::json!({ "line": 4, "side": "LEFT" }))),
            (Some(4), true),
            "the old side of the diff"
        );
        assert_eq!(
            line_of(base(
                serde_json::json!({ "line": null, "original_line": 9 })
            )),
            (Some(9), true),
            "an outdated comment: the line of the commit it was made on"
        );
        assert_eq!(
            line_of(base(serde_json::json!({ "subject_type": "file" }))),
            (None, false)
        );
    }
}
