//! `ade audit verify`: reads a log folder once, front to back, and names the first record that was
//! changed, removed, inserted or reordered, a tail cut off behind the newest checkpoint, a
//! checkpoint that is not signed by ade's key, and a checkpoint that is overdue.

use super::checkpoint::Checkpoint;
use super::files;
use super::line::{Link, hash};
use super::signing::PublicKey;
use crate::clock::parse_rfc3339_ms;
use crate::store::audit::GENESIS;
use std::collections::BTreeMap;
use std::fmt;
use std::io::BufRead;
use std::path::{Path, PathBuf};

/// How late a checkpoint may be past its interval before it counts as overdue.
const GRACE_MS: i64 = 60_000;

/// Where a line is.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Place {
    /// The file's place in the chain, for ordering.
    order: usize,
    /// The file.
    pub file: PathBuf,
    /// The line, from 1.
    pub line: u64,
}

impl fmt::Display for Place {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.file.display(), self.line)
    }
}

/// What is wrong with a log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Problem {
    /// A line that is not a record.
    Unreadable {
        /// Where.
        at: Place,
        /// Why.
        why: String,
    },
    /// A record whose content no longer hashes to what the chain (or a checkpoint) holds.
    Changed {
        /// Its seq.
        seq: i64,
        /// Where.
        at: Place,
    },
    /// Records missing from the chain.
    Removed {
        /// The first missing seq.
        from: i64,
        /// The last missing seq.
        to: i64,
        /// Where they should stand (before this line).
        at: Place,
    },
    /// A record that is not part of the chain (its seq is taken).
    Inserted {
        /// Its seq.
        seq: i64,
        /// Where.
        at: Place,
    },
    /// A record found after records that follow it.
    Reordered {
        /// Its seq.
        seq: i64,
        /// Where.
        at: Place,
    },
    /// The first record is not the chain's first, and no checkpoint covers the one before it.
    Unanchored {
        /// Its seq.
        seq: i64,
        /// Where.
        at: Place,
    },
    /// The newest checkpoint covers records the folder no longer holds.
    CutTail {
        /// The newest checkpoint's record.
        checkpoint: i64,
        /// The last record in the folder (0: none).
        last: i64,
    },
    /// A checkpoint the key did not sign.
    BadSignature {
        /// The record it claims to cover.
        seq: i64,
    },
    /// Records older than the checkpoint interval that no checkpoint covers yet.
    Overdue {
        /// The first record no checkpoint covers.
        seq: i64,
        /// Its time.
        since: String,
        /// The interval, seconds.
        every_secs: i64,
    },
}

impl Problem {
    fn place(&self) -> Option<&Place> {
        match self {
            Problem::Unreadable { at, .. }
            | Problem::Changed { at, .. }
            | Problem::Removed { at, .. }
            | Problem::Inserted { at, .. }
            | Problem::Reordered { at, .. }
            | Problem::Unanchored { at, .. } => Some(at),
            _ => None,
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::Unreadable { at, why } => write!(f, "{at}: not an audit record ({why})"),
            Problem::Changed { seq, at } => write!(f, "{at}: record {seq} was changed"),
            Problem::Removed { from, to, at } if from == to => {
                write!(f, "{at}: record {from} was removed before this line")
            }
            Problem::Removed { from, to, at } => {
                write!(
                    f,
                    "{at}: records {from} to {to} were removed before this line"
                )
            }
            Problem::Inserted { seq, at } => {
                write!(
                    f,
                    "{at}: a record was inserted (seq {seq} is already in the chain)"
                )
            }
            Problem::Reordered { seq, at } => {
                write!(
                    f,
                    "{at}: record {seq} was moved after records that follow it"
                )
            }
            Problem::Unanchored { seq, at } => write!(
                f,
                "{at}: the log starts at record {seq}, and no checkpoint covers record {}: \
                 earlier records were removed without the checkpoint a purge signs",
                seq - 1
            ),
            Problem::CutTail { checkpoint, last } => write!(
                f,
                "the tail was cut: a signed checkpoint covers record {checkpoint}, the log ends \
                 at record {last}"
            ),
            Problem::BadSignature { seq } => write!(
                f,
                "the checkpoint of record {seq} is not signed by this key"
            ),
            Problem::Overdue {
                seq,
                since,
                every_secs,
            } => write!(
                f,
                "a checkpoint is overdue: records from {seq} on ({since}) are not covered by one, \
                 and checkpoints are due every {every_secs} s"
            ),
        }
    }
}

