//! Pull requests, reviews, merges and commit statuses on Gitea. Gitea has no check runs: a check
//! is a commit status whose context is the check's name, so setting it again replaces it.

use super::{Call, GiteaForge, repo_path, wire};
use crate::events::ReviewState;
use crate::forge::http::{collect_pages, encode_segment, more_after, query, truncate_chars};
use crate::forge::{
    Check, CheckRef, CheckState, ForgePullRequest, ForgeResult, ForgeReview, MergeMethod,
    NewPullRequest, PullRequestUpdate, RepoRef,
};
use serde_json::{Map, Value, json};

/// Gitea's default `MAX_RESPONSE_ITEMS`.
const LIMIT: usize = 50;
/// Longest commit status description Gitea shows in full.
const MAX_DESCRIPTION: usize = 140;
/// The title prefix that makes a Gitea pull request a draft ("work in progress").
const DRAFT_PREFIX: &str = "WIP: ";

fn pull_of(pull: wire::PullRequest) -> ForgePullRequest {
    ForgePullRequest {
        number: pull.number,
        url: pull.html_url,
        head_sha: pull.head.sha,
        open: pull.state == "open" && !pull.merged,
        merged: pull.merged,
    }
}

pub(super) async fn create(
    gitea: &GiteaForge,
    repo: &RepoRef,
    pull: &NewPullRequest,
) -> ForgeResult<ForgePullRequest> {
    let what = format!(
        "open a pull request {} → {} in {}",
        pull.head,
        pull.base,
        repo.full_name()
    );
    let title = if pull.draft && !pull.title.starts_with(DRAFT_PREFIX) {
        format!("{DRAFT_PREFIX}{}", pull.title)
    } else {
        pull.title.clone()
    };
    let body = json!({ "title": title, "body": pull.body, "head": pull.head, "base": pull.base });
    let reply = gitea
        .call(Call::post(repo_path(repo, "/pulls"), body, &what))
        .await?;
    Ok(pull_of(reply.success_json(&what)?))
}

pub(super) async fn find(
    gitea: &GiteaForge,
    repo: &RepoRef,
    branch: &str,
) -> ForgeResult<Option<ForgePullRequest>> {
    let what = format!(
        "find the open pull request of {branch} in {}",
        repo.full_name()
    );
    let pulls = collect_pages(|page, before| {
        let path = repo_path(repo, "/pulls")
            + &query(&[
                ("state", "open"),
                ("limit", &LIMIT.to_string()),
                ("page", &page.to_string()),
            ]);
        let what = &what;
        async move {
            let reply = gitea.call(Call::get(path, what)).await?;
            let pulls: Vec<wire::PullRequest> = reply.success_json(what)?;
            let more = more_after(&reply, pulls.len(), LIMIT, before);
            Ok((pulls, more))
        }
    })
    .await?;
    Ok(pulls
        .into_iter()
        .find(|p| p.head.branch == branch)
        .map(pull_of))
}

