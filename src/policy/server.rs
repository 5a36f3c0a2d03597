//! The operator's side of policy: defaults for what a repository leaves out, and limits a
//! repository may narrow but never loosen. It lives in `ade.toml`; the built-in values below are
//! what a server that sets nothing enforces.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::file::{Environment, Policy};
use crate::forge::Permission;

/// The server's policy: `defaults` has the shape of `.ade/config.toml` and fills every key a
/// repository leaves out; `limits` caps what either may set. Checked whole by
/// [`ServerPolicy::check`], in check.rs beside the check of a repository's policy file, because
/// it needs the effective policy, which is built on this file.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct ServerPolicy {
    /// Values for keys a repository's `.ade/config.toml` leaves out; keys left out here take the
    /// built-in defaults.
    pub defaults: Policy,
    /// What no repository may loosen.
    pub limits: Limits,
}

/// Caps on repository policy. A repository that sets a value beyond one gets a diagnostic naming
/// the key and the cap; its policy is not used until fixed.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// The least permission each command may require; a repository may require more.
    pub min_roles: RoleTable,
    /// Whether a repository may let other bots run commands.
    pub allow_bots: bool,
    /// The agents repositories may use; absent means every agent the server registers.
    pub agents: Option<Vec<String>>,
    /// The environments runs may use.
    pub environments: Vec<Environment>,
    /// Most runs of one goal at once.
    #[schemars(range(min = 1))]
    pub max_parallelism: u32,
    /// Longest agent run, in seconds.
    #[schemars(range(min = 1))]
    pub max_timeout_secs: u64,
    /// Most attempts per task.
    #[schemars(range(min = 1))]
    pub max_attempts: u32,
    /// Most tasks per spec.
    #[schemars(range(min = 1))]
    pub max_tasks: u32,
    /// Longest verification step, in seconds.
    #[schemars(range(min = 1))]
    pub max_step_timeout_secs: u64,
    /// Longest wait for a repository's external checks, in seconds.
    #[schemars(range(min = 1))]
    pub max_external_timeout_secs: u64,
    /// Whether a repository may let ade merge approvals itself.
    pub allow_auto_merge: bool,
    /// The prefix every branch ade pushes starts with; a repository may only make it longer.
    pub branch_prefix: String,
    /// Paths agents may never change.
    pub protected_paths: Vec<String>,
    /// Whether a repository may take paths off `protected_paths` with `paths.unprotected`.
    pub allow_unprotect: bool,
    /// Longest retention of raw deliveries and events, in days.
    pub max_deliveries_days: u32,
    /// Longest retention of run logs, in days.
    pub max_run_logs_days: u32,
    /// Longest retention of verification logs, in days.
    pub max_verification_logs_days: u32,
    /// Longest retention of finished runs' scratch folders, in days.
    pub max_worktrees_days: u32,
    /// Longest retention of rendered prompts, in days.
    pub max_prompts_days: u32,
    /// Highest `/ade plan` rate per repository per hour.
    pub max_plans_per_hour: u32,
    /// Highest run start rate per repository per hour.
    pub max_runs_per_hour: u32,
    /// Highest command rate per user per repository per hour.
    pub max_commands_per_user_per_hour: u32,
    /// Highest command rate per repository per hour.
    pub max_commands_per_hour: u32,
    /// Most runs of one repository under way at once.
    #[schemars(range(min = 1))]
    pub max_active_runs: u32,
    /// Most runs per goal.
    pub max_budget_runs: u32,
    /// Most agent minutes per goal.
    pub max_budget_agent_minutes: u32,
    /// Most reported agent cost per goal, in US dollars.
    pub max_budget_cost_usd: u32,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            min_roles: RoleTable::default(),
            allow_bots: true,
            agents: None,
            environments: vec![
                Environment::Worktree,
                Environment::Container,
                Environment::Main,
            ],
            max_parallelism: 8,
            max_timeout_secs: 4 * 3600,
            max_attempts: 5,
            max_tasks: 50,
            max_step_timeout_secs: 3600,
            max_external_timeout_secs: 4 * 3600,
            allow_auto_merge: true,
            branch_prefix: "ade/".to_owned(),
            protected_paths: [
                ".github/workflows",
                ".gitea/workflows",
                ".forgejo/workflows",
                ".ade",
            ]
            .map(str::to_owned)
            .to_vec(),
            allow_unprotect: false,
            max_deliveries_days: 90,
            max_run_logs_days: 90,
            max_verification_logs_days: 90,
            max_worktrees_days: 30,
            max_prompts_days: 90,
            max_plans_per_hour: 60,
            max_runs_per_hour: 200,
            max_commands_per_user_per_hour: 120,
            max_commands_per_hour: 600,
            max_active_runs: 50,
            max_budget_runs: 500,
            max_budget_agent_minutes: 6000,
            max_budget_cost_usd: 1000,
        }
    }
}

