//! `[agents.<name>]`: the agents this server registers, checked whole at load so that a typo in
//! a placeholder, a variable an agent must not get, or a secret that cannot be read stops ade at
//! start, naming the key.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::Duration;

use serde::Deserialize;

use super::check::{Check, program};
use super::{ConfigError, Secret};
use crate::policy::Environment;
use crate::runner::agent::{
    Agent, AgentSecret, ArgTemplate, Leftovers, OutputFormat, Placeholder, PromptMode,
    SecretSource, Trust,
};
use crate::runner::env::{HostPort, Network};

const DEFAULT_TIMEOUT_SECS: u64 = 3600;
const DEFAULT_OUTPUT_CAP_BYTES: u64 = 10 << 20;

/// Variables ade sets itself, or that would let a value change what a program loads or runs.
const RESERVED: &[&str] = &[
    "PATH",
    "HOME",
    "LANG",
    "TMPDIR",
    "SHELL",
    "USER",
    "LOGNAME",
    "IFS",
    "ENV",
    "BASH_ENV",
    "NODE_OPTIONS",
    "PYTHONPATH",
    "PYTHONHOME",
    "PYTHONSTARTUP",
    "PERL5OPT",
    "PERL5LIB",
    "RUBYOPT",
    "RUBYLIB",
];

/// Prefixes of variables that reach the dynamic loader, git, ssh's agent, or ade itself.
const RESERVED_PREFIXES: &[&str] = &["LD_", "DYLD_", "GIT_", "SSH_", "ADE_"];

/// Forge credentials by their usual names: agents never see forge credentials.
pub(crate) const FORGE_CREDENTIALS: &[&str] = &[
    "GITHUB_TOKEN",
    "GH_TOKEN",
    "GH_ENTERPRISE_TOKEN",
    "GITHUB_ENTERPRISE_TOKEN",
    "GITEA_TOKEN",
    "FORGEJO_TOKEN",
    "GITLAB_TOKEN",
];

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default, expecting = "an [agents.<name>] table")]
pub(super) struct RawAgent {
    pub command: Option<Vec<String>>,
    pub prompt: Option<String>,
    pub environment: Option<String>,
    pub trust: Option<String>,
    pub model: Option<String>,
    pub secrets: Option<BTreeMap<String, RawSecret>>,
    pub env: Option<BTreeMap<String, String>>,
    pub timeout_secs: Option<u64>,
    pub output_cap_bytes: Option<u64>,
    pub version: Option<String>,
    pub version_command: Option<Vec<String>>,
    pub leftovers: Option<Vec<String>>,
    pub output: Option<String>,
    pub network: Option<String>,
    pub allow_hosts: Option<Vec<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(
    deny_unknown_fields,
    default,
    expecting = "a table { file = \"PATH\" }, { env = \"VARIABLE\" } or { store = \"NAME\" }"
)]
pub(super) struct RawSecret {
    pub file: Option<String>,
    pub env: Option<String>,
    pub store: Option<String>,
}

/// What agents must never be handed: the forge credentials of this configuration.
pub(super) struct ForgeSecrets<'a> {
    /// Secret values (webhook secrets, tokens).
    pub values: Vec<&'a str>,
    /// Files holding forge credentials (the GitHub App's key).
    pub files: Vec<&'a Path>,
}

pub(super) fn agents(
    check: &Check,
    raw: BTreeMap<String, RawAgent>,
    env: &BTreeMap<String, String>,
    forge: &ForgeSecrets,
) -> Result<Vec<Agent>, ConfigError> {
    raw.into_iter()
        .map(|(name, raw)| agent(check, name, raw, env, forge))
        .collect()
}

