//! The audit log's rows: what a record says ([`Entry`]), the pending records a transaction leaves
//! behind for the audit writer, the chain's head, and the signed checkpoints (docs/audit.md).
//!
//! A record is written as a pending row in the same transaction as the action it records, so the
//! two commit together; the audit writer (`crate::audit`) turns pending rows into the chained JSONL
//! lines under the head's row lock, so every process on the database extends one chain.

use super::query::{all, optional, write};
use super::{Backend, Conn, Context, StoreError};
use crate::forge::ForgeKind;
use crate::lifecycle::State;
use serde_json::{Map, Value};
use sqlx::Row;
use sqlx::any::AnyRow;

/// The head a chain starts from: no record before the first.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Who did what a record says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ActorKind {
    /// A forge user (their login).
    User,
    /// ade itself, acting on its own (the run that finished, the merge gate).
    Ade,
    /// An operator at ade's command line (their operating-system user).
    Operator,
}

impl ActorKind {
    /// The stored and written name.
    pub fn as_str(self) -> &'static str {
        match self {
            ActorKind::User => "user",
            ActorKind::Ade => "ade",
            ActorKind::Operator => "operator",
        }
    }

    fn parse(name: &str) -> Option<ActorKind> {
        [ActorKind::User, ActorKind::Ade, ActorKind::Operator]
            .into_iter()
            .find(|k| k.as_str() == name)
    }
}

/// How the action a record describes ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// It was done.
    Ok,
    /// ade declined it (a role, a policy, a limit): `details.why` says why.
    Refused,
    /// It was tried and did not succeed: `details.why` says what went wrong.
    Failed,
}

impl Outcome {
    /// The stored and written name.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Refused => "refused",
            Outcome::Failed => "failed",
        }
    }

    fn parse(name: &str) -> Option<Outcome> {
        [Outcome::Ok, Outcome::Refused, Outcome::Failed]
            .into_iter()
            .find(|o| o.as_str() == name)
    }
}

/// What a record is about, beyond its action: the forge objects and ade's own ids. Filled from the
/// database where a store function knows only a row id (a task, a run).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Scope {
    /// The forge.
    pub forge: Option<ForgeKind>,
    /// `owner/name`.
    pub repository: Option<String>,
    /// The goal's issue number.
    pub goal: Option<i64>,
    /// The spec's version number.
    pub spec_version: Option<i64>,
    /// The task's id in its spec (`t1`).
    pub task: Option<String>,
    /// The run's id.
    pub run: Option<i64>,
}

/// One audit record before it is chained: time, actor, action, subject, scope, outcome, details.
#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    /// When, in Unix milliseconds.
    pub at: i64,
    /// Who.
    pub actor_kind: ActorKind,
    /// Their name: a forge login, `ade`, an operating-system user.
    pub actor: String,
    /// What, as a dotted name (`command.accepted`, `task.running`); docs/audit.md lists them.
    pub action: String,
    /// The thing acted on, for people (`issue #12`, `pull request #40`, `secret OPENAI_KEY`).
    pub subject: String,
    /// The forge objects and ids it concerns.
    pub scope: Scope,
    /// How it ended.
    pub outcome: Outcome,
    /// Anything else worth keeping, never content a user or an agent wrote beyond a short reason.
    pub details: Map<String, Value>,
}

impl Entry {
    /// An entry with an empty scope and no details.
    pub fn new(
        at: i64,
        actor_kind: ActorKind,
        actor: impl Into<String>,
        action: impl Into<String>,
        subject: impl Into<String>,
        outcome: Outcome,
    ) -> Entry {
        Entry {
            at,
            actor_kind,
            actor: actor.into(),
            action: action.into(),
            subject: subject.into(),
            scope: Scope::default(),
            outcome,
            details: Map::new(),
        }
    }

    /// The same entry with `key` set in its details.
    pub fn with(mut self, key: &str, value: impl Into<Value>) -> Entry {
        self.details.insert(key.to_owned(), value.into());
        self
    }

