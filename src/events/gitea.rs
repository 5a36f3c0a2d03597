//! The Gitea dialect, spoken by Gitea and Forgejo. Two headers name a delivery: the coarse
//! `X-Gitea-Event` and, in newer versions, the finer `X-Gitea-Event-Type`. The same word means
//! different things in the two: `pull_request_comment` as the event type is a plain comment on a pull
//! request (sent with the event `issue_comment`), but as the event it is a review that only
//! comments. Older Gitea sent such reviews as `issue_comment` with a pull request body. So comments
//! and reviews are told apart by the body (`comment` versus `review`), and the names break ties.

use super::payload::{Payload, ignored, is_bot_login, non_empty, null_as_default};
use super::wire::{
    CommentPayload, IssuePayload, PrivateWhenUnknown, Text, WireBranch, WirePush, WireRepository,
    WireUser, action, comment_kind, issue_kind, pull_request_kind,
};
use super::{
    Actor, CheckChange, Event, EventError, EventHeaders, EventKind, Normalized, PullRequest, Review,
};
use crate::forge::{ForgeKind, ReviewState};
use serde::Deserialize;

#[cfg(test)]
mod tests;

/// Reads a Gitea or Forgejo delivery; see the module documentation for how its names are read.
pub(super) fn normalize(
    headers: &EventHeaders<'_>,
    payload: &[u8],
) -> Result<Normalized, EventError> {
    let payload = Payload::parse(headers.event, payload)?;
    let names = HeaderNames::new(headers);
    let Some(family) = Family::of(headers, &payload) else {
        let why = "not an event ade acts on";
        return Ok(ignored(&names.label, payload.str_field("action"), why));
    };
    match family {
        Family::Issues => issues(&payload, &names),
        Family::Comment => comment(&payload, &names),
        Family::PullRequest => pull_request(&payload, &names),
        Family::Review => review(&payload, &names),
        Family::Push => push(&payload, &names),
        Family::Status => status(&payload),
    }
}

/// The header names as ignore reasons and review verdicts need them.
struct HeaderNames<'h> {
    /// `event` or `event/event_type`, for ignore reasons.
    label: String,
    /// The finer name first, then the coarse one.
    fine_then_coarse: [Option<&'h str>; 2],
}

impl<'h> HeaderNames<'h> {
    fn new(headers: &EventHeaders<'h>) -> Self {
        let label = match headers.event_type {
            Some(event_type) if event_type != headers.event => {
                format!("{}/{event_type}", headers.event)
            }
            _ => headers.event.to_owned(),
        };
        HeaderNames {
            label,
            fine_then_coarse: [headers.event_type, Some(headers.event)],
        }
    }
}

/// Which payload shape a delivery has, as far as the header names tell.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Family {
    Issues,
    Comment,
    PullRequest,
    Review,
    Push,
    Status,
}

impl Family {
    /// The finer name decides when it is known, then the coarse one; between a comment and a
    /// review the body decides, since the names are ambiguous across versions.
    fn of(headers: &EventHeaders<'_>, payload: &Payload<'_>) -> Option<Family> {
        let named = headers
            .event_type
            .and_then(|name| Family::named(name, true))
            .or_else(|| Family::named(headers.event, false))?;
        if !matches!(named, Family::Comment | Family::Review) {
            return Some(named);
        }
        Some(match (payload.has("comment"), payload.has("review")) {
            (true, false) => Family::Comment,
            (false, true) => Family::Review,
            _ => named,
        })
    }

    /// Reads both the coarse event names and the fine event types (Gitea's `HookEventType`); the
    /// fine ones also reach here as events from senders that put them in `X-Gitea-Event`.
    fn named(name: &str, is_event_type: bool) -> Option<Family> {
        Some(match name {
            "issues" | "issue_assign" | "issue_label" | "issue_milestone" => Family::Issues,
            "issue_comment" => Family::Comment,
            "pull_request_comment" if is_event_type => Family::Comment,
            "pull_request"
            | "pull_request_assign"
            | "pull_request_label"
            | "pull_request_milestone"
            | "pull_request_sync"
            | "pull_request_review_request" => Family::PullRequest,
            "pull_request_comment"
            | "pull_request_approved"
            | "pull_request_rejected"
            | "pull_request_review_approved"
            | "pull_request_review_rejected"
            | "pull_request_review_comment"
            | "pull_request_review" => Family::Review,
            "push" => Family::Push,
            "status" => Family::Status,
            _ => return None,
        })
    }
}

