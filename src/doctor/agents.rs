//! Whether each registered agent can run: its program is where the runner finds it and agents
//! may run it, and a pinned version (`version`, or `version_command`) matches, checked the way
//! `ade serve` checks them at start (docs/agents.md), but one finding per agent instead of
//! stopping at the first.

use super::report::one_line;
use super::{Finding, Report};
use crate::config::Config;
use crate::runner::agent::AgentRegistry;

/// Runs the agent checks (local: no forge involved).
pub(super) async fn check(config: &Config, report: &mut Report) {
    if config.agents.is_empty() {
        report.push(Finding::warning(
            "agents",
            "no agent is registered: /ade plan works with the manual planner, but no task can run",
            "register an agent under [agents.NAME] in ade.toml (docs/agents.md)",
        ));
        return;
    }
    match AgentRegistry::new(&config.agents, &config.runner, &config.policy) {
        Ok(registry) => match registry.agent_user() {
            Ok(Some(_)) => {}
            Ok(None) => report.push(Finding::warning(
                "agents",
                format!(
                    "ade cannot run agents as another user (it is not root and lacks {}): worktree and main runs and verification steps refuse to start; only container runs with bubblewrap go on",
                    crate::runner::env::missing_capabilities().join(", ")
                ),
                "give ade the capabilities deploy/ade.service lists and set runner.agent_user (docs/agents.md, Who agents run as)",
            )),
            Err(error) => report.push(Finding::problem(
                "agents",
                one_line(&error.to_string(), 400),
                "set runner.agent_user to an unprivileged user of this system other than ade's own (docs/agents.md, Who agents run as)",
            )),
        },
        Err(error) => report.push(Finding::problem(
            "agents",
            one_line(&error.to_string(), 400),
            "fix the agent registrations or [policy] in ade.toml (docs/agents.md)",
        )),
    }
    // Each agent alone, so that one agent's failure does not hide the others'.
    let mut alone = config.policy.clone();
    alone.defaults.agents.default = None;
    alone.defaults.agents.planner = None;
    for agent in &config.agents {
        let check = format!("agent.{}", agent.name);
        let found = match AgentRegistry::new(std::slice::from_ref(agent), &config.runner, &alone) {
            Ok(registry) => registry.check_versions().await.map(|mut v| v.remove(0)),
            Err(error) => Err(error),
        };
        report.push(match found {
            Ok(found) => Finding::ok(
                &check,
                match (&found.version, &agent.version) {
                    (Some(printed), Some(pin)) => format!(
                        "{} is present and at the pinned version {pin} ({})",
                        found.program.display(),
                        one_line(printed, 120)
                    ),
                    (Some(printed), None) => format!(
                        "{} is present ({})",
                        found.program.display(),
                        one_line(printed, 120)
                    ),
                    (None, _) => format!(
                        "{} is present (no version pinned, so its version is not checked)",
                        found.program.display()
                    ),
                },
            ),
            Err(error) => Finding::problem(
                &check,
                one_line(&error.to_string(), 400),
                "install the program (at the pinned version) where runner.path finds it and agents may run it, or fix the agent's registration (docs/agents.md)",
            ),
        });
    }
}
