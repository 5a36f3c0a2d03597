//! The record of every API and git request the simulator received, so a test can assert on what
//! ade did (and did not do) without mocking anything on ade's side.

use serde::Serialize;
use std::sync::Mutex;

/// One request and its answer.
#[derive(Clone, Debug, Serialize)]
pub struct ApiCall {
    /// Order of arrival, from 1.
    pub seq: u64,
    /// `GET`, `POST`, ...
    pub method: String,
    /// The path, without the query.
    pub path: String,
    /// The raw query string (empty when none).
    pub query: String,
    /// The status answered.
    pub status: u16,
    /// The request body as text, when it was JSON or text (git traffic is not kept).
    pub body: Option<String>,
    /// The fault injected into this call, if one was.
    pub fault: Option<String>,
    /// When it arrived (Unix ms).
    pub at_ms: i64,
}

impl ApiCall {
    /// The request body parsed as JSON (`Null` when absent or not JSON).
    pub fn json(&self) -> serde_json::Value {
        self.body
            .as_deref()
            .and_then(|b| serde_json::from_str(b).ok())
            .unwrap_or(serde_json::Value::Null)
    }

    /// Whether this call matches a method (any, if `None`) and a path pattern (see
    /// [`path_matches`]).
    pub fn matches(&self, method: Option<&str>, pattern: &str) -> bool {
        method.is_none_or(|m| m.eq_ignore_ascii_case(&self.method))
            && path_matches(pattern, &self.path)
    }
}

/// A path pattern: literal text where `*` stands for one path segment's worth of characters
/// (no `/`) and `**` for any characters at all. `/repos/*/*/issues/*/comments` matches every
/// issue's comment list.
pub fn path_matches(pattern: &str, path: &str) -> bool {
    fn go(p: &[u8], s: &[u8]) -> bool {
        match p {
            [] => s.is_empty(),
            [b'*', b'*', rest @ ..] => (0..=s.len()).any(|i| go(rest, &s[i..])),
            [b'*', rest @ ..] => {
                let limit = s.iter().position(|&c| c == b'/').unwrap_or(s.len());
                (0..=limit).any(|i| go(rest, &s[i..]))
            }
            [c, rest @ ..] => s.first() == Some(c) && go(rest, &s[1..]),
        }
    }
    go(pattern.as_bytes(), path.as_bytes())
}

/// The log itself.
#[derive(Debug, Default)]
pub struct CallLog {
    calls: Mutex<Vec<ApiCall>>,
}

impl CallLog {
    /// Appends a call, numbering it.
    pub fn push(&self, mut call: ApiCall) {
        let mut calls = self.calls.lock().unwrap_or_else(|e| e.into_inner());
        call.seq = calls.len() as u64 + 1;
        calls.push(call);
    }

    /// Every call so far, oldest first.
    pub fn all(&self) -> Vec<ApiCall> {
        self.calls.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

#[cfg(test)]
mod tests {
    use super::path_matches;

    #[test]
    fn stars_match_within_and_across_segments() {
        assert!(path_matches(
            "/repos/*/*/issues/*/comments",
            "/repos/o/r/issues/7/comments"
        ));
        assert!(!path_matches("/repos/*/issues", "/repos/o/r/issues"));
        assert!(path_matches("/repos/**", "/repos/o/r/issues/7/comments"));
        assert!(path_matches(
            "**/comments",
            "/api/v1/repos/o/r/issues/7/comments"
        ));
        assert!(!path_matches("/repos/*/*/pulls", "/repos/o/r/pulls/1"));
        assert!(path_matches("/user", "/user"));
    }
}
