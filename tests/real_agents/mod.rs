//! The real agent CLIs for tests, shared by `tests/runner_agents.rs` and `tests/ade/`: where they
//! are (`ADE_TEST_AGENT_BIN`, which `scripts/agents` prints and `scripts/test` sets), the shipped
//! templates of docs/agents.md, and scripted model endpoints on loopback that play the model
//! APIs the CLIs call (Anthropic Messages, OpenAI Responses and chat completions), record every
//! request, and can fail or hang on purpose.
//!
//! Without the CLIs a test says `skipped: …why…` and passes; with `ADE_REQUIRE_AGENTS` set (as
//! `.ci/run` sets it) it fails instead.

#![allow(
    dead_code,
    reason = "each test binary that includes this module uses a different part of it"
)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};

/// The folders holding the real CLIs, as `ADE_TEST_AGENT_BIN` names them (`:` between them).
#[derive(Clone, Debug)]
pub struct Clis {
    /// The folders, in order.
    pub dirs: Vec<PathBuf>,
}

impl Clis {
    /// The real CLIs if `program` is among them; otherwise `None` after saying why the test is
    /// skipped, or a panic when `ADE_REQUIRE_AGENTS` is set.
    pub fn with(program: &str) -> Option<Clis> {
        let clis = Clis::find()?;
        if clis.program(program).is_none() {
            return skip(&format!(
                "there is no {program} in ADE_TEST_AGENT_BIN ({})",
                clis.dirs
                    .iter()
                    .map(|d| d.display().to_string())
                    .collect::<Vec<_>>()
                    .join(":")
            ));
        }
        Some(clis)
    }

    /// The real CLIs, or `None` after saying why not (a panic when they are required).
    pub fn find() -> Option<Clis> {
        match std::env::var_os("ADE_TEST_AGENT_BIN") {
            Some(value) if !value.is_empty() => Some(Clis {
                dirs: std::env::split_paths(&value).collect(),
            }),
            _ => skip(
                &std::env::var("ADE_TEST_AGENT_SKIPPED").unwrap_or_else(|_| {
                    "ADE_TEST_AGENT_BIN is not set, so the real agent CLIs are not here \
                 (scripts/agents installs them and prints the value)"
                        .to_string()
                }),
            ),
        }
    }

    /// Where `program` is, if one of the folders holds it.
    pub fn program(&self, program: &str) -> Option<PathBuf> {
        self.dirs
            .iter()
            .map(|d| d.join(program))
            .find(|p| p.exists())
    }

    /// The `[runner]` lines that let agents find and run the CLIs: their folders first on
    /// `runner.path`, and the folders above them (where npm and the virtual environment keep
    /// what the programs load) as `runner.agent_dirs`.
    pub fn runner_lines(&self) -> String {
        let quote = |p: &Path| format!("{:?}", p.display().to_string());
        let path: Vec<String> = self
            .dirs
            .iter()
            .map(|d| quote(d))
            .chain(["/usr/local/bin", "/usr/bin", "/bin"].map(|d| quote(Path::new(d))))
            .collect();
        let mut roots: Vec<String> = self
            .dirs
            .iter()
            .map(|d| quote(d.parent().unwrap_or(d)))
            .collect();
        roots.dedup();
        format!(
            "path = [{}]\nagent_dirs = [{}]\n",
            path.join(", "),
            roots.join(", ")
        )
    }
}

fn skip<T>(why: &str) -> Option<T> {
    if std::env::var_os("ADE_REQUIRE_AGENTS").is_some() {
        panic!("ADE_REQUIRE_AGENTS is set, but the real agent CLIs are not here: {why}");
    }
    eprintln!("skipped: {why}");
    None
}

/// The ```toml block of docs/agents.md that registers `agent`, as shipped.
pub fn doc_block(agent: &str) -> String {
    let doc = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/agents.md"))
        .unwrap();
    doc.split("```toml\n")
        .map(|b| b.split("```").next().unwrap())
        .find(|b| b.starts_with(&format!("[agents.{agent}]")))
        .unwrap_or_else(|| panic!("docs/agents.md has no block for {agent}"))
        .to_owned()
}

