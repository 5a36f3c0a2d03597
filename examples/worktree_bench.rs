//! `worktree_bench`: how long a run waits for its worktree. Plain `git worktree add` of a
//! 20,000-file repository against the pool's acquire of a warm worktree that is at the other of
//! two commits differing in a few hundred files (and holds what the previous run left).
//!
//! ```text
//! cargo run --release --example worktree_bench -- [--dir PATH] [--rounds 7] [--files 20000]
//! ```
//!
//! `--dir` (default `target/worktree-bench`) must be on the disk being measured, not on tmpfs: the
//! benchmark prints the filesystem it found. Both sides run git through ade's `Git` (the same
//! safe configuration). Each round times:
//! - **plain add**: `git worktree add --detach <new folder> <b>` (then, untimed for the ratio,
//!   `git worktree remove --force`, whose time is printed as the cost of deleting a worktree);
//! - **pool acquire**: `WorktreePool::acquire(<other commit>)` of the warm worktree the previous
//!   round released, after that round wrote as a run would (20 tracked files changed, 200 build
//!   outputs in an ignored folder, 20 untracked files). The release resets and cleans the
//!   worktree in the background, so this acquire waits for what is left of that, then checks out
//!   across the diff between the commits;
//! - **pool acquire, cleaned**: the same, but after the background cleaning finished (what a run
//!   that does not follow another at once sees): only the checkout.
//!
//! Every timed step starts after a `sync`, so it does not pay for the previous step's writeback;
//! the figures are printed as the command returned (what a run waits for) and with a `sync` after
//! it (the data on disk: what a busy disk makes the next step pay).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use ade::runner::git::Git;
use ade::runner::workspace::{PoolConfig, WorktreePool};

struct Options {
    dir: PathBuf,
    rounds: usize,
    files: usize,
}

fn options() -> Options {
    let mut options = Options {
        dir: PathBuf::from("target/worktree-bench"),
        rounds: 7,
        files: 20_000,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().unwrap_or_else(|| panic!("{arg} needs a value"));
        match arg.as_str() {
            "--dir" => options.dir = PathBuf::from(value()),
            "--rounds" => options.rounds = value().parse().expect("--rounds N"),
            "--files" => options.files = value().parse().expect("--files N"),
            _ => {
                eprintln!("usage: worktree_bench [--dir PATH] [--rounds N] [--files N]");
                std::process::exit(2);
            }
        }
    }
    options
}

/// The filesystem type and source of the mount holding `path` (longest mount point prefix).
fn filesystem(path: &Path) -> String {
    let mounts = std::fs::read_to_string("/proc/self/mounts").unwrap_or_default();
    let mut best: Option<(usize, String)> = None;
    for line in mounts.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.len() < 3 || !path.starts_with(fields[1]) {
            continue;
        }
        if best.as_ref().is_none_or(|(len, _)| fields[1].len() > *len) {
            best = Some((
                fields[1].len(),
                format!("{} on {} ({})", fields[2], fields[1], fields[0]),
            ));
        }
    }
    best.map(|(_, text)| text)
        .unwrap_or_else(|| "unknown".into())
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .map(|l| l.trim_start_matches([' ', '\t', ':']).to_string())
        .unwrap_or_else(|| "unknown".into())
}

/// Source-like text of about a kilobyte.
fn file_text(rng: &mut fastrand::Rng, version: u32) -> Vec<u8> {
    let mut text = format!("// version {version}\n");
    for _ in 0..rng.usize(20..50) {
        let width = rng.usize(10..60);
        let line: String = (0..width).map(|_| rng.alphanumeric()).collect();
        text.push_str(&line);
        text.push('\n');
    }
    text.into_bytes()
}

fn path_of(i: usize) -> String {
    format!("src/m{:03}/f{i:05}.rs", i / 100)
}

