//! The `ade/policy` check: a pull request that changes `.ade/config.toml` gets the result of
//! checking the file at its head under this server's limits, with an annotation at each
//! problem's line. The file takes effect only once merged: ade reads policy from the default
//! branch alone. GitHub's "Re-run" on the check checks the file at that commit again.

use serde::Serialize;

use super::event_job::{EventHandler, PolicyCheckKind, event_of, wrong_event};
use super::policies::POLICY_PATH;
use super::shared::Shared;
use crate::coordinator::writes::ForgeWrite;
use crate::events::EventKind;
use crate::forge::{AnnotationLevel, Check, CheckAnnotation, CheckState, Forge, RepoRef};
use crate::jobs::{BoxFuture, JobContext, JobError, JobHandler};
use crate::store;
use crate::store::audit::{self, ActorKind, Entry, Outcome, Scope};
use crate::templates;

/// The check's name.
pub const CHECK_NAME: &str = "ade/policy";

/// Most annotations the check carries (one request's worth on GitHub).
const MAX_ANNOTATIONS: usize = 50;

/// One problem, for the template.
#[derive(Serialize)]
struct ProblemView {
    line: Option<usize>,
    text: String,
}

/// What the check's summary says.
#[derive(Serialize)]
struct PolicyCheckView {
    head: String,
    removed: bool,
    problems: Vec<ProblemView>,
}

/// The `ade/policy` check of the policy file at `head_sha` (read from the forge).
pub async fn at_head(
    shared: &Shared,
    forge: &dyn Forge,
    repo: &RepoRef,
    head_sha: &str,
    now: i64,
) -> Result<Vec<ForgeWrite>, JobError> {
    let file = forge.read_file(repo, POLICY_PATH, head_sha).await?;
    let check = check(shared, file.as_deref(), head_sha)?;
    tracing::info!(repository = %repo.full_name(), head = head_sha, state = ?check.state, now, "ade/policy checked");
    Ok(vec![ForgeWrite::Check {
        repo: repo.clone(),
        check,
    }])
}

/// The check of `file` (`None`: removed) at `head_sha`.
fn check(shared: &Shared, file: Option<&[u8]>, head_sha: &str) -> Result<Check, JobError> {
    let short: String = head_sha.chars().take(12).collect();
    let (state, title, problems, annotations) = match shared.policies.evaluate(file) {
        Ok(_) if file.is_none() => (
            CheckState::Success,
            "no policy file: the server's defaults apply once merged".to_string(),
            Vec::new(),
            Vec::new(),
        ),
        Ok(_) => (
            CheckState::Success,
            "the policy file is valid; it takes effect once merged".to_string(),
            Vec::new(),
            Vec::new(),
        ),
        Err(problems) => {
            let first = problems.first().map(|p| p.to_string()).unwrap_or_default();
            let annotations = problems
                .iter()
                .filter_map(|p| {
                    let position = p.position?;
                    let line = u32::try_from(position.line).ok()?.max(1);
                    Some(CheckAnnotation {
                        path: POLICY_PATH.to_string(),
                        start_line: line,
                        end_line: line,
                        start_column: u32::try_from(position.column).ok(),
                        level: AnnotationLevel::Failure,
                        message: match &p.key {
                            Some(key) => format!("{key}: {}", p.message),
                            None => p.message.clone(),
                        },
                        title: Some(CHECK_NAME.to_string()),
                    })
                })
                .take(MAX_ANNOTATIONS)
                .collect();
            let views = problems
                .iter()
                .map(|p| ProblemView {
                    line: p.position.map(|pos| pos.line),
                    text: match &p.key {
                        Some(key) => format!("{key}: {}", p.message),
                        None => p.message.clone(),
                    },
                })
                .collect();
            (
                CheckState::Failure,
                format!("{} problem(s) in the policy file: {first}", problems.len()),
                views,
                annotations,
            )
        }
    };
    let summary = templates::render(
        "policy_check.md",
        PolicyCheckView {
            head: short,
            removed: file.is_none(),
            problems,
        },
    )?;
    Ok(Check {
        name: CHECK_NAME.to_string(),
        head_sha: head_sha.to_string(),
        state,
        title,
        summary,
        text: None,
        annotations,
        details_url: None,
        external_id: Some(format!("ade:policy:{head_sha}")),
    })
}

/// The handler of [`PolicyCheckJob`](super::event_job::PolicyCheckJob)s: a pull request opened,
/// reopened or pushed to.
pub type PolicyCheckHandler = EventHandler<PolicyCheckKind>;

