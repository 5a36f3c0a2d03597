//! A new version of a goal's spec, whoever planned it (the manual planner in the command's job, a
//! planner agent in its planner run's job): stored as a draft, validated against the policy or
//! rejected with every problem, older unapproved versions superseded, and the goal's plan comment
//! written. An invalid version is posted as a failed plan and never activated.

use super::comment::{GoalComment, previous_plan};
use std::collections::BTreeSet;

use crate::coordinator::writes::ForgeWrite;
use crate::forge::{ForgeKind, RepoRef};
use crate::jobs::JobError;
use crate::policy::EffectivePolicy;
use crate::spec::{GoalRef, Lifecycle, Planner, Spec, SpecError, SpecState, Task, validate};
use crate::store::Conn;
use crate::store::goals::{self, NewSpec, SpecRow};

/// A plan about to become a version.
pub struct Plan<'a> {
    /// The forge.
    pub forge: ForgeKind,
    /// The repository.
    pub repo: &'a RepoRef,
    /// The goal's issue number.
    pub number: i64,
    /// The issue's title, sanitized.
    pub title: &'a str,
    /// The issue's text, sanitized, as the plan read it.
    pub body: &'a str,
    /// Who asked for the plan.
    pub author: &'a str,
    /// Who wrote its tasks.
    pub planner: Planner,
    /// The default branch's head the plan was made at.
    pub base_commit: &'a str,
    /// The policy in force.
    pub policy: &'a EffectivePolicy,
    /// The agents the server registers: a task naming another is not valid.
    pub registered: &'a BTreeSet<String>,
    /// The tasks, when they could all be read (then they are validated against the policy).
    pub tasks: Option<Vec<Task>>,
    /// What is wrong with the plan before validation (the task list, the planner's output).
    pub problems: Vec<SpecError>,
    /// A link to the planner agent's log.
    pub planner_log: Option<String>,
    /// The clock.
    pub now: i64,
}

/// The version stored, and what to tell the requester.
pub struct Versioned {
    /// The version's row.
    pub row: SpecRow,
    /// The stored spec.
    pub spec: Spec,
    /// Whether it passed validation (and may be approved).
    pub valid: bool,
    /// The versions it superseded.
    pub superseded: Vec<i64>,
    /// The goal's plan comment, showing it.
    pub comment: ForgeWrite,
}

impl Versioned {
    /// The requester's reply: the headline and its details.
    pub fn reply(&self) -> (String, Vec<String>) {
        let version = self.row.version;
        let headline = if self.valid {
            let count = self.spec.tasks.len();
            format!(
                "planned v{version}: {count} task{}. A maintainer approves it with `/ade approve {version}`.",
                if count == 1 { "" } else { "s" }
            )
        } else {
            format!(
                "plan v{version} is not valid and cannot be approved; the plan comment lists why."
            )
        };
        let details = self
            .superseded
            .iter()
            .map(|v| format!("v{v} is superseded: it can no longer be approved."))
            .collect();
        (headline, details)
    }
}

/// A problem for each task naming an agent this server does not register (a policy allowing
/// "every agent" cannot tell).
fn unregistered(spec: &Spec, registered: &BTreeSet<String>) -> Vec<SpecError> {
    spec.tasks
        .iter()
        .filter_map(|task| {
            let agent = task.agent.as_ref()?;
            (!registered.contains(agent)).then(|| SpecError::Agent {
                task: task.id.clone(),
                problem: format!(
                    "the agent {} is not registered on this ade server",
                    crate::markdown::code_span(agent)
                ),
            })
        })
        .collect()
}

/// Most characters of one problem in the failed plan's list.
const MAX_MESSAGE_CHARS: usize = 400;

fn bounded_message(error: &SpecError) -> String {
    let text = error.to_string();
    match text.char_indices().nth(MAX_MESSAGE_CHARS) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text,
    }
}

/// Stores `plan` as the goal's next version, in `tx`.
pub async fn store(tx: &mut Conn, plan: Plan<'_>) -> Result<Versioned, JobError> {
    let goal = goals::goal(
        tx,
        plan.forge,
        &plan.repo.full_name(),
        plan.number,
        plan.now,
    )
    .await?;
    goals::set_goal_text(tx, goal, plan.title, plan.body).await?;
    let earlier = goals::specs(tx, goal).await?;
    let version = earlier.first().map_or(1, |s| s.version + 1);
    let validate_tasks = plan.tasks.is_some();
    let tasks = plan.tasks.unwrap_or_default();
    let mut errors = plan.problems;
    let mut spec = Spec {
        goal: GoalRef {
            forge: plan.forge,
            repo: plan.repo.full_name(),
            issue: plan.number.max(1) as u64,
        },
        version: u32::try_from(version)
            .map_err(|_| JobError::Permanent("too many versions".into()))?,
        author: plan.author.to_string(),
        planner: plan.planner,
        base_commit: Some(plan.base_commit.to_string()),
        tasks,
        lifecycle: Lifecycle::new(plan.now),
    };
    if validate_tasks {
        errors.extend(
            validate::validate(&spec, plan.policy)
                .err()
                .unwrap_or_default(),
        );
        errors.extend(unregistered(&spec, plan.registered));
    }
    let state = if errors.is_empty() {
        SpecState::Validated
    } else {
        SpecState::Rejected
    };
    spec.lifecycle
        .advance(state, plan.now)
        .map_err(|e| JobError::Permanent(e.to_string()))?;
    let messages: Vec<String> = errors.iter().map(bounded_message).collect();
    let content = serde_json::to_string(&spec).map_err(|e| JobError::Permanent(e.to_string()))?;
    let hash = spec.content_hash().to_string();
    let errors_json =
        (!messages.is_empty()).then(|| serde_json::to_string(&messages).unwrap_or_default());
    let row = goals::insert_spec(
        tx,
        &NewSpec {
            goal,
            state: SpecState::Draft,
            content: &content,
            content_hash: &hash,
            author: plan.author,
            planner: &spec.planner.to_string(),
            errors: errors_json.as_deref(),
        },
        plan.now,
    )
    .await?;
    if row.version != version {
        return Err(JobError::Retry(
            "another plan of this goal was stored meanwhile".into(),
        ));
    }
    // Every version is stored as a draft first and then validated or rejected, so its recorded
    // transitions show the whole lifecycle.
    goals::move_spec(tx, row.id, SpecState::Draft, state, plan.author, plan.now).await?;
    let mut superseded = Vec::new();
    for older in &earlier {
        if older.state.can_become(SpecState::Superseded)
            && goals::move_spec(
                tx,
                older.id,
                older.state,
                SpecState::Superseded,
                plan.author,
                plan.now,
            )
            .await?
        {
            superseded.push(older.version);
        }
    }
    let previous = previous_plan(&earlier, version);
    let comment = GoalComment {
        repo: plan.repo,
        number: plan.number,
        title: plan.title,
        previous: previous.as_ref(),
        planner_log: plan.planner_log,
    }
    .plan(&spec, state, &row, &messages, &[]);
    Ok(Versioned {
        row,
        spec,
        valid: messages.is_empty(),
        superseded,
        comment,
    })
}
