//! Amazon Ads reporting v3 report configs, checked against what Amazon publishes for each
//! report type (`ads_report_types.json` beside this crate's `Cargo.toml`): which
//! `groupBy` values a type takes, which columns each makes available, which filters
//! and values, which time units, the longest window and how far back data is kept.
//! A config that Amazon would refuse — an unknown column for the type, `date` missing
//! with DAILY, a window over 31 days, a start older than the type's retention — is an
//! error naming the config field and what is allowed, before any report is requested.
//! <https://advertising.amazon.com/API/docs/en-us/guides/reporting/v3/report-types/overview>

use std::collections::BTreeMap;
use std::sync::OnceLock;

use chrono::{NaiveDate, TimeDelta};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::report_type::{DocumentFormat, ReportTypeSpec};
use crate::request::Source;

const BUILTIN: &str = include_str!("../ads_report_types.json");

/// How a report's rows are cut in time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TimeUnit {
    /// A row per day: the `date` column is needed.
    Daily,
    /// A row for the whole window: `startDate` and `endDate` columns, no `date`.
    Summary,
}

impl TimeUnit {
    /// Amazon's spelling.
    pub const fn as_str(self) -> &'static str {
        match self {
            TimeUnit::Daily => "DAILY",
            TimeUnit::Summary => "SUMMARY",
        }
    }
}

/// A filter of a report: rows whose `field` is one of `values`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdsFilter {
    /// The filtered field, e.g. `keywordType`.
    pub field: String,
    /// The values kept.
    pub values: Vec<String>,
}

/// What a report config asks of Amazon Ads; the report type is the config's
/// `report_type` (a `reportTypeId`, e.g. `spCampaigns`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdsReportSpec {
    /// The `groupBy` values, e.g. `["campaign", "adGroup"]`.
    pub group_by: Vec<String>,
    /// The columns wanted.
    pub columns: Vec<String>,
    /// Filters, each allowed by every `groupBy` value.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub filters: Vec<AdsFilter>,
    /// DAILY or SUMMARY.
    pub time_unit: TimeUnit,
}

/// A config field that is wrong, and what is allowed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdsProblem {
    /// The field of the report's `ads` config (`columns[3]`, `group_by[0]`, …), or
    /// `report_type` / `window`.
    pub field: String,
    /// What is wrong and what would be right.
    pub problem: String,
}

impl std::fmt::Display for AdsProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.field, self.problem)
    }
}

fn problem(field: impl Into<String>, problem: impl Into<String>) -> AdsProblem {
    AdsProblem {
        field: field.into(),
        problem: problem.into(),
    }
}

/// What one `groupBy` value adds to its report type.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupBy {
    /// Columns it makes available beyond the type's base columns.
    pub columns: Vec<String>,
    /// Filters it allows, each with its allowed values.
    pub filters: BTreeMap<String, Vec<String>>,
}

/// One report type as Amazon publishes it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AdsReportType {
    /// `reportTypeId`, e.g. `spCampaigns`.
    pub report_type_id: String,
    /// `adProduct`, e.g. `SPONSORED_PRODUCTS`.
    pub ad_product: String,
    /// The longest window of one request, in days (both ends included).
    pub max_window_days: i64,
    /// How many days back Amazon keeps the data.
    pub retention_days: i64,
    /// The time units it takes.
    pub time_units: Vec<TimeUnit>,
    /// Columns every `groupBy` offers.
    pub base_columns: Vec<String>,
    /// The `groupBy` values it takes.
    pub group_by: BTreeMap<String, GroupBy>,
    /// The ages after a day at which its figures are restated, ISO 8601, where they
    /// differ from the file's `restatement`.
    #[serde(default)]
    pub restatement: Option<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct File {
    restatement: Vec<String>,
    report_types: Vec<AdsReportType>,
    column_types: BTreeMap<String, String>,
}

