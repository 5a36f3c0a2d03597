//! `ade demo`: the whole product in one command, with no accounts, no network and no agent CLI.
//! A forge simulator holds a small repository; an embedded ade is pointed at it; a script agent
//! makes real edits. A maintainer asks for a plan of a four-task goal and approves it; the tasks
//! run in parallel and open approvals verified by `ade/verify`; one fails, is retried with the
//! failure as feedback and is rejected; a second maintainer approves the others and ade merges
//! them; the task that waited for two of them runs; the spec is archived with a summary. Each step
//! is printed as it happens, with where to look. docs/demo.md is the reader's side.

mod script;
mod watch;
mod world;

use crate::forge::ReviewState;
use crate::lifecycle::{SpecState, State, TaskState};
use anyhow::Context;
use script::{
    ATTEMPTS, DEPENDANT_TASK, FAILING_TASK, GOAL_BODY, GOAL_TITLE, MAINTAINER, REPO, REVIEWER,
};
use std::collections::HashSet;
use std::io::Write;
use std::path::PathBuf;
use std::time::{Duration, Instant};
use watch::{Snapshot, facts};
use world::World;

/// The forge the demo's simulator plays.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DemoForge {
    /// GitHub: a GitHub App, check runs, draft pull requests.
    Github,
    /// Gitea: a bot user, commit statuses, `WIP:` titles.
    Gitea,
    /// Forgejo: the Gitea dialect with Forgejo's headers and names.
    Forgejo,
}

impl DemoForge {
    fn kind(self) -> crate::forge::ForgeKind {
        match self {
            DemoForge::Github => crate::forge::ForgeKind::Github,
            DemoForge::Gitea | DemoForge::Forgejo => crate::forge::ForgeKind::Gitea,
        }
    }

    fn name(self) -> &'static str {
        match self {
            DemoForge::Github => "GitHub",
            DemoForge::Gitea => "Gitea",
            DemoForge::Forgejo => "Forgejo",
        }
    }
}

/// How to run the demo.
#[derive(Clone, Debug)]
pub struct DemoOptions {
    /// The forge to play.
    pub forge: DemoForge,
    /// Where the database, run logs, worktrees and the simulator's repositories go; a fresh
    /// temporary folder when `None`. Kept afterwards, for inspection.
    pub data_dir: Option<PathBuf>,
    /// Leave the simulator and ade running afterwards, until interrupted.
    pub keep_running: bool,
    /// How long the whole story may take before the demo names the step that did not happen.
    pub deadline: Duration,
    /// Whether the output is a terminal (a spinner then shows while the demo waits).
    pub tty: bool,
}

impl DemoOptions {
    /// The demo on `forge` in a fresh folder, two minutes at most.
    pub fn new(forge: DemoForge) -> DemoOptions {
        DemoOptions {
            forge,
            data_dir: None,
            keep_running: false,
            deadline: Duration::from_secs(120),
            tty: false,
        }
    }
}

/// One step of the story, which must happen for the demo to succeed.
struct Milestone {
    what: &'static str,
    happened: fn(&Snapshot) -> bool,
}

/// The story's steps, in order: the first one not seen by the deadline is the one reported.
const MILESTONES: &[Milestone] = &[
    Milestone {
        what: "ade posts the plan",
        happened: |s| s.plan_comment.is_some(),
    },
    Milestone {
        what: "the spec becomes active",
        happened: |s| matches!(s.spec, Some(SpecState::Active | SpecState::Archived)),
    },
    Milestone {
        what: "t1, t2 and t3 run at once and open approvals",
        happened: |s| {
            ["t1", "t2", "t3"]
                .iter()
                .all(|t| s.task(t).is_some_and(|t| t.pull.is_some()))
        },
    },
    Milestone {
        what: "t3 fails verification and is retried with the failure as feedback",
        happened: |s| {
            s.task(FAILING_TASK)
                .is_some_and(|t| t.runs.len() as i64 >= ATTEMPTS)
        },
    },
    Milestone {
        what: "t3 is rejected after its last attempt",
        happened: |s| {
            s.task(FAILING_TASK)
                .is_some_and(|t| t.state == TaskState::Rejected)
        },
    },
    Milestone {
        what: "max approves t1 and t2 and ade merges them",
        happened: |s| {
            ["t1", "t2"]
                .iter()
                .all(|t| s.task(t).is_some_and(|t| t.state == TaskState::Merged))
        },
    },
    Milestone {
        what: "t4, which waits for t1 and t2, runs and is merged",
        happened: |s| {
            s.task(DEPENDANT_TASK)
                .is_some_and(|t| t.state == TaskState::Merged)
        },
    },
    Milestone {
        what: "the spec is archived and ade posts the summary",
        happened: |s| s.spec == Some(SpecState::Archived) && s.summary_comment.is_some(),
    },
    Milestone {
        what: "the issue is closed",
        happened: |s| s.issue_closed,
    },
];

