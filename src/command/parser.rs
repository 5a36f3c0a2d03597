//! `/ade <verb> [args]` lines → [`Command`]s, or [`ParseError`]s that say what was wrong.
//!
//! The rules (docs/commands.md, "How a command is read", is the user's side of them):
//! - A command line is a rendered line of the author's own prose (see `lines.rs`: not in code,
//!   quotes, headings, tables, raw HTML blocks or hidden markup) whose first word is `/ade`.
//!   Leading whitespace and invisible characters are skipped; `/ade` and the verb ignore case, so
//!   a phone's automatic capital (`/Ade plan`) still works. `/adeplan` is not a command.
//! - Invisible characters inside a command line are ignored; bidirectional controls, which can
//!   make a line read differently from what it says, make the line an error instead.
//! - Every command line of a comment is returned, in order, up to
//!   [`MAX_COMMANDS_PER_COMMENT`]; one more entry then says the rest were not read.
//! - Arguments are strict: a word a verb does not take is an error, not silently dropped (a
//!   maintainer who typed `/ade approve 2 3` should hear about it). `/ade help` alone ignores
//!   what follows, since its answer is the same. Sentence punctuation after the last word
//!   (`/ade approve.`) is forgiven.
//! - `/ade plan … -- instructions`: the instructions are the rest of that line plus the following
//!   lines of the same paragraph, up to the next command line. `--text` counts as `-- text`.
//! - `/ade cancel all` is the same as `/ade cancel`; `all` is therefore never a task id.

use super::invisible::{Invisible, classify};
use super::lines::{Line, visible_blocks};
use super::{Command, RunTarget, SpecRef, Verb};
use std::fmt;

/// How many commands one comment may hold; more is a mistake or an attack, and each accepted
/// command costs a reply.
pub const MAX_COMMANDS_PER_COMMENT: usize = 10;

/// The longest extra instructions `/ade plan` takes, in characters. Longer guidance belongs in
/// the issue body, where it is versioned with the goal.
pub const MAX_INSTRUCTIONS_CHARS: usize = 4000;

/// The longest task id or agent name: they become parts of branch names and storage keys.
pub const MAX_NAME_LEN: usize = 64;

/// What kind of name an argument is, for error messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NameKind {
    /// A task id of the active spec.
    TaskId,
    /// A registered agent's name.
    Agent,
}

impl fmt::Display for NameKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            NameKind::TaskId => "task id",
            NameKind::Agent => "agent name",
        })
    }
}

/// A command line that could not be read. Meant for the person who wrote it: its `Display` is
/// the reply, in markdown, with any echoed input inside a code span (so it cannot mention
/// anyone or inject markup) and cut short.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ParseError {
    /// `/ade` with nothing after it.
    MissingVerb,
    /// A word after `/ade` that is no verb.
    UnknownVerb {
        /// The word as written.
        verb: String,
        /// The closest verb, when one is close.
        suggestion: Option<Verb>,
    },
    /// A word the verb does not take.
    UnexpectedArgument {
        /// The verb.
        verb: Verb,
        /// The first word that does not fit.
        argument: String,
    },
    /// A required argument is absent (`/ade run` alone).
    MissingArgument {
        /// The verb.
        verb: Verb,
    },
    /// `/ade approve` with something that is not a version number.
    BadVersion {
        /// The word as written.
        given: String,
    },
    /// A task id or agent name outside the safe character set or too long.
    BadName {
        /// Which kind of name.
        kind: NameKind,
        /// The word as written.
        given: String,
    },
    /// `/ade plan … --` with nothing after the `--`.
    EmptyInstructions,
    /// Plan instructions longer than [`MAX_INSTRUCTIONS_CHARS`].
    InstructionsTooLong {
        /// How many characters were given.
        chars: usize,
    },
    /// The command line holds bidirectional control characters.
    HiddenCharacters,
    /// More than [`MAX_COMMANDS_PER_COMMENT`] command lines; the rest were not read.
    TooManyCommands,
}

