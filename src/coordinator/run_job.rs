//! The job that carries out one run: it marks the run started, hands a [`RunOrder`] to the
//! [`Runner`], watches for `/ade cancel` while the runner works, and turns the outcome into an
//! approval (a pull request) or a visible failure. The job holds a lease for the whole run; a run
//! whose runner died is taken over when the lease expires, and failed visibly after its last
//! attempt.

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::commands::plan::parse_state;
use super::policies::Policies;
use super::render::{self, ApprovalView, ReplyView, TaskView};
use super::runs::{self, AdvanceContext, RUN_JOB, RunJob, RunState};
use super::tasks::TaskState;
use crate::forge::writes::{ForgeWrite, Forges, classify, enqueue_writes};
use crate::forge::{Forge, ForgeKind, NewPullRequest, PullRequestUpdate, RepoRef};
use crate::jobs::{BoxFuture, JobContext, JobError, JobHandler};
use crate::markdown;
use crate::runner::{DependencyResult, RunOrder, RunOutcome, RunReport, Runner};
use crate::spec::{Spec, SpecState};
use crate::store::goals::SpecRow;
use crate::store::jobs::ClaimedJob;
use crate::store::runs::{self as store, GoalRow, RunEnd, RunRow, TaskRow};
use crate::store::{self as db, Conn, StoreError};

/// The handler of [`RUN_JOB`] jobs.
pub struct RunHandler {
    forges: Forges,
    policies: Arc<Policies>,
    runner: Arc<dyn Runner>,
    write_attempts: i64,
    cancel_poll: Duration,
}

impl RunHandler {
    /// A handler giving runs to `runner`, opening approvals through `forges`.
    pub fn new(
        forges: Forges,
        policies: Arc<Policies>,
        runner: Arc<dyn Runner>,
        write_attempts: i64,
    ) -> RunHandler {
        RunHandler {
            forges,
            policies,
            runner,
            write_attempts,
            cancel_poll: Duration::from_millis(500),
        }
    }
}

/// Everything stored about a run, read together.
struct StoredRun {
    run: RunRow,
    task: TaskRow,
    spec_row: SpecRow,
    spec: Spec,
    goal: GoalRow,
    forge: ForgeKind,
    repo: RepoRef,
}

async fn load(conn: &mut Conn, run_id: i64) -> Result<StoredRun, JobError> {
    let missing =
        |what: &str| JobError::Permanent(format!("run {run_id}: its {what} is not stored"));
    let run = store::run(conn, run_id)
        .await?
        .ok_or_else(|| missing("row"))?;
    let task = store::task(conn, run.task)
        .await?
        .ok_or_else(|| missing("task"))?;
    let spec_row = db::goals::spec(conn, task.spec)
        .await?
        .ok_or_else(|| missing("spec"))?;
    let goal = store::goal_of_spec(conn, task.spec)
        .await?
        .ok_or_else(|| missing("goal"))?;
    let spec = runs::spec_of(&spec_row)?;
    let forge = ForgeKind::parse(&goal.forge).ok_or_else(|| missing("forge"))?;
    let repo = RepoRef::parse(&goal.repository, None).ok_or_else(|| missing("repository"))?;
    Ok(StoredRun {
        run,
        task,
        spec_row,
        spec,
        goal,
        forge,
        repo,
    })
}

