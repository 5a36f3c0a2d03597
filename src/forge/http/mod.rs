//! What the GitHub and Gitea clients share: one retry loop for rate limits and transient failures,
//! the reading of an HTTP answer into a [`ForgeError`], pagination, and URL pieces. The clients
//! differ in transport (octocrab, reqwest) and dialect, not in how they wait or fail.

mod pages;
mod reply;
mod retry;
mod url;

pub(crate) use pages::{Paging, collect_pages, list_pages, more_after};
pub(crate) use reply::Reply;
pub use retry::{ClientOptions, RetryPolicy};
pub(crate) use retry::{backoff, send_with_retries};
pub(crate) use url::{encode_path, encode_segment, query};

/// Cuts `text` to at most `max` characters, ending with `…` when something was cut: forges refuse
/// or silently truncate fields past their limits, and a cut ade chose reads better than theirs.
pub(crate) fn truncate_chars(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut out: String = text.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// Cuts `text` to at most `max` bytes on a character boundary, ending with `…` when something
/// was cut: for the limits a forge counts in bytes (GitHub's 64 KB annotation messages).
pub(crate) fn truncate_bytes(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_string();
    }
    let mut end = max.saturating_sub('…'.len_utf8());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let mut out = text[..end].to_string();
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::{truncate_bytes, truncate_chars};

    #[test]
    fn truncation_counts_characters_not_bytes() {
        assert_eq!(truncate_chars("short", 140), "short");
        assert_eq!(truncate_chars("ééééé", 3), "éé…");
        assert_eq!(truncate_chars("abc", 3), "abc");
    }

    #[test]
    fn byte_truncation_never_splits_a_character() {
        assert_eq!(truncate_bytes("short", 5), "short");
        assert_eq!(truncate_bytes("abcdef", 5), "ab…");
        let cut = truncate_bytes("éééé", 6);
        assert!(cut.len() <= 6 && cut.ends_with('…'), "{cut}");
        assert_eq!(cut, "é…");
    }
}
