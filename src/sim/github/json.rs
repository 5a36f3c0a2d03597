//! GitHub's JSON shapes, one function per object, used by the REST answers and the webhook
//! payloads alike. Field sets follow GitHub's OpenAPI description and the octokit webhook
//! examples; URLs point at the simulator, whose API root is its base URL as for GitHub Enterprise.

use super::super::core::{PullGit, Sim};
use super::super::git::MergeStyle;
use super::super::routes;
use super::super::state::{
    CheckRun, Comment, CommitStatus, Installation, Issue, Label, Pull, Repo, Review, User,
};
use super::super::time::rfc3339;
use crate::forge::Permission;
use crate::forge::ReviewState;
use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use serde::Deserialize;
use serde_json::{Value, json};

/// GitHub's shapes and rules for the routes both dialects share.
pub struct Shape;

impl routes::Dialect for Shape {
    const EDITORS: routes::Editors = routes::Editors {
        needed: Permission::Write,
        refusal: "Must have admin rights to Repository.",
    };
    const REACTIONS: &'static [&'static str] = &[
        "+1", "-1", "laugh", "confused", "heart", "hooray", "rocket", "eyes",
    ];
    const PULL_UPDATED: StatusCode = StatusCode::OK;
    const PAGE: usize = 30;
    /// 422, GitHub's validation failure.
    const DUPLICATE_PULL: StatusCode = StatusCode::UNPROCESSABLE_ENTITY;

    fn unknown_reaction(content: &str) -> (StatusCode, String) {
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("content `{content}` is not a reaction"),
        )
    }

    fn issue(sim: &Sim, repo: &Repo, issue: &Issue, pull: Option<&Pull>) -> Value {
        self::issue(sim, repo, issue, pull)
    }

    fn comment(sim: &Sim, repo: &Repo, comment: &Comment) -> Value {
        self::comment(sim, repo, comment)
    }

    fn reaction(sim: &Sim, reaction: &super::super::state::ReactionRecord) -> Value {
        self::reaction(sim, reaction)
    }

    fn label(sim: &Sim, repo: &Repo, label: &Label) -> Value {
        self::label(sim, repo, label)
    }

    fn review(sim: &Sim, repo: &Repo, review: &Review) -> Value {
        self::review(sim, repo, review, false)
    }

    fn opens_draft(_title: &str, asked: bool) -> bool {
        asked
    }

    fn pull(sim: &Sim, repo: &Repo, pull: &Pull, git: &PullGit, _viewer: Permission) -> Value {
        pull_request(sim, repo, pull, git)
    }

    type MergeRequest = MergeRequest;

    /// `merge_method` names the style (`merge` when left out), `commit_title` and
    /// `commit_message` the commit's message.
    fn merge_asked(request: MergeRequest) -> Result<routes::MergeAsked, String> {
        let style = match request.merge_method.as_deref().unwrap_or("merge") {
            "merge" => MergeStyle::Merge,
            "squash" => MergeStyle::Squash,
            "rebase" => MergeStyle::Rebase,
            other => {
                return Err(format!(
                    "merge_method `{other}` is not merge, squash or rebase"
                ));
            }
        };
        let message = match (request.commit_title, request.commit_message) {
            (Some(title), Some(message)) => Some(format!("{title}\n\n{message}")),
            (Some(title), None) => Some(title),
            (None, Some(message)) => Some(message),
            (None, None) => None,
        };
        Ok(routes::MergeAsked {
            style,
            head: request.sha,
            message,
        })
    }

    /// 200 with the merge commit.
    fn merged(sha: &str) -> Response {
        Json(json!({
            "sha": sha,
            "merged": true,
            "message": "Pull Request successfully merged",
        }))
        .into_response()
    }
}

/// The body of `PUT /repos/{owner}/{repo}/pulls/{number}/merge`.
#[derive(Deserialize)]
pub struct MergeRequest {
    sha: Option<String>,
    merge_method: Option<String>,
    commit_title: Option<String>,
    commit_message: Option<String>,
}

/// GitHub's global id of an object (its REST `node_id`, its GraphQL `id`).
pub fn node_id(kind: &str, id: i64) -> String {
    base64::engine::general_purpose::STANDARD.encode(format!("0{}:{kind}{id}", kind.len()))
}

