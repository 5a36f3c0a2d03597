//! Specs: the versioned task specification of a goal, the one thing a maintainer approves.
//!
//! The types here are the source of truth; `ade schema spec` prints the JSON Schema generated from
//! them ([`json_schema`]), and docs/schema/spec.schema.json is the published copy. A version is
//! immutable once made: its [`Spec::content_hash`] covers everything but the lifecycle, which is
//! the only part that changes ([`lifecycle`]). [`validate`] checks a spec on its own and against a
//! repository's policy; [`manual`] is the planner that reads an issue's task list.

pub mod diff;
mod error;
mod hash;
pub mod lifecycle;
pub mod manual;
mod task_id;
#[cfg(test)]
mod tests;
pub mod validate;

pub use error::SpecError;
pub use hash::ContentHash;
pub use lifecycle::{IllegalTransition, Lifecycle, SpecState};
pub use task_id::TaskId;

use std::fmt;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::forge::ForgeKind;
use crate::policy::Environment;
pub use crate::policy::Planner;

/// One version of a goal's plan: what will be done, in which tasks, in which order.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "ade spec")]
pub struct Spec {
    /// The issue this spec plans for.
    pub goal: GoalRef,
    /// 1 for a goal's first plan, one more for each later `/ade plan`.
    #[schemars(range(min = 1))]
    pub version: u32,
    /// Login of the user whose `/ade plan` made this version.
    pub author: String,
    /// Who wrote the tasks.
    pub planner: Planner,
    /// The commit of the default branch every run starts from, once pinned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_commit: Option<String>,
    /// The tasks, in the order the plan lists them.
    pub tasks: Vec<Task>,
    /// Where the version is in its life, and when it got there. Not part of the content hash.
    pub lifecycle: Lifecycle,
}

impl Spec {
    /// How commits, pull requests and logs name this version: `owner/name#12@v2`, the value of
    /// the `Ade-Spec:` commit trailer.
    pub fn reference(&self) -> String {
        format!("{}@v{}", self.goal, self.version)
    }

    /// The task with id `id`.
    pub fn task(&self, id: &TaskId) -> Option<&Task> {
        self.tasks.iter().find(|task| &task.id == id)
    }
}

/// The goal a spec belongs to: an issue on a forge.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GoalRef {
    /// The forge's dialect: `github` or `gitea` (Forgejo too).
    #[schemars(with = "ForgeName")]
    pub forge: ForgeKind,
    /// The repository, as `owner/name`.
    pub repo: String,
    /// The issue number.
    #[schemars(range(min = 1))]
    pub issue: u64,
}

impl fmt::Display for GoalRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}#{}", self.repo, self.issue)
    }
}

/// The forge dialect, as [`ForgeKind`] writes it.
#[derive(JsonSchema)]
#[serde(rename_all = "lowercase")]
#[schemars(rename = "Forge")]
#[allow(
    dead_code,
    reason = "exists only to describe `forge::ForgeKind` in the JSON Schema"
)]
enum ForgeName {
    /// github.com or GitHub Enterprise Server.
    Github,
    /// Gitea or Forgejo.
    Gitea,
}

/// One unit of a spec: carried out by one run at a time, in its own branch, ending in one pull
/// request.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Task {
    /// Unique in the spec; part of branch names and commit trailers (`Ade-Task:`), and what
    /// `/ade run <task-id>` takes.
    pub id: TaskId,
    /// One line saying what the task achieves; the pull request's title.
    pub title: String,
    /// What the agent is asked to do, in Markdown.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub instructions: String,
    /// What must be true when the task is done, one statement each. Shown to the agent and the
    /// reviewer; the commands that verify a run come from the policy, never from here.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub acceptance: Vec<String>,
    /// Tasks whose pull requests must be merged before this one starts.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub depends_on: Vec<TaskId>,
    /// Repository paths the task expects to change (a path covers everything below it). Shown in
    /// the plan; none may be protected by the policy.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub paths: Vec<String>,
    /// The agent to run; absent means the policy's default agent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent: Option<String>,
    /// Where to run it; absent means the policy's default environment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment: Option<Environment>,
}

/// The JSON Schema of [`Spec`], for `ade schema spec` and docs/schema/spec.schema.json.
pub fn json_schema() -> String {
    crate::policy::schema::render::<Spec>(crate::policy::schema::Format::Json)
}
