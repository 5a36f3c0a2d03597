//! The life of a task in an active spec, and which tasks may start: a task starts when every task
//! it depends on is merged, and at most the policy's parallelism of a goal's tasks run at once.

use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::fmt;

/// Where a task of an active spec stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskState {
    /// Some task it depends on is not merged yet.
    Waiting,
    /// Its dependencies are merged; it waits for a free slot and a runner.
    Ready,
    /// A run is carrying it out.
    Running,
    /// Its pull request (the approval) is open for review.
    Approval,
    /// Its pull request was merged: tasks depending on it may start.
    Merged,
    /// It failed for good (verification failed after the last attempt, or the run could not
    /// produce a change); `/ade run` may start it again.
    Failed,
    /// Cancelled by `/ade cancel` or by closing its pull request; `/ade run` may start it again.
    Cancelled,
}

impl TaskState {
    /// Every state.
    pub const ALL: [TaskState; 7] = [
        TaskState::Waiting,
        TaskState::Ready,
        TaskState::Running,
        TaskState::Approval,
        TaskState::Merged,
        TaskState::Failed,
        TaskState::Cancelled,
    ];

    /// Whether a task in this state may move to `to`.
    pub fn can_become(self, to: TaskState) -> bool {
        use TaskState::*;
        matches!(
            (self, to),
            (Waiting, Ready | Cancelled)
                | (Ready, Running | Cancelled)
                | (Running, Approval | Ready | Failed | Cancelled)
                | (Approval, Merged | Running | Failed | Cancelled)
                | (Failed | Cancelled, Ready | Waiting)
        )
    }

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            TaskState::Waiting => "waiting",
            TaskState::Ready => "ready",
            TaskState::Running => "running",
            TaskState::Approval => "approval",
            TaskState::Merged => "merged",
            TaskState::Failed => "failed",
            TaskState::Cancelled => "cancelled",
        }
    }

    /// Reads a stored name.
    pub fn parse(name: &str) -> Option<TaskState> {
        TaskState::ALL.into_iter().find(|s| s.as_str() == name)
    }

    /// Whether a run of it is under way (it takes one of the goal's parallel slots).
    pub fn is_busy(self) -> bool {
        matches!(self, TaskState::Running)
    }
}

impl fmt::Display for TaskState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A task as the scheduler sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TaskNode {
    /// Its id.
    pub id: String,
    /// Where it stands.
    pub state: TaskState,
    /// The ids of the tasks it depends on.
    pub depends_on: Vec<String>,
}

/// What the scheduler decided.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Schedule {
    /// Waiting tasks whose dependencies are now all merged: they become ready.
    pub unblocked: Vec<String>,
    /// Ready tasks (including the just unblocked) that start now, in plan order, as many as the
    /// free slots allow.
    pub start: Vec<String>,
}

/// Decides which tasks become ready and which start, given at most `parallelism` running at once.
pub fn schedule(tasks: &[TaskNode], parallelism: usize) -> Schedule {
    let states: HashMap<&str, TaskState> = tasks.iter().map(|t| (t.id.as_str(), t.state)).collect();
    let merged = |id: &String| states.get(id.as_str()) == Some(&TaskState::Merged);
    let unblocked: Vec<String> = tasks
        .iter()
        .filter(|t| t.state == TaskState::Waiting && t.depends_on.iter().all(merged))
        .map(|t| t.id.clone())
        .collect();
    let busy = tasks.iter().filter(|t| t.state.is_busy()).count();
    let free = parallelism.saturating_sub(busy);
    let start = tasks
        .iter()
        .filter(|t| t.state == TaskState::Ready || unblocked.contains(&t.id))
        .map(|t| t.id.clone())
        .take(free)
        .collect();
    Schedule { unblocked, start }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(id: &str, state: TaskState, deps: &[&str]) -> TaskNode {
        TaskNode {
            id: id.into(),
            state,
            depends_on: deps.iter().map(|d| d.to_string()).collect(),
        }
    }

    #[test]
    fn every_transition_is_decided_and_final_states_only_restart() {
        use TaskState::*;
        let allowed: Vec<(TaskState, TaskState)> = TaskState::ALL
            .into_iter()
            .flat_map(|a| TaskState::ALL.into_iter().map(move |b| (a, b)))
            .filter(|(a, b)| a.can_become(*b))
            .collect();
        assert_eq!(
            allowed,
            [
                (Waiting, Ready),
                (Waiting, Cancelled),
                (Ready, Running),
                (Ready, Cancelled),
                (Running, Ready),
                (Running, Approval),
                (Running, Failed),
                (Running, Cancelled),
                (Approval, Running),
                (Approval, Merged),
                (Approval, Failed),
                (Approval, Cancelled),
                (Failed, Waiting),
                (Failed, Ready),
                (Cancelled, Waiting),
                (Cancelled, Ready),
            ]
        );
        assert!(
            TaskState::ALL.into_iter().all(|s| !Merged.can_become(s)),
            "merged is final"
        );
        for state in TaskState::ALL {
            assert_eq!(TaskState::parse(state.as_str()), Some(state));
        }
    }

    #[test]
    fn independent_tasks_start_together_up_to_the_parallelism() {
        use TaskState::*;
        let tasks = [
            node("t1", Ready, &[]),
            node("t2", Ready, &[]),
            node("t3", Waiting, &["t1", "t2"]),
        ];
        assert_eq!(
            schedule(&tasks, 4),
            Schedule {
                unblocked: vec![],
                start: vec!["t1".into(), "t2".into()]
            }
        );
        assert_eq!(schedule(&tasks, 1).start, ["t1"]);
        let one_running = [node("t1", Running, &[]), node("t2", Ready, &[])];
        assert!(
            schedule(&one_running, 1).start.is_empty(),
            "the slot is taken"
        );
    }

    #[test]
    fn a_task_starts_only_when_every_dependency_is_merged() {
        use TaskState::*;
        let half = [
            node("t1", Merged, &[]),
            node("t2", Approval, &[]),
            node("t3", Waiting, &["t1", "t2"]),
        ];
        assert_eq!(schedule(&half, 4), Schedule::default());
        let both = [
            node("t1", Merged, &[]),
            node("t2", Merged, &[]),
            node("t3", Waiting, &["t1", "t2"]),
        ];
        assert_eq!(
            schedule(&both, 4),
            Schedule {
                unblocked: vec!["t3".into()],
                start: vec!["t3".into()]
            }
        );
        let full = [
            node("t0", Running, &[]),
            node("t1", Merged, &[]),
            node("t3", Waiting, &["t1"]),
        ];
        assert_eq!(
            schedule(&full, 1),
            Schedule {
                unblocked: vec!["t3".into()],
                start: vec![]
            },
            "ready, but no slot"
        );
    }
}
