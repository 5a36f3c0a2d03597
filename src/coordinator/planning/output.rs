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

/// The tasks in `output`, or every reason they cannot be read.
pub fn tasks(output: &PlanOutput) -> Result<Vec<Task>, Vec<SpecError>> {
    let problem = |text: String| Err(vec![SpecError::Output(text)]);
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
    let mut errors = Vec::new();
    for name in fields.keys() {
        if name != "tasks" && !SET_BY_ADE.contains(&name.as_str()) {
            errors.push(SpecError::Output(format!(
                "unknown field {}: a plan has `tasks` (and the spec's own fields, which ade sets)",
                crate::markdown::code_span(&crate::command::sanitize(name).text)
            )));
        }
    }
    let list = match fields.remove("tasks") {
        Some(Value::Array(list)) => list,
        Some(other) => {
            errors.push(SpecError::Output(format!(
                "`tasks` is a JSON {}, not a list",
                kind(&other)
            )));
            return Err(errors);
        }
        None => {
            errors.push(SpecError::Output("it has no `tasks` list".into()));
            return Err(errors);
        }
    };
    let mut tasks = Vec::with_capacity(list.len());
    for (i, item) in list.into_iter().enumerate() {
        match serde_json::from_value::<Task>(item) {
            Ok(task) => tasks.push(task),
            Err(e) => errors.push(SpecError::Output(format!(
                "task {} of the list: {e}",
                i + 1
            ))),
        }
    }
    if errors.is_empty() {
        Ok(tasks)
    } else {
        if errors.len() > MAX_PROBLEMS {
            let more = errors.len() - MAX_PROBLEMS;
            errors.truncate(MAX_PROBLEMS);
            errors.push(SpecError::Output(format!("and {more} more problems")));
        }
        Err(errors)
    }
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
        tasks(output)
            .unwrap_err()
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    #[test]
    fn a_list_of_tasks_reads() {
        let read = tasks(&written(
            r#"{"tasks": [{"id": "t1", "title": "Parse"}, {"id": "t2", "title": "Use", "depends_on": ["t1"]}]}"#,
        ))
        .unwrap();
        assert_eq!(read.len(), 2);
        assert_eq!(read[1].depends_on[0].as_str(), "t1");
    }

    #[test]
    fn a_whole_spec_reads_and_ade_keeps_its_own_fields() {
        let read = tasks(&written(
            r#"{"goal": {"forge": "github", "repo": "x/y", "issue": 9}, "version": 7, "author": "someone", "planner": "manual", "tasks": [{"id": "t1", "title": "Parse"}], "lifecycle": {}}"#,
        ))
        .unwrap();
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
    fn tasks_must_be_a_list() {
        assert!(problems(&written(r#"{"tasks": {"t1": {}}}"#))[0].contains("not a list"));
        assert!(problems(&written(r#"{}"#))[0].contains("no `tasks` list"));
    }
}
