//! What a planner agent wrote to `$ADE_OUTPUT`, read as the tasks of a spec. The planner is told
//! to write `{"tasks": [...]}` following the spec's JSON Schema; a whole spec is read too, its
//! other fields left to ade (goal, version, author, planner, base commit and lifecycle are ade's
//! to set). Every problem is reported, task by task, for the failed plan to list.

use serde_json::Value;

use crate::runner::{MAX_PLAN_OUTPUT_BYTES, PlanOutput};
use crate::spec::{SpecError, Task};

/// Fields of a spec that ade sets itself: a planner may write them, and they are not read.
const SET_BY_ADE: &[&str] = &[
    "goal",
    "version",
    "author",
    "planner",
    "base_commit",
    "lifecycle",
];

/// Most problems reported for one output: past these, one line counts the rest.
const MAX_PROBLEMS: usize = 50;

/// Most characters of one problem's text: a parser's message quotes what it could not read.
const MAX_PROBLEM_CHARS: usize = 300;

/// What a planner's output holds: its tasks when the whole list reads (then they are validated
/// like any plan's), and every problem found reading it. Any problem fails the plan.
#[derive(Debug, Default)]
pub struct Read {
    /// The tasks, when every one of them read; `None` when there is no list to validate.
    pub tasks: Option<Vec<Task>>,
    /// What is wrong with the output itself.
    pub problems: Vec<SpecError>,
}

impl Read {
    fn problem(text: String) -> Read {
        Read {
            tasks: None,
            problems: vec![output_problem(text)],
        }
    }
}

fn output_problem(text: String) -> SpecError {
    let text = match text.char_indices().nth(MAX_PROBLEM_CHARS) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text,
    };
    SpecError::Output(text)
}

/// The tasks in `output`, their text sanitized like any text from outside, and every problem
/// reading them.
pub fn read(output: &PlanOutput) -> Read {
    let problem = Read::problem;
    let text = match output {
        PlanOutput::Written { text } => text,
        PlanOutput::Missing => {
            return problem(
                "the planner wrote no file at $ADE_OUTPUT: a plan is one JSON object written there"
                    .into(),
            );
        }
        PlanOutput::TooLarge { bytes } => {
            return problem(format!(
                "$ADE_OUTPUT holds {bytes} bytes; ade reads at most {MAX_PLAN_OUTPUT_BYTES}"
            ));
        }
        PlanOutput::Unreadable { reason } => {
            return problem(format!("$ADE_OUTPUT cannot be read: {reason}"));
        }
    };
    let value: Value = match serde_json::from_str(text) {
        Ok(value) => value,
        Err(e) => return problem(format!("$ADE_OUTPUT is not JSON: {e}")),
    };
    let Value::Object(mut fields) = value else {
        return problem(format!(
            "$ADE_OUTPUT holds a JSON {}, not an object with `tasks`",
            kind(&value)
        ));
    };
    let mut problems = Vec::new();
    for name in fields.keys() {
        if name != "tasks" && !SET_BY_ADE.contains(&name.as_str()) {
            problems.push(output_problem(format!(
                "unknown field {}: a plan has `tasks` (and the spec's own fields, which ade sets)",
                crate::markdown::code_span(&crate::command::sanitize(name).text)
            )));
        }
    }
    let list = match fields.remove("tasks") {
        Some(Value::Array(list)) => list,
        Some(other) => {
            problems.push(output_problem(format!(
                "`tasks` is a JSON {}, not a list",
                kind(&other)
            )));
            return capped(None, problems);
        }
        None => {
            problems.push(output_problem("it has no `tasks` list".into()));
            return capped(None, problems);
        }
    };
    let mut tasks = Vec::with_capacity(list.len());
    let mut every_task_read = true;
    for (i, item) in list.into_iter().enumerate() {
        match serde_json::from_value::<Task>(item) {
            Ok(task) => tasks.push(cleaned(task)),
            Err(e) => {
                every_task_read = false;
                problems.push(output_problem(format!("task {} of the list: {e}", i + 1)));
            }
        }
    }
    capped(every_task_read.then_some(tasks), problems)
}

fn capped(tasks: Option<Vec<Task>>, mut problems: Vec<SpecError>) -> Read {
    if problems.len() > MAX_PROBLEMS {
        let more = problems.len() - MAX_PROBLEMS;
        problems.truncate(MAX_PROBLEMS);
        problems.push(SpecError::Output(format!("and {more} more problems")));
    }
    Read { tasks, problems }
}

