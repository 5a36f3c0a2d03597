//! A saturating burst of deliveries beside the maintainer's commands: `ingest_bench`'s closed
//! loop (N keep-alive clients, each sending its next signed 25 KB `issue_comment` as soon as the
//! last is answered) against the same ade, on repositories other than the commands', so that the
//! inbox is saturated while a command waits for its 👀. The question is whether the inbox and the
//! job worker share the database fairly: the burst's deliveries are stored as fast as the disk
//! allows, and a command on another repository must still be handled at once.

use crate::ade::{Ade, Scrape};
use crate::load::{self, Length, Pace};
use crate::payload::Deliveries;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::task::JoinHandle;

/// Bodies of the burst: the size and spread `ingest_bench` sends by default.
const BODY_BYTES: usize = 25 * 1024;
const REPOSITORIES: usize = 8;

/// How the burst is run.
pub struct Plan<'a> {
    /// The ade under test, for its webhook URL and its counters.
    pub ade: &'a Ade,
    /// The client `/metrics` is read with.
    pub control: &'a reqwest::Client,
    /// Closed-loop clients.
    pub clients: usize,
    /// How long the burst runs before the first timed command.
    pub lead: Duration,
}

/// What the burst came to, from ade's own counters.
#[derive(Clone, Debug)]
pub struct Seen {
    /// Closed-loop clients.
    pub clients: usize,
    /// From its start to its stop.
    pub elapsed: Duration,
    /// Deliveries the inbox committed meanwhile (the burst's, and the few the commands caused).
    pub stored: f64,
    /// Delivery jobs waiting when it stopped.
    pub backlog: f64,
}

impl Seen {
    /// Deliveries stored per second during the burst.
    pub fn stored_per_sec(&self) -> f64 {
        self.stored / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// A burst under way.
pub struct Burst {
    clients: usize,
    task: JoinHandle<load::Outcome>,
    started: Instant,
    before: Scrape,
}

impl Burst {
    /// Builds and signs the bodies, then starts the clients; returns once `plan.lead` has passed.
    pub async fn start(plan: &Plan<'_>, secret: &str) -> anyhow::Result<Burst> {
        let deliveries = Arc::new(Deliveries::build(secret, BODY_BYTES, REPOSITORIES)?);
        let http = load::client(plan.clients)?;
        let url = format!("{}/webhooks/github", plan.ade.base);
        let before = plan.ade.scrape(plan.control).await?;
        let clients = plan.clients;
        eprintln!(
            "burst: {clients} clients, closed loop, {} s before the first timed command ...",
            plan.lead.as_secs_f64()
        );
        let task = tokio::spawn(async move {
            let forever = Length::Time(Duration::from_secs(24 * 3600));
            load::run(&http, &url, &deliveries, clients, Pace::Closed, forever).await
        });
        let started = Instant::now();
        tokio::time::sleep(plan.lead).await;
        Ok(Burst {
            clients,
            task,
            started,
            before,
        })
    }

    /// Stops the clients (requests in flight are dropped) and reads what ade stored meanwhile.
    pub async fn stop(self, plan: &Plan<'_>) -> anyhow::Result<Seen> {
        self.task.abort();
        let _ = self.task.await;
        let elapsed = self.started.elapsed();
        let after = plan.ade.scrape(plan.control).await?;
        Ok(Seen {
            clients: self.clients,
            elapsed,
            stored: after.committed - self.before.committed,
            backlog: after.backlog,
        })
    }
}
