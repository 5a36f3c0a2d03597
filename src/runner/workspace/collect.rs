//! What [`super::WorktreePool::open`] does before the pool serves runs: collects what a crash left
//! behind and adopts the worktrees that are still sound.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::lock::{self, Held, Purpose};
use super::{Inner, LOCKS, MAIN, OpenReport, PREFIX, RETIRED, Result, Slot, io_error, layout};

/// Most passes made to stop what a dead holder of a worktree left running.
const STOP_PASSES: usize = 5;

/// Stops every process of the agent user `uid` still working in a worktree of any pool under
/// `worktrees` (the runner's `worktrees/` folder) whose lock names a process that is gone: ade was
/// killed or crashed while a run's agent or a verification step worked there. That process ran
/// in a process group of its own, so it outlived ade, and no timeout watches it any more; left
/// alone, it would run for ever and write the worktree the pool hands the next run. A runner
/// calls this as it starts, since the pool of a repository is opened (and collects the same) only
/// when a run needs it, which may be never. Worktrees a living process holds are left alone, so
/// two processes may share a workdir. Returns how many processes were stopped.
pub fn stop_left_running(worktrees: &Path, uid: u32) -> usize {
    let mut stopped = 0;
    for locks in lock_folders(worktrees, 6) {
        let Some(root) = locks.parent() else {
            continue;
        };
        for entry in std::fs::read_dir(&locks).into_iter().flatten().flatten() {
            let file = entry.file_name().to_string_lossy().into_owned();
            let Some(name) = file.strip_suffix(".lock") else {
                continue;
            };
            if let Ok(Held::Stale(owner)) = lock::inspect(&entry.path()) {
                stopped += stop_in(uid, name, &root.join(name), owner.map(|o| o.pid)).len();
            }
        }
    }
    stopped
}

/// The `.locks` folders (of the pools) under `dir`, looking `depth` levels down.
fn lock_folders(dir: &Path, depth: usize) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if !entry.file_type().is_ok_and(|t| t.is_dir()) {
            continue;
        }
        if entry.file_name() == LOCKS {
            found.push(path);
        } else if depth > 0 && entry.file_name() != RETIRED {
            found.extend(lock_folders(&path, depth - 1));
        }
    }
    found
}

/// Stops, pass after pass (a process may fork while a pass reads `/proc`), every process of the
/// agent user `uid` working in the worktree `name` at `path`, which `holder` held when it died.
fn stop_in(uid: u32, name: &str, path: &Path, holder: Option<u32>) -> Vec<u32> {
    let mut stopped = Vec::new();
    for _ in 0..STOP_PASSES {
        let pass = crate::runner::env::stop_leftovers(uid, &[path]);
        if pass.is_empty() {
            break;
        }
        stopped.extend(pass);
    }
    if !stopped.is_empty() {
        tracing::warn!(worktree = %name, holder, ?stopped,
            "stopped the processes a dead holder of the worktree left running");
    }
    stopped
}

impl Inner {
    /// Deletes `.retired/` leftovers, prunes metadata without folders, retires folders without
    /// metadata, half-made worktrees and broken ones, clears stale lock files, and adopts the rest.
    pub(super) async fn collect(self: &Arc<Self>) -> Result<OpenReport> {
        let mut report = OpenReport::default();
        let retired_dir = self.root.join(RETIRED);
        for entry in std::fs::read_dir(&retired_dir).map_err(io_error("read", &retired_dir))? {
            let entry = entry.map_err(io_error("read", &retired_dir))?;
            self.delete_in_background(entry.path());
        }
        if let Err(e) = self.prune().await {
            tracing::warn!(error = %e, "worktree prune at open failed");
        }
        let mut highest = 0;
        let mut names = Vec::new();
        for entry in std::fs::read_dir(&self.root).map_err(io_error("read", &self.root))? {
            let entry = entry.map_err(io_error("read", &self.root))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if name != LOCKS && name != RETIRED {
                names.push(name);
            }
        }
        names.sort();
        for name in &names {
            if let Some(n) = pooled_number(name) {
                highest = highest.max(n);
            }
            match self.adopt(name).await? {
                Adoption::Adopted => report.adopted.push(name.clone()),
                Adoption::Retired(reason) => {
                    tracing::info!(worktree = %name, %reason, "retiring at open");
                    self.retire_folder(&self.root.join(name), name);
                    report.retired.push((name.clone(), reason));
                }
                Adoption::HeldElsewhere => report.held_elsewhere.push(name.clone()),
            }
        }
        self.clear_orphan_locks(&names)?;
        self.lock_state().next = highest;
        Ok(report)
    }

