//! The interface between the coordinator and a runner: a [`RunOrder`] says everything a runner
//! needs to carry out one run, and a [`RunOutcome`] says how it ended. The coordinator never looks
//! inside a runner, so the embedded runner and a remote runner process are interchangeable.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

use crate::forge::{CloneCredential, ForgeKind};
use crate::policy::{DataClass, DlpPattern, Environment, ExecutionPolicy, VerificationStep};
use crate::runner::env::EgressReport;
use crate::spec::Task;
use crate::verify::VerificationReport;

/// One run to carry out.
#[derive(Clone, Debug)]
pub struct RunOrder {
    /// ade's run id (`Ade-Run:`).
    pub run_id: i64,
    /// The task's attempt number, 1 for the first.
    pub attempt: i64,
    /// The forge.
    pub forge: ForgeKind,
    /// `owner/name`.
    pub repository: String,
    /// The goal: its issue number, title and text, sanitized when planned.
    pub goal_number: i64,
    /// The goal's title.
    pub goal_title: String,
    /// The goal's text.
    pub goal_body: String,
    /// The spec version (`owner/name#12@v2`), the value of `Ade-Spec:`.
    pub spec_reference: String,
    /// The goal (`owner/name#12`).
    pub goal_reference: String,
    /// The spec's version number.
    pub spec_version: u32,
    /// The task to carry out.
    pub task: Task,
    /// What the tasks it depends on produced.
    pub dependencies: Vec<DependencyResult>,
    /// The registered agent to run.
    pub agent: String,
    /// The policy's execution rules: the environments allowed, the default one, the time limit.
    /// The runner picks the environment from these, the task's wish and the agent's trust.
    pub execution: ExecutionPolicy,
    /// The commit the run starts from.
    pub base_sha: String,
    /// The branch to push.
    pub branch: String,
    /// The commit the branch holds now (an earlier attempt's), or `None` if it must not exist:
    /// the push is refused if someone else moved it.
    pub expected_branch_head: Option<String>,
    /// Who asked for the run: the commit's co-author.
    pub requester: String,
    /// What went wrong in the previous attempt, for the agent.
    pub feedback: Option<String>,
    /// What the feedback answers: a failure, or reviews asking for changes.
    pub feedback_from: crate::runner::agent::FeedbackFrom,
    /// Paths the agent may not change (normalized, each covering what is below it).
    pub protected_paths: Vec<String>,
    /// The policy's DLP rules beyond the built-in ones.
    pub dlp_rules: Vec<DlpPattern>,
    /// Who let the task push content ade cannot read (`/ade allow-unscanned`), if anyone: DLP
    /// then lists binary files and content past its caps instead of blocking on them. Secrets in
    /// what it reads still block.
    pub unscanned_allowed_by: Option<String>,
    /// The policy's verification steps (static first), run on the pushed change in the run's
    /// worktree, in the agent's environment.
    pub verification: Vec<VerificationStep>,
    /// Where to fetch from, valid for this run only (on GitHub it may read this repository's
    /// contents and nothing else); the push asks for its own ([`RunProgress::push_credential`]).
    /// A remote runner gets it over its authenticated channel; it is never written where the agent
    /// can read it.
    pub credential: CloneCredential,
}

/// What an earlier task of the goal produced, for the prompt of a task that depends on it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DependencyResult {
    /// The task id.
    pub task_id: String,
    /// Its title.
    pub title: String,
    /// Its approval, if one was opened.
    pub pull_number: Option<i64>,
    /// The merged commit, if known.
    pub head_sha: Option<String>,
    /// What its agent said it did (its run's summary), untrusted.
    pub summary: String,
}

