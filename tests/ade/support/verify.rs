//! The setting and the reading of verification stories: which forge, which agent, which
//! `.ade/config.toml` a story starts with (built up the way a maintainer writes one), and what a
//! story reads back: runs and their prompts, approvals, `ade/verify` as the forge shows it and as
//! ade sent it, and ade's comments.

use super::runner::{named_script_agent, runner_config, script_agent, workdir};
use super::story::{MAINTAINER, PATIENCE, REPO, Story};
use super::{TestDb, databases, eventually};
use ade::forge::{CheckState, ForgeKind};
use ade::lifecycle::State;
use ade::sim::{ApiCall, SimCheck, SimPull};
use ade::store::runs::{self as runs, RunRow};
use std::future::Future;
use std::time::Duration;

/// The forge a story plays.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Forge {
    Github,
    Gitea,
    Forgejo,
}

impl Forge {
    pub fn kind(self) -> ForgeKind {
        match self {
            Forge::Github => ForgeKind::Github,
            Forge::Gitea | Forge::Forgejo => ForgeKind::Gitea,
        }
    }
}

/// The repository's `.ade/config.toml`, built up the way a maintainer would write it.
#[derive(Clone, Debug)]
pub struct Policy {
    steps: Vec<String>,
    attempts: u32,
    reject: &'static str,
    drafts: bool,
    auto_merge: bool,
    close_issue: bool,
    retention: Vec<(&'static str, u32)>,
    tables: Vec<String>,
    planner: Option<&'static str>,
}

impl Policy {
    /// The script agent by default, two runs of a goal at once, two attempts per task, rejected
    /// approvals closed.
    pub fn new() -> Policy {
        Policy {
            steps: Vec::new(),
            attempts: 2,
            reject: "close",
            drafts: true,
            auto_merge: false,
            close_issue: false,
            retention: Vec::new(),
            tables: Vec::new(),
            planner: None,
        }
    }

    /// `/ade plan` runs the planner agent `name` (`[agents] planner`).
    pub fn planner(mut self, name: &'static str) -> Policy {
        self.planner = Some(name);
        self
    }

    /// One more table, as the maintainer writes it (`[rate_limits]\nruns_per_hour = 1\n`).
    pub fn table(mut self, toml: &str) -> Policy {
        self.tables.push(toml.to_string());
        self
    }

    /// Keeps one kind of data `days` days (`[retention]`, `run_logs_days` and so on).
    pub fn retention(mut self, key: &'static str, days: u32) -> Policy {
        self.retention.push((key, days));
        self
    }

    /// A static step running `script` with `/bin/sh -c`.
    pub fn step(self, name: &str, script: &str) -> Policy {
        self.step_with(name, "static", &["/bin/sh", "-c", script], None)
    }

    /// A step of `kind` running `command` directly, with its own time limit if given.
    pub fn step_with(
        mut self,
        name: &str,
        kind: &str,
        command: &[&str],
        timeout_secs: Option<u64>,
    ) -> Policy {
        let mut table = format!(
            "[[verification.steps]]\nname = {name:?}\nkind = {kind:?}\ncommand = {command:?}\n"
        );
        if let Some(secs) = timeout_secs {
            table.push_str(&format!("timeout_secs = {secs}\n"));
        }
        self.steps.push(table);
        self
    }

    pub fn attempts(mut self, attempts: u32) -> Policy {
        self.attempts = attempts;
        self
    }

    /// What happens to an approval whose last attempt failed: `close`, `draft` or `label`.
    pub fn reject(mut self, action: &'static str) -> Policy {
        self.reject = action;
        self
    }

    /// Approvals open ready for review, not as drafts while they are verified.
    pub fn no_drafts(mut self) -> Policy {
        self.drafts = false;
        self
    }

    pub fn auto_merge(mut self) -> Policy {
        self.auto_merge = true;
        self
    }

    pub fn close_issue(mut self) -> Policy {
        self.close_issue = true;
        self
    }

