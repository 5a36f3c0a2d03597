//! Whether the files ade keeps its secrets in are its user's alone: the data dir, the SQLite
//! database, the master key files, every file the configuration reads a secret from (the GitHub
//! App's key, tokens, webhook secrets, agents' secret files) and the run logs. A group or others
//! that may read or write one of them is a warning with the `chmod` that fixes it (docs/doctor.md,
//! docs/secrets.md). Local: no forge involved; a path that does not exist is not judged.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use super::{Finding, Report};
use crate::config::Config;

/// Mode bits that let a group or others read or write.
const LOOSE: u32 = 0o066;

/// One path ade's secrets are in, and what it is.
struct Kept {
    what: String,
    path: PathBuf,
    folder: bool,
}

/// Runs the file checks.
pub(super) fn check(config: &Config, report: &mut Report) {
    let mut kept = vec![Kept {
        what: "the data dir (storage.data_dir)".to_owned(),
        path: config.storage.data_dir.clone(),
        folder: true,
    }];
    if let Some(path) = sqlite_file(config.database.url.expose()) {
        kept.push(Kept {
            what: "the SQLite database".to_owned(),
            path,
            folder: false,
        });
    }
    for file in &config.secret_files {
        kept.push(Kept {
            what: format!("the file of {}", file.key),
            path: file.path.clone(),
            folder: false,
        });
    }
    let mut judged = 0;
    let mut loose = 0;
    for item in &kept {
        let Ok(meta) = std::fs::metadata(&item.path) else {
            continue;
        };
        judged += 1;
        let mode = meta.permissions().mode() & 0o7777;
        if mode & LOOSE == 0 {
            continue;
        }
        loose += 1;
        let path = item.path.display();
        let (fix, who) = if item.folder {
            (
                format!(
                    "chmod go-rw {path} (others may still pass through to the runner's folders)"
                ),
                "list or change what is in it",
            )
        } else {
            (format!("chmod 600 {path}"), "read or change it")
        };
        report.push(Finding::warning(
            "files",
            format!(
                "{} {path} has mode {mode:04o}: users other than ade's may {who}",
                item.what
            ),
            fix,
        ));
    }
    let logs = loose_logs(&config.runner.workdir.join("runs"));
    if let Some(first) = logs.first() {
        loose += 1;
        report.push(Finding::warning(
            "files",
            format!(
                "{} run log(s) under {} may be read by users other than ade's, {} among them",
                logs.len(),
                config.runner.workdir.join("runs").display(),
                first.display()
            ),
            format!(
                "chmod 600 the run logs (find {} -name '*.log' -exec chmod 600 {{}} +); ade creates new ones so",
                config.runner.workdir.join("runs").display()
            ),
        ));
    }
    if loose == 0 {
        report.push(Finding::ok(
            "files",
            format!(
                "the {judged} file(s) and folder(s) ade keeps secrets in that exist (data dir, database, key and secret files, run logs) are ade's user's alone"
            ),
        ));
    }
}

/// The file of an SQLite database URL, if it is one.
fn sqlite_file(url: &str) -> Option<PathBuf> {
    let rest = url.strip_prefix("sqlite:")?.trim_start_matches("//");
    let path = rest.split('?').next().unwrap_or(rest);
    (!path.is_empty() && path != ":memory:").then(|| PathBuf::from(path))
}

/// The run logs (`runs/<run>/*.log`) that a group or others may read.
fn loose_logs(runs: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let Ok(runs) = std::fs::read_dir(runs) else {
        return found;
    };
    for run in runs.flatten() {
        let Ok(files) = std::fs::read_dir(run.path()) else {
            continue;
        };
        for file in files.flatten() {
            let path = file.path();
            let loose = path.extension().is_some_and(|e| e == "log")
                && file
                    .metadata()
                    .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o044 != 0);
            if loose {
                found.push(path);
            }
        }
    }
    found.sort();
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::doctor::Status;
    use crate::forge::ForgeKind;

    fn mode(path: &Path, mode: u32) {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    }

    #[test]
    fn loose_files_and_folders_are_named_with_their_fix_and_tight_ones_are_ok() {
        let dir = std::env::temp_dir().join(format!(
            "ade-doctor-files-{}-{:x}",
            std::process::id(),
            fastrand::u64(..)
        ));
        let data = dir.join("data");
        std::fs::create_dir_all(data.join("runner/runs/7")).unwrap();
        let key = dir.join("master.key");
        crate::secrets::MasterKey::generate_file(&key).unwrap();
        let token = dir.join("token");
        std::fs::write(&token, "t0k3n\n").unwrap();
        std::fs::write(data.join("ade.db"), "").unwrap();
        let log = data.join("runner/runs/7/attempt-1.log");
        std::fs::write(&log, "[ade] hello\n").unwrap();
        let toml = dir.join("ade.toml");
        std::fs::write(
            &toml,
            format!(
                "[storage]\ndata_dir = {:?}\n[secrets]\nmaster_key_file = {:?}\n\
                 [gitea]\nurl = \"https://gitea.example\"\ntoken_file = {:?}\n",
                data.display().to_string(),
                key.display().to_string(),
                token.display().to_string()
            ),
        )
        .unwrap();
        let config = Config::load(Some(&toml), Vec::new()).unwrap();
        let findings = |config: &Config| {
            let mut report = Report::new("acme/widgets", ForgeKind::Gitea);
            check(config, &mut report);
            report.findings
        };

        for (path, m) in [
            (&data, 0o711),
            (&token, 0o600),
            (&data.join("ade.db"), 0o600),
            (&log, 0o600),
        ] {
            mode(path, m);
        }
        let tight = findings(&config);
        assert_eq!(tight.len(), 1, "{tight:?}");
        assert_eq!(tight[0].status, Status::Ok);
        assert!(
            tight[0].message.contains("the 4 file(s)"),
            "{}",
            tight[0].message
        );

        mode(&data, 0o755);
        mode(&token, 0o644);
        mode(&data.join("ade.db"), 0o660);
        mode(&log, 0o644);
        let loose = findings(&config);
        let said: Vec<(&str, &str)> = loose
            .iter()
            .map(|f| (f.message.as_str(), f.fix.as_deref().unwrap_or("")))
            .collect();
        assert_eq!(loose.len(), 4, "{said:#?}");
        assert!(loose.iter().all(|f| f.status == Status::Warning));
        assert!(said[0].0.starts_with(&format!(
            "the data dir (storage.data_dir) {} has mode 0755",
            data.display()
        )));
        assert!(
            said[0]
                .1
                .starts_with(&format!("chmod go-rw {}", data.display()))
        );
        assert!(said[1].0.starts_with("the SQLite database"), "{said:?}");
        assert_eq!(
            said[1].1,
            format!("chmod 600 {}", data.join("ade.db").display())
        );
        assert!(
            said[2].0.starts_with(&format!(
                "the file of gitea.token_file {} has mode 0644",
                token.display()
            )),
            "{said:?}"
        );
        assert!(said[3].0.starts_with("1 run log(s)"), "{said:?}");
        assert!(
            !said.iter().any(|(m, _)| m.contains("master.key")),
            "the key file keygen wrote is 0600"
        );

        mode(&key, 0o640);
        assert!(findings(&config).iter().any(|f| {
            f.message.contains("the file of secrets.master_key_file") && f.message.contains("0640")
        }));
        std::fs::remove_dir_all(dir).ok();
    }
}
