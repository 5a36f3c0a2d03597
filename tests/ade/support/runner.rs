//! The embedded runner of a story: its workdir under the story's scratch folder, and script
//! agents (`/bin/sh -c` scripts) registered the way an operator registers agents in `ade.toml`.

use std::path::{Path, PathBuf};

/// The runner's workdir under a story's scratch folder.
pub fn workdir(dir: &Path) -> PathBuf {
    dir.join("runner")
}

/// Writes `[runner]` and `agents` into a file under `dir` and loads them with ade's own loader.
pub fn runner_config(config: &mut ade::config::Config, dir: &Path, agents: &str) {
    runner_config_with(config, dir, "", agents);
}

/// [`runner_config`] with more `[runner]` lines (`path`, `agent_dirs`, `network`).
pub fn runner_config_with(
    config: &mut ade::config::Config,
    dir: &Path,
    runner: &str,
    agents: &str,
) {
    let file = runner_file(dir, runner, agents);
    let loaded = ade::config::Config::load(Some(&file), Vec::new()).expect("runner config loads");
    config.runner = loaded.runner;
    config.agents = loaded.agents;
}

/// Writes `[runner]` (with more `runner` lines) and `agents` into `dir/runner.toml` and returns
/// the file: the `ade.toml` of a real `ade serve`, or what [`runner_config_with`] loads.
pub fn runner_file(dir: &Path, runner: &str, agents: &str) -> PathBuf {
    let file = dir.join("runner.toml");
    std::fs::write(
        &file,
        format!(
            "[runner]\nworkdir = {:?}\nmax_parallel = 4\nagent_user = \"nobody\"\n{runner}\n{agents}",
            workdir(dir).display().to_string()
        ),
    )
    .unwrap();
    file
}

/// A trusted script agent named `script`, running `script` with `/bin/sh` in its worktree and
/// reading its prompt from the file `$ADE_PROMPT_FILE` names.
pub fn script_agent(script: &str, timeout_secs: u64) -> String {
    named_script_agent("script", script, timeout_secs)
}

/// [`script_agent`] registered as `name`: a second agent a story may switch to.
pub fn named_script_agent(name: &str, script: &str, timeout_secs: u64) -> String {
    format!(
        "[agents.{name}]\ncommand = [\"/bin/sh\", \"-c\", {script:?}]\nprompt = \"file\"\n\
         trust = \"trusted\"\nenvironment = \"worktree\"\ntimeout_secs = {timeout_secs}\n"
    )
}
