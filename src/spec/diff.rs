//! What changed between two versions of a goal's spec, so the plan comment of a re-plan shows an
//! approver exactly what their approval now covers (docs/spec.md#re-plans). Tasks are matched by
//! id: a task whose id is new was added, one whose id is gone was removed, and one in both is
//! changed when any of its fields differ.

use super::{Spec, Task, TaskId};

/// The changes from one version to a later one, in the later version's task order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SpecDiff {
    /// Tasks only the later version has.
    pub added: Vec<TaskId>,
    /// Tasks only the earlier version has, with their titles there.
    pub removed: Vec<(TaskId, String)>,
    /// Tasks in both whose fields differ.
    pub changed: Vec<TaskChange>,
    /// Whether the tasks in both are listed in another order (the order runs start in).
    pub reordered: bool,
}

impl SpecDiff {
    /// Whether the two versions plan the same tasks in every field.
    pub fn is_empty(&self) -> bool {
        self.added.is_empty()
            && self.removed.is_empty()
            && self.changed.is_empty()
            && !self.reordered
    }
}

/// One task present in both versions, and what differs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TaskChange {
    /// The task's id, the same in both.
    pub id: TaskId,
    /// Each field that differs, in the order a task lists them.
    pub changes: Vec<Change>,
}

/// One field of a task that differs between the versions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Change {
    /// The one-line title.
    Title { before: String, after: String },
    /// The instructions, line by line (blank lines left out, as the plan shows them).
    Instructions(Vec<Line>),
    /// The acceptance statements, one per line.
    Acceptance(Vec<Line>),
    /// The tasks it waits for.
    DependsOn {
        before: Vec<TaskId>,
        after: Vec<TaskId>,
    },
    /// The paths it expects to change.
    Paths {
        before: Vec<String>,
        after: Vec<String>,
    },
    /// The agent; `None` is the policy's default.
    Agent {
        before: Option<String>,
        after: Option<String>,
    },
    /// The environment; `None` is the policy's default.
    Environment {
        before: Option<String>,
        after: Option<String>,
    },
}

/// One line of a text diff.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Line {
    /// In both versions, shown as context next to a change.
    Same(String),
    /// Only in the earlier version.
    Removed(String),
    /// Only in the later version.
    Added(String),
    /// This many unchanged lines left out between changes.
    Skipped(usize),
}

/// Unchanged lines kept on each side of a change.
const CONTEXT: usize = 2;

/// Texts longer than this (lines on one side times the other) are shown as all removed and all
/// added rather than aligned, which would cost a table of that size.
const ALIGN_LIMIT: usize = 250_000;

/// What changed from `before` to `after`.
pub fn diff(before: &Spec, after: &Spec) -> SpecDiff {
    let mut out = SpecDiff::default();
    for task in &after.tasks {
        match before.task(&task.id) {
            None => out.added.push(task.id.clone()),
            Some(old) => {
                let changes = changes(old, task);
                if !changes.is_empty() {
                    out.changed.push(TaskChange {
                        id: task.id.clone(),
                        changes,
                    });
                }
            }
        }
    }
    out.removed = before
        .tasks
        .iter()
        .filter(|t| after.task(&t.id).is_none())
        .map(|t| (t.id.clone(), t.title.clone()))
        .collect();
    let kept = |spec: &Spec, other: &Spec| -> Vec<TaskId> {
        spec.tasks
            .iter()
            .filter(|t| other.task(&t.id).is_some())
            .map(|t| t.id.clone())
            .collect()
    };
    out.reordered = kept(before, after) != kept(after, before);
    out
}

