//! A real `ade serve` is killed with SIGKILL at several points of a goal's flow and started
//! again: while a run's agent is at work (and the maintainer cancels the run before the new
//! process takes it over, or ade is killed on every attempt of the run, which then fails
//! visibly), while the run's verification steps run, between the forge opening the
//! approval or creating its check and ade hearing of it, and while a burst of comments comes in.
//! After the restart nothing acknowledged is lost, nothing is written to the forge twice, what
//! the killed process left running is stopped, and the goal ends where it shows it is.

use crate::support::databases;
use crate::support::served::{Served, World, agent_gate, step_gate};
use crate::support::story::{MAINTAINER, REPO};
use crate::support::verify::{NOTES, Policy};
use ade::forge::CheckState;
use ade::sim::{DeliveryOutcome, Fault, FaultRule, SimPull};
use ade::store::deliveries::DeliveryState;
use std::time::Duration;

/// Verification that the task's notes were written.
fn notes_checked() -> Policy {
    Policy::new().step("notes", "test -s notes/t1.md")
}

/// The goal: one task.
const ONE_TASK: &str = "- [ ] Write the project notes\n";

/// The approval of the goal's one task, once it is ready for review with `ade/verify` passed
/// on its head.
async fn verified_approval(world: &World) -> SimPull {
    world
        .until("the approval, verified and ready for review", || {
            world.sim().pulls(REPO).into_iter().find(|p| {
                !p.draft
                    && verify_checks(world, &p.head_sha)
                        .last()
                        .is_some_and(|c| c.state == CheckState::Success)
            })
        })
        .await
}

fn verify_checks(world: &World, sha: &str) -> Vec<ade::sim::SimCheck> {
    world
        .sim()
        .checks(REPO, sha)
        .into_iter()
        .filter(|c| c.name == "ade/verify")
        .collect()
}

