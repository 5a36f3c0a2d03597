//! Verifications: each time the policy's steps run on one head of an approval, why (the run that
//! pushed it, a push by someone else, a re-run, `/ade verify`), where it stands and what it found.
//! The newest head wins: starting a verification supersedes the approval's unfinished older ones.

use super::audit::{self, About, Outcome};
use super::query::{self, all, moved, optional};
use super::{Conn, Context, StoreError, named, state};
use crate::lifecycle::{State, VerificationState};
use sqlx::Row;
use sqlx::any::AnyRow;

/// Why a verification runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Cause {
    /// The run that pushed the head verifies it in its own worktree.
    Run,
    /// Someone else pushed to the approval's branch.
    Push,
    /// GitHub's "Re-run" on the check.
    Rerun,
    /// `/ade verify` on the approval.
    Command,
}

impl Cause {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Cause::Run => "run",
            Cause::Push => "push",
            Cause::Rerun => "rerun",
            Cause::Command => "command",
        }
    }

    fn parse(name: &str) -> Option<Cause> {
        [Cause::Run, Cause::Push, Cause::Rerun, Cause::Command]
            .into_iter()
            .find(|c| c.as_str() == name)
    }
}

/// A verification about to be stored.
#[derive(Clone, Debug)]
pub struct NewVerification<'a> {
    /// The approval.
    pub approval: i64,
    /// The run whose change it verifies.
    pub run: i64,
    /// The commit.
    pub head_sha: &'a str,
    /// Why.
    pub cause: Cause,
    /// The state it starts in: `queued` for a job, `running` for the run's own.
    pub state: VerificationState,
    /// Who asked.
    pub requester: &'a str,
}

/// A stored verification.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerificationRow {
    /// Its id.
    pub id: i64,
    /// The approval verified.
    pub approval: i64,
    /// The run whose change it verifies (the newest run of the task when it was asked for).
    pub run: i64,
    /// The commit verified.
    pub head_sha: String,
    /// Why it runs.
    pub cause: Cause,
    /// Where it stands.
    pub state: VerificationState,
    /// Who asked (the run's requester, the pusher, the commenter).
    pub requester: String,
    /// The runner that carried it out.
    pub runner: Option<String>,
    /// The report (JSON), once finished.
    pub report: Option<String>,
    /// Why it failed, erred or was stopped, in a line.
    pub reason: Option<String>,
    /// The log it wrote, on the runner.
    pub log: Option<String>,
    /// Whether a stop was asked for.
    pub cancel_requested: bool,
    /// When it was stored.
    pub created_at: i64,
    /// When a runner started it.
    pub started_at: Option<i64>,
    /// When it ended.
    pub finished_at: Option<i64>,
    /// Until when it waits for the policy's external checks, once its steps let the head through
    /// (an absolute deadline, kept after the wait ends).
    pub external_until: Option<i64>,
}

const COLUMNS: &str = "id, approval, run, head_sha, cause, state, requester, runner, report, \
     reason, log, cancel_requested, created_at, started_at, finished_at, external_until";

fn verification_row(r: &AnyRow) -> Result<VerificationRow, sqlx::Error> {
    Ok(VerificationRow {
        id: r.try_get(0)?,
        approval: r.try_get(1)?,
        run: r.try_get(2)?,
        head_sha: r.try_get(3)?,
        cause: named(r, 4, "verification cause", Cause::parse)?,
        state: state(r, 5)?,
        requester: r.try_get(6)?,
        runner: r.try_get(7)?,
        report: r.try_get(8)?,
        reason: r.try_get(9)?,
        log: r.try_get(10)?,
        cancel_requested: r.try_get::<i64, _>(11)? != 0,
        created_at: r.try_get(12)?,
        started_at: r.try_get(13)?,
        finished_at: r.try_get(14)?,
        external_until: r.try_get(15)?,
    })
}

/// Stores a verification. Returns its id.
pub async fn insert(
    conn: &mut Conn,
    new: &NewVerification<'_>,
    now: i64,
) -> Result<i64, StoreError> {
    let row = sqlx::query(
        "INSERT INTO verifications (approval, run, head_sha, cause, state, requester, created_at, \
            started_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, CASE WHEN $5 = 'running' THEN $7 END) RETURNING id",
    )
    .bind(new.approval)
    .bind(new.run)
    .bind(new.head_sha)
    .bind(new.cause.as_str())
    .bind(new.state.as_str())
    .bind(new.requester)
    .bind(now)
    .fetch_one(conn)
    .await
    .context("store verification")?;
    row.try_get(0).context("read verification id")
}

