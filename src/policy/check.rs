//! Reading a policy file into a [`Policy`] and reporting everything wrong with it at once, each
//! with its line and column: syntax errors, unknown keys (with "did you mean"), values of the
//! wrong type, and values the types accept but ade cannot use.
//!
//! serde stops at the first error, so the file is read in rounds: each error is recorded, the
//! key it is about is taken out of the parsed document, and the rest is read again, until it
//! reads cleanly or enough errors are found.
//!
//! The server's own policy is checked here too ([`ServerPolicy::check`]): its defaults must make
//! a valid effective policy within its limits.

use std::collections::BTreeMap;
use std::path::Path;

use toml::Spanned;
use toml::de::{DeArray, DeTable, DeValue};

use super::diagnostic::PolicyDiagnostic;
use super::effective::effective;
use super::file::Policy;
use super::locate::{KeyPath, Locations, Position, Segment};
use super::server::ServerPolicy;
use super::{suggest, validate};

/// The largest policy file read; a larger one is refused whole.
pub const MAX_POLICY_BYTES: usize = 64 * 1024;

/// After this many diagnostics the rest of the file is not read: the author has enough to fix.
const MAX_DIAGNOSTICS: usize = 50;

/// Reads and checks the policy file at `path`, naming it by that path in diagnostics. A file that
/// cannot be read is one diagnostic without a position.
pub fn check_file(path: &Path) -> Result<Policy, Vec<PolicyDiagnostic>> {
    let source = path.display().to_string();
    match std::fs::read_to_string(path) {
        Ok(text) => check_str(&text, &source),
        Err(err) => Err(vec![PolicyDiagnostic {
            source,
            position: None,
            key: None,
            message: format!("cannot read the file: {err}"),
        }]),
    }
}

/// Checks the text of a policy file on its own (the server's limits are applied later, by
/// [`super::effective`]). `source` names the file in diagnostics, e.g. `.ade/config.toml`. Every
/// error is returned, ordered by position; an empty text is a valid, empty policy.
pub fn check_str(text: &str, source: &str) -> Result<Policy, Vec<PolicyDiagnostic>> {
    if text.len() > MAX_POLICY_BYTES {
        return Err(vec![PolicyDiagnostic {
            source: source.to_owned(),
            position: None,
            key: None,
            message: format!(
                "the file is {} bytes; a policy file may have at most {MAX_POLICY_BYTES}",
                text.len()
            ),
        }]);
    }
    let (document, errors) = DeTable::parse_recoverable(text);
    if !errors.is_empty() {
        return Err(sorted(
            errors
                .iter()
                .map(|err| PolicyDiagnostic {
                    source: source.to_owned(),
                    position: err.span().map(|span| Position::of_offset(text, span.start)),
                    key: None,
                    message: format!("TOML syntax error: {}", err.message()),
                })
                .collect(),
        ));
    }
    let locations = Locations::new(source, text, document.get_ref());
    let mut rounds = Rounds {
        text,
        locations: &locations,
        renumbered: BTreeMap::new(),
        diagnostics: Vec::new(),
    };
    let policy = rounds.read(document);
    let mut diagnostics = rounds.diagnostics;
    let Some(mut policy) = policy else {
        return Err(sorted(diagnostics));
    };
    for problem in validate::policy(&policy) {
        let key = original(&rounds.renumbered, &problem.key);
        diagnostics.push(PolicyDiagnostic::at_key(&locations, &key, problem.message));
    }
    if !diagnostics.is_empty() {
        return Err(sorted(diagnostics));
    }
    policy.locations = locations;
    Ok(policy)
}

/// The state of reading a document in rounds.
struct Rounds<'a> {
    text: &'a str,
    locations: &'a Locations,
    /// For each array an element was taken out of (by its path in the file), the index in the
    /// file of each element still there: later errors name elements as the file numbers them.
    renumbered: BTreeMap<KeyPath, Vec<usize>>,
    diagnostics: Vec<PolicyDiagnostic>,
}

