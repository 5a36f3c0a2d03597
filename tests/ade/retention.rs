//! Retention, end to end: a repository that keeps nothing loses its prompts, agent output and logs
//! as soon as its run is reported, while its audit records and check results stay; a repository
//! with periods keeps each kind of data exactly as long as they say, and what a job still needs
//! stays with the job.
//!
//! Time passes by ageing what is stored (the times a row and the runner record), the way a month
//! would: the purge compares them with the clock.

use super::support::TestDb;
use super::support::eventually;
use super::support::runner::workdir;
use super::support::story::{PATIENCE, Story, audit_records_in};
use super::support::verify::{
    Forge, Policy, Setup, all_done, approval_of, approved_goal, on_each_database, open_link,
    pull_until, run_of, verify_check,
};
use ade::forge::CheckState;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::Duration;

const DAY_MS: i64 = 86_400_000;

/// What the script agent prints: its transcript.
const TRANSCRIPT_CANARY: &str = "TRANSCRIPT-CANARY-7f3a";
/// What the goal says, and so the prompt.
const PROMPT_CANARY: &str = "PROMPT-CANARY-91c2";

/// Writes the task's notes and says something worth forgetting on its output.
const AGENT: &str = "mkdir -p notes\necho \"notes of $ADE_TASK_ID\" >> notes/$ADE_TASK_ID.md\n\
                     echo \"thinking about TRANSCRIPT-CANARY-7f3a\"\n\
                     echo \"Wrote the notes of $ADE_TASK_ID. TRANSCRIPT-CANARY-7f3a\" > \"$ADE_OUTPUT_FILE\"\n";

fn run_folder(story: &Story, run: i64) -> PathBuf {
    workdir(&story.config_dir())
        .join("runs")
        .join(run.to_string())
}

/// Every file under `dir` whose bytes contain `needle`.
fn files_containing(dir: &Path, needle: &str) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return found;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        if kind.is_dir() {
            found.extend(files_containing(&path, needle));
        } else if kind.is_file()
            && std::fs::read(&path)
                .is_ok_and(|bytes| bytes.windows(needle.len()).any(|w| w == needle.as_bytes()))
        {
            found.push(path);
        }
    }
    found
}

fn purge_records(story: &Story, class: &str) -> Vec<Value> {
    story
        .audit_records()
        .into_iter()
        .filter(|r| r["action"] == "retention.purged")
        .filter(|r| r["details"]["class"] == class || r["details"]["classes"].get(class).is_some())
        .collect()
}

async fn count(story: &Story, sql: &str) -> i64 {
    let mut conn = story.ade.store().reader().await.unwrap();
    let row: (i64,) = sqlx::query_as(sql).fetch_one(&mut *conn).await.unwrap();
    row.0
}

async fn execute(story: &Story, sql: &str) {
    let mut conn = story.ade.store().writer().await.unwrap();
    sqlx::query(sql).execute(&mut *conn).await.unwrap();
}

/// The run's stored report, as JSON.
async fn stored_report(story: &Story, run: i64) -> Value {
    let mut conn = story.ade.store().reader().await.unwrap();
    let row = ade::store::runs::run(&mut conn, run)
        .await
        .unwrap()
        .unwrap();
    serde_json::from_str(row.report.as_deref().unwrap_or("null")).unwrap()
}

/// Moves every stored time of runs, verifications, deliveries and finished jobs `days` back.
async fn age(story: &Story, days: i64) {
    let by = days * DAY_MS;
    for sql in [
        format!("UPDATE runs SET finished_at = finished_at - {by} WHERE finished_at IS NOT NULL"),
        format!(
            "UPDATE verifications SET finished_at = finished_at - {by} WHERE finished_at IS NOT NULL"
        ),
        format!(
            "UPDATE deliveries SET processed_at = processed_at - {by} WHERE processed_at IS NOT NULL"
        ),
        format!("UPDATE jobs SET finished_at = finished_at - {by} WHERE finished_at IS NOT NULL"),
    ] {
        execute(story, &sql).await;
    }
}

// ----- zero retention -----

