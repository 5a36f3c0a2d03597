//! Reading what an agent CLI reports about its own run. An agent can exit 0 after every tool call
//! it made failed (Codex does when its sandbox cannot start), or exit 1 with the reason only in its
//! own JSON; ade would then say "no changes" or "exited with code 1" and hide why. Each template
//! declares the format its program prints (`output = "claude-json"`, …); the [`OutputReader`]
//! sees the output as it streams (every byte, beyond the log's cap too) and keeps what went
//! wrong, and the agent's final message for the approval when the agent wrote no summary file.
//!
//! What is kept is the agent's own text, untrusted: the caller sanitizes it and masks secrets
//! before it reaches a reason, a run log or the forge. It is capped here: at most
//! [`DETAILS_KEPT`] details of at most [`DETAIL_CHARS`] characters, and lines longer than
//! [`LINE_MAX`] are skipped.

use std::collections::HashMap;
use std::fmt;

use serde_json::Value;

use crate::runner::env::OutputObserver;

/// The longest output line read; longer lines (a huge tool output echoed back) are skipped.
pub const LINE_MAX: usize = 4 << 20;
/// How many failing tool calls and errors are described; the rest are counted.
pub const DETAILS_KEPT: usize = 5;
/// The longest description of one failing tool call or error, in characters.
pub const DETAIL_CHARS: usize = 240;
/// The longest final message kept, in characters.
const FINAL_MESSAGE_CHARS: usize = 4000;
/// Tool calls whose names are remembered to describe a later failure (Claude Code's results name
/// only the call's id).
const CALLS_REMEMBERED: usize = 256;

/// How an agent's program reports its run on stdout and stderr, as its template declares it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum OutputFormat {
    /// Plain text: nothing is read from it (the exit status and the diff tell the outcome).
    #[default]
    Text,
    /// Claude Code's `--output-format json` or `stream-json`: tool results with `is_error`, the
    /// final `result` object with `is_error`, its text and `permission_denials`.
    ClaudeJson,
    /// Codex's `exec --json` lines: `command_execution` items with their exit codes, `error`
    /// items, `turn.failed`, the last `agent_message`.
    CodexJson,
    /// opencode's `run --format json` events: `tool_use` parts whose state is an error or whose
    /// shell command exited non-zero, `error` events, the last `text` part.
    OpencodeJson,
    /// aider's plain output: its model errors (`litellm.…Error`) and edits it could not apply.
    AiderText,
}

impl OutputFormat {
    /// Every format, in the order the configuration error lists them.
    pub const ALL: [OutputFormat; 5] = [
        OutputFormat::Text,
        OutputFormat::ClaudeJson,
        OutputFormat::CodexJson,
        OutputFormat::OpencodeJson,
        OutputFormat::AiderText,
    ];

    /// The name written in `ade.toml`.
    pub fn as_str(self) -> &'static str {
        match self {
            OutputFormat::Text => "text",
            OutputFormat::ClaudeJson => "claude-json",
            OutputFormat::CodexJson => "codex-json",
            OutputFormat::OpencodeJson => "opencode-json",
            OutputFormat::AiderText => "aider-text",
        }
    }

    /// The format written `name` in `ade.toml`.
    pub fn from_name(name: &str) -> Option<OutputFormat> {
        OutputFormat::ALL.into_iter().find(|f| f.as_str() == name)
    }

    /// A reader for one run's output.
    pub fn reader(self) -> OutputReader {
        OutputReader {
            format: self,
            partial: Vec::new(),
            skipping: false,
            calls: HashMap::new(),
            report: AgentOutput::default(),
            last_error_event: None,
        }
    }
}

impl fmt::Display for OutputFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What an agent's output said about its run.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AgentOutput {
    /// Tool calls the agent reported as failed (a command that exited non-zero, an edit that
    /// could not be applied, a call its permissions refused).
    pub failed_tool_calls: u32,
    /// Errors the agent reported (the model endpoint failed, the turn failed).
    pub errors: u32,
    /// The first failures and errors, in the agent's words, one line each, capped.
    pub details: Vec<String>,
    /// The agent's last message to the user, if its format has one.
    pub final_message: Option<String>,
    /// What the agent said the session cost, in micro-dollars, if its format says (Claude
    /// Code's `total_cost_usd`) and the value is a plausible cost.
    pub cost_micro_usd: Option<i64>,
}

