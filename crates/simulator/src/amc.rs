//! Amazon Marketing Cloud (AMC) reporting API: accounts, instances, workflows and
//! workflow executions, behind an Amazon Ads access token (api-facts.md §7; shapes of
//! the saved responses of amzn/ads-advanced-tools-docs' postman collection).
//!
//! `GET /amc/accounts` needs the token and `Amazon-Advertising-API-ClientId`; every
//! other call also the AMC account in `Amazon-Advertising-API-AdvertiserId` and its
//! marketplace in `Amazon-Advertising-API-MarketplaceId`. A workflow's SQL is read when
//! it is created, independently of sp-ingest: one SELECT (or WITH … SELECT) over known
//! AMC tables, balanced parentheses, each `CUSTOM_PARAMETER('x')` declared; its output
//! columns come from the final SELECT list. An execution runs PENDING → RUNNING →
//! SUCCEEDED | FAILED (`statusReason`) on the scenario's clock; at most
//! `amc_parallel_executions` run at once and `amc_daily_executions` are created a day
//! per instance (more are refused 429). A SUCCEEDED execution's result is one or more
//! CSV files behind presigned URLs that live 10 minutes (`downloadUrls`).
//! Errors are `{"code": "<status>", "detail": "…"}` as the Ads API's (unverified for AMC).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::{NaiveDateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::ads::{Advertiser, Refusal, advertiser, error, not_found};
use crate::content::{AmcPart, ColumnChanges, DocumentKind, DocumentSpec};
use crate::documents;
use crate::reports::{Moment, timestamp};
use crate::scenario::Charset;
use crate::state::{Shared, World};

/// Name of createWorkflowExecution in `throttle_next` and the call statistics.
pub const AMC_CREATE_EXECUTION: &str = "amcCreateWorkflowExecution";
/// Name of getWorkflowExecution in the call statistics.
pub const AMC_GET_EXECUTION: &str = "amcGetWorkflowExecution";
/// Name of getDownloadUrls in the call statistics.
pub const AMC_DOWNLOAD_URLS: &str = "amcGetDownloadUrls";
/// How long AMC's result URLs live (api-facts.md §7).
const URL_TTL_SECS: u64 = 600;

/// Tables an AMC query may read (a subset of AMC's; enough to tell a typo).
const TABLES: [&str; 12] = [
    "amazon_attributed_events_by_conversion_time",
    "amazon_attributed_events_by_traffic_time",
    "conversions",
    "conversions_all",
    "dsp_clicks",
    "dsp_impressions",
    "dsp_impressions_by_matched_segments",
    "dsp_views",
    "sponsored_ads_traffic",
    "amazon_retail_purchases",
    "audience_segments_amer_inmarket",
    "experian_vehicle_purchases",
];

/// An AMC instance.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AmcInstanceInfo {
    /// `instanceId`.
    pub instance_id: String,
    /// `instanceName`.
    pub instance_name: String,
    /// `instanceType` (STANDARD, or SANDBOX).
    pub instance_type: String,
}

/// An AMC account (the `ENTITY…` advertiser id) and its instances.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AmcAccount {
    /// `accountId`, what `Amazon-Advertising-API-AdvertiserId` carries.
    pub account_id: String,
    /// `accountName`.
    pub account_name: String,
    /// `marketplaceId`, what `Amazon-Advertising-API-MarketplaceId` carries.
    pub marketplace_id: String,
    /// Its instances.
    pub instances: Vec<AmcInstanceInfo>,
}

/// Terminal status an execution is driven to.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AmcOutcome {
    /// The result files are ready.
    #[default]
    Succeeded,
    /// The execution failed; `statusReason` says why.
    Failed,
}

/// Behaviour of the executions a rule matches; every knob is optional.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AmcRule {
    /// Matches only this workflow (any when absent).
    pub workflow_id: Option<String>,
    /// Terminal status; absent = SUCCEEDED.
    pub outcome: Option<AmcOutcome>,
    /// `statusReason` of a FAILED execution.
    pub status_reason: Option<String>,
    /// Rows of the result, over all files; absent = 12.
    pub rows: Option<u64>,
    /// Files the result is split into; absent = 1.
    pub files: Option<u32>,
    /// How long it stays PENDING, in milliseconds (Amazon: minutes).
    pub pending_ms: Option<u64>,
    /// How long it stays RUNNING, in milliseconds (Amazon: 15 minutes and more).
    pub running_ms: Option<u64>,
    /// `dataGaps` it reports.
    pub data_gaps: Vec<Value>,
    /// The first download URLs handed out are already expired.
    pub expire_first_urls: bool,
}

