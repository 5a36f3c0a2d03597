//! What the coordinator says on the forge, as views the templates in templates/ render. Views hold
//! plain values; every user-written value is escaped by the template that places it.

use crate::templates::{self, TemplateError};
use serde::Serialize;

/// One task as the plan comment shows it.
#[derive(Clone, Debug, Serialize)]
pub struct TaskView {
    /// The task id (`t1`).
    pub id: String,
    /// Its title.
    pub title: String,
    /// Its instructions, line by line.
    pub instructions: Vec<String>,
    /// Its acceptance checks.
    pub acceptance: Vec<String>,
    /// Ids of the tasks it waits for.
    pub depends_on: Vec<String>,
    /// Paths it is expected to change.
    pub paths: Vec<String>,
    /// Where it stands once the spec is active (`running`, `approval`, `merged`, ...).
    pub state: Option<String>,
    /// Its approval's pull request number, once opened.
    pub pull_number: Option<i64>,
}

/// The plan comment of a goal.
#[derive(Clone, Debug, Serialize)]
pub struct PlanView {
    /// The issue number.
    pub number: i64,
    /// The issue title.
    pub title: String,
    /// The spec version shown.
    pub version: i64,
    /// Its lifecycle state, lowercase.
    pub state: String,
    /// Who asked for it.
    pub author: String,
    /// Which planner made it.
    pub planner: String,
    /// The tasks, in order.
    pub tasks: Vec<TaskView>,
    /// Validation errors; a plan with errors cannot be approved.
    pub errors: Vec<String>,
    /// The exact command that approves this version.
    pub approve_command: String,
    /// The first characters of the spec's content hash.
    pub hash: String,
    /// What changed since the earlier version it replaces, for a re-plan.
    pub changes: Option<ChangesView>,
    /// A link (made by ade) to the planner agent's log, for a version a planner agent wrote.
    pub planner_log: Option<String>,
}

/// What a re-plan changed, task by task, as the plan comment shows it.
#[derive(Clone, Debug, Default, Serialize)]
pub struct ChangesView {
    /// The earlier version compared against.
    pub since: i64,
    /// Tasks only this version has.
    pub added: Vec<NamedTask>,
    /// Tasks only the earlier version has.
    pub removed: Vec<NamedTask>,
    /// Tasks in both that differ.
    pub changed: Vec<ChangedTaskView>,
    /// Whether the tasks in both are listed in another order.
    pub reordered: bool,
}

/// A task by id and title.
#[derive(Clone, Debug, Serialize)]
pub struct NamedTask {
    /// The task id.
    pub id: String,
    /// Its title.
    pub title: String,
}

/// A task whose fields changed in a re-plan.
#[derive(Clone, Debug, Serialize)]
pub struct ChangedTaskView {
    /// The task id.
    pub id: String,
    /// Its title in the newer version.
    pub title: String,
    /// Each field that changed.
    pub fields: Vec<FieldChangeView>,
}

/// One changed field: either values before and after, or a line diff in a fence.
#[derive(Clone, Debug, Default, Serialize)]
pub struct FieldChangeView {
    /// The field's name as a reader knows it (`title`, `after`, `paths`, `instructions`, ...).
    pub name: String,
    /// Whether the values are code (ids, paths, agent names) rather than prose.
    pub code: bool,
    /// The values before; empty means none, or the word in `unset`.
    pub before: Vec<String>,
    /// The values after.
    pub after: Vec<String>,
    /// What no value means for this field (`none`, `the policy's default`).
    pub unset: String,
    /// A line diff, each line starting with `-`, `+`, a space, or `@@` for skipped lines.
    pub lines: Vec<String>,
    /// A code fence longer than any run of backticks in `lines`.
    pub fence: String,
}

/// A table in a reply.
#[derive(Clone, Debug, Default, Serialize)]
pub struct TableView {
    /// Column titles.
    pub header: Vec<String>,
    /// Rows of cells.
    pub rows: Vec<Vec<String>>,
}

/// A command a user may run, for help.
#[derive(Clone, Debug, Serialize)]
pub struct CommandView {
    /// How to write it.
    pub usage: String,
    /// What it does.
    pub description: String,
}

