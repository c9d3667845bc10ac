//! Data Kiosk API 2023-11-15 (`MODELS/dataKiosk_2023-11-15.json`): createQuery,
//! getQueries, getQuery, cancelQuery and getDocument. A query is checked against the
//! dataset's schema when it is created (400 "The provided query is invalid." with the
//! reason in `details`, as the model's example), then runs on the same status clock as
//! a report. Results come in pages: a DONE page with more to come carries
//! `pagination.nextToken`, and the next page is a new query created with the same text
//! and that token. Documents are JSON Lines, gzip signalled only by `Content-Encoding`.
//! <https://developer-docs.amazon.com/sp-api/docs/data-kiosk-api-v2023-11-15-use-case-guide>

pub(crate) mod graphql;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::{DateTime, Utc};
use domain::{Operation, ProcessingStatus};
use rand::Rng;
use rand::distr::Alphanumeric;
use serde_json::{Value, json};

use self::graphql::CheckedQuery;
use crate::api_error::ApiError;
use crate::content::{self, ColumnChanges, DocumentKind, DocumentSpec, QueryPage};
use crate::delivery;
use crate::documents;
use crate::gateway;
use crate::query::QueryParams;
use crate::reports::{Moment, StatusClock, json_body, parse_date_time};
use crate::scenario::{Charset, Outcome, Scenario};
use crate::state::Shared;

/// The longest query accepted, in characters after unnecessary whitespace is removed.
const MAX_QUERY_CHARS: usize = 8_000;
/// Default of getQueries' `createdSince`.
const LISTING_DEFAULT_SINCE: chrono::Duration = chrono::Duration::days(90);
/// Default text of a FATAL query's error document.
const DEFAULT_FATAL_REASON: &str = "The query could not be processed because of an internal error.";

/// What will happen to a query and the pages after it, fixed when its first page is created.
#[derive(Clone, Debug)]
pub(crate) struct QueryPlan {
    pub outcome: Outcome,
    pub pages: u32,
    pub rows: u64,
    pub fatal_reason: String,
    pub compress: bool,
    pub duplicate_notifications: u32,
    pub lose_notification: bool,
    pub expire_first_url: bool,
    pub in_queue: Duration,
    pub in_progress: Duration,
}

impl QueryPlan {
    fn for_query(scenario: &Scenario, query: &CheckedQuery, seed: u64) -> Self {
        let rule = scenario
            .query_rule_for(&query.dataset, &query.query)
            .cloned()
            .unwrap_or_default();
        Self {
            outcome: rule.outcome.unwrap_or_default(),
            pages: rule.pages.unwrap_or(1).max(1),
            rows: rule.rows.unwrap_or_else(|| {
                // By day: a record per day of the range (one marketplace per record).
                if let Some(days) = content::days_per_record(query) {
                    return days;
                }
                content::default_row_count(
                    &format!("{}.{}", query.dataset, query.query),
                    &query.marketplace_ids(),
                    query.midnight("startDate"),
                    query.midnight("endDate"),
                    seed,
                )
            }),
            fatal_reason: rule
                .fatal_reason
                .unwrap_or_else(|| DEFAULT_FATAL_REASON.to_owned()),
            compress: rule.compress.unwrap_or(true),
            duplicate_notifications: rule.duplicate_notifications,
            lose_notification: rule.lose_notification,
            expire_first_url: rule.expire_first_url,
            in_queue: Duration::from_millis(rule.in_queue_ms.unwrap_or(scenario.in_queue_ms)),
            in_progress: Duration::from_millis(
                rule.in_progress_ms.unwrap_or(scenario.in_progress_ms),
            ),
        }
    }
}

/// One query: one page of a query's results.
#[derive(Clone, Debug)]
pub(crate) struct QueryRecord {
    pub query_id: String,
    pub selling_partner_id: String,
    /// The text as submitted.
    pub text: String,
    pub checked: Arc<CheckedQuery>,
    /// 0 for the first page.
    pub page: u32,
    pub created: Moment,
    pub plan: QueryPlan,
    pub cancelled: Option<Moment>,
    /// Planned at creation; shown once DONE (data) or FATAL (error).
    pub document_id: Option<String>,
    /// Planned at creation for a page with a next one; shown once DONE.
    pub next_token: Option<String>,
    pub downloads_served: u64,
    pub urls_issued: u64,
}

