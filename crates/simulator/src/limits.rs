//! Usage-plan enforcement: the token buckets themselves, one per application, selling
//! partner and operation, as Amazon meters them. The operations and their documented
//! plans are `domain`'s catalog ([`domain::Operation`]); a scenario may override them.
//! Plans: <https://developer-docs.amazon.com/sp-api/docs/usage-plans-and-rate-limits-in-the-sp-api>

use std::collections::HashMap;
use std::time::Instant;

use domain::Operation;

use crate::scenario::RateLimit;

/// `x-amzn-RateLimit-Limit` value as Amazon writes it: `2.0`, `0.0167`.
pub(crate) fn rate_header_value(rate: f64) -> String {
    format!("{rate:?}")
}

/// Who a bucket belongs to: the application and the selling partner (or the
/// application alone for grantless calls).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct BucketKey {
    pub client_id: String,
    pub subject: String,
    pub operation: Operation,
}

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    refilled_at: Instant,
}

/// All token buckets; a bucket starts full.
#[derive(Debug, Default)]
pub(crate) struct Limiter {
    buckets: HashMap<BucketKey, Bucket>,
}

impl Limiter {
    /// Takes one token from the bucket if it has one.
    pub(crate) fn try_acquire(&mut self, key: BucketKey, limit: RateLimit, now: Instant) -> bool {
        let burst = f64::from(limit.burst);
        let bucket = self.buckets.entry(key).or_insert(Bucket {
            tokens: burst,
            refilled_at: now,
        });
        let elapsed = now
            .saturating_duration_since(bucket.refilled_at)
            .as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * limit.rate).min(burst);
        bucket.refilled_at = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// Forgets every bucket (a new scenario starts with full buckets).
    pub(crate) fn reset(&mut self) {
        self.buckets.clear();
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn key() -> BucketKey {
        BucketKey {
            client_id: "app".into(),
            subject: "seller".into(),
            operation: Operation::GetReport,
        }
    }

    #[test]
    fn bucket_allows_burst_then_refills_at_rate() {
        let mut limiter = Limiter::default();
        let limit = RateLimit {
            rate: 2.0,
            burst: 3,
        };
        let start = Instant::now();
        assert!((0..3).all(|_| limiter.try_acquire(key(), limit, start)));
        assert!(!limiter.try_acquire(key(), limit, start));
        assert!(!limiter.try_acquire(key(), limit, start + Duration::from_millis(400)));
        assert!(limiter.try_acquire(key(), limit, start + Duration::from_millis(500)));
        assert!(!limiter.try_acquire(key(), limit, start + Duration::from_millis(600)));
    }

    #[test]
    fn buckets_are_separate_per_selling_partner() {
        let mut limiter = Limiter::default();
        let limit = RateLimit {
            rate: 0.01,
            burst: 1,
        };
        let now = Instant::now();
        assert!(limiter.try_acquire(key(), limit, now));
        assert!(!limiter.try_acquire(key(), limit, now));
        let other = BucketKey {
            subject: "other".into(),
            ..key()
        };
        assert!(limiter.try_acquire(other, limit, now));
    }

    #[test]
    fn operation_names_round_trip_and_header_matches_amazon() {
        for op in Operation::ALL {
            assert_eq!(Operation::from_name(op.name()), Some(op));
        }
        assert_eq!(
            rate_header_value(RateLimit::documented(Operation::GetReport).rate),
            "2.0"
        );
        assert_eq!(
            rate_header_value(RateLimit::documented(Operation::CreateReport).rate),
            "0.0167"
        );
    }
}
