//! Waiting for the external checks (`verification.external_checks`), durably. Once ade's own
//! steps let a head through and the policy names external checks, the verification moves to
//! `awaiting` with an absolute deadline and the wait's progress ([`begin`]); the run or `verify`
//! job that ran the steps ends there, freeing its runner slot. An [`ExternalWaitJob`] on the
//! coordinator's workers then looks at the forge, stores what it saw, and puts itself off until
//! the next look; the check webhooks bring it forward ([`news`]). When every named check ended,
//! the deadline passed, the forge refused for good, or the wait was stopped, the verdict is
//! recorded through the path every verdict takes (`run::awaited` for a run's own verification,
//! `job::conclude` for a `verify` job's), with the same idempotency. A restart finds the wait
//! where it was, with its deadline.
//!
//! A look that fails (the forge answering 500) is asked again at the next one and never passes
//! anything: a name the forge could not be read for, when no look succeeded within the last poll
//! interval, is an error at the deadline. A refusal asking again cannot change (401, 403, 404)
//! ends the wait at once, naming the permission to grant. A newer head supersedes the wait: it
//! ends without a verdict of its own.

use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::Subject;
use crate::coordinator::shared::Shared;
use crate::forge::{ExternalLook, ExternalSource, ForgeKind, RepoRef};
use crate::jobs::{BoxFuture, Discarded, Job, JobContext, JobError, JobHandler};
use crate::lifecycle::VerificationState;
use crate::policy::EffectivePolicy;
use crate::runner::RunOutcome;
use crate::runner::dlp::Dlp;
use crate::store::jobs as queue;
use crate::store::verifications::{self, Cause, VerificationRow};
use crate::store::{Conn, StoreError, approvals};
use crate::verify::VerificationReport;
use crate::verify::external::{self, ExternalResult, Look};
use crate::verify::tail::clean_line;

/// The shortest gap between two looks at the forge: webhooks arriving closer together than
/// this wait for one look.
pub const MIN_GAP: Duration = Duration::from_secs(2);

/// How often the forge is looked at while no webhook arrives: a twentieth of the timeout,
/// between [`MIN_GAP`] and thirty seconds.
pub fn poll_interval(timeout: Duration) -> Duration {
    (timeout / 20).clamp(MIN_GAP, Duration::from_secs(30))
}

/// The job that looks at one verification's external checks once, then either records the
/// verdict or puts itself off until the next look (a new job, `look` one higher). Runs on the
/// coordinator's workers: a wait holds no runner.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ExternalWaitJob {
    /// The verification awaiting its external checks.
    pub verification: i64,
    /// Which look this is, from 0.
    pub look: u32,
}

impl ExternalWaitJob {
    /// Attempts each look gets: a store or forge hiccup is retried; a wait whose look failed for
    /// good is an error on its check.
    pub const ATTEMPTS: i64 = 5;

    /// The ordering key every look of `verification` shares, by which news brings it forward.
    pub fn key(verification: i64) -> String {
        format!("external_wait:{verification}")
    }
}

impl Job for ExternalWaitJob {
    const KIND: &'static str = "external_wait";

    fn idempotency_key(&self, _run_at: i64) -> String {
        format!("external_wait:{}:{}", self.verification, self.look)
    }

    fn ordering_key(&self) -> Option<String> {
        Some(ExternalWaitJob::key(self.verification))
    }
}

/// A wait's progress, stored on the verification between looks.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Awaited {
    /// The names waited for (the policy's, when the wait began).
    pub names: Vec<String>,
    /// When the wait began (Unix ms).
    pub started_at: i64,
    /// When it gives up (Unix ms).
    pub until: i64,
    /// The gap between looks while no webhook arrives, in ms.
    pub poll_ms: u64,
    /// The report of ade's own steps, which let the head through.
    pub steps: VerificationReport,
    /// For a run's own verification: how the run ended (pushed), recorded with the verdict.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run: Option<RunOutcome>,
    /// What the last looks said of each name, in the order of `names`: the latest wins.
    pub seen: Vec<Look>,
    /// When a look last read every name (Unix ms).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_at: Option<i64>,
    /// Why the last look could not read some name, clean.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// What a look decided.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Next {
    /// The wait is over: one result per name.
    Done(Vec<ExternalResult>),
    /// Look again at this time (Unix ms), unless news comes first.
    LookAt(i64),
}

