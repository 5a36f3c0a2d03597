//! Reading a run's log on the runner's disk for the pages and the signed links: only a `.log` file
//! right in the run's own folder of the runner's workdir is read, whatever a stored path says,
//! opened when it is sealed, capped, and with what looks like a secret masked, line by line.

use crate::runner::dlp::Dlp;
use crate::secrets::{LogError, LogFiles};
use std::path::{Path, PathBuf};

/// Most bytes of a log read; the rest is left out, with a line saying so.
pub const MAX_LOG_BYTES: u64 = 32 * 1024 * 1024;

/// Where a run's logs are.
#[derive(Clone)]
pub struct RunLogs {
    /// The runner's workdir.
    pub workdir: PathBuf,
    /// Opens logs sealed at rest.
    pub files: LogFiles,
}

/// Where a stored log path leads.
#[derive(Debug, PartialEq, Eq)]
pub enum Confined {
    /// A log file in the run's folder.
    Log(PathBuf),
    /// A log of the run's folder that is not there: never written, or deleted by retention.
    Missing,
    /// Anything else: never served.
    Outside,
}

/// A log's text as read: masked, complete lines only unless the run has ended.
#[derive(Debug)]
pub struct LogText {
    /// The text.
    pub text: String,
    /// Bytes of the log this text covers (a reader that follows the log starts there).
    pub end: u64,
    /// Whether the log is longer than [`MAX_LOG_BYTES`].
    pub cut: bool,
}

/// Why a log could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// There is no such log (yet, or any more).
    #[error("the log is not there")]
    Missing,
    /// The stored path leads outside the run's folder.
    #[error("the stored log path is outside the run's folder")]
    Outside,
    /// The file could not be read or opened.
    #[error(transparent)]
    Log(#[from] LogError),
    /// The reading thread failed.
    #[error("the log could not be read just now")]
    Busy,
    /// A read was asked to start inside a line.
    #[error("a log is read from the start of a line")]
    Misaligned,
}

impl RunLogs {
    /// The folder of run `run` on the runner.
    pub fn run_dir(&self, run: i64) -> PathBuf {
        self.workdir.join("runs").join(run.to_string())
    }

    /// Where the local runner writes attempt `attempt`'s log while the run goes on.
    pub fn live_path(&self, run: i64, attempt: i64) -> PathBuf {
        self.run_dir(run).join(format!("attempt-{attempt}.log"))
    }

    /// The text of the log at `path` in `dir` from byte `from` (of its text), masked; `end` is
    /// where the next read starts. With `whole_lines`, a last line without its line end is left
    /// for a later read. `from` must be where a line starts ([`ReadError::Misaligned`]
    /// otherwise): masking reads whole lines, and a line entered in its middle could show a
    /// secret whose start it no longer sees.
    pub async fn read(
        &self,
        dir: &Path,
        path: &Path,
        from: u64,
        whole_lines: bool,
    ) -> Result<LogText, ReadError> {
        let dir = dir.to_path_buf();
        let path = path.to_path_buf();
        let files = self.files.clone();
        let read = tokio::task::spawn_blocking(move || {
            let path = match confined(&dir, &path) {
                Confined::Log(path) => path,
                Confined::Missing => return Err(ReadError::Missing),
                Confined::Outside => {
                    tracing::warn!(dir = %dir.display(), "a log path outside the run's folder was not read");
                    return Err(ReadError::Outside);
                }
            };
            // One byte before `from`, to see that it ends a line.
            let before = u64::from(from > 0);
            let (bytes, cut) = match files.read_from(&path, from - before, MAX_LOG_BYTES) {
                Ok(read) => read,
                Err(LogError::Io { source, .. })
                    if source.kind() == std::io::ErrorKind::NotFound =>
                {
                    return Err(ReadError::Missing);
                }
                Err(error) => return Err(error.into()),
            };
            let bytes = match (before, bytes.split_first()) {
                (0, _) => &bytes[..],
                (_, Some((b'\n', rest))) => rest,
                (_, None) => &bytes[..],
                (_, Some(_)) => return Err(ReadError::Misaligned),
            };
            let mut taken = bytes.len();
            if whole_lines && !cut {
                taken = bytes
                    .iter()
                    .rposition(|b| *b == b'\n')
                    .map_or(0, |at| at + 1);
            }
            Ok(LogText {
                text: mask(&String::from_utf8_lossy(&bytes[..taken])),
                end: from.saturating_add(taken as u64),
                cut,
            })
        });
        read.await.unwrap_or(Err(ReadError::Busy))
    }
}

/// The built-in detectors, compiled once.
static DLP: std::sync::LazyLock<Dlp> =
    std::sync::LazyLock::new(|| Dlp::new(&[]).expect("the built-in detectors compile"));

/// `text` with what looks like a secret masked, line by line; a line keeps its line end whatever
/// a detector matched.
pub fn mask(text: &str) -> String {
    text.split_inclusive('\n')
        .map(|line| match line.strip_suffix('\n') {
            Some(bare) => DLP.redact(bare) + "\n",
            None => DLP.redact(line),
        })
        .collect()
}

/// Whether `path` is a `.log` file right in the run folder `run_dir`, links resolved; a path that
/// names one lexically but is not there is missing.
pub fn confined(run_dir: &Path, path: &Path) -> Confined {
    let is_log = |p: &Path| p.extension().is_some_and(|e| e == "log");
    let lexically_inside = path.parent() == Some(run_dir)
        && is_log(path)
        && path
            .components()
            .all(|c| !matches!(c, std::path::Component::ParentDir));
    if !lexically_inside {
        return Confined::Outside;
    }
    match std::fs::symlink_metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Confined::Missing,
        Err(_) => return Confined::Outside,
        Ok(_) => {}
    }
    let (Ok(root), Ok(resolved)) = (run_dir.canonicalize(), path.canonicalize()) else {
        return Confined::Outside;
    };
    if resolved.parent() == Some(root.as_path()) && is_log(&resolved) {
        Confined::Log(resolved)
    } else {
        Confined::Outside
    }
}
