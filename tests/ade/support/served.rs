//! A maintainer's story told to a real `ade serve`: the forge simulator runs in the test, ade is
//! a process of its own on the story's database, with a runner whose script agent and
//! verification steps can wait at gates the test opens, so the test can SIGKILL ade at a chosen
//! moment of the flow and start it again. What a story reads back comes from the forge (its
//! state and the record of every call ade made) and from ade's database, read beside it.

use super::db::TestDb;
use super::runner::{runner_file, script_agent, workdir};
use super::story::{MAINTAINER, PATIENCE, REPO, Seeded};
use super::verify::Policy;
use super::{AdeProcess, eventually};
use ade::forge::ForgeKind;
use ade::sim::{ApiCall, Simulator};
use ade::store::Store;
use ade::store::deliveries::{self, DeliveryState};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// How long a story waits for ade to take up again after a restart: the killed process's job
/// leases must expire before its runs are taken over.
pub const RECOVERY: Duration = Duration::from_secs(40);

/// A shell fragment that stops at gate `name` until the test opens it: it leaves
/// `<name>.waiting` in the folder `dir` (a shell word, `"$ADE_SCRATCH"`) and waits for
/// `<name>.go` beside it. The folder must be one the process may write (an agent's or a step's
/// scratch folder), and lie in the runner's `runs/` folder, where the test looks.
pub fn gate(dir: &str, name: &str) -> String {
    format!("touch {dir}/{name}.waiting\nwhile [ ! -e {dir}/{name}.go ]; do sleep 0.1; done\n")
}

/// The gate of an agent: in its scratch folder.
pub fn agent_gate(name: &str) -> String {
    gate("\"$ADE_SCRATCH\"", name)
}

/// The gate of a verification step: in the steps' scratch folder (the parent of their HOME).
pub fn step_gate(name: &str) -> String {
    gate("\"$HOME/..\"", name)
}

/// A story about to start: the agent's script and the repository's policy.
pub struct Served {
    agent: String,
    policy: Policy,
}

impl Served {
    /// A story on GitHub with `agent` as the script agent and the default policy.
    pub fn new(agent: &str) -> Served {
        Served {
            agent: agent.to_string(),
            policy: Policy::new(),
        }
    }

    /// The repository's `.ade/config.toml`.
    pub fn policy(mut self, policy: Policy) -> Served {
        self.policy = policy;
        self
    }

    /// Seeds the forge and starts `ade serve` on `db`, pointed at it.
    pub async fn start(self, db: TestDb) -> World {
        eprintln!("the story on {}", db.name);
        let policy = self.policy.toml();
        let forge = Seeded::start(
            &db,
            ForgeKind::Github,
            false,
            &[(".ade/config.toml", policy.as_str())],
        )
        .await;
        for label in ["ade", "ade:rejected"] {
            forge.sim.add_label(REPO, label, "#5319e7").unwrap();
        }
        let config = runner_file(&db.dir, "", &script_agent(&self.agent, 120));
        let mut env: Vec<(String, String)> = forge
            .serve_env()
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect();
        env.push(("ADE_CONFIG".into(), config.display().to_string()));
        let ade = spawn(&db, &env, &forge.sim).await;
        let store = db.store().await;
        World {
            workdir: workdir(&db.dir),
            forge,
            ade,
            env,
            store,
            db,
            lives: 1,
        }
    }
}

async fn spawn(db: &TestDb, env: &[(String, String)], sim: &Simulator) -> AdeProcess {
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let ade = AdeProcess::spawn(db, &env).await;
    sim.set_webhook_url(Some(format!("http://{}/webhooks/github", ade.addr)));
    ade
}

/// The forge and a running `ade serve`, which the story may kill and start again.
pub struct World {
    /// The forge, its people and ade's bot.
    pub forge: Seeded,
    /// ade, as a process.
    pub ade: AdeProcess,
    env: Vec<(String, String)>,
    /// A client of ade's database of its own.
    pub store: Store,
    workdir: PathBuf,
    /// How many processes ade has been so far.
    lives: u32,
    /// Kept last: dropping it deletes the folder the others use.
    db: TestDb,
}

impl World {
    /// The forge.
    pub fn sim(&self) -> &Simulator {
        &self.forge.sim
    }

