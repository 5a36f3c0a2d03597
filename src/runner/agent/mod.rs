//! The agent registry (bring your own agent): the agents the operator registers in `ade.toml`
//! under `[agents.<name>]`, which of them a run uses under a repository's policy, where it may run,
//! and how a run's prompt, task file, arguments and environment are prepared for it.
//!
//! - [`template`]: argument templates with placeholders, parsed at load, expanded per run;
//! - [`prepare`]: the run's inputs, the prompt and task files, the [`Invocation`];
//! - [`prompt`]: the prompt and task file contents, from sanitized and capped inputs;
//! - [`plan_prompt`]: a planner agent's prompt and goal file, made the same way;
//! - [`check`]: what `ade serve` checks at start (programs present, version pins, agent user);
//! - [`leftovers`]: paths an agent tool leaves for itself, never committed;
//! - [`output`]: what an agent CLI reports about its run (failing tool calls, errors, its final
//!   message), read in the format its template declares.
//!
//! [`Invocation`]: super::env::Invocation

pub mod check;
pub mod inputs;
pub mod leftovers;
pub mod output;
pub mod plan_prompt;
pub mod prepare;
pub mod prompt;
pub mod template;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use check::{AgentVersion, StartError};
pub use inputs::{Dependency, FeedbackFrom, RunInputs};
pub use leftovers::Leftovers;
pub use output::{AgentOutput, OutputFormat, OutputReader};
pub use plan_prompt::{PlanInputs, PlanPromptView};
pub use prepare::{
    GOAL_FILE, OUTPUT_FILE, PLAN_FILE, PROMPT_FILE, PrepareError, RunPaths, TASK_FILE,
};
pub use template::{ArgTemplate, Placeholder, TemplateError};

use crate::policy::{AgentPolicy, Environment, ExecutionPolicy, ServerPolicy};
use crate::runner::RunnerConfig;
use crate::runner::env::Network;
use crate::secret::Secret;

/// How an agent is given its prompt.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PromptMode {
    /// A file in the scratch folder, named by `{prompt_file}` or `$ADE_PROMPT_FILE`.
    File,
    /// On stdin (every other agent gets /dev/null there).
    Stdin,
    /// As one argument, where the command has `{prompt}`.
    Argument,
}

impl PromptMode {
    /// The name written in `ade.toml`.
    pub fn as_str(self) -> &'static str {
        match self {
            PromptMode::File => "file",
            PromptMode::Stdin => "stdin",
            PromptMode::Argument => "argument",
        }
    }
}

/// How far the operator trusts an agent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Trust {
    /// May run in any environment the policy allows.
    Trusted,
    /// May run only in `container`.
    Untrusted,
}

impl Trust {
    /// The name written in `ade.toml`.
    pub fn as_str(self) -> &'static str {
        match self {
            Trust::Trusted => "trusted",
            Trust::Untrusted => "untrusted",
        }
    }
}

/// Where the value of an agent's secret comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SecretSource {
    /// A file (its content without the trailing line end), read at start.
    File(String),
    /// A variable of ade's own environment, read at start.
    Env(String),
    /// A secret of ade's secret store, by name, read when each run starts (docs/secrets.md).
    Store(String),
}

/// A secret an agent may see, as an environment variable of its process.
#[derive(Clone, Debug)]
pub struct AgentSecret {
    /// The variable name the agent sees (`ANTHROPIC_API_KEY`).
    pub name: String,
    /// Where the value was read from, for `ade check-config`.
    pub source: SecretSource,
    /// The value, read at start; never logged. `None` for a stored secret, whose value is read
    /// for each run into its [`Selection`].
    pub value: Option<Secret>,
}

