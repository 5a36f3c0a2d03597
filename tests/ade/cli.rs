//! The `ade` command line as an operator meets it.

use std::process::{Command, Output};

fn ade(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_ade"));
    command
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default());
    for (k, v) in env {
        command.env(k, v);
    }
    command.output().expect("run ade")
}

fn scratch() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "ade-cli-{}-{:x}",
        std::process::id(),
        fastrand::u64(..)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn check_config_prints_the_effective_config_with_secrets_redacted() {
    let dir = scratch();
    let secret_file = dir.join("gitea-secret");
    std::fs::write(&secret_file, "from-a-file-5b1c\n").unwrap();
    let config = dir.join("ade.toml");
    std::fs::write(
        &config,
        format!(
            "[github]\nwebhook_secret = [\"old-3f9a\", \"new-77c2\"]\n[gitea]\nurl = \"https://gitea.example\"\nwebhook_secret_file = \"{}\"\n[database]\nurl = \"postgres://ade:hunter2@db/ade\"\n",
            secret_file.display()
        ),
    )
    .unwrap();
    let out = ade(
        &["check-config", "--config", config.to_str().unwrap()],
        &[("ADE_SERVER__LISTEN", "0.0.0.0:9000")],
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for secret in ["old-3f9a", "new-77c2", "from-a-file-5b1c", "hunter2"] {
        assert!(!stdout.contains(secret), "{secret} leaked:\n{stdout}");
    }
    assert!(stdout.contains("<redacted>"), "{stdout}");
    assert!(
        stdout.contains("0.0.0.0:9000"),
        "environment overrides apply:\n{stdout}"
    );
    assert!(stdout.contains("https://gitea.example"));
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn the_config_file_can_come_from_ade_config() {
    let dir = scratch();
    let config = dir.join("ade.toml");
    std::fs::write(&config, "[server]\nlisten = \"127.0.0.1:9123\"\n").unwrap();
    let out = ade(
        &["check-config"],
        &[("ADE_CONFIG", config.to_str().unwrap())],
    );
    assert!(
        String::from_utf8(out.stdout)
            .unwrap()
            .contains("127.0.0.1:9123")
    );
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn a_bad_config_is_refused_at_start_with_one_message_naming_the_key() {
    let dir = scratch();
    let config = dir.join("ade.toml");
    let cases = [
        (
            "[github]\nwebhok_secret = \"x\"\n",
            vec![],
            "github.webhok_secret",
        ),
        ("[server]\nlisten = \"nope\"\n", vec![], "server.listen"),
        (
            "[gitea]\nwebhook_secret_file = \"/nonexistent/secret\"\n",
            vec![],
            "gitea.webhook_secret_file",
        ),
        ("", vec![("ADE_JOBS__WORKERS", "many")], "jobs.workers"),
        ("[server\n", vec![], "line 1"),
    ];
    for (text, env, key) in cases {
        std::fs::write(&config, text).unwrap();
        for command in ["serve", "migrate", "check-config"] {
            let out = ade(&[command, "--config", config.to_str().unwrap()], &env);
            let stderr = String::from_utf8(out.stderr).unwrap();
            assert!(!out.status.success(), "{command} accepted {text:?}");
            assert!(
                stderr.contains(key),
                "{command}: {key} not named in {stderr:?}"
            );
            assert_eq!(stderr.trim().lines().count(), 1, "one message: {stderr}");
        }
    }
    let out = ade(
        &[
            "serve",
            "--config",
            dir.join("missing.toml").to_str().unwrap(),
        ],
        &[],
    );
    assert!(!out.status.success());
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn migrate_applies_pending_migrations_once() {
    let dir = scratch();
    let url = format!("sqlite://{}/db/ade.db", dir.display());
    let env = [
        ("ADE_DATABASE__URL", url.as_str()),
        ("ADE_STORAGE__DATA_DIR", dir.to_str().unwrap()),
    ];
    let first = ade(&["migrate"], &env);
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    assert!(
        String::from_utf8(first.stdout)
            .unwrap()
            .starts_with(&format!(
                "applied {} migration(s)",
                ade::store::MIGRATIONS_SQLITE.len()
            ))
    );
    let second = ade(&["migrate"], &env);
    assert!(
        String::from_utf8(second.stdout)
            .unwrap()
            .starts_with("applied 0 migration(s)")
    );
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn serve_fails_clearly_when_its_port_is_taken() {
    let dir = scratch();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let data = dir.to_str().unwrap();
    let out = ade(
        &["serve"],
        &[
            ("ADE_SERVER__LISTEN", &addr),
            ("ADE_STORAGE__DATA_DIR", data),
        ],
    );
    assert!(!out.status.success());
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains(&format!("listen on {addr}")), "{stderr}");
    assert_eq!(
        stderr.matches(&format!("listen on {addr}")).count(),
        1,
        "said once: {stderr}"
    );
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn logs_can_be_json_lines_carrying_span_fields() {
    let dir = scratch();
    let out = ade(
        &["--log-format", "json", "migrate"],
        &[
            ("ADE_STORAGE__DATA_DIR", dir.to_str().unwrap()),
            ("ADE_LOG", "info"),
        ],
    );
    assert!(out.status.success());
    let stderr = String::from_utf8(out.stderr).unwrap();
    let line = stderr
        .lines()
        .find(|l| l.contains("applied migration"))
        .expect("a log line");
    let record: serde_json::Value = serde_json::from_str(line).expect("JSON line");
    assert_eq!(record["fields"]["message"], "applied migration");
    assert_eq!(record["level"], "INFO");
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn policy_check_prints_each_problem_with_its_line_and_column() {
    let dir = scratch();
    let good = dir.join("good.toml");
    std::fs::write(&good, "[execution]\nparallelism = 2\n").unwrap();
    let out = ade(&["policy", "check", good.to_str().unwrap()], &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let bad = dir.join("bad.toml");
    std::fs::write(
        &bad,
        "[execution]\nparalelism = 2\n\n[roles]\napprove = \"wizard\"\n",
    )
    .unwrap();
    let out = ade(&["policy", "check", bad.to_str().unwrap()], &[]);
    assert!(!out.status.success());
    let stderr = String::from_utf8(out.stderr).unwrap();
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 2, "{stderr}");
    assert!(
        lines[0].contains(":2:") && lines[0].contains("paralelism"),
        "{stderr}"
    );
    assert!(
        lines[1].contains(":5:") && lines[1].contains("approve"),
        "{stderr}"
    );
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn schemas_are_printed_as_json() {
    for which in ["spec", "policy"] {
        let out = ade(&["schema", which], &[]);
        assert!(out.status.success());
        let schema: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
        assert!(schema["properties"].is_object(), "{which}: {schema}");
    }
}

/// `ade sim` on each dialect with its files in `dir`, until it has printed its set-up, then
/// stopped.
fn sim_printout(forge: &str, dir: &std::path::Path) -> String {
    use std::io::{BufRead, BufReader};
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_ade"))
        .args(["sim", "--forge", forge, "--listen"])
        .arg(format!("127.0.0.1:{port}"))
        .arg("--data-dir")
        .arg(dir)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("start ade sim");
    let mut printed = String::new();
    for line in BufReader::new(child.stdout.take().unwrap()).lines() {
        let line = line.unwrap();
        printed.push_str(&line);
        printed.push('\n');
        if line.starts_with("drive it") {
            break;
        }
    }
    child.kill().ok();
    child.wait().ok();
    printed
}

/// The `ade.toml` lines `ade sim` prints, as ade loads them.
fn printed_config(printed: &str) -> Result<(), String> {
    let lines: Vec<&str> = printed
        .lines()
        .skip_while(|l| !l.starts_with("point ade at it"))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .filter(|l| !l.trim_start().starts_with('('))
        .map(str::trim)
        .collect();
    let dir = scratch();
    let file = dir.join("ade.toml");
    std::fs::write(&file, lines.join("\n")).unwrap();
    let out = ade(&["check-config", "--config", file.to_str().unwrap()], &[]);
    std::fs::remove_dir_all(dir).ok();
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{}\n{}",
            lines.join("\n"),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

#[test]
fn ade_sim_prints_an_ade_toml_that_ade_loads_and_each_forge_s_own_words() {
    let dir = scratch();
    let github = sim_printout("github", &dir);
    printed_config(&github).unwrap_or_else(|e| panic!("{e}\n{github}"));
    assert!(github.contains("maintainer (maintain, token"), "{github}");

    let gitea = sim_printout("gitea", &dir);
    printed_config(&gitea).unwrap_or_else(|e| panic!("{e}\n{gitea}"));
    std::fs::remove_dir_all(dir).ok();
    assert!(
        gitea.contains("maintainer (admin, token") && !gitea.contains("maintain,"),
        "Gitea has no maintain role: {gitea}"
    );
}

/// Every `ade.toml` block docs/simulator.md shows loads (a key ade refuses would stop a reader
/// following it at the first step).
#[test]
fn the_simulator_guide_s_ade_toml_blocks_load() {
    let doc = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/simulator.md"),
    )
    .unwrap();
    let dir = scratch();
    let key = dir.join("app-private-key.pem");
    crate::support::rsa_key(&key);
    let mut checked = 0;
    for block in doc.split("```toml\n").skip(1) {
        let block = block.split("```").next().unwrap();
        if !(block.starts_with("[github]") || block.starts_with("[gitea]")) {
            continue;
        }
        let block: String = block
            .lines()
            .map(|l| {
                if l.starts_with("private_key_file") {
                    format!("private_key_file = {:?}", key.display().to_string())
                } else {
                    l.to_owned()
                }
            })
            .collect::<Vec<_>>()
            .join("\n");
        let file = dir.join("ade.toml");
        std::fs::write(&file, &block).unwrap();
        let out = ade(&["check-config", "--config", file.to_str().unwrap()], &[]);
        assert!(
            out.status.success(),
            "docs/simulator.md's block does not load:\n{block}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        checked += 1;
    }
    assert_eq!(checked, 2, "one block per forge");
    std::fs::remove_dir_all(dir).ok();
}

/// deploy/github-app-manifest.json asks for exactly the permissions and events ade's GitHub
/// client needs (the calls themselves are checked against the same table after every GitHub
/// verification story).
#[test]
fn the_github_app_manifest_asks_for_what_ade_uses() {
    use ade::forge::github::permissions::{EVENTS, required};
    let manifest: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("deploy/github-app-manifest.json"),
        )
        .unwrap(),
    )
    .unwrap();
    let asked: std::collections::BTreeMap<String, String> =
        serde_json::from_value(manifest["default_permissions"].clone()).unwrap();
    let needed: std::collections::BTreeMap<String, String> = required()
        .into_iter()
        .map(|(p, a)| (p.to_owned(), a.as_str().to_owned()))
        .collect();
    assert_eq!(asked, needed);
    let events: Vec<String> = serde_json::from_value(manifest["default_events"].clone()).unwrap();
    assert_eq!(events, EVENTS);
    assert_eq!(manifest["public"], false);
}

/// The container recipe and the compose file configure ade through environment overrides: each
/// one is a key ade takes, with a value it accepts (no container builder runs in the tests; this
/// is what can be checked without one).
#[test]
fn the_container_recipes_configure_ade_with_keys_it_takes() {
    let deploy = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy");
    let containerfile = std::fs::read_to_string(deploy.join("Containerfile")).unwrap();
    let compose = std::fs::read_to_string(deploy.join("compose.yaml")).unwrap();
    let mut env: Vec<(String, String)> = containerfile
        .split_whitespace()
        .filter_map(|word| word.trim_end_matches('\\').split_once('='))
        .filter(|(key, _)| key.starts_with("ADE_") && *key != "ADE_CONFIG")
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    env.extend(compose.lines().filter_map(|line| {
        let (key, value) = line.trim().split_once(": ")?;
        key.starts_with("ADE_")
            .then(|| (key.to_owned(), value.to_owned()))
    }));
    let keys: Vec<&str> = env.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        keys,
        [
            "ADE_STORAGE__DATA_DIR",
            "ADE_SERVER__LISTEN",
            "ADE_DATABASE__URL"
        ]
    );
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let example = deploy.join("ade.example.toml");
    let out = ade(
        &["check-config", "--config", example.to_str().unwrap()],
        &env,
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("0.0.0.0:8080"), "{stdout}");
    assert!(stdout.contains("/var/lib/ade"), "{stdout}");
    assert!(
        stdout.contains("url = \"postgres://ade:<redacted>@postgres:5432/ade\""),
        "{stdout}"
    );
}

/// As root, a data folder the agent user cannot enter stops `ade serve` at start with the cause
/// and its fix, instead of every run failing with "Permission denied".
#[test]
fn serve_refuses_a_data_dir_the_agent_user_cannot_enter() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("skipped: only as root does ade run agents as another user");
        return;
    }
    use std::os::unix::fs::PermissionsExt;
    let dir = scratch();
    let closed = dir.join("closed");
    std::fs::create_dir_all(&closed).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(&closed, std::fs::Permissions::from_mode(0o700)).unwrap();
    let config = dir.join("ade.toml");
    std::fs::write(
        &config,
        format!(
            "[server]\nlisten = \"127.0.0.1:0\"\n[storage]\ndata_dir = {:?}\n[runner]\nagent_user = \"nobody\"\n\
             [agents.script]\ncommand = [\"/bin/sh\", \"-c\", \"true\"]\nprompt = \"file\"\ntrust = \"trusted\"\n",
            closed.join("ade-data").display().to_string()
        ),
    )
    .unwrap();
    let out = ade(&["serve", "--config", config.to_str().unwrap()], &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "runner.workdir: {}",
            closed.join("ade-data/runner").display()
        )) && stderr.contains(&format!("is inside {} (mode 0700", closed.display())),
        "{stderr}"
    );
    std::fs::remove_dir_all(dir).ok();
}

/// `ade` with `input` on its standard input.
fn ade_with_input(args: &[&str], env: &[(&str, &str)], input: &[u8]) -> Output {
    use std::io::Write;
    let mut command = Command::new(env!("CARGO_BIN_EXE_ade"));
    command
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    for (k, v) in env {
        command.env(k, v);
    }
    let mut child = command.spawn().expect("run ade");
    child.stdin.take().unwrap().write_all(input).unwrap();
    child.wait_with_output().expect("ade ends")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The key id `ade secrets keygen` printed.
fn key_id_of(keygen: &Output) -> String {
    let out = text(&keygen.stdout);
    out.split("(key id ")
        .nth(1)
        .and_then(|rest| rest.split(')').next())
        .unwrap_or_else(|| panic!("no key id in {out:?}"))
        .to_owned()
}

#[test]
fn keygen_writes_a_key_only_its_owner_reads_and_never_overwrites_one() {
    use std::os::unix::fs::PermissionsExt;
    let dir = scratch();
    let key = dir.join("master.key");
    let out = ade(&["secrets", "keygen", key.to_str().unwrap()], &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        std::fs::metadata(&key).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let written = std::fs::read(&key).unwrap();
    assert_eq!(written.len(), 65);
    assert!(
        !text(&out.stdout).contains(text(&written).trim()),
        "the key is never printed"
    );
    let again = ade(&["secrets", "keygen", key.to_str().unwrap()], &[]);
    assert!(!again.status.success());
    assert!(
        text(&again.stderr).contains("never overwrites"),
        "{}",
        text(&again.stderr)
    );
    assert_eq!(std::fs::read(&key).unwrap(), written);
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn secrets_are_set_from_standard_input_listed_without_values_rotated_and_deleted() {
    let dir = scratch();
    let data = dir.join("data");
    let (old, new) = (dir.join("old.key"), dir.join("new.key"));
    let old_id = key_id_of(&ade(&["secrets", "keygen", old.to_str().unwrap()], &[]));
    let new_id = key_id_of(&ade(&["secrets", "keygen", new.to_str().unwrap()], &[]));
    let data_dir = ("ADE_STORAGE__DATA_DIR", data.to_str().unwrap());
    let with_old = [data_dir, ("ADE_MASTER_KEY_FILE", old.to_str().unwrap())];

    let set = ade_with_input(
        &["secrets", "set", "API_KEY"],
        &with_old,
        b"sk-cli-7e1d-value\n",
    );
    assert!(set.status.success(), "{}", text(&set.stderr));
    assert_eq!(
        text(&set.stdout),
        format!("stored secret API_KEY, sealed under key id {old_id}\n")
    );
    let set = ade_with_input(&["secrets", "set", "OTHER"], &with_old, b"second\r\n");
    assert!(set.status.success(), "{}", text(&set.stderr));
    use std::os::unix::fs::PermissionsExt;
    let mode =
        |path: &std::path::Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    assert_eq!(
        mode(&data),
        0o711,
        "the data dir ade made: others may pass, not list"
    );
    assert_eq!(
        mode(&data.join("ade.db")),
        0o600,
        "the database ade made is its own"
    );
    let mut on_disk = Vec::new();
    let audit = data.join("audit");
    for dir in [&data, &audit] {
        for file in std::fs::read_dir(dir).unwrap() {
            let path = file.unwrap().path();
            if path.is_file() {
                on_disk.extend(std::fs::read(path).unwrap());
            }
        }
    }
    assert!(
        !on_disk.windows(11).any(|w| w == b"sk-cli-7e1d"),
        "the database and audit files hold no plaintext value"
    );

    let list = ade(&["secrets", "list"], &with_old);
    let listed = text(&list.stdout);
    assert!(list.status.success(), "{}", text(&list.stderr));
    assert!(listed.starts_with("NAME "), "{listed}");
    for line in [("API_KEY", &old_id), ("OTHER", &old_id)] {
        assert!(
            listed.lines().any(|l| l.starts_with(line.0)
                && l.contains(line.1.as_str())
                && l.ends_with("current")),
            "{line:?} in {listed}"
        );
    }
    assert!(
        !listed.contains("sk-cli") && !listed.contains("second"),
        "{listed}"
    );

    // Rotation: the new key current, the old one previous, then every value moved.
    let previous = (
        "ADE_SECRETS__PREVIOUS_MASTER_KEY_FILES",
        old.to_str().unwrap(),
    );
    let both = [
        data_dir,
        ("ADE_MASTER_KEY_FILE", new.to_str().unwrap()),
        previous,
    ];
    let listed = text(&ade(&["secrets", "list"], &both).stdout);
    assert!(
        listed.contains("2 secret(s) are sealed under a previous key"),
        "{listed}"
    );
    let rotated = ade(&["secrets", "rotate-key"], &both);
    assert!(rotated.status.success(), "{}", text(&rotated.stderr));
    assert!(
        text(&rotated.stdout).starts_with(&format!(
            "re-sealed 2 secret(s) under key id {new_id}; 0 already were"
        )),
        "{}",
        text(&rotated.stdout)
    );
    let with_new = [data_dir, ("ADE_MASTER_KEY_FILE", new.to_str().unwrap())];
    let listed = text(&ade(&["secrets", "list"], &with_new).stdout);
    assert_eq!(listed.matches(&new_id).count(), 2, "{listed}");
    assert!(!listed.contains(&old_id), "{listed}");

    // The values read back with the new key alone, the CRLF line end dropped.
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let store = ade::store::Store::connect(ade::store::StoreOptions {
            url: format!("sqlite://{}/ade.db", data.display()),
            max_connections: 1,
        })
        .await
        .unwrap();
        let keys = ade::secrets::Keyring::load(Some(&new), &[]).unwrap();
        let secrets = ade::secrets::SecretStore::new(store, std::sync::Arc::new(keys));
        let reader = |variable| ade::secrets::RunReader {
            run: 1,
            agent: "script",
            variable,
        };
        for (name, value) in [("API_KEY", "sk-cli-7e1d-value"), ("OTHER", "second")] {
            let read = secrets.read_for_run(name, reader(name)).await.unwrap();
            assert_eq!(read.expose(), value);
        }
    });

    // `ade serve` with the old key alone, or none, does not start, and says which file.
    let listen = ("ADE_SERVER__LISTEN", "127.0.0.1:0");
    let served = ade(&["serve"], &[with_old[0], with_old[1], listen]);
    assert!(!served.status.success());
    let said = text(&served.stderr);
    assert!(
        said.contains(&format!(
            "the master key file {} (key id {old_id}) does not hold the key of 2 stored secret(s)",
            old.display()
        )),
        "{said}"
    );
    let served = ade(&["serve"], &[data_dir, listen]);
    assert!(!served.status.success());
    assert!(
        text(&served.stderr).contains("2 secret(s) are stored, sealed under key id(s)")
            && text(&served.stderr).contains("no master key is configured"),
        "{}",
        text(&served.stderr)
    );
    let missing = dir.join("missing.key");
    let served = ade(
        &["serve"],
        &[
            data_dir,
            listen,
            ("ADE_MASTER_KEY_FILE", missing.to_str().unwrap()),
        ],
    );
    assert!(!served.status.success());
    assert!(
        text(&served.stderr).starts_with(&format!(
            "config: secrets.master_key_file: cannot read the master key file {}",
            missing.display()
        )),
        "{}",
        text(&served.stderr)
    );

    let deleted = ade(&["secrets", "delete", "API_KEY"], &with_new);
    assert_eq!(text(&deleted.stdout), "deleted secret API_KEY\n");
    let again = ade(&["secrets", "delete", "API_KEY"], &with_new);
    assert!(!again.status.success());
    assert!(
        text(&again.stderr).contains("no secret API_KEY is stored"),
        "{}",
        text(&again.stderr)
    );

    // Each change is an admin action on record, by the operator, never with a value.
    let shown = ade(&["audit", "show", "--action", "admin.secrets"], &[data_dir]);
    let shown = text(&shown.stdout);
    let actions: Vec<&str> = shown
        .lines()
        .filter_map(|l| l.split_whitespace().nth(3))
        .collect();
    assert_eq!(
        actions,
        [
            "admin.secrets.set",
            "admin.secrets.set",
            "admin.secrets.rotate_key",
            "admin.secrets.delete"
        ],
        "{shown}"
    );
    assert!(shown.contains("secret API_KEY"), "{shown}");
    assert!(!shown.contains("sk-cli-7e1d-value"), "{shown}");
    let verified = ade(&["audit", "verify"], &[data_dir]);
    assert!(verified.status.success(), "{}", text(&verified.stdout));
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn secrets_set_refuses_an_empty_value_a_bad_name_and_no_master_key() {
    let dir = scratch();
    let key = dir.join("master.key");
    ade(&["secrets", "keygen", key.to_str().unwrap()], &[]);
    let data_dir = ("ADE_STORAGE__DATA_DIR", dir.to_str().unwrap());
    let with_key = [data_dir, ("ADE_MASTER_KEY_FILE", key.to_str().unwrap())];
    for (name, input, said) in [
        ("EMPTY", &b""[..], "no value for EMPTY on standard input"),
        ("EMPTY", b"\n", "no value for EMPTY on standard input"),
        ("bad-name", b"v", "\"bad-name\" is not a secret name"),
        (
            "BINARY",
            b"\xff\xfe",
            "the value of BINARY is not UTF-8 text",
        ),
    ] {
        let out = ade_with_input(&["secrets", "set", name], &with_key, input);
        assert!(!out.status.success(), "{name} {input:?}");
        assert!(
            text(&out.stderr).contains(said),
            "{said}: {}",
            text(&out.stderr)
        );
    }
    let forge = [
        with_key[0],
        with_key[1],
        ("ADE_GITHUB__WEBHOOK_SECRET", "hook-secret-3c9e"),
    ];
    let out = ade_with_input(&["secrets", "set", "HOOK"], &forge, b"hook-secret-3c9e\n");
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("the value of HOOK is one of ade's forge credentials"),
        "{}",
        text(&out.stderr)
    );
    let out = ade_with_input(&["secrets", "set", "K"], &[data_dir], b"value\n");
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("no master key is configured"),
        "{}",
        text(&out.stderr)
    );
    let listed = ade(&["secrets", "list"], &with_key);
    assert_eq!(text(&listed.stdout), "no secret is stored\n");
    std::fs::remove_dir_all(dir).ok();
}
