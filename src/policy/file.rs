//! The shape of `.ade/config.toml` as a repository writes it. Every key is optional: a key left
//! out takes the server's default (see [`crate::policy::ServerPolicy`]), and unknown keys are
//! refused. The doc comments here are the descriptions of the published JSON Schema.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::locate::Locations;
use crate::forge::Permission;

/// The repository policy, `.ade/config.toml` on the default branch. Every key is optional; a key
/// left out takes the server's default, and the server's limits cap what may be set. Unknown keys
/// are errors.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
#[schemars(title = "ade repository policy (.ade/config.toml)")]
pub struct Policy {
    /// Who may run each `/ade` command.
    pub roles: Roles,
    /// Which agents tasks and plans may use.
    pub agents: Agents,
    /// Where and how runs execute: environment, parallelism, timeouts, attempts.
    pub execution: Execution,
    /// The steps run on every run's result, reported as the `ade/verify` check.
    pub verification: Verification,
    /// What happens to an approval (pull request) whose verification failed on its last attempt.
    pub auto_reject: AutoReject,
    /// Branch names, labels and drafts of the pull requests ade opens, and whether ade may merge
    /// them.
    pub pull_requests: PullRequests,
    /// What happens when a goal is finished.
    pub goals: Goals,
    /// Paths agents may not change.
    pub paths: Paths,
    /// How long run logs and finished worktrees are kept.
    pub retention: Retention,
    /// Data-loss-prevention rules every run's diff is scanned with before it is pushed.
    pub dlp: Dlp,
    /// How often commands may be used.
    pub rate_limits: RateLimits,
    /// Where each key was written, so later checks (server limits) can point at a line.
    #[serde(skip)]
    #[schemars(skip)]
    pub(crate) locations: Locations,
}

/// `[roles]`: the least forge permission each command needs, and named exceptions. A user's role
/// is their entry in `roles.users` if they have one (it may lower or raise their forge
/// permission); otherwise the highest of their forge permission and the `roles.teams` entries of
/// the teams they belong to.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct Roles {
    /// `/ade plan`. Default `write`.
    #[schemars(with = "Option<PermissionName>")]
    pub plan: Option<Permission>,
    /// `/ade approve`. Default `maintain`.
    #[schemars(with = "Option<PermissionName>")]
    pub approve: Option<Permission>,
    /// `/ade run`. Default `write`.
    #[schemars(with = "Option<PermissionName>")]
    pub run: Option<Permission>,
    /// `/ade retry`. Default `write`.
    #[schemars(with = "Option<PermissionName>")]
    pub retry: Option<Permission>,
    /// `/ade verify`. Default `write`.
    #[schemars(with = "Option<PermissionName>")]
    pub verify: Option<Permission>,
    /// `/ade cancel`. Default `write`.
    #[schemars(with = "Option<PermissionName>")]
    pub cancel: Option<Permission>,
    /// `/ade status`. Default `read`.
    #[schemars(with = "Option<PermissionName>")]
    pub status: Option<Permission>,
    /// `/ade help`. Default `read`.
    #[schemars(with = "Option<PermissionName>")]
    pub help: Option<Permission>,
    /// Whether comments by other bots (accounts the forge marks as bots) may run commands; they
    /// still need the role. ade's own comments never do. Default `false`.
    pub allow_bots: Option<bool>,
    /// A role per user login (case-insensitive), used instead of the forge permission:
    /// `alice = "maintain"`, `mallory = "none"`.
    #[schemars(with = "BTreeMap<String, PermissionName>")]
    pub users: BTreeMap<String, Permission>,
    /// A role per team, as `org/team-slug` (case-insensitive); it raises the role of the team's
    /// members, never lowers it.
    #[schemars(with = "BTreeMap<String, PermissionName>")]
    pub teams: BTreeMap<String, Permission>,
}

/// A forge permission, lowest to highest. Gitea has no `triage` or `maintain`: its collaborators
/// are `read`, `write` or `admin`, and a repository owner is `admin`.
#[derive(JsonSchema)]
#[serde(rename_all = "lowercase")]
#[schemars(rename = "Permission")]
#[allow(
    dead_code,
    reason = "exists only to describe `forge::Permission` in the JSON Schema"
)]
pub(super) enum PermissionName {
    /// No access: a user named with `none` may run no command.
    None,
    /// Read access.
    Read,
    /// GitHub's triage: manages issues and pull requests without pushing.
    Triage,
    /// Push access.
    Write,
    /// GitHub's maintain: manages the repository without admin rights.
    Maintain,
    /// Full control.
    Admin,
}

