//! Forge writes as jobs. Every comment, reaction and label ade posts is a job with an idempotency
//! key, so a crash or a retry never posts twice: a comment carries a hidden marker, and a retry
//! that cannot tell whether its first attempt reached the forge finds the comment by that marker
//! among the bot's own comments instead of posting another.

use crate::forge::{
    Check, CheckTarget, Forge, ForgeError, ForgeKind, PullRequestUpdate, Reaction, RepoRef,
};
use crate::jobs::{BoxFuture, Discarded, Job, JobContext, JobError, JobHandler};
use crate::store::StoreError;
use crate::store::audit::{self, ActorKind, Entry, Outcome, Scope};
use crate::store::checks;
use crate::store::sticky::{self, Sticky};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::Arc;

/// The forge clients of a process, one per configured forge.
#[derive(Clone, Default)]
pub struct Forges(HashMap<ForgeKind, Arc<dyn Forge>>);

impl Forges {
    /// Adds the client of one forge.
    pub fn insert(&mut self, forge: Arc<dyn Forge>) {
        self.0.insert(forge.kind(), forge);
    }

    /// The client for `kind`, or a permanent error naming the missing configuration.
    pub fn get(&self, kind: ForgeKind) -> Result<&Arc<dyn Forge>, ForgeError> {
        self.0
            .get(&kind)
            .ok_or_else(|| ForgeError::NotConfigured(format!("no {kind} client is configured")))
    }
}

/// One write to a forge.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum ForgeWrite {
    /// Keeps one comment with this marker on an issue or pull request, created on the first write
    /// and edited on later ones. Replies are sticky too, each with a marker of its own, which is
    /// what makes them safe to retry.
    Comment {
        /// Where.
        repo: RepoRef,
        /// The issue or pull request.
        number: i64,
        /// The hidden key of the comment, unique in the repository.
        marker: String,
        /// The text, without the marker (it is added here).
        body: String,
        /// The spec version a goal's plan comment shows: recorded as shown once the forge
        /// has the text.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        shows: Option<i64>,
    },
    /// Reacts to a comment.
    React {
        /// Where.
        repo: RepoRef,
        /// The comment.
        comment_id: i64,
        /// The reaction.
        reaction: Reaction,
    },
    /// Adds labels to an issue or pull request.
    Label {
        /// Where.
        repo: RepoRef,
        /// The issue or pull request.
        number: i64,
        /// The labels.
        labels: Vec<String>,
    },
    /// Creates or updates a check (`ade/verify`, `ade/policy`) on a commit: a check run on
    /// GitHub, updated in place once ade knows its id; a commit status on Gitea.
    Check {
        /// Where.
        repo: RepoRef,
        /// The check.
        check: Check,
    },
    /// Turns a pull request into a draft, or marks it ready for review.
    Draft {
        /// Where.
        repo: RepoRef,
        /// The pull request.
        number: i64,
        /// Draft (`true`) or ready for review.
        draft: bool,
        /// The head whose `ade/verify` result this follows: the write then waits behind that
        /// check's writes, so reviewers are asked only once the check shows the pass.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        after_check: Option<String>,
    },
    /// Closes a pull request without merging it (its branch stays).
    ClosePull {
        /// Where.
        repo: RepoRef,
        /// The pull request.
        number: i64,
    },
    /// Closes an issue (a finished goal, when the policy says so).
    CloseIssue {
        /// Where.
        repo: RepoRef,
        /// The issue.
        number: i64,
    },
}

/// The job that performs one forge write.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ForgeWriteJob {
    /// Which forge.
    pub forge: ForgeKind,
    /// What to write.
    pub write: ForgeWrite,
}

/// Comments on one issue are written in the order they were asked for (the plan before the reply
/// about it), reactions to one comment likewise. A comment's or a check's idempotency key is its
/// content and when it was asked for: what it shows can come back to an earlier state (in
/// review, running again, in review again; or passed, failed on a re-run, passed again), and each
/// must be written. A comment whose recorded text is already the one asked for is not written
/// again.
impl Job for ForgeWriteJob {
    const KIND: &'static str = "forge_write";

