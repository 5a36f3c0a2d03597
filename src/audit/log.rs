//! The audit writer: turns pending entries into chained lines in the caller's transaction, signs
//! checkpoints, and repairs the folder after a crash (an unfinished line, or lines of a
//! transaction that never committed, are cut off again).

use super::checkpoint::{self, Checkpoint};
use super::files::{self, ChainFile};
use super::line::{Record, hash};
use super::mask::Masker;
use super::signing::{KeyError, PublicKey, SigningKey};
use crate::clock::{Clock, rfc3339_ms};
use crate::store::audit::{self as rows, Entry, GENESIS, Head, Waiting};
use crate::store::{Backend, Conn, Store, StoreError, Tx};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Mutex, watch};

/// Most pending records one part of a seal chains (one append, one sync).
const SEAL_BATCH: i64 = 500;

/// `[audit]`: where the chain and its checkpoints go and how they are cut and signed
/// (docs/configuration.md).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditConfig {
    /// The log folder (`<data_dir>/audit` unless set).
    pub dir: PathBuf,
    /// A file is closed and the next one started once it holds this many bytes.
    pub max_file_bytes: u64,
    /// How often the head is signed while records are added.
    pub checkpoint_every: Duration,
    /// The checkpoints file, outside the log folder.
    pub checkpoints_file: PathBuf,
    /// The Ed25519 private key (PKCS#8 PEM) checkpoints are signed with.
    pub signing_key_file: PathBuf,
    /// Whether the operator named the key file: then a missing file stops ade; ade's default key
    /// file is made at the first start instead.
    pub signing_key_configured: bool,
}

/// Why a record could not be written, or the log not opened.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The folder or a file could not be read or written (a full disk, say).
    #[error("audit log {path}: {source}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The operating system's reason.
        #[source]
        source: std::io::Error,
    },
    /// The folder does not end where the database says the chain ends.
    #[error(
        "audit log {dir}: {found}, but the database's chain ends at record {seq}; the folder was \
         changed or is not the one the other ade processes write (docs/audit.md)"
    )]
    Diverged {
        /// The folder.
        dir: PathBuf,
        /// What the folder holds.
        found: String,
        /// The database's head.
        seq: i64,
    },
    /// The signing key.
    #[error("audit signing key {0}")]
    Key(#[from] KeyError),
    /// A file of the log is not as ade writes one: a purge that reaches it removes nothing.
    #[error("audit log {path}: {why}; `ade audit verify` names what is wrong")]
    Malformed {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        why: String,
    },
}

/// Where the chain ends in the folder, as this process last wrote or read it.
#[derive(Clone, Debug)]
pub(super) struct End {
    /// The file records go to next, and its length; none before the first record.
    pub(super) file: Option<(ChainFile, u64)>,
    seq: i64,
    hash: String,
}

impl End {
    fn matches(&self, head: &Head) -> bool {
        self.seq == head.seq && self.hash == head.hash
    }
}

/// The audit log of one process: shared by its workers, one writer at a time across processes.
pub struct AuditLog {
    pub(super) config: AuditConfig,
    key: SigningKey,
    masker: std::sync::RwLock<Masker>,
    pub(super) clock: Arc<dyn Clock>,
    pub(super) end: Mutex<Option<End>>,
    /// Held for the whole of a purge, so two purges of one process do not interleave.
    pub(super) purging: Mutex<()>,
}

impl std::fmt::Debug for AuditLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditLog")
            .field("dir", &self.config.dir)
            .finish()
    }
}

