//! The shipped templates against the real agent CLIs, where `ADE_TEST_AGENT_BIN` names a folder
//! holding them: version pins, and real headless runs of Claude Code and Codex, offline, against
//! scripted model endpoints on loopback. Without the variable each test says it is skipped.

use super::*;

/// The folders `ADE_TEST_AGENT_BIN` names (`:` between them), or `None` after saying why the
/// test is skipped.
fn agent_dirs() -> Option<Vec<PathBuf>> {
    let Some(value) = std::env::var_os("ADE_TEST_AGENT_BIN") else {
        eprintln!("skipped: ADE_TEST_AGENT_BIN is not set, so the real agent CLIs are not here");
        return None;
    };
    Some(std::env::split_paths(&value).collect())
}

/// The folders of the real CLIs if `program` is among them, or `None` after saying why not.
fn agent_bin(program: &str) -> Option<Vec<PathBuf>> {
    let dirs = agent_dirs()?;
    if find(&dirs, program).is_none() {
        eprintln!("skipped: no {program} in ADE_TEST_AGENT_BIN");
        return None;
    }
    Some(dirs)
}

fn find(dirs: &[PathBuf], program: &str) -> Option<PathBuf> {
    dirs.iter().map(|d| d.join(program)).find(|p| p.exists())
}

/// `[runner]` with the real CLIs' folders first on the agents' PATH.
fn runner_with(dirs: &[PathBuf]) -> String {
    let path: Vec<String> = dirs
        .iter()
        .map(|d| d.display().to_string())
        .chain(["/usr/local/bin", "/usr/bin", "/bin"].map(String::from))
        .map(|d| format!("\"{d}\""))
        .collect();
    format!(
        "[runner]\nagent_user = \"nobody\"\npath = [{}]\n",
        path.join(", ")
    )
}

/// The ```toml block of docs/agents.md that registers `agent`.
fn doc_block(agent: &str) -> String {
    let doc =
        fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/agents.md")).unwrap();
    doc.split("```toml\n")
        .map(|b| b.split("```").next().unwrap())
        .find(|b| b.starts_with(&format!("[agents.{agent}]")))
        .unwrap_or_else(|| panic!("docs/agents.md has no block for {agent}"))
        .to_owned()
}

/// A tiny HTTP/1.1 server on loopback: each request's line and body go to `respond`, which
/// returns the status line's reason-less code, the content type and the body. One request per
/// connection.
fn serve_loopback(
    respond: impl Fn(&str, &str) -> (&'static str, String) + Send + Sync + 'static,
) -> std::net::SocketAddr {
    use std::io::{BufRead, BufReader, Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let respond = std::sync::Arc::new(respond);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let respond = respond.clone();
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut request_line = String::new();
                reader.read_line(&mut request_line).unwrap();
                let mut length = 0;
                loop {
                    let mut line = String::new();
                    reader.read_line(&mut line).unwrap();
                    if line == "\r\n" || line.is_empty() {
                        break;
                    }
                    if let Some((name, value)) = line.split_once(':')
                        && name.eq_ignore_ascii_case("content-length")
                    {
                        length = value.trim().parse().unwrap();
                    }
                }
                let mut body = vec![0; length];
                reader.read_exact(&mut body).unwrap();
                let (content_type, body) = respond(&request_line, &String::from_utf8_lossy(&body));
                let head = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                    body.len()
                );
                let _ = stream.write_all((head + &body).as_bytes());
            });
        }
    });
    addr
}

/// Server-sent events, as the model APIs stream them.
fn sse(events: &[(&str, serde_json::Value)]) -> String {
    events
        .iter()
        .map(|(event, data)| format!("event: {event}\ndata: {data}\n\n"))
        .collect()
}

