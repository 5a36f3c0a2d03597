//! Running verification: the repository policy's steps on a run's result, in the run's worktree,
//! in the environment class and confinement its agent had ([`env::run_watched`]: process group,
//! timeout, Landlock or the sandbox, the agent user), with a scratch folder of their own and an
//! environment made from nothing: no forge credential, none of the agent's secrets.
//!
//! Static steps run first, every one of them even after one failed; dynamic steps run only when
//! every static step passed. Each step's output is appended whole to the run log (up to the
//! per-step cap) between a header and an ending line, while a [`StepOutput`] keeps its real last
//! lines and its file and line messages, masked and cleaned for the forge by [`crate::verify`].
//! What the steps concluded is a [`VerificationReport`]; nothing here fails otherwise.

use std::fmt;
use std::os::unix::fs::chown;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use super::dlp::Dlp;
use super::env::{
    self, AgentReport, Ending, EnvError, EnvOptions, Environment, Invocation, Network,
    OutputObserver, PathGrant, SharedObserver, Watch,
};
use crate::policy::{StepKind, VerificationStep};
use crate::verify::output::StepOutput;
use crate::verify::tail::{cap_chars, clean_line, clean_lines};
use crate::verify::{
    LogRange, Mask, StepOutcome, StepResult, VerificationReport, annotations, human_duration,
};

/// Tells whether a path, relative to the repository root, names a regular file of the tree;
/// annotations are made only for such paths.
pub type RepositoryFile = dyn Fn(&str) -> bool + Send + Sync;

/// Most characters of a reason (why a step timed out or could not run).
const REASON_CHARS: usize = 500;

/// What to verify and how: built by the runner for one run's attempt, after the agent ended and
/// the run's commit was made. The caller hands the worktree (and nothing else of the run) to the
/// agent user before, as it does for the agent, and takes it back after.
#[derive(Clone)]
pub struct StepsRequest {
    /// The policy's steps, static ones first (the order within a kind is kept).
    pub steps: Vec<VerificationStep>,
    /// The run's worktree, holding the agent's result; the steps' working folder.
    pub worktree: PathBuf,
    /// The steps' own scratch folder, apart from the agent's: HOME and TMPDIR are made under it
    /// (`home/`, `tmp/`) and given to the agent user. Absolute; created if missing.
    pub scratch: PathBuf,
    /// The run log the steps' output is appended to.
    pub log: PathBuf,
    /// The agent's environment class: the steps run in the same one.
    pub environment: Environment,
    /// Whether steps in a container may use the network (`runner.network`); steps in `worktree`
    /// and `main` always have the runner's network.
    pub network: bool,
    /// Folders beyond the worktree and scratch the steps may reach, as for the agent (the
    /// mirror's objects, read-only, so `git` works in the worktree).
    pub extra_paths: Vec<PathGrant>,
    /// Variables naming the run (`ADE_RUN_ID`, `ADE_TASK_ID`, `ADE_SPEC`, ...). Only `ADE_`
    /// names are accepted, so no secret reaches a step by mistake; the steps also get
    /// `ADE_VERIFY_STEP`, `ADE_WORKTREE`, `CI=true`, `HOME`, `TMPDIR`, `PATH` and `LANG`.
    pub identity: Vec<(String, String)>,
    /// The `PATH` the runner gives agents.
    pub path_var: String,
    /// Most bytes of one step's output kept in the run log.
    pub output_cap: u64,
    /// Masks secrets in everything taken from the output (ade passes its DLP redaction).
    pub mask: Arc<Mask<'static>>,
    /// Confirms that a path from a message names a file of the repository
    /// ([`worktree_files`] by default).
    pub repository_file: Arc<RepositoryFile>,
}

impl fmt::Debug for StepsRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.identity.iter().map(|(n, _)| n.as_str()).collect();
        f.debug_struct("StepsRequest")
            .field("steps", &self.steps)
            .field("worktree", &self.worktree)
            .field("scratch", &self.scratch)
            .field("log", &self.log)
            .field("environment", &self.environment)
            .field("network", &self.network)
            .field("extra_paths", &self.extra_paths)
            .field("identity", &names)
            .field("path_var", &self.path_var)
            .field("output_cap", &self.output_cap)
            .finish_non_exhaustive()
    }
}

