//! What happens after the agent exits: ade makes the run's one commit on top of the base commit,
//! reads what it changed for the change checks, and pushes the run's branch. Every step first
//! checks the mirror's own files ([`Mirror::check_integrity`]) and runs git through [`Git`], so
//! nothing the agent wrote (hooks, filters, config, a rewritten `.git` file) runs or steers it.
//!
//! The commit is built in a temporary index file in the worktree's admin folder (which the agent
//! cannot reach), never in the worktree's own index: the agent may have staged, committed or
//! broken whatever it liked, and the commit holds exactly the worktree's final tree on `base`.

use std::path::{Path, PathBuf};

use gix::objs::tree::EntryKind;

use super::changes::{AddedLines, ChangeKind, ChangedFile, Changes, FileMode, Unread, UnreadWhy};
use super::git::{Git, GitCommand, GitError};
use super::mirror::{Mirror, MirrorError, check_branch, checked_url, is_commit_id};
use crate::forge::CloneCredential;
use crate::gitread::{self, ReadError, diff};

/// What agent tools leave in a worktree for themselves; never committed, whatever the agent
/// registry adds.
pub const DEFAULT_EXCLUDES: &[&str] = &[".aider*", ".claude/settings.local.json"];

/// The most agent commits listed in the run commit's body.
const MAX_AGENT_COMMITS: usize = 50;

/// The most bytes of one agent commit message kept in the run commit's body.
const MAX_AGENT_MESSAGE: usize = 2000;

/// The most bytes of added lines read per file; a file past it is listed as unread.
pub const ADDED_PER_FILE: usize = 512 * 1024;

/// The most bytes of added lines read in one change; files past it are listed as unread.
pub const ADDED_TOTAL: usize = 8 * 1024 * 1024;

/// The most bytes of a symlink target read; a longer one is listed as unread.
pub const MAX_LINK_TARGET: usize = 4096;

/// Why a publishing step failed.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    /// The mirror failed or was tampered with ([`MirrorError::Tampered`]).
    #[error(transparent)]
    Mirror(#[from] MirrorError),
    /// A git command failed.
    #[error(transparent)]
    Git(#[from] GitError),
    /// Reading the mirror's objects in-process failed.
    #[error(transparent)]
    Read(#[from] ReadError),
    /// An input (identity, branch, commit id, pattern) was refused.
    #[error("{0}")]
    Invalid(String),
    /// A scratch file could not be written or removed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
}

impl PublishError {
    /// Whether the run is to be failed as tampered (an agent changed the mirror's own files).
    pub fn is_tampered(&self) -> bool {
        matches!(self, PublishError::Mirror(MirrorError::Tampered { .. }))
    }
}

/// A run's worktree as ade knows it: the admin folder git keeps for it in the mirror and the
/// folder the agent worked in. The worktree's own `.git` file is never read.
#[derive(Clone, Debug)]
pub struct WorktreePaths {
    /// The admin folder (`<mirror>/worktrees/<name>`).
    pub git_dir: PathBuf,
    /// The worktree.
    pub work_tree: PathBuf,
}

/// A name and an email for a commit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    /// The display name.
    pub name: String,
    /// The email.
    pub email: String,
}

/// Everything the run's commit says.
#[derive(Clone, Debug)]
pub struct CommitRequest {
    /// The first line (sanitized to one line).
    pub title: String,
    /// The body, before the agent commits and trailers.
    pub body: String,
    /// The goal the spec belongs to, as in `Ade-Spec: <goal>@v<n>`.
    pub goal: String,
    /// The spec version.
    pub spec_version: u32,
    /// The task's id.
    pub task: String,
    /// The run's id.
    pub run: String,
    /// ade's bot: author and committer.
    pub bot: Identity,
    /// Who asked for the work: `Co-authored-by`.
    pub requester: Identity,
    /// Paths agent tools leave for themselves (git pathspec globs such as `.aider*`), matched at
    /// any depth; added to [`DEFAULT_EXCLUDES`].
    pub excludes: Vec<String>,
    /// The commit time (Unix seconds); now when `None`.
    pub time: Option<i64>,
}

/// How a push ended when git ran.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PushOutcome {
    /// The branch now points at the run's head.
    Pushed,
    /// The branch already pointed at the run's head.
    UpToDate,
    /// Someone else moved the branch since ade read it: nothing was overwritten.
    Stale,
    /// The forge refused the push for another reason (protection, hooks on the server).
    Rejected(String),
}

