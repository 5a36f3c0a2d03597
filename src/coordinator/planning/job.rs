//! The planner run's job, apart from its handler: `/ade plan` enqueues it, and the handler
//! ([`super`]) sits below the command.

use serde::{Deserialize, Serialize};

use crate::jobs::Job;

/// The job that carries out one planner run, on a runner's worker.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PlanJob {
    /// The planner run's id.
    pub planning: i64,
}

impl PlanJob {
    /// Attempts a planner run gets: a runner that died (its lease expired) or failed for a
    /// moment is tried again this many times minus one, then the command is told it failed.
    pub const ATTEMPTS: i64 = 3;

    /// The job of planner run `planning`.
    pub fn new(planning: i64) -> PlanJob {
        PlanJob { planning }
    }
}

/// One job per planner run.
impl Job for PlanJob {
    const KIND: &'static str = "plan";

    fn idempotency_key(&self, _run_at: i64) -> String {
        format!("plan:{}", self.planning)
    }
}
