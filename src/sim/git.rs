//! The simulator's repositories are real bare git repositories under its data dir, changed with
//! the git CLI and read in-process with gix ([`crate::gitread`]). Branch heads, files and commits
//! always come from git, never from a cache, so what ade pushes over HTTP is what the API reports.
//! The one read left to the CLI is a review comment's diff hunk (`diff_hunk.rs`).

use crate::gitread::{self, ObjectId, diff};
use anyhow::{Context, anyhow, bail};
use gix::bstr::ByteSlice;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use tokio::io::AsyncWriteExt;
use tokio::process::Command;

/// The all-zero object id git and the forges use for "no commit".
pub const ZERO_SHA: &str = "0000000000000000000000000000000000000000";

/// Who made a commit, as git records it.
#[derive(Clone, Debug)]
pub struct Signature {
    /// Name.
    pub name: String,
    /// E-mail.
    pub email: String,
    /// When (Unix ms).
    pub at_ms: i64,
}

/// One commit, as push payloads describe it.
#[derive(Clone, Debug)]
pub struct CommitInfo {
    /// The commit id.
    pub sha: String,
    /// Its tree.
    pub tree: String,
    /// The full message.
    pub message: String,
    /// Author name.
    pub author_name: String,
    /// Author e-mail.
    pub author_email: String,
    /// Committer name.
    pub committer_name: String,
    /// Committer e-mail.
    pub committer_email: String,
    /// Committer time, RFC 3339 with the commit's offset.
    pub timestamp: String,
    /// Paths added.
    pub added: Vec<String>,
    /// Paths removed.
    pub removed: Vec<String>,
    /// Paths modified.
    pub modified: Vec<String>,
}

/// An entry of a directory listing.
#[derive(Clone, Debug)]
pub struct TreeEntry {
    /// File name.
    pub name: String,
    /// `blob`, `tree` or `commit` (a submodule).
    pub kind: String,
    /// Object id.
    pub sha: String,
    /// Size of a blob.
    pub size: u64,
}

/// What a path names at a ref.
#[derive(Clone, Debug)]
pub enum PathContent {
    /// A file: its blob id and bytes.
    File {
        /// The blob id.
        sha: String,
        /// The bytes.
        bytes: Vec<u8>,
    },
    /// A directory and its entries.
    Dir(Vec<TreeEntry>),
}

/// How to land a pull request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MergeStyle {
    /// A merge commit with both parents.
    Merge,
    /// One commit with the combined change.
    Squash,
    /// The head's commits replayed on the base.
    Rebase,
}

/// What to land where, and as whom.
#[derive(Clone, Copy, Debug)]
pub struct MergePlan<'a> {
    /// The branch that receives the change.
    pub base_branch: &'a str,
    /// The commit to land.
    pub head: &'a str,
    /// How.
    pub style: MergeStyle,
    /// The message of the commit made (merge and squash).
    pub message: &'a str,
    /// Who merges.
    pub committer: &'a Signature,
}

/// Why git could not merge.
#[derive(Debug, thiserror::Error)]
pub enum MergeFailure {
    /// The changes conflict.
    #[error("merge conflict")]
    Conflict,
    /// The base moved while merging.
    #[error("base branch moved during the merge")]
    Raced,
    /// Git failed.
    #[error(transparent)]
    Git(#[from] anyhow::Error),
}

/// The bare repositories of one simulator.
#[derive(Clone, Debug)]
pub struct GitStore {
    root: PathBuf,
}

impl GitStore {
    /// Repositories live in `root/<owner>/<name>.git`.
    pub fn new(root: PathBuf) -> GitStore {
        GitStore { root }
    }

    /// The folder `git http-backend` serves (`GIT_PROJECT_ROOT`).
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Where a repository lives.
    pub fn path(&self, owner: &str, name: &str) -> PathBuf {
        self.root.join(owner).join(format!("{name}.git"))
    }

