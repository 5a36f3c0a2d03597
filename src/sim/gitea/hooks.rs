//! Gitea webhook payloads (`modules/structs/hook.go`), with the coarse event in `X-Gitea-Event`
//! and the fine one in `X-Gitea-Event-Type`, as Gitea 1.26 sends them. `repository.permissions`
//! is the access of the user who caused the event, as in Gitea's notifier. Playing Forgejo, the
//! objects in them take Forgejo's shape, as its API answers do.

use super::super::actions::HookEvent;
use super::super::core::Sim;
use super::super::git::{CommitInfo, ZERO_SHA};
use super::super::state::Repo;
use super::super::webhooks::Outgoing;
use super::json;
use crate::forge::Permission;
use crate::forge::ReviewState;
use serde_json::{Value, json};

/// The deliveries Gitea sends for `event` (none for check runs, which Gitea does not have).
pub async fn build(sim: &Sim, event: &HookEvent) -> Vec<Outgoing> {
    build_one(sim, event).await.into_iter().collect()
}

fn repo_of(sim: &Sim, full: &str) -> Option<Repo> {
    let (owner, name) = full.split_once('/')?;
    sim.repo(owner, name)
}

/// An `issues` delivery's parts: the issue as it is now, with the action taken.
fn issue_event<'a>(
    sim: &Sim,
    repo: &str,
    number: i64,
    sender: &'a String,
    action: &str,
) -> Option<(&'static str, &'static str, Repo, &'a String, Value)> {
    let repo = repo_of(sim, repo)?;
    let issue = repo.issues.get(&number)?;
    let mut body = json!({
        "action": action,
        "number": number,
        "issue": json::issue(sim, &repo, issue, None),
        "commit_id": "",
    });
    if action == "edited" {
        body["changes"] = json!({});
    }
    Some(("issues", "issues", repo, sender, body))
}

async fn build_one(sim: &Sim, event: &HookEvent) -> Option<Outgoing> {
    let (event_name, event_type, repo, sender, mut body) = match event {
        HookEvent::IssueOpened {
            repo,
            number,
            sender,
        } => issue_event(sim, repo, *number, sender, "opened")?,
        HookEvent::IssueState {
            repo,
            number,
            sender,
            action,
        } => issue_event(sim, repo, *number, sender, action)?,
        HookEvent::Comment {
            repo,
            comment_id,
            sender,
            edited_from,
        } => {
            let repo = repo_of(sim, repo)?;
            let (comment, issue, pull) = repo.comment_thread(*comment_id)?;
            let mut body = json!({
                "action": if edited_from.is_some() { "edited" } else { "created" },
                "issue": json::issue(sim, &repo, issue, pull),
                "comment": json::comment(sim, &repo, comment),
                "is_pull": pull.is_some(),
            });
            if let Some(pull) = pull {
                let git = sim.pull_git(&repo, pull).await;
                let viewer = repo.permission_of(sender);
                body["pull_request"] = json::pull_request(sim, &repo, pull, &git, viewer);
            }
            if let Some(from) = edited_from {
                body["changes"] = json!({ "body": { "from": from } });
            }
            let event_type = if pull.is_some() {
                "pull_request_comment"
            } else {
                "issue_comment"
            };
            ("issue_comment", event_type, repo, sender, body)
        }
        HookEvent::Pull {
            repo,
            number,
            sender,
            action,
            ..
        } => {
            let repo = repo_of(sim, repo)?;
            let pull = repo.pulls.get(number)?;
            let git = sim.pull_git(&repo, pull).await;
            let author = repo.issues.get(number).map(|i| i.author.clone());
            let viewer = author.map_or(Permission::Read, |a| repo.permission_of(&a));
            let (action, event_type) = match *action {
                "synchronize" => ("synchronized", "pull_request_sync"),
                other => (other, "pull_request"),
            };
            let body = json!({
                "action": action,
                "number": number,
                "pull_request": json::pull_request(sim, &repo, pull, &git, viewer),
                "requested_reviewer": Value::Null,
                "commit_id": "",
                "review": Value::Null,
            });
            ("pull_request", event_type, repo, sender, body)
        }
        HookEvent::Review {
            repo,
            review_id,
            sender,
        } => {
            let repo = repo_of(sim, repo)?;
            let review = repo.reviews.iter().find(|r| r.id == *review_id)?;
            let pull = repo.pulls.get(&review.number)?;
            let git = sim.pull_git(&repo, pull).await;
            let author = repo.issues.get(&review.number).map(|i| i.author.clone());
            let viewer = author.map_or(Permission::Read, |a| repo.permission_of(&a));
            let (event_name, event_type) = match review.state {
                ReviewState::Approved | ReviewState::Dismissed => {
                    ("pull_request_approved", "pull_request_review_approved")
                }
                ReviewState::ChangesRequested => {
                    ("pull_request_rejected", "pull_request_review_rejected")
                }
                ReviewState::Commented => ("pull_request_comment", "pull_request_review_comment"),
            };
            let body = json!({
                "action": "reviewed",
                "number": review.number,
                "pull_request": json::pull_request(sim, &repo, pull, &git, viewer),
                "requested_reviewer": Value::Null,
                "commit_id": "",
                "review": { "type": event_type, "content": review.body },
            });
            (event_name, event_type, repo, sender, body)
        }
        HookEvent::Push {
            repo,
            branch,
            before,
            after,
            sender,
        } => {
            let repo = repo_of(sim, repo)?;
            let body = push(sim, &repo, branch, before, after, sender).await;
            ("push", "push", repo, sender, body)
        }
        HookEvent::CheckRerequested { .. } | HookEvent::CheckRunChanged { .. } => return None,
        HookEvent::StatusSet {
            repo,
            status_id,
            sender,
        } => {
            let repo = repo_of(sim, repo)?;
            let status = repo.statuses.iter().find(|s| s.id == *status_id)?;
            let body = status_event(sim, &repo, status);
            ("status", "status", repo, sender, body)
        }
    };
    let sender_permission = if event_name == "push" || event_type == "pull_request_sync" {
        Permission::Admin
    } else {
        repo.permission_of(sender)
    };
    body["repository"] = json::repository(sim, &repo, sender_permission);
    body["sender"] = json::user_named(sim, sender);
    if sim.forgejo {
        // Forgejo's payloads carry its own objects, which lack what Gitea added since the fork.
        super::documented::as_forgejo(&mut body);
    }
    Some(Outgoing {
        event: event_name.to_owned(),
        event_type: Some(event_type.to_owned()),
        body,
    })
}