/// A task's text as any text from outside is taken: hidden content removed, line breaks only
/// where a line may break (instructions), no other control characters. Validation then checks
/// the sizes, ids, paths and names.
fn cleaned(mut task: Task) -> Task {
    let text = |t: &str| crate::command::sanitize(t).text;
    task.title = text(&task.title);
    task.instructions = text(&task.instructions.replace("\r\n", "\n"))
        .chars()
        .filter(|c| !c.is_control() || *c == '\n' || *c == '\t')
        .collect();
    task.acceptance = task
        .acceptance
        .iter()
        .map(|a| {
            text(a)
                .chars()
                .map(|c| if c.is_control() { ' ' } else { c })
                .collect()
        })
        .collect();
    task
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "list",
        Value::Object(_) => "object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn written(text: &str) -> PlanOutput {
        PlanOutput::Written { text: text.into() }
    }

    fn problems(output: &PlanOutput) -> Vec<String> {
        read(output)
            .problems
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    fn tasks(output: &PlanOutput) -> Vec<Task> {
        let read = read(output);
        assert!(read.problems.is_empty(), "{:?}", read.problems);
        read.tasks.unwrap()
    }

    #[test]
    fn a_list_of_tasks_reads() {
        let read = tasks(&written(
            r#"{"tasks": [{"id": "t1", "title": "Parse"}, {"id": "t2", "title": "Use", "depends_on": ["t1"]}]}"#,
        ));
        assert_eq!(read.len(), 2);
        assert_eq!(read[1].depends_on[0].as_str(), "t1");
    }

    #[test]
    fn a_whole_spec_reads_and_ade_keeps_its_own_fields() {
        let read = tasks(&written(
            r#"{"goal": {"forge": "github", "repo": "x/y", "issue": 9}, "version": 7, "author": "someone", "planner": "manual", "tasks": [{"id": "t1", "title": "Parse"}], "lifecycle": {}}"#,
        ));
        assert_eq!(read.len(), 1);
    }

    #[test]
    fn no_file_not_json_and_not_an_object_say_so() {
        assert!(problems(&PlanOutput::Missing)[0].contains("wrote no file at $ADE_OUTPUT"));
        assert!(problems(&written("tasks: - t1"))[0].contains("is not JSON"));
        assert!(problems(&written("[1, 2]"))[0].contains("a JSON list, not an object"));
        assert!(problems(&PlanOutput::TooLarge { bytes: 5 << 20 })[0].contains("at most"));
        assert!(
            problems(&PlanOutput::Unreadable {
                reason: "a symbolic link".into()
            })[0]
                .contains("a symbolic link")
        );
    }

    #[test]
    fn every_bad_task_and_unknown_field_is_listed() {
        let found = problems(&written(
            r#"{"tasks": [{"id": "t1"}, {"id": "t2", "title": "Ok"}, {"id": "BAD ID", "title": "x"}], "notes": "hi", "<b>x</b>": 1}"#,
        ));
        assert_eq!(found.len(), 4, "{found:?}");
        assert!(
            found
                .iter()
                .any(|p| p.contains("task 1 of the list") && p.contains("title"))
        );
        assert!(found.iter().any(|p| p.contains("task 3 of the list")));
        assert!(found.iter().any(|p| p.contains("`notes`")));
    }

    #[test]
    fn an_unknown_field_beside_good_tasks_still_lets_the_tasks_be_validated() {
        let read = read(&written(
            r#"{"tasks": [{"id": "t1", "title": "A", "depends_on": ["t1"]}], "notes": "x"}"#,
        ));
        assert_eq!(read.problems.len(), 1);
        assert_eq!(read.tasks.unwrap().len(), 1);
    }

    #[test]
    fn task_text_is_cleaned_and_problems_are_bounded() {
        let read = tasks(&written(
            "{\"tasks\": [{\"id\": \"t1\", \"title\": \"A<!-- hidden -->\", \"instructions\": \"one\\r\\ntwo\\rthree\\u0007\", \"acceptance\": [\"x\\ny\"]}]}",
        ));
        assert_eq!(read[0].title, "A");
        assert_eq!(read[0].instructions, "one\ntwo\nthree");
        assert_eq!(read[0].acceptance, ["x y"]);
        let huge = format!(
            r#"{{"tasks": [{{"id": "t1", "title": "A", "environment": "{}"}}]}}"#,
            "e".repeat(100_000)
        );
        let said = problems(&written(&huge));
        assert!(said[0].chars().count() < 400, "{}", said[0].len());
    }

    #[test]
    fn tasks_must_be_a_list() {
        assert!(problems(&written(r#"{"tasks": {"t1": {}}}"#))[0].contains("not a list"));
        assert!(problems(&written(r#"{}"#))[0].contains("no `tasks` list"));
    }
}