impl ParseError {
    /// The verb the error is about, when the line got that far, so the reply can show its help.
    pub fn verb(&self) -> Option<Verb> {
        match self {
            ParseError::UnexpectedArgument { verb, .. } | ParseError::MissingArgument { verb } => {
                Some(*verb)
            }
            ParseError::BadVersion { .. } => Some(Verb::Approve),
            ParseError::EmptyInstructions | ParseError::InstructionsTooLong { .. } => {
                Some(Verb::Plan)
            }
            _ => None,
        }
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParseError::MissingVerb => {
                f.write_str("`/ade` needs a command after it, for example `/ade help`.")
            }
            ParseError::UnknownVerb {
                verb,
                suggestion: Some(s),
            } => write!(f, "unknown command {} — did you mean `{s}`?", echo(verb)),
            ParseError::UnknownVerb {
                verb,
                suggestion: None,
            } => write!(f, "unknown command {}.", echo(verb)),
            ParseError::UnexpectedArgument { verb, argument } => match syntax(*verb) {
                "" => write!(
                    f,
                    "`/ade {verb}` takes no arguments, but got {}.",
                    echo(argument)
                ),
                args => write!(
                    f,
                    "`/ade {verb}` is written `/ade {verb} {args}`; {} does not fit there.",
                    echo(argument)
                ),
            },
            ParseError::MissingArgument { verb } => write!(
                f,
                "`/ade {verb}` needs an argument: `/ade {verb} {}`.",
                syntax(*verb)
            ),
            ParseError::BadVersion { given } => write!(
                f,
                "`/ade approve` takes a version number such as `2` or `v2`, or the start of the plan's hash (at least 7 characters), not {}.",
                echo(given)
            ),
            ParseError::BadName { kind, given } => write!(
                f,
                "{} is not a valid {kind}: use 1 to {MAX_NAME_LEN} ASCII letters, digits, `-` or \
                 `_`, starting with a letter or digit.",
                echo(given)
            ),
            ParseError::EmptyInstructions => {
                f.write_str("`/ade plan --` needs instructions after the `--`.")
            }
            ParseError::InstructionsTooLong { chars } => write!(
                f,
                "extra instructions are limited to {MAX_INSTRUCTIONS_CHARS} characters (these \
                 have {chars}); put longer guidance in the issue body."
            ),
            ParseError::HiddenCharacters => f.write_str(
                "this command contains invisible direction controls, which can make it read \
                 differently from what it does; please type it again without them.",
            ),
            ParseError::TooManyCommands => write!(
                f,
                "a comment can hold at most {MAX_COMMANDS_PER_COMMENT} commands; the ones after \
                 that were not read."
            ),
        }
    }
}

/// The argument syntax of a verb, from the command table.
fn syntax(verb: Verb) -> &'static str {
    super::roles::spec(verb).args
}

/// User input quoted in a reply: in a code span, without backticks or line breaks, at most 40
/// characters.
fn echo(input: &str) -> String {
    const MAX: usize = 40;
    let cleaned: String = input
        .chars()
        .filter(|c| *c != '`' && classify(*c).is_none() && !c.is_control())
        .take(MAX + 1)
        .collect();
    match cleaned.char_indices().nth(MAX) {
        Some((cut, _)) => format!("`{}…`", &cleaned[..cut]),
        None if cleaned.is_empty() => "`…`".to_string(),
        None => format!("`{cleaned}`"),
    }
}

/// Whether `id` can name a task in a command: the spec's validation refuses any other, so
/// every task can be named by `/ade run` and `/ade cancel`.
pub fn is_valid_task_id(id: &str) -> bool {
    is_safe_name(id) && !id.eq_ignore_ascii_case("all")
}

/// Whether `name` can name an agent in a command; the policy's agent registry uses the same rule.
pub fn is_valid_agent_name(name: &str) -> bool {
    is_safe_name(name)
}

/// 1 to [`MAX_NAME_LEN`] of `[A-Za-z0-9_-]`, starting with a letter or digit: safe in a branch
/// name, a path component, a storage key and a shell word.
fn is_safe_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    (1..=MAX_NAME_LEN).contains(&bytes.len())
        && bytes[0].is_ascii_alphanumeric()
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || *b == b'-' || *b == b'_')
}

