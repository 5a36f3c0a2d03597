//! Check run annotations as GitHub takes them: at most 50 per request (more are appended by
//! further updates, which GitHub adds to the ones already there), each within GitHub's limits;
//! and the ones a check run already has, so that a retried report does not add them twice.

use super::{GithubForge, repo_path, wire};
use crate::forge::http::{truncate_bytes, truncate_chars};
use crate::forge::{AnnotationLevel, CheckAnnotation, ForgeResult, RepoRef};
use serde_json::{Map, Value};
use std::collections::HashMap;

/// GitHub takes at most this many annotations in one create or update.
pub(super) const PER_REQUEST: usize = 50;
/// GitHub's limit on an annotation's message (64 KB).
const MAX_MESSAGE_BYTES: usize = 64 * 1024;
/// GitHub's limit on an annotation's title.
const MAX_TITLE_CHARS: usize = 255;
/// The level as GitHub spells it.
fn level(level: AnnotationLevel) -> &'static str {
    match level {
        AnnotationLevel::Notice => "notice",
        AnnotationLevel::Warning => "warning",
        AnnotationLevel::Failure => "failure",
    }
}

/// The lines an annotation covers as GitHub accepts them: from line 1, the end not before the
/// start.
fn lines(annotation: &CheckAnnotation) -> (u32, u32) {
    let start = annotation.start_line.max(1);
    (start, annotation.end_line.max(start))
}

/// One annotation in GitHub's shape. A column is sent only for a one-line annotation, the only
/// kind GitHub takes one for.
pub(super) fn json(annotation: &CheckAnnotation) -> Value {
    let (start, end) = lines(annotation);
    let mut out = Map::new();
    out.insert("path".into(), Value::from(annotation.path.as_str()));
    out.insert("start_line".into(), Value::from(start));
    out.insert("end_line".into(), Value::from(end));
    if start == end
        && let Some(column) = annotation.start_column.filter(|c| *c > 0)
    {
        out.insert("start_column".into(), Value::from(column));
    }
    out.insert(
        "annotation_level".into(),
        Value::from(level(annotation.level)),
    );
    out.insert(
        "message".into(),
        Value::from(truncate_bytes(&annotation.message, MAX_MESSAGE_BYTES)),
    );
    if let Some(title) = &annotation.title {
        out.insert(
            "title".into(),
            Value::from(truncate_chars(title, MAX_TITLE_CHARS)),
        );
    }
    Value::Object(out)
}

/// What identifies an annotation when comparing with the ones GitHub has.
type Key = (String, i64, i64, String, String);

fn key_of(annotation: &CheckAnnotation) -> Key {
    let (start, end) = lines(annotation);
    (
        annotation.path.clone(),
        i64::from(start),
        i64::from(end),
        level(annotation.level).to_string(),
        truncate_bytes(&annotation.message, MAX_MESSAGE_BYTES),
    )
}

/// The annotations of `wanted` that check run `id` lacks, in order; each already there (as often
/// as it is there) is left out. Reads the run's annotations only when it has some.
pub(super) async fn missing<'a>(
    gh: &GithubForge,
    repo: &RepoRef,
    run: &wire::CheckRun,
    wanted: &'a [CheckAnnotation],
) -> ForgeResult<Vec<&'a CheckAnnotation>> {
    let has_some = run
        .output
        .as_ref()
        .and_then(|o| o.annotations_count)
        .is_some_and(|n| n > 0);
    if wanted.is_empty() || !has_some {
        return Ok(wanted.iter().collect());
    }
    let mut present: HashMap<Key, usize> = HashMap::new();
    for a in existing(gh, repo, run.id).await? {
        let key = (
            a.path,
            a.start_line,
            a.end_line,
            a.annotation_level.unwrap_or_default(),
            a.message.unwrap_or_default(),
        );
        *present.entry(key).or_default() += 1;
    }
    Ok(wanted
        .iter()
        .filter(|a| match present.get_mut(&key_of(a)) {
            Some(count) if *count > 0 => {
                *count -= 1;
                false
            }
            _ => true,
        })
        .collect())
}

async fn existing(gh: &GithubForge, repo: &RepoRef, id: i64) -> ForgeResult<Vec<wire::Annotation>> {
    let what = format!(
        "list the annotations of check run {id} in {}",
        repo.full_name()
    );
    let path = repo_path(repo, &format!("/check-runs/{id}/annotations"));
    gh.list(repo, &path, &[], &what).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn annotation(start: u32, end: u32, column: Option<u32>) -> CheckAnnotation {
        CheckAnnotation {
            path: "src/lib.rs".into(),
            start_line: start,
            end_line: end,
            start_column: column,
            level: AnnotationLevel::Failure,
            message: "expected `u32`".into(),
            title: Some("clippy".into()),
        }
    }

    #[test]
    fn columns_only_on_one_line_and_lines_from_one() {
        assert_eq!(
            json(&annotation(3, 3, Some(7))),
            json!({ "path": "src/lib.rs", "start_line": 3, "end_line": 3, "start_column": 7,
                    "annotation_level": "failure", "message": "expected `u32`", "title": "clippy" })
        );
        let spread = json(&annotation(3, 5, Some(7)));
        assert!(spread.get("start_column").is_none(), "{spread}");
        let odd = json(&annotation(0, 0, None));
        assert_eq!(
            (odd["start_line"].clone(), odd["end_line"].clone()),
            (json!(1), json!(1))
        );
        let backwards = json(&annotation(9, 4, None));
        assert_eq!(backwards["end_line"], 9);
    }

    #[test]
    fn long_messages_and_titles_are_cut_to_githubs_limits() {
        let mut long = annotation(1, 1, None);
        long.message = "x".repeat(100_000);
        long.title = Some("t".repeat(300));
        let value = json(&long);
        assert!(value["message"].as_str().unwrap().len() <= MAX_MESSAGE_BYTES);
        assert_eq!(
            value["title"].as_str().unwrap().chars().count(),
            MAX_TITLE_CHARS
        );
    }
}
