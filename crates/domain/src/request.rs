//! A report request and its [`RequestKey`], the identity everything idempotent hangs on.
//!
//! The key decides whether a createReport is new or a retry of one already made
//! (DynamoDB conditional write), and where the raw object lands in S3. It must therefore
//! be stable across releases, machines and the order in which config lists things.

use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, NaiveDate, SecondsFormat, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::ads::AdsReportSpec;
use crate::amc::AmcRequest;
use crate::data_kiosk::QuerySpec;

/// Where data comes from, by its catalog name (`sp-api-reports`): each source has an
/// entry in the catalog ([`crate::catalog`]) saying which API it speaks and how its
/// requests complete, and its own `source=` partition in S3. A name, not an enum, so a
/// source is added as data.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Source(String);

impl Source {
    /// The source of this name (whether the catalog knows it is checked by config
    /// validation).
    pub fn new(name: impl Into<String>) -> Self {
        Source(name.into())
    }

    /// Selling Partner API Reports 2021-06-30.
    pub fn sp_api_reports() -> Self {
        Source::new("sp-api-reports")
    }

    /// The name used in config and in the `source=` partition.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A half-open data interval `[start, end)` in UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct DataWindow {
    /// First instant included.
    pub start: DateTime<Utc>,
    /// First instant not included.
    pub end: DateTime<Utc>,
}

/// A window whose end is not after its start.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("data window end {end} must be after its start {start}")]
pub struct EmptyWindow {
    /// The offered start.
    pub start: DateTime<Utc>,
    /// The offered end.
    pub end: DateTime<Utc>,
}

impl DataWindow {
    /// A window from `start` (included) to `end` (excluded).
    pub fn new(start: DateTime<Utc>, end: DateTime<Utc>) -> Result<Self, EmptyWindow> {
        if end > start {
            Ok(DataWindow { start, end })
        } else {
            Err(EmptyWindow { start, end })
        }
    }

    /// The latest complete window of `length` whose end is at least `lag` before `now`,
    /// aligned to UTC midnight: with a one-day window and no lag, yesterday.
    pub fn latest_complete(now: DateTime<Utc>, length: TimeDelta, lag: TimeDelta) -> Self {
        let end = (now - lag)
            .date_naive()
            .and_hms_opt(0, 0, 0)
            .map(|t| t.and_utc())
            .unwrap_or(now);
        DataWindow {
            start: end - length,
            end,
        }
    }

    /// The window's length.
    pub fn length(&self) -> TimeDelta {
        self.end - self.start
    }

    /// The date of the start, which names the `data_date=` partition.
    pub fn data_date(&self) -> NaiveDate {
        self.start.date_naive()
    }

    /// `dataEndTime` for createReport: Amazon treats it as inclusive, so the last second
    /// of the window rather than the first instant after it.
    pub fn amazon_end(&self) -> DateTime<Utc> {
        self.end - TimeDelta::seconds(1)
    }

    /// This window in consecutive parts of at most `days` days, oldest first (itself
    /// when it is no longer).
    pub fn split_days(&self, days: i64) -> Vec<DataWindow> {
        DataWindow::split(self.start, self.end, TimeDelta::days(days.max(1)))
    }

    /// The windows of `length` that tile `[from, to)`, each aligned to `from`, the last
    /// one cut at `to`: a backfill is many ordinary requests.
    pub fn split(from: DateTime<Utc>, to: DateTime<Utc>, length: TimeDelta) -> Vec<DataWindow> {
        let mut windows = Vec::new();
        let mut start = from;
        while start < to && length > TimeDelta::zero() {
            let end = (start + length).min(to);
            windows.push(DataWindow { start, end });
            start = end;
        }
        windows
    }
}

