//! Every log record is one bounded line, whatever its fields hold. Values come from forges and
//! agents (a reason quoting an agent's output, a branch name, a forge's error message); call sites
//! bound the ones they know to be foreign with [`super::shown`], and this layer holds for the
//! rest: in readable lines each field's value is escaped and cut at [`FIELD_CHARS`]; every record,
//! readable or JSON, leaves as exactly one line of at most [`LINE_CHARS`] characters, with control
//! and bidirectional characters written as escapes.

use std::io::{self, Write};

use tracing_subscriber::field::MakeExt;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::fmt::format::{self, Writer};

/// The most characters of one field's value a record carries.
pub const FIELD_CHARS: usize = 500;

/// The most characters of one record.
pub const LINE_CHARS: usize = 8000;

/// The field formatter of readable lines: `name=value` pairs, each value escaped and bounded.
pub(super) fn fields() -> impl for<'w> format::FormatFields<'w> + Clone {
    format::debug_fn(|writer: &mut Writer<'_>, field, value| {
        let text = escaped(&format!("{value:?}"), FIELD_CHARS);
        if field.name() == "message" {
            write!(writer, "{text}")
        } else {
            write!(writer, "{}={text}", field.name())
        }
    })
    .delimited(" ")
}

/// Which shape the records written through [`OneLine`] have.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Shape {
    /// Readable text.
    Text,
    /// One JSON object per record.
    Json,
}

/// Makes writers that turn each record (the formatter writes a record at once) into one bounded
/// line before it reaches `inner`.
#[derive(Clone)]
pub(super) struct OneLine<M> {
    /// Where lines go.
    pub inner: M,
    /// The records' shape.
    pub shape: Shape,
}

impl<'a, M: MakeWriter<'a>> MakeWriter<'a> for OneLine<M> {
    type Writer = LineWriter<M::Writer>;

    fn make_writer(&'a self) -> Self::Writer {
        LineWriter {
            inner: self.inner.make_writer(),
            shape: self.shape,
        }
    }
}

/// The writer of one record.
pub(super) struct LineWriter<W> {
    inner: W,
    shape: Shape,
}

impl<W: Write> Write for LineWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let text = String::from_utf8_lossy(buf);
        let line = match self.shape {
            Shape::Json => json_line(&text).unwrap_or_else(|| text_line(&text)),
            Shape::Text => text_line(&text),
        };
        self.inner.write_all(line.as_bytes())?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// A readable record as one line: its own line break kept at the end, any other written as an
/// escape.
fn text_line(record: &str) -> String {
    let mut line = escaped(record.strip_suffix('\n').unwrap_or(record), LINE_CHARS);
    line.push('\n');
    line
}

/// A JSON record with every string in it bounded and escaped, as one line that stays JSON; `None`
/// when it is not JSON after all. A record of many long fields has its strings cut shorter until
/// it fits in [`LINE_CHARS`]; one that still does not keeps its time, level, target and message
/// and says how long it was.
fn json_line(record: &str) -> Option<String> {
    let value: serde_json::Value = serde_json::from_str(record.trim_end()).ok()?;
    for bound in [FIELD_CHARS, 100, 20] {
        let mut bounded = value.clone();
        bound_strings(&mut bounded, bound);
        let mut line = serde_json::to_string(&bounded).ok()?;
        if line.chars().count() <= LINE_CHARS {
            line.push('\n');
            return Some(line);
        }
    }
    let mut kept = serde_json::Map::new();
    for key in ["timestamp", "level", "target"] {
        if let Some(field) = value.get(key) {
            let mut field = field.clone();
            bound_strings(&mut field, 100);
            kept.insert(key.to_owned(), field);
        }
    }
    let mut message = value
        .pointer("/fields/message")
        .cloned()
        .unwrap_or_default();
    bound_strings(&mut message, FIELD_CHARS);
    kept.insert(
        "fields".to_owned(),
        serde_json::json!({
            "message": message,
            "cut": format!(
                "the record was {} characters; its other fields were dropped to keep it one line",
                record.chars().count()
            ),
        }),
    );
    let mut line = serde_json::to_string(&kept).ok()?;
    line.push('\n');
    Some(line)
}

fn bound_strings(value: &mut serde_json::Value, bound: usize) {
    match value {
        serde_json::Value::String(text) => *text = escaped(text, bound),
        serde_json::Value::Array(items) => items.iter_mut().for_each(|v| bound_strings(v, bound)),
        serde_json::Value::Object(map) => map.values_mut().for_each(|v| bound_strings(v, bound)),
        _ => {}
    }
}

