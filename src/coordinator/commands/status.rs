//! `/ade status`: the goal's spec versions and the tasks of the active one, as a table.

use super::Session;
use crate::command::Place;
use crate::coordinator::render::TableView;
use crate::jobs::JobError;
use crate::lifecycle::{RunState, SpecState};
use crate::store::Conn;
use crate::store::goals;

/// Replies with the state of the goal the comment is on.
pub async fn run(session: &mut Session<'_>, tx: &mut Conn) -> Result<(), JobError> {
    if session.place == Place::PullRequest {
        session.say(
            "this pull request is not an approval ade opened, so it has no ade state.".into(),
            Vec::new(),
            None,
        );
        return Ok(());
    }
    let Some(goal) =
        goals::find_goal(tx, session.forge, &session.repository(), session.number()).await?
    else {
        session.say(
            "there is no plan for this issue yet: `/ade plan` makes one.".into(),
            Vec::new(),
            None,
        );
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
                if let Some(reason) = run.reason.filter(|_| run.state == RunState::Failed) {
                    let first = reason.lines().next().unwrap_or_default().to_string();
                    line.push_str(&format!(": {}", crate::markdown::inline(&first)));
                }
            }
            details.push(line);
        }
    }
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
