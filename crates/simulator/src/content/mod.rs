//! Report documents: what a report's document contains, generated as a stream of text
//! chunks so a multi-GB document costs the same memory as a small one, and the digest
//! a client should end up with after download, gunzip and transcoding to UTF-8.
//!
//! Content is a pure function of (report type, marketplaces, data window, seed, rows):
//! every row draws from its own PRNG seeded by the document seed and the row index, so
//! the same request always yields the same bytes. The PRNG is a hand-written SplitMix64
//! rather than `rand`'s because `rand` does not promise stable output across versions,
//! and documents are compared by sha256 across runs.

mod ads_rows;
mod amc_rows;
mod catalog;
mod flat_file;
mod json_report;
mod query_result;

use std::borrow::Cow;
use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::{Digest, Sha256};

use self::catalog::Product;
use self::flat_file::{TsvTable, tsv_columns};
use self::json_report::JsonReport;
use crate::marketplaces::{self, Marketplace};
use crate::scenario::Charset;

pub(crate) use self::ads_rows::AdsRows;
pub(crate) use self::amc_rows::AmcPart;
pub(crate) use self::query_result::{QueryPage, days_per_record};

/// Text generated per chunk before it is handed to the encoder and gzip.
const CHUNK_TARGET_BYTES: usize = 64 * 1024;
/// Distinct products per marketplace catalog (SKUs repeat across reports, as in life).
const CATALOG_SIZE: u64 = 400;

/// What a client should hold after downloading a document, gunzipping it and
/// transcoding it to UTF-8: the bytes that should land in S3.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocumentDigest {
    /// Hex sha256 of the decompressed content transcoded to UTF-8.
    pub sha256: String,
    /// Data rows: lines after the header for flat files, records of the main array for JSON.
    pub rows: u64,
    /// Length in bytes of the UTF-8 content.
    pub bytes: u64,
    /// Charset the document is served in: `UTF-8` or `Cp932`.
    pub source_charset: String,
    /// Hex sha256 of the decompressed content as served, in the source charset.
    pub source_sha256: String,
    /// Length in bytes of the decompressed content as served.
    pub source_bytes: u64,
}

/// File format of a report type's document.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum DocumentFormat {
    /// Tab-separated flat file with a header line.
    Tsv,
    /// One JSON object (analytics reports, error documents).
    Json,
    /// JSON Lines: one record per line (Data Kiosk data documents).
    Jsonl,
    /// Comma-separated with a header line (AMC results).
    Csv,
}

/// Whether a report's document holds data or explains a FATAL report.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum DocumentKind {
    Report,
    Error {
        reason: String,
    },
    /// A page of a Data Kiosk query's results.
    Query(QueryPage),
    /// An Amazon Ads report file.
    Ads(AdsRows),
    /// One file of an AMC workflow execution's result.
    Amc(AmcPart),
}

/// Columns a flat file has beyond or short of its documented table.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct ColumnChanges {
    /// Headers appended, each with a value per row.
    pub added: Vec<String>,
    /// Documented headers left out.
    pub dropped: Vec<String>,
}

impl ColumnChanges {
    fn is_empty(&self) -> bool {
        self.added.is_empty() && self.dropped.is_empty()
    }

    /// `line` (one header or row, without its newline) with the changes made; `row` is
    /// `None` for the header.
    fn apply(&self, table: &[&str], line: &str, row: Option<u64>) -> String {
        let mut fields: Vec<String> = line
            .split('\t')
            .zip(table)
            .filter(|(_, header)| !self.dropped.iter().any(|d| d == *header))
            .map(|(field, _)| field.to_owned())
            .collect();
        for added in &self.added {
            fields.push(match row {
                None => added.clone(),
                Some(row) => format!("{added}-{row}"),
            });
        }
        fields.join("\t")
    }
}

/// Everything that determines a document's bytes.
#[derive(Clone, Debug)]
pub(crate) struct DocumentSpec {
    pub report_type: String,
    pub marketplace_ids: Vec<String>,
    pub data_start: DateTime<Utc>,
    pub data_end: DateTime<Utc>,
    pub report_options: BTreeMap<String, String>,
    pub seed: u64,
    pub rows: u64,
    pub charset: Charset,
    pub kind: DocumentKind,
    pub columns: ColumnChanges,
}

