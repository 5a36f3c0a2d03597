//! What runs may change and how their results land: branch names, labels and merging,
//! protected paths, and DLP rules.

use super::{Merge, Origin};
use crate::forge::MergeMethod;
use crate::policy::effective::{DlpPattern, PullRequestPolicy};
use crate::policy::file::MergeMethodName;
use crate::policy::locate::KeyPath;
use crate::policy::server::builtin;
use crate::policy::validate::normalize_path;

impl Merge<'_> {
    pub(super) fn pull_requests(&mut self) -> PullRequestPolicy {
        let required = self.server.limits.branch_prefix.clone();
        let branch_prefix = match self.pick(|p| p.pull_requests.branch_prefix.clone()) {
            Some((prefix, origin)) if !prefix.starts_with(&required) => {
                let message = format!(
                    "`{prefix}` does not start with the server's prefix `{required}` (limits.branch_prefix)"
                );
                let key = KeyPath::of(&["pull_requests", "branch_prefix"]);
                self.refuse(origin, &key, message);
                required
            }
            Some((prefix, _)) => prefix,
            None if builtin::BRANCH_PREFIX.starts_with(&required) => {
                builtin::BRANCH_PREFIX.to_owned()
            }
            None => required,
        };
        let auto_merge = match self.pick(|p| p.pull_requests.auto_merge) {
            Some((true, origin)) if !self.server.limits.allow_auto_merge => {
                let message =
                    "the server does not let ade merge by itself (limits.allow_auto_merge)";
                let key = KeyPath::of(&["pull_requests", "auto_merge"]);
                self.refuse(origin, &key, message);
                false
            }
            Some((auto_merge, _)) => auto_merge,
            None => false,
        };
        PullRequestPolicy {
            branch_prefix,
            labels: self.pick(|p| p.pull_requests.labels.clone()).map_or_else(
                || builtin::LABELS.iter().map(|l| (*l).to_owned()).collect(),
                |(labels, _)| labels,
            ),
            auto_merge,
            merge_method: match self.pick(|p| p.pull_requests.merge_method) {
                Some((MergeMethodName::Squash, _)) => MergeMethod::Squash,
                Some((MergeMethodName::Rebase, _)) => MergeMethod::Rebase,
                Some((MergeMethodName::Merge, _)) | None => MergeMethod::Merge,
            },
            drafts: self
                .pick(|p| p.pull_requests.drafts)
                .is_none_or(|(drafts, _)| drafts),
        }
    }

    /// The server's protected paths, less what may be and is unprotected, plus the defaults' and
    /// the repository's own.
    pub(super) fn protected_paths(&mut self) -> Vec<String> {
        let normalized = |paths: &[String]| -> Vec<String> {
            paths
                .iter()
                .filter_map(|p| normalize_path(p).ok())
                .collect()
        };
        let mut floor = normalized(&self.server.limits.protected_paths);
        let mut defaults = normalized(&self.server.defaults.paths.protected);
        for (policy, origin) in [
            (&self.server.defaults, Origin::Server),
            (self.repo, Origin::Repo),
        ] {
            let key = KeyPath::of(&["paths", "unprotected"]);
            for (index, path) in policy.paths.unprotected.iter().enumerate() {
                let Ok(path) = normalize_path(path) else {
                    continue;
                };
                if defaults.contains(&path) {
                    defaults.retain(|p| *p != path);
                } else if !floor.contains(&path) {
                    let message = format!("`{path}` is not protected by the server");
                    self.refuse(origin, &key.index(index), message);
                } else if self.server.limits.allow_unprotect {
                    floor.retain(|p| *p != path);
                } else {
                    let message = format!(
                        "the server does not let repositories unprotect `{path}` (limits.allow_unprotect)"
                    );
                    self.refuse(origin, &key.index(index), message);
                }
            }
        }
        let mut paths = floor;
        for path in defaults
            .into_iter()
            .chain(normalized(&self.repo.paths.protected))
        {
            if !paths.contains(&path) {
                paths.push(path);
            }
        }
        paths
    }

    pub(super) fn dlp_rules(&mut self) -> Vec<DlpPattern> {
        let server = &self.server.defaults.dlp.rules;
        let mut rules: Vec<DlpPattern> = server
            .iter()
            .map(|rule| DlpPattern {
                name: rule.name.clone(),
                pattern: rule.pattern.clone(),
            })
            .collect();
        let key = KeyPath::of(&["dlp", "rules"]);
        for (index, rule) in self.repo.dlp.rules.iter().enumerate() {
            if server.iter().any(|s| s.name == rule.name) {
                let message = format!("the server already has a rule named `{}`", rule.name);
                self.refuse(Origin::Repo, &key.index(index).key("name"), message);
                continue;
            }
            rules.push(DlpPattern {
                name: rule.name.clone(),
                pattern: rule.pattern.clone(),
            });
        }
        rules
    }
}
