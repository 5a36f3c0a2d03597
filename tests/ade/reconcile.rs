//! Reconciliation: what a dropped webhook would have brought, a sweep of the forge finds, and acts
//! on once however often it is found or delivered late (docs/operations.md).

use std::time::Duration;

use crate::support::story::{MAINTAINER, PATIENCE, REPO, REVIEWER, Story};
use crate::support::verify::{
    Forge, Policy, Setup, all_done, all_runs, approval_of, approved_goal, on_each_database, pull,
    pull_until, run_of, verify_check,
};
use ade::forge::{CheckState, ReviewState};
use ade::lifecycle::ApprovalState;

const GOAL: &str = "Add a --dry-run flag";
const CHECKLIST: &str = "We want a dry run.\n\n\
- [ ] Parse the flag\n\
- [ ] Document it (after 1)\n";

/// Sweeps every second, so a test sees one within its patience.
const SWEEP: Duration = Duration::from_secs(1);

/// The sweeps' records of what they found under `subject`.
fn found(story: &Story, subject: &str) -> usize {
    story
        .audit_records()
        .iter()
        .filter(|r| r["action"] == "reconcile.found" && r["subject"] == subject)
        .count()
}

/// The stored spec versions.
async fn versions(story: &Story) -> i64 {
    let mut conn = story.ade.store().reader().await.unwrap();
    let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM specs")
        .fetch_one(&mut *conn)
        .await
        .unwrap();
    n
}

/// A goal planned once by a delivered `/ade plan`; returns the issue and ade's comments so far.
async fn planned(story: &Story) -> (i64, usize) {
    let issue = story.issue(MAINTAINER, GOAL, CHECKLIST).await;
    story.comment(issue, MAINTAINER, "/ade plan").await;
    story
        .until("plan v1", |s| {
            s.plan_comment(issue).filter(|p| p.contains("v1"))
        })
        .await;
    story.settle().await;
    (issue, story.bot_comments(issue).len())
}

/// A maintainer re-plans with the webhook dropped; the sweep plans it: one more version, one
/// reply, one 👀. Returns the comment's id.
async fn replanned_with_the_webhook_dropped(story: &Story, issue: i64, before: usize) -> i64 {
    story.sim.drop_webhooks(1);
    let comment = story
        .comment(issue, MAINTAINER, "/ade plan -- keep it small")
        .await;
    let plan = story
        .until("plan v2, from the sweep", |s| {
            s.plan_comment(issue).filter(|p| p.contains("v2"))
        })
        .await;
    assert!(plan.contains("keep it small"), "{plan}");
    story.settle().await;
    // Later sweeps find the comment acted on.
    tokio::time::sleep(SWEEP * 3).await;
    story.settle().await;
    assert_eq!(story.bot_comments(issue).len(), before + 1, "one reply");
    assert_eq!(story.reactions(comment), ["eyes"], "one 👀");
    assert_eq!(versions(story).await, 2, "one plan more");
    assert_eq!(
        found(story, &format!("reconcile:comment:{comment}")),
        1,
        "the sweep recorded what it found, once"
    );
    comment
}

#[tokio::test]
async fn a_plan_whose_webhook_was_dropped_is_planned_by_the_sweep_and_its_late_delivery_does_nothing()
 {
    on_each_database(|db| async move {
        let story = Setup::on(Forge::Github)
            .reconciling_every(SWEEP)
            .start(db)
            .await;
        let (issue, before) = planned(&story).await;
        let comment = replanned_with_the_webhook_dropped(&story, issue, before).await;

        let dropped = story
            .sim
            .deliveries()
            .into_iter()
            .find(|d| d.event == "issue_comment" && d.body.contains("keep it small"))
            .expect("the dropped delivery is recorded");
        story.sim.redeliver(&dropped.id).await.expect("redelivered");
        story.settle().await;
        assert_eq!(story.bot_comments(issue).len(), before + 1, "no reply more");
        assert_eq!(story.reactions(comment), ["eyes"]);
        assert_eq!(versions(&story).await, 2, "no plan more");
        assert_eq!(story.failed_jobs().await, 0);
    })
    .await;
}

