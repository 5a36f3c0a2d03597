//! The setup guides docs/github.md and docs/gitea.md: every `ade.toml` block they show loads, and
//! every `.ade/config.toml` block passes `ade policy check` without a warning, so an operator
//! following them is never stopped by a key ade refuses or told later that a key does nothing.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn ade(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ade"))
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .output()
        .expect("run ade")
}

fn scratch() -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "ade-guides-{}-{:x}",
        std::process::id(),
        fastrand::u64(..)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The block with each file it names (a key, a token, a webhook secret, the data folder) made in
/// `dir`, as the operator following the guide would have them.
fn with_files_made(block: &str, dir: &Path) -> String {
    let mut out = Vec::new();
    for line in block.lines() {
        let Some((key, _)) = line.split_once(" = ") else {
            out.push(line.to_owned());
            continue;
        };
        let made = match key {
            "private_key_file" => {
                let key = dir.join("github-app.pem");
                crate::support::rsa_key(&key);
                key
            }
            "token_file" | "webhook_secret_file" => {
                let file = dir.join(key);
                std::fs::write(&file, "0123456789abcdef\n").unwrap();
                file
            }
            "data_dir" => dir.join("data"),
            _ => {
                out.push(line.to_owned());
                continue;
            }
        };
        out.push(format!("{key} = {:?}", made.display().to_string()));
    }
    out.join("\n")
}

fn check_guide(name: &str) {
    let doc = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(name)).unwrap();
    let dir = scratch();
    let (mut servers, mut policies) = (0, 0);
    for block in doc.split("```toml\n").skip(1) {
        let block = block.split("```").next().unwrap();
        if block.starts_with("# .ade/config.toml") {
            let file = dir.join("config.toml");
            std::fs::write(&file, block).unwrap();
            let out = ade(&["policy", "check", file.to_str().unwrap()]);
            assert!(
                out.status.success() && out.stderr.is_empty(),
                "{name}'s policy is not valid, or warns:\n{block}\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
            policies += 1;
        } else {
            let block = with_files_made(block, &dir);
            let file = dir.join("ade.toml");
            std::fs::write(&file, &block).unwrap();
            let out = ade(&["check-config", "--config", file.to_str().unwrap()]);
            assert!(
                out.status.success(),
                "{name}'s ade.toml does not load:\n{block}\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
            servers += 1;
        }
    }
    std::fs::remove_dir_all(dir).ok();
    assert_eq!(
        (servers, policies),
        (1, 1),
        "{name}: one ade.toml, one policy"
    );
}

#[test]
fn the_github_guide_s_configuration_loads() {
    check_guide("docs/github.md");
}

#[test]
fn the_gitea_guide_s_configuration_loads() {
    check_guide("docs/gitea.md");
}