/// What will happen to an execution, fixed when it is created.
#[derive(Clone, Debug)]
struct ExecutionPlan {
    outcome: AmcOutcome,
    status_reason: String,
    rows: u64,
    files: u32,
    pending: Duration,
    running: Duration,
    data_gaps: Vec<Value>,
    expire_first_urls: bool,
}

/// A column of a workflow's result.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct OutputColumn {
    pub name: String,
    /// STRING, LONG or DOUBLE.
    pub data_type: &'static str,
    /// DIMENSION or METRIC.
    pub column_type: &'static str,
}

/// A stored workflow.
#[derive(Clone, Debug)]
struct StoredWorkflow {
    body: Value,
    columns: Vec<OutputColumn>,
}

/// One workflow execution.
#[derive(Clone, Debug)]
pub(crate) struct Execution {
    pub execution_id: String,
    pub instance_id: String,
    workflow_id: String,
    body: Value,
    columns: Vec<OutputColumn>,
    /// The column AMC marks on privacy-filtered rows, when the workflow names one.
    filtered_column: Option<String>,
    created: Moment,
    cancelled: bool,
    plan: ExecutionPlan,
    pub urls_issued: u64,
    pub downloads_served: u64,
}

/// Where an execution is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AmcStatus {
    /// Queued.
    Pending,
    /// Running.
    Running,
    /// Result ready.
    Succeeded,
    /// Failed.
    Failed,
    /// Cancelled.
    Cancelled,
}

impl Execution {
    fn status_at(&self, now: Instant) -> AmcStatus {
        if self.cancelled {
            return AmcStatus::Cancelled;
        }
        let elapsed = now.duration_since(self.created.instant);
        if elapsed < self.plan.pending {
            AmcStatus::Pending
        } else if elapsed < self.plan.pending + self.plan.running {
            AmcStatus::Running
        } else {
            match self.plan.outcome {
                AmcOutcome::Succeeded => AmcStatus::Succeeded,
                AmcOutcome::Failed => AmcStatus::Failed,
            }
        }
    }

    fn document_id(&self, part: u32) -> String {
        format!("amc-{}-{part}", self.execution_id)
    }

    /// What result file `part` holds.
    pub(crate) fn document_spec(&self, part: u32, seed: u64) -> Option<DocumentSpec> {
        if self.plan.outcome != AmcOutcome::Succeeded || part >= self.plan.files {
            return None;
        }
        let files = u64::from(self.plan.files);
        let rows = self.plan.rows / files + u64::from(u64::from(part) < self.plan.rows % files);
        Some(DocumentSpec {
            report_type: format!("amc.{}", self.workflow_id),
            marketplace_ids: Vec::new(),
            // The content depends on the file's id only (through the seed).
            data_start: chrono::DateTime::UNIX_EPOCH,
            data_end: chrono::DateTime::UNIX_EPOCH,
            report_options: BTreeMap::new(),
            seed: seed ^ crate::content::seed_of(&self.document_id(part)),
            rows,
            charset: Charset::Utf8,
            kind: DocumentKind::Amc(AmcPart {
                columns: self
                    .columns
                    .iter()
                    .map(|c| (c.name.clone(), c.data_type))
                    .collect(),
                filtered_column: self.filtered_column.clone(),
            }),
            columns: ColumnChanges::default(),
        })
    }
}

/// Every workflow and execution, of every instance.
#[derive(Default)]
pub(crate) struct AmcBook {
    workflows: BTreeMap<(String, String), StoredWorkflow>,
    executions: BTreeMap<String, Execution>,
}

impl AmcBook {
    /// The execution with this id.
    pub(crate) fn get(&self, execution_id: &str) -> Option<&Execution> {
        self.executions.get(execution_id)
    }

    /// The execution and part a result file's id names.
    pub(crate) fn by_document_mut(&mut self, document_id: &str) -> Option<(&mut Execution, u32)> {
        let rest = document_id.strip_prefix("amc-")?;
        let (execution_id, part) = rest.rsplit_once('-')?;
        let part = part.parse().ok()?;
        self.executions.get_mut(execution_id).map(|e| (e, part))
    }

    /// Every execution: `(execution id, instance, workflow, status now)`.
    pub(crate) fn summary(&self) -> Vec<(String, String, String, AmcStatus)> {
        let now = Instant::now();
        self.executions
            .values()
            .map(|e| {
                (
                    e.execution_id.clone(),
                    e.instance_id.clone(),
                    e.workflow_id.clone(),
                    e.status_at(now),
                )
            })
            .collect()
    }
}