/// A fast-import stream: commit a with `files` files (and a .gitignore), commit b changing 300,
/// deleting 50 and adding 50.
fn import_stream(files: usize) -> Vec<u8> {
    let mut rng = fastrand::Rng::with_seed(20_000);
    let mut out = Vec::new();
    let file = |out: &mut Vec<u8>, path: &str, data: &[u8]| {
        out.extend_from_slice(format!("M 100644 inline {path}\ndata {}\n", data.len()).as_bytes());
        out.extend_from_slice(data);
        out.push(b'\n');
    };
    let header = |out: &mut Vec<u8>, mark: u32, message: &str| {
        out.extend_from_slice(
            format!(
                "commit refs/heads/main\nmark :{mark}\ncommitter Bench <bench@example.com> \
                 1700000000 +0000\ndata {}\n{message}\n",
                message.len()
            )
            .as_bytes(),
        );
    };
    header(&mut out, 1, "a");
    file(&mut out, ".gitignore", b"target/\n");
    for i in 0..files {
        let text = file_text(&mut rng, 1);
        file(&mut out, &path_of(i), &text);
    }
    header(&mut out, 2, "b");
    out.extend_from_slice(b"from :1\n");
    let step = files / 400;
    for k in 0..300 {
        let text = file_text(&mut rng, 2);
        file(&mut out, &path_of(k * step), &text);
    }
    for k in 300..350 {
        out.extend_from_slice(format!("D {}\n", path_of(k * step)).as_bytes());
    }
    for k in 0..50 {
        let text = file_text(&mut rng, 2);
        file(&mut out, &format!("src/new/n{k:03}.rs"), &text);
    }
    out
}

/// Flushes dirty pages to disk, so each timed step starts from the same state instead of paying
/// for the writeback of the previous one.
fn sync() -> Duration {
    let started = Instant::now();
    let status = std::process::Command::new("sync")
        .status()
        .expect("run sync");
    assert!(status.success(), "sync failed");
    started.elapsed()
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.0} ms", d.as_secs_f64() * 1000.0)
}

/// Writes what a run typically leaves: edited tracked files, build outputs, untracked files.
fn act_like_a_run(worktree: &Path, round: usize, files: usize) {
    for k in 0..20 {
        let path = worktree.join(path_of((k * 37 + round) % files));
        if path.exists() {
            std::fs::write(&path, format!("edited in round {round}\n")).unwrap();
        }
    }
    let target = worktree.join("target/debug");
    std::fs::create_dir_all(&target).unwrap();
    for k in 0..200 {
        std::fs::write(target.join(format!("out{k}.o")), [0u8; 4096]).unwrap();
    }
    for k in 0..20 {
        std::fs::write(worktree.join(format!("notes{k}.md")), "scratch\n").unwrap();
    }
}

