//! Differences between two trees, and between two versions of a file, computed as git's CLI
//! computes them for `git diff-tree -r --no-renames`, `git diff --numstat` and `git diff -U0`
//! without attributes: the same paths in the same order, a change of file type split into a
//! deletion and an addition, binary files (a NUL in the first 8000 bytes, or bigger than
//! `core.bigFileThreshold`'s default) without lines, and line diffs by the Myers algorithm with
//! git's indent heuristic (gix's diff engine, `gix-imara-diff`).

use gix::bstr::BString;
use gix::objs::FindExt;
use gix::objs::tree::{EntryKind, EntryMode};
use gix_imara_diff::{Algorithm, Diff, InternedInput};

use super::{ObjectId, ReadError, Result};

/// How many leading bytes git looks at for a NUL to call a file binary (`FIRST_FEW_BYTES`).
const BINARY_PROBE: usize = 8000;

/// Files bigger than this are binary to git's diff without being read (`core.bigFileThreshold`'s
/// default, 512 MiB).
pub const BIG_FILE: u64 = 512 * 1024 * 1024;

/// One side of a changed path: its mode and object.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Side {
    /// The tree entry's mode.
    pub mode: EntryMode,
    /// The blob (or, for a submodule, the commit) it names.
    pub oid: ObjectId,
}

impl Side {
    /// What kind of entry this is.
    pub fn kind(&self) -> EntryKind {
        self.mode.kind()
    }

    /// A regular file, executable or not.
    pub fn is_file(&self) -> bool {
        matches!(self.kind(), EntryKind::Blob | EntryKind::BlobExecutable)
    }
}

/// A path that differs between two trees: what it was (`None`: added) and what it is (`None`:
/// deleted). Never a folder: folders are walked into, as `diff-tree -r` does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PathChange {
    /// The path, relative to the repository root, as stored (not necessarily UTF-8).
    pub path: BString,
    /// Before.
    pub old: Option<Side>,
    /// After.
    pub new: Option<Side>,
}

impl PathChange {
    /// Whether git's diff shows this as a deletion followed by an addition: the file type changed
    /// (file, symlink, submodule), as git splits such a pair.
    pub fn is_type_change(&self) -> bool {
        match (self.old, self.new) {
            (Some(old), Some(new)) => file_type(old.kind()) != file_type(new.kind()),
            _ => false,
        }
    }
}

fn file_type(kind: EntryKind) -> u8 {
    match kind {
        EntryKind::Blob | EntryKind::BlobExecutable => 0,
        EntryKind::Link => 1,
        EntryKind::Commit => 2,
        EntryKind::Tree => 3,
    }
}

/// The paths that differ between `old` (`None`: the empty tree) and `new`, files only, in git's
/// order (by path bytes, as `git diff-tree -r` lists them).
pub fn tree_changes(
    repo: &gix::Repository,
    old: Option<ObjectId>,
    new: ObjectId,
) -> Result<Vec<PathChange>> {
    let what = || match old {
        Some(old) => format!("changes from tree {old} to {new}"),
        None => format!("files of tree {new}"),
    };
    let mut old_buf = Vec::new();
    let mut new_buf = Vec::new();
    let old_tree = match old {
        Some(id) => repo
            .objects
            .find_tree_iter(&id, &mut old_buf)
            .map_err(|e| ReadError::new(what(), e))?,
        None => gix::objs::TreeRefIter::from_bytes(&[], repo.object_hash()),
    };
    let new_tree = repo
        .objects
        .find_tree_iter(&new, &mut new_buf)
        .map_err(|e| ReadError::new(what(), e))?;
    let mut recorder = gix::diff::tree::Recorder::default();
    gix::diff::tree(
        old_tree,
        new_tree,
        gix::diff::tree::State::default(),
        &repo.objects,
        &mut recorder,
    )
    .map_err(|e| ReadError::new(what(), e))?;
    use gix::diff::tree::recorder::Change;
    let side = |mode: EntryMode, oid: ObjectId| (!mode.is_tree()).then_some(Side { mode, oid });
    let mut changes: Vec<PathChange> = recorder
        .records
        .into_iter()
        .filter_map(|change| {
            let (path, old, new) = match change {
                Change::Addition {
                    entry_mode,
                    oid,
                    path,
                    ..
                } => (path, None, side(entry_mode, oid)),
                Change::Deletion {
                    entry_mode,
                    oid,
                    path,
                    ..
                } => (path, side(entry_mode, oid), None),
                Change::Modification {
                    previous_entry_mode,
                    previous_oid,
                    entry_mode,
                    oid,
                    path,
                } => (
                    path,
                    side(previous_entry_mode, previous_oid),
                    side(entry_mode, oid),
                ),
            };
            (old.is_some() || new.is_some()).then_some(PathChange { path, old, new })
        })
        .collect();
    // gix walks breadth first; git lists depth first, which is the order of the full paths.
    changes.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(changes)
}

/// Diffs one changed path as `git diff` does: returns its `--numstat` rows (two for a file type
/// change, which git splits; `None` for a binary one) and hands each added line (number in the
/// new text, bytes without the newline) to `added`, as `git diff -U0` shows them.
pub fn diff_path(
    repo: &gix::Repository,
    change: &PathChange,
    mut added: impl FnMut(u32, &[u8]),
) -> Result<Vec<Option<(u64, u64)>>> {
    if change.is_type_change() {
        let deletion = pair(repo, change.old, None, &mut |_, _| {})?;
        let addition = pair(repo, None, change.new, &mut added)?;
        return Ok(vec![deletion, addition]);
    }
    Ok(vec![pair(repo, change.old, change.new, &mut added)?])
}