/// How a run ended.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum RunOutcome {
    /// The change was committed, checked and pushed to the branch, and verified.
    Pushed {
        /// The commit pushed.
        head_sha: String,
        /// What happened.
        report: RunReport,
        /// What verification concluded about the commit.
        verification: VerificationReport,
        /// Where the verification's log is, on the runner (runs from before it had its own log
        /// wrote it into the run log).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        verification_log: Option<String>,
    },
    /// The agent changed nothing.
    NoChanges {
        /// What happened.
        report: RunReport,
    },
    /// The change was refused before anything was pushed (a protected path, a DLP hit).
    Blocked {
        /// Why, naming the files and never a secret (Markdown).
        reason: String,
        /// What happened.
        report: RunReport,
    },
    /// Something failed: the agent, its time limit, git, the runner, the runner's setup.
    Failed {
        /// Why, for humans.
        reason: String,
        /// Whose fault, which decides what happens next. Reports stored before faults had names
        /// (with `retryable` instead) read as [`Fault::Run`].
        #[serde(default)]
        fault: Fault,
        /// What happened.
        report: RunReport,
    },
    /// Stopped by `/ade cancel`.
    Cancelled {
        /// What happened.
        report: RunReport,
    },
}

/// Whose fault a failed run was: what decides whether, and when, it is tried again.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Fault {
    /// The run's own (the agent failed or timed out, its order or change was refused): running
    /// it again as it is changes nothing.
    #[default]
    Run,
    /// The runner's, for a moment (git, the disk, the forge): another attempt may succeed at once.
    Runner,
    /// The runner's setup (the agent's program cannot be started: a permission, a folder the agent
    /// user cannot enter, a missing container runtime): the run waits and is tried again until
    /// the operator fixes it, and at once when ade restarts (docs/runner.md).
    Setup,
}

impl RunOutcome {
    /// The report, whichever way the run ended.
    pub fn report(&self) -> &RunReport {
        match self {
            RunOutcome::Pushed { report, .. }
            | RunOutcome::NoChanges { report }
            | RunOutcome::Blocked { report, .. }
            | RunOutcome::Failed { report, .. }
            | RunOutcome::Cancelled { report } => report,
        }
    }
}

/// What a run did, for the approval's body, the goal's comment and the run page.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunReport {
    /// The runner that carried it out.
    pub runner: String,
    /// Where the agent ran (`worktree`, `container`, `main`).
    pub environment: String,
    /// How the agent ended (`exited 0`, `timed out after 600 s`, `killed by signal 9`).
    pub agent_exit: String,
    /// How long the agent ran, in milliseconds.
    pub agent_ms: u64,
    /// What the agent said the run cost, in micro-dollars (Claude Code's `total_cost_usd`);
    /// `None` when its output says nothing of cost.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost_micro_usd: Option<i64>,
    /// Files changed.
    pub files_changed: u64,
    /// Lines added.
    pub insertions: u64,
    /// Lines removed.
    pub deletions: u64,
    /// The last lines of the agent's output, untrusted.
    pub summary: Vec<String>,
    /// Agent configuration files the run changed.
    pub agent_config_changes: Vec<String>,
    /// Things a reviewer should look at (links out of the worktree, suppression comments, ...).
    pub flagged: Vec<String>,
    /// What the environment said about confinement (Landlock, sandbox, limits).
    pub confinement: Vec<String>,
    /// What the agent's own output said went wrong (failing tool calls, errors), as one
    /// sentence, sanitized and with secrets masked; `None` when it reported nothing or its
    /// template reads no output.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_reported: Option<String>,
    /// What the run pushed that no check read, and who allowed that; `None` when it pushed
    /// nothing unread.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unscanned: Option<Unscanned>,
    /// Where the run changed what, for the reply to the reviews a run took: each path and the
    /// lines it gained (numbered in the new file). At most [`MAX_TOUCHED_FILES`] paths.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub touched: Vec<TouchedFile>,
    /// Where the run log is, on the runner.
    pub log: Option<String>,
    /// The connections an `allowlist` agent made, by destination and verdict, for the audit
    /// log (`run.egress`); destinations are the agent's text, escaped and redacted.
    #[serde(default, skip_serializing_if = "EgressReport::is_empty")]
    pub egress: EgressReport,
}

/// Most paths a report's [`RunReport::touched`] lists.
pub const MAX_TOUCHED_FILES: usize = 200;

/// Most line spans one [`TouchedFile`] lists.
pub const MAX_TOUCHED_SPANS: usize = 50;

