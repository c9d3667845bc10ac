//! Reports API 2021-06-30 (`MODELS/reports_2021-06-30.json`): createReport, getReports,
//! getReport and cancelReport; the report records behind them,
//! with the plan a scenario rule fixes for each report when it is created (outcome,
//! rows, charset, faults, clock), and the status each report has at any instant.
//! getReportDocument lives in `documents.rs` with the document URLs it hands out;
//! schedules in `schedules.rs`.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::{DateTime, NaiveDate, NaiveDateTime, SecondsFormat, Utc};
use domain::{Operation, ProcessingStatus};
use rand::Rng;
use rand::distr::Alphanumeric;
use serde_json::{Value, json};

use crate::api_error::ApiError;
use crate::content::{self, DocumentFormat, DocumentKind, DocumentSpec};
use crate::delivery;
use crate::gateway;
use crate::marketplaces;
use crate::query::QueryParams;
use crate::scenario::{Charset, Outcome, Scenario};
use crate::state::{Shared, World};

/// How far in the future a data window may end (clock skew between client and Amazon).
const FUTURE_TOLERANCE: chrono::Duration = chrono::Duration::minutes(5);
/// Default of getReports' `createdSince`: reports are kept 90 days.
const RETENTION: chrono::Duration = chrono::Duration::days(90);
/// Default error text of FATAL reports.
const DEFAULT_FATAL_REASON: &str =
    "The report could not be generated because of an internal error.";

impl From<Outcome> for ProcessingStatus {
    fn from(outcome: Outcome) -> Self {
        match outcome {
            Outcome::Done => ProcessingStatus::Done,
            Outcome::Fatal => ProcessingStatus::Fatal,
            Outcome::Cancelled => ProcessingStatus::Cancelled,
        }
    }
}

/// A point in time on both clocks: monotonic for the status machine, wall for the JSON.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Moment {
    pub instant: Instant,
    pub wall: DateTime<Utc>,
}

impl Moment {
    pub(crate) fn now() -> Self {
        Self {
            instant: Instant::now(),
            wall: Utc::now(),
        }
    }
}

/// The status clock of a report or a Data Kiosk query: IN_QUEUE, then IN_PROGRESS, then
/// the planned outcome, unless cancelled first.
#[derive(Clone, Copy, Debug)]
pub(crate) struct StatusClock {
    pub created: Moment,
    pub in_queue: Duration,
    pub in_progress: Duration,
    pub outcome: Outcome,
    pub cancelled: Option<Moment>,
}

impl StatusClock {
    /// The status at `now`.
    pub(crate) fn status_at(&self, now: Instant) -> ProcessingStatus {
        if self.cancelled.is_some() {
            return ProcessingStatus::Cancelled;
        }
        let elapsed = now.saturating_duration_since(self.created.instant);
        if elapsed < self.in_queue {
            ProcessingStatus::InQueue
        } else if elapsed < self.in_queue + self.in_progress {
            ProcessingStatus::InProgress
        } else {
            self.outcome.into()
        }
    }

    /// When the planned terminal status is reached.
    pub(crate) fn terminal_at(&self) -> Instant {
        self.created.instant + self.in_queue + self.in_progress
    }

    /// When processing ended (wall clock), for a terminal status.
    pub(crate) fn processing_end(&self) -> DateTime<Utc> {
        match self.cancelled {
            Some(cancelled) => cancelled.wall,
            None => self.created.wall + self.in_queue + self.in_progress,
        }
    }

    /// Adds the model's `processingStartTime` and `processingEndTime` as the status allows.
    pub(crate) fn stamp(&self, model: &mut Value, now: Instant) {
        let status = self.status_at(now);
        if status != ProcessingStatus::InQueue && self.cancelled.is_none() {
            model["processingStartTime"] = json!(timestamp(self.created.wall + self.in_queue));
        }
        if status.is_terminal() {
            model["processingEndTime"] = json!(timestamp(self.processing_end()));
        }
    }
}

/// What will happen to a report, fixed when it is created (a later scenario change
/// does not alter reports already running).
#[derive(Clone, Debug)]
pub(crate) struct ReportPlan {
    pub outcome: Outcome,
    pub rows: u64,
    pub charset: Charset,
    pub compress: bool,
    pub duplicate_notifications: u32,
    pub renotify: u32,
    pub unsolicited_notifications: u32,
    pub lose_notification: bool,
    pub truncate_first_download: bool,
    pub reset_first_download: bool,
    pub url_ttl_secs: Option<u64>,
    pub expire_first_url: bool,
    pub fatal_reason: String,
    pub in_queue: Duration,
    pub in_progress: Duration,
    pub columns: content::ColumnChanges,
    pub document_url: Option<String>,
}

