//! Gitea's JSON shapes (the `definitions` of its swagger file, version 1.26), one function per
//! object, shared by the API answers and the webhook payloads.

use super::super::actions;
use super::super::core::{PullGit, Sim};
use super::super::git::MergeStyle;
use super::super::routes;
use super::super::state::{
    Comment, CommitStatus, Issue, Label, Pull, ReactionRecord, Repo, Review, User,
};
use super::super::time::rfc3339;
use crate::forge::Permission;
use crate::forge::ReviewState;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

/// Gitea's shapes and rules for the routes both dialects share.
pub struct Shape;

impl routes::Dialect for Shape {
    const EDITORS: routes::Editors = routes::Editors {
        needed: Permission::Admin,
        refusal: "user should be the poster",
    };
    /// Gitea's default allowed reactions (`ui.REACTIONS`).
    const REACTIONS: &'static [&'static str] = &[
        "+1", "-1", "laugh", "hooray", "confused", "heart", "rocket", "eyes",
    ];
    /// 201, as Gitea's swagger says.
    const PULL_UPDATED: StatusCode = StatusCode::CREATED;
    const PAGE: usize = 50;
    /// 409, as Gitea answers.
    const DUPLICATE_PULL: StatusCode = StatusCode::CONFLICT;

    fn unknown_reaction(content: &str) -> (StatusCode, String) {
        (
            StatusCode::FORBIDDEN,
            format!("'{content}' is not an allowed reaction"),
        )
    }

    fn issue(sim: &Sim, repo: &Repo, issue: &Issue, pull: Option<&Pull>) -> Value {
        self::issue(sim, repo, issue, pull)
    }

    fn comment(sim: &Sim, repo: &Repo, comment: &Comment) -> Value {
        self::comment(sim, repo, comment)
    }

    fn reaction(sim: &Sim, reaction: &ReactionRecord) -> Value {
        self::reaction(sim, reaction)
    }

    fn label(sim: &Sim, repo: &Repo, label: &Label) -> Value {
        self::label(sim, repo, label)
    }

    fn review(sim: &Sim, repo: &Repo, review: &Review) -> Value {
        self::review(sim, repo, review)
    }

    fn opens_draft(title: &str, _asked: bool) -> bool {
        actions::gitea_draft_title(title)
    }

    fn pull(sim: &Sim, repo: &Repo, pull: &Pull, git: &PullGit, viewer: Permission) -> Value {
        pull_request(sim, repo, pull, git, viewer)
    }

    type MergeRequest = MergeRequest;

    /// `Do` names the style (Gitea's own names), the title and message fields the commit's
    /// message, an empty message leaving the title alone.
    fn merge_asked(request: MergeRequest) -> Result<routes::MergeAsked, String> {
        let style = match request.how.as_str() {
            "merge" => MergeStyle::Merge,
            "squash" => MergeStyle::Squash,
            "rebase" | "rebase-merge" | "fast-forward-only" => MergeStyle::Rebase,
            other => return Err(format!("Do `{other}` is not a merge style")),
        };
        let message = match (request.title, request.message) {
            (Some(title), Some(message)) if !message.is_empty() => {
                Some(format!("{title}\n\n{message}"))
            }
            (Some(title), _) => Some(title),
            (None, message) => message,
        };
        Ok(routes::MergeAsked {
            style,
            head: request.head_commit_id,
            message,
        })
    }

    /// 200 with no body.
    fn merged(_sha: &str) -> Response {
        StatusCode::OK.into_response()
    }
}

/// The body of `POST /api/v1/repos/{owner}/{repo}/pulls/{index}/merge`.
#[derive(Deserialize)]
pub struct MergeRequest {
    #[serde(rename = "Do", alias = "do")]
    how: String,
    head_commit_id: Option<String>,
    #[serde(rename = "MergeTitleField", alias = "merge_title_field")]
    title: Option<String>,
    #[serde(rename = "MergeMessageField", alias = "merge_message_field")]
    message: Option<String>,
}

/// Gitea's "zero" time, which it prints for never-set times such as `last_login`.
const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

