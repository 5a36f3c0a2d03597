//! Memory and process limits for container agents through cgroup v2. ade needs a delegated
//! cgroup: a folder of the cgroup v2 hierarchy it may write, offering the `memory` and `pids`
//! controllers to its children. Each run gets a child cgroup with `memory.max` and `pids.max`;
//! the agent joins it between fork and exec (it writes `0` to the pre-opened `cgroup.procs`), so
//! even its first child is counted. When there is no such folder the agent runs without limits
//! and the run log says why.

use std::fs;
use std::io::{self, Write};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::EnvOptions;

/// The controllers a run cgroup needs.
const CONTROLLERS: [&str; 2] = ["memory", "pids"];

/// One run's cgroup, removed after the run.
pub(super) struct RunCgroup {
    dir: PathBuf,
    procs: OwnedFd,
}

impl RunCgroup {
    /// The open `cgroup.procs` the child writes itself into.
    pub(super) fn procs_fd(&self) -> RawFd {
        self.procs.as_raw_fd()
    }

    /// Kills every process in the cgroup, including any that left the agent's process group
    /// (kernels from 5.14 have `cgroup.kill`; on older ones the process group kill stands alone).
    pub(super) fn kill_all(&self) {
        let _ = fs::write(self.dir.join("cgroup.kill"), "1");
    }