/// Runs the demo, printing to `out`. Succeeds only if every step of the story happened; otherwise
/// the error names the first step that did not.
pub async fn run(options: DemoOptions, out: &mut dyn Write) -> anyhow::Result<()> {
    let data_dir = match &options.data_dir {
        Some(dir) => dir.clone(),
        None => std::env::temp_dir().join(format!(
            "ade-demo-{}-{:04x}",
            std::process::id(),
            fastrand::u16(..)
        )),
    };
    let started = Instant::now();
    let world = World::start(options.forge, &data_dir).await?;
    let mut printer = Printer {
        out,
        started,
        tty: options.tty,
        spinner: 0,
        last_note: Instant::now(),
    };
    printer.line(&format!(
        "the forge simulator plays {} at {} with the repository {REPO}",
        options.forge.name(),
        world.sim.url()
    ))?;
    printer.line(&format!(
        "ade runs at {} with the demo agent; its configuration is {}",
        world.ade_url,
        data_dir.join("ade.toml").display()
    ))?;

    let issue = world
        .sim
        .open_issue(REPO, MAINTAINER, GOAL_TITLE, GOAL_BODY)
        .await
        .context("open the goal's issue")?;
    printer.line(&format!(
        "{MAINTAINER}, a maintainer, opened issue #{issue} \"{GOAL_TITLE}\" with four tasks — {}",
        world.api(&format!("issues/{issue}"))
    ))?;
    world
        .sim
        .comment(REPO, issue, MAINTAINER, "/ade plan")
        .await
        .context("comment /ade plan")?;
    printer.line(&format!("{MAINTAINER} commented `/ade plan`"))?;

    let result = follow(&world, issue, &options, &mut printer).await;
    let snapshot = Snapshot::read(&world, issue).await.unwrap_or_default();
    printer.clear()?;
    table(printer.out, &snapshot)?;
    writeln!(
        printer.out,
        "\nEverything is kept in {}: ade.toml, the database ade.db, run logs under runner/runs/, \
         the forge's repositories under forge/.",
        data_dir.display()
    )?;
    if options.keep_running {
        keep_running(&world, printer.out).await?;
    }
    world.ade.shutdown().await.context("stop ade")?;
    result?;
    writeln!(
        printer.out,
        "The demo finished in {:.1} s: every step happened.",
        started.elapsed().as_secs_f64()
    )?;
    Ok(())
}