fn catalog() -> &'static File {
    static CATALOG: OnceLock<File> = OnceLock::new();
    CATALOG.get_or_init(|| {
        // A unit test reads the same text, so a broken file never ships.
        serde_json::from_str(BUILTIN).unwrap_or_else(|e| panic!("ads_report_types.json: {e}"))
    })
}

/// A report type by `reportTypeId`.
pub fn report_type(report_type_id: &str) -> Option<&'static AdsReportType> {
    catalog()
        .report_types
        .iter()
        .find(|t| t.report_type_id == report_type_id)
}

/// Every report type sp-ingest knows.
pub fn report_types() -> &'static [AdsReportType] {
    &catalog().report_types
}

/// Every `reportTypeId` sp-ingest knows, for messages.
pub fn report_type_ids() -> Vec<&'static str> {
    catalog()
        .report_types
        .iter()
        .map(|t| t.report_type_id.as_str())
        .collect()
}

/// A column's type as Amazon documents it (`decimal`, `integer`, `string`).
pub fn column_type(column: &str) -> Option<&'static str> {
    catalog().column_types.get(column).map(String::as_str)
}

impl AdsReportType {
    /// The ages after a day at which Amazon restates its figures (`P1D`, `P7D`, `P28D`).
    pub fn restatement(&self) -> &[String] {
        self.restatement
            .as_deref()
            .unwrap_or(&catalog().restatement)
    }

    /// The type's rules in the catalog's terms: stored as JSON Lines, windows older than
    /// the retention recorded expired, restated as Amazon restates it. Longer windows
    /// are split rather than refused, so no longest window is set here.
    pub fn spec(&self, source: &Source) -> ReportTypeSpec {
        ReportTypeSpec {
            format: DocumentFormat::Jsonl,
            lookback_days: Some(self.retention_days),
            options: Some(BTreeMap::new()),
            restatement: self.restatement().to_vec(),
            listed: true,
            ..ReportTypeSpec::generic(source, &self.report_type_id)
        }
    }

    /// The columns available with `group_by`: the base ones and each group's own.
    pub fn columns_for(&self, group_by: &[String]) -> Vec<&str> {
        let mut columns: Vec<&str> = self.base_columns.iter().map(String::as_str).collect();
        for group in group_by.iter().filter_map(|g| self.group_by.get(g)) {
            columns.extend(group.columns.iter().map(String::as_str));
        }
        columns.sort_unstable();
        columns.dedup();
        columns
    }
}

fn listed(items: impl IntoIterator<Item = impl AsRef<str>>) -> String {
    items
        .into_iter()
        .map(|i| i.as_ref().to_owned())
        .collect::<Vec<_>>()
        .join(", ")
}

