//! Runs: which attempt of which task, where it stands, how it ended. Every state move is a
//! compare-and-set on the state it leaves, so a cancel racing a runner's result, or two runners
//! after a lease takeover, cannot both win; `crate::lifecycle::RunState` decides which moves are
//! legal.

use super::audit::{self, About, ActorKind, Entry, Outcome};
use super::query::{self, all, moved, optional, write};
use super::{Conn, Context, StoreError, state};
use crate::forge::ForgeKind;
use crate::lifecycle::{RunState, State};
use sqlx::Row;
use sqlx::any::AnyRow;

/// Whether a run of `repository` on `branch` is queued or running: a pull request from that
/// branch may be its approval, opened but not yet recorded.
pub async fn run_in_flight_on_branch(
    conn: &mut Conn,
    forge: ForgeKind,
    repository: &str,
    branch: &str,
) -> Result<bool, StoreError> {
    let row = sqlx::query(
        "SELECT r.id FROM runs r JOIN tasks t ON t.id = r.task JOIN specs s ON s.id = t.spec \
         JOIN goals g ON g.id = s.goal \
         WHERE g.forge = $1 AND g.repository = $2 AND r.branch = $3 \
           AND r.state IN ('queued', 'running') \
         LIMIT 1",
    )
    .bind(forge.as_str())
    .bind(repository)
    .bind(branch)
    .fetch_optional(conn)
    .await
    .context("find a run in flight on a branch")?;
    Ok(row.is_some())
}

/// Whether a run starts its task afresh or continues its approval's branch.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunCause {
    /// The task's first run, or `/ade run` starting it again: from the spec's base (or, for a
    /// task with dependencies, the default branch's head).
    Start,
    /// A retry after failed verification, or `/ade retry`: the agent continues on the approval's
    /// head with feedback.
    Retry,
    /// A review that asked for changes (one or several close together): the agent continues on
    /// the approval's head with the reviews as feedback, and ade replies on the approval after.
    Review,
}

impl RunCause {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            RunCause::Start => "start",
            RunCause::Retry => "retry",
            RunCause::Review => "review",
        }
    }

    /// Whether the run continues its approval's branch from the approval's head, rather than
    /// starting the task afresh.
    pub fn continues(self) -> bool {
        matches!(self, RunCause::Retry | RunCause::Review)
    }
}

/// A run about to be stored.
#[derive(Clone, Debug)]
pub struct NewRun<'a> {
    /// The task row it carries out.
    pub task: i64,
    /// The agent chosen.
    pub agent: &'a str,
    /// The environment chosen.
    pub environment: &'a str,
    /// The commit it starts from.
    pub base_sha: &'a str,
    /// The branch it pushes.
    pub branch: &'a str,
    /// Who asked for it (approved the spec, or commented `/ade run`).
    pub requester: &'a str,
    /// What went wrong in the previous attempt, for the agent.
    pub feedback: Option<&'a str>,
    /// Afresh or continuing.
    pub cause: RunCause,
}

/// A stored run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunRow {
    /// Its id (`Ade-Run:`).
    pub id: i64,
    /// The task row.
    pub task: i64,
    /// 1 for a task's first run.
    pub attempt: i64,
    /// Where it stands.
    pub state: RunState,
    /// The agent.
    pub agent: String,
    /// The environment.
    pub environment: String,
    /// The commit it starts from.
    pub base_sha: String,
    /// The branch it pushes.
    pub branch: String,
    /// Who asked for it.
    pub requester: String,
    /// Feedback from the previous attempt.
    pub feedback: Option<String>,
    /// Afresh or continuing.
    pub cause: RunCause,
    /// The runner that took it.
    pub runner: Option<String>,
    /// The commit it pushed.
    pub head_sha: Option<String>,
    /// Why it failed or was cancelled.
    pub reason: Option<String>,
    /// Its report (JSON), once finished.
    pub report: Option<String>,
    /// Whether a cancel was asked for.
    pub cancel_requested: bool,
    /// When it was queued, started and finished.
    pub created_at: i64,
    /// When a runner started it.
    pub started_at: Option<i64>,
    /// When it ended.
    pub finished_at: Option<i64>,
}

const RUN_COLUMNS: &str = "id, task, attempt, state, agent, environment, base_sha, branch, \
     requester, feedback, runner, head_sha, reason, report, cancel_requested, created_at, \
     started_at, finished_at, cause";

