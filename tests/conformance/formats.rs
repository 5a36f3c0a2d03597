//! The string and number `format`s the descriptions use and ade relies on: `uri`,
//! `uri-template`, `date-time`, `date`, `email`, and the integer widths. Each check says why a
//! value fails, or nothing when it passes; formats the checker does not know (`binary`,
//! `repo.nwo`, …) pass.

use serde_json::Value;

/// Why `value` is not of `format`, or `None` when it is (or the format is not checked).
pub fn departure(format: &str, value: &Value) -> Option<&'static str> {
    match (format, value) {
        ("uri", Value::String(s)) => uri(s),
        ("uri-template", Value::String(s)) => uri_template(s),
        ("date-time", Value::String(s)) => date_time(s),
        ("date", Value::String(s)) => (!date(s)).then_some("not an RFC 3339 date (YYYY-MM-DD)"),
        ("email", Value::String(s)) => email(s),
        ("int32", Value::Number(n)) => integer_within(n, i32::MIN.into(), i32::MAX.into()),
        ("int64", Value::Number(n)) => integer_within(n, i64::MIN.into(), i64::MAX.into()),
        ("uint64", Value::Number(n)) => integer_within(n, 0, u64::MAX.into()),
        _ => None,
    }
}

fn integer_within(n: &serde_json::Number, low: i128, high: i128) -> Option<&'static str> {
    let value = n
        .as_i64()
        .map(i128::from)
        .or_else(|| n.as_u64().map(i128::from))?;
    (value < low || value > high).then_some("out of the format's range")
}

/// An absolute URI (RFC 3986 §4.3, as JSON Schema's `uri` means it): a scheme, a colon, and
/// only characters a URI may hold, with every `%` starting an escape.
fn uri(s: &str) -> Option<&'static str> {
    let Some((scheme, rest)) = s.split_once(':') else {
        return Some("no scheme (not an absolute URI)");
    };
    if !scheme_ok(scheme) {
        return Some("no valid scheme (not an absolute URI)");
    }
    if rest.is_empty() {
        return Some("nothing after the scheme");
    }
    if let Some(reason) = uri_characters(rest, false) {
        return Some(reason);
    }
    if let Some(authority) = rest.strip_prefix("//") {
        let host = authority.split(['/', '?', '#']).next().unwrap_or_default();
        let host = host.rsplit_once('@').map_or(host, |(_, h)| h);
        if host.is_empty() && scheme != "file" {
            return Some("an empty host");
        }
        if let Some((_, port)) = host.rsplit_once(':')
            && !host.ends_with(']')
            && !port.bytes().all(|b| b.is_ascii_digit())
        {
            return Some("a port that is not a number");
        }
    }
    None
}

fn scheme_ok(scheme: &str) -> bool {
    let mut bytes = scheme.bytes();
    bytes.next().is_some_and(|b| b.is_ascii_alphabetic())
        && bytes.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
}

/// Whether every character of `s` may stand in a URI (unreserved, reserved, or a `%XX` escape);
/// `braces` lets `{` and `}` through for templates.
fn uri_characters(s: &str, braces: bool) -> Option<&'static str> {
    let bytes = s.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        let ok = b.is_ascii_alphanumeric()
            || b"-._~:/?#[]@!$&'()*+,;=".contains(&b)
            || (braces && (b == b'{' || b == b'}'));
        if b == b'%' {
            let escape = bytes.get(i + 1..i + 3);
            if !escape.is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit)) {
                return Some("a % that starts no escape");
            }
            i += 3;
            continue;
        }
        if !ok {
            return Some(if b == b' ' {
                "a space (not escaped)"
            } else if b >= 0x80 {
                "a character outside ASCII (not escaped)"
            } else {
                "a character a URI may not hold"
            });
        }
        i += 1;
    }
    None
}

