//! The secret store on both databases: values are sealed (never stored in plaintext), listed
//! without their values, read for a run, re-sealed under a new key while the old one still
//! opens them, and a value whose ciphertext was changed is an error naming it while the others
//! still read. `ade serve` does not start without the keys of what is stored.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::support::databases;
use ade::secret::Secret;
use ade::secrets::{KeyCheckError, Keyring, MasterKey, RunReader, SecretError, SecretStore};
use ade::store::secrets as rows;

/// A key file made in `dir` as an operator makes one.
fn key_file(dir: &Path, name: &str) -> PathBuf {
    let path = dir.join(name);
    MasterKey::generate_file(&path).unwrap();
    path
}

fn keys(current: Option<&Path>, previous: &[PathBuf]) -> Arc<Keyring> {
    Arc::new(Keyring::load(current, previous).unwrap())
}

fn reader(run: i64) -> RunReader<'static> {
    RunReader {
        run,
        agent: "script",
        variable: "API_KEY",
    }
}

async fn read(store: &SecretStore, name: &str) -> Result<String, SecretError> {
    store
        .read_for_run(name, reader(7))
        .await
        .map(|s| s.expose().to_owned())
}

#[tokio::test]
async fn values_are_sealed_listed_without_values_read_and_deleted() {
    for db in databases().await {
        let store = db.store().await;
        let key = key_file(&db.dir, "master.key");
        let secrets = SecretStore::new(store.clone(), keys(Some(&key), &[]));
        let key_id = secrets
            .set("API_KEY", &Secret::new("sk-live-4f9a-value"))
            .await
            .unwrap();
        secrets
            .set("OTHER", &Secret::new("second value"))
            .await
            .unwrap();
        assert_eq!(
            read(&secrets, "API_KEY").await.unwrap(),
            "sk-live-4f9a-value"
        );

        let mut conn = store.reader().await.unwrap();
        let row = rows::get(&mut conn, "API_KEY").await.unwrap().unwrap();
        drop(conn);
        assert_eq!(row.key_id, key_id.as_str(), "{}", db.name);
        assert_eq!(row.nonce.len(), 24);
        assert!(
            !row.ciphertext
                .windows(b"sk-live".len())
                .any(|w| w == b"sk-live"),
            "{}: the stored bytes hold no plaintext",
            db.name
        );

        let first = secrets.list().await.unwrap();
        assert_eq!(
            first
                .iter()
                .map(|s| (s.name.as_str(), s.key_id.as_str()))
                .collect::<Vec<_>>(),
            [("API_KEY", key_id.as_str()), ("OTHER", key_id.as_str())],
            "{}",
            db.name
        );
        assert!(!format!("{first:?}").contains("sk-live"));

        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        secrets
            .set("API_KEY", &Secret::new("sk-live-new"))
            .await
            .unwrap();
        assert_eq!(read(&secrets, "API_KEY").await.unwrap(), "sk-live-new");
        let again = secrets.list().await.unwrap();
        assert_eq!(again[0].created_at, first[0].created_at, "{}", db.name);
        assert!(again[0].updated_at > first[0].updated_at, "{}", db.name);

        secrets.delete("API_KEY").await.unwrap();
        assert!(matches!(
            read(&secrets, "API_KEY").await,
            Err(SecretError::NotFound(name)) if name == "API_KEY"
        ));
        assert!(matches!(
            secrets.delete("API_KEY").await,
            Err(SecretError::NotFound(_))
        ));
        assert_eq!(
            secrets.missing(&["API_KEY", "OTHER"]).await.unwrap(),
            ["API_KEY"]
        );
    }
}

#[tokio::test]
async fn bad_names_empty_values_and_no_key_are_refused_by_name() {
    for db in databases().await {
        let store = db.store().await;
        let key = key_file(&db.dir, "master.key");
        let secrets = SecretStore::new(store.clone(), keys(Some(&key), &[]));
        let err = secrets
            .set("NOT-A-NAME", &Secret::new("v"))
            .await
            .unwrap_err();
        assert!(err.to_string().contains("is not a secret name"), "{err}");
        for (value, said) in [
            ("", "is empty"),
            ("a\0b", "NUL"),
            (&"x".repeat(64 * 1024 + 1)[..], "64 KiB"),
        ] {
            let err = secrets.set("K", &Secret::new(value)).await.unwrap_err();
            assert!(
                err.to_string().starts_with("the value of K ") && err.to_string().contains(said),
                "{err}"
            );
        }
        let keyless = SecretStore::new(store.clone(), Arc::new(Keyring::empty()));
        let err = keyless.set("K", &Secret::new("v")).await.unwrap_err();
        assert!(matches!(err, SecretError::NoMasterKey), "{err}");
        assert!(
            err.to_string()
                .contains("never stores a secret in plaintext"),
            "{err}"
        );
        assert!(secrets.list().await.unwrap().is_empty(), "{}", db.name);
    }
}