/// A user (`simple-user`): a person, or `type: "Bot"` for an app's bot user.
pub fn user(sim: &Sim, user: &User) -> Value {
    let base = &sim.base_url;
    let login = &user.login;
    let api = format!("{base}/users/{login}");
    json!({
        "login": login,
        "id": user.id,
        "node_id": node_id("User", user.id),
        "avatar_url": format!("{base}/avatars/u/{}", user.id),
        "gravatar_id": "",
        "url": api,
        "html_url": format!("{base}/{login}"),
        "followers_url": format!("{api}/followers"),
        "following_url": format!("{api}/following{{/other_user}}"),
        "gists_url": format!("{api}/gists{{/gist_id}}"),
        "starred_url": format!("{api}/starred{{/owner}}{{/repo}}"),
        "subscriptions_url": format!("{api}/subscriptions"),
        "organizations_url": format!("{api}/orgs"),
        "repos_url": format!("{api}/repos"),
        "events_url": format!("{api}/events{{/privacy}}"),
        "received_events_url": format!("{api}/received_events"),
        "type": if user.bot { "Bot" } else { "User" },
        "user_view_type": "public",
        "site_admin": user.site_admin,
    })
}

/// The signed-in user as `GET /user` shows them to their own token: GitHub's `private-user`.
pub fn private_user(sim: &Sim, login: &str) -> Value {
    let user = sim.user_or_ghost(login);
    let mut value = self::user(sim, &user);
    let owned = sim
        .state()
        .repos
        .values()
        .filter(|repo| repo.owner.eq_ignore_ascii_case(login))
        .count();
    if let Some(fields) = value.as_object_mut() {
        for (key, field) in [
            ("user_view_type", json!("private")),
            ("name", json!(null)),
            ("company", json!(null)),
            ("blog", json!("")),
            ("location", json!(null)),
            ("email", json!(null)),
            ("hireable", json!(null)),
            ("bio", json!(null)),
            ("public_repos", json!(0)),
            ("public_gists", json!(0)),
            ("followers", json!(0)),
            ("following", json!(0)),
            ("created_at", json!(rfc3339(user.created_at))),
            ("updated_at", json!(rfc3339(user.created_at))),
            ("private_gists", json!(0)),
            ("total_private_repos", json!(owned)),
            ("owned_private_repos", json!(owned)),
            ("disk_usage", json!(0)),
            ("collaborators", json!(0)),
            ("two_factor_authentication", json!(false)),
        ] {
            fields.insert(key.to_owned(), field);
        }
    }
    value
}

/// A user by login.
pub fn user_named(sim: &Sim, login: &str) -> Value {
    user(sim, &sim.user_or_ghost(login))
}

/// A repository inside another REST answer (a pull request's `head.repo`, an installation's
/// repositories): GitHub's `repository`, which lacks the counts only `full-repository` and
/// webhooks carry.
pub fn nested_repository(sim: &Sim, repo: &Repo, viewer: Option<Permission>) -> Value {
    let mut value = repository(sim, repo, viewer);
    if let Some(fields) = value.as_object_mut() {
        fields.remove("network_count");
        fields.remove("subscribers_count");
    }
    value
}

