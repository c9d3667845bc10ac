//! Amazon Marketing Cloud: instances in config, workflows as SQL files, and what an
//! execution of a workflow asks for.
//!
//! A workflow is one `.sql` file in the config folder's `amc/` directory: its name (the
//! file stem) is the `workflowId`, its text the `sqlQuery`, sent as written (a JSON
//! string keeps its lines, so `--` comments stay comments). Settings AMC takes beside
//! the SQL are comment lines at its top that sp-ingest reads and strips:
//!
//! ```sql
//! -- @distinctUserCountColumn du_count
//! -- @filteredMetricsDiscriminatorColumn filtered
//! -- @filteredReasonColumn filtered_reason
//! -- @parameter sa_campaigns ARRAY<STRING> = ["ALL"]
//! SELECT campaign, SUM(impressions) AS impressions FROM sponsored_ads_traffic GROUP BY 1
//! ```
//!
//! (api-facts.md §7; the workflow body is the one of the AMC reporting API's
//! `POST /amc/reporting/{instanceId}/workflows`.)

pub mod identifiers;

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// AMC caps ad-hoc executions at 30 a day per instance, across all workflows (the AMC
/// reporting API's description of `workflowExecutions`).
pub const DAILY_AD_HOC_EXECUTIONS: u32 = 30;
/// Executions an instance runs at once when the config does not say (about 10, unverified;
/// api-facts.md §9).
pub const PARALLEL_EXECUTIONS: u32 = 10;

/// `amc_instances/<name>`: an AMC instance, reached with an Ads account's credentials.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AmcInstance {
    /// The `ads_accounts/<name>` whose refresh token (and region) reaches the instance.
    pub ads_account: String,
    /// The instance id, e.g. `amcr1aaaa1a` (`sp-ingest amc instances` lists them).
    pub instance_id: String,
    /// The AMC account (`ENTITY…`), sent as `Amazon-Advertising-API-AdvertiserId`
    /// (`sp-ingest amc accounts` lists them).
    pub advertiser_id: String,
    /// The AMC account's marketplace, sent as `Amazon-Advertising-API-MarketplaceId`.
    pub marketplace: String,
    /// Executions the instance runs at once; more are not started until one ends.
    #[serde(default = "parallel_executions")]
    pub parallel_executions: u32,
    /// Ad-hoc executions a day; the runs stop starting new ones at the cap.
    #[serde(default = "daily_executions")]
    pub daily_executions: u32,
}

fn parallel_executions() -> u32 {
    PARALLEL_EXECUTIONS
}

fn daily_executions() -> u32 {
    DAILY_AD_HOC_EXECUTIONS
}

/// What a report of source `amc-workflows` runs: its `report_type` is the workflow id.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AmcExecutionSpec {
    /// The `amc_instances/<name>` to run on.
    pub instance: String,
    /// The time zone the window's days are in (`America/New_York`, `UTC`).
    #[serde(default = "utc")]
    pub time_zone: String,
    /// Run even when AMC reports gaps in the window's data (they are recorded either way).
    #[serde(default)]
    pub ignore_data_gaps: bool,
    /// Values of the workflow's parameters, by name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub parameters: BTreeMap<String, Value>,
}

fn utc() -> String {
    "UTC".to_owned()
}

/// What one request of an `amc-workflows` report runs, and where: the report's
/// execution settings with its instance resolved (part of the request key, so renaming
/// an instance in config does not run its windows again).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AmcRequest {
    /// The instance id.
    pub instance_id: String,
    /// The AMC account (`ENTITY…`).
    pub advertiser_id: String,
    /// The execution's settings (its `instance` is the config name, not in the key).
    pub time_zone: String,
    /// Run despite data gaps.
    pub ignore_data_gaps: bool,
    /// Parameter values.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub parameters: BTreeMap<String, Value>,
}

