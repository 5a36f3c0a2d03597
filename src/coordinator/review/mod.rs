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

use super::intake::CommandJob;
use crate::events::Event;
use crate::forge::RepoRef;
use crate::jobs::{JobContext, JobError};
use crate::store;

/// How long an event about an approval whose run has not recorded it yet waits before it looks
/// again the `n`th time: 1 s, doubling to a minute, so a run that is only finishing is caught at
/// once and a long one costs a job a minute.
pub(crate) fn put_off(n: u32) -> Duration {
    Duration::from_secs(1u64 << n.min(6)).min(Duration::from_secs(60))
}

/// How many times it looks again: with [`put_off`], about four hours, longer than a run may take.
pub(crate) const MAX_PUT_OFF: u32 = 240;

/// The stored event a review job is about, and its repository; `None` for an event without a
/// readable repository (nothing to do).
pub(crate) async fn event_of(
    ctx: &JobContext,
) -> Result<(CommandJob, Option<(Event, RepoRef)>), JobError> {
    let job: CommandJob = serde_json::from_str(&ctx.job.payload)
        .map_err(|e| JobError::Permanent(format!("malformed {} job: {e}", ctx.job.kind)))?;
    let event = {
        let mut conn = ctx.store().reader().await?;
        store::events::get(&mut conn, job.event).await?
    }
    .ok_or_else(|| JobError::Permanent(format!("event {} is not stored", job.event)))?;
    let repo = event
        .repository
        .as_ref()
        .and_then(|r| RepoRef::parse(&r.full_name, event.installation_id));
    Ok((job, repo.map(|repo| (event, repo))))
}
