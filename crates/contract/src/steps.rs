//! Every step's input and output, and each Lambda's input and output as the union of the
//! steps it serves.
//!
//! The `step` tag of an input is the [`Step`] that invoked the function; a step that is
//! repeated under another state name (the `Reauthenticate…` states) sends the step it
//! repeats. Inputs refuse unknown fields, so a field the state machine renamed fails at
//! once rather than arriving as a default.

use chrono::{DateTime, NaiveDate, Utc};
use domain::{PlannedRequest, ProcessingStatus, RequestKey};
use serde::{Deserialize, Serialize};

use crate::functions::Function;
use crate::outcome::{ItemResult, RunSummary, StoredObject};
use crate::token::SealedToken;

/// A step of the state machine that invokes a Lambda, by the name in its `step` tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Step {
    /// Expand the config into the run's requests.
    Plan,
    /// Turn an account's LWA credentials into a sealed access token.
    Authenticate,
    /// createReport, at most once per request key.
    CreateReport,
    /// Wait for the notification (`.waitForTaskToken`).
    AwaitReport,
    /// One getReport, when no notification came in time.
    PollStatus,
    /// Stream the report document into the raw bucket.
    Store,
    /// Turn the raw object into the curated tables' Parquet partitions.
    Curate,
    /// Read why Amazon ended a report FATAL.
    ReadFatalReason,
    /// Record a stored report.
    RecordStored,
    /// Record a report Amazon cancelled (no data).
    RecordNoData,
    /// Record a FATAL report and its reason.
    RecordFatal,
    /// Record a request whose step failed for good.
    RecordFailed,
    /// Count the run's outcomes.
    Summarize,
}

impl Step {
    /// Every step, in the order a report meets them.
    pub const ALL: [Step; 13] = [
        Step::Plan,
        Step::Authenticate,
        Step::CreateReport,
        Step::AwaitReport,
        Step::PollStatus,
        Step::Store,
        Step::Curate,
        Step::ReadFatalReason,
        Step::RecordStored,
        Step::RecordNoData,
        Step::RecordFatal,
        Step::RecordFailed,
        Step::Summarize,
    ];

    /// The `step` tag, which is also the name of the state that normally runs it.
    pub const fn as_str(self) -> &'static str {
        match self {
            Step::Plan => "Plan",
            Step::Authenticate => "Authenticate",
            Step::CreateReport => "CreateReport",
            Step::AwaitReport => "AwaitReport",
            Step::PollStatus => "PollStatus",
            Step::Store => "Store",
            Step::Curate => "Curate",
            Step::ReadFatalReason => "ReadFatalReason",
            Step::RecordStored => "RecordStored",
            Step::RecordNoData => "RecordNoData",
            Step::RecordFatal => "RecordFatal",
            Step::RecordFailed => "RecordFailed",
            Step::Summarize => "Summarize",
        }
    }

    /// The Lambda that serves the step.
    pub const fn function(self) -> Function {
        use crate::functions::{
            AUTH, DATA_PROCESSOR, REPORT_CREATOR, STORAGE, TRANSFORM, UPDATE_METADATA,
        };
        match self {
            Step::Plan | Step::CreateReport => REPORT_CREATOR,
            Step::Authenticate => AUTH,
            Step::AwaitReport
            | Step::RecordStored
            | Step::RecordNoData
            | Step::RecordFatal
            | Step::RecordFailed
            | Step::Summarize => UPDATE_METADATA,
            Step::PollStatus | Step::ReadFatalReason => DATA_PROCESSOR,
            Step::Store => STORAGE,
            Step::Curate => TRANSFORM,
        }
    }
}

/// The input an execution of `ingest` starts with (a schedule's, or `sp-ingest run`'s).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RunInput {
    /// Only these reports (config names); empty = all.
    #[serde(default)]
    pub reports: Vec<String>,
    /// The run's time (the schedule's time): windows end relative to it.
    pub run_at: DateTime<Utc>,
    /// Request a new report for every window of the run, landed or not, replacing what
    /// landed (`sp-ingest … --refresh`); schedules leave it false.
    #[serde(default)]
    pub refresh: bool,
    /// Only the window starting on this day (`sp-ingest run --window`), instead of each
    /// report's trailing catch-up windows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window: Option<NaiveDate>,
    /// A backfill of these days (`sp-ingest backfill`), in the fewest windows each
    /// report type allows, instead of the catch-up windows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backfill: Option<DayRange>,
    /// Only these accounts (config names); empty = all.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub accounts: Vec<String>,
}

/// Days `from` up to, not including, `to`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DayRange {
    /// The first day.
    pub from: NaiveDate,
    /// The first day after the range.
    pub to: NaiveDate,
}

