//! Installation access tokens: one per installation, fetched with the app's JWT, cached, and
//! renewed when less than five minutes of its hour remain. Callers that need the same
//! installation's token at once share one refresh; the installation of a repository is looked up
//! once when the event did not carry it.
//!
//! Git gets tokens of its own, never the cached one: each is asked for the one repository and
//! only `contents` (read to fetch, write to push), and revoked by whoever asked once its git work
//! is done.

use super::{Call, GithubForge, wire};
use crate::clock::parse_rfc3339_ms;
use crate::forge::http::encode_segment;
use crate::forge::{ForgeError, ForgeResult, GitAccess, RepoRef};
use crate::secret::Secret;
use http::Method;
use serde_json::json;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// A token is renewed when less than this remains of it.
const RENEW_BEFORE_MS: i64 = 5 * 60 * 1000;
/// Assumed lifetime of a token whose answer names no expiry (GitHub documents one hour).
const DEFAULT_LIFETIME_MS: i64 = 60 * 60 * 1000;

/// An installation access token and when it stops working.
#[derive(Clone, Debug)]
pub(super) struct InstallationToken {
    /// The token.
    pub token: Secret,
    /// Expiry, Unix ms.
    pub expires_at_ms: i64,
}

type Slot = Arc<tokio::sync::Mutex<Option<InstallationToken>>>;

/// The cache: a slot per installation (its lock is what makes concurrent callers share one
/// refresh) and the installation of each repository looked up so far.
#[derive(Default)]
pub(super) struct Tokens {
    slots: Mutex<HashMap<i64, Slot>>,
    installations: Mutex<HashMap<String, i64>>,
}

impl Tokens {
    fn slot(&self, installation: i64) -> Slot {
        let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        slots.entry(installation).or_default().clone()
    }
}

impl GithubForge {
    /// The installation covering `repo`: from the event, else from the cache, else asked of
    /// GitHub with the app's JWT.
    pub(super) async fn installation_id(&self, repo: &RepoRef) -> ForgeResult<i64> {
        if let Some(id) = repo.installation_id {
            return Ok(id);
        }
        let key = repo.full_name();
        if let Some(id) = self.cached_installation(&key) {
            return Ok(id);
        }
        let path = format!(
            "/repos/{}/{}/installation",
            encode_segment(&repo.owner),
            encode_segment(&repo.name)
        );
        let what = format!("find the GitHub App installation of {key}");
        let found: wire::Installation = self
            .app_call(Call::get(path, &what))
            .await?
            .success_json(&what)?;
        self.tokens
            .installations
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(key, found.id);
        Ok(found.id)
    }

    fn cached_installation(&self, full_name: &str) -> Option<i64> {
        let installations = self
            .tokens
            .installations
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        installations.get(full_name).copied()
    }

    /// A token for `repo`'s installation with at least five minutes left.
    pub(super) async fn installation_token(
        &self,
        repo: &RepoRef,
    ) -> ForgeResult<(i64, InstallationToken)> {
        let installation = self.installation_id(repo).await?;
        let slot = self.tokens.slot(installation);
        let mut current = slot.lock().await;
        let now = self.options.clock.now_ms();
        if let Some(token) = current.as_ref()
            && token.expires_at_ms - now > RENEW_BEFORE_MS
        {
            return Ok((installation, token.clone()));
        }
        let what = format!("create an access token for installation {installation}");
        match self.fetch_token(installation, None, &what).await {
            Ok(token) => {
                *current = Some(token.clone());
                Ok((installation, token))
            }
            Err(error) => Err(self.not_installed(repo, error)),
        }
    }

    /// `error`, after forgetting the installation looked up for `repo` when GitHub no longer
    /// knows it (the app was uninstalled, or moved to another installation).
    fn not_installed(&self, repo: &RepoRef, error: ForgeError) -> ForgeError {
        if matches!(error, ForgeError::NotFound(_)) && repo.installation_id.is_none() {
            self.tokens
                .installations
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&repo.full_name());
        }
        error
    }

    /// Drops `token` from the cache if it is still the current one (GitHub refused it: revoked,
    /// or the app's permissions changed), so the next call fetches a new one.
    pub(super) async fn forget_token(&self, installation: i64, token: &Secret) {
        let slot = self.tokens.slot(installation);
        let mut current = slot.lock().await;
        if current.as_ref().is_some_and(|t| &t.token == token) {
            *current = None;
        }
    }

    /// A fresh token of `repo`'s installation that reaches `repo` alone and may only do `access`
    /// to its contents (metadata comes with every token). Never cached: its holder revokes it.
    pub(super) async fn git_token(
        &self,
        repo: &RepoRef,
        access: GitAccess,
    ) -> ForgeResult<InstallationToken> {
        let installation = self.installation_id(repo).await?;
        let contents = match access {
            GitAccess::Fetch => "read",
            GitAccess::Push => "write",
        };
        let scope = json!({
            "repositories": [repo.name],
            "permissions": { "contents": contents },
        });
        let what = format!(
            "create an access token to {} {} for installation {installation}",
            match access {
                GitAccess::Fetch => "fetch from",
                GitAccess::Push => "push to",
            },
            repo.full_name()
        );
        self.fetch_token(installation, Some(scope), &what)
            .await
            .map_err(|error| self.not_installed(repo, error))
    }

    /// `DELETE /installation/token`, authenticated with `token` itself. GitHub answers 401 to a
    /// token it no longer takes (revoked before, or expired): that is done too.
    pub(super) async fn revoke_token(&self, token: &Secret, what: &str) -> ForgeResult<()> {
        let call = Call::new(Method::DELETE, "/installation/token".into(), None, what);
        let reply = self
            .send(&call, &format!("Bearer {}", token.expose()))
            .await?;
        if reply.status.as_u16() == 401 {
            tracing::debug!("the token was no longer valid; nothing to revoke");
            return Ok(());
        }
        reply.success(what)
    }

    async fn fetch_token(
        &self,
        installation: i64,
        scope: Option<serde_json::Value>,
        what: &str,
    ) -> ForgeResult<InstallationToken> {
        let path = format!("/app/installations/{installation}/access_tokens");
        let reply = self.app_call(Call::post(path, scope, what)).await?;
        let answer: wire::AccessToken = reply.success_json(what)?;
        let now = self.options.clock.now_ms();
        let expires_at_ms = answer
            .expires_at
            .as_deref()
            .and_then(parse_rfc3339_ms)
            .unwrap_or(now + DEFAULT_LIFETIME_MS);
        tracing::debug!(installation, expires_at_ms, "installation token created");
        Ok(InstallationToken {
            token: Secret::new(answer.token),
            expires_at_ms,
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::clock::parse_rfc3339_ms;

    #[test]
    fn rfc3339_times_read_as_unix_ms() {
        assert_eq!(parse_rfc3339_ms("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(
            parse_rfc3339_ms("2016-07-11T22:14:10Z"),
            Some(1_468_275_250_000)
        );
        assert_eq!(
            parse_rfc3339_ms("2016-07-11T22:14:10.123456Z"),
            Some(1_468_275_250_123)
        );
        assert_eq!(
            parse_rfc3339_ms("2016-07-12T00:14:10+02:00"),
            Some(1_468_275_250_000)
        );
        assert_eq!(
            parse_rfc3339_ms("2024-02-29T12:00:00Z"),
            Some(1_709_208_000_000)
        );
        assert_eq!(parse_rfc3339_ms("yesterday"), None);
        assert_eq!(parse_rfc3339_ms("2016-13-11T22:14:10Z"), None);
    }
}
