//! Keeping the runner warm: a push to a repository's default branch means the next goal planned
//! there starts from the new head, so the runner fetches it and brings a free worktree to it
//! ahead of time (see [`Runner::warm`]). It is best effort: a warm-up that fails costs the next
//! run its fetch and checkout, nothing else.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::coordinator::writes::Forges;
use crate::forge::{ForgeKind, RepoRef};
use crate::jobs::{BoxFuture, JobContext, JobError, JobHandler};
use crate::runner::mirror::is_commit_id;
use crate::runner::{Runner, WarmOrder};
use crate::store::jobs::NewJob;

/// The job kind that warms the runner for a repository whose default branch moved.
pub const WARM_JOB: &str = "warm_runner";

/// Attempts a warm-up gets: a forge hiccup is worth one retry, no more.
const WARM_ATTEMPTS: i64 = 2;

/// The payload of [`WARM_JOB`] jobs.
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
    /// The job, one per repository and commit; a repository's warm-ups run one at a time.
    /// `None` when the push did not leave a commit (a deleted branch).
    pub fn job(self, now: i64) -> Option<NewJob> {
        if !is_commit_id(&self.commit) || self.commit.bytes().all(|b| b == b'0') {
            return None;
        }
        let repo = format!("{}:{}", self.forge, self.repository);
        Some(NewJob {
            kind: WARM_JOB.into(),
            idempotency_key: format!("warm:{repo}:{}", self.commit),
            ordering_key: Some(format!("warm:{repo}")),
            payload: serde_json::to_string(&self).expect("a warm job serializes"),
            max_attempts: WARM_ATTEMPTS,
            run_at: now,
        })
    }
}

/// The handler of [`WARM_JOB`] jobs: a clone credential from the forge, then the runner.
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
            let job: WarmJob = serde_json::from_str(&ctx.job.payload)
                .map_err(|e| JobError::Permanent(format!("malformed warm-up: {e}")))?;
            let repo = RepoRef::parse(&job.repository, job.installation_id).ok_or_else(|| {
                JobError::Permanent(format!("not a repository: {:?}", job.repository))
            })?;
            let forge = self.forges.get(job.forge)?;
            let credential = forge.clone_credential(&repo).await?;
            self.runner
                .warm(WarmOrder {
                    forge: job.forge,
                    repository: job.repository.clone(),
                    commit: job.commit.clone(),
                    credential,
                })
                .await
                .map_err(JobError::Retry)?;
            tracing::debug!(repository = %job.repository, commit = %job.commit, "runner warmed");
            Ok(())
        })
    }

    fn discarded<'a>(
        &'a self,
        job: &'a crate::store::jobs::ClaimedJob,
        _conn: &'a mut crate::store::Conn,
        error: &'a str,
        _now: i64,
    ) -> BoxFuture<'a, Result<(), crate::store::StoreError>> {
        Box::pin(async move {
            tracing::warn!(key = %job.idempotency_key, %error,
                "warming the runner failed; the next run fetches and checks out itself");
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn warm(commit: &str) -> Option<NewJob> {
        WarmJob {
            forge: ForgeKind::Github,
            repository: "acme/widgets".into(),
            installation_id: Some(7),
            commit: commit.into(),
        }
        .job(0)
    }

    #[test]
    fn one_warm_up_per_commit_and_one_at_a_time_per_repository() {
        let a = warm(&"a".repeat(40)).unwrap();
        let b = warm(&"b".repeat(40)).unwrap();
        assert_ne!(a.idempotency_key, b.idempotency_key);
        assert_eq!(a.ordering_key, b.ordering_key);
    }

    #[test]
    fn a_push_that_leaves_no_commit_warms_nothing() {
        assert!(warm(&"0".repeat(40)).is_none(), "a deleted branch");
        assert!(warm("HEAD").is_none());
        assert!(warm(&"A".repeat(40)).is_none());
        assert!(warm(&format!("{}; rm -rf /", "a".repeat(40))).is_none());
    }
}
