//! The forge clients over real HTTP: each test starts a recording fake forge on a loopback port,
//! points the real GitHub or Gitea client at it, and checks the requests against the forges'
//! published API descriptions (when ../shared/corpus is present), the answers read, the GitHub
//! App token flow, the retry rules for rate limits and failures, and what the verification and
//! review gate needs (`*_gate.rs`).

#[path = "forge_clients/checker.rs"]
mod checker;
#[path = "conformance/mod.rs"]
#[allow(dead_code)]
mod conformance;
#[path = "forge_clients/fake.rs"]
mod fake;
#[path = "forge_clients/gitea.rs"]
mod gitea;
#[path = "forge_clients/gitea_gate.rs"]
mod gitea_gate;
#[path = "forge_clients/github.rs"]
mod github;
#[path = "forge_clients/github_fixtures.rs"]
mod github_fixtures;
#[path = "forge_clients/github_gate.rs"]
mod github_gate;
#[path = "forge_clients/github_tokens.rs"]
mod github_tokens;
#[path = "forge_clients/limits.rs"]
mod limits;
#[path = "forge_clients/openapi.rs"]
mod openapi;
#[path = "forge_clients/support.rs"]
mod support;
