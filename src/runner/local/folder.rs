//! A run's folder on the runner, `<workdir>/runs/<run>/`: the name of everything the phases write
//! in it and which kind of data each is, so the phases that write them and retention, which
//! deletes them (docs/retention.md), agree.
//!
//! ```text
//! attempt-1.log          the run log: the agent's output and ade's notes    run_logs
//! attempt-1/prompt.md    the rendered prompt, and task.json beside it        prompts
//! attempt-1/…            the agent's HOME, TMPDIR and output file            scratch
//! attempt-1-verify.log   the run's verification: every step's output         verification_logs
//! attempt-1-verify/      the verification steps' scratch folder              scratch
//! verify-7.log, verify-7/  verification 7 of a later head of the approval    verification_logs, scratch
//! ```

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};

use super::super::agent::{PROMPT_FILE, TASK_FILE};
use crate::policy::DataClass;
use crate::runner::order::Removed;

/// The run log of `attempt`.
pub(super) fn run_log(run_dir: &Path, attempt: i64) -> PathBuf {
    run_dir.join(format!("attempt-{attempt}.log"))
}

/// The scratch folder of `attempt`: the prompt and task files, the agent's HOME and TMPDIR.
pub(super) fn scratch(run_dir: &Path, attempt: i64) -> PathBuf {
    run_dir.join(format!("attempt-{attempt}"))
}

/// The log of the verification the run itself carries out after its push.
pub(super) fn verification_log(run_dir: &Path, attempt: i64) -> PathBuf {
    run_dir.join(format!("attempt-{attempt}-verify.log"))
}

/// The scratch folder of the run's own verification steps.
pub(super) fn verification_scratch(run_dir: &Path, attempt: i64) -> PathBuf {
    run_dir.join(format!("attempt-{attempt}-verify"))
}

/// The log of verification `id`, of a head pushed after the run.
pub(super) fn reverification_log(run_dir: &Path, id: i64) -> PathBuf {
    run_dir.join(format!("verify-{id}.log"))
}

/// The scratch folder of verification `id`.
pub(super) fn reverification_scratch(run_dir: &Path, id: i64) -> PathBuf {
    run_dir.join(format!("verify-{id}"))
}

/// What one entry of a run's folder holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// A file of one class.
    File(DataClass),
    /// A folder of one class.
    Folder(DataClass),
    /// An attempt's scratch folder, whose prompt and task files are prompts and the rest scratch.
    AttemptScratch,
}

/// The kind of the entry `name` in a run's folder; None for what ade does not write there.
fn kind(name: &str, is_dir: bool) -> Option<Kind> {
    let number = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if let Some(stem) = name.strip_suffix(".log") {
        if is_dir {
            return None;
        }
        return match stem.strip_prefix("attempt-") {
            Some(rest) if number(rest) => Some(Kind::File(DataClass::RunLogs)),
            Some(rest) if rest.strip_suffix("-verify").is_some_and(number) => {
                Some(Kind::File(DataClass::VerificationLogs))
            }
            _ => stem
                .strip_prefix("verify-")
                .filter(|id| number(id))
                .map(|_| Kind::File(DataClass::VerificationLogs)),
        };
    }
    if !is_dir {
        return None;
    }
    match name.strip_prefix("attempt-") {
        Some(rest) if number(rest) => Some(Kind::AttemptScratch),
        Some(rest) if rest.strip_suffix("-verify").is_some_and(number) => {
            Some(Kind::Folder(DataClass::Scratch))
        }
        _ => name
            .strip_prefix("verify-")
            .filter(|id| number(id))
            .map(|_| Kind::Folder(DataClass::Scratch)),
    }
}

/// One thing of a run's folder that deleting some classes removes.
struct Part {
    class: DataClass,
    path: PathBuf,
    /// What is in it: files and bytes (counted before anything is removed).
    size: Removed,
}

