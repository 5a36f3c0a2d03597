//! The egress proxy of an `allowlist` agent: the only way out of its network namespace. It
//! serves `CONNECT host:port` for the hosts on the agent's allowlist (matched exactly) and
//! refuses everything else, and it forwards each loopback entry of the allowlist (a model
//! endpoint on the runner itself) from the same address inside the namespace. Every connection,
//! let through or refused, is recorded (`record.rs`).

mod head;
mod record;

use std::io;
use std::net::{IpAddr, SocketAddr, TcpListener as StdListener};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio::task::{JoinHandle, JoinSet};
use tokio_util::sync::CancellationToken;

use self::head::{MAX_HEAD, Refusal};
use self::record::{Connection, Recorder, Verdict};
use super::network::Network;

pub use self::record::{EgressReport, EgressTally};

/// How long an agent has to send its request head.
const HEAD_TIMEOUT: Duration = Duration::from_secs(10);

/// How long connecting to an allowed destination may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// How long connections still open when the agent ended may finish by themselves.
const GRACE: Duration = Duration::from_secs(1);

/// The most connections a run has open at once, through the proxy and its forwards together
/// (each holds two of ade's file descriptors); more are refused (and recorded) until some end.
const MAX_OPEN: usize = 64;

/// How long a tunnel may carry nothing either way before it is closed: what keeps an idle
/// connection from holding ade's file descriptors for the rest of the run.
const IDLE: Duration = Duration::from_secs(600);

/// A running proxy and its forwards. Dropped without [`Egress::stop`] (the run was aborted),
/// it stops accepting and cuts every connection.
pub(super) struct Egress {
    accepting: Vec<JoinHandle<JoinSet<()>>>,
    stop: CancellationToken,
    cut: CancellationToken,
    recorder: Arc<Mutex<Recorder>>,
    proxy: Option<SocketAddr>,
}

/// What one listener does with a connection.
#[derive(Clone)]
enum Serve {
    /// The proxy: CONNECT to a host on the allowlist.
    Proxy(Arc<Network>),
    /// A loopback forward to the same address in ade's namespace.
    Forward(SocketAddr),
}

impl Egress {
    /// Starts serving the listeners made inside the agent's namespace. Needs a tokio runtime.
    pub(super) fn start(
        network: &Network,
        proxy: Option<StdListener>,
        forwards: Vec<(SocketAddr, StdListener)>,
    ) -> io::Result<Egress> {
        let mut egress = Egress {
            accepting: Vec::new(),
            stop: CancellationToken::new(),
            cut: CancellationToken::new(),
            recorder: Arc::new(Mutex::new(Recorder::default())),
            proxy: None,
        };
        let network = Arc::new(network.clone());
        let mut listeners = Vec::new();
        if let Some(listener) = proxy {
            egress.proxy = Some(listener.local_addr()?);
            listeners.push((listener, Serve::Proxy(network)));
        }
        listeners.extend(
            forwards
                .into_iter()
                .map(|(address, listener)| (listener, Serve::Forward(address))),
        );
        let open = Arc::new(Semaphore::new(MAX_OPEN));
        for (listener, serve) in listeners {
            listener.set_nonblocking(true)?;
            let listener = TcpListener::from_std(listener)?;
            egress.accepting.push(tokio::spawn(accept(
                listener,
                serve,
                (egress.stop.clone(), egress.cut.clone()),
                open.clone(),
                egress.recorder.clone(),
            )));
        }
        Ok(egress)
    }

    /// The proxy's address inside the namespace.
    pub(super) fn proxy(&self) -> Option<SocketAddr> {
        self.proxy
    }

    /// Stops accepting, lets open connections end for a moment, cuts the rest, and returns the
    /// run log lines and the report.
    pub(super) async fn stop(mut self) -> (Vec<String>, EgressReport) {
        self.stop.cancel();
        let mut sets = Vec::new();
        for accepting in std::mem::take(&mut self.accepting) {
            if let Ok(set) = accepting.await {
                sets.push(set);
            }
        }
        let drained = tokio::time::timeout(GRACE, drain(&mut sets)).await;
        if drained.is_err() {
            self.cut.cancel();
            if tokio::time::timeout(GRACE, drain(&mut sets)).await.is_err() {
                for set in &mut sets {
                    set.abort_all();
                }
                drain(&mut sets).await;
            }
        }
        let recorder = std::mem::take(&mut *lock(&self.recorder));
        recorder.finish()
    }
}

