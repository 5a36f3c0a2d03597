//! Runs and the task rows they carry out: which attempt of which task, where it stands, how it
//! ended, and the approval (pull request) a task ends in. Every state move is a compare-and-set
//! on the state it leaves, so a cancel racing a runner's result, or two runners after a lease
//! takeover, cannot both win. The legal moves live in `crate::coordinator`.

use super::{Conn, Context, StoreError};
use crate::forge::ForgeKind;
use sqlx::Row;
use sqlx::any::AnyRow;

/// A task of an active spec as stored, with what locates it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TaskRow {
    /// The row id.
    pub id: i64,
    /// The spec version row it belongs to.
    pub spec: i64,
    /// The task id in the spec (`t1`).
    pub task_id: String,
    /// Its state, as `coordinator::tasks::TaskState` names it.
    pub state: String,
    /// The branch its runs push, once one has.
    pub branch: Option<String>,
    /// Its approval's pull request number, once opened.
    pub pull_number: Option<i64>,
    /// The commit its approval shows.
    pub head_sha: Option<String>,
}

const TASK_COLUMNS: &str = "t.id, t.spec, t.task_id, t.state, t.branch, t.pull_number, t.head_sha";

fn task_row(row: &AnyRow) -> Result<TaskRow, sqlx::Error> {
    Ok(TaskRow {
        id: row.try_get(0)?,
        spec: row.try_get(1)?,
        task_id: row.try_get(2)?,
        state: row.try_get(3)?,
        branch: row.try_get(4)?,
        pull_number: row.try_get(5)?,
        head_sha: row.try_get(6)?,
    })
}

/// The tasks of a spec version, in plan order.
pub async fn tasks_of(conn: &mut Conn, spec: i64) -> Result<Vec<TaskRow>, StoreError> {
    let rows = sqlx::query(&format!(
        "SELECT {TASK_COLUMNS} FROM tasks t WHERE t.spec = $1 ORDER BY t.id"
    ))
    .bind(spec)
    .fetch_all(conn)
    .await
    .context("read tasks")?;
    rows.iter()
        .map(task_row)
        .collect::<Result<_, _>>()
        .context("read tasks")
}

/// One task row.
pub async fn task(conn: &mut Conn, id: i64) -> Result<Option<TaskRow>, StoreError> {
    let row = sqlx::query(&format!(
        "SELECT {TASK_COLUMNS} FROM tasks t WHERE t.id = $1"
    ))
    .bind(id)
    .fetch_optional(conn)
    .await
    .context("read task")?;
    row.as_ref().map(task_row).transpose().context("read task")
}

/// The task whose approval is pull request `number` of a repository, with its spec's goal
/// number, if ade opened it.
pub async fn task_by_pull(
    conn: &mut Conn,
    forge: ForgeKind,
    repository: &str,
    number: i64,
) -> Result<Option<TaskRow>, StoreError> {
    let row = sqlx::query(&format!(
        "SELECT {TASK_COLUMNS} FROM tasks t JOIN specs s ON s.id = t.spec \
         JOIN goals g ON g.id = s.goal \
         WHERE g.forge = $1 AND g.repository = $2 AND t.pull_number = $3 \
         ORDER BY t.id DESC LIMIT 1"
    ))
    .bind(forge.as_str())
    .bind(repository)
    .bind(number)
    .fetch_optional(conn)
    .await
    .context("find task by pull request")?;
    row.as_ref().map(task_row).transpose().context("read task")
}

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

/// Moves a task from `from` to `to`; false if it was no longer in `from`.
pub async fn move_task(
    conn: &mut Conn,
    id: i64,
    from: &str,
    to: &str,
    now: i64,
) -> Result<bool, StoreError> {
    let done =
        sqlx::query("UPDATE tasks SET state = $1, changed_at = $2 WHERE id = $3 AND state = $4")
            .bind(to)
            .bind(now)
            .bind(id)
            .bind(from)
            .execute(conn)
            .await
            .context("move task")?;
    Ok(done.rows_affected() == 1)
}

/// Records a task's approval: its branch, pull request and the commit it shows.
pub async fn set_approval(
    conn: &mut Conn,
    id: i64,
    branch: &str,
    pull_number: i64,
    head_sha: &str,
) -> Result<(), StoreError> {
    sqlx::query("UPDATE tasks SET branch = $1, pull_number = $2, head_sha = $3 WHERE id = $4")
        .bind(branch)
        .bind(pull_number)
        .bind(head_sha)
        .bind(id)
        .execute(conn)
        .await
        .context("record approval")?;
    Ok(())
}

/// Records the title and text of a goal's issue (sanitized) as planned, for the comments ade keeps
/// up to date and the agents' prompts.
pub async fn set_goal_text(
    conn: &mut Conn,
    goal: i64,
    title: &str,
    body: &str,
) -> Result<(), StoreError> {
    sqlx::query("UPDATE goals SET title = $1, body = $2 WHERE id = $3")
        .bind(title)
        .bind(body)
        .bind(goal)
        .execute(conn)
        .await
        .context("record goal title")?;
    Ok(())
}

/// A goal as the runs of its tasks need it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GoalRow {
    /// The row id.
    pub id: i64,
    /// The forge.
    pub forge: String,
    /// `owner/name`.
    pub repository: String,
    /// The issue number.
    pub number: i64,
    /// The issue title when it was last planned (sanitized).
    pub title: String,
    /// The issue text when it was last planned (sanitized).
    pub body: String,
}

