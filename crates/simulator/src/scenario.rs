//! The scenario: the simulator's clock and its fault knobs, as one serde value that a
//! test, a script (`POST /_sim/scenario`) or the binary (`--scenario FILE`) can replace
//! at run time. Every field has a default, so partial JSON works; unknown fields are
//! rejected so a typo in a knob name fails loudly instead of silently doing nothing.

use std::collections::BTreeMap;

use domain::{Operation, UsagePlan};
use serde::{Deserialize, Serialize};

use crate::marketplaces;

/// Clock and faults of the simulator; `Default` is a fast, fault-free Amazon.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Scenario {
    /// How long a new report stays IN_QUEUE, in milliseconds.
    pub in_queue_ms: u64,
    /// How long a report stays IN_PROGRESS after leaving the queue, in milliseconds.
    pub in_progress_ms: u64,
    /// Lifetime of newly issued LWA access tokens, in seconds (Amazon: 3600).
    pub token_ttl_secs: u64,
    /// Lifetime of newly issued document URLs, in seconds (Amazon: 300).
    pub url_ttl_secs: u64,
    /// Operation name → number of its next calls answered 429; counts down.
    pub throttle_next: BTreeMap<String, u32>,
    /// Selling partners every call of whom is answered 429 QuotaExceeded, however long
    /// they wait: an account or report type with a permanent quota problem
    /// (api-facts.md pitfall 2).
    pub throttled_sellers: Vec<String>,
    /// Whether the per-operation token buckets below are enforced.
    pub enforce_rate_limits: bool,
    /// Operation name → token bucket; operations not listed use Amazon's documented plan.
    pub rate_limits: BTreeMap<String, RateLimit>,
    /// Key casing of notification envelopes.
    pub notification_casing: NotificationCasing,
    /// Per-report behaviour; the first rule matching a createReport request wins.
    pub rules: Vec<ReportRule>,
    /// Per-query behaviour of Data Kiosk; the first rule matching a createQuery wins.
    pub query_rules: Vec<QueryRule>,
    /// Per-report behaviour of Amazon Ads; the first rule matching a createReport wins.
    pub ads_rules: Vec<crate::ads::AdsRule>,
    /// Per-execution behaviour of AMC; the first rule matching a workflow wins.
    pub amc_rules: Vec<crate::amc::AmcRule>,
    /// AMC executions an instance runs at once; more are refused 429.
    pub amc_parallel_executions: u32,
    /// AMC ad-hoc executions an instance takes a day; more are refused 429.
    pub amc_daily_executions: u32,
}

impl Default for Scenario {
    fn default() -> Self {
        Self {
            in_queue_ms: 200,
            in_progress_ms: 300,
            token_ttl_secs: 3600,
            url_ttl_secs: 300,
            throttle_next: BTreeMap::new(),
            throttled_sellers: Vec::new(),
            enforce_rate_limits: true,
            rate_limits: Operation::ALL
                .iter()
                .map(|op| (op.name().to_owned(), RateLimit::documented(*op)))
                .collect(),
            notification_casing: NotificationCasing::Camel,
            rules: Vec::new(),
            query_rules: Vec::new(),
            ads_rules: Vec::new(),
            amc_rules: Vec::new(),
            amc_parallel_executions: domain::amc::PARALLEL_EXECUTIONS,
            amc_daily_executions: domain::amc::DAILY_AD_HOC_EXECUTIONS,
        }
    }
}

impl Scenario {
    /// The bucket applied to `op`: the scenario's entry, else Amazon's documented plan.
    pub(crate) fn rate_limit(&self, op: Operation) -> RateLimit {
        self.rate_limits
            .get(op.name())
            .copied()
            .unwrap_or_else(|| RateLimit::documented(op))
    }

    /// The first rule matching a report request, if any.
    pub(crate) fn rule_for(
        &self,
        report_type: &str,
        marketplace_ids: &[String],
    ) -> Option<&ReportRule> {
        self.rules
            .iter()
            .find(|rule| rule.matches(report_type, marketplace_ids))
    }

