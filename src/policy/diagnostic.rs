//! One thing wrong with a policy, said so a person can fix it: which file, where, which key,
//! and what is wrong.

use std::fmt;

use serde::Serialize;

use super::locate::{KeyPath, Locations, Position};

/// An error in a policy file or in the combination of a repository's policy with the server's
/// limits. `ade policy check` prints one per line; the `ade/policy` check turns each into an
/// annotation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PolicyDiagnostic {
    /// The file, as its reader named it (`.ade/config.toml`, a path given on the command line,
    /// `ade.toml`).
    pub source: String,
    /// Where in the file, when known: a value the file left out has no position.
    pub position: Option<Position>,
    /// The dotted key it is about (`execution.parallelism`, `verification.steps[0].command`);
    /// `None` for a syntax error.
    pub key: Option<String>,
    /// What is wrong, and what would be right.
    pub message: String,
}

impl PolicyDiagnostic {
    /// A diagnostic about `key`, placed where the file wrote it (or its nearest parent).
    pub(crate) fn at_key(
        locations: &Locations,
        key: &KeyPath,
        message: impl Into<String>,
    ) -> PolicyDiagnostic {
        PolicyDiagnostic {
            source: locations.source().to_owned(),
            position: locations.find(key),
            key: (!key.is_root()).then(|| key.to_string()),
            message: message.into(),
        }
    }
}

impl fmt::Display for PolicyDiagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)?;
        if let Some(position) = self.position {
            write!(f, ":{position}")?;
        }
        f.write_str(": ")?;
        if let Some(key) = &self.key {
            write!(f, "{key}: ")?;
        }
        f.write_str(&self.message)
    }
}

impl std::error::Error for PolicyDiagnostic {}
