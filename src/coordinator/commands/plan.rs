//! `/ade plan`: a new version of the goal's spec from the issue as it was delivered, validated
//! against the policy, stored, and posted as the goal's plan comment. An unapproved older version
//! is superseded; an approved one stays until a newer one is approved.

use super::Session;
use crate::command::sanitize;
use crate::coordinator::render::{
    self, ChangedTaskView, ChangesView, FieldChangeView, NamedTask, PlanView, TaskView,
};
use crate::coordinator::writes::ForgeWrite;
use crate::forge::RepoRef;
use crate::jobs::JobError;
use crate::markdown;
use crate::spec::diff::{self, Change, Line};
use crate::spec::{
    GoalRef, Lifecycle, Planner, Spec, SpecError, SpecState, TaskId, manual, validate,
};
use crate::store::Conn;
use crate::store::goals::{self, NewSpec, SpecRow};

/// Plans the goal of the issue the command was posted on.
pub async fn run(
    session: &mut Session<'_>,
    tx: &mut Conn,
    agent: Option<String>,
    instructions: Option<String>,
) -> Result<(), JobError> {
    if let Some(agent) = agent.filter(|a| a != "manual") {
        let headline = format!(
            "the planner agent {} would run on a runner, and this ade has none connected yet; \
             nothing was planned. `/ade plan` without an agent uses the issue's task list.",
            markdown::code_span(&agent)
        );
        session.say_headline(headline);
        return Ok(());
    }
    let issue = &session.comment.issue;
    let title = sanitize(&issue.title).text;
    let body = sanitize(&issue.body).text;
    let (mut tasks, mut errors) = match manual::plan(&title, &body) {
        Ok(tasks) => (tasks, Vec::new()),
        Err(errors) => (Vec::new(), errors),
    };
    if let Some(extra) = instructions {
        let extra = sanitize(&extra).text;
        for task in &mut tasks {
            task.instructions = format!(
                "{}\n\nFurther instructions given with the plan request:\n{extra}",
                task.instructions
            )
            .trim_start()
            .to_string();
        }
    }
    let goal = goals::goal(
        tx,
        session.forge,
        &session.repository(),
        issue.number,
        session.now,
    )
    .await?;
    crate::store::goals::set_goal_text(tx, goal, &title, &body).await?;
    let earlier = goals::specs(tx, goal).await?;
    let version = earlier.first().map_or(1, |s| s.version + 1);
    let mut spec = Spec {
        goal: GoalRef {
            forge: session.forge,
            repo: session.repository(),
            issue: issue.number.max(1) as u64,
        },
        version: u32::try_from(version)
            .map_err(|_| JobError::Permanent("too many versions".into()))?,
        author: session.requester.login.to_string(),
        planner: Planner::Manual,
        base_commit: Some(session.head.sha.clone()),
        tasks,
        lifecycle: Lifecycle::new(session.now),
    };
    if errors.is_empty() {
        errors = validate::validate(&spec, session.policy)
            .err()
            .unwrap_or_default();
    }
    let state = if errors.is_empty() {
        SpecState::Validated
    } else {
        SpecState::Rejected
    };
    spec.lifecycle
        .advance(state, session.now)
        .map_err(|e| JobError::Permanent(e.to_string()))?;
    let messages: Vec<String> = errors.iter().map(SpecError::to_string).collect();
    let content = serde_json::to_string(&spec).map_err(|e| JobError::Permanent(e.to_string()))?;
    let hash = spec.content_hash().to_string();
    let errors_json =
        (!messages.is_empty()).then(|| serde_json::to_string(&messages).unwrap_or_default());
    let row = goals::insert_spec(
        tx,
        &NewSpec {
            goal,
            state: SpecState::Draft,
            content: &content,
            content_hash: &hash,
            author: session.requester.login,
            planner: &spec.planner.to_string(),
            errors: errors_json.as_deref(),
        },
        session.now,
    )
    .await?;
    if row.version != version {
        return Err(JobError::Retry(
            "another plan of this goal was stored meanwhile".into(),
        ));
    }
    // Every version is stored as a draft first and then validated or rejected, so its recorded
    // transitions show the whole lifecycle.
    let actor = session.requester.login;
    goals::move_spec(tx, row.id, SpecState::Draft, state, actor, session.now).await?;
    let mut superseded = Vec::new();
    for older in &earlier {
        if older.state.can_become(SpecState::Superseded)
            && goals::move_spec(
                tx,
                older.id,
                older.state,
                SpecState::Superseded,
                actor,
                session.now,
            )
            .await?
        {
            superseded.push(older.version);
        }
    }
    let previous = previous_plan(&earlier, version);
    session.writes.push(plan_comment(
        session,
        &spec,
        state,
        &row,
        &messages,
        previous.as_ref(),
    ));

    let headline = if messages.is_empty() {
        format!(
            "planned v{version}: {} task{}. A maintainer approves it with `/ade approve {version}`.",
            spec.tasks.len(),
            if spec.tasks.len() == 1 { "" } else { "s" }
        )
    } else {
        format!("plan v{version} is not valid and cannot be approved; the plan comment lists why.")
    };
    let details = superseded
        .iter()
        .map(|v| format!("v{v} is superseded: it can no longer be approved."))
        .collect();
    session.say(headline, details, None);
    Ok(())
}

