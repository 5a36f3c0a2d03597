//! Phase 3, check: ade makes the run's one commit (bot identity, `Ade-Spec`/`Ade-Task`/`Ade-Run`
//! trailers, the requester as co-author, agent tool leftovers excluded), reads the change back from
//! git, and runs the guard (protected paths, links, submodules, agent configuration) and the DLP
//! scan. A blocking finding ends the run before anything leaves the runner; so does content DLP
//! could not read, unless a maintainer allowed it for the task, and then the report lists it.

use super::prepare::Prepared;
use super::{Next, Stop};
use crate::forge::ForgeKind;
use crate::runner::commit::{self, CommitRequest, Identity};
use crate::runner::dlp::{Dlp, DlpReport};
use crate::runner::guard::{self, render::visible};
use crate::runner::order::{
    RunOrder, RunOutcome, RunReport, TouchedFile, Unscanned, UnscannedFile,
};

/// Commits and checks the agent's change; goes on with the commit to push.
pub(super) async fn check(
    bot: &Identity,
    order: &RunOrder,
    run: &Prepared,
    report: &mut RunReport,
) -> Result<Next<String>, Stop> {
    let dlp = Dlp::new(&order.dlp_rules).map_err(|e| Stop::agent(format!("DLP rules: {e}")))?;
    let request = CommitRequest {
        title: commit_title(order),
        body: format!(
            "Task {} of {} ({}), carried out by the agent {}.",
            order.task.id, order.spec_reference, order.task.title, order.agent
        ),
        goal: order.goal_reference.clone(),
        spec_version: order.spec_version,
        task: order.task.id.to_string(),
        run: order.run_id.to_string(),
        bot: bot.clone(),
        requester: requester_identity(order.forge, &order.requester),
        excludes: run.selection.agent.leftovers.patterns().to_vec(),
        time: None,
    };
    let head = match commit::commit_run(&run.mirror, &run.worktree, &order.base_sha, &request).await
    {
        Ok(Some(head)) => head,
        Ok(None) => {
            return Ok(Next::End(RunOutcome::NoChanges {
                report: report.clone(),
            }));
        }
        Err(e) if e.is_tampered() => {
            return Ok(Next::End(RunOutcome::Blocked {
                reason: format!("the agent changed ade's own git files: {e}"),
                report: report.clone(),
            }));
        }
        Err(e) => return Err(Stop::fault(format!("committing the change failed: {e}"))),
    };
    let changed = commit::read_changes(&run.mirror, &order.base_sha, &head)
        .await
        .map_err(|e| Stop::fault(format!("reading the change failed: {e}")))?;
    report.files_changed = changed.changes.files.len() as u64;
    report.insertions = changed.insertions;
    report.deletions = changed.deletions;
    report.touched = TouchedFile::of(&changed.changes);
    let checked = guard::check(&changed.changes, &run.policy);
    let mut scanned = dlp.scan_changes(&changed.changes);
    if let Some(by) = &order.unscanned_allowed_by {
        scanned.allow_unscanned(by);
    }
    report.unscanned = unscanned(&scanned);
    report.agent_config_changes = checked
        .agent_configuration
        .iter()
        .map(|change| dlp.redact(&change.path))
        .collect();
    report.flagged.extend(flags(&checked, &scanned, &dlp));
    if checked.blocks() || scanned.blocks() {
        let mut reason = String::from("the change was not pushed:");
        if checked.blocks() {
            reason.push_str("\n\n");
            reason.push_str(&dlp.redact(&checked.markdown()));
        }
        if scanned.blocks() {
            reason.push_str("\n\n");
            reason.push_str(&scanned.markdown());
        }
        if scanned.blocks_unscanned() {
            reason.push_str("\n\n");
            reason.push_str(&allow_hint(order));
        }
        tracing::warn!(
            run = order.run_id,
            protected = checked.blocks(),
            dlp = scanned.finds_secrets(),
            unscanned = scanned.blocks_unscanned(),
            "the change was blocked before the push"
        );
        return Ok(Next::End(RunOutcome::Blocked {
            reason,
            report: report.clone(),
        }));
    }
    Ok(Next::Go(head))
}

/// What the run pushes unread, for the approval: only when someone allowed it.
fn unscanned(scanned: &DlpReport) -> Option<Unscanned> {
    let allowed_by = scanned.unscanned_allowed_by.clone()?;
    scanned.has_unscanned().then(|| Unscanned {
        allowed_by,
        files: scanned
            .unscanned
            .iter()
            .map(|u| UnscannedFile {
                path: visible(&u.path),
                why: u.why.describe(),
            })
            .collect(),
        more: scanned.omitted_unscanned,
    })
}

/// What a maintainer can do about content DLP could not read.
fn allow_hint(order: &RunOrder) -> String {
    let task = crate::markdown::code_span(order.task.id.as_str());
    format!(
        "ade reads everything it lets through. A maintainer who has looked at these files can \
         let task {task} push what ade cannot read with `/ade allow-unscanned {}` on the goal; \
         secrets in what ade can read still block.",
        order.task.id
    )
}

/// What a reviewer should look at, in words (paths shown safely, secrets redacted).
fn flags(checked: &guard::GuardReport, scanned: &DlpReport, dlp: &Dlp) -> Vec<String> {
    let mut flags = Vec::new();
    for link in &checked.symlinks {
        let risks: Vec<&str> = link.risks.iter().map(|r| r.describe()).collect();
        flags.push(dlp.redact(&format!(
            "{} is a symlink to {} ({})",
            visible(&link.path),
            visible(&link.target),
            risks.join(", ")
        )));
    }
    for module in &checked.submodules {
        flags.push(dlp.redact(&format!(
            "{} changes a submodule; ade never fetches submodules",
            visible(&module.path)
        )));
    }
    for suppression in &scanned.suppressions {
        flags.push(format!(
            "{} in {} asks secret scanners to look away; ade ignores it",
            visible(&suppression.marker),
            visible(&suppression.place)
        ));
    }
    flags
}

/// The commit's first line.
fn commit_title(order: &RunOrder) -> String {
    let title: String = order.task.title.chars().take(72).collect();
    format!("{title} ({})", order.task.id)
}

/// The requester as a commit co-author: the forge's no-reply address for the login.
fn requester_identity(forge: ForgeKind, login: &str) -> Identity {
    let login: String = login
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        .collect();
    let email = match forge {
        ForgeKind::Github => format!("{login}@users.noreply.github.com"),
        ForgeKind::Gitea => format!("{login}@noreply.localhost"),
    };
    Identity { name: login, email }
}
