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
use std::path::Path;
use std::sync::Arc;

/// Lines handed from the reading thread at a time.
const BATCH: usize = 4096;

/// Lines as read, each with its hash.
type Batch = Vec<(Vec<u8>, String)>;

/// How late a checkpoint may be past its interval before it counts as overdue.
const GRACE_MS: i64 = 60_000;

/// Where a line is.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Place {
    /// The file's place in the chain, for ordering.
    order: usize,
    /// The file.
    pub file: Arc<Path>,
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
    /// The log does not end where the database's chain does.
    Head {
        /// The database head's record.
        database: i64,
        /// The log's last record.
        log: i64,
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
            Problem::Head { database, log } if database == log => write!(
                f,
                "record {log}, the last, was changed: its hash is not the one the database's \
                 chain ends with"
            ),
            Problem::Head { database, log } if database > log => write!(
                f,
                "the tail was cut: the database's chain ends at record {database}, the log at \
                 record {log}"
            ),
            Problem::Head { database, log } => write!(
                f,
                "the log holds records {} to {log} past the database's chain, which ends at \
                 {database}: lines of a transaction that did not commit, set aside when ade next \
                 starts",
                database + 1
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
    /// The hash of the last record's line.
    pub last_hash: Option<String>,
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
        let path: Arc<Path> = Arc::from(file.path.as_path());
        // One thread reads and hashes lines while this one reads their links and follows the
        // chain: on two cores the two halves of the work overlap.
        std::thread::scope(|scope| -> std::io::Result<()> {
            let (lines, hashed) = std::sync::mpsc::sync_channel::<std::io::Result<Batch>>(4);
            let source = &file.path;
            scope.spawn(move || {
                let read = (|| -> std::io::Result<()> {
                    let reader =
                        std::io::BufReader::with_capacity(1 << 20, std::fs::File::open(source)?);
                    let mut batch = Vec::with_capacity(BATCH);
                    for line in reader.split(b'\n') {
                        let line = line?;
                        let digest = hash(&line);
                        batch.push((line, digest));
                        if batch.len() == BATCH {
                            let full = std::mem::replace(&mut batch, Vec::with_capacity(BATCH));
                            if lines.send(Ok(full)).is_err() {
                                return Ok(());
                            }
                        }
                    }
                    lines.send(Ok(batch)).ok();
                    Ok(())
                })();
                if let Err(error) = read {
                    lines.send(Err(error)).ok();
                }
            });
            let mut number = 0;
            for batch in hashed {
                for (line, digest) in batch? {
                    number += 1;
                    let at = Place {
                        order,
                        file: path.clone(),
                        line: number,
                    };
                    match Link::read(&line) {
                        Ok(link) => {
                            report.records += 1;
                            chain.next(link, digest, at);
                        }
                        Err(why) => chain.problems.push(Problem::Unreadable { at, why }),
                    }
                }
            }
            Ok(())
        })?;
    }
    let last = chain.finish();
    report.first = chain.first.as_ref().map(|(seq, _)| *seq);
    report.last = last.as_ref().map(|(seq, _)| *seq);
    report.last_hash = report.last.map(|_| chain.prev.clone());
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
    /// The newest checkpoint's record (0: none).
    newest: i64,
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
            newest: checkpoints.keys().next_back().copied().unwrap_or(0),
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
        if seq > self.newest && self.after_newest.is_none() {
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

/// Holds the report against the database's head `(seq, hash)`, for the server's own log.
pub fn against_head(report: &mut Report, seq: i64, hash: &str) {
    let log = report.last.unwrap_or(0);
    if seq != log || (seq > 0 && report.last_hash.as_deref() != Some(hash)) {
        report.problems.push(Problem::Head { database: seq, log });
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::Scratch;
    use crate::audit::line::Record;
    use crate::audit::signing::SigningKey;
    use crate::clock::rfc3339_ms;
    use std::path::PathBuf;

    const NOW: i64 = 1_796_572_445_000;

    /// A log of `n` records written one per file line in `files` files, a checkpoint of its last
    /// record, and the key that signed it.
    struct Log {
        dir: Scratch,
        key: SigningKey,
        checkpoints: Vec<Checkpoint>,
    }

    fn log(n: i64, per_file: i64) -> Log {
        let dir = Scratch::new();
        let key = SigningKey::generate(&dir.path().join("key.pem")).unwrap();
        let audit = dir.path().join("audit");
        std::fs::create_dir(&audit).unwrap();
        let mut prev = GENESIS.to_owned();
        let mut lines = Vec::new();
        for seq in 1..=n {
            let record = Record {
                seq,
                prev: prev.clone(),
                time: rfc3339_ms(NOW - 1_000 + seq),
                actor: "alice".into(),
                actor_kind: "user".into(),
                action: "command.accepted".into(),
                subject: format!("issue #{seq}"),
                forge: None,
                repository: None,
                goal: Some(seq),
                spec_version: None,
                task: None,
                run: None,
                outcome: "ok".into(),
                details: Default::default(),
            };
            let line = record.to_line();
            prev = hash(line.as_bytes());
            lines.push(line);
        }
        for (i, chunk) in lines.chunks(per_file as usize).enumerate() {
            let first = i as i64 * per_file + 1;
            let body: String = chunk.iter().map(|l| format!("{l}\n")).collect();
            std::fs::write(audit.join(files::file_name("20261206", first)), body).unwrap();
        }
        let checkpoints = vec![Checkpoint::sign(&key, n, &prev, NOW, 600)];
        Log {
            dir,
            key,
            checkpoints,
        }
    }

    impl Log {
        fn audit(&self) -> PathBuf {
            self.dir.path().join("audit")
        }

        fn lines(&self) -> Vec<(PathBuf, Vec<String>)> {
            files::list(&self.audit())
                .unwrap()
                .into_iter()
                .map(|f| {
                    let text = std::fs::read_to_string(&f.path).unwrap();
                    (f.path, text.lines().map(str::to_owned).collect())
                })
                .collect()
        }

        fn rewrite(&self, change: impl FnOnce(&mut Vec<String>)) {
            let (path, mut lines) = self.lines().remove(0);
            change(&mut lines);
            let body: String = lines.iter().map(|l| format!("{l}\n")).collect();
            std::fs::write(path, body).unwrap();
        }

        fn verify(&self) -> Report {
            verify(
                &self.audit(),
                &self.checkpoints,
                &self.key.public(),
                NOW + 1_000,
                600,
            )
            .unwrap()
        }

        fn first_problem(&self) -> String {
            let report = self.verify();
            report
                .problems
                .first()
                .map(ToString::to_string)
                .unwrap_or_else(|| format!("no problem in {report:?}"))
        }
    }

    #[test]
    fn a_whole_log_across_files_verifies() {
        let log = log(10, 4);
        let report = log.verify();
        assert!(report.problems.is_empty(), "{report:?}");
        assert_eq!((report.files, report.records), (3, 10));
        assert_eq!((report.first, report.last), (Some(1), Some(10)));
        assert_eq!(report.newest_checkpoint, Some(10));
    }

    #[test]
    fn a_changed_record_is_named() {
        let log = log(6, 10);
        log.rewrite(|lines| lines[2] = lines[2].replace("alice", "mallory"));
        let problem = log.first_problem();
        assert!(problem.contains(":3: record 3 was changed"), "{problem}");
    }

    #[test]
    fn a_changed_last_record_is_caught_by_the_checkpoint() {
        let log = log(6, 10);
        log.rewrite(|lines| lines[5] = lines[5].replace("alice", "mallory"));
        let problem = log.first_problem();
        assert!(problem.contains(":6: record 6 was changed"), "{problem}");
    }

    #[test]
    fn a_record_whose_link_was_forged_is_named_not_its_predecessor() {
        let log = log(6, 10);
        log.rewrite(|lines| {
            let other = "f".repeat(64);
            let start = lines[3].find("\"prev\":\"").unwrap() + 8;
            lines[3].replace_range(start..start + 64, &other);
        });
        let problem = log.first_problem();
        assert!(problem.contains(":4: record 4 was changed"), "{problem}");
    }

    #[test]
    fn removed_records_are_named() {
        let log = log(8, 10);
        log.rewrite(|lines| {
            lines.drain(3..5);
        });
        let problem = log.first_problem();
        assert!(
            problem.contains(":4: records 4 to 5 were removed"),
            "{problem}"
        );
    }

    #[test]
    fn an_inserted_record_is_named() {
        let log = log(6, 10);
        log.rewrite(|lines| {
            let copy = lines[1].replace("alice", "mallory");
            lines.insert(4, copy);
        });
        let problem = log.first_problem();
        assert!(
            problem.contains(":5: a record was inserted (seq 2"),
            "{problem}"
        );
    }

    #[test]
    fn reordered_records_are_named() {
        let log = log(6, 10);
        log.rewrite(|lines| lines.swap(2, 3));
        let problem = log.first_problem();
        assert!(
            problem.contains(":4: record 3 was moved after records that follow it"),
            "{problem}"
        );
    }

    #[test]
    fn a_cut_tail_is_named_against_the_newest_checkpoint() {
        let log = log(6, 10);
        log.rewrite(|lines| {
            lines.truncate(4);
        });
        let report = log.verify();
        assert_eq!(
            report.problems,
            vec![Problem::CutTail {
                checkpoint: 6,
                last: 4
            }]
        );
        assert!(report.problems[0].to_string().contains("the tail was cut"));
    }

    #[test]
    fn a_line_that_is_not_a_record_is_named() {
        let log = log(3, 10);
        log.rewrite(|lines| lines.insert(1, "{\"seq\": \"two\"}".into()));
        let problem = log.first_problem();
        assert!(problem.contains(":2: not an audit record"), "{problem}");
    }

    #[test]
    fn checkpoints_not_signed_by_the_key_are_named() {
        let mut log = log(3, 10);
        log.checkpoints[0].seq = 2;
        let report = log.verify();
        assert!(
            report.problems.contains(&Problem::BadSignature { seq: 2 }),
            "{report:?}"
        );
        let other = SigningKey::generate(&log.dir.path().join("other.pem")).unwrap();
        log.checkpoints = vec![Checkpoint::sign(&other, 3, &"0".repeat(64), NOW, 600)];
        assert!(
            log.verify()
                .problems
                .contains(&Problem::BadSignature { seq: 3 })
        );
    }

    #[test]
    fn records_no_checkpoint_covers_past_the_interval_are_overdue() {
        let mut log = log(3, 10);
        log.checkpoints.clear();
        assert!(log.verify().problems.is_empty(), "young records wait");
        let report = verify(&log.audit(), &[], &log.key.public(), NOW + 3_600_000, 600).unwrap();
        let problem = report.problems[0].to_string();
        assert!(
            problem.contains("a checkpoint is overdue: records from 1 on"),
            "{problem}"
        );
    }

    #[test]
    fn a_purged_start_is_anchored_by_the_checkpoint_of_the_last_purged_record() {
        let mut log = log(8, 4);
        let first_file = log.lines().remove(0);
        let last_purged = hash(first_file.1[3].as_bytes());
        std::fs::remove_file(&first_file.0).unwrap();
        let unanchored = log.first_problem();
        assert!(
            unanchored.contains("the log starts at record 5, and no checkpoint covers record 4"),
            "{unanchored}"
        );
        log.checkpoints
            .push(Checkpoint::sign(&log.key, 4, &last_purged, NOW, 600));
        let report = log.verify();
        assert!(report.problems.is_empty(), "{report:?}");
        assert_eq!(report.first, Some(5));
    }
}
