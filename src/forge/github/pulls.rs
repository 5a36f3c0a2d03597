//! Pull requests on GitHub: ade's approvals are opened, edited, closed, read for reviews, and
//! merged here.

use super::{Call, GithubForge, repo_path, wire};
use crate::events::ReviewState;
use crate::forge::http::{collect_pages, more_after, query};
use crate::forge::{
    ForgePullRequest, ForgeResult, ForgeReview, MergeMethod, NewPullRequest, PullRequestUpdate,
    RepoRef,
};
use serde_json::{Map, Value, json};

/// GitHub's largest page.
const PER_PAGE: usize = 100;

fn pull_of(pull: wire::PullRequest) -> ForgePullRequest {
    ForgePullRequest {
        number: pull.number,
        url: pull.html_url,
        head_sha: pull.head.sha,
        open: pull.state == "open",
        merged: pull.merged.unwrap_or(false) || pull.merged_at.is_some(),
    }
}

pub(super) async fn create(
    gh: &GithubForge,
    repo: &RepoRef,
    pull: &NewPullRequest,
) -> ForgeResult<ForgePullRequest> {
    let what = format!(
        "open a pull request {} → {} in {}",
        pull.head,
        pull.base,
        repo.full_name()
    );
    let body = json!({
        "title": pull.title,
        "body": pull.body,
        "head": pull.head,
        "base": pull.base,
        "draft": pull.draft,
    });
    let reply = gh
        .repo_call(
            repo,
            Call::post(repo_path(repo, "/pulls"), Some(body), &what),
        )
        .await?;
    Ok(pull_of(reply.success_json(&what)?))
}

pub(super) async fn find(
    gh: &GithubForge,
    repo: &RepoRef,
    branch: &str,
) -> ForgeResult<Option<ForgePullRequest>> {
    let what = format!(
        "find the open pull request of {branch} in {}",
        repo.full_name()
    );
    let head = format!("{}:{branch}", repo.owner);
    let path = repo_path(repo, "/pulls")
        + &query(&[("state", "open"), ("head", &head), ("per_page", "10")]);
    let reply = gh.repo_call(repo, Call::get(path, &what)).await?;
    let pulls: Vec<wire::PullRequest> = reply.success_json(&what)?;
    Ok(pulls
        .into_iter()
        .find(|p| p.head.branch == branch)
        .map(pull_of))
}

pub(super) async fn update(
    gh: &GithubForge,
    repo: &RepoRef,
    number: i64,
    update: &PullRequestUpdate,
) -> ForgeResult<ForgePullRequest> {
    let what = format!("update pull request {}#{number}", repo.full_name());
    let mut body = Map::new();
    if let Some(title) = &update.title {
        body.insert("title".into(), Value::from(title.as_str()));
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
    let reply = gh
        .repo_call(repo, Call::patch(path, Value::Object(body), &what))
        .await?;
    Ok(pull_of(reply.success_json(&what)?))
}

pub(super) async fn list_reviews(
    gh: &GithubForge,
    repo: &RepoRef,
    number: i64,
) -> ForgeResult<Vec<ForgeReview>> {
    let what = format!("list reviews of {}#{number}", repo.full_name());
    collect_pages(|page, before| {
        let path = repo_path(repo, &format!("/pulls/{number}/reviews"))
            + &query(&[
                ("per_page", &PER_PAGE.to_string()),
                ("page", &page.to_string()),
            ]);
        let what = &what;
        async move {
            let reply = gh.repo_call(repo, Call::get(path, what)).await?;
            let reviews: Vec<wire::Review> = reply.success_json(what)?;
            let more = more_after(&reply, reviews.len(), PER_PAGE, before);
            let reviews = reviews
                .into_iter()
                .filter_map(|r| {
                    Some(ForgeReview {
                        id: r.id,
                        state: review_state(&r.state)?,
                        author: wire::login(r.user),
                        commit_sha: r.commit_id,
                    })
                })
                .collect();
            Ok((reviews, more))
        }
    })
    .await
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

pub(super) async fn merge(
    gh: &GithubForge,
    repo: &RepoRef,
    number: i64,
    head_sha: &str,
    method: MergeMethod,
) -> ForgeResult<()> {
    let what = format!("merge {}#{number} at {head_sha}", repo.full_name());
    let merge_method = match method {
        MergeMethod::Merge => "merge",
        MergeMethod::Squash => "squash",
        MergeMethod::Rebase => "rebase",
    };
    let body = json!({ "sha": head_sha, "merge_method": merge_method });
    let path = repo_path(repo, &format!("/pulls/{number}/merge"));
    gh.repo_call(repo, Call::put(path, body, &what))
        .await?
        .success(&what)
}