/// One path a run changed, and which lines of it: what the reply to a review says changed where
/// a reviewer commented.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TouchedFile {
    /// The path, relative to the repository root, as git stores it (untrusted: escaped where
    /// shown).
    pub path: String,
    /// Added, modified or deleted.
    pub change: Touch,
    /// The runs of added lines, `(first, last)` in the new file, in order; empty for a deletion,
    /// a binary file or a change that only removed lines.
    pub added: Vec<(u32, u32)>,
    /// Whether `added` may miss lines: the file was not read as text (binary, past the caps ade
    /// reads), or it had more runs than [`MAX_TOUCHED_SPANS`].
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub partial: bool,
}

/// How a run changed a path.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Touch {
    /// New in the run.
    Added,
    /// Changed content or mode.
    Modified,
    /// Removed.
    Deleted,
}

impl TouchedFile {
    /// The touched files of a change: each path with its added lines as runs, capped at
    /// [`MAX_TOUCHED_FILES`] paths and [`MAX_TOUCHED_SPANS`] runs each; a file whose content was
    /// not all read, or whose runs were cut, is marked [`partial`](Self::partial).
    pub fn of(changes: &crate::runner::changes::Changes) -> Vec<TouchedFile> {
        use crate::runner::changes::ChangeKind;
        changes
            .files
            .iter()
            .take(MAX_TOUCHED_FILES)
            .map(|file| {
                let lines = changes
                    .added
                    .iter()
                    .find(|a| a.path == file.path)
                    .map(|a| a.lines.iter().map(|(n, _)| *n).collect::<Vec<u32>>())
                    .unwrap_or_default();
                let (added, cut) = spans(&lines);
                let unread = changes.unread.iter().any(|u| u.path == file.path);
                TouchedFile {
                    path: file.path.clone(),
                    change: match file.change {
                        ChangeKind::Added => Touch::Added,
                        ChangeKind::Modified => Touch::Modified,
                        ChangeKind::Deleted => Touch::Deleted,
                    },
                    added,
                    partial: (cut || unread) && file.change != ChangeKind::Deleted,
                }
            })
            .collect()
    }
}

/// Line numbers in order as runs of consecutive lines, at most [`MAX_TOUCHED_SPANS`], and
/// whether runs past those were left out.
fn spans(lines: &[u32]) -> (Vec<(u32, u32)>, bool) {
    let mut out: Vec<(u32, u32)> = Vec::new();
    for &n in lines {
        if let Some((_, last)) = out.last_mut()
            && n == last.saturating_add(1)
        {
            *last = n;
        } else if out.len() == MAX_TOUCHED_SPANS {
            return (out, true);
        } else {
            out.push((n, n));
        }
    }
    (out, false)
}

/// Content a run pushed without DLP reading it (binary files, content past the scan caps),
/// because a maintainer allowed it for the task: the approval says so, so a reviewer looks.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unscanned {
    /// The login that allowed it with `/ade allow-unscanned`.
    pub allowed_by: String,
    /// The paths, at most `crate::runner::dlp::MAX_UNSCANNED`.
    pub files: Vec<UnscannedFile>,
    /// Paths past those listed, counted only.
    pub more: usize,
}

/// One path a run pushed unread.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnscannedFile {
    /// The path, with invisible and line-breaking characters escaped and secrets redacted.
    pub path: String,
    /// Why it was not read, in words.
    pub why: String,
}

impl RunReport {
    /// Why a run that changed nothing failed: said plainly, with what the agent reported going
    /// wrong, so a run whose every tool call failed does not pass for one with nothing to do.
    pub fn no_changes_reason(&self) -> String {
        match &self.agent_reported {
            Some(reported) => format!("no changes: the agent changed nothing; {reported}"),
            None => "no changes: the agent changed nothing".to_string(),
        }
    }
}

