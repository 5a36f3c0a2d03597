//! The run job's definition, apart from its handler: `advance.rs` and the commands that start runs
//! enqueue it, and the handler ([`super`]) calls `advance` when a run ends, so the definition sits
//! below both.

use serde::{Deserialize, Serialize};

use crate::jobs::Job;

/// The job that carries out one run. Runs have no ordering key: independent runs go in parallel,
/// as many at once as there are runner workers.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RunJob {
    /// The run's id.
    pub run: i64,
    /// How many times the runner's setup could not start the run before this job (see
    /// `run/hold.rs`); 0 for its first job.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub held: u32,
    /// How many times the run waited in the queue for the repository's limits (runs per hour,
    /// active runs) before this job; 0 for its first job.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub waited: u32,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

impl RunJob {
    /// Attempts a run job gets: a run whose runner died (its lease expired) is taken over by
    /// another runner this many times minus one, then failed visibly.
    pub const ATTEMPTS: i64 = 3;

    /// The first job of run `run`.
    pub fn new(run: i64) -> RunJob {
        RunJob {
            run,
            held: 0,
            waited: 0,
        }
    }
}

/// One job per run and per time it was held or waited.
impl Job for RunJob {
    const KIND: &'static str = "run";

    fn idempotency_key(&self, _run_at: i64) -> String {
        match (self.held, self.waited) {
            (0, 0) => format!("run:{}", self.run),
            (n, 0) => format!("run:{}:held:{n}", self.run),
            (n, m) => format!("run:{}:held:{n}:waited:{m}", self.run),
        }
    }
}