impl AuditLog {
    /// Opens the log folder (made owner-only if missing) and the signing key (made at the default
    /// path on the first start; a configured key that is missing or unreadable is an error).
    pub fn open(
        config: AuditConfig,
        masker: Masker,
        clock: Arc<dyn Clock>,
    ) -> Result<AuditLog, AuditError> {
        files::ensure_dir(&config.dir).map_err(|source| AuditError::Io {
            path: config.dir.clone(),
            source,
        })?;
        let key = if config.signing_key_configured || config.signing_key_file.exists() {
            SigningKey::load(&config.signing_key_file)?
        } else {
            match SigningKey::generate(&config.signing_key_file) {
                Ok(key) => {
                    tracing::info!(
                        file = %config.signing_key_file.display(),
                        key_id = %key.public().id(),
                        "made the audit log's checkpoint signing key"
                    );
                    key
                }
                // Another process starting at the same moment made it first.
                Err(KeyError::Io { source, .. })
                    if source.kind() == std::io::ErrorKind::AlreadyExists =>
                {
                    SigningKey::load(&config.signing_key_file)?
                }
                Err(error) => return Err(error.into()),
            }
        };
        Ok(AuditLog {
            config,
            key,
            masker: std::sync::RwLock::new(masker),
            clock,
            end: Mutex::new(None),
            purging: Mutex::new(()),
        })
    }

    /// The key checkpoints verify with.
    pub fn public_key(&self) -> PublicKey {
        self.key.public()
    }

    /// Chains every pending entry, in the caller's transaction: call it just before the commit
    /// that acknowledges the action. The lines are on disk when it returns; if the transaction then
    /// does not commit, the next writer cuts them off again. Returns how many were chained.
    pub async fn seal(&self, conn: &mut Conn) -> Result<usize, AuditError> {
        self.seal_waiting(conn, Waiting::NotForSweep).await
    }

    /// Chains the pending entries `which` names: a transaction's own (and any a crashed one left),
    /// or, for the sweep, every one.
    async fn seal_waiting(&self, conn: &mut Conn, which: Waiting) -> Result<usize, AuditError> {
        // The look that transactions which record nothing stop at.
        let (head, mut pending) = match Backend::of(conn) {
            // One read: the write transaction keeps every other writer out already.
            Backend::Sqlite => rows::head_and_pending(conn, SEAL_BATCH, which).await?,
            Backend::Postgres => {
                if rows::pending(conn, SEAL_BATCH, which).await?.is_empty() {
                    return Ok(0);
                }
                let head = rows::lock_head(conn).await?;
                // Another process may have chained some of them before this one took the lock.
                (head, rows::pending(conn, SEAL_BATCH, which).await?)
            }
        };
        if pending.is_empty() {
            return Ok(0);
        }
        let mut end_slot = self.end.lock().await;
        // Where this process left the chain, checked against the folder as the lines go out;
        // found again (and repaired) when the folder moved meanwhile.
        let mut end = match end_slot.take().filter(|end| end.matches(&head)) {
            Some(end) => end,
            None => self.recover(&head).await?,
        };
        let mut may_recover = true;
        let mut total = 0;
        loop {
            let today = day(self.clock.now_ms());
            let (file, new, len_before) = match &end.file {
                Some((file, len)) if *len < self.config.max_file_bytes && file.day == today => {
                    (file.clone(), false, *len)
                }
                _ => {
                    let first = end.seq + 1;
                    let file = ChainFile {
                        path: self.config.dir.join(files::file_name(&today, first)),
                        day: today.clone(),
                        first,
                    };
                    (file, true, 0)
                }
            };
            let mut bytes = Vec::new();
            let mut seq = end.seq;
            let mut prev = end.hash.clone();
            for pending in &pending {
                seq += 1;
                let line = self.record(seq, &prev, &pending.entry).to_line();
                prev = hash(line.as_bytes());
                bytes.extend_from_slice(line.as_bytes());
                bytes.push(b'\n');
            }
            let path = file.path.clone();
            let written = bytes.len() as u64;
            let (dir, last) = (self.config.dir.clone(), end.file.clone());
            let appended = blocking(move || {
                if !files::ends_at(&dir, last.as_ref().map(|(f, len)| (f.path.as_path(), *len)))? {
                    return Ok(false);
                }
                files::append(&path, &bytes, new, len_before).map(|()| true)
            })
            .await
            .map_err(|source| AuditError::Io {
                path: file.path.clone(),
                source,
            })?;
            if !appended {
                // Only before the first part is out: from then on this transaction holds the
                // head, and the folder ends where this loop put it.
                if !may_recover {
                    return Err(AuditError::Io {
                        path: self.config.dir.clone(),
                        source: std::io::Error::other(
                            "the folder changed while the head was locked",
                        ),
                    });
                }
                end = self.recover(&head).await?;
                may_recover = false;
                continue;
            }
            may_recover = false;
            let ids: Vec<i64> = pending.iter().map(|p| p.id).collect();
            // The head moves with each part, so a transaction that commits after a later part
            // failed (its caller chose to) never holds deleted rows without their lines.
            rows::chained_to(
                conn,
                &ids,
                &Head {
                    seq,
                    hash: prev.clone(),
                },
            )
            .await?;
            end = End {
                file: Some((file, len_before + written)),
                seq,
                hash: prev,
            };
            total += pending.len();
            if pending.len() < SEAL_BATCH as usize {
                break;
            }
            pending = rows::pending(conn, SEAL_BATCH, which).await?;
            if pending.is_empty() {
                break;
            }
        }
        *end_slot = Some(end);
        Ok(total)
    }

