//! `git_reads`: ade's in-process git reads (gix) against the git CLI commands they replaced, on
//! the same repositories in the same run, each answer checked equal before anything is timed.
//!
//! ```text
//! cargo run --release --example git_reads -- [--files 20000] [--changed 20] [--rounds 30]
//!     [--dir PATH]
//! ```
//!
//! The forge simulator (in this process) holds a repository of `--files` files and a run's
//! commit on top of it that changes `--changed` files (a few lines each, one of them a token),
//! adds one and deletes one. The runner's mirror fetches both. Then, alternating the two ways
//! each round, it times:
//! - **runner, read a run's change** (`read_changes`: paths, modes, added lines, line counts,
//!   messages): `git diff-tree`, `git diff -U0`, `git diff --numstat`, `git log` (and `git
//!   cat-file --batch` for symlinks) against one gix read;
//! - **runner, a file at the base** (`Mirror::read_file_at`, AGENTS.md): `git ls-tree` and `git
//!   cat-file blob`;
//! - **runner, is a commit there** (`Mirror::has_commit`): `git cat-file -e`;
//! - **simulator, branches** (`git for-each-ref`), **contents of a file** (`git rev-parse`,
//!   `git cat-file -t`, `git rev-parse`, `git cat-file blob`), **contents of a folder** (100
//!   entries: `git ls-tree -l`), **a commit** (`git show -s`, `git diff-tree --name-status`),
//!   **compare** (`git merge-base`, `git rev-list --count`, `git diff --numstat base...head`).

#[path = "../../tests/runner_git/cli.rs"]
mod cli;
mod sim_cli;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use ade::forge::{CloneCredential, ForgeKind};
use ade::runner::commit::read_changes;
use ade::runner::git::Git;
use ade::runner::mirror::{Mirror, Mirrors};
use ade::secret::Secret;
use ade::sim::git::{GitStore, PathContent, Signature};
use ade::sim::{NewRepo, SimOptions, Simulator};
use anyhow::Context;
use sim_cli::CliStore;

const OWNER: &str = "acme";
const NAME: &str = "widgets";

struct Options {
    files: usize,
    changed: usize,
    rounds: usize,
    dir: PathBuf,
}

fn options() -> Options {
    let mut options = Options {
        files: 20_000,
        changed: 20,
        rounds: 30,
        dir: PathBuf::from("target/git-reads-bench"),
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().unwrap_or_else(|| panic!("{arg} needs a value"));
        match arg.as_str() {
            "--files" => options.files = value().parse().expect("--files N"),
            "--changed" => options.changed = value().parse().expect("--changed N"),
            "--rounds" => options.rounds = value().parse().expect("--rounds N"),
            "--dir" => options.dir = PathBuf::from(value()),
            _ => {
                eprintln!("usage: git_reads [--files N] [--changed N] [--rounds N] [--dir PATH]");
                std::process::exit(2);
            }
        }
    }
    options
}

/// Times of one read, both ways.
#[derive(Default)]
struct Row {
    gix: Vec<Duration>,
    cli: Vec<Duration>,
}

fn median(times: &mut [Duration]) -> Duration {
    times.sort();
    times[times.len() / 2]
}

fn p90(times: &mut [Duration]) -> Duration {
    times.sort();
    times[(times.len() * 9 / 10).min(times.len() - 1)]
}

fn ms(d: Duration) -> String {
    format!("{:.2}", d.as_secs_f64() * 1000.0)
}

/// Times `read` once and returns its answer.
async fn timed<T, F: std::future::Future<Output = T>>(into: &mut Vec<Duration>, read: F) -> T {
    let started = Instant::now();
    let answer = read.await;
    into.push(started.elapsed());
    answer
}

/// The run's change: `changed` files rewritten (one line kept, two added, one of them a token),
/// one file added, one deleted.
fn run_change(files: usize, changed: usize) -> Vec<(String, Option<Vec<u8>>)> {
    let mut change = Vec::new();
    for k in 0..changed {
        let i = k * (files / changed.max(1));
        change.push((
            path_of(i),
            Some(
                format!(
                    "pub fn f{i}() -> u32 {{ {i} }}\n// changed by the run\nconst TOKEN: &str = \"ghp_{i:036}\";\n"
                )
                .into_bytes(),
            ),
        ));
    }
    change.push(("src/new_module.rs".into(), Some(b"pub mod new;\n".to_vec())));
    change.push((path_of(files - 1), None));
    change
}

