//! The shape of `.ade/config.toml` as a repository writes it. Every key is optional: a key left
//! out takes the server's default (see [`crate::policy::ServerPolicy`]), and unknown keys are
//! refused. The doc comments here are the descriptions of the published JSON Schema.

use std::borrow::Cow;
use std::collections::BTreeMap;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

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
    /// How often commands may be used and runs may start, and how many runs a repository has at
    /// once.
    pub rate_limits: RateLimits,
    /// What one goal may spend: runs, agent minutes and the cost agents report.
    pub budget: Budget,
    /// Where each key was written, so later checks (server limits) can point at a line.
    #[serde(skip)]
    #[schemars(skip)]
    pub(crate) locations: Locations,
}

/// `[roles]`: the least forge permission each command needs, and named exceptions. A user's role
/// is their entry in `roles.users` if they have one (it may lower or raise their forge
/// permission); otherwise the highest of their forge permission and the `roles.teams` entries of
/// the teams they belong to.
///
/// The server's `limits.min_roles` is the least each command may require: by default a repository
/// may require more than the defaults (`approve = "admin"`) but not less.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct Roles {
    /// The least role `/ade plan` needs. Default `"write"`.
    #[schemars(with = "Option<PermissionName>")]
    pub plan: Option<Permission>,
    /// The least role `/ade approve` needs. Default `"maintain"`.
    #[schemars(with = "Option<PermissionName>")]
    pub approve: Option<Permission>,
    /// The least role `/ade run` needs. Default `"write"`.
    #[schemars(with = "Option<PermissionName>")]
    pub run: Option<Permission>,
    /// The least role `/ade allow-unscanned` needs: it lets a task push what DLP cannot read.
    /// Default `"maintain"`.
    #[schemars(with = "Option<PermissionName>")]
    pub allow_unscanned: Option<Permission>,
    /// The least role `/ade retry` needs. Default `"write"`.
    #[schemars(with = "Option<PermissionName>")]
    pub retry: Option<Permission>,
    /// The least role `/ade verify` needs. Default `"write"`.
    #[schemars(with = "Option<PermissionName>")]
    pub verify: Option<Permission>,
    /// The least role `/ade cancel` needs. Default `"write"`.
    #[schemars(with = "Option<PermissionName>")]
    pub cancel: Option<Permission>,
    /// The least role `/ade status` needs. Default `"read"`.
    #[schemars(with = "Option<PermissionName>")]
    pub status: Option<Permission>,
    /// The least role `/ade help` needs. Default `"read"`.
    #[schemars(with = "Option<PermissionName>")]
    pub help: Option<Permission>,
    /// Whether comments by other bots (accounts the forge marks as bots) may run commands; they
    /// still need the role. ade's own comments never do. Refused when the server's
    /// `limits.allow_bots` is `false`. Default `false`.
    pub allow_bots: Option<bool>,
    /// A role per user login (case-insensitive), used instead of the forge permission, so it may
    /// raise or lower a user: `alice = "maintain"`, `mallory = "none"` (no command at all, `help`
    /// included). Not capped by the server: the file can only change through a reviewed merge.
    #[schemars(with = "BTreeMap<String, PermissionName>")]
    pub users: BTreeMap<String, Permission>,
    /// A role per team, as `"org/team-slug"` (case-insensitive); it raises the role of the team's
    /// members, never lowers it.
    #[schemars(with = "BTreeMap<String, PermissionName>")]
    pub teams: BTreeMap<String, Permission>,
}

/// A forge permission as the JSON Schema describes it: the names [`Permission`] reads, each with
/// what it means in a policy.
pub(super) struct PermissionName;

/// Every permission, lowest to highest, and what it means in a policy.
const PERMISSIONS: [(Permission, &str); 6] = [
    (
        Permission::None,
        "No access: a user named with `none` may run no command.",
    ),
    (Permission::Read, "Read access."),
    (
        Permission::Triage,
        "GitHub's triage: manages issues and pull requests without pushing.",
    ),
    (Permission::Write, "Push access."),
    (
        Permission::Maintain,
        "GitHub's maintain: manages the repository without admin rights.",
    ),
    (Permission::Admin, "Full control."),
];

