//! Logging: human-readable lines for a terminal, JSON lines for a log pipeline. Spans carry the
//! forge, the delivery id and the event, so every line about a delivery can be found by its id.

use std::io::IsTerminal;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

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
                    .with_writer(std::io::stderr),
            )
            .init(),
        LogFormat::Json => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .json()
                    .with_current_span(true)
                    .with_span_list(false)
                    .with_writer(std::io::stderr),
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
