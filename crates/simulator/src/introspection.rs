//! What tests and scripts can see and steer that Amazon would not show: the reports
//! with their plans and download counts, call and throttle counts per operation, every
//! notification sent, and the scenario; as Rust types for the library API and as JSON
//! under `/_sim/` for scripts.

use std::collections::BTreeMap;
use std::time::Instant;

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use chrono::{DateTime, Utc};
use domain::ProcessingStatus;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::data_kiosk::QueryRecord;
use crate::reports::ReportRecord;
use crate::scenario::{Outcome, Scenario};
use crate::state::{Shared, Simulator};

/// A report as the simulator knows it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ReportInfo {
    /// The report id (numeric string).
    pub report_id: String,
    /// The selling partner whose token created it.
    pub selling_partner_id: String,
    /// The requested report type.
    pub report_type: String,
    /// The requested marketplaces.
    pub marketplace_ids: Vec<String>,
    /// Start of the data window.
    pub data_start_time: DateTime<Utc>,
    /// End of the data window.
    pub data_end_time: DateTime<Utc>,
    /// The requested report options.
    pub report_options: BTreeMap<String, String>,
    /// Set for reports a schedule made (settlement reports, unsolicited notifications).
    pub report_schedule_id: Option<String>,
    /// When it was created.
    pub created_time: DateTime<Utc>,
    /// Its status now.
    pub processing_status: ProcessingStatus,
    /// The terminal status it was planned to reach.
    pub outcome: Outcome,
    /// Its document id: planned at creation, shown by getReport once terminal; `None`
    /// for reports that end CANCELLED.
    pub report_document_id: Option<String>,
    /// Data rows of its document.
    pub rows: u64,
    /// Charset of its document.
    pub charset: String,
    /// Whether its document is gzip-compressed.
    pub compressed: bool,
    /// How many downloads of its document were started.
    pub downloads_served: u64,
    /// Body bytes of its document sent, over every download (a resumed download sends
    /// only the rest; a restarted one sends it all again).
    pub bytes_served: u64,
    /// Downloads that asked for a byte range (`Range: bytes=N-`).
    pub range_requests: u64,
    /// The first byte the last range request asked for.
    pub last_range_start: Option<u64>,
}

impl ReportInfo {
    pub(crate) fn of(report: &ReportRecord, now: Instant) -> Self {
        Self {
            report_id: report.report_id.clone(),
            selling_partner_id: report.selling_partner_id.clone(),
            report_type: report.request.report_type.clone(),
            marketplace_ids: report.request.marketplace_ids.clone(),
            data_start_time: report.request.data_start,
            data_end_time: report.request.data_end,
            report_options: report.request.report_options.clone(),
            report_schedule_id: report.report_schedule_id.clone(),
            created_time: report.created.wall,
            processing_status: report.status_at(now),
            outcome: report.plan.outcome,
            report_document_id: report
                .document_id
                .clone()
                .filter(|_| report.cancelled.is_none()),
            rows: report.plan.rows,
            charset: report.plan.charset.label().to_owned(),
            compressed: report.plan.compress,
            downloads_served: report.downloads_served,
            bytes_served: report.bytes_served,
            range_requests: report.range_requests,
            last_range_start: report.last_range_start,
        }
    }
}

/// A Data Kiosk query (one page of results) as the simulator knows it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct QueryInfo {
    /// The query id.
    pub query_id: String,
    /// The selling partner whose token created it.
    pub selling_partner_id: String,
    /// The query text as submitted.
    pub query: String,
    /// The dataset (root field) it queries.
    pub dataset: String,
    /// Which page of results it is (0 for the first).
    pub page: u32,
    /// Pages the whole query has.
    pub pages: u32,
    /// When it was created.
    pub created_time: DateTime<Utc>,
    /// Its status now.
    pub processing_status: ProcessingStatus,
    /// Its data (DONE) or error (FATAL) document id, planned at creation.
    pub document_id: Option<String>,
    /// Records in its data document.
    pub rows: u64,
    /// How many downloads of its document were started.
    pub downloads_served: u64,
}

impl QueryInfo {
    pub(crate) fn of(query: &QueryRecord, now: Instant) -> Self {
        Self {
            query_id: query.query_id.clone(),
            selling_partner_id: query.selling_partner_id.clone(),
            query: query.text.clone(),
            dataset: query.checked.dataset.clone(),
            page: query.page,
            pages: query.plan.pages,
            created_time: query.created.wall,
            processing_status: query.status_at(now),
            document_id: query.document_id.clone(),
            rows: query.plan.rows,
            downloads_served: query.downloads_served,
        }
    }
}

/// Calls of one operation.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OperationCalls {
    /// Every call that reached the operation's route.
    pub calls: u64,
    /// Calls answered 429 (throttle_next or an empty bucket).
    pub throttled: u64,
    /// Calls answered 403 for a missing, unknown, expired or wrong-kind token.
    pub unauthorized: u64,
}

/// Calls per operation name (`createReport`, …); absent operations count zero.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct CallStats {
    /// Operation name → counts.
    pub operations: BTreeMap<String, OperationCalls>,
}

impl CallStats {
    /// Counts of one operation (zero when never called).
    pub fn get(&self, operation: &str) -> OperationCalls {
        self.operations.get(operation).copied().unwrap_or_default()
    }

    /// Calls of one operation.
    pub fn calls(&self, operation: &str) -> u64 {
        self.get(operation).calls
    }