impl AgentOutput {
    /// Whether the agent reported anything that went wrong.
    pub fn has_trouble(&self) -> bool {
        self.failed_tool_calls > 0 || self.errors > 0
    }

    /// One sentence on what went wrong, with the first distinct details passed through `clean`,
    /// for a run's reason and log: `the agent reported 3 failing tool calls and 1 error: …; …`.
    /// `None` when nothing did.
    pub fn describe(&self, clean: impl Fn(&str) -> String) -> Option<String> {
        if !self.has_trouble() {
            return None;
        }
        let count = |n: u32, one: &str, many: &str| match n {
            1 => format!("1 {one}"),
            n => format!("{n} {many}"),
        };
        let mut what = Vec::new();
        if self.failed_tool_calls > 0 {
            what.push(count(
                self.failed_tool_calls,
                "failing tool call",
                "failing tool calls",
            ));
        }
        if self.errors > 0 {
            what.push(count(self.errors, "error", "errors"));
        }
        let mut sentence = format!("the agent reported {}", what.join(" and "));
        if !self.details.is_empty() {
            let details: Vec<String> = self.details.iter().map(|d| clean(d)).collect();
            sentence.push_str(": ");
            sentence.push_str(&details.join("; "));
        }
        Some(sentence)
    }

    fn failed(&mut self, detail: String) {
        self.failed_tool_calls += 1;
        self.detail(detail);
    }

    fn error(&mut self, detail: String) {
        self.errors += 1;
        self.detail(detail);
    }

    /// Keeps a description unless enough are kept or the same one is (a retried call).
    fn detail(&mut self, detail: String) {
        let detail = flattened(&detail, DETAIL_CHARS);
        if self.details.len() < DETAILS_KEPT && !self.details.contains(&detail) {
            self.details.push(detail);
        }
    }
}

/// Reads one run's output as it streams, line by line, in the agent's declared format.
pub struct OutputReader {
    format: OutputFormat,
    partial: Vec<u8>,
    /// The current line passed [`LINE_MAX`]: the rest of it is dropped.
    skipping: bool,
    /// Claude Code's tool calls by id: the tool and what it was asked, for a later failure.
    calls: HashMap<String, String>,
    report: AgentOutput,
    /// Codex's last top-level `error` event, reported only if no `turn.failed` says it again.
    last_error_event: Option<String>,
}

impl OutputObserver for OutputReader {
    fn observe(&mut self, chunk: &[u8]) {
        if self.format == OutputFormat::Text {
            return;
        }
        let mut rest = chunk;
        while let Some(end) = rest.iter().position(|b| *b == b'\n') {
            self.take(&rest[..end]);
            if !self.skipping {
                let line = std::mem::take(&mut self.partial);
                self.line(&String::from_utf8_lossy(&line));
            }
            self.partial.clear();
            self.skipping = false;
            rest = &rest[end + 1..];
        }
        self.take(rest);
    }
}

impl OutputReader {
    /// What the output said, once the agent has ended (a last line without a newline counts).
    pub fn finish(&mut self) -> AgentOutput {
        if !self.partial.is_empty() && !self.skipping {
            let line = std::mem::take(&mut self.partial);
            self.line(&String::from_utf8_lossy(&line));
        }
        if let Some(error) = self.last_error_event.take() {
            self.report.error(error);
        }
        std::mem::take(&mut self.report)
    }

    fn take(&mut self, bytes: &[u8]) {
        if self.skipping {
            return;
        }
        if self.partial.len() + bytes.len() > LINE_MAX {
            self.partial.clear();
            self.skipping = true;
            return;
        }
        self.partial.extend_from_slice(bytes);
    }

    fn line(&mut self, line: &str) {
        let line = line.trim_end_matches('\r');
        match self.format {
            OutputFormat::Text => {}
            OutputFormat::ClaudeJson => {
                if let Some(event) = json_object(line) {
                    self.claude(&event);
                }
            }
            OutputFormat::CodexJson => {
                if let Some(event) = json_object(line) {
                    self.codex(&event);
                }
            }
            OutputFormat::OpencodeJson => {
                if let Some(event) = json_object(line) {
                    self.opencode(&event);
                }
            }
            OutputFormat::AiderText => self.aider(line),
        }
    }