/// One verification.
pub async fn get(conn: &mut Conn, id: i64) -> Result<Option<VerificationRow>, StoreError> {
    optional(
        conn,
        sqlx::query(&format!(
            "SELECT {COLUMNS} FROM verifications WHERE id = $1"
        ))
        .bind(id),
        verification_row,
        "read verification",
    )
    .await
}

/// The verifications of an approval, newest first.
pub async fn of_approval(
    conn: &mut Conn,
    approval: i64,
) -> Result<Vec<VerificationRow>, StoreError> {
    all(
        conn,
        sqlx::query(&format!(
            "SELECT {COLUMNS} FROM verifications WHERE approval = $1 ORDER BY id DESC"
        ))
        .bind(approval),
        verification_row,
        "read verifications",
    )
    .await
}

/// The verification a run carried out in its own worktree, if it got that far.
pub async fn of_run(conn: &mut Conn, run: i64) -> Result<Option<VerificationRow>, StoreError> {
    optional(conn, sqlx::query(&format!(
        "SELECT {COLUMNS} FROM verifications WHERE run = $1 AND cause = 'run' ORDER BY id DESC LIMIT 1"
    ))
    .bind(run), verification_row, "read verification of run").await
}

/// Marks the approval's unfinished verifications other than `keep` superseded, asking their
/// runners to stop; returns the ones it superseded, as they were (their heads get a cancelled
/// check). One that ended meanwhile is left as it ended.
pub async fn supersede_others(
    conn: &mut Conn,
    approval: i64,
    keep: i64,
    now: i64,
) -> Result<Vec<VerificationRow>, StoreError> {
    let older: Vec<VerificationRow> = of_approval(conn, approval)
        .await?
        .into_iter()
        .filter(|v| v.id != keep && !v.state.is_final())
        .collect();
    let mut superseded = Vec::with_capacity(older.len());
    for v in older {
        let done = sqlx::query(
            "UPDATE verifications SET state = 'superseded', cancel_requested = 1, finished_at = $1, \
                reason = 'a newer head is being verified' \
             WHERE id = $2 AND state IN ('queued', 'running', 'awaiting')",
        )
        .bind(now)
        .bind(v.id)
        .execute(&mut *conn)
        .await
        .context("supersede verification")?;
        if done.rows_affected() == 1 {
            superseded.push(v);
        }
    }
    Ok(superseded)
}

/// Marks a queued verification running on `runner` (or a running one taken over); false if it
/// was not in `from`.
pub async fn start(
    conn: &mut Conn,
    id: i64,
    from: VerificationState,
    runner: &str,
    now: i64,
) -> Result<bool, StoreError> {
    from.transition(VerificationState::Running)?;
    moved(
        conn,
        sqlx::query(
            "UPDATE verifications SET state = 'running', runner = $1, started_at = $2 \
         WHERE id = $3 AND state = $4",
        )
        .bind(runner)
        .bind(now)
        .bind(id)
        .bind(from.as_str()),
        "start verification",
    )
    .await
}

/// How a verification ended.
#[derive(Clone, Debug)]
pub struct VerificationEnd<'a> {
    /// The state it ends in.
    pub state: VerificationState,
    /// The report (JSON).
    pub report: Option<&'a str>,
    /// Why, in a line.
    pub reason: Option<&'a str>,
    /// Its log on the runner.
    pub log: Option<&'a str>,
}

/// Ends a verification that is in `from`; false if it was not (superseded meanwhile).
pub async fn finish(
    conn: &mut Conn,
    id: i64,
    from: VerificationState,
    end: &VerificationEnd<'_>,
    now: i64,
) -> Result<bool, StoreError> {
    from.transition(end.state)?;
    let done = moved(&mut *conn, sqlx::query(
        "UPDATE verifications SET state = $1, report = $2, reason = $3, log = COALESCE($4, log), \
            finished_at = $5 WHERE id = $6 AND state = $7",
    )
    .bind(end.state.as_str())
    .bind(end.report)
    .bind(end.reason)
    .bind(end.log)
    .bind(now)
    .bind(id)
    .bind(from.as_str()), "finish verification").await?;
    if done {
        let mut entry =
            audit::move_entry(from, end.state, "ade", format!("verification {id}"), now);
        if matches!(
            end.state,
            VerificationState::Failed | VerificationState::Error
        ) {
            entry.outcome = Outcome::Failed;
        }
        if let Some(reason) = end.reason {
            entry = entry.with("why", reason);
        }
        audit::record_about(conn, About::Verification(id), &entry).await?;
    }
    Ok(done)
}

