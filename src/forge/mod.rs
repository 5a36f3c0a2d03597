//! Forges ade talks to. For now only the dialect a delivery speaks; the `Forge` client trait arrives
//! with the forge clients.

use serde::{Deserialize, Serialize};
use std::fmt;

/// The webhook and API dialect of a forge. Forgejo speaks the Gitea dialect, so it is `Gitea` here.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ForgeKind {
    /// github.com or GitHub Enterprise Server.
    Github,
    /// Gitea or Forgejo.
    Gitea,
}

impl ForgeKind {
    /// The name used in URLs, logs, metrics labels and storage.
    pub fn as_str(self) -> &'static str {
        match self {
            ForgeKind::Github => "github",
            ForgeKind::Gitea => "gitea",
        }
    }

    /// Parses the stored name back; `None` for anything else.
    pub fn parse(name: &str) -> Option<ForgeKind> {
        match name {
            "github" => Some(ForgeKind::Github),
            "gitea" => Some(ForgeKind::Gitea),
            _ => None,
        }
    }
}

impl fmt::Display for ForgeKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
