//! The Ed25519 key that signs checkpoints: PKCS#8 PEM, as `openssl genpkey -algorithm ed25519`
//! writes it or as `ade audit keygen` does, and its public half for whoever verifies.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ring::signature::{ED25519, Ed25519KeyPair, KeyPair, UnparsedPublicKey};
use sha2::{Digest, Sha256};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

/// The DER prefix of an Ed25519 SubjectPublicKeyInfo (RFC 8410), before the 32 key bytes.
const SPKI_PREFIX: [u8; 12] = [
    0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
];

/// A key problem, naming the file.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The operating system's reason.
        #[source]
        source: std::io::Error,
    },
    /// The file holds no key ade can use.
    #[error("{path}: {why}")]
    Invalid {
        /// The file.
        path: String,
        /// What is wrong with it.
        why: String,
    },
}

/// The key checkpoints are signed with.
pub struct SigningKey {
    pair: Ed25519KeyPair,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("key_id", &self.public().id())
            .finish()
    }
}

impl SigningKey {
    /// Reads a PKCS#8 PEM private key.
    pub fn load(path: &Path) -> Result<SigningKey, KeyError> {
        let text = std::fs::read_to_string(path).map_err(|source| KeyError::Io {
            path: path.display().to_string(),
            source,
        })?;
        let invalid = |why: String| KeyError::Invalid {
            path: path.display().to_string(),
            why,
        };
        let der = pem_body(&text, "PRIVATE KEY").map_err(invalid)?;
        let pair = Ed25519KeyPair::from_pkcs8_maybe_unchecked(&der)
            .map_err(|e| invalid(format!("not an Ed25519 private key ({e})")))?;
        Ok(SigningKey { pair })
    }

    /// Makes a new key and writes it to `path`, owner-only; an existing file is never replaced.
    pub fn generate(path: &Path) -> Result<SigningKey, KeyError> {
        let io = |source| KeyError::Io {
            path: path.display().to_string(),
            source,
        };
        let rng = ring::rand::SystemRandom::new();
        let document = Ed25519KeyPair::generate_pkcs8(&rng).map_err(|_| KeyError::Invalid {
            path: path.display().to_string(),
            why: "the system's random source failed".into(),
        })?;
        let pem = pem("PRIVATE KEY", document.as_ref());
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        // Written whole beside it, then linked into place: a process that finds the file finds
        // a whole key, and an existing file is never replaced.
        let temporary = path.with_extension(format!("tmp-{:016x}", fastrand::u64(..)));
        let written = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&temporary)
            .and_then(|mut file| {
                file.write_all(pem.as_bytes())?;
                file.sync_all()
            })
            .and_then(|()| std::fs::hard_link(&temporary, path));
        std::fs::remove_file(&temporary).ok();
        written.map_err(io)?;
        SigningKey::load(path)
    }

    /// Signs `message`; the signature in base64.
    pub fn sign(&self, message: &[u8]) -> String {
        STANDARD.encode(self.pair.sign(message).as_ref())
    }

    /// The public half.
    pub fn public(&self) -> PublicKey {
        let mut bytes = [0; 32];
        bytes.copy_from_slice(self.pair.public_key().as_ref());
        PublicKey(bytes)
    }
}

/// The key that verifies checkpoints.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PublicKey([u8; 32]);

impl PublicKey {
    /// Reads a public key (`PUBLIC KEY` PEM, as `ade audit public-key` and `openssl pkey -pubout`
    /// write it), or takes the public half of a private key file.
    pub fn load(path: &Path) -> Result<PublicKey, KeyError> {
        let text = std::fs::read_to_string(path).map_err(|source| KeyError::Io {
            path: path.display().to_string(),
            source,
        })?;
        if text.contains("PRIVATE KEY") {
            return SigningKey::load(path).map(|key| key.public());
        }
        let invalid = |why: String| KeyError::Invalid {
            path: path.display().to_string(),
            why,
        };
        let der = pem_body(&text, "PUBLIC KEY").map_err(invalid)?;
        match der.strip_prefix(&SPKI_PREFIX[..]) {
            Some(key) if key.len() == 32 => {
                let mut bytes = [0; 32];
                bytes.copy_from_slice(key);
                Ok(PublicKey(bytes))
            }
            _ => Err(invalid("not an Ed25519 public key".into())),
        }
    }

