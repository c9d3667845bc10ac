//! Curated tables (`curated.json`): which report type fills which table, its typed
//! columns, and how a raw row becomes a row of typed cells.
//!
//! A flat file maps header names to columns; a JSON report maps each record of one
//! top-level array (`salesAndTrafficByAsin`, …) by paths, and may take columns from its
//! `reportSpecification` (the period of a by-ASIN table). Money is exact: a decimal with
//! [`MONEY_SCALE`] digits after the point, plus its currency — `<name>_currency` from
//! the JSON `currencyCode`, or the flat file's `currency` column. Nothing is dropped in
//! silence: fields no column names go, as text, into the `extra_fields` JSON column and
//! are named in the result; a required column the report lacks, or a value that is not
//! of its column's type, is a [`SchemaMismatch`] naming the table and the column.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::OnceLock;

use chrono::{DateTime, NaiveDate};
use serde::Deserialize;

use crate::request::ReportRequest;

const BUILTIN: &str = include_str!("../curated.json");

/// Digits after the decimal point of money columns (4 keeps Amazon's averages exact to
/// a hundredth of a cent; amounts have 2 or 0).
pub const MONEY_SCALE: u32 = 4;
/// Decimal precision of money columns (fits a 64-bit integer).
pub const MONEY_PRECISION: u32 = 18;
/// The column that holds, as a JSON object of text, the fields no column names.
pub const EXTRA_FIELDS: &str = "extra_fields";

/// A column's type as stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// UTF-8 text.
    Text,
    /// A 64-bit count.
    Int64,
    /// A rate or share.
    Float64,
    /// Money: a decimal with [`MONEY_SCALE`] digits after the point.
    Decimal,
    /// A calendar day.
    Date,
    /// An instant, microseconds since the epoch, UTC.
    Timestamp,
    /// true or false.
    Boolean,
}

impl Kind {
    /// The Glue (Hive DDL) type.
    pub fn glue_type(self) -> String {
        match self {
            Kind::Text => "string".into(),
            Kind::Int64 => "bigint".into(),
            Kind::Float64 => "double".into(),
            Kind::Decimal => format!("decimal({MONEY_PRECISION},{MONEY_SCALE})"),
            Kind::Date => "date".into(),
            Kind::Timestamp => "timestamp".into(),
            Kind::Boolean => "boolean".into(),
        }
    }
}

/// The partition keys of every curated table, in order: one partition per seller,
/// marketplace and window, so two sellers' reports never replace each other's rows.
pub const PARTITION_KEYS: [&str; 3] = ["selling_partner_id", "marketplace", "data_date"];

/// The folder of one report's files in a table's partition:
/// `<table>/selling_partner_id=<id>/marketplace=<id>/data_date=<day>/v=<report id>/`.
/// A new report for the window gets a new folder, which the partition is then pointed
/// at whole; refused when a part could escape its folder.
pub fn version_prefix(
    table: &str,
    values: &[String; 3],
    report_id: &str,
) -> Result<String, String> {
    let safe = |part: &str| {
        !part.is_empty()
            && part
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
            && part != "."
            && part != ".."
    };
    if let Some(bad) = [table, report_id]
        .into_iter()
        .chain(values.iter().map(String::as_str))
        .find(|p| !safe(p))
    {
        return Err(format!("`{bad}` cannot be part of a curated object key"));
    }
    let mut prefix = format!("{table}/");
    for (key, value) in PARTITION_KEYS.iter().zip(values) {
        prefix.push_str(&format!("{key}={value}/"));
    }
    prefix.push_str(&format!("v={report_id}/"));
    Ok(prefix)
}

mod json_record;

pub use json_record::{JsonRecords, JsonRow};

/// One typed value of a row; text borrows from the line or record it came from, so a
/// row costs no allocation per field.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell<'a> {
    /// No value.
    Null,
    /// Text.
    Text(Cow<'a, str>),
    /// A count.
    Int(i64),
    /// A rate.
    Float(f64),
    /// Money, scaled by 10^[`MONEY_SCALE`].
    Decimal(i64),
    /// Days since 1970-01-01.
    Date(i32),
    /// Microseconds since the epoch, UTC.
    Timestamp(i64),
    /// A flag.
    Bool(bool),
}

/// Where a column's values come from.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Source {
    /// A flat-file column, by any of its header names.
    Header(Vec<String>),
    /// A field of the JSON record, by path.
    Path(Vec<String>),
    /// A field of the JSON `reportSpecification`, by path.
    Spec(Vec<String>),
    /// The `extra_fields` column.
    Extras,
}

/// A column of a curated table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    /// Its name (snake_case).
    pub name: String,
    /// Its type.
    pub kind: Kind,
    /// Whether a report without it is refused.
    pub required: bool,
    /// What it means, for the Glue catalog.
    pub comment: Option<String>,
    source: Source,
}

impl Column {
    /// The `extra_fields` column, last in every table, described by `comment`.
    fn extras(comment: &str) -> Column {
        Column {
            name: EXTRA_FIELDS.into(),
            kind: Kind::Text,
            required: false,
            comment: Some(comment.to_owned()),
            source: Source::Extras,
        }
    }

