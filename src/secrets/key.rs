//! Master keys: the file that holds one (32 random bytes, raw or as hex or base64 text), the key
//! id stored beside every value sealed under it (a short hash of the key, never the key), the
//! keyring of the current key and the previous ones that still open what they sealed, and
//! `ade secrets keygen`, which writes a new key file only its owner can read (docs/secrets.md).

use std::fmt;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use sha2::{Digest, Sha256};

/// Bytes in a master key.
pub const KEY_BYTES: usize = 32;

/// What the key id hashes before the key, so the id is no other hash of it.
const KEY_ID_CONTEXT: &[u8] = b"ade master key id\n";

/// Why a master key could not be had.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The key file cannot be read (missing, a folder, no permission).
    #[error("cannot read the master key file {}: {source}", path.display())]
    Read {
        /// The key file.
        path: PathBuf,
        /// The operating system's reason.
        source: std::io::Error,
    },
    /// The key file does not hold a key in a form ade reads.
    #[error("the master key file {} {reason}", path.display())]
    Format {
        /// The key file.
        path: PathBuf,
        /// What is wrong with it, never its content.
        reason: String,
    },
    /// `keygen` was pointed at a file that exists: a key is never overwritten.
    #[error("{} exists; ade never overwrites a key file (pick a new path)", path.display())]
    Exists {
        /// The file.
        path: PathBuf,
    },
    /// The new key file could not be written.
    #[error("cannot write the key file {}: {source}", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// The operating system's reason.
        source: std::io::Error,
    },
    /// The system's random generator failed.
    #[error("the system's random generator failed")]
    Random,
}

/// The id of a master key: the first 8 bytes of a SHA-256 over the key, in hex. Stored beside
/// each sealed value and in each sealed log's header, so ade knows which key opens it; it says
/// nothing usable about the key.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct KeyId(String);

impl KeyId {
    /// The id as stored.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A 32-byte master key. It never prints itself, and its bytes are overwritten when dropped.
pub struct MasterKey {
    bytes: [u8; KEY_BYTES],
    id: KeyId,
}

impl MasterKey {
    /// The key of these bytes.
    pub fn from_bytes(bytes: [u8; KEY_BYTES]) -> MasterKey {
        let mut hash = Sha256::new();
        hash.update(KEY_ID_CONTEXT);
        hash.update(bytes);
        let id = KeyId(hex::encode(&hash.finalize()[..8]));
        MasterKey { bytes, id }
    }

    /// A new key from the system's random generator.
    pub fn generate() -> Result<MasterKey, KeyError> {
        let mut bytes = [0u8; KEY_BYTES];
        ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut bytes)
            .map_err(|_| KeyError::Random)?;
        Ok(MasterKey::from_bytes(bytes))
    }

    /// Reads a key from `content`, as a key file holds it: exactly 32 raw bytes, or 64 hex
    /// digits, or 32 bytes in base64, the text forms with or without a trailing line end.
    /// The error says what is wrong, never what the file holds.
    pub fn parse(content: &[u8]) -> Result<MasterKey, String> {
        if let Ok(raw) = <[u8; KEY_BYTES]>::try_from(content) {
            return checked(raw);
        }
        let text = content.trim_ascii_end();
        let decoded = if text.len() == 2 * KEY_BYTES && text.iter().all(u8::is_ascii_hexdigit) {
            hex::decode(text).ok()
        } else {
            [
                &base64::engine::general_purpose::STANDARD,
                &base64::engine::general_purpose::STANDARD_NO_PAD,
                &base64::engine::general_purpose::URL_SAFE,
                &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            ]
            .iter()
            .find_map(|engine| engine.decode(text).ok())
        };
        match decoded.map(<[u8; KEY_BYTES]>::try_from) {
            Some(Ok(raw)) => checked(raw),
            _ => Err(format!(
                "holds {} bytes that are not a key: a master key file holds 32 raw bytes, 64 hex \
                 digits, or 32 bytes in base64 (`ade secrets keygen FILE` writes one)",
                content.len()
            )),
        }
    }

