//! `ade doctor` as an operator runs it: the binary against the forge simulator, set up well or
//! badly, in every dialect.

use crate::conformance::record::Dialect;
use crate::support::conformance::Conformance;
use ade::forge::{BranchProtection, ForgeKind, Permission};
use ade::sim::{Fault, FaultRule, NewHook, NewRepo, SimOptions, Simulator};
use serde_json::Value;
use std::path::PathBuf;

const REPO: &str = "acme/widgets";
const PUBLIC_URL: &str = "https://ade.example.com";
const SECRET: &str = "doctor-webhook-secret";

/// A simulator with the repository, a folder, and what ade.toml says about the forge.
struct Setup {
    sim: Simulator,
    /// Checks every answer of the simulator against the forge's description when dropped.
    _conformance: Conformance,
    dir: PathBuf,
    forge_toml: String,
    installation: Option<i64>,
}

impl Setup {
    /// Protects `main` with these rules, as a maintainer changing the settings would.
    fn protect(&self, approvals: u32, checks: &[&str], admins: bool, dismiss_stale: bool) {
        protect(&self.sim, approvals, checks, admins, dismiss_stale);
    }

    /// The simulator answers `status` to the next `times` calls of `method` on `path` (a glob).
    fn fail(&self, method: &str, path: &str, status: u16, times: u32) {
        self.sim
            .inject(FaultRule::new(method, path, Fault::Status(status)).times(times));
    }

    /// The repository set up as docs/doctor.md asks: protected, hooked, installed.
    async fn well(kind: ForgeKind, forgejo: bool, files: &[(&str, &str)]) -> Setup {
        let hook = NewHook::gitea(&format!("{PUBLIC_URL}/webhooks/gitea"));
        Setup::with_hook(kind, forgejo, files, hook).await
    }

