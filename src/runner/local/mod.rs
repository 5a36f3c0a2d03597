//! The embedded runner: carries out runs in this process, each in phases, one file each:
//! [`prepare`] (mirror, worktree, prompt, hand-over), [`agent`], [`check`] (the run commit, the
//! guard and DLP), [`publish`] (the leased push; the coordinator opens the approval as a draft)
//! and [`verify`] (the policy's steps in the run's worktree). Every phase's failure ends the run
//! with a reason; nothing is pushed unless every check passed. The push comes before verification
//! because a check can only be reported on a commit the forge has. A planner agent's run is a
//! phase of its own, [`plan`]: a read-only worktree, the goal, and the plan file read back.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use tokio_util::sync::CancellationToken;

mod agent;
mod check;
mod folder;
mod plan;
mod prepare;
mod publish;
mod verify;

use super::RunnerConfig;
use super::agent::{Agent, SecretSource};
use super::agent::{AgentRegistry, Dependency, RunInputs};
use super::commit::Identity;
use super::env::EnvOptions;
use super::git::Git;
use super::mirror::{Mirror, Mirrors};
use super::order::{
    Fault, Forget, Forgotten, PlanOrder, PlanOutcome, RunOrder, RunOutcome, RunProgress, RunReport,
    Runner, VerifyOrder, VerifyOutcome, WarmOrder,
};
use super::workspace::{PoolConfig, WorktreePool};
use crate::forge::{CloneCredential, ForgeKind};
use crate::policy::{DataClass, ServerPolicy};
use crate::secrets::{LogFiles, SecretStore};

/// The runner embedded in `ade serve`.
pub struct LocalRunner {
    name: String,
    registry: AgentRegistry,
    /// Where the agents' stored secrets are read for each run, once the database is open.
    secrets: Option<SecretStore>,
    mirrors: Mirrors,
    pools: tokio::sync::Mutex<HashMap<PathBuf, Arc<WorktreePool>>>,
    env: EnvOptions,
    workdir: PathBuf,
    pool_config: PoolConfig,
    bot: Identity,
    /// Per run, held shared by whatever of it is in flight here (the run, a verification) and
    /// exclusively while retention deletes its folder, so nothing is deleted from under it.
    in_flight: std::sync::Mutex<HashMap<i64, Arc<tokio::sync::RwLock<()>>>>,
}

/// What a phase hands the next: go on with its result, or end the run with this outcome.
#[allow(
    clippy::large_enum_variant,
    reason = "one value per phase of a run; boxing the outcome would buy nothing"
)]
enum Next<T> {
    Go(T),
    End(RunOutcome),
}

/// Why a phase failed: the reason shown, and whose fault it was.
struct Stop {
    reason: String,
    fault: Fault,
}

impl Stop {
    fn fault(reason: impl Into<String>) -> Stop {
        Stop {
            reason: reason.into(),
            fault: Fault::Runner,
        }
    }

    fn agent(reason: impl Into<String>) -> Stop {
        Stop {
            reason: reason.into(),
            fault: Fault::Run,
        }
    }

    fn setup(reason: impl Into<String>) -> Stop {
        Stop {
            reason: reason.into(),
            fault: Fault::Setup,
        }
    }
}

