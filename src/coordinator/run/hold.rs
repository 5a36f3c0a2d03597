//! A run the runner's setup could not start (the agent's program not executable by the agent
//! user, a folder it cannot enter, a container runtime missing) is not the task's failure: the
//! run goes back to the queue, the goal is told once what to fix, and the run is tried again on a
//! growing delay and at once when ade restarts (docs/runner.md), without anyone typing
//! `/ade run`.
//!
//! A run over the repository's limits (runs started per hour, runs under way at once) waits the
//! same way, until the limit allows it (docs/limits.md); the goal is told once what it waits for.

use std::time::Duration;

use super::job::RunJob;
use super::load::StoredRun;
use crate::coordinator::render::{self, ReplyView};
use crate::coordinator::shared::Shared;
use crate::coordinator::writes::ForgeWrite;
use crate::jobs::{Job, JobContext, JobError};
use crate::lifecycle::{SpecState, TaskState};
use crate::markdown;
use crate::store::jobs as queue;
use crate::store::runs as store;
use crate::store::{goals, tasks};

/// The first delay before a held run is tried again; each further hold doubles it.
const FIRST_DELAY: Duration = Duration::from_secs(5);

/// The longest delay between two tries of a held run.
const MAX_DELAY: Duration = Duration::from_secs(300);

/// How long a run held `held` times before (0 for the first hold) waits for its next try.
pub(super) fn delay(held: u32) -> Duration {
    FIRST_DELAY
        .checked_mul(2u32.saturating_pow(held.min(16)))
        .unwrap_or(MAX_DELAY)
        .min(MAX_DELAY)
}

/// Why a run goes back to the queue.
#[derive(Clone, Copy, Debug)]
pub(super) enum Wait<'a> {
    /// The runner's setup could not start it: tried again on a growing delay.
    Setup(&'a str),
    /// A limit of the repository does not let it start yet: tried again at `until`.
    Limit {
        /// The limit and when it allows the run, in words.
        reason: &'a str,
        /// When to try again (Unix ms).
        until: i64,
    },
}

impl Wait<'_> {
    fn reason(&self) -> &str {
        match self {
            Wait::Setup(reason) | Wait::Limit { reason, .. } => reason,
        }
    }
}

/// The longest a run waiting for a limit sleeps before it looks again.
const MAX_LIMIT_WAIT: Duration = Duration::from_secs(3600);

/// The shortest: a limit that allows the run at once is looked at again a second later.
const MIN_LIMIT_WAIT: Duration = Duration::from_secs(1);

/// What became of a run the runner's setup could not start.
pub(super) enum Hold {
    /// Put back in the queue; its next try is scheduled and the job is complete.
    Held,
    /// `/ade cancel` asked it to stop: it ends as cancelled.
    Cancelled,
    /// Nobody waits for it any more (its plan was replaced, its task moved on): it ends as
    /// failed, with the setup's reason.
    NotWanted,
}

