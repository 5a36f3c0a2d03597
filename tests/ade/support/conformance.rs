//! A story's teardown: everything the simulator answered and sent while the story ran, checked
//! against the published descriptions of the forge it played (tests/conformance). A departure
//! fails the story with the list: operation, JSON path, what the description allows, what was
//! sent.

use crate::conformance::record::{self, Dialect};
use ade::sim::{SimRecord, Simulator};

/// Checks the simulator's record when dropped, at the end of the story, unless the story is
/// failing already (its own failure is the one to read).
pub struct Conformance {
    record: SimRecord,
    dialect: Dialect,
}

impl Conformance {
    /// Watches `sim`, which plays `dialect`.
    pub fn new(sim: &Simulator, dialect: Dialect) -> Conformance {
        Conformance {
            record: sim.record(),
            dialect,
        }
    }

    /// What the check finds in the record so far.
    pub fn report(&self) -> record::Report {
        record::check(
            self.dialect,
            &self.record.calls(),
            &self.record.deliveries(),
        )
    }
}

impl Drop for Conformance {
    fn drop(&mut self) {
        if std::thread::panicking() {
            return;
        }
        self.report()
            .assert_clean("the simulator's answers and webhooks in this story");
    }
}
