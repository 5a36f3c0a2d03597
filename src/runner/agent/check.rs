//! What `ade serve` checks about its agents before it accepts work: every agent's program is
//! there, pinned versions match, and agents will not run as root. A failure stops ade with one
//! line naming the agent, rather than failing every run later.

use crate::runner::env::{AgentUser, SYSTEM_FOLDERS};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::io::AsyncReadExt;

use super::{Agent, AgentRegistry};
use crate::policy::ServerPolicy;
use crate::runner::RunnerConfig;

/// Refuses a workdir below a folder the agent user may not enter (any folder under `/root`, a
/// `mktemp -d` folder): the folders that exist on the way to it must each let that user pass.
pub fn workdir_reachable(workdir: &Path, user: &AgentUser) -> Result<(), StartError> {
    let absolute = std::path::absolute(workdir).unwrap_or_else(|_| workdir.to_path_buf());
    for folder in absolute.ancestors().collect::<Vec<_>>().into_iter().rev() {
        let Ok(meta) = std::fs::metadata(folder) else {
            // Not there yet: ade creates it, open to every user.
            break;
        };
        let mode = meta.mode();
        let passes = (meta.uid() == user.uid && mode & 0o100 != 0)
            || (meta.gid() == user.gid && mode & 0o010 != 0)
            || mode & 0o001 != 0;
        if !passes {
            return Err(StartError::Workdir(format!(
                "{} is inside {} (mode {:04o}, owner uid {}), which the agent user (uid {}) cannot                  enter, so every run would fail with \"Permission denied\"; move storage.data_dir \
                 or runner.workdir to a folder every user may enter (such as /var/lib/ade), or \
                 let others enter {} (chmod o+x)",
                absolute.display(),
                folder.display(),
                mode & 0o7777,
                meta.uid(),
                user.uid,
                folder.display()
            )));
        }
    }
    Ok(())
}

/// How long a version command may take.
const VERSION_TIMEOUT: Duration = Duration::from_secs(15);
/// Most output of a version command read.
const VERSION_OUTPUT_CAP: u64 = 64 * 1024;

/// Why ade refuses to start with its agents.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The program is not on the runner's PATH, or not an executable file.
    #[error("agent {agent}: program {program} {reason}")]
    Missing {
        /// The agent.
        agent: String,
        /// Its program as configured.
        program: String,
        /// Where it was looked for.
        reason: String,
    },
    /// The version command failed, timed out, or printed another version than the pin.
    #[error("agent {agent}: {reason}")]
    Version {
        /// The agent.
        agent: String,
        /// What happened.
        reason: String,
    },
    /// The agent could never run under the server's policy limits.
    #[error("agent {agent} cannot run on this server: {reason}")]
    Unusable {
        /// The agent.
        agent: String,
        /// Why.
        reason: String,
    },
    /// The server policy's default agent or planner is not registered.
    #[error("{key} names agent {agent}, which is not registered under [agents]")]
    DefaultNotRegistered {
        /// The policy key.
        key: &'static str,
        /// The name it gives.
        agent: String,
    },
    /// ade runs as root and no unprivileged user is configured, or that user is unusable.
    #[error("runner.agent_user: {0}")]
    User(String),
    /// The agent user cannot reach the runner's workdir, where its worktree and scratch folder
    /// are: every run would fail with "Permission denied".
    #[error("runner.workdir: {0}")]
    Workdir(String),
}

/// What the start check found about one agent, for the start-up log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AgentVersion {
    /// The agent.
    pub agent: String,
    /// Its program, resolved.
    pub program: PathBuf,
    /// The first line of its version output, when the version command ran.
    pub version: Option<String>,
}