/// Routes of the AMC API.
pub(crate) fn routes() -> Router<Shared> {
    Router::new()
        .route("/amc/accounts", get(get_accounts))
        .route("/amc/instances", get(get_instances))
        .route(
            "/amc/reporting/{instanceId}/workflows",
            get(list_workflows).post(create_workflow),
        )
        .route(
            "/amc/reporting/{instanceId}/workflows/{workflowId}",
            get(get_workflow)
                .put(update_workflow)
                .delete(delete_workflow),
        )
        .route(
            "/amc/reporting/{instanceId}/workflowExecutions",
            get(list_executions).post(create_execution),
        )
        .route(
            "/amc/reporting/{instanceId}/workflowExecutions/{executionId}",
            get(get_execution).put(update_execution),
        )
        .route(
            "/amc/reporting/{instanceId}/workflowExecutions/{executionId}/downloadUrls",
            get(download_urls),
        )
}

/// The AMC account the call names (`Amazon-Advertising-API-AdvertiserId`), if the
/// advertiser has it and the marketplace header is its marketplace.
fn account<'a>(advertiser: &'a Advertiser, headers: &HeaderMap) -> Result<&'a AmcAccount, Refusal> {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .unwrap_or_default()
            .to_owned()
    };
    let id = header("Amazon-Advertising-API-AdvertiserId");
    if id.is_empty() {
        return Err(error(
            StatusCode::BAD_REQUEST,
            "Amazon-Advertising-API-AdvertiserId is required: the AMC account id (ENTITY…)",
        ));
    }
    let account = advertiser
        .amc_accounts
        .iter()
        .find(|a| a.account_id == id)
        .ok_or_else(|| {
            error(
                StatusCode::FORBIDDEN,
                format!("Not authorized to access AMC account {id}"),
            )
        })?;
    let marketplace = header("Amazon-Advertising-API-MarketplaceId");
    if marketplace != account.marketplace_id {
        return Err(error(
            StatusCode::BAD_REQUEST,
            format!(
                "Amazon-Advertising-API-MarketplaceId `{marketplace}` is not the marketplace of AMC account {id}"
            ),
        ));
    }
    Ok(account)
}

/// The instance of the path, if the account has it.
fn instance<'a>(
    account: &'a AmcAccount,
    instance_id: &str,
) -> Result<&'a AmcInstanceInfo, Refusal> {
    account
        .instances
        .iter()
        .find(|i| i.instance_id == instance_id)
        .ok_or_else(|| not_found(format_args!("Instance {instance_id}")))
}

/// Checks the token, account and instance of a call on `instance_id`.
pub(crate) fn authorized(
    sim: &Shared,
    world: &World,
    headers: &HeaderMap,
    instance_id: &str,
) -> Result<(), Refusal> {
    let advertiser = advertiser(sim, world, headers)?;
    let account = account(advertiser, headers)?;
    instance(account, instance_id).map(drop)
}

async fn get_accounts(State(sim): State<Shared>, headers: HeaderMap) -> Response {
    let world = sim.world();
    let advertiser = match advertiser(&sim, &world, &headers) {
        Ok(advertiser) => advertiser,
        Err(refusal) => return refusal.into_response(),
    };
    let accounts: Vec<Value> = advertiser
        .amc_accounts
        .iter()
        .map(|a| json!({"accountId": a.account_id, "accountName": a.account_name, "marketplaceId": a.marketplace_id}))
        .collect();
    Json(json!({ "amcAccounts": accounts })).into_response()
}

async fn get_instances(State(sim): State<Shared>, headers: HeaderMap) -> Response {
    let world = sim.world();
    let account = match advertiser(&sim, &world, &headers).and_then(|a| account(a, &headers)) {
        Ok(account) => account,
        Err(refusal) => return refusal.into_response(),
    };
    let instances: Vec<Value> = account
        .instances
        .iter()
        .map(|i| {
            json!({
                "instanceId": i.instance_id,
                "instanceName": i.instance_name,
                "instanceType": i.instance_type,
                "creationStatus": "COMPLETED",
                "apiEndpoint": sim.base_url,
                "entities": ["NA"],
            })
        })
        .collect();
    Json(json!({ "instances": instances, "nextToken": null })).into_response()
}

async fn list_workflows(
    State(sim): State<Shared>,
    headers: HeaderMap,
    Path(instance_id): Path<String>,
) -> Response {
    let world = sim.world();
    if let Err(refusal) = authorized(&sim, &world, &headers, &instance_id) {
        return refusal.into_response();
    }
    let workflows: Vec<Value> = world
        .amc
        .workflows
        .iter()
        .filter(|((instance, _), _)| *instance == instance_id)
        .map(|(_, w)| w.body.clone())
        .collect();
    Json(json!({ "workflows": workflows, "nextToken": null })).into_response()
}

