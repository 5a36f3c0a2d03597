//! `/ade verify` on an approval: verifies the pull request's current head again in a clean
//! worktree; a verification of an older head still running is stopped and its check cancelled.

use std::sync::Arc;

use super::Session;
use crate::coordinator::verification::{self, Subject};
use crate::jobs::JobError;
use crate::markdown;
use crate::store::verifications::Cause;
use crate::store::{Conn, approvals, runs};

/// Verifies the approval the comment is on again.
pub async fn run(session: &mut Session<'_>, tx: &mut Conn) -> Result<(), JobError> {
    let Some(approval) =
        approvals::by_pull(tx, session.forge, &session.repository(), session.number()).await?
    else {
        session.say_headline(
            "this pull request is not an approval ade opened; ade verifies only its own approvals."
                .into(),
        );
        return Ok(());
    };
    if !approval.state.awaits_review() && session.pull.is_some_and(|p| !p.open) {
        session.say_headline(format!(
            "this approval is {}; there is nothing to verify.",
            approval.state
        ));
        return Ok(());
    }
    if runs::runs_of_task(tx, approval.task)
        .await?
        .first()
        .is_some_and(|r| r.state.in_flight())
    {
        session.say_headline(
            "a run of this task is in flight; it verifies the change it pushes.".into(),
        );
        return Ok(());
    }
    let head = session
        .pull
        .map_or_else(|| approval.head_sha.clone(), |p| p.head_sha.clone());
    let Some(subject) = Subject::load(tx, approval, Arc::new(session.policy.clone())).await? else {
        session.say_headline(
            "this approval's task is no longer stored; there is nothing to verify.".into(),
        );
        return Ok(());
    };
    let login = session.requester.login.to_string();
    let (_, writes) = verification::request(
        tx,
        session.shared,
        &subject,
        &head,
        Cause::Command,
        &login,
        session.now,
    )
    .await?;
    session.writes.extend(writes);
    let steps = session.policy.verification.len();
    session.say_headline(format!(
        "verifying {} again ({steps} step{}): `ade/verify` follows on this pull request.",
        markdown::code_span(&head[..head.len().min(12)]),
        if steps == 1 { "" } else { "s" }
    ));
    Ok(())
}