    /// 429s served for one operation.
    pub fn throttled(&self, operation: &str) -> u64 {
        self.get(operation).throttled
    }

    pub(crate) fn record_call(&mut self, operation: &str) {
        self.operations
            .entry(operation.to_owned())
            .or_default()
            .calls += 1;
    }

    pub(crate) fn record_throttled(&mut self, operation: &str) {
        self.operations
            .entry(operation.to_owned())
            .or_default()
            .throttled += 1;
    }

    pub(crate) fn record_unauthorized(&mut self, operation: &str) {
        self.operations
            .entry(operation.to_owned())
            .or_default()
            .unauthorized += 1;
    }
}

impl std::ops::Index<&str> for CallStats {
    type Output = OperationCalls;

    fn index(&self, operation: &str) -> &OperationCalls {
        static NEVER_CALLED: OperationCalls = OperationCalls {
            calls: 0,
            throttled: 0,
            unauthorized: 0,
        };
        self.operations.get(operation).unwrap_or(&NEVER_CALLED)
    }
}

/// What became of one notification.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum DeliveryOutcome {
    /// Sent to the SQS queue.
    Sent {
        /// The SQS message id.
        message_id: String,
    },
    /// Recorded only: the simulator has no SQS endpoint configured.
    Recorded,
    /// The SQS call failed.
    Failed {
        /// Why, with the SDK's error chain.
        error: String,
    },
}

/// One notification the simulator sent or tried to send.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NotificationDelivery {
    /// ARN of the destination queue.
    pub destination_arn: String,
    /// The message body as sent.
    pub body: serde_json::Value,
    /// What happened.
    pub outcome: DeliveryOutcome,
}

impl NotificationDelivery {
    /// Whether the notification counts as sent (delivered, or recorded without SQS).
    pub fn was_sent(&self) -> bool {
        !matches!(self.outcome, DeliveryOutcome::Failed { .. })
    }
}

impl Simulator {
    /// Every report, in id order.
    pub(crate) fn report_infos(&self) -> Vec<ReportInfo> {
        let now = Instant::now();
        self.world()
            .reports
            .all()
            .map(|report| ReportInfo::of(report, now))
            .collect()
    }

    /// One report.
    pub(crate) fn report_info(&self, report_id: &str) -> Option<ReportInfo> {
        self.world()
            .reports
            .get(report_id)
            .map(|report| ReportInfo::of(report, Instant::now()))
    }

    /// Every Data Kiosk query, in id order.
    pub(crate) fn query_infos(&self) -> Vec<QueryInfo> {
        let now = Instant::now();
        self.world()
            .queries
            .all()
            .map(|query| QueryInfo::of(query, now))
            .collect()
    }

    /// Replaces the scenario; buckets start full again.
    pub(crate) fn replace_scenario(&self, scenario: Scenario) {
        let mut world = self.world();
        world.scenario = scenario;
        world.limiter.reset();
    }

    /// Expires every access token issued so far.
    pub(crate) fn expire_tokens(&self) {
        self.world().tokens.expire_all(Instant::now());
    }
}

/// Routes under `/_sim/`.
pub(crate) fn routes() -> Router<Shared> {
    Router::new()
        .route("/_sim/scenario", get(get_scenario).post(post_scenario))
        .route("/_sim/tokens/expire", post(expire_tokens))
        .route("/_sim/reports", get(list_reports))
        .route("/_sim/reports/{reportId}", get(get_report))
        .route("/_sim/queries", get(list_queries))
        .route("/_sim/calls", get(calls))
        .route("/_sim/notifications", get(notifications))
}

async fn get_scenario(State(sim): State<Shared>) -> Response {
    Json(sim.world().scenario.clone()).into_response()
}

async fn post_scenario(State(sim): State<Shared>, body: Bytes) -> Response {
    let scenario = match serde_json::from_slice::<Scenario>(&body) {
        Ok(scenario) => scenario,
        Err(error) => {
            return (
                StatusCode::BAD_REQUEST,
                Json(json!({ "error": error.to_string() })),
            )
                .into_response();
        }
    };
    if let Err(error) = scenario.validate() {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({ "error": error.to_string() })),
        )
            .into_response();
    }
    sim.replace_scenario(scenario.clone());
    tracing::info!("scenario replaced");
    Json(scenario).into_response()
}

async fn expire_tokens(State(sim): State<Shared>) -> Response {
    sim.expire_tokens();
    StatusCode::NO_CONTENT.into_response()
}

async fn list_reports(State(sim): State<Shared>) -> Response {
    Json(sim.report_infos()).into_response()
}

async fn get_report(State(sim): State<Shared>, Path(report_id): Path<String>) -> Response {
    let Some(info) = sim.report_info(&report_id) else {
        return (
            StatusCode::NOT_FOUND,
            Json(json!({ "error": format!("no report {report_id}") })),
        )
            .into_response();
    };
    let document = sim.digest(&report_id).await;
    let mut body = json!(info);
    body["document"] = json!(document);
    Json(body).into_response()
}

async fn list_queries(State(sim): State<Shared>) -> Response {
    Json(sim.query_infos()).into_response()
}

async fn calls(State(sim): State<Shared>) -> Response {
    Json(sim.world().calls.clone()).into_response()
}

async fn notifications(State(sim): State<Shared>) -> Response {
    Json(sim.world().notifications.deliveries.clone()).into_response()
}
