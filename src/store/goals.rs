//! Goals, the versions of their specs, and the tasks of each version.
//!
//! A spec version's content is immutable once stored; only its state moves, and every move is a
//! compare-and-set on the state it leaves, so two commands racing to approve one version cannot
//! both succeed. The rules for which moves are legal live in `crate::spec`; this file only records
//! them.

use super::audit::{self, About, Entry, Outcome};
use super::query::{all, optional, write};
use super::{Conn, Context, StoreError, named, state};
use crate::forge::{ForgeKind, RepoRef};
use crate::lifecycle::{SpecState, State};
use sqlx::Row;
use sqlx::any::AnyRow;

/// Finds the goal for an issue, creating it on first use. Returns its id.
pub async fn goal(
    conn: &mut Conn,
    forge: ForgeKind,
    repository: &str,
    number: i64,
    now: i64,
) -> Result<i64, StoreError> {
    sqlx::query(
        "INSERT INTO goals (forge, repository, number, created_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (forge, repository, number) DO NOTHING",
    )
    .bind(forge.as_str())
    .bind(repository)
    .bind(number)
    .bind(now)
    .execute(&mut *conn)
    .await
    .context("create goal")?;
    find_goal(conn, forge, repository, number)
        .await?
        .ok_or_else(|| StoreError::Corrupt(format!("goal {repository}#{number} vanished")))
}

/// The goal for an issue, if ade has planned it.
pub async fn find_goal(
    conn: &mut Conn,
    forge: ForgeKind,
    repository: &str,
    number: i64,
) -> Result<Option<i64>, StoreError> {
    let query =
        sqlx::query("SELECT id FROM goals WHERE forge = $1 AND repository = $2 AND number = $3")
            .bind(forge.as_str())
            .bind(repository)
            .bind(number);
    optional(conn, query, |r| r.try_get(0), "find goal").await
}

/// A spec version about to be stored.
#[derive(Clone, Debug)]
pub struct NewSpec<'a> {
    /// The goal it plans.
    pub goal: i64,
    /// Its lifecycle state.
    pub state: SpecState,
    /// The spec as JSON.
    pub content: &'a str,
    /// SHA-256 of the canonical content.
    pub content_hash: &'a str,
    /// Who asked for it.
    pub author: &'a str,
    /// Which planner made it.
    pub planner: &'a str,
    /// Validation errors, for a spec that failed validation.
    pub errors: Option<&'a str>,
}

/// A stored spec version.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SpecRow {
    /// ade's id of the version.
    pub id: i64,
    /// The goal it plans.
    pub goal: i64,
    /// The version number, from 1.
    pub version: i64,
    /// Its lifecycle state.
    pub state: SpecState,
    /// The spec as JSON.
    pub content: String,
    /// SHA-256 of the canonical content.
    pub content_hash: String,
    /// Who asked for it.
    pub author: String,
    /// Which planner made it.
    pub planner: String,
    /// Validation errors, if it failed validation.
    pub errors: Option<String>,
    /// When it was stored.
    pub created_at: i64,
    /// When its state last moved.
    pub changed_at: i64,
    /// When the goal's plan comment last switched to showing it on the forge; `None` while its
    /// write is in flight (or for a version no comment showed, superseded before its write).
    pub shown_at: Option<i64>,
}

/// Stores a new version of a goal's spec, numbered one past the latest. Returns the row.
pub async fn insert_spec(
    conn: &mut Conn,
    spec: &NewSpec<'_>,
    now: i64,
) -> Result<SpecRow, StoreError> {
    let row = sqlx::query(&format!(
        "INSERT INTO specs \
            (goal, version, state, content, content_hash, author, planner, errors, created_at, changed_at) \
         SELECT $1, COALESCE(MAX(version), 0) + 1, $2, $3, $4, $5, $6, $7, $8, $8 \
         FROM specs WHERE goal = $1 \
         RETURNING {SPEC_COLUMNS}"
    ))
    .bind(spec.goal)
    .bind(spec.state.as_str())
    .bind(spec.content)
    .bind(spec.content_hash)
    .bind(spec.author)
    .bind(spec.planner)
    .bind(spec.errors)
    .bind(now)
    .fetch_one(&mut *conn)
    .await
    .context("store spec")?;
    let spec = spec_row(&row).context("read spec")?;
    record_transition(conn, spec.id, None, spec.state, &spec.author, now).await?;
    let entry = Entry::new(
        now,
        audit::actor_kind(&spec.author),
        spec.author.as_str(),
        "spec.created",
        "spec",
        Outcome::Ok,
    )
    .with("state", spec.state.as_str())
    .with("planner", spec.planner.as_str())
    .with("content_hash", spec.content_hash.as_str());
    audit::record_about(conn, About::Spec(spec.id), &entry).await?;
    Ok(spec)
}