    /// The database's name, for messages.
    pub fn db_name(&self) -> &'static str {
        self.db.name
    }

    /// `author` opens an issue; returns its number.
    pub async fn issue(&self, author: &str, title: &str, body: &str) -> i64 {
        self.sim()
            .open_issue(REPO, author, title, body)
            .await
            .expect("the issue opens")
    }

    /// `author` comments on issue `number`; returns the comment id.
    pub async fn comment(&self, number: i64, author: &str, body: &str) -> i64 {
        self.sim()
            .comment(REPO, number, author, body)
            .await
            .expect("the comment posts")
    }

    /// `author` comments `body` on each of `issues`, one after the other, through the forge's
    /// own API from a task of its own, so the test can act meanwhile; the task ends when the
    /// last comment is posted (whether or not its webhook reached ade).
    pub fn comments_one_after_another(
        &self,
        author: &str,
        issues: &[i64],
        body: &str,
    ) -> tokio::task::JoinHandle<()> {
        let client = reqwest::Client::new();
        let url = format!("{}/_sim/comments", self.sim().url());
        let comments: Vec<String> = issues
            .iter()
            .map(|number| {
                serde_json::json!({ "number": number, "author": author, "body": body }).to_string()
            })
            .collect();
        tokio::spawn(async move {
            for comment in comments {
                let posted = client
                    .post(&url)
                    .header("content-type", "application/json")
                    .body(comment)
                    .send()
                    .await;
                assert!(posted.is_ok_and(|r| r.status().is_success()));
            }
        })
    }

    /// ade's comments on `number`, oldest first.
    pub fn bot_comments(&self, number: i64) -> Vec<String> {
        self.sim()
            .comments(REPO, number)
            .into_iter()
            .filter(|c| c.author == self.forge.bot)
            .map(|c| c.body)
            .collect()
    }

    /// ade's plan comment on `number`, once it says `text`.
    pub async fn plan_saying(&self, number: i64, text: &str) -> String {
        let marker = format!("<!-- ade:plan:{number} -->");
        self.until(&format!("the plan of #{number} saying {text:?}"), || {
            self.bot_comments(number)
                .into_iter()
                .find(|c| c.contains(&marker) && c.contains(text))
        })
        .await
    }

    /// The maintainer opens a goal with `tasks`, plans it and approves the plan; returns the
    /// issue.
    pub async fn approved_goal(&self, title: &str, tasks: &str) -> i64 {
        let issue = self.issue(MAINTAINER, title, tasks).await;
        self.comment(issue, MAINTAINER, "/ade plan").await;
        self.plan_saying(issue, "· validated").await;
        self.comment(issue, MAINTAINER, "/ade approve").await;
        issue
    }

    /// Waits (a story's patience) until `check` finds what it wants.
    pub async fn until<T>(&self, what: &str, check: impl Fn() -> Option<T>) -> T {
        eventually(PATIENCE, what, || async { check() }).await
    }

    /// Waits until something stops at gate `name`; returns the file it left.
    pub async fn waiting_at(&self, name: &str) -> PathBuf {
        let file = format!("{name}.waiting");
        eventually(
            RECOVERY,
            &format!("a process waiting at {name}"),
            || async { self.gate_files(&file).pop() },
        )
        .await
    }

    /// Lets whatever waits at gate `name` go on.
    pub fn open_gate(&self, name: &str) {
        for waiting in self.gate_files(&format!("{name}.waiting")) {
            std::fs::write(waiting.with_extension("go"), "").unwrap();
        }
    }

    /// Forgets that something waited at gate `name` (what waits goes on waiting), so the next
    /// [`World::waiting_at`] sees only a process that arrives later.
    pub fn forget_gate(&self, name: &str) {
        for waiting in self.gate_files(&format!("{name}.waiting")) {
            let _ = std::fs::remove_file(waiting);
        }
    }

    /// The files called `name` in the scratch folders of the runner's runs.
    fn gate_files(&self, name: &str) -> Vec<PathBuf> {
        let mut found = Vec::new();
        for run in read_dir(&self.workdir.join("runs")) {
            for scratch in read_dir(&run) {
                let file = scratch.join(name);
                if file.exists() {
                    found.push(file);
                }
            }
        }
        found
    }

    /// The processes of the agent user (anyone but root) working in the runner's folder: agents
    /// and verification steps, running or left behind.
    pub fn agent_processes(&self) -> Vec<u32> {
        let mut found = Vec::new();
        for entry in read_dir(Path::new("/proc")) {
            let Some(pid) = entry
                .file_name()
                .and_then(|n| n.to_str())
                .and_then(|n| n.parse::<u32>().ok())
            else {
                continue;
            };
            if in_folder(pid, &self.workdir) && !runs_as_root(pid) {
                found.push(pid);
            }
        }
        found
    }

    /// Waits until none of `pids` is still working in the runner's folder.
    pub async fn until_gone(&self, pids: &[u32], what: &str) {
        eventually(RECOVERY, what, || async {
            pids.iter()
                .all(|pid| !in_folder(*pid, &self.workdir))
                .then_some(())
        })
        .await;
    }

    /// Kills ade with SIGKILL, where it stands, and starts a new `ade serve` on the same
    /// database, configuration and runner folder; the forge's webhooks go to the new process.
    pub async fn kill_9_and_restart(&mut self) {
        self.ade.kill_9();
        self.restart().await;
    }

    /// Starts a new `ade serve` after the last one was killed ([`AdeProcess::kill_9`]).
    pub async fn restart(&mut self) {
        self.lives += 1;
        eprintln!("{}: ade killed; starting life {}", self.db.name, self.lives);
        self.ade = spawn(&self.db, &self.env, &self.forge.sim).await;
    }

    /// Every log line of the processes ade has been, the current one last.
    pub fn logs(&self) -> String {
        let mut logs = String::new();
        for entry in read_dir(&self.db.dir) {
            let name = entry.file_name().and_then(|n| n.to_str()).unwrap_or("");
            if name.starts_with("ade-") && name.ends_with(".log") {
                logs.push_str(&std::fs::read_to_string(&entry).unwrap_or_default());
            }
        }
        logs
    }

    /// Waits until ade has nothing left to do: no job waiting or running, twice a moment apart
    /// (webhooks of its own last writes may still be on their way in).
    pub async fn settled(&self) {
        for _ in 0..2 {
            eventually(RECOVERY, "ade's queue to empty", || async {
                (self.jobs(|state| state != "failed").await == 0).then_some(())
            })
            .await;
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    }

    /// How many jobs wait or run: the work ade took on and has not finished.
    pub async fn unfinished_jobs(&self) -> i64 {
        self.jobs(|state| state != "failed").await
    }

    async fn jobs(&self, wanted: impl Fn(&str) -> bool) -> i64 {
        let mut conn = self.store.reader().await.unwrap();
        ade::store::jobs::depth(&mut conn)
            .await
            .unwrap()
            .into_iter()
            .filter(|(_, state, _)| wanted(state))
            .map(|(_, _, n)| n)
            .sum()
    }

    /// What ade's database holds when the story is over: every delivery it took handled
    /// (processed or ignored, none pending, none failed) and no job failed for good.
    pub async fn nothing_lost(&self) {
        self.every_delivery_handled().await;
        assert_eq!(
            self.jobs(|state| state == "failed").await,
            0,
            "{}: no job failed for good\n{}",
            self.db.name,
            self.failed_jobs().await
        );
    }

    /// Every delivery ade took was handled: processed or ignored, none pending, none failed.
    pub async fn every_delivery_handled(&self) {
        let mut conn = self.store.reader().await.unwrap();
        for state in [DeliveryState::Pending, DeliveryState::Failed] {
            let n = deliveries::count_in_state(&mut conn, state).await.unwrap();
            assert_eq!(n, 0, "{}: deliveries {state:?}", self.db.name);
        }
    }

    async fn failed_jobs(&self) -> String {
        let mut conn = self.store.reader().await.unwrap();
        let rows: Vec<(String, String)> = sqlx::query_as(
            "SELECT kind, COALESCE(last_error, '') FROM jobs WHERE state = 'failed'",
        )
        .fetch_all(&mut *conn)
        .await
        .unwrap_or_default();
        format!("{rows:#?}")
    }

    /// Where the forge's delivery `id` is in ade's handling, if ade stored it.
    pub async fn delivery_state(&self, id: &str) -> Option<DeliveryState> {
        let mut conn = self.store.reader().await.unwrap();
        deliveries::find(&mut conn, ForgeKind::Github, id)
            .await
            .unwrap()
            .map(|d| d.state)
    }

    /// One number read from ade's database.
    pub async fn count(&self, sql: &str) -> i64 {
        let mut conn = self.store.reader().await.unwrap();
        let (n,): (i64,) = sqlx::query_as(sql)
            .fetch_one(&mut *conn)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
        n
    }

    /// The text of one column of every row `sql` reads from ade's database.
    pub async fn texts(&self, sql: &str) -> Vec<String> {
        let mut conn = self.store.reader().await.unwrap();
        let rows: Vec<(String,)> = sqlx::query_as(sql)
            .fetch_all(&mut *conn)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
        rows.into_iter().map(|(t,)| t).collect()
    }

    /// The forge writes ade made that the forge carried out (whether or not ade heard the
    /// answer), `method` on `pattern`.
    pub fn carried_out(&self, method: &str, pattern: &str) -> Vec<ApiCall> {
        self.sim()
            .calls_to(method, pattern)
            .into_iter()
            .filter(|c| (200..300).contains(&c.status))
            .collect()
    }

    /// Asserts that ade wrote nothing twice: every comment it posted carries a marker no other
    /// post carried, every pull request was opened once for its branch, every check run was
    /// created once per name and commit.
    pub fn no_write_twice(&self) {
        let mut comments: BTreeMap<String, usize> = BTreeMap::new();
        for post in self.carried_out("POST", &format!("/repos/{REPO}/issues/*/comments")) {
            let body = post.json()["body"].as_str().unwrap_or_default().to_string();
            let marker = body
                .lines()
                .find(|l| l.trim().starts_with("<!-- ade:"))
                .unwrap_or_else(|| panic!("a comment of ade's carries its marker: {body}"))
                .trim()
                .to_string();
            *comments.entry(marker).or_default() += 1;
        }
        let twice: Vec<_> = comments.iter().filter(|(_, n)| **n > 1).collect();
        assert!(twice.is_empty(), "comments posted twice: {twice:?}");

        let mut pulls: BTreeMap<String, usize> = BTreeMap::new();
        for post in self.carried_out("POST", &format!("/repos/{REPO}/pulls")) {
            let head = post.json()["head"].as_str().unwrap_or_default().to_string();
            *pulls.entry(head).or_default() += 1;
        }
        let twice: Vec<_> = pulls.iter().filter(|(_, n)| **n > 1).collect();
        assert!(twice.is_empty(), "pull requests opened twice: {twice:?}");
        let heads: Vec<String> = self.sim().pulls(REPO).into_iter().map(|p| p.head).collect();
        let mut distinct = heads.clone();
        distinct.sort();
        distinct.dedup();
        assert_eq!(heads.len(), distinct.len(), "one pull request per branch");

        let mut checks: BTreeMap<(String, String), usize> = BTreeMap::new();
        for post in self.carried_out("POST", &format!("/repos/{REPO}/check-runs")) {
            let body = post.json();
            let key = (
                body["name"].as_str().unwrap_or_default().to_string(),
                body["head_sha"].as_str().unwrap_or_default().to_string(),
            );
            *checks.entry(key).or_default() += 1;
        }
        let twice: Vec<_> = checks.iter().filter(|(_, n)| **n > 1).collect();
        assert!(twice.is_empty(), "check runs created twice: {twice:?}");
    }

    /// Stops ade with SIGTERM: it exits cleanly after all that happened.
    pub fn stop(mut self) {
        let status = self.ade.terminate();
        assert!(
            status.success(),
            "ade exits cleanly: {status:?}\n{}",
            self.ade.log()
        );
    }
}

/// A story that ends early (a failed assertion) kills what its agents left running, so no test
/// leaves processes behind.
impl Drop for World {
    fn drop(&mut self) {
        for pid in self.agent_processes() {
            // SAFETY: kill(2) signals one process of the story's own runner folder.
            unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) };
        }
    }
}

fn read_dir(dir: &Path) -> Vec<PathBuf> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .collect();
    entries.sort();
    entries
}

/// Whether process `pid` works in `folder` (its working folder lies there).
fn in_folder(pid: u32, folder: &Path) -> bool {
    std::fs::read_link(format!("/proc/{pid}/cwd")).is_ok_and(|cwd| cwd.starts_with(folder))
}

fn runs_as_root(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|l| l.strip_prefix("Uid:"))
                .map(|ids| ids.split_whitespace().next() == Some("0"))
        })
        .unwrap_or(true)
}