fn path_of(i: usize) -> String {
    format!("src/m{:03}/f{i:05}.rs", i % 200)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let options = options();
    if options.dir.exists() {
        std::fs::remove_dir_all(&options.dir).context("clear the bench folder")?;
    }
    std::fs::create_dir_all(&options.dir)?;
    let dir = options.dir.canonicalize()?;

    let sim = Simulator::start(SimOptions::new(ForgeKind::Github, dir.join("sim"))).await?;
    let owner = sim.add_user(OWNER);
    let mut repo = NewRepo::new(OWNER, NAME).file("AGENTS.md", "# Agents\nBe careful.\n");
    for i in 0..options.files {
        repo = repo.file(&path_of(i), format!("pub fn f{i}() -> u32 {{ {i} }}\n"));
    }
    let seeded = Instant::now();
    sim.create_repo(repo).await?;
    eprintln!(
        "seeded {OWNER}/{NAME} with {} files in {:.1} s",
        options.files,
        seeded.elapsed().as_secs_f64()
    );
    let full = format!("{OWNER}/{NAME}");
    let base = sim.branch_sha(&full, "main").await.context("main")?;
    let store = GitStore::new(dir.join("sim/repositories"));
    let cli_store = CliStore(store.path(OWNER, NAME));
    store.create_branch(OWNER, NAME, "ade/1-t1", &base).await?;
    let signature = Signature {
        name: "ade".into(),
        email: "bot@ade.example".into(),
        at_ms: 1_700_000_000_000,
    };
    let head = store
        .commit(
            OWNER,
            NAME,
            "ade/1-t1",
            &run_change(options.files, options.changed),
            "The run's change (t1)\n\nAde-Spec: acme/widgets#1@v1\nAde-Task: t1\nAde-Run: 1\n",
            &signature,
        )
        .await?;

    let git = Git::new("git", dir.join("empty"))?;
    let mirrors = Mirrors::new(git, dir.join("mirrors"));
    let mirror = mirrors.get("sim", &full).await?;
    let credential = CloneCredential {
        url: sim.clone_url(&full),
        username: owner.login.clone(),
        password: Secret::new(owner.token.clone()),
        expires_at: None,
    };
    mirror
        .fetch(&credential, &[base.clone(), head.clone()])
        .await?;

    check_answers(&mirror, &store, &cli_store, &base, &head).await?;

    let names = [
        "runner: read a run's change",
        "runner: a file at the base (AGENTS.md)",
        "runner: is a commit there",
        "simulator: branches",
        "simulator: contents of a file",
        "simulator: contents of a folder (100 entries)",
        "simulator: a commit and its paths",
        "simulator: compare (merge base, counts)",
    ];
    let mut rows: Vec<Row> = names.iter().map(|_| Row::default()).collect();
    let file = path_of(7);
    let folder = "src/m007";
    for round in 0..options.rounds {
        // Alternate which way goes first, so neither always finds the caches the other warmed.
        for gix_first in [round % 2 == 0, round % 2 != 0] {
            let (r, g) = (&mut rows, gix_first);
            if g {
                timed(&mut r[0].gix, read_changes(&mirror, &base, &head)).await?;
                timed(&mut r[1].gix, mirror.read_file_at(&base, "AGENTS.md")).await?;
                timed(&mut r[2].gix, mirror.has_commit(&head)).await?;
                timed(&mut r[3].gix, store.branches(OWNER, NAME)).await?;
                timed(&mut r[4].gix, async {
                    let commit = store.resolve(OWNER, NAME, "main").await?.context("main")?;
                    store.read_path(OWNER, NAME, &commit, &file).await
                })
                .await?;
                timed(&mut r[5].gix, async {
                    let commit = store.resolve(OWNER, NAME, "main").await?.context("main")?;
                    store.read_path(OWNER, NAME, &commit, folder).await
                })
                .await?;
                timed(&mut r[6].gix, store.commit_info(OWNER, NAME, &head)).await?;
                timed(&mut r[7].gix, async {
                    let merge_base = store.merge_base(OWNER, NAME, &base, &head).await?;
                    let merge_base = merge_base.context("merge base")?;
                    store.diff_stats(OWNER, NAME, &merge_base, &head).await
                })
                .await?;
            } else {
                timed(&mut r[0].cli, cli::read_changes_cli(&mirror, &base, &head)).await?;
                timed(&mut r[1].cli, read_file_cli(&mirror, &base, "AGENTS.md")).await?;
                timed(&mut r[2].cli, has_commit_cli(&mirror, &head)).await?;
                timed(&mut r[3].cli, cli_store.branches()).await?;
                timed(&mut r[4].cli, async {
                    let commit = cli_store.resolve("main").await?.context("main")?;
                    cli_store.read_path(&commit, &file).await
                })
                .await?;
                timed(&mut r[5].cli, async {
                    let commit = cli_store.resolve("main").await?.context("main")?;
                    cli_store.read_path(&commit, folder).await
                })
                .await?;
                timed(&mut r[6].cli, cli_store.commit_info(&head)).await?;
                timed(&mut r[7].cli, async {
                    let merge_base = cli_store.merge_base(&base, &head).await?;
                    let merge_base = merge_base.context("merge base")?;
                    cli_store.diff_stats(&merge_base, &head).await
                })
                .await?;
            }
        }
    }

    println!(
        "git reads, {} files, run change of {} files (+1 added, 1 deleted), {} rounds; ms",
        options.files, options.changed, options.rounds
    );
    println!("| read | git CLI median | gix median | git CLI p90 | gix p90 | CLI / gix |");
    println!("| --- | --- | --- | --- | --- | --- |");
    for (name, row) in names.iter().zip(rows.iter_mut()) {
        let (cli_median, gix_median) = (median(&mut row.cli), median(&mut row.gix));
        println!(
            "| {name} | {} | {} | {} | {} | {:.1}× |",
            ms(cli_median),
            ms(gix_median),
            ms(p90(&mut row.cli)),
            ms(p90(&mut row.gix)),
            cli_median.as_secs_f64() / gix_median.as_secs_f64()
        );
    }
    drop(sim);
    Ok(())
}

