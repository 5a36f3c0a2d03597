//! Where the time between a comment and its 👀 goes, hop by hop, from four records that share the
//! machine's clock:
//!
//! - the simulator's: when it stored the comment and the 👀 (monotonic, put on the Unix clock by
//!   the run's anchor), its webhook deliveries (which delivery carried which comment), and its
//!   call log (when each of ade's API calls arrived, in whole milliseconds);
//! - ade's log (the human format, microseconds): `stored delivery` when the inbox committed it,
//!   `dispatched event` when the delivery job recorded the event (just before its commit), both
//!   with the delivery id; `accepted a command` when the command job had read the permission and
//!   the policy (no job id on that line: the n-th acceptance is matched to the n-th dispatched
//!   comment, which is exact while commands are handled in the order they were posted: always in
//!   the closed loop and on one issue, approximate with `--issues` above 1 in the open loop);
//! - ade's job rows: when each command job completed (milliseconds, taken just before its commit;
//!   its payload names the event, the event names the comment).
//!
//! Times in whole milliseconds (job rows, the call log) are counted at the middle of their
//! millisecond.

use crate::drive::{Driven, Sample};
use ::ade::events::{Event, EventKind};
use ::ade::sim::{ApiCall, DeliveryRecord};
use ::ade::store::{Store, StoreOptions};
use std::collections::HashMap;
use std::path::Path;

/// The job rows a run left, reduced to what links them to comments.
#[derive(Default)]
pub struct Jobs {
    /// When the command job that handled a comment completed (Unix ms), by comment id.
    command_done: HashMap<i64, i64>,
    /// Jobs by kind: how many, for the summary.
    pub kinds: Vec<(String, i64)>,
}

/// Reads ade's job rows and events (after ade stopped) from its database.
pub async fn read_jobs(url: &str) -> anyhow::Result<Jobs> {
    let store = Store::connect(StoreOptions {
        url: url.to_string(),
        max_connections: 1,
    })
    .await?;
    let mut conn = store.reader().await?;
    let events: Vec<(i64, String)> = sqlx::query_as("SELECT id, data FROM events")
        .fetch_all(&mut *conn)
        .await?;
    let comment_of_event: HashMap<i64, i64> = events
        .into_iter()
        .filter_map(|(id, data)| {
            let event: Event = serde_json::from_str(&data).ok()?;
            match event.kind {
                EventKind::CommentCreated(comment) => Some((id, comment.id)),
                _ => None,
            }
        })
        .collect();
    let rows: Vec<(String, Option<i64>)> =
        sqlx::query_as("SELECT payload, finished_at FROM jobs WHERE kind = 'command'")
            .fetch_all(&mut *conn)
            .await?;
    let command_done = rows
        .into_iter()
        .filter_map(|(payload, finished)| {
            let payload: serde_json::Value = serde_json::from_str(&payload).ok()?;
            let comment = comment_of_event.get(&payload["event"].as_i64()?)?;
            Some((*comment, finished?))
        })
        .collect();
    let kinds: Vec<(String, i64)> =
        sqlx::query_as("SELECT kind, COUNT(*) FROM jobs GROUP BY kind ORDER BY kind")
            .fetch_all(&mut *conn)
            .await?;
    drop(conn);
    store.close().await;
    Ok(Jobs {
        command_done,
        kinds,
    })
}

/// One hop: its name and each timed comment's share of it, in milliseconds.
pub struct Hop {
    /// What happens in it.
    pub name: &'static str,
    /// Per comment, where all its ends were found.
    pub ms: Vec<f64>,
}

impl Hop {
    /// The median.
    pub fn median(&self) -> f64 {
        let mut sorted = self.ms.clone();
        sorted.sort_by(f64::total_cmp);
        if sorted.is_empty() {
            return f64::NAN;
        }
        sorted[sorted.len() / 2]
    }

    /// The mean.
    pub fn mean(&self) -> f64 {
        self.ms.iter().sum::<f64>() / self.ms.len().max(1) as f64
    }
}

/// The hops of comment → 👀, and what the command jobs read from the forge.
pub struct Hops {
    /// In order, adding up to the whole.
    pub hops: Vec<Hop>,
    /// Comments for which every end was found.
    pub complete: usize,
    /// Mean API calls a command job made before accepting (its forge reads).
    pub reads_per_command: f64,
    /// The paths of those reads, by how often they came, with the mean time from a read's
    /// arrival to the next read's (or, for the last, to the acceptance), in milliseconds.
    pub read_paths: Vec<(String, usize, f64)>,
    /// Jobs by kind at the end of the run.
    pub kinds: Vec<(String, i64)>,
    /// Every API call ade made in the run (warm-up included), by method and path, most frequent
    /// first.
    pub calls: Vec<(String, usize)>,
}

