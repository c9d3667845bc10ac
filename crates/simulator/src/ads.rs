//! Amazon Ads API: profiles (`GET /v2/profiles`) and reporting v3 (`POST
//! /reporting/reports`, `GET /reporting/reports/{reportId}`), behind an Ads access token
//! (LWA refresh grant of an advertiser) sent as `Authorization: Bearer` with the app's
//! `Amazon-Advertising-API-ClientId` and the profile in `Amazon-Advertising-API-Scope`.
//!
//! A report request is checked as Amazon does (report type, columns, groupBy, filters,
//! time unit, dates) with the published report-type catalog in `domain::ads`; an
//! identical request while one is still PENDING or PROCESSING is answered 425 with the
//! first one's id; `throttle_next.adsCreateReport` answers 429 without `Retry-After`
//! (<https://github.com/amzn/ads-advanced-tools-docs/issues/344>). A report runs PENDING →
//! PROCESSING → COMPLETED (a gzip JSON file behind a URL that expires) or FAILED.
//! Errors are `{"code": "<status>", "detail": "…"}`, as the duplicate answer is
//! documented (api-facts §6).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use chrono::{NaiveDate, Utc};
use domain::ads::{AdsFilter, AdsReportSpec, TimeUnit};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::content::{AdsRows, ColumnChanges, DocumentKind, DocumentSpec};
use crate::documents;
use crate::lwa::Grant;
use crate::reports::{Moment, timestamp};
use crate::scenario::{Charset, Scenario};
use crate::state::{Shared, World};

/// The Ads createReport media type.
pub(crate) const CREATE_REPORT_MEDIA_TYPE: &str =
    "application/vnd.createasyncreportrequest.v3+json";
/// Name of createReport in `throttle_next` and the call statistics.
pub const ADS_CREATE_REPORT: &str = "adsCreateReport";
/// Name of getReport in the call statistics.
pub const ADS_GET_REPORT: &str = "adsGetReport";
/// Name of the profiles listing in the call statistics.
pub const ADS_GET_PROFILES: &str = "adsGetProfiles";

/// An Ads advertising profile (an advertiser in one marketplace).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdsProfile {
    /// `profileId`, what `Amazon-Advertising-API-Scope` carries.
    pub profile_id: u64,
    /// `countryCode`, e.g. `US`.
    pub country_code: String,
    /// `currencyCode`, e.g. `USD`.
    pub currency_code: String,
    /// `timezone`, e.g. `America/Los_Angeles`.
    pub timezone: String,
    /// `accountInfo.marketplaceStringId`.
    pub marketplace_id: String,
    /// `accountInfo.id`: the seller or vendor id.
    pub account_id: String,
    /// `accountInfo.type`: seller, vendor or agency.
    pub account_type: String,
    /// `accountInfo.name`.
    pub account_name: String,
}

/// An Ads account: the refresh token a user granted and the profiles it reaches.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Advertiser {
    /// The LWA refresh token (scope `advertising::campaign_management`).
    pub refresh_token: String,
    /// Its profiles.
    pub profiles: Vec<AdsProfile>,
    /// The Amazon Marketing Cloud accounts (and their instances) it reaches.
    pub amc_accounts: Vec<crate::amc::AmcAccount>,
}

/// Terminal status an Ads report is driven to.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AdsOutcome {
    /// The file is ready.
    #[default]
    Completed,
    /// The report failed; `failureReason` says why.
    Failed,
}

/// Behaviour of the Ads reports a rule matches; every knob is optional.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AdsRule {
    /// Matches only this `reportTypeId` (any when absent).
    pub report_type_id: Option<String>,
    /// Terminal status; absent = COMPLETED.
    pub outcome: Option<AdsOutcome>,
    /// `failureReason` of a FAILED report.
    pub failure_reason: Option<String>,
    /// Rows of the file; absent = 5 per day of the window.
    pub rows: Option<u64>,
    /// How long it stays PENDING, in milliseconds (Amazon: minutes to ~3 h).
    pub pending_ms: Option<u64>,
    /// How long it stays PROCESSING, in milliseconds.
    pub processing_ms: Option<u64>,
    /// Lifetime of its file URLs, in seconds (default 3600, as observed).
    pub url_ttl_secs: Option<u64>,
    /// The first URL handed out is already expired.
    pub expire_first_url: bool,
}

