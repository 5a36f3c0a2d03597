//! ade's own integration tests: the service over real HTTP and real databases.

mod support;

mod cli;
mod commands;
mod demo;
mod goals;
mod queue;
mod real_agent;
#[path = "../real_agents/mod.rs"]
mod real_agents;
mod restart;
mod runs;
mod signatures;
mod store;
mod verification;
mod webhooks;
