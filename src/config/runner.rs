//! `[runner]`: the raw shape and its resolution. The runner's folders, its parallelism, the git
//! program, the `PATH` agents get, the user agents run as, and the sandbox settings of
//! `container` runs.

use std::fmt;
use std::path::PathBuf;

use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};

use super::check::{Check, program};
use super::one_or_many::OneOrMany;
use super::{ConfigError, ContainerRuntime, RunnerConfig, StorageConfig};

const DEFAULT_MAX_PARALLEL: usize = 2;
const DEFAULT_GIT: &str = "git";
const DEFAULT_PATH: [&str; 3] = ["/usr/local/bin", "/usr/bin", "/bin"];
/// 4 GiB: enough for a compiler, not enough to take the machine down.
const DEFAULT_MEMORY_MAX: u64 = 4 << 30;
const DEFAULT_PIDS_MAX: u64 = 1024;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default, expecting = "a [runner] table")]
pub(super) struct RawRunner {
    pub workdir: Option<String>,
    pub max_parallel: Option<usize>,
    pub git: Option<String>,
    pub path: Option<OneOrMany>,
    pub agent_dirs: Option<OneOrMany>,
    pub agent_user: Option<String>,
    pub container_runtime: Option<String>,
    pub memory_max: Option<Limit>,
    pub pids_max: Option<Limit>,
    pub network: Option<bool>,
}

/// A limit written as a number, a string (`"4G"`, from the environment `"1024"`), or `"max"`.
#[derive(Debug)]
pub(super) struct Limit(String);

impl<'de> Deserialize<'de> for Limit {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(LimitVisitor)
    }
}

struct LimitVisitor;

impl Visitor<'_> for LimitVisitor {
    type Value = Limit;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a number, a size such as \"4G\", or \"max\"")
    }

    fn visit_str<E: de::Error>(self, value: &str) -> Result<Limit, E> {
        Ok(Limit(value.to_owned()))
    }

    fn visit_u64<E: de::Error>(self, value: u64) -> Result<Limit, E> {
        Ok(Limit(value.to_string()))
    }

    fn visit_i64<E: de::Error>(self, value: i64) -> Result<Limit, E> {
        Ok(Limit(value.to_string()))
    }
}

pub(super) fn runner(
    check: &Check,
    raw: RawRunner,
    storage: &StorageConfig,
) -> Result<RunnerConfig, ConfigError> {
    let workdir = match raw.workdir {
        Some(dir) if dir.is_empty() => {
            return Err(check.invalid("runner.workdir", "must not be empty"));
        }
        Some(dir) => PathBuf::from(dir),
        None => storage.data_dir.join("runner"),
    };
    let max_parallel = check.at_least(
        "runner.max_parallel",
        raw.max_parallel.unwrap_or(DEFAULT_MAX_PARALLEL),
        1,
    )?;
    let git = raw.git.unwrap_or_else(|| DEFAULT_GIT.to_owned());
    program(check, "runner.git", &git)?;
    let path = match raw.path {
        None => DEFAULT_PATH.iter().map(PathBuf::from).collect(),
        Some(OneOrMany(values)) => {
            // From the environment a single value comes as `/a:/b`.
            let dirs: Vec<String> = values
                .iter()
                .flat_map(|value| value.split(':'))
                .map(str::to_owned)
                .collect();
            if dirs.is_empty() || dirs.iter().any(|d| !d.starts_with('/')) {
                return Err(check.invalid(
                    "runner.path",
                    "must list absolute folders (a relative one would search the worktree)",
                ));
            }
            dirs.into_iter().map(PathBuf::from).collect()
        }
    };
    let agent_dirs = match raw.agent_dirs {
        None => Vec::new(),
        Some(OneOrMany(values)) => agent_dirs(check, &workdir, values)?,
    };
    let agent_user = raw
        .agent_user
        .map(|user| agent_user(check, user))
        .transpose()?;
    let container_runtime = match raw.container_runtime.as_deref() {
        None | Some("bubblewrap") => ContainerRuntime::Bubblewrap,
        Some("podman") => ContainerRuntime::Podman,
        Some("docker") => ContainerRuntime::Docker,
        Some(other) => {
            return Err(check.invalid(
                "runner.container_runtime",
                format!("{other:?} is not bubblewrap, podman or docker"),
            ));
        }
    };
    let memory_max = match raw.memory_max {
        None => Some(DEFAULT_MEMORY_MAX),
        Some(Limit(text)) => limit(check, "runner.memory_max", &text, true)?,
    };
    let pids_max = match raw.pids_max {
        None => Some(DEFAULT_PIDS_MAX),
        Some(Limit(text)) => limit(check, "runner.pids_max", &text, false)?,
    };
    Ok(RunnerConfig {
        workdir,
        max_parallel,
        git,
        path,
        agent_dirs,
        agent_user,
        container_runtime,
        memory_max,
        pids_max,
        network: raw.network.unwrap_or(false),
    })
}

