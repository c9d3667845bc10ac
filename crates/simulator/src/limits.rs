//! Usage plans: the SP-API operations the simulator serves, the token bucket Amazon
//! documents for each, and the buckets themselves (one per application, selling partner
//! and operation, as Amazon meters them).
//! Plans: <https://developer-docs.amazon.com/sp-api/docs/usage-plans-and-rate-limits-in-the-sp-api>

use std::collections::HashMap;
use std::time::Instant;

use crate::scenario::RateLimit;

/// Which kind of LWA token an operation accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Access {
    /// A token from the refresh-token grant, acting for one selling partner.
    Seller,
    /// A client-credentials token with the `sellingpartnerapi::notifications` scope.
    /// <https://developer-docs.amazon.com/sp-api/docs/grantless-operations>
    GrantlessNotifications,
}

/// An SP-API operation, named by its `operationId` in the official models.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum Operation {
    CreateReport,
    GetReports,
    GetReport,
    CancelReport,
    GetReportSchedules,
    CreateReportSchedule,
    GetReportSchedule,
    CancelReportSchedule,
    GetReportDocument,
    GetSubscriptions,
    GetSubscription,
    CreateSubscription,
    GetSubscriptionById,
    DeleteSubscriptionById,
    GetDestinations,
    CreateDestination,
    GetDestination,
    DeleteDestination,
}

impl Operation {
    /// Every operation, in model order.
    pub(crate) const ALL: [Operation; 18] = [
        Operation::CreateReport,
        Operation::GetReports,
        Operation::GetReport,
        Operation::CancelReport,
        Operation::GetReportSchedules,
        Operation::CreateReportSchedule,
        Operation::GetReportSchedule,
        Operation::CancelReportSchedule,
        Operation::GetReportDocument,
        Operation::GetSubscriptions,
        Operation::GetSubscription,
        Operation::CreateSubscription,
        Operation::GetSubscriptionById,
        Operation::DeleteSubscriptionById,
        Operation::GetDestinations,
        Operation::CreateDestination,
        Operation::GetDestination,
        Operation::DeleteDestination,
    ];

    /// The model's `operationId`, used as the key in scenarios and call statistics.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Operation::CreateReport => "createReport",
            Operation::GetReports => "getReports",
            Operation::GetReport => "getReport",
            Operation::CancelReport => "cancelReport",
            Operation::GetReportSchedules => "getReportSchedules",
            Operation::CreateReportSchedule => "createReportSchedule",
            Operation::GetReportSchedule => "getReportSchedule",
            Operation::CancelReportSchedule => "cancelReportSchedule",
            Operation::GetReportDocument => "getReportDocument",
            Operation::GetSubscriptions => "getSubscriptions",
            Operation::GetSubscription => "getSubscription",
            Operation::CreateSubscription => "createSubscription",
            Operation::GetSubscriptionById => "getSubscriptionById",
            Operation::DeleteSubscriptionById => "deleteSubscriptionById",
            Operation::GetDestinations => "getDestinations",
            Operation::CreateDestination => "createDestination",
            Operation::GetDestination => "getDestination",
            Operation::DeleteDestination => "deleteDestination",
        }
    }

    /// The operation with this `operationId`.
    pub(crate) fn from_name(name: &str) -> Option<Operation> {
        Operation::ALL.into_iter().find(|op| op.name() == name)
    }

    /// The default usage plan from the operation's description in the model.
    pub(crate) fn documented_rate_limit(self) -> RateLimit {
        let (rate, burst) = match self {
            Operation::CreateReport | Operation::GetReportDocument => (0.0167, 15),
            Operation::GetReport => (2.0, 15),
            Operation::GetReports
            | Operation::CancelReport
            | Operation::GetReportSchedules
            | Operation::CreateReportSchedule
            | Operation::GetReportSchedule
            | Operation::CancelReportSchedule => (0.0222, 10),
            Operation::GetSubscriptions
            | Operation::GetSubscription
            | Operation::CreateSubscription
            | Operation::GetSubscriptionById
            | Operation::DeleteSubscriptionById
            | Operation::GetDestinations
            | Operation::CreateDestination
            | Operation::GetDestination
            | Operation::DeleteDestination => (1.0, 5),
        };
        RateLimit { rate, burst }
    }

    /// The token kind the operation requires.
    pub(crate) fn access(self) -> Access {
        match self {
            Operation::GetSubscriptionById
            | Operation::DeleteSubscriptionById
            | Operation::GetDestinations
            | Operation::CreateDestination
            | Operation::GetDestination
            | Operation::DeleteDestination => Access::GrantlessNotifications,
            _ => Access::Seller,
        }
    }
}

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
            rate_header_value(Operation::GetReport.documented_rate_limit().rate),
            "2.0"
        );
        assert_eq!(
            rate_header_value(Operation::CreateReport.documented_rate_limit().rate),
            "0.0167"
        );
    }
}
