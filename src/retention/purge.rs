//! The purge job: once per period, one at a time across replicas, it deletes from the database
//! what is due (deliveries and their events, the agent output and verification failures stored
//! with runs, finished jobs) and old audit files, recording each batch it deletes.

use serde::{Deserialize, Serialize};

use super::rules::{Rules, cutoff};
use super::{Retention, ranges};
use crate::jobs::{BoxFuture, Job, JobContext, JobError, JobHandler};
use crate::policy::DataClass;
use crate::store::audit::{self as records, ActorKind, Entry, Outcome};
use crate::store::jobs::{self as queue, Finished};
use crate::store::retention::{self as rows, Whose};
use crate::store::runs;

/// The purge of one period.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PurgeJob {
    /// The period: the time it was enqueued divided by the purge interval.
    pub period: i64,
}

impl PurgeJob {
    /// Attempts a purge gets; the next period's purge takes up whatever this one left.
    pub const ATTEMPTS: i64 = 3;
}

/// One purge per period, whichever replica enqueues it; purges run one at a time.
impl Job for PurgeJob {
    const KIND: &'static str = "retention_purge";

    fn idempotency_key(&self, _run_at: i64) -> String {
        format!("retention_purge:{}", self.period)
    }

    fn ordering_key(&self) -> Option<String> {
        Some("retention_purge".to_owned())
    }
}

/// The handler of [`PurgeJob`]s.
pub struct PurgeHandler {
    retention: Retention,
}

impl PurgeHandler {
    pub(super) fn new(retention: Retention) -> PurgeHandler {
        PurgeHandler { retention }
    }
}

impl JobHandler for PurgeHandler {
    fn run<'a>(&'a self, ctx: &'a JobContext) -> BoxFuture<'a, Result<(), JobError>> {
        Box::pin(async move {
            let _job: PurgeJob = ctx.payload()?;
            let now = ctx.now_ms();
            let rules = {
                let mut conn = ctx.store().reader().await?;
                Rules::load(&mut conn, self.retention.server).await?
            };
            for (whose, periods) in rules.each() {
                deliveries(ctx, whose, cutoff(now, periods.deliveries_days), now).await?;
                for class in [DataClass::RunLogs, DataClass::VerificationLogs] {
                    run_content(ctx, class, whose, cutoff(now, periods.days(class)), now).await?;
                }
            }
            let config = &self.retention.config;
            for (which, days) in [
                (Finished::Done, config.completed_jobs_days),
                (Finished::Failed, config.failed_jobs_days),
            ] {
                jobs(ctx, which, cutoff(now, days), now).await?;
            }
            sessions(ctx, now - SESSION_GRACE_MS, now).await?;
            if config.audit_days > 0 {
                self.retention
                    .audit
                    .purge_before(ctx.store(), cutoff(now, config.audit_days))
                    .await?;
            }
            ctx.finish_empty().await
        })
    }
}

/// A purge's record of one batch: the class, how many, and which ids.
fn record(now: i64, subject: &str, class: &str, ids: &[i64]) -> Entry {
    Entry::new(
        now,
        ActorKind::Ade,
        "ade",
        "retention.purged",
        subject,
        Outcome::Ok,
    )
    .with("class", class)
    .with("count", ids.len() as u64)
    .with("ids", ranges(ids))
}

/// Deletes `whose` deliveries handled before `before`, with their events, but none a job still
/// names.
async fn deliveries(
    ctx: &JobContext,
    whose: Whose<'_>,
    before: i64,
    now: i64,
) -> Result<(), JobError> {
    let mut after = 0;
    loop {
        let mut tx = ctx.store().begin().await?;
        // The deliveries first, then the jobs: a delivery handled after the first read is not in
        // the batch, and one handled before it has its jobs in the second (on PostgreSQL each
        // statement sees what was committed when it started).
        let batch = rows::handled_deliveries(&mut tx, whose, before, after).await?;
        let (needed_deliveries, needed_events) = rows::still_needed(&mut tx).await?;
        let Some(&(last, _)) = batch.last() else {
            return Ok(());
        };
        after = last;
        let ids: Vec<i64> = batch
            .into_iter()
            .filter(|(delivery, event)| {
                !needed_deliveries.contains(delivery)
                    && !event.is_some_and(|e| needed_events.contains(&e))
            })
            .map(|(delivery, _)| delivery)
            .collect();
        if ids.is_empty() {
            continue;
        }
        rows::delete_deliveries(&mut tx, &ids).await?;
        let mut entry = record(now, "deliveries", DataClass::Deliveries.as_str(), &ids);
        if let Whose::Repository { repository, .. } = whose {
            entry.scope.repository = Some(repository.to_owned());
        }
        records::record(&mut tx, &entry).await?;
        ctx.commit(tx).await?;
    }
}

