//! The git credentials the coordinator asks a forge for on a runner's behalf. Each is for one
//! repository and one kind of git work (on GitHub, a token that reaches only that repository and
//! may only read, or write, its contents), and is revoked as soon as that work is done, and
//! whenever the work ends otherwise: a failure, a cancel, a job dropped mid-way. A revocation that
//! fails is logged and changes nothing else; the credential expires within the hour anyway
//! (docs/github.md).

use std::sync::{Arc, Mutex};

use crate::forge::{CloneCredential, Forge, ForgeResult, GitAccess, RepoRef};
use crate::telemetry::shown;

/// The credentials given out for one piece of work on one repository (a run, a verification, a
/// warm-up), kept until they are revoked.
pub struct GitCredentials {
    forge: Arc<dyn Forge>,
    repo: RepoRef,
    live: Mutex<Vec<CloneCredential>>,
}

impl GitCredentials {
    /// Credentials for work on `repo`, asked of `forge`.
    pub fn new(forge: Arc<dyn Forge>, repo: RepoRef) -> GitCredentials {
        GitCredentials {
            forge,
            repo,
            live: Mutex::default(),
        }
    }

    /// A fresh credential for `access`, kept to be revoked with the others.
    pub async fn get(&self, access: GitAccess) -> ForgeResult<CloneCredential> {
        let credential = self.forge.clone_credential(&self.repo, access).await?;
        self.lock().push(credential.clone());
        Ok(credential)
    }

    /// Revokes every credential given out so far; later ones are fresh.
    pub async fn revoke_all(&self) {
        let live = std::mem::take(&mut *self.lock());
        revoke(self.forge.as_ref(), &self.repo, live).await;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<CloneCredential>> {
        self.live.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Work that stopped without saying it was done (its job was dropped: a lost lease, a shutdown)
/// still has its credentials revoked, in the background.
impl Drop for GitCredentials {
    fn drop(&mut self) {
        let live = std::mem::take(&mut *self.lock());
        if live.is_empty() {
            return;
        }
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let (forge, repo) = (self.forge.clone(), self.repo.clone());
            runtime.spawn(async move { revoke(forge.as_ref(), &repo, live).await });
        }
    }
}

async fn revoke(forge: &dyn Forge, repo: &RepoRef, credentials: Vec<CloneCredential>) {
    for credential in credentials {
        if let Err(error) = forge.revoke_credential(&credential).await {
            tracing::warn!(
                repository = %shown(&repo.full_name()),
                error = %shown(&error.to_string()),
                expires_at_ms = credential.expires_at,
                "a git credential could not be revoked; it works until it expires"
            );
        }
    }
}
