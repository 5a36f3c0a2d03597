//! The verdict rule, and the check, comments and feedback made from reports, snapshot-tested
//! against tests/snapshots/ like every text ade posts.

use std::time::Duration;

use super::*;
use crate::forge::{AnnotationLevel, CheckState, ForgeKind};
use crate::templates::snapshot;

fn step(name: &str, kind: StepKind, outcome: StepOutcome) -> StepResult {
    StepResult {
        name: name.into(),
        kind,
        outcome,
        exit: match outcome {
            StepOutcome::Passed => "exited with code 0".into(),
            StepOutcome::TimedOut => "timed out and was stopped".into(),
            StepOutcome::Cancelled => "cancelled and stopped".into(),
            StepOutcome::Error | StepOutcome::Skipped => "did not run".into(),
            StepOutcome::Failed => "exited with code 101".into(),
        },
        duration_ms: 1234,
        reason: None,
        tail: Vec::new(),
        annotations: Vec::new(),
        output_bytes: 100,
        truncated: false,
        log: None,
    }
}

fn verdict(outcomes: &[StepOutcome]) -> Verdict {
    let steps: Vec<StepResult> = outcomes
        .iter()
        .map(|o| step("s", StepKind::Dynamic, *o))
        .collect();
    Verdict::of(&steps)
}

#[test]
fn the_verdict_rule() {
    use StepOutcome::*;
    assert_eq!(verdict(&[]), Verdict::NothingToVerify);
    assert_eq!(verdict(&[Passed, Passed]), Verdict::Passed);
    assert_eq!(verdict(&[Passed, Failed]), Verdict::Failed);
    assert_eq!(verdict(&[TimedOut, Passed]), Verdict::Failed);
    assert_eq!(verdict(&[Error, Passed]), Verdict::Error);
    assert_eq!(verdict(&[Error, Failed]), Verdict::Failed);
    assert_eq!(verdict(&[Failed, Skipped]), Verdict::Failed);
    assert_eq!(verdict(&[Error, Skipped]), Verdict::Error);
    assert_eq!(verdict(&[Failed, Cancelled]), Verdict::Cancelled);
    assert_eq!(verdict(&[Passed, Cancelled, Cancelled]), Verdict::Cancelled);
    assert_eq!(verdict(&[Error, TimedOut, Cancelled]), Verdict::Cancelled);
    assert_eq!(
        verdict(&[Skipped]),
        Verdict::Error,
        "skipping all is no pass"
    );
    assert!(Verdict::Passed.lets_through() && Verdict::NothingToVerify.lets_through());
    for blocked in [Verdict::Failed, Verdict::Error, Verdict::Cancelled] {
        assert!(!blocked.lets_through());
    }
}

#[test]
fn every_outcome_combination_follows_the_rule() {
    use StepOutcome::*;
    let all = [Passed, Failed, TimedOut, Error, Cancelled, Skipped];
    for a in all {
        for b in all {
            let got = verdict(&[a, b]);
            let has = |o: StepOutcome| a == o || b == o;
            let expected = if has(Cancelled) {
                Verdict::Cancelled
            } else if has(Failed) || has(TimedOut) {
                Verdict::Failed
            } else if has(Error) || !has(Passed) {
                Verdict::Error
            } else {
                Verdict::Passed
            };
            assert_eq!(got, expected, "{a:?} {b:?}");
        }
    }
}

#[test]
fn reports_round_trip_as_json() {
    let report = failing_report();
    let json = serde_json::to_string(&report).unwrap();
    assert!(json.contains("\"verdict\":\"failed\"") && json.contains("\"kind\":\"static\""));
    let back: VerificationReport = serde_json::from_str(&json).unwrap();
    assert_eq!(back, report);
}

#[test]
fn a_report_that_could_not_start_is_an_error_per_step() {
    let steps = vec![VerificationStep {
        name: "test".into(),
        kind: StepKind::Dynamic,
        command: vec!["cargo".into(), "test".into()],
        timeout: Duration::from_secs(60),
    }];
    let report = VerificationReport::not_run(&steps, "the worktree is gone");
    assert_eq!(report.verdict, Verdict::Error);
    assert_eq!(
        report.error_reason().unwrap(),
        "step test: the worktree is gone"
    );
    assert_eq!(
        VerificationReport::not_run(&[], "x").verdict,
        Verdict::NothingToVerify
    );
}

