//! What network an agent gets, as its registration says (`agents.NAME.network`): none at all,
//! only the hosts of its allowlist through ade's egress proxy, or the runner's own network.
//! Allowlist entries are matched exactly: a host (case-insensitive) and a port, no wildcards.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// The port an allowlist entry without one means: the model APIs agents talk to are HTTPS.
pub const DEFAULT_PORT: u16 = 443;

/// The network of one agent process.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Network {
    /// A network namespace of its own with only loopback: nothing outside is reachable.
    Off,
    /// A network namespace of its own whose only way out is ade's egress proxy (HTTP CONNECT),
    /// which lets through these hosts alone and records every connection.
    Allowlist(Vec<HostPort>),
    /// The runner's network, unrestricted and unrecorded.
    Open,
}

impl Network {
    /// The name written in `ade.toml` and the run log.
    pub fn as_str(&self) -> &'static str {
        match self {
            Network::Off => "off",
            Network::Allowlist(_) => "allowlist",
            Network::Open => "open",
        }
    }

    /// Whether `host:port` is on the allowlist (always false for `off` and `open`, which have
    /// no proxy to ask).
    pub fn allows(&self, host: &str, port: u16) -> bool {
        match self {
            Network::Allowlist(hosts) => hosts
                .iter()
                .any(|entry| entry.port == port && entry.host.eq_ignore_ascii_case(host)),
            Network::Off | Network::Open => false,
        }
    }
}

/// One allowlist entry: a host name or IP address and a port. Kept lowercase; an IPv6 address
/// is written in brackets (`[::1]:8080`).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct HostPort {
    host: String,
    port: u16,
}

impl HostPort {
    /// Reads `host` or `host:port` (port [`DEFAULT_PORT`] when left out), refusing what an
    /// operator may have meant differently: a scheme, a path, a wildcard, an empty host.
    pub fn parse(text: &str) -> Result<HostPort, String> {
        if text.trim().is_empty() {
            return Err("is empty".to_string());
        }
        if text.contains("://") {
            return Err(format!(
                "{text:?} has a scheme: write the host alone, like api.example.com or \
                 api.example.com:8443"
            ));
        }
        if text.contains(['/', '?', '#']) {
            return Err(format!(
                "{text:?} has a path: an entry is a host and a port only"
            ));
        }
        if text.contains('*') {
            return Err(format!(
                "{text:?} has a wildcard: hosts are matched exactly, list each one"
            ));
        }
        let (host, port) = split_port(text)?;
        HostPort::new(host, port.unwrap_or(DEFAULT_PORT))
    }

    /// An entry from a host (name, IPv4 address, or IPv6 address with or without brackets) and
    /// a port.
    pub fn new(host: &str, port: u16) -> Result<HostPort, String> {
        if port == 0 {
            return Err(format!("port 0 of {host:?} is not a port"));
        }
        let bare = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host);
        if let Ok(v6) = bare.parse::<Ipv6Addr>() {
            return Ok(HostPort {
                host: format!("[{v6}]"),
                port,
            });
        }
        let well_formed = !bare.is_empty()
            && bare.len() <= 253
            && !bare.starts_with(['-', '.'])
            && bare
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.' || b == b'_');
        if !well_formed {
            return Err(format!(
                "{host:?} is not a host name or IP address (letters, digits, '-', '.', or an \
                 IPv6 address in brackets)"
            ));
        }
        Ok(HostPort {
            host: bare.to_ascii_lowercase(),
            port,
        })
    }

    /// The host and port of an `http://` or `https://` URL (a model endpoint such as
    /// `ANTHROPIC_BASE_URL`); `None` for anything else.
    pub fn from_url(url: &str) -> Option<HostPort> {
        let (default_port, rest) = if let Some(rest) = url.strip_prefix("https://") {
            (443, rest)
        } else if let Some(rest) = url.strip_prefix("http://") {
            (80, rest)
        } else {
            return None;
        };
        let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
        let authority = authority.rsplit('@').next().unwrap_or_default();
        let (host, port) = split_port(authority).ok()?;
        HostPort::new(host, port.unwrap_or(default_port)).ok()
    }

    /// The host, lowercase; an IPv6 address in brackets.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The addresses inside the agent's namespace where this entry is served directly rather
    /// than through the proxy: a loopback entry (`127.0.0.1`, `localhost`, `[::1]`) names a
    /// service on the runner itself, which the agent reaches at the same address and port.
    pub fn loopback(&self) -> Vec<SocketAddr> {
        let v4 = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), self.port);
        let v6 = SocketAddr::new(IpAddr::V6(Ipv6Addr::LOCALHOST), self.port);
        match self.host.as_str() {
            "127.0.0.1" => vec![v4],
            "[::1]" => vec![v6],
            "localhost" => vec![v4, v6],
            _ => Vec::new(),
        }
    }
}