    /// [`Setup::well`] with another Gitea webhook than the right one.
    async fn with_hook(
        kind: ForgeKind,
        forgejo: bool,
        files: &[(&str, &str)],
        hook: NewHook,
    ) -> Setup {
        let dir = std::env::temp_dir().join(format!(
            "ade-doctor-{}-{:x}",
            std::process::id(),
            fastrand::u64(..)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let mut options = SimOptions::new(kind, dir.join("sim"));
        options.forgejo = forgejo;
        options.webhook_secret = SECRET.into();
        options.recorded_response_limit = 16 * 1024 * 1024;
        let sim = Simulator::start(options)
            .await
            .expect("the simulator starts");
        let mut repo = NewRepo::new("acme", "widgets");
        for (path, content) in files {
            repo = repo.file(path, *content);
        }
        sim.create_repo(repo).await.unwrap();
        protect(&sim, 1, &["ade/verify"], true, true);
        let (forge_toml, installation) = match kind {
            ForgeKind::Github => {
                let installation = sim.install_app("acme", &[REPO]);
                sim.set_webhook_url(Some(format!("{PUBLIC_URL}/webhooks/github")));
                let key = dir.join("app.pem");
                std::fs::write(&key, sim.app_private_key_pem()).unwrap();
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
                (
                    format!(
                        "[github]\napi_url = \"{}\"\napp_id = {}\nprivate_key_file = \"{}\"\nwebhook_secret = \"{SECRET}\"\n",
                        sim.url(),
                        sim.app_id(),
                        key.display()
                    ),
                    Some(installation),
                )
            }
            ForgeKind::Gitea => {
                let bot = sim.add_bot("ade-bot");
                sim.set_permission(REPO, "ade-bot", Permission::Admin)
                    .unwrap();
                sim.add_hook(REPO, hook).unwrap();
                (
                    format!(
                        "[gitea]\nurl = \"{}\"\ntoken = \"{}\"\nwebhook_secret = \"{SECRET}\"\n",
                        sim.url(),
                        bot.token
                    ),
                    None,
                )
            }
        };
        Setup {
            _conformance: Conformance::new(&sim, Dialect::of(kind, forgejo)),
            sim,
            dir,
            forge_toml,
            installation,
        }
    }

    /// Runs `ade doctor --format FORMAT` with `agents` registered; exit code and output.
    async fn doctor(&self, format: &str, agents: &str) -> (i32, String) {
        self.doctor_on(REPO, format, agents).await
    }

    /// [`Setup::doctor`] with `--repo REPO`.
    async fn doctor_on(&self, repo: &str, format: &str, agents: &str) -> (i32, String) {
        let agent_user = if ade::runner::agent::check::effective_uid() == Some(0) {
            "[runner]\nagent_user = \"nobody\"\n"
        } else {
            ""
        };
        let config = self.dir.join("ade.toml");
        std::fs::write(
            &config,
            format!(
                "[server]\npublic_url = \"{PUBLIC_URL}\"\n[storage]\ndata_dir = {:?}\n{}{agent_user}{agents}",
                self.dir.join("data").display().to_string(),
                self.forge_toml
            ),
        )
        .unwrap();
        let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_ade"))
            .args([
                "doctor",
                "--config",
                config.to_str().unwrap(),
                "--repo",
                repo,
            ])
            .args(["--format", format])
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .output()
            .await
            .expect("ade doctor runs");
        let stdout = String::from_utf8(output.stdout).unwrap();
        assert!(
            output.status.code().is_some(),
            "ade doctor was killed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        (output.status.code().unwrap(), stdout)
    }

    async fn json(&self, agents: &str) -> (i32, Vec<Value>) {
        let (code, stdout) = self.doctor("json", agents).await;
        let report: Value =
            serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {stdout}"));
        (code, report["findings"].as_array().unwrap().clone())
    }
}

impl Drop for Setup {
    fn drop(&mut self) {
        std::fs::remove_dir_all(&self.dir).ok();
    }
}

const SCRIPT_AGENT: &str = "[agents.script]\ncommand = [\"/bin/sh\", \"-c\", \"true\"]\ntrust = \"trusted\"\nenvironment = \"worktree\"\n";

fn status_of<'f>(findings: &'f [Value], check: &str) -> Vec<&'f str> {
    findings
        .iter()
        .filter(|f| f["check"] == check)
        .map(|f| f["status"].as_str().unwrap())
        .collect()
}

fn finding<'f>(findings: &'f [Value], check: &str) -> &'f Value {
    findings
        .iter()
        .find(|f| f["check"] == check)
        .unwrap_or_else(|| panic!("no {check} finding in {findings:#?}"))
}

fn assert_all_ok(code: i32, findings: &[Value]) {
    let not_ok: Vec<&Value> = findings.iter().filter(|f| f["status"] != "ok").collect();
    assert!(not_ok.is_empty(), "{not_ok:#?}");
    assert_eq!(code, 0);
}

const EXPECTED_CHECKS: &[&str] = &[
    "credentials",
    "permissions",
    "webhook.url",
    "webhook.secret",
    "webhook.events",
    "protection",
    "protection.approvals",
    "protection.stale_approvals",
    "protection.required_check",
    "protection.admins",
    "workflows",
    "policy",
    "agent.script",
    "files",
];

#[tokio::test]
async fn a_well_set_github_repository_is_all_ok() {
    let setup = Setup::well(
        ForgeKind::Github,
        false,
        &[
            (".ade/config.toml", "[execution]\nparallelism = 2\n"),
            (
                ".github/workflows/release.yml",
                "on:\n  push:\n    tags: ['v*']\njobs: {}\n",
            ),
        ],
    )
    .await;
    let (code, findings) = setup.json(SCRIPT_AGENT).await;
    assert_all_ok(code, &findings);
    for check in EXPECTED_CHECKS {
        assert_eq!(status_of(&findings, check), vec!["ok"], "{check}");
    }
    assert!(
        finding(&findings, "webhook.url")["message"]
            .as_str()
            .unwrap()
            .contains("does not show whether the app's webhook is active"),
        "what the API cannot show is said"
    );
    for call in setup.sim.calls() {
        let known = ade::forge::github::permissions::endpoint(&call.method, &call.path);
        assert!(
            known.is_some(),
            "{} {} is not in permissions.rs",
            call.method,
            call.path
        );
    }
    let (code, text) = setup.doctor("text", SCRIPT_AGENT).await;
    assert_eq!(code, 0);
    assert!(
        text.starts_with("ade doctor: acme/widgets on github\n"),
        "{text}"
    );
    assert!(text.contains("0 problem(s), 0 warning(s)"), "{text}");
}

