//! From a run's inputs (or a planner's) to an [`Invocation`]: the prompt and task files written
//! into the scratch folder, the command's placeholders filled, stdin chosen, and the whole
//! environment built from nothing: `ADE_*` variables, a per-run `HOME` and `TMPDIR`, the runner's
//! `PATH`, `LANG=C.UTF-8`, the agent's `env` and its declared secrets. Nothing of ade's own
//! environment reaches the agent otherwise, so no forge credential can.

use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use super::inputs::RunInputs;
use super::plan_prompt::{PlanInputs, PlanPromptView};
use super::prompt::PromptView;
use super::{AgentRegistry, Placeholder, PromptMode, SecretSource, Selection};
use crate::runner::env::{Invocation, PathAccess, PathGrant, StdinSource};
use crate::templates::TemplateError;

/// Linux refuses a single argument longer than this (`MAX_ARG_STRLEN`, 32 pages).
const MAX_ARGUMENT_BYTES: usize = 128 * 1024;

/// The prompt file's name in the scratch folder.
pub const PROMPT_FILE: &str = "prompt.md";
/// The task file's name in the scratch folder.
pub const TASK_FILE: &str = "task.json";
/// The output file's name in the scratch folder (the agent writes it, if it does).
pub const OUTPUT_FILE: &str = "output.md";
/// A planner's structured file in its scratch folder: the goal, comments, policy and schema as
/// JSON (`{task_file}`, `$ADE_TASK_FILE`).
pub const GOAL_FILE: &str = "goal.json";
/// The file a planner writes its tasks to (`$ADE_OUTPUT`), in its scratch folder.
pub const PLAN_FILE: &str = "plan.json";

/// Where a run happens on the runner.
#[derive(Clone, Debug)]
pub struct RunPaths {
    /// The worktree the agent works in.
    pub worktree: PathBuf,
    /// The run's scratch folder: prompt, task and output files, HOME and TMPDIR. ade creates it
    /// if missing; it must not be inside the worktree.
    pub scratch: PathBuf,
    /// The run log the agent's output goes to.
    pub log: PathBuf,
}

