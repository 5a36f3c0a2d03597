//! The maintainer's side: open issues, post `/ade help` comments closed or open loop, wait for
//! ade's 👀 and replies, and read back from the simulator when it stored each of them.
//!
//! The latencies come from the simulator's records, not from this loop: `Comment::recorded` and
//! `ReactionRecord::recorded` are taken on the process's monotonic clock while the simulator
//! stores the comment (before it sends the webhook) and ade's reaction (while it answers ade's
//! POST). Waiting is a poll of the simulator's state every millisecond, which only decides when
//! the next comment goes out (closed loop); it adds nothing to the figures.

use crate::burst::{self, Burst};
use crate::forge::{Forge, MAINTAINER, REPO};
use anyhow::{Context, bail};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The command every comment carries by default: any user may run it, ade reacts 👀 and replies.
pub const COMMAND: &str = "/ade help";

/// What a run posts, and what runs beside it.
pub struct Script<'a> {
    /// Issues the comments go to, round robin.
    pub issues: usize,
    /// Untimed comments first.
    pub warmup: usize,
    /// Timed comments.
    pub comments: usize,
    /// The text of every comment.
    pub command: &'a str,
    /// How the timed comments are paced.
    pub pace: Pace,
    /// Closed loop: the wait after each 👀 before the next comment.
    pub pause: Duration,
    /// How long to wait for one 👀 or reply.
    pub patience: Duration,
    /// A saturating burst of deliveries during the timed comments.
    pub burst: Option<&'a burst::Plan<'a>>,
    /// The webhook secret the burst signs with.
    pub secret: &'a str,
}

/// How comments are paced.
#[derive(Clone, Copy, Debug)]
pub enum Pace {
    /// Each comment once the 👀 of the one before is on the forge.
    Closed,
    /// Comment *i* due at *i/rate* seconds, whatever ade does.
    Open {
        /// Comments per second.
        rate: f64,
    },
}

/// One comment and what became of it.
#[derive(Clone, Debug)]
pub struct Sample {
    /// The comment id.
    pub id: i64,
    /// The simulator stored the comment (monotonic).
    pub stored: Instant,
    /// The user action returned: the webhook was answered (ade answers 202 after its commit).
    pub answered: Instant,
    /// How late the comment was posted against its due time (open loop; zero when closed).
    pub late: Duration,
    /// ade's 👀 stored (monotonic).
    pub eyes: Option<Instant>,
    /// ade's reply stored (monotonic).
    pub reply: Option<Instant>,
}

impl Sample {
    /// Comment → 👀.
    pub fn to_eyes(&self) -> Option<Duration> {
        self.eyes
            .map(|at| at.saturating_duration_since(self.stored))
    }

    /// Comment → reply.
    pub fn to_reply(&self) -> Option<Duration> {
        self.reply
            .map(|at| at.saturating_duration_since(self.stored))
    }

    /// Comment → webhook answered.
    pub fn to_answer(&self) -> Duration {
        self.answered.saturating_duration_since(self.stored)
    }
}

/// What a run posted.
pub struct Driven {
    /// The warm-up comments, the first being ade's first command ever (cold).
    pub warm: Vec<Sample>,
    /// The timed comments.
    pub timed: Vec<Sample>,
    /// From the first timed comment to the last 👀.
    pub elapsed: Duration,
    /// One instant and the Unix time in microseconds at it, to put the simulator's instants on
    /// the clock of ade's log.
    pub anchor: (Instant, i64),
    /// The burst beside the timed comments, if there was one.
    pub burst: Option<burst::Seen>,
}

impl Driven {
    /// An instant of this process as Unix microseconds.
    pub fn unix_us(&self, at: Instant) -> i64 {
        let (anchor, unix) = self.anchor;
        match at.checked_duration_since(anchor) {
            Some(after) => unix + after.as_micros() as i64,
            None => unix - anchor.duration_since(at).as_micros() as i64,
        }
    }
}

/// A comment posted, before its outcome is read back.
struct Posted {
    id: i64,
    number: i64,
    answered: Instant,
    late: Duration,
}