    fn idempotency_key(&self, now: i64) -> String {
        let forge = self.forge;
        match &self.write {
            ForgeWrite::Comment {
                repo, marker, body, ..
            } => format!(
                "comment:{forge}:{}:{marker}:{}:{now}",
                repo.full_name(),
                short_hash(body)
            ),
            ForgeWrite::React {
                repo,
                comment_id,
                reaction,
            } => format!(
                "react:{forge}:{}:{comment_id}:{reaction:?}",
                repo.full_name()
            ),
            ForgeWrite::Label {
                repo,
                number,
                labels,
            } => format!(
                "label:{forge}:{}:{number}:{}:{now}",
                repo.full_name(),
                short_hash(&labels.join(","))
            ),
            ForgeWrite::Check { repo, check } => format!(
                "check:{forge}:{}:{}:{}:{}:{now}",
                repo.full_name(),
                check.head_sha,
                check.name,
                short_hash(&serde_json::to_string(check).expect("a check serializes"))
            ),
            ForgeWrite::Draft {
                repo,
                number,
                draft,
                ..
            } => format!("draft:{forge}:{}:{number}:{draft}:{now}", repo.full_name()),
            ForgeWrite::ClosePull { repo, number } => {
                format!("close-pull:{forge}:{}:{number}:{now}", repo.full_name())
            }
            ForgeWrite::CloseIssue { repo, number } => {
                format!("close-issue:{forge}:{}:{number}:{now}", repo.full_name())
            }
        }
    }

    fn ordering_key(&self) -> Option<String> {
        let forge = self.forge;
        Some(match &self.write {
            ForgeWrite::Comment { repo, number, .. } | ForgeWrite::CloseIssue { repo, number } => {
                format!("comment:{forge}:{}#{number}", repo.full_name())
            }
            ForgeWrite::React {
                repo, comment_id, ..
            } => format!("react:{forge}:{}:{comment_id}", repo.full_name()),
            ForgeWrite::Label { repo, number, .. } => {
                format!("label:{forge}:{}:{number}", repo.full_name())
            }
            ForgeWrite::Check { repo, check } => format!(
                "check:{forge}:{}:{}:{}",
                repo.full_name(),
                check.head_sha,
                check.name
            ),
            ForgeWrite::Draft {
                repo,
                after_check: Some(head),
                ..
            } => format!(
                "check:{forge}:{}:{head}:{}",
                repo.full_name(),
                crate::verify::CHECK_NAME
            ),
            ForgeWrite::Draft { repo, number, .. } | ForgeWrite::ClosePull { repo, number } => {
                format!("pull:{forge}:{}#{number}", repo.full_name())
            }
        })
    }
}

fn short_hash(text: &str) -> String {
    hex::encode(&Sha256::digest(text.as_bytes())[..12])
}

/// The hidden line that marks a comment as ade's comment with this key.
pub fn marker_line(marker: &str) -> String {
    format!("<!-- ade:{marker} -->")
}

/// The handler of [`ForgeWriteJob`]s.
pub struct ForgeWriter {
    forges: Forges,
}

impl ForgeWriter {
    /// A writer through these clients.
    pub fn new(forges: Forges) -> ForgeWriter {
        ForgeWriter { forges }
    }