/// Everything a run changed (what was not read as text is in [`Changes::unread`]), and its line
/// counts.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ChangeReport {
    /// The changes.
    pub changes: Changes,
    /// Lines added, over every text file (uncapped).
    pub insertions: u64,
    /// Lines removed, over every text file.
    pub deletions: u64,
}

/// The mirror's git, after checking the mirror's own files: every git command run after the agent
/// goes through here.
async fn checked(mirror: &Mirror) -> Result<&Git, PublishError> {
    mirror.check_integrity().await?;
    Ok(mirror.git())
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> PublishError + '_ {
    move |source| PublishError::Io {
        path: path.display().to_string(),
        source,
    }
}

fn check_commit(value: &str, what: &str) -> Result<(), PublishError> {
    if is_commit_id(value) {
        Ok(())
    } else {
        Err(PublishError::Invalid(format!(
            "{what} `{}` is not a full commit id",
            value.escape_debug()
        )))
    }
}

/// One line of text with control characters dropped, at most `max` characters.
fn one_line(text: &str, max: usize) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect::<String>()
        .trim()
        .chars()
        .take(max)
        .collect()
}

/// Text with control characters other than newlines and tabs dropped.
fn plain_text(text: &str) -> String {
    text.chars()
        .filter(|c| !c.is_control() || *c == '\n' || *c == '\t')
        .collect()
}

/// Checks an identity so it cannot break out of the author line or a trailer.
fn check_identity(identity: &Identity, what: &str) -> Result<(String, String), PublishError> {
    let name = one_line(&identity.name, 200).replace(['<', '>'], "");
    let email = identity.email.trim();
    let valid_email = !email.is_empty()
        && email.len() <= 254
        && email.contains('@')
        && !email
            .chars()
            .any(|c| c.is_control() || c.is_whitespace() || matches!(c, '<' | '>' | ','));
    if name.is_empty() || !valid_email {
        return Err(PublishError::Invalid(format!(
            "the {what} identity `{}` <{}> is not usable in a commit",
            identity.name.escape_debug(),
            identity.email.escape_debug()
        )));
    }
    Ok((name, email.to_string()))
}

/// A trailer value: one line, nothing that could start another trailer.
fn trailer_value(value: &str) -> String {
    one_line(value, 200)
}

/// The run commit's message.
fn commit_message(
    request: &CommitRequest,
    requester: &(String, String),
    agent: &[String],
) -> String {
    let mut message = one_line(&request.title, 120);
    if message.is_empty() {
        message = format!("ade run {}", trailer_value(&request.run));
    }
    message.push_str("\n\n");
    let body = plain_text(&request.body);
    if !body.trim().is_empty() {
        message.push_str(body.trim());
        message.push_str("\n\n");
    }
    if !agent.is_empty() {
        // Indented, so nothing an agent wrote is read as a trailer or a header.
        message.push_str("Agent commits:\n");
        for text in agent {
            let text: String = plain_text(text).chars().take(MAX_AGENT_MESSAGE).collect();
            for line in text.trim().lines() {
                message.push_str("    ");
                message.push_str(line);
                message.push('\n');
            }
            message.push('\n');
        }
    }
    message.push_str(&format!(
        "Ade-Spec: {}@v{}\nAde-Task: {}\nAde-Run: {}\nCo-authored-by: {} <{}>\n",
        trailer_value(&request.goal),
        request.spec_version,
        trailer_value(&request.task),
        trailer_value(&request.run),
        requester.0,
        requester.1
    ));
    message
}

