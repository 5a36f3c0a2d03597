//! External checks on Gitea and Forgejo: the commit statuses other systems (Gitea Actions,
//! Woodpecker, Drone) post on a commit, read from the combined status, which holds the newest of
//! each context. Only the fields ade uses are read (the swagger's `CommitStatus`: `context`,
//! `status`, `description`, `target_url`), each text cut to [`ExternalCheck::MAX_TEXT`].

use super::{Call, GiteaForge, PAGING, repo_path, wire};
use crate::forge::http::{collect_pages, encode_segment, more_after, query, truncate_chars};
use crate::forge::{
    ExternalCheck, ExternalLook, ExternalSource, ExternalState, ForgeResult, RepoRef,
};

/// The newest status of each context in `names` on `sha`; Gitea has no check runs, so `known`
/// (check runs whose annotations were read) never applies. A refused read is the look's one
/// unread source.
pub(super) async fn read(
    gitea: &GiteaForge,
    repo: &RepoRef,
    sha: &str,
    names: &[String],
    _known: &[i64],
) -> ExternalLook {
    match statuses(gitea, repo, sha).await {
        Ok(statuses) => {
            let mut seen: Vec<&str> = Vec::new();
            let mut checks = Vec::new();
            for status in &statuses {
                if names.contains(&status.context) && !seen.contains(&status.context.as_str()) {
                    seen.push(&status.context);
                    checks.push(from_status(status));
                }
            }
            ExternalLook {
                checks,
                read: vec![ExternalSource::Status],
                unread: Vec::new(),
            }
        }
        Err(error) => ExternalLook {
            checks: Vec::new(),
            read: Vec::new(),
            unread: vec![(ExternalSource::Status, error)],
        },
    }
}

/// Every status of `sha`, newest of each context first (the combined status).
async fn statuses(gitea: &GiteaForge, repo: &RepoRef, sha: &str) -> ForgeResult<Vec<wire::Status>> {
    let what = format!("read the statuses of {sha} in {}", repo.full_name());
    let path = repo_path(repo, &format!("/commits/{}/status", encode_segment(sha)));
    collect_pages(|page, before| {
        let path = format!(
            "{path}{}",
            query(&[
                (PAGING.size_param, &PAGING.size.to_string()),
                ("page", &page.to_string()),
            ])
        );
        let what = what.clone();
        async move {
            let reply = gitea.call(Call::get(path, &what)).await?;
            let combined: wire::CombinedStatus = reply.success_json(&what)?;
            let statuses = combined.statuses.unwrap_or_default();
            let more = more_after(&reply, statuses.len(), PAGING.size, before);
            Ok((statuses, more))
        }
    })
    .await
}

/// A status's state: `pending` waits; `success` passes, as Gitea's own `IsSuccess` counts it for
/// a required check, and so does `skipped` (nothing ran to fail); `warning`, `failure`, `error`
/// and anything else fails, and the agent is told what it said.
fn state(status: &str) -> ExternalState {
    match status {
        "pending" => ExternalState::Pending,
        "success" | "skipped" => ExternalState::Passed,
        _ => ExternalState::Failed,
    }
}

fn from_status(status: &wire::Status) -> ExternalCheck {
    let state = state(&status.status);
    let cut = |text: &String| truncate_chars(text, ExternalCheck::MAX_TEXT);
    ExternalCheck {
        name: status.context.clone(),
        id: status.id,
        source: ExternalSource::Status,
        state,
        conclusion: (state != ExternalState::Pending).then(|| cut(&status.status)),
        title: None,
        summary: status
            .description
            .as_ref()
            .filter(|d| !d.is_empty())
            .map(cut),
        text: None,
        annotations: Vec::new(),
        link: status
            .target_url
            .as_ref()
            .filter(|u| !u.is_empty())
            .map(cut),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_pass_as_giteas_branch_protection_counts_them() {
        assert_eq!(state("pending"), ExternalState::Pending);
        for passing in ["success", "skipped"] {
            assert_eq!(state(passing), ExternalState::Passed, "{passing}");
        }
        for failing in ["warning", "failure", "error", "unknown"] {
            assert_eq!(state(failing), ExternalState::Failed, "{failing}");
        }
    }

    #[test]
    fn a_status_is_read_by_the_swaggers_field_names() {
        let body = serde_json::json!({
            "state": "failure", "sha": "a", "total_count": 2, "commit_url": "u", "url": "u",
            "repository": null,
            "statuses": [
                {"id": 3, "context": "ci/test", "status": "failure",
                 "description": "3 tests failed", "target_url": "https://ci.example/3",
                 "created_at": "", "updated_at": "", "url": "u", "creator": null},
                {"id": 2, "context": "ci/lint", "status": "pending",
                 "description": "", "target_url": ""}
            ]
        });
        let combined: wire::CombinedStatus = serde_json::from_value(body).unwrap();
        let statuses = combined.statuses.unwrap();
        let failed = from_status(&statuses[0]);
        assert_eq!(failed.state, ExternalState::Failed);
        assert_eq!(failed.conclusion.as_deref(), Some("failure"));
        assert_eq!(failed.summary.as_deref(), Some("3 tests failed"));
        assert_eq!(failed.link.as_deref(), Some("https://ci.example/3"));
        let pending = from_status(&statuses[1]);
        assert_eq!(pending.state, ExternalState::Pending);
        assert_eq!(
            (pending.conclusion, pending.summary, pending.link),
            (None, None, None)
        );
        let empty: wire::CombinedStatus =
            serde_json::from_value(serde_json::json!({"statuses": null})).unwrap();
        assert!(empty.statuses.is_none());
    }

    #[test]
    fn a_state_field_named_as_on_github_is_not_read() {
        let github_shaped = serde_json::json!({"context": "ci/test", "state": "success"});
        assert!(serde_json::from_value::<wire::Status>(github_shaped).is_err());
    }
}