impl DocumentSpec {
    /// Format of this document (error documents are always JSON).
    pub(crate) fn format(&self) -> DocumentFormat {
        match self.kind {
            DocumentKind::Error { .. } => DocumentFormat::Json,
            DocumentKind::Report => format_of(&self.report_type),
            DocumentKind::Query(_) => DocumentFormat::Jsonl,
            DocumentKind::Ads(_) => DocumentFormat::Json,
            DocumentKind::Amc(_) => DocumentFormat::Csv,
        }
    }

    /// Data rows the document holds.
    pub(crate) fn data_rows(&self) -> u64 {
        match self.kind {
            DocumentKind::Error { .. } => 0,
            DocumentKind::Report
            | DocumentKind::Query(_)
            | DocumentKind::Ads(_)
            | DocumentKind::Amc(_) => self.rows,
        }
    }

    /// `Content-Type` the document URL serves.
    pub(crate) fn content_type(&self) -> String {
        match self.format() {
            DocumentFormat::Tsv => format!("text/plain; charset={}", self.charset.label()),
            DocumentFormat::Json if self.charset == Charset::Utf8 => "application/json".to_owned(),
            DocumentFormat::Json => format!("application/json; charset={}", self.charset.label()),
            DocumentFormat::Jsonl => "application/x-ndjson".to_owned(),
            DocumentFormat::Csv => "text/csv".to_owned(),
        }
    }

    /// The document's text, chunk by chunk.
    pub(crate) fn chunks(&self) -> ContentChunks {
        ContentChunks::new(self.clone())
    }

    /// Generates the whole document once and digests it (CPU-bound; run off the runtime).
    pub(crate) fn digest(&self) -> DocumentDigest {
        let mut utf8 = Sha256::new();
        let mut source = Sha256::new();
        let (mut bytes, mut source_bytes) = (0u64, 0u64);
        for chunk in self.chunks() {
            let encoded = encode(self.charset, &chunk);
            source.update(&encoded);
            source_bytes += encoded.len() as u64;
            // Hash what a client decodes, not what was generated, so a character the
            // charset cannot carry would show up as a mismatch of the simulator, not the client.
            let decoded = decode(self.charset, &encoded);
            utf8.update(decoded.as_bytes());
            bytes += decoded.len() as u64;
        }
        DocumentDigest {
            sha256: hex::encode(utf8.finalize()),
            rows: self.data_rows(),
            bytes,
            source_charset: self.charset.label().to_owned(),
            source_sha256: hex::encode(source.finalize()),
            source_bytes,
        }
    }
}