    /// Makes an empty bare repository whose HEAD names `default_branch`.
    pub async fn init(&self, owner: &str, name: &str, default_branch: &str) -> anyhow::Result<()> {
        let path = self.path(owner, name);
        tokio::fs::create_dir_all(&path)
            .await
            .with_context(|| format!("creating {}", path.display()))?;
        run(
            &path,
            &["init", "--bare", "--quiet", "-b", default_branch, "."],
            None,
            &[],
        )
        .await?;
        // http-backend refuses pushes to repositories that do not enable them for any user.
        run(&path, &["config", "http.receivepack", "true"], None, &[]).await?;
        Ok(())
    }

    /// Commits `changes` (path → new bytes, or `None` to delete) on top of `branch` (or as its
    /// first commit) and moves the branch, refusing if it moved meanwhile. Returns the new commit.
    pub async fn commit(
        &self,
        owner: &str,
        name: &str,
        branch: &str,
        changes: &[(String, Option<Vec<u8>>)],
        message: &str,
        author: &Signature,
    ) -> anyhow::Result<String> {
        let repo = self.path(owner, name);
        let parent = self.branch_sha(owner, name, branch).await?;
        let index = repo.join(format!("sim-index-{:016x}", fastrand::u64(..)));
        let index_str = index.to_string_lossy().into_owned();
        let env = [("GIT_INDEX_FILE", index_str.as_str())];
        let result = async {
            match &parent {
                Some(parent) => run(&repo, &["read-tree", parent], None, &env).await?,
                None => run(&repo, &["read-tree", "--empty"], None, &env).await?,
            };
            for (path, content) in changes {
                match content {
                    Some(bytes) => {
                        let blob = run(&repo, &["hash-object", "-w", "--stdin"], Some(bytes), &env)
                            .await?;
                        let info = format!("100644,{},{path}", blob.trim());
                        run(
                            &repo,
                            &["update-index", "--add", "--cacheinfo", &info],
                            None,
                            &env,
                        )
                        .await?;
                    }
                    None => {
                        let entry = format!("0 {ZERO_SHA}\t{path}\n");
                        run(
                            &repo,
                            &["update-index", "--index-info"],
                            Some(entry.as_bytes()),
                            &env,
                        )
                        .await?;
                    }
                }
            }
            let tree = run(&repo, &["write-tree"], None, &env).await?;
            let commit = commit_tree(
                &repo,
                tree.trim(),
                parent.as_slice(),
                message,
                author,
                author,
            )
            .await?;
            let old = parent.as_deref().unwrap_or(ZERO_SHA);
            let target = format!("refs/heads/{branch}");
            run(&repo, &["update-ref", &target, &commit, old], None, &[]).await?;
            Ok(commit)
        }
        .await;
        let _ = tokio::fs::remove_file(&index).await;
        result
    }

    /// Makes `branch` point at `sha`; refuses if the branch exists.
    pub async fn create_branch(
        &self,
        owner: &str,
        name: &str,
        branch: &str,
        sha: &str,
    ) -> anyhow::Result<()> {
        let target = format!("refs/heads/{branch}");
        run(
            &self.path(owner, name),
            &["update-ref", &target, sha, ZERO_SHA],
            None,
            &[],
        )
        .await?;
        Ok(())
    }

    /// The commit a branch points at, or `None` when there is no such branch.
    pub async fn branch_sha(
        &self,
        owner: &str,
        name: &str,
        branch: &str,
    ) -> anyhow::Result<Option<String>> {
        Ok(self.branches(owner, name).await?.remove(branch))
    }

    /// Every branch and its commit.
    pub async fn branches(
        &self,
        owner: &str,
        name: &str,
    ) -> anyhow::Result<BTreeMap<String, String>> {
        let repo = self.path(owner, name);
        Ok(gitread::blocking(move || {
            let repo = gitread::open(&repo)?;
            let what = || "branches".to_string();
            let platform = repo
                .references()
                .map_err(|e| gitread::ReadError::new(what(), e))?;
            let mut branches = BTreeMap::new();
            for reference in platform
                .prefixed(b"refs/heads/".as_bstr())
                .map_err(|e| gitread::ReadError::new(what(), e))?
            {
                let mut reference = reference.map_err(|e| gitread::ReadError::new(what(), e))?;
                let name = reference.name().as_bstr().to_str_lossy().into_owned();
                let Some(branch) = name.strip_prefix("refs/heads/") else {
                    continue;
                };
                let branch = branch.to_owned();
                let id = reference
                    .follow_to_object()
                    .map_err(|e| gitread::ReadError::new(format!("branch {branch}"), e))?;
                branches.insert(branch, id.to_string());
            }
            Ok(branches)
        })
        .await?)
    }