/// The goal's plan comment showing `spec` in `state`.
pub fn plan_comment(
    session: &Session<'_>,
    spec: &Spec,
    state: SpecState,
    row: &SpecRow,
    errors: &[String],
    previous: Option<&Spec>,
) -> ForgeWrite {
    let goal = GoalComment {
        repo: session.repo,
        number: session.number(),
        title: &sanitize(&session.comment.issue.title).text,
        previous,
    };
    goal.plan(spec, state, row, errors, &[])
}

/// Where a goal's plan comment goes and what it is titled.
pub struct GoalComment<'a> {
    /// The repository.
    pub repo: &'a RepoRef,
    /// The goal's issue number.
    pub number: i64,
    /// The issue title, sanitized.
    pub title: &'a str,
    /// The earlier version a re-plan replaces, whose differences the comment shows.
    pub previous: Option<&'a Spec>,
}

/// The version a new one is compared against in its plan comment: the newest earlier version
/// that was valid (an invalid one planned nothing an approver could have read).
pub fn previous_plan(specs: &[SpecRow], version: i64) -> Option<Spec> {
    specs
        .iter()
        .filter(|s| s.version < version && s.errors.is_none())
        .max_by_key(|s| s.version)
        .and_then(|s| serde_json::from_str(&s.content).ok())
}

/// What changed from `previous` to `spec`, as the plan comment shows it.
fn changes_view(previous: &Spec, spec: &Spec) -> ChangesView {
    let diff = diff::diff(previous, spec);
    let named = |id: &TaskId, title: &str| NamedTask {
        id: id.to_string(),
        title: title.to_string(),
    };
    ChangesView {
        since: i64::from(previous.version),
        added: diff
            .added
            .iter()
            .filter_map(|id| spec.task(id))
            .map(|t| named(&t.id, &t.title))
            .collect(),
        removed: diff.removed.iter().map(|(id, t)| named(id, t)).collect(),
        changed: diff
            .changed
            .iter()
            .map(|task| ChangedTaskView {
                id: task.id.to_string(),
                title: spec.task(&task.id).map_or_else(String::new, |t| t.title.clone()),
                fields: task.changes.iter().map(field_view).collect(),
            })
            .collect(),
    }
}

