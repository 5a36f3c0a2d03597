//! The change guard: what a run's change touches that a human must know about before the branch
//! is pushed. A protected path changed (a workflow, `.ade/`, or a symlink pointing into one)
//! blocks the push, because a branch pushed to the repository runs its workflows with the
//! repository's secrets. Symlinks that leave the repository, submodules, and the agent
//! configuration the repository carries are listed for the run report and the pull request body.
//!
//! The guard reads only the change model ([`Changes`]); it never looks at the worktree, so a
//! symlink is judged by its stored target and never followed.

pub mod render;
mod symlink;

use std::fmt;

use self::render::{code_span, visible};
pub use self::symlink::LinkRisk;
use super::changes::{ChangeKind, ChangedFile, Changes, FileMode};
use crate::policy::EffectivePolicy;

/// A protected path the change touches, and the policy entry that protects it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProtectedChange {
    /// The changed path, as in the change.
    pub path: String,
    /// How it changed.
    pub change: ChangeKind,
    /// The protected path (from `EffectivePolicy::protected_paths`) that covers it.
    pub rule: String,
    /// For a symlink pointing into a protected path: its target, as stored.
    pub link_target: Option<String>,
}

/// A symlink whose target leaves the repository or reaches somewhere sensitive.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RiskyLink {
    /// The link's path.
    pub path: String,
    /// Its target, as stored.
    pub target: String,
    /// Why it is flagged, at least one.
    pub risks: Vec<LinkRisk>,
}

/// A submodule the change adds, moves or removes; ade never fetches submodules.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SubmoduleChange {
    /// The gitlink's path, or the `.gitmodules` file's.
    pub path: String,
    /// How it changed.
    pub change: ChangeKind,
    /// Whether this is a gitlink (else a `.gitmodules` file).
    pub gitlink: bool,
}

/// A changed file that configures coding agents (AGENTS.md, .claude/, .mcp.json, …). Runs take
/// these from their base commit, so the change affects no run until it is merged, but the
/// reviewer must see it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AgentConfigChange {
    /// The path.
    pub path: String,
    /// How it changed.
    pub change: ChangeKind,
}

/// Everything the guard found in one change.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GuardReport {
    /// Protected paths touched; any blocks the push.
    pub protected: Vec<ProtectedChange>,
    /// Symlinks flagged for the run report.
    pub symlinks: Vec<RiskyLink>,
    /// Submodule changes flagged for the run report.
    pub submodules: Vec<SubmoduleChange>,
    /// Agent configuration changes, for the pull request body.
    pub agent_configuration: Vec<AgentConfigChange>,
}

/// Checks a run's change against the policy.
pub fn check(changes: &Changes, policy: &EffectivePolicy) -> GuardReport {
    let mut report = GuardReport::default();
    for file in &changes.files {
        check_file(file, policy, &mut report);
    }
    report
}

/// The checks of one changed path.
fn check_file(file: &ChangedFile, policy: &EffectivePolicy, report: &mut GuardReport) {
    let path = normalize(&file.path);
    if let Some(rule) = protecting(policy, &path) {
        report.protected.push(ProtectedChange {
            path: file.path.clone(),
            change: file.change,
            rule: rule.to_owned(),
            link_target: None,
        });
    }
    match &file.mode {
        FileMode::Symlink { target } if file.change != ChangeKind::Deleted => {
            let resolved = symlink::resolve(&path, target);
            if let Some(inside) = &resolved.inside
                && let Some(rule) = protecting(policy, inside)
            {
                report.protected.push(ProtectedChange {
                    path: file.path.clone(),
                    change: file.change,
                    rule: rule.to_owned(),
                    link_target: Some(target.clone()),
                });
            }
            if !resolved.risks.is_empty() {
                report.symlinks.push(RiskyLink {
                    path: file.path.clone(),
                    target: target.clone(),
                    risks: resolved.risks,
                });
            }
        }
        FileMode::Submodule => report.submodules.push(SubmoduleChange {
            path: file.path.clone(),
            change: file.change,
            gitlink: true,
        }),
        _ => {}
    }
    if base_name(&path).eq_ignore_ascii_case(".gitmodules") {
        report.submodules.push(SubmoduleChange {
            path: file.path.clone(),
            change: file.change,
            gitlink: false,
        });
    }
    if is_agent_configuration(&path) {
        report.agent_configuration.push(AgentConfigChange {
            path: file.path.clone(),
            change: file.change,
        });
    }
}

/// The protected path covering `path`. Matching ignores ASCII case: a checkout on a
/// case-insensitive file system (a reviewer's laptop) would write `.GitHub/Workflows/x.yml` over
/// the real workflow. Other lookalikes (Cyrillic `і`, full-width letters) are different paths.
fn protecting<'p>(policy: &'p EffectivePolicy, path: &str) -> Option<&'p str> {
    policy.protecting(path).or_else(|| {
        let path = path.to_ascii_lowercase();
        policy
            .protected_paths
            .iter()
            .find(|rule| {
                path.strip_prefix(rule.to_ascii_lowercase().as_str())
                    .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
            })
            .map(String::as_str)
    })
}

/// `path` with `.` and empty segments dropped and `..` applied, a `..` at the root staying at the
/// root: git never stores such a path, and read this way a hostile `../.ade/x` is still `.ade/x`.
fn normalize(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            part => parts.push(part),
        }
    }
    parts.join("/")
}