impl AgentRegistry {
    /// The registry [`AgentRegistry::new`] makes, checked as `ade serve` needs it before
    /// accepting work: agents usable under the server policy, not run as root, programs present,
    /// pins matched. Each agent's program and version go to the log.
    pub async fn start(
        agents: &[Agent],
        runner: &RunnerConfig,
        policy: &ServerPolicy,
    ) -> Result<AgentRegistry, StartError> {
        let registry = AgentRegistry::new(agents, runner, policy)?;
        let user = registry.agent_user()?;
        if let Some(agent_user) = &user {
            workdir_reachable(&registry.runner().workdir, agent_user)?;
        }
        for found in registry.check_versions().await? {
            tracing::info!(
                agent = %found.agent,
                program = %found.program.display(),
                version = found.version.as_deref().unwrap_or("not checked"),
                agent_user = user.and(registry.runner().agent_user.as_deref()),
                "agent ready"
            );
        }
        Ok(registry)
    }

    /// Checks every agent's program and version pin, concurrently, each version command with a
    /// short timeout and the same minimal environment agents get (never ade's own). The version
    /// command runs only for agents with a `version` pin or an explicit `version_command`, so a
    /// plain script is never started with an argument it does not expect.
    pub async fn check_versions(&self) -> Result<Vec<AgentVersion>, StartError> {
        let mut checks = tokio::task::JoinSet::new();
        for (index, agent) in self.iter().enumerate() {
            let registry = self.clone();
            let agent = agent.clone();
            checks.spawn(async move { (index, registry.check_agent(&agent).await) });
        }
        let mut results = Vec::new();
        while let Some(joined) = checks.join_next().await {
            results.push(joined.expect("a version check does not panic"));
        }
        results.sort_by_key(|(index, _)| *index);
        results.into_iter().map(|(_, result)| result).collect()
    }

    async fn check_agent(&self, agent: &Agent) -> Result<AgentVersion, StartError> {
        let program = self.resolve(agent, &agent.program())?;
        self.within_reach(agent, &program)?;
        if agent.version.is_none() && agent.version_command.is_none() {
            return Ok(AgentVersion {
                agent: agent.name.clone(),
                program,
                version: None,
            });
        }
        let argv = agent.version_argv();
        let version_program = if argv[0] == agent.program() {
            program.clone()
        } else {
            self.resolve(agent, &argv[0])?
        };
        let output = self
            .run_version(agent, &version_program, &argv[1..])
            .await?;
        let first_line = output
            .lines()
            .map(str::trim)
            .find(|line| !line.is_empty())
            .unwrap_or("")
            .to_owned();
        if let Some(pin) = &agent.version
            && !pin_matches(pin, &output)
        {
            return Err(StartError::Version {
                agent: agent.name.clone(),
                reason: format!(
                    "version {pin} is pinned but `{}` printed {:?}",
                    argv.join(" "),
                    first_line.chars().take(200).collect::<String>()
                ),
            });
        }
        Ok(AgentVersion {
            agent: agent.name.clone(),
            program,
            version: Some(first_line),
        })
    }

    /// The program's path: an absolute path as it is, a bare name on the runner's PATH.
    fn resolve(&self, agent: &Agent, program: &str) -> Result<PathBuf, StartError> {
        let missing = |reason: String| StartError::Missing {
            agent: agent.name.clone(),
            program: program.to_owned(),
            reason,
        };
        if program.starts_with('/') {
            return if is_executable(Path::new(program)) {
                Ok(PathBuf::from(program))
            } else {
                Err(missing("is not an executable file".to_owned()))
            };
        }
        self.runner()
            .path
            .iter()
            .map(|dir| dir.join(program))
            .find(|candidate| is_executable(candidate))
            .ok_or_else(|| {
                missing(format!(
                    "is not found on the runner's PATH ({})",
                    self.runner().path_var()
                ))
            })
    }