impl Drop for Egress {
    fn drop(&mut self) {
        self.stop.cancel();
        self.cut.cancel();
    }
}

async fn drain(sets: &mut [JoinSet<()>]) {
    for set in sets {
        while set.join_next().await.is_some() {}
    }
}

fn lock(recorder: &Mutex<Recorder>) -> std::sync::MutexGuard<'_, Recorder> {
    recorder
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Accepts connections until `stop`, each served on a task of its own; returns the tasks still
/// running.
async fn accept(
    listener: TcpListener,
    serve: Serve,
    (stop, cut): (CancellationToken, CancellationToken),
    allowed: Arc<Semaphore>,
    recorder: Arc<Mutex<Recorder>>,
) -> JoinSet<()> {
    let mut open = JoinSet::new();
    loop {
        tokio::select! {
            _ = stop.cancelled() => return open,
            Some(_) = open.join_next(), if !open.is_empty() => {}
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    let Ok(permit) = allowed.clone().try_acquire_owned() else {
                    drop(stream);
                    lock(&recorder).add(Connection {
                        destination: "(a connection past the limit of open ones)".to_string(),
                        direct: matches!(serve, Serve::Forward(_)),
                        verdict: Verdict::Blocked { status: 0, reason: "too many open connections" },
                        bytes_out: 0,
                        bytes_in: 0,
                        duration: Duration::ZERO,
                    });
                    continue;
                    };
                    let recorder = recorder.clone();
                    let cut = cut.clone();
                    let serve = serve.clone();
                    open.spawn(async move {
                        let _permit = permit;
                        let connection = match serve {
                            Serve::Proxy(network) => proxied(stream, &network, &cut).await,
                            Serve::Forward(address) => forwarded(stream, address, &cut).await,
                        };
                        lock(&recorder).add(connection);
                    });
                }
                // Out of fds, for one: wait instead of spinning.
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            },
        }
    }
}

/// Serves one proxy connection: reads the head, checks it against the allowlist, and joins the
/// agent to its destination or answers why not.
async fn proxied(mut client: TcpStream, network: &Network, cut: &CancellationToken) -> Connection {
    let started = Instant::now();
    let mut buf = Vec::with_capacity(1024);
    let head = tokio::time::timeout(HEAD_TIMEOUT, read_head(&mut client, &mut buf))
        .await
        .unwrap_or(Err(Refusal::Incomplete));
    let refused = |destination: String, refusal: Refusal| {
        let (status, _) = refusal.status();
        Connection {
            destination,
            direct: false,
            verdict: Verdict::Blocked {
                status,
                reason: refusal.reason(),
            },
            bytes_out: 0,
            bytes_in: 0,
            duration: started.elapsed(),
        }
    };
    let asked = || match head::first_line(&buf) {
        line if line.is_empty() => "(no request)".to_string(),
        line => format!("{line:?}"),
    };
    let end = match head {
        Ok(end) => end,
        Err(refusal) => {
            answer_refusal(&mut client, refusal).await;
            return refused(asked(), refusal);
        }
    };
    let target = match head::connect_target(&buf[..end]) {
        Ok(target) => target,
        Err(refusal) => {
            answer_refusal(&mut client, refusal).await;
            return refused(asked(), refusal);
        }
    };
    if !network.allows(target.host(), target.port()) {
        answer_refusal(&mut client, Refusal::NotAllowed).await;
        return refused(target.to_string(), Refusal::NotAllowed);
    }
    let host = target.host().trim_start_matches('[').trim_end_matches(']');
    let mut connection = Connection {
        destination: target.to_string(),
        direct: false,
        verdict: Verdict::Allowed { error: None },
        bytes_out: 0,
        bytes_in: 0,
        duration: Duration::ZERO,
    };
    let literal = host.eq_ignore_ascii_case("localhost") || host.parse::<IpAddr>().is_ok();
    let upstream = match connect(host, target.port(), literal).await {
        Ok(upstream) => upstream,
        Err(Unreachable::Inside) => {
            answer_refusal(&mut client, Refusal::Inside).await;
            return refused(target.to_string(), Refusal::Inside);
        }
        Err(Unreachable::Io(error)) => {
            let _ = answer(
                &mut client,
                502,
                "Bad Gateway",
                "the destination cannot be reached",
            )
            .await;
            connection.verdict = Verdict::Allowed {
                error: Some(error.to_string()),
            };
            connection.duration = started.elapsed();
            return connection;
        }
    };
    let established = client
        .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
        .await;
    if established.is_ok() {
        let (out, back) = pump(client, upstream, &buf[end..], cut).await;
        connection.bytes_out = out;
        connection.bytes_in = back;
    }
    connection.duration = started.elapsed();
    connection
}