    /// The same entry with this scope.
    pub fn scoped(mut self, scope: Scope) -> Entry {
        self.scope = scope;
        self
    }
}

/// The action name of a lifecycle move: `spec.active`, `task.merged`, `run.finished`.
pub fn moved<S: State>(to: S) -> String {
    format!("{}.{}", S::THING, to.as_str())
}

/// Who an actor name stored beside a row is: `ade`, or a forge login.
pub fn actor_kind(actor: &str) -> ActorKind {
    if actor == "ade" {
        ActorKind::Ade
    } else {
        ActorKind::User
    }
}

/// An entry for a lifecycle move `from` → `to`, by `actor` (a login, or `ade`).
pub fn move_entry<S: State>(from: S, to: S, actor: &str, subject: String, now: i64) -> Entry {
    Entry::new(
        now,
        actor_kind(actor),
        actor,
        moved(to),
        subject,
        Outcome::Ok,
    )
    .with("from", from.as_str())
}

const COLUMNS: &str = "at, actor, actor_kind, action, subject, forge, repository, goal, \
                       spec_version, task, run, outcome, details";

/// Leaves `entry` for the audit writer, in the caller's transaction; the caller seals it before
/// it commits ([`crate::audit::AuditLog::seal`]).
pub async fn record(conn: &mut Conn, entry: &Entry) -> Result<(), StoreError> {
    insert(conn, entry, false).await
}

/// Leaves `entry` for the writer's sweep, which chains it within a second: for records of what
/// already happened elsewhere (a write the forge accepted), which nobody waits on. Other
/// transactions' seals pass it by, so it never costs an unrelated job a sync of the audit file.
pub async fn record_for_sweep(conn: &mut Conn, entry: &Entry) -> Result<(), StoreError> {
    insert(conn, entry, true).await
}

async fn insert(conn: &mut Conn, entry: &Entry, for_sweep: bool) -> Result<(), StoreError> {
    let scope = &entry.scope;
    let sql = format!(
        "INSERT INTO audit_pending ({COLUMNS}, for_sweep) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)"
    );
    let query = bind_head(sqlx::query(&sql), entry)
        .bind(scope.forge.map(ForgeKind::as_str))
        .bind(scope.repository.clone())
        .bind(scope.goal)
        .bind(scope.spec_version)
        .bind(scope.task.clone())
        .bind(scope.run)
        .bind(entry.outcome.as_str())
        .bind(Value::Object(entry.details.clone()).to_string())
        .bind(i64::from(for_sweep));
    write(conn, query, "record an audit entry").await
}

/// What a store function knows of the thing an entry is about: its row id, from which the
/// record's scope (forge, repository, goal, spec version, task) is read in the same statement.
#[derive(Clone, Copy, Debug)]
pub enum About {
    /// A spec version (`specs.id`).
    Spec(i64),
    /// A task (`tasks.id`).
    Task(i64),
    /// A run (`runs.id`).
    Run(i64),
    /// An approval (`approvals.id`).
    Approval(i64),
    /// A verification (`verifications.id`).
    Verification(i64),
    /// A planner run (`planner_runs.id`); the version it planned, once there is one.
    Planning(i64),
}

