//! Replies to a comment: each under its own marker, so a retried job finds the reply it already
//! posted instead of posting it twice. Command handlers reply through their session; a planner
//! run replies to its `/ade plan` when it ends.

use super::render::{self, CommandView, ReplyView};
use crate::coordinator::writes::ForgeWrite;
use crate::events::Comment;
use crate::forge::{ForgeKind, RepoRef};
use crate::markdown;
use crate::policy::PolicyDiagnostic;

/// Where replies to one comment go, each under its own marker so a retried job finds the reply
/// it already posted instead of posting it twice.
#[derive(Clone, Debug)]
pub struct Reply {
    repo: RepoRef,
    number: i64,
    comment_id: i64,
    /// Which command of the comment is being answered.
    pub index: usize,
}

impl Reply {
    /// Replies to `comment`.
    pub fn new(_forge: ForgeKind, repo: &RepoRef, comment: &Comment) -> Reply {
        Reply::to(repo, comment.issue.number, comment.id, 0)
    }

    /// Replies to command line `index` of comment `comment_id` on issue or pull request `number`,
    /// from outside the command's job (a planner run that ended).
    pub fn to(repo: &RepoRef, number: i64, comment_id: i64, index: usize) -> Reply {
        Reply {
            repo: repo.clone(),
            number,
            comment_id,
            index,
        }
    }

    fn comment(&self, marker: String, body: String) -> ForgeWrite {
        ForgeWrite::Comment {
            shows: None,
            repo: self.repo.clone(),
            number: self.number,
            marker,
            body,
        }
    }

    /// A reply rendered from `view`.
    pub fn render(&self, view: &ReplyView) -> ForgeWrite {
        let body = render::reply(view).unwrap_or_else(|error| {
            tracing::error!(%error, "a reply did not render");
            "ade could not render its reply; the operator's log has the details.\n".to_string()
        });
        self.comment(format!("reply:{}:{}", self.comment_id, self.index), body)
    }

    /// A one-line reply to `login`, with the commands they may run when that helps.
    pub fn text(
        &self,
        login: Option<&str>,
        headline: &str,
        commands: Vec<CommandView>,
    ) -> ForgeWrite {
        self.render(&ReplyView {
            mention: login.map(str::to_string),
            headline: headline.to_string(),
            commands,
            ..ReplyView::default()
        })
    }

    /// The answer to a comment whose command job failed for good (the forge answered something
    /// ade cannot use, a bug): that it failed, why (`why`, as a log line may carry it), and the
    /// delivery id to give the operator. One per comment.
    pub fn failed(&self, login: &str, why: &str, delivery: &str) -> ForgeWrite {
        let view = ReplyView {
            mention: Some(login.to_string()),
            headline: format!(
                "ade could not carry out the commands of this comment: {}. Nothing of them was \
                 done. If this goes on, give ade's operator the delivery id {}.",
                crate::markdown::code_span(why),
                crate::markdown::code_span(delivery)
            ),
            ..ReplyView::default()
        };
        let body = render::reply(&view).unwrap_or_default();
        self.comment(format!("failed:{}", self.comment_id), body)
    }

    /// The answer to a command edited into an existing comment: edits never act. One such answer
    /// per comment, however often it is edited.
    pub fn to_edit(&self, login: &str) -> ForgeWrite {
        let view = ReplyView {
            mention: Some(login.to_string()),
            headline: "ade does not act on edited comments, so the command you edited in was not \
                       run. To run it, post it in a new comment."
                .to_string(),
            ..ReplyView::default()
        };
        let body = render::reply(&view).unwrap_or_default();
        self.comment(format!("edited:{}", self.comment_id), body)
    }

    /// The answer to any command while the repository's policy file is invalid.
    pub fn invalid_policy(
        &self,
        login: &str,
        branch: &str,
        problems: &[PolicyDiagnostic],
    ) -> ForgeWrite {
        let view = ReplyView {
            mention: Some(login.to_string()),
            headline: format!(
                "The repository's {} on {} is not valid, so ade runs no commands here until it is \
                 fixed:",
                markdown::code_span(super::policies::POLICY_PATH),
                markdown::code_span(branch)
            ),
            details: problems
                .iter()
                .take(20)
                .map(|p| markdown::code_span(&p.to_string()))
                .collect(),
            ..ReplyView::default()
        };
        self.render(&view)
    }
}