/// What deleting `classes` of the run folder `run_dir` would remove, per entry; nothing for a
/// folder that is gone. What ade does not write there is not its to delete.
fn plan(run_dir: &Path, classes: &[DataClass]) -> io::Result<Vec<Part>> {
    let mut parts = Vec::new();
    let entries = match std::fs::read_dir(run_dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(parts),
        Err(e) => return Err(e),
    };
    let wanted = |class: DataClass| classes.contains(&class);
    let mut add = |class: DataClass, path: PathBuf| {
        let size = measure(&path);
        if size.files > 0 || path.is_dir() {
            parts.push(Part { class, path, size });
        }
    };
    for entry in entries {
        let entry = entry?;
        let path = entry.path();
        let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
            continue;
        };
        let is_dir = entry.file_type()?.is_dir();
        match kind(&name, is_dir) {
            Some(Kind::File(class) | Kind::Folder(class)) if wanted(class) => add(class, path),
            Some(Kind::AttemptScratch) => {
                let inside: Vec<std::ffi::OsString> = match std::fs::read_dir(&path) {
                    Ok(inside) => inside.flatten().map(|e| e.file_name()).collect(),
                    Err(e) if e.kind() == io::ErrorKind::PermissionDenied => {
                        // The agent took the folder's permissions away: what is in it is found
                        // once it is readable again.
                        make_writable(&path)?;
                        std::fs::read_dir(&path)?
                            .flatten()
                            .map(|e| e.file_name())
                            .collect()
                    }
                    Err(e) => return Err(e),
                };
                for name in inside {
                    let prompt = [PROMPT_FILE, TASK_FILE].iter().any(|p| name == *p);
                    let class = if prompt {
                        DataClass::Prompts
                    } else {
                        DataClass::Scratch
                    };
                    if wanted(class) {
                        add(class, path.join(name));
                    }
                }
            }
            _ => {}
        }
    }
    Ok(parts)
}

/// Files and bytes under `path`, links counted as files and never followed; what cannot be read
/// is not counted.
fn measure(path: &Path) -> Removed {
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return Removed::default();
    };
    if !meta.is_dir() {
        return Removed {
            files: 1,
            bytes: meta.len(),
        };
    }
    let mut total = Removed::default();
    if let Ok(entries) = std::fs::read_dir(path) {
        for entry in entries.flatten() {
            let inner = measure(&entry.path());
            total.files += inner.files;
            total.bytes += inner.bytes;
        }
    }
    total
}

/// What deleting `classes` of the run folder `run_dir` removes, per class, without removing it.
pub(super) fn measure_classes(
    run_dir: &Path,
    classes: &[DataClass],
) -> io::Result<BTreeMap<DataClass, Removed>> {
    Ok(totals(&plan(run_dir, classes)?))
}

fn totals(parts: &[Part]) -> BTreeMap<DataClass, Removed> {
    let mut totals: BTreeMap<DataClass, Removed> = BTreeMap::new();
    for part in parts.iter().filter(|p| p.size.files > 0) {
        let total = totals.entry(part.class).or_default();
        total.files += part.size.files;
        total.bytes += part.size.bytes;
    }
    totals
}

/// Deletes `classes` of what the run folder `run_dir` holds, and the folder itself (and an
/// attempt's scratch folder) once nothing is left in it; a folder that is already gone removes
/// nothing. Returns what was removed, per class.
pub(super) fn forget(
    run_dir: &Path,
    classes: &[DataClass],
) -> io::Result<BTreeMap<DataClass, Removed>> {
    let parts = plan(run_dir, classes)?;
    for part in &parts {
        remove_all(&part.path)?;
        if let Some(parent) = part.path.parent().filter(|p| *p != run_dir) {
            remove_if_empty(parent)?;
        }
    }
    remove_if_empty(run_dir)?;
    Ok(totals(&parts))
}

