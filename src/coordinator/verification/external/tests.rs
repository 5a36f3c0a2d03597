//! The wait's decisions after each look, without a forge: what ends it, what it keeps between
//! looks, and when it looks again.

use super::*;
use crate::forge::{ExternalCheck, ExternalState, ForgeError};
use crate::verify::ExternalOutcome;

fn plain(text: &str) -> String {
    text.to_string()
}

fn policy(names: &[&str], timeout_secs: u64) -> EffectivePolicy {
    let mut policy = EffectivePolicy::default();
    policy.external_checks.names = names.iter().map(|n| n.to_string()).collect();
    policy.external_checks.timeout = Duration::from_secs(timeout_secs);
    policy
}

fn wait(names: &[&str]) -> Awaited {
    Awaited::new(
        &policy(names, 100),
        VerificationReport::new(Vec::new(), 10),
        None,
        1_000,
    )
}

fn check(name: &str, id: i64, state: ExternalState) -> ExternalCheck {
    ExternalCheck {
        name: name.into(),
        id: Some(id),
        source: ExternalSource::CheckRun,
        state,
        conclusion: match state {
            ExternalState::Pending => None,
            ExternalState::Passed => Some("success".into()),
            ExternalState::Failed => Some("failure".into()),
        },
        title: None,
        summary: Some("what the CI said".into()),
        text: None,
        annotations: Vec::new(),
        link: None,
    }
}

fn found(checks: Vec<ExternalCheck>) -> ExternalLook {
    ExternalLook {
        checks,
        read: vec![ExternalSource::CheckRun, ExternalSource::Status],
        unread: Vec::new(),
    }
}

fn outcomes(next: &Next) -> Vec<ExternalOutcome> {
    match next {
        Next::Done(results) => results.iter().map(|r| r.outcome).collect(),
        Next::LookAt(at) => panic!("still waiting, until {at}"),
    }
}

#[test]
fn the_poll_follows_the_timeout_within_bounds() {
    assert_eq!(
        poll_interval(Duration::from_secs(1800)),
        Duration::from_secs(30)
    );
    assert_eq!(
        poll_interval(Duration::from_secs(100)),
        Duration::from_secs(5)
    );
    assert_eq!(poll_interval(Duration::from_secs(2)), MIN_GAP);
}

#[test]
fn the_deadline_is_absolute_and_looks_come_every_poll_interval() {
    let mut wait = wait(&["ci/test"]);
    assert_eq!((wait.until, wait.poll_ms), (101_000, 5_000));
    let next = wait.after_look(ForgeKind::Github, &found(Vec::new()), 2_000, &plain);
    assert_eq!(next, Next::LookAt(7_000));
    let next = wait.after_look(ForgeKind::Github, &found(Vec::new()), 99_000, &plain);
    assert_eq!(next, Next::LookAt(101_000), "never past the deadline");
    let stored: Awaited = serde_json::from_str(&serde_json::to_string(&wait).unwrap()).unwrap();
    assert_eq!(stored, wait, "the wait reads back as it was stored");
}

#[test]
fn a_check_never_posted_by_the_deadline_is_an_error_not_a_failure() {
    let mut wait = wait(&["ci/test"]);
    let next = wait.after_look(ForgeKind::Gitea, &found(Vec::new()), 101_000, &plain);
    assert_eq!(outcomes(&next), [ExternalOutcome::Missing]);
    let Next::Done(results) = next else { panic!() };
    let report = wait.report(results, 101_000);
    assert_eq!(report.verdict, crate::verify::Verdict::Error);
    let reason = report.error_reason().unwrap();
    assert!(
        reason.starts_with("external check ci/test: never posted on the head within 1m 40s"),
        "{reason}"
    );
    assert!(reason.contains("branch filters"), "{reason}");
}

#[test]
fn a_check_a_person_reruns_counts_as_it_ends_last() {
    let mut wait = wait(&["ci/test", "ci/lint"]);
    let first = found(vec![
        check("ci/test", 1, ExternalState::Failed),
        check("ci/lint", 2, ExternalState::Pending),
    ]);
    assert!(matches!(
        wait.after_look(ForgeKind::Github, &first, 2_000, &plain),
        Next::LookAt(_)
    ));
    assert_eq!(
        wait.known(),
        [1],
        "the failed run's annotations are not read again"
    );
    let rerun = found(vec![
        check("ci/test", 3, ExternalState::Passed),
        check("ci/lint", 2, ExternalState::Passed),
    ]);
    let next = wait.after_look(ForgeKind::Github, &rerun, 9_000, &plain);
    assert_eq!(
        outcomes(&next),
        [ExternalOutcome::Passed, ExternalOutcome::Passed]
    );
}