    /// The dotted path of the record field it reads, for columns of JSON records.
    pub fn record_path(&self) -> Option<String> {
        match &self.source {
            Source::Path(path) => Some(path.join(".")),
            _ => None,
        }
    }
}

/// How a table's report is laid out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Layout {
    /// Tab-separated with a header line.
    Tsv,
    /// One JSON document whose rows are the records of the top-level array `array`.
    Json {
        /// The array's name.
        array: String,
    },
    /// Comma-separated with a header line (AMC results; every file of a result repeats
    /// the header), columns by header name.
    Csv,
    /// JSON Lines whose rows are its lines: the records of the Data Kiosk query `query`,
    /// or (no query) the rows of an Amazon Ads report.
    Jsonl {
        /// The query of the dataset (the report type) whose records fill the table.
        query: Option<String>,
    },
}

/// A curated table: the report type that fills it and its columns, in file order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableSchema {
    /// The table's name.
    pub name: String,
    /// The report type whose documents fill it.
    pub report_type: String,
    /// What it holds.
    pub comment: String,
    /// How its report is laid out.
    pub layout: Layout,
    /// Its columns, `extra_fields` last.
    pub columns: Vec<Column>,
    /// The JSON record paths its columns read, as a tree: what is not on it is an
    /// extra field. Built once with the table, not per record.
    record_tree: json_record::PathTree,
}

/// A report that does not fit its table: the report is not curated, and the error says
/// which column and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaMismatch {
    /// The table.
    pub table: String,
    /// The column (or field).
    pub column: String,
    /// What is wrong.
    pub problem: String,
}

impl std::fmt::Display for SchemaMismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "table {} column {}: {}",
            self.table, self.column, self.problem
        )
    }
}

impl std::error::Error for SchemaMismatch {}

