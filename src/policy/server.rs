//! The operator's side of policy: defaults for what a repository leaves out, and limits a
//! repository may narrow but never loosen. It lives in `ade.toml`; the built-in values below are
//! what a server that sets nothing enforces.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::diagnostic::PolicyDiagnostic;
use super::effective::effective;
use super::file::{Environment, Policy};
use super::validate;
use crate::forge::Permission;

/// The server's policy: `defaults` has the shape of `.ade/config.toml` and fills every key a
/// repository leaves out; `limits` caps what either may set.
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
    /// Whether a repository may let ade merge approvals itself.
    pub allow_auto_merge: bool,
    /// The prefix every branch ade pushes starts with; a repository may only make it longer.
    pub branch_prefix: String,
    /// Paths agents may never change.
    pub protected_paths: Vec<String>,
    /// Whether a repository may take paths off `protected_paths` with `paths.unprotected`.
    pub allow_unprotect: bool,
    /// Longest retention of run logs, in days.
    pub max_run_logs_days: u32,
    /// Longest retention of finished worktrees, in days.
    pub max_worktrees_days: u32,
    /// Highest `/ade plan` rate per repository per hour.
    pub max_plans_per_hour: u32,
    /// Highest run start rate per repository per hour.
    pub max_runs_per_hour: u32,
    /// Highest command rate per user per repository per hour.
    pub max_commands_per_user_per_hour: u32,
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
            max_run_logs_days: 90,
            max_worktrees_days: 30,
            max_plans_per_hour: 60,
            max_runs_per_hour: 200,
            max_commands_per_user_per_hour: 120,
        }
    }
}

/// The permission each command needs. Its default is DESIGN's command table: `read` for
/// `status` and `help`, `maintain` for `approve`, `write` for the rest.
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
            retry: Permission::Write,
            verify: Permission::Write,
            cancel: Permission::Write,
            status: Permission::Read,
            help: Permission::Read,
        }
    }
}

impl RoleTable {
    /// Each command's verb with the permission it needs, in the order of DESIGN's table, so help
    /// text and the docs can list them.
    pub fn entries(&self) -> [(&'static str, Permission); 8] {
        [
            ("plan", self.plan),
            ("approve", self.approve),
            ("run", self.run),
            ("retry", self.retry),
            ("verify", self.verify),
            ("cancel", self.cancel),
            ("status", self.status),
            ("help", self.help),
        ]
    }

    /// The permission the command `verb` needs; `None` for a verb that is not a command.
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
    pub const REJECT_ACTION: RejectAction = RejectAction::Close;
    pub const REJECT_LABEL: &str = "ade:rejected";
    pub const BRANCH_PREFIX: &str = "ade/";
    pub const LABELS: &[&str] = &["ade"];
    pub const RUN_LOGS_DAYS: u32 = 30;
    pub const WORKTREES_DAYS: u32 = 7;
    pub const PLANS_PER_HOUR: u32 = 20;
    pub const RUNS_PER_HOUR: u32 = 50;
    pub const COMMANDS_PER_USER_PER_HOUR: u32 = 30;
}

impl ServerPolicy {
    /// Checks the server's own policy, as `ade check-config` and start-up should: its defaults
    /// must be valid policy values within its own limits, and its limits usable. Keys are named
    /// relative to where the server policy sits in `ade.toml` (`defaults.execution.parallelism`,
    /// `limits.branch_prefix`).
    pub fn check(&self) -> Result<(), Vec<PolicyDiagnostic>> {
        let locations = &self.defaults.locations;
        let mut out: Vec<PolicyDiagnostic> = validate::policy(&self.defaults)
            .into_iter()
            .map(|problem| {
                let mut d = PolicyDiagnostic::at_key(locations, &problem.key, problem.message);
                d.key = Some(format!("defaults.{}", problem.key));
                d
            })
            .collect();
        let mut refuse = |key: &str, message: String| {
            out.push(PolicyDiagnostic {
                source: String::new(),
                position: None,
                key: Some(format!("limits.{key}")),
                message,
            })
        };
        let limits = &self.limits;
        if let Some(problem) = validate::branch_prefix_error(&limits.branch_prefix) {
            refuse("branch_prefix", problem);
        }
        for (index, path) in limits.protected_paths.iter().enumerate() {
            if let Err(problem) = validate::normalize_path(path) {
                refuse(
                    &format!("protected_paths[{index}]"),
                    format!("`{path}` {problem}"),
                );
            }
        }
        for (index, agent) in limits.agents.iter().flatten().enumerate() {
            if let Some(problem) = validate::agent_name_error(agent) {
                refuse(&format!("agents[{index}]"), problem);
            }
        }
        if limits.environments.is_empty() {
            refuse(
                "environments",
                "an empty list would let no run execute".to_owned(),
            );
        }
        for (key, value) in [
            ("max_parallelism", limits.max_parallelism.into()),
            ("max_timeout_secs", limits.max_timeout_secs),
            ("max_attempts", limits.max_attempts.into()),
            ("max_tasks", limits.max_tasks.into()),
            ("max_step_timeout_secs", limits.max_step_timeout_secs),
            ("max_plans_per_hour", limits.max_plans_per_hour.into()),
            ("max_runs_per_hour", limits.max_runs_per_hour.into()),
            (
                "max_commands_per_user_per_hour",
                limits.max_commands_per_user_per_hour.into(),
            ),
        ] {
            if value == 0 {
                refuse(key, "must be at least 1".to_owned());
            }
        }
        if out.is_empty()
            && let Err(loosened) = effective(self, &Policy::default())
        {
            out.extend(loosened);
        }
        for diagnostic in &mut out {
            if diagnostic.source.is_empty() {
                diagnostic.source = "server policy".to_owned();
            }
        }
        if out.is_empty() { Ok(()) } else { Err(out) }
    }
}
