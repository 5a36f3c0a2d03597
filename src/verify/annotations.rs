//! File and line messages read from a step's output (`src/lib.rs:3:5: error: …`), for the
//! `ade/verify` check's annotations. The output is hostile: a path is kept only when it names a
//! file inside the repository. It must be relative after taking off a leading `./` or the
//! worktree's own absolute path, have no `..`, `.` or empty part and no backslash, and the caller's
//! predicate must confirm it is a regular file of the tree reached without following a symlink.
//!
//! Reading is in two halves: [`Candidates`] takes lines as they stream and keeps what has the
//! shape of a message (no file system access, bounded memory); [`resolve`] checks the paths and
//! makes the annotations once the step has ended.

use std::collections::{HashMap, HashSet};
use std::sync::LazyLock;

use regex::Regex;

use super::Mask;
use super::tail::{cap_chars, last_redraw, strip_ansi};
use crate::command::sanitize;
use crate::forge::{AnnotationLevel, CheckAnnotation};

/// Most annotations one step contributes.
pub const MAX_PER_STEP: usize = 50;

/// Most candidate lines one step's output is read for (distinct ones); beyond, lines are not
/// looked at, so a flood of look-alike lines costs nothing.
pub const MAX_CANDIDATES: usize = 500;

/// Longest path accepted, in bytes.
const MAX_PATH: usize = 1024;

/// Most characters of an annotation's message.
pub const MESSAGE_CHARS: usize = 500;

/// `path:line: message` and `path:line:col: message`; the path holds no colon, so a Windows drive
/// (`C:\x`) or a URL (`http://x:80`) never reads as one.
static SHAPE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^([^:]+):([0-9]+):(?:([0-9]+):)?(.*)$").expect("the annotation pattern compiles")
});

/// A line that has the shape of a file and line message, its path not yet checked against the
/// tree.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Candidate {
    /// The path, relative to the repository root, `/`-separated, without `.` or `..` parts.
    pub path: String,
    /// The line, from 1.
    pub line: u32,
    /// The column, from 1, when the tool gave one.
    pub column: Option<u32>,
    /// The rest of the line, raw (not yet masked).
    pub message: String,
    /// Whether the line says it is a warning.
    pub warning: bool,
}

/// Reads one output line as a file and line message, if it is one about a path that can be
/// inside the repository. `worktree` is the worktree's absolute path: messages naming files
/// under it by absolute path are made relative.
pub fn parse_line(line: &str, worktree: &str) -> Option<Candidate> {
    let visible = strip_ansi(last_redraw(line));
    let captures = SHAPE.captures(visible.trim_start())?;
    let path = repository_path(&captures[1], worktree)?;
    let line: u32 = captures[2].parse().ok().filter(|n| *n > 0)?;
    let column = match captures.get(3) {
        None => None,
        Some(col) => Some(col.as_str().parse::<u32>().ok()?).filter(|c| *c > 0),
    };
    let message = captures[4].trim();
    if message.is_empty() {
        return None;
    }
    Some(Candidate {
        path,
        line,
        column,
        warning: message.to_lowercase().contains("warning"),
        message: cap_chars(message, MESSAGE_CHARS * 2),
    })
}

/// The path as the repository names it, or `None` when it cannot name a file inside it.
fn repository_path(raw: &str, worktree: &str) -> Option<String> {
    if raw.len() > MAX_PATH || raw.contains('\\') || raw.chars().any(char::is_control) {
        return None;
    }
    let mut path = raw;
    if path.starts_with('/') {
        let root = worktree.trim_end_matches('/');
        if root.is_empty() {
            return None;
        }
        path = path.strip_prefix(root)?.strip_prefix('/')?;
    }
    while let Some(rest) = path.strip_prefix("./") {
        path = rest;
    }
    let inside = !path.is_empty()
        && path
            .split('/')
            .all(|part| !part.is_empty() && part != "." && part != "..");
    inside.then(|| path.to_string())
}

/// The candidates of one step's output, gathered as its lines stream: distinct ones only, at
/// most [`MAX_CANDIDATES`].
#[derive(Debug)]
pub struct Candidates {
    worktree: String,
    seen: HashSet<Candidate>,
    found: Vec<Candidate>,
}

impl Candidates {
    /// Candidates of a step run in `worktree` (absolute).
    pub fn new(worktree: &str) -> Candidates {
        Candidates {
            worktree: worktree.to_string(),
            seen: HashSet::new(),
            found: Vec::new(),
        }
    }

    /// Whether more lines are worth reading.
    pub fn wants_more(&self) -> bool {
        self.found.len() < MAX_CANDIDATES
    }

    /// Reads one line (bytes, as the output had them).
    pub fn line(&mut self, bytes: &[u8]) {
        // A message needs `:<digit>`; most lines of a flood are turned away here, unread.
        let shaped = bytes
            .windows(2)
            .any(|w| w[0] == b':' && w[1].is_ascii_digit());
        if !shaped || !self.wants_more() {
            return;
        }
        if let Some(candidate) = parse_line(&String::from_utf8_lossy(bytes), &self.worktree)
            && self.seen.insert(candidate.clone())
        {
            self.found.push(candidate);
        }
    }