/// The pathspecs that keep agent tools' own files out: `:(exclude,glob)**/<pattern>` and the same
/// for everything below a matching folder.
fn exclude_pathspecs(request: &CommitRequest) -> Result<Vec<String>, PublishError> {
    let mut specs = Vec::new();
    let patterns = DEFAULT_EXCLUDES
        .iter()
        .map(|p| p.to_string())
        .chain(request.excludes.iter().cloned());
    for pattern in patterns {
        let trimmed = pattern.trim_matches('/');
        if trimmed.is_empty()
            || trimmed.chars().any(|c| c.is_control())
            || trimmed.starts_with(':')
            || trimmed.split('/').any(|p| p == "..")
        {
            return Err(PublishError::Invalid(format!(
                "exclude pattern `{}` is not a plain relative glob",
                pattern.escape_debug()
            )));
        }
        specs.push(format!(":(exclude,glob)**/{trimmed}"));
        specs.push(format!(":(exclude,glob)**/{trimmed}/**"));
    }
    Ok(specs)
}

/// Makes the run's one commit: the worktree's final tree (minus what agent tools leave for
/// themselves, and what the repository's .gitignore ignores) on top of `base`, by ade's bot, with
/// ade's trailers. Commits the agent made itself are not kept: their messages are listed in the
/// body. Returns `None` when the tree equals `base`'s ("no changes").
pub async fn commit_run(
    mirror: &Mirror,
    worktree: &WorktreePaths,
    base: &str,
    request: &CommitRequest,
) -> Result<Option<String>, PublishError> {
    check_commit(base, "base")?;
    let bot = check_identity(&request.bot, "bot")?;
    let requester = check_identity(&request.requester, "requester")?;
    let excludes = exclude_pathspecs(request)?;
    let agent = agent_commit_messages(mirror, &worktree.git_dir, base).await?;

    let index = worktree.git_dir.join(format!(
        "ade-index-{}-{}",
        std::process::id(),
        fastrand::u64(..)
    ));
    let result = build_tree(mirror, worktree, base, &index, &excludes).await;
    let _ = std::fs::remove_file(&index);
    let tree = result?;

    mirror.check_integrity().await?;
    let (git_dir, base_id) = (mirror.git_dir().to_path_buf(), base.to_string());
    let base_tree = gitread::blocking(move || {
        let repo = gitread::open(&git_dir)?;
        gitread::tree_of(&repo, gitread::object_id(&base_id)?)
    })
    .await?;
    if gitread::object_id(&tree).is_ok_and(|tree| tree == base_tree) {
        return Ok(None);
    }
    let date = match request.time {
        Some(seconds) => format!("@{seconds} +0000"),
        None => format!(
            "@{} +0000",
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or_default()
        ),
    };
    let message = commit_message(request, &requester, &agent);
    let commit = checked(mirror)
        .await?
        .in_repo(mirror.git_dir())
        .env("GIT_AUTHOR_NAME", &bot.0)
        .env("GIT_AUTHOR_EMAIL", &bot.1)
        .env("GIT_AUTHOR_DATE", &date)
        .env("GIT_COMMITTER_NAME", &bot.0)
        .env("GIT_COMMITTER_EMAIL", &bot.1)
        .env("GIT_COMMITTER_DATE", &date)
        .args(["commit-tree", &tree, "-p", base, "-F", "-"])
        .stdin(message.into_bytes())
        .run_text()
        .await?;
    Ok(Some(commit))
}

/// Stages the worktree into a fresh index at `index` and writes its tree.
async fn build_tree(
    mirror: &Mirror,
    worktree: &WorktreePaths,
    base: &str,
    index: &Path,
    excludes: &[String],
) -> Result<String, PublishError> {
    // Start from the worktree's index when it is a plain file: its stat data spares hashing every
    // file again. `read-tree --reset` then makes the entries exactly `base`'s, whatever the agent
    // staged.
    // The copy keeps the original's modification time: git trusts an entry's stat data only when
    // the entry is older than the index file, and a copy made now would make a file the agent
    // rewrote, at the same size, in the same clock tick as the checkout look unchanged.
    let own_index = worktree.git_dir.join("index");
    if let Ok(meta) = std::fs::symlink_metadata(&own_index)
        && meta.is_file()
    {
        std::fs::copy(&own_index, index).map_err(io_error(index))?;
        let modified = meta.modified().map_err(io_error(&own_index))?;
        std::fs::File::options()
            .write(true)
            .open(index)
            .and_then(|copy| copy.set_modified(modified))
            .map_err(io_error(index))?;
    }
    let in_worktree = async || -> Result<GitCommand, PublishError> {
        Ok(checked(mirror)
            .await?
            .in_worktree(&worktree.git_dir, &worktree.work_tree)
            .env("GIT_INDEX_FILE", index.as_os_str()))
    };
    in_worktree()
        .await?
        .args(["read-tree", "--reset", base])
        .run()
        .await?;
    in_worktree()
        .await?
        .args(["add", "--all", "--", "."])
        .args(excludes)
        .run()
        .await?;
    Ok(in_worktree().await?.arg("write-tree").run_text().await?)
}

