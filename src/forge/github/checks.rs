//! Check runs on GitHub: `ade/verify` and `ade/policy` are created once per commit and updated in
//! place, so a retried job or a re-run moves the same check instead of adding another. A report
//! costs one request when it has at most 50 annotations (GitHub's limit per request), and one
//! more per further 50.
//!
//! A repeated create would make a second check run, and GitHub appends annotations, so a repeated
//! update would show them twice. Every write of a report is therefore sent once: after a 5xx or a
//! lost connection ade looks at the run (or for it) before it writes again, and writes only the
//! annotations the run lacks.

use super::{Call, GithubForge, annotations, repo_path, wire};
use crate::forge::http::{backoff, encode_segment, query, truncate_chars};
use crate::forge::rest::Checks;
use crate::forge::{
    Check, CheckAnnotation, CheckRef, CheckState, CheckTarget, ExternalLook, ForgeError,
    ForgeResult, RepoRef,
};
use serde_json::{Map, Value};

/// GitHub refuses a check run summary or text longer than this many characters.
const MAX_OUTPUT: usize = 65_535;

#[async_trait::async_trait]
impl Checks for GithubForge {
    async fn set_check(
        gh: &GithubForge,
        repo: &RepoRef,
        check: &Check,
        target: CheckTarget,
    ) -> ForgeResult<CheckRef> {
        let started = tokio::time::Instant::now();
        let policy = &gh.options.retry;
        let mut plan = match target {
            CheckTarget::Create => Plan::Create(check.annotations.iter().collect()),
            CheckTarget::Update(id) => Plan::Update(id, check.annotations.iter().collect()),
            CheckTarget::Find => look(gh, repo, check).await?,
        };
        let mut looks = 0;
        loop {
            match write(gh, repo, check, &plan).await {
                Err(ForgeError::Unavailable(reason)) => {
                    looks += 1;
                    let wait = backoff(policy, looks);
                    if looks > policy.transient_retries || started.elapsed() + wait > policy.budget
                    {
                        return Err(ForgeError::Unavailable(reason));
                    }
                    tracing::info!(
                        check = %check.name,
                        sha = %check.head_sha,
                        %reason,
                        "a check run write failed; looking for the run before writing again"
                    );
                    tokio::time::sleep(wait).await;
                    plan = match target {
                        CheckTarget::Update(id) => look_at(gh, repo, check, id).await?,
                        CheckTarget::Create | CheckTarget::Find => look(gh, repo, check).await?,
                    };
                }
                result => return result.map(|id| CheckRef { id }),
            }
        }
    }

    async fn external_checks(
        gh: &GithubForge,
        repo: &RepoRef,
        sha: &str,
        names: &[String],
        known: &[i64],
    ) -> ExternalLook {
        super::external::read(gh, repo, sha, names, known).await
    }
}

/// What is left to write: a new run, or a known one, with the annotations it still lacks.
enum Plan<'a> {
    Create(Vec<&'a CheckAnnotation>),
    Update(i64, Vec<&'a CheckAnnotation>),
}

/// Finds this app's run of the check on its commit; what to write follows from it.
async fn look<'a>(gh: &GithubForge, repo: &RepoRef, check: &'a Check) -> ForgeResult<Plan<'a>> {
    Ok(match find(gh, repo, check).await? {
        Some(run) => Plan::Update(
            run.id,
            annotations::missing(gh, repo, &run, &check.annotations).await?,
        ),
        None => Plan::Create(check.annotations.iter().collect()),
    })
}

/// Reads run `id` to see which annotations it still lacks.
async fn look_at<'a>(
    gh: &GithubForge,
    repo: &RepoRef,
    check: &'a Check,
    id: i64,
) -> ForgeResult<Plan<'a>> {
    let what = format!("read check run {id} in {}", repo.full_name());
    let path = repo_path(repo, &format!("/check-runs/{id}"));
    let run: wire::CheckRun = gh
        .repo_call(repo, Call::get(path, &what))
        .await?
        .success_json(&what)?;
    let pending = annotations::missing(gh, repo, &run, &check.annotations).await?;
    Ok(Plan::Update(id, pending))
}