/// What a verification found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Report {
    /// Files read.
    pub files: usize,
    /// Records read.
    pub records: u64,
    /// The first record's seq.
    pub first: Option<i64>,
    /// The last record's seq.
    pub last: Option<i64>,
    /// The newest checkpoint that is signed by the key.
    pub newest_checkpoint: Option<i64>,
    /// Every problem, the first in the chain first; empty when the log verifies.
    pub problems: Vec<Problem>,
}

/// Verifies the log in `dir` against `checkpoints` signed by `key`, as of `now_ms`;
/// `every_secs` is the checkpoint interval when no checkpoint says it.
pub fn verify(
    dir: &Path,
    checkpoints: &[Checkpoint],
    key: &PublicKey,
    now_ms: i64,
    every_secs: i64,
) -> std::io::Result<Report> {
    let mut report = Report::default();
    let mut signed = BTreeMap::new();
    for checkpoint in checkpoints {
        if checkpoint.signed_by(key) {
            signed.insert(checkpoint.seq, checkpoint);
        } else {
            report.problems.push(Problem::BadSignature {
                seq: checkpoint.seq,
            });
        }
    }
    let newest = signed.values().next_back().copied();
    report.newest_checkpoint = newest.map(|c| c.seq);
    let mut chain = Chain::new(&signed);
    let files = files::list(dir)?;
    report.files = files.len();
    for (order, file) in files.iter().enumerate() {
        let reader = std::io::BufReader::with_capacity(1 << 20, std::fs::File::open(&file.path)?);
        let mut number = 0;
        for line in reader.split(b'\n') {
            let line = line?;
            number += 1;
            let at = Place {
                order,
                file: file.path.clone(),
                line: number,
            };
            match Link::read(&line) {
                Ok(link) => {
                    report.records += 1;
                    chain.next(link, hash(&line), at);
                }
                Err(why) => chain.problems.push(Problem::Unreadable { at, why }),
            }
        }
    }
    let last = chain.finish();
    report.first = chain.first.as_ref().map(|(seq, _)| *seq);
    report.last = last.as_ref().map(|(seq, _)| *seq);
    let mut problems = chain.problems;
    problems.sort_by(|a, b| a.place().cmp(&b.place()));
    report.problems.splice(0..0, problems);

    let last_seq = report.last.unwrap_or(0);
    if let Some(newest) = newest
        && newest.seq > last_seq
    {
        report.problems.push(Problem::CutTail {
            checkpoint: newest.seq,
            last: last_seq,
        });
    }
    let every_secs = newest.map_or(every_secs, |c| c.every_secs);
    if let Some((seq, time)) = chain.after_newest.clone()
        && now_ms - parse_rfc3339_ms(&time).unwrap_or(0) > every_secs * 1000 + GRACE_MS
    {
        report.problems.push(Problem::Overdue {
            seq,
            since: time,
            every_secs,
        });
    }
    Ok(report)
}

/// A record that did not chain to the one before it: either it or its predecessor was changed,
/// which the record after it tells.
struct Suspect {
    seq: i64,
    at: Place,
    hash: String,
    before: Place,
}

/// The chain as read so far.
struct Chain<'a> {
    checkpoints: &'a BTreeMap<i64, &'a Checkpoint>,
    first: Option<(i64, Place)>,
    expected: i64,
    prev: String,
    prev_at: Option<Place>,
    /// Seqs skipped by a jump forward, until they turn up (reordered) or the end (removed).
    missing: BTreeMap<i64, Place>,
    suspect: Option<Suspect>,
    /// The first record past the newest checkpoint, and its time.
    after_newest: Option<(i64, String)>,
    problems: Vec<Problem>,
}

