//! A spec version's life. Its content never changes; its state moves along the edges below and
//! nowhere else, and each move is kept with its time.
//!
//! ```text
//!            validation passed          /ade approve            all tasks merged or closed
//!   Draft ─────────────────────▶ Validated ───────────▶ Active ─────────────────────────▶ Archived
//!     │  │                          │   │                                                  ▲
//!     │  │ validation failed        │   └──────────── goal closed before approval ─────────┘
//!     │  ▼                          │
//!     │ Rejected                    │ a newer /ade plan
//!     │                             ▼
//!     └─── a newer /ade plan ──▶ Superseded
//! ```
//!
//! `Rejected`, `Superseded` and `Archived` are final. An `Active` spec is never superseded: a new
//! version can be planned while one is active, but approving it first needs the active one
//! archived (its runs cancelled), which the coordinator does in one step.

use std::fmt;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Where a spec version is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum SpecState {
    /// Just planned, not yet checked.
    Draft,
    /// Checked against the spec rules and the policy; waiting for `/ade approve`.
    Validated,
    /// Failed validation: posted with its errors, never runnable.
    Rejected,
    /// Approved: its tasks run as their dependencies are met.
    Active,
    /// Replaced by a newer version before it was approved.
    Superseded,
    /// Finished: every task merged or closed, or the goal closed before approval.
    Archived,
}

impl SpecState {
    /// Every state, for exhaustive tests and for listing.
    pub const ALL: [SpecState; 6] = [
        SpecState::Draft,
        SpecState::Validated,
        SpecState::Rejected,
        SpecState::Active,
        SpecState::Superseded,
        SpecState::Archived,
    ];

    /// Whether a spec in this state may move to `to`.
    pub fn can_become(self, to: SpecState) -> bool {
        use SpecState::*;
        matches!(
            (self, to),
            (Draft, Validated | Rejected | Superseded)
                | (Validated, Active | Superseded | Archived)
                | (Active, Archived)
        )
    }

    /// The state after moving to `to`, or why that move is refused.
    pub fn transition(self, to: SpecState) -> Result<SpecState, IllegalTransition> {
        if self.can_become(to) {
            Ok(to)
        } else {
            Err(IllegalTransition { from: self, to })
        }
    }

    /// Whether no move leaves this state.
    pub fn is_final(self) -> bool {
        SpecState::ALL.iter().all(|to| !self.can_become(*to))
    }

    /// The lowercase name used in storage, replies and the schema.
    pub fn as_str(self) -> &'static str {
        match self {
            SpecState::Draft => "draft",
            SpecState::Validated => "validated",
            SpecState::Rejected => "rejected",
            SpecState::Active => "active",
            SpecState::Superseded => "superseded",
            SpecState::Archived => "archived",
        }
    }
}

impl fmt::Display for SpecState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A move the lifecycle refuses, e.g. approving a superseded version.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("a spec that is {from} cannot become {to}")]
pub struct IllegalTransition {
    /// The state the spec is in.
    pub from: SpecState,
    /// The state asked for.
    pub to: SpecState,
}

/// The state of a spec version and the time it entered each state so far.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Lifecycle {
    /// The current state.
    state: SpecState,
    /// Every state entered, oldest first, starting with `draft`; the last is `state`.
    history: Vec<Entered>,
}

/// A state a spec entered, and when.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Entered {
    /// The state.
    pub state: SpecState,
    /// When, in milliseconds since the Unix epoch.
    pub at_ms: i64,
}

impl Lifecycle {
    /// A new version's lifecycle: `Draft` since `at_ms`.
    pub fn new(at_ms: i64) -> Lifecycle {
        Lifecycle {
            state: SpecState::Draft,
            history: vec![Entered {
                state: SpecState::Draft,
                at_ms,
            }],
        }
    }

    /// The current state.
    pub fn state(&self) -> SpecState {
        self.state
    }

    /// Every state entered, oldest first; the last is the current one.
    pub fn history(&self) -> &[Entered] {
        &self.history
    }

    /// When the spec entered `state`, if it has.
    pub fn entered_at(&self, state: SpecState) -> Option<i64> {
        self.history
            .iter()
            .find(|entered| entered.state == state)
            .map(|entered| entered.at_ms)
    }

    /// Moves to `to` at `at_ms`; an illegal move changes nothing.
    pub fn advance(&mut self, to: SpecState, at_ms: i64) -> Result<(), IllegalTransition> {
        self.state = self.state.transition(to)?;
        self.history.push(Entered { state: to, at_ms });
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::SpecState::*;
    use super::*;

    #[test]
    fn every_pair_is_allowed_or_refused_as_designed() {
        let allowed = [
            (Draft, Validated),
            (Draft, Rejected),
            (Draft, Superseded),
            (Validated, Active),
            (Validated, Superseded),
            (Validated, Archived),
            (Active, Archived),
        ];
        for from in SpecState::ALL {
            for to in SpecState::ALL {
                let expected = allowed.contains(&(from, to));
                assert_eq!(from.can_become(to), expected, "{from} -> {to}");
                match from.transition(to) {
                    Ok(next) => {
                        assert!(expected, "{from} -> {to} should be refused");
                        assert_eq!(next, to);
                    }
                    Err(err) => {
                        assert!(!expected, "{from} -> {to} should be allowed");
                        assert_eq!(err, IllegalTransition { from, to });
                    }
                }
            }
        }
    }

    #[test]
    fn final_states_are_the_three_ends() {
        let finals: Vec<_> = SpecState::ALL
            .into_iter()
            .filter(|s| s.is_final())
            .collect();
        assert_eq!(finals, [Rejected, Superseded, Archived]);
    }

    #[test]
    fn the_lifecycle_keeps_each_move_with_its_time_and_refuses_illegal_ones() {
        let mut lifecycle = Lifecycle::new(1_000);
        lifecycle.advance(Validated, 2_000).unwrap();
        let err = lifecycle.advance(Archived, 2_500);
        assert!(
            err.is_ok(),
            "validated specs may be archived when the goal closes"
        );

        let mut lifecycle = Lifecycle::new(1_000);
        lifecycle.advance(Validated, 2_000).unwrap();
        lifecycle.advance(Active, 3_000).unwrap();
        let err = lifecycle.advance(Superseded, 4_000).unwrap_err();
        assert_eq!(
            err.to_string(),
            "a spec that is active cannot become superseded"
        );
        assert_eq!(lifecycle.state(), Active);
        assert_eq!(lifecycle.entered_at(Draft), Some(1_000));
        assert_eq!(lifecycle.entered_at(Active), Some(3_000));
        assert_eq!(lifecycle.entered_at(Superseded), None);
        assert_eq!(lifecycle.history().len(), 3);
    }
}
