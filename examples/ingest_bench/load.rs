//! The load: N clients, each on its own keep-alive HTTP/1.1 connection, posting signed deliveries
//! to one URL, either as fast as answers come back (closed loop, to find the throughput) or at a
//! fixed rate (open loop, to read latency at a given load).
//!
//! In the open loop request `i` is due at `start + i / rate` and its latency is counted from that
//! due time, not from when a client got round to sending it: if the server falls behind, the wait
//! shows up in the percentiles instead of silently lowering the rate (coordinated omission).
//! Tokio's timer has millisecond granularity, so open-loop latencies can read up to about 1 ms high.

use crate::payload::Deliveries;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// How requests are paced.
#[derive(Clone, Copy, Debug)]
pub enum Pace {
    /// Each client sends its next request as soon as the previous one is answered.
    Closed,
    /// Requests are due at fixed intervals, `rate` per second in all.
    Open { rate: f64 },
}

/// When a phase ends.
#[derive(Clone, Copy, Debug)]
pub enum Length {
    /// No request starts after this long (closed loop) / this many seconds' worth of requests
    /// (open loop).
    Time(Duration),
    /// This many requests in all.
    Requests(u64),
}

/// What one phase came to.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Requests answered 202.
    pub accepted: u64,
    /// Every other answer, by status (`"200"`, `"503"`) or error kind (`"error: connect"`).
    pub refused: BTreeMap<String, u64>,
    /// Latency of every answered request, in microseconds, sorted.
    pub latencies_us: Vec<u32>,
    /// From the first request's start to the last answer.
    pub elapsed: Duration,
}

impl Outcome {
    /// 202s per second.
    pub fn accepted_per_sec(&self) -> f64 {
        self.accepted as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// Answers other than 202.
    pub fn refused_total(&self) -> u64 {
        self.refused.values().sum()
    }

    /// The latency below which `q` (0..=1) of the requests fall, nearest rank.
    pub fn percentile(&self, q: f64) -> Duration {
        if self.latencies_us.is_empty() {
            return Duration::ZERO;
        }
        let rank = ((q * self.latencies_us.len() as f64).ceil() as usize)
            .clamp(1, self.latencies_us.len());
        Duration::from_micros(self.latencies_us[rank - 1].into())
    }

    /// The slowest answer.
    pub fn max(&self) -> Duration {
        Duration::from_micros(self.latencies_us.last().copied().unwrap_or(0).into())
    }
}

/// The HTTP client every phase uses: HTTP/1.1 only, keep-alive, no proxy, Nagle off (as forges'
/// senders and most load balancers do).
pub fn client(clients: usize) -> anyhow::Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .http1_only()
        .no_proxy()
        .tcp_nodelay(true)
        .pool_max_idle_per_host(clients)
        .timeout(Duration::from_secs(30))
        .build()?)
}

/// Sends deliveries to `url` with `clients` concurrent clients until `length` is reached.
pub async fn run(
    http: &reqwest::Client,
    url: &str,
    deliveries: &Arc<Deliveries>,
    clients: usize,
    pace: Pace,
    length: Length,
) -> Outcome {
    let total = match (pace, length) {
        (_, Length::Requests(n)) => Some(n),
        (Pace::Open { rate }, Length::Time(d)) => Some((rate * d.as_secs_f64()).round() as u64),
        (Pace::Closed, Length::Time(_)) => None,
    };
    let start = Instant::now();
    let deadline = match length {
        Length::Time(d) => Some(start + d),
        Length::Requests(_) => None,
    };
    let next = Arc::new(AtomicU64::new(0));
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..clients.max(1) {
        let client = Client {
            http: http.clone(),
            url: url.to_string(),
            deliveries: deliveries.clone(),
        };
        let next = next.clone();
        tasks.spawn(async move {
            let mut part = Outcome::default();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if total.is_some_and(|total| i >= total) {
                    break;
                }
                let due = match pace {
                    Pace::Closed => {
                        let now = Instant::now();
                        if deadline.is_some_and(|d| now >= d) {
                            break;
                        }
                        now
                    }
                    Pace::Open { rate } => {
                        let due = start + Duration::from_secs_f64(i as f64 / rate);
                        tokio::time::sleep_until(due.into()).await;
                        due
                    }
                };
                let answer = client.send(i).await;
                part.latencies_us
                    .push(due.elapsed().as_micros().min(u32::MAX as u128) as u32);
                match answer {
                    Ok(202) => part.accepted += 1,
                    Ok(status) => *part.refused.entry(status.to_string()).or_default() += 1,
                    Err(kind) => *part.refused.entry(format!("error: {kind}")).or_default() += 1,
                }
            }
            part
        });
    }
    let mut outcome = Outcome::default();
    while let Some(part) = tasks.join_next().await {
        let part = part.expect("a client task panicked");
        outcome.accepted += part.accepted;
        for (k, v) in part.refused {
            *outcome.refused.entry(k).or_default() += v;
        }
        outcome.latencies_us.extend(part.latencies_us);
    }
    outcome.elapsed = start.elapsed();
    outcome.latencies_us.sort_unstable();
    outcome
}

struct Client {
    http: reqwest::Client,
    url: String,
    deliveries: Arc<Deliveries>,
}

impl Client {
    /// Posts request `n` the way GitHub does and reads the whole answer (so the connection is
    /// reused); returns the status, or what kind of error there was.
    async fn send(&self, n: u64) -> Result<u16, &'static str> {
        let signed = self.deliveries.body(n);
        let sent = self
            .http
            .post(&self.url)
            .header("content-type", "application/json")
            .header("user-agent", "GitHub-Hookshot/ade-bench")
            .header("x-github-event", "issue_comment")
            .header("x-github-delivery", self.deliveries.next_delivery_id())
            .header("x-hub-signature-256", &signed.signature)
            .body(signed.body.clone())
            .send()
            .await;
        let answer = match sent {
            Ok(answer) => answer,
            Err(error) => return Err(kind(&error)),
        };
        let status = answer.status().as_u16();
        answer.bytes().await.map_err(|e| kind(&e))?;
        Ok(status)
    }
}

fn kind(error: &reqwest::Error) -> &'static str {
    if error.is_timeout() {
        "timeout"
    } else if error.is_connect() {
        "connect"
    } else if error.is_body() || error.is_decode() {
        "body"
    } else {
        "request"
    }
}
