//! Runs, end to end: a maintainer approves a plan and ade's embedded runner carries out its tasks
//! with script agents, in real worktrees of a real mirror, pushing to the simulator's real git and
//! opening approvals there; merging an approval lets the tasks that depend on it start.

use super::support::eventually;
use super::support::runner::{runner_config, script_agent};
use super::support::story::{MAINTAINER, PATIENCE, REPO, Story};
pub(crate) use super::support::verify::plan_and_approve;
use ade::forge::ForgeKind;
use ade::lifecycle::State;
use ade::sim::{MergeStyle, SimPull};
use ade::store::runs::{self as runs, RunRow};
use std::time::Duration;

/// A story whose repository lets the `script` agent run its tasks (two at a time), and whose
/// runner registers `agents` (TOML `[agents.<name>]` tables).
async fn story_with(kind: ForgeKind, agents: &str, policy: &str) -> Story {
    let agents = agents.to_string();
    Story::start_with(
        kind,
        false,
        &[(".ade/config.toml", policy)],
        |config, dir| runner_config(config, dir, &agents),
    )
    .await
}

/// The repository policy of these stories: the script agent by default, two runs at once.
const POLICY: &str = "[agents]\ndefault = \"script\"\n\n[execution]\nparallelism = 2\n";

/// Writes a notes file named after its task, slowly enough that two runs overlap.
const NOTES: &str = "echo \"run $ADE_RUN_ID works on $ADE_TASK_ID\"\nsleep 1\nmkdir -p notes\n\
                     echo \"notes of $ADE_TASK_ID\" > notes/$ADE_TASK_ID.md\necho done\n\
                     echo \"Wrote the notes of $ADE_TASK_ID.\" > \"$ADE_OUTPUT_FILE\"\n";

const FOUR_TASKS: &str = "Write the project notes.\n\n\
- [ ] Write the first notes\n\
- [ ] Write the second notes\n\
- [ ] Combine the notes (after 1, 2)\n\
- [ ] Publish the notes (after 3)\n";

pub(crate) async fn all_runs(story: &Story) -> Vec<RunRow> {
    let mut conn = story.ade.store().reader().await.unwrap();
    runs::all_runs(&mut conn).await.unwrap()
}

/// The run of `task` (its branch ends in `-<task>`, or in `/<goal>-<task>` when `task` names
/// the goal too), once it has ended in one of `states`.
pub(crate) async fn run_of(story: &Story, task: &str, states: &[&str]) -> RunRow {
    let suffix = if task.contains('-') {
        format!("/{task}")
    } else {
        format!("-{task}")
    };
    // A run prepares a worktree, runs its agent and checks what it wrote: on a CI machine running
    // the whole suite at once on 2 cores that has taken longer than 60 s.
    let patience = PATIENCE * 4;
    eventually(
        patience,
        &format!("a run of {task} in {states:?}"),
        || async {
            all_runs(story)
                .await
                .into_iter()
                .rev()
                .find(|r| r.branch.ends_with(&suffix) && states.contains(&r.state.as_str()))
        },
    )
    .await
}