/// `block` with `lines` added at the end of its `[agents.<agent>.env]` table (made if missing).
pub fn with_env(block: &str, agent: &str, lines: &str) -> String {
    let header = format!("[agents.{agent}.env]\n");
    match block.find(&header) {
        Some(at) => {
            let (head, tail) = block.split_at(at + header.len());
            format!("{head}{lines}{tail}")
        }
        None => {
            let secrets = format!("[agents.{agent}.secrets]");
            match block.find(&secrets) {
                Some(at) => {
                    let (head, tail) = block.split_at(at);
                    format!("{head}{header}{lines}\n{tail}")
                }
                None => format!("{block}\n{header}{lines}"),
            }
        }
    }
}

/// `block` with `key = value` lines replaced (or added to the agent's table when missing).
pub fn with_keys(block: &str, keys: &[(&str, &str)]) -> String {
    let mut text = block.to_owned();
    for (key, value) in keys {
        let line = format!("{key} = {value}");
        let prefix = format!("\n{key} = ");
        if let Some(at) = text.find(&prefix) {
            let end = text[at + 1..].find('\n').map_or(text.len(), |e| at + 1 + e);
            text.replace_range(at + 1..end, &line);
        } else {
            let at = text.find("\n\n[").unwrap_or(text.len());
            text.insert_str(at, &format!("\n{line}"));
        }
    }
    text
}

/// One request a scripted endpoint received.
#[derive(Clone, Debug)]
pub struct Request {
    /// `POST /v1/messages?beta=true HTTP/1.1`.
    pub line: String,
    /// The body, as text.
    pub body: String,
}

impl Request {
    /// The body as JSON (`null` if it is not).
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }
}

/// What a scripted endpoint answers.
pub enum Reply {
    /// 200 with this content type and body.
    Ok(&'static str, String),
    /// This status with a JSON body.
    Status(u16, String),
    /// Nothing, ever: the connection stays open until the test process ends.
    Hang,
}

/// A model endpoint on loopback that answers as its script says and keeps every request.
#[derive(Clone)]
pub struct Endpoint {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    requests: Arc<Mutex<Vec<Request>>>,
}

impl Endpoint {
    /// Serves `respond` on a free loopback port, one request per connection.
    pub fn serve(respond: impl Fn(&Request) -> Reply + Send + Sync + 'static) -> Endpoint {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let requests = Arc::new(Mutex::new(Vec::new()));
        let respond = Arc::new(respond);
        let kept = requests.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let (respond, kept) = (respond.clone(), kept.clone());
                std::thread::spawn(move || answer(stream, &*respond, &kept));
            }
        });
        Endpoint { url, requests }
    }

    /// Every request so far, oldest first.
    pub fn requests(&self) -> Vec<Request> {
        self.requests.lock().unwrap().clone()
    }
}

fn answer(
    mut stream: std::net::TcpStream,
    respond: &dyn Fn(&Request) -> Reply,
    kept: &Mutex<Vec<Request>>,
) {
    let Ok(clone) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(clone);
    let mut line = String::new();
    if reader.read_line(&mut line).is_err() || line.is_empty() {
        return;
    }
    let mut length = 0;
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header).is_err() || header == "\r\n" || header.is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse().unwrap_or(0);
        }
    }
    let mut body = vec![0; length];
    if reader.read_exact(&mut body).is_err() {
        return;
    }
    let request = Request {
        line: line.trim_end().to_owned(),
        body: String::from_utf8_lossy(&body).into_owned(),
    };
    kept.lock().unwrap().push(request.clone());
    let (status, content_type, body) = match respond(&request) {
        Reply::Ok(content_type, body) => ("200 OK".to_owned(), content_type, body),
        Reply::Status(code, body) => (format!("{code} Scripted"), "application/json", body),
        Reply::Hang => loop {
            std::thread::sleep(Duration::from_secs(3600));
        },
    };
    let head = format!(
        "HTTP/1.1 {status}\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    );
    let _ = stream.write_all((head + &body).as_bytes());
}

/// Server-sent events, as the model APIs stream them.
pub fn sse(events: &[(&str, Value)]) -> String {
    events
        .iter()
        .map(|(event, data)| format!("event: {event}\ndata: {data}\n\n"))
        .collect()
}