/// A repository that keeps nothing: once its run is reported, no prompt, transcript or log is left
/// on the runner or in the database, and its deliveries go at the next purge; the audit records,
/// the check and the stored verification report stay.
async fn zero_retention(forge: Forge, db: TestDb) {
    let mut policy = Policy::new().step("notes", "grep -q 'notes of t1' notes/t1.md");
    for key in [
        "deliveries_days",
        "run_logs_days",
        "verification_logs_days",
        "worktrees_days",
        "prompts_days",
    ] {
        policy = policy.retention(key, 0);
    }
    let story = Setup::on(forge)
        .agent(AGENT)
        .policy(policy)
        .public_url()
        .purging_every(Duration::from_millis(300))
        .start(db)
        .await;
    let _issue = approved_goal(
        &story,
        "Project notes",
        &format!("- [ ] Write the first notes\n\n{PROMPT_CANARY}\n"),
    )
    .await;
    let opened = approval_of(&story, "t1").await;
    let ready = pull_until(&story, opened.number, "the approval ready", |p| !p.draft).await;
    let check = verify_check(&story, &ready.head_sha, &[CheckState::Success]).await;
    let run = run_of(&story, "t1", 1, &["succeeded"]).await;

    let folder = run_folder(&story, run.id);
    eventually(PATIENCE, "the run's folder to be gone", || async {
        (!folder.exists()).then_some(())
    })
    .await;
    let runner = workdir(&story.config_dir());
    for canary in [TRANSCRIPT_CANARY, PROMPT_CANARY] {
        assert_eq!(
            files_containing(&runner, canary),
            Vec::<PathBuf>::new(),
            "nothing on the runner holds {canary}"
        );
    }
    eventually(
        PATIENCE,
        "the agent's output out of the run's report",
        || async {
            let report = stored_report(&story, run.id).await;
            (report["report"]["summary"] == serde_json::json!([])).then_some(())
        },
    )
    .await;
    let report = stored_report(&story, run.id).await.to_string();
    assert!(!report.contains(TRANSCRIPT_CANARY), "{report}");
    assert!(
        report.contains("\"agent_exit\":\"exited with code 0\""),
        "the rest stays: {report}"
    );

    let link = check.details_url.clone().expect("the check links its log");
    let body = eventually(PATIENCE, "the log's link to say it is gone", || async {
        let (status, body) = open_link(&story, &link).await;
        (status == 410).then_some(body)
    })
    .await;
    assert!(body.contains("retention"), "{body}");

    all_done(&story).await;
    eventually(PATIENCE, "every handled delivery purged", || async {
        (count(
            &story,
            "SELECT COUNT(*) FROM deliveries WHERE state <> 'pending'",
        )
        .await
            == 0
            && count(&story, "SELECT COUNT(*) FROM events").await == 0)
            .then_some(())
    })
    .await;

    // What stays: the check, the verification's report, the run's own records.
    let checks = count(
        &story,
        "SELECT COUNT(*) FROM verifications WHERE state = 'passed' AND report IS NOT NULL",
    )
    .await;
    assert_eq!(checks, 1, "the verification's report stays");
    verify_check(&story, &ready.head_sha, &[CheckState::Success]).await;
    let records = story.audit_records();
    for action in ["run.succeeded", "verification.passed", "command.accepted"] {
        assert!(
            records.iter().any(|r| r["action"] == action),
            "the {action} record stays"
        );
    }
    eventually(PATIENCE, "the runner's deletion recorded", || async {
        purge_records(&story, "run_logs")
            .iter()
            .any(|r| r["run"] == run.id && r["subject"] == "run files")
            .then_some(())
    })
    .await;
    let purged = story
        .audit_records()
        .into_iter()
        .filter(|r| r["action"] == "retention.purged")
        .map(|r| r.to_string())
        .collect::<Vec<_>>()
        .join("\n");
    for canary in [TRANSCRIPT_CANARY, PROMPT_CANARY] {
        assert!(
            !purged.contains(canary),
            "no content in the records: {purged}"
        );
    }
    assert!(
        !purge_records(&story, "deliveries").is_empty(),
        "the deliveries' purge is recorded"
    );
}

#[tokio::test]
async fn a_repository_that_keeps_nothing_keeps_no_prompt_transcript_or_log_after_its_run_on_github()
{
    on_each_database(|db| zero_retention(Forge::Github, db)).await;
}

#[tokio::test]
async fn a_repository_that_keeps_nothing_keeps_no_prompt_transcript_or_log_after_its_run_on_gitea()
{
    on_each_database(|db| zero_retention(Forge::Gitea, db)).await;
}

// ----- periods -----

