//! Watching the demo happen: what ade and the forge show now, read as a person would (the issue's
//! comments, the pull requests and their checks) together with ade's own records (spec, tasks,
//! runs), turned into plain sentences printed once each, in the order they happen.

use super::script::{ATTEMPTS, REPO, REVIEWER};
use super::world::World;
use crate::forge::{CheckState, ReviewState};
use crate::lifecycle::{RunState, SpecState, TaskState};
use crate::sim::{SimCheck, SimPull};
use crate::store::{self, StoreError};
use std::collections::BTreeMap;

/// One task as the demo sees it.
#[derive(Clone, Debug)]
pub struct TaskView {
    /// `t1`.
    pub id: String,
    /// Its title in the spec.
    pub title: String,
    /// Where it stands in ade.
    pub state: TaskState,
    /// Its runs, by attempt: state, and why it failed or was cancelled.
    pub runs: Vec<(i64, RunState, Option<String>)>,
    /// Its approval on the forge.
    pub pull: Option<SimPull>,
    /// `ade/verify` on the approval's head.
    pub verify: Option<SimCheck>,
    /// Whether the reviewer approved the approval's current head.
    pub approved_by_reviewer: bool,
}

/// Everything the demo looks at, at one moment.
#[derive(Clone, Debug, Default)]
pub struct Snapshot {
    /// ade's plan comment on the goal, if posted.
    pub plan_comment: Option<i64>,
    /// ade's summary comment on the goal, if posted.
    pub summary_comment: Option<i64>,
    /// The newest spec version's state.
    pub spec: Option<SpecState>,
    /// How many tasks the newest spec version plans.
    pub planned: usize,
    /// The tasks of the newest spec version, by id.
    pub tasks: BTreeMap<String, TaskView>,
    /// Whether the goal's issue is closed.
    pub issue_closed: bool,
}

impl Snapshot {
    /// Reads the forge and ade's store for goal `issue`.
    pub async fn read(world: &World, issue: i64) -> Result<Snapshot, StoreError> {
        let mut snapshot = Snapshot::default();
        for comment in world.sim.comments(REPO, issue) {
            if comment.author != world.bot {
                continue;
            }
            if comment.body.contains(&format!("<!-- ade:plan:{issue} -->")) {
                snapshot.plan_comment = Some(comment.id);
            }
            if comment
                .body
                .contains(&format!("<!-- ade:summary:{issue} -->"))
            {
                snapshot.summary_comment = Some(comment.id);
            }
        }
        snapshot.issue_closed = world.sim.issue(REPO, issue).is_some_and(|i| !i.open);

        let mut conn = world.ade.store().reader().await?;
        let kind = world.sim.kind();
        let Some(goal) = store::goals::find_goal(&mut conn, kind, REPO, issue).await? else {
            return Ok(snapshot);
        };
        let Some(spec) = store::goals::specs(&mut conn, goal)
            .await?
            .into_iter()
            .last()
        else {
            return Ok(snapshot);
        };
        snapshot.spec = Some(spec.state);
        let titles = titles(&spec.content);
        snapshot.planned = titles.len();
        for task in store::tasks::tasks_of(&mut conn, spec.id).await? {
            let runs = store::runs::runs_of_task(&mut conn, task.id)
                .await?
                .into_iter()
                .map(|r| (r.attempt, r.state, r.reason))
                .collect();
            let pull = store::approvals::of_task(&mut conn, task.id)
                .await?
                .and_then(|a| world.sim.pull(REPO, a.number));
            let verify = pull.as_ref().and_then(|p| {
                world
                    .sim
                    .checks(REPO, &p.head_sha)
                    .into_iter()
                    .rfind(|c| c.name == "ade/verify")
            });
            let approved_by_reviewer = pull.as_ref().is_some_and(|p| {
                world.sim.reviews(REPO, p.number).iter().any(|r| {
                    r.author == REVIEWER
                        && r.state == ReviewState::Approved
                        && r.commit_id == p.head_sha
                })
            });
            snapshot.tasks.insert(
                task.task_id.clone(),
                TaskView {
                    title: titles.get(&task.task_id).cloned().unwrap_or_default(),
                    id: task.task_id,
                    state: task.state,
                    runs,
                    pull,
                    verify,
                    approved_by_reviewer,
                },
            );
        }
        Ok(snapshot)
    }

    /// The task `id`, if the spec has it.
    pub fn task(&self, id: &str) -> Option<&TaskView> {
        self.tasks.get(id)
    }

    /// Approvals ready for the reviewer: open, not a draft, `ade/verify` passed on the head, and
    /// not yet approved by the reviewer at that head.
    pub fn awaiting_review(&self) -> Vec<(String, i64)> {
        self.tasks
            .values()
            .filter_map(|t| {
                let pull = t.pull.as_ref()?;
                let passed = t
                    .verify
                    .as_ref()
                    .is_some_and(|c| c.state == CheckState::Success);
                (pull.open && !pull.draft && passed && !t.approved_by_reviewer)
                    .then(|| (t.id.clone(), pull.number))
            })
            .collect()
    }
}

