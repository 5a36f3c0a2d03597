//! A token bucket that refills over an hour: `per_hour` tokens at most, one coming back every
//! hour / `per_hour`. A burst may spend the whole allowance at once; after that one command (or
//! run) per refill. Kept in thousandths of a token so that the stored state is an integer.

/// Thousandths of a token in one token.
const MILLI: i64 = 1000;

/// Milliseconds in the hour the allowance refills over.
const HOUR_MS: i64 = 3_600_000;

/// A bucket as stored: what was left at `updated_at`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Bucket {
    /// Thousandths of a token left.
    pub milli_tokens: i64,
    /// When `milli_tokens` was counted (Unix ms).
    pub updated_at: i64,
}

impl Bucket {
    /// A bucket never used: full.
    pub fn full(per_hour: u32, now: i64) -> Bucket {
        Bucket {
            milli_tokens: capacity(per_hour),
            updated_at: now,
        }
    }

    /// The bucket as it stands at `now`: refilled for the time passed, never above its capacity
    /// (which may have shrunk since it was stored, when the policy lowered the limit). Only the
    /// time the refill used up is counted as spent, so frequent looks lose no fraction of a
    /// token. A clock that went backwards refills nothing.
    pub fn at(self, per_hour: u32, now: i64) -> Bucket {
        let cap = capacity(per_hour) as i128;
        let elapsed = (now - self.updated_at).max(0) as i128;
        let refilled = elapsed * cap / HOUR_MS as i128;
        let tokens = self.milli_tokens as i128 + refilled;
        if tokens >= cap {
            return Bucket {
                milli_tokens: cap as i64,
                updated_at: now.max(self.updated_at),
            };
        }
        Bucket {
            milli_tokens: tokens as i64,
            updated_at: self.updated_at + (refilled * HOUR_MS as i128 / cap) as i64,
        }
    }

    /// Whether a whole token is left.
    pub fn has_token(self) -> bool {
        self.milli_tokens >= MILLI
    }

    /// The bucket with one token taken; call only when [`Bucket::has_token`].
    pub fn taken(self) -> Bucket {
        Bucket {
            milli_tokens: self.milli_tokens - MILLI,
            ..self
        }
    }

    /// When the bucket next holds a whole token (Unix ms): now if it does.
    pub fn next_token_at(self, per_hour: u32) -> i64 {
        let missing = (MILLI - self.milli_tokens).max(0);
        if missing == 0 {
            return self.updated_at;
        }
        let rate = capacity(per_hour) as i128;
        let wait = ((missing as i128 * HOUR_MS as i128 + rate - 1) / rate) as i64;
        self.updated_at + wait
    }
}

/// The most a bucket of `per_hour` holds, in thousandths of a token (at least one token).
fn capacity(per_hour: u32) -> i64 {
    i64::from(per_hour.max(1)) * MILLI
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: i64 = 1_800_000_000_000;

    fn spend(mut bucket: Bucket, per_hour: u32, now: i64, n: usize) -> (Bucket, usize) {
        let mut taken = 0;
        for _ in 0..n {
            bucket = bucket.at(per_hour, now);
            if !bucket.has_token() {
                break;
            }
            bucket = bucket.taken();
            taken += 1;
        }
        (bucket, taken)
    }

    #[test]
    fn a_full_bucket_allows_the_hours_allowance_at_once_and_no_more() {
        let (bucket, taken) = spend(Bucket::full(30, T0), 30, T0, 100);
        assert_eq!(taken, 30);
        assert!(!bucket.has_token());
        assert_eq!(
            bucket.next_token_at(30),
            T0 + 120_000,
            "one token every 2 minutes"
        );
    }

    #[test]
    fn tokens_come_back_one_per_hour_over_the_limit() {
        let (bucket, _) = spend(Bucket::full(6, T0), 6, T0, 6);
        assert!(!bucket.at(6, T0 + 599_999).has_token());
        let later = bucket.at(6, T0 + 600_000);
        assert!(later.has_token());
        assert!(!later.taken().has_token());
        let hour = bucket.at(6, T0 + 3_600_000);
        assert_eq!(spend(hour, 6, T0 + 3_600_000, 100).1, 6);
        assert_eq!(
            bucket.at(6, T0 + 100 * 3_600_000).milli_tokens,
            6000,
            "never above the capacity"
        );
    }

    #[test]
    fn a_lowered_limit_shrinks_what_is_left_and_a_clock_going_back_refills_nothing() {
        let full = Bucket::full(100, T0);
        assert_eq!(full.at(5, T0).milli_tokens, 5000);
        let (empty, _) = spend(full, 100, T0, 100);
        let back = empty.at(100, T0 - 60_000);
        assert_eq!(back.milli_tokens, 0);
        assert_eq!(back.updated_at, T0);
    }

    #[test]
    fn looking_often_loses_nothing_of_the_refill() {
        let (mut bucket, _) = spend(Bucket::full(2, T0), 2, T0, 2);
        let mut now = T0;
        while now < T0 + 1_800_000 {
            now += 700;
            bucket = bucket.at(2, now);
        }
        assert!(bucket.has_token(), "{bucket:?}");
        assert_eq!(
            Bucket::full(2, T0)
                .taken()
                .taken()
                .at(2, T0 + 1_799_999)
                .next_token_at(2),
            T0 + 1_800_000
        );
    }

    #[test]
    fn the_next_token_is_due_when_a_whole_one_has_refilled() {
        let half = Bucket {
            milli_tokens: 500,
            updated_at: T0,
        };
        assert_eq!(half.next_token_at(1), T0 + 1_800_000);
        assert_eq!(Bucket::full(1, T0).next_token_at(1), T0);
        assert_eq!(half.at(1, half.next_token_at(1)).milli_tokens, 1000);
    }
}
