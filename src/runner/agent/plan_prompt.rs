//! What a planner agent reads: the prompt (`templates/plan_prompt.md`) and the goal file (JSON),
//! made from [`PlanInputs`] the way a run's are made ([`super::prompt`]): every text from the
//! forge or the repository is sanitized, capped and quoted in a fence longer than any backtick run
//! inside it. The caps add up to less than the 128 KiB one argument may hold (Claude Code takes
//! its prompt as one); the comments are kept newest first up to a total, and the prompt says how
//! many were left out.

use serde::Serialize;

use super::prompt::{GoalView, Quoted, TaskFileGoal, one_line};
use crate::runner::order::PlanComment;
use crate::templates::TemplateError;

/// Longest one-line text kept (the title).
const TITLE_CAP: usize = 300;
/// Longest issue body kept.
const BODY_CAP: usize = 20_000;
/// Longest comment kept.
const COMMENT_CAP: usize = 4_000;
/// Most bytes of comments kept, all together.
const COMMENTS_CAP: usize = 30_000;
/// Most comments kept.
const MAX_COMMENTS: usize = 100;
/// Longest author, repository or id kept.
const NAME_CAP: usize = 200;
/// Longest extra instructions kept.
const INSTRUCTIONS_CAP: usize = 8_000;
/// Longest policy JSON kept.
const POLICY_CAP: usize = 12_000;
/// Longest schema kept.
const SCHEMA_CAP: usize = 32_000;

/// What a planner agent is given, as the runner has it from the plan order (texts untrusted).
#[derive(Clone, Debug, Default)]
pub struct PlanInputs {
    /// ade's id of the planner run.
    pub plan_id: String,
    /// `owner/name`.
    pub repository: String,
    /// The goal's issue number.
    pub goal_number: u64,
    /// The issue's title.
    pub goal_title: String,
    /// The issue's text.
    pub goal_body: String,
    /// The issue's comments, oldest first.
    pub comments: Vec<PlanComment>,
    /// The text after `--` in `/ade plan`.
    pub instructions: Option<String>,
    /// The repository's policy as it bears on a plan, as JSON.
    pub policy: String,
    /// The spec's JSON Schema (ade's own).
    pub schema: String,
}

/// One comment as the prompt shows it.
#[derive(Clone, Debug, Serialize)]
pub struct CommentView {
    /// Who wrote it, one line.
    pub author: String,
    /// What it says.
    pub body: Quoted,
}

/// The context of `templates/plan_prompt.md`.
#[derive(Clone, Debug, Serialize)]
pub struct PlanPromptView {
    /// `owner/name`.
    pub repository: String,
    /// ade's id of the planner run.
    pub plan_id: String,
    /// The goal.
    pub goal: GoalView,
    /// The comments kept, oldest first.
    pub comments: Vec<CommentView>,
    /// How many earlier comments were left out to keep the prompt bounded.
    pub comments_left_out: usize,
    /// The extra instructions, if any.
    pub instructions: Option<Quoted>,
    /// The policy's JSON (sanitized: it holds the repository's own words).
    pub policy: Quoted,
    /// The spec's JSON Schema.
    pub schema: Quoted,
    /// Where the plan goes (`$ADE_OUTPUT`).
    pub output_file: String,
}

impl PlanPromptView {
    /// Sanitizes and caps every untrusted value of `inputs`; `output_file` is the plan's path.
    pub fn new(inputs: &PlanInputs, output_file: &str) -> PlanPromptView {
        let mut comments = Vec::new();
        let mut used = 0;
        let mut written = 0;
        for comment in inputs.comments.iter().rev() {
            let body = Quoted::new(&comment.body, COMMENT_CAP);
            if body.text.is_empty() {
                continue;
            }
            written += 1;
            if comments.len() == MAX_COMMENTS || used + body.text.len() > COMMENTS_CAP {
                continue;
            }
            used += body.text.len();
            comments.push(CommentView {
                author: one_line(&comment.author, NAME_CAP),
                body,
            });
        }
        comments.reverse();
        PlanPromptView {
            repository: one_line(&inputs.repository, NAME_CAP),
            plan_id: one_line(&inputs.plan_id, NAME_CAP),
            goal: GoalView {
                number: inputs.goal_number,
                title: one_line(&inputs.goal_title, TITLE_CAP),
                body: Quoted::new(&inputs.goal_body, BODY_CAP),
            },
            comments_left_out: written - comments.len(),
            comments,
            instructions: inputs
                .instructions
                .as_deref()
                .map(|text| Quoted::new(text, INSTRUCTIONS_CAP))
                .filter(|q| !q.text.is_empty()),
            policy: Quoted::new(&inputs.policy, POLICY_CAP),
            schema: Quoted::own(&inputs.schema, SCHEMA_CAP),
            output_file: output_file.to_owned(),
        }
    }