fn run_row(r: &AnyRow) -> Result<RunRow, sqlx::Error> {
    Ok(RunRow {
        id: r.try_get(0)?,
        task: r.try_get(1)?,
        attempt: r.try_get(2)?,
        state: state(r, 3)?,
        agent: r.try_get(4)?,
        environment: r.try_get(5)?,
        base_sha: r.try_get(6)?,
        branch: r.try_get(7)?,
        requester: r.try_get(8)?,
        feedback: r.try_get(9)?,
        runner: r.try_get(10)?,
        head_sha: r.try_get(11)?,
        reason: r.try_get(12)?,
        report: r.try_get(13)?,
        cancel_requested: r.try_get::<i64, _>(14)? != 0,
        created_at: r.try_get(15)?,
        started_at: r.try_get(16)?,
        finished_at: r.try_get(17)?,
        cause: match r.try_get::<String, _>(18)?.as_str() {
            "retry" => RunCause::Retry,
            "review" => RunCause::Review,
            _ => RunCause::Start,
        },
    })
}

/// Stores a new run of a task as `queued`, as the task's next attempt. Returns its id.
pub async fn insert_run(conn: &mut Conn, run: &NewRun<'_>, now: i64) -> Result<i64, StoreError> {
    let row = sqlx::query(
        "INSERT INTO runs (task, attempt, state, agent, environment, base_sha, branch, requester, \
         feedback, created_at, cause) \
         VALUES ($1, (SELECT COALESCE(MAX(attempt), 0) + 1 FROM runs WHERE task = $2), 'queued', \
         $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id",
    )
    .bind(run.task)
    .bind(run.task)
    .bind(run.agent)
    .bind(run.environment)
    .bind(run.base_sha)
    .bind(run.branch)
    .bind(run.requester)
    .bind(run.feedback)
    .bind(now)
    .bind(run.cause.as_str())
    .fetch_one(&mut *conn)
    .await
    .context("store run")?;
    let id: i64 = row.try_get(0).context("read run id")?;
    let entry = Entry::new(now, ActorKind::Ade, "ade", "run.queued", "run", Outcome::Ok)
        .with("requester", run.requester)
        .with("agent", run.agent)
        .with("environment", run.environment)
        .with("cause", run.cause.as_str())
        .with("base", run.base_sha);
    audit::record_about(conn, About::Run(id), &entry).await?;
    Ok(id)
}

/// One run.
pub async fn run(conn: &mut Conn, id: i64) -> Result<Option<RunRow>, StoreError> {
    optional(
        conn,
        sqlx::query(&format!("SELECT {RUN_COLUMNS} FROM runs WHERE id = $1")).bind(id),
        run_row,
        "read run",
    )
    .await
}

/// The runs of a task, newest first.
pub async fn runs_of_task(conn: &mut Conn, task: i64) -> Result<Vec<RunRow>, StoreError> {
    all(
        conn,
        sqlx::query(&format!(
            "SELECT {RUN_COLUMNS} FROM runs WHERE task = $1 ORDER BY attempt DESC"
        ))
        .bind(task),
        run_row,
        "read runs",
    )
    .await
}

/// Every run, oldest first (the run list of the dashboard and of tests).
pub async fn all_runs(conn: &mut Conn) -> Result<Vec<RunRow>, StoreError> {
    all(
        conn,
        sqlx::query(&format!("SELECT {RUN_COLUMNS} FROM runs ORDER BY id")),
        run_row,
        "read runs",
    )
    .await
}

/// Records the commit a run starts from, once the runner knows it (a task with dependencies
/// starts from the default branch that holds their merged work).
pub async fn set_run_base(conn: &mut Conn, id: i64, base_sha: &str) -> Result<(), StoreError> {
    write(
        conn,
        sqlx::query("UPDATE runs SET base_sha = $1 WHERE id = $2")
            .bind(base_sha)
            .bind(id),
        "record run base",
    )
    .await
}

/// Records the commit a run pushed, as soon as the forge has it and before anything else may
/// fail: a later run of the task leases the branch against it.
pub async fn set_pushed_head(conn: &mut Conn, id: i64, head_sha: &str) -> Result<(), StoreError> {
    write(
        conn,
        sqlx::query("UPDATE runs SET head_sha = $1 WHERE id = $2")
            .bind(head_sha)
            .bind(id),
        "record pushed head",
    )
    .await
}