const SPEC_COLUMNS: &str = "id, goal, version, state, content, content_hash, author, planner, \
     errors, created_at, changed_at, shown_at";

fn spec_row(row: &AnyRow) -> Result<SpecRow, sqlx::Error> {
    Ok(SpecRow {
        id: row.try_get("id")?,
        goal: row.try_get("goal")?,
        version: row.try_get("version")?,
        state: state(row, 3)?,
        content: row.try_get("content")?,
        content_hash: row.try_get("content_hash")?,
        author: row.try_get("author")?,
        planner: row.try_get("planner")?,
        errors: row.try_get("errors")?,
        created_at: row.try_get("created_at")?,
        changed_at: row.try_get("changed_at")?,
        shown_at: row.try_get("shown_at")?,
    })
}

/// Records that the goal's plan comment shows spec version `spec` since `now`, if it showed
/// another one (or none) before: a version's `shown_at` is when the comment last switched to it,
/// which a bare `/ade approve` is compared with.
pub async fn mark_shown(conn: &mut Conn, spec: i64, now: i64) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE specs SET shown_at = $1 WHERE id = $2 AND NOT EXISTS \
         (SELECT 1 FROM goals g WHERE g.id = specs.goal AND g.shown_spec = $2)",
    )
    .bind(now)
    .bind(spec)
    .execute(&mut *conn)
    .await
    .context("mark spec shown")?;
    sqlx::query(
        "UPDATE goals SET shown_spec = $1 WHERE id = (SELECT goal FROM specs WHERE id = $1)",
    )
    .bind(spec)
    .execute(&mut *conn)
    .await
    .context("mark the spec the plan comment shows")?;
    Ok(())
}

/// Every version of a goal's spec, newest first.
pub async fn specs(conn: &mut Conn, goal: i64) -> Result<Vec<SpecRow>, StoreError> {
    let sql = format!("SELECT {SPEC_COLUMNS} FROM specs WHERE goal = $1 ORDER BY version DESC");
    all(conn, sqlx::query(&sql).bind(goal), spec_row, "read specs").await
}

/// One spec version by its row id.
pub async fn spec(conn: &mut Conn, id: i64) -> Result<Option<SpecRow>, StoreError> {
    let sql = format!("SELECT {SPEC_COLUMNS} FROM specs WHERE id = $1");
    optional(conn, sqlx::query(&sql).bind(id), spec_row, "read spec").await
}

/// Moves a spec version from state `from` to `to`, if it is still in `from`. Returns whether it
/// moved; `false` means another command moved it first.
pub async fn move_spec(
    conn: &mut Conn,
    spec: i64,
    from: SpecState,
    to: SpecState,
    actor: &str,
    now: i64,
) -> Result<bool, StoreError> {
    State::transition(from, to)?;
    let moved =
        sqlx::query("UPDATE specs SET state = $1, changed_at = $2 WHERE id = $3 AND state = $4")
            .bind(to.as_str())
            .bind(now)
            .bind(spec)
            .bind(from.as_str())
            .execute(&mut *conn)
            .await
            .context("move spec")?
            .rows_affected()
            == 1;
    if moved {
        record_transition(conn, spec, Some(from), to, actor, now).await?;
        let entry = audit::move_entry(from, to, actor, "spec".into(), now);
        audit::record_about(conn, About::Spec(spec), &entry).await?;
    }
    Ok(moved)
}

async fn record_transition(
    conn: &mut Conn,
    spec: i64,
    from: Option<SpecState>,
    to: SpecState,
    actor: &str,
    now: i64,
) -> Result<(), StoreError> {
    write(conn, sqlx::query(
        "INSERT INTO spec_transitions (spec, from_state, to_state, actor, at) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(spec)
    .bind(from.map(SpecState::as_str))
    .bind(to.as_str())
    .bind(actor)
    .bind(now), "record spec transition").await
}

/// A spec version's state changes, oldest first: `(from, to, actor, at)`.
pub async fn transitions(
    conn: &mut Conn,
    spec: i64,
) -> Result<Vec<(Option<String>, String, String, i64)>, StoreError> {
    let query = sqlx::query(
        "SELECT from_state, to_state, actor, at FROM spec_transitions WHERE spec = $1 ORDER BY id",
    )
    .bind(spec);
    let read = |r: &AnyRow| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?, r.try_get(3)?));
    all(conn, query, read, "read spec transitions").await
}

