//! Phase 2, agent: the agent runs in its environment while its template's output reader watches
//! what it prints; afterwards ade kills what it left running in the run's folders, closes the
//! worktree to the agent user, and keeps the agent's summary (its own output file, else its final
//! message, else the last lines of its log) and what it reported going wrong (failing tool calls,
//! errors: into the run log and the run's reason), sanitized and with anything that looks like a
//! secret withheld.

use std::path::Path;
use std::sync::{Arc, Mutex};

use tokio_util::sync::CancellationToken;

use super::prepare::Prepared;
use super::{LocalRunner, Next, Stop};
use crate::command::sanitize;
use crate::runner::agent::AgentOutput;
use crate::runner::agent::OUTPUT_FILE;
use crate::runner::dlp::Dlp;
use crate::runner::env::{self, Ending, SharedObserver, Watch};
use crate::runner::order::{RunOrder, RunOutcome, RunReport};
use crate::secrets::LogFiles;

/// Lines of the agent's output shown in the approval and in failure reports.
const SUMMARY_LINES: usize = 12;
/// Longest summary line shown.
const SUMMARY_LINE_CHARS: usize = 300;
/// Most bytes of the agent's own summary file read.
const SUMMARY_FILE_MAX: u64 = 16 * 1024;

/// Runs the agent; the run goes on only if it exited 0 within its time limit.
pub(super) async fn run(
    runner: &LocalRunner,
    order: &RunOrder,
    run: &mut Prepared,
    cancel: &CancellationToken,
    report: &mut RunReport,
) -> Result<Next<()>, Stop> {
    let reader = Arc::new(Mutex::new(run.selection.agent.output.reader()));
    let watch = Watch {
        who: "agent",
        observer: Some(reader.clone() as SharedObserver),
    };
    let ran = env::run_watched(&run.invocation, &runner.env, cancel.clone(), watch).await;
    if let Some(user) = runner.env.agent_user {
        let stopped = run
            .lease
            .close(user.uid, &[&run.worktree.work_tree, &run.scratch])
            .await
            .map_err(|e| Stop::fault(format!("close the worktree to the agent user: {e}")))?;
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
    }
    let agent = ran.map_err(|e| {
        let reason = format!("the agent could not be started: {e}");
        if e.is_setup() {
            Stop::setup(reason)
        } else {
            Stop::agent(reason)
        }
    })?;
    report.agent_exit = agent.ending.to_string();
    report.agent_ms = agent.duration.as_millis() as u64;
    report.confinement = agent.notes.clone();
    let dlp = Dlp::new(&order.dlp_rules).map_err(|e| Stop::agent(format!("DLP rules: {e}")))?;
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
    if let Some(reported) = &report.agent_reported
        && let Err(e) =
            env::append_notes(&runner.env.logs, &run.log, std::slice::from_ref(reported)).await
    {
        tracing::warn!(run = order.run_id, error = %e, "could not write the run log");
    }
    report.summary = match written_summary(&run.scratch.join(OUTPUT_FILE)) {
        Some(text) => summary_lines(&text, &dlp),
        None => match &said.final_message {
            Some(text) => summary_lines(text, &dlp),
            None => summary(&runner.env.logs, &run.log, &dlp).await,
        },
    };
    let and_reported = |reason: String| match &report.agent_reported {
        Some(reported) => format!("{reason}; {reported}"),
        None => reason,
    };
    match agent.ending {
        Ending::Cancelled => Ok(Next::End(RunOutcome::Cancelled {
            report: report.clone(),
        })),
        Ending::TimedOut => Err(Stop::agent(and_reported(format!(
            "the agent ran past its time limit ({} s) and was stopped",
            run.invocation.timeout.as_secs()
        )))),
        ending if !ending.succeeded() => {
            Err(Stop::agent(and_reported(format!("the agent {ending}"))))
        }
        _ => Ok(Next::Go(())),
    }
}

/// Untrusted text as a run's reason may carry it: sanitized, secrets masked, and in a code span,
/// since the reason is posted as Markdown (no mention, link or HTML of the agent's making).
pub(super) fn clean(text: &str, dlp: &Dlp) -> String {
    crate::markdown::code_span(&dlp.redact(&sanitize(text).text))
}

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

/// Most bytes of the run log read for its last lines.
const SUMMARY_LOG_MAX: u64 = 64 << 20;

/// The last lines of the run log (opened if sealed), sanitized, with any line the DLP scan flags
/// withheld.
pub(super) async fn summary(logs: &LogFiles, log: &Path, dlp: &Dlp) -> Vec<String> {
    let (logs, path) = (logs.clone(), log.to_path_buf());
    let read = tokio::task::spawn_blocking(move || logs.read(&path, SUMMARY_LOG_MAX)).await;
    let Ok(Ok((text, _))) = read else {
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
pub(super) fn summary_lines(text: &str, dlp: &Dlp) -> Vec<String> {
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
