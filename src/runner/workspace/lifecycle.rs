//! How worktrees come and go: creation (on demand and ahead of it), retirement into `.retired/`,
//! and the background deletion and `git worktree prune` that follow.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::lock::{self, Purpose};
use super::{Fault, Inner, RETIRED, Result, Slot, WorkspaceError, io_error, layout};

impl Inner {
    /// Creates worktree `name` at `base`; on failure whatever was made is retired.
    pub(super) async fn create(
        self: &Arc<Self>,
        name: &str,
        base: &str,
        purpose: Purpose,
    ) -> Result<Slot> {
        let path = self.root.join(name);
        let made = self.create_at(name, &path, base).await;
        let lock_path = lock::lock_path(&self.root, name);
        match made {
            Ok(slot) => {
                match purpose {
                    Purpose::Lease => {
                        lock::take_for(&lock_path, &path, Purpose::Lease)?;
                    }
                    Purpose::Create => lock::drop_lock(&lock_path),
                }
                Ok(slot)
            }
            Err(e) => {
                self.retire_folder(&path, name);
                Err(e)
            }
        }
    }

    async fn create_at(&self, name: &str, path: &Path, base: &str) -> Result<Slot> {
        let lock_path = lock::lock_path(&self.root, name);
        lock::take_for(&lock_path, path, Purpose::Create)?;
        {
            let _admin = self.admin.lock().await;
            self.git
                .in_repo(&self.git_dir)
                .args(["worktree", "prune"])
                .run()
                .await?;
            self.git
                .in_repo(&self.git_dir)
                .args(["worktree", "add", "--detach", "--no-checkout", "--quiet"])
                .arg(path)
                .arg(base)
                .run()
                .await?;
        }
        let broken = |reason: String| WorkspaceError::Broken {
            path: path.to_path_buf(),
            reason,
        };
        let admin = layout::find_admin(&self.git_dir, path)
            .map_err(io_error("read worktree metadata of", path))?
            .ok_or_else(|| broken("no admin folder names it after worktree add".into()))?;
        self.git
            .in_worktree(&admin, path)
            .args(["reset", "--hard", "--quiet"])
            .run()
            .await?;
        let head = layout::verify(&self.git, &admin, path)
            .await
            .map_err(|mismatch| broken(mismatch.to_string()))?;
        if head != base {
            return Err(broken(format!("HEAD is {head}, not {base}")));
        }
        Ok(Slot {
            name: name.to_string(),
            path: path.to_path_buf(),
            admin,
            head: Some(head),
            clean: true,
            handed_ahead: None,
        })
    }