    async fn adopt(self: &Arc<Self>, name: &str) -> Result<Adoption> {
        let path = self.root.join(name);
        let lock_path = lock::lock_path(&self.root, name);
        let held = lock::inspect(&lock_path).map_err(io_error("read", &lock_path))?;
        if let Held::Stale(owner) = &held {
            self.stop_left_running(name, &path, owner.as_ref().map(|o| o.pid));
        }
        match held {
            Held::Live(owner) if owner.pid != std::process::id() => {
                return Ok(Adoption::HeldElsewhere);
            }
            Held::Stale(Some(owner)) if owner.purpose == Purpose::Create => {
                return Ok(Adoption::Retired(format!(
                    "half-made: process {} died while creating it",
                    owner.pid
                )));
            }
            _ => {}
        }
        if name != MAIN && pooled_number(name).is_none() {
            return Ok(Adoption::Retired(
                "not a worktree name the pool uses".into(),
            ));
        }
        let Some(admin) =
            layout::find_admin(&self.git_dir, &path).map_err(io_error("read", &self.git_dir))?
        else {
            return Ok(Adoption::Retired(
                "no git metadata names this folder".into(),
            ));
        };
        let head = match layout::verify(&self.git, &admin, &path).await {
            Ok(head) => head,
            Err(mismatch) => return Ok(Adoption::Retired(mismatch.to_string())),
        };
        lock::drop_lock(&lock_path);
        let slot = Slot {
            name: name.to_string(),
            path,
            admin,
            head: Some(head),
            clean: false,
            handed_ahead: None,
        };
        if name == MAIN {
            *self.main.lock().await = Some(slot);
        } else {
            self.lock_state().free.push(slot);
        }
        Ok(Adoption::Adopted)
    }

    /// Stops what the agent user still runs in the worktree `name` of a process that died holding
    /// it; see [`stop_left_running`].
    fn stop_left_running(&self, name: &str, path: &Path, holder: Option<u32>) {
        if let Some((uid, _)) = self.config.hand_ahead {
            stop_in(uid, name, path, holder);
        }
    }

    /// Removes lock files whose worktree folder is gone, unless a living process wrote them.
    fn clear_orphan_locks(&self, names: &[String]) -> Result<()> {
        let dir = self.root.join(LOCKS);
        for entry in std::fs::read_dir(&dir).map_err(io_error("read", &dir))? {
            let path = entry.map_err(io_error("read", &dir))?.path();
            let file = path.file_name().unwrap_or_default().to_string_lossy();
            let owner_name = file.strip_suffix(".lock").unwrap_or(&file);
            if names.iter().any(|n| n == owner_name) {
                continue;
            }
            match lock::inspect(&path) {
                Ok(Held::Live(owner)) if owner.pid != std::process::id() => {}
                _ => lock::drop_lock(&path),
            }
        }
        Ok(())
    }
}

enum Adoption {
    Adopted,
    Retired(String),
    HeldElsewhere,
}

/// The number in a pooled worktree's name `wt-<n>`.
fn pooled_number(name: &str) -> Option<u64> {
    let digits = name.strip_prefix(PREFIX)?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}
