//! Verification and the review gate, end to end: a maintainer plans and approves a goal, ade's
//! embedded runner carries its tasks out with script agents, pushes to the simulator's real git,
//! opens each approval as a draft while the policy's `[[verification.steps]]` run on the pushed
//! change, reports `ade/verify` (a check run on GitHub, a commit status and a sticky report
//! comment on Gitea and Forgejo), retries with the failure as feedback, rejects as the policy
//! says, verifies again when someone pushes or asks, and merges only through the gate.
//!
//! Every story runs on SQLite, and on PostgreSQL too when `ADE_TEST_DATABASE_URL` is set.

use super::support::TestDb;
use super::support::story::{MAINTAINER, READER, REPO, REVIEWER, Story, WRITER};
use super::support::verify::{
    Forge, PUBLIC_URL, Policy, Setup, all_done, all_runs, approval_of, approved_goal, comment_with,
    merge_calls, on_each_database, open_link, opened_as_draft, prompt_of, pull, pull_until,
    ready_calls, run_of, summary_of, verify_check, verify_checks, verify_report_text,
    verify_reports, verify_reports_until,
};
use ade::forge::CheckState;
use ade::forge::ReviewState;
use ade::lifecycle::State;
use ade::sim::{Fault, FaultRule, MergeStyle};
use std::time::Duration;

// ----- 1. the green path -----