impl RunHandler {
    async fn handle(&self, ctx: &JobContext) -> Result<(), JobError> {
        let job: RunJob = serde_json::from_str(&ctx.job.payload)
            .map_err(|e| JobError::Permanent(format!("malformed run job: {e}")))?;
        let mut loaded = {
            let mut conn = ctx.store().reader().await?;
            load(&mut conn, job.run).await?
        };
        let state = RunState::parse(&loaded.run.state).ok_or_else(|| {
            JobError::Permanent(format!("run {} has an unknown state", loaded.run.id))
        })?;
        if state.is_final() {
            tracing::info!(run = loaded.run.id, %state, "the run already ended");
            return ctx.finish(ctx.store().begin().await?).await;
        }
        let runner = self.runner.name().to_string();
        {
            let mut tx = ctx.store().begin().await?;
            if loaded.run.cancel_requested {
                self.end(
                    &mut tx,
                    &loaded,
                    state,
                    RunOutcome::Cancelled {
                        report: RunReport::default(),
                    },
                    ctx.now_ms(),
                )
                .await?;
                return ctx.finish(tx).await;
            }
            if state == RunState::Running {
                tracing::warn!(
                    run = loaded.run.id,
                    previous = loaded.run.runner.as_deref().unwrap_or("?"),
                    attempt = ctx.job.attempt,
                    "the runner carrying out this run was lost (its lease expired); starting the run again"
                );
            }
            if !store::start_run(
                &mut tx,
                loaded.run.id,
                state.as_str(),
                &runner,
                ctx.now_ms(),
            )
            .await?
            {
                tx.rollback().await.ok();
                return Err(JobError::Retry(format!(
                    "run {} moved while starting; reading it again",
                    loaded.run.id
                )));
            }
            tx.commit()
                .await
                .map_err(|e| JobError::Retry(format!("commit run start: {e}")))?;
        }
        tracing::info!(run = loaded.run.id, task = %loaded.task.task_id, agent = %loaded.run.agent, "run started");
        let forge = self.forges.get(loaded.forge).map_err(classify)?.clone();
        let outcome = match self.order(ctx, forge.as_ref(), &loaded).await {
            Ok(order) => {
                // A dependant starts from the default branch's head, not the spec's base.
                loaded.run.base_sha.clone_from(&order.base_sha);
                self.execute(ctx, order).await
            }
            Err(reason) => RunOutcome::Failed {
                reason,
                retryable: false,
                report: RunReport {
                    runner: runner.clone(),
                    ..RunReport::default()
                },
            },
        };
        if let RunOutcome::Failed {
            retryable: true,
            reason,
            ..
        } = &outcome
            && ctx.job.attempt < ctx.job.max_attempts
        {
            return Err(JobError::Retry(reason.clone()));
        }
        let outcome = match outcome {
            RunOutcome::Pushed { report, .. } if self.cancelled(ctx, loaded.run.id).await => {
                RunOutcome::Cancelled { report }
            }
            other => other,
        };
        let pull = match &outcome {
            RunOutcome::Pushed { head_sha, report } => Some(
                self.open_approval(forge.as_ref(), &loaded, head_sha, report)
                    .await?,
            ),
            _ => None,
        };
        let policy = self.policy(forge.as_ref(), &loaded.repo).await;
        if let Err(reason) = &policy {
            tracing::warn!(run = loaded.run.id, %reason,
                "the run ended but the repository's policy cannot be read; no labels, and the next tasks start with the next approval event");
        }
        let mut tx = ctx.store().begin().await?;
        let mut writes = self
            .end_with_pull(
                &mut tx,
                &loaded,
                RunState::Running,
                outcome,
                pull.clone(),
                ctx.now_ms(),
            )
            .await?;
        if let Ok(policy) = &policy {
            let advanced = runs::advance(
                &mut tx,
                &loaded.spec_row,
                &loaded.spec,
                &AdvanceContext {
                    goal_number: loaded.goal.number,
                    policy,
                    requester: &loaded.run.requester,
                    now: ctx.now_ms(),
                },
            )
            .await?;
            if !advanced.started.is_empty() {
                tracing::info!(started = ?advanced.started, "a run ended; started the next ready tasks");
            }
            if let Some((number, _)) = &pull
                && !policy.pull_requests.labels.is_empty()
            {
                writes.push(ForgeWrite::Label {
                    repo: loaded.repo.clone(),
                    number: *number,
                    labels: policy.pull_requests.labels.clone(),
                });
            }
        }
        writes
            .push(runs::goal_comment(&mut tx, &loaded.repo, &loaded.spec_row, &loaded.spec).await?);
        enqueue_writes(
            &mut tx,
            loaded.forge,
            &writes,
            self.write_attempts,
            ctx.now_ms(),
        )
        .await?;
        ctx.finish(tx).await
    }

    /// Whether `/ade cancel` flagged the run (a run cancelled as it pushed opens no approval).
    async fn cancelled(&self, ctx: &JobContext, run: i64) -> bool {
        match ctx.store().reader().await {
            Ok(mut conn) => store::cancel_requested(&mut conn, run)
                .await
                .unwrap_or(false),
            Err(_) => false,
        }
    }

    async fn policy(
        &self,
        forge: &dyn Forge,
        repo: &RepoRef,
    ) -> Result<Arc<crate::policy::EffectivePolicy>, String> {
        match self.policies.load(forge, repo).await {
            Ok((_, Ok(policy))) => Ok(policy),
            Ok((head, Err(problems))) => Err(format!(
                "the repository's policy on {} is not valid ({} problems)",
                head.name,
                problems.len()
            )),
            Err(e) => Err(format!("the policy could not be read: {e}")),
        }
    }

