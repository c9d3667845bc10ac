//! The Curate step's core: a raw report (UTF-8, as Store wrote it) read once, as a
//! stream, into typed Parquet files for each curated table its type fills
//! ([`domain::curated`]).
//!
//! A flat file is read line by line; a JSON report is walked with serde, one record of
//! its row arrays at a time, so neither the document nor a table is ever held whole:
//! memory is the row group being built ([`Limits`]). A report that does not fit its
//! schema stops with the [`SchemaMismatch`](domain::curated::SchemaMismatch) naming the
//! column; nothing half-written is handed on.

pub mod handler;
pub mod sink;

use std::collections::BTreeSet;
use std::io::BufRead;
use std::path::Path;

use domain::DocumentFormat;
use domain::curated::{Layout, SchemaMismatch, TableSchema};
use serde::de::{DeserializeSeed, Error as _, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

pub use sink::{Limits, PartFile, TableSink};

/// Why a report could not be curated.
#[derive(Debug, thiserror::Error)]
pub enum CurateError {
    /// The report does not fit its table.
    #[error("{0}")]
    Schema(#[from] SchemaMismatch),
    /// The raw object is not a well-formed document of its format.
    #[error("the raw object is not a well-formed {format} document: {problem}")]
    Malformed {
        /// tsv or json.
        format: &'static str,
        /// What is wrong, where.
        problem: String,
    },
    /// Reading the raw object or writing a file failed.
    #[error("reading or writing: {0}")]
    Io(#[from] std::io::Error),
    /// The Parquet writer refused.
    #[error("writing Parquet: {0}")]
    Parquet(#[from] parquet::errors::ParquetError),
    /// A bug: the table and its cells disagree.
    #[error("{0}")]
    Internal(String),
}

/// What one table got from the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Curated {
    /// The table.
    pub table: String,
    /// Rows written.
    pub rows: u64,
    /// The files, in order.
    pub files: Vec<PartFile>,
    /// Fields of the report no column names (kept in `extra_fields`), for the summary.
    pub extra_fields: BTreeSet<String>,
}

struct Target {
    table: TableSchema,
    sink: TableSink,
    rows: u64,
    extra_fields: BTreeSet<String>,
}

/// Reads the raw report `input` of `format` into Parquet files for each of `tables`,
/// under `dir/<table>/`.
pub fn curate(
    input: impl BufRead,
    format: DocumentFormat,
    tables: &[&TableSchema],
    dir: &Path,
    limits: Limits,
) -> Result<Vec<Curated>, CurateError> {
    let mut targets = tables
        .iter()
        .map(|table| {
            Ok(Target {
                table: (*table).clone(),
                sink: TableSink::new(table, &dir.join(&table.name), limits)?,
                rows: 0,
                extra_fields: BTreeSet::new(),
            })
        })
        .collect::<Result<Vec<_>, CurateError>>()?;
    match format {
        DocumentFormat::Tsv => tsv(input, &mut targets)?,
        DocumentFormat::Json => json(input, &mut targets)?,
        DocumentFormat::Jsonl => {
            return Err(CurateError::Internal(
                "JSON Lines reports have no curated table yet".into(),
            ));
        }
    }
    targets
        .into_iter()
        .map(|t| {
            Ok(Curated {
                table: t.table.name,
                rows: t.rows,
                files: t.sink.finish()?,
                extra_fields: t.extra_fields,
            })
        })
        .collect()
}

fn tsv(mut input: impl BufRead, targets: &mut [Target]) -> Result<(), CurateError> {
    let mut line = String::new();
    if input.read_line(&mut line)? == 0 {
        // An empty document: no rows, no header to check.
        return Ok(());
    }
    let header: Vec<String> = line
        .trim_end_matches(['\n', '\r'])
        .split('\t')
        .map(str::to_owned)
        .collect();
    let header: Vec<&str> = header.iter().map(String::as_str).collect();
    let mut columns = Vec::new();
    for target in targets.iter_mut() {
        let mapped = target.table.tsv_columns(&header)?;
        target
            .extra_fields
            .extend(mapped.extra_headers().into_iter().map(str::to_owned));
        columns.push(mapped);
    }
    loop {
        line.clear();
        if input.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let text = line.trim_end_matches(['\n', '\r']);
        if text.is_empty() {
            continue;
        }
        let fields: Vec<&str> = text.split('\t').collect();
        for (target, mapped) in targets.iter_mut().zip(&columns) {
            let cells = target.table.tsv_row(mapped, &fields)?;
            target.sink.push(cells)?;
            target.rows += 1;
        }
    }
}

/// Walks the root object: `reportSpecification` is kept, the arrays some table reads
/// are visited record by record, everything else is skipped unread.
struct Root<'a> {
    targets: &'a mut [Target],
    spec: Value,
    /// The real error behind a serde error raised from inside the walk.
    failure: Option<CurateError>,
}

impl<'de> Visitor<'de> for &mut Root<'_> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON report object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<String>()? {
            if key == "reportSpecification" {
                self.spec = map.next_value()?;
                continue;
            }
            let wanted: Vec<usize> = self
                .targets
                .iter()
                .enumerate()
                .filter(|(_, t)| matches!(&t.table.layout, Layout::Json { array } if *array == key))
                .map(|(i, _)| i)
                .collect();
            if wanted.is_empty() {
                map.next_value::<IgnoredAny>()?;
            } else {
                map.next_value_seed(Records { root: self, wanted })?;
            }
        }
        Ok(())
    }
}

