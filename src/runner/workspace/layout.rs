//! git's worktree metadata, checked from both ends. A linked worktree is a folder whose `.git` file
//! names an admin folder `<git_dir>/worktrees/<id>`, whose `gitdir` file names the folder back.
//! The `.git` file lives in the worktree, where an agent can rewrite it, so ade finds a worktree's
//! admin folder from the admin side (`gitdir`) and writes the `.git` file, never the reverse:
//! `git worktree repair <path>` would follow an agent-written `.git` file and could re-point a
//! sibling worktree's admin folder at this one.

use std::path::{Path, PathBuf};

use crate::runner::git::{Git, GitError};

/// Files git leaves in an admin folder when a command dies; stale once the worktree is ours.
const GIT_LOCKS: [&str; 3] = ["index.lock", "HEAD.lock", "locked"];

/// Every admin folder of the repository, with the `.git` path its `gitdir` file names (None when
/// the file is missing or unreadable).
pub(super) fn admin_dirs(git_dir: &Path) -> std::io::Result<Vec<(PathBuf, Option<PathBuf>)>> {
    let dir = git_dir.join("worktrees");
    let entries = match std::fs::read_dir(&dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut found = Vec::new();
    for entry in entries {
        let admin = entry?.path();
        if !admin.is_dir() {
            continue;
        }
        let gitdir = std::fs::read_to_string(admin.join("gitdir"))
            .ok()
            .map(|text| PathBuf::from(text.trim_end_matches('\n')));
        found.push((admin, gitdir));
    }
    Ok(found)
}

/// The admin folder whose `gitdir` names `<path>/.git`; None when there is none or more than one.
pub(super) fn find_admin(git_dir: &Path, path: &Path) -> std::io::Result<Option<PathBuf>> {
    let dotgit = path.join(".git");
    let mut matching = admin_dirs(git_dir)?
        .into_iter()
        .filter(|(_, gitdir)| gitdir.as_deref() == Some(dotgit.as_path()))
        .map(|(admin, _)| admin);
    let first = matching.next();
    Ok(if matching.next().is_some() {
        None
    } else {
        first
    })
}

/// How a worktree and its admin folder fail [`verify`]: the reason the pool repairs the worktree
/// or gives it up.
#[derive(Debug, thiserror::Error)]
pub(super) enum Mismatch {
    /// The worktree's folder cannot be read.
    #[error("folder: {0}")]
    Folder(#[source] std::io::Error),
    /// The worktree's path is a file or a link.
    #[error("the worktree path is not a folder")]
    NotAFolder,
    /// The admin folder's `gitdir` file cannot be read.
    #[error("admin folder {}: gitdir: {source}", admin.display())]
    Gitdir {
        /// The admin folder.
        admin: PathBuf,
        /// The operating system's reason.
        source: std::io::Error,
    },
    /// The admin folder names another worktree.
    #[error("admin folder {} points at {target}", admin.display())]
    PointsElsewhere {
        /// The admin folder.
        admin: PathBuf,
        /// What its `gitdir` names.
        target: String,
    },
    /// The worktree's `.git` file cannot be read.
    #[error(".git: {0}")]
    DotGit(#[source] std::io::Error),
    /// `.git` is a folder, a link or too big to be git's pointer file.
    #[error(".git is not a small regular file")]
    DotGitNotAFile,
    /// `.git` names another admin folder.
    #[error(".git does not name the admin folder")]
    DotGitElsewhere,
    /// git could not read HEAD.
    #[error("HEAD: {0}")]
    Head(#[source] GitError),
    /// HEAD is not a commit id.
    #[error("HEAD reads as {0:?}")]
    HeadNotACommit(String),
}

/// Checks that `path` and `admin` name each other and that HEAD reads as a commit; returns HEAD.
pub(super) async fn verify(git: &Git, admin: &Path, path: &Path) -> Result<String, Mismatch> {
    let meta = std::fs::symlink_metadata(path).map_err(Mismatch::Folder)?;
    if !meta.is_dir() {
        return Err(Mismatch::NotAFolder);
    }
    let gitdir =
        std::fs::read_to_string(admin.join("gitdir")).map_err(|source| Mismatch::Gitdir {
            admin: admin.to_path_buf(),
            source,
        })?;
    if Path::new(gitdir.trim_end_matches('\n')) != path.join(".git") {
        return Err(Mismatch::PointsElsewhere {
            admin: admin.to_path_buf(),
            target: gitdir.trim_end().to_owned(),
        });
    }
    let dotgit = path.join(".git");
    let meta = std::fs::symlink_metadata(&dotgit).map_err(Mismatch::DotGit)?;
    if !meta.is_file() || meta.len() > 4096 {
        return Err(Mismatch::DotGitNotAFile);
    }
    let text = std::fs::read(&dotgit).map_err(Mismatch::DotGit)?;
    if text != dotgit_contents(admin).as_bytes() {
        return Err(Mismatch::DotGitElsewhere);
    }
    let head = git
        .in_repo(admin)
        .args(["rev-parse", "--verify", "--quiet", "HEAD^{commit}"])
        .run_text()
        .await
        .map_err(Mismatch::Head)?;
    if !super::is_commit_id(&head) {
        return Err(Mismatch::HeadNotACommit(head));
    }
    Ok(head)
}

/// What git writes into a linked worktree's `.git` file.
fn dotgit_contents(admin: &Path) -> String {
    format!("gitdir: {}\n", admin.display())
}

/// Repairs the links between `path` and `admin` from ade's own record of which belongs to which
/// (what `git worktree repair` does, without reading the agent-writable `.git` file), and removes
/// lock files a killed git left in the admin folder. `drop_index` also removes the index, which
/// `reset --hard` then rebuilds from HEAD (for an index git cannot read).
pub(super) fn relink(admin: &Path, path: &Path, drop_index: bool) -> std::io::Result<()> {
    if !admin.is_dir() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::NotFound,
            format!("admin folder {} is gone", admin.display()),
        ));
    }
    for name in GIT_LOCKS
        .iter()
        .copied()
        .chain(drop_index.then_some("index"))
    {
        match std::fs::remove_file(admin.join(name)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
    }
    let dotgit = path.join(".git");
    std::fs::write(admin.join("gitdir"), format!("{}\n", dotgit.display()))?;
    match std::fs::symlink_metadata(&dotgit) {
        Ok(meta) if meta.is_dir() => std::fs::remove_dir_all(&dotgit)?,
        Ok(_) => std::fs::remove_file(&dotgit)?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    // create_new: if something appeared in between, fail rather than write through it.
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&dotgit)?;
    std::io::Write::write_all(&mut file, dotgit_contents(admin).as_bytes())
}

/// Removes the "initializing" lock a crashed `git worktree add` leaves in admin folders that point
/// into `root`, so `git worktree prune` can collect them (ade never locks worktrees itself).
pub(super) fn unlock_admin_dirs_under(git_dir: &Path, root: &Path) -> std::io::Result<()> {
    for (admin, gitdir) in admin_dirs(git_dir)? {
        let ours = gitdir.as_deref().is_none_or(|g| g.starts_with(root));
        if ours && !gitdir.as_deref().is_some_and(Path::exists) {
            match std::fs::remove_file(admin.join("locked")) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
                _ => {}
            }
        }
    }
    Ok(())
}
