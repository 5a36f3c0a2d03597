//! Things that happen on the forge: a user (or ade, through the API) opens an issue, comments,
//! pushes, opens, reviews or merges a pull request. Each changes the state or the git repository,
//! then sends the webhooks the real forge would send. The test handle, the `/_sim/` control
//! endpoints and the API routes all come through here, so every path sends the same deliveries.

use super::core::Sim;
use super::git::{MergeFailure, MergePlan, MergeStyle, ZERO_SHA};
use super::state::{Comment, Issue, Pull, ReactionRecord, Review};
use super::webhooks::Outgoing;
use super::{gitea, github};
use crate::events::ReviewState;
use crate::forge::{ForgeKind, Permission};
use std::collections::BTreeMap;

/// Why an action was refused; each maps to the status the forge answers.
#[derive(Debug, thiserror::Error)]
pub enum ActionError {
    /// The repository, issue, user or comment does not exist (404).
    #[error("{0}")]
    NotFound(String),
    /// The request is invalid (422).
    #[error("{0}")]
    Invalid(String),
    /// The actor may not do this (403).
    #[error("{0}")]
    Forbidden(String),
    /// The pull request head moved (409).
    #[error("{0}")]
    Conflict(String),
    /// The pull request cannot be merged now: closed, draft, conflicting, or blocked by branch
    /// protection (405).
    #[error("{0}")]
    NotMergeable(String),
    /// Git or the simulator failed (500).
    #[error("internal error: {0}")]
    Internal(#[from] anyhow::Error),
}

/// An action's result.
pub type ActionResult<T> = Result<T, ActionError>;

/// Something that happened, for which the forge sends webhooks.
#[derive(Clone, Debug)]
pub enum HookEvent {
    /// An issue was opened.
    IssueOpened {
        /// `owner/name`.
        repo: String,
        /// The number.
        number: i64,
        /// Who.
        sender: String,
    },
    /// An issue was closed or reopened.
    IssueState {
        /// `owner/name`.
        repo: String,
        /// The number.
        number: i64,
        /// Who.
        sender: String,
        /// `closed` or `reopened`.
        action: &'static str,
    },
    /// A comment was created or edited.
    Comment {
        /// `owner/name`.
        repo: String,
        /// The comment.
        comment_id: i64,
        /// Who.
        sender: String,
        /// The text before, for an edit.
        edited_from: Option<String>,
    },
    /// A pull request was opened, closed (or merged), reopened or synchronized.
    Pull {
        /// `owner/name`.
        repo: String,
        /// The number.
        number: i64,
        /// Who.
        sender: String,
        /// `opened`, `closed`, `reopened` or `synchronize`.
        action: &'static str,
        /// Head before and after, for `synchronize`.
        moved: Option<(String, String)>,
    },
    /// A review was submitted.
    Review {
        /// `owner/name`.
        repo: String,
        /// The review.
        review_id: i64,
        /// Who.
        sender: String,
    },
    /// A branch moved.
    Push {
        /// `owner/name`.
        repo: String,
        /// The branch.
        branch: String,
        /// The commit before (zeros for a new branch).
        before: String,
        /// The commit after.
        after: String,
        /// Who pushed.
        sender: String,
    },
    /// Someone asked to re-run a check run (GitHub).
    CheckRerequested {
        /// `owner/name`.
        repo: String,
        /// The check run.
        check_run_id: i64,
        /// Who.
        sender: String,
    },
}

/// Builds the payloads for an event in the simulator's dialect and delivers them in order.
/// Returns the delivery ids.
pub async fn emit(sim: &Sim, event: HookEvent) -> Vec<String> {
    let outgoing: Vec<Outgoing> = match sim.kind {
        ForgeKind::Github => github::hooks::build(sim, &event).await,
        ForgeKind::Gitea => gitea::hooks::build(sim, &event).await,
    };
    let mut ids = Vec::new();
    for payload in outgoing {
        ids.push(sim.hooks.deliver(payload, &sim.faults, sim.now()).await);
    }
    ids
}

fn split(full_name: &str) -> (&str, &str) {
    full_name.split_once('/').unwrap_or((full_name, ""))
}

fn no_repo(full_name: &str) -> ActionError {
    ActionError::NotFound(format!("repository {full_name} not found"))
}

fn require_user(sim: &Sim, login: &str) -> ActionResult<()> {
    if sim.state().user(login).is_some() {
        Ok(())
    } else {
        Err(ActionError::NotFound(format!("user {login} not found")))
    }
}

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
        HookEvent::Pull {
            repo: repo.to_owned(),
            number,
            sender: actor.to_owned(),
            action,
            moved: None,
        }
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
            r.labels.push(super::state::Label {
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

/// Opens a pull request from `head` into `base`; returns its number.
#[allow(clippy::too_many_arguments)]
pub async fn open_pull(
    sim: &Sim,
    repo: &str,
    author: &str,
    title: &str,
    body: &str,
    head: &str,
    base: &str,
    draft: bool,
) -> ActionResult<i64> {
    require_user(sim, author)?;
    let (owner, name) = split(repo);
    let head = head.split_once(':').map_or(head, |(_, branch)| branch);
    let branches = sim.git.branches(owner, name).await?;
    let head_sha = branches
        .get(head)
        .ok_or_else(|| ActionError::Invalid(format!("head branch {head} does not exist")))?;
    let base_sha = branches
        .get(base)
        .ok_or_else(|| ActionError::Invalid(format!("base branch {base} does not exist")))?;
    if head_sha == base_sha {
        return Err(ActionError::Invalid(format!(
            "No commits between {base} and {head}"
        )));
    }
    let now = sim.now();
    let number = {
        let mut state = sim.state();
        let issue_id = state.next_id();
        let pull_id = state.next_id();
        let r = state.repo_mut(owner, name).ok_or_else(|| no_repo(repo))?;
        if let Some(open) = r.pulls.values().find(|p| {
            p.head == head && p.base == base && r.issues.get(&p.number).is_some_and(|i| i.open)
        }) {
            return Err(ActionError::Invalid(format!(
                "A pull request already exists for {owner}:{head} (#{}).",
                open.number
            )));
        }
        let number = r.issues.keys().next_back().copied().unwrap_or(0) + 1;
        r.issues.insert(
            number,
            Issue {
                id: issue_id,
                number,
                title: title.to_owned(),
                body: body.to_owned(),
                author: author.to_owned(),
                labels: Vec::new(),
                open: true,
                is_pull: true,
                created_at: now,
                updated_at: now,
                closed_at: None,
            },
        );
        r.pulls.insert(
            number,
            Pull {
                id: pull_id,
                number,
                head: head.to_owned(),
                base: base.to_owned(),
                head_sha: head_sha.clone(),
                base_sha: base_sha.clone(),
                draft,
                merged: false,
                merged_at: None,
                merge_commit_sha: None,
                merged_by: None,
            },
        );
        number
    };
    emit(
        sim,
        HookEvent::Pull {
            repo: repo.to_owned(),
            number,
            sender: author.to_owned(),
            action: "opened",
            moved: None,
        },
    )
    .await;
    Ok(number)
}

/// Changes a pull request's title, body or open state.
pub async fn update_pull(
    sim: &Sim,
    repo: &str,
    number: i64,
    actor: &str,
    title: Option<&str>,
    body: Option<&str>,
    open: Option<bool>,
) -> ActionResult<()> {
    let (owner, name) = split(repo);
    {
        let mut state = sim.state();
        let now = sim.clock.now_ms();
        let r = state.repo_mut(owner, name).ok_or_else(|| no_repo(repo))?;
        if !r.pulls.contains_key(&number) {
            return Err(ActionError::NotFound(format!(
                "pull request #{number} not found"
            )));
        }
        let issue = r.issues.get_mut(&number).expect("a pull has its issue");
        if let Some(title) = title {
            issue.title = title.to_owned();
        }
        if let Some(body) = body {
            issue.body = body.to_owned();
        }
        issue.updated_at = now;
    }
    if let Some(open) = open {
        set_open(sim, repo, number, actor, open).await?;
    }
    Ok(())
}

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
    let after = sim.git.branches(owner, name).await?;
    after_push(sim, repo, actor, &before, &after).await;
    Ok(sha)
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

/// Submits a review on a pull request's current head; returns its id.
pub async fn review(
    sim: &Sim,
    repo: &str,
    number: i64,
    author: &str,
    state: ReviewState,
    body: &str,
) -> ActionResult<i64> {
    require_user(sim, author)?;
    let (owner, name) = split(repo);
    let snapshot = sim.repo(owner, name).ok_or_else(|| no_repo(repo))?;
    let pull = snapshot
        .pulls
        .get(&number)
        .ok_or_else(|| ActionError::NotFound(format!("pull request #{number} not found")))?;
    let author_of_pull = snapshot.issues.get(&number).map(|i| i.author.clone());
    if state != ReviewState::Commented && author_of_pull.as_deref() == Some(author) {
        return Err(ActionError::Invalid(match state {
            ReviewState::Approved => "Can not approve your own pull request".into(),
            _ => "Can not request changes on your own pull request".into(),
        }));
    }
    let git = sim.pull_git(&snapshot, pull).await;
    let id = {
        let mut st = sim.state();
        let id = st.next_id();
        let now = sim.clock.now_ms();
        let r = st.repo_mut(owner, name).ok_or_else(|| no_repo(repo))?;
        r.reviews.push(Review {
            id,
            number,
            author: author.to_owned(),
            state,
            body: body.to_owned(),
            commit_id: git.head_sha,
            submitted_at: now,
        });
        id
    };
    emit(
        sim,
        HookEvent::Review {
            repo: repo.to_owned(),
            review_id: id,
            sender: author.to_owned(),
        },
    )
    .await;
    Ok(id)
}

/// Merges a pull request as `actor` if its head is still `expected_head` (when given) and the
/// base branch's protection allows; returns the commit the base branch now points at.
pub async fn merge(
    sim: &Sim,
    repo: &str,
    number: i64,
    actor: &str,
    style: MergeStyle,
    expected_head: Option<&str>,
    message: Option<&str>,
) -> ActionResult<String> {
    let (owner, name) = split(repo);
    let snapshot = sim.repo(owner, name).ok_or_else(|| no_repo(repo))?;
    let pull = snapshot
        .pulls
        .get(&number)
        .cloned()
        .ok_or_else(|| ActionError::NotFound(format!("pull request #{number} not found")))?;
    let issue = snapshot
        .issues
        .get(&number)
        .cloned()
        .expect("a pull has its issue");
    let gitea = sim.kind == ForgeKind::Gitea;
    if pull.merged || !issue.open {
        return Err(ActionError::NotMergeable(if gitea {
            "The PR is closed or already merged".into()
        } else {
            "Pull Request is not mergeable".into()
        }));
    }
    if pull.draft {
        return Err(ActionError::NotMergeable(if gitea {
            "The PR is a draft (work in progress)".into()
        } else {
            "Pull Request is still a draft".into()
        }));
    }
    let git = sim.pull_git(&snapshot, &pull).await;
    if let Some(expected) = expected_head
        && !expected.is_empty()
        && expected != git.head_sha
    {
        return Err(ActionError::Conflict(if gitea {
            "head out of date".into()
        } else {
            "Head branch was modified. Review and try the merge again.".into()
        }));
    }
    let actor_permission = if sim.kind == ForgeKind::Github && actor == sim.app.bot_login() {
        Permission::Write
    } else {
        snapshot.permission_of(actor)
    };
    if actor_permission < Permission::Write {
        return Err(ActionError::Forbidden(
            "Resource not accessible by integration".into(),
        ));
    }
    let enforce = snapshot
        .protections
        .get(&pull.base)
        .is_some_and(|p| p.enforce_admins);
    let bypass = actor_permission >= Permission::Admin && !enforce;
    let blockers = snapshot.merge_blockers(&pull, |check| match sim.kind {
        ForgeKind::Github => snapshot.check_run_passed(&git.head_sha, check),
        ForgeKind::Gitea => snapshot.status_passed(&git.head_sha, check),
    });
    if !blockers.is_empty() && !bypass {
        return Err(ActionError::NotMergeable(blockers.join("\n")));
    }
    let message = message.map_or_else(
        || match style {
            MergeStyle::Squash => format!("{} (#{number})", issue.title),
            _ => format!("Merge pull request #{number} from {owner}/{}", pull.head),
        },
        str::to_owned,
    );
    let before = sim.git.branches(owner, name).await?;
    let committer = sim.signature(actor);
    let merged = sim
        .git
        .merge(
            owner,
            name,
            &MergePlan {
                base_branch: &pull.base,
                head: &git.head_sha,
                style,
                message: &message,
                committer: &committer,
            },
        )
        .await
        .map_err(|failure| match failure {
            MergeFailure::Conflict => ActionError::NotMergeable(if gitea {
                "Please rebase: merge conflict".into()
            } else {
                "Merge conflict".into()
            }),
            MergeFailure::Raced => ActionError::Conflict("Base branch was modified.".into()),
            MergeFailure::Git(err) => ActionError::Internal(err),
        })?;
    let now = sim.now();
    {
        let mut state = sim.state();
        if let Some(r) = state.repo_mut(owner, name) {
            if let Some(p) = r.pulls.get_mut(&number) {
                p.merged = true;
                p.merged_at = Some(now);
                p.merge_commit_sha = Some(merged.clone());
                p.merged_by = Some(actor.to_owned());
                p.head_sha = git.head_sha.clone();
            }
            if let Some(i) = r.issues.get_mut(&number) {
                i.open = false;
                i.closed_at = Some(now);
                i.updated_at = now;
            }
        }
    }
    emit(
        sim,
        HookEvent::Pull {
            repo: repo.to_owned(),
            number,
            sender: actor.to_owned(),
            action: "closed",
            moved: None,
        },
    )
    .await;
    let after = sim.git.branches(owner, name).await?;
    after_push(sim, repo, actor, &before, &after).await;
    Ok(merged)
}

/// Asks for a check run to be re-run (GitHub's "Re-run" button).
pub async fn rerequest_check(
    sim: &Sim,
    repo: &str,
    check_run_id: i64,
    actor: &str,
) -> ActionResult<()> {
    let (owner, name) = split(repo);
    let known = sim
        .repo(owner, name)
        .ok_or_else(|| no_repo(repo))?
        .check_runs
        .iter()
        .any(|c| c.id == check_run_id);
    if !known {
        return Err(ActionError::NotFound(format!(
            "check run {check_run_id} not found"
        )));
    }
    emit(
        sim,
        HookEvent::CheckRerequested {
            repo: repo.to_owned(),
            check_run_id,
            sender: actor.to_owned(),
        },
    )
    .await;
    Ok(())
}
