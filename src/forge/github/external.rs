//! External checks on GitHub: the check runs of other apps and the commit statuses on a commit,
//! read while verification waits for the policy's `external_checks`. Only the fields ade uses are
//! read (the REST description's `check-run`, `simple-commit-status` and `check-annotation`), and
//! each text is cut to [`ExternalCheck::MAX_TEXT`] characters before anything else sees it.

use super::{Call, GithubForge, PAGING, repo_path, wire};
use crate::forge::http::{collect_pages, encode_segment, more_after, query, truncate_chars};
use crate::forge::{
    ExternalAnnotation, ExternalCheck, ExternalLook, ExternalSource, ExternalState, ForgeResult,
    RepoRef,
};

/// The named checks on `sha`: the newest check run of each name that another app posted, with
/// the annotations of a failed one (unless its id is in `known`), and the newest status of each
/// named context. The check runs and the statuses are read apart: a source the forge refuses
/// (the app lacking `checks: read` or `statuses: read`, a 500) is named in the look, and what the
/// other showed still counts.
pub(super) async fn read(
    gh: &GithubForge,
    repo: &RepoRef,
    sha: &str,
    names: &[String],
    known: &[i64],
) -> ExternalLook {
    let mut look = ExternalLook::default();
    match check_runs(gh, repo, sha).await {
        Ok(runs) => {
            let own_app = gh.key.app_id() as i64;
            for run in newest_of_each(&runs, names, own_app) {
                let mut check = from_run(run);
                let noted = run
                    .output
                    .as_ref()
                    .and_then(|o| o.annotations_count)
                    .is_some_and(|n| n > 0);
                if check.state == ExternalState::Failed && noted && !known.contains(&run.id) {
                    // Annotations add to what a failed run says; without them it still failed.
                    match annotations(gh, repo, run.id).await {
                        Ok(found) => check.annotations = found,
                        Err(error) => {
                            tracing::warn!(check_run = run.id, %error, "the annotations of a failed external check run could not be read; it is reported without them");
                        }
                    }
                }
                look.checks.push(check);
            }
            look.read.push(ExternalSource::CheckRun);
        }
        Err(error) => look.unread.push((ExternalSource::CheckRun, error)),
    }
    match statuses(gh, repo, sha).await {
        Ok(statuses) => {
            let mut contexts: Vec<&str> = Vec::new();
            for status in &statuses {
                if names.contains(&status.context) && !contexts.contains(&status.context.as_str()) {
                    contexts.push(&status.context);
                    look.checks.push(from_status(status));
                }
            }
            look.read.push(ExternalSource::Status);
        }
        Err(error) => look.unread.push((ExternalSource::Status, error)),
    }
    look
}

/// Of each name in `names`, the newest check run another app posted: the latest started (a
/// re-run starts later), the higher id when they started together. `filter=latest` still lists
/// one run per app and check suite, so a name may come more than once.
fn newest_of_each<'r>(
    runs: &'r [wire::ExternalRun],
    names: &[String],
    own_app: i64,
) -> Vec<&'r wire::ExternalRun> {
    let mut newest: Vec<&wire::ExternalRun> = Vec::new();
    for run in runs {
        if !names.contains(&run.name) || run.app.as_ref().and_then(|a| a.id) == Some(own_app) {
            continue;
        }
        let key = |r: &wire::ExternalRun| (r.started_at.clone().unwrap_or_default(), r.id);
        match newest.iter_mut().find(|n| n.name == run.name) {
            Some(kept) if key(run) > key(kept) => *kept = run,
            Some(_) => {}
            None => newest.push(run),
        }
    }
    newest
}

/// The combined status of `sha`: the newest status of each context.
async fn statuses(gh: &GithubForge, repo: &RepoRef, sha: &str) -> ForgeResult<Vec<wire::Status>> {
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
            let reply = gh.repo_call(repo, Call::get(path, &what)).await?;
            let combined: wire::CombinedStatus = reply.success_json(&what)?;
            let more = more_after(&reply, combined.statuses.len(), PAGING.size, before);
            Ok((combined.statuses, more))
        }
    })
    .await
}