#[tokio::test]
async fn a_well_set_gitea_repository_is_all_ok() {
    let setup = Setup::well(ForgeKind::Gitea, false, &[]).await;
    let (code, findings) = setup.json(SCRIPT_AGENT).await;
    assert_all_ok(code, &findings);
    for check in EXPECTED_CHECKS.iter().chain(&["webhook.active"]) {
        assert_eq!(status_of(&findings, check), vec!["ok"], "{check}");
    }
    assert!(
        finding(&findings, "webhook.secret")["message"]
            .as_str()
            .unwrap()
            .contains("does not show"),
    );
}

#[tokio::test]
async fn a_well_set_forgejo_repository_is_all_ok() {
    let setup = Setup::well(ForgeKind::Gitea, true, &[]).await;
    let (code, findings) = setup.json(SCRIPT_AGENT).await;
    assert_all_ok(code, &findings);
    assert_eq!(
        status_of(&findings, "protection.admins"),
        vec!["ok"],
        "apply_to_admins is read"
    );
}

#[tokio::test]
async fn a_badly_set_github_repository_gets_problems_with_fixes() {
    let setup = Setup::well(
        ForgeKind::Github,
        false,
        &[
            (".ade/config.toml", "[execution]\nparalelism = 2\n"),
            (
                ".github/workflows/ci.yml",
                "name: ci\non: [push, pull_request]\njobs: {}\n",
            ),
        ],
    )
    .await;
    setup.protect(0, &["ci"], false, false);
    setup
        .sim
        .set_webhook_url(Some("https://old.example.com/hooks".into()));
    setup
        .sim
        .set_installation_access(
            setup.installation.unwrap(),
            &[
                ("checks", "write"),
                ("contents", "read"),
                ("issues", "write"),
                ("metadata", "read"),
                ("pull_requests", "write"),
            ],
            &["issue_comment", "issues", "pull_request"],
        )
        .unwrap();
    // The app's key as a plain `echo > file` leaves it, and a data dir others may list.
    use std::os::unix::fs::PermissionsExt;
    let key = setup.dir.join("app.pem");
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    std::fs::create_dir_all(setup.dir.join("data")).unwrap();
    std::fs::set_permissions(
        setup.dir.join("data"),
        std::fs::Permissions::from_mode(0o755),
    )
    .unwrap();
    let missing_agent = "[agents.ghost]\ncommand = [\"/nonexistent/ghost-agent\"]\ntrust = \"trusted\"\nenvironment = \"worktree\"\n";
    let (code, stdout) = setup.doctor("json", missing_agent).await;
    assert_eq!(code, 1, "{stdout}");
    let report: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(report["repository"], REPO);
    assert_eq!(report["forge"], "github");
    let findings = report["findings"].as_array().unwrap();
    for f in findings {
        let keys: Vec<&String> = f.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["check", "fix", "message", "status"], "{f}");
        if f["status"] != "ok" {
            assert!(f["fix"].as_str().is_some_and(|s| !s.is_empty()), "{f}");
        }
    }
    assert!(
        report["summary"]["problem"].as_u64().unwrap() >= 8,
        "{stdout}"
    );
    for (check, status) in [
        ("credentials", "ok"),
        ("permissions", "problem"),
        ("webhook.url", "problem"),
        ("webhook.secret", "ok"),
        ("webhook.events", "problem"),
        ("protection", "ok"),
        ("protection.approvals", "problem"),
        ("protection.stale_approvals", "problem"),
        ("protection.required_check", "problem"),
        ("protection.admins", "warning"),
        ("workflows", "warning"),
        ("policy", "problem"),
        ("agent.ghost", "problem"),
    ] {
        assert_eq!(
            status_of(findings, check),
            vec![status],
            "{check}: {stdout}"
        );
    }
    assert_eq!(
        status_of(findings, "files"),
        ["warning", "warning"],
        "{stdout}"
    );
    let files: Vec<&Value> = findings.iter().filter(|f| f["check"] == "files").collect();
    assert!(
        files[0]["message"]
            .as_str()
            .unwrap()
            .contains("the data dir (storage.data_dir)")
            && files[0]["message"].as_str().unwrap().contains("mode 0755"),
        "{}",
        files[0]
    );
    assert_eq!(
        files[1]["message"].as_str().unwrap(),
        format!(
            "the file of github.private_key_file {} has mode 0644: users other than ade's may read or change it",
            key.display()
        )
    );
    assert_eq!(
        files[1]["fix"].as_str().unwrap(),
        format!("chmod 600 {}", key.display())
    );
    let permissions = finding(findings, "permissions")["message"]
        .as_str()
        .unwrap();
    assert!(
        permissions.contains("contents: write (has \"read\")"),
        "{permissions}"
    );
    assert!(
        !permissions.contains("members"),
        "the simulator's installations are on user accounts (target_type User), which cannot be granted organization permissions: {permissions}"
    );
    let url = finding(findings, "webhook.url");
    assert!(
        url["message"]
            .as_str()
            .unwrap()
            .contains("\"https://old.example.com/hooks\""),
        "the forge's URL is quoted: {url}"
    );
    assert!(
        url["fix"]
            .as_str()
            .unwrap()
            .contains("https://ade.example.com/webhooks/github")
    );
    let events = finding(findings, "webhook.events")["message"]
        .as_str()
        .unwrap();
    assert!(
        events.contains("check_run") && events.contains("push"),
        "{events}"
    );
    assert!(
        finding(findings, "workflows")["message"]
            .as_str()
            .unwrap()
            .contains("ci.yml")
    );
    assert!(
        finding(findings, "policy")["message"]
            .as_str()
            .unwrap()
            .contains("paralelism")
    );
    assert!(
        finding(findings, "agent.ghost")["message"]
            .as_str()
            .unwrap()
            .contains("/nonexistent/ghost-agent")
    );

    let (code, text) = setup.doctor("text", missing_agent).await;
    assert_eq!(code, 1);
    assert!(
        text.contains("problem  protection.approvals: a merge needs no approving review"),
        "{text}"
    );
    assert!(
        text.contains("   fix: tick \"Require a pull request before merging\""),
        "{text}"
    );
    assert_eq!(
        text.lines()
            .filter(|l| l.starts_with("problem  webhook.url"))
            .count(),
        1,
        "a newline in forge text does not start a line of its own: {text}"
    );
}