/// Records the title and text of a goal's issue (sanitized) as planned, for the comments ade keeps
/// up to date and the agents' prompts.
pub async fn set_goal_text(
    conn: &mut Conn,
    goal: i64,
    title: &str,
    body: &str,
) -> Result<(), StoreError> {
    write(
        conn,
        sqlx::query("UPDATE goals SET title = $1, body = $2 WHERE id = $3")
            .bind(title)
            .bind(body)
            .bind(goal),
        "record goal title",
    )
    .await
}

/// A goal as the runs of its tasks need it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GoalRow {
    /// The row id.
    pub id: i64,
    /// The forge.
    pub forge: ForgeKind,
    /// The repository.
    pub repository: RepoRef,
    /// The issue number.
    pub number: i64,
    /// The issue title when it was last planned (sanitized).
    pub title: String,
    /// The issue text when it was last planned (sanitized).
    pub body: String,
}

/// Reads a goal from columns 0 to 5: id, forge, repository, number, title, body.
fn read_goal(r: &AnyRow) -> Result<GoalRow, sqlx::Error> {
    Ok(GoalRow {
        id: r.try_get(0)?,
        forge: named(r, 1, "forge", ForgeKind::parse)?,
        repository: named(r, 2, "repository", |name| RepoRef::parse(name, None))?,
        number: r.try_get(3)?,
        title: r.try_get(4)?,
        body: r.try_get(5)?,
    })
}

/// Goal `id`.
pub async fn goal_row(conn: &mut Conn, id: i64) -> Result<Option<GoalRow>, StoreError> {
    let query =
        sqlx::query("SELECT id, forge, repository, number, title, body FROM goals WHERE id = $1")
            .bind(id);
    optional(conn, query, read_goal, "read goal").await
}

/// The goal a spec version belongs to.
pub async fn goal_of_spec(conn: &mut Conn, spec: i64) -> Result<Option<GoalRow>, StoreError> {
    let query = sqlx::query(
        "SELECT g.id, g.forge, g.repository, g.number, g.title, g.body FROM goals g \
         JOIN specs s ON s.goal = g.id WHERE s.id = $1",
    )
    .bind(spec);
    optional(conn, query, read_goal, "read goal").await
}

/// A goal whose plan is open (a version validated or active), as a reconciliation sweep reads it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OpenGoal {
    /// The goal's issue, its title and text when last planned (sanitized).
    pub goal: GoalRow,
    /// When ade first planned it: comments older than this are not acted on.
    pub created_at: i64,
}

/// The goals with a spec version validated or active, oldest first.
pub async fn open_goals(conn: &mut Conn) -> Result<Vec<OpenGoal>, StoreError> {
    let query = sqlx::query(
        "SELECT g.id, g.forge, g.repository, g.number, g.title, g.body, g.created_at FROM goals g \
         WHERE EXISTS (SELECT 1 FROM specs s WHERE s.goal = g.id AND s.state IN ($1, $2)) \
         ORDER BY g.id",
    )
    .bind(SpecState::Validated.as_str())
    .bind(SpecState::Active.as_str());
    let read = |r: &AnyRow| {
        Ok(OpenGoal {
            goal: read_goal(r)?,
            created_at: r.try_get(6)?,
        })
    };
    all(conn, query, read, "read open goals").await
}

/// A goal as a list of goals shows it: the goal and where its newest spec version stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GoalSummary {
    /// The goal.
    pub goal: GoalRow,
    /// When ade first planned it.
    pub created_at: i64,
    /// Its newest spec version's number and state; `None` before any was stored.
    pub newest: Option<(i64, SpecState)>,
}

/// Which goals a list shows; `None` takes every value.
#[derive(Clone, Debug, Default)]
pub struct GoalFilter<'a> {
    /// Only this forge's.
    pub forge: Option<ForgeKind>,
    /// Only this repository's (`owner/name`).
    pub repository: Option<&'a str>,
    /// Only those whose newest spec version is in this state.
    pub state: Option<SpecState>,
    /// Only these repositories' (`owner/name`): the ones a dashboard viewer may read. An empty
    /// list passes nothing.
    pub within: Option<&'a [String]>,
}

