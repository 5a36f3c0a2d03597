//! Starting an agent process and seeing it to its end, shared by every environment: its own
//! process group, stdin per [`StdinSource`], stdout and stderr through one pipe into the run log,
//! the wall-clock timeout and cancel (SIGTERM to the group, a grace, SIGKILL), and the cleanup
//! kill of anything the agent left behind.
//!
//! The agent is not reaped until its process group has been killed: a thread waits for its exit
//! with `waitid(WNOWAIT)`, which leaves it a zombie, so its pid, which is also the group id,
//! cannot be reused by an unrelated process while ade still signals the group.

use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use landlock::RulesetCreated;
use tokio::io::AsyncReadExt;
use tokio::net::unix::pipe;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::cgroup::{self, RunCgroup};
use super::identity::{self, agent_identity};
use super::landlock as confine;
use super::log::RunLog;
use super::netns;
use super::{AgentUser, Ending, EnvError, EnvOptions, Invocation, StdinSource};

/// How long ade keeps reading output after the agent's group is dead: only a process that left
/// the group (setsid) can still hold the pipe open, and ade does not wait for it.
const DRAIN: Duration = Duration::from_secs(2);

/// A process ready to start: the command (program, arguments, environment, folder and user set),
/// what the child does between fork and exec, and how to stop what the command started.
pub(super) struct Launch {
    pub(super) command: Command,
    pub(super) landlock: Option<RulesetCreated>,
    pub(super) cgroup: Option<RunCgroup>,
    /// Whether the child empties its capability bounding set before exec (a root agent then
    /// execs with no capabilities: no module loading, no raw devices, no ptrace).
    pub(super) drop_capabilities: bool,
    /// Whether the child gives up the capabilities a non-root ade switched users with, before
    /// exec ([`identity::shed_capabilities`]).
    pub(super) shed_capabilities: bool,
    /// A file the child keeps open across exec (bubblewrap reads the agent's environment from
    /// it with `--args`); every other fd of ade is close-on-exec.
    pub(super) inherited: Option<OwnedFd>,
    /// A command that stops what the process started outside its group (a container the
    /// runtime's daemon runs), run when the agent is killed.
    pub(super) stop: Option<Command>,
    pub(super) notes: Vec<String>,
    /// The user the child becomes between fork and exec, after joining `netns` (which needs
    /// root): std's `Command::uid` would switch before any `pre_exec` step runs.
    pub(super) user: Option<AgentUser>,
    /// The network namespace the child joins (`isolate.rs`); `None` keeps ade's.
    pub(super) netns: Option<RawFd>,
}

/// How the process ended, with what the supervisor noted along the way.
pub(super) struct Outcome {
    pub(super) ending: Ending,
    pub(super) duration: Duration,
    pub(super) output_seen: u64,
    pub(super) output_kept: u64,
    pub(super) notes: Vec<String>,
}

/// The launch of the `worktree` and `main` environments: the agent itself, as the agent user,
/// in the worktree, with exactly the invocation's environment, under Landlock.
pub(super) fn confined(inv: &Invocation, opts: &EnvOptions) -> Result<Launch, EnvError> {
    let mut command = Command::new(&inv.argv[0]);
    command
        .args(&inv.argv[1..])
        .env_clear()
        .envs(inv.env.iter().map(|(k, v)| (k, v)))
        .current_dir(&inv.worktree);
    let identity = agent_identity(opts, false)?;
    // SAFETY: geteuid has no preconditions and cannot fail.
    let drop_capabilities = identity.user.is_none() && unsafe { libc::geteuid() } == 0;
    let confinement = confine::prepare(inv)?;
    let mut notes = vec![identity.note, confinement.note];
    if drop_capabilities {
        notes.push(
            "capabilities: none (bounding set emptied); the environments of ade and other root \
             processes stay readable through /proc: configure an agent user"
                .to_string(),
        );
    }
    Ok(Launch {
        command,
        landlock: confinement.ruleset,
        cgroup: None,
        drop_capabilities,
        shed_capabilities: identity.shed_capabilities,
        inherited: None,
        stop: None,
        notes,
        user: identity.user,
        netns: None,
    })
}

