//! Races and lost answers: people acting at the same moment (twenty approvals, an approval and a
//! cancel, two pushes, a merge and a cancel, a new plan approved as a merge finishes the old
//! one), every webhook of it delivered several times at once and, on PostgreSQL, to two replicas
//! of ade; and forge writes whose answer never came back or whose process died before recording
//! them. Each story ends in one consistent state, read from ade's database and from the forge.
//!
//! Commands on one goal take turns (one ordering key per issue), so the races that reach ade's
//! compare-and-sets are between jobs of different keys: a command on the issue and an event on
//! its pull request. On PostgreSQL a story holds the rows they both move locked until both wait
//! there, each having read the rows as they were, so the race happens every time.

use crate::support::db::TestDb;
use crate::support::story::{MAINTAINER, PATIENCE, REPO, REVIEWER, Seeded, Story};
use crate::support::verify::{
    Forge, Policy, Setup, all_done, all_runs, approval_of, approved_goal, on_each_database,
    pull_until, run_of, verify_check, verify_checks, verify_reports,
};
use crate::support::{AdeProcess, eventually};
use ade::forge::{CheckState, ForgeKind};
use ade::lifecycle::State;
use ade::service::Service;
use ade::sim::{ApiCall, DeliveryOutcome, DeliveryRecord, Fault, FaultRule};
use std::net::SocketAddr;
use std::time::Duration;

// ----- the people, at once -----

/// What people do on the forge at the same moment, through the forge's own control API, each
/// from a task of its own; returns what each made (a comment's or a review's id), in order.
async fn at_once(story: &Story, acts: Vec<(String, serde_json::Value)>) -> Vec<i64> {
    let client = reqwest::Client::new();
    let mut acting = Vec::new();
    for (path, body) in acts {
        let url = format!("{}/_sim{path}", story.sim.url());
        let request = client
            .post(url)
            .header("content-type", "application/json")
            .body(body.to_string());
        acting.push(tokio::spawn(async move {
            let answer = request.send().await.expect("the forge answers");
            let status = answer.status().as_u16();
            let bytes = answer.bytes().await.unwrap_or_default();
            let made: serde_json::Value =
                serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null);
            assert!(status < 300, "{path}: {status} {made}");
            made["id"].as_i64().unwrap_or_default()
        }));
    }
    let mut made = Vec::new();
    for act in acting {
        made.push(act.await.expect("the act finishes"));
    }
    made
}

/// `author` comments `body` on `number`, as one of [`at_once`]'s acts.
fn commenting(number: i64, author: &str, body: &str) -> (String, serde_json::Value) {
    let comment = serde_json::json!({ "number": number, "author": author, "body": body });
    ("/comments".into(), comment)
}

/// Where webhooks can reach ade: the story's ade, and on PostgreSQL a second replica on the
/// same database.
struct Replicas {
    addrs: Vec<SocketAddr>,
    _second: Option<Service>,
}

impl Replicas {
    async fn of(story: &Story) -> Replicas {
        let second = if story.on_postgres() {
            Some(story.replica().await)
        } else {
            None
        };
        let mut addrs = vec![story.ade.addr()];
        addrs.extend(second.as_ref().map(Service::addr));
        Replicas {
            addrs,
            _second: second,
        }
    }
}

/// The forge's deliveries of `event` whose body `wanted` picks, as first sent.
fn deliveries_of(
    story: &Story,
    event: &str,
    wanted: impl Fn(&serde_json::Value) -> bool,
) -> Vec<DeliveryRecord> {
    story
        .sim
        .deliveries()
        .into_iter()
        .filter(|d| !d.redelivery && d.event == event && wanted(&d.json()))
        .collect()
}

/// The deliveries of the comments `ids` on the forge.
fn deliveries_of_comments(story: &Story, ids: &[i64]) -> Vec<DeliveryRecord> {
    deliveries_of(story, "issue_comment", |body| {
        body["comment"]["id"]
            .as_i64()
            .is_some_and(|id| ids.contains(&id))
    })
}

