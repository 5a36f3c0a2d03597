//! Limits and budgets (docs/limits.md): a user or a repository over its command rate is told once
//! and then left unanswered; a repository over its run rate or its active runs makes runs wait in
//! the queue; a goal whose budget is spent starts nothing more and stops what is under way.

use super::support::db::sqlite;
use super::support::story::{MAINTAINER, PATIENCE, READER, Story, WRITER};
use super::support::verify::{
    Forge, Policy, Setup, all_runs, approved_goal, on_each_database, run_of,
};
use super::support::{TestDb, eventually};
use ade::lifecycle::RunState;

const GOAL: &str = "Two notes";
const TWO_TASKS: &str = "- [ ] Write the first notes\n- [ ] Write the second notes\n";

/// The records of command lines ade did not run for a rate limit.
fn limited(story: &Story) -> Vec<serde_json::Value> {
    story
        .audit_records()
        .into_iter()
        .filter(|r| r["action"] == "command.limited")
        .collect()
}

#[tokio::test]
async fn a_user_and_then_the_repository_over_their_command_rates_are_told_once_then_left_unanswered()
 {
    for forge in [Forge::Github, Forge::Gitea, Forge::Forgejo] {
        let policy = Policy::new()
            .table("[rate_limits]\ncommands_per_user_per_hour = 2\ncommands_per_hour = 1\n");
        let story = Setup::on(forge).policy(policy).start(sqlite()).await;
        let issue = story.issue(WRITER, GOAL, TWO_TASKS).await;
        for _ in 0..2 {
            story.comment(issue, MAINTAINER, "/ade status").await;
        }
        story.settle().await;
        assert_eq!(story.replies(issue).len(), 2, "{forge:?}: two answers");

        let third = story.comment(issue, MAINTAINER, "/ade status").await;
        story.settle().await;
        let replies = story.replies(issue);
        assert_eq!(replies.len(), 3, "{forge:?}: {replies:#?}");
        let told = &replies[2];
        for said in [
            "Not run: this is over the limit of 2 command lines per user per hour in this repository",
            "`rate_limits.commands_per_user_per_hour`",
            "the next is allowed at ",
            "(in 30 minutes)",
        ] {
            assert!(told.contains(said), "{forge:?}: {said:?} in {told}");
        }
        assert!(
            !story.reactions(third).contains(&"eyes".to_string()),
            "{forge:?}: a command over the limit gets no 👀"
        );

        // Over the limit again: silence, but a record.
        story
            .comment(issue, MAINTAINER, "/ade help\n/ade status")
            .await;
        story.settle().await;
        assert_eq!(story.replies(issue).len(), 3, "{forge:?}: told only once");

        // A reader has their own allowance, and shares the repository's with everyone who may
        // not write to it; the maintainer's lines never took from that.
        story.comment(issue, READER, "/ade status").await;
        story.settle().await;
        assert_eq!(
            story.replies(issue).len(),
            4,
            "{forge:?}: the reader is answered"
        );
        story.comment(issue, READER, "/ade status").await;
        story.settle().await;
        let replies = story.replies(issue);
        assert_eq!(replies.len(), 5, "{forge:?}: {replies:#?}");
        assert!(
            replies[4].contains("1 command lines per hour in this repository")
                && replies[4].contains("`rate_limits.commands_per_hour`"),
            "{forge:?}: {replies:#?}"
        );
        let records = eventually(PATIENCE, "four limited lines recorded", || async {
            let records = limited(&story);
            (records.len() == 4).then_some(records)
        })
        .await;
        for record in &records {
            assert_eq!(record["outcome"], "refused", "{record}");
            assert!(
                record["details"]["limit"]
                    .as_str()
                    .is_some_and(|l| l.starts_with("rate_limits.commands_per")),
                "{record}"
            );
            assert!(record["details"]["resets_at"].is_i64(), "{record}");
        }
    }
}

