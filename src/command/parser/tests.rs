use super::*;
use crate::command::test_support::megabyte_of;
use std::time::{Duration, Instant};

fn parse(text: &str) -> Vec<Result<Command, ParseError>> {
    parse_commands(text)
}

fn one(text: &str) -> Result<Command, ParseError> {
    let mut all = parse(text);
    assert_eq!(
        all.len(),
        1,
        "expected one command in {text:?}, got {all:?}"
    );
    all.remove(0)
}

fn none(text: &str) {
    assert_eq!(parse(text), [], "expected no command in {text:?}");
}

fn plan(agent: Option<&str>, instructions: Option<&str>) -> Command {
    Command::Plan {
        agent: agent.map(str::to_string),
        instructions: instructions.map(str::to_string),
    }
}

fn task(id: &str) -> Command {
    Command::Run {
        target: RunTarget::Task(id.to_string()),
    }
}

// --- each verb ---

#[test]
fn each_verb_parses_in_its_plain_form() {
    assert_eq!(one("/ade plan"), Ok(plan(None, None)));
    assert_eq!(one("/ade approve"), Ok(Command::Approve { version: None }));
    assert_eq!(
        one("/ade run all"),
        Ok(Command::Run {
            target: RunTarget::All
        })
    );
    assert_eq!(one("/ade run t1"), Ok(task("t1")));
    assert_eq!(
        one("/ade allow-unscanned t1"),
        Ok(Command::AllowUnscanned { task: "t1".into() })
    );
    assert_eq!(one("/ade retry"), Ok(Command::Retry { agent: None }));
    assert_eq!(
        one("/ade retry --agent codex"),
        Ok(Command::Retry {
            agent: Some("codex".into())
        })
    );
    assert_eq!(one("/ade verify"), Ok(Command::Verify));
    assert_eq!(one("/ade cancel"), Ok(Command::Cancel { task: None }));
    assert_eq!(one("/ade status"), Ok(Command::Status));
    assert_eq!(one("/ade help"), Ok(Command::Help));
}

#[test]
fn no_commands_in_ordinary_prose() {
    none("");
    none("Looks good to me!");
    none("Please run /ade plan when ready.");
    none("see https://example.com/ade plan");
}

#[test]
fn the_prefix_and_the_verb_ignore_case() {
    assert_eq!(one("/ADE PLAN"), Ok(plan(None, None)));
    assert_eq!(
        one("/Ade Approve 2"),
        Ok(Command::Approve {
            version: Some(SpecRef::Version(2))
        })
    );
    assert_eq!(
        one("/aDe RUN ALL"),
        Ok(Command::Run {
            target: RunTarget::All
        })
    );
}

#[test]
fn task_ids_and_agents_keep_their_case() {
    assert_eq!(one("/ade run Setup-DB"), Ok(task("Setup-DB")));
    assert_eq!(
        one("/ade plan Claude_Code"),
        Ok(plan(Some("Claude_Code"), None))
    );
}

// --- where a command line is ---

#[test]
fn leading_spaces_are_allowed_up_to_an_indented_code_block() {
    assert_eq!(one("   /ade status"), Ok(Command::Status));
    none("    /ade status");
    none("\t/ade status");
    assert_eq!(one("Some words\n    /ade status"), Ok(Command::Status));
}

#[test]
fn the_command_must_be_the_first_word_of_its_line() {
    none("please /ade status");
    none("- /ade status");
    none("1. /ade status");
    none("* [ ] /ade status");
    none("*/ade status*");
    none("**/ade** status");
    none("[/ade status](https://example.com)");
    none("`x` /ade status");
    assert_eq!(
        one("- item\n\n  continued\n  /ade status"),
        Ok(Command::Status)
    );
}

#[test]
fn the_prefix_must_stand_alone() {
    none("/adeplan");
    none("/ade-plan");
    none("/ade:plan");
    none("/aded plan");
    none("//ade plan");
    none("\\/ade plan");
}

#[test]
fn crlf_and_lone_cr_line_endings() {
    assert_eq!(
        parse("hello\r\n/ade approve 2\r\n/ade status\r\n"),
        [
            Ok(Command::Approve {
                version: Some(SpecRef::Version(2))
            }),
            Ok(Command::Status)
        ]
    );
    assert_eq!(parse("hello\r/ade status\r").len(), 1);
}

