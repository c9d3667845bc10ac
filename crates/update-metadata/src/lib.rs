//! AwaitReport and Record: the metadata table's writers on the state machine's side.
//!
//! `await` runs as a `.waitForTaskToken` task: it stores the task token and, when the
//! terminal status is already there (the notification won the race), sends the result
//! itself — whichever of "token stored" and "status stored" comes second sends
//! (design.md "Why the task token"). `stored`, `no-data` and `fatal` record how a
//! request ended; `summary` counts the run's outcomes, and the state machine then fails
//! the run with `ReportFatal` when any report was FATAL — after every other report has
//! finished, so one bad report does not stop the others.

use chrono::Utc;
use domain::{PlannedRequest, RequestKey};
use pipeline::{Failure, MetadataTable, Outcome, send_task_result};
use serde::{Deserialize, Serialize};

/// What the Store step reports about the object it wrote.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StoredObject {
    /// The raw object's key.
    pub object_key: String,
    /// SHA-256 (hex) of the object.
    pub sha256: String,
    /// Object size in bytes.
    pub bytes: u64,
    /// Data rows.
    pub rows: u64,
}

/// Input, by action.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "kebab-case")]
pub enum Input {
    /// Store the task token of AwaitReport.
    #[serde(rename_all = "camelCase")]
    Await {
        /// The request.
        key: RequestKey,
        /// `$$.Task.Token`.
        task_token: String,
    },
    /// The document is in S3.
    #[serde(rename_all = "camelCase")]
    Stored {
        /// The request.
        item: PlannedRequest,
        /// Amazon's report id.
        report_id: String,
        /// What Store wrote.
        stored: StoredObject,
    },
    /// Amazon cancelled the report (no data for the window).
    #[serde(rename_all = "camelCase")]
    NoData {
        /// The request.
        item: PlannedRequest,
        /// Amazon's report id.
        report_id: String,
    },
    /// Amazon ended the report FATAL.
    #[serde(rename_all = "camelCase")]
    Fatal {
        /// The request.
        item: PlannedRequest,
        /// Amazon's report id.
        report_id: String,
        /// The reason from the error document.
        reason: String,
    },
    /// End of the run: the results of every request.
    #[serde(rename_all = "camelCase")]
    Summary {
        /// One per Map item.
        results: Vec<ItemResult>,
    },
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
    /// Amazon's report id.
    pub report_id: String,
    /// How it ended.
    #[serde(flatten)]
    pub outcome: Outcome,
    /// When it was recorded.
    pub recorded_at: chrono::DateTime<Utc>,
}

/// The run's summary. The state machine fails the run with `ReportFatal` (and `message`
/// as its cause) when `fatal` is not zero, after every request has finished.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RunSummary {
    /// Reports stored.
    pub stored: usize,
    /// Reports Amazon had no data for.
    pub no_data: usize,
    /// Reports Amazon ended FATAL.
    pub fatal: usize,
    /// What went wrong, when something did: each FATAL report and its reason.
    pub message: Option<String>,
    /// Every request's result.
    pub results: Vec<ItemResult>,
}

/// Output, by action.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Output {
    /// `await`: whether this call sent the result.
    #[serde(rename_all = "camelCase")]
    Awaiting {
        /// True when the status was already terminal and this call resumed the task.
        result_sent: bool,
    },
    /// `stored`, `no-data`, `fatal`.
    Recorded(Box<ItemResult>),
    /// `summary`.
    Summary(RunSummary),
}

/// The function and the clients it keeps between invocations.
pub struct UpdateMetadata {
    table: MetadataTable,
    sfn: aws_sdk_sfn::Client,
}

impl UpdateMetadata {
    /// The function with its clients.
    pub fn new(table: MetadataTable, sfn: aws_sdk_sfn::Client) -> Self {
        UpdateMetadata { table, sfn }
    }