    /// Makes the folder end where the database's head does, whether or not anything is pending:
    /// at start, so lines a crash left past the head are set aside before anyone reads the log.
    pub async fn reconcile(&self, store: &Store) -> Result<(), AuditError> {
        let mut tx = store.begin().await?;
        let head = rows::lock_head(&mut tx).await?;
        let mut end_slot = self.end.lock().await;
        *end_slot = Some(self.recover(&head).await?);
        drop(end_slot);
        tx.commit().await.map_err(|source| StoreError::Database {
            what: "read the audit head",
            source,
        })?;
        Ok(())
    }

    /// Where the chain ends in the folder for `head`, which the caller holds locked: where this
    /// process last left it (`cached`) while the folder still agrees, else found (and repaired).
    pub(super) async fn end_for(
        &self,
        cached: Option<End>,
        head: &Head,
    ) -> Result<End, AuditError> {
        match cached.filter(|end| end.matches(head)) {
            Some(end) if self.still_last(&end).await => Ok(end),
            _ => self.recover(head).await,
        }
    }

    /// Whether the file this process last wrote is still the chain's last and as long as it
    /// left it: another process may have written and failed to commit since.
    async fn still_last(&self, end: &End) -> bool {
        let dir = self.config.dir.clone();
        let last = end.file.clone();
        blocking(move || {
            files::ends_at(&dir, last.as_ref().map(|(f, len)| (f.path.as_path(), *len)))
                .unwrap_or(false)
        })
        .await
    }

    /// Chains what is pending in a transaction of its own: for entries recorded outside a job
    /// (the command line), and the sweep that picks up any a caller left pending. Never call it
    /// while holding a transaction: on SQLite it waits for the one write connection.
    pub async fn seal_now(&self, store: &Store) -> Result<usize, AuditError> {
        // A look on a reader first: on SQLite a write transaction takes the one writer.
        if !rows::any_pending(&mut *store.reader().await?).await? {
            return Ok(0);
        }
        let mut tx = store.begin().await?;
        let sealed = self.seal_waiting(&mut tx, Waiting::All).await?;
        commit_records(tx).await?;
        Ok(sealed)
    }

    /// Chains what `tx` holds and commits it.
    pub(super) async fn commit_sealed(&self, mut tx: Tx) -> Result<usize, AuditError> {
        let sealed = self.seal(&mut tx).await?;
        commit_records(tx).await?;
        Ok(sealed)
    }

    /// Records `entry` about `about` (its scope read from that row) and chains it at once, in a
    /// transaction of its own.
    pub async fn record_about_now(
        &self,
        store: &Store,
        about: rows::About,
        entry: &Entry,
    ) -> Result<(), AuditError> {
        let mut tx = store.begin().await?;
        rows::record_about(&mut tx, about, entry).await?;
        self.commit_sealed(tx).await.map(drop)
    }

    /// Records `entries` and chains them at once, in a transaction of their own.
    pub async fn record_now(&self, store: &Store, entries: &[Entry]) -> Result<(), AuditError> {
        let mut tx = store.begin().await?;
        for entry in entries {
            rows::record(&mut tx, entry).await?;
        }
        self.commit_sealed(tx).await.map(drop)
    }