/// One report to fetch for one selling partner.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReportRequest {
    /// The configured account name (for logs and metadata; not part of the key).
    pub account: String,
    /// The selling partner id the report belongs to (part of the key: report ids are
    /// unique only per selling partner).
    pub selling_partner_id: String,
    /// Where the data comes from.
    pub source: Source,
    /// The SP-API reportType.
    pub report_type: String,
    /// Marketplace ids (order does not matter).
    pub marketplace_ids: Vec<String>,
    /// The data interval.
    pub window: DataWindow,
    /// reportOptions (order does not matter).
    #[serde(default)]
    pub options: BTreeMap<String, String>,
    /// The Data Kiosk query (source `data-kiosk`; `report_type` is its dataset).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query: Option<QuerySpec>,
    /// The Amazon Ads report configuration (source `ads-reports`; `report_type` is its
    /// `reportTypeId`, `selling_partner_id` the advertising profile id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ads: Option<AdsReportSpec>,
    /// The Amazon Marketing Cloud execution (source `amc-workflows`; `report_type` is the
    /// workflow id, `selling_partner_id` the instance id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amc: Option<AmcRequest>,
}

/// The stable identity of a [`ReportRequest`]: 32 lower-case hex characters.
///
/// Definition (version 1; never change it, add a version instead): SHA-256 over the
/// UTF-8 lines
///
/// ```text
/// sp-ingest request-key v1
/// selling_partner_id=<id>
/// source=<source>
/// report_type=<type>
/// marketplace=<id>            one line per distinct id, sorted
/// start=<RFC 3339, UTC, seconds, Z>
/// end=<RFC 3339, UTC, seconds, Z>
/// option=<len(key)>:<key>=<value>   one line per option, sorted by key
/// ```
///
/// each line ended by `\n` and each value written as a JSON string literal (quoted and
/// escaped, so no value can forge a line); the key is the first 16 bytes of the digest in
/// hex. The account name is not part of it: renaming an account in config must not
/// re-request its reports.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RequestKey(String);

impl RequestKey {
    /// The key of page `number` (1, 2, …) of this request's results, for sources whose
    /// results come in pages that are each requested on their own (Data Kiosk): SHA-256
    /// over `sp-ingest page-key v1`, this key and the number, first 16 bytes in hex.
    pub fn page(&self, number: u32) -> RequestKey {
        let text = format!("sp-ingest page-key v1\n{}\n{number}\n", self.0);
        RequestKey(hex::encode(&Sha256::digest(text.as_bytes())[..16]))
    }

    /// The key as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Accepts a key read back from storage, if it has the key's shape.
    pub fn parse(s: &str) -> Option<RequestKey> {
        (s.len() == 32 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')))
            .then(|| RequestKey(s.to_owned()))
    }
}

impl fmt::Display for RequestKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// JSON with every object's keys sorted, so two spellings of one query are one request.
fn canonical(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::Object(map) => {
            let mut entries: Vec<(&String, &serde_json::Value)> = map.iter().collect();
            entries.sort_by_key(|(key, _)| *key);
            let fields: Vec<String> = entries
                .into_iter()
                .map(|(key, value)| format!("{}:{}", escaped(key), canonical(value)))
                .collect();
            format!("{{{}}}", fields.join(","))
        }
        serde_json::Value::Array(items) => {
            format!(
                "[{}]",
                items.iter().map(canonical).collect::<Vec<_>>().join(",")
            )
        }
        other => other.to_string(),
    }
}

fn escaped(value: &str) -> String {
    // serde_json string escaping: quotes, backslashes and control characters (incl. \n).
    serde_json::Value::String(value.to_owned()).to_string()
}

impl ReportRequest {
    /// This request's [`RequestKey`].
    pub fn key(&self) -> RequestKey {
        let mut text = String::from("sp-ingest request-key v1\n");
        let mut line = |name: &str, value: &str| {
            text.push_str(name);
            text.push('=');
            text.push_str(&escaped(value));
            text.push('\n');
        };
        line("selling_partner_id", &self.selling_partner_id);
        line("source", self.source.as_str());
        line("report_type", &self.report_type);
        for marketplace in self.sorted_marketplaces() {
            line("marketplace", marketplace);
        }
        line(
            "start",
            &self.window.start.to_rfc3339_opts(SecondsFormat::Secs, true),
        );
        line(
            "end",
            &self.window.end.to_rfc3339_opts(SecondsFormat::Secs, true),
        );
        for (key, value) in &self.options {
            line("option", &format!("{}:{key}={value}", key.len()));
        }
        // Only Data Kiosk requests have the line, so every other key stays as it was.
        if let Some(query) = &self.query {
            line("data_kiosk", &canonical(&serde_json::json!(query)));
        }
        // Likewise only Amazon Ads requests have this one.
        if let Some(ads) = &self.ads {
            line("ads", &canonical(&serde_json::json!(ads)));
        }
        // And only AMC executions this one.
        if let Some(amc) = &self.amc {
            line("amc", &canonical(&serde_json::json!(amc)));
        }
        let digest = Sha256::digest(text.as_bytes());
        RequestKey(hex::encode(&digest[..16]))
    }

