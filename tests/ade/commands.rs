//! Maintainers command ade from issues on GitHub, Gitea and Forgejo, through the simulator.

use crate::support::story::{MAINTAINER, READER, REPO, Story, WRITER};
use ade::sim::{Fault, FaultRule};

const GOAL: &str = "Add a --dry-run flag";
const CHECKLIST: &str = "We want a dry run.\n\n\
- [ ] Parse the flag\n\
- [ ] Skip writes when it is set (after 1)\n\
- [ ] Document it (after 1, 2)\n";

/// The delivery of the maintainer's `/ade plan` comment, as the forge sent it.
fn plan_command_delivery(story: &Story) -> ade::sim::DeliveryRecord {
    story
        .sim
        .deliveries()
        .into_iter()
        .filter(|d| d.event == "issue_comment")
        .find(|d| d.body.contains("/ade plan") && !d.body.contains("ade:plan"))
        .expect("the plan command's delivery")
}

async fn stories() -> Vec<(&'static str, Story)> {
    vec![
        ("github", Story::github().await),
        ("gitea", Story::gitea().await),
        ("forgejo", Story::forgejo().await),
    ]
}

#[tokio::test]
async fn a_maintainer_plans_a_goal_and_gets_the_plan_comment() {
    for (forge, story) in stories().await {
        let issue = story.issue(WRITER, GOAL, CHECKLIST).await;
        let command = story.comment(issue, MAINTAINER, "/ade plan").await;

        let plan = story
            .until("the plan comment", |s| s.plan_comment(issue))
            .await;
        assert!(plan.contains("ade plan v1 · validated"), "{forge}: {plan}");
        for expected in [
            "`t1` | Parse the flag",
            "`t2` | Skip writes when it is set | `t1`",
            "`t3`",
            "t1 --> t2",
            "t2 --> t3",
            "/ade approve 1",
        ] {
            assert!(
                plan.contains(expected),
                "{forge}: {expected:?} missing in\n{plan}"
            );
        }
        assert!(plan.contains("```mermaid"), "{forge}");
        story
            .until("👀 on the command", |s| {
                s.reactions(command)
                    .contains(&"eyes".to_string())
                    .then_some(())
            })
            .await;
        story.settle().await;
        // What the teardown will check is really there: ade's calls and the forge's webhooks.
        if crate::conformance::description::corpus().is_some() {
            let checked = story.forge_conformance();
            assert!(
                checked.calls > 0 && checked.deliveries > 0,
                "{forge}: nothing checked: {checked:?}"
            );
        }
        let replies = story.replies(issue);
        assert_eq!(replies.len(), 1, "{forge}: {replies:?}");
        assert!(
            story.bot_comments(issue)[0].contains("ade plan v1"),
            "{forge}: the plan comes before the reply about it"
        );
        assert!(
            replies[0].contains("planned v1: 3 tasks"),
            "{forge}: {}",
            replies[0]
        );
        assert_eq!(story.failed_jobs().await, 0, "{forge}");
    }
}

#[tokio::test]
async fn only_a_maintainer_can_approve_and_approving_twice_changes_nothing() {
    for (forge, story) in stories().await {
        let issue = story.issue(WRITER, GOAL, CHECKLIST).await;
        story.comment(issue, MAINTAINER, "/ade plan").await;
        story.until("the plan", |s| s.plan_comment(issue)).await;

        let refused = story.comment(issue, READER, "/ade approve").await;
        story.settle().await;
        let replies = story.replies(issue);
        let refusal = replies.last().unwrap();
        assert!(
            refusal.contains(READER) && refusal.contains("maintain"),
            "{forge}: {refusal}"
        );
        assert!(
            story.reactions(refused).is_empty(),
            "{forge}: a refused command gets no 👀"
        );
        assert!(
            story.plan_comment(issue).unwrap().contains("· validated"),
            "{forge}"
        );

        story.comment(issue, WRITER, "/ade approve").await;
        story.settle().await;
        assert!(
            story.plan_comment(issue).unwrap().contains("· validated"),
            "{forge}: write is not enough"
        );

        let approve = story.comment(issue, MAINTAINER, "/ade approve").await;
        let plan = story
            .until("the plan to turn active", |s| {
                s.plan_comment(issue).filter(|p| p.contains("· active"))
            })
            .await;
        assert!(plan.contains("Approved"), "{forge}: {plan}");
        story.settle().await;
        assert_eq!(story.reactions(approve), ["eyes"], "{forge}");
        let approved = story.replies(issue).last().unwrap().clone();
        assert!(
            approved.contains("approved plan v1") && approved.contains("Ready: `t1`"),
            "{forge}: {approved}"
        );

        story.comment(issue, MAINTAINER, "/ade approve 1").await;
        story.settle().await;
        let again = story.replies(issue).last().unwrap().clone();
        assert!(again.contains("already approved"), "{forge}: {again}");
        assert_eq!(story.failed_jobs().await, 0, "{forge}");
    }
}

