//! Which tasks of an active spec may start: a task starts when every task it depends on is
//! merged, and at most the policy's parallelism of a goal's tasks run at once. A task waiting on
//! a dependency that can no longer merge (rejected, failed, cancelled) is blocked, with the
//! reason.

use std::collections::HashMap;

use crate::lifecycle::TaskState;

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

/// A waiting task that cannot start until someone acts on one of its dependencies.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Blocked {
    /// The waiting task.
    pub id: String,
    /// The dependency that stops it.
    pub by: String,
    /// Where that dependency stands (rejected, failed or cancelled).
    pub state: TaskState,
}

/// The waiting tasks whose dependencies include one that will not merge without a human: it was
/// rejected, failed or cancelled (`/ade run` starts it again; `/ade cancel` ends the waiting one).
pub fn blocked(tasks: &[TaskNode]) -> Vec<Blocked> {
    let states: HashMap<&str, TaskState> = tasks.iter().map(|t| (t.id.as_str(), t.state)).collect();
    tasks
        .iter()
        .filter(|t| t.state == TaskState::Waiting)
        .filter_map(|t| {
            t.depends_on.iter().find_map(|dep| {
                let state = *states.get(dep.as_str())?;
                state.may_restart().then(|| Blocked {
                    id: t.id.clone(),
                    by: dep.clone(),
                    state,
                })
            })
        })
        .collect()
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
            node("t2", Review, &[]),
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

    #[test]
    fn a_task_behind_a_rejected_dependency_is_blocked_with_the_reason() {
        use TaskState::*;
        let tasks = [
            node("t1", Rejected, &[]),
            node("t2", Merged, &[]),
            node("t3", Waiting, &["t2", "t1"]),
            node("t4", Waiting, &["t3"]),
        ];
        assert_eq!(
            blocked(&tasks),
            [Blocked {
                id: "t3".into(),
                by: "t1".into(),
                state: Rejected
            }],
            "t4 waits on t3, which is itself only waiting"
        );
        assert_eq!(schedule(&tasks, 4), Schedule::default());
    }
}
