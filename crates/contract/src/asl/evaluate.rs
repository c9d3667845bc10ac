//! The payload contract, checked in milliseconds: each committed definition is walked
//! state by state on typed samples. At every Task the `Payload` its paths select from the
//! state's data must deserialize into the invoked function's input type, and the task's
//! result is a sample of the step's real output type, put through `ResultSelector`,
//! `ResultPath` and `OutputPath` into the next state's data. Choices are decided on that
//! data, so every branch is reached by some sample; every Catch is followed with an
//! error. A field renamed on either side shows up as a path that selects nothing or a
//! payload a Lambda refuses.

use std::collections::{BTreeSet, HashSet};

use chrono::{DateTime, Utc};
use domain::{
    Completion, DataWindow, ErrorName, PlannedRequest, ProcessingStatus, Region, ReportRequest,
    Source,
};
use serde::Serialize;
use serde_json::{Map, Value, json};

use crate::functions::FUNCTIONS;
use crate::outcome::{ItemResult, Outcome, RunSummary, StoredObject};
use crate::steps::*;
use crate::token::SealedToken;

/// What a walk found.
#[derive(Debug, Default)]
pub struct Findings {
    /// Broken links, each naming the state and the path or field.
    pub errors: BTreeSet<String>,
    /// `scope/state` of every state reached.
    pub reached: BTreeSet<String>,
    /// Every state of the definition.
    pub states: BTreeSet<String>,
    /// Steps invoked.
    pub steps: BTreeSet<Step>,
}

/// Walks `definition` from a sample execution input.
pub fn walk(definition: &Value) -> Findings {
    walk_with_plan(definition, vec![planned()])
}

/// Walks `definition` with `requests` as what Plan answers.
pub fn walk_with_plan(definition: &Value, requests: Vec<PlannedRequest>) -> Findings {
    let mut findings = Findings::default();
    list_states("", definition, &mut findings.states);
    let input = to_json(&RunInput {
        reports: vec![],
        run_at: at("2026-11-25T06:00:00Z"),
        refresh: false,
        window: None,
        backfill: None,
        accounts: vec![],
    });
    let context = json!({
        "Execution": {"Name": "sample-run", "StartTime": "2026-11-25T06:00:01.123Z"},
        "State": {"Name": "sample-state", "EnteredTime": "2026-11-25T06:10:00Z"}
    });
    let plan = to_json(&PlanOutput::by_account(requests));
    run("", definition, input, &context, &plan, &mut findings);
    findings
}

fn list_states(scope: &str, machine: &Value, out: &mut BTreeSet<String>) {
    for (name, state) in machine["States"].as_object().into_iter().flatten() {
        out.insert(format!("{scope}{name}"));
        if state["ItemProcessor"].is_object() {
            list_states(&format!("{scope}{name}/"), &state["ItemProcessor"], out);
        }
    }
}

