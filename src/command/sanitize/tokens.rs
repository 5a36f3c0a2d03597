//! The token pass: GitHub credentials pasted into an issue never reach an agent.
//!
//! Formats (GitHub documents the prefixes; the lengths are the current ones, taken as minimums
//! so a longer variant is masked too):
//! - `ghp_`, `gho_`, `ghu_`, `ghr_` + at least 36 of `[A-Za-z0-9]` (classic tokens);
//! - `ghs_` + at least 36 of `[A-Za-z0-9_.-]`: both the classic installation token and the newer
//!   stateless one of about 520 characters, taken whole (a trailing `.` is left as punctuation);
//! - `github_pat_` + at least 22 of `[A-Za-z0-9_]` (fine-grained tokens are
//!   `github_pat_` + 22 + `_` + 59).
//!
//! A prefix is matched anywhere, not only at a word boundary: a token glued to other text
//! (`token=ghp_…`, `xghp_…`) is still a token. Gitea tokens are 40 hexadecimal characters without
//! a prefix, indistinguishable from a commit id, and are not masked.

use super::{HiddenKind, Removed};

/// What a token becomes.
pub(super) const MASK: &str = "[masked github token]";

/// Masks every token in `text`, counting them.
pub(super) fn mask(text: &str, removed: &mut Removed) -> String {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    let mut i = 0;
    while let Some(offset) = bytes[i..].iter().position(|b| *b == b'g') {
        let at = i + offset;
        match token_len(&bytes[at..]) {
            Some(len) => {
                out.push_str(&text[copied..at]);
                out.push_str(MASK);
                removed.add(HiddenKind::Tokens, 1);
                copied = at + len;
                i = copied;
            }
            None => i = at + 1,
        }
    }
    out.push_str(&text[copied..]);
    out
}

/// The length of the GitHub token starting at `s`, prefix included, if one does. The runner's DLP
/// scan reuses it so both know the same formats.
pub(crate) fn token_len(s: &[u8]) -> Option<usize> {
    let run = |from: usize, allowed: fn(u8) -> bool| {
        s[from..].iter().take_while(|b| allowed(**b)).count()
    };
    if s.starts_with(b"github_pat_") {
        let n = run(11, |b| b.is_ascii_alphanumeric() || b == b'_');
        return (n >= 22).then_some(11 + n);
    }
    if s.starts_with(b"ghs_") {
        let n = run(4, |b| b.is_ascii_alphanumeric() || b"_.-".contains(&b));
        let n = n - s[4..4 + n].iter().rev().take_while(|b| **b == b'.').count();
        return (n >= 36).then_some(4 + n);
    }
    if [b"ghp_", b"gho_", b"ghu_", b"ghr_"]
        .iter()
        .any(|p| s.starts_with(*p))
    {
        let n = run(4, |b| b.is_ascii_alphanumeric());
        return (n >= 36).then_some(4 + n);
    }
    None
}
