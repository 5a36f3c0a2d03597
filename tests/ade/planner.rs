//! A maintainer hands a goal to a planner agent: `/ade plan` runs the repository's planner (a
//! script agent here, on ade's embedded runner, in a real worktree of a real mirror), which reads
//! the goal and writes a spec to `$ADE_OUTPUT`; ade posts it as the plan, or as a failed plan
//! listing every problem, with a link to the planner's log. GitHub and Gitea alike.

use super::support::db::{self, TestDb};
use super::support::story::{MAINTAINER, READER, Story, WRITER};
use super::support::verify::{Forge, PUBLIC_URL, Policy, Setup, all_done, open_link};
use ade::lifecycle::State;

/// A planner whose plan depends on the issue it plans: each issue's title names what to write.
/// It prints its prompt (so the log shows what it read), then writes the plan.
const PLANNER: &str = r#"cat "$ADE_PROMPT_FILE"
prompt=$(cat "$ADE_PROMPT_FILE")
valid='{"tasks": [{"id": "t1", "title": "Parse the flag", "instructions": "Add --dry-run to the parser."}, {"id": "t2", "title": "Skip writes when set", "depends_on": ["t1"], "paths": ["src"]}]}'
case "$prompt" in
  *MODE-CYCLE*) printf '%s' '{"tasks": [{"id": "t1", "title": "A", "depends_on": ["t2"]}, {"id": "t2", "title": "B", "depends_on": ["t1"]}]}' > "$ADE_OUTPUT" ;;
  *MODE-AGENT*) printf '%s' '{"tasks": [{"id": "t1", "title": "A", "agent": "nobody-registered"}]}' > "$ADE_OUTPUT" ;;
  *MODE-MANY*)
    {
      printf '{"tasks": ['
      i=1
      while [ $i -le 101 ]; do
        [ $i -gt 1 ] && printf ', '
        printf '{"id": "t%s", "title": "Task %s"}' $i $i
        i=$((i + 1))
      done
      printf ']}'
    } > "$ADE_OUTPUT" ;;
  *MODE-NOTJSON*) echo 'tasks: [t1, t2]' > "$ADE_OUTPUT" ;;
  *MODE-NOFILE*) echo "no plan today" ;;
  *MODE-WRITE*)
    if echo changed >> README.md; then echo "PLANNER-WROTE-README"; else echo "PLANNER-WRITE-REFUSED"; fi
    if touch new-file.txt; then echo "PLANNER-MADE-A-FILE"; fi
    printf '%s' "$valid" > "$ADE_OUTPUT" ;;
  *MODE-CRASH*) echo "the planner gives up" >&2; exit 3 ;;
  *MODE-SLOW*) sleep 60; printf '%s' "$valid" > "$ADE_OUTPUT" ;;
  *) printf '%s' "$valid" > "$ADE_OUTPUT" ;;
esac
"#;

/// [`PLANNER`] as an agent's command holds it: braces doubled, as they are not placeholders.
fn planner_command() -> String {
    PLANNER.replace('{', "{{").replace('}', "}}")
}

/// A story whose repository plans with the `planner` script agent.
async fn story(forge: Forge, db: TestDb) -> Story {
    Setup::on(forge)
        .another_agent("planner", &planner_command())
        .policy(Policy::new().planner("planner"))
        .public_url()
        .start(db)
        .await
}

/// The plan comment on `issue` once it shows version `version`.
async fn plan_v(story: &Story, issue: i64, version: u32) -> String {
    let shown = format!("ade plan v{version} ·");
    story
        .until(&format!("plan v{version}"), |s| {
            s.plan_comment(issue).filter(|p| p.contains(&shown))
        })
        .await
}

/// The link to the planner's log in a plan comment.
fn log_link(plan: &str) -> String {
    let start = plan
        .find(&format!("({PUBLIC_URL}/plans/"))
        .unwrap_or_else(|| panic!("no planner log link in {plan}"));
    let rest = &plan[start + 1..];
    rest[..rest.find(')').unwrap()].to_string()
}