#[tokio::main]
async fn main() {
    let options = options();
    let _ = std::fs::remove_dir_all(&options.dir);
    std::fs::create_dir_all(&options.dir).unwrap();
    let dir = std::fs::canonicalize(&options.dir).unwrap();
    let git = Git::new("git", dir.join("empty")).unwrap();
    let version = git.command().arg("--version").run_text().await.unwrap();
    println!(
        "machine: {} · nproc {}",
        cpu_model(),
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    println!("disk:    {}", filesystem(&dir));
    println!("git:     {version}");

    let bare = dir.join("repo.git");
    git.command()
        .args(["init", "--quiet", "--bare"])
        .arg(&bare)
        .run()
        .await
        .unwrap();
    let started = Instant::now();
    git.in_repo(&bare)
        .args(["fast-import", "--quiet"])
        .stdin(import_stream(options.files))
        .run()
        .await
        .unwrap();
    let rev = |spec: &str| git.in_repo(&bare).args(["rev-parse", spec]).run_text();
    let (a, b) = (rev("main~1").await.unwrap(), rev("main").await.unwrap());
    let changed = git
        .in_repo(&bare)
        .args([
            "diff",
            "--name-only",
            "--no-ext-diff",
            "--no-textconv",
            &a,
            &b,
        ])
        .run_text()
        .await
        .unwrap()
        .lines()
        .count();
    println!(
        "repo:    {} files; commits a..b differ in {changed} files (built in {})",
        options.files + 1,
        ms(started.elapsed())
    );

    let mut adds = Vec::new();
    let mut adds_synced = Vec::new();
    let mut removes = Vec::new();
    for round in 0..options.rounds {
        let path = dir.join(format!("plain-{round}"));
        sync();
        let started = Instant::now();
        git.in_repo(&bare)
            .args(["worktree", "add", "--detach", "--quiet"])
            .arg(&path)
            .arg(&b)
            .run()
            .await
            .unwrap();
        let took = started.elapsed();
        adds.push(took);
        adds_synced.push(took + sync());
        let started = Instant::now();
        git.in_repo(&bare)
            .args(["worktree", "remove", "--force"])
            .arg(&path)
            .run()
            .await
            .unwrap();
        removes.push(started.elapsed() + sync());
    }

    let pool = WorktreePool::open(
        git.clone(),
        &bare,
        &dir.join("worktrees/repo"),
        PoolConfig {
            warm: 0,
            max: 1,
            hand_ahead: None,
        },
    )
    .await
    .unwrap();
    let first = pool.acquire(&a).await.unwrap();
    act_like_a_run(first.path(), 0, options.files);
    drop(first);
    let mut acquires = Vec::new();
    let mut acquires_synced = Vec::new();
    for round in 0..options.rounds {
        let base = if round % 2 == 0 { &b } else { &a };
        sync();
        let started = Instant::now();
        let lease = pool.acquire(base).await.unwrap();
        let took = started.elapsed();
        acquires.push(took);
        acquires_synced.push(took + sync());
        act_like_a_run(lease.path(), round + 1, options.files);
    }
    pool.idle().await;
    // A run that comes after the background cleaning of the last release finished: the pool
    // checks the clean worktree out at the other commit and does nothing else.
    let mut cleaned = Vec::new();
    for round in 0..options.rounds {
        let base = if round % 2 == 0 { &b } else { &a };
        pool.idle().await;
        sync();
        let started = Instant::now();
        let lease = pool.acquire(base).await.unwrap();
        cleaned.push(started.elapsed());
        act_like_a_run(lease.path(), round + 1, options.files);
    }
    pool.idle().await;

    println!("rounds:  {}", options.rounds);
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let load: Vec<&str> = load.split_whitespace().take(3).collect();
    println!(
        "load:    {} (1, 5, 15 min averages at the end)",
        load.join(" ")
    );
    let (add, acquire) = (median(adds.clone()), median(acquires.clone()));
    let (add_synced, acquire_synced) = (median(adds_synced), median(acquires_synced));
    println!(
        "plain git worktree add:     median {}  (all: {})",
        ms(add),
        list(&adds)
    );
    println!(
        "pool acquire, right after the last release (waits for its cleaning): median {}  (all: {})",
        ms(acquire),
        list(&acquires)
    );
    println!(
        "pool acquire, cleaned in the background (checkout only): median {}  (all: {})",
        ms(median(cleaned.clone())),
        list(&cleaned)
    );
    println!(
        "ratio add / acquire:        {:.1}x",
        add.as_secs_f64() / acquire.as_secs_f64()
    );
    println!(
        "with sync (on disk):        add {} · acquire {} · ratio {:.1}x",
        ms(add_synced),
        ms(acquire_synced),
        add_synced.as_secs_f64() / acquire_synced.as_secs_f64()
    );
    println!("git worktree remove + sync: median {}", ms(median(removes)));
}

fn list(samples: &[Duration]) -> String {
    samples
        .iter()
        .map(|d| ms(*d))
        .collect::<Vec<_>>()
        .join(", ")
}