/// The `reportOptions` a well-formed daily request of `report_type` carries (the
/// options Amazon requires for the vendor and Brand Analytics reports, the usual
/// granularity for Sales and Traffic), echoed in the document's `reportSpecification`.
pub fn typical_options(report_type: &str) -> BTreeMap<String, String> {
    let pairs: &[(&str, &str)] = match report_type {
        "GET_SALES_AND_TRAFFIC_REPORT" => {
            &[("dateGranularity", "DAY"), ("asinGranularity", "CHILD")]
        }
        "GET_VENDOR_SALES_REPORT" | "GET_VENDOR_INVENTORY_REPORT" => &[
            ("reportPeriod", "DAY"),
            ("distributorView", "MANUFACTURING"),
            ("sellingProgram", "RETAIL"),
        ],
        t if t.starts_with("GET_VENDOR_") || t.starts_with("GET_BRAND_ANALYTICS_") => {
            &[("reportPeriod", "DAY")]
        }
        _ => &[],
    };
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// The UTF-8 text the simulator serves for a `report_type` document requested with
/// `options` over `start..end` in one marketplace with `rows` rows — what lands raw, for
/// tests and benches of the steps after Store.
pub fn report_text(
    report_type: &str,
    options: &BTreeMap<String, String>,
    marketplace_id: &str,
    window: (DateTime<Utc>, DateTime<Utc>),
    rows: u64,
) -> String {
    report_chunks(report_type, options, marketplace_id, window, rows).collect()
}

/// [`report_text`] as a stream of ~64 KiB pieces, for documents too big to hold.
pub fn report_chunks(
    report_type: &str,
    options: &BTreeMap<String, String>,
    marketplace_id: &str,
    (start, end): (DateTime<Utc>, DateTime<Utc>),
    rows: u64,
) -> impl Iterator<Item = String> + use<> {
    DocumentSpec {
        report_type: report_type.to_owned(),
        marketplace_ids: vec![marketplace_id.to_owned()],
        data_start: start,
        data_end: end,
        report_options: options.clone(),
        seed: 0,
        rows,
        charset: Charset::Utf8,
        kind: DocumentKind::Report,
        columns: ColumnChanges::default(),
    }
    .chunks()
}

/// Which format Amazon uses for a report type: JSON for the analytics families, a
/// flat file for everything else (`GET_FLAT_FILE_*`, `*_DATA`, settlement, …).
pub(crate) fn format_of(report_type: &str) -> DocumentFormat {
    if report_type == "GET_SALES_AND_TRAFFIC_REPORT"
        || report_type.starts_with("GET_BRAND_ANALYTICS_")
        || report_type.starts_with("GET_VENDOR_")
        || report_type.contains("JSON")
    {
        DocumentFormat::Json
    } else {
        DocumentFormat::Tsv
    }
}

/// Charset Amazon serves by default: Cp932 for Japanese flat files, UTF-8 otherwise.
/// <https://github.com/amzn/selling-partner-api-models/issues/545>
pub(crate) fn default_charset(report_type: &str, marketplace_ids: &[String]) -> Charset {
    let japanese = marketplace_ids
        .first()
        .is_some_and(|id| id == marketplaces::JAPAN);
    if japanese && format_of(report_type) == DocumentFormat::Tsv {
        Charset::Cp932
    } else {
        Charset::Utf8
    }
}

/// A seed from a name (an AMC result file's id), stable across runs.
pub(crate) fn seed_of(name: &str) -> u64 {
    let digest = Sha256::digest(name.as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    u64::from_le_bytes(first)
}

/// Seed of a document's content, from the inputs that make it what it is.
fn document_seed(
    report_type: &str,
    marketplace_ids: &[String],
    data_start: DateTime<Utc>,
    data_end: DateTime<Utc>,
    seed: u64,
) -> u64 {
    let mut hasher = Sha256::new();
    hasher.update(report_type.as_bytes());
    hasher.update([0]);
    hasher.update(marketplace_ids.join(",").as_bytes());
    hasher.update([0]);
    hasher.update(data_start.timestamp_millis().to_le_bytes());
    hasher.update(data_end.timestamp_millis().to_le_bytes());
    hasher.update(seed.to_le_bytes());
    let digest = hasher.finalize();
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    u64::from_le_bytes(first)
}

/// Rows of a report when no rule says otherwise: 50–500, fixed by the request.
pub(crate) fn default_row_count(
    report_type: &str,
    marketplace_ids: &[String],
    data_start: DateTime<Utc>,
    data_end: DateTime<Utc>,
    seed: u64,
) -> u64 {
    let mut rng = SplitMix64::new(
        document_seed(report_type, marketplace_ids, data_start, data_end, seed) ^ 0xC0FFEE,
    );
    50 + rng.below(451)
}

/// Encodes UTF-8 text in the document charset. Shift_JIS from encoding_rs is the
/// WHATWG encoding, which writes the NEC/IBM extensions of Windows-31J (Cp932).
pub(crate) fn encode(charset: Charset, text: &str) -> Cow<'_, [u8]> {
    match charset {
        Charset::Utf8 => Cow::Borrowed(text.as_bytes()),
        Charset::Cp932 => encoding_rs::SHIFT_JIS.encode(text).0,
    }
}

/// Decodes document bytes to UTF-8, as a client transcoding the download would.
pub(crate) fn decode(charset: Charset, bytes: &[u8]) -> Cow<'_, str> {
    match charset {
        Charset::Utf8 => String::from_utf8_lossy(bytes),
        Charset::Cp932 => encoding_rs::SHIFT_JIS.decode_without_bom_handling(bytes).0,
    }
}

/// SplitMix64: tiny, fast and stable forever (see module docs).
#[derive(Clone, Debug)]
struct SplitMix64(u64);

impl SplitMix64 {
    fn new(seed: u64) -> Self {
        Self(seed)
    }

