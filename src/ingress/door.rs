//! The door's limits on requests nobody has authenticated yet, both checked before a byte of the
//! body is read: how many bodies may be read and verified at once ([`Door::enter`]), and how many
//! failed signatures one source address may send before ade stops reading what it sends
//! ([`Door::admit`], [`Door::failed`]). Over either, ade answers at once and keeps nothing
//! (docs/operations.md, "Limits at the door").

use std::collections::HashMap;
use std::fmt;
use std::net::IpAddr;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Most source addresses the failure buckets remember: beyond it the one heard from longest ago
/// is forgotten, so a sender rotating addresses cannot grow ade's memory without end.
pub const MAX_ADDRESSES: usize = 10_000;

/// How many failed signatures one source address may send, and how soon they are forgiven.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FailureLimit {
    /// Failures an address may send in a burst: the size of its bucket.
    pub failures: u32,
    /// How long an emptied bucket takes to fill again; it refills evenly over this time.
    pub window: Duration,
}

/// Where a request came from, as the failure limit counts it: an IPv4 address, or the /64 an IPv6
/// address lies in (one host is commonly given a whole /64, and could otherwise hop through it).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Source(IpAddr);

impl Source {
    /// The source `ip` counts under.
    pub fn of(ip: IpAddr) -> Source {
        match ip {
            IpAddr::V4(_) => Source(ip),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => Source(IpAddr::V4(v4)),
                None => {
                    let prefix = u128::from(v6) & !((1u128 << 64) - 1);
                    Source(IpAddr::V6(prefix.into()))
                }
            },
        }
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            IpAddr::V4(v4) => write!(f, "{v4}"),
            IpAddr::V6(v6) => write!(f, "{v6}/64"),
        }
    }
}

/// A refusal of a source over its failure limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limited {
    /// Seconds until the source may send one more request.
    pub retry_after_secs: u64,
    /// Whether this is the first refusal since the source went over: the one ade records.
    pub first: bool,
}

/// How often, at most, the log says that bodies are refused for want of a place.
const SAY_BUSY_EVERY_MS: i64 = 10_000;

/// The door's limits, shared by both webhook routes.
pub struct Door {
    bodies: Arc<Semaphore>,
    failures: Option<Buckets>,
    said_busy_at: AtomicI64,
}

impl Door {
    /// A door reading at most `max_bodies` unverified bodies at once, and holding each source
    /// address to `limit` when there is one.
    pub fn new(max_bodies: usize, limit: Option<FailureLimit>) -> Door {
        Door {
            bodies: Arc::new(Semaphore::new(max_bodies)),
            failures: limit.map(Buckets::new),
            said_busy_at: AtomicI64::new(i64::MIN),
        }
    }

    /// The failure limit sources are held to, if any.
    pub fn limit(&self) -> Option<FailureLimit> {
        self.failures.as_ref().map(|buckets| buckets.limit)
    }

    /// Whether `source` may be read at `now_ms`, or is over its failure limit.
    pub fn admit(&self, source: Source, now_ms: i64) -> Result<(), Limited> {
        match &self.failures {
            Some(buckets) => buckets.admit(source, now_ms),
            None => Ok(()),
        }
    }

    /// A place among the bodies being read, held until the signature is checked; `None` when
    /// every place is taken.
    pub fn enter(&self) -> Option<OwnedSemaphorePermit> {
        self.bodies.clone().try_acquire_owned().ok()
    }

