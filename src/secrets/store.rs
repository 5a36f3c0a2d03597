//! The secret store: values sealed under the master key in the database, set, listed, deleted and
//! re-sealed under a new key by `ade secrets`, and read one at a time for the run of an agent
//! whose registration names them (docs/secrets.md). A value is never stored, printed or logged in
//! plaintext; errors name the secret, never its value.

use std::sync::Arc;

use super::key::{KeyId, Keyring};
use super::name;
use super::seal::{self, OpenError, SealError};
use crate::audit::AuditLog;
use crate::clock::unix_ms;
use crate::secret::Secret;
use crate::store::audit::{About, ActorKind, Entry, Outcome};
use crate::store::secrets::{self as rows, SealedRow, SecretInfo};
use crate::store::{Store, StoreError};

/// The most bytes a stored value may have (a variable of an agent's environment).
pub const MAX_VALUE_BYTES: usize = 64 * 1024;

/// Why the secret store could not do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    /// The name is not a secret name.
    #[error("{0}")]
    Name(String),
    /// The value cannot be an environment variable's value.
    #[error("the value of {name} {reason}")]
    Value {
        /// The secret.
        name: String,
        /// What is wrong with it, never the value.
        reason: &'static str,
    },
    /// No master key is configured, so nothing can be sealed.
    #[error(
        "no master key is configured: set secrets.master_key_file (or ADE_MASTER_KEY_FILE) to a key \
         file (`ade secrets keygen FILE` makes one); ade never stores a secret in plaintext"
    )]
    NoMasterKey,
    /// No secret of that name is stored.
    #[error("no secret {0} is stored (set it with `ade secrets set {0}`)")]
    NotFound(String),
    /// A stored value did not open.
    #[error("the stored secret {name} cannot be opened: {reason}")]
    Open {
        /// The secret.
        name: String,
        /// Why.
        reason: OpenError,
    },
    /// A stored value opened but is not text (it was not set by ade).
    #[error("the stored secret {0} is not UTF-8 text")]
    NotText(String),
    /// Sealing failed.
    #[error(transparent)]
    Seal(#[from] SealError),
    /// The runner was given no secret store to read from.
    #[error("this runner has no secret store to read it from")]
    NoStore,
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The read could not be recorded in the audit log, so the value was not handed over.
    #[error("the read could not be recorded in the audit log: {0}")]
    Audit(String),
}

/// Who reads a stored secret for a run: what identifies the read in ade's log (and audit).
#[derive(Clone, Copy, Debug)]
pub struct RunReader<'a> {
    /// The run.
    pub run: i64,
    /// The agent whose registration names the secret.
    pub agent: &'a str,
    /// The variable of the agent's environment the value goes to.
    pub variable: &'a str,
}

/// What `ade secrets rotate-key` did.
#[derive(Debug, Default)]
pub struct Rotation {
    /// The current key, that every value is now sealed under.
    pub key_id: Option<KeyId>,
    /// Values re-sealed under it.
    pub resealed: usize,
    /// Values that were sealed under it already.
    pub current: usize,
    /// Values set again while the rotation ran (sealed under the current key by that).
    pub changed: usize,
    /// Values that did not open, each with why: they stay as they were.
    pub failed: Vec<(String, String)>,
}

/// Why `ade serve` does not start with the keys it has.
#[derive(Debug, thiserror::Error)]
pub enum KeyCheckError {
    /// Values are stored but no key is configured.
    #[error(
        "{count} secret(s) are stored, sealed under key id(s) {ids}, but no master key is \
         configured: set secrets.master_key_file (or ADE_MASTER_KEY_FILE) to the key file they \
         were sealed with; ade never falls back to plaintext"
    )]
    NoKey {
        /// How many values are stored.
        count: i64,
        /// Their key ids.
        ids: String,
    },
    /// Values are sealed under a key that is neither the current key nor a previous one.
    #[error(
        "the master key file {files} does not hold the key of {count} stored secret(s), sealed \
         under key id(s) {ids}: point secrets.master_key_file at the key file they were sealed \
         with, or list it in secrets.previous_master_key_files while `ade secrets rotate-key` \
         moves them to the new key"
    )]
    WrongKey {
        /// The configured key files with their ids.
        files: String,
        /// How many values no configured key opens.
        count: i64,
        /// Their key ids.
        ids: String,
    },
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The secret store over ade's database, with the keys that seal and open its values. Cheap to
/// clone.
#[derive(Clone, Debug)]
pub struct SecretStore {
    store: Store,
    keys: Arc<Keyring>,
    audit: Option<Arc<AuditLog>>,
}