/// Finds every command line in a comment and parses each, in order. A comment without commands
/// gives an empty list. See the module documentation for the rules.
pub fn parse_commands(text: &str) -> Vec<Result<Command, ParseError>> {
    let mut commands = Vec::new();
    for block in visible_blocks(text) {
        let lines: Vec<Classified> = block.iter().map(classify_line).collect();
        for (i, line) in lines.iter().enumerate() {
            let Classified::Command { rest, bidi } = line else {
                continue;
            };
            if commands.len() == MAX_COMMANDS_PER_COMMENT {
                commands.push(Err(ParseError::TooManyCommands));
                return commands;
            }
            let continuation: Vec<&str> = lines[i + 1..]
                .iter()
                .map_while(|l| match l {
                    Classified::Prose(text) => Some(text.as_str()),
                    Classified::Command { .. } => None,
                })
                .collect();
            commands.push(if *bidi {
                Err(ParseError::HiddenCharacters)
            } else {
                parse_command(rest, &continuation)
            });
        }
    }
    commands
}

/// A line of prose, told apart by whether it is a command line.
enum Classified {
    /// A command line: what follows `/ade` (without invisible characters), and whether the
    /// line held bidirectional controls.
    Command { rest: String, bidi: bool },
    /// Any other line, without invisible characters.
    Prose(String),
}

fn classify_line(line: &Line) -> Classified {
    let mut bidi = false;
    let visible: String = line
        .text
        .chars()
        .filter(|c| match classify(*c) {
            Some(Invisible::Bidi) => {
                bidi = true;
                false
            }
            Some(_) => false,
            None => true,
        })
        .collect();
    if line.at_line_start {
        let trimmed = visible.trim_start();
        if let Some(prefix) = trimmed.get(..4)
            && prefix.eq_ignore_ascii_case("/ade")
        {
            let rest = &trimmed[4..];
            if rest.is_empty() || rest.starts_with(char::is_whitespace) {
                return Classified::Command {
                    rest: rest.to_string(),
                    bidi,
                };
            }
        }
    }
    Classified::Prose(visible)
}

/// Parses what follows `/ade` on a command line; `continuation` is the rest of the paragraph,
/// used only for plan instructions.
fn parse_command(rest: &str, continuation: &[&str]) -> Result<Command, ParseError> {
    let (head, instructions) = split_instructions(rest);
    let head = match instructions {
        Some(_) => head,
        None => head
            .trim_end()
            .trim_end_matches(['.', '!', ',', ';', ':', '?']),
    };
    let mut words = head.split_whitespace();
    let verb_word = words.next().ok_or(ParseError::MissingVerb)?;
    let verb = Verb::parse(verb_word).ok_or_else(|| ParseError::UnknownVerb {
        verb: verb_word.to_string(),
        suggestion: suggest(verb_word),
    })?;
    let args: Vec<&str> = words.take(2).collect();
    let unexpected = |argument: &str| ParseError::UnexpectedArgument {
        verb,
        argument: argument.to_string(),
    };
    if !matches!(verb, Verb::Plan | Verb::Help | Verb::Retry) && instructions.is_some() {
        return Err(unexpected("--"));
    }
    match (verb, args.as_slice()) {
        (Verb::Plan, [_, extra, ..]) => Err(unexpected(extra)),
        (Verb::Plan, agent) => Ok(Command::Plan {
            agent: agent
                .first()
                .map(|a| name(NameKind::Agent, a))
                .transpose()?,
            instructions: instructions
                .map(|first| plan_instructions(first, continuation))
                .transpose()?,
        }),
        (Verb::Approve, []) => Ok(Command::Approve { version: None }),
        (Verb::Approve, [version]) => Ok(Command::Approve {
            version: Some(parse_spec_ref(version)?),
        }),
        (Verb::Run, []) => Err(ParseError::MissingArgument { verb }),
        (Verb::Run, [all]) if all.eq_ignore_ascii_case("all") => Ok(Command::Run {
            target: RunTarget::All,
        }),
        (Verb::Run, [task]) => Ok(Command::Run {
            target: RunTarget::Task(name(NameKind::TaskId, task)?),
        }),
        (Verb::AllowUnscanned, []) => Err(ParseError::MissingArgument { verb }),
        (Verb::AllowUnscanned, [task]) => Ok(Command::AllowUnscanned {
            task: name(NameKind::TaskId, task)?,
        }),
        (Verb::Cancel, []) => Ok(Command::Cancel { task: None }),
        (Verb::Cancel, [all]) if all.eq_ignore_ascii_case("all") => {
            Ok(Command::Cancel { task: None })
        }
        (Verb::Cancel, [task]) => Ok(Command::Cancel {
            task: Some(name(NameKind::TaskId, task)?),
        }),
        (Verb::Help, _) => Ok(Command::Help),
        (Verb::Retry, []) => Ok(Command::Retry {
            agent: match instructions {
                None => None,
                Some(rest) => match rest.split_whitespace().collect::<Vec<_>>().as_slice() {
                    ["agent", agent] => Some(name(NameKind::Agent, agent)?),
                    _ => return Err(unexpected("--")),
                },
            },
        }),
        (Verb::Verify, []) => Ok(Command::Verify),
        (Verb::Status, []) => Ok(Command::Status),
        (_, [_, extra])
            if matches!(
                verb,
                Verb::Approve | Verb::Run | Verb::Cancel | Verb::AllowUnscanned
            ) =>
        {
            Err(unexpected(extra))
        }
        (_, [first, ..]) => Err(unexpected(first)),
    }
}

