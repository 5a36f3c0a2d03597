//! GitHub's webhook dialect: `X-GitHub-Event` names the event and the body's `action` says what
//! happened. Field optionality follows GitHub's published webhook schemas: a user may be `null`
//! (a deleted account), bodies may be `null`, `installation` is present only for GitHub App hooks.

use super::payload::{Payload, ignored, is_bot_login, non_empty, null_as_default};
use super::wire::{
    CommentPayload, IssuePayload, RepositoryName, WireBranch, WirePush, WireRepository, WireUser,
    action, comment_kind, issue_kind, pull_request_kind,
};
use super::{
    Actor, CheckChange, CheckRun, Event, EventError, EventHeaders, EventKind, Installation,
    InstallationAction, InstallationRepositories, Normalized, PullRequest, Review,
};
use crate::forge::{ForgeKind, ReviewState};
use serde::Deserialize;

#[cfg(test)]
mod tests;

/// Reads a GitHub delivery: the event header picks the payload shape, the `action` what happened.
pub(super) fn normalize(
    headers: &EventHeaders<'_>,
    payload: &[u8],
) -> Result<Normalized, EventError> {
    let event = headers.event;
    let payload = Payload::parse(event, payload)?;
    match event {
        "issue_comment" => issue_comment(&payload),
        "issues" => issues(&payload),
        "pull_request" => pull_request(&payload),
        "pull_request_review" => pull_request_review(&payload),
        "check_run" => check_run(&payload),
        "check_suite" => check_suite(&payload),
        "status" => status(&payload),
        "push" => push(&payload),
        "installation" => installation(&payload),
        "installation_repositories" => installation_repositories(&payload),
        _ => Ok(ignored(
            event,
            payload.str_field("action"),
            "not an event ade acts on",
        )),
    }
}

/// Adds what every GitHub event carries: repository, sender and App installation.
fn event(payload: &Payload<'_>, kind: EventKind) -> Result<Normalized, EventError> {
    let context: Context = payload.read()?;
    let needs_repository = !matches!(
        kind,
        EventKind::Installation(_) | EventKind::InstallationRepositories(_)
    );
    if needs_repository && context.repository.is_none() {
        return Err(payload.error("repository", "missing"));
    }
    Ok(Normalized::Event(Event {
        forge: ForgeKind::Github,
        repository: context.repository.map(GhRepository::into_repository),
        sender: context.sender.map(GhUser::into_actor),
        installation_id: context.installation.map(|i| i.id),
        kind,
    }))
}

fn issue_comment(payload: &Payload<'_>) -> Result<Normalized, EventError> {
    let action = action(payload)?;
    let wrap = match comment_kind(&action) {
        Ok(wrap) => wrap,
        Err(why) => return Ok(ignored("issue_comment", Some(&action), why)),
    };
    let body: CommentPayload<GhUser, String> = payload.read()?;
    event(payload, wrap(body.into_comment(false)))
}

fn issues(payload: &Payload<'_>) -> Result<Normalized, EventError> {
    let action = action(payload)?;
    let wrap = match issue_kind(&action) {
        Ok(wrap) => wrap,
        Err(why) => return Ok(ignored("issues", Some(&action), why)),
    };
    let issue = payload.read::<IssuePayload<GhUser>>()?.issue;
    event(payload, wrap(issue.into_issue()))
}

fn pull_request(payload: &Payload<'_>) -> Result<Normalized, EventError> {
    let action = action(payload)?;
    let wrap = match pull_request_kind(&action, "synchronize") {
        Ok(wrap) => wrap,
        Err(why) => return Ok(ignored("pull_request", Some(&action), &why)),
    };
    let pr = payload.read::<PullRequestPayload>()?.pull_request;
    event(
        payload,
        wrap(PullRequest {
            number: pr.number,
            title: pr.title,
            body: pr.body.unwrap_or_default(),
            author: GhUser::actor(pr.user),
            head: pr.head.into_branch_ref(),
            base: pr.base.into_branch_ref(),
            draft: pr.draft.unwrap_or(false),
            merged: pr.merged.unwrap_or(false),
            merge_commit_sha: non_empty(pr.merge_commit_sha),
        }),
    )
}