impl Awaited {
    /// A wait for `policy`'s external checks beginning `now`, after `steps`.
    pub fn new(
        policy: &EffectivePolicy,
        steps: VerificationReport,
        run: Option<RunOutcome>,
        now: i64,
    ) -> Awaited {
        let checks = &policy.external_checks;
        Awaited {
            names: checks.names.clone(),
            started_at: now,
            until: now.saturating_add(ms(checks.timeout) as i64),
            poll_ms: ms(poll_interval(checks.timeout)),
            steps,
            run,
            seen: vec![Look::NotPosted; checks.names.len()],
            read_at: None,
            error: None,
        }
    }

    /// The check runs whose results (and annotations) the wait already holds.
    pub fn known(&self) -> Vec<i64> {
        self.seen
            .iter()
            .filter_map(|look| match look {
                Look::Ended(result) => result.id,
                _ => None,
            })
            .collect()
    }

    /// Takes in what one look at `now` found on `forge`, and says whether the wait is over.
    pub fn after_look(
        &mut self,
        forge: ForgeKind,
        look: &ExternalLook,
        now: i64,
        mask: &crate::verify::Mask<'_>,
    ) -> Next {
        let ended: Vec<Option<&ExternalResult>> = self
            .seen
            .iter()
            .map(|look| match look {
                Look::Ended(result) => Some(result),
                _ => None,
            })
            .collect();
        let looks = external::settle(
            &self.names,
            (&look.checks, !look.unread.is_empty()),
            &ended,
            mask,
        );
        let all_read = !looks.contains(&Look::Unknown);
        for (seen, now_seen) in self.seen.iter_mut().zip(looks) {
            match (now_seen, &*seen) {
                // A name the forge could not show this time keeps what was last seen of it.
                (Look::Unknown, Look::Ended(_) | Look::Running) => {}
                (now_seen, _) => *seen = now_seen,
            }
        }
        if all_read {
            self.read_at = Some(now);
            self.error = None;
        } else {
            // A refusal says what to grant; anything else says what the forge answered.
            let said: Vec<String> = look
                .unread
                .iter()
                .map(|(source, error)| {
                    external::refusal(forge, *source, error, mask).unwrap_or_else(|| {
                        let what = match source {
                            ExternalSource::CheckRun => "check runs",
                            ExternalSource::Status => "statuses",
                        };
                        format!("{what}: {error}")
                    })
                })
                .collect();
            self.error = Some(external::cap(&clean_line(&said.join("; "), mask)));
            // Nothing readable and a refusal asking again cannot change: the wait ends now. With
            // a source still readable, a name may yet show up there.
            let refused = look
                .unread
                .iter()
                .find_map(|(source, error)| external::refusal(forge, *source, error, mask));
            if let (Some(why), true) = (refused, look.read.is_empty()) {
                return Next::Done(self.results_now(|name, _| external::refused(name, &why)));
            }
        }
        if self.seen.iter().all(|s| matches!(s, Look::Ended(_))) {
            return Next::Done(self.results_now(|_, _| unreachable!("every name ended")));
        }
        if now >= self.until {
            // What the policy allowed, not when this look happened to run.
            let waited = u64::try_from(self.until - self.started_at).unwrap_or(0);
            let stale = self.read_at.is_none_or(|at| now - at > self.poll_ms as i64);
            let error = self.error.clone().filter(|_| stale);
            return Next::Done(self.results_now(|name, last| {
                external::timed_out(name, last, waited, error.as_deref())
            }));
        }
        Next::LookAt(now.saturating_add(self.poll_ms as i64).min(self.until))
    }

    /// The wait stopped (a cancel): what ended stays, the rest is cancelled.
    pub fn stopped(&self) -> Vec<ExternalResult> {
        self.results_now(|name, _| external::cancelled(name))
    }

