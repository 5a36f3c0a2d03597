//! ade's real forge clients against the forge simulator, and both against the forges' published
//! API descriptions. Every `Forge` operation of the GitHub client runs against a GitHub-dialect
//! simulator, and every operation of the Gitea client against a Gitea and a Forgejo one; the
//! results are checked against the simulator's state, the credential is used for a real
//! `git clone` and push, and then every API call the simulator recorded (ade's request and the
//! simulator's answer, status included) is checked against ../shared/corpus. Without the corpus
//! that last part prints `skipped: …` and the round trips still run.

#[path = "conformance/mod.rs"]
#[allow(dead_code)]
mod conformance;

#[path = "forge_sim_conformance/checks.rs"]
mod checks;
#[path = "forge_sim_conformance/gate.rs"]
mod gate;
#[path = "forge_sim_conformance/git.rs"]
mod git;
#[path = "forge_sim_conformance/scenario.rs"]
mod scenario;
#[path = "forge_sim_conformance/world.rs"]
mod world;

use world::Dialect;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn github_client_against_the_github_simulator() {
    scenario::run(Dialect::Github).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn gitea_client_against_the_gitea_simulator() {
    scenario::run(Dialect::Gitea).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn gitea_client_against_the_forgejo_simulator() {
    scenario::run(Dialect::Forgejo).await;
}
