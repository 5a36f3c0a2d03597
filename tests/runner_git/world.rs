//! A repository on the forge simulator (real git over smart HTTP with token auth), ade's mirror of
//! it, a run's worktree, sentinel scripts that record when something runs them, and plain git
//! (default config) to show each sentinel is real.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use ade::forge::CloneCredential;
use ade::forge::ForgeKind;
use ade::runner::commit::WorktreePaths;
use ade::runner::git::Git;
use ade::runner::mirror::{Mirror, Mirrors};
use ade::secret::Secret;
use ade::sim::{NewRepo, SimOptions, Simulator};

/// The hooks planted everywhere git might look for them.
pub const HOOKS: &[&str] = &[
    "pre-commit",
    "post-commit",
    "commit-msg",
    "post-checkout",
    "reference-transaction",
    "pre-push",
    "post-index-change",
];

/// A folder removed when dropped.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("ade-{tag}-{:016x}", fastrand::u64(..)));
        std::fs::create_dir_all(&dir).expect("temp dir");
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// What a sentinel script does besides recording that it ran.
#[derive(Clone, Copy)]
pub enum Act {
    /// Reads stdin and succeeds (hooks).
    Hook,
    /// Copies stdin to stdout (clean and smudge filters).
    PassThrough,
    /// Prints the file named by its first argument (textconv).
    PrintFirstArg,
    /// Fails at once (process filters, ssh).
    Fail,
    /// Succeeds without reading (external diff, fsmonitor).
    Succeed,
}

/// A TCP listener that only counts connections: the submodule URL points at it.
pub struct Tripwire {
    pub port: u16,
    pub hits: Arc<AtomicUsize>,
}

impl Tripwire {
    fn start() -> Tripwire {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("tripwire binds");
        let port = listener.local_addr().expect("tripwire address").port();
        let hits = Arc::new(AtomicUsize::new(0));
        let counter = hits.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                counter.fetch_add(1, Ordering::SeqCst);
                drop(stream);
            }
        });
        Tripwire { port, hits }
    }

    pub fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}

/// Everything one test works with.
pub struct World {
    pub dir: TempDir,
    pub sim: Simulator,
    pub repo: String,
    pub credential: CloneCredential,
    pub git: Git,
    pub mirrors: Mirrors,
    pub mirror: Arc<Mirror>,
    pub base: String,
    pub worktree: WorktreePaths,
    pub tripwire: Tripwire,
}

impl World {
    /// A repository whose base commit carries `.gitattributes` naming filters and diff drivers,
    /// a `.gitmodules` whose URL is the tripwire, a gitlink, a symlink to /etc/passwd, AGENTS.md
    /// and a file over the read cap; the mirror fetched; a worktree at the base commit.
    pub async fn start(tag: &str) -> World {
        let dir = TempDir::new(&format!("runner-git-{tag}"));
        let root = dir.0.clone();
        let sim = Simulator::start(SimOptions::new(ForgeKind::Gitea, root.join("sim")))
            .await
            .expect("simulator starts");
        let owner = sim.add_user("acme");
        sim.create_repo(NewRepo::new("acme", "app"))
            .await
            .expect("repository");
        let repo = "acme/app".to_string();
        let credential = CloneCredential {
            url: sim.clone_url(&repo),
            username: owner.login.clone(),
            password: Secret::new(owner.token.clone()),
            expires_at: None,
        };
        let tripwire = Tripwire::start();
        for sub in ["sentinels", "traps", "plain-home"] {
            std::fs::create_dir_all(root.join(sub)).expect("folder");
        }

        let seed = root.join("seed");
        plain_ok(
            &root,
            &root,
            &credential,
            &["clone", "-q", &credential.url, "seed"],
        );
        let gitmodules = format!(
            "[submodule \"sub\"]\n\tpath = sub\n\turl = http://127.0.0.1:{}/sub.git\n",
            tripwire.port
        );
        let files: &[(&str, &[u8])] = &[
            ("AGENTS.md", b"# Agents\nBe careful.\n"),
            (
                ".gitattributes",
                b"*.txt filter=evil diff=evil\n*.dat filter=evilproc\n*.inc filter=inc\n",
            ),
            ("notes.txt", b"one\n"),
            ("data.dat", b"data\n"),
            ("x.inc", b"inc\n"),
            (".gitmodules", gitmodules.as_bytes()),
            ("big.bin", &[b'x'; 300 * 1024]),
        ];
        for (path, content) in files {
            std::fs::write(seed.join(path), content).expect("seed file");
        }
        std::os::unix::fs::symlink("/etc/passwd", seed.join("LINKED.md")).expect("symlink");
        plain_ok(&root, &seed, &credential, &["add", "-A"]);
        let some_commit = plain_ok(&root, &seed, &credential, &["rev-parse", "HEAD"]);
        plain_ok(
            &root,
            &seed,
            &credential,
            &[
                "update-index",
                "--add",
                "--cacheinfo",
                &format!("160000,{some_commit},sub"),
            ],
        );
        plain_ok(&root, &seed, &credential, &["commit", "-q", "-m", "Base"]);
        plain_ok(
            &root,
            &seed,
            &credential,
            &["push", "-q", "origin", "HEAD:main"],
        );
        let base = plain_ok(&root, &seed, &credential, &["rev-parse", "HEAD"]);

        let git = Git::new("git", root.join("ade-empty")).expect("git runner");
        let mirrors = Mirrors::new(git.clone(), root.join("work/mirrors"));
        let mirror = mirrors.get("sim", &repo).await.expect("mirror");
        mirror
            .fetch(&credential, &[base.clone(), "main".into()])
            .await
            .expect("fetch");
        let worktree =
            add_worktree(&git, &mirror, &root.join("work/worktrees"), "run1", &base).await;
        World {
            dir,
            sim,
            repo,
            credential,
            git,
            mirrors,
            mirror,
            base,
            worktree,
            tripwire,
        }
    }