    /// How long it waited by `now`, in ms.
    pub fn waited(&self, now: i64) -> u64 {
        u64::try_from(now - self.started_at).unwrap_or(0)
    }

    /// The steps' report with `results` added, as the wait ends at `now`.
    pub fn report(&self, results: Vec<ExternalResult>, now: i64) -> VerificationReport {
        self.steps.clone().with_external(results, self.waited(now))
    }

    fn results_now(&self, open: impl Fn(&str, &Look) -> ExternalResult) -> Vec<ExternalResult> {
        self.names
            .iter()
            .zip(&self.seen)
            .map(|(name, seen)| match seen {
                Look::Ended(result) => result.clone(),
                other => open(name, other),
            })
            .collect()
    }
}

/// Begins waiting for `policy`'s external checks on verification `id` (running), whose `steps`
/// let the head through, in the caller's transaction: the verification moves to `awaiting` with
/// its deadline and the first look is queued. `run` is how the run ended, for a run's own
/// verification. False if the verification was not running any more (superseded, cancelled).
pub async fn begin(
    tx: &mut Conn,
    id: i64,
    policy: &EffectivePolicy,
    (steps, log): (VerificationReport, Option<&str>),
    run: Option<RunOutcome>,
    now: i64,
) -> Result<bool, JobError> {
    let awaited = Awaited::new(policy, steps, run, now);
    let progress = serde_json::to_string(&awaited).expect("a wait serializes");
    if !verifications::await_external(tx, id, awaited.until, &progress, log, now).await? {
        return Ok(false);
    }
    let first = ExternalWaitJob {
        verification: id,
        look: 0,
    };
    queue::enqueue(tx, &first.new_job(ExternalWaitJob::ATTEMPTS, now), now).await?;
    tracing::info!(verification = id, checks = ?awaited.names, until = awaited.until, "the steps passed; waiting for the external checks");
    Ok(true)
}

/// A check webhook named `sha` of `repository`: each wait on it looks again, at once or as soon
/// as [`MIN_GAP`] after its last look allows. In the transaction that records the event.
pub async fn news(
    conn: &mut Conn,
    forge: ForgeKind,
    repository: &str,
    sha: &str,
    now: i64,
) -> Result<(), StoreError> {
    for (id, looked_at) in verifications::news_for(conn, forge, repository, sha, now).await? {
        let at = looked_at.map_or(now, |t| now.max(t + ms(MIN_GAP) as i64));
        queue::bring_forward(conn, ExternalWaitJob::KIND, &ExternalWaitJob::key(id), at).await?;
    }
    Ok(())
}

/// A cancel or a newer head stopped verification `id`: if it awaits external checks, its next
/// look comes now and ends the wait.
pub async fn wake(conn: &mut Conn, id: i64, now: i64) -> Result<(), StoreError> {
    queue::bring_forward(conn, ExternalWaitJob::KIND, &ExternalWaitJob::key(id), now).await?;
    Ok(())
}

/// The handler of [`ExternalWaitJob`]s.
pub struct ExternalWaitHandler {
    shared: Shared,
}

impl ExternalWaitHandler {
    /// A handler recording verdicts through `shared`.
    pub fn new(shared: Shared) -> ExternalWaitHandler {
        ExternalWaitHandler { shared }
    }