impl AmcRequest {
    /// The request of `spec` on `instance`.
    pub fn new(spec: &AmcExecutionSpec, instance: &AmcInstance) -> AmcRequest {
        AmcRequest {
            instance_id: instance.instance_id.clone(),
            advertiser_id: instance.advertiser_id.clone(),
            time_zone: spec.time_zone.clone(),
            ignore_data_gaps: spec.ignore_data_gaps,
            parameters: spec.parameters.clone(),
        }
    }

    /// The `workflowExecutions` body for the days `start..end` (end excluded) of
    /// `workflow_id`: an EXPLICIT window from midnight to midnight in the time zone.
    pub fn request_body(&self, workflow_id: &str, start: NaiveDate, end: NaiveDate) -> Value {
        let mut body = json!({
            "workflowId": workflow_id,
            "timeWindowStart": format!("{start}T00:00:00"),
            "timeWindowEnd": format!("{end}T00:00:00"),
            "timeWindowType": "EXPLICIT",
            "timeWindowTimeZone": self.time_zone,
            "ignoreDataGaps": self.ignore_data_gaps,
        });
        if !self.parameters.is_empty() {
            body["parameterValues"] = json!(self.parameters);
        }
        body
    }
}

/// Whether `zone` has the shape of an IANA time zone name (`UTC`, `Europe/Paris`,
/// `America/Argentina/Buenos_Aires`); AMC refuses others.
pub fn is_time_zone(zone: &str) -> bool {
    let part = |p: &str| {
        p.chars().next().is_some_and(|c| c.is_ascii_uppercase())
            && p.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '+'))
    };
    zone == "UTC" || (zone.contains('/') && zone.split('/').all(part))
}

/// Whether `id` can be a workflow id (and so a file name and a table name).
pub fn is_workflow_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 128
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-'))
}

/// What an instance runs, as the metadata table keeps it across runs: each execution
/// started and not yet seen to end (by request key, with when its lease runs out — an
/// execution never seen to end, say after a crash, stops counting then), and how many
/// were started on `day` (UTC).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ledger {
    /// Request key → end of its lease, epoch seconds.
    pub running: BTreeMap<String, i64>,
    /// The UTC day `started_today` counts (`YYYY-MM-DD`).
    pub day: String,
    /// Executions started on `day`.
    pub started_today: u32,
}

/// Whether one more execution may start on an instance now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Capacity {
    /// Yes: the ledger to write (with this request counted).
    Start(Ledger),
    /// This request already holds a place (a retried CreateReport): go on.
    Held,
    /// The instance runs as many as it may: wait, then ask again.
    Full {
        /// Executions running.
        running: usize,
    },
    /// The day's ad-hoc executions are spent.
    DayIsSpent {
        /// Executions started today.
        started: u32,
    },
}

impl Ledger {
    /// Whether `key` may start an execution at `now` on an instance taking `parallel` at
    /// once and `daily` a day; leases end at `lease_until`.
    pub fn admit(
        &self,
        key: &str,
        parallel: u32,
        daily: u32,
        now: chrono::DateTime<chrono::Utc>,
        lease_until: chrono::DateTime<chrono::Utc>,
    ) -> Capacity {
        let live: BTreeMap<String, i64> = self
            .running
            .iter()
            .filter(|(_, until)| **until > now.timestamp())
            .map(|(k, until)| (k.clone(), *until))
            .collect();
        if live.contains_key(key) {
            return Capacity::Held;
        }
        let today = now.date_naive().to_string();
        let started = if self.day == today {
            self.started_today
        } else {
            0
        };
        if started >= daily {
            return Capacity::DayIsSpent { started };
        }
        if live.len() >= parallel as usize {
            return Capacity::Full {
                running: live.len(),
            };
        }
        let mut running = live;
        running.insert(key.to_owned(), lease_until.timestamp());
        Capacity::Start(Ledger {
            running,
            day: today,
            started_today: started + 1,
        })
    }
}

