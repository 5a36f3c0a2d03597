//! Bearer secrets as their holders keep them: a prefix naming the kind, then 43 characters of
//! base64url, 256 random bits. API tokens (`ade_`, printed once by `ade tokens create`) and
//! dashboard session cookies (`ades_`) are both made here; ade keeps only their SHA-256
//! ([`hash`]).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::rand::{SecureRandom, SystemRandom};
use sha2::{Digest, Sha256};

/// What every API token starts with, so that one pasted in the wrong place is recognisable (and
/// secret scanners can be taught it).
pub const API: &str = "ade_";

/// What every session cookie starts with.
pub const SESSION: &str = "ades_";

/// Characters after the prefix.
const BODY_LEN: usize = 43;

/// A new token starting with `prefix`, from the operating system's random generator.
pub fn mint(prefix: &str) -> Result<String, TokenError> {
    let mut bytes = [0u8; 32];
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| TokenError::NoRandomness)?;
    Ok(format!("{prefix}{}", URL_SAFE_NO_PAD.encode(bytes)))
}

/// The SHA-256 of a token, in hex: what the store keeps and looks tokens up by. A token carries
/// 256 random bits, so a plain hash suffices; no salt or slow hash is needed.
pub fn hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Whether `text` has the shape of a token starting with `prefix`, checked before any lookup.
pub fn well_formed(prefix: &str, text: &str) -> bool {
    text.strip_prefix(prefix).is_some_and(|body| {
        body.len() == BODY_LEN
            && body
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    })
}

/// Whether two secrets are equal, compared in constant time so that how long the comparison
/// takes tells nothing of where they differ (their lengths are not secret).
pub fn same(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A token could not be made.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// The operating system gave no random bytes.
    #[error("the operating system's random generator failed")]
    NoRandomness,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minted_tokens_are_well_formed_distinct_and_hashed_as_sha256() {
        let one = mint(API).unwrap();
        let two = mint(API).unwrap();
        assert!(
            well_formed(API, &one) && well_formed(API, &two),
            "{one} {two}"
        );
        let session = mint(SESSION).unwrap();
        assert!(well_formed(SESSION, &session) && !well_formed(API, &session));
        assert_ne!(one, two);
        assert_eq!(hash(&one).len(), 64);
        assert_eq!(
            hash("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn anything_else_is_not_a_token() {
        for text in [
            "",
            "ade_",
            "ghp_0123456789012345678901234567890123456789012",
            "ade_012345678901234567890123456789012345678901",
            "ade_01234567890123456789012345678901234567890123",
            "ade_0123456789012345678901234567890123456789 12",
            "ade_01234567890123456789012345678901234567890é",
        ] {
            assert!(!well_formed(API, text), "{text:?}");
        }
        assert!(well_formed(
            API,
            "ade_0123456789012345678901234567890123456789-_a"
        ));
    }
}