/// Every curated table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CuratedCatalog {
    tables: Vec<TableSchema>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct FileTable {
    name: String,
    report_type: String,
    comment: String,
    format: String,
    #[serde(default)]
    array: Option<String>,
    #[serde(default)]
    query: Option<String>,
    columns: Vec<FileColumn>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileColumn {
    name: String,
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    headers: Vec<String>,
    #[serde(default)]
    path: Option<String>,
    #[serde(default)]
    from: Option<String>,
    #[serde(default)]
    required: bool,
    #[serde(default)]
    comment: Option<String>,
}

#[derive(Deserialize)]
struct File {
    tables: Vec<FileTable>,
}

fn split(path: &str) -> Vec<String> {
    path.split('.').map(str::to_owned).collect()
}

impl CuratedCatalog {
    /// The tables in `curated.json`.
    pub fn builtin() -> &'static CuratedCatalog {
        static CATALOG: OnceLock<CuratedCatalog> = OnceLock::new();
        CATALOG.get_or_init(|| {
            // A unit test parses the same text, so a broken file never ships.
            let mut catalog =
                CuratedCatalog::parse(BUILTIN).unwrap_or_else(|e| panic!("curated.json: {e}"));
            catalog
                .tables
                .extend(crate::ads::report_types().iter().map(ads_table));
            catalog
        })
    }

    /// Reads and checks a curated catalog: known types, one source per column, unique
    /// table and column names.
    pub fn parse(text: &str) -> Result<CuratedCatalog, String> {
        let file: File = serde_json::from_str(text).map_err(|e| e.to_string())?;
        let mut tables = Vec::new();
        for table in file.tables {
            let layout = match (table.format.as_str(), &table.array, &table.query) {
                ("tsv", None, None) => Layout::Tsv,
                ("json", Some(array), None) => Layout::Json {
                    array: array.clone(),
                },
                ("jsonl", None, Some(query)) => Layout::Jsonl {
                    query: Some(query.clone()),
                },
                (format, _, _) => {
                    return Err(format!(
                        "table {}: format `{format}` needs `array` exactly when it is json and `query` exactly when it is jsonl",
                        table.name
                    ));
                }
            };
            let mut columns = Vec::new();
            for column in table.columns {
                let context = |problem: &str| {
                    format!("table {} column {}: {problem}", table.name, column.name)
                };
                let source = match (&column.headers[..], &column.path, &column.from) {
                    ([_, ..], None, None) if layout == Layout::Tsv => {
                        Source::Header(column.headers.clone())
                    }
                    ([], Some(path), None) if layout != Layout::Tsv => Source::Path(split(path)),
                    ([], None, Some(from)) if layout != Layout::Tsv => {
                        let path = from.strip_prefix("reportSpecification.").ok_or_else(|| {
                            context("`from` must start with reportSpecification.")
                        })?;
                        Source::Spec(split(path))
                    }
                    _ => {
                        return Err(context(
                            "needs `headers` (tsv) or one of `path` / `from` (json)",
                        ));
                    }
                };
                let kind = match column.kind.as_str() {
                    "string" => Kind::Text,
                    "int64" => Kind::Int64,
                    "double" => Kind::Float64,
                    "money" => Kind::Decimal,
                    "date" => Kind::Date,
                    "timestamp" => Kind::Timestamp,
                    "boolean" => Kind::Boolean,
                    other => return Err(context(&format!("unknown type `{other}`"))),
                };
                // JSON money is an {amount, currencyCode} object: two columns.
                if let (Kind::Decimal, Source::Path(path)) = (kind, &source) {
                    let mut amount = path.clone();
                    amount.push("amount".into());
                    let mut currency = path.clone();
                    currency.push("currencyCode".into());
                    columns.push(Column {
                        name: column.name.clone(),
                        kind,
                        required: column.required,
                        comment: column.comment.clone(),
                        source: Source::Path(amount),
                    });
                    columns.push(Column {
                        name: format!("{}_currency", column.name),
                        kind: Kind::Text,
                        required: column.required,
                        comment: Some(format!("ISO 4217 currency of {}.", column.name)),
                        source: Source::Path(currency),
                    });
                } else {
                    columns.push(Column {
                        name: column.name,
                        kind,
                        required: column.required,
                        comment: column.comment,
                        source,
                    });
                }
            }
            columns.push(Column::extras("Fields of the report no column names yet, as a JSON object of text (null when none)."));
            let mut names: Vec<&str> = columns.iter().map(|c| c.name.as_str()).collect();
            names.sort_unstable();
            if let Some(twice) = names.windows(2).find(|w| w[0] == w[1]) {
                return Err(format!("table {}: column {} twice", table.name, twice[0]));
            }
            let record_tree = json_record::PathTree::of(&columns);
            tables.push(TableSchema {
                name: table.name,
                report_type: table.report_type,
                comment: table.comment,
                layout,
                record_tree,
                columns,
            });
        }
        let mut names: Vec<&str> = tables.iter().map(|t| t.name.as_str()).collect();
        names.sort_unstable();
        if let Some(twice) = names.windows(2).find(|w| w[0] == w[1]) {
            return Err(format!("table {} twice", twice[0]));
        }
        // The Curate step streams each array into one table as it reads it.
        let mut arrays: Vec<(&str, &str, &str)> = tables
            .iter()
            .filter_map(|t| match &t.layout {
                Layout::Json { array } => {
                    Some((t.report_type.as_str(), array.as_str(), t.name.as_str()))
                }
                Layout::Jsonl { query } => Some((
                    t.report_type.as_str(),
                    query.as_deref().unwrap_or_default(),
                    t.name.as_str(),
                )),
                Layout::Tsv | Layout::Csv => None,
            })
            .collect();
        arrays.sort_unstable();
        if let Some(w) = arrays
            .windows(2)
            .find(|w| w[0].0 == w[1].0 && w[0].1 == w[1].1)
        {
            return Err(format!(
                "tables {} and {} both read array {} of {}: give each array one table",
                w[0].2, w[1].2, w[0].1, w[0].0
            ));
        }
        Ok(CuratedCatalog { tables })
    }

    /// The tables `report_type` fills (none when it is not curated).
    pub fn tables_for(&self, report_type: &str) -> Vec<&TableSchema> {
        self.tables
            .iter()
            .filter(|t| t.report_type == report_type)
            .collect()
    }

    /// The tables a request's document fills: its report type's, and for a Data Kiosk
    /// query only those of that query.
    pub fn tables_for_request(&self, request: &ReportRequest) -> Vec<&TableSchema> {
        let query = request.query.as_ref().map(|q| q.query.as_str());
        self.tables_for(&request.report_type)
            .into_iter()
            .filter(|t| match &t.layout {
                Layout::Jsonl { query: filled_by } => query == filled_by.as_deref(),
                Layout::Tsv | Layout::Csv | Layout::Json { .. } => query.is_none(),
            })
            .collect()
    }

    /// Every table.
    pub fn tables(&self) -> &[TableSchema] {
        &self.tables
    }
}

/// The curated table of an Amazon Ads report type, `ads_<reportTypeId in snake_case>`:
/// every column the type offers under any `groupBy` (a report fills those its config
/// selects; the others are null), typed as Amazon documents them — `decimal` amounts
/// exact as money, `decimal` rates and shares as doubles, the days as dates. Made from
/// `ads_report_types.json`, so a new report type there is a new table.
fn ads_table(report_type: &crate::ads::AdsReportType) -> TableSchema {
    let groups: Vec<String> = report_type.group_by.keys().cloned().collect();
    let mut names: Vec<&str> = report_type
        .base_columns
        .iter()
        .map(String::as_str)
        .collect();
    for column in report_type.columns_for(&groups) {
        if !names.contains(&column) {
            names.push(column);
        }
    }
    let mut columns: Vec<Column> = names
        .into_iter()
        .map(|name| Column {
            name: snake_case(name),
            kind: ads_kind(name),
            required: false,
            comment: Some(format!("`{name}` of the report's rows.")),
            source: Source::Path(vec![name.to_owned()]),
        })
        .collect();
    columns.push(Column::extras(
        "Fields of the rows no column names, as a JSON object of text (null when none).",
    ));
    TableSchema {
        name: format!("ads_{}", snake_case(&report_type.report_type_id)),
        report_type: report_type.report_type_id.clone(),
        comment: format!(
            "Amazon Ads {} report rows ({}, reporting v3): a row per groupBy entity and day (DAILY) or window (SUMMARY), the columns the report config selects.",
            report_type.report_type_id, report_type.ad_product
        ),
        layout: Layout::Jsonl { query: None },
        record_tree: json_record::PathTree::of(&columns),
        columns,
    }
}

