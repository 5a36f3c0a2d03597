//! Retention of the audit log: whole files at the front of the chain whose every record is older
//! than a cutoff are removed, never the file the chain ends in. The last record of each file to go
//! is signed as a checkpoint, kept in the checkpoints file and the database, before any file is
//! removed, and files go oldest first: whenever a crash stops a purge, the log's first record is
//! anchored by the checkpoint of the record before it. The last of them, the anchor, is where the
//! remaining log starts from (docs/audit.md, "Retention").

use super::files::{self, ChainFile};
use super::log::{AuditError, AuditLog, blocking};
use crate::clock::parse_rfc3339_ms;
use crate::store::audit::{self as rows, ActorKind, Entry, Outcome};
use crate::store::{Store, StoreError, Tx};
use std::path::{Path, PathBuf};

/// What [`AuditLog::purge_before`] removed, for the job that applies the server's retention to
/// report.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditPurge {
    /// The names of the files removed, in chain order.
    pub files: Vec<String>,
    /// The first record removed.
    pub first_seq: i64,
    /// The last record removed.
    pub last_seq: i64,
    /// The record whose signed checkpoint the remaining log starts from.
    pub anchor: i64,
}

/// A file due for removal, and its last record.
#[derive(Clone, Debug)]
struct Due {
    file: ChainFile,
    last_seq: i64,
    last_hash: String,
}

impl AuditLog {
    /// Removes the files at the front of the chain whose every record is older than `cutoff_ms`
    /// (Unix ms), never the file the chain ends in, and records the purge (`retention.purged`):
    /// how the server's audit retention is applied. Returns what was removed, or `None` when
    /// nothing was due.
    pub async fn purge_before(
        &self,
        store: &Store,
        cutoff_ms: i64,
    ) -> Result<Option<AuditPurge>, AuditError> {
        let _purging = self.purging.lock().await;
        let due = self.sign_due(store, cutoff_ms).await?;
        if due.is_empty() {
            return Ok(None);
        }
        self.remove_due(store, &due).await
    }

    /// Finds the files due and signs the last record of each, under the head's lock; the
    /// checkpoints are committed before any file is removed.
    async fn sign_due(&self, store: &Store, cutoff_ms: i64) -> Result<Vec<Due>, AuditError> {
        let mut tx = store.begin().await?;
        let head = rows::lock_head(&mut tx).await?;
        // The file the chain ends in is found as a writer finds it: a file past the head, which
        // a transaction that never committed left, is not the current one.
        let current = {
            let mut slot = self.end.lock().await;
            let end = self.end_for(slot.take(), &head).await?;
            let current = end.file.as_ref().map(|(file, _)| file.clone());
            *slot = Some(end);
            current
        };
        let due = match current {
            Some(current) => {
                let dir = self.config.dir.clone();
                blocking(move || due_files(&dir, &current, cutoff_ms)).await?
            }
            None => Vec::new(),
        };
        for file in &due {
            self.sign_at(&mut tx, file.last_seq, &file.last_hash)
                .await?;
        }
        commit(tx, "keep the checkpoints of an audit purge").await?;
        Ok(due)
    }

