//! Reading policy files: every kind of error, each at its line and column.

use super::*;

#[test]
fn syntax_errors_are_all_reported_with_their_position() {
    assert_eq!(
        errors("[execution]\nparallelism = 2\n[roles\nplan = \"write\"\n"),
        ["config.toml:3:7: TOML syntax error: unclosed table, expected `]`"]
    );
    assert_eq!(
        errors("a = 1\na = 2\n"),
        ["config.toml:2:1: TOML syntax error: duplicate key"]
    );
    let many = errors("x = \ny = \"open\n");
    assert_eq!(many.len(), 2, "{many:?}");
}

/// The parser can report a later error before an earlier one (a lone NUL gives two, found by
/// fuzzing); the file's order is what a maintainer reads down.
#[test]
fn syntax_errors_are_in_file_order() {
    for text in ["a = \0\nb = [\n", "x = \0", "[t\0]\ny = \"open\n"] {
        let found = errors(text);
        let lines: Vec<(usize, usize)> = found
            .iter()
            .map(|e| {
                let mut parts = e.split(':').skip(1);
                (
                    parts.next().unwrap().parse().unwrap(),
                    parts.next().unwrap().parse().unwrap(),
                )
            })
            .collect();
        let mut in_order = lines.clone();
        in_order.sort();
        assert_eq!(lines, in_order, "{text:?}: {found:?}");
        assert!(!found.is_empty(), "{text:?}");
    }
}

#[test]
fn unknown_keys_are_errors_with_a_suggestion_when_one_is_close() {
    assert_eq!(
        errors("[execution]\nparalelism = 3\n"),
        ["config.toml:2:1: execution.paralelism: unknown key; did you mean execution.parallelism?"]
    );
    assert_eq!(
        errors("[exection]\nparallelism = 3\n"),
        ["config.toml:1:2: exection: unknown key; did you mean execution?"]
    );
    let far = errors("[roles]\ncolour = \"blue\"\n");
    assert_eq!(far.len(), 1);
    assert!(
        far[0].starts_with(
            "config.toml:2:1: roles.colour: unknown key; the keys here are `plan`, `approve`"
        ),
        "{far:?}"
    );
}

#[test]
fn wrong_types_and_values_point_at_the_value() {
    assert_eq!(
        errors("[execution]\nparallelism = \"four\"\n"),
        ["config.toml:2:15: execution.parallelism: invalid type: string \"four\", expected u32"]
    );
    assert_eq!(
        errors("[execution]\nenvironment = \"contaner\"\n"),
        [
            "config.toml:2:15: execution.environment: unknown value `contaner`; did you mean `container`?"
        ]
    );
    assert_eq!(
        errors("[roles.users]\n\"bob.smith\" = \"maintainer\"\n"),
        [
            "config.toml:2:15: roles.users.\"bob.smith\": unknown value `maintainer`; did you mean `maintain`?"
        ]
    );
    assert_eq!(
        errors("[retention]\nrun_logs_days = -1\n"),
        ["config.toml:2:17: retention.run_logs_days: invalid value: integer `-1`, expected u32"]
    );
}

