//! What the demo plays: the repository a team works on, its policy, the goal a maintainer writes,
//! and the script agent that does the work. The agent makes real edits in its worktree, one kind
//! per task; the `shout` task is written to fail its tests on every attempt, so the demo shows a
//! retry with feedback and a rejection.

/// The demo repository, as `owner/name`.
pub const REPO: &str = "acme/greeter";
/// The maintainer who plans and approves the goal.
pub const MAINTAINER: &str = "mia";
/// A second maintainer, who reviews the approvals (the requester's own review never counts).
pub const REVIEWER: &str = "max";
/// The agent's registered name.
pub const AGENT: &str = "demo";
/// The planner agent's registered name.
pub const PLANNER: &str = "demo-planner";
/// The task written to fail verification on every attempt.
pub const FAILING_TASK: &str = "t3";
/// The task that waits for two others.
pub const DEPENDANT_TASK: &str = "t4";
/// Attempts per task, as the policy sets them.
pub const ATTEMPTS: i64 = 2;

/// The goal's title.
pub const GOAL_TITLE: &str = "Greet people from the command line";

/// The goal's body: a task list of four tasks, `t4` after `t1` and `t2`, which the demo's planner
/// plans.
pub const GOAL_BODY: &str = "\
We want a small command that greets a person and says goodbye.

- [ ] Add `greet` to lib/greet.sh with a test
- [ ] Add `farewell` to lib/farewell.sh with a test
- [ ] Add `shout` to lib/shout.sh, which prints its argument in capitals, with a test
- [ ] Add bin/hello, which greets and says goodbye (after 1, 2)
";

/// The repository's files at the start.
pub fn files() -> Vec<(&'static str, String)> {
    vec![
        (
            "README.md",
            "# greeter\n\nSmall shell functions, tested by `sh check.sh`.\n".to_owned(),
        ),
        ("check.sh", CHECK.to_owned()),
        ("lib/.keep", String::new()),
        ("tests/.keep", String::new()),
        (".ade/config.toml", POLICY.to_owned()),
    ]
}

/// Runs every test under tests/ and says which failed, `path:line: message` style.
const CHECK: &str = r#"#!/bin/sh
# Runs every test under tests/; any failing test fails the check.
status=0
for t in tests/*.sh; do
    [ -e "$t" ] || continue
    if sh "$t"; then echo "ok   $t"; else echo "FAIL $t"; status=1; fi
done
exit $status
"#;

/// The repository's policy: the demo agent, three runs at once, two attempts, rejected approvals
/// closed, ade merging what a maintainer approved, the issue closed when the goal finishes, and
/// two verification steps.
const POLICY: &str = r#"[agents]
default = "demo"
planner = "demo-planner"

[execution]
parallelism = 3
attempts = 2

[auto_reject]
action = "close"

[pull_requests]
auto_merge = true

[goals]
close_issue = true

[[verification.steps]]
name = "syntax"
kind = "static"
command = ["/bin/sh", "-c", "for f in lib/*.sh; do sh -n \"$f\" || exit 1; done"]

[[verification.steps]]
name = "tests"
kind = "dynamic"
command = ["/bin/sh", "check.sh"]
"#;

/// The demo's planner: it reads the goal in its prompt and writes the plan the goal's task list
/// describes, as the spec's JSON, to `$ADE_OUTPUT`, from a worktree it can only read. A real
/// planner (docs/agents.md, Planners) would decide the tasks itself.
pub const PLANNER_SCRIPT: &str = r##"set -eu
grep -c 'Greet people from the command line' "$ADE_PROMPT_FILE" >/dev/null
echo "read the goal; planning four tasks, t4 after t1 and t2"
cat > "$ADE_OUTPUT" <<'PLAN'
{"tasks": [
  {"id": "t1", "title": "Add `greet` to lib/greet.sh with a test"},
  {"id": "t2", "title": "Add `farewell` to lib/farewell.sh with a test"},
  {"id": "t3", "title": "Add `shout` to lib/shout.sh, which prints its argument in capitals, with a test"},
  {"id": "t4", "title": "Add bin/hello, which greets and says goodbye", "depends_on": ["t1", "t2"]}
]}
PLAN
"##;

/// The agent: a shell script that writes each task's code and test. On the retry of `t3` it reads
/// the feedback in its prompt and tries again, and misses again.
pub const AGENT_SCRIPT: &str = r##"set -eu
mkdir -p lib tests bin
# add_function NAME FORMAT EXPECTED: lib/NAME.sh, where NAME prints FORMAT with its argument, and
# tests/NAME.sh, which checks that `NAME Ada` prints EXPECTED.
add_function() {
    printf '%s() { printf '\''%s\\n'\'' "$1"; }\n' "$1" "$2" > "lib/$1.sh"
    cat > "tests/$1.sh" <<CODE
. lib/$1.sh
[ "\$($1 Ada)" = "$3" ] || { echo "tests/$1.sh:2: $1 Ada printed: \$($1 Ada)"; exit 1; }
CODE
    echo "Added $1 in lib/$1.sh, with its test." > "$ADE_OUTPUT_FILE"
}
case "$ADE_TASK_ID" in
t1)
    add_function greet 'Hello, %s!' 'Hello, Ada!'
    ;;
t2)
    add_function farewell 'Goodbye, %s.' 'Goodbye, Ada.'
    ;;
t3)
    if grep -q 'tests/shout.sh' "$ADE_PROMPT_FILE"; then
        cat > lib/shout.sh <<'CODE'
shout() { printf '%s!\n' "$1"; }
CODE
        echo "Read the failing test in the feedback and added an exclamation mark to shout." > "$ADE_OUTPUT_FILE"
    else
        cat > lib/shout.sh <<'CODE'
shout() { printf '%s\n' "$1"; }
CODE
        echo "Added shout in lib/shout.sh, with its test." > "$ADE_OUTPUT_FILE"
    fi
    cat > tests/shout.sh <<'CODE'
. lib/shout.sh
[ "$(shout hey)" = "HEY" ] || { echo "tests/shout.sh:2: expected HEY, shout hey printed: $(shout hey)"; exit 1; }
CODE
    ;;
t4)
    cat > bin/hello <<'CODE'
#!/bin/sh
here=$(dirname "$0")/..
. "$here/lib/greet.sh"
. "$here/lib/farewell.sh"
greet "${1:-world}"
farewell "${1:-world}"
CODE
    chmod +x bin/hello
    cat > tests/hello.sh <<'CODE'
[ "$(sh bin/hello Ada | tail -n 1)" = "Goodbye, Ada." ] || { echo "tests/hello.sh:1: bin/hello Ada did not say goodbye"; exit 1; }
CODE
    echo "Added bin/hello, which greets with greet and says goodbye with farewell." > "$ADE_OUTPUT_FILE"
    ;;
*)
    echo "the demo agent has no work for task $ADE_TASK_ID" >&2
    exit 1
    ;;
esac
"##;