    /// Removes the cgroup once its last process is gone, waiting a little for dying processes.
    pub(super) async fn remove(self) -> Result<(), String> {
        let mut last = None;
        for _ in 0..40 {
            match fs::remove_dir(&self.dir) {
                Ok(()) => return Ok(()),
                Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(()),
                Err(error) => last = Some(error),
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Err(format!(
            "cannot remove the run cgroup {}: {}",
            self.dir.display(),
            last.map(|e| e.to_string()).unwrap_or_default()
        ))
    }
}

impl Drop for RunCgroup {
    /// A run that fails before its agent starts still leaves no cgroup behind.
    fn drop(&mut self) {
        let _ = fs::remove_dir(&self.dir);
    }
}

/// Creates the run cgroup named `name` when limits are configured and the runner can enforce
/// them; the note says what is enforced or why nothing is.
pub(super) fn prepare(opts: &EnvOptions, name: &str) -> (Option<RunCgroup>, String) {
    if opts.memory_max.is_none() && opts.pids_max.is_none() {
        return (
            None,
            "limits: none configured (memory_max, pids_max); the agent may use all of the \
             runner's memory and processes"
                .to_string(),
        );
    }
    let parent = match &opts.cgroup_parent {
        Some(parent) => Ok(parent.clone()),
        None => own_cgroup(),
    };
    match parent.and_then(|parent| create(&parent, name, opts)) {
        Ok(cgroup) => {
            let note = format!(
                "limits: {} in cgroup {}",
                describe(opts),
                cgroup.dir.display()
            );
            (Some(cgroup), note)
        }
        Err(reason) => (
            None,
            format!(
                "limits: not enforced ({reason}); {} are not applied",
                describe(opts)
            ),
        ),
    }
}

fn describe(opts: &EnvOptions) -> String {
    let mut parts = Vec::new();
    if let Some(bytes) = opts.memory_max {
        parts.push(format!("memory.max {bytes} bytes"));
    }
    if let Some(pids) = opts.pids_max {
        parts.push(format!("pids.max {pids}"));
    }
    parts.join(", ")
}

/// ade's own cgroup v2 folder, from /proc/self/cgroup and /proc/self/mountinfo.
fn own_cgroup() -> Result<PathBuf, String> {
    let cgroups = fs::read_to_string("/proc/self/cgroup")
        .map_err(|e| format!("cannot read /proc/self/cgroup: {e}"))?;
    let relative = unified_path(&cgroups)
        .ok_or("ade is in no cgroup v2 hierarchy (cgroup v1 only)".to_string())?;
    let mounts = fs::read_to_string("/proc/self/mountinfo")
        .map_err(|e| format!("cannot read /proc/self/mountinfo: {e}"))?;
    let mount = cgroup2_mount(&mounts).ok_or("cgroup2 is not mounted".to_string())?;
    Ok(mount.join(relative.trim_start_matches('/')))
}

/// The path of the `0::` (cgroup v2) line of /proc/self/cgroup.
fn unified_path(proc_cgroup: &str) -> Option<&str> {
    proc_cgroup
        .lines()
        .find_map(|line| line.strip_prefix("0::"))
}

/// The mount point of the first cgroup2 file system in /proc/self/mountinfo.
fn cgroup2_mount(mountinfo: &str) -> Option<PathBuf> {
    mountinfo.lines().find_map(|line| {
        let (fields, rest) = line.split_once(" - ")?;
        if rest.split(' ').next()? != "cgroup2" {
            return None;
        }
        fields.split(' ').nth(4).map(PathBuf::from)
    })
}

/// Checks that `parent` is a delegated cgroup ade can create limited children in, enabling the
/// controllers for its children if they are offered but not yet enabled.
fn check_delegated(parent: &Path) -> Result<(), String> {
    let offered = fs::read_to_string(parent.join("cgroup.controllers"))
        .map_err(|e| format!("{} is not a cgroup v2 folder: {e}", parent.display()))?;
    let missing: Vec<&str> = CONTROLLERS
        .iter()
        .copied()
        .filter(|c| !offered.split_whitespace().any(|o| o == *c))
        .collect();
    if !missing.is_empty() {
        return Err(format!(
            "the cgroup {} does not offer the {} controller{} (it offers: {})",
            parent.display(),
            missing.join(" and "),
            if missing.len() > 1 { "s" } else { "" },
            if offered.trim().is_empty() {
                "none"
            } else {
                offered.trim()
            }
        ));
    }
    let enabled = fs::read_to_string(parent.join("cgroup.subtree_control")).map_err(|e| {
        format!(
            "cannot read {}/cgroup.subtree_control: {e}",
            parent.display()
        )
    })?;
    let to_enable: Vec<String> = CONTROLLERS
        .iter()
        .filter(|c| !enabled.split_whitespace().any(|e| e == **c))
        .map(|c| format!("+{c}"))
        .collect();
    if !to_enable.is_empty() {
        fs::OpenOptions::new()
            .write(true)
            .open(parent.join("cgroup.subtree_control"))
            .and_then(|mut f| f.write_all(to_enable.join(" ").as_bytes()))
            .map_err(|e| {
                format!(
                    "cannot enable {} for the children of {}: {e}; a cgroup holding processes \
                     cannot, so give ade a delegated cgroup (runner cgroup_parent)",
                    CONTROLLERS.join(" and "),
                    parent.display()
                )
            })?;
    }
    Ok(())
}

fn create(parent: &Path, name: &str, opts: &EnvOptions) -> Result<RunCgroup, String> {
    check_delegated(parent)?;
    let dir = parent.join(name);
    fs::create_dir(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let configure = || -> Result<OwnedFd, String> {
        let set = |file: &str, value: String| {
            fs::write(dir.join(file), value)
                .map_err(|e| format!("cannot write {}/{file}: {e}", dir.display()))
        };
        if let Some(bytes) = opts.memory_max {
            set("memory.max", bytes.to_string())?;
            // No swap beyond the limit; kernels without swap accounting lack the file.
            let _ = set("memory.swap.max", "0".to_string());
        }
        if let Some(pids) = opts.pids_max {
            set("pids.max", pids.to_string())?;
        }
        let procs = fs::OpenOptions::new()
            .write(true)
            .open(dir.join("cgroup.procs"))
            .map_err(|e| format!("cannot open {}/cgroup.procs: {e}", dir.display()))?;
        Ok(OwnedFd::from(procs))
    };
    match configure() {
        Ok(procs) => Ok(RunCgroup { dir, procs }),
        Err(reason) => {
            let _ = fs::remove_dir(&dir);
            Err(reason)
        }
    }
}

/// Moves the calling process into the cgroup whose `cgroup.procs` is open as `fd`. Runs in the
/// child between fork and exec: one write(2), nothing else.
pub(super) fn join_child(fd: RawFd) -> io::Result<()> {
    // SAFETY: writes one byte from a static buffer to an fd the parent opened and keeps open
    // until the child has exec'd.
    let written = unsafe { libc::write(fd, b"0".as_ptr().cast(), 1) };
    if written == 1 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fake_cgroup(controllers: &str, subtree: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("ade-cgroup-{:016x}", fastrand::u64(..)));
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join("cgroup.controllers"), controllers).unwrap();
        fs::write(dir.join("cgroup.subtree_control"), subtree).unwrap();
        dir
    }

    #[test]
    fn the_unified_line_and_the_cgroup2_mount_are_found() {
        let proc_cgroup = "4:memory:/x\n1:cpu:/\n0::/system.slice/ade.service\n";
        assert_eq!(unified_path(proc_cgroup), Some("/system.slice/ade.service"));
        assert_eq!(unified_path("4:memory:/x\n"), None);
        let mountinfo = "\
25 30 0:22 / /sys/fs/cgroup/memory rw,relatime shared:9 - cgroup cgroup rw,memory
26 30 0:23 / /sys/fs/cgroup/unified rw,relatime shared:10 - cgroup2 cgroup2 rw\n";
        assert_eq!(
            cgroup2_mount(mountinfo),
            Some(PathBuf::from("/sys/fs/cgroup/unified"))
        );
        assert_eq!(cgroup2_mount(mountinfo.lines().next().unwrap()), None);
    }

    #[test]
    fn a_cgroup_without_memory_and_pids_is_refused_with_what_it_offers() {
        let dir = fake_cgroup("hugetlb\n", "");
        let reason = check_delegated(&dir).unwrap_err();
        assert!(
            reason.contains("does not offer the memory and pids controllers (it offers: hugetlb)"),
            "{reason}"
        );
        let dir = fake_cgroup("cpu memory io\n", "");
        let reason = check_delegated(&dir).unwrap_err();
        assert!(reason.contains("the pids controller (it"), "{reason}");
    }

    #[test]
    fn controllers_offered_but_not_enabled_are_enabled_for_children() {
        let dir = fake_cgroup("cpu memory pids\n", "cpu\n");
        check_delegated(&dir).unwrap();
        assert_eq!(
            fs::read_to_string(dir.join("cgroup.subtree_control")).unwrap(),
            "+memory +pids"
        );
    }

    #[test]
    fn without_configured_limits_nothing_is_created() {
        let (cgroup, note) = prepare(&EnvOptions::default(), "ade-run-test");
        assert!(cgroup.is_none());
        assert!(note.starts_with("limits: none configured"), "{note}");
    }

    #[test]
    fn limits_on_a_cgroup_that_cannot_take_them_are_reported_as_not_enforced() {
        let opts = EnvOptions {
            memory_max: Some(256 << 20),
            pids_max: Some(64),
            cgroup_parent: Some(fake_cgroup("cpu\n", "")),
            ..EnvOptions::default()
        };
        let (cgroup, note) = prepare(&opts, "ade-run-test");
        assert!(cgroup.is_none());
        assert!(
            note.starts_with("limits: not enforced (the cgroup "),
            "{note}"
        );
        assert!(
            note.ends_with("; memory.max 268435456 bytes, pids.max 64 are not applied"),
            "{note}"
        );
    }
}
