//! `GET /runs/{id}`: one run of a task's agent. What it is (task, goal, attempt, agent, state,
//! timings, what it cost and changed), the other attempts of its task, and its log: numbered
//! lines with permalinks, ade's own notes told apart, a window of lines at a time, a search, a
//! download, and while the run goes on, new lines as they are written
//! (`GET /runs/{id}/events`, server-sent events that resume from `Last-Event-ID`).

use super::Dashboard;
use super::sight::sees;
use crate::lifecycle::State as _;
use crate::runner::RunOutcome;
use crate::store::runs::RunRow;
use crate::store::{goals, runs, tasks};
use crate::web::html;
use crate::web::runlog::{LogText, ReadError};
use crate::web::signin::Viewer;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use std::convert::Infallible;
use std::time::Duration;

/// Lines a page of the log shows.
pub const WINDOW: usize = 2000;

/// How often a followed log is looked at again.
const FOLLOW_EVERY: Duration = Duration::from_millis(500);

/// How long one stream lasts; the browser then opens another with `Last-Event-ID`, which checks
/// again who is asking and what they may read.
const STREAM_LIFE: Duration = Duration::from_secs(300);

/// The highest line number a stream takes from a browser.
const MAX_LINE: usize = 1_000_000_000;

/// A line of the log as a page shows it.
#[derive(Serialize)]
struct Line {
    n: usize,
    text: String,
    note: bool,
}

#[derive(Serialize)]
struct Attempt {
    id: i64,
    attempt: i64,
    state: &'static str,
    current: bool,
}

#[derive(Serialize)]
struct RunPage {
    #[serde(flatten)]
    header: super::Header,
    run: RunView,
    goal_id: i64,
    goal_title: String,
    repository: String,
    task_id: String,
    attempts: Vec<Attempt>,
    lines: Vec<Line>,
    total: usize,
    first: usize,
    earlier: Option<String>,
    later: Option<String>,
    query: Option<String>,
    matches: Option<usize>,
    missing: Option<&'static str>,
    cut: bool,
    follow: Option<String>,
}

#[derive(Serialize)]
struct RunView {
    id: i64,
    attempt: i64,
    state: &'static str,
    cause: &'static str,
    agent: String,
    environment: String,
    runner: Option<String>,
    requester: String,
    branch: String,
    head_sha: Option<String>,
    reason: Option<String>,
    created_at: i64,
    started_at: Option<i64>,
    finished_at: Option<i64>,
    seconds: Option<i64>,
    agent_seconds: Option<u64>,
    cost: Option<String>,
    changed: Option<String>,
}

/// The run `id` names, with its task's id and goal, when the viewer may see it.
async fn visible_run(
    dashboard: &Dashboard,
    viewer: &Viewer,
    id: &str,
) -> Result<(RunRow, String, goals::GoalRow), Response> {
    let Some(id) = crate::web::path_id(id) else {
        return Err(super::not_found());
    };
    let read = async {
        let mut conn = dashboard.store.reader().await?;
        let Some(run) = runs::run(&mut conn, id).await? else {
            return Ok(None);
        };
        let Some(task) = tasks::task(&mut conn, run.task).await? else {
            return Ok(None);
        };
        let goal = goals::goal_of_spec(&mut conn, task.spec).await?;
        Ok::<_, crate::store::StoreError>(goal.map(|goal| (run, task.task_id, goal)))
    };
    let (run, task_id, goal) = match read.await {
        Ok(Some(found)) => found,
        Ok(None) => return Err(super::not_found()),
        Err(error) => return Err(super::unavailable(error)),
    };
    match sees(dashboard, viewer, goal.forge, &goal.repository.full_name()).await {
        Ok(true) => Ok((run, task_id, goal)),
        Ok(false) => Err(super::not_found()),
        Err(()) => Err(super::forge_unsure()),
    }
}

