//! Whose periods apply to what: each repository's stored rules, capped by the server's limits as
//! they are now; for a repository ade has not read a policy of since it started keeping them, the
//! server's default for deliveries and the server's caps for its runs' data, so that an upgrade
//! never deletes what a repository asked to keep longer.

use std::collections::HashMap;

use super::DAY_MS;
use crate::policy::{DataClass, RetentionPolicy};
use crate::store::retention::{self as rows, Whose};
use crate::store::{Conn, StoreError};

/// The retention periods in force, per repository.
#[derive(Clone, Debug)]
pub struct Rules {
    repositories: HashMap<(String, String), RetentionPolicy>,
    unknown: RetentionPolicy,
}

/// The server's side of retention: its defaults and its caps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ServerPeriods {
    /// What a repository that sets nothing gets.
    pub defaults: RetentionPolicy,
    /// The most any repository may keep (`limits.max_*_days`).
    pub caps: RetentionPolicy,
}

impl Rules {
    /// The stored rules, capped by `server`'s caps, and the periods of repositories with none.
    pub async fn load(conn: &mut Conn, server: ServerPeriods) -> Result<Rules, StoreError> {
        let repositories = rows::rules(conn)
            .await?
            .into_iter()
            .map(|r| ((r.forge, r.repository), capped(r.rules, server.caps)))
            .collect();
        Ok(Rules {
            repositories,
            unknown: RetentionPolicy {
                deliveries_days: server.defaults.deliveries_days,
                ..server.caps
            },
        })
    }

    /// The periods of `repository` on `forge` (stored names).
    pub fn of(&self, forge: &str, repository: &str) -> RetentionPolicy {
        self.repositories
            .get(&(forge.to_owned(), repository.to_owned()))
            .copied()
            .unwrap_or(self.unknown)
    }

    /// Each repository with rules, then everything else, with the periods that apply.
    pub fn each(&self) -> Vec<(Whose<'_>, RetentionPolicy)> {
        let mut all: Vec<_> = self
            .repositories
            .iter()
            .map(|((forge, repository), rules)| (Whose::Repository { forge, repository }, *rules))
            .collect();
        all.push((Whose::Others, self.unknown));
        all
    }
}

/// `rules` with no period above `caps`'.
fn capped(rules: RetentionPolicy, caps: RetentionPolicy) -> RetentionPolicy {
    RetentionPolicy {
        deliveries_days: rules.deliveries_days.min(caps.deliveries_days),
        run_logs_days: rules.run_logs_days.min(caps.run_logs_days),
        verification_logs_days: rules
            .verification_logs_days
            .min(caps.verification_logs_days),
        worktrees_days: rules.worktrees_days.min(caps.worktrees_days),
        prompts_days: rules.prompts_days.min(caps.prompts_days),
    }
}

/// The time before which data kept `days` days is due at `now`.
pub fn cutoff(now: i64, days: u32) -> i64 {
    now - i64::from(days) * DAY_MS
}

/// The classes of a run's data that are due at `now`, for a run whose last part finished at
/// `settled_at`, under `rules`.
pub fn due(rules: &RetentionPolicy, settled_at: i64, now: i64) -> Vec<DataClass> {
    DataClass::OF_RUNS
        .into_iter()
        .filter(|class| settled_at <= cutoff(now, rules.days(*class)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const RULES: RetentionPolicy = RetentionPolicy {
        deliveries_days: 14,
        run_logs_days: 30,
        verification_logs_days: 0,
        worktrees_days: 7,
        prompts_days: 0,
    };

    #[test]
    fn stored_periods_above_todays_caps_are_capped() {
        let caps = RetentionPolicy {
            run_logs_days: 10,
            ..RULES
        };
        let stored = RetentionPolicy {
            run_logs_days: 90,
            prompts_days: 3,
            ..RULES
        };
        let capped = capped(stored, caps);
        assert_eq!((capped.run_logs_days, capped.prompts_days), (10, 0));
    }

    #[test]
    fn a_class_is_due_once_its_days_have_passed_and_zero_days_at_once() {
        let settled = 1_000 * DAY_MS;
        assert_eq!(
            due(&RULES, settled, settled),
            [DataClass::VerificationLogs, DataClass::Prompts]
        );
        assert_eq!(
            due(&RULES, settled, settled + 7 * DAY_MS - 1),
            [DataClass::VerificationLogs, DataClass::Prompts]
        );
        assert_eq!(
            due(&RULES, settled, settled + 7 * DAY_MS),
            [
                DataClass::VerificationLogs,
                DataClass::Scratch,
                DataClass::Prompts
            ]
        );
        assert_eq!(due(&RULES, settled, settled + 30 * DAY_MS).len(), 4);
        assert!(due(&RULES, settled, settled - 1).is_empty());
    }
}
