//! Who owns a worktree's files. A runner running as root runs some agents as an unprivileged user
//! (Claude Code refuses its bypass mode as root), so the worktree is handed to that user for the
//! agent's life and taken back before ade's own git commands. Only the worktree folder changes
//! hands: its admin folder stays ade's, because it names the repository ade's git commands read
//! (`commondir`), so an agent running as another user cannot commit itself; ade commits for it.
//! Links are never followed (`lchown`), so a symlink to `/etc` changes nothing outside.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

/// Changes the owner of `root` and everything under it, never following a symlink. With
/// `only_from`, entries owned by anyone else are left alone: a file an agent hard-linked in from
/// elsewhere keeps its owner. Set-user-ID and set-group-ID bits are removed from what changes
/// hands. Returns how many entries changed.
pub(crate) fn chown_tree(
    root: &Path,
    uid: u32,
    gid: u32,
    only_from: Option<u32>,
) -> std::io::Result<usize> {
    let mut changed = 0;
    let mut pending = vec![root.to_path_buf()];
    while let Some(path) = pending.pop() {
        let meta = match std::fs::symlink_metadata(&path) {
            Ok(meta) => meta,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        if meta.is_dir() {
            for entry in std::fs::read_dir(&path)? {
                pending.push(entry?.path());
            }
        }
        if only_from.is_some_and(|from| meta.uid() != from) {
            continue;
        }
        if meta.uid() != uid || meta.gid() != gid {
            std::os::unix::fs::lchown(&path, Some(uid), Some(gid))?;
            changed += 1;
        }
        let mode = meta.mode();
        if meta.is_file() && mode & 0o6000 != 0 {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode & 0o1777))?;
        }
    }
    Ok(changed)
}

/// Gives the owner read, write and search permission on every folder under `root` (links are
/// not followed), so `git clean` and deletion can remove what a run left in folders it made
/// read-only. Only matters when ade is not root; root ignores folder permissions.
pub(super) fn make_removable(root: &Path) -> std::io::Result<()> {
    let mut pending = vec![root.to_path_buf()];
    while let Some(path) = pending.pop() {
        let meta = match std::fs::symlink_metadata(&path) {
            Ok(meta) => meta,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        if !meta.is_dir() {
            continue;
        }
        if meta.mode() & 0o700 != 0o700 {
            let mode = (meta.mode() | 0o700) & 0o7777;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode))?;
        }
        for entry in std::fs::read_dir(&path)? {
            pending.push(entry?.path());
        }
    }
    Ok(())
}

/// What [`hand_to`] changed, to undo it.
#[derive(Clone, Copy, Debug)]
struct Handed {
    /// The agent's user.
    agent_uid: u32,
    /// Who owned the worktree before (ade).
    uid: u32,
    gid: u32,
}

fn ownership_error(path: &Path) -> impl FnOnce(std::io::Error) -> super::WorkspaceError {
    super::io_error("change the owner of", path)
}

/// Gives the worktree at `path` to `uid:gid`.
async fn hand_to(path: &Path, uid: u32, gid: u32) -> super::Result<Handed> {
    let meta = std::fs::symlink_metadata(path).map_err(ownership_error(path))?;
    let handed = Handed {
        agent_uid: uid,
        uid: meta.uid(),
        gid: meta.gid(),
    };
    let owned = path.to_path_buf();
    tokio::task::spawn_blocking(move || chown_tree(&owned, uid, gid, None))
        .await
        .map_err(|e| ownership_error(path)(std::io::Error::other(e)))?
        .map_err(ownership_error(path))?;
    Ok(handed)
}

/// Gives the worktree at `path` back to whoever owned it before [`hand_to`].
async fn take_back(path: &Path, handed: Handed) -> super::Result<()> {
    let owned = path.to_path_buf();
    tokio::task::spawn_blocking(move || take_back_now(&owned, handed))
        .await
        .map_err(|e| ownership_error(path)(std::io::Error::other(e)))?
        .map_err(ownership_error(path))
}