    /// Signs the committed head if no checkpoint covers it yet; keeps the checkpoint in the
    /// checkpoints file, then in the database.
    pub async fn checkpoint(&self, store: &Store) -> Result<Option<Checkpoint>, AuditError> {
        let mut conn = store.writer().await?;
        let head = rows::head(&mut conn).await?;
        if head.seq == 0 || rows::newest_checkpoint(&mut conn).await? >= Some(head.seq) {
            return Ok(None);
        }
        self.sign_at(&mut conn, head.seq, &head.hash)
            .await
            .map(Some)
    }

    /// Signs a checkpoint of record `seq` with hash `hash` (the head, or the last record of files
    /// about to be purged, so that what remains is anchored) and keeps it.
    pub async fn sign_at(
        &self,
        conn: &mut Conn,
        seq: i64,
        hash: &str,
    ) -> Result<Checkpoint, AuditError> {
        let every = self.config.checkpoint_every.as_secs() as i64;
        let checkpoint = Checkpoint::sign(&self.key, seq, hash, self.clock.now_ms(), every);
        let path = self.config.checkpoints_file.clone();
        let line = checkpoint.clone();
        blocking(move || checkpoint::append(&path, &line))
            .await
            .map_err(|source| AuditError::Io {
                path: self.config.checkpoints_file.clone(),
                source,
            })?;
        rows::insert_checkpoint(conn, &checkpoint).await?;
        tracing::debug!(seq, "signed an audit checkpoint");
        Ok(checkpoint)
    }

    /// Sweeps pending entries every second and signs a checkpoint at the configured interval,
    /// until `shutdown`; [`AuditLog::close`] does both a last time once the workers have stopped.
    pub async fn run(self: Arc<Self>, store: Store, mut shutdown: watch::Receiver<bool>) {
        let mut sweep = tokio::time::interval(Duration::from_secs(1));
        sweep.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let every = self.config.checkpoint_every.as_millis() as i64;
        let mut last_checkpoint = self.clock.now_ms();
        loop {
            tokio::select! {
                _ = sweep.tick() => {}
                _ = shutdown.changed() => {
                    if *shutdown.borrow() { break; }
                }
            }
            if let Err(error) = self.seal_now(&store).await {
                tracing::error!(%error, "could not write pending audit records; trying again");
            }
            if self.clock.now_ms() - last_checkpoint >= every {
                match self.checkpoint(&store).await {
                    Ok(_) => last_checkpoint = self.clock.now_ms(),
                    Err(error) => tracing::error!(%error, "could not sign an audit checkpoint"),
                }
            }
        }
    }

    /// Chains what is still pending and signs the head: at shutdown, after the workers stopped.
    pub async fn close(&self, store: &Store) -> Result<(), AuditError> {
        self.seal_now(store).await?;
        self.checkpoint(store).await?;
        Ok(())
    }

    /// Masks `value` too from now on: a stored secret read for a run, which no configuration
    /// named at start.
    pub fn mask_also(&self, value: &str) {
        let mut masker = self.masker.write().unwrap_or_else(|e| e.into_inner());
        if !masker.covers(value) {
            *masker = masker.with(value);
        }
    }

    fn record(&self, seq: i64, prev: &str, entry: &Entry) -> Record {
        let masker = self.masker.read().unwrap_or_else(|e| e.into_inner());
        let text = |s: &str| masker.text(s);
        let scope = &entry.scope;
        Record {
            seq,
            prev: prev.to_owned(),
            time: rfc3339_ms(entry.at),
            actor: text(&entry.actor),
            actor_kind: entry.actor_kind.as_str().to_owned(),
            action: text(&entry.action),
            subject: text(&entry.subject),
            forge: scope.forge.map(|f| f.as_str().to_owned()),
            repository: scope.repository.as_deref().map(text),
            goal: scope.goal,
            spec_version: scope.spec_version,
            task: scope.task.as_deref().map(text),
            run: scope.run,
            outcome: entry.outcome.as_str().to_owned(),
            details: match masker.value(&serde_json::Value::Object(entry.details.clone())) {
                serde_json::Value::Object(map) => map,
                _ => unreachable!("an object masks to an object"),
            },
        }
    }

