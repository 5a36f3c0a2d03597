//! ade: a self-hosted service that turns a forge into an agentic development environment.
//!
//! The webhook path reads top to bottom: [`ingress`] verifies and stores deliveries, [`jobs`] runs
//! them durably, [`events`] normalizes them, and later stages act on the events.

pub mod audit;
pub mod backoff;
pub mod clock;
pub mod command;
pub mod config;
pub mod coordinator;
pub mod demo;
pub mod dispatch;
pub mod doctor;
pub mod events;
pub mod forge;
pub mod gitread;
pub mod ingress;
pub mod jobs;
pub mod lifecycle;
pub mod limits;
pub mod links;
pub mod markdown;
pub mod metrics;
pub mod policy;
pub mod retention;
pub mod runner;
pub mod secret;
pub mod secrets;
pub mod service;
pub mod sim;
pub mod spec;
pub mod store;
pub mod telemetry;
pub mod templates;
pub mod verify;
pub mod web;