    /// The policy file's text.
    pub fn toml(&self) -> String {
        let planner = self
            .planner
            .map(|name| format!("planner = {name:?}\n"))
            .unwrap_or_default();
        let mut text = format!(
            "[agents]\ndefault = \"script\"\n{planner}\n[execution]\nparallelism = 2\nattempts = {}\n\n\
             [auto_reject]\naction = {:?}\n\n[pull_requests]\ndrafts = {}\nauto_merge = {}\n\n\
             [goals]\nclose_issue = {}\n",
            self.attempts, self.reject, self.drafts, self.auto_merge, self.close_issue
        );
        if !self.retention.is_empty() {
            text.push_str("\n[retention]\n");
            for (key, days) in &self.retention {
                text.push_str(&format!("{key} = {days}\n"));
            }
        }
        for step in self.steps.iter().chain(&self.tables) {
            text.push('\n');
            text.push_str(step);
        }
        text
    }
}

/// Where ade says it is reachable; the check's details links start with it.
pub const PUBLIC_URL: &str = "https://ade.example.test";

/// A story about to start: the forge, the agent's script, the policy, the repository's files.
pub struct Setup {
    forge: Forge,
    agent: String,
    more_agents: Vec<(&'static str, String)>,
    agent_output: Option<&'static str>,
    agent_timeout_secs: u64,
    policy: Policy,
    files: Vec<(&'static str, String)>,
    public_url: bool,
    purge_every: Option<Duration>,
    reconcile_every: Option<Duration>,
}

impl Setup {
    pub fn on(forge: Forge) -> Setup {
        Setup {
            forge,
            agent: NOTES.into(),
            more_agents: Vec::new(),
            agent_output: None,
            agent_timeout_secs: 60,
            policy: Policy::new(),
            files: Vec::new(),
            public_url: false,
            purge_every: None,
            reconcile_every: None,
        }
    }

    /// ade purges what retention no longer keeps this often (an hour by default).
    pub fn purging_every(mut self, every: Duration) -> Setup {
        self.purge_every = Some(every);
        self
    }

    /// ade sweeps the forge for what no delivery brought this often (five minutes by default).
    pub fn reconciling_every(mut self, every: Duration) -> Setup {
        self.reconcile_every = Some(every);
        self
    }

    pub fn agent(mut self, script: &str) -> Setup {
        self.agent = script.into();
        self
    }

    /// One more script agent, registered as `name` (the policy allows every registered agent).
    pub fn another_agent(mut self, name: &'static str, script: &str) -> Setup {
        self.more_agents.push((name, script.into()));
        self
    }

    /// The agent's output is read as `format` says (`claude-json`: cost, failed tool calls).
    pub fn agent_output(mut self, format: &'static str) -> Setup {
        self.agent_output = Some(format);
        self
    }

    pub fn policy(mut self, policy: Policy) -> Setup {
        self.policy = policy;
        self
    }

    pub fn file(mut self, path: &'static str, content: &str) -> Setup {
        self.files.push((path, content.into()));
        self
    }

    pub fn public_url(mut self) -> Setup {
        self.public_url = true;
        self
    }

    /// Starts the simulator and ade on `db`; the repository defines the labels ade adds.
    pub async fn start(self, db: TestDb) -> Story {
        eprintln!("the story on {:?} and {}", self.forge, db.name);
        let policy = self.policy.toml();
        let mut files: Vec<(&str, &str)> = vec![(".ade/config.toml", policy.as_str())];
        files.extend(self.files.iter().map(|(p, c)| (*p, c.as_str())));
        let mut agents = script_agent(&self.agent, self.agent_timeout_secs);
        if let Some(format) = self.agent_output {
            agents.push_str(&format!("output = {format:?}\n"));
        }
        for (name, script) in &self.more_agents {
            agents.push_str(&named_script_agent(name, script, self.agent_timeout_secs));
        }
        let public_url = self.public_url;
        let purge_every = self.purge_every;
        let reconcile_every = self.reconcile_every;
        let story = Story::start_on(
            db,
            self.forge.kind(),
            self.forge == Forge::Forgejo,
            &files,
            |config, dir| {
                runner_config(config, dir, &agents);
                if public_url {
                    config.server.public_url = Some(PUBLIC_URL.into());
                }
                if let Some(every) = purge_every {
                    config.retention.purge_every = every;
                }
                if let Some(every) = reconcile_every {
                    config.reconcile.every = Some(every);
                }
            },
        )
        .await;
        for label in ["ade", "ade:rejected"] {
            story.sim.add_label(REPO, label, "#5319e7").unwrap();
        }
        story
    }
}

/// Runs `story` on every database this run tests on, one after the other.
pub async fn on_each_database<F, Fut>(story: F)
where
    F: Fn(TestDb) -> Fut,
    Fut: Future<Output = ()>,
{
    for db in databases().await {
        let name = db.name;
        let started = std::time::Instant::now();
        story(db).await;
        super::record_wait(&format!("the story on {name}"), started.elapsed(), "ok");
    }
}

/// Adds a line to the task's notes on every attempt, so each attempt changes something.
pub const NOTES: &str = "mkdir -p notes\necho \"notes of $ADE_TASK_ID\" >> notes/$ADE_TASK_ID.md\n\
                     echo \"Wrote the notes of $ADE_TASK_ID.\" > \"$ADE_OUTPUT_FILE\"\n";

// ----- reading what happened -----

/// Every run, oldest first.
pub async fn all_runs(story: &Story) -> Vec<RunRow> {
    let mut conn = story.ade.store().reader().await.unwrap();
    runs::all_runs(&mut conn).await.unwrap()
}

/// Attempt `attempt` of task `task`, once it is in one of `states`.
pub async fn run_of(story: &Story, task: &str, attempt: i64, states: &[&str]) -> RunRow {
    let suffix = format!("-{task}");
    eventually(
        PATIENCE,
        &format!("attempt {attempt} of {task} in {states:?}"),
        || async {
            all_runs(story).await.into_iter().find(|r| {
                r.branch.ends_with(&suffix)
                    && r.attempt == attempt
                    && states.contains(&r.state.as_str())
            })
        },
    )
    .await
}

/// The prompt the agent of `run` read.
pub fn prompt_of(story: &Story, run: &RunRow) -> String {
    let file = workdir(&story.config_dir())
        .join("runs")
        .join(run.id.to_string())
        .join(format!("attempt-{}", run.attempt))
        .join("prompt.md");
    std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()))
}

/// ade's approval of `task`, open or not, once it exists.
pub async fn approval_of(story: &Story, task: &str) -> SimPull {
    let suffix = format!("-{task}");
    story
        .until(&format!("the approval of {task}"), |s| {
            s.sim
                .pulls(REPO)
                .into_iter()
                .find(|p| p.head.ends_with(&suffix))
        })
        .await
}

/// Pull request `number` as the forge has it now.
pub fn pull(story: &Story, number: i64) -> SimPull {
    story
        .sim
        .pull(REPO, number)
        .expect("the pull request exists")
}

/// Waits until pull request `number` is what `wanted` says.
pub async fn pull_until(
    story: &Story,
    number: i64,
    what: &str,
    wanted: impl Fn(&SimPull) -> bool,
) -> SimPull {
    story
        .until(what, |s| s.sim.pull(REPO, number).filter(|p| wanted(p)))
        .await
}

/// The `ade/verify` checks on `sha`, oldest first (one check run on GitHub, updated in place;
/// every status set on Gitea).
pub fn verify_checks(story: &Story, sha: &str) -> Vec<SimCheck> {
    story
        .sim
        .checks(REPO, sha)
        .into_iter()
        .filter(|c| c.name == "ade/verify")
        .collect()
}

/// Waits until the newest `ade/verify` on `sha` is in one of `states`.
pub async fn verify_check(story: &Story, sha: &str, states: &[CheckState]) -> SimCheck {
    story
        .until(&format!("ade/verify {states:?} on {sha}"), |s| {
            verify_checks(s, sha)
                .pop()
                .filter(|c| states.contains(&c.state))
        })
        .await
}

/// The calls ade made that set `ade/verify` on `sha`, in order: their state as the forge's words
/// (`in_progress`, `success`, …) on GitHub, the status state on Gitea.
pub fn verify_reports(story: &Story, sha: &str) -> Vec<String> {
    let ok = |c: &ApiCall| (200..300).contains(&c.status);
    match story.kind() {
        ForgeKind::Github => {
            let ids: Vec<i64> = verify_checks(story, sha).iter().map(|c| c.id).collect();
            story
                .sim
                .calls()
                .into_iter()
                .filter(ok)
                .filter(|c| {
                    let body = c.json();
                    (c.method == "POST"
                        && c.path == "/repos/acme/widgets/check-runs"
                        && body["head_sha"] == sha
                        && body["name"] == "ade/verify")
                        || (c.method == "PATCH"
                            && ids
                                .iter()
                                .any(|id| c.path == format!("/repos/acme/widgets/check-runs/{id}")))
                })
                .map(|c| {
                    let body = c.json();
                    body["conclusion"]
                        .as_str()
                        .or(body["status"].as_str())
                        .unwrap_or("")
                        .to_string()
                })
                .collect()
        }
        ForgeKind::Gitea => story
            .sim
            .calls_to(
                "POST",
                &format!("/api/v1/repos/acme/widgets/statuses/{sha}"),
            )
            .into_iter()
            .filter(ok)
            .filter(|c| c.json()["context"] == "ade/verify")
            .map(|c| c.json()["state"].as_str().unwrap_or("").to_string())
            .collect(),
    }
}

/// [`verify_reports`] once the last of them is `last` (the simulator records a call as it
/// answers it, after its state changed).
pub async fn verify_reports_until(story: &Story, sha: &str, last: &str) -> Vec<String> {
    story
        .until(&format!("ade/verify reported {last} on {sha}"), |s| {
            Some(verify_reports(s, sha)).filter(|r| r.last().is_some_and(|l| l == last))
        })
        .await
}

/// When (by the simulator's call order) ade last made a successful `method` call on `pattern`
/// whose JSON body is what `wanted` says.
fn last_call(
    story: &Story,
    method: &str,
    pattern: &str,
    wanted: impl Fn(&serde_json::Value) -> bool,
) -> Option<u64> {
    story
        .sim
        .calls_to(method, pattern)
        .into_iter()
        .filter(|c| (200..300).contains(&c.status) && wanted(&c.json()))
        .map(|c| c.seq)
        .next_back()
}

/// When ade last said `ade/verify` passed, and when it last marked approval `number` ready for
/// review (GraphQL on GitHub, the title without `WIP: ` on Gitea).
pub fn ready_calls(story: &Story, number: i64) -> (Option<u64>, Option<u64>) {
    match story.kind() {
        ForgeKind::Github => (
            last_call(story, "PATCH", "/repos/acme/widgets/check-runs/*", |b| {
                b["conclusion"] == "success"
            }),
            last_call(story, "POST", "/graphql", |b| {
                b["query"]
                    .as_str()
                    .is_some_and(|q| q.contains("markPullRequestReadyForReview"))
            }),
        ),
        ForgeKind::Gitea => (
            last_call(
                story,
                "POST",
                "/api/v1/repos/acme/widgets/statuses/*",
                |b| b["state"] == "success",
            ),
            last_call(
                story,
                "PATCH",
                &format!("/api/v1/repos/acme/widgets/pulls/{number}"),
                |b| b["title"].as_str().is_some_and(|t| !t.starts_with("WIP: ")),
            ),
        ),
    }
}

/// Whether ade asked the forge to open pull request `number` as a draft.
pub fn opened_as_draft(story: &Story, number: i64) -> bool {
    let (path, draft): (&str, fn(&serde_json::Value) -> bool) = match story.kind() {
        ForgeKind::Github => ("/repos/acme/widgets/pulls", |b| b["draft"] == true),
        ForgeKind::Gitea => ("/api/v1/repos/acme/widgets/pulls", |b| {
            b["title"].as_str().is_some_and(|t| t.starts_with("WIP: "))
        }),
    };
    story
        .sim
        .calls_to("POST", path)
        .into_iter()
        .find(|c| c.response_json()["number"] == number)
        .is_some_and(|c| draft(&c.json()))
}

/// The full text of the `ade/verify` report of approval `number` at `sha`: the check run's
/// summary on GitHub, the approval's sticky report comment on Gitea and Forgejo.
pub async fn verify_report_text(story: &Story, number: i64, sha: &str) -> String {
    match story.kind() {
        ForgeKind::Github => {
            verify_checks(story, sha)
                .pop()
                .expect("a check run")
                .summary
        }
        ForgeKind::Gitea => {
            let short = &sha[..12];
            story
                .until("the report comment on the approval", |s| {
                    s.bot_comments(number)
                        .into_iter()
                        .find(|b| b.contains("<!-- ade:verify:") && b.contains(short))
                })
                .await
        }
    }
}

/// ade's comment on `number` that contains `text`, once posted.
pub async fn comment_with(story: &Story, number: i64, text: &str) -> String {
    story
        .until(&format!("a comment on #{number} with {text:?}"), |s| {
            s.bot_comments(number)
                .into_iter()
                .find(|b| b.contains(text))
        })
        .await
}

/// Plans `issue` and approves the plan once it is validated.
pub async fn plan_and_approve(story: &Story, issue: i64) {
    story.comment(issue, MAINTAINER, "/ade plan").await;
    story
        .until("the plan", |s| {
            s.plan_comment(issue).filter(|p| p.contains("· validated"))
        })
        .await;
    // A maintainer reads the plan before approving it: by then ade has recorded the plan as
    // shown. (A bare approve commented before that is asked which version it means.)
    story.settle().await;
    story.comment(issue, MAINTAINER, "/ade approve").await;
}

/// A maintainer opens a goal with these tasks and approves its plan; returns the issue.
pub async fn approved_goal(story: &Story, title: &str, tasks: &str) -> i64 {
    let issue = story.issue(MAINTAINER, title, tasks).await;
    plan_and_approve(story, issue).await;
    issue
}

/// The goal's summary comment, once posted.
pub async fn summary_of(story: &Story, issue: i64) -> String {
    comment_with(story, issue, &format!("<!-- ade:summary:{issue} -->")).await
}

/// Opens a details link at ade's own address (the public URL's origin is the operator's proxy);
/// returns the status and the body.
pub async fn open_link(story: &Story, link: &str) -> (u16, String) {
    let path = link
        .strip_prefix(PUBLIC_URL)
        .unwrap_or_else(|| panic!("{link} starts with the public URL"));
    let response = reqwest::get(format!("http://{}{path}", story.ade.addr()))
        .await
        .expect("ade answers");
    let status = response.status().as_u16();
    (status, response.text().await.unwrap_or_default())
}

/// Makes sure nothing failed for good and nothing is left to do.
pub async fn all_done(story: &Story) {
    story.settle().await;
    assert_eq!(story.failed_jobs().await, 0, "no job failed for good");
    if story.kind() == ForgeKind::Github {
        every_call_is_in_the_app_manifest(story);
    }
}

/// Every call ade made to GitHub is one the app's permission table knows, so the manifest in
/// deploy/ asks for what ade uses (ade::forge::github::permissions).
pub fn every_call_is_in_the_app_manifest(story: &Story) {
    use ade::forge::github::permissions::endpoint;
    for call in story.sim.calls() {
        if call.path.starts_with("/_sim") {
            continue;
        }
        let known = if call.git {
            let push = call.path.ends_with("git-receive-pack")
                || call.query.contains("service=git-receive-pack");
            endpoint("GIT", if push { "push" } else { "fetch" })
        } else {
            endpoint(&call.method, &call.path)
        };
        assert!(
            known.is_some(),
            "ade called {} {} on GitHub, which src/forge/github/permissions.rs does not list",
            call.method,
            call.path
        );
    }
}

/// The merge requests ade sent for pull request `number`.
pub fn merge_calls(story: &Story, number: i64) -> Vec<ApiCall> {
    let path = match story.kind() {
        ForgeKind::Github => format!("/repos/acme/widgets/pulls/{number}/merge"),
        ForgeKind::Gitea => format!("/api/v1/repos/acme/widgets/pulls/{number}/merge"),
    };
    story.sim.calls_to("*", &path)
}