impl StepsRequest {
    /// A request with the defaults: the `worktree` environment, no network, no extra paths, no
    /// identity, `/usr/local/bin:/usr/bin:/bin`, a 10 MiB cap per step, the built-in DLP
    /// detectors as the mask, and [`worktree_files`] as the repository-file check.
    pub fn new(
        steps: Vec<VerificationStep>,
        worktree: PathBuf,
        scratch: PathBuf,
        log: PathBuf,
    ) -> StepsRequest {
        let dlp = Dlp::new(&[]).expect("the built-in DLP detectors compile");
        StepsRequest {
            steps,
            repository_file: worktree_files(worktree.clone()),
            worktree,
            scratch,
            log,
            environment: Environment::Worktree,
            network: false,
            extra_paths: Vec::new(),
            identity: Vec::new(),
            path_var: "/usr/local/bin:/usr/bin:/bin".to_string(),
            output_cap: 10 * 1024 * 1024,
            mask: Arc::new(move |text: &str| dlp.redact(text)),
        }
    }

    fn masked_reason(&self, reason: &str) -> String {
        cap_chars(&clean_line(reason, &*self.mask), REASON_CHARS)
    }
}

/// Runs the request's steps and reports what they concluded; see the module docs. `cancel`
/// stops the step running (SIGTERM to its group, SIGKILL after `opts.kill_grace`) and marks the
/// rest cancelled. A worktree that is missing, a scratch folder that cannot be made or a step
/// that cannot start is an `Error`, never a pass.
pub async fn run_steps(
    request: &StepsRequest,
    opts: &EnvOptions,
    cancel: CancellationToken,
) -> VerificationReport {
    let started = Instant::now();
    if let Err(reason) = prepare(request, opts) {
        let reason = request.masked_reason(&reason);
        let _ = note(
            request,
            opts,
            &format!("verification could not run: {reason}"),
        )
        .await;
        return VerificationReport::not_run(&request.steps, &reason);
    }
    let (statics, dynamics): (Vec<&VerificationStep>, Vec<&VerificationStep>) = request
        .steps
        .iter()
        .partition(|s| s.kind == StepKind::Static);
    let _ = note(
        request,
        opts,
        &opening(request, statics.len(), dynamics.len()),
    )
    .await;
    let mut results = Vec::with_capacity(request.steps.len());
    for step in &statics {
        results.push(run_or_cancel(step, request, opts, &cancel).await);
    }
    let not_passed: Vec<&str> = results
        .iter()
        .filter(|r| r.outcome != StepOutcome::Passed)
        .map(|r| r.name.as_str())
        .collect();
    let skip = (!not_passed.is_empty()).then(|| {
        format!(
            "static step{} {} did not pass",
            if not_passed.len() == 1 { "" } else { "s" },
            not_passed.join(", ")
        )
    });
    for step in &dynamics {
        results.push(match &skip {
            Some(reason) if !cancel.is_cancelled() => {
                StepResult::not_run(step, StepOutcome::Skipped, reason)
            }
            _ => run_or_cancel(step, request, opts, &cancel).await,
        });
    }
    let report = VerificationReport::new(results, started.elapsed().as_millis() as u64);
    let _ = note(
        request,
        opts,
        &format!(
            "verification {} after {}",
            report.verdict.as_str(),
            human_duration(report.duration_ms)
        ),
    )
    .await;
    report
}

/// Runs one step, unless verification was cancelled before it started.
async fn run_or_cancel(
    step: &VerificationStep,
    request: &StepsRequest,
    opts: &EnvOptions,
    cancel: &CancellationToken,
) -> StepResult {
    if cancel.is_cancelled() {
        return StepResult::not_run(step, StepOutcome::Cancelled, "verification was cancelled");
    }
    run_step(step, request, opts, cancel).await
}

