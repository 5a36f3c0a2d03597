//! The manual planner: the "human coordinator" mode, and the deterministic one tests use. It
//! turns the task list of an issue body into tasks, one per unchecked item:
//!
//! ```markdown
//! - [ ] Add the login form
//!   Use the existing `Form` component; no new dependencies.
//! - [ ] Add the session store (after 1)
//! - [x] Write the design note            ← checked: done, no task
//! - [ ] Wire the two together, depends on #1 and #2
//! ```
//!
//! - Items are `- [ ]`, `* [ ]`, `+ [ ]`, `1. [ ]` or `1) [ ]` lines. Lines indented below an item
//!   (and lines that directly continue its text) are its instructions; a checkbox nested in an
//!   item is a sub-step of it, not a task of its own. Items inside fenced or indented code,
//!   quotes or HTML comments are not items.
//! - Items are numbered 1, 2, 3, ... in the order they appear in the body, checked ones included,
//!   across every list in the body. Item N becomes task `tN`, so ids never come from the text.
//! - Checked items are done: they make no task, and a dependency on one is already met.
//! - `(after 1, 3)`, `(depends on 2)` or `depends on #2, #3` in an item's line (or alone on a
//!   line of its body) name the items it waits for. `#N` is item N of this list, never issue #N:
//!   an issue number would be ambiguous with it, and a task can only wait for another task.
//! - A body without any item becomes one task `t1` with the issue's title and body.
//!
//! The issue is hostile input: its size, the number of items and each title are bounded, HTML
//! comments (which the forge hides from readers) are dropped, and every problem is reported in
//! words fit for the reply on the issue.

mod scan;

use std::sync::LazyLock;

use regex::Regex;

use super::validate::{self, MAX_INSTRUCTIONS_CHARS};
use super::{SpecError, Task, TaskId};

/// Largest issue body read, in bytes (GitHub's limit is 65536 characters).
pub const MAX_BODY_BYTES: usize = 256 * 1024;
/// Most checkbox items read, checked ones included; each unchecked one becomes a task, and
/// validation bounds those further.
pub const MAX_ITEMS: usize = 200;

/// The list of item numbers a marker names: `1, 3`, `#1 and #3`, `2 & 4`.
const NUMBERS: &str = r"#?\d+(?:\s*(?:,|&|\band\b)\s*#?\d+)*";

/// `(after 1, 3)` / `(depends on 2)` anywhere, or a bare `depends on #2, #3` (the `#` required, so
/// that prose like "depends on 2 things" is not read as a marker).
static MARKER: LazyLock<Regex> = LazyLock::new(|| {
    let bare = NUMBERS.replace("#?", "#");
    Regex::new(&format!(
        r"(?i)\(\s*(?:after|depends\s+on):?\s+({NUMBERS})\s*\)|\bdepends\s+on:?\s+({bare})"
    ))
    .expect("the marker pattern compiles")
});

static NUMBER: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\d+").expect("the number pattern compiles"));

