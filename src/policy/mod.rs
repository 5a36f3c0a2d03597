//! Policy: the rules in force for a repository. The server's policy (in `ade.toml`) sets defaults
//! and limits; a repository's `.ade/config.toml` on its default branch may narrow them, never
//! loosen them.
//!
//! [`check_str`] and [`check_file`] read a policy file and report every error with its line and
//! column; [`effective`] combines it with the [`ServerPolicy`] into the [`EffectivePolicy`] the
//! rest of ade reads. The serde types in `file.rs` are the source of truth: their doc comments are
//! the descriptions of the JSON Schema ([`json_schema`]), published as
//! docs/schema/policy.schema.json, and of the reference in docs/policy.md ([`reference_markdown`]),
//! which is the user's side of the same contract. [`warnings`] names the keys a file sets that ade
//! does not act on yet ([`NOT_ACTED_ON`]).

mod check;
mod diagnostic;
mod effective;
mod file;
mod locate;
mod planner;
mod reference;
pub(crate) mod schema;
mod server;
pub(crate) mod suggest;
#[cfg(test)]
mod tests;
mod validate;

pub use check::{MAX_POLICY_BYTES, check_file, check_str};
pub use diagnostic::PolicyDiagnostic;
pub use effective::{
    AgentPolicy, AgentSet, BudgetPolicy, DataClass, DlpPattern, EffectivePolicy, ExecutionPolicy,
    PullRequestPolicy, RateLimitPolicy, RejectPolicy, RetentionPolicy, RolePolicy,
    VerificationStep, effective,
};
pub use file::{
    Agents, AutoReject, Budget, Dlp, DlpRule, Environment, Execution, Goals, MergeMethodName,
    Paths, Policy, PullRequests, RateLimits, RejectAction, Retention, Roles, Step, StepKind,
    Verification,
};
pub use locate::Position;
pub use planner::Planner;
pub use reference::markdown as reference_markdown;
pub use server::{Limits, RoleTable, ServerPolicy};

pub(crate) use validate::{agent_name_error, normalize_path};

/// The JSON Schema of `.ade/config.toml`, for `ade schema policy` and
/// docs/schema/policy.schema.json.
pub fn json_schema() -> String {
    schema::render::<Policy>(schema::Format::Toml)
}
