//! PollStatus and ReadFatalReason: the Reports API calls the state machine makes itself.
//!
//! PollStatus is the polling fallback for lost notifications (and for sources that send
//! none): one getReport (2/s, burst 15, so polling is cheap but not free), the status
//! written to the metadata table, and the wait before the next poll, growing
//! exponentially. ReadFatalReason reads the reason a FATAL report gives, if Amazon gave
//! one (api-facts.md §8 pitfall 3: often it does not).

use chrono::Utc;
use contract::{
    DataProcessorInput, DataProcessorOutput, FatalReason, PollStatusInput, PollStatusOutput,
    ReadFatalReasonInput,
};
use lambda_runtime::LambdaEvent;
use pipeline::{Failure, MetadataTable, SpApiAccess};
use spapi::ReportDocumentOptions;
use tokio::io::AsyncReadExt;

/// The longest error document read; Amazon's are a few hundred bytes.
const ERROR_DOCUMENT_LIMIT: u64 = 64 * 1024;

/// How long to wait before poll number `attempt + 1`: `base` doubling per poll, capped.
pub fn poll_delay(attempt: u32, base_seconds: u64, max_seconds: u64) -> u64 {
    base_seconds
        .saturating_mul(1u64 << attempt.min(20))
        .min(max_seconds)
}

/// The function and the clients it keeps between invocations.
pub struct DataProcessor {
    spapi: SpApiAccess,
    table: MetadataTable,
    poll_base_seconds: u64,
    poll_max_seconds: u64,
}

impl DataProcessor {
    /// The function with its clients and polling cadence.
    pub fn new(
        spapi: SpApiAccess,
        table: MetadataTable,
        poll_base_seconds: u64,
        poll_max_seconds: u64,
    ) -> Self {
        DataProcessor {
            spapi,
            table,
            poll_base_seconds,
            poll_max_seconds,
        }
    }

    /// Runs one invocation.
    pub async fn handle(
        &self,
        event: LambdaEvent<DataProcessorInput>,
    ) -> Result<DataProcessorOutput, Failure> {
        match event.payload {
            DataProcessorInput::PollStatus(input) => {
                let PollStatusInput {
                    item,
                    token,
                    report_id,
                    attempt,
                } = *input;
                let client = self.spapi.client_for(&item, &token).await?;
                let report = client.get_report(&report_id).await?;
                let status = report.processing_status;
                if status.is_terminal() {
                    self.table
                        .record_status(
                            &item.request.selling_partner_id,
                            &report_id,
                            status,
                            report.report_document_id.as_deref(),
                        )
                        .await?;
                }
                let wait_seconds =
                    poll_delay(attempt, self.poll_base_seconds, self.poll_max_seconds);
                tracing::info!(key = %item.key, %report_id, %status, attempt = attempt + 1, wait_seconds, "polled");
                Ok(DataProcessorOutput::PollStatus(PollStatusOutput {
                    processing_status: status,
                    report_document_id: report.report_document_id,
                    attempt: attempt + 1,
                    wait_seconds,
                }))
            }
            DataProcessorInput::ReadFatalReason(input) => {
                let ReadFatalReasonInput {
                    item,
                    token,
                    report_document_id,
                } = *input;
                let Some(document_id) = report_document_id else {
                    return Ok(DataProcessorOutput::ReadFatalReason(FatalReason {
                        reason: NO_ERROR_DOCUMENT.to_owned(),
                    }));
                };
                let client = self.spapi.client_for(&item, &token).await?;
                let document = client
                    .get_report_document(&document_id, ReportDocumentOptions::default())
                    .await?;
                let mut text = Vec::new();
                client
                    .download_document(&document)
                    .await?
                    .take(ERROR_DOCUMENT_LIMIT)
                    .read_to_end(&mut text)
                    .await
                    .map_err(|e| {
                        let name = spapi::document_error_name(&e)
                            .unwrap_or(domain::ErrorName::DocumentTruncated);
                        Failure::caused_by(name, "reading the error document", e)
                    })?;
                let reason = reason_of(&String::from_utf8_lossy(&text));
                tracing::info!(key = %item.key, %reason, at = %Utc::now(), "FATAL reason read");
                Ok(DataProcessorOutput::ReadFatalReason(FatalReason { reason }))
            }
        }
    }
}

const NO_ERROR_DOCUMENT: &str = "Amazon ended the report FATAL without an error document; common causes: dates not aligned to the report period, more than one marketplace, or a missing role";

/// The reason in an error document: `errorDetails` of the JSON Amazon writes, else the text.
pub fn reason_of(document: &str) -> String {
    let parsed: Option<serde_json::Value> = serde_json::from_str(document).ok();
    let details = parsed
        .as_ref()
        .and_then(|v| v.get("errorDetails"))
        .and_then(|d| d.as_str());
    match details {
        Some(details) => details.trim().to_owned(),
        None if document.trim().is_empty() => NO_ERROR_DOCUMENT.to_owned(),
        None => document.trim().chars().take(2000).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn poll_delay_doubles_and_is_capped() {
        let delays: Vec<u64> = (0..6).map(|a| poll_delay(a, 15, 300)).collect();
        assert_eq!(delays, vec![15, 30, 60, 120, 240, 300]);
        assert_eq!(poll_delay(1000, 15, 300), 300);
    }

    #[test]
    fn reason_comes_from_error_details_or_the_text() {
        assert_eq!(
            reason_of(r#"{"errorDetails":"Report date range exceeds the limit"}"#),
            "Report date range exceeds the limit"
        );
        assert_eq!(reason_of("plain words\n"), "plain words");
        assert!(reason_of("  ").contains("without an error document"));
    }
}