#[tokio::test]
async fn an_unprotected_gitea_branch_is_one_problem() {
    let setup = Setup::well(ForgeKind::Gitea, false, &[]).await;
    setup.sim.unprotect_branch(REPO, "main").unwrap();
    setup
        .sim
        .add_hook(
            REPO,
            NewHook::gitea("https://chat.example/notify").events(&["push"]),
        )
        .unwrap();
    let (code, findings) = setup.json("").await;
    assert_eq!(code, 1);
    assert_eq!(status_of(&findings, "protection"), vec!["problem"]);
    assert!(
        finding(&findings, "protection")["message"]
            .as_str()
            .unwrap()
            .contains("\"main\" is not protected")
    );
    assert!(status_of(&findings, "protection.approvals").is_empty());
    assert_eq!(
        status_of(&findings, "webhook.url"),
        vec!["ok"],
        "ade's hook is found among others"
    );
    assert_eq!(status_of(&findings, "agents"), vec!["warning"]);
}

#[tokio::test]
async fn a_gitea_rule_that_lets_admins_merge_and_keeps_stale_approvals_is_a_problem() {
    let setup = Setup::well(ForgeKind::Gitea, true, &[]).await;
    setup.protect(1, &["ade/verify"], false, false);
    let (code, findings) = setup.json(SCRIPT_AGENT).await;
    assert_eq!(code, 1);
    assert_eq!(status_of(&findings, "protection.admins"), vec!["problem"]);
    assert!(
        finding(&findings, "protection.admins")["fix"]
            .as_str()
            .unwrap()
            .contains("apply_to_admins")
    );
    assert_eq!(
        status_of(&findings, "protection.stale_approvals"),
        vec!["problem"]
    );
    assert_eq!(status_of(&findings, "protection.approvals"), vec!["ok"]);
}