/// Checks that each in-process read answers what the CLI answered, before timing either.
async fn check_answers(
    mirror: &Mirror,
    store: &GitStore,
    cli_store: &CliStore,
    base: &str,
    head: &str,
) -> anyhow::Result<()> {
    let (gix, cli) = (
        read_changes(mirror, base, head).await?,
        cli::read_changes_cli(mirror, base, head).await?,
    );
    anyhow::ensure!(gix == cli, "read_changes differs:\n{gix:?}\n{cli:?}");
    anyhow::ensure!(
        mirror.read_file_at(base, "AGENTS.md").await?
            == Some(read_file_cli(mirror, base, "AGENTS.md").await?),
        "read_file_at differs"
    );
    anyhow::ensure!(store.branches(OWNER, NAME).await? == cli_store.branches().await?);
    let main = store.resolve(OWNER, NAME, "main").await?;
    anyhow::ensure!(main == cli_store.resolve("main").await?);
    let main = main.context("main")?;
    for path in [path_of(7), "src/m007".to_string(), String::new()] {
        let (a, b) = (
            store.read_path(OWNER, NAME, &main, &path).await?,
            cli_store.read_path(&main, &path).await?,
        );
        anyhow::ensure!(
            same_content(a.as_ref(), b.as_ref()),
            "read_path {path} differs"
        );
    }
    let (a, b) = (
        store.commit_info(OWNER, NAME, head).await?,
        cli_store.commit_info(head).await?,
    );
    anyhow::ensure!(
        format!("{a:?}") == format!("{b:?}"),
        "commit_info differs:\n{a:?}\n{b:?}"
    );
    let (a, b) = (
        store.diff_stats(OWNER, NAME, base, head).await?,
        cli_store.diff_stats(base, head).await?,
    );
    anyhow::ensure!(
        format!("{a:?}") == format!("{b:?}"),
        "diff_stats differs:\n{a:?}\n{b:?}"
    );
    Ok(())
}

fn same_content(a: Option<&PathContent>, b: Option<&PathContent>) -> bool {
    match (a, b) {
        (Some(PathContent::File { sha, bytes }), Some(PathContent::File { sha: s, bytes: b })) => {
            sha == s && bytes == b
        }
        (Some(PathContent::Dir(a)), Some(PathContent::Dir(b))) => {
            format!("{a:?}") == format!("{b:?}")
        }
        (None, None) => true,
        _ => false,
    }
}

/// `Mirror::read_file_at` as it was: `git ls-tree` for the entry, `git cat-file blob` for it.
async fn read_file_cli(mirror: &Mirror, commit: &str, path: &str) -> anyhow::Result<Vec<u8>> {
    mirror.check_integrity().await?;
    let listing = mirror
        .git()
        .in_repo(mirror.git_dir())
        .env("GIT_LITERAL_PATHSPECS", "1")
        .args(["ls-tree", "-z", "-l", "--full-tree", commit, "--", path])
        .run()
        .await?;
    let entry = String::from_utf8_lossy(&listing).into_owned();
    let oid = entry
        .split_whitespace()
        .nth(2)
        .context("ls-tree lists the file")?
        .to_string();
    Ok(mirror
        .git()
        .in_repo(mirror.git_dir())
        .args(["cat-file", "blob", &oid])
        .run()
        .await?)
}

/// `Mirror::has_commit` as it was: `git cat-file -e <id>^{commit}`.
async fn has_commit_cli(mirror: &Mirror, commit: &str) -> anyhow::Result<bool> {
    let output = mirror
        .git()
        .in_repo(mirror.git_dir())
        .arg("cat-file")
        .arg("-e")
        .arg(format!("{commit}^{{commit}}"))
        .output_any_status()
        .await?;
    Ok(output.status.success())
}