/// The permission each command needs. Its default is the command table of docs/commands.md:
/// `read` for `status` and `help`, `maintain` for `approve` and `allow_unscanned`, `write` for
/// the rest.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct RoleTable {
    /// `/ade plan`.
    #[schemars(with = "super::file::PermissionName")]
    pub plan: Permission,
    /// `/ade approve`.
    #[schemars(with = "super::file::PermissionName")]
    pub approve: Permission,
    /// `/ade run`.
    #[schemars(with = "super::file::PermissionName")]
    pub run: Permission,
    /// `/ade allow-unscanned`.
    #[schemars(with = "super::file::PermissionName")]
    pub allow_unscanned: Permission,
    /// `/ade retry`.
    #[schemars(with = "super::file::PermissionName")]
    pub retry: Permission,
    /// `/ade verify`.
    #[schemars(with = "super::file::PermissionName")]
    pub verify: Permission,
    /// `/ade cancel`.
    #[schemars(with = "super::file::PermissionName")]
    pub cancel: Permission,
    /// `/ade status`.
    #[schemars(with = "super::file::PermissionName")]
    pub status: Permission,
    /// `/ade help`.
    #[schemars(with = "super::file::PermissionName")]
    pub help: Permission,
}

impl Default for RoleTable {
    fn default() -> RoleTable {
        RoleTable {
            plan: Permission::Write,
            approve: Permission::Maintain,
            run: Permission::Write,
            allow_unscanned: Permission::Maintain,
            retry: Permission::Write,
            verify: Permission::Write,
            cancel: Permission::Write,
            status: Permission::Read,
            help: Permission::Read,
        }
    }
}

impl RoleTable {
    /// Each command's key (its verb, `_` for `-`) with the permission it needs, in the order of
    /// docs/commands.md's table, so help text and the docs can list them.
    pub fn entries(&self) -> [(&'static str, Permission); 9] {
        [
            ("plan", self.plan),
            ("approve", self.approve),
            ("run", self.run),
            ("allow_unscanned", self.allow_unscanned),
            ("retry", self.retry),
            ("verify", self.verify),
            ("cancel", self.cancel),
            ("status", self.status),
            ("help", self.help),
        ]
    }

    /// The permission the command keyed `verb` needs; `None` for a key that is no command.
    pub fn required(&self, verb: &str) -> Option<Permission> {
        self.entries()
            .into_iter()
            .find(|(name, _)| *name == verb)
            .map(|(_, permission)| permission)
    }
}

/// Built-in defaults for keys neither the repository nor the server sets. Caps are in
/// [`Limits::default`].
pub(super) mod builtin {
    use super::super::file::{Environment, RejectAction};

    pub const ENVIRONMENT: Environment = Environment::Worktree;
    pub const PARALLELISM: u32 = 2;
    pub const TIMEOUT_SECS: u64 = 3600;
    pub const ATTEMPTS: u32 = 3;
    pub const MAX_TASKS: u32 = 20;
    pub const STEP_TIMEOUT_SECS: u64 = 600;
    /// How long external checks are waited for when neither the repository nor the server says.
    pub const EXTERNAL_TIMEOUT_SECS: u64 = 1800;
    pub const REJECT_ACTION: RejectAction = RejectAction::Close;
    pub const REJECT_LABEL: &str = "ade:rejected";
    pub const BRANCH_PREFIX: &str = "ade/";
    pub const LABELS: &[&str] = &["ade"];
    pub const DELIVERIES_DAYS: u32 = 14;
    pub const RUN_LOGS_DAYS: u32 = 30;
    pub const VERIFICATION_LOGS_DAYS: u32 = 30;
    pub const WORKTREES_DAYS: u32 = 7;
    pub const PROMPTS_DAYS: u32 = 30;
    pub const PLANS_PER_HOUR: u32 = 20;
    pub const RUNS_PER_HOUR: u32 = 50;
    pub const COMMANDS_PER_USER_PER_HOUR: u32 = 30;
    pub const COMMANDS_PER_HOUR: u32 = 120;
    pub const ACTIVE_RUNS: u32 = 10;
    pub const BUDGET_RUNS: u32 = 50;
    pub const BUDGET_AGENT_MINUTES: u32 = 600;
    pub const BUDGET_COST_USD: u32 = 100;
}
