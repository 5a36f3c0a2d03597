//! The embedded runner: carries out runs in this process. For one run: the repository's mirror
//! fetches the base commit, the pool hands out a worktree reset to it, the agent runs in its
//! environment, ade commits what it changed, the guard and the DLP scan check the change, and the
//! branch is pushed. Every step's failure ends the run with a reason; nothing is pushed unless
//! every check passed.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context as _;
use tokio_util::sync::CancellationToken;

use super::agent::{AgentRegistry, Dependency, OUTPUT_FILE, RunInputs, RunPaths, Selection};
use super::dlp::{Dlp, DlpReport};
use super::env::{self, Ending, EnvOptions, PathGrant};
use super::git::Git;
use super::guard;
use super::guard::render::visible;
use super::mirror::{Mirror, Mirrors};
use super::order::{RunOrder, RunOutcome, RunReport, Runner, WarmOrder};
use super::publish::{self, CommitRequest, Identity, PushOutcome, WorktreePaths};
use super::workspace::{self, PoolConfig, WorktreePool};
use crate::command::sanitize;
use crate::config::Config;
use crate::forge::ForgeKind;
use crate::policy::{EffectivePolicy, Environment};

/// Lines of the agent's output shown in the approval and in failure reports.
const SUMMARY_LINES: usize = 12;
/// Longest summary line shown.
const SUMMARY_LINE_CHARS: usize = 300;

/// The runner embedded in `ade serve`.
pub struct LocalRunner {
    name: String,
    registry: AgentRegistry,
    mirrors: Mirrors,
    pools: tokio::sync::Mutex<HashMap<PathBuf, Arc<WorktreePool>>>,
    env: EnvOptions,
    workdir: PathBuf,
    pool_config: PoolConfig,
    bot: Identity,
}

/// Why a step failed: the reason shown, and whether another attempt could succeed.
struct Stop {
    reason: String,
    retryable: bool,
}

impl Stop {
    fn fault(reason: impl Into<String>) -> Stop {
        Stop {
            reason: reason.into(),
            retryable: true,
        }
    }

    fn agent(reason: impl Into<String>) -> Stop {
        Stop {
            reason: reason.into(),
            retryable: false,
        }
    }
}

