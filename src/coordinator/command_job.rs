//! The job that handles the commands of one new comment: who wrote it, what they may do here,
//! and, for each accepted command, its handler in `commands/`. Forge reads (the author's
//! permission, the policy) happen first; everything the commands change is then written in one
//! transaction together with the forge writes they ask for and the job's completion, so a retry
//! never acts twice.

use super::commands::{self, Reply, Session};
use super::event_job::{EventJob, EventJobKind, wrong_event};
use super::roles::{overrides, teams_of};
use super::shared::Shared;
use crate::command::{self, Place, Requester};
use crate::coordinator::writes::{ForgeWrite, enqueue_writes};
use crate::events::{Comment, EventKind};
use crate::forge::{ForgeKind, Permission, Reaction, RepoRef};
use crate::jobs::{BoxFuture, Discarded, JobContext, JobError, JobHandler};
use crate::limits::{Over, Rate};
use crate::markdown;
use crate::policy::EffectivePolicy;
use crate::store;
use crate::store::StoreError;
use crate::store::audit::{self, ActorKind, Entry, Outcome, Scope};
use crate::store::limits::Want;
use crate::telemetry;
use std::marker::PhantomData;

/// The handler of the jobs of one comment, [`CommandJob`](super::event_job::CommandJob)s or
/// [`EditedCommandJob`](super::event_job::EditedCommandJob)s as `K` says: both carry the comment's
/// event, and the event says whether the commands run (a new comment) or are only answered (an
/// edited one).
pub struct CommandHandler<K> {
    shared: Shared,
    /// Attempts each forge write job gets.
    write_attempts: i64,
    kind: PhantomData<K>,
}

impl<K: EventJobKind> CommandHandler<K> {
    /// A handler with the coordinator's shared parts.
    pub fn new(shared: Shared) -> CommandHandler<K> {
        CommandHandler {
            write_attempts: shared.write_attempts,
            shared,
            kind: PhantomData,
        }
    }

