//! The output readers on what the real CLIs printed (Claude Code 2.1.328, Codex 0.169.0,
//! opencode 1.18.33, aider 0.86.2), recorded against scripted model endpoints.

use super::*;

fn read(format: OutputFormat, output: &str) -> AgentOutput {
    let mut reader = format.reader();
    reader.observe(output.as_bytes());
    reader.finish()
}

#[test]
fn claude_code_stream_json_names_each_failed_tool_call_and_keeps_the_final_message() {
    let output = concat!(
        r#"{"type":"system","subtype":"init","cwd":"/w","tools":["Bash","Edit","Read"]}"#,
        "\n",
        r#"{"type":"assistant","message":{"content":[{"type":"tool_use","id":"toolu_1","name":"Edit","input":{"replace_all":false,"file_path":"/etc/passwd","old_string":"root","new_string":"x"}}]}}"#,
        "\n",
        r#"{"type":"user","message":{"role":"user","content":[{"type":"tool_result","content":"<tool_use_error>File has not been read yet. Read it first before writing to it.</tool_use_error>","is_error":true,"tool_use_id":"toolu_1"}]}}"#,
        "\n",
        r#"{"type":"assistant","message":{"content":[{"type":"tool_use","id":"toolu_2","name":"Bash","input":{"command":"cat /etc/shadow; false","description":"x"}}]}}"#,
        "\n",
        r#"{"type":"user","message":{"role":"user","content":[{"type":"tool_result","content":"cat in '/etc/shadow' was blocked.","is_error":true,"tool_use_id":"toolu_2"}]}}"#,
        "\n",
        r#"{"type":"user","message":{"role":"user","content":[{"type":"tool_result","content":[{"type":"text","text":"fine"}],"tool_use_id":"toolu_3"}]}}"#,
        "\n",
        r#"{"type":"result","subtype":"success","is_error":false,"terminal_reason":"completed","result":"Done.","permission_denials":[{"tool_name":"Bash","tool_use_id":"toolu_2","tool_input":{"command":"cat /etc/shadow; false"}}]}"#,
        "\n",
    );
    let seen = read(OutputFormat::ClaudeJson, output);
    assert_eq!(seen.failed_tool_calls, 2, "{seen:?}");
    assert_eq!(seen.errors, 0);
    assert_eq!(
        seen.details,
        [
            "Edit `/etc/passwd`: File has not been read yet. Read it first before writing to it.",
            "Bash `cat /etc/shadow; false`: cat in '/etc/shadow' was blocked.",
        ]
    );
    assert_eq!(seen.final_message.as_deref(), Some("Done."));
    assert_eq!(
        seen.describe(str::to_owned).unwrap(),
        "the agent reported 2 failing tool calls: Edit `/etc/passwd`: File has not been read yet. \
         Read it first before writing to it.; Bash `cat /etc/shadow; false`: cat in '/etc/shadow' \
         was blocked."
    );
}

#[test]
fn claude_code_json_reports_an_endpoint_failure_and_refusals() {
    let failed = r#"{"type":"result","subtype":"success","is_error":true,"terminal_reason":"api_error","api_error_status":500,"result":"API Error: 500 scripted failure. This is a server-side issue, usually temporary — try again in a moment.","permission_denials":[]}"#;
    let seen = read(OutputFormat::ClaudeJson, failed);
    assert_eq!((seen.failed_tool_calls, seen.errors), (0, 1));
    assert!(
        seen.details[0].starts_with("api_error: API Error: 500 scripted failure."),
        "{seen:?}"
    );
    assert_eq!(seen.final_message, None);

    let refused = r#"{"type":"result","is_error":false,"result":"Done.","permission_denials":[{"tool_name":"Bash","tool_use_id":"t","tool_input":{"command":"curl example.com"}}]}"#;
    let seen = read(OutputFormat::ClaudeJson, refused);
    assert_eq!(seen.failed_tool_calls, 1);
    assert_eq!(seen.details, ["Bash `curl example.com`: permission denied"]);
}