    fn claude(&mut self, event: &Value) {
        match text(event, &["type"]) {
            Some("assistant") => {
                for block in array(event, &["message", "content"]) {
                    if text(block, &["type"]) == Some("tool_use")
                        && let Some(id) = text(block, &["id"])
                        && self.calls.len() < CALLS_REMEMBERED
                    {
                        let name = text(block, &["name"]).unwrap_or("a tool");
                        let input = block.get("input").map(describe_input).unwrap_or_default();
                        self.calls.insert(id.to_owned(), format!("{name}{input}"));
                    }
                }
            }
            Some("user") => {
                for block in array(event, &["message", "content"]) {
                    if text(block, &["type"]) == Some("tool_result")
                        && block.get("is_error").and_then(Value::as_bool) == Some(true)
                    {
                        let call = text(block, &["tool_use_id"])
                            .and_then(|id| self.calls.get(id))
                            .cloned()
                            .unwrap_or_else(|| "a tool call".to_owned());
                        let said = block.get("content").map(content_text).unwrap_or_default();
                        let said = said
                            .replace("<tool_use_error>", "")
                            .replace("</tool_use_error>", "");
                        self.report.failed(format!("{call}: {}", said.trim()));
                    }
                }
            }
            Some("result") => {
                let said = text(event, &["result"]).unwrap_or_default();
                if let Some(cost) = event.get("total_cost_usd").and_then(Value::as_f64) {
                    self.report.cost_micro_usd = crate::limits::budget::micro_usd(cost);
                }
                if event.get("is_error").and_then(Value::as_bool) == Some(true) {
                    let reason = text(event, &["terminal_reason"])
                        .or(text(event, &["subtype"]))
                        .unwrap_or("error");
                    self.report.error(format!("{reason}: {said}"));
                } else if !said.trim().is_empty() {
                    self.report.final_message = Some(capped(said, FINAL_MESSAGE_CHARS));
                }
                // `--output-format json` reports refusals only here; `stream-json` also as the
                // failed tool results counted above.
                if self.report.failed_tool_calls == 0 {
                    for denial in array(event, &["permission_denials"]) {
                        let tool = text(denial, &["tool_name"]).unwrap_or("a tool");
                        let input = denial
                            .get("tool_input")
                            .map(describe_input)
                            .unwrap_or_default();
                        self.report
                            .failed(format!("{tool}{input}: permission denied"));
                    }
                }
            }
            _ => {}
        }
    }

    fn codex(&mut self, event: &Value) {
        match text(event, &["type"]) {
            Some("item.completed") => {
                let Some(item) = event.get("item") else {
                    return;
                };
                match text(item, &["type"]) {
                    Some("command_execution") => {
                        let code = item.get("exit_code").and_then(Value::as_i64);
                        let failed = text(item, &["status"]) == Some("failed");
                        if code.is_some_and(|c| c != 0) || failed {
                            let command = text(item, &["command"]).unwrap_or("a command");
                            let output = text(item, &["aggregated_output"]).unwrap_or_default();
                            let ended = code.map_or("failed".to_owned(), |c| format!("exited {c}"));
                            self.report
                                .failed(format!("`{command}` {ended}: {}", last_lines(output, 3)));
                        }
                    }
                    Some("file_change") | Some("mcp_tool_call")
                        if text(item, &["status"]) == Some("failed") =>
                    {
                        let what = text(item, &["type"]).unwrap_or("a tool call");
                        let said = text(item, &["error", "message"]).unwrap_or("failed");
                        self.report.failed(format!("{what}: {said}"));
                    }
                    Some("error") => {
                        let said = text(item, &["message"]).unwrap_or("an error");
                        self.report.error(said.to_owned());
                    }
                    Some("agent_message") => {
                        if let Some(said) = text(item, &["text"]).filter(|t| !t.trim().is_empty()) {
                            self.report.final_message = Some(capped(said, FINAL_MESSAGE_CHARS));
                        }
                    }
                    _ => {}
                }
            }
            Some("turn.failed") => {
                let said = text(event, &["error", "message"]).unwrap_or("the turn failed");
                self.last_error_event = None;
                self.report.error(format!("the turn failed: {said}"));
            }
            Some("error") => {
                // Codex says "Reconnecting... 1/5" as errors before it gives up with
                // `turn.failed`: only the last one counts, and only if nothing followed it.
                self.last_error_event = text(event, &["message"]).map(str::to_owned);
            }
            _ => {}
        }
    }

