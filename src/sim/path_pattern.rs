//! The path patterns tests name API calls by, shared by the call log (`calls.rs`) and the faults
//! injected into calls (`faults.rs`).

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
