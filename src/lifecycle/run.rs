//! A run: one attempt to carry out a task.
//!
//! ```text
//!  Queued ──runner──▶ Running ──pushed, verification passed (or nothing to verify)──▶ Succeeded
//!    ▲ │                │  ▲ a new runner takes over after the lease expired
//!    │ │                │  └─┘
//!    └─┼────────────────┤ held: the runner's setup cannot start the agent; tried again later
//!    │                  ├──pushed, verification could not run──▶ Unverified
//!    │                  ├──no change, blocked, agent failed, verification failed──▶ Failed
//!    └──/ade cancel─────┴──▶ Cancelled
//! ```

use serde::{Deserialize, Serialize};

use super::State;

/// Where a run stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunState {
    /// Stored; its job waits for a runner (or, held, for the runner's setup to be fixed).
    Queued,
    /// A runner is carrying it out.
    Running,
    /// It pushed its branch and its verification passed (or the repository has no steps), or a
    /// newer head pushed by someone else superseded its verification and speaks for the approval.
    Succeeded,
    /// It pushed its branch, but verification could not be carried out (a program missing, the
    /// runner failing): the approval stays a draft until `/ade verify` passes.
    Unverified,
    /// It ended without a change that passed: the agent failed or changed nothing, the change was
    /// blocked, verification failed, or the runner was lost for good.
    Failed,
    /// Stopped by `/ade cancel`.
    Cancelled,
}

impl RunState {
    /// Whether the run is still to end (queued or running).
    pub fn in_flight(self) -> bool {
        matches!(self, RunState::Queued | RunState::Running)
    }
}

impl State for RunState {
    const ALL: &'static [Self] = &[
        RunState::Queued,
        RunState::Running,
        RunState::Succeeded,
        RunState::Unverified,
        RunState::Failed,
        RunState::Cancelled,
    ];
    const THING: &'static str = "run";

    fn as_str(self) -> &'static str {
        match self {
            RunState::Queued => "queued",
            RunState::Running => "running",
            RunState::Succeeded => "succeeded",
            RunState::Unverified => "unverified",
            RunState::Failed => "failed",
            RunState::Cancelled => "cancelled",
        }
    }

    fn can_become(self, to: Self) -> bool {
        use RunState::*;
        matches!(
            (self, to),
            (Queued, Running | Cancelled | Failed)
                | (
                    Running,
                    Queued | Running | Succeeded | Unverified | Failed | Cancelled
                )
        )
    }
}

display_by_name!(RunState);

#[cfg(test)]
mod tests {
    use super::RunState::*;
    use super::*;
    use crate::lifecycle::{assert_names_round_trip, moves};

    #[test]
    fn every_move_is_decided_and_ended_runs_stay_ended() {
        assert_eq!(
            moves::<RunState>(),
            [
                (Queued, Running),
                (Queued, Failed),
                (Queued, Cancelled),
                (Running, Queued),
                (Running, Running),
                (Running, Succeeded),
                (Running, Unverified),
                (Running, Failed),
                (Running, Cancelled),
            ]
        );
        for state in RunState::ALL {
            assert_eq!(state.is_final(), !state.in_flight(), "{state}");
        }
        assert_names_round_trip::<RunState>();
    }
}
