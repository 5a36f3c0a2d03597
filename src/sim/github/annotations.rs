//! Check run annotations as GitHub's description has them: at most 50 in one request, each with
//! `path`, `start_line`, `end_line`, `annotation_level` (notice, warning or failure) and
//! `message`, columns only on a one-line annotation. What breaks a rule is refused with 422, as
//! GitHub refuses it; what passes is kept and listed by `GET …/check-runs/{id}/annotations`.

use super::super::core::Sim;
use super::super::state::{CheckRun, CheckRunAnnotation, Repo};
use serde_json::{Value, json};

/// GitHub's limit per create or update.
pub const PER_REQUEST: usize = 50;
const LEVELS: &[&str] = &["notice", "warning", "failure"];

/// Reads `output.annotations`; the error is the 422's message.
pub fn parse(values: &Value) -> Result<Vec<CheckRunAnnotation>, String> {
    let items = values
        .as_array()
        .ok_or("Invalid request.\n\nFor 'output/annotations', it is not an array.")?;
    if items.len() > PER_REQUEST {
        return Err(format!(
            "Invalid request.\n\nOnly {PER_REQUEST} annotations are allowed per request, got {}.",
            items.len()
        ));
    }
    items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            one(item).map_err(|e| format!("Invalid request.\n\nannotations[{i}]: {e}"))
        })
        .collect()
}

fn one(item: &Value) -> Result<CheckRunAnnotation, String> {
    let object = item.as_object().ok_or("not an object")?;
    let text = |key: &str| -> Result<Option<String>, String> {
        match object.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(format!("`{key}` is not a string")),
        }
    };
    let number = |key: &str| -> Result<Option<u32>, String> {
        match object.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => v
                .as_u64()
                .and_then(|n| u32::try_from(n).ok())
                .filter(|n| *n >= 1)
                .map(Some)
                .ok_or_else(|| format!("`{key}` is not a number from 1")),
        }
    };
    let required = |value: Option<String>, key: &str| {
        value
            .filter(|v| !v.is_empty())
            .ok_or_else(|| format!("`{key}` is required"))
    };
    let path = required(text("path")?, "path")?;
    let level = required(text("annotation_level")?, "annotation_level")?;
    if !LEVELS.contains(&level.as_str()) {
        return Err(format!(
            "`annotation_level` {level} is not notice, warning or failure"
        ));
    }
    let message = required(text("message")?, "message")?;
    let start_line = number("start_line")?.ok_or("`start_line` is required")?;
    let end_line = number("end_line")?.ok_or("`end_line` is required")?;
    if end_line < start_line {
        return Err("`end_line` is before `start_line`".into());
    }
    let start_column = number("start_column")?;
    let end_column = number("end_column")?;
    if (start_column.is_some() || end_column.is_some()) && start_line != end_line {
        return Err(
            "columns are only allowed when `start_line` and `end_line` are the same".into(),
        );
    }
    if let (Some(start), Some(end)) = (start_column, end_column)
        && end < start
    {
        return Err("`end_column` is before `start_column`".into());
    }
    Ok(CheckRunAnnotation {
        path,
        start_line,
        end_line,
        start_column,
        end_column,
        level,
        message,
        title: text("title")?,
        raw_details: text("raw_details")?,
    })
}

/// An annotation as `GET …/check-runs/{id}/annotations` lists it (`check-annotation`).
pub fn json(sim: &Sim, repo: &Repo, run: &CheckRun, annotation: &CheckRunAnnotation) -> Value {
    json!({
        "path": annotation.path,
        "blob_href": format!(
            "{}/{}/blob/{}/{}",
            sim.base_url,
            repo.full_name(),
            run.head_sha,
            annotation.path
        ),
        "start_line": annotation.start_line,
        "end_line": annotation.end_line,
        "start_column": annotation.start_column,
        "end_column": annotation.end_column,
        "annotation_level": annotation.level,
        "title": annotation.title,
        "message": annotation.message,
        "raw_details": annotation.raw_details,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(item: Value) -> CheckRunAnnotation {
        parse(&json!([item])).unwrap().remove(0)
    }

    fn refused(items: Value, needle: &str) {
        let e = parse(&items).unwrap_err();
        assert!(e.contains(needle), "{e}");
    }

    #[test]
    fn annotations_follow_the_description() {
        let a = ok(
            json!({ "path": "a.rs", "start_line": 2, "end_line": 2, "start_column": 5,
                           "annotation_level": "warning", "message": "m", "title": "t" }),
        );
        assert_eq!(
            (a.start_line, a.start_column, a.level.as_str()),
            (2, Some(5), "warning")
        );
        refused(
            json!([{ "start_line": 1, "end_line": 1, "annotation_level": "notice", "message": "m" }]),
            "`path`",
        );
        refused(
            json!([{ "path": "a", "end_line": 1, "annotation_level": "notice", "message": "m" }]),
            "`start_line`",
        );
        refused(
            json!([{ "path": "a", "start_line": 1, "end_line": 1, "annotation_level": "error", "message": "m" }]),
            "annotation_level",
        );
        refused(
            json!([{ "path": "a", "start_line": 1, "end_line": 1, "annotation_level": "notice" }]),
            "`message`",
        );
        refused(
            json!([{ "path": "a", "start_line": 1, "end_line": 3, "start_column": 2, "annotation_level": "notice", "message": "m" }]),
            "columns",
        );
        refused(
            json!([{ "path": "a", "start_line": 0, "end_line": 1, "annotation_level": "notice", "message": "m" }]),
            "from 1",
        );
        refused(
            json!([{ "path": "a", "start_line": 4, "end_line": 3, "annotation_level": "notice", "message": "m" }]),
            "before",
        );
        refused(
            json!([{ "path": "a", "start_line": "1", "end_line": 1, "annotation_level": "notice", "message": "m" }]),
            "not a number",
        );
        let many: Vec<Value> = (0..51)
            .map(|_| json!({ "path": "a", "start_line": 1, "end_line": 1, "annotation_level": "notice", "message": "m" }))
            .collect();
        refused(Value::Array(many), "Only 50");
    }
}
