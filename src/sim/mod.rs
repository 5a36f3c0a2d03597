//! The forge simulator: an in-process HTTP server that plays GitHub or Gitea/Forgejo for ade's
//! tests and for a test drive. It keeps state (users, repositories, issues, comments, reactions,
//! labels, pull requests and their drafts, reviews and their line comments, checks with their
//! annotations, branch protection, app installations), hosts real bare git repositories over
//! smart HTTP, answers GitHub's GraphQL draft mutations, sends signed webhooks for what happens,
//! records every call ade makes, and fails on demand.
//!
//! Tests drive it through [`Simulator`]: seed, act as users, read state, inject faults. The
//! `/_sim/` HTTP endpoints offer the same actions to a separately running ade (see
//! docs/simulator.md), and [`run_standalone`] is what `ade sim` runs.

mod actions;
mod calls;
mod control;
mod core;
mod diff_hunk;
mod faults;
pub mod git;
mod gitea;
mod github;
mod handle;
mod http;
mod http_backend;
mod jwt;
mod oauth;
mod options;
mod path_pattern;
mod protection;
mod routes;
mod server;
mod standalone;
mod state;
mod time;
mod webhooks;

pub use actions::{ActionError, NewCheckRun, NewStatus};
pub use calls::{ApiCall, MAX_RESPONSE_BODY};
pub use faults::{Fault, FaultRule};
pub use git::{MergeStyle, ZERO_SHA};
pub use handle::{SimRecord, Simulator};
pub use jwt::AppKey;
pub use oauth::OAuthApp;
pub use options::{NewHook, NewRepo, SimCheck, SimOptions, SimPull, SimRepo, SimToken, SimUser};
pub use path_pattern::path_matches;
pub use standalone::{DEMO_REPO, Demo, StandaloneOptions, run_standalone, start_demo};
pub use state::{
    CheckRunAnnotation, Comment, Issue, ReactionRecord, Review, ReviewComment, TokenScope,
};
pub use webhooks::{DeliveryOutcome, DeliveryRecord};