/// A user, with the `username` copy of `login` that Gitea's marshaller adds.
pub fn user(sim: &Sim, user: &User) -> Value {
    let base = &sim.base_url;
    json!({
        "id": user.id,
        "login": user.login,
        "login_name": "",
        "source_id": 0,
        "full_name": "",
        "email": sim.noreply_email(user.id, &user.login),
        "avatar_url": format!("{base}/avatars/{}", user.id),
        "html_url": format!("{base}/{}", user.login),
        "language": "",
        "is_admin": user.site_admin,
        "last_login": ZERO_TIME,
        "created": rfc3339(user.created_at),
        "restricted": false,
        "active": false,
        "prohibit_login": false,
        "location": "",
        "website": "",
        "description": "",
        "visibility": "public",
        "followers_count": 0,
        "following_count": 0,
        "starred_repos_count": 0,
        "username": user.login,
    })
}

/// A user by login.
pub fn user_named(sim: &Sim, login: &str) -> Value {
    user(sim, &sim.user_or_ghost(login))
}

/// Gitea's `{admin, push, pull}`.
pub fn permissions(permission: Permission) -> Value {
    json!({
        "admin": permission >= Permission::Admin,
        "push": permission >= Permission::Write,
        "pull": permission >= Permission::Read,
    })
}

/// A repository, with `permissions` of the user it is shown to.
pub fn repository(sim: &Sim, repo: &Repo, viewer: Permission) -> Value {
    let base = &sim.base_url;
    let full = repo.full_name();
    let open_issues = repo
        .issues
        .values()
        .filter(|i| i.open && !i.is_pull)
        .count();
    let open_pulls = repo.issues.values().filter(|i| i.open && i.is_pull).count();
    let host = base.split_once("://").map_or(base.as_str(), |(_, h)| h);
    let mut value = json!({
        "id": repo.id,
        "owner": user_named(sim, &repo.owner),
        "name": repo.name,
        "full_name": full,
        "description": repo.description,
        "empty": false,
        "private": repo.private,
        "fork": false,
        "template": false,
        "parent": Value::Null,
        "mirror": false,
        "size": 0,
        "language": "",
        "languages_url": format!("{base}/api/v1/repos/{full}/languages"),
        "html_url": format!("{base}/{full}"),
        "url": format!("{base}/api/v1/repos/{full}"),
        "link": "",
        "ssh_url": format!("git@{host}:{full}.git"),
        "clone_url": format!("{base}/{full}.git"),
        "original_url": "",
        "website": "",
        "stars_count": 0,
        "forks_count": 0,
        "watchers_count": 0,
        "branch_count": 0,
        "open_issues_count": open_issues,
        "open_pr_counter": open_pulls,
        "release_counter": 0,
    });
    let rest = json!({
        "default_branch": repo.default_branch,
        "default_target_branch": repo.default_branch,
        "archived": false,
        "created_at": rfc3339(repo.created_at),
        "updated_at": rfc3339(repo.pushed_at),
        "archived_at": rfc3339(0),
        "permissions": permissions(viewer),
        "has_code": true,
        "has_issues": true,
        "internal_tracker": {
            "enable_time_tracker": false,
            "allow_only_contributors_to_track_time": true,
            "enable_issue_dependencies": true,
        },
        "has_wiki": false,
        "has_pull_requests": true,
        "has_projects": false,
        "projects_mode": "all",
        "has_releases": false,
        "has_packages": false,
        "has_actions": false,
        "ignore_whitespace_conflicts": false,
        "allow_merge_commits": true,
        "allow_rebase": true,
        "allow_rebase_explicit": true,
        "allow_squash_merge": true,
        "allow_fast_forward_only_merge": true,
        "allow_rebase_update": true,
        "allow_manual_merge": false,
        "autodetect_manual_merge": false,
        "default_delete_branch_after_merge": false,
        "default_merge_style": "merge",
        "default_allow_maintainer_edit": false,
        "avatar_url": "",
        "internal": false,
        "mirror_interval": "",
        "object_format_name": "sha1",
        "mirror_updated": ZERO_TIME,
        "repo_transfer": Value::Null,
        "topics": [],
        "licenses": [],
    });
    extend(&mut value, rest);
    value
}