    async fn comment(
        &self,
        ctx: &JobContext,
        forge: ForgeKind,
        client: &Arc<dyn Forge>,
        (repo, number, marker, body): (&RepoRef, i64, &str, &str),
        shows: Option<i64>,
    ) -> Result<(), JobError> {
        let text = format!("{}\n{body}", marker_line(marker));
        let hash = short_hash(&text);
        let repository = repo.full_name();
        let known = {
            let mut conn = ctx.store().reader().await?;
            sticky::find(&mut conn, forge, &repository, marker).await?
        };
        let mut comment_id = match &known {
            Some(known) if known.body_hash == hash => {
                let mut tx = ctx.store().begin().await?;
                if let Some(spec) = shows {
                    crate::store::goals::mark_shown(&mut tx, spec, ctx.now_ms()).await?;
                }
                return ctx.finish_unsealed(tx).await;
            }
            Some(known) => Some(known.comment_id),
            // Only an attempt after one that may have posted needs to look for the comment:
            // the first attempt of a job nothing ever interrupted knows it has not posted. One
            // that cannot look fails here and tries again later, never posting blind.
            None if is_first_try(&ctx.job) => None,
            None => match find_by_marker(client, repo, number, marker).await? {
                // Posted by an attempt that did not live to record it (or to hear the forge's
                // answer): recorded as it is, without writing it again.
                Some((id, posted)) if posted == text => {
                    return record_comment(ctx, forge, repo, (number, marker, hash), id, shows)
                        .await;
                }
                found => found.map(|(id, _)| id),
            },
        };
        if let Some(id) = comment_id {
            match client.update_comment(repo, id, &text).await {
                Ok(()) => {}
                // Deleted by someone: post it again.
                Err(ForgeError::NotFound(_)) => comment_id = None,
                Err(error) => return Err(error.into()),
            }
        }
        let comment_id = match comment_id {
            Some(id) => id,
            None => client.create_comment(repo, number, &text).await?,
        };
        record_comment(ctx, forge, repo, (number, marker, hash), comment_id, shows).await
    }
}

/// Records that comment `comment_id` on `number` carries `marker` with the text of hash `hash`
/// (and, for a plan comment, that it shows spec version `shows`), and completes the job.
async fn record_comment(
    ctx: &JobContext,
    forge: ForgeKind,
    repo: &RepoRef,
    (number, marker, hash): (i64, &str, String),
    comment_id: i64,
    shows: Option<i64>,
) -> Result<(), JobError> {
    let mut tx = ctx.store().begin().await?;
    if let Some(spec) = shows {
        crate::store::goals::mark_shown(&mut tx, spec, ctx.now_ms()).await?;
    }
    let record = Sticky {
        comment_id,
        number,
        body_hash: hash,
    };
    sticky::record(
        &mut tx,
        forge,
        &repo.full_name(),
        marker,
        &record,
        ctx.now_ms(),
    )
    .await?;
    let entry = written(forge, repo, &format!("#{number}"), "comment", ctx.now_ms())
        .with("marker", marker)
        .with("comment", comment_id);
    audit::record_for_sweep(&mut tx, &entry).await?;
    ctx.finish_unsealed(tx).await
}

impl ForgeWriter {
    /// Sets a check: by its recorded id when ade created it before (one PATCH), created directly
    /// on a first attempt that knows none exists, and looked for first after an attempt that may
    /// have created it (a 5xx after the forge stored it), so a retry never makes a second one.
    async fn check(
        &self,
        ctx: &JobContext,
        forge: ForgeKind,
        client: &Arc<dyn Forge>,
        repo: &RepoRef,
        check: &Check,
    ) -> Result<(), JobError> {
        let repository = repo.full_name();
        let known = {
            let mut conn = ctx.store().reader().await?;
            checks::find(&mut conn, forge, &repository, &check.head_sha, &check.name).await?
        };
        let target = match known {
            Some(id) => CheckTarget::Update(id),
            None if is_first_try(&ctx.job) => CheckTarget::Create,
            None => CheckTarget::Find,
        };
        let created = client.set_check(repo, check, target).await?;
        let mut tx = ctx.store().begin().await?;
        if known != Some(created.id) {
            checks::record(
                &mut tx,
                forge,
                &repository,
                &check.head_sha,
                &check.name,
                created.id,
                ctx.now_ms(),
            )
            .await?;
        }
        let entry = written(
            forge,
            repo,
            &format!("commit {}", check.head_sha),
            "check",
            ctx.now_ms(),
        )
        .with("check", check.name.as_str())
        .with(
            "state",
            serde_json::to_value(check.state).unwrap_or_default(),
        );
        audit::record_for_sweep(&mut tx, &entry).await?;
        ctx.finish_unsealed(tx).await
    }
}