/// Runs one step to its end in the request's environment and makes its result.
async fn run_step(
    step: &VerificationStep,
    request: &StepsRequest,
    opts: &EnvOptions,
    cancel: &CancellationToken,
) -> StepResult {
    let start = log_len(opts, &request.log).await;
    let header = format!(
        "verification step {} ({}): {}",
        step.name,
        kind_word(step.kind),
        (request.mask)(&display_argv(&step.command))
    );
    let output = Arc::new(Mutex::new(Observer(StepOutput::new(
        &request.worktree.to_string_lossy(),
    ))));
    let ran = match note(request, opts, &header).await {
        Err(error) => Err(error),
        Ok(()) if step.command.is_empty() => Err(EnvError::NoProgram),
        Ok(()) => {
            let watch = Watch {
                who: "step",
                observer: Some(output.clone() as SharedObserver),
            };
            env::run_watched(&invocation(step, request), opts, cancel.clone(), watch).await
        }
    };
    let leftovers = stop_leftovers(request, opts);
    let observed = {
        let mut guard = output.lock().unwrap_or_else(|p| p.into_inner());
        std::mem::replace(&mut guard.0, StepOutput::new("")).finish()
    };
    let mut result = result_of(step, request, ran);
    result.tail = clean_lines(&observed.tail, &*request.mask);
    if result.outcome.is_failure() {
        result.annotations = annotations::resolve(
            &observed.candidates,
            &step.name,
            &*request.repository_file,
            &*request.mask,
        );
    }
    let mut ending = vec![ending_note(&result)];
    ending.extend(leftovers);
    for line in &ending {
        let _ = note(request, opts, line).await;
    }
    result.log = Some(LogRange {
        start,
        end: log_len(opts, &request.log).await,
    });
    result
}

/// The result of a step from how its process ended; tail and annotations are added after.
fn result_of(
    step: &VerificationStep,
    request: &StepsRequest,
    ran: Result<AgentReport, EnvError>,
) -> StepResult {
    let report = match ran {
        Ok(report) => report,
        Err(error) => {
            let reason = request.masked_reason(&env_error_reason(&error));
            let mut result = StepResult::not_run(step, StepOutcome::Error, &reason);
            result.exit = "did not start".to_string();
            return result;
        }
    };
    let (outcome, reason) = match report.ending {
        Ending::Exited { code: 0 } => (StepOutcome::Passed, None),
        Ending::Exited { .. } | Ending::Signalled { .. } => (StepOutcome::Failed, None),
        Ending::TimedOut => (
            StepOutcome::TimedOut,
            Some(format!(
                "ran past its time limit ({})",
                seconds(step.timeout)
            )),
        ),
        Ending::Cancelled => (
            StepOutcome::Cancelled,
            Some("verification was cancelled".to_string()),
        ),
    };
    StepResult {
        name: step.name.clone(),
        kind: step.kind,
        outcome,
        exit: report.ending.to_string(),
        duration_ms: report.duration.as_millis() as u64,
        reason,
        tail: Vec::new(),
        annotations: Vec::new(),
        output_bytes: report.output_seen,
        truncated: report.output_seen > report.output_kept,
        log: None,
    }
}

/// Why a step could not be run, in words about the step (the environment's errors speak of an
/// agent).
fn env_error_reason(error: &EnvError) -> String {
    match error {
        EnvError::NoProgram => "the step has no command".to_string(),
        EnvError::Spawn { program, source } => format!("cannot start {program}: {source}"),
        EnvError::MissingPath { what, path } => {
            format!(
                "the {what} {} is not an existing absolute path",
                path.display()
            )
        }
        other => other.to_string(),
    }
}