/// Adds `more`'s fields to `value` (both objects); large shapes are built in parts to stay within
/// `json!`'s macro recursion limit.
pub fn extend(value: &mut Value, more: Value) {
    if let (Some(target), Value::Object(fields)) = (value.as_object_mut(), more) {
        target.extend(fields);
    }
}

/// A label.
pub fn label(sim: &Sim, repo: &Repo, label: &Label) -> Value {
    json!({
        "id": label.id,
        "name": label.name,
        "exclusive": false,
        "is_archived": false,
        "color": label.color,
        "description": label.description,
        "url": format!("{}/api/v1/repos/{}/labels/{}", sim.base_url, repo.full_name(), label.id),
    })
}

fn labels_of(sim: &Sim, repo: &Repo, names: &[String]) -> Value {
    repo.labels_named(names)
        .map(|l| label(sim, repo, l))
        .collect()
}

/// An issue, or a pull request's issue (with the short `pull_request` object Gitea adds).
pub fn issue(sim: &Sim, repo: &Repo, issue: &Issue, pull: Option<&Pull>) -> Value {
    let base = &sim.base_url;
    let full = repo.full_name();
    let web = if issue.is_pull { "pulls" } else { "issues" };
    let comments = repo
        .comments
        .iter()
        .filter(|c| c.number == issue.number)
        .count();
    json!({
        "id": issue.id,
        "url": format!("{base}/api/v1/repos/{full}/issues/{}", issue.number),
        "html_url": format!("{base}/{full}/{web}/{}", issue.number),
        "number": issue.number,
        "user": user_named(sim, &issue.author),
        "original_author": "",
        "original_author_id": 0,
        "title": issue.title,
        "body": issue.body,
        "ref": "",
        "assets": [],
        "labels": labels_of(sim, repo, &issue.labels),
        "milestone": Value::Null,
        "assignee": Value::Null,
        "assignees": Value::Null,
        "state": if issue.open { "open" } else { "closed" },
        "is_locked": false,
        "comments": comments,
        "created_at": rfc3339(issue.created_at),
        "updated_at": rfc3339(issue.updated_at),
        "closed_at": issue.closed_at.map(rfc3339),
        "due_date": Value::Null,
        "time_estimate": 0,
        "pull_request": pull.map(|p| json!({
            "merged": p.merged,
            "merged_at": p.merged_at.map(rfc3339),
            "draft": p.draft,
            "html_url": format!("{base}/{full}/pulls/{}", p.number),
        })),
        "repository": {
            "id": repo.id,
            "name": repo.name,
            "owner": repo.owner,
            "full_name": full,
        },
        "pin_order": 0,
        "content_version": 0,
    })
}

/// A comment: `issue_url` on issues, `pull_request_url` on pull requests, both web URLs.
pub fn comment(sim: &Sim, repo: &Repo, comment: &Comment) -> Value {
    let base = &sim.base_url;
    let full = repo.full_name();
    let is_pull = repo.pulls.contains_key(&comment.number);
    let web = if is_pull { "pulls" } else { "issues" };
    let page = format!("{base}/{full}/{web}/{}", comment.number);
    json!({
        "id": comment.id,
        "html_url": format!("{page}#issuecomment-{}", comment.id),
        "pull_request_url": if is_pull { page.clone() } else { String::new() },
        "issue_url": if is_pull { String::new() } else { page },
        "user": user_named(sim, &comment.author),
        "original_author": "",
        "original_author_id": 0,
        "body": comment.body,
        "assets": [],
        "created_at": rfc3339(comment.created_at),
        "updated_at": rfc3339(comment.updated_at),
    })
}

/// A reaction.
pub fn reaction(sim: &Sim, reaction: &ReactionRecord) -> Value {
    json!({
        "user": user_named(sim, &reaction.user),
        "content": reaction.content,
        "created_at": rfc3339(reaction.created_at),
    })
}

fn branch_info(sim: &Sim, repo: &Repo, branch: &str, sha: &str, viewer: Permission) -> Value {
    json!({
        "label": branch,
        "ref": branch,
        "sha": sha,
        "repo_id": repo.id,
        "repo": repository(sim, repo, viewer),
    })
}