/// A goal's one task is carried out, verified while its approval waits as a draft, marked ready
/// for review, merged by the maintainer; the goal is then archived with a summary.
async fn green_path(forge: Forge, db: TestDb) {
    let mut policy = Policy::new().step("notes", "grep -q 'notes of t1' notes/t1.md");
    if forge == Forge::Forgejo {
        policy = policy.close_issue();
    }
    let story = Setup::on(forge).policy(policy).public_url().start(db).await;
    let issue = approved_goal(&story, "Project notes", "- [ ] Write the first notes\n").await;

    let opened = approval_of(&story, "t1").await;
    let ready = pull_until(
        &story,
        opened.number,
        "the approval ready for review",
        |p| !p.draft,
    )
    .await;
    assert!(
        opened_as_draft(&story, opened.number),
        "ade opened the approval as a draft"
    );
    let check = verify_check(&story, &ready.head_sha, &[CheckState::Success]).await;
    let reported = verify_reports_until(&story, &ready.head_sha, "success").await;
    let in_progress = if forge == Forge::Github {
        "in_progress"
    } else {
        "pending"
    };
    assert_eq!(
        reported,
        [in_progress, "success"],
        "ade/verify was in progress while the draft waited, then passed"
    );
    if forge != Forge::Github {
        assert!(
            !ready.title.starts_with("WIP: "),
            "ready on Gitea: no WIP prefix in {:?}",
            ready.title
        );
    }
    let (passed_at, ready_at) = story
        .until(
            "the calls that passed the check and marked it ready",
            |s| match ready_calls(s, ready.number) {
                (Some(passed), Some(ready)) => Some((passed, ready)),
                _ => None,
            },
        )
        .await;
    assert!(
        ready_at > passed_at,
        "marked ready for review (call {ready_at}) after ade/verify passed (call {passed_at})"
    );

    let run = run_of(&story, "t1", 1, &["succeeded"]).await;
    let text = verify_report_text(&story, ready.number, &ready.head_sha).await;
    for named in [
        format!("Ade-Spec: `{REPO}#{issue}@v1`"),
        "Ade-Task: `t1`".into(),
        format!("Ade-Run: `{}`", run.id),
    ] {
        assert!(text.contains(&named), "the report names {named}: {text}");
    }
    assert!(text.contains("`notes`"), "the step is listed: {text}");

    let link = check.details_url.clone().expect("the check links its log");
    assert!(
        link.starts_with(&format!("{PUBLIC_URL}/runs/{}/log?v=", run.id)),
        "{link}"
    );
    let (status, log) = open_link(&story, &link).await;
    assert_eq!(status, 200, "the signed link opens the log: {log}");
    assert!(
        log.contains("[ade] verification step notes (static)"),
        "the log has the step: {log}"
    );
    let (signature_at, _) = link.rsplit_once("&sig=").unwrap();
    let mut forged = link.clone();
    let last = forged.pop().unwrap();
    forged.push(if last == '0' { '1' } else { '0' });
    for refused in [forged.as_str(), signature_at] {
        let (status, body) = open_link(&story, refused).await;
        assert_eq!(status, 404, "{refused} is refused: {body}");
        assert!(!body.contains("verification step"), "{body}");
    }

    story
        .sim
        .merge_pull(REPO, ready.number, MAINTAINER, MergeStyle::Merge)
        .await
        .unwrap();
    let summary = summary_of(&story, issue).await;
    assert!(
        summary.contains("1 merged, 0 rejected, 0 cancelled · 1 run · agent time"),
        "{summary}"
    );
    assert!(
        summary.contains(&format!(
            "| `t1` | Write the first notes | merged | #{} | 1 |",
            ready.number
        )),
        "{summary}"
    );
    all_done(&story).await;
    let plan = story.plan_comment(issue).unwrap();
    assert!(plan.contains("· archived"), "{plan}");
    let open = story.sim.issue(REPO, issue).unwrap().open;
    if forge == Forge::Forgejo {
        assert!(
            !open,
            "`[goals] close_issue = true` closes the finished goal"
        );
        assert!(summary.contains("ade closes this issue"), "{summary}");
    } else {
        assert!(open, "the goal stays open by default");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_verified_task_is_merged_and_its_goal_archived_with_a_summary_on_github() {
    on_each_database(|db| green_path(Forge::Github, db)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_verified_task_is_merged_and_its_goal_archived_with_a_summary_on_gitea() {
    on_each_database(|db| green_path(Forge::Gitea, db)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_verified_task_is_merged_and_its_goal_archived_and_closed_on_forgejo() {
    on_each_database(|db| green_path(Forge::Forgejo, db)).await;
}

// ----- 2. a failure, fed back, fixed on the second attempt -----

/// Writes the notes; heads them with a title once the feedback says they need one.
const LEARNS_FROM_FEEDBACK: &str = "mkdir -p notes\n\
    if grep -q 'the notes need a title line' \"$ADE_PROMPT_FILE\"; then\n\
      (echo \"# Notes of $ADE_TASK_ID\"; cat notes/$ADE_TASK_ID.md) > notes/heading.tmp\n\
      mv notes/heading.tmp notes/$ADE_TASK_ID.md\n\
    else\n\
      echo \"notes of $ADE_TASK_ID\" > notes/$ADE_TASK_ID.md\n\
    fi\n";

/// Passes once the notes start with a Markdown heading.
const NEEDS_A_TITLE: &str = "head -n 1 notes/t1.md | grep -q '^# ' && exit 0\n\
    echo 'checking notes/t1.md'\n\
    echo 'notes/t1.md:1:1: the notes need a title line'\n\
    echo 'expected a Markdown heading on line 1'\n\
    exit 1\n";

async fn fixed_on_the_second_attempt(forge: Forge, db: TestDb) {
    let story = Setup::on(forge)
        .agent(LEARNS_FROM_FEEDBACK)
        .policy(Policy::new().step("title", NEEDS_A_TITLE).attempts(2))
        .start(db)
        .await;
    approved_goal(&story, "Project notes", "- [ ] Write the first notes\n").await;

    let first = run_of(&story, "t1", 1, &["failed"]).await;
    assert!(
        first
            .reason
            .as_deref()
            .unwrap_or("")
            .contains("verification failed: step title"),
        "{:?}",
        first.reason
    );
    let failed_head = first.head_sha.clone().expect("the first attempt pushed");
    verify_check(&story, &failed_head, &[CheckState::Failure]).await;

    let second = run_of(&story, "t1", 2, &["succeeded"]).await;
    assert_eq!(
        second.base_sha, failed_head,
        "the second attempt continues on the approval's head"
    );
    let prompt = prompt_of(&story, &second);
    for line in [
        "Why the previous attempt failed",
        "title (static): failed",
        "notes/t1.md:1:1: the notes need a title line",
        "expected a Markdown heading on line 1",
    ] {
        assert!(
            prompt.contains(line),
            "the second prompt holds {line:?}:\n{prompt}"
        );
    }
    assert!(
        !prompt_of(&story, &first).contains("the notes need a title line"),
        "the first prompt had no feedback"
    );

    let approval = approval_of(&story, "t1").await;
    let ready = pull_until(&story, approval.number, "the approval ready", |p| {
        !p.draft && p.head_sha == second.head_sha.clone().unwrap_or_default()
    })
    .await;
    assert!(ready.open);
    verify_check(&story, &ready.head_sha, &[CheckState::Success]).await;
    let notes = story
        .sim
        .file(REPO, &ready.head_sha, "notes/t1.md")
        .await
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&notes),
        "# Notes of t1\nnotes of t1\n"
    );
    assert_eq!(
        story.sim.pulls(REPO).len(),
        1,
        "both attempts share one approval"
    );
    all_done(&story).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_failed_step_is_fed_back_and_the_second_attempt_passes_on_github() {
    on_each_database(|db| fixed_on_the_second_attempt(Forge::Github, db)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_failed_step_is_fed_back_and_the_second_attempt_passes_on_gitea() {
    on_each_database(|db| fixed_on_the_second_attempt(Forge::Gitea, db)).await;
}

// ----- 3. failing every attempt: the approval is rejected as the policy says -----

/// Never satisfied.
const NEVER_GOOD: &str = "echo 'reading the notes'\n\
    echo 'notes/t1.md:1:1: the notes are not good enough'\n\
    echo 'the notes step gives up here'\n\
    exit 1\n";

async fn rejected(forge: Forge, action: &'static str, db: TestDb) {
    let mut policy = Policy::new()
        .step("notes", NEVER_GOOD)
        .attempts(2)
        .reject(action);
    if action != "close" {
        // Opened ready for review, so a rejection that makes it a draft is seen.
        policy = policy.no_drafts();
    }
    let story = Setup::on(forge).policy(policy).start(db).await;
    let issue = approved_goal(
        &story,
        "Project notes",
        "- [ ] Write the first notes\n- [ ] Publish the notes (after 1)\n",
    )
    .await;

    let first = run_of(&story, "t1", 1, &["failed"]).await;
    let last = run_of(&story, "t1", 2, &["failed"]).await;
    assert_eq!(last.base_sha, first.head_sha.clone().unwrap());
    let approval = approval_of(&story, "t1").await;
    let rejection = comment_with(&story, approval.number, "Rejected after 2 attempts").await;
    assert!(
        rejection.contains("step `notes` failed"),
        "the comment names the step: {rejection}"
    );
    assert!(
        rejection.contains("the notes step gives up here"),
        "and its last lines: {rejection}"
    );
    let head = last.head_sha.clone().unwrap();
    verify_check(&story, &head, &[CheckState::Failure]).await;
    let labelled = story
        .until("the rejection label", |s| {
            let p = s.sim.pull(REPO, approval.number)?;
            p.labels.iter().any(|l| l == "ade:rejected").then_some(p)
        })
        .await;
    match action {
        "close" => {
            let closed =
                pull_until(&story, approval.number, "the approval closed", |p| !p.open).await;
            assert!(!closed.merged);
        }
        "draft" => {
            let draft =
                pull_until(&story, approval.number, "the approval a draft", |p| p.draft).await;
            assert!(draft.open);
            assert!(
                !opened_as_draft(&story, approval.number),
                "it was opened ready for review"
            );
        }
        _ => {
            all_done(&story).await;
            let now = pull(&story, approval.number);
            assert!(
                now.open && !now.draft,
                "`label` only labels: {now:?} (labelled {labelled:?})"
            );
        }
    }
    let plan = story
        .until("the plan showing the rejection", |s| {
            s.plan_comment(issue)
                .filter(|p| p.contains("blocked: `t1` rejected"))
        })
        .await;
    assert!(
        plan.contains(&format!("| rejected · #{} |", approval.number)),
        "{plan}"
    );
    all_done(&story).await;
    let tasks = all_runs(&story).await;
    assert!(
        tasks.iter().all(|r| r.branch.ends_with("-t1")),
        "the dependant never ran"
    );
    assert!(
        story
            .bot_comments(issue)
            .iter()
            .all(|c| !c.contains("ade:summary")),
        "the goal is not finished while its dependant waits"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn failing_every_attempt_closes_the_approval_on_github() {
    on_each_database(|db| rejected(Forge::Github, "close", db)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn failing_every_attempt_makes_the_approval_a_draft_on_github() {
    on_each_database(|db| rejected(Forge::Github, "draft", db)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn failing_every_attempt_makes_the_approval_a_draft_on_gitea() {
    on_each_database(|db| rejected(Forge::Gitea, "draft", db)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn failing_every_attempt_labels_the_approval_on_forgejo() {
    on_each_database(|db| rejected(Forge::Forgejo, "label", db)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn failing_every_attempt_closes_the_approval_on_gitea() {
    on_each_database(|db| rejected(Forge::Gitea, "close", db)).await;
}

// ----- 4. someone pushes while ade's own head is being verified: the newest head decides -----

/// Passes at once when a reviewer's note is there; otherwise takes its time, then fails.
const WANTS_A_REVIEW_NOTE: &str = "test -f notes/reviewed.md && exit 0\n\
    sleep 20\n\
    echo 'notes/reviewed.md is missing'\n\
    exit 1\n";

async fn a_push_supersedes_a_running_verification(forge: Forge, db: TestDb) {
    let story = Setup::on(forge)
        .policy(
            Policy::new()
                .step("reviewed", WANTS_A_REVIEW_NOTE)
                .attempts(1)
                .reject("close"),
        )
        .start(db)
        .await;
    approved_goal(&story, "Project notes", "- [ ] Write the first notes\n").await;
    let approval = approval_of(&story, "t1").await;
    let ades_head = approval.head_sha.clone();
    verify_check(&story, &ades_head, &[CheckState::InProgress]).await;

    let pushed = story
        .sim
        .push(
            REPO,
            REVIEWER,
            &approval.head,
            &[("notes/reviewed.md", Some("reviewed by max\n"))],
            "Add the review note",
        )
        .await
        .unwrap();
    let pushed_at = std::time::Instant::now();
    let superseded = verify_check(
        &story,
        &ades_head,
        &[CheckState::Cancelled, CheckState::Neutral],
    )
    .await;
    assert!(
        superseded.title.contains("superseded by"),
        "the old head's check says why it stopped: {superseded:?}"
    );
    if forge == Forge::Github {
        assert_eq!(superseded.state, CheckState::Cancelled);
    } else {
        assert_eq!(superseded.raw_state, "warning", "{superseded:?}");
    }
    verify_check(&story, &pushed, &[CheckState::Success]).await;
    let ready = pull_until(&story, approval.number, "the approval ready", |p| !p.draft).await;
    assert!(ready.open, "the newest head's verdict decides: {ready:?}");
    assert_eq!(ready.head_sha, pushed);
    let run = run_of(&story, "t1", 1, &["succeeded", "failed", "cancelled"]).await;
    assert!(
        pushed_at.elapsed() < Duration::from_secs(15),
        "the old head's verification was stopped, not waited for"
    );
    assert_eq!(run.state.as_str(), "succeeded", "{run:?}");
    all_done(&story).await;
    assert!(
        story
            .bot_comments(approval.number)
            .iter()
            .all(|c| !c.contains("Rejected")),
        "nothing was rejected"
    );
    assert_eq!(all_runs(&story).await.len(), 1, "no retry");

    // The reviewer takes the note back, then thinks better of it while that head is verified.
    let taken_back = story
        .sim
        .push(
            REPO,
            REVIEWER,
            &approval.head,
            &[("notes/reviewed.md", None)],
            "Take the review note back",
        )
        .await
        .unwrap();
    verify_check(&story, &taken_back, &[CheckState::InProgress]).await;
    let restored = story
        .sim
        .push(
            REPO,
            REVIEWER,
            &approval.head,
            &[("notes/reviewed.md", Some("reviewed again by max\n"))],
            "Restore the review note",
        )
        .await
        .unwrap();
    let pushed_at = std::time::Instant::now();
    let superseded = verify_check(
        &story,
        &taken_back,
        &[CheckState::Cancelled, CheckState::Neutral],
    )
    .await;
    assert!(superseded.title.contains("superseded by"), "{superseded:?}");
    verify_check(&story, &restored, &[CheckState::Success]).await;
    all_done(&story).await;
    assert!(
        pushed_at.elapsed() < Duration::from_secs(15),
        "the re-verification of the older head was stopped, not waited for"
    );
    let now = pull(&story, approval.number);
    assert!(
        now.open && !now.draft && now.head_sha == restored,
        "{now:?}"
    );
    assert_eq!(
        verify_checks(&story, &taken_back).last().map(|c| c.state),
        Some(superseded.state),
        "the stopped verification reported nothing after it was superseded"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_push_during_verification_is_verified_instead_on_github() {
    on_each_database(|db| a_push_supersedes_a_running_verification(Forge::Github, db)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_push_during_verification_is_verified_instead_on_gitea() {
    on_each_database(|db| a_push_supersedes_a_running_verification(Forge::Gitea, db)).await;
}

// ----- 5. "Re-run" on GitHub, `/ade verify` on Gitea: the head is verified again, afresh -----

/// Writes the notes and a build stamp the repository ignores (it is never committed).
const BUILDS_LOCALLY: &str = "mkdir -p notes build\necho 'notes of t1' > notes/t1.md\n\
                              echo built > build/stamp\n";

/// Passes on what was pushed, never on what the agent left beside it.
const NOTHING_UNPUSHED: &str = "test -f notes/t1.md || exit 1\n\
    test -e build/stamp && { echo 'build/stamp was verified, but it was never pushed'; exit 1; }\n\
    exit 0\n";

/// How a maintainer asks for the head to be verified again.
#[derive(Clone, Copy, Debug)]
enum Again {
    /// GitHub's "Re-run" on the check.
    Rerun,
    /// `/ade verify` on the approval.
    Command,
}

async fn verified_again(forge: Forge, again: Again, db: TestDb) {
    let story = Setup::on(forge)
        .agent(BUILDS_LOCALLY)
        .file(".gitignore", "build/\n")
        .policy(Policy::new().step("pushed", NOTHING_UNPUSHED).auto_merge())
        .start(db)
        .await;
    approved_goal(&story, "Project notes", "- [ ] Write the first notes\n").await;
    let approval = approval_of(&story, "t1").await;
    let ready = pull_until(&story, approval.number, "the approval ready", |p| !p.draft).await;
    let passed = verify_check(&story, &ready.head_sha, &[CheckState::Success]).await;
    assert!(
        story
            .sim
            .file(REPO, &ready.head_sha, "build/stamp")
            .await
            .is_none(),
        "the ignored stamp was not pushed, and verification did not see it either"
    );
    all_done(&story).await;

    // The repository's checks get stricter: the same head, verified again, now fails.
    let stricter = Policy::new()
        .step("pushed", NOTHING_UNPUSHED)
        .step("title", NEEDS_A_TITLE)
        .auto_merge();
    story
        .push_to_main(
            &[(".ade/config.toml", Some(&stricter.toml()))],
            "Stricter checks",
        )
        .await;
    all_done(&story).await;
    match again {
        Again::Rerun => story
            .sim
            .rerequest_check(REPO, passed.id, MAINTAINER)
            .await
            .unwrap(),
        Again::Command => {
            story.comment(ready.number, MAINTAINER, "/ade verify").await;
            let reply = comment_with(&story, ready.number, "again (2 steps)").await;
            assert!(reply.contains(&ready.head_sha[..12]), "{reply}");
        }
    }
    let failed = verify_check(&story, &ready.head_sha, &[CheckState::Failure]).await;
    let in_progress = if forge == Forge::Github {
        "in_progress"
    } else {
        "pending"
    };
    assert_eq!(
        verify_reports_until(&story, &ready.head_sha, "failure").await,
        [in_progress, "success", in_progress, "failure"],
        "verified again on the same head"
    );
    let report = verify_report_text(&story, ready.number, &ready.head_sha).await;
    let report = if forge == Forge::Github {
        assert_eq!(failed.id, passed.id, "the same check run, verified again");
        assert_eq!(
            verify_checks(&story, &ready.head_sha).len(),
            1,
            "one ade/verify check run on the head"
        );
        report
    } else {
        story
            .until("the report comment saying it failed", |s| {
                s.bot_comments(ready.number)
                    .into_iter()
                    .find(|b| b.contains("<!-- ade:verify:") && b.contains("failed"))
            })
            .await
    };
    assert!(report.contains("the notes need a title line"), "{report}");

    story
        .sim
        .review(
            REPO,
            ready.number,
            REVIEWER,
            ReviewState::Approved,
            "Looks good",
        )
        .await
        .unwrap();
    all_done(&story).await;
    assert!(
        !pull(&story, ready.number).merged && merge_calls(&story, ready.number).is_empty(),
        "ade does not merge a head whose last verification failed"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_check_rerun_verifies_the_head_again_and_its_verdict_counts_on_github() {
    on_each_database(|db| verified_again(Forge::Github, Again::Rerun, db)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ade_verify_verifies_the_head_again_and_its_verdict_counts_on_gitea() {
    on_each_database(|db| verified_again(Forge::Gitea, Again::Command, db)).await;
}

// ----- 6. `/ade retry` after a review asking for changes -----

/// Writes the notes; puts a heading on top once a reviewer asked for one.
const TAKES_REVIEWS: &str = "mkdir -p notes\n\
    if grep -q 'Start with a heading' \"$ADE_PROMPT_FILE\"; then\n\
      (echo '# Notes'; cat notes/$ADE_TASK_ID.md) > notes/heading.tmp\n\
      mv notes/heading.tmp notes/$ADE_TASK_ID.md\n\
    else\n\
      echo \"notes of $ADE_TASK_ID\" > notes/$ADE_TASK_ID.md\n\
    fi\n";

async fn retried_with_the_review(forge: Forge, db: TestDb) {
    let story = Setup::on(forge)
        .agent(TAKES_REVIEWS)
        .policy(Policy::new().step("notes", "test -f notes/t1.md"))
        .start(db)
        .await;
    let issue = approved_goal(&story, "Project notes", "- [ ] Write the first notes\n").await;
    let opened = approval_of(&story, "t1").await;
    let ready = pull_until(&story, opened.number, "the approval ready", |p| !p.draft).await;
    verify_check(&story, &ready.head_sha, &[CheckState::Success]).await;
    let in_review = format!("| in review · #{} |", ready.number);
    story
        .until("the plan showing the task in review", |s| {
            s.plan_comment(issue).filter(|p| p.contains(&in_review))
        })
        .await;

    story
        .sim
        .review_with_comments(
            REPO,
            ready.number,
            REVIEWER,
            (
                ReviewState::ChangesRequested,
                "The notes read well, but they need structure.",
            ),
            &[("notes/t1.md", 1, "Start with a heading here.")],
        )
        .await
        .unwrap();
    story.comment(ready.number, MAINTAINER, "/ade retry").await;
    let reply = comment_with(&story, ready.number, "running task `t1` again").await;
    assert!(reply.contains("(attempt 2)"), "{reply}");

    let second = run_of(&story, "t1", 2, &["succeeded"]).await;
    assert_eq!(second.base_sha, ready.head_sha, "it continues the approval");
    let prompt = prompt_of(&story, &second);
    for said in [
        "Review by max (requested changes):",
        "The notes read well, but they need structure.",
        "Comment by max on notes/t1.md:1:",
        "Start with a heading here.",
    ] {
        assert!(
            prompt.contains(said),
            "the prompt holds {said:?}:\n{prompt}"
        );
    }
    let head = second.head_sha.clone().unwrap();
    let again = pull_until(&story, ready.number, "the retry verified and ready", |p| {
        p.head_sha == head && !p.draft
    })
    .await;
    verify_check(&story, &again.head_sha, &[CheckState::Success]).await;
    let notes = story.sim.file(REPO, &head, "notes/t1.md").await.unwrap();
    assert_eq!(String::from_utf8_lossy(&notes), "# Notes\nnotes of t1\n");
    all_done(&story).await;
    let plan = story.plan_comment(issue).unwrap();
    assert!(
        plan.contains(&in_review),
        "the plan shows the task in review again: {plan}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn retry_after_a_review_gives_the_agent_the_review_and_its_line_comment_on_github() {
    on_each_database(|db| retried_with_the_review(Forge::Github, db)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn retry_after_a_review_gives_the_agent_the_review_and_its_line_comment_on_gitea() {
    on_each_database(|db| retried_with_the_review(Forge::Gitea, db)).await;
}

// ----- 7. `/ade cancel` on the goal -----

/// The notes of t1 at once; t2 takes far longer than anyone waits.
const SECOND_TAKES_LONG: &str = "mkdir -p notes\n\
    if [ \"$ADE_TASK_ID\" = t2 ]; then sleep 50; fi\n\
    echo \"notes of $ADE_TASK_ID\" > notes/$ADE_TASK_ID.md\n";

async fn cancelled_goal(forge: Forge, db: TestDb) {
    let story = Setup::on(forge)
        .agent(SECOND_TAKES_LONG)
        .policy(Policy::new().step("notes", "test -f notes/t1.md"))
        .start(db)
        .await;
    let issue = approved_goal(
        &story,
        "Project notes",
        "- [ ] Write the first notes\n- [ ] Write the second notes\n",
    )
    .await;
    let opened = approval_of(&story, "t1").await;
    pull_until(&story, opened.number, "t1's approval ready", |p| !p.draft).await;
    run_of(&story, "t2", 1, &["running"]).await;

    let asked = std::time::Instant::now();
    story.comment(issue, MAINTAINER, "/ade cancel").await;
    let reply = comment_with(&story, issue, "cancelled `t1`, `t2`").await;
    assert!(
        reply.contains(&format!(
            "its approval #{} is closed as cancelled",
            opened.number
        )),
        "{reply}"
    );
    assert!(reply.contains("`t2`: its run is being stopped"), "{reply}");
    let closed = pull_until(&story, opened.number, "t1's approval closed", |p| !p.open).await;
    assert!(!closed.merged);
    let why = comment_with(&story, opened.number, "with `/ade cancel`").await;
    assert!(why.contains("cancelled task `t1`"), "{why}");
    let stopped = run_of(&story, "t2", 1, &["cancelled"]).await;
    assert!(
        asked.elapsed() < Duration::from_secs(15),
        "t2's agent was stopped, not waited for: {stopped:?}"
    );
    let summary = summary_of(&story, issue).await;
    assert!(
        summary.contains("0 merged, 0 rejected, 2 cancelled"),
        "{summary}"
    );
    assert!(
        summary.contains("- `t1`: cancelled with /ade cancel; its approval was closed"),
        "{summary}"
    );
    all_done(&story).await;
    let plan = story.plan_comment(issue).unwrap();
    assert!(
        plan.contains("· archived"),
        "the plan stays archived after the stopped run ended: {plan}"
    );
    assert!(
        !plan.contains("Every task is merged:"),
        "no task was merged: {plan}"
    );
    assert!(
        story.sim.pulls(REPO).iter().all(|p| !p.open),
        "no approval stays open"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn cancel_closes_the_open_approval_stops_the_running_run_and_finishes_the_goal_on_github() {
    on_each_database(|db| cancelled_goal(Forge::Github, db)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn cancel_closes_the_open_approval_stops_the_running_run_and_finishes_the_goal_on_forgejo() {
    on_each_database(|db| cancelled_goal(Forge::Forgejo, db)).await;
}

// ----- 8. a pull request that changes the policy gets `ade/policy` -----

async fn policy_checked(forge: Forge, db: TestDb) {
    let story = Setup::on(forge).start(db).await;
    let policy_check = |s: &Story, number: i64, state: CheckState| {
        let pull = s.sim.pull(REPO, number)?;
        s.sim
            .checks(REPO, &pull.head_sha)
            .into_iter()
            .rfind(|c| c.name == "ade/policy")
            .filter(|c| c.state == state)
    };

    let bad = story
        .sim
        .open_pull_with_change(
            REPO,
            WRITER,
            "tune-policy",
            (".ade/config.toml", "[execution]\nparalelism = 3\n"),
            "Run more at once",
        )
        .await
        .unwrap();
    let failed = story
        .until("ade/policy failing on the bad file", |s| {
            policy_check(s, bad, CheckState::Failure)
        })
        .await;
    assert!(failed.title.contains("paralelism"), "{failed:?}");
    if forge == Forge::Github {
        let annotation = failed
            .annotations
            .iter()
            .find(|a| a.message.contains("execution.paralelism: unknown key"))
            .unwrap_or_else(|| panic!("an annotation on the problem: {failed:?}"));
        assert_eq!(
            (annotation.path.as_str(), annotation.start_line),
            (".ade/config.toml", 2),
            "at the problem's line"
        );
        assert!(
            annotation
                .message
                .contains("did you mean execution.parallelism"),
            "{annotation:?}"
        );
    } else {
        assert_eq!(failed.raw_state, "failure");
    }

    let good = story
        .sim
        .open_pull_with_change(
            REPO,
            WRITER,
            "tune-policy-right",
            (".ade/config.toml", "[execution]\nparallelism = 3\n"),
            "Run more at once, spelled right",
        )
        .await
        .unwrap();
    let passed = story
        .until("ade/policy passing on the good file", |s| {
            policy_check(s, good, CheckState::Success)
        })
        .await;
    assert!(
        passed.title.contains("takes effect once merged"),
        "{passed:?}"
    );
    all_done(&story).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_pull_request_changing_the_policy_is_checked_with_annotations_on_github() {
    on_each_database(|db| policy_checked(Forge::Github, db)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_pull_request_changing_the_policy_is_checked_on_gitea() {
    on_each_database(|db| policy_checked(Forge::Gitea, db)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_pull_request_changing_the_policy_is_checked_on_forgejo() {
    on_each_database(|db| policy_checked(Forge::Forgejo, db)).await;
}

// ----- 9. auto-merge, only through the gate -----

async fn merged_through_the_gate(forge: Forge, db: TestDb) {
    let story = Setup::on(forge)
        .policy(
            Policy::new()
                .step("notes", "test -f notes/t1.md")
                .auto_merge(),
        )
        .start(db)
        .await;
    let issue = approved_goal(&story, "Project notes", "- [ ] Write the first notes\n").await;
    let opened = approval_of(&story, "t1").await;
    let ready = pull_until(&story, opened.number, "the approval ready", |p| !p.draft).await;
    verify_check(&story, &ready.head_sha, &[CheckState::Success]).await;
    all_done(&story).await;
    assert!(
        !pull(&story, ready.number).merged && merge_calls(&story, ready.number).is_empty(),
        "verified but not reviewed: not merged"
    );

    story
        .sim
        .review(
            REPO,
            ready.number,
            MAINTAINER,
            ReviewState::Approved,
            "Mine looks fine",
        )
        .await
        .unwrap();
    all_done(&story).await;
    assert!(
        !pull(&story, ready.number).merged && merge_calls(&story, ready.number).is_empty(),
        "the requester's own approval does not count"
    );

    // Another merge lands at the same moment: the forge refuses ade's first try with its own
    // words for that, and ade tries again.
    let (path, raced) = match forge {
        Forge::Github => (
            "/repos/*/*/pulls/*/merge",
            "Base branch was modified. Review and try the merge again.",
        ),
        _ => ("/api/v1/repos/*/*/pulls/*/merge", "merge push out of date"),
    };
    story.sim.inject(FaultRule::new(
        "*",
        path,
        Fault::Refuse {
            status: 409,
            message: raced.into(),
        },
    ));
    story
        .sim
        .review(
            REPO,
            ready.number,
            REVIEWER,
            ReviewState::Approved,
            "Looks good",
        )
        .await
        .unwrap();
    let merged = pull_until(&story, ready.number, "the approval merged by ade", |p| {
        p.merged
    })
    .await;
    // The simulator records a call once it has answered it.
    let calls = story
        .until("ade's merge requests recorded", |s| {
            Some(merge_calls(s, ready.number)).filter(|c| c.len() >= 2)
        })
        .await;
    assert_eq!(calls.len(), 2, "{calls:?}");
    assert_eq!(calls[0].status, 409, "the raced try: {calls:?}");
    let field = match forge {
        Forge::Github => "sha",
        _ => "head_commit_id",
    };
    for call in &calls {
        assert_eq!(
            call.json()[field],
            ready.head_sha.as_str(),
            "each try names the verified head"
        );
    }
    assert_eq!(merged.head_sha, ready.head_sha);
    let summary = summary_of(&story, issue).await;
    assert!(summary.contains("1 merged"), "{summary}");
    all_done(&story).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ade_merges_only_once_someone_else_approved_the_verified_head_on_github() {
    on_each_database(|db| merged_through_the_gate(Forge::Github, db)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ade_merges_only_once_someone_else_approved_the_verified_head_on_gitea() {
    on_each_database(|db| merged_through_the_gate(Forge::Gitea, db)).await;
}

// ----- 10. bad input -----

/// Prints one message about a file outside the worktree and one about the notes, then fails.
const BOOMS: &str = "echo '../../etc/passwd:1:1: boom'\n\
    echo 'notes/t1.md:1:1: boom'\n\
    exit 1\n";

async fn hostile_steps_and_a_failing_forge(db: TestDb) {
    let story = Setup::on(Forge::Github)
        .policy(
            Policy::new()
                .step("lint", BOOMS)
                .step_with("hang", "static", &["/bin/sleep", "30"], Some(1))
                .attempts(1)
                .reject("label"),
        )
        .start(db)
        .await;
    story.sim.inject(
        FaultRule::new("POST", "/repos/acme/widgets/check-runs", Fault::Status(502)).times(2),
    );
    approved_goal(&story, "Project notes", "- [ ] Write the first notes\n").await;
    let run = run_of(&story, "t1", 1, &["failed"]).await;
    let head = run.head_sha.clone().unwrap();
    let check = verify_check(&story, &head, &[CheckState::Failure]).await;
    all_done(&story).await;

    let refused = story
        .sim
        .calls_to("POST", "/repos/acme/widgets/check-runs")
        .into_iter()
        .filter(|c| c.status == 502)
        .count();
    assert_eq!(refused, 2, "the forge refused the first check writes");
    assert_eq!(
        verify_checks(&story, &head).len(),
        1,
        "exactly one ade/verify check run on the head"
    );
    let annotated: Vec<&str> = check.annotations.iter().map(|a| a.path.as_str()).collect();
    assert_eq!(
        annotated,
        ["notes/t1.md"],
        "only the file in the worktree is annotated: {:?}",
        check.annotations
    );
    assert!(
        check.summary.contains("ran past its time limit"),
        "{}",
        check.summary
    );
    assert!(
        check.title.contains("hang") && check.title.contains("lint"),
        "{check:?}"
    );
    assert!(
        run.finished_at.unwrap() - run.started_at.unwrap() < 15_000,
        "the hanging step was stopped at its limit"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_hanging_step_output_outside_the_worktree_and_a_failing_check_write_on_github() {
    on_each_database(hostile_steps_and_a_failing_forge).await;
}

async fn a_missing_program_is_an_error(forge: Forge, db: TestDb) {
    let story = Setup::on(forge)
        .policy(Policy::new().step_with("lint", "static", &["/nonexistent/ade-lint"], None))
        .start(db)
        .await;
    approved_goal(&story, "Project notes", "- [ ] Write the first notes\n").await;
    let run = run_of(&story, "t1", 1, &["unverified"]).await;
    let head = run.head_sha.clone().unwrap();
    let check = verify_check(&story, &head, &[CheckState::Error, CheckState::Failure]).await;
    if forge == Forge::Github {
        assert_eq!(check.conclusion.as_deref(), Some("failure"));
        assert!(
            check.title.contains("verification could not run"),
            "{check:?}"
        );
    } else {
        assert_eq!(check.raw_state, "error", "{check:?}");
    }
    let approval = approval_of(&story, "t1").await;
    let said = comment_with(&story, approval.number, "ade could not verify this change").await;
    assert!(said.contains("stays a draft"), "{said}");
    all_done(&story).await;
    assert!(
        pull(&story, approval.number).draft,
        "the approval stays a draft"
    );
    assert!(
        !verify_reports(&story, &head).iter().any(|s| s == "success"),
        "never a success"
    );

    story.comment(approval.number, READER, "/ade status").await;
    let status = comment_with(&story, approval.number, "this approval is task `t1`").await;
    for line in [
        "`ade/verify`: error on",
        "review: a draft until verification passes",
        "is unverified",
    ] {
        assert!(status.contains(line), "the status says {line:?}: {status}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_step_whose_program_is_missing_is_an_error_and_the_approval_stays_a_draft_on_github() {
    on_each_database(|db| a_missing_program_is_an_error(Forge::Github, db)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_step_whose_program_is_missing_is_an_error_and_the_approval_stays_a_draft_on_gitea() {
    on_each_database(|db| a_missing_program_is_an_error(Forge::Gitea, db)).await;
}

// ----- 11. `/ade status` on an approval -----

async fn status_of_an_approval(forge: Forge, db: TestDb) {
    let story = Setup::on(forge)
        .policy(Policy::new().step("notes", "test -f notes/t1.md"))
        .start(db)
        .await;
    let issue = approved_goal(&story, "Project notes", "- [ ] Write the first notes\n").await;
    let opened = approval_of(&story, "t1").await;
    let ready = pull_until(&story, opened.number, "the approval ready", |p| !p.draft).await;
    verify_check(&story, &ready.head_sha, &[CheckState::Success]).await;
    story
        .sim
        .review(
            REPO,
            ready.number,
            REVIEWER,
            ReviewState::Approved,
            "Looks good",
        )
        .await
        .unwrap();
    all_done(&story).await;
    let run = run_of(&story, "t1", 1, &["succeeded"]).await;

    let asked = story.comment(ready.number, READER, "/ade status").await;
    let status = comment_with(&story, ready.number, "this approval is task `t1`").await;
    for line in [
        format!("this approval is task `t1` of goal #{issue}, plan v1: review."),
        format!(
            "runs: 1 (automatic retries up to 2 attempts); the latest, run {} (attempt 1), is succeeded",
            run.id
        ),
        format!("`ade/verify`: passed on `{}`", &ready.head_sha[..12]),
        "review: approved by a reviewer on its current head".into(),
        "merging: by a person (auto-merge is off)".into(),
    ] {
        assert!(status.contains(&line), "the status says {line:?}: {status}");
    }
    story
        .until("ade's 👀 on the command", |s| {
            (s.reactions(asked) == ["eyes"]).then_some(())
        })
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn status_on_an_approval_tells_its_task_runs_verification_and_review_on_forgejo() {
    on_each_database(|db| status_of_an_approval(Forge::Forgejo, db)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn status_on_an_approval_tells_its_task_runs_verification_and_review_on_github() {
    on_each_database(|db| status_of_an_approval(Forge::Github, db)).await;
}