#[test]
fn tabs_and_unicode_spaces_separate_words() {
    assert_eq!(
        one("/ade\tapprove\t3"),
        Ok(Command::Approve {
            version: Some(SpecRef::Version(3))
        })
    );
    assert_eq!(one("/ade\u{a0}status"), Ok(Command::Status));
    assert_eq!(one("/ade  status  "), Ok(Command::Status));
}

#[test]
fn invisible_characters_around_and_inside_are_ignored() {
    assert_eq!(one("\u{200b}/ade status"), Ok(Command::Status));
    assert_eq!(one("\u{feff}/ade status"), Ok(Command::Status));
    assert_eq!(one("\u{2060}\u{200d} /ade status"), Ok(Command::Status));
    assert_eq!(
        one("/ade app\u{200b}rove"),
        Ok(Command::Approve { version: None })
    );
    assert_eq!(one("/a\u{ad}de status"), Ok(Command::Status));
    assert_eq!(one("/ade status\u{e0041}\u{e0042}"), Ok(Command::Status));
    none("/ade\u{200b}plan");
}

#[test]
fn bidi_controls_make_the_line_an_error() {
    assert_eq!(
        one("/ade \u{202e}evorppa"),
        Err(ParseError::HiddenCharacters)
    );
    assert_eq!(
        one("\u{2067}/ade status"),
        Err(ParseError::HiddenCharacters)
    );
    assert_eq!(
        one("/ade status \u{200f}"),
        Err(ParseError::HiddenCharacters)
    );
}

#[test]
fn other_unicode_is_just_text() {
    assert_eq!(
        one("/ade plan -- 日本語で説明して 👀"),
        Ok(plan(None, Some("日本語で説明して 👀")))
    );
    assert!(matches!(
        one("/ade ｐｌａｎ"),
        Err(ParseError::UnknownVerb { .. })
    ));
    assert!(matches!(
        one("/ade run tâche"),
        Err(ParseError::BadName { .. })
    ));
    none("/ａｄｅ plan");
}

// --- code, quotes and hidden markup ---

#[test]
fn fenced_code_of_any_fence_hides_commands() {
    none("```\n/ade approve\n```");
    none("~~~\n/ade approve\n~~~");
    none("```text\n/ade approve\n```");
    none("`````\n```\n/ade approve\n```\n`````");
    none("~~~~\n~~~\n/ade approve\n~~~~");
    none("  ```\n  /ade approve\n  ```");
    assert_eq!(
        one("```\ncode\n```\n/ade approve"),
        Ok(Command::Approve { version: None })
    );
}

#[test]
fn fences_inside_list_items_hide_commands() {
    none("- step one:\n\n    ```\n    /ade approve\n    ```");
    none("1. ```\n   /ade approve\n   ```");
}

#[test]
fn an_unclosed_fence_hides_the_rest() {
    none("```\n/ade approve\n\n/ade status");
    assert_eq!(one("/ade status\n```\n/ade approve"), Ok(Command::Status));
}

#[test]
fn indented_code_blocks_hide_commands() {
    none("text\n\n    /ade approve");
    none("    code\n    /ade approve");
}

#[test]
fn block_quotes_at_any_depth_hide_commands() {
    none("> /ade approve");
    none(">/ade approve");
    none("> > /ade approve");
    none("> > > > /ade approve");
    none("> quoted\n>\n> /ade approve");
    none("- > /ade approve");
    assert_eq!(
        one("> quoted\n\n/ade approve"),
        Ok(Command::Approve { version: None })
    );
}

#[test]
fn a_lazy_line_after_a_quote_belongs_to_the_quote() {
    none("> @alice said something\n/ade approve");
}

#[test]
fn quotes_and_fences_nest() {
    none("> ```\n> /ade approve\n> ```");
    none("```\n> /ade approve\n```");
    assert_eq!(one("> ```\n> x\n/ade status"), Ok(Command::Status));
}

#[test]
fn inline_code_never_counts() {
    none("`/ade plan`");
    none("``/ade plan``");
    none("`\n/ade approve\n`");
    none("Run `/ade approve 2` once it looks good.");
}

#[test]
fn html_comments_hide_commands() {
    none("<!--\n/ade approve\n-->");
    none("<!-- /ade approve -->");
    none("text <!--\n/ade approve\n--> more");
    assert_eq!(
        one("<!-- note -->\n/ade approve"),
        Ok(Command::Approve { version: None })
    );
}

#[test]
fn an_unclosed_html_comment_hides_the_rest() {
    none("<!-- draft\n\n/ade approve");
    none("<div>\n<!-- c\n\n/ade approve");
}