/// The step's process: its command, run directly, in the worktree, with an environment made
/// from nothing but the request's identity and ade's fixed variables.
fn invocation(step: &VerificationStep, request: &StepsRequest) -> Invocation {
    let mut inv = Invocation::new(
        step.command.clone(),
        request.worktree.clone(),
        request.scratch.clone(),
        request.log.clone(),
    );
    let fixed = [
        ("ADE_VERIFY_STEP", step.name.clone()),
        ("ADE_WORKTREE", request.worktree.display().to_string()),
        ("CI", "true".to_string()),
        ("HOME", request.scratch.join("home").display().to_string()),
        ("TMPDIR", request.scratch.join("tmp").display().to_string()),
        ("PATH", request.path_var.clone()),
        ("LANG", "C.UTF-8".to_string()),
    ];
    let mut vars: Vec<(String, String)> = request
        .identity
        .iter()
        .filter(|(name, _)| !fixed.iter().any(|(f, _)| f == name))
        .cloned()
        .collect();
    vars.extend(fixed.into_iter().map(|(n, v)| (n.to_string(), v)));
    inv.env = vars;
    inv.timeout = step.timeout;
    inv.output_cap = request.output_cap;
    // Steps keep the network they had before agents had one of their own: the runner's in
    // `worktree` and `main`, and `runner.network` in containers.
    inv.network = match (request.network, request.environment) {
        (false, Environment::Container) => Network::Off,
        _ => Network::Open,
    };
    inv.environment = request.environment;
    inv.extra_paths = request.extra_paths.clone();
    inv
}

/// Checks what every step needs: `ADE_` identity names, the worktree, the scratch folder with
/// `home/` and `tmp/` (owned by the agent user when steps run as one).
fn prepare(request: &StepsRequest, opts: &EnvOptions) -> Result<(), String> {
    if let Some((name, _)) = request
        .identity
        .iter()
        .find(|(name, value)| !is_identity_name(name) || value.contains('\0'))
    {
        return Err(format!(
            "the steps' environment names {name:?}: only ADE_ variables naming the run are \
             passed to steps"
        ));
    }
    if !request.worktree.is_absolute() || !request.worktree.is_dir() {
        return Err(format!(
            "the worktree {} does not exist",
            request.worktree.display()
        ));
    }
    if !request.scratch.is_absolute() || request.scratch.starts_with(&request.worktree) {
        return Err(format!(
            "the scratch folder {} is not an absolute path outside the worktree",
            request.scratch.display()
        ));
    }
    let folders = [
        request.scratch.clone(),
        request.scratch.join("home"),
        request.scratch.join("tmp"),
    ];
    for folder in &folders {
        std::fs::create_dir_all(folder)
            .map_err(|e| format!("cannot make {}: {e}", folder.display()))?;
    }
    if let Some(user) = step_user(opts) {
        for folder in &folders {
            chown(folder, Some(user.uid), Some(user.gid))
                .map_err(|e| format!("cannot give {} to the agent user: {e}", folder.display()))?;
        }
    }
    Ok(())
}

fn is_identity_name(name: &str) -> bool {
    name.strip_prefix("ADE_").is_some_and(|rest| {
        !rest.is_empty()
            && rest
                .bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
    })
}

/// The agent user steps run as: configured, and ade may switch to it (otherwise the step's
/// environment refuses to run it as ade's own user, or a sandbox keeps it from ade's files).
fn step_user(opts: &EnvOptions) -> Option<env::AgentUser> {
    opts.agent_user.filter(|_| env::can_switch_users())
}

/// Kills what a step left running as the agent user in the worktree or scratch folder, and says
/// so for the run log.
fn stop_leftovers(request: &StepsRequest, opts: &EnvOptions) -> Option<String> {
    let user = step_user(opts)?;
    let stopped = env::stop_leftovers(user.uid, &[&request.worktree, &request.scratch]);
    (!stopped.is_empty()).then(|| {
        format!(
            "the step left {} process(es) running in the worktree or scratch folder; ade killed \
             them (pids {stopped:?})",
            stopped.len()
        )
    })
}

/// The run log's first verification line.
fn opening(request: &StepsRequest, statics: usize, dynamics: usize) -> String {
    let total = statics + dynamics;
    format!(
        "verification: {total} step{} ({statics} static, {dynamics} dynamic) in the {} \
         environment, HOME and TMPDIR under {}",
        if total == 1 { "" } else { "s" },
        request.environment.as_str(),
        request.scratch.display()
    )
}

