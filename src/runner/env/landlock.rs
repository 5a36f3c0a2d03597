//! Filesystem confinement with Landlock for the `worktree` and `main` environments: the agent may
//! read and write its worktree (or checkout) and the run's scratch folder, read and execute the
//! system folders a tool needs, and nothing else; signals and abstract unix sockets cannot reach
//! processes outside its domain (ade included), and Landlock's ptrace rule keeps it out of
//! `/proc/<ade>/environ` and `/proc/<ade>/mem`.
//!
//! The ruleset is built in ade's process before the fork: opening the rule paths, allocating and
//! the `landlock_add_rule` calls all happen there. In the child, between fork and exec, only
//! [`RulesetCreated::restrict_self`] runs, which is `prctl(PR_SET_NO_NEW_PRIVS)` and
//! `landlock_restrict_self` on the already open ruleset fd, plus building a plain status value:
//! no allocation and no lock, so it is safe in the child of a multi-threaded process (checked
//! against the `landlock` 0.4 source). The ruleset fd is close-on-exec, so the agent never holds
//! it.

use std::io;
use std::path::{Path, PathBuf};

use landlock::{
    ABI, Access, AccessFs, BitFlags, CompatLevel, Compatible, Errno, PathBeneath, PathFd,
    RestrictionStatus, Ruleset, RulesetAttr, RulesetCreated, RulesetCreatedAttr, RulesetStatus,
    Scope, path_beneath_rules,
};

use super::{EnvError, Environment, Invocation, PathAccess};

/// The Landlock ABI whose rights ade asks for: filesystem rights up to ioctl on devices (ABI 5),
/// signal and abstract unix socket scopes (ABI 6). Newer rights are not requested until tested.
const VETTED_ABI: ABI = ABI::V6;

/// System folders a tool needs to read and execute from.
const SYSTEM_READ_EXECUTE: &[&str] = super::SYSTEM_FOLDERS;

/// Kernel views a tool reads (CPU count, its own /proc/self); not executable.
const SYSTEM_READ: &[&str] = &["/proc", "/sys"];

/// Devices a tool may read and write.
const DEVICES: &[&str] = &[
    "/dev/null",
    "/dev/zero",
    "/dev/full",
    "/dev/random",
    "/dev/urandom",
];

/// Whether this kernel can confine agents with Landlock, for the run log and `ade doctor`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LandlockSupport {
    /// Landlock works; the kernel's ABI version.
    Available {
        /// `landlock_create_ruleset(NULL, 0, LANDLOCK_CREATE_RULESET_VERSION)`.
        abi: i32,
    },
    /// Landlock cannot be used, and why (not built in, not enabled at boot, filtered).
    Unavailable {
        /// The reason in words.
        reason: String,
    },
}

/// Asks the kernel which Landlock ABI it offers.
pub fn landlock_support() -> LandlockSupport {
    // SAFETY: with a null attribute pointer, size 0 and the VERSION flag, the call only returns
    // the ABI version (or an error); it reads and writes no memory.
    let abi = unsafe {
        libc::syscall(
            libc::SYS_landlock_create_ruleset,
            std::ptr::null::<libc::c_void>(),
            0usize,
            1u32, // LANDLOCK_CREATE_RULESET_VERSION
        )
    };
    if abi >= 1 {
        return LandlockSupport::Available { abi: abi as i32 };
    }
    let error = io::Error::last_os_error();
    let reason = match error.raw_os_error() {
        Some(libc::ENOSYS) => format!("the kernel is built without Landlock: {error}"),
        Some(libc::EOPNOTSUPP) => {
            format!("Landlock is built in but not enabled at boot (lsm=): {error}")
        }
        _ => format!("landlock_create_ruleset failed: {error}"),
    };
    LandlockSupport::Unavailable { reason }
}

/// A prepared confinement: the ruleset to apply in the child (none when the kernel has no
/// Landlock) and the note for the run log.
pub(super) struct Confinement {
    pub(super) ruleset: Option<RulesetCreated>,
    pub(super) note: String,
}

/// Builds the ruleset for one invocation, or says plainly why the agent runs unconfined; an
/// invocation whose worktree must stay read-only is refused where Landlock is missing.
pub(super) fn prepare(inv: &Invocation) -> Result<Confinement, EnvError> {
    prepare_with(inv, landlock_support())
}