    async fn handle(&self, ctx: &JobContext) -> Result<(), JobError> {
        let job: EventJob<K> = ctx.payload()?;
        let event = {
            let mut conn = ctx.store().reader().await?;
            store::events::get(&mut conn, job.event).await?
        }
        .ok_or_else(|| JobError::Permanent(format!("event {} is not stored", job.event)))?;
        let (comment, edited) = match &event.kind {
            EventKind::CommentCreated(comment) => (comment, false),
            EventKind::CommentEdited(comment) => (comment, true),
            _ => return Err(wrong_event("a command job", &event)),
        };
        let Some(repo) = event
            .repository
            .as_ref()
            .and_then(|r| RepoRef::parse(&r.full_name, event.installation_id))
        else {
            return Err(JobError::Permanent(
                "the comment's repository is unreadable".into(),
            ));
        };
        let forge = self.shared.forge(event.forge)?;
        let bot = self.shared.bot_login(forge.as_ref()).await?;
        if comment.author.login.eq_ignore_ascii_case(&bot) {
            tracing::debug!("ignored ade's own comment");
            return finish_with(ctx, event.forge, Vec::new(), self.write_attempts).await;
        }
        let parsed = command::parse_commands(&comment.body);
        if parsed.is_empty() {
            return finish_with(ctx, event.forge, Vec::new(), self.write_attempts).await;
        }
        let reply = Reply::new(event.forge, &repo, comment);
        if edited {
            let writes = vec![reply.to_edit(&comment.author.login)];
            return finish_with(ctx, event.forge, writes, self.write_attempts).await;
        }
        // One comment acts once, however many times and under whatever delivery ids it arrives
        // (a forge's redelivery, a signed body replayed): the first job to claim it acts.
        let claimed = {
            let mut conn = ctx.store().writer().await?;
            store::comments::claim(&mut conn, event.forge, comment.id, ctx.job.id, ctx.now_ms())
                .await?
        };
        if !claimed {
            tracing::info!(
                comment = comment.id,
                "a comment whose commands were handled already came again; nothing done"
            );
            let again = record(event.forge, &repo, comment, ctx.now_ms(), Outcome::Refused).with(
                "why",
                "the comment's commands were handled already: the same comment was delivered again",
            );
            let mut tx = ctx.store().begin().await?;
            audit::record(&mut tx, &again).await?;
            return ctx.finish(tx).await;
        }
        let (head, loaded) = self.shared.policies.load(forge.as_ref(), &repo).await?;
        let policy = match loaded {
            Ok(policy) => policy,
            Err(problems) => {
                if comment.author.bot {
                    return finish_with(ctx, event.forge, Vec::new(), self.write_attempts).await;
                }
                let writes =
                    vec![reply.invalid_policy(&comment.author.login, &head.name, &problems)];
                let refused = record(event.forge, &repo, comment, ctx.now_ms(), Outcome::Refused)
                    .with("why", "the repository's policy file is invalid")
                    .with("policy_commit", head.sha.as_str());
                let mut tx = ctx.store().begin().await?;
                audit::record(&mut tx, &refused).await?;
                enqueue_writes(
                    &mut tx,
                    event.forge,
                    &writes,
                    self.write_attempts,
                    ctx.now_ms(),
                )
                .await?;
                return ctx.finish(tx).await;
            }
        };
        self.shared
            .remember_retention(
                ctx.store(),
                event.forge,
                &repo.full_name(),
                &policy.retention,
                ctx.now_ms(),
            )
            .await;
        if comment.author.bot && !policy.roles.allow_bots {
            tracing::info!(author = %telemetry::shown(&comment.author.login), "ignored a command from another bot");
            return finish_with(ctx, event.forge, Vec::new(), self.write_attempts).await;
        }
        // Someone over their own limit who was told so already gets silence, without a forge
        // read.
        let own = command_wants(event.forge, &repo, &comment.author.login, &policy, false);
        let over = {
            let mut conn = ctx.store().reader().await?;
            store::limits::peek(&mut conn, &own, ctx.now_ms()).await?
        };
        if let Some(over) = over.filter(|over| over.told) {
            let mut tx = ctx.store().begin().await?;
            for parsed in parsed.iter().take(MAX_HANDLED_PER_COMMENT) {
                let entry = record(event.forge, &repo, comment, ctx.now_ms(), Outcome::Refused);
                audit::record(&mut tx, &limited_entry(entry, &over, parsed.as_ref().ok())).await?;
            }
            return ctx.finish(tx).await;
        }
        let permission = forge.permission(&repo, &comment.author.login).await?;
        let teams = teams_of(forge.as_ref(), &repo, &policy, &comment.author.login).await?;
        let overrides = overrides(&policy);
        // `/ade verify` and `/ade retry` act on the pull request's head as the forge has it now.
        let wants_head = parsed.iter().any(|c| {
            matches!(
                c,
                Ok(command::Command::Verify) | Ok(command::Command::Retry { .. })
            )
        });
        let pull = if wants_head && comment.issue.is_pull_request {
            Some(forge.pull_request(&repo, comment.issue.number).await?)
        } else {
            None
        };
        let mut session = Session {
            forge: event.forge,
            repo: &repo,
            event: &event,
            comment,
            place: Place::of(&comment.issue),
            requester: Requester {
                login: &comment.author.login,
                permission,
                teams: &teams,
            },
            overrides: &overrides,
            policy: &policy,
            head: &head,
            pull: pull.as_ref(),
            shared: &self.shared,
            bot: &bot,
            now: ctx.now_ms(),
            reply,
            writes: Vec::new(),
            limited: false,
        };
        let mut tx = ctx.store().begin().await?;
        let mut parsed = parsed;
        let over = parsed.split_off(parsed.len().min(MAX_HANDLED_PER_COMMENT));
        for (index, parsed) in parsed.into_iter().enumerate() {
            session.reply.index = index;
            run_one(&mut session, &mut tx, parsed).await?;
        }
        // Lines past the third of a comment over a limit get no reply of their own either.
        if !over.is_empty() && !session.limited {
            session.reply.index = MAX_HANDLED_PER_COMMENT;
            not_handled(&mut session, &mut tx, over).await?;
        }
        enqueue_writes(
            &mut tx,
            event.forge,
            &session.writes,
            self.write_attempts,
            session.now,
        )
        .await?;
        ctx.finish(tx).await
    }
}

