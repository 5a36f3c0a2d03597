//! Checks of the values a policy file's types accept but ade cannot use: zero where at least one
//! is needed, names that would break a branch or a check name, paths outside the repository,
//! duplicates, patterns that do not compile. The server's limits are not applied here.

use std::collections::BTreeSet;

use super::file::{Agents, Dlp, Execution, Paths, Policy, PullRequests, Roles, Verification};
use super::locate::KeyPath;

/// Most verification steps a policy may have.
pub const MAX_STEPS: usize = 20;
/// Most DLP rules a policy may have.
pub const MAX_DLP_RULES: usize = 50;
/// Most external checks a policy may wait for.
const MAX_EXTERNAL_CHECKS: usize = 20;

/// Longest external check name, in characters (GitHub caps check run names well above this).
const MAX_EXTERNAL_NAME_CHARS: usize = 100;

/// Most arguments of one verification command.
const MAX_ARGS: usize = 64;
/// Longest argument of a verification command, in bytes.
const MAX_ARG_BYTES: usize = 4096;
/// Largest compiled DLP pattern, so one rule cannot make every scan slow.
const MAX_PATTERN_BYTES: usize = 1 << 20;

/// A value ade cannot use: which key, and why.
pub(crate) struct Problem {
    pub key: KeyPath,
    pub message: String,
}

/// Every problem with `policy`'s values.
pub(crate) fn policy(policy: &Policy) -> Vec<Problem> {
    let mut report = Report { out: Vec::new() };
    roles(&mut report, &policy.roles);
    agents(&mut report, &policy.agents);
    execution(&mut report, &policy.execution);
    verification(&mut report, &policy.verification);
    external_checks(&mut report, &policy.verification);
    if let Some(label) = &policy.auto_reject.label {
        report.check(&KeyPath::of(&["auto_reject", "label"]), label_error(label));
    }
    pull_requests(&mut report, &policy.pull_requests);
    paths(&mut report, &policy.paths);
    dlp(&mut report, &policy.dlp);
    let limits = &policy.rate_limits;
    let budget = &policy.budget;
    for (table, key, value) in [
        ("rate_limits", "plans_per_hour", limits.plans_per_hour),
        ("rate_limits", "runs_per_hour", limits.runs_per_hour),
        (
            "rate_limits",
            "commands_per_user_per_hour",
            limits.commands_per_user_per_hour,
        ),
        ("rate_limits", "commands_per_hour", limits.commands_per_hour),
        ("rate_limits", "active_runs", limits.active_runs),
        ("budget", "runs", budget.runs),
        ("budget", "agent_minutes", budget.agent_minutes),
        ("budget", "cost_usd", budget.cost_usd),
    ] {
        report.at_least_one(&KeyPath::of(&[table, key]), value.map(u64::from));
    }
    report.out
}

struct Report {
    out: Vec<Problem>,
}

impl Report {
    fn error(&mut self, key: &KeyPath, message: impl Into<String>) {
        self.out.push(Problem {
            key: key.clone(),
            message: message.into(),
        });
    }

    fn check(&mut self, key: &KeyPath, problem: Option<String>) {
        if let Some(message) = problem {
            self.error(key, message);
        }
    }

    fn at_least_one(&mut self, key: &KeyPath, value: Option<u64>) {
        if value == Some(0) {
            self.error(key, "must be at least 1");
        }
    }

    /// Reports the second and later of equal names (as `normalize` makes them).
    fn unique<'n>(
        &mut self,
        key: &KeyPath,
        names: impl IntoIterator<Item = &'n str>,
        normalize: impl Fn(&str) -> String,
    ) {
        let mut seen = BTreeSet::new();
        for (index, name) in names.into_iter().enumerate() {
            if !seen.insert(normalize(name)) {
                self.error(&key.index(index), format!("`{name}` is listed twice"));
            }
        }
    }
}

fn roles(report: &mut Report, roles: &Roles) {
    let users = KeyPath::of(&["roles", "users"]);
    for login in roles.users.keys() {
        report.check(&users.key(login), login_error(login));
    }
    report.unique(
        &users,
        roles.users.keys().map(String::as_str),
        str::to_lowercase,
    );
    let teams = KeyPath::of(&["roles", "teams"]);
    for team in roles.teams.keys() {
        let problem = match team.split_once('/') {
            Some((org, slug)) if !slug.contains('/') => login_error(org).or(login_error(slug)),
            _ => Some(format!("`{team}` is not of the form `org/team-slug`")),
        };
        report.check(&teams.key(team), problem);
    }
    report.unique(
        &teams,
        roles.teams.keys().map(String::as_str),
        str::to_lowercase,
    );
}