async fn get_workflow(
    State(sim): State<Shared>,
    headers: HeaderMap,
    Path((instance_id, workflow_id)): Path<(String, String)>,
) -> Response {
    let world = sim.world();
    if let Err(refusal) = authorized(&sim, &world, &headers, &instance_id) {
        return refusal.into_response();
    }
    match world.amc.workflows.get(&(instance_id, workflow_id.clone())) {
        Some(workflow) => Json(workflow.body.clone()).into_response(),
        None => not_found(format_args!("Workflow {workflow_id}")).into_response(),
    }
}

async fn create_workflow(
    State(sim): State<Shared>,
    headers: HeaderMap,
    Path(instance_id): Path<String>,
    body: Bytes,
) -> Response {
    save_workflow(&sim, &headers, &instance_id, None, &body)
}

async fn update_workflow(
    State(sim): State<Shared>,
    headers: HeaderMap,
    Path((instance_id, workflow_id)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    save_workflow(&sim, &headers, &instance_id, Some(&workflow_id), &body)
}

/// Creates (`existing` none) or replaces a workflow after reading its SQL.
fn save_workflow(
    sim: &Shared,
    headers: &HeaderMap,
    instance_id: &str,
    existing: Option<&str>,
    body: &[u8],
) -> Response {
    let mut world = sim.world();
    if let Err(refusal) = authorized(sim, &world, headers, instance_id) {
        return refusal.into_response();
    }
    let (body, workflow_id) = match naming_a_workflow(body) {
        Ok(read) => read,
        Err(refusal) => return refusal.into_response(),
    };
    let key = (instance_id.to_owned(), workflow_id.clone());
    match (existing, world.amc.workflows.contains_key(&key)) {
        (None, true) => {
            return error(
                StatusCode::CONFLICT,
                format!("Workflow {workflow_id} already exists"),
            )
            .into_response();
        }
        (Some(path_id), _) if path_id != workflow_id => {
            return error(
                StatusCode::BAD_REQUEST,
                "workflowId of the body is not the one of the path",
            )
            .into_response();
        }
        (Some(_), false) => {
            return not_found(format_args!("Workflow {workflow_id}")).into_response();
        }
        _ => {}
    }
    let Some(sql) = body["sqlQuery"].as_str() else {
        return error(StatusCode::BAD_REQUEST, "sqlQuery is required").into_response();
    };
    let declared: Vec<&str> = body["inputParameters"]
        .as_array()
        .map(|p| p.iter().filter_map(|p| p["name"].as_str()).collect())
        .unwrap_or_default();
    let columns = match read_sql(sql, &declared) {
        Ok(columns) => columns,
        Err(problem) => {
            return error(
                StatusCode::BAD_REQUEST,
                format!("Query validation failed: {problem}"),
            )
            .into_response();
        }
    };
    world
        .amc
        .workflows
        .insert(key, StoredWorkflow { body, columns });
    Json(json!({})).into_response()
}

async fn delete_workflow(
    State(sim): State<Shared>,
    headers: HeaderMap,
    Path((instance_id, workflow_id)): Path<(String, String)>,
) -> Response {
    let mut world = sim.world();
    if let Err(refusal) = authorized(&sim, &world, &headers, &instance_id) {
        return refusal.into_response();
    }
    match world
        .amc
        .workflows
        .remove(&(instance_id, workflow_id.clone()))
    {
        Some(_) => StatusCode::OK.into_response(),
        None => not_found(format_args!("Workflow {workflow_id}")).into_response(),
    }
}

/// A JSON body that names its workflow (`workflowId`), and that name.
fn naming_a_workflow(body: &[u8]) -> Result<(Value, String), Refusal> {
    let body: Value = serde_json::from_slice(body).map_err(|e| {
        error(
            StatusCode::BAD_REQUEST,
            format!("The request body is not JSON: {e}"),
        )
    })?;
    let workflow_id = body["workflowId"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| error(StatusCode::BAD_REQUEST, "workflowId is required"))?;
    Ok((body, workflow_id))
}

/// Reads a query as AMC would before storing it; answers its output columns.
pub(crate) fn read_sql(sql: &str, declared: &[&str]) -> Result<Vec<OutputColumn>, String> {
    // Comments out, line numbers kept.
    let text: String = sql
        .lines()
        .map(|l| l.split("--").next().unwrap_or_default())
        .collect::<Vec<_>>()
        .join("\n");
    let upper = text.to_ascii_uppercase();
    let start = upper.trim_start();
    if !(start.starts_with("SELECT") || start.starts_with("WITH")) {
        return Err("a workflow is one SELECT statement (or WITH … SELECT)".to_owned());
    }
    let mut depth: i64 = 0;
    for (number, line) in text.lines().enumerate() {
        for c in line.chars() {
            match c {
                '(' => depth += 1,
                ')' => depth -= 1,
                _ => {}
            }
            if depth < 0 {
                return Err(format!("line {}: `)` without its `(`", number + 1));
            }
        }
    }
    if depth != 0 {
        return Err("a `(` is never closed".to_owned());
    }
    // Words at depth 0, with their byte offsets.
    let words = top_level_words(&text);
    let from_tables: Vec<(usize, String)> = tokens(&text)
        .windows(2)
        .filter(|w| w[0].1.eq_ignore_ascii_case("FROM") || w[0].1.eq_ignore_ascii_case("JOIN"))
        .map(|w| (w[1].0, w[1].1.to_ascii_lowercase()))
        .collect();
    let ctes = cte_names(&text);
    for (at, table) in &from_tables {
        if table.starts_with('(') || ctes.contains(table) || TABLES.contains(&table.as_str()) {
            continue;
        }
        let line = text[..*at].lines().count().max(1);
        return Err(format!("line {line}: unknown table `{table}`"));
    }
    let mut rest = text.as_str();
    while let Some(at) = rest
        .find("CUSTOM_PARAMETER('")
        .or_else(|| rest.find("custom_parameter('"))
    {
        let after = &rest[at + "CUSTOM_PARAMETER('".len()..];
        let name = after.split('\'').next().unwrap_or_default();
        if !declared.contains(&name) {
            return Err(format!(
                "CUSTOM_PARAMETER('{name}') is not declared in inputParameters"
            ));
        }
        rest = after;
    }
    let select = words
        .iter()
        .rev()
        .find(|(_, w)| w.eq_ignore_ascii_case("SELECT"))
        .map(|(at, _)| at + "SELECT".len())
        .ok_or("no SELECT at the top level")?;
    let from = words
        .iter()
        .find(|(at, w)| *at > select && w.eq_ignore_ascii_case("FROM"))
        .map_or(text.len(), |(at, _)| *at);
    let mut columns = Vec::new();
    for item in split_top_level(&text[select..from]) {
        let item = item.trim();
        if item.is_empty() {
            return Err("an empty item in the SELECT list".to_owned());
        }
        let item_words: Vec<&str> = item.split_whitespace().collect();
        let name = match item_words.as_slice() {
            [.., as_word, alias] if as_word.eq_ignore_ascii_case("AS") => (*alias).to_owned(),
            _ => item.rsplit(['.', ' ']).next().unwrap_or(item).to_owned(),
        };
        let upper_item = item.to_ascii_uppercase();
        let (data_type, column_type) =
            if upper_item.starts_with("SUM(") || upper_item.starts_with("COUNT(") {
                ("LONG", "METRIC")
            } else if upper_item.starts_with("AVG(") {
                ("DOUBLE", "METRIC")
            } else {
                ("STRING", "DIMENSION")
            };
        columns.push(OutputColumn {
            name: name.trim_matches('"').to_owned(),
            data_type,
            column_type,
        });
    }
    Ok(columns)
}

/// Every word (letters, digits, `_`, `.`) with its byte offset; a parenthesised group is
/// one token `(`.
fn tokens(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut start = 0;
    for (at, c) in text.char_indices() {
        if c.is_ascii_alphanumeric() || c == '_' || c == '.' {
            if current.is_empty() {
                start = at;
            }
            current.push(c);
        } else {
            if !current.is_empty() {
                out.push((start, std::mem::take(&mut current)));
            }
            if c == '(' {
                out.push((at, "(".to_owned()));
            }
        }
    }
    if !current.is_empty() {
        out.push((start, current));
    }
    out
}

/// The words outside any parentheses.
fn top_level_words(text: &str) -> Vec<(usize, String)> {
    let mut depth = 0;
    let mut out = Vec::new();
    let mut current = String::new();
    let mut start = 0;
    for (at, c) in text.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            _ => {}
        }
        if depth == 0 && (c.is_ascii_alphanumeric() || c == '_') {
            if current.is_empty() {
                start = at;
            }
            current.push(c);
        } else if !current.is_empty() {
            out.push((start, std::mem::take(&mut current)));
        }
    }
    if !current.is_empty() {
        out.push((start, current));
    }
    out
}

