//! The GitHub App's own identity: a JWT signed with the app's private key (RS256), which GitHub
//! accepts for app-level calls (`/app`, an installation's access token) and nothing else.
//!
//! Signed with ring, which the TLS stack already builds, instead of a JWT crate that would add its
//! own RSA and elliptic-curve implementations to the build for one signature type.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use ring::rand::SystemRandom;
use ring::signature::{RSA_PKCS1_SHA256, RsaKeyPair};
use std::fmt;
use std::sync::Mutex;

/// GitHub refuses JWTs that live longer than ten minutes; nine leaves room for clock drift.
const LIFETIME_SECS: i64 = 9 * 60;
/// `iat` is set this far in the past, as GitHub advises, for servers whose clock is ahead.
const BACKDATE_SECS: i64 = 60;
/// A cached JWT is replaced when less than this remains.
const RENEW_BEFORE_MS: i64 = 60_000;

/// The app's signing key and its current JWT.
pub(super) struct AppKey {
    app_id: u64,
    key: RsaKeyPair,
    rng: SystemRandom,
    current: Mutex<Option<(String, i64)>>,
}

impl fmt::Debug for AppKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AppKey")
            .field("app_id", &self.app_id)
            .finish_non_exhaustive()
    }
}

impl AppKey {
    /// Reads a PEM private key as GitHub hands it out (PKCS#1, `BEGIN RSA PRIVATE KEY`) or as
    /// PKCS#8 (`BEGIN PRIVATE KEY`). The error says what is wrong, never what the key holds.
    pub(super) fn from_pem(app_id: u64, pem: &[u8]) -> Result<AppKey, String> {
        let text = std::str::from_utf8(pem).map_err(|_| "the key file is not text".to_string())?;
        let (label, der) = pem_block(text)?;
        let key = match label.as_str() {
            "RSA PRIVATE KEY" => RsaKeyPair::from_der(&der),
            "PRIVATE KEY" => RsaKeyPair::from_pkcs8(&der),
            other => {
                return Err(format!(
                    "expected an RSA private key, found a `{other}` block"
                ));
            }
        }
        .map_err(|e| format!("the RSA private key was refused: {e}"))?;
        Ok(AppKey {
            app_id,
            key,
            rng: SystemRandom::new(),
            current: Mutex::new(None),
        })
    }

    /// The app id the JWT is issued for.
    pub(super) fn app_id(&self) -> u64 {
        self.app_id
    }

    /// A JWT valid for at least another minute at `now_ms`, reused while it is.
    pub(super) fn jwt(&self, now_ms: i64) -> Result<String, String> {
        let mut current = self.current.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((token, expires_ms)) = current.as_ref()
            && expires_ms - now_ms > RENEW_BEFORE_MS
        {
            return Ok(token.clone());
        }
        let now = now_ms.div_euclid(1000);
        let exp = now + LIFETIME_SECS;
        let token = self.sign(now - BACKDATE_SECS, exp)?;
        *current = Some((token.clone(), exp * 1000));
        Ok(token)
    }

    fn sign(&self, iat: i64, exp: i64) -> Result<String, String> {
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"RS256","typ":"JWT"}"#);
        let claims = serde_json::json!({ "iat": iat, "exp": exp, "iss": self.app_id.to_string() });
        let claims = URL_SAFE_NO_PAD.encode(claims.to_string());
        let message = format!("{header}.{claims}");
        let mut signature = vec![0; self.key.public().modulus_len()];
        self.key
            .sign(
                &RSA_PKCS1_SHA256,
                &self.rng,
                message.as_bytes(),
                &mut signature,
            )
            .map_err(|_| "signing the GitHub App JWT failed".to_string())?;
        Ok(format!("{message}.{}", URL_SAFE_NO_PAD.encode(signature)))
    }
}

/// The label and bytes of the first PEM block in `text`. Errors name the label only when it is a
/// plausible one (`[A-Z ]{1,40}`), and the header is read only to the end of its line, so a typo
/// in the key file never puts the key body into an error message.
fn pem_block(text: &str) -> Result<(String, Vec<u8>), String> {
    let start = text
        .find("-----BEGIN ")
        .ok_or_else(|| "no PEM block (`-----BEGIN …-----`) in the key file".to_string())?;
    let rest = &text[start + "-----BEGIN ".len()..];
    let line_end = rest.find('\n').unwrap_or(rest.len());
    let header = rest[..line_end].trim_end_matches('\r');
    let label = header
        .strip_suffix("-----")
        .filter(|label| plausible_label(label))
        .ok_or_else(|| {
            "a malformed PEM header in the key file (expected `-----BEGIN <LABEL>-----` on one line)"
                .to_string()
        })?
        .to_string();
    let body = &rest[line_end..];
    let end = body
        .find(&format!("-----END {label}-----"))
        .ok_or_else(|| format!("the `{label}` PEM block has no end line"))?;
    let base64: String = body[..end].chars().filter(|c| !c.is_whitespace()).collect();
    let der = STANDARD
        .decode(base64)
        .map_err(|_| format!("the `{label}` PEM block is not valid base64"))?;
    Ok((label, der))
}

/// A PEM label safe to quote in an error: capitals and spaces, at most 40 characters.
fn plausible_label(label: &str) -> bool {
    (1..=40).contains(&label.len()) && label.bytes().all(|b| b.is_ascii_uppercase() || b == b' ')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pem_blocks_are_found_and_other_keys_refused() {
        let (label, der) =
            pem_block("junk\n-----BEGIN THING-----\nAQID\n-----END THING-----\n").unwrap();
        assert_eq!((label.as_str(), der), ("THING", vec![1, 2, 3]));
        assert!(pem_block("no key").is_err());
        let ec = "-----BEGIN EC PRIVATE KEY-----\nAQID\n-----END EC PRIVATE KEY-----\n";
        let err = AppKey::from_pem(1, ec.as_bytes()).unwrap_err();
        assert!(err.contains("EC PRIVATE KEY"), "{err}");
        let err = AppKey::from_pem(
            1,
            b"-----BEGIN RSA PRIVATE KEY-----\nAQID\n-----END RSA PRIVATE KEY-----",
        )
        .unwrap_err();
        assert!(err.contains("refused"), "{err}");
    }

    #[test]
    fn a_malformed_header_never_puts_the_key_body_in_the_error() {
        let body = "MIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gunVTLw7onLRnrq0\n\
                    /IzW7yWR7QkrmBL7jTKEn5u+qKhbwKfBstIs+bMY2Zkp18gnTxKLxoS2tFczGkPLPgizskuemMgh\n";
        let typo = format!("-----BEGIN RSA PRIVATE KEY----\n{body}-----END RSA PRIVATE KEY-----\n");
        let err = AppKey::from_pem(1, typo.as_bytes()).unwrap_err();
        assert!(err.contains("malformed PEM header"), "{err}");
        for secret in ["MIIEowIBAAKCAQEA", "IzW7yWR7Qkrm", "bMY2Zkp18"] {
            assert!(!err.contains(secret), "{err}");
        }
        let lower = format!("-----BEGIN {body}-----\n-----END x-----\n");
        let err = AppKey::from_pem(1, lower.as_bytes()).unwrap_err();
        assert!(!err.contains("MIIEowIBAAKCAQEA"), "{err}");
        let crlf = "-----BEGIN THING-----\r\nAQID\r\n-----END THING-----\r\n";
        assert_eq!(
            pem_block(crlf).unwrap(),
            ("THING".to_string(), vec![1, 2, 3])
        );
    }
}