/// Runs a (sub-)machine on `input`; returns the outputs of the ways it can end well.
fn run(
    scope: &str,
    machine: &Value,
    input: Value,
    context: &Value,
    plan: &Value,
    findings: &mut Findings,
) -> Vec<Value> {
    let mut ends = Vec::new();
    let mut seen = HashSet::new();
    let start = machine["StartAt"].as_str().unwrap_or_default().to_owned();
    let mut queue = vec![(start, input)];
    while let Some((name, data)) = queue.pop() {
        if !seen.insert((name.clone(), data.to_string())) {
            continue;
        }
        assert!(seen.len() < 10_000, "{scope}: the walk does not end");
        let here = format!("{scope}{name}");
        let Some(state) = machine["States"].get(&name) else {
            findings
                .errors
                .insert(format!("{here}: no such state (a Next names it)"));
            continue;
        };
        findings.reached.insert(here.clone());
        let mut fail = |problem: String| {
            findings.errors.insert(format!("{here}: {problem}"));
        };
        let mut go = |next: Result<Value, String>, state: &Value| match next {
            Err(problem) => fail(problem),
            Ok(output) => match state["Next"].as_str() {
                Some(next) => queue.push((next.to_owned(), output)),
                None => ends.push(output),
            },
        };
        match state["Type"].as_str().unwrap_or_default() {
            "Task" => {
                let task_context = merge(context, json!({"Task": {"Token": "task-token-1"}}));
                let results = match invoke(state, &data, &task_context, plan) {
                    Ok((step, results)) => {
                        findings.steps.insert(step);
                        results
                    }
                    Err(problem) => {
                        findings.errors.insert(format!("{here}: {problem}"));
                        continue;
                    }
                };
                for result in results {
                    let output = select(state.get("ResultSelector"), &result, &task_context)
                        .and_then(|r| place(state.get("ResultPath"), &data, r))
                        .and_then(|d| output_of(state, d));
                    go(output, state);
                }
                // A later page's failures take the ways the first page's did.
                let later_page = !data["item"]["page"].is_null();
                let catches = state["Catch"].as_array().filter(|_| !later_page);
                for catch in catches.into_iter().flatten() {
                    let error = catch["ErrorEquals"][0].as_str().unwrap_or_default();
                    let caught = json!({"Error": error, "Cause": "sample cause"});
                    match place(catch.get("ResultPath"), &data, caught) {
                        Ok(output) => queue.push((
                            catch["Next"].as_str().unwrap_or_default().to_owned(),
                            output,
                        )),
                        Err(problem) => {
                            findings.errors.insert(format!("{here}: Catch {problem}"));
                        }
                    }
                }
            }
            "Pass" => {
                let result = match (state.get("Parameters"), state.get("Result")) {
                    (Some(parameters), _) => parameters_of(parameters, &data, context),
                    (None, Some(result)) => Ok(result.clone()),
                    (None, None) => match state["InputPath"].as_str() {
                        Some(path) => resolve(path, &data, context),
                        None => Ok(data.clone()),
                    },
                };
                let output = result
                    .and_then(|r| place(state.get("ResultPath"), &data, r))
                    .and_then(|d| output_of(state, d));
                go(output, state);
            }
            "Choice" => {
                let mut next = None;
                for rule in state["Choices"].as_array().into_iter().flatten() {
                    match matches(rule, &data) {
                        Ok(true) => {
                            next = rule["Next"].as_str();
                            break;
                        }
                        Ok(false) => {}
                        Err(problem) => {
                            fail(problem);
                            next = None;
                            break;
                        }
                    }
                }
                let next = next.or_else(|| state["Default"].as_str());
                if let Some(next) = next {
                    queue.push((next.to_owned(), data));
                }
            }
            "Wait" => {
                let seconds = state["SecondsPath"]
                    .as_str()
                    .map(|p| resolve(p, &data, context));
                match seconds {
                    Some(Ok(Value::Number(n))) if n.is_u64() => go(Ok(data), state),
                    Some(Ok(other)) => fail(format!("SecondsPath selects {other}, not seconds")),
                    Some(Err(problem)) => fail(format!("SecondsPath {problem}")),
                    None => go(Ok(data), state),
                }
            }
            "Map" => {
                let items = state["ItemsPath"]
                    .as_str()
                    .map_or(Ok(data.clone()), |p| resolve(p, &data, context));
                let items = match items {
                    Ok(Value::Array(items)) if !items.is_empty() => items,
                    Ok(other) => {
                        fail(format!("ItemsPath selects {other}, not a non-empty array"));
                        continue;
                    }
                    Err(problem) => {
                        fail(format!("ItemsPath {problem}"));
                        continue;
                    }
                };
                let item_context = merge(
                    context,
                    json!({"Map": {"Item": {"Value": items[0], "Index": 0}}}),
                );
                let iteration = match state.get("ItemSelector") {
                    Some(selector) => parameters_of(selector, &data, &item_context),
                    None => Ok(items[0].clone()),
                };
                let iteration = match iteration {
                    Ok(iteration) => iteration,
                    Err(problem) => {
                        fail(format!("ItemSelector {problem}"));
                        continue;
                    }
                };
                // Each way an item can end is one element of the Map's result.
                let results = run(
                    &format!("{here}/"),
                    &state["ItemProcessor"],
                    iteration,
                    &item_context,
                    plan,
                    findings,
                );
                let output = place(state.get("ResultPath"), &data, Value::Array(results))
                    .and_then(|d| output_of(state, d));
                match output {
                    Ok(output) => match state["Next"].as_str() {
                        Some(next) => queue.push((next.to_owned(), output)),
                        None => ends.push(output),
                    },
                    Err(problem) => {
                        findings.errors.insert(format!("{here}: {problem}"));
                    }
                }
            }
            "Succeed" => ends.push(data),
            "Fail" => {
                let error = state["Error"].as_str().unwrap_or_default();
                if error.parse::<ErrorName>().is_err() {
                    fail(format!("Error `{error}` is not a domain::ErrorName"));
                }
                if let Some(path) = state["CausePath"].as_str() {
                    match resolve(path, &data, context) {
                        Ok(Value::String(_)) => {}
                        Ok(other) => fail(format!("CausePath selects {other}, not a string")),
                        Err(problem) => fail(format!("CausePath {problem}")),
                    }
                }
            }
            other => fail(format!(
                "state type `{other}` is not understood by this check"
            )),
        }
    }
    ends
}