/// The messages of commits the agent made on top of `base` in its worktree (the HEAD of its
/// admin folder), newest [`MAX_AGENT_COMMITS`] of them, oldest first. A missing or broken HEAD
/// means there are none: the tree is what counts.
async fn agent_commit_messages(
    mirror: &Mirror,
    admin: &Path,
    base: &str,
) -> Result<Vec<String>, PublishError> {
    mirror.check_integrity().await?;
    let (admin, base) = (admin.to_path_buf(), base.to_string());
    let read = gitread::blocking(move || {
        let repo = gitread::open(&admin)?;
        let base = gitread::object_id(&base)?;
        match gitread::resolve_commit(&repo, "HEAD") {
            Some(head) if head != base => {
                gitread::messages(&repo, head, Some(base), MAX_AGENT_COMMITS)
            }
            _ => Ok(Vec::new()),
        }
    })
    .await;
    let Ok(log) = read else {
        return Ok(Vec::new());
    };
    let mut messages: Vec<String> = log
        .iter()
        .map(|m| String::from_utf8_lossy(m).trim().to_string())
        .filter(|m| !m.is_empty())
        .collect();
    messages.reverse();
    Ok(messages)
}

/// Reads what changed between `base` and `head` from the mirror, in-process (gix): each path with
/// its change and mode (symlink targets read from the blob, never resolved), the added lines of
/// text files (capped per file and in total), the line counts, and the messages of the commits in
/// `base..head`. The same answers as `git diff-tree -r --no-renames`, `git diff -U0` and `git
/// diff --numstat` without attributes, and `git log --format=%B` (see [`crate::gitread::diff`]),
/// except that a file git calls binary only because it was binary before has its new text read
/// whole. Binary files and what passes a cap are listed in [`Changes::unread`]. The checks read
/// this, never the worktree.
pub async fn read_changes(
    mirror: &Mirror,
    base: &str,
    head: &str,
) -> Result<ChangeReport, PublishError> {
    check_commit(base, "base")?;
    check_commit(head, "head")?;
    mirror.check_integrity().await?;
    let git_dir = mirror.git_dir().to_path_buf();
    let (base, head) = (base.to_string(), head.to_string());
    Ok(gitread::blocking(move || changes_between(&git_dir, &base, &head)).await?)
}

