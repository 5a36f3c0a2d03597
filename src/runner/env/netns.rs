//! A network namespace per run, made in ade's own process without a helper: a short-lived
//! thread unshares its network namespace (namespaces belong to a thread, so no other thread of
//! ade moves), brings loopback up, binds the listeners the egress proxy serves there, keeps a
//! handle on the namespace and ends. The sockets stay in the namespace they were made in, so
//! ade accepts on them from its ordinary tasks, and connects out from its own namespace. The
//! agent joins the namespace between fork and exec ([`join_child`]).

use std::fs::File;
use std::io;
use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

/// A prepared namespace: the handle agents join it by, and the listeners bound inside it.
#[derive(Debug)]
pub(super) struct Namespace {
    /// `/proc/thread-self/ns/net` of the thread that made it, open.
    pub(super) handle: OwnedFd,
    /// The egress proxy's listener, on 127.0.0.1 inside the namespace.
    pub(super) proxy: Option<TcpListener>,
    /// Loopback addresses inside served by forwarding to the same address outside.
    pub(super) forwards: Vec<(SocketAddr, TcpListener)>,
}

/// What a namespace is made with.
pub(super) struct Plan {
    /// Whether the egress proxy listens inside.
    pub(super) proxy: bool,
    /// Loopback addresses forwarded out; an IPv6 one is left out if the namespace has no IPv6.
    pub(super) forwards: Vec<SocketAddr>,
}

/// Makes a namespace per `plan`. The error says what failed; the caller tells the operator what
/// to configure.
pub(super) fn create(plan: Plan) -> io::Result<Namespace> {
    std::thread::Builder::new()
        .name("ade-netns".to_string())
        .spawn(move || inside_new_namespace(plan))?
        .join()
        .map_err(|_| io::Error::other("the thread making the network namespace panicked"))?
}

/// Runs on a thread of its own, which ends right after: the thread is the only one of ade in the
/// new namespace.
fn inside_new_namespace(plan: Plan) -> io::Result<Namespace> {
    // SAFETY: unshare with a flag only; it moves the calling thread alone.
    if unsafe { libc::unshare(libc::CLONE_NEWNET) } != 0 {
        let error = io::Error::last_os_error();
        return Err(io::Error::new(
            error.kind(),
            format!("unshare(CLONE_NEWNET): {error}"),
        ));
    }
    loopback_up().map_err(|e| io::Error::new(e.kind(), format!("bringing lo up: {e}")))?;
    let mut forwards = Vec::new();
    for address in plan.forwards {
        match TcpListener::bind(address) {
            Ok(listener) => forwards.push((address, listener)),
            // A namespace without IPv6 (disabled on the host) serves `localhost` on IPv4 only.
            Err(_) if address.is_ipv6() => {}
            Err(e) => {
                return Err(io::Error::new(
                    e.kind(),
                    format!("listening on {address}: {e}"),
                ));
            }
        }
    }
    let proxy = match plan.proxy {
        true => Some(TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?),
        false => None,
    };
    let handle = OwnedFd::from(File::open("/proc/thread-self/ns/net")?);
    Ok(Namespace {
        handle,
        proxy,
        forwards,
    })
}

/// Sets `lo` up in the calling thread's namespace (a fresh one has it down).
fn loopback_up() -> io::Result<()> {
    // SAFETY: socket(2) with constant arguments; the result is checked and owned below.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: fd was just returned by socket(2) and is owned by nothing else.
    let socket = unsafe { OwnedFd::from_raw_fd(fd) };
    // SAFETY: ifreq is plain data; all zeroes is a valid value.
    let mut request: libc::ifreq = unsafe { std::mem::zeroed() };
    for (slot, byte) in request.ifr_name.iter_mut().zip(b"lo") {
        *slot = *byte as libc::c_char;
    }
    // SAFETY: SIOCGIFFLAGS and SIOCSIFFLAGS read and write the ifreq they are given.
    unsafe {
        if libc::ioctl(socket.as_raw_fd(), libc::SIOCGIFFLAGS, &mut request) != 0 {
            return Err(io::Error::last_os_error());
        }
        request.ifr_ifru.ifru_flags |= (libc::IFF_UP | libc::IFF_RUNNING) as libc::c_short;
        if libc::ioctl(socket.as_raw_fd(), libc::SIOCSIFFLAGS, &request) != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

/// Moves the calling process into the namespace `handle`. Runs in the child between fork and
/// exec, before it gives up root: one setns(2) call, no allocation.
pub(super) fn join_child(handle: RawFd) -> io::Result<()> {
    // SAFETY: setns on an fd the parent keeps open until the child has exec'd.
    if unsafe { libc::setns(handle, libc::CLONE_NEWNET) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}
