//! Who may do what under the policy in force: the role overrides a repository's policy sets, and
//! the policy's teams a login belongs to. The command job checks a command's author with them; a
//! review asking for changes is checked the same way, as `/ade retry` (`review/requested.rs`).

use std::collections::HashMap;

use crate::command::{self, Requester, RoleOverrides};
use crate::forge::{Forge, Permission, RepoRef, Team};
use crate::jobs::JobError;
use crate::policy::EffectivePolicy;

/// The teams named in the policy's role grants that `login` belongs to. The forge is asked only
/// about teams the policy names, and only when it names any.
pub async fn teams_of(
    forge: &dyn Forge,
    repo: &RepoRef,
    policy: &EffectivePolicy,
    login: &str,
) -> Result<Vec<String>, JobError> {
    let mut teams = Vec::new();
    for name in policy.roles.teams.keys() {
        let Some(team) = Team::parse(name) else {
            continue;
        };
        if forge.is_team_member(repo, &team, login).await? {
            teams.push(name.clone());
        }
    }
    Ok(teams)
}

/// The roles the policy sets, in the shape the command table checks.
pub fn overrides(policy: &EffectivePolicy) -> RoleOverrides {
    let mut min_permission = HashMap::new();
    for verb in command::Verb::ALL {
        if let Some(needed) = policy.roles.required.required(verb.policy_key()) {
            min_permission.insert(verb, needed);
        }
    }
    RoleOverrides {
        users: policy.roles.users.clone().into_iter().collect(),
        teams: policy.roles.teams.clone().into_iter().collect(),
        min_permission,
    }
}

/// The permission `login` acts with under `policy`: the forge's, raised by the policy's team
/// grants or replaced by its per-user one.
pub async fn permission_of(
    forge: &dyn Forge,
    repo: &RepoRef,
    policy: &EffectivePolicy,
    login: &str,
) -> Result<Permission, JobError> {
    let permission = forge.permission(repo, login).await?;
    let teams = teams_of(forge, repo, policy, login).await?;
    let requester = Requester {
        login,
        permission,
        teams: &teams,
    };
    Ok(requester.effective_permission(&overrides(policy)))
}