impl AdsReportSpec {
    /// Everything wrong with this config for `report_type_id`, at once.
    pub fn check(&self, report_type_id: &str) -> Vec<AdsProblem> {
        let Some(rt) = report_type(report_type_id) else {
            return vec![problem(
                "report_type",
                format!(
                    "`{report_type_id}` is not an Amazon Ads report type sp-ingest knows; use one of {}",
                    listed(report_type_ids())
                ),
            )];
        };
        let mut problems = Vec::new();
        if self.group_by.is_empty() {
            problems.push(problem(
                "ads.group_by",
                format!(
                    "name at least one; {report_type_id} takes {}",
                    listed(rt.group_by.keys())
                ),
            ));
        }
        for (i, group) in self.group_by.iter().enumerate() {
            if !rt.group_by.contains_key(group) {
                problems.push(problem(
                    format!("ads.group_by[{i}]"),
                    format!(
                        "{report_type_id} cannot be grouped by `{group}`; it takes {}",
                        listed(rt.group_by.keys())
                    ),
                ));
            }
        }
        let available = rt.columns_for(&self.group_by);
        for (i, column) in self.columns.iter().enumerate() {
            if !available.contains(&column.as_str()) {
                problems.push(problem(
                    format!("ads.columns[{i}]"),
                    format!(
                        "`{column}` is not a column of {report_type_id} grouped by {}; its columns are {}",
                        listed(&self.group_by),
                        listed(&available)
                    ),
                ));
            }
        }
        if !rt.time_units.contains(&self.time_unit) {
            problems.push(problem(
                "ads.time_unit",
                format!(
                    "{report_type_id} takes {}",
                    listed(rt.time_units.iter().map(|t| t.as_str()))
                ),
            ));
        }
        // Amazon refuses `date` with SUMMARY and `startDate`/`endDate` with DAILY.
        // <https://advertising.amazon.com/API/docs/en-us/guides/reporting/v3/get-started#timeunit-and-supported-columns>
        let has = |name: &str| self.columns.iter().any(|c| c == name);
        match self.time_unit {
            TimeUnit::Daily if !has("date") => problems.push(problem(
                "ads.columns",
                "a DAILY report needs the `date` column (a row per day); add it",
            )),
            TimeUnit::Daily if has("startDate") || has("endDate") => problems.push(problem(
                "ads.columns",
                "startDate and endDate are not columns of a DAILY report; use date",
            )),
            TimeUnit::Summary if has("date") => problems.push(problem(
                "ads.columns",
                "date is not a column of a SUMMARY report; use startDate and endDate",
            )),
            _ => {}
        }
        for (i, filter) in self.filters.iter().enumerate() {
            let field = format!("ads.filters[{i}]");
            // A filter must be allowed by every groupBy of the report.
            let allowed: Vec<Option<&Vec<String>>> = self
                .group_by
                .iter()
                .filter_map(|g| rt.group_by.get(g))
                .map(|g| g.filters.get(&filter.field))
                .collect();
            match allowed.first() {
                Some(Some(values)) if allowed.iter().all(Option::is_some) => {
                    for value in &filter.values {
                        if !values.contains(value) {
                            problems.push(problem(
                                format!("{field}.values"),
                                format!(
                                    "`{value}` is not a value of {}; use {}",
                                    filter.field,
                                    listed(values.iter())
                                ),
                            ));
                        }
                    }
                }
                _ => problems.push(problem(
                    format!("{field}.field"),
                    format!(
                        "{report_type_id} grouped by {} cannot be filtered on `{}`",
                        listed(&self.group_by),
                        filter.field
                    ),
                )),
            }
        }
        problems
    }

    /// createReport's body for the days `start..=end` (`name` shows in Amazon's console).
    pub fn request_body(
        &self,
        rt: &AdsReportType,
        name: &str,
        start: NaiveDate,
        end: NaiveDate,
    ) -> Value {
        let mut configuration = json!({
            "adProduct": rt.ad_product,
            "reportTypeId": rt.report_type_id,
            "groupBy": self.group_by,
            "columns": self.columns,
            "timeUnit": self.time_unit,
            "format": "GZIP_JSON",
        });
        if !self.filters.is_empty() {
            configuration["filters"] = json!(self.filters);
        }
        json!({
            "name": name,
            "startDate": start.format("%Y-%m-%d").to_string(),
            "endDate": end.format("%Y-%m-%d").to_string(),
            "configuration": configuration,
        })
    }
}

/// How the report Amazon called a duplicate (425) differs from `body`, the one asked
/// for: its days, report type, time unit, groupBy, columns or filters (order aside);
/// `None` when it is the same request. Amazon has flagged a SUMMARY request as a
/// duplicate of a DAILY one, so the 425's report is waited on only after this check
/// (<https://github.com/airbytehq/airbyte/issues/61652>).
pub fn duplicate_difference(
    body: &Value,
    start_date: Option<&str>,
    end_date: Option<&str>,
    configuration: &Value,
) -> Option<String> {
    let mut differences = Vec::new();
    for (name, theirs) in [("startDate", start_date), ("endDate", end_date)] {
        let ours = body[name].as_str();
        if ours != theirs {
            differences.push(format!(
                "{name} {} instead of {}",
                theirs.unwrap_or("none"),
                ours.unwrap_or("none")
            ));
        }
    }
    let ours = &body["configuration"];
    for field in [
        "adProduct",
        "reportTypeId",
        "timeUnit",
        "groupBy",
        "columns",
        "filters",
    ] {
        if normalized(&ours[field]) != normalized(&configuration[field]) {
            differences.push(format!(
                "{field} {} instead of {}",
                configuration[field], ours[field]
            ));
        }
    }
    (!differences.is_empty()).then(|| differences.join(", "))
}

