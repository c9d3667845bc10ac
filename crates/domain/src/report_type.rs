//! What sp-ingest knows about each SP-API report type: who may request it, its document
//! format and the window Amazon accepts.
//!
//! Sources: `schemas/reports/*.json`, <https://developer-docs.amazon.com/sp-api/docs/report-type-values-order>
//! and api-facts.md §3.5. Report types not listed here are allowed (SP-API has hundreds);
//! they get the generic rules of [`ReportTypeSpec::generic`].

use chrono::TimeDelta;
use serde::{Deserialize, Serialize};

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
}

impl DocumentFormat {
    /// The file extension of raw objects in this format.
    pub const fn extension(self) -> &'static str {
        match self {
            DocumentFormat::Tsv => "tsv",
            DocumentFormat::Json => "json",
            DocumentFormat::Jsonl => "jsonl",
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

/// The rules Amazon applies to one report type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReportTypeSpec {
    /// The reportType value.
    pub name: &'static str,
    /// Format of its document.
    pub format: DocumentFormat,
    /// Who may request it; `None` = both kinds.
    pub audience: Option<AccountKind>,
    /// Amazon answers FATAL when more than one marketplace is given.
    pub one_marketplace: bool,
    /// Longest data window per request, where Amazon sets one.
    pub max_window_days: Option<i64>,
    /// False for types Amazon generates on its own (they cannot be created).
    pub requestable: bool,
}

const fn spec(
    name: &'static str,
    format: DocumentFormat,
    audience: Option<AccountKind>,
    one_marketplace: bool,
    max_window_days: Option<i64>,
) -> ReportTypeSpec {
    ReportTypeSpec {
        name,
        format,
        audience,
        one_marketplace,
        max_window_days,
        requestable: true,
    }
}

use AccountKind::{Seller, Vendor};
use DocumentFormat::{Json, Tsv};

/// The report types sp-ingest has rules for.
pub const KNOWN_REPORT_TYPES: &[ReportTypeSpec] = &[
    spec(
        "GET_SALES_AND_TRAFFIC_REPORT",
        Json,
        Some(Seller),
        true,
        None,
    ),
    spec(
        "GET_BRAND_ANALYTICS_MARKET_BASKET_REPORT",
        Json,
        None,
        true,
        None,
    ),
    spec(
        "GET_BRAND_ANALYTICS_SEARCH_TERMS_REPORT",
        Json,
        None,
        true,
        None,
    ),
    spec(
        "GET_BRAND_ANALYTICS_REPEAT_PURCHASE_REPORT",
        Json,
        None,
        true,
        None,
    ),
    spec(
        "GET_BRAND_ANALYTICS_SEARCH_CATALOG_PERFORMANCE_REPORT",
        Json,
        None,
        true,
        None,
    ),
    spec(
        "GET_BRAND_ANALYTICS_SEARCH_QUERY_PERFORMANCE_REPORT",
        Json,
        None,
        true,
        None,
    ),
    spec("GET_VENDOR_SALES_REPORT", Json, Some(Vendor), true, None),
    spec("GET_VENDOR_TRAFFIC_REPORT", Json, Some(Vendor), true, None),
    spec(
        "GET_VENDOR_INVENTORY_REPORT",
        Json,
        Some(Vendor),
        true,
        None,
    ),
    spec(
        "GET_VENDOR_NET_PURE_PRODUCT_MARGIN_REPORT",
        Json,
        Some(Vendor),
        true,
        None,
    ),
    spec(
        "GET_VENDOR_FORECASTING_REPORT",
        Json,
        Some(Vendor),
        true,
        None,
    ),
    spec(
        "GET_VENDOR_REAL_TIME_SALES_REPORT",
        Json,
        Some(Vendor),
        true,
        None,
    ),
    spec(
        "GET_VENDOR_REAL_TIME_TRAFFIC_REPORT",
        Json,
        Some(Vendor),
        true,
        None,
    ),
    // "end ≤ 24 h after start" (vendorRealTimeInventoryReport.json).
    spec(
        "GET_VENDOR_REAL_TIME_INVENTORY_REPORT",
        Json,
        Some(Vendor),
        true,
        Some(1),
    ),
    // Order reports: at most 30 days per request (api-facts.md §3.5, unverified by Amazon).
    spec(
        "GET_FLAT_FILE_ALL_ORDERS_DATA_BY_ORDER_DATE_GENERAL",
        Tsv,
        Some(Seller),
        false,
        Some(30),
    ),
    spec(
        "GET_FLAT_FILE_ALL_ORDERS_DATA_BY_LAST_UPDATE_GENERAL",
        Tsv,
        Some(Seller),
        false,
        Some(30),
    ),
    spec(
        "GET_MERCHANT_LISTINGS_ALL_DATA",
        Tsv,
        Some(Seller),
        true,
        None,
    ),
    spec(
        "GET_FBA_MYI_UNSUPPRESSED_INVENTORY_DATA",
        Tsv,
        Some(Seller),
        false,
        None,
    ),
    // Amazon generates settlement reports itself; createReport is refused
    // (https://github.com/amzn/selling-partner-api-docs/issues/1033).
    ReportTypeSpec {
        name: "GET_V2_SETTLEMENT_REPORT_DATA_FLAT_FILE_V2",
        format: Tsv,
        audience: Some(Seller),
        one_marketplace: false,
        max_window_days: None,
        requestable: false,
    },
];

impl ReportTypeSpec {
    /// The rules for a report type: the known ones, or [`ReportTypeSpec::generic`].
    pub fn of(report_type: &str) -> ReportTypeSpec {
        KNOWN_REPORT_TYPES
            .iter()
            .copied()
            .find(|s| s.name == report_type)
            .unwrap_or_else(|| ReportTypeSpec::generic(report_type))
    }