#[test]
fn one_failed_look_near_the_deadline_does_not_make_every_check_unreadable() {
    let mut wait = wait(&["ci/test"]);
    let running = found(vec![check("ci/test", 1, ExternalState::Pending)]);
    assert!(matches!(
        wait.after_look(ForgeKind::Github, &running, 98_000, &plain),
        Next::LookAt(_)
    ));
    let down = ExternalLook {
        checks: Vec::new(),
        read: Vec::new(),
        unread: vec![
            (
                ExternalSource::CheckRun,
                ForgeError::Unavailable("502".into()),
            ),
            (
                ExternalSource::Status,
                ForgeError::Unavailable("502".into()),
            ),
        ],
    };
    let next = wait.after_look(ForgeKind::Github, &down, 101_000, &plain);
    assert_eq!(
        outcomes(&next),
        [ExternalOutcome::Unfinished],
        "the last good look counts"
    );

    let mut wait = self::wait(&["ci/test"]);
    for at in [2_000, 50_000, 101_000] {
        let next = wait.after_look(ForgeKind::Github, &down, at, &plain);
        if at == 101_000 {
            let Next::Done(results) = next else { panic!() };
            assert_eq!(results[0].outcome, ExternalOutcome::Unreadable);
            assert!(results[0].how.contains("502"), "{}", results[0].how);
        }
    }
}

#[test]
fn statuses_refused_do_not_sink_a_policy_of_check_runs_and_a_refusal_ends_the_wait_at_once() {
    let forbidden = || ForgeError::Forbidden("Resource not accessible by integration".into());
    let runs_only = |checks: Vec<ExternalCheck>| ExternalLook {
        checks,
        read: vec![ExternalSource::CheckRun],
        unread: vec![(ExternalSource::Status, forbidden())],
    };
    let mut wait = wait(&["ci/test"]);
    let next = wait.after_look(ForgeKind::Github, &runs_only(Vec::new()), 2_000, &plain);
    assert_eq!(next, Next::LookAt(7_000), "the check run may yet come");
    let passed = runs_only(vec![check("ci/test", 1, ExternalState::Passed)]);
    let next = wait.after_look(ForgeKind::Github, &passed, 7_000, &plain);
    assert_eq!(outcomes(&next), [ExternalOutcome::Passed]);

    // Never found, and the statuses it might be among refused: an error naming the permission.
    let mut wait = self::wait(&["ci/lint"]);
    let next = wait.after_look(ForgeKind::Github, &runs_only(Vec::new()), 101_000, &plain);
    let Next::Done(results) = next else { panic!() };
    assert_eq!(results[0].outcome, ExternalOutcome::Unreadable);
    assert!(
        results[0].how.contains("`statuses: read`"),
        "{}",
        results[0].how
    );

    // Nothing readable at all: the wait ends at once, not at the timeout.
    let mut wait = self::wait(&["ci/test"]);
    let refused = ExternalLook {
        checks: Vec::new(),
        read: Vec::new(),
        unread: vec![
            (ExternalSource::CheckRun, forbidden()),
            (ExternalSource::Status, forbidden()),
        ],
    };
    let Next::Done(results) = wait.after_look(ForgeKind::Github, &refused, 2_000, &plain) else {
        panic!("a refusal is not asked again for the whole timeout")
    };
    assert_eq!(results[0].outcome, ExternalOutcome::Unreadable);
    assert!(
        results[0].how.contains("`checks: read`"),
        "{}",
        results[0].how
    );
}

#[test]
fn a_stopped_wait_keeps_what_ended_and_cancels_the_rest() {
    let mut wait = wait(&["ci/test", "ci/lint"]);
    let one = found(vec![check("ci/test", 1, ExternalState::Passed)]);
    wait.after_look(ForgeKind::Github, &one, 2_000, &plain);
    let stopped: Vec<ExternalOutcome> = wait.stopped().iter().map(|r| r.outcome).collect();
    assert_eq!(
        stopped,
        [ExternalOutcome::Passed, ExternalOutcome::Cancelled]
    );
}