/// Every check run on `sha` (GitHub's `filter=latest`: the newest of each name and app).
async fn check_runs(
    gh: &GithubForge,
    repo: &RepoRef,
    sha: &str,
) -> ForgeResult<Vec<wire::ExternalRun>> {
    let what = format!("read the check runs of {sha} in {}", repo.full_name());
    let path = repo_path(
        repo,
        &format!("/commits/{}/check-runs", encode_segment(sha)),
    );
    collect_pages(|page, before| {
        let path = format!(
            "{path}{}",
            query(&[
                ("filter", "latest"),
                (PAGING.size_param, &PAGING.size.to_string()),
                ("page", &page.to_string()),
            ])
        );
        let what = what.clone();
        async move {
            let reply = gh.repo_call(repo, Call::get(path, &what)).await?;
            let runs: wire::ExternalRuns = reply.success_json(&what)?;
            let more = more_after(&reply, runs.check_runs.len(), PAGING.size, before);
            Ok((runs.check_runs, more))
        }
    })
    .await
}

/// The first page of a failed run's annotations, at most [`ExternalCheck::MAX_ANNOTATIONS`].
async fn annotations(
    gh: &GithubForge,
    repo: &RepoRef,
    id: i64,
) -> ForgeResult<Vec<ExternalAnnotation>> {
    let what = format!(
        "read the annotations of check run {id} in {}",
        repo.full_name()
    );
    let per_page = ExternalCheck::MAX_ANNOTATIONS.to_string();
    let path = repo_path(repo, &format!("/check-runs/{id}/annotations"))
        + &query(&[("per_page", &per_page)]);
    let found: Vec<wire::Annotation> = gh
        .repo_call(repo, Call::get(path, &what))
        .await?
        .success_json(&what)?;
    Ok(found
        .into_iter()
        .take(ExternalCheck::MAX_ANNOTATIONS)
        .map(|a| ExternalAnnotation {
            path: cut(a.path),
            start_line: a.start_line,
            level: a.annotation_level.map(cut),
            title: a.title.map(cut),
            message: a.message.map(cut),
        })
        .collect())
}

/// A check run's state: GitHub's branch protection counts `success`, `neutral` and `skipped` as
/// passing; every other conclusion (and a completed run without one) fails.
fn run_state(status: &str, conclusion: Option<&str>) -> ExternalState {
    match (status, conclusion) {
        ("completed", Some("success" | "neutral" | "skipped")) => ExternalState::Passed,
        ("completed", _) => ExternalState::Failed,
        _ => ExternalState::Pending,
    }
}

/// A commit status's state: `pending` waits, `success` passes, `failure`, `error` and anything
/// else fails.
fn status_state(state: &str) -> ExternalState {
    match state {
        "pending" => ExternalState::Pending,
        "success" => ExternalState::Passed,
        _ => ExternalState::Failed,
    }
}

fn from_run(run: &wire::ExternalRun) -> ExternalCheck {
    let output = run.output.as_ref();
    let text = |pick: fn(&wire::ExternalOutput) -> Option<&String>| {
        output.and_then(pick).cloned().map(cut)
    };
    ExternalCheck {
        name: run.name.clone(),
        id: Some(run.id),
        source: ExternalSource::CheckRun,
        state: run_state(&run.status, run.conclusion.as_deref()),
        conclusion: (run.status == "completed")
            .then(|| run.conclusion.clone().map(cut))
            .flatten(),
        title: text(|o| o.title.as_ref()),
        summary: text(|o| o.summary.as_ref()),
        text: text(|o| o.text.as_ref()),
        annotations: Vec::new(),
        link: run
            .details_url
            .clone()
            .or_else(|| run.html_url.clone())
            .map(cut),
    }
}

fn from_status(status: &wire::Status) -> ExternalCheck {
    let state = status_state(&status.state);
    ExternalCheck {
        name: status.context.clone(),
        id: status.id,
        source: ExternalSource::Status,
        state,
        conclusion: (state != ExternalState::Pending).then(|| cut(status.state.clone())),
        title: None,
        summary: status.description.clone().map(cut),
        text: None,
        annotations: Vec::new(),
        link: status.target_url.clone().map(cut),
    }
}