/// A repository as `GET /repos/{owner}/{repo}` (`full-repository`) and webhooks show it, with the
/// viewer's permissions when `viewer` is given.
pub fn repository(sim: &Sim, repo: &Repo, viewer: Option<Permission>) -> Value {
    let base = &sim.base_url;
    let full = repo.full_name();
    let api = format!("{base}/repos/{full}");
    let open_issues = repo.issues.values().filter(|i| i.open).count();
    let mut value = json!({
        "id": repo.id,
        "node_id": node_id("Repository", repo.id),
        "name": repo.name,
        "full_name": full,
        "private": repo.private,
        "owner": user_named(sim, &repo.owner),
        "html_url": format!("{base}/{full}"),
        "description": if repo.description.is_empty() { Value::Null } else { json!(repo.description) },
        "fork": false,
        "url": api,
        "forks_url": format!("{api}/forks"),
        "keys_url": format!("{api}/keys{{/key_id}}"),
        "collaborators_url": format!("{api}/collaborators{{/collaborator}}"),
        "teams_url": format!("{api}/teams"),
        "hooks_url": format!("{api}/hooks"),
        "issue_events_url": format!("{api}/issues/events{{/number}}"),
        "events_url": format!("{api}/events"),
        "assignees_url": format!("{api}/assignees{{/user}}"),
        "branches_url": format!("{api}/branches{{/branch}}"),
        "tags_url": format!("{api}/tags"),
        "blobs_url": format!("{api}/git/blobs{{/sha}}"),
        "git_tags_url": format!("{api}/git/tags{{/sha}}"),
        "git_refs_url": format!("{api}/git/refs{{/sha}}"),
        "trees_url": format!("{api}/git/trees{{/sha}}"),
        "statuses_url": format!("{api}/statuses/{{sha}}"),
        "languages_url": format!("{api}/languages"),
        "stargazers_url": format!("{api}/stargazers"),
        "contributors_url": format!("{api}/contributors"),
        "subscribers_url": format!("{api}/subscribers"),
        "subscription_url": format!("{api}/subscription"),
    });
    let urls = json!({
        "commits_url": format!("{api}/commits{{/sha}}"),
        "git_commits_url": format!("{api}/git/commits{{/sha}}"),
        "comments_url": format!("{api}/comments{{/number}}"),
        "issue_comment_url": format!("{api}/issues/comments{{/number}}"),
        "contents_url": format!("{api}/contents/{{+path}}"),
        "compare_url": format!("{api}/compare/{{base}}...{{head}}"),
        "merges_url": format!("{api}/merges"),
        "archive_url": format!("{api}/{{archive_format}}{{/ref}}"),
        "downloads_url": format!("{api}/downloads"),
        "issues_url": format!("{api}/issues{{/number}}"),
        "pulls_url": format!("{api}/pulls{{/number}}"),
        "milestones_url": format!("{api}/milestones{{/number}}"),
        "notifications_url": format!("{api}/notifications{{?since,all,participating}}"),
        "labels_url": format!("{api}/labels{{/name}}"),
        "releases_url": format!("{api}/releases{{/id}}"),
    });
    let rest = json!({
        "deployments_url": format!("{api}/deployments"),
        "created_at": rfc3339(repo.created_at),
        "updated_at": rfc3339(repo.pushed_at),
        "pushed_at": rfc3339(repo.pushed_at),
        "git_url": format!("git://{}/{full}.git", host(base)),
        "ssh_url": format!("git@{}:{full}.git", host(base)),
        "clone_url": format!("{base}/{full}.git"),
        "svn_url": format!("{base}/{full}"),
        "homepage": Value::Null,
        "size": 0,
        "stargazers_count": 0,
        "watchers_count": 0,
        "language": Value::Null,
        "has_issues": true,
        "has_projects": false,
        "has_downloads": true,
        "has_wiki": false,
        "has_pages": false,
        "has_discussions": false,
        "forks_count": 0,
        "mirror_url": Value::Null,
        "archived": false,
        "disabled": false,
        "open_issues_count": open_issues,
        "license": Value::Null,
        "allow_forking": true,
        "is_template": false,
        "web_commit_signoff_required": false,
        "topics": [],
        "visibility": if repo.private { "private" } else { "public" },
        "forks": 0,
        "open_issues": open_issues,
        "watchers": 0,
        "default_branch": repo.default_branch,
        "allow_squash_merge": true,
        "allow_merge_commit": true,
        "allow_rebase_merge": true,
        "allow_auto_merge": false,
        "delete_branch_on_merge": false,
        "network_count": 0,
        "subscribers_count": 0,
    });
    super::super::gitea::json::extend(&mut value, urls);
    super::super::gitea::json::extend(&mut value, rest);
    if let Some(permission) = viewer {
        value["permissions"] = json!({
            "admin": permission >= Permission::Admin,
            "maintain": permission >= Permission::Maintain,
            "push": permission >= Permission::Write,
            "triage": permission >= Permission::Triage,
            "pull": permission >= Permission::Read,
        });
    }
    value
}

fn host(base: &str) -> &str {
    base.split_once("://").map_or(base, |(_, rest)| rest)
}

/// `OWNER`, `COLLABORATOR` or `NONE`: how the author relates to the repository.
pub fn author_association(repo: &Repo, login: &str) -> &'static str {
    if login.eq_ignore_ascii_case(&repo.owner) {
        "OWNER"
    } else if repo
        .collaborators
        .keys()
        .any(|c| c.eq_ignore_ascii_case(login))
    {
        "COLLABORATOR"
    } else {
        "NONE"
    }
}

