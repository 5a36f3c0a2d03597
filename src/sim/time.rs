//! Timestamps as both forges write them in JSON: RFC 3339 in UTC with whole seconds.

use crate::clock::civil_from_days;
pub use crate::clock::rfc3339;

/// `2026-06-21T11:30:18+02:00` for a Unix time in seconds and an offset from UTC in seconds, as
/// git's `%cI` prints a commit's time (`Z` for a zero offset, as git 2.47 prints it).
pub fn rfc3339_with_offset(unix_secs: i64, offset_secs: i32) -> String {
    let local = unix_secs + i64::from(offset_secs);
    let days = local.div_euclid(86_400);
    let rem = local.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    let time = format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}",
        rem / 3600,
        (rem / 60) % 60,
        rem % 60
    );
    if offset_secs == 0 {
        return time + "Z";
    }
    let sign = if offset_secs < 0 { '-' } else { '+' };
    let offset = offset_secs.unsigned_abs();
    format!("{time}{sign}{:02}:{:02}", offset / 3600, (offset / 60) % 60)
}

#[cfg(test)]
mod tests {
    use super::rfc3339;

    #[test]
    fn formats_known_instants() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_557_933_621_000), "2019-05-15T15:20:21Z");
        assert_eq!(rfc3339(951_782_400_000), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(4_102_444_799_999), "2099-12-31T23:59:59Z");
    }

    #[test]
    fn formats_commit_times_with_their_offset() {
        use super::rfc3339_with_offset;
        assert_eq!(
            rfc3339_with_offset(1_700_000_000, 0),
            "2023-11-14T22:13:20Z"
        );
        assert_eq!(
            rfc3339_with_offset(1_700_000_000, 2 * 3600),
            "2023-11-15T00:13:20+02:00"
        );
        assert_eq!(
            rfc3339_with_offset(1_700_000_000, -(5 * 3600 + 30 * 60)),
            "2023-11-14T16:43:20-05:30"
        );
    }
}