/// Something that carries out runs: the embedded runner, or a remote one.
#[async_trait::async_trait]
pub trait Runner: Send + Sync + 'static {
    /// The runner's name, shown in reports.
    fn name(&self) -> &str;

    /// Carries out `order`; stops early when `cancel` fires. Tells `progress` when the change
    /// is pushed, before verifying it. Never panics on a failing agent: every way a run can end
    /// is a [`RunOutcome`].
    async fn execute(
        &self,
        order: RunOrder,
        cancel: CancellationToken,
        progress: &dyn RunProgress,
    ) -> RunOutcome;

    /// Verifies one commit of an approval again (someone pushed to its branch, or asked): the
    /// policy's steps in a clean worktree at `order.head_sha`, in the environment class the task's
    /// agent runs in. Stops when `cancel` fires (a newer head arrived, `/ade cancel`).
    async fn verify(&self, order: VerifyOrder, cancel: CancellationToken) -> VerifyOutcome;

    /// Runs a planner agent for a goal: a worktree at `order.commit` that the planner can read
    /// and not write (refused by its environment: Landlock, or a read-only mount), the goal, the
    /// policy and the spec's schema in its prompt, and `$ADE_OUTPUT` read back when it exits.
    /// Stops when `cancel` fires. A runner that cannot run planners says so as a failure.
    async fn plan(&self, order: PlanOrder, cancel: CancellationToken) -> PlanOutcome {
        let _ = (order, cancel);
        PlanOutcome::Failed {
            reason: format!("the runner {} cannot run planner agents", self.name()),
            fault: Fault::Setup,
            report: RunReport::default(),
        }
    }

    /// Keeps the runner warm for a repository whose default branch moved: brings `order.commit`
    /// into the repository's mirror and a free worktree to it, so the next run of a goal planned
    /// on it finds both ready. Repositories the runner has never run anything for are left
    /// alone. A runner with nothing to keep warm does nothing.
    async fn warm(&self, order: WarmOrder) -> Result<(), String> {
        let _ = order;
        Ok(())
    }

    /// The runs whose data the runner still keeps (logs, prompts, scratch folders): what the
    /// retention sweep asks about. A runner that keeps nothing after a run keeps no runs.
    async fn kept_runs(&self) -> Result<Vec<i64>, String> {
        Ok(Vec::new())
    }

    /// Measures or deletes (`how`) `classes` of what the runner keeps of run `run`, unless
    /// something of the run is in flight on it ([`Forgotten::Busy`]; the next sweep tries
    /// again). Retention measures, records what it is about to delete, then deletes, once the
    /// run and its verifications are finished and reported (docs/retention.md).
    async fn forget(
        &self,
        run: i64,
        classes: &[DataClass],
        how: Forget,
    ) -> Result<Forgotten, String> {
        let _ = (run, classes, how);
        Ok(Forgotten::Done(BTreeMap::new()))
    }
}

/// A planner agent's run: what [`Runner::plan`] needs to have a goal planned (docs/spec.md#the-planner-agent).
/// The planner reads a worktree of the default branch it cannot write, and writes a spec's JSON
/// to `$ADE_OUTPUT`; the coordinator validates what it wrote.
#[derive(Clone, Debug)]
pub struct PlanOrder {
    /// ade's id of this planner run; its log and scratch folder are named after it.
    pub plan_id: i64,
    /// The forge.
    pub forge: ForgeKind,
    /// `owner/name`.
    pub repository: String,
    /// The default branch's head: the worktree the planner reads is checked out at it.
    pub commit: String,
    /// The registered planner agent to run.
    pub agent: String,
    /// The policy's execution rules (environments allowed, the default one, the time limit).
    pub execution: ExecutionPolicy,
    /// The goal's issue number.
    pub goal_number: i64,
    /// The issue's title, sanitized.
    pub goal_title: String,
    /// The issue's text, sanitized.
    pub goal_body: String,
    /// The issue's comments up to the `/ade plan` command, oldest first, sanitized.
    pub comments: Vec<PlanComment>,
    /// The text after `--` in the command, sanitized.
    pub instructions: Option<String>,
    /// The repository's policy as it bears on a plan (agents and environments allowed, the
    /// defaults, the task limit, protected paths), as JSON, for the planner to read.
    pub policy: String,
    /// The spec's JSON Schema (`ade schema spec`), which `$ADE_OUTPUT` must follow.
    pub schema: String,
    /// A short-lived credential for fetching the commit.
    pub credential: CloneCredential,
}