impl RunInput {
    /// The windows the run covers.
    pub fn span(&self) -> domain::Span {
        match (self.backfill, self.window) {
            (Some(DayRange { from, to }), _) => domain::Span::Backfill { from, to },
            (None, only) => only.into(),
        }
    }
}

/// Plan: the execution's input as it started (so a field an older schedule does not
/// send takes its default instead of failing the state's JSONPath).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PlanInput {
    /// Which reports and windows, as of when.
    pub run: RunInput,
}

/// Plan's answer: the Map's items, grouped by account, so each account's requests run in
/// a Map of their own and one account's waits and failures hold only its own slots.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PlanOutput {
    /// One group per account with requests, in account order.
    pub accounts: Vec<AccountRequests>,
}

/// One account's requests of a run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AccountRequests {
    /// The account's config name.
    pub account: String,
    /// One per report × marketplace × catch-up window not landed yet, in plan order.
    pub requests: Vec<PlannedRequest>,
}

impl PlanOutput {
    /// `requests` grouped by account, each group keeping their order.
    pub fn by_account(requests: Vec<PlannedRequest>) -> Self {
        let mut groups: std::collections::BTreeMap<String, Vec<PlannedRequest>> =
            std::collections::BTreeMap::new();
        for request in requests {
            groups
                .entry(request.request.account.clone())
                .or_default()
                .push(request);
        }
        PlanOutput {
            accounts: groups
                .into_iter()
                .map(|(account, requests)| AccountRequests { account, requests })
                .collect(),
        }
    }

    /// Every request, account by account.
    pub fn requests(&self) -> impl Iterator<Item = &PlannedRequest> {
        self.accounts.iter().flat_map(|group| &group.requests)
    }
}

/// Authenticate: the request whose account (its secret, LWA endpoint and selling
/// partner, as planned) needs a token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AuthenticateInput {
    /// The request.
    pub item: PlannedRequest,
}

/// Authenticate's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuthenticateOutput {
    /// The access token, KMS-encrypted for the account's selling partner.
    pub token: SealedToken,
}

/// CreateReport: the request and a token to create it with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateReportInput {
    /// The request.
    pub item: PlannedRequest,
    /// Access token from Authenticate.
    pub token: SealedToken,
    /// When the run started (`$$.Execution.StartTime`): a request still waiting for
    /// Amazon's createReport quota after its patience gives up for this run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_started_at: Option<DateTime<Utc>>,
}

/// CreateReport's answer: the report standing for the request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateReportOutput {
    /// Amazon's report id; empty while the request waits for room (`wait_seconds`).
    pub report_id: String,
    /// True when an earlier attempt had created it.
    pub reused: bool,
    /// Above 0: nothing was created because the source has no room now (an AMC instance
    /// runs as many executions as it may); the state machine waits this long and asks
    /// again.
    #[serde(default)]
    pub wait_seconds: u64,
}

/// AwaitReport: the request and the task token to resume.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AwaitReportInput {
    /// The request.
    pub key: RequestKey,
    /// `$$.Task.Token`.
    pub task_token: String,
}

/// Whether a waiting task took the result it was sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Delivery {
    /// The task resumed with the result.
    Delivered,
    /// The task was no longer waiting (it timed out into polling, or was stopped).
    NoLongerWaiting,
}

/// AwaitReport's own answer (Step Functions ignores it; the task's result is the
/// [`ReportStatus`] sent with SendTaskSuccess). Logged, and useful in tests.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AwaitReportOutput {
    /// `None`: the report is not done yet and the notification will resume the task;
    /// otherwise what became of the result this call sent.
    pub delivery: Option<Delivery>,
}

/// The result of AwaitReport, sent by whoever stored the second of "task token" and
/// "terminal status".
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ReportStatus {
    /// The terminal status.
    pub processing_status: ProcessingStatus,
    /// Amazon's document id (data, or error document for FATAL); `null` when none.
    pub report_document_id: Option<String>,
    /// The token of the next page of results (Data Kiosk `pagination.nextToken`);
    /// `null` on the last page and for sources without pages.
    #[serde(default)]
    pub next_page_token: Option<String>,
}

/// PollStatus: one getReport.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PollStatusInput {
    /// The request.
    pub item: PlannedRequest,
    /// Access token from Authenticate.
    pub token: SealedToken,
    /// Amazon's report id.
    pub report_id: String,
    /// Polls made so far.
    pub attempt: u32,
}

/// PollStatus's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PollStatusOutput {
    /// Amazon's status now.
    pub processing_status: ProcessingStatus,
    /// The document id once terminal; `null` otherwise.
    pub report_document_id: Option<String>,
    /// The token of the next page of results, once DONE; `null` otherwise.
    pub next_page_token: Option<String>,
    /// Polls made so far, this one included.
    pub attempt: u32,
    /// How long to wait before the next poll.
    pub wait_seconds: u64,
}