/// Serves one connection to a forwarded loopback address.
async fn forwarded(client: TcpStream, address: SocketAddr, cut: &CancellationToken) -> Connection {
    let started = Instant::now();
    let mut connection = Connection {
        destination: address.to_string(),
        direct: true,
        verdict: Verdict::Allowed { error: None },
        bytes_out: 0,
        bytes_in: 0,
        duration: Duration::ZERO,
    };
    match tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(address)).await {
        Ok(Ok(upstream)) => {
            let (out, back) = pump(client, upstream, &[], cut).await;
            connection.bytes_out = out;
            connection.bytes_in = back;
        }
        Ok(Err(error)) => {
            connection.verdict = Verdict::Allowed {
                error: Some(error.to_string()),
            }
        }
        Err(_) => {
            connection.verdict = Verdict::Allowed {
                error: Some("connecting timed out".to_string()),
            }
        }
    }
    connection.duration = started.elapsed();
    connection
}

/// Why an allowed destination was not joined.
enum Unreachable {
    /// Its name resolves only to addresses inside the runner (loopback, link-local such as a
    /// cloud's metadata service, unspecified, multicast), which a name on the allowlist never
    /// reaches: only an address or `localhost` written in the allowlist does.
    Inside,
    /// Resolving or connecting failed.
    Io(io::Error),
}

/// Connects out from ade's own namespace (name lookups run on ade's blocking threads, which
/// never enter an agent's namespace) to the first address the name resolves to that is not
/// inside the runner, unless `literal` (the allowlist names the address itself). The address
/// checked is the address connected to, so a name that resolves differently a moment later
/// changes nothing.
async fn connect(host: &str, port: u16, literal: bool) -> Result<TcpStream, Unreachable> {
    let timed_out = || io::Error::new(io::ErrorKind::TimedOut, "connecting timed out");
    let connecting = async {
        let addresses: Vec<SocketAddr> = tokio::net::lookup_host((host, port))
            .await
            .map_err(Unreachable::Io)?
            .collect();
        let outside: Vec<SocketAddr> = addresses
            .iter()
            .copied()
            .filter(|address| literal || !is_inside(address.ip()))
            .collect();
        if outside.is_empty() {
            return Err(if addresses.is_empty() {
                Unreachable::Io(io::Error::new(
                    io::ErrorKind::NotFound,
                    "the name resolves to no address",
                ))
            } else {
                Unreachable::Inside
            });
        }
        TcpStream::connect(&outside[..])
            .await
            .map_err(Unreachable::Io)
    };
    tokio::time::timeout(CONNECT_TIMEOUT, connecting)
        .await
        .unwrap_or_else(|_| Err(Unreachable::Io(timed_out())))
}

/// Whether an address belongs to the runner itself or its link rather than to the network
/// beyond: loopback, unspecified, link-local (169.254.0.0/16, where cloud metadata services
/// answer, and fe80::/10), multicast and broadcast; an IPv4 address mapped into IPv6 is judged as
/// IPv4.
fn is_inside(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            v4.is_loopback()
                || v4.is_unspecified()
                || v4.is_link_local()
                || v4.is_multicast()
                || v4.is_broadcast()
        }
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => is_inside(IpAddr::V4(v4)),
            None => {
                v6.is_loopback()
                    || v6.is_unspecified()
                    || v6.is_multicast()
                    || (v6.segments()[0] & 0xffc0) == 0xfe80
            }
        },
    }
}