    pub fn root(&self) -> &Path {
        &self.dir.0
    }

    pub fn wt(&self) -> &Path {
        &self.worktree.work_tree
    }

    /// Writes a sentinel script that records `name` when run.
    pub fn sentinel(&self, name: &str, act: Act) -> PathBuf {
        let log = self.root().join("sentinels").join(name);
        let tail = match act {
            Act::Hook => "cat >/dev/null 2>&1; exit 0",
            Act::PassThrough => "cat",
            Act::PrintFirstArg => "cat \"$1\"",
            Act::Fail => "exit 1",
            Act::Succeed => "exit 0",
        };
        let script = self.root().join("traps").join(format!("{name}.sh"));
        std::fs::write(
            &script,
            format!("#!/bin/sh\necho \"$@\" >> '{}'\n{tail}\n", log.display()),
        )
        .expect("sentinel script");
        make_executable(&script);
        script
    }

    /// The sentinels that fired, sorted.
    pub fn fired(&self) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(self.root().join("sentinels"))
            .expect("sentinel folder")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    /// Forgets which sentinels fired.
    pub fn reset_sentinels(&self) {
        let dir = self.root().join("sentinels");
        std::fs::remove_dir_all(&dir).expect("clear sentinels");
        std::fs::create_dir_all(&dir).expect("sentinel folder");
    }

    /// Runs plain git (default config, no system or global config) in `dir`.
    pub fn plain(&self, dir: &Path, args: &[&str]) -> std::process::Output {
        plain(self.root(), dir, &self.credential, args)
    }

    /// Appends a setting to the mirror's config, as an agent running `git config` would.
    pub fn agent_config(&self, key: &str, value: &str) {
        let out = self.plain(self.wt(), &["config", key, value]);
        assert!(out.status.success(), "git config {key}: {out:?}");
    }

    /// Writes a file into the worktree, as the agent.
    pub fn agent_write(&self, path: &str, content: &str) {
        let full = self.wt().join(path);
        if let Some(parent) = full.parent() {
            std::fs::create_dir_all(parent).expect("folder");
        }
        std::fs::write(full, content).expect("agent writes");
    }
}

/// Creates a worktree of the mirror at `commit` with ade's git, as the workspace module does.
pub async fn add_worktree(
    git: &Git,
    mirror: &Mirror,
    parent: &Path,
    name: &str,
    commit: &str,
) -> WorktreePaths {
    std::fs::create_dir_all(parent).expect("worktrees folder");
    let work_tree = parent.join(name);
    git.in_repo(mirror.git_dir())
        .args(["worktree", "add", "--detach", "--quiet"])
        .arg(&work_tree)
        .arg(commit)
        .run()
        .await
        .expect("worktree add");
    WorktreePaths {
        git_dir: mirror.git_dir().join("worktrees").join(name),
        work_tree,
    }
}

pub fn make_executable(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
}

fn plain(
    root: &Path,
    dir: &Path,
    credential: &CloneCredential,
    args: &[&str],
) -> std::process::Output {
    let home = root.join("plain-home");
    let askpass = root.join("askpass.sh");
    if !askpass.exists() {
        std::fs::write(
            &askpass,
            "#!/bin/sh\ncase \"$1\" in\n  Username*) printf '%s\\n' \"$ADE_TEST_USER\" ;;\n  *) printf '%s\\n' \"$ADE_TEST_PASSWORD\" ;;\nesac\n",
        )
        .expect("askpass");
        make_executable(&askpass);
    }
    std::process::Command::new("git")
        .args([
            "-c",
            "user.name=Plain",
            "-c",
            "user.email=plain@example.com",
        ])
        .args(args)
        .current_dir(dir)
        .env_clear()
        .env("PATH", "/usr/local/bin:/usr/bin:/bin")
        .env("HOME", &home)
        .env("XDG_CONFIG_HOME", &home)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("GIT_ASKPASS", &askpass)
        .env("ADE_TEST_USER", &credential.username)
        .env("ADE_TEST_PASSWORD", credential.password.expose())
        .stdin(std::process::Stdio::null())
        .output()
        .expect("git runs")
}

fn plain_ok(root: &Path, dir: &Path, credential: &CloneCredential, args: &[&str]) -> String {
    let out = plain(root, dir, credential, args);
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}
