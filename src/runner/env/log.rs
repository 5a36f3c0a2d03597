//! The run log as an agent writes into it: output appended as it comes, up to the cap, the rest
//! counted; ade's own lines start with `[ade] ` so a reader (and the run page) can tell them from
//! the agent's output. The file is readable by ade's user alone, and sealed under the master key
//! when the server seals run logs (docs/secrets.md).

use std::path::{Path, PathBuf};

use tokio::fs::{File, OpenOptions};
use tokio::io::AsyncWriteExt;

use super::{EnvError, SharedObserver};
use crate::secrets::{LogAppender, LogFiles};

/// What starts every line ade itself writes into a run log.
pub(super) const NOTE_PREFIX: &str = "[ade] ";

/// An open run log with its output cap.
pub(super) struct RunLog {
    path: PathBuf,
    file: File,
    /// How each write is put in the file: as it is, or sealed.
    appender: LogAppender,
    cap: u64,
    seen: u64,
    kept: u64,
    /// Whether the last byte written was a newline (or nothing was written), so a note starts on
    /// a line of its own.
    at_line_start: bool,
    /// Who else sees the output, all of it, the part beyond the cap included.
    observer: Option<SharedObserver>,
}

impl RunLog {
    /// Opens (creating, only its owner may read it, or appending to) the run log; a log is
    /// appended to in the form it was started in.
    pub(super) async fn open(path: &Path, cap: u64, logs: &LogFiles) -> Result<RunLog, EnvError> {
        let appender = logs.appender(path)?;
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(path)
            .await
            .map_err(|source| EnvError::Log {
                path: path.to_path_buf(),
                source,
            })?;
        Ok(RunLog {
            path: path.to_path_buf(),
            file,
            appender,
            cap,
            seen: 0,
            kept: 0,
            at_line_start: true,
            observer: None,
        })
    }

    /// Hands every chunk of output to `observer` as well, before the cap applies: a caller that
    /// needs the real end of a flood of output keeps it there, while the log keeps its cap.
    pub(super) fn observe(&mut self, observer: Option<SharedObserver>) {
        self.observer = observer;
    }

    /// Writes one line of ade's own.
    pub(super) async fn note(&mut self, text: &str) -> Result<(), EnvError> {
        let mut line = String::with_capacity(text.len() + 8);
        if !self.at_line_start {
            line.push('\n');
        }
        line.push_str(NOTE_PREFIX);
        line.push_str(text);
        line.push('\n');
        self.write(line.as_bytes()).await?;
        self.at_line_start = true;
        Ok(())
    }

    /// Appends agent output, keeping at most the cap in total.
    pub(super) async fn output(&mut self, chunk: &[u8]) -> Result<(), EnvError> {
        self.seen += chunk.len() as u64;
        if let Some(observer) = &self.observer {
            // A panicking observer poisons only its own lock; the output still reaches the log.
            if let Ok(mut observer) = observer.lock() {
                observer.observe(chunk);
            }
        }
        let room = self.cap.saturating_sub(self.kept);
        let keep = &chunk[..chunk.len().min(usize::try_from(room).unwrap_or(usize::MAX))];
        if !keep.is_empty() {
            self.write(keep).await?;
            self.kept += keep.len() as u64;
            self.at_line_start = keep.ends_with(b"\n");
        }
        Ok(())
    }

    /// Writes the line saying how much output was dropped, if any, and flushes.
    pub(super) async fn finish_output(&mut self) -> Result<(), EnvError> {
        if self.seen > self.kept {
            let text = format!(
                "output cap of {} bytes reached: {} more bytes of output were dropped",
                self.cap,
                self.seen - self.kept
            );
            self.note(&text).await?;
        }
        self.flush().await
    }

    /// Bytes of output seen and kept so far.
    pub(super) fn counts(&self) -> (u64, u64) {
        (self.seen, self.kept)
    }

    /// Makes everything written so far reach the file.
    pub(super) async fn flush(&mut self) -> Result<(), EnvError> {
        let result = self.file.flush().await;
        result.map_err(|source| EnvError::Log {
            path: self.path.clone(),
            source,
        })
    }

    async fn write(&mut self, bytes: &[u8]) -> Result<(), EnvError> {
        let bytes = self.appender.encode(bytes)?;
        let result = self.file.write_all(&bytes).await;
        result.map_err(|source| EnvError::Log {
            path: self.path.clone(),
            source,
        })
    }
}
