//! Check run routes: create, update (appending annotations), read, list the runs on a commit,
//! and list a run's annotations.

use super::super::http::{ApiResult, Ctx, parse_json};
use super::super::routes;
use super::super::state::{CheckRun, CheckRunAnnotation};
use super::{annotations, json};
use crate::forge::Permission;
use axum::Json;
use axum::body::Bytes;
use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::Deserialize;
use serde_json::json;

/// GitHub's limit on `output.summary` and `output.text`, in characters.
const MAX_OUTPUT: usize = 65_535;

#[derive(Deserialize, Default)]
struct Output {
    title: Option<String>,
    summary: Option<String>,
    text: Option<String>,
    annotations: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct CheckRunBody {
    name: Option<String>,
    head_sha: Option<String>,
    status: Option<String>,
    conclusion: Option<String>,
    details_url: Option<String>,
    external_id: Option<String>,
    output: Option<Output>,
}

const STATUSES: &[&str] = &[
    "queued",
    "in_progress",
    "completed",
    "waiting",
    "requested",
    "pending",
];
const CONCLUSIONS: &[&str] = &[
    "action_required",
    "cancelled",
    "failure",
    "neutral",
    "success",
    "skipped",
    "stale",
    "timed_out",
];

/// Checks `output` as GitHub does: `summary` always, `title` too on a new run, both within
/// their limits, and the annotations; returns the annotations to add.
fn validate_output(
    ctx: &Ctx,
    output: Option<&Output>,
    creating: bool,
) -> ApiResult<Vec<CheckRunAnnotation>> {
    let Some(output) = output else {
        return Ok(Vec::new());
    };
    let invalid = |message: String| ctx.error(StatusCode::UNPROCESSABLE_ENTITY, message);
    if output.summary.is_none() || (creating && output.title.is_none()) {
        return Err(invalid(format!(
            "Invalid request.\n\n\"{}\" wasn't supplied.",
            if output.summary.is_none() {
                "summary"
            } else {
                "title"
            }
        )));
    }
    for (key, value) in [("summary", &output.summary), ("text", &output.text)] {
        if value
            .as_ref()
            .is_some_and(|v| v.chars().count() > MAX_OUTPUT)
        {
            return Err(invalid(format!(
                "Invalid request.\n\n`output.{key}` is longer than {MAX_OUTPUT} characters."
            )));
        }
    }
    match &output.annotations {
        None | Some(serde_json::Value::Null) => Ok(Vec::new()),
        Some(values) => annotations::parse(values).map_err(invalid),
    }
}

fn validate(ctx: &Ctx, body: &CheckRunBody) -> ApiResult<()> {
    if let Some(status) = &body.status
        && !STATUSES.contains(&status.as_str())
    {
        return Err(ctx.error(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("status `{status}` is not a check run status"),
        ));
    }
    if let Some(conclusion) = &body.conclusion
        && !CONCLUSIONS.contains(&conclusion.as_str())
    {
        return Err(ctx.error(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("conclusion `{conclusion}` is not a check run conclusion"),
        ));
    }
    Ok(())
}

fn apply(run: &mut CheckRun, body: CheckRunBody, added: Vec<CheckRunAnnotation>, now: i64) {
    run.annotations.extend(added);
    if let Some(conclusion) = body.conclusion {
        run.conclusion = Some(conclusion);
        run.status = "completed".into();
        run.completed_at = Some(now);
    } else if let Some(status) = body.status {
        run.completed_at = (status == "completed").then_some(now);
        run.status = status;
    }
    if let Some(url) = body.details_url {
        run.details_url = Some(url);
    }
    if let Some(id) = body.external_id {
        run.external_id = Some(id);
    }
    if let Some(output) = body.output {
        run.title = output.title.or(run.title.take());
        run.summary = output.summary.or(run.summary.take());
        run.text = output.text.or(run.text.take());
    }
}

/// `POST /repos/{owner}/{repo}/check-runs` → 201. A `completed` status needs a conclusion.
pub async fn create_check_run(
    ctx: Ctx,
    Path((owner, name)): Path<(String, String)>,
    body: Bytes,
) -> ApiResult {
    let repo = ctx.with(&owner, &name, Permission::Write)?;
    let request: CheckRunBody = parse_json(&ctx.sim, &body)?;
    validate(&ctx, &request)?;
    let added = validate_output(&ctx, request.output.as_ref(), true)?;
    let (Some(run_name), Some(head_sha)) = (request.name.clone(), request.head_sha.clone()) else {
        return Err(ctx.error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "name and head_sha are required",
        ));
    };
    if request.status.as_deref() == Some("completed") && request.conclusion.is_none() {
        return Err(ctx.error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "conclusion is required when status is completed",
        ));
    }
    let exists = ctx
        .sim
        .git
        .resolve(&owner, &name, &head_sha)
        .await
        .ok()
        .flatten()
        .is_some_and(|sha| sha == head_sha);
    if !exists {
        return Err(ctx.error(StatusCode::UNPROCESSABLE_ENTITY, "No commit found for SHA"));
    }
    let now = ctx.sim.now();
    let run = {
        let mut state = ctx.sim.state();
        let id = state.next_id();
        let r = state
            .repo_mut(&owner, &name)
            .ok_or_else(|| ctx.not_found())?;
        let mut run = CheckRun {
            id,
            name: run_name,
            head_sha,
            status: "queued".into(),
            conclusion: None,
            title: None,
            summary: None,
            text: None,
            annotations: Vec::new(),
            details_url: None,
            external_id: None,
            started_at: now,
            completed_at: None,
            app: None,
        };
        apply(&mut run, request, added, now);
        r.check_runs.push(run.clone());
        run
    };
    let repo = ctx.readable(&repo.owner, &repo.name)?;
    Ok((
        StatusCode::CREATED,
        Json(json::check_run(&ctx.sim, &repo, &run)),
    )
        .into_response())
}

