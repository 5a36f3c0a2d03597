//! Approvals: the pull request each task's runs push to, where it stands, which head ade knows it
//! at and which head last passed verification. One per task; a task that runs again after its
//! approval was rejected or closed reopens the same one.

use super::audit::{self, About, ActorKind, Entry, Outcome};
use super::query::{all, moved, optional, write};
use super::{Conn, Context, StoreError, named, state};
use crate::forge::ForgeKind;
use crate::lifecycle::{ApprovalState, State};
use sqlx::Row;
use sqlx::any::AnyRow;

/// A stored approval.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApprovalRow {
    /// The row id.
    pub id: i64,
    /// The task row it is the approval of.
    pub task: i64,
    /// The forge.
    pub forge: ForgeKind,
    /// `owner/name`.
    pub repository: String,
    /// The pull request number.
    pub number: i64,
    /// GitHub's GraphQL id of the pull request (to change its draft state).
    pub node_id: Option<String>,
    /// The branch ade pushes.
    pub branch: String,
    /// Where it stands.
    pub state: ApprovalState,
    /// The head ade last knew it at (its own push, or a push it heard of).
    pub head_sha: String,
    /// Whether ade made it a draft (while verifying, or on rejection).
    pub draft: bool,
    /// The newest head whose verification passed.
    pub verified_sha: Option<String>,
    /// Who asked for the runs (approved the spec, or ran the task): their own review never
    /// counts towards merging it.
    pub requester: String,
    /// Why it was rejected or closed.
    pub reason: Option<String>,
    /// When ade recorded it.
    pub opened_at: i64,
    /// When its state last moved.
    pub changed_at: i64,
}

const COLUMNS: &str = "a.id, a.task, a.forge, a.repository, a.number, a.node_id, a.branch, \
     a.state, a.head_sha, a.draft, a.verified_sha, a.requester, a.reason, a.opened_at, \
     a.changed_at";

fn approval_row(r: &AnyRow) -> Result<ApprovalRow, sqlx::Error> {
    Ok(ApprovalRow {
        id: r.try_get(0)?,
        task: r.try_get(1)?,
        forge: named(r, 2, "forge", ForgeKind::parse)?,
        repository: r.try_get(3)?,
        number: r.try_get(4)?,
        node_id: r.try_get(5)?,
        branch: r.try_get(6)?,
        state: state(r, 7)?,
        head_sha: r.try_get(8)?,
        draft: r.try_get::<i64, _>(9)? != 0,
        verified_sha: r.try_get(10)?,
        requester: r.try_get(11)?,
        reason: r.try_get(12)?,
        opened_at: r.try_get(13)?,
        changed_at: r.try_get(14)?,
    })
}

/// An approval as a run opened (or reopened) it.
#[derive(Clone, Debug)]
pub struct OpenedApproval<'a> {
    /// The task row.
    pub task: i64,
    /// The forge.
    pub forge: ForgeKind,
    /// `owner/name`.
    pub repository: &'a str,
    /// The pull request number.
    pub number: i64,
    /// GitHub's GraphQL id, when known.
    pub node_id: Option<&'a str>,
    /// The branch.
    pub branch: &'a str,
    /// The head the run pushed.
    pub head_sha: &'a str,
    /// Whether it is a draft now.
    pub draft: bool,
    /// Who asked for the run.
    pub requester: &'a str,
}

/// Records the approval a run opened or updated: a new row, or the task's row back to `pending`
/// at the new head (whatever it was: a new run reopens a rejected or closed approval). A merged
/// approval is never reopened; it is returned unchanged.
pub async fn record_opened(
    conn: &mut Conn,
    opened: &OpenedApproval<'_>,
    now: i64,
) -> Result<ApprovalRow, StoreError> {
    sqlx::query(
        "INSERT INTO approvals (task, forge, repository, number, node_id, branch, state, head_sha, \
            draft, requester, opened_at, changed_at) \
         VALUES ($1, $2, $3, $4, $5, $6, 'pending', $7, $8, $9, $10, $10) \
         ON CONFLICT (task) DO UPDATE SET number = excluded.number, \
            node_id = COALESCE(excluded.node_id, approvals.node_id), branch = excluded.branch, \
            state = 'pending', head_sha = excluded.head_sha, draft = excluded.draft, \
            requester = excluded.requester, reason = NULL, changed_at = excluded.changed_at \
         WHERE approvals.state <> 'merged'",
    )
    .bind(opened.task)
    .bind(opened.forge.as_str())
    .bind(opened.repository)
    .bind(opened.number)
    .bind(opened.node_id)
    .bind(opened.branch)
    .bind(opened.head_sha)
    .bind(i64::from(opened.draft))
    .bind(opened.requester)
    .bind(now)
    .execute(&mut *conn)
    .await
    .context("record approval")?;
    let row = of_task(conn, opened.task).await?.ok_or_else(|| {
        StoreError::Corrupt(format!("the approval of task {} vanished", opened.task))
    })?;
    let entry = Entry::new(
        now,
        ActorKind::Ade,
        "ade",
        "approval.opened",
        format!("pull request #{}", opened.number),
        Outcome::Ok,
    )
    .with("requester", opened.requester)
    .with("number", opened.number)
    .with("branch", opened.branch)
    .with("head", opened.head_sha)
    .with("draft", opened.draft);
    audit::record_about(conn, About::Approval(row.id), &entry).await?;
    Ok(row)
}

/// The approval of a task, if it has one.
pub async fn of_task(conn: &mut Conn, task: i64) -> Result<Option<ApprovalRow>, StoreError> {
    optional(
        conn,
        sqlx::query(&format!(
            "SELECT {COLUMNS} FROM approvals a WHERE a.task = $1"
        ))
        .bind(task),
        approval_row,
        "read approval",
    )
    .await
}