    async fn handle(&self, ctx: &JobContext) -> Result<(), JobError> {
        let job: ExternalWaitJob = ctx.payload()?;
        let (row, stored) = {
            let mut conn = ctx.store().reader().await?;
            let row = verifications::get(&mut conn, job.verification).await?;
            let stored = verifications::awaited(&mut conn, job.verification).await?;
            (row, stored)
        };
        let (Some(row), Some(stored)) = (row, stored) else {
            return ctx.finish_empty().await;
        };
        let mut awaited: Awaited = serde_json::from_str(&stored.progress).map_err(|e| {
            JobError::Permanent(format!(
                "verification {}: its wait does not read: {e}",
                row.id
            ))
        })?;
        let now = ctx.now_ms();
        if row.state != VerificationState::Awaiting {
            // Superseded by a newer head, or ended elsewhere: no verdict of this wait. A run
            // whose own verification it was still ends, as the newer head's verification decides.
            tracing::info!(verification = row.id, state = %row.state, "the wait for external checks ended without a verdict");
            return self.conclude(ctx, &row, &awaited, None).await;
        }
        if self.stop_requested(ctx, &row).await? {
            tracing::info!(
                verification = row.id,
                "the wait for external checks was stopped"
            );
            let report = awaited.report(awaited.stopped(), now);
            return self.conclude(ctx, &row, &awaited, Some(report)).await;
        }
        let gap = ms(MIN_GAP) as i64;
        if let Some(looked) = stored.looked_at
            && now < looked + gap
            && now < awaited.until
        {
            return self.look_at(ctx, &row, &job, looked + gap).await;
        }
        let approval = {
            let mut conn = ctx.store().reader().await?;
            approvals::get(&mut conn, row.approval).await?
        };
        let Some(approval) = approval else {
            return ctx.finish_empty().await;
        };
        let forge = self.shared.forge(approval.forge)?;
        let repo = RepoRef::parse(&approval.repository, None)
            .ok_or_else(|| JobError::Permanent("the approval's repository is unreadable".into()))?;
        let policy = self
            .shared
            .policies
            .in_force(forge.as_ref(), &repo)
            .await
            .unwrap_or_default();
        let dlp = Dlp::new(&policy.dlp_rules)
            .unwrap_or_else(|_| Dlp::new(&[]).expect("the built-in detectors compile"));
        let mask = move |text: &str| dlp.redact(text);
        let look = forge
            .external_checks(&repo, &row.head_sha, &awaited.names, &awaited.known())
            .await;
        for (source, error) in &look.unread {
            let said = clean_line(&error.to_string(), &mask);
            tracing::warn!(verification = row.id, ?source, error = %said, "the external checks could not be read");
        }
        match awaited.after_look(forge.kind(), &look, now, &mask) {
            Next::Done(results) => {
                let outcomes: Vec<(&str, &str)> = results
                    .iter()
                    .map(|r| (r.name.as_str(), r.outcome.as_str()))
                    .collect();
                tracing::info!(verification = row.id, head = %row.head_sha, ?outcomes, "the external checks ended");
                let report = awaited.report(results, now);
                self.conclude(ctx, &row, &awaited, Some(report)).await
            }
            Next::LookAt(at) => {
                let progress = serde_json::to_string(&awaited).expect("a wait serializes");
                let mut tx = ctx.store().begin().await?;
                if !verifications::save_wait(&mut tx, row.id, &progress, now).await? {
                    // Stopped while it looked: the next look, at once, ends it.
                    queue::enqueue(&mut tx, &next(&job, now), now).await?;
                    return ctx.finish(tx).await;
                }
                // A webhook that came while it looked brings the next look near.
                let news = verifications::awaited(&mut tx, row.id)
                    .await?
                    .and_then(|s| s.news_at)
                    .is_some_and(|at| at >= now);
                let at = if news { at.min(now + gap) } else { at };
                queue::enqueue(&mut tx, &next(&job, at), now).await?;
                ctx.finish(tx).await
            }
        }
    }

    /// Puts the wait off until `at` without looking.
    async fn look_at(
        &self,
        ctx: &JobContext,
        row: &VerificationRow,
        job: &ExternalWaitJob,
        at: i64,
    ) -> Result<(), JobError> {
        let mut tx = ctx.store().begin().await?;
        queue::enqueue(&mut tx, &next(job, at), ctx.now_ms()).await?;
        tracing::debug!(
            verification = row.id,
            at,
            "looked a moment ago; looking again shortly"
        );
        ctx.finish(tx).await
    }

    /// Whether `/ade cancel` asked the wait (or the run it belongs to) to stop.
    async fn stop_requested(
        &self,
        ctx: &JobContext,
        row: &VerificationRow,
    ) -> Result<bool, JobError> {
        let mut conn = ctx.store().reader().await?;
        if row.cancel_requested {
            return Ok(true);
        }
        Ok(row.cause == Cause::Run
            && crate::store::runs::cancel_requested(&mut conn, row.run).await?)
    }