#[test]
fn durations_read_like_people_write_them() {
    assert_eq!(human_duration(400), "0.4 s");
    assert_eq!(human_duration(12_345), "12.3 s");
    assert_eq!(human_duration(192_000), "3m 12s");
    assert_eq!(human_duration(3_725_000), "1h 02m");
}

fn context(forge: ForgeKind) -> CheckContext {
    CheckContext {
        forge,
        head_sha: "4b825dc642cb6eb9a060e54bf8d69288fbee4904".into(),
        spec_reference: "acme/widgets#12@v2".into(),
        task_id: "t2".into(),
        run_id: 42,
        attempt: 2,
        attempts: 3,
        details_url: Some("https://ade.example.com/runs/42".into()),
    }
}

fn failing_report() -> VerificationReport {
    let mut fmt = step("fmt", StepKind::Static, StepOutcome::Passed);
    fmt.duration_ms = 412;
    let mut lint = step("lint", StepKind::Static, StepOutcome::Failed);
    lint.exit = "exited with code 1".into();
    lint.tail = vec![
        "src/lib.rs:3:5: error: unused variable `x` @everyone".into(),
        "```".into(),
        "<img src=x onerror=alert(1)> | fixes #1".into(),
        "found 1 error".into(),
    ];
    lint.annotations = vec![crate::forge::CheckAnnotation {
        path: "src/lib.rs".into(),
        start_line: 3,
        end_line: 3,
        start_column: Some(5),
        level: AnnotationLevel::Failure,
        message: "error: unused variable `x` @everyone".into(),
        title: Some("lint".into()),
    }];
    let mut slow = step("typos", StepKind::Static, StepOutcome::TimedOut);
    slow.duration_ms = 5_000;
    slow.reason = Some("ran past its time limit (5 s)".into());
    slow.tail = vec!["checking…".into()];
    slow.truncated = true;
    slow.output_bytes = 52_428_800;
    let mut test = step("test", StepKind::Dynamic, StepOutcome::Skipped);
    test.reason = Some("static steps lint, typos did not pass".into());
    VerificationReport::new(vec![fmt, lint, slow, test], 6_646)
}

fn passing_report() -> VerificationReport {
    VerificationReport::new(
        vec![
            step("fmt", StepKind::Static, StepOutcome::Passed),
            step("test", StepKind::Dynamic, StepOutcome::Passed),
        ],
        2_468,
    )
}

fn rendered(check: &crate::forge::Check) -> String {
    format!(
        "state: {:?}\ntitle: {}\nexternal_id: {}\nannotations: {}\n\n{}",
        check.state,
        check.title,
        check.external_id.as_deref().unwrap_or("-"),
        check.annotations.len(),
        check.summary
    )
}

/// The code blocks of a Markdown text, and everything a reader sees outside them (prose, cells,
/// inline HTML), as a CommonMark parser with GitHub's extensions reads it.
fn read_markdown(text: &str) -> (Vec<String>, String) {
    use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd};
    let mut blocks = Vec::new();
    let mut outside = String::new();
    let mut block: Option<String> = None;
    for event in Parser::new_ext(text, Options::ENABLE_TABLES) {
        match event {
            Event::Start(Tag::CodeBlock(_)) => block = Some(String::new()),
            Event::End(TagEnd::CodeBlock) => blocks.extend(block.take()),
            Event::Text(t) => match &mut block {
                Some(b) => b.push_str(&t),
                None => outside.push_str(&t),
            },
            Event::Html(h) | Event::InlineHtml(h) => outside.push_str(&h),
            _ => {}
        }
    }
    (blocks, outside)
}

#[test]
fn check_in_progress() {
    let check = check::check(
        &context(ForgeKind::Github),
        CheckStage::InProgress { steps: 4 },
    )
    .unwrap();
    assert_eq!(check.state, CheckState::InProgress);
    assert_eq!(check.name, "ade/verify");
    snapshot("verify-check-in-progress", &rendered(&check));
}

#[test]
fn check_passed() {
    let report = passing_report();
    let check = check::check(&context(ForgeKind::Github), CheckStage::Completed(&report)).unwrap();
    assert_eq!(check.state, CheckState::Success);
    snapshot("verify-check-passed", &rendered(&check));
}