    /// A short, stable name for the key: the first 16 hex digits of its SHA-256.
    pub fn id(&self) -> String {
        hex::encode(&Sha256::digest(self.0)[..8])
    }

    /// The key as `PUBLIC KEY` PEM.
    pub fn to_pem(&self) -> String {
        let mut der = SPKI_PREFIX.to_vec();
        der.extend_from_slice(&self.0);
        pem("PUBLIC KEY", &der)
    }

    /// Whether `signature` (base64) is this key's over `message`.
    pub fn verifies(&self, message: &[u8], signature: &str) -> bool {
        let Ok(signature) = STANDARD.decode(signature) else {
            return false;
        };
        UnparsedPublicKey::new(&ED25519, &self.0)
            .verify(message, &signature)
            .is_ok()
    }
}

fn pem(label: &str, der: &[u8]) -> String {
    let body = STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in body.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(chunk).expect("base64 is ASCII"));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

fn pem_body(text: &str, label: &str) -> Result<Vec<u8>, String> {
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let start = text
        .find(&begin)
        .ok_or_else(|| format!("no \"{begin}\" line (expected PEM)"))?;
    let body = &text[start + begin.len()..];
    let stop = body
        .find(&end)
        .ok_or_else(|| format!("no \"{end}\" line"))?;
    let base64: String = body[..stop].split_whitespace().collect();
    STANDARD
        .decode(base64)
        .map_err(|e| format!("the PEM body is not base64 ({e})"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generated_key_signs_and_its_public_half_verifies() {
        let dir = super::super::Scratch::new();
        let path = dir.path().join("keys/audit.pem");
        let key = SigningKey::generate(&path).unwrap();
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        let signature = key.sign(b"checkpoint");
        let public = key.public();
        assert!(public.verifies(b"checkpoint", &signature));
        assert!(!public.verifies(b"checkpoint!", &signature));
        assert!(!public.verifies(b"checkpoint", "not base64 ***"));
        // The public key round-trips through PEM, and the private file yields the same key.
        let pub_path = dir.path().join("audit.pub");
        std::fs::write(&pub_path, public.to_pem()).unwrap();
        assert_eq!(PublicKey::load(&pub_path).unwrap(), public);
        assert_eq!(PublicKey::load(&path).unwrap().id(), public.id());
        assert!(SigningKey::generate(&path).is_err(), "never replaces a key");
    }

    #[test]
    fn openssl_keys_are_read_where_openssl_is_installed() {
        let dir = super::super::Scratch::new();
        let private = dir.path().join("openssl.pem");
        let made = std::process::Command::new("openssl")
            .args(["genpkey", "-algorithm", "ed25519", "-out"])
            .arg(&private)
            .status();
        let Ok(status) = made else {
            eprintln!("skipped: no openssl command to make an independent key");
            return;
        };
        assert!(status.success());
        let key = SigningKey::load(&private).unwrap();
        let public = dir.path().join("openssl.pub");
        let out = std::process::Command::new("openssl")
            .args(["pkey", "-pubout", "-in"])
            .arg(&private)
            .arg("-out")
            .arg(&public)
            .status()
            .unwrap();
        assert!(out.success());
        assert_eq!(PublicKey::load(&public).unwrap(), key.public());
    }

    #[test]
    fn files_that_are_not_keys_are_named_in_the_error() {
        let dir = super::super::Scratch::new();
        let path = dir.path().join("junk.pem");
        std::fs::write(&path, "hello").unwrap();
        let error = SigningKey::load(&path).unwrap_err().to_string();
        assert!(
            error.contains("junk.pem") && error.contains("PEM"),
            "{error}"
        );
        std::fs::write(
            &path,
            "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
        )
        .unwrap();
        let error = SigningKey::load(&path).unwrap_err().to_string();
        assert!(error.contains("not an Ed25519 private key"), "{error}");
        let missing = SigningKey::load(&dir.path().join("none.pem")).unwrap_err();
        assert!(missing.to_string().contains("none.pem"));
    }
}