/// Task id → title, from the spec's JSON.
fn titles(content: &str) -> BTreeMap<String, String> {
    let Ok(spec) = serde_json::from_str::<serde_json::Value>(content) else {
        return BTreeMap::new();
    };
    spec["tasks"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| {
            Some((
                t["id"].as_str()?.to_owned(),
                t["title"].as_str()?.to_owned(),
            ))
        })
        .collect()
}

/// Something that happened, worth one line: its key (so it is printed once) and its sentence.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fact {
    /// What makes it the same fact on the next look.
    pub key: String,
    /// The sentence.
    pub line: String,
}

/// The facts `snapshot` shows, in the order a reader should meet them.
pub fn facts(world: &World, issue: i64, snapshot: &Snapshot) -> Vec<Fact> {
    let mut facts = Vec::new();
    let mut fact = |key: String, line: String| facts.push(Fact { key, line });
    if snapshot.plan_comment.is_some() && snapshot.planned > 0 {
        fact(
            "plan".into(),
            format!(
                "ade posted the plan: {} tasks, one approval each — {}",
                snapshot.planned,
                world.api(&format!("issues/{issue}/comments"))
            ),
        );
    }
    if matches!(snapshot.spec, Some(SpecState::Active | SpecState::Archived)) {
        fact(
            "active".into(),
            "the spec is active: ade starts every task that waits for nothing".into(),
        );
    }
    for task in snapshot.tasks.values() {
        for (attempt, state, reason) in &task.runs {
            if matches!(state, RunState::Failed | RunState::Cancelled) {
                fact(
                    format!("run ended {} {attempt}", task.id),
                    format!(
                        "{}: attempt {attempt} {}: {}",
                        task.id,
                        if *state == RunState::Failed {
                            "failed"
                        } else {
                            "was cancelled"
                        },
                        crate::runner::agent::prompt::one_line(
                            reason.as_deref().unwrap_or("no reason given"),
                            200
                        )
                    ),
                );
            }
            if *state != RunState::Queued {
                let why = if *attempt > 1 {
                    ", with the last verification's failure as feedback"
                } else if task.id == super::script::DEPENDANT_TASK {
                    ", now that the tasks it waits for are merged"
                } else {
                    ""
                };
                fact(
                    format!("run {} {attempt}", task.id),
                    format!("{}: attempt {attempt} of {ATTEMPTS} started{why}", task.id),
                );
            }
        }
        let Some(pull) = &task.pull else { continue };
        let n = pull.number;
        fact(
            format!("opened {}", task.id),
            format!(
                "{}: approval #{n} opened as a draft while ade verifies it — {}",
                task.id,
                world.api(&format!("pulls/{n}"))
            ),
        );
        if let Some(check) = &task.verify {
            let link = check.details_url.as_deref().unwrap_or("no link");
            let attempt = task.runs.len();
            match check.state {
                CheckState::Success => fact(
                    format!("verified {} {}", task.id, pull.head_sha),
                    format!(
                        "{}: ade/verify passed on #{n} — check: {}; run log: {link}",
                        task.id,
                        world.checks_url(&pull.head_sha)
                    ),
                ),
                CheckState::Failure => fact(
                    format!("failed {} {attempt}", task.id),
                    format!(
                        "{}: ade/verify failed on #{n} ({}) — check: {}; run log: {link}",
                        task.id,
                        check.title.trim(),
                        world.checks_url(&pull.head_sha)
                    ),
                ),
                _ => {}
            }
        }
        if !pull.draft && pull.open {
            fact(
                format!("ready {}", task.id),
                format!("{}: #{n} is marked ready for review", task.id),
            );
        }
        if pull.merged {
            let sha = pull.head_sha.get(..7).unwrap_or(&pull.head_sha);
            fact(
                format!("merged {}", task.id),
                format!(
                    "{}: ade merged #{n} at {sha}, the head {REVIEWER} approved and ade verified",
                    task.id
                ),
            );
        }
        if task.state == TaskState::Rejected {
            fact(
                format!("rejected {}", task.id),
                format!(
                    "{}: rejected after {} attempts; ade closed #{n} with a comment naming the failing step and labelled it ade:rejected",
                    task.id,
                    task.runs.len()
                ),
            );
        }
    }
    if snapshot.spec == Some(SpecState::Archived) {
        fact(
            "archived".into(),
            "every task is merged or rejected: the spec is archived".into(),
        );
    }
    if snapshot.summary_comment.is_some() {
        fact(
            "summary".into(),
            format!(
                "ade posted the goal's summary — {}",
                world.api(&format!("issues/{issue}/comments"))
            ),
        );
    }
    if snapshot.issue_closed {
        fact(
            "closed".into(),
            format!("issue #{issue} is closed, as the policy's goals.close_issue asks"),
        );
    }
    facts
}