    /// Removes the files `due` (signed already), oldest first, under the head's lock; then the
    /// database's checkpoints below the anchor, and records what was removed. A file another
    /// process's purge removed meanwhile is skipped; a file that cannot be removed stops the
    /// purge there, and what was removed before it is still recorded.
    async fn remove_due(
        &self,
        store: &Store,
        due: &[Due],
    ) -> Result<Option<AuditPurge>, AuditError> {
        let mut tx = store.begin().await?;
        rows::lock_head(&mut tx).await?;
        let dir = self.config.dir.clone();
        let paths: Vec<PathBuf> = due.iter().map(|d| d.file.path.clone()).collect();
        let (removed, failed) = blocking(move || remove_files(&dir, &paths)).await;
        let settled = &due[..removed.len()];
        let Some(anchor) = settled.last().map(|d| d.last_seq) else {
            return failed.map_or(Ok(None), Err);
        };
        rows::drop_checkpoints_before(&mut tx, anchor).await?;
        let gone: Vec<&Due> = settled
            .iter()
            .zip(removed)
            .filter_map(|(due, removed)| removed.then_some(due))
            .collect();
        let (Some(first), Some(last)) = (gone.first(), gone.last()) else {
            commit(tx, "remove the checkpoints of purged audit records").await?;
            return failed.map_or(Ok(None), Err);
        };
        let purge = AuditPurge {
            files: gone.iter().map(|due| name(&due.file.path)).collect(),
            first_seq: first.file.first,
            last_seq: last.last_seq,
            anchor,
        };
        let entry = Entry::new(
            self.clock.now_ms(),
            ActorKind::Ade,
            "ade",
            "retention.purged",
            "audit log",
            Outcome::Ok,
        )
        .with("class", "audit")
        .with("files", purge.files.clone())
        .with("first_seq", purge.first_seq)
        .with("last_seq", purge.last_seq)
        .with("anchor", purge.anchor);
        rows::record(&mut tx, &entry).await?;
        self.commit_sealed(tx).await?;
        tracing::info!(
            files = purge.files.len(),
            first_seq = purge.first_seq,
            last_seq = purge.last_seq,
            anchor = purge.anchor,
            "purged audit files past their retention"
        );
        failed.map_or(Ok(Some(purge)), Err)
    }
}

/// The files before `current`, in chain order, up to the first whose last record is not older
/// than `cutoff_ms`. Each must end with the record the next file's first one links to, or the
/// checkpoint signed of it would not anchor what remains.
fn due_files(dir: &Path, current: &ChainFile, cutoff_ms: i64) -> Result<Vec<Due>, AuditError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| AuditError::Io { path, source }
    };
    let malformed = |path: &Path, why: String| AuditError::Malformed {
        path: path.to_path_buf(),
        why,
    };
    let chain = files::list(dir).map_err(io(dir))?;
    let mut due = Vec::new();
    for pair in chain.windows(2) {
        let (file, next) = (&pair[0], &pair[1]);
        if file.first >= current.first {
            break;
        }
        let last_seq = next.first - 1;
        let found = files::find_back(&file.path, last_seq)
            .map_err(io(&file.path))?
            .ok_or_else(|| {
                malformed(
                    &file.path,
                    format!(
                        "it does not hold record {last_seq}, the one before {}'s first",
                        name(&next.path)
                    ),
                )
            })?;
        let len = std::fs::metadata(&file.path).map_err(io(&file.path))?.len();
        if found.end != len {
            return Err(malformed(
                &file.path,
                format!(
                    "lines follow record {last_seq}, the one before {}'s first",
                    name(&next.path)
                ),
            ));
        }
        let at = parse_rfc3339_ms(&found.time).ok_or_else(|| {
            malformed(
                &file.path,
                format!("record {last_seq} has no time ade can read"),
            )
        })?;
        if at >= cutoff_ms {
            break;
        }
        let link = files::first_link(&next.path).map_err(io(&next.path))?;
        if !link.is_some_and(|l| l.seq == next.first && l.prev == found.hash) {
            return Err(malformed(
                &next.path,
                format!(
                    "its first line is not record {} linked to record {last_seq} of {}",
                    next.first,
                    name(&file.path)
                ),
            ));
        }
        due.push(Due {
            file: file.clone(),
            last_seq,
            last_hash: found.hash,
        });
    }
    Ok(due)
}

/// Removes `paths` in order, up to the first that cannot be removed, and syncs the folder. Says
/// of each path up to there whether it was there to remove, and what failed.
fn remove_files(dir: &Path, paths: &[PathBuf]) -> (Vec<bool>, Option<AuditError>) {
    let mut removed = Vec::with_capacity(paths.len());
    let mut failed = None;
    for path in paths {
        match std::fs::remove_file(path) {
            Ok(()) => removed.push(true),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => removed.push(false),
            Err(source) => {
                failed = Some(AuditError::Io {
                    path: path.clone(),
                    source,
                });
                break;
            }
        }
    }
    let synced = std::fs::File::open(dir).and_then(|folder| folder.sync_all());
    if let Err(source) = synced {
        failed = failed.or(Some(AuditError::Io {
            path: dir.to_path_buf(),
            source,
        }));
    }
    (removed, failed)
}

