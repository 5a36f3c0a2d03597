//! Keeping the runner warm: a push to a repository's default branch means the next goal planned
//! there starts from the new head, so the runner fetches it and brings a free worktree to it
//! ahead of time (see [`Runner::warm`]). It is best effort: a warm-up that fails costs the next
//! run its fetch and checkout, nothing else.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::coordinator::credentials::GitCredentials;
use crate::coordinator::writes::Forges;
use crate::forge::{ForgeKind, GitAccess, RepoRef};
use crate::jobs::{BoxFuture, Discarded, Job, JobContext, JobError, JobHandler};
use crate::runner::mirror::is_commit_id;
use crate::runner::{Runner, WarmOrder};

/// The job that warms the runner for a repository whose default branch moved to `commit`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct WarmJob {
    /// The forge.
    pub forge: ForgeKind,
    /// `owner/name`.
    pub repository: String,
    /// The GitHub App installation, when the event said.
    pub installation_id: Option<i64>,
    /// The default branch's new head.
    pub commit: String,
}

impl WarmJob {
    /// Attempts a warm-up gets: a forge hiccup is worth one retry, no more.
    pub const ATTEMPTS: i64 = 2;

    /// Whether the push left a commit to warm up for (not a deleted branch, nor anything that is
    /// not a commit id).
    pub fn leaves_a_commit(&self) -> bool {
        is_commit_id(&self.commit) && !self.commit.bytes().all(|b| b == b'0')
    }

    fn repository_key(&self) -> String {
        format!("{}:{}", self.forge, self.repository)
    }
}

/// One warm-up per repository and commit; a repository's warm-ups run one at a time.
impl Job for WarmJob {
    const KIND: &'static str = "warm_runner";

    fn idempotency_key(&self, _run_at: i64) -> String {
        format!("warm:{}:{}", self.repository_key(), self.commit)
    }

    fn ordering_key(&self) -> Option<String> {
        Some(format!("warm:{}", self.repository_key()))
    }
}

/// The handler of [`WarmJob`]s: a clone credential from the forge, then the runner.
pub struct WarmHandler {
    forges: Forges,
    runner: Arc<dyn Runner>,
}

impl WarmHandler {
    /// A handler asking `forges` for credentials and `runner` to warm up.
    pub fn new(forges: Forges, runner: Arc<dyn Runner>) -> Self {
        WarmHandler { forges, runner }
    }
}

impl JobHandler for WarmHandler {
    fn run<'a>(&'a self, ctx: &'a JobContext) -> BoxFuture<'a, Result<(), JobError>> {
        Box::pin(async move {
            let job: WarmJob = ctx.payload()?;
            let repo = RepoRef::parse(&job.repository, job.installation_id).ok_or_else(|| {
                JobError::Permanent(format!("not a repository: {:?}", job.repository))
            })?;
            let forge = self.forges.get(job.forge)?;
            let credentials = GitCredentials::new(forge.clone(), repo);
            let credential = credentials.get(GitAccess::Fetch).await?;
            let warmed = self
                .runner
                .warm(WarmOrder {
                    forge: job.forge,
                    repository: job.repository.clone(),
                    commit: job.commit.clone(),
                    credential,
                })
                .await;
            credentials.revoke_all().await;
            warmed.map_err(JobError::Retry)?;
            tracing::debug!(repository = %job.repository, commit = %job.commit, "runner warmed");
            Ok(())
        })
    }

    fn discarded<'a>(
        &'a self,
        failed: Discarded<'a>,
    ) -> BoxFuture<'a, Result<(), crate::store::StoreError>> {
        Box::pin(async move {
            let (key, error) = (&failed.job.idempotency_key, failed.error);
            tracing::warn!(%key, %error,
                "warming the runner failed; the next run fetches and checks out itself");
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn warm(commit: &str) -> WarmJob {
        WarmJob {
            forge: ForgeKind::Github,
            repository: "acme/widgets".into(),
            installation_id: Some(7),
            commit: commit.into(),
        }
    }

    #[test]
    fn one_warm_up_per_commit_and_one_at_a_time_per_repository() {
        let a = warm(&"a".repeat(40)).new_job(WarmJob::ATTEMPTS, 0);
        let b = warm(&"b".repeat(40)).new_job(WarmJob::ATTEMPTS, 0);
        assert_eq!(
            a.idempotency_key,
            format!("warm:github:acme/widgets:{}", "a".repeat(40))
        );
        assert_ne!(a.idempotency_key, b.idempotency_key);
        assert_eq!(a.ordering_key.as_deref(), Some("warm:github:acme/widgets"));
        assert_eq!(a.ordering_key, b.ordering_key);
    }

    #[test]
    fn a_push_that_leaves_no_commit_warms_nothing() {
        assert!(warm(&"a".repeat(40)).leaves_a_commit());
        assert!(!warm(&"0".repeat(40)).leaves_a_commit(), "a deleted branch");
        assert!(!warm("HEAD").leaves_a_commit());
        assert!(!warm(&"A".repeat(40)).leaves_a_commit());
        assert!(!warm(&format!("{}; rm -rf /", "a".repeat(40))).leaves_a_commit());
    }
}