/// Starts the launch and supervises it to its end; output goes to `log`. `who` names the process
/// in the log's notes (`agent`, `step`).
pub(super) async fn supervise(
    launch: Launch,
    inv: &Invocation,
    opts: &EnvOptions,
    cancel: CancellationToken,
    log: RunLog,
    who: &str,
) -> Result<Outcome, EnvError> {
    let Launch {
        command,
        landlock,
        cgroup,
        drop_capabilities,
        shed_capabilities,
        inherited,
        stop,
        notes: _,
        user,
        netns,
    } = launch;
    let setup = ChildSetup {
        landlock,
        cgroup_procs: cgroup.as_ref().map(|c| c.procs_fd()),
        drop_capabilities,
        shed_capabilities,
        inherited: inherited.as_ref().map(|fd| fd.as_raw_fd()),
        switch: Switch::new(netns, user, &inv.worktree)?,
    };
    let mut running = start(command, &inv.stdin, setup, log)?;
    drop(inherited);
    let pid = running.pid;
    let (stopped_because, mut notes) = wait_for_end(
        &mut running,
        inv.timeout,
        opts,
        &cancel,
        (cgroup.as_ref(), stop),
        who,
    )
    .await?;
    // The agent has exited but is not reaped yet: anything it left in its group dies now.
    signal_group(pid, libc::SIGKILL);
    if let Some(cgroup) = &cgroup {
        cgroup.kill_all();
    }
    let child = running.child.take().expect("the agent is reaped once");
    let status = reap(child).await?;
    let duration = running.started.elapsed();
    let ending = stopped_because.unwrap_or_else(|| ending_of(status));

    let mut log = collect_output(&mut running.output, &running.stop_reading, &mut notes).await?;
    log.finish_output().await?;
    if let Some(cgroup) = cgroup
        && let Err(reason) = cgroup.remove().await
    {
        notes.push(format!("limits: {reason}"));
    }
    notes.push(format!(
        "the {who} {ending} after {:.1} s",
        duration.as_secs_f64()
    ));
    for note in &notes {
        log.note(note).await?;
    }
    log.flush().await?;
    let (output_seen, output_kept) = log.counts();
    Ok(Outcome {
        ending,
        duration,
        output_seen,
        output_kept,
        notes,
    })
}

/// What the child does between fork and exec.
struct ChildSetup {
    landlock: Option<RulesetCreated>,
    cgroup_procs: Option<RawFd>,
    drop_capabilities: bool,
    shed_capabilities: bool,
    inherited: Option<RawFd>,
    switch: Switch,
}

/// The network namespace and user the child takes first, in that order (joining a namespace
/// needs the root it gives up when it switches user).
struct Switch {
    netns: Option<RawFd>,
    user: Option<AgentUser>,
    /// Whether ade holds ambient capabilities (given to make network namespaces when it is not
    /// root), which the child would otherwise keep across exec.
    clear_ambient: bool,
    /// The working folder, entered again as the user, so a folder the user may not enter fails
    /// the start as it did when std switched user first.
    folder: CString,
}

impl Switch {
    fn new(
        netns: Option<RawFd>,
        user: Option<AgentUser>,
        folder: &std::path::Path,
    ) -> Result<Switch, EnvError> {
        let folder =
            CString::new(folder.as_os_str().as_bytes()).map_err(|_| EnvError::MissingPath {
                what: "worktree",
                path: folder.to_path_buf(),
            })?;
        Ok(Switch {
            netns,
            user,
            clear_ambient: holds_ambient_capabilities(),
            folder,
        })
    }

    fn is_empty(&self) -> bool {
        self.netns.is_none() && self.user.is_none() && !self.clear_ambient
    }

