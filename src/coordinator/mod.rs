//! The coordinator: goals, specs, tasks, runs and approvals, the state machine that commands and
//! forge events move.

pub mod advance;
pub mod approvals;
pub mod command_job;
pub mod commands;
pub mod goals;
pub mod intake;
pub mod policies;
pub mod render;
pub mod run;
pub mod schedule;
pub mod warm;