/// The goal ended consistently: one run of its task, succeeded; the task in review; one
/// approval on the forge, the one ade recorded; every `ade/verify` ade began on it finished.
async fn one_run_in_review(world: &World, pull: &SimPull) {
    let name = world.db_name();
    let runs = world.texts("SELECT state FROM runs").await;
    assert_eq!(runs, ["succeeded"], "{name}: one run, succeeded");
    let tasks = world.texts("SELECT state FROM tasks").await;
    assert_eq!(tasks, ["review"], "{name}: the task waits for review");
    let pulls = world.sim().pulls(REPO);
    assert_eq!(pulls.len(), 1, "{name}: one approval: {pulls:#?}");
    let recorded = world.count("SELECT MAX(number) FROM approvals").await;
    assert_eq!(
        recorded, pull.number,
        "{name}: ade recorded the approval it opened"
    );
    let unfinished: Vec<_> = world
        .carried_out("POST", &format!("/repos/{REPO}/check-runs"))
        .into_iter()
        .map(|c| {
            c.json()["head_sha"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        })
        .flat_map(|sha| verify_checks(world, &sha))
        .filter(|c| matches!(c.state, CheckState::Queued | CheckState::InProgress))
        .collect();
    assert!(
        unfinished.is_empty(),
        "{name}: no ade/verify is left running on the forge: {unfinished:#?}"
    );
}

// ----- during a run -----

async fn killed_while_the_agent_works(db: crate::support::TestDb) {
    let agent = format!("{}{NOTES}", agent_gate("agent"));
    let mut world = Served::new(&agent).policy(notes_checked()).start(db).await;
    let issue = world.approved_goal("Project notes", ONE_TASK).await;
    world.waiting_at("agent").await;
    let at_work = world.agent_processes();
    assert!(!at_work.is_empty(), "the agent is at work");

    world.forget_gate("agent");
    world.kill_9_and_restart().await;
    world
        .until_gone(
            &at_work,
            "the agent the killed ade left running to be stopped",
        )
        .await;
    world.waiting_at("agent").await;
    world.open_gate("agent");

    let pull = verified_approval(&world).await;
    world
        .plan_saying(issue, &format!("review · #{}", pull.number))
        .await;
    world.settled().await;
    one_run_in_review(&world, &pull).await;
    world.no_write_twice();
    world.nothing_lost().await;
    assert!(
        world.logs().contains("starting the run again"),
        "the new ade took the run over"
    );
    world.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_run_whose_ade_was_killed_is_taken_over_and_its_agent_stopped() {
    for db in databases().await {
        killed_while_the_agent_works(db).await;
    }
}

async fn cancelled_while_its_ade_was_down(db: crate::support::TestDb) {
    let agent = format!("{}{NOTES}", agent_gate("agent"));
    let mut world = Served::new(&agent).policy(notes_checked()).start(db).await;
    let issue = world.approved_goal("Project notes", ONE_TASK).await;
    world.waiting_at("agent").await;
    let at_work = world.agent_processes();
    assert!(!at_work.is_empty(), "the agent is at work");

    world.kill_9_and_restart().await;
    // The maintainer cancels before the new ade takes the run over: it never runs again here.
    let cancel = world.comment(issue, MAINTAINER, "/ade cancel").await;
    let reply = world
        .until("the reply to the cancel", || {
            world
                .bot_comments(issue)
                .into_iter()
                .find(|c| c.contains(&format!("<!-- ade:reply:{cancel}:")))
        })
        .await;
    assert!(reply.contains("cancel"), "{reply}");
    world
        .until_gone(
            &at_work,
            "the agent the killed ade left running to be stopped",
        )
        .await;
    world.plan_saying(issue, "cancelled").await;
    world.settled().await;
    let runs = world.texts("SELECT state FROM runs").await;
    assert_eq!(runs, ["cancelled"], "{}", world.db_name());
    assert!(world.sim().pulls(REPO).is_empty(), "no approval was opened");
    world.no_write_twice();
    world.nothing_lost().await;
    world.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_run_cancelled_while_its_ade_was_down_leaves_no_agent_running() {
    for db in databases().await {
        cancelled_while_its_ade_was_down(db).await;
    }
}

/// A run job's attempts (`RunJob::ATTEMPTS`): how often a run is taken over after its ade died.
const RUN_ATTEMPTS: usize = 3;

async fn killed_on_every_attempt(db: crate::support::TestDb) {
    let agent = format!("{}{NOTES}", agent_gate("agent"));
    let mut world = Served::new(&agent).policy(notes_checked()).start(db).await;
    let issue = world.approved_goal("Project notes", ONE_TASK).await;
    for _ in 0..RUN_ATTEMPTS {
        world.waiting_at("agent").await;
        world.forget_gate("agent");
        world.kill_9_and_restart().await;
    }

    // The run's last attempt died with its ade: the run fails, and the goal says so.
    let failed = world
        .until("the run's failure on the goal", || {
            world
                .bot_comments(issue)
                .into_iter()
                .find(|c| c.contains("<!-- ade:run:"))
        })
        .await;
    assert!(failed.contains("could not be completed"), "{failed}");
    world.plan_saying(issue, "failed").await;
    world.settled().await;
    let runs = world.texts("SELECT state FROM runs").await;
    assert_eq!(runs, ["failed"], "{}", world.db_name());
    let tasks = world.texts("SELECT state FROM tasks").await;
    assert_eq!(tasks, ["failed"], "{}", world.db_name());
    assert!(world.sim().pulls(REPO).is_empty(), "no approval was opened");
    assert!(
        world.agent_processes().is_empty(),
        "no agent is left running"
    );
    world.no_write_twice();
    world.every_delivery_handled().await;
    world.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_run_whose_ade_is_killed_on_every_attempt_fails_visibly_on_sqlite() {
    killed_on_every_attempt(crate::support::db::sqlite()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_run_whose_ade_is_killed_on_every_attempt_fails_visibly_on_postgres() {
    match crate::support::db::postgres().await {
        Some(db) => killed_on_every_attempt(db).await,
        None => eprintln!("skipped: ADE_TEST_DATABASE_URL is not set"),
    }
}

// ----- during verification -----

async fn killed_while_verifying(db: crate::support::TestDb) {
    let steps = Policy::new().step(
        "notes",
        &format!("{}test -s notes/t1.md\n", step_gate("verify")),
    );
    let mut world = Served::new(NOTES).policy(steps).start(db).await;
    let issue = world.approved_goal("Project notes", ONE_TASK).await;
    world.waiting_at("verify").await;
    let draft = world
        .until("the approval, a draft while it is verified", || {
            world.sim().pulls(REPO).into_iter().find(|p| {
                p.draft
                    && verify_checks(&world, &p.head_sha)
                        .last()
                        .is_some_and(|c| c.state == CheckState::InProgress)
            })
        })
        .await;
    let verifying = world.agent_processes();
    assert!(!verifying.is_empty(), "the step is running");

    world.forget_gate("verify");
    world.kill_9_and_restart().await;
    world
        .until_gone(
            &verifying,
            "the step the killed ade left running to be stopped",
        )
        .await;
    world.waiting_at("verify").await;
    world.open_gate("verify");

    let pull = verified_approval(&world).await;
    assert_eq!(pull.number, draft.number, "the draft became the approval");
    // The run was carried out again and pushed a new commit; the check ade began on the
    // first one says why it stopped.
    assert_ne!(pull.head_sha, draft.head_sha, "the run pushed again");
    let first = verify_checks(&world, &draft.head_sha);
    assert!(
        first.len() == 1
            && first[0].state == CheckState::Cancelled
            && first[0].title.contains("superseded"),
        "{first:#?}"
    );
    world
        .plan_saying(issue, &format!("review · #{}", pull.number))
        .await;
    world.settled().await;
    one_run_in_review(&world, &pull).await;
    world.no_write_twice();
    world.nothing_lost().await;
    world.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_verification_whose_ade_was_killed_ends_on_the_forge_and_its_steps_are_stopped() {
    for db in databases().await {
        killed_while_verifying(db).await;
    }
}

// ----- between a forge write and its record -----

/// The forge write that is carried out while ade is killed, before its answer reaches ade.
#[derive(Clone, Copy, Debug)]
enum Held {
    /// Opening the task's approval.
    Approval,
    /// Creating `ade/verify`, in progress, on the pushed commit.
    Check,
}

impl Held {
    fn path(self) -> String {
        match self {
            Held::Approval => format!("/repos/{REPO}/pulls"),
            Held::Check => format!("/repos/{REPO}/check-runs"),
        }
    }
}

async fn killed_between_write_and_record(held: Held, db: crate::support::TestDb) {
    eprintln!("{held:?}");
    let mut world = Served::new(NOTES).policy(notes_checked()).start(db).await;
    let path = held.path();
    // The forge carries the write out and holds its answer, so the kill comes after the forge
    // acted and before ade could record what it did.
    world.sim().inject(FaultRule::new(
        "POST",
        &path,
        Fault::AnswerLost {
            status: 504,
            hold: Duration::from_secs(60),
        },
    ));
    let issue = world.approved_goal("Project notes", ONE_TASK).await;
    let written = world
        .until("the forge to carry the write out, its answer held", || {
            world
                .carried_out("POST", &path)
                .into_iter()
                .find(|c| c.answer_lost())
        })
        .await;

    world.kill_9_and_restart().await;
    let pull = verified_approval(&world).await;
    world
        .plan_saying(issue, &format!("review · #{}", pull.number))
        .await;
    world.settled().await;
    match held {
        Held::Approval => {
            let opened = world.carried_out("POST", &path);
            assert_eq!(opened.len(), 1, "the approval was opened once: {opened:#?}");
        }
        Held::Check => {
            // The check is a write job of its own, beside the run's verification. Either the run
            // ended before the kill, and the check the killed ade never heard of was found and
            // finished; or the run was carried out again and pushed a new commit, and the check
            // was found and stopped. Never left in progress, never created twice.
            let first = written.json()["head_sha"].as_str().unwrap().to_string();
            let expected = if first == pull.head_sha {
                CheckState::Success
            } else {
                CheckState::Cancelled
            };
            let checks = verify_checks(&world, &first);
            assert!(
                checks.len() == 1 && checks[0].state == expected,
                "{expected:?}: {checks:#?}"
            );
        }
    }
    one_run_in_review(&world, &pull).await;
    world.no_write_twice();
    world.nothing_lost().await;
    world.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_approval_opened_as_ade_was_killed_is_found_not_opened_again() {
    for db in databases().await {
        killed_between_write_and_record(Held::Approval, db).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_check_created_as_ade_was_killed_does_not_stay_in_progress() {
    for db in databases().await {
        killed_between_write_and_record(Held::Check, db).await;
    }
}

// ----- during ingest -----

/// How many goals the maintainer plans in one burst.
const GOALS: usize = 16;

async fn killed_while_comments_arrive(db: crate::support::TestDb) {
    let mut world = Served::new(NOTES).policy(notes_checked()).start(db).await;
    let mut issues = Vec::new();
    for n in 0..GOALS {
        issues.push(
            world
                .issue(MAINTAINER, &format!("Goal {n}"), ONE_TASK)
                .await,
        );
    }
    // The maintainer asks for every plan, one comment after the other; ade is killed as soon
    // as a few were taken.
    let asking = world.comments_one_after_another(MAINTAINER, &issues, "/ade plan");
    let taken = |world: &World| {
        plan_requests(world)
            .iter()
            .filter(|d| matches!(d.outcome, DeliveryOutcome::Sent { status } if status < 300))
            .count()
    };
    world
        .until("a few requests taken", || {
            (taken(&world) >= 4).then_some(())
        })
        .await;
    world.ade.kill_9();
    let left = world.unfinished_jobs().await;
    assert!(left > 0, "the kill must leave work behind to test");
    world.restart().await;
    asking.await.unwrap();

    // The forge's deliveries that never reached ade are sent again, as an operator's redeliver
    // does; those ade stored are known to it.
    let mut missed = 0;
    for delivery in plan_requests(&world) {
        if !matches!(delivery.outcome, DeliveryOutcome::Sent { status } if status < 300) {
            missed += 1;
            let again = world.sim().redeliver(&delivery.id).await;
            assert!(
                matches!(again, Some(DeliveryOutcome::Sent { status }) if status < 300),
                "{again:?}"
            );
        }
    }
    eprintln!(
        "{}: {left} jobs left at the kill, {missed} of {GOALS} requests redelivered",
        world.db_name()
    );
    for issue in &issues {
        world.plan_saying(*issue, "· validated").await;
    }
    world.settled().await;
    for issue in &issues {
        let plans = world
            .bot_comments(*issue)
            .into_iter()
            .filter(|c| c.contains(&format!("<!-- ade:plan:{issue} -->")))
            .count();
        assert_eq!(plans, 1, "one plan on #{issue}");
    }
    world.no_write_twice();
    world.nothing_lost().await;
    for delivery in plan_requests(&world) {
        assert_eq!(
            world.delivery_state(&delivery.id).await,
            Some(DeliveryState::Processed),
            "the request {} was stored and handled",
            delivery.id
        );
    }
    world.stop();
}

/// The forge's first deliveries of the maintainer's `/ade plan` comments.
fn plan_requests(world: &World) -> Vec<ade::sim::DeliveryRecord> {
    world
        .sim()
        .deliveries()
        .into_iter()
        .filter(|d| {
            !d.redelivery
                && d.event == "issue_comment"
                && d.json()["comment"]["body"] == "/ade plan"
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_burst_of_plans_cut_by_a_kill_is_planned_once_each() {
    for db in databases().await {
        killed_while_comments_arrive(db).await;
    }
}