    /// Resolves a branch name, tag or commit id to a commit; `None` if it names nothing.
    pub async fn resolve(
        &self,
        owner: &str,
        name: &str,
        git_ref: &str,
    ) -> anyhow::Result<Option<String>> {
        if git_ref.starts_with('-') || git_ref.contains("..") {
            return Ok(None);
        }
        let (repo, git_ref) = (self.path(owner, name), git_ref.to_owned());
        Ok(gitread::blocking(move || {
            let repo = gitread::open(&repo)?;
            Ok(gitread::resolve_commit(&repo, &git_ref).map(|id| id.to_string()))
        })
        .await?)
    }

    /// What `path` is at `commit`: a file's bytes or a directory's entries; `None` if absent.
    pub async fn read_path(
        &self,
        owner: &str,
        name: &str,
        commit: &str,
        path: &str,
    ) -> anyhow::Result<Option<PathContent>> {
        let (repo, commit) = (self.path(owner, name), commit.to_owned());
        let path = path.trim_matches('/').to_owned();
        Ok(gitread::blocking(move || {
            let repo = gitread::open(&repo)?;
            let Some(commit) = gitread::resolve_commit(&repo, &commit) else {
                return Ok(None);
            };
            let tree = gitread::tree_of(&repo, commit)?;
            let (mode, oid) = if path.is_empty() {
                (gix::objs::tree::EntryKind::Tree.into(), tree)
            } else {
                match gitread::entry_at(&repo, tree, &path)? {
                    Some(found) => found,
                    None => return Ok(None),
                }
            };
            use gix::objs::tree::EntryKind;
            match mode.kind() {
                EntryKind::Tree => Ok(Some(PathContent::Dir(list_tree(&repo, oid)?))),
                EntryKind::Commit => Ok(None),
                EntryKind::Blob | EntryKind::BlobExecutable | EntryKind::Link => {
                    Ok(Some(PathContent::File {
                        sha: oid.to_string(),
                        bytes: gitread::blob(&repo, oid)?,
                    }))
                }
            }
        })
        .await?)
    }

    /// The commits reachable from `after` but not from `before` (or, for a new branch, from no
    /// other branch), oldest first, at most `limit` (the newest ones, as `git rev-list --reverse
    /// --max-count` picks them).
    pub async fn commits_between(
        &self,
        owner: &str,
        name: &str,
        before: &str,
        after: &str,
        limit: usize,
    ) -> anyhow::Result<Vec<CommitInfo>> {
        let repo = self.path(owner, name);
        let (before, after) = (before.to_owned(), after.to_owned());
        Ok(gitread::blocking(move || {
            let repo = gitread::open(&repo)?;
            let after = commit_id(&repo, &after)?;
            let before = (before != ZERO_SHA)
                .then(|| commit_id(&repo, &before))
                .transpose()?;
            let what = || format!("commits of {after}");
            let mut ids = Vec::new();
            for info in gitread::walk(&repo, after, before)
                .map_err(|e| gitread::ReadError::new(what(), e))?
                .take(limit)
            {
                ids.push(info.map_err(|e| gitread::ReadError::new(what(), e))?.id);
            }
            ids.reverse();
            ids.into_iter()
                .map(|id| read_commit_info(&repo, id))
                .collect()
        })
        .await?)
    }

    /// One commit's metadata and the paths it changed.
    pub async fn commit_info(
        &self,
        owner: &str,
        name: &str,
        sha: &str,
    ) -> anyhow::Result<CommitInfo> {
        let (repo, sha) = (self.path(owner, name), sha.to_owned());
        Ok(gitread::blocking(move || {
            let repo = gitread::open(&repo)?;
            let id = commit_id(&repo, &sha)?;
            read_commit_info(&repo, id)
        })
        .await?)
    }