impl LocalRunner {
    /// The runner of the server's `agents` (their pinned versions checked now) with `runner`'s
    /// workdir and ways of starting agents, under `policy`, writing run logs as `logs` says.
    /// Refuses to start on any problem, naming it. It touches no database: the secret store is
    /// given afterwards ([`LocalRunner::use_secret_store`]).
    pub async fn start(
        agents: &[Agent],
        runner: &RunnerConfig,
        policy: &ServerPolicy,
        logs: LogFiles,
    ) -> anyhow::Result<LocalRunner> {
        let registry = AgentRegistry::start(agents, runner, policy).await?;
        let agent_user = registry.agent_user()?;
        let runner = registry.runner().clone();
        let workdir = runner.workdir.clone();
        {
            // Others, the agent user among them, may pass through to what is theirs below it,
            // but not list it.
            use std::os::unix::fs::DirBuilderExt;
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o711)
                .create(&workdir)
                .with_context(|| format!("create the runner workdir {}", workdir.display()))?;
        }
        if let Some(user) = agent_user {
            crate::runner::workspace::stop_left_running(&workdir.join("worktrees"), user.uid);
        }
        let git = Git::new(&runner.git, workdir.join(".empty"))
            .context("prepare the runner's empty folder")?;
        let env = EnvOptions {
            agent_user,
            runtime: runner.container_runtime,
            memory_max: runner.memory_max,
            pids_max: runner.pids_max,
            logs,
            ..EnvOptions::default()
        };
        let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "localhost".into());
        Ok(LocalRunner {
            name: format!(
                "embedded@{host}-{}-{:04x}",
                std::process::id(),
                fastrand::u16(..)
            ),
            mirrors: Mirrors::new(git, workdir.join("mirrors")),
            pools: Default::default(),
            env,
            pool_config: PoolConfig {
                warm: 1,
                max: runner.max_parallel + 1,
                hand_ahead: agent_user.map(|user| (user.uid, user.gid)),
            },
            workdir,
            registry,
            secrets: None,
            bot: Identity {
                name: "ade".into(),
                email: "ade@localhost".into(),
            },
            in_flight: std::sync::Mutex::default(),
        })
    }

    /// Reads the agents' stored secrets from `secrets` for each run, once every stored secret
    /// an agent's registration names is there; refuses, naming the agent, the variable and the
    /// secret, when one is not.
    pub async fn use_secret_store(&mut self, secrets: SecretStore) -> anyhow::Result<()> {
        for agent in self.registry.iter() {
            for secret in &agent.secrets {
                if let SecretSource::Store(stored) = &secret.source
                    && !secrets.missing(&[stored.as_str()]).await?.is_empty()
                {
                    anyhow::bail!(
                        "agent {}: secrets.{} names the stored secret {stored}, which is not in ade's secret store: set it with `ade secrets set {stored}` (docs/secrets.md)",
                        agent.name,
                        secret.name
                    );
                }
            }
        }
        self.secrets = Some(secrets);
        Ok(())
    }

    /// Runs this runner carries out at once.
    pub fn max_parallel(&self) -> usize {
        self.registry.runner().max_parallel
    }

    /// The mirror of `repository` with `commit` fetched into it; `named` is how an error names
    /// the commit.
    async fn mirror_at(
        &self,
        forge: ForgeKind,
        repository: &str,
        credential: &CloneCredential,
        commit: &str,
        named: &str,
    ) -> Result<Arc<Mirror>, Stop> {
        let mirror = self
            .mirrors
            .get(forge.as_str(), repository)
            .await
            .map_err(|e| Stop::agent(e.to_string()))?;
        mirror
            .fetch(credential, &[commit.to_owned()])
            .await
            .map_err(|e| Stop::fault(format!("fetching {named} failed: {e}")))?;
        Ok(mirror)
    }

    async fn pool(&self, mirror: &Mirror) -> Result<Arc<WorktreePool>, Stop> {
        let mut pools = self.pools.lock().await;
        if let Some(pool) = pools.get(mirror.git_dir()) {
            return Ok(pool.clone());
        }
        let key = mirror
            .git_dir()
            .strip_prefix(self.workdir.join("mirrors"))
            .unwrap_or(mirror.git_dir())
            .to_path_buf();
        let root = self.workdir.join("worktrees").join(key);
        let pool = WorktreePool::open(
            mirror.git().clone(),
            mirror.git_dir(),
            &root,
            self.pool_config,
        )
        .await
        .map_err(|e| Stop::fault(format!("the worktree pool could not be opened: {e}")))?;
        let pool = Arc::new(pool);
        pools.insert(mirror.git_dir().to_path_buf(), pool.clone());
        Ok(pool)
    }

    /// The run's phases in order; each may end the run early with its outcome.
    async fn carry_out(
        &self,
        order: &RunOrder,
        cancel: &CancellationToken,
        progress: &dyn RunProgress,
        report: &mut RunReport,
    ) -> Result<RunOutcome, Stop> {
        let mut run = match prepare::prepare(self, order, cancel, report).await? {
            Next::Go(run) => run,
            Next::End(outcome) => return Ok(outcome),
        };
        let started = Instant::now();
        if let Next::End(outcome) = agent::run(self, order, &mut run, cancel, report).await? {
            return Ok(outcome);
        }
        let agent_done = started.elapsed();
        let head = match check::check(&self.bot, order, &run, report).await? {
            Next::Go(head) => head,
            Next::End(outcome) => return Ok(outcome),
        };
        let checked = started.elapsed();
        if cancel.is_cancelled() {
            return Ok(RunOutcome::Cancelled {
                report: report.clone(),
            });
        }
        let head = publish::push(order, &run, head, progress).await?;
        let pushed = started.elapsed();
        let superseded = progress.published(&head, report).await;
        let published = started.elapsed();
        let stop = CancellationToken::new();
        let verification = {
            let (cancel, superseded, fire) = (cancel.clone(), superseded.clone(), stop.clone());
            let watch = tokio::spawn(async move {
                tokio::select! {
                    () = cancel.cancelled() => {}
                    () = superseded.cancelled() => {}
                }
                fire.cancel();
            });
            let report = verify::verify(self, order, &mut run, &head, stop).await;
            watch.abort();
            report
        };
        let verified = started.elapsed();
        let ms = |d: Duration| d.as_millis();
        let after_agent = format!(
            "after the agent in {} ms: closing the worktree {} ms, commit and checks {} ms, push {} ms, approval {} ms, verification {} ms (steps {} ms)",
            ms(verified - Duration::from_millis(report.agent_ms).min(agent_done)),
            ms(agent_done.saturating_sub(Duration::from_millis(report.agent_ms))),
            ms(checked - agent_done),
            ms(pushed - checked),
            ms(published - pushed),
            ms(verified - published),
            verification
                .steps
                .iter()
                .map(|s| s.duration_ms)
                .sum::<u64>()
        );
        if let Err(e) =
            crate::runner::env::append_notes(&self.env.logs, &run.log, &[after_agent]).await
        {
            tracing::warn!(run = order.run_id, error = %e, "could not write the run log");
        }
        tracing::info!(
            run = order.run_id,
            verdict = verification.verdict.as_str(),
            "verified"
        );
        let verification_log = (!order.verification.is_empty()).then(|| {
            folder::verification_log(&self.run_dir(order.run_id), order.attempt)
                .display()
                .to_string()
        });
        Ok(RunOutcome::Pushed {
            head_sha: head,
            report: report.clone(),
            verification,
            verification_log,
        })
    }

    /// The lock of run `run_id`'s folder ([`LocalRunner::in_flight`]).
    fn folder_lock(&self, run_id: i64) -> Arc<tokio::sync::RwLock<()>> {
        let mut locks = self.in_flight.lock().unwrap_or_else(|e| e.into_inner());
        locks.retain(|_, lock| Arc::strong_count(lock) > 1);
        locks.entry(run_id).or_default().clone()
    }

    /// Holds run `run_id`'s folder shared while something of the run is in flight.
    async fn use_folder(&self, run_id: i64) -> tokio::sync::OwnedRwLockReadGuard<()> {
        self.folder_lock(run_id).read_owned().await
    }

    /// The folder of run `run_id`'s logs and scratch folders.
    fn run_dir(&self, run_id: i64) -> PathBuf {
        self.workdir.join("runs").join(run_id.to_string())
    }

    /// The folder of planner run `plan_id`'s log and scratch folder.
    fn plan_dir(&self, plan_id: i64) -> PathBuf {
        self.workdir.join("plans").join(plan_id.to_string())
    }

    /// Creates `folder` (a run's scratch folder) and the run folders above it that are missing:
    /// others may pass through them to the scratch folder handed to the agent user, but not list
    /// them, so run logs beside it stay ade's alone.
    fn create_run_folder(folder: &std::path::Path) -> Result<(), Stop> {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o711)
            .create(folder)
            .map_err(|e| Stop::fault(format!("create {}: {e}", folder.display())))
    }

    fn inputs(&self, order: &RunOrder, agents_md: Option<String>) -> RunInputs {
        RunInputs {
            run_id: order.run_id.to_string(),
            attempt: order.attempt as u32,
            repository: order.repository.clone(),
            goal_number: order.goal_number as u64,
            goal_title: order.goal_title.clone(),
            goal_body: order.goal_body.clone(),
            spec_version: order.spec_version,
            task_id: order.task.id.to_string(),
            task_title: order.task.title.clone(),
            instructions: order.task.instructions.clone(),
            acceptance: order.task.acceptance.clone(),
            paths: order.task.paths.clone(),
            dependencies: order
                .dependencies
                .iter()
                .map(|d| Dependency {
                    task_id: d.task_id.clone(),
                    title: d.title.clone(),
                    pull_request: d.pull_number.map(|n| n as u64),
                    summary: d.summary.clone(),
                })
                .collect(),
            agents_md,
            feedback: order.feedback.clone(),
            feedback_from: order.feedback_from,
            protected_paths: order.protected_paths.clone(),
        }
    }
}

