//! Gives one agent process the network its registration says: for `off` and `allowlist` a
//! network namespace of its own (`netns.rs`), for `allowlist` with ade's egress proxy in it
//! (`egress/`) and the proxy variables in the agent's environment; for `open` nothing. Where
//! ade cannot make a namespace the run does not start: it never runs open instead.

use std::os::fd::{AsRawFd, OwnedFd, RawFd};

use super::egress::{Egress, EgressReport};
use super::netns::{self, Plan};
use super::network::Network;
use super::{ContainerRuntime, EnvError, EnvOptions, Environment, Invocation};

/// The network prepared for one process, kept until it has ended.
pub(super) struct Isolation {
    handle: Option<OwnedFd>,
    egress: Option<Egress>,
    env: Vec<(String, String)>,
    note: String,
}

impl Isolation {
    /// The namespace the process joins between fork and exec; `None` when it keeps ade's (or
    /// its sandbox makes its own).
    pub(super) fn handle(&self) -> Option<RawFd> {
        self.handle.as_ref().map(|fd| fd.as_raw_fd())
    }

    /// The run log's note on the network.
    pub(super) fn note(&self) -> &str {
        &self.note
    }

    /// `inv` with the proxy variables set (replacing the agent's own), when there is a proxy.
    pub(super) fn invocation(&self, inv: &Invocation) -> Option<Invocation> {
        if self.env.is_empty() {
            return None;
        }
        let mut inv = inv.clone();
        inv.env
            .retain(|(name, _)| !self.env.iter().any(|(ours, _)| ours == name));
        inv.env.extend(self.env.iter().cloned());
        Some(inv)
    }

    /// Stops the proxy once the process has ended: the run log's `egress:` lines and the report.
    pub(super) async fn finish(self) -> (Vec<String>, EgressReport) {
        match self.egress {
            Some(egress) => egress.stop().await,
            None => (Vec::new(), EgressReport::default()),
        }
    }
}

/// Prepares the network of `inv`.
pub(super) fn prepare(inv: &Invocation, opts: &EnvOptions) -> Result<Isolation, EnvError> {
    let mut isolation = Isolation {
        handle: None,
        egress: None,
        env: Vec::new(),
        note: String::new(),
    };
    let daemon =
        inv.environment == Environment::Container && opts.runtime != ContainerRuntime::Bubblewrap;
    let hosts = match &inv.network {
        Network::Open => {
            isolation.note =
                "network: open (the runner's network, connections not recorded)".to_string();
            return Ok(isolation);
        }
        // The sandbox makes a namespace with loopback alone itself: podman's and docker's
        // `--network none`, bubblewrap's own network namespace.
        Network::Off if inv.environment == Environment::Container => {
            isolation.note = format!("network: off (the {} sandbox has none)", opts.runtime);
            return Ok(isolation);
        }
        Network::Off => None,
        // podman and docker are refused with their arguments (`container.rs`).
        Network::Allowlist(_) if daemon => return Ok(isolation),
        Network::Allowlist(hosts) => Some(hosts),
    };
    let forwards: Vec<_> = hosts
        .iter()
        .flat_map(|hosts| hosts.iter())
        .flat_map(|host| host.loopback())
        .collect();
    let plan = Plan {
        proxy: hosts.is_some(),
        forwards,
    };
    let mut namespace = netns::create(plan).map_err(|error| EnvError::Network {
        network: inv.network.as_str(),
        reason: format!("ade cannot make a network namespace ({error})"),
    })?;
    let Some(hosts) = hosts else {
        isolation.note =
            "network: off (a network namespace of its own with loopback alone)".to_string();
        isolation.handle = Some(namespace.handle);
        return Ok(isolation);
    };
    let forwards = std::mem::take(&mut namespace.forwards);
    let direct: Vec<String> = forwards.iter().map(|(a, _)| a.to_string()).collect();
    let egress =
        Egress::start(&inv.network, namespace.proxy.take(), forwards).map_err(|error| {
            EnvError::Network {
                network: inv.network.as_str(),
                reason: format!("ade cannot start its egress proxy ({error})"),
            }
        })?;
    let proxy = egress
        .proxy()
        .map(|address| format!("http://{address}"))
        .expect("an allowlist namespace has a proxy");
    for name in ["HTTPS_PROXY", "HTTP_PROXY", "https_proxy", "http_proxy"] {
        isolation.env.push((name.to_string(), proxy.clone()));
    }
    if !direct.is_empty() {
        for name in ["NO_PROXY", "no_proxy"] {
            isolation
                .env
                .push((name.to_string(), "localhost,127.0.0.1,::1".to_string()));
        }
    }
    let listed: Vec<String> = hosts.iter().map(ToString::to_string).collect();
    isolation.note = format!(
        "network: allowlist, a network namespace of its own whose only way out is ade's egress \
         proxy at {proxy} (CONNECT to {}){}; every connection is recorded",
        if listed.is_empty() {
            "no host".to_string()
        } else {
            listed.join(", ")
        },
        if direct.is_empty() {
            String::new()
        } else {
            format!("; served directly: {}", direct.join(", "))
        },
    );
    isolation.handle = Some(namespace.handle);
    isolation.egress = Some(egress);
    Ok(isolation)
}
