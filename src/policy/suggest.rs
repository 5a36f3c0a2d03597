//! "Did you mean": the known name a mistyped key or value most likely meant.

/// The name in `known` closest to `typo`: at most two edits away, or one for names of four
/// letters or fewer, so unrelated names are never suggested.
pub(crate) fn closest<'a>(typo: &str, known: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let allowed = if typo.chars().count() <= 4 { 1 } else { 2 };
    known
        .into_iter()
        .map(|name| (edit_distance(typo, name), name))
        .filter(|(distance, _)| *distance <= allowed)
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, name)| name)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitution = diagonal + usize::from(ca != *cb);
            diagonal = row[j + 1];
            row[j + 1] = substitution.min(row[j] + 1).min(row[j + 1] + 1);
        }
    }
    row[b.len()]
}

/// Reads serde's "unknown field `x`, expected one of `a`, `b`" (or "unknown variant") into the
/// name written and the names it lists.
pub(crate) fn unknown_name(message: &str) -> Option<(&str, Vec<&str>)> {
    unknown_field(message).or_else(|| listed(message.strip_prefix("unknown variant `")?))
}

/// Reads serde's "unknown field `x`, expected one of `a`, `b`" into the field and the names it
/// lists; a message about a variant is not one.
pub(crate) fn unknown_field(message: &str) -> Option<(&str, Vec<&str>)> {
    listed(message.strip_prefix("unknown field `")?)
}

/// Splits "x`, expected one of `a`, `b`" into the name and the names listed.
fn listed(rest: &str) -> Option<(&str, Vec<&str>)> {
    let (name, expected) = rest.split_once('`')?;
    Some((name, expected.split('`').skip(1).step_by(2).collect()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_only_near_names() {
        let known = ["parallelism", "timeout_secs", "attempts"];
        assert_eq!(closest("paralelism", known), Some("parallelism"));
        assert_eq!(closest("atempts", known), Some("attempts"));
        assert_eq!(closest("colour", known), None);
        let known = ["webhook_secret", "webhook_secret_file", "api_url"];
        assert_eq!(closest("webhok_secret", known), Some("webhook_secret"));
    }

    #[test]
    fn reads_serde_unknown_field_messages() {
        let message = "unknown field `paralelism`, expected one of `parallelism`, `attempts`";
        assert_eq!(
            unknown_name(message),
            Some(("paralelism", vec!["parallelism", "attempts"]))
        );
        let message = "unknown variant `contaner`, expected `worktree` or `container`";
        assert_eq!(
            unknown_name(message),
            Some(("contaner", vec!["worktree", "container"]))
        );
        assert_eq!(unknown_name("invalid type: string"), None);
        assert_eq!(unknown_field("unknown variant `x`, expected `y`"), None);
    }
}
