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
        let Some(meta) = entry(&path)? else {
            continue;
        };
        if meta.is_dir() {
            for entry in std::fs::read_dir(&path)? {
                pending.push(entry?.path());
            }
        }
        if only_from.is_some_and(|from| meta.uid() != from) {
            continue;
        }
        changed += usize::from(chown_entry(&path, &meta, uid, gid)?);
    }
    Ok(changed)
}

/// An entry's own metadata (a link's, never its target's); `None` when it is gone, as entries of
/// a tree being walked may be.
fn entry(path: &Path) -> std::io::Result<Option<std::fs::Metadata>> {
    match std::fs::symlink_metadata(path) {
        Ok(meta) => Ok(Some(meta)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// Changes the owner of one entry (a link itself, never its target) and removes set-user-ID and
/// set-group-ID bits from a file. Returns whether the owner changed.
fn chown_entry(path: &Path, meta: &std::fs::Metadata, uid: u32, gid: u32) -> std::io::Result<bool> {
    let changed = meta.uid() != uid || meta.gid() != gid;
    if changed {
        std::os::unix::fs::lchown(path, Some(uid), Some(gid))?;
    }
    let mode = meta.mode();
    if meta.is_file() && mode & 0o6000 != 0 {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode & 0o1777))?;
    }
    Ok(changed)
}

/// Gives `uid:gid` the entries at `changed` (paths relative to `root`, as `git diff --name-only`
/// lists them) and the folders leading to them, after a checkout as ade rewrote them in a
/// worktree already handed ahead. A path with anything but plain names in it, or under something
/// that is not a real folder, is refused: nothing here follows a link.
pub(super) fn chown_changed(
    root: &Path,
    changed: &[&str],
    uid: u32,
    gid: u32,
) -> std::io::Result<usize> {
    use std::path::Component;
    // Every entry seen, and whether it is a real folder: a path goes on below an entry only if it
    // is, however many paths pass through it.
    let mut seen: std::collections::HashMap<std::path::PathBuf, bool> =
        std::collections::HashMap::new();
    let mut count = 0;
    for relative in changed {
        let relative = Path::new(relative);
        if !relative
            .components()
            .all(|c| matches!(c, Component::Normal(_)))
        {
            return Err(std::io::Error::other(format!(
                "not a plain path: {}",
                relative.display()
            )));
        }
        let mut at = root.to_path_buf();
        for component in relative.components() {
            at.push(component);
            if let Some(&folder) = seen.get(&at) {
                if folder {
                    continue;
                }
                break;
            }
            let Some(meta) = entry(&at)? else {
                // Deleted by the checkout, with whatever was under it.
                seen.insert(at.clone(), false);
                break;
            };
            seen.insert(at.clone(), meta.is_dir());
            count += usize::from(chown_entry(&at, &meta, uid, gid)?);
            if !meta.is_dir() {
                break;
            }
        }
    }
    Ok(count)
}

/// Gives the owner read, write and search permission on every folder under `root` (links are
/// not followed), so `git clean` and deletion can remove what a run left in folders it made
/// read-only. Only matters when ade is not root; root ignores folder permissions.
pub(super) fn make_removable(root: &Path) -> std::io::Result<()> {
    let mut pending = vec![root.to_path_buf()];
    while let Some(path) = pending.pop() {
        let Some(meta) = entry(&path)? else {
            continue;
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
/// `ahead` says the worktree's files are with `uid:gid` already (handed in the background), and
/// only the record is made. Taking back returns them to ade's own user, who made the worktree.
async fn hand_to(path: &Path, uid: u32, gid: u32, ahead: bool) -> super::Result<Handed> {
    // SAFETY: geteuid and getegid only read the process's credentials.
    let (ade_uid, ade_gid) = unsafe { (libc::geteuid(), libc::getegid()) };
    let handed = Handed {
        agent_uid: uid,
        uid: ade_uid,
        gid: ade_gid,
    };
    if ahead {
        // Everything below is the agent user's already; the folder itself was kept from it.
        std::os::unix::fs::lchown(path, Some(uid), Some(gid)).map_err(ownership_error(path))?;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))
            .map_err(ownership_error(path))?;
    } else {
        hand_tree(path, uid, gid).await?;
    }
    Ok(handed)
}

/// Gives everything below the free worktree at `path` to `uid:gid` ahead of its next run, but
/// keeps the folder itself ade's and closed (0700): until a run is handed it, no process of the
/// agent user (one a run left behind, say) can reach in by its path.
pub(super) async fn hand_ahead(path: &Path, uid: u32, gid: u32) -> super::Result<()> {
    hand_tree(path, uid, gid).await?;
    // SAFETY: geteuid and getegid only read the process's credentials.
    let (ade_uid, ade_gid) = unsafe { (libc::geteuid(), libc::getegid()) };
    std::os::unix::fs::lchown(path, Some(ade_uid), Some(ade_gid)).map_err(ownership_error(path))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o700))
        .map_err(ownership_error(path))
}

