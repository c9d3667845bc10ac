//! The SP-API operation catalog: every operation sp-ingest calls or simulates, with the
//! usage plan Amazon documents for it and the kind of LWA token it needs.
//!
//! Sources: <https://developer-docs.amazon.com/sp-api/docs/usage-plans-and-rate-limits> and
//! the "Usage Plan" table in each operation's description in the official models
//! (`/work/shared/api-models/sp-api/models/reports_2021-06-30.json`, `notifications.json`,
//! `dataKiosk_2023-11-15.json`; api-facts.md §3.1, §4.1, §5). Amazon meters each operation with a token bucket per
//! (application, selling partner): `rate` tokens per second refill a bucket of `burst`.
//! The client (`spapi`) waits for those tokens; the simulator enforces them.

use std::fmt;

/// An SP-API operation, named by its `operationId` in the official models.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Operation {
    /// Reports `createReport`.
    CreateReport,
    /// Reports `getReports`.
    GetReports,
    /// Reports `getReport`.
    GetReport,
    /// Reports `cancelReport`.
    CancelReport,
    /// Reports `getReportSchedules`.
    GetReportSchedules,
    /// Reports `createReportSchedule`.
    CreateReportSchedule,
    /// Reports `getReportSchedule`.
    GetReportSchedule,
    /// Reports `cancelReportSchedule`.
    CancelReportSchedule,
    /// Reports `getReportDocument`.
    GetReportDocument,
    /// Notifications `getSubscriptions`.
    GetSubscriptions,
    /// Notifications `getSubscription`.
    GetSubscription,
    /// Notifications `createSubscription`.
    CreateSubscription,
    /// Notifications `getSubscriptionById` (grantless).
    GetSubscriptionById,
    /// Notifications `deleteSubscriptionById` (grantless).
    DeleteSubscriptionById,
    /// Notifications `getDestinations` (grantless).
    GetDestinations,
    /// Notifications `createDestination` (grantless).
    CreateDestination,
    /// Notifications `getDestination` (grantless).
    GetDestination,
    /// Notifications `deleteDestination` (grantless).
    DeleteDestination,
    /// Data Kiosk `createQuery`.
    CreateQuery,
    /// Data Kiosk `getQueries`.
    GetQueries,
    /// Data Kiosk `getQuery`.
    GetQuery,
    /// Data Kiosk `cancelQuery`.
    CancelQuery,
    /// Data Kiosk `getDocument`.
    GetDocument,
}

/// Which LWA token an operation needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    /// The selling partner's token from the refresh-token grant.
    Seller,
    /// The app's own token from the client-credentials grant
    /// (<https://developer-docs.amazon.com/sp-api/docs/grantless-operations>).
    Grantless,
}

/// A token bucket's shape: refill rate and bucket size.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct UsagePlan {
    /// Tokens added per second.
    pub rate_per_second: f64,
    /// Bucket size: how many calls may go at once after a quiet period.
    pub burst: u32,
}

impl Operation {
    /// Every operation, in model order.
    pub const ALL: [Operation; 23] = [
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
        Operation::CreateQuery,
        Operation::GetQueries,
        Operation::GetQuery,
        Operation::CancelQuery,
        Operation::GetDocument,
    ];

