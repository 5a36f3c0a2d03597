//! Mirrors: one bare repository per forge repository under the runner workdir, shared by every
//! run of that repository. Runs take their worktrees from it, their commits land in its object
//! store, and pushes leave from it. Names come from forges and are hostile, so every path
//! component is checked before it touches the filesystem; fetches are serialized per mirror, in
//! this process (an async lock) and across processes sharing the workdir (an flock).
//!
//! The mirror's own files that steer git (`config`, `hooks/`, `info/attributes`, and each worktree
//! admin folder's `config.worktree` and `commondir`) are ade's: their expected content is fixed,
//! and [`Mirror::check_integrity`] restores it and reports what an agent changed.

use std::collections::HashMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use sha2::{Digest, Sha256};

use super::git::{Git, GitError};
use crate::forge::CloneCredential;
use crate::gitread::{self, ReadError};

/// The most bytes [`Mirror::read_file_at`] returns; a bigger file is an error.
pub const READ_FILE_CAP: u64 = 256 * 1024;

/// The longest path component accepted from a forge.
const MAX_COMPONENT: usize = 100;

/// Where fetched branches are kept in a mirror.
const FETCHED_HEADS: &str = "refs/ade/heads/";

/// Where commits fetched by id are kept (so they stay reachable).
const FETCHED_WANTS: &str = "refs/ade/want/";

/// The mirror's config, as ade writes it. Everything that matters for safety is also forced on the
/// command line ([`Git`]); this file is checked so an agent's edits are noticed, not trusted.
const MIRROR_CONFIG: &str = "[core]\n\trepositoryformatversion = 0\n\tfilemode = true\n\tbare = true\n\tlogallrefupdates = false\n[gc]\n\tauto = 0\n";

/// What a linked worktree's `commondir` says when `git worktree add` made it.
const WORKTREE_COMMONDIR: &str = "../..\n";

