//! What happens to an approval on the forge after its run opened it: a person pushes to its
//! branch ([`pushed`]: its new head is verified), asks for a check re-run ([`rerun`]), reviews it
//! ([`reviewed`]; a review asking for changes starts an attempt, [`requested`]), or it is merged or
//! closed ([`closed`]); and the merge gate ([`gate`]), which
//! merges only when the policy allows it, a qualifying review is on the current head and
//! `ade/verify` passed there.

pub mod closed;
pub mod gate;
pub mod pushed;
pub mod requested;
pub mod rerun;
pub mod reviewed;

use std::time::Duration;

use crate::events::PullRequest;
use crate::forge::ForgeKind;
use crate::store::approvals::{self, ApprovalRow};
use crate::store::{Conn, StoreError, runs};

/// How long an event about an approval whose run has not recorded it yet waits before it looks
/// again the `n`th time: 1 s, doubling to a minute, so a run that is only finishing is caught at
/// once and a long one costs a job a minute.
pub(crate) fn put_off(n: u32) -> Duration {
    Duration::from_secs(1u64 << n.min(6)).min(Duration::from_secs(60))
}

/// How many times it looks again: with [`put_off`], about four hours, longer than a run may take.
pub(crate) const MAX_PUT_OFF: u32 = 240;

/// The approval a pull request event is about (if ade has one) and whether a run is in flight on
/// its branch. In flight is read first: a run that records the approval in between ends in the
/// same commit, so the approval is then found; the other order could miss both.
pub(crate) async fn approval_and_in_flight(
    conn: &mut Conn,
    forge: ForgeKind,
    repository: &str,
    pull: &PullRequest,
) -> Result<(Option<ApprovalRow>, bool), StoreError> {
    let in_flight =
        runs::run_in_flight_on_branch(conn, forge, repository, &pull.head.branch).await?;
    let approval = approvals::by_pull(conn, forge, repository, pull.number).await?;
    Ok((approval, in_flight))
}
