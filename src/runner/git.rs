//! The one way ade runs git. A worktree is written by an agent, and the mirror it belongs to holds
//! configuration an agent may have reached, so every git command ade runs is built here with
//! everything the repository or the agent could control switched off: system and global config,
//! hooks, fsmonitor, attributes (and with them clean/smudge filters, textconv and diff drivers),
//! credential helpers, pagers, editors, submodule recursion, replace objects and every transport
//! but HTTP(S). An agent-set `diff.external` cannot be unset by configuration (git runs even an
//! empty value), so every diff-family subcommand gets `--no-ext-diff --no-textconv` added. git
//! reads `$GIT_DIR/info/attributes` whatever `--attr-source` says; the mirror's integrity check
//! ([`super::mirror::Mirror::check_integrity`]) keeps that file absent. The repository is always named explicitly (`--git-dir`, `--work-tree`), so a `.git`
//! file an agent rewrote cannot point ade's git at a repository of its making.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use base64::Engine;
use tokio::io::AsyncWriteExt;

use crate::forge::CloneCredential;

/// The empty tree: attributes are read from it instead of the worktree's `.gitattributes`.
pub const EMPTY_TREE: &str = "4b825dc642cb6eb9a060e54bf8d69288fbee4904";

/// How long one git command may take before it is killed.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(600);

/// The most of a failing command's stderr kept in its error.
const STDERR_KEPT: usize = 4096;

/// Runs git safely: see the module documentation for what "safely" means.
#[derive(Clone, Debug)]
pub struct Git {
    program: PathBuf,
    empty_dir: PathBuf,
}

/// Why a git command failed.
#[derive(Debug, thiserror::Error)]
pub enum GitError {
    /// git could not be started.
    #[error("cannot run git ({program}): {source}")]
    Spawn {
        /// The program.
        program: String,
        /// Why.
        source: std::io::Error,
    },
    /// git ran and failed.
    #[error("git {command} failed ({status}): {stderr}")]
    Failed {
        /// The subcommand and its arguments, without secrets.
        command: String,
        /// Its exit status.
        status: String,
        /// The end of what it wrote to stderr.
        stderr: String,
    },
    /// git took longer than allowed and was killed.
    #[error("git {command} took longer than {secs} s and was stopped")]
    TimedOut {
        /// The subcommand and its arguments.
        command: String,
        /// The limit.
        secs: u64,
    },
    /// Something around git failed (a pipe, a file).
    #[error("git {command}: {source}")]
    Io {
        /// The subcommand and its arguments.
        command: String,
        /// Why.
        source: std::io::Error,
    },
}

impl Git {
    /// A git runner using `program` (usually `git`). `empty_dir` is a folder ade owns that stays
    /// empty: it serves as the hooks folder and as HOME, so nothing is found in either.
    pub fn new(program: impl Into<PathBuf>, empty_dir: impl Into<PathBuf>) -> std::io::Result<Git> {
        let empty_dir = empty_dir.into();
        std::fs::create_dir_all(&empty_dir)?;
        Ok(Git {
            program: program.into(),
            empty_dir,
        })
    }

    /// A command on no repository (`git init`, `git --version`).
    pub fn command(&self) -> GitCommand {
        GitCommand::new(self, None, None)
    }

    /// A command on the repository at `git_dir` (a bare mirror, or a worktree's admin folder).
    pub fn in_repo(&self, git_dir: &Path) -> GitCommand {
        GitCommand::new(self, Some(git_dir), None)
    }

    /// A command on the worktree `work_tree`, whose admin folder is `git_dir` (never read from the
    /// worktree's `.git` file).
    pub fn in_worktree(&self, git_dir: &Path, work_tree: &Path) -> GitCommand {
        GitCommand::new(self, Some(git_dir), Some(work_tree))
    }
}

/// One git command being built; run it with [`GitCommand::run`].
pub struct GitCommand {
    program: PathBuf,
    args: Vec<OsString>,
    /// How many of `args` are ade's own global options, before the caller's.
    fixed: usize,
    env: Vec<(OsString, OsString)>,
    cwd: Option<PathBuf>,
    stdin: Option<Vec<u8>>,
    timeout: Duration,
    shown: Vec<String>,
}

/// Subcommands that would run `diff.external` or a textconv driver unless told not to.
const DIFF_FAMILY: &[&str] = &["diff", "log", "show", "whatchanged"];