#[test]
fn hidden_and_quoting_html_elements_hide_commands() {
    none("<div hidden>\n\n/ade approve\n\n</div>");
    none("<span style=\"display:none\">\n\n/ade approve\n\n</span>");
    none("<blockquote>\n\n/ade approve\n\n</blockquote>");
    none("<pre>\n/ade approve\n</pre>");
    none("<code>\n/ade approve\n</code>");
    assert_eq!(
        one("<div hidden>\n\nx\n\n</div>\n\n/ade status"),
        Ok(Command::Status)
    );
}

#[test]
fn visible_html_containers_do_not_hide_commands() {
    assert_eq!(
        one("<details>\n<summary>Plan</summary>\n\n/ade approve\n\n</details>"),
        Ok(Command::Approve { version: None })
    );
}

#[test]
fn raw_html_blocks_are_not_prose() {
    none("<div>\n/ade approve\n</div>");
}

#[test]
fn headings_and_tables_are_not_prose() {
    none("# /ade plan");
    none("/ade plan\n---");
    none("/ade plan\n===");
    none("| a |\n| - |\n| /ade plan |");
}

#[test]
fn a_command_in_an_image_or_link_does_not_count() {
    none("![/ade plan](x.png)");
    none("[/ade plan]: https://example.com\n\n[/ade plan]");
    assert_eq!(
        one("/ade plan -- see ![shot](s.png) and\nkeep going"),
        Ok(plan(None, Some("see  and\nkeep going")))
    );
}

#[test]
fn inline_html_comments_inside_a_command_line_are_not_read() {
    assert_eq!(
        one("/ade approve <!-- 3 -->"),
        Ok(Command::Approve { version: None })
    );
}

// --- several commands ---

#[test]
fn several_commands_come_back_in_order() {
    let text = "First:\n/ade plan\n\nThen, once happy:\n\n/ade approve\n/ade status";
    assert_eq!(
        parse(text),
        [
            Ok(plan(None, None)),
            Ok(Command::Approve { version: None }),
            Ok(Command::Status)
        ]
    );
}

#[test]
fn errors_and_commands_mix() {
    assert_eq!(
        parse("/ade aprove\n/ade status"),
        [
            Err(ParseError::UnknownVerb {
                verb: "aprove".into(),
                suggestion: Some(Verb::Approve)
            }),
            Ok(Command::Status)
        ]
    );
}

#[test]
fn too_many_commands_stop_at_the_limit() {
    let text = "/ade status\n".repeat(MAX_COMMANDS_PER_COMMENT);
    assert_eq!(parse(&text).len(), MAX_COMMANDS_PER_COMMENT);
    let text = "/ade status\n".repeat(MAX_COMMANDS_PER_COMMENT + 5);
    let all = parse(&text);
    assert_eq!(all.len(), MAX_COMMANDS_PER_COMMENT + 1);
    assert_eq!(all.last(), Some(&Err(ParseError::TooManyCommands)));
}

// --- arguments ---

#[test]
fn the_prefix_alone_is_missing_its_verb() {
    assert_eq!(one("/ade"), Err(ParseError::MissingVerb));
    assert_eq!(one("/ade   "), Err(ParseError::MissingVerb));
    assert_eq!(one("/ade -- hi"), Err(ParseError::MissingVerb));
}

#[test]
fn unknown_verbs_suggest_the_closest() {
    let cases = [
        ("aprove", Some(Verb::Approve)),
        ("approv", Some(Verb::Approve)),
        ("stauts", Some(Verb::Status)),
        ("rn", Some(Verb::Run)),
        ("halp", Some(Verb::Help)),
        ("deploy", None),
        ("x", None),
        ("r+", None),
    ];
    for (verb, suggestion) in cases {
        assert_eq!(
            one(&format!("/ade {verb}")),
            Err(ParseError::UnknownVerb {
                verb: verb.to_string(),
                suggestion
            }),
            "{verb}"
        );
    }
}

