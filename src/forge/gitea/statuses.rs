//! Checks on Gitea. Gitea has no check runs: a check is a commit status whose context is the
//! check's name, so setting it again replaces it, and its one-line description is all the text
//! it shows (with a link to ade's run page).

use super::{Call, GiteaForge, repo_path, wire};
use crate::forge::http::{encode_segment, truncate_chars};
use crate::forge::rest::Checks;
use crate::forge::{Check, CheckRef, CheckState, CheckTarget, ExternalLook, ForgeResult, RepoRef};
use serde_json::{Map, Value};

/// Longest commit status description Gitea shows in full.
const MAX_DESCRIPTION: usize = 140;

/// The status state for a check state. Neutral passes (Gitea counts only `success` and
/// `warning` for a required check); a cancelled check is a `warning` whose description says so.
fn state(state: CheckState) -> &'static str {
    match state {
        CheckState::Queued | CheckState::InProgress => "pending",
        CheckState::Success | CheckState::Neutral => "success",
        CheckState::Failure => "failure",
        CheckState::Error => "error",
        CheckState::Cancelled => "warning",
    }
}

#[async_trait::async_trait]
impl Checks for GiteaForge {
    /// The status named after the check replaces the last one, so `target` does not matter.
    async fn set_check(
        gitea: &GiteaForge,
        repo: &RepoRef,
        check: &Check,
        _target: CheckTarget,
    ) -> ForgeResult<CheckRef> {
        let what = format!(
            "set status {} on {} in {}",
            check.name,
            check.head_sha,
            repo.full_name()
        );
        let mut body = Map::new();
        body.insert("context".into(), Value::from(check.name.as_str()));
        body.insert("state".into(), Value::from(state(check.state)));
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

    async fn external_checks(
        gitea: &GiteaForge,
        repo: &RepoRef,
        sha: &str,
        names: &[String],
        known: &[i64],
    ) -> ExternalLook {
        super::external::read(gitea, repo, sha, names, known).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_check_state_has_its_status() {
        assert_eq!(state(CheckState::Queued), "pending");
        assert_eq!(state(CheckState::InProgress), "pending");
        assert_eq!(state(CheckState::Success), "success");
        assert_eq!(state(CheckState::Neutral), "success");
        assert_eq!(state(CheckState::Failure), "failure");
        assert_eq!(state(CheckState::Error), "error");
        assert_eq!(state(CheckState::Cancelled), "warning");
    }
}
