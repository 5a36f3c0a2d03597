//! The runner: carries out runs. For each run it brings the repository's mirror up to date, takes
//! a worktree at the spec's pinned base commit, runs the task's agent in its environment, commits
//! what the agent changed, checks the change (protected paths, symlinks, DLP), pushes the branch
//! and runs the policy's verification steps on it. The coordinator turns the outcome into an
//! approval (a pull request) and its `ade/verify` check.

pub mod agent;
pub mod changes;
pub mod commit;
pub mod dlp;
pub mod env;
pub mod git;
pub mod guard;
pub mod local;
pub mod mirror;
pub mod order;
pub mod verify;
pub mod workspace;

pub use order::{
    DependencyResult, RunOrder, RunOutcome, RunProgress, RunReport, Runner, VerifyOrder,
    VerifyOutcome, WarmOrder,
};
