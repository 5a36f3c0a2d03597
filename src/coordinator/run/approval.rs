//! The approval a pushed run opens: the pull request of the task's branch, opened once and
//! updated by later runs of the task (a retry after a crash finds it by its branch).

use super::load::StoredRun;
use crate::coordinator::render::{self, ApprovalView, TaskView};
use crate::forge::{Forge, ForgeError, ForgePullRequest, NewPullRequest, PullRequestUpdate};
use crate::jobs::JobError;
use crate::runner::RunReport;

/// The approval as the forge has it after a run.
#[derive(Clone, Debug)]
pub(super) struct Opened {
    /// The pull request number.
    pub number: i64,
    /// GitHub's GraphQL id, when the forge gave one.
    pub node_id: Option<String>,
    /// Whether it is a draft now.
    pub draft: bool,
}

impl Opened {
    fn of(pull: &ForgePullRequest) -> Opened {
        Opened {
            number: pull.number,
            node_id: pull.node_id.clone(),
            draft: pull.draft,
        }
    }
}

/// Opens the task's approval into `base`, or updates (and reopens) the one an earlier run of the
/// task opened; `draft` asks for a draft (while verification runs), otherwise its draft state is
/// left as it is. `first_try` says no earlier attempt of this job ran: a task without an approval
/// then has no pull request for its branch (the run just created the branch), so none is looked
/// for; should the forge say one exists after all, it is found and updated.
pub(super) async fn open(
    forge: &dyn Forge,
    l: &StoredRun,
    report: &RunReport,
    base: &str,
    draft: bool,
    first_try: bool,
) -> Result<Opened, JobError> {
    let body = approval_body(l, report)?;
    let title = format!(
        "{} (#{} {})",
        l.spec
            .task(&crate::spec::TaskId::parse(&l.task.task_id).map_err(JobError::Permanent)?)
            .map(|t| t.title.clone())
            .unwrap_or_default(),
        l.goal.number,
        l.task.task_id
    );
    let existing = match &l.approval {
        Some(approval) if approval.branch == l.run.branch => Some(approval.number),
        None if first_try => None,
        _ => find(forge, l).await?,
    };
    if let Some(number) = existing {
        return update(forge, l, number, title, body, draft).await;
    }
    let created = forge
        .create_pull_request(
            &l.repo,
            &NewPullRequest {
                title: title.clone(),
                body: body.clone(),
                head: l.run.branch.clone(),
                base: base.to_string(),
                draft,
            },
        )
        .await;
    let pull = match created {
        Ok(pull) => pull,
        Err(ForgeError::Rejected(why)) if why.contains("already exists") => {
            match find(forge, l).await? {
                Some(number) => return update(forge, l, number, title, body, draft).await,
                None => return Err(JobError::Retry(format!("opening the approval: {why}"))),
            }
        }
        Err(e) => return Err(e.into()),
    };
    tracing::info!(run = l.run.id, pull = pull.number, draft, "approval opened");
    Ok(Opened::of(&pull))
}

/// The open pull request of the run's branch, if there is one.
async fn find(forge: &dyn Forge, l: &StoredRun) -> Result<Option<i64>, JobError> {
    Ok(forge
        .find_pull_request(&l.repo, &l.run.branch)
        .await?
        .map(|pull| pull.number))
}

/// Updates (and reopens) the approval `number` for the run's change.
async fn update(
    forge: &dyn Forge,
    l: &StoredRun,
    number: i64,
    title: String,
    body: String,
    draft: bool,
) -> Result<Opened, JobError> {
    let pull = forge
        .update_pull_request(
            &l.repo,
            number,
            &PullRequestUpdate {
                title: Some(title),
                body: Some(body),
                open: Some(true),
            },
        )
        .await?;
    if draft && !pull.draft {
        forge.set_draft(&l.repo, &pull, true).await?;
        return Ok(Opened {
            draft: true,
            ..Opened::of(&pull)
        });
    }
    Ok(Opened::of(&pull))
}

/// The approval's body.
fn approval_body(l: &StoredRun, report: &RunReport) -> Result<String, JobError> {
    let task = l
        .spec
        .tasks
        .iter()
        .find(|t| t.id.as_str() == l.task.task_id)
        .ok_or_else(|| {
            JobError::Permanent(format!("task {} is not in the spec", l.task.task_id))
        })?;
    let view = ApprovalView {
        task: TaskView {
            id: task.id.to_string(),
            title: task.title.clone(),
            instructions: task
                .instructions
                .lines()
                .filter(|line| !line.trim().is_empty())
                .map(str::to_string)
                .collect(),
            acceptance: task.acceptance.clone(),
            depends_on: task.depends_on.iter().map(ToString::to_string).collect(),
            paths: task.paths.clone(),
            state: None,
            pull_number: None,
        },
        goal_number: l.goal.number,
        spec_version: l.spec_row.version,
        spec_reference: l.spec.reference(),
        spec_hash: l.spec_row.content_hash.chars().take(12).collect(),
        requester: l.run.requester.clone(),
        agent: l.run.agent.clone(),
        environment: if report.environment.is_empty() {
            l.run.environment.clone()
        } else {
            report.environment.clone()
        },
        attempt: l.run.attempt,
        run_id: l.run.id.to_string(),
        runner: report.runner.clone(),
        base_commit: l.run.base_sha.chars().take(12).collect(),
        files_changed: report.files_changed,
        insertions: report.insertions,
        deletions: report.deletions,
        duration: human_duration(report.agent_ms),
        summary: report.summary.clone(),
        agent_config_changes: report.agent_config_changes.clone(),
        flagged: report.flagged.clone(),
        unscanned: report.unscanned.clone(),
    };
    Ok(render::approval(&view)?)
}

/// `3m 12s`, `45s`, `1h 2m`.
fn human_duration(ms: u64) -> String {
    let secs = ms / 1000;
    match secs {
        0..60 => format!("{secs}s"),
        60..3600 => format!("{}m {}s", secs / 60, secs % 60),
        _ => format!("{}h {}m", secs / 3600, (secs % 3600) / 60),
    }
}
