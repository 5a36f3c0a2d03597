//! Pull requests on GitHub: ade's approvals are opened, read, edited, closed and merged here.

use super::{Call, GithubForge, drafts, repo_path, wire};
use crate::forge::http::{Reply, query};
use crate::forge::rest::Pulls;
use crate::forge::{
    ForgePullRequest, ForgeResult, MergeMethod, MergeRefusal, NewPullRequest, RepoRef,
};
use http::Method;
use serde_json::{Value, json};

#[async_trait::async_trait]
impl Pulls for GithubForge {
    type Pull = wire::PullRequest;

    fn read_pull(pull: wire::PullRequest) -> ForgePullRequest {
        let wire::PullRequest {
            pull,
            node_id,
            merged_at,
        } = pull;
        ForgePullRequest {
            number: pull.number,
            url: pull.html_url,
            title: pull.title.unwrap_or_default(),
            head_sha: pull.head.sha,
            head_branch: pull.head.branch,
            base_branch: pull.base.map(|b| b.branch).unwrap_or_default(),
            open: pull.state == "open",
            merged: pull.merged.unwrap_or(false) || merged_at.is_some(),
            draft: pull.draft.unwrap_or(false),
            node_id: node_id.filter(|id| !id.is_empty()),
        }
    }

    fn new_pull(pull: &NewPullRequest) -> Value {
        json!({
            "title": pull.title,
            "body": pull.body,
            "head": pull.head,
            "base": pull.base,
            "draft": pull.draft,
        })
    }

    async fn title_to_store(
        _gh: &GithubForge,
        _repo: &RepoRef,
        _number: i64,
        title: &str,
    ) -> ForgeResult<String> {
        Ok(title.to_string())
    }

    /// One page filtered by head (`owner:branch`): at most one pull request is open per head.
    async fn open_pulls(
        gh: &GithubForge,
        repo: &RepoRef,
        branch: &str,
        what: &str,
    ) -> ForgeResult<Vec<wire::PullRequest>> {
        let head = format!("{}:{branch}", repo.owner);
        let path = repo_path(repo, "/pulls")
            + &query(&[("state", "open"), ("head", &head), ("per_page", "10")]);
        gh.repo_call(repo, Call::get(path, what))
            .await?
            .success_json(what)
    }

    async fn set_draft(
        gh: &GithubForge,
        repo: &RepoRef,
        pull: &ForgePullRequest,
        draft: bool,
    ) -> ForgeResult<()> {
        drafts::set_draft(gh, repo, pull, draft).await
    }

    fn merge_request(head_sha: &str, method: MergeMethod) -> (Method, Value) {
        let body = json!({ "sha": head_sha, "merge_method": method.as_str() });
        (Method::PUT, body)
    }

    /// 409 when the head is not the `sha` sent ("Head branch was modified") or when another
    /// merge moved the base meanwhile ("Base branch was modified"); 405 for everything else, told
    /// apart by its message (conflicts, drafts and closed pull requests against branch
    /// protection and rules).
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::{HeaderMap, StatusCode};

    fn refusal(status: u16, message: &str) -> Option<MergeRefusal> {
        GithubForge::merge_refusal(&Reply {
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