#[test]
fn steps_are_named_by_their_index_in_the_file_even_after_a_bad_one() {
    let text = "\
[[verification.steps]]
name = \"fmt\"
command = [\"x\"]

[[verification.steps]]
name = \"test\"

[[verification.steps]]
name = \"Bad\"
command = [\"y\"]
kind = \"dynamc\"

[[verification.steps]]
name = \"BAD\"
command = [\"z\"]
";
    assert_eq!(
        errors(text),
        [
            "config.toml:5:1: verification.steps[1]: missing field `command`",
            "config.toml:9:1: verification.steps[2].name: `Bad`: use 1 to 40 lowercase letters, digits, `-` or `_`, starting with a letter or digit",
            "config.toml:11:8: verification.steps[2].kind: unknown value `dynamc`; did you mean `dynamic`?",
            "config.toml:14:1: verification.steps[3].name: `BAD`: use 1 to 40 lowercase letters, digits, `-` or `_`, starting with a letter or digit",
        ]
    );
}

#[test]
fn every_error_of_a_file_is_reported_at_once_in_file_order() {
    let text = "\
[execution]
parallelism = 0
timout_secs = 60
attempts = \"three\"

[[verification.steps]]
name = \"Lint!\"
command = []

[[verification.steps]]
name = \"lint\"
kind = \"static\"
command = [\"cargo\", \"clippy\"]
timeout_secs = 0

[colour]
x = 1

[agents]
allowed = [\"aider\", \"aider\"]
default = \"codex\"

[paths]
protected = [\"../outside\", \"/etc\", \"ok/\"]

[pull_requests]
branch_prefix = \"-x..y\"
labels = [\"\", \"a-label-that-is-far-too-long-to-be-accepted-by-any-forge\"]

[roles.teams]
core = \"write\"

[dlp]
rules = [{ name = \"hosts\", pattern = \"(\" }]
";
    assert_eq!(
        errors(text),
        [
            "config.toml:2:1: execution.parallelism: must be at least 1",
            "config.toml:3:1: execution.timout_secs: unknown key; did you mean execution.timeout_secs?",
            "config.toml:4:12: execution.attempts: invalid type: string \"three\", expected u32",
            "config.toml:7:1: verification.steps[0].name: `Lint!`: use 1 to 40 lowercase letters, digits, `-` or `_`, starting with a letter or digit",
            "config.toml:8:1: verification.steps[0].command: is empty; give the program and its arguments",
            "config.toml:14:1: verification.steps[1].timeout_secs: must be at least 1",
            "config.toml:16:2: colour: unknown key; the keys here are `roles`, `agents`, `execution`, `verification`, `auto_reject`, `pull_requests`, `goals`, `paths`, `retention`, `dlp`, `rate_limits`, `budget`",
            "config.toml:20:21: agents.allowed[1]: `aider` is listed twice",
            "config.toml:21:1: agents.default: `codex` is not in agents.allowed",
            "config.toml:24:14: paths.protected[0]: `../outside` has an empty, `.` or `..` part",
            "config.toml:24:28: paths.protected[1]: `/etc` is absolute; paths are relative to the repository's root",
            "config.toml:27:1: pull_requests.branch_prefix: `-x..y` cannot start a branch name: use 1 to 40 letters, digits, `-`, `_`, `.` or `/`, not starting with `/`, `-` or `.`, without `..` or `//`",
            "config.toml:28:11: pull_requests.labels[0]: labels have 1 to 50 characters; this has 0",
            "config.toml:28:15: pull_requests.labels[1]: labels have 1 to 50 characters; this has 56",
            "config.toml:31:1: roles.teams.core: `core` is not of the form `org/team-slug`",
            "config.toml:34:28: dlp.rules[0].pattern: not a valid pattern: unclosed group",
        ]
    );
}

#[test]
fn duplicates_differing_only_in_case_are_refused() {
    let errors = errors("[roles.users]\nAlice = \"write\"\nalice = \"read\"\n");
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(errors[0].contains("is listed twice"), "{errors:?}");
}

#[test]
fn oversized_and_unreadable_files_are_one_diagnostic() {
    let big = "#".repeat(MAX_POLICY_BYTES + 1);
    let errors = errors(&big);
    assert_eq!(errors.len(), 1);
    assert!(errors[0].contains("at most 65536"), "{errors:?}");

    let missing = check_file(&fixture("no-such-file.toml")).unwrap_err();
    assert_eq!(missing.len(), 1);
    assert_eq!(missing[0].position, None);
    assert!(missing[0].message.starts_with("cannot read the file"));
}

#[test]
fn external_checks_must_be_names_a_forge_could_show_and_never_ades_own() {
    assert_eq!(
        errors(
            "[verification]\nexternal_checks = [\"ade/verify\", \"\", \" ci\", \"ci/test\", \"ci/test\"]\nexternal_timeout_secs = 0\n"
        ),
        [
            "config.toml:2:20: verification.external_checks[0]: `ade/verify` is one of ade's own checks, which never count as external ones",
            "config.toml:2:34: verification.external_checks[1]: check names have 1 to 100 characters; this has 0",
            "config.toml:2:38: verification.external_checks[2]: a check name may not start or end with spaces or hold control characters",
            "config.toml:2:56: verification.external_checks[4]: `ci/test` is listed twice",
            "config.toml:3:1: verification.external_timeout_secs: must be at least 1",
        ]
    );
    assert_eq!(
        errors("[verification]\nexternal_checks = [\"ADE/policy\"]\n").len(),
        1
    );
    assert!(errors("[verification]\nexternal_checks = [\"ci/test\"]\n").is_empty());
}
