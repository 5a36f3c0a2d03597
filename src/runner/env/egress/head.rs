//! The request head an agent sends the egress proxy, read with a size cap and understood only
//! as `CONNECT host:port HTTP/1.x`. Everything in it comes from the agent and is hostile: a
//! refusal carries a fixed reason, and what the agent asked for is kept only as shown text.

use crate::runner::env::network::HostPort;

/// The most bytes of a request head the proxy reads; a longer one is refused.
pub(super) const MAX_HEAD: usize = 8 * 1024;

/// Why the proxy refused a request, with the HTTP status it answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Refusal {
    /// The head is longer than [`MAX_HEAD`].
    TooLarge,
    /// The head did not arrive in time, or the connection ended before it did.
    Incomplete,
    /// The request line is not `METHOD TARGET HTTP/1.x` of visible ASCII.
    Malformed,
    /// A method other than CONNECT (a plain-HTTP proxy request).
    NotConnect,
    /// The target is not `host:port` with a valid host and port.
    BadTarget,
    /// The destination is not on the agent's allowlist.
    NotAllowed,
    /// The allowed name resolves only to addresses inside the runner (loopback, link-local).
    Inside,
}

impl Refusal {
    /// The status line's code and text.
    pub(super) fn status(self) -> (u16, &'static str) {
        match self {
            Refusal::TooLarge | Refusal::Malformed | Refusal::BadTarget | Refusal::Incomplete => {
                (400, "Bad Request")
            }
            Refusal::NotConnect => (405, "Method Not Allowed"),
            Refusal::NotAllowed | Refusal::Inside => (403, "Forbidden"),
        }
    }

    /// One line saying why, for the agent's answer and the records.
    pub(super) fn reason(self) -> &'static str {
        match self {
            Refusal::TooLarge => "request head over 8 KiB",
            Refusal::Incomplete => "no complete request head",
            Refusal::Malformed => "malformed request line",
            Refusal::NotConnect => "only CONNECT host:port is served",
            Refusal::BadTarget => "the target is not host:port",
            Refusal::NotAllowed => "not on the agent's allowlist",
            Refusal::Inside => {
                "the name resolves only to addresses of the runner itself (loopback, link-local)"
            }
        }
    }
}

/// Where a complete head ends in `buf` (the index just past its blank line), if it does.
pub(super) fn end_of_head(buf: &[u8]) -> Option<usize> {
    buf.windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|at| at + 4)
}

/// The request line of a head, as a record may show it: at most 120 bytes, lossily decoded
/// (the caller escapes it further).
pub(super) fn first_line(buf: &[u8]) -> String {
    let line = buf.split(|b| *b == b'\n').next().unwrap_or_default();
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    String::from_utf8_lossy(&line[..line.len().min(120)]).into_owned()
}

/// The destination of a complete head (`CONNECT host:port HTTP/1.1`, headers ignored).
pub(super) fn connect_target(head: &[u8]) -> Result<HostPort, Refusal> {
    let line_end = head
        .windows(2)
        .position(|w| w == b"\r\n")
        .ok_or(Refusal::Malformed)?;
    let line = &head[..line_end];
    if !line.iter().all(|b| (0x20..0x7f).contains(b)) {
        return Err(Refusal::Malformed);
    }
    let line = std::str::from_utf8(line).map_err(|_| Refusal::Malformed)?;
    let mut parts = line.split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(Refusal::Malformed);
    };
    if !matches!(version, "HTTP/1.1" | "HTTP/1.0") || method.is_empty() {
        return Err(Refusal::Malformed);
    }
    if method != "CONNECT" {
        return Err(Refusal::NotConnect);
    }
    let (host, port) = target.rsplit_once(':').ok_or(Refusal::BadTarget)?;
    let port = port
        .parse::<u16>()
        .ok()
        .filter(|_| port.bytes().all(|b| b.is_ascii_digit()))
        .ok_or(Refusal::BadTarget)?;
    if host.contains(':') && !host.starts_with('[') {
        return Err(Refusal::BadTarget);
    }
    HostPort::new(host, port).map_err(|_| Refusal::BadTarget)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(head: &str) -> Result<String, Refusal> {
        connect_target(head.as_bytes()).map(|t| t.to_string())
    }

    #[test]
    fn a_connect_line_gives_its_host_and_port() {
        assert_eq!(
            target("CONNECT api.anthropic.com:443 HTTP/1.1\r\nHost: x\r\n\r\n").as_deref(),
            Ok("api.anthropic.com:443")
        );
        assert_eq!(
            target("CONNECT API.Example.COM:8443 HTTP/1.0\r\n\r\n").as_deref(),
            Ok("api.example.com:8443")
        );
        assert_eq!(
            target("CONNECT [::1]:9 HTTP/1.1\r\n\r\n").as_deref(),
            Ok("[::1]:9")
        );
    }

    #[test]
    fn anything_else_is_refused_with_its_reason() {
        for (head, refusal) in [
            ("GET http://x/ HTTP/1.1\r\n\r\n", Refusal::NotConnect),
            ("connect x:443 HTTP/1.1\r\n\r\n", Refusal::NotConnect),
            ("CONNECT x HTTP/1.1\r\n\r\n", Refusal::BadTarget),
            ("CONNECT x:0443x HTTP/1.1\r\n\r\n", Refusal::BadTarget),
            ("CONNECT x:99999 HTTP/1.1\r\n\r\n", Refusal::BadTarget),
            ("CONNECT ::1:443 HTTP/1.1\r\n\r\n", Refusal::BadTarget),
            ("CONNECT a*b:443 HTTP/1.1\r\n\r\n", Refusal::BadTarget),
            ("CONNECT x:443 HTTP/2\r\n\r\n", Refusal::Malformed),
            ("CONNECT  x:443 HTTP/1.1\r\n\r\n", Refusal::Malformed),
            ("CONNECT x\n:443 HTTP/1.1\r\n\r\n", Refusal::Malformed),
            ("CONNECT x\r:443 HTTP/1.1\r\n\r\n", Refusal::Malformed),
            ("CONNECT h\u{e9}:443 HTTP/1.1\r\n\r\n", Refusal::Malformed),
            ("\u{0}\u{1}\r\n\r\n", Refusal::Malformed),
        ] {
            assert_eq!(target(head), Err(refusal), "{head:?}");
        }
    }

    #[test]
    fn the_head_ends_at_its_blank_line_and_its_first_line_is_bounded() {
        assert_eq!(end_of_head(b"CONNECT x:1 HTTP/1.1\r\n\r\nrest"), Some(24));
        assert_eq!(end_of_head(b"CONNECT x:1 HTTP/1.1\r\n"), None);
        let long = format!("CONNECT {}:1 HTTP/1.1\r\n\r\n", "a".repeat(500));
        assert_eq!(first_line(long.as_bytes()).len(), 120);
        assert_eq!(
            first_line(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"),
            "GET / HTTP/1.1"
        );
    }
}
