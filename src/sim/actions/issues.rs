//! Issues and comments: open, close, reopen, comment, edit, react, label.

use super::{ActionError, ActionResult, HookEvent, emit, no_repo, require_user, split};
use crate::sim::core::Sim;
use crate::sim::state::{Comment, Issue, Label, ReactionRecord};
use std::time::Instant;

/// Opens an issue; returns its number.
pub async fn open_issue(
    sim: &Sim,
    repo: &str,
    author: &str,
    title: &str,
    body: &str,
    labels: &[String],
) -> ActionResult<i64> {
    require_user(sim, author)?;
    let (owner, name) = split(repo);
    let now = sim.now();
    let number = {
        let mut state = sim.state();
        let id = state.next_id();
        let r = state.repo_mut(owner, name).ok_or_else(|| no_repo(repo))?;
        let number = r.issues.keys().next_back().copied().unwrap_or(0) + 1;
        r.issues.insert(
            number,
            Issue {
                id,
                number,
                title: title.to_owned(),
                body: body.to_owned(),
                author: author.to_owned(),
                labels: labels.to_vec(),
                open: true,
                is_pull: false,
                created_at: now,
                updated_at: now,
                closed_at: None,
            },
        );
        number
    };
    emit(
        sim,
        HookEvent::IssueOpened {
            repo: repo.to_owned(),
            number,
            sender: author.to_owned(),
        },
    )
    .await;
    Ok(number)
}

/// Edits an issue's title and body, as its author or a maintainer does on the forge.
pub async fn edit_issue(
    sim: &Sim,
    repo: &str,
    number: i64,
    actor: &str,
    title: &str,
    body: &str,
) -> ActionResult<()> {
    require_user(sim, actor)?;
    let (owner, name) = split(repo);
    let now = sim.now();
    {
        let mut state = sim.state();
        let r = state.repo_mut(owner, name).ok_or_else(|| no_repo(repo))?;
        let issue = r
            .issues
            .get_mut(&number)
            .ok_or_else(|| ActionError::NotFound(format!("issue #{number} not found")))?;
        issue.title = title.to_owned();
        issue.body = body.to_owned();
        issue.updated_at = now;
    }
    emit(
        sim,
        HookEvent::IssueState {
            repo: repo.to_owned(),
            number,
            sender: actor.to_owned(),
            action: "edited",
        },
    )
    .await;
    Ok(())
}

/// Closes or reopens an issue or pull request.
pub async fn set_open(
    sim: &Sim,
    repo: &str,
    number: i64,
    actor: &str,
    open: bool,
) -> ActionResult<()> {
    let (owner, name) = split(repo);
    let now = sim.now();
    let is_pull = {
        let mut state = sim.state();
        let r = state.repo_mut(owner, name).ok_or_else(|| no_repo(repo))?;
        let merged = r.pulls.get(&number).is_some_and(|p| p.merged);
        let issue = r
            .issues
            .get_mut(&number)
            .ok_or_else(|| ActionError::NotFound(format!("issue #{number} not found")))?;
        if issue.open == open {
            return Ok(());
        }
        if merged && open {
            return Err(ActionError::Invalid(
                "a merged pull request cannot be reopened".into(),
            ));
        }
        issue.open = open;
        issue.updated_at = now;
        issue.closed_at = (!open).then_some(now);
        issue.is_pull
    };
    let action = if open { "reopened" } else { "closed" };
    let event = if is_pull {
        HookEvent::pull(repo, number, actor, action)
    } else {
        HookEvent::IssueState {
            repo: repo.to_owned(),
            number,
            sender: actor.to_owned(),
            action,
        }
    };
    emit(sim, event).await;
    Ok(())
}

