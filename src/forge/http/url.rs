//! URL pieces built from names ade does not control (branch names, file paths, logins), so that a
//! `/`, `?` or `#` in them can never change which endpoint a request reaches.

/// One path segment, percent-encoded: everything but RFC 3986's unreserved characters.
pub(crate) fn encode_segment(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    for byte in segment.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// A file path inside a repository: each segment encoded, the slashes between them kept.
pub(crate) fn encode_path(path: &str) -> String {
    path.trim_matches('/')
        .split('/')
        .map(encode_segment)
        .collect::<Vec<_>>()
        .join("/")
}

/// `?k=v&…`, form-encoded; empty when there are no pairs.
pub(crate) fn query(pairs: &[(&str, &str)]) -> String {
    if pairs.is_empty() {
        return String::new();
    }
    let mut serializer = form_urlencoded::Serializer::for_suffix(String::from("?"), 1);
    for (k, v) in pairs {
        serializer.append_pair(k, v);
    }
    serializer.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_cannot_escape_their_place() {
        assert_eq!(encode_segment("feature/x"), "feature%2Fx");
        assert_eq!(encode_segment("a b?#"), "a%20b%3F%23");
        assert_eq!(encode_segment("é"), "%C3%A9");
        assert_eq!(encode_path("/.ade/config.toml"), ".ade/config.toml");
        assert_eq!(encode_path("dir/a b.md"), "dir/a%20b.md");
    }

    #[test]
    fn queries_are_form_encoded() {
        assert_eq!(query(&[]), "");
        assert_eq!(
            query(&[("ref", "a/b c"), ("page", "2")]),
            "?ref=a%2Fb+c&page=2"
        );
    }
}