#[test]
fn check_failed_keeps_hostile_output_in_its_code_block() {
    let report = failing_report();
    let check = check::check(&context(ForgeKind::Github), CheckStage::Completed(&report)).unwrap();
    assert_eq!(check.state, CheckState::Failure);
    assert_eq!(check.title, "2 of 4 steps failed: lint, typos");
    assert_eq!(check.annotations.len(), 1);
    assert_eq!(check.annotations[0].path, "src/lib.rs");
    let (blocks, outside) = read_markdown(&check.summary);
    assert_eq!(blocks.len(), 2, "{blocks:?}");
    assert_eq!(
        blocks[0].lines().last(),
        Some("found 1 error"),
        "the tail stays in its block, the fence line inside it too: {blocks:?}"
    );
    for hostile in ["@everyone", "<img", "fixes #1"] {
        assert!(
            !outside.contains(hostile),
            "{hostile} outside code:\n{outside}"
        );
    }
    assert!(check.summary.contains("Ade-Spec: `acme/widgets#12@v2`"));
    assert!(check.summary.contains("Ade-Run: `42`"));
    snapshot("verify-check-failed", &rendered(&check));
}

#[test]
fn check_with_nothing_to_verify_is_neutral() {
    let report = VerificationReport::new(Vec::new(), 0);
    let check = check::check(&context(ForgeKind::Gitea), CheckStage::Completed(&report)).unwrap();
    assert_eq!(check.state, CheckState::Neutral);
    assert_eq!(
        check.title,
        "no verification steps are set for this repository"
    );
    snapshot("verify-check-nothing", &rendered(&check));
}

#[test]
fn check_error_says_why_and_never_passes() {
    let mut missing = step("lint", StepKind::Static, StepOutcome::Error);
    missing.reason =
        Some("cannot start `ruff`: No such file or directory (os error 2) | <b>@team</b>".into());
    let passed = step("fmt", StepKind::Static, StepOutcome::Passed);
    let report = VerificationReport::new(vec![passed, missing], 100);
    let check = check::check(&context(ForgeKind::Github), CheckStage::Completed(&report)).unwrap();
    assert_eq!(check.state, CheckState::Error);
    assert!(
        check
            .title
            .starts_with("verification could not run: step lint: cannot start"),
        "{}",
        check.title
    );
    snapshot("verify-check-error", &rendered(&check));

    let before = check::check(
        &context(ForgeKind::Gitea),
        CheckStage::CouldNotRun {
            reason: "the worktree /var/lib/ade/runs/42/worktree is gone",
        },
    )
    .unwrap();
    assert_eq!(before.state, CheckState::Error);
    assert!(before.title.chars().count() <= 140, "{}", before.title);
    snapshot("verify-check-could-not-run", &rendered(&before));
}

#[test]
fn check_superseded_names_the_newer_head() {
    let check = check::check(
        &context(ForgeKind::Github),
        CheckStage::Superseded {
            newer_head: "9fceb02d0ae598e95dc970b74767f19372d61af8",
        },
    )
    .unwrap();
    assert_eq!(check.state, CheckState::Cancelled);
    assert!(check.title.contains("9fceb02d0ae5"), "{}", check.title);
    snapshot("verify-check-superseded", &rendered(&check));
}

#[test]
fn a_huge_report_fits_the_forge_with_its_table_whole() {
    let mut report = failing_report();
    for n in 0..20 {
        let mut s = step(&format!("s{n}"), StepKind::Dynamic, StepOutcome::Failed);
        s.tail = (0..40)
            .map(|i| format!("{i} {}", "`".repeat(290)))
            .collect();
        report.steps.push(s);
    }
    report.verdict = Verdict::of(&report.steps);
    let check = check::check(&context(ForgeKind::Github), CheckStage::Completed(&report)).unwrap();
    assert!(
        check.summary.len() <= check::MAX_TEXT,
        "{}",
        check.summary.len()
    );
    assert!(check.summary.contains("| `s19` |"));
    let comment =
        check::report_comment(&context(ForgeKind::Gitea), &report, CommentKind::Report).unwrap();
    assert!(comment.len() <= check::MAX_TEXT);
}

#[test]
fn gitea_report_comment_lists_the_annotations() {
    let report = failing_report();
    let comment =
        check::report_comment(&context(ForgeKind::Gitea), &report, CommentKind::Report).unwrap();
    assert!(comment.contains("Messages on files:"));
    let github =
        check::report_comment(&context(ForgeKind::Github), &report, CommentKind::Report).unwrap();
    assert!(!github.contains("Messages on files:"));
    snapshot("verify-comment", &comment);
}