    /// Whether this is a Data Kiosk query (source `data-kiosk` requires one) rather than
    /// a report.
    pub fn is_data_kiosk(&self) -> bool {
        self.query.is_some()
    }

    /// Whether this is an Amazon Ads report (source `ads-reports` requires its config).
    pub fn is_ads(&self) -> bool {
        self.ads.is_some()
    }

    /// Whether the request acts with an Amazon Ads token: an Ads report or an AMC
    /// execution (the token is sealed with the app's client id).
    pub fn uses_ads_token(&self) -> bool {
        self.ads.is_some() || self.amc.is_some()
    }

    /// The advertising profile of an Amazon Ads request (its `selling_partner_id`).
    pub fn ads_profile(&self) -> Option<u64> {
        self.ads
            .as_ref()
            .and_then(|_| self.selling_partner_id.parse().ok())
    }

    /// The distinct marketplace ids, sorted.
    pub fn sorted_marketplaces(&self) -> Vec<&str> {
        let mut ids: Vec<&str> = self.marketplace_ids.iter().map(String::as_str).collect();
        ids.sort_unstable();
        ids.dedup();
        ids
    }
}

#[cfg(test)]
mod tests {
    use chrono::Datelike;

    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn request() -> ReportRequest {
        ReportRequest {
            account: "acme-us".into(),
            selling_partner_id: "A3TH9S8BH6GOGM".into(),
            source: Source::sp_api_reports(),
            report_type: "GET_FLAT_FILE_ALL_ORDERS_DATA_BY_ORDER_DATE_GENERAL".into(),
            marketplace_ids: vec!["ATVPDKIKX0DER".into(), "A2EUQ1WTGCTBG2".into()],
            window: DataWindow::new(at("2026-11-23T00:00:00Z"), at("2026-11-24T00:00:00Z"))
                .unwrap(),
            options: BTreeMap::from([
                ("a".to_owned(), "1".to_owned()),
                ("b".to_owned(), "2".to_owned()),
            ]),
            query: None,
            ads: None,
            amc: None,
        }
    }

    #[test]
    fn key_is_32_hex_and_pinned() {
        let key = request().key();
        assert_eq!(RequestKey::parse(key.as_str()), Some(key.clone()));
        // Pinned: a change here re-requests every report of every deployment.
        assert_eq!(key.as_str(), "b37071399f5c0e7aa527e411c0903ff5");
    }

    #[test]
    fn key_ignores_order_of_marketplaces_and_options_and_duplicates() {
        let mut other = request();
        other.marketplace_ids = vec![
            "A2EUQ1WTGCTBG2".into(),
            "ATVPDKIKX0DER".into(),
            "ATVPDKIKX0DER".into(),
        ];
        let mut options = BTreeMap::new();
        options.insert("b".to_owned(), "2".to_owned());
        options.insert("a".to_owned(), "1".to_owned());
        other.options = options;
        assert_eq!(other.key(), request().key());
    }

    #[test]
    fn key_ignores_account_name() {
        let mut other = request();
        other.account = "renamed".into();
        assert_eq!(other.key(), request().key());
    }