/// Where run `run`'s log is: the path its report names once it ended, else where the local
/// runner writes it while it goes on.
fn log_path(dashboard: &Dashboard, run: &RunRow) -> std::path::PathBuf {
    run.report
        .as_deref()
        .and_then(|report| serde_json::from_str::<RunOutcome>(report).ok())
        .and_then(|outcome| outcome.report().log.clone())
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| dashboard.logs.live_path(run.id, run.attempt))
}

async fn read_log(dashboard: &Dashboard, run: &RunRow, from: u64) -> Result<LogText, ReadError> {
    let whole_lines = !run.state.is_final();
    dashboard
        .logs
        .read(
            &dashboard.logs.run_dir(run.id),
            &log_path(dashboard, run),
            from,
            whole_lines,
        )
        .await
}

fn numbered(text: &str, first: usize) -> impl Iterator<Item = Line> + '_ {
    text.lines().enumerate().map(move |(i, line)| Line {
        n: first.saturating_add(i),
        note: line.starts_with("[ade] "),
        text: line.to_owned(),
    })
}

fn view(run: &RunRow) -> RunView {
    let report = run
        .report
        .as_deref()
        .and_then(|report| serde_json::from_str::<RunOutcome>(report).ok());
    let report = report.as_ref().map(RunOutcome::report);
    RunView {
        id: run.id,
        attempt: run.attempt,
        state: run.state.as_str(),
        cause: run.cause.as_str(),
        agent: run.agent.clone(),
        environment: run.environment.clone(),
        runner: run.runner.clone(),
        requester: run.requester.clone(),
        branch: run.branch.clone(),
        head_sha: run.head_sha.clone(),
        reason: run.reason.clone(),
        created_at: run.created_at,
        started_at: run.started_at,
        finished_at: run.finished_at,
        seconds: run
            .started_at
            .zip(run.finished_at)
            .map(|(start, end)| (end - start).max(0) / 1000),
        agent_seconds: report.map(|r| r.agent_ms / 1000),
        cost: report
            .and_then(|r| r.cost_micro_usd)
            .map(|micro| format!("${:.2}", micro as f64 / 1_000_000.0)),
        changed: report.filter(|r| r.files_changed > 0).map(|r| {
            format!(
                "{} files, +{} −{}",
                r.files_changed, r.insertions, r.deletions
            )
        }),
    }
}