/// The names a WITH clause defines (`name AS (`).
fn cte_names(text: &str) -> Vec<String> {
    let words = tokens(text);
    words
        .windows(3)
        .filter(|w| w[1].1.eq_ignore_ascii_case("AS") && w[2].1 == "(")
        .map(|w| w[0].1.to_ascii_lowercase())
        .collect()
}

/// `text` cut at its top-level commas.
fn split_top_level(text: &str) -> Vec<&str> {
    let mut depth = 0;
    let mut items = Vec::new();
    let mut from = 0;
    for (at, c) in text.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                items.push(&text[from..at]);
                from = at + 1;
            }
            _ => {}
        }
    }
    items.push(&text[from..]);
    items
}

fn plan_for(world: &World, workflow_id: &str) -> ExecutionPlan {
    let scenario = &world.scenario;
    let rule = scenario
        .amc_rules
        .iter()
        .find(|rule| {
            rule.workflow_id
                .as_deref()
                .is_none_or(|id| id == workflow_id)
        })
        .cloned()
        .unwrap_or_default();
    ExecutionPlan {
        outcome: rule.outcome.unwrap_or_default(),
        status_reason: rule
            .status_reason
            .unwrap_or_else(|| "Workflow execution failed: internal error.".to_owned()),
        rows: rule.rows.unwrap_or(12),
        files: rule.files.unwrap_or(1).max(1),
        pending: Duration::from_millis(rule.pending_ms.unwrap_or(scenario.in_queue_ms)),
        running: Duration::from_millis(rule.running_ms.unwrap_or(scenario.in_progress_ms)),
        data_gaps: rule.data_gaps,
        expire_first_urls: rule.expire_first_urls,
    }
}

