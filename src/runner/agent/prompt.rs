//! What an agent reads: the prompt (`templates/run_prompt.md`) and the task file (JSON), both made
//! from [`RunInputs`]. Every text that came from the forge, the repository or an earlier agent is
//! passed through [`crate::command::sanitize`] and capped before it is placed, and multi-line texts
//! are quoted in fences longer than any backtick run inside them, so the prompt shows plainly where
//! untrusted text starts and ends.

use serde::Serialize;

use super::inputs::{FeedbackFrom, RunInputs};
use crate::command::sanitize;
use crate::templates::TemplateError;

/// Longest one-line text kept (titles).
const TITLE_CAP: usize = 300;
/// Longest goal body and task instructions kept.
const BODY_CAP: usize = 20_000;
/// Longest acceptance check, path, or dependency title kept.
const ITEM_CAP: usize = 1_000;
/// Most acceptance checks, paths or dependencies listed.
const LIST_CAP: usize = 100;
/// Longest dependency summary kept.
const SUMMARY_CAP: usize = 4_000;
/// Longest AGENTS.md kept.
const AGENTS_MD_CAP: usize = 32_000;
/// Longest feedback from an earlier attempt kept.
const FEEDBACK_CAP: usize = 16_000;

/// Untrusted text ready to place: sanitized, capped, and with the fence that quotes it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Quoted {
    /// A run of backticks longer than any in `text` (at least three).
    pub fence: String,
    /// The text.
    pub text: String,
}

impl Quoted {
    /// Untrusted `raw`, sanitized and capped at `cap` bytes.
    pub(super) fn new(raw: &str, cap: usize) -> Quoted {
        Quoted::fenced(clean(raw, cap))
    }

    /// ade's own `raw` (a JSON Schema it generated), capped at `cap` bytes but not sanitized.
    pub(super) fn own(raw: &str, cap: usize) -> Quoted {
        Quoted::fenced(cap_text(raw.trim_end(), cap))
    }

    fn fenced(text: String) -> Quoted {
        let longest = text.split(|c| c != '`').map(str::len).max().unwrap_or(0);
        Quoted {
            fence: "`".repeat(longest.max(2) + 1),
            text,
        }
    }
}

/// Sanitized and capped multi-line text, without trailing blank lines.
pub fn clean(raw: &str, cap: usize) -> String {
    let text = sanitize(raw).text;
    cap_text(text.trim_end(), cap)
}

/// Sanitized, capped text on one line: line breaks and tabs become spaces.
pub fn one_line(raw: &str, cap: usize) -> String {
    let text = sanitize(raw).text;
    let joined = text.split_whitespace().collect::<Vec<_>>().join(" ");
    cap_text(&joined, cap)
}

/// `text` cut at a character boundary to at most `cap` bytes, saying how much was cut.
pub(super) fn cap_text(text: &str, cap: usize) -> String {
    if text.len() <= cap {
        return text.to_owned();
    }
    let mut end = cap;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!(
        "{} [… cut by ade: {} more bytes]",
        &text[..end],
        text.len() - end
    )
}

fn list(items: &[String], cap: usize) -> Vec<String> {
    items
        .iter()
        .take(LIST_CAP)
        .map(|item| one_line(item, cap))
        .filter(|item| !item.is_empty())
        .collect()
}

/// The goal as the prompt and task file show it.
#[derive(Clone, Debug, Serialize)]
pub struct GoalView {
    /// The issue number.
    pub number: u64,
    /// The issue title, one line.
    pub title: String,
    /// The issue body.
    pub body: Quoted,
}

/// The task as the prompt shows it.
#[derive(Clone, Debug, Serialize)]
pub struct TaskView {
    /// The task id.
    pub id: String,
    /// Its title, one line.
    pub title: String,
    /// Its instructions.
    pub instructions: Quoted,
    /// Its acceptance checks, one line each.
    pub acceptance: Vec<String>,
    /// Paths it is expected to change.
    pub paths: Vec<String>,
}

