//! ade's git after the agent: mirrors, the run commit, change reading and the push, with real git
//! against the forge simulator. Each trap an agent (or a repository) can set for git is planted
//! with a sentinel script; plain git (default config) is shown to fire it, then ade's commands
//! are shown not to.

#[path = "runner_git/cli.rs"]
mod cli;
#[path = "runner_git/world.rs"]
mod world;

use std::path::Path;

use ade::runner::changes::{ChangeKind, FileMode, Unread, UnreadWhy};
use ade::runner::commit::{
    CommitRequest, Identity, PushOutcome, branch_name, commit_run, push, read_changes,
};
use ade::runner::mirror::MirrorError;
use world::{Act, HOOKS, World, add_worktree};

fn request() -> CommitRequest {
    CommitRequest {
        title: "Add the greeting".into(),
        body: "Task t1 of goal 7.".into(),
        goal: "acme/app#7".into(),
        spec_version: 3,
        task: "t1".into(),
        run: "run-42".into(),
        bot: Identity {
            name: "ade-bot".into(),
            email: "bot@ade.example".into(),
        },
        requester: Identity {
            name: "Rita Requester".into(),
            email: "rita@example.com".into(),
        },
        excludes: vec![".opencode".into()],
        time: Some(1_700_000_000),
    }
}

/// Plants hooks named `<prefix>-<hook>` in `dir`.
fn plant_hooks(world: &World, dir: &Path, prefix: &str) {
    std::fs::create_dir_all(dir).expect("hooks folder");
    for hook in HOOKS {
        let script = world.sentinel(&format!("{prefix}-{hook}"), Act::Hook);
        std::fs::copy(&script, dir.join(hook)).expect("hook");
        world::make_executable(&dir.join(hook));
    }
}

/// What an agent does with git itself: stage, commit, check out, push.
fn plain_commit_checkout_push(world: &World, branch: &str) {
    let wt = world.wt();
    world.agent_write("notes.txt", &format!("{branch}\n"));
    assert!(world.plain(wt, &["add", "notes.txt"]).status.success());
    let out = world.plain(wt, &["commit", "-q", "-m", "agent"]);
    assert!(out.status.success(), "{out:?}");
    let head = world.plain(wt, &["rev-parse", "HEAD"]);
    let head = String::from_utf8_lossy(&head.stdout).trim().to_string();
    assert!(
        world
            .plain(wt, &["checkout", "-q", "--detach", "HEAD~1"])
            .status
            .success()
    );
    assert!(
        world
            .plain(wt, &["checkout", "-q", "--detach", &head])
            .status
            .success()
    );
    let url = world.credential.url.clone();
    let out = world.plain(
        wt,
        &["push", "-q", &url, &format!("HEAD:refs/heads/{branch}")],
    );
    assert!(out.status.success(), "{out:?}");
}

/// An agent's own repository nested in the worktree, staged as a gitlink, with an fsmonitor in
/// its own config: git's status of the outer worktree runs git inside it.
fn plant_nested_repository(world: &World) {
    let wt = world.wt();
    assert!(world.plain(wt, &["init", "-q", "nested"]).status.success());
    let nested = wt.join("nested");
    world.agent_write("nested/b.txt", "b\n");
    assert!(world.plain(&nested, &["add", "b.txt"]).status.success());
    assert!(
        world
            .plain(&nested, &["commit", "-q", "-m", "b"])
            .status
            .success()
    );
    let script = world.sentinel("nested-fsmonitor", Act::Succeed);
    let out = world.plain(
        &nested,
        &["config", "core.fsmonitor", script.to_str().unwrap()],
    );
    assert!(out.status.success());
    world.agent_write("nested/c.txt", "c\n");
}