/// A parameter a workflow takes (`CUSTOM_PARAMETER('name')` in its SQL).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InputParameter {
    /// Its name.
    pub name: String,
    /// Its type, as AMC writes it: `{"type": "STRING"}` or
    /// `{"type": "ARRAY", "elementDataType": "STRING"}`.
    pub data_type: Value,
    /// Its value when an execution gives none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_value: Option<Value>,
}

/// A workflow as AMC stores it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Workflow {
    /// Its id (the file stem).
    pub workflow_id: String,
    /// Its SQL.
    pub sql_query: String,
    /// Its parameters.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub input_parameters: Vec<InputParameter>,
    /// The column counting distinct users, for AMC's privacy filter.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub distinct_user_count_column: Option<String>,
    /// The column AMC sets on rows whose metrics it filtered for privacy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filtered_metrics_discriminator_column: Option<String>,
    /// The column AMC fills with why a row was filtered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filtered_reason_column: Option<String>,
}

/// A problem of a workflow file, with the line it is on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}: {problem}")]
pub struct WorkflowFileError {
    /// The file, as named to the user.
    pub file: String,
    /// Its line (1-based; 0 for the file as a whole).
    pub line: usize,
    /// What is wrong and what would be right.
    pub problem: String,
}

impl Workflow {
    /// Reads a workflow file: `file` names it in errors, its stem is the workflow id.
    pub fn from_file(file: &str, text: &str) -> Result<Workflow, WorkflowFileError> {
        let error = |line: usize, problem: String| WorkflowFileError {
            file: file.to_owned(),
            line,
            problem,
        };
        let name = std::path::Path::new(file)
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or_default();
        if !is_workflow_id(name) {
            return Err(error(
                0,
                format!(
                    "`{name}` cannot be a workflow id: use letters, digits, `_` and `-` (at most 128)"
                ),
            ));
        }
        let mut workflow = Workflow {
            workflow_id: name.to_owned(),
            sql_query: String::new(),
            input_parameters: Vec::new(),
            distinct_user_count_column: None,
            filtered_metrics_discriminator_column: None,
            filtered_reason_column: None,
        };
        let mut sql = Vec::new();
        for (index, line) in text.lines().enumerate() {
            let number = index + 1;
            let directive = line.trim().strip_prefix("--").map(str::trim);
            match directive.and_then(|d| d.strip_prefix('@')) {
                // Settings come before the query (comment lines may precede them).
                Some(setting)
                    if sql.iter().all(|l: &&str| {
                        let l = l.trim();
                        l.is_empty() || l.starts_with("--")
                    }) =>
                {
                    let (key, value) = setting
                        .split_once(char::is_whitespace)
                        .unwrap_or((setting, ""));
                    let value = value.trim();
                    let column = || {
                        (!value.is_empty() && !value.contains(char::is_whitespace))
                            .then(|| value.to_owned())
                            .ok_or_else(|| error(number, format!("@{key} takes one column name")))
                    };
                    match key {
                        "distinctUserCountColumn" => {
                            workflow.distinct_user_count_column = Some(column()?)
                        }
                        "filteredMetricsDiscriminatorColumn" => {
                            workflow.filtered_metrics_discriminator_column = Some(column()?)
                        }
                        "filteredReasonColumn" => workflow.filtered_reason_column = Some(column()?),
                        "parameter" => workflow
                            .input_parameters
                            .push(parameter(value).map_err(|p| error(number, p))?),
                        other => {
                            return Err(error(
                                number,
                                format!(
                                    "unknown setting @{other}; use @distinctUserCountColumn, @filteredMetricsDiscriminatorColumn, @filteredReasonColumn or @parameter"
                                ),
                            ));
                        }
                    }
                }
                _ => sql.push(line),
            }
        }
        let sql = sql.join("\n").trim().to_owned();
        let first = sql
            .lines()
            .map(str::trim)
            .find(|l| !l.is_empty() && !l.starts_with("--"))
            .unwrap_or_default()
            .to_ascii_uppercase();
        if !(first.starts_with("SELECT") || first.starts_with("WITH")) {
            return Err(error(
                0,
                "holds no query: an AMC workflow is one SELECT (or WITH … SELECT) statement"
                    .to_owned(),
            ));
        }
        workflow.sql_query = sql;
        Ok(workflow)
    }