/// What a scripted Anthropic Messages endpoint (Claude Code's) does.
#[derive(Clone, Debug)]
pub enum Claude {
    /// Reads `file` (relative to the agent's working directory, which its system prompt names as
    /// `CWD: …`), replaces `old` with `new` in it, then says it is done.
    Edits {
        /// The file, relative to the worktree.
        file: String,
        /// The text to replace.
        old: String,
        /// What replaces it.
        new: String,
    },
    /// Only says `text`: changes nothing.
    Says(String),
    /// Asks to run `command` with its Bash tool, then says it is done.
    Runs(String),
    /// Creates the plan file its prompt names (`to the file `…``) with its Edit tool (an empty
    /// `old_string` makes a new file), holding this text, then says `Planned.`.
    WritesPlan(String),
    /// Answers every request with HTTP `status`.
    Fails(u16),
    /// Never answers.
    Hangs,
}

impl Claude {
    /// A Messages endpoint on loopback playing this script; `ANTHROPIC_BASE_URL` is its URL.
    pub fn serve(self) -> Endpoint {
        Endpoint::serve(move |request| {
            if !request.line.contains("/v1/messages") || request.line.contains("count_tokens") {
                return Reply::Ok("application/json", "{}".to_owned());
            }
            let body = request.json();
            let results = request.body.matches("\"tool_result\"").count();
            let block = match (&self, body.get("tools").is_some(), results) {
                (Claude::Fails(status), ..) => {
                    return Reply::Status(
                        *status,
                        json!({"type": "error", "error": {"type": "api_error", "message": "the scripted model endpoint failed on purpose"}}).to_string(),
                    );
                }
                (Claude::Hangs, ..) => return Reply::Hang,
                (Claude::Edits { file, .. }, true, 0) => {
                    tool_use("Read", &json!({ "file_path": in_cwd(&body, file) }))
                }
                (Claude::Edits { file, old, new }, true, 1) => tool_use(
                    "Edit",
                    &json!({ "file_path": in_cwd(&body, file), "old_string": old, "new_string": new }),
                ),
                (Claude::Runs(command), true, 0) => tool_use(
                    "Bash",
                    &json!({ "command": command, "description": "Run it" }),
                ),
                (Claude::WritesPlan(plan), true, 0) => tool_use(
                    "Edit",
                    &json!({ "file_path": plan_file(request), "old_string": "", "new_string": plan }),
                ),
                (Claude::WritesPlan(_), ..) => text_block("Planned."),
                (Claude::Says(text), ..) => text_block(text),
                _ => text_block("Changed the greeting."),
            };
            let stop = if block.0["content_block"]["type"] == "tool_use" {
                "tool_use"
            } else {
                "end_turn"
            };
            let events = [
                (
                    "message_start",
                    json!({"type": "message_start", "message": {"id": "msg_1", "type": "message", "role": "assistant", "model": "claude-sonnet-4-5", "content": [], "stop_reason": null, "stop_sequence": null, "usage": {"input_tokens": 10, "output_tokens": 1}}}),
                ),
                ("content_block_start", block.0),
                ("content_block_delta", block.1),
                (
                    "content_block_stop",
                    json!({"type": "content_block_stop", "index": 0}),
                ),
                (
                    "message_delta",
                    json!({"type": "message_delta", "delta": {"stop_reason": stop, "stop_sequence": null}, "usage": {"output_tokens": 5}}),
                ),
                ("message_stop", json!({"type": "message_stop"})),
            ];
            Reply::Ok("text/event-stream", sse(&events))
        })
    }
}

/// The plan file a planner's prompt names: "to the file `PATH`".
fn plan_file(request: &Request) -> String {
    let text = user_text(request);
    text.split("to the file `")
        .nth(1)
        .and_then(|rest| rest.split('`').next())
        .expect("the planner's prompt names its plan file")
        .to_owned()
}

/// `file` under the working directory Claude Code's system prompt names (`CWD: /path`).
fn in_cwd(body: &Value, file: &str) -> String {
    let system = body["system"].as_array().cloned().unwrap_or_default();
    let cwd = system
        .iter()
        .filter_map(|b| b["text"].as_str())
        .flat_map(str::lines)
        .find_map(|line| line.strip_prefix("CWD: "))
        .expect("Claude Code's system prompt names its working directory");
    format!("{cwd}/{file}")
}