fn agents(report: &mut Report, agents: &Agents) {
    let allowed_key = KeyPath::of(&["agents", "allowed"]);
    if let Some(allowed) = &agents.allowed {
        if allowed.is_empty() {
            report.error(
                &allowed_key,
                "an empty list would let no task run; leave the key out to allow every agent the server allows",
            );
        }
        for (index, name) in allowed.iter().enumerate() {
            report.check(&allowed_key.index(index), agent_name_error(name));
        }
        report.unique(
            &allowed_key,
            allowed.iter().map(String::as_str),
            str::to_owned,
        );
    }
    let listed = |name: &str| {
        agents
            .allowed
            .as_ref()
            .is_none_or(|a| a.iter().any(|n| n == name))
    };
    if let Some(default) = &agents.default {
        let key = KeyPath::of(&["agents", "default"]);
        match agent_name_error(default) {
            Some(problem) => report.error(&key, problem),
            None if !listed(default) => {
                report.error(&key, format!("`{default}` is not in agents.allowed"))
            }
            None => {}
        }
    }
    if let Some(planner) = agents.planner.as_deref().filter(|p| *p != "manual") {
        let key = KeyPath::of(&["agents", "planner"]);
        match agent_name_error(planner) {
            Some(problem) => report.error(&key, format!("{problem}, or `manual`")),
            None if !listed(planner) => {
                report.error(&key, format!("`{planner}` is not in agents.allowed"))
            }
            None => {}
        }
    }
}

fn execution(report: &mut Report, execution: &Execution) {
    let key = |name| KeyPath::of(&["execution", name]);
    if let Some(environments) = &execution.environments {
        if environments.is_empty() {
            report.error(
                &key("environments"),
                "an empty list would let no task run; leave the key out to allow the server's",
            );
        }
        report.unique(
            &key("environments"),
            environments.iter().map(|e| e.as_str()),
            str::to_owned,
        );
        if let Some(environment) = execution.environment
            && !environments.contains(&environment)
        {
            report.error(
                &key("environment"),
                format!(
                    "`{}` is not in execution.environments",
                    environment.as_str()
                ),
            );
        }
    }
    report.at_least_one(&key("parallelism"), execution.parallelism.map(u64::from));
    report.at_least_one(&key("timeout_secs"), execution.timeout_secs);
    report.at_least_one(&key("attempts"), execution.attempts.map(u64::from));
    report.at_least_one(&key("max_tasks"), execution.max_tasks.map(u64::from));
}

fn verification(report: &mut Report, verification: &Verification) {
    report.at_least_one(
        &KeyPath::of(&["verification", "step_timeout_secs"]),
        verification.step_timeout_secs,
    );
    let Some(steps) = &verification.steps else {
        return;
    };
    let key = KeyPath::of(&["verification", "steps"]);
    if steps.len() > MAX_STEPS {
        report.error(
            &key,
            format!("{} steps; at most {MAX_STEPS} are allowed", steps.len()),
        );
    }
    for (index, step) in steps.iter().enumerate() {
        let at = key.index(index);
        report.check(&at.key("name"), check_name_error(&step.name));
        report.at_least_one(&at.key("timeout_secs"), step.timeout_secs);
        report.check(&at.key("command"), command_error(&step.command));
    }
    report.unique(&key, steps.iter().map(|s| s.name.as_str()), str::to_owned);
}

fn external_checks(report: &mut Report, verification: &Verification) {
    report.at_least_one(
        &KeyPath::of(&["verification", "external_timeout_secs"]),
        verification.external_timeout_secs,
    );
    let Some(names) = &verification.external_checks else {
        return;
    };
    let key = KeyPath::of(&["verification", "external_checks"]);
    if names.len() > MAX_EXTERNAL_CHECKS {
        report.error(
            &key,
            format!(
                "{} checks; at most {MAX_EXTERNAL_CHECKS} are allowed",
                names.len()
            ),
        );
    }
    for (index, name) in names.iter().enumerate() {
        report.check(&key.index(index), external_check_error(name));
    }
    report.unique(&key, names.iter().map(String::as_str), str::to_owned);
}

/// Why `name` cannot name an external check, if it cannot: check run names and status contexts
/// are free text on the forges, so only what could never match one is refused, and ade's own
/// checks, which would wait on themselves.
fn external_check_error(name: &str) -> Option<String> {
    let length = name.chars().count();
    if length == 0 || length > MAX_EXTERNAL_NAME_CHARS {
        return Some(format!(
            "check names have 1 to {MAX_EXTERNAL_NAME_CHARS} characters; this has {length}"
        ));
    }
    if name.trim() != name || name.chars().any(char::is_control) {
        return Some(
            "a check name may not start or end with spaces or hold control characters".into(),
        );
    }
    if name.to_ascii_lowercase().starts_with("ade/") {
        return Some(format!(
            "`{name}` is one of ade's own checks, which never count as external ones"
        ));
    }
    None
}

fn pull_requests(report: &mut Report, pull_requests: &PullRequests) {
    if let Some(prefix) = &pull_requests.branch_prefix {
        report.check(
            &KeyPath::of(&["pull_requests", "branch_prefix"]),
            branch_prefix_error(prefix),
        );
    }
    if let Some(labels) = &pull_requests.labels {
        let key = KeyPath::of(&["pull_requests", "labels"]);
        for (index, label) in labels.iter().enumerate() {
            report.check(&key.index(index), label_error(label));
        }
        report.unique(&key, labels.iter().map(String::as_str), str::to_lowercase);
    }
}