/// `PATCH /repos/{owner}/{repo}/check-runs/{id}`.
pub async fn update_check_run(
    ctx: Ctx,
    Path((owner, name, id)): Path<(String, String, i64)>,
    body: Bytes,
) -> ApiResult {
    ctx.with(&owner, &name, Permission::Write)?;
    let request: CheckRunBody = parse_json(&ctx.sim, &body)?;
    validate(&ctx, &request)?;
    let added = validate_output(&ctx, request.output.as_ref(), false)?;
    let now = ctx.sim.now();
    let run = {
        let mut state = ctx.sim.state();
        let r = state
            .repo_mut(&owner, &name)
            .ok_or_else(|| ctx.not_found())?;
        let run = r
            .check_runs
            .iter_mut()
            .find(|c| c.id == id)
            .ok_or_else(|| ctx.not_found())?;
        if let Some(new_name) = request.name.clone() {
            run.name = new_name;
        }
        apply(run, request, added, now);
        run.clone()
    };
    let repo = ctx.readable(&owner, &name)?;
    Ok(Json(json::check_run(&ctx.sim, &repo, &run)).into_response())
}

/// `GET /repos/{owner}/{repo}/check-runs/{id}`.
pub async fn get_check_run(
    ctx: Ctx,
    Path((owner, name, id)): Path<(String, String, i64)>,
) -> ApiResult {
    let repo = ctx.readable(&owner, &name)?;
    let run = routes::check_run(&ctx, &repo, id)?;
    Ok(Json(json::check_run(&ctx.sim, &repo, run)).into_response())
}

/// `GET /repos/{owner}/{repo}/commits/{ref}/check-runs?check_name=&status=`: newest first, as
/// `{total_count, check_runs}`.
pub async fn list_for_ref(
    ctx: Ctx,
    Path((owner, name, git_ref)): Path<(String, String, String)>,
) -> ApiResult {
    let repo = ctx.readable(&owner, &name)?;
    let sha = ctx
        .sim
        .git
        .resolve(&owner, &name, &git_ref)
        .await
        .ok()
        .flatten()
        .ok_or_else(|| ctx.error(StatusCode::UNPROCESSABLE_ENTITY, "No commit found for SHA"))?;
    let check_name = ctx.param("check_name");
    let status = ctx.param("status");
    let runs: Vec<_> = repo
        .check_runs
        .iter()
        .rev()
        .filter(|c| c.head_sha == sha)
        .filter(|c| check_name.as_ref().is_none_or(|n| *n == c.name))
        .filter(|c| status.as_ref().is_none_or(|s| *s == c.status))
        .map(|c| json::check_run(&ctx.sim, &repo, c))
        .collect();
    let request = ctx.page(30);
    let page = super::super::state::page(&runs, request.page, request.per_page);
    Ok(Json(json!({ "total_count": runs.len(), "check_runs": page })).into_response())
}

/// `GET /repos/{owner}/{repo}/check-runs/{id}/annotations`: in the order added, paged.
pub async fn list_annotations(
    ctx: Ctx,
    Path((owner, name, id)): Path<(String, String, i64)>,
) -> ApiResult {
    let repo = ctx.readable(&owner, &name)?;
    let run = routes::check_run(&ctx, &repo, id)?;
    let items = run
        .annotations
        .iter()
        .map(|a| annotations::json(&ctx.sim, &repo, run, a))
        .collect();
    Ok(ctx.paged(30, items))
}
