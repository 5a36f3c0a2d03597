//! Who may act: the roles commands need and the agents tasks and plans may use.

use std::collections::{BTreeMap, BTreeSet};

use super::{Merge, Origin};
use crate::forge::Permission;
use crate::policy::Planner;
use crate::policy::effective::{AgentPolicy, AgentSet, RolePolicy};
use crate::policy::file::Roles;
use crate::policy::locate::KeyPath;
use crate::policy::server::RoleTable;

impl Merge<'_> {
    pub(super) fn roles(&mut self) -> RolePolicy {
        let floor = self.server.limits.min_roles;
        let builtin = RoleTable::default();
        let mut role = |verb: &str, get: fn(&Roles) -> Option<Permission>, floor: Permission| {
            let unset = builtin
                .required(verb)
                .unwrap_or(Permission::Admin)
                .max(floor);
            match self.pick(|p| get(&p.roles)) {
                Some((value, origin)) if value < floor => {
                    let message = format!(
                        "`{}` is below the server's minimum `{}` for /ade {} (limits.min_roles.{verb})",
                        name(value),
                        name(floor),
                        verb.replace('_', "-")
                    );
                    self.refuse(origin, &KeyPath::of(&["roles", verb]), message);
                    floor
                }
                Some((value, _)) => value,
                None => unset,
            }
        };
        let required = RoleTable {
            plan: role("plan", |r| r.plan, floor.plan),
            approve: role("approve", |r| r.approve, floor.approve),
            run: role("run", |r| r.run, floor.run),
            allow_unscanned: role(
                "allow_unscanned",
                |r| r.allow_unscanned,
                floor.allow_unscanned,
            ),
            retry: role("retry", |r| r.retry, floor.retry),
            verify: role("verify", |r| r.verify, floor.verify),
            cancel: role("cancel", |r| r.cancel, floor.cancel),
            status: role("status", |r| r.status, floor.status),
            help: role("help", |r| r.help, floor.help),
        };
        let allow_bots = match self.pick(|p| p.roles.allow_bots) {
            Some((true, origin)) if !self.server.limits.allow_bots => {
                let message = "the server does not let repositories allow bots (limits.allow_bots)";
                self.refuse(origin, &KeyPath::of(&["roles", "allow_bots"]), message);
                false
            }
            Some((allow, _)) => allow,
            None => false,
        };
        let named = |get: fn(&Roles) -> &BTreeMap<String, Permission>| {
            [&self.server.defaults, self.repo]
                .into_iter()
                .flat_map(|policy| get(&policy.roles))
                .map(|(name, role)| (name.to_lowercase(), *role))
                .collect()
        };
        RolePolicy {
            required,
            users: named(|r| &r.users),
            teams: named(|r| &r.teams),
            allow_bots,
        }
    }

    pub(super) fn agents(&mut self) -> AgentPolicy {
        let cap = self.server.limits.agents.clone();
        let allowed_key = KeyPath::of(&["agents", "allowed"]);
        let (allowed, allowed_origin) = match self.pick(|p| p.agents.allowed.clone()) {
            None => (
                cap.map_or(AgentSet::Any, |cap| {
                    AgentSet::Only(cap.into_iter().collect())
                }),
                None,
            ),
            Some((names, origin)) => {
                let mut set = BTreeSet::new();
                for (index, agent) in names.into_iter().enumerate() {
                    match &cap {
                        Some(cap) if !cap.contains(&agent) => {
                            let message = format!(
                                "`{agent}` is not among the server's agents (limits.agents: {})",
                                cap.join(", ")
                            );
                            self.refuse(origin, &allowed_key.index(index), message);
                        }
                        _ => {
                            set.insert(agent);
                        }
                    }
                }
                (AgentSet::Only(set), Some(origin))
            }
        };
        let default = self.pick(|p| p.agents.default.clone());
        let default = default.and_then(|(agent, origin)| {
            let ok = allowed.permits(&agent);
            if !ok {
                self.refuse_choice("default", &agent, origin, allowed_origin);
            }
            ok.then_some(agent)
        });
        let planner = match self.pick(|p| p.agents.planner.clone()) {
            Some((name, origin)) if name != "manual" && !allowed.permits(&name) => {
                self.refuse_choice("planner", &name, origin, allowed_origin);
                Planner::Manual
            }
            Some((name, _)) => Planner::from_policy(&name),
            None => Planner::Manual,
        };
        AgentPolicy {
            allowed,
            default,
            planner,
        }
    }

    /// Refuses an agent chosen by `agents.<key>` that `agents.allowed` leaves out. When the
    /// server chose it and the repository narrowed the list, the repository has to choose anew.
    fn refuse_choice(&mut self, key: &str, agent: &str, origin: Origin, allowed: Option<Origin>) {
        if origin == Origin::Server && allowed == Some(Origin::Repo) {
            let message = format!(
                "leaves out `{agent}`, the server's agents.{key}; set agents.{key} to an allowed agent"
            );
            self.refuse(Origin::Repo, &KeyPath::of(&["agents", "allowed"]), message);
        } else {
            let message = format!("`{agent}` is not an allowed agent here");
            self.refuse(origin, &KeyPath::of(&["agents", key]), message);
        }
    }
}

fn name(permission: Permission) -> &'static str {
    match permission {
        Permission::None => "none",
        Permission::Read => "read",
        Permission::Triage => "triage",
        Permission::Write => "write",
        Permission::Maintain => "maintain",
        Permission::Admin => "admin",
    }
}