/// The Task's payload checked against the function's input type; the step's sample
/// results, as the task sees them.
fn invoke(
    state: &Value,
    data: &Value,
    context: &Value,
    plan: &Value,
) -> Result<(Step, Vec<Value>), String> {
    let parameters = parameters_of(&state["Parameters"], data, context)
        .map_err(|p| format!("Parameters {p}"))?;
    let function_name = parameters["FunctionName"].as_str().unwrap_or_default();
    let function = FUNCTIONS
        .iter()
        .find(|f| function_name == format!("${{{}}}", f.placeholder))
        .ok_or_else(|| format!("FunctionName `{function_name}` is no pipeline function"))?;
    let payload = &parameters["Payload"];
    let step = accept(function.name, payload)
        .map_err(|e| format!("{} refuses the payload {payload}: {e}", function.name))?;
    if step.function() != *function {
        return Err(format!(
            "step {step:?} is served by {}, not {}",
            step.function().name,
            function.name
        ));
    }
    let samples = samples(step, plan, payload);
    let waits = state["Resource"]
        .as_str()
        .is_some_and(|r| r.ends_with(".waitForTaskToken"));
    let mut results: Vec<Value> = if waits {
        if step != Step::AwaitReport {
            return Err(format!("{step:?} does not send a task result"));
        }
        callback_samples()
    } else {
        samples
            .into_iter()
            .map(|payload| json!({"ExecutedVersion": "$LATEST", "Payload": payload, "StatusCode": 200}))
            .collect()
    };
    // A later page meets the states the first page met; one way through them (the one
    // that stores the page) is enough, and keeps the walk from multiplying its paths.
    if !payload["item"]["page"].is_null() {
        let done = ProcessingStatus::Done.as_str();
        let forward = results
            .iter()
            .position(|r| {
                let answer = if waits { r } else { &r["Payload"] };
                answer["processingStatus"] == done && !answer["reportDocumentId"].is_null()
            })
            .unwrap_or(0);
        results = results.into_iter().skip(forward).take(1).collect();
    }
    Ok((step, results))
}

/// Deserializes `payload` into `function`'s input type; the step it names.
pub(crate) fn accept(function: &str, payload: &Value) -> Result<Step, String> {
    fn parse<T: serde::de::DeserializeOwned>(payload: &Value) -> Result<(), String> {
        serde_json::from_value::<T>(payload.clone())
            .map(drop)
            .map_err(|e| e.to_string())
    }
    match function {
        "auth" => parse::<AuthInput>(payload),
        "report-creator" => parse::<ReportCreatorInput>(payload),
        "data-processor" => parse::<DataProcessorInput>(payload),
        "storage" => parse::<StorageInput>(payload),
        "transform" => parse::<TransformInput>(payload),
        "update-metadata" => parse::<UpdateMetadataInput>(payload),
        other => Err(format!("{other} is not invoked by a state machine")),
    }?;
    let tag = payload["step"].as_str().unwrap_or_default();
    Step::ALL
        .into_iter()
        .find(|s| s.as_str() == tag)
        .ok_or_else(|| format!("`step` {tag} is no Step"))
}