/// Gitea's `CommitStatusPayload`: the commit, the status's context, state, description and
/// link, and its id and times.
fn status_event(sim: &Sim, repo: &Repo, status: &super::super::state::CommitStatus) -> Value {
    let base = &sim.base_url;
    let full = repo.full_name();
    let when = super::super::time::rfc3339(status.created_at);
    json!({
        "commit": {
            "id": status.sha,
            "message": "",
            "url": format!("{base}/{full}/commit/{}", status.sha),
            "author": { "name": status.creator, "email": format!("{}@noreply.localhost", status.creator), "username": status.creator },
            "committer": { "name": status.creator, "email": format!("{}@noreply.localhost", status.creator), "username": status.creator },
            "verification": Value::Null,
            "timestamp": when,
            "added": [],
            "removed": [],
            "modified": [],
        },
        "context": status.context,
        "created_at": when,
        "description": status.description,
        "id": status.id,
        "sha": status.sha,
        "state": status.state,
        "target_url": status.target_url,
        "updated_at": when,
    })
}

async fn push(
    sim: &Sim,
    repo: &Repo,
    branch: &str,
    before: &str,
    after: &str,
    sender: &str,
) -> Value {
    let commits = if after == ZERO_SHA {
        Vec::new()
    } else {
        sim.git
            .commits_between(&repo.owner, &repo.name, before, after, 20)
            .await
            .unwrap_or_default()
    };
    let base = &sim.base_url;
    let full = repo.full_name();
    let commit_json = |c: &CommitInfo| {
        json!({
            "id": c.sha,
            "message": c.message,
            "url": format!("{base}/{full}/commit/{}", c.sha),
            "author": { "name": c.author_name, "email": c.author_email, "username": c.author_name },
            "committer": { "name": c.committer_name, "email": c.committer_email, "username": c.committer_name },
            "verification": Value::Null,
            "timestamp": c.timestamp,
            "added": c.added,
            "removed": c.removed,
            "modified": c.modified,
        })
    };
    let compare_url = if before == ZERO_SHA {
        String::new()
    } else {
        format!("{base}/{full}/compare/{before}...{after}")
    };
    json!({
        "ref": format!("refs/heads/{branch}"),
        "before": before,
        "after": after,
        "compare_url": compare_url,
        "commits": commits.iter().map(commit_json).collect::<Vec<_>>(),
        "total_commits": commits.len(),
        "head_commit": commits.last().map(commit_json),
        "pusher": json::user_named(sim, sender),
    })
}