/// A value with its arrays' elements sorted, so the order of columns or filters does not
/// make two requests different.
fn normalized(value: &Value) -> Value {
    match value {
        Value::Array(items) => {
            let mut items: Vec<Value> = items.iter().map(normalized).collect();
            items.sort_by_key(Value::to_string);
            Value::Array(items)
        }
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), normalized(v)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// What is wrong with requesting the days `start..=end` of `rt` on `today`: a window
/// longer than the type's longest, or a start older than its retention.
pub fn window_problems(
    rt: &AdsReportType,
    start: NaiveDate,
    end: NaiveDate,
    today: NaiveDate,
) -> Vec<AdsProblem> {
    let mut problems = Vec::new();
    let days = (end - start).num_days() + 1;
    if days > rt.max_window_days {
        problems.push(problem(
            "window",
            format!(
                "{days} days is longer than {} allows ({} days per request); it is split into requests of at most {} days",
                rt.report_type_id, rt.max_window_days, rt.max_window_days
            ),
        ));
    }
    let oldest = today - TimeDelta::days(rt.retention_days);
    if start < oldest {
        problems.push(problem(
            "window",
            format!(
                "{start} is older than the {} days Amazon keeps {} data (the oldest day is {oldest})",
                rt.retention_days, rt.report_type_id
            ),
        ));
    }
    problems
}

/// The days `start..=end` as consecutive windows of at most `max_days` each, oldest first.
pub fn split_days(start: NaiveDate, end: NaiveDate, max_days: i64) -> Vec<(NaiveDate, NaiveDate)> {
    let mut windows = Vec::new();
    let mut from = start;
    while from <= end && max_days > 0 {
        let to = (from + TimeDelta::days(max_days - 1)).min(end);
        windows.push((from, to));
        from = to + TimeDelta::days(1);
    }
    windows
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(text: &str) -> NaiveDate {
        text.parse().unwrap()
    }

    fn campaigns() -> AdsReportSpec {
        serde_json::from_value(json!({
            "group_by": ["campaign"],
            "columns": ["date", "campaignId", "campaignName", "impressions", "clicks", "cost", "purchases7d", "sales7d"],
            "filters": [{"field": "campaignStatus", "values": ["ENABLED"]}],
            "time_unit": "DAILY"
        }))
        .unwrap()
    }

    #[test]
    fn the_catalog_reads_and_knows_the_common_report_types() {
        for id in [
            "spCampaigns",
            "spTargeting",
            "spSearchTerm",
            "spAdvertisedProduct",
            "spPurchasedProduct",
            "sbPurchasedProduct",
            "sbAdGroup",
            "sdTargeting",
        ] {
            let rt = report_type(id).unwrap_or_else(|| panic!("{id}"));
            assert!(
                !rt.base_columns.is_empty() && !rt.group_by.is_empty(),
                "{id}"
            );
        }
        let sp = report_type("spCampaigns").unwrap();
        assert_eq!((sp.max_window_days, sp.retention_days), (31, 95));
        assert_eq!(sp.ad_product, "SPONSORED_PRODUCTS");
        assert_eq!(column_type("impressions"), Some("integer"));
        assert_eq!(column_type("cost"), Some("decimal"));
    }

    #[test]
    fn a_valid_config_builds_amazons_request_body() {
        let spec = campaigns();
        assert_eq!(spec.check("spCampaigns"), vec![]);
        let body = spec.request_body(
            report_type("spCampaigns").unwrap(),
            "sp-ingest campaigns 2026-11-01",
            day("2026-11-01"),
            day("2026-11-01"),
        );
        assert_eq!(body["configuration"]["adProduct"], "SPONSORED_PRODUCTS");
        assert_eq!(body["configuration"]["format"], "GZIP_JSON");
        assert_eq!(body["configuration"]["timeUnit"], "DAILY");
        assert_eq!(body["startDate"], "2026-11-01");
        assert_eq!(
            body["configuration"]["filters"][0]["field"],
            "campaignStatus"
        );
    }

    #[test]
    fn each_wrong_field_is_named_with_what_is_allowed() {
        let mut spec = campaigns();
        spec.columns.push("keywordId".into());
        spec.columns.retain(|c| c != "date");
        spec.group_by.push("adGroup".into());
        spec.group_by.push("keyword".into());
        let problems = spec.check("spCampaigns");
        let text: Vec<String> = problems.iter().map(ToString::to_string).collect();
        let has = |field: &str, words: &str| {
            assert!(
                text.iter()
                    .any(|t| t.starts_with(&format!("{field}:")) && t.contains(words)),
                "{field} / {words}: {text:#?}"
            )
        };
        has("ads.group_by[2]", "cannot be grouped by `keyword`");
        has(
            "ads.columns[7]",
            "`keywordId` is not a column of spCampaigns",
        );
        has("ads.columns", "a DAILY report needs the `date` column");
        has(
            "ads.filters[0].field",
            "cannot be filtered on `campaignStatus`",
        );

        let mut summary = campaigns();
        summary.time_unit = TimeUnit::Summary;
        summary.filters[0].values = vec!["DELETED".into()];
        let text: Vec<String> = summary
            .check("spCampaigns")
            .iter()
            .map(ToString::to_string)
            .collect();
        assert!(
            text.iter()
                .any(|t| t.contains("date is not a column of a SUMMARY report")),
            "{text:?}"
        );
        assert!(
            text.iter().any(|t| t.starts_with("ads.filters[0].values:")
                && t.contains("ENABLED, PAUSED, ARCHIVED")),
            "{text:?}"
        );
        let unknown = campaigns().check("spCampaign");
        assert_eq!(unknown[0].field, "report_type");
        assert!(unknown[0].problem.contains("spCampaigns"), "{unknown:?}");
    }

    #[test]
    fn a_duplicate_is_ours_only_with_the_same_days_and_configuration() {
        let rt = report_type("spCampaigns").unwrap();
        let body = campaigns().request_body(rt, "a", day("2026-11-01"), day("2026-11-07"));
        let mut theirs = body["configuration"].clone();
        theirs["columns"].as_array_mut().unwrap().reverse();
        assert_eq!(
            duplicate_difference(&body, Some("2026-11-01"), Some("2026-11-07"), &theirs),
            None,
            "column order does not matter"
        );
        theirs["timeUnit"] = "SUMMARY".into();
        let difference =
            duplicate_difference(&body, Some("2026-11-01"), Some("2026-11-08"), &theirs).unwrap();
        assert!(
            difference.contains("endDate 2026-11-08 instead of 2026-11-07")
                && difference.contains(r#"timeUnit "SUMMARY" instead of "DAILY""#),
            "{difference}"
        );
    }

    #[test]
    fn windows_over_31_days_are_split_and_older_than_retention_named() {
        let rt = report_type("spCampaigns").unwrap();
        let today = day("2026-11-29");
        assert!(window_problems(rt, day("2026-11-01"), day("2026-11-28"), today).is_empty());
        let long = window_problems(rt, day("2026-10-01"), day("2026-11-09"), today);
        assert!(
            long[0]
                .problem
                .starts_with("40 days is longer than spCampaigns allows"),
            "{long:?}"
        );
        let old = window_problems(rt, day("2026-08-01"), day("2026-08-01"), today);
        assert!(old[0].problem.contains("older than the 95 days"), "{old:?}");
        assert_eq!(
            split_days(day("2026-10-01"), day("2026-11-09"), 31),
            vec![
                (day("2026-10-01"), day("2026-10-31")),
                (day("2026-11-01"), day("2026-11-09"))
            ]
        );
    }
}
