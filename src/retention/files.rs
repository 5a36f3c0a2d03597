//! The runner's files: run logs, verification logs, prompts and scratch folders, deleted by the
//! runner that keeps them once their repository's period has passed since the run and its
//! verifications finished; at once for what a repository keeps for 0 days.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::Retention;
use super::rules::{Rules, due};
use crate::audit::AuditError;
use crate::policy::DataClass;
use crate::runner::{Forget, Forgotten, Removed};
use crate::store::StoreError;
use crate::store::audit::{About, ActorKind, Entry, Outcome};
use crate::store::retention as rows;

/// Why a sweep of the runner's files stopped.
#[derive(Debug, thiserror::Error)]
pub enum SweepError {
    /// The database could not be read.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A purge's record could not be written.
    #[error(transparent)]
    Audit(#[from] AuditError),
    /// The runner could not list or delete its files.
    #[error("the runner: {0}")]
    Runner(String),
}

/// Runs looked up in the database at once.
const LOOKUP: usize = 200;

impl Retention {
    /// Deletes what is due of every run folder this process's runner keeps. Returns how many
    /// runs lost something.
    pub async fn sweep_files(&self) -> Result<usize, SweepError> {
        let Some(runner) = &self.runner else {
            return Ok(0);
        };
        let kept = runner.kept_runs().await.map_err(SweepError::Runner)?;
        let mut purged = 0;
        for ids in kept.chunks(LOOKUP) {
            purged += self.forget_due(ids).await?;
        }
        Ok(purged)
    }

    /// Run `run` and its reports are done: deletes what its repository keeps for 0 days at
    /// once (the next sweep deletes the rest when it is due). A failure is logged, and the sweep
    /// tries again.
    pub async fn after_run(&self, run: i64) {
        if self.runner.is_none() {
            return;
        }
        if let Err(error) = self.forget_due(&[run]).await {
            tracing::warn!(run, %error, "what the run keeps for no time could not be deleted yet; the next sweep tries again");
        }
    }

    /// Deletes what is due of the runs `ids`. What is to go is measured and recorded first, then
    /// deleted; a run whose files cannot be measured, recorded or deleted is logged (and, once
    /// recorded, recorded as failed) and left for the next sweep, and the others go on.
    async fn forget_due(&self, ids: &[i64]) -> Result<usize, SweepError> {
        let Some(runner) = &self.runner else {
            return Ok(0);
        };
        let (rules, ages) = {
            let mut conn = self.store.reader().await?;
            let rules = Rules::load(&mut conn, self.server).await?;
            (rules, rows::run_ages(&mut conn, ids).await?)
        };
        let now = self.clock.now_ms();
        let mut purged = 0;
        for age in ages {
            let Some(settled_at) = age.settled_at else {
                continue;
            };
            let classes = due(&rules.of(&age.forge, &age.repository), settled_at, now);
            if classes.is_empty() {
                continue;
            }
            let measured = match runner.forget(age.id, &classes, Forget::Measure).await {
                Ok(Forgotten::Done(measured)) if !measured.is_empty() => measured,
                Ok(_) => continue,
                Err(error) => {
                    tracing::warn!(run = age.id, %error, "what retention no longer keeps of a run could not be measured; the next sweep tries again");
                    continue;
                }
            };
            let about = About::Run(age.id);
            let entry = record(now, runner.name(), &measured);
            if let Err(error) = self
                .audit
                .record_about_now(&self.store, about, &entry)
                .await
            {
                tracing::warn!(run = age.id, %error, "the purge of a run's files could not be recorded, so nothing was deleted; the next sweep tries again");
                continue;
            }
            let failure = match runner.forget(age.id, &classes, Forget::Delete).await {
                Ok(Forgotten::Done(_)) => {
                    tracing::info!(run = age.id, classes = ?measured.keys().map(|c| c.as_str()).collect::<Vec<_>>(), "deleted what retention no longer keeps of a run");
                    purged += 1;
                    continue;
                }
                Ok(Forgotten::Busy) => "something of the run started on the runner".to_owned(),
                Err(error) => error,
            };
            tracing::warn!(run = age.id, why = %failure, "a run's files could not be deleted; the next sweep tries again");
            let failed = Entry {
                outcome: Outcome::Failed,
                ..record(now, runner.name(), &measured)
            }
            .with("why", failure);
            self.audit
                .record_about_now(&self.store, about, &failed)
                .await
                .ok();
        }
        Ok(purged)
    }
}

/// The record of deleting `removed` of a run on the runner `runner`: classes, files and bytes;
/// written before they are deleted.
fn record(now: i64, runner: &str, removed: &BTreeMap<DataClass, Removed>) -> Entry {
    let classes: Map<String, Value> = removed
        .iter()
        .map(|(class, r)| {
            (
                class.as_str().to_owned(),
                serde_json::json!({ "files": r.files, "bytes": r.bytes }),
            )
        })
        .collect();
    Entry::new(
        now,
        ActorKind::Ade,
        "ade",
        "retention.purged",
        "run files",
        Outcome::Ok,
    )
    .with("runner", runner)
    .with("classes", Value::Object(classes))
}