fn expect_fired(world: &World, names: &[String]) {
    let fired = world.fired();
    for name in names {
        assert!(
            fired.contains(name),
            "plain git did not fire {name}: {fired:?}"
        );
    }
    world.reset_sentinels();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_git_fires_every_sentinel() {
    let world = World::start("plain").await;
    let wt = world.wt().to_path_buf();
    let all =
        |prefix: &str| -> Vec<String> { HOOKS.iter().map(|h| format!("{prefix}-{h}")).collect() };

    // Hooks in the mirror's hooks folder (worktrees share it).
    let mirror_hooks = world.mirror.git_dir().join("hooks");
    plant_hooks(&world, &mirror_hooks, "mirror-hook");
    plain_commit_checkout_push(&world, "plain-1");
    expect_fired(&world, &all("mirror-hook"));
    std::fs::remove_dir_all(&mirror_hooks).expect("remove hooks");

    // Hooks in a folder of the agent's, through core.hooksPath.
    let agent_hooks = wt.join(".agent-hooks");
    plant_hooks(&world, &agent_hooks, "path-hook");
    world.agent_config("core.hooksPath", agent_hooks.to_str().unwrap());
    plain_commit_checkout_push(&world, "plain-2");
    expect_fired(&world, &all("path-hook"));
    assert!(
        world
            .plain(&wt, &["config", "--unset", "core.hooksPath"])
            .status
            .success()
    );

    // core.fsmonitor.
    let fsmonitor = world.sentinel("fsmonitor", Act::Succeed);
    world.agent_config("core.fsmonitor", fsmonitor.to_str().unwrap());
    world.plain(&wt, &["status", "--porcelain"]);
    expect_fired(&world, &["fsmonitor".into()]);
    assert!(
        world
            .plain(&wt, &["config", "--unset", "core.fsmonitor"])
            .status
            .success()
    );

    // Filters and a textconv driver named by .gitattributes, defined in the config.
    for (key, name, act) in [
        ("filter.evil.clean", "clean", Act::PassThrough),
        ("filter.evil.smudge", "smudge", Act::PassThrough),
        ("diff.evil.textconv", "textconv", Act::PrintFirstArg),
    ] {
        let script = world.sentinel(name, act);
        world.agent_config(key, script.to_str().unwrap());
    }
    world.agent_write("notes.txt", "filtered\n");
    world.plain(&wt, &["add", "notes.txt"]);
    world.plain(&wt, &["diff", "--cached"]);
    std::fs::remove_file(wt.join("notes.txt")).expect("rm");
    world.plain(&wt, &["checkout", "HEAD", "--", "notes.txt"]);
    expect_fired(
        &world,
        &["clean".into(), "smudge".into(), "textconv".into()],
    );
    for key in [
        "filter.evil.clean",
        "filter.evil.smudge",
        "diff.evil.textconv",
    ] {
        assert!(
            world
                .plain(&wt, &["config", "--unset", key])
                .status
                .success()
        );
    }
    let process = world.sentinel("process", Act::Fail);
    world.agent_config("filter.evilproc.process", process.to_str().unwrap());
    world.agent_write("data.dat", "processed\n");
    world.plain(&wt, &["add", "data.dat"]);
    expect_fired(&world, &["process".into()]);
    assert!(
        world
            .plain(&wt, &["config", "--unset", "filter.evilproc.process"])
            .status
            .success()
    );

    // diff.external.
    let external = world.sentinel("diff-external", Act::Succeed);
    world.agent_config("diff.external", external.to_str().unwrap());
    world.agent_write("notes.txt", "external\n");
    world.plain(&wt, &["diff"]);
    expect_fired(&world, &["diff-external".into()]);
    assert!(
        world
            .plain(&wt, &["config", "--unset", "diff.external"])
            .status
            .success()
    );

    // core.sshCommand.
    let ssh = world.sentinel("ssh", Act::Fail);
    world.agent_config("core.sshCommand", ssh.to_str().unwrap());
    world.plain(&wt, &["fetch", "-q", "ssh://git@127.0.0.1:1/x.git"]);
    expect_fired(&world, &["ssh".into()]);

    // include.path to a file of the agent's, defining the filter `*.inc` names.
    let include = world.sentinel("include", Act::PassThrough);
    world.agent_write(
        ".agent.conf",
        &format!("[filter \"inc\"]\n\tclean = {}\n", include.display()),
    );
    world.agent_config("include.path", wt.join(".agent.conf").to_str().unwrap());
    world.agent_write("x.inc", "included\n");
    world.plain(&wt, &["add", "x.inc"]);
    expect_fired(&world, &["include".into()]);

    // A nested repository of the agent's, with its own fsmonitor.
    plant_nested_repository(&world);
    world.plain(&wt, &["add", "nested"]);
    world.plain(&wt, &["status", "--porcelain"]);
    expect_fired(&world, &["nested-fsmonitor".into()]);

    // The worktree's .git file pointed at a repository of the agent's, with hooks.
    let evil = world.root().join("evil");
    assert!(
        world
            .plain(world.root(), &["init", "-q", "evil"])
            .status
            .success()
    );
    plant_hooks(&world, &evil.join(".git/hooks"), "evil-hook");
    std::fs::write(
        wt.join(".git"),
        format!("gitdir: {}\n", evil.join(".git").display()),
    )
    .expect("rewrite .git");
    world.plain(&wt, &["add", "-A"]);
    world.plain(&wt, &["commit", "-q", "-m", "evil"]);
    expect_fired(
        &world,
        &[
            "evil-hook-pre-commit".into(),
            "evil-hook-commit-msg".into(),
            "evil-hook-post-commit".into(),
        ],
    );

    // A submodule URL: cloning with submodules reaches it.
    let clone = world.plain(
        world.root(),
        &[
            "clone",
            "-q",
            "--recurse-submodules",
            &world.credential.url,
            "plain-clone",
        ],
    );
    assert!(
        world.tripwire.hits() > 0,
        "plain git never reached the submodule URL: {clone:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ade_fires_no_sentinel() {
    let world = World::start("ade").await;
    let wt = world.wt().to_path_buf();
    let admin = world.worktree.git_dir.clone();
    // The agent's own nested repository (its fsmonitor fires under plain git's status).
    plant_nested_repository(&world);
    assert!(world.plain(&wt, &["add", "nested"]).status.success());

    // Every trap at once: hooks in the mirror and through core.hooksPath, fsmonitor, filters,
    // textconv, diff.external, sshCommand, include.path, and the .git file pointed elsewhere.
    plant_hooks(&world, &world.mirror.git_dir().join("hooks"), "mirror-hook");
    let agent_hooks = wt.join(".agent-hooks");
    plant_hooks(&world, &agent_hooks, "path-hook");
    world.agent_config("core.hooksPath", agent_hooks.to_str().unwrap());
    for (key, name, act) in [
        ("core.fsmonitor", "fsmonitor", Act::Succeed),
        ("filter.evil.clean", "clean", Act::PassThrough),
        ("filter.evil.smudge", "smudge", Act::PassThrough),
        ("filter.evilproc.process", "process", Act::Fail),
        ("diff.evil.textconv", "textconv", Act::PrintFirstArg),
        ("diff.external", "diff-external", Act::Succeed),
        ("core.sshCommand", "ssh", Act::Fail),
    ] {
        let script = world.sentinel(name, act);
        world.agent_config(key, script.to_str().unwrap());
    }
    let include = world.sentinel("include", Act::PassThrough);
    world.agent_write(
        ".agent.conf",
        &format!("[filter \"inc\"]\n\tclean = {}\n", include.display()),
    );
    world.agent_config("include.path", wt.join(".agent.conf").to_str().unwrap());
    let evil = world.root().join("evil");
    assert!(
        world
            .plain(world.root(), &["init", "-q", "evil"])
            .status
            .success()
    );
    plant_hooks(&world, &evil.join(".git/hooks"), "evil-hook");
    std::fs::write(
        wt.join(".git"),
        format!("gitdir: {}\n", evil.join(".git").display()),
    )
    .expect("rewrite .git");
    world.agent_write("notes.txt", "changed by the agent\n");
    world.agent_write("data.dat", "processed\n");
    world.agent_write("x.inc", "included\n");
    assert!(
        world.fired().is_empty(),
        "planting fired {:?}",
        world.fired()
    );

    // ade's git itself, with the traps in place (the integrity check aside): the commands that
    // fire each sentinel under plain git.
    let git = &world.git;
    let in_wt = || git.in_worktree(&admin, &wt);
    in_wt()
        .args(["status", "--porcelain"])
        .run()
        .await
        .expect("status");
    in_wt().args(["add", "-A"]).run().await.expect("add");
    in_wt()
        .env("GIT_AUTHOR_NAME", "a")
        .env("GIT_AUTHOR_EMAIL", "a@example.com")
        .env("GIT_COMMITTER_NAME", "a")
        .env("GIT_COMMITTER_EMAIL", "a@example.com")
        .args(["commit", "-q", "-m", "direct"])
        .run()
        .await
        .expect("commit");
    let direct = in_wt()
        .args(["rev-parse", "HEAD"])
        .run_text()
        .await
        .expect("head");
    in_wt()
        .args(["diff", &world.base, &direct])
        .run()
        .await
        .expect("diff");
    in_wt()
        .args(["log", "-p", "-1", &direct])
        .run()
        .await
        .expect("log -p");
    in_wt()
        .args(["checkout", "-q", "-f", "--detach", &world.base])
        .run()
        .await
        .expect("checkout base");
    in_wt()
        .args(["checkout", "-q", "-f", "--detach", &direct])
        .run()
        .await
        .expect("checkout direct");
    let ssh = in_wt()
        .args(["fetch", "-q", "ssh://git@127.0.0.1:1/x.git"])
        .run()
        .await;
    assert!(ssh.is_err(), "ssh transport is refused");
    in_wt()
        .credential(&world.credential)
        .args([
            "push",
            "-q",
            &world.credential.url,
            &format!("{direct}:refs/heads/direct"),
        ])
        .run()
        .await
        .expect("push");
    assert_eq!(world.fired(), Vec::<String>::new(), "ade's git ran a trap");

    // `info/attributes` is read whatever `--attr-source` says, so git alone would run the filters
    // it names: the integrity check is what stops it, before any git command of publish.
    let info = world.mirror.git_dir().join("info");
    std::fs::create_dir_all(&info).expect("info");
    std::fs::write(
        info.join("attributes"),
        "*.txt filter=evil diff=evil\n*.dat filter=evilproc\n",
    )
    .expect("info/attributes");
    world.agent_write("notes.txt", "changed again by the agent\n");

    // The publish steps: the first finds the mirror tampered with and restores it.
    let tampered = commit_run(&world.mirror, &world.worktree, &world.base, &request())
        .await
        .expect_err("tampered mirror");
    assert!(tampered.is_tampered(), "{tampered}");
    let text = tampered.to_string();
    for changed in ["config", "hooks/pre-commit", "info/attributes"] {
        assert!(text.contains(changed), "{changed} not named: {text}");
    }
    let config = std::fs::read_to_string(world.mirror.git_dir().join("config")).expect("config");
    assert!(
        !config.contains("hooksPath") && !config.contains("include"),
        "{config}"
    );
    assert!(
        world
            .mirror
            .git_dir()
            .join("hooks")
            .read_dir()
            .expect("hooks")
            .next()
            .is_none()
    );

    let head = commit_run(&world.mirror, &world.worktree, &world.base, &request())
        .await
        .expect("commit_run")
        .expect("a change");
    let report = read_changes(&world.mirror, &world.base, &head)
        .await
        .expect("changes");
    assert!(report.changes.files.iter().any(|f| f.path == "notes.txt"));
    let nested = report.changes.files.iter().find(|f| f.path == "nested");
    assert_eq!(
        nested.map(|f| &f.mode),
        Some(&FileMode::Submodule),
        "{:?}",
        report.changes.files
    );
    assert!(
        report
            .changes
            .files
            .iter()
            .all(|f| !f.path.starts_with("nested/")),
        "nothing inside the nested repository is read"
    );
    assert!(
        report
            .changes
            .files
            .iter()
            .all(|f| f.path != "sub" && !f.path.starts_with("sub/")),
        "the submodule was not touched"
    );
    let agents = world
        .mirror
        .read_file_at(&head, "AGENTS.md")
        .await
        .expect("read");
    assert_eq!(agents.as_deref(), Some(&b"# Agents\nBe careful.\n"[..]));
    world
        .mirror
        .fetch(&world.credential, &["main".into()])
        .await
        .expect("fetch");
    let outcome = push(&world.mirror, &world.credential, &head, "ade/7-t1", None)
        .await
        .expect("push");
    assert_eq!(outcome, PushOutcome::Pushed);
    assert_eq!(
        world.fired(),
        Vec::<String>::new(),
        "ade's publish steps ran a trap"
    );
    assert_eq!(world.tripwire.hits(), 0, "the submodule URL was contacted");
    assert!(
        std::fs::read_dir(wt.join("sub"))
            .map(|mut d| d.next().is_none())
            .unwrap_or(true),
        "the submodule was never checked out"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commit_run_makes_one_commit_by_the_bot_with_trailers() {
    let world = World::start("commit").await;
    let wt = world.wt().to_path_buf();
    assert_eq!(
        commit_run(&world.mirror, &world.worktree, &world.base, &request())
            .await
            .expect("commit_run"),
        None,
        "an untouched worktree is no change"
    );

    // The agent commits itself, with a spoofed author and a trailer of its own, then leaves tool
    // files and an ignored file behind.
    world.agent_write("src/hello.rs", "pub fn hello() {}\n");
    assert!(world.plain(&wt, &["add", "-A"]).status.success());
    let out = world.plain(
        &wt,
        &[
            "-c",
            "user.name=Mallory",
            "-c",
            "user.email=mallory@example.com",
            "commit",
            "-q",
            "-m",
            "hello\n\nCo-authored-by: Mallory <mallory@example.com>\nAde-Run: forged",
        ],
    );
    assert!(out.status.success(), "{out:?}");
    world.agent_write("README.md", "# app\nMore.\n");
    world.agent_write(".aider.chat.history.md", "chat\n");
    world.agent_write(".aider.tags.cache.v4/cache.db", "cache\n");
    world.agent_write("deep/.aider.input.history", "input\n");
    world.agent_write(".opencode/state.json", "{}\n");
    world.agent_write(".gitignore", "target/\n");
    world.agent_write("target/debug.log", "ignored\n");

    let head = commit_run(&world.mirror, &world.worktree, &world.base, &request())
        .await
        .expect("commit_run")
        .expect("a change");
    let git = |args: &[&str]| {
        let out = world.plain(world.mirror.git_dir(), args);
        assert!(out.status.success(), "{args:?}: {out:?}");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    assert_eq!(
        git(&["rev-parse", &format!("{head}^")]).trim(),
        world.base,
        "one commit on base"
    );
    let second_parent = world.plain(
        world.mirror.git_dir(),
        &["rev-parse", "-q", "--verify", &format!("{head}^2")],
    );
    assert!(
        !second_parent.status.success(),
        "the run commit has one parent"
    );
    let who = git(&["log", "-1", "--format=%an <%ae>|%cn <%ce>|%at", &head]);
    assert_eq!(
        who.trim(),
        "ade-bot <bot@ade.example>|ade-bot <bot@ade.example>|1700000000"
    );
    let trailers = git(&["log", "-1", "--format=%(trailers:only,unfold)", &head]);
    assert_eq!(
        trailers.trim(),
        "Ade-Spec: acme/app#7@v3\nAde-Task: t1\nAde-Run: run-42\nCo-authored-by: Rita Requester <rita@example.com>"
    );
    let message = git(&["log", "-1", "--format=%B", &head]);
    assert!(
        message
            .starts_with("Add the greeting\n\nTask t1 of goal 7.\n\nAgent commits:\n    hello\n"),
        "{message}"
    );
    let files = git(&["ls-tree", "-r", "--name-only", &head]);
    assert!(
        files.contains("src/hello.rs") && files.contains(".gitignore"),
        "{files}"
    );
    for absent in [".aider", ".opencode", "target/"] {
        assert!(!files.contains(absent), "{absent} was committed: {files}");
    }
    assert_eq!(
        git(&["show", &format!("{head}:README.md")]),
        "# app\nMore.\n"
    );

    let report = read_changes(&world.mirror, &world.base, &head)
        .await
        .expect("changes");
    assert_eq!(report.changes.messages.len(), 1);
    assert!(
        report.changes.messages[0].ends_with("Co-authored-by: Rita Requester <rita@example.com>")
    );
    assert!(
        report.changes.unread.is_empty(),
        "{:?}",
        report.changes.unread
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn symlinks_are_reported_and_never_followed() {
    let world = World::start("links").await;
    let wt = world.wt().to_path_buf();
    let fake_home = world.root().join("home");
    std::fs::create_dir_all(fake_home.join(".ssh")).expect("fake ~/.ssh");
    std::fs::write(fake_home.join(".ssh/id_ed25519"), "FAKE-PRIVATE-KEY\n").expect("key");
    let sibling = add_worktree(
        &world.git,
        &world.mirror,
        &world.root().join("work/worktrees"),
        "run2",
        &world.base,
    )
    .await;
    std::os::unix::fs::symlink("/etc/passwd", wt.join("passwd")).expect("link");
    std::os::unix::fs::symlink(fake_home.join(".ssh"), wt.join("ssh")).expect("link");
    std::os::unix::fs::symlink("../run2", wt.join("sibling")).expect("link");
    std::fs::remove_file(wt.join("notes.txt")).expect("agent deletes");
    // What a link-following reader would see: the sentinel content is reachable.
    assert_eq!(
        std::fs::read_to_string(wt.join("ssh/id_ed25519")).expect("followed"),
        "FAKE-PRIVATE-KEY\n"
    );

    let head = commit_run(&world.mirror, &world.worktree, &world.base, &request())
        .await
        .expect("commit_run")
        .expect("a change");
    let report = read_changes(&world.mirror, &world.base, &head)
        .await
        .expect("changes");
    let mode_of = |path: &str| {
        report
            .changes
            .files
            .iter()
            .find(|f| f.path == path)
            .unwrap_or_else(|| panic!("{path} in {:?}", report.changes.files))
            .clone()
    };
    assert_eq!(
        mode_of("passwd").mode,
        FileMode::Symlink {
            target: "/etc/passwd".into()
        }
    );
    assert_eq!(
        mode_of("ssh").mode,
        FileMode::Symlink {
            target: fake_home.join(".ssh").display().to_string()
        }
    );
    assert_eq!(
        mode_of("sibling").mode,
        FileMode::Symlink {
            target: "../run2".into()
        }
    );
    assert_eq!(mode_of("sibling").change, ChangeKind::Added);
    assert_eq!(mode_of("notes.txt").change, ChangeKind::Deleted);
    let added = format!("{:?}", report.changes.added);
    for secret in ["root:", "FAKE-PRIVATE-KEY"] {
        assert!(
            !added.contains(secret),
            "{secret} was read through a link: {added}"
        );
    }
    assert!(
        fake_home.join(".ssh/id_ed25519").exists(),
        "nothing outside was deleted"
    );
    assert!(
        sibling.work_tree.join("notes.txt").exists(),
        "the sibling is intact"
    );
    let files = world.plain(
        world.mirror.git_dir(),
        &["ls-tree", "-r", "--name-only", &head],
    );
    let files = String::from_utf8_lossy(&files.stdout).into_owned();
    assert!(
        !files.contains("id_ed25519") && !files.contains("sibling/"),
        "{files}"
    );

    // The base's own link and gitlink: read_file_at never follows either.
    assert_eq!(
        world
            .mirror
            .read_file_at(&world.base, "LINKED.md")
            .await
            .expect("read"),
        None
    );
    assert_eq!(
        world
            .mirror
            .read_file_at(&world.base, "sub")
            .await
            .expect("read"),
        None
    );
    assert_eq!(
        world
            .mirror
            .read_file_at(&world.base, "missing.md")
            .await
            .expect("read"),
        None
    );
    assert!(matches!(
        world.mirror.read_file_at(&world.base, "big.bin").await,
        Err(MirrorError::TooLarge { .. })
    ));
    assert!(
        world
            .mirror
            .read_file_at(&world.base, "../etc/passwd")
            .await
            .is_err()
    );
    let base_changes = read_changes(&world.mirror, &head, &world.base)
        .await
        .expect("reverse");
    assert!(
        base_changes
            .changes
            .files
            .iter()
            .any(|f| f.path == "notes.txt")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_submodule_change_reads_as_a_gitlink() {
    let world = World::start("gitlink").await;
    // The gitlink moves to another commit (any id will do: it is never fetched).
    let other = world.base.clone();
    let out = world.plain(
        world.wt(),
        &[
            "update-index",
            "--cacheinfo",
            &format!("160000,{other},sub"),
        ],
    );
    assert!(out.status.success(), "{out:?}");
    let out = world.plain(world.wt(), &["commit", "-q", "-m", "bump"]);
    assert!(out.status.success(), "{out:?}");
    let head = world.plain(world.wt(), &["rev-parse", "HEAD"]);
    let head = String::from_utf8_lossy(&head.stdout).trim().to_string();
    let report = read_changes(&world.mirror, &world.base, &head)
        .await
        .expect("changes");
    let sub = report
        .changes
        .files
        .iter()
        .find(|f| f.path == "sub")
        .expect("sub changed");
    assert_eq!(sub.mode, FileMode::Submodule);
    assert_eq!(sub.change, ChangeKind::Modified);
    assert!(report.changes.added.iter().all(|a| a.path != "sub"));
    assert_eq!(world.tripwire.hits(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edited_mirror_config_is_detected_and_restored() {
    let world = World::start("integrity").await;
    let config = world.mirror.git_dir().join("config");
    let original = std::fs::read(&config).expect("config");
    world
        .mirror
        .check_integrity()
        .await
        .expect("untouched mirror");
    world.agent_config("url.http://evil.example/.insteadOf", &world.credential.url);
    std::fs::create_dir_all(world.mirror.git_dir().join("info")).expect("info");
    std::fs::write(
        world.mirror.git_dir().join("info/attributes"),
        "* filter=evil\n",
    )
    .expect("attrs");
    std::fs::write(world.worktree.git_dir.join("commondir"), "../../../evil\n").expect("commondir");
    std::fs::write(
        world.worktree.git_dir.join("config.worktree"),
        "[core]\n\tfsmonitor = x\n",
    )
    .expect("worktree config");
    let err = world.mirror.check_integrity().await.expect_err("tampered");
    let MirrorError::Tampered { changed } = &err else {
        panic!("{err}");
    };
    assert_eq!(
        changed,
        &vec![
            "config".to_string(),
            "info/attributes".to_string(),
            "worktrees/run1/config.worktree".to_string(),
            "worktrees/run1/commondir".to_string(),
        ]
    );
    assert_eq!(std::fs::read(&config).expect("config"), original);
    assert!(!world.mirror.git_dir().join("info/attributes").exists());
    assert!(!world.worktree.git_dir.join("config.worktree").exists());
    assert_eq!(
        std::fs::read_to_string(world.worktree.git_dir.join("commondir")).expect("commondir"),
        "../..\n"
    );
    world.mirror.check_integrity().await.expect("restored");

    // A fresh Mirrors on the same workdir (another process, a restart) restores it too.
    world.agent_config("core.fsmonitor", "/bin/true");
    let again =
        ade::runner::mirror::Mirrors::new(world.git.clone(), world.root().join("work/mirrors"));
    let mirror = again.get("sim", &world.repo).await.expect("reopen");
    assert_eq!(
        std::fs::read(mirror.git_dir().join("config")).expect("config"),
        original
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_credential_is_left_behind() {
    let world = World::start("creds").await;
    world.agent_write("notes.txt", "two\n");
    let head = commit_run(&world.mirror, &world.worktree, &world.base, &request())
        .await
        .expect("commit")
        .expect("a change");
    // Concurrent fetches of one mirror, then a push: the token is only ever in git's environment.
    let just_main = ["main".to_string()];
    let main_and_base = ["main".to_string(), world.base.clone()];
    let (a, b) = tokio::join!(
        world.mirror.fetch(&world.credential, &just_main),
        world.mirror.fetch(&world.credential, &main_and_base)
    );
    a.expect("fetch a");
    b.expect("fetch b");
    assert_eq!(
        push(&world.mirror, &world.credential, &head, "ade/7-t1", None)
            .await
            .expect("push"),
        PushOutcome::Pushed
    );
    assert_eq!(
        world
            .sim
            .branch_sha(&world.repo, "ade/7-t1")
            .await
            .as_deref(),
        Some(head.as_str())
    );

    let token = world.credential.password.expose().to_string();
    let basic = base64_of(&format!("{}:{token}", world.credential.username));
    let mut checked = 0;
    for dir in [world.mirror.git_dir(), world.wt()] {
        for file in files_under(dir) {
            let bytes = std::fs::read(&file).expect("read");
            checked += 1;
            for needle in [&token, &basic] {
                assert!(
                    !bytes.windows(needle.len()).any(|w| w == needle.as_bytes()),
                    "the credential is in {}",
                    file.display()
                );
            }
        }
    }
    assert!(checked > 10, "only {checked} files checked");
    for dir in [world.mirror.git_dir(), world.wt()] {
        let out = world.plain(dir, &["config", "-l", "--show-origin"]);
        let listing = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{out:?}");
        assert!(
            !listing.contains(&token) && !listing.contains(&basic),
            "{listing}"
        );
        assert!(!listing.contains("extraheader"), "{listing}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_branch_moved_by_someone_else_is_never_overwritten() {
    let world = World::start("lease").await;
    let branch = branch_name("ade/", 7, "T1: greet").expect("branch");
    assert_eq!(branch, "ade/7-t1-greet");
    world.agent_write("notes.txt", "first\n");
    let first = commit_run(&world.mirror, &world.worktree, &world.base, &request())
        .await
        .expect("commit")
        .expect("a change");
    assert_eq!(
        push(&world.mirror, &world.credential, &first, &branch, None)
            .await
            .expect("push"),
        PushOutcome::Pushed
    );
    assert_eq!(
        push(
            &world.mirror,
            &world.credential,
            &first,
            &branch,
            Some(&first)
        )
        .await
        .expect("again"),
        PushOutcome::UpToDate
    );
    // Someone else pushes to the branch between ade's read and ade's push.
    let theirs = world
        .sim
        .push(
            &world.repo,
            "acme",
            &branch,
            &[("theirs.txt", Some("theirs\n"))],
            "theirs",
        )
        .await
        .expect("their push");
    world.agent_write("notes.txt", "second\n");
    let second = commit_run(&world.mirror, &world.worktree, &world.base, &request())
        .await
        .expect("commit")
        .expect("a change");
    assert_eq!(
        push(
            &world.mirror,
            &world.credential,
            &second,
            &branch,
            Some(&first)
        )
        .await
        .expect("push"),
        PushOutcome::Stale
    );
    assert_eq!(
        world.sim.branch_sha(&world.repo, &branch).await,
        Some(theirs.clone())
    );
    // Expecting no branch where one exists is stale too.
    assert_eq!(
        push(&world.mirror, &world.credential, &second, &branch, None)
            .await
            .expect("push"),
        PushOutcome::Stale
    );
    assert_eq!(
        world.sim.branch_sha(&world.repo, &branch).await,
        Some(theirs.clone())
    );
    // With the lease naming their commit, the push goes through.
    assert_eq!(
        push(
            &world.mirror,
            &world.credential,
            &second,
            &branch,
            Some(&theirs)
        )
        .await
        .expect("push"),
        PushOutcome::Pushed
    );
    assert!(
        push(&world.mirror, &world.credential, &second, "-x", None)
            .await
            .is_err()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_mirror_per_repository_and_hostile_names_refused() {
    let world = World::start("names").await;
    let again = world
        .mirrors
        .get("sim", &world.repo)
        .await
        .expect("same mirror");
    assert!(std::sync::Arc::ptr_eq(&again, &world.mirror));
    assert!(
        world
            .mirror
            .git_dir()
            .ends_with("work/mirrors/sim/acme/app.git")
    );
    for (forge, name) in [
        ("sim", "../etc"),
        ("sim", "acme/../../x"),
        ("..", "acme/app"),
        ("sim", "/etc/passwd"),
        ("sim", "acme/a\nb"),
        ("sim", "acme"),
        ("sim", "acme/app/extra"),
    ] {
        assert!(
            world.mirrors.get(forge, name).await.is_err(),
            "{forge} {name:?}"
        );
    }
    assert!(!world.root().join("work/etc").exists());
    // Wanted commits already present: nothing is fetched, even with a credential that fails.
    let mut wrong = world.credential.clone();
    wrong.password = ade::secret::Secret::new("wrong");
    world
        .mirror
        .fetch(&wrong, std::slice::from_ref(&world.base))
        .await
        .expect("no fetch needed");
    assert!(
        world.mirror.fetch(&wrong, &["main".into()]).await.is_err(),
        "a branch is fetched"
    );
    assert!(world.mirror.fetch(&wrong, &["-main".into()]).await.is_err());
    // Branches land under refs/ade/heads; a branch the forge does not have is an error.
    assert_eq!(
        world.mirror.branch_head("main").await.expect("read"),
        world.sim.branch_sha(&world.repo, "main").await
    );
    let gone = world
        .mirror
        .fetch(&world.credential, &["no-such-branch".into()])
        .await
        .expect_err("missing branch");
    assert!(
        matches!(gone, MirrorError::MissingBranch(ref b) if b == "no-such-branch"),
        "{gone}"
    );
    assert_eq!(
        world
            .mirror
            .branch_head("no-such-branch")
            .await
            .expect("read"),
        None
    );
}

fn files_under(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("read dir") {
            let entry = entry.expect("entry");
            let kind = entry.file_type().expect("type");
            if kind.is_dir() {
                stack.push(entry.path());
            } else if kind.is_file() {
                out.push(entry.path());
            }
        }
    }
    out
}

fn base64_of(text: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_sharing_a_workdir_take_turns() {
    let world = World::start("flock").await;
    // A second `Mirrors` on the same workdir stands for another process: its `Mirror` has its own
    // async lock, so only the flock on the lock file keeps the two apart.
    let other =
        ade::runner::mirror::Mirrors::new(world.git.clone(), world.root().join("work/mirrors"));
    let theirs = other.get("sim", &world.repo).await.expect("second mirror");
    assert!(!std::sync::Arc::ptr_eq(&theirs, &world.mirror));
    let held = world.mirror.lock().await.expect("lock");
    let waiting = tokio::time::timeout(std::time::Duration::from_millis(300), theirs.lock()).await;
    assert!(
        waiting.is_err(),
        "the second process got the lock while the first held it"
    );
    drop(held);
    let fetch = tokio::time::timeout(
        std::time::Duration::from_secs(30),
        theirs.fetch(&world.credential, &["main".into()]),
    )
    .await
    .expect("the lock is free again");
    fetch.expect("fetch");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_step_checks_the_mirror_before_running_git() {
    let world = World::start("each-step").await;
    world.agent_write("notes.txt", "changed\n");
    let head = commit_run(&world.mirror, &world.worktree, &world.base, &request())
        .await
        .expect("commit")
        .expect("a change");
    let plant = || {
        plant_hooks(&world, &world.mirror.git_dir().join("hooks"), "hook");
        let fsmonitor = world.sentinel("fsmonitor", Act::Succeed);
        world.agent_config("core.fsmonitor", fsmonitor.to_str().unwrap());
        world.reset_sentinels();
    };
    let steps = [
        "fetch",
        "read_file_at",
        "commit_run",
        "read_changes",
        "push",
    ];
    for step in steps {
        plant();
        let tampered = match step {
            "fetch" => matches!(
                world
                    .mirror
                    .fetch(&world.credential, &["main".into()])
                    .await,
                Err(MirrorError::Tampered { .. })
            ),
            "read_file_at" => matches!(
                world.mirror.read_file_at(&world.base, "AGENTS.md").await,
                Err(MirrorError::Tampered { .. })
            ),
            "commit_run" => commit_run(&world.mirror, &world.worktree, &world.base, &request())
                .await
                .is_err_and(|e| e.is_tampered()),
            "read_changes" => read_changes(&world.mirror, &world.base, &head)
                .await
                .is_err_and(|e| e.is_tampered()),
            _ => push(&world.mirror, &world.credential, &head, "ade/7-t1", None)
                .await
                .is_err_and(|e| e.is_tampered()),
        };
        assert!(tampered, "{step} did not report the tampered mirror");
        assert_eq!(world.fired(), Vec::<String>::new(), "{step} ran a trap");
        if let Err(e) = world.mirror.check_integrity().await {
            panic!("{step} left the mirror unrestored: {e}");
        }
    }
    assert_eq!(
        world.sim.branch_sha(&world.repo, "ade/7-t1").await,
        None,
        "nothing was pushed"
    );
}

/// Source text whose edits leave git's diff a choice of where a hunk goes (a function added
/// next to a like one), so the indent heuristic decides which lines read as added.
fn functions(names: &[&str]) -> String {
    names
        .iter()
        .map(|name| format!("/* {name} */\nint {name}(void)\n{{\n    return 0;\n}}\n\n"))
        .collect()
}

/// A long text with lines that repeat, edited in many places by a fixed seed.
fn shuffled_text(lines: usize, seed: u64, edits: usize) -> String {
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut text: Vec<String> = (0..lines)
        .map(|i| match i % 7 {
            0 => "}".to_string(),
            1 => String::new(),
            _ => format!("    value_{} = {};", i % 13, i % 5),
        })
        .collect();
    for _ in 0..edits {
        let at = rng.usize(..text.len());
        match rng.u8(..4) {
            0 => {
                text.remove(at);
            }
            1 => text.insert(at, format!("    token = \"ghp_{:036}\";", rng.u64(..))),
            2 => text[at] = "}".to_string(),
            _ => {
                let copy = text[at].clone();
                text.insert(at, copy);
            }
        }
    }
    text.join("\n") + "\n"
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_in_process_agree_with_the_git_cli() {
    use std::os::unix::ffi::OsStrExt;
    let world = World::start("agree").await;
    let wt = world.wt().to_path_buf();
    let write = |name: &[u8], content: &[u8]| {
        let path = wt.join(std::ffi::OsStr::from_bytes(name));
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("folder");
        }
        std::fs::write(path, content).expect("agent writes");
    };
    // Hostile and oddly ordered names, binary and text, a type change each way, a file that
    // becomes a folder, a mode change, a deletion, lines without newline or with CRLF, a line
    // over the cap.
    for name in [
        &b"tab\there"[..],
        b"new\nline",
        b"quote\"back\\slash",
        b"sp ace ",
        "\u{fc}-umlaut.txt".as_bytes(),
        b"\xff\xfe-not-utf8.txt",
        b"a-b",
        b"a.b",
        b"a0",
        b"a/b",
        b"dir/deeper/file.txt",
    ] {
        write(name, b"password = \"hunter2hunter2\"\nline two\n");
    }
    write(
        b"bin.dat",
        b"\0\x01binary ghp_0123456789abcdef0123456789abcdef0123\n",
    );
    write(b"was-binary.dat", b"\0binary at first\n");
    write(b"slide.c", functions(&["alpha", "gamma"]).as_bytes());
    write(b"long.txt", shuffled_text(4000, 1, 0).as_bytes());
    write(b"noeol.txt", b"first\nno newline at the end");
    write(b"crlf.txt", b"one\r\ntwo\r\n");
    write(
        b"wide.txt",
        format!("{}\n", "w".repeat(20 * 1024)).as_bytes(),
    );
    std::fs::remove_file(wt.join("LINKED.md")).expect("unlink");
    write(b"LINKED.md", b"now a file\nwith two lines\n");
    std::fs::remove_file(wt.join("notes.txt")).expect("remove");
    std::os::unix::fs::symlink("AGENTS.md", wt.join("notes.txt")).expect("link");
    std::fs::remove_file(wt.join("data.dat")).expect("remove");
    write(b"data.dat/inner.txt", b"inside\n");
    std::fs::remove_file(wt.join("x.inc")).expect("remove");
    world::make_executable(&wt.join("AGENTS.md"));
    let mut grown = vec![b'x'; 300 * 1024];
    grown.extend_from_slice(b"\nmore\n");
    write(b"big.bin", &grown);
    let first = commit_run(&world.mirror, &world.worktree, &world.base, &request())
        .await
        .expect("commit_run")
        .expect("a change");

    // Second round on top: ambiguous insertions, many scattered edits, binary and type changes.
    write(
        b"slide.c",
        functions(&["alpha", "beta", "gamma", "delta"]).as_bytes(),
    );
    write(b"long.txt", shuffled_text(4000, 1, 300).as_bytes());
    write(b"bin.dat", b"\0\x02changed binary\n");
    write(
        b"was-binary.dat",
        b"text now\nall of it new to the checks\n",
    );
    write(
        b"noeol.txt",
        b"first\nno newline at the end\nnow there is one\n",
    );
    write(b"crlf.txt", b"one\r\ntwo\nthree\r\n");
    std::fs::remove_file(wt.join("a-b")).expect("remove");
    std::os::unix::fs::symlink("/etc/passwd", wt.join("a-b")).expect("link");
    std::fs::remove_dir_all(wt.join("dir")).expect("remove");
    write(b"dir", b"a file where a folder was\n");
    let second = commit_run(&world.mirror, &world.worktree, &first, &request())
        .await
        .expect("commit_run")
        .expect("a change");

    for (from, to) in [
        (&world.base, &first),
        (&first, &second),
        (&world.base, &second),
        (&second, &world.base),
    ] {
        let in_process = read_changes(&world.mirror, from, to)
            .await
            .expect("read in-process");
        let cli = cli::read_changes_cli(&world.mirror, from, to)
            .await
            .expect("read with the CLI");
        assert!(!in_process.changes.files.is_empty());
        assert_eq!(in_process.changes.files, cli.changes.files, "{from}..{to}");
        assert_eq!(in_process.changes.added, cli.changes.added, "{from}..{to}");
        assert_eq!(
            in_process.changes.unread, cli.changes.unread,
            "{from}..{to}"
        );
        assert_eq!(
            (in_process.insertions, in_process.deletions),
            (cli.insertions, cli.deletions),
            "{from}..{to}"
        );
        assert_eq!(in_process.changes.messages, cli.changes.messages);
    }
    let first_report = read_changes(&world.mirror, &world.base, &first)
        .await
        .expect("read");
    let path = |p: &str| first_report.changes.files.iter().find(|f| f.path == p);
    assert_eq!(
        path("\u{fffd}\u{fffd}-not-utf8.txt").map(|f| f.change),
        Some(ChangeKind::Added)
    );
    assert_eq!(path("tab\there").map(|f| f.change), Some(ChangeKind::Added));
    assert_eq!(
        path("notes.txt").map(|f| f.mode.clone()),
        Some(FileMode::Symlink {
            target: "AGENTS.md".into()
        })
    );
    assert!(
        first_report
            .changes
            .added
            .iter()
            .all(|a| a.path != "bin.dat"),
        "binary files have no lines"
    );
    let wide = first_report
        .changes
        .added
        .iter()
        .find(|a| a.path == "wide.txt");
    assert_eq!(
        wide.map(|a| a.lines[0].1.len()),
        Some(20 * 1024),
        "a long line is read whole"
    );
    assert_eq!(
        first_report.changes.unread,
        ["bin.dat", "was-binary.dat"].map(|path| Unread {
            path: path.into(),
            why: UnreadWhy::Binary { nul_at: 0 }
        }),
        "the binary files are listed as unread, and only they"
    );
    let second_report = read_changes(&world.mirror, &first, &second)
        .await
        .expect("read");
    let was_binary = second_report
        .changes
        .added
        .iter()
        .find(|a| a.path == "was-binary.dat");
    assert_eq!(
        was_binary.map(|a| a.lines.clone()),
        Some(vec![
            (1, "text now".into()),
            (2, "all of it new to the checks".into())
        ]),
        "a file that was binary and is text now is read whole, although git shows no lines"
    );
}
