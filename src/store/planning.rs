//! Planner runs: which `/ade plan` asked a planner agent for a plan, where it stands, and the
//! version it produced. Every state move is a compare-and-set on the state it leaves, so a cancel
//! racing the planner's end cannot both win; `crate::lifecycle::PlanningState` decides which moves
//! are legal.

use super::audit::{self, About, Entry, Outcome};
use super::query::{self, all, moved, optional};
use super::{Conn, StoreError, state};
use crate::lifecycle::{PlanningState, State};
use sqlx::Row;
use sqlx::any::AnyRow;

/// A planner run about to be stored.
#[derive(Clone, Debug)]
pub struct NewPlanning<'a> {
    /// The goal it plans.
    pub goal: i64,
    /// The `/ade plan` comment.
    pub comment_id: i64,
    /// Which command line of the comment (its reply's index).
    pub reply_index: i64,
    /// The planner agent.
    pub agent: &'a str,
    /// Who asked.
    pub requester: &'a str,
    /// The text after `--`, sanitized.
    pub instructions: Option<&'a str>,
    /// The default branch's head the planner reads.
    pub base_commit: &'a str,
}

/// A stored planner run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlanningRow {
    /// Its id.
    pub id: i64,
    /// The goal.
    pub goal: i64,
    /// The `/ade plan` comment.
    pub comment_id: i64,
    /// Which command line of the comment.
    pub reply_index: i64,
    /// The planner agent.
    pub agent: String,
    /// Where it stands.
    pub state: PlanningState,
    /// Who asked.
    pub requester: String,
    /// The text after `--`, sanitized.
    pub instructions: Option<String>,
    /// The default branch's head the planner reads.
    pub base_commit: String,
    /// The spec version it produced.
    pub spec: Option<i64>,
    /// The runner that took it.
    pub runner: Option<String>,
    /// The planner's log on the runner.
    pub log: Option<String>,
    /// Why it failed or was cancelled.
    pub reason: Option<String>,
    /// Whether a cancel was asked for.
    pub cancel_requested: bool,
    /// When it was asked for.
    pub created_at: i64,
    /// When a runner started it.
    pub started_at: Option<i64>,
    /// When it ended.
    pub finished_at: Option<i64>,
}

const COLUMNS: &str = "id, goal, comment_id, reply_index, agent, state, requester, instructions, \
     base_commit, spec, runner, log, reason, cancel_requested, created_at, started_at, finished_at";

fn row(r: &AnyRow) -> Result<PlanningRow, sqlx::Error> {
    Ok(PlanningRow {
        id: r.try_get(0)?,
        goal: r.try_get(1)?,
        comment_id: r.try_get(2)?,
        reply_index: r.try_get(3)?,
        agent: r.try_get(4)?,
        state: state(r, 5)?,
        requester: r.try_get(6)?,
        instructions: r.try_get(7)?,
        base_commit: r.try_get(8)?,
        spec: r.try_get(9)?,
        runner: r.try_get(10)?,
        log: r.try_get(11)?,
        reason: r.try_get(12)?,
        cancel_requested: r.try_get::<i64, _>(13)? != 0,
        created_at: r.try_get(14)?,
        started_at: r.try_get(15)?,
        finished_at: r.try_get(16)?,
    })
}

/// Stores a planner run as `queued`; `None` when this command line already asked for one (a
/// delivery seen again), which then plans nothing new.
pub async fn insert(
    conn: &mut Conn,
    new: &NewPlanning<'_>,
    now: i64,
) -> Result<Option<i64>, StoreError> {
    let id: Option<i64> = optional(
        conn,
        sqlx::query(
            "INSERT INTO planner_runs (goal, comment_id, reply_index, agent, state, requester, \
             instructions, base_commit, created_at) \
             VALUES ($1, $2, $3, $4, 'queued', $5, $6, $7, $8) \
             ON CONFLICT (goal, comment_id, reply_index) DO NOTHING RETURNING id",
        )
        .bind(new.goal)
        .bind(new.comment_id)
        .bind(new.reply_index)
        .bind(new.agent)
        .bind(new.requester)
        .bind(new.instructions)
        .bind(new.base_commit)
        .bind(now),
        |r| r.try_get(0),
        "store planner run",
    )
    .await?;
    if let Some(id) = id {
        let entry = Entry::new(
            now,
            audit::actor_kind(new.requester),
            new.requester,
            "planning.queued",
            "planner run",
            Outcome::Ok,
        )
        .with("agent", new.agent)
        .with("base", new.base_commit);
        audit::record_about(conn, About::Planning(id), &entry).await?;
    }
    Ok(id)
}

/// One planner run.
pub async fn get(conn: &mut Conn, id: i64) -> Result<Option<PlanningRow>, StoreError> {
    optional(
        conn,
        sqlx::query(&format!("SELECT {COLUMNS} FROM planner_runs WHERE id = $1")).bind(id),
        row,
        "read planner run",
    )
    .await
}

