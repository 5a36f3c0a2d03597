//! The lives of the things ade keeps: a spec version, a planner run, a task of an active spec, a
//! run, an approval and a verification. Each is an enum whose legal moves are decided here and nowhere
//! else; the store records moves as compare-and-set on the state they leave, and rows carry these
//! enums, never strings.

/// Shows a state by its stored name. A macro because `Display`, a foreign trait, cannot be
/// implemented once for every [`State`].
macro_rules! display_by_name {
    ($state:ty) => {
        impl std::fmt::Display for $state {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(State::as_str(*self))
            }
        }
    };
}

mod approval;
mod planning;
mod run;
mod task;
mod verification;

pub use crate::spec::SpecState;
pub use approval::ApprovalState;
pub use planning::PlanningState;
pub use run::RunState;
pub use task::TaskState;
pub use verification::VerificationState;

use std::fmt;

/// What every lifecycle state has: a stored name and the moves it allows.
pub trait State: Copy + Eq + fmt::Display + fmt::Debug + Send + Sync + 'static {
    /// Every state, for exhaustive tests and for reading stored names.
    const ALL: &'static [Self];

    /// What this kind of thing is called, for errors (`task`, `run`).
    const THING: &'static str;

    /// The lowercase name used in storage, replies and logs.
    fn as_str(self) -> &'static str;

    /// Whether something in this state may move to `to`.
    fn can_become(self, to: Self) -> bool;

    /// Reads a stored name.
    fn parse(name: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|s| s.as_str() == name)
    }

    /// Whether no move leaves this state.
    fn is_final(self) -> bool {
        Self::ALL.iter().all(|to| !self.can_become(*to))
    }

    /// `to`, or the refusal naming both states.
    fn transition(self, to: Self) -> Result<Self, IllegalMove> {
        if self.can_become(to) {
            Ok(to)
        } else {
            Err(IllegalMove {
                thing: Self::THING,
                from: self.as_str(),
                to: to.as_str(),
            })
        }
    }
}

/// A move a lifecycle refuses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("a {thing} that is {from} cannot become {to}")]
pub struct IllegalMove {
    /// The kind of thing.
    pub thing: &'static str,
    /// The state it is in.
    pub from: &'static str,
    /// The state asked for.
    pub to: &'static str,
}

impl State for SpecState {
    const ALL: &'static [Self] = &SpecState::ALL;
    const THING: &'static str = "spec";

    fn as_str(self) -> &'static str {
        SpecState::as_str(self)
    }

    fn can_become(self, to: Self) -> bool {
        SpecState::can_become(self, to)
    }
}

/// Every allowed move of a lifecycle, in `ALL` order, for tests that pin the whole table.
#[cfg(test)]
pub(crate) fn moves<S: State>() -> Vec<(S, S)> {
    S::ALL
        .iter()
        .flat_map(|a| S::ALL.iter().map(move |b| (*a, *b)))
        .filter(|(a, b)| a.can_become(*b))
        .collect()
}

/// Checks that every state's stored name reads back as itself and that names are distinct.
#[cfg(test)]
pub(crate) fn assert_names_round_trip<S: State>() {
    for state in S::ALL {
        assert_eq!(S::parse(state.as_str()), Some(*state));
    }
    assert_eq!(S::parse("no such state"), None);
}
