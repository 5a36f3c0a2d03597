//! The planner phase ([`Runner::plan`](crate::runner::Runner::plan)): a planner agent's run for a
//! goal. The agent and its environment are chosen as a run's; the default branch's head is
//! fetched into the mirror and a pooled worktree is checked out at it (never the `main` checkout,
//! even for a planner in `main`), which the environment keeps read-only: Landlock's rules in
//! `worktree` and `main`, a read-only mount in `container`, and no planner at all where neither
//! can be had. The planner's log and scratch folder are `<workdir>/plans/<plan_id>/planner.log`
//! and `…/scratch/`; what it left in `$ADE_OUTPUT` (`scratch/plan.json`) is read back without
//! following a link and within [`MAX_PLAN_OUTPUT_BYTES`].

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use super::agent::{clean, summary, summary_lines};
use super::prepare::{Lease, named_agent_policy, remove_if_present};
use super::{LocalRunner, Stop};
use crate::runner::agent::{AgentOutput, PlanInputs, RunPaths, SecretSource, Selection};
use crate::runner::dlp::Dlp;
use crate::runner::env::{self, Ending, PathAccess, PathGrant, SharedObserver, Watch};
use crate::runner::order::{MAX_PLAN_OUTPUT_BYTES, PlanOrder, PlanOutcome, PlanOutput, RunReport};

/// The planner's log in its plan folder.
pub(super) const PLANNER_LOG: &str = "planner.log";
/// The planner's scratch folder in its plan folder.
pub(super) const PLANNER_SCRATCH: &str = "scratch";

/// Runs the planner of `order` and reads back what it wrote; every way it can end is an outcome.
pub(super) async fn plan(
    runner: &LocalRunner,
    order: &PlanOrder,
    cancel: &CancellationToken,
) -> PlanOutcome {
    let mut report = RunReport {
        runner: runner.name.clone(),
        ..RunReport::default()
    };
    match carry_out(runner, order, cancel, &mut report).await {
        Ok(outcome) => outcome,
        Err(stop) => {
            tracing::warn!(plan = order.plan_id, reason = %stop.reason, fault = ?stop.fault, "planner failed");
            if let Some(log) = &report.log
                && let Err(e) = env::append_notes(
                    &runner.env.logs,
                    Path::new(log),
                    &[format!("the planner failed: {}", stop.reason)],
                )
                .await
            {
                tracing::warn!(plan = order.plan_id, error = %e, "could not write the planner log");
            }
            PlanOutcome::Failed {
                reason: stop.reason,
                fault: stop.fault,
                report,
            }
        }
    }
}