impl PolicyCheckHandler {
    async fn handle(&self, ctx: &JobContext) -> Result<(), JobError> {
        let (_, Some((event, repo))) = event_of::<PolicyCheckKind>(ctx).await? else {
            return ctx.finish_empty().await;
        };
        let pull = match &event.kind {
            EventKind::PullRequestOpened(pull)
            | EventKind::PullRequestReopened(pull)
            | EventKind::PullRequestSynchronized(pull) => pull,
            _ => return Err(wrong_event("a policy check job", &event)),
        };
        let forge = self.shared.forge(event.forge)?;
        // ade's own pushes cannot change the file: the guard blocks a change to a protected path,
        // and `.ade` is protected unless the server lets a repository unprotect it. An approval
        // someone else pushed to may hold their change, so it is checked like any pull request.
        if self.shared.sent_by_bot(forge.as_ref(), &event).await?
            && !self
                .pushed_by_others(ctx, &event, &repo, pull.number)
                .await?
            && let Ok(policy) = self.shared.policies.in_force(forge.as_ref(), &repo).await
            && policy.protecting(POLICY_PATH).is_some()
        {
            return ctx.finish_empty().await;
        }
        let at_head = forge.read_file(&repo, POLICY_PATH, &pull.head.sha).await?;
        let at_base = forge.read_file(&repo, POLICY_PATH, &pull.base.sha).await?;
        if at_head == at_base {
            return ctx.finish_empty().await;
        }
        let check = check(&self.shared, at_head.as_deref(), &pull.head.sha)?;
        tracing::info!(pull = pull.number, state = ?check.state, "a pull request changes the policy file; ade/policy reported");
        let now = ctx.now_ms();
        let mut tx = ctx.store().begin().await?;
        let outcome = if check.state == CheckState::Failure {
            Outcome::Refused
        } else {
            Outcome::Ok
        };
        let entry = Entry::new(
            now,
            ActorKind::Ade,
            "ade",
            "policy.checked",
            format!("pull request #{}", pull.number),
            outcome,
        )
        .scoped(Scope {
            forge: Some(event.forge),
            repository: Some(repo.full_name()),
            ..Scope::default()
        })
        .with("head", pull.head.sha.as_str())
        .with("title", check.title.as_str());
        audit::record(&mut tx, &entry).await?;
        let writes = [ForgeWrite::Check { repo, check }];
        self.shared
            .enqueue_writes(&mut tx, event.forge, &writes, now)
            .await?;
        ctx.finish(tx).await
    }
}

impl PolicyCheckHandler {
    /// Whether anyone but ade pushed to the pull request (when it is an approval).
    async fn pushed_by_others(
        &self,
        ctx: &JobContext,
        event: &crate::events::Event,
        repo: &RepoRef,
        number: i64,
    ) -> Result<bool, JobError> {
        let mut conn = ctx.store().reader().await?;
        let Some(approval) =
            store::approvals::by_pull(&mut conn, event.forge, &repo.full_name(), number).await?
        else {
            return Ok(false);
        };
        Ok(store::verifications::of_approval(&mut conn, approval.id)
            .await?
            .iter()
            .any(|v| v.cause == store::verifications::Cause::Push))
    }
}

impl JobHandler for PolicyCheckHandler {
    fn run<'a>(&'a self, ctx: &'a JobContext) -> BoxFuture<'a, Result<(), JobError>> {
        Box::pin(self.handle(ctx))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::coordinator::policies::Policies;
    use crate::coordinator::writes::Forges;
    use crate::links::LinkSigner;
    use crate::templates::snapshot;

    fn shared() -> Shared {
        Shared::new(
            Forges::default(),
            std::sync::Arc::new(Policies::new(Default::default())),
            LinkSigner::new("00", None),
            3,
        )
    }

    const HEAD: &str = "0123456789abcdef0123456789abcdef01234567";

    #[test]
    fn a_bad_policy_file_fails_with_an_annotation_at_each_problem() {
        let file = b"[execution]\nparallelism = 0\n\n[colour]\nx = 1\n";
        let check = check(&shared(), Some(file), HEAD).unwrap();
        assert_eq!(check.state, CheckState::Failure);
        assert_eq!(check.name, CHECK_NAME);
        let lines: Vec<u32> = check.annotations.iter().map(|a| a.start_line).collect();
        assert_eq!(lines, [2, 4], "{:?}", check.annotations);
        assert!(
            check.annotations.iter().all(|a| a.path == POLICY_PATH),
            "annotations point at the file"
        );
        assert!(check.title.starts_with("2 problem(s)"), "{}", check.title);
        snapshot("policy-check-failed", &check.summary);
    }

    #[test]
    fn a_good_file_passes_and_a_removed_one_says_the_defaults_apply() {
        let good = check(&shared(), Some(b"[execution]\nparallelism = 3\n"), HEAD).unwrap();
        assert_eq!(good.state, CheckState::Success);
        assert!(good.annotations.is_empty());
        snapshot("policy-check-passed", &good.summary);
        assert!(!good.summary.contains("not act on"), "{}", good.summary);
        let removed = check(&shared(), None, HEAD).unwrap();
        assert_eq!(removed.state, CheckState::Success);
        assert!(removed.summary.contains("removes"), "{}", removed.summary);
    }
}