/// One approval.
pub async fn get(conn: &mut Conn, id: i64) -> Result<Option<ApprovalRow>, StoreError> {
    optional(
        conn,
        sqlx::query(&format!(
            "SELECT {COLUMNS} FROM approvals a WHERE a.id = $1"
        ))
        .bind(id),
        approval_row,
        "read approval",
    )
    .await
}

/// The approval that is pull request `number` of a repository, if ade opened it (the newest,
/// should a number ever be recorded twice).
pub async fn by_pull(
    conn: &mut Conn,
    forge: ForgeKind,
    repository: &str,
    number: i64,
) -> Result<Option<ApprovalRow>, StoreError> {
    optional(
        conn,
        sqlx::query(&format!(
            "SELECT {COLUMNS} FROM approvals a \
         WHERE a.forge = $1 AND a.repository = $2 AND a.number = $3 ORDER BY a.id DESC LIMIT 1"
        ))
        .bind(forge.as_str())
        .bind(repository)
        .bind(number),
        approval_row,
        "find approval by pull request",
    )
    .await
}

/// The approvals whose head is `head_sha` in a repository, whatever their state: what a check
/// re-run on that commit is about (the caller keeps the ones awaiting review).
pub async fn by_head(
    conn: &mut Conn,
    forge: ForgeKind,
    repository: &str,
    head_sha: &str,
) -> Result<Vec<ApprovalRow>, StoreError> {
    all(
        conn,
        sqlx::query(&format!(
            "SELECT {COLUMNS} FROM approvals a \
         WHERE a.forge = $1 AND a.repository = $2 AND a.head_sha = $3 ORDER BY a.id"
        ))
        .bind(forge.as_str())
        .bind(repository)
        .bind(head_sha),
        approval_row,
        "find approvals by head",
    )
    .await
}

/// Closes an approval whose task `/ade cancel` cancelled, from the state it was read in: the
/// command closes it, and so does a run that opened it after the command looked. False if it
/// was no longer in that state.
pub async fn close_cancelled(
    conn: &mut Conn,
    approval: &ApprovalRow,
    now: i64,
) -> Result<bool, StoreError> {
    let (from, to) = (approval.state, ApprovalState::Closed);
    move_approval(
        conn,
        approval.id,
        from,
        to,
        Some("cancelled with /ade cancel"),
        now,
    )
    .await
}

/// Moves an approval from `from` to `to`, with the reason for a rejection or close; false if it
/// was no longer in `from`.
pub async fn move_approval(
    conn: &mut Conn,
    id: i64,
    from: ApprovalState,
    to: ApprovalState,
    reason: Option<&str>,
    now: i64,
) -> Result<bool, StoreError> {
    from.transition(to)?;
    let done = moved(&mut *conn, sqlx::query(
        "UPDATE approvals SET state = $1, reason = $2, changed_at = $3 WHERE id = $4 AND state = $5",
    )
    .bind(to.as_str())
    .bind(reason)
    .bind(now)
    .bind(id)
    .bind(from.as_str()), "move approval").await?;
    if done {
        let mut entry = audit::move_entry(from, to, "ade", "approval".into(), now);
        if let Some(reason) = reason {
            entry = entry.with("why", reason);
        }
        audit::record_about(conn, About::Approval(id), &entry).await?;
    }
    Ok(done)
}

/// Records a new head of the approval (someone pushed to its branch).
pub async fn set_head(
    conn: &mut Conn,
    id: i64,
    head_sha: &str,
    now: i64,
) -> Result<(), StoreError> {
    write(
        conn,
        sqlx::query("UPDATE approvals SET head_sha = $1, changed_at = $2 WHERE id = $3")
            .bind(head_sha)
            .bind(now)
            .bind(id),
        "record approval head",
    )
    .await
}

/// Records whether the approval is a draft now.
pub async fn set_draft(conn: &mut Conn, id: i64, draft: bool) -> Result<(), StoreError> {
    write(
        conn,
        sqlx::query("UPDATE approvals SET draft = $1 WHERE id = $2")
            .bind(i64::from(draft))
            .bind(id),
        "record approval draft",
    )
    .await
}

/// Records that `head_sha` passed verification.
pub async fn set_verified(conn: &mut Conn, id: i64, head_sha: &str) -> Result<(), StoreError> {
    write(
        conn,
        sqlx::query("UPDATE approvals SET verified_sha = $1 WHERE id = $2")
            .bind(head_sha)
            .bind(id),
        "record verified head",
    )
    .await
}

/// Records that `head_sha` no longer counts as verified (verifying it again did not pass).
pub async fn unset_verified(conn: &mut Conn, id: i64, head_sha: &str) -> Result<(), StoreError> {
    write(
        conn,
        sqlx::query("UPDATE approvals SET verified_sha = NULL WHERE id = $1 AND verified_sha = $2")
            .bind(id)
            .bind(head_sha),
        "forget verified head",
    )
    .await
}

/// The approvals still pending or approved in ade's store: the pull requests a reconciliation
/// sweep looks at for a merge or close no delivery brought.
pub async fn open(conn: &mut Conn) -> Result<Vec<ApprovalRow>, StoreError> {
    all(
        conn,
        sqlx::query(&format!(
            "SELECT {COLUMNS} FROM approvals a WHERE a.state IN ($1, $2) ORDER BY a.id"
        ))
        .bind(ApprovalState::Pending.as_str())
        .bind(ApprovalState::Approved.as_str()),
        approval_row,
        "read open approvals",
    )
    .await
}
