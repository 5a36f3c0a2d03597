//! Why a spec cannot be used, in sentences fit for a reply on the forge: each names the task (or
//! the item of the issue's task list) and says what to change.

use super::TaskId;

/// One problem with a spec or with the task list it was planned from. A plan with any of these is
/// posted as failed, with every problem listed, and never activated.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SpecError {
    /// A spec needs something to do.
    #[error("the plan has no tasks")]
    NoTasks,
    /// More tasks than the policy (or ade's own bound) allows.
    #[error("the plan has {count} tasks; at most {limit} are allowed")]
    TooManyTasks {
        /// Tasks in the plan.
        count: usize,
        /// The limit in force.
        limit: usize,
    },
    /// Two tasks share an id.
    #[error("two tasks have the id `{id}`")]
    DuplicateTaskId {
        /// The id.
        id: TaskId,
    },
    /// A title that is empty, too long or more than one line.
    #[error("task {task}: {problem}")]
    BadTitle {
        /// The task.
        task: TaskId,
        /// What is wrong with its title.
        problem: String,
    },
    /// A text field beyond its size bound.
    #[error("task {task}: {field} is {len} characters long; at most {limit} are allowed")]
    TooLong {
        /// The task.
        task: TaskId,
        /// The field: `instructions`, an acceptance check, ...
        field: &'static str,
        /// Its length.
        len: usize,
        /// The bound.
        limit: usize,
    },
    /// A list field with too many entries.
    #[error("task {task}: {field} has {count} entries; at most {limit} are allowed")]
    TooMany {
        /// The task.
        task: TaskId,
        /// The field.
        field: &'static str,
        /// Entries.
        count: usize,
        /// The bound.
        limit: usize,
    },
    /// A dependency on a task the spec does not have.
    #[error("task {task} depends on {dependency}, which is not a task of this plan")]
    UnknownDependency {
        /// The task.
        task: TaskId,
        /// The id it names.
        dependency: TaskId,
    },
    /// A task that waits for itself.
    #[error("task {task} depends on itself")]
    SelfDependency {
        /// The task.
        task: TaskId,
    },
    /// Tasks that wait for each other, so none could ever start. The path starts and ends with
    /// the same task.
    #[error("tasks wait for each other in a cycle: {}", cycle_text(path))]
    Cycle {
        /// The tasks around the cycle, the first repeated at the end.
        path: Vec<TaskId>,
    },
    /// A path that cannot name a file or folder of the repository.
    #[error("task {task}: path `{path}` {problem}")]
    BadPath {
        /// The task.
        task: TaskId,
        /// The path as written.
        path: String,
        /// What is wrong with it.
        problem: String,
    },
    /// A path the policy says agents may not change.
    #[error(
        "task {task}: `{path}` is protected by the policy (`{protected}`); agents may not change it"
    )]
    ProtectedPath {
        /// The task.
        task: TaskId,
        /// The path the task names.
        path: String,
        /// The protected path that covers it.
        protected: String,
    },
    /// An agent name that is malformed or not allowed here.
    #[error("task {task}: {problem}")]
    Agent {
        /// The task.
        task: TaskId,
        /// What is wrong.
        problem: String,
    },
    /// An environment the policy does not allow.
    #[error(
        "task {task}: the environment `{environment}` is not allowed here (allowed: {allowed})"
    )]
    EnvironmentNotAllowed {
        /// The task.
        task: TaskId,
        /// The environment it asks for (or the default it falls back to).
        environment: &'static str,
        /// The allowed environments, comma-separated.
        allowed: String,
    },
    /// A planner agent the policy does not allow.
    #[error("the planner agent `{name}` is not allowed here")]
    PlannerNotAllowed {
        /// The agent.
        name: String,
    },
    /// A problem with one item of the issue's task list (manual planner).
    #[error("item {item} of the task list: {problem}")]
    Item {
        /// The item's 1-based position among the task list's items.
        item: usize,
        /// What is wrong with it.
        problem: String,
    },
    /// A problem with what a planner agent wrote: no file, not JSON, a task that does not read
    /// as one.
    #[error("the planner's output: {0}")]
    Output(String),
    /// A problem with the issue as a whole (manual planner).
    #[error("{0}")]
    Issue(String),
}

fn cycle_text(path: &[TaskId]) -> String {
    path.iter()
        .map(TaskId::as_str)
        .collect::<Vec<_>>()
        .join(" → ")
}