/// Splits at the first word that starts with `--`: the words before, and the text after the
/// dashes.
fn split_instructions(rest: &str) -> (&str, Option<&str>) {
    let mut offset = 0;
    for word in rest.split_inclusive(char::is_whitespace) {
        if word.starts_with("--") {
            return (&rest[..offset], Some(&rest[offset + 2..]));
        }
        offset += word.len();
    }
    (rest, None)
}

fn plan_instructions(first: &str, continuation: &[&str]) -> Result<String, ParseError> {
    let mut text = first.trim().to_string();
    for line in continuation {
        if !text.is_empty() {
            text.push('\n');
        }
        text.push_str(line.trim());
    }
    let text = text.trim();
    let chars = text.chars().count();
    if chars == 0 {
        return Err(ParseError::EmptyInstructions);
    }
    if chars > MAX_INSTRUCTIONS_CHARS {
        return Err(ParseError::InstructionsTooLong { chars });
    }
    Ok(text.to_string())
}

fn name(kind: NameKind, given: &str) -> Result<String, ParseError> {
    let valid = match kind {
        NameKind::TaskId => is_valid_task_id(given),
        NameKind::Agent => is_valid_agent_name(given),
    };
    if valid {
        Ok(given.to_string())
    } else {
        Err(ParseError::BadName {
            kind,
            given: given.to_string(),
        })
    }
}

/// `2`, `v2` or `V2` (versions start at 1), or 7 to 64 hex digits of a content hash. A bare word
/// of up to six digits is a version number; one of seven or more is the start of a hash, since a
/// hash's first characters can all be digits and no goal reaches a millionth version.
fn parse_spec_ref(given: &str) -> Result<SpecRef, ParseError> {
    let prefixed = given.starts_with(['v', 'V']);
    let digits = given.strip_prefix(['v', 'V']).unwrap_or(given);
    let all_digits = !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit());
    if all_digits && (prefixed || digits.len() < 7) {
        if let Some(v) = digits.parse::<u32>().ok().filter(|v| *v > 0) {
            return Ok(SpecRef::Version(v));
        }
    } else if (7..=64).contains(&given.len()) && given.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Ok(SpecRef::Hash(given.to_ascii_lowercase()));
    }
    Err(ParseError::BadVersion {
        given: given.to_string(),
    })
}

/// The verb closest to a mistyped word, if it is within a typo or two.
fn suggest(word: &str) -> Option<Verb> {
    let word = word.to_lowercase();
    if word.chars().count() > 20 {
        return None;
    }
    Verb::ALL
        .into_iter()
        .map(|v| (edit_distance(&word, v.as_str()), v))
        .filter(|(d, v)| *d <= if v.as_str().len() <= 4 { 1 } else { 2 })
        .min_by_key(|(d, _)| *d)
        .map(|(_, v)| v)
}

/// Levenshtein distance over characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut current = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(ca != *cb);
            current.push(substitution.min(previous[j + 1] + 1).min(current[j] + 1));
        }
        previous = current;
    }
    previous[b.len()]
}

#[cfg(test)]
mod tests;