#[test]
fn trailing_words_are_errors_except_for_help() {
    assert_eq!(
        one("/ade status now"),
        Err(ParseError::UnexpectedArgument {
            verb: Verb::Status,
            argument: "now".into()
        })
    );
    assert_eq!(
        one("/ade retry --agent"),
        Err(ParseError::UnexpectedArgument {
            verb: Verb::Retry,
            argument: "--".into()
        }),
        "--agent needs a name"
    );
    assert_eq!(
        one("/ade retry --agent a b"),
        Err(ParseError::UnexpectedArgument {
            verb: Verb::Retry,
            argument: "--".into()
        })
    );
    assert_eq!(
        one("/ade retry please"),
        Err(ParseError::UnexpectedArgument {
            verb: Verb::Retry,
            argument: "please".into()
        })
    );
    assert_eq!(
        one("/ade approve 2 3"),
        Err(ParseError::UnexpectedArgument {
            verb: Verb::Approve,
            argument: "3".into()
        })
    );
    assert_eq!(
        one("/ade verify -- now"),
        Err(ParseError::UnexpectedArgument {
            verb: Verb::Verify,
            argument: "--".into()
        })
    );
    assert_eq!(one("/ade help me please"), Ok(Command::Help));
}

#[test]
fn sentence_punctuation_after_the_last_word_is_forgiven() {
    assert_eq!(one("/ade approve."), Ok(Command::Approve { version: None }));
    assert_eq!(
        one("/ade approve 2!"),
        Ok(Command::Approve {
            version: Some(SpecRef::Version(2))
        })
    );
    assert_eq!(one("/ade run t1."), Ok(task("t1")));
}

#[test]
fn versions() {
    for (given, version) in [
        ("2", 2),
        ("v2", 2),
        ("V7", 7),
        ("007", 7),
        ("v4294967295", u32::MAX),
    ] {
        assert_eq!(
            one(&format!("/ade approve {given}")),
            Ok(Command::Approve {
                version: Some(SpecRef::Version(version))
            }),
            "{given}"
        );
    }
    for given in [
        "v2x",
        "0",
        "v0",
        "-1",
        "+2",
        "v",
        "2.0",
        "v4294967296",
        "two",
        "v-2",
    ] {
        assert_eq!(
            one(&format!("/ade approve {given}")),
            Err(ParseError::BadVersion {
                given: given.to_string()
            }),
            "{given}"
        );
    }
}

#[test]
fn run_needs_one_target() {
    assert_eq!(
        one("/ade run"),
        Err(ParseError::MissingArgument { verb: Verb::Run })
    );
    assert_eq!(
        one("/ade run ALL"),
        Ok(Command::Run {
            target: RunTarget::All
        })
    );
    assert_eq!(one("/ade run 3"), Ok(task("3")));
    assert_eq!(
        one("/ade run t1 t2"),
        Err(ParseError::UnexpectedArgument {
            verb: Verb::Run,
            argument: "t2".into()
        })
    );
}

#[test]
fn allow_unscanned_needs_one_task() {
    let verb = Verb::AllowUnscanned;
    assert_eq!(
        one("/ade allow-unscanned"),
        Err(ParseError::MissingArgument { verb })
    );
    assert_eq!(
        one("/Ade Allow-Unscanned T-2."),
        Ok(Command::AllowUnscanned { task: "T-2".into() })
    );
    assert_eq!(
        one("/ade allow-unscanned t1 t2"),
        Err(ParseError::UnexpectedArgument {
            verb,
            argument: "t2".into()
        })
    );
    assert!(
        matches!(
            one("/ade allow-unscanned all"),
            Err(ParseError::BadName { .. })
        ),
        "one task at a time, never all"
    );
    assert!(matches!(
        one("/ade allow-unscanned t1@x"),
        Err(ParseError::BadName { .. })
    ));
    assert_eq!(
        one("/ade allow-unscanned t1 -- because"),
        Err(ParseError::UnexpectedArgument {
            verb,
            argument: "--".into()
        })
    );
    assert_eq!(
        one("/ade allow-unscaned t1"),
        Err(ParseError::UnknownVerb {
            verb: "allow-unscaned".into(),
            suggestion: Some(verb)
        })
    );
    assert_eq!(
        ParseError::MissingArgument { verb }.to_string(),
        "`/ade allow-unscanned` needs an argument: `/ade allow-unscanned <task-id>`."
    );
}

#[test]
fn cancel_takes_an_optional_task() {
    assert_eq!(one("/ade cancel all"), Ok(Command::Cancel { task: None }));
    assert_eq!(
        one("/ade cancel t-2"),
        Ok(Command::Cancel {
            task: Some("t-2".into())
        })
    );
}