/// Removes `path` whatever it is: a file or a link (never followed) is unlinked, a folder goes
/// with everything in it by `std::fs::remove_dir_all`, which does not follow links even when
/// they are swapped in while it works. A folder the agent made unreadable or unwritable is made
/// writable first; that takes a path, which a link swapped in could redirect, but it is needed
/// only when ade is not root, and then the agent runs as ade's own user and could change those
/// permissions itself.
fn remove_all(path: &Path) -> io::Result<()> {
    let meta = match std::fs::symlink_metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) if e.kind() == io::ErrorKind::PermissionDenied => {
            if let Some(parent) = path.parent() {
                make_writable(parent)?;
            }
            std::fs::symlink_metadata(path)?
        }
        Err(e) => return Err(e),
    };
    let removed = if meta.is_dir() {
        std::fs::remove_dir_all(path)
    } else {
        std::fs::remove_file(path)
    };
    match removed {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::PermissionDenied => {
            if let Some(parent) = path.parent() {
                make_writable(parent)?;
            }
            if meta.is_dir() {
                make_tree_writable(path)?;
                std::fs::remove_dir_all(path)
            } else {
                std::fs::remove_file(path)
            }
        }
        Err(e) => Err(e),
    }
}

/// [`make_writable`] for `dir` and every folder under it (links are not followed).
fn make_tree_writable(dir: &Path) -> io::Result<()> {
    make_writable(dir)?;
    for entry in std::fs::read_dir(dir)?.flatten() {
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            make_tree_writable(&entry.path())?;
        }
    }
    Ok(())
}

/// Gives the owner read, write and search permission on the folder `dir` (an agent may have taken
/// them away from its own scratch folder); a link or a file is left alone.
fn make_writable(dir: &Path) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::symlink_metadata(dir)?;
    if meta.is_dir() {
        let mode = meta.permissions().mode() | 0o700;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(mode))?;
    }
    Ok(())
}

fn remove_if_empty(dir: &Path) -> io::Result<()> {
    match std::fs::remove_dir(dir) {
        Ok(()) => Ok(()),
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::NotFound | io::ErrorKind::DirectoryNotEmpty
            ) =>
        {
            Ok(())
        }
        Err(e) => Err(e),
    }
}