/// A reply to a command.
#[derive(Clone, Debug, Default, Serialize)]
pub struct ReplyView {
    /// Whom it answers (their login), if anyone.
    pub mention: Option<String>,
    /// The one-line answer: Markdown built by the coordinator, with every user-written value in
    /// it escaped (`markdown::inline`, `markdown::code_span`).
    pub headline: String,
    /// Further lines, as a list; Markdown like the headline.
    pub details: Vec<String>,
    /// A table (status).
    pub table: Option<TableView>,
    /// The commands this user may run here (help, and after a mistake).
    pub commands: Vec<CommandView>,
}

/// The body of an approval: the pull request a run opens.
#[derive(Clone, Debug, Serialize)]
pub struct ApprovalView {
    /// The task it carries out.
    pub task: TaskView,
    /// The goal's issue number.
    pub goal_number: i64,
    /// The spec version.
    pub spec_version: i64,
    /// `owner/name#12@v2`.
    pub spec_reference: String,
    /// The spec's content hash.
    pub spec_hash: String,
    /// Who approved the spec.
    pub requester: String,
    /// The agent that ran.
    pub agent: String,
    /// Where it ran (`worktree`, `container`, `main`).
    pub environment: String,
    /// The run's attempt number.
    pub attempt: i64,
    /// ade's run id.
    pub run_id: String,
    /// The runner's name.
    pub runner: String,
    /// The commit the run started from.
    pub base_commit: String,
    /// Files changed.
    pub files_changed: u64,
    /// Lines added.
    pub insertions: u64,
    /// Lines removed.
    pub deletions: u64,
    /// How long the agent ran, for humans (`3m 12s`).
    pub duration: String,
    /// What the agent said it did (its output's last lines), untrusted.
    pub summary: Vec<String>,
    /// Agent configuration files the run changed (`AGENTS.md`, `.claude/…`).
    pub agent_config_changes: Vec<String>,
    /// Things a reviewer should look at (links out of the worktree, suppression comments).
    pub flagged: Vec<String>,
    /// What the run pushed that DLP could not read, and who allowed it.
    pub unscanned: Option<crate::runner::Unscanned>,
}

/// One task in a finished goal's summary.
#[derive(Clone, Debug, Serialize)]
pub struct SummaryTaskView {
    /// The task id.
    pub id: String,
    /// Its title.
    pub title: String,
    /// How it ended: `merged`, `rejected` or `cancelled`.
    pub outcome: String,
    /// Its approval, if one was opened.
    pub pull_number: Option<i64>,
    /// Why it was rejected or cancelled, or what to know about its merge (plain text).
    pub note: Option<String>,
    /// Runs it took.
    pub attempts: i64,
    /// Agent time over those runs, for humans.
    pub agent_time: String,
}

/// The summary ade posts on a goal once every task of its plan is merged, rejected or cancelled.
#[derive(Clone, Debug, Serialize)]
pub struct SummaryView {
    /// The issue number.
    pub number: i64,
    /// The spec version finished.
    pub version: i64,
    /// The tasks, in plan order.
    pub tasks: Vec<SummaryTaskView>,
    /// Tasks merged, rejected and cancelled.
    pub merged: usize,
    /// Tasks rejected.
    pub rejected: usize,
    /// Tasks cancelled.
    pub cancelled: usize,
    /// Runs over every task.
    pub attempts: i64,
    /// Agent time over every run, for humans.
    pub agent_time: String,
    /// Whether ade closes the issue.
    pub closing: bool,
}

/// Renders a finished goal's summary.
pub fn summary(view: &SummaryView) -> Result<String, TemplateError> {
    templates::render("summary.md", view)
}

/// Renders the plan comment.
pub fn plan(view: &PlanView) -> Result<String, TemplateError> {
    templates::render("plan.md", view)
}

/// Renders an approval's pull request body.
pub fn approval(view: &ApprovalView) -> Result<String, TemplateError> {
    templates::render("pull_request.md", view)
}

