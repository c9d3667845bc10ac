//! How a request ended, and the run's summary: what Record writes, Summarize counts and
//! the CLI prints.

use chrono::{DateTime, Utc};
use domain::RequestKey;
use serde::{Deserialize, Serialize};

/// The raw object Store wrote; declared once, used by Store, Record and the summary.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StoredObject {
    /// The raw object's key.
    pub object_key: String,
    /// SHA-256 (hex) of the object's bytes.
    pub sha256: String,
    /// Object size in bytes (UTF-8).
    pub bytes: u64,
    /// Data rows.
    pub rows: u64,
    /// The charset the document arrived in, before transcoding to UTF-8.
    pub source_charset: String,
    /// Source byte sequences that were not valid in that charset and became U+FFFD: not
    /// zero means the charset was wrong (api-facts.md §8 pitfall 7), and the run says so.
    pub malformed_sequences: u64,
}

/// How a request ended, as recorded for operators and the run summary.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Outcome {
    /// The document is in S3.
    Stored(StoredObject),
    /// Every page of the window's results is in S3, one object each, in page order
    /// (Data Kiosk); the window landed only once its last page did.
    #[serde(rename_all = "camelCase")]
    StoredPages {
        /// The pages' objects.
        pages: Vec<StoredObject>,
    },
    /// Amazon cancelled the report: no data for the window.
    NoData,
    /// Amazon ended the report FATAL.
    #[serde(rename_all = "camelCase")]
    Fatal {
        /// The reason from the error document, or why none is known.
        reason: String,
    },
    /// A step failed for good (after its retries); the run's other requests went on.
    #[serde(rename_all = "camelCase")]
    Failed {
        /// The stable error name (`Unauthorized`, `ConfigInvalid`, `States.Timeout`, …).
        error: String,
        /// What happened, with anything secret-looking removed.
        cause: String,
    },
    /// The window starts before the report type's lookback limit and never landed:
    /// Amazon would refuse it, so it is not requested again (recorded by Plan).
    #[serde(rename_all = "camelCase")]
    Expired {
        /// Which limit, in words.
        reason: String,
    },
}

impl Outcome {
    /// The objects a stored window landed as (none for other outcomes).
    pub fn stored_objects(&self) -> &[StoredObject] {
        match self {
            Outcome::Stored(object) => std::slice::from_ref(object),
            Outcome::StoredPages { pages } => pages,
            _ => &[],
        }
    }

    /// Whether the window landed with data.
    pub fn is_stored(&self) -> bool {
        matches!(self, Outcome::Stored(_) | Outcome::StoredPages { .. })
    }
}

/// How one request of the run ended, as shown to operators.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ItemResult {
    /// The report's config name.
    pub report: String,
    /// The account.
    pub account: String,
    /// The report type.
    pub report_type: String,
    /// Marketplaces.
    pub marketplace_ids: Vec<String>,
    /// The data date (window start).
    pub data_date: String,
    /// The request key.
    pub key: RequestKey,
    /// Amazon's report id; `null` when the request failed before one was created.
    pub report_id: Option<String>,
    /// How it ended.
    #[serde(flatten)]
    pub outcome: Outcome,
    /// The curated partitions made of a stored report (empty otherwise).
    #[serde(default)]
    pub curated: Vec<crate::steps::CuratedPartition>,
    /// When it was recorded.
    pub recorded_at: DateTime<Utc>,
}

/// The run's summary. After every request has finished, the state machine fails the run
/// with `ReportsFailed` when `failed` is not zero, else with `ReportFatal` when `fatal` is
/// not zero, `message` being the cause either way.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RunSummary {
    /// Reports stored.
    pub stored: usize,
    /// Reports Amazon had no data for.
    pub no_data: usize,
    /// Reports Amazon ended FATAL.
    pub fatal: usize,
    /// Requests that failed (a step gave up); the state machine then fails the run with
    /// `ReportsFailed`.
    pub failed: usize,
    /// What went wrong, when something did: each failed or FATAL report and why.
    pub message: Option<String>,
    /// Every request's result.
    pub results: Vec<ItemResult>,
}