impl LocalRunner {
    /// The runner `config` describes: its agents (their pinned versions checked now), its
    /// workdir, and how agents are started. Refuses to start on any problem, naming it.
    pub async fn start(config: &Config) -> anyhow::Result<LocalRunner> {
        let registry = AgentRegistry::start(config).await?;
        let agent_user = registry.agent_user()?;
        let runner = registry.runner().clone();
        let workdir = runner.workdir.clone();
        std::fs::create_dir_all(&workdir)
            .with_context(|| format!("create the runner workdir {}", workdir.display()))?;
        let git = Git::new(&runner.git, workdir.join(".empty"))
            .context("prepare the runner's empty folder")?;
        let env = EnvOptions {
            agent_user,
            runtime: runner.container_runtime,
            memory_max: runner.memory_max,
            pids_max: runner.pids_max,
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
            bot: Identity {
                name: "ade".into(),
                email: "ade@localhost".into(),
            },
        })
    }

    /// Runs this runner carries out at once.
    pub fn max_parallel(&self) -> usize {
        self.registry.runner().max_parallel
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

    async fn carry_out(
        &self,
        order: &RunOrder,
        cancel: &CancellationToken,
        report: &mut RunReport,
    ) -> Result<RunOutcome, Stop> {
        let defaults = EffectivePolicy::default();
        let policy = EffectivePolicy {
            protected_paths: order.protected_paths.clone(),
            execution: order.execution.clone(),
            agents: crate::policy::AgentPolicy {
                allowed: crate::policy::AgentSet::Any,
                ..defaults.agents.clone()
            },
            ..defaults
        };
        let selection: Selection = self
            .registry
            .select(&policy, Some(&order.agent), order.task.environment)
            .map_err(|refusal| Stop::agent(refusal.to_string()))?;
        report.environment = selection.environment.as_str().to_string();
        let started = std::time::Instant::now();
        let mirror = self
            .mirrors
            .get(order.forge.as_str(), &order.repository)
            .await
            .map_err(|e| Stop::agent(e.to_string()))?;
        mirror
            .fetch(&order.credential, std::slice::from_ref(&order.base_sha))
            .await
            .map_err(|e| Stop::fault(format!("fetching the base commit failed: {e}")))?;
        let agents_md = mirror
            .read_file_at(&order.base_sha, "AGENTS.md")
            .await
            .ok()
            .flatten()
            .map(|bytes| String::from_utf8_lossy(&bytes).into_owned());
        let base_ready = started.elapsed();
        let pool = self.pool(&mirror).await?;
        let run_dir = self.workdir.join("runs").join(order.run_id.to_string());
        let scratch = run_dir.join(format!("attempt-{}", order.attempt));
        remove_if_present(&scratch).map_err(Stop::fault)?;
        std::fs::create_dir_all(&scratch)
            .map_err(|e| Stop::fault(format!("create {}: {e}", scratch.display())))?;
        let log = run_dir.join(format!("attempt-{}.log", order.attempt));
        report.log = Some(log.display().to_string());
        let inputs = self.inputs(order, agents_md);
        let (worktree, mut lease) = match selection.environment {
            Environment::Main => {
                let lease = pool
                    .acquire_main(&order.base_sha)
                    .await
                    .map_err(|e| Stop::fault(format!("the main checkout: {e}")))?;
                (
                    WorktreePaths {
                        git_dir: lease.git_dir().to_path_buf(),
                        work_tree: lease.path().to_path_buf(),
                    },
                    Lease::Main(lease),
                )
            }
            _ => {
                let lease = pool
                    .acquire(&order.base_sha)
                    .await
                    .map_err(|e| Stop::fault(format!("no worktree: {e}")))?;
                (
                    WorktreePaths {
                        git_dir: lease.git_dir().to_path_buf(),
                        work_tree: lease.path().to_path_buf(),
                    },
                    Lease::Worktree(lease),
                )
            }
        };
        let worktree_ready = started.elapsed();
        let mut invocation = self
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
            writable: false,
        });
        invocation.timeout = selection.timeout.min(std::time::Duration::from_secs(
            order.execution.timeout.as_secs().max(1),
        ));
        if cancel.is_cancelled() {
            return Ok(RunOutcome::Cancelled {
                report: report.clone(),
            });
        }
        if let Some(user) = self.env.agent_user {
            lease
                .hand_to(user.uid, user.gid)
                .await
                .map_err(|e| Stop::fault(format!("hand the worktree to the agent user: {e}")))?;
            workspace::chown_tree(&scratch, user.uid, user.gid, None).map_err(|e| {
                Stop::fault(format!("give {} to the agent user: {e}", scratch.display()))
            })?;
        }
        let handed = started.elapsed();
        let ms = |d: std::time::Duration| d.as_millis();
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
        let ran = env::run_agent(&invocation, &self.env, cancel.clone()).await;
        if let Some(user) = self.env.agent_user {
            let stopped = env::stop_leftovers(user.uid, &[&worktree.work_tree, &scratch]);
            if !stopped.is_empty() {
                tracing::warn!(
                    run = order.run_id,
                    ?stopped,
                    "killed processes the agent left running"
                );
                report.flagged.push(format!(
                    "the agent left {} process(es) running in its worktree or scratch folder after it exited; ade killed them (pids {stopped:?})",
                    stopped.len()
                ));
            }
            lease
                .take_back()
                .await
                .map_err(|e| Stop::fault(format!("take the worktree back: {e}")))?;
        }
        let agent = ran.map_err(|e| Stop::agent(format!("the agent could not be started: {e}")))?;
        report.agent_exit = agent.ending.to_string();
        report.agent_ms = agent.duration.as_millis() as u64;
        report.confinement = agent.notes.clone();
        let dlp = Dlp::new(&order.dlp_rules).map_err(|e| Stop::agent(format!("DLP rules: {e}")))?;
        report.summary = match written_summary(&scratch.join(OUTPUT_FILE)) {
            Some(text) => summary_lines(&text, &dlp),
            None => summary(&log, &dlp).await,
        };
        match agent.ending {
            Ending::Cancelled => {
                return Ok(RunOutcome::Cancelled {
                    report: report.clone(),
                });
            }
            Ending::TimedOut => {
                return Err(Stop::agent(format!(
                    "the agent ran past its time limit ({} s) and was stopped",
                    invocation.timeout.as_secs()
                )));
            }
            ending if !ending.succeeded() => {
                return Err(Stop::agent(format!("the agent {ending}")));
            }
            _ => {}
        }
        let request = CommitRequest {
            title: commit_title(order),
            body: format!(
                "Task {} of {} ({}), carried out by the agent {}.",
                order.task.id, order.spec_reference, order.task.title, order.agent
            ),
            goal: order.goal_reference.clone(),
            spec_version: order.spec_version,
            task: order.task.id.to_string(),
            run: order.run_id.to_string(),
            bot: self.bot.clone(),
            requester: requester_identity(order.forge, &order.requester),
            excludes: selection.agent.leftovers.patterns().to_vec(),
            time: None,
        };
        let head = match publish::commit_run(&mirror, &worktree, &order.base_sha, &request).await {
            Ok(Some(head)) => head,
            Ok(None) => {
                return Ok(RunOutcome::NoChanges {
                    report: report.clone(),
                });
            }
            Err(e) if e.is_tampered() => {
                return Ok(RunOutcome::Blocked {
                    reason: format!("the agent changed ade's own git files: {e}"),
                    report: report.clone(),
                });
            }
            Err(e) => return Err(Stop::fault(format!("committing the change failed: {e}"))),
        };
        let changed = publish::read_changes(&mirror, &order.base_sha, &head)
            .await
            .map_err(|e| Stop::fault(format!("reading the change failed: {e}")))?;
        report.files_changed = changed.changes.files.len() as u64;
        report.insertions = changed.insertions;
        report.deletions = changed.deletions;
        let checked = guard::check(&changed.changes, &policy);
        let scanned = dlp.scan_changes(&changed.changes);
        report.agent_config_changes = checked
            .agent_configuration
            .iter()
            .map(|change| dlp.redact(&change.path))
            .collect();
        report.flagged = flags(&checked, &scanned, &dlp);
        report.flagged.extend(changed.notes.iter().cloned());
        if checked.blocks() || scanned.blocks() {
            let mut reason = String::from("the change was not pushed:");
            if checked.blocks() {
                reason.push_str("\n\n");
                reason.push_str(&dlp.redact(&checked.markdown()));
            }
            if scanned.blocks() {
                reason.push_str("\n\n");
                reason.push_str(&scanned.markdown());
            }
            tracing::warn!(
                run = order.run_id,
                protected = checked.blocks(),
                dlp = scanned.blocks(),
                "the change was blocked before the push"
            );
            return Ok(RunOutcome::Blocked {
                reason,
                report: report.clone(),
            });
        }
        if cancel.is_cancelled() {
            return Ok(RunOutcome::Cancelled {
                report: report.clone(),
            });
        }
        match publish::push(
            &mirror,
            &order.credential,
            &head,
            &order.branch,
            order.expected_branch_head.as_deref(),
        )
        .await
        {
            Ok(PushOutcome::Pushed | PushOutcome::UpToDate) => Ok(RunOutcome::Pushed {
                head_sha: head,
                report: report.clone(),
            }),
            Ok(PushOutcome::Stale) => Err(Stop::agent(format!(
                "the branch {} was moved by someone else; ade did not overwrite it",
                order.branch
            ))),
            Ok(PushOutcome::Rejected(why)) => {
                Err(Stop::agent(format!("the forge refused the push: {why}")))
            }
            Err(e) => Err(Stop::fault(format!("the push failed: {e}"))),
        }
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
            protected_paths: order.protected_paths.clone(),
        }
    }
}