/// Why a run's invocation could not be prepared.
#[derive(Debug, thiserror::Error)]
pub enum PrepareError {
    /// A path is relative, not UTF-8, or the scratch folder lies in the worktree.
    #[error("run paths: {0}")]
    Paths(String),
    /// The scratch folder or a file in it could not be written.
    #[error("cannot write {}: {source}", path.display())]
    Write {
        /// What was being written.
        path: PathBuf,
        /// The operating system's reason.
        source: io::Error,
    },
    /// The prompt template failed (a bug in ade).
    #[error("prompt: {0}")]
    Render(#[from] TemplateError),
    /// The task file did not serialize (a bug in ade).
    #[error("prompt: {0}")]
    TaskFile(#[source] serde_json::Error),
    /// Agents cannot run as the user ade runs as (root without `runner.agent_user`).
    #[error("{0}")]
    User(String),
    /// A stored secret the agent's registration names was not read for the run.
    #[error("agent {agent}: the stored secret {stored} (for {variable}) was not read for this run")]
    Secret {
        /// The agent.
        agent: String,
        /// The variable it goes to.
        variable: String,
        /// The stored secret's name.
        stored: String,
    },
    /// An argument came out that no process can be given.
    #[error("agent {agent}: {reason}")]
    Argument {
        /// The agent.
        agent: String,
        /// What is wrong.
        reason: String,
    },
}

/// What one agent process is briefed with: its prompt, the structured file beside it, the file it
/// may write back, and the variables naming what it works on. A run's agent and a planner differ
/// only in this; the rest of their invocations is made the same way.
struct Briefing {
    /// The rendered prompt.
    prompt: String,
    /// The structured file's name in the scratch folder, and its content (`{task_file}`).
    task_file: (&'static str, String),
    /// The output file's name in the scratch folder (`{output_file}`); ade removes a stale one.
    output_file: &'static str,
    /// The variables that say what the agent works on (`ADE_RUN_ID`, `ADE_PLAN_ID`, …).
    identity: Vec<(String, String)>,
    /// The variables that name the output file.
    output_vars: &'static [&'static str],
    /// What the agent may do in its worktree.
    worktree_access: PathAccess,
}

impl AgentRegistry {
    /// Prepares one run of `selection.agent`: writes `prompt.md` and `task.json` into the
    /// scratch folder (replacing what an earlier attempt left, never following a link), and
    /// returns the invocation for the environment to start.
    pub fn prepare(
        &self,
        selection: &Selection,
        inputs: &RunInputs,
        paths: &RunPaths,
    ) -> Result<Invocation, PrepareError> {
        let view = PromptView::new(inputs);
        let task =
            serde_json::to_string_pretty(&view.task_file()).map_err(PrepareError::TaskFile)?;
        let briefing = Briefing {
            prompt: view.render()?,
            task_file: (TASK_FILE, task),
            output_file: OUTPUT_FILE,
            identity: vec![
                ("ADE_RUN_ID".into(), view.run_id.clone()),
                ("ADE_TASK_ID".into(), view.task.id.clone()),
                ("ADE_GOAL".into(), inputs.goal_number.to_string()),
            ],
            output_vars: &["ADE_OUTPUT_FILE"],
            worktree_access: PathAccess::ReadWrite,
        };
        self.invocation(selection, paths, briefing)
    }

    /// Prepares a planner agent's run of `selection.agent`: writes the planner's `prompt.md`
    /// and `goal.json` into the scratch folder, removes a stale `plan.json`, and returns the
    /// invocation, whose worktree is read-only and whose `ADE_OUTPUT` (and `ADE_OUTPUT_FILE`,
    /// and `{output_file}`) names `plan.json`.
    pub fn prepare_plan(
        &self,
        selection: &Selection,
        inputs: &PlanInputs,
        paths: &RunPaths,
    ) -> Result<Invocation, PrepareError> {
        let scratch = utf8_absolute("scratch", &paths.scratch)?;
        let output = format!("{scratch}/{PLAN_FILE}");
        let view = PlanPromptView::new(inputs, &output);
        let goal =
            serde_json::to_string_pretty(&view.goal_file()).map_err(PrepareError::TaskFile)?;
        let briefing = Briefing {
            prompt: view.render()?,
            task_file: (GOAL_FILE, goal),
            output_file: PLAN_FILE,
            identity: vec![
                ("ADE_PLAN_ID".into(), view.plan_id.clone()),
                ("ADE_GOAL".into(), inputs.goal_number.to_string()),
            ],
            output_vars: &["ADE_OUTPUT", "ADE_OUTPUT_FILE"],
            worktree_access: PathAccess::Read,
        };
        self.invocation(selection, paths, briefing)
    }

    /// The invocation of `selection.agent` with `briefing`: the scratch folder and its files
    /// written, the command's placeholders filled, stdin chosen, the environment built.
    fn invocation(
        &self,
        selection: &Selection,
        paths: &RunPaths,
        briefing: Briefing,
    ) -> Result<Invocation, PrepareError> {
        let agent = &selection.agent;
        let worktree = utf8_absolute("worktree", &paths.worktree)?;
        let scratch = utf8_absolute("scratch", &paths.scratch)?;
        if paths.scratch.starts_with(&paths.worktree) {
            return Err(PrepareError::Paths(
                "the scratch folder must not be inside the worktree".to_owned(),
            ));
        }
        let owner = self
            .agent_user()
            .map_err(|err| PrepareError::User(err.to_string()))?;
        let home = paths.scratch.join("home");
        let tmp = paths.scratch.join("tmp");
        private_dir(&paths.scratch)?;
        private_dir(&home)?;
        private_dir(&tmp)?;

        let prompt = briefing.prompt;
        let (task_name, task) = briefing.task_file;
        let prompt_file = paths.scratch.join(PROMPT_FILE);
        let task_file = paths.scratch.join(task_name);
        let output_file = paths.scratch.join(briefing.output_file);
        write_fresh(&prompt_file, prompt.as_bytes())?;
        write_fresh(&task_file, (task + "\n").as_bytes())?;
        remove_stale(&output_file)?;
        if let Some(user) = &owner {
            for path in [&paths.scratch, &home, &tmp, &prompt_file, &task_file] {
                std::os::unix::fs::lchown(path, Some(user.uid), Some(user.gid)).map_err(
                    |source| PrepareError::Write {
                        path: path.clone(),
                        source,
                    },
                )?;
            }
        }

        let prompt_file_text = format!("{scratch}/{PROMPT_FILE}");
        let task_file_text = format!("{scratch}/{task_name}");
        let output_file_text = format!("{scratch}/{}", briefing.output_file);
        let model = agent.model.clone().unwrap_or_default();
        let value = |p: Placeholder| match p {
            Placeholder::PromptFile => prompt_file_text.clone(),
            Placeholder::Prompt => prompt.clone(),
            Placeholder::TaskFile => task_file_text.clone(),
            Placeholder::Worktree => worktree.to_owned(),
            Placeholder::Scratch => scratch.to_owned(),
            Placeholder::Model => model.clone(),
            Placeholder::OutputFile => output_file_text.clone(),
        };

        let argv: Vec<String> = agent.command.iter().map(|t| t.expand(value)).collect();
        for arg in &argv {
            if arg.contains('\0') {
                return Err(PrepareError::Argument {
                    agent: agent.name.clone(),
                    reason: "an argument holds a NUL character".to_owned(),
                });
            }
            if arg.len() >= MAX_ARGUMENT_BYTES {
                return Err(PrepareError::Argument {
                    agent: agent.name.clone(),
                    reason: format!(
                        "an argument of {} bytes is longer than the system allows ({MAX_ARGUMENT_BYTES}); give this agent its prompt by file or stdin",
                        arg.len()
                    ),
                });
            }
        }
        let stdin = match agent.prompt {
            PromptMode::Stdin => StdinSource::File(prompt_file.clone()),
            PromptMode::File | PromptMode::Argument => StdinSource::Null,
        };

        let mut env: Vec<(String, String)> = briefing.identity;
        env.extend([
            ("ADE_WORKTREE".into(), worktree.to_owned()),
            ("ADE_PROMPT_FILE".into(), prompt_file_text.clone()),
            ("ADE_TASK_FILE".into(), task_file_text.clone()),
        ]);
        for name in briefing.output_vars {
            env.push(((*name).into(), output_file_text.clone()));
        }
        env.extend([
            ("ADE_SCRATCH".into(), scratch.to_owned()),
            ("HOME".into(), format!("{scratch}/home")),
            ("TMPDIR".into(), format!("{scratch}/tmp")),
            ("PATH".into(), self.runner().path_var()),
            ("LANG".into(), "C.UTF-8".into()),
        ]);
        for (name, template) in &agent.env {
            env.push((name.clone(), template.expand(value)));
        }
        for secret in &agent.secrets {
            let value = match (&secret.value, &secret.source) {
                (Some(value), _) => value,
                (None, SecretSource::Store(stored)) => selection
                    .stored
                    .iter()
                    .find(|(name, _)| name == stored)
                    .map(|(_, value)| value)
                    .ok_or_else(|| PrepareError::Secret {
                        agent: agent.name.clone(),
                        variable: secret.name.clone(),
                        stored: stored.clone(),
                    })?,
                (None, _) => unreachable!("only a stored secret is read per run"),
            };
            env.push((secret.name.clone(), value.expose().to_owned()));
        }

        Ok(Invocation {
            argv,
            stdin,
            env,
            worktree: paths.worktree.clone(),
            worktree_access: briefing.worktree_access,
            scratch: paths.scratch.clone(),
            timeout: selection.timeout,
            output_cap: agent.output_cap,
            log: paths.log.clone(),
            network: agent.network.clone(),
            environment: selection.environment,
            extra_paths: self
                .runner()
                .agent_dirs
                .iter()
                .map(|dir| PathGrant {
                    path: dir.clone(),
                    access: PathAccess::ReadExecute,
                })
                .collect(),
            preparation: Vec::new(),
        })
    }
}

fn utf8_absolute<'a>(what: &str, path: &'a Path) -> Result<&'a str, PrepareError> {
    let text = path
        .to_str()
        .ok_or_else(|| PrepareError::Paths(format!("the {what} path is not UTF-8")))?;
    if !path.is_absolute() {
        return Err(PrepareError::Paths(format!(
            "the {what} path {text} is not absolute"
        )));
    }
    Ok(text)
}