/// A label.
pub fn label(sim: &Sim, repo: &Repo, label: &Label) -> Value {
    json!({
        "id": label.id,
        "node_id": node_id("Label", label.id),
        "url": format!("{}/repos/{}/labels/{}", sim.base_url, repo.full_name(), label.name),
        "name": label.name,
        "color": label.color,
        "default": false,
        "description": if label.description.is_empty() { Value::Null } else { json!(label.description) },
    })
}

fn labels_of(sim: &Sim, repo: &Repo, names: &[String]) -> Value {
    repo.labels_named(names)
        .map(|l| label(sim, repo, l))
        .collect()
}

fn reactions_rollup(url: String, comment: Option<&Comment>) -> Value {
    let count = |content: &str| {
        comment.map_or(0, |c| {
            c.reactions.iter().filter(|r| r.content == content).count()
        })
    };
    json!({
        "url": url,
        "total_count": comment.map_or(0, |c| c.reactions.len()),
        "+1": count("+1"),
        "-1": count("-1"),
        "laugh": count("laugh"),
        "hooray": count("hooray"),
        "confused": count("confused"),
        "heart": count("heart"),
        "rocket": count("rocket"),
        "eyes": count("eyes"),
    })
}

/// An issue, or a pull request seen as an issue (with its `pull_request` links).
pub fn issue(sim: &Sim, repo: &Repo, issue: &Issue, pull: Option<&Pull>) -> Value {
    let base = &sim.base_url;
    let full = repo.full_name();
    let api = format!("{base}/repos/{full}/issues/{}", issue.number);
    let web = if issue.is_pull { "pull" } else { "issues" };
    let comments = repo
        .comments
        .iter()
        .filter(|c| c.number == issue.number)
        .count();
    let mut value = json!({
        "url": api,
        "repository_url": format!("{base}/repos/{full}"),
        "labels_url": format!("{api}/labels{{/name}}"),
        "comments_url": format!("{api}/comments"),
        "events_url": format!("{api}/events"),
        "html_url": format!("{base}/{full}/{web}/{}", issue.number),
        "id": issue.id,
        "node_id": node_id("Issue", issue.id),
        "number": issue.number,
        "title": issue.title,
        "user": user_named(sim, &issue.author),
        "labels": labels_of(sim, repo, &issue.labels),
        "state": if issue.open { "open" } else { "closed" },
        "locked": false,
        "assignee": Value::Null,
        "assignees": [],
        "milestone": Value::Null,
        "comments": comments,
        "created_at": rfc3339(issue.created_at),
        "updated_at": rfc3339(issue.updated_at),
        "closed_at": issue.closed_at.map(rfc3339),
        "author_association": author_association(repo, &issue.author),
        "active_lock_reason": Value::Null,
        "body": if issue.body.is_empty() { Value::Null } else { json!(issue.body) },
        "reactions": reactions_rollup(format!("{api}/reactions"), None),
        "timeline_url": format!("{api}/timeline"),
        "performed_via_github_app": Value::Null,
        "state_reason": if issue.open { Value::Null } else { json!("completed") },
    });
    value["draft"] = json!(pull.is_some_and(|p| p.draft));
    if let Some(pull) = pull {
        let pulls = format!("{base}/repos/{full}/pulls/{}", issue.number);
        let html = format!("{base}/{full}/pull/{}", issue.number);
        value["pull_request"] = json!({
            "url": pulls,
            "html_url": html,
            "diff_url": format!("{html}.diff"),
            "patch_url": format!("{html}.patch"),
            "merged_at": pull.merged_at.map(rfc3339),
        });
    }
    value
}

/// An issue comment.
pub fn comment(sim: &Sim, repo: &Repo, comment: &Comment) -> Value {
    let base = &sim.base_url;
    let full = repo.full_name();
    let api = format!("{base}/repos/{full}/issues/comments/{}", comment.id);
    let is_pull = repo.pulls.contains_key(&comment.number);
    let web = if is_pull { "pull" } else { "issues" };
    let via_app = if comment.author == sim.app.bot_login() {
        app(sim)
    } else {
        Value::Null
    };
    json!({
        "url": api,
        "html_url": format!("{base}/{full}/{web}/{}#issuecomment-{}", comment.number, comment.id),
        "issue_url": format!("{base}/repos/{full}/issues/{}", comment.number),
        "id": comment.id,
        "node_id": node_id("IssueComment", comment.id),
        "user": user_named(sim, &comment.author),
        "created_at": rfc3339(comment.created_at),
        "updated_at": rfc3339(comment.updated_at),
        "author_association": author_association(repo, &comment.author),
        "body": comment.body,
        "reactions": reactions_rollup(format!("{api}/reactions"), Some(comment)),
        "performed_via_github_app": via_app,
    })
}

