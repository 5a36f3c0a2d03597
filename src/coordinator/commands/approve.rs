//! `/ade approve [version | hash]`: makes a validated spec version Active and its tasks ready (those
//! whose dependencies are met) or waiting. Approving twice, or approving a version that was
//! superseded or is not valid, is answered and changes nothing. The move is a compare-and-set on
//! the stored state, so two approvals racing cannot both win.
//!
//! A bare `/ade approve` approves only what its author could have seen: the newest version made
//! before their comment was created. When a newer one was made since (a `/ade plan` that landed
//! just before the approval was handled), ade asks which version is meant instead of approving
//! something nobody looked at.

use super::Session;
use crate::command::{SpecRef, sanitize};
use crate::coordinator::advance::{self, AdvanceContext};
use crate::coordinator::goals::{progress, spec_of};
use crate::coordinator::planning::comment::{GoalComment, previous_plan};
use crate::jobs::JobError;
use crate::lifecycle::{SpecState, TaskState};
use crate::markdown;
use crate::store::goals::{self, SpecRow};
use crate::store::{Conn, tasks};

/// Approves `version`, or the newest version awaiting approval.
pub async fn run(
    session: &mut Session<'_>,
    tx: &mut Conn,
    version: Option<SpecRef>,
) -> Result<(), JobError> {
    let Some(goal) =
        goals::find_goal(tx, session.forge, &session.repository(), session.number()).await?
    else {
        session
            .say_headline("there is no plan for this issue yet: comment `/ade plan` first.".into());
        return Ok(());
    };
    let specs = goals::specs(tx, goal).await?;
    let target = match chosen(&specs, version.as_ref(), session.comment.created_at) {
        Chosen::Spec(target) => target,
        Chosen::Answer(headline) => {
            session.say_headline(headline);
            return Ok(());
        }
    };
    let state = target.state;
    if state != SpecState::Validated {
        let headline = refusal(target, state, &specs);
        session.say_headline(headline);
        return Ok(());
    }
    let actor = session.requester.login;
    let mut details = Vec::new();
    for active in specs.iter().filter(|s| s.state == SpecState::Active) {
        if goals::move_spec(
            tx,
            active.id,
            active.state,
            SpecState::Archived,
            actor,
            session.now,
        )
        .await?
        {
            details.push(format!(
                "v{} is archived: the approved plan replaces it.",
                active.version
            ));
        }
    }
    if !goals::move_spec(
        tx,
        target.id,
        SpecState::Validated,
        SpecState::Active,
        actor,
        session.now,
    )
    .await?
    {
        session.say_headline(format!(
            "plan v{} was approved meanwhile; nothing changed.",
            target.version
        ));
        return Ok(());
    }
    let spec = spec_of(target)?;
    let (ready, waiting): (Vec<_>, Vec<_>) =
        spec.tasks.iter().partition(|t| t.depends_on.is_empty());
    let ready: Vec<String> = ready.iter().map(|t| t.id.to_string()).collect();
    let waiting: Vec<String> = waiting.iter().map(|t| t.id.to_string()).collect();
    tasks::insert_tasks(tx, target.id, &ready, TaskState::Ready, session.now).await?;
    tasks::insert_tasks(tx, target.id, &waiting, TaskState::Waiting, session.now).await?;
    let advanced = advance::advance(
        tx,
        target,
        &spec,
        &AdvanceContext {
            goal_number: session.number(),
            policy: session.policy,
            requester: actor,
            now: session.now,
        },
    )
    .await?;
    let progress = progress(tx, &spec, target.id).await?;
    let previous = previous_plan(&specs, target.version);
    let goal = GoalComment {
        repo: session.repo,
        number: session.number(),
        title: &sanitize(&session.comment.issue.title).text,
        previous: previous.as_ref(),
        planner_log: crate::store::planning::log_link_of_spec(tx, target.id).await?,
    };
    session
        .writes
        .push(goal.plan(&spec, SpecState::Active, target, &[], &progress));
    let list = |ids: &[String]| {
        ids.iter()
            .map(|id| markdown::code_span(id))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut headline = format!("approved plan v{}: it is active.", target.version);
    if !advanced.started.is_empty() {
        headline.push_str(&format!(" Running: {}.", list(&advanced.started)));
    }
    let held: Vec<String> = ready
        .iter()
        .filter(|id| !advanced.started.contains(id))
        .cloned()
        .collect();
    if !held.is_empty() {
        headline.push_str(&format!(" Ready: {}.", list(&held)));
    }
    for (id, why) in &advanced.held {
        details.push(format!("{} cannot start: {why}.", markdown::code_span(id)));
    }
    if !waiting.is_empty() {
        headline.push_str(&format!(
            " Waiting for their dependencies: {}.",
            list(&waiting)
        ));
    }
    session.say(headline, details, None);
    Ok(())
}

/// The version an approval names, or what to answer instead.
#[derive(Debug)]
enum Chosen<'a> {
    /// This version.
    Spec(&'a SpecRow),
    /// No version: the reply says why.
    Answer(String),
}

/// The shortest hash prefix a reply suggests: what the plan comment shows.
const SHOWN_HASH: usize = 12;

/// The version `asked` names among `specs` (newest first); for a bare approval, the one the
/// plan comment showed at `seen_at` (the comment's creation, in the forge's whole seconds: the
/// version it switched to last, no later than that second), unless a newer one exists, shown
/// after the comment or still in flight (made, its plan comment not yet written).
fn chosen<'a>(specs: &'a [SpecRow], asked: Option<&SpecRef>, seen_at: Option<i64>) -> Chosen<'a> {
    let newest = specs.first().map_or(0, |s| s.version);
    match asked {
        Some(SpecRef::Version(v)) => match specs.iter().find(|s| s.version == i64::from(*v)) {
            Some(spec) => Chosen::Spec(spec),
            None => Chosen::Answer(format!("there is no plan v{v}; the newest is v{newest}.")),
        },
        Some(SpecRef::Hash(prefix)) => {
            let matching: Vec<&SpecRow> = specs
                .iter()
                .filter(|s| s.content_hash.starts_with(prefix.as_str()))
                .collect();
            match matching.as_slice() {
                [spec] => Chosen::Spec(spec),
                [] => Chosen::Answer(format!(
                    "no plan of this goal has a hash starting with {}; the newest is v{newest}.",
                    markdown::code_span(prefix)
                )),
                several => Chosen::Answer(format!(
                    "{} plans have a hash starting with {}; give more of it, or the version.",
                    several.len(),
                    markdown::code_span(prefix)
                )),
            }
        }
        None => {
            let seen = |s: &SpecRow| {
                s.shown_at
                    .is_some_and(|shown| seen_at.is_none_or(|at| shown / 1000 <= at / 1000))
            };
            let Some(newest_seen) = specs
                .iter()
                .filter(|s| seen(s))
                .max_by_key(|s| (s.shown_at, s.version))
            else {
                return Chosen::Answer(
                    "no plan was shown yet when you commented; look at the plan comment and approve the version you read: `/ade approve <version>`.".into(),
                );
            };
            match specs.first() {
                Some(newer) if newer.id != newest_seen.id => Chosen::Answer(format!(
                    "plan v{} was made after the version you could have read, so ade does not know which version you approve. Read it and comment `/ade approve {}` (or `/ade approve {}`); `/ade approve {}` approves v{}, the one the plan comment showed when you commented.",
                    newer.version,
                    newer.version,
                    short_hash(newer),
                    newest_seen.version,
                    newest_seen.version
                )),
                _ => Chosen::Spec(newest_seen),
            }
        }
    }
}