/// One comment on the goal's issue, as the planner reads it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanComment {
    /// Who wrote it.
    pub author: String,
    /// What it says, sanitized.
    pub body: String,
}

/// How a planner run ended.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum PlanOutcome {
    /// The planner exited 0; `output` is what it left in `$ADE_OUTPUT`.
    Finished {
        /// The file the planner wrote, as read back.
        output: PlanOutput,
        /// What happened (agent, environment, exit, time, confinement, log).
        report: RunReport,
    },
    /// The planner, its time limit, the runner or its setup failed.
    Failed {
        /// Why, for humans.
        reason: String,
        /// Whose fault.
        fault: Fault,
        /// What happened.
        report: RunReport,
    },
    /// Stopped by `/ade cancel` or a newer `/ade plan`.
    Cancelled {
        /// What happened.
        report: RunReport,
    },
}

impl PlanOutcome {
    /// The report, whichever way the planner ended.
    pub fn report(&self) -> &RunReport {
        match self {
            PlanOutcome::Finished { report, .. }
            | PlanOutcome::Failed { report, .. }
            | PlanOutcome::Cancelled { report } => report,
        }
    }
}

/// Most bytes of `$ADE_OUTPUT` a runner reads back from a planner.
pub const MAX_PLAN_OUTPUT_BYTES: u64 = 1024 * 1024;

/// What a planner left in `$ADE_OUTPUT`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "output", rename_all = "snake_case")]
pub enum PlanOutput {
    /// The file's text (UTF-8, at most [`MAX_PLAN_OUTPUT_BYTES`]).
    Written {
        /// The text.
        text: String,
    },
    /// No file was written.
    Missing,
    /// The file is larger than [`MAX_PLAN_OUTPUT_BYTES`].
    TooLarge {
        /// Its size.
        bytes: u64,
    },
    /// The file is not UTF-8 text, or not a regular file.
    Unreadable {
        /// Why.
        reason: String,
    },
}

/// Whether [`Runner::forget`] deletes, or only says what it would delete.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Forget {
    /// Count the files and bytes, delete nothing.
    Measure,
    /// Delete them.
    Delete,
}

/// What [`Runner::forget`] found or did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Forgotten {
    /// Files and bytes per class, measured or deleted (classes with nothing are left out).
    Done(BTreeMap<DataClass, Removed>),
    /// A run or verification of the run is in flight here: nothing was measured or deleted.
    Busy,
}

/// What deleting one class of a run's data removed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Removed {
    /// Files (and links) removed.
    pub files: u64,
    /// Their bytes.
    pub bytes: u64,
}

/// What the coordinator hears from a runner while a run goes on.
#[async_trait::async_trait]
pub trait RunProgress: Send + Sync {
    /// The run is about to push: a fresh credential that may push to the run's repository, asked
    /// for now and not when the run started, so that no agent run outlives it and the token that
    /// may write exists only for the push. `Err` says why the forge gave none.
    async fn push_credential(&self) -> Result<CloneCredential, String>;

    /// The run's change was pushed as `head_sha` and its verification starts now: the coordinator
    /// opens the approval (a draft while verification runs, described by `report`) and marks
    /// `ade/verify` in progress. The token it returns fires when that verification must stop (a
    /// newer head was pushed).
    async fn published(&self, head_sha: &str, report: &RunReport) -> CancellationToken;
}

/// One commit to verify again: what [`Runner::verify`] needs.
#[derive(Clone, Debug)]
pub struct VerifyOrder {
    /// ade's id of the verification (its log is named after it).
    pub verification_id: i64,
    /// The run whose change is verified (its folder holds the log).
    pub run_id: i64,
    /// The forge.
    pub forge: ForgeKind,
    /// `owner/name`.
    pub repository: String,
    /// The commit to verify.
    pub head_sha: String,
    /// The task's agent: its environment class is the steps'.
    pub agent: String,
    /// The environment the task asked for, if any.
    pub task_environment: Option<Environment>,
    /// The policy's execution rules.
    pub execution: ExecutionPolicy,
    /// The steps.
    pub steps: Vec<VerificationStep>,
    /// DLP rules, to mask the steps' output.
    pub dlp_rules: Vec<DlpPattern>,
    /// Variables naming the run for the steps (`ADE_RUN_ID`, `ADE_TASK_ID`, `ADE_SPEC`).
    pub identity: Vec<(String, String)>,
    /// A short-lived credential for fetching the commit.
    pub credential: CloneCredential,
}