/// [`read_changes`] on a blocking thread.
fn changes_between(git_dir: &Path, base: &str, head: &str) -> gitread::Result<ChangeReport> {
    let repo = gitread::open(git_dir)?;
    let (base, head) = (gitread::object_id(base)?, gitread::object_id(head)?);
    let base_tree = gitread::tree_of(&repo, base)?;
    let head_tree = gitread::tree_of(&repo, head)?;
    let mut report = ChangeReport::default();
    let mut caps = AddedCaps::default();
    for change in diff::tree_changes(&repo, Some(base_tree), head_tree)? {
        let path = String::from_utf8_lossy(&change.path).into_owned();
        let (kind, side) = match (change.old, change.new) {
            (None, Some(new)) => (ChangeKind::Added, new),
            (Some(old), None) => (ChangeKind::Deleted, old),
            (Some(_), Some(new)) => (ChangeKind::Modified, new),
            (None, None) => continue,
        };
        let mode = match side.kind() {
            EntryKind::BlobExecutable => FileMode::Executable,
            EntryKind::Link => {
                let (target, whole) = link_target(&repo, side.oid)?;
                if !whole && kind != ChangeKind::Deleted {
                    let cap = MAX_LINK_TARGET;
                    caps.unread(&path, UnreadWhy::LinkTarget { cap });
                }
                FileMode::Symlink { target }
            }
            EntryKind::Commit => FileMode::Submodule,
            EntryKind::Blob | EntryKind::Tree => FileMode::Regular,
        };
        // Added lines are kept for what is a regular file after the change, as git's patch shows
        // them (the addition half of a file type change included).
        let text_file = change.new.is_some_and(|new| new.is_file());
        let mut file = FileLines::new(&path);
        let counts = diff::diff_path(&repo, &change, |number, line| {
            if text_file {
                caps.keep(&mut file, number, line);
            }
        })?;
        // git shows no lines when either side is binary (the addition half of a type change
        // included, which comes last).
        if let Some(new) = change.new.filter(|_| text_file)
            && counts.last().is_some_and(Option::is_none)
        {
            match unreadable(&repo, new)? {
                Some(why) => caps.unread(&path, why),
                None => {
                    // Binary before, text now: all of it is new to the checks.
                    let text = gitread::blob(&repo, new.oid)?;
                    for (number, line) in diff::lines(&text).enumerate() {
                        let number = u32::try_from(number + 1).unwrap_or(u32::MAX);
                        caps.keep(&mut file, number, diff::without_newline(line));
                    }
                }
            }
        }
        for (insertions, deletions) in counts.into_iter().flatten() {
            report.insertions += insertions;
            report.deletions += deletions;
        }
        if !file.lines.lines.is_empty() {
            report.changes.added.push(file.lines);
        }
        report.changes.files.push(ChangedFile {
            path,
            change: kind,
            mode,
        });
    }
    report.changes.unread = caps.unread;
    let mut messages = gitread::messages(&repo, head, Some(base), usize::MAX)?;
    messages.reverse();
    report.changes.messages = messages
        .iter()
        .map(|m| String::from_utf8_lossy(m).trim_end().to_string())
        .filter(|m| !m.is_empty())
        .collect();
    Ok(report)
}

/// A symlink's target as stored in its blob, at most [`MAX_LINK_TARGET`] bytes, never resolved,
/// and whether that is all of it.
fn link_target(repo: &gix::Repository, oid: gitread::ObjectId) -> gitread::Result<(String, bool)> {
    let bytes = gitread::blob(repo, oid)?;
    let kept = &bytes[..bytes.len().min(MAX_LINK_TARGET)];
    Ok((
        String::from_utf8_lossy(kept).into_owned(),
        kept.len() == bytes.len(),
    ))
}

/// Why git's diff does not read a file's content as text, or `None` when it does: a file bigger
/// than git reads, or one with a NUL byte in its first 8000 bytes.
fn unreadable(repo: &gix::Repository, side: diff::Side) -> gitread::Result<Option<UnreadWhy>> {
    let bytes = gitread::blob_size(repo, side.oid)?;
    if bytes > diff::BIG_FILE {
        return Ok(Some(UnreadWhy::TooBig { bytes }));
    }
    let text = gitread::blob(repo, side.oid)?;
    Ok(diff::first_nul(&text).map(|nul_at| UnreadWhy::Binary { nul_at }))
}

/// The caps on added lines read: [`ADDED_PER_FILE`] a file, [`ADDED_TOTAL`] in all. A file
/// whose lines pass one is listed as unread, once; so is every unreadable file.
#[derive(Default)]
struct AddedCaps {
    total: usize,
    total_cut: bool,
    unread: Vec<Unread>,
}

/// The added lines of one file being kept.
struct FileLines {
    lines: AddedLines,
    bytes: usize,
    cut: bool,
}

impl FileLines {
    fn new(path: &str) -> FileLines {
        FileLines {
            lines: AddedLines {
                path: path.to_string(),
                lines: Vec::new(),
            },
            bytes: 0,
            cut: false,
        }
    }
}

