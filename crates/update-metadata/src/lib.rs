//! AwaitReport, Record* and Summarize: the metadata table's writers on the state
//! machine's side.
//!
//! AwaitReport runs as a `.waitForTaskToken` task: it stores the task token and, when the
//! terminal status is already there (the notification won the race), sends the result
//! itself — whichever of "token stored" and "status stored" comes second sends
//! (design.md "Why the task token"). RecordStored, RecordNoData, RecordFatal and
//! RecordFailed record how a request ended; Summarize counts the run's outcomes, and the
//! state machine then fails the run with `ReportsFailed` or `ReportFatal` — after every
//! other request has finished, so one bad report does not stop the others.

use chrono::{DateTime, Utc};
use contract::{
    AwaitReportInput, AwaitReportOutput, CuratedPartition, ItemResult, Outcome, RecordFailedInput,
    RecordFatalInput, RecordNoDataInput, RecordStoredInput, UpdateMetadataInput,
    UpdateMetadataOutput, summarize,
};
use domain::{PlannedRequest, ProcessingStatus};
use lambda_runtime::LambdaEvent;
use pipeline::metrics::{self, Metric, Unit};
use pipeline::{Failure, MetadataTable, RequestRecord};

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
    pub async fn handle(
        &self,
        event: LambdaEvent<UpdateMetadataInput>,
    ) -> Result<UpdateMetadataOutput, Failure> {
        match event.payload {
            UpdateMetadataInput::AwaitReport(AwaitReportInput { key, task_token }) => {
                self.table.store_task_token(&key, &task_token).await?;
                let delivery = self.table.resume_if_ready(&self.sfn, &key).await?;
                tracing::info!(%key, ?delivery, "task token stored");
                Ok(UpdateMetadataOutput::AwaitReport(AwaitReportOutput {
                    delivery,
                }))
            }
            UpdateMetadataInput::RecordStored(input) => {
                let RecordStoredInput {
                    item,
                    report_id,
                    stored,
                    curated,
                    pages,
                } = *input;
                let outcome = if pages.is_empty() {
                    Outcome::Stored(stored)
                } else {
                    Outcome::StoredPages { pages }
                };
                self.record(item, Some(report_id), outcome, curated).await
            }
            UpdateMetadataInput::RecordNoData(input) => {
                let RecordNoDataInput { item, report_id } = *input;
                self.record(item, Some(report_id), Outcome::NoData, vec![])
                    .await
            }
            UpdateMetadataInput::RecordFatal(input) => {
                let RecordFatalInput {
                    item,
                    report_id,
                    reason,
                } = *input;
                self.record(item, Some(report_id), Outcome::Fatal { reason }, vec![])
                    .await
            }
            UpdateMetadataInput::RecordFailed(input) => {
                let RecordFailedInput {
                    item,
                    report_id,
                    failure,
                } = *input;
                let cause = cause_of(failure.cause.as_deref().unwrap_or_default());
                tracing::warn!(key = %item.key, error = %failure.error, %cause, "request failed");
                let outcome = Outcome::Failed {
                    error: failure.error,
                    cause,
                };
                let now = Utc::now();
                self.table.record_failure(&item, &outcome, now).await?;
                count(&item, &outcome, None, now);
                Ok(item_result(item, report_id, outcome, vec![], now))
            }
            UpdateMetadataInput::Summarize(input) => Ok(UpdateMetadataOutput::Summarize(
                summarize(input.results.into_iter().flatten().collect()),
            )),
        }
    }

    async fn record(
        &self,
        item: PlannedRequest,
        report_id: Option<String>,
        outcome: Outcome,
        curated: Vec<CuratedPartition>,
    ) -> Result<UpdateMetadataOutput, Failure> {
        let now = Utc::now();
        // A later page's outcome is the window's: recorded where the planner looks.
        let key = item.window_key();
        let record = self.table.record_outcome(key, &outcome, now).await?;
        count(&item, &outcome, Some(&record), now);
        tracing::info!(%key, page = item.page_number(), ?report_id, ?outcome, partitions = curated.len(), "outcome recorded");
        Ok(item_result(item, report_id, outcome, curated, now))
    }
}

/// The request's ending as metrics: landed (with bytes, rows and the time from DONE to
/// landed, from `record` as the outcome left it), no data, FATAL or failed, per source.
fn count(
    item: &PlannedRequest,
    outcome: &Outcome,
    record: Option<&RequestRecord>,
    now: DateTime<Utc>,
) {
    let mut metrics = match outcome {
        Outcome::Stored(stored) => vec![
            Metric::count("ReportsLanded"),
            Metric::new("BytesStored", stored.bytes as f64, Unit::Bytes),
            Metric::new("RowsStored", stored.rows as f64, Unit::Count),
        ],
        Outcome::StoredPages { .. } => vec![Metric::count("ReportsLanded")],
        Outcome::NoData => vec![Metric::count("ReportsNoData")],
        Outcome::Fatal { .. } => vec![Metric::count("ReportsFatal")],
        Outcome::Failed { .. } => vec![Metric::count("ReportsFailed")],
        // Recorded (and counted) by Plan, never here.
        Outcome::Expired { .. } => vec![],
    };
    if matches!(outcome, Outcome::Stored(_) | Outcome::StoredPages { .. })
        && let Some(record) = record
        && record.status == Some(ProcessingStatus::Done)
        && let Some(done_at) = record.status_at
    {
        let seconds = (now - done_at).num_milliseconds() as f64 / 1000.0;
        metrics.push(Metric::new(
            "DoneToLandedSeconds",
            seconds.max(0.0),
            Unit::Seconds,
        ));
    }
    metrics::emit(&metrics, &[("Source", item.request.source.as_str())]);
}

/// What Record* answers: the request's result for the run's summary.
fn item_result(
    item: PlannedRequest,
    report_id: Option<String>,
    outcome: Outcome,
    curated: Vec<CuratedPartition>,
    now: chrono::DateTime<Utc>,
) -> UpdateMetadataOutput {
    let key = item.window_key().clone();
    UpdateMetadataOutput::Recorded(Box::new(ItemResult {
        report: item.report,
        account: item.request.account.clone(),
        report_type: item.request.report_type.clone(),
        marketplace_ids: item.request.marketplace_ids.clone(),
        data_date: item.request.window.data_date().to_string(),
        key,
        report_id,
        outcome,
        curated,
        recorded_at: now,
    }))
}

/// The operator-facing cause of a caught failure: a Lambda's `errorMessage` when the
/// cause is the Lambda's error object, Step Functions' own words otherwise; redacted
/// either way, because it is stored in the metadata table and the run's summary.
fn cause_of(caught: &str) -> String {
    let message = serde_json::from_str::<serde_json::Value>(caught)
        .ok()
        .and_then(|v| {
            v.get("errorMessage")
                .and_then(|m| m.as_str())
                .map(str::to_owned)
        });
    domain::redact(message.as_deref().unwrap_or(caught))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cause_is_the_lambdas_message_without_secrets() {
        let caught = r#"{"errorType":"Unauthorized","errorMessage":"LWA answered invalid_grant for Atzr|IwEB-secret; re-authorise the app"}"#;
        assert_eq!(
            cause_of(caught),
            "LWA answered invalid_grant for Atzr|[redacted]; re-authorise the app"
        );
        assert_eq!(
            cause_of("Task timed out after 900 seconds"),
            "Task timed out after 900 seconds"
        );
    }
}