async fn create_execution(
    State(sim): State<Shared>,
    headers: HeaderMap,
    Path(instance_id): Path<String>,
    body: Bytes,
) -> Response {
    let mut world = sim.world();
    world.calls.record_call(AMC_CREATE_EXECUTION);
    if let Err(refusal) = authorized(&sim, &world, &headers, &instance_id) {
        return refusal.into_response();
    }
    if let Some(remaining) = world.scenario.throttle_next.get_mut(AMC_CREATE_EXECUTION)
        && *remaining > 0
    {
        *remaining -= 1;
        world.calls.record_throttled(AMC_CREATE_EXECUTION);
        return error(StatusCode::TOO_MANY_REQUESTS, "Too Many Requests").into_response();
    }
    let (body, workflow_id) = match naming_a_workflow(&body) {
        Ok(read) => read,
        Err(refusal) => return refusal.into_response(),
    };
    let Some(workflow) = world
        .amc
        .workflows
        .get(&(instance_id.clone(), workflow_id.clone()))
        .cloned()
    else {
        return not_found(format_args!("Workflow {workflow_id}")).into_response();
    };
    if let Err(problem) = read_window(&body) {
        return error(StatusCode::BAD_REQUEST, problem).into_response();
    }
    let now = Instant::now();
    let of_instance: Vec<&Execution> = world
        .amc
        .executions
        .values()
        .filter(|e| e.instance_id == instance_id)
        .collect();
    let running = of_instance
        .iter()
        .filter(|e| matches!(e.status_at(now), AmcStatus::Pending | AmcStatus::Running))
        .count();
    if running >= world.scenario.amc_parallel_executions as usize {
        world.calls.record_throttled(AMC_CREATE_EXECUTION);
        world.amc_refused_over_limit += 1;
        return error(
            StatusCode::TOO_MANY_REQUESTS,
            format!("Instance {instance_id} already runs {running} workflow executions, its limit"),
        )
        .into_response();
    }
    let today = of_instance
        .iter()
        .filter(|e| e.created.wall.date_naive() == Utc::now().date_naive())
        .count();
    if today >= world.scenario.amc_daily_executions as usize {
        world.calls.record_throttled(AMC_CREATE_EXECUTION);
        world.amc_refused_over_limit += 1;
        return error(
            StatusCode::TOO_MANY_REQUESTS,
            format!(
                "Instance {instance_id} reached its {today} ad-hoc workflow executions of the day"
            ),
        )
        .into_response();
    }
    let plan = plan_for(&world, &workflow_id);
    let execution = Execution {
        execution_id: uuid::Uuid::new_v4().to_string(),
        instance_id,
        workflow_id,
        filtered_column: workflow.body["filteredMetricsDiscriminatorColumn"]
            .as_str()
            .filter(|c| workflow.columns.iter().any(|o| o.name == *c))
            .map(str::to_owned),
        body,
        columns: workflow.columns,
        created: Moment::now(),
        cancelled: false,
        plan,
        urls_issued: 0,
        downloads_served: 0,
    };
    let view = model(&execution, now);
    tracing::info!(execution_id = %execution.execution_id, "amc workflow execution created");
    world
        .amc
        .executions
        .insert(execution.execution_id.clone(), execution);
    Json(view).into_response()
}