impl ReportPlan {
    /// The plan for a request: the first matching rule's knobs over Amazon's behaviour.
    pub(crate) fn for_request(
        scenario: &Scenario,
        request: &ReportRequest,
        seed: u64,
        now: DateTime<Utc>,
    ) -> Self {
        let rule = scenario
            .rule_for(&request.report_type, &request.marketplace_ids)
            .cloned()
            .unwrap_or_default();
        let (natural_outcome, natural_reason) = natural_outcome(request, now);
        let outcome = rule.outcome.unwrap_or(natural_outcome);
        Self {
            outcome,
            rows: rule.rows.unwrap_or_else(|| {
                content::default_row_count(
                    &request.report_type,
                    &request.marketplace_ids,
                    request.data_start,
                    request.data_end,
                    seed,
                )
            }),
            charset: rule.charset.unwrap_or_else(|| {
                content::default_charset(&request.report_type, &request.marketplace_ids)
            }),
            compress: rule.compress.unwrap_or(true),
            duplicate_notifications: rule.duplicate_notifications,
            renotify: rule.renotify,
            unsolicited_notifications: rule.unsolicited_notifications,
            lose_notification: rule.lose_notification,
            truncate_first_download: rule.truncate_first_download,
            reset_first_download: rule.reset_first_download,
            url_ttl_secs: rule.url_ttl_secs,
            expire_first_url: rule.expire_first_url,
            fatal_reason: rule
                .fatal_reason
                .or(natural_reason)
                .unwrap_or_else(|| DEFAULT_FATAL_REASON.to_owned()),
            in_queue: Duration::from_millis(rule.in_queue_ms.unwrap_or(scenario.in_queue_ms)),
            in_progress: Duration::from_millis(
                rule.in_progress_ms.unwrap_or(scenario.in_progress_ms),
            ),
            columns: content::ColumnChanges {
                added: rule.added_columns,
                dropped: rule.dropped_columns,
            },
            document_url: rule.document_url,
        }
    }

    /// A plain, fault-free plan that is already terminal (historic reports).
    fn finished(request: &ReportRequest, seed: u64) -> Self {
        let mut plan = Self::for_request(
            &Scenario {
                rules: Vec::new(),
                ..Scenario::default()
            },
            request,
            seed,
            Utc::now(),
        );
        plan.outcome = Outcome::Done;
        plan.in_queue = Duration::ZERO;
        plan.in_progress = Duration::ZERO;
        plan
    }
}

/// What Amazon itself does with a valid request: analytics reports accept one marketplace
/// only (FATAL otherwise), and Sales and Traffic older than two years is CANCELLED.
/// (`SCHEMAS/reports/*.json`, api-facts §3.5)
fn natural_outcome(request: &ReportRequest, now: DateTime<Utc>) -> (Outcome, Option<String>) {
    if content::format_of(&request.report_type) == DocumentFormat::Json
        && request.marketplace_ids.len() > 1
    {
        return (
            Outcome::Fatal,
            Some("This report type accepts exactly one marketplaceId.".to_owned()),
        );
    }
    if request.report_type == "GET_SALES_AND_TRAFFIC_REPORT"
        && request.data_start < now - chrono::Duration::days(730)
    {
        return (Outcome::Cancelled, None);
    }
    (Outcome::Done, None)
}

/// A validated createReport request.
#[derive(Clone, Debug)]
pub(crate) struct ReportRequest {
    pub report_type: String,
    pub marketplace_ids: Vec<String>,
    pub data_start: DateTime<Utc>,
    pub data_end: DateTime<Utc>,
    pub report_options: BTreeMap<String, String>,
}