#[tokio::test]
async fn a_planner_agent_plans_the_goal_and_its_log_is_linked() {
    for forge in [Forge::Github, Forge::Gitea] {
        let story = story(forge, db::sqlite()).await;
        let issue = story
            .issue(
                WRITER,
                "Add a --dry-run flag",
                "We want a dry run.<!-- hidden from the planner -->",
            )
            .await;
        story
            .comment(issue, WRITER, "Remember the README when you plan.")
            .await;
        story
            .comment(issue, MAINTAINER, "/ade plan -- keep it small INSTR-42")
            .await;
        let plan = plan_v(&story, issue, 1).await;
        assert!(plan.contains("v1 · validated"), "{forge:?}: {plan}");
        assert!(plan.contains("planned by planner"), "{forge:?}: {plan}");
        assert!(
            plan.contains("| `t2` | Skip writes when set | `t1` |"),
            "{forge:?}: {plan}"
        );
        assert!(plan.contains("t1 --> t2"), "{forge:?}: {plan}");
        let reply = story
            .until("the reply", |s| {
                s.replies(issue)
                    .into_iter()
                    .find(|r| r.contains("planned v1"))
            })
            .await;
        assert!(reply.contains("2 tasks"), "{forge:?}: {reply}");
        let (status, log) = open_link(&story, &log_link(&plan)).await;
        assert_eq!(status, 200, "{forge:?}: {log}");
        for read in [
            "Add a --dry-run flag",
            "We want a dry run.",
            "Remember the README when you plan.",
            "INSTR-42",
            "\"tasks\"",
        ] {
            assert!(
                log.contains(read),
                "{forge:?}: the planner read {read:?}: {log}"
            );
        }
        assert!(!log.contains("hidden from the planner"), "{forge:?}: {log}");
        let (status, _) = open_link(&story, &log_link(&plan).replace("sig=", "sig=00")).await;
        assert_eq!(status, 404, "{forge:?}: a forged link opens nothing");
        story.comment(issue, MAINTAINER, "/ade approve 1").await;
        story
            .until("approved", |s| {
                s.plan_comment(issue).filter(|p| p.contains("v1 · active"))
            })
            .await;
        all_done(&story).await;
    }
}

#[tokio::test]
async fn an_invalid_plan_is_posted_as_failed_listing_every_problem() {
    let cases = [
        (
            "MODE-CYCLE",
            "tasks wait for each other in a cycle: t1 → t2 → t1",
        ),
        ("MODE-AGENT", "nobody-registered"),
        (
            "MODE-MANY",
            "the plan has 101 tasks; at most 100 are allowed",
        ),
        ("MODE-NOTJSON", "$ADE_OUTPUT is not JSON"),
        ("MODE-NOFILE", "the planner wrote no file at $ADE_OUTPUT"),
        ("MODE-CRASH", "the planner failed: "),
    ];
    for forge in [Forge::Github, Forge::Gitea] {
        let story = story(forge, db::sqlite()).await;
        for (mode, problem) in cases {
            let issue = story
                .issue(WRITER, &format!("Plan {mode}"), "Plan it.")
                .await;
            story.comment(issue, MAINTAINER, "/ade plan").await;
            let plan = plan_v(&story, issue, 1).await;
            assert!(plan.contains("· not valid"), "{forge:?} {mode}: {plan}");
            let listed = ade::markdown::inline(problem);
            assert!(
                plan.contains(&listed),
                "{forge:?} {mode}: {listed:?} in {plan}"
            );
            assert!(
                plan.contains("planner agent `planner`"),
                "{forge:?} {mode}: {plan}"
            );
            log_link(&plan);
            let reply = story
                .until("the reply", |s| {
                    s.replies(issue).into_iter().find(|r| r.contains("plan v1"))
                })
                .await;
            assert!(reply.contains("is not valid"), "{forge:?} {mode}: {reply}");
            story.comment(issue, MAINTAINER, "/ade approve 1").await;
            story.settle().await;
            assert!(
                story.plan_comment(issue).unwrap().contains("· not valid"),
                "{forge:?} {mode}: a failed plan is never activated"
            );
        }
        all_done(&story).await;
    }
}