    /// Refuses a program that an agent's confinement would hide: what it resolves to (links
    /// followed) must lie in a system folder or in one of `runner.agent_dirs`, which must exist.
    fn within_reach(&self, agent: &Agent, program: &Path) -> Result<(), StartError> {
        let missing = |reason: String| StartError::Missing {
            agent: agent.name.clone(),
            program: program.display().to_string(),
            reason,
        };
        let mut reachable: Vec<PathBuf> = SYSTEM_FOLDERS.iter().map(PathBuf::from).collect();
        for dir in &self.runner().agent_dirs {
            let real = dir.canonicalize().map_err(|e| {
                missing(format!(
                    "cannot be checked: runner.agent_dirs names {}, which cannot be read ({e})",
                    dir.display()
                ))
            })?;
            reachable.extend([dir.clone(), real]);
        }
        let real = program
            .canonicalize()
            .map_err(|e| missing(format!("cannot be resolved: {e}")))?;
        if reachable.iter().any(|dir| real.starts_with(dir)) {
            return Ok(());
        }
        Err(missing(format!(
            "is {}, outside the folders agents may run programs from ({}); add the folder it is \
             installed in to runner.agent_dirs",
            real.display(),
            reachable
                .iter()
                .map(|d| d.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        )))
    }

    async fn run_version(
        &self,
        agent: &Agent,
        program: &Path,
        args: &[String],
    ) -> Result<String, StartError> {
        let failed = |reason: String| StartError::Version {
            agent: agent.name.clone(),
            reason,
        };
        let home = std::env::temp_dir().join(format!(
            "ade-version-{}-{}-{}",
            std::process::id(),
            agent.name,
            fastrand::u64(..)
        ));
        std::fs::create_dir_all(&home)
            .map_err(|e| failed(format!("cannot make a HOME for the version command: {e}")))?;
        let mut child = tokio::process::Command::new(program)
            .args(args)
            .env_clear()
            .env("PATH", self.runner().path_var())
            .env("HOME", &home)
            .env("LANG", "C.UTF-8")
            .current_dir(&home)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| failed(format!("cannot run {}: {e}", program.display())))?;
        let stdout = child.stdout.take().expect("piped");
        let stderr = child.stderr.take().expect("piped");
        let run = async {
            let mut out = Vec::new();
            let mut err = Vec::new();
            let mut stdout = stdout.take(VERSION_OUTPUT_CAP);
            let mut stderr = stderr.take(VERSION_OUTPUT_CAP);
            let (read_out, read_err, status) = tokio::join!(
                stdout.read_to_end(&mut out),
                stderr.read_to_end(&mut err),
                child.wait()
            );
            read_out.and(read_err)?;
            Ok::<_, std::io::Error>((status?, out, err))
        };
        let result = tokio::time::timeout(VERSION_TIMEOUT, run).await;
        let _ = std::fs::remove_dir_all(&home);
        let (status, out, err) = result
            .map_err(|_| {
                failed(format!(
                    "version command timed out after {}s",
                    VERSION_TIMEOUT.as_secs()
                ))
            })?
            .map_err(|e| failed(format!("version command failed: {e}")))?;
        let text = String::from_utf8_lossy(&out).into_owned();
        if !status.success() {
            let err = String::from_utf8_lossy(&err);
            let line = err.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
            return Err(failed(format!(
                "version command exited with {status}: {}",
                line.chars().take(200).collect::<String>()
            )));
        }
        if text.trim().is_empty() {
            // Some tools print their version on stderr.
            return Ok(String::from_utf8_lossy(&err).into_owned());
        }
        Ok(text)
    }

    /// The user agents run as. `None` when ade cannot switch users (not root, and without the
    /// capabilities of [`crate::runner::env::SWITCH_CAPABILITIES`]): only sandboxed runs may
    /// then start, and the environment refuses the rest. Refuses when ade can switch and
    /// `runner.agent_user` is not set, is root or is ade's own user; with no agent registered
    /// there is nothing to refuse.
    pub fn agent_user(&self) -> Result<Option<AgentUser>, StartError> {
        if self.is_empty() || !crate::runner::env::can_switch_users() {
            return Ok(None);
        }
        let root = effective_uid() == Some(0);
        let Some(name) = &self.runner().agent_user else {
            return Err(StartError::User(if root {
                "ade runs as root and agents never do: set runner.agent_user to an unprivileged user (Claude Code, for one, refuses to run unattended as root)".to_owned()
            } else {
                "agents never run as ade's own user: set runner.agent_user to another unprivileged user (ade holds the capabilities to switch to it)".to_owned()
            }));
        };
        let user = lookup_user(name)?;
        if user.uid == 0 {
            return Err(StartError::User(format!("{name} has user id 0")));
        }
        if effective_uid() == Some(user.uid) {
            return Err(StartError::User(format!(
                "{name} is ade's own user, and agents never run as it: name another unprivileged user"
            )));
        }
        Ok(Some(user))
    }
}

