//! What waits on the operator goes on by itself once ade restarts: an operator who fixes the
//! configuration (names a default agent, fixes the agent's program or folders) restarts ade, and
//! the work that waited starts without anyone typing `/ade run` (docs/runner.md).
//!
//! At start, [`resume`] makes every held run due now (see `run::hold`) and enqueues a
//! [`ResumeJob`] for every active spec with ready tasks (tasks held because no agent was set, or
//! the agent or environment was not allowed); the job reads the policy in force now and advances
//! the spec, as `/ade run` would. A push to a repository's default branch does the same for that
//! repository's specs ([`resume_repository`]): the push may be the policy that names their agent.

use serde::{Deserialize, Serialize};

use super::advance::{self, AdvanceContext};
use super::goals::{goal_comment, spec_of};
use super::run::job::RunJob;
use super::shared::Shared;
use crate::forge::ForgeKind;
use crate::jobs::{BoxFuture, Job, JobContext, JobError, JobHandler};
use crate::lifecycle::SpecState;
use crate::store::jobs::{self as queue, ClaimedJob};
use crate::store::{Conn, StoreError, goals, tasks};

/// Attempts a resume gets (the forge may be down when ade starts).
const RESUME_ATTEMPTS: i64 = 5;

/// The job that advances an active spec whose ready tasks waited, when ade starts or its
/// repository's default branch moves.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ResumeJob {
    /// The active spec version's id.
    pub spec: i64,
    /// When it was asked for (a process start, a push to the default branch): one resume per
    /// spec and occasion.
    pub started: i64,
    /// The goal's order (`goal:<forge>:<owner/name>#<issue>`), shared with its commands and
    /// approvals. Kept in the job's row, not its payload.
    #[serde(skip)]
    pub ordering_key: Option<String>,
}

impl Job for ResumeJob {
    const KIND: &'static str = "resume_goal";

    fn idempotency_key(&self, _run_at: i64) -> String {
        format!("resume:{}:{}", self.spec, self.started)
    }

    fn ordering_key(&self) -> Option<String> {
        self.ordering_key.clone()
    }

    fn read(job: &ClaimedJob) -> Result<Self, serde_json::Error> {
        let mut read: ResumeJob = serde_json::from_str(&job.payload)?;
        read.ordering_key.clone_from(&job.ordering_key);
        Ok(read)
    }
}

/// What [`resume`] found waiting.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Resumed {
    /// Held runs made due now.
    pub runs: u64,
    /// Active specs with ready tasks, each given a resume job.
    pub specs: usize,
}

/// Makes held runs due now and enqueues a resume of every active spec with ready tasks, at the
/// start of a process.
pub async fn resume(conn: &mut Conn, now: i64) -> Result<Resumed, StoreError> {
    let runs = queue::due_now(conn, RunJob::KIND, now).await?;
    let specs = resume_specs(conn, None, now).await?;
    Ok(Resumed { runs, specs })
}

/// Enqueues a resume of every active spec of `repository` with ready tasks: its default branch
/// moved, and the policy that now names a default agent (or allows one) may let them start.
/// Returns how many.
pub async fn resume_repository(
    conn: &mut Conn,
    forge: ForgeKind,
    repository: &str,
    now: i64,
) -> Result<usize, StoreError> {
    resume_specs(conn, Some((forge, repository)), now).await
}

async fn resume_specs(
    conn: &mut Conn,
    only: Option<(ForgeKind, &str)>,
    now: i64,
) -> Result<usize, StoreError> {
    let mut count = 0;
    let only = only.map(|(forge, repository)| (forge.as_str(), repository));
    for (spec, forge, repository, number) in
        tasks::active_specs_with_ready_tasks(conn, only).await?
    {
        let job = ResumeJob {
            spec,
            started: now,
            ordering_key: Some(format!("goal:{forge}:{repository}#{number}")),
        };
        queue::enqueue(conn, &job.new_job(RESUME_ATTEMPTS, now), now).await?;
        count += 1;
    }
    Ok(count)
}

/// The handler of [`ResumeJob`]s.
pub struct ResumeHandler {
    shared: Shared,
}

impl ResumeHandler {
    /// A handler reading policies and forges through `shared`.
    pub fn new(shared: Shared) -> ResumeHandler {
        ResumeHandler { shared }
    }

    async fn handle(&self, ctx: &JobContext) -> Result<(), JobError> {
        let job: ResumeJob = ctx.payload()?;
        let (row, goal, approver) = {
            let mut conn = ctx.store().reader().await?;
            let Some(row) = goals::spec(&mut conn, job.spec).await? else {
                return Err(JobError::Permanent(format!(
                    "spec {} is not stored",
                    job.spec
                )));
            };
            let goal = goals::goal_of_spec(&mut conn, row.id)
                .await?
                .ok_or_else(|| JobError::Permanent(format!("spec {} has no goal", row.id)))?;
            let approver = goals::transitions(&mut conn, row.id)
                .await?
                .into_iter()
                .rev()
                .find(|(_, to, _, _)| to == SpecState::Active.as_str())
                .map_or_else(|| row.author.clone(), |(_, _, actor, _)| actor);
            (row, goal, approver)
        };
        if row.state != SpecState::Active {
            return ctx.finish_empty().await;
        }
        let repo = goal.repository.clone();
        let forge = self.shared.forge(goal.forge)?;
        let policy = match self.shared.policies.load(forge.as_ref(), &repo).await {
            Ok((_, Ok(policy))) => policy,
            Ok((head, Err(problems))) => {
                tracing::warn!(spec = row.id, branch = %head.name, problems = problems.len(),
                    "the repository's policy is not valid; its waiting tasks stay waiting");
                return ctx.finish_empty().await;
            }
            Err(e) => return Err(e.into()),
        };
        let spec = spec_of(&row)?;
        let now = ctx.now_ms();
        let mut tx = ctx.store().begin().await?;
        let advanced = advance::advance(
            &mut tx,
            &row,
            &spec,
            &AdvanceContext {
                goal_number: goal.number,
                policy: &policy,
                requester: &approver,
                now,
            },
        )
        .await?;
        if advanced.started.is_empty() && advanced.unblocked.is_empty() {
            for (task, why) in &advanced.held {
                tracing::info!(spec = row.id, %task, %why, "a ready task still cannot start");
            }
            return ctx.finish(tx).await;
        }
        tracing::info!(spec = row.id, started = ?advanced.started, "tasks that waited for the operator start now");
        let comment = goal_comment(&mut tx, &repo, &row, &spec).await?;
        self.shared
            .enqueue_writes(&mut tx, goal.forge, comment.as_slice(), now)
            .await?;
        ctx.finish(tx).await
    }
}

impl JobHandler for ResumeHandler {
    fn run<'a>(&'a self, ctx: &'a JobContext) -> BoxFuture<'a, Result<(), JobError>> {
        Box::pin(self.handle(ctx))
    }
}
