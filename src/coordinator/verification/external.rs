//! Waiting for the external checks (`verification.external_checks`): once ade's own steps let a
//! head through, the checks the forge's CI posts on it are read until each has ended or the
//! policy's timeout passed, and added to the verification's report, whose verdict then counts
//! them (`verify::external`). The job that verified the head waits (the run's, or a `verify`
//! job), so what follows (ready for review, a retry with the failures as feedback, a rejection)
//! goes through the path every verdict takes.
//!
//! The forge's webhooks (`check_run`, `check_suite` and `status` on GitHub, `status` on Gitea
//! and Forgejo) wake the wait at once through [`ExternalNews`]; a look every
//! [`poll_interval`] covers a webhook that was lost or went to another process. A look that fails
//! (the forge answering 500) is retried at the next one and never passes anything: a name the
//! forge could not be read for by the timeout is an error.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::broadcast;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::forge::{Forge, ForgeKind, RepoRef};
use crate::policy::EffectivePolicy;
use crate::runner::dlp::Dlp;
use crate::verify::VerificationReport;
use crate::verify::external::{self, ExternalResult, Look};
use crate::verify::tail::clean_line;

/// How many pieces of news a slow waiter may fall behind before it just looks again.
const NEWS_BACKLOG: usize = 256;

/// Tells waiting verifications that a check changed on a commit: the intake says so for each
/// check webhook, and every wait on that commit looks at the forge again at once.
#[derive(Clone)]
pub struct ExternalNews(broadcast::Sender<Arc<Heard>>);

/// One piece of news: a check changed on `sha` of `repository`.
#[derive(Debug)]
pub struct Heard {
    forge: ForgeKind,
    repository: String,
    sha: String,
}

impl Default for ExternalNews {
    fn default() -> ExternalNews {
        ExternalNews(broadcast::channel(NEWS_BACKLOG).0)
    }
}

impl ExternalNews {
    /// Says that a check changed on `sha` of `repository` (`owner/name`); nobody waiting is fine.
    pub fn tell(&self, forge: ForgeKind, repository: &str, sha: &str) {
        let _ = self.0.send(Arc::new(Heard {
            forge,
            repository: repository.to_lowercase(),
            sha: sha.to_lowercase(),
        }));
    }

    /// Resolves once news about `sha` of `repo` arrives (or news may have been missed).
    async fn about(
        receiver: &mut broadcast::Receiver<Arc<Heard>>,
        forge: ForgeKind,
        repo: &RepoRef,
        sha: &str,
    ) {
        let repository = repo.full_name().to_lowercase();
        let sha = sha.to_lowercase();
        loop {
            match receiver.recv().await {
                Ok(heard) => {
                    if heard.forge == forge && heard.repository == repository && heard.sha == sha {
                        return;
                    }
                }
                Err(broadcast::error::RecvError::Lagged(_)) => return,
                Err(broadcast::error::RecvError::Closed) => std::future::pending().await,
            }
        }
    }
}

/// What a wait is about.
pub struct Wait<'a> {
    /// The forge the head is on.
    pub forge: &'a dyn Forge,
    /// The repository.
    pub repo: &'a RepoRef,
    /// The head verified.
    pub head_sha: &'a str,
    /// The policy in force: its external checks, timeout and DLP rules.
    pub policy: &'a EffectivePolicy,
    /// Wakes the wait when a check webhook names the head.
    pub news: &'a ExternalNews,
    /// Fired by a cancel or a newer head: the wait ends, cancelled.
    pub stop: CancellationToken,
}

/// How often the forge is looked at while no webhook arrives: a twentieth of the timeout,
/// between half a second and thirty seconds.
pub fn poll_interval(timeout: Duration) -> Duration {
    (timeout / 20).clamp(Duration::from_millis(500), Duration::from_secs(30))
}