/// An RFC 6570 template: balanced, unnested `{…}` expressions of variable names, and an
/// absolute URI once they are taken out.
fn uri_template(s: &str) -> Option<&'static str> {
    let mut literal = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(open) = rest.find(['{', '}']) {
        if rest.as_bytes()[open] == b'}' {
            return Some("a } without {");
        }
        literal.push_str(&rest[..open]);
        let Some(close) = rest[open..].find('}') else {
            return Some("a { without }");
        };
        let expression = &rest[open + 1..open + close];
        let names = expression.trim_start_matches(['+', '#', '.', '/', ';', '?', '&']);
        let valid = !names.is_empty()
            && names.split(',').all(|name| {
                let name = name.trim_end_matches('*');
                let name = name.split_once(':').map_or(name, |(n, _)| n);
                !name.is_empty()
                    && name
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.')
            });
        if !valid {
            return Some("an expression that is not a list of variable names");
        }
        rest = &rest[open + close + 1..];
    }
    literal.push_str(rest);
    uri(&literal)
}

/// RFC 3339 `date-time`: `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)`.
fn date_time(s: &str) -> Option<&'static str> {
    let Some((day, time)) = s.split_once(['T', 't']) else {
        return Some("no T between date and time");
    };
    if !date(day) {
        return Some("not an RFC 3339 date");
    }
    let (clock, offset) = match time.find(['Z', 'z', '+', '-']) {
        Some(i) => time.split_at(i),
        None => return Some("no time zone offset"),
    };
    let (hms, fraction) = clock.split_once('.').unwrap_or((clock, "1"));
    if fraction.is_empty() || !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return Some("a bad fraction of a second");
    }
    let hms = numbers(hms, b':');
    if !matches!(hms.as_slice(), [Some(h), Some(m), Some(s)] if *h < 24 && *m < 60 && *s <= 60) {
        return Some("not an RFC 3339 time");
    }
    let offset_ok = offset.eq_ignore_ascii_case("z")
        || matches!(numbers(&offset[1..], b':').as_slice(), [Some(h), Some(m)] if *h < 24 && *m < 60);
    (!offset_ok).then_some("a bad time zone offset")
}

/// RFC 3339 `full-date`, a real day of the Gregorian calendar.
fn date(s: &str) -> bool {
    let parts = numbers(s, b'-');
    let [Some(year), Some(month), Some(day)] = parts.as_slice() else {
        return false;
    };
    if s.len() != 10 || !(1..=12).contains(month) || *day == 0 {
        return false;
    }
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let days = match month {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    };
    *day <= days
}

/// Fields of fixed-width digits separated by `sep` (each `None` unless all digits).
fn numbers(s: &str, sep: u8) -> Vec<Option<u32>> {
    s.split(sep as char)
        .map(|part| {
            (!part.is_empty() && part.len() <= 4 && part.bytes().all(|b| b.is_ascii_digit()))
                .then(|| part.parse().ok())
                .flatten()
        })
        .collect()
}