#[async_trait::async_trait]
impl Runner for LocalRunner {
    fn name(&self) -> &str {
        &self.name
    }

    async fn warm(&self, order: WarmOrder) -> Result<(), String> {
        let Some(mirror) = self
            .mirrors
            .existing(order.forge.as_str(), &order.repository)
            .await
            .map_err(|e| e.to_string())?
        else {
            return Ok(());
        };
        mirror
            .fetch(&order.credential, std::slice::from_ref(&order.commit))
            .await
            .map_err(|e| format!("fetching {} failed: {e}", order.commit))?;
        let pool = self.pools.lock().await.get(mirror.git_dir()).cloned();
        if let Some(pool) = pool {
            pool.advance(&order.commit)
                .await
                .map_err(|e| format!("bringing a worktree to {}: {e}", order.commit))?;
        }
        Ok(())
    }

    async fn verify(&self, order: VerifyOrder, cancel: CancellationToken) -> VerifyOutcome {
        let _folder = self.use_folder(order.run_id).await;
        verify::verify_again(self, &order, cancel).await
    }

    async fn plan(&self, order: PlanOrder, cancel: CancellationToken) -> PlanOutcome {
        plan::plan(self, &order, &cancel).await
    }

    async fn kept_runs(&self) -> Result<Vec<i64>, String> {
        let runs = self.workdir.join("runs");
        tokio::task::spawn_blocking(move || folder::kept_runs(&runs))
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| format!("list {}: {e}", self.workdir.join("runs").display()))
    }

    async fn forget(
        &self,
        run: i64,
        classes: &[DataClass],
        how: Forget,
    ) -> Result<Forgotten, String> {
        let Ok(_folder) = self.folder_lock(run).try_write_owned() else {
            return Ok(Forgotten::Busy);
        };
        let dir = self.run_dir(run);
        let classes = classes.to_vec();
        let shown = dir.display().to_string();
        tokio::task::spawn_blocking(move || match how {
            Forget::Measure => folder::measure_classes(&dir, &classes),
            Forget::Delete => folder::forget(&dir, &classes),
        })
        .await
        .map_err(|e| e.to_string())?
        .map(Forgotten::Done)
        .map_err(|e| format!("delete from {shown}: {e}"))
    }

    async fn execute(
        &self,
        order: RunOrder,
        cancel: CancellationToken,
        progress: &dyn RunProgress,
    ) -> RunOutcome {
        let mut report = RunReport {
            runner: self.name.clone(),
            ..RunReport::default()
        };
        let _folder = self.use_folder(order.run_id).await;
        match self.carry_out(&order, &cancel, progress, &mut report).await {
            Ok(outcome) => outcome,
            Err(stop) => {
                tracing::warn!(run = order.run_id, reason = %stop.reason, fault = ?stop.fault, "run failed");
                RunOutcome::Failed {
                    reason: stop.reason,
                    fault: stop.fault,
                    report,
                }
            }
        }
    }
}
