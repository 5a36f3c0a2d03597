//! The policy in force for one repository: the repository's `.ade/config.toml` over the server's
//! defaults over the built-in ones, checked against the server's limits. This is the only policy
//! value the rest of ade reads.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use super::file::{Environment, RejectAction, StepKind};
use super::server::RoleTable;
use crate::forge::Permission;
use crate::policy::Planner;

mod merge;

pub use merge::effective;

/// Every rule in force for one repository, with nothing left to default.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EffectivePolicy {
    /// Who may run which command.
    pub roles: RolePolicy,
    /// Which agents may run and plan.
    pub agents: AgentPolicy,
    /// Where and how runs execute.
    pub execution: ExecutionPolicy,
    /// The verification steps, static ones first, each with its timeout.
    pub verification: Vec<VerificationStep>,
    /// The checks other systems post on an approval's head that verification waits for.
    pub external_checks: ExternalChecks,
    /// What auto-reject does.
    pub auto_reject: RejectPolicy,
    /// The approvals' branches, labels, drafts and merging.
    pub pull_requests: PullRequestPolicy,
    /// Whether a finished goal's issue is closed.
    pub close_finished_goals: bool,
    /// Normalized paths agents may not change, each covering everything below it.
    pub protected_paths: Vec<String>,
    /// How long run leftovers are kept.
    pub retention: RetentionPolicy,
    /// DLP rules beyond the built-in detectors, server's first.
    pub dlp_rules: Vec<DlpPattern>,
    /// Command and run rates, and the repository's active runs.
    pub rate_limits: RateLimitPolicy,
    /// What one goal may spend.
    pub budget: BudgetPolicy,
}

impl Default for EffectivePolicy {
    /// The policy of a repository without `.ade/config.toml` on a server that sets nothing.
    fn default() -> EffectivePolicy {
        effective(&Default::default(), &Default::default())
            .expect("the built-in defaults are within the built-in limits")
    }
}

impl EffectivePolicy {
    /// The protected path that covers `path` (repository-relative), if one does.
    pub fn protecting(&self, path: &str) -> Option<&str> {
        let path = path
            .strip_prefix("./")
            .unwrap_or(path)
            .trim_end_matches('/');
        self.protected_paths
            .iter()
            .map(String::as_str)
            .find(|protected| covers(protected, path))
    }
}

/// Whether `protected` is `path` or one of its parent folders.
fn covers(protected: &str, path: &str) -> bool {
    path.strip_prefix(protected)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

/// Who may run which command.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RolePolicy {
    /// The least permission each command needs.
    pub required: RoleTable,
    /// Roles of named users, by lowercase login.
    pub users: BTreeMap<String, Permission>,
    /// Roles granted to teams' members, by lowercase `org/team-slug`.
    pub teams: BTreeMap<String, Permission>,
    /// Whether other bots may run commands.
    pub allow_bots: bool,
}

impl RolePolicy {
    /// A user's role here: their `roles.users` entry if they have one, else the highest of their
    /// forge permission and their teams' grants. `teams` are the `org/team-slug`s the user is in;
    /// callers may skip looking them up when [`RolePolicy::teams`] is empty.
    pub fn role_of(&self, login: &str, forge: Permission, teams: &[String]) -> Permission {
        if let Some(role) = self.users.get(&login.to_lowercase()) {
            return *role;
        }
        teams
            .iter()
            .filter_map(|team| self.teams.get(&team.to_lowercase()))
            .copied()
            .fold(forge, Permission::max)
    }

    /// Whether someone with `role` may run the command `verb`; false for an unknown verb.
    pub fn permits(&self, verb: &str, role: Permission) -> bool {
        self.required
            .required(verb)
            .is_some_and(|needed| role >= needed)
    }
}

/// Which agents may be used.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AgentPolicy {
    /// The agents tasks may name.
    pub allowed: AgentSet,
    /// The agent of tasks that name none; with `None` such tasks wait, ready, until one is set.
    pub default: Option<String>,
    /// Who writes plans.
    pub planner: Planner,
}

/// A set of agent names that may be "all of them".
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AgentSet {
    /// Every agent the server registers.
    Any,
    /// Only these.
    Only(BTreeSet<String>),
}

impl AgentSet {
    /// Whether the agent `name` is in the set.
    pub fn permits(&self, name: &str) -> bool {
        match self {
            AgentSet::Any => true,
            AgentSet::Only(names) => names.contains(name),
        }
    }
}

/// Where and how runs execute.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExecutionPolicy {
    /// The environment of tasks that name none.
    pub environment: Environment,
    /// The environments tasks may name.
    pub environments: BTreeSet<Environment>,
    /// Runs of one goal at once.
    pub parallelism: u32,
    /// Longest agent run.
    pub timeout: Duration,
    /// Attempts per task, the first included.
    pub attempts: u32,
    /// Most tasks per spec.
    pub max_tasks: u32,
}