/// The tasks of the issue titled `title` with body `body`, or every reason there are none. The
/// tasks have passed [`validate::tasks`] (ids, dependencies, cycles, sizes); the policy's checks
/// are the caller's, with the spec made from them.
pub fn plan(title: &str, body: &str) -> Result<Vec<Task>, Vec<SpecError>> {
    if body.len() > MAX_BODY_BYTES {
        return Err(vec![SpecError::Issue(format!(
            "the issue body is {} bytes; the manual planner reads at most {MAX_BODY_BYTES}",
            body.len()
        ))]);
    }
    let items = scan::items(body);
    if items.is_empty() {
        return whole_issue(title, body);
    }
    if items.len() > MAX_ITEMS {
        return Err(vec![SpecError::Issue(format!(
            "the task list has {} items; the manual planner reads at most {MAX_ITEMS}",
            items.len()
        ))]);
    }
    if items.iter().all(|item| item.checked) {
        return Err(vec![SpecError::Issue(
            "every item of the task list is checked: there is nothing left to plan".to_owned(),
        )]);
    }
    let mut errors = Vec::new();
    let mut tasks = Vec::new();
    for item in items.iter().filter(|item| !item.checked) {
        let (title, mut marked) = take_markers(&item.title);
        let mut instructions = Vec::new();
        for line in &item.body {
            let (rest, numbers) = take_markers(&line.text);
            if !line.in_code && !numbers.is_empty() && rest.trim_end_matches('.').is_empty() {
                marked.extend(numbers);
            } else {
                instructions.push(line.text.as_str());
            }
        }
        let mut depends_on = Vec::new();
        for (number, marker) in marked {
            match items.get(number.wrapping_sub(1)) {
                _ if number == item.position => errors.push(SpecError::Item {
                    item: item.position,
                    problem: format!("`{marker}` makes it wait for itself"),
                }),
                Some(target) if target.checked => {}
                Some(_) => depends_on.push(number),
                None => errors.push(SpecError::Item {
                    item: item.position,
                    problem: format!(
                        "`{marker}` refers to item {}, but the task list has {} items (`#N` means item N of this list, not issue #N)",
                        marker_number(&marker, number),
                        items.len()
                    ),
                }),
            }
        }
        depends_on.sort_unstable();
        depends_on.dedup();
        tasks.push(Task {
            id: TaskId::item(item.position),
            title,
            instructions: instructions.join("\n").trim().to_owned(),
            acceptance: Vec::new(),
            depends_on: depends_on.into_iter().map(TaskId::item).collect(),
            paths: Vec::new(),
            agent: None,
            environment: None,
        });
    }
    errors.extend(validate::tasks(&tasks));
    if errors.is_empty() {
        Ok(tasks)
    } else {
        Err(errors)
    }
}

/// An issue without a task list is one task: its title, and its visible body as instructions.
fn whole_issue(title: &str, body: &str) -> Result<Vec<Task>, Vec<SpecError>> {
    let instructions = scan::visible(body);
    let task = Task {
        id: TaskId::item(1),
        title: title.trim().to_owned(),
        instructions,
        acceptance: Vec::new(),
        depends_on: Vec::new(),
        paths: Vec::new(),
        agent: None,
        environment: None,
    };
    let mut errors = Vec::new();
    if let Some(problem) = validate::title_problem(&task.title) {
        errors.push(SpecError::Issue(format!("the issue's title: {problem}")));
    }
    let len = task.instructions.chars().count();
    if len > MAX_INSTRUCTIONS_CHARS {
        errors.push(SpecError::Issue(format!(
            "the issue body is {len} characters long; a task's instructions may have at most {MAX_INSTRUCTIONS_CHARS}"
        )));
    }
    if errors.is_empty() {
        Ok(vec![task])
    } else {
        Err(errors)
    }
}

/// `text` without its dependency markers, tidied, and the item numbers each marker names with
/// the marker as written (for error messages).
fn take_markers(text: &str) -> (String, Vec<(usize, String)>) {
    let mut numbers = Vec::new();
    for marker in MARKER.find_iter(text) {
        for number in NUMBER.find_iter(marker.as_str()) {
            let value = number.as_str().parse().unwrap_or(usize::MAX);
            numbers.push((value, marker.as_str().to_owned()));
        }
    }
    if numbers.is_empty() {
        return (text.trim().to_owned(), numbers);
    }
    let rest = MARKER.replace_all(text, " ");
    let words: Vec<&str> = rest.split_whitespace().collect();
    let tidy = words
        .join(" ")
        .trim_end_matches([',', ';', ':', '-', '–', '—', ' '])
        .to_owned();
    (tidy, numbers)
}

/// How `number` was written in `marker`: a number too large for `usize` is shown as written.
fn marker_number(marker: &str, number: usize) -> String {
    if number != usize::MAX {
        return number.to_string();
    }
    let longest = NUMBER.find_iter(marker).max_by_key(|m| m.len());
    longest.map_or_else(|| number.to_string(), |m| m.as_str().to_owned())
}

#[cfg(test)]
mod tests;