/// Marks a run started by `runner`, from `from` (`queued`, or `running` when a runner whose
/// lease expired is being replaced); false if it was not in `from`.
pub async fn start_run(
    conn: &mut Conn,
    id: i64,
    from: RunState,
    runner: &str,
    now: i64,
) -> Result<bool, StoreError> {
    from.transition(RunState::Running)?;
    let started = moved(
        &mut *conn,
        sqlx::query(
            "UPDATE runs SET state = 'running', runner = $1, started_at = $2 \
         WHERE id = $3 AND state = $4",
        )
        .bind(runner)
        .bind(now)
        .bind(id)
        .bind(from.as_str()),
        "start run",
    )
    .await?;
    if started {
        let entry = audit::move_entry(from, RunState::Running, "ade", "run".into(), now)
            .with("runner", runner);
        audit::record_about(conn, About::Run(id), &entry).await?;
    }
    Ok(started)
}

/// Puts a running run back in the queue with `reason`: the runner's setup could not start it,
/// and its job tries again later (docs/runner.md). False if the run was not running.
pub async fn hold_run(
    conn: &mut Conn,
    id: i64,
    reason: &str,
    now: i64,
) -> Result<bool, StoreError> {
    RunState::Running.transition(RunState::Queued)?;
    let held = moved(
        &mut *conn,
        sqlx::query(
            "UPDATE runs SET state = 'queued', reason = $1 WHERE id = $2 AND state = 'running'",
        )
        .bind(reason)
        .bind(id),
        "hold run",
    )
    .await?;
    if held {
        let entry = Entry::new(
            now,
            ActorKind::Ade,
            "ade",
            "run.held",
            "run",
            Outcome::Failed,
        )
        .with("why", reason);
        audit::record_about(conn, About::Run(id), &entry).await?;
    }
    Ok(held)
}

/// How many runs are held: queued again with a reason because the runner's setup could not start
/// them (see [`hold_run`]), for the `ade_runs_held` gauge.
pub async fn count_held(conn: &mut Conn) -> Result<i64, StoreError> {
    let row =
        sqlx::query("SELECT COUNT(*) FROM runs WHERE state = 'queued' AND reason IS NOT NULL")
            .fetch_one(conn)
            .await
            .context("count held runs")?;
    row.try_get(0).context("count held runs")
}

/// How a run ended.
#[derive(Clone, Debug)]
pub struct RunEnd<'a> {
    /// The state it ends in.
    pub state: RunState,
    /// The commit it pushed, if any.
    pub head_sha: Option<&'a str>,
    /// Why it failed or was cancelled.
    pub reason: Option<&'a str>,
    /// Its report (JSON).
    pub report: Option<&'a str>,
}

/// Ends a run that is in `from`; false if it was not.
pub async fn finish_run(
    conn: &mut Conn,
    id: i64,
    from: RunState,
    end: &RunEnd<'_>,
    now: i64,
) -> Result<bool, StoreError> {
    from.transition(end.state)?;
    let finished = moved(
        &mut *conn,
        sqlx::query(
            "UPDATE runs SET state = $1, head_sha = $2, reason = $3, report = $4, finished_at = $5 \
         WHERE id = $6 AND state = $7",
        )
        .bind(end.state.as_str())
        .bind(end.head_sha)
        .bind(end.reason)
        .bind(end.report)
        .bind(now)
        .bind(id)
        .bind(from.as_str()),
        "finish run",
    )
    .await?;
    if finished {
        let mut entry = audit::move_entry(from, end.state, "ade", "run".into(), now);
        if end.state == RunState::Failed {
            entry.outcome = Outcome::Failed;
        }
        if let Some(head) = end.head_sha {
            entry = entry.with("head", head);
        }
        if let Some(reason) = end.reason {
            entry = entry.with("why", reason);
        }
        audit::record_about(conn, About::Run(id), &entry).await?;
    }
    Ok(finished)
}

/// Asks a run to stop: the runner carrying it out sees the flag within seconds.
pub async fn request_cancel(conn: &mut Conn, id: i64) -> Result<(), StoreError> {
    query::request_cancel(conn, "runs", id, "request cancel").await
}

/// Whether a cancel was asked for `id`.
pub async fn cancel_requested(conn: &mut Conn, id: i64) -> Result<bool, StoreError> {
    query::cancel_requested(conn, "runs", id, "read cancel flag").await
}