fn prepare_with(inv: &Invocation, support: LandlockSupport) -> Result<Confinement, EnvError> {
    let abi = match support {
        LandlockSupport::Available { abi } => abi,
        LandlockSupport::Unavailable { reason } => {
            if inv.worktree_access != PathAccess::ReadWrite {
                let unavailable = LandlockSupport::Unavailable { reason };
                let refusal = read_only_refusal(inv.environment, &unavailable)
                    .unwrap_or_else(|| "Landlock is not available".to_owned());
                return Err(EnvError::ReadOnly(refusal));
            }
            return Ok(Confinement {
                ruleset: None,
                note: not_confined_note(&reason),
            });
        }
    };
    let mut read_write: Vec<&Path> = Vec::new();
    let mut read_only: Vec<&Path> = Vec::new();
    let mut read_execute: Vec<&Path> = Vec::new();
    let mut grants: Vec<(&Path, PathAccess)> = vec![
        (&inv.worktree, inv.worktree_access),
        (&inv.scratch, PathAccess::ReadWrite),
    ];
    grants.extend(inv.extra_paths.iter().map(|g| (g.path.as_path(), g.access)));
    for (path, access) in grants {
        match access {
            PathAccess::ReadWrite => read_write.push(path),
            PathAccess::ReadExecute => read_execute.push(path),
            PathAccess::Read => read_only.push(path),
        }
    }
    if inv.worktree_access != PathAccess::ReadWrite
        && let Some(above) = read_write.iter().find(|p| inv.worktree.starts_with(p))
    {
        // Landlock adds up the rights of every rule above a path.
        return Err(EnvError::ReadOnly(format!(
            "the worktree {} must be read-only, but {} holds it and is writable",
            inv.worktree.display(),
            above.display()
        )));
    }
    let ruleset = build(&read_write, &read_execute, &read_only)
        .map_err(|(path, reason)| EnvError::Landlock { path, reason })?;
    let mut note = confined_note(abi, &read_write, &read_execute, &read_only);
    if inv.worktree_access != PathAccess::ReadWrite {
        note.push_str(&format!(
            "; the worktree {} is read-only: writing, creating, renaming or removing files in it is refused",
            inv.worktree.display()
        ));
    }
    Ok(Confinement {
        ruleset: Some(ruleset),
        note,
    })
}

/// Why `environment` cannot keep an agent's worktree read-only on a kernel with `support`, if it
/// cannot: `worktree` and `main` rely on Landlock for it, `container` on a read-only mount. A
/// planner is refused with this reason rather than run with a writable worktree.
pub fn read_only_refusal(environment: Environment, support: &LandlockSupport) -> Option<String> {
    match (environment, support) {
        (Environment::Container, _) | (_, LandlockSupport::Available { .. }) => None,
        (_, LandlockSupport::Unavailable { reason }) => Some(format!(
            "a planner's worktree must be read-only, and in the {} environment only Landlock can \
             make it so, which this kernel does not offer ({reason}): run planners in the \
             container environment (environment = \"container\" in the planner agent's \
             registration, with container allowed by the policy's execution.environments), or \
             boot a kernel with Landlock enabled (lsm=...,landlock)",
            environment.as_str()
        )),
    }
}

/// The run log line for a kernel without Landlock.
pub(super) fn not_confined_note(reason: &str) -> String {
    format!("landlock: not available on this kernel ({reason}); the agent is not confined")
}

