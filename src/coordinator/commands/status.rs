//! `/ade status`: on a goal, its spec versions, the tasks of the active one and what is left of
//! its budget; on an approval, its task, runs, verification and review state.

use super::Session;
use crate::command::Place;
use crate::coordinator::render::TableView;
use crate::jobs::JobError;
use crate::lifecycle::{ApprovalState, RunState, SpecState};
use crate::store::runs::{RunCause, RunRow};
use crate::store::{Conn, approvals, goals, tasks, verifications};

/// Replies with the state of the goal the comment is on.
pub async fn run(session: &mut Session<'_>, tx: &mut Conn) -> Result<(), JobError> {
    if session.place == Place::PullRequest {
        return approval(session, tx).await;
    }
    let Some(goal) =
        goals::find_goal(tx, session.forge, &session.repository(), session.number()).await?
    else {
        session.say_headline("there is no plan for this issue yet: `/ade plan` makes one.".into());
        return Ok(());
    };
    let specs = goals::specs(tx, goal).await?;
    let table = TableView {
        header: vec![
            "version".into(),
            "state".into(),
            "planned by".into(),
            "spec".into(),
        ],
        rows: specs
            .iter()
            .map(|s| {
                vec![
                    format!("v{}", s.version),
                    s.state.to_string(),
                    s.author.clone(),
                    s.content_hash.chars().take(12).collect(),
                ]
            })
            .collect(),
    };
    let mut details = Vec::new();
    for planning in crate::store::planning::of_goal(tx, goal).await? {
        if planning.state.in_flight() {
            details.push(format!(
                "the planner agent {} is planning for {} ({}): its plan comes as the next version.",
                crate::markdown::code_span(&planning.agent),
                crate::markdown::code_span(&planning.requester),
                planning.state
            ));
        }
    }
    if let Some(active) = specs.iter().find(|s| s.state == SpecState::Active) {
        for task in crate::store::tasks::tasks_of(tx, active.id).await? {
            let mut line = format!(
                "{} is {}",
                crate::markdown::code_span(&task.task_id),
                task.state
            );
            if let Some(approval) = crate::store::approvals::of_task(tx, task.id).await? {
                line.push_str(&format!(" (#{})", approval.number));
            }
            if let Some(run) = crate::store::runs::runs_of_task(tx, task.id)
                .await?
                .into_iter()
                .next()
            {
                line.push_str(&format!(
                    "; run {} (attempt {}, {} with {})",
                    run.id,
                    run.attempt,
                    run.state,
                    crate::markdown::code_span(&run.agent)
                ));
                let first = run
                    .reason
                    .as_deref()
                    .and_then(|r| r.lines().next())
                    .map(crate::markdown::inline);
                match (run.state, first) {
                    (RunState::Failed, Some(first)) => line.push_str(&format!(": {first}")),
                    // A queued run with a reason waits: for the runner's setup to be fixed, or
                    // for a limit of the repository.
                    (RunState::Queued, Some(first)) => {
                        line.push_str(&format!(", waiting: {first}"))
                    }
                    _ => {}
                }
            }
            details.push(line);
        }
    }
    let spent = crate::store::limits::spent(tx, goal, None, session.now).await?;
    details.push(format!(
        "budget left: {} (`[budget]` in `.ade/config.toml`)",
        spent.left(&session.policy.budget)
    ));
    let headline = match specs.first() {
        Some(newest) => format!(
            "goal #{}: {} plan version(s), the newest v{} is {}.",
            session.number(),
            specs.len(),
            newest.version,
            newest.state
        ),
        None => "no plan versions yet.".into(),
    };
    session.say(headline, details, Some(table));
    Ok(())
}

/// `/ade status` on an approval: its task, attempts (which agent made which), verification and
/// review state.
async fn approval(session: &mut Session<'_>, tx: &mut Conn) -> Result<(), JobError> {
    let Some(approval) =
        approvals::by_pull(tx, session.forge, &session.repository(), session.number()).await?
    else {
        session.say_headline(
            "this pull request is not an approval ade opened, so it has no ade state.".into(),
        );
        return Ok(());
    };
    let Some(task) = tasks::task(tx, approval.task).await? else {
        return Ok(());
    };
    let runs = crate::store::runs::runs_of_task(tx, task.id).await?;
    let spec = goals::spec(tx, task.spec).await?;
    let goal = goals::goal_of_spec(tx, task.spec).await?;
    let mut details = Vec::new();
    let attempts = session.policy.execution.attempts;
    details.push(format!(
        "runs: {} (automatic retries up to {attempts} attempts){}",
        runs.len(),
        runs.first().map_or(String::new(), |r| format!(
            "; the latest, run {} (attempt {}), is {}{}",
            r.id,
            r.attempt,
            r.state,
            r.reason
                .as_deref()
                .filter(|_| r.state != RunState::Succeeded)
                .map(|why| format!(
                    ": {}",
                    crate::markdown::inline(why.lines().next().unwrap_or(""))
                ))
                .unwrap_or_default()
        ))
    ));
    let verification = verifications::of_approval(tx, approval.id)
        .await?
        .into_iter()
        .next();
    details.push(match verification {
        Some(v) => format!(
            "`ade/verify`: {} on {}{}",
            v.state,
            crate::markdown::code_span(&v.head_sha[..v.head_sha.len().min(12)]),
            v.reason
                .as_deref()
                .map(|why| format!(" ({})", crate::markdown::inline(why)))
                .unwrap_or_default()
        ),
        None => "`ade/verify`: not run yet".into(),
    });
    details.push(match approval.state {
        ApprovalState::Approved => "review: approved by a reviewer on its current head".into(),
        ApprovalState::Pending if approval.draft => {
            "review: a draft until verification passes".into()
        }
        ApprovalState::Pending => "review: waiting for an approving review".into(),
        ApprovalState::Rejected => format!(
            "review: rejected{}",
            approval
                .reason
                .as_deref()
                .map(|why| format!(" ({})", crate::markdown::inline(why)))
                .unwrap_or_default()
        ),
        ApprovalState::Merged => "review: merged".into(),
        ApprovalState::Closed => "review: closed".into(),
    });
    details.push(format!(
        "merging: {}",
        if session.policy.pull_requests.auto_merge {
            "ade merges once a reviewer other than the requester approves its verified head"
        } else {
            "by a person (auto-merge is off)"
        }
    ));
    let headline = format!(
        "this approval is task {} of {}plan v{}: {}.",
        crate::markdown::code_span(&task.task_id),
        goal.map_or(String::new(), |g| format!("goal #{}, ", g.number)),
        spec.map_or(0, |s| s.version),
        task.state
    );
    session.say(headline, details, Some(attempts_table(&runs)));
    Ok(())
}

/// Which agent made which attempt of the task, why it ran and how it ended, oldest first.
fn attempts_table(runs: &[RunRow]) -> TableView {
    TableView {
        header: ["attempt", "run", "agent", "asked by", "why", "state"]
            .map(String::from)
            .to_vec(),
        rows: runs
            .iter()
            .rev()
            .map(|r| {
                vec![
                    r.attempt.to_string(),
                    r.id.to_string(),
                    r.agent.clone(),
                    r.requester.clone(),
                    match r.cause {
                        RunCause::Start => "started",
                        RunCause::Retry => "retry",
                        RunCause::Review => "review asking for changes",
                    }
                    .to_string(),
                    r.state.to_string(),
                ]
            })
            .collect(),
    }
}