#[tokio::test]
async fn a_planner_cannot_write_to_the_repository_it_reads() {
    let story = story(Forge::Github, db::sqlite()).await;
    let issue = story.issue(WRITER, "Plan MODE-WRITE", "Plan it.").await;
    story.comment(issue, MAINTAINER, "/ade plan").await;
    let plan = plan_v(&story, issue, 1).await;
    let (_, log) = open_link(&story, &log_link(&plan)).await;
    if let ade::runner::env::LandlockSupport::Unavailable { reason } =
        ade::runner::env::landlock_support()
    {
        // Without Landlock the worktree environment cannot make the worktree read-only, so the
        // planner does not run at all.
        eprintln!("Landlock is not available ({reason}): the planner must be refused");
        assert!(plan.contains("· not valid"), "{plan}");
        assert!(
            plan.contains("read-only") || plan.contains("Landlock"),
            "{plan}"
        );
        return;
    }
    assert!(plan.contains("v1 · validated"), "{plan}");
    assert!(log.contains("PLANNER-WRITE-REFUSED"), "{log}");
    assert!(!log.contains("PLANNER-WROTE-README"), "{log}");
    assert!(!log.contains("PLANNER-MADE-A-FILE"), "{log}");
    all_done(&story).await;
}

#[tokio::test]
async fn planners_are_named_in_the_command_refused_when_not_allowed_and_stopped_by_cancel() {
    let story = Setup::on(Forge::Gitea)
        .another_agent("planner", &planner_command())
        .policy(Policy::new())
        .public_url()
        .start(db::sqlite())
        .await;
    // Without `agents.planner`, `/ade plan` reads the issue's task list; naming the agent runs it.
    let issue = story
        .issue(WRITER, "Add a --dry-run flag", "- [ ] Parse the flag\n")
        .await;
    story.comment(issue, MAINTAINER, "/ade plan").await;
    let manual = plan_v(&story, issue, 1).await;
    assert!(manual.contains("planned by manual"), "{manual}");
    story.comment(issue, MAINTAINER, "/ade plan planner").await;
    let planned = plan_v(&story, issue, 2).await;
    assert!(planned.contains("planned by planner"), "{planned}");
    assert!(planned.contains("#### Changes since v1"), "{planned}");
    // A reader may not plan; an agent the server does not register plans nothing.
    story.comment(issue, READER, "/ade plan planner").await;
    story
        .comment(issue, MAINTAINER, "/ade plan no-such-planner")
        .await;
    story
        .until("the refusal", |s| {
            s.replies(issue)
                .into_iter()
                .find(|r| r.contains("`no-such-planner` is not registered on this ade server"))
        })
        .await;
    // A slow planner is stopped by `/ade cancel`, and says so.
    let slow = story.issue(WRITER, "Plan MODE-SLOW", "Plan it.").await;
    story.comment(slow, MAINTAINER, "/ade plan planner").await;
    super::support::eventually(
        super::support::story::PATIENCE,
        "the planner running",
        || async {
            let mut conn = story.ade.store().reader().await.unwrap();
            let goal = ade::store::goals::find_goal(
                &mut conn,
                ade::forge::ForgeKind::Gitea,
                super::support::story::REPO,
                slow,
            )
            .await
            .unwrap()?;
            let runs = ade::store::planning::of_goal(&mut conn, goal)
                .await
                .unwrap();
            runs.first()
                .filter(|r| r.state.as_str() == "running")
                .map(|_| ())
        },
    )
    .await;
    story.comment(slow, READER, "/ade status").await;
    story
        .until("the status", |s| {
            s.replies(slow)
                .into_iter()
                .find(|r| r.contains("the planner agent `planner` is planning"))
        })
        .await;
    story.comment(slow, MAINTAINER, "/ade cancel").await;
    let stopped = story
        .until("the planner stopped", |s| {
            s.replies(slow)
                .into_iter()
                .find(|r| r.contains("planned nothing"))
        })
        .await;
    assert!(stopped.contains("`planner`"), "{stopped}");
    assert!(story.plan_comment(slow).is_none(), "no plan was posted");
    all_done(&story).await;
}
