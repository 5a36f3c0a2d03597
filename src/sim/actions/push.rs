//! Pushes: commit files as a user, and the webhooks for branches that moved.

use super::{ActionError, ActionResult, HookEvent, emit, no_repo, require_user, split};
use crate::sim::core::Sim;
use crate::sim::git::ZERO_SHA;
use std::collections::BTreeMap;

/// Commits files to a branch as `actor` (creating the branch from `start_from`, or the default
/// branch, when it does not exist) and sends what a push sends. Returns the new commit.
pub async fn push_files(
    sim: &Sim,
    repo: &str,
    actor: &str,
    branch: &str,
    files: &[(String, Option<Vec<u8>>)],
    message: &str,
    start_from: Option<&str>,
) -> ActionResult<String> {
    require_user(sim, actor)?;
    let (owner, name) = split(repo);
    let snapshot = sim.repo(owner, name).ok_or_else(|| no_repo(repo))?;
    let before = sim.git.branches(owner, name).await?;
    if !before.contains_key(branch) {
        let from = start_from.unwrap_or(&snapshot.default_branch);
        let sha = sim
            .git
            .resolve(owner, name, from)
            .await?
            .ok_or_else(|| ActionError::Invalid(format!("{from} names no commit")))?;
        sim.git.create_branch(owner, name, branch, &sha).await?;
    }
    let signature = sim.signature(actor);
    let sha = sim
        .git
        .commit(owner, name, branch, files, message, &signature)
        .await?;
    pushed(sim, repo, actor, &before).await?;
    Ok(sha)
}

/// Sends the webhooks for what moved since `before`, reading the refs again now.
pub async fn pushed(
    sim: &Sim,
    repo: &str,
    actor: &str,
    before: &BTreeMap<String, String>,
) -> ActionResult<()> {
    let (owner, name) = split(repo);
    let after = sim.git.branches(owner, name).await?;
    after_push(sim, repo, actor, before, &after).await;
    Ok(())
}

/// Sends the webhooks for branches that moved between two reads of the refs: a `push` for each,
/// and a `synchronize` for each open pull request whose head moved.
pub async fn after_push(
    sim: &Sim,
    repo: &str,
    actor: &str,
    before: &BTreeMap<String, String>,
    after: &BTreeMap<String, String>,
) {
    let (owner, name) = split(repo);
    let now = sim.now();
    for (branch, new) in after {
        let old = before
            .get(branch)
            .cloned()
            .unwrap_or_else(|| ZERO_SHA.into());
        if &old == new {
            continue;
        }
        let synchronized: Vec<i64> = {
            let mut state = sim.state();
            let Some(r) = state.repo_mut(owner, name) else {
                return;
            };
            r.pushed_at = now;
            let open: Vec<i64> = r
                .issues
                .values()
                .filter(|i| i.is_pull && i.open)
                .map(|i| i.number)
                .collect();
            r.pulls
                .values_mut()
                .filter(|p| p.head == *branch && open.contains(&p.number) && !p.merged)
                .map(|p| {
                    p.head_sha = new.clone();
                    p.number
                })
                .collect()
        };
        emit(
            sim,
            HookEvent::Push {
                repo: repo.to_owned(),
                branch: branch.clone(),
                before: old.clone(),
                after: new.clone(),
                sender: actor.to_owned(),
            },
        )
        .await;
        for number in synchronized {
            emit(
                sim,
                HookEvent::Pull {
                    repo: repo.to_owned(),
                    number,
                    sender: actor.to_owned(),
                    action: "synchronize",
                    moved: Some((old.clone(), new.clone())),
                },
            )
            .await;
        }
    }
}