/// `Parameters`-style template: `"key.$": "<path>"` takes the value at the path.
fn parameters_of(template: &Value, data: &Value, context: &Value) -> Result<Value, String> {
    match template {
        Value::Object(members) => {
            let mut out = Map::new();
            for (key, value) in members {
                match key.strip_suffix(".$") {
                    Some(field) => {
                        let path = value.as_str().unwrap_or_default();
                        if path.starts_with("States.") {
                            return Err(format!(
                                "`{key}`: intrinsic {path} is not understood by this check"
                            ));
                        }
                        let selected =
                            resolve(path, data, context).map_err(|p| format!("`{key}` {p}"))?;
                        out.insert(field.to_owned(), selected);
                    }
                    None => {
                        out.insert(key.clone(), parameters_of(value, data, context)?);
                    }
                }
            }
            Ok(Value::Object(out))
        }
        Value::Array(items) => items
            .iter()
            .map(|i| parameters_of(i, data, context))
            .collect::<Result<Vec<_>, _>>()
            .map(Value::Array),
        other => Ok(other.clone()),
    }
}

fn select(selector: Option<&Value>, result: &Value, context: &Value) -> Result<Value, String> {
    match selector {
        Some(selector) => {
            parameters_of(selector, result, context).map_err(|p| format!("ResultSelector {p}"))
        }
        None => Ok(result.clone()),
    }
}

/// Puts `result` at `ResultPath` in `data` (`$` or absent: replaces it).
fn place(path: Option<&Value>, data: &Value, result: Value) -> Result<Value, String> {
    let Some(path) = path.and_then(Value::as_str) else {
        return Ok(result);
    };
    let fields = fields_of(path).map_err(|p| format!("ResultPath {p}"))?;
    let mut out = data.clone();
    let mut at = &mut out;
    for field in &fields {
        let object = at
            .as_object_mut()
            .ok_or_else(|| format!("ResultPath {path}: `{field}` is inside a non-object"))?;
        at = object.entry(field.clone()).or_insert(Value::Null);
    }
    *at = result;
    Ok(out)
}

fn output_of(state: &Value, data: Value) -> Result<Value, String> {
    match state["OutputPath"].as_str() {
        Some(path) => resolve(path, &data, &Value::Null).map_err(|p| format!("OutputPath {p}")),
        None => Ok(data),
    }
}

/// The value at a reference path (`$.a.b`, or `$$.…` in the context object).
fn resolve(path: &str, data: &Value, context: &Value) -> Result<Value, String> {
    let (root, rest) = match path.strip_prefix("$$") {
        Some(rest) => (context, rest),
        None => (data, path.strip_prefix('$').unwrap_or(path)),
    };
    let fields = fields_of(&format!("${rest}"))?;
    let mut at = root;
    for field in &fields {
        at = at.get(field).ok_or_else(|| {
            let known: Vec<&String> = at
                .as_object()
                .map(|o| o.keys().collect())
                .unwrap_or_default();
            format!("{path} selects nothing: no `{field}` (there: {known:?})")
        })?;
    }
    Ok(at.clone())
}

fn fields_of(path: &str) -> Result<Vec<String>, String> {
    let rest = path
        .strip_prefix('$')
        .ok_or_else(|| format!("{path} is not a path"))?;
    if rest.contains(['[', '*', '?', '@']) {
        return Err(format!(
            "{path}: only `$.a.b` paths are understood by this check"
        ));
    }
    Ok(rest
        .split('.')
        .filter(|f| !f.is_empty())
        .map(str::to_owned)
        .collect())
}