/// What a stored value is bound to: its name, so a ciphertext copied to another name does not
/// open.
fn aad(name: &str) -> Vec<u8> {
    format!("ade secret\0{name}").into_bytes()
}

impl SecretStore {
    /// The store of `store`'s database, sealing and opening with `keys`.
    pub fn new(store: Store, keys: Arc<Keyring>) -> SecretStore {
        SecretStore {
            store,
            keys,
            audit: None,
        }
    }

    /// Every read for a run is recorded in `audit` before the value is handed over, and the value
    /// is masked in every later record (docs/audit.md).
    pub fn audited(mut self, audit: Arc<AuditLog>) -> SecretStore {
        self.audit = Some(audit);
        self
    }

    /// The keys it seals and opens with.
    pub fn keys(&self) -> &Arc<Keyring> {
        &self.keys
    }

    /// Seals `value` under the current key and stores it as `name`, replacing any earlier value.
    /// The value must be non-empty UTF-8 without NUL, at most [`MAX_VALUE_BYTES`].
    pub async fn set(&self, name: &str, value: &Secret) -> Result<KeyId, SecretError> {
        name::check(name).map_err(SecretError::Name)?;
        let reason = match value.expose() {
            "" => Some("is empty"),
            v if v.len() > MAX_VALUE_BYTES => Some("is longer than 64 KiB"),
            v if v.contains('\0') => {
                Some("holds a NUL character, which no environment variable can")
            }
            _ => None,
        };
        if let Some(reason) = reason {
            return Err(SecretError::Value {
                name: name.to_owned(),
                reason,
            });
        }
        let key = self.keys.current().ok_or(SecretError::NoMasterKey)?;
        let sealed = seal::seal(key, &aad(name), value.expose().as_bytes())?;
        let now = crate::clock::unix_ms();
        let mut conn = self.store.writer().await?;
        rows::put(
            &mut conn,
            &SealedRow {
                name: name.to_owned(),
                key_id: sealed.key_id.to_string(),
                nonce: sealed.nonce.to_vec(),
                ciphertext: sealed.ciphertext,
                created_at: now,
                updated_at: now,
            },
        )
        .await?;
        Ok(sealed.key_id)
    }

    /// Every stored secret's name, key id and times; never a value.
    pub async fn list(&self) -> Result<Vec<SecretInfo>, SecretError> {
        let mut conn = self.store.reader().await?;
        Ok(rows::list(&mut conn).await?)
    }

    /// Removes `name`; an error when there is no such secret.
    pub async fn delete(&self, name: &str) -> Result<(), SecretError> {
        name::check(name).map_err(SecretError::Name)?;
        let mut conn = self.store.writer().await?;
        if rows::delete(&mut conn, name).await? {
            Ok(())
        } else {
            Err(SecretError::NotFound(name.to_owned()))
        }
    }