/// `GET /runs/{id}?from=&q=`.
pub async fn run(
    State(dashboard): State<Dashboard>,
    viewer: Viewer,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> Response {
    let (run, task_id, goal) = match visible_run(&dashboard, &viewer, &id).await {
        Ok(found) => found,
        Err(refused) => return refused,
    };
    let mut from = None;
    let mut search = None;
    for (key, value) in form_urlencoded::parse(query.as_deref().unwrap_or("").as_bytes()) {
        match key.as_ref() {
            "from" => match value.parse::<usize>() {
                Ok(n) if n >= 1 => from = Some(n),
                _ => {
                    return html::message(
                        StatusCode::BAD_REQUEST,
                        "Bad line",
                        "`from` is a line number, from 1.",
                    );
                }
            },
            "q" if !value.trim().is_empty() => {
                search = Some(value.chars().take(200).collect::<String>());
            }
            _ => {}
        }
    }
    let attempts = async {
        let mut conn = dashboard.store.reader().await?;
        runs::runs_of_task(&mut conn, run.task).await
    };
    let attempts: Vec<Attempt> = match attempts.await {
        Ok(all) => all
            .into_iter()
            .rev()
            .map(|other| Attempt {
                id: other.id,
                attempt: other.attempt,
                state: other.state.as_str(),
                current: other.id == run.id,
            })
            .collect(),
        Err(error) => return super::unavailable(error),
    };
    let (text, end, cut, missing) = match read_log(&dashboard, &run, 0).await {
        Ok(LogText { text, end, cut }) => (text, end, cut, None),
        Err(ReadError::Missing) if run.state.is_final() => (
            String::new(),
            0,
            false,
            Some("This run's log is not kept any more, or it ran on a runner of its own."),
        ),
        Err(ReadError::Missing) => (String::new(), 0, false, None),
        Err(error) => {
            tracing::warn!(run = run.id, %error, "a run log could not be read for its page");
            (
                String::new(),
                0,
                false,
                Some("This run's log cannot be read; ade's log says why."),
            )
        }
    };
    let total = text.lines().count();
    let href = |from: usize| format!("/runs/{}?from={from}", run.id);
    let (lines, first, matches): (Vec<Line>, usize, Option<usize>) = match &search {
        Some(needle) => {
            let needle = needle.to_lowercase();
            let found: Vec<Line> = numbered(&text, 1)
                .filter(|line| line.text.to_lowercase().contains(&needle))
                .collect();
            let count = found.len();
            (found.into_iter().take(WINDOW).collect(), 1, Some(count))
        }
        None => {
            let first = from
                .unwrap_or_else(|| total.saturating_sub(WINDOW) + 1)
                .min(total.max(1));
            let lines = numbered(&text, 1).skip(first - 1).take(WINDOW).collect();
            (lines, first, None)
        }
    };
    let shown_to = first + lines.len();
    let at_end = search.is_none() && shown_to > total;
    let earlier =
        (search.is_none() && first > 1).then(|| href(first.saturating_sub(WINDOW).max(1)));
    let later = (search.is_none() && !at_end).then(|| href(shown_to));
    let follow = (at_end && !run.state.is_final() && missing.is_none() && !cut)
        .then(|| format!("/runs/{}/events?after={end}&line={}", run.id, total + 1));
    html::page(
        "run.html",
        RunPage {
            header: dashboard.header(&viewer),
            run: view(&run),
            goal_id: goal.id,
            goal_title: goal.title,
            repository: goal.repository.full_name(),
            task_id,
            attempts,
            lines,
            total,
            first,
            earlier,
            later,
            query: search,
            matches,
            missing,
            cut,
            follow,
        },
    )
}

/// `GET /runs/{id}/log.txt`: the whole log as text, masked, to keep.
pub async fn download(
    State(dashboard): State<Dashboard>,
    viewer: Viewer,
    Path(id): Path<String>,
) -> Response {
    let (run, _, _) = match visible_run(&dashboard, &viewer, &id).await {
        Ok(found) => found,
        Err(refused) => return refused,
    };
    match read_log(&dashboard, &run, 0).await {
        Ok(LogText { text, .. }) => (
            [
                (header::CONTENT_TYPE, "text/plain; charset=utf-8".to_owned()),
                (header::CACHE_CONTROL, "private, no-store".to_owned()),
                (header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_owned()),
                (
                    header::CONTENT_DISPOSITION,
                    format!("attachment; filename=\"run-{}.log\"", run.id),
                ),
            ],
            text,
        )
            .into_response(),
        Err(ReadError::Missing) => super::not_found(),
        Err(error) => {
            tracing::warn!(run = run.id, %error, "a run log could not be read for download");
            html::message(
                StatusCode::INTERNAL_SERVER_ERROR,
                "The log cannot be read",
                "ade's log says why.",
            )
        }
    }
}

/// Where a stream resumes: the byte after the last line sent, and that line's number plus one.
fn resume_point(headers: &HeaderMap, query: Option<&str>) -> (u64, usize) {
    let from_header = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(':'))
        .and_then(|(after, line)| Some((after.parse().ok()?, line.parse().ok()?)));
    if let Some((after, line)) = from_header {
        return (after, usize::clamp(line, 1, MAX_LINE));
    }
    let mut after = 0;
    let mut line = 1;
    for (key, value) in form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
        match key.as_ref() {
            "after" => after = value.parse().unwrap_or(0),
            "line" => line = value.parse().unwrap_or(1).clamp(1, MAX_LINE),
            _ => {}
        }
    }
    (after, line)
}

