//! The record of every API and git request the simulator received, so a test can assert on what
//! ade did (and did not do) without mocking anything on ade's side.

use super::faults::{DELAY_PREFIX, LOST_PREFIX, REWRITE_PREFIX};
use super::path_pattern::path_matches;
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
    /// Git over smart HTTP rather than an API call.
    pub git: bool,
    /// The status answered (for a lost answer, the one the routes gave: what the forge did,
    /// not what the caller got).
    pub status: u16,
    /// The request body as text, when it was JSON or text (git traffic is not kept).
    pub body: Option<String>,
    /// The answer's body as text, when it was JSON or text (git traffic and other bytes are not
    /// kept), cut at [`MAX_RESPONSE_BODY`] bytes.
    pub response: Option<String>,
    /// Whether `response` was cut short.
    pub response_truncated: bool,
    /// The fault injected into this call, if one was.
    pub fault: Option<String>,
    /// The serial of the installation token the call carried, if it carried one the simulator
    /// issued (live or not): see [`super::Simulator::installation_tokens`].
    pub installation_token: Option<u64>,
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

    /// The answer's body parsed as JSON (`Null` when absent, cut short, or not JSON).
    pub fn response_json(&self) -> serde_json::Value {
        self.response
            .as_deref()
            .filter(|_| !self.response_truncated)
            .and_then(|b| serde_json::from_str(b).ok())
            .unwrap_or(serde_json::Value::Null)
    }

    /// Whether the answer was made up by an injected fault (an error status, a rate limit, a
    /// timeout) rather than by the simulator's routes: such an answer is the test's doing, so a
    /// check of the forge's shapes passes over it. A delay or a rewrite still gets the routes'
    /// answer, and a lost answer is recorded as the routes gave it.
    pub fn answer_injected(&self) -> bool {
        self.fault.as_deref().is_some_and(|f| {
            !f.starts_with(DELAY_PREFIX)
                && !f.starts_with(REWRITE_PREFIX)
                && !f.starts_with(LOST_PREFIX)
        })
    }

    /// Whether the routes answered this call but the caller never got the answer
    /// ([`super::Fault::AnswerLost`]).
    pub fn answer_lost(&self) -> bool {
        self.fault
            .as_deref()
            .is_some_and(|f| f.starts_with(LOST_PREFIX))
    }

    /// Whether this call matches a method (any, if `None`) and a path pattern (see
    /// [`path_matches`]).
    pub fn matches(&self, method: Option<&str>, pattern: &str) -> bool {
        method.is_none_or(|m| m.eq_ignore_ascii_case(&self.method))
            && path_matches(pattern, &self.path)
    }
}

/// The most of an answer's body a call record keeps by default
/// ([`super::SimOptions::recorded_response_limit`]): most single answers fit, while a simulator
/// that serves many large pages does not fill memory.
pub const MAX_RESPONSE_BODY: usize = 64 * 1024;

/// What a call record keeps of an answer: its text, cut at `limit` bytes (on a character
/// boundary), and whether it was cut. Bytes that are not text are not kept.
pub fn response_text(
    content_type: Option<&str>,
    bytes: &[u8],
    limit: usize,
) -> (Option<String>, bool) {
    let textual = content_type.is_some_and(|t| {
        let t = t.to_ascii_lowercase();
        t.starts_with("text/") || t.contains("json")
    });
    if !textual || bytes.is_empty() {
        return (None, false);
    }
    let Ok(text) = std::str::from_utf8(bytes) else {
        return (None, false);
    };
    if text.len() <= limit {
        return (Some(text.to_owned()), false);
    }
    let mut end = limit;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    (Some(text[..end].to_owned()), true)
}

/// The log itself.
#[derive(Debug)]
pub struct CallLog {
    calls: Mutex<Vec<ApiCall>>,
    response_limit: usize,
}

impl CallLog {
    /// An empty log keeping at most `response_limit` bytes of each answer.
    pub fn new(response_limit: usize) -> CallLog {
        CallLog {
            calls: Mutex::new(Vec::new()),
            response_limit,
        }
    }

    /// The most of an answer's body each call keeps.
    pub fn response_limit(&self) -> usize {
        self.response_limit
    }

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
    use super::{MAX_RESPONSE_BODY, response_text};

    #[test]
    fn answers_are_kept_as_text_and_cut_at_the_cap() {
        assert_eq!(
            response_text(Some("application/json"), b"{\"a\":1}", MAX_RESPONSE_BODY),
            (Some("{\"a\":1}".to_owned()), false)
        );
        assert_eq!(
            response_text(Some("text/plain; charset=utf-8"), b"hi", 2),
            (Some("hi".to_owned()), false)
        );
        assert_eq!(
            response_text(Some("application/octet-stream"), b"hi", 2),
            (None, false)
        );
        assert_eq!(response_text(None, b"hi", 2), (None, false));
        assert_eq!(
            response_text(Some("text/plain"), &[0xff, 0xfe], 2),
            (None, false)
        );
        let long = "é".repeat(MAX_RESPONSE_BODY);
        let (kept, cut) = response_text(Some("text/plain"), long.as_bytes(), MAX_RESPONSE_BODY);
        let kept = kept.unwrap();
        assert!(cut);
        assert!(kept.len() <= MAX_RESPONSE_BODY && kept.len() > MAX_RESPONSE_BODY - 2);
        assert!(kept.chars().all(|c| c == 'é'));
    }
}
