//! The coordinator: goals, specs and tasks, the state machine that commands move.

pub mod approvals;
pub mod command_job;
pub mod commands;
pub mod intake;
pub mod policies;
pub mod render;
pub mod run_job;
pub mod runs;
pub mod tasks;
pub mod warm;