/// The window of an execution body: EXPLICIT needs start before end, local times.
fn read_window(body: &Value) -> Result<(), String> {
    let kind = body["timeWindowType"].as_str().unwrap_or("EXPLICIT");
    let zone = body["timeWindowTimeZone"].as_str().unwrap_or("UTC");
    if !domain::amc::is_time_zone(zone) {
        return Err(format!(
            "timeWindowTimeZone `{zone}` is not a time zone name such as America/New_York"
        ));
    }
    match kind {
        "EXPLICIT" => {
            let time = |name: &str| {
                body[name]
                    .as_str()
                    .and_then(|t| {
                        NaiveDateTime::parse_from_str(t.trim_end_matches('Z'), "%Y-%m-%dT%H:%M:%S")
                            .ok()
                    })
                    .ok_or_else(|| {
                        format!("{name} is required with EXPLICIT, as YYYY-MM-DDTHH:MM:SS")
                    })
            };
            let (start, end) = (time("timeWindowStart")?, time("timeWindowEnd")?);
            if start >= end {
                return Err("timeWindowStart must be before timeWindowEnd".to_owned());
            }
            Ok(())
        }
        "MOST_RECENT_DAY" | "MOST_RECENT_WEEK" | "CURRENT_MONTH" | "PREVIOUS_MONTH" => Ok(()),
        other => Err(format!(
            "timeWindowType {other} is not one of EXPLICIT, MOST_RECENT_DAY, MOST_RECENT_WEEK, CURRENT_MONTH, PREVIOUS_MONTH"
        )),
    }
}

/// The execution as AMC shows it.
fn model(execution: &Execution, now: Instant) -> Value {
    let status = execution.status_at(now);
    let body = &execution.body;
    let mut view = json!({
        "workflowExecutionId": execution.execution_id,
        "workflowId": execution.workflow_id,
        "status": status,
        "executionCategory": "AD_HOC",
        "createTime": timestamp(execution.created.wall),
        "expireTime": timestamp(execution.created.wall + chrono::Duration::hours(24)),
        "lastUpdatedTime": timestamp(Utc::now()),
        "timeWindowType": body["timeWindowType"].as_str().unwrap_or("EXPLICIT"),
        "timeWindowStartOriginal": body["timeWindowStart"],
        "timeWindowEndOriginal": body["timeWindowEnd"],
        "timeWindowTimeZoneOriginal": body["timeWindowTimeZone"].as_str().unwrap_or("UTC"),
        "ignoreDataGaps": body["ignoreDataGaps"].as_bool().unwrap_or(false),
        "parameterValues": body.get("parameterValues").cloned().unwrap_or(json!({})),
        "dataGaps": execution.plan.data_gaps,
        "workflowExecutionTimeoutSeconds": 21600,
        "outputS3URI": "N/A",
    });
    if status == AmcStatus::Succeeded {
        view["outputColumns"] = execution
            .columns
            .iter()
            .map(|c| json!({"name": c.name, "dataType": c.data_type, "columnType": c.column_type}))
            .collect();
    }
    if status == AmcStatus::Failed {
        view["statusReason"] = json!(execution.plan.status_reason);
    }
    view
}

async fn get_execution(
    State(sim): State<Shared>,
    headers: HeaderMap,
    Path((instance_id, execution_id)): Path<(String, String)>,
) -> Response {
    let mut world = sim.world();
    world.calls.record_call(AMC_GET_EXECUTION);
    if let Err(refusal) = authorized(&sim, &world, &headers, &instance_id) {
        return refusal.into_response();
    }
    match execution_mut(&mut world, &instance_id, &execution_id) {
        Ok(execution) => Json(model(execution, Instant::now())).into_response(),
        Err(refusal) => refusal.into_response(),
    }
}

async fn list_executions(
    State(sim): State<Shared>,
    headers: HeaderMap,
    Path(instance_id): Path<String>,
) -> Response {
    let world = sim.world();
    if let Err(refusal) = authorized(&sim, &world, &headers, &instance_id) {
        return refusal.into_response();
    }
    let now = Instant::now();
    let executions: Vec<Value> = world
        .amc
        .executions
        .values()
        .filter(|e| e.instance_id == instance_id)
        .map(|e| model(e, now))
        .collect();
    Json(json!({ "executions": executions })).into_response()
}

