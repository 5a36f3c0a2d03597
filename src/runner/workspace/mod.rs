//! Worktrees for runs: per repository (per bare mirror), a pool of linked worktrees under
//! `<workdir>/worktrees/<mirror-key>/<name>`, reset incrementally for each run, plus the `main`
//! environment's one persistent checkout ([`MainLease`]).
//!
//! Measured on the kind of machine ade runs on, a fresh `git worktree add` of a 20,000-file
//! repository takes seconds, resetting an existing worktree to another commit a fraction of one,
//! and deleting a big worktree is slower than either. So a run takes a free worktree and resets it
//! (`reset --hard`, `clean -ffdx`, `checkout --detach <base>`); fresh worktrees are made ahead of
//! demand in the background; a worktree is never deleted on a run's path: retiring renames it into
//! `<root>/.retired/` and a background task deletes it and prunes git's metadata.
//!
//! Stale and broken worktrees are the classic failure of such pools, so: each worktree has an
//! in-process lease and a lock file naming the owning process; git's metadata is verified from
//! both ends before every reset and repaired from ade's own records (see [`layout`]); a reset that
//! fails is retried once after a force-clean, then the worktree is retired and replaced; and
//! [`WorktreePool::open`] collects what a crash left behind.

mod collect;
mod layout;
mod lifecycle;
mod lock;
mod main_checkout;
mod owner;

pub(crate) use owner::chown_tree;

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::Notify;

pub use collect::stop_left_running;
pub use main_checkout::MainLease;
pub use owner::Holding;

use crate::runner::git::{Git, GitError};
use lock::Purpose;

/// Lock files live here under the pool root, outside every worktree.
const LOCKS: &str = ".locks";
/// Retired worktrees wait here under the pool root for background deletion.
const RETIRED: &str = ".retired";
/// The main checkout's folder name under the pool root.
const MAIN: &str = "main";
/// Pooled worktrees are named `wt-<n>`.
const PREFIX: &str = "wt-";

/// How many worktrees a pool keeps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PoolConfig {
    /// Free worktrees kept ready ahead of demand; below this the pool creates more in the background.
    pub warm: usize,
    /// The most worktrees (free, leased and being created) the pool holds; acquires beyond it wait.
    pub max: usize,
    /// The agent user's `uid:gid` when runs hand their worktree to one. Free worktrees are handed
    /// to it in the background, so a run's hand-over covers only what its checkout rewrote
    /// instead of every file.
    pub hand_ahead: Option<(u32, u32)>,
}

