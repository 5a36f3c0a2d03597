//! A verification: the policy's steps run on one head of an approval.
//!
//! ```text
//!  Queued ──runner──▶ Running ──────────────────────────────▶ Passed | Failed | Error
//!    │                  │  ▲ taken over    │ steps passed;          ▲
//!    │                  │  └─┘             ▼ external checks remain │
//!    │                  │               Awaiting ──checks ended, or──┘
//!    │                  │                  │     the deadline passed
//!    └──────────────────┴──────────────────┴──▶ Cancelled (/ade cancel) | Superseded (a newer head)
//! ```
//!
//! `Awaiting` is durable: no runner holds it, and a restart finds it with its deadline.

use serde::{Deserialize, Serialize};

use super::State;

/// Where a verification stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VerificationState {
    /// Stored; waits for a runner.
    Queued,
    /// Its steps are running.
    Running,
    /// Its steps let the head through; it waits for the policy's external checks until the
    /// deadline stored with it, on no runner.
    Awaiting,
    /// Every step passed, or the repository has none.
    Passed,
    /// A step failed or ran past its time limit.
    Failed,
    /// It could not be carried out (a program missing, the worktree gone): never a pass.
    Error,
    /// Stopped by `/ade cancel`.
    Cancelled,
    /// Stopped because a newer head of the approval is being verified.
    Superseded,
}

impl State for VerificationState {
    const ALL: &'static [Self] = &[
        VerificationState::Queued,
        VerificationState::Running,
        VerificationState::Awaiting,
        VerificationState::Passed,
        VerificationState::Failed,
        VerificationState::Error,
        VerificationState::Cancelled,
        VerificationState::Superseded,
    ];
    const THING: &'static str = "verification";

    fn as_str(self) -> &'static str {
        match self {
            VerificationState::Queued => "queued",
            VerificationState::Running => "running",
            VerificationState::Awaiting => "awaiting",
            VerificationState::Passed => "passed",
            VerificationState::Failed => "failed",
            VerificationState::Error => "error",
            VerificationState::Cancelled => "cancelled",
            VerificationState::Superseded => "superseded",
        }
    }

    fn can_become(self, to: Self) -> bool {
        use VerificationState::*;
        matches!(
            (self, to),
            (Queued, Running | Cancelled | Superseded | Error)
                | (
                    Running,
                    Running | Awaiting | Passed | Failed | Error | Cancelled | Superseded
                )
                | (Awaiting, Passed | Failed | Error | Cancelled | Superseded)
        )
    }
}

display_by_name!(VerificationState);

#[cfg(test)]
mod tests {
    use super::VerificationState::*;
    use super::*;
    use crate::lifecycle::{assert_names_round_trip, moves};

    #[test]
    fn every_move_is_decided() {
        assert_eq!(
            moves::<VerificationState>(),
            [
                (Queued, Running),
                (Queued, Error),
                (Queued, Cancelled),
                (Queued, Superseded),
                (Running, Running),
                (Running, Awaiting),
                (Running, Passed),
                (Running, Failed),
                (Running, Error),
                (Running, Cancelled),
                (Running, Superseded),
                (Awaiting, Passed),
                (Awaiting, Failed),
                (Awaiting, Error),
                (Awaiting, Cancelled),
                (Awaiting, Superseded),
            ]
        );
        assert_names_round_trip::<VerificationState>();
    }
}