async fn carry_out(
    runner: &LocalRunner,
    order: &PlanOrder,
    cancel: &CancellationToken,
    report: &mut RunReport,
) -> Result<PlanOutcome, Stop> {
    let selection = choose(runner, order)?;
    report.environment = selection.environment.as_str().to_string();
    let folder = runner.plan_dir(order.plan_id);
    let log = folder.join(PLANNER_LOG);
    let scratch = folder.join(PLANNER_SCRATCH);
    remove_if_present(&scratch).map_err(Stop::fault)?;
    LocalRunner::create_run_folder(&scratch)?;
    report.log = Some(log.display().to_string());
    if let Some(refusal) = env::read_only_refusal(selection.environment, &env::landlock_support()) {
        return Err(Stop::setup(refusal));
    }
    let started = Instant::now();
    let mirror = runner
        .mirror_at(
            order.forge,
            &order.repository,
            &order.credential,
            &order.commit,
            "the default branch's head",
        )
        .await?;
    let commit_ready = started.elapsed();
    let pool = runner.pool(&mirror).await?;
    let lease = pool
        .acquire(&order.commit)
        .await
        .map_err(|e| Stop::fault(format!("no worktree: {e}")))?;
    let (how, waited) = lease.prepared();
    let worktree_note = format!(
        "worktree {}: {}, after waiting {} ms for a free one; read-only for the planner",
        lease.name(),
        how.as_str(),
        waited.as_millis()
    );
    let worktree = lease.path().to_path_buf();
    let mut lease = Lease::Worktree(lease);
    let mut invocation = runner
        .registry
        .prepare_plan(
            &selection,
            &inputs(order),
            &RunPaths {
                worktree: worktree.clone(),
                scratch: scratch.clone(),
                log: log.clone(),
            },
        )
        .map_err(|e| Stop::agent(format!("the planner could not be prepared: {e}")))?;
    invocation.extra_paths.push(PathGrant {
        path: mirror.git_dir().to_path_buf(),
        access: PathAccess::Read,
    });
    invocation.timeout = selection.timeout.min(Duration::from_secs(
        order.execution.timeout.as_secs().max(1),
    ));
    if cancel.is_cancelled() {
        return Ok(PlanOutcome::Cancelled {
            report: report.clone(),
        });
    }
    if let Some(user) = runner.env.agent_user {
        lease
            .hand_to(user.uid, user.gid)
            .await
            .map_err(|e| Stop::fault(format!("hand the worktree to the agent user: {e}")))?;
        crate::runner::workspace::chown_tree(&scratch, user.uid, user.gid, None).map_err(|e| {
            Stop::fault(format!("give {} to the agent user: {e}", scratch.display()))
        })?;
    }
    let plan_file = plan_file(&scratch);
    invocation.preparation.push(worktree_note);
    invocation.preparation.push(format!(
        "planner of goal #{} at {}: prepared in {} ms (the commit {} ms); the plan goes to {}",
        order.goal_number,
        order.commit,
        started.elapsed().as_millis(),
        commit_ready.as_millis(),
        plan_file.display()
    ));
    tracing::info!(plan = order.plan_id, agent = %order.agent, environment = selection.environment.as_str(), "planner started");
    let reader = Arc::new(Mutex::new(selection.agent.output.reader()));
    let watch = Watch {
        who: "planner",
        observer: Some(reader.clone() as SharedObserver),
    };
    let ran = env::run_watched(&invocation, &runner.env, cancel.clone(), watch).await;
    if let Some(user) = runner.env.agent_user {
        let stopped = lease
            .close(user.uid, &[&worktree, &scratch])
            .await
            .map_err(|e| Stop::fault(format!("close the worktree to the agent user: {e}")))?;
        if !stopped.is_empty() {
            report.flagged.push(format!(
                "the planner left {} process(es) running after it exited; ade killed them (pids {stopped:?})",
                stopped.len()
            ));
        }
    }
    drop(lease);
    let agent = ran.map_err(|e| {
        let reason = format!("the planner could not be started: {e}");
        if e.is_setup() {
            Stop::setup(reason)
        } else {
            Stop::agent(reason)
        }
    })?;
    report.agent_exit = agent.ending.to_string();
    report.agent_ms = agent.duration.as_millis() as u64;
    report.confinement = agent.notes.clone();
    let dlp = Dlp::new(&[]).map_err(|e| Stop::fault(format!("DLP rules: {e}")))?;
    report.egress = agent.egress.clone();
    for tally in &mut report.egress.tallies {
        tally.destination = dlp.redact(&tally.destination);
    }
    let said: AgentOutput = reader
        .lock()
        .map(|mut reader| reader.finish())
        .unwrap_or_default();
    report.agent_reported = said.describe(|text| clean(text, &dlp));
    report.cost_micro_usd = said.cost_micro_usd;
    report.summary = match &said.final_message {
        Some(text) => summary_lines(text, &dlp),
        None => summary(&runner.env.logs, &log, &dlp).await,
    };
    let and_reported = |reason: String| match &report.agent_reported {
        Some(reported) => format!("{reason}; {reported}"),
        None => reason,
    };
    match agent.ending {
        Ending::Cancelled => {
            return Ok(PlanOutcome::Cancelled {
                report: report.clone(),
            });
        }
        Ending::TimedOut => {
            return Err(Stop::agent(and_reported(format!(
                "the planner ran past its time limit ({} s) and was stopped",
                invocation.timeout.as_secs()
            ))));
        }
        ending if !ending.succeeded() => {
            return Err(Stop::agent(and_reported(format!("the planner {ending}"))));
        }
        _ => {}
    }
    let read = plan_file.clone();
    let output = tokio::task::spawn_blocking(move || read_plan(&read))
        .await
        .map_err(|e| Stop::fault(format!("reading the plan file: {e}")))?;
    let note = match &output {
        PlanOutput::Written { text } => format!("the plan file holds {} bytes", text.len()),
        PlanOutput::Missing => "the planner wrote no plan file".to_owned(),
        PlanOutput::TooLarge { bytes } => format!(
            "the plan file holds {bytes} bytes, more than the {MAX_PLAN_OUTPUT_BYTES} ade reads"
        ),
        PlanOutput::Unreadable { reason } => format!("the plan file is unreadable: {reason}"),
    };
    if let Err(e) = env::append_notes(&runner.env.logs, &log, &[note]).await {
        tracing::warn!(plan = order.plan_id, error = %e, "could not write the planner log");
    }
    Ok(PlanOutcome::Finished {
        output,
        report: report.clone(),
    })
}

