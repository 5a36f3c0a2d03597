//! Phase 5, verify: the policy's steps run on the pushed change, in the run's own worktree (with
//! what the commit left out cleaned away first) and the agent's environment class and
//! confinement, as the agent user, with none of the agent's secrets and no forge credential. Their output goes whole (up to a cap per step) into the verification's own log beside the run log; the
//! report keeps each step's masked last lines and annotations. [`verify_again`] does the same for
//! a commit someone else pushed, in a clean worktree of its own.

use std::path::PathBuf;
use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use super::prepare::{Lease, Prepared};
use super::{LocalRunner, Stop, folder};
use crate::policy::{AgentPolicy, AgentSet, EffectivePolicy, Environment};
use crate::runner::dlp::Dlp;
use crate::runner::env::{PathAccess, PathGrant};
use crate::runner::order::{RunOrder, VerifyOrder, VerifyOutcome};
use crate::runner::verify::{StepsRequest, run_steps};
use crate::verify::VerificationReport;

/// Most bytes of one step's output kept in the run log.
const STEP_OUTPUT_CAP: u64 = 16 * 1024 * 1024;

/// Verifies the run's pushed change in its worktree; `stop` ends it early.
pub(super) async fn verify(
    runner: &LocalRunner,
    order: &RunOrder,
    run: &mut Prepared,
    head: &str,
    stop: CancellationToken,
) -> VerificationReport {
    if order.verification.is_empty() {
        return VerificationReport::new(Vec::new(), 0);
    }
    // What is verified is what was pushed: the worktree's HEAD and index are set to the pushed
    // commit and what it does not hold (ignored build output, agent tool leftovers) goes, so
    // nothing the agent left behind can make a step pass. The main checkout keeps its ignored
    // files: warm build caches are why a trusted agent runs there.
    if let Err(e) = run.mirror.check_integrity().await {
        return VerificationReport::not_run(
            &order.verification,
            &format!("the repository's mirror is not intact: {e}"),
        );
    }
    let clean = match run.lease {
        Lease::Main(_) => "-ffdq",
        Lease::Worktree(_) => "-ffdxq",
    };
    for args in [
        &["update-ref", "--no-deref", "HEAD", head][..],
        &["read-tree", head],
        &["clean", clean],
    ] {
        if let Err(e) = run
            .mirror
            .git()
            .in_worktree(&run.worktree.git_dir, &run.worktree.work_tree)
            .args(args)
            .run()
            .await
        {
            return VerificationReport::not_run(
                &order.verification,
                &format!("the worktree could not be cleaned for verification: {e}"),
            );
        }
    }
    let run_dir = runner.run_dir(order.run_id);
    let scratch = folder::verification_scratch(&run_dir, order.attempt);
    let request = StepsRequest {
        environment: steps_environment(run.selection.environment),
        network: runner.registry.runner().network,
        extra_paths: vec![PathGrant {
            path: run.mirror.git_dir().to_path_buf(),
            access: PathAccess::Read,
        }],
        identity: identity(
            order.run_id,
            &order.task.id.to_string(),
            &order.spec_reference,
        ),
        path_var: runner.registry.runner().path_var(),
        output_cap: STEP_OUTPUT_CAP,
        mask: mask(&order.dlp_rules),
        ..StepsRequest::new(
            order.verification.clone(),
            run.worktree.work_tree.clone(),
            scratch,
            folder::verification_log(&run_dir, order.attempt),
        )
    };
    steps_in(runner, &mut run.lease, &request, stop).await
}

/// Verifies `order.head_sha` in a clean worktree of the repository's pool.
pub(super) async fn verify_again(
    runner: &LocalRunner,
    order: &VerifyOrder,
    cancel: CancellationToken,
) -> VerifyOutcome {
    let log = folder::reverification_log(&runner.run_dir(order.run_id), order.verification_id);
    let report = match verify_commit(runner, order, &log, cancel).await {
        Ok(report) => report,
        Err(stop) => {
            tracing::warn!(verification = order.verification_id, reason = %stop.reason, "verification could not run");
            VerificationReport::not_run(&order.steps, &stop.reason)
        }
    };
    VerifyOutcome {
        report,
        log: Some(log.display().to_string()),
    }
}

