//! A token bucket kept as one number, so many Lambdas can share it through one
//! conditional write.
//!
//! Amazon meters each operation with a token bucket per (application, selling partner)
//! (<https://developer-docs.amazon.com/sp-api/docs/usage-plans-and-rate-limits>). A bucket
//! of `burst` tokens refilled at `rate` per second admits exactly the calls the generic
//! cell rate algorithm admits with interval `1/rate` and tolerance `(burst − 1)/rate`
//! (ITU-T I.371): its whole state is the time the next call is "due" (`due_ms`). A full
//! bucket is one whose due time has passed; each call moves it one interval later; a call
//! may go once `due − tolerance` has passed. Being one number, the state is replaced with
//! a write conditioned on the value read — no refill arithmetic on the database side, no
//! lock held across calls.

use std::time::Duration;

use crate::operation::UsagePlan;

/// One shared bucket: its usage plan and the time (epoch milliseconds) its next call is due.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bucket {
    /// Rate and burst applied.
    pub plan: UsagePlan,
    /// When the next call is due; at or before now, the bucket is full.
    pub due_ms: i64,
}

/// What a caller may do now.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Admission {
    /// Take the token: write `next` (conditioned on the bucket read), then wait `wait`
    /// before calling — the token is reserved, so callers queue in order.
    Go {
        /// The bucket after this call.
        next: Bucket,
        /// How long until the reserved token is really there.
        wait: Duration,
    },
    /// No token within the longest wait the caller accepts: nothing is reserved; ask
    /// again after `wait`.
    Later {
        /// How long until a token is there.
        wait: Duration,
    },
}

impl Bucket {
    /// A full bucket of `plan` at `now_ms` (one never written, or idle for long).
    pub fn full(plan: UsagePlan, now_ms: i64) -> Self {
        Bucket {
            plan,
            due_ms: now_ms,
        }
    }

    /// Milliseconds between tokens.
    pub fn interval_ms(&self) -> i64 {
        let rate = if self.plan.rate_per_second.is_finite() && self.plan.rate_per_second > 0.0 {
            self.plan.rate_per_second
        } else {
            // A nonsense rate must not divide by zero; one a day is "practically none".
            1.0 / 86_400.0
        };
        (1000.0 / rate).round().max(1.0) as i64
    }

    fn tolerance_ms(&self) -> i64 {
        i64::from(self.plan.burst.max(1) - 1) * self.interval_ms()
    }

    /// Asks for one token at `now_ms`, waiting at most `longest_wait` for it.
    pub fn admit(&self, now_ms: i64, longest_wait: Duration) -> Admission {
        let due = self.due_ms.max(now_ms);
        let wait_ms = (due - self.tolerance_ms() - now_ms).max(0);
        let wait = Duration::from_millis(wait_ms.unsigned_abs());
        if wait > longest_wait {
            return Admission::Later { wait };
        }
        Admission::Go {
            next: Bucket {
                plan: self.plan,
                due_ms: due + self.interval_ms(),
            },
            wait,
        }
    }

    /// The bucket after Amazon answered 429 at `now_ms`: empty, the next token one
    /// interval away — unless it was already further behind. Amazon's count is the truth;
    /// ours only learns from it.
    pub fn drained(&self, now_ms: i64) -> Bucket {
        let empty = now_ms + self.tolerance_ms() + self.interval_ms();
        Bucket {
            plan: self.plan,
            due_ms: self.due_ms.max(empty),
        }
    }

    /// The same bucket refilling at `rate_per_second` (from `x-amzn-RateLimit-Limit`) from
    /// `now_ms` on: the tokens already taken ahead of time stay taken, each now worth the
    /// new interval.
    pub fn with_rate(self, rate_per_second: f64, now_ms: i64) -> Bucket {
        if !(rate_per_second.is_finite() && rate_per_second > 0.0)
            || rate_per_second == self.plan.rate_per_second
        {
            return self;
        }
        let next = Bucket {
            plan: UsagePlan {
                rate_per_second,
                ..self.plan
            },
            ..self
        };
        let ahead = (self.due_ms - now_ms).max(0) as f64;
        let scale = next.interval_ms() as f64 / self.interval_ms() as f64;
        Bucket {
            due_ms: now_ms + (ahead * scale).round() as i64,
            ..next
        }
    }

    /// When the bucket is full again; past then, its state says nothing a fresh bucket
    /// would not (a stored bucket may expire then).
    pub fn full_again_ms(&self) -> i64 {
        self.due_ms
    }
}