/// Why a worktree could not be had.
#[derive(Debug, thiserror::Error)]
pub enum WorkspaceError {
    /// A git command failed.
    #[error(transparent)]
    Git(#[from] GitError),
    /// A file operation failed.
    #[error("{what} {}: {source}", path.display())]
    Io {
        /// What was being done.
        what: &'static str,
        /// On which path.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The base is not a full or abbreviated hexadecimal commit id.
    #[error("base {0:?} is not a commit id")]
    BadBase(String),
    /// The base is not a commit in the repository.
    #[error("base {base} is not a commit in {}", git_dir.display())]
    UnknownBase {
        /// The base asked for.
        base: String,
        /// The repository.
        git_dir: PathBuf,
    },
    /// The pool configuration cannot work.
    #[error("worktree pool: {0}")]
    Config(String),
    /// Another living process holds the worktree's lock file.
    #[error("worktree {} is held by process {pid}", path.display())]
    HeldElsewhere {
        /// The worktree.
        path: PathBuf,
        /// The process named in its lock file.
        pid: u32,
    },
    /// A new worktree failed its own check.
    #[error("worktree {} is broken: {reason}", path.display())]
    Broken {
        /// The worktree.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
}

/// Results of this module.
pub type Result<T> = std::result::Result<T, WorkspaceError>;

/// Why a worktree could not be brought to a commit where it is (reset, cleaned, checked out, its
/// files handed over): logged as the reason, after which the pool repairs it or gives it up and
/// makes another. Never shown to a user on its own; an acquire that fails for good says
/// [`WorkspaceError`].
#[derive(Debug, thiserror::Error)]
enum Fault {
    /// A git command failed.
    #[error(transparent)]
    Git(#[from] GitError),
    /// The worktree and its admin folder do not name each other, or HEAD is not a commit.
    #[error(transparent)]
    Layout(#[from] layout::Mismatch),
    /// A checkout left HEAD somewhere else.
    #[error("HEAD is {head} after checking out {base}")]
    Moved {
        /// Where HEAD is.
        head: String,
        /// Where it was checked out to.
        base: String,
    },
    /// A file operation failed.
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// git listed a changed path that is not UTF-8.
    #[error(transparent)]
    NotUtf8(#[from] std::string::FromUtf8Error),
    /// A task doing the work stopped (a panic, or the runtime shutting down).
    #[error(transparent)]
    Stopped(#[from] tokio::task::JoinError),
    /// A reset failed (`first`), and so did the repair after it: `step` names the repair's step
    /// (`permissions: `, `repair: `, `after repair: `, or nothing for the prune).
    #[error("{first}; {step}{then}")]
    Repair {
        /// Why the first reset failed.
        first: Box<Fault>,
        /// Which step of the repair failed.
        step: &'static str,
        /// Why it failed.
        then: Box<Fault>,
    },
}

impl Fault {
    /// This fault, and after it the failure of the repair's `step`.
    fn then(self, step: &'static str, then: impl Into<Fault>) -> Fault {
        Fault::Repair {
            first: Box::new(self),
            step,
            then: Box::new(then.into()),
        }
    }
}

/// The one mapping of a file operation's error: what was done, on which path.
fn io_error(what: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> WorkspaceError {
    let path = path.to_path_buf();
    move |source| WorkspaceError::Io { what, path, source }
}

use super::mirror::is_commit_id;

/// One worktree the pool knows: its folder and its admin folder in the mirror.
#[derive(Clone, Debug)]
struct Slot {
    name: String,
    path: PathBuf,
    admin: PathBuf,
    /// The commit it was last known to be at (preferred for an acquire at that commit).
    head: Option<String>,
    /// Whether it holds exactly `head` and nothing else: made fresh, or reset and cleaned after
    /// its last run. An acquire then only checks it out at the run's base.
    clean: bool,
    /// The `uid:gid` its files were handed to in the background, if they were.
    handed_ahead: Option<(u32, u32)>,
}

/// How much of what a run left a reset removes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Clean {
    /// Everything not in the base commit, ignored files included (`clean -ffdx`).
    All,
    /// Keeps ignored files such as build caches (`clean -ffd`): the main checkout.
    KeepIgnored,
}

#[derive(Default)]
struct State {
    free: Vec<Slot>,
    leased: HashSet<String>,
    creating: usize,
    /// Released worktrees being reset and cleaned in the background.
    cleaning: usize,
    background: usize,
    next: u64,
    last_base: Option<String>,
}

impl State {
    fn total(&self) -> usize {
        self.free.len() + self.leased.len() + self.creating + self.cleaning
    }

    fn next_name(&mut self) -> String {
        self.next += 1;
        format!("{PREFIX}{}", self.next)
    }
}

struct Inner {
    git: Git,
    git_dir: PathBuf,
    root: PathBuf,
    config: PoolConfig,
    state: Mutex<State>,
    /// Woken when a worktree is freed, created or a background task ends.
    changed: Notify,
    /// Serializes git's worktree bookkeeping (`worktree add`, `worktree prune`) on the mirror.
    admin: tokio::sync::Mutex<()>,
    main: Arc<tokio::sync::Mutex<Option<Slot>>>,
    report: Mutex<OpenReport>,
}

/// The worktree pool of one repository. Cloning shares the pool.
#[derive(Clone)]
pub struct WorktreePool {
    inner: Arc<Inner>,
}

/// What [`WorktreePool::open`] found on disk, for the log and for operators.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OpenReport {
    /// Healthy worktrees taken into the pool as free (the main checkout included).
    pub adopted: Vec<String>,
    /// Folders sent to background deletion, each with the reason.
    pub retired: Vec<(String, String)>,
    /// Worktrees whose lock file names another living process; left alone.
    pub held_elsewhere: Vec<String>,
}

/// A snapshot of the pool's counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PoolStatus {
    /// Worktrees ready for a run.
    pub free: usize,
    /// Worktrees held by runs (or being prepared for one).
    pub leased: usize,
    /// Worktrees being created ahead of demand.
    pub creating: usize,
    /// Released worktrees being reset and cleaned for the next run.
    pub cleaning: usize,
    /// Background tasks under way (creations, cleaning, deletions).
    pub background: usize,
}

impl WorktreePool {
    /// Opens the pool of the bare repository `git_dir` in `root` (created if missing): collects
    /// what a crash left (folders without metadata, metadata without folders, half-made worktrees,
    /// stale lock files), verifies each remaining worktree and adopts the healthy ones, then starts
    /// creating worktrees up to `config.warm` at the repository's HEAD in the background.
    pub async fn open(
        git: Git,
        git_dir: &Path,
        root: &Path,
        config: PoolConfig,
    ) -> Result<WorktreePool> {
        if config.max == 0 || config.warm > config.max {
            return Err(WorkspaceError::Config(format!(
                "need 0 <= warm <= max and max >= 1, got warm {} max {}",
                config.warm, config.max
            )));
        }
        for dir in [root.to_path_buf(), root.join(LOCKS), root.join(RETIRED)] {
            std::fs::create_dir_all(&dir).map_err(io_error("create", &dir))?;
        }
        let root = std::fs::canonicalize(root).map_err(io_error("resolve", root))?;
        let git_dir = std::fs::canonicalize(git_dir).map_err(io_error("resolve", git_dir))?;
        let inner = Arc::new(Inner {
            git,
            git_dir,
            root,
            config,
            state: Mutex::new(State::default()),
            changed: Notify::new(),
            admin: tokio::sync::Mutex::new(()),
            main: Arc::new(tokio::sync::Mutex::new(None)),
            report: Mutex::new(OpenReport::default()),
        });
        let report = inner.collect().await?;
        tracing::info!(root = %inner.root.display(), adopted = report.adopted.len(),
            retired = report.retired.len(), held_elsewhere = report.held_elsewhere.len(),
            "worktree pool opened");
        let head = inner
            .git
            .in_repo(&inner.git_dir)
            .args(["rev-parse", "--verify", "--quiet", "HEAD^{commit}"])
            .run_text()
            .await
            .ok()
            .filter(|head| is_commit_id(head));
        let pool = WorktreePool { inner };
        pool.inner.lock_state().last_base = head;
        pool.inner.refill();
        *pool.inner.report.lock().unwrap_or_else(|e| e.into_inner()) = report;
        Ok(pool)
    }

    /// What [`WorktreePool::open`] found and did.
    pub fn open_report(&self) -> OpenReport {
        self.inner
            .report
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// A worktree at commit `base` for one run, held until the lease is dropped. Prefers a free
    /// worktree already at `base`; resets a free one otherwise; creates one when none is free and
    /// the pool is below `max`; waits for a release when it is at `max`.
    pub async fn acquire(&self, base: &str) -> Result<WorktreeLease> {
        let inner = &self.inner;
        let base = inner.resolve_base(base).await?;
        inner.lock_state().last_base = Some(base.clone());
        let asked = std::time::Instant::now();
        let (name, slot) = loop {
            let notified = inner.changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if let Some(pick) = inner.pick(&base) {
                break pick;
            }
            notified.await;
        };
        let waited = asked.elapsed();
        let mut pending = Pending {
            inner: inner.clone(),
            name: name.clone(),
            armed: true,
        };
        let mut how = Prepared::Created;
        let slot = match slot {
            Some(mut slot) => match inner.switch_or_prepare(&mut slot, &base).await {
                Ok(prepared) => {
                    how = prepared;
                    slot
                }
                Err(reason) => {
                    tracing::warn!(worktree = %slot.path.display(), %reason,
                        "worktree cannot be reset; retiring it and creating another");
                    inner.retire_folder(&slot.path, &slot.name);
                    let fresh = inner.lock_state().next_name();
                    pending.rename(fresh.clone());
                    inner.create(&fresh, &base, Purpose::Lease).await?
                }
            },
            None => inner.create(&name, &base, Purpose::Lease).await?,
        };
        pending.armed = false;
        inner.refill();
        Ok(WorktreeLease {
            inner: inner.clone(),
            held: owner::Holding::new(slot),
            prepared: (how, waited),
        })
    }

    /// Brings the most recently released clean worktree to `base` (the default branch moved, so
    /// the next goal will start there), unless one is there already, and makes `base` what
    /// worktrees made ahead of demand start from. While it is checked out, an acquire that finds
    /// nothing else free waits for it.
    pub async fn advance(&self, base: &str) -> Result<()> {
        let inner = &self.inner;
        let base = inner.resolve_base(base).await?;
        let mut slot = {
            let mut state = inner.lock_state();
            state.last_base = Some(base.clone());
            if state
                .free
                .iter()
                .any(|slot| slot.clean && slot.head.as_deref() == Some(base.as_str()))
            {
                return Ok(());
            }
            let Some(index) = state.free.iter().rposition(|slot| slot.clean) else {
                return Ok(());
            };
            let lock_path = lock::lock_path(&inner.root, &state.free[index].name);
            if !matches!(lock::take(&lock_path, Purpose::Lease), Ok(Ok(()))) {
                return Ok(());
            }
            let slot = state.free.remove(index);
            state.cleaning += 1;
            state.background += 1;
            slot
        };
        // In a task of its own, so a caller that gives up (an aborted job) cannot leave the
        // worktree counted as being cleaned for ever.
        let inner = inner.clone();
        let switched = tokio::spawn(async move {
            match inner.switch(&mut slot, &base).await {
                Ok(_) => slot.head = Some(base),
                Err(reason) => {
                    tracing::warn!(worktree = %slot.path.display(), %reason,
                        "bringing a free worktree to the new default branch head failed; its next run resets it");
                    slot.clean = false;
                }
            }
            inner.put_back(slot, true);
        });
        switched.await.map_err(|e| WorkspaceError::Broken {
            path: self.inner.root.clone(),
            reason: format!("checking out ahead stopped: {e}"),
        })
    }

    /// The main checkout at `base`, for one run at a time: waits while another run holds it.
    /// Reset like a pooled worktree but keeping ignored files (build caches).
    pub async fn acquire_main(&self, base: &str) -> Result<MainLease> {
        main_checkout::acquire(&self.inner, base).await
    }

    /// The pool's counts now.
    pub fn status(&self) -> PoolStatus {
        let state = self.inner.lock_state();
        PoolStatus {
            free: state.free.len(),
            leased: state.leased.len(),
            creating: state.creating,
            cleaning: state.cleaning,
            background: state.background,
        }
    }

    /// Waits until no background creation, cleaning or deletion is under way (for shutdown and
    /// tests).
    pub async fn idle(&self) {
        loop {
            let notified = self.inner.changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.inner.lock_state().background == 0 {
                return;
            }
            notified.await;
        }
    }

    /// The folder holding this pool's worktrees.
    pub fn root(&self) -> &Path {
        &self.inner.root
    }
}

/// A worktree held by one run. Dropping it (or [`WorktreeLease::release`]) returns it to the pool;
/// [`WorktreeLease::retire`] sends it to background deletion instead.
pub struct WorktreeLease {
    inner: Arc<Inner>,
    held: owner::Holding,
    prepared: (Prepared, std::time::Duration),
}

/// What an acquire had to do to the worktree it handed out: the run log says it, since it is most
/// of what a run's start costs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Prepared {
    /// A clean worktree already at the base: nothing.
    Ready,
    /// A clean worktree elsewhere: `git checkout` of what differs.
    CheckedOut,
    /// The full reset (verify, `reset --hard`, `clean -ffdx`, checkout).
    Reset,
    /// A new worktree (`git worktree add`).
    Created,
}

impl Prepared {
    /// The word for logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Prepared::Ready => "ready",
            Prepared::CheckedOut => "checked out",
            Prepared::Reset => "reset",
            Prepared::Created => "created",
        }
    }
}

impl std::ops::Deref for WorktreeLease {
    type Target = Holding;

    fn deref(&self) -> &Holding {
        &self.held
    }
}

impl std::ops::DerefMut for WorktreeLease {
    fn deref_mut(&mut self) -> &mut Holding {
        &mut self.held
    }
}

impl WorktreeLease {
    /// What the acquire did to this worktree, and how long it waited for one to be free.
    pub fn prepared(&self) -> (Prepared, std::time::Duration) {
        self.prepared
    }

    /// The worktree's name in the pool (for logs).
    pub fn name(&self) -> &str {
        &self.held.slot().name
    }

    /// Closes the worktree to the agent's user, in O(1), leaving its files with that user; see
    /// `owner::Holding::seal`. The run's processes must be stopped first.
    pub async fn seal(&mut self) -> Result<()> {
        self.held.seal().await
    }

    /// Returns the worktree to the pool (the same as dropping the lease).
    pub fn release(self) {}

    /// Sends the worktree to background deletion: use it when a run leaves it in a state not
    /// worth resetting. O(1) on the caller's path (a rename).
    pub fn retire(mut self) {
        if let Some(Ok(slot) | Err(slot)) = self.held.give_up(None) {
            self.inner.retire_folder(&slot.path, &slot.name);
            self.inner.forget(&slot.name);
            self.inner.refill();
        }
    }
}

impl Drop for WorktreeLease {
    fn drop(&mut self) {
        let keep_for = self.inner.config.hand_ahead.map(|(uid, _)| uid);
        let mut slot = match self.held.give_up(keep_for) {
            None => return,
            Some(Ok(slot)) => slot,
            Some(Err(slot)) => {
                self.inner.retire_folder(&slot.path, &slot.name);
                self.inner.forget(&slot.name);
                return;
            }
        };
        slot.head = read_detached_head(&slot.admin);
        slot.clean = false;
        self.inner.clean_in_background(slot);
    }
}

/// The commit a detached HEAD names, read from the admin folder without running git.
fn read_detached_head(admin: &Path) -> Option<String> {
    let text = std::fs::read_to_string(admin.join("HEAD")).ok()?;
    let head = text.trim_end();
    is_commit_id(head).then(|| head.to_string())
}

/// A worktree being prepared for an acquire. If the acquire is cancelled or fails, the name is
/// given up and whatever was made under it is retired.
struct Pending {
    inner: Arc<Inner>,
    name: String,
    armed: bool,
}

impl Pending {
    fn rename(&mut self, name: String) {
        let mut state = self.inner.lock_state();
        state.leased.remove(&self.name);
        state.leased.insert(name.clone());
        self.name = name;
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        if self.armed {
            self.inner
                .retire_folder(&self.inner.root.join(&self.name), &self.name);
            self.inner.forget(&self.name);
        }
    }
}

impl Inner {
    fn lock_state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Checks that `base` looks like a commit id and names a commit; returns the full id.
    async fn resolve_base(&self, base: &str) -> Result<String> {
        let hex = base.bytes().all(|b| b.is_ascii_hexdigit());
        if !hex || !(7..=64).contains(&base.len()) {
            return Err(WorkspaceError::BadBase(base.chars().take(80).collect()));
        }
        let unknown = || WorkspaceError::UnknownBase {
            base: base.to_string(),
            git_dir: self.git_dir.clone(),
        };
        let full = self
            .git
            .in_repo(&self.git_dir)
            .args(["rev-parse", "--verify", "--quiet", "--end-of-options"])
            .arg(format!("{base}^{{commit}}"))
            .run_text()
            .await
            .map_err(|_| unknown())?;
        if is_commit_id(&full) {
            Ok(full)
        } else {
            Err(unknown())
        }
    }

    /// Takes a free worktree for `base` (one already there first), or a name to create one under;
    /// None when the pool is at `max` with nothing free, or when a worktree being cleaned or made
    /// will be free before a new one could be made here.
    fn pick(&self, base: &str) -> Option<(String, Option<Slot>)> {
        let mut state = self.lock_state();
        while !state.free.is_empty() {
            // Clean and at the base costs nothing; clean elsewhere a checkout; anything else a
            // full reset. Among equals, the most recently released: its files are likeliest in
            // the page cache.
            let cost = |slot: &Slot| match (slot.clean, slot.head.as_deref() == Some(base)) {
                (true, true) => 0,
                (true, false) => 1,
                (false, true) => 2,
                (false, false) => 3,
            };
            let index = (0..state.free.len())
                .rev()
                .min_by_key(|&i| cost(&state.free[i]))
                .expect("free is not empty");
            let slot = state.free.remove(index);
            let lock_path = lock::lock_path(&self.root, &slot.name);
            match lock::take(&lock_path, Purpose::Lease) {
                Ok(Ok(())) => {
                    state.leased.insert(slot.name.clone());
                    return Some((slot.name.clone(), Some(slot)));
                }
                Ok(Err(owner)) => tracing::warn!(worktree = %slot.path.display(), pid = owner.pid,
                    "another process holds this worktree; the pool gives it up"),
                Err(e) => tracing::warn!(worktree = %slot.path.display(), error = %e,
                    "cannot write the worktree's lock file; the pool gives it up"),
            }
        }
        // One being cleaned or made is free sooner than a new one on this path would be.
        if state.total() < self.config.max && state.cleaning == 0 && state.creating == 0 {
            let name = state.next_name();
            state.leased.insert(name.clone());
            return Some((name, None));
        }
        None
    }

    /// Checks a clean worktree out at `base` (nothing to do when it is there already); anything
    /// else, or a checkout that fails, gets the full [`Inner::prepare`].
    async fn switch_or_prepare(
        &self,
        slot: &mut Slot,
        base: &str,
    ) -> std::result::Result<Prepared, Fault> {
        if slot.clean {
            match self.switch(slot, base).await {
                Ok(prepared) => return Ok(prepared),
                Err(reason) => tracing::warn!(worktree = %slot.path.display(), %reason,
                    "checking out a clean worktree failed; resetting it in full"),
            }
        }
        // The reset rewrites files as ade: the hand-over walks the whole tree again.
        slot.handed_ahead = None;
        self.prepare(slot, base, Clean::All).await?;
        Ok(Prepared::Reset)
    }

    async fn switch(&self, slot: &mut Slot, base: &str) -> std::result::Result<Prepared, Fault> {
        let head = layout::verify(&self.git, &slot.admin, &slot.path).await?;
        if head == base {
            return Ok(Prepared::Ready);
        }
        self.git
            .in_worktree(&slot.admin, &slot.path)
            .args(["checkout", "--detach", "--quiet", base, "--"])
            .run()
            .await?;
        let now = layout::verify(&self.git, &slot.admin, &slot.path).await?;
        if now != base {
            return Err(Fault::Moved {
                head: now,
                base: base.to_owned(),
            });
        }
        if let Some((uid, gid)) = slot.handed_ahead
            && let Err(reason) = self.hand_changed(slot, &head, base, uid, gid).await
        {
            tracing::warn!(worktree = %slot.path.display(), %reason,
                "handing what a checkout changed to the agent user failed; the hand-over walks the whole worktree");
            slot.handed_ahead = None;
        }
        Ok(Prepared::CheckedOut)
    }

    /// Gives the agent user what checking out `to` over `from` rewrote, as ade.
    async fn hand_changed(
        &self,
        slot: &Slot,
        from: &str,
        to: &str,
        uid: u32,
        gid: u32,
    ) -> std::result::Result<(), Fault> {
        let listed = self
            .git
            .in_repo(&self.git_dir)
            .args([
                "diff",
                "--name-only",
                "-z",
                "--no-renames",
                "--no-ext-diff",
                "--no-textconv",
                "--end-of-options",
                from,
                to,
            ])
            .run()
            .await?;
        let text = String::from_utf8(listed)?;
        let root = slot.path.clone();
        tokio::task::spawn_blocking(move || {
            let changed: Vec<&str> = text.split('\0').filter(|p| !p.is_empty()).collect();
            owner::chown_changed(&root, &changed, uid, gid)
        })
        .await??;
        Ok(())
    }

    /// Resets `slot` to `base`; on failure force-cleans, repairs the metadata from ade's records,
    /// prunes, and tries once more.
    async fn prepare(
        &self,
        slot: &Slot,
        base: &str,
        clean: Clean,
    ) -> std::result::Result<(), Fault> {
        let first = match self.reset(slot, base, clean).await {
            Ok(()) => return Ok(()),
            Err(reason) => reason,
        };
        tracing::warn!(worktree = %slot.path.display(), reason = %first,
            "worktree reset failed; repairing and retrying once");
        if let Err(e) = owner::make_removable(&slot.path) {
            return Err(first.then("permissions: ", e));
        }
        if let Err(e) = layout::relink(&slot.admin, &slot.path, true) {
            return Err(first.then("repair: ", e));
        }
        if let Err(e) = self.prune().await {
            return Err(first.then("", e));
        }
        self.reset(slot, base, clean)
            .await
            .map_err(|second| first.then("after repair: ", second))
    }

    /// One reset: verify, `reset --hard`, `clean`, `checkout --detach <base>`, and check HEAD.
    async fn reset(&self, slot: &Slot, base: &str, clean: Clean) -> std::result::Result<(), Fault> {
        layout::verify(&self.git, &slot.admin, &slot.path).await?;
        let run = |args: &[&str]| {
            self.git
                .in_worktree(&slot.admin, &slot.path)
                .args(args)
                .run()
        };
        let clean_flags = match clean {
            Clean::All => "-ffdxq",
            Clean::KeepIgnored => "-ffdq",
        };
        run(&["reset", "--hard", "--quiet"]).await?;
        run(&["clean", clean_flags]).await?;
        run(&["checkout", "--detach", "--quiet", base, "--"]).await?;
        let head = layout::verify(&self.git, &slot.admin, &slot.path).await?;
        if head != base {
            return Err(Fault::Moved {
                head,
                base: base.to_owned(),
            });
        }
        Ok(())
    }
}