/// The start of a version's content hash, as the plan comment shows it.
fn short_hash(spec: &SpecRow) -> String {
    spec.content_hash.chars().take(SHOWN_HASH).collect()
}

/// Why `target` cannot be approved, in a reply.
fn refusal(target: &SpecRow, state: SpecState, specs: &[SpecRow]) -> String {
    let v = target.version;
    let newest_validated = specs.iter().find(|s| s.state == SpecState::Validated);
    match state {
        SpecState::Active => format!("plan v{v} is already approved and active; nothing changed."),
        SpecState::Superseded => match newest_validated {
            Some(newer) => format!(
                "plan v{v} was superseded by v{}; nothing changed. To approve the newer plan: `/ade approve {}`.",
                newer.version, newer.version
            ),
            None => format!("plan v{v} was superseded; nothing changed."),
        },
        SpecState::Rejected => format!(
            "plan v{v} is not valid and cannot be approved (the plan comment lists why); fix the issue's task list and comment `/ade plan`."
        ),
        SpecState::Archived => format!("plan v{v} is archived; nothing changed."),
        SpecState::Draft | SpecState::Validated => {
            format!("plan v{v} is not validated yet; nothing changed.")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Version `version`, made and shown at `made_ms`, its hash starting with `hash`.
    fn spec(version: i64, made_ms: i64, hash: &str) -> SpecRow {
        SpecRow {
            id: version * 10,
            goal: 1,
            version,
            state: SpecState::Validated,
            content: String::new(),
            content_hash: format!("{hash}{}", "0".repeat(64 - hash.len())),
            author: "mia".into(),
            planner: "manual".into(),
            errors: None,
            created_at: made_ms,
            changed_at: made_ms,
            shown_at: Some(made_ms),
        }
    }

    fn version(chosen: Chosen<'_>) -> Result<i64, String> {
        match chosen {
            Chosen::Spec(spec) => Ok(spec.version),
            Chosen::Answer(said) => Err(said),
        }
    }

    #[test]
    fn a_bare_approval_takes_the_newest_version_made_before_the_comment() {
        let specs = [spec(2, 5_000, "bb"), spec(1, 1_000, "aa")];
        assert_eq!(version(chosen(&specs, None, Some(9_000))), Ok(2));
        assert_eq!(
            version(chosen(&specs, None, Some(5_000))),
            Ok(2),
            "made within the comment's second"
        );
        assert_eq!(version(chosen(&specs, None, None)), Ok(2), "no time said");
        let asked = version(chosen(&specs, None, Some(4_000))).unwrap_err();
        assert!(
            asked.starts_with("plan v2 was made after the version you could have read")
                && asked.contains("`/ade approve 2`")
                && asked.contains("`/ade approve bb0000000000`")
                && asked.contains("`/ade approve 1` approves v1"),
            "{asked}"
        );
        assert!(
            version(chosen(&specs, None, Some(500)))
                .unwrap_err()
                .starts_with("no plan was shown yet")
        );
    }

    #[test]
    fn a_bare_approval_takes_what_the_comment_showed_then_even_an_older_version() {
        // v1 shown, v2 shown, then v1's progress shown again over v2.
        let mut v1 = spec(1, 1_000, "aa");
        v1.shown_at = Some(20_000);
        let specs = [spec(2, 10_000, "bb"), v1];
        assert_eq!(version(chosen(&specs, None, Some(15_000))), Ok(2));
        let asked = version(chosen(&specs, None, Some(25_000))).unwrap_err();
        assert!(asked.contains("`/ade approve 1` approves v1"), "{asked}");
    }

    #[test]
    fn a_version_whose_plan_comment_is_not_written_yet_is_in_flight() {
        let mut newer = spec(2, 5_000, "bb");
        newer.shown_at = None;
        let specs = [newer, spec(1, 1_000, "aa")];
        for seen_at in [Some(9_000), None] {
            let asked = version(chosen(&specs, None, seen_at)).unwrap_err();
            assert!(
                asked.starts_with("plan v2 was made after the version you could have read")
                    && asked.contains("`/ade approve 1` approves v1"),
                "{asked}"
            );
        }
        let mut late = spec(2, 5_000, "bb");
        late.shown_at = Some(12_000);
        let specs = [late, spec(1, 1_000, "aa")];
        assert!(
            version(chosen(&specs, None, Some(9_000))).is_err(),
            "shown after the comment"
        );
        assert_eq!(version(chosen(&specs, None, Some(12_400))), Ok(2));
        assert_eq!(
            version(chosen(&specs, Some(&SpecRef::Version(2)), Some(0))),
            Ok(2),
            "named, it is taken whenever it was shown"
        );
    }

    #[test]
    fn a_named_version_or_hash_prefix_is_taken_whenever_it_was_made() {
        let specs = [spec(2, 5_000, "3f2a9c01"), spec(1, 1_000, "3f2a9d")];
        let named = |v: u32| chosen(&specs, Some(&SpecRef::Version(v)), Some(0));
        assert_eq!(version(named(2)), Ok(2));
        assert_eq!(
            version(named(7)),
            Err("there is no plan v7; the newest is v2.".into())
        );
        let hash = |p: &str| chosen(&specs, Some(&SpecRef::Hash(p.into())), Some(0));
        assert_eq!(version(hash("3f2a9c0")), Ok(2));
        assert_eq!(version(hash("3f2a9d0")), Ok(1));
        assert!(
            version(hash("3f2a9"))
                .unwrap_err()
                .starts_with("2 plans have a hash")
        );
        assert!(
            version(hash("deadbee"))
                .unwrap_err()
                .starts_with("no plan of this goal has a hash starting with `deadbee`")
        );
    }
}
