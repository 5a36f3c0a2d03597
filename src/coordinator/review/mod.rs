//! What happens to an approval on the forge after its run opened it: a person pushes to its
//! branch ([`pushed`]: its new head is verified), asks for a check re-run ([`rerun`]), reviews it
//! ([`reviewed`]), or it is merged or closed ([`closed`]); and the merge gate ([`gate`]), which
//! merges only when the policy allows it, a qualifying review is on the current head and
//! `ade/verify` passed there.

pub mod closed;
pub mod gate;
pub mod pushed;
pub mod rerun;
pub mod reviewed;

use std::time::Duration;

/// How long an event about an approval whose run has not recorded it yet waits before it looks
/// again the `n`th time: 1 s, doubling to a minute, so a run that is only finishing is caught at
/// once and a long one costs a job a minute.
pub(crate) fn put_off(n: u32) -> Duration {
    Duration::from_secs(1u64 << n.min(6)).min(Duration::from_secs(60))
}

/// How many times it looks again: with [`put_off`], about four hours, longer than a run may take.
pub(crate) const MAX_PUT_OFF: u32 = 240;