/// Reads until the head's blank line; returns where the head ends in `buf` (bytes past it are
/// the start of the tunnel).
async fn read_head(client: &mut TcpStream, buf: &mut Vec<u8>) -> Result<usize, Refusal> {
    let mut chunk = [0u8; 2048];
    loop {
        if let Some(end) = head::end_of_head(buf) {
            return if end > MAX_HEAD {
                Err(Refusal::TooLarge)
            } else {
                Ok(end)
            };
        }
        if buf.len() > MAX_HEAD {
            return Err(Refusal::TooLarge);
        }
        match client.read(&mut chunk).await {
            Ok(0) | Err(_) => return Err(Refusal::Incomplete),
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

async fn answer_refusal(client: &mut TcpStream, refusal: Refusal) {
    let (status, text) = refusal.status();
    let _ = answer(client, status, text, refusal.reason()).await;
}

/// Writes a short plain-text answer and closes the connection.
async fn answer(client: &mut TcpStream, status: u16, text: &str, body: &str) -> io::Result<()> {
    let message = format!(
        "HTTP/1.1 {status} {text}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{body}\n",
        body.len() + 1
    );
    let write = async {
        client.write_all(message.as_bytes()).await?;
        client.shutdown().await
    };
    tokio::time::timeout(Duration::from_secs(2), write)
        .await
        .unwrap_or_else(|_| Err(io::ErrorKind::TimedOut.into()))
}

/// Copies both ways until both sides have finished (or one fails, or `cut`), with `first`
/// sent upstream before anything else; returns the bytes sent each way.
async fn pump(
    client: TcpStream,
    upstream: TcpStream,
    first: &[u8],
    cut: &CancellationToken,
) -> (u64, u64) {
    let (mut client_read, mut client_write) = client.into_split();
    let (mut upstream_read, mut upstream_write) = upstream.into_split();
    let out = AtomicU64::new(0);
    let back = AtomicU64::new(0);
    {
        let outward = async {
            upstream_write.write_all(first).await?;
            out.fetch_add(first.len() as u64, Ordering::Relaxed);
            copy_counted(&mut client_read, &mut upstream_write, &out).await
        };
        let inward = copy_counted(&mut upstream_read, &mut client_write, &back);
        tokio::pin!(outward, inward);
        let (mut outward_done, mut inward_done) = (false, false);
        while !(outward_done && inward_done) {
            tokio::select! {
                result = &mut outward, if !outward_done => match result {
                    Ok(()) => outward_done = true,
                    Err(_) => break,
                },
                result = &mut inward, if !inward_done => match result {
                    Ok(()) => inward_done = true,
                    Err(_) => break,
                },
                _ = cut.cancelled() => break,
            }
        }
    }
    (out.into_inner(), back.into_inner())
}

/// Copies until end of file, then half-closes the writer.
async fn copy_counted<R, W>(from: &mut R, to: &mut W, counted: &AtomicU64) -> io::Result<()>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = tokio::time::timeout(IDLE, from.read(&mut buf))
            .await
            .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "idle too long"))??;
        if n == 0 {
            return to.shutdown().await;
        }
        to.write_all(&buf[..n]).await?;
        counted.fetch_add(n as u64, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_of_the_runner_and_its_link_are_inside() {
        for inside in [
            "127.0.0.1",
            "127.8.9.10",
            "0.0.0.0",
            "169.254.169.254",
            "224.0.0.1",
            "255.255.255.255",
            "::1",
            "::",
            "fe80::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
        ] {
            assert!(is_inside(inside.parse().unwrap()), "{inside}");
        }
        for outside in [
            "160.79.104.10",
            "10.0.0.5",
            "192.168.1.2",
            "2606:4700::1",
            "fd00::1",
        ] {
            assert!(!is_inside(outside.parse().unwrap()), "{outside}");
        }
    }
}
