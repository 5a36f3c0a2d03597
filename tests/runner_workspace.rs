//! The worktree pool against real git on disk: resets leave nothing of the previous run, symlinks
//! out of a worktree are never followed, broken metadata is repaired or replaced, a crash's
//! leftovers are collected at open, concurrent runs never share a worktree, the pool refills in
//! the background, retiring never blocks an acquire, and the main checkout is one run at a time.

use std::collections::{BTreeSet, HashSet};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ade::runner::git::Git;
use ade::runner::workspace::{PoolConfig, Prepared, WorkspaceError, WorktreeLease, WorktreePool};

/// A bare repository with two commits: `a` and `b` (b changes, deletes and adds files).
struct Repo {
    dir: PathBuf,
    git: Git,
    bare: PathBuf,
    a: String,
    b: String,
}

fn scratch(test: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("runner_workspace")
        .join(format!("{test}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

async fn commit(repo_git: &Git, bare: &Path, work: &Path, parent: Option<&str>) -> String {
    let index = work.with_extension("index");
    let git = || {
        repo_git
            .in_worktree(bare, work)
            .env("GIT_INDEX_FILE", index.as_os_str())
            .env("GIT_AUTHOR_NAME", "t")
            .env("GIT_AUTHOR_EMAIL", "t@example.com")
            .env("GIT_COMMITTER_NAME", "t")
            .env("GIT_COMMITTER_EMAIL", "t@example.com")
    };
    git().args(["add", "-A"]).run().await.unwrap();
    let tree = git().arg("write-tree").run_text().await.unwrap();
    let mut commit = git().args(["commit-tree", &tree, "-m", "c"]);
    if let Some(parent) = parent {
        commit = commit.args(["-p", parent]);
    }
    let sha = commit.run_text().await.unwrap();
    git()
        .args(["update-ref", "refs/heads/main", &sha])
        .run()
        .await
        .unwrap();
    sha
}

async fn repo(test: &str) -> Repo {
    let dir = scratch(test);
    let git = Git::new("git", dir.join("empty")).unwrap();
    let bare = dir.join("repo.git");
    git.command()
        .args(["init", "--quiet", "--bare"])
        .arg(&bare)
        .run()
        .await
        .unwrap();
    let work = dir.join("src");
    write(&work.join(".gitignore"), "target/\n*.log\n");
    write(&work.join("a.txt"), "a1\n");
    write(&work.join("dir/b.txt"), "b1\n");
    write(&work.join("dir/deep/c.txt"), "c1\n");
    let a = commit(&git, &bare, &work, None).await;
    write(&work.join("a.txt"), "a2\n");
    std::fs::remove_file(work.join("dir/b.txt")).unwrap();
    write(&work.join("new/d.txt"), "d2\n");
    let b = commit(&git, &bare, &work, Some(&a)).await;
    Repo {
        dir,
        git,
        bare,
        a,
        b,
    }
}

impl Repo {
    async fn pool(&self, warm: usize, max: usize) -> WorktreePool {
        self.pool_handing(warm, max, None).await
    }

    async fn pool_handing(
        &self,
        warm: usize,
        max: usize,
        hand_ahead: Option<(u32, u32)>,
    ) -> WorktreePool {
        WorktreePool::open(
            self.git.clone(),
            &self.bare,
            &self.dir.join("worktrees/repo"),
            PoolConfig {
                warm,
                max,
                hand_ahead,
            },
        )
        .await
        .unwrap()
    }

    async fn in_lease(&self, lease: &WorktreeLease, args: &[&str]) -> String {
        self.git
            .in_worktree(lease.git_dir(), lease.path())
            .args(args)
            .run_text()
            .await
            .unwrap()
    }

    /// Checks that the worktree holds exactly `commit`'s tree: every entry on disk (files,
    /// symlinks, folders) is in it, with the committed content, and git sees nothing else.
    async fn assert_exactly(&self, lease: &WorktreeLease, commit: &str) {
        let listed = self
            .in_lease(lease, &["ls-tree", "-r", "--name-only", commit])
            .await;
        let mut expected = BTreeSet::new();
        for file in listed.lines() {
            let mut path = Path::new(file);
            expected.insert(file.to_string());
            while let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
                expected.insert(parent.to_string_lossy().into_owned());
                path = parent;
            }
        }
        let on_disk = walk(lease.path());
        assert_eq!(on_disk, expected, "entries of {}", lease.path().display());
        for file in listed.lines() {
            let committed = self
                .in_lease(lease, &["show", &format!("{commit}:{file}")])
                .await;
            let here = std::fs::read_to_string(lease.path().join(file)).unwrap();
            assert_eq!(here.trim_end(), committed, "{file}");
        }
        assert_eq!(self.in_lease(lease, &["rev-parse", "HEAD"]).await, commit);
        let status = self
            .in_lease(lease, &["status", "--porcelain", "--ignored"])
            .await;
        assert_eq!(status, "", "git status of a fresh lease");
    }
}

/// Every entry under `root` except the top `.git` file, relative, never following links.
fn walk(root: &Path) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let mut pending = vec![root.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let relative = path
                .strip_prefix(root)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            if relative == ".git" {
                continue;
            }
            if std::fs::symlink_metadata(&path).unwrap().is_dir() {
                pending.push(path);
            }
            found.insert(relative);
        }
    }
    found
}

