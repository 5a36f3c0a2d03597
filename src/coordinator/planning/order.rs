//! The [`PlanOrder`] of a planner run: the goal as the issue says it (title, text and the comments
//! up to the `/ade plan`, each sanitized and bounded), the repository's policy as it bears on a
//! plan, the spec's JSON Schema and a short-lived credential to fetch with.

use serde_json::json;

use crate::command::sanitize;
use crate::forge::{Forge, ForgeResult, GitAccess};
use crate::policy::{AgentSet, EffectivePolicy};
use crate::runner::{PlanComment, PlanOrder};
use crate::store::goals::GoalRow;
use crate::store::planning::PlanningRow;

use super::super::credentials::GitCredentials;

/// Most comments a planner reads: the latest ones before the command.
const MAX_COMMENTS: usize = 50;

/// What the planner reads for a comment edited after `/ade plan` was handled.
const EDITED_SINCE: &str = "[left out: edited after the plan was asked for]";

/// Most characters of one comment a planner reads.
const MAX_COMMENT_CHARS: usize = 8_000;

/// Builds the order of `planning` for `goal`.
pub async fn build(
    forge: &dyn Forge,
    credentials: &GitCredentials,
    bot: &str,
    policy: &EffectivePolicy,
    goal: &GoalRow,
    planning: &PlanningRow,
) -> ForgeResult<PlanOrder> {
    let comments = forge.list_comments(&goal.repository, goal.number).await?;
    let mut comments: Vec<PlanComment> = comments
        .into_iter()
        .filter(|c| c.id <= planning.comment_id && !c.author.eq_ignore_ascii_case(bot))
        .map(|c| PlanComment {
            author: sanitize(&c.author).text,
            // What a comment says now may not be what the requester read when they asked.
            body: if c.updated_at.is_some_and(|at| at > planning.created_at) {
                EDITED_SINCE.to_string()
            } else {
                bounded(&sanitize(&c.body).text)
            },
        })
        .collect();
    if comments.len() > MAX_COMMENTS {
        comments.drain(..comments.len() - MAX_COMMENTS);
    }
    let credential = credentials.get(GitAccess::Fetch).await?;
    Ok(PlanOrder {
        plan_id: planning.id,
        forge: goal.forge,
        repository: goal.repository.full_name(),
        commit: planning.base_commit.clone(),
        agent: planning.agent.clone(),
        execution: policy.execution.clone(),
        goal_number: goal.number,
        goal_title: goal.title.clone(),
        goal_body: goal.body.clone(),
        comments,
        instructions: planning.instructions.clone(),
        policy: policy_for_planner(policy),
        schema: crate::spec::json_schema(),
        credential,
    })
}

fn bounded(text: &str) -> String {
    match text.char_indices().nth(MAX_COMMENT_CHARS) {
        Some((cut, _)) => format!("{}\n[… cut: the comment is longer]", &text[..cut]),
        None => text.to_string(),
    }
}

/// What of the policy a plan must keep to, as JSON for the planner's prompt: the agents and
/// environments tasks may name, the defaults, the task limit and the protected paths.
pub fn policy_for_planner(policy: &EffectivePolicy) -> String {
    let agents = match &policy.agents.allowed {
        AgentSet::Any => json!("any registered agent"),
        AgentSet::Only(names) => json!(names),
    };
    let environments: Vec<&str> = policy
        .execution
        .environments
        .iter()
        .map(|e| e.as_str())
        .collect();
    let view = json!({
        "agents_allowed": agents,
        "default_agent": policy.agents.default,
        "environments_allowed": environments,
        "default_environment": policy.execution.environment.as_str(),
        "max_tasks": policy.execution.max_tasks,
        "protected_paths": policy.protected_paths,
    });
    serde_json::to_string_pretty(&view).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_comments_are_cut_with_a_note() {
        let long = "x".repeat(MAX_COMMENT_CHARS + 10);
        let cut = bounded(&long);
        assert!(cut.ends_with("[… cut: the comment is longer]"), "{cut}");
        assert_eq!(bounded("short"), "short");
    }
}