    /// The candidates, in the order they were printed.
    pub fn into_vec(self) -> Vec<Candidate> {
        self.found
    }
}

/// The annotations of a failing step: candidates whose path `is_repository_file` confirms,
/// messages masked and sanitized, duplicates dropped, at most [`MAX_PER_STEP`], titled with the
/// step's name. Each path is asked about once.
pub fn resolve(
    candidates: &[Candidate],
    step: &str,
    is_repository_file: &dyn Fn(&str) -> bool,
    mask: &Mask<'_>,
) -> Vec<CheckAnnotation> {
    let mut checked: HashMap<&str, bool> = HashMap::new();
    let mut seen = HashSet::new();
    let mut annotations = Vec::new();
    for candidate in candidates {
        if annotations.len() >= MAX_PER_STEP {
            break;
        }
        let path = candidate.path.as_str();
        if !*checked
            .entry(path)
            .or_insert_with(|| is_repository_file(path))
        {
            continue;
        }
        let message = clean_message(&candidate.message, mask);
        if message.is_empty()
            || !seen.insert((path, candidate.line, candidate.column, message.clone()))
        {
            continue;
        }
        annotations.push(CheckAnnotation {
            path: candidate.path.clone(),
            start_line: candidate.line,
            end_line: candidate.line,
            start_column: candidate.column,
            level: if candidate.warning {
                AnnotationLevel::Warning
            } else {
                AnnotationLevel::Failure
            },
            message,
            title: Some(step.to_string()),
        });
    }
    annotations
}

/// A message masked on its whole length, sanitized, on one line, and capped.
fn clean_message(raw: &str, mask: &Mask<'_>) -> String {
    let masked = mask(raw);
    let text = sanitize(&masked).text;
    let one_line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    cap_chars(&one_line, MESSAGE_CHARS)
}

#[cfg(test)]
mod tests {
    use super::*;

    const WT: &str = "/work/runs/r1/worktree";

    fn parse(line: &str) -> Option<(String, u32, Option<u32>, String)> {
        parse_line(line, WT).map(|c| (c.path, c.line, c.column, c.message))
    }

    fn some(
        path: &str,
        line: u32,
        col: Option<u32>,
        msg: &str,
    ) -> Option<(String, u32, Option<u32>, String)> {
        Some((path.into(), line, col, msg.into()))
    }

    #[test]
    fn the_usual_shapes_are_read() {
        assert_eq!(
            parse("src/lib.rs:3:5: error: expected `;`"),
            some("src/lib.rs", 3, Some(5), "error: expected `;`")
        );
        assert_eq!(
            parse("main.go:12: undefined: x"),
            some("main.go", 12, None, "undefined: x")
        );
        assert_eq!(
            parse("./a/b.py:7:1: E302"),
            some("a/b.py", 7, Some(1), "E302")
        );
        assert_eq!(parse("././a.py:7: x"), some("a.py", 7, None, "x"));
        assert_eq!(
            parse("   src/x.c:1:2:msg"),
            some("src/x.c", 1, Some(2), "msg")
        );
        assert_eq!(
            parse("my file.rs:4: spaces"),
            some("my file.rs", 4, None, "spaces")
        );
    }

    #[test]
    fn absolute_paths_count_only_under_the_worktree() {
        assert_eq!(
            parse(&format!("{WT}/src/lib.rs:3:5: bad")),
            some("src/lib.rs", 3, Some(5), "bad")
        );
        assert_eq!(parse(&format!("{WT}src/lib.rs:3: sibling folder")), None);
        assert_eq!(
            parse("/work/runs/r2/worktree/src/lib.rs:3: other run"),
            None
        );
        assert_eq!(parse("/etc/passwd:1:1: x"), None);
        assert_eq!(parse(&format!("{WT}:1: the worktree itself")), None);
        assert_eq!(parse_line("/etc/passwd:1:1: x", ""), None);
    }

    #[test]
    fn paths_leaving_the_repository_are_refused() {
        for line in [
            "../../etc/passwd:1:1: x",
            "src/../../etc/passwd:1:1: x",
            "src/./lib.rs:1: x",
            "src//lib.rs:1: x",
            "src/lib.rs/:1: x",
            "./:1: x",
            "..:1: x",
            "src\\lib.rs:1: x",
            "a\u{0}b:1: x",
        ] {
            assert_eq!(parse(line), None, "{line:?}");
        }
    }

    #[test]
    fn drive_letters_and_urls_are_not_paths() {
        assert_eq!(parse(r"C:\src\lib.rs:3:5: error"), None);
        assert_eq!(parse("C:/src/lib.rs:3:5: error"), None);
        assert_eq!(parse("http://x:80: y"), None);
        assert_eq!(parse("see https://example.com:443/a:1: y"), None);
        // A bare `C` is a legal file name; only the predicate can say whether the tree has it.
        assert_eq!(parse("C:3:4: x"), some("C", 3, Some(4), "x"));
    }

