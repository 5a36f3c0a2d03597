//! What a run changed, as read from git after the agent exited: the files (with their modes and,
//! for symlinks, their targets), the lines added, and the messages of the commits made. The change
//! checks ([`super::guard`], [`super::dlp`]) read only this, never the worktree.

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
}

impl Changes {
    /// Whether the run changed nothing.
    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }
}
