//! What the coordinator's job handlers share: the forge clients, the policy cache, the signer of
//! run-log links, how many attempts forge writes get and retention. One value handed to each handler, instead
//! of a list of arguments that grows with every feature.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::policies::Policies;
use crate::coordinator::writes::{ForgeWrite, Forges, enqueue_writes};
use crate::events::Event;
use crate::forge::{Forge, ForgeKind};
use crate::jobs::JobError;
use crate::links::{LinkSigner, LogTarget};
use crate::policy::RetentionPolicy;
use crate::retention::Retention;
use crate::store::{Conn, Store, StoreError};

/// How long a repository's retention periods, once stored, are not stored again unchanged: as
/// long as a policy is cached (`policies::MAX_AGE`).
const REMEMBER_FOR: Duration = super::policies::MAX_AGE;

/// Per repository, the retention periods this process stored and when.
type Remembered = HashMap<(ForgeKind, String), (RetentionPolicy, Instant)>;

/// The coordinator's shared parts.
#[derive(Clone)]
pub struct Shared {
    /// The forge clients.
    pub forges: Forges,
    /// The policy in force per repository.
    pub policies: Arc<Policies>,
    /// Makes the links to run logs that checks and comments carry.
    pub links: LinkSigner,
    /// Attempts each forge write job gets.
    pub write_attempts: i64,
    /// The agents this server registers, by name: a plan naming another is not valid.
    pub agents: Arc<std::collections::BTreeSet<String>>,
    bots: Arc<Mutex<HashMap<ForgeKind, String>>>,
    /// Deletes what a run leaves behind once its repository's periods pass; None in processes
    /// (and tests) that keep everything.
    retention: Option<Retention>,
    /// The retention periods this process last stored per repository, and when.
    remembered: Arc<Mutex<Remembered>>,
}

impl Shared {
    /// The shared parts of a process.
    pub fn new(
        forges: Forges,
        policies: Arc<Policies>,
        links: LinkSigner,
        write_attempts: i64,
    ) -> Shared {
        Shared {
            forges,
            policies,
            links,
            write_attempts,
            agents: Arc::default(),
            bots: Arc::default(),
            retention: None,
            remembered: Arc::default(),
        }
    }

    /// The same parts, knowing the agents the server registers (`ade.toml`'s `[agents.*]`).
    pub fn with_agents(mut self, names: impl IntoIterator<Item = String>) -> Shared {
        self.agents = Arc::new(names.into_iter().collect());
        self
    }

    /// The same parts, with `retention` deleting what runs leave behind.
    pub fn with_retention(mut self, retention: Retention) -> Shared {
        self.retention = Some(retention);
        self
    }

    /// Stores `rules` as the retention of `repository` (from the policy in force just read), so
    /// purges follow the repository's own periods. What this process stored in the last
    /// [`REMEMBER_FOR`] is not stored again (another replica may have stored other periods since,
    /// so it is stored again after that). A failure is logged: purges go by the last stored rules.
    pub async fn remember_retention(
        &self,
        store: &Store,
        forge: ForgeKind,
        repository: &str,
        rules: &RetentionPolicy,
        now: i64,
    ) {
        let key = (forge, repository.to_owned());
        let fresh = self
            .remembered
            .lock()
            .unwrap()
            .get(&key)
            .is_some_and(|(stored, at)| stored == rules && at.elapsed() < REMEMBER_FOR);
        if fresh {
            return;
        }
        let stored = async {
            let mut conn = store.writer().await?;
            crate::store::retention::remember(&mut conn, forge, repository, rules, now).await
        };
        match stored.await {
            Ok(()) => {
                self.remembered
                    .lock()
                    .unwrap()
                    .insert(key, (*rules, Instant::now()));
            }
            Err(error) => {
                tracing::warn!(%repository, %error, "could not store the repository's retention periods");
            }
        }
    }

    /// Run `run` ended, or a verification of it, and what it asked for is recorded and
    /// reported: retention deletes at once what the repository keeps for no time.
    pub async fn after_run(&self, run: i64) {
        if let Some(retention) = &self.retention {
            retention.after_run(run).await;
        }
    }

    /// The client of `kind`, or a permanent error naming the missing configuration.
    pub fn forge(&self, kind: ForgeKind) -> Result<Arc<dyn Forge>, JobError> {
        Ok(self.forges.get(kind).cloned()?)
    }

    /// The login ade posts as on `forge`, asked once per process.
    pub async fn bot_login(&self, forge: &dyn Forge) -> Result<String, JobError> {
        if let Some(login) = self.bots.lock().unwrap().get(&forge.kind()) {
            return Ok(login.clone());
        }
        let login = forge.bot_login().await?;
        self.bots
            .lock()
            .unwrap()
            .insert(forge.kind(), login.clone());
        Ok(login)
    }

    /// Whether ade itself sent `event` on `forge` (its own pushes and edits come back as events).
    pub async fn sent_by_bot(&self, forge: &dyn Forge, event: &Event) -> Result<bool, JobError> {
        let bot = self.bot_login(forge).await?;
        Ok(event
            .sender
            .as_ref()
            .is_some_and(|s| s.login.eq_ignore_ascii_case(&bot)))
    }

    /// Enqueues `writes` in the caller's transaction ([`enqueue_writes`]), each with the attempts
    /// forge writes get.
    pub async fn enqueue_writes(
        &self,
        tx: &mut Conn,
        forge: ForgeKind,
        writes: &[ForgeWrite],
        now: i64,
    ) -> Result<(), StoreError> {
        enqueue_writes(tx, forge, writes, self.write_attempts, now).await
    }

    /// The link to a run's log (or one verification's), when ade has a public URL.
    pub fn log_link(&self, run: i64, verification: i64, now_ms: i64) -> Option<String> {
        self.links
            .link(LogTarget { run, verification }, now_ms / 1000)
    }
}
