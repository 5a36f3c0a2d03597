//! Checks other systems post on a commit, played by a test: a CI's check run (GitHub) and a
//! commit status (GitHub, Gitea, Forgejo). Each is stored as the forge stores it, so ade reads
//! it through the same routes as a real one, and sends the webhook the forge sends.

use super::{ActionError, ActionResult, HookEvent, emit, no_repo, split};
use crate::forge::ForgeKind;
use crate::sim::core::Sim;
use crate::sim::state::{CheckRun, CheckRunAnnotation, CommitStatus};

/// A check run another app posts, or posts again with the same name (a new run, as a re-run is).
#[derive(Clone, Debug, Default)]
pub struct NewCheckRun {
    /// The app's slug (`ci`).
    pub app: String,
    /// The check's name (`ci/test`).
    pub name: String,
    /// The commit.
    pub head_sha: String,
    /// `queued`, `in_progress` or `completed`.
    pub status: String,
    /// For a completed run: `success`, `failure`, `neutral`, `timed_out`, …
    pub conclusion: Option<String>,
    /// `output.title`.
    pub title: Option<String>,
    /// `output.summary`.
    pub summary: Option<String>,
    /// `output.text`.
    pub text: Option<String>,
    /// `output.annotations`: path, line and message, as failures.
    pub annotations: Vec<(String, u32, String)>,
    /// Its link.
    pub details_url: Option<String>,
}

/// A commit status another system sets.
#[derive(Clone, Debug, Default)]
pub struct NewStatus {
    /// The context (`ci/test`).
    pub context: String,
    /// The commit.
    pub sha: String,
    /// `pending`, `success`, `failure`, `error` (and on Gitea `warning`, `skipped`).
    pub state: String,
    /// Its one line.
    pub description: String,
    /// Its link (empty for none).
    pub target_url: String,
    /// Who sets it.
    pub creator: String,
}

const RUN_STATUSES: &[&str] = &["queued", "in_progress", "completed"];
const CONCLUSIONS: &[&str] = &[
    "action_required",
    "cancelled",
    "failure",
    "neutral",
    "success",
    "skipped",
    "stale",
    "timed_out",
];
const GITHUB_STATES: &[&str] = &["pending", "success", "failure", "error"];
const GITEA_STATES: &[&str] = &[
    "pending", "success", "failure", "error", "warning", "skipped",
];

/// Posts `run` on its commit (GitHub only) and sends `check_run` `created` (or `completed`).
/// Returns the run's id.
pub async fn post_check_run(sim: &Sim, repo: &str, run: NewCheckRun) -> ActionResult<i64> {
    if sim.kind != ForgeKind::Github {
        return Err(ActionError::Invalid("Gitea has no check runs".into()));
    }
    if !RUN_STATUSES.contains(&run.status.as_str())
        || run
            .conclusion
            .as_deref()
            .is_some_and(|c| !CONCLUSIONS.contains(&c))
        || (run.status == "completed") != run.conclusion.is_some()
    {
        return Err(ActionError::Invalid(format!(
            "status {} with conclusion {:?} is not a check run's",
            run.status, run.conclusion
        )));
    }
    let head_sha = resolve(sim, repo, &run.head_sha).await?;
    let now = sim.now();
    let completed = run.status == "completed";
    let id = {
        let mut state = sim.state();
        let id = state.next_id();
        let (owner, name) = split(repo);
        let r = state.repo_mut(owner, name).ok_or_else(|| no_repo(repo))?;
        r.check_runs.push(CheckRun {
            id,
            name: run.name,
            head_sha,
            status: run.status,
            conclusion: run.conclusion,
            title: run.title,
            summary: run.summary,
            text: run.text,
            annotations: run
                .annotations
                .into_iter()
                .map(|(path, line, message)| CheckRunAnnotation {
                    path,
                    start_line: line,
                    end_line: line,
                    start_column: None,
                    end_column: None,
                    level: "failure".into(),
                    message,
                    title: None,
                    raw_details: None,
                })
                .collect(),
            details_url: run.details_url,
            external_id: None,
            started_at: now,
            completed_at: completed.then_some(now),
            app: Some(run.app.clone()),
        });
        id
    };
    emit(
        sim,
        HookEvent::CheckRunChanged {
            repo: repo.to_owned(),
            check_run_id: id,
            sender: run.app,
            action: if completed { "completed" } else { "created" },
        },
    )
    .await;
    Ok(id)
}

/// Sets `status` on its commit and sends the `status` webhook. Returns the status's id.
pub async fn post_status(sim: &Sim, repo: &str, status: NewStatus) -> ActionResult<i64> {
    let states = match sim.kind {
        ForgeKind::Github => GITHUB_STATES,
        ForgeKind::Gitea => GITEA_STATES,
    };
    if !states.contains(&status.state.as_str()) {
        return Err(ActionError::Invalid(format!(
            "state {} is not a commit status's",
            status.state
        )));
    }
    super::require_user(sim, &status.creator)?;
    let sha = resolve(sim, repo, &status.sha).await?;
    let now = sim.now();
    let id = {
        let mut state = sim.state();
        let id = state.next_id();
        let (owner, name) = split(repo);
        let r = state.repo_mut(owner, name).ok_or_else(|| no_repo(repo))?;
        r.statuses.push(CommitStatus {
            id,
            sha,
            context: status.context,
            state: status.state,
            description: status.description,
            target_url: status.target_url,
            creator: status.creator.clone(),
            created_at: now,
        });
        id
    };
    emit(
        sim,
        HookEvent::StatusSet {
            repo: repo.to_owned(),
            status_id: id,
            sender: status.creator,
        },
    )
    .await;
    Ok(id)
}

/// The full commit id `sha` names in `repo`.
async fn resolve(sim: &Sim, repo: &str, sha: &str) -> ActionResult<String> {
    let (owner, name) = split(repo);
    sim.git
        .resolve(owner, name, sha)
        .await
        .ok()
        .flatten()
        .ok_or_else(|| ActionError::Invalid(format!("no commit {sha} in {repo}")))
}
