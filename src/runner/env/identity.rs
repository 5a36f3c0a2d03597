//! Who an agent process runs as. Agents never run as ade's own user: ade switches to the
//! configured agent user when it is root, or when a service manager gave a non-root ade the
//! capabilities to do so (docs/agents.md, "Who agents run as"); a bubblewrap sandbox's user
//! namespace is the one place an agent may keep ade's user id, because the sandbox shows it
//! nothing of ade's. Anything else is refused with what to configure.

use super::{AgentUser, EnvError, EnvOptions};

/// The capabilities a non-root ade needs to run agents as another user, with what each is for:
/// switching user and group, handing the worktree and scratch folder to the agent user, taking
/// back (and reading) what the agent left with its own permissions, signalling the agent's
/// process group on timeout and cancel, and finding what it left running (its `/proc` entries).
pub const SWITCH_CAPABILITIES: &[(u32, &str)] = &[
    (7, "CAP_SETUID"),
    (6, "CAP_SETGID"),
    (0, "CAP_CHOWN"),
    (3, "CAP_FOWNER"),
    (1, "CAP_DAC_OVERRIDE"),
    (5, "CAP_KILL"),
    (19, "CAP_SYS_PTRACE"),
];

/// How the child process takes its identity.
#[derive(Debug)]
pub(super) struct Identity {
    /// The user to switch to between fork and exec; `None` keeps ade's.
    pub(super) user: Option<AgentUser>,
    /// The switch kept ade's capabilities (a non-root ade switching with CAP_SETUID keeps them
    /// in the child): the child gives them all up, and raises no-new-privileges, before exec.
    pub(super) shed_capabilities: bool,
    /// The run log line saying who the process runs as.
    pub(super) note: String,
}

/// Whether ade may run agents as another user: it is root, or it holds every capability of
/// [`SWITCH_CAPABILITIES`] (given by `AmbientCapabilities=` in deploy/ade.service).
pub fn can_switch_users() -> bool {
    euid() == 0 || missing_capabilities().is_empty()
}

/// The capabilities of [`SWITCH_CAPABILITIES`] this process lacks, by name.
pub fn missing_capabilities() -> Vec<&'static str> {
    let effective = effective_capabilities();
    SWITCH_CAPABILITIES
        .iter()
        .filter(|(bit, _)| effective & (1u64 << bit) == 0)
        .map(|(_, name)| *name)
        .collect()
}

/// The identity of a process about to start. `sandboxed` says the process starts inside a
/// bubblewrap sandbox of its own, whose user namespace and mounts keep it from ade's files.
pub(super) fn agent_identity(opts: &EnvOptions, sandboxed: bool) -> Result<Identity, EnvError> {
    let euid = euid();
    if euid == 0 {
        return Ok(match opts.agent_user {
            Some(user) => Identity {
                user: Some(user),
                shed_capabilities: false,
                note: format!(
                    "user: uid {} gid {}, supplementary groups dropped",
                    user.uid, user.gid
                ),
            },
            None => Identity {
                user: None,
                shed_capabilities: false,
                note: "user: root, because no agent user is configured; it may read and write \
                       what root owns wherever its confinement allows"
                    .to_string(),
            },
        });
    }
    let missing = missing_capabilities();
    match opts.agent_user {
        Some(user) if user.uid != euid && user.uid != 0 && missing.is_empty() => Ok(Identity {
            user: Some(user),
            shed_capabilities: true,
            note: format!(
                "user: uid {} gid {}, supplementary groups dropped; switched with ade's \
                 capabilities, none of which the process keeps",
                user.uid, user.gid
            ),
        }),
        _ if sandboxed => Ok(Identity {
            user: None,
            shed_capabilities: false,
            note: format!(
                "user: ade's own (uid {euid}) outside the sandbox's user namespace, which shows \
                 it only its worktree, its scratch folder and the system folders"
            ),
        }),
        configured => Err(EnvError::OwnUser {
            uid: euid,
            remedy: remedy(configured, euid, &missing),
        }),
    }
}

/// What to configure so agents stop running as ade's own user.
fn remedy(configured: Option<AgentUser>, euid: u32, missing: &[&str]) -> String {
    let give = format!(
        "give ade {} (AmbientCapabilities= in deploy/ade.service)",
        SWITCH_CAPABILITIES
            .iter()
            .map(|(_, name)| *name)
            .collect::<Vec<_>>()
            .join(" ")
    );
    match configured {
        Some(user) if user.uid == 0 => {
            format!("runner.agent_user is root; name an unprivileged user, and {give}")
        }
        Some(user) if user.uid == euid => format!(
            "runner.agent_user names ade's own user; name another unprivileged user, and {give}"
        ),
        _ if !missing.is_empty() => format!(
            "ade lacks {} to run it as another user: {give} and set runner.agent_user to an \
             unprivileged user, run ade as root, or run the agent in the container environment \
             (bubblewrap)",
            missing.join(", ")
        ),
        _ => "set runner.agent_user to an unprivileged user other than ade's own".to_owned(),
    }
}