#[tokio::test]
async fn two_replicas_sweep_without_acting_twice() {
    on_each_database(|db| async move {
        let story = Setup::on(Forge::Gitea)
            .reconciling_every(SWEEP)
            .start(db)
            .await;
        let replica = story.replica().await;
        let (issue, before) = planned(&story).await;
        replanned_with_the_webhook_dropped(&story, issue, before).await;
        assert_eq!(story.failed_jobs().await, 0);
        replica.shutdown().await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn an_approval_merged_with_its_webhook_dropped_is_recorded_and_the_next_task_starts() {
    on_each_database(|db| async move {
        let story = Setup::on(Forge::Github)
            .reconciling_every(SWEEP)
            .start(db)
            .await;
        approved_goal(&story, GOAL, CHECKLIST).await;
        let first = approval_of(&story, "t1").await;
        run_of(&story, "t1", 1, &["succeeded"]).await;
        story.settle().await;
        // The merge's webhooks: the pull request closed and the push to the default branch.
        story.sim.drop_webhooks(2);
        story
            .sim
            .merge_pull(REPO, first.number, MAINTAINER, ade::sim::MergeStyle::Merge)
            .await
            .unwrap();
        run_of(&story, "t2", 1, &["succeeded"]).await;
        story.settle().await;
        let approval = {
            let mut conn = story.ade.store().reader().await.unwrap();
            ade::store::approvals::by_pull(&mut conn, story.kind(), REPO, first.number)
                .await
                .unwrap()
                .expect("t1's approval")
        };
        assert_eq!(approval.state, ApprovalState::Merged);
        assert_eq!(
            found(
                &story,
                &format!("reconcile:pull:{REPO}#{}:merged", first.number)
            ),
            1
        );
        assert_eq!(
            all_runs(&story)
                .await
                .iter()
                .filter(|r| r.branch.ends_with("-t2"))
                .count(),
            1,
            "the next task ran once"
        );
        assert_eq!(story.failed_jobs().await, 0);
    })
    .await;
}

#[tokio::test]
async fn an_approving_review_whose_webhook_was_dropped_reaches_the_merge_gate() {
    on_each_database(|db| async move {
        let story = Setup::on(Forge::Gitea)
            .policy(Policy::new().auto_merge())
            .reconciling_every(SWEEP)
            .start(db)
            .await;
        approved_goal(&story, GOAL, "- [ ] Parse the flag\n").await;
        let opened = approval_of(&story, "t1").await;
        let ready = pull_until(&story, opened.number, "the approval ready", |p| !p.draft).await;
        verify_check(&story, &ready.head_sha, &[CheckState::Success]).await;
        all_done(&story).await;
        story.sim.drop_webhooks(1);
        let review = story
            .sim
            .review(
                REPO,
                ready.number,
                REVIEWER,
                ReviewState::Approved,
                "Looks right",
            )
            .await
            .unwrap();
        pull_until(&story, ready.number, "the approval merged by ade", |p| {
            p.merged
        })
        .await;
        all_done(&story).await;
        assert!(pull(&story, ready.number).merged);
        assert_eq!(
            found(
                &story,
                &format!("reconcile:review:{REPO}#{}:{review}", ready.number)
            ),
            1
        );
        assert_eq!(story.failed_jobs().await, 0);
    })
    .await;
}

/// A review asking for changes, its webhook dropped: a sweep finds it, and it starts its one
/// attempt, which replies to it; later sweeps find it taken.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_review_asking_for_changes_whose_webhook_was_dropped_starts_its_attempt() {
    on_each_database(|db| async move {
        let story = Setup::on(Forge::Gitea)
            .policy(Policy::new().attempts(3))
            .reconciling_every(SWEEP)
            .start(db)
            .await;
        approved_goal(&story, GOAL, "- [ ] Parse the flag\n").await;
        let opened = approval_of(&story, "t1").await;
        let ready = pull_until(&story, opened.number, "the approval ready", |p| !p.draft).await;
        verify_check(&story, &ready.head_sha, &[CheckState::Success]).await;
        all_done(&story).await;
        story.sim.drop_webhooks(1);
        let review = story
            .sim
            .review(
                REPO,
                ready.number,
                REVIEWER,
                ReviewState::ChangesRequested,
                "Call it --dry-run everywhere.",
            )
            .await
            .unwrap();
        // The attempt starts a review window after the sweep, then runs and is verified.
        story
            .eventually(PATIENCE * 4, "the reply to the review", || async {
                story
                    .bot_comments(ready.number)
                    .into_iter()
                    .find(|c| c.contains("attempt 2 on the review"))
            })
            .await;
        all_done(&story).await;
        tokio::time::sleep(SWEEP * 3).await;
        all_done(&story).await;
        let runs = all_runs(&story).await;
        assert_eq!(runs.len(), 2, "one attempt for the review: {runs:?}");
        assert_eq!(runs[1].requester, REVIEWER);
        assert_eq!(
            found(
                &story,
                &format!("reconcile:review:{REPO}#{}:{review}", ready.number)
            ),
            1,
            "found once"
        );
    })
    .await;
}

/// A maintainer's first `/ade plan` on a new issue, its webhook dropped: no goal exists for a
/// sweep of goals to find, so the sweep reads the repository's recent comments. One plan, one
/// reply, one 👀, on GitHub and Gitea alike.
#[tokio::test]
async fn a_first_plan_on_a_new_issue_whose_webhook_was_dropped_is_planned_by_the_sweep() {
    for forge in [Forge::Github, Forge::Gitea] {
        on_each_database(|db| async move {
            let story = Setup::on(forge).reconciling_every(SWEEP).start(db).await;
            let issue = story.issue(MAINTAINER, GOAL, CHECKLIST).await;
            story.settle().await;
            story.sim.drop_webhooks(1);
            let comment = story.comment(issue, MAINTAINER, "/ade plan").await;
            let plan = story
                .until("plan v1, from the sweep", |s| {
                    s.plan_comment(issue).filter(|p| p.contains("v1"))
                })
                .await;
            assert!(plan.contains("Parse the flag"), "{plan}");
            story.settle().await;
            tokio::time::sleep(SWEEP * 3).await;
            story.settle().await;
            assert_eq!(
                story.bot_comments(issue).len(),
                2,
                "the plan comment and one reply"
            );
            assert_eq!(story.reactions(comment), ["eyes"], "one 👀");
            assert_eq!(versions(&story).await, 1, "one plan");
            assert_eq!(
                found(&story, &format!("reconcile:comment:{comment}")),
                1,
                "the sweep recorded what it found, once"
            );
            assert_eq!(story.failed_jobs().await, 0);
        })
        .await;
    }
}

/// A comment made before ade first heard of a repository was never ade's to act on: a sweep
/// leaves it alone however recent it is.
#[tokio::test]
async fn a_command_from_before_ade_heard_of_the_repository_is_left_alone() {
    on_each_database(|db| async move {
        let story = Setup::on(Forge::Github)
            .reconciling_every(SWEEP)
            .start(db)
            .await;
        story.sim.drop_webhooks(2);
        let old = story.issue(MAINTAINER, GOAL, CHECKLIST).await;
        let before = story.comment(old, MAINTAINER, "/ade plan").await;
        // A second apart: forges keep whole seconds.
        tokio::time::sleep(Duration::from_millis(1100)).await;
        let issue = story
            .issue(MAINTAINER, "Another goal", "- [ ] One thing\n")
            .await;
        story.settle().await;
        tokio::time::sleep(SWEEP * 3).await;
        story.settle().await;
        assert!(story.bot_comments(old).is_empty(), "no reply on {old}");
        assert!(story.reactions(before).is_empty());
        assert_eq!(versions(&story).await, 0);
        assert!(story.bot_comments(issue).is_empty());
        assert_eq!(story.failed_jobs().await, 0);
    })
    .await;
}

/// An edit never acts, whether its webhook arrives or a sweep reads the edited text: a comment
/// made without a command and edited to hold one, both webhooks dropped, stays unanswered.
#[tokio::test]
async fn a_comment_edited_to_hold_a_command_is_not_acted_on_by_a_sweep() {
    on_each_database(|db| async move {
        let story = Setup::on(Forge::Gitea)
            .reconciling_every(SWEEP)
            .start(db)
            .await;
        let issue = story.issue(MAINTAINER, GOAL, CHECKLIST).await;
        story.settle().await;
        story.sim.drop_webhooks(2);
        let comment = story.comment(issue, MAINTAINER, "Looks like a plan").await;
        // Forges keep whole seconds: the edit must be a second later to show as one.
        tokio::time::sleep(Duration::from_millis(1100)).await;
        story
            .sim
            .edit_comment(REPO, comment, MAINTAINER, "/ade plan")
            .await
            .unwrap();
        tokio::time::sleep(SWEEP * 4).await;
        story.settle().await;
        assert!(story.bot_comments(issue).is_empty(), "no reply");
        assert!(story.reactions(comment).is_empty());
        assert_eq!(versions(&story).await, 0);
        assert_eq!(found(&story, &format!("reconcile:comment:{comment}")), 0);
        assert_eq!(story.failed_jobs().await, 0);
    })
    .await;
}

/// A repository whose recent comments the forge will not list (gone, moved, the app removed)
/// costs the sweep that read only: the goals' comments are still swept.
#[tokio::test]
async fn a_read_the_forge_refuses_does_not_stop_the_rest_of_the_sweep() {
    on_each_database(|db| async move {
        let story = Setup::on(Forge::Github)
            .reconciling_every(SWEEP)
            .start(db)
            .await;
        story.sim.inject(
            ade::sim::FaultRule::new(
                "GET",
                &format!("/repos/{REPO}/issues/comments"),
                ade::sim::Fault::Status(404),
            )
            .times(10_000),
        );
        let (issue, before) = planned(&story).await;
        replanned_with_the_webhook_dropped(&story, issue, before).await;
        assert_eq!(story.failed_jobs().await, 0);
    })
    .await;
}