/// Opens the script's issues, posts its warm-up then its timed comments round robin over them
/// (with the burst, if any, running during the timed ones), waits for every 👀 and reply, and
/// reads back the simulator's records.
pub async fn run(forge: &Arc<Forge>, script: &Script<'_>) -> anyhow::Result<Driven> {
    let &Script {
        issues,
        warmup,
        comments,
        command,
        pace,
        pause,
        patience,
        ..
    } = script;
    let anchor = (
        Instant::now(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)?
            .as_micros() as i64,
    );
    let mut numbers = Vec::new();
    for i in 0..issues {
        let number = forge
            .sim
            .open_issue(
                REPO,
                MAINTAINER,
                &format!("Widget task {}", i + 1),
                "- [ ] make the widget\n",
            )
            .await
            .context("open an issue")?;
        numbers.push(number);
    }

    eprintln!("warm-up: {warmup} comments ...");
    let mut warm = Vec::new();
    for i in 0..warmup {
        let posted = post(forge, numbers[i % numbers.len()], command, Instant::now()).await?;
        wait_for(forge, &posted, patience, true).await?;
        warm.push(posted);
    }

    eprintln!(
        "timed: {comments} comments, {} ...",
        match pace {
            Pace::Closed => "closed loop".to_string(),
            Pace::Open { rate } => format!("open loop at {rate}/s"),
        }
    );
    let running = match script.burst {
        Some(plan) => Some((plan, Burst::start(plan, script.secret).await?)),
        None => None,
    };
    let start = Instant::now();
    let mut timed = Vec::new();
    match pace {
        Pace::Closed => {
            for i in 0..comments {
                if i > 0 {
                    tokio::time::sleep(pause).await;
                }
                let posted =
                    post(forge, numbers[i % numbers.len()], command, Instant::now()).await?;
                wait_for(forge, &posted, patience, false).await?;
                timed.push(posted);
            }
        }
        Pace::Open { rate } => {
            let mut tasks = Vec::new();
            for i in 0..comments {
                let due = start + Duration::from_secs_f64(i as f64 / rate);
                let number = numbers[i % numbers.len()];
                let forge = forge.clone();
                let command = command.to_string();
                tasks.push(tokio::spawn(async move {
                    tokio::time::sleep_until(due.into()).await;
                    post(&forge, number, &command, due).await
                }));
            }
            for task in tasks {
                timed.push(task.await??);
            }
            for posted in &timed {
                wait_for(forge, posted, patience, false).await?;
            }
        }
    }
    let elapsed = start.elapsed();
    let burst = match running {
        Some((plan, burst)) => Some(burst.stop(plan).await?),
        None => None,
    };
    eprintln!("waiting for every reply ...");
    for posted in warm.iter().chain(&timed) {
        wait_for(forge, posted, patience, true).await?;
    }
    // ade's replies cause webhooks of their own (ade ignores its own comments); let them land so
    // the run ends with ade idle.
    tokio::time::sleep(Duration::from_millis(500)).await;

    let records = read_back(forge, &numbers);
    let resolve = |posted: &[Posted]| -> anyhow::Result<Vec<Sample>> {
        posted
            .iter()
            .map(|p| {
                records
                    .get(&p.id)
                    .map(|r| r.sample(p))
                    .with_context(|| format!("comment {} is not on the forge", p.id))
            })
            .collect()
    };
    Ok(Driven {
        warm: resolve(&warm)?,
        timed: resolve(&timed)?,
        elapsed,
        anchor,
        burst,
    })
}

async fn post(forge: &Forge, number: i64, command: &str, due: Instant) -> anyhow::Result<Posted> {
    let late = due.elapsed();
    let id = forge
        .sim
        .comment(REPO, number, MAINTAINER, command)
        .await
        .context("post a comment")?;
    Ok(Posted {
        id,
        number,
        answered: Instant::now(),
        late,
    })
}

/// Waits until ade's 👀 (and, with `reply`, its reply) to `posted` is on the forge.
async fn wait_for(
    forge: &Forge,
    posted: &Posted,
    patience: Duration,
    reply: bool,
) -> anyhow::Result<()> {
    let until = Instant::now() + patience;
    let marker = reply_marker(posted.id);
    loop {
        let eyes = forge
            .sim
            .reactions(REPO, posted.id)
            .iter()
            .any(|r| r.user == forge.bot && r.content == "eyes");
        let replied = !reply
            || forge
                .sim
                .comments(REPO, posted.number)
                .iter()
                .any(|c| c.author == forge.bot && c.body.contains(&marker));
        if eyes && replied {
            return Ok(());
        }
        if Instant::now() > until {
            bail!(
                "no {} from ade on comment {} after {patience:?}",
                if eyes { "reply" } else { "👀" },
                posted.id
            );
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// The hidden line ade's reply to the first command of a comment carries.
fn reply_marker(comment_id: i64) -> String {
    format!("<!-- ade:reply:{comment_id}:0 -->")
}

/// A comment as the simulator recorded it, with ade's 👀 and reply.
struct Record {
    stored: Instant,
    eyes: Option<Instant>,
    reply: Option<Instant>,
}

impl Record {
    fn sample(&self, posted: &Posted) -> Sample {
        Sample {
            id: posted.id,
            stored: self.stored,
            answered: posted.answered,
            late: posted.late,
            eyes: self.eyes,
            reply: self.reply,
        }
    }
}

fn read_back(forge: &Forge, numbers: &[i64]) -> HashMap<i64, Record> {
    let mut records = HashMap::new();
    for &number in numbers {
        let comments = forge.sim.comments(REPO, number);
        let replies: HashMap<String, Instant> = comments
            .iter()
            .filter(|c| c.author == forge.bot)
            .filter_map(|c| {
                let line = c.body.lines().find(|l| l.contains("<!-- ade:reply:"))?;
                Some((line.trim().to_string(), c.recorded))
            })
            .collect();
        for c in comments.iter().filter(|c| c.author == MAINTAINER) {
            let eyes = c
                .reactions
                .iter()
                .find(|r| r.user == forge.bot && r.content == "eyes")
                .map(|r| r.recorded);
            records.insert(
                c.id,
                Record {
                    stored: c.recorded,
                    eyes,
                    reply: replies.get(&reply_marker(c.id)).copied(),
                },
            );
        }
    }
    records
}