/// Whether no earlier attempt of this job ran: not a retry, not reaped, not handed back.
fn is_first_try(job: &crate::store::jobs::ClaimedJob) -> bool {
    job.attempt == 1 && job.last_error.is_none()
}

async fn finish(ctx: &JobContext) -> Result<(), JobError> {
    ctx.finish_empty().await
}

/// Completes a write the forge accepted, with its audit record.
async fn finish_written(ctx: &JobContext, entry: Entry) -> Result<(), JobError> {
    let mut tx = ctx.store().begin().await?;
    audit::record_for_sweep(&mut tx, &entry).await?;
    ctx.finish_unsealed(tx).await
}

/// The audit entry of a write of `kind` ade made on `subject` of `repo`.
fn written(forge: ForgeKind, repo: &RepoRef, subject: &str, kind: &str, now: i64) -> Entry {
    Entry::new(
        now,
        ActorKind::Ade,
        "ade",
        "forge.write",
        subject,
        Outcome::Ok,
    )
    .scoped(Scope {
        forge: Some(forge),
        repository: Some(repo.full_name()),
        ..Scope::default()
    })
    .with("write", kind)
}

/// The audit entry of a write ade asked for, by what it is (for one that failed for good).
fn asked(job: &ForgeWriteJob, now: i64) -> Entry {
    let forge = job.forge;
    match &job.write {
        ForgeWrite::Comment {
            repo,
            number,
            marker,
            ..
        } => written(forge, repo, &format!("#{number}"), "comment", now)
            .with("marker", marker.as_str()),
        ForgeWrite::React {
            repo, comment_id, ..
        } => written(
            forge,
            repo,
            &format!("comment {comment_id}"),
            "reaction",
            now,
        ),
        ForgeWrite::Label { repo, number, .. } => {
            written(forge, repo, &format!("#{number}"), "labels", now)
        }
        ForgeWrite::Check { repo, check } => written(
            forge,
            repo,
            &format!("commit {}", check.head_sha),
            "check",
            now,
        )
        .with("check", check.name.as_str()),
        ForgeWrite::Draft {
            repo,
            number,
            draft,
            ..
        } => written(forge, repo, &format!("#{number}"), "draft", now).with("draft", *draft),
        ForgeWrite::ClosePull { repo, number } => written(
            forge,
            repo,
            &format!("#{number}"),
            "close pull request",
            now,
        ),
        ForgeWrite::CloseIssue { repo, number } => {
            written(forge, repo, &format!("#{number}"), "close issue", now)
        }
    }
}

/// The bot's own comment carrying `marker`, if the forge has one: its id and its text.
async fn find_by_marker(
    client: &Arc<dyn Forge>,
    repo: &RepoRef,
    number: i64,
    marker: &str,
) -> Result<Option<(i64, String)>, JobError> {
    let bot = client.bot_login().await?;
    let line = marker_line(marker);
    let comments = client.list_comments(repo, number).await?;
    Ok(comments
        .into_iter()
        .find(|c| c.author.eq_ignore_ascii_case(&bot) && c.body.lines().any(|l| l.trim() == line))
        .map(|c| (c.id, c.body)))
}