/// The server's periods, narrowed by the repository for run logs: each kind of data goes when
/// its period has passed and not before; a delivery a failed job names stays while the job does.
async fn periods(forge: Forge, db: TestDb) {
    let policy = Policy::new()
        .step("notes", "grep -q 'notes of t1' notes/t1.md")
        .retention("run_logs_days", 2);
    let story = Setup::on(forge)
        .agent(AGENT)
        .policy(policy)
        .purging_every(Duration::from_millis(300))
        .start(db)
        .await;
    approved_goal(&story, "Project notes", "- [ ] Write the first notes\n").await;
    let opened = approval_of(&story, "t1").await;
    pull_until(&story, opened.number, "the approval ready", |p| !p.draft).await;
    let run = run_of(&story, "t1", 1, &["succeeded"]).await;
    all_done(&story).await;

    let folder = run_folder(&story, run.id);
    let log = folder.join("attempt-1.log");
    let verification_log = folder.join("attempt-1-verify.log");
    let prompt = folder.join("attempt-1").join("prompt.md");
    let output = folder.join("attempt-1").join("output.md");
    // A few sweeps and purges pass: nothing is due yet.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    for kept in [&log, &verification_log, &prompt, &output] {
        assert!(kept.exists(), "{} is kept for now", kept.display());
    }
    assert!(count(&story, "SELECT COUNT(*) FROM deliveries").await > 0);
    let summary = stored_report(&story, run.id).await["report"]["summary"].clone();
    assert_ne!(summary, serde_json::json!([]), "the output is kept for now");

    // A job that failed for good names an event: its delivery stays while the job does.
    let (delivery, event): (i64, i64) = {
        let mut conn = story.ade.store().reader().await.unwrap();
        sqlx::query_as("SELECT delivery, id FROM events ORDER BY id LIMIT 1")
            .fetch_one(&mut *conn)
            .await
            .unwrap()
    };
    execute(
        &story,
        &format!(
            "INSERT INTO jobs (kind, idempotency_key, payload, state, attempt, max_attempts, \
             run_at, last_error, created_at, finished_at) VALUES ('command', 'test:failed', \
             '{{\"event\":{event}}}', 'failed', 3, 3, 0, 'the forge said no', 0, {})",
            ade::clock::unix_ms()
        ),
    )
    .await;

    age(&story, 3).await;
    eventually(PATIENCE, "the run log gone after 2 days", || async {
        (!log.exists()).then_some(())
    })
    .await;
    eventually(PATIENCE, "the agent's output out of the report", || async {
        (stored_report(&story, run.id).await["report"]["summary"] == serde_json::json!([]))
            .then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_millis(700)).await;
    for kept in [&verification_log, &prompt, &output] {
        assert!(kept.exists(), "{} is kept 30 or 7 days", kept.display());
    }

    age(&story, 5).await;
    eventually(PATIENCE, "the scratch folder gone after 7 days", || async {
        (!output.exists()).then_some(())
    })
    .await;
    assert!(prompt.exists() && verification_log.exists());

    age(&story, 7).await;
    eventually(PATIENCE, "deliveries gone after 14 days", || async {
        (count(
            &story,
            &format!(
                "SELECT COUNT(*) FROM deliveries WHERE state <> 'pending' AND id <> {delivery}"
            ),
        )
        .await
            == 0)
            .then_some(())
    })
    .await;
    assert_eq!(
        count(
            &story,
            &format!("SELECT COUNT(*) FROM deliveries WHERE id = {delivery}")
        )
        .await,
        1,
        "the delivery the failed job names stays"
    );
    eventually(PATIENCE, "completed jobs gone after 7 days", || async {
        (count(
            &story,
            &format!(
                "SELECT COUNT(*) FROM jobs WHERE state = 'completed' AND finished_at < {}",
                ade::clock::unix_ms() - 7 * DAY_MS
            ),
        )
        .await
            == 0)
            .then_some(())
    })
    .await;

    age(&story, 17).await;
    eventually(PATIENCE, "the run's folder gone after 30 days", || async {
        (!folder.exists()).then_some(())
    })
    .await;
    eventually(
        PATIENCE,
        "the failed job and its delivery gone after 30 days",
        || async {
            (count(&story, "SELECT COUNT(*) FROM jobs WHERE state = 'failed'").await == 0
                && count(
                    &story,
                    &format!("SELECT COUNT(*) FROM deliveries WHERE id = {delivery}"),
                )
                .await
                    == 0)
                .then_some(())
        },
    )
    .await;
    for class in [
        "run_logs",
        "verification_logs",
        "scratch",
        "prompts",
        "deliveries",
        "completed_jobs",
        "failed_jobs",
    ] {
        assert!(
            !purge_records(&story, class).is_empty(),
            "the purge of {class} is recorded"
        );
    }
    let failed = purge_records(&story, "failed_jobs");
    assert!(
        failed
            .iter()
            .all(|r| r["details"]["count"].as_u64() >= Some(1)
                && r["details"]["ids"]
                    .as_str()
                    .is_some_and(|ids| !ids.is_empty())),
        "counts and ids: {failed:?}"
    );
}

