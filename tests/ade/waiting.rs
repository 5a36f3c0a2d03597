//! Work that waits on the operator goes on by itself once the operator has fixed the cause: a
//! task that waited for a default agent starts when ade restarts with one, and a run the runner's
//! setup could not start is held and tried again, with nobody typing `/ade run`.

use super::runs::{all_runs, plan_and_approve};
use super::support::eventually;
use super::support::runner::{runner_config, runner_config_with, script_agent};
use super::support::story::{MAINTAINER, PATIENCE, Story};
use ade::forge::ForgeKind;
use ade::lifecycle::State;
use ade::store::runs::RunRow;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

/// Writes a notes file named after its task.
const NOTES: &str = "mkdir -p notes\necho \"notes of $ADE_TASK_ID\" > notes/$ADE_TASK_ID.md\n\
                     echo \"Wrote the notes of $ADE_TASK_ID.\" > \"$ADE_OUTPUT_FILE\"\n";

/// The first run found in one of `states`.
async fn a_run_in(story: &Story, states: &[&str]) -> RunRow {
    eventually(PATIENCE * 2, &format!("a run in {states:?}"), || async {
        all_runs(story)
            .await
            .into_iter()
            .find(|r| states.contains(&r.state.as_str()))
    })
    .await
}

/// Two agents registered and no default anywhere: a one-task goal on `kind` is approved and its
/// task waits, ready, with nothing running. Returns the story, the registered agents (to register
/// them again on a restart) and the goal's issue.
async fn a_goal_waiting_for_a_default_agent(kind: ForgeKind) -> (Story, String, i64) {
    let agents = format!(
        "{}\n[agents.other]\ncommand = [\"/bin/true\"]\nprompt = \"file\"\n",
        script_agent(NOTES, 60)
    );
    let story = Story::start_with(kind, false, &[], |config, dir| {
        runner_config(config, dir, &agents)
    })
    .await;
    let issue = story
        .issue(MAINTAINER, "Notes", "- [ ] Write the notes\n")
        .await;
    plan_and_approve(&story, issue).await;
    story
        .until("ade to say the task cannot start", |s| {
            s.bot_comments(issue)
                .into_iter()
                .find(|c| c.contains("no agent is set"))
        })
        .await;
    story.settle().await;
    assert!(
        all_runs(&story).await.is_empty(),
        "nothing runs without an agent"
    );
    (story, agents, issue)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_task_that_waited_for_a_default_agent_starts_when_ade_restarts_with_one() {
    let (story, agents, issue) = a_goal_waiting_for_a_default_agent(ForgeKind::Github).await;

    // The operator names a default agent and restarts ade.
    let dir = story.config_dir();
    let story = story
        .crash_and_restart(|config| {
            runner_config(config, &dir, &agents);
            config.policy.defaults.agents.default = Some("script".into());
        })
        .await;
    let run = a_run_in(&story, &["succeeded"]).await;
    assert_eq!(run.agent, "script");
    assert_eq!(all_runs(&story).await.len(), 1);
    story
        .until("the plan to show the task in review", |s| {
            s.plan_comment(issue).filter(|p| p.contains("review"))
        })
        .await;
    assert!(
        !story
            .sim
            .comments(super::support::story::REPO, issue)
            .iter()
            .any(|c| c.body.contains("/ade run")),
        "nobody typed /ade run"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_task_that_waited_for_a_default_agent_starts_when_the_repository_names_one() {
    let (story, _, _) = a_goal_waiting_for_a_default_agent(ForgeKind::Gitea).await;

    // A maintainer names the default agent in the repository's policy; nobody types /ade run.
    story
        .push_to_main(
            &[(".ade/config.toml", Some("[agents]\ndefault = \"script\"\n"))],
            "Name the default agent",
        )
        .await;
    let run = a_run_in(&story, &["succeeded"]).await;
    assert_eq!(run.agent, "script");
    assert_eq!(all_runs(&story).await.len(), 1);
}

/// An agent program in a folder of its own, executable by everyone.
fn agent_program(dir: &Path) -> std::path::PathBuf {
    let bin = dir.join("agent-bin");
    std::fs::create_dir_all(&bin).unwrap();
    std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
    let program = bin.join("notes-agent");
    std::fs::write(&program, format!("#!/bin/sh\n{NOTES}")).unwrap();
    std::fs::set_permissions(&program, std::fs::Permissions::from_mode(0o755)).unwrap();
    program
}

/// A Gitea story whose `script` agent is a program in `agent-bin/` of the story's folder, closed
/// to the agent user by mistake after ade started, and an approved one-task goal; returns the
/// story, that folder and the goal's issue. `None` (the test skipped, saying why) unless ade runs
/// as root, the only way the agent user's lost permission is real.
async fn a_goal_whose_agent_folder_is_closed() -> Option<(Story, std::path::PathBuf, i64)> {
    if !is_root() {
        eprintln!(
            "skipped: the agent user's lost permission is only real when ade runs as root and \
             agents as another user"
        );
        return None;
    }
    let mut program = None;
    let policy = [(".ade/config.toml", "[agents]\ndefault = \"script\"\n")];
    let story = Story::start_with(ForgeKind::Gitea, false, &policy, |config, dir| {
        let path = agent_program(dir);
        let agents = format!(
            "[agents.script]\ncommand = [{:?}]\nprompt = \"file\"\ntrust = \"trusted\"\n\
             environment = \"worktree\"\ntimeout_secs = 60\n",
            path.display().to_string()
        );
        let runner = format!(
            "agent_dirs = [{:?}]\n",
            path.parent().unwrap().display().to_string()
        );
        runner_config_with(config, dir, &runner, &agents);
        program = Some(path);
    })
    .await;
    let bin = program
        .expect("the agent program")
        .parent()
        .unwrap()
        .to_path_buf();
    std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o700)).unwrap();
    let issue = story
        .issue(MAINTAINER, "Notes", "- [ ] Write the notes\n")
        .await;
    plan_and_approve(&story, issue).await;
    Some((story, bin, issue))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_held_run_is_cancelled_by_ade_cancel_and_not_tried_again() {
    let Some((story, bin, issue)) = a_goal_whose_agent_folder_is_closed().await else {
        return;
    };
    let held = a_run_in(&story, &["queued"]).await;
    eventually(PATIENCE, "the run to be held", || async {
        all_runs(&story)
            .await
            .into_iter()
            .find(|r| r.id == held.id && r.reason.is_some())
    })
    .await;
    story.comment(issue, MAINTAINER, "/ade cancel").await;
    let cancelled = a_run_in(&story, &["cancelled"]).await;
    assert_eq!(cancelled.id, held.id);
    // Opened again, the folder would let a retry run: none comes.
    std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
    tokio::time::sleep(hold_delay_and_some()).await;
    let runs = all_runs(&story).await;
    assert_eq!(runs.len(), 1, "{runs:?}");
    assert_eq!(runs[0].state.as_str(), "cancelled");
}

/// Longer than a first hold's delay (5 s), so a retry that should not come would have come.
fn hold_delay_and_some() -> std::time::Duration {
    std::time::Duration::from_secs(8)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_run_the_runner_cannot_start_is_held_and_runs_once_the_operator_fixes_it() {
    let Some((story, bin, issue)) = a_goal_whose_agent_folder_is_closed().await else {
        return;
    };
    let waiting = story
        .until("ade to say the run waits for the runner's setup", |s| {
            s.bot_comments(issue)
                .into_iter()
                .find(|c| c.contains("is waiting") && c.contains("runner's setup"))
        })
        .await;
    assert!(
        waiting.contains("could not be started") && waiting.contains("ermission denied"),
        "{waiting}"
    );
    let held = a_run_in(&story, &["queued"]).await;
    assert!(
        held.reason
            .as_deref()
            .is_some_and(|r| r.contains("could not be started")),
        "{held:?}"
    );
    assert_eq!(held.attempt, 1, "the task's attempt is not used up");
    assert!(
        metrics(&story).await.contains("\nade_runs_held 1\n"),
        "the operator's metrics show the held run"
    );
    story.comment(issue, MAINTAINER, "/ade status").await;
    story
        .until("/ade status to show the held run", |s| {
            s.bot_comments(issue)
                .into_iter()
                .find(|c| c.contains("queued with") && c.contains(", waiting: "))
        })
        .await;

    // The operator opens the folder again; the held run is tried again by itself.
    std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
    let run = a_run_in(&story, &["succeeded"]).await;
    assert_eq!(run.id, held.id, "the same run, not a new attempt");
    assert!(metrics(&story).await.contains("\nade_runs_held 0\n"));
    assert_eq!(all_runs(&story).await.len(), 1);
    story
        .until("the note to say the run ran", |s| {
            s.bot_comments(issue).into_iter().find(|c| {
                c.contains(&format!("run {} of task", run.id))
                    && c.contains("ran once the runner's setup was fixed")
            })
        })
        .await;
    assert!(
        !story
            .bot_comments(issue)
            .iter()
            .any(|c| c.contains("is waiting")),
        "the note that asked for a fix was replaced"
    );
}

fn is_root() -> bool {
    std::fs::metadata("/proc/self").is_ok_and(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0)
}

/// What ade's `/metrics` shows now.
async fn metrics(story: &Story) -> String {
    reqwest::get(format!("http://{}/metrics", story.ade.addr()))
        .await
        .expect("/metrics answers")
        .text()
        .await
        .expect("/metrics is text")
}
