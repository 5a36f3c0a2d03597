//! Errors that name the key they are about and where its value came from (the file, a variable,
//! or a default), and the checks every section shares. The bottom of `config`: the files that
//! read and resolve sections build on it.

use std::collections::BTreeMap;
use std::fs;
use std::path::PathBuf;

use super::{ConfigError, Origin};

/// Where each key's value came from, for error messages.
pub(super) struct Origins {
    file: Option<PathBuf>,
    env: BTreeMap<String, String>,
}

impl Origins {
    /// `file` is the configuration file read, if any; `env` maps each dotted key set from the
    /// environment to the variable that set it.
    pub(super) fn new(file: Option<PathBuf>, env: BTreeMap<String, String>) -> Origins {
        Origins { file, env }
    }

    /// The origin of the value of `key` (a dotted key, maybe with a `[n]` index): the environment
    /// variable that sets it, else the file, else a default.
    pub(super) fn of(&self, key: &str) -> Origin {
        self.locate(key).1
    }

    /// Like [`Origins::of`], and also the full key: an unknown section set from the environment
    /// (`ADE_FOO__BAR`) is reported by serde as `foo`, but the operator wrote `foo.bar`.
    pub(super) fn locate(&self, key: &str) -> (String, Origin) {
        let base = key.split('[').next().unwrap_or(key);
        let from_env = self.env.get_key_value(base).or_else(|| {
            self.env.iter().find(|(k, _)| {
                k.strip_prefix(base)
                    .is_some_and(|rest| rest.starts_with('.'))
            })
        });
        match (from_env, &self.file) {
            (Some((full, var)), _) => (full.clone(), Origin::Env(var.clone())),
            (None, Some(file)) => (key.to_owned(), Origin::File(file.clone())),
            (None, None) => (key.to_owned(), Origin::Default),
        }
    }
}

/// Builds errors that carry the origin of the key they are about.
pub(super) struct Check<'a> {
    origins: &'a Origins,
}

impl<'a> Check<'a> {
    /// Checks whose errors name the origin `origins` gives each key.
    pub(super) fn new(origins: &'a Origins) -> Check<'a> {
        Check { origins }
    }

    /// Where the value of `key` came from, for an error about it that is not [`Check::invalid`].
    pub(super) fn origin(&self, key: &str) -> Origin {
        self.origins.of(key)
    }

    /// The error for `key`, whose value is wrong for `reason`.
    pub(super) fn invalid(&self, key: &str, reason: impl Into<String>) -> ConfigError {
        ConfigError::Invalid {
            key: key.to_owned(),
            reason: reason.into(),
            origin: self.origins.of(key),
        }
    }

    /// `value`, or an error naming `key` when it is below `min`.
    pub(super) fn at_least<T: PartialOrd + std::fmt::Display>(
        &self,
        key: &str,
        value: T,
        min: T,
    ) -> Result<T, ConfigError> {
        if value < min {
            return Err(self.invalid(key, format!("must be at least {min}, not {value}")));
        }
        Ok(value)
    }

    /// An `http://` or `https://` URL with a host, kept without its trailing `/` so callers can
    /// append paths.
    pub(super) fn http_url(&self, key: &str, value: String) -> Result<String, ConfigError> {
        let lower = value.to_ascii_lowercase();
        let Some(rest) = lower
            .strip_prefix("https://")
            .or_else(|| lower.strip_prefix("http://"))
        else {
            return Err(self.invalid(key, "must be an http:// or https:// URL"));
        };
        if rest.split(['/', '?', '#']).next().unwrap_or("").is_empty() {
            return Err(self.invalid(key, "must name a host after the scheme"));
        }
        if value.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(self.invalid(key, "must not contain spaces"));
        }
        Ok(value.trim_end_matches('/').to_owned())
    }

    /// Reads a file that holds secrets. The error names the key, the path and the OS reason,
    /// never the content.
    pub(super) fn read_secret_file(&self, key: &str, path: &str) -> Result<String, ConfigError> {
        if path.is_empty() {
            return Err(self.invalid(key, "is an empty path"));
        }
        fs::read_to_string(path)
            .map_err(|err| self.invalid(key, format!("cannot read {path}: {err}")))
    }
}

/// A program to run: an absolute path, or a bare name looked up on `runner.path`. Never a
/// relative path, which would be looked up in the folder a command runs in: the worktree.
pub(super) fn program(check: &Check, key: &str, program: &str) -> Result<(), ConfigError> {
    if program.is_empty() {
        return Err(check.invalid(key, "names no program"));
    }
    if program.contains('/') && !program.starts_with('/') {
        return Err(check.invalid(
            key,
            format!("{program:?} must be a bare name found on runner.path, or an absolute path"),
        ));
    }
    if program.chars().any(char::is_control) {
        return Err(check.invalid(key, "holds a control character"));
    }
    Ok(())
}
