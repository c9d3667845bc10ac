//! Where raw objects land in S3 (design.md "Storage layout").
//!
//! ```text
//! source=<source>/report_type=<type>/marketplace=<id>/data_date=<YYYY-MM-DD>/<request-key>.<ext>
//! ```
//!
//! Hive-style `name=value` partitions let Athena and Glue prune by source, type,
//! marketplace and date. The key is a pure function of the request alone: a retried
//! Store, and a new report for the same request (a restatement, a forced refresh, a
//! report past Amazon's retention), replace the one object in place — S3 swaps it
//! atomically, so a reader sees the old rows or the new, never both (which Athena would
//! count twice). The report id is in the object's metadata and the metadata table.

use std::fmt;

use crate::report_type::DocumentFormat;
use crate::request::{ReportRequest, RequestKey};

/// The S3 key of one raw report document.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RawObjectKey(String);

/// A value that cannot be used in an S3 key partition.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{field} `{value}` cannot be part of an S3 key: only letters, digits, `_`, `-` and `.` are allowed"
)]
pub struct UnsafeKeyPart {
    /// Which part.
    pub field: &'static str,
    /// The offending value.
    pub value: String,
}

fn safe(field: &'static str, value: &str) -> Result<(), UnsafeKeyPart> {
    let ok = !value.is_empty()
        && !value.starts_with('.')
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
    if ok {
        Ok(())
    } else {
        Err(UnsafeKeyPart {
            field,
            value: value.to_owned(),
        })
    }
}

impl RawObjectKey {
    /// The key for the document of `request`, stored as `format`.
    ///
    /// Several marketplaces in one request (order reports allow it) are joined with `-`
    /// in sorted order, so the partition value is deterministic too.
    pub fn new(request: &ReportRequest, format: DocumentFormat) -> Result<Self, UnsafeKeyPart> {
        safe("report type", &request.report_type)?;
        let marketplaces = request.sorted_marketplaces();
        for id in &marketplaces {
            safe("marketplace id", id)?;
        }
        Ok(RawObjectKey(format!(
            "source={source}/report_type={report_type}/marketplace={marketplace}/data_date={date}/{key}.{ext}",
            source = request.source,
            report_type = request.report_type,
            marketplace = marketplaces.join("-"),
            date = request.window.data_date().format("%Y-%m-%d"),
            key = request.key(),
            ext = format.extension(),
        )))
    }

    /// The key of page `number` (0 for the first) of a request whose results come in
    /// pages (Data Kiosk): every page of a window under one folder named by the window's
    /// request key, `…/<request key>/page=0001.jsonl`, so a window's pages list together.
    pub fn page(
        request: &ReportRequest,
        format: DocumentFormat,
        number: u32,
    ) -> Result<Self, UnsafeKeyPart> {
        let window = Self::new(request, format)?;
        let folder = window
            .0
            .strip_suffix(&format!(".{}", format.extension()))
            .unwrap_or(&window.0);
        Ok(RawObjectKey(format!(
            "{folder}/page={:04}.{}",
            u64::from(number) + 1,
            format.extension()
        )))
    }

    /// The key as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The request key embedded in the object key.
    pub fn request_key(&self) -> Option<RequestKey> {
        self.0
            .split('/')
            .nth(4)
            .and_then(|name| name.split('.').next())
            .and_then(RequestKey::parse)
    }
}

impl fmt::Display for RawObjectKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use chrono::{DateTime, Utc};

    use super::*;
    use crate::request::{DataWindow, Source};

    fn request(marketplaces: &[&str]) -> ReportRequest {
        let at = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc);
        ReportRequest {
            account: "acme".into(),
            selling_partner_id: "A3TH9S8BH6GOGM".into(),
            source: Source::sp_api_reports(),
            report_type: "GET_SALES_AND_TRAFFIC_REPORT".into(),
            marketplace_ids: marketplaces.iter().map(|m| m.to_string()).collect(),
            window: DataWindow::new(at("2026-11-24T00:00:00Z"), at("2026-11-25T00:00:00Z"))
                .unwrap(),
            options: BTreeMap::new(),
            query: None,
            ads: None,
            amc: None,
        }
    }

    #[test]
    fn key_is_hive_partitioned_in_design_order() {
        let req = request(&["ATVPDKIKX0DER"]);
        let key = RawObjectKey::new(&req, DocumentFormat::Json).unwrap();
        let parts: Vec<&str> = key.as_str().split('/').collect();
        assert_eq!(parts.len(), 5);
        let partitions: Vec<(&str, &str)> = parts[..4]
            .iter()
            .map(|p| p.split_once('=').unwrap())
            .collect();
        assert_eq!(
            partitions,
            vec![
                ("source", "sp-api-reports"),
                ("report_type", "GET_SALES_AND_TRAFFIC_REPORT"),
                ("marketplace", "ATVPDKIKX0DER"),
                ("data_date", "2026-11-24"),
            ]
        );
        assert_eq!(parts[4], format!("{}.json", req.key()));
        assert_eq!(key.request_key(), Some(req.key()));
    }

    #[test]
    fn key_is_deterministic_across_marketplace_order() {
        let a = RawObjectKey::new(
            &request(&["ATVPDKIKX0DER", "A2EUQ1WTGCTBG2"]),
            DocumentFormat::Tsv,
        )
        .unwrap();
        let b = RawObjectKey::new(
            &request(&["A2EUQ1WTGCTBG2", "ATVPDKIKX0DER"]),
            DocumentFormat::Tsv,
        )
        .unwrap();
        assert_eq!(a, b);
        assert!(
            a.as_str()
                .contains("/marketplace=A2EUQ1WTGCTBG2-ATVPDKIKX0DER/")
        );
        assert!(
            a.as_str()
                .ends_with(&format!("/{}.tsv", a.request_key().unwrap()))
        );
    }

    #[test]
    fn pages_of_a_window_sit_in_one_folder_named_by_its_key() {
        let req = request(&["ATVPDKIKX0DER"]);
        let first = RawObjectKey::page(&req, DocumentFormat::Jsonl, 0).unwrap();
        let third = RawObjectKey::page(&req, DocumentFormat::Jsonl, 2).unwrap();
        let folder = format!("/data_date=2026-11-24/{}/", req.key());
        assert!(
            first
                .as_str()
                .ends_with(&format!("{folder}page=0001.jsonl")),
            "{first}"
        );
        assert!(
            third
                .as_str()
                .ends_with(&format!("{folder}page=0003.jsonl")),
            "{third}"
        );
        assert_eq!(third.request_key(), Some(req.key()));
    }

    #[test]
    fn unsafe_parts_are_rejected() {
        let err = RawObjectKey::new(&request(&["ATVPDKIKX0DER", "../x"]), DocumentFormat::Json)
            .unwrap_err();
        assert_eq!(err.field, "marketplace id");
        let mut req = request(&["ATVPDKIKX0DER"]);
        req.report_type = "GET_X/Y=Z".into();
        assert!(RawObjectKey::new(&req, DocumentFormat::Json).is_err());
    }
}
