//! Combining a repository's policy with the server's: each key takes the repository's value, else
//! the server's default, else the built-in one, and every value a limit caps is checked against
//! it. A repository value beyond a limit is refused, never clamped: the author learns which key
//! and which cap, and fixes the file.

use std::collections::BTreeSet;
use std::fmt::Display;
use std::time::Duration;

use super::{
    BudgetPolicy, EffectivePolicy, ExecutionPolicy, ExternalChecks, RateLimitPolicy, RejectPolicy,
    RetentionPolicy, VerificationStep,
};
use crate::policy::diagnostic::PolicyDiagnostic;
use crate::policy::file::{Environment, Policy, StepKind};
use crate::policy::locate::KeyPath;
use crate::policy::server::{ServerPolicy, builtin};

mod access;
mod changes;

/// The policy in force for a repository whose `.ade/config.toml` is `repo` (use
/// `Policy::default()` when the file is missing) on a server whose policy is `server`. Every
/// attempt to loosen a server limit is a diagnostic naming the key and the limit.
pub fn effective(
    server: &ServerPolicy,
    repo: &Policy,
) -> Result<EffectivePolicy, Vec<PolicyDiagnostic>> {
    let mut merge = Merge {
        server,
        repo,
        out: Vec::new(),
    };
    let policy = EffectivePolicy {
        roles: merge.roles(),
        agents: merge.agents(),
        execution: merge.execution(),
        verification: merge.verification(),
        external_checks: merge.external_checks(),
        auto_reject: RejectPolicy {
            action: merge
                .pick(|p| p.auto_reject.action)
                .map_or(builtin::REJECT_ACTION, |(action, _)| action),
            label: merge
                .pick(|p| p.auto_reject.label.clone())
                .map_or_else(|| builtin::REJECT_LABEL.to_owned(), |(label, _)| label),
        },
        pull_requests: merge.pull_requests(),
        close_finished_goals: merge
            .pick(|p| p.goals.close_issue)
            .is_some_and(|(close, _)| close),
        protected_paths: merge.protected_paths(),
        retention: merge.retention(),
        dlp_rules: merge.dlp_rules(),
        rate_limits: merge.rate_limits(),
        budget: merge.budget(),
    };
    if merge.out.is_empty() {
        Ok(policy)
    } else {
        Err(merge.out)
    }
}

/// Which layer a value came from, so a refusal points at the file that set it.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Origin {
    Repo,
    Server,
}

struct Merge<'a> {
    server: &'a ServerPolicy,
    repo: &'a Policy,
    out: Vec<PolicyDiagnostic>,
}