/// A folder only its owner can enter. Whatever else is in its place (a file, or a link an earlier
/// agent left) is removed, never followed.
fn private_dir(path: &Path) -> Result<(), PrepareError> {
    match fs::symlink_metadata(path) {
        Ok(meta) if meta.is_dir() => return Ok(()),
        Ok(_) => remove_stale(path)?,
        Err(err) if err.kind() == io::ErrorKind::NotFound => {}
        Err(source) => {
            return Err(PrepareError::Write {
                path: path.to_path_buf(),
                source,
            });
        }
    }
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(path)
        .map_err(|source| PrepareError::Write {
            path: path.to_path_buf(),
            source,
        })
}

/// Removes whatever is at `path` (a link is removed, not followed).
fn remove_stale(path: &Path) -> Result<(), PrepareError> {
    match fs::symlink_metadata(path) {
        Ok(meta) if meta.is_dir() => fs::remove_dir_all(path),
        Ok(_) => fs::remove_file(path),
        Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(err) => Err(err),
    }
    .map_err(|source| PrepareError::Write {
        path: path.to_path_buf(),
        source,
    })
}

/// Writes a new file at `path`: whatever was there is removed first, and the file is created
/// exclusively, so a link an earlier agent left there is never followed.
fn write_fresh(path: &Path, content: &[u8]) -> Result<(), PrepareError> {
    remove_stale(path)?;
    let write = || -> io::Result<()> {
        let mut file = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)?;
        file.write_all(content)?;
        file.sync_all()
    };
    write().map_err(|source| PrepareError::Write {
        path: path.to_path_buf(),
        source,
    })
}