    /// The best common ancestor of two commits.
    pub async fn merge_base(
        &self,
        owner: &str,
        name: &str,
        a: &str,
        b: &str,
    ) -> anyhow::Result<Option<String>> {
        let repo = self.path(owner, name);
        let (a, b) = (a.to_owned(), b.to_owned());
        Ok(gitread::blocking(move || {
            let repo = gitread::open(&repo)?;
            Ok(merge_base_of(&repo, &a, &b).map(|id| id.to_string()))
        })
        .await?)
    }

    /// Counts for a pull request: commits, added and deleted lines, changed files between the
    /// merge base and the head (what `git rev-list --count base..head` and `git diff --numstat
    /// base...head` count).
    pub async fn diff_stats(
        &self,
        owner: &str,
        name: &str,
        base: &str,
        head: &str,
    ) -> anyhow::Result<DiffStats> {
        let repo = self.path(owner, name);
        let (base, head) = (base.to_owned(), head.to_owned());
        Ok(gitread::blocking(move || {
            let repo = gitread::open(&repo)?;
            let (base, head) = (commit_id(&repo, &base)?, commit_id(&repo, &head)?);
            let what = || format!("commits of {head}");
            let mut stats = DiffStats::default();
            for info in gitread::walk(&repo, head, Some(base))
                .map_err(|e| gitread::ReadError::new(what(), e))?
            {
                info.map_err(|e| gitread::ReadError::new(what(), e))?;
                stats.commits += 1;
            }
            let merge_base = merge_base_of(&repo, &base.to_string(), &head.to_string())
                .ok_or_else(|| gitread::ReadError::new(what(), "no merge base"))?;
            let from = gitread::tree_of(&repo, merge_base)?;
            let to = gitread::tree_of(&repo, head)?;
            for change in diff::tree_changes(&repo, Some(from), to)? {
                for row in diff::diff_path(&repo, &change, |_, _| {})? {
                    let (added, deleted) = row.unwrap_or_default();
                    stats.additions += added as i64;
                    stats.deletions += deleted as i64;
                    stats.changed_files += 1;
                }
            }
            Ok(stats)
        })
        .await?)
    }

    /// Lands `head` on `base_branch` in the given style and moves the branch only if it still
    /// points where it did. Returns the commit the base branch now points at.
    pub async fn merge(
        &self,
        owner: &str,
        name: &str,
        plan: &MergePlan<'_>,
    ) -> Result<String, MergeFailure> {
        let MergePlan {
            base_branch,
            head,
            style,
            message,
            committer,
        } = *plan;
        let repo = self.path(owner, name);
        let base = self
            .branch_sha(owner, name, base_branch)
            .await?
            .ok_or_else(|| anyhow!("base branch {base_branch} does not exist"))?;
        let result = match style {
            MergeStyle::Merge => {
                let tree = merge_tree(&repo, None, &base, head).await?;
                commit_tree(
                    &repo,
                    &tree,
                    &[base.clone(), head.to_owned()],
                    message,
                    committer,
                    committer,
                )
                .await?
            }
            MergeStyle::Squash => {
                let tree = merge_tree(&repo, None, &base, head).await?;
                commit_tree(
                    &repo,
                    &tree,
                    std::slice::from_ref(&base),
                    message,
                    committer,
                    committer,
                )
                .await?
            }
            MergeStyle::Rebase => self.replay(&repo, &base, head, committer).await?,
        };
        let target = format!("refs/heads/{base_branch}");
        run(&repo, &["update-ref", &target, &result, &base], None, &[])
            .await
            .map_err(|_| MergeFailure::Raced)?;
        Ok(result)
    }