#[tokio::test]
async fn a_changed_ciphertext_names_its_secret_and_the_others_still_read() {
    for db in databases().await {
        let store = db.store().await;
        let key = key_file(&db.dir, "master.key");
        let secrets = SecretStore::new(store.clone(), keys(Some(&key), &[]));
        for (name, value) in [("FIRST", "one"), ("SECOND", "two"), ("THIRD", "three")] {
            secrets.set(name, &Secret::new(value)).await.unwrap();
        }
        let mut conn = store.writer().await.unwrap();
        let mut second = rows::get(&mut conn, "SECOND").await.unwrap().unwrap();
        second.ciphertext[0] ^= 0x01;
        rows::put(&mut conn, &second).await.unwrap();
        // THIRD's ciphertext copied under FIRST's name: bound to its own name, it does not open.
        let third = rows::get(&mut conn, "THIRD").await.unwrap().unwrap();
        rows::put(
            &mut conn,
            &rows::SealedRow {
                name: "FIRST".into(),
                ..third
            },
        )
        .await
        .unwrap();
        drop(conn);

        for name in ["SECOND", "FIRST"] {
            let err = read(&secrets, name).await.unwrap_err();
            assert_eq!(
                err.to_string(),
                format!(
                    "the stored secret {name} cannot be opened: its ciphertext is corrupted or \
                     was changed (the authentication tag does not match)"
                ),
                "{}",
                db.name
            );
        }
        assert_eq!(
            read(&secrets, "THIRD").await.unwrap(),
            "three",
            "{}",
            db.name
        );
        // Still a store ade starts with: the key is right, one value is bad.
        secrets.check_keys().await.unwrap();
    }
}

#[tokio::test]
async fn rotation_reseals_every_value_under_the_new_key_while_the_old_one_still_opens_them() {
    for db in databases().await {
        let store = db.store().await;
        let old = key_file(&db.dir, "old.key");
        let new = key_file(&db.dir, "new.key");
        let before = SecretStore::new(store.clone(), keys(Some(&old), &[]));
        for (name, value) in [("A", "alpha"), ("B", "beta"), ("C", "gamma")] {
            before.set(name, &Secret::new(value)).await.unwrap();
        }
        let old_id = MasterKey::read_file(&old).unwrap().id().to_string();
        let new_id = MasterKey::read_file(&new).unwrap().id().to_string();

        // The operator makes the new key current and keeps the old one as a previous key: every
        // value still reads, and a value set now is sealed under the new key.
        let both = SecretStore::new(store.clone(), keys(Some(&new), std::slice::from_ref(&old)));
        both.check_keys().await.unwrap();
        assert_eq!(read(&both, "B").await.unwrap(), "beta");
        both.set("D", &Secret::new("delta")).await.unwrap();

        // A value set again between the rotation's read and its write is not overwritten.
        let mut conn = store.writer().await.unwrap();
        let stale = rows::get(&mut conn, "C").await.unwrap().unwrap();
        drop(conn);
        both.set("C", &Secret::new("gamma, set again"))
            .await
            .unwrap();
        let mut conn = store.writer().await.unwrap();
        let resealed = rows::SealedRow {
            key_id: "0000000000000000".into(),
            ..stale.clone()
        };
        assert!(
            !rows::reseal(&mut conn, &stale, &resealed).await.unwrap(),
            "{}: a rotation does not overwrite a value set meanwhile",
            db.name
        );
        drop(conn);

        let rotation = both.rotate().await.unwrap();
        assert_eq!(
            (rotation.resealed, rotation.current, rotation.failed.len()),
            (2, 2, 0),
            "{}: A and B moved, C and D were under the new key",
            db.name
        );
        assert_eq!(rotation.key_id.unwrap().as_str(), new_id);
        let listed = both.list().await.unwrap();
        assert!(
            listed.iter().all(|s| s.key_id == new_id),
            "{}: {listed:?}",
            db.name
        );

        // The old key can go: everything reads with the new one alone, and ade starts with it.
        let after = SecretStore::new(store.clone(), keys(Some(&new), &[]));
        after.check_keys().await.unwrap();
        for (name, value) in [
            ("A", "alpha"),
            ("B", "beta"),
            ("C", "gamma, set again"),
            ("D", "delta"),
        ] {
            assert_eq!(read(&after, name).await.unwrap(), value, "{}", db.name);
        }
        // And the old key alone no longer starts ade, naming its file.
        let err = SecretStore::new(store.clone(), keys(Some(&old), &[]))
            .check_keys()
            .await
            .unwrap_err();
        assert!(matches!(err, KeyCheckError::WrongKey { .. }), "{err}");
        assert!(
            err.to_string().contains(&format!(
                "the master key file {} (key id {old_id}) does not hold the key of 4 stored \
                 secret(s), sealed under key id(s) {new_id}",
                old.display()
            )),
            "{err}"
        );
        let second = both.rotate().await.unwrap();
        assert_eq!((second.resealed, second.current), (0, 4), "{}", db.name);
    }
}

