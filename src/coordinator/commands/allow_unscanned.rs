//! `/ade allow-unscanned <task-id>`: lets a task of the active spec push what DLP cannot read
//! (binary files, content past its caps), from its next run on; secrets in what DLP reads still
//! block, and each approval lists what went unscanned and who allowed it (docs/dlp.md). A task
//! that such content blocked starts again at once, as `/ade run <task-id>` would start it.

use super::Session;
use super::cancel::{active_tasks, no_such_task};
use super::run::start;
use crate::command::RunTarget;
use crate::jobs::JobError;
use crate::markdown;
use crate::store::{Conn, unscanned};

/// Records the allowance for `task`, then starts it again if it may restart.
pub async fn run(session: &mut Session<'_>, tx: &mut Conn, task: String) -> Result<(), JobError> {
    let Some((spec_row, rows)) = active_tasks(session, tx).await? else {
        session.say_headline("there is no active plan here: `/ade approve` activates one.".into());
        return Ok(());
    };
    let Some(row) = rows.iter().find(|r| r.task_id == task) else {
        no_such_task(session, &task);
        return Ok(());
    };
    unscanned::allow(
        tx,
        row.id,
        session.requester.login,
        session.comment.id,
        session.now,
    )
    .await?;
    let allowed = format!(
        "task {} may push what ade cannot scan for secrets (binary files, content past the scan \
         caps); its approvals will list those files. Secrets in what ade reads still block.",
        markdown::code_span(&task)
    );
    if !row.state.may_restart() {
        let headline = format!(
            "{allowed} The task's state is {}, so this holds from its next run.",
            row.state
        );
        session.say(headline, Vec::new(), None);
        return Ok(());
    }
    let target = RunTarget::Task(task);
    let (started, details) = start(session, tx, &spec_row, &rows, &target).await?;
    session.say(format!("{allowed} {}", sentence(&started)), details, None);
    Ok(())
}

/// `text` with its first letter in upper case, to follow another sentence.
fn sentence(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}
