//! Agent networks with real processes, real curl and real sockets: an `allowlist` agent
//! reaches its listed hosts through ade's egress proxy (or the loopback forward) and nothing
//! else, every attempt recorded; an `off` agent reaches nothing. ade runs these as root here
//! (making a network namespace needs it); elsewhere they are skipped, saying so.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::path::Path;

use ade::runner::env::{AgentReport, Ending, EnvError, HostPort, Invocation, Network, run_agent};
use tokio_util::sync::CancellationToken;

use super::{Scene, is_root, quick_kill};

const CURL: &str = "/usr/bin/curl";

/// Why these tests cannot run here, if they cannot.
fn unusable() -> Option<String> {
    if !is_root() {
        return Some("making a network namespace needs root".to_string());
    }
    if !Path::new(CURL).exists() {
        return Some(format!("{CURL} is not installed"));
    }
    None
}

/// An HTTP server on 127.0.0.1 in the test's own network namespace that answers every request
/// with `hello from PORT`.
fn server() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            std::thread::spawn(move || {
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") && head.len() < 16 * 1024 {
                    match stream.read(&mut byte) {
                        Ok(1) => head.push(byte[0]),
                        _ => return,
                    }
                }
                let body = format!("hello from {port}\n");
                let _ = write!(
                    stream,
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
            });
        }
    });
    port
}

fn allowlist(entries: &[String]) -> Network {
    Network::Allowlist(
        entries
            .iter()
            .map(|e| HostPort::parse(e).unwrap())
            .collect(),
    )
}

fn agent(scene: &Scene, network: Network, body: &str) -> Invocation {
    let script = scene.script("agent.sh", &format!("#!/bin/bash\n{body}"));
    let mut inv = scene.invocation(&[&script]);
    inv.network = network;
    inv
}

async fn run(inv: &Invocation) -> AgentReport {
    let report = run_agent(inv, &quick_kill(), CancellationToken::new())
        .await
        .expect("the agent starts");
    assert_eq!(report.ending, Ending::Exited { code: 0 }, "{report:?}");
    report
}

