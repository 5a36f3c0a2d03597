//! The shipped templates against the real agent CLIs (`ADE_TEST_AGENT_BIN`, installed by
//! `scripts/agents`), run the way ade's runner runs them: prepared by the agent registry from the
//! docs/agents.md block, started by ade's environment launcher in every environment the template
//! may be given (`worktree` and `main` under Landlock, `container` in bubblewrap), as the agent
//! user when the tests run as root, with the template's output reader watching. The model is a
//! scripted endpoint on loopback; nothing leaves the machine.
//!
//! Without the CLIs each test says why it is skipped; with `ADE_REQUIRE_AGENTS` set it fails.

use std::sync::Arc;
use std::time::Instant;

use ade::runner::agent::{AgentOutput, Trust};
use ade::runner::env::{
    AgentReport, Ending, EnvOptions, SharedObserver, Watch, landlock_support, run_watched,
};
use tokio_util::sync::CancellationToken;

use super::real_agents::{
    Claude, Clis, chat_endpoint, codex_endpoint, doc_block, with_env, with_keys,
};
use super::*;

/// What one real run did.
struct Ran {
    report: AgentReport,
    output: AgentOutput,
    /// The run log: ade's notes and the agent's output.
    log: String,
}

impl Ran {
    fn exited_0(&self) -> bool {
        self.report.ending == (Ending::Exited { code: 0 })
    }
}

/// A worktree holding `hello.txt` ("hello") in one commit, as a run's worktree holds the base.
fn greeting_worktree(dir: &Dir) -> PathBuf {
    let worktree = dir.path("worktree");
    fs::write(worktree.join("hello.txt"), "hello\n").unwrap();
    let git = |args: &[&str]| {
        let status = Command::new("git")
            .args(["-c", "user.name=t", "-c", "user.email=t@example.com"])
            .args(args)
            .current_dir(&worktree)
            .stdout(Stdio::null())
            .status()
            .unwrap();
        assert!(status.success(), "git {args:?}");
    };
    git(&["init", "-q"]);
    git(&["add", "hello.txt"]);
    git(&["commit", "-qm", "base"]);
    worktree.join("hello.txt")
}

/// The environments a template may be given: every one for a trusted agent, only `container`
/// for an untrusted one (docs/agents.md, "Trust and environments").
fn environments(clis: &Clis, block: &str, agent: &str) -> Vec<Environment> {
    let dir = Dir::new("envs");
    let config = load(&dir, &(runner_toml(clis, "") + block), agent_env()).unwrap();
    let registry = AgentRegistry::new(&config.agents, &config.runner, &config.policy).unwrap();
    match registry.get(agent).unwrap().trust {
        Trust::Trusted => vec![
            Environment::Worktree,
            Environment::Main,
            Environment::Container,
        ],
        Trust::Untrusted => vec![Environment::Container],
    }
}

/// `[runner]` for real runs: the agent user and the CLIs' folders. The agents keep their
/// templates' network, `allowlist`: the scripted endpoint on the host's loopback is reached the
/// way a model API out on the network is, as an allowed host.
fn runner_toml(clis: &Clis, extra: &str) -> String {
    format!(
        "[runner]\nagent_user = \"nobody\"\n{}{extra}\n",
        clis.runner_lines()
    )
}

/// `block` with the scripted endpoint at `url` as its allowlist, as an operator lists a model
/// endpoint the template does not name in a `*_BASE_URL` variable.
fn allowing(block: &str, url: &str) -> String {
    let host = url.trim_start_matches("http://").trim_end_matches('/');
    with_keys(block, &[("allow_hosts", &format!("[\"{host}\"]"))])
}