impl<'de> DeserializeSeed<'de> for &mut Root<'_> {
    type Value = ();

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

struct Records<'r, 'a> {
    root: &'r mut Root<'a>,
    wanted: Vec<usize>,
}

impl<'de> Visitor<'de> for Records<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("an array of records")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(record) = seq.next_element::<Value>()? {
            for &i in &self.wanted {
                let target = &mut self.root.targets[i];
                let row = target
                    .table
                    .json_row(&record, &self.root.spec)
                    .map_err(CurateError::from)
                    .and_then(|(cells, extras)| {
                        target.extra_fields.extend(extras);
                        target.sink.push(cells)
                    });
                if let Err(failure) = row {
                    let message = failure.to_string();
                    self.root.failure = Some(failure);
                    return Err(A::Error::custom(message));
                }
                target.rows += 1;
            }
        }
        Ok(())
    }
}

impl<'de> DeserializeSeed<'de> for Records<'_, '_> {
    type Value = ();

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

fn json(input: impl BufRead, targets: &mut [Target]) -> Result<(), CurateError> {
    let mut root = Root {
        targets,
        spec: Value::Null,
        failure: None,
    };
    let mut reader = serde_json::Deserializer::from_reader(input);
    let walked = (&mut root)
        .deserialize(&mut reader)
        .and_then(|()| reader.end());
    match (walked, root.failure) {
        (_, Some(failure)) => Err(failure),
        (Err(e), None) => Err(CurateError::Malformed {
            format: "json",
            problem: e.to_string(),
        }),
        (Ok(()), None) => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use domain::curated::CuratedCatalog;
    use parquet::file::reader::{FileReader, SerializedFileReader};
    use parquet::record::{Field, Row};

    use super::*;

    const ORDERS: &str = "GET_FLAT_FILE_ALL_ORDERS_DATA_BY_ORDER_DATE_GENERAL";
    const US: &str = "ATVPDKIKX0DER";
    const JP: &str = "A1VC38T7YXB528";

    /// A fresh folder for one test's files.
    fn scratch() -> PathBuf {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "sp-ingest-transform-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    fn document(report_type: &str, marketplace: &str, rows: u64) -> String {
        let start = "2026-11-28T00:00:00Z".parse().unwrap();
        let end = "2026-11-29T00:00:00Z".parse().unwrap();
        let options = simulator::typical_options(report_type);
        simulator::report_text(report_type, &options, marketplace, (start, end), rows)
    }

    fn run(report_type: &str, text: &str, limits: Limits) -> Result<Vec<Curated>, CurateError> {
        let tables = CuratedCatalog::builtin().tables_for(report_type);
        let format = if report_type == ORDERS {
            DocumentFormat::Tsv
        } else {
            DocumentFormat::Json
        };
        curate(text.as_bytes(), format, &tables, &scratch(), limits)
    }

    fn rows_of(files: &[PartFile]) -> Vec<Row> {
        files
            .iter()
            .flat_map(|file| {
                let reader =
                    SerializedFileReader::new(std::fs::File::open(&file.path).unwrap()).unwrap();
                reader
                    .get_row_iter(None)
                    .unwrap()
                    .map(Result::unwrap)
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    fn field<'r>(row: &'r Row, name: &str) -> &'r Field {
        row.get_column_iter()
            .find(|(n, _)| *n == name)
            .map(|(_, f)| f)
            .unwrap_or_else(|| panic!("no column {name}"))
    }

    fn minor_units(field: &Field) -> i64 {
        match field {
            Field::Decimal(d) => i64::from_be_bytes(d.data().try_into().unwrap()),
            Field::Null => 0,
            other => panic!("not a decimal: {other:?}"),
        }
    }

    #[test]
    fn every_curated_report_type_as_the_simulator_serves_it_fills_its_tables() {
        for report_type in [
            ORDERS,
            "GET_SALES_AND_TRAFFIC_REPORT",
            "GET_VENDOR_SALES_REPORT",
            "GET_VENDOR_TRAFFIC_REPORT",
            "GET_VENDOR_INVENTORY_REPORT",
            "GET_BRAND_ANALYTICS_SEARCH_TERMS_REPORT",
        ] {
            let text = document(report_type, US, 40);
            let curated = run(report_type, &text, Limits::default())
                .unwrap_or_else(|e| panic!("{report_type}: {e}"));
            let parsed: Option<Value> = serde_json::from_str(&text).ok();
            for (table, out) in CuratedCatalog::builtin()
                .tables_for(report_type)
                .iter()
                .zip(&curated)
            {
                // The rows the document has for the table: lines, or its array's records.
                let expected = match (&table.layout, &parsed) {
                    (Layout::Tsv, _) => text.lines().count() as u64 - 1,
                    (Layout::Json { array }, Some(doc)) => {
                        doc[array].as_array().map_or(0, |a| a.len() as u64)
                    }
                    (Layout::Json { .. }, None) => panic!("{report_type} is not JSON"),
                };
                assert!(
                    expected > 0,
                    "{report_type}: the simulator served no {} rows",
                    table.name
                );
                assert_eq!(out.rows, expected, "{report_type} → {}", table.name);
                assert_eq!(rows_of(&out.files).len() as u64, expected, "{}", table.name);
                assert!(
                    out.extra_fields.is_empty(),
                    "{}: fields no column names: {:?}",
                    table.name,
                    out.extra_fields
                );
            }
        }
    }

    #[test]
    fn rows_counts_and_amounts_survive_many_row_groups_and_files() {
        let text = document(ORDERS, JP, 3_000);
        let (mut quantity, mut price) = (0i64, 0i64);
        let mut lines = text.lines();
        let header: Vec<&str> = lines.next().unwrap().split('\t').collect();
        let at = |name: &str| header.iter().position(|h| *h == name).unwrap();
        let product_names: Vec<String> = lines
            .map(|line| {
                let fields: Vec<&str> = line.split('\t').collect();
                quantity += fields[at("quantity")].parse::<i64>().unwrap();
                price += fields[at("item-price")].parse::<i64>().unwrap_or(0);
                fields[at("product-name")].to_owned()
            })
            .collect();
        let small = Limits {
            row_group_bytes: 16 << 10,
            file_bytes: 32 << 10,
        };
        let curated = run(ORDERS, &text, small).unwrap();
        let orders = &curated[0];
        assert!(orders.files.len() > 1, "{} file(s)", orders.files.len());
        assert_eq!(orders.files.iter().map(|f| f.rows).sum::<u64>(), 3_000);
        let rows = rows_of(&orders.files);
        assert_eq!(rows.len(), 3_000);
        let sum = |name: &str, value: fn(&Field) -> i64| {
            rows.iter().map(|r| value(field(r, name))).sum::<i64>()
        };
        assert_eq!(
            sum("quantity", |f| match f {
                Field::Long(v) => *v,
                _ => 0,
            }),
            quantity
        );
        // Yen amounts are whole: scaled by 10^4 in the decimal column.
        assert_eq!(sum("item_price", minor_units), price * 10_000);
        let first_name = match field(&rows[0], "product_name") {
            Field::Str(name) => name.clone(),
            other => panic!("{other:?}"),
        };
        assert_eq!(first_name, product_names[0]);
        assert!(
            !first_name.is_ascii(),
            "a Japanese product name: {first_name}"
        );
    }

    #[test]
    fn a_report_without_a_required_column_is_refused_naming_it() {
        let text = document(ORDERS, US, 5);
        let without_sku: String = text
            .lines()
            .map(|line| {
                let mut fields: Vec<&str> = line.split('\t').collect();
                fields.remove(11);
                fields.join("\t") + "\n"
            })
            .collect();
        match run(ORDERS, &without_sku, Limits::default()) {
            Err(CurateError::Schema(mismatch)) => {
                assert_eq!(
                    (mismatch.table.as_str(), mismatch.column.as_str()),
                    ("orders", "sku")
                );
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_bad_value_deep_in_a_json_report_names_its_column_and_a_cut_document_is_malformed() {
        let text = document("GET_SALES_AND_TRAFFIC_REPORT", US, 20);
        let bad = text.replacen("\"unitsOrdered\":", "\"unitsOrdered\":\"many\",\"was\":", 1);
        match run("GET_SALES_AND_TRAFFIC_REPORT", &bad, Limits::default()) {
            Err(CurateError::Schema(mismatch)) => assert_eq!(mismatch.column, "units_ordered"),
            other => panic!("{other:?}"),
        }
        let cut = &text[..text.len() / 2];
        let result = run("GET_SALES_AND_TRAFFIC_REPORT", cut, Limits::default());
        assert!(
            matches!(result, Err(CurateError::Malformed { format: "json", .. })),
            "{result:?}"
        );
    }
}