    /// The first Data Kiosk rule matching a query of `dataset` (its root field) and
    /// `query` (e.g. `salesAndTrafficByDate`), if any.
    pub(crate) fn query_rule_for(&self, dataset: &str, query: &str) -> Option<&QueryRule> {
        self.query_rules.iter().find(|rule| {
            rule.dataset
                .as_deref()
                .is_none_or(|wanted| wanted == dataset)
                && rule.query.as_deref().is_none_or(|wanted| wanted == query)
        })
    }

    /// Checks names and numbers a scenario refers to, so a typo is reported instead of ignored.
    pub fn validate(&self) -> Result<(), ScenarioError> {
        for name in self.throttle_next.keys().chain(self.rate_limits.keys()) {
            // The Ads API's createReport is throttled by name (it has no SP-API plan).
            let ads =
                name == crate::ads::ADS_CREATE_REPORT && self.throttle_next.contains_key(name);
            if Operation::from_name(name).is_none() && !ads {
                return Err(ScenarioError(format!(
                    "unknown operation {name:?}; known operations: {}",
                    Operation::ALL
                        .iter()
                        .map(|op| op.name())
                        .collect::<Vec<_>>()
                        .join(", ")
                )));
            }
        }
        for (name, limit) in &self.rate_limits {
            if !(limit.rate.is_finite() && limit.rate > 0.0) || limit.burst == 0 {
                return Err(ScenarioError(format!(
                    "rate_limits.{name}: rate must be > 0 and burst ≥ 1 (got rate {}, burst {})",
                    limit.rate, limit.burst
                )));
            }
        }
        for (index, rule) in self.rules.iter().enumerate() {
            if let Some(id) = &rule.marketplace_id
                && marketplaces::find(id).is_none()
            {
                return Err(ScenarioError(format!(
                    "rules[{index}].marketplace_id: {id:?} is not a marketplace id"
                )));
            }
        }
        for (index, rule) in self.query_rules.iter().enumerate() {
            if let Some(dataset) = &rule.dataset
                && domain::data_kiosk::schema(dataset).is_none()
            {
                return Err(ScenarioError(format!(
                    "query_rules[{index}].dataset: {dataset:?} is not a Data Kiosk dataset; known: {}",
                    domain::data_kiosk::dataset_names().join(", ")
                )));
            }
            if rule.pages == Some(0) {
                return Err(ScenarioError(format!(
                    "query_rules[{index}].pages: a query has at least one page"
                )));
            }
        }
        Ok(())
    }
}

/// Why a scenario was rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScenarioError(pub String);

impl std::fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ScenarioError {}

/// A token bucket: `rate` tokens per second refill a bucket of `burst` tokens.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimit {
    /// Refill rate, requests per second (what `x-amzn-RateLimit-Limit` reports).
    pub rate: f64,
    /// Bucket size: how many calls may be made at once.
    pub burst: u32,
}

impl RateLimit {
    /// Amazon's documented default plan for `op` (`domain`'s operation catalog).
    pub(crate) fn documented(op: Operation) -> Self {
        op.default_usage_plan().into()
    }
}

impl From<UsagePlan> for RateLimit {
    fn from(plan: UsagePlan) -> Self {
        RateLimit {
            rate: plan.rate_per_second,
            burst: plan.burst,
        }
    }
}

/// Key casing of the notification envelope sent to SQS.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NotificationCasing {
    /// camelCase keys, as in Amazon's JSON schema.
    #[default]
    Camel,
    /// PascalCase envelope keys (`NotificationVersion`, `Payload`, …) as other Amazon
    /// docs show; the inner payload stays camelCase.
    Pascal,
}

/// Terminal status a report is driven to.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Outcome {
    /// The report completes with a document.
    #[default]
    Done,
    /// The report aborts; its document is an error document.
    Fatal,
    /// The report is cancelled (as Amazon does when there is no data); no document.
    Cancelled,
}