/// How a verification by [`Runner::verify`] went.
#[derive(Clone, Debug)]
pub struct VerifyOutcome {
    /// What the steps concluded (an `Error` verdict when they could not run).
    pub report: VerificationReport,
    /// Where the log is, on the runner.
    pub log: Option<String>,
}

/// A repository's default branch moved to `commit`: what [`Runner::warm`] needs.
#[derive(Clone, Debug)]
pub struct WarmOrder {
    /// The forge.
    pub forge: ForgeKind,
    /// `owner/name`.
    pub repository: String,
    /// The default branch's new head.
    pub commit: String,
    /// A short-lived credential for fetching.
    pub credential: CloneCredential,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_run_stored_before_faults_had_names_still_reads() {
        let report = serde_json::to_string(&RunReport::default()).unwrap();
        let stored = format!(
            r#"{{"outcome":"failed","reason":"the agent exited with status 1","retryable":false,"report":{report}}}"#
        );
        let outcome: RunOutcome = serde_json::from_str(&stored).expect("an old report reads");
        assert!(matches!(
            outcome,
            RunOutcome::Failed {
                fault: Fault::Run,
                ..
            }
        ));
        let now = serde_json::to_string(&RunOutcome::Failed {
            reason: "x".into(),
            fault: Fault::Setup,
            report: RunReport::default(),
        })
        .unwrap();
        assert!(now.contains(r#""fault":"setup""#), "{now}");
    }

    #[test]
    fn touched_files_keep_runs_of_added_lines_per_path() {
        use crate::runner::changes::{
            AddedLines, ChangeKind, ChangedFile, Changes, FileMode, Unread, UnreadWhy,
        };
        let file = |path: &str, change| ChangedFile {
            path: path.into(),
            change,
            mode: FileMode::Regular,
        };
        let changes = Changes {
            files: vec![
                file("a.md", ChangeKind::Modified),
                file("gone.md", ChangeKind::Deleted),
                file("trimmed.md", ChangeKind::Modified),
                file("logo.png", ChangeKind::Added),
            ],
            added: vec![AddedLines {
                path: "a.md".into(),
                lines: [1, 2, 3, 7, 9, 10]
                    .into_iter()
                    .map(|n| (n, String::new()))
                    .collect(),
            }],
            unread: vec![Unread {
                path: "logo.png".into(),
                why: UnreadWhy::Binary { nul_at: 3 },
            }],
            ..Changes::default()
        };
        let touched = TouchedFile::of(&changes);
        assert_eq!(
            touched,
            vec![
                TouchedFile {
                    path: "a.md".into(),
                    change: Touch::Modified,
                    added: vec![(1, 3), (7, 7), (9, 10)],
                    partial: false,
                },
                TouchedFile {
                    path: "gone.md".into(),
                    change: Touch::Deleted,
                    added: vec![],
                    partial: false,
                },
                TouchedFile {
                    path: "trimmed.md".into(),
                    change: Touch::Modified,
                    added: vec![],
                    partial: false,
                },
                TouchedFile {
                    path: "logo.png".into(),
                    change: Touch::Added,
                    added: vec![],
                    partial: true,
                },
            ]
        );
        let every_other: Vec<u32> = (1..=400).step_by(2).collect();
        let (kept, cut) = spans(&every_other);
        assert_eq!((kept.len(), cut), (MAX_TOUCHED_SPANS, true));
        let few: Vec<u32> = (1..=99).step_by(2).collect();
        assert_eq!(spans(&few), (few.iter().map(|n| (*n, *n)).collect(), false));
        let stored = serde_json::to_string(&RunReport::default()).unwrap();
        assert!(!stored.contains("touched"), "an empty list is not stored");
    }
}