    #[test]
    fn line_zero_huge_numbers_and_empty_messages_are_dropped() {
        assert_eq!(parse("src/lib.rs:0:1: x"), None);
        assert_eq!(parse("src/lib.rs:4294967296:1: x"), None);
        assert_eq!(parse("src/lib.rs:99999999999999999999: x"), None);
        assert_eq!(
            parse("src/lib.rs:4294967295: max"),
            some("src/lib.rs", u32::MAX, None, "max")
        );
        assert_eq!(
            parse("src/lib.rs:3:0: col zero"),
            some("src/lib.rs", 3, None, "col zero")
        );
        assert_eq!(parse("src/lib.rs:3:99999999999: x"), None);
        assert_eq!(parse("src/lib.rs:3:5:"), None);
        assert_eq!(parse("src/lib.rs:3:5:   "), None);
        assert_eq!(parse("src/lib.rs:x: x"), None);
        assert_eq!(parse("src/lib.rs:-3: x"), None);
    }

    #[test]
    fn colour_codes_and_carriage_returns_are_read_through() {
        assert_eq!(
            parse("\u{1b}[1msrc/lib.rs:3:5: \u{1b}[31merror\u{1b}[0m: bad\r"),
            some("src/lib.rs", 3, Some(5), "error: bad")
        );
        assert_eq!(
            parse("compiling 40%\rsrc/a.rs:1: late"),
            some("src/a.rs", 1, None, "late")
        );
        assert_eq!(parse("\u{1b}[31m../x:1: up\u{1b}[0m"), None);
    }

    #[test]
    fn warnings_are_told_apart() {
        let warning = parse_line("src/a.rs:1: warning: unused", WT).unwrap();
        let error = parse_line("src/a.rs:2: error: bad", WT).unwrap();
        assert!(warning.warning && !error.warning);
        let annotations = resolve(&[warning, error], "clippy", &|_| true, &|t| t.to_string());
        assert_eq!(annotations[0].level, AnnotationLevel::Warning);
        assert_eq!(annotations[1].level, AnnotationLevel::Failure);
        assert_eq!(annotations[1].title.as_deref(), Some("clippy"));
    }

    #[test]
    fn only_files_the_predicate_confirms_are_annotated_each_asked_once() {
        let mut candidates = Candidates::new(WT);
        for line in [
            "src/lib.rs:3:5: error: a",
            "src/lib.rs:3:5: error: a",
            "src/lib.rs:4:1: error: b",
            "link/lib.rs:1:1: through a symlink",
            "missing.rs:1:1: absent",
            "no message here",
        ] {
            candidates.line(line.as_bytes());
        }
        let candidates = candidates.into_vec();
        assert_eq!(candidates.len(), 4, "duplicates are read once");
        let asked = std::sync::Mutex::new(Vec::new());
        let is_file = |path: &str| {
            asked.lock().unwrap().push(path.to_string());
            path == "src/lib.rs"
        };
        let annotations = resolve(&candidates, "lint", &is_file, &|t| t.to_string());
        let places: Vec<(String, u32)> = annotations
            .iter()
            .map(|a| (a.path.clone(), a.start_line))
            .collect();
        assert_eq!(places, [("src/lib.rs".into(), 3), ("src/lib.rs".into(), 4)]);
        assert_eq!(
            *asked.lock().unwrap(),
            ["src/lib.rs", "link/lib.rs", "missing.rs"]
        );
    }

    #[test]
    fn caps_hold_per_step_and_for_reading() {
        let mut candidates = Candidates::new(WT);
        for n in 1..=(MAX_CANDIDATES as u32 + 100) {
            candidates.line(format!("src/lib.rs:{n}: e").as_bytes());
        }
        assert!(!candidates.wants_more());
        let candidates = candidates.into_vec();
        assert_eq!(candidates.len(), MAX_CANDIDATES);
        let annotations = resolve(&candidates, "s", &|_| true, &|t| t.to_string());
        assert_eq!(annotations.len(), MAX_PER_STEP);
    }

    #[test]
    fn messages_are_masked_sanitized_and_capped() {
        let long = format!(
            "src/a.rs:1: token=SECRET1234 <!-- hidden --> {}",
            "y".repeat(2000)
        );
        let candidate = parse_line(&long, WT).unwrap();
        let mask = |t: &str| t.replace("SECRET1234", "[redacted]");
        let annotation = &resolve(&[candidate], "s", &|_| true, &mask)[0];
        assert!(
            annotation.message.starts_with("token=[redacted] "),
            "{}",
            annotation.message
        );
        assert!(!annotation.message.contains("hidden"));
        assert!(annotation.message.chars().count() <= MESSAGE_CHARS + 2);
    }
}