    /// Reads the key file at `path`.
    pub fn read_file(path: &Path) -> Result<MasterKey, KeyError> {
        let content = std::fs::read(path).map_err(|source| KeyError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        MasterKey::parse(&content).map_err(|reason| KeyError::Format {
            path: path.to_path_buf(),
            reason,
        })
    }

    /// Writes a new random key to `path` as 64 hex digits and a line end, in a file created for
    /// it that only its owner may read or write. Refuses a path that exists.
    pub fn generate_file(path: &Path) -> Result<MasterKey, KeyError> {
        let key = MasterKey::generate()?;
        let mut file = match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
        {
            Ok(file) => file,
            Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => {
                return Err(KeyError::Exists {
                    path: path.to_path_buf(),
                });
            }
            Err(source) => {
                return Err(KeyError::Write {
                    path: path.to_path_buf(),
                    source,
                });
            }
        };
        let mut text = hex::encode(key.bytes);
        text.push('\n');
        let written = file
            .write_all(text.as_bytes())
            .and_then(|()| file.sync_all());
        wipe(&mut text.into_bytes());
        written.map_err(|source| KeyError::Write {
            path: path.to_path_buf(),
            source,
        })?;
        Ok(key)
    }

    /// The key's id.
    pub fn id(&self) -> &KeyId {
        &self.id
    }

    /// The key's bytes, for the cipher only.
    pub(super) fn bytes(&self) -> &[u8; KEY_BYTES] {
        &self.bytes
    }
}

/// Refuses a key that cannot have come from a random generator.
fn checked(raw: [u8; KEY_BYTES]) -> Result<MasterKey, String> {
    if raw.iter().all(|b| *b == raw[0]) {
        return Err(
            "holds one byte repeated, not a random key (`ade secrets keygen FILE` writes one)"
                .to_owned(),
        );
    }
    Ok(MasterKey::from_bytes(raw))
}

/// Overwrites `bytes` with zeros in a way the compiler keeps.
pub(super) fn wipe(bytes: &mut [u8]) {
    for byte in bytes.iter_mut() {
        // SAFETY: `byte` is a valid, aligned reference into the slice.
        unsafe { std::ptr::write_volatile(byte, 0) };
    }
    std::sync::atomic::compiler_fence(std::sync::atomic::Ordering::SeqCst);
}

impl Drop for MasterKey {
    fn drop(&mut self) {
        wipe(&mut self.bytes);
    }
}

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MasterKey(id {})", self.id)
    }
}

/// The master keys of this process: the current one, which seals everything new, and the
/// previous ones, which still open what they sealed while a rotation is under way.
#[derive(Debug, Default)]
pub struct Keyring {
    current: Option<(PathBuf, MasterKey)>,
    previous: Vec<(PathBuf, MasterKey)>,
}

impl Keyring {
    /// A keyring with no key: nothing can be sealed or opened.
    pub fn empty() -> Keyring {
        Keyring::default()
    }

    /// Reads the current key file, if one is configured, and the previous ones. A previous key
    /// equal to the current one, or to an earlier previous one, is kept once.
    pub fn load(current: Option<&Path>, previous: &[PathBuf]) -> Result<Keyring, KeyError> {
        let current = match current {
            Some(path) => Some((path.to_path_buf(), MasterKey::read_file(path)?)),
            None => None,
        };
        let previous = previous
            .iter()
            .map(|path| Ok((path.clone(), MasterKey::read_file(path)?)))
            .collect::<Result<Vec<_>, KeyError>>()?;
        Ok(Keyring::of(current, previous))
    }

    /// A keyring of keys already read (`current` seals; `previous` only open). A previous key
    /// equal to the current one, or to an earlier previous one, is kept once.
    pub fn of(
        current: Option<(PathBuf, MasterKey)>,
        previous: Vec<(PathBuf, MasterKey)>,
    ) -> Keyring {
        let mut keyring = Keyring {
            current,
            previous: Vec::with_capacity(previous.len()),
        };
        for (path, key) in previous {
            if keyring.get(key.id().as_str()).is_none() {
                keyring.previous.push((path, key));
            }
        }
        keyring
    }

    /// The key new values are sealed under, if one is configured.
    pub fn current(&self) -> Option<&MasterKey> {
        self.current.as_ref().map(|(_, key)| key)
    }

    /// The file the current key came from.
    pub fn current_file(&self) -> Option<&Path> {
        self.current.as_ref().map(|(path, _)| path.as_path())
    }

    /// The key whose id is `id`: the current one or a previous one.
    pub fn get(&self, id: &str) -> Option<&MasterKey> {
        self.current
            .iter()
            .chain(&self.previous)
            .map(|(_, key)| key)
            .find(|key| key.id().as_str() == id)
    }

    /// Whether the keyring holds no key at all.
    pub fn is_empty(&self) -> bool {
        self.current.is_none() && self.previous.is_empty()
    }

    /// Every key file with its key's id, the current one first: for messages and
    /// `ade check-config`.
    pub fn files(&self) -> impl Iterator<Item = (&Path, &KeyId)> {
        self.current
            .iter()
            .chain(&self.previous)
            .map(|(path, key)| (path.as_path(), key.id()))
    }