impl<'a> Chain<'a> {
    fn new(checkpoints: &'a BTreeMap<i64, &'a Checkpoint>) -> Chain<'a> {
        Chain {
            checkpoints,
            first: None,
            expected: 1,
            prev: GENESIS.to_owned(),
            prev_at: None,
            missing: BTreeMap::new(),
            suspect: None,
            after_newest: None,
            problems: Vec::new(),
        }
    }

    fn next(&mut self, link: Link, hash: String, at: Place) {
        let seq = link.seq;
        if let Some(suspect) = self.suspect.take() {
            let changed = if seq == suspect.seq + 1 && link.prev == suspect.hash {
                Problem::Changed {
                    seq: suspect.seq - 1,
                    at: suspect.before,
                }
            } else {
                Problem::Changed {
                    seq: suspect.seq,
                    at: suspect.at,
                }
            };
            self.problems.push(changed);
        }
        let newest = self.checkpoints.keys().next_back().copied().unwrap_or(0);
        if seq > newest && self.after_newest.is_none() {
            self.after_newest = Some((seq, link.time.clone()));
        }
        if let Some(checkpoint) = self.checkpoints.get(&seq)
            && checkpoint.head != hash
        {
            self.problems.push(Problem::Changed {
                seq,
                at: at.clone(),
            });
        }
        if self.first.is_none() {
            self.first = Some((seq, at.clone()));
            let anchored = seq == 1 && link.prev == GENESIS
                || self
                    .checkpoints
                    .get(&(seq - 1))
                    .is_some_and(|c| c.head == link.prev);
            if !anchored {
                if seq == 1 {
                    self.problems.push(Problem::Changed {
                        seq,
                        at: at.clone(),
                    });
                } else {
                    self.problems.push(Problem::Unanchored {
                        seq,
                        at: at.clone(),
                    });
                }
            }
        } else if seq == self.expected {
            if link.prev != self.prev {
                self.suspect = Some(Suspect {
                    seq,
                    at: at.clone(),
                    hash: hash.clone(),
                    before: self.prev_at.clone().unwrap_or_else(|| at.clone()),
                });
            }
        } else if seq > self.expected {
            for missing in self.expected..seq {
                if self.missing.len() < 10_000 {
                    self.missing.insert(missing, at.clone());
                }
            }
        } else {
            if self.missing.remove(&seq).is_some() {
                self.problems.push(Problem::Reordered { seq, at });
            } else {
                self.problems.push(Problem::Inserted { seq, at });
            }
            return;
        }
        self.expected = seq + 1;
        self.prev = hash;
        self.prev_at = Some(at);
    }

    /// Settles what waited for more records; returns the last record read.
    fn finish(&mut self) -> Option<(i64, Place)> {
        if let Some(suspect) = self.suspect.take() {
            self.problems.push(Problem::Changed {
                seq: suspect.seq,
                at: suspect.at,
            });
        }
        let mut runs: Vec<(i64, i64, Place)> = Vec::new();
        for (seq, at) in std::mem::take(&mut self.missing) {
            match runs.last_mut() {
                Some((_, to, place)) if *to + 1 == seq && *place == at => *to = seq,
                _ => runs.push((seq, seq, at)),
            }
        }
        for (from, to, at) in runs {
            self.problems.push(Problem::Removed { from, to, at });
        }
        self.prev_at.clone().map(|at| (self.expected - 1, at))
    }
}

/// A one-line summary for people.
pub fn summary(report: &Report) -> String {
    let range = match (report.first, report.last) {
        (Some(first), Some(last)) => format!("records {first} to {last}"),
        _ => "no records".to_owned(),
    };
    let checkpoint = report
        .newest_checkpoint
        .map_or("no checkpoint".to_owned(), |seq| {
            format!("newest checkpoint at record {seq}")
        });
    format!(
        "{} records in {} files ({range}), {checkpoint}",
        report.records, report.files
    )
}
