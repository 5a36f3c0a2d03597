//! Review comments on GitHub: `GET /repos/{owner}/{repo}/pulls/{pull_number}/comments` lists
//! every line comment of a pull request's reviews, in GitHub's `pull-request-review-comment`
//! shape.

use super::super::http::{ApiResult, Ctx};
use super::super::state::{Repo, ReviewComment};
use super::super::time::rfc3339;
use super::json::{author_association, links, node_id, user_named};
use axum::extract::Path;
use axum::http::StatusCode;
use serde_json::{Value, json};

/// One comment as GitHub shows it.
fn comment(ctx: &Ctx, repo: &Repo, comment: &ReviewComment) -> Value {
    let base = &ctx.sim.base_url;
    let full = repo.full_name();
    let api = format!("{base}/repos/{full}/pulls/comments/{}", comment.id);
    let html = format!(
        "{base}/{full}/pull/{}#discussion_r{}",
        comment.number, comment.id
    );
    let pull_api = format!("{base}/repos/{full}/pulls/{}", comment.number);
    json!({
        "url": api,
        "pull_request_review_id": comment.review_id,
        "id": comment.id,
        "node_id": node_id("PullRequestReviewComment", comment.id),
        "diff_hunk": comment.diff_hunk,
        "path": comment.path,
        "commit_id": comment.commit_id,
        "original_commit_id": comment.commit_id,
        "user": user_named(&ctx.sim, &comment.author),
        "body": comment.body,
        "created_at": rfc3339(comment.created_at),
        "updated_at": rfc3339(comment.created_at),
        "html_url": html,
        "pull_request_url": pull_api,
        "author_association": author_association(repo, &comment.author),
        "_links": links(&[("self", &api), ("html", &html), ("pull_request", &pull_api)]),
        "start_line": Value::Null,
        "original_start_line": Value::Null,
        "start_side": Value::Null,
        "line": comment.line,
        "original_line": comment.line,
        "side": "RIGHT",
        "subject_type": "line",
    })
}

/// Whether `since` is a time as GitHub writes them, which then compares as text.
fn is_timestamp(since: &str) -> bool {
    since.len() == 20
        && since.ends_with('Z')
        && since.bytes().enumerate().all(|(i, b)| match i {
            4 | 7 => b == b'-',
            10 => b == b'T',
            13 | 16 => b == b':',
            19 => b == b'Z',
            _ => b.is_ascii_digit(),
        })
}

/// `GET /repos/{owner}/{repo}/pulls/{pull_number}/comments?sort=&direction=&since=`: oldest
/// first unless `direction=desc`, paged.
pub async fn list(ctx: Ctx, Path((owner, name, number)): Path<(String, String, i64)>) -> ApiResult {
    let repo = ctx.readable(&owner, &name)?;
    if !repo.pulls.contains_key(&number) {
        return Err(ctx.not_found());
    }
    let invalid =
        |what: &str| ctx.error(StatusCode::UNPROCESSABLE_ENTITY, format!("Invalid {what}"));
    if !matches!(
        ctx.param("sort").as_deref(),
        None | Some("created" | "updated")
    ) {
        return Err(invalid("sort"));
    }
    let descending = match ctx.param("direction").as_deref() {
        None | Some("asc") => false,
        Some("desc") => true,
        Some(_) => return Err(invalid("direction")),
    };
    let since = ctx.param("since");
    if since.as_deref().is_some_and(|s| !is_timestamp(s)) {
        return Err(invalid("since"));
    }
    let mut items: Vec<Value> = repo
        .review_comments
        .iter()
        .filter(|c| c.number == number)
        .filter(|c| {
            since
                .as_deref()
                .is_none_or(|s| rfc3339(c.created_at).as_str() >= s)
        })
        .map(|c| comment(&ctx, &repo, c))
        .collect();
    if descending {
        items.reverse();
    }
    Ok(ctx.paged(30, items))
}

#[cfg(test)]
mod tests {
    use super::is_timestamp;

    #[test]
    fn since_is_a_github_time() {
        assert!(is_timestamp("2024-01-02T03:04:05Z"));
        assert!(!is_timestamp("2024-01-02"));
        assert!(!is_timestamp("2024-01-02T03:04:05+00:00"));
    }
}
