//! The one retry loop of both forge clients: rate limits are waited out when the wait fits the
//! call's budget, 5xx and connection failures are retried with backoff a few times, and what is
//! left is reported so the job queue can reschedule. Nothing here ever retries without waiting.

use super::Reply;
use crate::clock::{Clock, SystemClock};
use crate::forge::{ForgeError, ForgeResult};
use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

/// How long to wait on a rate-limit answer that names no time (GitHub's advice for secondary
/// limits: at least one minute).
const UNNAMED_RATE_LIMIT_WAIT: Duration = Duration::from_secs(60);

/// How one forge call retries. The defaults suit a job worker: a call gives up after a minute of
/// waiting and leaves longer waits to the job queue's own backoff; tests shrink every figure.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Total time one call may spend waiting between its attempts. A wait that would not fit is
    /// not started: the call fails at once with `RateLimited` or `Unavailable`.
    pub budget: Duration,
    /// Retries after a 5xx answer, a failed connection or a timeout.
    pub transient_retries: u32,
    /// Retries after a rate-limit answer.
    pub rate_limit_retries: u32,
    /// The first backoff after a transient failure; each further one doubles, with jitter. Also
    /// the shortest wait on a rate limit, so a reset time in the past never means a busy loop.
    pub backoff_base: Duration,
    /// The longest backoff after a transient failure.
    pub backoff_max: Duration,
    /// How long one attempt may take before it counts as a transient failure.
    pub request_timeout: Duration,
}

impl Default for RetryPolicy {
    fn default() -> RetryPolicy {
        RetryPolicy {
            budget: Duration::from_secs(60),
            transient_retries: 3,
            rate_limit_retries: 3,
            backoff_base: Duration::from_millis(500),
            backoff_max: Duration::from_secs(8),
            request_timeout: Duration::from_secs(30),
        }
    }
}

/// What a forge client is built with besides its credentials: the retry rules and the clock used
/// to read rate-limit reset times and token expiry (injected so tests control them).
#[derive(Clone)]
pub struct ClientOptions {
    /// Retries of one call.
    pub retry: RetryPolicy,
    /// The wall clock.
    pub clock: Arc<dyn Clock>,
}

impl Default for ClientOptions {
    fn default() -> ClientOptions {
        ClientOptions {
            retry: RetryPolicy::default(),
            clock: Arc::new(SystemClock),
        }
    }
}

impl fmt::Debug for ClientOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientOptions")
            .field("retry", &self.retry)
            .finish_non_exhaustive()
    }
}

/// What an answer means for the retry loop.
#[derive(Debug, PartialEq, Eq)]
enum Class {
    /// Hand it to the caller, success or not.
    Final,
    /// A rate limit: wait this long, then try again.
    RateLimited(Duration),
    /// A server failure worth another attempt after backoff.
    Transient,
}

fn classify(reply: &Reply, now_ms: i64, policy: &RetryPolicy) -> Class {
    let status = reply.status.as_u16();
    if status == 403 || status == 429 {
        if let Some(secs) = reply
            .header("retry-after")
            .and_then(|v| v.trim().parse::<u64>().ok())
        {
            return Class::RateLimited(Duration::from_secs(secs).max(policy.backoff_base));
        }
        if reply.header("x-ratelimit-remaining").map(str::trim) == Some("0") {
            let wait = reply
                .header("x-ratelimit-reset")
                .and_then(|v| v.trim().parse::<i64>().ok())
                .map(|reset| {
                    Duration::from_millis(
                        reset.saturating_mul(1000).saturating_sub(now_ms).max(0) as u64
                    )
                })
                .unwrap_or(UNNAMED_RATE_LIMIT_WAIT);
            return Class::RateLimited(wait.max(policy.backoff_base));
        }
        if status == 429
            || reply
                .message()
                .to_lowercase()
                .contains("secondary rate limit")
        {
            return Class::RateLimited(UNNAMED_RATE_LIMIT_WAIT);
        }
        return Class::Final;
    }
    if reply.status.is_server_error() {
        return Class::Transient;
    }
    Class::Final
}