/// Clears `class` from `whose` runs settled before `before`: the last lines of the agent's
/// output in the run's report (run logs), the failures and reviews handed to it (verification
/// logs).
async fn run_content(
    ctx: &JobContext,
    class: DataClass,
    whose: Whose<'_>,
    before: i64,
    now: i64,
) -> Result<(), JobError> {
    loop {
        let mut tx = ctx.store().begin().await?;
        let ids = rows::runs_to_clear(&mut tx, class, whose, before).await?;
        if ids.is_empty() {
            return Ok(());
        }
        for id in &ids {
            match class {
                DataClass::RunLogs => clear_output(&mut tx, *id).await?,
                _ => {
                    rows::clear_feedback(&mut tx, *id).await?;
                    crate::store::reviews::clear_said(&mut tx, *id).await?;
                }
            }
            rows::mark_cleared(&mut tx, *id, class).await?;
        }
        records::record(&mut tx, &record(now, "runs", class.as_str(), &ids)).await?;
        ctx.commit(tx).await?;
    }
}

/// Removes the agent's output from run `id`'s stored report: the last lines of it kept for the
/// approval's description and the tasks that depend on it, and the sentence read from it about
/// what went wrong. Everything else (the verification's report among it) stays; a report ade
/// cannot read is left as it is, and said.
async fn clear_output(tx: &mut crate::store::Conn, id: i64) -> Result<(), JobError> {
    let Some(text) = runs::run(tx, id).await?.and_then(|run| run.report) else {
        return Ok(());
    };
    let mut outcome: serde_json::Value = match serde_json::from_str(&text) {
        Ok(outcome) => outcome,
        Err(error) => {
            tracing::warn!(run = id, %error, "a run's report does not read as JSON; its agent output was not removed");
            return Ok(());
        }
    };
    let Some(report) = outcome.get_mut("report").and_then(|r| r.as_object_mut()) else {
        tracing::warn!(
            run = id,
            "a run's stored report has no report part; nothing was removed"
        );
        return Ok(());
    };
    report.insert("summary".to_owned(), serde_json::Value::Array(Vec::new()));
    report.remove("agent_reported");
    rows::replace_report(tx, id, &outcome.to_string()).await?;
    Ok(())
}

/// How long a dashboard session is kept after it expired or ended: long enough to read in the
/// audit log's company, no longer, since it names who was signed in.
const SESSION_GRACE_MS: i64 = 24 * 3600 * 1000;

/// Deletes dashboard sessions that expired or ended before `before`.
async fn sessions(ctx: &JobContext, before: i64, now: i64) -> Result<(), JobError> {
    let mut tx = ctx.store().begin().await?;
    let ids = crate::store::web_sessions::purge(&mut tx, before).await?;
    if ids.is_empty() {
        return Ok(());
    }
    records::record(&mut tx, &record(now, "web sessions", "web_sessions", &ids)).await?;
    ctx.commit(tx).await
}

/// Deletes `which` jobs that finished before `before`.
async fn jobs(ctx: &JobContext, which: Finished, before: i64, now: i64) -> Result<(), JobError> {
    let class = match which {
        Finished::Done => "completed_jobs",
        Finished::Failed => "failed_jobs",
    };
    loop {
        let mut tx = ctx.store().begin().await?;
        let ids = queue::prune_finished(&mut tx, which, before).await?;
        if ids.is_empty() {
            return Ok(());
        }
        records::record(&mut tx, &record(now, "jobs", class, &ids)).await?;
        ctx.commit(tx).await?;
    }
}