    /// How this workflow differs from `other` (the instance's), field by field; empty
    /// when they are the same.
    pub fn differences(&self, other: &Workflow) -> Vec<&'static str> {
        let mut fields = Vec::new();
        if self.sql_query.trim() != other.sql_query.trim() {
            fields.push("sqlQuery");
        }
        if self.input_parameters != other.input_parameters {
            fields.push("inputParameters");
        }
        if self.distinct_user_count_column != other.distinct_user_count_column {
            fields.push("distinctUserCountColumn");
        }
        if self.filtered_metrics_discriminator_column != other.filtered_metrics_discriminator_column
        {
            fields.push("filteredMetricsDiscriminatorColumn");
        }
        if self.filtered_reason_column != other.filtered_reason_column {
            fields.push("filteredReasonColumn");
        }
        fields
    }
}

/// `name TYPE [= default JSON]`, TYPE one of STRING, LONG, DOUBLE, DATE, TIMESTAMP,
/// BOOLEAN or ARRAY<…> of one of them.
fn parameter(text: &str) -> Result<InputParameter, String> {
    let (declaration, default) = match text.split_once('=') {
        Some((declaration, default)) => (declaration.trim(), Some(default.trim())),
        None => (text.trim(), None),
    };
    let mut parts = declaration.split_whitespace();
    let (Some(name), Some(kind), None) = (parts.next(), parts.next(), parts.next()) else {
        return Err("@parameter takes `name TYPE` and an optional `= default` (JSON), e.g. @parameter campaigns ARRAY<STRING> = [\"ALL\"]".to_owned());
    };
    const SCALARS: [&str; 6] = ["STRING", "LONG", "DOUBLE", "DATE", "TIMESTAMP", "BOOLEAN"];
    let upper = kind.to_ascii_uppercase();
    let data_type = match upper
        .strip_prefix("ARRAY<")
        .and_then(|k| k.strip_suffix('>'))
    {
        Some(element) if SCALARS.contains(&element) => {
            json!({"type": "ARRAY", "elementDataType": element})
        }
        None if SCALARS.contains(&upper.as_str()) => json!({"type": upper}),
        _ => {
            return Err(format!(
                "`{kind}` is not a parameter type; use one of {} or ARRAY<…> of one",
                SCALARS.join(", ")
            ));
        }
    };
    let default_value = default
        .map(|d| {
            serde_json::from_str(d).map_err(|e| format!("the default of {name} is not JSON: {e}"))
        })
        .transpose()?;
    Ok(InputParameter {
        name: name.to_owned(),
        data_type,
        default_value,
    })
}

/// One change `amc workflows sync` makes to an instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WorkflowChange {
    /// A file without a workflow of its id: created.
    Create(Workflow),
    /// A file whose workflow differs in these fields: updated.
    Update(Workflow, Vec<&'static str>),
    /// A workflow no file names: deleted with `--prune`, else only shown.
    Delete(String),
}

/// The changes that make `instance`'s workflows those of `files` (oldest id first);
/// workflows the same on both sides are not listed.
pub fn workflow_changes(files: &[Workflow], instance: &[Workflow]) -> Vec<WorkflowChange> {
    let remote: BTreeMap<&str, &Workflow> = instance
        .iter()
        .map(|w| (w.workflow_id.as_str(), w))
        .collect();
    let mut changes = Vec::new();
    let mut local: Vec<&Workflow> = files.iter().collect();
    local.sort_by(|a, b| a.workflow_id.cmp(&b.workflow_id));
    for file in local {
        match remote.get(file.workflow_id.as_str()) {
            None => changes.push(WorkflowChange::Create(file.clone())),
            Some(existing) => {
                let fields = file.differences(existing);
                if !fields.is_empty() {
                    changes.push(WorkflowChange::Update(file.clone(), fields));
                }
            }
        }
    }
    for id in remote.keys() {
        if !files.iter().any(|f| f.workflow_id == *id) {
            changes.push(WorkflowChange::Delete((*id).to_owned()));
        }
    }
    changes
}