impl TableSchema {
    /// The curated table of an AMC workflow, `amc_<workflow id>`, typed from the output
    /// columns its execution reported (`(name, dataType)`): STRING as text, LONG and
    /// INTEGER as bigint, DOUBLE, FLOAT and DECIMAL as double, DATE, TIMESTAMP, BOOLEAN
    /// as such, anything else as text. Column names are lower-cased for Glue.
    pub fn amc(workflow_id: &str, output_columns: &[(String, String)]) -> TableSchema {
        let mut columns: Vec<Column> = output_columns
            .iter()
            .map(|(name, data_type)| Column {
                name: name.to_ascii_lowercase(),
                kind: match data_type.to_ascii_uppercase().as_str() {
                    "LONG" | "INTEGER" | "INT" => Kind::Int64,
                    "DOUBLE" | "FLOAT" | "DECIMAL" => Kind::Float64,
                    "DATE" => Kind::Date,
                    "TIMESTAMP" => Kind::Timestamp,
                    "BOOLEAN" => Kind::Boolean,
                    _ => Kind::Text,
                },
                required: false,
                comment: Some(format!("`{name}` ({data_type}) of the workflow's result.")),
                source: Source::Header(vec![name.clone()]),
            })
            .collect();
        columns.push(Column::extras(
            "Fields of the result no column names, as a JSON object of text (null when none).",
        ));
        TableSchema {
            name: format!("amc_{}", workflow_id.to_ascii_lowercase().replace('-', "_")),
            report_type: workflow_id.to_owned(),
            comment: format!(
                "Amazon Marketing Cloud workflow {workflow_id}: each execution's result rows, typed from its output columns."
            ),
            layout: Layout::Csv,
            record_tree: json_record::PathTree::of(&columns),
            columns,
        }
    }
}

/// A column's type from Amazon's: money amounts exact, rates and shares as doubles.
fn ads_kind(column: &str) -> Kind {
    match (column, crate::ads::column_type(column)) {
        ("date" | "startDate" | "endDate", _) => Kind::Date,
        (_, Some("integer")) => Kind::Int64,
        // Amazon calls both amounts and ratios `decimal`; only amounts are money.
        (name, Some("decimal")) => {
            let lower = name.to_ascii_lowercase();
            let ratio = ["rate", "share", "percentage", "acos", "roas"]
                .iter()
                .any(|word| lower.contains(word));
            if ratio { Kind::Float64 } else { Kind::Decimal }
        }
        _ => Kind::Text,
    }
}

/// `campaignBudgetAmount` → `campaign_budget_amount`.
fn snake_case(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 4);
    for c in name.chars() {
        if c.is_ascii_uppercase() {
            if !out.is_empty() {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// Which field of a flat file feeds which column of a table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TsvColumns {
    /// Per column (in table order, `extra_fields` excluded), its field's position.
    positions: Vec<Option<usize>>,
    /// Fields no column names: position and header.
    extras: Vec<(usize, String)>,
}

impl TsvColumns {
    /// Headers of the fields no column names (kept in `extra_fields`).
    pub fn extra_headers(&self) -> Vec<&str> {
        self.extras.iter().map(|(_, h)| h.as_str()).collect()
    }
}

impl TableSchema {
    fn mismatch(&self, column: &str, problem: impl Into<String>) -> SchemaMismatch {
        SchemaMismatch {
            table: self.name.clone(),
            column: column.to_owned(),
            problem: problem.into(),
        }
    }

    /// Maps a flat file's header line to the table's columns; a required column without
    /// a field is refused.
    pub fn tsv_columns(&self, header: &[&str]) -> Result<TsvColumns, SchemaMismatch> {
        let mut used = vec![false; header.len()];
        let mut positions = Vec::new();
        for column in &self.columns {
            let Source::Header(names) = &column.source else {
                continue;
            };
            let position = header
                .iter()
                .position(|h| names.iter().any(|n| n == h.trim()));
            match position {
                Some(p) => used[p] = true,
                None if column.required => {
                    return Err(self.mismatch(
                        &column.name,
                        format!(
                            "the report has no field {} (its header has {} fields)",
                            names.join(" / "),
                            header.len()
                        ),
                    ));
                }
                None => {}
            }
            positions.push(position);
        }
        let extras = header
            .iter()
            .enumerate()
            .filter(|(i, h)| !used[*i] && !h.trim().is_empty())
            .map(|(i, h)| (i, h.trim().to_owned()))
            .collect();
        Ok(TsvColumns { positions, extras })
    }

    /// One flat-file row (its fields, tab-split) as typed cells in table order.
    pub fn tsv_row<'f>(
        &self,
        columns: &TsvColumns,
        fields: &[&'f str],
    ) -> Result<Vec<Cell<'f>>, SchemaMismatch> {
        let mut cells = Vec::with_capacity(self.columns.len());
        let typed = self
            .columns
            .iter()
            .filter(|c| matches!(c.source, Source::Header(_)));
        for (column, position) in typed.zip(&columns.positions) {
            let text = position.and_then(|p| fields.get(p)).copied().unwrap_or("");
            cells.push(
                parse(column.kind, text).map_err(|problem| self.mismatch(&column.name, problem))?,
            );
        }
        let extras: BTreeMap<&str, &str> = columns
            .extras
            .iter()
            .filter_map(|(p, h)| Some((h.as_str(), *fields.get(*p)?)))
            .filter(|(_, v)| !v.is_empty())
            .collect();
        cells.push(extras_cell(&extras));
        Ok(cells)
    }
}

fn extras_cell(extras: &BTreeMap<&str, &str>) -> Cell<'static> {
    if extras.is_empty() {
        Cell::Null
    } else {
        Cell::Text(Cow::Owned(
            serde_json::to_string(extras).unwrap_or_default(),
        ))
    }
}