    /// Whether a refusal for want of a place should be logged at `now_ms`: at most once every
    /// 10 s, since a flood would otherwise write a line per request.
    pub fn say_busy(&self, now_ms: i64) -> bool {
        let last = self.said_busy_at.load(Ordering::Relaxed);
        now_ms.saturating_sub(last) >= SAY_BUSY_EVERY_MS
            && self
                .said_busy_at
                .compare_exchange(last, now_ms, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
    }

    /// A request from `source` failed its signature at `now_ms`.
    pub fn failed(&self, source: Source, now_ms: i64) {
        if let Some(buckets) = &self.failures {
            buckets.failed(source, now_ms);
        }
    }
}

/// One source's bucket, kept as the failures it owes rather than those it has left (the generic
/// cell rate algorithm), so every step is exact integer arithmetic: each failure adds `window_ms`,
/// the debt drains by `failures` each millisecond, and the bucket is empty at `failures ×
/// window_ms`.
#[derive(Clone, Copy, Debug)]
struct Bucket {
    debt: u128,
    /// When `debt` was last brought up to date.
    at_ms: i64,
    /// When the source last sent a request that was looked at: who is forgotten first.
    heard_ms: i64,
    /// Refused since it went over, until it fills up again: one episode, recorded once.
    over: bool,
}

/// Token buckets per source, in memory, at most [`MAX_ADDRESSES`] of them. A full bucket is the
/// same as none, so only sources that failed lately are kept.
struct Buckets {
    limit: FailureLimit,
    buckets: Mutex<HashMap<Source, Bucket>>,
}

impl Buckets {
    fn new(limit: FailureLimit) -> Buckets {
        Buckets {
            limit,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// What one failure adds to a debt.
    fn cost(&self) -> u128 {
        self.limit.window.as_millis().max(1)
    }

    /// The debt of an empty bucket.
    fn capacity(&self) -> u128 {
        self.cost() * u128::from(self.limit.failures)
    }

    /// Brings `bucket` up to `now_ms`; an episode ends once the bucket is full again.
    fn refill(&self, bucket: &mut Bucket, now_ms: i64) {
        // A clock set back gives nothing back, and takes nothing either.
        let elapsed = u128::try_from(now_ms - bucket.at_ms).unwrap_or(0);
        bucket.debt = bucket
            .debt
            .saturating_sub(elapsed * u128::from(self.limit.failures));
        bucket.at_ms = bucket.at_ms.max(now_ms);
        if bucket.debt == 0 {
            bucket.over = false;
        }
    }

    fn admit(&self, source: Source, now_ms: i64) -> Result<(), Limited> {
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        let Some(bucket) = buckets.get_mut(&source) else {
            return Ok(());
        };
        self.refill(bucket, now_ms);
        bucket.heard_ms = now_ms;
        let over_by = (bucket.debt + self.cost()).saturating_sub(self.capacity());
        if over_by == 0 {
            return Ok(());
        }
        let first = !bucket.over;
        bucket.over = true;
        let wait_ms = over_by.div_ceil(u128::from(self.limit.failures.max(1)));
        let wait_secs = u64::try_from(wait_ms.div_ceil(1000)).unwrap_or(u64::MAX);
        Err(Limited {
            retry_after_secs: wait_secs.max(1),
            first,
        })
    }

    fn failed(&self, source: Source, now_ms: i64) {
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        if !buckets.contains_key(&source) && buckets.len() >= MAX_ADDRESSES {
            self.make_room(&mut buckets, now_ms);
        }
        let bucket = buckets.entry(source).or_insert(Bucket {
            debt: 0,
            at_ms: now_ms,
            heard_ms: now_ms,
            over: false,
        });
        self.refill(bucket, now_ms);
        bucket.heard_ms = now_ms;
        bucket.debt = (bucket.debt + self.cost()).min(self.capacity());
    }

    /// Forgets the buckets that filled up again, or else the one touched longest ago.
    fn make_room(&self, buckets: &mut HashMap<Source, Bucket>, now_ms: i64) {
        buckets.retain(|_, bucket| {
            self.refill(bucket, now_ms);
            bucket.debt > 0
        });
        if buckets.len() >= MAX_ADDRESSES
            && let Some(oldest) = buckets
                .iter()
                .min_by_key(|(_, bucket)| bucket.heard_ms)
                .map(|(source, _)| *source)
        {
            buckets.remove(&oldest);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINUTE: i64 = 60_000;

    fn ip(text: &str) -> Source {
        Source::of(text.parse().unwrap())
    }

    fn door(failures: u32, window_secs: u64) -> Door {
        Door::new(
            2,
            Some(FailureLimit {
                failures,
                window: Duration::from_secs(window_secs),
            }),
        )
    }

    #[test]
    fn a_source_is_refused_once_its_failures_are_spent_and_admitted_as_they_refill() {
        let door = door(3, 600);
        let mallory = ip("203.0.113.7");
        for _ in 0..3 {
            assert_eq!(door.admit(mallory, 0), Ok(()));
            door.failed(mallory, 0);
        }
        // 3 failures per 10 minutes: one comes back every 200 s.
        let refused = door.admit(mallory, 0).unwrap_err();
        assert_eq!(
            refused,
            Limited {
                retry_after_secs: 200,
                first: true
            }
        );
        let again = door.admit(mallory, 100_000).unwrap_err();
        assert_eq!(
            again,
            Limited {
                retry_after_secs: 100,
                first: false
            },
            "the same episode"
        );
        assert_eq!(door.admit(ip("198.51.100.1"), 0), Ok(()), "another source");
        assert_eq!(door.admit(mallory, 200_000), Ok(()));
        door.failed(mallory, 200_000);
        assert!(
            !door.admit(mallory, 200_000).unwrap_err().first,
            "a bucket that never filled up again is still the same episode"
        );
        // Full again after a quiet window: the next refusal begins a new episode.
        assert_eq!(door.admit(mallory, 200_000 + 10 * MINUTE), Ok(()));
        for _ in 0..3 {
            door.failed(mallory, 200_000 + 10 * MINUTE);
        }
        assert!(
            door.admit(mallory, 200_000 + 10 * MINUTE)
                .unwrap_err()
                .first
        );
    }

    #[test]
    fn no_limit_admits_everyone() {
        let door = Door::new(1, None);
        let mallory = ip("203.0.113.7");
        for _ in 0..1000 {
            door.failed(mallory, 0);
        }
        assert_eq!(door.admit(mallory, 0), Ok(()));
    }

    #[test]
    fn bodies_take_places_until_their_signature_is_checked() {
        let door = door(3, 600);
        let first = door.enter().expect("a place");
        let _second = door.enter().expect("a place");
        assert!(door.enter().is_none(), "two places, both taken");
        drop(first);
        assert!(door.enter().is_some());
    }

    #[test]
    fn ipv6_sources_count_by_their_64_and_mapped_ipv4_as_ipv4() {
        assert_eq!(ip("2001:db8:1:2::1"), ip("2001:db8:1:2:ffff::9"));
        assert_ne!(ip("2001:db8:1:2::1"), ip("2001:db8:1:3::1"));
        assert_eq!(ip("::ffff:203.0.113.7"), ip("203.0.113.7"));
        assert_eq!(ip("2001:db8:1:2:3:4:5:6").to_string(), "2001:db8:1:2::/64");
        assert_eq!(ip("203.0.113.7").to_string(), "203.0.113.7");
    }

    #[test]
    fn the_buckets_stay_bounded_and_forget_the_longest_quiet_first() {
        let door = door(2, 600);
        let buckets = door.failures.as_ref().unwrap();
        let source = |i: u32| Source(IpAddr::V4((0x0a00_0000 + i).into()));
        for i in 0..MAX_ADDRESSES as u32 {
            door.failed(source(i), i64::from(i));
            door.failed(source(i), i64::from(i));
        }
        assert_eq!(buckets.buckets.lock().unwrap().len(), MAX_ADDRESSES);
        door.failed(ip("203.0.113.7"), MAX_ADDRESSES as i64);
        let kept = buckets.buckets.lock().unwrap();
        assert_eq!(kept.len(), MAX_ADDRESSES);
        assert!(!kept.contains_key(&source(0)), "the oldest is forgotten");
        assert!(kept.contains_key(&source(1)));
        drop(kept);
        // Once the window has passed, every bucket is full again and gives way at once.
        door.failed(ip("198.51.100.1"), 11 * MINUTE);
        assert_eq!(buckets.buckets.lock().unwrap().len(), 1);
    }
}