    /// Builds what the runner needs; an error is the reason the run fails.
    async fn order(
        &self,
        ctx: &JobContext,
        forge: &dyn Forge,
        l: &StoredRun,
    ) -> Result<RunOrder, String> {
        let policy = self.policy(forge, &l.repo).await?;
        let task = l
            .spec
            .tasks
            .iter()
            .find(|t| t.id.as_str() == l.task.task_id)
            .ok_or_else(|| format!("task {} is not in the spec", l.task.task_id))?
            .clone();
        let base_sha = if task.depends_on.is_empty() {
            l.run.base_sha.clone()
        } else {
            let head = forge
                .default_branch(&l.repo)
                .await
                .map_err(|e| format!("the default branch could not be read: {e}"))?;
            let mut tx = ctx
                .store()
                .begin()
                .await
                .map_err(|e| format!("store: {e}"))?;
            store::set_run_base(&mut tx, l.run.id, &head.sha)
                .await
                .map_err(|e| format!("store: {e}"))?;
            tx.commit().await.map_err(|e| format!("store: {e}"))?;
            head.sha
        };
        let credential = forge
            .clone_credential(&l.repo)
            .await
            .map_err(|e| format!("no git credential from the forge: {e}"))?;
        let mut dependencies = Vec::new();
        {
            let mut conn = ctx
                .store()
                .reader()
                .await
                .map_err(|e| format!("store: {e}"))?;
            let rows = store::tasks_of(&mut conn, l.task.spec)
                .await
                .map_err(|e| format!("store: {e}"))?;
            for dep in &task.depends_on {
                if let (Some(row), Some(spec_task)) = (
                    rows.iter().find(|r| r.task_id == dep.as_str()),
                    l.spec.task(dep),
                ) {
                    let summary = store::runs_of_task(&mut conn, row.id)
                        .await
                        .map_err(|e| format!("store: {e}"))?
                        .into_iter()
                        .find(|run| run.state == RunState::Succeeded.as_str())
                        .and_then(|run| run.report)
                        .and_then(|report| serde_json::from_str::<RunOutcome>(&report).ok())
                        .map(|outcome| outcome.report().summary.join("\n"))
                        .unwrap_or_default();
                    dependencies.push(DependencyResult {
                        task_id: row.task_id.clone(),
                        title: spec_task.title.clone(),
                        pull_number: row.pull_number,
                        head_sha: row.head_sha.clone(),
                        summary,
                    });
                }
            }
        }
        let expected_branch_head = if l.task.branch.as_deref() == Some(l.run.branch.as_str()) {
            l.task.head_sha.clone()
        } else {
            None
        };
        Ok(RunOrder {
            run_id: l.run.id,
            attempt: l.run.attempt,
            forge: l.forge,
            repository: l.goal.repository.clone(),
            goal_number: l.goal.number,
            goal_title: l.goal.title.clone(),
            goal_body: l.goal.body.clone(),
            spec_reference: l.spec.reference(),
            goal_reference: l.spec.goal.to_string(),
            spec_version: l.spec.version,
            task,
            dependencies,
            agent: l.run.agent.clone(),
            execution: policy.execution.clone(),
            base_sha,
            branch: l.run.branch.clone(),
            expected_branch_head,
            requester: l.run.requester.clone(),
            feedback: l.run.feedback.clone(),
            protected_paths: policy.protected_paths.clone(),
            dlp_rules: policy.dlp_rules.clone(),
            credential,
        })
    }