    /// Runs in the child between fork and exec: setns(2), prctl(2), setgroups(2), setgid(2),
    /// setuid(2) and chdir(2) on values made before the fork; no allocation.
    fn take(&self) -> io::Result<()> {
        if let Some(fd) = self.netns {
            netns::join_child(fd)?;
        }
        if self.clear_ambient {
            // With CAP_SYS_ADMIN the agent could join ade's own network namespace.
            // SAFETY: prctl with integer arguments only.
            let cleared = unsafe {
                libc::prctl(
                    libc::PR_CAP_AMBIENT,
                    libc::PR_CAP_AMBIENT_CLEAR_ALL,
                    0,
                    0,
                    0,
                )
            };
            if cleared != 0 {
                return Err(io::Error::last_os_error());
            }
        }
        if let Some(user) = self.user {
            // SAFETY: plain system calls on integers and a NUL-terminated string made before
            // the fork.
            unsafe {
                if libc::setgroups(0, std::ptr::null()) != 0
                    || libc::setgid(user.gid) != 0
                    || libc::setuid(user.uid) != 0
                    || libc::chdir(self.folder.as_ptr()) != 0
                {
                    return Err(io::Error::last_os_error());
                }
            }
        }
        Ok(())
    }
}

/// Whether ade's ambient set holds a capability it may be given for network namespaces
/// (`deploy/ade.service`).
fn holds_ambient_capabilities() -> bool {
    // CAP_SYS_ADMIN and CAP_NET_ADMIN (linux/capability.h; libc does not name them).
    [21, 12].iter().any(|cap| {
        // SAFETY: prctl with integer arguments only.
        unsafe {
            libc::prctl(
                libc::PR_CAP_AMBIENT,
                libc::PR_CAP_AMBIENT_IS_SET,
                *cap,
                0,
                0,
            ) == 1
        }
    })
}

/// A started agent: the process, the task copying its output, and the exit watcher. Dropped
/// before the agent is reaped (the run's task was aborted), it kills the agent's group and reaps
/// it in the background: an agent never outlives the run that started it.
struct Running {
    child: Option<Child>,
    pid: libc::pid_t,
    started: Instant,
    output: JoinHandle<(RunLog, Option<String>, bool)>,
    stop_reading: CancellationToken,
    exited: JoinHandle<io::Result<()>>,
}

/// Spawns the process in its own group with stdout and stderr on one pipe read into `log`.
fn start(
    mut command: Command,
    stdin: &StdinSource,
    setup: ChildSetup,
    log: RunLog,
) -> Result<Running, EnvError> {
    let program = command.get_program().to_string_lossy().into_owned();
    let spawn_error = |source| EnvError::Spawn {
        program: program.clone(),
        source,
    };
    let stdin = match stdin {
        StdinSource::Null => Stdio::null(),
        StdinSource::File(path) => {
            Stdio::from(std::fs::File::open(path).map_err(|source| EnvError::Stdin {
                path: path.clone(),
                source,
            })?)
        }
    };
    let (reader, writer) = io::pipe().map_err(spawn_error)?;
    let receiver = pipe::Receiver::from_owned_fd(OwnedFd::from(reader)).map_err(spawn_error)?;
    let writer_copy = writer.try_clone().map_err(spawn_error)?;
    command
        .stdin(stdin)
        .stdout(writer_copy)
        .stderr(writer)
        .process_group(0);
    install_child_setup(&mut command, setup);
    let started = Instant::now();
    let spawned = command.spawn();
    // The command holds the pipe's write ends and the Landlock ruleset: drop them in ade so the
    // agent's exit ends the output.
    drop(command);
    let child = spawned.map_err(spawn_error)?;
    let pid = child.id() as libc::pid_t;
    let stop_reading = CancellationToken::new();
    Ok(Running {
        child: Some(child),
        pid,
        started,
        output: tokio::spawn(stream_output(receiver, log, stop_reading.clone())),
        stop_reading,
        exited: tokio::task::spawn_blocking(move || wait_exited(pid)),
    })
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            signal_group(self.pid, libc::SIGKILL);
            self.stop_reading.cancel();
            std::thread::spawn(move || child.wait());
        }
    }
}

