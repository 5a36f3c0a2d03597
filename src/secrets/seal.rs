//! Sealing and opening one value with XChaCha20-Poly1305 under a master key: a fresh random
//! 24-byte nonce per value (large enough that random nonces never repeat in practice), the id of
//! the key kept with the result, and associated data that binds the ciphertext to what it is (a
//! secret's name, a log's header), so a ciphertext moved to another row or file does not open.

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{Key, XChaCha20Poly1305, XNonce};

use super::key::{KeyId, Keyring, MasterKey};

/// Bytes of a nonce.
pub const NONCE_BYTES: usize = 24;

/// Bytes the authentication tag adds to every ciphertext.
pub const TAG_BYTES: usize = 16;

/// A sealed value: what is stored instead of the value.
#[derive(Clone, PartialEq, Eq)]
pub struct Sealed {
    /// The key it was sealed under.
    pub key_id: KeyId,
    /// Its nonce.
    pub nonce: [u8; NONCE_BYTES],
    /// The ciphertext, tag included.
    pub ciphertext: Vec<u8>,
}

impl std::fmt::Debug for Sealed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sealed")
            .field("key_id", &self.key_id)
            .field("ciphertext_len", &self.ciphertext.len())
            .finish_non_exhaustive()
    }
}

/// Why a sealed value did not open.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum OpenError {
    /// Neither the current key nor a previous one has this id.
    #[error("it is sealed under key id {0}, which is neither the master key nor a previous one")]
    UnknownKey(String),
    /// The authentication tag does not match: the ciphertext, its nonce or what it is bound to
    /// was changed, or it was cut short.
    #[error("its ciphertext is corrupted or was changed (the authentication tag does not match)")]
    Tampered,
}

/// Why a value could not be sealed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    /// The system's random generator failed to give a nonce.
    #[error("the system's random generator failed")]
    Random,
}

fn cipher(key: &MasterKey) -> XChaCha20Poly1305 {
    XChaCha20Poly1305::new(&Key::from(*key.bytes()))
}

/// A fresh random nonce.
pub fn nonce() -> Result<[u8; NONCE_BYTES], SealError> {
    let mut nonce = [0u8; NONCE_BYTES];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut nonce)
        .map_err(|_| SealError::Random)?;
    Ok(nonce)
}

/// Seals `plaintext` under `key`, bound to `aad`.
pub fn seal(key: &MasterKey, aad: &[u8], plaintext: &[u8]) -> Result<Sealed, SealError> {
    let nonce = nonce()?;
    let ciphertext = seal_with(key, &nonce, aad, plaintext);
    Ok(Sealed {
        key_id: key.id().clone(),
        nonce,
        ciphertext,
    })
}

/// Seals `plaintext` under `key` with a nonce the caller drew from [`nonce`].
pub(super) fn seal_with(
    key: &MasterKey,
    nonce: &[u8; NONCE_BYTES],
    aad: &[u8],
    plaintext: &[u8],
) -> Vec<u8> {
    cipher(key)
        .encrypt(
            &XNonce::from(*nonce),
            Payload {
                msg: plaintext,
                aad,
            },
        )
        .expect("XChaCha20-Poly1305 seals any message shorter than 256 GiB")
}

/// Opens a value sealed under the key `key_id` of `keys`, with `nonce`, bound to `aad`.
pub fn open(
    keys: &Keyring,
    key_id: &str,
    nonce: &[u8],
    aad: &[u8],
    ciphertext: &[u8],
) -> Result<Vec<u8>, OpenError> {
    let key = keys
        .get(key_id)
        .ok_or_else(|| OpenError::UnknownKey(key_id.to_owned()))?;
    open_with(key, nonce, aad, ciphertext)
}

/// Opens a value sealed under `key`.
pub(super) fn open_with(
    key: &MasterKey,
    nonce: &[u8],
    aad: &[u8],
    ciphertext: &[u8],
) -> Result<Vec<u8>, OpenError> {
    let nonce = <[u8; NONCE_BYTES]>::try_from(nonce).map_err(|_| OpenError::Tampered)?;
    cipher(key)
        .decrypt(
            &XNonce::from(nonce),
            Payload {
                msg: ciphertext,
                aad,
            },
        )
        .map_err(|_| OpenError::Tampered)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn ring_of(key: MasterKey) -> Keyring {
        Keyring::of(Some((PathBuf::from("/k"), key)), Vec::new())
    }

    #[test]
    fn a_value_opens_with_its_key_and_what_it_is_bound_to() {
        let key = MasterKey::generate().unwrap();
        let sealed = seal(&key, b"name:A", b"the value").unwrap();
        assert_eq!(&sealed.key_id, key.id());
        assert_eq!(sealed.ciphertext.len(), "the value".len() + TAG_BYTES);
        assert!(
            !sealed.ciphertext.windows(9).any(|w| w == b"the value"),
            "the ciphertext holds no plaintext"
        );
        let keys = ring_of(key);
        let opened = open(
            &keys,
            sealed.key_id.as_str(),
            &sealed.nonce,
            b"name:A",
            &sealed.ciphertext,
        );
        assert_eq!(opened.unwrap(), b"the value");
        let again = seal(keys.current().unwrap(), b"name:A", b"the value").unwrap();
        assert_ne!(again.nonce, sealed.nonce, "a fresh nonce each time");
        assert_ne!(again.ciphertext, sealed.ciphertext);
    }

    #[test]
    fn a_wrong_key_an_unknown_key_or_a_changed_byte_do_not_open() {
        let key = MasterKey::generate().unwrap();
        let sealed = seal(&key, b"name:A", b"the value").unwrap();
        let other = ring_of(MasterKey::generate().unwrap());
        assert_eq!(
            open(
                &other,
                sealed.key_id.as_str(),
                &sealed.nonce,
                b"name:A",
                &sealed.ciphertext
            ),
            Err(OpenError::UnknownKey(sealed.key_id.to_string()))
        );
        // The wrong key under the right id (as a file swapped behind ade's back would give).
        let wrong = MasterKey::generate().unwrap();
        assert_eq!(
            open_with(&wrong, &sealed.nonce, b"name:A", &sealed.ciphertext),
            Err(OpenError::Tampered)
        );
        let keys = ring_of(key);
        let open_as = |nonce: &[u8], aad: &[u8], ciphertext: &[u8]| {
            open(&keys, sealed.key_id.as_str(), nonce, aad, ciphertext)
        };
        assert_eq!(
            open_as(&sealed.nonce, b"name:B", &sealed.ciphertext),
            Err(OpenError::Tampered)
        );
        let mut flipped = sealed.ciphertext.clone();
        flipped[0] ^= 1;
        assert_eq!(
            open_as(&sealed.nonce, b"name:A", &flipped),
            Err(OpenError::Tampered)
        );
        let mut nonce = sealed.nonce;
        nonce[23] ^= 0x80;
        assert_eq!(
            open_as(&nonce, b"name:A", &sealed.ciphertext),
            Err(OpenError::Tampered)
        );
        assert_eq!(
            open_as(&sealed.nonce[..12], b"name:A", &sealed.ciphertext),
            Err(OpenError::Tampered)
        );
        assert_eq!(
            open_as(
                &sealed.nonce,
                b"name:A",
                &sealed.ciphertext[..sealed.ciphertext.len() - 1]
            ),
            Err(OpenError::Tampered)
        );
        assert_eq!(
            open_as(&sealed.nonce, b"name:A", &sealed.ciphertext).unwrap(),
            b"the value"
        );
    }
}
