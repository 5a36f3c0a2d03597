//! `/ade help`: the commands this user may run here, from the command table.

use super::Session;
use crate::command::available_commands;
use crate::coordinator::render::{CommandView, ReplyView};

/// The commands the author may run where they commented.
pub fn available(session: &Session<'_>) -> Vec<CommandView> {
    available_commands(session.place, &session.requester, session.overrides)
        .into_iter()
        .map(|spec| CommandView {
            usage: spec.usage(),
            description: spec.summary.to_string(),
        })
        .collect()
}

/// Replies with the commands the author may run here.
pub fn run(session: &mut Session<'_>) {
    let commands = available(session);
    let headline = if commands.is_empty() {
        format!(
            "there are no ade commands you can use on this {}.",
            session.place
        )
    } else {
        format!(
            "these are the ade commands you can use on this {}.",
            session.place
        )
    };
    let view = ReplyView {
        mention: Some(session.requester.login.to_string()),
        headline,
        commands,
        ..ReplyView::default()
    };
    let write = session.reply.render(&view);
    session.writes.push(write);
}
