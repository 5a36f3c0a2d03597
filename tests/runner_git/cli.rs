//! The git CLI's answers to what `ade::runner::commit::read_changes` reads in-process: the
//! commands ade ran before it read with gix (`git diff-tree`, `git cat-file --batch`, `git diff
//! -U0`, `git diff --numstat`, `git log`), parsed as ade parsed them. The tests compare the two
//! on hostile changes; examples/git_reads.rs times them against each other.

#![allow(dead_code)]

use std::collections::{HashMap, HashSet};

use ade::runner::changes::{AddedLines, ChangeKind, ChangedFile, FileMode, Unread, UnreadWhy};
use ade::runner::commit::{
    ADDED_PER_FILE, ADDED_TOTAL, ChangeReport, MAX_LINK_TARGET, PublishError,
};
use ade::runner::mirror::Mirror;

/// Files bigger than this are binary to git's diff without being read.
const BIG_FILE: usize = 512 * 1024 * 1024;

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
    let order: HashMap<&str, usize> = entries
        .iter()
        .enumerate()
        .map(|(i, e)| (e.path.as_str(), i))
        .collect();
    let mut unread = Vec::new();
    let links: Vec<&str> = entries
        .iter()
        .filter(|e| e.mode == "120000")
        .map(|e| e.oid.as_str())
        .collect();
    let mut targets = blobs(mirror, &links).await?.into_iter();
    for entry in &entries {
        let mode = match entry.mode.as_str() {
            "100755" => FileMode::Executable,
            "120000" => {
                let blob = targets.next().unwrap_or_default();
                let kept = &blob[..blob.len().min(MAX_LINK_TARGET)];
                if kept.len() < blob.len() && entry.change != ChangeKind::Deleted {
                    unread.push(Unread {
                        path: entry.path.clone(),
                        why: UnreadWhy::LinkTarget {
                            cap: MAX_LINK_TARGET,
                        },
                    });
                }
                FileMode::Symlink {
                    target: String::from_utf8_lossy(kept).into_owned(),
                }
            }
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
    let mut binary = Vec::new();
    for entry in numstat.split(|b| *b == 0) {
        let entry = String::from_utf8_lossy(entry);
        let mut fields = entry.split('\t');
        if let (Some(plus), Some(minus), Some(path)) = (fields.next(), fields.next(), fields.next())
        {
            report.insertions += plus.parse::<u64>().unwrap_or(0);
            report.deletions += minus.parse::<u64>().unwrap_or(0);
            if plus == "-" && text_paths.contains(path) {
                binary.push(path.to_string());
            }
        }
    }
    // git shows no lines where either side is binary: what the new side is decides.
    let mut files = parse_patch(&patch, &text_paths);
    let oids: Vec<&str> = binary
        .iter()
        .map(|path| entries[order[path.as_str()]].oid.as_str())
        .collect();
    for (path, blob) in binary.iter().zip(blobs(mirror, &oids).await?) {
        let probe = &blob[..blob.len().min(8000)];
        if blob.len() > BIG_FILE {
            let bytes = blob.len() as u64;
            let why = UnreadWhy::TooBig { bytes };
            unread.push(Unread {
                path: path.clone(),
                why,
            });
        } else if let Some(nul_at) = probe.iter().position(|b| *b == 0) {
            let why = UnreadWhy::Binary { nul_at };
            unread.push(Unread {
                path: path.clone(),
                why,
            });
        } else {
            let lines = blob
                .split_inclusive(|b| *b == b'\n')
                .zip(1..)
                .map(|(line, n)| {
                    let line = line.strip_suffix(b"\n").unwrap_or(line);
                    (n, String::from_utf8_lossy(line).into_owned())
                })
                .collect();
            files.push(AddedLines {
                path: path.clone(),
                lines,
            });
        }
    }
    files.sort_by_key(|f| order[f.path.as_str()]);
    let (added, cut) = capped(files);
    report.changes.added = added;
    unread.extend(cut);
    unread.sort_by_key(|u| order[u.path.as_str()]);
    report.changes.unread = unread;
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

/// Blobs, in order, read in one `git cat-file --batch`.
async fn blobs(mirror: &Mirror, oids: &[&str]) -> Result<Vec<Vec<u8>>, PublishError> {
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
        targets.push(body.to_vec());
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

/// The added lines of a `-U0` patch, for the paths in `text_paths`, in the patch's order.
fn parse_patch(patch: &[u8], text_paths: &HashSet<&str>) -> Vec<AddedLines> {
    let mut added: Vec<AddedLines> = Vec::new();
    let mut current: Option<AddedLines> = None;
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
            file.lines
                .push((line_no, String::from_utf8_lossy(text).into_owned()));
            line_no += 1;
        }
    }
    finish(&mut current, &mut added);
    added
}

/// The caps on added lines, in order: each file's lines up to the per-file cap, all of them up
/// to the total cap; each file cut is listed as unread, once.
fn capped(files: Vec<AddedLines>) -> (Vec<AddedLines>, Vec<Unread>) {
    let mut added = Vec::new();
    let mut unread = Vec::new();
    let mut total = 0usize;
    let mut total_cut = false;
    for file in files {
        let mut kept = AddedLines {
            path: file.path.clone(),
            lines: Vec::new(),
        };
        let mut bytes = 0usize;
        for (number, text) in file.lines {
            let why = if total_cut || total + text.len() > ADDED_TOTAL {
                total_cut = true;
                UnreadWhy::TotalCap { cap: ADDED_TOTAL }
            } else if bytes + text.len() > ADDED_PER_FILE {
                UnreadWhy::FileCap {
                    cap: ADDED_PER_FILE,
                }
            } else {
                bytes += text.len();
                total += text.len();
                kept.lines.push((number, text));
                continue;
            };
            unread.push(Unread {
                path: file.path.clone(),
                why,
            });
            break;
        }
        if !kept.lines.is_empty() {
            added.push(kept);
        }
    }
    (added, unread)
}

/// The first new line number of a hunk header `@@ -a,b +c,d @@`.
fn hunk_start(header: &str) -> Option<u32> {
    let plus = header.split(' ').find(|p| p.starts_with('+'))?;
    plus[1..].split(',').next()?.parse().ok()
}
