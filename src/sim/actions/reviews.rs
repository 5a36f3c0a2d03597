//! Reviews: a verdict on a pull request's current head, with its text and, optionally, comments
//! on lines its diff shows.

use super::{ActionError, ActionResult, HookEvent, emit, no_repo, require_user, split};
use crate::forge::ReviewState;
use crate::sim::core::Sim;
use crate::sim::diff_hunk;
use crate::sim::state::{Review, ReviewComment};

/// A comment on a line of a file in a review: path, line of the head's version, text.
pub type LineComment<'a> = (&'a str, u32, &'a str);

/// Submits a review on a pull request's current head; returns its id.
pub async fn review(
    sim: &Sim,
    repo: &str,
    number: i64,
    author: &str,
    state: ReviewState,
    body: &str,
) -> ActionResult<i64> {
    review_with_comments(sim, repo, number, author, (state, body), &[]).await
}

/// Submits a review with line comments, each on a line the pull request's diff shows (both
/// forges refuse others); returns the review's id.
pub async fn review_with_comments(
    sim: &Sim,
    repo: &str,
    number: i64,
    author: &str,
    (state, body): (ReviewState, &str),
    comments: &[LineComment<'_>],
) -> ActionResult<i64> {
    require_user(sim, author)?;
    let (owner, name) = split(repo);
    let snapshot = sim.repo(owner, name).ok_or_else(|| no_repo(repo))?;
    let pull = snapshot
        .pulls
        .get(&number)
        .ok_or_else(|| ActionError::NotFound(format!("pull request #{number} not found")))?;
    let author_of_pull = snapshot.issues.get(&number).map(|i| i.author.clone());
    if state != ReviewState::Commented && author_of_pull.as_deref() == Some(author) {
        return Err(ActionError::Invalid(match state {
            ReviewState::Approved => "Can not approve your own pull request".into(),
            _ => "Can not request changes on your own pull request".into(),
        }));
    }
    let git = sim.pull_git(&snapshot, pull).await;
    let mut hunks = Vec::with_capacity(comments.len());
    for (path, line, _) in comments {
        let hunk = diff_hunk::hunk(
            &sim.git,
            (owner, name),
            (&git.base_sha, &git.head_sha),
            path,
            *line,
        )
        .await?
        .ok_or_else(|| {
            ActionError::Invalid(format!(
                "pull_request_review_thread.line {line} of {path} must be part of the diff"
            ))
        })?;
        hunks.push(hunk);
    }
    let id = {
        let mut st = sim.state();
        let id = st.next_id();
        let comment_ids: Vec<i64> = comments.iter().map(|_| st.next_id()).collect();
        let now = sim.clock.now_ms();
        let r = st.repo_mut(owner, name).ok_or_else(|| no_repo(repo))?;
        r.reviews.push(Review {
            id,
            number,
            author: author.to_owned(),
            state,
            body: body.to_owned(),
            commit_id: git.head_sha.clone(),
            submitted_at: now,
        });
        for ((comment_id, (path, line, text)), hunk) in
            comment_ids.into_iter().zip(comments).zip(hunks)
        {
            r.review_comments.push(ReviewComment {
                id: comment_id,
                review_id: id,
                number,
                author: author.to_owned(),
                body: (*text).to_owned(),
                path: (*path).to_owned(),
                line: *line,
                diff_hunk: hunk,
                commit_id: git.head_sha.clone(),
                created_at: now,
            });
        }
        id
    };
    emit(
        sim,
        HookEvent::Review {
            repo: repo.to_owned(),
            review_id: id,
            sender: author.to_owned(),
        },
    )
    .await;
    Ok(id)
}