/// Why a mirror operation failed.
#[derive(Debug, thiserror::Error)]
pub enum MirrorError {
    /// A forge, owner, repository, ref or path name was refused.
    #[error("invalid {what} `{value}`: {why}")]
    InvalidName {
        /// Which kind of name.
        what: &'static str,
        /// The name, with control characters escaped.
        value: String,
        /// Why it was refused.
        why: &'static str,
    },
    /// A git command failed.
    #[error(transparent)]
    Git(#[from] GitError),
    /// Reading the mirror's objects or refs in-process failed.
    #[error(transparent)]
    Read(#[from] ReadError),
    /// A file of the mirror could not be read or written.
    #[error("mirror {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// Files of the mirror that only ade writes were changed by someone else (an agent); ade's
    /// version has been restored. The run that was going on is to be failed as tampered.
    #[error("the mirror's own files were changed and have been restored: {}", .changed.join(", "))]
    Tampered {
        /// What changed, one entry per file.
        changed: Vec<String>,
    },
    /// A file asked for is bigger than [`READ_FILE_CAP`].
    #[error("{path} at {commit} is {size} bytes, more than the {cap} bytes ade reads")]
    TooLarge {
        /// The file.
        path: String,
        /// The commit.
        commit: String,
        /// Its size.
        size: u64,
        /// The cap.
        cap: u64,
    },
    /// After a fetch, a wanted commit is still missing.
    #[error("commit {0} is not in the repository after fetching")]
    Missing(String),
    /// A wanted branch does not exist on the forge.
    #[error("branch {0} does not exist in the repository")]
    MissingBranch(String),
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> MirrorError + '_ {
    move |source| MirrorError::Io {
        path: path.display().to_string(),
        source,
    }
}

fn shown(value: &str) -> String {
    value.escape_debug().take(200).collect()
}

/// What [`Mirror::read_file_at`] found.
enum FileAt {
    /// No regular file there (absent, a folder, a symlink, a submodule).
    None,
    /// A regular file bigger than [`READ_FILE_CAP`], unread.
    TooLarge(u64),
    /// The file's bytes.
    Bytes(Vec<u8>),
}

/// The regular file at `path` in `commit`'s tree, looked up entry by entry (a symlink on the way
/// is not followed: it is not a folder).
fn read_file(git_dir: &Path, commit: &str, path: &str) -> gitread::Result<FileAt> {
    let repo = gitread::open(git_dir)?;
    let tree_id = gitread::tree_of(&repo, gitread::object_id(commit)?)?;
    let Some((mode, oid)) = gitread::entry_at(&repo, tree_id, path)? else {
        return Ok(FileAt::None);
    };
    if !matches!(
        mode.kind(),
        gix::objs::tree::EntryKind::Blob | gix::objs::tree::EntryKind::BlobExecutable
    ) {
        return Ok(FileAt::None);
    }
    let size = gitread::blob_size(&repo, oid)?;
    if size > READ_FILE_CAP {
        return Ok(FileAt::TooLarge(size));
    }
    Ok(FileAt::Bytes(gitread::blob(&repo, oid)?))
}

/// Checks one path component that came from a forge (forge host, owner, repository name).
pub fn check_component(what: &'static str, value: &str) -> Result<(), MirrorError> {
    let refuse = |why| MirrorError::InvalidName {
        what,
        value: shown(value),
        why,
    };
    if value.is_empty() {
        return Err(refuse("it is empty"));
    }
    if value.len() > MAX_COMPONENT {
        return Err(refuse("it is too long"));
    }
    if value == "." || value == ".." {
        return Err(refuse("it names a folder relative to another"));
    }
    if value.chars().any(|c| c.is_control()) {
        return Err(refuse("it holds control characters"));
    }
    if value.starts_with('-') {
        return Err(refuse("it starts with '-'"));
    }
    if !value
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
    {
        return Err(refuse(
            "only ASCII letters, digits, '.', '_' and '-' are allowed",
        ));
    }
    Ok(())
}

/// Whether `value` is a full commit id (40 or 64 lowercase hex digits).
pub fn is_commit_id(value: &str) -> bool {
    matches!(value.len(), 40 | 64)
        && value
            .bytes()
            .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// Checks a branch name a forge or a run gave, with the rules of `git check-ref-format --branch`
/// and a few more (no leading '-', ASCII only), so it can be put into a refspec.
pub fn check_branch(value: &str) -> Result<(), MirrorError> {
    let refuse = |why| MirrorError::InvalidName {
        what: "branch",
        value: shown(value),
        why,
    };
    if value.is_empty() || value.len() > 200 {
        return Err(refuse("it is empty or too long"));
    }
    if value.starts_with('-') || value == "@" || value.contains("@{") {
        return Err(refuse("git refuses it as a branch name"));
    }
    if value.contains("..") || value.contains("//") || value.ends_with('/') || value.ends_with('.')
    {
        return Err(refuse("git refuses it as a ref name"));
    }
    for c in value.chars() {
        if !c.is_ascii() || c.is_ascii_control() || " ~^:?*[\\".contains(c) {
            return Err(refuse("it holds a character git refuses in ref names"));
        }
    }
    for part in value.split('/') {
        if part.starts_with('.') || part.ends_with(".lock") {
            return Err(refuse(
                "a part starts with '.' or ends with '.lock', which git refuses",
            ));
        }
    }
    Ok(())
}

/// The mirrors of one runner workdir: hands out one shared [`Mirror`] per repository.
pub struct Mirrors {
    git: Git,
    root: PathBuf,
    open: tokio::sync::Mutex<HashMap<PathBuf, Arc<Mirror>>>,
}

impl Mirrors {
    /// Mirrors kept under `root` (`<workdir>/mirrors`), run with `git`.
    pub fn new(git: Git, root: impl Into<PathBuf>) -> Mirrors {
        Mirrors {
            git,
            root: root.into(),
            open: tokio::sync::Mutex::new(HashMap::new()),
        }
    }

    /// The mirror of `full_name` on `forge` if this runner has made it before (in this process or
    /// an earlier one); never makes one.
    pub async fn existing(
        &self,
        forge: &str,
        full_name: &str,
    ) -> Result<Option<Arc<Mirror>>, MirrorError> {
        if !self.git_dir(forge, full_name)?.exists() {
            return Ok(None);
        }
        self.get(forge, full_name).await.map(Some)
    }

    /// The mirror of `full_name` (`owner/name`) on `forge` (a host or forge name), created on
    /// first use. Every run of the repository gets the same [`Mirror`].
    pub async fn get(&self, forge: &str, full_name: &str) -> Result<Arc<Mirror>, MirrorError> {
        let git_dir = self.git_dir(forge, full_name)?;
        let mut open = self.open.lock().await;
        if let Some(mirror) = open.get(&git_dir) {
            return Ok(mirror.clone());
        }
        let mirror = Arc::new(Mirror {
            git: self.git.clone(),
            git_dir: git_dir.clone(),
            fetch_lock: tokio::sync::Mutex::new(()),
            branch_locks: std::sync::Mutex::new(HashMap::new()),
        });
        mirror.open().await?;
        open.insert(git_dir, mirror.clone());
        Ok(mirror)
    }

    /// Where the mirror of `full_name` on `forge` lives; each part is checked, since all come
    /// from forges.
    fn git_dir(&self, forge: &str, full_name: &str) -> Result<PathBuf, MirrorError> {
        check_component("forge", forge)?;
        let (owner, name) = full_name
            .split_once('/')
            .ok_or_else(|| MirrorError::InvalidName {
                what: "repository",
                value: shown(full_name),
                why: "it is not owner/name",
            })?;
        check_component("owner", owner)?;
        check_component("repository name", name)?;
        Ok(self
            .root
            .join(forge)
            .join(owner)
            .join(format!("{name}.git")))
    }
}

/// One bare mirror. Shared by the runs of its repository; fetches into it are serialized and
/// pushes of one branch never overlap.
pub struct Mirror {
    git: Git,
    git_dir: PathBuf,
    fetch_lock: tokio::sync::Mutex<()>,
    branch_locks: std::sync::Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

/// Held while a mirror is being changed: the in-process lock and the flock on `ade.lock`.
pub struct MirrorLock<'a> {
    _local: tokio::sync::MutexGuard<'a, ()>,
    _file: File,
}

impl Mirror {
    /// The bare repository's folder.
    pub fn git_dir(&self) -> &Path {
        &self.git_dir
    }

    /// The git runner this mirror uses.
    pub fn git(&self) -> &Git {
        &self.git
    }

    /// Creates the bare repository if missing and writes ade's own files (see the module
    /// documentation), under the mirror lock.
    async fn open(&self) -> Result<(), MirrorError> {
        let parent = self.git_dir.parent().unwrap_or(Path::new("/"));
        tokio::fs::create_dir_all(parent)
            .await
            .map_err(io_error(parent))?;
        let _lock = self.lock().await?;
        let existed = self.git_dir.join("HEAD").is_file();
        if !existed {
            self.git
                .command()
                .arg("init")
                .arg("--bare")
                .arg("--quiet")
                .arg(&self.git_dir)
                .run()
                .await?;
        }
        // A fresh `git init` leaves sample hooks and the default config: both are replaced. On an
        // existing mirror a difference is someone else's change, restored and logged; the run it
        // belonged to ended with the process that was running it.
        let changed = self.restore_own_files(!existed)?;
        if !changed.is_empty() {
            tracing::warn!(mirror = %self.git_dir.display(), ?changed, "mirror files changed while ade was not running; restored");
        }
        Ok(())
    }

    /// Takes the mirror lock: the async mutex first, then the flock on `<git_dir>/ade.lock`, so
    /// two processes sharing a workdir never change one mirror at once.
    pub async fn lock(&self) -> Result<MirrorLock<'_>, MirrorError> {
        let local = self.fetch_lock.lock().await;
        let path = self.git_dir.join("ade.lock");
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(io_error(dir))?;
        }
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(io_error(&path))?;
        let file = tokio::task::spawn_blocking(move || {
            // `File::lock` is flock(2) on Unix (stable since Rust 1.89).
            file.lock().map(|()| file)
        })
        .await
        .map_err(|e| MirrorError::Io {
            path: path.display().to_string(),
            source: std::io::Error::other(e),
        })?
        .map_err(io_error(&path))?;
        Ok(MirrorLock {
            _local: local,
            _file: file,
        })
    }

    /// Whether `commit` is in the mirror as a commit (what `git cat-file -e <id>^{commit}`
    /// answers), read in-process.
    pub async fn has_commit(&self, commit: &str) -> Result<bool, MirrorError> {
        if !is_commit_id(commit) {
            return Ok(false);
        }
        Ok(self.resolve(commit.to_string()).await?.is_some())
    }

    /// What `spec` names, peeled to a commit (`git rev-parse --verify <spec>^{commit}`).
    async fn resolve(&self, spec: String) -> Result<Option<String>, MirrorError> {
        let git_dir = self.git_dir.clone();
        Ok(gitread::blocking(move || {
            let repo = gitread::open(&git_dir)?;
            Ok(gitread::resolve_commit(&repo, &spec).map(|id| id.to_string()))
        })
        .await?)
    }

    /// Brings the mirror up to date for `wants`: full commit ids and branch names. Commits already
    /// present are not fetched again; if all wants are commits already present, nothing is run.
    /// Branches are fetched to `refs/ade/heads/<branch>`, commits to `refs/ade/want/<id>`.
    /// The credential is given to the fetch alone, never written anywhere.
    pub async fn fetch(
        &self,
        credential: &CloneCredential,
        wants: &[String],
    ) -> Result<(), MirrorError> {
        let mut commits = Vec::new();
        let mut branches = Vec::new();
        for want in wants {
            if is_commit_id(want) {
                commits.push(want.as_str());
            } else {
                let branch = want.strip_prefix("refs/heads/").unwrap_or(want);
                check_branch(branch)?;
                branches.push(branch);
            }
        }
        let _lock = self.lock().await?;
        self.check_integrity().await?;
        let mut missing = Vec::new();
        for commit in &commits {
            if !self.has_commit(commit).await? {
                missing.push(*commit);
            }
        }
        if missing.is_empty() && branches.is_empty() {
            return Ok(());
        }
        let mut refspecs: Vec<String> = branches
            .iter()
            .map(|b| format!("+refs/heads/{b}:{FETCHED_HEADS}{b}"))
            .collect();
        refspecs.extend(missing.iter().map(|c| format!("+{c}:{FETCHED_WANTS}{c}")));
        let direct = self.fetch_refspecs(credential, &refspecs, false).await;
        let mut still_missing = Vec::new();
        for commit in &missing {
            if !self.has_commit(commit).await? {
                still_missing.push(*commit);
            }
        }
        if direct.is_ok() && still_missing.is_empty() {
            return Ok(());
        }
        if let Err(MirrorError::Git(GitError::Failed { stderr, .. })) = &direct {
            for branch in &branches {
                if stderr.contains(&format!("couldn't find remote ref refs/heads/{branch}")) {
                    return Err(MirrorError::MissingBranch(branch.to_string()));
                }
            }
        }
        if direct.is_err() && missing.is_empty() {
            return direct;
        }
        // A server that refuses fetching a commit by id still serves its branches.
        let all = format!("+refs/heads/*:{FETCHED_HEADS}*");
        self.fetch_refspecs(credential, &[all], true).await?;
        for branch in &branches {
            if self.branch_head(branch).await?.is_none() {
                return Err(MirrorError::MissingBranch(branch.to_string()));
            }
        }
        for commit in still_missing {
            if !self.has_commit(commit).await? {
                return Err(MirrorError::Missing(commit.to_string()));
            }
            self.git
                .in_repo(&self.git_dir)
                .args(["update-ref", &format!("{FETCHED_WANTS}{commit}"), commit])
                .run()
                .await?;
        }
        Ok(())
    }

    /// The commit `branch` pointed at on the forge when it was last fetched, if it was.
    pub async fn branch_head(&self, branch: &str) -> Result<Option<String>, MirrorError> {
        check_branch(branch)?;
        let head = self.resolve(format!("{FETCHED_HEADS}{branch}")).await?;
        Ok(head.filter(|id| is_commit_id(id)))
    }

    async fn fetch_refspecs(
        &self,
        credential: &CloneCredential,
        refspecs: &[String],
        prune: bool,
    ) -> Result<(), MirrorError> {
        let url = checked_url(&credential.url)?;
        let mut command = self
            .git
            .in_repo(&self.git_dir)
            .credential(credential)
            .args([
                "fetch",
                "--quiet",
                "--no-tags",
                "--no-recurse-submodules",
                "--no-write-fetch-head",
                "--no-auto-gc",
                "--no-auto-maintenance",
            ]);
        if prune {
            command = command.arg("--prune");
        }
        command.arg("--").arg(url).args(refspecs).run().await?;
        Ok(())
    }

    /// A regular file's content at `commit` (`path` relative to the repository root), or `None`
    /// if there is no such file or the entry is a symlink, a submodule or a folder: links are
    /// never followed. Used to read repository files such as AGENTS.md at a run's base commit.
    pub async fn read_file_at(
        &self,
        commit: &str,
        path: &str,
    ) -> Result<Option<Vec<u8>>, MirrorError> {
        if !is_commit_id(commit) {
            return Err(MirrorError::InvalidName {
                what: "commit",
                value: shown(commit),
                why: "it is not a full commit id",
            });
        }
        if path.is_empty()
            || path.starts_with('/')
            || path
                .split('/')
                .any(|p| p.is_empty() || p == "." || p == "..")
            || path.chars().any(|c| c.is_control())
        {
            return Err(MirrorError::InvalidName {
                what: "path",
                value: shown(path),
                why: "it is not a plain relative path",
            });
        }
        self.check_integrity().await?;
        let (git_dir, id) = (self.git_dir.clone(), commit.to_string());
        let wanted = path.to_string();
        let read = gitread::blocking(move || read_file(&git_dir, &id, &wanted)).await?;
        match read {
            FileAt::Bytes(bytes) => Ok(Some(bytes)),
            FileAt::None => Ok(None),
            FileAt::TooLarge(size) => Err(MirrorError::TooLarge {
                path: path.to_string(),
                commit: commit.to_string(),
                size,
                cap: READ_FILE_CAP,
            }),
        }
    }

    /// The per-branch lock that keeps two runs from pushing one branch at once.
    pub(crate) fn branch_lock(&self, branch: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut locks = self
            .branch_locks
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        locks.entry(branch.to_string()).or_default().clone()
    }

    /// Compares the mirror's own files with ade's version; if anything differs, restores ade's
    /// version and returns [`MirrorError::Tampered`] naming each change. Called before every git
    /// command that runs after an agent.
    pub async fn check_integrity(&self) -> Result<(), MirrorError> {
        let changed = self.restore_own_files(false)?;
        if changed.is_empty() {
            Ok(())
        } else {
            tracing::warn!(mirror = %self.git_dir.display(), ?changed, "mirror files changed by someone else; restored");
            Err(MirrorError::Tampered { changed })
        }
    }

    /// Brings ade's own files to ade's version and returns what differed (`fresh`: just created,
    /// so differences are git's defaults, not tampering, and are not reported).
    fn restore_own_files(&self, fresh: bool) -> Result<Vec<String>, MirrorError> {
        let mut changed = Vec::new();
        let config = self.git_dir.join("config");
        if fingerprint_of(&config) != Some(fingerprint(MIRROR_CONFIG.as_bytes())) {
            changed.push("config".to_string());
            replace_file(&config, MIRROR_CONFIG.as_bytes())?;
        }
        let hooks = self.git_dir.join("hooks");
        match std::fs::symlink_metadata(&hooks) {
            Ok(meta) if meta.is_dir() => {
                let entries = std::fs::read_dir(&hooks).map_err(io_error(&hooks))?;
                for entry in entries {
                    let entry = entry.map_err(io_error(&hooks))?;
                    changed.push(format!("hooks/{}", entry.file_name().to_string_lossy()));
                    remove_any(&entry.path())?;
                }
            }
            Ok(_) => {
                changed.push("hooks".to_string());
                remove_any(&hooks)?;
                std::fs::create_dir(&hooks).map_err(io_error(&hooks))?;
            }
            Err(_) => std::fs::create_dir_all(&hooks).map_err(io_error(&hooks))?,
        }
        for path in ["info/attributes", "objects/info/alternates"] {
            let full = self.git_dir.join(path);
            if std::fs::symlink_metadata(&full).is_ok() {
                changed.push(path.to_string());
                remove_any(&full)?;
            }
        }
        let worktrees = self.git_dir.join("worktrees");
        if let Ok(entries) = std::fs::read_dir(&worktrees) {
            for entry in entries.flatten() {
                let admin = entry.path();
                let name = entry.file_name().to_string_lossy().into_owned();
                if !entry.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                    continue;
                }
                let worktree_config = admin.join("config.worktree");
                if std::fs::symlink_metadata(&worktree_config).is_ok() {
                    changed.push(format!("worktrees/{name}/config.worktree"));
                    remove_any(&worktree_config)?;
                }
                // Missing or empty: `git worktree add` is still writing it (a worktree without
                // it is broken, not dangerous, and the workspace's checks catch that).
                let commondir = admin.join("commondir");
                let in_creation = std::fs::symlink_metadata(&commondir)
                    .map(|m| m.is_file() && m.len() == 0)
                    .unwrap_or(true);
                if !in_creation
                    && fingerprint_of(&commondir)
                        != Some(fingerprint(WORKTREE_COMMONDIR.as_bytes()))
                {
                    changed.push(format!("worktrees/{name}/commondir"));
                    replace_file(&commondir, WORKTREE_COMMONDIR.as_bytes())?;
                }
            }
        }
        if fresh {
            changed.clear();
        }
        Ok(changed)
    }
}