/// `[agents]`: the agents tasks and plans may use, by the names the server registers them under.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct Agents {
    /// The agents tasks may use; a subset of those the server allows. Default: every agent the
    /// server allows.
    pub allowed: Option<Vec<String>>,
    /// The agent of tasks that name none; must be allowed. Default: the server's.
    pub default: Option<String>,
    /// Who writes the plan for `/ade plan`: `"manual"` (the issue's task list) or an allowed
    /// agent's name. Default `"manual"`.
    pub planner: Option<String>,
}

/// Where a run executes. Each agent's trust decides which it needs; the policy decides which are
/// allowed here.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, Serialize, JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Environment {
    /// A linked git worktree on the runner, at the spec's base commit, in its own process group.
    Worktree,
    /// The worktree mounted into a sandbox (podman, docker or bubblewrap): for untrusted agents.
    Container,
    /// One persistent checkout, runs one after another: for trusted agents that need a warm
    /// workspace.
    Main,
}

impl Environment {
    /// The name written in policy files and specs.
    pub fn as_str(self) -> &'static str {
        match self {
            Environment::Worktree => "worktree",
            Environment::Container => "container",
            Environment::Main => "main",
        }
    }
}

/// `[execution]`: how runs are carried out.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct Execution {
    /// The environment of tasks that name none; must be in `environments`. Default `"worktree"`.
    pub environment: Option<Environment>,
    /// The environments tasks may use; a subset of the server's. Default: the server's.
    pub environments: Option<Vec<Environment>>,
    /// Runs of one goal at once, at least 1. Default 2, capped by the server (default cap 8).
    #[schemars(range(min = 1))]
    pub parallelism: Option<u32>,
    /// How long one agent run may take, in seconds, at least 1. Default 3600, capped by the
    /// server (default cap 14400).
    #[schemars(range(min = 1))]
    pub timeout_secs: Option<u64>,
    /// Attempts per task, the first included: a run whose verification fails is retried with
    /// the failure as feedback until this many. At least 1. Default 3, capped by the server
    /// (default cap 5).
    #[schemars(range(min = 1))]
    pub attempts: Option<u32>,
    /// Most tasks one spec may have, at least 1. Default 20, capped by the server (default cap
    /// 50).
    #[schemars(range(min = 1))]
    pub max_tasks: Option<u32>,
}

/// `[verification]`: the steps run on each run's result. Static steps run first; dynamic steps
/// run only when every static step passed.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct Verification {
    /// The timeout of steps that set none, in seconds, at least 1. Default 600, capped by the
    /// server (default cap 3600).
    #[schemars(range(min = 1))]
    pub step_timeout_secs: Option<u64>,
    /// The steps, in order (`[[verification.steps]]`). Default: the server's, which are none
    /// unless the operator sets some. A repository's list replaces the server's.
    pub steps: Option<Vec<Step>>,
}

/// One verification step: a program run in the run's environment, passing when it exits 0.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Step {
    /// Shown in the `ade/verify` check: lowercase letters, digits, `-` and `_`, unique.
    #[schemars(length(min = 1, max = 40))]
    pub name: String,
    /// Whether the step reads the tree (`static`) or builds and runs the project (`dynamic`).
    /// Default `"dynamic"`.
    #[serde(default)]
    pub kind: StepKind,
    /// The program and its arguments, run directly (never through a shell):
    /// `["cargo", "test", "--locked"]`.
    #[schemars(length(min = 1, max = 64))]
    pub command: Vec<String>,
    /// How long the step may take, in seconds, at least 1. Default:
    /// `verification.step_timeout_secs`.
    #[schemars(range(min = 1))]
    pub timeout_secs: Option<u64>,
}

/// Whether a verification step runs the project's code.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum StepKind {
    /// Reads the tree without building or running it (formatters, linters, license checks); run
    /// first, and cheap to fail on.
    Static,
    /// Builds and runs the project (tests); run after every static step passed.
    #[default]
    Dynamic,
}

/// `[auto_reject]`: what ade does to an approval whose verification failed after the last
/// attempt.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct AutoReject {
    /// `"close"` the pull request, turn it into a `"draft"`, or only `"label"` it. The label is
    /// added in every case. Default `"close"`.
    pub action: Option<RejectAction>,
    /// The label marking a rejected approval, at most 50 characters. Default `"ade:rejected"`.
    #[schemars(length(min = 1, max = 50))]
    pub label: Option<String>,
}