    fn opencode(&mut self, event: &Value) {
        match text(event, &["type"]) {
            Some("tool_use") => {
                let Some(part) = event.get("part") else {
                    return;
                };
                let tool = text(part, &["tool"]).unwrap_or("a tool");
                let input = part
                    .get("state")
                    .and_then(|s| s.get("input"))
                    .map(describe_input)
                    .unwrap_or_default();
                match text(part, &["state", "status"]) {
                    Some("error") => {
                        let said = text(part, &["state", "error"]).unwrap_or("failed");
                        self.report.failed(format!("{tool}{input}: {said}"));
                    }
                    Some("completed") => {
                        let exit = part
                            .get("state")
                            .and_then(|s| s.get("metadata"))
                            .and_then(|m| m.get("exit"))
                            .and_then(Value::as_i64);
                        if let Some(code) = exit.filter(|c| *c != 0) {
                            let output = text(part, &["state", "output"]).unwrap_or_default();
                            self.report.failed(format!(
                                "{tool}{input} exited {code}: {}",
                                last_lines(output, 3)
                            ));
                        }
                    }
                    _ => {}
                }
            }
            Some("error") => {
                let error = event.get("error");
                let name = error.and_then(|e| text(e, &["name"])).unwrap_or("an error");
                let said = error
                    .and_then(|e| text(e, &["data", "message"]))
                    .unwrap_or_default();
                self.report.error(format!("{name}: {said}"));
            }
            Some("text") => {
                if let Some(said) = text(event, &["part", "text"]).filter(|t| !t.trim().is_empty())
                {
                    self.report.final_message = Some(capped(said, FINAL_MESSAGE_CHARS));
                }
            }
            _ => {}
        }
    }

    fn aider(&mut self, line: &str) {
        let line = line.trim();
        if line.starts_with("litellm.") && line.contains("Error") {
            self.report.error(line.to_owned());
        } else if let Some(rest) = line.strip_prefix("# ")
            && let Some((count, said)) = rest.split_once(' ')
            && said.starts_with("SEARCH/REPLACE block")
            && said.contains("failed to match")
        {
            // aider says this once per reflection, each time its model tried again.
            let count: u32 = count.parse().unwrap_or(1);
            for _ in 0..count.max(1) {
                self.report.failed(format!("edit: {rest}"));
            }
        }
    }
}

/// The line as a JSON object, if it is one.
fn json_object(line: &str) -> Option<Value> {
    let line = line.trim();
    if !line.starts_with('{') {
        return None;
    }
    serde_json::from_str::<Value>(line)
        .ok()
        .filter(Value::is_object)
}

/// The string at `path` in `value`.
fn text<'a>(value: &'a Value, path: &[&str]) -> Option<&'a str> {
    path.iter()
        .try_fold(value, |v, key| v.get(key))
        .and_then(Value::as_str)
}

/// The array at `path` in `value`, or nothing.
fn array<'a>(value: &'a Value, path: &[&str]) -> impl Iterator<Item = &'a Value> {
    path.iter()
        .try_fold(value, |v, key| v.get(key))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
}

/// A tool result's content: a string, or text blocks.
fn content_text(content: &Value) -> String {
    match content {
        Value::String(s) => s.clone(),
        Value::Array(blocks) => blocks
            .iter()
            .filter_map(|b| text(b, &["text"]))
            .collect::<Vec<_>>()
            .join(" "),
        _ => String::new(),
    }
}

/// What a tool was asked, briefly: its command or file, in backticks after the tool's name.
fn describe_input(input: &Value) -> String {
    ["command", "cmd", "file_path", "filePath", "path", "pattern"]
        .iter()
        .find_map(|key| text(input, &[key]))
        .map(|what| format!(" `{}`", flattened(what, 80)))
        .unwrap_or_default()
}

/// The last `n` non-empty lines of `text`, joined on one line.
fn last_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let start = lines.len().saturating_sub(n);
    lines[start..].join(" / ")
}

/// `text` on one line (line breaks as spaces), at most `max` characters, with `…` when cut. The
/// caller sanitizes and masks the whole description afterwards (`prompt::one_line` is the one
/// that sanitizes).
fn flattened(text: &str, max: usize) -> String {
    let flat: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    capped(&flat, max)
}

fn capped(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut cut: String = text.chars().take(max.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

#[cfg(test)]
mod tests;
