//! What an audit record may hold: no secret ade knows, no control or bidirectional-override
//! characters, and no string longer than a record needs.

use serde_json::Value;

/// The longest string a record keeps; longer ones are cut and marked.
const MAX_CHARS: usize = 1_000;

/// What stands where a secret was.
pub const MASK: &str = "[secret]";

/// Masks the secret values ade holds (webhook secrets, tokens, agents' secrets) in every string
/// of a record before it is written.
#[derive(Clone, Debug, Default)]
pub struct Masker {
    /// The values, longest first, so a secret that contains another is masked whole.
    secrets: Vec<String>,
}

impl Masker {
    /// A masker for these values; values shorter than 4 characters are too common to mask
    /// without masking ordinary words, and ade refuses secrets that short where it can.
    pub fn new(secrets: impl IntoIterator<Item = String>) -> Masker {
        let mut secrets: Vec<String> = secrets.into_iter().filter(|s| s.len() >= 4).collect();
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        secrets.dedup();
        Masker { secrets }
    }

    /// Whether `value` is masked already.
    pub fn covers(&self, value: &str) -> bool {
        value.len() < 4 || self.secrets.iter().any(|s| s == value)
    }

    /// This masker with `value` masked too.
    pub fn with(&self, value: &str) -> Masker {
        Masker::new(self.secrets.iter().cloned().chain([value.to_owned()]))
    }

    /// `text` as a record may hold it.
    pub fn text(&self, text: &str) -> String {
        // Every place any secret stands, found in the text as given and merged, so that neither a
        // secret inside another nor the mask itself is masked twice.
        let mut spans: Vec<(usize, usize)> = Vec::new();
        for secret in &self.secrets {
            spans.extend(
                text.match_indices(secret.as_str())
                    .map(|(at, s)| (at, at + s.len())),
            );
        }
        // GitHub tokens by their documented shapes, which no configuration names (a token
        // pasted into a comment, an installation token in an error).
        let bytes = text.as_bytes();
        for (at, _) in text.match_indices('g') {
            if let Some(len) = crate::command::github_token_len(&bytes[at..]) {
                spans.push((at, at + len));
            }
        }
        spans.sort_unstable();
        let mut out = String::with_capacity(text.len());
        let mut from = 0;
        for (start, end) in spans {
            if end <= from {
                continue;
            }
            if start >= from {
                out.push_str(&text[from..start]);
                out.push_str(MASK);
            }
            from = end;
        }
        out.push_str(&text[from..]);
        let mut clean: String = out
            .chars()
            .map(|c| if unsafe_char(c) { ' ' } else { c })
            .take(MAX_CHARS)
            .collect();
        if out.chars().count() > MAX_CHARS {
            clean.push('…');
        }
        clean
    }

    /// Every string inside `value` (keys too) as a record may hold it.
    pub fn value(&self, value: &Value) -> Value {
        match value {
            Value::String(s) => Value::String(self.text(s)),
            Value::Array(items) => Value::Array(items.iter().map(|v| self.value(v)).collect()),
            Value::Object(map) => Value::Object(
                map.iter()
                    .map(|(k, v)| (self.text(k), self.value(v)))
                    .collect(),
            ),
            other => other.clone(),
        }
    }
}

/// Control characters and the ones that reorder text on a terminal.
pub fn unsafe_char(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}')
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn masks_every_secret_wherever_it_stands() {
        let masker = Masker::new(["hunter2-canary".to_owned(), "abc".to_owned()]);
        let value = json!({"why": "token hunter2-canary leaked", "hunter2-canary": ["x hunter2-canary"], "n": 3, "short": "abc"});
        let masked = masker.value(&value).to_string();
        assert!(!masked.contains("hunter2-canary"), "{masked}");
        assert!(masked.contains("token [secret] leaked"), "{masked}");
        assert!(
            masked.contains("\"short\":\"abc\""),
            "too short to mask: {masked}"
        );
    }

    #[test]
    fn github_tokens_are_masked_by_their_shape() {
        let token = format!("ghp_{}", "a1".repeat(18));
        let masked = Masker::default().text(&format!("why: bad credentials {token}."));
        assert_eq!(masked, "why: bad credentials [secret].");
    }

    #[test]
    fn a_secret_containing_another_is_masked_whole() {
        let masker = Masker::new(["secret".to_owned(), "the-secret-value".to_owned()]);
        assert_eq!(masker.text("is the-secret-value"), "is [secret]");
    }

    #[test]
    fn control_and_bidi_characters_become_spaces_and_long_text_is_cut() {
        let masker = Masker::default();
        assert_eq!(masker.text("a\u{1b}[31mb\u{202E}c\nd"), "a [31mb c d");
        let long = "x".repeat(MAX_CHARS + 10);
        let cut = masker.text(&long);
        assert_eq!(cut.chars().count(), MAX_CHARS + 1);
        assert!(cut.ends_with('…'));
    }
}