/// What will happen to a report, fixed when it is created.
#[derive(Clone, Debug)]
struct AdsPlan {
    outcome: AdsOutcome,
    failure_reason: String,
    rows: u64,
    pending: Duration,
    processing: Duration,
    url_ttl_secs: u64,
    expire_first_url: bool,
}

/// One Ads report.
#[derive(Clone, Debug)]
pub(crate) struct AdsReport {
    pub report_id: String,
    pub profile_id: u64,
    name: String,
    start: NaiveDate,
    end: NaiveDate,
    configuration: Value,
    spec: AdsReportSpec,
    /// The profile's marketplace (its currency goes into the file).
    marketplace_id: String,
    created: Moment,
    plan: AdsPlan,
    /// How many reports of the same days and configuration the profile had before: the
    /// figures of each are restated.
    revision: u64,
    document_id: String,
    pub urls_issued: u64,
    pub downloads_served: u64,
}

/// Where a report is now.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AdsStatus {
    /// Queued.
    Pending,
    /// Running.
    Processing,
    /// The file is ready.
    Completed,
    /// Failed.
    Failed,
}

impl AdsReport {
    /// Its status at `now`.
    pub(crate) fn status_at(&self, now: Instant) -> AdsStatus {
        let elapsed = now.saturating_duration_since(self.created.instant);
        if elapsed < self.plan.pending {
            AdsStatus::Pending
        } else if elapsed < self.plan.pending + self.plan.processing {
            AdsStatus::Processing
        } else {
            match self.plan.outcome {
                AdsOutcome::Completed => AdsStatus::Completed,
                AdsOutcome::Failed => AdsStatus::Failed,
            }
        }
    }

    /// What its file contains.
    pub(crate) fn document_spec(&self, seed: u64) -> Option<DocumentSpec> {
        if self.plan.outcome != AdsOutcome::Completed {
            return None;
        }
        let midnight = |day: NaiveDate| {
            day.and_hms_opt(0, 0, 0)
                .map(|t| t.and_utc())
                .unwrap_or_default()
        };
        Some(DocumentSpec {
            report_type: format!(
                "ads.{}",
                self.configuration["reportTypeId"]
                    .as_str()
                    .unwrap_or_default()
            ),
            marketplace_ids: vec![self.marketplace_id.clone()],
            data_start: midnight(self.start),
            data_end: midnight(self.end),
            report_options: BTreeMap::new(),
            seed: seed ^ self.revision.wrapping_mul(0x9E37_79B9_7F4A_7C15),
            rows: self.plan.rows,
            charset: Charset::Utf8,
            kind: DocumentKind::Ads(AdsRows {
                columns: self.spec.columns.clone(),
                daily: self.spec.time_unit == TimeUnit::Daily,
                start: self.start,
                end: self.end,
                as_lines: false,
            }),
            columns: ColumnChanges::default(),
        })
    }
}

/// Every Ads report, of every profile.
#[derive(Default)]
pub(crate) struct AdsBook {
    reports: BTreeMap<String, AdsReport>,
    documents: BTreeMap<String, String>,
}

impl AdsBook {
    /// The report with this id.
    pub(crate) fn get(&self, report_id: &str) -> Option<&AdsReport> {
        self.reports.get(report_id)
    }

    /// Every report, in id order.
    pub(crate) fn all(&self) -> impl Iterator<Item = &AdsReport> {
        self.reports.values()
    }

    /// The report whose file has this id.
    pub(crate) fn by_document_mut(&mut self, document_id: &str) -> Option<&mut AdsReport> {
        let report_id = self.documents.get(document_id)?;
        self.reports.get_mut(report_id)
    }
}

/// Routes of the Ads API.
pub(crate) fn routes() -> Router<Shared> {
    Router::new()
        .route("/v2/profiles", get(get_profiles))
        .route("/reporting/reports", post(create_report))
        .route("/reporting/reports/{reportId}", get(get_report))
}

/// An Ads error answer: `{"code": "<status>", "detail": "…"}`.
pub(crate) struct Refusal {
    status: StatusCode,
    detail: String,
}

pub(crate) fn error(status: StatusCode, detail: impl Into<String>) -> Refusal {
    Refusal {
        status,
        detail: detail.into(),
    }
}

