//! The audit log's `run.egress` records: one per destination and verdict an `allowlist` agent's
//! connections had, with their count, so an agent that floods the proxy adds a bounded number
//! of records (the runner tallies at most 32
//! destinations and counts the rest, recorded once for those let through and once for those
//! refused). A refused destination is recorded with the outcome `refused`.

use crate::runner::env::EgressReport;
use crate::store::audit::{self, About, ActorKind, Entry, Outcome};
use crate::store::{Conn, StoreError};

/// Records `report`'s connections about run `run`, in the caller's transaction.
pub(super) async fn record(
    tx: &mut Conn,
    run: i64,
    report: &EgressReport,
    now: i64,
) -> Result<(), StoreError> {
    for tally in &report.tallies {
        let outcome = if tally.allowed {
            Outcome::Ok
        } else {
            Outcome::Refused
        };
        let mut entry = Entry::new(now, ActorKind::Ade, "ade", "run.egress", "run", outcome)
            .with("destination", tally.destination.clone())
            .with("connections", tally.count)
            .with("bytes_out", tally.bytes_out)
            .with("bytes_in", tally.bytes_in);
        if let Some(reason) = &tally.reason {
            entry = entry.with("why", reason.clone());
        }
        audit::record_about(tx, About::Run(run), &entry).await?;
    }
    for (count, outcome) in [
        (report.more, Outcome::Ok),
        (report.more_refused, Outcome::Refused),
    ] {
        if count > 0 {
            let entry = Entry::new(now, ActorKind::Ade, "ade", "run.egress", "run", outcome)
                .with("destination", "(more destinations, not tallied one by one)")
                .with("connections", count);
            audit::record_about(tx, About::Run(run), &entry).await?;
        }
    }
    Ok(())
}