/// Waits for the agent to exit, stopping it on timeout or cancel: SIGTERM to its group, then
/// after the grace SIGKILL (and the runtime's stop command). Returns why ade stopped it, if it
/// did, and what to note.
async fn wait_for_end(
    running: &mut Running,
    timeout: Duration,
    opts: &EnvOptions,
    cancel: &CancellationToken,
    (cgroup, stop): (Option<&RunCgroup>, Option<Command>),
    who: &str,
) -> Result<(Option<Ending>, Vec<String>), EnvError> {
    let pid = running.pid;
    let stopped_because = tokio::select! {
        result = &mut running.exited => {
            result_of_wait(result, pid)?;
            return Ok((None, Vec::new()));
        }
        _ = tokio::time::sleep(timeout) => Ending::TimedOut,
        _ = cancel.cancelled() => Ending::Cancelled,
    };
    let mut notes = Vec::new();
    signal_group(pid, libc::SIGTERM);
    tokio::select! {
        result = &mut running.exited => result_of_wait(result, pid)?,
        _ = tokio::time::sleep(opts.kill_grace) => {
            notes.push(format!(
                "{}: the {who} was still running {} s after SIGTERM, so its process group got \
                 SIGKILL",
                match stopped_because {
                    Ending::Cancelled => "cancel",
                    _ => "timeout",
                },
                opts.kill_grace.as_secs_f64()
            ));
            kill_everything(pid, cgroup, stop).await;
            result_of_wait((&mut running.exited).await, pid)?;
        }
    }
    Ok((Some(stopped_because), notes))
}

/// Waits for the output task to see the pipe close, or stops it after [`DRAIN`] when a
/// process that left the group still holds the pipe.
async fn collect_output(
    output: &mut JoinHandle<(RunLog, Option<String>, bool)>,
    stop_reading: &CancellationToken,
    notes: &mut Vec<String>,
) -> Result<RunLog, EnvError> {
    let joined = match tokio::time::timeout(DRAIN, &mut *output).await {
        Ok(joined) => joined,
        Err(_) => {
            stop_reading.cancel();
            output.await
        }
    };
    let (log, read_error, held_open) = joined.map_err(|e| EnvError::Wait(io::Error::other(e)))?;
    if held_open {
        notes.push(
            "output: a process outside the agent's process group still held its output open; \
             ade stopped reading"
                .to_string(),
        );
    }
    if let Some(error) = read_error {
        notes.push(format!(
            "output: reading the agent's output failed: {error}"
        ));
    }
    Ok(log)
}

/// Installs what the child does between fork and exec, after std has set its process group:
/// join the agent's network namespace and drop to the agent user, join the run cgroup, give up
/// capabilities, then restrict itself with Landlock.
fn install_child_setup(command: &mut Command, setup: ChildSetup) {
    let ChildSetup {
        mut landlock,
        cgroup_procs,
        drop_capabilities,
        shed_capabilities,
        inherited,
        switch,
    } = setup;
    if landlock.is_none()
        && cgroup_procs.is_none()
        && !drop_capabilities
        && !shed_capabilities
        && inherited.is_none()
        && switch.is_empty()
    {
        return;
    }
    let setup = move || -> io::Result<()> {
        switch.take()?;
        if let Some(fd) = cgroup_procs {
            cgroup::join_child(fd)?;
        }
        if let Some(fd) = inherited {
            // SAFETY: fcntl on an fd the parent keeps open until the child has exec'd.
            if unsafe { libc::fcntl(fd, libc::F_SETFD, 0) } != 0 {
                return Err(io::Error::last_os_error());
            }
        }
        if drop_capabilities {
            drop_all_capabilities()?;
        }
        if shed_capabilities {
            identity::shed_capabilities()?;
        }
        if let Some(ruleset) = landlock.take() {
            confine::restrict_child(ruleset)?;
        }
        Ok(())
    };
    // SAFETY: the closure runs in the forked child of a multi-threaded process. It makes only
    // setns(2), setgroups(2), setgid(2), setuid(2), chdir(2) (`Switch::take`), write(2),
    // fcntl(2), prctl(2), capset(2) and landlock_restrict_self(2) calls on fds opened before the
    // fork and builds plain values: it neither allocates nor takes locks (see `landlock::restrict_child`
    // and `cgroup::join_child`).
    unsafe {
        command.pre_exec(setup);
    }
}