    /// Finds where the chain ends in the folder and makes it end where the database's head does:
    /// a half-written line, and lines past the head (written by a transaction that did not
    /// commit), are cut off; anything else that disagrees is an error.
    async fn recover(&self, head: &Head) -> Result<End, AuditError> {
        let dir = self.config.dir.clone();
        let head = head.clone();
        let checkpoints = self.config.checkpoints_file.clone();
        blocking(move || recover(&dir, &head, &checkpoints))
            .await
            .map_err(|source| AuditError::Io {
                path: self.config.dir.clone(),
                source,
            })?
    }
}

fn recover(
    dir: &Path,
    head: &Head,
    checkpoints: &Path,
) -> std::io::Result<Result<End, AuditError>> {
    let diverged = |found: String| {
        Ok(Err(AuditError::Diverged {
            dir: dir.to_path_buf(),
            found,
            seq: head.seq,
        }))
    };
    let mut chain = files::list(dir)?;
    // Whole files started past the head belong to a transaction that never committed.
    let mut later = Vec::new();
    while chain.last().is_some_and(|f| f.first > head.seq) {
        later.push(chain.pop().expect("checked"));
    }
    // Lines past the head are set aside only when no signed checkpoint says they were committed:
    // a database restored from a backup, or replaced, must not cost the log its history.
    let signed = || {
        super::checkpoint::read(checkpoints)
            .ok()
            .and_then(|all| all.iter().map(|c| c.seq).max())
            .unwrap_or(0)
    };
    let refuse_past_head = |what: &str| {
        let covered = signed();
        (covered > head.seq).then(|| {
            format!(
                "{what}, and signed checkpoints cover records up to {covered}: the database was \
                 restored or replaced"
            )
        })
    };
    if let Some(first) = later.last()
        && let Some(why) =
            refuse_past_head(&format!("{} starts past the head", first.path.display()))
    {
        return diverged(why);
    }
    let end = match chain.last() {
        None if head.seq == 0 => End {
            file: None,
            seq: 0,
            hash: GENESIS.to_owned(),
        },
        None => return diverged("it holds no record".into()),
        Some(file) => {
            let Some(found) = files::find_back(&file.path, head.seq)? else {
                return diverged(format!(
                    "{} does not hold record {}",
                    file.path.display(),
                    head.seq
                ));
            };
            if found.hash != head.hash {
                return diverged(format!(
                    "{} holds record {} with another hash",
                    file.path.display(),
                    head.seq
                ));
            }
            if found.after.iter().any(|&seq| seq <= head.seq) {
                return diverged(format!(
                    "{} holds records after {} that are not later ones",
                    file.path.display(),
                    head.seq
                ));
            }
            if !found.after.is_empty()
                && let Some(why) = refuse_past_head(&format!(
                    "{} holds records past {}",
                    file.path.display(),
                    head.seq
                ))
            {
                return diverged(why);
            }
            if found.end < std::fs::metadata(&file.path)?.len() {
                tracing::warn!(
                    file = %file.path.display(),
                    records = found.after.len(),
                    "set aside audit lines past the chain's head: their transaction did not commit"
                );
                files::set_aside(&file.path, found.end)?;
            }
            End {
                file: Some((file.clone(), found.end)),
                seq: head.seq,
                hash: head.hash.clone(),
            }
        }
    };
    for file in later.into_iter().rev() {
        tracing::warn!(
            file = %file.path.display(),
            "set aside an audit file started past the chain's head: its transaction did not commit"
        );
        files::set_aside(&file.path, 0)?;
    }
    Ok(Ok(end))
}

/// `YYYYMMDD` (UTC) of a Unix time in milliseconds.
fn day(unix_ms: i64) -> String {
    rfc3339_ms(unix_ms)[..10].replace('-', "")
}

/// Commits a transaction that chained audit records.
async fn commit_records(tx: Tx) -> Result<(), AuditError> {
    tx.commit().await.map_err(|source| StoreError::Database {
        what: "commit audit records",
        source,
    })?;
    Ok(())
}

pub(super) async fn blocking<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> T {
    tokio::task::spawn_blocking(work)
        .await
        .expect("audit file work does not panic")
}