/// Character set a flat-file document is served in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Charset {
    /// UTF-8.
    #[serde(rename = "UTF-8", alias = "utf-8", alias = "utf8", alias = "UTF8")]
    Utf8,
    /// Windows-31J, labelled the way Amazon labels it (Java's name "Cp932").
    #[serde(
        rename = "Cp932",
        alias = "cp932",
        alias = "CP932",
        alias = "Shift_JIS",
        alias = "Windows-31J"
    )]
    Cp932,
}

impl Charset {
    /// The label served in `Content-Type: …; charset=<label>`.
    pub fn label(self) -> &'static str {
        match self {
            Charset::Utf8 => "UTF-8",
            Charset::Cp932 => "Cp932",
        }
    }
}

/// Behaviour of the reports a rule matches; every knob is optional.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ReportRule {
    /// Matches only this report type (any when absent).
    pub report_type: Option<String>,
    /// Matches only requests that include this marketplace (any when absent).
    pub marketplace_id: Option<String>,
    /// Terminal status; absent = what Amazon would do (DONE for a valid request).
    pub outcome: Option<Outcome>,
    /// Data rows in the document; absent = deterministic 50–500 from the request.
    pub rows: Option<u64>,
    /// Charset of the document; absent = Cp932 for Japanese flat files, else UTF-8.
    pub charset: Option<Charset>,
    /// Whether the document is gzip-compressed (default true).
    pub compress: Option<bool>,
    /// Extra deliveries of the notification with the same notificationId.
    pub duplicate_notifications: u32,
    /// Extra deliveries of the notification with new notificationIds.
    pub renotify: u32,
    /// Notifications for reports this client never created (as from a schedule).
    pub unsolicited_notifications: u32,
    /// Send no notification for the report at all.
    pub lose_notification: bool,
    /// The first download stops halfway through the document.
    pub truncate_first_download: bool,
    /// The first download's connection is reset halfway through the document (as when
    /// a network path drops): what arrived is a correct prefix, and a `Range` request
    /// for the rest is answered like S3 does (206 Partial Content).
    pub reset_first_download: bool,
    /// Lifetime of this report's document URLs, in seconds.
    pub url_ttl_secs: Option<u64>,
    /// The first document URL issued for the report is already expired (as when the
    /// download starts after the URL's 5 minutes); later ones live normally.
    pub expire_first_url: bool,
    /// IN_QUEUE duration for this report, in milliseconds ("slow reports").
    pub in_queue_ms: Option<u64>,
    /// IN_PROGRESS duration for this report, in milliseconds.
    pub in_progress_ms: Option<u64>,
    /// Text of the FATAL error document.
    pub fatal_reason: Option<String>,
    /// Flat files only: columns Amazon added after its documentation (as `order-item-id`
    /// appeared in the order reports in 2026, selling-partner-api-models#5249), appended
    /// with a value per row.
    pub added_columns: Vec<String>,
    /// Flat files only: documented columns left out of the document.
    pub dropped_columns: Vec<String>,
    /// The document lives at this URL, not at one the simulator presigns (Amazon's live
    /// on S3, another host): getReportDocument hands it out as given. `make bench` points
    /// it at a static file server, so generating a document does not share the CPU with
    /// the client being measured.
    pub document_url: Option<String>,
}

impl ReportRule {
    fn matches(&self, report_type: &str, marketplace_ids: &[String]) -> bool {
        self.report_type
            .as_deref()
            .is_none_or(|wanted| wanted == report_type)
            && self
                .marketplace_id
                .as_deref()
                .is_none_or(|wanted| marketplace_ids.iter().any(|id| id == wanted))
    }
}