/// Sends every one of `deliveries` again, all at once, to every replica: three times under
/// its own id (a forge retrying), and a comment once more under a new id (the same signed body
/// replayed, which its comment id gives away). Each copy is stored once or refused at the door,
/// never acted on twice. Other events are not replayed: under a new id they are news to ade,
/// and handling one again would mend a state a race left wrong before the story could see it.
async fn deliver_again_at_once(story: &Story, replicas: &Replicas, deliveries: &[DeliveryRecord]) {
    let client = reqwest::Client::new();
    let mut sending = Vec::new();
    for delivery in deliveries {
        let copies = if delivery.event == "issue_comment" {
            4
        } else {
            3
        };
        for addr in &replicas.addrs {
            for copy in 0..copies {
                let url = format!("http://{addr}/webhooks/{}", story.kind());
                let mut request = client.post(url).body(delivery.body.clone());
                for (name, value) in &delivery.headers {
                    let value = if copy == 3 && name.to_ascii_lowercase().ends_with("-delivery") {
                        format!("{value}-replayed")
                    } else {
                        value.clone()
                    };
                    request = request.header(name.as_str(), value);
                }
                sending.push(tokio::spawn(async move {
                    request.send().await.map(|r| r.status().as_u16())
                }));
            }
        }
    }
    for send in sending {
        let status = send.await.unwrap().expect("ade answers");
        assert!(
            [200, 202, 503].contains(&status),
            "a copy is stored, known, or refused at the door: {status}"
        );
    }
}

// ----- reading what happened -----

/// One number read from ade's database.
async fn count(story: &Story, sql: &str) -> i64 {
    let mut conn = story.ade.store().reader().await.unwrap();
    let (n,): (i64,) = sqlx::query_as(sql)
        .fetch_one(&mut *conn)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    n
}

/// One text column of every row `sql` reads from ade's database.
async fn texts(story: &Story, sql: &str) -> Vec<String> {
    let mut conn = story.ade.store().reader().await.unwrap();
    let rows: Vec<(String,)> = sqlx::query_as(sql)
        .fetch_all(&mut *conn)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    rows.into_iter().map(|(text,)| text).collect()
}

/// How often a spec of the story's goal became `state`.
async fn times_spec_became(story: &Story, state: &str) -> i64 {
    count(
        story,
        &format!("SELECT COUNT(*) FROM spec_transitions WHERE to_state = '{state}'"),
    )
    .await
}

/// The one spec's state now.
async fn spec_state(story: &Story) -> String {
    texts(story, "SELECT state FROM specs").await.concat()
}

/// ade's replies to comment `comment` on `number` (one per command line it answered).
fn replies_to(story: &Story, number: i64, comment: i64) -> Vec<String> {
    let marker = format!("<!-- ade:reply:{comment}:");
    story
        .bot_comments(number)
        .into_iter()
        .filter(|c| c.contains(&marker))
        .collect()
}

/// ade's one reply to `comment`.
fn reply_to(story: &Story, number: i64, comment: i64) -> String {
    let replies = replies_to(story, number, comment);
    assert_eq!(
        replies.len(),
        1,
        "one reply to comment {comment}: {replies:#?}"
    );
    replies.into_iter().next().unwrap()
}

/// The comment posts ade made that carried `marker` and that the forge carried out.
fn posts_with_marker(story: &Story, marker: &str) -> Vec<ApiCall> {
    let line = format!("<!-- ade:{marker} -->");
    story
        .sim
        .calls_to("POST", &comments_path(story.kind()))
        .into_iter()
        .filter(|c| (200..300).contains(&c.status))
        .filter(|c| c.json()["body"].as_str().is_some_and(|b| b.contains(&line)))
        .collect()
}

/// The path pattern of the comments of any issue of the story's repository.
fn comments_path(kind: ForgeKind) -> String {
    match kind {
        ForgeKind::Github => format!("/repos/{REPO}/issues/*/comments"),
        ForgeKind::Gitea => format!("/api/v1/repos/{REPO}/issues/*/comments"),
    }
}

/// Every reply ade wrote was posted once: one carried-out POST per reply marker.
fn every_reply_posted_once(story: &Story, number: i64) {
    for reply in story.replies(number) {
        let marker = reply
            .lines()
            .find_map(|l| l.trim().strip_prefix("<!-- ade:"))
            .and_then(|l| l.strip_suffix(" -->"))
            .expect("a reply carries its marker")
            .to_string();
        assert_eq!(
            posts_with_marker(story, &marker).len(),
            1,
            "{marker} was posted once"
        );
    }
}

/// The issue's task list: independent tasks, so an approval starts them at once.
fn tasks(n: usize) -> String {
    (1..=n)
        .map(|i| format!("- [ ] Write notes number {i}\n"))
        .collect()
}

/// Plans `issue` and waits until the plan is validated.
async fn planned(story: &Story, issue: i64) {
    story.comment(issue, MAINTAINER, "/ade plan").await;
    story
        .until("the plan", |s| {
            s.plan_comment(issue).filter(|p| p.contains("· validated"))
        })
        .await;
}