#[tokio::test]
async fn a_store_with_values_is_not_opened_without_their_key() {
    for db in databases().await {
        let store = db.store().await;
        let empty = SecretStore::new(store.clone(), Arc::new(Keyring::empty()));
        empty
            .check_keys()
            .await
            .expect("nothing stored, nothing to open");
        let key = key_file(&db.dir, "master.key");
        SecretStore::new(store.clone(), keys(Some(&key), &[]))
            .set("A", &Secret::new("alpha"))
            .await
            .unwrap();
        let err = empty.check_keys().await.unwrap_err();
        assert!(
            matches!(err, KeyCheckError::NoKey { count: 1, .. }),
            "{err}"
        );
        assert!(
            err.to_string().contains("never falls back to plaintext"),
            "{err}"
        );
        let err = read(&empty, "A").await.unwrap_err();
        assert!(
            err.to_string()
                .starts_with("the stored secret A cannot be opened: it is sealed under key id"),
            "{err}"
        );
    }
}

// ----- stories: an agent that names a stored secret, and run logs sealed at rest -----

use super::runs::{all_runs, plan_and_approve};
use super::support::eventually;
use super::support::runner::{script_agent, workdir};
use super::support::story::{MAINTAINER, PATIENCE, REPO, Story};
use super::support::verify::{
    PUBLIC_URL, Policy, approval_of, open_link, pull_until, verify_check,
};
use ade::config::Config;
use ade::forge::{CheckState, ForgeKind};
use ade::lifecycle::State;
use ade::store::runs::RunRow;

/// Writes `[runner]`, `[secrets]` and the `agents` tables into an `ade.toml` under `dir` and
/// loads it with ade's own loader, as an operator's file is loaded.
fn configure(config: &mut Config, dir: &Path, secrets: &str, agents: &str) {
    let file = dir.join("ade-secrets.toml");
    std::fs::write(
        &file,
        format!(
            "[runner]\nworkdir = {:?}\nmax_parallel = 4\nagent_user = \"nobody\"\n\n\
             [secrets]\n{secrets}\n\n{agents}",
            workdir(dir).display().to_string()
        ),
    )
    .unwrap();
    let loaded = Config::load(Some(&file), Vec::new()).expect("the configuration loads");
    config.runner = loaded.runner;
    config.agents = loaded.agents;
    config.secrets = loaded.secrets;
}

/// The run log of `run` as its bytes on disk.
fn log_bytes(run: &RunRow) -> (PathBuf, Vec<u8>) {
    let report: ade::runner::RunOutcome =
        serde_json::from_str(run.report.as_deref().expect("a finished run has a report")).unwrap();
    let path = PathBuf::from(report.report().log.clone().expect("the run has a log"));
    let bytes = std::fs::read(&path).unwrap();
    (path, bytes)
}

/// The first run, once it succeeded.
async fn succeeded(story: &Story) -> RunRow {
    eventually(PATIENCE * 2, "the first run to succeed", || async {
        all_runs(story)
            .await
            .into_iter()
            .next()
            .filter(|r| r.state.as_str() == "succeeded")
    })
    .await
}

fn holds(bytes: &[u8], text: &str) -> bool {
    bytes.windows(text.len()).any(|w| w == text.as_bytes())
}

