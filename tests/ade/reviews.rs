//! Iteration on review, end to end: a review that asks for changes on an approval, by someone
//! with the `retry` role, starts one attempt with the review's text and line comments as
//! feedback; ade replies on the approval with what changed for each comment. Reviews close
//! together make one attempt; a reader's review changes nothing; once the attempts are used up ade
//! says so and runs nothing. `/ade retry --agent` runs another agent, and `/ade status` on the
//! approval shows which agent made which attempt.
//!
//! Every story runs on SQLite, and on PostgreSQL too when `ADE_TEST_DATABASE_URL` is set.

use super::support::TestDb;
use super::support::story::{MAINTAINER, PATIENCE, READER, REPO, REVIEWER, Story, WRITER};
use super::support::verify::{
    Forge, Policy, Setup, all_done, all_runs, approved_goal, comment_with, on_each_database,
    prompt_of, pull_until, verify_check,
};
use ade::forge::{CheckState, ReviewState};
use ade::lifecycle::ApprovalState;
use ade::lifecycle::State;
use ade::sim::SimPull;
use ade::store::runs::{RunCause, RunRow};

/// Writes six lines of notes and an extra file; once a reviewer asks for a heading, puts one on
/// top of the notes (and says so in its summary), leaving the extra file alone.
const TAKES_REVIEWS: &str = "mkdir -p notes\n\
    if grep -q 'Start with a heading' \"$ADE_PROMPT_FILE\"; then\n\
      (echo '# Notes'; cat notes/$ADE_TASK_ID.md) > notes/heading.tmp\n\
      mv notes/heading.tmp notes/$ADE_TASK_ID.md\n\
      echo 'Put a heading on top of the notes.' > \"$ADE_OUTPUT_FILE\"\n\
    else\n\
      printf 'notes of %s\\nline 2\\nline 3\\nline 4\\nline 5\\nline 6\\n' \"$ADE_TASK_ID\" > notes/$ADE_TASK_ID.md\n\
      echo keep > notes/extra.md\n\
    fi\n";

/// The verification step of every story here.
const NOTES_STEP: &str = "test -f notes/t1.md";

/// A story whose one task's approval is verified and ready for review; returns it. The first run
/// gets an attempt's patience too.
async fn ready_approval(story: &Story) -> SimPull {
    approved_goal(story, "Project notes", "- [ ] Write the first notes\n").await;
    let ready = story
        .eventually(PATIENCE * 4, "the approval of t1 ready", || async {
            story
                .sim
                .pulls(REPO)
                .into_iter()
                .find(|p| p.head.ends_with("-t1") && !p.draft)
        })
        .await;
    verify_check(story, &ready.head_sha, &[CheckState::Success]).await;
    ready
}

/// Attempt `attempt` of `t1` once in one of `states`. An attempt from reviews starts
/// [`REVIEW_WINDOW`](ade::coordinator::review::requested::REVIEW_WINDOW) after the review, then
/// runs its agent and verification: on a machine running the whole suite that takes longer than a
/// story's usual patience.
async fn attempt(story: &Story, attempt: i64, states: &[&str]) -> RunRow {
    story
        .eventually(
            PATIENCE * 4,
            &format!("attempt {attempt} of t1 in {states:?}"),
            || async {
                all_runs(story).await.into_iter().find(|r| {
                    r.branch.ends_with("-t1")
                        && r.attempt == attempt
                        && states.contains(&r.state.as_str())
                })
            },
        )
        .await
}

/// ade's comment on `number` containing `text`, waited for as long as an attempt.
async fn reply_with(story: &Story, number: i64, text: &str) -> String {
    story
        .eventually(
            PATIENCE * 4,
            &format!("a comment on #{number} with {text:?}"),
            || async {
                story
                    .bot_comments(number)
                    .into_iter()
                    .find(|b| b.contains(text))
            },
        )
        .await
}

/// How many review attempt jobs finished: the job ran and decided.
/// A connection the store could not give under load counts as none yet.
async fn review_jobs_done(story: &Story) -> i64 {
    let Ok(mut conn) = story.ade.store().reader().await else {
        return 0;
    };
    sqlx::query_scalar::<_, i64>(
        "SELECT COUNT(*) FROM jobs WHERE kind = 'review_attempt' AND state = 'completed'",
    )
    .fetch_one(&mut *conn)
    .await
    .unwrap_or(0)
}