/// Creates or updates the run with the first batch of annotations, then appends the others a
/// batch at a time. Returns the run's id.
async fn write(
    gh: &GithubForge,
    repo: &RepoRef,
    check: &Check,
    plan: &Plan<'_>,
) -> ForgeResult<i64> {
    let what = format!(
        "set check {} on {} in {}",
        check.name,
        check.head_sha,
        repo.full_name()
    );
    let (known, pending) = match plan {
        Plan::Create(pending) => (None, pending),
        Plan::Update(id, pending) => (Some(*id), pending),
    };
    let mut batches = pending.chunks(annotations::PER_REQUEST);
    let first = batches.next().unwrap_or(&[]);
    let mut body = fields(check);
    body.insert("output".into(), output(check, first));
    let call = match known {
        Some(id) => Call::patch(
            repo_path(repo, &format!("/check-runs/{id}")),
            Value::Object(body),
            &what,
        ),
        None => {
            body.insert("head_sha".into(), Value::from(check.head_sha.as_str()));
            Call::post(
                repo_path(repo, "/check-runs"),
                Some(Value::Object(body)),
                &what,
            )
        }
    };
    let run: wire::CheckRun = gh.repo_call(repo, call.once()).await?.success_json(&what)?;
    for batch in batches {
        let what = format!("{what}: more annotations");
        let mut more = Map::new();
        more.insert("output".into(), output(check, batch));
        let path = repo_path(repo, &format!("/check-runs/{}", run.id));
        gh.repo_call(repo, Call::patch(path, Value::Object(more), &what).once())
            .await?
            .success(&what)?;
    }
    Ok(run.id)
}

/// The body fields of a create or an update besides `output` (and a new run's `head_sha`).
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
        // GitHub has no error conclusion; a failure is the one that never passes.
        CheckState::Error => ("completed", Some("failure")),
    };
    body.insert("status".into(), Value::from(status));
    if let Some(conclusion) = conclusion {
        body.insert("conclusion".into(), Value::from(conclusion));
    }
    if let Some(url) = &check.details_url {
        body.insert("details_url".into(), Value::from(url.as_str()));
    }
    if let Some(id) = &check.external_id {
        body.insert("external_id".into(), Value::from(id.as_str()));
    }
    body
}

/// `output`: title, summary and text within GitHub's limits, and a batch of annotations. GitHub
/// wants title and summary with every output, so the appending updates carry them too.
fn output(check: &Check, batch: &[&CheckAnnotation]) -> Value {
    let mut output = Map::new();
    output.insert("title".into(), Value::from(title(check)));
    output.insert(
        "summary".into(),
        Value::from(truncate_chars(&check.summary, MAX_OUTPUT)),
    );
    if let Some(text) = &check.text {
        output.insert("text".into(), Value::from(truncate_chars(text, MAX_OUTPUT)));
    }
    if !batch.is_empty() {
        output.insert(
            "annotations".into(),
            Value::Array(batch.iter().map(|a| annotations::json(a)).collect()),
        );
    }
    Value::Object(output)
}

/// The run's title; an error reads as one, since its conclusion is a plain failure on GitHub.
fn title(check: &Check) -> String {
    if check.state == CheckState::Error && !check.title.to_lowercase().starts_with("error") {
        format!("Error: {}", check.title)
    } else {
        check.title.clone()
    }
}

/// This app's latest check run with the check's name on its commit, if any. Runs of other apps
/// with the same name are left alone (GitHub would refuse to update them anyway).
async fn find(
    gh: &GithubForge,
    repo: &RepoRef,
    check: &Check,
) -> ForgeResult<Option<wire::CheckRun>> {
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
        }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::forge::AnnotationLevel;
    use serde_json::json;

    fn check(state: CheckState) -> Check {
        Check {
            name: "ade/verify".into(),
            head_sha: "a".repeat(40),
            state,
            title: "the worktree is gone".into(),
            summary: "s".repeat(70_000),
            text: Some("details".into()),
            annotations: Vec::new(),
            details_url: None,
            external_id: None,
        }
    }

    #[test]
    fn states_map_to_githubs_status_and_conclusion() {
        for (state, status, conclusion) in [
            (CheckState::Queued, "queued", None),
            (CheckState::InProgress, "in_progress", None),
            (CheckState::Success, "completed", Some("success")),
            (CheckState::Failure, "completed", Some("failure")),
            (CheckState::Neutral, "completed", Some("neutral")),
            (CheckState::Cancelled, "completed", Some("cancelled")),
            (CheckState::Error, "completed", Some("failure")),
        ] {
            let body = fields(&check(state));
            assert_eq!(body["status"], status, "{state:?}");
            assert_eq!(body.get("conclusion").and_then(Value::as_str), conclusion);
        }
    }

    #[test]
    fn output_is_cut_to_githubs_limits_and_an_error_says_so() {
        let annotation = CheckAnnotation {
            path: "a.rs".into(),
            start_line: 1,
            end_line: 1,
            start_column: None,
            level: AnnotationLevel::Warning,
            message: "m".into(),
            title: None,
        };
        let out = output(&check(CheckState::Error), &[&annotation]);
        assert_eq!(out["title"], "Error: the worktree is gone");
        assert_eq!(out["summary"].as_str().unwrap().chars().count(), MAX_OUTPUT);
        assert_eq!(out["text"], "details");
        assert_eq!(out["annotations"].as_array().unwrap().len(), 1);
        let plain = output(&check(CheckState::Failure), &[]);
        assert_eq!(plain["title"], "the worktree is gone");
        assert!(plain.get("annotations").is_none());
        assert_eq!(
            output(&check(CheckState::Error), &[])["title"],
            json!("Error: the worktree is gone")
        );
    }
}
