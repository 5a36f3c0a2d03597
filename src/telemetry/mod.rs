//! Logging: human-readable lines for a terminal, JSON lines for a log pipeline. Spans carry the
//! forge, the delivery id and the event, so every line about a delivery can be found by its id.
//! Whatever a record's fields hold, it is written as one line of bounded length ([`one_line`]).

mod one_line;

pub use one_line::{FIELD_CHARS, LINE_CHARS};

use one_line::{OneLine, Shape};
use std::io::IsTerminal;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// The most characters of one value from a forge or an agent that a log line carries.
pub const MAX_SHOWN: usize = 200;

/// `text` (from a forge or an agent: a login, a reason naming a file) as a log line may carry it:
/// control characters and line breaks written as escapes, so no text can forge a line of its own,
/// and at most [`MAX_SHOWN`] characters, the rest counted.
pub fn shown(text: &str) -> String {
    let mut out = String::new();
    for (kept, c) in text.chars().enumerate() {
        if kept == MAX_SHOWN {
            out.push_str(&format!("…({} more)", text.chars().count() - MAX_SHOWN));
            break;
        }
        if hidden(c) {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// Whether `c` would break a log line or change how the rest of it shows: control characters, line
/// and paragraph separators, and bidirectional overrides and isolates.
pub fn hidden(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{2028}' | '\u{2029}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}'
        )
}

/// The two log formats `--log-format` offers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// One readable line per record.
    Human,
    /// One JSON object per record, with the current span's fields.
    Json,
}

/// Installs the global subscriber. `filter` is a target list such as `info` or
/// `info,ade::jobs=debug` (from `ADE_LOG`); a malformed one falls back to `info` with a warning.
pub fn init(format: LogFormat, filter: Option<&str>) {
    let (targets, bad) = match filter.map(str::parse::<Targets>) {
        None => (default_targets(), None),
        Some(Ok(targets)) => (targets, None),
        Some(Err(error)) => (default_targets(), Some(error)),
    };
    let registry = tracing_subscriber::registry().with(targets);
    match format {
        LogFormat::Human => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .with_ansi(std::io::stderr().is_terminal())
                    .fmt_fields(one_line::fields())
                    .with_writer(OneLine {
                        inner: std::io::stderr,
                        shape: Shape::Text,
                    }),
            )
            .init(),
        LogFormat::Json => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .json()
                    .with_current_span(true)
                    .with_span_list(false)
                    .with_writer(OneLine {
                        inner: std::io::stderr,
                        shape: Shape::Json,
                    }),
            )
            .init(),
    }
    if let Some(error) = bad {
        tracing::warn!(%error, "ADE_LOG is not a valid filter; logging at info");
    }
}

fn default_targets() -> Targets {
    Targets::new().with_default(tracing::Level::INFO)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shown_text_cannot_break_a_line_and_is_bounded() {
        assert_eq!(shown("mia"), "mia");
        assert_eq!(
            shown("mia\n2026-12-06 INFO forged"),
            "mia\\n2026-12-06 INFO forged"
        );
        assert_eq!(shown("a\u{1b}[31mb\u{202e}"), "a\\u{1b}[31mb\\u{202e}");
        let long = "x".repeat(MAX_SHOWN + 5);
        assert_eq!(shown(&long), format!("{}…(5 more)", "x".repeat(MAX_SHOWN)));
    }
}
