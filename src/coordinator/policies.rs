//! The policy in force for each repository: `.ade/config.toml` read from the default branch (never
//! from a pull request's head), combined with the server policy, and cached together with the
//! default branch's head. A push to the default branch drops the entry (intake sees the push), so
//! the next command reads the new head and policy; a cached entry is also re-read after
//! [`MAX_AGE`], so a push webhook the forge never delivered delays a policy change by minutes,
//! not forever. Between pushes a command needs no forge read for its policy.

use crate::forge::{BranchHead, Forge, ForgeKind, ForgeResult, RepoRef};
use crate::policy::{EffectivePolicy, Policy, PolicyDiagnostic, ServerPolicy};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Where a repository's policy file lives.
pub const POLICY_PATH: &str = ".ade/config.toml";

/// How long a cached policy is trusted without a push telling otherwise.
pub const MAX_AGE: Duration = Duration::from_secs(300);

/// A repository's policy as read at one commit: in force, or refused with its problems (then
/// commands wait until it is fixed; ade does not fall back to looser defaults).
pub type Loaded = Result<Arc<EffectivePolicy>, Arc<Vec<PolicyDiagnostic>>>;

struct Entry {
    head: BranchHead,
    loaded: Loaded,
    read_at: Instant,
}

/// The policies of every repository ade has seen.
pub struct Policies {
    server: ServerPolicy,
    cache: Mutex<HashMap<(ForgeKind, String), Entry>>,
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
        let key = (forge.kind(), repo.full_name());
        if let Some(entry) = self.cache.lock().unwrap().get(&key)
            && entry.read_at.elapsed() < MAX_AGE
        {
            return Ok((entry.head.clone(), entry.loaded.clone()));
        }
        let head = forge.default_branch(repo).await?;
        let file = forge.read_file(repo, POLICY_PATH, &head.sha).await?;
        let loaded = self.read(file.as_deref());
        let entry = Entry {
            head: head.clone(),
            loaded: loaded.clone(),
            read_at: Instant::now(),
        };
        self.cache.lock().unwrap().insert(key, entry);
        Ok((head, loaded))
    }

    /// The policy in force for `repo`, or why there is none (unreadable, or not valid): for
    /// work that goes on without a command to answer (runs, verifications, the merge gate).
    pub async fn in_force(
        &self,
        forge: &dyn Forge,
        repo: &RepoRef,
    ) -> Result<Arc<EffectivePolicy>, String> {
        match self.load(forge, repo).await {
            Ok((_, Ok(policy))) => Ok(policy),
            Ok((head, Err(problems))) => Err(format!(
                "the repository's policy on {} is not valid ({} problems)",
                head.name,
                problems.len()
            )),
            Err(e) => Err(format!("the policy could not be read: {e}")),
        }
    }

    /// What a policy file would put in force with this server (`None`: no file), without
    /// caching it: the `ade/policy` check of a pull request that changes the file.
    pub fn evaluate(&self, file: Option<&[u8]>) -> Loaded {
        self.read(file)
    }

    /// Forgets a repository's policy: its default branch moved.
    pub fn invalidate(&self, forge: ForgeKind, repository: &str) {
        self.cache
            .lock()
            .unwrap()
            .remove(&(forge, repository.to_string()));
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
