//! Who may run which command where: the command table (as data, from which help is written), the
//! role each command needs by default, and the overrides a repository's policy may set.
//!
//! A role is a forge permission (read < triage < write < maintain < admin). A command is allowed
//! when the author's effective permission reaches the command's required one and the command is
//! used in a place it works in. Bots and ade's own comments are filtered out before this, by the
//! coordinator.

use super::{Command, Verb};
use crate::events::IssueRef;
use crate::forge::Permission;
use std::collections::HashMap;
use std::fmt;

/// Where a comment was posted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Place {
    /// An issue: a goal.
    Issue,
    /// A pull request: an approval, or anyone's pull request.
    PullRequest,
}

impl Place {
    /// The place of a comment's issue or pull request.
    pub fn of(issue: &IssueRef) -> Place {
        if issue.is_pull_request {
            Place::PullRequest
        } else {
            Place::Issue
        }
    }
}

impl fmt::Display for Place {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Place::Issue => "issue",
            Place::PullRequest => "pull request",
        })
    }
}

/// The places a command works in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Places {
    /// Issues only.
    Issue,
    /// Pull requests only.
    PullRequest,
    /// Issues and pull requests.
    IssueOrPullRequest,
    /// Wherever a comment can be posted.
    Anywhere,
}

impl Places {
    /// Whether a command with these places works in `place`.
    pub fn allows(self, place: Place) -> bool {
        match self {
            Places::Issue => place == Place::Issue,
            Places::PullRequest => place == Place::PullRequest,
            Places::IssueOrPullRequest | Places::Anywhere => true,
        }
    }
}

impl fmt::Display for Places {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Places::Issue => "an issue",
            Places::PullRequest => "a pull request",
            Places::IssueOrPullRequest => "an issue or a pull request",
            Places::Anywhere => "anywhere",
        })
    }
}

/// One row of the command table: everything help and authorization need to know about a verb.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CommandSpec {
    /// The verb.
    pub verb: Verb,
    /// The argument syntax after the verb, empty when it takes none.
    pub args: &'static str,
    /// Where it works.
    pub places: Places,
    /// The forge permission it needs unless policy says otherwise.
    pub default_permission: Permission,
    /// What it does, in one line for help.
    pub summary: &'static str,
}

impl CommandSpec {
    /// The command as help shows it: `/ade approve [version | hash]`.
    pub fn usage(&self) -> String {
        match self.args {
            "" => format!("/ade {}", self.verb),
            args => format!("/ade {} {args}", self.verb),
        }
    }
}

/// The command table, in the order help lists it; docs/commands.md documents it and a test holds
/// the two together.
pub const COMMANDS: [CommandSpec; 9] = [
    CommandSpec {
        verb: Verb::Plan,
        args: "[agent] [-- extra instructions]",
        places: Places::Issue,
        default_permission: Permission::Write,
        summary: "plan this goal: a new spec version from the planner agent (the policy's, or the one named) or the issue's task list, validated and posted as a comment",
    },
    CommandSpec {
        verb: Verb::Approve,
        args: "[version | hash]",
        places: Places::Issue,
        default_permission: Permission::Maintain,
        summary: "activate the newest plan version you could see when you commented (or the one you name); its tasks start",
    },
    CommandSpec {
        verb: Verb::Run,
        args: "<task-id> | all",
        places: Places::Issue,
        default_permission: Permission::Write,
        summary: "(re)start a task of the active spec, or all of them",
    },
    CommandSpec {
        verb: Verb::AllowUnscanned,
        args: "<task-id>",
        places: Places::Issue,
        default_permission: Permission::Maintain,
        summary: "let a task push files ade cannot scan for secrets (binary, or past the scan caps); a task they blocked starts again",
    },
    CommandSpec {
        verb: Verb::Retry,
        args: "[--agent NAME]",
        places: Places::PullRequest,
        default_permission: Permission::Write,
        summary: "rerun the agent (or another allowed one) on this approval, with its reviews and last verification failure as feedback",
    },
    CommandSpec {
        verb: Verb::Verify,
        args: "",
        places: Places::PullRequest,
        default_permission: Permission::Write,
        summary: "rerun verification on this pull request's head",
    },
    CommandSpec {
        verb: Verb::Cancel,
        args: "[task-id]",
        places: Places::IssueOrPullRequest,
        default_permission: Permission::Write,
        summary: "stop runs and close their approvals as cancelled; the spec stays inspectable",
    },
    CommandSpec {
        verb: Verb::Status,
        args: "",
        places: Places::IssueOrPullRequest,
        default_permission: Permission::Read,
        summary: "reply with the current state",
    },
    CommandSpec {
        verb: Verb::Help,
        args: "",
        places: Places::Anywhere,
        default_permission: Permission::Read,
        summary: "reply with the commands you may run here",
    },
];

/// The table row of a verb.
pub(super) fn spec(verb: Verb) -> &'static CommandSpec {
    COMMANDS
        .iter()
        .find(|s| s.verb == verb)
        .expect("every verb has a row in COMMANDS")
}

