//! The audit log through the user's story: what a maintainer's commands cause is recorded,
//! chained and verifiable with `ade audit verify`; no secret reaches a record; a full disk holds
//! the action back until space returns; a transaction that never commits and a killed process
//! leave a chain that verifies and goes on; several processes on PostgreSQL extend one chain.

use crate::support::story::{MAINTAINER, READER, Story, WRITER};
use crate::support::{TestDb, databases};
use ade::audit::{AuditConfig, AuditLog, Masker, checkpoint, verify};
use ade::clock::SystemClock;
use ade::store::audit::{self as rows, ActorKind, Entry, Outcome};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

const SECRET: &str = "story-webhook-secret";

pub(super) fn audit_config(dir: &Path) -> AuditConfig {
    AuditConfig {
        dir: dir.join("audit"),
        max_file_bytes: 64 * 1024 * 1024,
        checkpoint_every: Duration::from_secs(600),
        checkpoints_file: dir.join("audit-checkpoints.jsonl"),
        signing_key_file: dir.join("audit-signing-key.pem"),
        signing_key_configured: false,
    }
}

/// Every line of every file of the log in `dir`.
pub(super) fn all_lines(dir: &Path) -> Vec<String> {
    ade::audit::list(dir)
        .unwrap()
        .iter()
        .flat_map(|f| {
            std::fs::read_to_string(&f.path)
                .unwrap()
                .lines()
                .map(str::to_owned)
                .collect::<Vec<_>>()
        })
        .collect()
}