/// The configuration every command runs with, whatever the repository's config says.
fn safe_config(empty_dir: &Path) -> Vec<String> {
    let hooks = format!("core.hooksPath={}", empty_dir.display());
    [
        hooks.as_str(),
        "core.fsmonitor=false",
        "core.untrackedCache=false",
        "core.sshCommand=false",
        "core.askPass=",
        "core.pager=cat",
        "core.editor=false",
        "core.attributesFile=/dev/null",
        "core.symlinks=true",
        "core.protectNTFS=true",
        "core.protectHFS=true",
        "credential.helper=",
        "protocol.allow=never",
        "protocol.https.allow=always",
        "protocol.http.allow=always",
        "submodule.recurse=false",
        "fetch.recurseSubmodules=false",
        "push.recurseSubmodules=no",
        "gc.auto=0",
        "maintenance.auto=false",
        "safe.directory=*",
        "advice.detachedHead=false",
        "init.defaultBranch=main",
        "commit.gpgSign=false",
        "tag.gpgSign=false",
        "uploadpack.packObjectsHook=",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

impl GitCommand {
    fn new(git: &Git, git_dir: Option<&Path>, work_tree: Option<&Path>) -> GitCommand {
        let mut args: Vec<OsString> = vec![
            "--no-replace-objects".into(),
            format!("--attr-source={EMPTY_TREE}").into(),
        ];
        for setting in safe_config(&git.empty_dir) {
            args.push("-c".into());
            args.push(setting.into());
        }
        if let Some(dir) = git_dir {
            let mut arg = OsString::from("--git-dir=");
            arg.push(dir);
            args.push(arg);
        }
        if let Some(tree) = work_tree {
            let mut arg = OsString::from("--work-tree=");
            arg.push(tree);
            args.push(arg);
        }
        let home = git.empty_dir.as_os_str().to_owned();
        let env: Vec<(OsString, OsString)> = vec![
            ("PATH".into(), "/usr/local/bin:/usr/bin:/bin".into()),
            ("HOME".into(), home.clone()),
            ("XDG_CONFIG_HOME".into(), home),
            ("LC_ALL".into(), "C".into()),
            ("GIT_CONFIG_NOSYSTEM".into(), "1".into()),
            ("GIT_CONFIG_GLOBAL".into(), "/dev/null".into()),
            ("GIT_ATTR_NOSYSTEM".into(), "1".into()),
            ("GIT_TERMINAL_PROMPT".into(), "0".into()),
            ("GIT_NO_REPLACE_OBJECTS".into(), "1".into()),
            ("GIT_PROTOCOL_FROM_USER".into(), "0".into()),
            ("GIT_ALLOW_PROTOCOL".into(), "http:https".into()),
            ("GIT_CONFIG_COUNT".into(), "0".into()),
        ];
        GitCommand {
            program: git.program.clone(),
            fixed: args.len(),
            args,
            env,
            cwd: work_tree.map(Path::to_path_buf),
            stdin: None,
            timeout: DEFAULT_TIMEOUT,
            shown: Vec::new(),
        }
    }

    /// Adds an argument.
    pub fn arg(mut self, arg: impl AsRef<std::ffi::OsStr>) -> GitCommand {
        self.shown.push(arg.as_ref().to_string_lossy().into_owned());
        self.args.push(arg.as_ref().to_owned());
        self
    }

    /// Adds arguments.
    pub fn args<I, S>(mut self, args: I) -> GitCommand
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        for arg in args {
            self = self.arg(arg);
        }
        self
    }

    /// Gives this one command the HTTP credential, as an `http.extraHeader` passed through git's
    /// `GIT_CONFIG_*` environment: never on the command line (other users can read that), in a
    /// config file or in a remote URL.
    pub fn credential(mut self, credential: &CloneCredential) -> GitCommand {
        let basic = base64::engine::general_purpose::STANDARD.encode(format!(
            "{}:{}",
            credential.username,
            credential.password.expose()
        ));
        self.env.retain(|(k, _)| k != "GIT_CONFIG_COUNT");
        self.env.push(("GIT_CONFIG_COUNT".into(), "1".into()));
        self.env
            .push(("GIT_CONFIG_KEY_0".into(), "http.extraHeader".into()));
        self.env.push((
            "GIT_CONFIG_VALUE_0".into(),
            format!("Authorization: Basic {basic}").into(),
        ));
        self
    }

    /// Sets an environment variable for this command (author dates, identities).
    pub fn env(mut self, key: &str, value: impl Into<OsString>) -> GitCommand {
        self.env.push((key.into(), value.into()));
        self
    }

    /// Feeds `input` to the command's stdin (otherwise stdin is /dev/null).
    pub fn stdin(mut self, input: impl Into<Vec<u8>>) -> GitCommand {
        self.stdin = Some(input.into());
        self
    }

    /// Runs in `dir` instead of the worktree (or the current folder).
    pub fn current_dir(mut self, dir: impl Into<PathBuf>) -> GitCommand {
        self.cwd = Some(dir.into());
        self
    }

    /// Sets how long the command may take.
    pub fn timeout(mut self, timeout: Duration) -> GitCommand {
        self.timeout = timeout;
        self
    }

    /// The subcommand and arguments as shown in errors and logs.
    pub fn shown(&self) -> String {
        self.shown.join(" ")
    }

    /// Runs the command and returns its stdout; a non-zero exit is an error with stderr's end.
    pub async fn run(self) -> Result<Vec<u8>, GitError> {
        let output = self.output().await?;
        Ok(output.stdout)
    }

    /// Runs the command and returns stdout as text (lossy), trimmed at the end.
    pub async fn run_text(self) -> Result<String, GitError> {
        let stdout = self.run().await?;
        Ok(String::from_utf8_lossy(&stdout).trim_end().to_string())
    }

    /// The arguments as run: the caller's, with `--no-ext-diff --no-textconv` after a
    /// diff-family subcommand.
    fn final_args(&self) -> Vec<OsString> {
        let mut args = self.args.clone();
        let mut i = self.fixed;
        while i < args.len() {
            let arg = args[i].to_string_lossy();
            if arg == "-c" || arg == "-C" {
                i += 2;
                continue;
            }
            if !arg.starts_with('-') {
                if DIFF_FAMILY.contains(&arg.as_ref()) {
                    args.insert(i + 1, "--no-ext-diff".into());
                    args.insert(i + 2, "--no-textconv".into());
                }
                break;
            }
            i += 1;
        }
        args
    }

    /// Runs the command and returns its whole output; a non-zero exit is an error.
    pub async fn output(self) -> Result<std::process::Output, GitError> {
        let shown = self.shown();
        let output = self.output_any_status().await?;
        if output.status.success() {
            Ok(output)
        } else {
            Err(GitError::Failed {
                command: shown,
                status: output.status.to_string(),
                stderr: stderr_tail(&output.stderr),
            })
        }
    }

    /// Runs the command and returns its output whatever its exit status.
    pub async fn output_any_status(self) -> Result<std::process::Output, GitError> {
        let shown = self.shown();
        let mut command = tokio::process::Command::new(&self.program);
        command
            .args(self.final_args())
            .env_clear()
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(if self.stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        if let Some(dir) = &self.cwd {
            command.current_dir(dir);
        }
        let mut child = command.spawn().map_err(|source| GitError::Spawn {
            program: self.program.display().to_string(),
            source,
        })?;
        if let Some(input) = self.stdin {
            let mut pipe = child.stdin.take().expect("stdin is piped");
            // A command that exits without reading all of stdin is judged by its exit status.
            tokio::spawn(async move {
                let _ = pipe.write_all(&input).await;
            });
        }
        match tokio::time::timeout(self.timeout, child.wait_with_output()).await {
            Ok(Ok(output)) => Ok(output),
            Ok(Err(source)) => Err(GitError::Io {
                command: shown,
                source,
            }),
            Err(_) => Err(GitError::TimedOut {
                command: shown,
                secs: self.timeout.as_secs(),
            }),
        }
    }
}

/// The last part of stderr, as text.
fn stderr_tail(stderr: &[u8]) -> String {
    let text = String::from_utf8_lossy(stderr);
    let text = text.trim();
    if text.len() <= STDERR_KEPT {
        return text.to_string();
    }
    let mut start = text.len() - STDERR_KEPT;
    while !text.is_char_boundary(start) {
        start += 1;
    }
    format!("…{}", &text[start..])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user_args(command: &GitCommand) -> Vec<String> {
        command.final_args()[command.fixed..]
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect()
    }

    #[test]
    fn diff_family_commands_never_run_external_drivers() {
        let git = Git::new("git", std::env::temp_dir().join("ade-git-unit-empty")).expect("git");
        let diff = git
            .command()
            .args(["-c", "core.quotePath=false", "diff", "a", "b"]);
        assert_eq!(
            user_args(&diff),
            [
                "-c",
                "core.quotePath=false",
                "diff",
                "--no-ext-diff",
                "--no-textconv",
                "a",
                "b"
            ]
        );
        let log = git.command().args(["log", "-p"]);
        assert_eq!(
            user_args(&log),
            ["log", "--no-ext-diff", "--no-textconv", "-p"]
        );
        // A value that happens to be "diff" is not the subcommand.
        let status = git.command().args(["-c", "diff", "status"]);
        assert_eq!(user_args(&status), ["-c", "diff", "status"]);
        let add = git.command().args(["add", "diff"]);
        assert_eq!(user_args(&add), ["add", "diff"]);
    }
}