/// Empties the capability bounding set and the ambient set, so the exec'd agent has no
/// capabilities even as uid 0. Runs in the child between fork and exec: prctl(2) calls only.
fn drop_all_capabilities() -> io::Result<()> {
    for capability in 0..64 {
        // SAFETY: prctl with integer arguments only.
        if unsafe { libc::prctl(libc::PR_CAPBSET_DROP, capability, 0, 0, 0) } != 0 {
            let error = io::Error::last_os_error();
            // Capabilities past the kernel's last one are EINVAL: the set is empty there.
            if error.raw_os_error() == Some(libc::EINVAL) {
                break;
            }
            return Err(error);
        }
    }
    // SAFETY: prctl with integer arguments only.
    let cleared = unsafe {
        libc::prctl(
            libc::PR_CAP_AMBIENT,
            libc::PR_CAP_AMBIENT_CLEAR_ALL,
            0,
            0,
            0,
        )
    };
    if cleared != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Reads the agent's output into the run log until the pipe closes or ade stops reading.
/// Returns the log, a read error if one ended the reading, and whether ade stopped first.
async fn stream_output(
    mut receiver: pipe::Receiver,
    mut log: RunLog,
    stop: CancellationToken,
) -> (RunLog, Option<String>, bool) {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        tokio::select! {
            biased;
            _ = stop.cancelled() => return (log, None, true),
            read = receiver.read(&mut buf) => match read {
                Ok(0) => return (log, None, false),
                Ok(n) => {
                    if let Err(error) = log.output(&buf[..n]).await {
                        return (log, Some(error.to_string()), false);
                    }
                }
                Err(error) => return (log, Some(error.to_string()), false),
            },
        }
    }
}

/// Blocks until the process has exited, leaving it unreaped.
fn wait_exited(pid: libc::pid_t) -> io::Result<()> {
    loop {
        // SAFETY: waitid writes only into the zeroed siginfo it is given.
        let result = unsafe {
            let mut info: libc::siginfo_t = std::mem::zeroed();
            libc::waitid(
                libc::P_PID,
                pid as libc::id_t,
                &mut info,
                libc::WEXITED | libc::WNOWAIT,
            )
        };
        if result == 0 {
            return Ok(());
        }
        let error = io::Error::last_os_error();
        if error.kind() != io::ErrorKind::Interrupted {
            return Err(error);
        }
    }
}

fn result_of_wait(
    joined: Result<io::Result<()>, tokio::task::JoinError>,
    pid: libc::pid_t,
) -> Result<(), EnvError> {
    let result = joined.map_err(|e| EnvError::Wait(io::Error::other(e)))?;
    result.map_err(|error| {
        signal_group(pid, libc::SIGKILL);
        EnvError::Wait(error)
    })
}

async fn reap(mut child: Child) -> Result<ExitStatus, EnvError> {
    tokio::task::spawn_blocking(move || child.wait())
        .await
        .map_err(|e| EnvError::Wait(io::Error::other(e)))?
        .map_err(EnvError::Wait)
}

fn ending_of(status: ExitStatus) -> Ending {
    match (status.code(), status.signal()) {
        (Some(code), _) => Ending::Exited { code },
        (None, Some(signal)) => Ending::Signalled { signal },
        (None, None) => Ending::Exited { code: -1 },
    }
}

/// Sends a signal to the agent's process group (its pgid is its pid); a group already gone is
/// not an error.
fn signal_group(pgid: libc::pid_t, signal: libc::c_int) {
    // SAFETY: kill(2) with a negative pid signals that process group; no memory is involved.
    unsafe {
        libc::kill(-pgid, signal);
    }
}

/// SIGKILL to the group, `cgroup.kill` when there is a run cgroup, and the runtime's stop
/// command for a container its daemon runs.
async fn kill_everything(pgid: libc::pid_t, cgroup: Option<&RunCgroup>, stop: Option<Command>) {
    signal_group(pgid, libc::SIGKILL);
    if let Some(cgroup) = cgroup {
        cgroup.kill_all();
    }
    if let Some(stop) = stop {
        let mut stop = tokio::process::Command::from(stop);
        stop.stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true);
        let _ = tokio::time::timeout(Duration::from_secs(20), stop.status()).await;
    }
}