/// Store: which document of which report. The presigned URL is not here: Store asks for
/// it itself, so a read credential for the seller's data never enters the execution state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StoreInput {
    /// The request.
    pub item: PlannedRequest,
    /// Access token from Authenticate.
    pub token: SealedToken,
    /// Amazon's report id.
    pub report_id: String,
    /// The report's document id.
    pub report_document_id: String,
    /// The token of the page after this one (Data Kiosk); `null` on the last page.
    #[serde(default)]
    pub next_page_token: Option<String>,
    /// The window's pages stored before this one, in order (empty on the first).
    #[serde(default)]
    pub pages: Vec<StoredObject>,
}

/// Store's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StoreOutput {
    /// What this invocation wrote.
    pub object: StoredObject,
    /// For sources with pages, every page stored so far, this one last; empty otherwise.
    pub pages: Vec<StoredObject>,
    /// The request for the next page, when the results go on; `null` once the window's
    /// last page is stored.
    pub next: Option<PlannedRequest>,
}

/// ReadFatalReason: the error document, when Amazon gave one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ReadFatalReasonInput {
    /// The request.
    pub item: PlannedRequest,
    /// Access token from Authenticate.
    pub token: SealedToken,
    /// The error document id; `null` when Amazon gave none.
    pub report_document_id: Option<String>,
}

/// ReadFatalReason's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FatalReason {
    /// Why Amazon ended the report FATAL, as far as known.
    pub reason: String,
}

/// Curate: the raw object Store wrote, into the curated tables of its report type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CurateInput {
    /// The request.
    pub item: PlannedRequest,
    /// Amazon's report id (names the partition's version).
    pub report_id: String,
    /// What Store wrote.
    pub stored: StoredObject,
    /// Every page of the window, for sources with pages (then `stored` is the last).
    #[serde(default)]
    pub pages: Vec<StoredObject>,
}

/// Curate's answer: one partition per table the report type fills (none when the type
/// has no curated table).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CurateOutput {
    /// The partitions written, each now the one Glue points at.
    pub partitions: Vec<CuratedPartition>,
}

/// One table's partition for the request's window, as Curate left it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CuratedPartition {
    /// The table (Glue table name).
    pub table: String,
    /// The partition's values: selling partner, marketplace, data date.
    pub values: Vec<String>,
    /// Where its files are (`s3://…/v=<report id>/`).
    pub location: String,
    /// Rows.
    pub rows: u64,
    /// Bytes of Parquet.
    pub bytes: u64,
    /// The location it replaced (a restatement or a rerun), `null` for a new partition.
    pub replaced: Option<String>,
    /// Fields of the report no column names, kept in `extra_fields`.
    pub extra_fields: Vec<String>,
}

/// RecordStored: the object Store wrote and the partitions Curate made of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RecordStoredInput {
    /// The request.
    pub item: PlannedRequest,
    /// Amazon's report id.
    pub report_id: String,
    /// What Store wrote.
    pub stored: StoredObject,
    /// What Curate wrote.
    #[serde(default)]
    pub curated: Vec<CuratedPartition>,
    /// Every page of the window, for sources with pages (then `stored` is the last).
    #[serde(default)]
    pub pages: Vec<StoredObject>,
}

/// RecordNoData: Amazon cancelled the report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RecordNoDataInput {
    /// The request.
    pub item: PlannedRequest,
    /// Amazon's report id.
    pub report_id: String,
}

/// RecordFatal: Amazon ended the report FATAL.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RecordFatalInput {
    /// The request.
    pub item: PlannedRequest,
    /// Amazon's report id.
    pub report_id: String,
    /// The reason from the error document.
    pub reason: String,
}

/// What a Catch puts in the state's data: the error name and its cause.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaughtError {
    /// The error name.
    #[serde(rename = "Error")]
    pub error: String,
    /// The cause: a Lambda's error message, or Step Functions' own words.
    #[serde(rename = "Cause", default)]
    pub cause: Option<String>,
}

/// RecordFailed: a step of the request failed for good.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RecordFailedInput {
    /// The request.
    pub item: PlannedRequest,
    /// Amazon's report id, `null` when the failure came before createReport.
    pub report_id: Option<String>,
    /// What the Catch caught.
    pub failure: CaughtError,
}

/// Summarize: the Maps' results, one list per account, one result per request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SummarizeInput {
    /// One list per account's Map, one result per item.
    pub results: Vec<Vec<ItemResult>>,
}

/// What `auth` is asked to do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "step")]
pub enum AuthInput {
    /// [`Step::Authenticate`].
    Authenticate(AuthenticateInput),
}

/// What `report-creator` is asked to do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "step")]
pub enum ReportCreatorInput {
    /// [`Step::Plan`].
    Plan(PlanInput),
    /// [`Step::CreateReport`].
    CreateReport(Box<CreateReportInput>),
}