/// A reaction.
pub fn reaction(sim: &Sim, reaction: &super::super::state::ReactionRecord) -> Value {
    json!({
        "id": reaction.id,
        "node_id": node_id("Reaction", reaction.id),
        "user": user_named(sim, &reaction.user),
        "content": reaction.content,
        "created_at": rfc3339(reaction.created_at),
    })
}

fn branch_side(sim: &Sim, repo: &Repo, branch: &str, sha: &str) -> Value {
    json!({
        "label": format!("{}:{branch}", repo.owner),
        "ref": branch,
        "sha": sha,
        "user": user_named(sim, &repo.owner),
        "repo": nested_repository(sim, repo, None),
    })
}

/// A pull request (`pull-request`), with the git facts read just before.
/// A pull request as GitHub lists it (`pull-request-simple`): without the counts and merge
/// details that only the single pull request carries.
pub fn pull_request_simple(sim: &Sim, repo: &Repo, pull: &Pull, git: &PullGit) -> Value {
    let mut value = pull_request(sim, repo, pull, git);
    if let Some(object) = value.as_object_mut() {
        for key in [
            "additions",
            "changed_files",
            "comments",
            "commits",
            "deletions",
            "maintainer_can_modify",
            "mergeable",
            "mergeable_state",
            "merged",
            "merged_by",
            "rebaseable",
            "review_comments",
        ] {
            object.remove(key);
        }
    }
    value
}

/// A single pull request as GitHub answers it (`pull-request`).
pub fn pull_request(sim: &Sim, repo: &Repo, pull: &Pull, git: &PullGit) -> Value {
    let base = &sim.base_url;
    let full = repo.full_name();
    let issue = repo.issues.get(&pull.number);
    let api = format!("{base}/repos/{full}/pulls/{}", pull.number);
    let issue_api = format!("{base}/repos/{full}/issues/{}", pull.number);
    let html = format!("{base}/{full}/pull/{}", pull.number);
    let statuses = format!("{base}/repos/{full}/statuses/{}", git.head_sha);
    let open = issue.is_some_and(|i| i.open);
    let author = issue.map(|i| i.author.clone()).unwrap_or_default();
    let comments = repo
        .comments
        .iter()
        .filter(|c| c.number == pull.number)
        .count();
    let mergeable = open && !pull.merged;
    let links = links(&[
        ("self", &api),
        ("html", &html),
        ("issue", &issue_api),
        ("comments", &format!("{issue_api}/comments")),
        ("review_comments", &format!("{api}/comments")),
        (
            "review_comment",
            &format!("{base}/repos/{full}/pulls/comments{{/number}}"),
        ),
        ("commits", &format!("{api}/commits")),
        ("statuses", &statuses),
    ]);
    let mut value = json!({
        "url": api,
        "id": pull.id,
        "node_id": node_id("PullRequest", pull.id),
        "html_url": html,
        "diff_url": format!("{html}.diff"),
        "patch_url": format!("{html}.patch"),
        "issue_url": issue_api,
        "number": pull.number,
        "state": if open { "open" } else { "closed" },
        "locked": false,
        "title": issue.map(|i| i.title.clone()).unwrap_or_default(),
        "user": user_named(sim, &author),
        "body": issue.filter(|i| !i.body.is_empty()).map(|i| i.body.clone()),
        "created_at": rfc3339(issue.map_or(0, |i| i.created_at)),
        "updated_at": rfc3339(issue.map_or(0, |i| i.updated_at)),
        "closed_at": issue.and_then(|i| i.closed_at).map(rfc3339),
        "merged_at": pull.merged_at.map(rfc3339),
        "merge_commit_sha": pull.merge_commit_sha,
        "assignee": Value::Null,
        "assignees": [],
        "requested_reviewers": [],
        "requested_teams": [],
        "labels": labels_of(sim, repo, issue.map_or(&[][..], |i| &i.labels)),
        "milestone": Value::Null,
        "draft": pull.draft,
        "commits_url": format!("{api}/commits"),
        "review_comments_url": format!("{api}/comments"),
        "review_comment_url": format!("{base}/repos/{full}/pulls/comments{{/number}}"),
        "comments_url": format!("{issue_api}/comments"),
        "statuses_url": statuses,
        "head": branch_side(sim, repo, &pull.head, &git.head_sha),
        "base": branch_side(sim, repo, &pull.base, &git.base_sha),
        "_links": links,
    });
    let rest = json!({
        "author_association": author_association(repo, &author),
        "auto_merge": Value::Null,
        "active_lock_reason": Value::Null,
        "merged": pull.merged,
        "mergeable": if mergeable { json!(true) } else { Value::Null },
        "rebaseable": if mergeable { json!(true) } else { Value::Null },
        "mergeable_state": if pull.merged { "unknown" } else if pull.draft { "draft" } else { "clean" },
        "merged_by": pull.merged_by.as_deref().map(|l| user_named(sim, l)),
        "comments": comments,
        "review_comments": repo.review_comments.iter().filter(|c| c.number == pull.number).count(),
        "maintainer_can_modify": false,
        "commits": git.stats.commits,
        "additions": git.stats.additions,
        "deletions": git.stats.deletions,
        "changed_files": git.stats.changed_files,
    });
    super::super::gitea::json::extend(&mut value, rest);
    value
}

