//! The order a runner gets for one run.

use super::load::StoredRun;
use crate::coordinator::policies::Policies;
use crate::forge::Forge;
use crate::jobs::JobContext;
use crate::lifecycle::RunState;
use crate::runner::{DependencyResult, RunOrder, RunOutcome};
use crate::store::runs as store;
use crate::store::{approvals, tasks};

/// Builds what the runner needs; an error is the reason the run fails.
pub(super) async fn build(
    ctx: &JobContext,
    forge: &dyn Forge,
    policies: &Policies,
    l: &StoredRun,
) -> Result<RunOrder, String> {
    let policy = super::load::policy(policies, forge, &l.repo).await?;
    let task = l
        .spec
        .tasks
        .iter()
        .find(|t| t.id.as_str() == l.task.task_id)
        .ok_or_else(|| format!("task {} is not in the spec", l.task.task_id))?
        .clone();
    let base_sha = if task.depends_on.is_empty() {
        l.run.base_sha.clone()
    } else {
        let head = forge
            .default_branch(&l.repo)
            .await
            .map_err(|e| format!("the default branch could not be read: {e}"))?;
        let mut tx = ctx
            .store()
            .begin()
            .await
            .map_err(|e| format!("store: {e}"))?;
        store::set_run_base(&mut tx, l.run.id, &head.sha)
            .await
            .map_err(|e| format!("store: {e}"))?;
        tx.commit().await.map_err(|e| format!("store: {e}"))?;
        head.sha
    };
    let credential = forge
        .clone_credential(&l.repo)
        .await
        .map_err(|e| format!("no git credential from the forge: {e}"))?;
    let mut dependencies = Vec::new();
    {
        let mut conn = ctx
            .store()
            .reader()
            .await
            .map_err(|e| format!("store: {e}"))?;
        let rows = tasks::tasks_of(&mut conn, l.task.spec)
            .await
            .map_err(|e| format!("store: {e}"))?;
        for dep in &task.depends_on {
            if let (Some(row), Some(spec_task)) = (
                rows.iter().find(|r| r.task_id == dep.as_str()),
                l.spec.task(dep),
            ) {
                let summary = store::runs_of_task(&mut conn, row.id)
                    .await
                    .map_err(|e| format!("store: {e}"))?
                    .into_iter()
                    .find(|run| run.state == RunState::Succeeded)
                    .and_then(|run| run.report)
                    .and_then(|report| serde_json::from_str::<RunOutcome>(&report).ok())
                    .map(|outcome| outcome.report().summary.join("\n"))
                    .unwrap_or_default();
                let approval = approvals::of_task(&mut conn, row.id)
                    .await
                    .map_err(|e| format!("store: {e}"))?;
                dependencies.push(DependencyResult {
                    task_id: row.task_id.clone(),
                    title: spec_task.title.clone(),
                    pull_number: approval.as_ref().map(|a| a.number),
                    head_sha: approval.map(|a| a.head_sha),
                    summary,
                });
            }
        }
    }
    let expected_branch_head = l
        .approval
        .as_ref()
        .filter(|a| a.branch == l.run.branch)
        .map(|a| a.head_sha.clone());
    Ok(RunOrder {
        run_id: l.run.id,
        attempt: l.run.attempt,
        forge: l.forge,
        repository: l.goal.repository.clone(),
        goal_number: l.goal.number,
        goal_title: l.goal.title.clone(),
        goal_body: l.goal.body.clone(),
        spec_reference: l.spec.reference(),
        goal_reference: l.spec.goal.to_string(),
        spec_version: l.spec.version,
        task,
        dependencies,
        agent: l.run.agent.clone(),
        execution: policy.execution.clone(),
        base_sha,
        branch: l.run.branch.clone(),
        expected_branch_head,
        requester: l.run.requester.clone(),
        feedback: l.run.feedback.clone(),
        protected_paths: policy.protected_paths.clone(),
        dlp_rules: policy.dlp_rules.clone(),
        credential,
    })
}