#[test]
fn codex_json_counts_commands_that_failed_and_the_failed_turn() {
    let output = concat!(
        "Reading additional input from stdin...\n",
        r#"{"type":"thread.started","thread_id":"01a2"}"#,
        "\n",
        r#"{"type":"item.completed","item":{"id":"item_0","type":"error","message":"Model metadata for `gpt-5-codex` not found. Defaulting to fallback metadata; this can degrade performance and cause issues."}}"#,
        "\n",
        r#"{"type":"item.completed","item":{"id":"item_1","type":"command_execution","command":"/bin/bash -lc 'ls /nonexistent-folder'","aggregated_output":"ls: cannot access '/nonexistent-folder': No such file or directory\n","exit_code":2,"status":"failed"}}"#,
        "\n",
        r#"{"type":"item.completed","item":{"id":"item_2","type":"command_execution","command":"/bin/bash -lc 'true'","aggregated_output":"","exit_code":0,"status":"completed"}}"#,
        "\n",
        r#"{"type":"item.completed","item":{"id":"item_3","type":"agent_message","text":"Changed the greeting."}}"#,
        "\n",
        r#"{"type":"turn.completed","usage":{"input_tokens":20}}"#,
        "\n",
    );
    let seen = read(OutputFormat::CodexJson, output);
    assert_eq!((seen.failed_tool_calls, seen.errors), (1, 1), "{seen:?}");
    assert_eq!(
        seen.details[1],
        "`/bin/bash -lc 'ls /nonexistent-folder'` exited 2: ls: cannot access \
         '/nonexistent-folder': No such file or directory"
    );
    assert_eq!(seen.final_message.as_deref(), Some("Changed the greeting."));

    let endpoint_down = concat!(
        r#"{"type":"turn.started"}"#,
        "\n",
        r#"{"type":"error","message":"Reconnecting... 1/5 (stream disconnected before completion)"}"#,
        "\n",
        r#"{"type":"error","message":"We're currently experiencing high demand, which may cause temporary errors."}"#,
        "\n",
        r#"{"type":"turn.failed","error":{"message":"We're currently experiencing high demand, which may cause temporary errors."}}"#,
        "\n",
    );
    let seen = read(OutputFormat::CodexJson, endpoint_down);
    assert_eq!(
        seen.errors, 1,
        "the reconnect messages are not errors of their own"
    );
    assert_eq!(
        seen.details,
        [
            "the turn failed: We're currently experiencing high demand, which may cause temporary errors."
        ]
    );

    let cut_short = r#"{"type":"error","message":"stream disconnected"}"#;
    assert_eq!(
        read(OutputFormat::CodexJson, cut_short).details,
        ["stream disconnected"]
    );
}

#[test]
fn opencode_json_counts_tool_errors_failed_shell_commands_and_error_events() {
    let output = concat!(
        r#"{"type":"step_start","part":{"type":"step-start"}}"#,
        "\n",
        r#"{"type":"tool_use","part":{"type":"tool","tool":"bash","callID":"c1","state":{"status":"completed","input":{"command":"make test","description":"test"},"output":"FAIL: 1 test\n","metadata":{"output":"FAIL","exit":2}}}}"#,
        "\n",
        r#"{"type":"tool_use","part":{"type":"tool","tool":"edit","callID":"c2","state":{"status":"error","input":{"filePath":"/w/a.txt"},"error":"oldString not found in content"}}}"#,
        "\n",
        r#"{"type":"tool_use","part":{"type":"tool","tool":"bash","callID":"c3","state":{"status":"completed","input":{"command":"true"},"output":"","metadata":{"exit":0}}}}"#,
        "\n",
        r#"{"type":"text","part":{"type":"text","text":"Changed the greeting."}}"#,
        "\n",
        r#"{"type":"error","error":{"name":"APIError","data":{"message":"scripted failure","statusCode":500}}}"#,
        "\n",
    );
    let seen = read(OutputFormat::OpencodeJson, output);
    assert_eq!((seen.failed_tool_calls, seen.errors), (2, 1), "{seen:?}");
    assert_eq!(
        seen.details,
        [
            "bash `make test` exited 2: FAIL: 1 test",
            "edit `/w/a.txt`: oldString not found in content",
            "APIError: scripted failure",
        ]
    );
    assert_eq!(seen.final_message.as_deref(), Some("Changed the greeting."));
}

