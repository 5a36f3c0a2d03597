//! The GitHub App's key and the JSON web tokens signed with it. GitHub authenticates an app by an
//! RS256 JWT whose `iss` is the app id; the simulator checks the same, with the `rsa` crate and
//! no JWT library, since verifying one fixed algorithm is a few lines.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rsa::pkcs1::{DecodeRsaPrivateKey, EncodeRsaPrivateKey};
use rsa::pkcs1v15::{Signature, SigningKey, VerifyingKey};
use rsa::pkcs8::{DecodePrivateKey, EncodePublicKey, LineEnding};
use rsa::signature::{SignatureEncoding, Signer, Verifier};
use rsa::{RsaPrivateKey, RsaPublicKey};
use serde::Deserialize;
use sha2::Sha256;
use std::sync::OnceLock;

/// A GitHub App's RSA key pair, as GitHub hands the private half to the app's owner.
#[derive(Clone)]
pub struct AppKey {
    private: RsaPrivateKey,
    public: RsaPublicKey,
}

impl std::fmt::Debug for AppKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AppKey(<private>)")
    }
}

impl AppKey {
    /// A new 2048-bit key, as GitHub generates.
    pub fn generate() -> anyhow::Result<AppKey> {
        let private = RsaPrivateKey::new(&mut rsa::rand_core::OsRng, 2048)?;
        let public = private.to_public_key();
        Ok(AppKey { private, public })
    }

    /// One key per process, generated on first use: tests start many simulators, and making a
    /// key costs a noticeable fraction of a second.
    pub fn shared() -> &'static AppKey {
        static KEY: OnceLock<AppKey> = OnceLock::new();
        KEY.get_or_init(|| AppKey::generate().expect("RSA key generation"))
    }

    /// Reads a private key in PKCS#1 (`BEGIN RSA PRIVATE KEY`, what GitHub downloads) or PKCS#8.
    pub fn from_private_pem(pem: &str) -> anyhow::Result<AppKey> {
        let private = RsaPrivateKey::from_pkcs1_pem(pem)
            .or_else(|_| RsaPrivateKey::from_pkcs8_pem(pem))
            .map_err(|err| anyhow::anyhow!("not an RSA private key in PEM: {err}"))?;
        let public = private.to_public_key();
        Ok(AppKey { private, public })
    }

    /// The private key as PKCS#1 PEM, for the client under test.
    pub fn private_key_pem(&self) -> String {
        self.private
            .to_pkcs1_pem(LineEnding::LF)
            .expect("an RSA key encodes")
            .to_string()
    }

    /// The public key as SPKI PEM: what the simulator verifies with.
    pub fn public_key_pem(&self) -> String {
        self.public
            .to_public_key_pem(LineEnding::LF)
            .expect("an RSA key encodes")
    }

    /// Signs an app JWT as a GitHub App client does (`iat`, `exp` in Unix seconds).
    pub fn sign_jwt(&self, app_id: i64, iat: i64, exp: i64) -> String {
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"RS256","typ":"JWT"}"#);
        let claims = serde_json::json!({ "iat": iat, "exp": exp, "iss": app_id.to_string() });
        let claims = URL_SAFE_NO_PAD.encode(claims.to_string());
        let message = format!("{header}.{claims}");
        let signature = SigningKey::<Sha256>::new(self.private.clone()).sign(message.as_bytes());
        format!("{message}.{}", URL_SAFE_NO_PAD.encode(signature.to_bytes()))
    }

    /// Checks an app JWT the way GitHub does: RS256 under this key, `iss` the app id, `iat` not in
    /// the future (60 s of clock drift allowed), `exp` passed neither already nor by more than ten
    /// minutes from now.
    pub fn verify_jwt(&self, token: &str, app_id: i64, now_secs: i64) -> Result<(), JwtError> {
        let mut parts = token.split('.');
        let (Some(header), Some(claims), Some(signature), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(JwtError::Malformed);
        };
        let decode = |part: &str| {
            URL_SAFE_NO_PAD
                .decode(part)
                .map_err(|_| JwtError::Malformed)
        };
        let header: Header =
            serde_json::from_slice(&decode(header)?).map_err(|_| JwtError::Malformed)?;
        if header.alg != "RS256" {
            return Err(JwtError::Algorithm(header.alg));
        }
        let signature =
            Signature::try_from(decode(signature)?.as_slice()).map_err(|_| JwtError::Signature)?;
        let message = &token[..token.len() - token.rsplit('.').next().unwrap_or("").len() - 1];
        VerifyingKey::<Sha256>::new(self.public.clone())
            .verify(message.as_bytes(), &signature)
            .map_err(|_| JwtError::Signature)?;
        let claims: Claims =
            serde_json::from_slice(&decode(claims)?).map_err(|_| JwtError::Malformed)?;
        let issuer = match &claims.iss {
            serde_json::Value::String(s) => s.clone(),
            serde_json::Value::Number(n) => n.to_string(),
            _ => String::new(),
        };
        if issuer != app_id.to_string() {
            return Err(JwtError::Issuer);
        }
        if claims.iat > now_secs + 60 {
            return Err(JwtError::IssuedInFuture);
        }
        if claims.exp <= now_secs {
            return Err(JwtError::Expired);
        }
        if claims.exp > now_secs + 600 + 60 {
            return Err(JwtError::TooLong);
        }
        Ok(())
    }
}

