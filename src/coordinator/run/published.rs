//! The coordinator's side of a run's publish phase: once the runner pushed the change, the
//! approval is opened (a draft while verification runs, when the policy has steps or external
//! checks, and drafts), recorded, given the policy's labels, and `ade/verify` is marked in
//! progress on its head, so a reviewer sees at once that the change is being verified. The verification the run carries out
//! is recorded as running; if a newer head supersedes it, the runner is told to stop.
//!
//! The push itself is made with a credential asked for when the runner is about to push, and
//! every git credential of the run is revoked once it has pushed: the approval and the checks are
//! written by ade's own forge client, and verification needs no forge.

use std::sync::{Arc, Mutex};

use tokio_util::sync::CancellationToken;

use super::approval::{self, Opened};
use super::load::StoredRun;
use crate::coordinator::credentials::GitCredentials;
use crate::coordinator::shared::Shared;
use crate::coordinator::verification::{self, Subject};
use crate::coordinator::watch::{Flag, watch};
use crate::coordinator::writes::ForgeWrite;
use crate::forge::{CloneCredential, Forge, GitAccess};
use crate::jobs::{JobContext, JobError};
use crate::lifecycle::VerificationState;
use crate::policy::EffectivePolicy;
use crate::runner::{RunProgress, RunReport};
use crate::store::approvals::{self, ApprovalRow, OpenedApproval};
use crate::store::runs;
use crate::store::verifications::{self, Cause, NewVerification};
use crate::verify::CheckStage;

/// What publishing recorded: the approval and the run's verification.
#[derive(Clone, Debug)]
pub(super) struct Published {
    /// The approval as the forge had it.
    pub opened: Opened,
    /// Its stored row.
    pub approval: ApprovalRow,
    /// The verification the run carries out.
    pub verification: i64,
    /// The state its verification is in while the run records it: running, or awaiting the
    /// external checks when a wait records it.
    pub verification_state: VerificationState,
}

/// Hears the runner's progress for one run.
pub(super) struct Publisher<'a> {
    pub ctx: &'a JobContext,
    pub shared: &'a Shared,
    pub forge: Arc<dyn Forge>,
    pub loaded: &'a StoredRun,
    pub policy: Arc<EffectivePolicy>,
    /// The branch approvals merge into (the default branch).
    pub base: String,
    /// The run's git credentials.
    pub credentials: &'a GitCredentials,
    pub state: Mutex<Option<Published>>,
    pub watchers: Mutex<Vec<tokio::task::JoinHandle<()>>>,
    /// Fired once the runner pushed: the agent's part is over, and with it what the goal's
    /// budget counts of this run.
    pub pushed: CancellationToken,
}

impl Publisher<'_> {
    /// What was published, if anything.
    pub fn take(&self) -> Option<Published> {
        for watcher in self.watchers.lock().unwrap().drain(..) {
            watcher.abort();
        }
        self.state.lock().unwrap().take()
    }

    async fn publish(&self, head_sha: &str, report: &RunReport) -> Result<Publish, JobError> {
        let l = self.loaded;
        // The branch moved: remember it before any forge call can fail, so the next run of the
        // task leases the push against it.
        {
            let mut tx = self.ctx.store().begin().await?;
            runs::set_pushed_head(&mut tx, l.run.id, head_sha).await?;
            let halted = halted(&mut tx, l).await?;
            self.ctx.commit(tx).await?;
            if let Some(why) = halted {
                return Ok(Publish::Halted(why));
            }
        }
        let draft = self.policy.pull_requests.drafts
            && (!self.policy.verification.is_empty() || self.policy.external_checks.any());
        let first_try = self.ctx.job.attempt == 1 && self.ctx.job.last_error.is_none();
        let opened =
            approval::open(self.forge.as_ref(), l, report, &self.base, draft, first_try).await?;
        let now = self.ctx.now_ms();
        let mut tx = self.ctx.store().begin().await?;
        let (row, verification, mut writes) = record(
            &mut tx,
            self.shared,
            l,
            &opened,
            head_sha,
            &self.policy,
            now,
        )
        .await?;
        if l.approval.is_none() && !self.policy.pull_requests.labels.is_empty() {
            writes.push(ForgeWrite::Label {
                repo: l.repo.clone(),
                number: opened.number,
                labels: self.policy.pull_requests.labels.clone(),
            });
        }
        self.shared
            .enqueue_writes(&mut tx, l.forge, &writes, now)
            .await?;
        self.ctx.commit(tx).await?;
        Ok(Publish::Opened(Box::new(Published {
            opened,
            approval: row,
            verification,
            verification_state: VerificationState::Running,
        })))
    }
}