#[tokio::test]
async fn a_second_plan_within_the_hour_is_over_the_repositorys_plan_rate() {
    for forge in [Forge::Github, Forge::Gitea] {
        let policy = Policy::new().table("[rate_limits]\nplans_per_hour = 1\n");
        let story = Setup::on(forge).policy(policy).start(sqlite()).await;
        let first = story.issue(WRITER, GOAL, TWO_TASKS).await;
        story.comment(first, MAINTAINER, "/ade plan").await;
        story
            .until("the first plan", |s| s.plan_comment(first))
            .await;
        let second = story.issue(WRITER, "Another goal", TWO_TASKS).await;
        story.comment(second, WRITER, "/ade plan").await;
        story.settle().await;
        assert!(
            story.plan_comment(second).is_none(),
            "{forge:?}: not planned"
        );
        let replies = story.replies(second);
        assert!(
            replies.len() == 1
                && replies[0].contains("1 `/ade plan` commands per hour in this repository")
                && replies[0].contains("(in 60 minutes)"),
            "{forge:?}: {replies:#?}"
        );
    }
}

/// The goal's comments that say a run waits, or waited, for a limit.
fn waiting_notes(story: &Story, issue: i64) -> Vec<String> {
    story
        .bot_comments(issue)
        .into_iter()
        .filter(|c| c.contains("is waiting:") || c.contains("ran once the repository's limits"))
        .collect()
}

/// When run `run` was first let through the repository's limits.
async fn admitted_at(story: &Story, run: i64) -> i64 {
    let mut conn = story.ade.store().reader().await.unwrap();
    let (at,): (Option<i64>,) = sqlx::query_as("SELECT admitted_at FROM runs WHERE id = $1")
        .bind(run)
        .fetch_one(&mut *conn)
        .await
        .unwrap();
    at.expect("let through")
}

async fn one_run_at_a_time(db: TestDb) {
    let agent = "sleep 2\nmkdir -p notes\necho \"notes of $ADE_TASK_ID\" > notes/$ADE_TASK_ID.md\n";
    let policy = Policy::new().table("[rate_limits]\nactive_runs = 1\n");
    let story = Setup::on(Forge::Github)
        .agent(agent)
        .policy(policy)
        .start(db)
        .await;
    let issue = approved_goal(&story, GOAL, TWO_TASKS).await;
    let waiting = story
        .until("a run waiting for the active runs limit", |s| {
            waiting_notes(s, issue).into_iter().next()
        })
        .await;
    assert!(
        waiting.contains(
            "the repository has 1 runs under way, its limit (`rate_limits.active_runs` = 1)"
        ),
        "{waiting}"
    );
    assert_eq!(all_runs(&story).await.len(), 2);
    let one = run_of(&story, "t1", 1, &["succeeded"]).await;
    let other = run_of(&story, "t2", 1, &["succeeded"]).await;
    let (first, second) =
        if admitted_at(&story, one.id).await <= admitted_at(&story, other.id).await {
            (one, other)
        } else {
            (other, one)
        };
    assert!(
        admitted_at(&story, second.id).await >= first.finished_at.unwrap(),
        "the second was let through after the first ended: {first:?} {second:?}"
    );
    story
        .until("the note that the run ran once the limit allowed it", |s| {
            waiting_notes(s, issue)
                .into_iter()
                .find(|c| c.contains("ran once the repository's limits allowed it"))
        })
        .await;
}

#[tokio::test]
async fn a_repository_with_one_active_run_runs_its_tasks_one_after_the_other() {
    on_each_database(one_run_at_a_time).await;
}

