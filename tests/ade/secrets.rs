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
        let both = SecretStore::new(store.clone(), keys(Some(&new), &[old.clone()]));
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
