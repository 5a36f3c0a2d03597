//! Phase 1b, admission: before the runner spends anything on a run, the goal's budget and the
//! repository's limits let it through or not (docs/limits.md). A spent budget fails the run with
//! the budget named; a spent rate (runs started per hour) or a full repository (runs under way at
//! once) sends it back to the queue until the limit allows it. The runs bucket's row is locked
//! while the active runs are counted, so two runners never both take the last place.

use super::load::StoredRun;
use crate::jobs::{JobContext, JobError};
use crate::limits::{Rate, in_words};
use crate::policy::EffectivePolicy;
use crate::store::limits::{self, Want};

/// How long a run that found the repository full waits before it looks again.
const FULL_WAIT_MS: i64 = 5_000;

/// Whether a run may start now.
pub(super) enum Admission {
    /// Let through: it counts as active and against its goal's budget from now on.
    Admitted,
    /// Not yet: a limit allows it at `until`.
    Wait {
        /// Which limit, in words for the goal.
        reason: String,
        /// When to look again (Unix ms).
        until: i64,
    },
    /// Never, under this policy: the goal's budget is spent (said in words).
    Spent(String),
}

/// Decides run `l`'s admission under `policy`, and records it when it is let through.
pub(super) async fn admit(
    ctx: &JobContext,
    l: &StoredRun,
    policy: &EffectivePolicy,
) -> Result<Admission, JobError> {
    let now = ctx.now_ms();
    let mut tx = ctx.store().begin().await?;
    let repository = l.repo.full_name();
    let rate = Rate::Runs;
    let want = Want {
        name: rate.bucket(l.forge.as_str(), &repository, ""),
        rate,
        per_hour: rate.per_hour(&policy.rate_limits),
    };
    // The runs bucket's row is locked from here to the commit: every admission of the
    // repository's runs (and so of the goal's) reads what is spent and active after the last one.
    let again = limits::admitted_before(&mut tx, l.run.id).await?;
    let took = match again {
        // A run let through before paid its start then.
        true => limits::lock_only(&mut tx, &want, now).await?,
        false => limits::take(&mut tx, std::slice::from_ref(&want), now).await?,
    };
    if let Err(over) = took {
        tx.rollback().await.ok();
        return Ok(Admission::Wait {
            reason: format!(
                "the repository's limit of {} (`{}`) is reached; it starts at {} ({})",
                rate.describe(over.per_hour),
                rate.key(),
                crate::clock::rfc3339(over.resets_at),
                in_words(over.resets_at - now)
            ),
            until: over.resets_at,
        });
    }
    // A run let through before counts itself; a new one does not yet.
    let spent = limits::spent(&mut tx, l.goal.id, (!again).then_some(l.run.id), now).await?;
    let over_budget = match again {
        true => spent.while_running(&policy.budget),
        false => spent.before_start(&policy.budget),
    };
    if let Some(limit) = over_budget {
        tx.rollback().await.ok();
        return Ok(Admission::Spent(
            limit.spent_sentence(&spent, &policy.budget),
        ));
    }
    let active = limits::active_runs(&mut tx, l.forge.as_str(), &repository, l.run.id).await?;
    let most = policy.rate_limits.active_runs;
    if active >= most {
        tx.rollback().await.ok();
        return Ok(Admission::Wait {
            reason: format!(
                "the repository has {active} runs under way, its limit (`rate_limits.active_runs` = {most}); it starts when one ends"
            ),
            until: now + FULL_WAIT_MS,
        });
    }
    limits::admit(&mut tx, l.run.id, now).await?;
    ctx.commit(tx).await?;
    Ok(Admission::Admitted)
}