/// A scripted Anthropic Messages endpoint: the first turn reads `file`, the second edits it, the
/// last says it is done. Which turn a request is comes from the tool results it carries; a
/// request without tools just gets a short text.
fn scripted_messages_endpoint(file: String) -> String {
    let addr = serve_loopback(move |request, body| {
        if !request.contains("/v1/messages") || request.contains("count_tokens") {
            return ("application/json", "{}".to_owned());
        }
        let results = body.matches("\"tool_result\"").count();
        let (block, stop) = match (body.contains("\"tools\""), results) {
            (true, 0) => (
                tool_use("Read", &serde_json::json!({ "file_path": file })),
                "tool_use",
            ),
            (true, 1) => (
                tool_use(
                    "Edit",
                    &serde_json::json!({ "file_path": file, "old_string": "hello", "new_string": "hello, ade" }),
                ),
                "tool_use",
            ),
            _ => (text_block("Changed the greeting."), "end_turn"),
        };
        let events = [
            (
                "message_start",
                serde_json::json!({"type": "message_start", "message": {"id": "msg_1", "type": "message", "role": "assistant", "model": "claude-sonnet-4-5", "content": [], "stop_reason": null, "stop_sequence": null, "usage": {"input_tokens": 10, "output_tokens": 1}}}),
            ),
            ("content_block_start", block.0),
            ("content_block_delta", block.1),
            (
                "content_block_stop",
                serde_json::json!({"type": "content_block_stop", "index": 0}),
            ),
            (
                "message_delta",
                serde_json::json!({"type": "message_delta", "delta": {"stop_reason": stop, "stop_sequence": null}, "usage": {"output_tokens": 5}}),
            ),
            ("message_stop", serde_json::json!({"type": "message_stop"})),
        ];
        ("text/event-stream", sse(&events))
    });
    format!("http://{addr}")
}

/// A scripted OpenAI Responses endpoint: the first turn runs a command that edits `hello.txt`,
/// the next (carrying the command's output, kept in `log`) says it is done.
fn scripted_responses_endpoint(log: PathBuf) -> String {
    let addr = serve_loopback(move |_, body| {
        let item = if let Some(at) = body.find("\"function_call_output\"") {
            fs::write(&log, body[at..].chars().take(600).collect::<String>()).unwrap();
            serde_json::json!({"type": "message", "id": "msg_1", "role": "assistant", "status": "completed", "content": [{"type": "output_text", "text": "Changed the greeting.", "annotations": []}]})
        } else {
            let cmd = serde_json::json!({ "cmd": "printf 'hello, ade\\n' > hello.txt" });
            serde_json::json!({"type": "function_call", "id": "fc_1", "call_id": "call_1", "name": "exec_command", "arguments": cmd.to_string(), "status": "completed"})
        };
        let events = [
            (
                "response.created",
                serde_json::json!({"type": "response.created", "response": {"id": "resp_1"}}),
            ),
            (
                "response.output_item.added",
                serde_json::json!({"type": "response.output_item.added", "output_index": 0, "item": item}),
            ),
            (
                "response.output_item.done",
                serde_json::json!({"type": "response.output_item.done", "output_index": 0, "item": item}),
            ),
            (
                "response.completed",
                serde_json::json!({"type": "response.completed", "response": {"id": "resp_1", "usage": {"input_tokens": 10, "input_tokens_details": {"cached_tokens": 0}, "output_tokens": 5, "output_tokens_details": {"reasoning_tokens": 0}, "total_tokens": 15}}}),
            ),
        ];
        ("text/event-stream", sse(&events))
    });
    format!("http://{addr}/v1")
}