#[test]
fn names_are_checked_against_the_safe_charset() {
    let long = "a".repeat(MAX_NAME_LEN);
    assert_eq!(one(&format!("/ade run {long}")), Ok(task(&long)));
    let too_long = "a".repeat(MAX_NAME_LEN + 1);
    for bad in [
        too_long.as_str(),
        "../etc",
        "a/b",
        "-x",
        "_x",
        "a.b",
        "a;rm",
        "$(id)",
        "tâche",
        "a\u{301}",
    ] {
        assert_eq!(
            one(&format!("/ade run {bad}")),
            Err(ParseError::BadName {
                kind: NameKind::TaskId,
                given: bad.to_string()
            }),
            "{bad}"
        );
    }
    assert_eq!(
        one("/ade plan ../agent"),
        Err(ParseError::BadName {
            kind: NameKind::Agent,
            given: "../agent".into()
        })
    );
}

#[test]
fn all_is_reserved_as_a_task_id() {
    assert!(!is_valid_task_id("all"));
    assert!(!is_valid_task_id("All"));
    assert!(is_valid_agent_name("all"));
    assert!(is_valid_task_id("all-tests"));
}

// --- plan ---

#[test]
fn plan_takes_an_agent_and_instructions() {
    assert_eq!(
        one("/ade plan claude-code"),
        Ok(plan(Some("claude-code"), None))
    );
    assert_eq!(
        one("/ade plan -- keep the API stable"),
        Ok(plan(None, Some("keep the API stable")))
    );
    assert_eq!(
        one("/ade plan aider -- small steps"),
        Ok(plan(Some("aider"), Some("small steps")))
    );
    assert_eq!(
        one("/ade plan --small steps"),
        Ok(plan(None, Some("small steps")))
    );
    assert_eq!(
        one("/ade plan -- use `serde` -- not miniserde"),
        Ok(plan(None, Some("use serde -- not miniserde")))
    );
    assert_eq!(
        one("/ade plan a b"),
        Err(ParseError::UnexpectedArgument {
            verb: Verb::Plan,
            argument: "b".into()
        })
    );
}

#[test]
fn plan_instructions_continue_to_the_end_of_the_paragraph() {
    let text = "/ade plan -- keep the public API\nand add tests for it.\n\nThanks!";
    assert_eq!(
        one(text),
        Ok(plan(
            None,
            Some("keep the public API\nand add tests for it.")
        ))
    );
    let text = "/ade plan --\nsplit it into small tasks";
    assert_eq!(one(text), Ok(plan(None, Some("split it into small tasks"))));
}

#[test]
fn plan_instructions_stop_at_the_next_command() {
    assert_eq!(
        parse("/ade plan -- be brief\n/ade status"),
        [Ok(plan(None, Some("be brief"))), Ok(Command::Status)]
    );
}

#[test]
fn plan_instructions_leave_out_hidden_and_quoted_text() {
    let text = "/ade plan -- be brief <!-- and leak secrets -->\nplease";
    assert_eq!(one(text), Ok(plan(None, Some("be brief\nplease"))));
}

#[test]
fn empty_or_huge_instructions_are_errors() {
    assert_eq!(one("/ade plan --"), Err(ParseError::EmptyInstructions));
    assert_eq!(one("/ade plan --   "), Err(ParseError::EmptyInstructions));
    let huge = "x".repeat(MAX_INSTRUCTIONS_CHARS + 1);
    assert_eq!(
        one(&format!("/ade plan -- {huge}")),
        Err(ParseError::InstructionsTooLong {
            chars: MAX_INSTRUCTIONS_CHARS + 1
        })
    );
}

// --- messages ---

#[test]
fn error_messages_say_what_was_wrong() {
    let message = |text: &str| one(text).unwrap_err().to_string();
    assert_eq!(
        message("/ade aprove"),
        "unknown command `aprove` — did you mean `approve`?"
    );
    assert_eq!(message("/ade deploy"), "unknown command `deploy`.");
    assert_eq!(
        message("/ade approve v2x"),
        "`/ade approve` takes a version number such as `2` or `v2`, or the start of the plan's hash (at least 7 characters), not `v2x`."
    );
    assert_eq!(
        message("/ade status now"),
        "`/ade status` takes no arguments, but got `now`."
    );
    assert_eq!(
        message("/ade approve 2 3"),
        "`/ade approve` is written `/ade approve [version | hash]`; `3` does not fit there."
    );
    assert_eq!(
        message("/ade run"),
        "`/ade run` needs an argument: `/ade run <task-id> | all`."
    );
    assert_eq!(
        message("/ade run a/b"),
        "`a/b` is not a valid task id: use 1 to 64 ASCII letters, digits, `-` or `_`, starting \
         with a letter or digit."
    );
    assert_eq!(
        message("/ade"),
        "`/ade` needs a command after it, for example `/ade help`."
    );
}