/// The worktree folders of a pool root (hidden folders and the main checkout aside).
fn worktree_folders(root: &Path) -> BTreeSet<String> {
    std::fs::read_dir(root)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| !n.starts_with('.') && n != "main")
        .collect()
}

#[tokio::test]
async fn reuse_after_reset_leaves_nothing_of_the_previous_run() {
    let repo = repo("reuse").await;
    let pool = repo.pool(0, 1).await;
    let lease = pool.acquire(&repo.a).await.unwrap();
    repo.assert_exactly(&lease, &repo.a).await;
    let first_path = lease.path().to_path_buf();
    let wt = lease.path();
    write(&wt.join("a.txt"), "changed by the run\n");
    write(&wt.join("untracked.txt"), "u\n");
    write(&wt.join("dir/deep/untracked"), "u\n");
    write(&wt.join("target/debug/cache.bin"), "ignored\n");
    write(&wt.join("run.log"), "ignored\n");
    write(&wt.join("nested/.git/HEAD"), "ref: refs/heads/x\n");
    write(&wt.join("nested/inner.txt"), "in a nested repository\n");
    write(&wt.join("staged.txt"), "staged\n");
    repo.in_lease(&lease, &["add", "staged.txt"]).await;
    std::fs::remove_file(wt.join("dir/b.txt")).unwrap();
    drop(lease);
    // Cleaned in the background after the release, before any run asks for it.
    pool.idle().await;
    assert_eq!(pool.status().free, 1);
    assert!(!first_path.join("untracked.txt").exists());
    assert!(!first_path.join("target").exists());
    assert!(first_path.join("dir/b.txt").exists());

    let lease = pool.acquire(&repo.b).await.unwrap();
    assert_eq!(lease.path(), first_path, "max 1: the same worktree, reset");
    repo.assert_exactly(&lease, &repo.b).await;

    // A run that committed moves HEAD; the next run still starts at its base.
    write(&lease.path().join("new/e.txt"), "e\n");
    repo.in_lease(&lease, &["add", "-A"]).await;
    repo.git
        .in_worktree(lease.git_dir(), lease.path())
        .env("GIT_AUTHOR_NAME", "run")
        .env("GIT_AUTHOR_EMAIL", "run@example.com")
        .env("GIT_COMMITTER_NAME", "run")
        .env("GIT_COMMITTER_EMAIL", "run@example.com")
        .args(["commit", "-q", "-m", "run"])
        .run()
        .await
        .unwrap();
    lease.release();
    let lease = pool.acquire(&repo.a).await.unwrap();
    repo.assert_exactly(&lease, &repo.a).await;
}

#[tokio::test]
async fn an_acquire_waits_for_a_worktree_being_cleaned_rather_than_making_one() {
    let repo = repo("wait-for-clean").await;
    let pool = repo.pool(0, 3).await;
    let lease = pool.acquire(&repo.a).await.unwrap();
    assert_eq!(lease.prepared().0, Prepared::Created);
    let path = lease.path().to_path_buf();
    write(&path.join("left-over.txt"), "x\n");
    drop(lease);
    // Released: being cleaned now. Making a second worktree would take far longer on a big
    // repository than the cleaning has left to do.
    let lease = pool.acquire(&repo.b).await.unwrap();
    assert_eq!(lease.path(), path);
    assert_eq!(lease.prepared().0, Prepared::CheckedOut);
    repo.assert_exactly(&lease, &repo.b).await;
    assert_eq!(worktree_folders(pool.root()).len(), 1);
    drop(lease);
    pool.idle().await;
    let lease = pool.acquire(&repo.b).await.unwrap();
    assert_eq!(lease.prepared().0, Prepared::Ready);
}

