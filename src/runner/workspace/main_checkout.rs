//! The `main` environment's checkout: one persistent worktree per repository at `<root>/main`,
//! for trusted agents that need a warm workspace. Runs hold it strictly one at a time (an async
//! lock held for the lease's life, plus the lock file for other processes), and its reset keeps
//! ignored files, so build caches survive from run to run.

use std::sync::Arc;

use tokio::sync::OwnedMutexGuard;

use super::lock::{self, Purpose};
use super::{Clean, Inner, MAIN, Result, Slot, owner};

/// The main checkout, held by one run. Dropping it lets the next run in.
pub struct MainLease {
    inner: Arc<Inner>,
    guard: OwnedMutexGuard<Option<Slot>>,
    held: owner::Holding,
}

pub(super) async fn acquire(inner: &Arc<Inner>, base: &str) -> Result<MainLease> {
    let base = inner.resolve_base(base).await?;
    let mut guard = inner.main.clone().lock_owned().await;
    let path = inner.root.join(MAIN);
    let lock_path = lock::lock_path(&inner.root, MAIN);
    let slot = match guard.take() {
        Some(slot) => {
            lock::take_for(&lock_path, &path, Purpose::Lease)?;
            match inner.prepare(&slot, &base, Clean::KeepIgnored).await {
                Ok(()) => slot,
                Err(reason) => {
                    tracing::warn!(checkout = %path.display(), %reason,
                        "main checkout cannot be reset; retiring it and creating it again");
                    inner.retire_folder(&slot.path, MAIN);
                    inner.create(MAIN, &base, Purpose::Lease).await?
                }
            }
        }
        None => {
            // A folder here that the pool did not adopt is a leftover of a failed acquire.
            inner.retire_folder(&path, MAIN);
            inner.create(MAIN, &base, Purpose::Lease).await?
        }
    };
    Ok(MainLease {
        inner: inner.clone(),
        guard,
        held: owner::Holding::new(slot),
    })
}

impl std::ops::Deref for MainLease {
    type Target = owner::Holding;

    fn deref(&self) -> &owner::Holding {
        &self.held
    }
}

impl std::ops::DerefMut for MainLease {
    fn deref_mut(&mut self) -> &mut owner::Holding {
        &mut self.held
    }
}

impl Drop for MainLease {
    fn drop(&mut self) {
        let Some(given_up) = self.held.give_up(None) else {
            return;
        };
        lock::drop_lock(&lock::lock_path(&self.inner.root, MAIN));
        let mut slot = match given_up {
            Ok(slot) => slot,
            Err(slot) => {
                self.inner.retire_folder(&slot.path, MAIN);
                return;
            }
        };
        slot.head = super::read_detached_head(&slot.admin);
        *self.guard = Some(slot);
    }
}