/// A worktree or the main checkout, held for one run.
enum Lease {
    Worktree(super::workspace::WorktreeLease),
    Main(super::workspace::MainLease),
}

impl Lease {
    async fn hand_to(&mut self, uid: u32, gid: u32) -> anyhow::Result<()> {
        match self {
            Lease::Worktree(l) => l.hand_to(uid, gid).await.map_err(Into::into),
            Lease::Main(l) => l.hand_to(uid, gid).await.map_err(Into::into),
        }
    }

    async fn take_back(&mut self) -> anyhow::Result<()> {
        match self {
            Lease::Worktree(l) => l.take_back().await.map_err(Into::into),
            Lease::Main(l) => l.take_back().await.map_err(Into::into),
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

    async fn execute(&self, order: RunOrder, cancel: CancellationToken) -> RunOutcome {
        let mut report = RunReport {
            runner: self.name.clone(),
            ..RunReport::default()
        };
        match self.carry_out(&order, &cancel, &mut report).await {
            Ok(outcome) => outcome,
            Err(stop) => {
                tracing::warn!(run = order.run_id, reason = %stop.reason, retryable = stop.retryable, "run failed");
                RunOutcome::Failed {
                    reason: stop.reason,
                    retryable: stop.retryable,
                    report,
                }
            }
        }
    }
}

/// What a reviewer should look at, in words (paths shown safely, secrets redacted).
fn flags(checked: &guard::GuardReport, scanned: &DlpReport, dlp: &Dlp) -> Vec<String> {
    let mut flags = Vec::new();
    for link in &checked.symlinks {
        let risks: Vec<&str> = link.risks.iter().map(|r| r.describe()).collect();
        flags.push(dlp.redact(&format!(
            "{} is a symlink to {} ({})",
            visible(&link.path),
            visible(&link.target),
            risks.join(", ")
        )));
    }
    for module in &checked.submodules {
        flags.push(dlp.redact(&format!(
            "{} changes a submodule; ade never fetches submodules",
            visible(&module.path)
        )));
    }
    for suppression in &scanned.suppressions {
        flags.push(format!(
            "{} in {} asks secret scanners to look away; ade ignores it",
            visible(&suppression.marker),
            visible(&suppression.place)
        ));
    }
    flags
}

/// The commit's first line.
fn commit_title(order: &RunOrder) -> String {
    let title: String = order.task.title.chars().take(72).collect();
    format!("{title} ({})", order.task.id)
}

/// The requester as a commit co-author: the forge's no-reply address for the login.
fn requester_identity(forge: ForgeKind, login: &str) -> Identity {
    let login: String = login
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        .collect();
    let email = match forge {
        ForgeKind::Github => format!("{login}@users.noreply.github.com"),
        ForgeKind::Gitea => format!("{login}@noreply.localhost"),
    };
    Identity { name: login, email }
}

/// Most bytes of the agent's own summary file read.
const SUMMARY_FILE_MAX: u64 = 16 * 1024;

/// The summary the agent wrote to its output file, if it wrote a regular file (a link the agent
/// left there is not followed).
fn written_summary(path: &Path) -> Option<String> {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)
        .ok()?;
    if !file.metadata().ok()?.is_file() {
        return None;
    }
    let mut bytes = Vec::new();
    file.take(SUMMARY_FILE_MAX).read_to_end(&mut bytes).ok()?;
    let text = String::from_utf8_lossy(&bytes).into_owned();
    (!text.trim().is_empty()).then_some(text)
}

/// The last lines of the run log, sanitized, with any line the DLP scan flags withheld.
async fn summary(log: &Path, dlp: &Dlp) -> Vec<String> {
    let Ok(text) = tokio::fs::read(log).await else {
        return Vec::new();
    };
    let text = String::from_utf8_lossy(&text);
    let text: String = text
        .lines()
        .filter(|l| !l.starts_with("[ade]"))
        .collect::<Vec<_>>()
        .join("\n");
    summary_lines(&text, dlp)
}

/// The last lines of `text`, sanitized, with any line the DLP scan flags withheld.
fn summary_lines(text: &str, dlp: &Dlp) -> Vec<String> {
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let start = lines.len().saturating_sub(SUMMARY_LINES);
    lines[start..]
        .iter()
        .map(|line| {
            let clean = sanitize(line).text;
            if dlp.scan_text("run log", &clean).is_empty() {
                clean.chars().take(SUMMARY_LINE_CHARS).collect()
            } else {
                "(a line that looked like a secret was withheld)".to_string()
            }
        })
        .collect()
}

/// Removes a folder of an earlier attempt (never following links out of it).
fn remove_if_present(path: &Path) -> Result<(), String> {
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.is_dir() => {
            std::fs::remove_dir_all(path).map_err(|e| format!("remove {}: {e}", path.display()))
        }
        Ok(_) => std::fs::remove_file(path).map_err(|e| format!("remove {}: {e}", path.display())),
        Err(_) => Ok(()),
    }
}