    /// Rules for a type sp-ingest has none for: flat files (`GET_FLAT_FILE_*`,
    /// `*_DATA`, `*_FLAT_FILE*`) are TSV, everything else JSON; no limits are assumed.
    pub fn generic(report_type: &str) -> ReportTypeSpec {
        let flat = report_type.contains("FLAT_FILE") || report_type.ends_with("_DATA");
        ReportTypeSpec {
            name: "",
            format: if flat { Tsv } else { Json },
            audience: None,
            one_marketplace: false,
            max_window_days: None,
            requestable: true,
        }
    }

    /// Whether the type is in [`KNOWN_REPORT_TYPES`].
    pub fn is_known(&self) -> bool {
        !self.name.is_empty()
    }

    /// The longest window as a duration, where one is set.
    pub fn max_window(&self) -> Option<TimeDelta> {
        self.max_window_days.map(TimeDelta::days)
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
    fn known_types_have_their_rules() {
        let snt = ReportTypeSpec::of("GET_SALES_AND_TRAFFIC_REPORT");
        assert!(snt.is_known() && snt.one_marketplace);
        assert_eq!(snt.format, DocumentFormat::Json);
        let orders = ReportTypeSpec::of("GET_FLAT_FILE_ALL_ORDERS_DATA_BY_ORDER_DATE_GENERAL");
        assert_eq!(orders.max_window(), Some(TimeDelta::days(30)));
        assert_eq!(orders.format.extension(), "tsv");
        assert!(!ReportTypeSpec::of("GET_V2_SETTLEMENT_REPORT_DATA_FLAT_FILE_V2").requestable);
    }

    #[test]
    fn unknown_types_get_generic_rules_by_name() {
        let flat = ReportTypeSpec::of("GET_FLAT_FILE_RETURNS_DATA_BY_RETURN_DATE");
        assert!(!flat.is_known());
        assert_eq!(flat.format, DocumentFormat::Tsv);
        assert_eq!(
            ReportTypeSpec::of("GET_SOMETHING_NEW_REPORT").format,
            DocumentFormat::Json
        );
    }

    #[test]
    fn report_type_names_are_upper_snake_case_with_get_prefix() {
        assert!(is_report_type_name("GET_SALES_AND_TRAFFIC_REPORT"));
        assert!(!is_report_type_name("get_sales_and_traffic_report"));
        assert!(!is_report_type_name("GET_"));
        assert!(!is_report_type_name("GET_X/Y"));
    }
}