/// ade's approval for `task`, once open.
pub(crate) async fn approval_of(story: &Story, task: &str) -> SimPull {
    let suffix = format!("-{task}");
    story
        .until(&format!("the approval of {task}"), |s| {
            s.sim
                .pulls(REPO)
                .into_iter()
                .find(|p| p.head.ends_with(&suffix) && p.open)
        })
        .await
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn independent_tasks_run_at_once_and_a_dependant_starts_once_both_are_merged() {
    let policy = format!("{POLICY}\n[pull_requests]\nlabels = [\"ade\", \"agent-work\"]\n");
    let story = story_with(ForgeKind::Github, &script_agent(NOTES, 60), &policy).await;
    // ade adds only labels the repository defines.
    for label in ["ade", "agent-work"] {
        story.sim.add_label(REPO, label, "#5319e7").unwrap();
    }
    let issue = story.issue(MAINTAINER, "Project notes", FOUR_TASKS).await;
    plan_and_approve(&story, issue).await;

    let first = approval_of(&story, "t1").await;
    let second = approval_of(&story, "t2").await;
    let r1 = run_of(&story, "t1", &["succeeded"]).await;
    let r2 = run_of(&story, "t2", &["succeeded"]).await;
    let (s1, e1) = (r1.started_at.unwrap(), r1.finished_at.unwrap());
    let (s2, e2) = (r2.started_at.unwrap(), r2.finished_at.unwrap());
    assert!(
        s1 < e2 && s2 < e1,
        "the two independent runs overlap: t1 {s1}..{e1}, t2 {s2}..{e2}"
    );
    assert_eq!(
        story
            .sim
            .file(REPO, &first.head, "notes/t1.md")
            .await
            .as_deref(),
        Some(&b"notes of t1\n"[..]),
        "t1's branch holds the agent's work"
    );
    assert!(
        first.body.contains(&format!("Part of #{issue}")) && first.body.contains("`script`"),
        "{}",
        first.body
    );
    assert!(
        first.body.contains("Wrote the notes of t1."),
        "the agent's own summary is in its approval: {}",
        first.body
    );
    let spec_base = r1.base_sha.clone();
    assert!(first.body.contains(&spec_base[..12]), "{}", first.body);
    story
        .until("the policy's labels on both approvals", |s| {
            let pulls = s.sim.pulls(REPO);
            [first.number, second.number]
                .iter()
                .all(|number| {
                    pulls.iter().any(|p| {
                        p.number == *number && p.labels == ["ade".to_string(), "agent-work".into()]
                    })
                })
                .then_some(())
        })
        .await;
    assert!(
        all_runs(&story)
            .await
            .iter()
            .all(|r| !r.branch.ends_with("-t3")),
        "t3 waits for its dependencies"
    );
    let plan = story
        .until("the plan showing both approvals", |s| {
            s.plan_comment(issue)
                .filter(|p| p.contains(&format!("in review · #{}", second.number)))
        })
        .await;
    assert!(
        plan.contains("| `t3` |") && plan.contains("waiting"),
        "{plan}"
    );

    story
        .sim
        .merge_pull(REPO, first.number, MAINTAINER, MergeStyle::Merge)
        .await
        .unwrap();
    story.settle().await;
    assert!(
        all_runs(&story)
            .await
            .iter()
            .all(|r| !r.branch.ends_with("-t3")),
        "t3 still waits: only one of its dependencies is merged"
    );
    let merged_both = now_ms();
    story
        .sim
        .merge_pull(REPO, second.number, MAINTAINER, MergeStyle::Merge)
        .await
        .unwrap();
    let third = approval_of(&story, "t3").await;
    let r3 = run_of(&story, "t3", &["succeeded"]).await;
    assert!(
        r3.created_at >= merged_both,
        "t3's run was made after both dependencies merged"
    );
    let main_head = story.sim.branch_sha(REPO, "main").await.unwrap();
    assert_eq!(
        r3.base_sha, main_head,
        "a dependant starts from the default branch holding its dependencies' work"
    );
    assert!(
        third.body.contains(&main_head[..12]) && !third.body.contains(&spec_base[..12]),
        "the approval names the commit the dependant started from: {}",
        third.body
    );
    assert!(
        story
            .sim
            .file(REPO, &third.head, "notes/t1.md")
            .await
            .is_some(),
        "t3's worktree had t1's merged notes"
    );

    story
        .sim
        .merge_pull(REPO, third.number, MAINTAINER, MergeStyle::Merge)
        .await
        .unwrap();
    let fourth = approval_of(&story, "t4").await;
    story
        .sim
        .merge_pull(REPO, fourth.number, MAINTAINER, MergeStyle::Merge)
        .await
        .unwrap();
    plan_archived(&story, issue).await;
    story.settle().await;
    assert_eq!(story.failed_jobs().await, 0);
    assert_eq!(all_runs(&story).await.len(), 4, "one run per task");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_agent_past_its_time_limit_is_stopped_and_its_task_fails() {
    let story = story_with(ForgeKind::Gitea, &script_agent("sleep 30", 1), POLICY).await;
    let issue = story
        .issue(MAINTAINER, "Slow", "- [ ] Take forever\n")
        .await;
    plan_and_approve(&story, issue).await;
    let run = run_of(&story, "t1", &["failed"]).await;
    assert!(
        run.reason.as_deref().unwrap_or("").contains("time limit"),
        "{:?}",
        run.reason
    );
    let took = run.finished_at.unwrap() - run.started_at.unwrap();
    assert!(took < 15_000, "stopped soon after its 1 s limit: {took} ms");
    let reply = story
        .until("the failure reply", |s| {
            s.replies(issue)
                .into_iter()
                .find(|r| r.contains("failed") && r.contains("time limit"))
        })
        .await;
    assert!(reply.contains("`t1`"), "{reply}");
    assert!(story.sim.pulls(REPO).is_empty(), "no approval");
    story.comment(issue, MAINTAINER, "/ade status").await;
    let status = story
        .until("the status", |s| {
            s.replies(issue)
                .into_iter()
                .find(|r| r.contains("plan version"))
        })
        .await;
    assert!(
        status.contains("`t1` is failed") && status.contains("time limit"),
        "{status}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn cancel_stops_a_running_agent_within_seconds() {
    let story = story_with(ForgeKind::Github, &script_agent("sleep 60", 120), POLICY).await;
    let issue = story.issue(MAINTAINER, "Long", "- [ ] Work long\n").await;
    plan_and_approve(&story, issue).await;
    run_of(&story, "t1", &["running"]).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let asked = now_ms();
    story.comment(issue, MAINTAINER, "/ade cancel t1").await;
    let run = run_of(&story, "t1", &["cancelled"]).await;
    let took = run.finished_at.unwrap() - asked;
    assert!(took < 10_000, "cancelled within seconds: {took} ms");
    story
        .until("the cancel reply", |s| {
            s.replies(issue)
                .into_iter()
                .find(|r| r.contains("cancelled `t1`"))
        })
        .await;
    story
        .until("the plan showing it cancelled", |s| {
            s.plan_comment(issue).filter(|p| p.contains("cancelled"))
        })
        .await;
    assert!(story.sim.pulls(REPO).is_empty(), "no approval");
}

/// A GitHub token shaped like a real one, made at test time so the repository holds none.
fn fake_token() -> String {
    let alphabet = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    let body: String = (0..36)
        .map(|i| alphabet[(i * 7 + 3) % alphabet.len()] as char)
        .collect();
    format!("gh{}_{body}", 'p')
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_secret_or_a_workflow_in_the_change_blocks_the_push() {
    let token = fake_token();
    let script = format!(
        "mkdir -p config .github/workflows\n\
         if [ \"$ADE_TASK_ID\" = t1 ]; then echo \"DEPLOY_TOKEN={token}\" > config/deploy.env; fi\n\
         if [ \"$ADE_TASK_ID\" = t2 ]; then echo 'on: push' > .github/workflows/steal.yml; fi\n"
    );
    let story = story_with(ForgeKind::Github, &script_agent(&script, 60), POLICY).await;
    let issue = story
        .issue(
            MAINTAINER,
            "Deploy",
            "- [ ] Configure deploys\n- [ ] Add CI\n",
        )
        .await;
    plan_and_approve(&story, issue).await;
    let secret = run_of(&story, "t1", &["failed"]).await;
    let workflow = run_of(&story, "t2", &["failed"]).await;
    for run in [&secret, &workflow] {
        assert!(
            run.reason.as_deref().unwrap_or("").contains("not pushed"),
            "{:?}",
            run.reason
        );
        assert_eq!(
            story.sim.branch_sha(REPO, &run.branch).await,
            None,
            "nothing was pushed to {}",
            run.branch
        );
    }
    let reply = story
        .until("the DLP report", |s| {
            s.replies(issue)
                .into_iter()
                .find(|r| r.contains("`t1`") && r.contains("failed"))
        })
        .await;
    assert!(reply.contains("deploy.env"), "{reply}");
    assert!(!reply.contains(&token), "the report never shows the secret");
    let stored = secret.reason.unwrap_or_default() + &secret.report.unwrap_or_default();
    assert!(!stored.contains(&token), "nor does the stored run");
    let reply = story
        .until("the protected path report", |s| {
            s.replies(issue)
                .into_iter()
                .find(|r| r.contains("`t2`") && r.contains("failed"))
        })
        .await;
    assert!(reply.contains("steal.yml"), "{reply}");
    assert!(story.sim.pulls(REPO).is_empty(), "no approval");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_agent_cannot_write_outside_its_worktree() {
    if let ade::runner::env::LandlockSupport::Unavailable { reason } =
        ade::runner::env::landlock_support()
    {
        eprintln!("skipped: Landlock is not available on this kernel ({reason})");
        return;
    }
    let outside = tempfile_dir("ade-outside");
    let sentinel = outside.join("escaped");
    let script = format!(
        "echo escaped > {:?} || echo 'the write outside was denied'\nmkdir -p notes\necho ok > notes/done.md\n",
        sentinel.display().to_string()
    );
    let story = story_with(ForgeKind::Github, &script_agent(&script, 60), POLICY).await;
    let issue = story.issue(MAINTAINER, "Escape", "- [ ] Try it\n").await;
    plan_and_approve(&story, issue).await;
    let run = run_of(&story, "t1", &["succeeded"]).await;
    assert!(
        !sentinel.exists(),
        "Landlock kept the agent inside its worktree (the folder outside is world-writable)"
    );
    let approval = approval_of(&story, "t1").await;
    assert!(
        approval.body.contains("the write outside was denied"),
        "the agent saw the denial: {}",
        approval.body
    );
    assert!(run.report.unwrap_or_default().contains("landlock"));
    std::fs::remove_dir_all(outside).ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_agent_reaching_for_an_unlisted_host_is_refused_and_the_audit_log_records_it() {
    if !std::fs::metadata("/proc/self").is_ok_and(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0)
    {
        eprintln!("skipped: the agent's network namespace needs ade to run as root here");
        return;
    }
    // The script agent's network is the default, `allowlist`, with no host on it.
    let script = "/usr/bin/curl -sS --max-time 10 https://exfil.example/ \
                  || echo 'the unlisted host was refused'\nmkdir -p notes\necho ok > notes/done.md\n";
    let story = story_with(ForgeKind::Github, &script_agent(script, 60), POLICY).await;
    let issue = story.issue(MAINTAINER, "Reach out", "- [ ] Try it\n").await;
    plan_and_approve(&story, issue).await;
    let run = run_of(&story, "t1", &["succeeded"]).await;
    let approval = approval_of(&story, "t1").await;
    assert!(
        approval.body.contains("the unlisted host was refused"),
        "{}",
        approval.body
    );
    let record = story
        .until("the run.egress record", |s| {
            s.audit_records()
                .into_iter()
                .find(|r| r["action"] == "run.egress")
        })
        .await;
    assert_eq!(record["outcome"], "refused", "{record}");
    assert_eq!(record["run"], run.id, "{record}");
    assert_eq!(
        record["details"]["destination"], "exfil.example:443",
        "{record}"
    );
    assert_eq!(record["details"]["connections"], 1, "{record}");
    assert_eq!(
        record["details"]["why"], "not on the agent's allowlist",
        "{record}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_agent_searching_for_credentials_finds_none() {
    let search = "mkdir -p notes\n\
                  ( env; git config -l; git config --show-origin -l; ls -la \"$HOME\"; \
                    cat \"$HOME\"/.[!.]* \"$HOME\"/* .git ) > notes/search.txt 2>&1\n\
                  grep -rIn -e ghs_ -e x-access-token -e Authorization -e extraHeader \
                    \"$HOME\" \"$ADE_SCRATCH\" . >> notes/search.txt 2>&1\n\
                  echo searched >> notes/search.txt\n";
    let story = story_with(ForgeKind::Github, &script_agent(search, 60), POLICY).await;
    let issue = story
        .issue(MAINTAINER, "Search", "- [ ] Look around\n")
        .await;
    plan_and_approve(&story, issue).await;
    run_of(&story, "t1", &["succeeded"]).await;
    let approval = approval_of(&story, "t1").await;
    let found = story
        .sim
        .file(REPO, &approval.head, "notes/search.txt")
        .await
        .expect("the agent wrote what it found");
    let found = String::from_utf8_lossy(&found);
    assert!(
        found.contains("searched") && found.contains("ADE_RUN_ID"),
        "{found}"
    );
    for secret in ["ghs_", "x-access-token", "Authorization", "extraHeader"] {
        assert!(
            !found.contains(secret),
            "the agent found {secret:?} in its environment, git config, home or scratch:\n{found}"
        );
    }
}

/// A world-writable folder outside every worktree, so only confinement stops a write into it.
fn tempfile_dir(prefix: &str) -> std::path::PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let dir = std::env::temp_dir().join(format!("{prefix}-{}-{}", std::process::id(), now_ms()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
    dir
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_run_whose_runner_died_is_taken_over_when_its_lease_expires() {
    let story = story_with(ForgeKind::Github, &script_agent("sleep 60", 120), POLICY).await;
    let issue = story.issue(MAINTAINER, "Crash", "- [ ] Survive\n").await;
    plan_and_approve(&story, issue).await;
    let first = run_of(&story, "t1", &["running"]).await;
    let crashed_runner = first.runner.clone();
    let dir = story.config_dir();
    let story = story
        .crash_and_restart(|config| runner_config(config, &dir, &script_agent(NOTES, 60)))
        .await;
    let run = run_of(&story, "t1", &["succeeded"]).await;
    assert_eq!(run.id, first.id, "the same run, taken over");
    assert_ne!(run.runner, crashed_runner, "by the new runner");
    approval_of(&story, "t1").await;
    assert_eq!(all_runs(&story).await.len(), 1);
}

/// Waits until the goal's plan comment says the spec is archived (every task merged).
async fn plan_archived(story: &Story, issue: i64) {
    story
        .until("the plan archived", |s| {
            s.plan_comment(issue).filter(|p| p.contains("· archived"))
        })
        .await;
}

/// A maintainer pushes a commit to the default branch; returns it.
async fn move_main(story: &Story) -> String {
    let note = format!("moved at {}\n", now_ms());
    story
        .push_to_main(&[("docs/moved.md", Some(note.as_str()))], "Move main on")
        .await
}

/// The runner warm-up that the push of `head` asked for, once it is in one of `states`.
async fn warm_up(story: &Story, head: &str, states: &[&str]) -> ade::store::jobs::JobRow {
    let key = format!("warm:github:{REPO}:{head}");
    eventually(
        PATIENCE,
        &format!("the warm-up for {head} in {states:?}"),
        || async {
            let mut conn = story.ade.store().reader().await.unwrap();
            ade::store::jobs::find(&mut conn, &key)
                .await
                .unwrap()
                .filter(|job| states.contains(&job.state.as_str()))
        },
    )
    .await
}

/// The run log of `run`, as the runner reported it.
fn run_log(run: &RunRow) -> String {
    let report: ade::runner::RunOutcome =
        serde_json::from_str(run.report.as_deref().expect("a finished run has a report")).unwrap();
    let path = report.report().log.clone().expect("the run has a log");
    std::fs::read_to_string(path).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_push_to_the_default_branch_readies_a_worktree_for_the_next_goal() {
    let story = story_with(ForgeKind::Github, &script_agent(NOTES, 60), POLICY).await;
    let first = story
        .issue(MAINTAINER, "First notes", "- [ ] Write the first notes\n")
        .await;
    plan_and_approve(&story, first).await;
    let run = run_of(&story, &format!("{first}-t1"), &["succeeded"]).await;
    assert!(
        run_log(&run).contains(": created, after waiting"),
        "the first run of the repository makes its worktree"
    );

    let head = move_main(&story).await;
    warm_up(&story, &head, &["completed"]).await;

    let second = story
        .issue(MAINTAINER, "Second notes", "- [ ] Write the second notes\n")
        .await;
    plan_and_approve(&story, second).await;
    let run = run_of(&story, &format!("{second}-t1"), &["succeeded"]).await;
    assert_eq!(
        run.base_sha, head,
        "the second goal starts from the new head"
    );
    let log = run_log(&run);
    assert!(
        log.contains(": ready, after waiting"),
        "the warm-up fetched the head and checked a worktree out at it: {log}"
    );
    story.settle().await;
    assert_eq!(story.failed_jobs().await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_approval_merged_before_its_run_recorded_it_still_counts() {
    let slow = "sleep 1\nmkdir -p notes\necho \"notes of $ADE_TASK_ID\" > notes/$ADE_TASK_ID.md\n";
    let story = story_with(ForgeKind::Github, &script_agent(slow, 60), POLICY).await;
    let issue = story
        .issue(MAINTAINER, "Quick merge", "- [ ] Write the notes\n")
        .await;
    plan_and_approve(&story, issue).await;
    run_of(&story, &format!("{issue}-t1"), &["running"]).await;
    // A push to the default branch drops the cached policy, so the run reads it again after
    // opening its approval; the forge answers that read slowly, and the maintainer merges the
    // approval in the meantime, before the run has recorded it.
    let head = move_main(&story).await;
    // Handled once the push's delivery enqueued its warm-up (and dropped the cached policy).
    warm_up(&story, &head, &["available", "running", "completed"]).await;
    story.sim.inject(
        ade::sim::FaultRule::new(
            "GET",
            "/repos/acme/widgets/contents/**",
            ade::sim::Fault::Delay(Duration::from_secs(2)),
        )
        .times(1),
    );
    let approval = approval_of(&story, "t1").await;
    story
        .sim
        .merge_pull(REPO, approval.number, MAINTAINER, MergeStyle::Merge)
        .await
        .unwrap();
    plan_archived(&story, issue).await;
}
