//! The coordinator: goals, specs and tasks, the state machine that commands move.

pub mod intake;
pub mod render;