/// The role overrides of a repository's policy. The policy module fills this from the server's
/// `ade.toml` and the repository's `.ade/config.toml`, already merged and capped (a repository
/// cannot loosen what the server sets); this module only applies it. Empty means the defaults.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RoleOverrides {
    /// Per login (compared without case): the permission ade treats this user as having, in
    /// place of the forge's, so a policy can raise one user or bar another.
    pub users: HashMap<String, Permission>,
    /// Per team (`org/team-slug`, compared without case): a permission every member has at
    /// least.
    pub teams: HashMap<String, Permission>,
    /// Per verb: the permission required in place of the default.
    pub min_permission: HashMap<Verb, Permission>,
}

/// Who wrote a command, as far as roles are concerned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Requester<'a> {
    /// The author's login.
    pub login: &'a str,
    /// The author's permission on the repository, as the forge reports it.
    pub permission: Permission,
    /// The teams (`org/team-slug`) the author belongs to, where the policy names teams.
    pub teams: &'a [String],
}

impl Requester<'_> {
    /// The permission ade acts on: a per-user override if there is one, else the forge's raised
    /// by any team grants.
    pub fn effective_permission(&self, overrides: &RoleOverrides) -> Permission {
        if let Some(p) = lookup(&overrides.users, self.login) {
            return p;
        }
        self.teams
            .iter()
            .filter_map(|team| lookup(&overrides.teams, team))
            .fold(self.permission, Permission::max)
    }
}

fn lookup(map: &HashMap<String, Permission>, key: &str) -> Option<Permission> {
    map.iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(key))
        .map(|(_, p)| *p)
}

/// The permission a verb needs under these overrides.
pub fn required_permission(verb: Verb, overrides: &RoleOverrides) -> Permission {
    overrides
        .min_permission
        .get(&verb)
        .copied()
        .unwrap_or(spec(verb).default_permission)
}

/// Why a command was refused. Meant for its author: `Display` is the reply.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// The author's role is below the command's.
    NotPermitted {
        /// The command's verb.
        verb: Verb,
        /// What it needs.
        needed: Permission,
        /// What the author has (after overrides).
        have: Permission,
    },
    /// The command does not work here.
    WrongPlace {
        /// The command's verb.
        verb: Verb,
        /// Where it was used.
        place: Place,
        /// Where it works.
        works_in: Places,
    },
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::NotPermitted { verb, needed, have } => write!(
                f,
                "`/ade {verb}` needs {} access to this repository, and you have {}.",
                permission_name(*needed),
                match have {
                    Permission::None => "none".to_string(),
                    have => format!("{} access", permission_name(*have)),
                }
            ),
            Refusal::WrongPlace {
                verb,
                place,
                works_in,
            } => write!(f, "`/ade {verb}` works on {works_in}, not on this {place}."),
        }
    }
}

fn permission_name(p: Permission) -> &'static str {
    match p {
        Permission::None => "no",
        Permission::Read => "read",
        Permission::Triage => "triage",
        Permission::Write => "write",
        Permission::Maintain => "maintain",
        Permission::Admin => "admin",
    }
}

/// Decides whether `requester` may run `command` in `place`. A refusal means nothing else
/// happens but the reply. The role is checked before the place, so someone without the role
/// learns only that.
pub fn authorize(
    command: &Command,
    place: Place,
    requester: &Requester<'_>,
    overrides: &RoleOverrides,
) -> Result<(), Refusal> {
    let verb = command.verb();
    let needed = required_permission(verb, overrides);
    let have = requester.effective_permission(overrides);
    if have < needed {
        return Err(Refusal::NotPermitted { verb, needed, have });
    }
    let works_in = spec(verb).places;
    if !works_in.allows(place) {
        return Err(Refusal::WrongPlace {
            verb,
            place,
            works_in,
        });
    }
    Ok(())
}

/// The rows of the command table that `requester` may run in `place`, in table order; help and
/// templates list these.
pub fn available_commands(
    place: Place,
    requester: &Requester<'_>,
    overrides: &RoleOverrides,
) -> Vec<&'static CommandSpec> {
    let have = requester.effective_permission(overrides);
    COMMANDS
        .iter()
        .filter(|s| s.places.allows(place) && have >= required_permission(s.verb, overrides))
        .collect()
}

/// The answer to `/ade help` (and the tail of an error reply), in markdown: the commands this
/// user may run here, generated from the command table.
pub fn help_text(place: Place, requester: &Requester<'_>, overrides: &RoleOverrides) -> String {
    let commands = available_commands(place, requester, overrides);
    if commands.is_empty() {
        return format!("There are no ade commands you can use on this {place}.\n");
    }
    let mut text = format!("Commands you can use on this {place}:\n\n");
    for spec in commands {
        text.push_str(&format!("- `{}`: {}\n", spec.usage(), spec.summary));
    }
    text
}

#[cfg(test)]
mod tests;