impl QueryRecord {
    fn clock(&self) -> StatusClock {
        StatusClock {
            created: self.created,
            in_queue: self.plan.in_queue,
            in_progress: self.plan.in_progress,
            outcome: self.plan.outcome,
            cancelled: self.cancelled,
        }
    }

    /// The status at `now`.
    pub(crate) fn status_at(&self, now: Instant) -> ProcessingStatus {
        self.clock().status_at(now)
    }

    /// When the query reaches its planned terminal status.
    pub(crate) fn terminal_at(&self) -> Instant {
        self.clock().terminal_at()
    }

    /// When processing ended (wall clock), for a terminal query.
    pub(crate) fn processing_end(&self) -> DateTime<Utc> {
        self.clock().processing_end()
    }

    /// `(dataDocumentId, errorDocumentId, nextToken)` as the status at `now` shows them.
    pub(crate) fn visible(&self, now: Instant) -> (Option<&str>, Option<&str>, Option<&str>) {
        match self.status_at(now) {
            ProcessingStatus::Done => (
                self.document_id.as_deref(),
                None,
                self.next_token.as_deref(),
            ),
            ProcessingStatus::Fatal => (None, self.document_id.as_deref(), None),
            _ => (None, None, None),
        }
    }

    /// The model's `Query` object.
    pub(crate) fn to_model(&self, now: Instant) -> Value {
        let clock = self.clock();
        let mut model = json!({
            "queryId": self.query_id,
            "query": self.text,
            "createdTime": crate::reports::timestamp(self.created.wall),
            "processingStatus": clock.status_at(now).as_str(),
        });
        clock.stamp(&mut model, now);
        let (data, error, next) = self.visible(now);
        if let Some(id) = data {
            model["dataDocumentId"] = json!(id);
        }
        if let Some(id) = error {
            model["errorDocumentId"] = json!(id);
        }
        if let Some(token) = next {
            model["pagination"] = json!({ "nextToken": token });
        }
        model
    }

    /// What the query's document contains (data for DONE, the error for FATAL).
    pub(crate) fn document_spec(&self, seed: u64) -> Option<DocumentSpec> {
        self.document_id.as_ref()?;
        let kind = match self.plan.outcome {
            _ if self.cancelled.is_some() => return None,
            Outcome::Done => DocumentKind::Query(QueryPage {
                query: self.checked.clone(),
                page: self.page,
            }),
            Outcome::Fatal => DocumentKind::Error {
                reason: self.plan.fatal_reason.clone(),
            },
            Outcome::Cancelled => return None,
        };
        Some(DocumentSpec {
            report_type: format!("{}.{}", self.checked.dataset, self.checked.query),
            marketplace_ids: self.checked.marketplace_ids(),
            data_start: self.checked.midnight("startDate"),
            data_end: self.checked.midnight("endDate"),
            report_options: BTreeMap::new(),
            seed,
            rows: self.plan.rows,
            charset: Charset::Utf8,
            kind,
            columns: ColumnChanges::default(),
        })
    }
}

/// Page `page` (0 for the first) of the data document the simulator serves for the
/// Data Kiosk query `text`, with `rows` records (JSON Lines); the reason when Data Kiosk
/// would refuse the query.
pub fn query_document(text: &str, page: u32, rows: u64) -> Result<String, String> {
    let checked = Arc::new(graphql::check(text)?);
    let mut plan = QueryPlan::for_query(&Scenario::default(), &checked, 0);
    plan.rows = rows;
    plan.pages = page + 1;
    let mut book = QueryBook::new();
    let query_id = book.file("A1", text.to_owned(), checked, page, plan);
    let spec = book
        .get(&query_id)
        .and_then(|query| query.document_spec(0))
        .ok_or("a query without rows has no document")?;
    Ok(spec.chunks().collect())
}

/// What a `pagination.nextToken` leads to.
#[derive(Clone, Debug)]
struct PageToken {
    selling_partner_id: String,
    text: String,
    checked: Arc<CheckedQuery>,
    page: u32,
    plan: QueryPlan,
}

