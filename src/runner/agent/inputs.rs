//! What a run's prompt is made of, as the runner gathers it from the order: the bottom of
//! `agent`, read by the prompt (`prompt.rs`) and by preparing the invocation (`prepare.rs`).

/// Everything a run's prompt is made of. Texts are as the forge, the repository or an earlier
/// run gave them: [`super::AgentRegistry::prepare`] sanitizes and caps them.
#[derive(Clone, Debug, Default)]
pub struct RunInputs {
    /// ade's run id.
    pub run_id: String,
    /// The attempt number, from 1.
    pub attempt: u32,
    /// `owner/name` of the repository.
    pub repository: String,
    /// The goal's issue number.
    pub goal_number: u64,
    /// The goal's issue title.
    pub goal_title: String,
    /// The goal's issue body.
    pub goal_body: String,
    /// The spec version the task belongs to.
    pub spec_version: u32,
    /// The task id.
    pub task_id: String,
    /// The task title.
    pub task_title: String,
    /// The task instructions (Markdown).
    pub instructions: String,
    /// The task's acceptance checks.
    pub acceptance: Vec<String>,
    /// Paths the task expects to change.
    pub paths: Vec<String>,
    /// What the tasks it depends on produced.
    pub dependencies: Vec<Dependency>,
    /// The repository's AGENTS.md at the run's base commit, if it has one.
    pub agents_md: Option<String>,
    /// Why the previous attempt failed (verification output, review comments), if this is a retry.
    pub feedback: Option<String>,
    /// What the feedback answers: a failure, or reviewers asking for changes.
    pub feedback_from: FeedbackFrom,
    /// Paths the policy does not let agents change.
    pub protected_paths: Vec<String>,
}

/// What an attempt's feedback answers; the prompt words its heading by it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FeedbackFrom {
    /// The previous attempt failed (verification, or a retry asked for).
    #[default]
    Failure,
    /// Reviewers asked for changes on the approval (iteration on review).
    Reviews,
}

/// The result of a task this one depends on.
#[derive(Clone, Debug, Default)]
pub struct Dependency {
    /// Its task id.
    pub task_id: String,
    /// Its title.
    pub title: String,
    /// Its pull request (merged, since the dependency is met).
    pub pull_request: Option<u64>,
    /// What its agent said it did.
    pub summary: String,
}