fn confined_note(
    abi: i32,
    read_write: &[&Path],
    read_execute: &[&Path],
    read_only: &[&Path],
) -> String {
    let list = |paths: &[&Path]| {
        paths
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut note = format!(
        "landlock: kernel ABI {abi}; read-write {}; read and execute {}{}; read {}{}; devices {}; \
         nothing else is readable or writable (home folders and /tmp included)",
        list(read_write),
        SYSTEM_READ_EXECUTE.join(", "),
        if read_execute.is_empty() {
            String::new()
        } else {
            format!(", {}", list(read_execute))
        },
        SYSTEM_READ.join(", "),
        if read_only.is_empty() {
            String::new()
        } else {
            format!(", {}", list(read_only))
        },
        DEVICES.join(", "),
    );
    if abi >= 6 {
        note.push_str("; signals and abstract unix sockets outside the agent are blocked");
    } else {
        note.push_str(&format!(
            "; rights newer than ABI {abi} (ABI 6: signal and socket scoping) are not enforced"
        ));
    }
    note
}

type RuleError = (PathBuf, String);

fn build(
    read_write: &[&Path],
    read_execute: &[&Path],
    read_only: &[&Path],
) -> Result<RulesetCreated, RuleError> {
    let whole = |reason: landlock::RulesetError| (PathBuf::from("(ruleset)"), reason.to_string());
    let all = AccessFs::from_all(VETTED_ABI);
    let read_execute_access = AccessFs::from_read(VETTED_ABI);
    let read: BitFlags<AccessFs> = AccessFs::ReadFile | AccessFs::ReadDir;
    let mut ruleset = Ruleset::default()
        .set_compatibility(CompatLevel::BestEffort)
        .handle_access(all)
        .map_err(whole)?
        .scope(Scope::from_all(VETTED_ABI))
        .map_err(whole)?
        .create()
        .map_err(whole)?;
    for path in read_write {
        ruleset = add_path(ruleset, path, all)?;
    }
    for path in read_execute {
        ruleset = add_path(ruleset, path, read_execute_access)?;
    }
    for path in read_only {
        ruleset = add_path(ruleset, path, read)?;
    }
    ruleset = ruleset
        .add_rules(path_beneath_rules(SYSTEM_READ_EXECUTE, read_execute_access))
        .map_err(whole)?
        .add_rules(path_beneath_rules(SYSTEM_READ, read))
        .map_err(whole)?
        .add_rules(path_beneath_rules(DEVICES, AccessFs::from_file(VETTED_ABI)))
        .map_err(whole)?;
    Ok(ruleset)
}

/// Adds a rule for a path that must exist (the worktree, scratch, an extra path); files get the
/// file subset of the rights.
fn add_path(
    ruleset: RulesetCreated,
    path: &Path,
    access: BitFlags<AccessFs>,
) -> Result<RulesetCreated, RuleError> {
    let fd = PathFd::new(path).map_err(|e| (path.to_path_buf(), e.to_string()))?;
    let access = if path.is_dir() {
        access
    } else {
        access & AccessFs::from_file(VETTED_ABI)
    };
    ruleset
        .add_rule(PathBeneath::new(fd, access))
        .map_err(|e| (path.to_path_buf(), e.to_string()))
}

/// Applies a prepared ruleset to the calling process. Runs in the child between fork and exec,
/// so it must not allocate: see the module comment.
pub(super) fn restrict_child(ruleset: RulesetCreated) -> io::Result<()> {
    match ruleset.restrict_self() {
        Ok(RestrictionStatus {
            ruleset: RulesetStatus::NotEnforced,
            ..
        }) => Err(io::Error::from_raw_os_error(libc::ENOSYS)),
        Ok(_) => Ok(()),
        Err(error) => Err(io::Error::from_raw_os_error(*Errno::from(error))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_unavailable_note_says_plainly_that_the_agent_is_not_confined() {
        let note = not_confined_note("the kernel is built without Landlock");
        assert_eq!(
            note,
            "landlock: not available on this kernel (the kernel is built without Landlock); \
             the agent is not confined"
        );
    }

    #[test]
    fn the_confined_note_names_what_is_writable_and_what_an_old_abi_lacks() {
        let wt = Path::new("/runs/wt");
        let scratch = Path::new("/runs/scratch");
        let note = confined_note(4, &[wt, scratch], &[], &[]);
        assert!(
            note.contains("read-write /runs/wt, /runs/scratch;"),
            "{note}"
        );
        assert!(note.contains("ABI 6: signal and socket scoping"), "{note}");
        let note = confined_note(6, &[wt], &[Path::new("/agents")], &[Path::new("/mirror")]);
        assert!(note.contains(", /mirror;"), "{note}");
        assert!(note.contains("/opt, /agents; read"), "{note}");
        assert!(note.ends_with("outside the agent are blocked"), "{note}");
    }

    fn read_only(environment: Environment) -> Invocation {
        let dir = std::env::temp_dir();
        let mut inv = Invocation::new(vec!["agent".into()], dir.clone(), dir.clone(), dir);
        inv.worktree_access = PathAccess::Read;
        inv.environment = environment;
        inv
    }

    #[test]
    fn without_landlock_a_read_only_worktree_is_refused_naming_what_to_configure() {
        let unavailable = LandlockSupport::Unavailable {
            reason: "the kernel is built without Landlock".into(),
        };
        for environment in [Environment::Worktree, Environment::Main] {
            let Err(error) = prepare_with(&read_only(environment), unavailable.clone()) else {
                panic!("a read-only worktree without Landlock is refused");
            };
            assert!(error.is_setup());
            let text = error.to_string();
            assert!(
                text.contains("the kernel is built without Landlock"),
                "{text}"
            );
            assert!(text.contains("environment = \"container\""), "{text}");
            assert!(text.contains(environment.as_str()), "{text}");
        }
        assert_eq!(
            read_only_refusal(Environment::Container, &unavailable),
            None
        );
        assert_eq!(
            read_only_refusal(
                Environment::Worktree,
                &LandlockSupport::Available { abi: 6 }
            ),
            None
        );
        let mut writable = read_only(Environment::Worktree);
        writable.worktree_access = PathAccess::ReadWrite;
        let confinement = prepare_with(&writable, unavailable).expect("a run goes on unconfined");
        assert!(confinement.ruleset.is_none());
    }

    #[test]
    fn a_read_only_worktree_under_a_writable_folder_is_refused() {
        if let LandlockSupport::Unavailable { reason } = landlock_support() {
            eprintln!("skipped: landlock is not available on this kernel ({reason})");
            return;
        }
        let inv = read_only(Environment::Worktree);
        let Err(error) = prepare(&inv) else {
            panic!("the scratch folder holding the worktree would make it writable");
        };
        assert!(error.to_string().contains("must be read-only"), "{error}");
    }

    #[test]
    fn a_ruleset_for_existing_and_missing_paths_builds_where_landlock_is_available() {
        if let LandlockSupport::Unavailable { reason } = landlock_support() {
            eprintln!("skipped: landlock is not available on this kernel ({reason})");
            return;
        }
        let dir = std::env::temp_dir();
        assert!(build(&[&dir], &[Path::new("/usr")], &[Path::new("/etc/hostname")]).is_ok());
        let missing = dir.join(format!("ade-no-such-{:016x}", fastrand::u64(..)));
        let (path, _) = build(&[&missing], &[], &[]).expect_err("a missing path is refused");
        assert_eq!(path, missing);
    }
}