/// Counts the run's results and, when reports failed or ended FATAL, says which and why.
pub fn summarize(results: Vec<ItemResult>) -> RunSummary {
    let name = |r: &ItemResult| {
        let report = r.report_id.as_deref().unwrap_or("not created");
        format!(
            "{} ({} {}, report {report})",
            r.report, r.account, r.data_date
        )
    };
    let failed: Vec<String> = results
        .iter()
        .filter_map(|r| match &r.outcome {
            Outcome::Failed { error, cause } => Some(format!("{}: {error}: {cause}", name(r))),
            _ => None,
        })
        .collect();
    let fatal: Vec<String> = results
        .iter()
        .filter_map(|r| match &r.outcome {
            Outcome::Fatal { reason } => Some(format!("{}: {reason}", name(r))),
            _ => None,
        })
        .collect();
    let mut parts = Vec::new();
    if !failed.is_empty() {
        parts.push(format!(
            "{} of {} reports failed: {}; the others finished, and the failed ones are requested again by the next run once the cause is fixed",
            failed.len(),
            results.len(),
            failed.join("; ")
        ));
    }
    if !fatal.is_empty() {
        parts.push(format!(
            "{} of {} reports ended FATAL: {}; fix the request (dates, marketplaces, role) before running again",
            fatal.len(),
            results.len(),
            fatal.join("; ")
        ));
    }
    let garbled: Vec<String> = results
        .iter()
        .flat_map(|r| {
            r.outcome
                .stored_objects()
                .iter()
                .filter(|object| object.malformed_sequences > 0)
                .map(move |object| {
                    format!(
                        "{}: {} sequences not valid {}",
                        name(r),
                        object.malformed_sequences,
                        object.source_charset
                    )
                })
        })
        .collect();
    if !garbled.is_empty() {
        parts.push(format!(
            "{} stored reports have characters replaced by U+FFFD: {}; the charset was wrong (the download named none, or another), so check those objects before trusting text columns",
            garbled.len(),
            garbled.join("; ")
        ));
    }
    let message = (!parts.is_empty()).then(|| parts.join(". "));
    RunSummary {
        stored: results.iter().filter(|r| r.outcome.is_stored()).count(),
        no_data: results
            .iter()
            .filter(|r| r.outcome == Outcome::NoData)
            .count(),
        fatal: fatal.len(),
        failed: failed.len(),
        message,
        results,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(outcome: Outcome) -> ItemResult {
        ItemResult {
            report: "orders".into(),
            account: "acme".into(),
            report_type: "GET_FLAT_FILE_ALL_ORDERS_DATA_BY_ORDER_DATE_GENERAL".into(),
            marketplace_ids: vec!["ATVPDKIKX0DER".into()],
            data_date: "2026-11-24".into(),
            key: RequestKey::parse("b37071399f5c0e7aa527e411c0903ff5").unwrap(),
            report_id: Some("5001".into()),
            outcome,
            curated: vec![],
            recorded_at: Utc::now(),
        }
    }

    fn stored() -> Outcome {
        Outcome::Stored(StoredObject {
            object_key: "k".into(),
            sha256: "s".into(),
            bytes: 1,
            rows: 1,
            source_charset: "UTF-8".into(),
            malformed_sequences: 0,
        })
    }

    #[test]
    fn summary_counts_stored_and_no_data() {
        let summary = summarize(vec![result(stored()), result(Outcome::NoData)]);
        assert_eq!(
            (
                summary.stored,
                summary.no_data,
                summary.fatal,
                summary.results.len()
            ),
            (1, 1, 0, 2)
        );
        assert_eq!(summary.message, None);
    }

    #[test]
    fn fatal_reports_are_counted_and_named_with_their_reason() {
        let summary = summarize(vec![
            result(Outcome::NoData),
            result(Outcome::Fatal {
                reason: "Report date range exceeds the limit".into(),
            }),
        ]);
        assert_eq!(summary.fatal, 1);
        let text = summary.message.unwrap();
        assert!(text.contains("1 of 2 reports ended FATAL"), "{text}");
        assert!(
            text.contains(
                "orders (acme 2026-11-24, report 5001): Report date range exceeds the limit"
            ),
            "{text}"
        );
    }

    #[test]
    fn failed_requests_are_counted_and_named_with_their_error_before_fatal_ones() {
        let mut unauthorized = result(Outcome::Failed {
            error: "Unauthorized".into(),
            cause: "LWA refused the refresh token (invalid_grant)".into(),
        });
        unauthorized.report_id = None;
        let summary = summarize(vec![
            result(stored()),
            unauthorized,
            result(Outcome::Fatal { reason: "r".into() }),
        ]);
        assert_eq!((summary.stored, summary.failed, summary.fatal), (1, 1, 1));
        let text = summary.message.unwrap();
        assert!(
            text.starts_with("1 of 3 reports failed: orders (acme 2026-11-24, report not created): Unauthorized: LWA refused"),
            "{text}"
        );
        assert!(text.contains("1 of 3 reports ended FATAL"), "{text}");
    }

    #[test]
    fn replaced_characters_are_named_without_failing_the_run() {
        let mut object = match stored() {
            Outcome::Stored(object) => object,
            _ => unreachable!(),
        };
        object.source_charset = "UTF-8".into();
        object.malformed_sequences = 12;
        let summary = summarize(vec![result(Outcome::Stored(object))]);
        assert_eq!((summary.stored, summary.failed, summary.fatal), (1, 0, 0));
        let text = summary.message.unwrap();
        assert!(
            text.contains("1 stored reports have characters replaced by U+FFFD: orders (acme 2026-11-24, report 5001): 12 sequences not valid UTF-8"),
            "{text}"
        );
    }

    #[test]
    fn item_result_flattens_the_outcome() {
        let json = serde_json::to_value(result(stored())).unwrap();
        assert_eq!(json["outcome"], "STORED");
        assert_eq!(json["objectKey"], "k");
        let json = serde_json::to_value(result(Outcome::Fatal { reason: "r".into() })).unwrap();
        assert_eq!(json["outcome"], "FATAL");
        assert_eq!(json["reason"], "r");
        let back: ItemResult = serde_json::from_value(json).unwrap();
        assert_eq!(back.outcome, Outcome::Fatal { reason: "r".into() });
    }
}
