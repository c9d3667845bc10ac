//! Client-side rate limiting: one token bucket per SP-API operation.
//!
//! Amazon meters every operation with a token bucket per (app, selling partner): `rate`
//! tokens per second refill a bucket of `burst` tokens
//! (<https://developer-docs.amazon.com/sp-api/docs/usage-plans-and-rate-limits>). The client
//! waits for a token before each call so that it rarely sees a 429 at all, starts from the
//! documented defaults ([`Operation::default_usage_plan`], in `domain`'s operation catalog)
//! and adopts the rate Amazon reports in `x-amzn-RateLimit-Limit`; a 429 empties the
//! bucket. [`RateLimiter`] is the seam where a bucket shared between Lambdas (the
//! pipeline's, in DynamoDB: design.md "Rate limits") replaces the in-process
//! [`LocalRateLimiter`] the CLI and tests use.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

// The operation catalog is Amazon's, not the client's: it lives in `domain`, shared with
// the simulator, and stays importable from here.
pub use domain::operation::{Operation, TokenKind, UsagePlan};

/// A limiter's answer when the next token is further away than its caller may sleep:
/// nothing was reserved; ask again after the wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MustWait(pub Duration);

/// Admission control for SP-API calls: wait for a token, learn the real rate.
pub trait RateLimiter: Send + Sync {
    /// Resolves when one call of `op` may be sent, or with how long to come back after
    /// when that is longer than this limiter sleeps.
    fn acquire(
        &self,
        op: Operation,
    ) -> Pin<Box<dyn Future<Output = Result<(), MustWait>> + Send + '_>>;
    /// Adopts the rate Amazon applies to `op`, read from `x-amzn-RateLimit-Limit`.
    fn observe_limit(&self, op: Operation, rate_per_second: f64);
    /// Amazon answered 429 to `op`: its bucket is empty, whatever ours said.
    fn observe_throttle(&self, op: Operation) -> Pin<Box<dyn Future<Output = ()> + Send + '_>>;
}

/// Parses `x-amzn-RateLimit-Limit` (requests per second, e.g. `0.0167` or `2.0`);
/// `None` for anything that is not a positive finite number.
pub fn parse_rate_limit_header(value: &str) -> Option<f64> {
    value
        .trim()
        .parse::<f64>()
        .ok()
        .filter(|rate| rate.is_finite() && *rate > 0.0)
}

/// Token buckets in this process, one per operation, on tokio's clock.
#[derive(Debug)]
pub struct LocalRateLimiter {
    buckets: HashMap<Operation, Mutex<TokenBucket>>,
}

impl LocalRateLimiter {
    /// Buckets preloaded with Amazon's default usage plans, full (a fresh Lambda container
    /// may spend its burst; Amazon's bucket is per seller and usually full too).
    pub fn with_default_plans() -> Self {
        Self::with_plans(|op| op.default_usage_plan())
    }

    /// Buckets with the given plan per operation (tests, higher negotiated limits).
    pub fn with_plans(plan: impl Fn(Operation) -> UsagePlan) -> Self {
        let now = Instant::now();
        let buckets = Operation::ALL
            .into_iter()
            .map(|op| (op, Mutex::new(TokenBucket::full(plan(op), now))))
            .collect();
        LocalRateLimiter { buckets }
    }

    /// The refill rate currently applied to `op`.
    pub fn rate_per_second(&self, op: Operation) -> f64 {
        self.with_bucket(op, |bucket| bucket.plan.rate_per_second)
            .unwrap_or(0.0)
    }

    /// Takes a token of `op` at `now` and says how long to wait until it is really there.
    /// The token is reserved at once (the bucket may go into debt) and the caller sleeps
    /// outside the lock, so concurrent callers queue up in order instead of all waking at once.
    fn reserve(&self, op: Operation, now: Instant) -> Option<Duration> {
        self.with_bucket(op, |bucket| bucket.reserve(now)).flatten()
    }

    fn with_bucket<T>(&self, op: Operation, f: impl FnOnce(&mut TokenBucket) -> T) -> Option<T> {
        let bucket = self.buckets.get(&op)?;
        // A poisoned lock means another task panicked mid-update of two floats; the bucket
        // is still usable, so take it rather than spread the panic.
        let mut guard = bucket
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        Some(f(&mut guard))
    }
}