/// What `report-creator` answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ReportCreatorOutput {
    /// [`Step::Plan`].
    Plan(PlanOutput),
    /// [`Step::CreateReport`].
    CreateReport(CreateReportOutput),
}

/// What `data-processor` is asked to do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "step")]
pub enum DataProcessorInput {
    /// [`Step::PollStatus`].
    PollStatus(Box<PollStatusInput>),
    /// [`Step::ReadFatalReason`].
    ReadFatalReason(Box<ReadFatalReasonInput>),
}

/// What `data-processor` answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum DataProcessorOutput {
    /// [`Step::PollStatus`].
    PollStatus(PollStatusOutput),
    /// [`Step::ReadFatalReason`].
    ReadFatalReason(FatalReason),
}

/// What `storage` is asked to do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "step")]
pub enum StorageInput {
    /// [`Step::Store`].
    Store(Box<StoreInput>),
}

/// What `transform` is asked to do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "step")]
pub enum TransformInput {
    /// [`Step::Curate`].
    Curate(Box<CurateInput>),
}

/// What `update-metadata` is asked to do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "step")]
pub enum UpdateMetadataInput {
    /// [`Step::AwaitReport`].
    AwaitReport(AwaitReportInput),
    /// [`Step::RecordStored`].
    RecordStored(Box<RecordStoredInput>),
    /// [`Step::RecordNoData`].
    RecordNoData(Box<RecordNoDataInput>),
    /// [`Step::RecordFatal`].
    RecordFatal(Box<RecordFatalInput>),
    /// [`Step::RecordFailed`].
    RecordFailed(Box<RecordFailedInput>),
    /// [`Step::Summarize`].
    Summarize(SummarizeInput),
}

/// What `update-metadata` answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum UpdateMetadataOutput {
    /// [`Step::AwaitReport`].
    AwaitReport(AwaitReportOutput),
    /// [`Step::RecordStored`], [`Step::RecordNoData`], [`Step::RecordFatal`],
    /// [`Step::RecordFailed`].
    Recorded(Box<ItemResult>),
    /// [`Step::Summarize`].
    Summarize(RunSummary),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plan_input_defaults_what_an_execution_input_leaves_out() {
        let input: ReportCreatorInput =
            serde_json::from_str(r#"{"step":"Plan","run":{"runAt":"2026-11-25T06:00:00Z"}}"#)
                .unwrap();
        assert_eq!(
            input,
            ReportCreatorInput::Plan(PlanInput {
                run: RunInput {
                    reports: vec![],
                    run_at: "2026-11-25T06:00:00Z".parse().unwrap(),
                    refresh: false,
                    window: None,
                    backfill: None,
                    accounts: vec![],
                }
            })
        );
        let input: ReportCreatorInput = serde_json::from_str(
            r#"{"step":"Plan","run":{"reports":["orders"],"runAt":"2026-11-25T06:00:00Z","window":"2026-11-01"}}"#,
        )
        .unwrap();
        assert!(
            matches!(&input, ReportCreatorInput::Plan(PlanInput { run }) if run.reports == ["orders"] && run.window == "2026-11-01".parse().ok()),
            "{input:?}"
        );
    }

    #[test]
    fn unknown_steps_and_fields_are_refused() {
        let err = serde_json::from_str::<ReportCreatorInput>(r#"{"step":"Delete"}"#).unwrap_err();
        assert!(
            err.to_string().contains("unknown variant `Delete`"),
            "{err}"
        );
        let err = serde_json::from_str::<ReportCreatorInput>(r#"{"step":"Plan","report":["x"]}"#)
            .unwrap_err();
        assert!(err.to_string().contains("unknown field `report`"), "{err}");
    }

    #[test]
    fn optional_fields_are_written_as_null() {
        let json = serde_json::to_value(PollStatusOutput {
            processing_status: ProcessingStatus::InProgress,
            report_document_id: None,
            next_page_token: None,
            attempt: 1,
            wait_seconds: 15,
        })
        .unwrap();
        assert_eq!(
            json,
            serde_json::json!({"processingStatus":"IN_PROGRESS","reportDocumentId":null,"nextPageToken":null,"attempt":1,"waitSeconds":15})
        );
    }

    #[test]
    fn every_step_is_a_variant_of_its_functions_input() {
        for step in Step::ALL {
            let payload = serde_json::json!({ "step": step.as_str() });
            let error = crate::asl::evaluate::accept(step.function().name, &payload).err();
            // Plan has only optional fields; every other step misses a required one.
            if let Some(error) = error {
                assert!(
                    error.contains("missing field"),
                    "{step:?} is not a variant of {}'s input: {error}",
                    step.function().name
                );
            }
        }
    }
}