/// The instants of ade's log the hops need, by delivery id, and the acceptances in order.
#[derive(Default)]
struct Log {
    stored: HashMap<String, i64>,
    dispatched: HashMap<String, i64>,
    accepted: Vec<i64>,
}

impl Log {
    fn read(path: &Path) -> Log {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        let mut log = Log::default();
        for line in text.lines() {
            let Some(at) = line.split_whitespace().next().and_then(unix_us) else {
                continue;
            };
            if line.contains(": stored delivery") {
                if let Some(id) = field(line, "delivery=") {
                    log.stored.insert(id.to_string(), at);
                }
            } else if line.contains(": dispatched event") {
                if let Some(id) = field(line, "delivery=") {
                    log.dispatched.insert(id.to_string(), at);
                }
            } else if line.contains(": accepted a command") {
                log.accepted.push(at);
            }
        }
        log
    }
}

/// The value of `name` in a span's fields: `delivery{forge=github delivery=c57b… event=issues}`.
fn field<'a>(line: &'a str, name: &str) -> Option<&'a str> {
    let start = line.find(name)? + name.len();
    let rest = &line[start..];
    let end = rest.find([' ', '}', ':']).unwrap_or(rest.len());
    Some(&rest[..end])
}

/// `2026-11-25T20:01:02.123456Z` as Unix microseconds.
fn unix_us(stamp: &str) -> Option<i64> {
    let stamp = stamp.strip_suffix('Z')?;
    let (date, time) = stamp.split_once('T')?;
    let mut d = date.splitn(3, '-').map(|p| p.parse::<i64>());
    let (year, month, day) = (d.next()?.ok()?, d.next()?.ok()?, d.next()?.ok()?);
    let (hms, fraction) = time.split_once('.').unwrap_or((time, "0"));
    let mut t = hms.splitn(3, ':').map(|p| p.parse::<i64>());
    let (h, m, s) = (t.next()?.ok()?, t.next()?.ok()?, t.next()?.ok()?);
    let digits: String = fraction.chars().take(6).collect();
    let micros = digits.parse::<i64>().ok()? * 10i64.pow(6 - digits.len() as u32);
    let days = ade::clock::days_from_civil(year, month, day);
    Some(((days * 86_400 + h * 3600 + m * 60 + s) * 1_000_000) + micros)
}

/// The comment a webhook delivery carried, if it is the creation of one.
fn comment_of(delivery: &DeliveryRecord) -> Option<i64> {
    if delivery.redelivery || delivery.event != "issue_comment" {
        return None;
    }
    let body = delivery.json();
    (body["action"] == "created").then(|| body["comment"]["id"].as_i64())?
}

