//! The coordinator: goals, specs, tasks, runs and approvals, the state machine that commands and
//! forge events move.

pub mod advance;
pub mod command_job;
pub mod commands;
pub mod credentials;
pub mod event_job;
pub mod finish;
pub mod goals;
pub mod intake;
pub mod planning;
pub mod policies;
pub mod policy_check;
pub mod reconcile;
pub mod render;
pub mod reply;
pub mod resume;
pub mod review;
pub mod roles;
pub mod run;
pub mod schedule;
pub mod shared;
pub mod verification;
pub mod warm;
pub mod watch;
pub mod writes;
