//! ade: a self-hosted service that turns a forge into an agentic development environment.
//!
//! The webhook path reads top to bottom: [`ingress`] verifies and stores deliveries, [`jobs`] runs
//! them durably, [`events`] normalizes them, and later stages act on the events.

pub mod config;
pub mod events;
pub mod forge;
pub mod clock;
pub mod store;
pub mod jobs;
pub mod metrics;
pub mod ingress;
pub mod dispatch;
pub mod web;
pub mod telemetry;
pub mod service;