    fn for_row(document_seed: u64, row: u64) -> Self {
        let mut rng = Self(document_seed ^ row.wrapping_mul(0xD1B5_4A32_D192_ED03));
        rng.next_u64();
        rng
    }

    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, bound: u64) -> u64 {
        self.next_u64() % bound.max(1)
    }

    fn between(&mut self, low: u64, high: u64) -> u64 {
        low + self.below(high - low + 1)
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        // Index is below items.len(), which fits usize.
        &items[self.below(items.len() as u64) as usize]
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

#[derive(Clone, Copy, Debug)]
enum Layout {
    Tsv(TsvTable),
    Json(JsonReport),
    Jsonl,
    AdsArray,
    /// An Ads file's rows as a client stores them: one per line.
    AdsLines,
    /// An AMC result file: CSV with a header line.
    AmcCsv,
    ErrorDocument,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stage {
    Prologue,
    Rows,
    Epilogue,
    Finished,
}

/// The document's UTF-8 text in chunks of about 64 KiB; rows are generated on demand.
pub(crate) struct ContentChunks {
    spec: DocumentSpec,
    layout: Layout,
    document_seed: u64,
    market: &'static Marketplace,
    stage: Stage,
    next_row: u64,
    /// The marketplace's products, built once per document rather than per row.
    catalog: Vec<Product>,
}

impl ContentChunks {
    fn new(spec: DocumentSpec) -> Self {
        let layout = match (&spec.kind, spec.format()) {
            (DocumentKind::Error { .. }, _) => Layout::ErrorDocument,
            (DocumentKind::Query(_), _) | (DocumentKind::Report, DocumentFormat::Jsonl) => {
                Layout::Jsonl
            }
            (DocumentKind::Ads(ads), _) if ads.as_lines => Layout::AdsLines,
            (DocumentKind::Ads(_), _) => Layout::AdsArray,
            // No SP-API report type is CSV; only AMC results are.
            (DocumentKind::Amc(_), _) | (DocumentKind::Report, DocumentFormat::Csv) => {
                Layout::AmcCsv
            }
            (DocumentKind::Report, DocumentFormat::Json) => {
                Layout::Json(JsonReport::of(&spec.report_type))
            }
            (DocumentKind::Report, DocumentFormat::Tsv) => {
                Layout::Tsv(match spec.report_type.as_str() {
                    t if t.starts_with("GET_FLAT_FILE_ALL_ORDERS_DATA") => TsvTable::Orders,
                    t if t.starts_with("GET_MERCHANT_LISTINGS") => TsvTable::Listings,
                    "GET_FBA_MYI_UNSUPPRESSED_INVENTORY_DATA"
                    | "GET_FBA_MYI_ALL_INVENTORY_DATA" => TsvTable::FbaInventory,
                    t if t.starts_with("GET_V2_SETTLEMENT_REPORT_DATA_FLAT_FILE") => {
                        TsvTable::Settlement
                    }
                    _ => TsvTable::Generic,
                })
            }
        };
        let market =
            marketplaces::find_or_us(spec.marketplace_ids.first().map_or("", String::as_str));
        // Pages of one query share the seed: their records continue one another.
        let document_seed = document_seed(
            &spec.report_type,
            &spec.marketplace_ids,
            spec.data_start,
            spec.data_end,
            spec.seed,
        );
        let catalog_seed = spec.seed ^ catalog_seed_of(market.id);
        let catalog = (0..CATALOG_SIZE)
            .map(|index| Product::new(market.language, catalog_seed, index))
            .collect();
        Self {
            spec,
            layout,
            document_seed,
            market,
            stage: Stage::Prologue,
            next_row: 0,
            catalog,
        }
    }

    /// Rows generated so far.
    #[cfg(test)]
    pub(crate) fn rows_written(&self) -> u64 {
        self.next_row
    }

    /// Whether the whole document has been produced.
    pub(crate) fn is_finished(&self) -> bool {
        self.stage == Stage::Finished
    }

    /// The next chunk, generating rows only below `row_limit`; `None` when finished or
    /// when the limit is reached.
    pub(crate) fn next_chunk(&mut self, row_limit: u64) -> Option<String> {
        let rows = self.spec.data_rows();
        loop {
            match self.stage {
                Stage::Prologue => {
                    self.stage = Stage::Rows;
                    let prologue = self.prologue();
                    if !prologue.is_empty() {
                        return Some(prologue);
                    }
                }
                Stage::Rows => {
                    if self.next_row >= rows {
                        self.stage = Stage::Epilogue;
                        continue;
                    }
                    let stop = rows.min(row_limit);
                    if self.next_row >= stop {
                        return None;
                    }
                    let mut buf = String::with_capacity(CHUNK_TARGET_BYTES + 4096);
                    while self.next_row < stop && buf.len() < CHUNK_TARGET_BYTES {
                        self.write_row(&mut buf, self.next_row);
                        self.next_row += 1;
                    }
                    return Some(buf);
                }
                Stage::Epilogue => {
                    self.stage = Stage::Finished;
                    match self.layout {
                        Layout::Json(_) => return Some("]}".to_owned()),
                        Layout::AdsArray => return Some("]".to_owned()),
                        _ => {}
                    }
                }
                Stage::Finished => return None,
            }
        }
    }

    fn prologue(&self) -> String {
        match self.layout {
            Layout::ErrorDocument => {
                let reason = match &self.spec.kind {
                    DocumentKind::Error { reason } => reason.as_str(),
                    DocumentKind::Report
                    | DocumentKind::Query(_)
                    | DocumentKind::Ads(_)
                    | DocumentKind::Amc(_) => "",
                };
                json!({ "errorDetails": reason }).to_string()
            }
            Layout::Tsv(table) => {
                let columns = tsv_columns(table);
                let mut header = self.spec.columns.apply(columns, &columns.join("\t"), None);
                header.push('\n');
                header
            }
            Layout::Json(report) => self.json_prologue(report),
            Layout::Jsonl => String::new(),
            Layout::AdsArray => "[".to_owned(),
            Layout::AdsLines => String::new(),
            Layout::AmcCsv => match &self.spec.kind {
                DocumentKind::Amc(part) => Self::amc_header(part),
                _ => String::new(),
            },
        }
    }

    fn write_row(&self, buf: &mut String, row: u64) {
        let mut rng = SplitMix64::for_row(self.document_seed, row);
        match self.layout {
            Layout::Tsv(table) if self.spec.columns.is_empty() => {
                self.write_tsv_row(buf, table, row, &mut rng)
            }
            Layout::Tsv(table) => {
                let mut line = String::new();
                self.write_tsv_row(&mut line, table, row, &mut rng);
                let changed = self.spec.columns.apply(
                    tsv_columns(table),
                    line.trim_end_matches('\n'),
                    Some(row),
                );
                buf.push_str(&changed);
                buf.push('\n');
            }
            Layout::Json(report) => {
                if row > 0 {
                    buf.push(',');
                }
                let record = self.json_record(report, row, &mut rng);
                buf.push_str(&record.to_string());
            }
            Layout::AdsArray => {
                if let DocumentKind::Ads(ads) = &self.spec.kind {
                    if row > 0 {
                        buf.push(',');
                    }
                    buf.push_str(&self.ads_row(ads, row, &mut rng));
                }
            }
            Layout::AmcCsv => {
                if let DocumentKind::Amc(part) = &self.spec.kind {
                    buf.push_str(&Self::amc_row(part, row, &mut rng));
                }
            }
            Layout::AdsLines => {
                if let DocumentKind::Ads(ads) = &self.spec.kind {
                    buf.push_str(&self.ads_row(ads, row, &mut rng));
                    buf.push('\n');
                }
            }
            Layout::Jsonl => {
                if let DocumentKind::Query(page) = &self.spec.kind {
                    // Each record's own PRNG: page p's row r is record p × rows + r.
                    let record = u64::from(page.page) * self.spec.rows + row;
                    let mut rng = SplitMix64::for_row(self.document_seed, record);
                    buf.push_str(&self.query_record(page, row, &mut rng));
                    buf.push('\n');
                }
            }
            Layout::ErrorDocument => {}
        }
    }

    /// The marketplace a row belongs to: requests for several marketplaces spread rows over them.
    fn row_market(&self, rng: &mut SplitMix64) -> &'static Marketplace {
        if self.spec.marketplace_ids.len() <= 1 {
            return self.market;
        }
        marketplaces::find_or_us(rng.pick(self.spec.marketplace_ids.as_slice()).as_str())
    }

    /// A moment inside the data window, increasing with the row so files read in date order.
    fn row_time(&self, row: u64, rng: &mut SplitMix64) -> DateTime<Utc> {
        let span = (self.spec.data_end - self.spec.data_start)
            .num_seconds()
            .max(0);
        let rows = i64::try_from(self.spec.data_rows().max(1)).unwrap_or(i64::MAX);
        let row = i64::try_from(row).unwrap_or(i64::MAX);
        let slot = span / rows;
        let jitter = i64::try_from(rng.below(u64::try_from(slot).unwrap_or(0).max(1))).unwrap_or(0);
        let offset = (i128::from(span) * i128::from(row) / i128::from(rows)) as i64 + jitter;
        self.spec.data_start + Duration::seconds(offset.min(span))
    }

    fn product(&self, index: u64) -> &Product {
        // The index is below CATALOG_SIZE, the catalog's length.
        &self.catalog[index as usize]
    }
}

impl Iterator for ContentChunks {
    type Item = String;

    fn next(&mut self) -> Option<String> {
        self.next_chunk(u64::MAX)
    }
}

fn catalog_seed_of(marketplace_id: &str) -> u64 {
    marketplace_id
        .bytes()
        .fold(0xCBF2_9CE4_8422_2325u64, |hash, byte| {
            (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01B3)
        })
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::*;

    fn spec(report_type: &str, marketplace: &str, rows: u64) -> DocumentSpec {
        let marketplace_ids = vec![marketplace.to_owned()];
        DocumentSpec {
            report_type: report_type.to_owned(),
            charset: default_charset(report_type, &marketplace_ids),
            marketplace_ids,
            data_start: "2024-05-01T00:00:00Z".parse().unwrap(),
            data_end: "2024-05-08T00:00:00Z".parse().unwrap(),
            report_options: BTreeMap::new(),
            seed: 7,
            rows,
            kind: DocumentKind::Report,
            columns: ColumnChanges::default(),
        }
    }

    fn text(spec: &DocumentSpec) -> String {
        spec.chunks().collect()
    }

    #[test]
    fn added_and_dropped_columns_change_the_header_and_every_row() {
        let mut spec = spec(
            "GET_FLAT_FILE_ALL_ORDERS_DATA_BY_ORDER_DATE_GENERAL",
            "ATVPDKIKX0DER",
            5,
        );
        spec.columns = ColumnChanges {
            added: vec!["order-item-id".into()],
            dropped: vec!["sku".into()],
        };
        let text: String = spec.chunks().collect();
        let mut lines = text.lines();
        let header: Vec<&str> = lines.next().unwrap().split('\t').collect();
        assert!(!header.contains(&"sku") && header.last() == Some(&"order-item-id"));
        for (row, line) in lines.enumerate() {
            let fields: Vec<&str> = line.split('\t').collect();
            assert_eq!(fields.len(), header.len());
            assert_eq!(
                fields.last(),
                Some(&format!("order-item-id-{row}").as_str())
            );
        }
    }

    #[test]
    fn every_flat_file_has_header_plus_one_line_per_row_with_matching_columns() {
        for report_type in [
            "GET_FLAT_FILE_ALL_ORDERS_DATA_BY_ORDER_DATE_GENERAL",
            "GET_FLAT_FILE_ALL_ORDERS_DATA_BY_LAST_UPDATE_GENERAL",
            "GET_MERCHANT_LISTINGS_ALL_DATA",
            "GET_FBA_MYI_UNSUPPRESSED_INVENTORY_DATA",
            "GET_V2_SETTLEMENT_REPORT_DATA_FLAT_FILE_V2",
            "GET_FLAT_FILE_OPEN_LISTINGS_DATA",
        ] {
            for marketplace in ["ATVPDKIKX0DER", marketplaces::JAPAN, "A1PA6795UKMFR9"] {
                let spec = spec(report_type, marketplace, 123);
                let text = text(&spec);
                let lines: Vec<&str> = text.lines().collect();
                assert_eq!(lines.len(), 124, "{report_type}");
                assert!(text.ends_with('\n'));
                let columns = lines[0].split('\t').count();
                for line in &lines {
                    assert_eq!(
                        line.split('\t').count(),
                        columns,
                        "{report_type} {marketplace}: {line}"
                    );
                }
            }
        }
    }

    #[test]
    fn json_reports_parse_and_count_rows_in_main_array() {
        for (report_type, main) in [
            ("GET_SALES_AND_TRAFFIC_REPORT", "salesAndTrafficByAsin"),
            ("GET_VENDOR_SALES_REPORT", "salesByAsin"),
            (
                "GET_BRAND_ANALYTICS_SEARCH_TERMS_REPORT",
                "dataByDepartmentAndSearchTerm",
            ),
            ("GET_BRAND_ANALYTICS_REPEAT_PURCHASE_REPORT", "dataByAsin"),
            ("GET_VENDOR_REAL_TIME_SALES_REPORT", "reportData"),
        ] {
            let spec = spec(report_type, "ATVPDKIKX0DER", 77);
            let value: Value = serde_json::from_str(&text(&spec)).unwrap();
            assert_eq!(value[main].as_array().unwrap().len(), 77, "{report_type}");
            assert_eq!(value["reportSpecification"]["reportType"], report_type);
        }
        let spec = spec("GET_SALES_AND_TRAFFIC_REPORT", "ATVPDKIKX0DER", 1);
        let value: Value = serde_json::from_str(&text(&spec)).unwrap();
        assert_eq!(value["salesAndTrafficByDate"].as_array().unwrap().len(), 8);
    }

    #[test]
    fn zero_rows_is_a_header_or_an_empty_array() {
        assert_eq!(
            text(&spec("GET_MERCHANT_LISTINGS_ALL_DATA", "ATVPDKIKX0DER", 0))
                .lines()
                .count(),
            1
        );
        let value: Value =
            serde_json::from_str(&text(&spec("GET_VENDOR_SALES_REPORT", "ATVPDKIKX0DER", 0)))
                .unwrap();
        assert!(value["salesByAsin"].as_array().unwrap().is_empty());
    }

    #[test]
    fn content_is_deterministic_and_depends_on_every_input() {
        let base = spec(
            "GET_FLAT_FILE_ALL_ORDERS_DATA_BY_ORDER_DATE_GENERAL",
            "ATVPDKIKX0DER",
            200,
        );
        assert_eq!(base.digest(), base.digest());
        let mut other_seed = base.clone();
        other_seed.seed = 8;
        let mut other_window = base.clone();
        other_window.data_end = "2024-05-09T00:00:00Z".parse().unwrap();
        let mut other_market = base.clone();
        other_market.marketplace_ids = vec!["A2EUQ1WTGCTBG2".to_owned()];
        for other in [other_seed, other_window, other_market] {
            assert_ne!(base.digest().sha256, other.digest().sha256);
        }
    }

    #[test]
    fn japanese_flat_file_round_trips_through_cp932() {
        let spec = spec("GET_MERCHANT_LISTINGS_ALL_DATA", marketplaces::JAPAN, 300);
        assert_eq!(spec.charset, Charset::Cp932);
        let utf8 = text(&spec);
        for special in ["①", "～", "髙"] {
            assert!(utf8.contains(special), "missing {special}");
        }
        let (encoded, _, had_errors) = encoding_rs::SHIFT_JIS.encode(&utf8);
        assert!(!had_errors, "a generated character has no Cp932 code");
        assert_eq!(decode(Charset::Cp932, &encoded), utf8);
        let digest = spec.digest();
        assert_eq!(digest.sha256, hex::encode(Sha256::digest(utf8.as_bytes())));
        assert_eq!(digest.source_sha256, hex::encode(Sha256::digest(&encoded)));
        assert_eq!(digest.bytes, utf8.len() as u64);
        assert_eq!(digest.source_charset, "Cp932");
    }

    #[test]
    fn row_limit_pauses_generation_midway() {
        let spec = spec("GET_MERCHANT_LISTINGS_ALL_DATA", "ATVPDKIKX0DER", 10);
        let mut chunks = spec.chunks();
        let mut text = String::new();
        while let Some(chunk) = chunks.next_chunk(5) {
            text.push_str(&chunk);
        }
        assert_eq!(chunks.rows_written(), 5);
        assert!(!chunks.is_finished());
        assert_eq!(text.lines().count(), 6);
    }

    #[test]
    fn error_document_is_json_with_error_details() {
        let mut spec = spec("GET_SALES_AND_TRAFFIC_REPORT", "ATVPDKIKX0DER", 50);
        spec.kind = DocumentKind::Error {
            reason: "Only one marketplace".into(),
        };
        assert_eq!(text(&spec), r#"{"errorDetails":"Only one marketplace"}"#);
        assert_eq!(spec.digest().rows, 0);
        assert_eq!(spec.content_type(), "application/json");
    }

    #[test]
    fn default_rows_are_between_50_and_500_and_stable() {
        let ids = vec!["ATVPDKIKX0DER".to_owned()];
        let start = "2024-05-01T00:00:00Z".parse().unwrap();
        let end = "2024-05-02T00:00:00Z".parse().unwrap();
        let rows = default_row_count("X", &ids, start, end, 1);
        assert!((50..=500).contains(&rows));
        assert_eq!(rows, default_row_count("X", &ids, start, end, 1));
    }
}