fn agent(
    check: &Check,
    name: String,
    raw: RawAgent,
    process_env: &BTreeMap<String, String>,
    forge: &ForgeSecrets,
) -> Result<Agent, ConfigError> {
    let key = |field: &str| format!("agents.{name}.{field}");
    let name_ok = !name.is_empty()
        && name.len() <= 64
        && name.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
    if !name_ok {
        return Err(check.invalid(
            &format!("agents.{name}"),
            "an agent name is lowercase letters, digits, - and _, starting with a letter or digit",
        ));
    }
    if name == "manual" {
        return Err(check.invalid(
            &format!("agents.{name}"),
            "\"manual\" names the manual planner; pick another name",
        ));
    }

    let prompt = match raw.prompt.as_deref() {
        None | Some("file") => PromptMode::File,
        Some("stdin") => PromptMode::Stdin,
        Some("argument") => PromptMode::Argument,
        Some(other) => {
            return Err(check.invalid(
                &key("prompt"),
                format!("{other:?} is not file, stdin or argument"),
            ));
        }
    };
    let trust = match raw.trust.as_deref() {
        None | Some("untrusted") => Trust::Untrusted,
        Some("trusted") => Trust::Trusted,
        Some(other) => {
            return Err(check.invalid(
                &key("trust"),
                format!("{other:?} is not trusted or untrusted"),
            ));
        }
    };
    let environment = match raw.environment.as_deref() {
        None => None,
        Some("worktree") => Some(Environment::Worktree),
        Some("container") => Some(Environment::Container),
        Some("main") => Some(Environment::Main),
        Some(other) => {
            return Err(check.invalid(
                &key("environment"),
                format!("{other:?} is not worktree, container or main"),
            ));
        }
    };
    if trust == Trust::Untrusted
        && let Some(env) = environment.filter(|e| *e != Environment::Container)
    {
        return Err(check.invalid(
            &key("environment"),
            format!(
                "{} is not allowed for an untrusted agent, which may run only in container (set trust = \"trusted\" to allow it)",
                env.as_str()
            ),
        ));
    }
    let model = match raw.model {
        Some(model)
            if model.trim().is_empty()
                || model.len() > 200
                || model.chars().any(char::is_control) =>
        {
            return Err(check.invalid(
                &key("model"),
                "must be a non-empty name of at most 200 characters",
            ));
        }
        model => model,
    };

    let Some(words) = raw.command.filter(|c| !c.is_empty()) else {
        return Err(check.invalid(
            &key("command"),
            "is required: the program and its arguments, as a list of strings",
        ));
    };
    let mut command = Vec::with_capacity(words.len());
    for (i, word) in words.iter().enumerate() {
        let template = ArgTemplate::parse(word).map_err(|err| {
            check.invalid(&format!("agents.{name}.command[{i}]"), err.to_string())
        })?;
        command.push(template);
    }
    match command[0].literal() {
        Some(program_name) => program(check, &format!("agents.{name}.command[0]"), &program_name)?,
        None => {
            return Err(check.invalid(
                &format!("agents.{name}.command[0]"),
                "the program must not hold a placeholder",
            ));
        }
    }

    let mut env = Vec::new();
    for (var, value) in raw.env.unwrap_or_default() {
        let var_key = format!("agents.{name}.env.{var}");
        variable_name(check, &var_key, &var)?;
        let template =
            ArgTemplate::parse(&value).map_err(|err| check.invalid(&var_key, err.to_string()))?;
        if template.placeholders().any(|p| p == Placeholder::Prompt) {
            return Err(check.invalid(&var_key, "{prompt} may be used only in command"));
        }
        env.push((var, template));
    }

    let used: BTreeSet<Placeholder> = command
        .iter()
        .chain(env.iter().map(|(_, t)| t))
        .flat_map(|t| t.placeholders().collect::<Vec<_>>())
        .collect();
    let has_prompt = used.contains(&Placeholder::Prompt);
    match prompt {
        PromptMode::Argument if !has_prompt => {
            return Err(check.invalid(
                &key("command"),
                "prompt = \"argument\" needs {prompt} in the command",
            ));
        }
        PromptMode::File | PromptMode::Stdin if has_prompt => {
            return Err(check.invalid(
                &key("command"),
                format!(
                    "{{prompt}} is only for prompt = \"argument\" (this agent has prompt = \"{}\")",
                    prompt.as_str()
                ),
            ));
        }
        _ => {}
    }
    if used.contains(&Placeholder::Model) && model.is_none() {
        return Err(check.invalid(&key("model"), "must be set: the command uses {model}"));
    }

    let mut secrets = Vec::new();
    for (var, source) in raw.secrets.unwrap_or_default() {
        let var_key = format!("agents.{name}.secrets.{var}");
        variable_name(check, &var_key, &var)?;
        if env.iter().any(|(plain, _)| *plain == var) {
            return Err(check.invalid(&var_key, "is also set in env"));
        }
        secrets.push(secret(check, &var_key, var, source, process_env, forge)?);
    }

    let timeout_secs = check.at_least(
        &key("timeout_secs"),
        raw.timeout_secs.unwrap_or(DEFAULT_TIMEOUT_SECS),
        1,
    )?;
    let output_cap = check.at_least(
        &key("output_cap_bytes"),
        raw.output_cap_bytes.unwrap_or(DEFAULT_OUTPUT_CAP_BYTES),
        1,
    )?;
    let version = match raw.version {
        Some(v) if v.is_empty() || v.chars().any(|c| c.is_whitespace() || c.is_control()) => {
            return Err(check.invalid(&key("version"), "must be a version without spaces"));
        }
        v => v,
    };
    let version_command = match raw.version_command {
        None => None,
        Some(argv) if argv.is_empty() => {
            return Err(check.invalid(
                &key("version_command"),
                "must name a program; leave it out for [program, \"--version\"]",
            ));
        }
        Some(argv) => {
            program(
                check,
                &format!("agents.{name}.version_command[0]"),
                &argv[0],
            )?;
            if argv.iter().any(|a| a.contains('\0')) {
                return Err(check.invalid(&key("version_command"), "contains a NUL character"));
            }
            Some(argv)
        }
    };
    let leftovers = Leftovers::new(raw.leftovers.unwrap_or_default())
        .map_err(|reason| check.invalid(&key("leftovers"), reason))?;
    let output = match raw.output.as_deref() {
        None => OutputFormat::Text,
        Some(name) => OutputFormat::from_name(name).ok_or_else(|| {
            let known: Vec<&str> = OutputFormat::ALL.iter().map(|f| f.as_str()).collect();
            check.invalid(
                &key("output"),
                format!("{name:?} is not one of {}", known.join(", ")),
            )
        })?,
    };

    let network = network(check, &name, raw.network, raw.allow_hosts, &env, output)?;

    Ok(Agent {
        name,
        command,
        prompt,
        environment,
        trust,
        model,
        secrets,
        env,
        timeout: Duration::from_secs(timeout_secs),
        output_cap,
        version,
        version_command,
        leftovers,
        output,
        network,
    })
}