    /// Puts a released worktree back in the pool after resetting it to its own HEAD and removing
    /// everything the run left (`reset --hard`, `clean -ffdx`) in the background, so the next run
    /// only checks out its base. A worktree that cannot be cleaned goes back marked unclean, and
    /// its next acquire repairs it. Without a runtime (a lease dropped at shutdown) it goes back
    /// unclean at once.
    pub(super) fn clean_in_background(self: &Arc<Self>, mut slot: Slot) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            self.put_back(slot, false);
            return;
        };
        {
            let mut state = self.lock_state();
            state.leased.remove(&slot.name);
            state.cleaning += 1;
            state.background += 1;
        }
        let inner = self.clone();
        runtime.spawn(async move {
            match inner.tidy(&slot).await {
                Ok(head) => {
                    slot.head = Some(head);
                    slot.clean = true;
                    inner.hand_ahead(&mut slot).await;
                }
                Err(reason) => tracing::warn!(worktree = %slot.path.display(), %reason,
                    "cleaning a released worktree failed; its next run repairs it"),
            }
            inner.put_back(slot, true);
        });
    }

    /// Hands a free worktree's files to the agent user now, in the background, when the pool is
    /// configured to (see [`super::PoolConfig::hand_ahead`]).
    async fn hand_ahead(&self, slot: &mut Slot) {
        let Some((uid, gid)) = self.config.hand_ahead else {
            return;
        };
        match super::owner::hand_ahead(&slot.path, uid, gid).await {
            Ok(()) => slot.handed_ahead = Some((uid, gid)),
            Err(e) => {
                tracing::warn!(worktree = %slot.path.display(), error = %e,
                    "handing a free worktree to the agent user failed; its run hands it over");
                return;
            }
        }
        // A new owner is a new ctime on every file, which git would otherwise take as a reason
        // to read them all again at the next checkout.
        if let Err(e) = self
            .git
            .in_worktree(&slot.admin, &slot.path)
            .args(["update-index", "-q", "--refresh"])
            .run()
            .await
        {
            tracing::warn!(worktree = %slot.path.display(), error = %e,
                "refreshing the index of a handed worktree failed; its next checkout reads every file");
        }
    }

    async fn tidy(&self, slot: &Slot) -> std::result::Result<String, Fault> {
        layout::verify(&self.git, &slot.admin, &slot.path).await?;
        for args in [&["reset", "--hard", "--quiet"][..], &["clean", "-ffdxq"]] {
            self.git
                .in_worktree(&slot.admin, &slot.path)
                .args(args)
                .run()
                .await?;
        }
        Ok(layout::verify(&self.git, &slot.admin, &slot.path).await?)
    }

    /// Makes `slot` free again and wakes whoever waits for one. It leaves the leased or the
    /// cleaning count (`cleaned`) in the same step, so the pool never counts it nowhere and makes
    /// another.
    pub(super) fn put_back(&self, slot: Slot, cleaned: bool) {
        lock::drop_lock(&lock::lock_path(&self.root, &slot.name));
        let mut state = self.lock_state();
        if cleaned {
            state.cleaning -= 1;
            state.background -= 1;
        } else {
            state.leased.remove(&slot.name);
        }
        state.free.push(slot);
        drop(state);
        self.changed.notify_waiters();
    }

    /// Starts creating free worktrees at the last base asked for until `warm` are free or being
    /// made (never beyond `max`).
    pub(super) fn refill(self: &Arc<Self>) {
        let mut state = self.lock_state();
        let Some(base) = state.last_base.clone() else {
            return;
        };
        while state.free.len() + state.creating < self.config.warm
            && state.total() < self.config.max
        {
            let name = state.next_name();
            state.creating += 1;
            state.background += 1;
            let inner = self.clone();
            let base = base.clone();
            tokio::spawn(async move {
                let mut made = inner.create(&name, &base, Purpose::Create).await;
                if let Ok(slot) = &mut made {
                    inner.hand_ahead(slot).await;
                }
                let mut state = inner.lock_state();
                state.creating -= 1;
                state.background -= 1;
                match made {
                    Ok(slot) => state.free.push(slot),
                    Err(e) => tracing::warn!(worktree = %name, error = %e,
                        "creating a worktree ahead of demand failed"),
                }
                drop(state);
                inner.changed.notify_waiters();
            });
        }
    }

    /// Drops `name` from the leased set (its worktree was retired).
    pub(super) fn forget(&self, name: &str) {
        lock::drop_lock(&lock::lock_path(&self.root, name));
        self.lock_state().leased.remove(name);
        self.changed.notify_waiters();
    }

    /// Moves the folder at `path` into `.retired/` (a rename: O(1)) and deletes it and prunes
    /// git's metadata in the background.
    pub(super) fn retire_folder(self: &Arc<Self>, path: &Path, name: &str) {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        let dest = self.root.join(RETIRED).join(format!("{name}.{nanos}"));
        match std::fs::rename(path, &dest) {
            Ok(()) => self.delete_in_background(dest),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                tracing::error!(worktree = %path.display(), error = %e, "cannot retire worktree")
            }
        }
        lock::drop_lock(&lock::lock_path(&self.root, name));
    }

    pub(super) fn delete_in_background(self: &Arc<Self>, dest: PathBuf) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return; // the next open deletes what is in .retired/
        };
        let inner = self.clone();
        inner.lock_state().background += 1;
        runtime.spawn(async move {
            let gone = dest.clone();
            let removed = tokio::task::spawn_blocking(move || remove_any(&gone)).await;
            if let Ok(Err(e)) = removed {
                tracing::warn!(folder = %dest.display(), error = %e, "cannot delete retired worktree");
            }
            if let Err(e) = inner.prune().await {
                tracing::warn!(error = %e, "worktree prune after deletion failed");
            }
            inner.lock_state().background -= 1;
            inner.changed.notify_waiters();
        });
    }

    /// `git worktree prune`, after unlocking admin folders a crashed `worktree add` left locked.
    pub(super) async fn prune(&self) -> std::result::Result<(), Fault> {
        let _admin = self.admin.lock().await;
        layout::unlock_admin_dirs_under(&self.git_dir, &self.root)?;
        self.git
            .in_repo(&self.git_dir)
            .args(["worktree", "prune"])
            .run()
            .await?;
        Ok(())
    }
}

/// Removes a folder with everything in it (links are removed, never followed), or a file.
fn remove_any(path: &Path) -> std::io::Result<()> {
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.is_dir() => std::fs::remove_dir_all(path).or_else(|_| {
            super::owner::make_removable(path)?;
            std::fs::remove_dir_all(path)
        }),
        Ok(_) => std::fs::remove_file(path),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}