/// GitHub's REST spelling of a review state (`APPROVED`); webhooks use the lowercase one.
pub fn review_state(state: ReviewState) -> &'static str {
    match state {
        ReviewState::Approved => "APPROVED",
        ReviewState::ChangesRequested => "CHANGES_REQUESTED",
        ReviewState::Commented => "COMMENTED",
        ReviewState::Dismissed => "DISMISSED",
    }
}

/// A pull request review, with the state spelled in upper case (REST) or lower case (webhooks).
pub fn review(sim: &Sim, repo: &Repo, review: &Review, lowercase_state: bool) -> Value {
    let base = &sim.base_url;
    let full = repo.full_name();
    let html = format!(
        "{base}/{full}/pull/{}#pullrequestreview-{}",
        review.number, review.id
    );
    let pull_api = format!("{base}/repos/{full}/pulls/{}", review.number);
    let state = review_state(review.state);
    json!({
        "id": review.id,
        "node_id": node_id("PullRequestReview", review.id),
        "user": user_named(sim, &review.author),
        "body": review.body,
        "commit_id": review.commit_id,
        "submitted_at": rfc3339(review.submitted_at),
        "state": if lowercase_state { state.to_ascii_lowercase() } else { state.to_owned() },
        "html_url": html,
        "pull_request_url": pull_api,
        "author_association": author_association(repo, &review.author),
        "_links": links(&[("html", &html), ("pull_request", &pull_api)]),
    })
}

/// GitHub's `_links`: each name with the `href` it links to.
pub fn links(named: &[(&str, &str)]) -> Value {
    Value::Object(
        named
            .iter()
            .map(|(name, href)| (name.to_string(), json!({ "href": href })))
            .collect(),
    )
}

/// The GitHub App (`integration`).
pub fn app(sim: &Sim) -> Value {
    let base = &sim.base_url;
    json!({
        "id": sim.app.id,
        "slug": sim.app.slug,
        "node_id": node_id("App", sim.app.id),
        "client_id": format!("Iv1.{:016x}", sim.app.id),
        "owner": user_named(sim, &sim.app.slug),
        "name": sim.app.name,
        "description": "ade, played by the forge simulator",
        "external_url": base,
        "html_url": format!("{base}/apps/{}", sim.app.slug),
        "created_at": rfc3339(0),
        "updated_at": rfc3339(0),
        "permissions": app_permissions(),
        "events": app_events(),
        "installations_count": sim.state().installations.len(),
    })
}

/// Another GitHub App (a CI that posts check runs), named by its slug: an id of its own, no
/// permissions or events shown.
pub fn other_app(sim: &Sim, slug: &str) -> Value {
    let id = OTHER_APP_ID + slug.bytes().map(i64::from).sum::<i64>();
    let mut other = app(sim);
    other["id"] = json!(id);
    other["slug"] = json!(slug);
    other["node_id"] = json!(node_id("App", id));
    other["client_id"] = json!(format!("Iv1.{id:016x}"));
    other["owner"] = user_named(sim, slug);
    other["name"] = json!(slug);
    other["description"] = json!("a CI, played by the forge simulator");
    other["html_url"] = json!(format!("{}/apps/{slug}", sim.base_url));
    other["permissions"] = json!({ "checks": "write", "statuses": "write" });
    other["events"] = json!([]);
    other["installations_count"] = json!(1);
    other
}