/// Runs `attempt` until it yields an answer the caller must see, waiting out rate limits and
/// backing off after transient failures within `options.retry`. `attempt` yields the answer, or
/// the transport's failure as text; `what` names the call in errors and logs.
pub(crate) async fn send_with_retries<F, Fut>(
    options: &ClientOptions,
    what: &str,
    mut attempt: F,
) -> ForgeResult<Reply>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Reply, String>>,
{
    let policy = &options.retry;
    let started = tokio::time::Instant::now();
    let (mut transient, mut limited) = (0u32, 0u32);
    loop {
        let outcome = match tokio::time::timeout(policy.request_timeout, attempt()).await {
            Ok(outcome) => outcome,
            Err(_) => Err(format!(
                "no answer within {} ms",
                policy.request_timeout.as_millis()
            )),
        };
        let (wait, failure) = match outcome {
            Ok(reply) => match classify(&reply, options.clock.now_ms(), policy) {
                Class::Final => return Ok(reply),
                Class::RateLimited(wait) => {
                    limited += 1;
                    let failure = ForgeError::RateLimited {
                        retry_after_ms: wait.as_millis() as u64,
                    };
                    if limited > policy.rate_limit_retries {
                        return Err(failure);
                    }
                    (wait, failure)
                }
                Class::Transient => {
                    transient += 1;
                    let failure = reply.error(what);
                    if transient > policy.transient_retries {
                        return Err(failure);
                    }
                    (backoff(policy, transient), failure)
                }
            },
            Err(transport) => {
                transient += 1;
                let failure = ForgeError::Unavailable(format!("{what}: {transport}"));
                if transient > policy.transient_retries {
                    return Err(failure);
                }
                (backoff(policy, transient), failure)
            }
        };
        if started.elapsed() + wait > policy.budget {
            return Err(failure);
        }
        tracing::info!(
            call = what,
            wait_ms = wait.as_millis() as u64,
            reason = %failure,
            "forge call waits before retrying"
        );
        tokio::time::sleep(wait).await;
    }
}

/// The wait before retry number `retry` (from 1) after a transient failure: exponential from
/// `backoff_base` to `backoff_max`, with jitter.
pub(crate) fn backoff(policy: &RetryPolicy, retry: u32) -> Duration {
    crate::backoff::delay(
        i64::from(retry),
        policy.backoff_base,
        policy.backoff_max,
        fastrand::f64(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::{HeaderMap, HeaderValue, StatusCode};

    fn reply(status: u16, headers: &[(&'static str, &str)], body: &str) -> Reply {
        let mut map = HeaderMap::new();
        for (k, v) in headers {
            map.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        Reply {
            status: StatusCode::from_u16(status).unwrap(),
            headers: map,
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn primary_limits_wait_until_the_reset_time() {
        let p = RetryPolicy::default();
        let r = reply(
            403,
            &[
                ("x-ratelimit-remaining", "0"),
                ("x-ratelimit-reset", "1000"),
            ],
            "",
        );
        assert_eq!(
            classify(&r, 998_000, &p),
            Class::RateLimited(Duration::from_secs(2))
        );
        assert_eq!(
            classify(&r, 2_000_000, &p),
            Class::RateLimited(p.backoff_base),
            "a reset in the past still waits"
        );
    }

    #[test]
    fn retry_after_wins_and_unnamed_limits_wait_a_minute() {
        let p = RetryPolicy::default();
        let r = reply(429, &[("retry-after", "3")], "");
        assert_eq!(
            classify(&r, 0, &p),
            Class::RateLimited(Duration::from_secs(3))
        );
        let r = reply(
            403,
            &[],
            r#"{"message":"You have exceeded a secondary rate limit."}"#,
        );
        assert_eq!(
            classify(&r, 0, &p),
            Class::RateLimited(UNNAMED_RATE_LIMIT_WAIT)
        );
        let r = reply(429, &[], "");
        assert_eq!(
            classify(&r, 0, &p),
            Class::RateLimited(UNNAMED_RATE_LIMIT_WAIT)
        );
    }

    #[test]
    fn plain_refusals_and_client_errors_are_final_and_5xx_transient() {
        let p = RetryPolicy::default();
        let r = reply(
            403,
            &[("x-ratelimit-remaining", "4999")],
            r#"{"message":"Resource not accessible by integration"}"#,
        );
        assert_eq!(classify(&r, 0, &p), Class::Final);
        assert_eq!(classify(&reply(404, &[], ""), 0, &p), Class::Final);
        assert_eq!(classify(&reply(503, &[], ""), 0, &p), Class::Transient);
    }
}