impl JsonSchema for PermissionName {
    fn schema_name() -> Cow<'static, str> {
        "Permission".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        let names: Vec<Value> = PERMISSIONS
            .iter()
            .map(|(permission, description)| {
                json!({ "description": description, "type": "string", "const": permission })
            })
            .collect();
        json_schema!({
            "description": "A forge permission, lowest to highest. Gitea has no `triage` or `maintain`: its collaborators are `read`, `write` or `admin`, and a repository owner is `admin`.",
            "oneOf": names
        })
    }
}

/// `[agents]`: the agents tasks and plans may use, by the names the server registers them under.
/// A task that names no agent runs with the default; without a default it waits, ready, until one
/// is set (approving a plan and configuring agents are separate steps).
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct Agents {
    /// The agents tasks may use; a subset of the server's `limits.agents`. An empty list is an
    /// error (it would let nothing run): leave the key out to allow the server's agents. Default:
    /// every agent the server allows.
    pub allowed: Option<Vec<String>>,
    /// The agent of tasks that name none; must be allowed. When the server's default agent is
    /// not in a narrowed `allowed` list, set this too. Default: the server's, none built in.
    pub default: Option<String>,
    /// Who writes the plan for `/ade plan`: `"manual"` (the issue's task list) or an allowed
    /// agent's name, run as a planner agent on a runner in a worktree it can only read. Default
    /// `"manual"`.
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
    /// The environment of tasks that name none; must be in `environments`. When `environments`
    /// leaves `worktree` out and this is not set, the first allowed one (in the order worktree,
    /// container, main) is the default. Default `"worktree"`.
    pub environment: Option<Environment>,
    /// The environments tasks may use; a subset of the server's `limits.environments`. Default:
    /// the server's.
    pub environments: Option<Vec<Environment>>,
    /// Runs of one goal at once. Default 2. Capped by `limits.max_parallelism`.
    #[schemars(range(min = 1))]
    pub parallelism: Option<u32>,
    /// How long one agent run may take, in seconds. Default 3600. Capped by
    /// `limits.max_timeout_secs`.
    #[schemars(range(min = 1))]
    pub timeout_secs: Option<u64>,
    /// Attempts per task, the first included: a run whose verification fails is retried with
    /// the failure as feedback until this many. Default 3. Capped by `limits.max_attempts`.
    #[schemars(range(min = 1))]
    pub attempts: Option<u32>,
    /// Most tasks one spec may have; a plan with more is refused. Default 20. Capped by
    /// `limits.max_tasks`.
    #[schemars(range(min = 1))]
    pub max_tasks: Option<u32>,
}

/// `[verification]`: the steps run on each run's result, in the run's worktree, environment and
/// confinement, with none of the agent's secrets and no forge credential, reported as the
/// `ade/verify` check. Static steps run first, in their order; dynamic steps run only when every
/// static step passed. A step passes when it exits 0; one whose program cannot be started is an
/// error, never a pass. A repository with no steps gets an `ade/verify` that says so and passes
/// (neutral on GitHub).
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct Verification {
    /// The timeout of steps that set none, in seconds. Default 600. Capped by
    /// `limits.max_step_timeout_secs`.
    #[schemars(range(min = 1))]
    pub step_timeout_secs: Option<u64>,
    /// The steps, in order (`[[verification.steps]]`), at most 20. A repository's list replaces
    /// the server's. Default: the server's, which are none unless the operator sets some.
    pub steps: Option<Vec<Step>>,
    /// Checks other systems post on an approval's head that must pass too, by name: a GitHub
    /// check run's name or a commit status's context (`["ci/test"]`), at most 20. ade waits for
    /// each; one that fails, or is not there by `external_timeout_secs`, fails verification, and
    /// what it says is the next attempt's feedback. `ade/…` names are ade's own and refused.
    /// Default: none.
    #[schemars(length(max = 20))]
    pub external_checks: Option<Vec<String>>,
    /// How long ade waits for the external checks to finish, in seconds, from when its own steps
    /// passed. Default 1800. Capped by `limits.max_external_timeout_secs`.
    #[schemars(range(min = 1))]
    pub external_timeout_secs: Option<u64>,
}