// ----- 1. twenty approvals at once -----

async fn twenty_approvals_at_once(db: TestDb) {
    let story = Setup::on(Forge::Github).start(db).await;
    let replicas = Replicas::of(&story).await;
    let issue = story.issue(MAINTAINER, "Project notes", &tasks(2)).await;
    planned(&story, issue).await;

    let approvals = at_once(
        &story,
        (0..20)
            .map(|n| commenting(issue, [MAINTAINER, REVIEWER][n % 2], "/ade approve"))
            .collect(),
    )
    .await;
    deliver_again_at_once(
        &story,
        &replicas,
        &deliveries_of_comments(&story, &approvals),
    )
    .await;
    story
        .until("the plan to turn active", |s| {
            s.plan_comment(issue).filter(|p| p.contains("· active"))
        })
        .await;
    run_of(&story, "t1", 1, &["succeeded"]).await;
    run_of(&story, "t2", 1, &["succeeded"]).await;
    all_done(&story).await;

    assert_eq!(
        times_spec_became(&story, "active").await,
        1,
        "one activation"
    );
    assert_eq!(spec_state(&story).await, "active");
    assert_eq!(count(&story, "SELECT COUNT(*) FROM tasks").await, 2);
    let runs = all_runs(&story).await;
    assert_eq!(runs.len(), 2, "one run per task: {runs:#?}");
    assert_eq!(story.sim.pulls(REPO).len(), 2, "one approval per task");
    let mut activated = 0;
    for approval in &approvals {
        assert_eq!(story.reactions(*approval), ["eyes"], "one 👀 each");
        let reply = reply_to(&story, issue, *approval);
        if reply.contains("approved plan v1: it is active") {
            activated += 1;
        } else {
            assert!(
                reply.contains("already approved and active")
                    || reply.contains("was approved meanwhile"),
                "{reply}"
            );
        }
    }
    assert_eq!(activated, 1, "one approval activated the plan");
    assert_eq!(story.replies(issue).len(), 21, "the plan's reply and 20");
    every_reply_posted_once(&story, issue);
    assert_eq!(posts_with_marker(&story, &format!("plan:{issue}")).len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_approvals_at_once_activate_the_plan_once_and_each_gets_one_reply() {
    on_each_database(twenty_approvals_at_once).await;
}

// ----- 2. an approval and a cancel at once -----

/// Takes its time, so runs are under way when the cancel is handled.
const SLOW_NOTES: &str =
    "sleep 4\nmkdir -p notes\necho \"notes of $ADE_TASK_ID\" > notes/$ADE_TASK_ID.md\n";

/// Which of an approval and a cancel the forge delivers first (commands on one goal are
/// handled in that order; what they start is not).
#[derive(Clone, Copy, Debug)]
enum Posted {
    ApproveFirst,
    CancelFirst,
}

async fn approve_racing_cancel(posted: Posted, db: TestDb) {
    eprintln!("{posted:?}");
    let story = Setup::on(Forge::Github).agent(SLOW_NOTES).start(db).await;
    let replicas = Replicas::of(&story).await;
    let issue = story.issue(MAINTAINER, "Project notes", &tasks(3)).await;
    planned(&story, issue).await;

    // The second comment is posted as soon as the first one's webhook was taken, before ade
    // has handled it.
    let approve = commenting(issue, MAINTAINER, "/ade approve");
    let cancel = commenting(issue, REVIEWER, "/ade cancel");
    let (acts, approve_at) = match posted {
        Posted::ApproveFirst => ([approve, cancel], 0),
        Posted::CancelFirst => ([cancel, approve], 1),
    };
    let mut made = Vec::new();
    for act in acts {
        made.extend(at_once(&story, vec![act]).await);
    }
    let (approve, cancel) = (made[approve_at], made[1 - approve_at]);
    let acts = [approve, cancel];
    deliver_again_at_once(&story, &replicas, &deliveries_of_comments(&story, &acts)).await;
    story
        .until("both commands answered", |s| {
            (!replies_to(s, issue, approve).is_empty() && !replies_to(s, issue, cancel).is_empty())
                .then_some(())
        })
        .await;
    let approved = reply_to(&story, issue, approve);
    assert!(
        approved.contains("approved plan v1: it is active"),
        "{approved}"
    );
    let cancelled = reply_to(&story, issue, cancel);
    assert_eq!(times_spec_became(&story, "active").await, 1);

    if let Posted::CancelFirst = posted {
        assert!(cancelled.contains("nothing to cancel"), "{cancelled}");
        for task in ["t1", "t2", "t3"] {
            run_of(&story, task, 1, &["succeeded"]).await;
        }
        all_done(&story).await;
        assert_eq!(spec_state(&story).await, "active");
        let states = texts(&story, "SELECT state FROM tasks").await;
        assert!(states.iter().all(|s| s == "review"), "{states:?}");
        let pulls = story.sim.pulls(REPO);
        assert!(
            pulls.len() == 3 && pulls.iter().all(|p| p.open),
            "{pulls:#?}"
        );
    } else {
        // The cancel meets the runs the approval started as they start.
        assert!(
            cancelled.contains("cancelled `t1`, `t2`, `t3`"),
            "{cancelled}"
        );
        story
            .until("the goal's summary", |s| {
                s.bot_comments(issue)
                    .into_iter()
                    .find(|c| c.contains(&format!("<!-- ade:summary:{issue} -->")))
            })
            .await;
        all_done(&story).await;
        assert_eq!(spec_state(&story).await, "archived");
        let states = texts(&story, "SELECT state FROM tasks").await;
        assert!(states.iter().all(|s| s == "cancelled"), "{states:?}");
        for run in all_runs(&story).await {
            assert_eq!(run.state.as_str(), "cancelled", "{run:?}");
        }
        assert!(
            story.sim.pulls(REPO).iter().all(|p| !p.open),
            "no approval is left open: {:#?}",
            story.sim.pulls(REPO)
        );
    }
    assert_eq!(story.reactions(approve), ["eyes"]);
    assert_eq!(story.reactions(cancel), ["eyes"]);
    every_reply_posted_once(&story, issue);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_approval_racing_a_cancel_ends_running_or_cancelled_never_between() {
    for posted in [Posted::ApproveFirst, Posted::CancelFirst] {
        on_each_database(|db| approve_racing_cancel(posted, db)).await;
    }
}

// ----- 3. two pushes to one approval -----

async fn two_pushes(db: TestDb) {
    let story = Setup::on(Forge::Github)
        .policy(Policy::new().step("notes", "test -f notes/t1.md"))
        .start(db)
        .await;
    let replicas = Replicas::of(&story).await;
    approved_goal(&story, "Project notes", &tasks(1)).await;
    let approval = approval_of(&story, "t1").await;
    verify_check(&story, &approval.head_sha, &[CheckState::Success]).await;
    pull_until(&story, approval.number, "the approval ready", |p| !p.draft).await;
    all_done(&story).await;

    // Two pushes land back to back; the forge delivers their webhooks late, and all at once.
    story.sim.drop_webhooks(4);
    let mut heads = Vec::new();
    for (n, look) in ["First look", "Second look"].into_iter().enumerate() {
        let head = story
            .sim
            .push(
                REPO,
                REVIEWER,
                &approval.head,
                &[("notes/review.md", Some(&format!("look {n}\n")))],
                look,
            )
            .await
            .unwrap();
        heads.push(head);
    }
    let (first, latest) = (&heads[0], &heads[1]);
    let late: Vec<DeliveryRecord> = story
        .sim
        .deliveries()
        .into_iter()
        .filter(|d| d.outcome == DeliveryOutcome::Dropped)
        .collect();
    assert_eq!(
        late.iter()
            .filter(|d| d.action.as_deref() == Some("synchronize"))
            .count(),
        2,
        "{late:#?}"
    );
    deliver_again_at_once(&story, &replicas, &late).await;
    verify_check(&story, latest, &[CheckState::Success]).await;
    all_done(&story).await;

    assert!(
        verify_checks(&story, first).is_empty(),
        "the first head was never verified"
    );
    assert_eq!(
        verify_reports(&story, latest),
        ["in_progress", "success"],
        "one verification of the latest head"
    );
    let pushed = texts(
        &story,
        "SELECT head_sha FROM verifications WHERE cause = 'push'",
    )
    .await;
    assert_eq!(
        pushed,
        std::slice::from_ref(latest),
        "one verification, of the latest head"
    );
    let recorded = texts(
        &story,
        "SELECT head_sha || ' ' || verified_sha FROM approvals",
    )
    .await;
    assert_eq!(recorded, [format!("{latest} {latest}")]);
    let now = story.sim.pull(REPO, approval.number).unwrap();
    assert!(now.open && !now.draft && now.head_sha == *latest, "{now:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_pushes_at_once_are_verified_once_at_the_latest_head() {
    on_each_database(two_pushes).await;
}

// ----- 4. a merge and a cancel at once -----

/// Which of a merge and a cancel moves the task first.
#[derive(Clone, Copy, Debug)]
enum First {
    Merge,
    Cancel,
}

async fn merge_racing_cancel(first: First, db: TestDb) {
    eprintln!("the {first:?} first");
    let story = Setup::on(Forge::Github)
        .policy(Policy::new().step("notes", "test -f notes/t1.md"))
        .start(db)
        .await;
    let replicas = Replicas::of(&story).await;
    let issue = approved_goal(&story, "Project notes", &tasks(1)).await;
    let approval = approval_of(&story, "t1").await;
    verify_check(&story, &approval.head_sha, &[CheckState::Success]).await;
    pull_until(&story, approval.number, "the approval ready", |p| !p.draft).await;
    all_done(&story).await;

    // The reviewer merges the approval as the maintainer cancels the goal: both move its task.
    // On PostgreSQL each waits at that move, having read the task in review, until both do.
    let held = Held::rows(&story, "tasks", "task_id = 't1'").await;
    let merge = (
        format!("/pulls/{}/merge", approval.number),
        serde_json::json!({ "author": REVIEWER }),
    );
    let cancel = commenting(issue, MAINTAINER, "/ade cancel");
    let (acts, cancel_at) = match first {
        First::Merge => ([merge, cancel], 1),
        First::Cancel => ([cancel, merge], 0),
    };
    let mut made = Vec::new();
    for (n, act) in acts.into_iter().enumerate() {
        made.extend(at_once(&story, vec![act]).await);
        if let Some(held) = &held {
            held.waiting(n as i64 + 1).await;
        }
    }
    let cancel = made[cancel_at];
    if let Some(held) = held {
        held.release_when_waiting(2).await;
    }
    let mut late = deliveries_of_comments(&story, &[cancel]);
    late.extend(deliveries_of(&story, "pull_request", |body| {
        body["action"] == "closed" && body["number"] == approval.number
    }));
    deliver_again_at_once(&story, &replicas, &late).await;
    story
        .until("the goal's summary", |s| {
            s.bot_comments(issue)
                .into_iter()
                .find(|c| c.contains(&format!("<!-- ade:summary:{issue} -->")))
        })
        .await;
    all_done(&story).await;

    let pull = story.sim.pull(REPO, approval.number).unwrap();
    assert!(pull.merged, "the forge merged it: {pull:?}");
    assert_eq!(spec_state(&story).await, "archived");
    let task = texts(&story, "SELECT state FROM tasks").await;
    let approval_row = texts(&story, "SELECT state FROM approvals").await;
    assert_eq!(
        (task, approval_row),
        (vec!["merged".to_string()], vec!["merged".to_string()]),
        "ade's record says what the forge did"
    );
    let summary = story
        .until("the summary to say how the goal ended", |s| {
            s.bot_comments(issue).into_iter().find(|c| {
                c.contains(&format!("<!-- ade:summary:{issue} -->"))
                    && c.contains("1 merged, 0 rejected, 0 cancelled")
            })
        })
        .await;
    assert!(summary.contains("| merged |"), "{summary}");
    let cancelled = reply_to(&story, issue, cancel);
    eprintln!("the cancel said: {cancelled}");
    every_reply_posted_once(&story, issue);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_merge_racing_a_cancel_ends_merged_on_the_forge_and_in_ade() {
    for first in [First::Merge, First::Cancel] {
        on_each_database(|db| merge_racing_cancel(first, db)).await;
    }
}

// ----- 5. a new plan approved as the merge of the old plan's last approval finishes it -----

/// PostgreSQL row locks a story holds, so that every transaction about to move those rows waits
/// there, each having read them as they were: when the locks go, they move them one after
/// another, and only the compare-and-set on their state keeps the second from undoing the first.
struct Held {
    store: ade::store::Store,
    tx: ade::store::Tx,
    table: &'static str,
}

impl Held {
    /// Locks the rows of `table` that `filter` picks, on PostgreSQL (SQLite's one writer makes
    /// transactions take turns whole, so there is nothing to hold open there).
    async fn rows(story: &Story, table: &'static str, filter: &str) -> Option<Held> {
        if !story.on_postgres() {
            return None;
        }
        let store = story.database().await;
        let mut tx = store.begin().await.unwrap();
        // The lock an update takes: rows referring to these (by a foreign key) stay free.
        sqlx::query(&format!(
            "SELECT id FROM {table} WHERE {filter} FOR NO KEY UPDATE"
        ))
        .fetch_all(&mut *tx)
        .await
        .unwrap();
        Some(Held { store, tx, table })
    }

    /// Lets go once `n` updates of the table wait for the locks.
    async fn release_when_waiting(self, n: i64) {
        self.waiting(n).await;
        self.tx.commit().await.unwrap();
    }

    /// Returns once `n` updates of the table wait for the locks.
    async fn waiting(&self, n: i64) {
        let waiting = format!(
            "SELECT COUNT(*) FROM pg_stat_activity \
             WHERE wait_event_type = 'Lock' AND query LIKE 'UPDATE {} %'",
            self.table
        );
        eventually(
            PATIENCE,
            &format!("{n} updates of {} waiting", self.table),
            || async {
                let mut conn = self.store.reader().await.unwrap();
                let (count,): (i64,) = sqlx::query_as(&waiting)
                    .fetch_one(&mut *conn)
                    .await
                    .unwrap();
                (count >= n).then_some(())
            },
        )
        .await;
    }
}

async fn approve_racing_a_finishing_merge(db: TestDb) {
    let story = Setup::on(Forge::Github)
        .policy(Policy::new().step("notes", "test -f notes/t1.md"))
        .start(db)
        .await;
    let issue = approved_goal(&story, "Project notes", &tasks(1)).await;
    let approval = approval_of(&story, "t1").await;
    verify_check(&story, &approval.head_sha, &[CheckState::Success]).await;
    pull_until(&story, approval.number, "the approval ready", |p| !p.draft).await;
    story
        .comment(issue, MAINTAINER, "/ade plan -- a second look")
        .await;
    story
        .until("plan v2", |s| {
            s.plan_comment(issue)
                .filter(|p| p.contains("v2 · validated"))
        })
        .await;
    all_done(&story).await;

    // The reviewer merges v1's last approval, which finishes v1, as the maintainer approves v2,
    // which archives v1: both move v1 at once.
    let held = Held::rows(&story, "specs", "version = 1").await;
    let merge = (
        format!("/pulls/{}/merge", approval.number),
        serde_json::json!({ "author": REVIEWER }),
    );
    let acts = at_once(
        &story,
        vec![merge, commenting(issue, MAINTAINER, "/ade approve 2")],
    )
    .await;
    if let Some(held) = held {
        held.release_when_waiting(2).await;
    }
    let approved = story
        .until("the approval's reply", |s| {
            replies_to(s, issue, acts[1]).into_iter().next()
        })
        .await;
    assert!(
        approved.contains("approved plan v2: it is active"),
        "{approved}"
    );
    run_of(&story, "t1", 1, &["succeeded"]).await;
    all_done(&story).await;

    let archived = texts(
        &story,
        "SELECT t.actor FROM spec_transitions t JOIN specs s ON s.id = t.spec \
         WHERE s.version = 1 AND t.to_state = 'archived'",
    )
    .await;
    assert_eq!(archived.len(), 1, "v1 was archived once: {archived:?}");
    let summary = format!("<!-- ade:summary:{issue} -->");
    let summaries: Vec<String> = story
        .bot_comments(issue)
        .into_iter()
        .filter(|c| c.contains(&summary))
        .collect();
    if archived[0] == "ade" {
        eprintln!("the merge finished v1 before the approval replaced it");
        assert!(!approved.contains("v1 is archived"), "{approved}");
        assert_eq!(summaries.len(), 1);
        assert!(
            summaries[0].contains("Plan v1: 1 merged"),
            "{}",
            summaries[0]
        );
    } else {
        eprintln!("the approval replaced v1 before the merge could finish it");
        assert_eq!(archived[0], MAINTAINER);
        assert!(approved.contains("v1 is archived"), "{approved}");
        assert!(summaries.is_empty(), "a replaced plan has no summary");
    }
    assert_eq!(times_spec_became(&story, "active").await, 2, "v1, then v2");
    let states = texts(&story, "SELECT s.state FROM specs s ORDER BY s.version").await;
    assert_eq!(states, ["archived", "active"]);
    let v1_task = texts(
        &story,
        "SELECT t.state FROM tasks t JOIN specs s ON s.id = t.spec WHERE s.version = 1",
    )
    .await;
    assert_eq!(v1_task, ["merged"]);
    assert!(story.sim.pull(REPO, approval.number).unwrap().merged);
    every_reply_posted_once(&story, issue);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn approving_a_new_plan_as_a_merge_finishes_the_old_one_archives_it_once() {
    on_each_database(approve_racing_a_finishing_merge).await;
}

// ----- 6. exactly once: the answer lost, the process killed -----

/// How the forge's answer to ade's comment post goes missing.
#[derive(Clone, Copy, Debug)]
enum Lost {
    /// A proxy in front of the forge answers 502 once the forge has stored the comment.
    ProxyError,
    /// The answer is held until ade's client stops waiting.
    Timeout,
}

/// How long a story's forge client waits for an answer when it must time out.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(2);

async fn answer_lost(forge: Forge, lost: Lost, db: TestDb) {
    eprintln!("the story on {forge:?} and {}", db.name);
    let mut clients = crate::support::story::clients();
    clients.retry.request_timeout = CLIENT_TIMEOUT;
    let story = Story::start_with_clients(
        db,
        forge.kind(),
        forge == Forge::Forgejo,
        &[],
        |_, _| {},
        clients,
    )
    .await;
    let issue = story.issue(MAINTAINER, "Project notes", &tasks(2)).await;
    let hold = match lost {
        Lost::ProxyError => Duration::ZERO,
        Lost::Timeout => Duration::from_secs(20),
    };
    let status = match lost {
        Lost::ProxyError => 502,
        Lost::Timeout => 504,
    };
    story.sim.inject(FaultRule::new(
        "POST",
        &comments_path(story.kind()).replace('*', &issue.to_string()),
        Fault::AnswerLost { status, hold },
    ));
    story.comment(issue, MAINTAINER, "/ade plan").await;
    story
        .until("the plan's reply", |s| {
            (s.replies(issue).len() == 1).then_some(())
        })
        .await;
    story.settle().await;

    let plan = format!("plan:{issue}");
    let posts = posts_with_marker(&story, &plan);
    assert_eq!(posts.len(), 1, "the plan was posted once: {posts:#?}");
    assert!(posts[0].answer_lost(), "and its answer was lost");
    let plans: Vec<String> = story
        .bot_comments(issue)
        .into_iter()
        .filter(|c| c.contains(&format!("<!-- ade:{plan} -->")))
        .collect();
    assert_eq!(plans.len(), 1, "one plan comment: {plans:#?}");
    let looked = story
        .sim
        .calls_to("GET", &comments_path(story.kind()))
        .into_iter()
        .filter(|c| c.seq > posts[0].seq)
        .count();
    assert!(looked >= 1, "the retry looked for its comment");
    assert_eq!(story.failed_jobs().await, 0);

    // The comment found is the one ade keeps: approving edits it in place.
    story.comment(issue, MAINTAINER, "/ade approve").await;
    story
        .until("the plan to turn active", |s| {
            s.plan_comment(issue).filter(|p| p.contains("· active"))
        })
        .await;
    story.settle().await;
    assert_eq!(posts_with_marker(&story, &plan).len(), 1);
    assert_eq!(
        story
            .bot_comments(issue)
            .iter()
            .filter(|c| c.contains(&format!("<!-- ade:{plan} -->")))
            .count(),
        1
    );
}

#[tokio::test]
async fn a_comment_whose_answer_a_proxy_lost_is_found_by_its_marker_not_posted_again() {
    for forge in [Forge::Github, Forge::Gitea] {
        on_each_database(|db| answer_lost(forge, Lost::ProxyError, db)).await;
    }
}

#[tokio::test]
async fn a_comment_whose_answer_timed_out_is_found_by_its_marker_not_posted_again() {
    for forge in [Forge::Github, Forge::Forgejo] {
        on_each_database(|db| answer_lost(forge, Lost::Timeout, db)).await;
    }
}

async fn cannot_look(db: TestDb) {
    let story = Story::start_on(db, ForgeKind::Github, false, &[], |_, _| {}).await;
    let issue = story.issue(MAINTAINER, "Project notes", &tasks(1)).await;
    let comments = format!("/repos/{REPO}/issues/{issue}/comments");
    story.sim.inject(FaultRule::new(
        "POST",
        &comments,
        Fault::AnswerLost {
            status: 502,
            hold: Duration::ZERO,
        },
    ));
    // Listing the comments fails for two attempts of the write and a bit of a third.
    story
        .sim
        .inject(FaultRule::new("GET", &comments, Fault::Status(503)).times(10));
    story.comment(issue, MAINTAINER, "/ade plan").await;
    story
        .until("the plan's reply", |s| {
            (s.replies(issue).len() == 1).then_some(())
        })
        .await;
    story.settle().await;

    let plan = format!("plan:{issue}");
    let posts = posts_with_marker(&story, &plan);
    assert_eq!(posts.len(), 1, "never posted blind: {posts:#?}");
    let lists: Vec<ApiCall> = story.sim.calls_to("GET", &comments);
    let failed = lists.iter().filter(|c| c.status == 503).count();
    assert_eq!(failed, 10, "every failing look was made");
    let found = lists
        .iter()
        .find(|c| c.status == 200)
        .expect("a look that worked");
    assert!(
        lists
            .iter()
            .filter(|c| c.status == 503)
            .all(|c| c.seq < found.seq && c.seq > posts[0].seq),
        "the write looked, failed, waited and looked again until it could see"
    );
    assert_eq!(
        story
            .bot_comments(issue)
            .iter()
            .filter(|c| c.contains(&format!("<!-- ade:{plan} -->")))
            .count(),
        1,
        "one plan comment"
    );
    assert_eq!(story.failed_jobs().await, 0);
}

#[tokio::test]
async fn a_write_that_cannot_list_the_comments_waits_and_looks_again_never_posting_blind() {
    on_each_database(cannot_look).await;
}

async fn killed_between_post_and_record(db: TestDb) {
    eprintln!("the story on {}", db.name);
    let forge = Seeded::start(&db, ForgeKind::Github, false, &[]).await;
    let env = forge.serve_env();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let mut ade = AdeProcess::spawn(&db, &env).await;
    forge
        .sim
        .set_webhook_url(Some(format!("http://{}/webhooks/github", ade.addr)));
    let issue = forge
        .sim
        .open_issue(REPO, MAINTAINER, "Project notes", &tasks(1))
        .await
        .unwrap();
    let comments = format!("/repos/{REPO}/issues/{issue}/comments");
    // The forge stores the plan comment and holds its answer, so the crash comes after the
    // forge acted and before ade could record what it did.
    forge.sim.inject(FaultRule::new(
        "POST",
        &comments,
        Fault::AnswerLost {
            status: 504,
            hold: Duration::from_secs(25),
        },
    ));
    forge
        .sim
        .comment(REPO, issue, MAINTAINER, "/ade plan")
        .await
        .unwrap();
    let plan = format!("<!-- ade:plan:{issue} -->");
    let bot_comments = |sim: &ade::sim::Simulator| -> Vec<String> {
        sim.comments(REPO, issue)
            .into_iter()
            .filter(|c| c.author == forge.bot)
            .map(|c| c.body)
            .collect()
    };
    eventually(PATIENCE, "the plan on the forge", || async {
        bot_comments(&forge.sim)
            .iter()
            .any(|c| c.contains(&plan))
            .then_some(())
    })
    .await;
    ade.kill_9();

    let mut again = AdeProcess::spawn(&db, &env).await;
    forge
        .sim
        .set_webhook_url(Some(format!("http://{}/webhooks/github", again.addr)));
    eventually(Duration::from_secs(60), "the plan's reply", || async {
        (bot_comments(&forge.sim).len() == 2).then_some(())
    })
    .await;
    let posts: Vec<ApiCall> = forge
        .sim
        .calls_to("POST", &comments)
        .into_iter()
        .filter(|c| c.json()["body"].as_str().is_some_and(|b| b.contains(&plan)))
        .collect();
    assert_eq!(posts.len(), 1, "the plan was posted once: {posts:#?}");
    assert!(
        forge
            .sim
            .calls_to("PATCH", &format!("/repos/{REPO}/issues/comments/*"))
            .is_empty(),
        "the plan found was not written again"
    );
    let store = db.store().await;
    let mut conn = store.reader().await.unwrap();
    let recorded =
        ade::store::sticky::find(&mut conn, ForgeKind::Github, REPO, &format!("plan:{issue}"))
            .await
            .unwrap()
            .expect("the plan comment is recorded");
    let on_forge = forge
        .sim
        .comments(REPO, issue)
        .into_iter()
        .find(|c| c.body.contains(&plan))
        .unwrap();
    assert_eq!(recorded.comment_id, on_forge.id);
    let plans = bot_comments(&forge.sim)
        .iter()
        .filter(|c| c.contains(&plan))
        .count();
    assert_eq!(plans, 1);
    assert!(again.terminate().success(), "{}", again.log());
}

#[tokio::test]
async fn a_process_killed_between_posting_and_recording_leaves_one_comment() {
    on_each_database(killed_between_post_and_record).await;
}
