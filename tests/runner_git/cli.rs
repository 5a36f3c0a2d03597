//! The git CLI's answers to what `ade::runner::commit::read_changes` reads in-process: the
//! commands ade ran before it read with gix (`git diff-tree`, `git cat-file --batch`, `git diff
//! -U0`, `git diff --numstat`, `git log`), parsed as ade parsed them. The tests compare the two
//! on hostile changes; examples/git_reads.rs times them against each other.

#![allow(dead_code)]

use std::collections::HashSet;

use ade::runner::changes::{AddedLines, ChangeKind, ChangedFile, FileMode};
use ade::runner::commit::{ADDED_PER_FILE, ADDED_TOTAL, ChangeReport, PublishError};
use ade::runner::mirror::Mirror;

/// The most bytes of one added line kept.
const MAX_LINE: usize = 16 * 1024;

/// The most bytes of a symlink target read.
const MAX_LINK_TARGET: usize = 4096;

async fn checked(mirror: &Mirror) -> Result<&ade::runner::git::Git, PublishError> {
    mirror.check_integrity().await?;
    Ok(mirror.git())
}

/// What changed between `base` and `head`, read with the git CLI.
pub async fn read_changes_cli(
    mirror: &Mirror,
    base: &str,
    head: &str,
) -> Result<ChangeReport, PublishError> {
    let repo = mirror.git_dir();
    let raw = checked(mirror)
        .await?
        .in_repo(repo)
        .args([
            "diff-tree",
            "-r",
            "-z",
            "--raw",
            "--no-renames",
            "--no-ext-diff",
            "--no-textconv",
            base,
            head,
        ])
        .run()
        .await?;
    let mut report = ChangeReport::default();
    let entries = parse_raw(&raw)?;
    let links: Vec<&str> = entries
        .iter()
        .filter(|e| e.mode == "120000")
        .map(|e| e.oid.as_str())
        .collect();
    let mut targets = link_targets(mirror, &links).await?.into_iter();
    for entry in &entries {
        let mode = match entry.mode.as_str() {
            "100755" => FileMode::Executable,
            "120000" => FileMode::Symlink {
                target: targets.next().unwrap_or_default(),
            },
            "160000" => FileMode::Submodule,
            _ => FileMode::Regular,
        };
        report.changes.files.push(ChangedFile {
            path: entry.path.clone(),
            change: entry.change,
            mode,
        });
    }
    let text_paths: HashSet<&str> = entries
        .iter()
        .filter(|e| {
            e.change != ChangeKind::Deleted && matches!(e.mode.as_str(), "100644" | "100755")
        })
        .map(|e| e.path.as_str())
        .collect();
    let patch = checked(mirror)
        .await?
        .in_repo(repo)
        .args([
            "-c",
            "core.quotePath=false",
            "diff",
            "--no-ext-diff",
            "--no-textconv",
            "--no-color",
            "--no-renames",
            "--diff-filter=AMT",
            "-U0",
            base,
            head,
        ])
        .run()
        .await?;
    let numstat = checked(mirror)
        .await?
        .in_repo(repo)
        .args([
            "diff",
            "--numstat",
            "-z",
            "--no-ext-diff",
            "--no-textconv",
            "--no-renames",
            base,
            head,
        ])
        .run()
        .await?;
    for entry in numstat.split(|b| *b == 0) {
        let entry = String::from_utf8_lossy(entry);
        let mut fields = entry.split('\t');
        if let (Some(plus), Some(minus)) = (fields.next(), fields.next()) {
            report.insertions += plus.parse::<u64>().unwrap_or(0);
            report.deletions += minus.parse::<u64>().unwrap_or(0);
        }
    }
    let (added, notes) = parse_patch(&patch, &text_paths);
    report.changes.added = added;
    report.notes.extend(notes);
    let log = checked(mirror)
        .await?
        .in_repo(repo)
        .args([
            "log",
            "-z",
            "--reverse",
            "--no-show-signature",
            "--format=%B",
            &format!("{base}..{head}"),
        ])
        .run()
        .await?;
    report.changes.messages = log
        .split(|b| *b == 0)
        .map(|m| String::from_utf8_lossy(m).trim_end().to_string())
        .filter(|m| !m.is_empty())
        .collect();
    Ok(report)
}