async fn update_execution(
    State(sim): State<Shared>,
    headers: HeaderMap,
    Path((instance_id, execution_id)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    let mut world = sim.world();
    if let Err(refusal) = authorized(&sim, &world, &headers, &instance_id) {
        return refusal.into_response();
    }
    let wanted: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let now = Instant::now();
    let execution = match execution_mut(&mut world, &instance_id, &execution_id) {
        Ok(execution) => execution,
        Err(refusal) => return refusal.into_response(),
    };
    if wanted["status"] != "CANCELLED" {
        return error(StatusCode::BAD_REQUEST, "only status CANCELLED can be set").into_response();
    }
    match execution.status_at(now) {
        AmcStatus::Pending | AmcStatus::Running => {
            execution.cancelled = true;
            Json(model(execution, now)).into_response()
        }
        other => error(
            StatusCode::BAD_REQUEST,
            format!(
                "a {} workflow execution cannot be updated",
                serde_json::to_value(other)
                    .unwrap_or_default()
                    .as_str()
                    .unwrap_or("finished")
            ),
        )
        .into_response(),
    }
}

/// The instance's execution of this id.
fn execution_mut<'w>(
    world: &'w mut World,
    instance_id: &str,
    execution_id: &str,
) -> Result<&'w mut Execution, Refusal> {
    world
        .amc
        .executions
        .get_mut(execution_id)
        .filter(|e| e.instance_id == instance_id)
        .ok_or_else(|| not_found(format_args!("Workflow execution {execution_id}")))
}

async fn download_urls(
    State(sim): State<Shared>,
    headers: HeaderMap,
    Path((instance_id, execution_id)): Path<(String, String)>,
) -> Response {
    let mut world = sim.world();
    world.calls.record_call(AMC_DOWNLOAD_URLS);
    if let Err(refusal) = authorized(&sim, &world, &headers, &instance_id) {
        return refusal.into_response();
    }
    let now = Instant::now();
    let execution = match execution_mut(&mut world, &instance_id, &execution_id) {
        Ok(execution) => execution,
        Err(refusal) => return refusal.into_response(),
    };
    if execution.status_at(now) != AmcStatus::Succeeded {
        return error(
            StatusCode::BAD_REQUEST,
            format!("Workflow execution {execution_id} has not succeeded; it has no results"),
        )
        .into_response();
    }
    let born_expired = execution.plan.expire_first_urls && execution.urls_issued == 0;
    execution.urls_issued += 1;
    let ttl = if born_expired { 0 } else { URL_TTL_SECS };
    let ids: Vec<String> = (0..execution.plan.files)
        .map(|p| execution.document_id(p))
        .collect();
    let issued = Utc::now();
    let urls: Vec<String> = ids
        .iter()
        .map(|id| documents::document_url_in(&sim, &mut world, id, issued, ttl, false))
        .collect();
    Json(json!({ "downloadUrls": urls, "metadataDownloadUrls": [] })).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_columns_come_from_the_final_select_list() {
        let columns = read_sql(
            "WITH t AS (SELECT campaign, user_id FROM dsp_impressions)\nSELECT campaign,\n  SUM(impressions) AS impressions, -- total\n  COUNT(DISTINCT user_id) AS reach, AVG(cost) avg_cost\nFROM t GROUP BY 1",
            &[],
        )
        .unwrap();
        let described: Vec<(&str, &str)> = columns
            .iter()
            .map(|c| (c.name.as_str(), c.data_type))
            .collect();
        assert_eq!(
            described,
            [
                ("campaign", "STRING"),
                ("impressions", "LONG"),
                ("reach", "LONG"),
                ("avg_cost", "DOUBLE")
            ]
        );
    }

    #[test]
    fn a_query_amc_would_refuse_is_refused_with_its_line() {
        let problem =
            read_sql("SELECT campaign\nFROM dsp_impresions\nGROUP BY 1", &[]).unwrap_err();
        assert_eq!(problem, "line 2: unknown table `dsp_impresions`");
        assert!(
            read_sql("SELECT (1 FROM dsp_impressions", &[])
                .unwrap_err()
                .contains("never closed")
        );
        assert!(read_sql("DROP TABLE x", &[]).is_err());
        let undeclared = read_sql(
            "SELECT campaign FROM sponsored_ads_traffic WHERE ARRAY_CONTAINS(CUSTOM_PARAMETER('c'), campaign)",
            &[],
        )
        .unwrap_err();
        assert!(undeclared.contains("CUSTOM_PARAMETER('c')"), "{undeclared}");
    }
}