async fn one_run_per_hour(db: TestDb) {
    let policy = Policy::new().table("[rate_limits]\nruns_per_hour = 1\n");
    let story = Setup::on(Forge::Gitea).policy(policy).start(db).await;
    let issue = approved_goal(&story, GOAL, TWO_TASKS).await;
    let waiting = story
        .until("a run waiting for the run rate", |s| {
            waiting_notes(s, issue).into_iter().next()
        })
        .await;
    assert!(
        waiting.contains(
            "the repository's limit of 1 runs started per hour in this repository (`rate_limits.runs_per_hour`) is reached; it starts at "
        ),
        "{waiting}"
    );
    let queued = eventually(PATIENCE, "one run done and one waiting", || async {
        let runs = all_runs(&story).await;
        let done = runs.iter().any(|r| r.state == RunState::Succeeded);
        let waiting = runs
            .into_iter()
            .find(|r| r.state == RunState::Queued && r.reason.is_some());
        waiting.filter(|_| done)
    })
    .await;
    assert!(
        queued.reason.as_deref().unwrap().contains("runs_per_hour"),
        "{queued:?}"
    );
    story.comment(issue, MAINTAINER, "/ade status").await;
    story
        .until("/ade status naming the wait", |s| {
            s.replies(issue)
                .into_iter()
                .find(|r| r.contains(", waiting: the repository's limit of 1 runs"))
        })
        .await;
}

#[tokio::test]
async fn a_repository_over_its_run_rate_keeps_the_next_run_waiting_in_the_queue() {
    on_each_database(one_run_per_hour).await;
}

/// An agent that writes its notes and then prints Claude Code's final line, as
/// `--output-format json` prints it, with what the session cost. Braces are doubled: agent
/// commands take `{placeholders}`.
fn costing(dollars: &str, before: &str) -> String {
    let result = format!(
        r#"{{"type":"result","subtype":"success","is_error":false,"result":"Wrote the notes.","total_cost_usd":{dollars}}}"#
    );
    format!(
        "{before}mkdir -p notes\necho \"notes of $ADE_TASK_ID\" > notes/$ADE_TASK_ID.md\necho '{}'\n",
        result.replace('{', "{{").replace('}', "}}")
    )
}

async fn a_spent_budget(db: TestDb) {
    // The first task's run costs $3 at once; the second's is under way meanwhile and is stopped
    // once the goal's $2 are spent, not when it ends.
    let agent = costing(
        "3",
        "sleep 1\nif [ \"$ADE_TASK_ID\" = t2 ]; then sleep 50; fi\n",
    );
    let policy = Policy::new().table("[budget]\ncost_usd = 2\nruns = 3\n");
    let story = Setup::on(Forge::Github)
        .agent(&agent)
        .agent_output("claude-json")
        .policy(policy)
        .start(db)
        .await;
    let issue = approved_goal(&story, GOAL, TWO_TASKS).await;
    let stopped = run_of(&story, "t2", 1, &["failed"]).await;
    let reason = stopped.reason.clone().unwrap_or_default();
    assert!(
        reason.contains("the goal's budget of $2 (`budget.cost_usd`) is spent ($3.00 used)"),
        "{reason}"
    );
    let took = stopped.finished_at.unwrap() - stopped.started_at.unwrap();
    assert!(took < 45_000, "stopped while under way, after {took} ms");
    let report: serde_json::Value =
        serde_json::from_str(stopped.report.as_deref().unwrap()).unwrap();
    assert!(
        report["report"]["agent_ms"].as_u64().unwrap() > 0,
        "its agent had started: {report}"
    );
    story
        .until("the goal told the run failed for its budget", |s| {
            s.bot_comments(issue)
                .into_iter()
                .find(|c| c.contains("failed") && c.contains("`budget.cost_usd`"))
        })
        .await;

    // Nothing more starts: `/ade run` holds the task and says why; status shows what is left.
    story.comment(issue, MAINTAINER, "/ade run t2").await;
    story
        .until("/ade run held for the budget", |s| {
            s.replies(issue)
                .into_iter()
                .find(|r| r.contains("`budget.cost_usd`") && r.contains("t2"))
        })
        .await;
    assert_eq!(all_runs(&story).await.len(), 2, "no third run");
    story.comment(issue, MAINTAINER, "/ade status").await;
    story
        .until("/ade status with the budget left", |s| {
            s.replies(issue).into_iter().find(|r| {
                r.contains("budget left: 1 of 3 runs, ") && r.contains("$0.00 of $2 reported cost")
            })
        })
        .await;
}

#[tokio::test]
async fn a_goal_whose_budget_is_spent_stops_its_run_under_way_and_starts_nothing_more() {
    on_each_database(a_spent_budget).await;
}
