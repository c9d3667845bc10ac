//! The catalog: what sp-ingest knows about each source and each report type, as data.
//!
//! `catalog.json` (beside this crate's `Cargo.toml`) lists the sources — which API each
//! speaks, whether its requests complete by notification or must be polled, how long a
//! request may take — and the report types: format, who may request them, window and
//! lookback limits, options, quotas. The planner and the config validation read it.
//! Adding a source means catalog entries, one client module and, when it completes in a
//! new way, a Choice branch in the state machine — not a second state machine.

use std::collections::BTreeSet;
use std::sync::OnceLock;

use chrono::TimeDelta;
use serde::{Deserialize, Serialize};

use crate::report_type::ReportTypeSpec;
use crate::request::Source;
use crate::schedule::parse_duration;

/// The catalog compiled into every binary.
const BUILTIN: &str = include_str!("../catalog.json");

/// The API family a source speaks: which client module serves it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Api {
    /// Selling Partner API Reports 2021-06-30.
    SpApiReports,
    /// Selling Partner API Data Kiosk 2023-11-15: the report type names a dataset and
    /// the report's `data_kiosk` config its query.
    DataKiosk,
    /// Amazon Ads reporting v3: the report type is a `reportTypeId` of
    /// `ads_report_types.json` ([`crate::ads`]), the report's `ads` config its columns;
    /// requested per advertising profile of the configured Ads accounts.
    AmazonAds,
    /// Amazon Marketing Cloud workflow executions: the report type is a workflow id (a
    /// `.sql` file synced to the instance), the report's `amc` config its instance.
    AmazonMarketingCloud,
}

/// How the pipeline learns that a request finished.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Completion {
    /// Amazon sends a notification; polling only when it does not come in time.
    Notification,
    /// No notification exists: poll from the start.
    Polling,
}

/// One source of the catalog.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SourceSpec {
    /// Its name in config, request keys and the `source=` partition.
    pub name: Source,
    /// The API it speaks.
    pub api: Api,
    /// What it is.
    pub description: String,
    /// How its requests complete.
    pub completion: Completion,
    /// The notification type announcing a finished request, for notification sources.
    #[serde(default)]
    pub notification_type: Option<String>,
    /// How long one request may take before it is given up, ISO 8601 (`PT6H`).
    pub patience: String,
    /// How many trailing windows each run covers, so a failed or skipped window is
    /// requested again by the next runs (a report type or the config may say otherwise).
    #[serde(default = "latest_only")]
    pub catch_up: u32,
    /// How long Amazon keeps a request's result, ISO 8601 (`P90D`); an older one is
    /// requested anew instead of reused. `None` when not known.
    #[serde(default)]
    pub retention: Option<String>,
    /// Whether report types the catalog does not list are accepted with generic rules.
    #[serde(default)]
    pub unlisted_types: bool,
    /// Quotas an operator should know, with their source.
    #[serde(default)]
    pub quota: Option<String>,
}

fn latest_only() -> u32 {
    1
}

impl SourceSpec {
    /// [`SourceSpec::patience`] as a duration (checked when the catalog is read).
    pub fn patience(&self) -> TimeDelta {
        parse_duration(&self.patience).unwrap_or_else(|_| TimeDelta::hours(6))
    }

    /// [`SourceSpec::retention`] as a duration (checked when the catalog is read).
    pub fn retention(&self) -> Option<TimeDelta> {
        self.retention
            .as_deref()
            .and_then(|r| parse_duration(r).ok())
    }
}

/// Sources and report types.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Catalog {
    sources: Vec<SourceSpec>,
    report_types: Vec<ReportTypeSpec>,
}

