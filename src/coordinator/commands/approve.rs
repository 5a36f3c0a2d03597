//! `/ade approve [version]`: makes a validated spec version Active and its tasks ready (those
//! whose dependencies are met) or waiting. Approving twice, or approving a version that was
//! superseded or is not valid, is answered and changes nothing. The move is a compare-and-set on
//! the stored state, so two approvals racing cannot both win.

use super::Session;
use super::plan::GoalComment;
use crate::command::sanitize;
use crate::coordinator::advance::{self, AdvanceContext};
use crate::coordinator::goals::{progress, spec_of};
use crate::jobs::JobError;
use crate::lifecycle::{SpecState, TaskState};
use crate::markdown;
use crate::store::goals::{self, SpecRow};
use crate::store::{Conn, tasks};

/// Approves `version`, or the newest version awaiting approval.
pub async fn run(
    session: &mut Session<'_>,
    tx: &mut Conn,
    version: Option<u32>,
) -> Result<(), JobError> {
    let Some(goal) =
        goals::find_goal(tx, session.forge, &session.repository(), session.number()).await?
    else {
        session
            .say_headline("there is no plan for this issue yet: comment `/ade plan` first.".into());
        return Ok(());
    };
    let specs = goals::specs(tx, goal).await?;
    let target = match version {
        Some(v) => specs.iter().find(|s| s.version == i64::from(v)),
        None => specs
            .iter()
            .find(|s| s.state == SpecState::Validated)
            .or_else(|| specs.first()),
    };
    let Some(target) = target else {
        let newest = specs.first().map_or(0, |s| s.version);
        let asked = version.unwrap_or_default();
        session.say_headline(format!(
            "there is no plan v{asked}; the newest is v{newest}."
        ));
        return Ok(());
    };
    let state = target.state;
    if state != SpecState::Validated {
        let headline = refusal(target, state, &specs);
        session.say_headline(headline);
        return Ok(());
    }
    let actor = session.requester.login;
    let mut details = Vec::new();
    for active in specs.iter().filter(|s| s.state == SpecState::Active) {
        if goals::move_spec(
            tx,
            active.id,
            active.state,
            SpecState::Archived,
            actor,
            session.now,
        )
        .await?
        {
            details.push(format!(
                "v{} is archived: the approved plan replaces it.",
                active.version
            ));
        }
    }
    if !goals::move_spec(
        tx,
        target.id,
        SpecState::Validated,
        SpecState::Active,
        actor,
        session.now,
    )
    .await?
    {
        session.say_headline(format!(
            "plan v{} was approved meanwhile; nothing changed.",
            target.version
        ));
        return Ok(());
    }
    let spec = spec_of(target)?;
    let (ready, waiting): (Vec<_>, Vec<_>) =
        spec.tasks.iter().partition(|t| t.depends_on.is_empty());
    let ready: Vec<String> = ready.iter().map(|t| t.id.to_string()).collect();
    let waiting: Vec<String> = waiting.iter().map(|t| t.id.to_string()).collect();
    tasks::insert_tasks(tx, target.id, &ready, TaskState::Ready, session.now).await?;
    tasks::insert_tasks(tx, target.id, &waiting, TaskState::Waiting, session.now).await?;
    let advanced = advance::advance(
        tx,
        target,
        &spec,
        &AdvanceContext {
            goal_number: session.number(),
            policy: session.policy,
            requester: actor,
            now: session.now,
        },
    )
    .await?;
    let progress = progress(tx, &spec, target.id).await?;
    let goal = GoalComment {
        repo: session.repo,
        number: session.number(),
        title: &sanitize(&session.comment.issue.title).text,
    };
    session
        .writes
        .push(goal.plan(&spec, SpecState::Active, target, &[], &progress));
    let list = |ids: &[String]| {
        ids.iter()
            .map(|id| markdown::code_span(id))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut headline = format!("approved plan v{}: it is active.", target.version);
    if !advanced.started.is_empty() {
        headline.push_str(&format!(" Running: {}.", list(&advanced.started)));
    }
    let held: Vec<String> = ready
        .iter()
        .filter(|id| !advanced.started.contains(id))
        .cloned()
        .collect();
    if !held.is_empty() {
        headline.push_str(&format!(" Ready: {}.", list(&held)));
    }
    for (id, why) in &advanced.held {
        details.push(format!("{} cannot start: {why}.", markdown::code_span(id)));
    }
    if !waiting.is_empty() {
        headline.push_str(&format!(
            " Waiting for their dependencies: {}.",
            list(&waiting)
        ));
    }
    session.say(headline, details, None);
    Ok(())
}

/// Why `target` cannot be approved, in a reply.
fn refusal(target: &SpecRow, state: SpecState, specs: &[SpecRow]) -> String {
    let v = target.version;
    let newest_validated = specs.iter().find(|s| s.state == SpecState::Validated);
    match state {
        SpecState::Active => format!("plan v{v} is already approved and active; nothing changed."),
        SpecState::Superseded => match newest_validated {
            Some(newer) => format!(
                "plan v{v} was superseded by v{}; nothing changed. To approve the newer plan: `/ade approve {}`.",
                newer.version, newer.version
            ),
            None => format!("plan v{v} was superseded; nothing changed."),
        },
        SpecState::Rejected => format!(
            "plan v{v} is not valid and cannot be approved (the plan comment lists why); fix the issue's task list and comment `/ade plan`."
        ),
        SpecState::Archived => format!("plan v{v} is archived; nothing changed."),
        SpecState::Draft | SpecState::Validated => {
            format!("plan v{v} is not validated yet; nothing changed.")
        }
    }
}