    /// Runs the order, cancelling it when `/ade cancel` sets the run's flag.
    async fn execute(&self, ctx: &JobContext, order: RunOrder) -> RunOutcome {
        let cancel = CancellationToken::new();
        let watcher = {
            let cancel = cancel.clone();
            let store = ctx.store().clone();
            let run = order.run_id;
            let poll = self.cancel_poll;
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(poll).await;
                    let Ok(mut conn) = store.reader().await else {
                        continue;
                    };
                    if store::cancel_requested(&mut conn, run)
                        .await
                        .unwrap_or(false)
                    {
                        tracing::info!(run, "cancel requested; stopping the run");
                        cancel.cancel();
                        return;
                    }
                }
            })
        };
        let outcome = self.runner.execute(order, cancel).await;
        watcher.abort();
        outcome
    }

    /// Opens the task's approval, or updates it when an earlier run of the task opened one.
    async fn open_approval(
        &self,
        forge: &dyn Forge,
        l: &StoredRun,
        head_sha: &str,
        report: &RunReport,
    ) -> Result<(i64, String), JobError> {
        let body = approval_body(l, report)?;
        let title = format!(
            "{} (#{} {})",
            l.spec
                .task(&crate::spec::TaskId::parse(&l.task.task_id).map_err(JobError::Permanent)?)
                .map(|t| t.title.clone())
                .unwrap_or_default(),
            l.goal.number,
            l.task.task_id
        );
        let existing = match l.task.pull_number {
            Some(number) if l.task.branch.as_deref() == Some(l.run.branch.as_str()) => Some(number),
            _ => forge
                .find_pull_request(&l.repo, &l.run.branch)
                .await
                .map_err(classify)?
                .map(|pull| pull.number),
        };
        if let Some(number) = existing {
            let pull = forge
                .update_pull_request(
                    &l.repo,
                    number,
                    &PullRequestUpdate {
                        title: Some(title),
                        body: Some(body),
                        open: Some(true),
                    },
                )
                .await
                .map_err(classify)?;
            return Ok((pull.number, head_sha.to_string()));
        }
        let (base, _) = match forge.default_branch(&l.repo).await {
            Ok(head) => (head.name, head.sha),
            Err(e) => return Err(classify(e)),
        };
        let pull = forge
            .create_pull_request(
                &l.repo,
                &NewPullRequest {
                    title,
                    body,
                    head: l.run.branch.clone(),
                    base,
                    draft: false,
                },
            )
            .await
            .map_err(classify)?;
        tracing::info!(run = l.run.id, pull = pull.number, "approval opened");
        Ok((pull.number, head_sha.to_string()))
    }

    /// Records how a run ended (no approval).
    async fn end(
        &self,
        tx: &mut Conn,
        l: &StoredRun,
        from: RunState,
        outcome: RunOutcome,
        now: i64,
    ) -> Result<Vec<ForgeWrite>, JobError> {
        self.end_with_pull(tx, l, from, outcome, None, now).await
    }

    /// Records how a run ended, with the approval it opened if it pushed; returns the comments to
    /// write about it.
    async fn end_with_pull(
        &self,
        tx: &mut Conn,
        l: &StoredRun,
        from: RunState,
        outcome: RunOutcome,
        pull: Option<(i64, String)>,
        now: i64,
    ) -> Result<Vec<ForgeWrite>, JobError> {
        let report = serde_json::to_string(&outcome).expect("serializes");
        let mut writes = Vec::new();
        let task_state = TaskState::parse(&l.task.state);
        let (state, reason, head, headline) = match (&outcome, &pull) {
            (RunOutcome::Pushed { head_sha, .. }, Some((number, _))) => {
                store::set_approval(tx, l.task.id, &l.run.branch, *number, head_sha).await?;
                store::move_task(
                    tx,
                    l.task.id,
                    TaskState::Running.as_str(),
                    TaskState::Approval.as_str(),
                    now,
                )
                .await?;
                (RunState::Succeeded, None, Some(head_sha.clone()), None)
            }
            (RunOutcome::Cancelled { .. }, _) => {
                if task_state == Some(TaskState::Running) {
                    store::move_task(
                        tx,
                        l.task.id,
                        TaskState::Running.as_str(),
                        TaskState::Cancelled.as_str(),
                        now,
                    )
                    .await?;
                }
                (
                    RunState::Cancelled,
                    Some("cancelled".to_string()),
                    None,
                    Some(format!(
                        "run {} of task {} was cancelled.",
                        l.run.id,
                        markdown::code_span(&l.task.task_id)
                    )),
                )
            }
            (other, _) => {
                let reason = match other {
                    RunOutcome::NoChanges { .. } => "no changes: the agent changed nothing".into(),
                    RunOutcome::Blocked { reason, .. } => reason.clone(),
                    RunOutcome::Failed { reason, .. } => reason.clone(),
                    _ => "the run pushed, but no approval was recorded".into(),
                };
                store::move_task(
                    tx,
                    l.task.id,
                    TaskState::Running.as_str(),
                    TaskState::Failed.as_str(),
                    now,
                )
                .await?;
                let headline = format!(
                    "run {} of task {} failed: {}",
                    l.run.id,
                    markdown::code_span(&l.task.task_id),
                    reason
                );
                (RunState::Failed, Some(reason), None, Some(headline))
            }
        };
        store::finish_run(
            tx,
            l.run.id,
            from.as_str(),
            &RunEnd {
                state: state.as_str(),
                head_sha: head.as_deref(),
                reason: reason.as_deref(),
                report: Some(&report),
            },
            now,
        )
        .await?;
        tracing::info!(run = l.run.id, %state, reason = reason.as_deref().unwrap_or(""), "run ended");
        if let Some(headline) = headline {
            let report = outcome.report();
            let mut details: Vec<String> =
                report.flagged.iter().map(|f| markdown::inline(f)).collect();
            details.extend(report.confinement.iter().map(|c| markdown::inline(c)));
            if !report.agent_exit.is_empty() {
                details.push(format!("agent: {}", markdown::inline(&report.agent_exit)));
            }
            let body = render::reply(&ReplyView {
                headline,
                details,
                ..ReplyView::default()
            })
            .map_err(JobError::Permanent)?;
            writes.push(ForgeWrite::Comment {
                repo: l.repo.clone(),
                number: l.goal.number,
                marker: format!("run:{}", l.run.id),
                body,
            });
        }
        Ok(writes)
    }
}

