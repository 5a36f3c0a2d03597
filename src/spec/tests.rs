//! Specs: the hash, the JSON form, and validation on their own and under a policy.

use std::collections::BTreeSet;

use super::validate::{self, MAX_TASKS};
use super::*;
use crate::policy::{AgentSet, EffectivePolicy};

fn id(text: &str) -> TaskId {
    TaskId::parse(text).unwrap()
}

fn task(name: &str, depends_on: &[&str]) -> Task {
    Task {
        id: id(name),
        title: format!("Do {name}"),
        instructions: String::new(),
        acceptance: Vec::new(),
        depends_on: depends_on.iter().map(|d| id(d)).collect(),
        paths: Vec::new(),
        agent: None,
        environment: None,
    }
}

fn spec(tasks: Vec<Task>) -> Spec {
    Spec {
        goal: GoalRef {
            forge: ForgeKind::Github,
            repo: "acme/app".into(),
            issue: 12,
        },
        version: 2,
        author: "alice".into(),
        planner: Planner::Manual,
        base_commit: None,
        tasks,
        lifecycle: Lifecycle::new(1_700_000_000_000),
    }
}

/// A spec with something in every field, as a fixed point for the hash.
fn full_spec() -> Spec {
    let mut login = task("t1", &[]);
    login.instructions = "Use the `Form` component.\nNo new dependencies.".into();
    login.acceptance = vec!["the form posts to /login".into(), "ünïcödé ✓".into()];
    login.paths = vec!["src/login".into()];
    login.agent = Some("claude-code".into());
    login.environment = Some(crate::policy::Environment::Container);
    let mut spec = spec(vec![login, task("t2", &["t1"])]);
    spec.base_commit = Some("0123456789abcdef0123456789abcdef01234567".into());
    spec
}

fn policy_with(change: impl FnOnce(&mut EffectivePolicy)) -> EffectivePolicy {
    let mut policy = EffectivePolicy::default();
    policy.agents.default = Some("claude-code".into());
    change(&mut policy);
    policy
}

#[test]
fn the_content_hash_is_fixed_for_fixed_content() {
    assert_eq!(
        full_spec().content_hash().to_string(),
        "dc0e736edef53a797e1bbd613150cdb0d321a298fbd181e9fb3229a726751d9d"
    );
}

#[test]
fn the_hash_ignores_the_lifecycle_and_survives_a_round_trip() {
    let spec = full_spec();
    let mut later = spec.clone();
    later.lifecycle.advance(SpecState::Validated, 5).unwrap();
    assert_eq!(later.content_hash(), spec.content_hash());

    let json = serde_json::to_string(&later).unwrap();
    let back: Spec = serde_json::from_str(&json).unwrap();
    assert_eq!(back, later);
    assert_eq!(back.content_hash(), spec.content_hash());

    let mut changed = spec.clone();
    changed.tasks[1].title.push('!');
    assert_ne!(changed.content_hash(), spec.content_hash());
}

#[test]
fn the_json_form_is_strict_and_leaves_empty_fields_out() {
    let json = serde_json::to_value(spec(vec![task("t1", &[])])).unwrap();
    assert_eq!(
        json["tasks"][0],
        serde_json::json!({"id": "t1", "title": "Do t1"})
    );
    assert_eq!(json["planner"], serde_json::json!({"kind": "manual"}));
    assert_eq!(json["lifecycle"]["state"], "draft");

    let mut extra = json.clone();
    extra["tasks"][0]["shell"] = "rm -rf /".into();
    let err = serde_json::from_value::<Spec>(extra).unwrap_err();
    assert!(err.to_string().contains("unknown field `shell`"), "{err}");

    let mut bad_id = json;
    bad_id["tasks"][0]["id"] = "../../main".into();
    assert!(serde_json::from_value::<Spec>(bad_id).is_err());
}

#[test]
fn a_spec_is_referred_to_as_goal_at_version() {
    assert_eq!(spec(vec![]).reference(), "acme/app#12@v2");
}