/// Filters of a getQueries call, kept with its token for the following pages.
#[derive(Clone, Debug)]
struct ListingCursor {
    selling_partner_id: String,
    after: (DateTime<Utc>, String),
}

/// Every Data Kiosk query, of every selling partner.
pub(crate) struct QueryBook {
    queries: BTreeMap<String, QueryRecord>,
    documents: HashMap<String, String>,
    page_tokens: HashMap<String, PageToken>,
    listing_cursors: HashMap<String, ListingCursor>,
    next_query_id: u64,
}

impl QueryBook {
    pub(crate) fn new() -> Self {
        Self {
            queries: BTreeMap::new(),
            documents: HashMap::new(),
            page_tokens: HashMap::new(),
            listing_cursors: HashMap::new(),
            next_query_id: rand::rng().random_range(10_000_000_000..19_000_000_000),
        }
    }

    /// The query with this id.
    pub(crate) fn get(&self, query_id: &str) -> Option<&QueryRecord> {
        self.queries.get(query_id)
    }

    /// Every query in id order.
    pub(crate) fn all(&self) -> impl Iterator<Item = &QueryRecord> {
        self.queries.values()
    }

    /// The query whose data or error document has this id.
    pub(crate) fn by_document_mut(&mut self, document_id: &str) -> Option<&mut QueryRecord> {
        let query_id = self.documents.get(document_id)?;
        self.queries.get_mut(query_id)
    }

    fn file(
        &mut self,
        selling_partner_id: &str,
        text: String,
        checked: Arc<CheckedQuery>,
        page: u32,
        plan: QueryPlan,
    ) -> String {
        self.next_query_id += 1;
        let query_id = self.next_query_id.to_string();
        let has_document = match plan.outcome {
            Outcome::Done => plan.rows > 0,
            Outcome::Fatal => true,
            Outcome::Cancelled => false,
        };
        let document_id = has_document.then(|| {
            format!(
                "amzn1.tortuga.4.na.{}.T{}",
                uuid::Uuid::new_v4(),
                random_text(13).to_uppercase()
            )
        });
        if let Some(document_id) = &document_id {
            self.documents.insert(document_id.clone(), query_id.clone());
        }
        let next_token = (plan.outcome == Outcome::Done && page + 1 < plan.pages).then(|| {
            let token = random_text(88);
            self.page_tokens.insert(
                token.clone(),
                PageToken {
                    selling_partner_id: selling_partner_id.to_owned(),
                    text: text.clone(),
                    checked: checked.clone(),
                    page: page + 1,
                    plan: plan.clone(),
                },
            );
            token
        });
        self.queries.insert(
            query_id.clone(),
            QueryRecord {
                query_id: query_id.clone(),
                selling_partner_id: selling_partner_id.to_owned(),
                text,
                checked,
                page,
                created: Moment::now(),
                plan,
                cancelled: None,
                document_id,
                next_token,
                downloads_served: 0,
                urls_issued: 0,
            },
        );
        query_id
    }
}

fn random_text(len: usize) -> String {
    rand::rng()
        .sample_iter(&Alphanumeric)
        .take(len)
        .map(char::from)
        .collect()
}

/// Routes of the Data Kiosk operations.
pub(crate) fn routes() -> Router<Shared> {
    Router::new()
        .route(
            "/dataKiosk/2023-11-15/queries",
            get(get_queries).post(create_query),
        )
        .route(
            "/dataKiosk/2023-11-15/queries/{queryId}",
            get(get_query).delete(cancel_query),
        )
        .route(
            "/dataKiosk/2023-11-15/documents/{documentId}",
            get(get_document),
        )
}

/// The model's 400 for a query Data Kiosk will not run.
fn invalid_query(details: String) -> ApiError {
    ApiError {
        details: Some(details),
        ..ApiError::invalid_input("The provided query is invalid.")
    }
}

/// The model's 400 for a malformed id.
fn invalid_input() -> ApiError {
    ApiError {
        details: Some("Invalid input".to_owned()),
        ..ApiError::invalid_input("Invalid input")
    }
}