/// One report.
#[derive(Clone, Debug)]
pub(crate) struct ReportRecord {
    pub report_id: String,
    pub selling_partner_id: String,
    pub request: ReportRequest,
    pub report_schedule_id: Option<String>,
    pub created: Moment,
    pub plan: ReportPlan,
    /// Set by cancelReport.
    pub cancelled: Option<Moment>,
    /// Planned at creation for DONE and FATAL reports; shown once terminal.
    pub document_id: Option<String>,
    pub downloads_served: u64,
    /// Body bytes of its document sent, over every download.
    pub bytes_served: u64,
    /// Downloads that asked for a byte range.
    pub range_requests: u64,
    /// The first byte the last range request asked for.
    pub last_range_start: Option<u64>,
    /// Document URLs issued by getReportDocument.
    pub urls_issued: u64,
}

impl ReportRecord {
    /// When the report reaches its planned terminal status.
    pub(crate) fn terminal_at(&self) -> Instant {
        self.clock().terminal_at()
    }

    /// The status at `now`, by the report's clock.
    pub(crate) fn status_at(&self, now: Instant) -> ProcessingStatus {
        self.clock().status_at(now)
    }

    fn clock(&self) -> StatusClock {
        StatusClock {
            created: self.created,
            in_queue: self.plan.in_queue,
            in_progress: self.plan.in_progress,
            outcome: self.plan.outcome,
            cancelled: self.cancelled,
        }
    }

    /// The document id as getReport shows it: only on a terminal report that has one.
    pub(crate) fn visible_document_id(&self, now: Instant) -> Option<&str> {
        let status = self.status_at(now);
        let has_document = matches!(status, ProcessingStatus::Done | ProcessingStatus::Fatal);
        self.document_id.as_deref().filter(|_| has_document)
    }

    /// When processing ended (wall clock) for a terminal report.
    pub(crate) fn processing_end(&self) -> DateTime<Utc> {
        self.clock().processing_end()
    }

    /// The model's `Report` object.
    pub(crate) fn to_model(&self, now: Instant) -> Value {
        let clock = self.clock();
        let status = clock.status_at(now);
        let mut report = json!({
            "reportId": self.report_id,
            "reportType": self.request.report_type,
            "marketplaceIds": self.request.marketplace_ids,
            "dataStartTime": timestamp(self.request.data_start),
            "dataEndTime": timestamp(self.request.data_end),
            "createdTime": timestamp(self.created.wall),
            "processingStatus": status.as_str(),
        });
        if let Some(schedule_id) = &self.report_schedule_id {
            report["reportScheduleId"] = json!(schedule_id);
        }
        clock.stamp(&mut report, now);
        if let Some(document_id) = self.visible_document_id(now) {
            report["reportDocumentId"] = json!(document_id);
        }
        report
    }

    /// What the report's document contains, if it has one.
    pub(crate) fn document_spec(&self, seed: u64) -> Option<DocumentSpec> {
        if self.document_id.is_none() || self.cancelled.is_some() {
            return None;
        }
        let kind = match self.plan.outcome {
            Outcome::Done => DocumentKind::Report,
            Outcome::Fatal => DocumentKind::Error {
                reason: self.plan.fatal_reason.clone(),
            },
            Outcome::Cancelled => return None,
        };
        Some(DocumentSpec {
            report_type: self.request.report_type.clone(),
            marketplace_ids: self.request.marketplace_ids.clone(),
            data_start: self.request.data_start,
            data_end: self.request.data_end,
            report_options: self.request.report_options.clone(),
            seed,
            rows: self.plan.rows,
            charset: self.plan.charset,
            kind,
            columns: self.plan.columns.clone(),
        })
    }
}

/// Filters of a getReports call, kept with its nextToken for the following pages.
#[derive(Clone, Debug)]
struct ReportFilter {
    selling_partner_id: String,
    report_types: Vec<String>,
    statuses: Option<Vec<ProcessingStatus>>,
    marketplace_ids: Option<Vec<String>>,
    created_since: DateTime<Utc>,
    created_until: DateTime<Utc>,
    page_size: usize,
}

impl ReportFilter {
    fn matches(&self, report: &ReportRecord, now: Instant) -> bool {
        report.selling_partner_id == self.selling_partner_id
            && self.report_types.contains(&report.request.report_type)
            && self
                .statuses
                .as_ref()
                .is_none_or(|statuses| statuses.contains(&report.status_at(now)))
            && self.marketplace_ids.as_ref().is_none_or(|ids| {
                report
                    .request
                    .marketplace_ids
                    .iter()
                    .any(|id| ids.contains(id))
            })
            && report.created.wall >= self.created_since
            && report.created.wall <= self.created_until
    }
}

/// Newest first, as getReports lists them.
type ListingKey = (DateTime<Utc>, usize, String);

