//! The forges' OAuth web flow from ade's side: where to send a browser, and how to trade the code
//! it comes back with for the user's login. GitHub and Gitea/Forgejo serve the flow at the same
//! paths; they differ in how they refuse a trade (GitHub: 200 with an `error` field) and in what
//! they require (`grant_type` and a scope on Gitea). Every answer is hostile input: only
//! `access_token`, `error` and `login` are read, and none of it reaches a page unescaped.

use crate::forge::ForgeKind;
use crate::web::OAuthClient;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::time::Duration;

/// How long one request to the forge may take before the sign-in fails.
const FORGE_TIMEOUT: Duration = Duration::from_secs(15);

/// Why a sign-in could not finish at the forge.
#[derive(Debug, thiserror::Error)]
pub enum OAuthError {
    /// The forge could not be reached or did not answer in time.
    #[error("{forge} could not be reached: {why}")]
    Unreachable {
        /// Which forge.
        forge: ForgeKind,
        /// What failed.
        why: String,
    },
    /// The forge refused the trade, in its own words (an OAuth error code).
    #[error("{forge} refused the sign-in: {code}")]
    Refused {
        /// Which forge.
        forge: ForgeKind,
        /// The `error` code it answered, cut to a printable word.
        code: String,
    },
    /// The forge answered something ade did not expect.
    #[error("{forge} answered unexpectedly: {why}")]
    Unexpected {
        /// Which forge.
        forge: ForgeKind,
        /// What was wrong with the answer.
        why: String,
    },
}

/// The PKCE challenge of a verifier (S256).
pub fn challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// Where to send the browser to ask the user: the forge's authorize page with ade's client id,
/// the address to come back to, `state` and the PKCE challenge of `verifier`.
pub fn authorize_url(
    client: &OAuthClient,
    redirect_uri: &str,
    state: &str,
    verifier: &str,
) -> String {
    let mut query = form_urlencoded::Serializer::new(String::new());
    query
        .append_pair("client_id", &client.client_id)
        .append_pair("redirect_uri", redirect_uri)
        .append_pair("state", state)
        .append_pair("response_type", "code")
        .append_pair("code_challenge", &challenge(verifier))
        .append_pair("code_challenge_method", "S256");
    if client.forge == ForgeKind::Gitea {
        // Gitea 1.23 and later refuse a token request without a scope; reading the user is all
        // sign-in needs.
        query.append_pair("scope", "read:user");
    }
    format!(
        "{}/login/oauth/authorize?{}",
        client.web_url,
        query.finish()
    )
}

#[derive(Deserialize)]
struct TokenAnswer {
    access_token: Option<String>,
    error: Option<String>,
}

#[derive(Deserialize)]
struct UserAnswer {
    login: String,
}

/// A word safe to show and log: what a forge's error code should be.
fn word(text: &str) -> String {
    let cut: String = text
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
        .take(64)
        .collect();
    if cut.is_empty() {
        "unnamed".to_owned()
    } else {
        cut
    }
}

/// Trades `code` for the user's token, then asks the forge whose token it is; returns the login.
/// The token is not kept.
pub async fn sign_in(
    http: &reqwest::Client,
    client: &OAuthClient,
    code: &str,
    redirect_uri: &str,
    verifier: &str,
) -> Result<String, OAuthError> {
    let forge = client.forge;
    let unreachable = |error: reqwest::Error| OAuthError::Unreachable {
        forge,
        why: error.without_url().to_string(),
    };
    let form = [
        ("grant_type", "authorization_code"),
        ("client_id", client.client_id.as_str()),
        ("client_secret", client.client_secret.expose()),
        ("code", code),
        ("redirect_uri", redirect_uri),
        ("code_verifier", verifier),
    ];
    let answer = http
        .post(format!("{}/login/oauth/access_token", client.web_url))
        .header(reqwest::header::ACCEPT, "application/json")
        .timeout(FORGE_TIMEOUT)
        .form(&form)
        .send()
        .await
        .map_err(unreachable)?;
    let status = answer.status();
    let body = answer.bytes().await.map_err(unreachable)?;
    let parsed: Option<TokenAnswer> = serde_json::from_slice(&body).ok();
    if let Some(TokenAnswer {
        error: Some(code), ..
    }) = &parsed
        && (status.is_success() || status.is_client_error())
    {
        return Err(OAuthError::Refused {
            forge,
            code: word(code),
        });
    }
    if !status.is_success() {
        return Err(OAuthError::Unexpected {
            forge,
            why: format!("the token exchange answered {}", status.as_u16()),
        });
    }
    let token = parsed
        .and_then(|answer| answer.access_token)
        .filter(|token| !token.is_empty() && token.bytes().all(|b| b.is_ascii_graphic()))
        .ok_or_else(|| OAuthError::Unexpected {
            forge,
            why: "the token exchange answered without a token".to_owned(),
        })?;
    let user = http
        .get(format!("{}/user", client.api_url))
        .header(reqwest::header::ACCEPT, "application/json")
        .header(reqwest::header::USER_AGENT, "ade")
        .bearer_auth(&token)
        .timeout(FORGE_TIMEOUT)
        .send()
        .await
        .map_err(unreachable)?;
    let status = user.status();
    if !status.is_success() {
        return Err(OAuthError::Unexpected {
            forge,
            why: format!("GET /user answered {}", status.as_u16()),
        });
    }
    let body = user.bytes().await.map_err(unreachable)?;
    let user: UserAnswer = serde_json::from_slice(&body).map_err(|_| OAuthError::Unexpected {
        forge,
        why: "GET /user answered without a login".to_owned(),
    })?;
    if !crate::forge::valid_login(&user.login) {
        return Err(OAuthError::Unexpected {
            forge,
            why: "GET /user answered a login no forge gives".to_owned(),
        });
    }
    Ok(user.login)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::Secret;

    fn client(forge: ForgeKind) -> OAuthClient {
        OAuthClient {
            forge,
            client_id: "id 1".to_owned(),
            client_secret: Secret::new("s"),
            web_url: "https://forge.example".to_owned(),
            api_url: "https://forge.example/api/v1".to_owned(),
        }
    }

    #[test]
    fn the_authorize_address_escapes_what_it_carries_and_asks_gitea_for_a_scope() {
        let github = authorize_url(
            &client(ForgeKind::Github),
            "https://ade.example/signin/github/callback",
            "s&t",
            "v",
        );
        assert!(github.starts_with("https://forge.example/login/oauth/authorize?client_id=id+1&redirect_uri=https%3A%2F%2Fade.example%2Fsignin%2Fgithub%2Fcallback&state=s%26t&"), "{github}");
        assert!(github.contains(&format!("code_challenge={}", challenge("v"))));
        assert!(!github.contains("scope="));
        let gitea = authorize_url(&client(ForgeKind::Gitea), "https://a/cb", "s", "v");
        assert!(gitea.ends_with("&scope=read%3Auser"), "{gitea}");
    }

    #[test]
    fn the_pkce_challenge_is_rfc_7636_s256() {
        // RFC 7636, appendix B.
        assert_eq!(
            challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn a_forge_error_code_is_cut_to_a_word() {
        assert_eq!(word("bad_verification_code"), "bad_verification_code");
        assert_eq!(word("<script>x</script>"), "scriptxscript");
        assert_eq!(word("\u{1b}[31m"), "31m");
        assert_eq!(word(""), "unnamed");
    }
}
