//! One file per command. Each handler gets the [`Session`] of the comment it came in (who, where,
//! the policy in force) and the transaction everything is recorded in, and says what to write to
//! the forge by pushing [`ForgeWrite`]s; nothing here calls the forge directly.

pub mod allow_unscanned;
pub mod approve;
pub mod cancel;
pub mod help;
pub mod plan;
pub mod retry;
pub mod run;
pub mod status;
pub mod verify;

use super::render::{ReplyView, TableView};
pub use super::reply::Reply;
use crate::command::{Command, Place, Requester, RoleOverrides};
use crate::coordinator::shared::Shared;
use crate::coordinator::writes::ForgeWrite;
use crate::events::{Comment, Event};
use crate::forge::{BranchHead, ForgeKind, ForgePullRequest, RepoRef};
use crate::jobs::JobError;
use crate::policy::EffectivePolicy;
use crate::store::Conn;

/// Everything a command handler knows about the comment it answers.
pub struct Session<'a> {
    /// The forge.
    pub forge: ForgeKind,
    /// The repository.
    pub repo: &'a RepoRef,
    /// The event the comment came in.
    pub event: &'a Event,
    /// The comment, as delivered (its issue's title and body as they were then).
    pub comment: &'a Comment,
    /// An issue or a pull request.
    pub place: Place,
    /// The author and their forge permission.
    pub requester: Requester<'a>,
    /// The roles the policy sets.
    pub overrides: &'a RoleOverrides,
    /// The policy in force.
    pub policy: &'a EffectivePolicy,
    /// The default branch and the commit the policy was read at.
    pub head: &'a BranchHead,
    /// The pull request the comment is on, as the forge has it now, for commands that act on
    /// its head (`/ade verify`, `/ade retry`).
    pub pull: Option<&'a ForgePullRequest>,
    /// The coordinator's shared parts (log links).
    pub shared: &'a Shared,
    /// The login ade posts as.
    pub bot: &'a str,
    /// The job's clock.
    pub now: i64,
    /// How to reply to this comment.
    pub reply: Reply,
    /// What to write to the forge once the transaction commits.
    pub writes: Vec<ForgeWrite>,
    /// Whether a line of the comment was over a rate limit: the comment then gets no reply for
    /// the lines past the third.
    pub limited: bool,
}

impl Session<'_> {
    /// `owner/name`.
    pub fn repository(&self) -> String {
        self.repo.full_name()
    }

    /// The issue or pull request number the comment is on.
    pub fn number(&self) -> i64 {
        self.comment.issue.number
    }

    /// Replies to the author: `headline` and `details` are Markdown with user values escaped.
    pub fn say(&mut self, headline: String, details: Vec<String>, table: Option<TableView>) {
        let view = ReplyView {
            mention: Some(self.requester.login.to_string()),
            headline,
            details,
            table,
            commands: Vec::new(),
        };
        let write = self.reply.render(&view);
        self.writes.push(write);
    }

    /// Replies with `headline` alone: most refusals and mistakes need nothing more.
    pub fn say_headline(&mut self, headline: String) {
        self.say(headline, Vec::new(), None);
    }
}

/// Runs an accepted command.
pub async fn execute(
    session: &mut Session<'_>,
    tx: &mut Conn,
    command: Command,
) -> Result<(), JobError> {
    match command {
        Command::Plan {
            agent,
            instructions,
        } => plan::run(session, tx, agent, instructions).await,
        Command::Approve { version } => approve::run(session, tx, version).await,
        Command::Status => status::run(session, tx).await,
        Command::Help => {
            help::run(session);
            Ok(())
        }
        Command::Run { target } => run::run(session, tx, target).await,
        Command::AllowUnscanned { task } => allow_unscanned::run(session, tx, task).await,
        Command::Cancel { task } => cancel::run(session, tx, task).await,
        Command::Retry { agent } => retry::run(session, tx, agent).await,
        Command::Verify => verify::run(session, tx).await,
    }
}