fn listing_key(report: &ReportRecord) -> ListingKey {
    (
        report.created.wall,
        report.report_id.len(),
        report.report_id.clone(),
    )
}

#[derive(Clone, Debug)]
struct PageCursor {
    filter: ReportFilter,
    after: ListingKey,
}

/// Every report, of every selling partner.
pub(crate) struct ReportBook {
    reports: BTreeMap<String, ReportRecord>,
    documents: HashMap<String, String>,
    next_report_id: u64,
    page_cursors: HashMap<String, PageCursor>,
}

impl ReportBook {
    pub(crate) fn new() -> Self {
        let mut rng = rand::rng();
        Self {
            reports: BTreeMap::new(),
            documents: HashMap::new(),
            // Numeric ids like Amazon's ("54517018502"), starting at a random point so
            // two simulator runs do not reuse ids.
            next_report_id: rng.random_range(50_000_000_000..59_000_000_000),
            page_cursors: HashMap::new(),
        }
    }

    /// The report with this id.
    pub(crate) fn get(&self, report_id: &str) -> Option<&ReportRecord> {
        self.reports.get(report_id)
    }

    /// The report with this id, to change it.
    pub(crate) fn get_mut(&mut self, report_id: &str) -> Option<&mut ReportRecord> {
        self.reports.get_mut(report_id)
    }

    /// Every report in id order.
    pub(crate) fn all(&self) -> impl Iterator<Item = &ReportRecord> {
        self.reports.values()
    }

    /// The report whose document has this id.
    pub(crate) fn by_document_mut(&mut self, document_id: &str) -> Option<&mut ReportRecord> {
        let report_id = self.documents.get(document_id)?;
        self.reports.get_mut(report_id)
    }

    /// What a report's document contains.
    pub(crate) fn document_spec(&self, report_id: &str, seed: u64) -> Option<DocumentSpec> {
        self.reports.get(report_id)?.document_spec(seed)
    }

    /// Files a new report and returns its id.
    pub(crate) fn file(
        &mut self,
        selling_partner_id: &str,
        request: ReportRequest,
        plan: ReportPlan,
        report_schedule_id: Option<String>,
        created: Moment,
    ) -> String {
        self.next_report_id += 1;
        let report_id = self.next_report_id.to_string();
        let document_id = (plan.outcome != Outcome::Cancelled).then(|| {
            let region = request
                .marketplace_ids
                .first()
                .and_then(|id| marketplaces::find(id))
                .map_or("na", |m| m.region);
            format!("amzn1.spdoc.1.4.{region}.{}", uuid::Uuid::new_v4())
        });
        if let Some(document_id) = &document_id {
            self.documents
                .insert(document_id.clone(), report_id.clone());
        }
        let record = ReportRecord {
            report_id: report_id.clone(),
            selling_partner_id: selling_partner_id.to_owned(),
            request,
            report_schedule_id,
            created,
            plan,
            cancelled: None,
            document_id,
            downloads_served: 0,
            bytes_served: 0,
            range_requests: 0,
            last_range_start: None,
            urls_issued: 0,
        };
        self.reports.insert(report_id.clone(), record);
        report_id
    }

    /// Files an already finished report (as one of Amazon's schedules would have made).
    pub(crate) fn file_finished(
        &mut self,
        selling_partner_id: &str,
        request: ReportRequest,
        seed: u64,
        created_wall: DateTime<Utc>,
        schedule_id: String,
    ) -> String {
        let plan = ReportPlan::finished(&request, seed);
        let created = Moment {
            instant: Instant::now(),
            wall: created_wall,
        };
        self.file(
            selling_partner_id,
            request,
            plan,
            Some(schedule_id),
            created,
        )
    }
}

/// Amazon generates settlement reports itself every two weeks; they cannot be requested,
/// only listed (<https://github.com/amzn/selling-partner-api-docs/issues/1033>). Each
/// seller starts with the last three.
pub(crate) fn file_settlement_reports(world: &mut World, sellers: &[String], seed: u64) {
    let today = Utc::now().date_naive();
    let midnight = |date: NaiveDate| date.and_hms_opt(0, 0, 0).map(|t| t.and_utc());
    for seller in sellers {
        let schedule_id = world.schedules.next_id();
        for period in 0..3i64 {
            let end_date = today - chrono::Duration::days(1 + 14 * period);
            let (Some(end), Some(start)) = (
                midnight(end_date),
                midnight(end_date - chrono::Duration::days(14)),
            ) else {
                continue;
            };
            let request = ReportRequest {
                report_type: "GET_V2_SETTLEMENT_REPORT_DATA_FLAT_FILE_V2".to_owned(),
                marketplace_ids: vec!["ATVPDKIKX0DER".to_owned()],
                data_start: start,
                data_end: end,
                report_options: BTreeMap::new(),
            };
            world.reports.file_finished(
                seller,
                request,
                seed,
                end + chrono::Duration::hours(6),
                schedule_id.clone(),
            );
        }
    }
}

