//! The forge simulator from the outside: its GitHub and Gitea APIs over real HTTP, git clone and
//! push through `git http-backend`, the webhooks it sends (normalized by ade's own code and
//! compared with the shared corpus when present), fault injection, token expiry, and the routes
//! the review gate uses (check annotations, GraphQL drafts, review comments).

#[path = "conformance/mod.rs"]
#[allow(dead_code)]
mod conformance;
#[path = "forge_sim/support.rs"]
mod support;

#[path = "forge_sim/annotations.rs"]
mod annotations;
#[path = "forge_sim/faults.rs"]
mod faults;
#[path = "forge_sim/git_http.rs"]
mod git_http;
#[path = "forge_sim/gitea_api.rs"]
mod gitea_api;
#[path = "forge_sim/github_api.rs"]
mod github_api;
#[path = "forge_sim/github_tokens.rs"]
mod github_tokens;
#[path = "forge_sim/review_gate.rs"]
mod review_gate;
#[path = "forge_sim/standalone.rs"]
mod standalone;
#[path = "forge_sim/webhooks.rs"]
mod webhooks;
