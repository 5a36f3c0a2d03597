//! Webhook signatures: HMAC-SHA256 of the raw body under a shared secret, compared in constant
//! time. Several secrets may be active at once so an operator can rotate without losing deliveries.

use crate::secret::Secret;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Why a signature was refused. Never carries the body or the secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// No signature header was sent.
    #[error("missing signature header {0}")]
    Missing(&'static str),
    /// The header is not a lowercase hex SHA-256 HMAC in the forge's format.
    #[error("malformed signature header {0}")]
    Malformed(&'static str),
    /// The signature does not match the body under any configured secret.
    #[error("signature does not match any configured webhook secret")]
    Mismatch,
    /// No webhook secret is configured for this forge, so nothing can be verified.
    #[error("no webhook secret is configured for this forge")]
    NoSecret,
}

/// GitHub's `X-Hub-Signature-256: sha256=<64 lowercase hex>`.
pub fn verify_github(
    secrets: &[Secret],
    header: Option<&[u8]>,
    body: &[u8],
) -> Result<(), SignatureError> {
    const HEADER: &str = "X-Hub-Signature-256";
    let value = header.ok_or(SignatureError::Missing(HEADER))?;
    let hex = value
        .strip_prefix(b"sha256=")
        .ok_or(SignatureError::Malformed(HEADER))?;
    verify_hex(secrets, HEADER, hex, body)
}

/// Gitea's `X-Gitea-Signature` or Forgejo's `X-Forgejo-Signature`: 64 lowercase hex, no prefix.
pub fn verify_gitea(
    secrets: &[Secret],
    header_name: &'static str,
    header: Option<&[u8]>,
    body: &[u8],
) -> Result<(), SignatureError> {
    let value = header.ok_or(SignatureError::Missing(header_name))?;
    verify_hex(secrets, header_name, value, body)
}

fn verify_hex(
    secrets: &[Secret],
    header: &'static str,
    hex: &[u8],
    body: &[u8],
) -> Result<(), SignatureError> {
    if secrets.is_empty() {
        return Err(SignatureError::NoSecret);
    }
    // Forges send lowercase; accepting other spellings would only widen what verifies.
    if hex.len() != 64 || !hex.iter().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return Err(SignatureError::Malformed(header));
    }
    let mut expected = [0u8; 32];
    hex::decode_to_slice(hex, &mut expected).map_err(|_| SignatureError::Malformed(header))?;
    // Every secret is tried, so the time taken does not tell which one (if any) matched.
    let mut matched = false;
    for secret in secrets {
        let mut mac = Hmac::<Sha256>::new_from_slice(secret.expose().as_bytes())
            .expect("HMAC takes keys of any length");
        mac.update(body);
        matched |= mac.verify_slice(&expected).is_ok();
    }
    if matched {
        Ok(())
    } else {
        Err(SignatureError::Mismatch)
    }
}

/// Signs a body the way GitHub does; for the forge simulator, benchmarks and tests.
pub fn sign_github(secret: &str, body: &[u8]) -> String {
    format!("sha256={}", sign_hex(secret, body))
}

/// Signs a body the way Gitea and Forgejo do.
pub fn sign_gitea(secret: &str, body: &[u8]) -> String {
    sign_hex(secret, body)
}

fn sign_hex(secret: &str, body: &[u8]) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes keys of any length");
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secrets(values: &[&str]) -> Vec<Secret> {
        values.iter().map(|v| Secret::new(*v)).collect()
    }

    #[test]
    fn githubs_published_example_verifies() {
        // From GitHub's "Validating webhook deliveries" documentation.
        let header = b"sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
        let ok = verify_github(
            &secrets(&["It's a Secret to Everybody"]),
            Some(header),
            b"Hello, World!",
        );
        assert_eq!(ok, Ok(()));
    }

    #[test]
    fn any_of_several_rotating_secrets_verifies() {
        let body = br#"{"zen":"Keep it logically awesome."}"#;
        let header = sign_github("new-secret", body);
        let active = secrets(&["old-secret", "new-secret"]);
        assert_eq!(
            verify_github(&active, Some(header.as_bytes()), body),
            Ok(())
        );
        let retired = secrets(&["old-secret"]);
        assert_eq!(
            verify_github(&retired, Some(header.as_bytes()), body),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn refuses_missing_malformed_and_wrong_signatures() {
        let s = secrets(&["s"]);
        let body = b"{}";
        let good = sign_github("s", body);
        assert_eq!(
            verify_github(&s, None, body),
            Err(SignatureError::Missing("X-Hub-Signature-256"))
        );
        for bad in [
            good.trim_start_matches("sha256=").to_string(),
            good.replace("sha256=", "sha1="),
            good.to_uppercase().replace("SHA256=", "sha256="),
            format!("{good}00"),
            good[..good.len() - 2].to_string(),
            "sha256=".to_string(),
            format!("sha256={}", "zz".repeat(32)),
        ] {
            assert_eq!(
                verify_github(&s, Some(bad.as_bytes()), body),
                Err(SignatureError::Malformed("X-Hub-Signature-256")),
                "{bad}"
            );
        }
        let wrong = sign_github("other", body);
        assert_eq!(
            verify_github(&s, Some(wrong.as_bytes()), body),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify_github(&s, Some(good.as_bytes()), b"{} "),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn without_a_configured_secret_nothing_verifies() {
        let body = b"{}";
        let sig = sign_gitea("", body);
        assert_eq!(
            verify_gitea(&[], "X-Gitea-Signature", Some(sig.as_bytes()), body),
            Err(SignatureError::NoSecret)
        );
    }

    #[test]
    fn gitea_signatures_are_bare_hex() {
        let s = secrets(&["gitea-webhook-secret"]);
        let body = br#"{"action":"opened"}"#;
        let sig = sign_gitea("gitea-webhook-secret", body);
        assert_eq!(
            verify_gitea(&s, "X-Gitea-Signature", Some(sig.as_bytes()), body),
            Ok(())
        );
        let prefixed = format!("sha256={sig}");
        assert_eq!(
            verify_gitea(&s, "X-Forgejo-Signature", Some(prefixed.as_bytes()), body),
            Err(SignatureError::Malformed("X-Forgejo-Signature"))
        );
    }
}