#[tokio::test]
async fn an_inactive_gitea_hook_missing_events_is_named() {
    let hook = NewHook::gitea(&format!("{PUBLIC_URL}/webhooks/gitea"))
        .events(&["issues", "issue_comment", "push"])
        .active(false);
    let setup = Setup::with_hook(
        ForgeKind::Gitea,
        false,
        &[(
            ".gitea/workflows/test.yaml",
            "on:\n  pull_request:\n    types: [opened]\n",
        )],
        hook,
    )
    .await;
    let (code, findings) = setup.json(SCRIPT_AGENT).await;
    assert_eq!(code, 1);
    assert_eq!(status_of(&findings, "webhook.url"), vec!["ok"]);
    assert_eq!(status_of(&findings, "webhook.active"), vec!["problem"]);
    let events = finding(&findings, "webhook.events")["message"]
        .as_str()
        .unwrap();
    assert!(
        events.contains("pull_request_sync") && events.contains("pull_request_review_approved"),
        "{events}"
    );
    assert!(!events.contains("push"), "{events}");
    let workflows = finding(&findings, "workflows");
    assert_eq!(workflows["status"], "warning");
    assert!(
        workflows["message"]
            .as_str()
            .unwrap()
            .contains(".gitea/workflows/test.yaml")
    );
}

#[tokio::test]
async fn a_forge_answering_500_is_a_problem_naming_the_call() {
    let setup = Setup::well(ForgeKind::Github, false, &[]).await;
    setup.fail("GET", "/repos/*/*/branches/*/protection", 500, 10);
    let (code, findings) = setup.json(SCRIPT_AGENT).await;
    assert_eq!(code, 1);
    let protection = finding(&findings, "protection");
    assert_eq!(protection["status"], "problem");
    let message = protection["message"].as_str().unwrap();
    assert!(
        message.contains("read the protection of main in acme/widgets") && message.contains("500"),
        "{message}"
    );
    assert_eq!(
        status_of(&findings, "policy"),
        vec!["ok"],
        "the other checks still ran"
    );

    setup.sim.clear_faults();
    setup.fail("GET", "/app", 502, 10);
    let (code, findings) = setup.json(SCRIPT_AGENT).await;
    assert_eq!(code, 1);
    assert_eq!(status_of(&findings, "credentials"), vec!["problem"]);
    assert_eq!(
        status_of(&findings, "forge"),
        vec!["warning"],
        "the rest is said to be unchecked"
    );
    assert_eq!(
        status_of(&findings, "agent.script"),
        vec!["ok"],
        "local checks still run"
    );
}

#[tokio::test]
async fn rulesets_the_plan_refuses_leave_the_classic_rule_to_judge() {
    let setup = Setup::well(ForgeKind::Github, false, &[]).await;
    setup.sim.inject(
        FaultRule::new(
            "GET",
            "/repos/*/*/rules/branches/*",
            Fault::Refuse {
                status: 403,
                message: "Upgrade to GitHub Pro or make this repository public to enable this \
                          feature."
                    .into(),
            },
        )
        .times(10),
    );
    let (code, findings) = setup.json(SCRIPT_AGENT).await;
    assert_eq!(code, 0, "{findings:#?}");
    assert_eq!(status_of(&findings, "protection"), vec!["ok"]);
}