#[tokio::test]
async fn a_free_worktree_already_at_the_base_is_preferred() {
    let repo = repo("prefer").await;
    let pool = repo.pool(0, 2).await;
    let at_a = pool.acquire(&repo.a).await.unwrap();
    let at_b = pool.acquire(&repo.b).await.unwrap();
    let (path_a, path_b) = (at_a.path().to_path_buf(), at_b.path().to_path_buf());
    drop(at_a);
    drop(at_b);
    // Released worktrees are cleaned in the background before they are free again.
    pool.idle().await;
    // at_b was released last, so without the preference it would be picked.
    let lease = pool.acquire(&repo.a).await.unwrap();
    assert_eq!(lease.path(), path_a);
    let other = pool.acquire(&repo.b).await.unwrap();
    assert_eq!(other.path(), path_b);
}

#[tokio::test]
async fn symlinks_out_of_the_worktree_are_removed_not_followed() {
    let repo = repo("symlinks").await;
    let outside = repo.dir.join("outside");
    write(&outside.join("sentinel"), "keep me\n");
    write(&outside.join("sub/sentinel"), "keep me too\n");
    let pool = repo.pool(0, 1).await;
    let lease = pool.acquire(&repo.a).await.unwrap();
    let wt = lease.path();
    std::os::unix::fs::symlink(&outside, wt.join("escape")).unwrap();
    std::os::unix::fs::symlink(outside.join("sub"), wt.join("dir/escape")).unwrap();
    std::fs::create_dir_all(wt.join("target")).unwrap();
    std::os::unix::fs::symlink(&outside, wt.join("target/escape")).unwrap();
    std::os::unix::fs::symlink(outside.join("sentinel"), wt.join("file-link")).unwrap();
    std::os::unix::fs::symlink("../../outside", wt.join("relative")).unwrap();
    drop(lease);

    let lease = pool.acquire(&repo.b).await.unwrap();
    repo.assert_exactly(&lease, &repo.b).await;
    assert_eq!(
        std::fs::read_to_string(outside.join("sentinel")).unwrap(),
        "keep me\n"
    );
    assert_eq!(
        std::fs::read_to_string(outside.join("sub/sentinel")).unwrap(),
        "keep me too\n"
    );
}

/// Breaks the metadata of a released worktree with `corrupt`, then checks that the next acquire
/// still succeeds with a sound worktree at the other commit.
async fn survives(test: &str, corrupt: impl FnOnce(&Path, &Path)) -> (Repo, PathBuf, PathBuf) {
    let repo = repo(test).await;
    let pool = repo.pool(0, 1).await;
    let lease = pool.acquire(&repo.a).await.unwrap();
    let (path, admin) = (lease.path().to_path_buf(), lease.git_dir().to_path_buf());
    write(&path.join("left-over.txt"), "x\n");
    drop(lease);
    pool.idle().await;
    corrupt(&path, &admin);
    let lease = pool.acquire(&repo.b).await.unwrap();
    repo.assert_exactly(&lease, &repo.b).await;
    let dotgit = std::fs::read_to_string(lease.path().join(".git")).unwrap();
    assert_eq!(dotgit, format!("gitdir: {}\n", lease.git_dir().display()));
    let gitdir = std::fs::read_to_string(lease.git_dir().join("gitdir")).unwrap();
    assert_eq!(
        gitdir.trim_end(),
        lease.path().join(".git").to_string_lossy()
    );
    let (new_path, new_admin) = (lease.path().to_path_buf(), lease.git_dir().to_path_buf());
    drop(lease);
    pool.idle().await;
    let list = repo
        .git
        .in_repo(&repo.bare)
        .args(["worktree", "list", "--porcelain"])
        .run_text()
        .await
        .unwrap();
    let listed: Vec<&str> = list
        .lines()
        .filter_map(|l| l.strip_prefix("worktree "))
        .collect();
    assert_eq!(
        listed.len(),
        2,
        "the bare repository and one worktree: {list}"
    );
    assert!(list.contains(&*new_path.to_string_lossy()));
    assert!(!list.contains("prunable"), "{list}");
    assert!(
        std::fs::read_dir(pool.root().join(".retired"))
            .unwrap()
            .next()
            .is_none()
    );
    (repo, new_path, new_admin)
}