/// The body of a `status` delivery (without `repository`, `sender` and `installation`, which
/// every delivery gets): the status's fields at the top, and its commit.
pub fn status_event(sim: &Sim, repo: &Repo, status: &CommitStatus) -> Value {
    let base = &sim.base_url;
    let full = repo.full_name();
    let sha = &status.sha;
    let mut user = user_named(sim, &status.creator);
    if let Some(fields) = user.as_object_mut() {
        fields.remove("user_view_type");
    }
    let creator = sim.user_or_ghost(&status.creator);
    let email = sim.noreply_email(creator.id, &creator.login);
    json!({
        "id": status.id,
        "sha": sha,
        "name": full,
        "target_url": (!status.target_url.is_empty()).then(|| status.target_url.clone()),
        "avatar_url": Value::Null,
        "context": status.context,
        "description": status.description,
        "state": status.state,
        "commit": {
            "sha": sha,
            "node_id": node_id("Commit", status.id),
            "commit": {
                "author": { "name": status.creator, "email": email, "date": rfc3339(status.created_at) },
                "committer": { "name": status.creator, "email": email, "date": rfc3339(status.created_at) },
                "message": "",
                "tree": { "sha": sha, "url": format!("{base}/repos/{full}/git/trees/{sha}") },
                "url": format!("{base}/repos/{full}/git/commits/{sha}"),
                "comment_count": 0,
                "verification": { "verified": false, "reason": "unsigned", "signature": Value::Null, "payload": Value::Null, "verified_at": Value::Null },
            },
            "url": format!("{base}/repos/{full}/commits/{sha}"),
            "html_url": format!("{base}/{full}/commit/{sha}"),
            "comments_url": format!("{base}/repos/{full}/commits/{sha}/comments"),
            "author": user,
            "committer": user,
            "parents": [],
        },
        "branches": [],
        "created_at": rfc3339(status.created_at),
        "updated_at": rfc3339(status.created_at),
    })
}

/// Where the ids of other apps start, far from the simulated app's.
const OTHER_APP_ID: i64 = 900_000;

/// A commit status as GitHub's REST API shows it (`status`, and `simple-commit-status` without
/// `creator`).
pub fn commit_status(sim: &Sim, repo: &Repo, status: &CommitStatus) -> Value {
    let base = &sim.base_url;
    let creator = sim.user_or_ghost(&status.creator);
    json!({
        "url": format!("{base}/repos/{}/statuses/{}", repo.full_name(), status.sha),
        "avatar_url": format!("{base}/avatars/u/{}", creator.id),
        "id": status.id,
        "node_id": node_id("StatusContext", status.id),
        "state": status.state,
        "description": status.description,
        "target_url": (!status.target_url.is_empty()).then(|| status.target_url.clone()),
        "context": status.context,
        "created_at": rfc3339(status.created_at),
        "updated_at": rfc3339(status.created_at),
        "creator": user_named(sim, &status.creator),
    })
}

/// The permissions the simulated app asks for, and each installation grants unless a test says
/// otherwise: what deploy/github-app-manifest.json asks for, and commit statuses.
pub const APP_PERMISSIONS: &[(&str, &str)] = &[
    ("checks", "write"),
    ("contents", "write"),
    ("issues", "write"),
    ("members", "read"),
    ("metadata", "read"),
    ("pull_requests", "write"),
    ("statuses", "write"),
];

/// The events the simulated app subscribes to, and each installation receives unless a test
/// says otherwise: those docs/forges.md tells an operator to subscribe ade's app to.
pub const APP_EVENTS: &[&str] = crate::forge::github::permissions::EVENTS;

fn app_permissions() -> Value {
    APP_PERMISSIONS
        .iter()
        .map(|(name, level)| ((*name).to_owned(), json!(level)))
        .collect::<serde_json::Map<_, _>>()
        .into()
}

fn app_events() -> Value {
    json!(APP_EVENTS)
}