/// The fingerprint ade keeps of its own files.
fn fingerprint(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

/// The fingerprint of a regular file (a symlink or a folder has none).
fn fingerprint_of(path: &Path) -> Option<[u8; 32]> {
    let meta = std::fs::symlink_metadata(path).ok()?;
    if !meta.is_file() {
        return None;
    }
    std::fs::read(path).ok().map(|b| fingerprint(&b))
}

/// Removes a file, a link (not its target) or a folder.
fn remove_any(path: &Path) -> Result<(), MirrorError> {
    let meta = match std::fs::symlink_metadata(path) {
        Ok(meta) => meta,
        Err(_) => return Ok(()),
    };
    if meta.is_dir() {
        std::fs::remove_dir_all(path).map_err(io_error(path))
    } else {
        std::fs::remove_file(path).map_err(io_error(path))
    }
}

/// Replaces whatever is at `path` (a link is replaced, not written through) with `bytes`.
fn replace_file(path: &Path, bytes: &[u8]) -> Result<(), MirrorError> {
    let temp = path.with_extension(format!("ade-tmp-{}", std::process::id()));
    remove_any(&temp)?;
    std::fs::write(&temp, bytes).map_err(io_error(&temp))?;
    if std::fs::symlink_metadata(path).is_ok_and(|m| m.is_dir()) {
        remove_any(path)?;
    }
    std::fs::rename(&temp, path).map_err(io_error(path))
}

/// Checks a clone URL before it reaches git: HTTP(S) only, no credentials in it, no characters
/// that could be read as an option or a second argument.
pub(crate) fn checked_url(url: &str) -> Result<&str, MirrorError> {
    let refuse = |why| MirrorError::InvalidName {
        what: "clone URL",
        value: shown(url),
        why,
    };
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .ok_or_else(|| refuse("only http(s) URLs are fetched"))?;
    if url.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(refuse("it holds spaces or control characters"));
    }
    let authority = rest.split('/').next().unwrap_or_default();
    if authority.contains('@') {
        return Err(refuse("credentials never go into a URL"));
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_components_are_refused() {
        for bad in [
            "",
            ".",
            "..",
            "a/b",
            "/etc",
            "a\nb",
            "-x",
            "a b",
            "ü",
            &"a".repeat(101),
        ] {
            assert!(check_component("owner", bad).is_err(), "{bad:?}");
        }
        for good in ["octo", ".github", "repo-1.2_x", "github.com"] {
            check_component("owner", good).expect(good);
        }
    }

    #[test]
    fn branch_names_follow_git() {
        for bad in [
            "", "-x", "a..b", "a/.b", "a.lock", "a b", "a~1", "a^", "a:b", "a?", "a*", "a[",
            "a\\b", "@", "a@{1}", "a/", "a//b", "a.", "ü",
        ] {
            assert!(check_branch(bad).is_err(), "{bad:?}");
        }
        for good in ["main", "ade/12-task-1", "release-1.0", "a.b/c_d"] {
            check_branch(good).expect(good);
        }
    }

    #[test]
    fn urls_carry_no_credentials() {
        assert!(checked_url("https://x:tok@forge/a/b.git").is_err());
        assert!(checked_url("ssh://forge/a/b.git").is_err());
        assert!(checked_url("ext::sh -c evil").is_err());
        assert!(checked_url("https://forge/a b").is_err());
        checked_url("https://forge.example/a/b.git").expect("plain https");
        checked_url("http://127.0.0.1:3000/a/b.git").expect("plain http");
    }
}