/// One verification step: a program run in the run's environment, passing when it exits 0.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Step {
    /// Shown in the `ade/verify` check: lowercase letters, digits, `-` and `_`, unique among the
    /// steps.
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
    /// How long the step may take, in seconds; at most the server's
    /// `limits.max_step_timeout_secs`. Default: `verification.step_timeout_secs`.
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

/// `[auto_reject]`: what ade does to an approval (the pull request of a run) whose verification
/// failed on its last attempt (`execution.attempts`; earlier failures are retried with the
/// failure as feedback). ade also comments on the approval naming the failing steps and their
/// last lines, and its task is rejected: tasks that depend on it wait, shown as blocked, until
/// `/ade run` starts it again.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct AutoReject {
    /// Close the pull request, turn it into a draft, or only label it. The label is added in
    /// every case. Default `"close"`.
    pub action: Option<RejectAction>,
    /// The label marking a rejected approval. ade adds labels the repository defines and creates
    /// none, so create this one once. Default `"ade:rejected"`.
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
    /// Prefix of every branch ade pushes: letters, digits, `-`, `_`, `.` and `/`. It must start
    /// with the server's `limits.branch_prefix`, so a repository may only make it longer
    /// (`"ade/bots/"`). Default `"ade/"`.
    #[schemars(length(min = 1, max = 40))]
    pub branch_prefix: Option<String>,
    /// Labels added to every approval, among those the repository defines (ade creates none).
    /// Default `["ade"]`.
    pub labels: Option<Vec<String>>,
    /// Whether ade may merge an approval itself: only with an approving review on the current
    /// head by someone with write access who neither asked for the work (approved the spec or
    /// asked for the run) nor pushed that head, a passing `ade/verify` on that head, and the
    /// forge's branch protection accepting the merge. Refused when the server's
    /// `limits.allow_auto_merge` is `false`. Default `false`.
    pub auto_merge: Option<bool>,
    /// How ade merges when `auto_merge` is on. Default `"merge"`.
    pub merge_method: Option<MergeMethodName>,
    /// Whether approvals open as drafts while their verification runs and are marked ready for
    /// review once it passes, so reviewers are only asked about green work (GitHub draft pull
    /// requests; on Gitea and Forgejo the `WIP: ` title prefix). With `false` they open ready.
    /// Default `true`.
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
    /// Close the goal's issue once its plan is finished; otherwise the summary is posted and the
    /// issue stays open for a person to close. Default `false`.
    pub close_issue: Option<bool>,
}

/// `[paths]`: paths agents may not change. A path covers itself and everything below it;
/// `./` and a trailing `/` are ignored, so `.ade/`, `./.ade` and `.ade` are one path. Paths are
/// relative to the repository's root; absolute paths, `..` and empty parts are errors, and globs
/// are not supported. A run whose diff touches a protected path fails before it is pushed, and a
/// plan whose task lists one is refused.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct Paths {
    /// Paths protected in addition to the server's (which by default are `.github/workflows`,
    /// `.gitea/workflows`, `.forgejo/workflows` and `.ade`).
    pub protected: Vec<String>,
    /// Paths of the server's list that this repository lets agents change: only exact entries
    /// of the server's `limits.protected_paths`, and only when its `limits.allow_unprotect` is
    /// `true`. Paths the server protects through its defaults (`defaults.paths.protected`) may
    /// always be unprotected.
    pub unprotected: Vec<String>,
}