/// What auto-reject does to the pull request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum RejectAction {
    /// Close it; the branch stays for inspection.
    Close,
    /// Convert it to a draft, so it cannot be merged until someone marks it ready.
    Draft,
    /// Leave it open; only the label says it was rejected.
    Label,
}

/// `[pull_requests]`: the approvals ade opens.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct PullRequests {
    /// Prefix of every branch ade pushes; must start with the server's required prefix
    /// (default `"ade/"`). Letters, digits, `-`, `_`, `.` and `/`. Default `"ade/"`.
    #[schemars(length(min = 1, max = 40))]
    pub branch_prefix: Option<String>,
    /// Labels added to every approval. Default `["ade"]`.
    pub labels: Option<Vec<String>>,
    /// Whether ade may merge an approval itself: only with an approving review from someone
    /// other than the person who asked for the run, given on the current head, a passing
    /// `ade/verify` on that head, and the forge's branch protection accepting the merge. Default
    /// `false`; the server may forbid it.
    pub auto_merge: Option<bool>,
    /// How ade merges when `auto_merge` is on: `"merge"`, `"squash"` or `"rebase"`. Default
    /// `"merge"`.
    pub merge_method: Option<MergeMethodName>,
    /// Whether approvals open as drafts while their verification runs and are marked ready for
    /// review once it passes, so reviewers are only asked about green work. Default `true`.
    pub drafts: Option<bool>,
}

/// How an approval is merged.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum MergeMethodName {
    /// A merge commit.
    Merge,
    /// One squashed commit.
    Squash,
    /// The commits rebased onto the base branch.
    Rebase,
}

/// `[goals]`: what happens when every task of a goal's active plan is merged, rejected or
/// cancelled (ade then archives the plan and posts a summary on the goal).
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct Goals {
    /// Close the goal's issue once its plan is finished. Default `false`: the summary is posted
    /// and the issue stays open for a human to close.
    pub close_issue: Option<bool>,
}

/// `[paths]`: paths agents may not change. A path covers itself and everything below it;
/// `.github/workflows` and `.github/workflows/` mean the same. A run that changes a protected path
/// fails before it is pushed.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct Paths {
    /// Paths protected in addition to the server's (which by default are `.github/workflows`,
    /// `.gitea/workflows`, `.forgejo/workflows` and `.ade`).
    pub protected: Vec<String>,
    /// Paths of the server's list that this repository lets agents change; refused unless the
    /// server allows it.
    pub unprotected: Vec<String>,
}

/// `[retention]`: how long things a run leaves behind are kept, in days; 0 deletes them as soon as
/// the run is finished. The audit log's retention is the server's alone.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct Retention {
    /// Agent output and verification logs. Default 30, capped by the server (default cap 90).
    pub run_logs_days: Option<u32>,
    /// Worktrees of finished runs, kept for inspection. Default 7, capped by the server (default
    /// cap 30).
    pub worktrees_days: Option<u32>,
}

/// `[dlp]`: patterns no pushed diff may contain, in addition to the built-in detectors of forge
/// tokens and private keys, which are always on. A run whose diff matches fails before it is
/// pushed, and the match is never echoed in full.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct Dlp {
    /// The rules (`[[dlp.rules]]`), added to the server's.
    pub rules: Vec<DlpRule>,
}

/// One data-loss-prevention rule.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DlpRule {
    /// Named in the failure report: lowercase letters, digits, `-` and `_`, unique.
    #[schemars(length(min = 1, max = 40))]
    pub name: String,
    /// A regular expression (Rust `regex` syntax) matched against each added line.
    #[schemars(length(min = 1, max = 1000))]
    pub pattern: String,
}

/// `[rate_limits]`: how often commands may be used, per repository or per user, in a sliding hour.
/// Each at least 1; to stop a command altogether, raise its role instead.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct RateLimits {
    /// `/ade plan` per repository. Default 20, capped by the server (default cap 60).
    #[schemars(range(min = 1))]
    pub plans_per_hour: Option<u32>,
    /// Runs started per repository. Default 50, capped by the server (default cap 200).
    #[schemars(range(min = 1))]
    pub runs_per_hour: Option<u32>,
    /// Commands per user per repository. Default 30, capped by the server (default cap 120).
    #[schemars(range(min = 1))]
    pub commands_per_user_per_hour: Option<u32>,
}