fn pull_request_review(payload: &Payload<'_>) -> Result<Normalized, EventError> {
    let action = action(payload)?;
    let dismissed = match action.as_str() {
        "submitted" => false,
        "dismissed" => true,
        _ => {
            let why = "ade acts on submitted and dismissed reviews only";
            return Ok(ignored("pull_request_review", Some(&action), why));
        }
    };
    let body: ReviewPayload = payload.read()?;
    let state = if dismissed {
        ReviewState::Dismissed
    } else {
        // Webhooks send lowercase states; the REST API's uppercase spelling is accepted as well.
        match body.review.state.to_ascii_lowercase().as_str() {
            "approved" => ReviewState::Approved,
            "changes_requested" => ReviewState::ChangesRequested,
            "commented" => ReviewState::Commented,
            "dismissed" => ReviewState::Dismissed,
            other => {
                let why = format!("review state `{other}` is not one ade knows");
                return Ok(ignored("pull_request_review", Some(&action), &why));
            }
        }
    };
    let review = Review {
        id: Some(body.review.id),
        state,
        body: body.review.body.unwrap_or_default(),
        author: GhUser::actor(body.review.user),
        pull_request_number: body.pull_request.number,
        commit_sha: non_empty(body.review.commit_id),
    };
    event(
        payload,
        if dismissed {
            EventKind::ReviewDismissed(review)
        } else {
            EventKind::ReviewSubmitted(review)
        },
    )
}

fn check_run(payload: &Payload<'_>) -> Result<Normalized, EventError> {
    let action = action(payload)?;
    let run = payload.read::<CheckRunPayload>()?.check_run;
    if action != "rerequested" {
        let change = CheckChange {
            head_sha: run.head_sha,
            name: Some(run.name),
        };
        return event(payload, EventKind::CheckChanged(change));
    }
    event(
        payload,
        EventKind::CheckRunRerequested(CheckRun {
            id: run.id,
            name: run.name,
            head_sha: run.head_sha,
            external_id: non_empty(run.external_id),
            app_slug: run.app.and_then(|app| app.slug),
        }),
    )
}

/// A check suite was requested, re-requested or completed: waits on its commit look again.
fn check_suite(payload: &Payload<'_>) -> Result<Normalized, EventError> {
    let suite = payload.read::<CheckSuitePayload>()?.check_suite;
    let change = CheckChange {
        head_sha: suite.head_sha,
        name: None,
    };
    event(payload, EventKind::CheckChanged(change))
}

/// A commit status was set (`status` has no `action`).
fn status(payload: &Payload<'_>) -> Result<Normalized, EventError> {
    let status: StatusPayload = payload.read()?;
    let change = CheckChange {
        head_sha: status.sha,
        name: Some(status.context),
    };
    event(payload, EventKind::CheckChanged(change))
}

fn push(payload: &Payload<'_>) -> Result<Normalized, EventError> {
    let push: WirePush<bool> = payload.read()?;
    let told: PushFlags = payload.read()?;
    match push.into_push(told.forced, told.deleted) {
        Ok(push) => event(payload, EventKind::PushToDefaultBranch(push)),
        Err(why) => Ok(ignored("push", None, &why)),
    }
}

fn installation(payload: &Payload<'_>) -> Result<Normalized, EventError> {
    let action = action(payload)?;
    let action_kind = match action.as_str() {
        "created" => InstallationAction::Created,
        "deleted" => InstallationAction::Deleted,
        "suspend" => InstallationAction::Suspend,
        "unsuspend" => InstallationAction::Unsuspend,
        "new_permissions_accepted" => InstallationAction::NewPermissionsAccepted,
        _ => {
            let why = "not an installation change ade tracks";
            return Ok(ignored("installation", Some(&action), why));
        }
    };
    let body: InstallationPayload = payload.read()?;
    event(
        payload,
        EventKind::Installation(Installation {
            action: action_kind,
            id: body.installation.id,
            account: body.installation.account_name(),
            repositories: body.repositories.into_iter().map(|r| r.full_name).collect(),
        }),
    )
}

fn installation_repositories(payload: &Payload<'_>) -> Result<Normalized, EventError> {
    let action = action(payload)?;
    if action != "added" && action != "removed" {
        let why = "ade acts on added and removed repositories only";
        return Ok(ignored("installation_repositories", Some(&action), why));
    }
    let body: InstallationRepositoriesPayload = payload.read()?;
    event(
        payload,
        EventKind::InstallationRepositories(InstallationRepositories {
            installation_id: body.installation.id,
            account: body.installation.account_name(),
            added: body
                .repositories_added
                .into_iter()
                .map(|r| r.full_name)
                .collect(),
            removed: body
                .repositories_removed
                .into_iter()
                .map(|r| r.full_name)
                .collect(),
        }),
    )
}