/// The planner runs of a goal, newest first.
pub async fn of_goal(conn: &mut Conn, goal: i64) -> Result<Vec<PlanningRow>, StoreError> {
    all(
        conn,
        sqlx::query(&format!(
            "SELECT {COLUMNS} FROM planner_runs WHERE goal = $1 ORDER BY id DESC"
        ))
        .bind(goal),
        row,
        "read planner runs",
    )
    .await
}

/// Marks a planner run started by `runner`, from `from` (`queued`, or `running` when a runner
/// whose lease expired is replaced); false if it was not in `from`.
pub async fn start(
    conn: &mut Conn,
    id: i64,
    from: PlanningState,
    runner: &str,
    now: i64,
) -> Result<bool, StoreError> {
    from.transition(PlanningState::Running)?;
    let started = moved(
        &mut *conn,
        sqlx::query(
            "UPDATE planner_runs SET state = 'running', runner = $1, started_at = $2 \
             WHERE id = $3 AND state = $4",
        )
        .bind(runner)
        .bind(now)
        .bind(id)
        .bind(from.as_str()),
        "start planner run",
    )
    .await?;
    if started {
        let entry = audit::move_entry(
            from,
            PlanningState::Running,
            "ade",
            "planner run".into(),
            now,
        )
        .with("runner", runner);
        audit::record_about(conn, About::Planning(id), &entry).await?;
    }
    Ok(started)
}

/// How a planner run ends.
#[derive(Clone, Debug)]
pub struct PlanningEnd<'a> {
    /// The state it ends in.
    pub state: PlanningState,
    /// The version it produced.
    pub spec: Option<i64>,
    /// The planner's log on the runner.
    pub log: Option<&'a str>,
    /// The signed link to the log the plan comment shows.
    pub log_link: Option<&'a str>,
    /// Why it failed or was cancelled.
    pub reason: Option<&'a str>,
    /// The runner's report (JSON).
    pub report: Option<&'a str>,
}

/// Ends a planner run that is in `from`; false if it was not. A planner run asked to stop is
/// never ended as planned: the check is in the same statement, so a cancel committed meanwhile
/// wins on either database.
pub async fn finish(
    conn: &mut Conn,
    id: i64,
    from: PlanningState,
    end: &PlanningEnd<'_>,
    now: i64,
) -> Result<bool, StoreError> {
    from.transition(end.state)?;
    let finished = moved(
        &mut *conn,
        sqlx::query(
            "UPDATE planner_runs SET state = $1, spec = $2, log = $3, log_link = $4, reason = $5, \
             report = $6, finished_at = $7 WHERE id = $8 AND state = $9 \
             AND (state <> 'running' OR $10 <> 'planned' OR cancel_requested = 0)",
        )
        .bind(end.state.as_str())
        .bind(end.spec)
        .bind(end.log)
        .bind(end.log_link)
        .bind(end.reason)
        .bind(end.report)
        .bind(now)
        .bind(id)
        .bind(from.as_str())
        .bind(end.state.as_str()),
        "finish planner run",
    )
    .await?;
    if finished {
        let mut entry = audit::move_entry(from, end.state, "ade", "planner run".into(), now);
        if end.state == PlanningState::Failed {
            entry.outcome = Outcome::Failed;
        }
        if let Some(reason) = end.reason {
            entry = entry.with("why", reason);
        }
        audit::record_about(conn, About::Planning(id), &entry).await?;
    }
    Ok(finished)
}

/// The link to the log of the planner run that wrote spec version `spec`, if a planner agent did.
pub async fn log_link_of_spec(conn: &mut Conn, spec: i64) -> Result<Option<String>, StoreError> {
    let link: Option<Option<String>> = optional(
        conn,
        sqlx::query("SELECT log_link FROM planner_runs WHERE spec = $1").bind(spec),
        |r| r.try_get(0),
        "read planner log link",
    )
    .await?;
    Ok(link.flatten())
}

/// Asks a planner run still queued or running to stop: the runner carrying it out sees the flag
/// within seconds. False when it had ended already.
pub async fn request_cancel(conn: &mut Conn, id: i64) -> Result<bool, StoreError> {
    moved(
        conn,
        sqlx::query(
            "UPDATE planner_runs SET cancel_requested = 1 \
             WHERE id = $1 AND state IN ('queued', 'running')",
        )
        .bind(id),
        "request planner cancel",
    )
    .await
}

/// Whether a cancel was asked for planner run `id`.
pub async fn cancel_requested(conn: &mut Conn, id: i64) -> Result<bool, StoreError> {
    query::cancel_requested(conn, "planner_runs", id, "read planner cancel flag").await
}
