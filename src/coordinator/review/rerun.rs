//! GitHub's "Re-run" on one of ade's checks (`check_run` `rerequested`): `ade/verify` verifies
//! the commit again for every open approval at that head; `ade/policy` checks the policy file at
//! that commit again. Check runs of other apps are not ade's to re-run.

use crate::coordinator::event_job::{CheckRerunKind, EventHandler, event_of, wrong_event};
use crate::coordinator::policy_check;
use crate::coordinator::verification::{self, Subject};
use crate::events::EventKind;
use crate::jobs::{BoxFuture, JobContext, JobError, JobHandler};
use crate::store::approvals;
use crate::store::verifications::Cause;

/// The handler of [`CheckRerunJob`](crate::coordinator::event_job::CheckRerunJob)s.
pub type CheckRerunHandler = EventHandler<CheckRerunKind>;

impl CheckRerunHandler {
    async fn handle(&self, ctx: &JobContext) -> Result<(), JobError> {
        let (_, Some((event, repo))) = event_of::<CheckRerunKind>(ctx).await? else {
            return ctx.finish_empty().await;
        };
        let EventKind::CheckRunRerequested(check) = &event.kind else {
            return Err(wrong_event("a re-run job", &event));
        };
        let forge = self.shared.forge(event.forge)?;
        let bot = self.shared.bot_login(forge.as_ref()).await?;
        if let Some(slug) = &check.app_slug
            && !bot.eq_ignore_ascii_case(&format!("{slug}[bot]"))
        {
            return ctx.finish_empty().await;
        }
        let who = event
            .sender
            .as_ref()
            .map_or("someone", |s| s.login.as_str());
        let now = ctx.now_ms();
        let mut writes = Vec::new();
        if check.name == policy_check::CHECK_NAME {
            writes.extend(
                policy_check::at_head(&self.shared, forge.as_ref(), &repo, &check.head_sha, now)
                    .await?,
            );
        }
        let policy = if check.name == crate::verify::CHECK_NAME {
            match self.shared.policies.load(forge.as_ref(), &repo).await {
                Ok((_, Ok(policy))) => Some(policy),
                Ok((head, Err(_))) => {
                    tracing::warn!(branch = %head.name, "a re-run of ade/verify is not honoured: the policy on the default branch is not valid");
                    None
                }
                Err(error) => return Err(error.into()),
            }
        } else {
            None
        };
        let mut tx = ctx.store().begin().await?;
        if let Some(policy) = policy {
            let open = approvals::by_head(&mut tx, event.forge, &repo.full_name(), &check.head_sha)
                .await?
                .into_iter()
                .filter(|a| a.state.awaits_review());
            for approval in open {
                if let Some(subject) = Subject::load(&mut tx, approval, policy.clone()).await? {
                    let (_, more) = verification::request(
                        &mut tx,
                        &self.shared,
                        &subject,
                        &check.head_sha,
                        Cause::Rerun,
                        who,
                        now,
                    )
                    .await?;
                    writes.extend(more);
                }
            }
        }
        self.shared
            .enqueue_writes(&mut tx, event.forge, &writes, now)
            .await?;
        ctx.finish(tx).await
    }
}

impl JobHandler for CheckRerunHandler {
    fn run<'a>(&'a self, ctx: &'a JobContext) -> BoxFuture<'a, Result<(), JobError>> {
        Box::pin(self.handle(ctx))
    }
}