/// The goal a spec version belongs to.
pub async fn goal_of_spec(conn: &mut Conn, spec: i64) -> Result<Option<GoalRow>, StoreError> {
    let row = sqlx::query(
        "SELECT g.id, g.forge, g.repository, g.number, g.title, g.body FROM goals g \
         JOIN specs s ON s.goal = g.id WHERE s.id = $1",
    )
    .bind(spec)
    .fetch_optional(conn)
    .await
    .context("read goal")?;
    row.map(|r| {
        Ok(GoalRow {
            id: r.try_get(0)?,
            forge: r.try_get(1)?,
            repository: r.try_get(2)?,
            number: r.try_get(3)?,
            title: r.try_get(4)?,
            body: r.try_get(5)?,
        })
    })
    .transpose()
    .context("read goal")
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
    /// Where it stands, as `coordinator::runs::RunState` names it.
    pub state: String,
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
     started_at, finished_at";

fn run_row(r: &AnyRow) -> Result<RunRow, sqlx::Error> {
    Ok(RunRow {
        id: r.try_get(0)?,
        task: r.try_get(1)?,
        attempt: r.try_get(2)?,
        state: r.try_get(3)?,
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
    })
}

/// Stores a new run of a task as `queued`, as the task's next attempt. Returns its id.
pub async fn insert_run(conn: &mut Conn, run: &NewRun<'_>, now: i64) -> Result<i64, StoreError> {
    let row = sqlx::query(
        "INSERT INTO runs (task, attempt, state, agent, environment, base_sha, branch, requester, \
         feedback, created_at) \
         VALUES ($1, (SELECT COALESCE(MAX(attempt), 0) + 1 FROM runs WHERE task = $2), 'queued', \
         $3, $4, $5, $6, $7, $8, $9) RETURNING id",
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
    .fetch_one(conn)
    .await
    .context("store run")?;
    row.try_get(0).context("read run id")
}

/// One run.
pub async fn run(conn: &mut Conn, id: i64) -> Result<Option<RunRow>, StoreError> {
    let row = sqlx::query(&format!("SELECT {RUN_COLUMNS} FROM runs WHERE id = $1"))
        .bind(id)
        .fetch_optional(conn)
        .await
        .context("read run")?;
    row.as_ref().map(run_row).transpose().context("read run")
}

/// The runs of a task, newest first.
pub async fn runs_of_task(conn: &mut Conn, task: i64) -> Result<Vec<RunRow>, StoreError> {
    let rows = sqlx::query(&format!(
        "SELECT {RUN_COLUMNS} FROM runs WHERE task = $1 ORDER BY attempt DESC"
    ))
    .bind(task)
    .fetch_all(conn)
    .await
    .context("read runs")?;
    rows.iter()
        .map(run_row)
        .collect::<Result<_, _>>()
        .context("read runs")
}

/// Every run, oldest first (the run list of the dashboard and of tests).
pub async fn all_runs(conn: &mut Conn) -> Result<Vec<RunRow>, StoreError> {
    let rows = sqlx::query(&format!("SELECT {RUN_COLUMNS} FROM runs ORDER BY id"))
        .fetch_all(conn)
        .await
        .context("read runs")?;
    rows.iter()
        .map(run_row)
        .collect::<Result<_, _>>()
        .context("read runs")
}

/// Records the commit a run starts from, once the runner knows it (a task with dependencies
/// starts from the default branch that holds their merged work).
pub async fn set_run_base(conn: &mut Conn, id: i64, base_sha: &str) -> Result<(), StoreError> {
    sqlx::query("UPDATE runs SET base_sha = $1 WHERE id = $2")
        .bind(base_sha)
        .bind(id)
        .execute(conn)
        .await
        .context("record run base")?;
    Ok(())
}

/// Marks a run started by `runner`, from `from` (`queued`, or `running` when a runner whose
/// lease expired is being replaced); false if it was not in `from`.
pub async fn start_run(
    conn: &mut Conn,
    id: i64,
    from: &str,
    runner: &str,
    now: i64,
) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "UPDATE runs SET state = 'running', runner = $1, started_at = $2 \
         WHERE id = $3 AND state = $4",
    )
    .bind(runner)
    .bind(now)
    .bind(id)
    .bind(from)
    .execute(conn)
    .await
    .context("start run")?;
    Ok(done.rows_affected() == 1)
}

/// How a run ended.
#[derive(Clone, Debug)]
pub struct RunEnd<'a> {
    /// The state it ends in.
    pub state: &'a str,
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
    from: &str,
    end: &RunEnd<'_>,
    now: i64,
) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "UPDATE runs SET state = $1, head_sha = $2, reason = $3, report = $4, finished_at = $5 \
         WHERE id = $6 AND state = $7",
    )
    .bind(end.state)
    .bind(end.head_sha)
    .bind(end.reason)
    .bind(end.report)
    .bind(now)
    .bind(id)
    .bind(from)
    .execute(conn)
    .await
    .context("finish run")?;
    Ok(done.rows_affected() == 1)
}

/// Asks a run to stop: the runner carrying it out sees the flag within seconds.
pub async fn request_cancel(conn: &mut Conn, id: i64) -> Result<(), StoreError> {
    sqlx::query("UPDATE runs SET cancel_requested = 1 WHERE id = $1")
        .bind(id)
        .execute(conn)
        .await
        .context("request cancel")?;
    Ok(())
}

/// Whether a cancel was asked for `id`.
pub async fn cancel_requested(conn: &mut Conn, id: i64) -> Result<bool, StoreError> {
    let row = sqlx::query("SELECT cancel_requested FROM runs WHERE id = $1")
        .bind(id)
        .fetch_optional(conn)
        .await
        .context("read cancel flag")?;
    Ok(row
        .map(|r| r.try_get::<i64, _>(0))
        .transpose()
        .context("read cancel flag")?
        .unwrap_or(0)
        != 0)
}