/// Renders a reply.
pub fn reply(view: &ReplyView) -> Result<String, TemplateError> {
    templates::render("reply.md", view)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::templates::snapshot;

    #[test]
    fn summary_of_a_finished_goal() {
        let task =
            |id: &str, title: &str, outcome: &str, pull, note: Option<&str>| SummaryTaskView {
                id: id.into(),
                title: title.into(),
                outcome: outcome.into(),
                pull_number: pull,
                note: note.map(str::to_string),
                attempts: 1,
                agent_time: "12.0 s".into(),
            };
        let view = SummaryView {
            number: 12,
            version: 2,
            tasks: vec![
                task("t1", "Parse the flag", "merged", Some(31), None),
                task(
                    "t2",
                    "Skip writes | @everyone",
                    "rejected",
                    Some(32),
                    Some("verification failed: step test"),
                ),
                task("t3", "Document it", "cancelled", None, Some("cancelled")),
            ],
            merged: 1,
            rejected: 1,
            cancelled: 1,
            attempts: 5,
            agent_time: "1m 02s".into(),
            closing: false,
        };
        snapshot("summary", &summary(&view).unwrap());
    }

    fn task(id: &str, title: &str, after: &[&str]) -> TaskView {
        TaskView {
            id: id.into(),
            title: title.into(),
            instructions: vec!["Keep the flag off by default.".into()],
            acceptance: vec!["`cargo test` passes".into()],
            depends_on: after.iter().map(|s| s.to_string()).collect(),
            paths: vec![],
            state: None,
            pull_number: None,
        }
    }

    fn plan_view() -> PlanView {
        PlanView {
            number: 12,
            title: "Add a --dry-run flag".into(),
            version: 2,
            state: "validated".into(),
            author: "mia".into(),
            planner: "manual".into(),
            tasks: vec![
                task("t1", "Parse the flag", &[]),
                task("t2", "Skip writes when set | @everyone", &["t1"]),
                task("t3", "Document it \"loudly\"", &["t1", "t2"]),
            ],
            errors: vec![],
            approve_command: "/ade approve 2".into(),
            hash: "3f2a9c01".into(),
            changes: None,
            planner_log: None,
        }
    }

    #[test]
    fn plan_comment() {
        snapshot("plan", &plan(&plan_view()).unwrap());
    }

    #[test]
    fn active_plan_comment_shows_each_task_state() {
        let mut view = plan_view();
        view.state = "active".into();
        view.tasks[0].state = Some("merged".into());
        view.tasks[0].pull_number = Some(31);
        view.tasks[1].state = Some("running".into());
        snapshot("plan-active", &plan(&view).unwrap());
    }

    fn changes_view() -> ChangesView {
        let field = |name: &str, code, before: &[&str], after: &[&str]| FieldChangeView {
            name: name.into(),
            code,
            before: before.iter().map(|s| s.to_string()).collect(),
            after: after.iter().map(|s| s.to_string()).collect(),
            unset: "none".into(),
            ..FieldChangeView::default()
        };
        ChangesView {
            since: 1,
            reordered: false,
            added: vec![NamedTask {
                id: "t3".into(),
                title: "Document it \"loudly\" @everyone".into(),
            }],
            removed: vec![NamedTask {
                id: "t4".into(),
                title: "Old docs <script>".into(),
            }],
            changed: vec![ChangedTaskView {
                id: "t2".into(),
                title: "Skip writes when set | @everyone".into(),
                fields: vec![
                    field(
                        "title",
                        false,
                        &["Skip writes"],
                        &["Skip writes when set | @everyone"],
                    ),
                    field("after", true, &[], &["t1"]),
                    FieldChangeView {
                        name: "instructions".into(),
                        lines: vec![
                            "@@ 3 unchanged lines @@".into(),
                            " Check the flag.".into(),
                            "-Skip the write.".into(),
                            "+Skip the write and say so ```".into(),
                        ],
                        fence: "````".into(),
                        ..FieldChangeView::default()
                    },
                ],
            }],
        }
    }

    #[test]
    fn replan_comment_shows_what_changed() {
        let view = PlanView {
            changes: Some(changes_view()),
            ..plan_view()
        };
        let text = plan(&view).unwrap();
        snapshot("plan-replan", &text);
        let mentions: Vec<&str> = text.lines().filter(|l| l.contains("@everyone")).collect();
        assert_eq!(
            mentions,
            ["  t2[\"t2: Skip writes when set | @everyone\"]"],
            "only in the graph"
        );
        assert!(!text.contains("<script>"), "{text}");
    }

    #[test]
    fn active_replan_folds_its_changes() {
        let view = PlanView {
            state: "active".into(),
            changes: Some(changes_view()),
            ..plan_view()
        };
        let text = plan(&view).unwrap();
        assert!(
            text.contains("<details><summary>Changes since v1</summary>"),
            "{text}"
        );
    }

    #[test]
    fn invalid_plan_comment() {
        let view = PlanView {
            errors: vec!["task 2 depends on task 3, which depends on task 2 (a cycle)".into()],
            ..plan_view()
        };
        snapshot("plan-invalid", &plan(&view).unwrap());
    }

    #[test]
    fn hostile_titles_stay_inside_their_cells() {
        let text = plan(&plan_view()).unwrap();
        let outside_code: String = text.split("```").step_by(2).collect();
        assert!(!outside_code.contains("@everyone"), "{outside_code}");
        let row = text.lines().find(|l| l.contains("Skip writes")).unwrap();
        assert_eq!(row.matches(" | ").count() + 2, 5, "{row}");
    }

    #[test]
    fn approval_body() {
        let view = ApprovalView {
            task: task("t2", "Skip writes when set", &["t1"]),
            goal_number: 12,
            spec_version: 2,
            spec_reference: "acme/widgets#12@v2".into(),
            spec_hash: "3f2a9c01d0e4".into(),
            requester: "mia".into(),
            agent: "claude-code".into(),
            environment: "worktree".into(),
            attempt: 1,
            run_id: "r-42".into(),
            runner: "embedded".into(),
            base_commit: "4b825dc642cb".into(),
            files_changed: 3,
            insertions: 41,
            deletions: 7,
            duration: "3m 12s".into(),
            summary: vec![
                "Added the flag @everyone".into(),
                "<script>alert(1)</script>".into(),
            ],
            agent_config_changes: vec!["AGENTS.md".into()],
            flagged: vec!["src/link is a symlink to /etc/passwd".into()],
            unscanned: None,
        };
        let body = approval(&view).unwrap();
        assert!(!body.contains("@everyone") && !body.contains("<script>"));
        snapshot("pull-request", &body);
        approval_body_with_unscanned_content(view);
    }

    /// What a run pushed unread is listed with who allowed it; paths stay inside code spans
    /// whatever backticks they hold (the runner has already escaped invisible characters).
    fn approval_body_with_unscanned_content(mut view: ApprovalView) {
        use crate::runner::{Unscanned, UnscannedFile};
        view.unscanned = Some(Unscanned {
            allowed_by: "mia".into(),
            files: vec![
                UnscannedFile {
                    path: "assets/logo.png".into(),
                    why: "binary (a NUL byte at offset 4), so it was not read".into(),
                },
                UnscannedFile {
                    path: "a`b``\\n@everyone.bin".into(),
                    why: "binary (a NUL byte at offset 0), so it was not read".into(),
                },
            ],
            more: 3,
        });
        let body = approval(&view).unwrap();
        assert!(
            body.contains("- ```a`b``\\n@everyone.bin```: binary"),
            "{body}"
        );
        snapshot("pull-request-unscanned", &body);
    }

    #[test]
    fn help_reply() {
        let view = ReplyView {
            mention: Some("mia".into()),
            headline: format!(
                "unknown command {}: did you mean {}?",
                crate::markdown::code_span("aprove"),
                crate::markdown::code_span("approve")
            ),
            commands: vec![
                CommandView {
                    usage: "/ade plan [-- instructions]".into(),
                    description: "plan the goal".into(),
                },
                CommandView {
                    usage: "/ade status".into(),
                    description: "show the state".into(),
                },
            ],
            ..ReplyView::default()
        };
        snapshot("reply-help", &reply(&view).unwrap());
    }

    #[test]
    fn status_reply() {
        let view = ReplyView {
            mention: None,
            headline: "Goal #12: spec v2 is **active**".into(),
            details: vec!["2 tasks ready, 1 waiting".into()],
            table: Some(TableView {
                header: vec!["task".into(), "state".into()],
                rows: vec![
                    vec!["t1".into(), "ready".into()],
                    vec!["t2".into(), "waiting".into()],
                ],
            }),
            ..ReplyView::default()
        };
        snapshot("reply-status", &reply(&view).unwrap());
    }
}