#[tokio::test]
async fn a_new_plan_supersedes_the_unapproved_one() {
    let story = Story::github().await;
    let issue = story.issue(WRITER, GOAL, CHECKLIST).await;
    story.comment(issue, MAINTAINER, "/ade plan").await;
    story.until("v1", |s| s.plan_comment(issue)).await;
    story
        .comment(issue, WRITER, "/ade plan -- keep it small")
        .await;
    let plan = story
        .until("v2", |s| s.plan_comment(issue).filter(|p| p.contains("v2")))
        .await;
    assert!(plan.contains("keep it small"), "{plan}");
    story.settle().await;
    assert_eq!(
        story
            .bot_comments(issue)
            .iter()
            .filter(|c| c.contains("ade plan v"))
            .count(),
        1,
        "one plan comment"
    );
    story.comment(issue, MAINTAINER, "/ade approve 1").await;
    story.settle().await;
    let reply = story.replies(issue).last().unwrap().clone();
    assert!(
        reply.contains("superseded by v2") && reply.contains("/ade approve 2"),
        "{reply}"
    );
    assert!(
        story
            .plan_comment(issue)
            .unwrap()
            .contains("v2 · validated")
    );
}

#[tokio::test]
async fn a_replan_shows_what_changed_since_the_version_it_replaces() {
    for (forge, story) in stories().await {
        let issue = story.issue(WRITER, GOAL, CHECKLIST).await;
        story.comment(issue, MAINTAINER, "/ade plan").await;
        story.until("v1", |s| s.plan_comment(issue)).await;
        let edited = "We want a dry run.\n\n\
            - [ ] Parse the flag, and its short form -n\n\
            - [ ] Skip writes when it is set (after 1)\n\
            - [ ] Print what would be written (after 2)\n";
        story.edit_issue(issue, WRITER, GOAL, edited).await;
        story.comment(issue, MAINTAINER, "/ade plan").await;
        let plan = story
            .until("v2", |s| {
                s.plan_comment(issue).filter(|p| p.contains("v2 ·"))
            })
            .await;
        let changes = plan
            .split("#### Changes since v1")
            .nth(1)
            .unwrap_or_else(|| panic!("{forge}: no changes section in {plan}"));
        let changes = changes.split("| task |").next().unwrap();
        for said in [
            "- changed `t1` Parse the flag, and its short form -n:",
            "  - title: Parse the flag → Parse the flag, and its short form -n",
            "- changed `t3` Print what would be written:",
            "  - title: Document it → Print what would be written",
            "  - after: `t1`, `t2` → `t2`",
        ] {
            assert!(changes.contains(said), "{forge}: {said:?} in {changes}");
        }
        assert!(
            !changes.contains("`t2`  Skip"),
            "{forge}: t2 did not change: {changes}"
        );
        story.comment(issue, MAINTAINER, "/ade approve 2").await;
        let active = story
            .until("v2 active", |s| {
                s.plan_comment(issue).filter(|p| p.contains("v2 · active"))
            })
            .await;
        assert!(
            active.contains("<details><summary>Changes since v1</summary>"),
            "{forge}: the active plan folds its changes: {active}"
        );
    }
}

