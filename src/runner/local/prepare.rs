//! Phase 1, prepare: the agent and its environment are chosen, the repository's mirror has the
//! base commit, a pooled worktree (or the main checkout) is checked out at it, the prompt and task
//! files are written, and the worktree is handed to the agent user. The run log's first lines say
//! how long each part took.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use super::{LocalRunner, Next, Stop, folder};
use crate::policy::{AgentPolicy, AgentSet, EffectivePolicy, Environment, ExecutionPolicy};
use crate::runner::agent::{RunPaths, SecretSource, Selection};
use crate::runner::commit::WorktreePaths;
use crate::runner::env;
use crate::runner::env::{Invocation, PathAccess, PathGrant};
use crate::runner::mirror::Mirror;
use crate::runner::order::{RunOrder, RunOutcome, RunReport};
use crate::runner::workspace::{self, MainLease, WorktreeLease};
use crate::secret::Secret;
use crate::secrets::{RunReader, SecretError};

/// A run ready for its agent.
pub(super) struct Prepared {
    /// The policy the guard checks the change against (the order's rules).
    pub policy: EffectivePolicy,
    /// The agent and environment chosen.
    pub selection: Selection,
    /// The repository's mirror.
    pub mirror: Arc<Mirror>,
    /// The worktree (or main checkout) and its admin folder.
    pub worktree: WorktreePaths,
    /// What holds the worktree for this run; released when dropped.
    pub lease: Lease,
    /// The run's scratch folder (prompt, task and output files, HOME).
    pub scratch: PathBuf,
    /// The run log.
    pub log: PathBuf,
    /// How the agent is started.
    pub invocation: Invocation,
}

/// Prepares `order`'s run; a cancel that arrives meanwhile ends it before the agent starts.
pub(super) async fn prepare(
    runner: &LocalRunner,
    order: &RunOrder,
    cancel: &CancellationToken,
    report: &mut RunReport,
) -> Result<Next<Prepared>, Stop> {
    let policy = order_policy(order);
    let mut selection: Selection = runner
        .registry
        .select(&policy, Some(&order.agent), order.task.environment)
        .map_err(|refusal| Stop::agent(refusal.to_string()))?;
    report.environment = selection.environment.as_str().to_string();
    let run_dir = runner.run_dir(order.run_id);
    let log = folder::run_log(&run_dir, order.attempt);
    selection.stored = stored_secrets(runner, order, &selection, &log, report).await?;
    let started = Instant::now();
    let mirror = runner
        .mirror_at(
            order.forge,
            &order.repository,
            &order.credential,
            &order.base_sha,
            "the base commit",
        )
        .await?;
    let agents_md = mirror
        .read_file_at(&order.base_sha, "AGENTS.md")
        .await
        .ok()
        .flatten()
        .map(|bytes| String::from_utf8_lossy(&bytes).into_owned());
    let base_ready = started.elapsed();
    let pool = runner.pool(&mirror).await?;
    let scratch = folder::scratch(&run_dir, order.attempt);
    remove_if_present(&scratch).map_err(Stop::fault)?;
    LocalRunner::create_run_folder(&scratch)?;
    report.log = Some(log.display().to_string());
    let inputs = runner.inputs(order, agents_md);
    let (worktree, mut lease) = match selection.environment {
        Environment::Main => {
            let lease = pool
                .acquire_main(&order.base_sha)
                .await
                .map_err(|e| Stop::fault(format!("the main checkout: {e}")))?;
            (paths(lease.git_dir(), lease.path()), Lease::Main(lease))
        }
        _ => {
            let lease = pool
                .acquire(&order.base_sha)
                .await
                .map_err(|e| Stop::fault(format!("no worktree: {e}")))?;
            (paths(lease.git_dir(), lease.path()), Lease::Worktree(lease))
        }
    };
    let worktree_ready = started.elapsed();
    let mut invocation = runner
        .registry
        .prepare(
            &selection,
            &inputs,
            &RunPaths {
                worktree: worktree.work_tree.clone(),
                scratch: scratch.clone(),
                log: log.clone(),
            },
        )
        .map_err(|e| Stop::agent(format!("the agent could not be prepared: {e}")))?;
    invocation.extra_paths.push(PathGrant {
        path: mirror.git_dir().to_path_buf(),
        access: PathAccess::Read,
    });
    invocation.timeout = selection.timeout.min(Duration::from_secs(
        order.execution.timeout.as_secs().max(1),
    ));
    if cancel.is_cancelled() {
        return Ok(Next::End(RunOutcome::Cancelled {
            report: report.clone(),
        }));
    }
    if let Some(user) = runner.env.agent_user {
        lease
            .hand_to(user.uid, user.gid)
            .await
            .map_err(|e| Stop::fault(format!("hand the worktree to the agent user: {e}")))?;
        workspace::chown_tree(&scratch, user.uid, user.gid, None).map_err(|e| {
            Stop::fault(format!("give {} to the agent user: {e}", scratch.display()))
        })?;
    }
    let handed = started.elapsed();
    let ms = |d: Duration| d.as_millis();
    if let Lease::Worktree(lease) = &lease {
        let (how, waited) = lease.prepared();
        invocation.preparation.push(format!(
            "worktree {}: {}, after waiting {} ms for a free one",
            lease.name(),
            how.as_str(),
            ms(waited)
        ));
    }
    invocation.preparation.push(format!(
        "prepared in {} ms: base commit {} ms, worktree {} ms, prompt and hand-over {} ms",
        ms(handed),
        ms(base_ready),
        ms(worktree_ready - base_ready),
        ms(handed - worktree_ready)
    ));
    tracing::info!(run = order.run_id, agent = %order.agent, environment = selection.environment.as_str(),
        prepare_ms = handed.as_millis() as u64, "agent started");
    Ok(Next::Go(Prepared {
        policy,
        selection,
        mirror,
        worktree,
        lease,
        scratch,
        log,
        invocation,
    }))
}