/// An RFC 5321 mailbox, as JSON Schema's `email`: a dot-atom or quoted local part, `@`, and a
/// domain of letter-digit-hyphen labels (or an address literal).
fn email(s: &str) -> Option<&'static str> {
    let Some((local, domain)) = s.rsplit_once('@') else {
        return Some("no @");
    };
    let atext = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-/=?^_`{|}~".contains(&b);
    let local_ok = if github_bot(local) && domain == "users.noreply.github.com" {
        true
    } else if local.len() >= 2 && local.starts_with('"') && local.ends_with('"') {
        local[1..local.len() - 1]
            .bytes()
            .all(|b| (0x20..0x7f).contains(&b))
    } else {
        !local.is_empty()
            && local
                .split('.')
                .all(|a| !a.is_empty() && a.bytes().all(atext))
    };
    if !local_ok {
        return Some("a local part that is neither a dot-atom nor quoted");
    }
    let domain_ok = (domain.starts_with('[') && domain.ends_with(']'))
        || (!domain.is_empty()
            && domain.split('.').all(|label| {
                !label.is_empty()
                    && !label.starts_with('-')
                    && !label.ends_with('-')
                    && label
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-')
            }));
    (!domain_ok).then_some("a domain that is not a host name")
}

/// `41898282+github-actions[bot]`: the local part of the address GitHub gives an app's bot
/// user. Brackets are not allowed in a dot-atom, yet GitHub writes these in `email` fields, and
/// the corpus shows one there (github/webhooks/check_suite/requested-2.json), so the format is
/// read as GitHub uses it.
fn github_bot(local: &str) -> bool {
    let Some((id, slug)) = local.split_once('+') else {
        return false;
    };
    let Some(slug) = slug.strip_suffix("[bot]") else {
        return false;
    };
    !id.is_empty()
        && id.bytes().all(|b| b.is_ascii_digit())
        && !slug.is_empty()
        && slug.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

#[cfg(test)]
mod tests {
    use super::departure;
    use serde_json::json;

    fn ok(format: &str, value: serde_json::Value) {
        assert_eq!(departure(format, &value), None, "{format} {value}");
    }

    fn bad(format: &str, value: serde_json::Value) {
        assert!(
            departure(format, &value).is_some(),
            "{format} {value} passed"
        );
    }

    #[test]
    fn uris_are_absolute_and_escaped() {
        ok("uri", json!("https://api.github.com/repos/o/r"));
        ok(
            "uri",
            json!("http://127.0.0.1:3300/o/r/pull/1#issuecomment-7"),
        );
        ok("uri", json!("git://127.0.0.1:3300/o/r.git"));
        ok("uri", json!("mailto:a@b.c"));
        ok("uri", json!("http://h/docs/read%20me.md?ref=main"));
        bad("uri", json!("/repos/o/r"));
        bad("uri", json!(""));
        bad("uri", json!("not a url"));
        bad("uri", json!("http://h/read me.md"));
        bad("uri", json!("http://h/ünï"));
        bad("uri", json!("http://h/%zz"));
        bad("uri", json!("http://h/{/number}"));
        bad("uri", json!("http:///path"));
        bad("uri", json!("http://h:port/"));
        ok(
            "uri-template",
            json!("https://h/users/o/following{/other_user}"),
        );
        ok(
            "uri-template",
            json!("https://h/n{?since,all,participating}"),
        );
        ok("uri-template", json!("https://h/contents/{+path}"));
        bad("uri-template", json!("https://h/{oops"));
        bad("uri-template", json!("https://h/{a b}"));
        bad("uri-template", json!("/relative{/x}"));
    }

    #[test]
    fn times_are_rfc_3339() {
        ok("date-time", json!("2026-06-21T09:30:18Z"));
        ok("date-time", json!("0001-01-01T00:00:00Z"));
        ok("date-time", json!("2024-02-29T23:59:60.123+02:00"));
        bad("date-time", json!("2026-06-21 09:30:18Z"));
        bad("date-time", json!("2026-06-21T09:30:18"));
        bad("date-time", json!("2026-13-01T00:00:00Z"));
        bad("date-time", json!("2025-02-29T00:00:00Z"));
        bad("date-time", json!("2026-06-21T24:00:00Z"));
        bad("date-time", json!("1718960000"));
        bad("date-time", json!(""));
        ok("date", json!("2026-06-21"));
        bad("date", json!("2026-6-21"));
    }

    #[test]
    fn emails_and_integers() {
        ok("email", json!("7+octo@users.noreply.github.com"));
        ok("email", json!("3+mia@noreply.localhost"));
        ok(
            "email",
            json!("41898282+github-actions[bot]@users.noreply.github.com"),
        );
        bad("email", json!("41898282+github-actions[bot]@example.com"));
        bad("email", json!("octo"));
        bad("email", json!("a b@c.d"));
        bad("email", json!("a@"));
        bad("email", json!(""));
        ok("int32", json!(7));
        bad("int32", json!(1u64 << 40));
        bad("int64", json!(u64::MAX));
        bad("uint64", json!(-1));
        ok("binary", json!("anything"));
    }
}