#[cfg(test)]
mod tests {
    use super::*;

    const REACH: &str = "-- @distinctUserCountColumn du_count\n-- @filteredMetricsDiscriminatorColumn filtered\n-- @parameter sa_campaigns ARRAY<STRING> = [\"ALL\"]\n\nSELECT campaign,\n  COUNT(DISTINCT user_id) AS du_count -- reach\nFROM sponsored_ads_traffic\nGROUP BY 1\n";

    #[test]
    fn a_workflow_file_gives_its_settings_and_keeps_its_sql_lines() {
        let workflow = Workflow::from_file("amc/campaign_reach.sql", REACH).unwrap();
        assert_eq!(workflow.workflow_id, "campaign_reach");
        assert!(workflow.sql_query.starts_with("SELECT campaign,\n"));
        assert!(
            workflow.sql_query.contains("-- reach\nFROM"),
            "comments stay on their line"
        );
        assert_eq!(
            workflow.distinct_user_count_column.as_deref(),
            Some("du_count")
        );
        assert_eq!(
            workflow.filtered_metrics_discriminator_column.as_deref(),
            Some("filtered")
        );
        assert_eq!(
            serde_json::to_value(&workflow.input_parameters).unwrap(),
            json!([{"name": "sa_campaigns", "dataType": {"type": "ARRAY", "elementDataType": "STRING"}, "defaultValue": ["ALL"]}])
        );
        let body = serde_json::to_value(&workflow).unwrap();
        assert_eq!(body["sqlQuery"].as_str(), Some(workflow.sql_query.as_str()));
        assert!(body.get("filteredReasonColumn").is_none());
    }

    #[test]
    fn settings_may_follow_comment_lines_but_not_the_query() {
        let text = "-- Reach per campaign.\n-- @filteredMetricsDiscriminatorColumn filtered\nSELECT 1\n-- @filteredReasonColumn why\n";
        let workflow = Workflow::from_file("reach.sql", text).unwrap();
        assert_eq!(
            workflow.filtered_metrics_discriminator_column.as_deref(),
            Some("filtered")
        );
        assert_eq!(
            workflow.filtered_reason_column, None,
            "after the query it is a comment"
        );
        assert!(
            workflow
                .sql_query
                .starts_with("-- Reach per campaign.\nSELECT 1")
        );
    }

    #[test]
    fn workflow_file_problems_name_the_file_and_line() {
        let err =
            Workflow::from_file("amc/x.sql", "-- @parameter n MAP<STRING>\nSELECT 1").unwrap_err();
        assert_eq!((err.line, err.file.as_str()), (1, "amc/x.sql"));
        assert!(err.problem.contains("MAP<STRING>"), "{err}");
        let err = Workflow::from_file("amc/x.sql", "-- @distinctUsers du\nSELECT 1").unwrap_err();
        assert!(
            err.to_string()
                .starts_with("amc/x.sql:1: unknown setting @distinctUsers"),
            "{err}"
        );
        let err = Workflow::from_file("amc/x.sql", "DELETE FROM t").unwrap_err();
        assert!(err.problem.contains("one SELECT"), "{err}");
        let err = Workflow::from_file("amc/my report.sql", "SELECT 1").unwrap_err();
        assert!(err.problem.contains("cannot be a workflow id"), "{err}");
    }