/// `text` with control and bidirectional characters written as escapes (`\n`, `\u{202e}`), cut
/// once it would pass `max` characters, the source characters left counted.
fn escaped(text: &str, max: usize) -> String {
    let mut out = String::new();
    let mut shown = 0;
    for (index, c) in text.char_indices() {
        let piece: String = if super::hidden(c) {
            c.escape_default().collect()
        } else {
            c.to_string()
        };
        let width = piece.chars().count();
        if shown + width > max {
            out.push_str(&format!("…({} more)", text[index..].chars().count()));
            break;
        }
        out.push_str(&piece);
        shown += width;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};
    use tracing_subscriber::layer::SubscriberExt;

    /// What a subscriber wrote.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl<'a> MakeWriter<'a> for Captured {
        type Writer = Captured;
        fn make_writer(&'a self) -> Captured {
            self.clone()
        }
    }

    impl Write for Captured {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    fn logged(shape: Shape, log: impl FnOnce()) -> String {
        let captured = Captured::default();
        let writer = OneLine {
            inner: captured.clone(),
            shape,
        };
        let layer = tracing_subscriber::fmt::layer().with_ansi(false);
        match shape {
            Shape::Text => tracing::subscriber::with_default(
                tracing_subscriber::registry().with(layer.fmt_fields(fields()).with_writer(writer)),
                log,
            ),
            Shape::Json => tracing::subscriber::with_default(
                tracing_subscriber::registry().with(layer.json().with_writer(writer)),
                log,
            ),
        }
        String::from_utf8(captured.0.lock().unwrap().clone()).unwrap()
    }

    /// What an agent might print to forge a log line and hide a long tail.
    fn hostile() -> String {
        format!(
            "done\n2026-12-06T00:00:00Z  INFO ade: approved\u{202e}\u{1b}[31m{}",
            "x".repeat(20_000)
        )
    }

    #[test]
    fn a_readable_record_is_one_escaped_bounded_line_whatever_its_fields_hold() {
        let evil = hostile();
        let out = logged(
            Shape::Text,
            || tracing::warn!(reason = %evil, other = ?evil, "run failed"),
        );
        assert_eq!(out.matches('\n').count(), 1, "{out}");
        assert!(out.ends_with('\n'));
        assert!(
            !out.contains('\u{202e}') && !out.contains('\u{1b}'),
            "{out}"
        );
        assert!(out.contains("reason=done\\n2026-12-06"), "{out}");
        assert!(out.contains("…(19"), "each value is cut: {out}");
        assert!(
            out.contains("other=\""),
            "the next field still shows: {out}"
        );
        assert!(out.chars().count() < 3 * FIELD_CHARS, "{}", out.len());
    }

    #[test]
    fn a_json_record_is_one_line_with_every_string_bounded() {
        let evil = hostile();
        let out = logged(Shape::Json, || tracing::warn!(reason = %evil, "run failed"));
        assert_eq!(out.matches('\n').count(), 1, "{out}");
        let record: serde_json::Value = serde_json::from_str(&out).unwrap();
        let reason = record["fields"]["reason"].as_str().unwrap();
        assert!(reason.starts_with("done\\n2026"), "{reason}");
        assert!(reason.contains("\\u{202e}") && !reason.contains('\u{202e}'));
        assert!(reason.chars().count() <= FIELD_CHARS + 20, "{reason}");
        assert_eq!(record["fields"]["message"], "run failed");
    }

    #[test]
    fn a_json_record_too_long_for_one_line_stays_json() {
        let long = "x".repeat(2 * FIELD_CHARS);
        let fields: serde_json::Map<String, serde_json::Value> = (0..40)
            .map(|i| (format!("f{i}"), serde_json::Value::from(long.clone())))
            .chain([("message".to_owned(), serde_json::Value::from("run failed"))])
            .collect();
        let record = serde_json::json!({ "level": "WARN", "fields": fields }).to_string();
        let line = json_line(&record).unwrap();
        assert!(line.chars().count() <= LINE_CHARS + 1);
        let read: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(read["fields"]["message"], "run failed");
        assert!(read["fields"]["f39"].as_str().unwrap().starts_with("xxxx"));

        let many: serde_json::Map<String, serde_json::Value> = (0..2000)
            .map(|i| (format!("field{i}"), serde_json::Value::from("y".repeat(30))))
            .chain([("message".to_owned(), serde_json::Value::from("flood"))])
            .collect();
        let record = serde_json::json!({ "level": "WARN", "fields": many }).to_string();
        let line = json_line(&record).unwrap();
        assert!(line.chars().count() <= LINE_CHARS + 1);
        let read: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(read["level"], "WARN");
        assert_eq!(read["fields"]["message"], "flood");
        assert!(
            read["fields"]["cut"]
                .as_str()
                .unwrap()
                .contains("other fields were dropped")
        );
    }

    #[test]
    fn anything_else_written_is_still_one_bounded_line() {
        let line = text_line(&format!("a\nb\r\n{}\n", "y".repeat(LINE_CHARS * 2)));
        assert_eq!(line.matches('\n').count(), 1);
        assert!(line.starts_with("a\\nb\\r\\n"));
        assert!(line.chars().count() < LINE_CHARS + 30);
        assert_eq!(json_line("not json"), None);
    }
}