async fn verify_commit(
    runner: &LocalRunner,
    order: &VerifyOrder,
    log: &std::path::Path,
    cancel: CancellationToken,
) -> Result<VerificationReport, Stop> {
    if order.steps.is_empty() {
        return Ok(VerificationReport::new(Vec::new(), 0));
    }
    let agent = runner
        .registry
        .choose(
            &AgentPolicy {
                allowed: AgentSet::Any,
                ..EffectivePolicy::default().agents
            },
            Some(&order.agent),
        )
        .map_err(|refusal| Stop::agent(refusal.to_string()))?;
    let environment = runner
        .registry
        .environment(&agent, &order.execution, order.task_environment)
        .map_err(|refusal| Stop::agent(refusal.to_string()))?;
    let mirror = runner
        .mirror_at(
            order.forge,
            &order.repository,
            &order.credential,
            &order.head_sha,
            &order.head_sha,
        )
        .await?;
    let pool = runner.pool(&mirror).await?;
    let lease = pool
        .acquire(&order.head_sha)
        .await
        .map_err(|e| Stop::fault(format!("no worktree: {e}")))?;
    let worktree = lease.path().to_path_buf();
    let mut lease = Lease::Worktree(lease);
    let scratch =
        folder::reverification_scratch(&runner.run_dir(order.run_id), order.verification_id);
    LocalRunner::create_run_folder(&scratch)?;
    let request = StepsRequest {
        environment: steps_environment(environment),
        network: runner.registry.runner().network,
        extra_paths: vec![PathGrant {
            path: mirror.git_dir().to_path_buf(),
            access: PathAccess::Read,
        }],
        identity: order.identity.clone(),
        path_var: runner.registry.runner().path_var(),
        output_cap: STEP_OUTPUT_CAP,
        mask: mask(&order.dlp_rules),
        ..StepsRequest::new(order.steps.clone(), worktree, scratch, PathBuf::from(log))
    };
    Ok(steps_in(runner, &mut lease, &request, cancel).await)
}

/// Runs the steps with the worktree handed to the agent user, and takes it back after.
async fn steps_in(
    runner: &LocalRunner,
    lease: &mut Lease,
    request: &StepsRequest,
    stop: CancellationToken,
) -> VerificationReport {
    if let Some(user) = runner.env.agent_user
        && let Err(e) = lease.hand_to(user.uid, user.gid).await
    {
        return VerificationReport::not_run(
            &request.steps,
            &format!("the worktree could not be handed to the agent user: {e}"),
        );
    }
    let report = run_steps(request, &runner.env, stop).await;
    if let Some(user) = runner.env.agent_user
        && let Err(e) = lease
            .close(user.uid, &[&request.worktree, &request.scratch])
            .await
    {
        tracing::warn!(error = %e, "could not close the worktree to the agent user after verification");
    }
    report
}

/// The main environment's persistent checkout is for agents; its steps run confined like any
/// worktree's.
fn steps_environment(agent: Environment) -> Environment {
    match agent {
        Environment::Main => Environment::Worktree,
        other => other,
    }
}

/// The variables that name the run for a step.
pub(super) fn identity(run: i64, task: &str, spec: &str) -> Vec<(String, String)> {
    vec![
        ("ADE_RUN_ID".into(), run.to_string()),
        ("ADE_TASK_ID".into(), task.to_string()),
        ("ADE_SPEC".into(), spec.to_string()),
    ]
}

/// The DLP redaction with the policy's rules (the built-in ones when the rules do not compile:
/// the run reported that already).
fn mask(rules: &[crate::policy::DlpPattern]) -> Arc<crate::verify::Mask<'static>> {
    let dlp =
        Dlp::new(rules).unwrap_or_else(|_| Dlp::new(&[]).expect("built-in detectors compile"));
    Arc::new(move |text: &str| dlp.redact(text))
}