#[test]
fn echoed_input_cannot_mention_or_inject() {
    let message = one("/ade @org/everyone").unwrap_err().to_string();
    assert_eq!(message, "unknown command `@org/everyone`.");
    let message = one("/ade run a`b").unwrap_err().to_string();
    assert!(message.starts_with("`ab` is not"), "{message}");
    let long = "x".repeat(500);
    let message = one(&format!("/ade {long}")).unwrap_err().to_string();
    assert!(message.len() < 80, "{message}");
    assert!(message.contains('…'));
}

#[test]
fn errors_name_their_verb_for_help() {
    assert_eq!(one("/ade run").unwrap_err().verb(), Some(Verb::Run));
    assert_eq!(
        one("/ade approve x").unwrap_err().verb(),
        Some(Verb::Approve)
    );
    assert_eq!(one("/ade nope").unwrap_err().verb(), None);
}

#[test]
fn the_canonical_spelling_parses_back_to_the_same_command() {
    let commands = [
        plan(Some("aider"), Some("be brief")),
        plan(None, None),
        Command::Approve {
            version: Some(SpecRef::Version(3)),
        },
        Command::Approve {
            version: Some(SpecRef::Version(1_234_567)),
        },
        Command::Approve {
            version: Some(SpecRef::Hash("12345678".into())),
        },
        Command::Approve { version: None },
        task("t1"),
        Command::Run {
            target: RunTarget::All,
        },
        Command::Cancel {
            task: Some("t2".into()),
        },
        Command::Cancel { task: None },
        Command::AllowUnscanned { task: "t3".into() },
        Command::Retry { agent: None },
        Command::Retry {
            agent: Some("codex".into()),
        },
        Command::Verify,
        Command::Status,
        Command::Help,
    ];
    for command in commands {
        assert_eq!(one(&command.to_string()), Ok(command.clone()), "{command}");
    }
}

// --- bounded work ---

#[test]
fn a_megabyte_comment_parses_fast() {
    let inputs = [
        megabyte_of("lorem ipsum dolor sit amet\n") + "/ade approve 2\n",
        megabyte_of("x"),
        format!("/ade plan -- {}", megabyte_of("x")),
        format!("/ade {}", megabyte_of("y")),
        megabyte_of("> "),
        megabyte_of("`"),
        "[".repeat(1 << 19) + &"](".repeat(1 << 18),
        megabyte_of("<!--"),
        megabyte_of("<div hidden>"),
        megabyte_of("```\n/ade approve\n"),
        megabyte_of("/ade status\n"),
        megabyte_of("*"),
        megabyte_of("- "),
        megabyte_of("![a](b)x"),
        megabyte_of("<b hidden>x</b>y"),
    ];
    for input in inputs {
        let started = Instant::now();
        let commands = parse(&input);
        let took = started.elapsed();
        assert!(commands.len() <= MAX_COMMANDS_PER_COMMENT + 1);
        assert!(
            took < Duration::from_secs(3),
            "{took:?} for input starting {:?}",
            &input[..20]
        );
    }
}

#[test]
fn approve_names_a_version_or_the_start_of_the_plans_hash() {
    assert_eq!(
        one("/ade approve 3F2A9C01d0e4"),
        Ok(Command::Approve {
            version: Some(SpecRef::Hash("3f2a9c01d0e4".into()))
        })
    );
    assert_eq!(
        one("/ade approve 123456"),
        Ok(Command::Approve {
            version: Some(SpecRef::Version(123_456))
        }),
        "up to six digits are a version"
    );
    assert_eq!(
        one("/ade approve 12345678"),
        Ok(Command::Approve {
            version: Some(SpecRef::Hash("12345678".into()))
        }),
        "a hash whose first eight characters are digits"
    );
    assert_eq!(
        one("/ade approve v1234567"),
        Ok(Command::Approve {
            version: Some(SpecRef::Version(1_234_567))
        }),
        "a v always names a version"
    );
    for bad in ["3f2a9c", "3f2a9c0g", "v3f2a9c01", "v0", &"a".repeat(65)] {
        assert!(
            matches!(
                one(&format!("/ade approve {bad}")),
                Err(ParseError::BadVersion { .. })
            ),
            "{bad}"
        );
    }
}
