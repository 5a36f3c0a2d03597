//! Retry delays: exponential, capped, with jitter so that jobs failing together do not retry
//! together.

use std::time::Duration;

/// How long to wait before attempt `attempt + 1`, after attempt `attempt` (from 1) failed.
/// `jitter` in `[0, 1)` picks a point in the upper half of the exponential delay ("equal jitter").
pub fn delay(attempt: i64, base: Duration, max: Duration, jitter: f64) -> Duration {
    let exponent = attempt.saturating_sub(1).clamp(0, 32) as u32;
    let full = base
        .checked_mul(2u32.saturating_pow(exponent))
        .unwrap_or(max)
        .min(max);
    let half = full / 2;
    half + half.mul_f64(jitter.clamp(0.0, 1.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: Duration = Duration::from_secs(1);
    const MAX: Duration = Duration::from_secs(300);

    #[test]
    fn doubles_per_attempt_within_the_jitter_band() {
        for (attempt, full) in [(1, 1), (2, 2), (3, 4), (4, 8), (5, 16)] {
            let full = Duration::from_secs(full);
            assert_eq!(delay(attempt, BASE, MAX, 0.0), full / 2);
            assert_eq!(delay(attempt, BASE, MAX, 1.0), full);
            let mid = delay(attempt, BASE, MAX, 0.5);
            assert!(mid > full / 2 && mid < full, "attempt {attempt}: {mid:?}");
        }
    }

    #[test]
    fn never_exceeds_the_cap_even_for_absurd_attempts() {
        for attempt in [10, 11, 40, 1_000, i64::MAX] {
            assert!(delay(attempt, BASE, MAX, 0.999) <= MAX);
            assert!(delay(attempt, BASE, MAX, 0.0) >= MAX / 2);
        }
    }

    #[test]
    fn zeroth_and_negative_attempts_wait_the_base() {
        assert_eq!(delay(0, BASE, MAX, 1.0), BASE);
        assert_eq!(delay(-3, BASE, MAX, 1.0), BASE);
    }
}
