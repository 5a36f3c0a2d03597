//! A task of an active spec.
//!
//! ```text
//!  Waiting ──deps merged──▶ Ready ──slot──▶ Running ──pushed, verified──▶ Review ──merged──▶ Merged
//!                                            │  ▲ retry with feedback        │  │
//!                        failed verification │  └──────── /ade retry ────────┘  │ closed unmerged
//!                          on the last try   ▼                                  ▼
//!                                         Rejected ◀────────────────────────────┘
//!                                         (/ade retry runs it again; a person may still merge it)
//!  Running ──no change, blocked, agent failed──▶ Failed
//!  any unfinished ──/ade cancel──▶ Cancelled;   Failed | Rejected | Cancelled ──/ade run──▶ Waiting
//!  a person merging an approval ade gave up on (Failed | Rejected | Cancelled) ──▶ Merged
//! ```

use serde::{Deserialize, Serialize};

use super::State;

/// Where a task of an active spec stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskState {
    /// Some task it depends on is not merged yet.
    Waiting,
    /// Its dependencies are merged; it waits for a free slot and a runner.
    Ready,
    /// A run is carrying it out (the agent, the checks, the push, the verification).
    Running,
    /// Its approval (pull request) is open and waits for a human review.
    Review,
    /// Its approval was merged: tasks depending on it may start.
    Merged,
    /// Its approval was rejected: verification failed on the last attempt, or a human closed it
    /// unmerged. `/ade run` may start it again.
    Rejected,
    /// Its run could not produce a change to review (the agent failed or changed nothing, the
    /// change was blocked). `/ade run` may start it again.
    Failed,
    /// Cancelled by `/ade cancel`; `/ade run` may start it again.
    Cancelled,
}

impl TaskState {
    /// Whether a run of it is under way (it takes one of the goal's parallel slots).
    pub fn is_busy(self) -> bool {
        matches!(self, TaskState::Running)
    }

    /// Whether the task is finished as far as its goal is concerned: merged, rejected or
    /// cancelled. A goal whose tasks are all finished is archived with a summary.
    pub fn is_settled(self) -> bool {
        matches!(
            self,
            TaskState::Merged | TaskState::Rejected | TaskState::Cancelled
        )
    }

    /// Whether `/ade run` may start it again.
    pub fn may_restart(self) -> bool {
        matches!(
            self,
            TaskState::Failed | TaskState::Rejected | TaskState::Cancelled
        )
    }
}

impl State for TaskState {
    const ALL: &'static [Self] = &[
        TaskState::Waiting,
        TaskState::Ready,
        TaskState::Running,
        TaskState::Review,
        TaskState::Merged,
        TaskState::Rejected,
        TaskState::Failed,
        TaskState::Cancelled,
    ];
    const THING: &'static str = "task";

    fn as_str(self) -> &'static str {
        match self {
            TaskState::Waiting => "waiting",
            TaskState::Ready => "ready",
            TaskState::Running => "running",
            TaskState::Review => "review",
            TaskState::Merged => "merged",
            TaskState::Rejected => "rejected",
            TaskState::Failed => "failed",
            TaskState::Cancelled => "cancelled",
        }
    }

    fn can_become(self, to: Self) -> bool {
        use TaskState::*;
        matches!(
            (self, to),
            (Waiting, Ready | Cancelled)
                | (Ready, Running | Cancelled)
                | (Running, Review | Rejected | Failed | Cancelled)
                | (Review, Running | Merged | Rejected | Cancelled)
                | (Rejected, Running | Merged | Waiting | Ready | Cancelled)
                | (Failed | Cancelled, Waiting | Ready | Merged)
        )
    }
}

display_by_name!(TaskState);

#[cfg(test)]
mod tests {
    use super::TaskState::*;
    use super::*;
    use crate::lifecycle::{assert_names_round_trip, moves};

    #[test]
    fn every_move_is_decided() {
        assert_eq!(
            moves::<TaskState>(),
            [
                (Waiting, Ready),
                (Waiting, Cancelled),
                (Ready, Running),
                (Ready, Cancelled),
                (Running, Review),
                (Running, Rejected),
                (Running, Failed),
                (Running, Cancelled),
                (Review, Running),
                (Review, Merged),
                (Review, Rejected),
                (Review, Cancelled),
                (Rejected, Waiting),
                (Rejected, Ready),
                (Rejected, Running),
                (Rejected, Merged),
                (Rejected, Cancelled),
                (Failed, Waiting),
                (Failed, Ready),
                (Failed, Merged),
                (Cancelled, Waiting),
                (Cancelled, Ready),
                (Cancelled, Merged),
            ]
        );
        assert!(Merged.is_final(), "merged is final");
        assert_names_round_trip::<TaskState>();
    }

    #[test]
    fn settled_tasks_are_the_ones_a_goal_can_finish_with() {
        let settled: Vec<_> = TaskState::ALL
            .iter()
            .copied()
            .filter(|s| s.is_settled())
            .collect();
        assert_eq!(settled, [Merged, Rejected, Cancelled]);
        assert_eq!(
            Review.transition(Waiting).unwrap_err().to_string(),
            "a task that is review cannot become waiting"
        );
    }
}