#[tokio::test]
async fn a_deleted_admin_folder_gets_a_fresh_worktree() {
    let (_, _, admin) = survives("no-admin", |_, admin| {
        std::fs::remove_dir_all(admin).unwrap();
    })
    .await;
    assert!(admin.is_dir());
}

#[tokio::test]
async fn a_gitdir_pointing_elsewhere_is_repaired_in_place() {
    let mut old = PathBuf::new();
    let (_, path, _) = survives("gitdir-elsewhere", |path, admin| {
        old = path.to_path_buf();
        std::fs::write(admin.join("gitdir"), "/nowhere/at/all/.git\n").unwrap();
    })
    .await;
    assert_eq!(path, old, "repaired, not replaced");
}

#[tokio::test]
async fn a_garbage_dotgit_file_is_repaired_in_place() {
    let mut old = PathBuf::new();
    let (_, path, _) = survives("garbage-dotgit", |path, _| {
        old = path.to_path_buf();
        std::fs::write(path.join(".git"), "gitdir: /etc\n\0garbage").unwrap();
    })
    .await;
    assert_eq!(path, old);
}

#[tokio::test]
async fn a_dotgit_symlink_is_replaced_without_writing_through_it() {
    let target = Arc::new(Mutex::new(PathBuf::new()));
    let seen = target.clone();
    let (repo, _, _) = survives("dotgit-symlink", move |path, _| {
        let victim = path.parent().unwrap().join("victim");
        std::fs::write(&victim, "victim\n").unwrap();
        std::fs::remove_file(path.join(".git")).unwrap();
        std::os::unix::fs::symlink(&victim, path.join(".git")).unwrap();
        *seen.lock().unwrap() = victim;
    })
    .await;
    let victim = target.lock().unwrap().clone();
    assert_eq!(std::fs::read_to_string(victim).unwrap(), "victim\n");
    drop(repo);
}

#[tokio::test]
async fn stale_git_locks_and_a_corrupt_index_are_cleaned_up() {
    survives("stale-index-lock", |_, admin| {
        std::fs::write(admin.join("index.lock"), "").unwrap();
        std::fs::write(admin.join("index"), "not an index").unwrap();
    })
    .await;
}

/// A process that is alive for the test, and its start time as the lock file records it.
fn live_process() -> (std::process::Child, u64) {
    let child = std::process::Command::new("sleep")
        .arg("60")
        .spawn()
        .unwrap();
    let stat = std::fs::read_to_string(format!("/proc/{}/stat", child.id())).unwrap();
    let after = &stat[stat.rfind(')').unwrap() + 1..];
    let start = after.split_whitespace().nth(19).unwrap().parse().unwrap();
    (child, start)
}

fn dead_pid() -> u32 {
    let mut child = std::process::Command::new("true").spawn().unwrap();
    let pid = child.id();
    child.wait().unwrap();
    pid
}