/// The approval's body.
fn approval_body(l: &StoredRun, report: &RunReport) -> Result<String, JobError> {
    let task = l
        .spec
        .tasks
        .iter()
        .find(|t| t.id.as_str() == l.task.task_id)
        .ok_or_else(|| {
            JobError::Permanent(format!("task {} is not in the spec", l.task.task_id))
        })?;
    let view = ApprovalView {
        task: TaskView {
            id: task.id.to_string(),
            title: task.title.clone(),
            instructions: task
                .instructions
                .lines()
                .filter(|line| !line.trim().is_empty())
                .map(str::to_string)
                .collect(),
            acceptance: task.acceptance.clone(),
            depends_on: task.depends_on.iter().map(ToString::to_string).collect(),
            paths: task.paths.clone(),
            state: None,
            pull_number: None,
        },
        goal_number: l.goal.number,
        spec_version: l.spec_row.version,
        spec_reference: l.spec.reference(),
        spec_hash: l.spec_row.content_hash.chars().take(12).collect(),
        requester: l.run.requester.clone(),
        agent: l.run.agent.clone(),
        environment: if report.environment.is_empty() {
            l.run.environment.clone()
        } else {
            report.environment.clone()
        },
        attempt: l.run.attempt,
        run_id: l.run.id.to_string(),
        runner: report.runner.clone(),
        base_commit: l.run.base_sha.chars().take(12).collect(),
        files_changed: report.files_changed,
        insertions: report.insertions,
        deletions: report.deletions,
        duration: human_duration(report.agent_ms),
        summary: report.summary.clone(),
        agent_config_changes: report.agent_config_changes.clone(),
        flagged: report.flagged.clone(),
    };
    render::approval(&view).map_err(JobError::Permanent)
}

/// `3m 12s`, `45s`, `1h 2m`.
fn human_duration(ms: u64) -> String {
    let secs = ms / 1000;
    match secs {
        0..60 => format!("{secs}s"),
        60..3600 => format!("{}m {}s", secs / 60, secs % 60),
        _ => format!("{}h {}m", secs / 3600, (secs % 3600) / 60),
    }
}

impl JobHandler for RunHandler {
    fn run<'a>(&'a self, ctx: &'a JobContext) -> BoxFuture<'a, Result<(), JobError>> {
        debug_assert_eq!(ctx.job.kind, RUN_JOB);
        Box::pin(self.handle(ctx))
    }

    /// A run whose job failed for good (its runner lost on every attempt, or an error nothing
    /// could retry) fails visibly: the run and its task are marked failed and the goal is told.
    fn discarded<'a>(
        &'a self,
        job: &'a ClaimedJob,
        conn: &'a mut Conn,
        error: &'a str,
        now: i64,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            let Ok(payload) = serde_json::from_str::<RunJob>(&job.payload) else {
                return Ok(());
            };
            let Ok(l) = load(conn, payload.run).await else {
                return Ok(());
            };
            let Some(state) = RunState::parse(&l.run.state) else {
                return Ok(());
            };
            if state.is_final() {
                return Ok(());
            }
            let reason = format!("the run could not be completed: {error}");
            let outcome = RunOutcome::Failed {
                reason,
                retryable: false,
                report: RunReport::default(),
            };
            let writes = match self.end(conn, &l, state, outcome, now).await {
                Ok(writes) => writes,
                Err(e) => {
                    tracing::error!(run = l.run.id, error = %e, "could not record a failed run");
                    return Ok(());
                }
            };
            let mut writes = writes;
            if parse_state(&l.spec_row.state).ok() == Some(SpecState::Active)
                && let Ok(comment) = runs::goal_comment(conn, &l.repo, &l.spec_row, &l.spec).await
            {
                writes.push(comment);
            }
            if let Err(e) = enqueue_writes(conn, l.forge, &writes, self.write_attempts, now).await {
                tracing::error!(run = l.run.id, error = %e, "could not tell the goal a run failed");
            }
            Ok(())
        })
    }
}