/// `ade audit verify` on the story's folder, its checkpoints file and key: exit code and output.
pub(super) fn verify_cli(data: &Path) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_ade"))
        .args(["audit", "verify"])
        .arg(data.join("audit"))
        .arg("--checkpoints")
        .arg(data.join("audit-checkpoints.jsonl"))
        .arg("--public-key")
        .arg(data.join("audit-signing-key.pem"))
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .output()
        .expect("ade runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}

#[tokio::test]
async fn a_maintainers_commands_are_recorded_chained_and_verifiable_and_no_secret_reaches_a_record()
{
    for story in [Story::github().await, Story::gitea().await] {
        let forge = story.kind();
        let issue = story
            .issue(
                WRITER,
                "Add a flag",
                &format!("- [ ] Parse it\n\n{SECRET}\n"),
            )
            .await;
        let plan = story
            .comment(issue, MAINTAINER, &format!("/ade plan -- {SECRET}"))
            .await;
        story.until("the plan", |s| s.plan_comment(issue)).await;
        story.comment(issue, READER, "/ade approve 1").await;
        story
            .comment(issue, MAINTAINER, &format!("/ade approve {SECRET}"))
            .await;
        story
            .until("two replies", |s| {
                (s.replies(issue).len() >= 3).then_some(())
            })
            .await;
        story.settle().await;
        chained(&story).await;
        let data = story.config_dir();
        let lines = all_lines(&data.join("audit"));
        let text = lines.join("\n");
        assert!(
            !text.contains(SECRET),
            "{forge}: a secret in the log:\n{text}"
        );
        assert!(
            text.contains("[secret]"),
            "{forge}: the mistake naming the secret was recorded masked:\n{text}"
        );
        let records: Vec<serde_json::Value> = lines
            .iter()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        let find = |action: &str, actor: &str| {
            records
                .iter()
                .find(|r| r["action"] == action && r["actor"] == actor)
                .unwrap_or_else(|| panic!("{forge}: no {action} by {actor} in\n{text}"))
        };
        let accepted = find("command.accepted", MAINTAINER);
        assert_eq!(accepted["details"]["command"], "plan", "{forge}");
        assert_eq!(accepted["details"]["comment"], plan, "{forge}");
        assert_eq!(accepted["repository"], "acme/widgets", "{forge}");
        assert_eq!(accepted["goal"], issue, "{forge}");
        assert!(
            accepted["details"]["instructions_chars"].as_u64() == Some(SECRET.len() as u64),
            "{forge}: free text is counted, not kept: {accepted}"
        );
        let refused = find("command.refused", READER);
        assert_eq!(refused["outcome"], "refused", "{forge}");
        assert!(
            refused["details"]["why"].as_str().unwrap_or("").len() > 10,
            "{forge}: a refusal says why: {refused}"
        );
        let spec = find("spec.created", MAINTAINER);
        assert_eq!(spec["spec_version"], 1, "{forge}");
        find("spec.validated", MAINTAINER);
        let write = find("forge.write", "ade");
        assert_eq!(write["actor_kind"], "ade", "{forge}");
        // The sequence is whole and each record names its predecessor's hash.
        for (i, record) in records.iter().enumerate() {
            assert_eq!(record["seq"], i as u64 + 1, "{forge}");
        }

        // Verified by the command an auditor runs, then once more after one byte was changed.
        let (code, out) = verify_cli(&data);
        assert_eq!(code, 0, "{forge}: {out}");
        assert!(out.contains("ok: the chain is whole"), "{forge}: {out}");
        let file = &ade::audit::list(&data.join("audit")).unwrap()[0].path;
        let original = std::fs::read_to_string(file).unwrap();
        let forged = original.replacen("\"outcome\":\"refused\"", "\"outcome\":\"ok\"", 1);
        assert_ne!(forged, original);
        std::fs::write(file, &forged).unwrap();
        let (code, out) = verify_cli(&data);
        let seq = records.iter().find(|r| r["outcome"] == "refused").unwrap()["seq"].clone();
        assert_eq!(code, 1, "{forge}: {out}");
        assert!(
            out.contains(&format!("record {seq} was changed")),
            "{forge}: {out}"
        );
        std::fs::write(file, &original).unwrap();
    }
}

/// Mounts a tmpfs of `size` at `dir`, or says why the machine does not allow it.
fn small_filesystem(dir: &Path, size: &str) -> Result<(), String> {
    std::fs::create_dir_all(dir).unwrap();
    let out = Command::new("mount")
        .args([
            "-t",
            "tmpfs",
            "-o",
            &format!("size={size},mode=0700"),
            "tmpfs",
        ])
        .arg(dir)
        .output()
        .map_err(|e| format!("no mount command: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).trim().to_owned())
    }
}

struct Mounted(PathBuf);

impl Drop for Mounted {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// Fills the filesystem of `dir` with one file; returns it.
fn fill(dir: &Path) -> PathBuf {
    let filler = dir.join("filler");
    let mut file = std::fs::File::create(&filler).unwrap();
    let chunk = vec![b'x'; 4096];
    use std::io::Write;
    while file.write_all(&chunk).is_ok() {}
    // A last few bytes, so that not even a short line fits.
    while file.write_all(b"x").is_ok() {}
    filler
}

#[tokio::test]
async fn a_full_disk_holds_the_command_back_and_ade_goes_on_when_space_returns() {
    let mount = std::env::temp_dir().join(format!("ade-full-{:016x}", fastrand::u64(..)));
    let audit_dir = mount.clone();
    let story = Story::start_with(ade::forge::ForgeKind::Github, false, &[], |config, _| {
        config.audit.dir = audit_dir.clone();
        // The command job waits for space as long as the test does.
        config.jobs.max_attempts = 1_000;
    });
    if let Err(why) = small_filesystem(&mount, "64k") {
        eprintln!("skipped: a small filesystem cannot be mounted here ({why})");
        return;
    }
    let _mounted = Mounted(mount.clone());
    let story = story.await;
    let issue = story.issue(WRITER, "Add a flag", "- [ ] Parse it\n").await;
    story.settle().await;
    let before = all_lines(&mount);
    let filler = fill(&mount);

    let command = story.comment(issue, MAINTAINER, "/ade plan").await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(
        story.reactions(command).is_empty() && story.plan_comment(issue).is_none(),
        "nothing is acknowledged while its record cannot be written"
    );
    assert_eq!(
        all_lines(&mount),
        before,
        "nothing half-written stays in the chain"
    );

    std::fs::remove_file(&filler).unwrap();
    story
        .until("👀 once space returned", |s| {
            s.reactions(command)
                .contains(&"eyes".to_string())
                .then_some(())
        })
        .await;
    story.until("the plan", |s| s.plan_comment(issue)).await;
    story.settle().await;
    chained(&story).await;
    let key =
        ade::audit::signing::PublicKey::load(&story.config_dir().join("audit-signing-key.pem"))
            .unwrap();
    let report = verify::verify(&mount, &[], &key, ade::clock::unix_ms(), 600).unwrap();
    assert!(report.problems.is_empty(), "{report:?}");
    let text = all_lines(&mount).join("\n");
    assert!(text.contains("\"command.accepted\""), "{text}");
    assert_eq!(
        text.matches("\"command.accepted\"").count(),
        1,
        "the retried command is recorded once: {text}"
    );
}

/// Waits until the writer's sweep has chained every pending record (a forge write's, say).
async fn chained(story: &Story) {
    crate::support::eventually(
        Duration::from_secs(10),
        "pending audit records chained",
        || async {
            let mut conn = story.ade.store().reader().await.unwrap();
            (!rows::any_pending(&mut conn).await.unwrap()).then_some(())
        },
    )
    .await;
}

/// What a fresh process (a new log handle) on `store` says when it tries to record.
async fn refused(config: &AuditConfig, store: &ade::store::Store) -> String {
    let reopened =
        AuditLog::open(config.clone(), Masker::default(), Arc::new(SystemClock)).unwrap();
    reopened
        .record_now(store, &[operator_entry(3)])
        .await
        .unwrap_err()
        .to_string()
}

pub(super) fn operator_entry(n: usize) -> Entry {
    Entry::new(
        ade::clock::unix_ms(),
        ActorKind::Operator,
        "ops",
        "admin.test",
        format!("entry {n}"),
        Outcome::Ok,
    )
}

#[tokio::test]
async fn a_transaction_that_never_commits_and_a_half_written_line_leave_a_chain_that_goes_on() {
    for db in databases().await {
        let store = db.store().await;
        let config = audit_config(&db.dir);
        let log = AuditLog::open(config.clone(), Masker::default(), Arc::new(SystemClock)).unwrap();
        log.record_now(&store, &[operator_entry(1), operator_entry(2)])
            .await
            .unwrap();
        // Chained inside a transaction that then rolls back, as a crash between the write and
        // the commit leaves it: the lines are on disk, the database never heard of them.
        let mut tx = store.begin().await.unwrap();
        rows::record(&mut tx, &operator_entry(3)).await.unwrap();
        assert_eq!(log.seal(&mut tx).await.unwrap(), 1);
        tx.rollback().await.unwrap();
        assert_eq!(all_lines(&config.dir).len(), 3, "{}", db.name);
        // And a half-written line, as a kill -9 in the middle of a write leaves one.
        let file = &ade::audit::list(&config.dir).unwrap()[0].path;
        let mut text = std::fs::read_to_string(file).unwrap();
        text.push_str("{\"seq\":4,\"prev\":\"ab");
        std::fs::write(file, text).unwrap();

        // A fresh process (a new log handle) continues the chain from the database's head.
        let reopened =
            AuditLog::open(config.clone(), Masker::default(), Arc::new(SystemClock)).unwrap();
        reopened
            .record_now(&store, &[operator_entry(4)])
            .await
            .unwrap();
        let lines = all_lines(&config.dir);
        assert_eq!(lines.len(), 3, "{}: {lines:#?}", db.name);
        assert!(lines[2].contains("entry 4"), "{}: {lines:#?}", db.name);
        let checkpoint = reopened.checkpoint(&store).await.unwrap().unwrap();
        assert_eq!(checkpoint.seq, 3);
        let checkpoints = checkpoint::read(&config.checkpoints_file).unwrap();
        let report = verify::verify(
            &config.dir,
            &checkpoints,
            &reopened.public_key(),
            ade::clock::unix_ms(),
            600,
        )
        .unwrap();
        assert!(report.problems.is_empty(), "{}: {report:?}", db.name);
        assert_eq!(report.last, Some(3));
    }
}

#[tokio::test]
async fn a_folder_that_does_not_end_where_the_database_says_is_refused_not_overwritten() {
    let db = crate::support::db::sqlite();
    let store = db.store().await;
    let config = audit_config(&db.dir);
    let log = AuditLog::open(config.clone(), Masker::default(), Arc::new(SystemClock)).unwrap();
    log.record_now(&store, &[operator_entry(1), operator_entry(2)])
        .await
        .unwrap();
    let file = ade::audit::list(&config.dir).unwrap()[0].path.clone();
    let text = std::fs::read_to_string(&file).unwrap();
    let first_line_only = text.lines().next().unwrap().to_owned() + "\n";
    std::fs::write(&file, first_line_only).unwrap();
    let error = refused(&config, &store).await;
    assert!(
        error.contains("does not hold record 2") && error.contains("chain ends at record 2"),
        "{error}"
    );
    assert_eq!(all_lines(&config.dir).len(), 1, "nothing was appended");

    // A database replaced under a log its checkpoints vouch for: the log is kept, not set aside.
    std::fs::write(&file, text).unwrap();
    log.checkpoint(&store)
        .await
        .unwrap()
        .expect("a checkpoint of record 2");
    let fresh = crate::support::db::sqlite();
    let replaced = fresh.store().await;
    let error = refused(&config, &replaced).await;
    assert!(
        error.contains("signed checkpoints cover records up to 2")
            && error.contains("restored or replaced"),
        "{error}"
    );
    assert_eq!(all_lines(&config.dir).len(), 2, "the log is whole");
}

#[tokio::test]
async fn a_retention_purge_removes_old_files_and_what_remains_verifies_from_its_anchor() {
    for db in databases().await {
        let store = db.store().await;
        // A file per batch of records.
        let config = AuditConfig {
            max_file_bytes: 1,
            ..audit_config(&db.dir)
        };
        let log = AuditLog::open(config.clone(), Masker::default(), Arc::new(SystemClock)).unwrap();
        let now = ade::clock::unix_ms();
        let day = 86_400_000;
        for age in [30, 20, 3, 1] {
            let entry = Entry {
                at: now - age * day,
                ..operator_entry(age as usize)
            };
            log.record_now(&store, &[entry.clone(), entry])
                .await
                .unwrap();
        }
        let names: Vec<String> = ade::audit::list(&config.dir)
            .unwrap()
            .iter()
            .map(|f| f.path.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        let purge = log
            .purge_before(&store, now - 7 * day)
            .await
            .unwrap()
            .expect("the files of 30 and 20 days ago are due");
        assert_eq!(purge.files, names[..2], "{}", db.name);
        assert_eq!((purge.first_seq, purge.last_seq, purge.anchor), (1, 4, 4));
        log.close(&store).await.unwrap();

        let (code, out) = verify_cli(&db.dir);
        assert_eq!(code, 0, "{}: {out}", db.name);
        assert!(out.contains("records 5 to 9"), "{}: {out}", db.name);
        let lines = all_lines(&config.dir);
        assert!(
            lines[4].contains("\"retention.purged\""),
            "{}: {lines:#?}",
            db.name
        );
        let mut conn = store.reader().await.unwrap();
        let kept: Vec<i64> = rows::checkpoints(&mut conn)
            .await
            .unwrap()
            .iter()
            .map(|c| c.seq)
            .collect();
        assert_eq!(kept, vec![4, 9], "{}", db.name);
    }
}

/// Runs `ade migrate` on `db` with the audit folder in its data dir; every run is an admin
/// action the audit log records.
fn migrate(db: &TestDb) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_ade"))
        .arg("migrate")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("ADE_DATABASE__URL", &db.url)
        .env("ADE_STORAGE__DATA_DIR", &db.dir)
        .env("USER", "ops")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("ade runs")
}

#[tokio::test]
async fn processes_killed_while_recording_and_processes_side_by_side_extend_one_chain() {
    for db in databases().await {
        db.store().await;
        // Two processes at a time, each recording; every third one killed with SIGKILL at a
        // random moment of its work.
        let mut finished = 0;
        for round in 0..12 {
            let mut children = vec![migrate(&db), migrate(&db)];
            if round % 3 == 0 {
                tokio::time::sleep(Duration::from_millis(fastrand::u64(5..120))).await;
                children[0].kill().ok();
            }
            for mut child in children {
                let status = child.wait().unwrap();
                if status.success() {
                    finished += 1;
                } else if status.code().is_some() {
                    let mut err = String::new();
                    use std::io::Read;
                    child.stderr.take().unwrap().read_to_string(&mut err).ok();
                    panic!("{}: ade migrate failed: {err}", db.name);
                }
            }
        }
        // One more, after the killing, to show the chain goes on.
        assert!(migrate(&db).wait().unwrap().success());
        finished += 1;
        let dir = db.dir.join("audit");
        let lines = all_lines(&dir);
        assert!(
            lines.len() >= finished,
            "{}: {} records for {finished} finished runs",
            db.name,
            lines.len()
        );
        let key =
            ade::audit::signing::PublicKey::load(&db.dir.join("audit-signing-key.pem")).unwrap();
        let checkpoints = checkpoint::read(&db.dir.join("audit-checkpoints.jsonl")).unwrap();
        let report = verify::verify(&dir, &checkpoints, &key, ade::clock::unix_ms(), 600).unwrap();
        assert!(report.problems.is_empty(), "{}: {report:?}", db.name);
        assert_eq!(report.first, Some(1), "{}", db.name);
        assert_eq!(report.records as usize, lines.len(), "{}", db.name);
    }
}