/// Folders outside the system folders where agent programs are installed. Agents may read and
/// run what is in them, so none may be `/` or hold the runner's workdir (other runs' worktrees).
fn agent_dirs(
    check: &Check,
    workdir: &std::path::Path,
    values: Vec<String>,
) -> Result<Vec<PathBuf>, ConfigError> {
    const KEY: &str = "runner.agent_dirs";
    let dirs: Vec<PathBuf> = values
        .iter()
        .flat_map(|value| value.split(':'))
        .filter(|dir| !dir.is_empty())
        .map(PathBuf::from)
        .collect();
    for dir in &dirs {
        let text = dir.display();
        if !dir.is_absolute() || dir.to_str().is_none_or(|d| d.chars().any(char::is_control)) {
            return Err(check.invalid(KEY, format!("{text:?} must be an absolute folder")));
        }
        if dir
            .components()
            .any(|c| c == std::path::Component::ParentDir)
        {
            return Err(check.invalid(KEY, format!("{text:?} must not hold \"..\"")));
        }
        if dir.parent().is_none() || (workdir.is_absolute() && workdir.starts_with(dir)) {
            return Err(check.invalid(
                KEY,
                format!("{text:?} holds the runner's workdir, which agents must not read"),
            ));
        }
    }
    Ok(dirs)
}

/// A POSIX user name, never root.
fn agent_user(check: &Check, user: String) -> Result<String, ConfigError> {
    const KEY: &str = "runner.agent_user";
    let well_formed = !user.is_empty()
        && user.len() <= 32
        && !user.starts_with('-')
        && user
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b));
    if !well_formed {
        return Err(check.invalid(KEY, format!("{user:?} is not a user name")));
    }
    if user == "root" {
        return Err(check.invalid(KEY, "must be an unprivileged user, not root"));
    }
    Ok(user)
}

/// `max` (no limit), a number, or for sizes a number with `K`, `M`, `G` or `T` (powers of 1024).
fn limit(check: &Check, key: &str, text: &str, size: bool) -> Result<Option<u64>, ConfigError> {
    let text = text.trim();
    if text == "max" {
        return Ok(None);
    }
    let (digits, shift) = match text.char_indices().last() {
        Some((i, unit)) if size && unit.is_ascii_alphabetic() => {
            let shift = match unit.to_ascii_uppercase() {
                'K' => 10,
                'M' => 20,
                'G' => 30,
                'T' => 40,
                _ => {
                    return Err(
                        check.invalid(key, format!("{text:?}: the unit must be K, M, G or T"))
                    );
                }
            };
            (&text[..i], shift)
        }
        _ => (text, 0),
    };
    let expected = if size {
        "a number of bytes, a size such as \"4G\", or \"max\""
    } else {
        "a number or \"max\""
    };
    let value: u64 = digits
        .parse()
        .map_err(|_| check.invalid(key, format!("{text:?} is not {expected}")))?;
    let value = value
        .checked_mul(1 << shift)
        .ok_or_else(|| check.invalid(key, format!("{text:?} is too large")))?;
    if value == 0 {
        return Err(check.invalid(key, "must be above 0; write \"max\" for no limit"));
    }
    Ok(Some(value))
}