    async fn replay(
        &self,
        repo: &Path,
        base: &str,
        head: &str,
        committer: &Signature,
    ) -> Result<String, MergeFailure> {
        let (path, from, to) = (repo.to_path_buf(), base.to_owned(), head.to_owned());
        let list: Vec<String> = gitread::blocking(move || {
            let repo = gitread::open(&path)?;
            let (base, head) = (commit_id(&repo, &from)?, commit_id(&repo, &to)?);
            let what = || format!("commits of {head}");
            let mut ids = Vec::new();
            for info in gitread::walk(&repo, head, Some(base))
                .map_err(|e| gitread::ReadError::new(what(), e))?
            {
                let info = info.map_err(|e| gitread::ReadError::new(what(), e))?;
                if info.parent_ids.len() <= 1 {
                    ids.push(info.id.to_string());
                }
            }
            ids.reverse();
            Ok(ids)
        })
        .await
        .map_err(anyhow::Error::from)?;
        let mut onto = base.to_owned();
        for commit in &list {
            let commit = commit.as_str();
            let parent = format!("{commit}^");
            let tree = merge_tree(repo, Some(&parent), &onto, commit).await?;
            let (path, id) = (repo.to_path_buf(), commit.to_owned());
            let (author, message) = gitread::blocking(move || {
                let repo = gitread::open(&path)?;
                let id = commit_id(&repo, &id)?;
                let commit = read_commit(&repo, id)?;
                Ok((commit.author, commit.message))
            })
            .await
            .map_err(anyhow::Error::from)?;
            onto = commit_tree(
                repo,
                &tree,
                std::slice::from_ref(&onto),
                &message,
                &author,
                committer,
            )
            .await?;
        }
        Ok(onto)
    }
}

/// Line and file counts of a pull request.
#[derive(Clone, Copy, Debug, Default)]
pub struct DiffStats {
    /// Commits on the head not on the base.
    pub commits: i64,
    /// Lines added.
    pub additions: i64,
    /// Lines deleted.
    pub deletions: i64,
    /// Files changed.
    pub changed_files: i64,
}

/// A full commit id that names a commit in `repo`.
fn commit_id(repo: &gix::Repository, sha: &str) -> gitread::Result<ObjectId> {
    gitread::resolve_commit(repo, sha)
        .ok_or_else(|| gitread::ReadError::new(format!("commit {sha}"), "no such commit"))
}

/// The best merge base of two commits (`git merge-base a b`), if they have one.
fn merge_base_of(repo: &gix::Repository, a: &str, b: &str) -> Option<ObjectId> {
    let a = gitread::resolve_commit(repo, a)?;
    let b = gitread::resolve_commit(repo, b)?;
    repo.merge_base(a, b).ok().flatten().map(|id| id.detach())
}

/// A commit as stored: its tree, parents, who and when, and its message.
struct StoredCommit {
    tree: ObjectId,
    parents: Vec<ObjectId>,
    author: Signature,
    committer: Signature,
    /// The committer's time in RFC 3339 with the commit's own offset (`%cI`).
    committed: String,
    message: String,
}

fn read_commit(repo: &gix::Repository, id: ObjectId) -> gitread::Result<StoredCommit> {
    let what = || format!("commit {id}");
    let commit = repo
        .find_commit(id)
        .map_err(|e| gitread::ReadError::new(what(), e))?;
    let decoded = commit
        .decode()
        .map_err(|e| gitread::ReadError::new(what(), e))?;
    let signature = |s: gix::actor::SignatureRef<'_>| {
        let s = s.trim();
        Signature {
            name: s.name.to_str_lossy().into_owned(),
            email: s.email.to_str_lossy().into_owned(),
            at_ms: s.seconds() * 1000,
        }
    };
    let committer = decoded
        .committer()
        .map_err(|e| gitread::ReadError::new(what(), e))?;
    let time = committer
        .time()
        .map_err(|e| gitread::ReadError::new(what(), e))?;
    Ok(StoredCommit {
        tree: decoded.tree(),
        parents: decoded.parents().collect(),
        author: signature(
            decoded
                .author()
                .map_err(|e| gitread::ReadError::new(what(), e))?,
        ),
        committer: signature(committer),
        committed: super::time::rfc3339_with_offset(time.seconds, time.offset),
        message: decoded.message.to_str_lossy().into_owned(),
    })
}