/// Puts the run back in the queue with the reason it waits, schedules its next try and, the first
/// time it waits for that reason, tells the goal (what to fix, or which limit it waits for), in
/// the transaction that completes this job; unless the run was cancelled or is no longer wanted,
/// which the caller records instead.
pub(super) async fn hold(
    ctx: &JobContext,
    shared: &Shared,
    l: &StoredRun,
    job: &RunJob,
    why: Wait<'_>,
) -> Result<Hold, JobError> {
    let now = ctx.now_ms();
    let reason = why.reason();
    let (wait, next, first) = match why {
        Wait::Setup(_) => (
            delay(job.held),
            RunJob {
                held: job.held + 1,
                ..job.clone()
            },
            job.held == 0,
        ),
        Wait::Limit { until, .. } => (
            Duration::from_millis(u64::try_from(until - now).unwrap_or(0))
                .clamp(MIN_LIMIT_WAIT, MAX_LIMIT_WAIT),
            RunJob {
                waited: job.waited + 1,
                ..job.clone()
            },
            job.waited == 0,
        ),
    };
    let mut tx = ctx.store().begin().await?;
    let spec_active = goals::spec(&mut tx, l.spec_row.id)
        .await?
        .is_some_and(|s| s.state == SpecState::Active);
    let task_running = tasks::task(&mut tx, l.task.id)
        .await?
        .is_some_and(|t| t.state == TaskState::Running);
    if !spec_active || !task_running {
        tx.rollback().await.ok();
        return Ok(Hold::NotWanted);
    }
    if store::cancel_requested(&mut tx, l.run.id).await? {
        tx.rollback().await.ok();
        return Ok(Hold::Cancelled);
    }
    if !store::hold_run(&mut tx, l.run.id, reason, now).await? {
        tx.rollback().await.ok();
        return Err(JobError::Retry(format!(
            "run {} moved while it was being held; reading it again",
            l.run.id
        )));
    }
    // Time a held run was under way counts against its goal's budget; waiting does not.
    crate::store::limits::stop_the_clock(&mut tx, l.run.id, now).await?;
    // A cancel that committed while the hold waited for the run's row: it found the run
    // running and only set the flag.
    if store::cancel_requested(&mut tx, l.run.id).await? {
        tx.rollback().await.ok();
        return Ok(Hold::Cancelled);
    }
    queue::enqueue(
        &mut tx,
        &next.new_job(RunJob::ATTEMPTS, now + wait.as_millis() as i64),
        now,
    )
    .await?;
    match why {
        Wait::Setup(_) => tracing::warn!(
            run = l.run.id,
            task = %l.task.task_id,
            held = next.held,
            retry_in_secs = wait.as_secs(),
            %reason,
            "the runner's setup cannot start this run; it waits in the queue and is tried again"
        ),
        Wait::Limit { .. } => tracing::info!(
            run = l.run.id,
            task = %l.task.task_id,
            waited = next.waited,
            retry_in_secs = wait.as_secs(),
            %reason,
            "a limit of the repository does not let this run start yet; it waits in the queue"
        ),
    }
    if first {
        let detail = match why {
            Wait::Setup(_) => {
                "This is the runner's setup, not the task: the operator fixes what the reason \
                 names on the runner (docs/runner.md). ade tries this run again every few \
                 minutes, and at once when ade restarts; `/ade cancel` stops it."
            }
            Wait::Limit { .. } => {
                "This is a limit of the repository's policy (docs/limits.md), not the task: the \
                 run starts by itself once the limit allows it; `/ade cancel` stops it."
            }
        };
        // A setup's reason may quote the runner's paths and errors; a limit's is ade's own words.
        let reason = match why {
            Wait::Setup(_) => markdown::inline(reason.trim_end_matches('.')),
            Wait::Limit { .. } => reason.trim_end_matches('.').to_string(),
        };
        let body = render::reply(&ReplyView {
            headline: format!(
                "run {} of task {} is waiting: {reason}.",
                l.run.id,
                markdown::code_span(&l.task.task_id),
            ),
            details: vec![detail.to_string()],
            ..ReplyView::default()
        })?;
        let write = ForgeWrite::Comment {
            shows: None,
            repo: l.repo.clone(),
            number: l.goal.number,
            marker: format!("run:{}", l.run.id),
            body,
        };
        shared
            .enqueue_writes(&mut tx, l.forge, &[write], now)
            .await?;
    }
    ctx.finish(tx).await?;
    Ok(Hold::Held)
}

/// The goal's note that a run that waited did run: it replaces the note that asked for a fix or
/// named the limit (same marker), so the goal does not keep saying the run waits. Where the run's
/// own report goes to the goal as well, that report replaces this note in turn. `None` for a run
/// that never waited.
pub(super) fn ran_after_wait(l: &StoredRun, job: &RunJob) -> Result<Option<ForgeWrite>, JobError> {
    let times = |n: u32| if n == 1 { "time" } else { "times" };
    let headline = match (job.held, job.waited) {
        (0, 0) => return Ok(None),
        (0, waited) => format!(
            "run {} of task {} ran once the repository's limits allowed it (it waited {} {}).",
            l.run.id,
            markdown::code_span(&l.task.task_id),
            waited,
            times(waited)
        ),
        (held, _) => format!(
            "run {} of task {} ran once the runner's setup was fixed (it was held {} {}).",
            l.run.id,
            markdown::code_span(&l.task.task_id),
            held,
            times(held)
        ),
    };
    let body = render::reply(&ReplyView {
        headline,
        ..ReplyView::default()
    })?;
    Ok(Some(ForgeWrite::Comment {
        shows: None,
        repo: l.repo.clone(),
        number: l.goal.number,
        marker: format!("run:{}", l.run.id),
        body,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_held_run_waits_longer_each_time_up_to_five_minutes() {
        let waits: Vec<u64> = (0..10).map(|held| delay(held).as_secs()).collect();
        assert_eq!(waits, [5, 10, 20, 40, 80, 160, 300, 300, 300, 300]);
        assert_eq!(delay(u32::MAX), MAX_DELAY);
    }
}