async fn create_query(State(sim): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    gateway::handle(&sim, Operation::CreateQuery, &headers, |caller| {
        let seller = caller.seller()?;
        let body = json_body(&headers, &body)?;
        let text = match body.get("query") {
            Some(Value::String(text)) if !text.trim().is_empty() => text.clone(),
            None | Some(Value::Null) => return Err(ApiError::invalid_input("query is required.")),
            Some(other) => {
                return Err(ApiError::invalid_input(format!(
                    "query must be a non-empty string; got {other}."
                )));
            }
        };
        let length = graphql::significant_chars(&text);
        if length > MAX_QUERY_CHARS {
            return Err(invalid_query(format!(
                "The query is {length} characters long after unnecessary whitespace is removed; at most {MAX_QUERY_CHARS} are allowed."
            )));
        }
        let checked = Arc::new(graphql::check(&text).map_err(invalid_query)?);
        let (query_id, terminal_at) = {
            let mut world = sim.world();
            let (page, plan) = match body.get("paginationToken") {
                None | Some(Value::Null) => {
                    (0, QueryPlan::for_query(&world.scenario, &checked, sim.seed))
                }
                Some(Value::String(token)) => {
                    let issued = world
                        .queries
                        .page_tokens
                        .get(token)
                        .filter(|issued| issued.selling_partner_id == seller)
                        .ok_or_else(|| {
                            ApiError::invalid_input("The provided paginationToken is invalid.")
                        })?;
                    if issued.text != text || issued.checked != checked {
                        return Err(ApiError::invalid_input(
                            "The query must be the query of the Query object the paginationToken came from.",
                        ));
                    }
                    (issued.page, issued.plan.clone())
                }
                Some(other) => {
                    return Err(ApiError::invalid_input(format!(
                        "paginationToken must be a string; got {other}."
                    )));
                }
            };
            let query_id = world.queries.file(seller, text, checked, page, plan);
            let terminal_at = world.queries.get(&query_id).map(QueryRecord::terminal_at);
            (query_id, terminal_at)
        };
        if let Some(terminal_at) = terminal_at {
            delivery::notify_query_when_terminal(&sim, query_id.clone(), terminal_at);
        }
        tracing::info!(query_id, seller, "createQuery");
        Ok((StatusCode::ACCEPTED, Json(json!({ "queryId": query_id }))).into_response())
    })
}

fn query_id_checked(query_id: &str) -> Result<(), ApiError> {
    if query_id.is_empty() || !query_id.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(invalid_input());
    }
    Ok(())
}

fn not_found_query() -> ApiError {
    ApiError {
        details: None,
        ..ApiError::not_found("The provided queryId was not found.")
    }
}

async fn get_query(
    State(sim): State<Shared>,
    headers: HeaderMap,
    Path(query_id): Path<String>,
) -> Response {
    gateway::handle(&sim, Operation::GetQuery, &headers, |caller| {
        let seller = caller.seller()?;
        query_id_checked(&query_id)?;
        let world = sim.world();
        let query = world
            .queries
            .get(&query_id)
            .filter(|query| query.selling_partner_id == seller)
            .ok_or_else(not_found_query)?;
        Ok(Json(query.to_model(Instant::now())).into_response())
    })
}

async fn cancel_query(
    State(sim): State<Shared>,
    headers: HeaderMap,
    Path(query_id): Path<String>,
) -> Response {
    gateway::handle(&sim, Operation::CancelQuery, &headers, |caller| {
        let seller = caller.seller()?;
        query_id_checked(&query_id)?;
        {
            let mut world = sim.world();
            let query = world
                .queries
                .queries
                .get_mut(&query_id)
                .filter(|query| query.selling_partner_id == seller)
                .ok_or_else(not_found_query)?;
            match query.status_at(Instant::now()) {
                ProcessingStatus::Cancelled => return Ok(StatusCode::NO_CONTENT.into_response()),
                ProcessingStatus::InQueue | ProcessingStatus::InProgress => {
                    query.cancelled = Some(Moment::now());
                }
                status => {
                    return Err(ApiError::invalid_input(format!(
                        "Query {query_id} cannot be cancelled: its processingStatus is {}; only IN_QUEUE and IN_PROGRESS queries can be cancelled.",
                        status.as_str()
                    )));
                }
            }
        }
        tracing::info!(query_id, seller, "cancelQuery");
        delivery::notify_query_now(&sim, query_id.clone());
        Ok(StatusCode::NO_CONTENT.into_response())
    })
}

