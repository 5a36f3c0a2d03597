//! Who plans a goal: the policy names it (`agents.planner`) and every spec records it. It lives
//! with the policy, below the spec, so the spec can read the policy and not the other way round.

use std::fmt;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Who wrote a spec's tasks.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Deserialize, Serialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum Planner {
    /// The manual planner: the task list, one task per item.
    Manual,
    /// A planner agent, by its registered name.
    Agent {
        /// The agent's name.
        name: String,
    },
}

impl Planner {
    /// Reads the policy's spelling: `manual`, or an agent's name.
    pub fn from_policy(name: &str) -> Planner {
        match name {
            "manual" => Planner::Manual,
            agent => Planner::Agent {
                name: agent.to_owned(),
            },
        }
    }
}

impl fmt::Display for Planner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Planner::Manual => f.write_str("manual"),
            Planner::Agent { name } => f.write_str(name),
        }
    }
}