#[tokio::test]
async fn open_collects_what_a_crash_left() {
    let repo = repo("crash").await;
    let root = repo.dir.join("worktrees/repo");
    let pool = repo.pool(0, 8).await;
    let mut leases = Vec::new();
    for _ in 0..5 {
        leases.push(pool.acquire(&repo.a).await.unwrap());
    }
    let names: Vec<String> = leases.iter().map(|l| l.name().to_string()).collect();
    let admins: Vec<PathBuf> = leases.iter().map(|l| l.git_dir().to_path_buf()).collect();
    // The "crash": nothing is released, so every lock file stays.
    for lease in leases {
        std::mem::forget(lease);
    }
    drop(pool);
    let locks = root.join(".locks");
    let lock = |name: &str, text: String| std::fs::write(locks.join(format!("{name}.lock")), text);
    let dead = dead_pid();
    // 0: a run was holding it: adopted.
    lock(&names[0], format!("pid={dead} start=1 purpose=lease\n")).unwrap();
    // 1: its creator died half-way: retired.
    lock(&names[1], format!("pid={dead} start=1 purpose=create\n")).unwrap();
    // 2: its folder was deleted: the metadata is pruned.
    std::fs::remove_dir_all(root.join(&names[2])).unwrap();
    lock(&names[2], format!("pid={dead} start=1 purpose=lease\n")).unwrap();
    // 3: another living process holds it: left alone.
    let (mut holder, start) = live_process();
    lock(
        &names[3],
        format!("pid={} start={start} purpose=lease\n", holder.id()),
    )
    .unwrap();
    // 4: an unreadable lock file is stale.
    lock(&names[4], "garbage".into()).unwrap();
    // A folder without metadata, a stray file, a leftover of an unfinished deletion.
    write(&root.join("wt-99/file.txt"), "orphan\n");
    write(&root.join("notes.txt"), "stray\n");
    write(&root.join(".retired/wt-7.123/file.txt"), "half deleted\n");

    let pool = repo.pool(0, 8).await;
    let report = pool.open_report();
    let retired: BTreeSet<String> = report.retired.iter().map(|(n, _)| n.clone()).collect();
    assert_eq!(
        report.adopted.iter().cloned().collect::<BTreeSet<_>>(),
        BTreeSet::from([names[0].clone(), names[4].clone()])
    );
    assert_eq!(
        retired,
        BTreeSet::from([names[1].clone(), "notes.txt".into(), "wt-99".into()])
    );
    assert_eq!(report.held_elsewhere, vec![names[3].clone()]);
    pool.idle().await;
    assert_eq!(
        worktree_folders(&root),
        BTreeSet::from([names[0].clone(), names[3].clone(), names[4].clone()])
    );
    assert!(
        std::fs::read_dir(root.join(".retired"))
            .unwrap()
            .next()
            .is_none()
    );
    for gone in [1, 2] {
        assert!(
            !admins[gone].exists(),
            "admin folder of {} pruned",
            names[gone]
        );
        assert!(!locks.join(format!("{}.lock", names[gone])).exists());
    }
    assert!(!locks.join(format!("{}.lock", names[0])).exists());
    assert!(locks.join(format!("{}.lock", names[3])).exists());

    // The pool hands out the adopted worktrees and new ones, never the one held elsewhere.
    let mut paths = HashSet::new();
    for _ in 0..4 {
        let lease = pool.acquire(&repo.b).await.unwrap();
        assert_ne!(lease.name(), names[3]);
        assert_ne!(
            lease.name(),
            "wt-99",
            "names continue past every folder seen"
        );
        repo.assert_exactly(&lease, &repo.b).await;
        paths.insert(lease.path().to_path_buf());
        std::mem::forget(lease);
    }
    assert_eq!(paths.len(), 4);
    holder.kill().unwrap();
    holder.wait().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_acquires_never_share_a_worktree() {
    let repo = Arc::new(repo("concurrent").await);
    let pool = repo.pool(1, 3).await;
    let held: Arc<Mutex<HashSet<PathBuf>>> = Arc::default();
    let mut tasks = Vec::new();
    for task in 0..10 {
        let (pool, held, repo) = (pool.clone(), held.clone(), repo.clone());
        tasks.push(tokio::spawn(async move {
            for round in 0..3 {
                let base = if (task + round) % 2 == 0 {
                    &repo.a
                } else {
                    &repo.b
                };
                let lease = pool.acquire(base).await.unwrap();
                let path = lease.path().to_path_buf();
                assert!(
                    held.lock().unwrap().insert(path.clone()),
                    "{} handed out twice",
                    path.display()
                );
                let lock = pool
                    .root()
                    .join(".locks")
                    .join(format!("{}.lock", lease.name()));
                let text = std::fs::read_to_string(&lock).unwrap();
                assert!(text.starts_with(&format!("pid={} ", std::process::id())));
                // What the previous run left is gone.
                assert_eq!(
                    walk(&path).iter().filter(|p| p.starts_with("run-")).count(),
                    0
                );
                write(&path.join(format!("run-{task}-{round}")), "mine\n");
                tokio::time::sleep(Duration::from_millis(15)).await;
                assert_eq!(repo.in_lease(&lease, &["rev-parse", "HEAD"]).await, *base);
                assert!(held.lock().unwrap().remove(&path));
                drop(lease);
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    pool.idle().await;
    assert!(
        worktree_folders(pool.root()).len() <= 3,
        "{:?}",
        pool.status()
    );
    let status = pool.status();
    assert_eq!(status.leased, 0);
    assert!(status.free <= 3 && status.free >= 1, "{status:?}");
}

#[tokio::test]
async fn the_pool_refills_in_the_background_up_to_max() {
    let repo = repo("refill").await;
    let pool = repo.pool(2, 4).await;
    pool.idle().await;
    let status = pool.status();
    assert_eq!(
        (status.free, status.leased),
        (2, 0),
        "warm at open: {status:?}"
    );

    let first = pool.acquire(&repo.b).await.unwrap();
    pool.idle().await;
    let status = pool.status();
    assert_eq!((status.free, status.leased), (2, 1), "{status:?}");
    // Made ahead of demand at the base last asked for.
    let next = pool.acquire(&repo.b).await.unwrap();
    repo.assert_exactly(&next, &repo.b).await;

    let third = pool.acquire(&repo.a).await.unwrap();
    let fourth = pool.acquire(&repo.a).await.unwrap();
    pool.idle().await;
    let status = pool.status();
    assert_eq!((status.free, status.leased, status.creating), (0, 4, 0));
    assert_eq!(worktree_folders(pool.root()).len(), 4, "never beyond max");

    // At max, an acquire waits for a release.
    let waiting = {
        let pool = pool.clone();
        let a = repo.a.clone();
        tokio::spawn(async move { pool.acquire(&a).await.map(|l| l.path().to_path_buf()) })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!waiting.is_finished(), "an acquire beyond max waits");
    let freed = third.path().to_path_buf();
    drop(third);
    let got = tokio::time::timeout(Duration::from_secs(30), waiting)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(got, freed);
    drop((first, fourth));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retiring_never_blocks_an_acquire() {
    let repo = repo("retire").await;
    let pool = repo.pool(1, 3).await;
    let lease = pool.acquire(&repo.a).await.unwrap();
    // A big worktree: deleting it takes far longer than resetting a warm one.
    for dir in 0..100 {
        for file in 0..300 {
            write(&lease.path().join(format!("big/{dir}/{file}")), "x");
        }
    }
    let (name, admin) = (lease.name().to_string(), lease.git_dir().to_path_buf());
    pool.idle().await;

    let started = Instant::now();
    lease.retire();
    let next = pool.acquire(&repo.a).await.unwrap();
    let took = started.elapsed();
    let retired: Vec<PathBuf> = std::fs::read_dir(pool.root().join(".retired"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(
        retired.len(),
        1,
        "still being deleted when the acquire returned"
    );
    assert!(
        retired[0]
            .file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with(&name),
        "{retired:?}"
    );
    assert!(!pool.root().join(&name).exists());
    assert_ne!(next.name(), name);
    repo.assert_exactly(&next, &repo.a).await;
    eprintln!("acquire right after retiring a 30,000-file worktree: {took:?}");

    pool.idle().await;
    assert!(
        std::fs::read_dir(pool.root().join(".retired"))
            .unwrap()
            .next()
            .is_none()
    );
    assert!(!admin.exists(), "git's metadata pruned after the deletion");
}

#[tokio::test]
async fn bases_are_checked_before_the_pool_is_touched() {
    let repo = repo("bases").await;
    let pool = repo.pool(0, 1).await;
    for bad in [
        "--upload-pack=touch /tmp/x",
        "HEAD",
        "main",
        "abc",
        "a.b.c.d.e.f.g",
    ] {
        assert!(
            matches!(pool.acquire(bad).await, Err(WorkspaceError::BadBase(_))),
            "{bad}"
        );
    }
    let unknown = "0123456789abcdef0123456789abcdef01234567";
    assert!(matches!(
        pool.acquire(unknown).await,
        Err(WorkspaceError::UnknownBase { .. })
    ));
    // An abbreviated id is resolved to the full one.
    let lease = pool.acquire(&repo.b[..12]).await.unwrap();
    repo.assert_exactly(&lease, &repo.b).await;
    drop(lease);
    assert_eq!(pool.status().leased, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_main_checkout_is_one_run_at_a_time_and_keeps_build_caches() {
    let repo = repo("main").await;
    let pool = repo.pool(0, 1).await;
    let first = pool.acquire_main(&repo.a).await.unwrap();
    assert_eq!(first.path(), pool.root().join("main"));
    write(&first.path().join("target/cache.bin"), "warm\n");
    write(&first.path().join("build.log"), "log\n");
    write(&first.path().join("scratch.txt"), "untracked\n");
    write(&first.path().join("a.txt"), "edited\n");

    let second = {
        let pool = pool.clone();
        let b = repo.b.clone();
        tokio::spawn(async move { pool.acquire_main(&b).await })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        !second.is_finished(),
        "a second run waits for the main checkout"
    );
    drop(first);
    let second = tokio::time::timeout(Duration::from_secs(30), second)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let wt = second.path();
    assert_eq!(
        std::fs::read_to_string(wt.join("target/cache.bin")).unwrap(),
        "warm\n"
    );
    assert!(wt.join("build.log").exists(), "ignored files survive");
    assert!(!wt.join("scratch.txt").exists(), "untracked files do not");
    assert_eq!(std::fs::read_to_string(wt.join("a.txt")).unwrap(), "a2\n");
    let head = repo
        .git
        .in_worktree(second.git_dir(), wt)
        .args(["rev-parse", "HEAD"])
        .run_text()
        .await
        .unwrap();
    assert_eq!(head, repo.b);
    // The pool's own worktrees are separate from the main checkout.
    let lease = pool.acquire(&repo.a).await.unwrap();
    assert_ne!(lease.path(), second.path());
    drop(second);

    // A reopened pool adopts the main checkout with its caches.
    drop(lease);
    let reopened = repo.pool(0, 1).await;
    assert!(reopened.open_report().adopted.contains(&"main".to_string()));
    let again = reopened.acquire_main(&repo.a).await.unwrap();
    assert!(again.path().join("target/cache.bin").exists());
}

/// Whether this process runs as root, which changing a worktree's owner needs; says so when not.
fn root_or_skip() -> bool {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let euid: u32 = status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|u| u.parse().ok())
        .unwrap();
    if euid != 0 {
        eprintln!("skipped: changing a worktree's owner needs root (CAP_CHOWN), running as {euid}");
    }
    euid == 0
}

/// The owner of every entry of a worktree, with the entries that have another.
fn owned_otherwise(root: &Path, uid: u32) -> Vec<String> {
    walk(root)
        .into_iter()
        .filter(|entry| std::fs::symlink_metadata(root.join(entry)).unwrap().uid() != uid)
        .collect()
}

#[tokio::test]
async fn free_worktrees_are_handed_ahead_and_a_checkout_hands_over_what_it_rewrote() {
    if !root_or_skip() {
        return;
    }
    let agent = 65534;
    let repo = repo("hand-ahead").await;
    let pool = repo.pool_handing(1, 2, Some((agent, agent))).await;
    pool.idle().await;
    let mut lease = pool.acquire(&repo.a).await.unwrap();
    // The warm worktree was made at the repository's HEAD (b), handed ahead, and checked out at
    // a: the files a and b differ in were rewritten by ade and handed over with their folders.
    lease.hand_to(agent, agent).await.unwrap();
    assert_eq!(owned_otherwise(lease.path(), agent), Vec::<String>::new());
    assert_eq!(std::fs::metadata(lease.path()).unwrap().uid(), agent);
    assert_eq!(std::fs::metadata(lease.git_dir()).unwrap().uid(), 0);
    repo.assert_exactly(&lease, &repo.a).await;

    lease.take_back().await.unwrap();
    assert_eq!(owned_otherwise(lease.path(), 0), Vec::<String>::new());
    drop(lease);
    pool.idle().await;

    // Released, cleaned and handed ahead again; the next run hands over without a walk. Until
    // then the folder itself stays ade's and closed to the agent user.
    let mut lease = pool.acquire(&repo.b).await.unwrap();
    assert_eq!(owned_otherwise(lease.path(), agent), Vec::<String>::new());
    let top = std::fs::metadata(lease.path()).unwrap();
    assert_eq!((top.uid(), top.mode() & 0o777), (0, 0o700));
    lease.hand_to(agent, agent).await.unwrap();
    let top = std::fs::metadata(lease.path()).unwrap();
    assert_eq!((top.uid(), top.mode() & 0o777), (agent, 0o755));
    lease.take_back().await.unwrap();
    assert_eq!(owned_otherwise(lease.path(), 0), Vec::<String>::new());
    repo.assert_exactly(&lease, &repo.b).await;
}

#[tokio::test]
async fn a_sealed_worktree_is_closed_to_the_agent_user_and_reopened_without_a_walk() {
    if !root_or_skip() {
        return;
    }
    let agent = 65534;
    let repo = repo("seal").await;
    let pool = repo.pool_handing(1, 2, Some((agent, agent))).await;
    pool.idle().await;
    let mut lease = pool.acquire(&repo.a).await.unwrap();
    lease.hand_to(agent, agent).await.unwrap();
    // What the agent leaves: a file of its own.
    let made = lease.path().join("made-by-agent.txt");
    write(&made, "new\n");
    std::os::unix::fs::lchown(&made, Some(agent), Some(agent)).unwrap();
    let before = std::fs::symlink_metadata(lease.path().join("a.txt"))
        .map(|m| m.ctime_nsec())
        .ok();

    lease.seal().await.unwrap();
    let top = std::fs::metadata(lease.path()).unwrap();
    assert_eq!(
        (top.uid(), top.mode() & 0o777),
        (0, 0o700),
        "the folder is ade's and closed to the agent user"
    );
    assert_eq!(
        owned_otherwise(lease.path(), agent),
        Vec::<String>::new(),
        "the files stay the agent user's: nothing was walked"
    );
    assert_eq!(
        std::fs::symlink_metadata(lease.path().join("a.txt"))
            .map(|m| m.ctime_nsec())
            .ok(),
        before,
        "their stat data is unchanged, so git reads only what changed"
    );

    lease.hand_to(agent, agent).await.unwrap();
    let top = std::fs::metadata(lease.path()).unwrap();
    assert_eq!(
        (top.uid(), top.mode() & 0o777),
        (agent, 0o755),
        "open again"
    );
    lease.seal().await.unwrap();
    drop(lease);
    pool.idle().await;

    // Released sealed: cleaned as root and handed ahead again in the background, without the
    // agent's file.
    let lease = pool.acquire(&repo.a).await.unwrap();
    assert!(!lease.path().join("made-by-agent.txt").exists());
    assert_eq!(owned_otherwise(lease.path(), agent), Vec::<String>::new());
    let top = std::fs::metadata(lease.path()).unwrap();
    assert_eq!((top.uid(), top.mode() & 0o777), (0, 0o700));
    repo.assert_exactly(&lease, &repo.a).await;
}

#[tokio::test]
async fn a_worktree_handed_to_an_agent_user_is_taken_back() {
    if !root_or_skip() {
        return;
    }
    let repo = repo("owner").await;
    let outside = repo.dir.join("outside");
    write(&outside.join("sentinel"), "root's\n");
    let pool = repo.pool(0, 1).await;
    let mut lease = pool.acquire(&repo.a).await.unwrap();
    std::os::unix::fs::symlink(&outside, lease.path().join("escape")).unwrap();
    let foreign = lease.path().join("hardlinked");
    write(&foreign, "someone else's\n");
    std::os::unix::fs::lchown(&foreign, Some(4242), Some(4242)).unwrap();

    let agent = 65534;
    lease.hand_to(agent, agent).await.unwrap();
    for entry in walk(lease.path()) {
        let meta = std::fs::symlink_metadata(lease.path().join(&entry)).unwrap();
        assert_eq!((meta.uid(), meta.gid()), (agent, agent), "{entry}");
    }
    assert_eq!(std::fs::metadata(lease.path()).unwrap().uid(), agent);
    assert_eq!(
        std::fs::metadata(&outside).unwrap().uid(),
        0,
        "links not followed"
    );
    assert_eq!(
        std::fs::metadata(outside.join("sentinel")).unwrap().uid(),
        0
    );
    assert_eq!(
        std::fs::metadata(lease.git_dir()).unwrap().uid(),
        0,
        "admin stays ade's"
    );

    // What the agent does: a file of its own, and the foreign file back to someone else.
    let made = lease.path().join("made-by-agent.txt");
    write(&made, "new\n");
    std::os::unix::fs::lchown(&made, Some(agent), Some(agent)).unwrap();
    std::os::unix::fs::lchown(&foreign, Some(4242), Some(4242)).unwrap();

    lease.take_back().await.unwrap();
    for entry in walk(lease.path()) {
        let meta = std::fs::symlink_metadata(lease.path().join(&entry)).unwrap();
        let expected = if entry == "hardlinked" { 4242 } else { 0 };
        assert_eq!(meta.uid(), expected, "{entry}");
    }
    assert!(
        repo.in_lease(&lease, &["status", "--porcelain"])
            .await
            .contains("made-by-agent.txt")
    );

    // Dropped while handed out: taken back on release, and reusable.
    lease.hand_to(agent, agent).await.unwrap();
    drop(lease);
    let lease = pool.acquire(&repo.b).await.unwrap();
    assert_eq!(
        std::fs::metadata(lease.path().join("a.txt")).unwrap().uid(),
        0
    );
    repo.assert_exactly(&lease, &repo.b).await;
}