/// Leaves `entry` for the audit writer with its scope read from the row it is about. An entry
/// whose row is gone records nothing: its row's deletion is recorded instead.
pub async fn record_about(conn: &mut Conn, about: About, entry: &Entry) -> Result<(), StoreError> {
    let (task, run, from) = match about {
        About::Spec(_) => (
            "NULL",
            "NULL",
            "specs s JOIN goals g ON g.id = s.goal WHERE s.id = $8",
        ),
        About::Task(_) => (
            "t.task_id",
            "NULL",
            "tasks t JOIN specs s ON s.id = t.spec JOIN goals g ON g.id = s.goal WHERE t.id = $8",
        ),
        About::Run(_) => (
            "t.task_id",
            "r.id",
            "runs r JOIN tasks t ON t.id = r.task JOIN specs s ON s.id = t.spec \
             JOIN goals g ON g.id = s.goal WHERE r.id = $8",
        ),
        About::Approval(_) => (
            "t.task_id",
            "NULL",
            "approvals a JOIN tasks t ON t.id = a.task JOIN specs s ON s.id = t.spec \
             JOIN goals g ON g.id = s.goal WHERE a.id = $8",
        ),
        About::Verification(_) => (
            "t.task_id",
            "r.id",
            "verifications v JOIN runs r ON r.id = v.run JOIN tasks t ON t.id = r.task \
             JOIN specs s ON s.id = t.spec JOIN goals g ON g.id = s.goal WHERE v.id = $8",
        ),
        About::Planning(_) => (
            "NULL",
            "NULL",
            "planner_runs p JOIN goals g ON g.id = p.goal LEFT JOIN specs s ON s.id = p.spec \
             WHERE p.id = $8",
        ),
    };
    let (About::Spec(id)
    | About::Task(id)
    | About::Run(id)
    | About::Approval(id)
    | About::Verification(id)
    | About::Planning(id)) = about;
    let sql = format!(
        "INSERT INTO audit_pending ({COLUMNS}) \
         SELECT $1, $2, $3, $4, $5, g.forge, g.repository, g.number, s.version, {task}, {run}, \
         $6, $7 FROM {from}"
    );
    let query = bind_head(sqlx::query(&sql), entry)
        .bind(entry.outcome.as_str())
        .bind(Value::Object(entry.details.clone()).to_string())
        .bind(id);
    write(conn, query, "record an audit entry").await
}

fn bind_head<'q>(query: super::query::Query<'q>, entry: &Entry) -> super::query::Query<'q> {
    query
        .bind(entry.at)
        .bind(entry.actor.clone())
        .bind(entry.actor_kind.as_str())
        .bind(entry.action.clone())
        .bind(entry.subject.clone())
}

/// A pending entry and its row id, which orders it.
#[derive(Clone, Debug)]
pub struct Pending {
    /// The row id.
    pub id: i64,
    /// What it records.
    pub entry: Entry,
}

fn pending_row(row: &AnyRow) -> Result<Pending, sqlx::Error> {
    let bad = |column: &str, value: String| sqlx::Error::ColumnDecode {
        index: column.to_owned(),
        source: format!("unknown stored audit value {value:?}").into(),
    };
    let actor_kind: String = row.try_get(3)?;
    let outcome: String = row.try_get(12)?;
    let forge: Option<String> = row.try_get(6)?;
    let details: String = row.try_get(13)?;
    let details = match serde_json::from_str(&details) {
        Ok(Value::Object(map)) => map,
        _ => return Err(bad("details", details)),
    };
    Ok(Pending {
        id: row.try_get(0)?,
        entry: Entry {
            at: row.try_get(1)?,
            actor: row.try_get(2)?,
            actor_kind: ActorKind::parse(&actor_kind)
                .ok_or_else(|| bad("actor_kind", actor_kind))?,
            action: row.try_get(4)?,
            subject: row.try_get(5)?,
            scope: Scope {
                forge: match forge {
                    Some(name) => Some(ForgeKind::parse(&name).ok_or_else(|| bad("forge", name))?),
                    None => None,
                },
                repository: row.try_get(7)?,
                goal: row.try_get(8)?,
                spec_version: row.try_get(9)?,
                task: row.try_get(10)?,
                run: row.try_get(11)?,
            },
            outcome: Outcome::parse(&outcome).ok_or_else(|| bad("outcome", outcome))?,
            details,
        },
    })
}

