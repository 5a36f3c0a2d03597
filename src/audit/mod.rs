//! The audit log: every command, decision, state move, run, verdict, approval, forge write,
//! secret read, purge and admin action as a hash-chained JSONL record, written durably before the
//! action it records is acknowledged, with signed checkpoints kept outside the log folder
//! (docs/audit.md).
//!
//! What ade does is recorded as a pending row in the transaction that does it
//! ([`crate::store::audit`]); [`AuditLog::seal`] turns pending rows into chained lines inside the
//! transaction that acknowledges the action (a job's completion), so a record and its action
//! commit together, and a disk that refuses the record refuses the action too.

pub mod checkpoint;
pub mod cli;
mod files;
pub mod line;
mod log;
mod mask;
mod purge;
pub mod show;
pub mod signing;
pub mod verify;

pub use files::{ChainFile, file_name, list};
pub use log::{AuditConfig, AuditError, AuditLog};
pub use mask::{MASK, Masker};
pub use purge::AuditPurge;

/// The operating-system user at ade's command line, as admin actions record their actor.
pub fn operator() -> String {
    std::env::var("SUDO_USER")
        .or_else(|_| std::env::var("USER"))
        .or_else(|_| std::env::var("LOGNAME"))
        // SAFETY: getuid has no preconditions and cannot fail.
        .unwrap_or_else(|_| format!("uid:{}", unsafe { libc::getuid() }))
}

#[cfg(test)]
pub(crate) struct Scratch(std::path::PathBuf);

#[cfg(test)]
impl Scratch {
    /// A fresh folder under the system's temp dir, removed when dropped.
    pub(crate) fn new() -> Scratch {
        let dir = std::env::temp_dir().join(format!("ade-audit-{:016x}", fastrand::u64(..)));
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }

    pub(crate) fn path(&self) -> &std::path::Path {
        &self.0
    }
}

#[cfg(test)]
impl Drop for Scratch {
    fn drop(&mut self) {
        std::fs::remove_dir_all(&self.0).ok();
    }
}