/// Routes of the report operations (schedules: `schedules.rs`; documents: `documents.rs`).
pub(crate) fn routes() -> Router<Shared> {
    Router::new()
        .route(
            "/reports/2021-06-30/reports",
            get(get_reports).post(create_report),
        )
        .route(
            "/reports/2021-06-30/reports/{reportId}",
            get(get_report).delete(cancel_report),
        )
}

/// Model timestamps: `2024-03-10T13:47:20.677Z`.
pub(crate) fn timestamp(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Parses an ISO 8601 date-time (RFC 3339; a missing offset or time means UTC midnight).
pub(crate) fn parse_date_time(text: &str) -> Option<DateTime<Utc>> {
    if let Ok(time) = DateTime::parse_from_rfc3339(text) {
        return Some(time.with_timezone(&Utc));
    }
    if let Ok(time) = NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f") {
        return Some(time.and_utc());
    }
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()?
        .and_hms_opt(0, 0, 0)
        .map(|time| time.and_utc())
}

/// Parses a JSON request body, answering 415/400 as Amazon does.
pub(crate) fn json_body(
    headers: &HeaderMap,
    body: &[u8],
) -> Result<serde_json::Map<String, Value>, ApiError> {
    if let Some(content_type) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        && !content_type
            .to_ascii_lowercase()
            .starts_with("application/json")
    {
        return Err(ApiError::unsupported_media_type(content_type));
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(object)) => Ok(object),
        Ok(_) => Err(ApiError::invalid_input(
            "The request body must be a JSON object.",
        )),
        Err(error) => Err(ApiError::invalid_input(format!(
            "The request body is not valid JSON: {error}."
        ))),
    }
}

/// Settlement reports are made by Amazon only; requesting one fails like this.
/// <https://github.com/amzn/selling-partner-api-docs/issues/649>
pub(crate) fn reject_unrequestable(report_type: &str) -> Result<(), ApiError> {
    let code = match report_type {
        "GET_V2_SETTLEMENT_REPORT_DATA_FLAT_FILE_V2" => "1118",
        "GET_V2_SETTLEMENT_REPORT_DATA_FLAT_FILE" => "1117",
        "GET_V2_SETTLEMENT_REPORT_DATA_XML" => report_type,
        _ => return Ok(()),
    };
    Err(ApiError::invalid_input(format!(
        "Request for report type {code} is not allowed at this time"
    )))
}

pub(crate) fn required_report_type(
    body: &serde_json::Map<String, Value>,
) -> Result<String, ApiError> {
    let report_type = match body.get("reportType") {
        None | Some(Value::Null) => return Err(ApiError::invalid_input("reportType is required.")),
        Some(Value::String(text)) if !text.is_empty() => text.clone(),
        Some(other) => {
            return Err(ApiError::invalid_input(format!(
                "reportType must be a non-empty string; got {other}."
            )));
        }
    };
    if !report_type
        .bytes()
        .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
    {
        return Err(ApiError::invalid_input(format!(
            "Invalid reportType {report_type:?}."
        )));
    }
    Ok(report_type)
}

pub(crate) fn required_marketplace_ids(
    body: &serde_json::Map<String, Value>,
) -> Result<Vec<String>, ApiError> {
    let Some(value) = body.get("marketplaceIds").filter(|value| !value.is_null()) else {
        return Err(ApiError::invalid_input("marketplaceIds is required."));
    };
    let Some(items) = value.as_array() else {
        return Err(ApiError::invalid_input(
            "marketplaceIds must be an array of marketplace ids.",
        ));
    };
    if items.is_empty() || items.len() > 25 {
        return Err(ApiError::invalid_input(format!(
            "marketplaceIds must contain between 1 and 25 marketplace ids; got {}.",
            items.len()
        )));
    }
    items
        .iter()
        .map(|item| match item.as_str() {
            Some(id) if marketplaces::find(id).is_some() => Ok(id.to_owned()),
            _ => Err(ApiError::invalid_input(format!(
                "Invalid marketplaceId {item} in marketplaceIds."
            ))),
        })
        .collect()
}

