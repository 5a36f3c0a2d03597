//! Pull requests: open, change, merge under branch protection, re-run checks.

use super::{ActionError, ActionResult, HookEvent, emit, no_repo, require_user, split};
use super::{pushed, set_open};
use crate::forge::{ForgeKind, Permission};
use crate::sim::core::Sim;
use crate::sim::git::{MergeFailure, MergePlan, MergeStyle};
use crate::sim::state::{Issue, Pull};

/// A pull request to open.
#[derive(Clone, Copy, Debug)]
pub struct PullSpec<'a> {
    /// Title.
    pub title: &'a str,
    /// Body.
    pub body: &'a str,
    /// The branch with the changes (`owner:branch` accepted).
    pub head: &'a str,
    /// The branch to merge into.
    pub base: &'a str,
    /// Open as a draft.
    pub draft: bool,
}

/// Opens a pull request from `head` into `base`; returns its number.
pub async fn open_pull(
    sim: &Sim,
    repo: &str,
    author: &str,
    spec: PullSpec<'_>,
) -> ActionResult<i64> {
    let PullSpec {
        title,
        body,
        head,
        base,
        draft,
    } = spec;
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
    emit(sim, HookEvent::pull(repo, number, author, "opened")).await;
    Ok(number)
}

/// Changes a pull request's title, body or open state. On Gitea the title decides whether it is
/// a draft.
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
        let gitea_draft = title
            .filter(|_| sim.kind == ForgeKind::Gitea)
            .map(super::gitea_draft_title);
        if let Some(body) = body {
            issue.body = body.to_owned();
        }
        issue.updated_at = now;
        if let (Some(draft), Some(pull)) = (gitea_draft, r.pulls.get_mut(&number)) {
            pull.draft = draft;
        }
    }
    if let Some(open) = open {
        set_open(sim, repo, number, actor, open).await?;
    }
    Ok(())
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
    if pull.merged {
        return Err(ActionError::NotMergeable(if gitea {
            "PR already merged".into()
        } else {
            "Pull Request is not mergeable".into()
        }));
    }
    if !issue.open {
        // Gitea answers a closed pull request's merge with 404.
        return Err(if gitea {
            ActionError::NotFound("The target couldn't be found.".into())
        } else {
            ActionError::NotMergeable("Pull Request is not mergeable".into())
        });
    }
    if pull.draft {
        return Err(ActionError::NotMergeable(if gitea {
            "Work in progress PRs cannot be merged".into()
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
    if let Some(first) = blockers.first().filter(|_| !bypass) {
        // Gitea stops at the first reason; GitHub names them all.
        let words = match sim.kind {
            ForgeKind::Gitea => first.words(sim.kind),
            ForgeKind::Github => blockers
                .iter()
                .map(|b| b.words(sim.kind))
                .collect::<Vec<_>>()
                .join("\n"),
        };
        return Err(ActionError::NotMergeable(words));
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
            // Gitea answers a conflict with 409, GitHub with 405.
            MergeFailure::Conflict if gitea => {
                ActionError::Conflict("merge conflicts with the base branch".into())
            }
            MergeFailure::Conflict => {
                ActionError::NotMergeable("Pull Request is not mergeable".into())
            }
            // Both forges answer 409 when another merge moved the base meanwhile.
            MergeFailure::Raced if gitea => ActionError::Conflict("merge push out of date".into()),
            MergeFailure::Raced => ActionError::Conflict(
                "Base branch was modified. Review and try the merge again.".into(),
            ),
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
    emit(sim, HookEvent::pull(repo, number, actor, "closed")).await;
    pushed(sim, repo, actor, &before).await?;
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
