//! Policy files end to end: reading, every kind of error with its position, defaults, the
//! server's limits, and the published schema.

mod check;
mod limits;
mod reference;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::*;
use crate::forge::Permission;
use crate::spec::Planner;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/policy")
        .join(name)
}

/// Every diagnostic of `text`, as `ade policy check` prints them.
fn errors(text: &str) -> Vec<String> {
    match check_str(text, "config.toml") {
        Ok(_) => Vec::new(),
        Err(diagnostics) => diagnostics.iter().map(ToString::to_string).collect(),
    }
}

fn read(text: &str) -> Policy {
    check_str(text, "config.toml").unwrap_or_else(|d| panic!("{d:?}"))
}

/// The diagnostics of `repo` on a server with `server`'s policy.
fn refused(server: &ServerPolicy, repo: &str) -> Vec<String> {
    let diagnostics = effective(server, &read(repo)).expect_err("should be refused");
    diagnostics.iter().map(ToString::to_string).collect()
}

#[test]
fn the_full_example_reads_and_takes_effect() {
    let policy = check_file(&fixture("full.toml")).unwrap_or_else(|d| panic!("{d:#?}"));
    assert_eq!(policy.roles.approve, Some(Permission::Admin));
    assert_eq!(policy.roles.users["renovate[bot]"], Permission::Write);
    assert_eq!(policy.verification.steps.as_ref().unwrap().len(), 2);

    let effective = effective(&ServerPolicy::default(), &policy).unwrap();
    assert_eq!(effective.roles.required.run, Permission::Maintain);
    assert!(effective.roles.allow_bots);
    assert_eq!(
        effective.agents.allowed,
        AgentSet::Only(BTreeSet::from(["aider".into(), "claude-code".into()]))
    );
    assert_eq!(effective.agents.default.as_deref(), Some("claude-code"));
    assert_eq!(effective.execution.environment, Environment::Container);
    assert_eq!(effective.execution.parallelism, 4);
    assert_eq!(effective.execution.timeout, Duration::from_secs(5400));
    assert_eq!(effective.execution.attempts, 2);
    assert_eq!(effective.execution.max_tasks, 12);
    let steps: Vec<_> = effective
        .verification
        .iter()
        .map(|s| (s.name.as_str(), s.kind, s.timeout.as_secs()))
        .collect();
    assert_eq!(
        steps,
        [
            ("fmt", StepKind::Static, 120),
            ("test", StepKind::Dynamic, 900)
        ]
    );
    assert_eq!(effective.auto_reject.action, RejectAction::Draft);
    assert_eq!(effective.pull_requests.branch_prefix, "ade/agents/");
    assert!(effective.pull_requests.auto_merge);
    assert_eq!(
        effective.protected_paths,
        [
            ".github/workflows",
            ".gitea/workflows",
            ".forgejo/workflows",
            ".ade",
            "deploy",
            "LICENSE"
        ]
    );
    assert_eq!(effective.retention.worktrees_days, 0);
    assert_eq!(effective.dlp_rules[0].name, "internal-hosts");
    assert_eq!(effective.rate_limits.commands_per_user_per_hour, 20);
}

#[test]
fn an_empty_file_means_the_defaults() {
    for text in ["", "# nothing set\n\n"] {
        let policy = read(text);
        let effective = effective(&ServerPolicy::default(), &policy).unwrap();
        assert_eq!(effective, EffectivePolicy::default());
    }
}

#[test]
fn the_defaults_are_designs_table_and_the_documented_values() {
    let policy = EffectivePolicy::default();
    let roles: Vec<_> = policy.roles.required.entries().to_vec();
    use Permission::*;
    assert_eq!(
        roles,
        [
            ("plan", Write),
            ("approve", Maintain),
            ("run", Write),
            ("allow_unscanned", Maintain),
            ("retry", Write),
            ("verify", Write),
            ("cancel", Write),
            ("status", Read),
            ("help", Read),
        ]
    );
    assert!(!policy.roles.allow_bots);
    assert_eq!(policy.agents.allowed, AgentSet::Any);
    assert_eq!(policy.agents.default, Option::None);
    assert_eq!(policy.agents.planner, Planner::Manual);
    assert_eq!(policy.execution.environment, Environment::Worktree);
    assert_eq!(policy.execution.environments.len(), 3);
    assert_eq!(policy.execution.parallelism, 2);
    assert_eq!(policy.execution.timeout, Duration::from_secs(3600));
    assert_eq!(policy.execution.attempts, 3);
    assert_eq!(policy.execution.max_tasks, 20);
    assert!(policy.verification.is_empty());
    assert_eq!(policy.auto_reject.action, RejectAction::Close);
    assert_eq!(policy.auto_reject.label, "ade:rejected");
    assert_eq!(policy.pull_requests.branch_prefix, "ade/");
    assert_eq!(policy.pull_requests.labels, ["ade"]);
    assert!(!policy.pull_requests.auto_merge);
    assert_eq!(
        policy.protected_paths,
        [
            ".github/workflows",
            ".gitea/workflows",
            ".forgejo/workflows",
            ".ade"
        ]
    );
    assert_eq!(policy.retention.run_logs_days, 30);
    assert_eq!(policy.retention.worktrees_days, 7);
    assert!(policy.dlp_rules.is_empty());
    assert_eq!(policy.rate_limits.plans_per_hour, 20);
    assert_eq!(policy.rate_limits.runs_per_hour, 50);
    assert_eq!(policy.rate_limits.commands_per_user_per_hour, 30);
    assert_eq!(ServerPolicy::default().check(), Ok(()));
}

#[test]
fn the_published_schema_is_current() {
    schema::check_published("docs/schema/policy.schema.json", &json_schema());
}

#[test]
fn the_schema_describes_every_key_and_refuses_unknown_ones() {
    let schema: serde_json::Value = serde_json::from_str(&json_schema()).unwrap();
    assert_eq!(schema["additionalProperties"], false);
    let execution = &schema["$defs"]["Execution"];
    assert_eq!(execution["additionalProperties"], false);
    assert_eq!(execution["properties"]["parallelism"]["minimum"], 1);
    assert_eq!(execution["properties"]["parallelism"]["type"], "integer");
    let text = json_schema();
    assert!(!text.contains("null"), "TOML has no null");
    let permission = &schema["$defs"]["Permission"]["oneOf"];
    assert_eq!(permission.as_array().unwrap().len(), 6);
}

#[test]
fn the_example_in_the_docs_is_a_valid_policy() {
    let docs =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/policy.md"))
            .unwrap();
    let start = docs
        .find("```toml\n# .ade/config.toml\n")
        .expect("the example")
        + "```toml\n".len();
    let example = &docs[start..start + docs[start..].find("```").unwrap()];
    let policy = read(example);
    effective(&ServerPolicy::default(), &policy).unwrap();
}
