//! Failures on demand: the next N API calls that match a method and a path pattern answer with a
//! server error, a rate limit, a delay or no answer at all, or are carried out and their answer
//! lost; the next N webhooks of a test's own actions (not of a client's API calls or pushes) are
//! delayed or dropped. Rules are used up in the order they were added.

use super::path_pattern::path_matches;
use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::Duration;

/// How [`Fault::describe`] starts for a delay, a fault after which the routes still answer (see
/// [`super::ApiCall::answer_injected`]).
pub(super) const DELAY_PREFIX: &str = "delay ";

/// How [`Fault::describe`] starts for a rewrite, after which the answer is still the routes' own
/// (with one value changed), so it is held to the forge's description like any other.
pub(super) const REWRITE_PREFIX: &str = "rewrite ";

/// How [`Fault::describe`] starts for a lost answer: the routes answered, and the call record
/// keeps that answer, although the caller never got it.
pub(super) const LOST_PREFIX: &str = "answer lost ";

/// What an API call gets instead of (or before) its answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Answer with this status (a 5xx, usually) and the forge's error body.
    Status(u16),
    /// GitHub's primary rate limit: 403 with `x-ratelimit-remaining: 0` and a reset this far ahead.
    RateLimit {
        /// When the limit resets.
        reset_after: Duration,
    },
    /// A secondary rate limit: this status (429 or 403) with `retry-after`.
    SecondaryRateLimit {
        /// 429 or 403.
        status: u16,
        /// The `retry-after` value.
        retry_after: Duration,
    },
    /// Refuse with this status and the forge's error body carrying this message, as the forge
    /// refuses for a reason of its own (a merge racing another merge: 409).
    Refuse {
        /// The status.
        status: u16,
        /// The error message.
        message: String,
    },
    /// Answer normally, but this much later.
    Delay(Duration),
    /// Hold the request without answering for this long (then 504), so the client times out.
    Timeout(Duration),
    /// Answer normally, but with the JSON value at `pointer` (`/required_approvals`) replaced by
    /// `value`: a forge answering something its description allows and ade does not expect.
    Rewrite {
        /// Where in the answer (a JSON pointer).
        pointer: String,
        /// What stands there instead, as JSON text.
        value: String,
    },
    /// Carry the call out, then lose its answer on the way back: the caller gets `status`
    /// after `hold` instead (a proxy's 502 at once, or a 504 held longer than the caller
    /// waits, so it times out). The forge acted; the caller cannot know.
    AnswerLost {
        /// What the caller gets instead of the answer.
        status: u16,
        /// How long it waits for it.
        hold: Duration,
    },
}

impl Fault {
    /// A short description for the call record.
    pub fn describe(&self) -> String {
        match self {
            Fault::Status(status) => format!("status {status}"),
            Fault::RateLimit { reset_after } => {
                format!("rate limit, reset in {}s", reset_after.as_secs())
            }
            Fault::SecondaryRateLimit {
                status,
                retry_after,
            } => format!(
                "secondary rate limit {status}, retry after {}s",
                retry_after.as_secs()
            ),
            Fault::Refuse { status, message } => format!("refuse {status}: {message}"),
            Fault::Delay(d) => format!("{DELAY_PREFIX}{}ms", d.as_millis()),
            Fault::Timeout(d) => format!("timeout {}ms", d.as_millis()),
            Fault::Rewrite { pointer, value } => format!("{REWRITE_PREFIX}{pointer} = {value}"),
            Fault::AnswerLost { status, hold } => format!(
                "{LOST_PREFIX}after the call was carried out: {status} after {}ms",
                hold.as_millis()
            ),
        }
    }
}

/// One rule: which calls, how many of them, and what they get.
#[derive(Clone, Debug)]
pub struct FaultRule {
    /// The method, or any.
    pub method: Option<String>,
    /// A path pattern (see [`path_matches`]).
    pub path: String,
    /// How many matching calls it still applies to.
    pub times: u32,
    /// What they get.
    pub fault: Fault,
}

impl FaultRule {
    /// The next call to `method` (`"*"` for any) on `path` gets `fault`; use [`FaultRule::times`]
    /// for more than one.
    pub fn new(method: &str, path: &str, fault: Fault) -> FaultRule {
        FaultRule {
            method: (method != "*").then(|| method.to_ascii_uppercase()),
            path: path.to_owned(),
            times: 1,
            fault,
        }
    }

    /// Applies to this many matching calls.
    pub fn times(mut self, times: u32) -> FaultRule {
        self.times = times;
        self
    }
}

/// What happens to an outgoing webhook.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HookFault {
    /// Sent this much later, after deliveries made meanwhile.
    Delay(Duration),
    /// Never sent (recorded as dropped; it can still be redelivered).
    Drop,
}

/// The rules in force.
#[derive(Debug, Default)]
pub struct Faults {
    api: Mutex<Vec<FaultRule>>,
    hooks: Mutex<VecDeque<HookFault>>,
}

impl Faults {
    /// Adds a rule for API calls.
    pub fn add(&self, rule: FaultRule) {
        self.api
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(rule);
    }

    /// The fault for this call, using up one application of the first matching rule.
    pub fn take(&self, method: &str, path: &str) -> Option<Fault> {
        let mut rules = self.api.lock().unwrap_or_else(|e| e.into_inner());
        let index = rules.iter().position(|r| {
            r.times > 0
                && r.method
                    .as_deref()
                    .is_none_or(|m| m.eq_ignore_ascii_case(method))
                && path_matches(&r.path, path)
        })?;
        rules[index].times -= 1;
        let fault = rules[index].fault.clone();
        if rules[index].times == 0 {
            rules.remove(index);
        }
        Some(fault)
    }

    /// Removes every API rule and webhook fault.
    pub fn clear(&self) {
        self.api.lock().unwrap_or_else(|e| e.into_inner()).clear();
        self.hooks.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }

    /// The next `n` webhooks of a test's own actions get `fault`.
    pub fn add_hooks(&self, n: usize, fault: HookFault) {
        let mut hooks = self.hooks.lock().unwrap_or_else(|e| e.into_inner());
        hooks.extend(std::iter::repeat_n(fault, n));
    }

    /// The fault for the next webhook, if any.
    pub fn take_hook(&self) -> Option<HookFault> {
        self.hooks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .pop_front()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_are_used_up_in_order() {
        let faults = Faults::default();
        faults.add(FaultRule::new("POST", "/repos/**", Fault::Status(502)).times(2));
        faults.add(FaultRule::new("*", "/repos/**", Fault::Status(503)));
        assert_eq!(faults.take("GET", "/repos/o/r"), Some(Fault::Status(503)));
        assert_eq!(faults.take("post", "/repos/o/r"), Some(Fault::Status(502)));
        assert_eq!(faults.take("POST", "/repos/o/r"), Some(Fault::Status(502)));
        assert_eq!(faults.take("POST", "/repos/o/r"), None);
        assert_eq!(faults.take("POST", "/user"), None);
    }

    #[test]
    fn a_lost_answer_says_the_call_was_carried_out() {
        let lost = Fault::AnswerLost {
            status: 502,
            hold: Duration::from_millis(1500),
        };
        assert_eq!(
            lost.describe(),
            "answer lost after the call was carried out: 502 after 1500ms"
        );
        assert!(lost.describe().starts_with(LOST_PREFIX));
    }
}