/// The planner and its environment, as a run's are chosen; a planner whose registration reads a
/// secret from ade's secret store is refused, since secret reads are recorded against runs.
fn choose(runner: &LocalRunner, order: &PlanOrder) -> Result<Selection, Stop> {
    let policy = named_agent_policy(&order.execution, Vec::new());
    let selection = runner
        .registry
        .select(&policy, Some(&order.agent), None)
        .map_err(|refusal| Stop::agent(refusal.to_string()))?;
    if let Some(secret) = selection
        .agent
        .secrets
        .iter()
        .find(|s| matches!(s.source, SecretSource::Store(_)))
    {
        return Err(Stop::setup(format!(
            "agent {}: planners cannot read secrets from ade's secret store yet, and its \
             registration reads {} from there; give it by `file` or `env` (docs/secrets.md)",
            selection.agent.name, secret.name
        )));
    }
    Ok(selection)
}

fn inputs(order: &PlanOrder) -> PlanInputs {
    PlanInputs {
        plan_id: order.plan_id.to_string(),
        repository: order.repository.clone(),
        goal_number: order.goal_number.max(0) as u64,
        goal_title: order.goal_title.clone(),
        goal_body: order.goal_body.clone(),
        comments: order.comments.clone(),
        instructions: order.instructions.clone(),
        policy: order.policy.clone(),
        schema: order.schema.clone(),
    }
}

/// `$ADE_OUTPUT` of a planner whose scratch folder is `scratch`.
fn plan_file(scratch: &Path) -> PathBuf {
    scratch.join(crate::runner::agent::PLAN_FILE)
}

/// What the planner left at `path`: read only if it is a regular file (a link is not followed, a
/// FIFO does not block), at most [`MAX_PLAN_OUTPUT_BYTES`], and UTF-8.
pub(super) fn read_plan(path: &Path) -> PlanOutput {
    use std::os::unix::fs::OpenOptionsExt;
    let unreadable = |reason: String| PlanOutput::Unreadable { reason };
    let file = match std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)
    {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return PlanOutput::Missing,
        Err(e) if e.raw_os_error() == Some(libc::ELOOP) => {
            return unreadable("it is a symbolic link, which ade does not follow".to_owned());
        }
        Err(e) => return unreadable(format!("it cannot be opened: {e}")),
    };
    let meta = match file.metadata() {
        Ok(meta) => meta,
        Err(e) => return unreadable(format!("its metadata cannot be read: {e}")),
    };
    if !meta.is_file() {
        return unreadable("it is not a regular file".to_owned());
    }
    if meta.len() > MAX_PLAN_OUTPUT_BYTES {
        return PlanOutput::TooLarge { bytes: meta.len() };
    }
    let mut bytes = Vec::new();
    if let Err(e) = file.take(MAX_PLAN_OUTPUT_BYTES + 1).read_to_end(&mut bytes) {
        return unreadable(format!("it cannot be read: {e}"));
    }
    if bytes.len() as u64 > MAX_PLAN_OUTPUT_BYTES {
        return PlanOutput::TooLarge {
            bytes: bytes.len() as u64,
        };
    }
    match String::from_utf8(bytes) {
        Ok(text) => PlanOutput::Written { text },
        Err(e) => unreadable(format!(
            "it is not UTF-8 text (an invalid byte at offset {})",
            e.utf8_error().valid_up_to()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_plan_file_is_read_only_when_it_is_a_regular_utf8_file_within_the_cap() {
        let dir = std::env::temp_dir().join(format!("ade-plan-read-{:016x}", fastrand::u64(..)));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("plan.json");
        assert_eq!(read_plan(&file), PlanOutput::Missing);
        std::fs::write(&file, "{\"tasks\": []}").unwrap();
        assert_eq!(
            read_plan(&file),
            PlanOutput::Written {
                text: "{\"tasks\": []}".into()
            }
        );
        std::fs::write(&file, b"{\"a\": \"\xff\"}").unwrap();
        assert!(
            matches!(read_plan(&file), PlanOutput::Unreadable { reason } if reason.contains("UTF-8"))
        );
        std::fs::remove_file(&file).unwrap();
        std::fs::create_dir(&file).unwrap();
        assert!(
            matches!(read_plan(&file), PlanOutput::Unreadable { reason } if reason.contains("regular"))
        );
        std::fs::remove_dir(&file).unwrap();
        let fifo = std::ffi::CString::new(file.to_str().unwrap()).unwrap();
        // SAFETY: a NUL-terminated path; mkfifo reads it and nothing else.
        assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o600) }, 0);
        assert!(
            matches!(read_plan(&file), PlanOutput::Unreadable { reason } if reason.contains("regular")),
            "a FIFO neither blocks nor reads"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