fn field_view(change: &Change) -> FieldChangeView {
    let ids = |ids: &[TaskId]| ids.iter().map(ToString::to_string).collect();
    let values = |name: &str, code, before: Vec<String>, after: Vec<String>, unset: &str| {
        FieldChangeView {
            name: name.into(),
            code,
            before,
            after,
            unset: unset.into(),
            ..FieldChangeView::default()
        }
    };
    let default = "the policy's default";
    match change {
        Change::Title { before, after } => {
            values("title", false, vec![before.clone()], vec![after.clone()], "")
        }
        Change::DependsOn { before, after } => {
            values("after", true, ids(before), ids(after), "none")
        }
        Change::Paths { before, after } => {
            values("paths", true, before.clone(), after.clone(), "none")
        }
        Change::Agent { before, after } => values(
            "agent",
            true,
            before.iter().cloned().collect(),
            after.iter().cloned().collect(),
            default,
        ),
        Change::Environment { before, after } => values(
            "environment",
            true,
            before.iter().cloned().collect(),
            after.iter().cloned().collect(),
            default,
        ),
        Change::Instructions(lines) => line_view("instructions", lines),
        Change::Acceptance(lines) => line_view("accepted when", lines),
    }
}

fn line_view(name: &str, lines: &[Line]) -> FieldChangeView {
    let lines: Vec<String> = lines
        .iter()
        .map(|line| match line {
            Line::Same(text) => format!(" {text}"),
            Line::Removed(text) => format!("-{text}"),
            Line::Added(text) => format!("+{text}"),
            Line::Skipped(n) => format!("@@ {n} unchanged line{} @@", if *n == 1 { "" } else { "s" }),
        })
        .collect();
    let longest = lines
        .iter()
        .flat_map(|l| l.split(|c| c != '`'))
        .map(str::len)
        .max()
        .unwrap_or(0);
    FieldChangeView {
        name: name.into(),
        fence: "`".repeat(longest.max(2) + 1),
        lines,
        ..FieldChangeView::default()
    }
}

/// Where one task of an active spec stands, for the plan comment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TaskProgress {
    /// The task id.
    pub id: String,
    /// Its state in words (`running`, `in review`, `blocked: \`t1\` rejected`, ...).
    pub state: String,
    /// Its approval's pull request, once opened.
    pub pull_number: Option<i64>,
}

impl GoalComment<'_> {
    /// The plan comment showing `spec` in `state`, with each task's progress once it is active.
    pub fn plan(
        &self,
        spec: &Spec,
        state: SpecState,
        row: &SpecRow,
        errors: &[String],
        progress: &[TaskProgress],
    ) -> ForgeWrite {
        let view = PlanView {
            number: self.number,
            title: self.title.to_string(),
            version: row.version,
            state: state.as_str().to_string(),
            author: spec.author.clone(),
            planner: spec.planner.to_string(),
            tasks: spec
                .tasks
                .iter()
                .map(|task| {
                    let progress = progress.iter().find(|p| p.id == task.id.as_str());
                    TaskView {
                        id: task.id.to_string(),
                        title: task.title.clone(),
                        instructions: task
                            .instructions
                            .lines()
                            .filter(|l| !l.trim().is_empty())
                            .map(str::to_string)
                            .collect(),
                        acceptance: task.acceptance.clone(),
                        depends_on: task.depends_on.iter().map(ToString::to_string).collect(),
                        paths: task.paths.clone(),
                        state: progress.map(|p| p.state.clone()),
                        pull_number: progress.and_then(|p| p.pull_number),
                    }
                })
                .collect(),
            errors: errors.to_vec(),
            approve_command: format!("/ade approve {}", row.version),
            hash: row.content_hash.chars().take(12).collect(),
            changes: self
                .previous
                .filter(|_| errors.is_empty())
                .map(|previous| changes_view(previous, spec)),
        };
        // A plan that did not render shows no version, so none counts as shown by it.
        let (body, shows) = match render::plan(&view) {
            Ok(body) => (body, Some(row.id)),
            Err(error) => {
                tracing::error!(%error, "the plan comment did not render");
                (
                    "ade could not render the plan; the operator's log has the details.\n"
                        .to_string(),
                    None,
                )
            }
        };
        ForgeWrite::Comment {
            shows,
            repo: self.repo.clone(),
            number: self.number,
            marker: format!("plan:{}", self.number),
            body,
        }
    }
}
