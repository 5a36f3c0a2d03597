//! `/ade retry [--agent NAME]` on an approval: runs the agent again (or another agent the policy
//! allows) on the approval's current head, with its reviews and line comments and its latest
//! verification failure as feedback. The run is the task's next attempt; it counts, but a person
//! asking is not held to the automatic retries' limit.

use super::Session;
use crate::coordinator::goals::{goal_comment, spec_of};
use crate::coordinator::run::job::RunJob;
use crate::coordinator::verification;
use crate::jobs::{Job, JobError};
use crate::lifecycle::{SpecState, TaskState};
use crate::markdown;
use crate::runner::dlp::Dlp;
use crate::store::jobs as queue;
use crate::store::runs::{self, NewRun, RunCause};
use crate::store::{Conn, approvals, goals, tasks};

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
    let (Some(task), Some(last)) = (
        tasks::task(tx, approval.task).await?,
        runs::runs_of_task(tx, approval.task)
            .await?
            .into_iter()
            .next(),
    ) else {
        session.say_headline("this approval's task is no longer stored.".into());
        return Ok(());
    };
    let Some(spec_row) = goals::spec(tx, task.spec).await? else {
        return Ok(());
    };
    if spec_row.state != SpecState::Active {
        session.say_headline(format!(
            "plan v{} is {}; comment `/ade plan` on the goal to work on it again.",
            spec_row.version, spec_row.state
        ));
        return Ok(());
    }
    if !matches!(task.state, TaskState::Review | TaskState::Rejected) {
        let why = match task.state {
            TaskState::Running => "a run of it is in flight".to_string(),
            TaskState::Merged => "it is merged".to_string(),
            other => format!("it is {other}; `/ade run` on the goal starts it again"),
        };
        session.say_headline(format!(
            "task {} cannot be retried: {why}.",
            markdown::code_span(&task.task_id)
        ));
        return Ok(());
    }
    let agent = match agent {
        Some(agent) if !session.policy.agents.allowed.permits(&agent) => {
            session.say_headline(format!(
                "the agent {} is not allowed by this repository's policy; nothing changed.",
                markdown::code_span(&agent)
            ));
            return Ok(());
        }
        Some(agent) => agent,
        None => last.agent.clone(),
    };
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
    if !tasks::move_task(tx, task.id, task.state, TaskState::Running, session.now).await? {
        session.say_headline("the task moved meanwhile; nothing changed.".into());
        return Ok(());
    }
    let login = session.requester.login.to_string();
    let run = runs::insert_run(
        tx,
        &NewRun {
            task: task.id,
            agent: &agent,
            environment: &last.environment,
            base_sha: &head,
            branch: &approval.branch,
            requester: &login,
            feedback: feedback.as_deref(),
            cause: RunCause::Retry,
        },
        session.now,
    )
    .await?;
    let job = RunJob::new(run).new_job(RunJob::ATTEMPTS, session.now);
    queue::enqueue(tx, &job, session.now).await?;
    let spec = spec_of(&spec_row)?;
    let comment = goal_comment(tx, session.repo, &spec_row, &spec).await?;
    session.writes.extend(comment);
    let mut details = vec!["the agent gets this approval's reviews and line comments".to_string()];
    if feedback.is_some() {
        details.push("and the last verification failure".into());
    }
    session.say(
        format!(
            "running task {} again with {} (attempt {}), on {}.",
            markdown::code_span(&task.task_id),
            markdown::code_span(&agent),
            last.attempt + 1,
            markdown::code_span(&head[..head.len().min(12)]),
        ),
        vec![details.join(", ")],
        None,
    );
    Ok(())
}