fn cut(text: String) -> String {
    if text.chars().count() <= ExternalCheck::MAX_TEXT {
        text
    } else {
        truncate_chars(&text, ExternalCheck::MAX_TEXT)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conclusions_pass_as_branch_protection_counts_them() {
        for (status, conclusion, state) in [
            ("completed", Some("success"), ExternalState::Passed),
            ("completed", Some("neutral"), ExternalState::Passed),
            ("completed", Some("skipped"), ExternalState::Passed),
            ("completed", Some("failure"), ExternalState::Failed),
            ("completed", Some("timed_out"), ExternalState::Failed),
            ("completed", Some("cancelled"), ExternalState::Failed),
            ("completed", Some("action_required"), ExternalState::Failed),
            ("completed", None, ExternalState::Failed),
            ("in_progress", None, ExternalState::Pending),
            ("queued", None, ExternalState::Pending),
            ("waiting", None, ExternalState::Pending),
        ] {
            assert_eq!(
                run_state(status, conclusion),
                state,
                "{status} {conclusion:?}"
            );
        }
        assert_eq!(status_state("success"), ExternalState::Passed);
        assert_eq!(status_state("pending"), ExternalState::Pending);
        assert_eq!(status_state("failure"), ExternalState::Failed);
        assert_eq!(status_state("error"), ExternalState::Failed);
        assert_eq!(status_state("surprise"), ExternalState::Failed);
    }

    #[test]
    fn a_check_run_is_read_from_the_fields_the_rest_description_names() {
        let body = serde_json::json!({
            "total_count": 1,
            "check_runs": [{
                "id": 4, "name": "ci/test", "head_sha": "a", "status": "completed",
                "conclusion": "failure", "details_url": "https://ci.example/4",
                "html_url": "https://github.com/o/r/runs/4",
                "output": {"title": "2 tests failed", "summary": "s", "text": "t",
                           "annotations_count": 2, "annotations_url": "u"},
                "app": {"id": 77, "slug": "ci"}, "pull_requests": []
            }]
        });
        let runs: wire::ExternalRuns = serde_json::from_value(body).unwrap();
        let check = from_run(&runs.check_runs[0]);
        assert_eq!(check.state, ExternalState::Failed);
        assert_eq!(check.conclusion.as_deref(), Some("failure"));
        assert_eq!(check.title.as_deref(), Some("2 tests failed"));
        assert_eq!(check.summary.as_deref(), Some("s"));
        assert_eq!(check.text.as_deref(), Some("t"));
        assert_eq!(check.link.as_deref(), Some("https://ci.example/4"));
        let null_output = serde_json::json!({"id": 5, "name": "x", "status": "queued",
            "conclusion": null, "details_url": null, "html_url": null,
            "output": {"title": null, "summary": null, "text": null}, "app": null});
        let run: wire::ExternalRun = serde_json::from_value(null_output).unwrap();
        let check = from_run(&run);
        assert_eq!(check.state, ExternalState::Pending);
        assert_eq!(
            (check.conclusion, check.summary, check.link),
            (None, None, None)
        );
    }

    #[test]
    fn the_newest_run_of_each_name_counts_and_ades_own_never_does() {
        let run = |id: i64, name: &str, started: &str, app: i64| {
            serde_json::from_value::<wire::ExternalRun>(serde_json::json!({
                "id": id, "name": name, "status": "completed", "conclusion": "success",
                "started_at": started, "app": {"id": app}
            }))
            .unwrap()
        };
        let runs = [
            run(9, "ci/test", "2026-01-01T10:00:00Z", 77),
            run(4, "ci/test", "2026-01-01T11:00:00Z", 77),
            run(5, "ci/test", "2026-01-01T11:00:00Z", 77),
            run(6, "ci/lint", "2026-01-01T12:00:00Z", 1),
            run(7, "ci/other", "2026-01-01T12:00:00Z", 77),
        ];
        let names = ["ci/test".to_string(), "ci/lint".to_string()];
        let newest: Vec<i64> = newest_of_each(&runs, &names, 1)
            .iter()
            .map(|r| r.id)
            .collect();
        assert_eq!(
            newest,
            [5],
            "the re-run that started last, the higher id on a tie"
        );
    }

    #[test]
    fn a_status_is_read_and_long_texts_are_cut() {
        let body = serde_json::json!({
            "state": "failure", "sha": "a", "total_count": 1, "commit_url": "u", "url": "u",
            "repository": {},
            "statuses": [{"id": 1, "node_id": "n", "state": "error", "context": "ci/lint",
                          "description": "d".repeat(70_000), "target_url": null,
                          "avatar_url": null, "url": "u", "created_at": "", "updated_at": ""}]
        });
        let combined: wire::CombinedStatus = serde_json::from_value(body).unwrap();
        let check = from_status(&combined.statuses[0]);
        assert_eq!(check.state, ExternalState::Failed);
        assert_eq!(check.source, ExternalSource::Status);
        assert_eq!(check.conclusion.as_deref(), Some("error"));
        assert_eq!(
            check.summary.unwrap().chars().count(),
            ExternalCheck::MAX_TEXT
        );
        assert_eq!(check.link, None);
    }
}
