//! The audit folder: files named by the day they were started and the first record they hold
//! (`audit-20261206-000000000001.jsonl`), one record per line, appended and synced to disk; a
//! new file is started when the day changes or the current one reaches its size.

use super::line::{Link, hash};
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom, Write};
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

/// The chain's files in `dir`, in chain order (by first record); other files are not
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
    // Chain order is the records' order; the day in a name is a label (a clock set back across
    // midnight must not reorder the files).
    files.sort_by_key(|f| f.first);
    Ok(files)
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

/// Whether the folder `dir` ends where a writer left it: `last` (a file and its length) is the
/// chain's last file and that long, or, for `None`, the folder holds no file. Another process's
/// lines (a transaction that never committed) make it false.
pub fn ends_at(dir: &Path, last: Option<(&Path, u64)>) -> std::io::Result<bool> {
    let files = list(dir)?;
    Ok(match (last, files.last()) {
        (None, None) => true,
        (Some((path, len)), Some(found)) => {
            found.path == path && std::fs::metadata(path).is_ok_and(|m| m.len() == len)
        }
        _ => false,
    })
}

/// Where record `seq` ends in a file, found reading backwards from its end.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Found {
    /// The hash of its line.
    pub hash: String,
    /// Its time, as written.
    pub time: String,
    /// The offset just past its line's newline.
    pub end: u64,
    /// The seqs of the complete lines after it (a half-written line is not one).
    pub after: Vec<i64>,
}

/// Finds record `seq` in `path`, reading backwards from the end in growing windows, so that the
/// usual case (the head is the last line or a few lines before it) reads a few kilobytes.
pub fn find_back(path: &Path, seq: i64) -> std::io::Result<Option<Found>> {
    let mut file = File::open(path)?;
    let len = file.metadata()?.len();
    let mut window: u64 = 64 * 1024;
    loop {
        let from = len.saturating_sub(window);
        let mut bytes = vec![0; (len - from) as usize];
        file.seek(SeekFrom::Start(from))?;
        file.read_exact(&mut bytes)?;
        // Complete lines only: from the first line start in the window to the last newline.
        let first = if from == 0 {
            0
        } else {
            match bytes.iter().position(|&b| b == b'\n') {
                Some(i) => i + 1,
                None => bytes.len(),
            }
        };
        let last = bytes.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
        let mut after = Vec::new();
        let mut stop = last;
        while stop > first {
            let start = bytes[..stop - 1]
                .iter()
                .rposition(|&b| b == b'\n')
                .map_or(0, |i| i + 1)
                .max(first);
            let line = &bytes[start..stop - 1];
            if let Ok(link) = Link::read(line) {
                if link.seq == seq {
                    after.reverse();
                    return Ok(Some(Found {
                        hash: hash(line),
                        time: link.time,
                        end: from + stop as u64,
                        after,
                    }));
                }
                after.push(link.seq);
            } else {
                after.push(i64::MIN);
            }
            stop = start;
        }
        if from == 0 {
            return Ok(None);
        }
        window = window.saturating_mul(4);
    }
}

/// The link of the first line of `path`, when that line is complete and a record.
pub fn first_link(path: &Path) -> std::io::Result<Option<Link>> {
    let mut line = Vec::new();
    BufReader::new(File::open(path)?).read_until(b'\n', &mut line)?;
    if line.pop() != Some(b'\n') {
        return Ok(None);
    }
    Ok(Link::read(&line).ok())
}

/// Moves what `path` holds from offset `from` on into a file beside it that is not part of the
/// chain (`<name>.uncommitted-<unix ms>`), synced, then cuts `path` back to `from` (removing it
/// when nothing is left): lines of a transaction that never committed are kept for a person to
/// look at, outside the chain.
pub fn set_aside(path: &Path, from: u64) -> std::io::Result<()> {
    let mut file = File::open(path)?;
    let len = file.metadata()?.len();
    if from >= len {
        return Ok(());
    }
    let mut rest = Vec::new();
    file.seek(SeekFrom::Start(from))?;
    file.read_to_end(&mut rest)?;
    let aside = path.with_extension(format!("jsonl.uncommitted-{}", crate::clock::unix_ms()));
    let mut out = OpenOptions::new()
        .append(true)
        .create(true)
        .mode(0o600)
        .open(&aside)?;
    out.write_all(&rest)?;
    out.sync_all()?;
    if from == 0 {
        std::fs::remove_file(path)?;
    } else {
        truncate(path, from)?;
    }
    if let Some(dir) = path.parent() {
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
    fn a_long_line_is_read_whole_and_a_half_line_is_not_a_record() {
        let dir = super::super::Scratch::new();
        let path = dir.path().join(file_name("20261206", 1));
        let long = format!(
            "{{\"seq\":9,\"prev\":\"{}\",\"pad\":\"{}\"}}\n",
            "0".repeat(64),
            "p".repeat(200_000)
        );
        std::fs::write(&path, format!("{}{long}{{\"seq\":10,\"pr", line(8))).unwrap();
        let found = find_back(&path, 9).unwrap().unwrap();
        assert_eq!(found.hash, hash(long.trim_end().as_bytes()));
        assert_eq!(found.end, (line(8).len() + long.len()) as u64);
        assert!(found.after.is_empty(), "a half line is not a record");
        assert_eq!(find_back(&path, 8).unwrap().unwrap().after, vec![9]);
    }

    #[test]
    fn a_record_is_found_from_the_end_and_what_follows_it_is_set_aside() {
        let dir = super::super::Scratch::new();
        let path = dir.path().join(file_name("20261206", 1));
        let pad = "p".repeat(40_000);
        let lines: String = (1..=6)
            .map(|seq| {
                format!(
                    "{{\"seq\":{seq},\"prev\":\"{}\",\"pad\":\"{pad}\"}}\n",
                    "0".repeat(64)
                )
            })
            .collect();
        std::fs::write(&path, format!("{lines}{{\"seq\":7,\"pr")).unwrap();
        let found = find_back(&path, 2).unwrap().unwrap();
        assert_eq!(found.after, vec![3, 4, 5, 6]);
        let two_ends = lines
            .lines()
            .take(2)
            .map(|l| l.len() as u64 + 1)
            .sum::<u64>();
        assert_eq!(found.end, two_ends);
        assert!(find_back(&path, 9).unwrap().is_none());
        set_aside(&path, found.end).unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().len(), two_ends);
        let aside: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|n| n.contains(".uncommitted-"))
            .collect();
        assert_eq!(aside.len(), 1, "{aside:?}");
        assert_eq!(
            list(dir.path()).unwrap().len(),
            1,
            "the side file is not the chain's"
        );
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