    /// Which of `names` are not stored.
    pub async fn missing<'a>(&self, names: &[&'a str]) -> Result<Vec<&'a str>, SecretError> {
        let mut conn = self.store.reader().await?;
        let mut missing = Vec::new();
        for name in names {
            if rows::get(&mut conn, name).await?.is_none() {
                missing.push(*name);
            }
        }
        Ok(missing)
    }

    /// The value of `name`, read for `reader`'s run. Every read of a stored secret for a run goes
    /// through here, and each is logged with the secret's name, the run, the agent and the
    /// variable (never the value).
    pub async fn read_for_run(
        &self,
        name: &str,
        reader: RunReader<'_>,
    ) -> Result<Secret, SecretError> {
        let read = self.read(name).await;
        tracing::info!(
            secret = name,
            run = reader.run,
            agent = reader.agent,
            variable = reader.variable,
            ok = read.is_ok(),
            "a stored secret was read for a run"
        );
        if let Some(audit) = &self.audit {
            if let Ok(value) = &read {
                audit.mask_also(value.expose());
            }
            let outcome = if read.is_ok() {
                Outcome::Ok
            } else {
                Outcome::Failed
            };
            let mut entry = Entry::new(
                unix_ms(),
                ActorKind::Ade,
                "ade",
                "secret.read",
                format!("secret {name}"),
                outcome,
            )
            .with("agent", reader.agent)
            .with("variable", reader.variable);
            if let Err(error) = &read {
                entry = entry.with("why", error.to_string());
            }
            // The value is handed over only once its read is on record.
            audit
                .record_about_now(&self.store, About::Run(reader.run), &entry)
                .await
                .map_err(|e| SecretError::Audit(e.to_string()))?;
        }
        read
    }

    /// The value of `name`, opened with whichever configured key sealed it.
    async fn read(&self, name: &str) -> Result<Secret, SecretError> {
        let row = {
            let mut conn = self.store.reader().await?;
            rows::get(&mut conn, name).await?
        };
        let row = row.ok_or_else(|| SecretError::NotFound(name.to_owned()))?;
        let plain = self.open(&row)?;
        String::from_utf8(plain)
            .map(Secret::new)
            .map_err(|_| SecretError::NotText(name.to_owned()))
    }

    fn open(&self, row: &SealedRow) -> Result<Vec<u8>, SecretError> {
        seal::open(
            &self.keys,
            &row.key_id,
            &row.nonce,
            &aad(&row.name),
            &row.ciphertext,
        )
        .map_err(|reason| SecretError::Open {
            name: row.name.clone(),
            reason,
        })
    }

    /// Re-seals every value that is not under the current key with it, one at a time, each only
    /// if it was not set again meanwhile; values sealed under a previous key keep opening while
    /// this runs, so a running ade with both keys configured goes on working. A value that does
    /// not open is reported by name and left as it was.
    pub async fn rotate(&self) -> Result<Rotation, SecretError> {
        let key = self.keys.current().ok_or(SecretError::NoMasterKey)?;
        let mut rotation = Rotation {
            key_id: Some(key.id().clone()),
            ..Rotation::default()
        };
        let sealed = {
            let mut conn = self.store.reader().await?;
            rows::all_sealed(&mut conn).await?
        };
        for row in sealed {
            if row.key_id == key.id().as_str() {
                rotation.current += 1;
                continue;
            }
            let mut plain = match self.open(&row) {
                Ok(plain) => plain,
                Err(error) => {
                    let reason = match error {
                        SecretError::Open { reason, .. } => reason.to_string(),
                        other => other.to_string(),
                    };
                    rotation.failed.push((row.name.clone(), reason));
                    continue;
                }
            };
            let resealed = seal::seal(key, &aad(&row.name), &plain);
            super::key::wipe(&mut plain);
            let resealed = resealed?;
            let new = SealedRow {
                key_id: resealed.key_id.to_string(),
                nonce: resealed.nonce.to_vec(),
                ciphertext: resealed.ciphertext,
                ..row.clone()
            };
            let mut conn = self.store.writer().await?;
            if rows::reseal(&mut conn, &row, &new).await? {
                rotation.resealed += 1;
            } else {
                rotation.changed += 1;
            }
        }
        Ok(rotation)
    }

    /// Checks, before `ade serve` starts, that every stored value is sealed under a key it has:
    /// the current one or a previous one. A missing or wrong key stops the start, naming the key
    /// file; ade never goes on without the keys of what it stores.
    pub async fn check_keys(&self) -> Result<(), KeyCheckError> {
        let by_key = {
            let mut conn = self.store.reader().await?;
            rows::key_ids(&mut conn).await?
        };
        let unknown: Vec<&(String, i64)> = by_key
            .iter()
            .filter(|(id, _)| self.keys.get(id).is_none())
            .collect();
        if unknown.is_empty() {
            return Ok(());
        }
        let count = unknown.iter().map(|(_, n)| n).sum();
        let ids = unknown
            .iter()
            .map(|(id, _)| id.as_str())
            .collect::<Vec<_>>()
            .join(", ");
        if self.keys.is_empty() {
            Err(KeyCheckError::NoKey { count, ids })
        } else {
            Err(KeyCheckError::WrongKey {
                files: self.keys.describe(),
                count,
                ids,
            })
        }
    }
}