/// Clears this thread's ambient capabilities, so that no process ade starts (git, a container
/// runtime, an agent's version command) inherits what a service manager gave ade; ade keeps its
/// permitted and effective sets, which switching users needs. Called first thing in `main`,
/// while ade has one thread: threads inherit the set from the one that makes them.
pub fn keep_capabilities_to_ade() {
    // SAFETY: prctl with integer arguments only.
    unsafe {
        libc::prctl(
            libc::PR_CAP_AMBIENT,
            libc::PR_CAP_AMBIENT_CLEAR_ALL,
            0,
            0,
            0,
        );
    }
}

fn euid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

/// The effective capability set, from `/proc/self/status` (`CapEff`); empty when unreadable.
fn effective_capabilities() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|line| line.strip_prefix("CapEff:"))
                .and_then(|hex| u64::from_str_radix(hex.trim(), 16).ok())
        })
        .unwrap_or(0)
}

/// Gives up every capability the child holds and raises no-new-privileges, so the exec'd agent
/// starts with none and can gain none (a setuid program included). Runs in the child between
/// fork and exec, after the user switch: prctl(2) and capset(2) on stack values only.
pub(super) fn shed_capabilities() -> std::io::Result<()> {
    #[repr(C)]
    struct Header {
        version: u32,
        pid: i32,
    }
    #[repr(C)]
    #[derive(Clone, Copy)]
    struct Data {
        effective: u32,
        permitted: u32,
        inheritable: u32,
    }
    const VERSION_3: u32 = 0x2008_0522;
    // SAFETY: prctl with integer arguments only.
    if unsafe {
        libc::prctl(
            libc::PR_CAP_AMBIENT,
            libc::PR_CAP_AMBIENT_CLEAR_ALL,
            0,
            0,
            0,
        )
    } != 0
    {
        return Err(std::io::Error::last_os_error());
    }
    let header = Header {
        version: VERSION_3,
        pid: 0,
    };
    let none = [Data {
        effective: 0,
        permitted: 0,
        inheritable: 0,
    }; 2];
    // SAFETY: capset reads the header and two data structs, laid out as the kernel's
    // `__user_cap_header_struct` and `__user_cap_data_struct` (version 3), from the stack.
    if unsafe { libc::syscall(libc::SYS_capset, &header, none.as_ptr()) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: prctl with integer arguments only.
    if unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_remedy_names_what_is_missing_and_every_way_out() {
        let user = AgentUser {
            uid: 65534,
            gid: 65534,
        };
        let lacking = remedy(Some(user), 1000, &["CAP_SETUID", "CAP_CHOWN"]);
        assert!(
            lacking.starts_with("ade lacks CAP_SETUID, CAP_CHOWN"),
            "{lacking}"
        );
        assert!(lacking.contains("AmbientCapabilities="), "{lacking}");
        assert!(lacking.contains("container environment"), "{lacking}");
        let own = remedy(
            Some(AgentUser {
                uid: 1000,
                gid: 1000,
            }),
            1000,
            &[],
        );
        assert!(
            own.starts_with("runner.agent_user names ade's own user"),
            "{own}"
        );
        let unset = remedy(None, 1000, &[]);
        assert!(unset.starts_with("set runner.agent_user"), "{unset}");
        let root = remedy(Some(AgentUser { uid: 0, gid: 0 }), 1000, &[]);
        assert!(root.starts_with("runner.agent_user is root"), "{root}");
    }

    #[test]
    fn a_root_ade_switches_to_the_agent_user_and_keeps_its_own_without_one() {
        if euid() != 0 {
            eprintln!("skipped: the root cases need ade's tests to run as root");
            return;
        }
        assert!(can_switch_users());
        let opts = EnvOptions {
            agent_user: Some(AgentUser {
                uid: 65534,
                gid: 65534,
            }),
            ..EnvOptions::default()
        };
        let switched = agent_identity(&opts, false).unwrap();
        assert_eq!(switched.user.map(|u| u.uid), Some(65534));
        assert!(!switched.shed_capabilities);
        let root = agent_identity(&EnvOptions::default(), false).unwrap();
        assert!(root.user.is_none());
        assert!(root.note.starts_with("user: root"), "{}", root.note);
    }
}