/// Plays the maintainers' part and prints what happens until the story is over or the deadline
/// passes.
async fn follow(
    world: &World,
    issue: i64,
    options: &DemoOptions,
    printer: &mut Printer<'_>,
) -> anyhow::Result<()> {
    let mut printed = HashSet::new();
    let mut approved = false;
    let deadline = Instant::now() + options.deadline;
    loop {
        let snapshot = Snapshot::read(world, issue)
            .await
            .context("read ade's records")?;
        for fact in facts(world, issue, &snapshot) {
            if printed.insert(fact.key.clone()) {
                printer.line(&fact.line)?;
            }
        }
        if !approved && snapshot.spec == Some(SpecState::Validated) {
            world
                .sim
                .comment(REPO, issue, MAINTAINER, "/ade approve")
                .await
                .context("comment /ade approve")?;
            printer.line(&format!("{MAINTAINER} commented `/ade approve`"))?;
            approved = true;
        }
        for (task, number) in snapshot.awaiting_review() {
            world
                .sim
                .review(
                    REPO,
                    number,
                    REVIEWER,
                    ReviewState::Approved,
                    "Read it and ran it: looks right.",
                )
                .await
                .with_context(|| format!("review #{number}"))?;
            printer.line(&format!(
                "{task}: {REVIEWER}, a second maintainer, approved #{number} (the maintainer who asked for the work cannot)"
            ))?;
        }
        if let Some(broken) = off_story(&snapshot) {
            anyhow::bail!("the demo stopped: {broken}");
        }
        let missing = MILESTONES.iter().find(|m| !(m.happened)(&snapshot));
        let Some(missing) = missing else {
            return Ok(());
        };
        if Instant::now() >= deadline {
            anyhow::bail!(
                "the demo stopped: \"{}\" did not happen within {} s",
                missing.what,
                options.deadline.as_secs()
            );
        }
        printer.waiting(missing.what)?;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// What went other than the story says and cannot come right by waiting: a task that failed or
/// was cancelled, a task other than the failing one rejected, the failing one merged.
fn off_story(snapshot: &Snapshot) -> Option<String> {
    for task in snapshot.tasks.values() {
        let wrong = match task.state {
            TaskState::Failed | TaskState::Cancelled => true,
            TaskState::Rejected => task.id != FAILING_TASK,
            TaskState::Merged => task.id == FAILING_TASK,
            _ => false,
        };
        if wrong {
            let reason = task
                .runs
                .iter()
                .rev()
                .find_map(|(_, _, reason)| reason.clone())
                .unwrap_or_else(|| "no reason recorded".into());
            return Some(format!(
                "{} ended {} ({})",
                task.id,
                task.state.as_str(),
                crate::runner::agent::prompt::one_line(&reason, 300)
            ));
        }
    }
    None
}

/// The final table: each task, its attempts, its last verification and how it ended.
fn table(out: &mut dyn Write, snapshot: &Snapshot) -> std::io::Result<()> {
    writeln!(
        out,
        "\n| task | title | attempts | ade/verify | approval | outcome |"
    )?;
    writeln!(out, "| --- | --- | --- | --- | --- | --- |")?;
    for task in snapshot.tasks.values() {
        let verify = task
            .verify
            .as_ref()
            .map(|c| c.raw_state.clone())
            .unwrap_or_else(|| "—".into());
        let approval = task
            .pull
            .as_ref()
            .map(|p| format!("#{}", p.number))
            .unwrap_or_else(|| "—".into());
        writeln!(
            out,
            "| {} | {} | {} | {verify} | {approval} | {} |",
            task.id,
            task.title,
            task.runs.len(),
            task.state.as_str()
        )?;
    }
    Ok(())
}

/// Leaves the simulator and ade up and prints how to drive them by hand, until Ctrl-C.
async fn keep_running(world: &World, out: &mut dyn Write) -> anyhow::Result<()> {
    let sim = world.sim.url();
    // Issues and pull requests share one numbering on both forges.
    let next = world
        .sim
        .pulls(REPO)
        .iter()
        .map(|p| p.number)
        .chain(world.sim.issue(REPO, 1).map(|i| i.number))
        .max()
        .unwrap_or(0)
        + 1;
    writeln!(
        out,
        "\nThe simulator and ade keep running; press Ctrl-C to stop them. Try:\n\n\
         SIM={sim}\n\
         # open a goal and ask for a plan\n\
         curl -s -X POST $SIM/_sim/issues -H 'content-type: application/json' \\\n  \
         -d '{{\"repo\":\"{REPO}\",\"author\":\"{MAINTAINER}\",\"title\":\"Say hi\",\"body\":\"- [ ] Add a hi function with a test\"}}'\n\
         curl -s -X POST $SIM/_sim/comments -H 'content-type: application/json' \\\n  \
         -d '{{\"repo\":\"{REPO}\",\"number\":{next},\"author\":\"{MAINTAINER}\",\"body\":\"/ade plan\"}}'\n\
         # what the forge holds now: issues, comments, pull requests, checks\n\
         curl -s $SIM/_sim/state\n\
         # ade's health and metrics\n\
         curl -s {ade}/readyz; curl -s {ade}/metrics\n",
        ade = world.ade_url,
    )?;
    out.flush()?;
    tokio::signal::ctrl_c().await.context("wait for Ctrl-C")?;
    Ok(())
}

/// Prints lines with the time since the start, and shows that the demo is waiting.
struct Printer<'a> {
    out: &'a mut dyn Write,
    started: Instant,
    tty: bool,
    spinner: usize,
    last_note: Instant,
}

impl Printer<'_> {
    fn line(&mut self, text: &str) -> std::io::Result<()> {
        self.clear()?;
        writeln!(
            self.out,
            "[{:>5.1}s] {text}",
            self.started.elapsed().as_secs_f64()
        )?;
        self.last_note = Instant::now();
        self.out.flush()
    }

    /// A spinner on a terminal; elsewhere a note every five seconds of silence.
    fn waiting(&mut self, what: &str) -> std::io::Result<()> {
        let elapsed = self.started.elapsed().as_secs_f64();
        if self.tty {
            const FRAMES: [char; 4] = ['|', '/', '-', '\\'];
            self.spinner += 1;
            write!(
                self.out,
                "\r\x1b[K{} waiting until {what} ({elapsed:.1}s)",
                FRAMES[self.spinner % FRAMES.len()]
            )?;
            self.out.flush()
        } else if self.last_note.elapsed() >= Duration::from_secs(5) {
            self.line(&format!("still waiting until {what}"))
        } else {
            Ok(())
        }
    }

    fn clear(&mut self) -> std::io::Result<()> {
        if self.tty {
            write!(self.out, "\r\x1b[K")?;
        }
        Ok(())
    }
}