/// Writes what the agent saw of `API_TOKEN`: a digest of its value, and how many times the value
/// shows in its own argv and in the files of its worktree and scratch folder.
const LOOK: &str = "mkdir -p notes\n\
    ( echo \"digest: $(printf '%s' \"$API_TOKEN\" | sha256sum | cut -c1-16)\"\n\
      echo \"argv: $(tr '\\0' '\\n' < /proc/$$/cmdline | grep -c -F -e \"$API_TOKEN\")\"\n\
      echo \"files: $(grep -rlF -e \"$API_TOKEN\" --exclude-dir=.git . \"$ADE_SCRATCH\" | wc -l)\"\n\
    ) > notes/$ADE_TASK_ID.md\n\
    echo \"Looked at the environment.\" > \"$ADE_OUTPUT_FILE\"\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_agent_gets_its_stored_secret_in_its_environment_only_and_waits_while_it_is_missing() {
    let db = super::support::db::sqlite();
    let key = key_file(&db.dir, "master.key");
    let value = "stored-token-8c1f0a7e5d";
    let digest = {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(value.as_bytes()))[..16].to_owned()
    };
    let secrets = SecretStore::new(db.store().await, keys(Some(&key), &[]));
    secrets
        .set("STORY_TOKEN", &Secret::new(value))
        .await
        .unwrap();
    let agents = format!(
        "{}\n[agents.script.secrets]\nAPI_TOKEN = {{ store = \"STORY_TOKEN\" }}\n",
        script_agent(LOOK, 60)
    );
    let settings = format!("master_key_file = {:?}", key.display().to_string());
    let policy = "[agents]\ndefault = \"script\"\n";
    let story = Story::start_on(
        db,
        ForgeKind::Github,
        false,
        &[(".ade/config.toml", policy)],
        |config, dir| configure(config, dir, &settings, &agents),
    )
    .await;

    let issue = story.issue(MAINTAINER, "Look", "- [ ] Look around\n").await;
    plan_and_approve(&story, issue).await;
    let approval = approval_of(&story, "t1").await;
    let seen = story
        .sim
        .file(REPO, &approval.head, "notes/t1.md")
        .await
        .expect("the agent wrote what it saw");
    let seen = String::from_utf8_lossy(&seen);
    assert!(
        seen.contains(&format!("digest: {digest}")),
        "the value reached the agent's environment: {seen}"
    );
    assert!(seen.contains("argv: 0\n"), "not on its argv: {seen}");
    assert!(
        seen.contains("files: 0\n"),
        "in no file of its worktree or scratch folder: {seen}"
    );
    let run = succeeded(&story).await;
    let (_, log) = log_bytes(&run);
    assert!(!holds(&log, value), "the run log never holds the value");
    assert!(!run.report.unwrap_or_default().contains(value));

    // The operator deletes the secret: the next run waits, saying which secret it needs, in its
    // reason, the goal and its log; once the secret is set again the same run goes on.
    secrets.delete("STORY_TOKEN").await.unwrap();
    let second = story.issue(MAINTAINER, "Again", "- [ ] Look again\n").await;
    plan_and_approve(&story, second).await;
    let held = eventually(PATIENCE * 2, "the run held for its secret", || async {
        all_runs(&story)
            .await
            .into_iter()
            .find(|r| r.state.as_str() == "queued" && r.reason.is_some())
    })
    .await;
    let reason = held.reason.clone().unwrap();
    assert!(
        reason.contains(
            "agent script: the secret STORY_TOKEN its registration names (for API_TOKEN) cannot \
             be read: no secret STORY_TOKEN is stored"
        ),
        "{reason}"
    );
    story
        .until("ade to tell the goal what the run waits for", |s| {
            s.bot_comments(second)
                .into_iter()
                .find(|c| c.contains("is waiting") && c.contains("STORY\\_TOKEN"))
        })
        .await;
    let held_log = workdir(&story.config_dir())
        .join("runs")
        .join(held.id.to_string())
        .join(format!("attempt-{}.log", held.attempt));
    let noted = std::fs::read_to_string(&held_log).unwrap();
    assert!(
        noted.contains("[ade] agent script: the secret STORY_TOKEN"),
        "{noted}"
    );

    secrets
        .set("STORY_TOKEN", &Secret::new(value))
        .await
        .unwrap();
    let ran = eventually(PATIENCE * 2, "the held run to run", || async {
        all_runs(&story)
            .await
            .into_iter()
            .find(|r| r.id == held.id && r.state.as_str() == "succeeded")
    })
    .await;
    assert_eq!(ran.attempt, held.attempt, "the same run, not a new attempt");

    // Each read is on record, with the run, the agent and the variable, the failed one too; the
    // value is in no record.
    story.settle().await;
    let audit = std::fs::read_dir(story.config_dir().join("audit"))
        .unwrap()
        .map(|f| std::fs::read_to_string(f.unwrap().path()).unwrap())
        .collect::<String>();
    assert!(!audit.contains(value), "the value reached the audit log");
    let reads: Vec<serde_json::Value> = audit
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|r| r["action"] == "secret.read")
        .collect();
    let of_run = |id: i64, outcome: &str| {
        reads.iter().any(|r| {
            r["run"] == id
                && r["outcome"] == outcome
                && r["subject"] == "secret STORY_TOKEN"
                && r["details"]["agent"] == "script"
                && r["details"]["variable"] == "API_TOKEN"
        })
    };
    assert!(of_run(run.id, "ok"), "{reads:#?}");
    assert!(of_run(held.id, "failed"), "{reads:#?}");
    assert!(of_run(held.id, "ok"), "{reads:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sealed_run_logs_hold_no_plaintext_on_disk_and_ade_serves_them_opened() {
    let db = super::support::db::sqlite();
    let key = key_file(&db.dir, "master.key");
    let agent = "mkdir -p notes\necho \"notes of $ADE_TASK_ID\" > notes/$ADE_TASK_ID.md\n\
                 echo \"agent-marker-31d7 was here\"\n";
    let policy = Policy::new()
        .step(
            "marker",
            "echo step-marker-9b2e; grep -q 'notes of t1' notes/t1.md",
        )
        .toml();
    let settings = format!(
        "master_key_file = {:?}\nencrypt_run_logs = true",
        key.display().to_string()
    );
    let agents = script_agent(agent, 60);
    let story = Story::start_on(
        db,
        ForgeKind::Github,
        false,
        &[(".ade/config.toml", policy.as_str())],
        |config, dir| {
            configure(config, dir, &settings, &agents);
            config.server.public_url = Some(PUBLIC_URL.into());
        },
    )
    .await;
    let issue = story
        .issue(MAINTAINER, "Notes", "- [ ] Write the notes\n")
        .await;
    plan_and_approve(&story, issue).await;
    let opened = approval_of(&story, "t1").await;
    let ready = pull_until(&story, opened.number, "the approval ready", |p| !p.draft).await;
    let check = verify_check(&story, &ready.head_sha, &[CheckState::Success]).await;

    let run = succeeded(&story).await;
    let (path, on_disk) = log_bytes(&run);
    let verification_log = path.with_file_name("attempt-1-verify.log");
    for (path, on_disk) in [
        (path.clone(), on_disk.clone()),
        (
            verification_log.clone(),
            std::fs::read(&verification_log).unwrap(),
        ),
    ] {
        assert!(
            on_disk.starts_with(b"ADE-SEALED-LOG 1 "),
            "{} is sealed",
            path.display()
        );
        for plain in [
            "agent-marker-31d7",
            "step-marker-9b2e",
            "[ade]",
            "environment",
        ] {
            assert!(
                !holds(&on_disk, plain),
                "{plain} is on disk in plaintext in {}",
                path.display()
            );
        }
    }
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
        0o600,
        "the log is its owner's alone"
    );

    // ade's own readers open them: the approval's summary (the agent's last lines, from the run
    // log) and the verification's log behind the check's signed link.
    assert!(
        ready.body.contains("agent-marker-31d7 was here"),
        "the summary read from the sealed log: {}",
        ready.body
    );
    let link = check.details_url.clone().expect("the check links its log");
    let (status, served) = open_link(&story, &link).await;
    assert_eq!(status, 200, "{served}");
    for plain in [
        "[ade] verification step marker (static)",
        "step-marker-9b2e",
    ] {
        assert!(
            served.contains(plain),
            "{plain} in the served log:\n{served}"
        );
    }
    assert!(!served.contains("ADE-SEALED-LOG"), "{served}");
}

#[tokio::test]
async fn ade_does_not_start_when_an_agent_names_a_secret_that_is_not_stored() {
    for db in databases().await {
        let key = key_file(&db.dir, "master.key");
        let agents = format!(
            "{}\n[agents.script.secrets]\nAPI_TOKEN = {{ store = \"NEVER_SET\" }}\n",
            script_agent("true", 60)
        );
        let settings = format!("master_key_file = {:?}", key.display().to_string());
        let mut config = super::support::config(&db);
        configure(&mut config, &db.dir, &settings, &agents);
        let err = match ade::service::Service::start(&config, Default::default()).await {
            Ok(_) => panic!("{}: ade started without the agent's secret", db.name),
            Err(err) => format!("{err:#}"),
        };
        assert_eq!(
            err,
            "agent script: secrets.API_TOKEN names the stored secret NEVER_SET, which is not in \
             ade's secret store: set it with `ade secrets set NEVER_SET` (docs/secrets.md)",
            "{}",
            db.name
        );
    }
}
