//! The server's limits: what a repository may narrow, what it may not loosen, and the server's
//! check of its own policy.

use super::*;

#[test]
fn a_repository_may_narrow_the_server_limits() {
    let repo = "[execution]\nparallelism = 8\nenvironments = [\"container\"]\n[roles]\napprove = \"admin\"\nstatus = \"write\"\n";
    let effective = effective(&ServerPolicy::default(), &read(repo)).unwrap();
    assert_eq!(effective.execution.parallelism, 8);
    assert_eq!(
        effective.execution.environment,
        Environment::Container,
        "the default environment follows the narrowed list"
    );
    assert_eq!(effective.roles.required.approve, Permission::Admin);
    assert_eq!(effective.roles.required.status, Permission::Write);
}

#[test]
fn loosening_a_limit_is_refused_naming_the_key_and_the_limit() {
    let mut server = ServerPolicy::default();
    server.limits.agents = Some(vec!["claude-code".into(), "aider".into()]);
    server.limits.environments = vec![Environment::Worktree, Environment::Container];
    server.limits.allow_bots = false;
    server.limits.allow_auto_merge = false;
    let repo = "\
[roles]
approve = \"write\"
allow_bots = true

[agents]
allowed = [\"claude-code\", \"codex\"]

[execution]
environments = [\"worktree\", \"main\"]
parallelism = 12
timeout_secs = 86400
attempts = 9
max_tasks = 500

[verification]
step_timeout_secs = 7200

[pull_requests]
branch_prefix = \"feature/\"
auto_merge = true

[paths]
unprotected = [\".ade\", \"docs\"]

[retention]
run_logs_days = 365

[rate_limits]
runs_per_hour = 1000
";
    assert_eq!(
        refused(&server, repo),
        [
            "config.toml:2:1: roles.approve: `write` is below the server's minimum `maintain` for /ade approve (limits.min_roles.approve)",
            "config.toml:3:1: roles.allow_bots: the server does not let repositories allow bots (limits.allow_bots)",
            "config.toml:6:27: agents.allowed[1]: `codex` is not among the server's agents (limits.agents: claude-code, aider)",
            "config.toml:9:29: execution.environments[1]: `main` is not allowed by the server (limits.environments: worktree, container)",
            "config.toml:10:1: execution.parallelism: 12 is above the server's limit of 8 (limits.max_parallelism)",
            "config.toml:11:1: execution.timeout_secs: 86400 is above the server's limit of 14400 (limits.max_timeout_secs)",
            "config.toml:12:1: execution.attempts: 9 is above the server's limit of 5 (limits.max_attempts)",
            "config.toml:13:1: execution.max_tasks: 500 is above the server's limit of 50 (limits.max_tasks)",
            "config.toml:16:1: verification.step_timeout_secs: 7200 is above the server's limit of 3600 (limits.max_step_timeout_secs)",
            "config.toml:19:1: pull_requests.branch_prefix: `feature/` does not start with the server's prefix `ade/` (limits.branch_prefix)",
            "config.toml:20:1: pull_requests.auto_merge: the server does not let ade merge by itself (limits.allow_auto_merge)",
            "config.toml:23:16: paths.unprotected[0]: the server does not let repositories unprotect `.ade` (limits.allow_unprotect)",
            "config.toml:23:24: paths.unprotected[1]: `docs` is not protected by the server",
            "config.toml:26:1: retention.run_logs_days: 365 is above the server's limit of 90 (limits.max_run_logs_days)",
            "config.toml:29:1: rate_limits.runs_per_hour: 1000 is above the server's limit of 200 (limits.max_runs_per_hour)",
        ]
    );
}

#[test]
fn a_step_timeout_beyond_the_cap_is_refused_at_the_step() {
    let repo = "[[verification.steps]]\nname = \"test\"\ncommand = [\"make\", \"test\"]\ntimeout_secs = 4000\n";
    assert_eq!(
        refused(&ServerPolicy::default(), repo),
        [
            "config.toml:4:1: verification.steps[0].timeout_secs: 4000 is above the server's limit of 3600 (limits.max_step_timeout_secs)"
        ]
    );
}

#[test]
fn unprotecting_works_where_the_server_allows_it() {
    let mut server = ServerPolicy::default();
    server.limits.allow_unprotect = true;
    let repo = read("[paths]\nunprotected = [\".ade/\"]\nprotected = [\"secrets\"]\n");
    let effective = effective(&server, &repo).unwrap();
    assert_eq!(
        effective.protected_paths,
        [
            ".github/workflows",
            ".gitea/workflows",
            ".forgejo/workflows",
            "secrets"
        ]
    );
    assert_eq!(effective.protecting(".ade/config.toml"), None);
    assert_eq!(effective.protecting("secrets/key.pem"), Some("secrets"));
    assert_eq!(effective.protecting("secretsauce"), None);
    assert_eq!(
        effective.protecting("./.github/workflows/ci.yml"),
        Some(".github/workflows")
    );
}

#[test]
fn server_defaults_fill_what_the_repository_leaves_out() {
    let server_text = "[execution]\nparallelism = 5\n[agents]\nallowed = [\"aider\", \"goose\"]\ndefault = \"goose\"\n";
    let server = ServerPolicy {
        defaults: read(server_text),
        limits: Limits::default(),
    };
    let quiet = effective(&server, &Policy::default()).unwrap();
    assert_eq!(quiet.execution.parallelism, 5);
    assert_eq!(quiet.agents.default.as_deref(), Some("goose"));

    let own = effective(&server, &read("[execution]\nparallelism = 1\n")).unwrap();
    assert_eq!(own.execution.parallelism, 1);

    assert_eq!(
        refused(&server, "[agents]\nallowed = [\"aider\"]\n"),
        [
            "config.toml:2:1: agents.allowed: leaves out `goose`, the server's agents.default; set agents.default to an allowed agent"
        ]
    );
}

#[test]
fn the_server_checks_its_own_policy() {
    let mut server = ServerPolicy::default();
    server.defaults.execution.parallelism = Some(0);
    server.limits.branch_prefix = "/bad".into();
    server.limits.max_attempts = 0;
    let diagnostics = server.check().unwrap_err();
    let keys: Vec<_> = diagnostics.iter().map(|d| d.key.clone().unwrap()).collect();
    assert_eq!(
        keys,
        [
            "defaults.execution.parallelism",
            "limits.branch_prefix",
            "limits.max_attempts"
        ]
    );

    let server = ServerPolicy {
        defaults: read("[execution]\nparallelism = 20\n"),
        limits: Limits::default(),
    };
    let diagnostics = server.check().unwrap_err();
    assert_eq!(
        diagnostics[0].to_string(),
        "config.toml:2:1: defaults.execution.parallelism: 20 is above the server's limit of 8 (limits.max_parallelism)"
    );
}

#[test]
fn a_users_role_is_their_named_entry_else_the_best_of_forge_and_teams() {
    let policy = read(
        "[roles.users]\nAlice = \"maintain\"\nmallory = \"none\"\n[roles.teams]\n\"acme/Core\" = \"maintain\"\n\"acme/docs\" = \"read\"\n",
    );
    let roles = effective(&ServerPolicy::default(), &policy).unwrap().roles;
    let teams = |names: &[&str]| names.iter().map(|n| n.to_string()).collect::<Vec<_>>();
    assert_eq!(
        roles.role_of("alice", Permission::Read, &[]),
        Permission::Maintain
    );
    assert_eq!(
        roles.role_of("mallory", Permission::Admin, &teams(&["acme/core"])),
        Permission::None,
        "a named entry may lower a user's role"
    );
    assert_eq!(
        roles.role_of("bob", Permission::Write, &teams(&["ACME/core"])),
        Permission::Maintain
    );
    assert_eq!(
        roles.role_of("carol", Permission::Write, &teams(&["acme/docs"])),
        Permission::Write,
        "a team grant never lowers a role"
    );
    assert!(roles.permits("approve", Permission::Maintain));
    assert!(!roles.permits("approve", Permission::Write));
    assert!(roles.permits("help", Permission::Read));
    assert!(!roles.permits("help", Permission::None));
    assert!(!roles.permits("frobnicate", Permission::Admin));
}

#[test]
fn the_server_policy_reads_from_toml_and_may_lower_a_floor() {
    let text = "\
[defaults.execution]
parallelism = 3

[limits]
max_parallelism = 4

[limits.min_roles]
approve = \"write\"
";
    let server: ServerPolicy = toml::from_str(text).unwrap();
    assert_eq!(server.limits.min_roles.approve, Permission::Write);
    assert_eq!(server.limits.min_roles.status, Permission::Read);
    assert_eq!(server.check(), Ok(()));

    let quiet = effective(&server, &Policy::default()).unwrap();
    assert_eq!(quiet.execution.parallelism, 3);
    assert_eq!(
        quiet.roles.required.approve,
        Permission::Maintain,
        "the default stays the documented one (docs/commands.md); only the floor moved"
    );
    let lowered = effective(&server, &read("[roles]\napprove = \"write\"\n")).unwrap();
    assert_eq!(lowered.roles.required.approve, Permission::Write);

    let typo = toml::from_str::<ServerPolicy>("[limits]\nmax_paralelism = 4\n").unwrap_err();
    assert!(typo.message().contains("unknown field `max_paralelism`"));
}

#[test]
fn external_checks_wait_as_long_as_the_server_allows() {
    let repo = "[verification]\nexternal_checks = [\"ci/test\", \"Build / lint (ubuntu)\"]\n";
    let policy = effective(&ServerPolicy::default(), &read(repo)).unwrap();
    assert_eq!(
        policy.external_checks.names,
        ["ci/test", "Build / lint (ubuntu)"]
    );
    assert_eq!(policy.external_checks.timeout, Duration::from_secs(1800));
    let none = effective(&ServerPolicy::default(), &Policy::default()).unwrap();
    assert!(!none.external_checks.any());
    let longer = "[verification]\nexternal_checks = [\"ci/test\"]\nexternal_timeout_secs = 20000\n";
    assert_eq!(
        refused(&ServerPolicy::default(), longer),
        [
            "config.toml:3:1: verification.external_timeout_secs: 20000 is above the server's limit of 14400 (limits.max_external_timeout_secs)"
        ]
    );
    let mut server = ServerPolicy::default();
    server.limits.max_external_timeout_secs = 600;
    let capped = effective(
        &server,
        &read("[verification]\nexternal_checks = [\"ci\"]\n"),
    )
    .unwrap();
    assert_eq!(capped.external_checks.timeout, Duration::from_secs(600));
}
