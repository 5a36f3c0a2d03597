//! A goal's budget: how many runs it started, how long their agents ran and what the agents said
//! they cost, against the policy's `[budget]`. A run under way counts the time since it was let
//! through until its agent's own time is recorded, so parallel runs cannot each spend the whole
//! remainder.

use crate::policy::BudgetPolicy;

/// Micro-dollars in a dollar: costs are stored as integers.
pub const MICRO_USD: i64 = 1_000_000;

/// What a goal has spent so far.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Spent {
    /// Runs let through (started), this one included once it is.
    pub runs: u32,
    /// Agent time in milliseconds: finished runs' agents, and runs under way since they started.
    pub agent_ms: i64,
    /// Reported agent cost in micro-dollars.
    pub cost_micro_usd: i64,
}

/// A part of the budget.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BudgetLimit {
    /// `budget.runs`.
    Runs,
    /// `budget.agent_minutes`.
    AgentMinutes,
    /// `budget.cost_usd`.
    Cost,
}

impl BudgetLimit {
    /// The policy key that sets it.
    pub fn key(self) -> &'static str {
        match self {
            BudgetLimit::Runs => "budget.runs",
            BudgetLimit::AgentMinutes => "budget.agent_minutes",
            BudgetLimit::Cost => "budget.cost_usd",
        }
    }

    /// The budget in words with what was spent: `the goal's budget of 600 agent minutes is
    /// spent (612 used)`.
    pub fn spent_sentence(self, spent: &Spent, budget: &BudgetPolicy) -> String {
        let (limit, used) = match self {
            BudgetLimit::Runs => (format!("{} runs", budget.runs), format!("{}", spent.runs)),
            BudgetLimit::AgentMinutes => (
                format!("{} agent minutes", budget.agent_minutes),
                format!("{}", minutes(spent.agent_ms)),
            ),
            BudgetLimit::Cost => (
                format!("${}", budget.cost_usd),
                dollars(spent.cost_micro_usd),
            ),
        };
        format!(
            "the goal's budget of {limit} (`{}`) is spent ({used} used); a maintainer can raise it in `.ade/config.toml` and start the task again with `/ade run`",
            self.key()
        )
    }
}

impl Spent {
    /// The first part of `budget` that is spent for a run about to start: the run would be one
    /// too many, or the minutes or the cost are used up.
    pub fn before_start(&self, budget: &BudgetPolicy) -> Option<BudgetLimit> {
        if self.runs >= budget.runs {
            Some(BudgetLimit::Runs)
        } else {
            self.while_running(budget)
        }
    }

    /// The part of `budget` that is spent while runs are under way (the runs themselves are
    /// counted when they start): the agent minutes or the cost.
    pub fn while_running(&self, budget: &BudgetPolicy) -> Option<BudgetLimit> {
        if self.agent_ms >= i64::from(budget.agent_minutes) * 60_000 {
            Some(BudgetLimit::AgentMinutes)
        } else if self.cost_micro_usd >= i64::from(budget.cost_usd) * MICRO_USD {
            Some(BudgetLimit::Cost)
        } else {
            None
        }
    }

    /// What is left of each part, for `/ade status`: `41 of 50 runs, 512 of 600 agent minutes,
    /// $87.65 of $100 reported cost`.
    pub fn left(&self, budget: &BudgetPolicy) -> String {
        let runs = budget.runs.saturating_sub(self.runs);
        let minutes_left = (i64::from(budget.agent_minutes) - minutes(self.agent_ms)).max(0);
        let cost_left = (i64::from(budget.cost_usd) * MICRO_USD - self.cost_micro_usd).max(0);
        format!(
            "{runs} of {} runs, {minutes_left} of {} agent minutes, {} of ${} reported cost",
            budget.runs,
            budget.agent_minutes,
            dollars(cost_left),
            budget.cost_usd
        )
    }
}

/// Whole minutes used, rounded up: a run of 10 seconds used a minute of the budget's count.
fn minutes(ms: i64) -> i64 {
    (ms.max(0) + 59_999) / 60_000
}

/// `$87.65`.
fn dollars(micro: i64) -> String {
    let cents = micro.max(0) / 10_000;
    format!("${}.{:02}", cents / 100, cents % 100)
}

/// A reported cost in dollars as stored micro-dollars; nothing for a value that is not a cost.
pub fn micro_usd(dollars: f64) -> Option<i64> {
    (0.0..1e9)
        .contains(&dollars)
        .then(|| (dollars * MICRO_USD as f64).round() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    const BUDGET: BudgetPolicy = BudgetPolicy {
        runs: 3,
        agent_minutes: 10,
        cost_usd: 5,
    };

    #[test]
    fn a_run_may_start_while_every_part_has_something_left() {
        let spent = Spent {
            runs: 2,
            agent_ms: 9 * 60_000,
            cost_micro_usd: 4_990_000,
        };
        assert_eq!(spent.before_start(&BUDGET), None);
        assert_eq!(
            Spent { runs: 3, ..spent }.before_start(&BUDGET),
            Some(BudgetLimit::Runs)
        );
        assert_eq!(
            Spent {
                agent_ms: 600_000,
                ..spent
            }
            .before_start(&BUDGET),
            Some(BudgetLimit::AgentMinutes)
        );
        assert_eq!(
            Spent {
                cost_micro_usd: 5_000_000,
                ..spent
            }
            .while_running(&BUDGET),
            Some(BudgetLimit::Cost)
        );
        assert_eq!(
            Spent { runs: 3, ..spent }.while_running(&BUDGET),
            None,
            "a run under way is not stopped for being the last one allowed"
        );
    }

    #[test]
    fn what_is_left_is_said_in_runs_minutes_and_dollars() {
        let spent = Spent {
            runs: 1,
            agent_ms: 61_000,
            cost_micro_usd: 1_234_567,
        };
        assert_eq!(
            spent.left(&BUDGET),
            "2 of 3 runs, 8 of 10 agent minutes, $3.76 of $5 reported cost"
        );
        assert_eq!(
            Spent {
                runs: 9,
                agent_ms: 1 << 40,
                cost_micro_usd: i64::MAX
            }
            .left(&BUDGET),
            "0 of 3 runs, 0 of 10 agent minutes, $0.00 of $5 reported cost"
        );
    }

    #[test]
    fn only_a_plausible_cost_is_stored() {
        assert_eq!(micro_usd(0.0123456), Some(12_346));
        assert_eq!(micro_usd(-1.0), None);
        assert_eq!(micro_usd(f64::NAN), None);
        assert_eq!(micro_usd(1e12), None);
    }

    #[test]
    fn a_spent_budget_says_which_key_raises_it() {
        let spent = Spent {
            runs: 1,
            agent_ms: 630_000,
            cost_micro_usd: 0,
        };
        assert_eq!(
            BudgetLimit::AgentMinutes.spent_sentence(&spent, &BUDGET),
            "the goal's budget of 10 agent minutes (`budget.agent_minutes`) is spent (11 used); a maintainer can raise it in `.ade/config.toml` and start the task again with `/ade run`"
        );
    }
}
