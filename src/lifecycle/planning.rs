//! The life of a planner run: one `/ade plan` carried out by a planner agent on a runner, from
//! the command to the plan comment (docs/spec.md#the-planner-agent).

use super::State;

/// Where a planner run is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PlanningState {
    /// Stored with its job; waits for a runner.
    Queued,
    /// A runner is running the planner.
    Running,
    /// The planner wrote a spec and ade stored it as a new version, valid or not.
    Planned,
    /// The planner or its runner failed; the reply says why and no version was stored.
    Failed,
    /// Stopped by `/ade cancel`, or replaced by a newer `/ade plan` of the goal.
    Cancelled,
}

impl PlanningState {
    /// Whether the planner run is still to end.
    pub fn in_flight(self) -> bool {
        matches!(self, PlanningState::Queued | PlanningState::Running)
    }
}

impl State for PlanningState {
    const ALL: &'static [Self] = &[
        PlanningState::Queued,
        PlanningState::Running,
        PlanningState::Planned,
        PlanningState::Failed,
        PlanningState::Cancelled,
    ];
    const THING: &'static str = "planner run";

    fn as_str(self) -> &'static str {
        match self {
            PlanningState::Queued => "queued",
            PlanningState::Running => "running",
            PlanningState::Planned => "planned",
            PlanningState::Failed => "failed",
            PlanningState::Cancelled => "cancelled",
        }
    }

    fn can_become(self, to: Self) -> bool {
        use PlanningState::*;
        matches!(
            (self, to),
            (Queued, Running | Failed | Cancelled)
                | (Running, Running | Planned | Failed | Cancelled)
        )
    }
}

display_by_name!(PlanningState);

#[cfg(test)]
mod tests {
    use super::PlanningState::*;
    use super::*;
    use crate::lifecycle::{assert_names_round_trip, moves};

    #[test]
    fn every_move_is_decided_and_ended_planner_runs_stay_ended() {
        assert_eq!(
            moves::<PlanningState>(),
            [
                (Queued, Running),
                (Queued, Failed),
                (Queued, Cancelled),
                (Running, Running),
                (Running, Planned),
                (Running, Failed),
                (Running, Cancelled),
            ]
        );
        for state in PlanningState::ALL {
            assert_eq!(state.is_final(), !state.in_flight(), "{state}");
        }
        assert_names_round_trip::<PlanningState>();
    }
}
