//! Lock files: one per worktree, naming the process that holds it, so a second ade process on the
//! same workdir never takes a worktree this one holds, and a lock left by a process that died is
//! recognised as stale. A pid alone can be reused after a crash, so the lock also records the
//! process's start time (`/proc/<pid>/stat`), and a pid whose start time differs is dead.

use std::io::Write;
use std::path::{Path, PathBuf};

/// Why the lock was taken: a worktree still being created when its process died is half-made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Purpose {
    /// `git worktree add` and the first checkout are under way.
    Create,
    /// A run holds the worktree.
    Lease,
}

/// The process named in a lock file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Owner {
    pub pid: u32,
    pub start: u64,
    pub purpose: Purpose,
}

/// What a lock file says about its worktree.
#[derive(Debug)]
pub(super) enum Held {
    /// No lock file.
    Free,
    /// A lock file whose process is gone, or that cannot be read as one.
    Stale(Option<Owner>),
    /// A lock file of a living process.
    Live(Owner),
}

/// The start time of process `pid` in clock ticks since boot, or None when it does not exist.
pub(super) fn process_start(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may itself contain spaces or ')'.
    let after = &stat[stat.rfind(')')? + 1..];
    after.split_whitespace().nth(19)?.parse().ok()
}

impl Owner {
    /// This process.
    pub fn me(purpose: Purpose) -> Owner {
        let pid = std::process::id();
        Owner {
            pid,
            start: process_start(pid).unwrap_or(0),
            purpose,
        }
    }

    fn render(&self) -> String {
        let purpose = match self.purpose {
            Purpose::Create => "create",
            Purpose::Lease => "lease",
        };
        format!("pid={} start={} purpose={purpose}\n", self.pid, self.start)
    }

    fn parse(text: &str) -> Option<Owner> {
        let (mut pid, mut start, mut purpose) = (None, None, None);
        for field in text.split_whitespace() {
            match field.split_once('=')? {
                ("pid", value) => pid = value.parse().ok(),
                ("start", value) => start = value.parse().ok(),
                ("purpose", "create") => purpose = Some(Purpose::Create),
                ("purpose", "lease") => purpose = Some(Purpose::Lease),
                _ => return None,
            }
        }
        Some(Owner {
            pid: pid?,
            start: start?,
            purpose: purpose?,
        })
    }

    /// Whether the process that wrote the lock still runs (same pid, same start time).
    pub fn alive(&self) -> bool {
        match process_start(self.pid) {
            Some(start) => self.start == 0 || start == self.start,
            None => false,
        }
    }
}

/// The lock file of worktree `name` under the pool root.
pub(super) fn lock_path(root: &Path, name: &str) -> PathBuf {
    root.join(super::LOCKS).join(format!("{name}.lock"))
}

/// Reads the lock file at `path`.
pub(super) fn inspect(path: &Path) -> std::io::Result<Held> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Held::Free),
        Err(e) if e.kind() == std::io::ErrorKind::InvalidData => return Ok(Held::Stale(None)),
        Err(e) => return Err(e),
    };
    Ok(match Owner::parse(&text) {
        Some(owner) if owner.alive() => Held::Live(owner),
        owner => Held::Stale(owner),
    })
}

/// Takes the lock at `lock_path` of the worktree at `worktree` for `purpose`, as [`take`], and
/// refuses with the living process that holds it.
pub(super) fn take_for(lock_path: &Path, worktree: &Path, purpose: Purpose) -> super::Result<()> {
    take(lock_path, purpose)
        .map_err(super::io_error("lock", lock_path))?
        .map_err(|owner| super::WorkspaceError::HeldElsewhere {
            path: worktree.to_path_buf(),
            pid: owner.pid,
        })
}

/// Takes the lock at `path` for this process. A lock of another living process is refused (and
/// returned); a stale one, or one this process wrote, is replaced.
pub(super) fn take(path: &Path, purpose: Purpose) -> std::io::Result<Result<(), Owner>> {
    if let Held::Live(owner) = inspect(path)?
        && owner.pid != std::process::id()
    {
        return Ok(Err(owner));
    }
    // Written aside and renamed, so a reader never sees half a lock.
    let aside = path.with_extension(format!("lock.{}", std::process::id()));
    let mut file = std::fs::File::create(&aside)?;
    file.write_all(Owner::me(purpose).render().as_bytes())?;
    drop(file);
    std::fs::rename(&aside, path)?;
    Ok(Ok(()))
}

/// Removes the lock at `path` if there is one.
pub(super) fn drop_lock(path: &Path) {
    if let Err(e) = std::fs::remove_file(path)
        && e.kind() != std::io::ErrorKind::NotFound
    {
        tracing::warn!(lock = %path.display(), error = %e, "cannot remove worktree lock file");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_is_alive_and_round_trips() {
        let me = Owner::me(Purpose::Lease);
        assert!(me.start > 0, "/proc/self/stat has a start time");
        assert!(me.alive());
        assert_eq!(Owner::parse(&me.render()), Some(me));
    }

    #[test]
    fn a_reused_pid_with_another_start_time_is_dead() {
        let mut me = Owner::me(Purpose::Create);
        me.start += 1;
        assert!(!me.alive());
    }

    #[test]
    fn garbage_is_not_an_owner() {
        assert_eq!(Owner::parse("pid=1 start=x purpose=lease"), None);
        assert_eq!(Owner::parse("hello"), None);
        assert_eq!(Owner::parse("pid=1 start=2 purpose=lease extra=3"), None);
    }

    #[test]
    fn an_exited_process_is_dead() {
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        child.wait().unwrap();
        let owner = Owner {
            pid,
            start: 1,
            purpose: Purpose::Lease,
        };
        assert!(!owner.alive());
    }
}