/// The values of the stored secrets the agent's registration names, read from the secret store
/// now, as the run starts (so `ade secrets set` takes effect without a restart). One that is
/// missing or does not open holds the run, which waits for the operator (a setup problem, not
/// the task's), with a reason naming the secret, in the run's log too; never its value.
async fn stored_secrets(
    runner: &LocalRunner,
    order: &RunOrder,
    selection: &Selection,
    log: &Path,
    report: &mut RunReport,
) -> Result<Vec<(String, Secret)>, Stop> {
    let agent = &selection.agent;
    let mut values = Vec::new();
    for secret in &agent.secrets {
        let SecretSource::Store(stored) = &secret.source else {
            continue;
        };
        if values.iter().any(|(name, _)| name == stored) {
            continue;
        }
        let reader = RunReader {
            run: order.run_id,
            agent: &agent.name,
            variable: &secret.name,
        };
        let read = match &runner.secrets {
            Some(secrets) => secrets.read_for_run(stored, reader).await,
            None => Err(SecretError::NoStore),
        };
        match read {
            Ok(value) => values.push((stored.clone(), value)),
            Err(error) => {
                let reason = format!(
                    "agent {}: the secret {} its registration names (for {}) cannot be read: {error}",
                    agent.name, stored, secret.name
                );
                LocalRunner::create_run_folder(log.parent().unwrap_or(log))?;
                report.log = Some(log.display().to_string());
                if let Err(e) =
                    env::append_notes(&runner.env.logs, log, std::slice::from_ref(&reason)).await
                {
                    tracing::warn!(run = order.run_id, error = %e, "could not write the run log");
                }
                return Err(Stop::setup(reason));
            }
        }
    }
    Ok(values)
}

/// The order's rules as a policy the agent registry and the guard read: any registered agent the
/// coordinator named may run (it checked the repository's policy already).
fn order_policy(order: &RunOrder) -> EffectivePolicy {
    named_agent_policy(&order.execution, order.protected_paths.clone())
}

/// A policy of `execution`'s rules and `protected_paths` under which any registered agent may
/// run: what the runner checks an agent the coordinator already chose against.
pub(super) fn named_agent_policy(
    execution: &ExecutionPolicy,
    protected_paths: Vec<String>,
) -> EffectivePolicy {
    let defaults = EffectivePolicy::default();
    EffectivePolicy {
        protected_paths,
        execution: execution.clone(),
        agents: AgentPolicy {
            allowed: AgentSet::Any,
            ..defaults.agents.clone()
        },
        ..defaults
    }
}

fn paths(git_dir: &Path, work_tree: &Path) -> WorktreePaths {
    WorktreePaths {
        git_dir: git_dir.to_path_buf(),
        work_tree: work_tree.to_path_buf(),
    }
}

/// Most passes made to stop what the agent user left running.
const STOP_PASSES: usize = 5;

/// A worktree or the main checkout, held for one run.
pub(super) enum Lease {
    Worktree(WorktreeLease),
    Main(MainLease),
}

impl Lease {
    /// Gives the worktree to the agent user for the agent (or a verification step).
    pub async fn hand_to(&mut self, uid: u32, gid: u32) -> anyhow::Result<()> {
        match self {
            Lease::Worktree(l) => l.hand_to(uid, gid).await.map_err(Into::into),
            Lease::Main(l) => l.hand_to(uid, gid).await.map_err(Into::into),
        }
    }

    /// Closes the worktree to the agent user `uid` before ade's own git commands, and stops every
    /// process of that user still in `folders`, pass after pass until none is left (a process
    /// may fork while a pass reads `/proc`). A pooled worktree is sealed first, so nothing can
    /// reach in by its path meanwhile, and its files stay with the user (nothing is walked on the
    /// run's path); the main checkout, which keeps its files from run to run, is taken back once
    /// its processes are gone. Returns the processes stopped.
    pub async fn close(&mut self, uid: u32, folders: &[&Path]) -> anyhow::Result<Vec<u32>> {
        if let Lease::Worktree(l) = self {
            l.seal().await?;
        }
        let mut stopped = Vec::new();
        for _ in 0..STOP_PASSES {
            let pass = crate::runner::env::stop_leftovers(uid, folders);
            if pass.is_empty() {
                break;
            }
            stopped.extend(pass);
        }
        if let Lease::Main(l) = self {
            l.take_back().await?;
        }
        Ok(stopped)
    }
}

/// Removes a folder of an earlier attempt (never following links out of it).
pub(super) fn remove_if_present(path: &Path) -> Result<(), String> {
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.is_dir() => {
            std::fs::remove_dir_all(path).map_err(|e| format!("remove {}: {e}", path.display()))
        }
        Ok(_) => std::fs::remove_file(path).map_err(|e| format!("remove {}: {e}", path.display())),
        Err(_) => Ok(()),
    }
}