impl AddedCaps {
    /// Keeps line `line_no` of `file` (without its newline), whole, if it fits; otherwise lists
    /// the file as unread and keeps none of its later lines.
    fn keep(&mut self, file: &mut FileLines, line_no: u32, bytes: &[u8]) {
        if file.cut {
            return;
        }
        let text = String::from_utf8_lossy(bytes).into_owned();
        let why = if self.total_cut || self.total + text.len() > ADDED_TOTAL {
            self.total_cut = true;
            UnreadWhy::TotalCap { cap: ADDED_TOTAL }
        } else if file.bytes + text.len() > ADDED_PER_FILE {
            UnreadWhy::FileCap {
                cap: ADDED_PER_FILE,
            }
        } else {
            file.bytes += text.len();
            self.total += text.len();
            file.lines.lines.push((line_no, text));
            return;
        };
        file.cut = true;
        let path = file.lines.path.clone();
        self.unread(&path, why);
    }

    /// Lists `path` as unread.
    fn unread(&mut self, path: &str, why: UnreadWhy) {
        self.unread.push(Unread {
            path: path.to_string(),
            why,
        });
    }
}

/// Pushes `head` to `branch` from the mirror, naming what the branch must point at now
/// (`expected_old`; `None`: the branch must not exist). A branch someone else moved is
/// [`PushOutcome::Stale`] and is never overwritten. The credential is given to this one command;
/// two runs never push one branch at once.
pub async fn push(
    mirror: &Mirror,
    credential: &CloneCredential,
    head: &str,
    branch: &str,
    expected_old: Option<&str>,
) -> Result<PushOutcome, PublishError> {
    check_commit(head, "head")?;
    if let Some(old) = expected_old {
        check_commit(old, "expected branch head")?;
    }
    check_branch(branch)?;
    let url = checked_url(&credential.url)?;
    let lock = mirror.branch_lock(branch);
    let _held = lock.lock().await;
    mirror.check_integrity().await?;
    let output = mirror
        .git()
        .in_repo(mirror.git_dir())
        .credential(credential)
        .args([
            "push",
            "--porcelain",
            "--no-verify",
            "--no-signed",
            "--no-recurse-submodules",
            &format!(
                "--force-with-lease=refs/heads/{branch}:{}",
                expected_old.unwrap_or("")
            ),
            "--",
            url,
            &format!("{head}:refs/heads/{branch}"),
        ])
        .output_any_status()
        .await?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let target = format!("refs/heads/{branch}");
    for line in stdout.lines() {
        let mut fields = line.split('\t');
        let (Some(flag), Some(refs), summary) = (fields.next(), fields.next(), fields.next())
        else {
            continue;
        };
        if !refs.ends_with(&format!(":{target}")) {
            continue;
        }
        let summary = summary.unwrap_or("").to_string();
        return Ok(match flag {
            "=" => PushOutcome::UpToDate,
            " " | "+" | "*" => PushOutcome::Pushed,
            "!" if summary.contains("stale info") => PushOutcome::Stale,
            _ => PushOutcome::Rejected(one_line(&summary, 500)),
        });
    }
    Err(PublishError::Git(GitError::Failed {
        command: "push".into(),
        status: output.status.to_string(),
        stderr: one_line(&String::from_utf8_lossy(&output.stderr), 2000),
    }))
}