/// A usage plan of one call per `period` and no burst: Amazon's hidden per-application
/// quotas, such as Sales and Traffic's one createReport per 15 minutes.
pub fn one_per(period: Duration) -> UsagePlan {
    UsagePlan {
        rate_per_second: 1.0 / period.as_secs_f64().max(0.001),
        burst: 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NEVER: Duration = Duration::from_secs(u64::MAX / 4);

    fn plan(rate_per_second: f64, burst: u32) -> UsagePlan {
        UsagePlan {
            rate_per_second,
            burst,
        }
    }

    /// Takes `n` tokens at `now`, writing each `next` back as the shared item would.
    fn take(bucket: &mut Bucket, now: i64, n: usize) -> Vec<u64> {
        (0..n)
            .map(|_| match bucket.admit(now, NEVER) {
                Admission::Go { next, wait } => {
                    *bucket = next;
                    wait.as_millis() as u64
                }
                Admission::Later { .. } => unreachable!("NEVER is long enough"),
            })
            .collect()
    }

    #[test]
    fn a_full_bucket_serves_its_burst_at_once_then_one_per_interval() {
        let mut bucket = Bucket::full(plan(2.0, 3), 0);
        assert_eq!(take(&mut bucket, 0, 5), [0, 0, 0, 500, 1000]);
        // After the queue drains, a caller does not wait.
        assert_eq!(take(&mut bucket, 1500, 1), [0]);
    }

    #[test]
    fn create_report_plan_gives_fifteen_then_one_a_minute() {
        let mut bucket = Bucket::full(plan(0.0167, 15), 0);
        let waits = take(&mut bucket, 0, 17);
        assert!(waits[..15].iter().all(|w| *w == 0), "{waits:?}");
        assert_eq!(waits[15], 59_880);
        assert_eq!(waits[16], 2 * 59_880);
    }

    #[test]
    fn an_idle_bucket_refills_only_up_to_its_burst() {
        let mut bucket = Bucket::full(plan(1.0, 2), 0);
        take(&mut bucket, 0, 2);
        assert_eq!(take(&mut bucket, 3_600_000, 3), [0, 0, 1000]);
    }

    #[test]
    fn a_wait_longer_than_accepted_reserves_nothing() {
        let bucket = Bucket::full(plan(0.0167, 1), 0);
        let Admission::Go { next, .. } = bucket.admit(0, Duration::ZERO) else {
            panic!("a full bucket admits at once")
        };
        assert_eq!(
            next.admit(1000, Duration::from_secs(5)),
            Admission::Later {
                wait: Duration::from_millis(58_880)
            }
        );
        // Asking again does not push the next caller further back: nothing was written.
        assert_eq!(
            next.admit(59_880, Duration::from_secs(5)),
            Admission::Go {
                next: Bucket {
                    plan: next.plan,
                    due_ms: 2 * 59_880
                },
                wait: Duration::ZERO
            }
        );
    }

    #[test]
    fn a_429_empties_the_bucket_but_never_moves_it_earlier() {
        let bucket = Bucket::full(plan(2.0, 3), 0);
        let drained = bucket.drained(10_000);
        let mut after = drained;
        assert_eq!(take(&mut after, 10_000, 2), [500, 1000]);
        // Already further behind than "empty": left as it is.
        let behind = Bucket {
            due_ms: 60_000,
            ..bucket
        };
        assert_eq!(behind.drained(10_000), behind);
    }

    #[test]
    fn an_observed_rate_replaces_the_documented_one() {
        let mut bucket = Bucket::full(plan(0.5, 1), 0).with_rate(4.0, 0);
        assert_eq!(take(&mut bucket, 0, 3), [0, 250, 500]);
        assert_eq!(bucket.with_rate(f64::NAN, 0).plan.rate_per_second, 4.0);
        assert_eq!(bucket.with_rate(0.0, 0).plan.rate_per_second, 4.0);
    }

    #[test]
    fn tokens_taken_at_the_documented_rate_are_recounted_at_the_observed_one() {
        // One createReport taken at the documented rate (a minute a token) before
        // Amazon's header said one a second: that token is one second of debt, not a minute.
        let mut bucket = Bucket::full(plan(0.0167, 15), 0);
        take(&mut bucket, 0, 15);
        let faster = bucket.with_rate(1.0, 0);
        assert_eq!(faster.due_ms, 15_000);
        let mut drained = faster.drained(0);
        assert_eq!(take(&mut drained, 0, 1), [1000]);
    }

    #[test]
    fn hidden_quota_of_one_per_fifteen_minutes_is_ninety_six_a_day() {
        let mut bucket = Bucket::full(one_per(Duration::from_secs(900)), 0);
        let day_ms = 86_400_000;
        let mut served = 0;
        let mut now = 0;
        while now < day_ms {
            match bucket.admit(now, Duration::ZERO) {
                Admission::Go { next, .. } => {
                    bucket = next;
                    served += 1;
                }
                Admission::Later { wait } => now += wait.as_millis() as i64,
            }
        }
        assert_eq!(served, 96);
    }

    #[test]
    fn a_zero_rate_does_not_divide_by_zero() {
        let bucket = Bucket::full(plan(0.0, 0), 0);
        assert_eq!(bucket.interval_ms(), 86_400_000);
        assert!(matches!(
            bucket.admit(0, Duration::ZERO),
            Admission::Go { .. }
        ));
    }
}
