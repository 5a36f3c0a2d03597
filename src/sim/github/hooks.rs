//! GitHub webhook payloads for what happened, shaped like GitHub's (octokit's webhook examples
//! and the webhook schemas are the reference). Every payload carries the `installation` of the
//! repository when the app is installed on it, as GitHub App deliveries do.

use super::super::actions::HookEvent;
use super::super::core::Sim;
use super::super::git::{CommitInfo, ZERO_SHA};
use super::super::webhooks::Outgoing;
use super::json;
use serde_json::{Value, json};

/// The deliveries GitHub sends for `event`.
pub async fn build(sim: &Sim, event: &HookEvent) -> Vec<Outgoing> {
    match build_one(sim, event).await {
        Some(outgoing) => vec![outgoing],
        None => Vec::new(),
    }
}

async fn build_one(sim: &Sim, event: &HookEvent) -> Option<Outgoing> {
    let repo_name = match event {
        HookEvent::IssueOpened { repo, .. }
        | HookEvent::IssueState { repo, .. }
        | HookEvent::Comment { repo, .. }
        | HookEvent::Pull { repo, .. }
        | HookEvent::Review { repo, .. }
        | HookEvent::Push { repo, .. }
        | HookEvent::CheckRerequested { repo, .. }
        | HookEvent::CheckRunChanged { repo, .. }
        | HookEvent::StatusSet { repo, .. } => repo,
    };
    let (owner, name) = repo_name.split_once('/')?;
    let repo = sim.repo(owner, name)?;
    let (event_name, mut body) = match event {
        HookEvent::IssueOpened { number, .. } => {
            let issue = repo.issues.get(number)?;
            (
                "issues",
                json!({ "action": "opened", "issue": json::issue(sim, &repo, issue, None) }),
            )
        }
        HookEvent::IssueState { number, action, .. } => {
            let issue = repo.issues.get(number)?;
            let pull = repo.pulls.get(number);
            ("issues", {
                let mut body =
                    json!({ "action": action, "issue": json::issue(sim, &repo, issue, pull) });
                if *action == "edited" {
                    body["changes"] = json!({});
                }
                body
            })
        }
        HookEvent::Comment {
            comment_id,
            edited_from,
            ..
        } => {
            let (comment, issue, pull) = repo.comment_thread(*comment_id)?;
            let mut body = json!({
                "action": if edited_from.is_some() { "edited" } else { "created" },
                "issue": json::issue(sim, &repo, issue, pull),
                "comment": json::comment(sim, &repo, comment),
            });
            if let Some(from) = edited_from {
                body["changes"] = json!({ "body": { "from": from } });
            }
            ("issue_comment", body)
        }
        HookEvent::Pull {
            number,
            action,
            moved,
            ..
        } => {
            let pull = repo.pulls.get(number)?;
            let git = sim.pull_git(&repo, pull).await;
            let mut body = json!({
                "action": action,
                "number": number,
                "pull_request": json::pull_request(sim, &repo, pull, &git),
            });
            if let Some((before, after)) = moved {
                body["before"] = json!(before);
                body["after"] = json!(after);
            }
            ("pull_request", body)
        }
        HookEvent::Review { review_id, .. } => {
            let review = repo.reviews.iter().find(|r| r.id == *review_id)?;
            let pull = repo.pulls.get(&review.number)?;
            let git = sim.pull_git(&repo, pull).await;
            (
                "pull_request_review",
                // The review's pull request is GitHub's "Simple Pull Request", without the
                // counts and merge state of the single pull request.
                json!({
                    "action": "submitted",
                    "review": json::review(sim, &repo, review, true),
                    "pull_request": json::pull_request_simple(sim, &repo, pull, &git),
                }),
            )
        }
        HookEvent::Push {
            branch,
            before,
            after,
            sender,
            ..
        } => (
            "push",
            push(sim, &repo, branch, before, after, sender).await,
        ),
        HookEvent::CheckRerequested { check_run_id, .. } => {
            let run = repo.check_runs.iter().find(|c| c.id == *check_run_id)?;
            (
                "check_run",
                json!({ "action": "rerequested", "check_run": json::check_run_event(sim, &repo, run) }),
            )
        }
        HookEvent::CheckRunChanged {
            check_run_id,
            action,
            ..
        } => {
            let run = repo.check_runs.iter().find(|c| c.id == *check_run_id)?;
            (
                "check_run",
                json!({ "action": action, "check_run": json::check_run_event(sim, &repo, run) }),
            )
        }
        HookEvent::StatusSet { status_id, .. } => {
            let status = repo.statuses.iter().find(|s| s.id == *status_id)?;
            ("status", json::status_event(sim, &repo, status))
        }
    };
    let sender = match event {
        HookEvent::IssueOpened { sender, .. }
        | HookEvent::IssueState { sender, .. }
        | HookEvent::Comment { sender, .. }
        | HookEvent::Pull { sender, .. }
        | HookEvent::Review { sender, .. }
        | HookEvent::Push { sender, .. }
        | HookEvent::CheckRerequested { sender, .. }
        | HookEvent::CheckRunChanged { sender, .. }
        | HookEvent::StatusSet { sender, .. } => sender,
    };
    if event_name != "push" {
        body["repository"] = json::repository(sim, &repo, None);
    }
    body["sender"] = json::user_named(sim, sender);
    if let Some(installation) = sim.state().installation_for(&repo.full_name()) {
        body["installation"] = json!({
            "id": installation.id,
            "node_id": base64_node("Installation", installation.id),
        });
    }
    Some(Outgoing {
        event: event_name.to_owned(),
        event_type: None,
        body,
    })
}