    /// Records the verification's end with `report` (none when it already ended elsewhere), as
    /// the job that ran its steps would have.
    async fn conclude(
        &self,
        ctx: &JobContext,
        row: &VerificationRow,
        awaited: &Awaited,
        report: Option<VerificationReport>,
    ) -> Result<(), JobError> {
        match (&awaited.run, row.cause) {
            (Some(RunOutcome::Pushed { .. }), Cause::Run) => {
                let Some(RunOutcome::Pushed {
                    head_sha,
                    report: run_report,
                    verification,
                    verification_log,
                }) = awaited.run.clone()
                else {
                    unreachable!("matched above")
                };
                let outcome = RunOutcome::Pushed {
                    head_sha,
                    report: run_report,
                    verification: report.unwrap_or(verification),
                    verification_log,
                };
                crate::coordinator::run::awaited(ctx, &self.shared, row, outcome).await
            }
            _ => match report {
                Some(report) => {
                    let subject = {
                        let mut conn = ctx.store().reader().await?;
                        subject_of(&mut conn, &self.shared, row).await?
                    };
                    let Some(subject) = subject else {
                        return ctx.finish_empty().await;
                    };
                    super::job::conclude(
                        &self.shared,
                        ctx,
                        &subject,
                        (row, VerificationState::Awaiting),
                        &report,
                        None,
                    )
                    .await
                }
                None => ctx.finish_empty().await,
            },
        }
    }
}

/// The approval of `row` with the run it verifies and the policy in force now.
async fn subject_of(
    conn: &mut Conn,
    shared: &Shared,
    row: &VerificationRow,
) -> Result<Option<Subject>, JobError> {
    let Some(approval) = approvals::get(conn, row.approval).await? else {
        return Ok(None);
    };
    let policy: Arc<EffectivePolicy> = match (
        shared.forge(approval.forge),
        RepoRef::parse(&approval.repository, None),
    ) {
        (Ok(forge), Some(repo)) => shared
            .policies
            .in_force(forge.as_ref(), &repo)
            .await
            .unwrap_or_default(),
        _ => Arc::default(),
    };
    let Some(subject) = Subject::load(conn, approval, policy).await? else {
        return Ok(None);
    };
    // The run the verification was asked for, as its `verify` job had it.
    Ok(Some(match crate::store::runs::run(conn, row.run).await? {
        Some(run) if run.id != subject.run.id => Subject { run, ..subject },
        _ => subject,
    }))
}

/// The next look of `job`'s wait, due at `at`.
fn next(job: &ExternalWaitJob, at: i64) -> crate::store::jobs::NewJob {
    ExternalWaitJob {
        verification: job.verification,
        look: job.look + 1,
    }
    .new_job(ExternalWaitJob::ATTEMPTS, at)
}

impl JobHandler for ExternalWaitHandler {
    fn run<'a>(&'a self, ctx: &'a JobContext) -> BoxFuture<'a, Result<(), JobError>> {
        Box::pin(self.handle(ctx))
    }

    /// A wait whose look failed for good is an error, said on its check; a run whose own
    /// verification it was fails visibly, as a run whose job failed for good does.
    fn discarded<'a>(&'a self, failed: Discarded<'a>) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            let Some(payload) = failed.payload::<ExternalWaitJob>() else {
                return Ok(());
            };
            let Discarded {
                conn, error, now, ..
            } = failed;
            let reason = format!("the wait for the external checks failed: {error}");
            let row = verifications::get(conn, payload.verification).await?;
            if let Err(e) =
                super::job::could_not_finish(&self.shared, conn, payload.verification, &reason, now)
                    .await
            {
                tracing::error!(verification = payload.verification, error = %e, "could not record a failed wait");
            }
            if let Some(row) = row.filter(|r| r.cause == Cause::Run) {
                crate::coordinator::run::failed_for_good(&self.shared, conn, row.run, &reason, now)
                    .await;
            }
            Ok(())
        })
    }
}

fn ms(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests;