impl JobHandler for ForgeWriter {
    fn run<'a>(&'a self, ctx: &'a JobContext) -> BoxFuture<'a, Result<(), JobError>> {
        Box::pin(async move {
            let job: ForgeWriteJob = ctx.payload()?;
            let client = self.forges.get(job.forge)?;
            match &job.write {
                ForgeWrite::Comment {
                    repo,
                    number,
                    marker,
                    body,
                    shows,
                } => {
                    self.comment(
                        ctx,
                        job.forge,
                        client,
                        (repo, *number, marker, body),
                        *shows,
                    )
                    .await
                }
                ForgeWrite::React {
                    repo,
                    comment_id,
                    reaction,
                } => {
                    client.add_reaction(repo, *comment_id, *reaction).await?;
                    let entry = asked(&job, ctx.now_ms()).with(
                        "reaction",
                        serde_json::to_value(reaction).unwrap_or_default(),
                    );
                    finish_written(ctx, entry).await
                }
                ForgeWrite::Label {
                    repo,
                    number,
                    labels,
                } => {
                    client.add_labels(repo, *number, labels).await?;
                    let entry = asked(&job, ctx.now_ms()).with("labels", labels.clone());
                    finish_written(ctx, entry).await
                }
                ForgeWrite::Check { repo, check } => {
                    self.check(ctx, job.forge, client, repo, check).await
                }
                ForgeWrite::Draft {
                    repo,
                    number,
                    draft,
                    ..
                } => {
                    let pull = client.pull_request(repo, *number).await?;
                    if !pull.open {
                        return finish(ctx).await;
                    }
                    client.set_draft(repo, &pull, *draft).await?;
                    finish_written(ctx, asked(&job, ctx.now_ms())).await
                }
                ForgeWrite::ClosePull { repo, number } => {
                    let update = PullRequestUpdate {
                        open: Some(false),
                        ..PullRequestUpdate::default()
                    };
                    match client.update_pull_request(repo, *number, &update).await {
                        Ok(_) => finish_written(ctx, asked(&job, ctx.now_ms())).await,
                        Err(ForgeError::NotFound(_)) => finish(ctx).await,
                        Err(error) => Err(error.into()),
                    }
                }
                ForgeWrite::CloseIssue { repo, number } => {
                    client.close_issue(repo, *number).await?;
                    finish_written(ctx, asked(&job, ctx.now_ms())).await
                }
            }
        })
    }

    fn discarded<'a>(&'a self, failed: Discarded<'a>) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            let (key, error) = (&failed.job.idempotency_key, failed.error);
            tracing::error!(%key, %error, "a forge write failed for good");
            if let Some(job) = failed.payload::<ForgeWriteJob>() {
                let mut entry = asked(&job, failed.now).with("why", error);
                entry.outcome = Outcome::Failed;
                audit::record(failed.conn, &entry).await?;
            }
            Ok(())
        })
    }
}