pub(crate) fn report_options(
    body: &serde_json::Map<String, Value>,
) -> Result<BTreeMap<String, String>, ApiError> {
    match body.get("reportOptions") {
        None | Some(Value::Null) => Ok(BTreeMap::new()),
        Some(Value::Object(options)) => options
            .iter()
            .map(|(key, value)| match value.as_str() {
                Some(text) => Ok((key.clone(), text.to_owned())),
                None => Err(ApiError::invalid_input(format!(
                    "reportOptions.{key} must be a string; got {value}."
                ))),
            })
            .collect(),
        Some(other) => Err(ApiError::invalid_input(format!(
            "reportOptions must be an object of strings; got {other}."
        ))),
    }
}

pub(crate) fn optional_time(
    body: &serde_json::Map<String, Value>,
    field: &str,
) -> Result<Option<DateTime<Utc>>, ApiError> {
    match body.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => parse_date_time(text).map(Some).ok_or_else(|| {
            ApiError::invalid_input(format!("{field} is not an ISO 8601 date-time: {text:?}."))
        }),
        Some(other) => Err(ApiError::invalid_input(format!(
            "{field} must be an ISO 8601 date-time string; got {other}."
        ))),
    }
}

/// Validates a createReport body like Amazon does.
pub(crate) fn parse_create_report(
    headers: &HeaderMap,
    body: &[u8],
    now: DateTime<Utc>,
) -> Result<ReportRequest, ApiError> {
    let body = json_body(headers, body)?;
    let report_type = required_report_type(&body)?;
    reject_unrequestable(&report_type)?;
    let marketplace_ids = required_marketplace_ids(&body)?;
    let start = optional_time(&body, "dataStartTime")?;
    let end = optional_time(&body, "dataEndTime")?;
    let data_end = end.unwrap_or(now);
    let data_start = start.unwrap_or_else(|| data_end.min(now));
    if data_start > data_end {
        return Err(ApiError::invalid_input(format!(
            "dataStartTime ({}) must be before or equal to dataEndTime ({}).",
            timestamp(data_start),
            timestamp(data_end)
        )));
    }
    if data_end > now + FUTURE_TOLERANCE {
        return Err(ApiError::invalid_input(format!(
            "dataEndTime ({}) must be prior to or equal to the current date and time.",
            timestamp(data_end)
        )));
    }
    Ok(ReportRequest {
        report_type,
        marketplace_ids,
        data_start,
        data_end,
        report_options: report_options(&body)?,
    })
}

async fn create_report(State(sim): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    gateway::handle(&sim, Operation::CreateReport, &headers, |caller| {
        let seller = caller.seller()?;
        let created = Moment::now();
        let request = parse_create_report(&headers, &body, created.wall)?;
        let (report_id, terminal_at) = {
            let mut world = sim.world();
            let plan = ReportPlan::for_request(&world.scenario, &request, sim.seed, created.wall);
            let report_id = world.reports.file(seller, request, plan, None, created);
            let terminal_at = world.reports.get(&report_id).map(ReportRecord::terminal_at);
            (report_id, terminal_at)
        };
        if let Some(terminal_at) = terminal_at {
            delivery::notify_when_terminal(&sim, report_id.clone(), terminal_at);
        }
        tracing::info!(report_id, seller, "createReport");
        Ok((StatusCode::ACCEPTED, Json(json!({ "reportId": report_id }))).into_response())
    })
}

fn report_id_checked(report_id: &str) -> Result<(), ApiError> {
    if report_id.is_empty() || !report_id.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ApiError::invalid_input(format!(
            "Invalid reportId {report_id:?}."
        )));
    }
    Ok(())
}

async fn get_report(
    State(sim): State<Shared>,
    headers: HeaderMap,
    Path(report_id): Path<String>,
) -> Response {
    gateway::handle(&sim, Operation::GetReport, &headers, |caller| {
        let seller = caller.seller()?;
        report_id_checked(&report_id)?;
        let world = sim.world();
        let report = world
            .reports
            .get(&report_id)
            .filter(|report| report.selling_partner_id == seller)
            .ok_or_else(|| ApiError::not_found(format!("Report {report_id} not found.")))?;
        Ok(Json(report.to_model(Instant::now())).into_response())
    })
}