pub(super) async fn update(
    gitea: &GiteaForge,
    repo: &RepoRef,
    number: i64,
    update: &PullRequestUpdate,
) -> ForgeResult<ForgePullRequest> {
    let what = format!("update pull request {}#{number}", repo.full_name());
    let mut body = Map::new();
    if let Some(title) = &update.title {
        let title = keep_draft(gitea, repo, number, title).await?;
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
    let reply = gitea
        .call(Call::patch(path, Value::Object(body), &what))
        .await?;
    Ok(pull_of(reply.success_json(&what)?))
}

/// Gitea keeps a pull request's draft state in its title (`WIP:` or `[WIP]` by default), so a
/// new title alone would mark a draft ready for review; a draft keeps its prefix, since an
/// update changes only what it names.
async fn keep_draft(
    gitea: &GiteaForge,
    repo: &RepoRef,
    number: i64,
    title: &str,
) -> ForgeResult<String> {
    if is_draft_title(title) {
        return Ok(title.to_string());
    }
    let what = format!("read pull request {}#{number}", repo.full_name());
    let path = repo_path(repo, &format!("/pulls/{number}"));
    let current: wire::PullRequest = gitea
        .call(Call::get(path, &what))
        .await?
        .success_json(&what)?;
    Ok(if current.draft || is_draft_title(&current.title) {
        format!("{DRAFT_PREFIX}{title}")
    } else {
        title.to_string()
    })
}

/// Whether a title carries one of Gitea's default work-in-progress prefixes.
fn is_draft_title(title: &str) -> bool {
    let lower = title.to_lowercase();
    lower.starts_with("wip:") || lower.starts_with("[wip]")
}

pub(super) async fn list_reviews(
    gitea: &GiteaForge,
    repo: &RepoRef,
    number: i64,
) -> ForgeResult<Vec<ForgeReview>> {
    let what = format!("list reviews of {}#{number}", repo.full_name());
    collect_pages(|page, before| {
        let path = repo_path(repo, &format!("/pulls/{number}/reviews"))
            + &query(&[("page", &page.to_string()), ("limit", &LIMIT.to_string())]);
        let what = &what;
        async move {
            let reply = gitea.call(Call::get(path, what)).await?;
            let reviews: Option<Vec<wire::Review>> = reply.success_json(what)?;
            let reviews = reviews.unwrap_or_default();
            let more = more_after(&reply, reviews.len(), LIMIT, before);
            let reviews = reviews
                .into_iter()
                .filter_map(|r| {
                    Some(ForgeReview {
                        id: r.id,
                        state: review_state(&r.state, r.dismissed)?,
                        author: wire::login(r.user),
                        commit_sha: r.commit_id.filter(|s| !s.is_empty()),
                    })
                })
                .collect();
            Ok((reviews, more))
        }
    })
    .await
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

/// `Do` is the name Forgejo and Gitea up to 1.25 declare; Gitea 1.26 declares `do`. Both servers
/// read JSON names case-insensitively (Go's decoder), so one spelling serves every version.
pub(super) async fn merge(
    gitea: &GiteaForge,
    repo: &RepoRef,
    number: i64,
    head_sha: &str,
    method: MergeMethod,
) -> ForgeResult<()> {
    let what = format!("merge {}#{number} at {head_sha}", repo.full_name());
    let style = match method {
        MergeMethod::Merge => "merge",
        MergeMethod::Squash => "squash",
        MergeMethod::Rebase => "rebase",
    };
    let body = json!({ "Do": style, "head_commit_id": head_sha });
    let path = repo_path(repo, &format!("/pulls/{number}/merge"));
    gitea
        .call(Call::post(path, body, &what))
        .await?
        .success(&what)
}

pub(super) async fn set_status(
    gitea: &GiteaForge,
    repo: &RepoRef,
    check: &Check,
) -> ForgeResult<CheckRef> {
    let what = format!(
        "set status {} on {} in {}",
        check.name,
        check.head_sha,
        repo.full_name()
    );
    let state = match check.state {
        CheckState::Queued | CheckState::InProgress => "pending",
        CheckState::Success | CheckState::Neutral => "success",
        CheckState::Failure => "failure",
        CheckState::Cancelled => "warning",
        CheckState::Error => "error",
    };
    let mut body = Map::new();
    body.insert("context".into(), Value::from(check.name.as_str()));
    body.insert("state".into(), Value::from(state));
    body.insert(
        "description".into(),
        Value::from(truncate_chars(&check.title, MAX_DESCRIPTION)),
    );
    if let Some(url) = &check.details_url {
        body.insert("target_url".into(), Value::from(url.as_str()));
    }
    let path = repo_path(
        repo,
        &format!("/statuses/{}", encode_segment(&check.head_sha)),
    );
    let status: wire::CommitStatus = gitea
        .call(Call::post(path, Value::Object(body), &what))
        .await?
        .success_json(&what)?;
    Ok(CheckRef { id: status.id })
}

#[cfg(test)]
mod tests {
    use super::is_draft_title;

    #[test]
    fn draft_titles_are_giteas_default_prefixes() {
        assert!(is_draft_title("WIP: Notes"));
        assert!(is_draft_title("wip:notes"));
        assert!(is_draft_title("[WIP] Notes"));
        assert!(is_draft_title("[wip]Notes"));
        assert!(!is_draft_title("Notes about WIP: later"));
        assert!(!is_draft_title("Wipe the cache"));
    }
}