#[tokio::test]
async fn a_redelivered_webhook_still_makes_one_plan_and_one_reply() {
    for (forge, story) in stories().await {
        let issue = story.issue(WRITER, GOAL, CHECKLIST).await;
        story.comment(issue, MAINTAINER, "/ade plan").await;
        story.until("the plan", |s| s.plan_comment(issue)).await;
        story.settle().await;
        let delivery = plan_command_delivery(&story);
        story
            .sim
            .redeliver(&delivery.id)
            .await
            .expect("redelivered");
        story.settle().await;
        assert_eq!(
            story.bot_comments(issue).len(),
            2,
            "{forge}: the plan and one reply"
        );
    }
}

#[tokio::test]
async fn the_same_signed_comment_replayed_under_a_new_delivery_id_acts_once() {
    for (forge, story) in stories().await {
        let issue = story.issue(WRITER, GOAL, CHECKLIST).await;
        let comment = story.comment(issue, MAINTAINER, "/ade plan").await;
        story.until("the plan", |s| s.plan_comment(issue)).await;
        story.settle().await;
        let delivery = plan_command_delivery(&story);
        // The body and its signature as the forge sent them; only the delivery id is new.
        let client = reqwest::Client::new();
        let mut replay = client
            .post(format!(
                "http://{}/webhooks/{}",
                story.ade.addr(),
                story.kind()
            ))
            .body(delivery.body.clone());
        for (name, value) in &delivery.headers {
            let value = if name.to_ascii_lowercase().ends_with("-delivery") {
                format!("{value}-replayed")
            } else {
                value.clone()
            };
            replay = replay.header(name.as_str(), value);
        }
        let answer = replay.send().await.expect("ade answers");
        assert_eq!(
            answer.status().as_u16(),
            202,
            "{forge}: the replay is stored"
        );
        story.settle().await;
        assert_eq!(
            story.bot_comments(issue).len(),
            2,
            "{forge}: the plan and one reply, not two"
        );
        assert_eq!(story.reactions(comment).len(), 1, "{forge}: one 👀");
        let mut conn = story.ade.store().reader().await.unwrap();
        let (versions,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM specs")
            .fetch_one(&mut *conn)
            .await
            .unwrap();
        assert_eq!(versions, 1, "{forge}: one plan version");
    }
}

#[tokio::test]
async fn a_comment_with_many_commands_gets_a_few_replies_and_one_naming_the_rest() {
    for (forge, story) in stories().await {
        let issue = story.issue(WRITER, GOAL, CHECKLIST).await;
        story
            .comment(issue, MAINTAINER, &"/ade status\n".repeat(6))
            .await;
        story.settle().await;
        let replies = story.replies(issue);
        assert_eq!(
            replies.len(),
            4,
            "{forge}: three answers and one more: {replies:#?}"
        );
        let rest = replies
            .iter()
            .find(|r| r.contains("at most 3 commands"))
            .unwrap_or_else(|| panic!("{forge}: the reply naming the rest: {replies:#?}"));
        assert_eq!(rest.matches("`/ade status`").count(), 3, "{forge}: {rest}");
    }
}

#[tokio::test]
async fn a_command_whose_job_fails_for_good_is_answered_with_why_and_the_delivery_id() {
    for (forge, story) in stories().await {
        let issue = story.issue(WRITER, GOAL, CHECKLIST).await;
        let path = match forge {
            "github" => "/repos/acme/widgets/collaborators/*/permission",
            _ => "/api/v1/repos/acme/widgets/collaborators/*/permission",
        };
        story
            .sim
            .inject(FaultRule::new("GET", path, Fault::Status(422)).times(1));
        story.comment(issue, MAINTAINER, "/ade plan").await;
        let reply = story
            .until("the reply saying the command failed", |s| {
                s.replies(issue)
                    .into_iter()
                    .find(|r| r.contains("could not carry out"))
            })
            .await;
        let delivery = plan_command_delivery(&story);
        assert!(
            reply.contains(&delivery.id),
            "{forge}: names the delivery: {reply}"
        );
        assert!(reply.contains("422"), "{forge}: says why: {reply}");
        story.settle().await;
        assert!(
            story.plan_comment(issue).is_none(),
            "{forge}: nothing was planned"
        );
        assert_eq!(story.failed_jobs().await, 1, "{forge}: the command's job");
    }
}

#[tokio::test]
async fn commands_in_code_blocks_quotes_and_ades_own_comments_do_nothing() {
    for (forge, story) in stories().await {
        let issue = story.issue(WRITER, GOAL, CHECKLIST).await;
        let fenced = story
            .comment(issue, MAINTAINER, "Try this:\n\n```\n/ade plan\n```\n")
            .await;
        let quoted = story
            .comment(issue, MAINTAINER, "> /ade plan\n\nas they said")
            .await;
        let inline = story
            .comment(issue, MAINTAINER, "run `/ade plan` later")
            .await;
        story.settle().await;
        assert!(story.bot_comments(issue).is_empty(), "{forge}");
        for comment in [fenced, quoted, inline] {
            assert!(story.reactions(comment).is_empty(), "{forge}");
        }
        // ade's own plan comment shows `/ade approve 1`; the webhook of ade's own comment must not
        // approve anything, and nothing loops.
        story.comment(issue, MAINTAINER, "/ade plan").await;
        story.until("the plan", |s| s.plan_comment(issue)).await;
        story.settle().await;
        assert!(
            story.plan_comment(issue).unwrap().contains("· validated"),
            "{forge}"
        );
        assert_eq!(story.bot_comments(issue).len(), 2, "{forge}");
    }
}

#[tokio::test]
async fn a_forge_failing_with_5xx_is_retried_and_still_posts_once() {
    for (forge, story) in stories().await {
        let issue = story.issue(WRITER, GOAL, CHECKLIST).await;
        let path = match forge {
            "github" => "/repos/acme/widgets/issues/*/comments",
            _ => "/api/v1/repos/acme/widgets/issues/*/comments",
        };
        story
            .sim
            .inject(FaultRule::new("POST", path, Fault::Status(502)).times(2));
        story.comment(issue, MAINTAINER, "/ade plan").await;
        story
            .until("the plan despite the failures", |s| s.plan_comment(issue))
            .await;
        story.settle().await;
        assert_eq!(
            story.bot_comments(issue).len(),
            2,
            "{forge}: the plan and one reply, no duplicates"
        );
        let failed_posts = story
            .sim
            .calls_to("POST", path)
            .into_iter()
            .filter(|c| c.status >= 500)
            .count();
        assert_eq!(failed_posts, 2, "{forge}: the injected failures were hit");
        assert_eq!(story.failed_jobs().await, 0, "{forge}");
    }
}

#[tokio::test]
async fn mistakes_get_a_reply_with_help_and_edits_never_act() {
    for (forge, story) in stories().await {
        let issue = story.issue(WRITER, GOAL, CHECKLIST).await;
        story.comment(issue, MAINTAINER, "/ade aprove").await;
        story.settle().await;
        let reply = story.replies(issue).pop().expect("a reply");
        assert!(
            reply.contains("did you mean") && reply.contains("/ade approve"),
            "{forge}: {reply}"
        );

        let comment = story.comment(issue, MAINTAINER, "thinking about it").await;
        story
            .sim
            .edit_comment(REPO, comment, MAINTAINER, "/ade plan")
            .await
            .unwrap();
        story
            .sim
            .edit_comment(REPO, comment, MAINTAINER, "/ade plan\n")
            .await
            .unwrap();
        story.settle().await;
        assert!(
            story.plan_comment(issue).is_none(),
            "{forge}: an edit never plans"
        );
        let about_edits: Vec<String> = story
            .replies(issue)
            .into_iter()
            .filter(|r| r.contains("edited comments"))
            .collect();
        assert_eq!(
            about_edits.len(),
            1,
            "{forge}: one answer per edited comment"
        );

        story.comment(issue, READER, "/ade help").await;
        story.settle().await;
        let help = story.replies(issue).pop().unwrap();
        assert!(
            help.contains("/ade status") && !help.contains("/ade approve"),
            "{forge}: {help}"
        );
    }
}

#[tokio::test]
async fn status_shows_the_versions_and_tasks() {
    let story = Story::gitea().await;
    let issue = story.issue(WRITER, GOAL, CHECKLIST).await;
    story.comment(issue, MAINTAINER, "/ade status").await;
    story.settle().await;
    assert!(story.replies(issue).pop().unwrap().contains("no plan"));
    story.comment(issue, MAINTAINER, "/ade plan").await;
    story.until("the plan", |s| s.plan_comment(issue)).await;
    story.settle().await;
    story.comment(issue, MAINTAINER, "/ade approve").await;
    story.comment(issue, READER, "/ade status").await;
    story.settle().await;
    let status = story.replies(issue).pop().unwrap();
    for expected in ["| v1 | active |", "`t1` is ready", "`t2` is waiting"] {
        assert!(status.contains(expected), "{expected:?} in\n{status}");
    }
}

#[tokio::test]
async fn each_version_records_its_lifecycle() {
    let story = Story::github().await;
    let issue = story.issue(WRITER, GOAL, CHECKLIST).await;
    story.comment(issue, MAINTAINER, "/ade plan").await;
    story.comment(issue, MAINTAINER, "/ade plan").await;
    story
        .until("plan v2", |s| {
            s.plan_comment(issue).filter(|p| p.contains("ade plan v2"))
        })
        .await;
    story.settle().await;
    story.comment(issue, MAINTAINER, "/ade approve").await;
    story.settle().await;
    let store = story.ade.store();
    let mut conn = store.reader().await.unwrap();
    let goal = ade::store::goals::find_goal(&mut conn, ade::forge::ForgeKind::Github, REPO, issue)
        .await
        .unwrap()
        .expect("a goal");
    let specs = ade::store::goals::specs(&mut conn, goal).await.unwrap();
    let states: Vec<(i64, &str)> = specs
        .iter()
        .map(|s| (s.version, s.state.as_str()))
        .collect();
    assert_eq!(states, [(2, "active"), (1, "superseded")]);
    let moves: Vec<String> = ade::store::goals::transitions(&mut conn, specs[0].id)
        .await
        .unwrap()
        .into_iter()
        .map(|(_, to, actor, _)| format!("{to} by {actor}"))
        .collect();
    assert_eq!(moves, ["draft by mia", "validated by mia", "active by mia"]);
    assert_ne!(specs[0].content_hash, "", "stored with its content hash");
}

#[tokio::test]
async fn other_bots_cannot_command_ade_unless_the_policy_allows_them() {
    let story = Story::github().await;
    story.sim.add_bot("helper-bot[bot]");
    story
        .sim
        .set_permission(REPO, "helper-bot[bot]", ade::forge::Permission::Admin)
        .unwrap();
    let issue = story.issue(WRITER, GOAL, CHECKLIST).await;
    let command = story.comment(issue, "helper-bot[bot]", "/ade plan").await;
    story.settle().await;
    assert!(story.bot_comments(issue).is_empty());
    assert!(story.reactions(command).is_empty());

    story
        .push_to_main(
            &[(".ade/config.toml", Some("[roles]\nallow_bots = true\n"))],
            "allow bots",
        )
        .await;
    story.comment(issue, "helper-bot[bot]", "/ade plan").await;
    story.until("the plan", |s| s.plan_comment(issue)).await;
}

#[tokio::test]
async fn a_team_the_policy_names_may_approve() {
    for (forge, story) in [
        ("github", Story::github().await),
        ("gitea", Story::gitea().await),
    ] {
        story.sim.add_team("acme", "releasers", &[WRITER]);
        story
            .push_to_main(
                &[(
                    ".ade/config.toml",
                    Some("[roles.teams]\n\"acme/releasers\" = \"maintain\"\n"),
                )],
                "releasers approve",
            )
            .await;
        let issue = story.issue(WRITER, GOAL, CHECKLIST).await;
        story.comment(issue, WRITER, "/ade plan").await;
        story.until("the plan", |s| s.plan_comment(issue)).await;
        story.settle().await;
        story.comment(issue, WRITER, "/ade approve").await;
        let plan = story
            .until("the plan to turn active", |s| {
                s.plan_comment(issue).filter(|p| p.contains("· active"))
            })
            .await;
        assert!(plan.contains("v1"), "{forge}");
        story.comment(issue, READER, "/ade approve").await;
        story.settle().await;
        assert!(
            story
                .replies(issue)
                .last()
                .unwrap()
                .contains("needs maintain"),
            "{forge}"
        );
    }
}

/// The start of the plan's content hash, as its comment shows it (`<sub>spec 3f2a9c01d0e4</sub>`).
fn shown_hash(plan: &str) -> String {
    let start = plan.find("<sub>spec ").expect("the plan shows its hash") + "<sub>spec ".len();
    plan[start..]
        .chars()
        .take_while(char::is_ascii_hexdigit)
        .collect()
}

#[tokio::test]
async fn a_bare_approve_approves_only_the_version_its_author_could_have_seen() {
    for (forge, story) in stories().await {
        let issue = story.issue(WRITER, GOAL, CHECKLIST).await;
        story.comment(issue, MAINTAINER, "/ade plan").await;
        story
            .until("plan v1", |s| {
                s.plan_comment(issue).filter(|p| p.contains("ade plan v1"))
            })
            .await;

        // A writer plans again and the maintainer approves what they read, v1; the writer's plan
        // is handled first, so v2 exists when the approval is, made after it was written (the
        // forge stamps in whole seconds: v1 is well before the approval, v2 well after it).
        tokio::time::sleep(std::time::Duration::from_secs(3)).await;
        story.forge_clock_behind(std::time::Duration::from_secs(2));
        story
            .comment(issue, WRITER, "/ade plan -- one more time")
            .await;
        story.comment(issue, MAINTAINER, "/ade approve").await;
        story.settle().await;
        let plan = story.plan_comment(issue).unwrap();
        assert!(plan.contains("ade plan v2 · validated"), "{forge}: {plan}");
        let asked = story.replies(issue).pop().unwrap();
        for said in [
            "plan v2 was made after the version you could have read",
            "`/ade approve 2`",
            &format!("`/ade approve {}`", shown_hash(&plan)),
            "`/ade approve 1` approves v1",
        ] {
            assert!(asked.contains(said), "{forge}: {said:?} in {asked}");
        }
        story.forge_clock_behind(std::time::Duration::ZERO);

        // Naming it by the hash the plan comment shows approves it.
        let hash = shown_hash(&plan);
        story
            .comment(issue, MAINTAINER, &format!("/ade approve {}", &hash[..8]))
            .await;
        // The hash may start with eight digits, which is still a hash (seven or more digits).
        let approved = crate::support::poll(
            std::time::Duration::from_secs(45),
            "v2 approved",
            || async {
                story
                    .replies(issue)
                    .into_iter()
                    .find(|r| r.contains("approved plan v2: it is active."))
            },
        )
        .await;
        assert!(
            approved.is_some(),
            "{forge}: `/ade approve {}` did not approve v2; the replies: {:#?}",
            &hash[..8],
            story.replies(issue)
        );
    }
}

#[tokio::test]
async fn an_odd_value_in_a_field_ade_does_not_use_never_fails_a_command() {
    // Gitea's description allows any integer for a rule's `required_approvals`; ade reads the
    // branch for its head only, and reports rules leniently.
    for (forge, story) in stories().await.into_iter().skip(1) {
        story.sim.inject(
            FaultRule::new(
                "GET",
                "/api/v1/repos/acme/widgets/branches/*",
                Fault::Rewrite {
                    pointer: "/required_approvals".into(),
                    value: "-1".into(),
                },
            )
            .times(1000),
        );
        let issue = story.issue(WRITER, GOAL, CHECKLIST).await;
        story.comment(issue, MAINTAINER, "/ade plan").await;
        story
            .until("the plan comment", |s| s.plan_comment(issue))
            .await;
        story.settle().await;
        assert_eq!(story.failed_jobs().await, 0, "{forge}");
        assert!(
            story
                .sim
                .calls()
                .iter()
                .any(|c| c.fault.as_deref() == Some("rewrite /required_approvals = -1")),
            "{forge}: the odd answer was given"
        );
    }
}