/// The command lines of one comment ade handles, each with its own reply; the ones after them
/// are not run, and one more reply says so, so one comment never makes ade post more than this
/// many replies and one.
pub const MAX_HANDLED_PER_COMMENT: usize = 3;

/// The command lines of a comment past [`MAX_HANDLED_PER_COMMENT`]: not run, each recorded as
/// refused, and one reply naming them.
async fn not_handled(
    session: &mut Session<'_>,
    tx: &mut store::Conn,
    over: Vec<Result<command::Command, command::ParseError>>,
) -> Result<(), JobError> {
    let why = format!(
        "ade handles at most {MAX_HANDLED_PER_COMMENT} commands of one comment; the rest are not run"
    );
    let mut named = Vec::new();
    for parsed in &over {
        let entry = refused(session).with("why", why.as_str());
        let entry = match parsed {
            Ok(command) => {
                named.push(markdown::code_span(&command.logged()));
                described(entry, command)
            }
            Err(_) => entry,
        };
        audit::record(tx, &entry).await?;
    }
    let headline = if named.is_empty() {
        format!(
            "ade handles at most {MAX_HANDLED_PER_COMMENT} commands of one comment; the lines after them were not run. Post them in another comment."
        )
    } else {
        format!(
            "ade handles at most {MAX_HANDLED_PER_COMMENT} commands of one comment, so these were not run: {}. Post them in another comment.",
            named.join(", ")
        )
    };
    let write = session
        .reply
        .text(Some(session.requester.login), &headline, Vec::new());
    session.writes.push(write);
    Ok(())
}

/// The audit entry of a command line of the session's comment, refused until it is accepted.
fn refused(session: &Session<'_>) -> Entry {
    record(
        session.forge,
        session.repo,
        session.comment,
        session.now,
        Outcome::Refused,
    )
}

/// Handles one parsed command line: a mistake or a refusal is answered and changes nothing; an
/// accepted command gets 👀 at once and then does its work. Mistakes and refusals describe
/// themselves in Markdown that is safe as it is (user input in them is quoted without backticks).
async fn run_one(
    session: &mut Session<'_>,
    tx: &mut store::Conn,
    parsed: Result<command::Command, command::ParseError>,
) -> Result<(), JobError> {
    let entry = refused(session)
        .with("policy_commit", session.head.sha.as_str())
        .with(
            "permission",
            serde_json::to_value(session.requester.permission).unwrap_or_default(),
        );
    // People who may change the repository are not held to the repository's allowance, so a
    // flood from others never keeps a maintainer from `/ade cancel`.
    let trusted = session.requester.permission >= Permission::Write;
    let wants = command_wants(
        session.forge,
        session.repo,
        session.requester.login,
        session.policy,
        !trusted,
    );
    if let Err(over) = store::limits::take(tx, &wants, session.now).await? {
        session.limited = true;
        return limited(session, tx, entry, (&wants, over), parsed.as_ref().ok()).await;
    }
    let command = match parsed {
        Ok(command) => command,
        Err(mistake) => {
            let entry = entry.with("why", mistake.to_string());
            audit::record(tx, &entry).await?;
            let help = commands::help::available(session);
            let write =
                session
                    .reply
                    .text(Some(session.requester.login), &mistake.to_string(), help);
            session.writes.push(write);
            return Ok(());
        }
    };
    if let Err(refusal) = command::authorize(
        &command,
        session.place,
        &session.requester,
        session.overrides,
    ) {
        tracing::info!(
            login = %telemetry::shown(session.requester.login),
            command = %command.logged(),
            refusal = %telemetry::shown(&refusal.to_string()),
            "refused a command"
        );
        let entry = described(entry, &command).with("why", refusal.to_string());
        audit::record(tx, &entry).await?;
        let write = session.reply.text(
            Some(session.requester.login),
            &refusal.to_string(),
            Vec::new(),
        );
        session.writes.push(write);
        return Ok(());
    }
    if let command::Command::Plan { .. } = command {
        let rate = Rate::Plans;
        let wants = [Want {
            name: rate.bucket(session.forge.as_str(), &session.repository(), ""),
            rate,
            per_hour: rate.per_hour(&session.policy.rate_limits),
        }];
        if let Err(over) = store::limits::take(tx, &wants, session.now).await? {
            session.limited = true;
            return limited(session, tx, entry, (&wants, over), Some(&command)).await;
        }
    }
    tracing::info!(
        login = %telemetry::shown(session.requester.login),
        command = %command.logged(),
        "accepted a command"
    );
    let mut entry = described(entry, &command);
    entry.action = "command.accepted".into();
    entry.outcome = Outcome::Ok;
    audit::record(tx, &entry).await?;
    session.writes.push(ForgeWrite::React {
        repo: session.repo.clone(),
        comment_id: session.comment.id,
        reaction: Reaction::Eyes,
    });
    commands::execute(session, tx, command).await
}