#[test]
fn rejected_comment_names_the_failing_step_and_its_last_lines() {
    let mut report = failing_report();
    report.steps.retain(|s| s.name != "typos");
    report.verdict = Verdict::of(&report.steps);
    let mut ctx = context(ForgeKind::Github);
    ctx.attempt = 3;
    let comment = check::report_comment(&ctx, &report, CommentKind::Rejected).unwrap();
    assert!(
        comment.starts_with("**Rejected after 3 attempts:** step `lint` failed;"),
        "{comment}"
    );
    snapshot("verify-rejected", &comment);
}

#[test]
fn unsafe_links_are_left_out_of_comments() {
    let mut ctx = context(ForgeKind::Gitea);
    ctx.details_url = Some("https://x/a)[evil](https://evil".into());
    let comment = check::report_comment(&ctx, &passing_report(), CommentKind::Report).unwrap();
    assert!(!comment.contains("evil"), "{comment}");
}

#[test]
fn feedback_tells_the_agent_what_failed() {
    let report = failing_report();
    let mask = |t: &str| t.replace("unused", "[redacted]");
    let text = feedback::feedback(&report, &mask).unwrap().unwrap();
    assert!(text.contains("[redacted] variable"), "{text}");
    assert!(!text.contains("fmt"), "passing steps are left out:\n{text}");
    snapshot("verify-feedback", &text);
    assert_eq!(feedback::feedback(&passing_report(), &mask).unwrap(), None);
    let cancelled = VerificationReport::new(
        vec![step("test", StepKind::Dynamic, StepOutcome::Cancelled)],
        1,
    );
    assert_eq!(feedback::feedback(&cancelled, &mask).unwrap(), None);
}

#[test]
fn feedback_stays_small_however_much_failed() {
    let mut report = failing_report();
    for n in 0..20 {
        let mut s = step(&format!("s{n}"), StepKind::Dynamic, StepOutcome::Failed);
        s.tail = (0..40)
            .map(|i| format!("{i} {}", "x".repeat(290)))
            .collect();
        report.steps.push(s);
    }
    report.verdict = Verdict::of(&report.steps);
    let text = feedback::feedback(&report, &|t: &str| t.to_string())
        .unwrap()
        .unwrap();
    assert!(text.len() <= feedback::MAX_FEEDBACK, "{}", text.len());
    assert!(text.contains("- s19 (dynamic)") || text.ends_with("[… cut by ade]"));
}

fn external(name: &str, outcome: ExternalOutcome) -> ExternalResult {
    ExternalResult {
        name: name.into(),
        id: Some(7),
        source: Some(crate::forge::ExternalSource::CheckRun),
        outcome,
        how: match outcome {
            ExternalOutcome::Missing => "not posted on the head within 30m 00s".into(),
            ExternalOutcome::Unreadable => "the forge could not be read for 1.0 s: boom".into(),
            ExternalOutcome::Passed => "success".into(),
            _ => "failure".into(),
        },
        title: (outcome == ExternalOutcome::Failed).then(|| "1 test failed".into()),
        lines: if outcome == ExternalOutcome::Failed {
            vec![
                "failures:".into(),
                "    widgets::adds ``` | <b>".into(),
                "thread 'adds' panicked at src/lib.rs:9:5".into(),
            ]
        } else {
            Vec::new()
        },
        notes: if outcome == ExternalOutcome::Failed {
            vec!["src/lib.rs:9: assertion failed".into()]
        } else {
            Vec::new()
        },
        link: Some("https://ci.example.com/runs/7".into()),
    }
}