fn changes(old: &Task, new: &Task) -> Vec<Change> {
    let mut out = Vec::new();
    if old.title != new.title {
        out.push(Change::Title {
            before: old.title.clone(),
            after: new.title.clone(),
        });
    }
    let (old_lines, new_lines) = (
        shown_lines(&old.instructions),
        shown_lines(&new.instructions),
    );
    if old_lines != new_lines {
        out.push(Change::Instructions(lines(&old_lines, &new_lines)));
    }
    if old.acceptance != new.acceptance {
        out.push(Change::Acceptance(lines(&old.acceptance, &new.acceptance)));
    }
    if old.depends_on != new.depends_on {
        out.push(Change::DependsOn {
            before: old.depends_on.clone(),
            after: new.depends_on.clone(),
        });
    }
    if old.paths != new.paths {
        out.push(Change::Paths {
            before: old.paths.clone(),
            after: new.paths.clone(),
        });
    }
    if old.agent != new.agent {
        out.push(Change::Agent {
            before: old.agent.clone(),
            after: new.agent.clone(),
        });
    }
    if old.environment != new.environment {
        let name = |e: Option<crate::policy::Environment>| e.map(|e| e.as_str().to_string());
        out.push(Change::Environment {
            before: name(old.environment),
            after: name(new.environment),
        });
    }
    out
}

fn shown_lines(text: &str) -> Vec<String> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(str::to_string)
        .collect()
}

/// A line diff of `old` to `new` with [`CONTEXT`] unchanged lines around each change.
pub fn lines(old: &[String], new: &[String]) -> Vec<Line> {
    let full = align(old, new);
    let near_change: Vec<bool> = (0..full.len())
        .map(|i| {
            let lo = i.saturating_sub(CONTEXT);
            let hi = (i + CONTEXT + 1).min(full.len());
            full[lo..hi].iter().any(|l| !matches!(l, Line::Same(_)))
        })
        .collect();
    let mut out = Vec::new();
    let mut skipped = 0;
    for (line, keep) in full.into_iter().zip(near_change) {
        if keep {
            if skipped > 0 {
                out.push(Line::Skipped(skipped));
                skipped = 0;
            }
            out.push(line);
        } else {
            skipped += 1;
        }
    }
    if skipped > 0 {
        out.push(Line::Skipped(skipped));
    }
    out
}