    /// The prompt text.
    pub fn render(&self) -> Result<String, TemplateError> {
        crate::templates::render("plan_prompt.md", self)
    }

    /// The goal file: the same facts as JSON, for planners and scripts that read structure.
    pub fn goal_file(&self) -> GoalFile<'_> {
        let json = |text: &str| {
            serde_json::from_str(text).unwrap_or_else(|_| serde_json::Value::from(text))
        };
        GoalFile {
            ade_plan: 1,
            repository: &self.repository,
            plan_id: &self.plan_id,
            goal: TaskFileGoal {
                number: self.goal.number,
                title: &self.goal.title,
                body: &self.goal.body.text,
            },
            comments: self
                .comments
                .iter()
                .map(|c| GoalFileComment {
                    author: &c.author,
                    body: &c.body.text,
                })
                .collect(),
            instructions: self.instructions.as_ref().map(|q| q.text.as_str()),
            policy: json(&self.policy.text),
            schema: json(&self.schema.text),
            output_file: &self.output_file,
        }
    }
}

/// The goal file (`goal.json`, `$ADE_TASK_FILE` of a planner). `ade_plan` is its format version.
#[derive(Debug, Serialize)]
pub struct GoalFile<'a> {
    /// Format version of this file: 1.
    pub ade_plan: u32,
    /// `owner/name`.
    pub repository: &'a str,
    /// ade's id of the planner run.
    pub plan_id: &'a str,
    /// The goal.
    pub goal: TaskFileGoal<'a>,
    /// The comments kept, oldest first.
    pub comments: Vec<GoalFileComment<'a>>,
    /// The extra instructions.
    pub instructions: Option<&'a str>,
    /// The policy (JSON, or its text when it was cut).
    pub policy: serde_json::Value,
    /// The spec's JSON Schema (JSON, or its text when it was cut).
    pub schema: serde_json::Value,
    /// Where the plan goes.
    pub output_file: &'a str,
}

/// One comment in the goal file.
#[derive(Debug, Serialize)]
pub struct GoalFileComment<'a> {
    /// Who wrote it.
    pub author: &'a str,
    /// What it says.
    pub body: &'a str,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn comment(author: &str, body: &str) -> PlanComment {
        PlanComment {
            author: author.into(),
            body: body.into(),
        }
    }

    #[test]
    fn a_long_thread_keeps_its_newest_comments_and_says_how_many_went() {
        let long = "x".repeat(COMMENT_CAP);
        let inputs = PlanInputs {
            comments: (0..30)
                .map(|n| comment(&format!("user{n}"), &format!("{n} {long}")))
                .chain([comment("ghost", "   ")])
                .collect(),
            ..PlanInputs::default()
        };
        let view = PlanPromptView::new(&inputs, "/s/plan.json");
        assert!(view.comments.len() < 30);
        assert_eq!(view.comments_left_out + view.comments.len(), 30);
        assert_eq!(view.comments.last().unwrap().author, "user29");
        let prompt = view.render().unwrap();
        assert!(
            prompt.contains(&format!("{} earlier comments", view.comments_left_out)),
            "{prompt}"
        );
    }

    #[test]
    fn the_goal_file_carries_the_policy_and_schema_as_json() {
        let inputs = PlanInputs {
            policy: r#"{"max_tasks": 5}"#.into(),
            schema: r#"{"title": "Spec"}"#.into(),
            ..PlanInputs::default()
        };
        let view = PlanPromptView::new(&inputs, "/s/plan.json");
        let file = serde_json::to_value(view.goal_file()).unwrap();
        assert_eq!(file["policy"]["max_tasks"], 5);
        assert_eq!(file["schema"]["title"], "Spec");
        assert_eq!(file["output_file"], "/s/plan.json");
    }
}