async fn cancel_report(
    State(sim): State<Shared>,
    headers: HeaderMap,
    Path(report_id): Path<String>,
) -> Response {
    gateway::handle(&sim, Operation::CancelReport, &headers, |caller| {
        let seller = caller.seller()?;
        report_id_checked(&report_id)?;
        {
            let mut world = sim.world();
            let report = world
                .reports
                .get_mut(&report_id)
                .filter(|report| report.selling_partner_id == seller)
                .ok_or_else(|| ApiError::not_found(format!("Report {report_id} not found.")))?;
            let status = report.status_at(Instant::now());
            if status != ProcessingStatus::InQueue {
                return Err(ApiError::invalid_input(format!(
                    "Report {report_id} cannot be cancelled: its processingStatus is {}; only IN_QUEUE reports can be cancelled.",
                    status.as_str()
                )));
            }
            report.cancelled = Some(Moment::now());
        }
        tracing::info!(report_id, seller, "cancelReport");
        delivery::notify_now(&sim, report_id.clone());
        Ok(StatusCode::OK.into_response())
    })
}

fn report_filter(
    seller: &str,
    params: &QueryParams,
    now: DateTime<Utc>,
) -> Result<ReportFilter, ApiError> {
    let report_types = params
        .bounded_list("reportTypes", 1, 10)?
        .ok_or_else(|| ApiError::invalid_input("reportTypes or nextToken is required."))?;
    let statuses = params
        .list("processingStatuses")
        .map(|values| {
            values
                .iter()
                .map(|value| {
                    value.parse::<ProcessingStatus>().map_err(|_| {
                        ApiError::invalid_input(format!(
                            "Invalid processingStatuses value {value:?}."
                        ))
                    })
                })
                .collect::<Result<Vec<_>, _>>()
        })
        .transpose()?;
    let marketplace_ids = params.bounded_list("marketplaceIds", 1, 10)?;
    if let Some(unknown) = marketplace_ids
        .iter()
        .flatten()
        .find(|id| marketplaces::find(id).is_none())
    {
        return Err(ApiError::invalid_input(format!(
            "Invalid marketplaceId {unknown:?} in marketplaceIds."
        )));
    }
    let time = |name: &str, default: DateTime<Utc>| match params.single(name) {
        None => Ok(default),
        Some(text) => parse_date_time(text).ok_or_else(|| {
            ApiError::invalid_input(format!("{name} is not an ISO 8601 date-time: {text:?}."))
        }),
    };
    let page_size = params.bounded_integer("pageSize", 1, 100)?.unwrap_or(10);
    Ok(ReportFilter {
        selling_partner_id: seller.to_owned(),
        report_types,
        statuses,
        marketplace_ids,
        created_since: time("createdSince", now - RETENTION)?,
        created_until: time("createdUntil", now)?,
        page_size: usize::try_from(page_size).unwrap_or(10),
    })
}