/// The buckets a command line of `login` in `repo` takes a token from: the user's, and the
/// repository's when `shared` (commenters who may not write to it).
fn command_wants(
    forge: ForgeKind,
    repo: &RepoRef,
    login: &str,
    policy: &EffectivePolicy,
    shared: bool,
) -> Vec<Want> {
    let repository = repo.full_name();
    let rates: &[Rate] = match shared {
        true => &[Rate::CommandsPerUser, Rate::Commands],
        false => &[Rate::CommandsPerUser],
    };
    rates
        .iter()
        .copied()
        .map(|rate| Want {
            name: rate.bucket(forge.as_str(), &repository, login),
            rate,
            per_hour: rate.per_hour(&policy.rate_limits),
        })
        .collect()
}

/// A command line over a rate limit: recorded, and answered only the first time in a spell over
/// the limit (with the limit and when it resets); nothing else happens.
async fn limited(
    session: &mut Session<'_>,
    tx: &mut store::Conn,
    entry: Entry,
    (wants, over): (&[Want], Over),
    command: Option<&command::Command>,
) -> Result<(), JobError> {
    audit::record(tx, &limited_entry(entry, &over, command)).await?;
    if over.told {
        return Ok(());
    }
    if let Some(want) = wants.iter().find(|want| want.rate == over.rate) {
        store::limits::told(tx, &want.name, session.now).await?;
    }
    tracing::info!(
        login = %telemetry::shown(session.requester.login),
        limit = over.rate.key(),
        "a command over a rate limit was not run; its author is told once"
    );
    let headline = format!(
        "Not run: {}. Until then ade leaves further commands over this limit unanswered.",
        over.sentence(session.now)
    );
    let write = session
        .reply
        .text(Some(session.requester.login), &headline, Vec::new());
    session.writes.push(write);
    Ok(())
}

/// The audit entry of a command line over a rate limit.
fn limited_entry(entry: Entry, over: &Over, command: Option<&command::Command>) -> Entry {
    let mut entry = entry
        .with("why", "over a rate limit")
        .with("limit", over.rate.key())
        .with("resets_at", over.resets_at);
    if let Some(command) = command {
        entry = described(entry, command);
    }
    entry.action = "command.limited".into();
    entry
}

/// Completes the job, enqueuing `writes` (possibly none) in the same transaction.
async fn finish_with(
    ctx: &JobContext,
    forge: ForgeKind,
    writes: Vec<ForgeWrite>,
    attempts: i64,
) -> Result<(), JobError> {
    let mut tx = ctx.store().begin().await?;
    enqueue_writes(&mut tx, forge, &writes, attempts, ctx.now_ms()).await?;
    // Only writes to make, no record: nothing to seal.
    ctx.finish_unsealed(tx).await
}