    /// Runs one invocation.
    pub async fn handle(&self, input: Input) -> Result<Output, Failure> {
        match input {
            Input::Await { key, task_token } => {
                self.table.store_task_token(&key, &task_token).await?;
                let result_sent = match self.table.claim_result(&key).await? {
                    Some(result) => {
                        send_task_result(&self.sfn, &result).await?;
                        true
                    }
                    None => false,
                };
                tracing::info!(%key, result_sent, "task token stored");
                Ok(Output::Awaiting { result_sent })
            }
            Input::Stored {
                item,
                report_id,
                stored,
            } => {
                let outcome = Outcome::Stored {
                    object_key: stored.object_key,
                    sha256: stored.sha256,
                    bytes: stored.bytes,
                    rows: stored.rows,
                };
                self.record(item, report_id, outcome).await
            }
            Input::NoData { item, report_id } => {
                self.record(item, report_id, Outcome::NoData).await
            }
            Input::Fatal {
                item,
                report_id,
                reason,
            } => {
                self.record(item, report_id, Outcome::Fatal { reason })
                    .await
            }
            Input::Summary { results } => Ok(Output::Summary(summarize(results))),
        }
    }

    async fn record(
        &self,
        item: PlannedRequest,
        report_id: String,
        outcome: Outcome,
    ) -> Result<Output, Failure> {
        let now = Utc::now();
        self.table.record_outcome(&item.key, &outcome, now).await?;
        tracing::info!(key = %item.key, %report_id, ?outcome, "outcome recorded");
        Ok(Output::Recorded(Box::new(ItemResult {
            report: item.report,
            account: item.request.account.clone(),
            report_type: item.request.report_type.clone(),
            marketplace_ids: item.request.marketplace_ids.clone(),
            data_date: item.request.window.data_date().to_string(),
            key: item.key,
            report_id,
            outcome,
            recorded_at: now,
        })))
    }
}

/// Counts the run's results and, when reports ended FATAL, says which and why.
pub fn summarize(results: Vec<ItemResult>) -> RunSummary {
    let fatal: Vec<String> = results
        .iter()
        .filter_map(|r| match &r.outcome {
            Outcome::Fatal { reason } => Some(format!(
                "{} ({} {}, report {}): {reason}",
                r.report, r.account, r.data_date, r.report_id
            )),
            _ => None,
        })
        .collect();
    let message = (!fatal.is_empty()).then(|| {
        format!(
            "{} of {} reports ended FATAL: {}; fix the request (dates, marketplaces, role) before running again",
            fatal.len(),
            results.len(),
            fatal.join("; ")
        )
    });
    RunSummary {
        stored: results
            .iter()
            .filter(|r| matches!(r.outcome, Outcome::Stored { .. }))
            .count(),
        no_data: results
            .iter()
            .filter(|r| r.outcome == Outcome::NoData)
            .count(),
        fatal: fatal.len(),
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
            report_id: "5001".into(),
            outcome,
            recorded_at: Utc::now(),
        }
    }

    #[test]
    fn summary_counts_stored_and_no_data() {
        let stored = Outcome::Stored {
            object_key: "k".into(),
            sha256: "s".into(),
            bytes: 1,
            rows: 1,
        };
        let summary = summarize(vec![result(stored), result(Outcome::NoData)]);
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
    fn item_result_flattens_the_outcome() {
        let json = serde_json::to_value(result(Outcome::Fatal { reason: "r".into() })).unwrap();
        assert_eq!(json["outcome"], "FATAL");
        assert_eq!(json["reason"], "r");
        let back: ItemResult = serde_json::from_value(json).unwrap();
        assert_eq!(back.outcome, Outcome::Fatal { reason: "r".into() });
    }

    #[test]
    fn await_input_reads_the_task_token() {
        let input: Input = serde_json::from_str(
            r#"{"action":"await","key":"b37071399f5c0e7aa527e411c0903ff5","taskToken":"t-1"}"#,
        )
        .unwrap();
        assert!(matches!(input, Input::Await { task_token, .. } if task_token == "t-1"));
    }
}