async fn get_queries(
    State(sim): State<Shared>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    gateway::handle(&sim, Operation::GetQueries, &headers, |caller| {
        let seller = caller.seller()?;
        let params = QueryParams::parse(raw.as_deref());
        let statuses = params
            .list("processingStatuses")
            .map(|values| {
                values
                    .iter()
                    .map(|value| value.parse::<ProcessingStatus>())
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|_| {
                        // The model's example error for an unknown status.
                        ApiError::invalid_input(format!(
                            "1 validation error detected: Value '[{}]' at 'processingStatuses' failed to satisfy constraint: Member must satisfy constraint: [Member must satisfy enum value set: [DONE, FATAL, IN_PROGRESS, CANCELLED, IN_QUEUE]]",
                            values.join(", ")
                        ))
                    })
            })
            .transpose()?;
        let page_size = params.bounded_integer("pageSize", 1, 100)?.unwrap_or(10);
        let page_size = usize::try_from(page_size).unwrap_or(10);
        let now_wall = Utc::now();
        let time = |name: &str, default: DateTime<Utc>| match params.single(name) {
            None => Ok(default),
            Some(text) => parse_date_time(text).ok_or_else(|| {
                ApiError::invalid_input(format!("{name} is not an ISO 8601 date-time: {text:?}."))
            }),
        };
        let since = time("createdSince", now_wall - LISTING_DEFAULT_SINCE)?;
        let until = time("createdUntil", now_wall)?;
        let mut world = sim.world();
        // Unlike getReports' nextToken, the other parameters repeat with the token.
        let after = match params.single("paginationToken") {
            Some(token) => Some(
                world
                    .queries
                    .listing_cursors
                    .get(token)
                    .filter(|cursor| cursor.selling_partner_id == seller)
                    .map(|cursor| cursor.after.clone())
                    .ok_or_else(|| {
                        ApiError::invalid_input(format!("Invalid paginationToken {token:?}."))
                    })?,
            ),
            None => None,
        };
        let now = Instant::now();
        let key = |query: &QueryRecord| (query.created.wall, query.query_id.clone());
        let mut matching: Vec<&QueryRecord> = world
            .queries
            .all()
            .filter(|query| query.selling_partner_id == seller)
            .filter(|query| query.created.wall >= since && query.created.wall <= until)
            .filter(|query| {
                statuses
                    .as_ref()
                    .is_none_or(|statuses| statuses.contains(&query.status_at(now)))
            })
            .filter(|query| after.as_ref().is_none_or(|after| key(query) < *after))
            .collect();
        matching.sort_by_key(|query| std::cmp::Reverse(key(query)));
        let page: Vec<Value> = matching
            .iter()
            .take(page_size)
            .map(|query| query.to_model(now))
            .collect();
        let next = (matching.len() > page_size).then(|| key(matching[page_size - 1]));
        let mut body = json!({ "queries": page });
        if let Some(after) = next {
            let token = random_text(88);
            world.queries.listing_cursors.insert(
                token.clone(),
                ListingCursor {
                    selling_partner_id: seller.to_owned(),
                    after,
                },
            );
            body["pagination"] = json!({ "nextToken": token });
        }
        Ok(Json(body).into_response())
    })
}