    #[test]
    fn sync_creates_updates_and_lists_what_no_file_names() {
        let reach = Workflow::from_file("campaign_reach.sql", REACH).unwrap();
        let overlap = Workflow::from_file("overlap.sql", "SELECT 1 FROM dsp_impressions").unwrap();
        let mut changed = reach.clone();
        changed.sql_query.push_str(" HAVING du_count > 100");
        let old = Workflow {
            workflow_id: "old".into(),
            ..overlap.clone()
        };
        let changes = workflow_changes(&[overlap.clone(), reach.clone()], &[changed, old]);
        assert_eq!(
            changes,
            vec![
                WorkflowChange::Update(reach.clone(), vec!["sqlQuery"]),
                WorkflowChange::Create(overlap.clone()),
                WorkflowChange::Delete("old".into()),
            ]
        );
        let same = std::slice::from_ref(&reach);
        assert!(workflow_changes(same, same).is_empty());
    }

    #[test]
    fn the_ledger_admits_up_to_the_parallel_and_daily_limits_and_forgets_lapsed_leases() {
        let at = |t: &str| t.parse::<chrono::DateTime<chrono::Utc>>().unwrap();
        let now = at("2026-12-06T10:00:00Z");
        let lease = now + chrono::Duration::hours(7);
        let mut ledger = Ledger::default();
        for key in ["a", "b"] {
            match ledger.admit(key, 2, 30, now, lease) {
                Capacity::Start(next) => ledger = next,
                other => panic!("{key}: {other:?}"),
            }
        }
        assert_eq!(ledger.admit("a", 2, 30, now, lease), Capacity::Held);
        assert_eq!(
            ledger.admit("c", 2, 30, now, lease),
            Capacity::Full { running: 2 }
        );
        // b ended (released), or its lease lapsed: c starts.
        let mut ended = ledger.clone();
        ended.running.remove("b");
        assert!(matches!(
            ended.admit("c", 2, 30, now, lease),
            Capacity::Start(_)
        ));
        let later = lease + chrono::Duration::seconds(1);
        assert!(
            matches!(ledger.admit("c", 2, 30, later, later), Capacity::Start(l) if l.running.len() == 1)
        );
        // The day's cap, reset the next UTC day.
        assert_eq!(
            ledger.admit("c", 5, 2, now, lease),
            Capacity::DayIsSpent { started: 2 }
        );
        let tomorrow = at("2026-12-07T00:00:01Z");
        assert!(
            matches!(ledger.admit("c", 5, 2, tomorrow, lease), Capacity::Start(l) if l.started_today == 1)
        );
    }

    #[test]
    fn an_execution_is_an_explicit_window_of_days_in_the_time_zone() {
        let spec = AmcExecutionSpec {
            instance: "brand".into(),
            time_zone: "America/New_York".into(),
            ignore_data_gaps: false,
            parameters: BTreeMap::from([("sa_campaigns".into(), json!(["ALL"]))]),
        };
        let instance = AmcInstance {
            ads_account: "acme-ads".into(),
            instance_id: "amcr1aaaa1a".into(),
            advertiser_id: "ENTITY1".into(),
            marketplace: "ATVPDKIKX0DER".into(),
            parallel_executions: PARALLEL_EXECUTIONS,
            daily_executions: DAILY_AD_HOC_EXECUTIONS,
        };
        let spec = AmcRequest::new(&spec, &instance);
        assert_eq!(
            (spec.instance_id.as_str(), spec.advertiser_id.as_str()),
            ("amcr1aaaa1a", "ENTITY1")
        );
        let day = |d: &str| d.parse::<NaiveDate>().unwrap();
        let body = spec.request_body("campaign_reach", day("2026-11-01"), day("2026-11-02"));
        assert_eq!(body["timeWindowStart"], "2026-11-01T00:00:00");
        assert_eq!(body["timeWindowEnd"], "2026-11-02T00:00:00");
        assert_eq!(body["timeWindowType"], "EXPLICIT");
        assert_eq!(body["timeWindowTimeZone"], "America/New_York");
        assert_eq!(body["parameterValues"]["sa_campaigns"][0], "ALL");
        assert!(is_time_zone("America/Argentina/Buenos_Aires") && is_time_zone("UTC"));
        assert!(
            !is_time_zone("EST") && !is_time_zone("america/new_york") && !is_time_zone("+05:00")
        );
    }
}
