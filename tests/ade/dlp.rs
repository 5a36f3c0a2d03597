//! DLP reads everything it lets through: a maintainer's story on GitHub and on Gitea. A script
//! agent writes a binary file (and one with a hostile name); the run is blocked and the goal says
//! which files and why, escaped; a reader's `/ade allow-unscanned` is refused; a maintainer's starts
//! the task again, the next run pushes the files, and the approval says they went unscanned and
//! who allowed it.

use super::runs::{all_runs, approval_of, plan_and_approve, run_of};
use super::support::runner::{runner_config, script_agent};
use super::support::story::{MAINTAINER, READER, REPO, Story};
use super::support::{TestDb, db};
use ade::forge::ForgeKind;

/// Writes a PNG header (a NUL at offset 8) and a file whose name holds a newline, backticks, an
/// `@mention` and a right-to-left override (a NUL at offset 2). Octal escapes keep the script
/// ASCII.
const BINARY: &str = "mkdir -p assets\n\
    printf '\\211PNG\\r\\n\\032\\n\\000\\000\\000\\rIHDR' > assets/logo.png\n\
    name=$(printf 'assets/a\\nb\\140c\\140\\140@everyone\\342\\200\\256gnp.exe')\n\
    printf 'MZ\\000\\000' > \"$name\"\n\
    echo 'Added the logo.' > \"$ADE_OUTPUT_FILE\"\n";

/// The hostile name as every report must show it: each invisible or line-breaking character
/// escaped, inside a code span its own backticks cannot close.
const HOSTILE_SHOWN: &str = "```assets/a\\nb`c``@everyone\\u{202e}gnp.exe```";

async fn story(kind: ForgeKind, db: TestDb) -> Story {
    let policy = "[agents]\ndefault = \"script\"\n";
    Story::start_on(
        db,
        kind,
        false,
        &[(".ade/config.toml", policy)],
        |config, dir| runner_config(config, dir, &script_agent(BINARY, 60)),
    )
    .await
}

/// The audit records of `action` so far.
fn audit(story: &Story, action: &str) -> Vec<serde_json::Value> {
    super::audit::all_lines(&story.config_dir().join("audit"))
        .iter()
        .map(|line| serde_json::from_str::<serde_json::Value>(line).unwrap())
        .filter(|record| record["action"] == action)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_binary_file_blocks_the_push_until_a_maintainer_allows_it() {
    let gitea_db = db::postgres().await.unwrap_or_else(db::sqlite);
    for (kind, db) in [
        (ForgeKind::Github, db::sqlite()),
        (ForgeKind::Gitea, gitea_db),
    ] {
        let database = db.name;
        let story = story(kind, db).await;
        let issue = story
            .issue(MAINTAINER, "Add the logo", "- [ ] Add the logo\n")
            .await;
        plan_and_approve(&story, issue).await;

        let blocked = run_of(&story, "t1", &["failed"]).await;
        assert_eq!(
            story.sim.branch_sha(REPO, &blocked.branch).await,
            None,
            "{kind}: nothing was pushed"
        );
        let reason = story
            .until("the blocked run's report", |s| {
                s.replies(issue)
                    .into_iter()
                    .find(|r| r.contains("`t1`") && r.contains("failed"))
            })
            .await;
        for said in [
            "the change was not pushed",
            "**Not scanned** (ade could not read these, so the push is blocked):",
            "- `assets/logo.png`: binary (a NUL byte at offset 8), so it was not read",
            &format!("- {HOSTILE_SHOWN}: binary (a NUL byte at offset 2), so it was not read"),
            "`/ade allow-unscanned t1`",
        ] {
            assert!(reason.contains(said), "{kind}: {said:?} in\n{reason}");
        }
        assert!(
            !reason.contains('\u{202e}') && !reason.lines().any(|l| l.starts_with("b`c")),
            "{kind}: the hostile name came out raw:\n{reason}"
        );

        story
            .comment(issue, READER, "/ade allow-unscanned t1")
            .await;
        let refused = story
            .until("the reader's refusal", |s| {
                s.replies(issue)
                    .into_iter()
                    .find(|r| r.contains("`/ade allow-unscanned` needs maintain access"))
            })
            .await;
        assert!(
            refused.contains("you have read access"),
            "{kind}: {refused}"
        );
        assert!(audit(&story, "task.unscanned_allowed").is_empty(), "{kind}");
        assert_eq!(all_runs(&story).await.len(), 1, "{kind}: no run started");

        story
            .comment(issue, MAINTAINER, "/ade allow-unscanned t1")
            .await;
        let allowed = story
            .until("the maintainer's allowance", |s| {
                s.replies(issue)
                    .into_iter()
                    .find(|r| r.contains("may push what ade cannot scan for secrets"))
            })
            .await;
        assert!(
            allowed.contains("still block. Starting again: `t1`."),
            "{kind}: {allowed}"
        );
        let recorded = audit(&story, "task.unscanned_allowed");
        assert_eq!(recorded.len(), 1, "{kind}: {recorded:?}");
        assert_eq!(recorded[0]["actor"], MAINTAINER, "{kind}");
        assert_eq!(recorded[0]["task"], "t1", "{kind}");

        let approval = approval_of(&story, "t1").await;
        let pushed = run_of(&story, "t1", &["succeeded"]).await;
        assert_ne!(pushed.id, blocked.id, "{kind}: the next run pushed");
        let logo = story
            .sim
            .file(REPO, &approval.head, "assets/logo.png")
            .await;
        assert!(
            logo.is_some_and(|bytes| bytes.starts_with(b"\x89PNG\r\n\x1a\n\0")),
            "{kind}: the binary file is on the approval's branch"
        );
        let body = &approval.body;
        for said in [
            "**Not scanned for secrets:** ade could not read these, and `mia` let this task push such content with `/ade allow-unscanned`.",
            "- `assets/logo.png`: binary \\(a NUL byte at offset 8\\), so it was not read",
            &format!("- {HOSTILE_SHOWN}: binary \\(a NUL byte at offset 2\\)"),
        ] {
            assert!(body.contains(said), "{kind}: {said:?} in\n{body}");
        }
        assert!(!body.contains('\u{202e}'), "{kind} ({database}): {body}");

        story
            .comment(
                issue,
                MAINTAINER,
                "/ade allow-unscanned t1\n\n/ade allow-unscanned t9",
            )
            .await;
        let again = story
            .until("the answer for a task in review", |s| {
                s.replies(issue)
                    .into_iter()
                    .find(|r| r.contains("so this holds from its next run"))
            })
            .await;
        assert!(
            again.contains("The task's state is review"),
            "{kind}: {again}"
        );
        story
            .until("the answer for a task that is not there", |s| {
                s.replies(issue)
                    .into_iter()
                    .find(|r| r.contains("the active plan has no task `t9`; nothing changed."))
            })
            .await;
        story.settle().await;
        assert_eq!(all_runs(&story).await.len(), 2, "{kind}: no run started");
        assert_eq!(audit(&story, "task.unscanned_allowed").len(), 2, "{kind}");
        assert_eq!(story.failed_jobs().await, 0, "{kind}");
    }
}