/// The ids of the runs that have a folder under `runs` (`<workdir>/runs`).
pub(super) fn kept_runs(runs: &Path) -> io::Result<Vec<i64>> {
    let entries = match std::fs::read_dir(runs) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut ids = Vec::new();
    for entry in entries {
        let entry = entry?;
        let name = entry.file_name();
        if let Some(id) = name.to_str().and_then(|name| {
            name.parse::<i64>()
                .ok()
                .filter(|id| *id > 0 && id.to_string() == name)
        }) {
            ids.push(id);
        }
    }
    ids.sort_unstable();
    Ok(ids)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fresh folder, removed when dropped.
    struct TempDir(PathBuf);

    impl TempDir {
        fn path(&self) -> &Path {
            &self.0
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            std::fs::remove_dir_all(&self.0).ok();
        }
    }

    fn tempdir() -> TempDir {
        let dir = std::env::temp_dir().join(format!("ade-runs-{:016x}", fastrand::u64(..)));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    fn write(path: &Path, text: &str) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    fn names(dir: &Path) -> Vec<String> {
        let mut found = Vec::new();
        for entry in walk(dir) {
            found.push(
                entry
                    .strip_prefix(dir)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned(),
            );
        }
        found.sort();
        found
    }

    fn walk(dir: &Path) -> Vec<PathBuf> {
        let mut all = Vec::new();
        if let Ok(entries) = std::fs::read_dir(dir) {
            for entry in entries {
                let path = entry.unwrap().path();
                if path.is_dir() && !path.is_symlink() {
                    all.extend(walk(&path));
                } else {
                    all.push(path);
                }
            }
        }
        all
    }

    /// A run folder as the phases leave it after a run and one later verification.
    fn folder() -> (TempDir, PathBuf) {
        let dir = tempdir();
        let run = dir.path().join("runs").join("12");
        write(&run_log(&run, 1), "agent said things\n");
        write(&scratch(&run, 1).join(PROMPT_FILE), "the prompt");
        write(&scratch(&run, 1).join(TASK_FILE), "{}");
        write(&scratch(&run, 1).join("home/.cache/x"), "cache");
        write(&scratch(&run, 1).join("output.md"), "summary");
        write(&verification_log(&run, 1), "step output\n");
        write(&verification_scratch(&run, 1).join("tmp/a"), "a");
        write(&reverification_log(&run, 7), "step output again\n");
        write(&reverification_scratch(&run, 7).join("b"), "b");
        write(&run.join("notes.txt"), "not ade's");
        (dir, run)
    }

    #[test]
    fn each_class_removes_what_it_names_and_nothing_else() {
        let (_dir, run) = folder();
        let removed = forget(&run, &[DataClass::Prompts]).unwrap();
        assert_eq!(
            removed[&DataClass::Prompts],
            Removed {
                files: 2,
                bytes: 12
            }
        );
        assert!(!names(&run).iter().any(|n| n.ends_with(PROMPT_FILE)));
        assert!(names(&run).contains(&"attempt-1/output.md".to_string()));

        let removed = forget(&run, &[DataClass::VerificationLogs]).unwrap();
        assert_eq!(removed[&DataClass::VerificationLogs].files, 2);
        assert!(names(&run).contains(&"attempt-1.log".to_string()));

        let removed = forget(&run, &[DataClass::Scratch]).unwrap();
        assert_eq!(removed[&DataClass::Scratch].files, 4);
        assert_eq!(names(&run), ["attempt-1.log", "notes.txt"]);

        let removed = forget(&run, &[DataClass::RunLogs]).unwrap();
        assert_eq!(removed[&DataClass::RunLogs].files, 1);
        assert_eq!(names(&run), ["notes.txt"]);
    }

    #[test]
    fn forgetting_everything_leaves_no_folder() {
        let (dir, run) = folder();
        std::fs::remove_file(run.join("notes.txt")).unwrap();
        forget(&run, &DataClass::OF_RUNS).unwrap();
        assert!(!run.exists());
        assert_eq!(
            kept_runs(&dir.path().join("runs")).unwrap(),
            Vec::<i64>::new()
        );
        assert!(forget(&run, &DataClass::OF_RUNS).unwrap().is_empty());
    }

    #[test]
    fn scratch_the_agent_locked_and_links_out_are_removed_without_following_them() {
        use std::os::unix::fs::PermissionsExt;
        let (dir, run) = folder();
        let outside = dir.path().join("outside.txt");
        write(&outside, "keep me");
        let home = scratch(&run, 1).join("home");
        std::os::unix::fs::symlink(&outside, home.join("link")).unwrap();
        let locked = home.join("locked");
        write(&locked.join("inner"), "x");
        std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o000)).unwrap();
        forget(&run, &[DataClass::Scratch]).unwrap();
        assert!(!home.exists());
        assert_eq!(std::fs::read_to_string(&outside).unwrap(), "keep me");
    }

    #[test]
    fn names_ade_does_not_write_are_not_its_own() {
        assert_eq!(
            kind("attempt-1.log", false),
            Some(Kind::File(DataClass::RunLogs))
        );
        assert_eq!(
            kind("verify-3.log", false),
            Some(Kind::File(DataClass::VerificationLogs))
        );
        assert_eq!(kind("attempt-2", true), Some(Kind::AttemptScratch));
        for other in [
            "attempt-.log",
            "attempt-x.log",
            "verify-.log",
            "a.log",
            "attempt-1.log.bak",
        ] {
            assert_eq!(kind(other, false), None, "{other}");
        }
        assert_eq!(kind("attempt-1.log", true), None);
        assert_eq!(kind("attempt-1", false), None);
        let dir = tempdir();
        for name in ["3", "12", "x", "007", "-1"] {
            std::fs::create_dir(dir.path().join(name)).unwrap();
        }
        assert_eq!(kept_runs(dir.path()).unwrap(), [3, 12]);
    }
}