/// Why an app JWT was refused; the messages are GitHub's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JwtError {
    /// Not three base64url parts of JSON.
    #[error("A JSON web token could not be decoded")]
    Malformed,
    /// Signed with another algorithm.
    #[error("JWT algorithm {0} is not RS256")]
    Algorithm(String),
    /// The signature does not verify under the app's key.
    #[error("A JSON web token could not be decoded")]
    Signature,
    /// `iss` is not the app id.
    #[error("'Issuer' claim ('iss') must be an Integer")]
    Issuer,
    /// `iat` lies in the future.
    #[error("'Issued at' claim ('iat') must be an Integer representing a time in the past")]
    IssuedInFuture,
    /// `exp` has passed.
    #[error(
        "'Expiration time' claim ('exp') must be a numeric value representing the future time at which the assertion expires"
    )]
    Expired,
    /// `exp` is more than ten minutes away.
    #[error("'Expiration time' claim ('exp') is too far in the future")]
    TooLong,
}

#[derive(Deserialize)]
struct Header {
    alg: String,
}

#[derive(Deserialize)]
struct Claims {
    iat: i64,
    exp: i64,
    iss: serde_json::Value,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verifies_its_own_tokens_and_refuses_bad_ones() {
        let key = AppKey::shared();
        let now = 1_700_000_000;
        let good = key.sign_jwt(42, now - 30, now + 540);
        assert_eq!(key.verify_jwt(&good, 42, now), Ok(()));
        assert_eq!(key.verify_jwt(&good, 43, now), Err(JwtError::Issuer));
        assert_eq!(key.verify_jwt(&good, 42, now + 600), Err(JwtError::Expired));
        let long = key.sign_jwt(42, now, now + 3600);
        assert_eq!(key.verify_jwt(&long, 42, now), Err(JwtError::TooLong));
        let future = key.sign_jwt(42, now + 300, now + 500);
        assert_eq!(
            key.verify_jwt(&future, 42, now),
            Err(JwtError::IssuedInFuture)
        );
        let mut tampered = good.clone();
        tampered.insert(good.find('.').unwrap() + 3, 'x');
        assert!(key.verify_jwt(&tampered, 42, now).is_err());
        assert_eq!(key.verify_jwt("a.b", 42, now), Err(JwtError::Malformed));
        let other = AppKey::from_private_pem(&key.private_key_pem()).unwrap();
        assert_eq!(other.public_key_pem(), key.public_key_pem());
    }
}