impl Merge<'_> {
    /// The repository's value of a key, else the server's default, with where it came from.
    fn pick<T>(&self, get: impl Fn(&Policy) -> Option<T>) -> Option<(T, Origin)> {
        get(self.repo)
            .map(|value| (value, Origin::Repo))
            .or_else(|| get(&self.server.defaults).map(|value| (value, Origin::Server)))
    }

    fn refuse(&mut self, origin: Origin, key: &KeyPath, message: impl Into<String>) {
        let diagnostic = match origin {
            Origin::Repo => {
                let mut d = PolicyDiagnostic::at_key(&self.repo.locations, key, message);
                if d.source.is_empty() {
                    d.source = ".ade/config.toml".to_owned();
                }
                d
            }
            Origin::Server => {
                let locations = &self.server.defaults.locations;
                let mut d = PolicyDiagnostic::at_key(locations, key, message);
                d.key = Some(format!("defaults.{key}"));
                if d.source.is_empty() {
                    d.source = "server policy".to_owned();
                }
                d
            }
        };
        self.out.push(diagnostic);
    }

    /// A value at most `cap`: set beyond it is refused; unset is the built-in value, lowered to
    /// the cap if need be.
    fn capped<T: Ord + Copy + Display>(
        &mut self,
        key: &[&str],
        get: impl Fn(&Policy) -> Option<T>,
        builtin: T,
        (cap, cap_key): (T, &str),
    ) -> T {
        match self.pick(get) {
            Some((value, origin)) if value > cap => {
                let message =
                    format!("{value} is above the server's limit of {cap} (limits.{cap_key})");
                self.refuse(origin, &KeyPath::of(key), message);
                cap
            }
            Some((value, _)) => value,
            None => builtin.min(cap),
        }
    }

    fn execution(&mut self) -> ExecutionPolicy {
        let limits = &self.server.limits;
        let cap: BTreeSet<Environment> = limits.environments.iter().copied().collect();
        let key = |name| KeyPath::of(&["execution", name]);
        let environments = match self.pick(|p| p.execution.environments.clone()) {
            None => cap.clone(),
            Some((list, origin)) => {
                for (index, environment) in list.iter().enumerate() {
                    if !cap.contains(environment) {
                        let message = format!(
                            "`{}` is not allowed by the server (limits.environments: {})",
                            environment.as_str(),
                            names(&cap)
                        );
                        self.refuse(origin, &key("environments").index(index), message);
                    }
                }
                list.into_iter().filter(|e| cap.contains(e)).collect()
            }
        };
        let fallback = if environments.contains(&builtin::ENVIRONMENT) {
            builtin::ENVIRONMENT
        } else {
            environments
                .first()
                .copied()
                .unwrap_or(builtin::ENVIRONMENT)
        };
        let environment = match self.pick(|p| p.execution.environment) {
            Some((environment, origin)) if !environments.contains(&environment) => {
                let message = format!(
                    "`{}` is not an allowed environment here ({})",
                    environment.as_str(),
                    names(&environments)
                );
                self.refuse(origin, &key("environment"), message);
                fallback
            }
            Some((environment, _)) => environment,
            None => fallback,
        };
        let limits = self.server.limits.clone();
        ExecutionPolicy {
            environment,
            environments,
            parallelism: self.capped(
                &["execution", "parallelism"],
                |p| p.execution.parallelism,
                builtin::PARALLELISM,
                (limits.max_parallelism, "max_parallelism"),
            ),
            timeout: Duration::from_secs(self.capped(
                &["execution", "timeout_secs"],
                |p| p.execution.timeout_secs,
                builtin::TIMEOUT_SECS,
                (limits.max_timeout_secs, "max_timeout_secs"),
            )),
            attempts: self.capped(
                &["execution", "attempts"],
                |p| p.execution.attempts,
                builtin::ATTEMPTS,
                (limits.max_attempts, "max_attempts"),
            ),
            max_tasks: self.capped(
                &["execution", "max_tasks"],
                |p| p.execution.max_tasks,
                builtin::MAX_TASKS,
                (limits.max_tasks, "max_tasks"),
            ),
        }
    }

    fn verification(&mut self) -> Vec<VerificationStep> {
        let cap = self.server.limits.max_step_timeout_secs;
        let default_timeout = self.capped(
            &["verification", "step_timeout_secs"],
            |p| p.verification.step_timeout_secs,
            builtin::STEP_TIMEOUT_SECS,
            (cap, "max_step_timeout_secs"),
        );
        let Some((steps, origin)) = self.pick(|p| p.verification.steps.clone()) else {
            return Vec::new();
        };
        let key = KeyPath::of(&["verification", "steps"]);
        let mut resolved: Vec<VerificationStep> = steps
            .into_iter()
            .enumerate()
            .map(|(index, step)| {
                let mut timeout = step.timeout_secs.unwrap_or(default_timeout);
                if timeout > cap {
                    let message = format!(
                        "{timeout} is above the server's limit of {cap} (limits.max_step_timeout_secs)"
                    );
                    self.refuse(origin, &key.index(index).key("timeout_secs"), message);
                    timeout = cap;
                }
                VerificationStep {
                    name: step.name,
                    kind: step.kind,
                    command: step.command,
                    timeout: Duration::from_secs(timeout),
                }
            })
            .collect();
        resolved.sort_by_key(|step| step.kind != StepKind::Static);
        resolved
    }

    fn external_checks(&mut self) -> ExternalChecks {
        let cap = self.server.limits.max_external_timeout_secs;
        let timeout = self.capped(
            &["verification", "external_timeout_secs"],
            |p| p.verification.external_timeout_secs,
            builtin::EXTERNAL_TIMEOUT_SECS,
            (cap, "max_external_timeout_secs"),
        );
        ExternalChecks {
            names: self
                .pick(|p| p.verification.external_checks.clone())
                .map(|(names, _)| names)
                .unwrap_or_default(),
            timeout: Duration::from_secs(timeout),
        }
    }

    fn retention(&mut self) -> RetentionPolicy {
        let limits = self.server.limits.clone();
        let mut days = |name: &str, get: fn(&Policy) -> Option<u32>, builtin, cap| {
            self.capped(&["retention", name], get, builtin, cap)
        };
        RetentionPolicy {
            deliveries_days: days(
                "deliveries_days",
                |p| p.retention.deliveries_days,
                builtin::DELIVERIES_DAYS,
                (limits.max_deliveries_days, "max_deliveries_days"),
            ),
            run_logs_days: days(
                "run_logs_days",
                |p| p.retention.run_logs_days,
                builtin::RUN_LOGS_DAYS,
                (limits.max_run_logs_days, "max_run_logs_days"),
            ),
            verification_logs_days: days(
                "verification_logs_days",
                |p| p.retention.verification_logs_days,
                builtin::VERIFICATION_LOGS_DAYS,
                (
                    limits.max_verification_logs_days,
                    "max_verification_logs_days",
                ),
            ),
            worktrees_days: days(
                "worktrees_days",
                |p| p.retention.worktrees_days,
                builtin::WORKTREES_DAYS,
                (limits.max_worktrees_days, "max_worktrees_days"),
            ),
            prompts_days: days(
                "prompts_days",
                |p| p.retention.prompts_days,
                builtin::PROMPTS_DAYS,
                (limits.max_prompts_days, "max_prompts_days"),
            ),
        }
    }

    fn rate_limits(&mut self) -> RateLimitPolicy {
        let limits = self.server.limits.clone();
        let mut rate = |key: &'static str, get: fn(&Policy) -> Option<u32>, builtin, cap| {
            self.capped(&["rate_limits", key], get, builtin, cap)
        };
        RateLimitPolicy {
            plans_per_hour: rate(
                "plans_per_hour",
                |p| p.rate_limits.plans_per_hour,
                builtin::PLANS_PER_HOUR,
                (limits.max_plans_per_hour, "max_plans_per_hour"),
            ),
            runs_per_hour: rate(
                "runs_per_hour",
                |p| p.rate_limits.runs_per_hour,
                builtin::RUNS_PER_HOUR,
                (limits.max_runs_per_hour, "max_runs_per_hour"),
            ),
            commands_per_user_per_hour: rate(
                "commands_per_user_per_hour",
                |p| p.rate_limits.commands_per_user_per_hour,
                builtin::COMMANDS_PER_USER_PER_HOUR,
                (
                    limits.max_commands_per_user_per_hour,
                    "max_commands_per_user_per_hour",
                ),
            ),
            commands_per_hour: rate(
                "commands_per_hour",
                |p| p.rate_limits.commands_per_hour,
                builtin::COMMANDS_PER_HOUR,
                (limits.max_commands_per_hour, "max_commands_per_hour"),
            ),
            active_runs: rate(
                "active_runs",
                |p| p.rate_limits.active_runs,
                builtin::ACTIVE_RUNS,
                (limits.max_active_runs, "max_active_runs"),
            ),
        }
    }

    fn budget(&mut self) -> BudgetPolicy {
        let limits = self.server.limits.clone();
        let mut budget = |key: &'static str, get: fn(&Policy) -> Option<u32>, builtin, cap| {
            self.capped(&["budget", key], get, builtin, cap)
        };
        BudgetPolicy {
            runs: budget(
                "runs",
                |p| p.budget.runs,
                builtin::BUDGET_RUNS,
                (limits.max_budget_runs, "max_budget_runs"),
            ),
            agent_minutes: budget(
                "agent_minutes",
                |p| p.budget.agent_minutes,
                builtin::BUDGET_AGENT_MINUTES,
                (limits.max_budget_agent_minutes, "max_budget_agent_minutes"),
            ),
            cost_usd: budget(
                "cost_usd",
                |p| p.budget.cost_usd,
                builtin::BUDGET_COST_USD,
                (limits.max_budget_cost_usd, "max_budget_cost_usd"),
            ),
        }
    }
}

fn names(environments: &BTreeSet<Environment>) -> String {
    environments
        .iter()
        .map(|e| e.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}