/// `network` and `allow_hosts`: `allowlist` by default, its hosts by default the model
/// endpoints the registration names (`*_BASE_URL` variables in `env`, the known endpoint of its
/// output kind).
fn network(
    check: &Check,
    name: &str,
    network: Option<String>,
    allow_hosts: Option<Vec<String>>,
    env: &[(String, ArgTemplate)],
    output: OutputFormat,
) -> Result<Network, ConfigError> {
    let key = |field: &str| format!("agents.{name}.{field}");
    match network.as_deref() {
        None | Some("allowlist") => {}
        Some(other @ ("off" | "open")) => {
            if allow_hosts.is_some() {
                return Err(check.invalid(
                    &key("allow_hosts"),
                    format!(
                        "is only for network = \"allowlist\" (this agent has network = \"{other}\")"
                    ),
                ));
            }
            return Ok(if other == "off" {
                Network::Off
            } else {
                Network::Open
            });
        }
        Some(other) => {
            return Err(check.invalid(
                &key("network"),
                format!("{other:?} is not off, allowlist or open"),
            ));
        }
    }
    let hosts = match allow_hosts {
        Some(entries) => {
            let mut hosts = Vec::with_capacity(entries.len());
            for (i, entry) in entries.iter().enumerate() {
                let host = HostPort::parse(entry).map_err(|reason| {
                    check.invalid(&format!("agents.{name}.allow_hosts[{i}]"), reason)
                })?;
                if !hosts.contains(&host) {
                    hosts.push(host);
                }
            }
            hosts
        }
        None => default_allow_hosts(env, output),
    };
    Ok(Network::Allowlist(hosts))
}

