//! The policy in force for each repository: `.ade/config.toml` read from the default branch (never
//! from a pull request's head), combined with the server policy, and cached by the default
//! branch's head commit, so a push to the default branch takes effect on the next command and
//! nothing else triggers a read.

use crate::forge::{BranchHead, Forge, ForgeKind, ForgeResult, RepoRef};
use crate::policy::{EffectivePolicy, Policy, PolicyDiagnostic, ServerPolicy};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Where a repository's policy file lives.
pub const POLICY_PATH: &str = ".ade/config.toml";

/// A repository's policy as read at one commit: in force, or refused with its problems (then
/// commands wait until it is fixed; ade does not fall back to looser defaults).
pub type Loaded = Result<Arc<EffectivePolicy>, Arc<Vec<PolicyDiagnostic>>>;

/// The policies of every repository ade has seen, by default-branch head.
pub struct Policies {
    server: ServerPolicy,
    cache: Mutex<HashMap<(ForgeKind, String), (String, Loaded)>>,
}

impl Policies {
    /// A cache applying `server`'s defaults and limits.
    pub fn new(server: ServerPolicy) -> Policies {
        Policies {
            server,
            cache: Mutex::default(),
        }
    }

    /// The default branch's head and the policy in force at it.
    pub async fn load(
        &self,
        forge: &dyn Forge,
        repo: &RepoRef,
    ) -> ForgeResult<(BranchHead, Loaded)> {
        let head = forge.default_branch(repo).await?;
        let key = (forge.kind(), repo.full_name());
        if let Some((sha, loaded)) = self.cache.lock().unwrap().get(&key)
            && *sha == head.sha
        {
            return Ok((head, loaded.clone()));
        }
        let file = forge.read_file(repo, POLICY_PATH, &head.sha).await?;
        let loaded = self.read(file.as_deref());
        self.cache
            .lock()
            .unwrap()
            .insert(key, (head.sha.clone(), loaded.clone()));
        Ok((head, loaded))
    }

    fn read(&self, file: Option<&[u8]>) -> Loaded {
        let repo = match file {
            None => Policy::default(),
            Some(bytes) => {
                let text = String::from_utf8_lossy(bytes);
                crate::policy::check_str(&text, POLICY_PATH).map_err(Arc::new)?
            }
        };
        crate::policy::effective(&self.server, &repo)
            .map(Arc::new)
            .map_err(Arc::new)
    }
}
