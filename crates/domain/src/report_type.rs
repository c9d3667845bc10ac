//! The rules of one report type: who may request it, its document format, the window and
//! options Amazon accepts. The entries themselves are data, in `catalog.json`
//! ([`crate::catalog`]); SP-API types it does not list (SP-API has hundreds) get the
//! generic rules of [`ReportTypeSpec::generic`].

use std::collections::BTreeMap;

use chrono::TimeDelta;
use serde::{Deserialize, Serialize};

use crate::request::Source;

/// The file format of a report document, which sets the raw object's extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DocumentFormat {
    /// Tab-separated flat file with a header line.
    Tsv,
    /// One JSON document.
    Json,
    /// JSON Lines (Data Kiosk).
    Jsonl,
    /// Comma-separated with a header line (AMC results).
    Csv,
}

impl DocumentFormat {
    /// The file extension of raw objects in this format.
    pub const fn extension(self) -> &'static str {
        match self {
            DocumentFormat::Tsv => "tsv",
            DocumentFormat::Json => "json",
            DocumentFormat::Jsonl => "jsonl",
            DocumentFormat::Csv => "csv",
        }
    }
}

/// Which kind of selling partner account may request a report type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AccountKind {
    /// A seller (Seller Central).
    Seller,
    /// A vendor (Vendor Central).
    Vendor,
}

/// What sp-ingest knows about one report type of a source: an entry of the catalog.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ReportTypeSpec {
    /// The source the type belongs to.
    pub source: Source,
    /// The report type (SP-API `reportType`).
    pub name: String,
    /// Format of its document.
    pub format: DocumentFormat,
    /// Who may request it; `None` = both kinds.
    #[serde(default)]
    pub audience: Option<AccountKind>,
    /// Amazon answers FATAL when more than one marketplace is given.
    #[serde(default)]
    pub one_marketplace: bool,
    /// Longest data window per request, where Amazon sets one.
    #[serde(default)]
    pub max_window_days: Option<i64>,
    /// How far back a window may start, where Amazon sets a limit; older windows are
    /// recorded expired instead of requested.
    #[serde(default)]
    pub lookback_days: Option<i64>,
    /// Trailing windows each run covers, where it differs from the source's `catchUp`.
    #[serde(default)]
    pub catch_up: Option<u32>,
    /// How long Amazon keeps this type's reports, where shorter than the source's
    /// `retention`.
    #[serde(default)]
    pub retention_days: Option<i64>,
    /// False for types Amazon generates on its own (they cannot be created).
    #[serde(default = "yes")]
    pub requestable: bool,
    /// The options (`reportOptions`) it accepts, each with its allowed values (empty: any
    /// value); `None` when not known, so any option passes.
    #[serde(default)]
    pub options: Option<BTreeMap<String, Vec<String>>>,
    /// Quotas and quirks an operator should know, with their source.
    #[serde(default)]
    pub quota: Option<String>,
    /// The ages after a window's end at which Amazon restates its figures, ISO 8601
    /// (`P7D`): a landed window is requested again once each passes. Empty: final once
    /// landed.
    #[serde(default)]
    pub restatement: Vec<String>,
    /// Amazon's hidden per-application quota on createReport for this type, ISO 8601
    /// (`PT15M`: one request per 15 minutes per application across all its sellers);
    /// the shared rate limiter keeps a bucket for it.
    #[serde(default)]
    pub app_quota: Option<String>,
    /// False for the rules [`ReportTypeSpec::generic`] guessed.
    #[serde(skip, default = "yes")]
    pub listed: bool,
}

fn yes() -> bool {
    true
}

impl ReportTypeSpec {
    /// Rules for an SP-API type the catalog does not list: flat files (`GET_FLAT_FILE_*`,
    /// `*_DATA`, `*_FLAT_FILE*`) are TSV, everything else JSON; no limits are assumed.
    pub fn generic(source: &Source, report_type: &str) -> ReportTypeSpec {
        let flat = report_type.contains("FLAT_FILE") || report_type.ends_with("_DATA");
        ReportTypeSpec {
            source: source.clone(),
            name: report_type.to_owned(),
            format: if flat {
                DocumentFormat::Tsv
            } else {
                DocumentFormat::Json
            },
            audience: None,
            one_marketplace: false,
            max_window_days: None,
            lookback_days: None,
            catch_up: None,
            retention_days: None,
            requestable: true,
            options: None,
            quota: None,
            restatement: Vec::new(),
            app_quota: None,
            listed: false,
        }
    }

    /// The hidden per-application createReport quota as a usage plan, where Amazon has
    /// one (catalog `appQuota`; checked when the catalog loads).
    pub fn app_quota_plan(&self) -> Option<crate::UsagePlan> {
        let period = crate::schedule::parse_duration(self.app_quota.as_deref()?).ok()?;
        Some(crate::rate_limit::one_per(period.to_std().ok()?))
    }

    /// The longest window as a duration, where one is set.
    pub fn max_window(&self) -> Option<TimeDelta> {
        self.max_window_days.map(TimeDelta::days)
    }

    /// What is wrong with `option = value` for this type, if anything.
    pub fn option_problem(&self, option: &str, value: &str) -> Option<String> {
        let allowed = self.options.as_ref()?;
        let described = || {
            allowed
                .iter()
                .map(|(name, values)| match values.is_empty() {
                    true => name.clone(),
                    false => format!("{name} ({})", values.join("|")),
                })
                .collect::<Vec<_>>()
                .join(", ")
        };
        match allowed.get(option) {
            None if allowed.is_empty() => Some(format!("{} takes no reportOptions", self.name)),
            None => Some(format!(
                "{} takes no option `{option}`; it takes {}",
                self.name,
                described()
            )),
            Some(values) if !values.is_empty() && !values.iter().any(|v| v == value) => {
                Some(format!(
                    "`{value}` is not a value of {option} for {}; allowed: {}",
                    self.name,
                    values.join(", ")
                ))
            }
            Some(_) => None,
        }
    }
}

/// Whether a string has the shape of an SP-API report type (`GET_` + upper snake case).
pub fn is_report_type_name(s: &str) -> bool {
    s.len() > 4
        && s.starts_with("GET_")
        && s.bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unlisted_types_get_generic_rules_by_name() {
        let source = Source::sp_api_reports();
        let flat = ReportTypeSpec::generic(&source, "GET_FLAT_FILE_RETURNS_DATA_BY_RETURN_DATE");
        assert!(!flat.listed);
        assert_eq!(flat.format, DocumentFormat::Tsv);
        assert_eq!(
            ReportTypeSpec::generic(&source, "GET_SOMETHING_NEW_REPORT").format,
            DocumentFormat::Json
        );
        assert_eq!(flat.option_problem("anything", "goes"), None);
    }

    #[test]
    fn report_type_names_are_upper_snake_case_with_get_prefix() {
        assert!(is_report_type_name("GET_SALES_AND_TRAFFIC_REPORT"));
        assert!(!is_report_type_name("get_sales_and_traffic_report"));
        assert!(!is_report_type_name("GET_"));
        assert!(!is_report_type_name("GET_X/Y"));
    }
}