/// What publishing did.
pub(super) enum Publish {
    /// The approval is open, and the run's verification recorded.
    Opened(Box<Published>),
    /// Nothing was opened: someone decided the task's fate while the run was in flight.
    Halted(&'static str),
}

/// Why a run that just pushed must open nothing: a cancel asked for meanwhile, or a person
/// closing or merging the task's approval since the run started (reopening it would undo their
/// decision). `None` when it may go on.
pub(super) async fn halted(
    conn: &mut crate::store::Conn,
    l: &StoredRun,
) -> Result<Option<&'static str>, JobError> {
    if runs::cancel_requested(conn, l.run.id).await? {
        return Ok(Some("the run was cancelled as it pushed"));
    }
    let now = approvals::of_task(conn, l.task.id).await?;
    let changed = match (&l.approval, &now) {
        (Some(then), Some(now)) => then.state != now.state && !now.state.awaits_review(),
        (None, Some(now)) => !now.state.awaits_review(),
        _ => false,
    };
    Ok(changed.then_some("the approval was closed or merged while the run was in flight"))
}

/// Records the approval a run opened and the verification it carries out (running), supersedes
/// the approval's older verifications, and says `ade/verify` is in progress on `head_sha`.
pub(super) async fn record(
    tx: &mut crate::store::Conn,
    shared: &Shared,
    l: &StoredRun,
    opened: &Opened,
    head_sha: &str,
    policy: &Arc<EffectivePolicy>,
    now: i64,
) -> Result<(ApprovalRow, i64, Vec<ForgeWrite>), JobError> {
    let row = approvals::record_opened(
        tx,
        &OpenedApproval {
            task: l.task.id,
            forge: l.forge,
            repository: &l.repo.full_name(),
            number: opened.number,
            node_id: opened.node_id.as_deref(),
            branch: &l.run.branch,
            head_sha,
            draft: opened.draft,
            requester: &l.run.requester,
        },
        now,
    )
    .await?;
    let id = match verifications::of_run(tx, l.run.id).await? {
        Some(existing) if existing.head_sha == head_sha => existing.id,
        _ => {
            verifications::insert(
                tx,
                &NewVerification {
                    approval: row.id,
                    run: l.run.id,
                    head_sha,
                    cause: Cause::Run,
                    state: VerificationState::Running,
                    requester: &l.run.requester,
                },
                now,
            )
            .await?
        }
    };
    let subject = Subject {
        forge: l.forge,
        repo: l.repo.clone(),
        approval: row.clone(),
        run: l.run.clone(),
        task_id: l.task.task_id.clone(),
        spec_reference: l.spec.reference(),
        goal_number: l.goal.number,
        policy: policy.clone(),
    };
    let mut writes = verification::supersede(tx, shared, &subject, id, head_sha, now).await?;
    let context = subject.context(shared, head_sha, id, now);
    writes.extend(verification::report(
        &subject,
        &context,
        CheckStage::InProgress {
            steps: policy.verification.len(),
        },
    )?);
    Ok((row, id, writes))
}

#[async_trait::async_trait]
impl RunProgress for Publisher<'_> {
    async fn push_credential(&self) -> Result<CloneCredential, String> {
        self.credentials
            .get(GitAccess::Push)
            .await
            .map_err(|e| e.to_string())
    }

    async fn published(&self, head_sha: &str, report: &RunReport) -> CancellationToken {
        self.credentials.revoke_all().await;
        self.pushed.cancel();
        let run = self.loaded.run.id;
        match self.ctx.store().writer().await {
            Ok(mut conn) => {
                if let Err(error) =
                    crate::store::limits::stop_the_clock(&mut conn, run, self.ctx.now_ms()).await
                {
                    tracing::warn!(run, %error, "could not stop the run's budget clock; it stops when the run ends");
                }
            }
            Err(error) => {
                tracing::warn!(run, %error, "could not stop the run's budget clock; it stops when the run ends")
            }
        }
        let stop = CancellationToken::new();
        match self.publish(head_sha, report).await {
            Ok(Publish::Halted(why)) => {
                tracing::info!(
                    run = self.loaded.run.id,
                    why,
                    "nothing is opened for this run"
                );
                stop.cancel();
            }
            Ok(Publish::Opened(published)) => {
                let watcher = watch(
                    self.ctx.store().clone(),
                    Flag::VerificationStopped(published.verification),
                    stop.clone(),
                );
                self.watchers.lock().unwrap().push(watcher);
                tracing::info!(
                    run = self.loaded.run.id,
                    pull = published.opened.number,
                    "approval opened; verifying"
                );
                *self.state.lock().unwrap() = Some(*published);
            }
            Err(error) => {
                tracing::warn!(run = self.loaded.run.id, %error,
                    "the approval could not be opened before verification; the run opens it when it ends");
            }
        }
        stop
    }
}
