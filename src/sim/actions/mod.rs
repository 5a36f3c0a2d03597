//! Things that happen on the forge: a user (or ade, through the API) opens an issue, comments,
//! pushes, opens, reviews or merges a pull request. Each changes the state or the git repository,
//! then sends the webhooks the real forge would send. The test handle, the `/_sim/` control
//! endpoints and the API routes all come through here, so every path sends the same deliveries.

mod checks;
mod drafts;
mod issues;
mod pulls;
mod push;
mod reviews;

pub use checks::{NewCheckRun, NewStatus, post_check_run, post_status};
pub use drafts::{gitea_draft_title, set_draft};
pub use issues::{add_labels, comment, edit_comment, edit_issue, open_issue, react, set_open};
pub use pulls::{PullSpec, merge, open_pull, rerequest_check, update_pull};
pub use push::{after_push, push_files, pushed};
pub use reviews::{LineComment, review, review_with_comments};

use super::core::Sim;
use super::webhooks::Outgoing;
use super::{gitea, github};
use crate::forge::ForgeKind;

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

impl ActionError {
    /// The HTTP status that answers this refusal, on the API routes and on `/_sim/` alike.
    pub fn status(&self) -> axum::http::StatusCode {
        use axum::http::StatusCode;
        match self {
            ActionError::NotFound(_) => StatusCode::NOT_FOUND,
            ActionError::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ActionError::Forbidden(_) => StatusCode::FORBIDDEN,
            ActionError::Conflict(_) => StatusCode::CONFLICT,
            ActionError::NotMergeable(_) => StatusCode::METHOD_NOT_ALLOWED,
            ActionError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
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
    /// An issue was closed, reopened or edited.
    IssueState {
        /// `owner/name`.
        repo: String,
        /// The number.
        number: i64,
        /// Who.
        sender: String,
        /// `closed`, `reopened` or `edited`.
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
    /// Another app's check run was created or completed (GitHub).
    CheckRunChanged {
        /// `owner/name`.
        repo: String,
        /// The check run.
        check_run_id: i64,
        /// The app's bot.
        sender: String,
        /// `created` or `completed`.
        action: &'static str,
    },
    /// A commit status was set.
    StatusSet {
        /// `owner/name`.
        repo: String,
        /// The status.
        status_id: i64,
        /// Who set it.
        sender: String,
    },
}

impl HookEvent {
    /// A pull request event: what every change to a pull request sends.
    fn pull(repo: &str, number: i64, sender: &str, action: &'static str) -> HookEvent {
        HookEvent::Pull {
            repo: repo.to_owned(),
            number,
            sender: sender.to_owned(),
            action,
            moved: None,
        }
    }
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

pub(super) fn split(full_name: &str) -> (&str, &str) {
    full_name.split_once('/').unwrap_or((full_name, ""))
}

pub(super) fn no_repo(full_name: &str) -> ActionError {
    ActionError::NotFound(format!("repository {full_name} not found"))
}

pub(super) fn require_user(sim: &Sim, login: &str) -> ActionResult<()> {
    if sim.state().user(login).is_some() {
        Ok(())
    } else {
        Err(ActionError::NotFound(format!("user {login} not found")))
    }
}