/// A 404 for `what` (`Report 123`): "… not found".
pub(crate) fn not_found(what: std::fmt::Arguments<'_>) -> Refusal {
    error(StatusCode::NOT_FOUND, format!("{what} not found"))
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let body = json!({ "code": self.status.as_u16().to_string(), "detail": self.detail });
        let mut response = (self.status, Json(body)).into_response();
        if let Ok(id) = HeaderValue::from_str(&uuid::Uuid::new_v4().to_string()) {
            response.headers_mut().insert("x-amz-request-id", id);
        }
        response
    }
}

/// The advertiser whose token the call carries, after checking it as the Ads API does.
pub(crate) fn advertiser<'s>(
    sim: &'s Shared,
    world: &World,
    headers: &HeaderMap,
) -> Result<&'s Advertiser, Refusal> {
    let header_text = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|v| !v.is_empty())
    };
    let token = header_text(header::AUTHORIZATION.as_str())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or_else(|| {
            error(
                StatusCode::UNAUTHORIZED,
                "Missing or invalid Authorization header",
            )
        })?;
    let issued = world
        .tokens
        .find(token)
        .ok_or_else(|| error(StatusCode::UNAUTHORIZED, "Invalid access token"))?;
    if issued.expires_at <= Instant::now() {
        return Err(error(
            StatusCode::UNAUTHORIZED,
            "The access token has expired",
        ));
    }
    if header_text("Amazon-Advertising-API-ClientId") != Some(issued.client_id.as_str()) {
        return Err(error(
            StatusCode::UNAUTHORIZED,
            "Amazon-Advertising-API-ClientId is missing or is not the client the token was issued to",
        ));
    }
    match &issued.grant {
        Grant::Advertiser { refresh_token } => sim
            .advertisers
            .iter()
            .find(|a| a.refresh_token == *refresh_token)
            .ok_or_else(|| error(StatusCode::UNAUTHORIZED, "Invalid access token")),
        _ => Err(error(
            StatusCode::UNAUTHORIZED,
            "The access token is not an Amazon Ads token (scope advertising::campaign_management)",
        )),
    }
}

/// The profile named in `Amazon-Advertising-API-Scope`, if the advertiser has it.
fn scoped<'a>(advertiser: &'a Advertiser, headers: &HeaderMap) -> Result<&'a AdsProfile, Refusal> {
    let scope = headers
        .get("Amazon-Advertising-API-Scope")
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| {
            error(
                StatusCode::BAD_REQUEST,
                "Amazon-Advertising-API-Scope is required",
            )
        })?;
    advertiser
        .profiles
        .iter()
        .find(|p| scope.trim().parse() == Ok(p.profile_id))
        .ok_or_else(|| {
            error(
                StatusCode::FORBIDDEN,
                format!("Not authorized to access scope {scope}"),
            )
        })
}

async fn get_profiles(State(sim): State<Shared>, headers: HeaderMap) -> Response {
    let mut world = sim.world();
    world.calls.record_call(ADS_GET_PROFILES);
    let advertiser = match advertiser(&sim, &world, &headers) {
        Ok(advertiser) => advertiser,
        Err(refusal) => return refusal.into_response(),
    };
    let profiles: Vec<Value> = advertiser
        .profiles
        .iter()
        .map(|p| {
            json!({
                "profileId": p.profile_id,
                "countryCode": p.country_code,
                "currencyCode": p.currency_code,
                "timezone": p.timezone,
                "accountInfo": {
                    "marketplaceStringId": p.marketplace_id,
                    "id": p.account_id,
                    "type": p.account_type,
                    "name": p.account_name,
                    "validPaymentMethod": true
                }
            })
        })
        .collect();
    Json(profiles).into_response()
}

/// The createReport body, read as Amazon reads it.
struct Requested {
    name: String,
    start: NaiveDate,
    end: NaiveDate,
    configuration: Value,
    report_type_id: String,
    spec: AdsReportSpec,
}

