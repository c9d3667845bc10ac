//! Report schedules of the Reports API 2021-06-30: createReportSchedule,
//! getReportSchedules, getReportSchedule, cancelReportSchedule. Schedules are stored,
//! replaced and listed like Amazon's; the simulator does not run them (Amazon-made
//! reports, such as settlements, are filed at start instead).

use std::collections::BTreeMap;

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::{DateTime, Utc};
use domain::Operation;
use rand::Rng;
use serde_json::{Value, json};

use crate::api_error::ApiError;
use crate::gateway;
use crate::query::QueryParams;
use crate::reports::{
    json_body, optional_time, reject_unrequestable, report_options, required_marketplace_ids,
    required_report_type, timestamp,
};
use crate::state::Shared;

/// A report schedule (stored and listed; the simulator does not run schedules).
#[derive(Clone, Debug)]
struct ReportSchedule {
    report_schedule_id: String,
    selling_partner_id: String,
    report_type: String,
    marketplace_ids: Vec<String>,
    report_options: BTreeMap<String, String>,
    period: String,
    next_report_creation_time: DateTime<Utc>,
}

impl ReportSchedule {
    fn to_model(&self) -> Value {
        let mut schedule = json!({
            "reportScheduleId": self.report_schedule_id,
            "reportType": self.report_type,
            "marketplaceIds": self.marketplace_ids,
            "period": self.period,
            "nextReportCreationTime": timestamp(self.next_report_creation_time),
        });
        if !self.report_options.is_empty() {
            schedule["reportOptions"] = json!(self.report_options);
        }
        schedule
    }
}

/// Every schedule, of every selling partner.
pub(crate) struct ScheduleBook {
    schedules: BTreeMap<String, ReportSchedule>,
    next_id: u64,
}

impl ScheduleBook {
    pub(crate) fn new() -> Self {
        Self {
            schedules: BTreeMap::new(),
            next_id: rand::rng().random_range(50_000_000_000..59_000_000_000),
        }
    }

    /// A new numeric schedule id.
    pub(crate) fn next_id(&mut self) -> String {
        self.next_id += 1;
        self.next_id.to_string()
    }
}

/// Routes of the schedule operations.
pub(crate) fn routes() -> Router<Shared> {
    Router::new()
        .route(
            "/reports/2021-06-30/schedules",
            get(get_report_schedules).post(create_report_schedule),
        )
        .route(
            "/reports/2021-06-30/schedules/{reportScheduleId}",
            get(get_report_schedule).delete(cancel_report_schedule),
        )
}

/// Schedule periods the model allows.
const PERIODS: [&str; 18] = [
    "PT5M", "PT15M", "PT30M", "PT1H", "PT2H", "PT4H", "PT8H", "PT12H", "P1D", "P2D", "P3D",
    "PT84H", "P7D", "P14D", "P15D", "P18D", "P30D", "P1M",
];

async fn create_report_schedule(
    State(sim): State<Shared>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    gateway::handle(&sim, Operation::CreateReportSchedule, &headers, |caller| {
        let seller = caller.seller()?;
        let body = json_body(&headers, &body)?;
        let report_type = required_report_type(&body)?;
        reject_unrequestable(&report_type)?;
        let marketplace_ids = required_marketplace_ids(&body)?;
        let period = match body.get("period").and_then(Value::as_str) {
            Some(period) if PERIODS.contains(&period) => period.to_owned(),
            Some(period) => {
                return Err(ApiError::invalid_input(format!(
                    "period {period:?} is not one of {}.",
                    PERIODS.join(", ")
                )));
            }
            None => return Err(ApiError::invalid_input("period is required.")),
        };
        let next_report_creation_time =
            optional_time(&body, "nextReportCreationTime")?.unwrap_or_else(Utc::now);
        let report_options = report_options(&body)?;
        let mut world = sim.world();
        let book = &mut world.schedules;
        // A new schedule for the same report type and marketplaces replaces the old one.
        book.schedules.retain(|_, schedule| {
            !(schedule.selling_partner_id == seller
                && schedule.report_type == report_type
                && schedule.marketplace_ids == marketplace_ids)
        });
        let report_schedule_id = book.next_id();
        book.schedules.insert(
            report_schedule_id.clone(),
            ReportSchedule {
                report_schedule_id: report_schedule_id.clone(),
                selling_partner_id: seller.to_owned(),
                report_type,
                marketplace_ids,
                report_options,
                period,
                next_report_creation_time,
            },
        );
        Ok((
            StatusCode::CREATED,
            Json(json!({ "reportScheduleId": report_schedule_id })),
        )
            .into_response())
    })
}

async fn get_report_schedules(
    State(sim): State<Shared>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    gateway::handle(&sim, Operation::GetReportSchedules, &headers, |caller| {
        let seller = caller.seller()?;
        let params = QueryParams::parse(query.as_deref());
        let report_types = params
            .bounded_list("reportTypes", 1, 10)?
            .ok_or_else(|| ApiError::invalid_input("reportTypes is required."))?;
        let world = sim.world();
        let schedules: Vec<Value> = world
            .schedules
            .schedules
            .values()
            .filter(|schedule| {
                schedule.selling_partner_id == seller
                    && report_types.contains(&schedule.report_type)
            })
            .map(ReportSchedule::to_model)
            .collect();
        Ok(Json(json!({ "reportSchedules": schedules })).into_response())
    })
}

async fn get_report_schedule(
    State(sim): State<Shared>,
    headers: HeaderMap,
    Path(schedule_id): Path<String>,
) -> Response {
    gateway::handle(&sim, Operation::GetReportSchedule, &headers, |caller| {
        let seller = caller.seller()?;
        let world = sim.world();
        let schedule = world
            .schedules
            .schedules
            .get(&schedule_id)
            .filter(|schedule| schedule.selling_partner_id == seller)
            .ok_or_else(|| {
                ApiError::not_found(format!("Report schedule {schedule_id} not found."))
            })?;
        Ok(Json(schedule.to_model()).into_response())
    })
}

async fn cancel_report_schedule(
    State(sim): State<Shared>,
    headers: HeaderMap,
    Path(schedule_id): Path<String>,
) -> Response {
    gateway::handle(&sim, Operation::CancelReportSchedule, &headers, |caller| {
        let seller = caller.seller()?;
        let mut world = sim.world();
        let schedules = &mut world.schedules.schedules;
        if schedules
            .get(&schedule_id)
            .is_none_or(|schedule| schedule.selling_partner_id != seller)
        {
            return Err(ApiError::not_found(format!(
                "Report schedule {schedule_id} not found."
            )));
        }
        schedules.remove(&schedule_id);
        Ok(StatusCode::OK.into_response())
    })
}
