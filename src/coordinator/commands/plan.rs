//! `/ade plan [agent] [-- instructions]`: a new version of the goal's spec. The manual planner
//! reads the issue as it was delivered, here in the command's job; a planner agent (named in the
//! command or by the policy's `agents.planner`) runs on a runner as a planner run, whose job
//! stores the version and answers the command when the planner ends (docs/spec.md). An
//! unapproved older version is superseded; an approved one stays until a newer one is approved.

use super::Session;
use crate::command::sanitize;
use crate::coordinator::planning::job::PlanJob;
use crate::coordinator::planning::version::{self, Plan};
use crate::jobs::{Job, JobError};
use crate::markdown;
use crate::spec::{Planner, manual};
use crate::store::Conn;
use crate::store::goals;
use crate::store::planning::{self, NewPlanning};

/// Plans the goal of the issue the command was posted on.
pub async fn run(
    session: &mut Session<'_>,
    tx: &mut Conn,
    agent: Option<String>,
    instructions: Option<String>,
) -> Result<(), JobError> {
    let planner = match agent {
        Some(name) => Planner::from_policy(&name),
        None => session.policy.agents.planner.clone(),
    };
    let instructions = instructions.map(|extra| sanitize(&extra).text);
    let stopped = stop_planners(session, tx).await?;
    if stopped > 0 {
        tracing::info!(
            stopped,
            "a newer /ade plan stops the goal's planner runs in flight"
        );
    }
    match planner {
        Planner::Manual => by_hand(session, tx, instructions).await,
        Planner::Agent { name } => by_agent(session, tx, &name, instructions).await,
    }
}

/// The manual planner: the issue's task list, read now.
async fn by_hand(
    session: &mut Session<'_>,
    tx: &mut Conn,
    instructions: Option<String>,
) -> Result<(), JobError> {
    let issue = &session.comment.issue;
    let title = sanitize(&issue.title).text;
    let body = sanitize(&issue.body).text;
    let (mut tasks, problems) = match manual::plan(&title, &body) {
        Ok(tasks) => (Some(tasks), Vec::new()),
        Err(problems) => (None, problems),
    };
    if let (Some(extra), Some(tasks)) = (&instructions, &mut tasks) {
        for task in tasks {
            task.instructions = format!(
                "{}\n\nFurther instructions given with the plan request:\n{extra}",
                task.instructions
            )
            .trim_start()
            .to_string();
        }
    }
    let versioned = version::store(
        tx,
        Plan {
            forge: session.forge,
            repo: session.repo,
            number: session.number(),
            title: &title,
            body: &body,
            author: session.requester.login,
            planner: Planner::Manual,
            base_commit: &session.head.sha,
            policy: session.policy,
            registered: &session.shared.agents,
            tasks,
            problems,
            planner_log: None,
            now: session.now,
        },
    )
    .await?;
    session.writes.push(versioned.comment.clone());
    let (headline, details) = versioned.reply();
    session.say(headline, details, None);
    Ok(())
}

/// A planner agent: a planner run on a runner, answered when it ends.
async fn by_agent(
    session: &mut Session<'_>,
    tx: &mut Conn,
    agent: &str,
    instructions: Option<String>,
) -> Result<(), JobError> {
    let refusal = if !session.policy.agents.allowed.permits(agent) {
        Some("is not allowed by this repository's policy")
    } else if !session.shared.agents.contains(agent) {
        Some("is not registered on this ade server")
    } else {
        None
    };
    if let Some(refusal) = refusal {
        let headline = format!(
            "the planner agent {} {refusal}; nothing was planned.",
            markdown::code_span(agent)
        );
        session.say_headline(headline);
        return Ok(());
    }
    let issue = &session.comment.issue;
    let goal = goals::goal(
        tx,
        session.forge,
        &session.repository(),
        issue.number,
        session.now,
    )
    .await?;
    goals::set_goal_text(
        tx,
        goal,
        &sanitize(&issue.title).text,
        &sanitize(&issue.body).text,
    )
    .await?;
    let inserted = planning::insert(
        tx,
        &NewPlanning {
            goal,
            comment_id: session.comment.id,
            reply_index: session.reply.index as i64,
            agent,
            requester: session.requester.login,
            instructions: instructions.as_deref(),
            base_commit: &session.head.sha,
        },
        session.now,
    )
    .await?;
    let Some(id) = inserted else {
        return Ok(());
    };
    let job = PlanJob::new(id);
    crate::store::jobs::enqueue(
        tx,
        &job.new_job(PlanJob::ATTEMPTS, session.now),
        session.now,
    )
    .await?;
    tracing::info!(planning = id, agent = %crate::telemetry::shown(agent), "planner run queued");
    Ok(())
}

/// Asks the goal's planner runs in flight to stop: their plans would be older than this one.
/// Returns how many were asked.
async fn stop_planners(session: &Session<'_>, tx: &mut Conn) -> Result<usize, JobError> {
    let Some(goal) =
        goals::find_goal(tx, session.forge, &session.repository(), session.number()).await?
    else {
        return Ok(0);
    };
    let mut stopped = 0;
    for earlier in planning::of_goal(tx, goal).await? {
        if earlier.state.in_flight() && planning::request_cancel(tx, earlier.id).await? {
            stopped += 1;
        }
    }
    Ok(stopped)
}
