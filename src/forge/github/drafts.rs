//! A pull request's draft state on GitHub. The REST API opens a pull request as a draft but
//! cannot change that later; GraphQL can, with `markPullRequestReadyForReview` and
//! `convertPullRequestToDraft`, which take the pull request's global id (its REST `node_id`).
//! They are sent with the installation token to the GraphQL endpoint beside `api_url`.

use super::{Call, GithubForge, wire};
use crate::forge::rest;
use crate::forge::{ForgeError, ForgePullRequest, ForgeResult, RepoRef};
use serde_json::json;

/// Marks a draft ready for review.
const READY: &str = "mutation($id: ID!) { markPullRequestReadyForReview(input: {pullRequestId: $id}) { pullRequest { isDraft number } } }";
/// Turns a pull request back into a draft.
const DRAFT: &str = "mutation($id: ID!) { convertPullRequestToDraft(input: {pullRequestId: $id}) { pullRequest { isDraft number } } }";

/// Sends the mutation that makes `pull` a draft or ready for review, with its global id (read
/// again when `pull` lacks it).
pub(super) async fn set_draft(
    gh: &GithubForge,
    repo: &RepoRef,
    pull: &ForgePullRequest,
    draft: bool,
) -> ForgeResult<()> {
    let node_id = match &pull.node_id {
        Some(id) => id.clone(),
        None => {
            let fresh = rest::read_pull(gh, repo, pull.number).await?;
            if fresh.draft == draft {
                return Ok(());
            }
            fresh.node_id.ok_or_else(|| {
                ForgeError::Malformed(format!(
                    "pull request {}#{} has no node_id",
                    repo.full_name(),
                    pull.number
                ))
            })?
        }
    };
    let (mutation, query) = if draft {
        ("convertPullRequestToDraft", DRAFT)
    } else {
        ("markPullRequestReadyForReview", READY)
    };
    let what = format!("{mutation} {}#{}", repo.full_name(), pull.number);
    let body = json!({ "query": query, "variables": { "id": node_id } });
    let answer: wire::GraphqlAnswer = gh
        .repo_call(repo, Call::graphql(body, &what))
        .await?
        .success_json(&what)?;
    if !answer.errors.is_empty() {
        return Err(refusal(&what, &answer.errors));
    }
    let is_draft = answer
        .data
        .as_ref()
        .and_then(|d| d.pointer(&format!("/{mutation}/pullRequest/isDraft")))
        .and_then(serde_json::Value::as_bool)
        .ok_or_else(|| ForgeError::Malformed(format!("{what}: the answer has no isDraft")))?;
    if is_draft != draft {
        return Err(ForgeError::Malformed(format!(
            "{what}: GitHub answered isDraft = {is_draft}"
        )));
    }
    Ok(())
}

/// GraphQL reports failures in `errors` with HTTP 200: a rate limit is waited out like REST's,
/// anything else (an unknown id, a missing permission) is a refusal in GitHub's words.
fn refusal(what: &str, errors: &[wire::GraphqlError]) -> ForgeError {
    if errors
        .iter()
        .any(|e| e.kind.as_deref() == Some("RATE_LIMITED"))
    {
        return ForgeError::RateLimited {
            retry_after_ms: 60_000,
        };
    }
    let messages: Vec<&str> = errors.iter().map(|e| e.message.as_str()).collect();
    ForgeError::Rejected(crate::forge::http::truncate_chars(
        &format!("{what}: {}", messages.join("; ")),
        500,
    ))
}