/// Gives every entry of the worktree at `path` to `uid:gid`, off the async threads.
pub(super) async fn hand_tree(path: &Path, uid: u32, gid: u32) -> super::Result<()> {
    let owned = path.to_path_buf();
    tokio::task::spawn_blocking(move || chown_tree(&owned, uid, gid, None))
        .await
        .map_err(|e| ownership_error(path)(std::io::Error::other(e)))?
        .map_err(ownership_error(path))?;
    Ok(())
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
/// leases and the main checkout's lease share, and what each of them derefs to.
pub struct Holding {
    slot: Option<super::Slot>,
    handed: Option<Handed>,
    /// The files are the agent user's, but the top folder is ade's and closed (see
    /// [`Holding::seal`]).
    sealed: bool,
}

impl Holding {
    pub(super) fn new(slot: super::Slot) -> Holding {
        Holding {
            slot: Some(slot),
            handed: None,
            sealed: false,
        }
    }

    pub(super) fn slot(&self) -> &super::Slot {
        self.slot
            .as_ref()
            .expect("a lease holds its slot until dropped")
    }

    /// The worktree folder, where the agent works.
    pub fn path(&self) -> &Path {
        &self.slot().path
    }

    /// The worktree's admin folder in the mirror. ade's git commands pass it explicitly
    /// (`Git::in_worktree(lease.git_dir(), lease.path())`) and never read the `.git` file.
    pub fn git_dir(&self) -> &Path {
        &self.slot().admin
    }

    /// Gives the worktree's files to `uid:gid` (never following symlinks) so an agent running as
    /// that user can write them. Call [`Holding::take_back`] before ade's git commands.
    pub async fn hand_to(&mut self, uid: u32, gid: u32) -> super::Result<()> {
        if self.sealed
            && let Some(handed) = self.handed
            && handed.agent_uid == uid
        {
            // Sealed after the agent: the files are the user's still; open the folder again.
            let path = self.slot().path.clone();
            std::os::unix::fs::lchown(&path, Some(uid), Some(gid))
                .map_err(ownership_error(&path))?;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))
                .map_err(ownership_error(&path))?;
            self.sealed = false;
            return Ok(());
        }
        let slot = self.slot();
        let ahead = slot.handed_ahead == Some((uid, gid));
        let path = slot.path.clone();
        self.handed = Some(hand_to(&path, uid, gid, ahead).await?);
        Ok(())
    }

    /// Closes the worktree to the agent's user without taking its files back: the top folder is
    /// ade's again with mode 0700, so no process of that user can reach in by its path (the
    /// run's processes are stopped before), while the files stay the user's. ade's git works on
    /// them as they are (it runs with `safe.directory=*` and trusts nothing in the worktree), their
    /// stat data unchanged, so a commit reads only what the agent changed; handing the worktree to
    /// the same user again (for verification) is O(1), and a released sealed worktree is cleaned
    /// and handed ahead in the background instead of walked on the run's path.
    pub(super) async fn seal(&mut self) -> super::Result<()> {
        let Some(handed) = self.handed else {
            return Ok(());
        };
        if self.sealed {
            return Ok(());
        }
        let path = self.slot().path.clone();
        std::os::unix::fs::lchown(&path, Some(handed.uid), Some(handed.gid))
            .map_err(ownership_error(&path))?;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o700))
            .map_err(ownership_error(&path))?;
        self.sealed = true;
        Ok(())
    }

    /// Gives back to ade what [`Holding::hand_to`] gave the agent's user, including what the
    /// agent created; files the agent did not own (hard links to others' files) stay as they
    /// are.
    pub async fn take_back(&mut self) -> super::Result<()> {
        self.sealed = false;
        if let Some(handed) = self.handed.take() {
            take_back(&self.slot().path, handed).await?;
        }
        if let Some(slot) = self.slot.as_mut() {
            slot.handed_ahead = None;
        }
        Ok(())
    }

    /// Gives up the slot, taking its files back first if an agent's user still has them, unless
    /// the worktree is sealed and `keep_for` is that user (the pool hands free worktrees to it
    /// anyway, after cleaning them); `Err` holds a slot that could not be taken back (retire it).
    /// `None` once given up.
    pub(super) fn give_up(
        &mut self,
        keep_for: Option<u32>,
    ) -> Option<Result<super::Slot, super::Slot>> {
        let mut slot = self.slot.take()?;
        slot.handed_ahead = None;
        let sealed = std::mem::take(&mut self.sealed);
        if let Some(handed) = self.handed.take()
            && !(sealed && keep_for == Some(handed.agent_uid))
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
    fn changed_paths_must_be_plain_and_never_lead_through_a_link() {
        let dir = std::env::temp_dir().join(format!("ade-changed-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("real")).unwrap();
        std::fs::write(dir.join("real/file"), "x").unwrap();
        std::os::unix::fs::symlink("/etc", dir.join("link")).unwrap();
        let meta = std::fs::metadata(&dir).unwrap();
        let (uid, gid) = (meta.uid(), meta.gid());
        for hostile in ["../outside", "/etc/passwd", "real/../../x", "./real"] {
            assert!(
                chown_changed(&dir, &[hostile], uid, gid).is_err(),
                "{hostile} is refused"
            );
        }
        // Through a link: the link itself is an entry, nothing beyond it is touched, however
        // many listed paths lead through it (a commit that turns a folder into a link lists the
        // link and every file that was below the folder).
        let outside = dir.with_extension("outside");
        let _ = std::fs::remove_dir_all(&outside);
        std::fs::create_dir_all(&outside).unwrap();
        for name in ["a", "b"] {
            std::fs::write(outside.join(name), "x").unwrap();
            std::fs::set_permissions(outside.join(name), std::fs::Permissions::from_mode(0o4755))
                .unwrap();
        }
        std::os::unix::fs::symlink(&outside, dir.join("conf")).unwrap();
        chown_changed(&dir, &["conf", "conf/a", "conf/b"], uid, gid).unwrap();
        for name in ["a", "b"] {
            let mode = std::fs::metadata(outside.join(name)).unwrap().mode();
            assert_eq!(mode & 0o7777, 0o4755, "{name} beyond the link is untouched");
        }
        std::fs::remove_dir_all(&outside).unwrap();
        assert_eq!(chown_changed(&dir, &["link/passwd"], uid, gid).unwrap(), 0);
        assert_eq!(
            chown_changed(&dir, &["real/file", "gone/file"], uid, gid).unwrap(),
            0
        );
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