/// `report` with the policy's external checks waited for and added. A report whose steps did not
/// let the head through, or a policy without external checks, is returned as it is.
pub async fn wait(wait: Wait<'_>, report: VerificationReport) -> VerificationReport {
    let checks = &wait.policy.external_checks;
    if !checks.any() || !report.verdict.lets_through() {
        return report;
    }
    let dlp = Dlp::new(&wait.policy.dlp_rules)
        .unwrap_or_else(|_| Dlp::new(&[]).expect("the built-in detectors compile"));
    let mask = move |text: &str| dlp.redact(text);
    let names = &checks.names;
    let started = Instant::now();
    let deadline = started + checks.timeout;
    let poll = poll_interval(checks.timeout);
    let mut news = wait.news.0.subscribe();
    let mut ended: Vec<Option<ExternalResult>> = vec![None; names.len()];
    let mut last: Vec<Look> = vec![Look::NotPosted; names.len()];
    let mut error: Option<String>;
    tracing::info!(head = wait.head_sha, checks = ?names, timeout_secs = checks.timeout.as_secs(), "waiting for the external checks");
    let results = loop {
        match wait
            .forge
            .external_checks(wait.repo, wait.head_sha, names)
            .await
        {
            Ok(found) => {
                error = None;
                let looks = external::settle(names, &found, &mask);
                for ((slot, previous), look) in ended.iter_mut().zip(&mut last).zip(looks) {
                    match look {
                        Look::Ended(result) if slot.is_none() => *slot = Some(result),
                        Look::Ended(_) => {}
                        other => *previous = other,
                    }
                }
            }
            Err(e) => {
                let said = clean_line(&e.to_string(), &mask);
                tracing::warn!(head = wait.head_sha, error = %said, "the external checks could not be read; looking again");
                error = Some(said);
            }
        }
        if ended.iter().all(Option::is_some) {
            break ended.into_iter().flatten().collect::<Vec<_>>();
        }
        let now = Instant::now();
        if now >= deadline {
            let waited = ms(started.elapsed());
            break names
                .iter()
                .zip(ended)
                .zip(&last)
                .map(|((name, ended), look)| {
                    ended.unwrap_or_else(|| {
                        external::timed_out(name, look, waited, error.as_deref())
                    })
                })
                .collect();
        }
        tokio::select! {
            () = tokio::time::sleep_until((now + poll).min(deadline)) => {}
            () = ExternalNews::about(&mut news, wait.forge.kind(), wait.repo, wait.head_sha) => {}
            () = wait.stop.cancelled() => {
                break names
                    .iter()
                    .zip(ended)
                    .map(|(name, ended)| ended.unwrap_or_else(|| external::cancelled(name)))
                    .collect();
            }
        }
    };
    let outcomes: Vec<(&str, &str)> = results
        .iter()
        .map(|r| (r.name.as_str(), r.outcome.as_str()))
        .collect();
    tracing::info!(head = wait.head_sha, ?outcomes, "the external checks ended");
    report.with_external(results, ms(started.elapsed()))
}

fn ms(elapsed: Duration) -> u64 {
    u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_poll_follows_the_timeout_within_bounds() {
        assert_eq!(
            poll_interval(Duration::from_secs(1800)),
            Duration::from_secs(30)
        );
        assert_eq!(
            poll_interval(Duration::from_secs(100)),
            Duration::from_secs(5)
        );
        assert_eq!(
            poll_interval(Duration::from_secs(2)),
            Duration::from_millis(500)
        );
    }

    #[tokio::test]
    async fn news_wakes_only_waits_on_its_commit() {
        let news = ExternalNews::default();
        let mut receiver = news.0.subscribe();
        let repo = RepoRef::parse("acme/widgets", None).unwrap();
        news.tell(ForgeKind::Github, "acme/widgets", "b0");
        news.tell(ForgeKind::Gitea, "acme/widgets", "a1");
        news.tell(ForgeKind::Github, "Acme/Widgets", "A1");
        let woke = tokio::time::timeout(
            Duration::from_secs(1),
            ExternalNews::about(&mut receiver, ForgeKind::Github, &repo, "a1"),
        )
        .await;
        assert!(woke.is_ok());
        let idle = tokio::time::timeout(
            Duration::from_millis(100),
            ExternalNews::about(&mut receiver, ForgeKind::Github, &repo, "a1"),
        )
        .await;
        assert!(idle.is_err(), "nothing more was said about a1");
    }
}