/// One registered agent: `[agents.<name>]` in `ade.toml`, checked whole at load.
#[derive(Clone, Debug)]
pub struct Agent {
    /// The name policies and tasks use.
    pub name: String,
    /// Program and arguments, each a template; the program has no placeholder.
    pub command: Vec<ArgTemplate>,
    /// How the prompt is given.
    pub prompt: PromptMode,
    /// The environment it runs in when the task names none; `None` follows the policy (and
    /// `container` for an untrusted agent).
    pub environment: Option<Environment>,
    /// Trusted or untrusted.
    pub trust: Trust,
    /// The model, for `{model}`.
    pub model: Option<String>,
    /// Secrets it sees, by variable name.
    pub secrets: Vec<AgentSecret>,
    /// Plain extra variables (values may hold placeholders), by name.
    pub env: Vec<(String, ArgTemplate)>,
    /// Longest run; a repository's policy may make it shorter.
    pub timeout: Duration,
    /// Most bytes of output kept in the run log.
    pub output_cap: u64,
    /// The version required at start, if pinned.
    pub version: Option<String>,
    /// The command that prints the version; `None` means `[program, "--version"]`.
    pub version_command: Option<Vec<String>>,
    /// Paths the tool leaves for itself in the worktree; never committed.
    pub leftovers: Leftovers,
    /// How its program reports its run, so ade can tell failing tool calls and errors.
    pub output: OutputFormat,
    /// The network its runs get: `off`, its allowlist through ade's egress proxy, or `open`.
    pub network: Network,
}

impl Agent {
    /// The program: the first element of `command`.
    pub fn program(&self) -> String {
        self.command
            .first()
            .and_then(ArgTemplate::literal)
            .unwrap_or_default()
    }

    /// The command that prints the version, the default filled in.
    pub fn version_argv(&self) -> Vec<String> {
        self.version_command
            .clone()
            .unwrap_or_else(|| vec![self.program(), "--version".to_owned()])
    }
}

/// Why a run cannot use an agent or an environment; said to the user as it is.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// Neither the task nor the repository's policy names an agent.
    #[error("no agent: the task names none and the repository's policy sets no default agent")]
    NoneSet,
    /// The policy does not allow the agent.
    #[error("agent {0} is not allowed by the repository's policy")]
    NotAllowed(String),
    /// No agent of that name is registered on this server.
    #[error("agent {0} is not registered on this ade server")]
    NotRegistered(String),
    /// An untrusted agent asked to run outside a container.
    #[error("agent {agent} is untrusted and may run only in a container, not in {asked}")]
    Untrusted {
        /// The agent.
        agent: String,
        /// The environment asked for.
        asked: &'static str,
    },
    /// The policy does not allow the environment.
    #[error("environment {asked} is not allowed by the repository's policy (allowed: {allowed})")]
    EnvironmentNotAllowed {
        /// The environment asked for.
        asked: &'static str,
        /// The environments allowed, comma separated.
        allowed: String,
    },
}

/// What a run will use: the agent, where it runs and for how long at most.
#[derive(Clone, Debug)]
pub struct Selection {
    /// The agent.
    pub agent: Arc<Agent>,
    /// The environment.
    pub environment: Environment,
    /// The shorter of the agent's timeout and the policy's.
    pub timeout: Duration,
    /// The values of the agent's stored secrets, read from the secret store for this run, by
    /// the secret's name; empty until the runner reads them.
    pub stored: Vec<(String, Secret)>,
}

/// The agents this server registers, with the runner settings their invocations need.
#[derive(Clone, Debug)]
pub struct AgentRegistry {
    agents: BTreeMap<String, Arc<Agent>>,
    runner: RunnerConfig,
}

