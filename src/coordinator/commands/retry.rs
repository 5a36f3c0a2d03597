//! `/ade retry [--agent NAME]` on an approval: runs the agent again (or another agent the policy
//! allows) on the approval's current head, with its reviews and line comments and its latest
//! verification failure as feedback. The run is the task's next attempt; it counts, but a person
//! asking is not held to the automatic retries' limit. Which agent made which attempt is kept
//! with the run, and `/ade status` on the approval lists them.

use super::Session;
use crate::coordinator::run::again::{self, Again, NotAgain};
use crate::coordinator::verification;
use crate::jobs::JobError;
use crate::lifecycle::TaskState;
use crate::markdown;
use crate::runner::dlp::Dlp;
use crate::store::runs::RunCause;
use crate::store::{Conn, approvals};

/// Runs the agent again on the approval the comment is on.
pub async fn run(
    session: &mut Session<'_>,
    tx: &mut Conn,
    agent: Option<String>,
) -> Result<(), JobError> {
    let Some(approval) =
        approvals::by_pull(tx, session.forge, &session.repository(), session.number()).await?
    else {
        session.say_headline(
            "this pull request is not an approval ade opened, so there is no agent to run again."
                .into(),
        );
        return Ok(());
    };
    if let Some(agent) = agent
        .as_deref()
        .filter(|a| !session.policy.agents.allowed.permits(a))
    {
        session.say_headline(format!(
            "the agent {} is not allowed by this repository's policy; nothing changed.",
            markdown::code_span(agent)
        ));
        return Ok(());
    }
    let head = session
        .pull
        .map_or_else(|| approval.head_sha.clone(), |p| p.head_sha.clone());
    let dlp = Dlp::new(&session.policy.dlp_rules)
        .unwrap_or_else(|_| Dlp::new(&[]).expect("the built-in detectors compile"));
    let mask = move |text: &str| dlp.redact(text);
    let feedback = match verification::last_failure(tx, approval.id).await? {
        Some(report) => crate::verify::feedback::feedback(&report, &mask)?,
        None => None,
    };
    let login = session.requester.login.to_string();
    let started = again::start(
        tx,
        session.repo,
        Again {
            approval: &approval,
            head: &head,
            agent: agent.as_deref(),
            requester: &login,
            feedback: feedback.as_deref(),
            cause: RunCause::Retry,
            now: session.now,
        },
    )
    .await?;
    let started = match started {
        Ok(started) => started,
        Err(not) => {
            session.say_headline(refusal(tx, &approval, not).await?);
            return Ok(());
        }
    };
    session.writes.extend(started.writes);
    let mut details = vec!["the agent gets this approval's reviews and line comments".to_string()];
    if feedback.is_some() {
        details.push("and the last verification failure".into());
    }
    session.say(
        format!(
            "running task {} again with {} (attempt {}), on {}.",
            markdown::code_span(&started.task_id),
            markdown::code_span(&started.agent),
            started.attempt,
            markdown::code_span(&head[..head.len().min(12)]),
        ),
        vec![details.join(", ")],
        None,
    );
    Ok(())
}

/// Why no attempt started, as a reply says it (here, and to reviews asking for changes).
pub(crate) async fn refusal(
    tx: &mut Conn,
    approval: &approvals::ApprovalRow,
    not: NotAgain,
) -> Result<String, JobError> {
    let task_id = match again::task_and_runs(tx, approval).await? {
        Some((task, _)) => task.task_id,
        None => String::new(),
    };
    Ok(match not {
        NotAgain::Gone => "this approval's task is no longer stored.".into(),
        NotAgain::PlanNotActive { version, state } => format!(
            "plan v{version} is {state}; comment `/ade plan` on the goal to work on it again."
        ),
        NotAgain::Task(state) => {
            let why = match state {
                TaskState::Running => "a run of it is in flight".to_string(),
                TaskState::Merged => "it is merged".to_string(),
                other => format!("it is {other}; `/ade run` on the goal starts it again"),
            };
            format!(
                "task {} cannot be retried: {why}.",
                markdown::code_span(&task_id)
            )
        }
        NotAgain::Moved => "the task moved meanwhile; nothing changed.".into(),
    })
}