fn comment(payload: &Payload<'_>, names: &HeaderNames<'_>) -> Result<Normalized, EventError> {
    let action = action(payload)?;
    let wrap = match comment_kind(&action) {
        Ok(wrap) => wrap,
        Err(why) => return Ok(ignored(&names.label, Some(&action), why)),
    };
    let body: CommentPayload<GtUser, Text> = payload.read()?;
    let on_pull: OnPull = payload.read()?;
    event(payload, wrap(body.into_comment(on_pull.is_pull)))
}

fn issues(payload: &Payload<'_>, names: &HeaderNames<'_>) -> Result<Normalized, EventError> {
    let action = action(payload)?;
    let wrap = match issue_kind(&action) {
        Ok(wrap) => wrap,
        Err(why) => return Ok(ignored(&names.label, Some(&action), why)),
    };
    let issue = payload.read::<IssuePayload<GtUser>>()?.issue;
    event(payload, wrap(issue.into_issue()))
}

fn pull_request(payload: &Payload<'_>, names: &HeaderNames<'_>) -> Result<Normalized, EventError> {
    let action = action(payload)?;
    let wrap = match pull_request_kind(&action, "synchronized") {
        Ok(wrap) => wrap,
        Err(why) => return Ok(ignored(&names.label, Some(&action), &why)),
    };
    let body: PullRequestPayload = payload.read()?;
    let number = pull_request_number(payload, body.pull_request.number, body.number)?;
    let pr = body.pull_request;
    let pull_request = PullRequest {
        number,
        title: pr.title,
        body: pr.body,
        author: GtUser::actor(pr.user),
        head: pr.head.into_branch_ref(),
        base: pr.base.into_branch_ref(),
        draft: pr.draft,
        merged: pr.merged,
        merge_commit_sha: non_empty(pr.merge_commit_sha),
    };
    event(payload, wrap(pull_request))
}

/// Gitea gives the number twice, as `pull_request.number` and as the payload's `number`; trimmed
/// captures keep only one of them.
fn pull_request_number(
    payload: &Payload<'_>,
    in_pull_request: Option<i64>,
    top_level: Option<i64>,
) -> Result<i64, EventError> {
    in_pull_request
        .or(top_level)
        .ok_or_else(|| payload.error("pull_request.number", "missing, and so is `number`"))
}

fn review(payload: &Payload<'_>, names: &HeaderNames<'_>) -> Result<Normalized, EventError> {
    let action = action(payload)?;
    if action != "reviewed" {
        let why = "ade acts on submitted reviews (action `reviewed`) only";
        return Ok(ignored(&names.label, Some(&action), why));
    }
    let body: ReviewPayload = payload.read()?;
    let verdict = body.review.verdict.as_deref();
    let Some(state) = verdict
        .into_iter()
        .chain(names.fine_then_coarse.into_iter().flatten())
        .find_map(review_state)
    else {
        let why = format!(
            "review type `{}` is not one ade knows",
            verdict.unwrap_or_default()
        );
        return Ok(ignored(&names.label, Some(&action), &why));
    };
    let number = pull_request_number(payload, body.pull_request.number, body.number)?;
    let review = Review {
        id: None,
        state,
        body: body.review.content,
        author: GtUser::actor(Some(body.sender)),
        pull_request_number: number,
        // Gitea leaves `commit_id` empty for reviews; the head it shows is the one reviewed, unless
        // a push raced the review.
        commit_sha: non_empty(body.commit_id)
            .or(body.pull_request.head.and_then(|h| non_empty(h.sha))),
    };
    event(payload, EventKind::ReviewSubmitted(review))
}

/// The verdict a review type or event name stands for. Gitea puts the event type in `review.type`;
/// older versions said `pull_request_comment` there for a review that only comments.
fn review_state(name: &str) -> Option<ReviewState> {
    match name {
        "pull_request_review_approved" | "pull_request_approved" => Some(ReviewState::Approved),
        "pull_request_review_rejected" | "pull_request_rejected" => {
            Some(ReviewState::ChangesRequested)
        }
        "pull_request_review_comment" | "pull_request_comment" => Some(ReviewState::Commented),
        _ => None,
    }
}