impl Catalog {
    /// The catalog shipped with sp-ingest (`catalog.json`).
    pub fn builtin() -> &'static Catalog {
        static CATALOG: OnceLock<Catalog> = OnceLock::new();
        CATALOG.get_or_init(|| {
            // A unit test reads the same text, so a broken catalog never ships.
            Catalog::parse(BUILTIN).unwrap_or_else(|e| panic!("catalog.json: {e}"))
        })
    }

    /// Reads and checks a catalog: durations parse, every report type's source is
    /// listed, no source or type is listed twice.
    pub fn parse(text: &str) -> Result<Catalog, String> {
        let catalog: Catalog = serde_json::from_str(text).map_err(|e| e.to_string())?;
        catalog.check()?;
        Ok(catalog)
    }

    /// This catalog with the sources and types of `more` (JSON of the same shape) added.
    pub fn extended(&self, more: &str) -> Result<Catalog, String> {
        let more: Catalog = serde_json::from_str(more).map_err(|e| e.to_string())?;
        let mut catalog = self.clone();
        catalog.sources.extend(more.sources);
        catalog.report_types.extend(more.report_types);
        catalog.check()?;
        Ok(catalog)
    }

    fn check(&self) -> Result<(), String> {
        let mut names = BTreeSet::new();
        for source in &self.sources {
            if !names.insert(&source.name) {
                return Err(format!("source `{}` is listed twice", source.name));
            }
            parse_duration(&source.patience)
                .map_err(|e| format!("source `{}`, patience: {e}", source.name))?;
            if let Some(retention) = &source.retention {
                parse_duration(retention)
                    .map_err(|e| format!("source `{}`, retention: {e}", source.name))?;
            }
            if source.catch_up == 0 {
                return Err(format!(
                    "source `{}`: catchUp must be at least 1 (the latest window)",
                    source.name
                ));
            }
        }
        let mut types = BTreeSet::new();
        for spec in &self.report_types {
            if !names.contains(&spec.source) {
                return Err(format!(
                    "report type {} names the unknown source `{}`",
                    spec.name, spec.source
                ));
            }
            if !types.insert((&spec.source, &spec.name)) {
                return Err(format!("report type {} is listed twice", spec.name));
            }
            for age in &spec.restatement {
                parse_duration(age)
                    .map_err(|e| format!("report type {}, restatement: {e}", spec.name))?;
            }
            if let Some(quota) = &spec.app_quota {
                parse_duration(quota)
                    .map_err(|e| format!("report type {}, appQuota: {e}", spec.name))?;
            }
        }
        Ok(())
    }

    /// A source by name.
    pub fn source(&self, source: &Source) -> Option<&SourceSpec> {
        self.sources.iter().find(|s| s.name == *source)
    }

    /// The names of every source, for messages.
    pub fn source_names(&self) -> String {
        self.sources
            .iter()
            .map(|s| s.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The rules for a report type of a source: its entry, or generic rules when the
    /// source accepts unlisted types; `None` when the source or the type is unknown.
    pub fn report_type(&self, source: &Source, report_type: &str) -> Option<ReportTypeSpec> {
        match self.source(source)?.api {
            Api::AmazonAds => {
                return crate::ads::report_type(report_type).map(|rt| rt.spec(source));
            }
            // Any workflow the user wrote: results are CSV files.
            Api::AmazonMarketingCloud => {
                return crate::amc::is_workflow_id(report_type).then(|| ReportTypeSpec {
                    format: crate::report_type::DocumentFormat::Csv,
                    options: Some(std::collections::BTreeMap::new()),
                    listed: true,
                    ..ReportTypeSpec::generic(source, report_type)
                });
            }
            Api::SpApiReports | Api::DataKiosk => {}
        }
        let listed = self
            .report_types
            .iter()
            .find(|t| t.source == *source && t.name == report_type);
        match listed {
            Some(spec) => Some(spec.clone()),
            None => self
                .source(source)
                .filter(|s| s.unlisted_types)
                .map(|_| ReportTypeSpec::generic(source, report_type)),
        }
    }

    /// The report types listed for a source, for messages.
    pub fn report_type_names(&self, source: &Source) -> String {
        match self.source(source).map(|s| s.api) {
            Some(Api::AmazonAds) => return crate::ads::report_type_ids().join(", "),
            Some(Api::AmazonMarketingCloud) => {
                return "the workflow ids of your amc/*.sql files (letters, digits, `_`, `-`)"
                    .to_owned();
            }
            _ => {}
        }
        self.report_types
            .iter()
            .filter(|t| t.source == *source)
            .map(|t| t.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report_type::DocumentFormat;

    #[test]
    fn the_builtin_catalog_reads_and_has_its_rules() {
        let catalog = Catalog::parse(BUILTIN).unwrap();
        let reports = Source::sp_api_reports();
        let spec = catalog.source(&reports).unwrap();
        assert_eq!(spec.completion, Completion::Notification);
        assert_eq!(spec.patience(), TimeDelta::hours(6));
        assert_eq!(
            (spec.catch_up, spec.retention()),
            (7, Some(TimeDelta::days(90)))
        );
        let snt = catalog
            .report_type(&reports, "GET_SALES_AND_TRAFFIC_REPORT")
            .unwrap();
        assert!(snt.listed && snt.one_marketplace);
        assert_eq!(snt.format, DocumentFormat::Json);
        assert!(snt.quota.unwrap().contains("15 minutes"));
        let orders = catalog
            .report_type(
                &reports,
                "GET_FLAT_FILE_ALL_ORDERS_DATA_BY_ORDER_DATE_GENERAL",
            )
            .unwrap();
        assert_eq!(orders.max_window(), Some(TimeDelta::days(30)));
        assert_eq!(orders.retention_days, Some(30));
        assert_eq!(orders.format.extension(), "tsv");
        assert!(
            !catalog
                .report_type(&reports, "GET_V2_SETTLEMENT_REPORT_DATA_FLAT_FILE_V2")
                .unwrap()
                .requestable
        );
        let unlisted = catalog
            .report_type(&reports, "GET_FLAT_FILE_RETURNS_DATA_BY_RETURN_DATE")
            .unwrap();
        assert!(!unlisted.listed);
    }

    #[test]
    fn options_are_checked_against_the_catalog() {
        let snt = Catalog::builtin()
            .report_type(&Source::sp_api_reports(), "GET_SALES_AND_TRAFFIC_REPORT")
            .unwrap();
        assert_eq!(snt.option_problem("dateGranularity", "WEEK"), None);
        let problem = snt.option_problem("dateGranularity", "YEAR").unwrap();
        assert!(problem.contains("allowed: DAY, WEEK, MONTH"), "{problem}");
        let problem = snt.option_problem("reportPeriod", "DAY").unwrap();
        assert!(
            problem.contains("takes no option `reportPeriod`")
                && problem.contains("dateGranularity (DAY|WEEK|MONTH)"),
            "{problem}"
        );
    }

    #[test]
    fn a_source_is_added_as_data() {
        let catalog = Catalog::builtin()
            .extended(
                r#"{"sources": [{"name": "fake-polled", "api": "sp-api-reports", "description": "a source without notifications",
                     "completion": "POLLING", "patience": "PT2H"}],
                    "reportTypes": [{"source": "fake-polled", "name": "GET_FAKE_REPORT", "format": "jsonl"}]}"#,
            )
            .unwrap();
        let fake = Source::new("fake-polled");
        assert_eq!(
            catalog.source(&fake).unwrap().completion,
            Completion::Polling
        );
        assert_eq!(
            catalog
                .report_type(&fake, "GET_FAKE_REPORT")
                .unwrap()
                .format,
            DocumentFormat::Jsonl
        );
        assert_eq!(
            catalog.report_type(&fake, "GET_OTHER_REPORT"),
            None,
            "unlisted types only where the source accepts them"
        );
    }

    #[test]
    fn a_broken_catalog_names_the_problem() {
        let err = Catalog::builtin()
            .extended(r#"{"sources": [], "reportTypes": [{"source": "nowhere", "name": "GET_X", "format": "json"}]}"#)
            .unwrap_err();
        assert!(err.contains("unknown source `nowhere`"), "{err}");
        let err = Catalog::parse(r#"{"sources": [{"name": "s", "api": "sp-api-reports", "description": "", "completion": "POLLING", "patience": "six hours"}], "reportTypes": []}"#).unwrap_err();
        assert!(err.contains("source `s`, patience"), "{err}");
    }
}