/// One file pair of git's diff: line counts (`None`: binary) and the added lines.
fn pair(
    repo: &gix::Repository,
    old: Option<Side>,
    new: Option<Side>,
    added: &mut impl FnMut(u32, &[u8]),
) -> Result<Option<(u64, u64)>> {
    if let (Some(old), Some(new)) = (old, new)
        && old.oid == new.oid
    {
        return Ok(Some((0, 0)));
    }
    let text = |side: Option<Side>| match side {
        Some(side) => text_of(repo, side),
        None => Ok(Some(Vec::new())),
    };
    let Some(old_text) = text(old)? else {
        return Ok(None);
    };
    let Some(new_text) = text(new)? else {
        return Ok(None);
    };
    let diff = LineDiff::new(&old_text, &new_text);
    for (number, line) in diff.added() {
        added(number, without_newline(line));
    }
    Ok(Some((diff.additions(), diff.removals())))
}

/// What git's diff reads for one side of a change: a blob's bytes, a submodule's
/// `Subproject commit <id>` line, or nothing when git would call it binary.
pub fn text_of(repo: &gix::Repository, side: Side) -> Result<Option<Vec<u8>>> {
    if side.kind() == EntryKind::Commit {
        return Ok(Some(
            format!("Subproject commit {}\n", side.oid).into_bytes(),
        ));
    }
    if super::blob_size(repo, side.oid)? > BIG_FILE {
        return Ok(None);
    }
    let bytes = super::blob(repo, side.oid)?;
    Ok((!is_binary(&bytes)).then_some(bytes))
}

/// git's test for a binary file: a NUL in its first 8000 bytes.
pub fn is_binary(bytes: &[u8]) -> bool {
    first_nul(bytes).is_some()
}

/// Where git's test for a binary file finds a NUL: its offset, within the first 8000 bytes; what a
/// report says makes the file binary.
pub fn first_nul(bytes: &[u8]) -> Option<usize> {
    bytes[..bytes.len().min(BINARY_PROBE)]
        .iter()
        .position(|b| *b == 0)
}

/// The lines of a text, each with its newline (the last may have none), as git's diff cuts them.
pub fn lines(text: &[u8]) -> impl Iterator<Item = &[u8]> {
    text.split_inclusive(|b| *b == b'\n')
}

/// A line without its newline, as a patch shows it after the `+`.
pub fn without_newline(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\n").unwrap_or(line)
}

/// The line diff of two texts.
pub struct LineDiff<'a> {
    input: InternedInput<&'a [u8]>,
    diff: Diff,
}

impl<'a> LineDiff<'a> {
    /// Diffs `old` against `new` line by line (Myers, then git's indent heuristic for where an
    /// ambiguous hunk goes).
    pub fn new(old: &'a [u8], new: &'a [u8]) -> LineDiff<'a> {
        let mut input = InternedInput::default();
        input.update_before(lines(old));
        input.update_after(lines(new));
        let mut diff = Diff::compute(Algorithm::Myers, &input);
        diff.postprocess_lines(&input);
        LineDiff { input, diff }
    }

    /// Lines added (`git diff --numstat`'s first column).
    pub fn additions(&self) -> u64 {
        u64::from(self.diff.count_additions())
    }

    /// Lines removed (its second column).
    pub fn removals(&self) -> u64 {
        u64::from(self.diff.count_removals())
    }

    /// The added lines, each with its line number in the new text (from 1), in order: the `+`
    /// lines of `git diff -U0`.
    pub fn added(&self) -> impl Iterator<Item = (u32, &'a [u8])> + '_ {
        self.diff.hunks().flat_map(move |hunk| {
            hunk.after.map(move |index| {
                let token = self.input.after[index as usize];
                (index + 1, self.input.interner[token])
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn added_lines_are_numbered_in_the_new_text() {
        let diff = LineDiff::new(b"a\nb\nc\n", b"a\nx\nb\nc\ny");
        let added: Vec<(u32, &[u8])> = diff.added().collect();
        assert_eq!(added, vec![(2, &b"x\n"[..]), (5, &b"y"[..])]);
        assert_eq!((diff.additions(), diff.removals()), (2, 0));
        let changed = LineDiff::new(b"a\nb\n", b"a\nB\n");
        assert_eq!((changed.additions(), changed.removals()), (1, 1));
    }

    #[test]
    fn a_line_without_its_newline_differs_from_one_with_it() {
        let diff = LineDiff::new(b"a\nb", b"a\nb\n");
        assert_eq!((diff.additions(), diff.removals()), (1, 1));
        assert_eq!(without_newline(b"b\n"), b"b");
        assert_eq!(without_newline(b"b\r\n"), b"b\r");
    }

    #[test]
    fn binary_means_a_nul_in_the_first_8000_bytes() {
        assert!(is_binary(b"a\0b"));
        assert_eq!(first_nul(b"ab\0c\0"), Some(2));
        let mut late = vec![b'a'; BINARY_PROBE];
        late.push(0);
        assert!(!is_binary(&late), "a NUL past the probe is not looked at");
        assert!(!is_binary(b""));
    }
}