/// The run log's `[ade] egress: ` lines.
fn egress_lines(scene: &Scene) -> Vec<String> {
    scene
        .log_text()
        .lines()
        .filter(|line| line.starts_with("[ade] egress: "))
        .map(str::to_string)
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn an_allowlist_agent_reaches_its_listed_host_through_the_proxy_and_directly() {
    if let Some(reason) = unusable() {
        eprintln!("skipped: {reason}");
        return;
    }
    let port = server();
    let scene = Scene::new("net-allowed");
    let mut inv = agent(
        &scene,
        allowlist(&[format!("127.0.0.1:{port}")]),
        &format!(
            r#"echo "proxy=$HTTPS_PROXY no_proxy=$NO_PROXY"
{CURL} -sS --max-time 10 --noproxy '' -p -x "$HTTPS_PROXY" "http://127.0.0.1:$PORT/via-proxy"; echo "proxied rc=$?"
{CURL} -sS --max-time 10 "http://127.0.0.1:$PORT/direct"; echo "direct rc=$?"
"#
        ),
    );
    inv.env.push(("PORT".into(), port.to_string()));
    let report = run(&inv).await;
    let output = scene.agent_output();
    assert!(output.contains("proxy=http://127.0.0.1:"), "{output}");
    assert!(
        output.contains("no_proxy=localhost,127.0.0.1,::1"),
        "{output}"
    );
    assert_eq!(
        output.matches(&format!("hello from {port}\n")).count(),
        2,
        "{output}"
    );
    assert!(
        output.contains("proxied rc=0") && output.contains("direct rc=0"),
        "{output}"
    );
    let lines = egress_lines(&scene);
    let destination = format!("127.0.0.1:{port}");
    assert!(
        lines.iter().any(|l| l.starts_with(&format!(
            "[ade] egress: allowed {destination} through the proxy: "
        ))),
        "{lines:?}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with(&format!("[ade] egress: allowed {destination} directly: "))),
        "{lines:?}"
    );
    assert_eq!(report.egress.tallies.len(), 1, "{:?}", report.egress);
    let tally = &report.egress.tallies[0];
    assert_eq!(
        (tally.destination.as_str(), tally.allowed, tally.count),
        (destination.as_str(), true, 2)
    );
    assert!(tally.bytes_in > 0 && tally.bytes_out > 0, "{tally:?}");
    assert!(
        scene
            .log_text()
            .contains("[ade] network: allowlist, a network namespace of its own"),
        "{}",
        scene.log_text()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unlisted_host_is_refused_with_403_and_the_attempt_recorded() {
    if let Some(reason) = unusable() {
        eprintln!("skipped: {reason}");
        return;
    }
    let listed = server();
    let unlisted = server();
    let scene = Scene::new("net-refused");
    let inv = agent(
        &scene,
        allowlist(&[format!("127.0.0.1:{listed}")]),
        &format!(
            r#"{CURL} -sS --max-time 10 --noproxy '' -p -x "$HTTPS_PROXY" -o /dev/null -w 'unlisted %{{http_connect}}\n' "http://127.0.0.1:{unlisted}/"; echo "rc=$?"
{CURL} -sS --max-time 10 -o /dev/null -w 'invalid %{{http_connect}}\n' https://example.invalid/; echo "rc=$?"
"#
        ),
    );
    let report = run(&inv).await;
    let output = scene.agent_output();
    assert!(output.contains("unlisted 403"), "{output}");
    assert!(output.contains("invalid 403"), "{output}");
    assert!(!output.contains("hello from"), "{output}");
    let lines = egress_lines(&scene);
    for destination in [
        format!("127.0.0.1:{unlisted}"),
        "example.invalid:443".to_string(),
    ] {
        assert!(
            lines.contains(&format!(
                "[ade] egress: blocked {destination} (not on the agent's allowlist): answered 403"
            )),
            "{lines:?}"
        );
        let tally = report
            .egress
            .tallies
            .iter()
            .find(|t| t.destination == destination)
            .unwrap_or_else(|| panic!("{destination} in {:?}", report.egress));
        assert!(!tally.allowed);
        assert_eq!(tally.count, 1);
        assert_eq!(
            tally.reason.as_deref(),
            Some("not on the agent's allowlist")
        );
    }
}

/// A name other than `localhost` that the hosts file points at a loopback address.
fn loopback_name() -> Option<String> {
    let hosts = std::fs::read_to_string("/etc/hosts").ok()?;
    hosts.lines().find_map(|line| {
        let mut words = line.split('#').next()?.split_whitespace();
        let address: std::net::IpAddr = words.next()?.parse().ok()?;
        address
            .is_loopback()
            .then(|| words.find(|name| *name != "localhost").map(str::to_string))
            .flatten()
    })
}

/// A listed name that resolves to the runner itself (a name the hosts file points at loopback)
/// is refused: a name on the allowlist never reaches loopback or link-local addresses, such as a
/// cloud's metadata service, whatever its DNS says.
#[tokio::test(flavor = "multi_thread")]
async fn a_listed_name_that_resolves_inside_the_runner_is_refused() {
    if let Some(reason) = unusable() {
        eprintln!("skipped: {reason}");
        return;
    }
    let Some(name) = loopback_name() else {
        eprintln!("skipped: the hosts file names no loopback address but localhost");
        return;
    };
    let port = server();
    let scene = Scene::new("net-inside");
    let inv = agent(
        &scene,
        allowlist(&[format!("{name}:{port}")]),
        &format!(
            r#"{CURL} -sS --max-time 10 --noproxy '' -p -x "$HTTPS_PROXY" -o /dev/null -w 'inside %{{http_connect}}\n' "http://{name}:{port}/"; echo "rc=$?"
"#
        ),
    );
    let report = run(&inv).await;
    let output = scene.agent_output();
    assert!(output.contains("inside 403"), "{output}");
    assert!(!output.contains("hello from"), "{output}");
    let tally = report
        .egress
        .tallies
        .iter()
        .find(|t| t.destination == format!("{name}:{port}"))
        .unwrap_or_else(|| panic!("{:?}", report.egress));
    assert!(!tally.allowed);
    assert!(
        tally
            .reason
            .as_deref()
            .is_some_and(|r| r.starts_with("the name resolves only to addresses of the runner")),
        "{tally:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_off_agent_reaches_nothing() {
    if let Some(reason) = unusable() {
        eprintln!("skipped: {reason}");
        return;
    }
    let port = server();
    let scene = Scene::new("net-off");
    let mut inv = agent(
        &scene,
        Network::Off,
        &format!(
            r#"if exec 3<>"/dev/tcp/127.0.0.1/$PORT"; then echo "connected"; else echo "no network"; fi
{CURL} -sS --max-time 5 "http://127.0.0.1:$PORT/"; echo "rc=$?"
echo "proxy=${{HTTPS_PROXY:-none}}"
"#
        ),
    );
    inv.env.push(("PORT".into(), port.to_string()));
    let report = run(&inv).await;
    let output = scene.agent_output();
    assert!(output.contains("no network\n"), "{output}");
    assert!(!output.contains("connected\n"), "{output}");
    assert!(!output.contains("hello from"), "{output}");
    assert!(!output.contains("rc=0"), "{output}");
    assert!(output.contains("proxy=none"), "{output}");
    assert!(report.egress.is_empty());
    assert!(
        scene.log_text().contains("[ade] network: off"),
        "{}",
        scene.log_text()
    );
}

/// The runner's address on its default route, if it has one (a host address the agent could
/// try to reach without the proxy).
fn host_address() -> Option<std::net::IpAddr> {
    let socket = std::net::UdpSocket::bind("0.0.0.0:0").ok()?;
    socket.connect("192.0.2.1:9").ok()?;
    let address = socket.local_addr().ok()?.ip();
    (!address.is_loopback()).then_some(address)
}

#[tokio::test(flavor = "multi_thread")]
async fn an_allowlist_agent_cannot_go_around_the_proxy() {
    if let Some(reason) = unusable() {
        eprintln!("skipped: {reason}");
        return;
    }
    let listed = server();
    let other = TcpListener::bind("0.0.0.0:0").unwrap();
    let other_port = other.local_addr().unwrap().port();
    let targets: Vec<SocketAddr> = [Some("127.0.0.1".parse().unwrap()), host_address()]
        .into_iter()
        .flatten()
        .map(|ip| SocketAddr::new(ip, other_port))
        .collect();
    let scene = Scene::new("net-around");
    let mut script = String::new();
    for target in &targets {
        script.push_str(&format!(
            "{CURL} -sS --max-time 5 --noproxy '*' http://{target}/; echo \"{target} rc=$?\"\n"
        ));
    }
    let inv = agent(&scene, allowlist(&[format!("127.0.0.1:{listed}")]), &script);
    run(&inv).await;
    let output = scene.agent_output();
    for target in &targets {
        assert!(output.contains(&format!("{target} rc=")), "{output}");
        assert!(!output.contains(&format!("{target} rc=0")), "{output}");
    }
    other.set_nonblocking(true).unwrap();
    assert!(
        other.accept().is_err(),
        "nothing reached the host's listener"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn hostile_request_heads_are_refused_and_recorded_escaped() {
    if let Some(reason) = unusable() {
        eprintln!("skipped: {reason}");
        return;
    }
    let scene = Scene::new("net-hostile");
    let inv = agent(
        &scene,
        allowlist(&["api.example.com".to_string()]),
        r#"port="${HTTPS_PROXY##*:}"
send() {
  exec 3<>"/dev/tcp/127.0.0.1/$port" || { echo "no proxy"; return; }
  printf "$1" >&3
  head -c 200 <&3 | head -1 | tr -d '\r'
  echo
  exec 3<&-
}
send 'GET http://api.example.com/ HTTP/1.1\r\nHost: api.example.com\r\n\r\n'
send '\001\002garbage\r\n\r\n'
send 'CONNECT ev\ril:443 HTTP/1.1\r\n\r\n'
send 'CONNECT evil\n[ade] egress: allowed forged:443 HTTP/1.1\r\n\r\n'
send 'CONNECT api.example.com:443\r\n\r\n'
big=$(head -c 9000 /dev/zero | tr '\0' a)
send "CONNECT $big:443 HTTP/1.1\r\n\r\n"
"#,
    );
    let report = run(&inv).await;
    let output = scene.agent_output();
    assert!(
        output.contains("HTTP/1.1 405 Method Not Allowed"),
        "{output}"
    );
    assert!(
        output.matches("HTTP/1.1 400 Bad Request").count() >= 4,
        "{output}"
    );
    assert!(!output.contains("no proxy"), "{output}");
    let log = scene.log_text();
    assert!(
        !log.contains('\r'),
        "no carriage return reaches the run log"
    );
    let lines = egress_lines(&scene);
    assert!(
        lines
            .iter()
            .all(|l| l.starts_with("[ade] egress: blocked ")),
        "{lines:?}"
    );
    assert_eq!(lines.len(), 6, "{lines:?}");
    for says in [
        "only CONNECT host:port is served): answered 405",
        "malformed request line): answered 400",
        "request head over 8 KiB): answered 400",
        "ev\\ril:443",
    ] {
        assert!(
            lines.iter().any(|l| l.contains(says)),
            "{says} in {lines:?}"
        );
    }
    assert!(
        !log.lines().any(|l| l.starts_with("[ade] egress: allowed")),
        "{log}"
    );
    assert!(report.egress.tallies.iter().all(|t| !t.allowed));
    assert!(
        report
            .egress
            .tallies
            .iter()
            .all(|t| t.destination.len() < 300),
        "{:?}",
        report.egress
    );
}

/// Removes CAP_SYS_ADMIN from the calling thread's effective and permitted sets (threads made
/// from it after inherit that): the thread is root without the right to make namespaces.
fn give_up_sys_admin() {
    #[repr(C)]
    struct Header {
        version: u32,
        pid: i32,
    }
    #[repr(C)]
    #[derive(Clone, Copy, Default)]
    struct Data {
        effective: u32,
        permitted: u32,
        inheritable: u32,
    }
    const VERSION_3: u32 = 0x2008_0522;
    const CAP_SYS_ADMIN: u32 = 21;
    let mut header = Header {
        version: VERSION_3,
        pid: 0,
    };
    let mut data = [Data::default(); 2];
    // SAFETY: capget and capset read and write the header and the two data structs given.
    unsafe {
        assert_eq!(
            libc::syscall(libc::SYS_capget, &mut header, data.as_mut_ptr()),
            0
        );
        data[0].effective &= !(1 << CAP_SYS_ADMIN);
        data[0].permitted &= !(1 << CAP_SYS_ADMIN);
        assert_eq!(libc::syscall(libc::SYS_capset, &header, data.as_ptr()), 0);
    }
}

#[test]
fn where_ade_cannot_make_a_namespace_an_allowlist_agent_does_not_start() {
    if let Some(reason) = unusable() {
        eprintln!("skipped: {reason}");
        return;
    }
    let scene = Scene::new("net-unprivileged");
    let inv = agent(&scene, allowlist(&[]), "echo ran\n");
    // Capabilities belong to a thread: this one, and the thread ade makes the namespace on,
    // lose CAP_SYS_ADMIN; the rest of the test process keeps it.
    let error = std::thread::spawn(move || {
        give_up_sys_admin();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(run_agent(&inv, &quick_kill(), CancellationToken::new()))
    })
    .join()
    .unwrap()
    .unwrap_err();
    assert!(matches!(error, EnvError::Network { .. }), "{error}");
    assert!(error.is_setup());
    let text = error.to_string();
    assert!(text.starts_with("the agent's network is allowlist, but ade cannot make a network namespace (unshare(CLONE_NEWNET): Operation not permitted"), "{text}");
    assert!(
        text.contains("CAP_SYS_ADMIN") && text.contains("network = \"open\""),
        "{text}"
    );
    assert!(
        !scene.agent_output().contains("ran"),
        "the agent never started"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bubblewrap_agent_with_an_allowlist_reaches_its_host_and_nothing_else() {
    if let Some(reason) = unusable().or_else(super::bubblewrap_unusable) {
        eprintln!("skipped: {reason}");
        return;
    }
    let listed = server();
    let unlisted = server();
    let scene = Scene::new("net-bwrap");
    let mut inv = agent(
        &scene,
        allowlist(&[format!("127.0.0.1:{listed}")]),
        &format!(
            r#"{CURL} -sS --max-time 10 --noproxy '' -p -x "$HTTPS_PROXY" "http://127.0.0.1:{listed}/"; echo "proxied rc=$?"
{CURL} -sS --max-time 10 "http://127.0.0.1:{listed}/"; echo "direct rc=$?"
{CURL} -sS --max-time 10 --noproxy '' -p -x "$HTTPS_PROXY" -o /dev/null -w 'unlisted %{{http_connect}}\n' "http://127.0.0.1:{unlisted}/"
{CURL} -sS --max-time 5 --noproxy '*' "http://127.0.0.1:{unlisted}/"; echo "around rc=$?"
"#
        ),
    );
    inv.environment = ade::runner::env::Environment::Container;
    let report = run(&inv).await;
    let output = scene.agent_output();
    assert_eq!(
        output.matches(&format!("hello from {listed}\n")).count(),
        2,
        "{output}"
    );
    assert!(
        output.contains("proxied rc=0") && output.contains("direct rc=0"),
        "{output}"
    );
    assert!(output.contains("unlisted 403"), "{output}");
    assert!(
        !output.contains(&format!("hello from {unlisted}")),
        "{output}"
    );
    assert!(!output.contains("around rc=0"), "{output}");
    let log = scene.log_text();
    assert!(log.contains("[ade] sandbox: bubblewrap"), "{log}");
    assert!(
        log.contains(&format!(
            "[ade] egress: blocked 127.0.0.1:{unlisted} (not on the agent's allowlist): answered 403"
        )),
        "{log}"
    );
    assert_eq!(
        report
            .egress
            .tallies
            .iter()
            .map(|t| (t.destination.clone(), t.allowed, t.count))
            .collect::<Vec<_>>(),
        vec![
            (format!("127.0.0.1:{listed}"), true, 2),
            (format!("127.0.0.1:{unlisted}"), false, 1)
        ]
    );
}
