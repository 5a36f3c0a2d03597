//! Pull requests on GitHub: ade's approvals are opened, read, edited, closed and merged here.

use super::{Call, GithubForge, repo_path, wire};
use crate::forge::http::{Reply, query};
use crate::forge::rest;
use crate::forge::{
    ForgePullRequest, ForgeResult, MergeMethod, MergeRefusal, NewPullRequest, PullRequestUpdate,
    RepoRef,
};
use serde_json::json;

impl From<wire::PullRequest> for ForgePullRequest {
    fn from(pull: wire::PullRequest) -> ForgePullRequest {
        ForgePullRequest {
            number: pull.number,
            url: pull.html_url,
            title: pull.title.unwrap_or_default(),
            head_sha: pull.head.sha,
            head_branch: pull.head.branch,
            base_branch: pull.base.map(|b| b.branch).unwrap_or_default(),
            open: pull.state == "open",
            merged: pull.merged.unwrap_or(false) || pull.merged_at.is_some(),
            draft: pull.draft.unwrap_or(false),
            node_id: pull.node_id.filter(|id| !id.is_empty()),
        }
    }
}

pub(super) async fn create(
    gh: &GithubForge,
    repo: &RepoRef,
    pull: &NewPullRequest,
) -> ForgeResult<ForgePullRequest> {
    let body = json!({
        "title": pull.title,
        "body": pull.body,
        "head": pull.head,
        "base": pull.base,
        "draft": pull.draft,
    });
    rest::open_pull::<wire::PullRequest>(gh, repo, pull, body).await
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
        .map(ForgePullRequest::from))
}

pub(super) async fn update(
    gh: &GithubForge,
    repo: &RepoRef,
    number: i64,
    update: &PullRequestUpdate,
) -> ForgeResult<ForgePullRequest> {
    let title = update.title.clone();
    rest::update_pull::<wire::PullRequest>(gh, repo, number, title, update).await
}

pub(super) async fn merge(
    gh: &GithubForge,
    repo: &RepoRef,
    number: i64,
    head_sha: &str,
    method: MergeMethod,
) -> ForgeResult<()> {
    let what = format!("merge {}#{number} at {head_sha}", repo.full_name());
    let body = json!({ "sha": head_sha, "merge_method": method.as_str() });
    let path = repo_path(repo, &format!("/pulls/{number}/merge"));
    let reply = gh.repo_call(repo, Call::put(path, body, &what)).await?;
    rest::merge_outcome(&reply, &what, merge_refusal(&reply))
}

/// Why GitHub refused a merge, from its answer: 409 when the head is not the `sha` sent ("Head
/// branch was modified") or when another merge moved the base meanwhile ("Base branch was
/// modified"); 405 for everything else, told apart by its message (conflicts, drafts and closed
/// pull requests against branch protection and rules).
fn merge_refusal(reply: &Reply) -> Option<MergeRefusal> {
    match reply.status.as_u16() {
        409 if reply
            .message()
            .to_lowercase()
            .contains("base branch was modified") =>
        {
            Some(MergeRefusal::BaseMoved)
        }
        409 => Some(MergeRefusal::HeadMoved),
        405 => {
            let message = reply.message().to_lowercase();
            let not_mergeable = [
                "not mergeable",
                "conflict",
                "draft",
                "already merged",
                "closed",
            ];
            if message.contains("head branch was modified") {
                Some(MergeRefusal::HeadMoved)
            } else if not_mergeable.iter().any(|m| message.contains(m)) {
                Some(MergeRefusal::NotMergeable)
            } else {
                Some(MergeRefusal::Protected)
            }
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::{HeaderMap, StatusCode};

    fn refusal(status: u16, message: &str) -> Option<MergeRefusal> {
        merge_refusal(&Reply {
            status: StatusCode::from_u16(status).unwrap(),
            headers: HeaderMap::new(),
            body: json!({ "message": message }).to_string().into_bytes(),
        })
    }

    #[test]
    fn merge_refusals_are_told_apart() {
        let moved = "Head branch was modified. Review and try the merge again.";
        assert_eq!(refusal(409, moved), Some(MergeRefusal::HeadMoved));
        assert_eq!(
            refusal(
                409,
                "Base branch was modified. Review and try the merge again."
            ),
            Some(MergeRefusal::BaseMoved)
        );
        assert_eq!(
            refusal(405, "Pull Request is not mergeable"),
            Some(MergeRefusal::NotMergeable)
        );
        assert_eq!(
            refusal(405, "Pull Request is still a draft"),
            Some(MergeRefusal::NotMergeable)
        );
        for protected in [
            "At least 1 approving review is required by reviewers with write access.",
            "Required status check \"ade/verify\" is expected.",
            "Repository rule violations found",
        ] {
            assert_eq!(
                refusal(405, protected),
                Some(MergeRefusal::Protected),
                "{protected}"
            );
        }
        assert_eq!(refusal(422, "Validation Failed"), None);
        assert_eq!(refusal(200, "Pull Request successfully merged"), None);
    }
}
