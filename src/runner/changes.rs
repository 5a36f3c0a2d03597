//! What a run changed, as read from git after the agent exited: the files (with their modes and,
//! for symlinks, their targets), the lines added, the messages of the commits made, and what of
//! the change could not be read as text. The change checks ([`super::guard`], [`super::dlp`]) read
//! only this, never the worktree.

/// One path the run's commits changed, relative to the repository root.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChangedFile {
    /// The path after the change (for a deletion, the path deleted).
    pub path: String,
    /// Added, modified or deleted.
    pub change: ChangeKind,
    /// What the path is after the change (for a deletion, what it was).
    pub mode: FileMode,
}

/// How a path changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChangeKind {
    /// New in the run's commits.
    Added,
    /// Changed content or mode.
    Modified,
    /// Removed.
    Deleted,
}

/// What kind of entry a path is in git's tree.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FileMode {
    /// A regular file.
    Regular,
    /// A regular file with the executable bit.
    Executable,
    /// A symbolic link and the target it names, as stored (not resolved).
    Symlink {
        /// The link's target text.
        target: String,
    },
    /// A gitlink: a submodule commit. ade never fetches or enters these.
    Submodule,
}

/// The lines one file gained, with their line numbers in the new file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AddedLines {
    /// The file's path.
    pub path: String,
    /// (line number, text without the newline).
    pub lines: Vec<(u32, String)>,
}

/// Everything a run changed between the base commit and the run's head.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Changes {
    /// The paths changed.
    pub files: Vec<ChangedFile>,
    /// Added lines of text files (binary files have none).
    pub added: Vec<AddedLines>,
    /// The full messages of the run's commits, oldest first.
    pub messages: Vec<String>,
    /// What the change adds that was not read as text (binary files, content past the caps), in
    /// path order: no check saw it, so DLP blocks the push unless it is allowed.
    pub unread: Vec<Unread>,
}

/// A path whose new content was not read, so no check saw what it holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unread {
    /// The path.
    pub path: String,
    /// Why it was not read.
    pub why: UnreadWhy,
}

/// Why content of a change was not read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UnreadWhy {
    /// git calls it binary: a NUL byte at this offset, within its first 8000 bytes.
    Binary {
        /// The offset of the first NUL byte.
        nul_at: usize,
    },
    /// Bigger than git's diff reads at all (512 MiB): binary to git without a look.
    TooBig {
        /// Its size in bytes.
        bytes: u64,
    },
    /// Its added lines pass the cap on one file: the lines after the cap were not read.
    FileCap {
        /// The cap, in bytes of added lines.
        cap: usize,
    },
    /// The change's added lines passed the cap on one change before this file's were read
    /// (or while they were).
    TotalCap {
        /// The cap, in bytes of added lines.
        cap: usize,
    },
    /// A symlink target longer than ade reads.
    LinkTarget {
        /// The cap, in bytes.
        cap: usize,
    },
}

impl UnreadWhy {
    /// Why, in words for a report: `binary (a NUL byte at offset 3)`.
    pub fn describe(&self) -> String {
        match self {
            UnreadWhy::Binary { nul_at } => {
                format!("binary (a NUL byte at offset {nul_at}), so it was not read")
            }
            UnreadWhy::TooBig { bytes } => {
                format!("{bytes} bytes, more than git reads to diff (512 MiB), so it was not read")
            }
            UnreadWhy::FileCap { cap } => format!(
                "its added lines pass the {} ade scans in one file; the rest was not read",
                size(*cap)
            ),
            UnreadWhy::TotalCap { cap } => format!(
                "the change's added lines passed the {} ade scans in one change here; the rest was not read",
                size(*cap)
            ),
            UnreadWhy::LinkTarget { cap } => {
                format!("a symlink target longer than the {cap} bytes ade reads")
            }
        }
    }
}

/// `512 KiB`, `8 MiB`, or bytes when neither fits evenly.
fn size(bytes: usize) -> String {
    const KIB: usize = 1024;
    const MIB: usize = 1024 * 1024;
    if bytes >= MIB && bytes.is_multiple_of(MIB) {
        format!("{} MiB", bytes / MIB)
    } else if bytes >= KIB && bytes.is_multiple_of(KIB) {
        format!("{} KiB", bytes / KIB)
    } else {
        format!("{bytes} bytes")
    }
}

impl Changes {
    /// Whether the run changed nothing.
    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }
}