/// An installation of the app.
pub fn installation(sim: &Sim, installation: &Installation) -> Value {
    let base = &sim.base_url;
    let account = sim.user_or_ghost(&installation.account);
    json!({
        "id": installation.id,
        "client_id": format!("Iv1.{:016x}", sim.app.id),
        "account": user(sim, &account),
        "repository_selection": "selected",
        "access_tokens_url": format!("{base}/app/installations/{}/access_tokens", installation.id),
        "repositories_url": format!("{base}/installation/repositories"),
        "html_url": format!("{base}/settings/installations/{}", installation.id),
        "app_id": sim.app.id,
        "app_slug": sim.app.slug,
        "target_id": account.id,
        "target_type": "User",
        "permissions": installation.permissions,
        "events": installation.events,
        "created_at": rfc3339(installation.created_at),
        "updated_at": rfc3339(installation.created_at),
        "single_file_name": Value::Null,
        "has_multiple_single_files": false,
        "single_file_paths": [],
        "suspended_by": Value::Null,
        "suspended_at": Value::Null,
    })
}

/// A check run as the REST API shows it (`check-run`).
pub fn check_run(sim: &Sim, repo: &Repo, run: &CheckRun) -> Value {
    let base = &sim.base_url;
    let full = repo.full_name();
    let api = format!("{base}/repos/{full}/check-runs/{}", run.id);
    let pulls = check_run_pulls(sim, repo, run);
    json!({
        "id": run.id,
        "head_sha": run.head_sha,
        "node_id": node_id("CheckRun", run.id),
        "external_id": run.external_id.clone().unwrap_or_default(),
        "url": api,
        "html_url": format!("{base}/{full}/runs/{}", run.id),
        // Without one of its own, a check run links the app's page, as GitHub does.
        "details_url": run.details_url.clone().unwrap_or_else(|| base.clone()),
        "status": run.status,
        "conclusion": run.conclusion,
        "started_at": rfc3339(run.started_at),
        "completed_at": run.completed_at.map(rfc3339),
        "output": {
            "title": run.title,
            "summary": run.summary,
            "text": run.text,
            "annotations_count": run.annotations.len(),
            "annotations_url": format!("{api}/annotations"),
        },
        "name": run.name,
        // The REST `check-run` names only its suite's id.
        "check_suite": { "id": run.id + 500_000 },
        "app": match &run.app {
            Some(slug) => other_app(sim, slug),
            None => app(sim),
        },
        "pull_requests": pulls,
    })
}

/// The pull requests whose head a check run is on, as `check_run.pull_requests` shows them.
fn check_run_pulls(sim: &Sim, repo: &Repo, run: &CheckRun) -> Vec<Value> {
    let base = &sim.base_url;
    let full = repo.full_name();
    repo.pulls
        .values()
        .filter(|p| p.head_sha == run.head_sha)
        .map(|p| {
            json!({
                "url": format!("{base}/repos/{full}/pulls/{}", p.number),
                "id": p.id,
                "number": p.number,
                "head": { "ref": p.head, "sha": p.head_sha, "repo": { "id": repo.id, "url": format!("{base}/repos/{full}"), "name": repo.name } },
                "base": { "ref": p.base, "sha": p.base_sha, "repo": { "id": repo.id, "url": format!("{base}/repos/{full}"), "name": repo.name } },
            })
        })
        .collect()
}

/// A check run as webhooks show it: the REST shape with its whole suite.
pub fn check_run_event(sim: &Sim, repo: &Repo, run: &CheckRun) -> Value {
    let base = &sim.base_url;
    let full = repo.full_name();
    let suite = run.id + 500_000;
    let mut value = check_run(sim, repo, run);
    value["check_suite"] = json!({
        "id": suite,
        "node_id": node_id("CheckSuite", suite),
        "head_branch": repo.pulls.values().find(|p| p.head_sha == run.head_sha).map(|p| p.head.clone()),
        "head_sha": run.head_sha,
        "status": run.status,
        "conclusion": run.conclusion,
        "url": format!("{base}/repos/{full}/check-suites/{suite}"),
        "before": Value::Null,
        "after": run.head_sha,
        "pull_requests": check_run_pulls(sim, repo, run),
        "app": app(sim),
        "created_at": rfc3339(run.started_at),
        "updated_at": rfc3339(run.completed_at.unwrap_or(run.started_at)),
    });
    value
}