impl Hops {
    /// Splits each timed comment's comment → 👀 into hops.
    pub fn measure(
        driven: &Driven,
        jobs: Jobs,
        log_path: &Path,
        deliveries: &[DeliveryRecord],
        calls: &[ApiCall],
    ) -> Hops {
        let log = Log::read(log_path);
        let delivery_of: HashMap<i64, &str> = deliveries
            .iter()
            .filter_map(|d| Some((comment_of(d)?, d.id.as_str())))
            .collect();
        let reaction_post: HashMap<i64, i64> = calls
            .iter()
            .filter(|c| c.method == "POST" && c.path.ends_with("/reactions"))
            .filter_map(|c| {
                let id = c.path.rsplit('/').nth(1)?.parse().ok()?;
                Some((id, mid(c.at_ms)))
            })
            .collect();
        // The n-th acceptance belongs to the n-th comment dispatched (warm-up ones included).
        let mut dispatched: Vec<(i64, i64)> = driven
            .warm
            .iter()
            .chain(&driven.timed)
            .filter_map(|s| Some((*log.dispatched.get(*delivery_of.get(&s.id)?)?, s.id)))
            .collect();
        dispatched.sort();
        let accepted: HashMap<i64, i64> = dispatched
            .iter()
            .zip(&log.accepted)
            .map(|((_, id), at)| (*id, *at))
            .collect();

        let names = [
            "webhook: the simulator sends it, ade verifies it, the inbox commits it",
            "delivery job: wake, claim, read, record the event, enqueue the command job",
            "delivery commit; command job: wake, claim, first forge read sent",
            "command job: forge reads, one after another (policy, permission)",
            "command job: help reply rendered, writes enqueued, job completed",
            "commit; reaction job: wake, claim, POST to the forge",
            "simulator: checks the token, stores the 👀",
        ];
        let mut hops: Vec<Hop> = names
            .iter()
            .map(|name| Hop {
                name,
                ms: Vec::new(),
            })
            .collect();
        let mut reads = 0usize;
        let mut read_paths: HashMap<String, (usize, f64)> = HashMap::new();
        let mut complete = 0;
        for sample in &driven.timed {
            let Some(
                [
                    stored,
                    committed,
                    dispatched,
                    accepted,
                    completed,
                    posted,
                    eyes,
                ],
            ) = ends(
                driven,
                sample,
                &log,
                &jobs,
                &accepted,
                &delivery_of,
                &reaction_post,
            )
            else {
                continue;
            };
            // The command job's forge reads: API calls other than comment traffic (an earlier
            // reply may be written meanwhile) between the dispatch and the acceptance.
            let (from, to) = (dispatched / 1000, accepted / 1000);
            let sent: Vec<&ApiCall> = calls
                .iter()
                .filter(|c| {
                    c.at_ms >= from
                        && c.at_ms <= to
                        && c.method == "GET"
                        && !c.path.contains("comments")
                })
                .collect();
            let Some(first) = sent.first() else {
                continue;
            };
            let first = mid(first.at_ms).clamp(dispatched, accepted);
            complete += 1;
            let ends = [
                stored, committed, dispatched, first, accepted, completed, posted, eyes,
            ];
            for (hop, pair) in hops.iter_mut().zip(ends.windows(2)) {
                hop.ms.push((pair[1] - pair[0]) as f64 / 1000.0);
            }
            for (i, call) in sent.iter().enumerate() {
                let next = sent.get(i + 1).map_or(accepted, |c| mid(c.at_ms));
                let entry = read_paths.entry(generic(&call.path)).or_default();
                entry.0 += 1;
                entry.1 += (next - mid(call.at_ms)) as f64 / 1000.0;
                reads += 1;
            }
        }
        let mut read_paths: Vec<(String, usize, f64)> = read_paths
            .into_iter()
            .map(|(path, (count, total))| (path, count, total / count as f64))
            .collect();
        read_paths.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        let mut by_path: HashMap<String, usize> = HashMap::new();
        for call in calls {
            *by_path
                .entry(format!("{} {}", call.method, generic(&call.path)))
                .or_default() += 1;
        }
        let mut all_calls: Vec<(String, usize)> = by_path.into_iter().collect();
        all_calls.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        Hops {
            hops,
            complete,
            reads_per_command: reads as f64 / complete.max(1) as f64,
            read_paths,
            kinds: jobs.kinds,
            calls: all_calls,
        }
    }
}

/// Whole milliseconds, counted at the middle of the millisecond, in microseconds.
fn mid(ms: i64) -> i64 {
    ms * 1000 + 500
}

/// The ends of the hops of one comment, in Unix microseconds: stored, delivery committed,
/// event dispatched, command accepted, command job completed, reaction POST arrived, 👀 stored.
fn ends(
    driven: &Driven,
    sample: &Sample,
    log: &Log,
    jobs: &Jobs,
    accepted: &HashMap<i64, i64>,
    delivery_of: &HashMap<i64, &str>,
    reaction_post: &HashMap<i64, i64>,
) -> Option<[i64; 7]> {
    let delivery = delivery_of.get(&sample.id)?;
    Some([
        driven.unix_us(sample.stored),
        *log.stored.get(*delivery)?,
        *log.dispatched.get(*delivery)?,
        *accepted.get(&sample.id)?,
        mid(*jobs.command_done.get(&sample.id)?),
        *reaction_post.get(&sample.id)?,
        driven.unix_us(sample.eyes?),
    ])
}

/// A path with its numbers and the repository replaced, to count calls by kind.
fn generic(path: &str) -> String {
    path.split('/')
        .map(|part| {
            if part.chars().all(|c| c.is_ascii_digit()) && !part.is_empty() {
                "{n}"
            } else {
                part
            }
        })
        .collect::<Vec<_>>()
        .join("/")
        .replace("/acme/widgets", "/{o}/{r}")
}