fn base64_node(kind: &str, id: i64) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(format!("0{}:{kind}{id}", kind.len()))
}

async fn push(
    sim: &Sim,
    repo: &super::super::state::Repo,
    branch: &str,
    before: &str,
    after: &str,
    sender: &str,
) -> Value {
    let (owner, name) = (&repo.owner, &repo.name);
    let created = before == ZERO_SHA;
    let deleted = after == ZERO_SHA;
    let commits = if deleted {
        Vec::new()
    } else {
        sim.git
            .commits_between(owner, name, before, after, 20)
            .await
            .unwrap_or_default()
    };
    let forced = !created
        && !deleted
        && sim
            .git
            .merge_base(owner, name, before, after)
            .await
            .ok()
            .flatten()
            .as_deref()
            != Some(before);
    let base = &sim.base_url;
    let full = repo.full_name();
    let commit_json = |c: &CommitInfo| {
        json!({
            "id": c.sha,
            "tree_id": c.tree,
            "distinct": true,
            "message": c.message.trim_end(),
            "timestamp": c.timestamp,
            "url": format!("{base}/{full}/commit/{}", c.sha),
            "author": { "name": c.author_name, "email": c.author_email, "username": c.author_name },
            "committer": { "name": c.committer_name, "email": c.committer_email, "username": c.committer_name },
            "added": c.added,
            "removed": c.removed,
            "modified": c.modified,
        })
    };
    // The push event's repository has neither `network_count` nor `subscribers_count`.
    let mut repository = json::nested_repository(sim, repo, None);
    repository["created_at"] = json!(repo.created_at / 1000);
    repository["pushed_at"] = json!(repo.pushed_at / 1000);
    repository["stargazers"] = json!(0);
    repository["master_branch"] = json!(repo.default_branch);
    let owner = sim.user_or_ghost(&repo.owner);
    repository["owner"]["name"] = json!(owner.login);
    repository["owner"]["email"] = json!(sim.noreply_email(owner.id, &owner.login));
    let user = sim.user_or_ghost(sender);
    let compare = if created {
        format!("{base}/{full}/commit/{}", &after[..12.min(after.len())])
    } else {
        format!(
            "{base}/{full}/compare/{}...{}",
            &before[..12.min(before.len())],
            &after[..12.min(after.len())]
        )
    };
    json!({
        "ref": format!("refs/heads/{branch}"),
        "before": before,
        "after": after,
        "created": created,
        "deleted": deleted,
        "forced": forced,
        "base_ref": Value::Null,
        "compare": compare,
        "commits": commits.iter().map(commit_json).collect::<Vec<_>>(),
        "head_commit": commits.last().map(commit_json),
        "repository": repository,
        "pusher": { "name": user.login, "email": sim.noreply_email(user.id, &user.login) },
    })
}