impl Rounds<'_> {
    /// Deserializes `document` again and again, taking out the key of each error, until it
    /// reads. Returns what finally read, so its values can be checked too; `None` when the
    /// errors stopped the rounds early.
    fn read(&mut self, mut document: Spanned<DeTable<'_>>) -> Option<Policy> {
        loop {
            let deserializer = toml::de::Deserializer::from(document.clone());
            let err = match serde_path_to_error::deserialize::<_, Policy>(deserializer) {
                Ok(policy) => return Some(policy),
                Err(err) => err,
            };
            let (diagnostic, culprit) = describe(&err, self.text, self.locations, |path| {
                original(&self.renumbered, path)
            });
            self.diagnostics.push(diagnostic);
            if culprit.is_root() || self.diagnostics.len() >= MAX_DIAGNOSTICS {
                return None;
            }
            match remove(document.get_mut(), culprit.segments())? {
                Removed::Key => {}
                Removed::Element { index, len } => {
                    let array = original(&self.renumbered, &culprit.parent().unwrap_or_default());
                    let indices = self
                        .renumbered
                        .entry(array)
                        .or_insert_with(|| (0..len).collect());
                    indices.remove(index);
                }
            }
        }
    }
}

/// `path`, whose array indices count the elements left after some were taken out, with the
/// indices the file has.
fn original(renumbered: &BTreeMap<KeyPath, Vec<usize>>, path: &KeyPath) -> KeyPath {
    let mut out = KeyPath::default();
    for segment in path.segments() {
        let segment = match segment {
            Segment::Index(index) => Segment::Index(
                renumbered
                    .get(&out)
                    .and_then(|indices| indices.get(*index))
                    .copied()
                    .unwrap_or(*index),
            ),
            key => key.clone(),
        };
        out.push(segment);
    }
    out
}

/// The diagnostic for one serde error, and the key to take out before the next round (as the
/// document now numbers array elements; `original` gives the file's numbering).
fn describe(
    err: &serde_path_to_error::Error<toml::de::Error>,
    text: &str,
    locations: &Locations,
    original: impl Fn(&KeyPath) -> KeyPath,
) -> (PolicyDiagnostic, KeyPath) {
    let mut path = key_path(err.path());
    let inner = err.inner();
    let message = inner.message();
    let position = inner
        .span()
        .map(|span| Position::of_offset(text, span.start));

    let message = match suggest::unknown_name(message) {
        Some((name, expected)) if message.starts_with("unknown field") => {
            if path.segments().last() != Some(&Segment::Key(name.to_owned())) {
                path = path.key(name);
            }
            let parent = original(&path.parent().unwrap_or_default());
            match suggest::closest(name, expected.iter().copied()) {
                Some(known) => format!("unknown key; did you mean {}?", parent.key(known)),
                None => format!("unknown key; the keys here are {}", list(&expected)),
            }
        }
        Some((name, expected)) => match suggest::closest(name, expected.iter().copied()) {
            Some(known) => format!("unknown value `{name}`; did you mean `{known}`?"),
            None => format!("unknown value `{name}`; expected {}", list(&expected)),
        },
        None => message.to_owned(),
    };
    let mut diagnostic = PolicyDiagnostic::at_key(locations, &original(&path), message);
    if position.is_some() {
        diagnostic.position = position;
    }
    (diagnostic, path)
}

