//! Rate limits and goal budgets (docs/limits.md): what one user, one repository and one goal may
//! ask of ade, so that nobody's comments make ade post without end or spend without bound. The
//! rates are token buckets ([`bucket`]) stored in the database, so every replica counts the same;
//! the budgets are counted from the goal's runs ([`budget`]).

pub mod bucket;
pub mod budget;

pub use bucket::Bucket;
pub use budget::{BudgetLimit, Spent};

use crate::policy::RateLimitPolicy;

/// A rate ade counts in a token bucket.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rate {
    /// Command lines one user gets answered in one repository.
    CommandsPerUser,
    /// Command lines a repository gets answered, whoever wrote them.
    Commands,
    /// Accepted `/ade plan` commands in a repository.
    Plans,
    /// Runs started in a repository.
    Runs,
}

impl Rate {
    /// The policy key that sets it, as docs and replies name it.
    pub fn key(self) -> &'static str {
        match self {
            Rate::CommandsPerUser => "rate_limits.commands_per_user_per_hour",
            Rate::Commands => "rate_limits.commands_per_hour",
            Rate::Plans => "rate_limits.plans_per_hour",
            Rate::Runs => "rate_limits.runs_per_hour",
        }
    }

    /// Its allowance per hour under `policy`.
    pub fn per_hour(self, policy: &RateLimitPolicy) -> u32 {
        match self {
            Rate::CommandsPerUser => policy.commands_per_user_per_hour,
            Rate::Commands => policy.commands_per_hour,
            Rate::Plans => policy.plans_per_hour,
            Rate::Runs => policy.runs_per_hour,
        }
    }

    /// The name of its bucket for `repository` of `forge` (and `user`, for the per-user rate):
    /// logins and repository names compare without case, as the forges do.
    pub fn bucket(self, forge: &str, repository: &str, user: &str) -> String {
        let repository = repository.to_ascii_lowercase();
        match self {
            Rate::CommandsPerUser => format!(
                "commands_per_user:{forge}:{repository}:{}",
                user.to_ascii_lowercase()
            ),
            Rate::Commands => format!("commands:{forge}:{repository}"),
            Rate::Plans => format!("plans:{forge}:{repository}"),
            Rate::Runs => format!("runs:{forge}:{repository}"),
        }
    }

    /// The limit in words: `30 command lines per user per hour in this repository`.
    pub fn describe(self, per_hour: u32) -> String {
        match self {
            Rate::CommandsPerUser => {
                format!("{per_hour} command lines per user per hour in this repository")
            }
            Rate::Commands => format!("{per_hour} command lines per hour in this repository"),
            Rate::Plans => format!("{per_hour} `/ade plan` commands per hour in this repository"),
            Rate::Runs => format!("{per_hour} runs started per hour in this repository"),
        }
    }
}

/// A rate found spent: which, its allowance, when its next token comes, and whether the person
/// over it was told already in this spell (they are told once, then ade stays silent).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Over {
    /// The rate.
    pub rate: Rate,
    /// Its allowance per hour.
    pub per_hour: u32,
    /// When the next token comes (Unix ms).
    pub resets_at: i64,
    /// Whether someone was told about this spell already.
    pub told: bool,
}

impl Over {
    /// One sentence for a reply: the limit, its key and when it resets, in UTC and from `now`.
    pub fn sentence(&self, now: i64) -> String {
        format!(
            "this is over the limit of {} (`{}`); the next is allowed at {} ({})",
            self.rate.describe(self.per_hour),
            self.rate.key(),
            crate::clock::rfc3339(self.resets_at),
            in_words(self.resets_at - now)
        )
    }
}

/// `in 3 minutes`, `in 40 seconds`, `now`: a wait as a reply says it.
pub fn in_words(ms: i64) -> String {
    let secs = (ms + 999).div_euclid(1000);
    match secs {
        ..=0 => "now".to_string(),
        1 => "in 1 second".to_string(),
        2..=119 => format!("in {secs} seconds"),
        120..=7199 => format!("in {} minutes", (secs + 59) / 60),
        _ => format!("in {} hours", (secs + 3599) / 3600),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_named_without_case() {
        assert_eq!(
            Rate::CommandsPerUser.bucket("github", "Octo/Repo", "Mona"),
            "commands_per_user:github:octo/repo:mona"
        );
        assert_eq!(
            Rate::Runs.bucket("gitea", "Octo/Repo", "ignored"),
            "runs:gitea:octo/repo"
        );
    }

    #[test]
    fn a_wait_is_said_in_the_largest_sensible_unit() {
        assert_eq!(in_words(-5), "now");
        assert_eq!(in_words(1), "in 1 second");
        assert_eq!(in_words(45_000), "in 45 seconds");
        assert_eq!(in_words(120_000), "in 2 minutes");
        assert_eq!(in_words(121_000), "in 3 minutes");
        assert_eq!(in_words(3 * 3_600_000), "in 3 hours");
    }

    #[test]
    fn an_over_limit_sentence_names_the_key_and_the_time() {
        let over = Over {
            rate: Rate::CommandsPerUser,
            per_hour: 30,
            resets_at: 1_800_000_120_000,
            told: false,
        };
        assert_eq!(
            over.sentence(1_800_000_000_000),
            "this is over the limit of 30 command lines per user per hour in this repository \
             (`rate_limits.commands_per_user_per_hour`); the next is allowed at \
             2027-01-15T08:02:00Z (in 2 minutes)"
        );
    }
}