/// One verification step, ready to run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerificationStep {
    /// Its name in the `ade/verify` check.
    pub name: String,
    /// Static or dynamic.
    pub kind: StepKind,
    /// Program and arguments.
    pub command: Vec<String>,
    /// How long it may take.
    pub timeout: Duration,
}

/// The checks of the forge's own CI (GitHub check runs and commit statuses, Gitea commit
/// statuses) that verification counts beside its own steps: a failing or missing one fails it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExternalChecks {
    /// Their names (check run names, status contexts), in the policy's order; none waits for
    /// nothing.
    pub names: Vec<String>,
    /// How long ade waits for them once its own steps passed.
    pub timeout: Duration,
}

impl ExternalChecks {
    /// Whether verification waits for any.
    pub fn any(&self) -> bool {
        !self.names.is_empty()
    }
}

/// What auto-reject does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RejectPolicy {
    /// Close, draft or only label.
    pub action: RejectAction,
    /// The label added in every case.
    pub label: String,
}

/// The approvals' branches and labels.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PullRequestPolicy {
    /// Prefix of every branch ade pushes.
    pub branch_prefix: String,
    /// Labels added to every approval.
    pub labels: Vec<String>,
    /// Whether ade may merge approvals that have a qualifying review and pass verification.
    pub auto_merge: bool,
    /// How ade merges.
    pub merge_method: crate::forge::MergeMethod,
    /// Whether approvals are drafts while verification runs.
    pub drafts: bool,
}

/// How long each kind of data ade keeps about a repository is kept, in days; 0 means until the
/// run it belongs to is finished and reported (docs/retention.md).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetentionPolicy {
    /// Raw deliveries and their events, counted from when they were handled.
    pub deliveries_days: u32,
    /// Run logs and the agent output kept with a run.
    pub run_logs_days: u32,
    /// Verification logs and the failures handed to a retry.
    pub verification_logs_days: u32,
    /// Scratch folders of finished runs.
    pub worktrees_days: u32,
    /// Rendered prompts and task files.
    pub prompts_days: u32,
}

impl RetentionPolicy {
    /// The days `class` is kept.
    pub fn days(&self, class: DataClass) -> u32 {
        match class {
            DataClass::Deliveries => self.deliveries_days,
            DataClass::RunLogs => self.run_logs_days,
            DataClass::VerificationLogs => self.verification_logs_days,
            DataClass::Scratch => self.worktrees_days,
            DataClass::Prompts => self.prompts_days,
        }
    }
}

/// A kind of data with a retention period of its own: what a purge deletes and its audit record
/// names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DataClass {
    /// Raw webhook deliveries and the events made of them.
    Deliveries,
    /// Run logs and the agent output kept with a run.
    RunLogs,
    /// Verification logs and the failures handed to a retry.
    VerificationLogs,
    /// Scratch folders of finished runs.
    Scratch,
    /// Rendered prompts and task files.
    Prompts,
}

impl DataClass {
    /// The classes that belong to a run.
    pub const OF_RUNS: [DataClass; 4] = [
        DataClass::RunLogs,
        DataClass::VerificationLogs,
        DataClass::Scratch,
        DataClass::Prompts,
    ];

    /// The name records and logs use (`run_logs`).
    pub fn as_str(self) -> &'static str {
        match self {
            DataClass::Deliveries => "deliveries",
            DataClass::RunLogs => "run_logs",
            DataClass::VerificationLogs => "verification_logs",
            DataClass::Scratch => "scratch",
            DataClass::Prompts => "prompts",
        }
    }

    /// The class's bit in a run's record of what was purged.
    pub fn bit(self) -> i64 {
        1 << self as i64
    }
}

/// A DLP rule, its pattern known to compile.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DlpPattern {
    /// Its name in failure reports.
    pub name: String,
    /// The regular expression.
    pub pattern: String,
}

/// Command and run rates, per hour (token buckets), and the cap on a repository's active runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateLimitPolicy {
    /// Accepted `/ade plan` per repository.
    pub plans_per_hour: u32,
    /// Runs started per repository.
    pub runs_per_hour: u32,
    /// Command lines answered per user per repository.
    pub commands_per_user_per_hour: u32,
    /// Command lines answered per repository.
    pub commands_per_hour: u32,
    /// Runs of the repository under way at once.
    pub active_runs: u32,
}

/// What one goal may spend over all its runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BudgetPolicy {
    /// Runs.
    pub runs: u32,
    /// Agent minutes, all runs together.
    pub agent_minutes: u32,
    /// Reported agent cost, in US dollars.
    pub cost_usd: u32,
}
