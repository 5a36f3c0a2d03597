//! Why a configuration was refused, in one line an operator can act on: which key, what is wrong
//! with it, and where the value came from. No message ever repeats a secret.

use std::fmt;
use std::io;
use std::path::PathBuf;

/// Where a configuration value came from, so an error points at the place to fix.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Origin {
    /// The TOML file given with `--config` or `ADE_CONFIG`.
    File(PathBuf),
    /// An `ADE_<SECTION>__<KEY>` environment variable, by name.
    Env(String),
    /// Neither: a built-in default, or a value derived from other keys.
    Default,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::File(path) => write!(f, " (from {})", path.display()),
            Origin::Env(var) => write!(f, " (from environment {var})"),
            Origin::Default => Ok(()),
        }
    }
}

/// A configuration ade refuses to start with. Its `Display` is the whole message, prefixed with
/// `config:`, meant to be printed once by the binary before it exits non-zero.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The configuration file given could not be read (missing, permissions, not UTF-8).
    #[error("config: cannot read {}: {source}", path.display())]
    Read {
        /// The file that was asked for.
        path: PathBuf,
        /// The operating system's reason.
        source: io::Error,
    },
    /// The configuration file is not valid TOML.
    #[error("config: {}: {}{message}", path.display(), Position(*position))]
    Syntax {
        /// The file that holds the error.
        path: PathBuf,
        /// Line and column (1-based), when the parser knows them.
        position: Option<(usize, usize)>,
        /// The parser's reason, without the quoted source line (it may hold a secret).
        message: String,
    },
    /// A key ade does not know: a typo, or a key from another version.
    #[error("config: unknown key {key}{origin}{}", Hint(hint.as_deref()))]
    UnknownKey {
        /// The full dotted key, e.g. `github.webhok_secret`.
        key: String,
        /// Where it was set.
        origin: Origin,
        /// The known key it most resembles, if any.
        hint: Option<String>,
    },
    /// A known key whose value ade cannot use, or a secret file that cannot be read.
    #[error("config: {key}: {reason}{origin}")]
    Invalid {
        /// The full dotted key, e.g. `server.listen`.
        key: String,
        /// What is wrong, e.g. `invalid socket address syntax`.
        reason: String,
        /// Where the value came from.
        origin: Origin,
    },
}

impl ConfigError {
    /// The dotted key the error is about, when it is about one key (tests and `ade doctor` use it).
    pub fn key(&self) -> Option<&str> {
        match self {
            ConfigError::UnknownKey { key, .. } | ConfigError::Invalid { key, .. } => Some(key),
            ConfigError::Read { .. } | ConfigError::Syntax { .. } => None,
        }
    }
}

struct Position(Option<(usize, usize)>);

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some((line, column)) => {
                write!(f, "TOML syntax error at line {line}, column {column}: ")
            }
            None => f.write_str("TOML syntax error: "),
        }
    }
}

struct Hint<'a>(Option<&'a str>);

impl fmt::Display for Hint<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(known) => write!(f, "; did you mean {known}?"),
            None => Ok(()),
        }
    }
}
