//! Reviews of pull requests on Gitea: their verdicts and text, and the line comments left in
//! them. Gitea lists comments per review, so only reviews that have some are asked for theirs.

use super::{Call, GiteaForge, repo_path, wire};
use crate::forge::ReviewState;
use crate::forge::rest::Reviews;
use crate::forge::{ForgeResult, ForgeReview, ForgeReviewComment, RepoRef};

/// Every review as Gitea lists it, oldest first (pending ones and review requests included).
async fn all_reviews(
    gitea: &GiteaForge,
    repo: &RepoRef,
    number: i64,
) -> ForgeResult<Vec<wire::Review>> {
    let what = format!("list reviews of {}#{number}", repo.full_name());
    let path = repo_path(repo, &format!("/pulls/{number}/reviews"));
    gitea.list(&path, &[], &what).await
}

#[async_trait::async_trait]
impl Reviews for GiteaForge {
    async fn list_reviews(
        gitea: &GiteaForge,
        repo: &RepoRef,
        number: i64,
    ) -> ForgeResult<Vec<ForgeReview>> {
        Ok(all_reviews(gitea, repo, number)
            .await?
            .into_iter()
            .filter_map(
                |wire::Review {
                     review, dismissed, ..
                 }| {
                    Some(ForgeReview {
                        id: review.id,
                        submitted_at: review.submitted_at(),
                        state: review_state(&review.state, dismissed)?,
                        author: wire::login(review.user),
                        commit_sha: review.commit_id.filter(|s| !s.is_empty()),
                        body: review.body.unwrap_or_default(),
                    })
                },
            )
            .collect())
    }

    /// The comments of every submitted review that has any, review by review, oldest first.
    async fn list_review_comments(
        gitea: &GiteaForge,
        repo: &RepoRef,
        number: i64,
    ) -> ForgeResult<Vec<ForgeReviewComment>> {
        let reviews = all_reviews(gitea, repo, number).await?;
        let mut out = Vec::new();
        for wire::Review {
            review,
            dismissed,
            comments_count,
        } in reviews
        {
            let submitted = review_state(&review.state, dismissed).is_some();
            if !submitted || comments_count == Some(0) {
                continue;
            }
            let what = format!(
                "list the comments of review {} on {}#{number}",
                review.id,
                repo.full_name()
            );
            let path = repo_path(
                repo,
                &format!("/pulls/{number}/reviews/{}/comments", review.id),
            );
            let reply = gitea.call(Call::get(path, &what)).await?;
            let comments: Option<Vec<wire::ReviewComment>> = reply.success_json(&what)?;
            out.extend(comments.unwrap_or_default().into_iter().map(|c| {
                let (line, earlier) = c.line();
                let read = c.comment.read(wire::GHOST);
                ForgeReviewComment {
                    line,
                    earlier,
                    review_id: read.review_id.or(Some(review.id)),
                    ..read
                }
            }));
        }
        Ok(out)
    }
}

/// A submitted review's state; `None` for pending reviews and review requests.
fn review_state(state: &str, dismissed: bool) -> Option<ReviewState> {
    let state = match state {
        "APPROVED" => ReviewState::Approved,
        "REQUEST_CHANGES" => ReviewState::ChangesRequested,
        "COMMENT" => ReviewState::Commented,
        _ => return None,
    };
    Some(if dismissed {
        ReviewState::Dismissed
    } else {
        state
    })
}

#[cfg(test)]
mod tests {
    use super::wire;

    fn line_of(position: i64, original_position: i64) -> (Option<u32>, bool) {
        serde_json::from_value::<wire::ReviewComment>(serde_json::json!({
            "id": 1,
            "user": { "login": "max" },
            "body": "x",
            "position": position,
            "original_position": original_position,
        }))
        .unwrap()
        .line()
    }

    #[test]
    fn a_comment_on_the_old_side_numbers_the_old_version() {
        assert_eq!(line_of(4, 0), (Some(4), false), "the new version's line");
        assert_eq!(
            line_of(0, 7),
            (Some(7), true),
            "`original_position` is the old version's line (swagger: OldLineNum)"
        );
        assert_eq!(line_of(0, 0), (None, false));
    }
}