    /// The operation id in Amazon's model, e.g. `createReport`.
    pub const fn name(self) -> &'static str {
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
            Operation::CreateQuery => "createQuery",
            Operation::GetQueries => "getQueries",
            Operation::GetQuery => "getQuery",
            Operation::CancelQuery => "cancelQuery",
            Operation::GetDocument => "getDocument",
        }
    }

    /// The operation with this `operationId`, e.g. a key in the simulator's scenario.
    pub fn from_name(name: &str) -> Option<Operation> {
        Operation::ALL.into_iter().find(|op| op.name() == name)
    }

    /// Amazon's default usage plan, from the operation's "Usage Plan" table in the model.
    pub const fn default_usage_plan(self) -> UsagePlan {
        let (rate_per_second, burst) = match self {
            Operation::CreateReport
            | Operation::GetReportDocument
            | Operation::CreateQuery
            | Operation::GetDocument => (0.0167, 15),
            Operation::GetReport | Operation::GetQuery => (2.0, 15),
            Operation::GetReports
            | Operation::CancelReport
            | Operation::GetReportSchedules
            | Operation::CreateReportSchedule
            | Operation::GetReportSchedule
            | Operation::CancelReportSchedule
            | Operation::GetQueries
            | Operation::CancelQuery => (0.0222, 10),
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
        UsagePlan {
            rate_per_second,
            burst,
        }
    }

    /// Which token the operation needs: destinations and subscription-by-id are grantless
    /// (the models say "The `…` operation is grantless"), all of them Notifications
    /// operations with the `sellingpartnerapi::notifications` scope.
    pub const fn token_kind(self) -> TokenKind {
        match self {
            Operation::GetSubscriptionById
            | Operation::DeleteSubscriptionById
            | Operation::GetDestinations
            | Operation::CreateDestination
            | Operation::GetDestination
            | Operation::DeleteDestination => TokenKind::Grantless,
            Operation::CreateReport
            | Operation::GetReports
            | Operation::GetReport
            | Operation::CancelReport
            | Operation::GetReportSchedules
            | Operation::CreateReportSchedule
            | Operation::GetReportSchedule
            | Operation::CancelReportSchedule
            | Operation::GetReportDocument
            | Operation::GetSubscriptions
            | Operation::GetSubscription
            | Operation::CreateSubscription
            | Operation::CreateQuery
            | Operation::GetQueries
            | Operation::GetQuery
            | Operation::CancelQuery
            | Operation::GetDocument => TokenKind::Seller,
        }
    }
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::Operation::*;
    use super::*;

    fn plan(op: Operation) -> (f64, u32) {
        let plan = op.default_usage_plan();
        (plan.rate_per_second, plan.burst)
    }

    #[test]
    fn every_name_round_trips() {
        for op in Operation::ALL {
            assert_eq!(Operation::from_name(op.name()), Some(op));
            assert_eq!(op.to_string(), op.name());
        }
        let mut names: Vec<_> = Operation::ALL.iter().map(|op| op.name()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), Operation::ALL.len(), "names are unique");
        assert_eq!(
            Operation::from_name("CreateReport"),
            None,
            "names are exact"
        );
        assert_eq!(Operation::from_name("sendTestNotification"), None);
    }

    #[test]
    fn report_plans_match_the_reports_model() {
        assert_eq!(plan(CreateReport), (0.0167, 15));
        assert_eq!(plan(GetReports), (0.0222, 10));
        assert_eq!(plan(GetReport), (2.0, 15));
        assert_eq!(plan(CancelReport), (0.0222, 10));
        assert_eq!(plan(GetReportDocument), (0.0167, 15));
        for op in [
            GetReportSchedules,
            CreateReportSchedule,
            GetReportSchedule,
            CancelReportSchedule,
        ] {
            assert_eq!(plan(op), (0.0222, 10), "{op}");
        }
    }

    #[test]
    fn notification_plans_match_the_notifications_model() {
        for op in [
            GetSubscriptions,
            GetSubscription,
            CreateSubscription,
            GetSubscriptionById,
            DeleteSubscriptionById,
            GetDestinations,
            CreateDestination,
            GetDestination,
            DeleteDestination,
        ] {
            assert_eq!(plan(op), (1.0, 5), "{op}");
        }
    }

    #[test]
    fn data_kiosk_plans_match_the_data_kiosk_model() {
        assert_eq!(plan(CreateQuery), (0.0167, 15));
        assert_eq!(plan(GetQueries), (0.0222, 10));
        assert_eq!(plan(GetQuery), (2.0, 15));
        assert_eq!(plan(CancelQuery), (0.0222, 10));
        assert_eq!(plan(GetDocument), (0.0167, 15));
    }

    #[test]
    fn destinations_and_subscription_by_id_are_grantless() {
        let grantless: Vec<_> = Operation::ALL
            .into_iter()
            .filter(|op| op.token_kind() == TokenKind::Grantless)
            .collect();
        assert_eq!(
            grantless,
            [
                GetSubscriptionById,
                DeleteSubscriptionById,
                GetDestinations,
                CreateDestination,
                GetDestination,
                DeleteDestination,
            ]
        );
    }
}