fn push(payload: &Payload<'_>, names: &HeaderNames<'_>) -> Result<Normalized, EventError> {
    let push: WirePush<PrivateWhenUnknown> = payload.read()?;
    // Gitea's push payload says neither whether history was rewritten nor whether the branch was
    // deleted (its `after` is then all zeros).
    match push.into_push(false, false) {
        Ok(push) => event(payload, EventKind::PushToDefaultBranch(push)),
        Err(why) => Ok(ignored(&names.label, None, &why)),
    }
}

/// A commit status was set (Gitea's `status` event, whose body names the commit as `sha` and the
/// status as `context`, as GitHub's does): waits on that commit look again.
fn status(payload: &Payload<'_>) -> Result<Normalized, EventError> {
    let status: StatusPayload = payload.read()?;
    let change = CheckChange {
        head_sha: status.sha,
        name: Some(status.context),
    };
    event(payload, EventKind::CheckChanged(change))
}

#[derive(Deserialize)]
struct StatusPayload {
    sha: String,
    context: String,
}

/// Adds what every Gitea event carries: the repository and the sender.
fn event(payload: &Payload<'_>, kind: EventKind) -> Result<Normalized, EventError> {
    let context: Context = payload.read()?;
    Ok(Normalized::Event(Event {
        forge: ForgeKind::Gitea,
        repository: Some(context.repository.into_repository()),
        sender: context.sender.map(|user| user.into_actor()),
        installation_id: None,
        kind,
    }))
}

#[derive(Deserialize)]
struct Context {
    repository: GtRepository,
    sender: Option<GtUser>,
}

type GtRepository = WireRepository<PrivateWhenUnknown>;

/// Gitea users carry `login` and, from their JSON marshaller, the same name again as `username`;
/// either may be the only one left in older or trimmed payloads.
#[derive(Deserialize)]
#[serde(try_from = "RawUser")]
struct GtUser {
    id: i64,
    login: String,
}

#[derive(Deserialize)]
struct RawUser {
    id: i64,
    login: Option<String>,
    username: Option<String>,
}

impl TryFrom<RawUser> for GtUser {
    type Error = &'static str;

    fn try_from(raw: RawUser) -> Result<Self, Self::Error> {
        let login = non_empty(raw.login)
            .or(non_empty(raw.username))
            .ok_or("a user needs a `login` or a `username`")?;
        Ok(GtUser { id: raw.id, login })
    }
}

/// Gitea shows a deleted account as its `Ghost` user (id -1); a `null` user is read the same way.
impl WireUser for GtUser {
    fn actor(user: Option<GtUser>) -> Actor {
        user.map_or_else(
            || Actor {
                id: -1,
                login: "Ghost".to_owned(),
                bot: false,
            },
            GtUser::into_actor,
        )
    }
}

impl GtUser {
    fn into_actor(self) -> Actor {
        Actor {
            bot: is_bot_login(&self.login),
            id: self.id,
            login: self.login,
        }
    }
}

/// Whether a comment is on a pull request, which Gitea says beside the issue.
#[derive(Deserialize)]
struct OnPull {
    #[serde(default, deserialize_with = "null_as_default")]
    is_pull: bool,
}

#[derive(Deserialize)]
struct GtPullRequest {
    number: Option<i64>,
    title: String,
    #[serde(default, deserialize_with = "null_as_default")]
    body: String,
    user: Option<GtUser>,
    head: WireBranch,
    base: WireBranch,
    /// Absent from older Gitea payloads.
    #[serde(default, deserialize_with = "null_as_default")]
    draft: bool,
    #[serde(default, deserialize_with = "null_as_default")]
    merged: bool,
    merge_commit_sha: Option<String>,
}

#[derive(Deserialize)]
struct PullRequestPayload {
    number: Option<i64>,
    pull_request: GtPullRequest,
}

#[derive(Deserialize)]
struct HeadSha {
    sha: Option<String>,
}

#[derive(Deserialize)]
struct ReviewedPullRequest {
    number: Option<i64>,
    head: Option<HeadSha>,
}

#[derive(Deserialize)]
struct GtReview {
    #[serde(rename = "type")]
    verdict: Option<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    content: String,
}

/// A review arrives as a pull request payload with a `review`; the reviewer is the sender.
#[derive(Deserialize)]
struct ReviewPayload {
    number: Option<i64>,
    pull_request: ReviewedPullRequest,
    review: GtReview,
    commit_id: Option<String>,
    sender: GtUser,
}
