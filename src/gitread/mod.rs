//! Reading git in-process with gix: refs, commits, trees, blobs and line diffs, for the places
//! where ade used to start a git process only to read (what a run changed, its commit messages,
//! a file at a commit, the simulator's API answers). Everything that writes or touches a worktree
//! stays on the git CLI (`runner::git::Git`); docs/architecture.md ("Reading git: gix and the
//! CLI") says which path uses which and why.
//!
//! A repository is opened isolated: no system, global or user configuration, no environment
//! variables, no `include.path`, and replace refs off, so neither the agent nor the machine can
//! swap what an object id names. Blobs are read as stored: no attributes are read, so no filter,
//! textconv or diff driver ever runs (gix would not run them for these reads anyway).
//!
//! gix's repository handle is not `Sync`, and reads may take a while on big changes, so callers
//! in async code open and read inside `spawn_blocking` ([`blocking`]).

pub mod diff;

use std::path::Path;

pub use gix::ObjectId;
use gix::bstr::ByteSlice;
use gix::objs::FindExt;

/// Why a read failed: what was being read, and gix's reason.
#[derive(Debug, thiserror::Error)]
#[error("{what}: {why}")]
pub struct ReadError {
    /// What was being read (`commit 1a2b…`, `tree of …`).
    pub what: String,
    /// Why it failed.
    pub why: String,
}

impl ReadError {
    /// An error reading `what` for reason `why`.
    pub fn new(what: impl Into<String>, why: impl std::fmt::Display) -> ReadError {
        ReadError {
            what: what.into(),
            why: format!("{why:#}"),
        }
    }
}

/// The result of a read.
pub type Result<T> = std::result::Result<T, ReadError>;

/// Opens the repository whose git folder is `git_dir` (a bare repository, or a linked worktree's
/// admin folder), isolated as the module documentation says.
pub fn open(git_dir: &Path) -> Result<gix::Repository> {
    let options = gix::open::Options::isolated()
        .open_path_as_is(true)
        .strict_config(false)
        .cli_overrides(["core.useReplaceRefs=false"]);
    let repo = gix::open_opts(git_dir, options)
        .map_err(|e| ReadError::new(format!("opening {}", git_dir.display()), e))?;
    Ok(repo)
}

/// Runs `read` on a blocking thread: gix reads are synchronous and may be long.
pub async fn blocking<T, F>(read: F) -> Result<T>
where
    F: FnOnce() -> Result<T> + Send + 'static,
    T: Send + 'static,
{
    tokio::task::spawn_blocking(read)
        .await
        .map_err(|e| ReadError::new("reading git", e))?
}

/// Parses a full hexadecimal object id.
pub fn object_id(hex: &str) -> Result<ObjectId> {
    ObjectId::from_hex(hex.as_bytes()).map_err(|e| ReadError::new(format!("object id {hex}"), e))
}

/// What `spec` names, peeled to a commit, as `git rev-parse --verify <spec>^{commit}` would
/// answer; `None` when it names nothing or nothing that peels to a commit.
pub fn resolve_commit(repo: &gix::Repository, spec: &str) -> Option<ObjectId> {
    let spec = format!("{spec}^{{commit}}");
    repo.rev_parse_single(spec.as_bytes().as_bstr())
        .ok()
        .map(|id| id.detach())
}

/// The commit `id` names, or `None` when the object is missing or not a commit (`git cat-file -e
/// <id>^{commit}` for a full id).
pub fn has_commit(repo: &gix::Repository, id: ObjectId) -> bool {
    matches!(
        repo.try_find_header(id),
        Ok(Some(header)) if header.kind() == gix::object::Kind::Commit
    )
}

/// The tree of commit `commit`.
pub fn tree_of(repo: &gix::Repository, commit: ObjectId) -> Result<ObjectId> {
    let what = || format!("tree of commit {commit}");
    let commit = repo
        .find_commit(commit)
        .map_err(|e| ReadError::new(what(), e))?;
    Ok(commit
        .tree_id()
        .map_err(|e| ReadError::new(what(), e))?
        .detach())
}

/// The raw messages of the commits reachable from `head` but not from `hide` (`git log
/// --format=%B hide..head`), newest first as `git log` lists them (by commit time), at most
/// `limit`. A message is taken as stored: an `encoding` header is not acted on.
pub fn messages(
    repo: &gix::Repository,
    head: ObjectId,
    hide: Option<ObjectId>,
    limit: usize,
) -> Result<Vec<Vec<u8>>> {
    let what = || format!("commits of {head}");
    let mut out = Vec::new();
    for info in walk(repo, head, hide).map_err(|e| ReadError::new(what(), e))? {
        if out.len() >= limit {
            break;
        }
        let info = info.map_err(|e| ReadError::new(what(), e))?;
        let commit = repo
            .find_commit(info.id)
            .map_err(|e| ReadError::new(what(), e))?;
        let message = commit
            .message_raw()
            .map_err(|e| ReadError::new(format!("commit {}", info.id), e))?;
        out.push(message.to_vec());
    }
    Ok(out)
}

/// The commits reachable from `head` and not from `hide`, newest first by commit time: the order
/// of `git rev-list` and `git log` without ordering options.
pub fn walk(
    repo: &gix::Repository,
    head: ObjectId,
    hide: Option<ObjectId>,
) -> std::result::Result<gix::revision::Walk<'_>, gix::Error> {
    repo.rev_walk([head])
        .sorting(gix::revision::walk::Sorting::ByCommitTime(
            gix::traverse::commit::simple::CommitTimeOrder::NewestFirst,
        ))
        .with_hidden(hide)
        .all()
}

/// The entry at `path` (components separated by `/`) in tree `tree`, looked up folder by folder:
/// `None` when a component is missing or is not a folder (a symlink or a submodule on the way is
/// never followed or entered), as `git ls-tree <tree> -- <path>` finds it.
pub fn entry_at(
    repo: &gix::Repository,
    tree: ObjectId,
    path: &str,
) -> Result<Option<(gix::objs::tree::EntryMode, ObjectId)>> {
    let mut current = tree;
    let mut components = path.split('/').filter(|c| !c.is_empty()).peekable();
    let mut buf = Vec::new();
    while let Some(component) = components.next() {
        let found = {
            let iter = repo
                .objects
                .find_tree_iter(&current, &mut buf)
                .map_err(|e| ReadError::new(format!("tree {current}"), e))?;
            let mut found = None;
            for entry in iter {
                let entry = entry.map_err(|e| ReadError::new(format!("tree {current}"), e))?;
                if entry.filename == component.as_bytes() {
                    found = Some((entry.mode, entry.oid.to_owned()));
                    break;
                }
            }
            found
        };
        let Some((mode, oid)) = found else {
            return Ok(None);
        };
        if components.peek().is_none() {
            return Ok(Some((mode, oid)));
        }
        if !mode.is_tree() {
            return Ok(None);
        }
        current = oid;
    }
    Ok(None)
}

/// A blob's size without reading it.
pub fn blob_size(repo: &gix::Repository, id: ObjectId) -> Result<u64> {
    let header = repo
        .find_header(id)
        .map_err(|e| ReadError::new(format!("blob {id}"), e))?;
    Ok(header.size())
}

/// A blob's bytes.
pub fn blob(repo: &gix::Repository, id: ObjectId) -> Result<Vec<u8>> {
    let mut blob = repo
        .find_blob(id)
        .map_err(|e| ReadError::new(format!("blob {id}"), e))?;
    Ok(blob.take_data())
}