/// Enqueues `writes` as forge write jobs in the caller's transaction, so they happen if and only
/// if what asked for them commits.
pub async fn enqueue_writes(
    tx: &mut crate::store::Conn,
    forge: ForgeKind,
    writes: &[ForgeWrite],
    attempts: i64,
    now: i64,
) -> Result<(), crate::store::StoreError> {
    for write in writes {
        let job = ForgeWriteJob {
            forge,
            write: write.clone(),
        };
        crate::store::jobs::enqueue(tx, &job.new_job(attempts, now), now).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn comment(number: i64, marker: &str, body: &str) -> crate::store::jobs::NewJob {
        ForgeWriteJob {
            forge: ForgeKind::Github,
            write: ForgeWrite::Comment {
                shows: None,
                repo: RepoRef::parse("acme/widgets", None).unwrap(),
                number,
                marker: marker.into(),
                body: body.into(),
            },
        }
        .new_job(3, 0)
    }

    fn passed_check() -> Check {
        Check {
            name: crate::verify::CHECK_NAME.into(),
            head_sha: "abc".into(),
            state: crate::forge::CheckState::Success,
            title: String::new(),
            summary: String::new(),
            text: None,
            annotations: Vec::new(),
            details_url: None,
            external_id: None,
        }
    }

    #[test]
    fn every_write_keeps_its_stored_keys() {
        let repo = RepoRef::parse("acme/widgets", None).unwrap();
        let check = passed_check();
        let check_hash = short_hash(&serde_json::to_string(&check).unwrap());
        let cases = [
            (
                ForgeWrite::Comment {
                    shows: None,
                    repo: repo.clone(),
                    number: 7,
                    marker: "plan".into(),
                    body: "the plan".into(),
                },
                format!(
                    "comment:github:acme/widgets:plan:{}:5",
                    short_hash("the plan")
                ),
                "comment:github:acme/widgets#7".to_string(),
            ),
            (
                ForgeWrite::React {
                    repo: repo.clone(),
                    comment_id: 9,
                    reaction: Reaction::Eyes,
                },
                "react:github:acme/widgets:9:Eyes".into(),
                "react:github:acme/widgets:9".into(),
            ),
            (
                ForgeWrite::Label {
                    repo: repo.clone(),
                    number: 7,
                    labels: vec!["a".into(), "b".into()],
                },
                format!("label:github:acme/widgets:7:{}:5", short_hash("a,b")),
                "label:github:acme/widgets:7".into(),
            ),
            (
                ForgeWrite::Check {
                    repo: repo.clone(),
                    check,
                },
                format!("check:github:acme/widgets:abc:ade/verify:{check_hash}:5"),
                "check:github:acme/widgets:abc:ade/verify".into(),
            ),
            (
                ForgeWrite::Draft {
                    repo: repo.clone(),
                    number: 7,
                    draft: false,
                    after_check: Some("abc".into()),
                },
                "draft:github:acme/widgets:7:false:5".into(),
                "check:github:acme/widgets:abc:ade/verify".into(),
            ),
            (
                ForgeWrite::Draft {
                    repo: repo.clone(),
                    number: 7,
                    draft: true,
                    after_check: None,
                },
                "draft:github:acme/widgets:7:true:5".into(),
                "pull:github:acme/widgets#7".into(),
            ),
            (
                ForgeWrite::ClosePull {
                    repo: repo.clone(),
                    number: 7,
                },
                "close-pull:github:acme/widgets:7:5".into(),
                "pull:github:acme/widgets#7".into(),
            ),
            (
                ForgeWrite::CloseIssue { repo, number: 7 },
                "close-issue:github:acme/widgets:7:5".into(),
                "comment:github:acme/widgets#7".into(),
            ),
        ];
        for (write, key, order) in cases {
            let job = ForgeWriteJob {
                forge: ForgeKind::Github,
                write,
            }
            .new_job(3, 5);
            assert_eq!(job.kind, "forge_write");
            assert_eq!(job.idempotency_key, key);
            assert_eq!(job.ordering_key.as_deref(), Some(order.as_str()));
        }
    }

    #[test]
    fn a_ready_mark_after_a_pass_waits_behind_that_check() {
        let repo = RepoRef::parse("acme/widgets", None).unwrap();
        let job = |write: ForgeWrite| {
            ForgeWriteJob {
                forge: ForgeKind::Github,
                write,
            }
            .new_job(3, 0)
        };
        let check = job(ForgeWrite::Check {
            repo: repo.clone(),
            check: passed_check(),
        });
        let ready = job(ForgeWrite::Draft {
            repo: repo.clone(),
            number: 7,
            draft: false,
            after_check: Some("abc".into()),
        });
        let draft = job(ForgeWrite::Draft {
            repo,
            number: 7,
            draft: true,
            after_check: None,
        });
        assert_eq!(ready.ordering_key, check.ordering_key);
        assert_ne!(draft.ordering_key, check.ordering_key);
    }

    #[test]
    fn comments_on_one_issue_share_an_order_whatever_their_marker() {
        let plan = comment(7, "plan", "the plan");
        let reply = comment(7, "reply:1", "planned");
        let elsewhere = comment(8, "plan", "the plan");
        assert_eq!(plan.ordering_key, reply.ordering_key);
        assert_ne!(plan.ordering_key, elsewhere.ordering_key);
        assert_ne!(plan.idempotency_key, reply.idempotency_key);
        assert_ne!(
            plan.idempotency_key,
            comment(7, "plan", "the plan, edited").idempotency_key
        );
    }
}