/// A JSON number as `kind`: counts and rates straight from the number, the rest (money
/// above all, whose digits must not go through a float) from its text.
fn number_cell(kind: Kind, number: &serde_json::Number) -> Result<Cell<'static>, String> {
    match (kind, number.as_i64(), number.as_f64()) {
        (Kind::Int64, Some(whole), _) => Ok(Cell::Int(whole)),
        (Kind::Float64, _, Some(rate)) => Ok(Cell::Float(rate)),
        _ => parse(kind, &number.to_string()).map(Cell::into_owned),
    }
}

impl Cell<'_> {
    /// The same value, owning its text.
    pub fn into_owned(self) -> Cell<'static> {
        match self {
            Cell::Text(text) => Cell::Text(Cow::Owned(text.into_owned())),
            Cell::Null => Cell::Null,
            Cell::Int(v) => Cell::Int(v),
            Cell::Float(v) => Cell::Float(v),
            Cell::Decimal(v) => Cell::Decimal(v),
            Cell::Date(v) => Cell::Date(v),
            Cell::Timestamp(v) => Cell::Timestamp(v),
            Cell::Bool(v) => Cell::Bool(v),
        }
    }
}

fn shorten(text: &str) -> String {
    let short: String = text.chars().take(40).collect();
    if short.len() < text.len() {
        format!("{short}…")
    } else {
        short
    }
}

/// Parses one value of `kind`; empty text is null.
pub fn parse(kind: Kind, text: &str) -> Result<Cell<'_>, String> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(Cell::Null);
    }
    let refuse = |what: &str| format!("`{}` is not {what}", shorten(text));
    Ok(match kind {
        Kind::Text => Cell::Text(Cow::Borrowed(text)),
        Kind::Int64 => Cell::Int(text.parse().map_err(|_| refuse("a whole number"))?),
        Kind::Float64 => Cell::Float(text.parse().map_err(|_| refuse("a number"))?),
        Kind::Decimal => Cell::Decimal(scaled(text).ok_or_else(|| refuse("an amount"))?),
        Kind::Boolean => Cell::Bool(match text.to_ascii_lowercase().as_str() {
            "true" | "yes" | "y" => true,
            "false" | "no" | "n" => false,
            _ => return Err(refuse("true or false")),
        }),
        Kind::Date => {
            let day = text.get(..10).unwrap_or(text);
            let date = NaiveDate::parse_from_str(day, "%Y-%m-%d")
                .map_err(|_| refuse("a date (YYYY-MM-DD)"))?;
            let days = date.signed_duration_since(NaiveDate::default()).num_days();
            Cell::Date(i32::try_from(days).map_err(|_| refuse("a date in range"))?)
        }
        Kind::Timestamp => {
            let instant = DateTime::parse_from_rfc3339(text)
                .or_else(|_| DateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%z"))
                .map_err(|_| refuse("a timestamp (RFC 3339)"))?;
            Cell::Timestamp(instant.timestamp_micros())
        }
    })
}