impl<K: EventJobKind> JobHandler for CommandHandler<K> {
    fn run<'a>(&'a self, ctx: &'a JobContext) -> BoxFuture<'a, Result<(), JobError>> {
        Box::pin(self.handle(ctx))
    }

    /// A command whose job failed for good is not met with silence: its author gets a reply
    /// saying so, why, and the delivery id for the operator, and the failure is recorded.
    fn discarded<'a>(&'a self, failed: Discarded<'a>) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            let why = telemetry::shown(failed.error);
            tracing::error!(key = %failed.job.idempotency_key, error = %why, "a command failed for good");
            let Some(job) = failed.payload::<EventJob<K>>() else {
                return Ok(());
            };
            let Some((event, delivery)) =
                store::events::get_with_delivery(failed.conn, job.event).await?
            else {
                return Ok(());
            };
            let (EventKind::CommentCreated(comment) | EventKind::CommentEdited(comment)) =
                &event.kind
            else {
                return Ok(());
            };
            let Some(repo) = event
                .repository
                .as_ref()
                .and_then(|r| RepoRef::parse(&r.full_name, event.installation_id))
            else {
                return Ok(());
            };
            let mut entry = record(event.forge, &repo, comment, failed.now, Outcome::Failed)
                .with("why", why.as_str())
                .with("delivery", delivery.as_str());
            entry.action = "command.failed".into();
            audit::record(failed.conn, &entry).await?;
            let reply = Reply::new(event.forge, &repo, comment).failed(
                &comment.author.login,
                &why,
                &delivery,
            );
            enqueue_writes(
                failed.conn,
                event.forge,
                &[reply],
                self.write_attempts,
                failed.now,
            )
            .await
        })
    }
}

/// The audit entry of a command in `comment`: refused until it is accepted. The comment's text is
/// never recorded, only what was parsed from it.
fn record(
    forge: ForgeKind,
    repo: &RepoRef,
    comment: &Comment,
    now: i64,
    outcome: Outcome,
) -> Entry {
    let issue = &comment.issue;
    let place = if issue.is_pull_request {
        "pull request"
    } else {
        "issue"
    };
    Entry::new(
        now,
        ActorKind::User,
        comment.author.login.as_str(),
        "command.refused",
        format!("{place} #{}", issue.number),
        outcome,
    )
    .scoped(Scope {
        forge: Some(forge),
        repository: Some(repo.full_name()),
        goal: (!issue.is_pull_request).then_some(issue.number),
        ..Scope::default()
    })
    .with("comment", comment.id)
}

/// The entry with what `command` asks for: its verb and arguments, and only the length of free
/// text (`/ade plan -- …`).
fn described(entry: Entry, command: &command::Command) -> Entry {
    let entry = entry.with("command", command.verb().as_str());
    match command {
        command::Command::Plan {
            agent,
            instructions,
        } => entry.with("agent", agent.clone()).with(
            "instructions_chars",
            instructions.as_ref().map(|i| i.chars().count()),
        ),
        command::Command::Approve {
            version: Some(command::SpecRef::Version(version)),
        } => entry.with("version", *version),
        command::Command::Approve {
            version: Some(command::SpecRef::Hash(prefix)),
        } => entry.with("hash", prefix.as_str()),
        command::Command::Run {
            target: command::RunTarget::Task(task),
        } => entry.with("task", task.as_str()),
        command::Command::Run {
            target: command::RunTarget::All,
        } => entry.with("task", "all"),
        command::Command::Cancel { task } => entry.with("task", task.clone()),
        command::Command::AllowUnscanned { task } => entry.with("task", task.as_str()),
        command::Command::Retry { agent } => entry.with("agent", agent.clone()),
        _ => entry,
    }
}