/// Posts a comment on an issue or pull request.
pub async fn comment(
    sim: &Sim,
    repo: &str,
    number: i64,
    author: &str,
    body: &str,
) -> ActionResult<Comment> {
    require_user(sim, author)?;
    let (owner, name) = split(repo);
    let now = sim.now();
    let comment = {
        let mut state = sim.state();
        let id = state.next_id();
        let r = state.repo_mut(owner, name).ok_or_else(|| no_repo(repo))?;
        let issue = r
            .issues
            .get_mut(&number)
            .ok_or_else(|| ActionError::NotFound(format!("issue #{number} not found")))?;
        issue.updated_at = now;
        let comment = Comment {
            id,
            number,
            author: author.to_owned(),
            body: body.to_owned(),
            created_at: now,
            updated_at: now,
            recorded: Instant::now(),
            reactions: Vec::new(),
        };
        r.comments.push(comment.clone());
        comment
    };
    emit(
        sim,
        HookEvent::Comment {
            repo: repo.to_owned(),
            comment_id: comment.id,
            sender: author.to_owned(),
            edited_from: None,
        },
    )
    .await;
    Ok(comment)
}

/// Replaces a comment's text.
pub async fn edit_comment(
    sim: &Sim,
    repo: &str,
    comment_id: i64,
    editor: &str,
    body: &str,
) -> ActionResult<Comment> {
    let (owner, name) = split(repo);
    let now = sim.now();
    let (comment, before) = {
        let mut state = sim.state();
        let r = state.repo_mut(owner, name).ok_or_else(|| no_repo(repo))?;
        let comment = r
            .comment_mut(comment_id)
            .ok_or_else(|| ActionError::NotFound(format!("comment {comment_id} not found")))?;
        let before = std::mem::replace(&mut comment.body, body.to_owned());
        comment.updated_at = now;
        (comment.clone(), before)
    };
    emit(
        sim,
        HookEvent::Comment {
            repo: repo.to_owned(),
            comment_id,
            sender: editor.to_owned(),
            edited_from: Some(before),
        },
    )
    .await;
    Ok(comment)
}

/// Adds a reaction to a comment; the same user's same reaction twice is kept once. Returns the
/// reaction and whether it is new.
pub fn react(
    sim: &Sim,
    repo: &str,
    comment_id: i64,
    user: &str,
    content: &str,
) -> ActionResult<(ReactionRecord, bool)> {
    let (owner, name) = split(repo);
    let now = sim.now();
    let mut state = sim.state();
    let id = state.next_id();
    let r = state.repo_mut(owner, name).ok_or_else(|| no_repo(repo))?;
    let comment = r
        .comment_mut(comment_id)
        .ok_or_else(|| ActionError::NotFound(format!("comment {comment_id} not found")))?;
    if let Some(existing) = comment
        .reactions
        .iter()
        .find(|x| x.user == user && x.content == content)
    {
        return Ok((existing.clone(), false));
    }
    let reaction = ReactionRecord {
        id,
        user: user.to_owned(),
        content: content.to_owned(),
        created_at: now,
        recorded: Instant::now(),
    };
    comment.reactions.push(reaction.clone());
    Ok((reaction, true))
}

/// Adds labels to an issue, defining any the repository lacks (as GitHub does). Returns the
/// issue's labels.
pub fn add_labels(
    sim: &Sim,
    repo: &str,
    number: i64,
    labels: &[String],
) -> ActionResult<Vec<String>> {
    let (owner, name) = split(repo);
    let mut state = sim.state();
    let mut ids: Vec<i64> = labels.iter().map(|_| 0).collect();
    for id in &mut ids {
        *id = state.next_id();
    }
    let r = state.repo_mut(owner, name).ok_or_else(|| no_repo(repo))?;
    for (label, id) in labels.iter().zip(ids) {
        if r.label(label).is_none() {
            r.labels.push(Label {
                id,
                name: label.clone(),
                color: "ededed".into(),
                description: String::new(),
            });
        }
    }
    let issue = r
        .issues
        .get_mut(&number)
        .ok_or_else(|| ActionError::NotFound(format!("issue #{number} not found")))?;
    for label in labels {
        if !issue.labels.iter().any(|l| l.eq_ignore_ascii_case(label)) {
            issue.labels.push(label.clone());
        }
    }
    Ok(issue.labels.clone())
}