impl Default for LocalRateLimiter {
    fn default() -> Self {
        Self::with_default_plans()
    }
}

impl RateLimiter for LocalRateLimiter {
    fn acquire(
        &self,
        op: Operation,
    ) -> Pin<Box<dyn Future<Output = Result<(), MustWait>> + Send + '_>> {
        let wait = self.reserve(op, Instant::now());
        Box::pin(async move {
            if let Some(wait) = wait {
                tracing::debug!(operation = %op, wait_ms = wait.as_millis() as u64, "waiting for a rate-limit token");
                tokio::time::sleep(wait).await;
            }
            Ok(())
        })
    }

    fn observe_throttle(&self, op: Operation) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
        self.with_bucket(op, |bucket| {
            bucket.refill(Instant::now());
            bucket.tokens = bucket.tokens.min(0.0);
        });
        Box::pin(std::future::ready(()))
    }

    fn observe_limit(&self, op: Operation, rate_per_second: f64) {
        if !(rate_per_second.is_finite() && rate_per_second > 0.0) {
            return;
        }
        self.with_bucket(op, |bucket| {
            if (bucket.plan.rate_per_second - rate_per_second).abs() > f64::EPSILON {
                tracing::debug!(
                    operation = %op,
                    from = bucket.plan.rate_per_second,
                    to = rate_per_second,
                    "adopting the rate from x-amzn-RateLimit-Limit"
                );
                bucket.refill(Instant::now());
                bucket.plan.rate_per_second = rate_per_second;
            }
        });
    }
}

/// One bucket; `tokens` goes negative while callers wait for reserved tokens.
#[derive(Debug)]
struct TokenBucket {
    plan: UsagePlan,
    tokens: f64,
    refilled_at: Instant,
}

impl TokenBucket {
    fn full(plan: UsagePlan, now: Instant) -> Self {
        TokenBucket {
            plan,
            tokens: f64::from(plan.burst),
            refilled_at: now,
        }
    }

    fn refill(&mut self, now: Instant) {
        let elapsed = now
            .saturating_duration_since(self.refilled_at)
            .as_secs_f64();
        self.tokens =
            (self.tokens + elapsed * self.plan.rate_per_second).min(f64::from(self.plan.burst));
        self.refilled_at = now;
    }

    /// Takes a token; returns how long to wait until it is really there.
    fn reserve(&mut self, now: Instant) -> Option<Duration> {
        self.refill(now);
        self.tokens -= 1.0;
        (self.tokens < 0.0)
            .then(|| Duration::from_secs_f64(-self.tokens / self.plan.rate_per_second))
    }
}

#[cfg(test)]
mod tests {
    // tokio's `test-util` (time::pause) is not in the workspace feature set, and adding it
    // would rebuild tokio and everything above it; the bucket takes `now` as an argument
    // instead, so the tests step a synthetic clock and never sleep.
    use super::*;

    fn plan(rate_per_second: f64, burst: u32) -> impl Fn(Operation) -> UsagePlan {
        move |_| UsagePlan {
            rate_per_second,
            burst,
        }
    }

    fn ms(millis: u64) -> Duration {
        Duration::from_millis(millis)
    }

    #[test]
    fn burst_is_served_at_once_then_calls_wait_for_the_refill() {
        let limiter = LocalRateLimiter::with_plans(plan(2.0, 3));
        let t0 = Instant::now();
        for _ in 0..3 {
            assert_eq!(
                limiter.reserve(Operation::GetReport, t0),
                None,
                "the burst needs no waiting"
            );
        }
        assert_eq!(
            limiter.reserve(Operation::GetReport, t0),
            Some(ms(500)),
            "one token per 1/rate seconds"
        );
        assert_eq!(
            limiter.reserve(Operation::GetReport, t0),
            Some(ms(1000)),
            "callers queue behind each other"
        );
        // A caller that comes after the queue has drained does not wait.
        assert_eq!(limiter.reserve(Operation::GetReport, t0 + ms(1500)), None);
    }

    #[test]
    fn operations_have_separate_buckets() {
        let limiter = LocalRateLimiter::with_plans(plan(1.0, 1));
        let t0 = Instant::now();
        assert_eq!(limiter.reserve(Operation::CreateReport, t0), None);
        assert_eq!(limiter.reserve(Operation::GetReport, t0), None);
        assert_eq!(limiter.reserve(Operation::CreateReport, t0), Some(ms(1000)));
    }