async fn get_document(
    State(sim): State<Shared>,
    headers: HeaderMap,
    Path(document_id): Path<String>,
) -> Response {
    gateway::handle(&sim, Operation::GetDocument, &headers, |caller| {
        let seller = caller.seller()?;
        let not_found = || ApiError {
            details: None,
            ..ApiError::not_found("The provided documentId was not found.")
        };
        let mut world = sim.world();
        let default_ttl = world.scenario.url_ttl_secs;
        let now = Instant::now();
        let query = world
            .queries
            .by_document_mut(&document_id)
            .filter(|query| query.selling_partner_id == seller)
            .ok_or_else(not_found)?;
        let (data, error, _) = query.visible(now);
        if data.is_none() && error.is_none() {
            return Err(not_found());
        }
        let born_expired = query.plan.expire_first_url && query.urls_issued == 0;
        query.urls_issued += 1;
        let ttl = if born_expired { 0 } else { default_ttl };
        let compressed = query.plan.compress;
        drop(world);
        // Data Kiosk says "compressed" only through the download's Content-Encoding.
        let url = documents::document_url(&sim, &document_id, Utc::now(), ttl, compressed);
        Ok(Json(json!({ "documentId": document_id, "documentUrl": url })).into_response())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn checked() -> Arc<CheckedQuery> {
        Arc::new(
            graphql::check(
                r#"query { analytics_salesAndTraffic_2024_04_24 { salesAndTrafficByDate(startDate:"2024-05-01" endDate:"2024-05-03" aggregateBy:DAY marketplaceIds:["ATVPDKIKX0DER"]) { startDate endDate marketplaceId sales { orderedProductSales { amount currencyCode } unitsOrdered } traffic { pageViews } } } }"#,
            )
            .unwrap(),
        )
    }

    fn plan(pages: u32, rows: u64) -> QueryPlan {
        let mut plan = QueryPlan::for_query(&Scenario::default(), &checked(), 1);
        plan.pages = pages;
        plan.rows = rows;
        plan.in_queue = Duration::ZERO;
        plan.in_progress = Duration::ZERO;
        plan
    }

    #[test]
    fn pages_chain_by_token_and_the_last_has_none() {
        let mut book = QueryBook::new();
        let first = book.file("A1", "q".into(), checked(), 0, plan(2, 5));
        let now = Instant::now();
        let model = book.get(&first).unwrap().to_model(now);
        assert_eq!(model["processingStatus"], "DONE");
        let token = model["pagination"]["nextToken"]
            .as_str()
            .unwrap()
            .to_owned();
        assert!(model["dataDocumentId"].is_string());
        let next = book.page_tokens[&token].clone();
        assert_eq!(next.page, 1);
        let second = book.file("A1", "q".into(), next.checked, next.page, next.plan);
        let model = book.get(&second).unwrap().to_model(now);
        assert!(model.get("pagination").is_none(), "{model}");
    }

    #[test]
    fn done_without_rows_has_no_document_and_fatal_has_an_error_document() {
        let mut book = QueryBook::new();
        let empty = book.file("A1", "q".into(), checked(), 0, plan(1, 0));
        let model = book.get(&empty).unwrap().to_model(Instant::now());
        assert_eq!(model["processingStatus"], "DONE");
        assert!(model.get("dataDocumentId").is_none() && model.get("errorDocumentId").is_none());
        let mut fatal_plan = plan(3, 5);
        fatal_plan.outcome = Outcome::Fatal;
        let fatal = book.file("A1", "q".into(), checked(), 0, fatal_plan);
        let model = book.get(&fatal).unwrap().to_model(Instant::now());
        assert!(model["errorDocumentId"].is_string() && model.get("pagination").is_none());
    }

    #[test]
    fn a_page_is_json_lines_of_the_selected_fields_and_pages_continue() {
        let mut book = QueryBook::new();
        let first = book.file("A1", "q".into(), checked(), 0, plan(2, 4));
        let spec = book.get(&first).unwrap().document_spec(7).unwrap();
        let text: String = spec.chunks().collect();
        let lines: Vec<Value> = text
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect();
        assert_eq!(lines.len(), 4);
        assert_eq!(lines[0]["startDate"], "2024-05-01");
        assert_eq!(lines[1]["startDate"], "2024-05-02");
        assert_eq!(lines[0]["marketplaceId"], "ATVPDKIKX0DER");
        assert_eq!(
            lines[0]["sales"]["orderedProductSales"]["currencyCode"],
            "USD"
        );
        assert!(lines[0]["sales"]["unitsOrdered"].is_u64());
        assert!(lines[0]["traffic"]["pageViews"].is_u64());
        let second = book.file("A1", "q".into(), checked(), 1, plan(2, 4));
        let spec = book.get(&second).unwrap().document_spec(7).unwrap();
        let next: String = spec.chunks().collect();
        assert_ne!(text, next);
        // Record 4 (page 1, row 0) is the fourth day after the start, wrapped over 3 days.
        let first_of_second: Value = serde_json::from_str(next.lines().next().unwrap()).unwrap();
        assert_eq!(first_of_second["startDate"], "2024-05-02");
    }
}