#[test]
fn structural_problems_are_all_reported() {
    let mut bad_title = task("t4", &[]);
    bad_title.title = "two\nlines".into();
    let mut bad_path = task("t5", &[]);
    bad_path.paths = vec!["../etc".into()];
    bad_path.agent = Some("bad agent".into());
    let tasks = vec![
        task("t1", &["t9"]),
        task("t2", &["t2"]),
        task("t1", &[]),
        bad_title,
        bad_path,
    ];
    let messages: Vec<String> = validate::tasks(&tasks)
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        messages,
        [
            "two tasks have the id `t1`",
            "task t1 depends on t9, which is not a task of this plan",
            "task t2 depends on itself",
            "task t4: the title must be one line without control characters",
            "task t5: path `../etc` has an empty, `.` or `..` part",
            "task t5: `bad agent` is not an agent name: 1 to 64 letters, digits, `.`, `_` or `-`, starting with a letter or digit",
        ]
    );
}

#[test]
fn cycles_are_reported_once_each_with_their_path() {
    let tasks = vec![
        task("a", &["b"]),
        task("b", &["c"]),
        task("c", &["a"]),
        task("d", &["e"]),
        task("e", &["d", "a"]),
        task("f", &["a"]),
    ];
    let errors = validate::tasks(&tasks);
    let messages: Vec<String> = errors.iter().map(ToString::to_string).collect();
    assert_eq!(
        messages,
        [
            "tasks wait for each other in a cycle: a → b → c → a",
            "tasks wait for each other in a cycle: d → e → d",
        ]
    );
}

#[test]
fn empty_and_oversized_plans_are_refused() {
    assert_eq!(validate::tasks(&[]), [SpecError::NoTasks]);
    let many: Vec<Task> = (1..=MAX_TASKS + 1)
        .map(|n| task(&format!("t{n}"), &[]))
        .collect();
    assert_eq!(
        validate::tasks(&many),
        [SpecError::TooManyTasks {
            count: MAX_TASKS + 1,
            limit: MAX_TASKS
        }]
    );
    let mut long = task("t1", &[]);
    long.title = "x".repeat(validate::MAX_TITLE_CHARS + 1);
    long.instructions = "y".repeat(validate::MAX_INSTRUCTIONS_CHARS + 1);
    assert_eq!(validate::tasks(&[long]).len(), 2);
}

#[test]
fn the_policy_decides_agents_environments_paths_and_size() {
    let mut container = task("t2", &[]);
    container.environment = Some(crate::policy::Environment::Main);
    container.agent = Some("codex".into());
    let mut workflow = task("t3", &[]);
    workflow.paths = vec!["./.github/workflows/ci.yml".into(), "src".into()];
    let mut spec = spec(vec![task("t1", &[]), container, workflow]);
    spec.planner = Planner::Agent {
        name: "planner-x".into(),
    };
    let policy = policy_with(|p| {
        p.agents.allowed = AgentSet::Only(BTreeSet::from(["claude-code".to_owned()]));
        p.execution
            .environments
            .remove(&crate::policy::Environment::Main);
        p.execution.max_tasks = 2;
    });
    let messages: Vec<String> = validate::against_policy(&spec, &policy)
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        messages,
        [
            "the plan has 3 tasks; at most 2 are allowed",
            "the planner agent `planner-x` is not allowed here",
            "task t2: the agent `codex` is not allowed here",
            "task t2: the environment `main` is not allowed here (allowed: worktree, container)",
            "task t3: `.github/workflows/ci.yml` is protected by the policy (`.github/workflows`); agents may not change it",
        ]
    );
}

#[test]
fn a_task_without_an_agent_is_valid_even_without_a_default_agent() {
    let spec = spec(vec![task("t1", &[])]);
    assert_eq!(
        validate::validate(&spec, &EffectivePolicy::default()),
        Ok(())
    );
    let narrowed = policy_with(|p| {
        p.agents.allowed = AgentSet::Only(BTreeSet::from(["aider".to_owned()]));
    });
    let errors = validate::validate(&spec, &narrowed).unwrap_err();
    assert_eq!(
        errors[0].to_string(),
        "task t1: the agent `claude-code` is not allowed here",
        "the default agent counts as the task's"
    );
}

#[test]
fn the_published_schema_is_current() {
    crate::policy::schema::check_published("docs/schema/spec.schema.json", &json_schema());
}