/// One line of `diff-tree --raw -z`.
struct RawEntry {
    path: String,
    change: ChangeKind,
    /// The new mode (the old one for a deletion).
    mode: String,
    /// The new blob (the old one for a deletion).
    oid: String,
}

fn parse_raw(raw: &[u8]) -> Result<Vec<RawEntry>, PublishError> {
    let mut entries = Vec::new();
    let mut parts = raw.split(|b| *b == 0).filter(|p| !p.is_empty());
    while let Some(meta) = parts.next() {
        let meta = String::from_utf8_lossy(meta);
        let path = parts
            .next()
            .map(|p| String::from_utf8_lossy(p).into_owned())
            .ok_or_else(|| PublishError::Invalid("git diff-tree output ends early".into()))?;
        let fields: Vec<&str> = meta.trim_start_matches(':').split(' ').collect();
        let [old_mode, new_mode, old_oid, new_oid, status] = fields[..] else {
            return Err(PublishError::Invalid(format!(
                "unexpected git diff-tree line `{meta}`"
            )));
        };
        let (change, mode, oid) = match status.chars().next() {
            Some('A') => (ChangeKind::Added, new_mode, new_oid),
            Some('D') => (ChangeKind::Deleted, old_mode, old_oid),
            _ => (ChangeKind::Modified, new_mode, new_oid),
        };
        entries.push(RawEntry {
            path,
            change,
            mode: mode.to_string(),
            oid: oid.to_string(),
        });
    }
    Ok(entries)
}

/// The targets of symlink blobs, in order, read in one `git cat-file --batch` (at most
/// [`MAX_LINK_TARGET`] bytes each).
async fn link_targets(mirror: &Mirror, oids: &[&str]) -> Result<Vec<String>, PublishError> {
    if oids.is_empty() {
        return Ok(Vec::new());
    }
    let input: String = oids.iter().map(|oid| format!("{oid}\n")).collect();
    let output = checked(mirror)
        .await?
        .in_repo(mirror.git_dir())
        .args(["cat-file", "--batch"])
        .stdin(input.into_bytes())
        .run()
        .await?;
    let mut targets = Vec::with_capacity(oids.len());
    let mut rest = &output[..];
    for oid in oids {
        let bad = || PublishError::Invalid(format!("git cat-file gave no blob for {oid}"));
        let newline = rest.iter().position(|b| *b == b'\n').ok_or_else(bad)?;
        let header = String::from_utf8_lossy(&rest[..newline]).into_owned();
        let mut fields = header.split(' ');
        let (Some(_), Some("blob"), Some(size)) = (fields.next(), fields.next(), fields.next())
        else {
            return Err(bad());
        };
        let size: usize = size.parse().map_err(|_| bad())?;
        let body = rest.get(newline + 1..newline + 1 + size).ok_or_else(bad)?;
        let kept = &body[..body.len().min(MAX_LINK_TARGET)];
        targets.push(String::from_utf8_lossy(kept).into_owned());
        rest = rest.get(newline + 1 + size + 1..).unwrap_or_default();
    }
    Ok(targets)
}