fn list(names: &[&str]) -> String {
    if names.is_empty() {
        return "none".to_owned();
    }
    names
        .iter()
        .map(|name| format!("`{name}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn key_path(path: &serde_path_to_error::Path) -> KeyPath {
    let mut key = KeyPath::default();
    for segment in path {
        match segment {
            serde_path_to_error::Segment::Map { key: name } => key.push(Segment::Key(name.clone())),
            serde_path_to_error::Segment::Seq { index } => key.push(Segment::Index(*index)),
            serde_path_to_error::Segment::Enum { .. } | serde_path_to_error::Segment::Unknown => {}
        }
    }
    key
}

/// What [`remove`] took out.
enum Removed {
    /// A key of a table.
    Key,
    /// Element `index` of an array that had `len`.
    Element { index: usize, len: usize },
}

/// Takes the value at `path` out of `table`; `None` when there is none.
fn remove(table: &mut DeTable<'_>, path: &[Segment]) -> Option<Removed> {
    match path {
        [Segment::Key(key)] => table.remove(key.as_str()).map(|_| Removed::Key),
        [Segment::Key(key), rest @ ..] => remove_in(table.get_mut(key.as_str())?.get_mut(), rest),
        _ => None,
    }
}

fn remove_in(value: &mut DeValue<'_>, path: &[Segment]) -> Option<Removed> {
    match (value, path) {
        (DeValue::Table(table), _) => remove(table, path),
        (DeValue::Array(items), [Segment::Index(index)]) if *index < items.len() => {
            let len = items.len();
            let mut kept = DeArray::new();
            for (i, item) in items.iter().enumerate() {
                if i != *index {
                    kept.push(item.clone());
                }
            }
            *items = kept;
            Some(Removed::Element { index: *index, len })
        }
        (DeValue::Array(items), [Segment::Index(index), rest @ ..]) => {
            remove_in(items.get_mut(*index)?.get_mut(), rest)
        }
        _ => None,
    }
}

fn sorted(mut diagnostics: Vec<PolicyDiagnostic>) -> Vec<PolicyDiagnostic> {
    diagnostics.sort_by_key(|d| d.position);
    diagnostics
}

impl ServerPolicy {
    /// Checks the server's own policy, as `ade check-config` and start-up should: its defaults
    /// must be valid policy values within its own limits, and its limits usable. Keys are named
    /// relative to where the server policy sits in `ade.toml` (`defaults.execution.parallelism`,
    /// `limits.branch_prefix`).
    pub fn check(&self) -> Result<(), Vec<PolicyDiagnostic>> {
        let locations = &self.defaults.locations;
        let mut out: Vec<PolicyDiagnostic> = validate::policy(&self.defaults)
            .into_iter()
            .map(|problem| {
                let mut d = PolicyDiagnostic::at_key(locations, &problem.key, problem.message);
                d.key = Some(format!("defaults.{}", problem.key));
                d
            })
            .collect();
        let mut refuse = |key: &str, message: String| {
            out.push(PolicyDiagnostic {
                source: String::new(),
                position: None,
                key: Some(format!("limits.{key}")),
                message,
            })
        };
        let limits = &self.limits;
        if let Some(problem) = validate::branch_prefix_error(&limits.branch_prefix) {
            refuse("branch_prefix", problem);
        }
        for (index, path) in limits.protected_paths.iter().enumerate() {
            if let Err(problem) = validate::normalize_path(path) {
                refuse(
                    &format!("protected_paths[{index}]"),
                    format!("`{path}` {problem}"),
                );
            }
        }
        for (index, agent) in limits.agents.iter().flatten().enumerate() {
            if let Some(problem) = validate::agent_name_error(agent) {
                refuse(&format!("agents[{index}]"), problem);
            }
        }
        if limits.environments.is_empty() {
            refuse(
                "environments",
                "an empty list would let no run execute".to_owned(),
            );
        }
        for (key, value) in [
            ("max_parallelism", limits.max_parallelism.into()),
            ("max_timeout_secs", limits.max_timeout_secs),
            ("max_attempts", limits.max_attempts.into()),
            ("max_tasks", limits.max_tasks.into()),
            ("max_step_timeout_secs", limits.max_step_timeout_secs),
            (
                "max_external_timeout_secs",
                limits.max_external_timeout_secs,
            ),
            ("max_plans_per_hour", limits.max_plans_per_hour.into()),
            ("max_runs_per_hour", limits.max_runs_per_hour.into()),
            (
                "max_commands_per_user_per_hour",
                limits.max_commands_per_user_per_hour.into(),
            ),
        ] {
            if value == 0 {
                refuse(key, "must be at least 1".to_owned());
            }
        }
        if out.is_empty()
            && let Err(loosened) = effective(self, &Policy::default())
        {
            out.extend(loosened);
        }
        for diagnostic in &mut out {
            if diagnostic.source.is_empty() {
                diagnostic.source = "server policy".to_owned();
            }
        }
        if out.is_empty() { Ok(()) } else { Err(out) }
    }
}