/// `[retention]`: how long what ade keeps about a repository's goals and runs is kept, in days,
/// per kind of data; 0 deletes it as soon as the run is finished and reported (docs/retention.md).
/// The audit log's retention and the job queue's are the server's alone.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct Retention {
    /// Days raw webhook deliveries, and the events ade made of them, are kept once handled.
    /// Default 14. Capped by `limits.max_deliveries_days`.
    pub deliveries_days: Option<u32>,
    /// Days run logs (the agent's output) and the last lines of it kept with the run are kept.
    /// Default 30. Capped by `limits.max_run_logs_days`.
    pub run_logs_days: Option<u32>,
    /// Days verification logs (every step's output) and the failures handed to a retry are kept.
    /// Default 30. Capped by `limits.max_verification_logs_days`.
    pub verification_logs_days: Option<u32>,
    /// Days the scratch folders of finished runs (the agent's HOME and TMPDIR, its output file)
    /// are kept; worktrees themselves are cleaned for the next run as soon as a run ends. Default
    /// 7. Capped by `limits.max_worktrees_days`.
    pub worktrees_days: Option<u32>,
    /// Days the prompts ade rendered for agents (and the task files beside them) are kept.
    /// Default 30. Capped by `limits.max_prompts_days`.
    pub prompts_days: Option<u32>,
}

/// `[dlp]`: patterns no pushed diff may contain, in addition to the built-in detectors of forge
/// tokens and private keys, which are always on. A run whose diff matches fails before it is
/// pushed, and the match is never echoed in full.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct Dlp {
    /// The rules (`[[dlp.rules]]`), at most 50. They are added to the server's
    /// (`defaults.dlp.rules`), never replace them, and may not reuse a server rule's name.
    pub rules: Vec<DlpRule>,
}

/// One data-loss-prevention rule.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DlpRule {
    /// Named in the failure report: lowercase letters, digits, `-` and `_`, unique among the
    /// rules.
    #[schemars(length(min = 1, max = 40))]
    pub name: String,
    /// A regular expression (Rust `regex` syntax) matched against each added line; checked when
    /// the policy is read.
    #[schemars(length(min = 1, max = 1000))]
    pub pattern: String,
}

/// `[rate_limits]`: how often commands may be used and runs may start, per repository or per
/// user, and how many runs of a repository may be under way at once. Rates are token buckets
/// that refill over an hour: a burst may use the whole hour's allowance at once. Each at least 1;
/// to stop a command altogether, raise its role instead.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct RateLimits {
    /// Accepted `/ade plan` commands per repository per hour. Default 20. Capped by
    /// `limits.max_plans_per_hour`.
    #[schemars(range(min = 1))]
    pub plans_per_hour: Option<u32>,
    /// Runs started per repository per hour; a run over it waits in the queue until the bucket
    /// refills. Default 50. Capped by `limits.max_runs_per_hour`.
    #[schemars(range(min = 1))]
    pub runs_per_hour: Option<u32>,
    /// Command lines ade answers per user per repository per hour, refusals and mistakes
    /// included. Default 30. Capped by `limits.max_commands_per_user_per_hour`.
    #[schemars(range(min = 1))]
    pub commands_per_user_per_hour: Option<u32>,
    /// Command lines ade answers per repository per hour, whoever wrote them. Default 120.
    /// Capped by `limits.max_commands_per_hour`.
    #[schemars(range(min = 1))]
    pub commands_per_hour: Option<u32>,
    /// Runs of the repository's goals under way at once; a run over it waits in the queue until
    /// one ends. Default 10. Capped by `limits.max_active_runs`.
    #[schemars(range(min = 1))]
    pub active_runs: Option<u32>,
}

/// `[budget]`: what one goal may spend over all its runs, retries included. A run does not start
/// once a budget is spent, and a run under way is stopped when the goal's agent minutes or its
/// reported cost run out.
/// Each at least 1.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct Budget {
    /// Runs per goal. Default 50. Capped by `limits.max_budget_runs`.
    #[schemars(range(min = 1))]
    pub runs: Option<u32>,
    /// Minutes agents may run per goal, all runs together. Default 600. Capped by
    /// `limits.max_budget_agent_minutes`.
    #[schemars(range(min = 1))]
    pub agent_minutes: Option<u32>,
    /// US dollars per goal, counted from what agents report (Claude Code's `total_cost_usd`); runs
    /// of agents that report no cost count nothing here. Default 100. Capped by
    /// `limits.max_budget_cost_usd`.
    #[schemars(range(min = 1))]
    pub cost_usd: Option<u32>,
}
