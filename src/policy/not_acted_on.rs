//! Keys of `.ade/config.toml` that ade reads and checks but does not act on yet. Setting one is
//! not an error (a policy written for what is coming should not break), but the person who sets
//! it is told: `ade policy check` and the `ade/policy` check warn, and docs/policy.md says so next
//! to the key. All three come from [`NOT_ACTED_ON`].

use super::diagnostic::PolicyDiagnostic;
use super::file::Policy;
use super::locate::KeyPath;

/// A key ade parses but does not act on yet, and what ade does instead.
#[derive(Clone, Copy, Debug)]
pub struct NotActedOn {
    /// The dotted key, as diagnostics name it (`retention.run_logs_days`).
    pub key: &'static str,
    /// What ade does today instead, said to whoever set the key.
    pub instead: &'static str,
}

/// Every key of the repository policy that is parsed but not acted on yet.
pub const NOT_ACTED_ON: &[NotActedOn] = &[NotActedOn {
    key: "agents.planner",
    instead: "`/ade plan` always plans from the issue's task list (the manual planner); \
                  no planner agent runs",
}];

/// The entry of `key` (dotted, as in [`NOT_ACTED_ON`]), if ade does not act on it yet.
pub fn not_acted_on(key: &str) -> Option<&'static NotActedOn> {
    NOT_ACTED_ON.iter().find(|entry| entry.key == key)
}

/// The words every warning about such a key starts with, so a reader finds them again in the
/// docs.
pub const WARNING: &str = "parsed, not acted on yet";

/// A warning for each key `policy` sets that ade does not act on yet, at the line the file set it
/// (for a policy [`super::check_str`] read). Warnings never make a policy invalid.
pub fn warnings(policy: &Policy) -> Vec<PolicyDiagnostic> {
    let Ok(written) = serde_json::to_value(policy) else {
        return Vec::new();
    };
    NOT_ACTED_ON
        .iter()
        .filter(|entry| {
            entry
                .key
                .split('.')
                .try_fold(&written, |value, key| value.get(key))
                .is_some_and(|value| !value.is_null())
        })
        .map(|entry| {
            let key = KeyPath::of(&entry.key.split('.').collect::<Vec<_>>());
            PolicyDiagnostic::at_key(
                &policy.locations,
                &key,
                format!("{WARNING}: {}", entry.instead),
            )
        })
        .collect()
}
