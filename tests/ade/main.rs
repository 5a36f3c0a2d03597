//! ade's own integration tests: the service over real HTTP and real databases.

#[path = "../conformance/mod.rs"]
#[allow(dead_code)]
mod conformance;
mod support;

mod api;
mod audit;
mod cli;
mod commands;
mod crash;
mod dashboard;
mod demo;
mod dlp;
mod doctor;
mod door;
mod external;
mod goals;
mod guides;
mod limits;
mod planner;
mod queue;
mod races;
mod real_agent;
#[path = "../real_agents/mod.rs"]
mod real_agents;
mod reconcile;
mod restart;
mod retention;
mod reviews;
mod runs;
mod secrets;
mod signatures;
mod store;
mod tokens;
mod verification;
mod waiting;
mod webhooks;