/// [`GitStore::commit_info`]: the commit and the paths it changed against its one parent (or,
/// for a first commit, against nothing; a merge lists none, as `git diff-tree` without `-m`).
fn read_commit_info(repo: &gix::Repository, id: ObjectId) -> gitread::Result<CommitInfo> {
    let commit = read_commit(repo, id)?;
    let (mut added, mut removed, mut modified) = (Vec::new(), Vec::new(), Vec::new());
    let parent = match commit.parents[..] {
        [] => Some(None),
        [parent] => Some(Some(gitread::tree_of(repo, parent)?)),
        _ => None,
    };
    if let Some(parent) = parent {
        for change in diff::tree_changes(repo, parent, commit.tree)? {
            let path = change.path.to_str_lossy().into_owned();
            match (change.old, change.new) {
                (None, _) => added.push(path),
                (_, None) => removed.push(path),
                _ => modified.push(path),
            }
        }
    }
    Ok(CommitInfo {
        sha: id.to_string(),
        tree: commit.tree.to_string(),
        author_name: commit.author.name,
        author_email: commit.author.email,
        committer_name: commit.committer.name,
        committer_email: commit.committer.email,
        timestamp: commit.committed,
        message: commit.message.trim_end_matches('\n').to_owned() + "\n",
        added,
        removed,
        modified,
    })
}

/// A folder's entries as `git ls-tree -l` lists them (sizes of blobs only).
fn list_tree(repo: &gix::Repository, tree: ObjectId) -> gitread::Result<Vec<TreeEntry>> {
    let what = || format!("tree {tree}");
    let tree = repo
        .find_tree(tree)
        .map_err(|e| gitread::ReadError::new(what(), e))?;
    let decoded = tree
        .decode()
        .map_err(|e| gitread::ReadError::new(what(), e))?;
    let mut entries = Vec::with_capacity(decoded.entries.len());
    for entry in &decoded.entries {
        let oid = entry.oid.to_owned();
        let kind = if entry.mode.is_tree() {
            "tree"
        } else if entry.mode.is_commit() {
            "commit"
        } else {
            "blob"
        };
        let size = if kind == "blob" {
            gitread::blob_size(repo, oid)?
        } else {
            0
        };
        entries.push(TreeEntry {
            name: entry.filename.to_str_lossy().into_owned(),
            kind: kind.to_owned(),
            sha: oid.to_string(),
            size,
        });
    }
    Ok(entries)
}