#[test]
fn external_checks_join_the_verdict() {
    use ExternalOutcome::*;
    let with = |own: Verdict, outcomes: &[ExternalOutcome]| {
        let list: Vec<ExternalResult> = outcomes.iter().map(|o| external("ci", *o)).collect();
        own.with_external(&list)
    };
    assert_eq!(with(Verdict::Passed, &[]), Verdict::Passed);
    assert_eq!(
        with(Verdict::NothingToVerify, &[]),
        Verdict::NothingToVerify
    );
    assert_eq!(with(Verdict::NothingToVerify, &[Passed]), Verdict::Passed);
    assert_eq!(with(Verdict::Passed, &[Passed, Failed]), Verdict::Failed);
    assert_eq!(with(Verdict::Passed, &[Missing]), Verdict::Error);
    assert_eq!(with(Verdict::Passed, &[Missing, Failed]), Verdict::Failed);
    assert_eq!(with(Verdict::Passed, &[Unfinished]), Verdict::Failed);
    assert_eq!(with(Verdict::Passed, &[Unreadable, Passed]), Verdict::Error);
    assert_eq!(
        with(Verdict::Passed, &[Unreadable, Failed]),
        Verdict::Failed
    );
    assert_eq!(with(Verdict::Failed, &[Passed]), Verdict::Failed);
    assert_eq!(
        with(Verdict::Passed, &[Failed, Cancelled]),
        Verdict::Cancelled
    );
    let report = passing_report().with_external(vec![external("ci/test", Unreadable)], 1000);
    assert_eq!(report.verdict, Verdict::Error);
    assert_eq!(report.duration_ms, 2_468 + 1000);
    assert_eq!(
        report.error_reason().as_deref(),
        Some("external check ci/test: the forge could not be read for 1.0 s: boom")
    );
    let stored: VerificationReport =
        serde_json::from_str(&serde_json::to_string(&report).unwrap()).unwrap();
    assert_eq!(stored, report);
    let older: VerificationReport =
        serde_json::from_str(r#"{"verdict":"passed","steps":[],"duration_ms":1}"#).unwrap();
    assert!(
        older.external.is_empty(),
        "reports from before keep reading"
    );
}

#[test]
fn check_lists_external_checks_and_what_a_failed_one_reported() {
    let report = passing_report().with_external(
        vec![
            external("ci/test", ExternalOutcome::Failed),
            external("ci/lint", ExternalOutcome::Passed),
            external("ci/docs", ExternalOutcome::Missing),
        ],
        60_000,
    );
    let check = check::check(&context(ForgeKind::Github), CheckStage::Completed(&report)).unwrap();
    assert_eq!(check.state, CheckState::Failure);
    // A check never posted is no failure of the change: the table shows it, the title does not.
    assert_eq!(check.title, "1 of 5 checks failed: ci/test");
    let (blocks, outside) = read_markdown(&check.summary);
    assert_eq!(blocks.len(), 1, "{blocks:?}");
    assert!(blocks[0].contains("widgets::adds ``` | <b>"), "{blocks:?}");
    assert!(!outside.contains("<b>"), "{outside}");
    snapshot("verify-check-external", &rendered(&check));
    let comment =
        check::report_comment(&context(ForgeKind::Gitea), &report, CommentKind::Rejected).unwrap();
    assert!(
        comment.contains("external check `ci/test` failed"),
        "{comment}"
    );
    let passed =
        passing_report().with_external(vec![external("ci/test", ExternalOutcome::Passed)], 1);
    let check = check::check(&context(ForgeKind::Github), CheckStage::Completed(&passed)).unwrap();
    assert_eq!(check.title, "all 3 checks passed");
    assert!(
        check
            .summary
            .contains("Every step and external check passed")
    );
}

#[test]
fn feedback_tells_the_agent_what_the_ci_said() {
    let report = passing_report().with_external(
        vec![
            external("ci/test", ExternalOutcome::Failed),
            external("ci/lint", ExternalOutcome::Passed),
            external("ci/docs", ExternalOutcome::Missing),
        ],
        1,
    );
    let text = feedback::feedback(&report, &|t: &str| t.replace("panicked", "[masked]"))
        .unwrap()
        .unwrap();
    assert!(
        !text.contains("ci/lint"),
        "passing checks are left out:\n{text}"
    );
    assert!(text.contains("[masked] at src/lib.rs:9:5"), "{text}");
    snapshot("verify-feedback-external", &text);
}

#[test]
fn an_external_checks_name_is_cleaned_in_the_table_as_in_the_title() {
    let hostile = "ci/te\u{200b}st\n| injected | row |<!-- x -->";
    let report =
        passing_report().with_external(vec![external(hostile, ExternalOutcome::Failed)], 1);
    let check = check::check(&context(ForgeKind::Github), CheckStage::Completed(&report)).unwrap();
    let row = check
        .summary
        .lines()
        .find(|l| l.contains("ci/te"))
        .unwrap_or_else(|| panic!("{}", check.summary));
    assert!(
        !row.contains('\u{200b}') && !row.contains("<!--"),
        "{row:?}"
    );
    assert!(
        !check.summary.lines().any(|l| l.starts_with("| injected")),
        "the name cannot break the table:\n{}",
        check.summary
    );
}