/// Every line of both texts, aligned on a longest common subsequence.
fn align(old: &[String], new: &[String]) -> Vec<Line> {
    let (n, m) = (old.len(), new.len());
    if n.saturating_mul(m) > ALIGN_LIMIT {
        return old
            .iter()
            .map(|l| Line::Removed(l.clone()))
            .chain(new.iter().map(|l| Line::Added(l.clone())))
            .collect();
    }
    // common[i][j]: the longest common subsequence of old[i..] and new[j..].
    let mut common = vec![0u32; (n + 1) * (m + 1)];
    let at = |i: usize, j: usize| i * (m + 1) + j;
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            common[at(i, j)] = if old[i] == new[j] {
                common[at(i + 1, j + 1)] + 1
            } else {
                common[at(i + 1, j)].max(common[at(i, j + 1)])
            };
        }
    }
    let (mut i, mut j) = (0, 0);
    let mut out = Vec::with_capacity(n + m);
    while i < n || j < m {
        if i < n && j < m && old[i] == new[j] {
            out.push(Line::Same(old[i].clone()));
            i += 1;
            j += 1;
        } else if j < m && (i == n || common[at(i, j + 1)] >= common[at(i + 1, j)]) {
            out.push(Line::Added(new[j].clone()));
            j += 1;
        } else {
            out.push(Line::Removed(old[i].clone()));
            i += 1;
        }
    }
    // Within a run of changes, removals read better before additions.
    let mut k = 0;
    while k < out.len() {
        let end = out[k..]
            .iter()
            .position(|l| matches!(l, Line::Same(_)))
            .map_or(out.len(), |p| k + p);
        out[k..end].sort_by_key(|l| matches!(l, Line::Added(_)));
        k = end + 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::{GoalRef, Lifecycle, Planner};

    fn task(id: &str, title: &str) -> Task {
        Task {
            id: TaskId::parse(id).unwrap(),
            title: title.into(),
            instructions: String::new(),
            acceptance: vec![],
            depends_on: vec![],
            paths: vec![],
            agent: None,
            environment: None,
        }
    }

    fn spec(tasks: Vec<Task>) -> Spec {
        Spec {
            goal: GoalRef {
                forge: crate::forge::ForgeKind::Github,
                repo: "acme/widgets".into(),
                issue: 7,
            },
            version: 1,
            author: "mia".into(),
            planner: Planner::Manual,
            base_commit: None,
            tasks,
            lifecycle: Lifecycle::new(0),
        }
    }

    fn strings(lines: &[&str]) -> Vec<String> {
        lines.iter().map(|l| l.to_string()).collect()
    }

    #[test]
    fn tasks_are_added_removed_and_changed_by_id() {
        let mut t1 = task("t1", "Parse the file");
        t1.instructions = "Read it.\n\nThen parse it.".into();
        let before = spec(vec![t1.clone(), task("t2", "Old docs")]);
        let mut t1b = task("t1", "Parse the file fast");
        t1b.instructions = "Read it.\nThen parse it, in one pass.".into();
        t1b.depends_on = vec![TaskId::parse("t0").unwrap()];
        t1b.agent = Some("codex".into());
        let after = spec(vec![task("t0", "Set up"), t1b]);
        let d = diff(&before, &after);
        assert_eq!(d.added, vec![TaskId::parse("t0").unwrap()]);
        assert_eq!(
            d.removed,
            vec![(TaskId::parse("t2").unwrap(), "Old docs".to_string())]
        );
        assert_eq!(d.changed.len(), 1);
        let changes = &d.changed[0].changes;
        assert_eq!(
            changes[0],
            Change::Title {
                before: "Parse the file".into(),
                after: "Parse the file fast".into()
            }
        );
        assert_eq!(
            changes[1],
            Change::Instructions(vec![
                Line::Same("Read it.".into()),
                Line::Removed("Then parse it.".into()),
                Line::Added("Then parse it, in one pass.".into()),
            ])
        );
        assert!(
            matches!(&changes[2], Change::DependsOn { before, after } if before.is_empty() && after.len() == 1)
        );
        assert_eq!(
            changes[3],
            Change::Agent {
                before: None,
                after: Some("codex".into())
            }
        );
        assert_eq!(changes.len(), 4);
    }

    #[test]
    fn the_same_tasks_differ_in_nothing() {
        let mut t1 = task("t1", "Parse");
        t1.instructions = "Read it.\n\n\nParse it.".into();
        let mut t1b = t1.clone();
        t1b.instructions = "Read it.\nParse it.\n".into();
        assert!(diff(&spec(vec![t1]), &spec(vec![t1b])).is_empty());
    }

    #[test]
    fn the_same_tasks_in_another_order_are_a_change() {
        let (a, b) = (task("t1", "A"), task("t2", "B"));
        let d = diff(
            &spec(vec![a.clone(), b.clone()]),
            &spec(vec![b, a, task("t3", "C")]),
        );
        assert!(d.reordered);
        assert!(d.changed.is_empty());
        assert!(!d.is_empty());
    }

    #[test]
    fn long_unchanged_stretches_are_skipped() {
        let old: Vec<String> = (0..20).map(|i| format!("line {i}")).collect();
        let mut new = old.clone();
        new[10] = "line ten".into();
        let d = lines(&old, &new);
        assert_eq!(d.first(), Some(&Line::Skipped(8)));
        assert_eq!(d.last(), Some(&Line::Skipped(7)));
        assert!(d.contains(&Line::Removed("line 10".into())));
        assert!(d.contains(&Line::Added("line ten".into())));
        assert_eq!(d.len(), 1 + 6 + 1);
    }

    #[test]
    fn removals_come_before_additions_within_a_change() {
        let d = lines(&strings(&["a", "b", "c"]), &strings(&["x", "y", "c"]));
        assert_eq!(
            d,
            vec![
                Line::Removed("a".into()),
                Line::Removed("b".into()),
                Line::Added("x".into()),
                Line::Added("y".into()),
                Line::Same("c".into()),
            ]
        );
    }

    #[test]
    fn texts_too_long_to_align_are_replaced_whole() {
        let old: Vec<String> = (0..600).map(|i| format!("o{i}")).collect();
        let new: Vec<String> = (0..600).map(|i| format!("n{i}")).collect();
        let d = lines(&old, &new);
        assert_eq!(d.len(), 1200);
        assert!(matches!(d[0], Line::Removed(_)));
        assert!(matches!(d[1199], Line::Added(_)));
    }
}