fn name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

async fn commit(tx: Tx, what: &'static str) -> Result<(), AuditError> {
    tx.commit()
        .await
        .map_err(|source| StoreError::Database { what, source })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::line::Record;
    use crate::audit::verify::{self, Problem, Report};
    use crate::audit::{AuditConfig, Masker, Scratch, checkpoint};
    use crate::clock::{Clock, ManualClock};
    use crate::store::StoreOptions;
    use std::sync::Arc;
    use std::time::Duration;

    const DAY: i64 = 86_400_000;
    /// 2026-12-01T00:00:00Z.
    const START: i64 = 1_796_083_200_000;

    /// A log on SQLite whose every batch of records starts a file of its own.
    struct Fixture {
        dir: Scratch,
        store: Store,
        clock: ManualClock,
        log: AuditLog,
    }

    impl Fixture {
        async fn new() -> Fixture {
            let dir = Scratch::new();
            let store = Store::connect(StoreOptions {
                url: format!("sqlite://{}", dir.path().join("ade.db").display()),
                max_connections: 2,
            })
            .await
            .unwrap();
            store.migrate().await.unwrap();
            let clock = ManualClock::at(START);
            let log = open(dir.path(), &clock);
            Fixture {
                dir,
                store,
                clock,
                log,
            }
        }

        fn config(&self) -> AuditConfig {
            config(self.dir.path())
        }

        /// The log as a fresh process opens it.
        fn reopen(&self) -> AuditLog {
            open(self.dir.path(), &self.clock)
        }

        /// A file of two records made now, then a day passes.
        async fn file(&self) {
            let now = self.clock.now_ms();
            self.log
                .record_now(&self.store, &[entry(now), entry(now)])
                .await
                .unwrap();
            self.clock.advance(DAY);
        }

        fn names(&self) -> Vec<String> {
            files::list(&self.config().dir)
                .unwrap()
                .iter()
                .map(|f| name(&f.path))
                .collect()
        }

        fn records(&self) -> Vec<Record> {
            files::list(&self.config().dir)
                .unwrap()
                .iter()
                .flat_map(|f| {
                    std::fs::read_to_string(&f.path)
                        .unwrap()
                        .lines()
                        .map(|l| serde_json::from_str(l).unwrap())
                        .collect::<Vec<_>>()
                })
                .collect()
        }

        async fn db_checkpoints(&self) -> Vec<checkpoint::Checkpoint> {
            rows::checkpoints(&mut self.store.reader().await.unwrap())
                .await
                .unwrap()
        }

        /// `ade audit verify` of the server's own log: the checkpoints of the file and the
        /// database, and the database's head. Overdue checkpoints are left out: the clock moves
        /// a day at a time here, and no checkpoint is signed on a schedule.
        async fn verify(&self) -> Report {
            let mut checkpoints = checkpoint::read(&self.config().checkpoints_file).unwrap();
            checkpoints.extend(self.db_checkpoints().await);
            let head = rows::head(&mut self.store.reader().await.unwrap())
                .await
                .unwrap();
            let mut report = verify::verify(
                &self.config().dir,
                &checkpoints,
                &self.log.public_key(),
                self.clock.now_ms(),
                600,
            )
            .unwrap();
            verify::against_head(&mut report, head.seq, &head.hash);
            report
                .problems
                .retain(|p| !matches!(p, Problem::Overdue { .. }));
            report
        }
    }

    fn config(dir: &Path) -> AuditConfig {
        AuditConfig {
            dir: dir.join("audit"),
            max_file_bytes: 1,
            checkpoint_every: Duration::from_secs(600),
            checkpoints_file: dir.join("audit-checkpoints.jsonl"),
            signing_key_file: dir.join("audit-signing-key.pem"),
            signing_key_configured: false,
        }
    }

    fn open(dir: &Path, clock: &ManualClock) -> AuditLog {
        AuditLog::open(config(dir), Masker::default(), Arc::new(clock.clone())).unwrap()
    }

    fn entry(at: i64) -> Entry {
        Entry::new(
            at,
            ActorKind::Operator,
            "ops",
            "admin.test",
            "a test",
            Outcome::Ok,
        )
    }

    #[tokio::test]
    async fn files_older_than_the_cutoff_go_and_the_rest_verifies_from_the_anchor() {
        let f = Fixture::new().await;
        for _ in 0..4 {
            f.file().await;
        }
        let before = f.names();
        assert_eq!(before.len(), 4, "{before:?}");
        f.log.checkpoint(&f.store).await.unwrap();

        let purge = f
            .log
            .purge_before(&f.store, START + 2 * DAY)
            .await
            .unwrap()
            .expect("the first two files are due");
        assert_eq!(
            purge,
            AuditPurge {
                files: before[..2].to_vec(),
                first_seq: 1,
                last_seq: 4,
                anchor: 4,
            }
        );
        let after = f.names();
        assert_eq!(after[..2], before[2..], "{after:?}");
        assert_eq!(after.len(), 3, "the purge's own record: {after:?}");

        let records = f.records();
        let fifth = files::first_link(&files::list(&f.config().dir).unwrap()[0].path)
            .unwrap()
            .unwrap();
        assert_eq!(fifth.seq, 5);
        let anchors = |all: Vec<checkpoint::Checkpoint>| {
            all.into_iter()
                .filter(|c| c.seq == 4 && c.head == fifth.prev)
                .count()
        };
        assert_eq!(
            anchors(checkpoint::read(&f.config().checkpoints_file).unwrap()),
            1
        );
        let kept = f.db_checkpoints().await;
        assert_eq!(anchors(kept.clone()), 1);
        assert_eq!(
            kept.iter().map(|c| c.seq).collect::<Vec<_>>(),
            vec![4, 8],
            "the anchor and the head's checkpoint stay, those below the anchor go"
        );

        let purged = records.last().unwrap();
        assert_eq!(
            (
                purged.seq,
                purged.action.as_str(),
                purged.actor_kind.as_str(),
                purged.actor.as_str(),
                purged.subject.as_str(),
                purged.outcome.as_str()
            ),
            (9, "retention.purged", "ade", "ade", "audit log", "ok")
        );
        assert_eq!(
            serde_json::Value::Object(purged.details.clone()),
            serde_json::json!({
                "class": "audit",
                "files": before[..2],
                "first_seq": 1,
                "last_seq": 4,
                "anchor": 4,
            })
        );

        let report = f.verify().await;
        assert!(report.problems.is_empty(), "{report:?}");
        assert_eq!((report.first, report.last), (Some(5), Some(9)));

        f.file().await;
        let report = f.verify().await;
        assert!(report.problems.is_empty(), "{report:?}");
        assert_eq!((report.first, report.last), (Some(5), Some(11)));
    }

    #[tokio::test]
    async fn a_cutoff_no_file_is_older_than_purges_nothing() {
        let f = Fixture::new().await;
        for _ in 0..3 {
            f.file().await;
        }
        let names = f.names();
        let checkpoints = std::fs::read(&f.config().checkpoints_file).ok();
        // The first file's last record is at START: not older than START.
        assert_eq!(f.log.purge_before(&f.store, START).await.unwrap(), None);
        assert_eq!(f.names(), names);
        assert_eq!(
            std::fs::read(&f.config().checkpoints_file).ok(),
            checkpoints
        );
        assert_eq!(f.records().len(), 6, "nothing recorded");
    }

    #[tokio::test]
    async fn the_file_the_chain_ends_in_stays_however_old_its_records_are() {
        let f = Fixture::new().await;
        f.file().await;
        let only = f.names();
        assert_eq!(
            f.log
                .purge_before(&f.store, START + 100 * DAY)
                .await
                .unwrap(),
            None
        );
        assert_eq!(f.names(), only);

        for _ in 0..2 {
            f.file().await;
        }
        // A file past the head, which a transaction that never committed left, is not the one
        // the chain ends in.
        let mut tx = f.store.begin().await.unwrap();
        rows::record(&mut tx, &entry(f.clock.now_ms()))
            .await
            .unwrap();
        f.log.seal(&mut tx).await.unwrap();
        tx.rollback().await.unwrap();
        let before = f.names();
        assert_eq!(before.len(), 4, "{before:?}");

        let purge = f
            .log
            .purge_before(&f.store, START + 100 * DAY)
            .await
            .unwrap()
            .expect("all but the last committed file are due");
        assert_eq!(purge.files, before[..2]);
        assert_eq!((purge.first_seq, purge.last_seq), (1, 4));
        let report = f.verify().await;
        assert!(report.problems.is_empty(), "{report:?}");
        assert_eq!((report.first, report.last), (Some(5), Some(7)));
        assert_eq!(f.records()[2].action, "retention.purged");
    }

    #[tokio::test]
    async fn a_crash_between_signing_and_removing_leaves_a_log_that_verifies_and_goes_on() {
        let f = Fixture::new().await;
        for _ in 0..3 {
            f.file().await;
        }
        let due = f.log.sign_due(&f.store, START + 2 * DAY).await.unwrap();
        assert_eq!(
            due.iter().map(|d| d.last_seq).collect::<Vec<_>>(),
            vec![2, 4]
        );
        let report = f.verify().await;
        assert!(
            report.problems.is_empty(),
            "signed, nothing removed: {report:?}"
        );

        // The crash came after the first file was removed.
        std::fs::remove_file(&due[0].file.path).unwrap();
        let report = f.verify().await;
        assert!(report.problems.is_empty(), "{report:?}");
        assert_eq!(report.first, Some(3));

        let restarted = f.reopen();
        restarted.reconcile(&f.store).await.unwrap();
        let purge = restarted
            .purge_before(&f.store, START + 2 * DAY)
            .await
            .unwrap()
            .expect("the second file is still due");
        assert_eq!(
            purge,
            AuditPurge {
                files: vec![name(&due[1].file.path)],
                first_seq: 3,
                last_seq: 4,
                anchor: 4,
            }
        );
        restarted
            .record_now(&f.store, &[entry(f.clock.now_ms())])
            .await
            .unwrap();
        let report = f.verify().await;
        assert!(report.problems.is_empty(), "{report:?}");
        assert_eq!((report.first, report.last), (Some(5), Some(8)));
    }

    #[tokio::test]
    async fn files_removed_by_hand_without_an_anchor_still_fail_verify() {
        let f = Fixture::new().await;
        for _ in 0..3 {
            f.file().await;
        }
        f.log.checkpoint(&f.store).await.unwrap();
        let first = files::list(&f.config().dir).unwrap().remove(0);
        std::fs::remove_file(&first.path).unwrap();
        let report = f.verify().await;
        assert!(
            matches!(report.problems[..], [Problem::Unanchored { seq: 3, .. }]),
            "{report:?}"
        );
    }

    #[tokio::test]
    async fn a_purge_will_not_anchor_past_a_break_in_the_chain() {
        let f = Fixture::new().await;
        for _ in 0..3 {
            f.file().await;
        }
        let second = files::list(&f.config().dir).unwrap().remove(1);
        let text = std::fs::read_to_string(&second.path).unwrap();
        let start = text.find("\"prev\":\"").unwrap() + 8;
        let mut forged = text.clone();
        forged.replace_range(start..start + 64, &"f".repeat(64));
        std::fs::write(&second.path, forged).unwrap();
        let error = f
            .log
            .purge_before(&f.store, START + DAY)
            .await
            .unwrap_err()
            .to_string();
        assert!(
            error.contains(&name(&second.path))
                && error.contains("is not record 3 linked to record 2"),
            "{error}"
        );
        assert_eq!(f.names().len(), 3, "nothing was removed");
    }
}