async fn get_reports(
    State(sim): State<Shared>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    gateway::handle(&sim, Operation::GetReports, &headers, |caller| {
        let seller = caller.seller()?;
        let params = QueryParams::parse(query.as_deref());
        let mut world = sim.world();
        let (filter, after) = match params.single("nextToken") {
            Some(token) => {
                if params.names().any(|name| name != "nextToken") {
                    return Err(ApiError::invalid_input(
                        "nextToken must be the only parameter when it is present.",
                    ));
                }
                let cursor = world
                    .reports
                    .page_cursors
                    .get(token)
                    .filter(|cursor| cursor.filter.selling_partner_id == seller)
                    .cloned()
                    .ok_or_else(|| {
                        ApiError::invalid_input(format!("Invalid nextToken {token:?}."))
                    })?;
                (cursor.filter, Some(cursor.after))
            }
            None => (report_filter(seller, &params, Utc::now())?, None),
        };
        let now = Instant::now();
        let mut matching: Vec<&ReportRecord> = world
            .reports
            .all()
            .filter(|report| filter.matches(report, now))
            .filter(|report| {
                after
                    .as_ref()
                    .is_none_or(|after| listing_key(report) < *after)
            })
            .collect();
        matching.sort_by_key(|report| std::cmp::Reverse(listing_key(report)));
        let page: Vec<Value> = matching
            .iter()
            .take(filter.page_size)
            .map(|report| report.to_model(now))
            .collect();
        let next = (matching.len() > filter.page_size)
            .then(|| listing_key(matching[filter.page_size - 1]));
        let mut body = json!({ "reports": page });
        if let Some(after) = next {
            let token: String = rand::rng()
                .sample_iter(&Alphanumeric)
                .take(88)
                .map(char::from)
                .collect();
            world
                .reports
                .page_cursors
                .insert(token.clone(), PageCursor { filter, after });
            body["nextToken"] = json!(token);
        }
        Ok(Json(body).into_response())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(json: &str) -> Result<ReportRequest, ApiError> {
        parse_create_report(
            &HeaderMap::new(),
            json.as_bytes(),
            "2024-06-01T00:00:00Z".parse().unwrap(),
        )
    }

    #[test]
    fn create_report_needs_type_and_known_marketplaces() {
        assert!(
            body(r#"{"marketplaceIds":["ATVPDKIKX0DER"]}"#)
                .unwrap_err()
                .message
                .contains("reportType")
        );
        assert!(
            body(r#"{"reportType":"GET_X"}"#)
                .unwrap_err()
                .message
                .contains("marketplaceIds")
        );
        assert!(
            body(r#"{"reportType":"GET_X","marketplaceIds":[]}"#)
                .unwrap_err()
                .message
                .contains("between 1 and 25")
        );
        assert!(
            body(r#"{"reportType":"GET_X","marketplaceIds":["NOPE"]}"#)
                .unwrap_err()
                .message
                .contains("NOPE")
        );
        let too_many = format!(
            r#"{{"reportType":"GET_X","marketplaceIds":[{}]}}"#,
            vec!["\"ATVPDKIKX0DER\""; 26].join(",")
        );
        assert!(body(&too_many).unwrap_err().message.contains("got 26"));
    }

    #[test]
    fn create_report_checks_the_window() {
        let ok = body(r#"{"reportType":"GET_X","marketplaceIds":["ATVPDKIKX0DER"],"dataStartTime":"2024-05-01T00:00:00Z","dataEndTime":"2024-05-02"}"#).unwrap();
        assert_eq!(
            ok.data_end,
            "2024-05-02T00:00:00Z".parse::<DateTime<Utc>>().unwrap()
        );
        let reversed = body(
            r#"{"reportType":"GET_X","marketplaceIds":["ATVPDKIKX0DER"],"dataStartTime":"2024-05-03T00:00:00Z","dataEndTime":"2024-05-02T00:00:00Z"}"#,
        );
        assert!(reversed.unwrap_err().message.contains("dataStartTime"));
        let garbage = body(
            r#"{"reportType":"GET_X","marketplaceIds":["ATVPDKIKX0DER"],"dataStartTime":"yesterday"}"#,
        );
        assert!(garbage.unwrap_err().message.contains("ISO 8601"));
        let future = body(
            r#"{"reportType":"GET_X","marketplaceIds":["ATVPDKIKX0DER"],"dataEndTime":"2024-07-01T00:00:00Z"}"#,
        );
        assert!(future.unwrap_err().message.contains("current date"));
    }

    #[test]
    fn settlement_reports_cannot_be_requested() {
        let err = body(r#"{"reportType":"GET_V2_SETTLEMENT_REPORT_DATA_FLAT_FILE_V2","marketplaceIds":["ATVPDKIKX0DER"]}"#)
            .unwrap_err();
        assert_eq!(
            err.message,
            "Request for report type 1118 is not allowed at this time"
        );
    }

    #[test]
    fn analytics_with_two_marketplaces_is_fatal() {
        let request = ReportRequest {
            report_type: "GET_SALES_AND_TRAFFIC_REPORT".into(),
            marketplace_ids: vec!["ATVPDKIKX0DER".into(), "A2EUQ1WTGCTBG2".into()],
            data_start: "2024-05-01T00:00:00Z".parse().unwrap(),
            data_end: "2024-05-02T00:00:00Z".parse().unwrap(),
            report_options: BTreeMap::new(),
        };
        let plan = ReportPlan::for_request(&Scenario::default(), &request, 1, Utc::now());
        assert_eq!(plan.outcome, Outcome::Fatal);
        assert!(plan.fatal_reason.contains("one marketplace"));
    }
}