#[tokio::test]
async fn protection_hidden_from_the_app_is_a_warning_with_what_the_branch_shows() {
    let setup = Setup::well(ForgeKind::Github, false, &[]).await;
    setup.fail("GET", "/repos/*/*/branches/*/protection", 403, 1);
    let (code, findings) = setup.json(SCRIPT_AGENT).await;
    assert_eq!(code, 0, "{findings:#?}");
    let protection = finding(&findings, "protection");
    assert_eq!(protection["status"], "warning");
    assert!(
        protection["fix"]
            .as_str()
            .unwrap()
            .contains("Administration: read")
    );
    assert_eq!(
        status_of(&findings, "protection.required_check"),
        vec!["ok"]
    );
}

#[tokio::test]
async fn a_repo_that_is_not_owner_name_is_could_not_run() {
    let setup = Setup::well(ForgeKind::Github, false, &[]).await;
    let (code, _) = setup.doctor_on("widgets", "json", SCRIPT_AGENT).await;
    assert_eq!(code, 2);
}

#[tokio::test]
async fn a_failed_default_branch_read_is_a_forge_problem_and_the_webhook_still_checked() {
    let setup = Setup::well(ForgeKind::Github, false, &[]).await;
    setup.fail("GET", "/repos/*/*", 500, 10);
    let (code, findings) = setup.json(SCRIPT_AGENT).await;
    assert_eq!(code, 1, "{findings:#?}");
    let forge = finding(&findings, "forge");
    assert_eq!(forge["status"], "problem");
    let message = forge["message"].as_str().unwrap();
    assert!(
        message.contains("default branch") && message.contains("500"),
        "{message}"
    );
    assert_eq!(status_of(&findings, "webhook.url"), vec!["ok"]);
    assert!(status_of(&findings, "protection").is_empty());
}

#[tokio::test]
async fn a_failed_workflow_read_is_named_and_the_other_workflows_still_read() {
    let setup = Setup::well(
        ForgeKind::Github,
        false,
        &[
            (".github/workflows/a.yml", "on: push\njobs: {}\n"),
            (".github/workflows/b.yml", "on:\n- pull_request\njobs: {}\n"),
        ],
    )
    .await;
    setup.fail(
        "GET",
        "/repos/*/*/contents/.github/workflows/a.yml**",
        500,
        10,
    );
    let (code, findings) = setup.json(SCRIPT_AGENT).await;
    assert_eq!(code, 1, "{findings:#?}");
    let workflows: Vec<&Value> = findings
        .iter()
        .filter(|f| f["check"] == "workflows")
        .collect();
    assert_eq!(workflows.len(), 2, "{workflows:#?}");
    assert_eq!(workflows[0]["status"], "problem");
    assert!(workflows[0]["message"].as_str().unwrap().contains("a.yml"));
    assert_eq!(workflows[1]["status"], "warning");
    assert!(
        workflows[1]["message"].as_str().unwrap().contains("b.yml"),
        "the file after the failed one is still judged: {workflows:#?}"
    );
}

#[tokio::test]
async fn ades_hook_is_found_on_a_later_page_of_hooks() {
    let setup = Setup::with_hook(
        ForgeKind::Gitea,
        false,
        &[],
        NewHook::gitea("https://chat.example/notify/0"),
    )
    .await;
    for n in 1..60 {
        setup
            .sim
            .add_hook(
                REPO,
                NewHook::gitea(&format!("https://chat.example/notify/{n}")),
            )
            .unwrap();
    }
    setup
        .sim
        .add_hook(
            REPO,
            NewHook::gitea(&format!("{PUBLIC_URL}/webhooks/gitea")),
        )
        .unwrap();
    let (_, findings) = setup.json(SCRIPT_AGENT).await;
    assert_eq!(
        status_of(&findings, "webhook.url"),
        vec!["ok"],
        "{findings:#?}"
    );
}

/// Protects `main` of the story's repository with these rules.
fn protect(sim: &Simulator, approvals: u32, checks: &[&str], admins: bool, dismiss_stale: bool) {
    sim.protect_branch(
        REPO,
        "main",
        BranchProtection {
            required_approvals: approvals,
            required_checks: checks.iter().map(|c| c.to_string()).collect(),
            enforce_admins: admins,
        },
    )
    .unwrap();
    sim.dismiss_stale_approvals(REPO, "main", dismiss_stale)
        .unwrap();
}