impl AgentRegistry {
    /// The registry of the server's `agents` (`ade.toml`'s `[agents.*]`), started with `runner`
    /// under `policy`. Refuses a configuration under which a registered agent could never run, or
    /// the server's default agent is not registered.
    pub fn new(
        agents: &[Agent],
        runner: &RunnerConfig,
        policy: &ServerPolicy,
    ) -> Result<AgentRegistry, StartError> {
        let agents: BTreeMap<String, Arc<Agent>> = agents
            .iter()
            .map(|agent| (agent.name.clone(), Arc::new(agent.clone())))
            .collect();
        let limits = &policy.limits;
        for agent in agents.values() {
            if agent.trust == Trust::Untrusted
                && !limits.environments.contains(&Environment::Container)
            {
                return Err(StartError::Unusable {
                    agent: agent.name.clone(),
                    reason:
                        "it is untrusted and policy.limits.environments does not allow container"
                            .to_owned(),
                });
            }
            if let Some(env) = agent.environment
                && !limits.environments.contains(&env)
            {
                return Err(StartError::Unusable {
                    agent: agent.name.clone(),
                    reason: format!(
                        "its environment {} is not in policy.limits.environments",
                        env.as_str()
                    ),
                });
            }
        }
        let defaults = &policy.defaults.agents;
        for (key, name) in [
            ("policy.defaults.agents.default", defaults.default.as_ref()),
            (
                "policy.defaults.agents.planner",
                defaults.planner.as_ref().filter(|p| *p != "manual"),
            ),
        ] {
            if let Some(name) = name
                && !agents.contains_key(name)
            {
                return Err(StartError::DefaultNotRegistered {
                    key,
                    agent: name.clone(),
                });
            }
        }
        Ok(AgentRegistry {
            agents,
            runner: runner.clone(),
        })
    }

    /// The agent registered as `name`.
    pub fn get(&self, name: &str) -> Option<Arc<Agent>> {
        self.agents.get(name).cloned()
    }

    /// Every registered agent, by name.
    pub fn iter(&self) -> impl Iterator<Item = &Arc<Agent>> {
        self.agents.values()
    }

    /// Whether no agent is registered (then only the manual planner works).
    pub fn is_empty(&self) -> bool {
        self.agents.is_empty()
    }

    /// The runner settings the registry was built with.
    pub fn runner(&self) -> &RunnerConfig {
        &self.runner
    }

    /// The agent a task runs: the one it names, else the policy's default; it must be allowed
    /// by the policy and registered here.
    pub fn choose(
        &self,
        policy: &AgentPolicy,
        task_agent: Option<&str>,
    ) -> Result<Arc<Agent>, Refusal> {
        let name = task_agent
            .or(policy.default.as_deref())
            .ok_or(Refusal::NoneSet)?;
        if !policy.allowed.permits(name) {
            return Err(Refusal::NotAllowed(name.to_owned()));
        }
        self.get(name)
            .ok_or_else(|| Refusal::NotRegistered(name.to_owned()))
    }

    /// Where `agent` runs a task: the environment the task names, else the agent's own, else
    /// the policy's default; an untrusted agent only ever in `container` (chosen for it when
    /// nothing was asked, refused when something else was); and always one the policy allows.
    pub fn environment(
        &self,
        agent: &Agent,
        policy: &ExecutionPolicy,
        task_env: Option<Environment>,
    ) -> Result<Environment, Refusal> {
        let asked = task_env.or(agent.environment);
        let chosen = match (agent.trust, asked) {
            (Trust::Untrusted, Some(env)) if env != Environment::Container => {
                return Err(Refusal::Untrusted {
                    agent: agent.name.clone(),
                    asked: env.as_str(),
                });
            }
            (Trust::Untrusted, _) => Environment::Container,
            (Trust::Trusted, asked) => asked.unwrap_or(policy.environment),
        };
        if !policy.environments.contains(&chosen) {
            let allowed = policy
                .environments
                .iter()
                .map(|e| e.as_str())
                .collect::<Vec<_>>()
                .join(", ");
            return Err(Refusal::EnvironmentNotAllowed {
                asked: chosen.as_str(),
                allowed,
            });
        }
        Ok(chosen)
    }

    /// [`AgentRegistry::choose`] and [`AgentRegistry::environment`] together, with the timeout
    /// the run gets: the agent's, shortened to the policy's.
    pub fn select(
        &self,
        policy: &crate::policy::EffectivePolicy,
        task_agent: Option<&str>,
        task_env: Option<Environment>,
    ) -> Result<Selection, Refusal> {
        let agent = self.choose(&policy.agents, task_agent)?;
        let environment = self.environment(&agent, &policy.execution, task_env)?;
        let timeout = agent.timeout.min(policy.execution.timeout);
        Ok(Selection {
            agent,
            environment,
            timeout,
            stored: Vec::new(),
        })
    }
}
