//! Secrets and encryption at rest (docs/secrets.md): the secret store that `ade secrets` manages
//! and agents' registrations name, sealed under a master key, and run logs sealed under the same
//! key when the operator asks for it.
//!
//! - [`key`]: the master key file, key ids, the keyring of the current and previous keys, and
//!   making a key file;
//! - [`seal`]: sealing and opening one value (XChaCha20-Poly1305, the key id and nonce kept
//!   with it);
//! - [`name`]: what a stored secret may be called;
//! - [`store`]: the store over the database: set, list, delete, rotate, and the one read for a
//!   run;
//! - [`logfile`]: sealed append-only logs, frame by frame, and reading them back.

pub mod key;
pub mod logfile;
pub mod name;
pub mod seal;
pub mod store;

use std::path::PathBuf;
use std::sync::Arc;

pub use key::{KeyError, KeyId, Keyring, MasterKey};
pub use logfile::{LogAppender, LogError, LogFiles};
pub use store::{KeyCheckError, Rotation, RunReader, SecretError, SecretStore};

/// `[secrets]`: where the master key is, the previous keys that still open what they sealed, and
/// whether run logs are sealed.
#[derive(Clone, Debug, Default)]
pub struct SecretsConfig {
    /// The current master key's file (`secrets.master_key_file` or `ADE_MASTER_KEY_FILE`).
    pub master_key_file: Option<PathBuf>,
    /// Key files of earlier master keys, kept while a rotation moves values off them.
    pub previous_master_key_files: Vec<PathBuf>,
    /// Whether new run logs (the agents' output, ade's notes, verification output) are sealed.
    pub encrypt_run_logs: bool,
    /// The keys of those files, read at load.
    pub keys: Arc<Keyring>,
}

impl SecretsConfig {
    /// How run logs are written and read under this configuration.
    pub fn log_files(&self) -> LogFiles {
        LogFiles::new(self.keys.clone(), self.encrypt_run_logs)
            .expect("the configuration checks that sealing logs has a key")
    }
}
