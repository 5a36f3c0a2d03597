//! Real git with a credential the client handed out: a HOME of its own, no system or global
//! config, no credential helper, and the user name and token given through an askpass script,
//! so nothing of the user's git setup takes part and nothing is written to disk but the script.

use ade::forge::CloneCredential;
use std::path::{Path, PathBuf};
use std::process::Output;

/// A sandbox for git commands: its own HOME and askpass script.
pub struct Git {
    home: PathBuf,
    askpass: PathBuf,
}

impl Git {
    pub fn new(root: &Path) -> Git {
        let home = root.join("git-home");
        std::fs::create_dir_all(&home).expect("git home");
        std::fs::write(home.join(".gitconfig"), "").expect("empty global config");
        let askpass = home.join("askpass.sh");
        std::fs::write(
            &askpass,
            "#!/bin/sh\ncase \"$1\" in\n  Username*) printf '%s\\n' \"$ADE_TEST_GIT_USER\" ;;\n  *) printf '%s\\n' \"$ADE_TEST_GIT_PASSWORD\" ;;\nesac\n",
        )
        .expect("askpass script");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&askpass, std::fs::Permissions::from_mode(0o700))
                .expect("askpass is executable");
        }
        Git { home, askpass }
    }

    /// Runs git in `dir` with `credential`'s user name and `password` (the credential's own
    /// unless a test wants a wrong one).
    pub async fn run(
        &self,
        dir: &Path,
        credential: &CloneCredential,
        password: &str,
        args: &[&str],
    ) -> Output {
        tokio::process::Command::new("git")
            .args(["-c", "credential.helper=", "-c", "protocol.version=2"])
            .args([
                "-c",
                "user.name=ade test",
                "-c",
                "user.email=ade@example.com",
            ])
            .args(args)
            .current_dir(dir)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", &self.home)
            .env("XDG_CONFIG_HOME", &self.home)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_CONFIG_GLOBAL", self.home.join(".gitconfig"))
            .env("GIT_TERMINAL_PROMPT", "0")
            .env("GIT_ASKPASS", &self.askpass)
            .env("ADE_TEST_GIT_USER", &credential.username)
            .env("ADE_TEST_GIT_PASSWORD", password)
            .output()
            .await
            .expect("git runs")
    }

    /// Like [`Git::run`], failing the test with git's output unless git succeeded.
    pub async fn ok(&self, dir: &Path, credential: &CloneCredential, args: &[&str]) -> String {
        let out = self
            .run(dir, credential, credential.password.expose(), args)
            .await;
        assert!(
            out.status.success(),
            "git {args:?} failed:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }
}