/// The model endpoints a registration names: the host and port of each URL in an `env`
/// variable ending in `_BASE_URL` (`ANTHROPIC_BASE_URL`), and the public API of its output
/// kind.
fn default_allow_hosts(env: &[(String, ArgTemplate)], output: OutputFormat) -> Vec<HostPort> {
    let mut hosts: Vec<HostPort> = env
        .iter()
        .filter(|(name, _)| name.to_ascii_uppercase().ends_with("_BASE_URL"))
        .filter_map(|(_, value)| value.literal())
        .filter_map(|url| HostPort::from_url(&url))
        .collect();
    let known = match output {
        OutputFormat::ClaudeJson => Some("api.anthropic.com"),
        OutputFormat::CodexJson => Some("api.openai.com"),
        _ => None,
    };
    if let Some(host) = known.and_then(|h| HostPort::parse(h).ok())
        && !hosts.contains(&host)
    {
        hosts.push(host);
    }
    hosts
}

/// An environment variable name an agent may be given.
fn variable_name(check: &Check, key: &str, name: &str) -> Result<(), ConfigError> {
    let well_formed = name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    if !well_formed {
        return Err(check.invalid(key, "is not a variable name (letters, digits and _)"));
    }
    let upper = name.to_ascii_uppercase();
    if RESERVED.contains(&upper.as_str()) {
        return Err(check.invalid(key, format!("{name} is set by ade or reserved")));
    }
    if let Some(prefix) = RESERVED_PREFIXES.iter().find(|p| upper.starts_with(**p)) {
        return Err(check.invalid(
            key,
            format!("variables starting with {prefix} are reserved"),
        ));
    }
    if FORGE_CREDENTIALS.contains(&upper.as_str()) {
        return Err(check.invalid(
            key,
            format!("{name} names a forge credential, which agents never see"),
        ));
    }
    Ok(())
}

fn secret(
    check: &Check,
    key: &str,
    name: String,
    raw: RawSecret,
    process_env: &BTreeMap<String, String>,
    forge: &ForgeSecrets,
) -> Result<AgentSecret, ConfigError> {
    let (source, value) = match (raw.file, raw.env, raw.store) {
        (None, None, Some(stored)) => {
            crate::secrets::name::check(&stored).map_err(|reason| check.invalid(key, reason))?;
            // Read from ade's secret store when each run starts, so `ade secrets set` takes
            // effect without a restart; `ade serve` checks at start that it is stored.
            return Ok(AgentSecret {
                name,
                source: SecretSource::Store(stored),
                value: None,
            });
        }
        (Some(path), None, None) => {
            if forge
                .files
                .iter()
                .any(|forge_file| same_file(Path::new(&path), forge_file))
            {
                return Err(check.invalid(
                    key,
                    format!("{path} holds a forge credential, which agents never see"),
                ));
            }
            let text = check.read_secret_file(key, &path)?;
            let value = text.trim_end_matches(['\n', '\r']).to_owned();
            if value.is_empty() {
                return Err(check.invalid(key, format!("{path} is empty")));
            }
            (SecretSource::File(path), value)
        }
        (None, Some(var), None) => {
            let upper = var.to_ascii_uppercase();
            if upper.starts_with("ADE_") && var.contains("__") {
                return Err(check.invalid(
                    key,
                    format!("{var} is an ade configuration key, not a secret for agents"),
                ));
            }
            if FORGE_CREDENTIALS.contains(&upper.as_str()) {
                return Err(check.invalid(
                    key,
                    format!("{var} names a forge credential, which agents never see"),
                ));
            }
            match process_env.get(&var) {
                Some(value) if !value.is_empty() => (SecretSource::Env(var), value.clone()),
                _ => {
                    return Err(check.invalid(
                        key,
                        format!("ade's environment has no variable {var} (or it is empty)"),
                    ));
                }
            }
        }
        _ => {
            return Err(check.invalid(
                key,
                "set exactly one of file = \"PATH\", env = \"VARIABLE\" or store = \"NAME\"",
            ));
        }
    };
    if forge.values.contains(&value.as_str()) {
        return Err(check.invalid(
            key,
            "its value is one of ade's forge credentials, which agents never see",
        ));
    }
    Ok(AgentSecret {
        name,
        source,
        value: Some(Secret::new(value)),
    })
}

/// Whether two paths name the same file (by their canonical paths, or as written if either
/// cannot be resolved).
fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}