/// The shipped pins against the real CLIs, where they are installed: set `ADE_TEST_AGENT_BIN` to
/// a folder holding `claude`, `codex` and `opencode` (for example `node_modules/.bin` after
/// `npm install @anthropic-ai/claude-code@2.1.328 @openai/codex@0.169.0 opencode-ai@1.18.33`).
#[test]
fn the_shipped_pins_match_the_real_clis() {
    let _env = lock();
    let Some(dirs) = agent_dirs() else {
        return;
    };
    let dir = Dir::new("real");
    let doc =
        fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/agents.md")).unwrap();
    let runner = runner_with(&dirs);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let mut checked = 0;
    for block in doc.split("```toml\n").skip(1) {
        let block = block.split("```").next().unwrap();
        let config = load(&dir, &format!("{runner}{block}"), agent_env()).unwrap();
        let registry = AgentRegistry::new(&config.agents, &config.runner, &config.policy).unwrap();
        let Some(agent) = registry.iter().next().cloned() else {
            continue;
        };
        let (Some(pin), Some(program)) = (&agent.version, find(&dirs, &agent.program())) else {
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
        checked += 1;

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
    assert!(
        checked > 0,
        "ADE_TEST_AGENT_BIN holds none of the pinned CLIs"
    );
}

fn tool_use(name: &str, input: &serde_json::Value) -> (serde_json::Value, serde_json::Value) {
    (
        serde_json::json!({"type": "content_block_start", "index": 0, "content_block": {"type": "tool_use", "id": format!("toolu_{name}"), "name": name, "input": {}}}),
        serde_json::json!({"type": "content_block_delta", "index": 0, "delta": {"type": "input_json_delta", "partial_json": input.to_string()}}),
    )
}

fn text_block(text: &str) -> (serde_json::Value, serde_json::Value) {
    (
        serde_json::json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
        serde_json::json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": text}}),
    )
}

/// The shipped Claude Code template, run for real (offline, against a scripted endpoint) from the
/// invocation `prepare` builds: it edits a file in the worktree and exits 0.
#[test]
fn the_claude_code_template_runs_the_real_cli() {
    let _env = lock();
    let Some(bin) = agent_bin("claude") else {
        return;
    };
    let dir = Dir::new("claude");
    let file = dir.path("worktree/hello.txt");
    fs::write(&file, "hello\n").unwrap();
    let url = scripted_messages_endpoint(file.display().to_string());
    let block = doc_block("claude-code").replace(
        "[agents.claude-code.env]\n",
        &format!("[agents.claude-code.env]\nANTHROPIC_BASE_URL = \"{url}\"\n"),
    );
    let config = load(&dir, &(runner_with(&bin) + &block), agent_env()).unwrap();
    let registry = AgentRegistry::new(&config.agents, &config.runner, &config.policy).unwrap();
    let selection = select(&registry, "claude-code", Environment::Worktree);
    let invocation = registry
        .prepare(&selection, &inputs(), &dir.paths())
        .unwrap();
    assert_eq!(
        invocation.argv[0], "claude",
        "found on the invocation's own PATH"
    );
    let started = std::time::Instant::now();
    let (ok, out) = run(&invocation);
    eprintln!("claude ran {:?}: {out}", started.elapsed());
    assert!(ok, "{out}");
    assert_eq!(fs::read_to_string(&file).unwrap(), "hello, ade\n");
    let result: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(result["result"], "Changed the greeting.", "{result}");
}

/// The shipped Codex CLI template, run for real (offline, its own sandbox on, against a scripted
/// endpoint given as a custom provider) from the invocation `prepare` builds.
#[test]
fn the_codex_template_runs_the_real_cli() {
    let _env = lock();
    let Some(bin) = agent_bin("codex") else {
        return;
    };
    let dir = Dir::new("codex");
    let file = dir.path("worktree/hello.txt");
    fs::write(&file, "hello\n").unwrap();
    let url = scripted_responses_endpoint(dir.path("tool-output"));
    let provider = format!(
        "\"codex\", \"exec\", \"--json\", \"-c\", \"model_provider=ade\", \"-c\", 'model_providers.ade.name=\"ade\"', \"-c\", 'model_providers.ade.base_url=\"{url}\"', \"-c\", 'model_providers.ade.env_key=\"OPENAI_API_KEY\"', \"-c\", 'model_providers.ade.wire_api=\"responses\"',"
    );
    let block = doc_block("codex").replace("\"codex\", \"exec\", \"--json\",", &provider);
    assert!(block.contains("model_provider=ade"), "{block}");
    let config = load(&dir, &(runner_with(&bin) + &block), agent_env()).unwrap();
    let registry = AgentRegistry::new(&config.agents, &config.runner, &config.policy).unwrap();
    let selection = select(&registry, "codex", Environment::Worktree);
    let invocation = registry
        .prepare(&selection, &inputs(), &dir.paths())
        .unwrap();
    assert_eq!(
        invocation.stdin,
        StdinSource::Null,
        "codex waits on an open stdin"
    );
    let started = std::time::Instant::now();
    let (ok, out) = run(&invocation);
    eprintln!("codex ran {:?}: {out}", started.elapsed());
    eprintln!(
        "the command's output as codex reported it: {}",
        fs::read_to_string(dir.path("tool-output")).unwrap_or_default()
    );
    assert!(ok, "{out}");
    assert_eq!(fs::read_to_string(&file).unwrap(), "hello, ade\n");
    assert!(
        out.lines().any(|l| l.contains("\"turn.completed\"")),
        "{out}"
    );
    assert_eq!(
        fs::read_to_string(dir.path("scratch/output.md"))
            .unwrap()
            .trim(),
        "Changed the greeting."
    );
}

/// A scripted OpenAI chat completions endpoint (what aider calls through litellm): one streamed
/// reply with a SEARCH/REPLACE block for `hello.txt`.
fn scripted_chat_endpoint() -> String {
    let addr = serve_loopback(move |request, _| {
        if !request.contains("/chat/completions") {
            return ("application/json", "{}".to_owned());
        }
        let reply =
            "hello.txt\n```\n<<<<<<< SEARCH\nhello\n=======\nhello, ade\n>>>>>>> REPLACE\n```\n";
        let chunk = |delta: serde_json::Value, finish: serde_json::Value| serde_json::json!({"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": "gpt-4.1", "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]});
        let body = format!(
            "data: {}\n\ndata: {}\n\ndata: [DONE]\n\n",
            chunk(
                serde_json::json!({"role": "assistant", "content": reply}),
                serde_json::Value::Null
            ),
            chunk(serde_json::json!({}), serde_json::json!("stop")),
        );
        ("text/event-stream", body)
    });
    format!("http://{addr}/v1")
}

/// The shipped aider template, run for real (offline, against a scripted endpoint): it edits a
/// file, keeps its history files in the scratch folder, leaves only what `leftovers` covers in the
/// worktree, and touches no `.gitignore`.
#[test]
fn the_aider_template_runs_the_real_cli() {
    let _env = lock();
    let Some(bin) = agent_bin("aider") else {
        return;
    };
    let dir = Dir::new("aider");
    let worktree = dir.path("worktree");
    let file = worktree.join("hello.txt");
    fs::write(&file, "hello\n").unwrap();
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
    let url = scripted_chat_endpoint();
    let block = doc_block("aider").replace(
        "\"--message-file\", \"{prompt_file}\",",
        &format!("\"--message-file\", \"{{prompt_file}}\", \"--openai-api-base\", \"{url}\","),
    );
    assert!(block.contains("--openai-api-base"), "{block}");
    let config = load(&dir, &(runner_with(&bin) + &block), agent_env()).unwrap();
    let registry = AgentRegistry::new(&config.agents, &config.runner, &config.policy).unwrap();
    let selection = select(&registry, "aider", Environment::Worktree);
    let invocation = registry
        .prepare(&selection, &inputs(), &dir.paths())
        .unwrap();
    let started = std::time::Instant::now();
    let (ok, out) = run(&invocation);
    eprintln!("aider ran {:?}: {out}", started.elapsed());
    assert!(ok, "{out}");
    assert_eq!(fs::read_to_string(&file).unwrap(), "hello, ade\n", "{out}");
    assert!(out.contains("Applied edit to hello.txt"), "{out}");
    assert!(dir.path("scratch/aider.chat.history.md").exists());
    assert!(
        !worktree.join(".gitignore").exists(),
        "aider wrote a .gitignore"
    );
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
