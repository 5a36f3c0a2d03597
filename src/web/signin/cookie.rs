//! Reading one cookie from a request and writing the ones sign-in sets: every cookie ade sets is
//! `HttpOnly` and `SameSite=Lax`, and `Secure` unless ade is served over plain http on loopback.

use axum::http::HeaderMap;
use axum::http::header;

/// The value of cookie `name`, from any `Cookie` header of the request.
pub fn value<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.trim_matches('"'))
}

/// A `Set-Cookie` value: `name=value` for `path`, living `max_age_secs` (0 deletes it).
pub fn set(name: &str, value: &str, path: &str, max_age_secs: u64, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!("{name}={value}; Path={path}; Max-Age={max_age_secs}; HttpOnly; SameSite=Lax{secure}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn a_cookie_is_found_among_others_and_in_a_second_header() {
        let mut headers = HeaderMap::new();
        headers.append(header::COOKIE, HeaderValue::from_static("a=1; ade_x=2"));
        headers.append(
            header::COOKIE,
            HeaderValue::from_static("ade_session=\"s\""),
        );
        assert_eq!(value(&headers, "ade_x"), Some("2"));
        assert_eq!(value(&headers, "ade_session"), Some("s"));
        assert_eq!(value(&headers, "ade"), None);
    }

    #[test]
    fn set_cookies_are_http_only_lax_and_secure_when_asked() {
        assert_eq!(
            set("n", "v", "/", 60, true),
            "n=v; Path=/; Max-Age=60; HttpOnly; SameSite=Lax; Secure"
        );
        assert!(!set("n", "", "/", 0, false).contains("Secure"));
    }
}