/// A decimal amount scaled by 10^[`MONEY_SCALE`], rounded half to even past that.
fn scaled(text: &str) -> Option<i64> {
    if text.contains(['e', 'E']) {
        let value: f64 = text.parse().ok()?;
        return scaled(&format!("{value:.prec$}", prec = MONEY_SCALE as usize + 2));
    }
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
    if whole.is_empty() && fraction.is_empty()
        || !whole.bytes().all(|b| b.is_ascii_digit())
        || !fraction.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let scale = MONEY_SCALE as usize;
    let kept = &fraction[..fraction.len().min(scale)];
    let mut value: i64 = if whole.is_empty() {
        0
    } else {
        whole.parse().ok()?
    };
    for _ in 0..scale {
        value = value.checked_mul(10)?;
    }
    let mut part: i64 = 0;
    for (i, digit) in kept.bytes().enumerate() {
        part += i64::from(digit - b'0') * 10_i64.pow((scale - 1 - i) as u32);
    }
    value = value.checked_add(part)?;
    let rest = &fraction[kept.len()..];
    if let Some(first) = rest.bytes().next() {
        let tail_nonzero = rest.bytes().skip(1).any(|b| b != b'0');
        let round_up = first > b'5' || (first == b'5' && (tail_nonzero || value % 2 == 1));
        if round_up {
            value = value.checked_add(1)?;
        }
    }
    Some(if negative { -value } else { value })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::de::DeserializeSeed as _;
    use serde_json::{Value, json};

    #[test]
    fn every_ads_report_type_has_a_table_of_its_columns_typed_as_amazon_documents_them() {
        let catalog = CuratedCatalog::builtin();
        for report_type in crate::ads::report_types() {
            let tables = catalog.tables_for(&report_type.report_type_id);
            assert_eq!(tables.len(), 1, "{}", report_type.report_type_id);
        }
        let table = catalog.tables_for("spCampaigns")[0];
        assert_eq!(table.name, "ads_sp_campaigns");
        let kind = |name: &str| {
            table
                .columns
                .iter()
                .find(|c| c.name == name)
                .map(|c| c.kind)
        };
        assert_eq!(kind("date"), Some(Kind::Date));
        assert_eq!(kind("impressions"), Some(Kind::Int64));
        assert_eq!(kind("cost"), Some(Kind::Decimal));
        assert_eq!(kind("click_through_rate"), Some(Kind::Float64));
        assert_eq!(kind("top_of_search_impression_share"), Some(Kind::Float64));
        assert_eq!(kind("campaign_name"), Some(Kind::Text));
        assert_eq!(kind("purchases7d"), Some(Kind::Int64));

        let row = json!({"date": "2026-12-05", "campaignId": "1010000001", "impressions": 812,
                         "cost": 12.35, "clickThroughRate": 0.01234, "newColumn": "x"});
        let (cells, extras) = json_row(table, &row, &Value::Null).unwrap();
        let cell = |name: &str| {
            let at = table.columns.iter().position(|c| c.name == name).unwrap();
            cells[at].clone()
        };
        assert_eq!(cell("cost"), Cell::Decimal(123_500));
        assert_eq!(cell("click_through_rate"), Cell::Float(0.01234));
        assert_eq!(cell("impressions"), Cell::Int(812));
        assert_eq!(cell("campaign_id"), Cell::Int(1_010_000_001));
        assert_eq!(
            cell("sales7d"),
            Cell::Null,
            "a column the config did not select"
        );
        assert_eq!(extras, ["newColumn"]);
    }

    /// One record read as Curate reads it, with the paths of its extra fields.
    fn json_row<'r>(
        table: &TableSchema,
        record: &'r Value,
        spec: &Value,
    ) -> Result<(Vec<Cell<'r>>, Vec<String>), SchemaMismatch> {
        let row = (&table.json_records(spec)?).deserialize(record).unwrap()?;
        Ok((row.cells, row.extra_fields))
    }

    #[test]
    fn every_data_kiosk_column_is_a_field_of_its_query_records_with_its_type() {
        use crate::data_kiosk::sdl::{TypeDef, TypeRef};
        let catalog = CuratedCatalog::parse(BUILTIN).unwrap();
        let mut checked = 0;
        for table in catalog.tables() {
            let Layout::Jsonl { query: Some(query) } = &table.layout else {
                continue;
            };
            let sdl = crate::data_kiosk::schema(&table.report_type)
                .unwrap_or_else(|| panic!("{}: no dataset {}", table.name, table.report_type));
            let object = |name: &str| match sdl.types.get(name) {
                Some(TypeDef::Object(fields)) => fields.clone(),
                _ => panic!("{}: {name} is not an object type", table.name),
            };
            let root = object(&sdl.query_type)
                .into_iter()
                .find(|f| f.name == table.report_type)
                .unwrap();
            let operation = object(root.ty.name())
                .into_iter()
                .find(|f| f.name == *query)
                .unwrap_or_else(|| panic!("{}: no query {query}", table.name));
            for column in &table.columns {
                let Some(path) = column.record_path() else {
                    continue;
                };
                let mut ty = operation.ty.name().to_owned();
                let mut last = None;
                for step in path.split('.') {
                    let field = object(&ty)
                        .into_iter()
                        .find(|f| f.name == step)
                        .unwrap_or_else(|| {
                            panic!("{}.{}: no field {step}", table.name, column.name)
                        });
                    assert!(
                        !matches!(&field.ty, TypeRef::List(_))
                            && !matches!(&field.ty, TypeRef::NonNull(inner) if matches!(**inner, TypeRef::List(_))),
                        "{}.{}: {step} is a list",
                        table.name,
                        column.name
                    );
                    ty = field.ty.name().to_owned();
                    last = Some(ty.clone());
                }
                let leaf = last.unwrap();
                let fits = match column.kind {
                    Kind::Text => {
                        leaf == "String" || matches!(sdl.types.get(&leaf), Some(TypeDef::Enum(_)))
                    }
                    Kind::Int64 => leaf == "Long" || leaf == "Int",
                    Kind::Float64 | Kind::Decimal => leaf == "Float",
                    Kind::Date => leaf == "Date",
                    Kind::Boolean => leaf == "Boolean",
                    Kind::Timestamp => false,
                };
                assert!(
                    fits,
                    "{}.{} is {:?}, the schema says {leaf}",
                    table.name, column.name, column.kind
                );
                checked += 1;
            }
        }
        assert!(checked > 200, "only {checked} columns checked");
    }

    #[test]
    fn the_builtin_catalog_parses_and_covers_the_curated_report_types() {
        let catalog = CuratedCatalog::parse(BUILTIN).unwrap();
        let tables = |t: &str| -> Vec<&str> {
            catalog
                .tables_for(t)
                .iter()
                .map(|t| t.name.as_str())
                .collect()
        };
        assert_eq!(
            tables("GET_FLAT_FILE_ALL_ORDERS_DATA_BY_ORDER_DATE_GENERAL"),
            ["orders"]
        );
        assert_eq!(
            tables("GET_SALES_AND_TRAFFIC_REPORT"),
            ["sales_traffic_by_date", "sales_traffic_by_asin"]
        );
        for t in [
            "GET_VENDOR_SALES_REPORT",
            "GET_VENDOR_TRAFFIC_REPORT",
            "GET_VENDOR_INVENTORY_REPORT",
        ] {
            assert_eq!(tables(t).len(), 2, "{t}: aggregate and by ASIN");
        }
        assert_eq!(
            tables("GET_BRAND_ANALYTICS_SEARCH_TERMS_REPORT"),
            ["search_terms"]
        );
        assert!(tables("GET_MERCHANT_LISTINGS_ALL_DATA").is_empty());
        assert!(
            catalog
                .tables()
                .iter()
                .all(|t| t.columns.last().unwrap().name == EXTRA_FIELDS)
        );
    }

    #[test]
    fn a_report_version_has_its_own_folder_in_its_partition() {
        let values = [
            "A1SELLER".to_owned(),
            "ATVPDKIKX0DER".to_owned(),
            "2026-11-28".to_owned(),
        ];
        assert_eq!(
            version_prefix("orders", &values, "5001").unwrap(),
            "orders/selling_partner_id=A1SELLER/marketplace=ATVPDKIKX0DER/data_date=2026-11-28/v=5001/"
        );
        assert!(version_prefix("orders", &values, "../5001").is_err());
    }

    #[test]
    fn a_broken_catalog_names_the_table_and_column() {
        let text = r#"{"tables":[{"name":"t","reportType":"R","comment":"c","format":"tsv","columns":[{"name":"a","type":"int32","headers":["a"]}]}]}"#;
        assert_eq!(
            CuratedCatalog::parse(text).unwrap_err(),
            "table t column a: unknown type `int32`"
        );
    }

    #[test]
    fn amounts_are_exact_and_round_half_to_even_past_four_digits() {
        let cases = [
            ("12.34", 123_400),
            ("-0.5", -5_000),
            ("1500", 15_000_000),
            ("0.00005", 0),
            ("0.00015", 2),
            ("0.000151", 2),
            ("2.5e-3", 25),
            (".5", 5_000),
        ];
        for (text, want) in cases {
            assert_eq!(
                parse(Kind::Decimal, text),
                Ok(Cell::Decimal(want)),
                "{text}"
            );
        }
        assert!(parse(Kind::Decimal, "12,34").is_err());
        assert!(parse(Kind::Decimal, "-").is_err());
    }

    #[test]
    fn values_parse_by_kind_and_empty_is_null() {
        assert_eq!(parse(Kind::Int64, " 3 "), Ok(Cell::Int(3)));
        assert_eq!(parse(Kind::Int64, ""), Ok(Cell::Null));
        assert_eq!(parse(Kind::Date, "1970-01-02"), Ok(Cell::Date(1)));
        assert_eq!(
            parse(Kind::Date, "2026-11-28T00:00:00Z"),
            parse(Kind::Date, "2026-11-28")
        );
        assert_eq!(
            parse(Kind::Timestamp, "1970-01-01T00:00:01+09:00"),
            Ok(Cell::Timestamp(-8 * 3600 * 1_000_000 - 3599 * 1_000_000))
        );
        assert_eq!(parse(Kind::Boolean, "False"), Ok(Cell::Bool(false)));
        assert_eq!(
            parse(Kind::Int64, "three").unwrap_err(),
            "`three` is not a whole number"
        );
    }

    fn orders() -> &'static TableSchema {
        CuratedCatalog::builtin().tables_for("GET_FLAT_FILE_ALL_ORDERS_DATA_BY_ORDER_DATE_GENERAL")
            [0]
    }

    #[test]
    fn a_flat_file_header_maps_by_name_in_any_order_and_unknown_fields_are_kept() {
        let orders = orders();
        let header: Vec<&str> = [
            "asin",
            "order-item-id",
            "amazon-order-id",
            "purchase-date",
            "last-updated-date",
            "order-status",
            "sku",
            "quantity",
            "currency",
            "item-price",
        ]
        .to_vec();
        let columns = orders.tsv_columns(&header).unwrap();
        assert_eq!(columns.extra_headers(), ["order-item-id"]);
        let row = [
            "B0X",
            "oi-1",
            "111-1",
            "2026-11-28T10:00:00+00:00",
            "2026-11-28T11:00:00+00:00",
            "Shipped",
            "SKU-1",
            "2",
            "JPY",
            "1500",
        ];
        let cells = orders.tsv_row(&columns, &row).unwrap();
        let cell = |name: &str| {
            let i = orders.columns.iter().position(|c| c.name == name).unwrap();
            cells[i].clone()
        };
        assert_eq!(cell("amazon_order_id"), Cell::Text("111-1".into()));
        assert_eq!(cell("quantity"), Cell::Int(2));
        assert_eq!(cell("item_price"), Cell::Decimal(15_000_000));
        assert_eq!(cell("item_tax"), Cell::Null);
        assert_eq!(
            cell(EXTRA_FIELDS),
            Cell::Text(r#"{"order-item-id":"oi-1"}"#.into())
        );
        assert_eq!(cells.len(), orders.columns.len());
    }

    #[test]
    fn a_missing_required_field_or_a_bad_value_names_the_column() {
        let orders = orders();
        let err = orders.tsv_columns(&["amazon-order-id", "sku"]).unwrap_err();
        assert_eq!(err.table, "orders");
        assert_eq!(err.column, "purchase_date");
        let header = [
            "amazon-order-id",
            "purchase-date",
            "last-updated-date",
            "order-status",
            "sku",
            "asin",
            "quantity",
            "currency",
        ];
        let columns = orders.tsv_columns(&header).unwrap();
        let row = [
            "1",
            "2026-11-28T10:00:00Z",
            "2026-11-28T10:00:00Z",
            "Shipped",
            "S",
            "A",
            "two",
            "USD",
        ];
        let err = orders.tsv_row(&columns, &row).unwrap_err();
        assert_eq!(
            err.to_string(),
            "table orders column quantity: `two` is not a whole number"
        );
    }

    #[test]
    fn a_json_record_flattens_by_path_with_money_as_amount_and_currency() {
        let catalog = CuratedCatalog::builtin();
        let by_asin = catalog.tables_for("GET_SALES_AND_TRAFFIC_REPORT")[1];
        let record = json!({
            "parentAsin": "B0PARENT", "childAsin": "B0CHILD",
            "salesByAsin": {"unitsOrdered": 3, "orderedProductSales": {"amount": 59.97, "currencyCode": "USD"}, "totalOrderItems": 2},
            "trafficByAsin": {
                "browserSessions": 6, "mobileAppSessions": 4, "sessions": 10,
                "browserSessionPercentage": 0.6, "mobileAppSessionPercentage": 0.4,
                "sessionPercentage": 1.0, "browserPageViews": 7, "mobileAppPageViews": 5,
                "pageViews": 12, "browserPageViewsPercentage": 0.58,
                "mobileAppPageViewsPercentage": 0.42, "pageViewsPercentage": 1.0,
                "buyBoxPercentage": 100.0, "unitSessionPercentage": 30.0,
                "newMetric": 0.5
            }
        });
        let spec = json!({"dataStartTime": "2026-11-28", "dataEndTime": "2026-11-28"});
        let (cells, extras) = json_row(by_asin, &record, &spec).unwrap();
        let cell = |name: &str| {
            let i = by_asin.columns.iter().position(|c| c.name == name).unwrap();
            cells[i].clone()
        };
        assert_eq!(cell("start_date"), parse(Kind::Date, "2026-11-28").unwrap());
        assert_eq!(cell("ordered_product_sales"), Cell::Decimal(599_700));
        assert_eq!(
            cell("ordered_product_sales_currency"),
            Cell::Text("USD".into())
        );
        assert_eq!(cell("units_ordered"), Cell::Int(3));
        assert_eq!(cell("sessions"), Cell::Int(10));
        assert_eq!(cell("units_ordered_b2b"), Cell::Null);
        assert_eq!(extras, ["trafficByAsin.newMetric"]);
        assert_eq!(
            cell(EXTRA_FIELDS),
            Cell::Text(r#"{"trafficByAsin.newMetric":"0.5"}"#.into())
        );
        let without = json!({"childAsin": "B0CHILD", "salesByAsin": {}});
        let err = json_row(by_asin, &without, &spec).unwrap_err();
        assert_eq!(err.column, "parent_asin");
    }
}