/// The `<li>` items of `lines`, escaped, as the page's log list holds them.
fn items(text: &str, first: usize) -> String {
    let mut out = String::new();
    for line in numbered(text, first) {
        let class = if line.note { " class=\"note\"" } else { "" };
        out.push_str(&format!(
            "<li id=\"L{n}\"{class}><a href=\"?from={n}#L{n}\">{n}</a><span>{}</span></li>",
            html::escape(&line.text),
            n = line.n,
        ));
    }
    out
}

/// `GET /runs/{id}/events?after=&line=`: the log's new lines as they are written, each event's
/// id saying where it ends, so a reconnecting browser resumes where it was; `end` once the run
/// has ended and every line was sent.
pub async fn events(
    State(dashboard): State<Dashboard>,
    viewer: Viewer,
    Path(id): Path<String>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let (run, _, _) = match visible_run(&dashboard, &viewer, &id).await {
        Ok(found) => found,
        Err(refused) => return refused,
    };
    let start = resume_point(&headers, query.as_deref());
    let state = Follow {
        dashboard,
        signed_in: viewer.user().is_some(),
        headers,
        born: std::time::Instant::now(),
        run,
        after: start.0,
        line: start.1,
        ended: false,
        first: true,
        size: None,
    };
    let stream = futures_util::stream::unfold(state, |mut follow| async move {
        if follow.ended {
            return None;
        }
        loop {
            if !follow.first {
                tokio::time::sleep(FOLLOW_EVERY).await;
            }
            follow.first = false;
            if follow.born.elapsed() > STREAM_LIFE {
                return None;
            }
            // A session signed out, or expired, stops its streams at the next look.
            if follow.signed_in
                && !matches!(
                    follow.dashboard.signin.session(&follow.headers).await,
                    Ok(Some(_))
                )
            {
                return None;
            }
            let refreshed = async {
                let mut conn = follow.dashboard.store.reader().await?;
                runs::run(&mut conn, follow.run.id).await
            };
            if let Ok(Some(run)) = refreshed.await {
                follow.run = run;
            }
            let path = log_path(&follow.dashboard, &follow.run);
            let size = tokio::fs::metadata(&path).await.map(|m| m.len()).ok();
            if size.is_some() && size == follow.size && !follow.run.state.is_final() {
                continue;
            }
            follow.size = size;
            let read = read_log(&follow.dashboard, &follow.run, follow.after).await;
            match read {
                Ok(LogText { text, end, .. }) if !text.is_empty() => {
                    let count = text.lines().count();
                    let next = follow.line.saturating_add(count);
                    let event = Event::default()
                        .event("line")
                        .id(format!("{end}:{next}"))
                        .data(items(&text, follow.line));
                    follow.after = end;
                    follow.line = next;
                    return Some((Ok::<_, Infallible>(event), follow));
                }
                Ok(_) | Err(ReadError::Missing) if follow.run.state.is_final() => {
                    follow.ended = true;
                    let event = Event::default()
                        .event("end")
                        .data(follow.run.state.as_str());
                    return Some((Ok(event), follow));
                }
                Ok(_) | Err(ReadError::Missing) => {}
                Err(ReadError::Misaligned) => {
                    // A place inside a line is not a place to resume from: from the start.
                    follow.after = 0;
                    follow.line = 1;
                    follow.size = None;
                    follow.first = true;
                }
                Err(error) => {
                    tracing::warn!(run = follow.run.id, %error, "a followed run log could not be read");
                    follow.ended = true;
                    return Some((Ok(Event::default().event("end").data("unreadable")), follow));
                }
            }
        }
    });
    Sse::new(stream)
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response()
}

/// What a followed log's stream carries from one event to the next.
struct Follow {
    dashboard: Dashboard,
    /// Whether a signed-in user opened it (their session is checked at every look).
    signed_in: bool,
    /// The request's headers, whose session cookie is checked again.
    headers: HeaderMap,
    /// When the stream began.
    born: std::time::Instant,
    run: RunRow,
    after: u64,
    line: usize,
    ended: bool,
    first: bool,
    /// The log file's size when last read: a log that has not grown is not read again.
    size: Option<u64>,
}