/// Undoes git's C-style quoting of a path (`"a\tb"`), used for unusual names even with
/// `core.quotePath=false`.
fn unquote(path: &str) -> String {
    let Some(inner) = path.strip_prefix('"').and_then(|p| p.strip_suffix('"')) else {
        return path.to_string();
    };
    let bytes = inner.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'\\' || i + 1 >= bytes.len() {
            out.push(bytes[i]);
            i += 1;
            continue;
        }
        let c = bytes[i + 1];
        i += 2;
        match c {
            b'n' => out.push(b'\n'),
            b't' => out.push(b'\t'),
            b'r' => out.push(b'\r'),
            b'a' => out.push(7),
            b'b' => out.push(8),
            b'f' => out.push(12),
            b'v' => out.push(11),
            b'0'..=b'7' if i + 2 <= bytes.len() => {
                let digits = [c, bytes[i], bytes[i + 1]];
                let value = digits
                    .iter()
                    .try_fold(0u16, |acc, d| match d {
                        b'0'..=b'7' => Some(acc * 8 + u16::from(d - b'0')),
                        _ => None,
                    })
                    .unwrap_or(u16::from(c));
                out.push(value as u8);
                i += 2;
            }
            other => out.push(other),
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The added lines of a `-U0` patch, for the paths in `text_paths`, with caps.
fn parse_patch(patch: &[u8], text_paths: &HashSet<&str>) -> (Vec<AddedLines>, Vec<String>) {
    let mut added: Vec<AddedLines> = Vec::new();
    let mut notes = Vec::new();
    let mut current: Option<AddedLines> = None;
    let mut file_bytes = 0usize;
    let mut total = 0usize;
    let mut file_cut = false;
    let mut total_cut = false;
    let mut line_no = 0u32;
    let mut in_hunk = false;
    let finish = |current: &mut Option<AddedLines>, added: &mut Vec<AddedLines>| {
        if let Some(file) = current.take()
            && !file.lines.is_empty()
        {
            added.push(file);
        }
    };
    for raw_line in patch.split(|b| *b == b'\n') {
        if raw_line.starts_with(b"diff --git ") {
            finish(&mut current, &mut added);
            in_hunk = false;
            continue;
        }
        if !in_hunk && raw_line.starts_with(b"+++ ") {
            let name = String::from_utf8_lossy(&raw_line[4..]);
            let name = unquote(name.trim_end_matches('\t'));
            let path = name.strip_prefix("b/").unwrap_or(&name).to_string();
            current = text_paths.contains(path.as_str()).then(|| AddedLines {
                path,
                lines: Vec::new(),
            });
            file_bytes = 0;
            file_cut = false;
            continue;
        }
        if raw_line.starts_with(b"@@ ") {
            in_hunk = true;
            line_no = hunk_start(&String::from_utf8_lossy(raw_line)).unwrap_or(0);
            continue;
        }
        if !in_hunk {
            continue;
        }
        let Some(file) = current.as_mut() else {
            continue;
        };
        if let Some(text) = raw_line.strip_prefix(b"+") {
            let mut text = String::from_utf8_lossy(text).into_owned();
            if text.len() > MAX_LINE {
                let mut end = MAX_LINE;
                while !text.is_char_boundary(end) {
                    end -= 1;
                }
                text.truncate(end);
                notes.push(format!(
                    "line {line_no} of {} cut at {MAX_LINE} bytes",
                    file.path
                ));
            }
            if total + text.len() > ADDED_TOTAL {
                if !total_cut {
                    notes.push(format!(
                        "added lines cut at {ADDED_TOTAL} bytes in all, from {}",
                        file.path
                    ));
                    total_cut = true;
                }
            } else if file_bytes + text.len() > ADDED_PER_FILE {
                if !file_cut {
                    notes.push(format!(
                        "added lines of {} cut at {ADDED_PER_FILE} bytes",
                        file.path
                    ));
                    file_cut = true;
                }
            } else {
                file_bytes += text.len();
                total += text.len();
                file.lines.push((line_no, text));
            }
            line_no += 1;
        }
    }
    finish(&mut current, &mut added);
    (added, notes)
}

/// The first new line number of a hunk header `@@ -a,b +c,d @@`.
fn hunk_start(header: &str) -> Option<u32> {
    let plus = header.split(' ').find(|p| p.starts_with('+'))?;
    plus[1..].split(',').next()?.parse().ok()
}