/// Behaviour of the Data Kiosk queries a rule matches; every knob is optional.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct QueryRule {
    /// Matches only queries of this dataset, e.g. `analytics_salesAndTraffic_2024_04_24`.
    pub dataset: Option<String>,
    /// Matches only this query of the dataset, e.g. `salesAndTrafficByDate`.
    pub query: Option<String>,
    /// Terminal status of every page; absent = DONE.
    pub outcome: Option<Outcome>,
    /// Pages of results (each a query of its own, created with the previous page's
    /// `pagination.nextToken`); absent = 1.
    pub pages: Option<u32>,
    /// Records per page; 0 = DONE without a document (no data). Absent = 50–500, fixed
    /// by the query.
    pub rows: Option<u64>,
    /// Text of the FATAL error document.
    pub fatal_reason: Option<String>,
    /// Whether documents are gzip-compressed (signalled by `Content-Encoding`; default true).
    pub compress: Option<bool>,
    /// Extra deliveries of each page's notification with the same notificationId.
    pub duplicate_notifications: u32,
    /// Send no notification for any page of the query.
    pub lose_notification: bool,
    /// The first document URL issued for each page is already expired.
    pub expire_first_url: bool,
    /// IN_QUEUE duration of each page, in milliseconds.
    pub in_queue_ms: Option<u64>,
    /// IN_PROGRESS duration of each page, in milliseconds.
    pub in_progress_ms: Option<u64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partial_json_keeps_the_other_defaults() {
        let scenario: Scenario =
            serde_json::from_str(r#"{"in_queue_ms": 5, "throttle_next": {"createReport": 3}}"#)
                .unwrap();
        assert_eq!(scenario.in_queue_ms, 5);
        assert_eq!(scenario.in_progress_ms, 300);
        assert_eq!(scenario.throttle_next["createReport"], 3);
        assert!(scenario.enforce_rate_limits);
        assert_eq!(
            scenario.rate_limit(Operation::GetReport),
            RateLimit {
                rate: 2.0,
                burst: 15
            }
        );
    }

    #[test]
    fn unknown_knob_is_rejected() {
        let err = serde_json::from_str::<Scenario>(r#"{"throtle_next": {}}"#).unwrap_err();
        assert!(err.to_string().contains("throtle_next"), "{err}");
    }

    #[test]
    fn unknown_operation_name_fails_validation() {
        let scenario: Scenario =
            serde_json::from_str(r#"{"throttle_next": {"createReports": 1}}"#).unwrap();
        let err = scenario.validate().unwrap_err();
        assert!(err.0.contains("createReports"), "{err}");
    }

    #[test]
    fn operations_missing_from_rate_limits_use_documented_plan() {
        let scenario: Scenario =
            serde_json::from_str(r#"{"rate_limits": {"getReport": {"rate": 100, "burst": 1}}}"#)
                .unwrap();
        assert_eq!(scenario.rate_limit(Operation::GetReport).burst, 1);
        assert_eq!(
            scenario.rate_limit(Operation::CreateReport),
            RateLimit {
                rate: 0.0167,
                burst: 15
            }
        );
    }

    #[test]
    fn first_matching_rule_wins() {
        let scenario: Scenario = serde_json::from_str(
            r#"{"rules": [
                {"report_type": "A", "marketplace_id": "A1VC38T7YXB528", "rows": 1},
                {"report_type": "A", "rows": 2},
                {"rows": 3}
            ]}"#,
        )
        .unwrap();
        let jp = vec!["A1VC38T7YXB528".to_owned()];
        let us = vec!["ATVPDKIKX0DER".to_owned()];
        assert_eq!(scenario.rule_for("A", &jp).unwrap().rows, Some(1));
        assert_eq!(scenario.rule_for("A", &us).unwrap().rows, Some(2));
        assert_eq!(scenario.rule_for("B", &us).unwrap().rows, Some(3));
    }

    #[test]
    fn outcome_and_charset_use_amazon_spellings() {
        let rule: ReportRule =
            serde_json::from_str(r#"{"outcome": "FATAL", "charset": "Cp932"}"#).unwrap();
        assert_eq!(rule.outcome, Some(Outcome::Fatal));
        assert_eq!(rule.charset, Some(Charset::Cp932));
        let text = serde_json::to_string(&NotificationCasing::Pascal).unwrap();
        assert_eq!(text, r#""pascal""#);
    }
}
