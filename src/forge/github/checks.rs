//! Check runs on GitHub: `ade/verify` and `ade/policy` are created once per commit and updated in
//! place, so a retried job or a re-run moves the same check instead of adding another.

use super::{Call, GithubForge, repo_path, wire};
use crate::forge::http::{encode_segment, query, truncate_chars};
use crate::forge::{Check, CheckRef, CheckState, ForgeResult, RepoRef};
use serde_json::{Map, Value, json};

/// GitHub refuses a check run summary longer than this.
const MAX_SUMMARY: usize = 65_535;

pub(super) async fn set_check(
    gh: &GithubForge,
    repo: &RepoRef,
    check: &Check,
) -> ForgeResult<CheckRef> {
    let existing = find(gh, repo, check).await?;
    let what = format!(
        "set check {} on {} in {}",
        check.name,
        check.head_sha,
        repo.full_name()
    );
    let mut body = fields(check);
    let call = match existing {
        Some(id) => {
            let path = repo_path(repo, &format!("/check-runs/{id}"));
            Call::patch(path, Value::Object(body), &what)
        }
        None => {
            body.insert("head_sha".into(), Value::from(check.head_sha.as_str()));
            Call::post(
                repo_path(repo, "/check-runs"),
                Some(Value::Object(body)),
                &what,
            )
        }
    };
    let run: wire::CheckRun = gh.repo_call(repo, call).await?.success_json(&what)?;
    Ok(CheckRef { id: run.id })
}

/// The body fields common to creating and updating a check run.
fn fields(check: &Check) -> Map<String, Value> {
    let mut body = Map::new();
    body.insert("name".into(), Value::from(check.name.as_str()));
    let (status, conclusion) = match check.state {
        CheckState::Queued => ("queued", None),
        CheckState::InProgress => ("in_progress", None),
        CheckState::Success => ("completed", Some("success")),
        CheckState::Failure => ("completed", Some("failure")),
        CheckState::Neutral => ("completed", Some("neutral")),
        CheckState::Cancelled => ("completed", Some("cancelled")),
        CheckState::Error => ("completed", Some("failure")),
    };
    body.insert("status".into(), Value::from(status));
    if let Some(conclusion) = conclusion {
        body.insert("conclusion".into(), Value::from(conclusion));
    }
    body.insert(
        "output".into(),
        json!({
            "title": check.title,
            "summary": truncate_chars(&check.summary, MAX_SUMMARY),
        }),
    );
    if let Some(url) = &check.details_url {
        body.insert("details_url".into(), Value::from(url.as_str()));
    }
    if let Some(id) = &check.external_id {
        body.insert("external_id".into(), Value::from(id.as_str()));
    }
    body
}

/// The id of this app's latest check run with the check's name on its commit, if any. Runs of
/// other apps with the same name are left alone (GitHub would refuse to update them anyway).
async fn find(gh: &GithubForge, repo: &RepoRef, check: &Check) -> ForgeResult<Option<i64>> {
    let what = format!(
        "find check {} on {} in {}",
        check.name,
        check.head_sha,
        repo.full_name()
    );
    let path = repo_path(
        repo,
        &format!("/commits/{}/check-runs", encode_segment(&check.head_sha)),
    ) + &query(&[("check_name", &check.name), ("filter", "latest")]);
    let runs: wire::CheckRuns = gh
        .repo_call(repo, Call::get(path, &what))
        .await?
        .success_json(&what)?;
    let app_id = gh.key.app_id() as i64;
    Ok(runs
        .check_runs
        .into_iter()
        .filter(|r| r.name.as_deref().is_none_or(|n| n == check.name))
        .find(|r| {
            r.app
                .as_ref()
                .and_then(|a| a.id)
                .is_none_or(|id| id == app_id)
        })
        .map(|r| r.id))
}