/// The id of GitHub's `ghost` account, which stands in for deleted users.
const GHOST_ID: i64 = 10137;

#[derive(Deserialize)]
struct Context {
    repository: Option<GhRepository>,
    sender: Option<GhUser>,
    installation: Option<InstallationId>,
}

#[derive(Deserialize)]
struct InstallationId {
    id: i64,
}

type GhRepository = WireRepository<bool>;

#[derive(Deserialize)]
struct GhUser {
    id: i64,
    login: String,
    #[serde(rename = "type")]
    account_type: Option<String>,
}

/// GitHub sends `null` for a deleted account where its REST API shows the `ghost` user; ade uses
/// that same account so every comment, issue and review keeps an author.
impl WireUser for GhUser {
    fn actor(user: Option<GhUser>) -> Actor {
        user.map_or_else(
            || Actor {
                id: GHOST_ID,
                login: "ghost".to_owned(),
                bot: false,
            },
            GhUser::into_actor,
        )
    }
}

impl GhUser {
    fn into_actor(self) -> Actor {
        Actor {
            bot: self.account_type.as_deref() == Some("Bot") || is_bot_login(&self.login),
            id: self.id,
            login: self.login,
        }
    }
}

#[derive(Deserialize)]
struct GhPullRequest {
    number: i64,
    title: String,
    body: Option<String>,
    user: Option<GhUser>,
    head: WireBranch,
    base: WireBranch,
    draft: Option<bool>,
    merged: Option<bool>,
    merge_commit_sha: Option<String>,
}

#[derive(Deserialize)]
struct PullRequestPayload {
    pull_request: GhPullRequest,
}

#[derive(Deserialize)]
struct GhReview {
    id: i64,
    state: String,
    body: Option<String>,
    user: Option<GhUser>,
    commit_id: Option<String>,
}

#[derive(Deserialize)]
struct PullRequestNumber {
    number: i64,
}

#[derive(Deserialize)]
struct ReviewPayload {
    review: GhReview,
    pull_request: PullRequestNumber,
}

#[derive(Deserialize)]
struct GhApp {
    slug: Option<String>,
}

#[derive(Deserialize)]
struct GhCheckRun {
    id: i64,
    name: String,
    head_sha: String,
    external_id: Option<String>,
    app: Option<GhApp>,
}

#[derive(Deserialize)]
struct CheckRunPayload {
    check_run: GhCheckRun,
}

#[derive(Deserialize)]
struct CheckSuitePayload {
    check_suite: GhCheckSuite,
}

/// The commit of a check suite.
#[derive(Deserialize)]
struct GhCheckSuite {
    head_sha: String,
}

/// What a `status` delivery names: the commit and the status's context.
#[derive(Deserialize)]
struct StatusPayload {
    sha: String,
    context: String,
}

/// What GitHub tells of a push besides what both dialects send.
#[derive(Deserialize)]
struct PushFlags {
    #[serde(default)]
    forced: bool,
    #[serde(default)]
    deleted: bool,
}

/// A user account, an organization, or (for enterprise installs) an enterprise with a slug.
#[derive(Deserialize)]
struct Account {
    login: Option<String>,
    slug: Option<String>,
    name: Option<String>,
}

#[derive(Deserialize)]
struct GhInstallation {
    id: i64,
    account: Option<Account>,
}

impl GhInstallation {
    /// The account's login, or an enterprise's slug; empty when GitHub sends no account.
    fn account_name(&self) -> String {
        self.account
            .as_ref()
            .and_then(|a| {
                a.login
                    .clone()
                    .or_else(|| a.slug.clone())
                    .or_else(|| a.name.clone())
            })
            .unwrap_or_default()
    }
}

#[derive(Deserialize)]
struct InstallationPayload {
    installation: GhInstallation,
    #[serde(default, deserialize_with = "null_as_default")]
    repositories: Vec<RepositoryName>,
}

#[derive(Deserialize)]
struct InstallationRepositoriesPayload {
    installation: GhInstallation,
    #[serde(default, deserialize_with = "null_as_default")]
    repositories_added: Vec<RepositoryName>,
    #[serde(default, deserialize_with = "null_as_default")]
    repositories_removed: Vec<RepositoryName>,
}