fn read_request(headers: &HeaderMap, body: &[u8]) -> Result<Requested, String> {
    // Amazon documents its own media type, and python-amazon-ad-api (a widely used
    // client) sends plain application/json: both are taken.
    let media_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if !media_type.starts_with(CREATE_REPORT_MEDIA_TYPE)
        && !media_type.starts_with("application/json")
    {
        return Err(format!(
            "Content-Type must be {CREATE_REPORT_MEDIA_TYPE}, not {media_type:?}"
        ));
    }
    let body: Value =
        serde_json::from_slice(body).map_err(|e| format!("The request body is not JSON: {e}"))?;
    let date = |name: &str| {
        body[name]
            .as_str()
            .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
            .ok_or_else(|| format!("{name} is required, as YYYY-MM-DD"))
    };
    let (start, end) = (date("startDate")?, date("endDate")?);
    if start > end {
        return Err("startDate must be before or equal to endDate".to_owned());
    }
    let configuration = body["configuration"].clone();
    let text = |name: &str| {
        configuration[name]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| format!("configuration {name} is required"))
    };
    let report_type_id = text("reportTypeId")?;
    let ad_product = text("adProduct")?;
    if text("format")? != "GZIP_JSON" {
        return Err("configuration format must be GZIP_JSON".to_owned());
    }
    let strings = |name: &str| -> Vec<String> {
        configuration[name]
            .as_array()
            .map(|items| {
                items
                    .iter()
                    .filter_map(|i| i.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    };
    let time_unit: TimeUnit = serde_json::from_value(configuration["timeUnit"].clone())
        .map_err(|_| "configuration timeUnit must be DAILY or SUMMARY".to_owned())?;
    let filters: Vec<AdsFilter> = match &configuration["filters"] {
        Value::Null => Vec::new(),
        other => serde_json::from_value(other.clone())
            .map_err(|e| format!("configuration filters: {e}"))?,
    };
    let spec = AdsReportSpec {
        group_by: strings("groupBy"),
        columns: strings("columns"),
        filters,
        time_unit,
    };
    let mut problems: Vec<String> = spec
        .check(&report_type_id)
        .iter()
        .map(|p| p.problem.clone())
        .collect();
    if let Some(rt) = domain::ads::report_type(&report_type_id) {
        if rt.ad_product != ad_product {
            problems.push(format!(
                "configuration adProduct {ad_product} does not match {report_type_id} ({})",
                rt.ad_product
            ));
        }
        problems.extend(
            domain::ads::window_problems(rt, start, end, Utc::now().date_naive())
                .into_iter()
                .filter(|p| !p.problem.contains("it is split"))
                .map(|p| p.problem),
        );
        let days = (end - start).num_days() + 1;
        if days > rt.max_window_days {
            problems.push(format!(
                "The date range exceeds the maximum allowed {} days for {report_type_id}",
                rt.max_window_days
            ));
        }
    }
    if let Some(first) = problems.into_iter().next() {
        return Err(first);
    }
    Ok(Requested {
        name: body["name"].as_str().unwrap_or_default().to_owned(),
        start,
        end,
        configuration,
        report_type_id,
        spec,
    })
}

fn plan_for(scenario: &Scenario, requested: &Requested) -> AdsPlan {
    let rule = scenario
        .ads_rules
        .iter()
        .find(|rule| {
            rule.report_type_id
                .as_deref()
                .is_none_or(|id| id == requested.report_type_id)
        })
        .cloned()
        .unwrap_or_default();
    let days = u64::try_from((requested.end - requested.start).num_days()).unwrap_or(0) + 1;
    AdsPlan {
        outcome: rule.outcome.unwrap_or_default(),
        failure_reason: rule
            .failure_reason
            .unwrap_or_else(|| "Report generation failed due to an internal error.".to_owned()),
        rows: rule.rows.unwrap_or(days * 5),
        pending: Duration::from_millis(rule.pending_ms.unwrap_or(scenario.in_queue_ms)),
        processing: Duration::from_millis(rule.processing_ms.unwrap_or(scenario.in_progress_ms)),
        url_ttl_secs: rule.url_ttl_secs.unwrap_or(3600),
        expire_first_url: rule.expire_first_url,
    }
}

async fn create_report(State(sim): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    let mut world = sim.world();
    world.calls.record_call(ADS_CREATE_REPORT);
    let profile = match advertiser(&sim, &world, &headers).and_then(|a| scoped(a, &headers)) {
        Ok(profile) => profile.clone(),
        Err(refusal) => return refusal.into_response(),
    };
    if let Some(remaining) = world.scenario.throttle_next.get_mut(ADS_CREATE_REPORT)
        && *remaining > 0
    {
        *remaining -= 1;
        world.calls.record_throttled(ADS_CREATE_REPORT);
        // No Retry-After: reporting v3 has been seen to leave it out (issue #344).
        return error(StatusCode::TOO_MANY_REQUESTS, "Too Many Requests").into_response();
    }
    let requested = match read_request(&headers, &body) {
        Ok(requested) => requested,
        Err(detail) => return error(StatusCode::BAD_REQUEST, detail).into_response(),
    };
    let now = Instant::now();
    // An identical request while the first is still being generated: 425, naming it.
    if let Some(first) = world.ads.reports.values().find(|r| {
        r.profile_id == profile.profile_id
            && r.start == requested.start
            && r.end == requested.end
            && r.configuration == requested.configuration
            && matches!(r.status_at(now), AdsStatus::Pending | AdsStatus::Processing)
    }) {
        return error(
            StatusCode::from_u16(425).unwrap_or(StatusCode::CONFLICT),
            format!("The Request is a duplicate of : {}", first.report_id),
        )
        .into_response();
    }
    // Each later report of the same days has restated figures (attribution settles over
    // 28 days): its numbers differ from the earlier reports'.
    let revision = world
        .ads
        .reports
        .values()
        .filter(|r| {
            r.profile_id == profile.profile_id
                && r.start == requested.start
                && r.end == requested.end
                && r.configuration == requested.configuration
        })
        .count() as u64;
    let plan = plan_for(&world.scenario, &requested);
    let report_id = uuid::Uuid::new_v4().to_string();
    let document_id = format!("ads-report-{report_id}");
    let report = AdsReport {
        report_id: report_id.clone(),
        profile_id: profile.profile_id,
        name: requested.name,
        start: requested.start,
        end: requested.end,
        configuration: requested.configuration,
        spec: requested.spec,
        marketplace_id: profile.marketplace_id.clone(),
        created: Moment::now(),
        plan,
        revision,
        document_id: document_id.clone(),
        urls_issued: 0,
        downloads_served: 0,
    };
    world.ads.documents.insert(document_id, report_id.clone());
    let model = model(&sim, &mut world, &report, now, false);
    world.ads.reports.insert(report_id.clone(), report);
    tracing::info!(
        report_id,
        profile_id = profile.profile_id,
        "ads createReport"
    );
    Json(model).into_response()
}

async fn get_report(
    State(sim): State<Shared>,
    headers: HeaderMap,
    Path(report_id): Path<String>,
) -> Response {
    let mut world = sim.world();
    world.calls.record_call(ADS_GET_REPORT);
    let profile_id = match advertiser(&sim, &world, &headers).and_then(|a| scoped(a, &headers)) {
        Ok(profile) => profile.profile_id,
        Err(refusal) => return refusal.into_response(),
    };
    let now = Instant::now();
    let Some(stored) = world
        .ads
        .reports
        .get_mut(&report_id)
        .filter(|r| r.profile_id == profile_id)
    else {
        return not_found(format_args!("Report {report_id}")).into_response();
    };
    let first_url = stored.urls_issued == 0;
    if stored.status_at(now) == AdsStatus::Completed {
        stored.urls_issued += 1;
    }
    let report = stored.clone();
    let model = model(&sim, &mut world, &report, now, first_url);
    Json(model).into_response()
}

/// The report as Amazon shows it; a COMPLETED one with a fresh file URL (the first one
/// already expired when the rule says so).
fn model(
    sim: &Shared,
    world: &mut World,
    report: &AdsReport,
    now: Instant,
    first_url: bool,
) -> Value {
    let status = report.status_at(now);
    let (url, expires) = if status == AdsStatus::Completed {
        let born_expired = report.plan.expire_first_url && first_url;
        let ttl = if born_expired {
            0
        } else {
            report.plan.url_ttl_secs
        };
        let issued = Utc::now();
        let url = documents::document_url_in(sim, world, &report.document_id, issued, ttl, false);
        let expires = issued + chrono::Duration::seconds(i64::try_from(ttl).unwrap_or(0));
        (json!(url), json!(timestamp(expires)))
    } else {
        (Value::Null, Value::Null)
    };
    let finished = matches!(status, AdsStatus::Completed | AdsStatus::Failed);
    let generated_at = finished
        .then(|| timestamp(report.created.wall + report.plan.pending + report.plan.processing));
    json!({
        "reportId": report.report_id,
        "name": report.name,
        "status": status,
        "configuration": report.configuration,
        "startDate": report.start.to_string(),
        "endDate": report.end.to_string(),
        "createdAt": timestamp(report.created.wall),
        "updatedAt": generated_at.clone().unwrap_or_else(|| timestamp(report.created.wall)),
        "generatedAt": generated_at,
        "fileSize": Value::Null,
        "url": url,
        "urlExpiresAt": expires,
        "failureReason": (status == AdsStatus::Failed).then(|| report.plan.failure_reason.clone()),
    })
}