    /// The key files in words: `/etc/ade/master.key (key id 0123…)`, the previous ones after.
    pub fn describe(&self) -> String {
        let files: Vec<String> = self
            .files()
            .map(|(path, id)| format!("{} (key id {id})", path.display()))
            .collect();
        files.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "ade-keys-{name}-{}-{:x}",
            std::process::id(),
            fastrand::u64(..)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    const BYTES: [u8; 32] = [
        0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e,
        0x0f, 0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d,
        0x1e, 0x1f,
    ];

    #[test]
    fn the_key_id_is_stable_and_is_not_the_key() {
        // sha256(b"ade master key id\n" + bytes 0..32)[..8], computed apart from this code: a
        // change here would strand every stored value, whose key id would no longer match.
        let key = MasterKey::from_bytes(BYTES);
        assert_eq!(key.id().as_str(), "a18e1c3b0fd2d058");
        assert_eq!(MasterKey::from_bytes(BYTES).id(), key.id());
        assert!(!hex::encode(BYTES).contains(key.id().as_str()));
        let other = MasterKey::generate().unwrap();
        assert_ne!(other.id(), key.id());
        assert_eq!(format!("{key:?}"), "MasterKey(id a18e1c3b0fd2d058)");
    }

    #[test]
    fn a_key_file_may_hold_raw_bytes_hex_or_base64() {
        let id = MasterKey::from_bytes(BYTES).id().clone();
        let hex_text = hex::encode(BYTES);
        let b64 = base64::engine::general_purpose::STANDARD.encode(BYTES);
        let forms: Vec<Vec<u8>> = vec![
            BYTES.to_vec(),
            hex_text.clone().into_bytes(),
            format!("{hex_text}\n").into_bytes(),
            format!("{}\r\n", hex_text.to_uppercase()).into_bytes(),
            b64.clone().into_bytes(),
            format!("{b64}\n").into_bytes(),
            b64.trim_end_matches('=').as_bytes().to_vec(),
        ];
        for form in forms {
            let key = MasterKey::parse(&form).unwrap_or_else(|e| panic!("{form:?}: {e}"));
            assert_eq!(key.id(), &id);
        }
        // Raw bytes that end in a line-end byte are still the raw key.
        let mut ends_in_newline = BYTES;
        ends_in_newline[31] = b'\n';
        let key = MasterKey::parse(&ends_in_newline).unwrap();
        assert_eq!(key.id(), MasterKey::from_bytes(ends_in_newline).id());
    }

    #[test]
    fn a_file_that_holds_no_key_is_refused_without_showing_it() {
        for bad in [
            &b""[..],
            b"short",
            b"0011223344556677889900112233445566778899001122334455667788990011aa",
            &[0u8; 32],
            b"correct horse battery staple and some more words!!",
        ] {
            let err = MasterKey::parse(bad).unwrap_err();
            assert!(err.contains("keygen"), "{err}");
            if bad.len() > 4 {
                assert!(
                    !err.contains(std::str::from_utf8(bad).unwrap_or("\u{0}")),
                    "{err}"
                );
            }
        }
    }

    #[test]
    fn keygen_writes_an_owner_only_file_and_never_overwrites_one() {
        use std::os::unix::fs::PermissionsExt;
        let dir = scratch("keygen");
        let path = dir.join("master.key");
        let key = MasterKey::generate_file(&path).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.len(), 65, "64 hex digits and a line end");
        assert_eq!(MasterKey::read_file(&path).unwrap().id(), key.id());
        std::fs::write(&path, "kept").ok();
        let again = MasterKey::generate_file(&path).unwrap_err();
        assert!(matches!(again, KeyError::Exists { .. }), "{again}");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "kept");
        std::fs::remove_dir_all(dir).ok();
    }

    #[test]
    fn a_missing_key_file_is_named() {
        let err = MasterKey::read_file(Path::new("/nonexistent/ade/master.key")).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("cannot read the master key file /nonexistent/ade/master.key: "),
            "{err}"
        );
    }

    #[test]
    fn the_keyring_finds_current_and_previous_keys_by_id() {
        let dir = scratch("ring");
        let (new, old) = (dir.join("new.key"), dir.join("old.key"));
        let new_key = MasterKey::generate_file(&new).unwrap();
        let old_key = MasterKey::generate_file(&old).unwrap();
        let ring = Keyring::load(Some(&new), &[old.clone(), new.clone(), old.clone()]).unwrap();
        assert_eq!(ring.current().unwrap().id(), new_key.id());
        assert!(ring.get(old_key.id().as_str()).is_some());
        assert!(ring.get("0000000000000000").is_none());
        assert_eq!(ring.files().count(), 2, "each key once");
        assert!(
            ring.describe()
                .contains(&format!("{} (key id {})", new.display(), new_key.id()))
        );
        std::fs::remove_dir_all(dir).ok();
    }
}