/// Whether the pin is one of the version-like words of `output`, or a prefix of one at a dot:
/// `2.1` accepts `2.1.328`, never `2.10`.
pub fn pin_matches(pin: &str, output: &str) -> bool {
    let pin = pin.strip_prefix('v').unwrap_or(pin);
    output
        .split(|c: char| c.is_whitespace() || c == ',' || c == '(' || c == ')')
        .map(|word| word.trim_start_matches('v'))
        .map(|word| word.rsplit('-').next().unwrap_or(word))
        .any(|word| {
            word == pin
                || word
                    .strip_prefix(pin)
                    .is_some_and(|rest| rest.starts_with('.') || rest.starts_with('+'))
        })
}

fn is_executable(path: &Path) -> bool {
    std::fs::metadata(path)
        .is_ok_and(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0)
}

/// This process's effective user id, from `/proc` (Linux).
pub fn effective_uid() -> Option<u32> {
    std::fs::metadata("/proc/self").ok().map(|meta| meta.uid())
}

/// A user of `/etc/passwd`, by name.
fn lookup_user(name: &str) -> Result<AgentUser, StartError> {
    let passwd = std::fs::read_to_string("/etc/passwd")
        .map_err(|e| StartError::User(format!("cannot read /etc/passwd: {e}")))?;
    passwd
        .lines()
        .map(|line| line.split(':').collect::<Vec<_>>())
        .find(|fields| fields.len() >= 4 && fields[0] == name)
        .and_then(|fields| {
            Some(AgentUser {
                uid: fields[2].parse().ok()?,
                gid: fields[3].parse().ok()?,
            })
        })
        .ok_or_else(|| StartError::User(format!("no user {name} in /etc/passwd")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pins_match_whole_versions_or_dotted_prefixes() {
        assert!(pin_matches("2.1.328", "2.1.328 (Claude Code)\n"));
        assert!(pin_matches("0.169.0", "codex-cli 0.169.0\n"));
        assert!(pin_matches("0.86.2", "aider 0.86.2\n"));
        assert!(pin_matches("v1.18.33", "1.18.33"));
        assert!(pin_matches("2.1", "2.1.328 (Claude Code)"));
        assert!(!pin_matches("2.1", "2.10.0"));
        assert!(!pin_matches("2.1.32", "2.1.328"));
        assert!(!pin_matches("0.169.0", "codex-cli 0.170.0"));
    }

    #[test]
    fn a_workdir_behind_a_closed_folder_is_refused_naming_the_folder() {
        let root = std::env::temp_dir().join(format!("ade-reach-{}", fastrand::u64(..)));
        let closed = root.join("home");
        let workdir = closed.join("checkout/ade-data/runner");
        std::fs::create_dir_all(&closed).unwrap();
        std::fs::set_permissions(&root, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::set_permissions(&closed, std::fs::Permissions::from_mode(0o700)).unwrap();
        let nobody = AgentUser {
            uid: 65534,
            gid: 65534,
        };
        let err = workdir_reachable(&workdir, &nobody)
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with(&format!(
                "runner.workdir: {} is inside {} (mode 0700",
                workdir.display(),
                closed.display()
            )),
            "{err}"
        );
        assert!(err.contains("chmod o+x"), "{err}");

        std::fs::set_permissions(&closed, std::fs::Permissions::from_mode(0o711)).unwrap();
        workdir_reachable(&workdir, &nobody).unwrap();
        std::fs::remove_dir_all(root).unwrap();
    }
}
