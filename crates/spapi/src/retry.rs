//! How often and how long to retry throttled (429) and unavailable (5xx) answers.
//!
//! Amazon asks clients to back off exponentially with jitter on 429 and 5xx
//! (<https://developer-docs.amazon.com/sp-api/docs/usage-plans-and-rate-limits>); "full
//! jitter" spreads many Lambdas hitting the same bucket
//! (<https://aws.amazon.com/blogs/architecture/exponential-backoff-and-jitter/>). Attempts
//! are bounded so that a Lambda fails with `Throttled` / `UpstreamUnavailable` well inside
//! its timeout and the state machine decides what happens next.

use std::time::Duration;

use rand::Rng;

/// Bounded exponential backoff with full jitter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Total attempts, the first one included (at least 1).
    pub max_attempts: u32,
    /// The backoff ceiling before the first retry; it doubles per retry.
    pub base_delay: Duration,
    /// The largest backoff ceiling.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    /// 5 attempts, backoff ceilings 1 s, 2 s, 4 s, 8 s (at most 20 s).
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 5,
            base_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(20),
        }
    }
}

impl RetryPolicy {
    /// No waiting between attempts (tests).
    pub fn immediate(max_attempts: u32) -> Self {
        RetryPolicy {
            max_attempts,
            base_delay: Duration::ZERO,
            max_delay: Duration::ZERO,
        }
    }

    /// Whether another attempt may follow attempt number `attempt` (1-based).
    pub fn allows_retry_after(&self, attempt: u32) -> bool {
        attempt < self.max_attempts.max(1)
    }

    /// The wait after failed attempt number `attempt` (1-based): uniform in
    /// `0..=min(max_delay, base_delay * 2^(attempt-1))`.
    pub fn backoff(&self, attempt: u32, rng: &mut impl Rng) -> Duration {
        let ceiling = self.ceiling(attempt);
        if ceiling.is_zero() {
            return Duration::ZERO;
        }
        let nanos = u64::try_from(ceiling.as_nanos()).unwrap_or(u64::MAX);
        Duration::from_nanos(rng.random_range(0..=nanos))
    }

    fn ceiling(&self, attempt: u32) -> Duration {
        let doublings = attempt.saturating_sub(1).min(31);
        self.base_delay
            .saturating_mul(1u32 << doublings)
            .min(self.max_delay)
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    use super::*;

    #[test]
    fn backoff_stays_under_a_doubling_ceiling_capped_at_max_delay() {
        let policy = RetryPolicy {
            max_attempts: 10,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(1000),
        };
        let mut rng = StdRng::seed_from_u64(7);
        for (attempt, ceiling_ms) in [
            (1, 100),
            (2, 200),
            (3, 400),
            (4, 800),
            (5, 1000),
            (9, 1000),
            (40, 1000),
        ] {
            for _ in 0..200 {
                let delay = policy.backoff(attempt, &mut rng);
                assert!(
                    delay <= Duration::from_millis(ceiling_ms),
                    "attempt {attempt}: {delay:?}"
                );
            }
        }
    }

    #[test]
    fn backoff_is_jittered_not_fixed() {
        let policy = RetryPolicy::default();
        let mut rng = StdRng::seed_from_u64(1);
        let delays: std::collections::HashSet<_> =
            (0..20).map(|_| policy.backoff(3, &mut rng)).collect();
        assert!(
            delays.len() > 15,
            "full jitter spreads the waits: {delays:?}"
        );
    }

    #[test]
    fn attempts_are_bounded() {
        let policy = RetryPolicy {
            max_attempts: 3,
            ..RetryPolicy::default()
        };
        assert!(policy.allows_retry_after(1));
        assert!(policy.allows_retry_after(2));
        assert!(!policy.allows_retry_after(3));
        assert!(
            !RetryPolicy::immediate(0).allows_retry_after(1),
            "zero attempts still means one try, no retry"
        );
        assert_eq!(
            RetryPolicy::immediate(3).backoff(2, &mut StdRng::seed_from_u64(0)),
            Duration::ZERO
        );
    }
}