/// The head and up to `limit` pending entries, oldest first, in one read: for SQLite, whose write
/// transaction already keeps every other writer out, so the head needs no lock of its own.
pub async fn head_and_pending(
    conn: &mut Conn,
    limit: i64,
    which: Waiting,
) -> Result<(Head, Vec<Pending>), StoreError> {
    let only = match which {
        Waiting::All => "",
        Waiting::NotForSweep => "WHERE for_sweep = 0 ",
    };
    let sql = format!(
        "SELECT p.id, {}, h.seq, h.head FROM audit_head h LEFT JOIN \
         (SELECT id, {COLUMNS} FROM audit_pending {only}ORDER BY id LIMIT $1) p ON 1 = 1 \
         WHERE h.id = 1 ORDER BY p.id",
        COLUMNS
            .split(',')
            .map(|c| format!("p.{}", c.trim()))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let rows = all(
        conn,
        sqlx::query(&sql).bind(limit),
        |row| {
            let head = Head {
                seq: row.try_get(14)?,
                hash: row.try_get(15)?,
            };
            let id: Option<i64> = row.try_get(0)?;
            Ok((head, id.map(|_| pending_row(row)).transpose()?))
        },
        "read the audit head and pending entries",
    )
    .await?;
    let head = rows
        .first()
        .map(|(head, _)| head.clone())
        .ok_or_else(|| StoreError::Corrupt("the audit head row is missing".into()))?;
    Ok((head, rows.into_iter().filter_map(|(_, p)| p).collect()))
}

/// Up to `limit` pending entries, oldest first.
pub async fn pending(
    conn: &mut Conn,
    limit: i64,
    which: Waiting,
) -> Result<Vec<Pending>, StoreError> {
    let only = match which {
        Waiting::All => "",
        Waiting::NotForSweep => "WHERE for_sweep = 0 ",
    };
    let sql = format!("SELECT id, {COLUMNS} FROM audit_pending {only}ORDER BY id LIMIT $1");
    all(
        conn,
        sqlx::query(&sql).bind(limit),
        pending_row,
        "read pending audit entries",
    )
    .await
}

/// Which pending entries a seal chains.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Waiting {
    /// Every one: the writer's sweep.
    All,
    /// Those not left for the sweep: a transaction's seal before its commit.
    NotForSweep,
}

/// Whether any entry waits for the audit writer (a cheap look before taking the head's lock).
pub async fn any_pending(conn: &mut Conn) -> Result<bool, StoreError> {
    let row = sqlx::query("SELECT id FROM audit_pending LIMIT 1")
        .fetch_optional(conn)
        .await
        .context("look for pending audit entries")?;
    Ok(row.is_some())
}

/// Removes the pending entries `ids` the writer has chained and moves the head to `head`, in one
/// round trip to the database (both statements inside the seal's write lock, where each trip
/// counts). The values are written into the statement: ids are integers and the hash is checked to
/// be hex.
pub async fn chained_to(conn: &mut Conn, ids: &[i64], head: &Head) -> Result<(), StoreError> {
    if !head.hash.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(StoreError::Corrupt(format!(
            "an audit head hash that is not hex: {:?}",
            head.hash
        )));
    }
    let mut sql = String::new();
    for chunk in ids.chunks(500) {
        let list = chunk
            .iter()
            .map(i64::to_string)
            .collect::<Vec<_>>()
            .join(", ");
        sql.push_str(&format!("DELETE FROM audit_pending WHERE id IN ({list}); "));
    }
    sql.push_str(&format!(
        "UPDATE audit_head SET seq = {}, head = '{}' WHERE id = 1",
        head.seq, head.hash
    ));
    sqlx::Executor::execute(conn, sql.as_str())
        .await
        .context("remove chained audit entries and move the head")?;
    Ok(())
}

/// The chain's head as committed: the last record's sequence number and hash.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Head {
    /// The last record's sequence number (0: no record yet).
    pub seq: i64,
    /// The SHA-256 of the last record's line, in hex ([`GENESIS`] before the first).
    pub hash: String,
}

fn head_row(row: &AnyRow) -> Result<Head, sqlx::Error> {
    Ok(Head {
        seq: row.try_get(0)?,
        hash: row.try_get(1)?,
    })
}

