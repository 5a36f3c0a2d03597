//! The audit folder: files named by the day they were started and the first record they hold
//! (`audit-20261206-000000000001.jsonl`), one record per line, appended and synced to disk; a
//! new file is started when the day changes or the current one reaches its size.

use super::line::{Link, hash};
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// One file of the chain, as the folder lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChainFile {
    /// Its path.
    pub path: PathBuf,
    /// The day it was started, `YYYYMMDD` (UTC).
    pub day: String,
    /// The seq of the first record it was started with.
    pub first: i64,
}

/// The name of a file started on `day` (`YYYYMMDD`) with record `first`.
pub fn file_name(day: &str, first: i64) -> String {
    format!("audit-{day}-{first:012}.jsonl")
}

fn parse_name(name: &str) -> Option<(String, i64)> {
    let rest = name.strip_prefix("audit-")?.strip_suffix(".jsonl")?;
    let (day, first) = rest.split_once('-')?;
    if day.len() != 8 || !day.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if first.len() < 12 || !first.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((day.to_owned(), first.parse().ok()?))
}

/// The chain's files in `dir`, in chain order (day, then first record); other files are not
/// the chain's and are left alone. A missing folder holds no files.
pub fn list(dir: &Path) -> std::io::Result<Vec<ChainFile>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut files = Vec::new();
    for entry in entries {
        let entry = entry?;
        let name = entry.file_name();
        let Some((day, first)) = name.to_str().and_then(parse_name) else {
            continue;
        };
        files.push(ChainFile {
            path: entry.path(),
            day,
            first,
        });
    }
    files.sort_by(|a, b| (&a.day, a.first).cmp(&(&b.day, b.first)));
    Ok(files)
}

/// The end of a file: the length of its complete lines, and its last complete record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tail {
    /// Bytes up to and including the last newline; anything after it is a half-written line.
    pub complete: u64,
    /// The file's length.
    pub len: u64,
    /// The last complete line's place, hash and where it starts, if any.
    pub last: Option<LastRecord>,
}

/// The last complete record of a file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LastRecord {
    /// Its seq.
    pub seq: i64,
    /// The hash of its line.
    pub hash: String,
    /// The offset its line starts at.
    pub start: u64,
}

/// Reads the end of `path` backwards, never more than the last line needs.
pub fn tail(path: &Path) -> std::io::Result<Tail> {
    let mut file = File::open(path)?;
    let len = file.metadata()?.len();
    let complete = match last_newline(&mut file, len)? {
        Some(at) => at + 1,
        None => {
            return Ok(Tail {
                complete: 0,
                len,
                last: None,
            });
        }
    };
    let start = match last_newline(&mut file, complete - 1)? {
        Some(at) => at + 1,
        None => 0,
    };
    let mut line = vec![0; (complete - 1 - start) as usize];
    file.seek(SeekFrom::Start(start))?;
    file.read_exact(&mut line)?;
    let last = Link::read(&line).ok().map(|link| LastRecord {
        seq: link.seq,
        hash: hash(&line),
        start,
    });
    Ok(Tail {
        complete,
        len,
        last,
    })
}

/// The offset of the last `\n` before `end`.
fn last_newline(file: &mut File, end: u64) -> std::io::Result<Option<u64>> {
    const CHUNK: u64 = 64 * 1024;
    let mut to = end;
    let mut buf = vec![0; CHUNK as usize];
    while to > 0 {
        let from = to.saturating_sub(CHUNK);
        let size = (to - from) as usize;
        file.seek(SeekFrom::Start(from))?;
        file.read_exact(&mut buf[..size])?;
        if let Some(i) = buf[..size].iter().rposition(|&b| b == b'\n') {
            return Ok(Some(from + i as u64));
        }
        to = from;
    }
    Ok(None)
}

/// Cuts `path` back to `len` bytes and syncs it: what an unfinished write or an uncommitted
/// transaction left is removed.
pub fn truncate(path: &Path, len: u64) -> std::io::Result<()> {
    let file = OpenOptions::new().write(true).open(path)?;
    file.set_len(len)?;
    file.sync_all()
}

/// Appends `bytes` (whole lines) to `path`, creating it owner-only when `new`, and syncs them to
/// disk before returning. A failed write leaves the file as it was: what was written of it is cut
/// off again.
pub fn append(path: &Path, bytes: &[u8], new: bool, len_before: u64) -> std::io::Result<()> {
    let mut options = OpenOptions::new();
    options.append(true).mode(0o600);
    if new {
        options.create_new(true);
    }
    let mut file = options.open(path)?;
    let written = file.write_all(bytes).and_then(|()| file.sync_data());
    if let Err(error) = written {
        drop(file);
        if new {
            std::fs::remove_file(path).ok();
        } else {
            truncate(path, len_before).ok();
        }
        return Err(error);
    }
    if new && let Some(dir) = path.parent() {
        File::open(dir)?.sync_all()?;
    }
    Ok(())
}

/// Creates the audit folder owner-only if it is missing.
pub fn ensure_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(seq: i64) -> String {
        format!(
            "{{\"seq\":{seq},\"prev\":\"{}\",\"time\":\"t\"}}\n",
            "0".repeat(64)
        )
    }

    #[test]
    fn names_sort_in_chain_order_and_strangers_are_left_out() {
        let dir = super::super::Scratch::new();
        for name in [
            file_name("20261206", 120),
            file_name("20261205", 1),
            file_name("20261206", 7),
            "notes.txt".into(),
            "audit-2026-1.jsonl".into(),
        ] {
            std::fs::write(dir.path().join(name), "").unwrap();
        }
        let firsts: Vec<i64> = list(dir.path()).unwrap().iter().map(|f| f.first).collect();
        assert_eq!(firsts, vec![1, 7, 120]);
        assert!(list(&dir.path().join("missing")).unwrap().is_empty());
    }

    #[test]
    fn the_tail_is_the_last_complete_line_and_a_half_line_is_seen() {
        let dir = super::super::Scratch::new();
        let path = dir.path().join(file_name("20261206", 1));
        let whole = format!("{}{}", line(1), line(2));
        std::fs::write(&path, format!("{whole}{{\"seq\":3,\"pr")).unwrap();
        let tail = tail(&path).unwrap();
        assert_eq!(tail.complete, whole.len() as u64);
        let last = tail.last.unwrap();
        assert_eq!(last.seq, 2);
        assert_eq!(last.start, line(1).len() as u64);
        assert_eq!(last.hash, hash(line(2).trim_end().as_bytes()));
    }

    #[test]
    fn a_long_last_line_is_read_whole() {
        let dir = super::super::Scratch::new();
        let path = dir.path().join(file_name("20261206", 1));
        let long = format!(
            "{{\"seq\":9,\"prev\":\"{}\",\"pad\":\"{}\"}}\n",
            "0".repeat(64),
            "p".repeat(200_000)
        );
        std::fs::write(&path, format!("{}{long}", line(8))).unwrap();
        assert_eq!(tail(&path).unwrap().last.unwrap().seq, 9);
    }

    #[test]
    fn appends_are_owner_only_and_a_failed_one_leaves_nothing() {
        use std::os::unix::fs::PermissionsExt;
        let dir = super::super::Scratch::new();
        let path = dir.path().join(file_name("20261206", 1));
        append(&path, line(1).as_bytes(), true, 0).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        // A second create of the same file is refused and leaves the first as it was.
        assert!(append(&path, line(2).as_bytes(), true, 0).is_err());
        assert_eq!(std::fs::read_to_string(&path).unwrap(), line(1));
    }
}