/// The run's branch: `<prefix><goal>-<task>`, the task id reduced to `[a-z0-9._-]`, and the
/// whole checked as `git check-ref-format --branch` would.
pub fn branch_name(prefix: &str, goal_number: u64, task_id: &str) -> Result<String, PublishError> {
    let mut task = String::new();
    for c in task_id.chars().flat_map(char::to_lowercase) {
        let c = if c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-') {
            c
        } else {
            '-'
        };
        if (c == '-' && task.ends_with('-')) || (c == '.' && task.ends_with('.')) {
            continue;
        }
        task.push(c);
    }
    let mut task: String = task
        .trim_matches(|c| matches!(c, '-' | '.'))
        .chars()
        .take(60)
        .collect();
    while task.ends_with(".lock") {
        task.truncate(task.len() - ".lock".len());
        task = task.trim_end_matches(['-', '.']).to_string();
    }
    let task = task.trim_end_matches(['-', '.']);
    if task.is_empty() {
        return Err(PublishError::Invalid(format!(
            "task id `{}` leaves nothing usable in a branch name",
            task_id.escape_debug()
        )));
    }
    let name = format!("{prefix}{goal_number}-{task}");
    check_branch(&name)?;
    Ok(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn branch_names_reduce_hostile_task_ids() {
        assert_eq!(branch_name("ade/", 12, "Task 1").unwrap(), "ade/12-task-1");
        assert_eq!(
            branch_name("ade/", 3, "../../etc/passwd").unwrap(),
            "ade/3-etc-passwd"
        );
        assert_eq!(branch_name("", 3, "x.lock").unwrap(), "3-x");
        assert_eq!(branch_name("ade/", 3, "a..b~^:?*[\\").unwrap(), "ade/3-a.b");
        assert_eq!(branch_name("ade/", 3, "-rf").unwrap(), "ade/3-rf");
        assert!(branch_name("ade/", 3, "ü@{}").is_err());
        assert!(branch_name("-x/", 3, "a").is_err());
        assert!(branch_name("a//", 3, "a").is_err());
    }

    #[test]
    fn added_lines_are_numbered_kept_whole_and_capped() {
        let mut caps = AddedCaps::default();
        let mut a = FileLines::new("a.txt");
        caps.keep(&mut a, 2, b"one");
        caps.keep(&mut a, 3, b"two");
        assert_eq!(a.lines.lines, vec![(2, "one".into()), (3, "two".into())]);
        let mut wide = FileLines::new("wide.txt");
        caps.keep(&mut wide, 1, "w".repeat(200 * 1024).as_bytes());
        assert_eq!(
            wide.lines.lines[0].1.len(),
            200 * 1024,
            "a long line is kept whole, for DLP to read in windows"
        );
        assert!(caps.unread.is_empty(), "{:?}", caps.unread);

        let mut b = FileLines::new("b.txt");
        let line = "x".repeat(64 * 1024);
        for number in 1..=9 {
            caps.keep(&mut b, number, line.as_bytes());
        }
        caps.keep(&mut b, 10, b"short, but after the cut");
        assert_eq!(
            b.lines.lines.len(),
            ADDED_PER_FILE / line.len(),
            "lines past the per-file cap are not kept, nor any after them"
        );
        assert_eq!(
            caps.unread,
            vec![Unread {
                path: "b.txt".into(),
                why: UnreadWhy::FileCap {
                    cap: ADDED_PER_FILE
                }
            }],
            "the file is listed once"
        );

        let mut c = FileLines::new("c.txt");
        let mut d = FileLines::new("d.txt");
        caps.total = ADDED_TOTAL - 1;
        caps.keep(&mut c, 1, b"zz");
        caps.keep(&mut c, 2, b"z");
        caps.keep(&mut d, 1, b"");
        assert!(c.lines.lines.is_empty() && d.lines.lines.is_empty());
        let total = UnreadWhy::TotalCap { cap: ADDED_TOTAL };
        assert_eq!(
            caps.unread[1..],
            [
                Unread {
                    path: "c.txt".into(),
                    why: total
                },
                Unread {
                    path: "d.txt".into(),
                    why: total
                }
            ],
            "every file past the total cap is listed, each once"
        );
    }

    #[test]
    fn agent_messages_cannot_add_trailers() {
        let request = CommitRequest {
            title: "Add\nthing".into(),
            body: "Body".into(),
            goal: "acme/app#7".into(),
            spec_version: 2,
            task: "t1".into(),
            run: "r9".into(),
            bot: Identity {
                name: "ade".into(),
                email: "ade@example.com".into(),
            },
            requester: Identity {
                name: "Req".into(),
                email: "req@example.com".into(),
            },
            excludes: vec![],
            time: None,
        };
        let message = commit_message(
            &request,
            &("Req".into(), "req@example.com".into()),
            &["fix\n\nCo-authored-by: Evil <evil@example.com>".into()],
        );
        assert!(message.starts_with("Add thing\n\nBody\n\nAgent commits:\n    fix\n"));
        assert!(message.contains("\n    Co-authored-by: Evil"));
        assert!(message.ends_with(
            "\n\nAde-Spec: acme/app#7@v2\nAde-Task: t1\nAde-Run: r9\nCo-authored-by: Req <req@example.com>\n"
        ));
    }
}
