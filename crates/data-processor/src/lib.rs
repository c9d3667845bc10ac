//! PollStatus and ReadFatalReason: the Reports API calls the state machine makes itself.
//! (Data Kiosk's getQuery and Amazon Ads' getReport stand in for getReport, their error
//! document and `failureReason` for the report's error document.)
//!
//! PollStatus is the polling fallback for lost notifications (and for sources that send
//! none): one getReport (2/s, burst 15, so polling is cheap but not free), the status
//! written to the metadata table, and the wait before the next poll, growing
//! exponentially. Waits end: a report still queued or in progress past its patience
//! (counted from Amazon's `createdTime`) is cancelled if it is still queued (Amazon
//! cancels only those) and fails `ReportStuck`; the next run's catch-up requests a new one. ReadFatalReason reads the reason a FATAL report gives, if Amazon gave
//! one (api-facts.md §8 pitfall 3: often it does not).

use chrono::{TimeDelta, Utc};
use contract::{
    DataProcessorInput, DataProcessorOutput, FatalReason, PollStatusInput, PollStatusOutput,
    ReadFatalReasonInput,
};
use domain::{ErrorName, PlannedRequest, ProcessingStatus};
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
                let (client, polled) = match item.request.ads_profile() {
                    _ if item.request.amc.is_some() => {
                        let amc = self.spapi.amc_client_for(&item, &token).await?;
                        let polled = Polled::of_amc(&amc, &item, &report_id).await?;
                        let instance = polled.instance.clone().unwrap_or_default();
                        let given_up = !polled.status.is_terminal()
                            && Utc::now() - polled.created
                                >= TimeDelta::seconds(i64::from(item.patience_secs));
                        if given_up {
                            // AMC cancels executions PENDING or RUNNING alike.
                            if let Err(error) = amc.cancel_execution(&instance, &report_id).await {
                                tracing::warn!(%report_id, error = %error, "cancelling the AMC execution failed; it is given up anyway");
                            }
                        }
                        // The execution no longer runs: its place on the instance is free.
                        if (given_up || polled.status.is_terminal())
                            && let Err(error) =
                                self.table.release_amc_place(&instance, &item.key).await
                        {
                            tracing::warn!(key = %item.key, error = %error, "giving back the AMC place failed; it lapses with its lease");
                        }
                        (None, polled)
                    }
                    Some(profile) => {
                        let ads = self.spapi.ads_client_for(&item, &token).await?;
                        (
                            None,
                            Polled::of_ads(&ads.get_report(profile, &report_id).await?),
                        )
                    }
                    None => {
                        let client = self.spapi.client_for(&item, &token).await?;
                        let polled = Polled::fetch(&client, &item, &report_id).await?;
                        (Some(client), polled)
                    }
                };
                let status = polled.status;
                let now = Utc::now();
                let patience = TimeDelta::seconds(i64::from(item.patience_secs));
                let age = now - polled.created;
                if !status.is_terminal() && age >= patience {
                    return Err(self
                        .give_up(client.as_ref(), &item, &report_id, status, age, patience)
                        .await);
                }
                if status.is_terminal() {
                    self.table
                        .record_status(
                            &item.request.selling_partner_id,
                            &report_id,
                            status,
                            polled.document_id.as_deref(),
                            polled.next_page_token.as_deref(),
                        )
                        .await?;
                }
                // Never wait past the patience: the poll after it is the one that gives up.
                let remaining = u64::try_from((patience - age).num_seconds()).unwrap_or(0);
                let wait_seconds =
                    poll_delay(attempt, self.poll_base_seconds, self.poll_max_seconds)
                        .min(remaining.max(1));
                tracing::info!(key = %item.key, %report_id, %status, attempt = attempt + 1, wait_seconds, "polled");
                Ok(DataProcessorOutput::PollStatus(PollStatusOutput {
                    processing_status: status,
                    report_document_id: polled.document_id,
                    next_page_token: polled.next_page_token,
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
                if let Some(amc) = &item.request.amc {
                    let client = self.spapi.amc_client_for(&item, &token).await?;
                    let execution = client.execution(&amc.instance_id, &document_id).await?;
                    let reason = execution
                        .status_reason
                        .filter(|r| !r.trim().is_empty())
                        .unwrap_or_else(|| {
                            "AMC ended the workflow execution FAILED without a statusReason"
                                .to_owned()
                        });
                    tracing::info!(key = %item.key, %reason, "FAILED reason read");
                    return Ok(DataProcessorOutput::ReadFatalReason(FatalReason { reason }));
                }
                if let Some(profile) = item.request.ads_profile() {
                    let ads = self.spapi.ads_client_for(&item, &token).await?;
                    let report = ads.get_report(profile, &document_id).await?;
                    let reason = report
                        .failure_reason
                        .filter(|r| !r.trim().is_empty())
                        .unwrap_or_else(|| NO_FAILURE_REASON.to_owned());
                    tracing::info!(key = %item.key, %reason, "FAILED reason read");
                    return Ok(DataProcessorOutput::ReadFatalReason(FatalReason { reason }));
                }
                let client = self.spapi.client_for(&item, &token).await?;
                let document = if item.request.is_data_kiosk() {
                    client.get_data_kiosk_document(&document_id).await?.into()
                } else {
                    client
                        .get_report_document(&document_id, ReportDocumentOptions::default())
                        .await?
                };
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

impl DataProcessor {
    /// Ends the wait for a report that outlived its patience: cancels it when it is still
    /// queued; the failure says what happened and that the next run asks again.
    async fn give_up(
        &self,
        client: Option<&spapi::SpApiClient>,
        item: &PlannedRequest,
        report_id: &str,
        status: ProcessingStatus,
        age: TimeDelta,
        patience: TimeDelta,
    ) -> Failure {
        // Data Kiosk cancels queries in progress too; the Reports API only queued ones.
        let data_kiosk = item.request.is_data_kiosk();
        let cancellable = status == ProcessingStatus::InQueue
            || (data_kiosk && status == ProcessingStatus::InProgress);
        let cancelled = if let (Some(client), true) = (client, cancellable) {
            let cancelling = if data_kiosk {
                client.cancel_query(report_id).await
            } else {
                client.cancel_report(report_id).await
            };
            match cancelling {
                Ok(()) => "cancelled it",
                Err(error) => {
                    tracing::warn!(%report_id, error = %error, "cancelling failed; the report is given up anyway");
                    "could not cancel it"
                }
            }
        } else if item.request.amc.is_some() {
            "it was cancelled (AMC cancels executions pending or running)"
        } else if client.is_none() {
            "Amazon Ads reports are not cancelled, so it was left to finish"
        } else {
            "Amazon cancels only queued reports, so it was left to finish"
        };
        tracing::warn!(%report_id, %status, age_secs = age.num_seconds(), "report given up");
        Failure::new(
            ErrorName::ReportStuck,
            format!(
                "report {report_id} was still {status} {} after it was created, past the patience of {}; {cancelled}; the next run requests the window again",
                spoken(age),
                spoken(patience)
            ),
        )
    }
}

/// What one poll learnt, of a report (getReport) or a Data Kiosk query (getQuery).
struct Polled {
    status: ProcessingStatus,
    created: chrono::DateTime<Utc>,
    /// The report's document, or the query's data or error document.
    document_id: Option<String>,
    next_page_token: Option<String>,
    /// The AMC instance of an execution.
    instance: Option<String>,
}

impl Polled {
    async fn fetch(
        client: &spapi::SpApiClient,
        item: &PlannedRequest,
        id: &str,
    ) -> Result<Polled, Failure> {
        if item.request.is_data_kiosk() {
            let query = client.get_query(id).await?;
            let next_page_token = query.next_page_token().map(str::to_owned);
            return Ok(Polled {
                status: query.processing_status,
                created: query.created_time,
                document_id: query.data_document_id.or(query.error_document_id),
                next_page_token,
                instance: None,
            });
        }
        let report = client.get_report(id).await?;
        Ok(Polled {
            status: report.processing_status,
            created: report.created_time,
            document_id: report.report_document_id,
            next_page_token: None,
            instance: None,
        })
    }
}

impl Polled {
    /// An Amazon Ads report as a poll: its statuses in the Reports API's terms; once
    /// finished, the report itself stands for its document (Store and ReadFatalReason
    /// read the report again for a fresh URL or the failure reason).
    fn of_ads(report: &spapi::ads::AdsReport) -> Polled {
        use spapi::ads::AdsReportStatus;
        let status = match report.status {
            AdsReportStatus::Pending => ProcessingStatus::InQueue,
            AdsReportStatus::Processing => ProcessingStatus::InProgress,
            AdsReportStatus::Completed => ProcessingStatus::Done,
            AdsReportStatus::Failed => ProcessingStatus::Fatal,
        };
        Polled {
            status,
            // Amazon always sends createdAt; without it the patience counts from now.
            created: report.created_at.unwrap_or_else(Utc::now),
            document_id: status.is_terminal().then(|| report.report_id.clone()),
            next_page_token: None,
            instance: None,
        }
    }

    /// An AMC workflow execution as a poll: its statuses in the Reports API's terms; once
    /// finished, the execution stands for its result files (Store reads fresh download
    /// URLs; ReadFatalReason its `statusReason`).
    async fn of_amc(
        client: &spapi::amc::AmcClient,
        item: &PlannedRequest,
        execution_id: &str,
    ) -> Result<Polled, Failure> {
        use spapi::amc::ExecutionStatus;
        let instance = item
            .request
            .amc
            .as_ref()
            .map(|a| a.instance_id.clone())
            .unwrap_or_default();
        let execution = client.execution(&instance, execution_id).await?;
        let status = match execution.status {
            ExecutionStatus::Pending => ProcessingStatus::InQueue,
            ExecutionStatus::Running => ProcessingStatus::InProgress,
            ExecutionStatus::Succeeded => ProcessingStatus::Done,
            ExecutionStatus::Failed => ProcessingStatus::Fatal,
            ExecutionStatus::Cancelled => ProcessingStatus::Cancelled,
        };
        Ok(Polled {
            status,
            created: execution.create_time.unwrap_or_else(Utc::now),
            document_id: status.is_terminal().then(|| execution_id.to_owned()),
            next_page_token: None,
            instance: Some(instance),
        })
    }
}

/// A duration as an operator reads it: seconds, minutes or hours.
fn spoken(duration: TimeDelta) -> String {
    let seconds = duration.num_seconds();
    match seconds {
        ..120 => format!("{seconds} s"),
        120..7200 => format!("{} min", seconds / 60),
        _ => format!("{:.1} h", seconds as f64 / 3600.0),
    }
}

const NO_FAILURE_REASON: &str = "Amazon Ads ended the report FAILED without a failureReason";

const NO_ERROR_DOCUMENT: &str = "Amazon ended the report FATAL without an error document; common causes: dates not aligned to the report period, more than one marketplace, or a missing role";

/// The reason in an error document: `errorDetails` (reports) or `errorMessage` of the
/// JSON Amazon writes, else the text.
pub fn reason_of(document: &str) -> String {
    let parsed: Option<serde_json::Value> = serde_json::from_str(document).ok();
    let details = parsed
        .as_ref()
        .and_then(|v| v.get("errorDetails").or_else(|| v.get("errorMessage")))
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

    /// Polls of a report that never finishes, from its creation to the one past `patience`,
    /// as PollStatus spaces them (it never waits past the patience).
    fn polls_until(patience: u64, base: u64, max: u64) -> u32 {
        let (mut waited, mut polls) = (0, 0);
        loop {
            polls += 1;
            if waited >= patience {
                return polls;
            }
            waited += poll_delay(polls - 1, base, max)
                .min(patience - waited)
                .max(1);
        }
    }

    /// The bound README states: a report stuck for the whole six-hour patience of SP-API
    /// reports costs at most this many polls, each 9 history events (Task 5, Choice 2,
    /// Wait 2), with the default cadence (15 s doubling to 600 s).
    #[test]
    fn a_stuck_report_costs_a_bounded_number_of_polls() {
        let polls = polls_until(6 * 3600, 15, 600);
        assert!(polls <= 42, "{polls} polls");
        assert!(polls * 9 <= 380);
        // Without the cap the same patience would take a few polls, spaced hours apart:
        // the cap is what finds a late report within ten minutes.
        assert!(polls_until(6 * 3600, 15, u64::MAX) < 15);
    }

    #[test]
    fn durations_are_spoken_in_the_unit_an_operator_expects() {
        assert_eq!(spoken(TimeDelta::seconds(3)), "3 s");
        assert_eq!(spoken(TimeDelta::minutes(45)), "45 min");
        assert_eq!(spoken(TimeDelta::hours(6)), "6.0 h");
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
