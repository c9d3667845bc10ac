//! AwaitReport, Record* and Summarize: the metadata table's writers on the state
//! machine's side.
//!
//! AwaitReport runs as a `.waitForTaskToken` task: it stores the task token and, when the
//! terminal status is already there (the notification won the race), sends the result
//! itself — whichever of "token stored" and "status stored" comes second sends
//! (design.md "Why the task token"). RecordStored, RecordNoData and RecordFatal record
//! how a request ended; Summarize counts the run's outcomes, and the state machine then
//! fails the run with `ReportFatal` when any report was FATAL — after every other report
//! has finished, so one bad report does not stop the others.

use chrono::Utc;
use contract::{
    AwaitReportInput, AwaitReportOutput, ItemResult, Outcome, RecordFatalInput, RecordNoDataInput,
    RecordStoredInput, UpdateMetadataInput, UpdateMetadataOutput, summarize,
};
use domain::PlannedRequest;
use lambda_runtime::LambdaEvent;
use pipeline::{Failure, MetadataTable};

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
                } = *input;
                self.record(item, report_id, Outcome::Stored(stored)).await
            }
            UpdateMetadataInput::RecordNoData(input) => {
                let RecordNoDataInput { item, report_id } = *input;
                self.record(item, report_id, Outcome::NoData).await
            }
            UpdateMetadataInput::RecordFatal(input) => {
                let RecordFatalInput {
                    item,
                    report_id,
                    reason,
                } = *input;
                self.record(item, report_id, Outcome::Fatal { reason })
                    .await
            }
            UpdateMetadataInput::Summarize(input) => {
                Ok(UpdateMetadataOutput::Summarize(summarize(input.results)))
            }
        }
    }

    async fn record(
        &self,
        item: PlannedRequest,
        report_id: String,
        outcome: Outcome,
    ) -> Result<UpdateMetadataOutput, Failure> {
        let now = Utc::now();
        self.table.record_outcome(&item.key, &outcome, now).await?;
        tracing::info!(key = %item.key, %report_id, ?outcome, "outcome recorded");
        Ok(UpdateMetadataOutput::Recorded(Box::new(ItemResult {
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
