//! The command parser (`ade::command::parse_commands`) on any comment text. Properties:
//! - at most `MAX_COMMANDS_PER_COMMENT` results, then one `TooManyCommands`, and that error
//!   nowhere else;
//! - every accepted command holds only names the parser promises to have checked (task ids,
//!   agent names, hash prefixes) and instructions within their cap;
//! - every refusal's reply is one line with no control or direction characters, whatever the
//!   comment echoed into it; every accepted command's log form is one line too;
//! - a command without free text, written out canonically, parses back to itself.
#![no_main]

use ade::command::{
    Command, MAX_COMMANDS_PER_COMMENT, MAX_INSTRUCTIONS_CHARS, ParseError, RunTarget, SpecRef,
    is_valid_agent_name, is_valid_task_id, parse_commands,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let commands = parse_commands(text);
    assert!(
        commands.len() <= MAX_COMMANDS_PER_COMMENT + 1,
        "{} results",
        commands.len()
    );
    for (i, result) in commands.iter().enumerate() {
        match result {
            Err(ParseError::TooManyCommands) => assert_eq!(i, MAX_COMMANDS_PER_COMMENT),
            Err(error) => {
                let reply = error.to_string();
                assert!(one_clean_line(&reply), "reply {reply:?}");
            }
            Ok(command) => check(command),
        }
    }
    if commands.len() == MAX_COMMANDS_PER_COMMENT + 1 {
        assert_eq!(commands.last(), Some(&Err(ParseError::TooManyCommands)));
    }
});

fn check(command: &Command) {
    match command {
        Command::Plan {
            agent,
            instructions,
        } => {
            if let Some(agent) = agent {
                assert!(is_valid_agent_name(agent), "agent {agent:?}");
            }
            if let Some(instructions) = instructions {
                let chars = instructions.chars().count();
                assert!(
                    (1..=MAX_INSTRUCTIONS_CHARS).contains(&chars),
                    "{chars} chars"
                );
                assert_eq!(instructions.trim(), instructions);
            }
        }
        Command::Approve {
            version: Some(SpecRef::Hash(prefix)),
        } => {
            assert!((7..=64).contains(&prefix.len()), "hash prefix {prefix:?}");
            assert!(
                prefix
                    .bytes()
                    .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')),
                "hash prefix {prefix:?}"
            );
        }
        Command::Run {
            target: RunTarget::Task(task),
        }
        | Command::Cancel { task: Some(task) }
        | Command::AllowUnscanned { task } => assert!(is_valid_task_id(task), "task {task:?}"),
        Command::Retry { agent: Some(agent) } => {
            assert!(is_valid_agent_name(agent), "agent {agent:?}")
        }
        _ => {}
    }
    let logged = command.logged();
    assert!(one_clean_line(&logged), "logged {logged:?}");
    let has_free_text = matches!(
        command,
        Command::Plan {
            instructions: Some(_),
            ..
        }
    );
    if !has_free_text {
        let canonical = command.to_string();
        assert_eq!(
            parse_commands(&canonical),
            vec![Ok(command.clone())],
            "{canonical:?} does not parse back"
        );
    }
}

/// No line break, control or direction character: text that cannot forge a line of a log or
/// hide what it says.
fn one_clean_line(text: &str) -> bool {
    !text.chars().any(|c| {
        c.is_control()
            || matches!(c, '\u{2028}' | '\u{2029}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
    })
}