impl fmt::Display for HostPort {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.host, self.port)
    }
}

/// Splits `host[:port]` or `[v6][:port]`; a bare IPv6 address has no port.
fn split_port(text: &str) -> Result<(&str, Option<u16>), String> {
    let port = |digits: &str| {
        digits
            .parse::<u16>()
            .ok()
            .filter(|p| *p != 0 && digits.bytes().all(|b| b.is_ascii_digit()))
            .ok_or_else(|| format!("{text:?} has a port that is not 1 to 65535"))
    };
    if text.starts_with('[') {
        let end = text
            .find(']')
            .ok_or_else(|| format!("{text:?} opens a bracket it does not close"))?;
        return match &text[end + 1..] {
            "" => Ok((&text[..=end], None)),
            rest => match rest.strip_prefix(':') {
                Some(digits) => Ok((&text[..=end], Some(port(digits)?))),
                None => Err(format!("{text:?} has text after its IPv6 address")),
            },
        };
    }
    if text.matches(':').count() > 1 {
        return Ok((text, None));
    }
    match text.split_once(':') {
        Some((host, digits)) => Ok((host, Some(port(digits)?))),
        None => Ok((text, None)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(text: &str) -> HostPort {
        HostPort::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    #[test]
    fn entries_read_host_and_port_with_443_by_default() {
        assert_eq!(
            entry("api.anthropic.com").to_string(),
            "api.anthropic.com:443"
        );
        assert_eq!(
            entry("API.Anthropic.COM:8443").to_string(),
            "api.anthropic.com:8443"
        );
        assert_eq!(entry("127.0.0.1:8080").to_string(), "127.0.0.1:8080");
        assert_eq!(entry("[::1]:9000").to_string(), "[::1]:9000");
        assert_eq!(entry("::1").to_string(), "[::1]:443");
    }

    #[test]
    fn entries_refuse_schemes_paths_wildcards_and_nonsense() {
        for (text, says) in [
            ("", "empty"),
            ("  ", "empty"),
            ("https://api.anthropic.com", "scheme"),
            ("api.anthropic.com/v1", "path"),
            ("*.anthropic.com", "wildcard"),
            ("api.anthropic.com:0", "port"),
            ("api.anthropic.com:70000", "port"),
            ("api.anthropic.com:+80", "port"),
            ("api anthropic", "not a host"),
            ("-x:80", "not a host"),
            ("[::1", "bracket"),
            ("[::1]x", "after"),
        ] {
            let error = HostPort::parse(text).unwrap_err();
            assert!(error.contains(says), "{text:?}: {error}");
        }
    }

    #[test]
    fn the_allowlist_matches_host_and_port_exactly_ignoring_case() {
        let network = Network::Allowlist(vec![entry("api.anthropic.com"), entry("127.0.0.1:8080")]);
        assert!(network.allows("api.anthropic.com", 443));
        assert!(network.allows("API.ANTHROPIC.COM", 443));
        assert!(network.allows("127.0.0.1", 8080));
        assert!(!network.allows("api.anthropic.com", 80));
        assert!(!network.allows("evil.api.anthropic.com", 443));
        assert!(!network.allows("api.anthropic.com.evil", 443));
        assert!(!network.allows("127.0.0.1", 8081));
        assert!(!Network::Open.allows("api.anthropic.com", 443));
        assert!(!Network::Off.allows("api.anthropic.com", 443));
    }

    #[test]
    fn urls_give_their_host_and_port() {
        let of = |url: &str| HostPort::from_url(url).map(|h| h.to_string());
        assert_eq!(
            of("https://api.anthropic.com").as_deref(),
            Some("api.anthropic.com:443")
        );
        assert_eq!(
            of("http://127.0.0.1:4000/v1").as_deref(),
            Some("127.0.0.1:4000")
        );
        assert_eq!(of("http://proxy.lan").as_deref(), Some("proxy.lan:80"));
        assert_eq!(
            of("https://u:p@Models.Example:8443?x").as_deref(),
            Some("models.example:8443")
        );
        assert_eq!(of("http://[::1]:9/").as_deref(), Some("[::1]:9"));
        assert_eq!(of("ftp://x"), None);
        assert_eq!(of("api.anthropic.com"), None);
    }

    #[test]
    fn loopback_entries_are_served_at_their_own_address() {
        assert_eq!(
            entry("127.0.0.1:80").loopback(),
            vec!["127.0.0.1:80".parse().unwrap()]
        );
        assert_eq!(entry("localhost:80").loopback().len(), 2);
        assert_eq!(
            entry("[::1]:80").loopback(),
            vec!["[::1]:80".parse().unwrap()]
        );
        assert!(entry("api.anthropic.com").loopback().is_empty());
    }
}