/// A verification's wait for external checks, as stored between two looks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredWait {
    /// The wait's progress (JSON, `coordinator::verification::awaiting::Awaited`).
    pub progress: String,
    /// When ade last looked at the forge.
    pub looked_at: Option<i64>,
    /// When a check webhook last named the head.
    pub news_at: Option<i64>,
}

/// Moves a running verification whose steps let its head through to `awaiting` the external
/// checks until `until`, with the wait's `progress` (JSON) and the steps' `log`; false if it was
/// not running (superseded or cancelled meanwhile).
pub async fn await_external(
    conn: &mut Conn,
    id: i64,
    until: i64,
    progress: &str,
    log: Option<&str>,
    now: i64,
) -> Result<bool, StoreError> {
    VerificationState::Running.transition(VerificationState::Awaiting)?;
    let done = moved(
        &mut *conn,
        sqlx::query(
            "UPDATE verifications SET state = 'awaiting', external_until = $1, external_wait = $2, \
                log = COALESCE($3, log), external_looked_at = NULL, external_news_at = NULL \
             WHERE id = $4 AND state = 'running'",
        )
        .bind(until)
        .bind(progress)
        .bind(log)
        .bind(id),
        "await external checks",
    )
    .await?;
    if done {
        let entry = audit::move_entry(
            VerificationState::Running,
            VerificationState::Awaiting,
            "ade",
            format!("verification {id}"),
            now,
        );
        audit::record_about(conn, About::Verification(id), &entry).await?;
    }
    Ok(done)
}

/// The stored wait of a verification that awaited external checks (whatever its state now: one
/// superseded meanwhile still tells the run it belonged to how it ended); `None` if it never
/// waited.
pub async fn awaited(conn: &mut Conn, id: i64) -> Result<Option<StoredWait>, StoreError> {
    optional(
        conn,
        sqlx::query(
            "SELECT external_wait, external_looked_at, external_news_at FROM verifications \
             WHERE id = $1 AND external_wait IS NOT NULL",
        )
        .bind(id),
        |r| {
            Ok(StoredWait {
                progress: r.try_get(0)?,
                looked_at: r.try_get(1)?,
                news_at: r.try_get(2)?,
            })
        },
        "read external wait",
    )
    .await
}

/// Stores the wait's progress after a look that started at `looked_at`; false if the
/// verification stopped awaiting meanwhile.
pub async fn save_wait(
    conn: &mut Conn,
    id: i64,
    progress: &str,
    looked_at: i64,
) -> Result<bool, StoreError> {
    moved(
        conn,
        sqlx::query(
            "UPDATE verifications SET external_wait = $1, external_looked_at = $2 \
             WHERE id = $3 AND state = 'awaiting'",
        )
        .bind(progress)
        .bind(looked_at)
        .bind(id),
        "store external wait",
    )
    .await
}

/// The verifications awaiting external checks on `head_sha` of `repository` (any case) on
/// `forge`, each with when ade last looked; each is marked as having news at `now`.
pub async fn news_for(
    conn: &mut Conn,
    forge: crate::forge::ForgeKind,
    repository: &str,
    head_sha: &str,
    now: i64,
) -> Result<Vec<(i64, Option<i64>)>, StoreError> {
    let found: Vec<(i64, Option<i64>)> = all(
        &mut *conn,
        sqlx::query(
            "SELECT v.id, v.external_looked_at FROM verifications v \
             JOIN approvals a ON a.id = v.approval \
             WHERE v.state = 'awaiting' AND v.head_sha = $1 AND a.forge = $2 \
               AND lower(a.repository) = lower($3)",
        )
        .bind(head_sha.to_ascii_lowercase())
        .bind(forge.as_str())
        .bind(repository),
        |r| Ok((r.try_get(0)?, r.try_get(1)?)),
        "find verifications awaiting a head",
    )
    .await?;
    for (id, _) in &found {
        sqlx::query("UPDATE verifications SET external_news_at = $1 WHERE id = $2")
            .bind(now)
            .bind(*id)
            .execute(&mut *conn)
            .await
            .context("note external news")?;
    }
    Ok(found)
}

/// Asks a verification to stop (`/ade cancel`).
pub async fn request_cancel(conn: &mut Conn, id: i64) -> Result<(), StoreError> {
    query::request_cancel(conn, "verifications", id, "request verification cancel").await
}

/// Whether a stop was asked for `id`, or it was superseded.
pub async fn stop_requested(conn: &mut Conn, id: i64) -> Result<bool, StoreError> {
    query::cancel_requested(conn, "verifications", id, "read verification cancel flag").await
}