#[test]
fn aider_text_counts_model_errors_and_edits_that_did_not_apply() {
    let output = "\
The LLM did not conform to the edit format.
https://aider.chat/docs/troubleshooting/edit-errors.html
# 1 SEARCH/REPLACE block failed to match!
## SearchReplaceNoExactMatch: This SEARCH block failed to exactly match lines in
hello.txt
Only 3 reflections allowed, stopping.
litellm.InternalServerError: InternalServerError: OpenAIException - scripted
The API provider's servers are down or overloaded.
Retrying in 1.0 seconds...
litellm.InternalServerError: InternalServerError: OpenAIException - scripted
Applied edit to hello.txt
";
    let seen = read(OutputFormat::AiderText, output);
    assert_eq!((seen.failed_tool_calls, seen.errors), (1, 2), "{seen:?}");
    assert_eq!(
        seen.details,
        [
            "edit: 1 SEARCH/REPLACE block failed to match!",
            "litellm.InternalServerError: InternalServerError: OpenAIException - scripted",
        ],
        "a retried error is described once"
    );
    assert_eq!(
        seen.describe(str::to_owned).unwrap(),
        "the agent reported 1 failing tool call and 2 errors: edit: 1 SEARCH/REPLACE block failed \
         to match!; litellm.InternalServerError: InternalServerError: OpenAIException - scripted"
    );
}

#[test]
fn lines_split_across_chunks_are_whole_and_an_endless_line_is_skipped() {
    let line = r#"{"type":"item.completed","item":{"type":"error","message":"boom"}}"#;
    let mut reader = OutputFormat::CodexJson.reader();
    for chunk in line.as_bytes().chunks(7) {
        reader.observe(chunk);
    }
    reader.observe(b"\n");
    let huge = format!(
        "{{\"type\":\"item.completed\",\"item\":{{\"type\":\"error\",\"message\":\"{}\"}}}}\n",
        "x".repeat(LINE_MAX)
    );
    for chunk in huge.as_bytes().chunks(1 << 20) {
        reader.observe(chunk);
    }
    // The last line has no newline: it counts when the agent has ended.
    reader.observe(line.replace("boom", "bang").as_bytes());
    let seen = reader.finish();
    assert_eq!(seen.errors, 2, "{:?}", seen.details);
    assert_eq!(seen.details, ["boom", "bang"]);
}

#[test]
fn text_output_is_not_read_and_details_are_capped() {
    let seen = read(
        OutputFormat::Text,
        "litellm.APIError: nothing to see\nerror: no\n",
    );
    assert!(!seen.has_trouble());
    assert_eq!(seen.describe(str::to_owned), None);

    let many: String = (0..20)
        .map(|i| {
            format!(
                "{{\"type\":\"item.completed\",\"item\":{{\"type\":\"error\",\"message\":\"error {i} {}\"}}}}\n",
                "y".repeat(400)
            )
        })
        .collect();
    let seen = read(OutputFormat::CodexJson, &many);
    assert_eq!(seen.errors, 20);
    assert_eq!(seen.details.len(), DETAILS_KEPT);
    assert!(
        seen.details
            .iter()
            .all(|d| d.chars().count() <= DETAIL_CHARS)
    );
    assert!(seen.details[0].ends_with('…'));
    for format in OutputFormat::ALL {
        assert_eq!(OutputFormat::from_name(format.as_str()), Some(format));
    }
    assert_eq!(OutputFormat::from_name("json"), None);
}

#[test]
fn claude_code_reports_what_the_session_cost_and_nonsense_costs_nothing() {
    let paid = r#"{"type":"result","subtype":"success","is_error":false,"result":"Done.","total_cost_usd":0.0421337,"permission_denials":[]}"#;
    assert_eq!(
        read(OutputFormat::ClaudeJson, paid).cost_micro_usd,
        Some(42_134)
    );
    let negative = r#"{"type":"result","is_error":false,"result":"Done.","total_cost_usd":-3}"#;
    assert_eq!(
        read(OutputFormat::ClaudeJson, negative).cost_micro_usd,
        None
    );
    let text = r#"{"type":"result","is_error":false,"result":"Done.","total_cost_usd":"free"}"#;
    assert_eq!(read(OutputFormat::ClaudeJson, text).cost_micro_usd, None);
}