/// Whether a choice rule matches `data`.
fn matches(rule: &Value, data: &Value) -> Result<bool, String> {
    if let Some(all) = rule["And"].as_array() {
        return all
            .iter()
            .try_fold(true, |ok, r| Ok(ok && matches(r, data)?));
    }
    if let Some(any) = rule["Or"].as_array() {
        return any
            .iter()
            .try_fold(false, |ok, r| Ok(ok || matches(r, data)?));
    }
    if rule["Not"].is_object() {
        return matches(&rule["Not"], data).map(|m| !m);
    }
    let path = rule["Variable"].as_str().unwrap_or_default();
    if let Some(present) = rule["IsPresent"].as_bool() {
        return Ok(resolve(path, data, &Value::Null).is_ok() == present);
    }
    let value = resolve(path, data, &Value::Null).map_err(|p| format!("Choice {p}"))?;
    let number = |v: &Value| v.as_f64();
    let compared = if let Some(text) = rule["StringEquals"].as_str() {
        value.as_str().map(|v| v == text)
    } else if let Some(n) = rule["NumericGreaterThan"].as_f64() {
        number(&value).map(|v| v > n)
    } else if let Some(n) = rule["NumericEquals"].as_f64() {
        number(&value).map(|v| v == n)
    } else if let Some(b) = rule["BooleanEquals"].as_bool() {
        value.as_bool().map(|v| v == b)
    } else if let Some(null) = rule["IsNull"].as_bool() {
        Some(value.is_null() == null)
    } else {
        return Err(format!(
            "choice rule {rule} is not understood by this check"
        ));
    };
    compared.ok_or_else(|| format!("Choice on {path}: {value} has the wrong type for {rule}"))
}

fn merge(base: &Value, extra: Value) -> Value {
    let mut out = base.as_object().cloned().unwrap_or_default();
    if let Value::Object(extra) = extra {
        out.extend(extra);
    }
    Value::Object(out)
}

fn to_json(value: &impl Serialize) -> Value {
    serde_json::to_value(value).expect("samples serialize")
}

fn at(text: &str) -> DateTime<Utc> {
    text.parse().expect("a sample time")
}

fn planned() -> PlannedRequest {
    let request = ReportRequest {
        account: "acme-us".into(),
        selling_partner_id: "A1SELLER".into(),
        source: Source::sp_api_reports(),
        report_type: "GET_FLAT_FILE_ALL_ORDERS_DATA_BY_ORDER_DATE_GENERAL".into(),
        marketplace_ids: vec!["ATVPDKIKX0DER".into()],
        window: DataWindow::new(at("2026-11-24T00:00:00Z"), at("2026-11-25T00:00:00Z"))
            .expect("a window"),
        options: Default::default(),
        query: None,
        ads: None,
        amc: None,
    };
    PlannedRequest {
        report: "orders".into(),
        key: request.key(),
        request,
        region: Region::Na,
        completion: Completion::Notification,
        await_timeout_secs: 900,
        endpoints: domain::config::RegionEndpoints::production(Region::Na),
        secret_arn: "arn:aws:secretsmanager:us-east-1:123456789012:secret:acme".into(),
        patience_secs: 6 * 3600,
        supersedes: None,
        config_version: "0123456789abcdef".into(),
        page: None,
        amc_limits: None,
    }
}

fn stored() -> StoredObject {
    StoredObject {
        object_key: "source=sp-api-reports/x.tsv".into(),
        sha256: "ab".repeat(32),
        bytes: 10,
        rows: 1,
        source_charset: "UTF-8".into(),
        malformed_sequences: 0,
    }
}

fn item_result(outcome: Outcome) -> ItemResult {
    let planned = planned();
    ItemResult {
        report: planned.report,
        account: planned.request.account,
        report_type: planned.request.report_type,
        marketplace_ids: planned.request.marketplace_ids,
        data_date: "2026-11-24".into(),
        key: planned.key,
        report_id: Some("5001".into()),
        outcome,
        curated: vec![],
        recorded_at: at("2026-11-25T06:10:00Z"),
    }
}