#[tokio::test]
async fn each_kind_of_data_is_kept_as_long_as_its_period_and_no_longer_on_github() {
    on_each_database(|db| periods(Forge::Github, db)).await;
}

#[tokio::test]
async fn each_kind_of_data_is_kept_as_long_as_its_period_and_no_longer_on_forgejo() {
    on_each_database(|db| periods(Forge::Forgejo, db)).await;
}

// ----- replicas -----

/// Two replicas on one database: each enqueues the purge of every period, and the database keeps
/// one job per period, each carried out once.
async fn one_purge_per_period(db: TestDb) {
    let every = Duration::from_millis(250);
    let tweak = |config: &mut ade::config::Config| config.retention.purge_every = every;
    let first = super::support::start_ade(&db, tweak, Default::default()).await;
    let second = super::support::start_ade(&db, tweak, Default::default()).await;
    tokio::time::sleep(every * 8).await;
    let store = db.store().await;
    let mut conn = store.reader().await.unwrap();
    let rows: Vec<(String, String)> = sqlx::query_as(
        "SELECT payload, state FROM jobs WHERE kind = 'retention_purge' ORDER BY id",
    )
    .fetch_all(&mut *conn)
    .await
    .unwrap();
    drop(conn);
    first.shutdown().await.unwrap();
    second.shutdown().await.unwrap();
    assert!(rows.len() >= 4, "{} purges in 8 periods: {rows:?}", db.name);
    let periods: std::collections::HashSet<&str> = rows.iter().map(|(p, _)| p.as_str()).collect();
    assert_eq!(periods.len(), rows.len(), "one purge per period: {rows:?}");
    assert!(
        rows.iter()
            .all(|(_, state)| ["completed", "available", "running"].contains(&state.as_str())),
        "{rows:?}"
    );
}

#[tokio::test]
async fn replicas_share_one_purge_per_period() {
    on_each_database(one_purge_per_period).await;
}

// ----- the audit log -----

/// A log whose first files are older than `[retention] audit_days`: ade's purge removes them,
/// records that it did, and what remains verifies from the checkpoint it signed.
async fn old_audit_files(db: TestDb) {
    use super::audit::{audit_config, operator_entry, verify_cli};
    let now = ade::clock::unix_ms();
    {
        let store = db.store().await;
        let config = ade::audit::AuditConfig {
            max_file_bytes: 1,
            ..audit_config(&db.dir)
        };
        let log = ade::audit::AuditLog::open(
            config,
            ade::audit::Masker::default(),
            std::sync::Arc::new(ade::clock::SystemClock),
        )
        .unwrap();
        for (n, age) in [60, 45, 10].into_iter().enumerate() {
            let entry = ade::store::audit::Entry {
                at: now - age * DAY_MS,
                ..operator_entry(n)
            };
            log.record_now(&store, &[entry]).await.unwrap();
        }
        log.close(&store).await.unwrap();
    }
    let ade = super::support::start_ade(
        &db,
        |config| {
            config.retention.audit_days = 30;
            config.retention.purge_every = Duration::from_millis(250);
        },
        Default::default(),
    )
    .await;
    let purge = eventually(PATIENCE, "the audit purge", || async {
        audit_records_in(&db.dir.join("audit"))
            .into_iter()
            .find(|r| r["action"] == "retention.purged" && r["details"]["class"] == "audit")
    })
    .await;
    ade.shutdown().await.unwrap();
    // ade signs the head as it stops: the newest checkpoint covers the last record.
    let last = audit_records_in(&db.dir.join("audit"))
        .last()
        .map(|r| r["seq"].as_i64().unwrap())
        .unwrap();
    let signed = ade::audit::checkpoint::read(&db.dir.join("audit-checkpoints.jsonl"))
        .unwrap()
        .iter()
        .map(|c| c.seq)
        .max();
    assert_eq!(signed, Some(last), "{}: a checkpoint at shutdown", db.name);
    assert_eq!(purge["details"]["first_seq"], 1, "{}: {purge}", db.name);
    assert_eq!(purge["details"]["last_seq"], 2, "{}: {purge}", db.name);
    let (code, out) = verify_cli(&db.dir);
    assert_eq!(code, 0, "{}: {out}", db.name);
}

#[tokio::test]
async fn audit_files_past_the_servers_period_go_and_the_rest_still_verifies() {
    on_each_database(old_audit_files).await;
}