fn paths(report: &mut Report, paths: &Paths) {
    for (name, list) in [
        ("protected", &paths.protected),
        ("unprotected", &paths.unprotected),
    ] {
        let key = KeyPath::of(&["paths", name]);
        for (index, path) in list.iter().enumerate() {
            if let Err(problem) = normalize_path(path) {
                report.error(&key.index(index), format!("`{path}` {problem}"));
            }
        }
        report.unique(&key, list.iter().map(String::as_str), |p| {
            normalize_path(p).unwrap_or_else(|_| p.to_owned())
        });
    }
}

fn dlp(report: &mut Report, dlp: &Dlp) {
    let key = KeyPath::of(&["dlp", "rules"]);
    if dlp.rules.len() > MAX_DLP_RULES {
        report.error(
            &key,
            format!(
                "{} rules; at most {MAX_DLP_RULES} are allowed",
                dlp.rules.len()
            ),
        );
    }
    for (index, rule) in dlp.rules.iter().enumerate() {
        let at = key.index(index);
        report.check(&at.key("name"), check_name_error(&rule.name));
        let compiled = regex::RegexBuilder::new(&rule.pattern)
            .size_limit(MAX_PATTERN_BYTES)
            .build();
        if let Err(err) = compiled {
            let reason = err.to_string();
            let reason = reason.lines().last().unwrap_or("invalid").trim();
            let reason = reason.strip_prefix("error: ").unwrap_or(reason);
            report.error(&at.key("pattern"), format!("not a valid pattern: {reason}"));
        }
    }
    report.unique(
        &key,
        dlp.rules.iter().map(|r| r.name.as_str()),
        str::to_owned,
    );
}

/// A repository-relative path in the one spelling ade compares: no `./` in front, no `/` at the
/// end. Refuses what could not name a path inside the repository.
pub(crate) fn normalize_path(path: &str) -> Result<String, &'static str> {
    let trimmed = path
        .strip_prefix("./")
        .unwrap_or(path)
        .trim_end_matches('/');
    if trimmed.is_empty() {
        return Err("is empty; name a file or folder of the repository");
    }
    if path.starts_with('/') {
        return Err("is absolute; paths are relative to the repository's root");
    }
    if path.len() > 1024 {
        return Err("is longer than 1024 bytes");
    }
    if path.contains('\\') || path.chars().any(char::is_control) {
        return Err("has a backslash or a control character");
    }
    if trimmed
        .split('/')
        .any(|part| part.is_empty() || part == "." || part == "..")
    {
        return Err("has an empty, `.` or `..` part");
    }
    Ok(trimmed.to_owned())
}

/// Why `name` cannot be an agent's name, if it cannot.
pub(crate) fn agent_name_error(name: &str) -> Option<String> {
    let ok = (1..=64).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    (!ok).then(|| {
        format!("`{name}` is not an agent name: 1 to 64 letters, digits, `.`, `_` or `-`, starting with a letter or digit")
    })
}

/// Why `name` cannot name a verification step or a DLP rule, if it cannot.
fn check_name_error(name: &str) -> Option<String> {
    let ok = (1..=40).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
    (!ok).then(|| {
        format!("`{name}`: use 1 to 40 lowercase letters, digits, `-` or `_`, starting with a letter or digit")
    })
}

fn login_error(login: &str) -> Option<String> {
    (!crate::forge::valid_login(login)).then(|| format!("`{login}` is not a user or team name"))
}

fn label_error(label: &str) -> Option<String> {
    let length = label.chars().count();
    if length == 0 || length > 50 {
        return Some(format!("labels have 1 to 50 characters; this has {length}"));
    }
    if label.trim() != label || label.chars().any(char::is_control) {
        return Some("a label may not start or end with spaces or hold control characters".into());
    }
    None
}

fn command_error(command: &[String]) -> Option<String> {
    match command.first() {
        None => Some("is empty; give the program and its arguments".into()),
        Some(program) if program.trim().is_empty() => Some("the program is empty".into()),
        Some(_) if command.len() > MAX_ARGS => Some(format!(
            "has {} arguments; at most {MAX_ARGS}",
            command.len()
        )),
        Some(_)
            if command
                .iter()
                .any(|arg| arg.len() > MAX_ARG_BYTES || arg.contains('\0')) =>
        {
            Some(format!(
                "an argument is longer than {MAX_ARG_BYTES} bytes or holds a NUL"
            ))
        }
        Some(_) => None,
    }
}

/// Why `prefix` cannot start ade's branch names, if it cannot: it must be a valid start of a git
/// branch name.
pub(crate) fn branch_prefix_error(prefix: &str) -> Option<String> {
    let charset = prefix
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'/'));
    let ok = (1..=40).contains(&prefix.len())
        && charset
        && !prefix.starts_with(['/', '-', '.'])
        && !prefix.contains("..")
        && !prefix.contains("//")
        && !prefix.contains("/.")
        && !prefix.split('/').any(|part| part.ends_with(".lock"));
    (!ok).then(|| {
        format!("`{prefix}` cannot start a branch name: use 1 to 40 letters, digits, `-`, `_`, `.` or `/`, not starting with `/`, `-` or `.`, without `..` or `//`")
    })
}