/// Real outputs of each step, one per way it can answer that the machine branches on;
/// Plan answers `plan`. Store answers "there is a next page" only for a first page, so
/// the walk goes round the page loop once.
fn samples(step: Step, plan: &Value, payload: &Value) -> Vec<Value> {
    let token = SealedToken {
        ciphertext: "AQICAHg=".into(),
        expires_at: at("2026-11-25T07:00:00Z"),
        client_id: None,
    };
    match step {
        Step::Plan => vec![plan.clone()],
        Step::Authenticate => vec![to_json(&AuthenticateOutput { token })],
        Step::CreateReport => vec![
            to_json(&CreateReportOutput {
                report_id: "5001".into(),
                reused: false,
                wait_seconds: 0,
            }),
            // No room on the source yet (an AMC instance at its limit).
            to_json(&CreateReportOutput {
                report_id: String::new(),
                reused: false,
                wait_seconds: 60,
            }),
        ],
        Step::AwaitReport => vec![to_json(&AwaitReportOutput { delivery: None })],
        Step::PollStatus => ProcessingStatus::ALL
            .into_iter()
            .map(|status| {
                to_json(&PollStatusOutput {
                    processing_status: status,
                    report_document_id: (status == ProcessingStatus::Done)
                        .then(|| "amzn1.tortuga.doc".into()),
                    next_page_token: None,
                    attempt: 1,
                    wait_seconds: 15,
                })
            })
            .collect(),
        Step::Store => {
            let page = stored();
            let last = StoreOutput {
                object: page.clone(),
                pages: vec![],
                next: None,
            };
            let more = StoreOutput {
                object: page.clone(),
                pages: vec![page],
                next: serde_json::from_value::<PlannedRequest>(payload["item"].clone())
                    .ok()
                    .map(|item| item.next_page("AAMA-next")),
            };
            if payload["item"]["page"].is_null() {
                vec![to_json(&last), to_json(&more)]
            } else {
                vec![to_json(&last)]
            }
        }
        Step::Curate => vec![
            to_json(&CurateOutput { partitions: vec![] }),
            to_json(&CurateOutput {
                partitions: vec![CuratedPartition {
                    table: "orders".into(),
                    values: vec!["A1SELLER".into(), "ATVPDKIKX0DER".into(), "2026-11-24".into()],
                    location: "s3://curated/orders/selling_partner_id=A1SELLER/marketplace=ATVPDKIKX0DER/data_date=2026-11-24/v=5001/".into(),
                    rows: 40,
                    bytes: 9_000,
                    replaced: None,
                    extra_fields: vec!["order-item-id".into()],
                }],
            }),
        ],
        Step::ReadFatalReason => vec![to_json(&FatalReason {
            reason: "dates not aligned".into(),
        })],
        Step::RecordStored => vec![to_json(&item_result(Outcome::Stored(stored())))],
        Step::RecordNoData => vec![to_json(&item_result(Outcome::NoData))],
        Step::RecordFatal => vec![to_json(&item_result(Outcome::Fatal {
            reason: "dates not aligned".into(),
        }))],
        Step::RecordFailed => vec![to_json(&item_result(Outcome::Failed {
            error: "Unauthorized".into(),
            cause: "LWA refused the refresh token".into(),
        }))],
        Step::Summarize => {
            let clean = crate::outcome::summarize(vec![item_result(Outcome::NoData)]);
            let fatal: RunSummary = crate::outcome::summarize(vec![item_result(Outcome::Fatal {
                reason: "dates not aligned".into(),
            })]);
            let failed = crate::outcome::summarize(vec![item_result(Outcome::Failed {
                error: "Unauthorized".into(),
                cause: "LWA refused the refresh token".into(),
            })]);
            vec![to_json(&clean), to_json(&fatal), to_json(&failed)]
        }
    }
}

/// What SendTaskSuccess hands AwaitReport: every terminal status.
fn callback_samples() -> Vec<Value> {
    let mut out = Vec::new();
    for status in ProcessingStatus::ALL
        .into_iter()
        .filter(|s| s.is_terminal())
    {
        // A report's DONE always names its document; a Data Kiosk query's DONE without
        // one means no data. FATAL may or may not have an error document.
        for document in [None, Some("amzn1.tortuga.doc".to_owned())] {
            out.push(to_json(&ReportStatus {
                processing_status: status,
                report_document_id: document.clone(),
                next_page_token: None,
            }));
        }
    }
    out
}
