//! Processes an agent left behind. An agent's process group is killed when it exits, and its
//! cgroup where the runner has one; a process that left the group (`setsid`) on a runner without
//! cgroups would live on, as the agent's user, in a worktree that the next run is handed. So after
//! every run the runner looks for processes of the agent's user whose working folder, root or open
//! files are in the run's worktree or scratch folder, and kills them.

use std::path::{Path, PathBuf};

/// Kills (SIGKILL) every process of user `uid` whose working folder, root folder or any open file
/// is under one of `under`, and returns their pids. Never touches root's processes or this one.
pub fn stop_leftovers(uid: u32, under: &[&Path]) -> Vec<u32> {
    if uid == 0 {
        return Vec::new();
    }
    let me = std::process::id();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut stopped = Vec::new();
    for entry in entries.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|name| name.parse::<u32>().ok())
        else {
            continue;
        };
        if pid == me || !runs_as(pid, uid) || !reaches(pid, under) {
            continue;
        }
        // SAFETY: kill(2) with a positive pid signals that one process; no memory is involved.
        if unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) } == 0 {
            stopped.push(pid);
        }
    }
    stopped
}

/// Whether any of the process's user ids (real, effective, saved, filesystem) is `uid`.
fn runs_as(pid: u32, uid: u32) -> bool {
    let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) else {
        return false;
    };
    status
        .lines()
        .find_map(|line| line.strip_prefix("Uid:"))
        .is_some_and(|ids| {
            ids.split_whitespace()
                .any(|id| id.parse::<u32>() == Ok(uid))
        })
}

/// Whether the process's working folder, root folder or an open file lies under one of `under`.
fn reaches(pid: u32, under: &[&Path]) -> bool {
    let inside = |link: PathBuf| under.iter().any(|root| link.starts_with(root));
    let proc = PathBuf::from(format!("/proc/{pid}"));
    if ["cwd", "root"]
        .iter()
        .filter_map(|name| std::fs::read_link(proc.join(name)).ok())
        .any(inside)
    {
        return true;
    }
    std::fs::read_dir(proc.join("fd"))
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|fd| std::fs::read_link(fd.path()).ok())
        .any(inside)
}