/// What a dependency produced.
#[derive(Clone, Debug, Serialize)]
pub struct DependencyView {
    /// Its task id.
    pub task_id: String,
    /// Its title, one line.
    pub title: String,
    /// Its pull request, if one was opened.
    pub pull_request: Option<u64>,
    /// What its agent said it did.
    pub summary: Quoted,
}

/// The context of `templates/run_prompt.md`.
#[derive(Clone, Debug, Serialize)]
pub struct PromptView {
    /// `owner/name`.
    pub repository: String,
    /// ade's run id.
    pub run_id: String,
    /// The attempt number, from 1.
    pub attempt: u32,
    /// The spec version.
    pub spec_version: u32,
    /// The goal.
    pub goal: GoalView,
    /// The task.
    pub task: TaskView,
    /// What the dependencies produced.
    pub dependencies: Vec<DependencyView>,
    /// The repository's AGENTS.md at the base commit.
    pub agents_md: Option<Quoted>,
    /// Why the previous attempt failed.
    pub feedback: Option<Quoted>,
    /// What the feedback answers.
    pub feedback_from: FeedbackFrom,
    /// Paths the run may not change.
    pub protected_paths: Vec<String>,
}

impl PromptView {
    /// Sanitizes and caps every untrusted value of `inputs`.
    pub fn new(inputs: &RunInputs) -> PromptView {
        PromptView {
            repository: one_line(&inputs.repository, ITEM_CAP),
            run_id: one_line(&inputs.run_id, ITEM_CAP),
            attempt: inputs.attempt,
            spec_version: inputs.spec_version,
            goal: GoalView {
                number: inputs.goal_number,
                title: one_line(&inputs.goal_title, TITLE_CAP),
                body: Quoted::new(&inputs.goal_body, BODY_CAP),
            },
            task: TaskView {
                id: one_line(&inputs.task_id, ITEM_CAP),
                title: one_line(&inputs.task_title, TITLE_CAP),
                instructions: Quoted::new(&inputs.instructions, BODY_CAP),
                acceptance: list(&inputs.acceptance, ITEM_CAP),
                paths: list(&inputs.paths, ITEM_CAP),
            },
            dependencies: inputs
                .dependencies
                .iter()
                .take(LIST_CAP)
                .map(|dep| DependencyView {
                    task_id: one_line(&dep.task_id, ITEM_CAP),
                    title: one_line(&dep.title, TITLE_CAP),
                    pull_request: dep.pull_request,
                    summary: Quoted::new(&dep.summary, SUMMARY_CAP),
                })
                .collect(),
            agents_md: inputs
                .agents_md
                .as_deref()
                .map(|text| Quoted::new(text, AGENTS_MD_CAP))
                .filter(|q| !q.text.is_empty()),
            feedback: inputs
                .feedback
                .as_deref()
                .map(|text| Quoted::new(text, FEEDBACK_CAP))
                .filter(|q| !q.text.is_empty()),
            feedback_from: inputs.feedback_from,
            protected_paths: list(&inputs.protected_paths, ITEM_CAP),
        }
    }

    /// The prompt text.
    pub fn render(&self) -> Result<String, TemplateError> {
        crate::templates::render("run_prompt.md", self)
    }

    /// The task file: the same facts as JSON, for agents and scripts that read structure.
    pub fn task_file(&self) -> TaskFile<'_> {
        TaskFile {
            ade_task: 1,
            repository: &self.repository,
            run_id: &self.run_id,
            attempt: self.attempt,
            goal: TaskFileGoal {
                number: self.goal.number,
                title: &self.goal.title,
                body: &self.goal.body.text,
            },
            spec_version: self.spec_version,
            task: TaskFileTask {
                id: &self.task.id,
                title: &self.task.title,
                instructions: &self.task.instructions.text,
                acceptance: &self.task.acceptance,
                paths: &self.task.paths,
            },
            dependencies: self
                .dependencies
                .iter()
                .map(|dep| TaskFileDependency {
                    task_id: &dep.task_id,
                    title: &dep.title,
                    pull_request: dep.pull_request,
                    summary: &dep.summary.text,
                })
                .collect(),
            agents_md: self.agents_md.as_ref().map(|q| q.text.as_str()),
            feedback: self.feedback.as_ref().map(|q| q.text.as_str()),
            protected_paths: &self.protected_paths,
        }
    }
}