/// [`take_back`] on the calling thread (for a lease dropped while handed out).
fn take_back_now(path: &Path, handed: Handed) -> std::io::Result<()> {
    chown_tree(path, handed.uid, handed.gid, Some(handed.agent_uid)).map(drop)
}

/// A worktree held by a lease, and whether its files are with an agent's user: what the pool's
/// leases and the main checkout's lease share.
pub(super) struct Holding {
    slot: Option<super::Slot>,
    handed: Option<Handed>,
}

impl Holding {
    pub(super) fn new(slot: super::Slot) -> Holding {
        Holding {
            slot: Some(slot),
            handed: None,
        }
    }

    pub(super) fn slot(&self) -> &super::Slot {
        self.slot
            .as_ref()
            .expect("a lease holds its slot until dropped")
    }

    pub(super) async fn hand_to(&mut self, uid: u32, gid: u32) -> super::Result<()> {
        let path = self.slot().path.clone();
        self.handed = Some(hand_to(&path, uid, gid).await?);
        Ok(())
    }

    pub(super) async fn take_back(&mut self) -> super::Result<()> {
        if let Some(handed) = self.handed.take() {
            take_back(&self.slot().path, handed).await?;
        }
        Ok(())
    }

    /// Gives up the slot, taking its files back first if an agent's user still has them; `Err`
    /// holds a slot that could not be taken back (retire it). `None` once given up.
    pub(super) fn give_up(&mut self) -> Option<Result<super::Slot, super::Slot>> {
        let slot = self.slot.take()?;
        if let Some(handed) = self.handed.take()
            && let Err(e) = take_back_now(&slot.path, handed)
        {
            tracing::warn!(worktree = %slot.path.display(), error = %e,
                "cannot take back a worktree an agent held; retiring it");
            return Some(Err(slot));
        }
        Some(Ok(slot))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tree_owned_by_us_is_unchanged_and_setuid_bits_go() {
        let dir = std::env::temp_dir().join(format!("ade-owner-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("a/b")).unwrap();
        let file = dir.join("a/b/tool");
        std::fs::write(&file, "x").unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o4755)).unwrap();
        std::os::unix::fs::symlink("/etc", dir.join("a/etc")).unwrap();
        let meta = std::fs::metadata(&dir).unwrap();
        let changed = chown_tree(&dir, meta.uid(), meta.gid(), None).unwrap();
        assert_eq!(changed, 0);
        let mode = std::fs::metadata(&file).unwrap().mode();
        assert_eq!(mode & 0o7777, 0o755);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn read_only_folders_become_removable_and_links_are_not_followed() {
        let dir = std::env::temp_dir().join(format!("ade-removable-{}", std::process::id()));
        let outside = dir.with_extension("outside");
        let _ = std::fs::remove_dir_all(&dir);
        let _ = std::fs::remove_dir_all(&outside);
        std::fs::create_dir_all(dir.join("a/b")).unwrap();
        std::fs::create_dir_all(&outside).unwrap();
        std::fs::set_permissions(&outside, std::fs::Permissions::from_mode(0o555)).unwrap();
        std::os::unix::fs::symlink(&outside, dir.join("a/link")).unwrap();
        std::fs::set_permissions(dir.join("a/b"), std::fs::Permissions::from_mode(0o500)).unwrap();
        std::fs::set_permissions(dir.join("a"), std::fs::Permissions::from_mode(0o000)).unwrap();
        make_removable(&dir).unwrap();
        let mode = |p: &Path| std::fs::symlink_metadata(p).unwrap().mode() & 0o777;
        assert_eq!(mode(&dir.join("a")), 0o700);
        assert_eq!(mode(&dir.join("a/b")), 0o700);
        assert_eq!(mode(&outside), 0o555, "the link's target is untouched");
        std::fs::remove_dir_all(&dir).unwrap();
        std::fs::remove_dir_all(&outside).unwrap();
    }
}