/// A pull request, with git facts read just before; `viewer` fills the nested repositories'
/// `permissions`.
pub fn pull_request(
    sim: &Sim,
    repo: &Repo,
    pull: &Pull,
    git: &PullGit,
    viewer: Permission,
) -> Value {
    let base = &sim.base_url;
    let full = repo.full_name();
    let issue = repo.issues.get(&pull.number);
    let html = format!("{base}/{full}/pulls/{}", pull.number);
    let open = issue.is_some_and(|i| i.open);
    let comments = repo
        .comments
        .iter()
        .filter(|c| c.number == pull.number)
        .count();
    json!({
        "id": pull.id,
        "url": html,
        "number": pull.number,
        "user": user_named(sim, issue.map_or("", |i| i.author.as_str())),
        "title": issue.map(|i| i.title.clone()).unwrap_or_default(),
        "body": issue.map(|i| i.body.clone()).unwrap_or_default(),
        "labels": labels_of(sim, repo, issue.map_or(&[][..], |i| &i.labels)),
        "milestone": Value::Null,
        "assignee": Value::Null,
        "assignees": [],
        "requested_reviewers": [],
        "requested_reviewers_teams": [],
        "state": if open { "open" } else { "closed" },
        "draft": pull.draft,
        "is_locked": false,
        "comments": comments,
        "review_comments": 0,
        "additions": git.stats.additions,
        "deletions": git.stats.deletions,
        "changed_files": git.stats.changed_files,
        "html_url": html,
        "diff_url": format!("{html}.diff"),
        "patch_url": format!("{html}.patch"),
        "mergeable": open && !pull.merged,
        "merged": pull.merged,
        "merged_at": pull.merged_at.map(rfc3339),
        "merge_commit_sha": pull.merge_commit_sha,
        "merged_by": pull.merged_by.as_deref().map(|l| user_named(sim, l)),
        "allow_maintainer_edit": false,
        "base": branch_info(sim, repo, &pull.base, &git.base_sha, viewer),
        "head": branch_info(sim, repo, &pull.head, &git.head_sha, viewer),
        "merge_base": git.merge_base,
        "due_date": Value::Null,
        "created_at": rfc3339(issue.map_or(0, |i| i.created_at)),
        "updated_at": rfc3339(issue.map_or(0, |i| i.updated_at)),
        "closed_at": issue.and_then(|i| i.closed_at).map(rfc3339),
        "pin_order": 0,
        "content_version": 0,
    })
}

/// Gitea's review state names.
pub fn review_state(state: ReviewState) -> &'static str {
    match state {
        ReviewState::Approved => "APPROVED",
        ReviewState::ChangesRequested => "REQUEST_CHANGES",
        ReviewState::Commented => "COMMENT",
        ReviewState::Dismissed => "APPROVED",
    }
}

/// A pull request review (`PullReview`).
pub fn review(sim: &Sim, repo: &Repo, review: &Review) -> Value {
    let base = &sim.base_url;
    let full = repo.full_name();
    let html = format!("{base}/{full}/pulls/{}", review.number);
    let head = repo.pulls.get(&review.number).map(|p| p.head_sha.clone());
    json!({
        "id": review.id,
        "user": user_named(sim, &review.author),
        "team": Value::Null,
        "state": review_state(review.state),
        "body": review.body,
        "commit_id": review.commit_id,
        "stale": head.is_some_and(|h| h != review.commit_id),
        "official": repo.permission_of(&review.author) >= Permission::Write,
        "dismissed": review.state == ReviewState::Dismissed,
        "comments_count": repo.review_comments.iter().filter(|c| c.review_id == review.id).count(),
        "submitted_at": rfc3339(review.submitted_at),
        "updated_at": rfc3339(review.submitted_at),
        "html_url": format!("{html}#issuecomment-{}", review.id),
        "pull_request_url": html,
    })
}

/// A commit status; Gitea names its state field `status`.
pub fn status(sim: &Sim, repo: &Repo, status: &CommitStatus) -> Value {
    json!({
        "id": status.id,
        "status": status.state,
        "target_url": status.target_url,
        "description": status.description,
        "url": format!("{}/api/v1/repos/{}/statuses/{}", sim.base_url, repo.full_name(), status.sha),
        "context": status.context,
        "creator": user_named(sim, &status.creator),
        "created_at": rfc3339(status.created_at),
        "updated_at": rfc3339(status.created_at),
    })
}