fn tool_use(name: &str, input: &Value) -> (Value, Value) {
    (
        json!({"type": "content_block_start", "index": 0, "content_block": {"type": "tool_use", "id": format!("toolu_{name}"), "name": name, "input": {}}}),
        json!({"type": "content_block_delta", "index": 0, "delta": {"type": "input_json_delta", "partial_json": input.to_string()}}),
    )
}

fn text_block(text: &str) -> (Value, Value) {
    (
        json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
        json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": text}}),
    )
}

/// The user's text of a Messages request: the prompt the agent was given, as the model sees it.
pub fn user_text(request: &Request) -> String {
    let body = request.json();
    let mut text = String::new();
    for message in body["messages"].as_array().into_iter().flatten() {
        if message["role"] != "user" {
            continue;
        }
        match &message["content"] {
            Value::String(s) => text.push_str(s),
            Value::Array(blocks) => {
                for block in blocks {
                    if let Some(t) = block["text"].as_str() {
                        text.push_str(t);
                        text.push('\n');
                    }
                }
            }
            _ => {}
        }
    }
    text
}

/// A scripted OpenAI Responses endpoint (Codex's): the first turn runs `command` through the
/// `exec_command` tool, the next says it is done; `status` other than 200 fails every request.
pub fn codex_endpoint(command: &str, status: u16) -> Endpoint {
    let command = command.to_owned();
    Endpoint::serve(move |request| {
        if status != 200 {
            return Reply::Status(
                status,
                json!({"error": {"message": "the scripted model endpoint failed on purpose", "type": "server_error"}}).to_string(),
            );
        }
        let item = if request.body.contains("\"function_call_output\"") {
            json!({"type": "message", "id": "msg_1", "role": "assistant", "status": "completed", "content": [{"type": "output_text", "text": "Changed the greeting.", "annotations": []}]})
        } else {
            let cmd = json!({ "cmd": command });
            json!({"type": "function_call", "id": "fc_1", "call_id": "call_1", "name": "exec_command", "arguments": cmd.to_string(), "status": "completed"})
        };
        let events = [
            (
                "response.created",
                json!({"type": "response.created", "response": {"id": "resp_1"}}),
            ),
            (
                "response.output_item.added",
                json!({"type": "response.output_item.added", "output_index": 0, "item": item}),
            ),
            (
                "response.output_item.done",
                json!({"type": "response.output_item.done", "output_index": 0, "item": item}),
            ),
            (
                "response.completed",
                json!({"type": "response.completed", "response": {"id": "resp_1", "usage": {"input_tokens": 10, "input_tokens_details": {"cached_tokens": 0}, "output_tokens": 5, "output_tokens_details": {"reasoning_tokens": 0}, "total_tokens": 15}}}),
            ),
        ];
        Reply::Ok("text/event-stream", sse(&events))
    })
}

/// A scripted OpenAI chat completions endpoint. With `tool_command`, the first turn of a request
/// that offers tools calls the `bash` tool with it (opencode); otherwise every reply is `text`
/// (aider reads SEARCH/REPLACE blocks from it).
pub fn chat_endpoint(text: &str, tool_command: Option<&str>) -> Endpoint {
    let text = text.to_owned();
    let tool_command = tool_command.map(str::to_owned);
    Endpoint::serve(move |request| {
        if !request.line.contains("/chat/completions") {
            return Reply::Ok("application/json", "{}".to_owned());
        }
        let body = request.json();
        let answered = body["messages"]
            .as_array()
            .is_some_and(|m| m.iter().any(|m| m["role"] == "tool"));
        let chunk = |delta: Value, finish: Value| json!({"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": body["model"], "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]});
        let (delta, finish) = match &tool_command {
            Some(command) if body.get("tools").is_some() && !answered => (
                json!({"role": "assistant", "content": null, "tool_calls": [{"index": 0, "id": "call_1", "type": "function", "function": {"name": "bash", "arguments": json!({"command": command, "description": "Change the greeting"}).to_string()}}]}),
                "tool_calls",
            ),
            _ => (json!({"role": "assistant", "content": text}), "stop"),
        };
        let usage = json!({"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": body["model"], "choices": [], "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}});
        let stream = format!(
            "data: {}\n\ndata: {}\n\ndata: {usage}\n\ndata: [DONE]\n\n",
            chunk(delta, Value::Null),
            chunk(json!({}), json!(finish)),
        );
        Reply::Ok("text/event-stream", stream)
    })
}