/// The last segment of a path.
fn base_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// Files that configure an agent wherever they are in the tree (nested instructions apply to
/// their folder).
const AGENT_FILES: &[&str] = &[
    "agents.md",
    "agent.md",
    "claude.md",
    "claude.local.md",
    "gemini.md",
    "copilot-instructions.md",
    ".cursorrules",
    ".windsurfrules",
    ".clinerules",
    ".goosehints",
    ".aider.conf.yml",
    ".aiderignore",
    ".mcp.json",
    "opencode.json",
    "opencode.jsonc",
];

/// Folders whose every file configures an agent.
const AGENT_FOLDERS: &[&str] = &[
    ".claude",
    ".cursor",
    ".codex",
    ".opencode",
    ".goose",
    ".letta",
    ".gemini",
    ".windsurf",
    ".clinerules",
    ".continue",
    ".roo",
    ".kiro",
    ".amazonq",
    ".aider",
];

/// Folders under `.github/` that hold Copilot's instructions, prompts and agents.
const COPILOT_FOLDERS: &[&str] = &["instructions", "prompts", "chatmodes", "agents"];

/// Whether `path` configures a coding agent.
fn is_agent_configuration(path: &str) -> bool {
    let lower = path.to_ascii_lowercase();
    let parts: Vec<&str> = lower.split('/').collect();
    let Some((name, folders)) = parts.split_last() else {
        return false;
    };
    AGENT_FILES.contains(name)
        || folders.iter().any(|f| AGENT_FOLDERS.contains(f))
        || folders
            .windows(2)
            .any(|w| w[0] == ".github" && COPILOT_FOLDERS.contains(&w[1]))
        || lower.ends_with(".vscode/mcp.json")
}

impl GuardReport {
    /// Whether the change may not be pushed: it touches a protected path.
    pub fn blocks(&self) -> bool {
        !self.protected.is_empty()
    }

    /// Whether there is anything to report at all.
    pub fn is_empty(&self) -> bool {
        self.protected.is_empty()
            && self.symlinks.is_empty()
            && self.submodules.is_empty()
            && self.agent_configuration.is_empty()
    }

    /// The report as Markdown for the run report: each section names the files, escaped as code
    /// spans so a hostile path cannot inject markup, a line break or a reordering.
    pub fn markdown(&self) -> String {
        let mut sections = Vec::new();
        if !self.protected.is_empty() {
            let mut s = String::from("**Protected paths changed** (the push is blocked):\n\n");
            for p in &self.protected {
                s.push_str(&format!(
                    "- {} ({}",
                    code_span(&p.path),
                    change_word(p.change)
                ));
                if let Some(target) = &p.link_target {
                    s.push_str(&format!(" symlink to {}", code_span(target)));
                }
                s.push_str(&format!("), protected by {}\n", code_span(&p.rule)));
            }
            sections.push(s);
        }
        if !self.symlinks.is_empty() {
            let mut s = String::from("**Symlinks flagged** (ade never follows them):\n\n");
            for l in &self.symlinks {
                s.push_str(&format!(
                    "- {} → {}: {}\n",
                    code_span(&l.path),
                    code_span(&l.target),
                    risk_words(&l.risks)
                ));
            }
            sections.push(s);
        }
        if !self.submodules.is_empty() {
            let mut s = String::from("**Submodules changed** (ade never fetches them):\n\n");
            for m in &self.submodules {
                s.push_str(&format!(
                    "- {} ({})\n",
                    code_span(&m.path),
                    submodule_words(m)
                ));
            }
            sections.push(s);
        }
        if let Some(agents) = self.agent_configuration_markdown() {
            sections.push(agents);
        }
        sections.join("\n")
    }

    /// The "agent configuration changes" section of the pull request body, if there are any.
    pub fn agent_configuration_markdown(&self) -> Option<String> {
        if self.agent_configuration.is_empty() {
            return None;
        }
        let mut s = String::from(
            "**Agent configuration changes** (no run uses them before they are merged):\n\n",
        );
        for a in &self.agent_configuration {
            s.push_str(&format!(
                "- {} ({})\n",
                code_span(&a.path),
                change_word(a.change)
            ));
        }
        Some(s)
    }
}

impl fmt::Display for GuardReport {
    /// The plain-text report, one line per item, paths escaped.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for p in &self.protected {
            write!(
                f,
                "protected path {}: {}",
                change_word(p.change),
                visible(&p.path)
            )?;
            if let Some(target) = &p.link_target {
                write!(f, " (symlink to {})", visible(target))?;
            }
            writeln!(f, ", protected by {}", visible(&p.rule))?;
        }
        for l in &self.symlinks {
            writeln!(
                f,
                "symlink flagged: {} -> {}: {}",
                visible(&l.path),
                visible(&l.target),
                risk_words(&l.risks)
            )?;
        }
        for m in &self.submodules {
            writeln!(
                f,
                "submodule: {} ({})",
                visible(&m.path),
                submodule_words(m)
            )?;
        }
        for a in &self.agent_configuration {
            writeln!(
                f,
                "agent configuration {}: {}",
                change_word(a.change),
                visible(&a.path)
            )?;
        }
        Ok(())
    }
}

/// `added`, `modified` or `deleted`.
fn change_word(change: ChangeKind) -> &'static str {
    match change {
        ChangeKind::Added => "added",
        ChangeKind::Modified => "modified",
        ChangeKind::Deleted => "deleted",
    }
}

/// The risks of a link, in words.
fn risk_words(risks: &[LinkRisk]) -> String {
    risks
        .iter()
        .map(|r| r.describe())
        .collect::<Vec<_>>()
        .join(", ")
}

/// What a submodule change is, in words.
fn submodule_words(m: &SubmoduleChange) -> String {
    let what = if m.gitlink {
        "gitlink"
    } else {
        "submodule list"
    };
    format!("{} {what}", change_word(m.change))
}

#[cfg(test)]
mod tests;