/// The task file (`task.json`, `$ADE_TASK_FILE`). `ade_task` is its format version.
#[derive(Debug, Serialize)]
pub struct TaskFile<'a> {
    /// Format version of this file: 1.
    pub ade_task: u32,
    /// `owner/name`.
    pub repository: &'a str,
    /// ade's run id.
    pub run_id: &'a str,
    /// The attempt number, from 1.
    pub attempt: u32,
    /// The goal.
    pub goal: TaskFileGoal<'a>,
    /// The spec version.
    pub spec_version: u32,
    /// The task.
    pub task: TaskFileTask<'a>,
    /// What the dependencies produced.
    pub dependencies: Vec<TaskFileDependency<'a>>,
    /// The repository's AGENTS.md at the base commit.
    pub agents_md: Option<&'a str>,
    /// Why the previous attempt failed.
    pub feedback: Option<&'a str>,
    /// Paths the run may not change.
    pub protected_paths: &'a [String],
}

/// The goal in the task file.
#[derive(Debug, Serialize)]
pub struct TaskFileGoal<'a> {
    /// The issue number.
    pub number: u64,
    /// The issue title.
    pub title: &'a str,
    /// The issue body.
    pub body: &'a str,
}

/// The task in the task file.
#[derive(Debug, Serialize)]
pub struct TaskFileTask<'a> {
    /// The task id.
    pub id: &'a str,
    /// Its title.
    pub title: &'a str,
    /// Its instructions.
    pub instructions: &'a str,
    /// Its acceptance checks.
    pub acceptance: &'a [String],
    /// Paths it is expected to change.
    pub paths: &'a [String],
}

/// One dependency in the task file.
#[derive(Debug, Serialize)]
pub struct TaskFileDependency<'a> {
    /// Its task id.
    pub task_id: &'a str,
    /// Its title.
    pub title: &'a str,
    /// Its pull request.
    pub pull_request: Option<u64>,
    /// What its agent said it did.
    pub summary: &'a str,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fences_outgrow_the_text() {
        assert_eq!(Quoted::new("plain", 100).fence, "```");
        assert_eq!(Quoted::new("a ```` b", 100).fence, "`````");
    }

    #[test]
    fn caps_at_a_character_boundary() {
        let text = "é".repeat(10);
        let capped = cap_text(&text, 5);
        assert!(capped.starts_with("éé ["), "{capped}");
        assert!(capped.ends_with("16 more bytes]"), "{capped}");
    }

    #[test]
    fn feedback_from_reviews_is_headed_as_what_reviewers_asked_for() {
        let inputs = |feedback_from| RunInputs {
            attempt: 2,
            feedback: Some("Comment by max on src/a.rs:3:\nName it better.".into()),
            feedback_from,
            ..RunInputs::default()
        };
        let reviews = PromptView::new(&inputs(FeedbackFrom::Reviews))
            .render()
            .unwrap();
        assert!(reviews.contains("## What reviewers asked for"), "{reviews}");
        assert!(!reviews.contains("did not pass"), "{reviews}");
        let failure = PromptView::new(&inputs(FeedbackFrom::Failure))
            .render()
            .unwrap();
        assert!(
            failure.contains("## Why the previous attempt failed"),
            "{failure}"
        );
        assert!(failure.contains("Name it better."), "{failure}");
    }

    #[test]
    fn one_line_joins_lines_and_hides_what_is_hidden() {
        assert_eq!(one_line("a\nb\t c<!-- hidden -->\u{200b}", 100), "a b c");
    }
}