// ----- 1. a review with two line comments: one attempt, a reply per comment -----

async fn review_with_line_comments(forge: Forge, db: TestDb) {
    let story = Setup::on(forge)
        .agent(TAKES_REVIEWS)
        .policy(
            Policy::new()
                .attempts(3)
                .step("notes", "test -f notes/t1.md"),
        )
        .start(db)
        .await;
    let ready = ready_approval(&story).await;

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
            &[
                ("notes/t1.md", 1, "Start with a heading here."),
                ("notes/extra.md", 1, "Leave this file as it is."),
            ],
        )
        .await
        .unwrap();

    let second = attempt(&story, 2, &["succeeded"]).await;
    assert_eq!(second.cause, RunCause::Review, "{second:?}");
    assert_eq!(second.requester, REVIEWER, "the reviewer asked for it");
    assert_eq!(second.base_sha, ready.head_sha, "it continues the approval");
    let prompt = prompt_of(&story, &second);
    for said in [
        "## What reviewers asked for",
        "Review by max (requested changes):\nThe notes read well, but they need structure.",
        "Comment by max on notes/t1.md:1:\nStart with a heading here.",
        "Comment by max on notes/extra.md:1:\nLeave this file as it is.",
    ] {
        assert!(
            prompt.contains(said),
            "the prompt holds {said:?}:\n{prompt}"
        );
    }

    let reply = reply_with(&story, ready.number, "attempt 2 on the review").await;
    for said in [
        "took 1 review asking for changes: it pushed",
        "`ade/verify` passed.",
        "**max**: The notes read well, but they need structure.",
        "- `notes/t1.md:1` “Start with a heading here.”: changed at line 1 (line 1 of the new version)",
        "- `notes/extra.md:1` “Leave this file as it is.”: the file was not changed",
        "> Put a heading on top of the notes.",
    ] {
        assert!(reply.contains(said), "the reply says {said:?}:\n{reply}");
    }
    let head = second.head_sha.clone().unwrap();
    let notes = story.sim.file(REPO, &head, "notes/t1.md").await.unwrap();
    assert_eq!(
        String::from_utf8_lossy(&notes),
        "# Notes\nnotes of t1\nline 2\nline 3\nline 4\nline 5\nline 6\n"
    );
    let again = pull_until(
        &story,
        ready.number,
        "the attempt verified and ready",
        |p| p.head_sha == head && !p.draft,
    )
    .await;
    verify_check(&story, &again.head_sha, &[CheckState::Success]).await;
    all_done(&story).await;
    assert_eq!(
        all_runs(&story).await.len(),
        2,
        "one attempt for one review"
    );
    let replies = story
        .bot_comments(ready.number)
        .into_iter()
        .filter(|c| c.contains("on the review"))
        .count();
    assert_eq!(replies, 1, "ade replies once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_review_asking_for_changes_runs_the_agent_with_its_line_comments_and_replies_on_github() {
    on_each_database(|db| review_with_line_comments(Forge::Github, db)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_review_asking_for_changes_runs_the_agent_with_its_line_comments_and_replies_on_gitea() {
    on_each_database(|db| review_with_line_comments(Forge::Gitea, db)).await;
}

// ----- 2. two reviews in a row: one attempt -----

async fn two_reviews_in_a_row(forge: Forge, db: TestDb) {
    let story = Setup::on(forge)
        .agent(TAKES_REVIEWS)
        .policy(Policy::new().attempts(3).step("notes", NOTES_STEP))
        .start(db)
        .await;
    let ready = ready_approval(&story).await;

    story
        .sim
        .review_with_comments(
            REPO,
            ready.number,
            REVIEWER,
            (ReviewState::ChangesRequested, "See the line comment."),
            &[("notes/t1.md", 1, "Start with a heading here.")],
        )
        .await
        .unwrap();
    // A second reviewer a moment later, well within the window: without it, the first review's
    // attempt would start at once and leave this review to another.
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    story
        .sim
        .review_with_comments(
            REPO,
            ready.number,
            MAINTAINER,
            (ReviewState::ChangesRequested, "And keep it short."),
            &[("notes/t1.md", 6, "Drop this line?")],
        )
        .await
        .unwrap();

    let second = attempt(&story, 2, &["succeeded"]).await;
    assert_eq!(second.cause, RunCause::Review);
    let prompt = prompt_of(&story, &second);
    for said in [
        "Comment by max on notes/t1.md:1:\nStart with a heading here.",
        "Review by mia (requested changes):\nAnd keep it short.",
        "Comment by mia on notes/t1.md:6:\nDrop this line?",
    ] {
        assert!(
            prompt.contains(said),
            "one attempt holds both reviews: {said:?}:\n{prompt}"
        );
    }
    let reply = reply_with(&story, ready.number, "attempt 2 on the reviews").await;
    assert!(
        reply.contains("took 2 reviews asking for changes"),
        "{reply}"
    );
    assert!(
        reply.contains(
            "- `notes/t1.md:6` “Drop this line?”: the file changed elsewhere (line 1 of the new version)"
        ),
        "{reply}"
    );
    all_done(&story).await;
    let runs = all_runs(&story).await;
    assert_eq!(
        runs.len(),
        2,
        "two reviews in a row make one attempt: {runs:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_reviews_in_a_row_make_one_attempt_on_github() {
    on_each_database(|db| two_reviews_in_a_row(Forge::Github, db)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_reviews_in_a_row_make_one_attempt_on_forgejo() {
    on_each_database(|db| two_reviews_in_a_row(Forge::Forgejo, db)).await;
}

// ----- 3. a reader's review changes nothing -----

async fn review_by_a_reader(forge: Forge, db: TestDb) {
    let story = Setup::on(forge)
        .agent(TAKES_REVIEWS)
        .policy(Policy::new().attempts(3).step("notes", NOTES_STEP))
        .start(db)
        .await;
    let ready = ready_approval(&story).await;
    story
        .sim
        .review_with_comments(
            REPO,
            ready.number,
            READER,
            (ReviewState::ChangesRequested, "Rewrite all of it."),
            &[("notes/t1.md", 1, "Start with a heading here.")],
        )
        .await
        .unwrap();
    story
        .eventually(PATIENCE * 4, "the review looked at", || async {
            (review_jobs_done(&story).await > 0).then_some(())
        })
        .await;
    all_done(&story).await;
    let runs = all_runs(&story).await;
    assert_eq!(
        runs.len(),
        1,
        "a reader's review starts no attempt: {runs:?}"
    );
    assert!(
        !story
            .bot_comments(ready.number)
            .iter()
            .any(|c| c.contains("on the review") || c.contains("starts no attempt")),
        "and ade says nothing about it: {:?}",
        story.bot_comments(ready.number)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_review_by_a_reader_changes_nothing_on_github() {
    on_each_database(|db| review_by_a_reader(Forge::Github, db)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_review_by_a_reader_changes_nothing_on_gitea() {
    on_each_database(|db| review_by_a_reader(Forge::Gitea, db)).await;
}

// ----- 4. attempts used up: a reply, no run -----

async fn attempts_used_up(forge: Forge, db: TestDb) {
    let story = Setup::on(forge)
        .agent(TAKES_REVIEWS)
        .policy(Policy::new().attempts(1).step("notes", NOTES_STEP))
        .start(db)
        .await;
    let ready = ready_approval(&story).await;
    story
        .sim
        .review_with_comments(
            REPO,
            ready.number,
            REVIEWER,
            (ReviewState::ChangesRequested, "Needs structure."),
            &[("notes/t1.md", 1, "Start with a heading here.")],
        )
        .await
        .unwrap();
    let reply = reply_with(&story, ready.number, "starts no attempt").await;
    assert!(
        reply.contains("the review asking for changes by max starts no attempt"),
        "{reply}"
    );
    assert!(reply.contains("`execution.attempts`"), "{reply}");
    all_done(&story).await;
    let runs = all_runs(&story).await;
    assert_eq!(runs.len(), 1, "no run past the attempts: {runs:?}");
    let told = story
        .bot_comments(ready.number)
        .into_iter()
        .filter(|c| c.contains("starts no attempt"))
        .count();
    assert_eq!(told, 1, "said once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_review_past_the_attempts_gets_a_reply_and_no_run_on_github() {
    on_each_database(|db| attempts_used_up(Forge::Github, db)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_review_past_the_attempts_gets_a_reply_and_no_run_on_forgejo() {
    on_each_database(|db| attempts_used_up(Forge::Forgejo, db)).await;
}

// ----- 5. `/ade retry --agent` records which agent made which attempt -----

/// The other agent signs the notes with its name.
const OTHER: &str = "mkdir -p notes\necho 'signed by other' >> notes/$ADE_TASK_ID.md\n";

async fn retry_with_another_agent(forge: Forge, db: TestDb) {
    let story = Setup::on(forge)
        .agent(TAKES_REVIEWS)
        .another_agent("other", OTHER)
        .policy(Policy::new().attempts(3).step("notes", NOTES_STEP))
        .start(db)
        .await;
    let ready = ready_approval(&story).await;
    story
        .comment(ready.number, MAINTAINER, "/ade retry --agent other")
        .await;
    let reply = comment_with(&story, ready.number, "running task `t1` again").await;
    assert!(reply.contains("with `other` (attempt 2)"), "{reply}");
    let second = attempt(&story, 2, &["succeeded"]).await;
    assert_eq!(second.agent, "other");
    let head = second.head_sha.clone().unwrap();
    let notes = story.sim.file(REPO, &head, "notes/t1.md").await.unwrap();
    assert!(
        String::from_utf8_lossy(&notes).ends_with("signed by other\n"),
        "the other agent made attempt 2"
    );
    pull_until(&story, ready.number, "attempt 2 verified and ready", |p| {
        p.head_sha == head && !p.draft
    })
    .await;
    story.settle().await;

    story.comment(ready.number, MAINTAINER, "/ade status").await;
    let status = comment_with(&story, ready.number, "| attempt | run | agent |").await;
    let first = all_runs(&story).await.into_iter().next().unwrap();
    for row in [
        format!("| 1 | {} | script | mia | started | succeeded |", first.id),
        format!("| 2 | {} | other | mia | retry | succeeded |", second.id),
    ] {
        assert!(status.contains(&row), "the status lists {row:?}:\n{status}");
    }
    all_done(&story).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn retry_with_another_agent_records_which_agent_made_which_attempt_on_github() {
    on_each_database(|db| retry_with_another_agent(Forge::Github, db)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn retry_with_another_agent_records_which_agent_made_which_attempt_on_gitea() {
    on_each_database(|db| retry_with_another_agent(Forge::Gitea, db)).await;
}

// ----- 6. a review arriving while the attempt runs goes to the next one -----

/// As [`TAKES_REVIEWS`], but the heading takes its time, and a footer is added when asked for.
const SLOW_HEADING: &str = "mkdir -p notes\n\
    if grep -q 'Add a footer' \"$ADE_PROMPT_FILE\"; then\n\
      echo '-- the end' >> notes/$ADE_TASK_ID.md\n\
    elif grep -q 'Start with a heading' \"$ADE_PROMPT_FILE\"; then\n\
      sleep 6\n\
      (echo '# Notes'; cat notes/$ADE_TASK_ID.md) > notes/heading.tmp\n\
      mv notes/heading.tmp notes/$ADE_TASK_ID.md\n\
    else\n\
      printf 'notes of %s\\nline 2\\nline 3\\nline 4\\nline 5\\nline 6\\n' \"$ADE_TASK_ID\" > notes/$ADE_TASK_ID.md\n\
    fi\n";

async fn review_during_an_attempt(forge: Forge, db: TestDb) {
    let story = Setup::on(forge)
        .agent(SLOW_HEADING)
        .policy(Policy::new().attempts(3).step("notes", NOTES_STEP))
        .start(db)
        .await;
    let ready = ready_approval(&story).await;
    story
        .sim
        .review_with_comments(
            REPO,
            ready.number,
            REVIEWER,
            (ReviewState::ChangesRequested, "Needs structure."),
            &[("notes/t1.md", 1, "Start with a heading here.")],
        )
        .await
        .unwrap();
    attempt(&story, 2, &["running"]).await;
    story
        .sim
        .review_with_comments(
            REPO,
            ready.number,
            MAINTAINER,
            (ReviewState::ChangesRequested, "One more thing."),
            &[("notes/t1.md", 6, "Add a footer after this line.")],
        )
        .await
        .unwrap();

    let second = attempt(&story, 2, &["succeeded"]).await;
    let prompt = prompt_of(&story, &second);
    assert!(!prompt.contains("Add a footer"), "{prompt}");
    let third = attempt(&story, 3, &["succeeded"]).await;
    assert_eq!(third.cause, RunCause::Review);
    assert_eq!(
        third.base_sha,
        second.head_sha.clone().unwrap(),
        "it continues attempt 2"
    );
    let prompt = prompt_of(&story, &third);
    assert!(
        prompt.contains("Comment by mia on notes/t1.md:6:\nAdd a footer after this line."),
        "{prompt}"
    );
    assert!(
        !prompt.contains("Start with a heading"),
        "the first review went to attempt 2 only:\n{prompt}"
    );
    reply_with(&story, ready.number, "attempt 2 on the review").await;
    reply_with(&story, ready.number, "attempt 3 on the review").await;
    all_done(&story).await;
    assert_eq!(all_runs(&story).await.len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_review_arriving_while_an_attempt_runs_goes_to_the_next_attempt_on_gitea() {
    on_each_database(|db| review_during_an_attempt(Forge::Gitea, db)).await;
}

// ----- 7. every reviewer of a batch directed the attempt: none of them approves it for ade -----

async fn batch_reviewers_do_not_approve_for_the_merge(forge: Forge, db: TestDb) {
    let story = Setup::on(forge)
        .agent(TAKES_REVIEWS)
        .policy(
            Policy::new()
                .attempts(3)
                .auto_merge()
                .step("notes", NOTES_STEP),
        )
        .start(db)
        .await;
    let ready = ready_approval(&story).await;
    story
        .sim
        .review_with_comments(
            REPO,
            ready.number,
            REVIEWER,
            (ReviewState::ChangesRequested, "See the line comment."),
            &[("notes/t1.md", 1, "Start with a heading here.")],
        )
        .await
        .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    story
        .sim
        .review(
            REPO,
            ready.number,
            WRITER,
            ReviewState::ChangesRequested,
            "Agreed, a heading.",
        )
        .await
        .unwrap();
    let second = attempt(&story, 2, &["succeeded"]).await;
    assert_eq!(
        second.requester, REVIEWER,
        "the first reviewer asked for the run"
    );
    reply_with(&story, ready.number, "took 2 reviews asking for changes").await;
    let head = second.head_sha.clone().unwrap();
    pull_until(
        &story,
        ready.number,
        "the attempt verified and ready",
        |p| p.head_sha == head && !p.draft,
    )
    .await;
    story.settle().await;

    // The second reviewer of the batch approves what their review directed.
    story
        .sim
        .review(
            REPO,
            ready.number,
            WRITER,
            ReviewState::Approved,
            "Good now.",
        )
        .await
        .unwrap();
    all_done(&story).await;
    assert!(
        !story
            .sim
            .pulls(REPO)
            .iter()
            .any(|p| p.number == ready.number && p.merged),
        "their approval does not count for ade's merge"
    );
    let approval = {
        let mut conn = story.ade.store().reader().await.unwrap();
        ade::store::approvals::by_pull(&mut conn, story.kind(), REPO, ready.number)
            .await
            .unwrap()
            .unwrap()
    };
    assert_eq!(approval.state, ApprovalState::Pending, "{approval:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_reviewer_whose_review_an_attempt_took_is_no_approver_for_the_merge_on_github() {
    on_each_database(|db| batch_reviewers_do_not_approve_for_the_merge(Forge::Github, db)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_reviewer_whose_review_an_attempt_took_is_no_approver_for_the_merge_on_gitea() {
    on_each_database(|db| batch_reviewers_do_not_approve_for_the_merge(Forge::Gitea, db)).await;
}

// ----- 8. a review arriving during an attempt that fails verification: the retry takes it -----

/// As [`SLOW_HEADING`], but the heading comes with a line verification refuses; asked for a
/// footer, the agent drops that line and adds the footer.
const BROKEN_HEADING: &str = "mkdir -p notes\n\
    if grep -q 'Add a footer' \"$ADE_PROMPT_FILE\"; then\n\
      grep -v BROKEN notes/$ADE_TASK_ID.md > notes/fixed.tmp\n\
      mv notes/fixed.tmp notes/$ADE_TASK_ID.md\n\
      echo '-- the end' >> notes/$ADE_TASK_ID.md\n\
    elif grep -q 'Start with a heading' \"$ADE_PROMPT_FILE\"; then\n\
      sleep 6\n\
      (echo '# Notes'; cat notes/$ADE_TASK_ID.md; echo BROKEN) > notes/heading.tmp\n\
      mv notes/heading.tmp notes/$ADE_TASK_ID.md\n\
    else\n\
      printf 'notes of %s\\nline 2\\nline 3\\nline 4\\nline 5\\nline 6\\n' \"$ADE_TASK_ID\" > notes/$ADE_TASK_ID.md\n\
    fi\n";

async fn review_during_a_failing_attempt(forge: Forge, db: TestDb) {
    let story = Setup::on(forge)
        .agent(BROKEN_HEADING)
        .policy(Policy::new().attempts(3).step(
            "notes",
            "test -f notes/t1.md && ! grep -q BROKEN notes/t1.md",
        ))
        .start(db)
        .await;
    let ready = ready_approval(&story).await;
    story
        .sim
        .review_with_comments(
            REPO,
            ready.number,
            REVIEWER,
            (ReviewState::ChangesRequested, "Needs structure."),
            &[("notes/t1.md", 1, "Start with a heading here.")],
        )
        .await
        .unwrap();
    attempt(&story, 2, &["running"]).await;
    story
        .sim
        .review_with_comments(
            REPO,
            ready.number,
            MAINTAINER,
            (ReviewState::ChangesRequested, "One more thing."),
            &[("notes/t1.md", 6, "Add a footer after this line.")],
        )
        .await
        .unwrap();

    let second = attempt(&story, 2, &["failed"]).await;
    assert_eq!(second.cause, RunCause::Review);
    let third = attempt(&story, 3, &["succeeded"]).await;
    assert_eq!(
        third.cause,
        RunCause::Retry,
        "verification failed, so the agent tries again"
    );
    assert!(
        prompt_of(&story, &third).contains("Add a footer after this line."),
        "the retry hands over the review that came meanwhile"
    );
    let first_reply = reply_with(&story, ready.number, "attempt 2 on the review").await;
    assert!(first_reply.contains("`ade/verify` failed"), "{first_reply}");
    let reply = reply_with(&story, ready.number, "attempt 3 on the review").await;
    assert!(
        reply.contains("took 1 review asking for changes") && reply.contains("**mia**"),
        "the retry that took mia's review replies to it:\n{reply}"
    );
    assert!(
        !reply.contains("**max**"),
        "max's went to attempt 2:\n{reply}"
    );
    all_done(&story).await;
    assert_eq!(all_runs(&story).await.len(), 3, "no attempt of its own");
    let replies = story
        .bot_comments(ready.number)
        .into_iter()
        .filter(|c| c.contains("on the review"))
        .count();
    assert_eq!(replies, 2, "each review gets one reply");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_review_arriving_during_an_attempt_that_fails_verification_goes_to_the_retry_on_github() {
    on_each_database(|db| review_during_a_failing_attempt(Forge::Github, db)).await;
}

// ----- 9. only standing requests: one taken back by an approval starts nothing -----

async fn request_taken_back(forge: Forge, db: TestDb) {
    let story = Setup::on(forge)
        .agent(TAKES_REVIEWS)
        .policy(Policy::new().attempts(3).step("notes", NOTES_STEP))
        .start(db)
        .await;
    let ready = ready_approval(&story).await;
    story
        .sim
        .review_with_comments(
            REPO,
            ready.number,
            REVIEWER,
            (ReviewState::ChangesRequested, "Needs a heading."),
            &[("notes/t1.md", 1, "Start with a heading here.")],
        )
        .await
        .unwrap();
    // Within the window, the reviewer thinks again and approves.
    story
        .sim
        .review(
            REPO,
            ready.number,
            REVIEWER,
            ReviewState::Approved,
            "Fine as it is.",
        )
        .await
        .unwrap();
    story
        .eventually(PATIENCE * 4, "the review looked at", || async {
            (review_jobs_done(&story).await > 0).then_some(())
        })
        .await;
    all_done(&story).await;
    assert_eq!(
        all_runs(&story).await.len(),
        1,
        "a request its author approved after starts no attempt"
    );
    assert!(
        !story
            .bot_comments(ready.number)
            .iter()
            .any(|c| c.contains("on the review") || c.contains("starts no attempt")),
        "{:?}",
        story.bot_comments(ready.number)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_request_for_changes_its_author_approved_after_starts_nothing_on_gitea() {
    on_each_database(|db| request_taken_back(Forge::Gitea, db)).await;
}