    #[test]
    fn a_quiet_bucket_refills_only_up_to_its_burst() {
        let limiter = LocalRateLimiter::with_plans(plan(1.0, 2));
        let later = Instant::now() + Duration::from_secs(3600);
        assert_eq!(limiter.reserve(Operation::GetReport, later), None);
        assert_eq!(limiter.reserve(Operation::GetReport, later), None);
        assert_eq!(limiter.reserve(Operation::GetReport, later), Some(ms(1000)));
    }

    #[test]
    fn documented_create_report_plan_allows_fifteen_then_one_a_minute() {
        let limiter = LocalRateLimiter::with_default_plans();
        let t0 = Instant::now();
        for _ in 0..15 {
            assert_eq!(limiter.reserve(Operation::CreateReport, t0), None);
        }
        let wait = limiter.reserve(Operation::CreateReport, t0).unwrap();
        assert!((59.0..61.0).contains(&wait.as_secs_f64()), "{wait:?}");
    }

    #[test]
    fn observed_rate_limit_header_replaces_the_default_rate() {
        let limiter = LocalRateLimiter::with_plans(plan(0.5, 1));
        let t0 = Instant::now();
        assert_eq!(limiter.reserve(Operation::GetReport, t0), None);
        limiter.observe_limit(Operation::GetReport, 4.0);
        assert_eq!(limiter.rate_per_second(Operation::GetReport), 4.0);
        assert_eq!(
            limiter
                .reserve(Operation::GetReport, Instant::now())
                .map(|wait| wait <= ms(250)),
            Some(true)
        );

        limiter.observe_limit(Operation::GetReport, f64::NAN);
        limiter.observe_limit(Operation::GetReport, 0.0);
        assert_eq!(
            limiter.rate_per_second(Operation::GetReport),
            4.0,
            "nonsense rates are ignored"
        );
    }

    #[test]
    fn a_429_empties_the_bucket() {
        let limiter = LocalRateLimiter::with_plans(plan(1.0, 5));
        let t0 = Instant::now();
        assert_eq!(limiter.reserve(Operation::GetReport, t0), None);
        drop(limiter.observe_throttle(Operation::GetReport));
        let wait = limiter
            .reserve(Operation::GetReport, Instant::now())
            .expect("an empty bucket makes the next call wait");
        assert!(wait > ms(900), "{wait:?}");
    }

    #[tokio::test]
    async fn acquire_within_the_burst_returns_at_once() {
        let limiter = LocalRateLimiter::with_plans(plan(0.001, 2));
        let started = std::time::Instant::now();
        assert_eq!(limiter.acquire(Operation::GetReport).await, Ok(()));
        assert_eq!(limiter.acquire(Operation::GetReport).await, Ok(()));
        assert!(started.elapsed() < ms(100));
    }

    #[test]
    fn default_plans_match_the_documented_usage_plans() {
        let create = Operation::CreateReport.default_usage_plan();
        assert_eq!((create.rate_per_second, create.burst), (0.0167, 15));
        let get = Operation::GetReport.default_usage_plan();
        assert_eq!((get.rate_per_second, get.burst), (2.0, 15));
        assert_eq!(Operation::GetReports.default_usage_plan().burst, 10);
        assert_eq!(Operation::CreateDestination.default_usage_plan().burst, 5);
        assert_eq!(
            Operation::CreateDestination.token_kind(),
            TokenKind::Grantless
        );
        assert_eq!(
            Operation::CreateSubscription.token_kind(),
            TokenKind::Seller
        );
        assert_eq!(Operation::GetReportDocument.name(), "getReportDocument");
    }

    #[test]
    fn rate_limit_header_is_a_rate_per_second() {
        assert_eq!(parse_rate_limit_header("0.0167"), Some(0.0167));
        assert_eq!(parse_rate_limit_header(" 2.0 "), Some(2.0));
        assert_eq!(parse_rate_limit_header("10"), Some(10.0));
        assert_eq!(parse_rate_limit_header(""), None);
        assert_eq!(parse_rate_limit_header("fast"), None);
        assert_eq!(parse_rate_limit_header("-1"), None);
        assert_eq!(parse_rate_limit_header("inf"), None);
    }
}