async fn merge_tree(
    repo: &Path,
    merge_base: Option<&str>,
    ours: &str,
    theirs: &str,
) -> Result<String, MergeFailure> {
    let base_arg = merge_base.map(|b| format!("--merge-base={b}"));
    let mut args = vec!["merge-tree", "--write-tree", "--no-messages"];
    if let Some(arg) = &base_arg {
        args.push(arg);
    }
    args.extend([ours, theirs]);
    let output = command(repo, &args, &[])
        .output()
        .await
        .context("running git merge-tree")?;
    match output.status.code() {
        Some(0) => Ok(String::from_utf8_lossy(&output.stdout)
            .lines()
            .next()
            .unwrap_or_default()
            .to_owned()),
        Some(1) => Err(MergeFailure::Conflict),
        _ => Err(anyhow!(
            "git merge-tree failed: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        )
        .into()),
    }
}

async fn commit_tree(
    repo: &Path,
    tree: &str,
    parents: &[String],
    message: &str,
    author: &Signature,
    committer: &Signature,
) -> anyhow::Result<String> {
    let mut args = vec!["commit-tree".to_owned(), tree.to_owned()];
    for parent in parents {
        args.push("-p".to_owned());
        args.push(parent.clone());
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let author_date = format!("@{} +0000", author.at_ms / 1000);
    let committer_date = format!("@{} +0000", committer.at_ms / 1000);
    let env = [
        ("GIT_AUTHOR_NAME", author.name.as_str()),
        ("GIT_AUTHOR_EMAIL", author.email.as_str()),
        ("GIT_AUTHOR_DATE", author_date.as_str()),
        ("GIT_COMMITTER_NAME", committer.name.as_str()),
        ("GIT_COMMITTER_EMAIL", committer.email.as_str()),
        ("GIT_COMMITTER_DATE", committer_date.as_str()),
    ];
    Ok(run(repo, &args, Some(message.as_bytes()), &env)
        .await?
        .trim()
        .to_owned())
}

/// A git command that reads no system or user configuration, runs no hooks from outside the
/// repository, and never prompts.
pub fn command(repo: &Path, args: &[&str], env: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new("git");
    cmd.arg("-C")
        .arg(repo)
        .args(args)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_TERMINAL_PROMPT", "0")
        .env_remove("GIT_DIR")
        .env_remove("GIT_INDEX_FILE")
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    cmd
}

async fn run_bytes(
    repo: &Path,
    args: &[&str],
    stdin: Option<&[u8]>,
    env: &[(&str, &str)],
) -> anyhow::Result<Vec<u8>> {
    let mut cmd = command(repo, args, env);
    if stdin.is_some() {
        cmd.stdin(Stdio::piped());
    }
    let mut child = cmd
        .spawn()
        .with_context(|| format!("starting git {}", args.join(" ")))?;
    if let Some(bytes) = stdin {
        let mut pipe = child.stdin.take().context("git stdin")?;
        pipe.write_all(bytes).await.context("writing to git")?;
        drop(pipe);
    }
    let output = child.wait_with_output().await.context("waiting for git")?;
    if !output.status.success() {
        bail!(
            "git {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(output.stdout)
}

async fn run(
    repo: &Path,
    args: &[&str],
    stdin: Option<&[u8]>,
    env: &[(&str, &str)],
) -> anyhow::Result<String> {
    let bytes = run_bytes(repo, args, stdin, env).await?;
    String::from_utf8(bytes).context("git printed something that is not UTF-8")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sig() -> Signature {
        Signature {
            name: "Sim".into(),
            email: "sim@example.com".into(),
            at_ms: 1_700_000_000_000,
        }
    }

    fn temp_dir() -> PathBuf {
        let dir = std::env::temp_dir().join(format!("ade-sim-git-{:016x}", fastrand::u64(..)));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[tokio::test]
    async fn commits_read_back_and_merge() {
        let dir = temp_dir();
        let git = GitStore::new(dir.clone());
        git.init("o", "r", "main").await.unwrap();
        let files = vec![("README.md".to_owned(), Some(b"hello\n".to_vec()))];
        let first = git
            .commit("o", "r", "main", &files, "first", &sig())
            .await
            .unwrap();
        assert_eq!(
            git.branch_sha("o", "r", "main").await.unwrap(),
            Some(first.clone())
        );
        git.create_branch("o", "r", "topic", &first).await.unwrap();
        let change = vec![("src/lib.rs".to_owned(), Some(b"pub fn f() {}\n".to_vec()))];
        let topic = git
            .commit("o", "r", "topic", &change, "add lib", &sig())
            .await
            .unwrap();
        let Some(PathContent::File { bytes, .. }) =
            git.read_path("o", "r", &topic, "src/lib.rs").await.unwrap()
        else {
            panic!("file expected");
        };
        assert_eq!(bytes, b"pub fn f() {}\n");
        assert!(
            git.read_path("o", "r", &first, "src/lib.rs")
                .await
                .unwrap()
                .is_none()
        );
        let info = git.commit_info("o", "r", &topic).await.unwrap();
        assert_eq!(info.added, vec!["src/lib.rs".to_owned()]);
        let merged = git
            .merge(
                "o",
                "r",
                &MergePlan {
                    base_branch: "main",
                    head: &topic,
                    style: MergeStyle::Squash,
                    message: "squash",
                    committer: &sig(),
                },
            )
            .await
            .unwrap();
        assert_eq!(
            git.branch_sha("o", "r", "main").await.unwrap(),
            Some(merged.clone())
        );
        assert!(
            git.read_path("o", "r", &merged, "src/lib.rs")
                .await
                .unwrap()
                .is_some()
        );
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[tokio::test]
    async fn a_commit_deletes_files() {
        let dir = temp_dir();
        let git = GitStore::new(dir.clone());
        git.init("o", "r", "main").await.unwrap();
        let files = vec![
            ("notes/a.md".to_owned(), Some(b"a\n".to_vec())),
            ("b.md".to_owned(), Some(b"b\n".to_vec())),
        ];
        git.commit("o", "r", "main", &files, "first", &sig())
            .await
            .unwrap();
        let deleted = vec![("notes/a.md".to_owned(), None)];
        let second = git
            .commit("o", "r", "main", &deleted, "delete a", &sig())
            .await
            .unwrap();
        let read = |path: &'static str| git.read_path("o", "r", &second, path);
        assert!(read("notes/a.md").await.unwrap().is_none());
        assert!(read("b.md").await.unwrap().is_some());
        std::fs::remove_dir_all(dir).unwrap();
    }
}
