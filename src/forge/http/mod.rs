//! What the GitHub and Gitea clients share: one retry loop for rate limits and transient failures,
//! the reading of an HTTP answer into a [`ForgeError`], pagination, and URL pieces. The clients
//! differ in transport (octocrab, reqwest) and dialect, not in how they wait or fail.

mod pages;
mod reply;
mod retry;
mod url;

pub(crate) use pages::{collect_pages, more_after};
pub(crate) use reply::Reply;
pub(crate) use retry::send_with_retries;
pub use retry::{ClientOptions, RetryPolicy};
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

#[cfg(test)]
mod tests {
    use super::truncate_chars;

    #[test]
    fn truncation_counts_characters_not_bytes() {
        assert_eq!(truncate_chars("short", 140), "short");
        assert_eq!(truncate_chars("ééééé", 3), "éé…");
        assert_eq!(truncate_chars("abc", 3), "abc");
    }
}