    #[test]
    fn any_change_of_an_input_changes_the_key() {
        let base = request().key();
        type Change = Box<dyn Fn(&mut ReportRequest)>;
        let changes: Vec<Change> = vec![
            Box::new(|r| r.selling_partner_id.push('X')),
            Box::new(|r| r.report_type = "GET_SALES_AND_TRAFFIC_REPORT".into()),
            Box::new(|r| r.marketplace_ids.pop().map(drop).unwrap_or(())),
            Box::new(|r| r.window.start -= TimeDelta::seconds(1)),
            Box::new(|r| r.window.end += TimeDelta::days(1)),
            Box::new(|r| drop(r.options.insert("a".into(), "10".into()))),
            Box::new(|r| drop(r.options.insert("c".into(), String::new()))),
            Box::new(|r| drop(r.options.remove("b"))),
        ];
        for (i, change) in changes.iter().enumerate() {
            let mut changed = request();
            change(&mut changed);
            assert_ne!(changed.key(), base, "change #{i} kept the key");
        }
    }

    #[test]
    fn a_query_changes_the_key_but_not_its_spelling_and_pages_have_keys_of_their_own() {
        let query = |json: &str| Some(serde_json::from_str::<QuerySpec>(json).unwrap());
        let mut one = request();
        one.query = query(
            r#"{"query":"economics","arguments":{"aggregateBy":{"date":"DAY","productId":"MSKU"}},"fields":["msku"]}"#,
        );
        let mut same = request();
        same.query = query(
            r#"{"fields":["msku"],"arguments":{"aggregateBy":{"productId":"MSKU","date":"DAY"}},"query":"economics"}"#,
        );
        assert_eq!(one.key(), same.key());
        assert_ne!(one.key(), request().key());
        let mut other = request();
        other.query = query(r#"{"query":"economics","fields":["msku","fnsku"]}"#);
        assert_ne!(other.key(), one.key());
        let key = one.key();
        assert_ne!(key.page(1), key.page(2));
        assert_eq!(key.page(1), one.key().page(1));
        assert_eq!(RequestKey::parse(key.page(1).as_str()), Some(key.page(1)));
    }

    #[test]
    fn option_text_cannot_forge_another_option() {
        let mut one = request();
        one.options = BTreeMap::from([("a".to_owned(), "1\noption=b=2".to_owned())]);
        let mut two = request();
        two.options = BTreeMap::from([
            ("a".to_owned(), "1".to_owned()),
            ("b".to_owned(), "2".to_owned()),
        ]);
        assert_ne!(one.key(), two.key());
        let mut three = request();
        three.options = BTreeMap::from([("a=1".to_owned(), "".to_owned())]);
        let mut four = request();
        four.options = BTreeMap::from([("a".to_owned(), "=1".to_owned())]);
        assert_ne!(three.key(), four.key());
    }

    #[test]
    fn latest_complete_day_is_yesterday_without_lag() {
        let w = DataWindow::latest_complete(
            at("2026-11-25T06:30:00Z"),
            TimeDelta::days(1),
            TimeDelta::zero(),
        );
        assert_eq!(w.start, at("2026-11-24T00:00:00Z"));
        assert_eq!(w.end, at("2026-11-25T00:00:00Z"));
        assert_eq!(w.data_date().to_string(), "2026-11-24");
        assert_eq!(w.amazon_end(), at("2026-11-24T23:59:59Z"));
        let lagged = DataWindow::latest_complete(
            at("2026-11-25T06:30:00Z"),
            TimeDelta::days(7),
            TimeDelta::days(2),
        );
        assert_eq!(
            (lagged.start, lagged.end),
            (at("2026-11-16T00:00:00Z"), at("2026-11-23T00:00:00Z"))
        );
    }

    #[test]
    fn split_tiles_a_range_without_gaps_or_overlap() {
        let windows = DataWindow::split(
            at("2026-11-01T00:00:00Z"),
            at("2026-11-10T00:00:00Z"),
            TimeDelta::days(4),
        );
        let bounds: Vec<_> = windows
            .iter()
            .map(|w| (w.start.day0(), w.length().num_days()))
            .collect();
        assert_eq!(bounds, vec![(0, 4), (4, 4), (8, 1)]);
        assert!(
            DataWindow::split(
                at("2026-11-01T00:00:00Z"),
                at("2026-11-01T00:00:00Z"),
                TimeDelta::days(1)
            )
            .is_empty()
        );
    }

    #[test]
    fn empty_window_is_rejected() {
        let t = at("2026-11-01T00:00:00Z");
        assert!(DataWindow::new(t, t).is_err());
    }
}