/// The head, locked until the transaction ends, so one writer at a time extends the chain (on
/// SQLite the transaction already holds the write lock).
pub async fn lock_head(conn: &mut Conn) -> Result<Head, StoreError> {
    let sql = match Backend::of(conn) {
        Backend::Postgres => "SELECT seq, head FROM audit_head WHERE id = 1 FOR UPDATE",
        Backend::Sqlite => "SELECT seq, head FROM audit_head WHERE id = 1",
    };
    optional(conn, sqlx::query(sql), head_row, "lock the audit head")
        .await?
        .ok_or_else(|| StoreError::Corrupt("the audit head row is missing".into()))
}

/// The head as committed, without locking it.
pub async fn head(conn: &mut Conn) -> Result<Head, StoreError> {
    optional(
        conn,
        sqlx::query("SELECT seq, head FROM audit_head WHERE id = 1"),
        head_row,
        "read the audit head",
    )
    .await?
    .ok_or_else(|| StoreError::Corrupt("the audit head row is missing".into()))
}

/// A signed statement that the chain's record `seq` has hash `head`, kept outside the log folder
/// (a line of the checkpoints file, and a row); signing and checking are `crate::audit::checkpoint`.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Checkpoint {
    /// The record it covers.
    pub seq: i64,
    /// That record's hash.
    pub head: String,
    /// When it was signed, Unix milliseconds.
    pub signed_at: i64,
    /// How often checkpoints were due when it was signed, in seconds.
    pub every_secs: i64,
    /// The signing key's id.
    pub key_id: String,
    /// The Ed25519 signature, base64.
    pub signature: String,
}

/// Keeps a checkpoint; a second one for the same record (two processes at once) is dropped.
pub async fn insert_checkpoint(conn: &mut Conn, row: &Checkpoint) -> Result<(), StoreError> {
    write(
        conn,
        sqlx::query(
            "INSERT INTO audit_checkpoints (seq, head, signed_at, every_secs, key_id, signature) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (seq) DO NOTHING",
        )
        .bind(row.seq)
        .bind(row.head.clone())
        .bind(row.signed_at)
        .bind(row.every_secs)
        .bind(row.key_id.clone())
        .bind(row.signature.clone()),
        "keep an audit checkpoint",
    )
    .await
}

/// Removes the checkpoints of records before `seq`, which a retention purge removed; the
/// checkpoint of `seq` itself anchors what remains and is kept.
pub async fn drop_checkpoints_before(conn: &mut Conn, seq: i64) -> Result<(), StoreError> {
    write(
        conn,
        sqlx::query("DELETE FROM audit_checkpoints WHERE seq < $1").bind(seq),
        "remove the checkpoints of purged audit records",
    )
    .await
}

/// Every checkpoint, oldest record first.
pub async fn checkpoints(conn: &mut Conn) -> Result<Vec<Checkpoint>, StoreError> {
    all(
        conn,
        sqlx::query(
            "SELECT seq, head, signed_at, every_secs, key_id, signature FROM audit_checkpoints \
             ORDER BY seq",
        ),
        |r| {
            Ok(Checkpoint {
                seq: r.try_get(0)?,
                head: r.try_get(1)?,
                signed_at: r.try_get(2)?,
                every_secs: r.try_get(3)?,
                key_id: r.try_get(4)?,
                signature: r.try_get(5)?,
            })
        },
        "read audit checkpoints",
    )
    .await
}

/// The newest checkpoint's record, if any.
pub async fn newest_checkpoint(conn: &mut Conn) -> Result<Option<i64>, StoreError> {
    let row = sqlx::query("SELECT MAX(seq) FROM audit_checkpoints")
        .fetch_one(conn)
        .await
        .context("read the newest audit checkpoint")?;
    row.try_get::<Option<i64>, _>(0)
        .context("read the newest audit checkpoint")
}
