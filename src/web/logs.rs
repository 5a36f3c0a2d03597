//! Run logs behind their signed links: `GET /runs/<run>/log?v=<verification>&exp=…&sig=…`, the
//! details link of an `ade/verify` check. Without a valid, unexpired signature the answer is a
//! plain 404, the same as for a log that does not exist, so a link cannot be guessed or probed.
//! The log is served as text with what looks like a secret masked, whatever wrote it; a log
//! sealed at rest is opened first (docs/secrets.md).

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;

use crate::links::LinkSigner;
use crate::policy::DataClass;
use crate::runner::RunOutcome;
use crate::store::{Store, retention, runs, verifications};
use crate::web::runlog::{LogText, MAX_LOG_BYTES, ReadError, RunLogs};

/// What the log route reads.
#[derive(Clone)]
pub struct Logs {
    /// Where runs and verifications are recorded.
    pub store: Store,
    /// Checks the links.
    pub links: LinkSigner,
    /// The runner's logs: only a run's log files in its folder there are served, whatever a
    /// stored path says.
    pub logs: RunLogs,
}

/// `GET /runs/{run}/log` and `GET /plans/{plan}/log`.
pub fn routes(logs: Logs) -> Router {
    Router::new()
        .route("/runs/{run}/log", get(log))
        .route("/plans/{plan}/log", get(plan_log))
        .with_state(logs)
}

#[derive(Deserialize)]
struct LinkQuery {
    v: Option<String>,
    exp: Option<String>,
    sig: Option<String>,
}

fn not_found() -> Response {
    (StatusCode::NOT_FOUND, "not found\n").into_response()
}

async fn log(
    State(logs): State<Logs>,
    Path(run): Path<String>,
    Query(query): Query<LinkQuery>,
) -> Response {
    let Ok(run) = run.parse::<i64>() else {
        return not_found();
    };
    let now = crate::clock::unix_ms() / 1000;
    let target = match logs.links.check(
        run,
        query.v.as_deref(),
        query.exp.as_deref(),
        query.sig.as_deref(),
        now,
    ) {
        Ok(target) => target,
        Err(refusal) => {
            tracing::info!(run, ?refusal, "a run log link was refused");
            return not_found();
        }
    };
    let (path, purged) = match log_path(&logs.store, target.run, target.verification).await {
        Ok(Some(found)) => found,
        Ok(None) => return not_found(),
        Err(error) => {
            tracing::warn!(%error, "could not look up a run log");
            return (StatusCode::SERVICE_UNAVAILABLE, "try again later\n").into_response();
        }
    };
    serve(&logs, &logs.logs.run_dir(run), &path, purged).await
}

/// `GET /plans/{plan}/log`: a planner run's log, behind its own signed link.
async fn plan_log(
    State(logs): State<Logs>,
    Path(plan): Path<String>,
    Query(query): Query<LinkQuery>,
) -> Response {
    let Ok(plan) = plan.parse::<i64>() else {
        return not_found();
    };
    let now = crate::clock::unix_ms() / 1000;
    if let Err(refusal) =
        logs.links
            .check_plan(plan, query.exp.as_deref(), query.sig.as_deref(), now)
    {
        tracing::info!(plan, ?refusal, "a planner log link was refused");
        return not_found();
    }
    let stored = async {
        let mut conn = logs.store.reader().await?;
        crate::store::planning::get(&mut conn, plan).await
    };
    let path = match stored.await {
        Ok(Some(row)) => match row.log {
            Some(path) => path,
            None => return (StatusCode::NOT_FOUND, "this log was not written\n").into_response(),
        },
        Ok(None) => return not_found(),
        Err(error) => {
            tracing::warn!(%error, "could not look up a planner log");
            return (StatusCode::SERVICE_UNAVAILABLE, "try again later\n").into_response();
        }
    };
    serve(
        &logs,
        &logs.logs.workdir.join("plans").join(plan.to_string()),
        &path,
        false,
    )
    .await
}

/// Serves the log at `path` if it is a log file right in `dir`, masked and capped.
async fn serve(logs: &Logs, dir: &std::path::Path, path: &str, purged: bool) -> Response {
    let read = logs
        .logs
        .read(dir, std::path::Path::new(path), 0, false)
        .await;
    let LogText { mut text, cut, .. } = match read {
        Ok(read) => read,
        Err(ReadError::Missing) => return missing(purged),
        Err(ReadError::Outside) => return not_found(),
        Err(ReadError::Busy) => {
            return (StatusCode::SERVICE_UNAVAILABLE, "try again later\n").into_response();
        }
        Err(error) => {
            tracing::warn!(dir = %dir.display(), %error, "a log could not be read");
            return (
                StatusCode::INTERNAL_SERVER_ERROR,
                "this log cannot be read; ade's log says why\n",
            )
                .into_response();
        }
    };
    if cut {
        text.push_str(&format!(
            "\n[ade] this log is longer than {} MiB; the rest is on the runner\n",
            MAX_LOG_BYTES / 1024 / 1024
        ));
    }
    (
        [
            (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
            (header::CACHE_CONTROL, "private, no-store"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        text,
    )
        .into_response()
}

/// The answer for a log that is not there: `410 Gone` once retention removed what the run kept
/// of its class, else a plain 404 (a log that was never written).
fn missing(purged: bool) -> Response {
    if purged {
        (
            StatusCode::GONE,
            "this log is no longer kept: the repository's retention period for it has passed\n",
        )
            .into_response()
    } else {
        (StatusCode::NOT_FOUND, "this log was not written\n").into_response()
    }
}

async fn log_path(
    store: &Store,
    run: i64,
    verification: i64,
) -> Result<Option<(String, bool)>, crate::store::StoreError> {
    let mut conn = store.reader().await?;
    let class = if verification > 0 {
        DataClass::VerificationLogs
    } else {
        DataClass::RunLogs
    };
    let purged = retention::cleared(&mut conn, run).await? & class.bit() != 0;
    if verification > 0 {
        return Ok(verifications::get(&mut conn, verification)
            .await?
            .filter(|v| v.run == run)
            .and_then(|v| v.log)
            .map(|log| (log, purged)));
    }
    Ok(runs::run(&mut conn, run)
        .await?
        .and_then(|r| r.report)
        .and_then(|report| serde_json::from_str::<RunOutcome>(&report).ok())
        .and_then(|outcome| outcome.report().log.clone())
        .map(|log| (log, purged)))
}