/// Up to `limit` goals that pass `filter`, newest first, from the one before goal `before` (or
/// the newest).
pub async fn page(
    conn: &mut Conn,
    filter: &GoalFilter<'_>,
    before: Option<i64>,
    limit: i64,
) -> Result<Vec<GoalSummary>, StoreError> {
    let mut sql = String::from(
        "SELECT g.id, g.forge, g.repository, g.number, g.title, g.body, g.created_at, \
                s.version, s.state \
         FROM goals g \
         LEFT JOIN specs s ON s.id = (SELECT MAX(n.id) FROM specs n WHERE n.goal = g.id) \
         WHERE 1 = 1",
    );
    let mut next = 0;
    let mut placeholder = || {
        next += 1;
        format!("${next}")
    };
    if filter.forge.is_some() {
        sql.push_str(&format!(" AND g.forge = {}", placeholder()));
    }
    if filter.repository.is_some() {
        sql.push_str(&format!(" AND g.repository = {}", placeholder()));
    }
    if filter.state.is_some() {
        sql.push_str(&format!(" AND s.state = {}", placeholder()));
    }
    if let Some(within) = filter.within {
        if within.is_empty() {
            return Ok(Vec::new());
        }
        let marks: Vec<String> = within.iter().map(|_| placeholder()).collect();
        sql.push_str(&format!(" AND g.repository IN ({})", marks.join(", ")));
    }
    if before.is_some() {
        sql.push_str(&format!(" AND g.id < {}", placeholder()));
    }
    sql.push_str(&format!(" ORDER BY g.id DESC LIMIT {}", placeholder()));
    let mut query = sqlx::query(&sql);
    if let Some(forge) = filter.forge {
        query = query.bind(forge.as_str());
    }
    if let Some(repository) = filter.repository {
        query = query.bind(repository);
    }
    if let Some(state) = filter.state {
        query = query.bind(state.as_str());
    }
    for repository in filter.within.unwrap_or_default() {
        query = query.bind(repository.as_str());
    }
    if let Some(before) = before {
        query = query.bind(before);
    }
    let read = |r: &AnyRow| {
        let version: Option<i64> = r.try_get(7)?;
        let newest = match version {
            Some(version) => Some((version, state::<SpecState>(r, 8)?)),
            None => None,
        };
        Ok(GoalSummary {
            goal: read_goal(r)?,
            created_at: r.try_get(6)?,
            newest,
        })
    };
    all(conn, query.bind(limit), read, "list goals").await
}

/// Every repository of `forge` that has a goal, in name order: what a dashboard asks the forge
/// about before it lists goals.
pub async fn repositories(conn: &mut Conn, forge: ForgeKind) -> Result<Vec<String>, StoreError> {
    all(
        conn,
        sqlx::query("SELECT DISTINCT repository FROM goals WHERE forge = $1 ORDER BY repository")
            .bind(forge.as_str()),
        |r| r.try_get(0),
        "list repositories with goals",
    )
    .await
}

/// How many of a goal's newest version's tasks, their runs and their approvals stand in each
/// state: what a row of the board shows.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    /// Tasks by state.
    pub tasks: std::collections::BTreeMap<String, i64>,
    /// Runs of those tasks by state.
    pub runs: std::collections::BTreeMap<String, i64>,
    /// Approvals of those tasks by state.
    pub approvals: std::collections::BTreeMap<String, i64>,
}

/// The [`Tally`] of each of `goals`, by goal id, in three grouped reads.
pub async fn tallies(
    conn: &mut Conn,
    goals: &[i64],
) -> Result<std::collections::HashMap<i64, Tally>, StoreError> {
    let mut tallies = std::collections::HashMap::new();
    if goals.is_empty() {
        return Ok(tallies);
    }
    // Ids are the store's own integers, so they are written into the query as numbers.
    let ids: Vec<String> = goals.iter().map(i64::to_string).collect();
    let newest = format!(
        "SELECT MAX(n.id) FROM specs n WHERE n.goal IN ({}) GROUP BY n.goal",
        ids.join(", ")
    );
    let reads = [
        (
            0,
            "SELECT s.goal, t.state, COUNT(*) FROM tasks t JOIN specs s ON s.id = t.spec",
        ),
        (
            1,
            "SELECT s.goal, r.state, COUNT(*) FROM runs r JOIN tasks t ON t.id = r.task \
             JOIN specs s ON s.id = t.spec",
        ),
        (
            2,
            "SELECT s.goal, a.state, COUNT(*) FROM approvals a JOIN tasks t ON t.id = a.task \
             JOIN specs s ON s.id = t.spec",
        ),
    ];
    for (kind, select) in reads {
        let state_column = match kind {
            0 => "t.state",
            1 => "r.state",
            _ => "a.state",
        };
        let sql = format!("{select} WHERE s.id IN ({newest}) GROUP BY s.goal, {state_column}");
        let rows: Vec<(i64, String, i64)> = all(
            conn,
            sqlx::query(&sql),
            |r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?)),
            "tally goals",
        )
        .await?;
        for (goal, state, count) in rows {
            let tally: &mut Tally = tallies.entry(goal).or_default();
            let counts = match kind {
                0 => &mut tally.tasks,
                1 => &mut tally.runs,
                _ => &mut tally.approvals,
            };
            counts.insert(state, count);
        }
    }
    Ok(tallies)
}
