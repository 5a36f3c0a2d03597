//! What DLP cannot read, through real git: an agent's binary file, a file whose added lines pass
//! the per-file cap, and a change whose added lines pass the total cap are read back from the
//! mirror as unread, and each blocks the push with a reason naming the files (escaped however
//! hostile their names) and the cap. A maintainer's allowance lets only that content pass: a
//! secret in what DLP reads still blocks.

use ade::runner::changes::{Unread, UnreadWhy};
use ade::runner::commit::{
    ADDED_PER_FILE, ADDED_TOTAL, CommitRequest, Identity, commit_run, read_changes,
};
use ade::runner::dlp::{Dlp, DlpReport};

use crate::world::World;

fn request() -> CommitRequest {
    CommitRequest {
        title: "Add the assets".into(),
        body: "Task t1 of goal 7.".into(),
        goal: "acme/app#7".into(),
        spec_version: 1,
        task: "t1".into(),
        run: "run-1".into(),
        bot: Identity {
            name: "ade-bot".into(),
            email: "bot@ade.example".into(),
        },
        requester: Identity {
            name: "Mia".into(),
            email: "mia@example.com".into(),
        },
        excludes: vec![],
        time: Some(1_700_000_000),
    }
}

/// Writes `files` into the world's worktree as the agent would, commits the run and scans what
/// it changed, read back from the mirror.
async fn scan(world: &World, files: &[(&str, &[u8])]) -> (Vec<Unread>, DlpReport) {
    for (path, content) in files {
        let full = world.wt().join(path);
        std::fs::create_dir_all(full.parent().unwrap()).unwrap();
        std::fs::write(full, content).unwrap();
    }
    let head = commit_run(&world.mirror, &world.worktree, &world.base, &request())
        .await
        .expect("commit_run")
        .expect("a change");
    let changed = read_changes(&world.mirror, &world.base, &head)
        .await
        .expect("read the change");
    let report = Dlp::new(&[]).unwrap().scan_changes(&changed.changes);
    (changed.changes.unread, report)
}

/// Text of `bytes` bytes in lines of 100, with no secret in it.
fn text(bytes: usize) -> Vec<u8> {
    let line = format!(
        "{}\n",
        "lorem ipsum dolor sit amet ".repeat(4)[..99].to_owned()
    );
    line.repeat(bytes / line.len() + 1).into_bytes()[..bytes].to_vec()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_binary_file_and_an_oversized_file_block_the_push_naming_each() {
    let world = World::start("dlp-unread").await;
    let hostile = "assets/a\nb`c``@everyone\u{202e}gnp.exe";
    let png: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR";
    let (unread, report) = scan(
        &world,
        &[
            ("assets/logo.png", png),
            (hostile, b"MZ\0\0 ghp_token-shaped-but-unread"),
            ("data/dump.sql", &text(ADDED_PER_FILE + 64 * 1024)),
            ("src/fine.rs", b"pub fn fine() {}\n"),
        ],
    )
    .await;
    assert_eq!(
        unread,
        [
            (hostile, UnreadWhy::Binary { nul_at: 2 }),
            ("assets/logo.png", UnreadWhy::Binary { nul_at: 8 }),
            (
                "data/dump.sql",
                UnreadWhy::FileCap {
                    cap: ADDED_PER_FILE
                }
            ),
        ]
        .map(|(path, why)| Unread {
            path: path.into(),
            why
        })
    );
    assert!(report.blocks() && !report.finds_secrets());
    let reason = report.markdown();
    assert!(
        reason.starts_with("**Not scanned** (ade could not read these, so the push is blocked):"),
        "{reason}"
    );
    for line in [
        "- `assets/logo.png`: binary (a NUL byte at offset 8), so it was not read\n",
        "- ```assets/a\\nb`c``@everyone\\u{202e}gnp.exe```: binary (a NUL byte at offset 2)",
        "- `data/dump.sql`: its added lines pass the 512 KiB ade scans in one file",
    ] {
        assert!(reason.contains(line), "{line:?} in\n{reason}");
    }
    assert_eq!(
        reason.lines().filter(|l| l.starts_with("- ")).count(),
        3,
        "a newline in a name cannot add a line to the reason:\n{reason}"
    );
    assert!(!reason.contains('\u{202e}') && !report.to_string().contains('\u{202e}'));
    assert!(!reason.contains("fine.rs"), "what was read is not listed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_past_the_total_cap_blocks_the_push_naming_the_files_past_it() {
    let world = World::start("dlp-total").await;
    let per_file = ADDED_PER_FILE - 1024;
    let files_in_cap = ADDED_TOTAL / per_file;
    let names: Vec<String> = (0..files_in_cap + 3)
        .map(|i| format!("gen/part-{i:03}.txt"))
        .collect();
    let body = text(per_file);
    let files: Vec<(&str, &[u8])> = names.iter().map(|n| (n.as_str(), &body[..])).collect();
    let (unread, report) = scan(&world, &files).await;
    let past: Vec<&str> = unread.iter().map(|u| u.path.as_str()).collect();
    assert_eq!(
        past,
        names[files_in_cap..]
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
        "the file the cap falls in and every file after it"
    );
    assert!(
        unread
            .iter()
            .all(|u| u.why == UnreadWhy::TotalCap { cap: ADDED_TOTAL })
    );
    assert!(report.blocks());
    assert!(
        report.markdown().contains(&format!(
            "- `{}`: the change's added lines passed the 8 MiB ade scans in one change here",
            names[files_in_cap]
        )),
        "{}",
        report.markdown()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_allowance_lets_only_unreadable_content_pass() {
    let world = World::start("dlp-allowed").await;
    let token = format!("ghp_{}", "Xq7Lm2Vp9Rk4Tz8Wb3Nc6Jd1Hf5Gs0Ya2UeK");
    let env = format!("DEPLOY_TOKEN={token}\n");
    let (_, mut report) = scan(
        &world,
        &[
            ("assets/logo.png", b"\x89PNG\0"),
            ("config/deploy.env", env.as_bytes()),
        ],
    )
    .await;
    report.allow_unscanned("mia");
    assert!(!report.blocks_unscanned());
    assert!(report.blocks(), "the token in the text file still blocks");
    let reason = report.markdown();
    assert!(reason.contains("`config/deploy.env` line 1"), "{reason}");
    assert!(
        reason.contains("(pushed unread: `mia` allowed it for this task)"),
        "{reason}"
    );
    assert!(!reason.contains(&token));

    std::fs::remove_file(world.wt().join("config/deploy.env")).unwrap();
    let head = commit_run(&world.mirror, &world.worktree, &world.base, &request())
        .await
        .unwrap()
        .unwrap();
    let changed = read_changes(&world.mirror, &world.base, &head)
        .await
        .unwrap();
    let mut report = Dlp::new(&[]).unwrap().scan_changes(&changed.changes);
    assert!(report.blocks(), "not allowed, the binary file blocks");
    report.allow_unscanned("mia");
    assert!(!report.blocks(), "allowed, it passes");
}