/// Why the `container` environment cannot run here, if it cannot: bubblewrap missing or refused
/// by the kernel.
fn container_unusable() -> Option<String> {
    use std::os::unix::process::CommandExt;
    let Some(bwrap) = ["/usr/bin/bwrap", "/usr/local/bin/bwrap", "/bin/bwrap"]
        .into_iter()
        .find(|p| Path::new(p).exists())
    else {
        return Some("bubblewrap is not installed (apt-get install bubblewrap)".into());
    };
    let mut command = Command::new(bwrap);
    command
        .args([
            "--unshare-all",
            "--share-net",
            "--ro-bind",
            "/",
            "/",
            "/bin/true",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    if is_root() {
        command.uid(NOBODY).gid(NOBODY);
    }
    match command.output() {
        Ok(out) if out.status.success() => None,
        Ok(out) => Some(format!(
            "bubblewrap cannot make a sandbox here: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )),
        Err(e) => Some(format!("bubblewrap cannot start: {e}")),
    }
}

fn is_root() -> bool {
    fs::metadata("/proc/self").is_ok_and(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0)
}

/// Runs `agent` of `block` in `environment` the way ade's runner does: the registry checks it
/// as `ade serve` does at start (program within the agents' reach, pin matched) and prepares the
/// run; the worktree and scratch folder go to the agent user; ade's environment launcher starts
/// it confined, with the template's output reader watching.
fn run_through_ade(
    clis: &Clis,
    dir: &Dir,
    block: &str,
    agent: &str,
    environment: Environment,
) -> Ran {
    let config = load(dir, &(runner_toml(clis, "") + block), agent_env())
        .unwrap_or_else(|e| panic!("{e}\n{block}"));
    let registry = AgentRegistry::new(&config.agents, &config.runner, &config.policy).unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime
        .block_on(registry.check_versions())
        .unwrap_or_else(|e| panic!("ade serve would refuse to start: {e}"));
    let selection = select(&registry, agent, environment);
    let invocation = registry
        .prepare(&selection, &inputs(), &dir.paths())
        .unwrap();
    let agent_user = registry.agent_user().unwrap();
    if agent_user.is_some() {
        give_to_nobody(&invocation.worktree);
        give_to_nobody(&invocation.scratch);
    }
    let opts = EnvOptions {
        agent_user,
        kill_grace: Duration::from_secs(2),
        ..EnvOptions::default()
    };
    let reader = Arc::new(Mutex::new(selection.agent.output.reader()));
    let watch = Watch {
        who: "agent",
        observer: Some(reader.clone() as SharedObserver),
    };
    let report = runtime
        .block_on(run_watched(
            &invocation,
            &opts,
            CancellationToken::new(),
            watch,
        ))
        .unwrap_or_else(|e| panic!("{agent} could not be run in {environment:?}: {e}"));
    let output = reader.lock().unwrap().finish();
    let log = fs::read_to_string(&invocation.log).unwrap_or_default();
    eprintln!(
        "{agent} in {}: {} in {:.1} s; reported {:?}",
        environment.as_str(),
        report.ending,
        report.duration.as_secs_f64(),
        output.describe(str::to_owned)
    );
    Ran {
        report,
        output,
        log,
    }
}

/// The environments to run in, saying which are skipped and why.
fn usable(environments: Vec<Environment>) -> Vec<Environment> {
    let container = container_unusable();
    environments
        .into_iter()
        .filter(|env| match (env, &container) {
            (Environment::Container, Some(why)) => {
                eprintln!("skipped in container: {why}");
                false
            }
            _ => true,
        })
        .collect()
}

/// The run log shows how ade confined the agent in `environment`.
fn assert_confined(ran: &Ran, environment: Environment) {
    let expected = match environment {
        Environment::Container => "[ade] sandbox: bubblewrap",
        _ => "[ade] landlock: ",
    };
    assert!(ran.log.contains(expected), "{}", ran.log);
    // The templates' network: the scripted endpoint on loopback is an allowed host, reached
    // through ade's forward and recorded.
    assert!(ran.log.contains("[ade] network: allowlist"), "{}", ran.log);
    assert!(
        ran.log.contains("[ade] egress: allowed 127.0.0.1:"),
        "the model endpoint was reached as an allowed host: {}",
        ran.log
    );
    if is_root() {
        assert!(
            ran.log.contains("[ade] user: uid 65534"),
            "the agent ran as the agent user: {}",
            ran.log
        );
    }
}

/// The shipped pins against the real CLIs, checked as `ade serve` checks them at start.
#[test]
fn the_shipped_pins_match_the_real_clis() {
    let _env = lock();
    let Some(clis) = Clis::find() else {
        return;
    };
    let dir = Dir::new("real");
    let doc =
        fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/agents.md")).unwrap();
    let runner = runner_toml(&clis, "");
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let mut checked = Vec::new();
    for block in doc.split("```toml\n").skip(1) {
        let block = block.split("```").next().unwrap();
        let config = load(&dir, &format!("{runner}{block}"), agent_env()).unwrap();
        let registry = AgentRegistry::new(&config.agents, &config.runner, &config.policy).unwrap();
        let Some(agent) = registry.iter().next().cloned() else {
            continue;
        };
        let (Some(pin), Some(program)) = (&agent.version, clis.program(&agent.program())) else {
            eprintln!(
                "{}: no pin, or not in ADE_TEST_AGENT_BIN; not checked",
                agent.name
            );
            continue;
        };
        let found = runtime
            .block_on(registry.check_versions())
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(found[0].program, program);
        eprintln!("{}: {:?} matches {pin}", agent.name, found[0].version);
        checked.push(agent.name.clone());

        let wrong = block.replace(&format!("version = \"{pin}\""), "version = \"0.0.1\"");
        let config = load(&dir, &format!("{runner}{wrong}"), agent_env()).unwrap();
        let err = runtime
            .block_on(
                AgentRegistry::new(&config.agents, &config.runner, &config.policy)
                    .unwrap()
                    .check_versions(),
            )
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with(&format!(
                "agent {}: version 0.0.1 is pinned but",
                agent.name
            )),
            "{err}"
        );
    }
    assert_eq!(
        checked,
        [
            "claude-code",
            "codex",
            "aider",
            "opencode",
            "claude-planner"
        ],
        "every installable CLI is checked, and the planner template's pin"
    );

    // Installed outside the folders an agent can see, a CLI would fail every run: ade refuses
    // to start instead, and says which setting fixes it.
    let hidden = runner_toml(&clis, "").replace("agent_dirs", "# agent_dirs");
    let config = load(
        &dir,
        &format!("{hidden}{}", doc_block("claude-code")),
        agent_env(),
    )
    .unwrap();
    let err = runtime
        .block_on(
            AgentRegistry::new(&config.agents, &config.runner, &config.policy)
                .unwrap()
                .check_versions(),
        )
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("agent claude-code: program ")
            && err.contains("outside the folders agents may run programs from")
            && err.ends_with("add the folder it is installed in to runner.agent_dirs"),
        "{err}"
    );
}

/// Claude Code, as shipped, edits the worktree through its own Read and Edit tools in each
/// environment a trusted agent may be given, and says it is done.
#[test]
fn claude_code_edits_the_worktree_in_every_environment_it_may_be_given() {
    let _env = lock();
    let Some(clis) = Clis::with("claude") else {
        return;
    };
    let shipped = doc_block("claude-code");
    for environment in usable(environments(&clis, &shipped, "claude-code")) {
        let dir = Dir::new(&format!("claude-{}", environment.as_str()));
        let file = greeting_worktree(&dir);
        let model = Claude::Edits {
            file: "hello.txt".into(),
            old: "hello".into(),
            new: "hello, ade".into(),
        }
        .serve();
        let block = with_env(
            &shipped,
            "claude-code",
            &format!("ANTHROPIC_BASE_URL = \"{}\"\n", model.url),
        );
        let ran = run_through_ade(&clis, &dir, &block, "claude-code", environment);
        assert!(ran.exited_0(), "{}", ran.log);
        assert_eq!(fs::read_to_string(&file).unwrap(), "hello, ade\n");
        assert!(!ran.output.has_trouble(), "{:?}", ran.output);
        assert_eq!(
            ran.output.final_message.as_deref(),
            Some("Changed the greeting.")
        );
        assert_confined(&ran, environment);
        assert!(
            !ran.log.contains("[ade] egress: blocked"),
            "Claude Code reached nothing but its model: {}",
            ran.log
        );
        assert!(
            model.requests().len() >= 3,
            "read, edit, done: {} requests",
            model.requests().len()
        );
    }
}

/// The Codex template with the provider arguments of a scripted endpoint, and `sandbox` as its
/// `-s` mode.
fn codex_block(url: &str, sandbox: &str) -> String {
    let provider = format!(
        "\"codex\", \"exec\", \"--json\", \"-c\", \"model_provider=ade\", \"-c\", 'model_providers.ade.name=\"ade\"', \"-c\", 'model_providers.ade.base_url=\"{url}/v1\"', \"-c\", 'model_providers.ade.env_key=\"OPENAI_API_KEY\"', \"-c\", 'model_providers.ade.wire_api=\"responses\"',"
    );
    let block = doc_block("codex")
        .replace("\"codex\", \"exec\", \"--json\",", &provider)
        .replace(
            "\"-s\", \"danger-full-access\",",
            &format!("\"-s\", \"{sandbox}\","),
        );
    assert!(
        block.contains("model_provider=ade") && block.contains(sandbox),
        "{block}"
    );
    allowing(&block, url)
}

/// Codex, as shipped, runs its commands in each environment a trusted agent may be given:
/// ade's environment confines it, and no command it runs fails.
#[test]
fn codex_runs_its_commands_in_every_environment_it_may_be_given() {
    let _env = lock();
    let Some(clis) = Clis::with("codex") else {
        return;
    };
    for environment in usable(environments(&clis, &doc_block("codex"), "codex")) {
        let dir = Dir::new(&format!("codex-{}", environment.as_str()));
        let file = greeting_worktree(&dir);
        let model = codex_endpoint("printf 'hello, ade\\n' > hello.txt", 200);
        let block = codex_block(&model.url, "danger-full-access");
        let ran = run_through_ade(&clis, &dir, &block, "codex", environment);
        assert!(ran.exited_0(), "{}", ran.log);
        assert_eq!(
            fs::read_to_string(&file).unwrap(),
            "hello, ade\n",
            "{}",
            ran.log
        );
        assert_eq!(ran.output.failed_tool_calls, 0, "{:?}", ran.output);
        assert!(
            ran.output
                .details
                .iter()
                .all(|d| d.starts_with("Model metadata for `gpt-5-codex` not found")),
            "only the warning about a model a custom provider serves: {:?}",
            ran.output
        );
        assert_eq!(
            ran.output.final_message.as_deref(),
            Some("Changed the greeting.")
        );
        assert_eq!(
            fs::read_to_string(dir.path("scratch/output.md"))
                .unwrap()
                .trim(),
            "Changed the greeting."
        );
        assert_confined(&ran, environment);
        let answer = model
            .requests()
            .into_iter()
            .find(|r| r.body.contains("\"function_call_output\""))
            .expect("codex reported the command's result to the model");
        assert!(
            answer.body.contains("Process exited with code 0"),
            "{}",
            answer.body
        );
    }
}

/// Codex, as shipped, whose model runs a command that fails: Codex exits 0 without a change,
/// and what it reported names the command, its exit code and its last output.
#[test]
fn codex_reports_a_failing_command_and_the_run_says_so() {
    let _env = lock();
    let Some(clis) = Clis::with("codex") else {
        return;
    };
    let dir = Dir::new("codex-failing");
    greeting_worktree(&dir);
    let model = codex_endpoint("ls /no-such-folder", 200);
    let block = codex_block(&model.url, "danger-full-access");
    let ran = run_through_ade(&clis, &dir, &block, "codex", Environment::Worktree);
    assert!(ran.exited_0(), "{}", ran.log);
    assert_eq!(ran.output.failed_tool_calls, 1, "{:?}", ran.output);
    let said = ran.output.describe(str::to_owned).unwrap();
    assert!(
        said.starts_with("the agent reported 1 failing tool call and 1 error: ")
            && said.contains(
                "bash -lc 'ls /no-such-folder'` exited 2: ls: cannot access '/no-such-folder'"
            ),
        "{said}"
    );
}

/// What the Codex template shipped before: its own sandbox (`-s workspace-write`) inside ade's
/// `worktree` environment cannot start (it wants a folder under `/tmp`, which Landlock denies),
/// so every command fails, Codex exits 0, and its JSON lines do not even list the command: only
/// the model hears of the failure. That is why the template leaves confining to ade.
#[test]
fn codex_with_its_own_sandbox_inside_ades_fails_every_command_and_does_not_say_so() {
    let _env = lock();
    let Some(clis) = Clis::with("codex") else {
        return;
    };
    if let ade::runner::env::LandlockSupport::Unavailable { reason } = landlock_support() {
        eprintln!("skipped: without Landlock ({reason}) the worktree environment confines nothing");
        return;
    }
    let dir = Dir::new("codex-own-sandbox");
    let file = greeting_worktree(&dir);
    let model = codex_endpoint("printf 'hello, ade\\n' > hello.txt", 200);
    let block = codex_block(&model.url, "workspace-write");
    let ran = run_through_ade(&clis, &dir, &block, "codex", Environment::Worktree);
    assert!(ran.exited_0(), "codex exits 0 all the same: {}", ran.log);
    assert_eq!(fs::read_to_string(&file).unwrap(), "hello\n");
    let told = model
        .requests()
        .into_iter()
        .find(|r| r.body.contains("\"function_call_output\""))
        .expect("codex answered the model's command");
    assert!(
        told.body
            .contains("error building bubblewrap command: Permission denied"),
        "{}",
        told.body
    );
    assert_eq!(
        ran.output.failed_tool_calls, 0,
        "Codex's JSON lines now report such a command; docs/agents.md says they do not: {}",
        ran.log
    );
}

/// aider, as shipped (untrusted, so only in a container), edits the worktree from the
/// SEARCH/REPLACE block its model sends, keeps its history in the scratch folder and leaves only
/// what its `leftovers` cover.
#[test]
fn aider_edits_the_worktree_in_a_container() {
    let _env = lock();
    let Some(clis) = Clis::with("aider") else {
        return;
    };
    let shipped = doc_block("aider");
    for environment in usable(environments(&clis, &shipped, "aider")) {
        let dir = Dir::new("aider");
        let file = greeting_worktree(&dir);
        let model = chat_endpoint(
            "hello.txt\n```\n<<<<<<< SEARCH\nhello\n=======\nhello, ade\n>>>>>>> REPLACE\n```\n",
            None,
        );
        let block = shipped.replace(
            "\"--message-file\", \"{prompt_file}\",",
            &format!(
                "\"--message-file\", \"{{prompt_file}}\", \"--openai-api-base\", \"{}/v1\",",
                model.url
            ),
        );
        assert!(block.contains("--openai-api-base"), "{block}");
        let block = allowing(&block, &model.url);
        let ran = run_through_ade(&clis, &dir, &block, "aider", environment);
        assert!(ran.exited_0(), "{}", ran.log);
        assert_eq!(
            fs::read_to_string(&file).unwrap(),
            "hello, ade\n",
            "{}",
            ran.log
        );
        assert!(ran.log.contains("Applied edit to hello.txt"), "{}", ran.log);
        assert!(!ran.output.has_trouble(), "{:?}", ran.output);
        assert_confined(&ran, environment);
        assert!(dir.path("scratch/aider.chat.history.md").exists());
        let worktree = dir.path("worktree");
        assert!(
            !worktree.join(".gitignore").exists(),
            "aider wrote a .gitignore"
        );
        let config = load(&dir, &(runner_toml(&clis, "") + &block), agent_env()).unwrap();
        let registry = AgentRegistry::new(&config.agents, &config.runner, &config.policy).unwrap();
        let agent = registry.get("aider").unwrap();
        for entry in fs::read_dir(&worktree).unwrap() {
            let name = entry.unwrap().file_name().into_string().unwrap();
            if name != "hello.txt" && name != ".git" {
                assert!(
                    agent.leftovers.matches(&name),
                    "{name} is left in the worktree and not a leftover"
                );
            }
        }
    }
}

/// opencode, as shipped (untrusted, so only in a container), with its OpenAI-compatible provider
/// pointed at a scripted chat completions endpoint: its model calls the `bash` tool, which edits
/// the worktree, and opencode leaves nothing of its own there.
#[test]
fn opencode_edits_the_worktree_in_a_container() {
    let _env = lock();
    let Some(clis) = Clis::with("opencode") else {
        return;
    };
    let shipped = doc_block("opencode");
    for environment in usable(environments(&clis, &shipped, "opencode")) {
        let dir = Dir::new("opencode");
        let file = greeting_worktree(&dir);
        let model = chat_endpoint(
            "Changed the greeting.",
            Some("printf 'hello, ade\\n' > hello.txt"),
        );
        // ade's placeholders take `{`: literal braces are doubled.
        let provider = format!(
            "{{{{\"provider\": {{{{\"ade\": {{{{\"npm\": \"@ai-sdk/openai-compatible\", \"name\": \"ade\", \
             \"options\": {{{{\"baseURL\": \"{}/v1\", \"apiKey\": \"{{{{env:ANTHROPIC_API_KEY}}}}\"}}}}, \
             \"models\": {{{{\"scripted\": {{{{\"name\": \"scripted\"}}}}}}}}}}}}}}}}}}}}",
            model.url
        );
        let block = with_keys(
            &with_env(
                &shipped,
                "opencode",
                &format!("OPENCODE_CONFIG_CONTENT = '{provider}'\n"),
            ),
            &[("model", "\"ade/scripted\"")],
        );
        let block = allowing(&block, &model.url);
        let ran = run_through_ade(&clis, &dir, &block, "opencode", environment);
        assert!(ran.exited_0(), "{}", ran.log);
        assert_eq!(
            fs::read_to_string(&file).unwrap(),
            "hello, ade\n",
            "{}",
            ran.log
        );
        assert!(!ran.output.has_trouble(), "{:?}", ran.output);
        assert_eq!(
            ran.output.final_message.as_deref(),
            Some("Changed the greeting.")
        );
        assert_confined(&ran, environment);
        let mut left: Vec<String> = fs::read_dir(dir.path("worktree"))
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        left.sort();
        assert_eq!(
            left,
            [".git", "hello.txt"],
            "opencode keeps its state in HOME"
        );
    }
}

/// Claude Code against an endpoint that answers 500: it gives up after its retries, exits
/// non-zero, and its own error text is in the run log and in what the run reports.
#[test]
fn when_the_model_endpoint_fails_claude_code_exits_with_its_own_error() {
    let _env = lock();
    let Some(clis) = Clis::with("claude") else {
        return;
    };
    let dir = Dir::new("claude-500");
    let file = greeting_worktree(&dir);
    let model = Claude::Fails(500).serve();
    let block = with_env(
        &doc_block("claude-code"),
        "claude-code",
        &format!(
            "ANTHROPIC_BASE_URL = \"{}\"\nCLAUDE_CODE_MAX_RETRIES = \"1\"\n",
            model.url
        ),
    );
    let ran = run_through_ade(&clis, &dir, &block, "claude-code", Environment::Worktree);
    assert_eq!(ran.report.ending, Ending::Exited { code: 1 }, "{}", ran.log);
    assert_eq!(fs::read_to_string(&file).unwrap(), "hello\n");
    assert!(
        ran.log.contains("API Error: 500"),
        "the agent's own words: {}",
        ran.log
    );
    let said = ran.output.describe(str::to_owned).unwrap();
    assert!(
        said.starts_with("the agent reported 1 error: api_error: API Error: 500"),
        "{said}"
    );
}

/// Claude Code against an endpoint that never answers: ade stops it at its time limit.
#[test]
fn when_the_model_endpoint_hangs_claude_code_is_stopped_at_its_time_limit() {
    let _env = lock();
    let Some(clis) = Clis::with("claude") else {
        return;
    };
    let dir = Dir::new("claude-hang");
    let file = greeting_worktree(&dir);
    let model = Claude::Hangs.serve();
    let block = with_keys(
        &with_env(
            &doc_block("claude-code"),
            "claude-code",
            &format!("ANTHROPIC_BASE_URL = \"{}\"\n", model.url),
        ),
        &[("timeout_secs", "5")],
    );
    let started = Instant::now();
    let ran = run_through_ade(&clis, &dir, &block, "claude-code", Environment::Worktree);
    assert_eq!(ran.report.ending, Ending::TimedOut, "{}", ran.log);
    let took = started.elapsed();
    assert!(
        took < Duration::from_secs(12),
        "stopped at its 5 s limit (2 s grace): {took:?}"
    );
    assert!(
        ran.log
            .contains("[ade] the agent timed out and was stopped"),
        "{}",
        ran.log
    );
    assert_eq!(fs::read_to_string(&file).unwrap(), "hello\n");
    assert!(!model.requests().is_empty(), "it did ask the model");
}

/// Claude Code whose model only talks: it exits 0 and the worktree is as it was, which ade's
/// runner then ends as "no changes".
#[test]
fn when_the_model_changes_nothing_claude_code_exits_0_and_leaves_the_worktree_as_it_was() {
    let _env = lock();
    let Some(clis) = Clis::with("claude") else {
        return;
    };
    let dir = Dir::new("claude-nothing");
    let file = greeting_worktree(&dir);
    let model = Claude::Says("There is nothing to change.".into()).serve();
    let block = with_env(
        &doc_block("claude-code"),
        "claude-code",
        &format!("ANTHROPIC_BASE_URL = \"{}\"\n", model.url),
    );
    let ran = run_through_ade(&clis, &dir, &block, "claude-code", Environment::Worktree);
    assert!(ran.exited_0(), "{}", ran.log);
    assert_eq!(fs::read_to_string(&file).unwrap(), "hello\n");
    assert!(!ran.output.has_trouble(), "{:?}", ran.output);
    assert_eq!(
        ran.output.final_message.as_deref(),
        Some("There is nothing to change.")
    );
}
