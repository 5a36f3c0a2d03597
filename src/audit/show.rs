//! `ade audit show`: the records of a log folder that match a filter, as lines for people or as
//! the JSONL they are stored as.

use super::files;
use super::line::Record;
use super::mask::unsafe_char;
use crate::clock::parse_rfc3339_ms;
use std::io::{BufRead, Write};
use std::path::Path;

/// Which records to show; every field set must match.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Filter {
    /// The goal's issue number.
    pub goal: Option<i64>,
    /// `owner/name`, case-insensitive.
    pub repository: Option<String>,
    /// The actor, case-insensitive.
    pub actor: Option<String>,
    /// An action or the start of one (`command`, `task.merged`).
    pub action: Option<String>,
    /// The run's id.
    pub run: Option<i64>,
    /// At or after this time (Unix ms).
    pub since: Option<i64>,
    /// Before this time (Unix ms).
    pub until: Option<i64>,
}

impl Filter {
    /// Whether `record` matches.
    pub fn matches(&self, record: &Record) -> bool {
        let time = parse_rfc3339_ms(&record.time).unwrap_or(0);
        self.goal.is_none_or(|goal| record.goal == Some(goal))
            && self.run.is_none_or(|run| record.run == Some(run))
            && self.repository.as_ref().is_none_or(|repo| {
                record
                    .repository
                    .as_ref()
                    .is_some_and(|r| r.eq_ignore_ascii_case(repo))
            })
            && self
                .actor
                .as_ref()
                .is_none_or(|actor| record.actor.eq_ignore_ascii_case(actor))
            && self.action.as_ref().is_none_or(|action| {
                record.action == *action || record.action.starts_with(&format!("{action}."))
            })
            && self.since.is_none_or(|since| time >= since)
            && self.until.is_none_or(|until| time < until)
    }
}

/// Reads a time for a filter: RFC 3339 (`2026-12-06T10:00:00Z`), a day (`2026-12-06`, its
/// start in UTC), or an age before `now_ms` (`90m`, `24h`, `7d`).
pub fn parse_time(text: &str, now_ms: i64) -> Result<i64, String> {
    let text = text.trim();
    if let Some(ms) = parse_rfc3339_ms(text) {
        return Ok(ms);
    }
    if text.len() == 10
        && let Some(ms) = parse_rfc3339_ms(&format!("{text}T00:00:00Z"))
    {
        return Ok(ms);
    }
    let unit = match text.chars().last() {
        Some('m') => 60_000,
        Some('h') => 3_600_000,
        Some('d') => 86_400_000,
        _ => 0,
    };
    match text[..text.len().saturating_sub(1)].parse::<i64>() {
        Ok(n) if unit > 0 && n >= 0 => Ok(now_ms - n * unit),
        _ => Err(format!(
            "{text:?} is not a time: use RFC 3339 (2026-12-06T10:00:00Z), a day (2026-12-06) or \
             an age (90m, 24h, 7d)"
        )),
    }
}

/// How records are printed (`ade audit show --format`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// One aligned line per record.
    Text,
    /// The stored JSON lines.
    Jsonl,
}

/// Writes the matching records of `dir` to `out`; returns how many matched. Lines that are not
/// records are skipped here (`ade audit verify` names them).
pub fn show(
    dir: &Path,
    filter: &Filter,
    format: Format,
    out: &mut dyn Write,
) -> std::io::Result<u64> {
    let mut shown = 0;
    for file in files::list(dir)? {
        let reader = std::io::BufReader::new(std::fs::File::open(&file.path)?);
        for line in reader.split(b'\n') {
            let line = line?;
            let Ok(record) = serde_json::from_slice::<Record>(&line) else {
                continue;
            };
            if !filter.matches(&record) {
                continue;
            }
            shown += 1;
            match format {
                Format::Jsonl => {
                    out.write_all(&line)?;
                    out.write_all(b"\n")?;
                }
                Format::Text => writeln!(out, "{}", text_line(&record))?,
            }
        }
    }
    Ok(shown)
}

/// One record for people: time, seq, actor, action, where, subject, outcome, details.
pub fn text_line(record: &Record) -> String {
    let mut place = String::new();
    if let Some(repo) = &record.repository {
        place.push_str(repo);
    }
    if let Some(goal) = record.goal {
        place.push_str(&format!("#{goal}"));
    }
    let mut ids = Vec::new();
    if let Some(version) = record.spec_version {
        ids.push(format!("v{version}"));
    }
    if let Some(task) = &record.task {
        ids.push(format!("task {task}"));
    }
    if let Some(run) = record.run {
        ids.push(format!("run {run}"));
    }
    let details = if record.details.is_empty() {
        String::new()
    } else {
        serde_json::Value::Object(record.details.clone()).to_string()
    };
    let line = format!(
        "{} {:>7} {:<12} {:<22} {:<7} {} {} {}{}{}",
        record.time,
        record.seq,
        record.actor,
        record.action,
        record.outcome,
        place,
        record.subject,
        ids.join(" "),
        if details.is_empty() { "" } else { " " },
        details
    );
    line.chars()
        .map(|c| if unsafe_char(c) { ' ' } else { c })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_read_as_instants_days_and_ages() {
        let now = parse_rfc3339_ms("2026-12-06T12:00:00Z").unwrap();
        assert_eq!(parse_time("2026-12-06T10:00:00Z", now), Ok(now - 7_200_000));
        assert_eq!(parse_time("2026-12-06", now), Ok(now - 12 * 3_600_000));
        assert_eq!(parse_time("90m", now), Ok(now - 90 * 60_000));
        assert_eq!(parse_time("7d", now), Ok(now - 7 * 86_400_000));
        assert!(
            parse_time("yesterday", now)
                .unwrap_err()
                .contains("RFC 3339")
        );
        assert!(parse_time("-5h", now).is_err());
    }

    #[test]
    fn filters_match_every_field_set() {
        let record: Record = serde_json::from_str(
            r#"{"seq":3,"prev":"00","time":"2026-12-06T10:00:00.000Z","actor":"Alice","actor_kind":"user","action":"command.accepted","subject":"issue #12","forge":"github","repository":"acme/widgets","goal":12,"outcome":"ok"}"#,
        )
        .unwrap();
        let at = parse_rfc3339_ms("2026-12-06T10:00:00Z").unwrap();
        let matching = Filter {
            goal: Some(12),
            repository: Some("ACME/widgets".into()),
            actor: Some("alice".into()),
            action: Some("command".into()),
            run: None,
            since: Some(at),
            until: Some(at + 1),
        };
        assert!(matching.matches(&record));
        for other in [
            Filter {
                goal: Some(13),
                ..Filter::default()
            },
            Filter {
                action: Some("comm".into()),
                ..Filter::default()
            },
            Filter {
                until: Some(at),
                ..Filter::default()
            },
            Filter {
                run: Some(1),
                ..Filter::default()
            },
        ] {
            assert!(!other.matches(&record), "{other:?}");
        }
    }

    #[test]
    fn text_lines_hold_no_control_characters() {
        let record: Record = serde_json::from_str(
            r#"{"seq":1,"prev":"00","time":"t","actor":"a\u001b[2J","actor_kind":"user","action":"x","subject":"s\u202e","outcome":"ok","details":{"why":"a\nb"}}"#,
        )
        .unwrap();
        let line = text_line(&record);
        assert!(!line.chars().any(unsafe_char), "{line:?}");
    }
}
