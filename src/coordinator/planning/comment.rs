//! The goal's plan comment: one per goal, edited in place as versions come and go, showing the
//! version that waits for approval or the active one with each task's progress, and for a re-plan
//! what changed since the version it replaces (docs/spec.md#re-plans).

use crate::coordinator::render::{
    self, ChangedTaskView, ChangesView, FieldChangeView, NamedTask, PlanView, TaskView,
};
use crate::coordinator::writes::ForgeWrite;
use crate::forge::RepoRef;
use crate::spec::diff::{self, Change, Line};
use crate::spec::{Spec, SpecState, TaskId};
use crate::store::goals::SpecRow;

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
    /// A link to the planner agent's log, for a version a planner agent wrote.
    pub planner_log: Option<String>,
}

/// Most characters of a plan comment: the forges refuse comments past 65,536.
const MAX_COMMENT_CHARS: usize = 60_000;

/// Lines of a task's instructions kept when the whole plan does not fit a comment.
const SHORT_INSTRUCTIONS: usize = 5;

/// The plan comment rendered to fit a forge comment: first whole; then without line diffs; then
/// with each task's instructions cut short; last, the plan's outline only.
fn fitted(view: &mut PlanView) -> Result<String, crate::templates::TemplateError> {
    let body = render::plan(view)?;
    if body.chars().count() <= MAX_COMMENT_CHARS {
        return Ok(body);
    }
    for task in view.changes.iter_mut().flat_map(|c| c.changed.iter_mut()) {
        for field in task.fields.iter_mut().filter(|f| !f.lines.is_empty()) {
            field.lines = vec!["@@ the changes are too long to show in this comment @@".into()];
            field.fence = "```".into();
        }
    }
    let body = render::plan(view)?;
    if body.chars().count() <= MAX_COMMENT_CHARS {
        return Ok(body);
    }
    for task in &mut view.tasks {
        if task.instructions.len() > SHORT_INSTRUCTIONS {
            let more = task.instructions.len() - SHORT_INSTRUCTIONS;
            task.instructions.truncate(SHORT_INSTRUCTIONS);
            task.instructions.push(format!(
                "[{more} more lines: the plan is too long for one comment]"
            ));
        }
        for line in &mut task.instructions {
            if line.chars().count() > 300 {
                *line = line.chars().take(300).collect::<String>() + "…";
            }
        }
    }
    let body = render::plan(view)?;
    if body.chars().count() <= MAX_COMMENT_CHARS {
        return Ok(body);
    }
    for task in &mut view.tasks {
        task.instructions = vec!["[left out: the plan is too long for one comment]".into()];
        task.acceptance.clear();
    }
    view.changes = None;
    let body = render::plan(view)?;
    Ok(body.chars().take(MAX_COMMENT_CHARS).collect())
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
        reordered: diff.reordered,
        changed: diff
            .changed
            .iter()
            .map(|task| ChangedTaskView {
                id: task.id.to_string(),
                title: spec
                    .task(&task.id)
                    .map_or_else(String::new, |t| t.title.clone()),
                fields: task.changes.iter().map(field_view).collect(),
            })
            .collect(),
    }
}

fn field_view(change: &Change) -> FieldChangeView {
    let ids = |ids: &[TaskId]| ids.iter().map(ToString::to_string).collect();
    let values =
        |name: &str, code, before: Vec<String>, after: Vec<String>, unset: &str| FieldChangeView {
            name: name.into(),
            code,
            before,
            after,
            unset: unset.into(),
            ..FieldChangeView::default()
        };
    let default = "the policy's default";
    match change {
        Change::Title { before, after } => values(
            "title",
            false,
            vec![before.clone()],
            vec![after.clone()],
            "",
        ),
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
            Line::Skipped(n) => {
                format!("@@ {n} unchanged line{} @@", if *n == 1 { "" } else { "s" })
            }
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
        let mut view = PlanView {
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
            planner_log: self.planner_log.clone(),
            changes: self
                .previous
                .filter(|_| errors.is_empty())
                .map(|previous| changes_view(previous, spec)),
        };
        // A plan that did not render shows no version, so none counts as shown by it.
        let (body, shows) = match fitted(&mut view) {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::{GoalRef, Lifecycle, Planner, Task};

    fn spec(version: u32, instructions: &str) -> Spec {
        Spec {
            goal: GoalRef {
                forge: crate::forge::ForgeKind::Github,
                repo: "acme/widgets".into(),
                issue: 7,
            },
            version,
            author: "mia".into(),
            planner: Planner::Manual,
            base_commit: None,
            tasks: (1..=100)
                .map(|i| Task {
                    id: TaskId::parse(&format!("t{i}")).unwrap(),
                    title: format!("Task {i}"),
                    instructions: instructions.to_string(),
                    acceptance: vec![],
                    depends_on: vec![],
                    paths: vec![],
                    agent: None,
                    environment: None,
                })
                .collect(),
            lifecycle: Lifecycle::new(0),
        }
    }

    fn row() -> SpecRow {
        SpecRow {
            id: 2,
            goal: 1,
            version: 2,
            state: SpecState::Validated,
            content: String::new(),
            content_hash: "3f2a9c01d0e4aa".into(),
            author: "mia".into(),
            planner: "manual".into(),
            errors: None,
            created_at: 0,
            changed_at: 0,
            shown_at: None,
        }
    }

    #[test]
    fn the_largest_plan_and_its_diff_still_fit_one_comment() {
        let long: String = (0..3000)
            .map(|i| format!("line {i} of the old text\n"))
            .collect();
        let newer: String = (0..3000)
            .map(|i| format!("line {i} of the new text\n"))
            .collect();
        let repo = RepoRef::parse("acme/widgets", None).unwrap();
        let before = spec(1, &long[..32 * 1024 - 100]);
        let after = spec(2, &newer[..32 * 1024 - 100]);
        let comment = GoalComment {
            repo: &repo,
            number: 7,
            title: "A goal",
            previous: Some(&before),
            planner_log: None,
        };
        let ForgeWrite::Comment { body, shows, .. } =
            comment.plan(&after, SpecState::Validated, &row(), &[], &[])
        else {
            panic!("a comment")
        };
        assert!(body.chars().count() <= MAX_COMMENT_CHARS, "{}", body.len());
        assert_eq!(shows, Some(2));
        assert!(body.contains("ade plan v2"), "{body}");
    }
}