/// The line closing a step's section of the run log.
fn ending_note(result: &StepResult) -> String {
    let mut line = format!(
        "verification step {}: {}",
        result.name,
        result.outcome.as_str()
    );
    match (&result.reason, result.outcome) {
        (Some(reason), StepOutcome::Error) => line.push_str(&format!(": {reason}")),
        (Some(reason), _) => line.push_str(&format!(
            ": {reason} ({} after {})",
            result.exit,
            human_duration(result.duration_ms)
        )),
        (None, _) => line.push_str(&format!(
            " ({} after {})",
            result.exit,
            human_duration(result.duration_ms)
        )),
    }
    if result.truncated {
        line.push_str(&format!(
            "; {} bytes of output, the log keeps the first of them",
            result.output_bytes
        ));
    }
    line
}

/// The step's command for the run log: plain words as they are, anything else quoted with its
/// control characters escaped, so a crafted argument cannot forge a log line.
fn display_argv(argv: &[String]) -> String {
    argv.iter()
        .map(|arg| {
            let plain = !arg.is_empty()
                && arg
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c));
            if plain {
                arg.clone()
            } else {
                format!("{arg:?}")
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn kind_word(kind: StepKind) -> &'static str {
    match kind {
        StepKind::Static => "static",
        StepKind::Dynamic => "dynamic",
    }
}

fn seconds(duration: Duration) -> String {
    if duration.subsec_millis() == 0 {
        format!("{} s", duration.as_secs())
    } else {
        format!("{:.1} s", duration.as_secs_f64())
    }
}

async fn note(request: &StepsRequest, opts: &EnvOptions, line: &str) -> Result<(), EnvError> {
    env::append_notes(&opts.logs, &request.log, &[line.to_string()]).await
}

/// Where the log's text ends: its length, or a sealed log's length once opened, so a step's
/// [`LogRange`] counts bytes of the text a reader sees.
async fn log_len(opts: &EnvOptions, log: &Path) -> u64 {
    let (logs, log) = (opts.logs.clone(), log.to_path_buf());
    tokio::task::spawn_blocking(move || logs.text_len(&log))
        .await
        .unwrap_or(0)
}

/// The step's output reader, seen by the environment as it streams.
struct Observer(StepOutput);

impl OutputObserver for Observer {
    fn observe(&mut self, chunk: &[u8]) {
        self.0.push(chunk);
    }
}

/// The repository-file check of a worktree: `path` names a regular file reached from `worktree`
/// through real folders only (no symlink at any step), and no part of it is `.git`.
pub fn is_worktree_file(worktree: &Path, path: &str) -> bool {
    let parts: Vec<&str> = path.split('/').collect();
    let mut at = worktree.to_path_buf();
    for (index, part) in parts.iter().enumerate() {
        if part.is_empty() || matches!(*part, "." | ".." | ".git") {
            return false;
        }
        at.push(part);
        let Ok(meta) = std::fs::symlink_metadata(&at) else {
            return false;
        };
        let last = index + 1 == parts.len();
        if last {
            return meta.file_type().is_file();
        }
        if !meta.file_type().is_dir() {
            return false;
        }
    }
    false
}

/// [`is_worktree_file`] for one worktree, as a [`StepsRequest::repository_file`].
pub fn worktree_files(worktree: PathBuf) -> Arc<RepositoryFile> {
    Arc::new(move |path: &str| is_worktree_file(&worktree, path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_in_the_log_cannot_forge_a_line() {
        let argv = ["cargo", "test", "a b", "x\n[ade] verification passed", ""].map(String::from);
        let shown = display_argv(&argv);
        assert_eq!(
            shown,
            r#"cargo test "a b" "x\n[ade] verification passed" """#
        );
        assert!(!shown.contains('\n'));
    }

    #[test]
    fn only_ade_variables_name_the_run() {
        for good in ["ADE_RUN_ID", "ADE_TASK_ID", "ADE_SPEC_2"] {
            assert!(is_identity_name(good), "{good}");
        }
        for bad in [
            "ADE_",
            "GITHUB_TOKEN",
            "ade_run_id",
            "ADE_X=Y",
            "XADE_RUN",
            "ADE_RUN-ID",
        ] {
            assert!(!is_identity_name(bad), "{bad}");
        }
    }

    #[test]
    fn time_limits_read_in_seconds() {
        assert_eq!(seconds(Duration::from_secs(600)), "600 s");
        assert_eq!(seconds(Duration::from_millis(1500)), "1.5 s");
    }
}
